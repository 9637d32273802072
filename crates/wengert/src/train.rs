//! A Keras-like training loop: `fit` and `evaluate`.
