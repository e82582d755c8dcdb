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
    cross_entropy, cross_entropy_range, nll_loss, softmax, softmax_backward, weight_sum,
    CrossEntropyArgs, CrossEntropyResult, Error, ExactSum, Labels, Layout, Outputs, Pred,
    Reduction, Softmax, Status, Target,
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

/// 0 for the portable build, 1 when it was compiled with the wasm `simd128` feature, 2 when
/// also with `relaxed-simd` (fused multiply-add where the engine fuses).
#[no_mangle]
pub extern "C" fn xent_simd() -> u32 {
    if cfg!(target_feature = "relaxed-simd") {
        2
    } else {
        cfg!(target_feature = "simd128") as u32
    }
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
    loss_call(
        cross_entropy, logits, target, target_kind, n, c, s, layout, weight, ignore_index,
        reduction, label_smoothing, grad, grad_output, loss_map, confidence, out,
        Extra::default(),
    )
}

/// Scoring: the loss forward (reduction mean, no label smoothing) with the prediction outputs,
/// for evaluating a segmentation model. Arguments as in [`xent_cross_entropy`], plus:
///
/// - `pred`: 0, or `n*s` predicted classes (argmax over classes, the first maximum; NaN counts
///   as the largest, as `torch.argmax`), as u8 (`pred_kind` 0, `c <= 256`) or u16 (1).
/// - `pred_confidence`: 0, or `n*s` floats, the softmax probability of the predicted class.
/// - `confusion`: 0, or `c*c` doubles (row = target, column = prediction, index targets only)
///   to which the call ADDS the counts of its non-ignored samples.
///
/// `out` as in [`xent_cross_entropy`] (`out[0]` is the mean loss). Returns a [`Status`].
///
/// # Safety
/// As [`xent_cross_entropy`].
#[no_mangle]
pub unsafe extern "C" fn xent_score(
    logits: *const f32,
    target: *const u8,
    target_kind: u32,
    n: u32,
    c: u32,
    s: u32,
    layout: u32,
    weight: *const f32,
    ignore_index: i32,
    loss_map: *mut f32,
    confidence: *mut f32,
    pred: *mut u8,
    pred_kind: u32,
    pred_confidence: *mut f32,
    confusion: *mut f64,
    out: *mut f64,
) -> u32 {
    let samples = (n as usize).saturating_mul(s as usize);
    let (cc, overflow) = (c as usize).overflowing_mul(c as usize);
    let pred = match (pred.is_null(), pred_kind) {
        (true, _) => None,
        (false, 0) => Some(Pred::U8(core::slice::from_raw_parts_mut(pred, samples))),
        (false, 1) => Some(Pred::U16(core::slice::from_raw_parts_mut(pred as *mut u16, samples))),
        _ => return Status::BadArgument as u32,
    };
    if overflow {
        return Status::BadArgument as u32;
    }
    let extra = Extra { pred, pred_confidence: opt_mut(pred_confidence, samples), confusion: opt_mut(confusion, cc) };
    loss_call(
        cross_entropy, logits, target, target_kind, n, c, s, layout, weight, ignore_index, 1, 0.0,
        core::ptr::null_mut(), core::ptr::null(), loss_map, confidence, out, extra,
    )
}

/// The first half of a split (multi-threaded) [`xent_cross_entropy`]: the same arguments,
/// checks them all (every label included) and writes the denominator of 'mean' to `out[2]`.
/// Then any number of [`xent_cross_entropy_range`] calls, one per thread, cover the samples.
/// Returns a [`Status`]; writes nothing else.
///
/// # Safety
/// As [`xent_cross_entropy`].
#[no_mangle]
pub unsafe extern "C" fn xent_cross_entropy_weight_sum(
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
    let kernel = |a: &CrossEntropyArgs, o: Outputs| {
        weight_sum(a, &o).map(|w| CrossEntropyResult { loss: 0.0, sum: 0.0, weight_sum: w })
    };
    loss_call(
        kernel, logits, target, target_kind, n, c, s, layout, weight, ignore_index, reduction,
        label_smoothing, grad, grad_output, loss_map, confidence, out,
        Extra::default(),
    )
}

/// The second half of a split [`xent_cross_entropy`]: samples `lo .. hi` of the `n*s`, with
/// `weight_sum` from [`xent_cross_entropy_weight_sum`]; their losses are added to the
/// [`ExactSum`] at `acc` (see [`xent_exact_sum_size`]). Disjoint ranges may run at the same
/// time on the same buffers (threads sharing the memory); merged, the sums give the same bits
/// as one call. `out` as in [`xent_cross_entropy`] (only the status fields are meaningful).
///
/// # Safety
/// As [`xent_cross_entropy`]; `acc` must point to an initialised [`ExactSum`].
#[no_mangle]
pub unsafe extern "C" fn xent_cross_entropy_range(
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
    weight_sum: f64,
    lo: u32,
    hi: u32,
    acc: *mut ExactSum,
    out: *mut f64,
) -> u32 {
    if acc.is_null() {
        return Status::BadArgument as u32;
    }
    let kernel = |a: &CrossEntropyArgs, o: Outputs| {
        cross_entropy_range(a, o, weight_sum, lo as usize, hi as usize, &mut *acc)
            .map(|()| CrossEntropyResult { loss: 0.0, sum: 0.0, weight_sum })
    };
    loss_call(
        kernel, logits, target, target_kind, n, c, s, layout, weight, ignore_index, reduction,
        label_smoothing, grad, grad_output, loss_map, confidence, out,
        Extra::default(),
    )
}

/// Bytes of an [`ExactSum`] (allocate with 8-byte alignment).
#[no_mangle]
pub extern "C" fn xent_exact_sum_size() -> u32 {
    core::mem::size_of::<ExactSum>() as u32
}

/// Initialises the [`ExactSum`] at `p` to zero.
///
/// # Safety
/// `p` must point to [`xent_exact_sum_size`] writable bytes, 8-byte aligned.
#[no_mangle]
pub unsafe extern "C" fn xent_exact_sum_clear(p: *mut ExactSum) {
    p.write(ExactSum::default());
}

/// Adds the [`ExactSum`] at `src` into the one at `dst`, exactly.
///
/// # Safety
/// Both must be initialised [`ExactSum`]s.
#[no_mangle]
pub unsafe extern "C" fn xent_exact_sum_merge(dst: *mut ExactSum, src: *const ExactSum) {
    (*dst).merge(&*src);
}

/// The value of the [`ExactSum`] at `p`, correctly rounded to f64.
///
/// # Safety
/// `p` must be an initialised [`ExactSum`].
#[no_mangle]
pub unsafe extern "C" fn xent_exact_sum_value(p: *const ExactSum) -> f64 {
    (*p).value()
}

/// The prediction outputs of [`xent_score`].
#[derive(Default)]
struct Extra<'a> {
    pred: Option<Pred<'a>>,
    pred_confidence: Option<&'a mut [f32]>,
    confusion: Option<&'a mut [f64]>,
}

/// Decodes the raw arguments shared by the loss exports (with the prediction outputs of
/// [`xent_score`] in `extra`), runs `kernel`, writes `out`.
#[allow(clippy::too_many_arguments)]
unsafe fn loss_call(
    kernel: impl FnOnce(&CrossEntropyArgs, Outputs) -> Result<CrossEntropyResult, Error>,
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
    extra: Extra,
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
    let Some(layout) = decode_layout(layout) else {
        return Status::BadArgument as u32;
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
        pred: extra.pred,
        pred_confidence: extra.pred_confidence,
        confusion: extra.confusion,
    };
    finish(kernel(&args, outputs), out)
}

fn decode_layout(layout: u32) -> Option<Layout> {
    match layout {
        0 => Some(Layout::Nchw),
        1 => Some(Layout::Nhwc),
        _ => None,
    }
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

/// `y = softmax(x)` (`log` = 0) or `log_softmax(x)` (`log` = 1) over the class axis of
/// `[n, c, s]` tensors in `layout` (as in [`xent_cross_entropy`]). Returns a [`Status`].
///
/// # Safety
/// `x` and `y` must hold `n*c*s` floats and not overlap.
#[no_mangle]
pub unsafe extern "C" fn xent_softmax(
    x: *const f32,
    y: *mut f32,
    n: u32,
    c: u32,
    s: u32,
    layout: u32,
    log: u32,
) -> u32 {
    let Some((len, layout, kind)) = softmax_dims(n, c, s, layout, log) else {
        return Status::BadArgument as u32;
    };
    if x.is_null() || y.is_null() {
        return Status::BadArgument as u32;
    }
    let r = softmax(kind, slice(x, len), core::slice::from_raw_parts_mut(y, len), n as usize, c as usize, s as usize, layout);
    r.map_or_else(|e| e.status(), |_| Status::Ok) as u32
}

/// The gradient `gx` w.r.t. the input of [`xent_softmax`], from its output `y` and the upstream
/// gradient `gy` (all `n*c*s` floats). For log_softmax, `y` must be log-probabilities (<= 0).
///
/// # Safety
/// `y`, `gy` and `gx` must hold `n*c*s` floats; `gx` must not overlap the others.
#[no_mangle]
pub unsafe extern "C" fn xent_softmax_backward(
    y: *const f32,
    gy: *const f32,
    gx: *mut f32,
    n: u32,
    c: u32,
    s: u32,
    layout: u32,
    log: u32,
) -> u32 {
    let Some((len, layout, kind)) = softmax_dims(n, c, s, layout, log) else {
        return Status::BadArgument as u32;
    };
    if y.is_null() || gy.is_null() || gx.is_null() {
        return Status::BadArgument as u32;
    }
    let r = softmax_backward(
        kind,
        slice(y, len),
        slice(gy, len),
        core::slice::from_raw_parts_mut(gx, len),
        n as usize,
        c as usize,
        s as usize,
        layout,
    );
    r.map_or_else(|e| e.status(), |_| Status::Ok) as u32
}

fn softmax_dims(n: u32, c: u32, s: u32, layout: u32, log: u32) -> Option<(usize, Layout, Softmax)> {
    let len = (n as usize).checked_mul(c as usize)?.checked_mul(s as usize)?;
    let layout = decode_layout(layout)?;
    let kind = match log {
        0 => Softmax::Softmax,
        1 => Softmax::LogSoftmax,
        _ => return None,
    };
    Some((len, layout, kind))
}

/// `nll_loss` of log-probabilities `logp` (`[n, c, s]` in `layout`) against class indices;
/// arguments, outputs and status as in [`xent_cross_entropy`] (no label smoothing, no
/// probability targets, no confidence map).
///
/// # Safety
/// As [`xent_cross_entropy`].
#[no_mangle]
pub unsafe extern "C" fn xent_nll_loss(
    logp: *const f32,
    target: *const u8,
    target_kind: u32,
    n: u32,
    c: u32,
    s: u32,
    layout: u32,
    weight: *const f32,
    ignore_index: i32,
    reduction: u32,
    grad: *mut f32,
    grad_output: *const f32,
    loss_map: *mut f32,
    out: *mut f64,
) -> u32 {
    if target_kind > 2 {
        return Status::BadArgument as u32;
    }
    loss_call(
        nll_loss, logp, target, target_kind, n, c, s, layout, weight, ignore_index, reduction, 0.0,
        grad, grad_output, loss_map, core::ptr::null_mut(), out, Extra::default(),
    )
}
