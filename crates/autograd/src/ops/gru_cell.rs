//! `gru_cell`: the elementwise part of a GRU step, fused (a measured speed-up: 2 nodes instead
//! of 14, `docs/performance.md`, twenty-first round).
//!
//! Two ops, each with its own backward, from the input part `xp = x W_ih^T + b_ih` and the
//! hidden part `hp = h W_hh^T + b_hh` (`[B, 3H]`, blocks r, z, n in PyTorch's order):
//! - [`GruGates`]: `y = [r | z | n]` with `r = sigmoid(xp_r + hp_r)`, `z = sigmoid(xp_z + hp_z)`,
//!   `n = tanh(xp_n + r hp_n)`; its derivative reads `y` and `hp_n`, not `xp`;
//! - [`GruHidden`]: `h' = (1 - z) n + z h`.
//!
//! First-order backward runs one fused pass per op on tensors; under `Tape::grad`
//! (`create_graph`) the same derivative is recorded from primitive ops, so every order works.

use super::lstm_cell::{any_recorded, block, blocks, by_rows, grad_from, sigmoid, splits};
use crate::tensor::kernels::fresh_rows_pair;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var, vectorized};

/// `y = [r | z | n]` `[B, 3H]` from `xp` and `hp` `[B, 3H]`.
struct GruGates;

impl<T: Float> Op<T> for GruGates {
    fn name(&self) -> &'static str {
        "gru_gates"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let (xp, hp) = (x[0], x[1]);
        let (w, h) = (xp.shape()[1], xp.shape()[1] / 3);
        by_rows(
            xp.shape(),
            w,
            splits(xp.shape()[0], h),
            #[inline(always)]
            |y, r| {
                let (a, b) = (&xp.data()[r * w..][..w], &hp.data()[r * w..][..w]);
                let rz = a[..2 * h].iter().zip(&b[..2 * h]);
                y.extend(2 * h, rz.map(|(&a, &b)| sigmoid(a + b)));
                // n needs r, just written: recomputed (cheaper than reading it back).
                let (ar, br) = (&a[..h], &b[..h]);
                let n = a[2 * h..].iter().zip(&b[2 * h..]).zip(ar.iter().zip(br));
                y.extend(
                    h,
                    n.map(|((&a, &b), (&xr, &hr))| (a + sigmoid(xr + hr) * b).tanh()),
                );
            },
        )
    }

    // The derivative reads y and hp's n block; xp enters as an addend.
    fn backward_reads_input(&self, input: usize) -> bool {
        input == 1
    }

    // With G = [G_r | G_z | G_n]: dn = G_n (1 - n^2), dr = (G_r + dn hp_n) r (1 - r),
    // dz = G_z z (1 - z); dxp = [dr | dz | dn], dhp = [dr | dz | dn r].
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (y, hp, g) = (cx.output(), cx.input(1), cx.grad());
        let h = y.shape()[1] / 3;
        if any_recorded(cx) {
            let (r, z, n) = (block(y, 0, h), block(y, 1, h), block(y, 2, h));
            let dn = block(g, 2, h) * (&n * &n).neg().add_scalar(T::ONE);
            let dr = (block(g, 0, h) + &dn * &block(hp, 2, h)) * (&r - &(&r * &r));
            let dz = block(g, 1, h) * (&z - &(&z * &z));
            let dxp = || blocks([Some(dr.clone()), Some(dz.clone()), Some(dn.clone())], y);
            let dhp = || blocks([Some(dr.clone()), Some(dz.clone()), Some(&dn * &r)], y);
            return [cx.grad_for(0, dxp), cx.grad_for(1, dhp)].into();
        }
        let (yv, hv, gv) = (y.value(), hp.value(), g.value());
        let (rows, w) = (yv.shape()[0], 3 * h);
        let (dxp, dhp) = fresh_rows_pair(rows, (w, w), splits(rows, h), &|dx, dh, r0, r1| {
            vectorized(
                #[inline(always)]
                || {
                    for row in r0..r1 {
                        let (y, g) = (&yv.data()[row * w..][..w], &gv.data()[row * w..][..w]);
                        let hn = &hv.data()[row * w + 2 * h..][..h];
                        let (r, z, n) = (&y[..h], &y[h..2 * h], &y[2 * h..]);
                        let (gr, gz, gn) = (&g[..h], &g[h..2 * h], &g[2 * h..]);
                        let dn = |gn: T, n: T| gn * (T::ONE - n * n);
                        let it = r.iter().zip(gr).zip(n.iter().zip(gn).zip(hn));
                        dx.extend_pair(
                            dh,
                            h,
                            it.map(|((&r, &gr), ((&n, &gn), &hn))| {
                                let d = (gr + dn(gn, n) * hn) * (r - r * r);
                                (d, d)
                            }),
                        );
                        let it = z.iter().zip(gz);
                        dx.extend_pair(
                            dh,
                            h,
                            it.map(|(&z, &gz)| {
                                let d = gz * (z - z * z);
                                (d, d)
                            }),
                        );
                        let it = n.iter().zip(gn).zip(r);
                        dx.extend_pair(
                            dh,
                            h,
                            it.map(|((&n, &gn), &r)| {
                                let d = dn(gn, n);
                                (d, d * r)
                            }),
                        );
                    }
                },
            )
        });
        [grad_from(cx, 0, &yv, dxp), grad_from(cx, 1, &yv, dhp)].into()
    }
}

/// `h' = (1 - z) n + z h` from `y = [r | z | n]` `[B, 3H]` and `h` `[B, H]`.
struct GruHidden;

impl<T: Float> Op<T> for GruHidden {
    fn name(&self) -> &'static str {
        "gru_hidden"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let (y, hv) = (x[0].data(), x[1].data());
        let h = x[1].shape()[1];
        by_rows(
            x[1].shape(),
            h,
            splits(x[1].shape()[0], h),
            #[inline(always)]
            |out, r| {
                let (z, n) = (&y[3 * h * r + h..][..h], &y[3 * h * r + 2 * h..][..h]);
                let it = z.iter().zip(n).zip(&hv[h * r..][..h]);
                out.extend(h, it.map(|((&z, &n), &h)| (T::ONE - z) * n + z * h));
            },
        )
    }

    fn backward_reads_output(&self) -> bool {
        false
    }

    // With G = dL/dh': dy = [0 | G (h - n) | G (1 - z)], dh = G z.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (y, hs, g) = (cx.input(0), cx.input(1), cx.grad());
        let h = hs.shape()[1];
        let (z, n) = (block(y, 1, h), block(y, 2, h));
        if any_recorded(cx) {
            let dy = || {
                let dz = g * &(hs - &n);
                let dn = g * &z.neg().add_scalar(T::ONE);
                blocks([None, Some(dz), Some(dn)], y)
            };
            return [cx.grad_for(0, dy), cx.grad_for(1, || g * &z)].into();
        }
        let (yv, hv, gv) = (y.value(), hs.value(), g.value());
        let rows = hv.shape()[0];
        let (dy, dh) = fresh_rows_pair(rows, (3 * h, h), splits(rows, h), &|dy, dh, r0, r1| {
            vectorized(
                #[inline(always)]
                || {
                    for r in r0..r1 {
                        let y = &yv.data()[3 * h * r..][..3 * h];
                        let (z, n) = (&y[h..2 * h], &y[2 * h..]);
                        let (hr, g) = (&hv.data()[h * r..][..h], &gv.data()[h * r..][..h]);
                        dy.extend(h, std::iter::repeat_n(T::ZERO, h));
                        let it = z.iter().zip(n.iter().zip(hr)).zip(g);
                        dy.extend_pair(
                            dh,
                            h,
                            it.map(|((&z, (&n, &hh)), &g)| (g * (hh - n), g * z)),
                        );
                        let it = z.iter().zip(g);
                        dy.extend(h, it.map(|(&z, &g)| g * (T::ONE - z)));
                    }
                },
            )
        });
        [grad_from(cx, 0, &yv, dy), grad_from(cx, 1, &hv, dh)].into()
    }
}

#[track_caller]
fn check_shapes(xp: &[usize], hp: &[usize], h: &[usize]) {
    assert!(
        xp.len() == 2 && h.len() == 2 && xp == hp && xp[0] == h[0] && xp[1] == 3 * h[1] && h[1] > 0,
        "gru_cell: the input and hidden parts must be [B, 3H] and the state [B, H] with H >= 1, \
         got {xp:?}, {hp:?} and {h:?}"
    );
}

impl<'t, T: Float> Var<'t, T> {
    /// The elementwise part of a GRU step, fused: from the input part
    /// `self = xp = x W_ih^T + b_ih`, the hidden part `hp = h W_hh^T + b_hh` (both `[B, 3H]`,
    /// blocks r, z, n in PyTorch's order) and the state `h` `[B, H]`, returns `h'`:
    ///
    /// ```text
    /// r = sigmoid(xp_r + hp_r)   z = sigmoid(xp_z + hp_z)   n = tanh(xp_n + r hp_n)
    /// h' = (1 - z) n + z h
    /// ```
    ///
    /// The same as that composite of `narrow`, `sigmoid`, `tanh`, `*` and `+` (the tests check
    /// it), in two nodes and two passes. Derivatives (with `G = dL/dh'`):
    /// `dh = G z`, `dn = G (1 - z) (1 - n^2)`, `dz = G (h - n) z (1 - z)`,
    /// `dr = dn hp_n r (1 - r)`; `dxp = [dr | dz | dn]`, `dhp = [dr | dz | dn r]`. Smooth: no
    /// kinks. Any order of derivative works (`Tape::grad` records the derivative from primitive
    /// ops). sigmoid is computed as `(1 + tanh(x/2)) / 2`, within 2.1e-7 of the exact value in
    /// f32, exact to rounding in f64. PyTorch: the pointwise part of `nn.GRUCell`
    /// (`_thnn_fused_gru_cell` on GPU).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// // B = 1, H = 1: xp = [xp_r, xp_z, xp_n], hp likewise
    /// let xp = tape.var(Tensor::from_vec(vec![0.0, 0.0, 0.5], &[1, 3]).unwrap());
    /// let hp = tape.var(Tensor::from_vec(vec![0.0, 0.0, 1.0], &[1, 3]).unwrap());
    /// let h = tape.var(Tensor::from_vec(vec![2.0], &[1, 1]).unwrap());
    /// let h1 = xp.gru_cell(hp, h);
    /// // r = z = 0.5, n = tanh(0.5 + 0.5 * 1.0) = tanh(1)
    /// let want = 0.5 * 1f64.tanh() + 0.5 * 2.0;
    /// assert!((h1.item() - want).abs() < 1e-15);
    /// let g = h1.backward();
    /// assert_eq!(g[h].item(), 0.5); // dh'/dh = z
    /// ```
    ///
    /// # Panics
    /// If `self` or `hp` is not `[B, 3H]` or `h` not `[B, H]` with `H >= 1` (`gru_cell: the
    /// input and hidden parts must be [B, 3H] and the state [B, H] with H >= 1, got [2, 9],
    /// [2, 9] and [2, 2]`), or they are on different tapes.
    #[track_caller]
    pub fn gru_cell(self, hp: Var<'t, T>, h: Var<'t, T>) -> Var<'t, T> {
        self.assert_same_tape(hp, "gru_cell");
        self.assert_same_tape(h, "gru_cell");
        check_shapes(&self.shape(), &hp.shape(), &h.shape());
        let y = self.tape.apply(GruGates, &[self, hp]);
        self.tape.apply(GruHidden, &[y, h])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::gru_cell`] on operands.
    #[track_caller]
    pub fn gru_cell(&self, hp: &Operand<'t, T>, h: &Operand<'t, T>) -> Operand<'t, T> {
        check_shapes(&self.shape(), &hp.shape(), &h.shape());
        let y = Operand::apply(GruGates, &[self, hp]);
        Operand::apply(GruHidden, &[&y, h])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor, Var};

    /// The textbook composite the fused op replaces.
    fn composite<'t>(xp: Var<'t, f64>, hp: Var<'t, f64>, h: Var<'t, f64>) -> Var<'t, f64> {
        let (x, u) = (xp.chunk(3, -1), hp.chunk(3, -1));
        let (r, z) = ((x[0] + u[0]).sigmoid(), (x[1] + u[1]).sigmoid());
        let n = (x[2] + r * u[2]).tanh();
        z.rsub_scalar(1.0) * n + z * h
    }

    #[test]
    fn values_and_gradients_equal_the_composite() {
        // [3, 2]: on one thread; [40, 128]: split by batch rows across threads (`splits`)
        for (batch, hidden) in [(3, 2), (40, 128)] {
            let t = |seed, w| Tensor::<f64>::randn(&[batch, w * hidden], seed).map(|v| 2.0 * v);
            let (x0, u0, h0) = (t(1, 3), t(2, 3), t(3, 1));
            let w = Tensor::<f64>::randn(&[batch, hidden], 4);
            let run = |fused: bool| {
                let tape = Tape::new();
                let (xp, hp, h) = (
                    tape.var(x0.clone()),
                    tape.var(u0.clone()),
                    tape.var(h0.clone()),
                );
                let h1 = if fused {
                    xp.gru_cell(hp, h)
                } else {
                    composite(xp, hp, h)
                };
                // a nonlinear loss, so the upstream gradient is not all ones
                let loss = (h1 * tape.constant(w.clone())).exp().sum();
                let value = h1.value().to_vec();
                let g = loss.backward();
                [value, g[xp].to_vec(), g[hp].to_vec(), g[h].to_vec()]
            };
            let (fused, comp) = (run(true), run(false));
            for (what, (f, c)) in ["h'", "dxp", "dhp", "dh"]
                .iter()
                .zip(fused.iter().zip(&comp))
            {
                for (p, q) in f.iter().zip(c) {
                    // rounding only: sigmoid as (1 + tanh(x/2)) / 2, sums in another order
                    assert!(
                        (p - q).abs() < 1e-12 * (1.0 + q.abs()),
                        "[{batch}, {hidden}] {what}: {p} vs {q}"
                    );
                }
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences_to_second_order() {
        let (xp, hp, h) = (
            Tensor::randn(&[2, 9], 5),
            Tensor::randn(&[2, 9], 6),
            Tensor::randn(&[2, 3], 7),
        );
        check_both(
            |x| x[0].gru_cell(x[1], x[2]).exp(),
            &[xp.clone(), hp.clone(), h.clone()],
        );
        check_both(
            |x| {
                let h1 = x[0].gru_cell(x[1], x[2]);
                (h1 * h1).sum().tanh()
            },
            &[xp, hp, h],
        );
    }

    #[test]
    fn f32_is_within_a_microunit_of_f64() {
        let t = |shape: &[usize], seed| Tensor::<f64>::randn(shape, seed).map(|v| 3.0 * v);
        let (xp, hp, h) = (t(&[4, 12], 8), t(&[4, 12], 9), t(&[4, 4], 10));
        let tape64 = Tape::new();
        let v = |t: &Tensor<f64>| tape64.var(t.clone());
        let h64 = v(&xp).gru_cell(v(&hp), v(&h));
        let tape32 = Tape::<f32>::new();
        let w = |t: &Tensor<f64>| tape32.var(t.cast::<f32>());
        let h32 = w(&xp).gru_cell(w(&hp), w(&h));
        for (x, y) in h32.value().to_vec().iter().zip(h64.value().to_vec()) {
            assert!((*x as f64 - y).abs() < 1e-6 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    #[should_panic(
        expected = "gru_cell: the input and hidden parts must be [B, 3H] and the state [B, H] \
                    with H >= 1, got [2, 9], [2, 9] and [2, 2]"
    )]
    fn mismatched_shapes_panic() {
        let tape = Tape::<f32>::new();
        let part = || tape.var(Tensor::zeros(&[2, 9]));
        part().gru_cell(part(), tape.var(Tensor::zeros(&[2, 2])));
    }
}
