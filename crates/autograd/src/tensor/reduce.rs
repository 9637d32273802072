//! Whole-tensor sums: the forward of `sum()` and of every loss's mean.

use crate::Float;

/// Independent partial sums: four AVX2 vectors of `f32` (eight of `f64`), so the additions of
/// one pass do not wait on each other.
const LANES: usize = 32;

/// The sum of `d`: element `i` goes to partial sum `i % 32` (the last `len % 32` elements to the
/// first ones), and the partial sums are added pairwise. Vectorised, and the same for any
/// thread count; more accurate than one running sum (error growing with `len / 32` instead of
/// `len`).
pub(crate) fn sum_all<T: Float>(d: &[T]) -> T {
    let mut acc = [T::ZERO; LANES];
    crate::vectorized(
        #[inline(always)]
        || {
            let mut chunks = d.chunks_exact(LANES);
            for c in &mut chunks {
                acc.iter_mut().zip(c).for_each(|(a, &x)| *a += x);
            }
            acc.iter_mut()
                .zip(chunks.remainder())
                .for_each(|(a, &x)| *a += x);
        },
    );
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        let (lo, hi) = acc.split_at_mut(width);
        lo.iter_mut().zip(&*hi).for_each(|(a, &b)| *a += b);
    }
    acc[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_an_exact_reference_for_every_tail() {
        for len in (0..100usize).chain([1000, 4097, 1 << 20]) {
            let d: Vec<f32> = (0..len)
                .map(|i| ((i * 7919) % 1000) as f32 / 997.0 - 0.4)
                .collect();
            let exact: f64 = d.iter().map(|&x| x as f64).sum();
            let got = sum_all(&d) as f64;
            // Rounding bound of f32 partial sums: at most len / 32 additions into each, then
            // 5 pairwise levels, each off by at most one epsilon of the magnitudes summed.
            let magnitude: f64 = d.iter().map(|&x| x.abs() as f64).sum();
            let tol = f32::EPSILON as f64 * (len as f64 / 32.0 + 6.0) * magnitude;
            assert!((got - exact).abs() <= tol, "len {len}: {got} vs {exact}");
        }
        let d: Vec<f64> = (0..1234).map(|i| i as f64).collect();
        assert_eq!(sum_all(&d), 1233.0 * 1234.0 / 2.0);
    }

    #[test]
    fn non_finite_values_propagate() {
        let mut d = vec![1.0f32; 100];
        d[57] = f32::NAN;
        assert!(sum_all(&d).is_nan());
        d[57] = f32::INFINITY;
        assert_eq!(sum_all(&d), f32::INFINITY);
        d[3] = f32::NEG_INFINITY;
        assert!(sum_all(&d).is_nan());
        assert_eq!(sum_all::<f32>(&[]), 0.0);
    }
}
