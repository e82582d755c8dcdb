//! `exp(x)` for `x <= 0`: the inputs of a max-subtracted softmax.

use crate::lanes::F32x4;

/// log2(e).
const LOG2E: f32 = core::f32::consts::LOG2_E;
/// 1.5 * 2^23 + 127: adding it rounds `x * log2(e)` to an integer `n` (round to nearest even)
/// and leaves `n + 127`, the biased exponent of 2^n, in the low mantissa bits.
const MAGIC_BIAS: f32 = 12583039.0;
/// ln 2 split in two: `LN2_HI` has 9 trailing zero bits, so `n * LN2_HI` is exact for |n| < 2^9.
const LN2_HI: f32 = 0.693_145_751_953_125;
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
    let n = x.mul_add(L::splat(LOG2E), L::splat(MAGIC_BIAS));
    let s = n.bits_shl(23); // 2^n, exact for n >= -126
    let n = n.sub(L::splat(MAGIC_BIAS));
    let t = n.mul_add(L::splat(-LN2_HI), x);
    let t = n.mul_add(L::splat(-LN2_LO), t);
    let p = L::splat(C5).mul_add(t, L::splat(C4));
    let p = p.mul_add(t, L::splat(C3));
    let p = p.mul_add(t, L::splat(C2));
    let p = p.mul_add(t, L::splat(C1));
    let ts = t.mul(s);
    ts.mul_add(p, s).zero_where_lt(x, L::splat(CUTOFF))
}
