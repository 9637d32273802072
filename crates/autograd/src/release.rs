//! [`Var::release_value`]: freeing an intermediate value that no backward rule reads, before
//! the tape or the backward sweep would.

use crate::tape::{Node, freed_panic, inputs_of};
use crate::{Float, Var};

impl<'t, T: Float> Var<'t, T> {
    /// Frees this value's buffer now, for an intermediate that no backward rule will read: an
    /// addend (the input part of an LSTM's gates, `x_t W_ih^T + b`, added onto `h W_hh^T`), or
    /// the input of an op differentiated from its output (the gate pre-activations before
    /// `lstm_cell`'s sigmoids). The buffer goes back to this thread's cache, where the next
    /// op that needs one of its size finds it still in the CPU cache: W4 ran 2-5 % faster with
    /// its two per-step intermediates released (`docs/performance.md`).
    ///
    /// The var keeps its shape and its place in the graph, and gradients are exactly what they
    /// would have been. What ops may read is checked now: the op that made the value must not
    /// read its output in backward ([`Op::backward_reads_output`](crate::Op::backward_reads_output)),
    /// nor may any op already recorded that uses it read that input
    /// ([`Op::backward_reads_input`](crate::Op::backward_reads_input)). Call it after the
    /// value's last use: it scans the ops recorded after the value for its users. Releasing
    /// twice does nothing more.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![0.5, -1.0], &[1, 2]).unwrap());
    /// let w = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let a = x.linear(w, None); // a = x W^T = [-1.5, -2.5]
    /// let y = a.tanh(); // tanh's backward reads y, not a
    /// a.release_value();
    /// assert_eq!(a.shape().as_slice(), &[1, 2]);
    /// let g = y.sum().backward();
    /// // d/dx sum(tanh(x W^T)) = (1 - y^2) W
    /// let d = |v: f64| 1.0 - v.tanh().powi(2);
    /// let want = d(-1.5) * 1.0 + d(-2.5) * 3.0;
    /// assert!((g[x].get(&[0, 0]) - want).abs() < 1e-12);
    /// ```
    ///
    /// # Panics
    /// If the value is a leaf (`var` or `constant`), was freed by an earlier backward, or a
    /// backward rule reads it (the message names the op and where it was applied). Reading the
    /// value afterwards ([`value`](Var::value), using it as an op's input) panics, naming
    /// `release_value()`.
    #[track_caller]
    pub fn release_value(self) {
        let mut nodes = self.tape.nodes.borrow_mut();
        let edges = self.tape.edges.borrow();
        let id = self.id as usize;
        let node = &nodes[id];
        if node.released {
            return;
        }
        let Some(value) = node.value.as_ref() else {
            freed_panic("release_value", node)
        };
        let Some(op) = node.op.as_ref() else {
            panic!(
                "release_value: `{}` (created at {}) is a leaf; only values computed by an op \
                 can be released",
                node.name(),
                node.location
            );
        };
        if node.has_backward_path() && op.get().backward_reads_output() {
            reads_panic(node, node);
        }
        for (j, user) in nodes.iter().enumerate().skip(id + 1) {
            let Some(user_op) = user.op.as_ref() else {
                continue;
            };
            let reads = inputs_of(&nodes, &edges, j)
                .iter()
                .enumerate()
                .any(|(k, &input)| input == self.id && user_op.get().backward_reads_input(k));
            if reads && user.has_backward_path() {
                reads_panic(node, user);
            }
        }
        let shape_only = value.shape_only();
        let node = &mut nodes[id];
        node.value = Some(shape_only);
        node.released = true;
    }
}

#[track_caller]
fn reads_panic<T: Float>(node: &Node<T>, reader: &Node<T>) -> ! {
    panic!(
        "release_value: the value of `{}` (created at {}) is read by the backward of `{}` \
         (applied at {}); only values no backward rule reads can be released",
        node.name(),
        node.location,
        reader.name(),
        reader.location
    )
}

#[cfg(test)]
mod tests {
    use crate::{Tape, Tensor, Var};

    fn t(v: &[f64], s: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(v.to_vec(), s).expect("the data fits the shape")
    }

    /// An LSTM-like step: `a = h W^T + xp`, `y = tanh(a) * 2`, with `xp = x U^T + b`.
    fn step<'t>(tape: &'t Tape<f64>, release: bool) -> (Var<'t, f64>, [Var<'t, f64>; 4], usize) {
        let x = tape.constant(t(&[0.3, -0.7, 0.2, 0.9], &[2, 2]));
        let u = tape.var(t(&[0.1, 0.4, -0.3, 0.8, 0.5, -0.6], &[3, 2]));
        let b = tape.var(t(&[0.05, -0.1, 0.2], &[3]));
        let h = tape.var(t(&[0.6, -0.2, 0.4, 0.1, 0.3, -0.5], &[2, 3]));
        let w = tape.var(t(
            &[0.2, -0.4, 0.7, 0.1, 0.3, -0.2, 0.5, 0.6, -0.1],
            &[3, 3],
        ));
        let xp = x.linear(u, Some(b));
        let a = h.linear(w, Some(xp));
        let y = a.tanh() * 2.0;
        if release {
            xp.release_value();
            a.release_value();
        }
        (y.sum(), [u, b, h, w], tape.value_bytes())
    }

    #[test]
    fn releasing_unread_intermediates_frees_them_and_keeps_every_gradient_bit() {
        let (kept, released) = (Tape::new(), Tape::new());
        let (l0, p0, bytes0) = step(&kept, false);
        let (l1, p1, bytes1) = step(&released, true);
        // xp and a: two [2, 3] f64 values
        assert_eq!(bytes0 - bytes1, 2 * 6 * 8);
        let (g0, g1) = (l0.backward(), l1.backward());
        for (a, b) in p0.iter().zip(&p1) {
            let (a, b) = (g0[*a].to_vec(), g1[*b].to_vec());
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            assert!(a.iter().any(|&v| v != 0.0));
        }
    }

    #[test]
    fn second_order_gradients_also_see_only_the_shape() {
        // d/dw of (d/dh sum(tanh(h W^T + xp))) through Tape::grad, with and without release
        let grads = |release: bool| {
            let tape = Tape::new();
            let (l, [_, _, h, w], _) = step(&tape, release);
            let dh = tape.grad(&[l], &[h])[0];
            let g = dh.sum().backward();
            g[w].to_vec()
        };
        let (a, b) = (grads(false), grads(true));
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert!(a.iter().any(|&v| v != 0.0));
    }

    /// `x W^T` for a `[1, 2]` x: `linear` reads neither its output nor its addend.
    fn product(tape: &Tape<f64>) -> Var<'_, f64> {
        let x = tape.var(t(&[1.0, 2.0], &[1, 2]));
        x.linear(tape.var(t(&[0.5, -1.0, 2.0, 0.25], &[2, 2])), None)
    }

    #[test]
    #[should_panic(expected = "is read by the backward of `mul`")]
    fn a_value_a_backward_reads_cannot_be_released() {
        let tape = Tape::<f64>::new();
        let a = product(&tape);
        let _y = a.tanh() * a; // d/d(tanh a) (tanh(a) a) reads a
        a.release_value();
    }

    #[test]
    #[should_panic(expected = "is read by the backward of `exp`")]
    fn an_output_its_own_backward_reads_cannot_be_released() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[1.0, 2.0], &[2]));
        x.exp().release_value();
    }

    #[test]
    #[should_panic(expected = "is a leaf")]
    fn a_leaf_cannot_be_released() {
        let tape = Tape::<f64>::new();
        tape.var(t(&[1.0], &[1])).release_value();
    }

    #[test]
    #[should_panic(expected = "was released by release_value()")]
    fn using_a_released_value_panics_naming_the_release() {
        let tape = Tape::<f64>::new();
        let a = product(&tape);
        a.release_value();
        let _ = a * 2.0;
    }

    #[test]
    fn a_value_no_gradient_flows_through_can_always_be_released() {
        // inside no_grad nothing is differentiated, so nothing reads it in backward
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[1.0, 2.0], &[2]));
        let y = tape.no_grad(|| x.exp());
        let _z = y * y;
        y.release_value();
        y.release_value(); // twice: nothing more
        assert_eq!(tape.value_bytes(), 2 * 2 * 8); // x and y * y
        assert!(format!("{y:?}").contains("<released>"));
    }

    /// `y = 2 x`, whose backward claims not to read x but does.
    struct Liar;

    impl crate::Op<f64> for Liar {
        fn name(&self) -> &'static str {
            "liar"
        }
        fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
            x[0].map(|v| 2.0 * v)
        }
        fn backward<'t>(
            &self,
            cx: &crate::BackwardContext<'_, 't, f64>,
        ) -> crate::InputGrads<'t, f64> {
            let _ = cx.input(0).value();
            [Some(cx.grad().mul_scalar(2.0))].into()
        }
        fn backward_reads_input(&self, _input: usize) -> bool {
            false
        }
    }

    #[test]
    #[should_panic(expected = "a backward rule read a value released by release_value()")]
    fn a_rule_that_reads_what_it_said_it_would_not_panics_in_backward() {
        let tape = Tape::<f64>::new();
        let a = product(&tape);
        let y = tape.apply(Liar, &[a]);
        a.release_value();
        let _ = y.sum().backward();
    }
}
