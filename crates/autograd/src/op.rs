//! The [`Op`] trait: a differentiable primitive's forward on tensors and its backward rule.

use crate::tensor::product::Product;
use crate::{Float, Operand, Tensor};

/// A differentiable primitive: its forward on tensors and its backward (vector-Jacobian product)
/// rule. Built-in ops and user ops implement this same trait.
///
/// The backward rule is written once, in terms of [`Operand`]s, which are either eager tensors
/// (first-order `backward()`: nothing is recorded) or recorded [`Var`](crate::Var)s (`grad()`,
/// PyTorch's `create_graph=True`: the gradient can be differentiated again). Write it with the same
/// differentiable operations you would use on `Var`s, and gradients of every order follow.
///
/// Apply an op with [`Tape::apply`](crate::Tape::apply); see `docs/custom-ops.md`.
///
/// ```
/// use wengert_autograd::{BackwardContext, Float, InputGrads, Op, Tape, Tensor};
///
/// /// y = x^3, dy/dx = 3 x^2
/// struct Cube;
/// impl<T: Float> Op<T> for Cube {
///     fn name(&self) -> &'static str { "cube" }
///     fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T> {
///         inputs[0].map(|x| x * x * x)
///     }
///     fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
///         let x = cx.input(0);
///         InputGrads::from([Some(cx.grad() * &(x * x) * T::from_f64(3.0))])
///     }
/// }
///
/// let tape = Tape::<f64>::new();
/// let x = tape.var(Tensor::scalar(2.0));
/// let y = tape.apply(Cube, &[x]);
/// assert_eq!(y.item(), 8.0);
/// let dx = tape.grad(&[y], &[x])[0];
/// assert_eq!(dx.item(), 12.0); // 3 * 2^2
/// let ddx = tape.grad(&[dx], &[x])[0];
/// assert_eq!(ddx.item(), 12.0); // 6 * 2
/// ```
pub trait Op<T: Float>: 'static {
    /// A short name for error messages and anomaly reports, e.g. `"matmul"`.
    fn name(&self) -> &'static str;

    /// Computes the output from the input values. Shape errors panic here, with a message naming
    /// the op and the shapes; `#[track_caller]` points the report at the user's line.
    #[track_caller]
    fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T>;

    /// Given the gradient of the loss with respect to the output (`cx.grad()`), returns the
    /// gradient with respect to each input (`None` where an input needs none, see
    /// [`BackwardContext::needs_grad`]). Each gradient must have its input's shape.
    ///
    /// The default has no backward rule: reaching it in a backward pass is an error naming the op
    /// and the line that applied it, never a silently cut graph.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let _ = cx;
        InputGrads::missing()
    }

    /// Optional fast path for elementwise ops on one-element values: given the inputs' values,
    /// the output's and the gradient `grad` flowing into the output, writes the gradient for
    /// each input into `input_grads` (the same vector-Jacobian product as
    /// [`backward`](Op::backward), on numbers) and returns `true`. The default returns `false`.
    ///
    /// `backward()` calls this instead of `backward` when the node's output, its gradient and
    /// every input (one or two of them) hold one element: scalar chains, a loss's last steps. Such
    /// a node then costs a few arithmetic instructions instead of building tensors. Write the
    /// same formula as `backward`, in the same order, so both round alike; `grad()` (higher
    /// order) and anomaly detection always use `backward`. Leave it out unless each output
    /// element depends only on the same element of each input.
    ///
    /// ```
    /// use wengert_autograd::{BackwardContext, Float, InputGrads, Op, Tape, Tensor};
    ///
    /// /// y = x^3, dy/dx = 3 x^2
    /// struct Cube;
    /// impl<T: Float> Op<T> for Cube {
    ///     fn name(&self) -> &'static str { "cube" }
    ///     fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T> {
    ///         inputs[0].map(|x| x * x * x)
    ///     }
    ///     fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
    ///         let x = cx.input(0);
    ///         InputGrads::from([Some(cx.grad() * &(x * x) * T::from_f64(3.0))])
    ///     }
    ///     fn scalar_backward(&self, x: &[T], _y: T, g: T, input_grads: &mut [T]) -> bool {
    ///         input_grads[0] = g * (x[0] * x[0]) * T::from_f64(3.0);
    ///         true
    ///     }
    /// }
    ///
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::scalar(2.0));
    /// let y = tape.apply(Cube, &[x]);
    /// let z = y.tanh(); // dz/dx = (1 - tanh^2(8)) * 12
    /// let want = (1.0 - 8f64.tanh().powi(2)) * 12.0;
    /// assert!((z.backward()[x].item() - want).abs() < 1e-12); // through scalar_backward
    /// ```
    fn scalar_backward(&self, inputs: &[T], output: T, grad: T, input_grads: &mut [T]) -> bool {
        let _ = (inputs, output, grad, input_grads);
        false
    }

    /// Whether [`backward`](Op::backward) (and `scalar_backward`) reads the value of input
    /// `input`; its shape is always there. The default, `true`, is always correct. Return
    /// `false` for an input the derivative does not depend on (an addend, or the input of an
    /// op differentiated from its output, such as `tanh`): that lets
    /// [`Var::release_value`](crate::Var::release_value) free the input's buffer before
    /// backward. A rule that says `false` and reads the value anyway panics there.
    fn backward_reads_input(&self, input: usize) -> bool {
        let _ = input;
        true
    }

    /// Whether [`backward`](Op::backward) reads the output's value (`tanh`, `exp` and
    /// `sigmoid` do; `linear` does not, and says so). The default, `true`, is always correct;
    /// `false` lets [`Var::release_value`](crate::Var::release_value) free the output.
    fn backward_reads_output(&self) -> bool {
        true
    }

    /// Whether gradients flow through this op at all. Ops such as `argmax` return `false`: their
    /// outputs never require grad, so backward never reaches them.
    fn differentiable(&self) -> bool {
        true
    }
}

/// What a backward rule sees: the inputs, the output and the gradient flowing into the output,
/// each as an [`Operand`].
pub struct BackwardContext<'a, 't, T: Float> {
    pub(crate) inputs: &'a [Operand<'t, T>],
    pub(crate) output: &'a Operand<'t, T>,
    pub(crate) grad: &'a Operand<'t, T>,
    pub(crate) needs: &'a [bool],
}

impl<'a, 't, T: Float> BackwardContext<'a, 't, T> {
    /// Input `i` as it was in the forward pass.
    ///
    /// # Panics
    /// If the op has no input `i`.
    #[track_caller]
    pub fn input(&self, i: usize) -> &'a Operand<'t, T> {
        &self.inputs[i]
    }

    /// All inputs.
    pub fn inputs(&self) -> &'a [Operand<'t, T>] {
        self.inputs
    }

    /// The output the forward pass produced.
    pub fn output(&self) -> &'a Operand<'t, T> {
        self.output
    }

    /// The gradient of the loss with respect to the output (same shape as the output).
    pub fn grad(&self) -> &'a Operand<'t, T> {
        self.grad
    }

    /// Whether input `i` needs a gradient; skip the work when it does not.
    pub fn needs_grad(&self, i: usize) -> bool {
        self.needs.get(i).copied().unwrap_or(false)
    }

    /// `Some(f())` if input `i` needs a gradient, `None` otherwise.
    pub fn grad_for(&self, i: usize, f: impl FnOnce() -> Operand<'t, T>) -> Option<Operand<'t, T>> {
        self.needs_grad(i).then(f)
    }
}

/// The gradients a backward rule returns, one per input, in input order (`None` = no gradient).
pub struct InputGrads<'t, T: Float>(Slots<'t, T>);

/// Ops with one or two inputs (nearly all) return their gradients without a heap allocation or
/// a length field; the variants are written in place into the sweep's slot.
enum Slots<'t, T: Float> {
    Missing,
    One([Option<Operand<'t, T>>; 1]),
    /// One input's gradient given by its slice: zeros `before` and `after` along `axis`.
    Padded {
        grad: [Option<Operand<'t, T>>; 1],
        axis: usize,
        before: usize,
        after: usize,
    },
    Two([Option<Operand<'t, T>>; 2]),
    Many(Vec<Option<Operand<'t, T>>>),
    /// Input `input`'s gradient is `product`, not computed yet (its slot in `grads` is `None`):
    /// the first-order sweep computes it into, or adds it onto, that input's gradient.
    Deferred {
        grads: Vec<Option<Operand<'t, T>>>,
        input: usize,
        product: Box<Product<T>>,
    },
}

impl<'t, T: Float> InputGrads<'t, T> {
    /// Marks a rule that does not exist; see [`Op::backward`].
    pub fn missing() -> Self {
        InputGrads(Slots::Missing)
    }

    /// The gradient of a one-input op whose output is a slice of its input (`narrow`, `split`,
    /// `chunk`, selecting a time step): `grad` placed at `before..len - after` along `axis` of a
    /// zero tensor of the input's shape, the value `grad.pad_axis(axis, before, after)` has.
    ///
    /// The first-order sweep never builds that padded tensor: it adds `grad` into that range of
    /// the input's gradient in place, so cutting a tensor into `T` slices costs its size once in
    /// backward, not `T` times. [`Tape::grad`](crate::Tape::grad) records the `pad_axis`.
    pub fn padded(grad: Operand<'t, T>, axis: usize, before: usize, after: usize) -> Self {
        InputGrads(Slots::Padded {
            grad: [Some(grad)],
            axis,
            before,
            after,
        })
    }

    /// `(axis, before, after)` of a [`padded`](Self::padded) gradient.
    pub(crate) fn padding(&self) -> Option<(usize, usize, usize)> {
        match self.0 {
            Slots::Padded {
                axis,
                before,
                after,
                ..
            } => Some((axis, before, after)),
            _ => None,
        }
    }

    /// The gradients `grads`, except that input `input`'s (whose entry must be `None`) is the
    /// matrix product `product`, which the first-order sweep adds onto that input's gradient
    /// by the GEMM itself (see `tensor/product.rs`).
    pub(crate) fn with_product(
        grads: Vec<Option<Operand<'t, T>>>,
        input: usize,
        product: Product<T>,
    ) -> Self {
        debug_assert!(
            grads[input].is_none(),
            "internal: two gradients for one input"
        );
        InputGrads(Slots::Deferred {
            grads,
            input,
            product: Box::new(product),
        })
    }

    /// Takes the deferred product out, if there is one: `(input, product)`. What remains holds
    /// the other inputs' gradients.
    pub(crate) fn take_product(&mut self) -> Option<(usize, Box<Product<T>>)> {
        if !matches!(self.0, Slots::Deferred { .. }) {
            return None;
        }
        match std::mem::replace(&mut self.0, Slots::Missing) {
            Slots::Deferred {
                grads,
                input,
                product,
            } => {
                self.0 = Slots::Many(grads);
                Some((input, product))
            }
            _ => unreachable!("checked just above"),
        }
    }

    /// Computes a deferred product into its slot (for the paths that read every gradient as an
    /// operand: recorded `Tape::grad`, anomaly detection).
    pub(crate) fn compute_product(&mut self) {
        if let Some((input, product)) = self.take_product() {
            self.slots_mut()[input] = Some(product.eval().into());
        }
    }

    /// Whether this marks a missing rule.
    pub(crate) fn is_missing(&self) -> bool {
        matches!(self.0, Slots::Missing)
    }

    /// Drops a result whose slots the sweep has all taken. The fixed-size variants then hold
    /// only `None`s and are forgotten instead of running their drop glue (a check per slot on
    /// every node of the sweep); a `Vec` is dropped, to free its buffer.
    #[inline(always)]
    pub(crate) fn discard_taken(mut self) {
        debug_assert!(
            self.slots_mut().iter().all(Option::is_none),
            "internal: discard_taken on a result with gradients left"
        );
        if matches!(self.0, Slots::Many(_) | Slots::Deferred { .. }) {
            drop(self);
        } else {
            std::mem::forget(self);
        }
    }

    /// The gradients, one per input, to be taken by the sweep.
    pub(crate) fn slots_mut(&mut self) -> &mut [Option<Operand<'t, T>>] {
        match &mut self.0 {
            Slots::Missing => &mut [],
            Slots::One(g) => g,
            Slots::Padded { grad, .. } => grad,
            Slots::Two(g) => g,
            Slots::Many(g) => g,
            Slots::Deferred { grads, .. } => grads,
        }
    }
}

impl<'t, T: Float, const N: usize> From<[Option<Operand<'t, T>>; N]> for InputGrads<'t, T> {
    #[inline(always)]
    fn from(mut grads: [Option<Operand<'t, T>>; N]) -> Self {
        // `take` rather than the array's iterator: the iterator's bookkeeping and drop cost
        // more than the rule itself on a scalar chain.
        InputGrads(match N {
            1 => Slots::One([grads[0].take()]),
            2 => Slots::Two([grads[0].take(), grads[1].take()]),
            _ => Slots::Many(grads.into_iter().collect()),
        })
    }
}

impl<'t, T: Float> FromIterator<Option<Operand<'t, T>>> for InputGrads<'t, T> {
    fn from_iter<I: IntoIterator<Item = Option<Operand<'t, T>>>>(iter: I) -> Self {
        InputGrads(Slots::Many(iter.into_iter().collect()))
    }
}
