//! The wasm `simd128` implementation of [`F32x4`].
//!
//! `pmax` rather than `max`: V8 lowers `f32x4.max` on x86 to a long sequence that implements
//! IEEE NaN and signed-zero rules; `pmax` is one `maxps`.

use super::F32x4;
use core::arch::wasm32::*;

#[derive(Clone, Copy)]
pub struct Simd128(pub v128);

// The unsafe methods' contracts (# Safety) are the trait's: see [`F32x4`].
impl F32x4 for Simd128 {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Simd128(v128_load(p as *const v128))
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, k: usize) -> Self {
        let mut a = [0.0f32; 4];
        for (i, v) in a.iter_mut().enumerate().take(k) {
            *v = *p.add(i);
        }
        Self::from_array(a)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        v128_store(p as *mut v128, self.0)
    }
    #[inline(always)]
    unsafe fn store_n(self, p: *mut f32, k: usize) {
        let a = self.to_array();
        for (i, v) in a.iter().enumerate().take(k) {
            *p.add(i) = *v;
        }
    }
    #[inline(always)]
    unsafe fn load_u8_lanes(p: *const u8) -> Self {
        Simd128(u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(v128_load32_zero(p as *const u32))))
    }
    #[inline(always)]
    unsafe fn load_u16_lanes(p: *const u16) -> Self {
        Simd128(u32x4_load_extend_u16x4(p))
    }
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Simd128(f32x4_splat(x))
    }
    #[inline(always)]
    fn constant(k: &'static super::Splat) -> Self {
        // SAFETY: `Splat` is 16 bytes, 16-aligned. Volatile: LLVM must load it here, not fold
        // it into a v128.const.
        Simd128(unsafe { core::ptr::read_volatile(k as *const super::Splat as *const v128) })
    }
    #[inline(always)]
    fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        (Simd128(i32x4_shuffle::<0, 2, 4, 6>(a.0, b.0)), Simd128(i32x4_shuffle::<1, 3, 5, 7>(a.0, b.0)))
    }
    #[inline(always)]
    fn interleave(x: Self, y: Self) -> (Self, Self) {
        (Simd128(i32x4_shuffle::<0, 4, 1, 5>(x.0, y.0)), Simd128(i32x4_shuffle::<2, 6, 3, 7>(x.0, y.0)))
    }
    #[inline(always)]
    fn transpose(v: [Self; 4]) -> [Self; 4] {
        let [r0, r1, r2, r3] = v.map(|x| x.0);
        let t0 = i32x4_shuffle::<0, 4, 1, 5>(r0, r1);
        let t1 = i32x4_shuffle::<2, 6, 3, 7>(r0, r1);
        let t2 = i32x4_shuffle::<0, 4, 1, 5>(r2, r3);
        let t3 = i32x4_shuffle::<2, 6, 3, 7>(r2, r3);
        [
            Simd128(i32x4_shuffle::<0, 1, 4, 5>(t0, t2)),
            Simd128(i32x4_shuffle::<2, 3, 6, 7>(t0, t2)),
            Simd128(i32x4_shuffle::<0, 1, 4, 5>(t1, t3)),
            Simd128(i32x4_shuffle::<2, 3, 6, 7>(t1, t3)),
        ]
    }
    #[inline(always)]
    fn from_array(a: [f32; 4]) -> Self {
        Simd128(f32x4(a[0], a[1], a[2], a[3]))
    }
    #[inline(always)]
    fn to_array(self) -> [f32; 4] {
        [
            f32x4_extract_lane::<0>(self.0),
            f32x4_extract_lane::<1>(self.0),
            f32x4_extract_lane::<2>(self.0),
            f32x4_extract_lane::<3>(self.0),
        ]
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Simd128(f32x4_add(self.0, o.0))
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Simd128(f32x4_sub(self.0, o.0))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Simd128(f32x4_mul(self.0, o.0))
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        Simd128(f32x4_div(self.0, o.0))
    }
    #[cfg(target_feature = "relaxed-simd")]
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        Simd128(f32x4_relaxed_madd(self.0, b.0, c.0))
    }
    #[inline(always)]
    fn pmax(self, o: Self) -> Self {
        Simd128(f32x4_pmax(self.0, o.0))
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        Simd128(v128_and(self.0, o.0))
    }
    #[inline(always)]
    fn overtakes(self, m: Self) -> Self {
        let nan_x = f32x4_ne(self.0, self.0);
        let num_m = f32x4_eq(m.0, m.0);
        Simd128(v128_or(f32x4_gt(self.0, m.0), v128_and(nan_x, num_m)))
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self {
        Simd128(f32x4_eq(self.0, o.0))
    }
    #[inline(always)]
    fn bits_eq(self, o: Self) -> Self {
        Simd128(i32x4_eq(self.0, o.0))
    }
    #[inline(always)]
    fn and_not(self, o: Self) -> Self {
        Simd128(v128_andnot(self.0, o.0))
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        Simd128(f32x4_lt(self.0, o.0))
    }
    #[inline(always)]
    fn le(self, o: Self) -> Self {
        Simd128(f32x4_le(self.0, o.0))
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        Simd128(v128_or(self.0, o.0))
    }
    #[inline(always)]
    fn bitmask(self) -> u32 {
        i32x4_bitmask(self.0) as u32
    }
    #[inline(always)]
    fn add_widened<const V: usize>(v: &[Self; V], acc: &mut [f64; 4]) {
        let p = acc.as_mut_ptr() as *mut v128;
        // SAFETY: `acc` is 32 bytes (wasm loads and stores need no alignment).
        unsafe {
            let (mut lo, mut hi) = (v128_load(p), v128_load(p.add(1)));
            for x in v {
                lo = f64x2_add(lo, f64x2_promote_low_f32x4(x.0));
                hi = f64x2_add(hi, f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(x.0, x.0)));
            }
            v128_store(p, lo);
            v128_store(p.add(1), hi);
        }
    }
    #[inline(always)]
    fn finite_mask(x: Self) -> Self {
        Simd128(f32x4_eq(f32x4_sub(x.0, x.0), f32x4_splat(0.0)))
    }
    #[inline(always)]
    fn select(mask: Self, a: Self, b: Self) -> Self {
        Simd128(v128_bitselect(a.0, b.0, mask.0))
    }
    #[inline(always)]
    fn zero_where_lt(self, x: Self, limit: Self) -> Self {
        Simd128(v128_andnot(self.0, f32x4_lt(x.0, limit.0)))
    }
    #[inline(always)]
    fn bits_shl(self, n: u32) -> Self {
        Simd128(i32x4_shl(self.0, n))
    }
    #[inline(always)]
    fn bits_shr(self, n: u32) -> Self {
        Simd128(u32x4_shr(self.0, n))
    }
    #[inline(always)]
    fn bits_and(self, m: u32) -> Self {
        Simd128(v128_and(self.0, u32x4_splat(m)))
    }
    #[inline(always)]
    fn bits_add(self, k: u32) -> Self {
        Simd128(i32x4_add(self.0, u32x4_splat(k)))
    }
    #[inline(always)]
    fn bits_max_i32(self, o: Self) -> Self {
        Simd128(i32x4_max(self.0, o.0))
    }
    #[inline(always)]
    fn bits_min_u32(self, o: Self) -> Self {
        Simd128(u32x4_min(self.0, o.0))
    }
    #[inline(always)]
    fn bits_to_f32(self) -> Self {
        Simd128(f32x4_convert_i32x4(self.0))
    }
}
