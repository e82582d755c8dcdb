//! Float16 logits: the conversion of every half value against a decoder written from the
//! format's definition (in f64), and the float16 calls against the f32 calls on the same
//! values, bit for bit, whatever the scratch size (strip width) and the range split.

mod common;

use common::Rng;
use xent_kernel::half::convert::{convert, f16_to_f32};
use xent_kernel::lanes::portable::Portable;
use xent_kernel::{
    cross_entropy_f16_range_with, cross_entropy_f16_with, cross_entropy_with, weight_sum_f16, Arg, CrossEntropyArgs,
    Error, ExactSum, Labels, Layout, Outputs, Pred, Reduction, Target,
};

/// A half's value from the definition: (-1)^s 2^(e-15) (1 + m/1024), subnormals 2^-14 m/1024.
fn decode(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let (e, m) = (((h >> 10) & 0x1f) as i32, (h & 0x3ff) as f64);
    sign * match e {
        0 => 2f64.powi(-14) * m / 1024.0,
        31 if m == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => 2f64.powi(e - 15) * (1.0 + m / 1024.0),
    }
}

#[test]
fn every_half_converts_exactly() {
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let mut out = vec![0.0f32; all.len()];
    convert(&all, &mut out);
    for (&h, &f) in all.iter().zip(&out) {
        assert_eq!(f.to_bits(), f16_to_f32(h).to_bits(), "{h:#06x}: convert and f16_to_f32 differ");
        let want = decode(h);
        if want.is_nan() {
            // The sign and the payload kept (shifted to the top of the mantissa).
            let bits = ((h as u32 & 0x8000) << 16) | 0x7f80_0000 | ((h as u32 & 0x3ff) << 13);
            assert_eq!(f.to_bits(), bits, "{h:#06x}: NaN");
        } else {
            assert_eq!(f as f64, want, "{h:#06x}");
            // Signed zeros keep their sign.
            assert_eq!(f.is_sign_negative(), h & 0x8000 != 0, "{h:#06x}: sign");
        }
    }
}

/// One case: half logits (as bits, and as the f32 of the same values).
struct Case {
    n: usize,
    c: usize,
    s: usize,
    layout: Layout,
    halves: Vec<u16>,
    labels: Vec<u16>,
    probs: Vec<f32>,
}

fn case(rng: &mut Rng, nhwc: bool) -> Case {
    let (n, c, s) = (1 + rng.below(3), 1 + rng.below(24), 1 + rng.below(70));
    // Random finite halves of moderate size (exponents 0..=18: subnormals up to 16), some
    // negative, now and then an infinity.
    let halves = (0..n * c * s)
        .map(|_| {
            if rng.below(200) == 0 {
                return 0x7c00 | ((rng.below(2) as u16) << 15);
            }
            ((rng.below(2) as u16) << 15) | ((rng.below(19) as u16) << 10) | rng.below(1024) as u16
        })
        .collect();
    let labels = (0..n * s).map(|_| if rng.below(10) == 0 { 255 } else { rng.below(c) as u16 }).collect();
    let probs = (0..n * c * s).map(|_| rng.uniform(0.0, 1.0)).collect();
    Case { n, c, s, layout: if nhwc { Layout::Nhwc } else { Layout::Nchw }, halves, labels, probs }
}

#[derive(Default, PartialEq, Debug)]
struct Got {
    loss: u64,
    grad: Vec<u32>,
    map: Vec<u32>,
    pred: Vec<u16>,
    pred_conf: Vec<u32>,
    confusion: Vec<u64>,
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Runs `k` (f32 = 0, f16 whole = 1, f16 split in `parts` with `scratch` floats each = 2).
fn run(cs: &Case, prob: bool, grad: bool, score: bool, red: Reduction, how: usize, scratch: usize) -> Got {
    let len = cs.n * cs.c * cs.s;
    let x: Vec<f32> = cs.halves.iter().map(|&h| f16_to_f32(h)).collect();
    let go: Vec<f32> = (0..cs.n * cs.s).map(|i| 0.25 + i as f32 / 64.0).collect();
    let args = CrossEntropyArgs {
        logits: if how == 0 { &x } else { &[] },
        target: if prob { Target::Prob(&cs.probs) } else { Target::Index(Labels::U16(&cs.labels)) },
        n: cs.n,
        c: cs.c,
        s: cs.s,
        layout: cs.layout,
        weight: None,
        ignore_index: if prob { -100 } else { 255 },
        reduction: red,
        label_smoothing: 0.125,
        grad_output: (grad && red == Reduction::None).then_some(&go[..]),
    };
    let (mut g, mut map) = (vec![0.0f32; len], vec![0.0f32; cs.n * cs.s]);
    let (mut pred, mut pc, mut cm) = (vec![0u16; cs.n * cs.s], vec![0.0f32; cs.n * cs.s], vec![0.0f64; cs.c * cs.c]);
    let out = Outputs {
        grad: grad.then_some(&mut g[..]),
        loss_map: Some(&mut map),
        pred: score.then_some(Pred::U16(&mut pred)),
        pred_confidence: score.then_some(&mut pc[..]),
        confusion: (score && !prob).then_some(&mut cm[..]),
        ..Default::default()
    };
    let mut sc = vec![0.0f32; scratch];
    let loss = match how {
        0 => cross_entropy_with::<Portable>(&args, out).unwrap().loss,
        1 => cross_entropy_f16_with::<Portable>(&args, &cs.halves, out, &mut sc).unwrap().loss,
        _ => {
            let mut out = out;
            let ws = weight_sum_f16(&args, &cs.halves, &mut out).unwrap();
            let total = cs.n * cs.s;
            let cut = total / 3;
            let mut acc = ExactSum::default();
            for (lo, hi) in [(0, cut), (cut, total)] {
                let o = Outputs {
                    grad: out.grad.as_deref_mut(),
                    loss_map: out.loss_map.as_deref_mut(),
                    pred: out.pred.as_mut().map(|p| match p {
                        Pred::U16(p) => Pred::U16(&mut p[..]),
                        Pred::U8(p) => Pred::U8(&mut p[..]),
                    }),
                    pred_confidence: out.pred_confidence.as_deref_mut(),
                    confusion: out.confusion.as_deref_mut(),
                    ..Default::default()
                };
                let mut part = ExactSum::default();
                cross_entropy_f16_range_with::<Portable>(&args, &cs.halves, o, ws, lo, hi, &mut part, &mut sc).unwrap();
                acc.merge(&part);
            }
            xent_kernel::reduce(&args, acc.value(), ws).loss
        }
    };
    Got {
        loss: loss.to_bits(),
        grad: bits(&g),
        map: bits(&map),
        pred,
        pred_conf: bits(&pc),
        confusion: cm.iter().map(|v| v.to_bits()).collect(),
    }
}

#[test]
fn float16_logits_have_the_bits_of_f32_logits_of_the_same_values() {
    let mut rng = Rng(16);
    for i in 0..300 {
        let cs = case(&mut rng, i % 2 == 1);
        let prob = rng.below(3) == 0;
        let score = !prob && rng.below(3) == 0;
        let grad = !score && rng.below(4) != 0;
        let red = [Reduction::Mean, Reduction::Sum, Reduction::None][rng.below(3)];
        let want = run(&cs, prob, grad, score, red, 0, 0);
        // One pixel's worth of scratch, a few pixels, and plenty (whole 16-pixel tiles).
        let per_pixel = cs.c * if cs.layout == Layout::Nhwc { 1 } else { 1 + grad as usize + prob as usize };
        for scratch in [per_pixel, per_pixel * (2 + rng.below(20)), per_pixel * 64 + 3] {
            for how in [1, 2] {
                let got = run(&cs, prob, grad, score, red, how, scratch);
                assert_eq!(
                    got, want,
                    "case {i} (c {} s {} {:?} prob {prob} grad {grad}) how {how} scratch {scratch}",
                    cs.c, cs.s, cs.layout
                );
            }
        }
    }
}

#[test]
fn bad_float16_calls_write_nothing() {
    let cs = Case {
        n: 1,
        c: 3,
        s: 4,
        layout: Layout::Nchw,
        halves: vec![0x3c00; 12],
        labels: vec![0, 1, 7, 2],
        probs: vec![],
    };
    let args = CrossEntropyArgs {
        logits: &[],
        target: Target::Index(Labels::U16(&cs.labels)),
        n: 1,
        c: 3,
        s: 4,
        layout: cs.layout,
        weight: None,
        ignore_index: -100,
        reduction: Reduction::Mean,
        label_smoothing: 0.0,
        grad_output: None,
    };
    let mut sc = vec![0.0f32; 64];
    let mut map = vec![9.0f32; 4];
    let out = Outputs { loss_map: Some(&mut map), ..Default::default() };
    let e = cross_entropy_f16_with::<Portable>(&args, &cs.halves, out, &mut sc).unwrap_err();
    assert_eq!(e, Error::TargetOutOfBounds { index: 2, value: 7 });
    assert_eq!(map, [9.0; 4]);
    // Too little scratch for one pixel, and logits of the wrong length.
    let labels = [0u16, 1, 2, 0];
    let ok = CrossEntropyArgs { target: Target::Index(Labels::U16(&labels)), ..args };
    let out = Outputs { loss_map: Some(&mut map), ..Default::default() };
    let e = cross_entropy_f16_with::<Portable>(&ok, &cs.halves, out, &mut sc[..2]).unwrap_err();
    assert_eq!(e, Error::BadArgument(Arg::Scratch));
    let out = Outputs { loss_map: Some(&mut map), ..Default::default() };
    let e = cross_entropy_f16_with::<Portable>(&ok, &cs.halves[..11], out, &mut sc).unwrap_err();
    assert_eq!(e, Error::BadArgument(Arg::LogitsLen));
    assert_eq!(map, [9.0; 4]);
    assert!(sc.iter().all(|&v| v == 0.0));
}
