//! Reading and writing tensors and model parameters in the safetensors format (the format
//! PyTorch, candle and burn read). Parameter names are the module's
//! [`named_params`](crate::Module::named_params) names, e.g. `0.weight`, `weight_ih_l0`.

use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use wengert_autograd::{DType, Error, Float, Tensor};

use crate::Module;

fn format_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn dtype_of<T: Float>() -> Dtype {
    match T::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

/// Reads every tensor of a safetensors file, sorted by name.
///
/// Errors name the file: it is missing or unreadable ([`Error::Io`]), truncated or corrupt, or a
/// tensor's dtype is not `T`'s ([`Error::Format`], naming the tensor and both dtypes).
pub fn read_tensors<T: Float>(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor<T>)>, Error> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| {
        format_error(
            path,
            format!("not a valid safetensors file (truncated or corrupt?): {e}"),
        )
    })?;
    let mut out = Vec::with_capacity(file.len());
    for (name, view) in file.tensors() {
        out.push((name.clone(), tensor_from_view::<T>(path, &name, &view)?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn tensor_from_view<T: Float>(
    path: &Path,
    name: &str,
    view: &TensorView<'_>,
) -> Result<Tensor<T>, Error> {
    let want = dtype_of::<T>();
    if view.dtype() != want {
        return Err(format_error(
            path,
            format!(
                "tensor `{name}` has dtype {:?}, expected {want:?} ({}): convert the file or load \
                 into a model of the file's dtype",
                view.dtype(),
                T::DTYPE
            ),
        ));
    }
    let data: Vec<T> = match want {
        Dtype::F32 => view
            .data()
            .chunks_exact(4)
            .map(|b| T::from_f64(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64))
            .collect(),
        _ => view
            .data()
            .chunks_exact(8)
            .map(|b| {
                T::from_f64(f64::from_le_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            })
            .collect(),
    };
    Tensor::from_vec(data, view.shape())
        .map_err(|e| format_error(path, format!("tensor `{name}`: {e}")))
}

/// Writes tensors to a safetensors file (little-endian, `T`'s dtype). The file is written to a
/// temporary name first and renamed, so a failure never leaves a half-written file behind.
pub fn write_tensors<T: Float>(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor<T>)],
) -> Result<(), Error> {
    let path = path.as_ref();
    let dtype = dtype_of::<T>();
    let buffers: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, t)| match dtype {
            Dtype::F32 => t
                .data()
                .iter()
                .flat_map(|v| (v.to_f64() as f32).to_le_bytes())
                .collect(),
            _ => t
                .data()
                .iter()
                .flat_map(|v| v.to_f64().to_le_bytes())
                .collect(),
        })
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, t), buf) in tensors.iter().zip(&buffers) {
        let view = TensorView::new(dtype, t.shape().to_vec(), buf)
            .map_err(|e| format_error(path, format!("tensor `{name}`: {e}")))?;
        views.push((name.as_str(), view));
    }
    let bytes =
        safetensors::serialize(views, None).map_err(|e| format_error(path, e.to_string()))?;
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Saves a model's parameters under their [`named_params`](Module::named_params) names.
pub fn save<T: Float, M: Module<T> + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<(), Error> {
    let tensors: Vec<(String, Tensor<T>)> = model
        .named_params()
        .into_iter()
        .map(|(name, p)| (name, p.value().clone()))
        .collect();
    write_tensors(path, &tensors)
}

/// Loads a model's parameters from a file written by [`save`] (or by PyTorch's
/// `safetensors.torch.save_file(model.state_dict(), ..)` with the same names).
///
/// All or nothing: every parameter is checked (present, right shape, right dtype, no unknown
/// names in the file) before any is replaced, so on `Err` the model is unchanged. The error names
/// the parameter and what was expected.
pub fn load<T: Float, M: Module<T> + ?Sized>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<(), Error> {
    let path = path.as_ref();
    let mut tensors = read_tensors::<T>(path)?;
    let mut staged = Vec::new();
    for (name, p) in model.named_params() {
        let Ok(k) = tensors.binary_search_by(|(n, _)| n.as_str().cmp(&name)) else {
            return Err(format_error(
                path,
                format!(
                    "parameter `{name}` (shape {:?}) is missing from the file; it has: {}",
                    p.shape(),
                    tensors
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        let (_, t) = tensors.remove(k);
        if t.shape() != p.shape() {
            return Err(format_error(
                path,
                format!(
                    "parameter `{name}`: the file has shape {:?}, the model expects {:?}",
                    t.shape(),
                    p.shape()
                ),
            ));
        }
        staged.push(t);
    }
    if !tensors.is_empty() {
        return Err(format_error(
            path,
            format!(
                "the file has tensors the model does not: {}",
                tensors
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for ((_, p), t) in model.named_params_mut().into_iter().zip(staged) {
        p.set_value(t).expect("shape checked above");
    }
    Ok(())
}
