//! stockade: run child processes inside a Linux sandbox.
#![deny(missing_docs)]

mod caps;
mod compat;
mod confine;
#[cfg(feature = "landlock")]
mod landlock;
mod sys;

pub use self::caps::{
    CapStage, Capability, CapsError, CapsPolicy, CapsReport, ParseCapabilityError,
};
pub use compat::CompatLevel;
pub use confine::{ConfineError, ConfineReport, ConfineStage, Confinement, PreparedConfinement};
#[cfg(feature = "landlock")]
pub use landlock::{
    FsAccess, LandlockEnforcement, LandlockError, LandlockFeature, LandlockGroup, LandlockNote,
    LandlockPolicy, LandlockReport, LandlockScope, LandlockUnavailable, NetAccess,
};
