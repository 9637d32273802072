//! `lstm_cell`: the elementwise part of an LSTM step, fused (a measured speed-up: 3 nodes and
//! 3 passes instead of 13 nodes, see `docs/performance-history.md`).
//!
//! Three ops, each with its own backward, from the gate pre-activations
//! `a = [a_i | a_f | a_g | a_o]` (PyTorch's gate order):
//! - [`LstmGates`]: the activations `y = [i | f | g | o] = [sigmoid(a_i) | sigmoid(a_f) |
//!   tanh(a_g) | sigmoid(a_o)]`, whose derivative is read from `y` (no transcendental in backward);
//! - [`LstmCellState`]: `c' = f c + i g` (bilinear);
//! - [`LstmHidden`]: `h' = o tanh(c')`.
//!
//! First-order backward runs one fused pass per op on tensors; under `Tape::grad`
//! (`create_graph`) the same derivative is recorded from primitive ops, so every order works.
//! `gru_cell.rs` shares the helpers below.

use crate::tensor::buf::Buf;
use crate::tensor::kernels::{Filler, fresh_rows, fresh_rows_pair};
use crate::tensor::shape::copy_shape;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var, vectorized};

/// `sigmoid(x) = (1 + tanh(x / 2)) / 2`: branch-free, so the loops vectorise (f32 uses the
/// rational `tanh`, within 2.1e-7 of the exact sigmoid; f64 the exact `tanh`).
#[inline(always)]
pub(super) fn sigmoid<T: Float>(x: T) -> T {
    let half = T::from_f64(0.5);
    half + half * (x * half).tanh()
}

/// Whether the three ops of a cell with state `[batch, hidden]` write their outputs by rows on
/// all threads: from 4,096 cell-state elements (W4's `[32, 128]`), each thread the batch rows
/// that the step's products gave it (`kernels::split_batch`), so the gate math reads what the
/// same core wrote. One rule for every op of the cell, forward and backward, so that none of
/// them hands its rows to the other core.
pub(super) fn splits(batch: usize, hidden: usize) -> bool {
    batch * hidden >= 4096
}

/// A fresh `[rows, width]`-shaped tensor written row by row by `f(out, row_index)`, each call
/// writing one row of `width` elements through `out`, the loop compiled for the CPU's widest
/// vectors ([`vectorized`]); the rows split across threads when `split` ([`splits`]).
pub(super) fn by_rows<T: Float>(
    shape: &[usize],
    width: usize,
    split: bool,
    f: impl Fn(&mut Filler<'_, T>, usize) + Sync,
) -> Tensor<T> {
    let n: usize = shape.iter().product();
    let rows = n.checked_div(width).unwrap_or(0);
    let out = fresh_rows(rows, width, split, &|out, r0, r1| {
        // A `for` loop, not `for_each`: `fold` over the rows is not inlined into the dispatch.
        vectorized(
            #[inline(always)]
            || {
                for r in r0..r1 {
                    f(out, r);
                }
            },
        )
    });
    Tensor::from_parts(copy_shape(shape), out)
}

/// Block `k` of every row of a `[B, G H]` operand, as an operand `[B, H]`.
pub(super) fn block<'t, T: Float>(x: &Operand<'t, T>, k: usize, h: usize) -> Operand<'t, T> {
    x.narrow(-1, k * h, h)
}

/// `[B, N H]` from `N` `[B, H]` blocks, `None` meaning zeros (recorded backward only).
pub(super) fn blocks<'t, T: Float, const N: usize>(
    parts: [Option<Operand<'t, T>>; N],
    like: &Operand<'t, T>,
) -> Operand<'t, T> {
    let shape = parts
        .iter()
        .flatten()
        .next()
        .expect("at least one block")
        .shape();
    let parts: Vec<Operand<'t, T>> = parts
        .into_iter()
        .map(|p| p.unwrap_or_else(|| like.constant_like(Tensor::zeros(&shape))))
        .collect();
    Operand::concat(&parts, -1)
}

/// Gradient `k` of a fused backward from the buffer its pass wrote (shaped like `like`), or
/// `None` when no one needs it (the pass writes both gradients either way).
pub(super) fn grad_from<'t, T: Float>(
    cx: &BackwardContext<'_, 't, T>,
    k: usize,
    like: &Tensor<T>,
    buf: Buf<T>,
) -> Option<Operand<'t, T>> {
    cx.needs_grad(k)
        .then(|| Tensor::from_parts(copy_shape(like.shape()), buf).into())
}

pub(super) fn any_recorded<T: Float>(cx: &BackwardContext<'_, '_, T>) -> bool {
    cx.grad().is_recorded() || cx.inputs().iter().any(Operand::is_recorded)
}

/// `y = [sigmoid(a_i) | sigmoid(a_f) | tanh(a_g) | sigmoid(a_o)]` for `a` `[B, 4H]`.
struct LstmGates;

impl<T: Float> Op<T> for LstmGates {
    fn name(&self) -> &'static str {
        "lstm_gates"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let a = x[0];
        let (w, h) = (a.shape()[1], a.shape()[1] / 4);
        // Zipped iterators, no indexing: no bounds checks, so the inner loops vectorise.
        by_rows(
            a.shape(),
            w,
            splits(a.shape()[0], h),
            #[inline(always)]
            |y, r| {
                let a = &a.data()[r * w..][..w];
                y.extend(2 * h, a[..2 * h].iter().map(|&a| sigmoid(a)));
                y.extend(h, a[2 * h..3 * h].iter().map(|&a| a.tanh()));
                y.extend(h, a[3 * h..].iter().map(|&a| sigmoid(a)));
            },
        )
    }

    // From the output alone: the pre-activations can be released.
    fn backward_reads_input(&self, _input: usize) -> bool {
        false
    }

    // From the output: sigmoid' = y (1 - y) on blocks i, f, o; tanh' = 1 - y^2 on block g.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (y, g) = (cx.output(), cx.grad());
        let h = y.shape()[1] / 4;
        if any_recorded(cx) {
            let d = |k: usize| {
                let (yk, gk) = (block(y, k, h), block(g, k, h));
                if k == 2 {
                    gk * (&yk * &yk).neg().add_scalar(T::ONE)
                } else {
                    gk * (&yk - &(&yk * &yk))
                }
            };
            return [Some(blocks(
                [Some(d(0)), Some(d(1)), Some(d(2)), Some(d(3))],
                y,
            ))]
            .into();
        }
        let (yv, gv) = (y.value(), g.value());
        let w = 4 * h;
        let da = by_rows(
            yv.shape(),
            w,
            splits(yv.shape()[0], h),
            #[inline(always)]
            |da, r| {
                let (y, g) = (&yv.data()[r * w..][..w], &gv.data()[r * w..][..w]);
                for (k, (y, g)) in y.chunks(h).zip(g.chunks(h)).enumerate() {
                    let it = y.iter().zip(g);
                    if k == 2 {
                        da.extend(h, it.map(|(&y, &g)| g * (T::ONE - y * y)));
                    } else {
                        da.extend(h, it.map(|(&y, &g)| g * y * (T::ONE - y)));
                    }
                }
            },
        );
        [Some(da.into())].into()
    }
}

/// `c' = f c + i g` from the activations `y = [i | f | g | o]` `[B, 4H]` and `c` `[B, H]`.
struct LstmCellState;

impl<T: Float> Op<T> for LstmCellState {
    fn name(&self) -> &'static str {
        "lstm_cell_state"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let (y, c) = (x[0].data(), x[1].data());
        let h = x[1].shape()[1];
        by_rows(
            x[1].shape(),
            h,
            splits(x[1].shape()[0], h),
            #[inline(always)]
            |out, r| {
                let (y, c) = (&y[4 * h * r..][..3 * h], &c[h * r..][..h]);
                let (i, f, g) = (&y[..h], &y[h..2 * h], &y[2 * h..]);
                let it = c.iter().zip(i.iter().zip(f).zip(g));
                out.extend(h, it.map(|(&c, ((&i, &f), &g))| f * c + i * g));
            },
        )
    }

    // With G = dL/dc': dy = [G g | G c | G i | 0], dc = G f.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (y, c, g) = (cx.input(0), cx.input(1), cx.grad());
        let h = c.shape()[1];
        if any_recorded(cx) {
            let dy = || {
                let (i, gg) = (block(y, 0, h), block(y, 2, h));
                blocks([Some(g * &gg), Some(g * c), Some(g * &i), None], y)
            };
            return [cx.grad_for(0, dy), cx.grad_for(1, || g * &block(y, 1, h))].into();
        }
        let (yv, cv, gv) = (y.value(), c.value(), g.value());
        let dy = cx.needs_grad(0).then(|| {
            by_rows(
                yv.shape(),
                4 * h,
                splits(yv.shape()[0], h),
                #[inline(always)]
                |dy, r| {
                    let (y, c, g) = (
                        &yv.data()[4 * h * r..],
                        &cv.data()[h * r..][..h],
                        &gv.data()[h * r..][..h],
                    );
                    let (i, gg) = (&y[..h], &y[2 * h..3 * h]);
                    dy.extend(h, g.iter().zip(gg).map(|(&g, &gg)| g * gg));
                    dy.extend(h, g.iter().zip(c).map(|(&g, &c)| g * c));
                    dy.extend(h, g.iter().zip(i).map(|(&g, &i)| g * i));
                    dy.extend(h, std::iter::repeat_n(T::ZERO, h));
                },
            )
            .into()
        });
        let dc = cx.needs_grad(1).then(|| {
            by_rows(
                cv.shape(),
                h,
                splits(cv.shape()[0], h),
                #[inline(always)]
                |dc, r| {
                    let (f, g) = (&yv.data()[4 * h * r + h..][..h], &gv.data()[h * r..][..h]);
                    dc.extend(h, f.iter().zip(g).map(|(&f, &g)| g * f));
                },
            )
            .into()
        });
        [dy, dc].into()
    }
}

/// `h' = o tanh(c')` from the activations `y = [i | f | g | o]` `[B, 4H]` and `c'` `[B, H]`.
struct LstmHidden;

impl<T: Float> Op<T> for LstmHidden {
    fn name(&self) -> &'static str {
        "lstm_hidden"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let (y, c) = (x[0].data(), x[1].data());
        let h = x[1].shape()[1];
        by_rows(
            x[1].shape(),
            h,
            splits(x[1].shape()[0], h),
            #[inline(always)]
            |out, r| {
                let (o, c) = (&y[4 * h * r + 3 * h..][..h], &c[h * r..][..h]);
                out.extend(h, c.iter().zip(o).map(|(&c, &o)| o * c.tanh()));
            },
        )
    }

    // With G = dL/dh': dy = [0 | 0 | 0 | G tanh(c')], dc' = G o (1 - tanh^2(c')).
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (y, c, g) = (cx.input(0), cx.input(1), cx.grad());
        let h = c.shape()[1];
        if any_recorded(cx) {
            let tc = c.tanh();
            let dy = || blocks([None, None, None, Some(g * &tc)], y);
            let dc = || g * &block(y, 3, h) * (&tc * &tc).neg().add_scalar(T::ONE);
            return [cx.grad_for(0, dy), cx.grad_for(1, dc)].into();
        }
        // One pass for both (tanh(c') once), each thread its batch rows; a gradient nobody
        // needs is dropped unused. Blocks i, f, g of dy are written as zeros in the same pass.
        let (yv, cv, gv) = (y.value(), c.value(), g.value());
        let rows = cv.shape()[0];
        let (dy, dc) = fresh_rows_pair(rows, (4 * h, h), splits(rows, h), &|dy, dc, r0, r1| {
            vectorized(
                #[inline(always)]
                || {
                    for r in r0..r1 {
                        let (o, c) = (
                            &yv.data()[4 * h * r + 3 * h..][..h],
                            &cv.data()[h * r..][..h],
                        );
                        let g = &gv.data()[h * r..][..h];
                        dy.extend(3 * h, std::iter::repeat_n(T::ZERO, 3 * h));
                        let it = o.iter().zip(c).zip(g).map(|((&o, &c), &g)| {
                            let tc = c.tanh();
                            (g * tc, g * o * (T::ONE - tc * tc))
                        });
                        dy.extend_pair(dc, h, it);
                    }
                },
            )
        });
        [grad_from(cx, 0, &yv, dy), grad_from(cx, 1, &cv, dc)].into()
    }
}

#[track_caller]
fn check_shapes(a: &[usize], c: &[usize]) {
    assert!(
        a.len() == 2 && c.len() == 2 && a[0] == c[0] && a[1] == 4 * c[1] && c[1] > 0,
        "lstm_cell: gates must be [B, 4H] and the cell state [B, H] with H >= 1, got gates {a:?} \
         and cell state {c:?}"
    );
}

impl<'t, T: Float> Var<'t, T> {
    /// The elementwise part of an LSTM step, fused: from the gate pre-activations
    /// `self = a = x W_ih^T + b_ih + h W_hh^T + b_hh` `[B, 4H]` (blocks i, f, g, o in PyTorch's
    /// order) and the cell state `c` `[B, H]`, returns `(h', c')`:
    ///
    /// ```text
    /// i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    /// c' = f c + i g     h' = o tanh(c')
    /// ```
    ///
    /// The same as that composite of `chunk`, `sigmoid`, `tanh`, `*` and `+` (the tests check
    /// it), in two nodes and two passes. Derivatives (with `G = dL/dc'` from `c'`'s uses and
    /// `H = dL/dh'`): `dc' += H o (1 - tanh^2 c')`, `da_o = H tanh(c') o (1 - o)`,
    /// `da_i = G g i (1 - i)`, `da_f = G c f (1 - f)`, `da_g = G i (1 - g^2)`, `dc = G f`.
    /// Smooth: no kinks. Any order of derivative works (`Tape::grad` records the derivative from
    /// primitive ops). sigmoid is computed as `(1 + tanh(x/2)) / 2`, within 2.1e-7 of the exact
    /// value in f32 (the rational `tanh`), exact to rounding in f64. PyTorch: the pointwise part
    /// of `nn.LSTMCell` (`_thnn_fused_lstm_cell` on GPU).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// // B = 1, H = 1: gates a = [a_i, a_f, a_g, a_o]
    /// let a = tape.var(Tensor::from_vec(vec![0.0, 100.0, 0.5, 0.0], &[1, 4]).unwrap());
    /// let c = tape.var(Tensor::from_vec(vec![2.0], &[1, 1]).unwrap());
    /// let (h1, c1) = a.lstm_cell(c);
    /// // i = 0.5, f = 1, g = tanh 0.5, o = 0.5
    /// let want_c = 2.0 + 0.5 * 0.5f64.tanh();
    /// assert!((c1.item() - want_c).abs() < 1e-15);
    /// assert!((h1.item() - 0.5 * want_c.tanh()).abs() < 1e-15);
    /// let g = c1.backward();
    /// assert_eq!(g[c].item(), 1.0); // dc'/dc = f
    /// ```
    ///
    /// # Panics
    /// If `self` is not `[B, 4H]` or `c` not `[B, H]` with `H >= 1`
    /// (`lstm_cell: gates must be [B, 4H] and the cell state [B, H] with H >= 1, got gates
    /// [2, 8] and cell state [2, 3]`), or they are on different tapes.
    #[track_caller]
    pub fn lstm_cell(self, c: Var<'t, T>) -> (Var<'t, T>, Var<'t, T>) {
        self.assert_same_tape(c, "lstm_cell");
        check_shapes(&self.shape(), &c.shape());
        let y = self.tape.apply(LstmGates, &[self]);
        let c1 = self.tape.apply(LstmCellState, &[y, c]);
        let h1 = self.tape.apply(LstmHidden, &[y, c1]);
        (h1, c1)
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::lstm_cell`] on operands.
    #[track_caller]
    pub fn lstm_cell(&self, c: &Operand<'t, T>) -> (Operand<'t, T>, Operand<'t, T>) {
        check_shapes(&self.shape(), &c.shape());
        let y = Operand::apply(LstmGates, &[self]);
        let c1 = Operand::apply(LstmCellState, &[&y, c]);
        let h1 = Operand::apply(LstmHidden, &[&y, &c1]);
        (h1, c1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor, Var};

    /// The textbook composite the fused op replaces.
    fn composite<'t>(a: Var<'t, f64>, c: Var<'t, f64>) -> (Var<'t, f64>, Var<'t, f64>) {
        let g = a.chunk(4, -1);
        let (i, f, gg, o) = (g[0].sigmoid(), g[1].sigmoid(), g[2].tanh(), g[3].sigmoid());
        let c1 = f * c + i * gg;
        (o * c1.tanh(), c1)
    }

    #[test]
    fn values_and_gradients_equal_the_composite() {
        // [3, 2]: on one thread; [40, 128]: split by batch rows across threads (`splits`)
        for (batch, hidden) in [(3, 2), (40, 128)] {
            fused_against_composite(batch, hidden);
        }
    }

    fn fused_against_composite(batch: usize, hidden: usize) {
        let a0 = Tensor::<f64>::randn(&[batch, 4 * hidden], 1).map(|v| 2.0 * v);
        let c0 = Tensor::<f64>::randn(&[batch, hidden], 2);
        let w = Tensor::<f64>::randn(&[batch, hidden], 3);
        let run = |fused: bool| {
            let tape = Tape::new();
            let (a, c) = (tape.var(a0.clone()), tape.var(c0.clone()));
            let (h1, c1) = if fused {
                a.lstm_cell(c)
            } else {
                composite(a, c)
            };
            // a nonlinear loss of both outputs, so neither upstream gradient is all ones
            let wv = tape.constant(w.clone());
            let loss = (h1 * wv).exp().sum() + (c1 * c1).sum();
            let (hv, cv) = (h1.value().to_vec(), c1.value().to_vec());
            let g = loss.backward();
            (hv, cv, g[a].to_vec(), g[c].to_vec())
        };
        let (fused, comp) = (run(true), run(false));
        let close = |x: &[f64], y: &[f64], what: &str| {
            for (p, q) in x.iter().zip(y) {
                assert!(
                    (p - q).abs() < 1e-14 * (1.0 + q.abs()),
                    "[{batch}, {hidden}] {what}: {p} vs {q}"
                );
            }
        };
        close(&fused.0, &comp.0, "h'");
        close(&fused.1, &comp.1, "c'");
        close(&fused.2, &comp.2, "dL/da");
        close(&fused.3, &comp.3, "dL/dc");
    }

    #[test]
    fn gradients_match_finite_differences_to_second_order() {
        let a = Tensor::randn(&[2, 12], 4);
        let c = Tensor::randn(&[2, 3], 5);
        // h' and c' each, then both feeding a nonlinear op
        check_both(|x| x[0].lstm_cell(x[1]).0.exp(), &[a.clone(), c.clone()]);
        check_both(|x| x[0].lstm_cell(x[1]).1.tanh(), &[a.clone(), c.clone()]);
        check_both(
            |x| {
                let (h, c1) = x[0].lstm_cell(x[1]);
                (h * c1).sum()
            },
            &[a, c],
        );
    }

    #[test]
    fn third_derivative_equals_the_composite() {
        // d^3/da_f^3 of c' = c sigmoid'''(a_f), through the recorded backward twice
        let tape = Tape::<f64>::new();
        let a = tape.var(
            Tensor::from_vec(vec![0.3, -0.4, 0.2, 0.1], &[1, 4]).expect("the data fits the shape"),
        );
        let c =
            tape.constant(Tensor::from_vec(vec![1.7], &[1, 1]).expect("the data fits the shape"));
        let c1 = a.lstm_cell(c).1;
        let d1 = tape.grad(&[c1.sum()], &[a])[0];
        let d2 = tape.grad(&[d1.narrow(1, 1, 1).sum()], &[a])[0];
        let d3 = tape.grad(&[d2.narrow(1, 1, 1).sum()], &[a])[0];
        let s = 1.0 / (1.0 + 0.4f64.exp());
        let want = 1.7 * s * (1.0 - s) * (1.0 - 6.0 * s + 6.0 * s * s);
        assert!(
            (d3.value().to_vec()[1] - want).abs() < 1e-13,
            "{d3:?} vs {want}"
        );
    }

    #[test]
    fn f32_is_within_a_microunit_of_f64() {
        let a = Tensor::<f64>::randn(&[4, 16], 6).map(|v| 3.0 * v);
        let c = Tensor::<f64>::randn(&[4, 4], 7);
        let tape64 = Tape::new();
        let (h64, c64) = tape64.var(a.clone()).lstm_cell(tape64.var(c.clone()));
        let tape32 = Tape::<f32>::new();
        let f = |t: &Tensor<f64>| t.cast::<f32>();
        let (h32, c32) = tape32.var(f(&a)).lstm_cell(tape32.var(f(&c)));
        for (x, y) in h32.value().to_vec().iter().zip(h64.value().to_vec()) {
            assert!((*x as f64 - y).abs() < 1e-6, "{x} vs {y}");
        }
        for (x, y) in c32.value().to_vec().iter().zip(c64.value().to_vec()) {
            assert!((*x as f64 - y).abs() < 1e-6 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    #[should_panic(
        expected = "lstm_cell: gates must be [B, 4H] and the cell state [B, H] with \
                               H >= 1, got gates [2, 8] and cell state [2, 3]"
    )]
    fn mismatched_shapes_panic() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 8]))
            .lstm_cell(tape.var(Tensor::zeros(&[2, 3])));
    }

    #[test]
    #[should_panic(expected = "with H >= 1, got gates [2, 0] and cell state [2, 0]")]
    fn zero_hidden_size_panics_with_the_shapes() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 0]))
            .lstm_cell(tape.var(Tensor::zeros(&[2, 0])));
    }
}
