//! The reverse sweep: first-order `backward()` on eager tensors, and `grad()` recorded on the tape
//! so that gradients can be differentiated again.

use std::ops::Index;

use smallvec::SmallVec;

use crate::backward_scalar::{Grad, try_scalar_rule};
use crate::op::BackwardContext;
use crate::tape::{NodeId, first_non_finite, freed_panic};
use crate::{Error, Float, Operand, Tape, Tensor, Var};

/// Gradients of the leaves that require grad, from one backward pass. Read them by `Var`
/// (`grads[x]`, [`Grads::get`]) or by the key a leaf was created with ([`Grads::by_key`]).
pub struct Grads<T: Float> {
    tape: *const Tape<T>,
    leaves: Vec<(NodeId, Tensor<T>)>,
    keys: Vec<(u64, NodeId)>,
}

impl<T: Float> Grads<T> {
    /// The gradient of a leaf, or `None` if it does not require grad or does not reach the output.
    ///
    /// # Panics
    /// If `v` belongs to another tape than the one backward ran on.
    #[track_caller]
    pub fn get(&self, v: Var<'_, T>) -> Option<&Tensor<T>> {
        assert!(
            std::ptr::eq(v.tape, self.tape),
            "grads: this Var belongs to another tape"
        );
        self.find(v.id)
    }

    fn find(&self, id: NodeId) -> Option<&Tensor<T>> {
        self.leaves
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .map(|k| &self.leaves[k].1)
    }

    /// The gradient of the leaf created with [`Tape::var_with_key`] and this key.
    pub fn by_key(&self, key: u64) -> Option<&Tensor<T>> {
        self.keys
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|&(_, id)| self.find(id))
    }

    /// Number of leaves with a gradient.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// Whether no leaf received a gradient.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// `(node id, gradient)` of every leaf with a gradient, in creation order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Tensor<T>)> {
        self.leaves.iter().map(|(i, g)| (*i as usize, g))
    }
}

impl<T: Float> std::fmt::Debug for Grads<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.leaves.iter().map(|(i, g)| (i, g)))
            .finish()
    }
}

impl<'t, T: Float> Index<Var<'t, T>> for Grads<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn index(&self, v: Var<'t, T>) -> &Tensor<T> {
        self.get(v).unwrap_or_else(|| {
            panic!(
                "grads: no gradient for {} created at {}: it does not require grad or does not \
                 reach the output",
                v.op_name(),
                v.location()
            )
        })
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Gradients of this scalar with respect to every leaf that requires grad.
    ///
    /// Forward values are freed during the sweep as soon as nothing needs them (the output's value
    /// and leaves are kept); use [`backward_retain`](Self::backward_retain) to keep them all.
    ///
    /// # Panics
    /// If the value is not a scalar (one element), if backward reaches an op without a backward
    /// rule, or if anomaly detection finds a non-finite gradient. [`try_backward`](Self::try_backward)
    /// returns these as errors instead.
    #[track_caller]
    pub fn backward(self) -> Grads<T> {
        self.try_backward().unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`backward`](Self::backward), but every forward value stays on the tape, so it can be
    /// read afterwards or swept again.
    #[track_caller]
    pub fn backward_retain(self) -> Grads<T> {
        let seed = Tensor::ones(&self.shape_for_seed());
        self.backward_with(seed, true)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`backward`](Self::backward), returning failures as [`Error`]s.
    #[track_caller]
    pub fn try_backward(self) -> Result<Grads<T>, Error> {
        let seed = Tensor::ones(&self.shape_for_seed());
        self.backward_with(seed, false)
    }

    #[track_caller]
    fn shape_for_seed(self) -> crate::Shape {
        let shape = self.shape();
        assert!(
            shape.iter().product::<usize>() == 1,
            "backward: the output must have one element, got shape {:?}; reduce it (e.g. sum()) \
             or pass a seed gradient to backward_with",
            shape.as_slice()
        );
        shape
    }

    /// Reverse sweep seeded with `seed`, the gradient of some scalar with respect to this value
    /// (a vector-Jacobian product). `retain` keeps every forward value on the tape.
    ///
    /// # Panics
    /// If `seed` does not have this value's shape.
    #[track_caller]
    pub fn backward_with(self, seed: Tensor<T>, retain: bool) -> Result<Grads<T>, Error> {
        eager_sweep(self, seed, retain)
    }
}

#[track_caller]
fn eager_sweep<T: Float>(
    root: Var<'_, T>,
    seed: Tensor<T>,
    retain: bool,
) -> Result<Grads<T>, Error> {
    let tape = root.tape;
    let anomaly = tape.detect_anomaly();
    let mut nodes = tape.nodes.borrow_mut();
    let edges = tape.edges.borrow();
    let root_i = root.id as usize;
    {
        let node = &nodes[root_i];
        let shape = node
            .value
            .as_ref()
            .unwrap_or_else(|| freed_panic("backward", node))
            .shape();
        assert!(
            shape == seed.shape(),
            "backward_with: seed shape {:?} differs from the output shape {shape:?}",
            seed.shape()
        );
        if !node.requires_grad {
            return Err(Error::Backward {
                message: format!(
                    "the output (`{}` created at {}) does not require grad: no input on its path \
                     was created with tape.var(), or it was computed inside no_grad()",
                    node.name(),
                    node.location
                ),
            });
        }
    }
    let mut grads: Vec<Grad<T>> = crate::tape::spare::take().unwrap_or_default();
    grads.resize_with(root_i + 1, || Grad::Empty);
    grads[root_i] = Grad::Tensor(seed);
    let mut leaves = Vec::new();
    for i in (0..=root_i).rev() {
        // The slot is read in place: nothing reads it again (inputs come before their node),
        // and `clear` below drops what is left.
        let one_value = match &grads[i] {
            Grad::Empty => {
                if !retain && i != root_i && nodes[i].has_backward_path() {
                    nodes[i].value = None;
                }
                continue;
            }
            Grad::Scalar(v) => Some(*v),
            Grad::Tensor(t) => t.one_value(),
        };
        let all: &[crate::tape::Node<T>] = &nodes;
        let node = &all[i];
        let Some(slot) = node.op.as_ref() else {
            if node.requires_grad
                && let Some(value) = node.value.as_ref()
                && let Some(g) = grads[i].take().into_tensor(value.shape())
            {
                leaves.push((i as NodeId, g));
            }
            continue;
        };
        let input_ids = crate::tape::inputs_of(all, &edges, i);
        if let Some(gv) = one_value
            && !anomaly
            && try_scalar_rule(all, node, slot, input_ids, gv, &mut grads)?
        {
            if !retain && i != root_i {
                nodes[i].value = None;
            }
            continue;
        }
        let op = slot.get();
        let Some(g) = (node.value.as_ref()).and_then(|v| grads[i].take().into_tensor(v.shape()))
        else {
            return Err(freed_error(node.name(), node.location));
        };
        // Values are borrowed from the tape, not reference-counted: the rule only reads them.
        // One- and two-input nodes (nearly all) pass arrays: no `SmallVec` to fill and drop.
        match *input_ids {
            [a] => {
                let (x, nx) = operand_of(all, a)?;
                run_rule(node, op, &[x], &[nx], input_ids, g, &mut grads, anomaly)?;
            }
            [a, b] => {
                let (x, nx) = operand_of(all, a)?;
                let (y, ny) = operand_of(all, b)?;
                run_rule(
                    node,
                    op,
                    &[x, y],
                    &[nx, ny],
                    input_ids,
                    g,
                    &mut grads,
                    anomaly,
                )?;
            }
            _ => {
                let mut inputs: SmallVec<[Operand<'_, T>; 4]> = SmallVec::new();
                let mut needs: SmallVec<[bool; 4]> = SmallVec::new();
                for &j in input_ids {
                    let (x, nx) = operand_of(all, j)?;
                    inputs.push(x);
                    needs.push(nx);
                }
                run_rule(node, op, &inputs, &needs, input_ids, g, &mut grads, anomaly)?;
            }
        }
        if !retain && i != root_i {
            nodes[i].value = None;
        }
    }
    grads.clear();
    crate::tape::spare::put(grads);
    leaves.reverse();
    let keys = tape
        .keys
        .borrow()
        .iter()
        .filter(|(_, id)| leaves.binary_search_by_key(id, |(i, _)| *i).is_ok())
        .copied()
        .collect();
    Ok(Grads {
        tape: tape as *const _,
        leaves,
        keys,
    })
}

/// Input `j` as a borrowed operand, and whether it needs a gradient.
#[inline(always)]
fn operand_of<T: Float>(
    all: &[crate::tape::Node<T>],
    j: NodeId,
) -> Result<(Operand<'_, T>, bool), Error> {
    let input = &all[j as usize];
    match input.value.as_ref() {
        Some(value) if input.released => Ok((Operand::released(value), input.requires_grad)),
        Some(value) => Ok((Operand::borrowed(value), input.requires_grad)),
        None => Err(freed_error(input.name(), input.location)),
    }
}

/// Runs one node's backward rule on its inputs and adds each returned gradient into its input's
/// slot of `grads`, after checking its shape (and, with anomaly detection, its values).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn run_rule<'a, T: Float>(
    node: &'a crate::tape::Node<T>,
    op: &dyn crate::Op<T>,
    inputs: &[Operand<'a, T>],
    needs: &[bool],
    input_ids: &[NodeId],
    g: Tensor<T>,
    grads: &mut [Grad<T>],
    anomaly: bool,
) -> Result<(), Error> {
    let Some(out) = node.value.as_ref() else {
        return Err(freed_error(node.name(), node.location));
    };
    let mut result = {
        let output = if node.released {
            Operand::released(out)
        } else {
            Operand::borrowed(out)
        };
        let grad = Operand::from(g);
        op.backward(&BackwardContext {
            inputs,
            output: &output,
            grad: &grad,
            needs,
        })
    };
    if result.is_missing() {
        return Err(Error::NoBackward {
            op: node.name(),
            location: node.location.to_string(),
        });
    }
    // With anomaly detection the product is computed and checked like any other gradient.
    if anomaly {
        result.compute_product();
    }
    let product = result.take_product();
    let padding = result.padding();
    let slots = result.slots_mut();
    check_arity(slots.len(), || node.name(), input_ids.len());
    for (k, slot) in slots.iter_mut().enumerate() {
        let (Some(gk), true) = (slot.take(), needs[k]) else {
            continue;
        };
        let gk = gk.into_tensor();
        let j = input_ids[k] as usize;
        let full = inputs[k].eager_shape();
        match padding {
            Some((axis, before, after)) => {
                check_padded_shape(|| node.name(), gk.shape(), full, axis, before, after)
            }
            None => check_shape(|| node.name(), k, gk.shape(), full),
        }
        if anomaly && !gk.all_finite() {
            return Err(Error::NonFinite {
                message: format!(
                    "backward of `{}` (created at {}) produced a non-finite gradient for \
                     input {k}: {}",
                    node.name(),
                    node.location,
                    first_non_finite(&gk)
                ),
            });
        }
        match padding {
            Some((axis, before, _)) => accumulate_padded(&mut grads[j], &gk, full, axis, before),
            None => accumulate(&mut grads[j], gk, full),
        }
    }
    result.discard_taken();
    if let Some((k, p)) = product
        && needs[k]
    {
        check_shape(|| node.name(), k, &p.shape(), inputs[k].eager_shape());
        let slot = &mut grads[input_ids[k] as usize];
        match slot.as_tensor_mut(inputs[k].eager_shape()) {
            Some(acc) => p.add_to(acc),
            None => *slot = Grad::Tensor(p.eval()),
        }
    }
    Ok(())
}

pub(crate) fn freed_error(op: &str, location: &std::panic::Location<'_>) -> Error {
    Error::Backward {
        message: format!(
            "the value of `{op}` (created at {location}) was freed by an earlier backward(); \
             use backward_retain() for the first pass if the graph is swept twice"
        ),
    }
}

/// Adds `g`, the gradient of the slice `before..before + len` along `axis`, into the gradient
/// slot of the whole input (shape `full`): zeros are allocated once, on the first slice, and
/// every slice adds into its range in place (copied first only if the buffer is shared).
fn accumulate_padded<T: Float>(
    slot: &mut Grad<T>,
    g: &Tensor<T>,
    full: &[usize],
    axis: usize,
    before: usize,
) {
    let mut acc = slot
        .take()
        .into_tensor(full)
        .unwrap_or_else(|| Tensor::zeros(full));
    let (outer, n, inner) = acc.lanes(axis);
    let block = g.shape()[axis] * inner;
    let buf = acc.make_mut();
    for (o, src) in g.data().chunks(block.max(1)).enumerate().take(outer) {
        add_assign(&mut buf[(o * n + before) * inner..][..block], src);
    }
    *slot = Grad::Tensor(acc);
}

/// The checks take the op's name lazily: reading it is a virtual call, which on a scalar chain
/// cost more than the checks themselves.
#[track_caller]
fn check_padded_shape(
    op: impl FnOnce() -> &'static str,
    got: &[usize],
    full: &[usize],
    axis: usize,
    before: usize,
    after: usize,
) {
    let fits = got.len() == full.len()
        && axis < full.len()
        && got.iter().zip(full).enumerate().all(|(a, (&g, &f))| {
            if a == axis {
                g + before + after == f
            } else {
                g == f
            }
        });
    if !fits {
        let op = op();
        panic!(
            "backward of `{op}` returned a gradient of shape {got:?} padded by {before} and \
             {after} on axis {axis}, which does not make the input's shape {full:?}"
        );
    }
}

/// Adds `g` into a gradient slot of shape `full`, in place when the slot's buffer is not shared.
#[inline]
fn accumulate<T: Float>(slot: &mut Grad<T>, g: Tensor<T>, full: &[usize]) {
    match slot.as_tensor_mut(full) {
        None => *slot = Grad::Tensor(g),
        Some(prev) => prev.add_assign(&g),
    }
}

#[track_caller]
#[inline]
fn check_arity(returned: usize, op: impl FnOnce() -> &'static str, inputs: usize) {
    if returned != inputs {
        arity_panic(returned, op(), inputs);
    }
}

#[cold]
#[track_caller]
fn arity_panic(returned: usize, op: &str, inputs: usize) -> ! {
    panic!("backward of `{op}` returned {returned} gradients for {inputs} inputs")
}

#[track_caller]
#[inline]
fn check_shape(op: impl FnOnce() -> &'static str, k: usize, got: &[usize], want: &[usize]) {
    if !crate::tensor::shape::same_shape(got, want) {
        shape_panic(op(), k, got, want);
    }
}

#[cold]
#[track_caller]
fn shape_panic(op: &str, k: usize, got: &[usize], want: &[usize]) -> ! {
    panic!(
        "backward of `{op}` returned a gradient of shape {got:?} for input {k} of shape {want:?}"
    )
}

impl<T: Float> Tape<T> {
    /// Gradients of the sum of `outputs` (each with one element) with respect to `wrt`, recorded
    /// on this tape as new `Var`s, so they can be differentiated again (PyTorch
    /// `torch.autograd.grad(..., create_graph=True)`, JAX `grad` of `grad`).
    ///
    /// A `wrt` value that the outputs do not depend on gets a zero gradient (as in JAX). Values
    /// are never freed by this sweep.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::scalar(2.0));
    /// let y = x * x * x; // y = x^3
    /// let dy = tape.grad(&[y], &[x])[0]; // 3x^2 = 12
    /// let d2y = tape.grad(&[dy], &[x])[0]; // 6x = 12
    /// let d3y = tape.grad(&[d2y], &[x])[0]; // 6
    /// assert_eq!((dy.item(), d2y.item(), d3y.item()), (12.0, 12.0, 6.0));
    /// ```
    ///
    /// # Panics
    /// If an output has more than one element (use [`grad_with`](Self::grad_with)), if a `wrt`
    /// does not require grad, if a value belongs to another tape, or if the sweep reaches an op
    /// without a backward rule.
    #[track_caller]
    pub fn grad<'t>(&'t self, outputs: &[Var<'t, T>], wrt: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        let seeds: Vec<Var<'t, T>> = outputs
            .iter()
            .map(|o| {
                let shape = o.shape();
                assert!(
                    shape.iter().product::<usize>() == 1,
                    "grad: output of shape {:?} is not a scalar; use grad_with and a seed",
                    shape.as_slice()
                );
                self.constant(Tensor::ones(&shape))
            })
            .collect();
        self.grad_with(outputs, &seeds, wrt)
    }

    /// As [`grad`](Self::grad), with a seed gradient per output (a vector-Jacobian product):
    /// returns `sum_k seeds[k] . d outputs[k] / d wrt`, recorded on the tape.
    ///
    /// # Panics
    /// As [`grad`](Self::grad), and if a seed's shape differs from its output's.
    #[track_caller]
    pub fn grad_with<'t>(
        &'t self,
        outputs: &[Var<'t, T>],
        seeds: &[Var<'t, T>],
        wrt: &[Var<'t, T>],
    ) -> Vec<Var<'t, T>> {
        assert_eq!(
            outputs.len(),
            seeds.len(),
            "grad_with: {} outputs but {} seeds",
            outputs.len(),
            seeds.len()
        );
        for v in outputs.iter().chain(seeds).chain(wrt) {
            assert!(
                std::ptr::eq(v.tape, self),
                "grad: a Var belongs to another tape"
            );
        }
        if outputs.is_empty() || wrt.is_empty() {
            return wrt
                .iter()
                .map(|w| self.constant(Tensor::zeros(&w.shape())))
                .collect();
        }
        let top = outputs.iter().map(|o| o.id as usize).max().unwrap_or(0);
        let low = wrt.iter().map(|w| w.id as usize).min().unwrap_or(0);
        // relevant[i]: node i depends on some `wrt`, so gradients must flow through it.
        let mut relevant = vec![false; top + 1];
        {
            let nodes = self.nodes.borrow();
            let edges = self.edges.borrow();
            for w in wrt {
                let node = &nodes[w.id as usize];
                assert!(
                    node.requires_grad,
                    "grad: `{}` created at {} does not require grad; create it with tape.var()",
                    node.name(),
                    node.location
                );
                if (w.id as usize) <= top {
                    relevant[w.id as usize] = true;
                }
            }
            for i in low..=top {
                let node = &nodes[i];
                if node.has_backward_path()
                    && crate::tape::inputs_of(&nodes, &edges, i)
                        .iter()
                        .any(|&j| relevant[j as usize])
                {
                    relevant[i] = true;
                }
            }
        }
        let mut grads: Vec<Option<Var<'t, T>>> = vec![None; top + 1];
        for (o, s) in outputs.iter().zip(seeds) {
            assert!(
                o.shape() == s.shape(),
                "grad_with: seed shape {:?} differs from output shape {:?}",
                s.shape().as_slice(),
                o.shape().as_slice()
            );
            let slot = &mut grads[o.id as usize];
            *slot = Some(match slot.take() {
                None => *s,
                Some(prev) => prev + *s,
            });
        }
        let mut result: Vec<Option<Var<'t, T>>> = vec![None; wrt.len()];
        for i in (low..=top).rev() {
            let Some(g) = grads[i].take() else { continue };
            for (k, w) in wrt.iter().enumerate() {
                if w.id as usize == i {
                    result[k] = Some(g);
                }
            }
            if !relevant[i] {
                continue;
            }
            let (op, name, location, input_ids) = {
                let mut nodes = self.nodes.borrow_mut();
                let ids: SmallVec<[NodeId; 2]> =
                    crate::tape::inputs_of(&nodes, &self.edges.borrow(), i)
                        .iter()
                        .copied()
                        .collect();
                let node = &mut nodes[i];
                let name = node.name();
                match node.op.take() {
                    Some(op) => (op, name, node.location, ids),
                    None => continue,
                }
            };
            let inputs: SmallVec<[Operand<'t, T>; 2]> = input_ids
                .iter()
                .map(|&j| Operand::from(Var { tape: self, id: j }))
                .collect();
            let needs: SmallVec<[bool; 2]> =
                input_ids.iter().map(|&j| relevant[j as usize]).collect();
            let output = Operand::from(Var {
                tape: self,
                id: i as NodeId,
            });
            let grad = Operand::from(g);
            let mut result_grads = op.get().backward(&BackwardContext {
                inputs: &inputs,
                output: &output,
                grad: &grad,
                needs: &needs,
            });
            self.nodes.borrow_mut()[i].op = Some(op);
            result_grads.compute_product();
            if result_grads.is_missing() {
                panic!(
                    "{}",
                    Error::NoBackward {
                        op: name,
                        location: location.to_string()
                    }
                );
            }
            let padding = result_grads.padding();
            let slots = result_grads.slots_mut();
            check_arity(slots.len(), || name, input_ids.len());
            for (k, gk) in slots.iter_mut().enumerate() {
                let (Some(gk), true) = (gk.take(), needs[k]) else {
                    continue;
                };
                // A padded gradient is recorded as the pad itself, to differentiate again.
                let gk = match padding {
                    Some((axis, before, after)) => {
                        let full = inputs[k].shape();
                        check_padded_shape(|| name, &gk.shape(), &full, axis, before, after);
                        gk.pad_axis(axis as isize, before, after)
                    }
                    None => gk,
                };
                let gk = gk.to_var_on(self);
                check_shape(|| name, k, &gk.shape(), &inputs[k].shape());
                let slot = &mut grads[input_ids[k] as usize];
                *slot = Some(match slot.take() {
                    None => gk,
                    Some(prev) => prev + gk,
                });
            }
        }
        result
            .into_iter()
            .zip(wrt)
            .map(|(r, w)| r.unwrap_or_else(|| self.constant(Tensor::zeros(&w.shape()))))
            .collect()
    }
}

impl<T: Float> Tensor<T> {
    /// `self += other` for equal shapes, in place when no one else holds `self`'s buffer.
    pub(crate) fn add_assign(&mut self, other: &Tensor<T>) {
        debug_assert_eq!(self.shape(), other.shape());
        match self.data_mut() {
            Some(buf) => add_assign(buf, other.data()),
            None => *self = self.zip_map(other, "add", |a, b| a + b),
        }
    }
}

/// `a += b` elementwise (equal lengths), 8 lanes wide on AVX2 above a few dozen elements.
fn add_assign<T: Float>(a: &mut [T], b: &[T]) {
    #[inline(always)]
    fn add<T: Float>(a: &mut [T], b: &[T]) {
        a.iter_mut().zip(b).for_each(|(a, &b)| *a += b);
    }
    if a.len() >= crate::simd::MIN_LEN {
        crate::vectorized(
            #[inline(always)]
            || add(a, b),
        );
    } else {
        add(a, b);
    }
}
