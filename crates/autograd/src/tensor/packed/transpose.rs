//! Packing a panel of a transposed B (`W^T`: B's rows are W's columns) with `8 x 8` register
//! transposes: eight runs of eight of W's values are loaded, transposed in registers, and
//! stored as eight rows of the panel, instead of one scalar load and store per value (on a Zen
//! 3 core W1's forward and backward at n = 1024, whose `G B^T` packs a transposed B, went from
//! 74.3-76.1 to 72.2-73.4 ms).

/// Fills `panel` (`k` rows of 16) with columns `j0..j0 + 16` of B (`k x n`, B[p, j] =
/// `b[p + j cs]`), where all 16 columns exist. Returns `false` without writing anything on a
/// CPU without AVX2 (the caller gathers value by value).
///
/// # Panics
/// If `panel` is not `k x 16` or a column leaves `b`.
pub(super) fn pack_panel_transposed(
    panel: &mut [f32],
    b: &[f32],
    k: usize,
    j0: usize,
    cs: usize,
) -> bool {
    assert!(
        panel.len() == k * 16 && k > 0 && (j0 + 15) * cs + k <= b.len(),
        "internal: transposed packing: a panel or a column out of bounds"
    );
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2; columns j0..j0 + 16 hold k values each inside `b`
        // (asserted), and `panel` holds k rows of 16.
        unsafe { imp::pack(panel, b, k, j0, cs) };
        return true;
    }
    false
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX2; `b[j cs + p]` exists for `j0 <= j < j0 + 16`, `p < k`; `panel` holds `k x 16`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn pack(panel: &mut [f32], b: &[f32], k: usize, j0: usize, cs: usize) {
        let k8 = k / 8 * 8;
        let out = panel.as_mut_ptr();
        for half in [0, 8] {
            // Column j0 + half + i of B starts at `col(i)`.
            let col = |i: usize| unsafe { b.as_ptr().add((j0 + half + i) * cs) };
            for p in (0..k8).step_by(8) {
                // SAFETY: p + 8 <= k, so each run of eight lies in its column (contract).
                unsafe {
                    let r = [0, 1, 2, 3, 4, 5, 6, 7].map(|i| _mm256_loadu_ps(col(i).add(p)));
                    let t = transpose8(r);
                    for (q, v) in t.into_iter().enumerate() {
                        _mm256_storeu_ps(out.add((p + q) * 16 + half), v);
                    }
                }
            }
            for p in k8..k {
                for i in 0..8 {
                    // SAFETY: p < k (contract).
                    unsafe { *out.add(p * 16 + half + i) = *col(i).add(p) };
                }
            }
        }
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
    fn a_transposed_panel_holds_the_columns_of_b_row_by_row() {
        // B = W^T with W [20, 13] stored by rows (cs = 13): k = 13 (one run of 8 and a tail
        // of 5), columns 2..18 of B.
        let (rows, k, j0) = (20, 13, 2);
        let w: Vec<f32> = (0..rows * k).map(|i| i as f32).collect();
        let mut panel = vec![f32::NAN; k * 16];
        if !pack_panel_transposed(&mut panel, &w, k, j0, k) {
            return; // no AVX2: the scalar gather runs instead
        }
        for p in 0..k {
            for j in 0..16 {
                assert_eq!(
                    panel[p * 16 + j],
                    w[(j0 + j) * k + p],
                    "row {p}, column {j}"
                );
            }
        }
    }
}
