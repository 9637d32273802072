//! Transposed copies with `8 x 8` register transposes: eight runs of eight values are loaded,
//! transposed in registers, and stored as eight runs of the destination, instead of one scalar
//! load and store per value. Used to pack a panel of a transposed B (`W^T`: B's rows are W's
//! columns; on a Zen 3 core W1's forward and backward at n = 1024, whose `G B^T` packs a
//! transposed B, went from 74.3-76.1 to 72.2-73.4 ms) and to copy a block of a transposed A
//! (a weight gradient's `g^T x`) for the blocked AVX2 kernel.

/// `dst[i ds + j] = src[j ss + i]` for `i < rows`, `j < cols`: the `rows x cols` matrix whose
/// columns are runs of `src` (`ss` apart), stored by rows `ds` apart. `8 x 8` blocks go through
/// registers on a CPU with AVX2, the edges (and everything elsewhere) value by value.
///
/// # Panics
/// If a run leaves `src` or a row leaves `dst`.
pub(super) fn transpose_into(
    dst: &mut [f32],
    ds: usize,
    src: &[f32],
    ss: usize,
    (rows, cols): (usize, usize),
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        (rows - 1) * ds + cols <= dst.len() && (cols - 1) * ss + rows <= src.len(),
        "internal: transposed copy: a run of {rows} x {cols} out of bounds"
    );
    let mut done = (0, 0);
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2; every run and row of the copy lies inside its slice
        // (asserted above).
        done = unsafe { imp::blocks(dst, ds, src, ss, rows, cols) };
    }
    // The edges the 8 x 8 blocks left: rows past `done.0` of every column, then columns past
    // `done.1` of the rows done.
    for j in 0..cols {
        let first = if j < done.1 { done.0 } else { 0 };
        for i in first..rows {
            dst[i * ds + j] = src[j * ss + i];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;

    /// The `8 x 8` blocks of [`super::transpose_into`]: rows `0..rows / 8 * 8` by columns
    /// `0..cols / 8 * 8`, which it returns.
    ///
    /// # Safety
    /// AVX2; `src[j ss + i]` and `dst[i ds + j]` exist for `i < rows`, `j < cols`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn blocks(
        dst: &mut [f32],
        ds: usize,
        src: &[f32],
        ss: usize,
        rows: usize,
        cols: usize,
    ) -> (usize, usize) {
        let (r8, c8) = (rows / 8 * 8, cols / 8 * 8);
        let (out, inp) = (dst.as_mut_ptr(), src.as_ptr());
        for j in (0..c8).step_by(8) {
            for i in (0..r8).step_by(8) {
                // SAFETY: i + 8 <= rows and j + 8 <= cols, inside both slices (contract).
                unsafe {
                    let r = [0, 1, 2, 3, 4, 5, 6, 7]
                        .map(|q| _mm256_loadu_ps(inp.add((j + q) * ss + i)));
                    for (q, v) in transpose8(r).into_iter().enumerate() {
                        _mm256_storeu_ps(out.add((i + q) * ds + j), v);
                    }
                }
            }
        }
        (r8, c8)
    }

    /// Rows `r[i]` in, columns out: `out[q][i] = r[i][q]`.
    #[target_feature(enable = "avx2")]
    fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        [
            _mm256_permute2f128_ps::<0x20>(s0, s4),
            _mm256_permute2f128_ps::<0x20>(s1, s5),
            _mm256_permute2f128_ps::<0x20>(s2, s6),
            _mm256_permute2f128_ps::<0x20>(s3, s7),
            _mm256_permute2f128_ps::<0x31>(s0, s4),
            _mm256_permute2f128_ps::<0x31>(s1, s5),
            _mm256_permute2f128_ps::<0x31>(s2, s6),
            _mm256_permute2f128_ps::<0x31>(s3, s7),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transposed_copy_holds_the_runs_as_columns_at_every_edge() {
        // 8 x 8 blocks and edges on both sides (rows 19 = 16 + 3, columns 13 = 8 + 5), runs
        // 23 apart, rows of the destination 17 apart; values past the copy stay untouched.
        let (rows, cols, ss, ds) = (19, 13, 23, 17);
        let src: Vec<f32> = (0..(cols - 1) * ss + rows).map(|i| i as f32).collect();
        let mut dst = vec![f32::NAN; rows * ds];
        transpose_into(&mut dst, ds, &src, ss, (rows, cols));
        for i in 0..rows {
            for j in 0..ds {
                let got = dst[i * ds + j];
                if j < cols {
                    assert_eq!(got, src[j * ss + i], "row {i}, column {j}");
                } else {
                    assert!(got.is_nan(), "row {i}, column {j} written");
                }
            }
        }
    }
}
