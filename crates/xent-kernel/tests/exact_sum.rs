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

/// A value for [`TileSum`]: mostly inside its f64 windows `[2^-17, 2^7)` and `[2^-41, 2^-17)`,
/// some on their edges, some outside (tinier, subnormal, huge), zeros of both signs, and, when
/// `special`, infinities and NaN.
fn tile_value(rng: &mut Rng, special: bool) -> f32 {
    let sign = if rng.below(4) == 0 { -1.0f32 } else { 1.0 };
    let m = rng.uniform(1.0, 2.0) as f64;
    let binade = |e: usize, lo: i32| (m * 2.0f64.powi(e as i32 + lo)) as f32;
    sign * match rng.below(40) {
        0..=23 => binade(rng.below(24), -17), // the window
        24 => 2.0f32.powi(-17),
        25 => f32::from_bits(2.0f32.powi(-17).to_bits() - 1), // just below the window
        26 => 128.0,                                          // just above it
        27 => f32::from_bits(128.0f32.to_bits() - 1),         // its largest value
        28 | 29 => 0.0,
        30 => binade(rng.below(100), -120),
        31 => binade(rng.below(24), -41), // the small window
        38 => 2.0f32.powi(-41),
        39 => f32::from_bits(2.0f32.powi(-41).to_bits() - 1), // just below it
        32 => f32::from_bits(1 + rng.below(0x7f_ffff) as u32), // subnormal
        33 | 34 => binade(rng.below(120), 7),
        35 => f32::MAX,
        36 if special => f32::INFINITY,
        37 if special && rng.below(8) == 0 => f32::NAN,
        _ => binade(rng.below(8), 0),
    }
}

#[test]
fn tile_sum_is_exact_sum() {
    use xent_kernel::lanes::{portable::Portable, F32x4};
    use xent_kernel::TileSum;
    let mut rng = Rng(2024);
    for round in 0..400 {
        let special = round % 5 == 4;
        // up to 2,400 values (6,000 at the limits of the large window): many flushes (every 64
        // vectors), whole tiles, single vectors and partial tiles mixed
        // Rounds 1, 101, ...: 140,000 values of the window's top, 2^62 in the integers that
        // hold the flushed lanes before they move to the ExactSum (every 128 flushes).
        let long = round % 100 == 1;
        let n = if long { 140_000 } else { rng.below(if round % 5 == 1 { 6000 } else { 2400 }) };
        let vals: Vec<f32> = if round % 5 == 1 {
            // The window's limits: lanes of large values (64 flush after flush, up to 2^13
            // just below the bound, where 68 would cross it) with the smallest ulps among them
            // (53 bits), and in half the rounds the large values just outside it (a window one
            // binade too wide would lose bits there). Values outside both windows are rare, so
            // that most tiles take the f64 lanes.
            let top = if long { 6 } else { 6 + rng.below(2) as i32 };
            (0..n)
                .map(|_| match rng.below(200) {
                    0..=3 => rng.uniform(1.0, 2.0) * 2.0f32.powi(-17),
                    4 => rng.uniform(1.0, 2.0) * 2.0f32.powi(-18),
                    5 => rng.uniform(1.0, 2.0) * 2.0f32.powi(13 - top),
                    _ => rng.uniform(1.96, 2.0) * 2.0f32.powi(top),
                })
                .collect()
        } else if round % 5 == 3 {
            // The same for the small window: lanes of values up to 2^-11 per flush with ulps of
            // 2^-64, values just below it (rare), and in half the rounds most values just above
            // it (the tiles then split between the two windows).
            let top = -18 + rng.below(2) as i32;
            (0..n)
                .map(|_| {
                    let m = rng.uniform(1.0, 2.0);
                    match rng.below(100) {
                        0..=9 => m * 2.0f32.powi(-41),
                        10 => m * 2.0f32.powi(-42),
                        11..=13 => 0.0,
                        _ => m * 2.0f32.powi(top),
                    }
                })
                .collect()
        } else {
            (0..n).map(|_| tile_value(&mut rng, special)).collect()
        };
        let mut want = ExactSum::default();
        vals.iter().for_each(|&v| want.add(v));
        let mut got = ExactSum::default();
        let mut sum = TileSum::new(&mut got);
        let mut rest = &vals[..];
        while !rest.is_empty() {
            let vec = |k: usize| Portable::from_array(rest[4 * k..4 * k + 4].try_into().unwrap());
            let take = match rng.below(4) {
                0 if rest.len() >= 16 => {
                    sum.add(&[vec(0), vec(1), vec(2), vec(3)]);
                    16
                }
                1 if rest.len() >= 4 => {
                    sum.add(&[vec(0)]);
                    4
                }
                2 => {
                    // a partial vector: its first k lanes (the others are not added)
                    let k = 1 + rng.below(rest.len().min(3));
                    let mut lanes = [f32::NAN; 4];
                    lanes[..k].copy_from_slice(&rest[..k]);
                    sum.add_lanes(&[Portable::from_array(lanes)], k);
                    k
                }
                _ => continue,
            };
            rest = &rest[take..];
        }
        sum.finish();
        let (g, w) = (got.value(), want.value());
        assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "round {round}: {g} vs {w}");
        if !special {
            // Exact to the last bit, not only after rounding to f64 (huge values would hide a
            // lost bit of the small ones): minus every value, the total is exactly 0.
            vals.iter().for_each(|&v| got.add(-v));
            assert_eq!(got.value(), 0.0, "round {round}");
        }
    }
}

/// `add_times(v, n)` is `n` calls of `add(v)`: exact products below 2^53, counts that cross the
/// carry every 2^28 values (from an empty sum and from one about to carry), and sums that
/// cancel to exactly 0.
#[test]
fn add_times_is_repeated_add() {
    let mut rng = Rng(5);
    let counts = [0u64, 1, 5, (1 << 28) - 1, 1 << 28, (1 << 28) + 1, 3 << 28, (1 << 29) - 3, 5_000_000_017];
    for round in 0..200 {
        let v = tile_value(&mut rng, false);
        let n = counts[round % counts.len()];
        let mut s = ExactSum::default();
        s.add_times(v, n);
        if n < 1 << 29 {
            // 24 + 29 bits: the product is exact in f64 (a sum of -0s is +0, as with `add`)
            assert_eq!(s.value(), v as f64 * n as f64, "round {round}: {v} x {n}");
        }
        // After 2^28 - 3 other values (the carry three values away), the same again.
        let mut t = ExactSum::default();
        t.add_times(1.0, (1 << 28) - 3);
        t.add_times(v, n);
        t.add_times(1.0, (1 << 28) + 3);
        t.add_times(-1.0, 1 << 29);
        assert_eq!(t.value().to_bits(), s.value().to_bits(), "round {round}: {v} x {n} after others");
        // One call or several, one value at a time for the first few: the same bits.
        let mut u = ExactSum::default();
        let few = n.min(7);
        (0..few).for_each(|_| u.add(v));
        u.add_times(v, (n - few) / 2);
        u.add_times(v, n - few - (n - few) / 2);
        assert_eq!(u.value().to_bits(), s.value().to_bits(), "round {round}: {v} x {n} in parts");
        // Minus the same: exactly 0.
        s.add_times(-v, n);
        assert_eq!(s.value(), 0.0, "round {round}");
    }
}
