//! B, the right operand, as the kernels read it ([`Rhs`]): packed into 16-column panels
//! ([`pack`]), or read from its own rows with only a narrow last panel packed
//! ([`rows_in_place`]).

use super::NR;
use super::lines::Lines;
use super::transpose;

/// B (`k x n`) as the kernel reads it.
#[derive(Clone, Copy)]
pub(super) enum Rhs<'a> {
    /// `ceil(n / 16)` packed panels of `k x 16` (see [`pack`]).
    Panels(&'a [f32]),
    /// B's own rows, `rs` apart, for every full panel of 16 columns; the last `n % 16` columns
    /// packed into `tail` (`k x 16`, empty when 16 divides `n`).
    Rows {
        b: &'a [f32],
        rs: usize,
        tail: &'a [f32],
    },
}

/// B (`k x n`, rows `rs` apart, columns contiguous) as [`Rhs::Rows`]: full panels read from
/// B's rows in place, only the last `n % 16` columns copied into `tail` (zero-padded).
pub(super) fn rows_in_place<'a>(
    tail: &'a mut Lines,
    b: &'a [f32],
    k: usize,
    n: usize,
    rs: usize,
) -> Rhs<'a> {
    let full = n / NR * NR;
    if full < n {
        pack_into(tail, &b[full..], k, n - full, rs, 1);
    } else {
        tail.resize(0);
    }
    Rhs::Rows {
        b,
        rs,
        tail: tail.as_slice(),
    }
}

impl Rhs<'_> {
    /// Whether this holds a `k x n` B as the variant describes: packed panels of `k` rows, or
    /// full panels read from B's rows in place and a narrower last one packed.
    pub(super) fn fits(&self, k: usize, n: usize) -> bool {
        match *self {
            Rhs::Panels(panels) => panels.len() == n.div_ceil(NR) * k * NR,
            Rhs::Rows { b, rs, tail } => {
                let full = n / NR;
                (full == 0 || (k - 1) * rs + full * NR <= b.len())
                    && tail.len() == if n.is_multiple_of(NR) { 0 } else { k * NR }
            }
        }
    }
}

/// B (`k x n`, strides `rs`, `cs`) as `ceil(n / 16)` panels of `k` rows of 16 values, the last
/// panel padded with zeros.
pub(super) fn pack(b: &[f32], k: usize, n: usize, rs: usize, cs: usize) -> Lines {
    let mut out = Lines::new();
    pack_into(&mut out, b, k, n, rs, cs);
    out
}

/// [`pack`] into `out`, reusing its allocation.
pub(super) fn pack_into(out: &mut Lines, b: &[f32], k: usize, n: usize, rs: usize, cs: usize) {
    let panels = n.div_ceil(NR);
    // Every element is written below (the last panel's padding with zeros), so a reused buffer
    // is resized, not cleared: no fill pass before the copy.
    out.resize(panels * k * NR);
    if cs == 1 {
        // Sixteen rows of B at a time, dealt out to the panels: each panel gets a run of
        // sixteen rows (1 KiB). Row by row, every write of a row went to another panel, `k`
        // rows apart (4 KiB at k = 64), so they met in one set of the L1 cache and evicted each
        // other (64 x 784 packed in 8.4 us, now 4.8; eight rows at a time 5.1); panel by panel,
        // every read was in another page when B's rows are pages apart (n = 1,024 f32: `A B`
        // on AVX-512 11.2 ms against 10.5 for `A B^T`).
        let out = out.as_mut_slice();
        for p0 in (0..k).step_by(16) {
            let rows = 16.min(k - p0);
            for (pi, j0) in (0..n).step_by(NR).enumerate() {
                let w = NR.min(n - j0);
                for p in p0..p0 + rows {
                    let run = &b[p * rs + j0..][..w];
                    let row = &mut out[(pi * k + p) * NR..][..NR];
                    if w == NR {
                        row.copy_from_slice(run); // a fixed-size copy: two vector moves
                    } else {
                        row[..w].copy_from_slice(run);
                        row[w..].fill(0.0);
                    }
                }
            }
        }
        return;
    }
    for (pi, panel) in out.as_mut_slice().chunks_exact_mut(k * NR).enumerate() {
        let j0 = pi * NR;
        let w = NR.min(n - j0);
        if rs == 1 {
            // B = W^T: eight of W's runs at a time, transposed in registers.
            transpose::transpose_into(panel, NR, &b[j0 * cs..], cs, (k, w));
        } else {
            // Other strides: value by value.
            for j in 0..w {
                for p in 0..k {
                    panel[p * NR + j] = b[p * rs + (j0 + j) * cs];
                }
            }
        }
        if w < NR {
            panel
                .chunks_exact_mut(NR)
                .for_each(|row| row[w..].fill(0.0));
        }
    }
}
