//! `linear`: `y = x W^T + b`, the affine map of a dense layer as one node (a measured speed-up
//! over `matmul_nt` + a broadcast add: one node, no broadcast kernel, the bias added in cache).

use crate::tensor::kernels::linear_forward;
use crate::tensor::product::Product;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// Inputs `[x, w]` or `[x, w, b]`.
struct Linear;

/// Weight gradients of at least this many elements go to the first-order sweep as a
/// [`Product`] (below it the product is cheaper than the bookkeeping).
const DEFER_ELEMENTS: usize = 1 << 14;

impl<T: Float> Op<T> for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        linear_forward(x[0], x[1], x.get(2).copied())
    }

    // The bias or addend enters with slope 1, and nothing reads y: either can be released.
    fn backward_reads_input(&self, input: usize) -> bool {
        input < 2
    }

    fn backward_reads_output(&self) -> bool {
        false
    }

    // With G = dL/dy `[.., n]` flattened to `[rows, n]` and x to `[rows, k]`:
    // dx = G W, dW = G^T x, db = sum over rows of G (a bias `[n]`) or G itself (a full addend).
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (x, w, g) = (cx.input(0), cx.input(1), cx.grad());
        let (ws, xs) = (w.shape(), x.shape());
        let (n, k) = (ws[0], ws[1]);
        // The leading axes flattened into rows (a product, so that k = 0 or n = 0 work).
        let r: usize = xs[..xs.len() - 1].iter().product();
        let rows = || g.reshape(&[r, n]);
        let dx = cx.grad_for(0, || g.matmul(w));
        // A large weight gradient of a first-order sweep is left to the sweep as a product, to
        // be added onto the gradient from other uses of the weight by the GEMM itself.
        let deferred =
            cx.needs_grad(1) && n * k >= DEFER_ELEMENTS && !g.is_recorded() && !x.is_recorded();
        let db = (cx.inputs().len() == 3).then(|| {
            let full = cx.input(2).shape().len() > 1;
            cx.grad_for(2, || {
                if full {
                    g.clone()
                } else {
                    rows().sum_axis(0, false)
                }
            })
        });
        if deferred {
            let (gv, xv) = (g.value().reshape(&[r, n]), x.value().reshape(&[r, k]));
            let grads = [dx, None].into_iter().chain(db).collect();
            return InputGrads::with_product(grads, 1, Product::new(gv, xv, true, false));
        }
        let dw = cx.grad_for(1, || rows().matmul_flags(&x.reshape(&[r, k]), true, false));
        match db {
            None => [dx, dw].into(),
            Some(db) => [dx, dw, db].into(),
        }
    }
}

#[track_caller]
fn check_shapes(x: &[usize], w: &[usize], b: Option<&[usize]>) {
    let ok = x.len() >= 2 && w.len() == 2 && x[x.len() - 1] == w[1];
    // A bias `[out]` for every row, or an addend of the output's shape `[.., out]`.
    let full = |b: &[usize]| b.len() == x.len() && b[..b.len() - 1] == x[..x.len() - 1];
    let ok = ok && b.is_none_or(|b| b.last() == Some(&w[0]) && (b.len() == 1 || full(b)));
    assert!(
        ok,
        "linear: expected x [.., in], weight [out, in] and bias [out] or [.., out], got x {x:?}, \
         weight {w:?}, bias {b:?}"
    );
}

impl<'t, T: Float> Var<'t, T> {
    /// The affine map of a dense layer, `y = x W^T + b`, for `x` `[.., in]` (rank >= 2),
    /// `weight` `[out, in]` (PyTorch's `Linear` layout) and an optional `bias` `[out]`; `y` is
    /// `[.., out]`. The same as `x.matmul_nt(weight) + bias` in one node: one GEMM with `W^T`
    /// passed as strides (never copied), the bias added to each output row in place.
    ///
    /// `bias` may also have the output's full shape `[.., out]` (an addend, as in PyTorch's
    /// `addmm`): recurrent layers accumulate `h W_hh^T` onto each step's input projection this
    /// way, one node per step instead of two.
    ///
    /// Derivatives, with `G = dL/dy` and the leading axes flattened into rows: `dx = G W`,
    /// `dW = G^T x`, `db = sum_rows G` (`db = G` for a full addend). Linear in each input, no
    /// kinks; every order of derivative works (the backward is written with `matmul`,
    /// `reshape` and `sum_axis`). PyTorch: `torch.nn.functional.linear(x, weight, bias)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap());
    /// let w = tape.var(Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0, -1.0, 2.0], &[3, 2]).unwrap());
    /// let b = tape.var(Tensor::from_vec(vec![0.5, 0.0, -1.0], &[3]).unwrap());
    /// let y = x.linear(w, Some(b));
    /// assert_eq!(y.value().to_vec(), vec![1.5, 3.0, 2.0]);
    /// let g = y.sum().backward();
    /// assert_eq!(g[x].to_vec(), vec![1.0, 3.0]); // ones W: column sums of W
    /// assert_eq!(g[b].to_vec(), vec![1.0, 1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not fit (`linear: expected x [.., in], weight [out, in] and bias [out] or
    /// [.., out], got x [2, 3], weight [4, 5], bias None`), or the operands are on different
    /// tapes.
    #[track_caller]
    pub fn linear(self, weight: Var<'t, T>, bias: Option<Var<'t, T>>) -> Var<'t, T> {
        self.assert_same_tape(weight, "linear");
        let bs = bias.map(|b| {
            self.assert_same_tape(b, "linear");
            b.shape()
        });
        check_shapes(&self.shape(), &weight.shape(), bs.as_deref());
        match bias {
            Some(b) => self.tape.apply(Linear, &[self, weight, b]),
            None => self.tape.apply(Linear, &[self, weight]),
        }
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::linear`] on operands.
    #[track_caller]
    pub fn linear(&self, weight: &Operand<'t, T>, bias: Option<&Operand<'t, T>>) -> Operand<'t, T> {
        let bs = bias.map(|b| b.shape());
        check_shapes(&self.shape(), &weight.shape(), bs.as_deref());
        match bias {
            Some(b) => Operand::apply(Linear, &[self, weight, b]),
            None => Operand::apply(Linear, &[self, weight]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor};

    #[test]
    fn equals_matmul_nt_plus_bias_in_value_and_gradient() {
        let (x0, w0, b0) = (
            Tensor::<f64>::randn(&[2, 3, 4], 1),
            Tensor::<f64>::randn(&[5, 4], 2),
            Tensor::<f64>::randn(&[5], 3),
        );
        let run = |fused: bool| {
            let tape = Tape::new();
            let (x, w, b) = (
                tape.var(x0.clone()),
                tape.var(w0.clone()),
                tape.var(b0.clone()),
            );
            let y = if fused {
                x.linear(w, Some(b))
            } else {
                x.matmul_nt(w) + b
            };
            // d/dy sum(tanh(y)) = 1 - tanh^2(y): the upstream gradient is not all ones
            let loss = y.tanh().sum();
            let v = y.value().to_vec();
            let g = loss.backward();
            [v, g[x].to_vec(), g[w].to_vec(), g[b].to_vec()]
        };
        let (fused, composite) = (run(true), run(false));
        for (f, c) in fused.iter().zip(&composite) {
            assert_eq!(f.len(), c.len());
            for (p, q) in f.iter().zip(c) {
                assert!((p - q).abs() < 1e-13, "{p} vs {q}");
            }
        }
    }

    /// A weight large enough for the deferred product (`[128, 128]`) used at three steps of a
    /// recurrence, as an RNN's `W_hh`: `h_t = tanh(h_{t-1} W^T + x_t)`, loss `sum(h_3^2)`.
    fn recurrence<'t>(w: crate::Var<'t, f64>, h0: crate::Var<'t, f64>) -> crate::Var<'t, f64> {
        let mut h = h0;
        for t in 0..3 {
            let x_t = h0.mul_scalar(0.1 * t as f64);
            h = h.linear(w, Some(x_t)).tanh();
        }
        (h * h).sum()
    }

    #[test]
    fn a_weight_used_at_every_step_gets_the_sum_of_its_products() {
        let (n, batch) = (128, 3);
        assert!(n * n >= super::DEFER_ELEMENTS);
        let w0 = Tensor::<f64>::randn(&[n, n], 21).map(|v| 0.1 * v);
        let h0 = Tensor::<f64>::randn(&[batch, n], 22);
        // first order (the deferred products, added by the GEMM) against the recorded gradient
        // (Tape::grad builds every product as a node of its own)
        let tape = Tape::new();
        let (w, h) = (tape.var(w0.clone()), tape.var(h0.clone()));
        let recorded = tape.grad(&[recurrence(w, h)], &[w, h]);
        let (rw, rh) = (recorded[0].value(), recorded[1].value());
        let tape = Tape::new();
        let (w, h) = (tape.var(w0.clone()), tape.var(h0.clone()));
        let g = recurrence(w, h).backward();
        for (got, want) in [(&g[w], &rw), (&g[h], &rh)] {
            assert_eq!(got.shape(), want.shape());
            for (p, q) in got.data().iter().zip(want.data()) {
                assert!((p - q).abs() <= 1e-12 * (1.0 + q.abs()), "{p} vs {q}");
            }
        }
        // and against a central difference along a random direction
        let report = crate::check::check_direction(
            |v| recurrence(v[0], v[1]),
            &[w0, h0],
            &crate::check::CheckOptions::default(),
        );
        assert!(report.is_ok(), "{report:?}");
    }

    #[test]
    fn anomaly_detection_sees_a_non_finite_deferred_product() {
        let tape = Tape::<f64>::new();
        tape.set_detect_anomaly(true);
        let mut x0 = vec![1.0; 2 * 128];
        x0[5] = f64::MAX;
        let x = tape.constant(Tensor::from_vec(x0, &[2, 128]).expect("2 x 128 values"));
        let w = tape.var(Tensor::full(&[128, 128], 1.0));
        // y is finite (0.5 MAX times weights of 1e-300); dW = g^T (x / 2) with g = 4 is not
        let y = x.mul_scalar(0.5).linear(w.mul_scalar(1e-300), None);
        let e = y
            .sum()
            .mul_scalar(4.0)
            .try_backward()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("backward of `linear`") && e.contains("non-finite"),
            "{e}"
        );
    }

    #[test]
    fn gradients_match_finite_differences_to_second_order() {
        let x = Tensor::randn(&[3, 4], 4);
        let w = Tensor::randn(&[2, 4], 5);
        let b = Tensor::randn(&[2], 6);
        check_both(
            |v| v[0].linear(v[1], Some(v[2])).tanh(),
            &[x.clone(), w.clone(), b],
        );
        // without bias, rank 3, and a product of two inputs through the layer
        let x3 = Tensor::randn(&[2, 2, 4], 7);
        check_both(
            |v| (v[0].linear(v[1], None) * v[0].linear(v[1], None)).sum(),
            &[x3, w],
        );
    }

    #[test]
    fn a_full_shaped_addend_equals_matmul_nt_plus_it_to_second_order() {
        let (x0, w0, a0) = (
            Tensor::<f64>::randn(&[2, 3, 4], 11),
            Tensor::<f64>::randn(&[5, 4], 12),
            Tensor::<f64>::randn(&[2, 3, 5], 13),
        );
        let tape = Tape::new();
        let (x, w, a) = (
            tape.var(x0.clone()),
            tape.var(w0.clone()),
            tape.var(a0.clone()),
        );
        let fused = x.linear(w, Some(a)).value();
        let composite = (x.matmul_nt(w) + a).value();
        assert!(fused.max_abs_diff(&composite).expect("equal shapes") < 1e-14);
        // d/da sum(tanh(y)) = 1 - tanh^2(y) elementwise: the addend's gradient is G itself
        check_both(|v| v[0].linear(v[1], Some(v[2])).tanh(), &[x0, w0, a0]);
    }

    #[test]
    #[should_panic(
        expected = "linear: expected x [.., in], weight [out, in] and bias [out] or \
                               [.., out], got x [2, 4], weight [5, 4], bias Some([3, 5])"
    )]
    fn an_addend_of_the_wrong_rows_panics_with_the_shapes() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::zeros(&[2, 4]));
        let w = tape.var(Tensor::zeros(&[5, 4]));
        let _ = x.linear(w, Some(tape.var(Tensor::zeros(&[3, 5]))));
    }

    #[test]
    fn large_products_split_across_threads_keep_the_bias() {
        // rows x in x out above the GEMM's threading threshold
        let (rows, k, n) = (256, 256, 160);
        let x = Tensor::<f32>::randn(&[rows, k], 8);
        let w = Tensor::<f32>::randn(&[n, k], 9);
        let b = Tensor::<f32>::randn(&[n], 10);
        let tape = Tape::new();
        let (xv, wv, bv) = (tape.constant(x), tape.constant(w), tape.constant(b));
        let fused = xv.linear(wv, Some(bv)).value();
        let composite = (xv.matmul_nt(wv) + bv).value();
        assert_eq!(fused.shape(), &[rows, n]);
        assert!(fused.max_abs_diff(&composite).expect("equal shapes") < 1e-4);
    }

    #[test]
    fn zero_features_in_or_out_give_the_composite_s_values_and_gradients() {
        // in = 0: y = b on every row, dW is [out, 0]; out = 0: y is [rows, 0]
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::zeros(&[5, 0]));
        let w = tape.var(Tensor::zeros(&[3, 0]));
        let b =
            tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).expect("the data fits the shape"));
        let y = x.linear(w, Some(b));
        assert_eq!(y.value().to_vec(), [1.0, 2.0, 3.0].repeat(5));
        let g = (y * y).sum().backward(); // d/db sum_r (b_j)^2 = 2 * 5 b_j
        assert_eq!(g[b].to_vec(), vec![10.0, 20.0, 30.0]);
        assert_eq!((g[x].shape(), g[w].shape()), (&[5, 0][..], &[3, 0][..]));
        let w0 = tape.var(Tensor::zeros(&[0, 4]));
        let b0 = tape.var(Tensor::zeros(&[0]));
        let x4 = tape.var(Tensor::ones(&[2, 4]));
        let y0 = x4.linear(w0, Some(b0));
        assert_eq!(y0.shape().as_slice(), &[2, 0]);
        let g0 = (y0.sum() + x4.sum()).backward(); // the x4 term makes the loss require grad
        assert_eq!(
            (g0[x4].to_vec(), g0[w0].shape()),
            (vec![1.0; 8], &[0, 4][..])
        );
    }

    #[test]
    #[should_panic(
        expected = "linear: expected x [.., in], weight [out, in] and bias [out] or [.., out], \
                    got x [2, 3], weight [4, 5], bias None"
    )]
    fn mismatched_features_panic() {
        let tape = Tape::<f32>::new();
        let x = tape.var(Tensor::zeros(&[2, 3]));
        x.linear(tape.var(Tensor::zeros(&[4, 5])), None);
    }
}
