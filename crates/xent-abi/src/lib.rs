//! The `extern "C"` surface of xent-kernel: the whole ABI of the `.wasm` module.
//!
//! crates.io is out of reach where this project is built, so there is no wasm-bindgen: every
//! export takes plain integers, floats and pointers into the module's linear memory, and the
//! TypeScript side (`ts/`) is the glue. The module imports its memory (`env.memory`); the
//! TypeScript allocator owns everything above `__heap_base`. Nothing here allocates.
//!
//! Conventions: a pointer argument of 0 means "absent". Every export validates what it can
//! before it writes anything, and returns a status code (see [`Status`]).
#![cfg_attr(target_arch = "wasm32", no_std)]

use xent_kernel::{CrossEntropyArgs, Labels, Reduction, Status};

/// Bumped whenever a signature or a status code below changes; the loader checks it.
pub const ABI_VERSION: u32 = 1;

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// The ABI version the module was built with ([`ABI_VERSION`]).
#[no_mangle]
pub extern "C" fn xent_abi_version() -> u32 {
    ABI_VERSION
}

/// 1 when this build was compiled with the wasm `simd128` feature, 0 for the portable build.
#[no_mangle]
pub extern "C" fn xent_simd() -> u32 {
    cfg!(target_feature = "simd128") as u32
}

/// Fused softmax cross-entropy with class-index targets, forward and (optionally) backward.
///
/// Shapes, as the TypeScript side flattens them: logits `[n, c, s]` (NCHW: class stride `s`),
/// target `[n, s]`, where `s` is the product of the spatial dims (1 when there are none).
///
/// - `target_dtype`: 0 = u8, 1 = u16, 2 = i32.
/// - `weight`: 0 or `c` floats. `ignore_index`: as PyTorch (`-100` by default).
/// - `reduction`: 0 = none, 1 = mean, 2 = sum. `label_smoothing` in `[0, 1]`.
/// - `grad`: 0 or `n*c*s` floats, filled with dLoss/dLogits. For mean/sum the upstream gradient
///   is 1; for none, `grad_output` (`n*s` floats) is required when `grad` is given.
/// - `loss_map`: `n*s` floats, required for reduction none (the per-sample losses), else 0.
/// - `out`: 4 doubles written on success: `[loss, sum, weight_sum, 0]`, where `loss` is the
///   reduced loss (mean = sum / weight_sum; for none it is `sum`). On status
///   `TargetOutOfBounds` `out[3]` is the flat index of the first bad target and `out[0]` its
///   value, and nothing else was written.
///
/// Returns a [`Status`] as u32.
///
/// # Safety
/// Every non-zero pointer must point to a buffer of the stated length inside linear memory;
/// output buffers must not overlap the inputs. The TypeScript side checks all of this.
#[no_mangle]
pub unsafe extern "C" fn xent_cross_entropy(
    logits: *const f32,
    target: *const u8,
    target_dtype: u32,
    n: u32,
    c: u32,
    s: u32,
    weight: *const f32,
    ignore_index: i32,
    reduction: u32,
    label_smoothing: f32,
    grad: *mut f32,
    grad_output: *const f32,
    loss_map: *mut f32,
    out: *mut f64,
) -> u32 {
    let (n, c, s) = (n as usize, c as usize, s as usize);
    let len = match n.checked_mul(c).and_then(|v| v.checked_mul(s)) {
        Some(v) => v,
        None => return Status::BadArgument as u32,
    };
    if out.is_null() || logits.is_null() || target.is_null() {
        return Status::BadArgument as u32;
    }
    let reduction = match reduction {
        0 => Reduction::None,
        1 => Reduction::Mean,
        2 => Reduction::Sum,
        _ => return Status::BadArgument as u32,
    };
    let labels = match target_dtype {
        0 => Labels::U8(core::slice::from_raw_parts(target, n * s)),
        1 => Labels::U16(core::slice::from_raw_parts(target as *const u16, n * s)),
        2 => Labels::I32(core::slice::from_raw_parts(target as *const i32, n * s)),
        _ => return Status::BadArgument as u32,
    };
    let opt = |p: *const f32, l: usize| (!p.is_null()).then(|| core::slice::from_raw_parts(p, l));
    let opt_mut =
        |p: *mut f32, l: usize| (!p.is_null()).then(|| core::slice::from_raw_parts_mut(p, l));
    let args = CrossEntropyArgs {
        logits: core::slice::from_raw_parts(logits, len),
        labels,
        n,
        c,
        s,
        weight: opt(weight, c),
        ignore_index,
        reduction,
        label_smoothing,
        grad_output: opt(grad_output, n * s),
    };
    let out = core::slice::from_raw_parts_mut(out, 4);
    match xent_kernel::cross_entropy(&args, opt_mut(grad, len), opt_mut(loss_map, n * s)) {
        Ok(r) => {
            out[0] = r.loss;
            out[1] = r.sum;
            out[2] = r.weight_sum;
            out[3] = 0.0;
            Status::Ok as u32
        }
        Err(e) => {
            if let xent_kernel::Error::TargetOutOfBounds { index, value } = e {
                out[0] = value as f64;
                out[3] = index as f64;
            }
            e.status() as u32
        }
    }
}
