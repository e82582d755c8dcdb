//! The portable implementation of [`F32x4`]: four scalar lanes, for hosts and for the wasm build
//! without SIMD. Same operations, same order, same bits as the SIMD one.

use super::F32x4;

#[derive(Clone, Copy, Debug)]
pub struct Portable(pub [f32; 4]);

#[inline(always)]
fn map(a: [f32; 4], f: impl Fn(f32) -> f32) -> Portable {
    Portable([f(a[0]), f(a[1]), f(a[2]), f(a[3])])
}

#[inline(always)]
fn zip(a: [f32; 4], b: [f32; 4], f: impl Fn(f32, f32) -> f32) -> Portable {
    Portable([f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])])
}

// The unsafe methods' contracts (# Safety) are the trait's: see [`F32x4`].
impl F32x4 for Portable {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Portable([*p, *p.add(1), *p.add(2), *p.add(3)])
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, k: usize) -> Self {
        let mut a = [0.0; 4];
        for (i, v) in a.iter_mut().enumerate().take(k) {
            *v = *p.add(i);
        }
        Portable(a)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        for i in 0..4 {
            *p.add(i) = self.0[i];
        }
    }
    #[inline(always)]
    unsafe fn store_n(self, p: *mut f32, k: usize) {
        for i in 0..k.min(4) {
            *p.add(i) = self.0[i];
        }
    }
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Portable([x; 4])
    }
    #[inline(always)]
    fn from_array(a: [f32; 4]) -> Self {
        Portable(a)
    }
    #[inline(always)]
    fn to_array(self) -> [f32; 4] {
        self.0
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| a + b)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| a - b)
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| a * b)
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| a / b)
    }
    #[inline(always)]
    fn pmax(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| if a < b { b } else { a })
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| f32::from_bits(a.to_bits() & b.to_bits()))
    }
    #[inline(always)]
    fn overtakes(self, m: Self) -> Self {
        zip(self.0, m.0, |x, m| {
            let t = x > m || (x.is_nan() && !m.is_nan());
            f32::from_bits(if t { u32::MAX } else { 0 })
        })
    }
    #[inline(always)]
    #[expect(clippy::eq_op, reason = "v - v is 0 for a finite v and NaN for an infinity or a NaN: the finiteness test")]
    fn finite_mask(x: Self) -> Self {
        map(x.0, |v| f32::from_bits(if v - v == 0.0 { u32::MAX } else { 0 }))
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| f32::from_bits(if a == b { u32::MAX } else { 0 }))
    }
    #[inline(always)]
    fn bits_eq(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| f32::from_bits(if a.to_bits() == b.to_bits() { u32::MAX } else { 0 }))
    }
    #[inline(always)]
    fn and_not(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| f32::from_bits(a.to_bits() & !b.to_bits()))
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| f32::from_bits(if a < b { u32::MAX } else { 0 }))
    }
    #[inline(always)]
    fn le(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| f32::from_bits(if a <= b { u32::MAX } else { 0 }))
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| f32::from_bits(a.to_bits() | b.to_bits()))
    }
    #[inline(always)]
    fn bitmask(self) -> u32 {
        (0..4).map(|i| (self.0[i].to_bits() >> 31) << i).sum()
    }
    #[inline(always)]
    fn select(mask: Self, a: Self, b: Self) -> Self {
        let (m, a, b) = (mask.0, a.0, b.0);
        Portable(
            [0, 1, 2, 3]
                .map(|i| f32::from_bits((a[i].to_bits() & m[i].to_bits()) | (b[i].to_bits() & !m[i].to_bits()))),
        )
    }
    #[inline(always)]
    fn zero_where_lt(self, x: Self, limit: Self) -> Self {
        let (v, x, l) = (self.0, x.0, limit.0);
        Portable([0, 1, 2, 3].map(|i| if x[i] < l[i] { 0.0 } else { v[i] }))
    }
    #[inline(always)]
    fn bits_shl(self, n: u32) -> Self {
        map(self.0, |a| f32::from_bits(a.to_bits() << n))
    }
    #[inline(always)]
    fn bits_shr(self, n: u32) -> Self {
        map(self.0, |a| f32::from_bits(a.to_bits() >> n))
    }
    #[inline(always)]
    fn bits_and(self, m: u32) -> Self {
        map(self.0, |a| f32::from_bits(a.to_bits() & m))
    }
    #[inline(always)]
    fn bits_add(self, k: u32) -> Self {
        map(self.0, |a| f32::from_bits(a.to_bits().wrapping_add(k)))
    }
    #[inline(always)]
    fn bits_max_i32(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| f32::from_bits((a.to_bits() as i32).max(b.to_bits() as i32) as u32))
    }
    #[inline(always)]
    fn bits_min_u32(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| f32::from_bits(a.to_bits().min(b.to_bits())))
    }
    #[inline(always)]
    fn bits_to_f32(self) -> Self {
        map(self.0, |a| a.to_bits() as i32 as f32)
    }
}
