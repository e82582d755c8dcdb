//! The vector exp and log against float64 on their working ranges (dense sweeps; the
//! exhaustive sweep over every float32 is `cargo run --release --example approx_error`).

use xent_kernel::lanes::{portable::Portable, F32x4};
use xent_kernel::math::{exp::CUTOFF, exp_rr2_p5, log_atanh_p9};

fn exp1(x: f32) -> f32 {
    exp_rr2_p5(Portable::splat(x)).to_array()[0]
}
fn log1(x: f32) -> f32 {
    log_atanh_p9(Portable::splat(x)).to_array()[0]
}

#[test]
fn exp_relative_error_below_3e7_on_working_range() {
    let mut worst = 0.0f64;
    let mut x = -0.0f32;
    while x >= CUTOFF {
        let r = (x as f64).exp();
        let e = ((exp1(x) as f64 - r) / r).abs();
        worst = worst.max(e);
        x = f32::from_bits(x.to_bits() + 997); // every 997th float (x negative: bits grow)
    }
    assert!(worst < 3e-7, "max rel error {worst}");
}

#[test]
fn exp_special_values() {
    assert_eq!(exp1(0.0), 1.0);
    assert_eq!(exp1(-0.0), 1.0);
    assert_eq!(exp1(f32::NEG_INFINITY), 0.0);
    assert_eq!(exp1(-100.0), 0.0);
    assert_eq!(exp1(-1e30), 0.0);
    assert!(exp1(f32::NAN).is_nan());
    let at_cutoff = exp1(CUTOFF);
    assert!(at_cutoff > 0.0 && at_cutoff < 1.2e-38);
}

#[test]
fn log_relative_error_below_3e7_on_working_range() {
    let mut worst = 0.0f64;
    let mut x = 1.0f32;
    while x <= 16_777_216.0 {
        let r = (x as f64).ln();
        let err = (log1(x) as f64 - r).abs() / r.max(1e-30);
        if x > 1.0 {
            worst = worst.max(err);
        }
        x = f32::from_bits(x.to_bits() + 613);
    }
    assert!(worst < 3e-7, "max rel error {worst}");
    // Every float in [1, 1.01]: there the result is small, and the relative error counts.
    let mut x = f32::from_bits(1.0f32.to_bits() + 1);
    let mut worst = 0.0f64;
    while x < 1.01 {
        let r = (x as f64).ln();
        worst = worst.max((log1(x) as f64 - r).abs() / r);
        x = f32::from_bits(x.to_bits() + 1);
    }
    assert!(worst < 3e-7, "max rel error near 1: {worst}");
}

#[test]
fn log_special_values() {
    assert_eq!(log1(1.0), 0.0);
    assert!(log1(f32::NAN).is_nan());
    assert!((log1(150.0) as f64 - 150f64.ln()).abs() < 1e-6);
}
