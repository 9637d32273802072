//! Arithmetic operators on `Var`: each delegates to the op method in `ops/<name>.rs`.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::{Float, Var};

macro_rules! var_operator {
    ($trait:ident, $fn:ident, $method:ident, $scalar:ident, $rscalar:ident) => {
        impl<'t, T: Float> $trait<Var<'t, T>> for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $fn(self, rhs: Var<'t, T>) -> Var<'t, T> {
                Var::$method(self, rhs)
            }
        }
        impl<'t, T: Float> $trait<T> for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $fn(self, rhs: T) -> Var<'t, T> {
                self.$scalar(rhs)
            }
        }
        impl<'t> $trait<Var<'t, f32>> for f32 {
            type Output = Var<'t, f32>;
            #[track_caller]
            fn $fn(self, rhs: Var<'t, f32>) -> Var<'t, f32> {
                rhs.$rscalar(self)
            }
        }
        impl<'t> $trait<Var<'t, f64>> for f64 {
            type Output = Var<'t, f64>;
            #[track_caller]
            fn $fn(self, rhs: Var<'t, f64>) -> Var<'t, f64> {
                rhs.$rscalar(self)
            }
        }
    };
}

var_operator!(Add, add, add, add_scalar, add_scalar);
var_operator!(Sub, sub, sub, sub_scalar, rsub_scalar);
var_operator!(Mul, mul, mul, mul_scalar, mul_scalar);
var_operator!(Div, div, div, div_scalar, rdiv_scalar);

impl<'t, T: Float> Neg for Var<'t, T> {
    type Output = Var<'t, T>;
    #[track_caller]
    fn neg(self) -> Var<'t, T> {
        Var::neg(self)
    }
}
