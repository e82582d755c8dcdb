//! Every clause of the kernels' argument checks reports its own [`Arg`], and nothing is written
//! when one fails (the ABI maps them all to one status: see xent-abi).

use xent_kernel::lanes::portable::Portable;
use xent_kernel::{
    cross_entropy_range_with, cross_entropy_with, nll_loss, softmax_backward_with, softmax_with, Arg, CrossEntropyArgs,
    Error, ExactSum, Labels, Layout, Outputs, Pred, Reduction, Softmax, Target,
};

const N: usize = 1;
const C: usize = 3;
const S: usize = 4;
const LABELS: [i32; N * S] = [0, 1, 2, 1];
const X: [f32; N * C * S] = [0.5; N * C * S];
const Q: [f32; N * C * S] = [0.25; N * C * S];

fn args(reduction: Reduction) -> CrossEntropyArgs<'static> {
    CrossEntropyArgs {
        logits: &X,
        target: Target::Index(Labels::I32(&LABELS)),
        n: N,
        c: C,
        s: S,
        layout: Layout::Nchw,
        weight: None,
        ignore_index: -100,
        reduction,
        label_smoothing: 0.0,
        grad_output: None,
    }
}

fn bad(arg: Arg) -> Result<(), Error> {
    Err(Error::BadArgument(arg))
}

/// The output buffers of one call, filled with a guard value.
struct Bufs {
    grad: Vec<f32>,
    map: Vec<f32>,
    conf: Vec<f32>,
    pconf: Vec<f32>,
    pred8: Vec<u8>,
    confusion: Vec<f64>,
}

impl Bufs {
    fn new(grad: usize, map: usize, confusion: usize) -> Self {
        Bufs {
            grad: vec![7.0; grad],
            map: vec![7.0; map],
            conf: vec![7.0; map],
            pconf: vec![7.0; map],
            pred8: vec![7; map],
            confusion: vec![7.0; confusion],
        }
    }
    fn untouched(&self) -> bool {
        self.grad.iter().chain(&self.map).chain(&self.conf).chain(&self.pconf).all(|&v| v == 7.0)
            && self.pred8.iter().all(|&v| v == 7)
            && self.confusion.iter().all(|&v| v == 7.0)
    }
}

/// Runs `cross_entropy_with` with the outputs `which` picks ("g" grad, "m" loss map, "c"
/// confidence, "k" pred confidence, "p" u8 prediction, "x" confusion) of the given lengths.
fn run(a: &CrossEntropyArgs, which: &str, grad: usize, map: usize, confusion: usize) -> Result<(), Error> {
    let mut b = Bufs::new(grad, map, confusion);
    let out = Outputs {
        grad: which.contains('g').then_some(&mut b.grad[..]),
        loss_map: which.contains('m').then_some(&mut b.map[..]),
        confidence: which.contains('c').then_some(&mut b.conf[..]),
        pred_confidence: which.contains('k').then_some(&mut b.pconf[..]),
        pred: which.contains('p').then_some(Pred::U8(&mut b.pred8[..])),
        confusion: which.contains('x').then_some(&mut b.confusion[..]),
    };
    let r = cross_entropy_with::<Portable>(a, out).map(|_| ());
    if r.is_err() {
        assert!(b.untouched(), "{r:?}: an output was written");
    }
    r
}

#[test]
fn cross_entropy_names_each_bad_argument() {
    let (mean, none) = (args(Reduction::Mean), args(Reduction::None));
    let (len, ns, cc) = (N * C * S, N * S, C * C);
    let prob = CrossEntropyArgs { target: Target::Prob(&Q), ..mean };
    let go = [1.0f32; N * S];
    // The valid calls these variations start from.
    assert_eq!(run(&mean, "g", len, ns, cc), Ok(()));
    assert_eq!(run(&mean, "mckpx", len, ns, cc), Ok(()));
    assert_eq!(run(&CrossEntropyArgs { grad_output: Some(&go), ..none }, "gm", len, ns, cc), Ok(()));

    assert_eq!(run(&CrossEntropyArgs { n: usize::MAX, ..mean }, "", len, ns, cc), bad(Arg::Size));
    assert_eq!(run(&CrossEntropyArgs { c: 0, ..mean }, "", len, ns, cc), bad(Arg::NoClasses));
    assert_eq!(run(&CrossEntropyArgs { logits: &X[1..], ..mean }, "", len, ns, cc), bad(Arg::LogitsLen));
    let short = Target::Index(Labels::I32(&LABELS[1..]));
    assert_eq!(run(&CrossEntropyArgs { target: short, ..mean }, "", len, ns, cc), bad(Arg::TargetLen));
    assert_eq!(run(&CrossEntropyArgs { target: Target::Prob(&Q[1..]), ..mean }, "", len, ns, cc), bad(Arg::TargetLen));
    assert_eq!(run(&prob, "c", len, ns, cc), bad(Arg::ConfidenceWithProb));
    assert_eq!(run(&CrossEntropyArgs { weight: Some(&[1.0; C + 1]), ..mean }, "", len, ns, cc), bad(Arg::WeightLen));
    assert_eq!(run(&mean, "g", len - 1, ns, cc), bad(Arg::GradLen));
    assert_eq!(run(&mean, "m", len, ns + 1, cc), bad(Arg::LossMapLen));
    assert_eq!(run(&mean, "c", len, ns + 1, cc), bad(Arg::ConfidenceLen));
    assert_eq!(run(&mean, "k", len, ns + 1, cc), bad(Arg::PredConfidenceLen));
    assert_eq!(run(&mean, "p", len, ns + 1, cc), bad(Arg::PredLen));
    assert_eq!(run(&mean, "x", len, ns, cc - 1), bad(Arg::ConfusionLen));
    assert_eq!(run(&prob, "x", len, ns, cc), bad(Arg::ConfusionWithProb));
    for scores in ["gp", "gk", "gx"] {
        assert_eq!(run(&mean, scores, len, ns, cc), bad(Arg::ScoresWithGrad));
    }
    assert_eq!(run(&none, "", len, ns, cc), bad(Arg::LossMapMissing));
    assert_eq!(
        run(&CrossEntropyArgs { grad_output: Some(&go), ..mean }, "g", len, ns, cc),
        bad(Arg::GradOutputNotNone)
    );
    let go_short = CrossEntropyArgs { grad_output: Some(&go[1..]), ..none };
    assert_eq!(run(&go_short, "gm", len, ns, cc), bad(Arg::GradOutputLen));
    assert_eq!(run(&none, "gm", len, ns, cc), bad(Arg::GradOutputMissing));
    for eps in [-0.1, 1.5, f32::NAN] {
        assert_eq!(run(&CrossEntropyArgs { label_smoothing: eps, ..mean }, "", len, ns, cc), bad(Arg::LabelSmoothing));
    }
}

#[test]
fn pred_dtype_too_small() {
    // 257 classes do not fit in a u8 prediction.
    let x = vec![0.0f32; 257];
    let a = CrossEntropyArgs {
        logits: &x,
        target: Target::Index(Labels::I32(&[3])),
        c: 257,
        s: 1,
        ..args(Reduction::Mean)
    };
    let mut p = [7u8; 1];
    let out = Outputs { pred: Some(Pred::U8(&mut p)), ..Default::default() };
    assert_eq!(cross_entropy_with::<Portable>(&a, out).map(|_| ()), bad(Arg::PredDtype));
    assert_eq!(p, [7]);
}

#[test]
fn range_names_a_bad_range() {
    let a = args(Reduction::Sum);
    let w = xent_kernel::weight_sum(&a, &Outputs::default()).unwrap();
    let mut acc = ExactSum::default();
    for (lo, hi) in [(3, 2), (0, N * S + 1)] {
        let r = cross_entropy_range_with::<Portable>(&a, Outputs::default(), w, lo, hi, &mut acc);
        assert_eq!(r, bad(Arg::Range));
    }
    assert_eq!(cross_entropy_range_with::<Portable>(&a, Outputs::default(), w, 1, 3, &mut acc), Ok(()));
}

#[test]
fn nll_loss_names_each_bad_argument() {
    let nll = |a: &CrossEntropyArgs, which: &str| {
        let mut b = Bufs::new(N * C * S, N * S, C * C);
        let out = Outputs {
            grad: which.contains('g').then_some(&mut b.grad[..]),
            loss_map: which.contains('m').then_some(&mut b.map[..]),
            confidence: which.contains('c').then_some(&mut b.conf[..]),
            ..Default::default()
        };
        let r = nll_loss(a, out).map(|_| ());
        if r.is_err() {
            assert!(b.untouched());
        }
        r
    };
    let (mean, none) = (args(Reduction::Mean), args(Reduction::None));
    assert_eq!(nll(&mean, "g"), Ok(()));
    assert_eq!(nll(&CrossEntropyArgs { n: usize::MAX, ..mean }, ""), bad(Arg::Size));
    assert_eq!(nll(&CrossEntropyArgs { target: Target::Prob(&Q), ..mean }, ""), bad(Arg::TargetKind));
    assert_eq!(nll(&CrossEntropyArgs { c: 0, ..mean }, ""), bad(Arg::NoClasses));
    assert_eq!(nll(&CrossEntropyArgs { logits: &X[1..], ..mean }, ""), bad(Arg::LogitsLen));
    let short = Target::Index(Labels::I32(&LABELS[1..]));
    assert_eq!(nll(&CrossEntropyArgs { target: short, ..mean }, ""), bad(Arg::TargetLen));
    assert_eq!(nll(&CrossEntropyArgs { weight: Some(&[1.0; 2]), ..mean }, ""), bad(Arg::WeightLen));
    assert_eq!(nll(&none, ""), bad(Arg::LossMapMissing));
    assert_eq!(nll(&mean, "c"), bad(Arg::UnsupportedOutput));
    let go = [1.0f32; N * S];
    assert_eq!(nll(&CrossEntropyArgs { grad_output: Some(&go), ..mean }, "g"), bad(Arg::GradOutputNotNone));
    assert_eq!(nll(&CrossEntropyArgs { grad_output: Some(&go[1..]), ..none }, "gm"), bad(Arg::GradOutputLen));
    assert_eq!(nll(&none, "gm"), bad(Arg::GradOutputMissing));
    assert_eq!(nll(&CrossEntropyArgs { label_smoothing: 0.1, ..mean }, ""), bad(Arg::LabelSmoothing));
}

#[test]
fn nll_loss_grad_and_map_lengths() {
    let mean = args(Reduction::Mean);
    let mut g = vec![7.0f32; N * C * S - 1];
    let out = Outputs { grad: Some(&mut g), ..Default::default() };
    assert_eq!(nll_loss(&mean, out).map(|_| ()), bad(Arg::GradLen));
    let mut m = vec![7.0f32; N * S + 1];
    let out = Outputs { loss_map: Some(&mut m), ..Default::default() };
    assert_eq!(nll_loss(&mean, out).map(|_| ()), bad(Arg::LossMapLen));
    assert!(g.iter().chain(&m).all(|&v| v == 7.0));
}

#[test]
fn softmax_names_each_bad_argument() {
    let k = Softmax::Softmax;
    let mut y = [7.0f32; N * C * S];
    assert_eq!(softmax_with::<Portable>(k, &X, &mut y, usize::MAX, C, S, Layout::Nchw), bad(Arg::Size));
    assert_eq!(softmax_with::<Portable>(k, &[], &mut [], N, 0, S, Layout::Nchw), bad(Arg::NoClasses));
    assert_eq!(softmax_with::<Portable>(k, &X[1..], &mut y, N, C, S, Layout::Nchw), bad(Arg::SoftmaxLen));
    assert_eq!(softmax_with::<Portable>(k, &X, &mut y[1..], N, C, S, Layout::Nchw), bad(Arg::SoftmaxLen));
    let mut gx = [7.0f32; N * C * S];
    let bwd = |y: &[f32], gy: &[f32], gx: &mut [f32], n: usize, c: usize| {
        softmax_backward_with::<Portable>(k, y, gy, gx, n, c, S, Layout::Nchw)
    };
    assert_eq!(bwd(&X, &X, &mut gx, usize::MAX, C), bad(Arg::Size));
    assert_eq!(bwd(&[], &[], &mut [], N, 0), bad(Arg::NoClasses));
    assert_eq!(bwd(&X[1..], &X, &mut gx, N, C), bad(Arg::SoftmaxLen));
    assert_eq!(bwd(&X, &X[1..], &mut gx, N, C), bad(Arg::SoftmaxLen));
    assert_eq!(bwd(&X, &X, &mut gx[1..], N, C), bad(Arg::SoftmaxLen));
    assert!(y.iter().chain(&gx).all(|&v| v == 7.0));
}

#[test]
fn weight_sum_of_labels_names_short_weights() {
    // Labels::validate on its own (cross_entropy checks the weight's length before it).
    let r = Labels::I32(&LABELS).validate(C, -100, Some(&[1.0; 2]));
    assert_eq!(r.map(|_| ()), bad(Arg::WeightLen));
}

#[test]
fn every_bad_argument_is_the_abi_status_bad_argument() {
    assert_eq!(Error::BadArgument(Arg::GradLen).status(), xent_kernel::Status::BadArgument);
    assert_eq!(Error::BadArgument(Arg::Range).status() as u32, 2);
}

/// An empty tensor is never too large, whatever its other dims: `n * c` alone may overflow a
/// `usize` (on wasm32 from `n * c >= 2^32`), `n * s * c` does not.
#[test]
fn empty_tensors_with_huge_dims_are_fine() {
    let huge = usize::MAX / 3;
    for (n, c, s) in [(huge, 5, 0), (0, huge, 7), (3, huge, 0), (huge, huge, 0)] {
        let a =
            CrossEntropyArgs { logits: &[], target: Target::Index(Labels::I32(&[])), n, c, s, ..args(Reduction::Sum) };
        let r = cross_entropy_with::<Portable>(&a, Outputs::default()).map(|r| r.sum);
        assert_eq!(r, Ok(0.0), "cross_entropy n={n} c={c} s={s}");
        assert_eq!(nll_loss(&a, Outputs::default()).map(|r| r.sum), Ok(0.0), "nll_loss n={n} c={c} s={s}");
        assert_eq!(softmax_with::<Portable>(Softmax::Softmax, &[], &mut [], n, c, s, Layout::Nhwc), Ok(()));
    }
}
