//! An order-independent sum of f32 values: the same bits whatever order the values come in, and
//! whatever way the work is split, as long as the partial sums are combined with
//! [`ExactSum::merge`].
//!
//! One f64 bin per f32 exponent. Every f32 with biased exponent `e` is a multiple of
//! `2^(e - 150)` (subnormals: of `2^-149`, all in bin 0) and smaller than `2^(e - 126)` in
//! magnitude, so a sum of up to 2^29 of them is a multiple of `2^(e - 150)` below `2^(e - 97)`:
//! 53 bits, exactly representable in f64. Each bin therefore holds the exact sum of its values,
//! in any order. [`ExactSum::value`] adds the bins from the smallest exponent up, a fixed order,
//! so the result depends only on the multiset of values. Infinities and NaNs land in the last
//! bin and give IEEE's answer (inf + -inf = NaN).
//!
//! The 2^29 bound per call is more than a wasm32 memory can hold for C >= 2 classes of f32
//! logits; [`ExactSum::add`] counts and keeps the bound with [`ExactSum::carry`].

/// Exact, order-independent accumulator of f32 values (see the module docs). `repr(C)`: the
/// wasm ABI hands it around as an opaque block of [`core::mem::size_of::<ExactSum>()`] bytes.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct ExactSum {
    bins: [f64; 256],
    count: u32,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum { bins: [0.0; 256], count: 0 }
    }
}

/// Values added between two carries: below 2^29 so that no bin can lose a bit.
const CARRY_EVERY: u32 = 1 << 28;

impl ExactSum {
    /// Adds `v` exactly.
    #[inline(always)]
    pub fn add(&mut self, v: f32) {
        let e = ((v.to_bits() >> 23) & 0xff) as usize;
        self.bins[e] += v as f64;
        self.count += 1;
        if self.count == CARRY_EVERY {
            self.carry();
        }
    }

    /// Adds `v` `n` times, exactly: as `n` calls of [`ExactSum::add`], in a few operations
    /// (`v` times a count below the next carry is exact in f64: 24 + 28 bits).
    #[inline(never)]
    pub fn add_times(&mut self, v: f32, mut n: u64) {
        let e = ((v.to_bits() >> 23) & 0xff) as usize;
        while n > 0 {
            let k = n.min((CARRY_EVERY - self.count) as u64) as u32;
            self.bins[e] += v as f64 * k as f64;
            self.count += k;
            n -= k as u64;
            if self.count == CARRY_EVERY {
                self.carry();
            }
        }
    }

    /// Adds every value of `vals` exactly.
    #[inline(always)]
    pub fn add_all(&mut self, vals: &[f32]) {
        for &v in vals {
            let e = ((v.to_bits() >> 23) & 0xff) as usize;
            self.bins[e] += v as f64;
        }
        self.count += vals.len() as u32;
        if self.count >= CARRY_EVERY {
            self.carry();
        }
    }

    /// Adds every bin of `other` into this one, exactly.
    pub fn merge(&mut self, other: &ExactSum) {
        if self.count as u64 + other.count as u64 >= CARRY_EVERY as u64 {
            self.carry();
        }
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            *a += *b;
        }
        self.count += other.count;
        if self.count >= CARRY_EVERY {
            self.carry();
        }
    }

    /// Moves the high part of every finite bin up to the bin whose resolution can hold it, so
    /// that each bin again has room for 2^28 more values. Exact: a bin's value is split into a
    /// multiple of the upper bin's unit (truncated towards zero) and an exact remainder.
    pub fn carry(&mut self) {
        for e in 0..254 {
            let v = self.bins[e];
            if v == 0.0 {
                continue;
            }
            // unit of bin e + 1: 2^(max(e, 1) + 1 - 150); move whole multiples of 2^24 units of
            // bin e (= 2^24 * 2^(e-150)), which bin e + 24 (unit 2^(e-126)) represents exactly.
            let up = (e + 24).min(254);
            let unit = pow2(up.max(1) as i32 - 150);
            let hi = trunc(v / unit) * unit;
            self.bins[e] = v - hi;
            self.bins[up] += hi;
        }
        self.count = 0;
    }

    /// The exact sum, correctly rounded to f64 (round to nearest, ties to even): a function
    /// of the values alone, whatever their order, the carries or the merges.
    pub fn value(&self) -> f64 {
        let special = self.bins[255];
        if special != 0.0 {
            return special; // inf or NaN (a finite remainder cannot change either)
        }
        // Fixed point: limb i holds bits [32 i, 32 i + 32) of total / 2^FIXED_LSB.
        let mut limbs = [0i64; LIMBS];
        for &v in &self.bins[..255] {
            if v == 0.0 {
                continue;
            }
            let bits = v.to_bits();
            let biased = ((bits >> 52) & 0x7ff) as i32;
            let frac = bits & ((1u64 << 52) - 1);
            // v = mant * 2^exp exactly
            let (mant, exp) = if biased == 0 { (frac, -1074) } else { (frac | (1 << 52), biased - 1075) };
            let tz = mant.trailing_zeros();
            let (mant, exp) = (mant >> tz, exp + tz as i32);
            let shift = (exp - FIXED_LSB) as u32; // >= 0: every bin is a multiple of 2^-149
            let (limb, bit) = ((shift / 32) as usize, shift % 32);
            let wide = (mant as u128) << bit; // < 2^85: three limbs
            let sign = if v < 0.0 { -1 } else { 1 };
            for k in 0..3 {
                if limb + k < LIMBS {
                    limbs[limb + k] += sign * ((wide >> (32 * k)) as u64 & 0xffff_ffff) as i64;
                }
            }
        }
        // Carry into canonical base-2^32 digits; the top limb keeps the sign. (The loops run
        // over a length the compiler cannot see, `black_box`: loops rather than eleven and
        // twelve copies of their bodies, in code run once a call; see docs/performance.md.)
        let n = core::hint::black_box(LIMBS).clamp(1, LIMBS);
        let mut carry = 0i64;
        for l in &mut limbs[..n - 1] {
            let v = *l + carry;
            carry = v >> 32; // floor division by 2^32
            *l = v - (carry << 32);
        }
        limbs[LIMBS - 1] += carry;
        let negative = limbs[LIMBS - 1] < 0;
        if negative {
            // two's complement negate over the digits
            let mut borrow = 0i64;
            for l in &mut limbs[..n] {
                let v = -*l - borrow;
                borrow = if v < 0 { 1 } else { 0 };
                *l = v + (borrow << 32);
            }
        }
        let magnitude = round_to_f64(&limbs);
        if negative {
            -magnitude
        } else {
            magnitude
        }
    }
}

/// 2^FIXED_LSB is the unit of the fixed-point total: below the smallest f32 (2^-149).
const FIXED_LSB: i32 = -160;
/// Enough 32-bit limbs for f32 values below 2^128 summed 2^64 times, with a sign limb.
const LIMBS: usize = 12;

/// The non-negative fixed-point number in `limbs` (digits in [0, 2^32)), rounded to nearest
/// f64, ties to even.
fn round_to_f64(limbs: &[i64; LIMBS]) -> f64 {
    let Some(top) = (0..LIMBS).rev().find(|&i| limbs[i] != 0) else {
        return 0.0;
    };
    let bit_len = |i: usize| 32 * i as i32 + (64 - (limbs[i] as u64).leading_zeros() as i32);
    let msb = bit_len(top) - 1; // index of the highest set bit
    let bit = |k: i32| -> u64 {
        if k < 0 {
            0
        } else {
            limbs.get((k / 32) as usize).map_or(0, |&l| (l as u64 >> (k % 32)) & 1)
        }
    };
    // 53 significant bits from msb down, then the rounding bit and the sticky bits.
    let mut mant = 0u64;
    for k in (msb - 52..=msb).rev() {
        mant = (mant << 1) | bit(k);
    }
    let round = bit(msb - 53);
    let sticky = (0..msb - 53).any(|k| bit(k) == 1);
    if round == 1 && (sticky || mant & 1 == 1) {
        mant += 1;
    }
    // value = mant * 2^(msb - 52 + FIXED_LSB); mant may have carried to 2^53 (still exact).
    mant as f64 * pow2(msb - 52 + FIXED_LSB)
}

/// 2^k for k in [-1074, 1023], built from the bits (no libm in no_std).
fn pow2(k: i32) -> f64 {
    if k >= -1022 {
        f64::from_bits(((k + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (k + 1074))
    }
}

/// Truncation towards zero of a finite f64 (no libm in no_std).
fn trunc(x: f64) -> f64 {
    if x.abs() >= 4_503_599_627_370_496.0 {
        return x; // already an integer (2^52 and above)
    }
    (x as i64) as f64
}
