//! Time limits, rlimits and outcome accounting (what every kernel supports;
//! the cgroup limits are exercised by tests/cgroup.rs under the VM runner).

mod common;

use std::io::Read;
use std::time::Duration;

use common::{as_each_identity, chain, pid_alive, sh, stdout_of};
use stockade::{Command, Error, Namespaces, Rlimit, Sandbox, Stdio, Verdict, error};

/// Spawns `script` with stdout piped and returns the child plus the first
/// line it prints (used to learn pids from inside).
fn spawn_and_read_line(sb: &Sandbox, script: &str) -> (stockade::Child, String) {
    let mut child = sb
        .spawn(sh(script).stdout(Stdio::piped()))
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let mut out = child.stdout.take().unwrap();
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while out.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        line.push(b[0]);
    }
    (child, String::from_utf8(line).unwrap())
}

#[test]
fn timeout_kills_the_whole_tree_and_says_so() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.timeout(Duration::from_millis(500));
        // A double-forked, setsid'd daemon that ignores SIGTERM, plus a
        // foreground sleep: all of it must be gone after the timeout.
        let mut child = sb
            .spawn(&mut sh(
                "(trap '' TERM; setsid sh -c 'trap \"\" TERM; sleep 100' &) ; sleep 100",
            ))
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        let o = child.outcome().expect("an outcome after wait");
        assert_eq!(o.verdict, Verdict::TimedOut);
        let u = o.usage.expect("usage of a timed-out sandbox");
        assert!(
            u.wall_time >= Duration::from_millis(500),
            "wall time {:?} shorter than the timeout",
            u.wall_time
        );
        common::assert_no_children();
    });
}

#[test]
fn output_says_what_was_printed_and_that_the_timeout_hit() {
    as_each_identity(|| {
        // Long enough for the shell to print, even under the VM runner's
        // emulation.
        let timeout = Duration::from_millis(if cfg!(stockade_vm) { 3000 } else { 300 });
        let mut sb = Sandbox::new();
        sb.timeout(timeout);
        let out = sb
            .output(&mut sh("echo started; echo oops >&2; sleep 100"))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        assert_eq!(out.stdout, b"started\n");
        assert_eq!(out.stderr, b"oops\n");
        assert_eq!(out.status.signal(), Some(libc::SIGKILL));
        assert_eq!(out.outcome.verdict, Verdict::TimedOut);
        assert!(out.outcome.usage.is_some_and(|u| u.wall_time >= timeout));

        sb.timeout(Duration::from_secs(60));
        let out = sb.output(&mut sh("echo done")).unwrap();
        assert_eq!(out.outcome.verdict, Verdict::Exited(0));
        common::assert_no_children();
    });
}

#[test]
fn timeout_without_a_pid_namespace_kills_the_program_group() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        // Long enough for the shell to report its background pid even on a
        // loaded, emulated machine.
        sb.namespaces(Namespaces::default() - Namespaces::PID)
            .timeout(Duration::from_secs(if cfg!(stockade_vm) { 15 } else { 4 }));
        let (mut child, line) = spawn_and_read_line(&sb, "sleep 100 & echo $!; wait");
        let bg: u32 = line.trim().parse().unwrap();
        assert!(pid_alive(bg));
        child.wait().unwrap();
        assert_eq!(child.outcome().unwrap().verdict, Verdict::TimedOut);
        // The supervisor reaped it: it is gone, not a zombie.
        assert!(
            !pid_alive(bg),
            "background process {bg} survived the timeout"
        );
    });
}

#[test]
fn a_program_that_ends_in_time_is_not_timed_out() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.timeout(Duration::from_secs(60));
        let mut child = sb.spawn(&mut sh("sleep 0.2; exit 3")).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(3));
        let o = child.outcome().unwrap();
        assert_eq!(o.verdict, Verdict::Exited(3));
        let u = o.usage.unwrap();
        assert!(u.wall_time >= Duration::from_millis(200), "{u:?}");
        assert!(u.wall_time < Duration::from_secs(60), "{u:?}");
    });
}

#[test]
fn kill_gives_a_killed_verdict_with_and_without_a_pid_namespace() {
    as_each_identity(|| {
        for ns in [
            Namespaces::default(),
            Namespaces::default() - Namespaces::PID,
        ] {
            let mut sb = Sandbox::new();
            sb.namespaces(ns);
            let (mut child, line) =
                spawn_and_read_line(&sb, "trap '' TERM; sleep 100 & echo $!; wait");
            let bg: u32 = line.trim().parse().unwrap();
            child.kill().unwrap();
            assert_eq!(
                child.wait().unwrap().signal(),
                Some(libc::SIGKILL),
                "{ns:?}"
            );
            let o = child.outcome().unwrap();
            assert_eq!(o.verdict, Verdict::Killed, "{ns:?}");
            assert!(o.usage.is_some());
            if ns.contains(Namespaces::PID) {
                // pid from inside: nothing to check from outside but the
                // absence of our children.
                common::assert_no_children();
            } else {
                assert!(!pid_alive(bg), "{bg} survived kill without a pid namespace");
            }
        }
    });
}

#[test]
fn signal_deaths_and_exits_are_told_apart() {
    as_each_identity(|| {
        let mut child = Sandbox::new().spawn(&mut sh("kill -TERM $$")).unwrap();
        child.wait().unwrap();
        assert_eq!(
            child.outcome().unwrap().verdict,
            Verdict::Signaled(libc::SIGTERM)
        );
        let mut child = Sandbox::new().spawn(&mut sh("exit 0")).unwrap();
        child.wait().unwrap();
        assert_eq!(child.outcome().unwrap().verdict, Verdict::Exited(0));
    });
}

#[test]
fn usage_counts_cpu_and_memory_of_the_tree() {
    as_each_identity(|| {
        // A grandchild burns CPU and touches 64 MiB; the program only waits.
        let script = "sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done' & \
                      head -c 67108864 /dev/zero | tail -c 1 >/dev/null; wait";
        let mut child = Sandbox::new().spawn(&mut sh(script)).unwrap();
        assert!(child.wait().unwrap().success());
        let u = child.outcome().unwrap().usage.unwrap();
        assert!(u.user_time > Duration::ZERO, "{u:?}");
        assert!(u.cpu_time() >= u.user_time);
        // tail -c 1 reading 64 MiB from a pipe keeps little; the shell
        // itself is ~1 MiB: the peak must be a real resident set.
        assert!(u.peak_memory_bytes >= 512 * 1024, "{u:?}");
        assert!(!u.peak_memory_whole_sandbox);
    });
}

#[test]
fn rlimits_apply_to_the_program() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.rlimit(Rlimit::Nofile, 40, 40)
            .rlimit(Rlimit::Core, 0, 0)
            .rlimit(Rlimit::Fsize, 4096, 8192);
        let out = stdout_of(&sb, "ulimit -n; ulimit -c; ulimit -S -f; ulimit -H -f");
        // dash and bash report -f in 512-byte blocks... or 1024; compare
        // through the kernel instead.
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "40", "{out}");
        assert_eq!(lines[1], "0", "{out}");
        let limits = stdout_of(&sb, "cat /proc/self/limits");
        let fsize = limits
            .lines()
            .find(|l| l.starts_with("Max file size"))
            .unwrap();
        let f: Vec<&str> = fsize.split_whitespace().collect();
        assert_eq!(&f[3..5], ["4096", "8192"], "{fsize}");

        // A write past RLIMIT_FSIZE fails (the shell ignores SIGXFSZ... or
        // dies of it): either way the file stays at the limit.
        let out = stdout_of(
            &sb,
            "trap '' XFSZ; head -c 10000 /dev/zero > /tmp/f; wc -c < /tmp/f",
        );
        assert_eq!(out.trim(), "4096");
    });
}

/// Whether this process holds CAP_SYS_RESOURCE (root in a container may
/// not).
fn has_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap();
    const CAP_SYS_RESOURCE: u32 = 24;
    eff & (1 << CAP_SYS_RESOURCE) != 0
}

#[test]
fn raising_a_hard_limit_needs_root_outside_a_user_namespace() {
    as_each_identity(|| {
        // A limit whose hard value is finite here, and its /proc label.
        let candidates = [
            (Rlimit::Msgqueue, "Max msgqueue size"),
            (Rlimit::Memlock, "Max locked memory"),
            (Rlimit::Sigpending, "Max pending signals"),
        ];
        let hard = |r: Rlimit| {
            let mut cur = libc::rlimit64 {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit64 into a live struct.
            assert_eq!(unsafe { libc::getrlimit64(r.resource() as _, &mut cur) }, 0);
            cur.rlim_max
        };
        let Some(&(limit, label)) = candidates.iter().find(|c| hard(c.0) != Rlimit::INFINITY)
        else {
            return common::skip("every candidate rlimit is already unlimited");
        };
        let higher = hard(limit) + 1;
        // CAP_SYS_RESOURCE counts only in the initial user namespace: in a
        // sandbox with a user namespace nobody can raise a hard limit.
        let mut sb = Sandbox::new();
        sb.rlimit(limit, higher, higher);
        match sb.status(&mut sh("exit 0")) {
            Err(Error::Setup(e)) => {
                assert_eq!(e.stage, stockade::error::Stage::Rlimit);
                assert!(e.to_string().contains(limit.name()), "{e}");
            }
            other => panic!("raised a hard limit inside a user namespace: {other:?}"),
        }
        if common::is_root() && has_cap_sys_resource() {
            let mut sb = Sandbox::new();
            sb.namespaces(Namespaces::default() - Namespaces::USER)
                .rlimit(limit, higher, higher);
            let limits = stdout_of(&sb, "cat /proc/self/limits");
            let line = limits.lines().find(|l| l.starts_with(label)).unwrap();
            assert!(line.contains(&higher.to_string()), "{line}");
        }
        // Lowering works for everyone, infinity included as a soft value
        // below an infinite hard one.
        let mut sb = Sandbox::new();
        sb.rlimit(Rlimit::Core, 0, hard(Rlimit::Core));
        assert_eq!(stdout_of(&sb, "ulimit -c").trim(), "0");
    });
}

#[test]
fn cpu_time_limit_ends_a_busy_loop() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.cpu_time_limit(Duration::from_millis(300))
            .timeout(Duration::from_secs(30));
        let mut child = sb
            .spawn(Command::new("sh").arg("-c").arg("while :; do :; done"))
            .unwrap();
        child.wait().unwrap();
        let o = child.outcome().unwrap();
        assert_eq!(o.verdict, Verdict::CpuTimeExceeded, "{o:?}");
        let cpu = o.usage.unwrap().cpu_time();
        // The soft limit rounds up to 1 s. rusage splits CPU time by tick
        // samples and can report less than the scheduler's count the limit
        // is checked against (0.82 s seen under load): only check that the
        // program really ran for a substantial time.
        assert!(cpu >= Duration::from_millis(500), "{o:?}");
    });
}

#[test]
fn bad_limits_are_config_errors() {
    let mut sb = Sandbox::new();
    sb.rlimit(Rlimit::Nofile, 100, 10);
    match sb.validate() {
        Err(Error::Config(error::ConfigError::Rlimit {
            resource: Rlimit::Nofile,
            soft: 100,
            hard: 10,
        })) => {}
        other => panic!("{other:?}"),
    }
    let mut sb = Sandbox::new();
    sb.timeout(Duration::ZERO);
    assert!(matches!(
        sb.validate(),
        Err(Error::Config(error::ConfigError::Timeout))
    ));
    let e = sb.spawn(&mut sh("true")).unwrap_err();
    assert!(chain(&e).contains("timeout"), "{}", chain(&e));
}

/// Prints the soft RLIMIT_NPROC, then starts up to 40 background
/// processes, printing a line for each (a fork the kernel refuses ends the
/// shell).
const FORK_40: &str = "while read -r a b c rest; do [ \"$a $b\" = 'Max processes' ] && echo $c; done </proc/self/limits; n=0; while [ $n -lt 40 ]; do sleep 30 >/dev/null 2>&1 & n=$((n+1)); echo started; done";

/// Spawns `FORK_40` in `sb`; returns the report, the program's soft
/// RLIMIT_NPROC and how many processes started.
fn fork_40(sb: &Sandbox) -> (stockade::Enforcement, String, usize) {
    let child = sb
        .spawn(sh(FORK_40).stdout(Stdio::piped()).stderr(Stdio::null()))
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let report = child.enforcement().clone();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    let nproc = out.lines().next().unwrap_or_default().to_owned();
    let started = out.lines().filter(|l| *l == "started").count();
    (report, nproc, started)
}

/// The caller's soft RLIMIT_NPROC, as /proc/self/limits shows it.
fn own_nproc() -> String {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NPROC).unwrap() {
        (u64::MAX, _) => "unlimited".to_owned(),
        (soft, _) => soft.to_string(),
    }
}

/// With a best-effort pids limit that the cgroup cannot apply, RLIMIT_NPROC
/// stands in only where the kernel applies it: not to a program whose real
/// uid is 0 on the host (a root caller's, mapped 1:1 or without a user
/// namespace), which the report then leaves at "not enforced: pids.max".
/// Where it stands in, it binds, and the report says what it counts.
#[test]
fn the_nproc_fallback_is_claimed_only_where_it_binds() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.pids_limit(20).cgroup_mut().compat = stockade::CompatLevel::BestEffort;
        let (report, nproc, started) = fork_40(&sb);
        let cg = report.cgroup.clone().expect("a cgroup report");
        if cg.applied.iter().any(|a| a.kind.file() == "pids.max") {
            // A cgroup with the pids controller (the VM's): the limit is
            // real, and no stand-in is claimed beside it.
            assert!(
                !report.rlimit_fallbacks.contains(&Rlimit::Nproc),
                "{report}"
            );
            assert_eq!(report.nproc_scope, None);
            assert!(started < 20, "{started} started");
            return;
        }
        let text = report.to_string();
        assert!(text.contains("not enforced: pids.max"), "{text}");
        if common::is_root() {
            // uid 0 on the host: RLIMIT_NPROC would not bind, so it is
            // neither set nor claimed.
            assert!(!report.rlimit_fallbacks.contains(&Rlimit::Nproc), "{text}");
            assert_eq!(report.nproc_scope, None);
            assert!(!text.contains("nproc"), "{text}");
            assert_eq!(nproc, own_nproc());
            assert_eq!(started, 40);
        } else {
            assert!(report.rlimit_fallbacks.contains(&Rlimit::Nproc), "{text}");
            let scope = report.nproc_scope.expect("what nproc counts");
            // Linux 5.14 counts per user namespace: the sandbox's own.
            let release = nix::sys::utsname::uname().unwrap();
            let release = release.release().to_string_lossy();
            let mut v = release
                .split(['.', '-'])
                .map(|p| p.parse::<u32>().unwrap_or(0));
            if (v.next().unwrap(), v.next().unwrap()) >= (5, 14) {
                assert_eq!(scope, stockade::NprocScope::Sandbox);
                assert!(
                    text.contains("nproc counts the sandbox's processes"),
                    "{text}"
                );
                // The supervisor and the shell count too.
                assert!((1..=18).contains(&started), "{started} started");
            } else {
                assert_eq!(
                    scope,
                    stockade::NprocScope::HostUser {
                        uid: common::TEST_UID
                    }
                );
                assert!((0..=18).contains(&started), "{started} started");
            }
            assert_eq!(nproc, "20");
        }
        if !common::is_root() {
            return;
        }
        // Without a user namespace: uid 0 is not bound, another uid is, and
        // every process of that uid on the host counts.
        sb.namespaces(Namespaces::empty());
        let (report, nproc, started) = fork_40(&sb);
        assert!(
            !report.rlimit_fallbacks.contains(&Rlimit::Nproc),
            "{report}"
        );
        assert_eq!(nproc, own_nproc());
        assert_eq!(started, 40);
        sb.uid(common::TEST_UID).gid(common::TEST_GID);
        let (report, nproc, started) = fork_40(&sb);
        assert!(report.rlimit_fallbacks.contains(&Rlimit::Nproc), "{report}");
        assert_eq!(
            report.nproc_scope,
            Some(stockade::NprocScope::HostUser {
                uid: common::TEST_UID
            })
        );
        assert!(
            report
                .to_string()
                .contains("nproc counts every process of host uid 65534"),
            "{report}"
        );
        assert_eq!(nproc, "20");
        assert!(started < 40, "{started} started");
    });
}
