//! The fused kernel against the naive float64 reference, over random shapes (every tail of the
//! 4-lane vector and the 16-pixel tile), both target kinds, both layouts, options and value
//! distributions, plus the edge cases. NHWC runs on the transposed data and must give the same
//! bits as NCHW.
//!
//! One file of ~700 lines on purpose: the random cases and the edge cases share the case
//! builder, the guarded output buffers and the checks against the reference (`Case`, `Got`).

mod common;

use common::{close, reference, reference_prob, Reference, Rng};
use xent_kernel::lanes::portable::Portable;
use xent_kernel::{
    cross_entropy_with, Arg, CrossEntropyArgs, CrossEntropyResult, Error, Labels, Layout, Outputs, Pred, Reduction,
    Target,
};

const GUARD: f32 = 12345.678;
const PAD: usize = 19;

#[derive(Clone)]
enum Tgt {
    Index(Vec<i64>),
    Prob(Vec<f32>),
}

#[derive(Clone)]
struct Case {
    n: usize,
    c: usize,
    s: usize,
    x: Vec<f32>,
    target: Tgt,
    weight: Option<Vec<f32>>,
    ignore_index: i64,
    reduction: Reduction,
    eps: f32,
    grad_output: Option<Vec<f32>>,
    want_grad: bool,
}

impl Case {
    /// The kernel's arguments for this case: its shape and options, with the logits, target and
    /// upstream gradient as the call lays them out.
    fn args<'a>(
        &'a self,
        logits: &'a [f32],
        target: Target<'a>,
        layout: Layout,
        grad_output: Option<&'a [f32]>,
    ) -> CrossEntropyArgs<'a> {
        let Case { n, c, s, .. } = *self;
        CrossEntropyArgs {
            logits,
            target,
            n,
            c,
            s,
            layout,
            weight: self.weight.as_deref(),
            ignore_index: self.ignore_index as i32,
            reduction: self.reduction,
            label_smoothing: self.eps,
            grad_output,
        }
    }
}

/// Outputs of one kernel call, guards checked.
struct Got {
    r: CrossEntropyResult,
    grad: Vec<f32>,
    map: Vec<f32>,
    conf: Vec<f32>,
    pred: Vec<u16>,
    pred_conf: Vec<f32>,
    confusion: Vec<f64>,
}

fn red_name(r: Reduction) -> &'static str {
    match r {
        Reduction::None => "none",
        Reduction::Mean => "mean",
        Reduction::Sum => "sum",
    }
}

/// `[n, c, s]` -> `[n, s, c]`.
fn to_nhwc(x: &[f32], n: usize, c: usize, s: usize) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    for b in 0..n {
        for k in 0..c {
            for p in 0..s {
                y[b * c * s + p * c + k] = x[b * c * s + k * s + p];
            }
        }
    }
    y
}

/// Buffer with `PAD` guard values on both sides.
fn guarded(len: usize) -> Vec<f32> {
    vec![GUARD; len + 2 * PAD]
}

fn guards_intact(buf: &[f32]) -> bool {
    buf[..PAD].iter().chain(&buf[buf.len() - PAD..]).all(|&v| v == GUARD)
}

fn run(case: &Case, dtype: usize, layout: Layout, extras: bool) -> Got {
    let Case { n, c, s, .. } = *case;
    let nhwc = layout == Layout::Nhwc;
    let x = if nhwc { to_nhwc(&case.x, n, c, s) } else { case.x.clone() };
    let (u8s, u16s, i32s, q);
    let target = match &case.target {
        Tgt::Index(l) => {
            u8s = l.iter().map(|&v| v as u8).collect::<Vec<_>>();
            u16s = l.iter().map(|&v| v as u16).collect::<Vec<_>>();
            i32s = l.iter().map(|&v| v as i32).collect::<Vec<_>>();
            Target::Index(match dtype {
                0 => Labels::U8(&u8s),
                1 => Labels::U16(&u16s),
                _ => Labels::I32(&i32s),
            })
        }
        Tgt::Prob(p) => {
            q = if nhwc { to_nhwc(p, n, c, s) } else { p.clone() };
            Target::Prob(&q)
        }
    };
    let none = case.reduction == Reduction::None;
    let index = matches!(case.target, Tgt::Index(_));
    let args = case.args(&x, target, layout, if none && case.want_grad { case.grad_output.as_deref() } else { None });
    let mut grad = guarded(n * c * s);
    let mut map = guarded(n * s);
    let mut conf = guarded(n * s);
    let want_map = none || extras;
    let want_conf = extras && index;
    // Predictions: u8 or u16 (alternating with the shape), with guard values.
    let mut pred8 = vec![0xa5u8; n * s + 2 * PAD];
    let mut pred16 = vec![0xa5a5u16; n * s + 2 * PAD];
    let mut pred_conf = guarded(n * s);
    let mut confusion = vec![0.5f64; c * c];
    let pred = if !extras {
        None
    } else if (c + s) % 2 == 1 && c <= 256 {
        Some(Pred::U8(&mut pred8[PAD..PAD + n * s]))
    } else {
        Some(Pred::U16(&mut pred16[PAD..PAD + n * s]))
    };
    let out = Outputs {
        grad: case.want_grad.then(|| &mut grad[PAD..PAD + n * c * s]),
        loss_map: want_map.then(|| &mut map[PAD..PAD + n * s]),
        confidence: want_conf.then(|| &mut conf[PAD..PAD + n * s]),
        ..Default::default()
    };
    let r = cross_entropy_with::<Portable>(&args, out).unwrap();
    // The prediction outputs come with a forward-only call (scoring); a call asking for both a
    // gradient and a prediction is refused.
    if extras {
        let scored = Outputs {
            pred,
            pred_confidence: Some(&mut pred_conf[PAD..PAD + n * s]),
            confusion: index.then_some(&mut confusion[..]),
            ..Default::default()
        };
        let args = CrossEntropyArgs { grad_output: None, ..args };
        let r2 = if none {
            let mut m = vec![0.0f32; n * s];
            cross_entropy_with::<Portable>(&args, Outputs { loss_map: Some(&mut m), ..scored })
        } else {
            cross_entropy_with::<Portable>(&args, scored)
        }
        .unwrap();
        assert!(r2.loss.to_bits() == r.loss.to_bits() || (r.loss.is_nan() && r2.loss.is_nan()));
        let (mut g, mut p, mut m) = (vec![0.0f32; n * c * s], vec![0u16; n * s], vec![0.0f32; n * s]);
        let both =
            Outputs { grad: Some(&mut g), pred: Some(Pred::U16(&mut p)), loss_map: Some(&mut m), ..Default::default() };
        assert_eq!(cross_entropy_with::<Portable>(&args, both).unwrap_err(), Error::BadArgument(Arg::ScoresWithGrad));
    }
    assert!(pred8[..PAD].iter().chain(&pred8[PAD + n * s..]).all(|&v| v == 0xa5));
    assert!(pred16[..PAD].iter().chain(&pred16[PAD + n * s..]).all(|&v| v == 0xa5a5));
    assert!(guards_intact(&pred_conf));
    let pred: Vec<u16> = if (c + s) % 2 == 1 && c <= 256 {
        pred8[PAD..PAD + n * s].iter().map(|&v| v as u16).collect()
    } else {
        pred16[PAD..PAD + n * s].to_vec()
    };
    for (buf, asked) in [(&grad, case.want_grad), (&map, want_map), (&conf, want_conf)] {
        assert!(guards_intact(buf), "wrote outside an output buffer");
        if !asked {
            assert!(buf.iter().all(|&v| v == GUARD), "wrote an output that was not asked for");
        }
    }
    let mut grad = grad[PAD..PAD + n * c * s].to_vec();
    if nhwc {
        // back to NCHW for comparison
        let mut g = vec![0.0; grad.len()];
        for b in 0..n {
            for k in 0..c {
                for p in 0..s {
                    g[b * c * s + k * s + p] = grad[b * c * s + p * c + k];
                }
            }
        }
        grad = g;
    }
    Got {
        r,
        grad,
        map: map[PAD..PAD + n * s].to_vec(),
        conf: conf[PAD..PAD + n * s].to_vec(),
        pred,
        pred_conf: pred_conf[PAD..PAD + n * s].to_vec(),
        confusion: confusion.iter().map(|v| v - 0.5).collect(),
    }
}

fn want(case: &Case) -> Reference {
    let Case { n, c, s, .. } = *case;
    let red = red_name(case.reduction);
    match &case.target {
        Tgt::Index(l) => reference(
            &case.x,
            l,
            n,
            c,
            s,
            case.weight.as_deref(),
            case.ignore_index,
            red,
            case.eps as f64,
            case.grad_output.as_deref(),
        ),
        Tgt::Prob(q) => reference_prob(
            &case.x,
            q,
            n,
            c,
            s,
            case.weight.as_deref(),
            red,
            case.eps as f64,
            case.grad_output.as_deref(),
        ),
    }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// Runs NCHW and NHWC (which must agree bit for bit) and compares with the reference: loss
/// within 2e-6 * max(1, |loss|), gradient within 1e-5 * max|grad| (or of the largest term of
/// the gradient, where the exact gradient is 0 everywhere).
fn check(case: &Case, dtype: usize) {
    let extras = case.n % 2 == 1;
    let got = run(case, dtype, Layout::Nchw, extras);
    let t = run(case, dtype, Layout::Nhwc, extras);
    let tag = format!(
        "n={} c={} s={} red={:?} eps={} w={} ii={} dtype={dtype} index={}",
        case.n,
        case.c,
        case.s,
        case.reduction,
        case.eps,
        case.weight.is_some(),
        case.ignore_index,
        matches!(case.target, Tgt::Index(_))
    );
    assert!(
        t.r.loss.to_bits() == got.r.loss.to_bits() || (t.r.loss.is_nan() && got.r.loss.is_nan()),
        "{tag}: NHWC loss differs"
    );
    assert!(
        same_bits(&t.grad, &got.grad) && same_bits(&t.map, &got.map) && same_bits(&t.conf, &got.conf),
        "{tag}: NHWC differs"
    );
    assert!(
        t.pred == got.pred && same_bits(&t.pred_conf, &got.pred_conf) && t.confusion == got.confusion,
        "{tag}: NHWC differs"
    );
    if extras {
        check_pred(case, &got, &tag);
    }

    let want = want(case);
    let r = got.r;
    assert!(close(r.loss, want.loss, 2e-6 * want.loss.abs().max(1.0)), "{tag}: loss {} vs {}", r.loss, want.loss);
    assert!(close(r.weight_sum, want.weight_sum, 1e-9 * want.weight_sum.abs().max(1.0)), "{tag}: weight sum");
    assert!(close(r.sum, want.sum, 2e-6 * want.sum.abs().max(1.0)), "{tag}: sum {} vs {}", r.sum, want.sum);
    if case.reduction == Reduction::None || extras {
        for (i, (&a, &b)) in got.map.iter().zip(&want.loss_map).enumerate() {
            assert!(close(a as f64, b, 2e-6 * b.abs().max(1.0)), "{tag}: loss map [{i}] {a} vs {b}");
        }
    }
    if extras && matches!(case.target, Tgt::Index(_)) {
        for (i, (&a, &b)) in got.conf.iter().zip(&want.confidence).enumerate() {
            assert!(close(a as f64, b, 1e-6), "{tag}: confidence [{i}] {a} vs {b}");
        }
    }
    if case.want_grad {
        let scale = want.grad.iter().filter(|v| v.is_finite()).fold(want.grad_terms, |a, v| a.max(v.abs()));
        for (i, (&a, &b)) in got.grad.iter().zip(&want.grad).enumerate() {
            assert!(
                close(a as f64, b, 1e-5 * scale),
                "{tag}: grad [{i}] {a} vs {b}\nx={:?}\nw={:?}",
                case.x,
                case.weight
            );
        }
    }
}

/// Argmax (first maximum, the first NaN winning, as torch.argmax), its softmax probability
/// and the confusion matrix, against a plain computation.
fn check_pred(case: &Case, got: &Got, tag: &str) {
    let Case { n, c, s, .. } = *case;
    let mut confusion = vec![0.0f64; c * c];
    for b in 0..n {
        for p in 0..s {
            let xs: Vec<f32> = (0..c).map(|k| case.x[b * c * s + k * s + p]).collect();
            let mut best = 0;
            for k in 1..c {
                if xs[best].is_nan() {
                    break;
                }
                if xs[k].is_nan() || xs[k] > xs[best] {
                    best = k;
                }
            }
            let i = b * s + p;
            assert_eq!(got.pred[i] as usize, best, "{tag}: pred [{i}] of {xs:?}");
            let m = xs[best] as f64;
            let z: f64 = xs.iter().map(|&v| (v as f64 - m).exp()).sum();
            assert!(
                close(got.pred_conf[i] as f64, 1.0 / z, 1e-6),
                "{tag}: pred confidence [{i}] {} vs {}",
                got.pred_conf[i],
                1.0 / z
            );
            if let Tgt::Index(l) = &case.target {
                if l[i] != case.ignore_index {
                    confusion[l[i] as usize * c + best] += 1.0;
                }
            }
        }
    }
    if matches!(case.target, Tgt::Index(_)) {
        assert_eq!(got.confusion, confusion, "{tag}: confusion");
    }
}

fn random_case(rng: &mut Rng, finite_only: bool) -> Case {
    let n = 1 + rng.below(3);
    let c = match rng.below(10) {
        0 => 1,
        1 => 2,
        2 => 150,
        _ => 1 + rng.below(24),
    };
    let s = match rng.below(4) {
        0 => 1 + rng.below(16),
        1 => 16 * (1 + rng.below(3)) + rng.below(16),
        2 => 1,
        _ => 1 + rng.below(70),
    };
    let spread = [1.0, 4.0, 30.0, 1e4][rng.below(4)];
    let mut x: Vec<f32> = (0..n * c * s).map(|_| rng.uniform(-spread, spread)).collect();
    if !finite_only && rng.below(4) == 0 {
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(x.len());
            x[i] = [f32::NAN, f32::NEG_INFINITY, f32::INFINITY, f32::NEG_INFINITY][rng.below(4)];
        }
    }
    let ignore_index = [-100i64, 255, 0, 3][rng.below(4)];
    let target = if rng.below(4) == 0 {
        let mut q: Vec<f32> = (0..n * c * s).map(|_| rng.uniform(0.0, 1.0)).collect();
        if rng.below(2) == 0 {
            // normalised rows
            for b in 0..n {
                for p in 0..s {
                    let z: f32 = (0..c).map(|k| q[b * c * s + k * s + p]).sum();
                    (0..c).for_each(|k| q[b * c * s + k * s + p] /= z);
                }
            }
        }
        Tgt::Prob(q)
    } else {
        let p_ignore = [0.0, 0.05, 0.5, 1.0][rng.below(4)];
        Tgt::Index((0..n * s).map(|_| if rng.f64() < p_ignore { ignore_index } else { rng.below(c) as i64 }).collect())
    };
    let weight = (rng.below(2) == 0)
        .then(|| (0..c).map(|_| if rng.below(6) == 0 { 0.0 } else { rng.uniform(0.1, 3.0) }).collect());
    let reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][rng.below(3)];
    let eps = [0.0f32, 0.0, 0.1, 0.37, 1.0][rng.below(5)];
    let grad_output = Some((0..n * s).map(|_| rng.uniform(-2.0, 2.0)).collect());
    Case { n, c, s, x, target, weight, ignore_index, reduction, eps, grad_output, want_grad: rng.below(4) != 0 }
}

#[test]
fn fuzz_against_float64_reference() {
    let mut rng = Rng(0x5eed);
    for i in 0..3000 {
        let case = random_case(&mut rng, i % 2 == 0);
        // u8 and u16 label maps only where the labels fit them.
        let dtype = if case.ignore_index >= 0 { i % 3 } else { 2 };
        check(&case, dtype);
    }
}

/// Two classes take their own tile (one exp per pixel) in both layouts; ranges of fewer than
/// 16 pixels take the general (narrow) tile, and must give the same bits: every option, ignore
/// indices that are a class (0, 1), and infinities and NaNs in many pixels.
#[test]
fn two_classes_match_the_general_tile() {
    let mut rng = Rng(0xc2);
    for i in 0..1500 {
        let mut case = random_case(&mut rng, i % 3 == 0);
        case.c = 2;
        case.s = 16 * (1 + rng.below(4)) + rng.below(20);
        let (n, s) = (case.n, case.s);
        let spread = [1.0, 8.0, 100.0][rng.below(3)];
        case.x = (0..n * 2 * s).map(|_| rng.uniform(-spread, spread)).collect();
        if i % 3 != 0 {
            for _ in 0..rng.below(n * s) {
                let j = rng.below(case.x.len());
                case.x[j] = [f32::NAN, f32::NEG_INFINITY, f32::INFINITY, 0.0][rng.below(4)];
            }
        }
        case.ignore_index = [-100i64, 0, 1, 255][rng.below(4)];
        case.target = if rng.below(5) == 0 {
            Tgt::Prob((0..n * 2 * s).map(|_| rng.uniform(0.0, 1.0)).collect())
        } else {
            let p_ignore = [0.0, 0.2, 1.0][rng.below(3)];
            let ii = case.ignore_index;
            Tgt::Index((0..n * s).map(|_| if rng.f64() < p_ignore { ii } else { rng.below(2) as i64 }).collect())
        };
        case.weight = (rng.below(2) == 0).then(|| vec![rng.uniform(0.0, 3.0), rng.uniform(0.0, 3.0)]);
        case.grad_output = Some((0..n * s).map(|_| rng.uniform(-2.0, 2.0)).collect());
        let dtype = if case.ignore_index >= 0 { i % 3 } else { 2 };
        check(&case, dtype);
        let cuts: Vec<usize> = (0..n * s).step_by(15).chain([n * s]).collect();
        let layout = if i % 2 == 0 { Layout::Nchw } else { Layout::Nhwc };
        split_matches_whole(&case, layout, &cuts, &format!("two classes, case {i}"));
    }
}

/// Up to 256 classes a wide tile goes through a scratch tile and leaves its gradient to the
/// next one; beyond, it works in place: both sides of the limit, every option, against the
/// reference and NHWC.
#[test]
fn many_classes_with_and_without_the_scratch_tile() {
    let mut rng = Rng(0x256);
    for i in 0..60 {
        let mut case = random_case(&mut rng, i % 2 == 0);
        case.c = [255, 256, 257, 300, 520][i % 5];
        case.s = 16 * (1 + rng.below(3)) + rng.below(20);
        let (n, c, s) = (case.n, case.c, case.s);
        case.x = (0..n * c * s).map(|_| rng.uniform(-8.0, 8.0)).collect();
        case.ignore_index = -100;
        case.target = if rng.below(4) == 0 {
            Tgt::Prob((0..n * c * s).map(|_| rng.uniform(0.0, 1.0)).collect())
        } else {
            Tgt::Index((0..n * s).map(|_| if rng.below(10) == 0 { -100 } else { rng.below(c) as i64 }).collect())
        };
        case.weight = (rng.below(2) == 0).then(|| (0..c).map(|_| rng.uniform(0.1, 3.0)).collect());
        case.grad_output = Some((0..n * s).map(|_| rng.uniform(-2.0, 2.0)).collect());
        case.want_grad = i % 3 != 0;
        check(&case, 2);
    }
}

/// Calls of 4 Mi logits or more, NCHW index targets of 24 to 256 classes (40 without the
/// gradient), go by strips of up to 240 pixels (copied into a scratch buffer, their gradient
/// written back a class row at a time), NHWC and smaller ranges by tiles: a few such calls,
/// rows long enough for many strips and a short one, class counts on both sides of the strip
/// lengths' steps, every option, against the reference and NHWC bit for bit, and split into
/// ranges (whose smaller parts go by tiles).
#[test]
fn strips_match_the_tiles() {
    let mut rng = Rng(0x5719);
    for (i, c) in [23, 24, 40, 64, 150, 171, 256, 257].into_iter().enumerate() {
        let mut case = random_case(&mut rng, i % 2 == 0);
        case.c = c;
        case.s = ((4 << 20) / c).div_ceil(case.n) + rng.below(500);
        let (n, s) = (case.n, case.s);
        case.x = (0..n * c * s).map(|_| rng.uniform(-8.0, 8.0)).collect();
        let ii = case.ignore_index;
        case.target =
            Tgt::Index((0..n * s).map(|_| if rng.below(10) == 0 { ii } else { rng.below(c) as i64 }).collect());
        case.weight = (rng.below(2) == 0).then(|| (0..c).map(|_| rng.uniform(0.1, 3.0)).collect());
        case.grad_output = Some((0..n * s).map(|_| rng.uniform(-2.0, 2.0)).collect());
        case.want_grad = i % 4 != 3;
        // u8 labels only where the classes fit them, u16 where the ignore index does.
        let dtype = if ii < 0 {
            2
        } else if c <= 255 {
            i % 3
        } else {
            1 + i % 2
        };
        check(&case, dtype);
        let mut cuts: Vec<usize> = (0..1 + rng.below(3)).map(|_| rng.below(n * s + 1)).collect();
        cuts.extend([0, n * s]);
        cuts.sort();
        split_matches_whole(&case, Layout::Nchw, &cuts, &format!("strips, {c} classes"));
    }
}

#[test]
fn every_tail_of_the_tile() {
    let mut rng = Rng(7);
    for s in 1..=50 {
        for &c in &[1, 2, 3, 5, 19] {
            let x: Vec<f32> = (0..2 * c * s).map(|_| rng.uniform(-5.0, 5.0)).collect();
            let labels: Vec<i64> = (0..2 * s).map(|_| rng.below(c) as i64).collect();
            let q: Vec<f32> = (0..2 * c * s).map(|_| rng.uniform(0.0, 1.0)).collect();
            for reduction in [Reduction::Mean, Reduction::None] {
                for target in [Tgt::Index(labels.clone()), Tgt::Prob(q.clone())] {
                    let case = Case {
                        n: 2,
                        c,
                        s,
                        x: x.clone(),
                        target,
                        weight: None,
                        ignore_index: -100,
                        reduction,
                        eps: 0.1,
                        grad_output: Some(vec![1.5; 2 * s]),
                        want_grad: true,
                    };
                    check(&case, 2);
                    check(&Case { n: 1, s: 2 * s, ..case }, 2);
                }
            }
        }
    }
}

fn index_args<'a>(x: &'a [f32], labels: Labels<'a>, n: usize, c: usize, s: usize) -> CrossEntropyArgs<'a> {
    CrossEntropyArgs {
        logits: x,
        target: Target::Index(labels),
        n,
        c,
        s,
        layout: Layout::Nchw,
        weight: None,
        ignore_index: -100,
        reduction: Reduction::Mean,
        label_smoothing: 0.0,
        grad_output: None,
    }
}

#[test]
fn seed_example() {
    // PyTorch (float64) gives 1.0065702579739924 (test/fixtures/cross_entropy_index.json, "seed").
    let x = [0.12f32, 0.36, 0.22, 0.66, 0.13, 0.34, 0.52, -0.96];
    let args = index_args(&x, Labels::I32(&[1, 0, 0, 1]), 1, 2, 4);
    let r = cross_entropy_with::<Portable>(&args, Outputs::default()).unwrap();
    let want = reference(&x, &[1, 0, 0, 1], 1, 2, 4, None, -100, "mean", 0.0, None).loss;
    assert!((r.loss - want).abs() < 2e-7, "{} vs {want}", r.loss);
    assert_eq!(r.weight_sum, 4.0);
}

#[test]
fn huge_logits_do_not_overflow() {
    // exp(88) and exp(3e4) overflow float32: only the max subtraction keeps these finite.
    let x = vec![1e4f32, -1e4, 3e4, 8e3, 88.0, 89.0, -1e4, -1e4 - 2.0];
    for reduction in [Reduction::None, Reduction::Sum] {
        for target in [Tgt::Index(vec![1, 0, 1, 1]), Tgt::Prob(vec![0.25, 0.75, 1.0, 0.0, 0.5, 0.5, 0.0, 1.0])] {
            check(
                &Case {
                    n: 4,
                    c: 2,
                    s: 1,
                    x: x.clone(),
                    target,
                    weight: None,
                    ignore_index: -100,
                    reduction,
                    eps: 0.25,
                    grad_output: Some(vec![1.0; 4]),
                    want_grad: true,
                },
                2,
            );
        }
    }
}

#[test]
fn all_ignored_mean_is_nan_like_pytorch() {
    let x = [0.5f32; 8];
    for eps in [0.0, 0.2] {
        let args = CrossEntropyArgs {
            ignore_index: 255,
            label_smoothing: eps,
            ..index_args(&x, Labels::U8(&[255; 4]), 1, 2, 4)
        };
        let mut g = [9.0f32; 8];
        let r = cross_entropy_with::<Portable>(&args, Outputs { grad: Some(&mut g), ..Default::default() }).unwrap();
        assert!(r.loss.is_nan());
        assert_eq!((r.sum, r.weight_sum), (0.0, 0.0));
        assert!(g.iter().all(|&v| v == 0.0));
    }
}

#[test]
fn bad_input_writes_nothing() {
    let x = [0.0f32; 12];
    let mut g = [7.0f32; 12];
    let mut map = [7.0f32; 4];
    let args = index_args(&x, Labels::I32(&[0, 1, 3, 2]), 1, 3, 4);
    let mut call = |a: &CrossEntropyArgs| {
        cross_entropy_with::<Portable>(
            a,
            Outputs { grad: Some(&mut g), loss_map: Some(&mut map), ..Default::default() },
        )
    };
    assert_eq!(call(&args), Err(Error::TargetOutOfBounds { index: 2, value: 3 }));
    let neg = [0i32, -1, 1, 2];
    assert_eq!(
        call(&CrossEntropyArgs { target: Target::Index(Labels::I32(&neg)), ..args }),
        Err(Error::TargetOutOfBounds { index: 1, value: -1 })
    );
    let ok = Target::Index(Labels::I32(&[0, 1, 1, 2]));
    let q = [0.5f32; 12];
    for (bad, arg) in [
        (CrossEntropyArgs { target: ok, label_smoothing: 1.5, ..args }, Arg::LabelSmoothing),
        (CrossEntropyArgs { target: ok, label_smoothing: -0.1, ..args }, Arg::LabelSmoothing),
        (CrossEntropyArgs { target: ok, label_smoothing: f32::NAN, ..args }, Arg::LabelSmoothing),
        (CrossEntropyArgs { target: ok, c: 4, ..args }, Arg::LogitsLen),
        (CrossEntropyArgs { target: ok, weight: Some(&[1.0, 2.0]), ..args }, Arg::WeightLen),
        (CrossEntropyArgs { target: ok, reduction: Reduction::None, ..args }, Arg::GradOutputMissing),
        (CrossEntropyArgs { target: ok, c: 0, s: 4, ..args }, Arg::NoClasses),
        (CrossEntropyArgs { target: Target::Prob(&q[..11]), ..args }, Arg::TargetLen),
    ] {
        assert_eq!(call(&bad), Err(Error::BadArgument(arg)));
    }
    assert!(g.iter().chain(&map).all(|&v| v == 7.0));
}

#[test]
fn batch_split_gives_the_same_bits() {
    // Per-sample losses and 'sum'/'none' gradients are local: splitting the batch changes no
    // bit. The sum is the exactly rounded sum of the loss map, whatever the split.
    let mut rng = Rng(31);
    for _ in 0..50 {
        let mut case = random_case(&mut rng, false);
        if case.reduction == Reduction::Mean {
            case.reduction = Reduction::Sum;
        }
        case.n = 4;
        let per = case.c * case.s;
        case.x = (0..4 * per).map(|_| rng.uniform(-6.0, 6.0)).collect();
        case.target = Tgt::Index((0..4 * case.s).map(|_| rng.below(case.c) as i64).collect());
        case.grad_output = Some((0..4 * case.s).map(|_| rng.uniform(-1.0, 1.0)).collect());
        case.want_grad = true;
        let whole = run(&case, 2, Layout::Nchw, true);
        let mut exact = xent_kernel::ExactSum::default();
        whole.map.iter().for_each(|&v| exact.add(v));
        assert_eq!(whole.r.sum.to_bits(), exact.value().to_bits());
        for cut in 1..4 {
            let part = |lo: usize, hi: usize| Case {
                n: hi - lo,
                x: case.x[lo * per..hi * per].to_vec(),
                target: match &case.target {
                    Tgt::Index(l) => Tgt::Index(l[lo * case.s..hi * case.s].to_vec()),
                    Tgt::Prob(_) => unreachable!(),
                },
                grad_output: case.grad_output.as_ref().map(|g| g[lo * case.s..hi * case.s].to_vec()),
                ..case.clone()
            };
            let (a, b) = (run(&part(0, cut), 2, Layout::Nchw, true), run(&part(cut, 4), 2, Layout::Nchw, true));
            assert!(same_bits(&[a.grad, b.grad].concat(), &whole.grad));
            assert!(same_bits(&[a.map, b.map].concat(), &whole.map));
        }
    }
}

#[test]
fn split_ranges_merge_to_the_same_bits() {
    let mut rng = Rng(77);
    for i in 0..200 {
        let case = random_case(&mut rng, i % 2 == 0);
        let layout = if i % 3 == 0 { Layout::Nhwc } else { Layout::Nchw };
        let mut cuts: Vec<usize> = (0..rng.below(4)).map(|_| rng.below(case.n * case.s + 1)).collect();
        cuts.extend([0, case.n * case.s]);
        cuts.sort();
        split_matches_whole(&case, layout, &cuts, &format!("case {i}"));
    }
}

/// What threads do: validate once (weight_sum), run the sample ranges between `cuts` (sorted,
/// from 0 to n*s), merge the sums; the loss, weight sum, gradient and loss map must have the
/// bits of one whole call.
fn split_matches_whole(case: &Case, layout: Layout, cuts: &[usize], tag: &str) {
    use xent_kernel::{cross_entropy_range_with, reduce, weight_sum, ExactSum};
    let Case { n, c, s, .. } = *case;
    let labels: Vec<i32> = match &case.target {
        Tgt::Index(l) => l.iter().map(|&v| v as i32).collect(),
        Tgt::Prob(_) => vec![],
    };
    let target = match &case.target {
        Tgt::Index(_) => Target::Index(Labels::I32(&labels)),
        Tgt::Prob(q) => Target::Prob(q),
    };
    let none = case.reduction == Reduction::None;
    let args = case.args(&case.x, target, layout, none.then(|| case.grad_output.as_deref().unwrap()));
    let (mut g1, mut m1) = (vec![0.0f32; n * c * s], vec![0.0f32; n * s]);
    let whole = cross_entropy_with::<Portable>(
        &args,
        Outputs { grad: Some(&mut g1), loss_map: Some(&mut m1), ..Default::default() },
    )
    .unwrap();
    let (mut g2, mut m2) = (vec![7.0f32; n * c * s], vec![7.0f32; n * s]);
    // Each call gets its own view of the output buffers, as a thread would.
    let (g, m) = (g2.as_mut_ptr(), m2.as_mut_ptr());
    // SAFETY: g2 and m2 outlive the views, and the calls below use them one at a time (each
    // writes its own range).
    let outputs = || unsafe {
        Outputs {
            grad: Some(std::slice::from_raw_parts_mut(g, n * c * s)),
            loss_map: Some(std::slice::from_raw_parts_mut(m, n * s)),
            ..Default::default()
        }
    };
    let w = weight_sum(&args, &outputs()).unwrap();
    let mut total = ExactSum::default();
    for pair in cuts.windows(2) {
        let mut part = ExactSum::default();
        cross_entropy_range_with::<Portable>(&args, outputs(), w, pair[0], pair[1], &mut part).unwrap();
        total.merge(&part);
    }
    let split = reduce(&args, total.value(), w);
    assert!(split.loss.to_bits() == whole.loss.to_bits() || (split.loss.is_nan() && whole.loss.is_nan()), "{tag}");
    assert_eq!(split.weight_sum.to_bits(), whole.weight_sum.to_bits());
    assert!(same_bits(&g1, &g2) && same_bits(&m1, &m2), "{tag}: outputs differ");
}
