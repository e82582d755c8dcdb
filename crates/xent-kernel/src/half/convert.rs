//! IEEE 754 binary16 ("half", float16) bits to f32, exactly: every half value is an f32 value
//! (normals, subnormals, signed zeros, infinities; a NaN keeps its sign and its payload, shifted
//! into the top of the f32 mantissa, as hardware conversions do).
//!
//! One formula for both builds, on the bits: `em` = the half without its sign, shifted left by
//! 13 (its mantissa then sits at the top of the f32 mantissa):
//! - normal (`em` exponent 1..=30): add `(127 - 15) << 23` to rebias the exponent;
//! - infinity or NaN (exponent 31): OR in the f32 exponent `0xff << 23`;
//! - zero or subnormal (exponent 0): `m 2^-24` = the f32 `2^-14 (1 + m/1024)` (bits
//!   `em + (113 << 23)`) minus `2^-14`, an exact subtraction (Sterbenz);
//!
//! then the sign ORed in. The simd128 build does it 8 halves at a time with integer lane
//! operations and one f32 subtraction; the portable build one at a time: the same bits.

/// Where the f32 exponent field of a half's bits lands after the shift by 13.
const REBIAS: u32 = (127 - 15) << 23;
/// `2^-14` as f32 bits: the subnormals' scale.
const MAGIC: u32 = 113 << 23;
/// The half's exponent field (31 = infinity or NaN) after the shift by 13.
const EXP: u32 = 0x7c00 << 13;

/// One half (its bits) as f32.
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let em = (h & 0x7fff) << 13;
    let bits = if em >= EXP {
        em | 0x7f80_0000
    } else if em >= 1 << 23 {
        em + REBIAS
    } else {
        (f32::from_bits(em + MAGIC) - f32::from_bits(MAGIC)).to_bits()
    };
    f32::from_bits(bits | sign)
}

/// Converts the halves `src` into `dst` (as long). (Not inlined: one copy serves the export and
/// the strips, for the module's size; a call converts a whole row of a strip.)
#[inline(never)]
pub fn convert(src: &[u16], dst: &mut [f32]) {
    debug_assert_eq!(src.len(), dst.len());
    let len = src.len().min(dst.len());
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = {
        let whole = len - len % 8;
        // SAFETY: `whole <= len`, within both slices.
        unsafe { simd::convert8(src.as_ptr(), dst.as_mut_ptr(), whole) };
        whole
    };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    for (d, &h) in dst[done..len].iter_mut().zip(&src[done..len]) {
        *d = f16_to_f32(h);
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::{EXP, MAGIC, REBIAS};
    use core::arch::wasm32::*;

    /// Four u32 lanes in memory, 16-aligned: a constant [`load`] reads once, before the loop.
    #[repr(C, align(16))]
    struct Lanes([u32; 4]);

    static SIGN: Lanes = Lanes([0x8000_0000; 4]);
    static EM: Lanes = Lanes([0x7fff << 13; 4]);
    static SPECIAL_BELOW: Lanes = Lanes([EXP - 1; 4]);
    static NORMAL_BELOW: Lanes = Lanes([(1 << 23) - 1; 4]);
    static REBIASED: Lanes = Lanes([REBIAS; 4]);
    static MAGICS: Lanes = Lanes([MAGIC; 4]);

    /// A constant's lanes, read from memory. Volatile: LLVM would otherwise re-create it as a
    /// `v128.const` at each use inside the loop, which V8 builds anew every time.
    #[inline(always)]
    fn load(k: &'static Lanes) -> v128 {
        // SAFETY: `Lanes` is 16 bytes, 16-aligned, and `k` a valid reference.
        unsafe { core::ptr::read_volatile(k as *const Lanes as *const v128) }
    }

    /// Converts `len` (a multiple of 8) halves at `src` into `dst`, 8 at a time.
    ///
    /// # Safety
    /// `src` valid for reading and `dst` for writing `len` values; `len % 8 == 0`.
    #[inline(never)]
    pub(super) unsafe fn convert8(src: *const u16, dst: *mut f32, len: usize) {
        debug_assert_eq!(len % 8, 0);
        let k = Consts {
            sign: load(&SIGN),
            em: load(&EM),
            special_below: load(&SPECIAL_BELOW),
            normal_below: load(&NORMAL_BELOW),
            rebias: load(&REBIASED),
            magic: load(&MAGICS),
        };
        let mut i = 0;
        while i < len {
            // SAFETY: `i + 8 <= len`: 16 bytes readable at `src + i`, 32 writable at `dst + i`.
            unsafe {
                v128_store(dst.add(i) as *mut v128, k.lanes(i32x4_load_extend_i16x4(src.add(i) as *const i16)));
                v128_store(dst.add(i + 4) as *mut v128, k.lanes(i32x4_load_extend_i16x4(src.add(i + 4) as *const i16)));
            }
            i += 8;
        }
    }

    /// The formula's constants, loaded.
    struct Consts {
        sign: v128,
        em: v128,
        special_below: v128,
        normal_below: v128,
        rebias: v128,
        magic: v128,
    }

    impl Consts {
        /// Four halves (sign-extended to i32 lanes) as f32: the module's formula, with the
        /// infinity/NaN case as a second rebias (`em + 2 REBIAS` = `em | 0x7f80_0000` there)
        /// and signed compares (`em < 2^28`).
        #[inline(always)]
        fn lanes(&self, x: v128) -> v128 {
            let sign = v128_and(x, self.sign);
            let em = v128_and(i32x4_shl(x, 13), self.em);
            let special = v128_and(i32x4_gt(em, self.special_below), self.rebias);
            let normal = i32x4_add(i32x4_add(em, self.rebias), special);
            let sub = f32x4_sub(i32x4_add(em, self.magic), self.magic);
            v128_or(v128_bitselect(normal, sub, i32x4_gt(em, self.normal_below)), sign)
        }
    }
}
