//! softmax / log_softmax (forward and backward) and nll_loss against float64, and the
//! decomposition nll_loss(log_softmax(x)) against the fused cross_entropy.

mod common;

use common::{close, reference, Rng};
use xent_kernel::lanes::portable::Portable;
use xent_kernel::{
    cross_entropy_with, nll_loss, softmax_backward_with, softmax_with, CrossEntropyArgs, Labels, Layout, Outputs,
    Reduction, Softmax, Target,
};

fn f64_softmax(x: &[f32], n: usize, c: usize, s: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut sm, mut lsm) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    for b in 0..n {
        for p in 0..s {
            let at = |k: usize| b * c * s + k * s + p;
            let m = (0..c).map(|k| x[at(k)] as f64).fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = (0..c).map(|k| (x[at(k)] as f64 - m).exp()).sum();
            for k in 0..c {
                lsm[at(k)] = x[at(k)] as f64 - m - z.ln();
                sm[at(k)] = lsm[at(k)].exp();
            }
        }
    }
    (sm, lsm)
}

#[test]
fn softmax_forward_and_backward_against_float64() {
    let mut rng = Rng(11);
    for _ in 0..400 {
        let (n, c, s) = (1 + rng.below(2), 1 + rng.below(20), 1 + rng.below(40));
        let spread = [1.0, 10.0, 1e3][rng.below(3)];
        let x: Vec<f32> = (0..n * c * s).map(|_| rng.uniform(-spread, spread)).collect();
        let gy: Vec<f32> = (0..n * c * s).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let (sm, lsm) = f64_softmax(&x, n, c, s);
        for (kind, want) in [(Softmax::Softmax, &sm), (Softmax::LogSoftmax, &lsm)] {
            let mut y = vec![0.0f32; x.len()];
            softmax_with::<Portable>(kind, &x, &mut y, n, c, s, Layout::Nchw).unwrap();
            for (i, (&a, &b)) in y.iter().zip(want.iter()).enumerate() {
                assert!(close(a as f64, b, 2e-6 * b.abs().max(1.0)), "{kind:?} y[{i}] {a} vs {b}");
            }
            // backward from the float32 forward output, against float64 on the same inputs
            let mut gx = vec![0.0f32; x.len()];
            softmax_backward_with::<Portable>(kind, &y, &gy, &mut gx, n, c, s, Layout::Nchw).unwrap();
            for b in 0..n {
                for p in 0..s {
                    let at = |k: usize| b * c * s + k * s + p;
                    let total: f64 = (0..c)
                        .map(|k| gy[at(k)] as f64 * if kind == Softmax::Softmax { y[at(k)] as f64 } else { 1.0 })
                        .sum();
                    // float32 accumulates the sum: its error scales with the sum of magnitudes
                    let mag: f64 = (0..c)
                        .map(|k| {
                            (gy[at(k)] as f64 * if kind == Softmax::Softmax { y[at(k)] as f64 } else { 1.0 }).abs()
                        })
                        .sum();
                    for k in 0..c {
                        let (yk, gk) = (y[at(k)] as f64, gy[at(k)] as f64);
                        let want = match kind {
                            Softmax::Softmax => yk * (gk - total),
                            Softmax::LogSoftmax => gk - yk.exp() * total,
                        };
                        let tol = 2e-6 * (gk.abs() + mag).max(1e-3);
                        assert!(close(gx[at(k)] as f64, want, tol), "{kind:?} gx {} vs {want}", gx[at(k)]);
                    }
                }
            }
        }
    }
}

#[test]
fn nll_of_log_softmax_matches_fused_cross_entropy() {
    let mut rng = Rng(12);
    for i in 0..400 {
        let (n, c, s) = (1 + rng.below(3), 1 + rng.below(20), 1 + rng.below(40));
        let x: Vec<f32> = (0..n * c * s).map(|_| rng.uniform(-8.0, 8.0)).collect();
        let labels: Vec<i32> =
            (0..n * s).map(|_| if rng.below(10) == 0 { -100 } else { rng.below(c) as i32 }).collect();
        let weight: Option<Vec<f32>> = (i % 2 == 0).then(|| (0..c).map(|_| rng.uniform(0.1, 2.0)).collect());
        let reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][i % 3];
        let go: Vec<f32> = (0..n * s).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let layout = if i % 4 < 2 { Layout::Nchw } else { Layout::Nhwc };
        let none = reduction == Reduction::None;
        let args = CrossEntropyArgs {
            logits: &x,
            target: Target::Index(Labels::I32(&labels)),
            n,
            c,
            s,
            layout,
            weight: weight.as_deref(),
            ignore_index: -100,
            reduction,
            label_smoothing: 0.0,
            grad_output: none.then_some(&go[..]),
        };
        let (mut g1, mut m1) = (vec![0.0f32; x.len()], vec![0.0f32; n * s]);
        let fused = cross_entropy_with::<Portable>(
            &args,
            Outputs { grad: Some(&mut g1), loss_map: none.then_some(&mut m1[..]), ..Default::default() },
        )
        .unwrap();

        let mut logp = vec![0.0f32; x.len()];
        softmax_with::<Portable>(Softmax::LogSoftmax, &x, &mut logp, n, c, s, layout).unwrap();
        let (mut glogp, mut m2) = (vec![0.0f32; x.len()], vec![0.0f32; n * s]);
        let nll = nll_loss(
            &CrossEntropyArgs { logits: &logp, ..args },
            Outputs { grad: Some(&mut glogp), loss_map: none.then_some(&mut m2[..]), ..Default::default() },
        )
        .unwrap();
        let mut g2 = vec![0.0f32; x.len()];
        softmax_backward_with::<Portable>(Softmax::LogSoftmax, &logp, &glogp, &mut g2, n, c, s, layout).unwrap();

        assert!(close(nll.loss, fused.loss, 2e-6 * fused.loss.abs().max(1.0)), "{} vs {}", nll.loss, fused.loss);
        assert_eq!(nll.weight_sum, fused.weight_sum);
        for (a, b) in m1.iter().zip(&m2) {
            assert!(close(*a as f64, *b as f64, 2e-6 * (*b as f64).abs().max(1.0)));
        }
        let scale = g1.iter().fold(1e-6f32, |a, v| a.max(v.abs())) as f64;
        for (a, b) in g1.iter().zip(&g2) {
            assert!(close(*a as f64, *b as f64, 1e-5 * scale), "grad {a} vs {b}");
        }
        // and both against float64
        let l64: Vec<i64> = labels.iter().map(|&v| v as i64).collect();
        if layout == Layout::Nchw {
            let want =
                reference(&x, &l64, n, c, s, weight.as_deref(), -100, ["mean", "sum", "none"][i % 3], 0.0, Some(&go));
            assert!(close(nll.loss, want.loss, 2e-6 * want.loss.abs().max(1.0)));
        }
    }
}
