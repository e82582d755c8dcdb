//! `exp(x)` for `x <= 0`: the inputs of a max-subtracted softmax.

use crate::lanes::{F32x4, Splat};

/// log2(e).
const LOG2E: f32 = core::f32::consts::LOG2_E;
/// 1.5 * 2^23 + 127: adding it rounds `x * log2(e)` to an integer `n` (round to nearest even)
/// and leaves `n + 127`, the biased exponent of 2^n, in the low mantissa bits.
const MAGIC_BIAS: f32 = 12583039.0;
/// ln 2 split in two: `LN2_HI` has 9 trailing zero bits, so `n * LN2_HI` is exact for |n| < 2^9.
#[expect(clippy::excessive_precision, reason = "the exact value of this f32, digit for digit")]
const LN2_HI: f32 = 0.693_145_751_953_125;
#[expect(clippy::excessive_precision, reason = "ln 2 - LN2_HI to 20 digits, as published; rounded to f32 here")]
const LN2_LO: f32 = 1.428_606_820_309_417_232_1e-6;
/// Below ln(2^-126) the result is 0 (a correctly rounded exp would give a subnormal; the
/// difference is under 1.2e-38 absolute, and these are softmax terms next to a term of 1).
pub const CUTOFF: f32 = -87.336_54;
/// Minimax (relative error, Lawson's algorithm) coefficients of
/// `e^t ~= 1 + t * (C1 + C2 t + C3 t^2 + C4 t^3 + C5 t^4)` on `[-ln2/2, ln2/2]`;
/// produced by `tools/fit_exp_p5.py` (max relative error of the polynomial 9.1e-8).
const C1: f32 = f32::from_bits(0x3f7f_fffb);
const C2: f32 = f32::from_bits(0x3eff_fee3);
const C3: f32 = f32::from_bits(0x3e2a_ad35);
const C4: f32 = f32::from_bits(0x3d2b_9d2a);
const C5: f32 = f32::from_bits(0x3c07_d41a);

/// `exp(x)` for `x` in `[-inf, 0]` or NaN: 0 below [`CUTOFF`] (and for -inf), NaN for NaN.
/// Not valid for `x > 0` (the caller subtracts the maximum first).
#[inline(always)]
pub fn exp_rr2_p5<L: F32x4>(x: L) -> L {
    ExpRr2P5::new().eval(x)
}

/// [`exp_rr2_p5`] with its constants loaded once: make one before a loop, call
/// [`ExpRr2P5::eval`] in it (the constants then stay in registers, or on the stack).
pub struct ExpRr2P5<L> {
    log2e: L,
    magic: L,
    ln2_hi: L,
    ln2_lo: L,
    c: [L; 5],
    cutoff: L,
}

impl<L: F32x4> ExpRr2P5<L> {
    #[inline(always)]
    pub fn new() -> Self {
        static K_LOG2E: Splat = Splat::new(LOG2E);
        static K_MAGIC: Splat = Splat::new(MAGIC_BIAS);
        static K_LN2_HI: Splat = Splat::new(-LN2_HI);
        static K_LN2_LO: Splat = Splat::new(-LN2_LO);
        static K_C: [Splat; 5] = [Splat::new(C1), Splat::new(C2), Splat::new(C3), Splat::new(C4), Splat::new(C5)];
        static K_CUTOFF: Splat = Splat::new(CUTOFF);
        ExpRr2P5 {
            log2e: L::constant(&K_LOG2E),
            magic: L::constant(&K_MAGIC),
            ln2_hi: L::constant(&K_LN2_HI),
            ln2_lo: L::constant(&K_LN2_LO),
            c: core::array::from_fn(|i| L::constant(&K_C[i])),
            cutoff: L::constant(&K_CUTOFF),
        }
    }

    /// See [`exp_rr2_p5`].
    #[inline(always)]
    pub fn eval(&self, x: L) -> L {
        let n = x.mul_add(self.log2e, self.magic);
        let s = n.bits_shl(23); // 2^n, exact for n >= -126
        let n = n.sub(self.magic);
        let t = n.mul_add(self.ln2_hi, x);
        let t = n.mul_add(self.ln2_lo, t);
        let c = &self.c;
        let p = c[4].mul_add(t, c[3]);
        let p = p.mul_add(t, c[2]);
        let p = p.mul_add(t, c[1]);
        let p = p.mul_add(t, c[0]);
        let ts = t.mul(s);
        ts.mul_add(p, s).zero_where_lt(x, self.cutoff)
    }
}

impl<L: F32x4> Default for ExpRr2P5<L> {
    fn default() -> Self {
        Self::new()
    }
}
