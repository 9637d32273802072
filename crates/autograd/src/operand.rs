//! [`Operand`]: what backward rules compute with, either an eager tensor or a recorded `Var`.

use std::ops::{Add, Div, Mul, Neg, Sub};

use smallvec::SmallVec;

use crate::{Float, Op, Shape, Tensor, Var};

/// A value in a backward rule: an eager [`Tensor`] during first-order `backward()` (nothing is
/// recorded, temporaries are freed at once) or a recorded [`Var`] during
/// [`Tape::grad`](crate::Tape::grad) (the result can be differentiated again).
///
/// Every op method that exists on `Var` exists on `Operand` with the same meaning, and the
/// arithmetic operators work on `&Operand` and `Operand`, so a rule is written once for both.
#[derive(Clone)]
pub enum Operand<'t, T: Float> {
    /// An eager value; operations on it compute immediately and record nothing.
    Tensor(Tensor<T>),
    /// A recorded value; operations on it are recorded on its tape.
    Var(Var<'t, T>),
}

impl<'t, T: Float> Operand<'t, T> {
    /// Applies an op: eagerly if every input is a tensor, recorded on the tape otherwise (tensor
    /// inputs then enter the tape as constants).
    #[track_caller]
    pub fn apply<O: Op<T>>(op: O, inputs: &[&Operand<'t, T>]) -> Operand<'t, T> {
        let tape = inputs.iter().find_map(|o| match o {
            Operand::Var(v) => Some(v.tape),
            Operand::Tensor(_) => None,
        });
        match tape {
            None => {
                let values: SmallVec<[&Tensor<T>; 4]> = inputs
                    .iter()
                    .map(|o| match o {
                        Operand::Tensor(t) => t,
                        Operand::Var(_) => unreachable!("no Var among the inputs"),
                    })
                    .collect();
                Operand::Tensor(op.forward(&values))
            }
            Some(tape) => {
                let vars: SmallVec<[Var<'t, T>; 4]> =
                    inputs.iter().map(|o| o.to_var_on(tape)).collect();
                Operand::Var(tape.apply(op, &vars))
            }
        }
    }

    /// This operand as a `Var` on `tape` (a tensor becomes a constant).
    #[track_caller]
    pub fn to_var_on(&self, tape: &'t crate::Tape<T>) -> Var<'t, T> {
        match self {
            Operand::Var(v) => *v,
            Operand::Tensor(t) => tape.constant(t.clone()),
        }
    }

    /// The value (for a `Var`, read from the tape).
    #[track_caller]
    pub fn value(&self) -> Tensor<T> {
        match self {
            Operand::Tensor(t) => t.clone(),
            Operand::Var(v) => v.value(),
        }
    }

    /// The shape of the value.
    pub fn shape(&self) -> Shape {
        match self {
            Operand::Tensor(t) => t.shape().into(),
            Operand::Var(v) => v.shape(),
        }
    }

    /// Converts to an eager tensor (for a `Var`, its current value).
    pub(crate) fn into_tensor(self) -> Tensor<T> {
        match self {
            Operand::Tensor(t) => t,
            Operand::Var(v) => v.value(),
        }
    }

    /// A constant operand of the same kind as `self`: a tensor, or a constant on `self`'s tape.
    #[track_caller]
    pub fn constant_like(&self, value: Tensor<T>) -> Operand<'t, T> {
        match self {
            Operand::Tensor(_) => Operand::Tensor(value),
            Operand::Var(v) => Operand::Var(v.tape.constant(value)),
        }
    }
}

impl<'t, T: Float> From<Tensor<T>> for Operand<'t, T> {
    fn from(t: Tensor<T>) -> Self {
        Operand::Tensor(t)
    }
}

impl<'t, T: Float> From<Var<'t, T>> for Operand<'t, T> {
    fn from(v: Var<'t, T>) -> Self {
        Operand::Var(v)
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
