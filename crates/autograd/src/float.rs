//! The element types a [`Tensor`](crate::Tensor) can hold: `f32` and `f64`.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element type of a data type tag, for file formats and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        })
    }
}

/// A floating-point element type: implemented for `f32` and `f64` only (sealed).
///
/// `f64` is what gradient checking needs; `f32` is what training usually uses.
pub trait Float:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + PartialOrd
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + 'static
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
    /// The data type tag.
    const DTYPE: DType;
    /// Machine epsilon.
    const EPSILON: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity.
    const NEG_INFINITY: Self;

    /// Converts from `f64`, rounding to nearest.
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts a count, e.g. the number of elements averaged over.
    fn from_usize(v: usize) -> Self {
        Self::from_f64(v as f64)
    }
    /// `e^self`. For f32, a branch-free polynomial (so elementwise loops vectorise) within
    /// 1 ulp of the exact value over the whole range, with `exp(-inf) = 0`, `exp(inf) = inf`,
    /// NaN kept and subnormal results; glibc's scalar `expf` cost about 3 ns an element.
    /// For f64, the exact `exp` (gradient checking runs in f64).
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + self)`, accurate near zero.
    fn ln_1p(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `self^p`.
    fn powf(self, p: Self) -> Self;
    /// Larger of two values (NaN-ignoring as `f64::max`).
    fn max(self, other: Self) -> Self;
    /// Smaller of two values (NaN-ignoring as `f64::min`).
    fn min(self, other: Self) -> Self;
    /// Whether the value is neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;

    /// `C = alpha * A B + beta * C` for an `m x k` matrix A and a `k x n` matrix B given by row
    /// and column strides (so a transposed operand is just swapped strides, never copied).
    ///
    /// # Panics
    /// If a stride pattern would index outside of a slice.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (&[Self], isize, isize),
        b: (&[Self], isize, isize),
        beta: Self,
        c: (&mut [Self], isize, isize),
    );

    /// `C = A B` into a row-major `m x n` buffer that may be uninitialised (the GEMM never reads
    /// C when `beta = 0`, so fresh outputs skip the zero fill). Every element is written.
    ///
    /// # Panics
    /// If a stride pattern would index outside of a slice, or `c` is not `m * n` long.
    fn gemm_uninit(
        m: usize,
        k: usize,
        n: usize,
        a: (&[Self], isize, isize),
        b: (&[Self], isize, isize),
        c: &mut [std::mem::MaybeUninit<Self>],
    );

    /// `C = A B` into the `m x n` block at `c` of a row-major buffer with row stride `rs`
    /// (uninitialised is fine): one thread's columns of a product split by columns.
    ///
    /// # Safety
    /// Every `c.add(i * rs + j)`, `i < m`, `j < n`, must be valid for writes, and nothing else
    /// may access those elements during the call.
    ///
    /// # Panics
    /// If a stride pattern of A or B would index outside of its slice.
    #[doc(hidden)]
    unsafe fn gemm_uninit_block(
        m: usize,
        k: usize,
        n: usize,
        a: (&[Self], isize, isize),
        b: (&[Self], isize, isize),
        c: *mut std::mem::MaybeUninit<Self>,
        rs: usize,
    );
}

/// Largest offset + 1 that a strided `rows x cols` matrix touches.
fn strided_extent(rows: usize, cols: usize, rs: isize, cs: isize) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    assert!(
        rs >= 0 && cs >= 0,
        "gemm: negative strides are not supported"
    );
    (rows - 1) * rs as usize + (cols - 1) * cs as usize + 1
}

/// `tanh` for f32 as a rational function (Eigen's `generic_fast_tanh_float`): branch-free, so
/// the elementwise loops vectorise, and within 4.2e-7 of the exact value (about 3.5 ulp near 1),
/// where glibc's scalar `tanhf` costs about 12 ns an element. f64 keeps the exact `tanh`
/// (gradient checking runs in f64).
#[inline]
#[allow(clippy::excessive_precision)] // the coefficients as Eigen publishes them
fn fast_tanh_f32(x: f32) -> f32 {
    // Beyond +-7.9 the rational function is 1 to f32 precision.
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let mut p = -2.760_768_5e-16f32;
    p = p * x2 + 2.000_187_9e-13;
    p = p * x2 + -8.604_671_5e-11;
    p = p * x2 + 5.122_297e-8;
    p = p * x2 + 1.485_722_4e-5;
    p = p * x2 + 6.372_619_3e-4;
    p = p * x2 + 4.893_524_6e-3;
    let mut q = 1.198_258_4e-6f32;
    q = q * x2 + 1.185_347_1e-4;
    q = q * x2 + 2.268_434_6e-3;
    q = q * x2 + 4.893_525e-3;
    // Tiny |x|: tanh x = x exactly in f32 (keeps tanh(-0) = -0 and the slope 1 at 0).
    if x.abs() < 4e-4 { x } else { x * p / q }
}

/// `exp` for f32 without branches or a float-to-int conversion (Cephes' `expf` polynomial), so
/// that elementwise loops vectorise: 8 lanes on AVX2, about 4x glibc's scalar `expf`. Within
/// 1 ulp of the exact value (0.99 ulp worst over every 7th float in [-87.3, 88.7]; glibc 0.50).
#[inline]
#[allow(clippy::excessive_precision)] // the coefficients as Cephes publishes them
fn fast_exp_f32(x: f32) -> f32 {
    // NaN stays NaN; beyond these bounds the result is 0 or inf anyway.
    let x = x.clamp(-104.0, 89.0);
    // x = n ln2 + r with |r| <= ln2 / 2; n = round(x / ln2) by adding and removing 1.5 * 2^23,
    // which also leaves n as an integer in t's low mantissa bits.
    const SHIFT: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    // ln 2 in two parts (Cody-Waite): n * 0.693359375 is exact.
    let r = x - n * 0.693_359_375 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    // 2^n as 2^h 2^(n-h): both normal floats for n in [-150, 128], so that subnormal results
    // and overflow to inf come out of the multiplications.
    let n = t.to_bits() as i32 - SHIFT.to_bits() as i32;
    let h = n >> 1;
    let two_to = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    y * two_to(h) * two_to(n - h)
}

/// `matrixmultiply::sgemm` / `dgemm`.
type GemmFn<T> = unsafe fn(
    usize,
    usize,
    usize,
    T,
    *const T,
    isize,
    isize,
    *const T,
    isize,
    isize,
    T,
    *mut T,
    isize,
    isize,
);

/// Checks that A and B lie inside their slices, then runs `gemm` into C.
///
/// # Safety
/// `c` (pointer, row stride, column stride) must address an `m x n` matrix valid for writes
/// (and for reads unless `beta` is zero) that aliases neither A nor B.
#[allow(clippy::too_many_arguments)]
unsafe fn checked_gemm<T: Copy>(
    gemm: GemmFn<T>,
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: (&[T], isize, isize),
    b: (&[T], isize, isize),
    beta: T,
    c: (*mut T, isize, isize),
) {
    assert!(
        strided_extent(m, k, a.1, a.2) <= a.0.len(),
        "gemm: A out of bounds"
    );
    assert!(
        strided_extent(k, n, b.1, b.2) <= b.0.len(),
        "gemm: B out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts above prove that every element the m x k and k x n strided matrices
    // address lies inside its slice (strides are non-negative, checked by `strided_extent`);
    // the caller guarantees C.
    unsafe {
        gemm(
            m,
            k,
            n,
            alpha,
            a.0.as_ptr(),
            a.1,
            a.2,
            b.0.as_ptr(),
            b.1,
            b.2,
            beta,
            c.0,
            c.1,
            c.2,
        )
    }
}

macro_rules! impl_float {
    ($t:ident, $dtype:expr, $gemm:path, $tanh:expr, $exp:expr) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const DTYPE: DType = $dtype;
            const EPSILON: Self = $t::EPSILON;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline]
            fn powf(self, p: Self) -> Self {
                $t::powf(self, p)
            }
            #[inline]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline]
            fn min(self, other: Self) -> Self {
                $t::min(self, other)
            }
            #[inline]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: (&[Self], isize, isize),
                b: (&[Self], isize, isize),
                beta: Self,
                c: (&mut [Self], isize, isize),
            ) {
                assert!(
                    strided_extent(m, n, c.1, c.2) <= c.0.len(),
                    "gemm: C out of bounds"
                );
                // SAFETY: the assert above proves that the m x n strided C lies inside its
                // slice, which is borrowed mutably (no alias of A or B) and initialised.
                unsafe {
                    checked_gemm(
                        $gemm,
                        m,
                        k,
                        n,
                        alpha,
                        a,
                        b,
                        beta,
                        (c.0.as_mut_ptr(), c.1, c.2),
                    )
                }
            }
            fn gemm_uninit(
                m: usize,
                k: usize,
                n: usize,
                a: (&[Self], isize, isize),
                b: (&[Self], isize, isize),
                c: &mut [std::mem::MaybeUninit<Self>],
            ) {
                assert_eq!(c.len(), m * n, "gemm: C is not m x n");
                // SAFETY: C is exactly m x n, row-major (row stride n), borrowed mutably. With
                // beta = 0 matrixmultiply never reads C ("If beta is zero, then C does not need
                // to be initialized") and writes every element (also for k = 0), so
                // uninitialised memory is never read, and all of it is initialised after.
                let c = (c.as_mut_ptr() as *mut Self, n as isize, 1);
                unsafe { checked_gemm($gemm, m, k, n, 1.0, a, b, 0.0, c) }
            }
            unsafe fn gemm_uninit_block(
                m: usize,
                k: usize,
                n: usize,
                a: (&[Self], isize, isize),
                b: (&[Self], isize, isize),
                c: *mut std::mem::MaybeUninit<Self>,
                rs: usize,
            ) {
                // SAFETY: the caller guarantees the block; with beta = 0 matrixmultiply never
                // reads C and writes every element of the block.
                unsafe {
                    checked_gemm(
                        $gemm,
                        m,
                        k,
                        n,
                        1.0,
                        a,
                        b,
                        0.0,
                        (c as *mut Self, rs as isize, 1),
                    )
                }
            }
        }
    };
}

impl_float!(
    f32,
    DType::F32,
    matrixmultiply::sgemm,
    fast_tanh_f32,
    fast_exp_f32
);
impl_float!(f64, DType::F64, matrixmultiply::dgemm, f64::tanh, f64::exp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_f32_tanh_is_within_half_a_microunit_of_tanh() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4; // -20 .. 20
            let exact = (x as f64).tanh();
            let got = Float::tanh(x) as f64;
            worst = worst.max((got - exact).abs());
            assert_eq!(Float::tanh(-x), -Float::tanh(x), "odd at {x}");
            assert!(got.abs() <= 1.0, "bounded at {x}");
        }
        assert!(worst < 5e-7, "worst abs error {worst}");
        assert_eq!(Float::tanh(1e-6f32), 1e-6);
        assert_eq!(Float::tanh(100.0f32), 1.0);
        assert!(Float::tanh(f32::NAN).is_nan());
    }

    /// The error of `got` in units of the last place of the f32 nearest to `exact`.
    fn ulps(got: f32, exact: f64) -> f64 {
        let nearest = exact as f32;
        let ulp = f32::from_bits(nearest.abs().to_bits() + 1) - nearest.abs();
        (got as f64 - exact).abs() / ulp as f64
    }

    #[test]
    fn fast_f32_exp_is_within_one_ulp_of_exp() {
        let mut worst = (0.0f64, 0.0f32);
        // Every 61st float of [-87.3, 88.7] (normal results), both signs.
        for start in [-87.3f32, 1e-30] {
            let mut x = start;
            while x.abs() <= 88.7 && x != 0.0 {
                let err = ulps(Float::exp(x), (x as f64).exp());
                if err > worst.0 {
                    worst = (err, x);
                }
                x = f32::from_bits(if x < 0.0 {
                    x.to_bits() - 61
                } else {
                    x.to_bits() + 61
                });
            }
        }
        assert!(worst.0 <= 1.0, "{} ulp at {}", worst.0, worst.1);
        // Exact at 0.
        assert_eq!(Float::exp(0.0f32), 1.0);
        assert_eq!(Float::exp(-0.0f32), 1.0);
        // Overflow, underflow, subnormal results and NaN.
        assert_eq!(Float::exp(88.73f32), f32::INFINITY);
        assert_eq!(Float::exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(Float::exp(-104.0f32), 0.0);
        assert_eq!(Float::exp(f32::NEG_INFINITY), 0.0);
        assert!(Float::exp(f32::NAN).is_nan());
        for x in [-88.0f32, -95.5, -100.0, -103.2] {
            let (got, exact) = (Float::exp(x), (x as f64).exp());
            assert!(
                got > 0.0 && got < f32::MIN_POSITIVE,
                "exp({x}) = {got} is not subnormal"
            );
            // A subnormal has fewer bits: within one of its (larger, relative) steps.
            assert!(
                (got as f64 - exact).abs() <= 1.5e-45,
                "exp({x}) = {got}, exact {exact}"
            );
        }
        assert_eq!(Float::exp(88.72f32), 88.72f32.exp());
    }
}
