//! The AVX2 + FMA kernel of `packed.rs`: `C = A B` or `C += A B` with B in 16-column panels
//! (packed, or B's own rows), `6 x 16` accumulators in registers over the whole `k`. Adding onto
//! C loads C into the accumulators before the first multiply-add: no pass of its own. A
//! transposed A with a short `k` (a weight gradient `g^T h`) runs six rows at a time across all
//! panels from a micro-panel on the stack. On CPUs with AVX-512F, [`run`] hands the same work to
//! `kernel512.rs` instead.

use std::mem::MaybeUninit;

use super::{NR, Rhs};

/// What C's accumulators start from.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Init {
    /// Zeros: `C = A B`.
    Zero,
    /// C's own values: `C += A B` (C must be initialised).
    Accumulate,
    /// Another `m x n` matrix S, row `r` at `S + r stride`: `C = S + A B` (stride 0: one row,
    /// a bias, on every row). Added by the kernel's first loads, not by a pass of its own.
    From(*const f32, usize),
}

impl Init {
    /// The start of a whole product: `From` the start matrix S (`(values, row stride)`, stride
    /// 0 for one row on every row) when there is one, else zeros.
    pub(super) fn of(start: Option<(&[f32], usize)>) -> Init {
        start.map_or(Init::Zero, |(s, stride)| Init::From(s.as_ptr(), stride))
    }

    /// The same start for the rows from `rows` on (C's pointer moves by itself).
    pub(super) fn below(self, rows: usize) -> Init {
        self.at(rows, 0)
    }

    /// The same start for the block of C from row `i`, column `j` on (C's pointer moved there
    /// by the caller).
    pub(super) fn at(self, i: usize, j: usize) -> Init {
        match self {
            // Only moved here: the kernels read through it within the caller's start matrix.
            Init::From(s, stride) => Init::From(s.wrapping_add(i * stride + j), stride),
            other => other,
        }
    }

    /// Where the accumulators of the block at row `i`, column `j` of C start (C's own block
    /// at `out` when accumulating, with C's row stride `ldc`), and the stride of that block's
    /// rows; a null pointer for zeros.
    pub(super) fn block(
        self,
        i: usize,
        j: usize,
        out: *const f32,
        ldc: usize,
    ) -> (*const f32, usize) {
        match self {
            Init::Zero => (std::ptr::null(), 0),
            Init::Accumulate => (out, ldc),
            Init::From(s, stride) => (s.wrapping_add(i * stride + j), stride),
        }
    }
}

/// Longest `k` of a transposed A (a weight gradient `g^T h`) that either kernel copies into a
/// micro-panel on the stack (`imp::gemm_avx2`, `kernel512::gemm`).
#[cfg(target_arch = "x86_64")]
pub(super) const MICRO_K: usize = 64;

/// Whether this CPU runs the kernel.
pub(super) fn available() -> bool {
    imp::available()
}

/// `C = A B` with B read as `rhs` says; A is `m x k` with row and column strides
/// `(ars, acs)`, C is `m x n` row-major.
pub(super) fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    strides: (usize, usize),
    rhs: Rhs<'_>,
    c: &mut [MaybeUninit<f32>],
) {
    checked(m, k, n, a, strides, rhs, Init::Zero, c);
}

/// `C += A B`, as [`gemm`].
pub(super) fn gemm_add(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    strides: (usize, usize),
    rhs: Rhs<'_>,
    c: &mut [f32],
) {
    // SAFETY: same length and layout; the kernel reads each element before it writes it and
    // writes only initialised values.
    let c = unsafe { &mut *(c as *mut [f32] as *mut [MaybeUninit<f32>]) };
    checked(m, k, n, a, strides, rhs, Init::Accumulate, c);
}

/// `C = S + A B`, as [`gemm`], with S an `m x n` matrix whose rows are `stride` apart in
/// `start` (stride 0: the one row `start[..n]` on every row, a bias).
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_from(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    strides: (usize, usize),
    rhs: Rhs<'_>,
    (start, stride): (&[f32], usize),
    c: &mut [MaybeUninit<f32>],
) {
    assert!(
        m == 0 || (m - 1) * stride + n <= start.len(),
        "internal: packed gemm: the start matrix out of bounds"
    );
    checked(
        m,
        k,
        n,
        a,
        strides,
        rhs,
        Init::From(start.as_ptr(), stride),
        c,
    );
}

/// Asserts the CPU and the bounds the kernel relies on, then runs it.
#[allow(clippy::too_many_arguments)]
fn checked(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (ars, acs): (usize, usize),
    rhs: Rhs<'_>,
    init: Init,
    c: &mut [MaybeUninit<f32>],
) {
    assert!(
        available(),
        "internal: packed gemm kernel without AVX2 + FMA"
    );
    assert!(
        m > 0 && k > 0 && (m - 1) * ars + (k - 1) * acs < a.len(),
        "internal: packed gemm: A out of bounds"
    );
    assert!(
        rhs.fits(k, n) && c.len() == m * n,
        "internal: packed gemm: B or C out of bounds"
    );
    let cp = c.as_mut_ptr() as *mut f32;
    // SAFETY: the CPU has AVX2 and FMA (asserted); the bounds of A, B and C are asserted above,
    // which is what the kernel requires (C is initialised for `Accumulate`: `gemm_add`), and
    // C is borrowed mutably for the whole call.
    unsafe { run(m, k, n, a, (ars, acs), rhs, init, cp, 0..n.div_ceil(NR)) }
}

/// Runs the AVX-512 kernel where the CPU has it, else the AVX2 one.
///
/// # Safety
/// As `imp::gemm_avx2`.
#[allow(clippy::too_many_arguments)]
unsafe fn run(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    strides: (usize, usize),
    rhs: Rhs<'_>,
    init: Init,
    cp: *mut f32,
    panels: std::ops::Range<usize>,
) {
    #[cfg(target_arch = "x86_64")]
    if super::kernel512::available() {
        // SAFETY: forwarded contract; the CPU has AVX-512F.
        unsafe { super::kernel512::gemm(m, k, n, a, strides, rhs, init, (cp, n), panels) };
        return;
    }
    // SAFETY: forwarded contract.
    unsafe { imp::gemm_avx2(m, k, n, a, strides, rhs, init, cp, panels) }
}

/// `C = A B` (or `C += A B`, as `init` says) for the 16-column panels `panels` of C only
/// (columns from `16 panels.start`), with B as `rhs` describes and C given as a pointer to its
/// `m x n` row-major values: for threads each writing their own panels of one C
/// (`packed::try_gemm`), and for the blocks of `blocked.rs`.
///
/// # Safety
/// `c` must point to `m n` writable values (initialised in these panels for
/// `Init::Accumulate`), and no other thread may read or write the columns of these panels
/// during the call.
///
/// # Panics
/// As [`gemm`], and if `panels` goes past the last panel.
pub(super) unsafe fn gemm_panels(
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    (ars, acs): (usize, usize),
    rhs: Rhs<'_>,
    c: *mut f32,
    panels: std::ops::Range<usize>,
    init: Init,
) {
    assert!(
        available()
            && m > 0
            && k > 0
            && (m - 1) * ars + (k - 1) * acs < a.len()
            && rhs.fits(k, n)
            && panels.end <= n.div_ceil(NR),
        "internal: packed gemm by panels: an operand out of bounds"
    );
    // SAFETY: as in `checked`, with these panels' columns of C this call's alone (contract).
    unsafe { run(m, k, n, a, (ars, acs), rhs, init, c, panels) }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;

    use super::super::blocked::A_STRIDE;
    use super::{Init, MICRO_K, NR, Rhs};

    pub(super) fn available() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA; `a` must hold an `m x k` matrix at strides `(ars, acs)`,
    /// `rhs` must hold `k x n` values as its variant describes, `cp` must point to `m n`
    /// writable values (initialised for `Init::Accumulate`) whose columns in `panels` nothing
    /// else reads or writes during the call, and for `Init::From` the start matrix must hold
    /// `m` readable rows of `n` values at its stride.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gemm_avx2(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        (ars, acs): (usize, usize),
        rhs: Rhs<'_>,
        init: Init,
        cp: *mut f32,
        panels: std::ops::Range<usize>,
    ) {
        // A transposed with a short `k` and a B that stays in L1 (a weight gradient `g^T h`
        // added onto dW, `k` the batch): six rows at a time across all panels, from a
        // micro-panel (the six values of a step side by side), so those rows of A are read
        // once, not once a panel; the rest by panels. Same chains of multiply-adds, so the same
        // bits.
        let mut first = 0;
        if ars == 1 && acs != 1 && k <= MICRO_K && k * n <= MICRO_MAX_B && m >= 6 {
            let mut micro = [0.0f32; 8 * MICRO_K];
            while m - first >= 6 {
                for p in 0..k {
                    micro[p * 8..p * 8 + 6].copy_from_slice(&a[first + p * acs..][..6]);
                }
                // SAFETY: the micro-panel holds six rows of `k` values at strides (1, 8); rows
                // `first..first + 6` of C (`n` apart) are inside C; the rest as the contract.
                unsafe {
                    let c = cp.add(first * n);
                    let init = init.below(first);
                    by_panels::<true>(6, k, n, &micro, (1, 8), rhs, init, c, panels.clone())
                };
                first += 6;
            }
        }
        if first < m {
            // SAFETY: rows `first..m` of A and C, as the contract gives them.
            unsafe {
                let (a, c) = (&a[first * ars..], cp.add(first * n));
                let init = init.below(first);
                by_panels::<false>(m - first, k, n, a, (ars, acs), rhs, init, c, panels)
            };
        }
    }

    /// Largest B (`k n` values, 16 KiB) run from micro-panels of a transposed A: all of it is
    /// read again for every six rows, so it must stay in L1.
    const MICRO_MAX_B: usize = 4096;

    /// How many of the `left` rows the next tile takes. A tile keeps 2 x rows accumulators and
    /// the FMA latency needs 8 in flight, so tiles of 5 or 6 rows run at full speed, 4 just
    /// so, 2 at half: rows that cannot all go in sixes go in fives where that takes no more
    /// tiles (m = 32: 6 6 5 5 5 5, not 6 6 6 6 4 4; the product `[32, 512] x [512, 128]` 110
    /// -> 114 GFLOP/s), eight as 4 + 4 rather than 6 + 2.
    pub(super) fn tile_rows(left: usize) -> usize {
        let tiles = left.div_ceil(6).max(1);
        match left {
            8 => 4,
            // Fives and sixes fill `left` in `tiles` tiles: a six now if the rest still fills.
            r if r >= 5 * tiles => {
                if r >= 6 + 5 * (tiles - 1) {
                    6
                } else {
                    5
                }
            }
            r if r >= 6 => 6,
            r if r >= 4 => 4,
            r if r >= 2 => 2,
            _ => 1,
        }
    }

    /// `gemm_avx2` panel by panel: all rows of A times one panel, then the next. `MICRO`: A is
    /// a micro-panel, six rows at strides `(1, 8)`, compiled with those constants (whether or
    /// not this function is inlined).
    ///
    /// # Safety
    /// As `gemm_avx2`, and with `MICRO` `m` = 6 and A at strides `(1, 8)`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn by_panels<const MICRO: bool>(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        (ars, acs): (usize, usize),
        rhs: Rhs<'_>,
        init: Init,
        cp: *mut f32,
        panels: std::ops::Range<usize>,
    ) {
        let mut edge = [0.0f32; 6 * NR];
        for pi in panels {
            // Panel `pi`: `k` rows of 16 values, `ldb` apart.
            let (panel, ldb) = match rhs {
                Rhs::Panels(panels) => (panels[pi * k * NR..].as_ptr(), NR),
                Rhs::Rows { b, rs, .. } if (pi + 1) * NR <= n => (b[pi * NR..].as_ptr(), rs),
                Rhs::Rows { tail, .. } => (tail.as_ptr(), NR),
            };
            let j0 = pi * NR;
            let w = NR.min(n - j0);
            let mut i = 0;
            while i < m {
                let rows = if MICRO { 6 } else { tile_rows(m - i) };
                let ap = a[i * ars..].as_ptr();
                // A full panel is stored straight into C, its accumulators starting from C's
                // values when adding (or from the start matrix); the last, narrower one goes
                // through `edge` (the start values copied in) and its first `w` columns are
                // copied out.
                // SAFETY (of the pointer arithmetic): `(i, j0)` is inside C (`i < m`,
                // `j0 < n`), and inside the start matrix when there is one (contract).
                let out = unsafe { cp.add(i * n + j0) };
                let (from, ls) = init.block(i, j0, out, n);
                let (start, out, ldc) = if w == NR {
                    ((from, ls), out, n)
                } else {
                    if !from.is_null() {
                        for r in 0..rows {
                            // SAFETY: row `r` of the start block has `w` values (initialised
                            // C when adding, the start matrix otherwise: contract).
                            let src = unsafe { std::slice::from_raw_parts(from.add(r * ls), w) };
                            edge[r * NR..][..w].copy_from_slice(src);
                        }
                    }
                    let start = if from.is_null() { from } else { edge.as_ptr() };
                    ((start, NR), edge.as_mut_ptr(), NR)
                };
                // SAFETY: rows `i..i + rows` of A exist (`i + rows <= m`, `k` values each at
                // strides `(ars, acs)`); the panel holds `k x 16` values; the output (and start)
                // block is `rows` rows of 16 at stride `ldc` inside C or `edge`.
                unsafe {
                    let (bp, st) = ((panel, ldb), (ars, acs));
                    match (rows, acs) {
                        // A micro-panel: constant strides.
                        _ if MICRO => tile::<6>(k, ap, (1, 8), bp, start, out, ldc),
                        // The blocked path's copy of A: its row stride a constant too, so a
                        // broadcast takes its address from one register and an offset.
                        (6, 1) if ars == A_STRIDE => {
                            tile::<6>(k, ap, (A_STRIDE, 1), bp, start, out, ldc)
                        }
                        (5, 1) if ars == A_STRIDE => {
                            tile::<5>(k, ap, (A_STRIDE, 1), bp, start, out, ldc)
                        }
                        (4, 1) if ars == A_STRIDE => {
                            tile::<4>(k, ap, (A_STRIDE, 1), bp, start, out, ldc)
                        }
                        // Contiguous rows of A (the usual case) with a constant column stride.
                        (6, 1) => tile::<6>(k, ap, (ars, 1), bp, start, out, ldc),
                        (5, 1) => tile::<5>(k, ap, (ars, 1), bp, start, out, ldc),
                        (4, 1) => tile::<4>(k, ap, (ars, 1), bp, start, out, ldc),
                        (2, 1) => tile::<2>(k, ap, (ars, 1), bp, start, out, ldc),
                        (1, 1) => tile::<1>(k, ap, (ars, 1), bp, start, out, ldc),
                        (6, _) => tile::<6>(k, ap, st, bp, start, out, ldc),
                        (5, _) => tile::<5>(k, ap, st, bp, start, out, ldc),
                        (4, _) => tile::<4>(k, ap, st, bp, start, out, ldc),
                        (2, _) => tile::<2>(k, ap, st, bp, start, out, ldc),
                        _ => tile::<1>(k, ap, st, bp, start, out, ldc),
                    }
                }
                if w < NR {
                    for r in 0..rows {
                        // SAFETY: row `i + r` of C has `w` writable values from column `j0`
                        // (contract); `edge` is this call's own.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                edge[r * NR..].as_ptr(),
                                cp.add((i + r) * n + j0),
                                w,
                            )
                        };
                    }
                }
                i += rows;
            }
        }
    }

    /// `MR` rows of C times one panel: `MR x 16` accumulators in registers over the whole `k`,
    /// starting from zeros (`start` null) or from the block at `start` (its own row stride).
    ///
    /// # Safety
    /// AVX2 and FMA; `a` points to `MR` rows of `k` values at strides `(ars, acs)`, `panel` to
    /// `k` rows of 16 values `ldb` apart, `start` (unless null) to `MR` readable rows of 16 at
    /// its stride, `c` to `MR` rows of 16 writable values at stride `ldc`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile<const MR: usize>(
        k: usize,
        a: *const f32,
        (ars, acs): (usize, usize),
        (panel, ldb): (*const f32, usize),
        (start, ls): (*const f32, usize),
        c: *mut f32,
        ldc: usize,
    ) {
        let mut lo = [_mm256_setzero_ps(); MR];
        let mut hi = [_mm256_setzero_ps(); MR];
        if !start.is_null() {
            for r in 0..MR {
                // SAFETY: row `r < MR` of the start block has 16 readable values (contract).
                unsafe {
                    lo[r] = _mm256_loadu_ps(start.add(r * ls));
                    hi[r] = _mm256_loadu_ps(start.add(r * ls + 8));
                }
            }
        }
        // Two steps of `k` per iteration (the loop's own instructions halved; each
        // accumulator's chain unchanged, so the same bits), then the odd last one. W2 with
        // AVX2 only 5 % faster, W1's forward and backward at n = 1,024 2.5 %; four steps were
        // 30 % slower (compiled differently), and the AVX-512 tile gained nothing.
        let mut step = |p: usize| {
            // SAFETY: `p < k`, so the panel row and each A element are in bounds (contract).
            unsafe {
                let b0 = _mm256_loadu_ps(panel.add(p * ldb));
                let b1 = _mm256_loadu_ps(panel.add(p * ldb + 8));
                for r in 0..MR {
                    let x = _mm256_broadcast_ss(&*a.add(r * ars + p * acs));
                    lo[r] = _mm256_fmadd_ps(x, b0, lo[r]);
                    hi[r] = _mm256_fmadd_ps(x, b1, hi[r]);
                }
            }
        };
        let mut p = 0;
        while p + 2 <= k {
            step(p);
            step(p + 1);
            p += 2;
        }
        if p < k {
            step(p);
        }
        for r in 0..MR {
            // SAFETY: row `r < MR` of the output block has 16 writable values (contract).
            unsafe {
                _mm256_storeu_ps(c.add(r * ldc), lo[r]);
                _mm256_storeu_ps(c.add(r * ldc + 8), hi[r]);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use super::{Init, Rhs};

    pub(super) fn available() -> bool {
        false
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn gemm_avx2(
        _m: usize,
        _k: usize,
        _n: usize,
        _a: &[f32],
        _strides: (usize, usize),
        _rhs: Rhs<'_>,
        _init: Init,
        _c: *mut f32,
        _panels: std::ops::Range<usize>,
    ) {
        unreachable!("internal: the packed kernel exists on x86-64 only")
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::super::kernel512;
    use super::{Init, NR, Rhs, imp};

    fn filled(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7 + seed * 13) % 23) as f32 / 11.0 - 1.0)
            .collect()
    }

    /// A (`m x k` in a padded buffer, transposed or not) and B (`k x n`, rows `n + 3` apart)
    /// for the kernel tests, B both packed and as its rows with the narrow last panel packed.
    struct Operands {
        strides: (usize, usize),
        a: Vec<f32>,
        b: Vec<f32>,
        rs: usize,
        packed: super::super::Lines,
        tail: super::super::Lines,
    }

    impl Operands {
        fn new((m, k, n): (usize, usize, usize), a_transposed: bool) -> Self {
            let rs = n + 3;
            let b = filled(k * rs, n);
            let full = n / NR * NR;
            Operands {
                strides: if a_transposed { (1, m + 1) } else { (k + 2, 1) },
                a: filled((m + 1) * (k + 2), m + k),
                packed: super::super::pack(&b, k, n, rs, 1),
                tail: if full < n {
                    super::super::pack(&b[full..], k, n - full, rs, 1)
                } else {
                    super::super::Lines::new()
                },
                b,
                rs,
            }
        }

        fn panels(&self) -> Rhs<'_> {
            Rhs::Panels(self.packed.as_slice())
        }

        fn rows(&self) -> Rhs<'_> {
            Rhs::Rows {
                b: &self.b,
                rs: self.rs,
                tail: self.tail.as_slice(),
            }
        }
    }

    /// C from one kernel, C starting as `c0` (NaN marks values that must be overwritten).
    #[allow(clippy::too_many_arguments)]
    fn product(
        wide: bool,
        (m, k, n): (usize, usize, usize),
        a: &[f32],
        strides: (usize, usize),
        rhs: Rhs<'_>,
        init: Init,
        c0: &[f32],
        panels: std::ops::Range<usize>,
    ) -> Vec<f32> {
        let mut c = c0.to_vec();
        let cp = c.as_mut_ptr();
        // SAFETY: the CPU has the kernel's instructions (checked by the caller); A, B and C
        // hold what the kernels need, and C is this call's own.
        unsafe {
            if wide {
                kernel512::gemm(m, k, n, a, strides, rhs, init, (cp, n), panels)
            } else {
                imp::gemm_avx2(m, k, n, a, strides, rhs, init, cp, panels)
            }
        }
        c
    }

    // Both kernels run one chain of fused multiply-adds per value of C over p = 0..k, so they
    // must agree bit for bit, on every tile height, panel pair and narrow last panel, and leave
    // the columns of other panels alone. packed.rs's tests check against f64 whichever kernel
    // the CPU runs, so with this test both are checked on an AVX-512 CPU.
    #[test]
    fn the_avx512_kernel_gives_the_avx2_kernels_bits() {
        if !(super::available() && kernel512::available()) {
            eprintln!("no AVX-512 on this CPU: nothing to compare");
            return;
        }
        for m in [1, 2, 3, 5, 7, 8, 9, 12, 15, 32, 48] {
            for n in [1usize, 15, 16, 17, 32, 40, 48, 100] {
                for k in [1, 6, 64] {
                    let count = n.div_ceil(NR);
                    for a_transposed in [false, true] {
                        let ops = Operands::new((m, k, n), a_transposed);
                        let (strides, a) = (ops.strides, &ops.a);
                        let (rows, packed) = (ops.rows(), ops.panels());
                        // A start matrix with rows n + 2 apart, and a bias (one row, stride 0).
                        let s0 = filled(m * (n + 2), 9);
                        let from = Init::From(s0.as_ptr(), n + 2);
                        let bias = Init::From(s0.as_ptr(), 0);
                        for (rhs, init, panels) in [
                            (packed, Init::Zero, 0..count),
                            (rows, Init::Accumulate, 0..count),
                            (packed, Init::Zero, count / 2..count),
                            (packed, from, 0..count),
                            (rows, bias, count / 2..count),
                        ] {
                            let c0 = if init == Init::Accumulate {
                                filled(m * n, 5)
                            } else {
                                vec![f32::NAN; m * n]
                            };
                            let run = |wide| {
                                let mkn = (m, k, n);
                                product(wide, mkn, a, strides, rhs, init, &c0, panels.clone())
                            };
                            let (narrow, wide) = (run(false), run(true));
                            let what = format!("m {m} k {k} n {n} A^T {a_transposed} {panels:?}");
                            for (i, (x, y)) in narrow.iter().zip(&wide).enumerate() {
                                let mine = panels.contains(&(i % n / NR));
                                assert_eq!(x.is_nan(), !mine, "{what}: element {i}");
                                assert!(
                                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                                    "{what}: element {i}: AVX2 {x}, AVX-512 {y}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    // `C = S + A B` from a start matrix S (rows `stride` apart, or one row with stride 0) must
    // add S's own element to each value of C, on every tile height, the narrow last panel, the
    // micro-panel rows of a transposed A, and B packed or read in place (whichever kernel the
    // CPU runs; with AVX-512 the test above gives the AVX2 kernel the same bits).
    #[test]
    fn a_start_matrix_or_bias_row_is_added_to_every_value_of_c() {
        use std::mem::MaybeUninit;
        if !super::available() {
            return;
        }
        for (m, k, n) in [
            (1, 3, 5),
            (7, 64, 17),
            (15, 32, 40),
            (32, 128, 48),
            (30, 6, 100),
        ] {
            for a_transposed in [false, true] {
                let ops = Operands::new((m, k, n), a_transposed);
                let (strides, a, b, rs) = (ops.strides, &ops.a, &ops.b, ops.rs);
                let s0 = filled(m * (n + 2), 9);
                for (rhs, stride) in [(ops.panels(), n + 2), (ops.rows(), 0)] {
                    let mut c = vec![MaybeUninit::new(f32::NAN); m * n];
                    super::gemm_from(m, k, n, a, strides, rhs, (&s0, stride), &mut c);
                    for i in 0..m {
                        for j in 0..n {
                            let ab: f64 = (0..k)
                                .map(|p| {
                                    let x = a[i * strides.0 + p * strides.1];
                                    f64::from(x) * f64::from(b[p * rs + j])
                                })
                                .sum();
                            let want = f64::from(s0[i * stride + j]) + ab;
                            // SAFETY: the product wrote every element (checked here).
                            let got = f64::from(unsafe { c[i * n + j].assume_init() });
                            assert!(
                                (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                                "m {m} k {k} n {n} A^T {a_transposed} stride {stride}: \
                                 C[{i}, {j}] = {got}, want {want}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The tile heights `tile_rows` gives for `m` rows, first to last.
    fn heights(m: usize) -> Vec<usize> {
        let mut left = m;
        let mut out = Vec::new();
        while left > 0 {
            let rows = imp::tile_rows(left);
            assert!(rows >= 1 && rows <= left && rows <= 6, "{rows} of {left}");
            out.push(rows);
            left -= rows;
        }
        out
    }

    #[test]
    fn rows_go_in_sixes_and_fives_without_more_tiles() {
        assert_eq!(heights(32), [6, 6, 5, 5, 5, 5]);
        assert_eq!(heights(48), [6; 8]);
        assert_eq!(heights(8), [4, 4]);
        assert_eq!(heights(5), [5]);
        assert_eq!(heights(3), [2, 1]);
        for m in 1..200 {
            let h = heights(m);
            assert_eq!(h.iter().sum::<usize>(), m);
            // Never more tiles than sixes first would take (`ceil(m / 6)`, plus the short
            // tail's 2 + 1 or 4 + 4's extra tile).
            assert!(h.len() <= m.div_ceil(6) + 1, "m {m}: {h:?}");
            // Whenever fives and sixes can fill m in ceil(m / 6) tiles, only they are used.
            if m >= 5 * m.div_ceil(6) {
                assert!(h.iter().all(|&r| r >= 5), "m {m}: {h:?}");
                assert_eq!(h.len(), m.div_ceil(6), "m {m}: {h:?}");
            }
        }
    }
}
