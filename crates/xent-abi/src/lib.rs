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

use xent_kernel::{
    CrossEntropyArgs, CrossEntropyResult, Error, Labels, Layout, Outputs, Reduction, Status, Target,
};

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

/// Fused softmax cross-entropy, forward and (optionally) backward, with PyTorch's semantics.
///
/// Shapes, as the TypeScript side flattens them: logits `[n, c, s]` in `layout` (0 = NCHW:
/// class stride `s`; 1 = NHWC: class stride 1, pixel stride `c`), where `s` is the product of
/// the spatial dims (1 when there are none).
///
/// - `target_kind`: class indices `[n, s]` as 0 = u8, 1 = u16, 2 = i32; or 3 = class
///   probabilities, f32 in the logits' shape and layout.
/// - `weight`: 0 or `c` floats. `ignore_index`: index targets only (PyTorch's default is -100).
/// - `reduction`: 0 = none, 1 = mean, 2 = sum. `label_smoothing` in `[0, 1]`.
/// - `grad`: 0 or `n*c*s` floats, filled with dLoss/dLogits in the logits' layout. For mean and
///   sum the upstream gradient is 1; for none, `grad_output` (`n*s` floats) is required when
///   `grad` is given, and must be 0 otherwise.
/// - `loss_map`: `n*s` floats, the per-sample losses: required for reduction none, optional
///   (0) otherwise. `confidence`: 0, or `n*s` floats for the softmax probability of the target
///   class (index targets only; 0 where ignored).
/// - `out`: 4 doubles written on success: `[loss, sum, weight_sum, 0]`, where `loss` is the
///   reduced loss (mean = sum / weight_sum; for none it is `sum`). On status
///   `TargetOutOfBounds`, `out[0]` is the bad target's value and `out[3]` its flat index.
///
/// Returns a [`Status`] as u32. When it is not `Ok`, no output buffer was written.
///
/// # Safety
/// Every non-zero pointer must point to a buffer of the stated length inside linear memory;
/// output buffers must not overlap each other or the inputs. The TypeScript side checks this.
#[no_mangle]
pub unsafe extern "C" fn xent_cross_entropy(
    logits: *const f32,
    target: *const u8,
    target_kind: u32,
    n: u32,
    c: u32,
    s: u32,
    layout: u32,
    weight: *const f32,
    ignore_index: i32,
    reduction: u32,
    label_smoothing: f32,
    grad: *mut f32,
    grad_output: *const f32,
    loss_map: *mut f32,
    confidence: *mut f32,
    out: *mut f64,
) -> u32 {
    let (n, c, s) = (n as usize, c as usize, s as usize);
    let (len, samples) = match n.checked_mul(s).and_then(|ns| Some((ns.checked_mul(c)?, ns))) {
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
    let layout = match layout {
        0 => Layout::Nchw,
        1 => Layout::Nhwc,
        _ => return Status::BadArgument as u32,
    };
    let target = match target_kind {
        0 => Target::Index(Labels::U8(slice(target, samples))),
        1 => Target::Index(Labels::U16(slice(target as *const u16, samples))),
        2 => Target::Index(Labels::I32(slice(target as *const i32, samples))),
        3 => Target::Prob(slice(target as *const f32, len)),
        _ => return Status::BadArgument as u32,
    };
    let args = CrossEntropyArgs {
        logits: slice(logits, len),
        target,
        n,
        c,
        s,
        layout,
        weight: opt(weight, c),
        ignore_index,
        reduction,
        label_smoothing,
        grad_output: opt(grad_output, samples),
    };
    let outputs = Outputs {
        grad: opt_mut(grad, len),
        loss_map: opt_mut(loss_map, samples),
        confidence: opt_mut(confidence, samples),
    };
    finish(xent_kernel::cross_entropy(&args, outputs), out)
}

unsafe fn slice<'a, T>(p: *const T, len: usize) -> &'a [T] {
    core::slice::from_raw_parts(p, len)
}

unsafe fn opt<'a, T>(p: *const T, len: usize) -> Option<&'a [T]> {
    (!p.is_null()).then(|| core::slice::from_raw_parts(p, len))
}

unsafe fn opt_mut<'a, T>(p: *mut T, len: usize) -> Option<&'a mut [T]> {
    (!p.is_null()).then(|| core::slice::from_raw_parts_mut(p, len))
}

/// Writes a kernel's result (or its error details) into `out` and returns the status.
unsafe fn finish(r: Result<CrossEntropyResult, Error>, out: *mut f64) -> u32 {
    let out = core::slice::from_raw_parts_mut(out, 4);
    match r {
        Ok(r) => {
            out.copy_from_slice(&[r.loss, r.sum, r.weight_sum, 0.0]);
            Status::Ok as u32
        }
        Err(e) => {
            if let Error::TargetOutOfBounds { index, value } = e {
                out[0] = value as f64;
                out[3] = index as f64;
            }
            e.status() as u32
        }
    }
}
