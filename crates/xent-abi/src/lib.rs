//! The `extern "C"` surface of xent-kernel: the whole ABI of the `.wasm` module.
//!
//! crates.io is out of reach where this project is built, so there is no wasm-bindgen: every
//! export takes plain integers, floats and pointers into the module's linear memory, and the
//! TypeScript side (`ts/`) is the glue. The module imports its memory (`env.memory`); the
//! TypeScript allocator owns everything above `__heap_base`. Nothing here allocates.
//!
//! Conventions: a pointer argument of 0 means "absent". Every export validates what it can
//! before it writes anything, and returns a status code (see [`Status`]).
//!
//! One file of about 700 lines on purpose: the whole ABI in one place, read against its
//! TypeScript counterpart (`ts/abi.ts`) when either changes.
#![cfg_attr(target_arch = "wasm32", no_std)]

use xent_kernel::half::convert::convert;
use xent_kernel::resize::scratch_floats;
use xent_kernel::{
    cross_entropy, cross_entropy_f16, cross_entropy_f16_range, cross_entropy_range, nll_loss, resize_cross_entropy,
    resize_cross_entropy_range, resize_weight_sum, softmax, softmax_backward, weight_sum, weight_sum_f16,
    CrossEntropyArgs, CrossEntropyResult, Error, ExactSum, Labels, Layout, Mode, Outputs, Pred, Reduction, Resize,
    Softmax, Status, Target,
};

/// Bumped whenever a signature or a status code below changes; the loader checks it.
pub const ABI_VERSION: u32 = 2;

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

/// The arguments of the loss exports, which the caller writes into linear memory and passes
/// by address: 19 fields of 4 bytes (76 bytes, 4-byte aligned; [`xent_loss_args_size`]).
/// Pointers are byte offsets into the memory, 0 for "absent".
///
/// Shapes, as the TypeScript side flattens them: logits `[n, c, s]` in `layout` (0 = NCHW:
/// class stride `s`; 1 = NHWC: class stride 1, pixel stride `c`), where `s` is the product of
/// the spatial dims (1 when there are none).
#[repr(C)]
pub struct LossArgs {
    /// `n*c*s` floats: the logits (log-probabilities for [`xent_nll_loss`]).
    pub logits: *const f32,
    /// Class indices `[n, s]` (`target_kind` 0 = u8, 1 = u16, 2 = i32), or class
    /// probabilities (3 = f32 in the logits' shape and layout).
    pub target: *const u8,
    pub target_kind: u32,
    pub n: u32,
    pub c: u32,
    pub s: u32,
    pub layout: u32,
    /// 0 or `c` floats.
    pub weight: *const f32,
    /// Index targets only (PyTorch's default is -100).
    pub ignore_index: i32,
    /// 0 = none, 1 = mean, 2 = sum.
    pub reduction: u32,
    /// In `[0, 1]`.
    pub label_smoothing: f32,
    /// 0 or `n*c*s` floats, filled with dLoss/dLogits in the logits' layout. For mean and sum
    /// the upstream gradient is 1; for none, `grad_output` (`n*s` floats) is required when
    /// `grad` is given, and must be 0 otherwise.
    pub grad: *mut f32,
    pub grad_output: *const f32,
    /// `n*s` floats, the per-sample losses: required for reduction none, optional otherwise.
    pub loss_map: *mut f32,
    /// 0, or `n*s` floats for the softmax probability of the target class (index targets
    /// only; 0 where ignored).
    pub confidence: *mut f32,
    /// Scoring (no gradient): 0, or `n*s` predicted classes (argmax over classes, the first
    /// maximum; NaN counts as the largest, as `torch.argmax`), as u8 (`pred_kind` 0,
    /// `c <= 256`) or u16 (1).
    pub pred: *mut u8,
    pub pred_kind: u32,
    /// Scoring: 0, or `n*s` floats, the softmax probability of the predicted class.
    pub pred_confidence: *mut f32,
    /// Scoring: 0, or `c*c` doubles (row = target, column = prediction, index targets only)
    /// to which the call ADDS the counts of its non-ignored samples.
    pub confusion: *mut f64,
}

/// Bytes of a [`LossArgs`] (the TypeScript side checks its layout against this).
#[no_mangle]
pub extern "C" fn xent_loss_args_size() -> u32 {
    core::mem::size_of::<LossArgs>() as u32
}

/// Fused softmax cross-entropy, forward and (optionally) backward, with PyTorch's semantics,
/// and the scoring outputs (prediction, its probability, the confusion matrix) when asked
/// for without a gradient. Arguments at `args` (see [`LossArgs`]).
///
/// `out`: 4 doubles written on success: `[loss, sum, weight_sum, 0]`, where `loss` is the
/// reduced loss (mean = sum / weight_sum; for none it is `sum`). On status
/// `TargetOutOfBounds`, `out[0]` is the bad target's value and `out[3]` its flat index.
///
/// Returns a [`Status`] as u32. When it is not `Ok`, no output buffer was written.
///
/// # Safety
/// `args` must point to a [`LossArgs`]; every non-zero pointer in it must point to a buffer
/// of the stated length inside linear memory; output buffers must not overlap each other or
/// the inputs. The TypeScript side checks this.
#[no_mangle]
pub unsafe extern "C" fn xent_cross_entropy(args: *const LossArgs, out: *mut f64) -> u32 {
    loss_call(cross_entropy, args, out)
}

/// The first half of a split (multi-threaded) [`xent_cross_entropy`]: the same arguments,
/// checks them all (every label included) and writes the denominator of 'mean' to `out[2]`.
/// Then any number of [`xent_cross_entropy_range`] calls, one per thread, cover the samples.
/// Returns a [`Status`]; writes nothing else.
///
/// # Safety
/// As [`xent_cross_entropy`].
#[no_mangle]
pub unsafe extern "C" fn xent_cross_entropy_weight_sum(args: *const LossArgs, out: *mut f64) -> u32 {
    let kernel = |a: &CrossEntropyArgs, o: Outputs| {
        weight_sum(a, &o).map(|w| CrossEntropyResult { loss: 0.0, sum: 0.0, weight_sum: w })
    };
    loss_call(kernel, args, out)
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
    args: *const LossArgs,
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
        cross_entropy_range(a, o, weight_sum, lo as usize, hi as usize, &mut *acc).map(|()| CrossEntropyResult {
            loss: 0.0,
            sum: 0.0,
            weight_sum,
        })
    };
    loss_call(kernel, args, out)
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

/// Decodes the [`LossArgs`] at `args`, runs `kernel`, writes `out`.
///
/// # Safety
/// As [`xent_cross_entropy`]; a non-null `out` valid for writing 4 doubles.
unsafe fn loss_call(
    kernel: impl FnOnce(&CrossEntropyArgs, Outputs) -> Result<CrossEntropyResult, Error>,
    args: *const LossArgs,
    out: *mut f64,
) -> u32 {
    if out.is_null() {
        return Status::BadArgument as u32;
    }
    match decode(args, false, None) {
        Some((args, outputs, _)) => finish(kernel(&args, outputs), out),
        None => Status::BadArgument as u32,
    }
}

/// The kernel arguments and outputs that the [`LossArgs`] at `args` describe, or `None` when
/// they are inconsistent. Not inlined: one copy for every entry point that takes them. With
/// `half`, `logits` holds float16 bits: they are returned as the third value, and the
/// arguments' own `logits` is empty.
///
/// `in_s`: the logits' (and the gradient's) pixels per item when they are not `s` (a resized
/// call: `in_h * in_w`).
///
/// # Safety
/// A non-null `args` must point to a [`LossArgs`] whose non-null pointers point to buffers of
/// the lengths it states, alive and unaliased (outputs) for `'a`.
#[inline(never)]
unsafe fn decode<'a>(
    args: *const LossArgs,
    half: bool,
    in_s: Option<usize>,
) -> Option<(CrossEntropyArgs<'a>, Outputs<'a>, &'a [u16])> {
    if args.is_null() {
        return None;
    }
    let a = &*args;
    let (n, c, s) = (a.n as usize, a.c as usize, a.s as usize);
    let samples = n.checked_mul(s)?;
    let len = samples.checked_mul(c)?;
    let logits_len = match in_s {
        Some(in_s) => n.checked_mul(c)?.checked_mul(in_s)?,
        None => len,
    };
    if a.logits.is_null() || a.target.is_null() {
        return None;
    }
    let reduction = match a.reduction {
        0 => Reduction::None,
        1 => Reduction::Mean,
        2 => Reduction::Sum,
        _ => return None,
    };
    let layout = decode_layout(a.layout)?;
    let target = match a.target_kind {
        0 => Target::Index(Labels::U8(slice(a.target, samples))),
        1 => Target::Index(Labels::U16(slice(a.target as *const u16, samples))),
        2 => Target::Index(Labels::I32(slice(a.target as *const i32, samples))),
        3 => Target::Prob(slice(a.target as *const f32, len)),
        _ => return None,
    };
    let pred = match (a.pred.is_null(), a.pred_kind) {
        (true, _) => None,
        (false, 0) => Some(Pred::U8(core::slice::from_raw_parts_mut(a.pred, samples))),
        (false, 1) => Some(Pred::U16(core::slice::from_raw_parts_mut(a.pred as *mut u16, samples))),
        _ => return None,
    };
    let (logits, halves) = if half {
        (&[][..], slice(a.logits as *const u16, logits_len))
    } else {
        (slice(a.logits, logits_len), &[][..])
    };
    let args = CrossEntropyArgs {
        logits,
        target,
        n,
        c,
        s,
        layout,
        weight: opt(a.weight, c),
        ignore_index: a.ignore_index,
        reduction,
        label_smoothing: a.label_smoothing,
        grad_output: opt(a.grad_output, samples),
    };
    let outputs = Outputs {
        grad: opt_mut(a.grad, logits_len),
        loss_map: opt_mut(a.loss_map, samples),
        confidence: opt_mut(a.confidence, samples),
        pred,
        pred_confidence: opt_mut(a.pred_confidence, samples),
        // c * c only with a confusion matrix: it overflows from C = 65536 on wasm32.
        confusion: if a.confusion.is_null() { None } else { opt_mut(a.confusion, c.checked_mul(c)?) },
    };
    Some((args, outputs, halves))
}

fn decode_layout(layout: u32) -> Option<Layout> {
    match layout {
        0 => Some(Layout::Nchw),
        1 => Some(Layout::Nhwc),
        _ => None,
    }
}

/// `len` values at `p` as a slice.
///
/// # Safety
/// As [`core::slice::from_raw_parts`]: `p` non-null, aligned and valid for reading `len`
/// values for `'a`.
unsafe fn slice<'a, T>(p: *const T, len: usize) -> &'a [T] {
    core::slice::from_raw_parts(p, len)
}

/// [`slice`](fn@slice), or `None` for a null `p`.
///
/// # Safety
/// As [`slice`](fn@slice) when `p` is not null.
unsafe fn opt<'a, T>(p: *const T, len: usize) -> Option<&'a [T]> {
    (!p.is_null()).then(|| core::slice::from_raw_parts(p, len))
}

/// A mutable [`opt`].
///
/// # Safety
/// As [`core::slice::from_raw_parts_mut`] when `p` is not null: valid for reading and writing
/// `len` values, and no other reference to them, for `'a`.
unsafe fn opt_mut<'a, T>(p: *mut T, len: usize) -> Option<&'a mut [T]> {
    (!p.is_null()).then(|| core::slice::from_raw_parts_mut(p, len))
}

/// Writes a kernel's result (or its error details) into `out` and returns the status.
///
/// # Safety
/// `out` valid for writing 4 doubles.
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
    let r = softmax(
        kind,
        slice(x, len),
        core::slice::from_raw_parts_mut(y, len),
        n as usize,
        c as usize,
        s as usize,
        layout,
    );
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
    let len = (n as usize).checked_mul(s as usize)?.checked_mul(c as usize)?;
    let layout = decode_layout(layout)?;
    let kind = match log {
        0 => Softmax::Softmax,
        1 => Softmax::LogSoftmax,
        _ => return None,
    };
    Some((len, layout, kind))
}

/// `nll_loss` of the log-probabilities at `args.logits` against class indices; arguments
/// ([`LossArgs`]), outputs and status as in [`xent_cross_entropy`], without label smoothing,
/// probability targets, confidence map or scoring outputs (they must be 0).
///
/// # Safety
/// As [`xent_cross_entropy`].
#[no_mangle]
pub unsafe extern "C" fn xent_nll_loss(args: *const LossArgs, out: *mut f64) -> u32 {
    if args.is_null() {
        return Status::BadArgument as u32;
    }
    let a = &*args;
    if a.target_kind > 2
        || !a.confidence.is_null()
        || !a.pred.is_null()
        || !a.pred_confidence.is_null()
        || !a.confusion.is_null()
    {
        return Status::BadArgument as u32;
    }
    loss_call(nll_loss, args, out)
}

/// [`xent_cross_entropy`] on float16 logits: `args.logits` points to `n*c*s` IEEE half-precision
/// values (their bits, 2-byte aligned), converted to f32 on load, a strip of pixels at a time,
/// into the caller's scratch (`scratch_floats` f32 at `scratch`, 4-byte aligned, overlapping
/// nothing else): the results have the bits of [`xent_cross_entropy`] on the f32 logits of the
/// same values. A strip of `p` pixels needs `k*c*p` floats of scratch, `k` = 1 for NHWC, and
/// for NCHW 1, plus 1 with a gradient, plus 1 with probability targets (which stay f32); less
/// than one pixel's worth is `BadArgument`. Outputs and status as in [`xent_cross_entropy`].
///
/// # Safety
/// As [`xent_cross_entropy`], with `n*c*s` u16 at `args.logits`; `scratch` valid for writing
/// `scratch_floats` floats.
#[no_mangle]
pub unsafe extern "C" fn xent_cross_entropy_f16(
    args: *const LossArgs,
    scratch: *mut f32,
    scratch_floats: u32,
    out: *mut f64,
) -> u32 {
    let Some(scratch) = scratch_slice(scratch, scratch_floats) else {
        return Status::BadArgument as u32;
    };
    half_call(|a, l, o| cross_entropy_f16(a, l, o, scratch), args, out)
}

/// [`xent_cross_entropy_weight_sum`] for float16 logits (as in [`xent_cross_entropy_f16`]; no
/// scratch: nothing is converted).
///
/// # Safety
/// As [`xent_cross_entropy_f16`].
#[no_mangle]
pub unsafe extern "C" fn xent_cross_entropy_f16_weight_sum(args: *const LossArgs, out: *mut f64) -> u32 {
    let kernel = |a: &CrossEntropyArgs, l: &[u16], mut o: Outputs| {
        weight_sum_f16(a, l, &mut o).map(|w| CrossEntropyResult { loss: 0.0, sum: 0.0, weight_sum: w })
    };
    half_call(kernel, args, out)
}

/// [`xent_cross_entropy_range`] for float16 logits, with its own scratch (as in
/// [`xent_cross_entropy_f16`]; each thread needs its own).
///
/// # Safety
/// As [`xent_cross_entropy_range`] and [`xent_cross_entropy_f16`].
#[no_mangle]
#[allow(clippy::too_many_arguments, reason = "the range call's arguments and the scratch")]
pub unsafe extern "C" fn xent_cross_entropy_f16_range(
    args: *const LossArgs,
    weight_sum: f64,
    lo: u32,
    hi: u32,
    acc: *mut ExactSum,
    scratch: *mut f32,
    scratch_floats: u32,
    out: *mut f64,
) -> u32 {
    let Some(scratch) = scratch_slice(scratch, scratch_floats) else {
        return Status::BadArgument as u32;
    };
    if acc.is_null() {
        return Status::BadArgument as u32;
    }
    let kernel = |a: &CrossEntropyArgs, l: &[u16], o: Outputs| {
        cross_entropy_f16_range(a, l, o, weight_sum, lo as usize, hi as usize, &mut *acc, scratch)
            .map(|()| CrossEntropyResult { loss: 0.0, sum: 0.0, weight_sum })
    };
    half_call(kernel, args, out)
}

/// Converts `len` IEEE half-precision values (bits, at `src`) to f32 at `dst`, exactly (the
/// conversion of [`xent_cross_entropy_f16`]). Returns a [`Status`].
///
/// # Safety
/// `src` valid for reading `len` u16 (2-byte aligned), `dst` for writing `len` f32 (4-byte
/// aligned); they must not overlap.
#[no_mangle]
pub unsafe extern "C" fn xent_f16_to_f32(src: *const u16, dst: *mut f32, len: u32) -> u32 {
    if src.is_null() || dst.is_null() {
        return Status::BadArgument as u32;
    }
    convert(slice(src, len as usize), core::slice::from_raw_parts_mut(dst, len as usize));
    Status::Ok as u32
}

/// A call's scratch (`len` floats), or `None` when it is null.
///
/// # Safety
/// A non-null `p` valid for writing `len` floats, unaliased, for `'a`.
unsafe fn scratch_slice<'a>(p: *mut f32, len: u32) -> Option<&'a mut [f32]> {
    opt_mut(p, len as usize)
}

/// [`loss_call`] for float16 logits: `kernel` gets the half bits beside the decoded arguments.
///
/// # Safety
/// As [`xent_cross_entropy_f16`]; a non-null `out` valid for writing 4 doubles.
unsafe fn half_call(
    kernel: impl FnOnce(&CrossEntropyArgs, &[u16], Outputs) -> Result<CrossEntropyResult, Error>,
    args: *const LossArgs,
    out: *mut f64,
) -> u32 {
    if out.is_null() {
        return Status::BadArgument as u32;
    }
    match decode(args, true, None) {
        Some((args, outputs, halves)) => finish(kernel(&args, halves, outputs), out),
        None => Status::BadArgument as u32,
    }
}

/// The resize of the resized loss exports (`F.interpolate` then `F.cross_entropy`, fused):
/// 5 fields of 4 bytes ([`xent_resize_args_size`]). With it, the
/// [`LossArgs`] describe the full-resolution problem (`s = out_h * out_w`: target, maps, scores,
/// `grad_output`) except `logits` and `grad`, which are `[n, c, in_h, in_w]` in `layout`.
#[repr(C)]
pub struct ResizeArgs {
    pub in_h: u32,
    pub in_w: u32,
    pub out_h: u32,
    pub out_w: u32,
    /// 0 = nearest (PyTorch's legacy 'nearest'), 1 = bilinear, 2 = bilinear with
    /// `align_corners=True`.
    pub mode: u32,
}

/// Bytes of a [`ResizeArgs`] (the TypeScript side checks its layout against this).
#[no_mangle]
pub extern "C" fn xent_resize_args_size() -> u32 {
    core::mem::size_of::<ResizeArgs>() as u32
}

/// Bytes of scratch memory that one caller (thread) of the resized exports needs for `c`
/// classes (a fixed budget of 128 KiB, more only for very many classes; 4-byte aligned).
#[no_mangle]
pub extern "C" fn xent_resize_scratch_size(c: u32) -> u32 {
    scratch_floats(c as usize).saturating_mul(4).min(u32::MAX as usize) as u32
}

/// [`xent_cross_entropy`] of the logits resized to the target's size, fused: the loss,
/// the gradient w.r.t. the low-resolution logits and every full-resolution output (see
/// [`ResizeArgs`]), with `scratch_bytes` of scratch at `scratch` (see
/// [`xent_resize_scratch_size`]). `out` and the status as in [`xent_cross_entropy`].
///
/// # Safety
/// As [`xent_cross_entropy`]; `resize` must point to a [`ResizeArgs`], `scratch` to
/// `scratch_bytes` writable bytes (4-byte aligned) that overlap nothing else.
#[no_mangle]
pub unsafe extern "C" fn xent_resize_cross_entropy(
    args: *const LossArgs,
    resize: *const ResizeArgs,
    scratch: *mut f32,
    scratch_bytes: u32,
    out: *mut f64,
) -> u32 {
    let Some(sc) = scratch_slice(scratch, scratch_bytes / 4) else {
        return Status::BadArgument as u32;
    };
    resize_call(args, resize, out, &mut |a, rs, o| resize_cross_entropy(a, rs, o, sc))
}

/// The first half of a split [`xent_resize_cross_entropy`]: checks everything, every label
/// included, and writes the denominator of 'mean' to `out[2]`. Writes nothing else.
///
/// # Safety
/// As [`xent_resize_cross_entropy`].
#[no_mangle]
pub unsafe extern "C" fn xent_resize_weight_sum(
    args: *const LossArgs,
    resize: *const ResizeArgs,
    out: *mut f64,
) -> u32 {
    resize_call(args, resize, out, &mut |a, rs, mut o| {
        resize_weight_sum(a, rs, &mut o).map(|w| CrossEntropyResult { loss: 0.0, sum: 0.0, weight_sum: w })
    })
}

/// The second half of a split [`xent_resize_cross_entropy`]: SOURCE rows `lo .. hi` of the
/// `n * in_h` (a caller zeroes their gradient, computes every output row that touches them,
/// adds only into them, and writes the outputs of the output rows whose first source row is
/// its own), with `weight_sum` from [`xent_resize_weight_sum`], adding the losses into the
/// [`ExactSum`] at `acc`. Disjoint ranges may run at the same time, each with its own scratch;
/// merged, they give the bits of one call. The first six arguments are those of
/// [`xent_cross_entropy_range`].
///
/// # Safety
/// As [`xent_resize_cross_entropy`]; `acc` must point to an initialised [`ExactSum`].
#[no_mangle]
pub unsafe extern "C" fn xent_resize_cross_entropy_range(
    args: *const LossArgs,
    weight_sum: f64,
    lo: u32,
    hi: u32,
    acc: *mut ExactSum,
    out: *mut f64,
    resize: *const ResizeArgs,
    scratch: *mut f32,
    scratch_bytes: u32,
) -> u32 {
    let Some(sc) = scratch_slice(scratch, scratch_bytes / 4) else {
        return Status::BadArgument as u32;
    };
    if acc.is_null() {
        return Status::BadArgument as u32;
    }
    resize_call(args, resize, out, &mut |a, rs, o| {
        resize_cross_entropy_range(a, rs, o, weight_sum, lo as usize, hi as usize, sc, &mut *acc)
            .map(|()| CrossEntropyResult { loss: 0.0, sum: 0.0, weight_sum })
    })
}

/// Decodes the [`LossArgs`] and [`ResizeArgs`], runs `kernel`, writes `out`.
///
/// # Safety
/// As [`xent_resize_cross_entropy`]; a non-null `out` valid for writing 4 doubles.
unsafe fn resize_call(
    args: *const LossArgs,
    resize: *const ResizeArgs,
    out: *mut f64,
    // `dyn`: one copy of the decoding for the three exports, for the module's size.
    kernel: &mut dyn FnMut(&CrossEntropyArgs, &Resize, Outputs) -> Result<CrossEntropyResult, Error>,
) -> u32 {
    if out.is_null() || resize.is_null() {
        return Status::BadArgument as u32;
    }
    let r = &*resize;
    let mode = match r.mode {
        0 => Mode::Nearest,
        1 => Mode::Bilinear,
        2 => Mode::BilinearAlignCorners,
        _ => return Status::BadArgument as u32,
    };
    let rs =
        Resize { mode, in_h: r.in_h as usize, in_w: r.in_w as usize, out_h: r.out_h as usize, out_w: r.out_w as usize };
    let Some(in_s) = rs.in_h.checked_mul(rs.in_w) else {
        return Status::BadArgument as u32;
    };
    match decode(args, false, Some(in_s)) {
        Some((args, outputs, _)) => finish(kernel(&args, &rs, outputs), out),
        None => Status::BadArgument as u32,
    }
}
