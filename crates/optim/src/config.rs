//! Validation of hyperparameters: every check returns [`Error::InvalidConfig`] naming the field,
//! the value and the valid range.

use wengert_autograd::Error;

fn invalid(field: &str, value: f64, range: &str) -> Error {
    Error::InvalidConfig {
        message: format!("`{field}` = {value} is out of range: expected {range}"),
    }
}

/// `0 <= value < inf` (learning rates, weight decay, clipping thresholds).
pub(crate) fn non_negative(field: &str, value: f64) -> Result<(), Error> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(field, value, "a finite value >= 0"))
    }
}

/// `0 < value < inf` (eps).
pub(crate) fn positive(field: &str, value: f64) -> Result<(), Error> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(field, value, "a finite value > 0"))
    }
}

/// `0 <= value < 1` (betas, momentum, rho).
pub(crate) fn unit_interval(field: &str, value: f64) -> Result<(), Error> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(invalid(field, value, "0 <= value < 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_field_value_and_range() {
        let msg = unit_interval("AdamConfig.beta1", 1.5)
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "invalid configuration: `AdamConfig.beta1` = 1.5 is out of range: expected 0 <= \
             value < 1"
        );
        assert!(non_negative("lr", f64::NAN).is_err());
        assert!(non_negative("lr", f64::INFINITY).is_err());
        assert!(non_negative("lr", -0.0).is_ok());
        assert!(positive("eps", 0.0).is_err());
        assert!(unit_interval("beta", 1.0).is_err());
        assert!(unit_interval("beta", f64::NAN).is_err());
        assert!(unit_interval("beta", 0.0).is_ok());
    }
}
