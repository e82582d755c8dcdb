//! Vector approximations of exp and log, written once over [`F32x4`](crate::lanes::F32x4).
//!
//! Names follow XNNPACK's convention: `rr2` = range reduction with a two-constant (Cody-Waite)
//! ln 2, `p5` = degree-5 polynomial; `atanh_p9` = the atanh series of log up to z^9.

pub mod exp;
pub mod log;

pub use exp::{exp_rr2_p5, ExpRr2P5};
pub use log::{log_atanh_p9, LogAtanhP9};
