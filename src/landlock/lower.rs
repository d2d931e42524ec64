//! Lowering: a policy resolved against the kernel, turned into plain data
//! once, for the rule-building routine both sandboxes and `Confinement` use
//! (`crate::zone::landlock::build`).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::access::FsAccess;
use super::error::{Error, RuleProblem};
use super::policy::Policy;
use super::report::{Note, Report};
use super::resolve::{KernelAbi, build_report, resolve};
use crate::compat::CompatLevel;
use crate::sys::landlock::{LandlockNetPortAttr, LandlockRulesetAttr};
use crate::zone::landlock::{PathRule, Rules};

/// Whose view rule paths are resolved in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// A sandbox's program, from its root after `pivot_root`: paths must be
    /// absolute, and a path that cannot become a C string is a
    /// configuration error.
    Sandbox,
    /// The calling process, now: relative paths start at its working
    /// directory, and a path with a NUL byte is a path that cannot be
    /// opened (`EINVAL`), as for any other open.
    Caller,
}

/// A policy lowered once: what the kernel is given, the names of the rules
/// (to name a failing one) and the report.
#[derive(Debug)]
pub(crate) struct Lowered {
    rules: Rules,
    /// Whether anything goes to the kernel (false: nothing requested, or
    /// best-effort on a kernel without Landlock).
    enforce: bool,
    /// The path of each rule in `rules.paths`, then the port of each rule
    /// in `rules.ports`.
    path_names: Vec<PathBuf>,
    port_names: Vec<u16>,
    report: Report,
}

/// A rule of a lowered policy, by what the caller named it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleName<'a> {
    Path(&'a Path),
    Port(u16),
}

impl Lowered {
    /// What the ruleset enforces (without the paths left out when it was
    /// built: the caller adds those).
    pub(crate) fn report(&self) -> &Report {
        &self.report
    }

    /// The rules for the kernel; `None` when there is nothing to enforce.
    pub(crate) fn rules(&self) -> Option<&Rules> {
        self.enforce.then_some(&self.rules)
    }

    /// The rule at `index`: path rules first, then port rules (the order of
    /// [`apply_in_child`](crate::zone::landlock::apply_in_child)'s failure
    /// indices).
    pub(crate) fn rule_name(&self, index: u32) -> Option<RuleName<'_>> {
        let i = usize::try_from(index).ok()?;
        if let Some(p) = self.path_names.get(i) {
            return Some(RuleName::Path(p));
        }
        let j = i.checked_sub(self.path_names.len())?;
        self.port_names.get(j).map(|p| RuleName::Port(*p))
    }

    /// The path of path rule `i`.
    pub(crate) fn path_name(&self, i: usize) -> Option<&Path> {
        self.path_names.get(i).map(PathBuf::as_path)
    }

    /// The port of port rule `i`.
    pub(crate) fn port_name(&self, i: usize) -> Option<u16> {
        self.port_names.get(i).copied()
    }
}

/// Checks `policy` against a kernel with Landlock status `abi` and lowers
/// it for rule paths seen from `view`. Pure: testable for any ABI.
///
/// Every rule path is kept while the filesystem group is enforced, also
/// one whose rights the kernel lacks entirely: it is still opened, so a
/// missing path is an error (or a note) whatever the kernel.
pub(crate) fn lower(policy: &Policy, abi: KernelAbi, view: View) -> Result<Lowered, Error> {
    // Configuration errors first: they do not depend on the kernel.
    if view == View::Sandbox {
        for rule in &policy.fs_rules {
            let reason = if !rule.path.is_absolute() {
                Some(RuleProblem::RelativePath)
            } else if has_nul(&rule.path) {
                Some(RuleProblem::NulByte)
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Error::InvalidRule {
                    path: rule.path.clone(),
                    reason,
                });
            }
        }
    }
    let resolved = resolve(policy, abi)?;
    let enforce = resolved.enforces();
    let best_effort = policy.fs_compat == CompatLevel::BestEffort;
    let mut paths = Vec::new();
    let mut path_names = Vec::new();
    let mut ports = Vec::new();
    let mut port_names = Vec::new();
    let mut notes = Vec::new();
    if enforce && !resolved.fs.is_empty() {
        for rule in &policy.fs_rules {
            // Under best-effort a path that cannot be opened is left out.
            let optional = rule.optional || best_effort;
            let Ok(path) = CString::new(rule.path.as_os_str().as_bytes()) else {
                // Only the caller's view gets here (checked above).
                let errno = libc::EINVAL;
                if !optional {
                    return Err(Error::RulePath {
                        path: rule.path.clone(),
                        source: io::Error::from_raw_os_error(errno),
                    });
                }
                notes.push(Note::SkippedPath {
                    path: rule.path.clone(),
                    errno,
                });
                continue;
            };
            let dir_access = rule.access & resolved.fs;
            paths.push(PathRule {
                path,
                dir_access: dir_access.bits(),
                file_access: (dir_access & FsAccess::FILE).bits(),
                optional,
            });
            path_names.push(rule.path.clone());
        }
    }
    if enforce && !resolved.net.is_empty() {
        for rule in &policy.net_rules {
            let access = rule.access & resolved.net;
            if access.is_empty() {
                continue;
            }
            ports.push(LandlockNetPortAttr {
                allowed_access: access.bits(),
                port: u64::from(rule.port),
            });
            port_names.push(rule.port);
        }
    }
    let report = build_report(&resolved, enforce, notes);
    Ok(Lowered {
        rules: Rules {
            attr: LandlockRulesetAttr {
                handled_access_fs: resolved.fs.bits(),
                handled_access_net: resolved.net.bits(),
                scoped: resolved.scopes.bits(),
            },
            paths,
            ports,
        },
        enforce,
        path_names,
        port_names,
        report,
    })
}

fn has_nul(path: &Path) -> bool {
    path.as_os_str().as_bytes().contains(&0)
}
