//! The tape (the Wengert list) and `Var`, the `Copy` handle to a value recorded on it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;

use smallvec::SmallVec;

use crate::op_slot::OpSlot;
use crate::{Float, Op, Tensor};

/// Index of a node on its tape. Creation order is a topological order.
pub(crate) type NodeId = u32;

pub(crate) struct Node<T: Float> {
    /// `None` once backward has freed it.
    pub(crate) value: Option<Tensor<T>>,
    /// `None` for leaves (and while `Tape::grad` runs this node's rule).
    pub(crate) op: Option<OpSlot<T>>,
    /// This node's inputs are `tape.edges[first_input..]` up to the next node's `first_input`
    /// (edges are only appended): kept out of the node, and their count not stored, so that a
    /// node stays small (112 bytes for f32; it is written on every push).
    pub(crate) first_input: u32,
    pub(crate) requires_grad: bool,
    /// Set by [`Var::release_value`]: `value` then holds the shape and no elements.
    pub(crate) released: bool,
    pub(crate) location: &'static Location<'static>,
}

impl<T: Float> Node<T> {
    /// The op's name, or `"var"` / `"constant"` for leaves.
    pub(crate) fn name(&self) -> &'static str {
        match &self.op {
            Some(op) => op.get().name(),
            None if self.requires_grad => "var",
            None => "constant",
        }
    }

    /// Whether gradients flow through this node to its inputs.
    pub(crate) fn has_backward_path(&self) -> bool {
        self.requires_grad && self.op.is_some()
    }
}

/// The input ids of node `i`, given the tape's nodes and edge list.
#[inline]
pub(crate) fn inputs_of<'e, T: Float>(
    nodes: &[Node<T>],
    edges: &'e [NodeId],
    i: usize,
) -> &'e [NodeId] {
    let end = nodes
        .get(i + 1)
        .map_or(edges.len(), |next| next.first_input as usize);
    &edges[nodes[i].first_input as usize..end]
}

/// The Wengert list: every value computed, the op that produced it and its inputs, in creation
/// order. Backward is one reverse sweep over it.
///
/// A tape is cheap to create; use one per training step (model parameters live outside it).
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let x = tape.var(Tensor::scalar(3.0));
/// let y = x * x + x * 5.0; // y = x^2 + 5x
/// let grads = y.backward();
/// assert_eq!(grads[x].item(), 11.0); // dy/dx = 2x + 5
/// ```
pub struct Tape<T: Float> {
    pub(crate) nodes: RefCell<Vec<Node<T>>>,
    /// The input ids of every node, concatenated in creation order.
    pub(crate) edges: RefCell<Vec<NodeId>>,
    pub(crate) keys: RefCell<Vec<(u64, NodeId)>>,
    grad_enabled: Cell<bool>,
    anomaly: Cell<bool>,
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Tape<T> {
    /// An empty tape with gradients enabled and anomaly detection off, with room for 256 nodes
    /// (24 KiB) before it first grows.
    pub fn new() -> Self {
        Self::with_capacity(256)
    }

    /// An empty tape with room for `nodes` nodes before it reallocates.
    ///
    /// The node and edge buffers of the last tape dropped on this thread are reused when there
    /// is one (a tape per training step then allocates nothing for its list, and a long list
    /// does not fault its pages in again each step).
    pub fn with_capacity(nodes: usize) -> Self {
        let (mut node_buf, mut edge_buf) = spare::take::<(Vec<Node<T>>, Vec<NodeId>)>()
            .unwrap_or_else(|| (Vec::with_capacity(nodes), Vec::with_capacity(2 * nodes)));
        node_buf.reserve(nodes);
        edge_buf.reserve(2 * nodes);
        Tape {
            nodes: RefCell::new(node_buf),
            edges: RefCell::new(edge_buf),
            keys: RefCell::new(Vec::new()),
            grad_enabled: Cell::new(true),
            anomaly: Cell::new(false),
        }
    }

    /// Removes every node, keeping the allocation, so the tape can record the next step.
    /// Taking `&mut self` guarantees no `Var` of the old recording is still alive.
    pub fn reset(&mut self) {
        crate::tensor::packed::clear();
        self.nodes.get_mut().clear();
        self.edges.get_mut().clear();
        self.keys.get_mut().clear();
    }

    /// Number of nodes recorded.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the values currently stored on the tape (freed and released values
    /// excluded; a buffer that several values share, such as a `reshape`'s, counted once).
    pub fn value_bytes(&self) -> usize {
        let nodes = self.nodes.borrow();
        let mut seen = std::collections::HashSet::new();
        nodes
            .iter()
            .filter_map(|n| n.value.as_ref())
            .filter(|v| seen.insert(v.data().as_ptr()))
            .map(|v| std::mem::size_of_val(v.data()))
            .sum()
    }

    /// A leaf that requires grad: `backward()` returns its gradient.
    #[track_caller]
    pub fn var(&self, value: Tensor<T>) -> Var<'_, T> {
        self.leaf(value, true)
    }

    /// A leaf that requires grad and carries a key (e.g. a parameter id), so that its gradient
    /// can be looked up with [`Grads::by_key`](crate::Grads::by_key).
    ///
    /// A key enters a tape once: if a leaf with this key is already on the tape, that leaf is
    /// returned (and `value` is ignored), so a layer applied at every step of a sequence shares
    /// one leaf per parameter and its gradient sums over the steps.
    #[track_caller]
    pub fn var_with_key(&self, value: Tensor<T>, key: u64) -> Var<'_, T> {
        if let Some(&(_, id)) = self.keys.borrow().iter().find(|(k, _)| *k == key) {
            return Var { tape: self, id };
        }
        let v = self.leaf(value, true);
        self.keys.borrow_mut().push((key, v.id));
        v
    }

    /// A leaf that does not require grad (data, labels, fixed weights).
    #[track_caller]
    pub fn constant(&self, value: Tensor<T>) -> Var<'_, T> {
        self.leaf(value, false)
    }

    #[track_caller]
    fn leaf(&self, value: Tensor<T>, requires_grad: bool) -> Var<'_, T> {
        let requires_grad = requires_grad && self.grad_enabled.get();
        let first_input = self.edges.borrow().len() as u32;
        self.push(Node {
            value: Some(value),
            op: None,
            first_input,
            requires_grad,
            released: false,
            location: Location::caller(),
        })
    }

    #[inline(always)]
    fn push(&self, node: Node<T>) -> Var<'_, T> {
        let mut nodes = self.nodes.borrow_mut();
        let id = NodeId::try_from(nodes.len()).expect("tape: more than 2^32 nodes on one tape");
        nodes.push(node);
        Var { tape: self, id }
    }

    /// Applies an op to recorded values: computes the forward now and records the node.
    ///
    /// This is how custom ops are used; see [`Op`].
    ///
    /// # Panics
    /// If an input belongs to another tape, if an input's value was freed by an earlier
    /// `backward()`, or if the op's forward panics (e.g. on a shape mismatch).
    #[track_caller]
    pub fn apply<O: Op<T>>(&self, op: O, inputs: &[Var<'_, T>]) -> Var<'_, T> {
        let location = Location::caller();
        // One- and two-input ops (nearly all) pass arrays of values: no `SmallVec` to fill.
        let (value, requires_grad) = {
            let nodes = self.nodes.borrow();
            match *inputs {
                [a] => {
                    let (x, rx) = self.input_value(&nodes, a, &op);
                    (op.forward(&[x]), rx)
                }
                [a, b] => {
                    let (x, rx) = self.input_value(&nodes, a, &op);
                    let (y, ry) = self.input_value(&nodes, b, &op);
                    (op.forward(&[x, y]), rx | ry)
                }
                _ => {
                    let mut values: SmallVec<[&Tensor<T>; 4]> = SmallVec::new();
                    let mut requires_grad = false;
                    for &v in inputs {
                        let (x, rx) = self.input_value(&nodes, v, &op);
                        values.push(x);
                        requires_grad |= rx;
                    }
                    (op.forward(&values), requires_grad)
                }
            }
        };
        if self.anomaly.get() && !value.all_finite() {
            anomaly_panic(op.name(), &value, location);
        }
        let requires_grad = requires_grad && self.grad_enabled.get() && op.differentiable();
        let first_input = {
            let mut edges = self.edges.borrow_mut();
            let first = edges.len() as u32;
            match *inputs {
                [a] => edges.push(a.id),
                _ => edges.extend(inputs.iter().map(|v| v.id)),
            }
            first
        };
        self.push(Node {
            value: Some(value),
            op: Some(OpSlot::new(op)),
            first_input,
            requires_grad,
            released: false,
            location,
        })
    }

    /// The value of input `v` of `op` and whether it requires grad.
    ///
    /// # Panics
    /// If `v` belongs to another tape or its value was freed by `backward()`.
    #[inline(always)]
    #[track_caller]
    fn input_value<'n, O: Op<T>>(
        &self,
        nodes: &'n [Node<T>],
        v: Var<'_, T>,
        op: &O,
    ) -> (&'n Tensor<T>, bool) {
        if !std::ptr::eq(v.tape, self) {
            foreign_tape_panic(op.name(), v);
        }
        let node = &nodes[v.id as usize];
        match node.value.as_ref() {
            Some(_) if node.released => released_panic(op.name(), node),
            Some(value) => (value, node.requires_grad),
            None => freed_panic(op.name(), node),
        }
    }

    /// Runs `f` with gradient recording off: results computed inside do not require grad
    /// (PyTorch's `torch.no_grad()`). Restored even if `f` panics.
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore<'a>(&'a Cell<bool>, bool);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set(self.1);
            }
        }
        let _restore = Restore(&self.grad_enabled, self.grad_enabled.replace(false));
        f()
    }

    /// Whether new results record their op for backward (false inside [`no_grad`](Self::no_grad)).
    pub fn is_grad_enabled(&self) -> bool {
        self.grad_enabled.get()
    }

    /// Turns anomaly detection on or off. When on, the first non-finite value produced by a
    /// forward op panics, and the first non-finite gradient produced by a backward rule makes
    /// backward fail; both reports name the op and the line of user code that applied it.
    pub fn set_detect_anomaly(&self, on: bool) {
        self.anomaly.set(on);
    }

    /// Whether anomaly detection is on.
    pub fn detect_anomaly(&self) -> bool {
        self.anomaly.get()
    }
}

impl<T: Float> Drop for Tape<T> {
    fn drop(&mut self) {
        // Weights packed for this step's products would make the optimizer copy them.
        crate::tensor::packed::clear();
        let mut nodes = std::mem::take(self.nodes.get_mut());
        let mut edges = std::mem::take(self.edges.get_mut());
        nodes.clear();
        edges.clear();
        spare::put((nodes, edges));
    }
}

/// One spare buffer per type and thread, handed from a dropped tape (or backward sweep) to the
/// next one. Buffers over [`spare::MAX_BYTES`] are freed instead, so a huge graph does not pin
/// its memory.
pub(crate) mod spare {
    use std::any::{Any, TypeId};
    use std::cell::RefCell;

    /// The largest buffer kept (bytes of capacity, all parts together).
    pub(crate) const MAX_BYTES: usize = 16 << 20;

    thread_local! {
        static SPARE: RefCell<Vec<(TypeId, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
    }

    /// Things whose capacity can be measured.
    pub(crate) trait Capacity: Any {
        fn bytes(&self) -> usize;
    }

    impl<X: 'static> Capacity for Vec<X> {
        fn bytes(&self) -> usize {
            self.capacity() * std::mem::size_of::<X>()
        }
    }

    impl<A: Capacity, B: Capacity> Capacity for (A, B) {
        fn bytes(&self) -> usize {
            self.0.bytes() + self.1.bytes()
        }
    }

    /// The spare of type `V`, if this thread has one.
    pub(crate) fn take<V: Any>() -> Option<V> {
        SPARE
            .try_with(|s| {
                let mut s = s.borrow_mut();
                let k = s.iter().position(|(id, _)| *id == TypeId::of::<V>())?;
                s.swap_remove(k).1.downcast::<V>().ok().map(|b| *b)
            })
            .ok()
            .flatten()
    }

    /// Keeps `v` (empty, with its capacity) as this thread's spare of its type, replacing any.
    pub(crate) fn put<V: Capacity>(v: V) {
        if v.bytes() == 0 || v.bytes() > MAX_BYTES {
            return;
        }
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            let boxed: Box<dyn Any> = Box::new(v);
            match s.iter_mut().find(|(id, _)| *id == TypeId::of::<V>()) {
                Some(slot) => slot.1 = boxed,
                None => s.push((TypeId::of::<V>(), boxed)),
            }
        });
    }
}

#[cold]
#[track_caller]
fn foreign_tape_panic<T: Float>(op: &str, v: Var<'_, T>) -> ! {
    let at = v
        .tape
        .nodes
        .try_borrow()
        .ok()
        .map_or("?".to_string(), |nodes| {
            nodes
                .get(v.id as usize)
                .map_or("?".to_string(), |n| n.location.to_string())
        });
    panic!("{op}: an input belongs to another tape (created at {at})")
}

#[cold]
fn anomaly_panic<T: Float>(op: &str, value: &Tensor<T>, location: &Location<'_>) -> ! {
    panic!(
        "anomaly detected: forward of `{op}` produced a non-finite value ({}) at {location}",
        first_non_finite(value)
    );
}

#[cold]
#[track_caller]
pub(crate) fn freed_panic<T: Float>(what: &str, node: &Node<T>) -> ! {
    panic!(
        "{what}: the value of `{}` (created at {}) was freed by an earlier backward(); \
         read values before calling backward(), or call backward_retain() to keep the graph",
        node.name(),
        node.location
    )
}

#[track_caller]
pub(crate) fn released_panic<T: Float>(what: &str, node: &Node<T>) -> ! {
    panic!(
        "{what}: the value of `{}` (created at {}) was released by release_value(); \
         release a value only after its last use",
        node.name(),
        node.location
    )
}

pub(crate) fn first_non_finite<T: Float>(t: &Tensor<T>) -> String {
    match t.data().iter().position(|x| !x.is_finite()) {
        Some(i) => format!("{} at flat index {i} of shape {:?}", t.data()[i], t.shape()),
        None => "none".into(),
    }
}

/// A handle to a value recorded on a [`Tape`]: `Copy`, 16 bytes, tied to its tape by lifetime.
///
/// Arithmetic operators and the op methods (`matmul`, `relu`, `sum_axes`, ...) take `Var`s by
/// value and record a new node.
#[derive(Clone, Copy)]
pub struct Var<'t, T: Float> {
    pub(crate) tape: &'t Tape<T>,
    pub(crate) id: NodeId,
}

impl<'t, T: Float> Var<'t, T> {
    /// The tape this value lives on.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The node index on the tape (creation order).
    pub fn id(&self) -> usize {
        self.id as usize
    }

    /// The value (a cheap, shared clone).
    ///
    /// # Panics
    /// If backward already freed it (see [`Var::backward_retain`]) or it was released
    /// ([`Var::release_value`]).
    #[track_caller]
    pub fn value(&self) -> Tensor<T> {
        let nodes = self.tape.nodes.borrow();
        let node = &nodes[self.id as usize];
        if node.released {
            released_panic("value", node);
        }
        node.value
            .clone()
            .unwrap_or_else(|| freed_panic("value", node))
    }

    /// The shape of the value.
    pub fn shape(&self) -> crate::Shape {
        let nodes = self.tape.nodes.borrow();
        let node = &nodes[self.id as usize];
        match &node.value {
            Some(v) => crate::tensor::shape::copy_shape(v.shape()),
            None => freed_panic("shape", node),
        }
    }

    /// The single element of a one-element value.
    ///
    /// # Panics
    /// If the value does not have exactly one element.
    #[track_caller]
    pub fn item(&self) -> T {
        self.value().item()
    }

    /// Whether gradients flow to this value.
    pub fn requires_grad(&self) -> bool {
        self.tape.nodes.borrow()[self.id as usize].requires_grad
    }

    /// Where in user code this value was created.
    pub fn location(&self) -> &'static Location<'static> {
        self.tape.nodes.borrow()[self.id as usize].location
    }

    /// The name of the op that produced this value (`"var"` or `"constant"` for leaves).
    pub fn op_name(&self) -> &'static str {
        self.tape.nodes.borrow()[self.id as usize].name()
    }

    /// The same value as a constant: no gradient flows back through it (PyTorch `detach()`,
    /// JAX `stop_gradient`). Shares storage, copies nothing.
    #[track_caller]
    pub fn detach(self) -> Var<'t, T> {
        self.tape.constant(self.value())
    }

    #[track_caller]
    pub(crate) fn assert_same_tape(self, other: Var<'t, T>, op: &str) {
        assert!(
            std::ptr::eq(self.tape, other.tape),
            "{op}: operands belong to different tapes"
        );
    }
}

impl<T: Float> fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.tape.nodes.borrow();
        let node = &nodes[self.id as usize];
        write!(f, "Var#{} {} at {}: ", self.id, node.name(), node.location)?;
        match &node.value {
            Some(_) if node.released => write!(f, "<released>"),
            Some(v) => write!(f, "{v}"),
            None => write!(f, "<freed>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_tape_reuses_the_last_dropped_list_and_starts_empty() {
        let grown = {
            let tape = Tape::<f64>::with_capacity(4);
            let mut x = tape.var(Tensor::scalar(1.0));
            for _ in 0..3000 {
                x = x * 1.5;
            }
            tape.nodes.borrow().capacity()
        }; // dropped here: its buffers become this thread's spare
        assert!(grown >= 3001);
        let tape = Tape::<f64>::new();
        assert!(tape.is_empty() && tape.edges.borrow().is_empty());
        assert_eq!(tape.nodes.borrow().capacity(), grown);
        // and it records and differentiates as a fresh one does: d/dx (x * 2) = 2
        let x = tape.var(Tensor::scalar(3.0));
        assert_eq!((x * 2.0).backward()[x].item(), 2.0);
        // a spare of one element type is not handed to a tape of the other
        assert!(Tape::<f32>::new().nodes.borrow().capacity() < grown);
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_node_fits_in_112_bytes() {
        // Every recorded op writes one; 120 bytes with a stored input count cost 2-3 % on W5.
        assert!(std::mem::size_of::<Node<f32>>() <= 112);
        assert!(std::mem::size_of::<Node<f64>>() <= 112);
    }

    #[test]
    fn input_lists_end_where_the_next_node_s_begin() {
        // leaves between ops, ops of 1, 2 and 3 inputs, and a last node reading to the end
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::from_slice(&[2.0]));
        let y = x * x; // inputs [x, x]
        let c = tape.constant(Tensor::from_slice(&[3.0]));
        let z = Var::concat(&[y, c, x], 0).sum(); // concat: [y, c, x]; sum: [concat]
        let nodes = tape.nodes.borrow();
        let edges = tape.edges.borrow();
        let ids = |i: u32| inputs_of(&nodes, &edges, i as usize).to_vec();
        assert_eq!(ids(x.id), Vec::<NodeId>::new());
        assert_eq!(ids(y.id), vec![x.id, x.id]);
        assert_eq!(ids(c.id), Vec::<NodeId>::new());
        assert_eq!(ids(z.id - 1), vec![y.id, c.id, x.id]);
        assert_eq!(ids(z.id), vec![z.id - 1]);
        drop((nodes, edges));
        // d/dx sum([x^2, 3, x]) = 2x + 1 = 5
        assert_eq!(z.backward()[x].item(), 5.0);
    }

    #[test]
    fn lists_over_the_limit_are_freed_not_kept() {
        let big = spare::MAX_BYTES / std::mem::size_of::<Node<f32>>() + 1;
        drop(Tape::<f32>::with_capacity(big));
        assert!(Tape::<f32>::new().nodes.borrow().capacity() < big);
    }
}
