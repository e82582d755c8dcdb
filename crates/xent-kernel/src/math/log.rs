//! `log(x)` for the sums of a max-subtracted softmax: `x` in `[1, 2^24]`, or NaN.

use crate::lanes::{F32x4, Splat};

/// Bits of sqrt(1/2), rounded: the mantissa is reduced to `[sqrt(1/2), sqrt(2))`.
const SQRT_HALF_BITS: u32 = 0x3f35_04f3;
const ONE_BITS: u32 = 0x3f80_0000;
#[expect(clippy::excessive_precision, reason = "the exact value of this f32, digit for digit")]
const LN2_HI: f32 = 0.693_145_751_953_125;
#[expect(clippy::excessive_precision, reason = "ln 2 - LN2_HI to 20 digits, as published; rounded to f32 here")]
const LN2_LO: f32 = 1.428_606_820_309_417_232_1e-6;

/// `log(x)` for finite `x >= 1` (accurate for any normal positive `x`); NaN gives NaN.
///
/// `x = m * 2^e` with `m` in `[sqrt(1/2), sqrt(2))`, `z = (m-1)/(m+1)` in `[-0.172, 0.172]`, and
/// `log(m) = 2 atanh(z) = 2z (1 + z^2/3 + z^4/5 + z^6/7 + z^8/9 + ...)`; the first omitted
/// term is below 2e-9 of the result, so the float32 rounding of the few operations dominates.
#[inline(always)]
pub fn log_atanh_p9<L: F32x4>(x: L) -> L {
    LogAtanhP9::new().eval(x)
}

/// [`log_atanh_p9`] with its constants loaded once (see [`crate::math::exp::ExpRr2P5`]).
pub struct LogAtanhP9<L> {
    one: L,
    q: [L; 4],
    ln2_hi: L,
    ln2_lo: L,
}

impl<L: F32x4> LogAtanhP9<L> {
    #[inline(always)]
    pub fn new() -> Self {
        static K_ONE: Splat = Splat::new(1.0);
        static K_Q: [Splat; 4] =
            [Splat::new(1.0 / 3.0), Splat::new(1.0 / 5.0), Splat::new(1.0 / 7.0), Splat::new(1.0 / 9.0)];
        static K_LN2_HI: Splat = Splat::new(LN2_HI);
        static K_LN2_LO: Splat = Splat::new(LN2_LO);
        LogAtanhP9 {
            one: L::constant(&K_ONE),
            q: core::array::from_fn(|i| L::constant(&K_Q[i])),
            ln2_hi: L::constant(&K_LN2_HI),
            ln2_lo: L::constant(&K_LN2_LO),
        }
    }

    /// See [`log_atanh_p9`].
    #[inline(always)]
    pub fn eval(&self, x: L) -> L {
        // Shift the bits so that mantissas >= sqrt(2) carry into the exponent.
        let u = x.bits_add(ONE_BITS.wrapping_sub(SQRT_HALF_BITS));
        let e = u.bits_shr(23).bits_add(0u32.wrapping_sub(127)).bits_to_f32();
        let m = u.bits_and(0x007f_ffff).bits_add(SQRT_HALF_BITS);
        let z = m.sub(self.one).div(m.add(self.one));
        let z2 = z.mul(z);
        let q = z2.mul_add(self.q[3], self.q[2]);
        let q = q.mul_add(z2, self.q[1]);
        let q = q.mul_add(z2, self.q[0]);
        let twoz = z.add(z);
        let r = twoz.mul_add(z2.mul(q), twoz);
        let r = e.mul_add(self.ln2_lo, r);
        // x - x is 0 for finite x and NaN for NaN, which the bit tricks above would lose.
        e.mul_add(self.ln2_hi, r).add(x.sub(x))
    }
}

impl<L: F32x4> Default for LogAtanhP9<L> {
    fn default() -> Self {
        Self::new()
    }
}
