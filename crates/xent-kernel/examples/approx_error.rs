//! Exhaustive accuracy of the vector exp and log: every float32 of their working ranges,
//! against float64 `exp`/`ln`, in units in the last place and relative error. Not run in CI
//! (a few seconds to a minute):
//!
//! ```text
//! cargo run --release -p xent-kernel --example approx_error
//! ```

use xent_kernel::lanes::{portable::Portable, F32x4};
use xent_kernel::math::{exp::CUTOFF, exp_rr2_p5, log_atanh_p9};

struct Worst {
    rel: f64,
    rel_at: f32,
    ulp: f64,
    ulp_at: f32,
    count: u64,
}

impl Worst {
    fn new() -> Self {
        Worst { rel: 0.0, rel_at: 0.0, ulp: 0.0, ulp_at: 0.0, count: 0 }
    }
    fn see(&mut self, x: f32, got: f32, want: f64) {
        self.count += 1;
        if want == 0.0 {
            return;
        }
        let rel = ((got as f64 - want) / want).abs();
        // one ulp of the float32 nearest to the exact result
        let w32 = want as f32;
        let ulp = (f32::from_bits(w32.abs().to_bits() + 1) - w32.abs()) as f64;
        let ulps = (got as f64 - want).abs() / ulp;
        if rel > self.rel {
            (self.rel, self.rel_at) = (rel, x);
        }
        if ulps > self.ulp {
            (self.ulp, self.ulp_at) = (ulps, x);
        }
    }
}

fn sweep(lo_bits: u32, hi_bits: u32, f: impl Fn(Portable) -> Portable, exact: impl Fn(f64) -> f64) -> Worst {
    let mut worst = Worst::new();
    let mut b = lo_bits;
    while b <= hi_bits {
        let xs = [0, 1, 2, 3].map(|i| f32::from_bits(b.saturating_add(i).min(hi_bits)));
        let ys = f(Portable(xs)).to_array();
        for i in 0..4 {
            if b as u64 + (i as u64) <= hi_bits as u64 {
                worst.see(xs[i], ys[i], exact(xs[i] as f64));
            }
        }
        match b.checked_add(4) {
            Some(n) => b = n,
            None => break,
        }
    }
    worst
}

fn main() {
    // exp on [CUTOFF, -0]: negative floats, bits from -0.0 up to CUTOFF.
    let e = sweep((-0.0f32).to_bits(), CUTOFF.to_bits(), exp_rr2_p5, f64::exp);
    println!(
        "exp_rr2_p5 on [{CUTOFF}, 0]: {} floats, max rel error {:.3e} (at {}), max {:.3} ulp (at {})",
        e.count, e.rel, e.rel_at, e.ulp, e.ulp_at
    );
    // log on [1, 2^24] (the sum of C <= 2^24 terms in [0, 1], the largest being 1).
    let l = sweep(1.0f32.to_bits() + 1, 16_777_216.0f32.to_bits(), log_atanh_p9, f64::ln);
    println!(
        "log_atanh_p9 on (1, 2^24]: {} floats, max rel error {:.3e} (at {}), max {:.3} ulp (at {})",
        l.count, l.rel, l.rel_at, l.ulp, l.ulp_at
    );
}
