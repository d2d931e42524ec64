//! The isolation ladder's workings (the types are in [`crate::isolation`]):
//! the policy of each rung, and which errors are the host refusing a rung.

use crate::error::{Error, SetupError, Stage};
use crate::isolation::{Isolation, Refusal, Rung};
use crate::namespaces::Namespaces;

/// `rung`'s refusal: `e` on one line, without the way out its message ends
/// with (this is the ladder).
pub(crate) fn refusal(rung: Rung, e: &Error) -> Refusal {
    let mut reason = e.to_string().replace(crate::error::LADDER, "");
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        reason.push_str(": ");
        reason.push_str(&c.to_string());
        cur = c.source();
    }
    Refusal { rung, reason }
}

/// Whether the caller has `CAP_SYS_ADMIN` (capability 21) in its user namespace (read from
/// `/proc/self/status`), which the namespaces but the user one need.
pub(crate) fn caller_is_privileged() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|eff| eff & (1 << 21) != 0)
}

/// The policy of `rung`, derived from `cfg`; `None` where the rung does not
/// apply (it would drop nothing, or the caller lacks what it needs).
pub(crate) fn rung_config(
    cfg: &crate::config::Config,
    rung: Rung,
    privileged: bool,
) -> Option<crate::config::Config> {
    let mut c = cfg.clone();
    c.isolation = Isolation::Strict;
    let ns = cfg.namespaces;
    let has = |n: Namespaces| ns.contains(n);
    match rung {
        Rung::Namespaces => {}
        Rung::HostProc => {
            if !has(Namespaces::PID) || !cfg.fs.proc {
                return None;
            }
            c.namespaces.remove(Namespaces::PID);
            c.program_as_init = false;
        }
        Rung::NoUserNamespace | Rung::NoUserNamespaceHostProc => {
            if !has(Namespaces::USER) || !privileged {
                return None;
            }
            c.namespaces.remove(Namespaces::USER);
            without_user_namespace(&mut c);
            if rung == Rung::NoUserNamespaceHostProc {
                if !has(Namespaces::PID) || !cfg.fs.proc {
                    return None;
                }
                c.namespaces.remove(Namespaces::PID);
                c.program_as_init = false;
            }
        }
        Rung::Confinement => {
            if ns.is_empty() || !cfg!(feature = "landlock") {
                return None;
            }
            c.namespaces = Namespaces::empty();
            without_user_namespace(&mut c);
            c.program_as_init = false;
            c.hostname = None;
            c.mount_cgroup = false;
            if has(Namespaces::NET) {
                c.net_filter = true;
                c.egress = None;
            }
            #[cfg(feature = "landlock")]
            {
                c.landlock_mirror_fs = true;
            }
        }
    }
    Some(c)
}

/// What only a user namespace gives: ids chosen inside.
fn without_user_namespace(c: &mut crate::config::Config) {
    c.uid = None;
    c.gid = None;
    c.uid_ranges = crate::ids::Source::Single;
    c.gid_ranges = crate::ids::Source::Single;
}

/// Whether `e` is the host refusing what a rung asks for (a lower rung may
/// hold), rather than a fault of the policy or the program.
pub(crate) fn refused_by_host(e: &Error) -> bool {
    const REFUSALS: [i32; 7] = [
        libc::EPERM,
        libc::EACCES,
        libc::ENOSYS,
        libc::EINVAL,
        libc::ENOSPC,
        libc::EUSERS,
        libc::EROFS,
    ];
    let refusal = |err: &std::io::Error| err.raw_os_error().is_some_and(|n| REFUSALS.contains(&n));
    match e {
        Error::UserNamespaceDenied { .. } | Error::ProcMountDenied { .. } => true,
        Error::Unsupported(u) => u.feature == crate::error::Feature::MountApi,
        Error::Setup(SetupError { stage, source, .. }) => {
            refusal(source)
                && matches!(
                    stage,
                    Stage::SetGroups
                        | Stage::UidMap
                        | Stage::GidMap
                        | Stage::RootMount
                        | Stage::MountOp
                        | Stage::PivotRoot
                        | Stage::Hostname
                )
        }
        Error::Io { op, source } => *op == crate::error::ParentOp::Clone && refusal(source),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::isolation::Isolation;

    #[test]
    fn each_rung_drops_only_what_it_says() {
        let cfg = Config::default();
        let all = cfg.namespaces;
        assert!(all.contains(Namespaces::USER | Namespaces::PID | Namespaces::NET));
        let top = rung_config(&cfg, Rung::Namespaces, false).unwrap();
        assert_eq!(top.namespaces, all);
        let host_proc = rung_config(&cfg, Rung::HostProc, false).unwrap();
        assert_eq!(host_proc.namespaces, all - Namespaces::PID);
        // Without privilege there is no rung without a user namespace.
        assert!(rung_config(&cfg, Rung::NoUserNamespace, false).is_none());
        assert!(rung_config(&cfg, Rung::NoUserNamespaceHostProc, false).is_none());
        let no_user = rung_config(&cfg, Rung::NoUserNamespace, true).unwrap();
        assert_eq!(no_user.namespaces, all - Namespaces::USER);
        let neither = rung_config(&cfg, Rung::NoUserNamespaceHostProc, true).unwrap();
        assert_eq!(neither.namespaces, all - Namespaces::USER - Namespaces::PID);
        #[cfg(feature = "landlock")]
        {
            let mut with_host = cfg.clone();
            with_host.hostname = Some("box".into());
            let c = rung_config(&with_host, Rung::Confinement, false).unwrap();
            assert!(c.namespaces.is_empty());
            // The network namespace's stand-in: sockets refused.
            assert!(c.net_filter);
            assert!(c.landlock_mirror_fs);
            assert_eq!(c.hostname, None);
            // The seccomp filter and limits stay.
            #[cfg(feature = "seccomp")]
            assert_eq!(c.seccomp, cfg.seccomp);
            assert_eq!(c.rlimits, cfg.rlimits);
        }
        // Every derived rung is strict: it does not step down again.
        assert_eq!(host_proc.isolation, Isolation::Strict);
    }

    #[test]
    fn a_rung_that_drops_nothing_is_skipped() {
        let cfg = Config {
            namespaces: Namespaces::empty(),
            ..Config::default()
        };
        for rung in &Rung::ALL[1..] {
            assert!(rung_config(&cfg, *rung, true).is_none(), "{rung:?}");
        }
    }
}
