//! [`Operand`]: what backward rules compute with, either an eager tensor or a recorded `Var`.

use std::ops::{Add, Div, Mul, Neg, Sub};

use smallvec::SmallVec;

use crate::{Float, Op, Shape, Tensor, Var};

/// A value in a backward rule: an eager tensor during first-order `backward()` (nothing is
/// recorded, temporaries are freed at once) or a recorded [`Var`] during
/// [`Tape::grad`](crate::Tape::grad) (the result can be differentiated again).
///
/// Every op method that exists on `Var` exists on `Operand` with the same meaning, and the
/// arithmetic operators work on `&Operand` and `Operand`, so a rule is written once for both.
/// Build one from a tensor or a `Var` with `From`/`Into`.
#[derive(Clone)]
pub struct Operand<'t, T: Float>(Repr<'t, T>);

#[derive(Clone)]
enum Repr<'t, T: Float> {
    /// An eager value owned by the operand.
    Tensor(Tensor<T>),
    /// An eager value borrowed from the tape during the first-order sweep (saves reference
    /// counting on the hot path).
    Borrowed(&'t Tensor<T>),
    /// A value freed by [`Var::release_value`], borrowed for its shape (a tensor with no
    /// elements); reading it panics.
    Released(&'t Tensor<T>),
    /// A recorded value; operations on it are recorded on its tape.
    Var(Var<'t, T>),
}

impl<'t, T: Float> Operand<'t, T> {
    /// Applies an op: eagerly if every input is a tensor, recorded on the tape otherwise (tensor
    /// inputs then enter the tape as constants).
    #[track_caller]
    pub fn apply<O: Op<T>>(op: O, inputs: &[&Operand<'t, T>]) -> Operand<'t, T> {
        // One- and two-input ops pass arrays (no `SmallVec` to fill on the hot path).
        match *inputs {
            [a] => {
                if let Some(x) = a.eager() {
                    return Operand(Repr::Tensor(op.forward(&[x])));
                }
                return Self::record(op, inputs);
            }
            [a, b] => {
                if let (Some(x), Some(y)) = (a.eager(), b.eager()) {
                    return Operand(Repr::Tensor(op.forward(&[x, y])));
                }
                return Self::record(op, inputs);
            }
            _ => {}
        }
        let mut values: SmallVec<[&Tensor<T>; 4]> = SmallVec::new();
        for o in inputs {
            match o.eager() {
                Some(t) => values.push(t),
                None => return Self::record(op, inputs),
            }
        }
        Operand(Repr::Tensor(op.forward(&values)))
    }

    #[track_caller]
    fn record<O: Op<T>>(op: O, inputs: &[&Operand<'t, T>]) -> Operand<'t, T> {
        let tape = inputs.iter().find_map(|o| o.as_var()).map(|v| v.tape);
        let tape = tape.expect("record is only called when some input is a Var");
        let vars: SmallVec<[Var<'t, T>; 4]> = inputs.iter().map(|o| o.to_var_on(tape)).collect();
        Operand(Repr::Var(tape.apply(op, &vars)))
    }

    pub(crate) fn borrowed(t: &'t Tensor<T>) -> Self {
        Operand(Repr::Borrowed(t))
    }

    /// A released value (`t` holds its shape and no elements), for a rule that does not read it.
    pub(crate) fn released(t: &'t Tensor<T>) -> Self {
        Operand(Repr::Released(t))
    }

    #[track_caller]
    fn eager(&self) -> Option<&Tensor<T>> {
        match &self.0 {
            Repr::Tensor(t) => Some(t),
            Repr::Borrowed(t) => Some(t),
            Repr::Released(_) => released_read(),
            Repr::Var(_) => None,
        }
    }

    /// The recorded `Var`, if this operand is one (inside [`Tape::grad`](crate::Tape::grad)).
    pub fn as_var(&self) -> Option<Var<'t, T>> {
        match &self.0 {
            Repr::Var(v) => Some(*v),
            _ => None,
        }
    }

    /// Whether operations on this operand are recorded (it is a `Var`).
    pub fn is_recorded(&self) -> bool {
        self.as_var().is_some()
    }

    /// This operand as a `Var` on `tape` (a tensor becomes a constant).
    #[track_caller]
    pub fn to_var_on(&self, tape: &'t crate::Tape<T>) -> Var<'t, T> {
        match &self.0 {
            Repr::Var(v) => *v,
            Repr::Tensor(t) => tape.constant(t.clone()),
            Repr::Borrowed(t) => tape.constant((*t).clone()),
            Repr::Released(_) => released_read(),
        }
    }

    /// The value (for a `Var`, read from the tape; a cheap shared clone).
    #[track_caller]
    pub fn value(&self) -> Tensor<T> {
        match &self.0 {
            Repr::Tensor(t) => t.clone(),
            Repr::Borrowed(t) => (*t).clone(),
            Repr::Released(_) => released_read(),
            Repr::Var(v) => v.value(),
        }
    }

    /// The shape of the value.
    pub fn shape(&self) -> Shape {
        match &self.0 {
            Repr::Var(v) => v.shape(),
            _ => crate::tensor::shape::copy_shape(self.eager_shape()),
        }
    }

    /// The shape of an eager (or released) operand without copying it (empty for a `Var`).
    pub(crate) fn eager_shape(&self) -> &[usize] {
        match &self.0 {
            Repr::Tensor(t) => t.shape(),
            Repr::Borrowed(t) | Repr::Released(t) => t.shape(),
            Repr::Var(_) => &[],
        }
    }

    /// Converts to an eager tensor (for a `Var`, its current value).
    pub(crate) fn into_tensor(self) -> Tensor<T> {
        match self.0 {
            Repr::Tensor(t) => t,
            Repr::Borrowed(t) => t.clone(),
            Repr::Released(_) => released_read(),
            Repr::Var(v) => v.value(),
        }
    }

    /// A constant operand of the same kind as `self`: a tensor, or a constant on `self`'s tape.
    #[track_caller]
    pub fn constant_like(&self, value: Tensor<T>) -> Operand<'t, T> {
        match &self.0 {
            Repr::Var(v) => Operand(Repr::Var(v.tape.constant(value))),
            _ => Operand(Repr::Tensor(value)),
        }
    }
}

impl<'t, T: Float> From<Tensor<T>> for Operand<'t, T> {
    fn from(t: Tensor<T>) -> Self {
        Operand(Repr::Tensor(t))
    }
}

impl<'t, T: Float> From<Var<'t, T>> for Operand<'t, T> {
    fn from(v: Var<'t, T>) -> Self {
        Operand(Repr::Var(v))
    }
}

// Operator plumbing: each operator delegates to the op method defined in `ops/<name>.rs`, for
// every combination of owned and borrowed operands.
macro_rules! binary_operator {
    ($trait:ident, $fn:ident, $method:ident) => {
        impl<'t, T: Float> $trait<&Operand<'t, T>> for &Operand<'t, T> {
            type Output = Operand<'t, T>;
            #[track_caller]
            fn $fn(self, rhs: &Operand<'t, T>) -> Operand<'t, T> {
                self.$method(rhs)
            }
        }
        impl<'t, T: Float> $trait<Operand<'t, T>> for &Operand<'t, T> {
            type Output = Operand<'t, T>;
            #[track_caller]
            fn $fn(self, rhs: Operand<'t, T>) -> Operand<'t, T> {
                self.$method(&rhs)
            }
        }
        impl<'t, T: Float> $trait<&Operand<'t, T>> for Operand<'t, T> {
            type Output = Operand<'t, T>;
            #[track_caller]
            fn $fn(self, rhs: &Operand<'t, T>) -> Operand<'t, T> {
                (&self).$method(rhs)
            }
        }
        impl<'t, T: Float> $trait<Operand<'t, T>> for Operand<'t, T> {
            type Output = Operand<'t, T>;
            #[track_caller]
            fn $fn(self, rhs: Operand<'t, T>) -> Operand<'t, T> {
                (&self).$method(&rhs)
            }
        }
    };
}
binary_operator!(Add, add, add);
binary_operator!(Sub, sub, sub);
binary_operator!(Mul, mul, mul);
binary_operator!(Div, div, div);

macro_rules! scalar_operator {
    ($trait:ident, $fn:ident, $method:ident) => {
        impl<'t, T: Float> $trait<T> for &Operand<'t, T> {
            type Output = Operand<'t, T>;
            #[track_caller]
            fn $fn(self, rhs: T) -> Operand<'t, T> {
                self.$method(rhs)
            }
        }
        impl<'t, T: Float> $trait<T> for Operand<'t, T> {
            type Output = Operand<'t, T>;
            #[track_caller]
            fn $fn(self, rhs: T) -> Operand<'t, T> {
                (&self).$method(rhs)
            }
        }
    };
}
scalar_operator!(Add, add, add_scalar);
scalar_operator!(Sub, sub, sub_scalar);
scalar_operator!(Mul, mul, mul_scalar);
scalar_operator!(Div, div, div_scalar);

impl<'t, T: Float> Neg for &Operand<'t, T> {
    type Output = Operand<'t, T>;
    #[track_caller]
    fn neg(self) -> Operand<'t, T> {
        Operand::neg(self)
    }
}

impl<'t, T: Float> Neg for Operand<'t, T> {
    type Output = Operand<'t, T>;
    #[track_caller]
    fn neg(self) -> Operand<'t, T> {
        Operand::neg(&self)
    }
}

/// A backward rule read a value [`Var::release_value`] freed: its op's `backward_reads_input`
/// or `backward_reads_output` said it would not.
#[track_caller]
fn released_read() -> ! {
    panic!(
        "a backward rule read a value released by release_value(), though its op's \
         backward_reads_input / backward_reads_output said it would not"
    )
}
