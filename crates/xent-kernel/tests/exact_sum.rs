//! ExactSum is exact and order-independent: against an i128 fixed-point reference, across
//! shuffles, splits, merges and carries.

mod common;

use common::Rng;
use xent_kernel::ExactSum;

/// Values that are multiples of 2^-60 below 2^40 in magnitude, so that i128 sums them exactly.
fn value(rng: &mut Rng) -> f32 {
    let e = rng.below(70) as i32 - 34; // 2^-34 .. 2^35
    let m = rng.uniform(1.0, 2.0) * if rng.below(3) == 0 { -1.0 } else { 1.0 };
    m * (2.0f64.powi(e) as f32)
}

fn fixed(v: f32) -> i128 {
    (v as f64 * 2.0f64.powi(60)) as i128
}

#[test]
fn exact_and_order_independent() {
    let mut rng = Rng(99);
    for round in 0..200 {
        let n = 1 + rng.below(3000);
        let mut vals: Vec<f32> = (0..n).map(|_| value(&mut rng)).collect();
        let exact: i128 = vals.iter().map(|&v| fixed(v)).sum();
        let want = exact as f64 / 2.0f64.powi(60); // i128 -> f64 rounds to nearest even
        let mut a = ExactSum::default();
        vals.iter().for_each(|&v| a.add(v));
        assert_eq!(a.value().to_bits(), want.to_bits(), "round {round}: {} vs {want}", a.value());
        // shuffled, split in two, merged, with carries sprinkled in
        for i in (1..vals.len()).rev() {
            vals.swap(i, rng.below(i + 1));
        }
        let cut = rng.below(vals.len() + 1);
        let (mut b, mut c) = (ExactSum::default(), ExactSum::default());
        for (i, &v) in vals[..cut].iter().enumerate() {
            b.add(v);
            if i % 97 == 0 {
                b.carry();
            }
        }
        vals[cut..].iter().for_each(|&v| c.add(v));
        c.merge(&b);
        assert_eq!(c.value().to_bits(), want.to_bits());
    }
}

#[test]
fn special_values() {
    let mut a = ExactSum::default();
    assert_eq!(a.value(), 0.0);
    a.add(1.5);
    a.add(f32::INFINITY);
    assert_eq!(a.value(), f64::INFINITY);
    a.add(f32::NEG_INFINITY);
    assert!(a.value().is_nan());
    let mut b = ExactSum::default();
    b.add(f32::from_bits(1)); // smallest subnormal
    b.add(f32::MAX);
    b.add(-f32::MAX);
    assert_eq!(b.value(), f32::from_bits(1) as f64);
    let mut c = ExactSum::default();
    c.add(1e30);
    c.add(1.0);
    c.add(-1e30);
    assert_eq!(c.value(), 1.0);
    let mut d = ExactSum::default();
    d.add(f32::NAN);
    assert!(d.value().is_nan());
}
