//! A tiny lane trait: four f32 lanes and the handful of operations the kernels need.
//!
//! The kernels are written once, generically over [`F32x4`]; each instruction set provides one
//! implementation. Every operation is exactly specified (IEEE-754 single precision, round to
//! nearest, no fused multiply-add, `pmax` as wasm defines it), so the SIMD and the portable
//! implementations give bit-identical results. The one exception is opt-in: built with the
//! `relaxed-simd` target feature, [`F32x4::mul_add`] is wasm's `f32x4.relaxed_madd`, which the
//! engine may fuse (one rounding) or not, depending on the CPU: faster, within the same
//! tolerances, but not bit-identical to the other builds.

pub mod portable;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;

/// The lane implementation this build uses for its kernels.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub type Native = simd128::Simd128;
/// The lane implementation this build uses for its kernels.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub type Native = portable::Portable;

/// A constant for [`F32x4::constant`]: four copies of a float, 16-byte aligned.
#[repr(C, align(16))]
pub struct Splat(pub [f32; 4]);

impl Splat {
    pub const fn new(x: f32) -> Self {
        Splat([x; 4])
    }
}

/// Four f32 lanes.
pub trait F32x4: Copy {
    /// Loads 4 consecutive floats.
    ///
    /// # Safety
    /// `p` must be valid for reading 4 floats (no alignment needed).
    unsafe fn load(p: *const f32) -> Self;
    /// Loads the first `k` (0..=4) floats at `p`; the other lanes are 0.
    ///
    /// # Safety
    /// `p` must be valid for reading `k` floats.
    unsafe fn load_n(p: *const f32, k: usize) -> Self;
    /// Stores the 4 lanes.
    ///
    /// # Safety
    /// `p` must be valid for writing 4 floats.
    unsafe fn store(self, p: *mut f32);
    /// Stores the first `k` (0..=4) lanes; nothing else is written.
    ///
    /// # Safety
    /// `p` must be valid for writing `k` floats.
    unsafe fn store_n(self, p: *mut f32, k: usize);
    /// Loads `k` (0..=4) floats `stride` apart starting at `p`; the other lanes are 0.
    ///
    /// # Safety
    /// `p + i * stride` must be valid for reading for `i < k`.
    #[inline(always)]
    unsafe fn load_strided(p: *const f32, stride: usize, k: usize) -> Self {
        let mut a = [0.0f32; 4];
        for (i, v) in a.iter_mut().enumerate().take(k) {
            *v = *p.add(i * stride);
        }
        Self::from_array(a)
    }
    /// Stores the first `k` (0..=4) lanes `stride` floats apart.
    ///
    /// # Safety
    /// `p + i * stride` must be valid for writing for `i < k`.
    #[inline(always)]
    unsafe fn store_strided(self, p: *mut f32, stride: usize, k: usize) {
        let a = self.to_array();
        for (i, v) in a.iter().enumerate().take(k) {
            *p.add(i * stride) = *v;
        }
    }
    /// Loads 4 consecutive bytes, each widened (unsigned) to the 32 bits of a lane.
    ///
    /// # Safety
    /// `p` must be valid for reading 4 bytes.
    #[inline(always)]
    unsafe fn load_u8_lanes(p: *const u8) -> Self {
        Self::from_array([0, 1, 2, 3].map(|i| f32::from_bits(*p.add(i) as u32)))
    }
    /// Loads 4 consecutive u16, each widened (unsigned) to the 32 bits of a lane.
    ///
    /// # Safety
    /// `p` must be valid for reading 4 u16 (no alignment needed).
    #[inline(always)]
    unsafe fn load_u16_lanes(p: *const u16) -> Self {
        Self::from_array([0, 1, 2, 3].map(|i| f32::from_bits(p.add(i).read_unaligned() as u32)))
    }
    fn splat(x: f32) -> Self;
    /// Four lanes with the bit pattern `b`.
    #[inline(always)]
    fn splat_bits(b: u32) -> Self {
        Self::splat(f32::from_bits(b))
    }
    /// The even lanes of `a` then `b`, and the odd ones: `([a0, a2, b0, b2], [a1, a3, b1, b3])`.
    #[inline(always)]
    fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        let (a, b) = (a.to_array(), b.to_array());
        (Self::from_array([a[0], a[2], b[0], b[2]]), Self::from_array([a[1], a[3], b[1], b[3]]))
    }
    /// The inverse of [`F32x4::deinterleave`]: `([x0, y0, x1, y1], [x2, y2, x3, y3])`.
    #[inline(always)]
    fn interleave(x: Self, y: Self) -> (Self, Self) {
        let (x, y) = (x.to_array(), y.to_array());
        (Self::from_array([x[0], y[0], x[1], y[1]]), Self::from_array([x[2], y[2], x[3], y[3]]))
    }
    /// The 4x4 transpose of four vectors: lane `j` of vector `i` becomes lane `i` of vector `j`.
    #[inline(always)]
    fn transpose(v: [Self; 4]) -> [Self; 4] {
        let a = v.map(|x| x.to_array());
        [0, 1, 2, 3].map(|j| Self::from_array([a[0][j], a[1][j], a[2][j], a[3][j]]))
    }
    /// A constant's four lanes, read from memory (`k` is a `static`): the SIMD build loads it
    /// where it is used, one instruction, where V8 would build a `v128.const` from general
    /// registers in three (LLVM re-creates constants at their uses rather than keep them).
    #[inline(always)]
    fn constant(k: &'static Splat) -> Self {
        Self::from_array(k.0)
    }
    fn from_array(a: [f32; 4]) -> Self;
    fn to_array(self) -> [f32; 4];
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    /// `self * b + c`: two roundings (a multiply, then an add) in every build but the relaxed-SIMD
    /// one, where it may be fused.
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        self.mul(b).add(c)
    }
    /// wasm's `f32x4.pmax`: `if self < o { o } else { self }` per lane (NaN in `self` stays).
    fn pmax(self, o: Self) -> Self;
    /// Bitwise AND of the lanes (masks are all-ones or all-zeros lanes).
    fn and(self, o: Self) -> Self;
    /// A mask (all-ones lanes) where `self > m`, or where `self` is NaN and `m` is not: the
    /// lanes where a running maximum `m` is overtaken, NaN being the largest and the first NaN
    /// winning (as `torch.argmax`).
    fn overtakes(self, m: Self) -> Self;
    /// A mask (all-ones lanes) where `self == o` (IEEE: never for NaN; `-0 == 0`).
    fn eq(self, o: Self) -> Self;
    /// A mask (all-ones lanes) where the bit patterns of `self` and `o` are equal (integers).
    fn bits_eq(self, o: Self) -> Self;
    /// `self AND NOT o`, bitwise.
    fn and_not(self, o: Self) -> Self;
    /// A mask (all-ones lanes) where `self < o` (IEEE: never for NaN).
    fn lt(self, o: Self) -> Self;
    /// A mask (all-ones lanes) where `self <= o` (IEEE: never for NaN).
    fn le(self, o: Self) -> Self;
    /// Bitwise OR of the lanes.
    fn or(self, o: Self) -> Self;
    /// The lanes' sign bits (a mask's lanes) as bits 0..4 of an integer, lane 0 in bit 0.
    fn bitmask(self) -> u32;
    /// Adds lane `i` of each of `v`, converted to f64 (exact), to `acc[i]`, in the order of `v`.
    #[inline(always)]
    fn add_widened<const V: usize>(v: &[Self; V], acc: &mut [f64; 4]) {
        for x in v {
            let a = x.to_array();
            for i in 0..4 {
                acc[i] += a[i] as f64;
            }
        }
    }
    /// A mask (all-ones lanes) where `x` is finite.
    fn finite_mask(x: Self) -> Self;
    /// Lanes of `a` where `mask` is set, of `b` elsewhere.
    fn select(mask: Self, a: Self, b: Self) -> Self;
    /// `self`, with 0.0 in the lanes where `x < limit`.
    fn zero_where_lt(self, x: Self, limit: Self) -> Self;
    /// The lanes' bit patterns shifted left by `n` (as u32).
    fn bits_shl(self, n: u32) -> Self;
    /// The lanes' bit patterns shifted right (logical) by `n`.
    fn bits_shr(self, n: u32) -> Self;
    /// The lanes' bit patterns AND `m`.
    fn bits_and(self, m: u32) -> Self;
    /// The lanes' bit patterns plus `k` (wrapping u32 add).
    fn bits_add(self, k: u32) -> Self;
    /// The larger bit pattern of each lane pair, as i32.
    fn bits_max_i32(self, o: Self) -> Self;
    /// The smaller bit pattern of each lane pair, as u32.
    fn bits_min_u32(self, o: Self) -> Self;
    /// The lanes' bit patterns read as i32 and converted to f32.
    fn bits_to_f32(self) -> Self;
}
