//! Label validation (`Labels::validate`): every label dtype against a naive loop, over lengths
//! that end at every offset of the vector loops and of the u8 scan's 240-label chunks, class
//! counts around the u8 range, ignore indices a u8 can and cannot hold, and bad labels at
//! every position.

mod common;

use common::Rng;
use xent_kernel::labels::Labels;
use xent_kernel::Error;

/// What `validate` must return: the first live label outside `[0, c)`, else the count of live
/// labels (or the sum of their weights).
fn naive(labels: &[i32], c: usize, ignore: i32, weight: Option<&[f32]>) -> Result<f64, Error> {
    let mut sum = 0.0f64;
    for (index, &v) in labels.iter().enumerate() {
        if v == ignore {
            continue;
        }
        if v < 0 || v as usize >= c {
            return Err(Error::TargetOutOfBounds { index, value: v as i64 });
        }
        sum += weight.map_or(1.0, |w| w[v as usize] as f64);
    }
    Ok(sum)
}

/// Checks the label map as every dtype that can hold it.
fn check(labels: &[i32], c: usize, ignore: i32, weight: Option<&[f32]>, what: &str) {
    let want = naive(labels, c, ignore, weight);
    let i32s = labels.to_vec();
    assert_eq!(Labels::I32(&i32s).validate(c, ignore, weight), want, "i32 {what}");
    if labels.iter().all(|&v| (0..=0xffff).contains(&v)) {
        let u16s: Vec<u16> = labels.iter().map(|&v| v as u16).collect();
        assert_eq!(Labels::U16(&u16s).validate(c, ignore, weight), want, "u16 {what}");
    }
    if labels.iter().all(|&v| (0..=0xff).contains(&v)) {
        let u8s: Vec<u8> = labels.iter().map(|&v| v as u8).collect();
        assert_eq!(Labels::U8(&u8s).validate(c, ignore, weight), want, "u8 {what}");
    }
}

#[test]
fn every_dtype_agrees_with_a_naive_loop() {
    let mut rng = Rng(7);
    let lengths = [0, 1, 15, 16, 17, 31, 33, 239, 240, 241, 255, 256, 257, 479, 480, 481, 1000, 4095, 4097];
    for &n in &lengths {
        for c in [0usize, 1, 2, 19, 254, 255, 256, 257, 300] {
            for ignore in [-100, -1, 0, 1, 254, 255, 256, 65535, 65536] {
                // Classes up to 255 in half the maps (u8 can hold them), all of [0, c) in the
                // others (the weights' counts run 256 classes a pass).
                let top = if rng.below(2) == 0 { c } else { c.min(256) };
                let class = |rng: &mut Rng| if c == 0 { 0 } else { rng.below(top) as i32 };
                // Live labels in range, about a third of them ignored.
                let mut labels: Vec<i32> =
                    (0..n).map(|_| if rng.below(3) == 0 { ignore } else { class(&mut rng) }).collect();
                let what = format!("n={n} c={c} ignore={ignore}");
                check(&labels, c, ignore, None, &what);
                let weight: Vec<f32> = (0..c).map(|_| rng.uniform(0.25, 2.0)).collect();
                check(&labels, c, ignore, Some(&weight), &what);
                if n == 0 {
                    continue;
                }
                // One bad label (or more), at the start, the end and anywhere: just above the
                // last class, the largest u8, a negative one.
                for bad in [c as i32, 255, 256, -1] {
                    if bad == ignore || (bad >= 0 && (bad as usize) < c) {
                        continue;
                    }
                    for at in [0, n - 1, rng.below(n)] {
                        let keep = labels[at];
                        labels[at] = bad;
                        check(&labels, c, ignore, None, &format!("{what} bad={bad} at {at}"));
                        let second = rng.below(n);
                        let keep2 = labels[second];
                        labels[second] = bad;
                        check(&labels, c, ignore, None, &format!("{what} bad={bad} at {at} and {second}"));
                        labels[second] = keep2;
                        labels[at] = keep;
                    }
                }
            }
        }
    }
}

/// Every label ignored, or none, in runs longer than the u8 count can hold in one chunk.
#[test]
fn counts_past_a_u8() {
    for n in [255, 256, 480, 70_000] {
        for ignore in [0, 7, 255] {
            check(&vec![ignore; n], 8, ignore, None, &format!("all ignored n={n} ignore={ignore}"));
            check(&vec![(ignore + 1) % 8; n], 8, ignore, None, &format!("none ignored n={n} ignore={ignore}"));
        }
        check(&vec![5; n], 8, -100, None, &format!("ignore -100 n={n}"));
        check(&vec![5; n], 8, 300, None, &format!("ignore 300 n={n}"));
    }
}
