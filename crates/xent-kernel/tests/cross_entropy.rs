//! The fused kernel against the naive float64 reference, over random shapes (every tail of the
//! 4-lane vector and the 16-pixel tile), options and value distributions, plus the edge cases.

mod common;

use common::{close, reference, Rng};
use xent_kernel::lanes::portable::Portable;
use xent_kernel::{cross_entropy_with, CrossEntropyArgs, Error, Labels, Reduction};

const GUARD: f32 = 12345.678;
const PAD: usize = 19;

struct Case {
    n: usize,
    c: usize,
    s: usize,
    x: Vec<f32>,
    labels: Vec<i64>,
    weight: Option<Vec<f32>>,
    ignore_index: i64,
    reduction: Reduction,
    eps: f32,
    grad_output: Option<Vec<f32>>,
    want_grad: bool,
}

fn red_name(r: Reduction) -> &'static str {
    match r {
        Reduction::None => "none",
        Reduction::Mean => "mean",
        Reduction::Sum => "sum",
    }
}

/// Runs the kernel with guard-padded outputs, checks the guards, and compares with the
/// reference: loss within 2e-6 * max(1, |loss|), gradient within 1e-5 * max|grad| (or of the
/// largest term of the gradient, where the exact gradient is 0 everywhere).
fn check(case: &Case, dtype: usize) {
    let Case { n, c, s, .. } = *case;
    let u8s: Vec<u8> = case.labels.iter().map(|&v| v as u8).collect();
    let u16s: Vec<u16> = case.labels.iter().map(|&v| v as u16).collect();
    let i32s: Vec<i32> = case.labels.iter().map(|&v| v as i32).collect();
    let labels = match dtype {
        0 => Labels::U8(&u8s),
        1 => Labels::U16(&u16s),
        _ => Labels::I32(&i32s),
    };
    let none = case.reduction == Reduction::None;
    let args = CrossEntropyArgs {
        logits: &case.x,
        labels,
        n,
        c,
        s,
        weight: case.weight.as_deref(),
        ignore_index: case.ignore_index as i32,
        reduction: case.reduction,
        label_smoothing: case.eps,
        grad_output: if none && case.want_grad { case.grad_output.as_deref() } else { None },
    };
    let mut grad = vec![GUARD; n * c * s + 2 * PAD];
    let mut map = vec![GUARD; n * s + 2 * PAD];
    let (g, rest) = grad.split_at_mut(PAD);
    let _ = g;
    let (g, _) = rest.split_at_mut(n * c * s);
    let (_, rest) = map.split_at_mut(PAD);
    let (lm, _) = rest.split_at_mut(n * s);
    let r = cross_entropy_with::<Portable>(
        &args,
        case.want_grad.then_some(g),
        none.then_some(lm),
    )
    .unwrap();
    assert!(grad[..PAD].iter().chain(&grad[PAD + n * c * s..]).all(|&v| v == GUARD));
    assert!(map[..PAD].iter().chain(&map[PAD + n * s..]).all(|&v| v == GUARD));
    if !case.want_grad {
        assert!(grad.iter().all(|&v| v == GUARD), "grad written without being asked");
    }
    if !none {
        assert!(map.iter().all(|&v| v == GUARD), "loss map written for a reduced loss");
    }

    let want = reference(
        &case.x,
        &case.labels,
        n,
        c,
        s,
        case.weight.as_deref(),
        case.ignore_index,
        red_name(case.reduction),
        case.eps as f64,
        case.grad_output.as_deref(),
    );
    let tag = format!(
        "n={n} c={c} s={s} red={:?} eps={} w={} ii={} dtype={dtype}",
        case.reduction,
        case.eps,
        case.weight.is_some(),
        case.ignore_index
    );
    assert!(close(r.loss, want.loss, 2e-6 * want.loss.abs().max(1.0)), "{tag}: loss {} vs {}", r.loss, want.loss);
    assert!(close(r.weight_sum, want.weight_sum, 1e-9 * want.weight_sum.abs().max(1.0)), "{tag}: weight sum");
    assert!(close(r.sum, want.sum, 2e-6 * want.sum.abs().max(1.0)), "{tag}: sum {} vs {}", r.sum, want.sum);
    if none {
        for (i, (&a, &b)) in map[PAD..PAD + n * s].iter().zip(&want.loss_map).enumerate() {
            assert!(close(a as f64, b, 2e-6 * b.abs().max(1.0)), "{tag}: loss map [{i}] {a} vs {b}");
        }
    }
    if case.want_grad {
        let scale = want.grad.iter().filter(|v| v.is_finite()).fold(want.grad_terms, |a, v| a.max(v.abs()));
        for (i, (&a, &b)) in grad[PAD..PAD + n * c * s].iter().zip(&want.grad).enumerate() {
            assert!(close(a as f64, b, 1e-5 * scale), "{tag}: grad [{i}] {a} vs {b}\nx={:?}\nlabels={:?} w={:?}", case.x, case.labels, case.weight);
        }
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
    let p_ignore = [0.0, 0.05, 0.5, 1.0][rng.below(4)];
    let labels: Vec<i64> = (0..n * s)
        .map(|_| if rng.f64() < p_ignore { ignore_index } else { rng.below(c) as i64 })
        .collect();
    let weight = (rng.below(2) == 0).then(|| {
        (0..c).map(|_| if rng.below(6) == 0 { 0.0 } else { rng.uniform(0.1, 3.0) }).collect()
    });
    let reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][rng.below(3)];
    let eps = [0.0f32, 0.0, 0.1, 0.37, 1.0][rng.below(5)];
    let grad_output = Some((0..n * s).map(|_| rng.uniform(-2.0, 2.0)).collect());
    Case { n, c, s, x, labels, weight, ignore_index, reduction, eps, grad_output, want_grad: rng.below(4) != 0 }
}

#[test]
fn fuzz_against_float64_reference() {
    let mut rng = Rng(0x5eed);
    for i in 0..3000 {
        let case = random_case(&mut rng, i % 2 == 0);
        check(&case, if case.ignore_index == 255 || case.ignore_index >= 0 { i % 3 } else { 2 });
    }
}

#[test]
fn every_tail_of_the_tile() {
    let mut rng = Rng(7);
    for s in 1..=50 {
        for &c in &[1, 2, 3, 5, 19] {
            let x = (0..2 * c * s).map(|_| rng.uniform(-5.0, 5.0)).collect();
            let labels = (0..2 * s).map(|_| rng.below(c) as i64).collect();
            for reduction in [Reduction::Mean, Reduction::None] {
                check(
                    &Case {
                        n: 2, c, s, x: Vec::clone(&x), labels: Vec::clone(&labels), weight: None,
                        ignore_index: -100, reduction, eps: 0.1,
                        grad_output: Some(vec![1.5; 2 * s]), want_grad: true,
                    },
                    2,
                );
            }
        }
    }
}

#[test]
fn seed_example() {
    // PyTorch (float64): F.cross_entropy(x, t) = 1.0065702579739924 (test/fixtures/cross_entropy_index.json, "seed").
    let x = [0.12f32, 0.36, 0.22, 0.66, 0.13, 0.34, 0.52, -0.96];
    let t = [1i32, 0, 0, 1];
    let args = CrossEntropyArgs {
        logits: &x, labels: Labels::I32(&t), n: 1, c: 2, s: 4, weight: None, ignore_index: -100,
        reduction: Reduction::Mean, label_smoothing: 0.0, grad_output: None,
    };
    let r = cross_entropy_with::<Portable>(&args, None, None).unwrap();
    let want = reference(&x, &[1, 0, 0, 1], 1, 2, 4, None, -100, "mean", 0.0, None).loss;
    assert!((r.loss - want).abs() < 2e-7, "{} vs {want}", r.loss);
    assert_eq!(r.weight_sum, 4.0);
}

#[test]
fn huge_logits_do_not_overflow() {
    // exp(88) and exp(3e4) overflow float32: only the max subtraction keeps these finite.
    let x = [1e4f32, -1e4, 3e4, 8e3, 88.0, 89.0, -1e4, -1e4 - 2.0];
    for reduction in [Reduction::None, Reduction::Sum] {
        check(
            &Case {
                n: 4, c: 2, s: 1, x: x.to_vec(), labels: vec![1, 0, 1, 1], weight: None,
                ignore_index: -100, reduction, eps: 0.25, grad_output: Some(vec![1.0; 4]),
                want_grad: true,
            },
            2,
        );
    }
}

#[test]
fn all_ignored_mean_is_nan_like_pytorch() {
    let x = [0.5f32; 8];
    let t = [255u8; 4];
    for eps in [0.0, 0.2] {
        let args = CrossEntropyArgs {
            logits: &x, labels: Labels::U8(&t), n: 1, c: 2, s: 4, weight: None, ignore_index: 255,
            reduction: Reduction::Mean, label_smoothing: eps, grad_output: None,
        };
        let mut g = [9.0f32; 8];
        let r = cross_entropy_with::<Portable>(&args, Some(&mut g), None).unwrap();
        assert!(r.loss.is_nan());
        assert_eq!((r.sum, r.weight_sum), (0.0, 0.0));
        assert!(g.iter().all(|&v| v == 0.0));
    }
}

#[test]
fn bad_input_writes_nothing() {
    let x = [0.0f32; 12];
    let t = [0i32, 1, 3, 2];
    let mut g = [7.0f32; 12];
    let args = CrossEntropyArgs {
        logits: &x, labels: Labels::I32(&t), n: 1, c: 3, s: 4, weight: None, ignore_index: -100,
        reduction: Reduction::Mean, label_smoothing: 0.0, grad_output: None,
    };
    assert_eq!(
        cross_entropy_with::<Portable>(&args, Some(&mut g), None),
        Err(Error::TargetOutOfBounds { index: 2, value: 3 })
    );
    let neg = [0i32, -1, 1, 2];
    let args = CrossEntropyArgs { labels: Labels::I32(&neg), ..args };
    assert_eq!(
        cross_entropy_with::<Portable>(&args, Some(&mut g), None),
        Err(Error::TargetOutOfBounds { index: 1, value: -1 })
    );
    let ok = [0i32, 1, 1, 2];
    for bad in [
        CrossEntropyArgs { labels: Labels::I32(&ok), label_smoothing: 1.5, ..args },
        CrossEntropyArgs { labels: Labels::I32(&ok), label_smoothing: f32::NAN, ..args },
        CrossEntropyArgs { labels: Labels::I32(&ok), c: 4, ..args },
        CrossEntropyArgs { labels: Labels::I32(&ok), weight: Some(&[1.0, 2.0]), ..args },
        CrossEntropyArgs { labels: Labels::I32(&ok), reduction: Reduction::None, ..args },
        CrossEntropyArgs { labels: Labels::I32(&ok), c: 0, s: 4, ..args },
    ] {
        assert_eq!(cross_entropy_with::<Portable>(&bad, Some(&mut g), None), Err(Error::BadArgument));
    }
    assert!(g.iter().all(|&v| v == 7.0));
}
