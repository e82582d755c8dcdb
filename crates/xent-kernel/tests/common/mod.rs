//! Shared by the host tests: a seeded PRNG and a naive float64 reference written straight from
//! PyTorch's definition (log_softmax, then nll and the label-smoothing term), independent of the
//! kernel's fused formulation.
#![allow(dead_code, reason = "each test file uses a part of these helpers")]

/// splitmix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f32 {
        (lo + (hi - lo) * self.f64()) as f32
    }
}

pub struct Reference {
    pub loss: f64,
    pub sum: f64,
    pub weight_sum: f64,
    pub loss_map: Vec<f64>,
    pub grad: Vec<f64>,
    /// The largest |d loss / d logp| of any live sample: the size of the terms that cancel in
    /// the gradient (when C = 1 the exact gradient is 0, and float32 leaves ~1e-8 of them).
    pub grad_terms: f64,
    /// Softmax probability of the target class (0 where ignored; index targets only).
    pub confidence: Vec<f64>,
}

/// PyTorch's cross_entropy with class-index targets, in float64. `grad_output` is the upstream
/// gradient per sample for 'none' (ignored otherwise).
#[allow(clippy::too_many_arguments, reason = "the options of PyTorch's cross_entropy, one argument each")]
pub fn reference(
    x: &[f32],
    labels: &[i64],
    n: usize,
    c: usize,
    s: usize,
    weight: Option<&[f32]>,
    ignore_index: i64,
    reduction: &str,
    eps: f64,
    grad_output: Option<&[f32]>,
) -> Reference {
    let w = |k: usize| weight.map_or(1.0, |w| w[k] as f64);
    let mut loss_map = vec![0.0; n * s];
    let mut grad = vec![0.0; n * c * s];
    let mut weight_sum = 0.0;
    for b in 0..n {
        for p in 0..s {
            if labels[b * s + p] != ignore_index {
                weight_sum += w(labels[b * s + p] as usize);
            }
        }
    }
    let mut sum = 0.0;
    let mut grad_terms = 0.0f64;
    let mut confidence = vec![0.0; n * s];
    let (mut nll_sum, mut smooth_sum) = (0.0f64, 0.0f64);
    for b in 0..n {
        for p in 0..s {
            let at = |k: usize| b * c * s + k * s + p;
            let t = labels[b * s + p];
            let xs: Vec<f64> = (0..c).map(|k| x[at(k)] as f64).collect();
            let logp = log_softmax(&xs);
            if t == ignore_index {
                // PyTorch's log_softmax backward: 0 - softmax * sum(0) (NaN stays NaN).
                for k in 0..c {
                    grad[at(k)] = logp[k].exp() * 0.0;
                }
                continue;
            }
            let t = t as usize;
            confidence[b * s + p] = logp[t].exp();
            let nll = -w(t) * logp[t];
            let mut l = (1.0 - eps) * nll;
            nll_sum += nll;
            if eps > 0.0 {
                let smooth: f64 = -(0..c).map(|k| w(k) * logp[k]).sum::<f64>();
                l += eps / c as f64 * smooth;
                smooth_sum += smooth;
            }
            loss_map[b * s + p] = l;
            sum += l;
            let g = upstream(reduction, weight_sum, grad_output, b * s + p);
            // d loss / d logp[k], then through log_softmax: dx[j] = dlogp[j] - p[j] sum_k dlogp[k].
            let dlogp: Vec<f64> = (0..c)
                .map(|k| {
                    let mut d = 0.0;
                    if k == t {
                        d -= (1.0 - eps) * w(t);
                    }
                    if eps > 0.0 {
                        d -= eps / c as f64 * w(k);
                    }
                    d * g
                })
                .collect();
            for (k, gx) in log_softmax_backward(&dlogp, &logp, &mut grad_terms).enumerate() {
                grad[at(k)] = gx;
            }
        }
    }
    // PyTorch divides the two terms separately (a zero weight sum makes the nll term 0/0).
    let loss = if reduction == "mean" {
        (1.0 - eps) * (nll_sum / weight_sum) + eps / c as f64 * (smooth_sum / weight_sum)
    } else {
        sum
    };
    Reference { loss, sum, weight_sum, loss_map, grad, grad_terms, confidence }
}

/// PyTorch's cross_entropy with probability targets `q` (`[n, c, s]`), in float64.
#[allow(clippy::too_many_arguments, reason = "the options of PyTorch's cross_entropy, one argument each")]
pub fn reference_prob(
    x: &[f32],
    q: &[f32],
    n: usize,
    c: usize,
    s: usize,
    weight: Option<&[f32]>,
    reduction: &str,
    eps: f64,
    grad_output: Option<&[f32]>,
) -> Reference {
    let w = |k: usize| weight.map_or(1.0, |w| w[k] as f64);
    let mut loss_map = vec![0.0; n * s];
    let mut grad = vec![0.0; n * c * s];
    let mut sum = 0.0;
    let mut grad_terms = 0.0f64;
    let samples = (n * s) as f64;
    for b in 0..n {
        for p in 0..s {
            let at = |k: usize| b * c * s + k * s + p;
            let xs: Vec<f64> = (0..c).map(|k| x[at(k)] as f64).collect();
            let logp = log_softmax(&xs);
            let qs: Vec<f64> = (0..c)
                .map(|k| {
                    let q = q[at(k)] as f64;
                    if eps > 0.0 {
                        q * (1.0 - eps) + eps / c as f64
                    } else {
                        q
                    }
                })
                .collect();
            let l: f64 = -(0..c).map(|k| logp[k] * qs[k] * w(k)).sum::<f64>();
            loss_map[b * s + p] = l;
            sum += l;
            let g = upstream(reduction, samples, grad_output, b * s + p);
            let dlogp: Vec<f64> = (0..c).map(|k| -g * qs[k] * w(k)).collect();
            for (k, gx) in log_softmax_backward(&dlogp, &logp, &mut grad_terms).enumerate() {
                grad[at(k)] = gx;
            }
        }
    }
    let loss = if reduction == "mean" { sum / samples } else { sum };
    Reference { loss, sum, weight_sum: samples, loss_map, grad, grad_terms, confidence: vec![] }
}

/// log_softmax of one sample's logits `xs` (a NaN logit makes every value NaN).
fn log_softmax(xs: &[f64]) -> Vec<f64> {
    let m = if xs.iter().any(|v| v.is_nan()) { f64::NAN } else { xs.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v)) };
    let z: f64 = xs.iter().map(|v| (v - m).exp()).sum();
    xs.iter().map(|v| v - m - z.ln()).collect()
}

/// The upstream gradient of sample `i`: `1 / denominator` for 'mean', 1 for 'sum', else
/// `grad_output[i]` (1 without one).
fn upstream(reduction: &str, denominator: f64, grad_output: Option<&[f32]>, i: usize) -> f64 {
    match reduction {
        "mean" => 1.0 / denominator,
        "sum" => 1.0,
        _ => grad_output.map_or(1.0, |go| go[i] as f64),
    }
}

/// The gradient w.r.t. one sample's logits from `dlogp` (d loss / d logp[k]), through
/// log_softmax: `dx[j] = dlogp[j] - p[j] sum_k dlogp[k]`. Raises `grad_terms` to the largest
/// finite |dlogp[k]|.
fn log_softmax_backward<'a>(dlogp: &'a [f64], logp: &'a [f64], grad_terms: &mut f64) -> impl Iterator<Item = f64> + 'a {
    let total: f64 = dlogp.iter().sum();
    *grad_terms = dlogp.iter().filter(|v| v.is_finite()).fold(*grad_terms, |a, v| a.max(v.abs()));
    dlogp.iter().zip(logp).map(move |(d, lp)| d - lp.exp() * total)
}

/// |a - b| <= tol, with NaN matching NaN and infinities matching exactly.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= tol
}
