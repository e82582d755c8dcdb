//! The fused resize against a naive float64 interpolate-then-loss (PyTorch's coordinate rules
//! written out again in f64, then the reference loss of tests/common), over many small shapes
//! (up and down, integer and not, 1-pixel sources and targets, every tail of the chunks), both
//! modes, both layouts, both target kinds and the options; and the split invariants: any split
//! of the source rows and any (large enough) scratch give the bits of one call, NHWC the bits
//! of NCHW.

mod common;

use common::{close, reference, reference_prob, Rng};
use xent_kernel::lanes::portable::Portable;
use xent_kernel::resize::scratch_floats;
use xent_kernel::{
    resize_cross_entropy_range_with, resize_cross_entropy_with, resize_weight_sum, Arg, CrossEntropyArgs, Error,
    ExactSum, Labels, Layout, Mode, Outputs, Reduction, Resize, Target,
};

/// PyTorch's source taps of output coordinate `d`, in float64 (the weights exact, not rounded).
fn taps(mode: Mode, inn: usize, out: usize, d: usize) -> [(usize, f64); 2] {
    if mode == Mode::Nearest {
        let scale = inn as f32 / out as f32;
        let i = if out == inn { d } else { ((d as f32 * scale).floor() as usize).min(inn - 1) };
        return [(i, 1.0), (i, 0.0)];
    }
    let src = if mode == Mode::BilinearAlignCorners {
        if out > 1 {
            d as f64 * (inn - 1) as f64 / (out - 1) as f64
        } else {
            0.0
        }
    } else {
        ((d as f64 + 0.5) * inn as f64 / out as f64 - 0.5).max(0.0)
    };
    let i0 = (src.floor() as usize).min(inn - 1);
    let i1 = (i0 + 1).min(inn - 1);
    let l = (src - i0 as f64).clamp(0.0, 1.0);
    [(i0, 1.0 - l), (i1, l)]
}

struct Case {
    n: usize,
    c: usize,
    rs: Resize,
    x: Vec<f32>,
    labels: Vec<i64>,
    prob: Option<Vec<f32>>,
    weight: Option<Vec<f32>>,
    reduction: Reduction,
    eps: f32,
    grad_output: Option<Vec<f32>>,
}

impl Case {
    fn random(rng: &mut Rng, mode: Mode) -> Case {
        let dim = |rng: &mut Rng| [1, 1, 2, 3, 4, 5, 7, 8, 16, 17, 33][rng.below(11)];
        let (in_h, in_w, out_h, out_w) = (dim(rng), dim(rng), dim(rng), dim(rng) + rng.below(3) * 16);
        let (n, c) = (1 + rng.below(2), [1, 2, 3, 5, 19, 150][rng.below(6)]);
        // 150 classes: chunks of 32 to 48 pixels, so rows of several chunks and a tail.
        let (in_h, out_h, out_w) =
            if c == 150 { (in_h.min(5), out_h.min(5), 40 + rng.below(90)) } else { (in_h, out_h, out_w) };
        let rs = Resize { mode, in_h, in_w, out_h, out_w };
        let x = (0..n * c * in_h * in_w).map(|_| rng.uniform(-6.0, 6.0)).collect();
        let s = out_h * out_w;
        let labels = (0..n * s).map(|_| if rng.below(8) == 0 { -100 } else { rng.below(c) as i64 }).collect();
        let prob = (rng.below(3) == 0).then(|| (0..n * c * s).map(|_| rng.uniform(0.0, 1.0)).collect());
        let weight = (rng.below(2) == 0).then(|| (0..c).map(|_| rng.uniform(0.2, 2.0)).collect());
        let reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][rng.below(3)];
        let grad_output = (reduction == Reduction::None).then(|| (0..n * s).map(|_| rng.uniform(-1.0, 1.0)).collect());
        let eps = if rng.below(2) == 0 { 0.0 } else { 0.1 };
        Case { n, c, rs, x, labels, prob, weight, reduction, eps, grad_output }
    }

    fn s(&self) -> usize {
        self.rs.out_h * self.rs.out_w
    }

    fn labels_i32(&self) -> Vec<i32> {
        self.labels.iter().map(|&v| v as i32).collect()
    }

    fn args<'a>(
        &'a self,
        labels: &'a [i32],
        x: &'a [f32],
        q: Option<&'a [f32]>,
        layout: Layout,
    ) -> CrossEntropyArgs<'a> {
        CrossEntropyArgs {
            logits: x,
            target: q.map_or(Target::Index(Labels::I32(labels)), Target::Prob),
            n: self.n,
            c: self.c,
            s: self.s(),
            layout,
            weight: self.weight.as_deref(),
            ignore_index: -100,
            reduction: self.reduction,
            label_smoothing: self.eps,
            grad_output: self.grad_output.as_deref(),
        }
    }
}

/// The float64 reference: interpolate, then tests/common's loss, then the adjoint.
fn naive(k: &Case) -> (f64, Vec<f64>, Vec<f64>) {
    let Resize { mode, in_h, in_w, out_h, out_w } = k.rs;
    let (n, c, s) = (k.n, k.c, k.s());
    let mut up = vec![0f32; n * c * s];
    for b in 0..n {
        for ci in 0..c {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let mut v = 0.0;
                    for (y, wy) in taps(mode, in_h, out_h, oy) {
                        for (x, wx) in taps(mode, in_w, out_w, ox) {
                            v += wy * wx * k.x[((b * c + ci) * in_h + y) * in_w + x] as f64;
                        }
                    }
                    up[(b * c + ci) * s + oy * out_w + ox] = v as f32;
                }
            }
        }
    }
    let red = match k.reduction {
        Reduction::Mean => "mean",
        Reduction::Sum => "sum",
        Reduction::None => "none",
    };
    let go = k.grad_output.as_deref();
    let r = match &k.prob {
        Some(q) => reference_prob(&up, q, n, c, s, k.weight.as_deref(), red, k.eps as f64, go),
        None => reference(&up, &k.labels, n, c, s, k.weight.as_deref(), -100, red, k.eps as f64, go),
    };
    let mut grad = vec![0.0; n * c * in_h * in_w];
    for b in 0..n {
        for ci in 0..c {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let g = r.grad[(b * c + ci) * s + oy * out_w + ox];
                    for (y, wy) in taps(mode, in_h, out_h, oy) {
                        for (x, wx) in taps(mode, in_w, out_w, ox) {
                            grad[((b * c + ci) * in_h + y) * in_w + x] += wy * wx * g;
                        }
                    }
                }
            }
        }
    }
    (r.loss, r.loss_map, grad)
}

struct Got {
    loss: f64,
    loss_map: Vec<f32>,
    grad: Vec<f32>,
}

/// One whole call, or `splits` source-row ranges merged, with `scratch` floats per range.
fn run(k: &Case, layout: Layout, splits: &[usize], scratch: usize) -> Got {
    let labels = k.labels_i32();
    let in_s = k.rs.in_h * k.rs.in_w;
    let (x, q) = match layout {
        Layout::Nchw => (k.x.clone(), k.prob.clone()),
        Layout::Nhwc => (nhwc(&k.x, k.n, k.c, in_s), k.prob.as_ref().map(|q| nhwc(q, k.n, k.c, k.s()))),
    };
    let args = k.args(&labels, &x, q.as_deref(), layout);
    let mut grad = vec![f32::NAN; x.len()];
    let mut loss_map = vec![f32::NAN; k.n * k.s()];
    let mut buf = vec![0f32; scratch];
    let loss = if splits.is_empty() {
        resize_cross_entropy_with::<Portable>(&args, &k.rs, out(&mut grad, &mut loss_map), &mut buf).unwrap().loss
    } else {
        let ws = resize_weight_sum(&args, &k.rs, &mut out(&mut grad, &mut loss_map)).unwrap();
        let mut total = ExactSum::default();
        // Ranges in reverse order: the bits must not depend on which runs first.
        for w in splits.windows(2).rev() {
            let mut acc = ExactSum::default();
            let o = out(&mut grad, &mut loss_map);
            resize_cross_entropy_range_with::<Portable>(&args, &k.rs, o, ws, w[0], w[1], &mut buf, &mut acc).unwrap();
            total.merge(&acc);
        }
        xent_kernel::reduce(&args, total.value(), ws).loss
    };
    let grad = match layout {
        Layout::Nchw => grad,
        Layout::Nhwc => nchw(&grad, k.n, k.c, in_s),
    };
    Got { loss, loss_map, grad }
}

fn out<'a>(grad: &'a mut [f32], loss_map: &'a mut [f32]) -> Outputs<'a> {
    Outputs { grad: Some(grad), loss_map: Some(loss_map), ..Outputs::default() }
}

fn nhwc(v: &[f32], n: usize, c: usize, s: usize) -> Vec<f32> {
    let mut o = vec![0.0; v.len()];
    for b in 0..n {
        for ci in 0..c {
            for p in 0..s {
                o[(b * s + p) * c + ci] = v[(b * c + ci) * s + p];
            }
        }
    }
    o
}

fn nchw(v: &[f32], n: usize, c: usize, s: usize) -> Vec<f32> {
    let mut o = vec![0.0; v.len()];
    for b in 0..n {
        for ci in 0..c {
            for p in 0..s {
                o[(b * c + ci) * s + p] = v[(b * s + p) * c + ci];
            }
        }
    }
    o
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

#[test]
fn matches_the_float64_reference_and_splits_give_the_same_bits() {
    let mut rng = Rng(18);
    for i in 0..600 {
        let mode = [Mode::Bilinear, Mode::BilinearAlignCorners, Mode::Nearest][i % 3];
        let k = Case::random(&mut rng, mode);
        let what = format!("case {i}: n={} c={} {:?} {:?} prob={}", k.n, k.c, k.rs, k.reduction, k.prob.is_some());
        let (loss, loss_map, grad) = naive(&k);
        let got = run(&k, Layout::Nchw, &[], scratch_floats(k.c));
        // The interpolated logits are float32 (within an ulp or two of the exact value).
        let scale = 1.0f64.max(loss.abs());
        assert!(close(got.loss, loss, 2e-5 * scale), "{what}: loss {} vs {loss}", got.loss);
        for (p, (&a, &b)) in got.loss_map.iter().zip(&loss_map).enumerate() {
            assert!(close(a as f64, b, 2e-5 * b.abs().max(1.0)), "{what}: loss_map[{p}] {a} vs {b}");
        }
        let gmax = grad.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
        for (e, (&a, &b)) in got.grad.iter().zip(&grad).enumerate() {
            assert!(close(a as f64, b, 2e-5 * gmax), "{what}: grad[{e}] {a} vs {b} (max {gmax})");
        }
        // Any split of the source rows, any scratch size, and NHWC: the same bits.
        let rows = k.n * k.rs.in_h;
        let cut = rng.below(rows + 1);
        let splits: Vec<usize> = if rows > 2 { vec![0, cut, (cut + 1).min(rows), rows] } else { vec![0, cut, rows] };
        let more = scratch_floats(k.c) + 1 + rng.below(5000);
        for (name, g) in [
            ("split", run(&k, Layout::Nchw, &splits, scratch_floats(k.c))),
            ("row by row", run(&k, Layout::Nchw, &(0..=rows).collect::<Vec<_>>(), scratch_floats(k.c))),
            ("more scratch", run(&k, Layout::Nchw, &[], more)),
            ("nhwc", run(&k, Layout::Nhwc, &splits, scratch_floats(k.c))),
        ] {
            assert_eq!(g.loss.to_bits(), got.loss.to_bits(), "{what}: {name}: loss");
            assert_eq!(bits(&g.loss_map), bits(&got.loss_map), "{what}: {name}: loss map");
            assert_eq!(bits(&g.grad), bits(&got.grad), "{what}: {name}: grad");
        }
    }
}

#[test]
fn bad_input_writes_nothing() {
    let mut rng = Rng(7);
    let k = Case::random(&mut rng, Mode::Bilinear);
    let labels = k.labels_i32();
    let mut bad_labels = labels.clone();
    *bad_labels.last_mut().unwrap() = k.c as i32;
    let mut scratch = vec![0f32; scratch_floats(k.c)];
    let check = |args: &CrossEntropyArgs, rs: &Resize, scratch: &mut [f32], want: Error| {
        let mut grad = vec![7f32; k.x.len()];
        let mut map = vec![7f32; k.n * k.s()];
        let out = Outputs { grad: Some(&mut grad), loss_map: Some(&mut map), ..Outputs::default() };
        let r = resize_cross_entropy_with::<Portable>(args, rs, out, scratch);
        assert_eq!(r.unwrap_err(), want);
        assert!(grad.iter().chain(&map).all(|&v| v == 7.0), "wrote on error {want:?}");
    };
    let x = k.x.clone();
    let good = k.args(&labels, &x, None, Layout::Nchw);
    let mut zero = k.rs;
    zero.out_w = 0;
    check(&good, &zero, &mut scratch, Error::BadArgument(Arg::Resize));
    let mut other = k.rs;
    other.out_h += 1;
    check(&good, &other, &mut scratch, Error::BadArgument(Arg::Resize));
    check(&good, &k.rs, &mut [0f32; 3], Error::BadArgument(Arg::Scratch));
    let short = CrossEntropyArgs { logits: &x[1..], ..good };
    check(&short, &k.rs, &mut scratch, Error::BadArgument(Arg::LogitsLen));
    let smooth = CrossEntropyArgs { label_smoothing: 2.0, ..good };
    check(&smooth, &k.rs, &mut scratch, Error::BadArgument(Arg::LabelSmoothing));
    let bad = CrossEntropyArgs { target: Target::Index(Labels::I32(&bad_labels)), ..good };
    let index = k.n * k.s() - 1;
    check(&bad, &k.rs, &mut scratch, Error::TargetOutOfBounds { index, value: k.c as i64 });
}
