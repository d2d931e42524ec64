//! How strictly a kernel-dependent feature is required.

/// How a kernel-dependent feature behaves when the running kernel lacks it.
///
/// Every feature the caller asks for explicitly defaults to
/// [`CompatLevel::HardRequirement`]: a sandbox never silently runs with less
/// isolation than requested. Defaults the caller did not ask for are
/// [`CompatLevel::BestEffort`], and the enforcement report on the
/// [`Child`](crate::Child) says what actually took effect.
///
/// With the `serde` feature it is written `"hard_requirement"` or
/// `"best_effort"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum CompatLevel {
    /// Refuse to spawn (with a typed error) unless fully enforced.
    #[default]
    HardRequirement,
    /// Apply as much as the kernel supports; report what was left out.
    BestEffort,
}
