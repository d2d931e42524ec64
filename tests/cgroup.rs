//! cgroup v2 limits, accounting and teardown, for real.
//!
//! Most tests need a delegated cgroup v2 subtree with the memory, pids and cpu
//! controllers, named by `STOCKADE_TEST_CGROUP_PARENT`, which the VM runner
//! (`tests/vm/run -t cgroup`) provides: they are ignored elsewhere. The last
//! test is for hosts whose controllers sit on cgroup v1, such as the
//! development machines, and is ignored in the VM.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{as_each_identity, chain, pid_alive, sh, skip};
use stockade::{CompatLevel, Error, Namespaces, Rlimit, Sandbox, Stdio, Verdict, cgroup, error};

/// The tests measure time and fill the machine (bombs, busy loops): each
/// runs alone, across the processes `as_each_identity` starts, by holding
/// an exclusive lock for its whole run.
fn serial() -> nix::fcntl::Flock<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = std::env::temp_dir().join("stockade-cgroup-tests.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o666)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("lock {}: {e}", path.display()))
}

/// The delegated parent for this test's sandboxes (see
/// [`common::delegated_cgroup`]); holds the test lock from then on.
fn parent() -> (PathBuf, nix::fcntl::Flock<std::fs::File>) {
    (common::delegated_cgroup(), serial())
}

/// The sandbox cgroups this process made that are still under `parent`
/// (`stockade-<pid>-...`; other tests run alongside in processes of their own).
fn sandbox_cgroups(parent: &Path) -> Vec<String> {
    let mine = format!("stockade-{}-", std::process::id());
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&mine))
        .collect()
}

/// The directory of a running sandbox's cgroup.
fn cgroup_of(child: &stockade::Child) -> PathBuf {
    let report = child
        .enforcement()
        .cgroup
        .as_ref()
        .expect("a cgroup report");
    report.path.clone().expect("a cgroup")
}

fn limited(parent: &Path) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.cgroup_mut().parent = Some(parent.to_owned());
    sb
}

fn spawn_err(sb: &Sandbox, script: &str) -> stockade::Child {
    sb.spawn(&mut sh(script))
        .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)))
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn memory_bomb_is_oom_killed_near_the_limit() {
    as_each_identity(|| {
        let (p, _lock) = parent();
        let limit = 64u64 << 20;
        let mut sb = limited(&p);
        sb.memory_limit(limit).timeout(Duration::from_secs(60));
        let e = sb.spawn(&mut sh("exec tail /dev/zero"));
        let mut child = e.unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
        let cg = child.enforcement().cgroup.clone().expect("a cgroup report");
        let path = cg.path.clone().expect("a cgroup");
        assert!(
            path.starts_with(&p),
            "{} not under {}",
            path.display(),
            p.display()
        );
        let applied: Vec<&str> = cg.applied.iter().map(|a| a.kind.file()).collect();
        assert!(applied.contains(&"memory.max"), "applied: {applied:?}");
        assert!(
            applied.contains(&"memory.oom.group"),
            "applied: {applied:?}"
        );
        let status = child.wait().unwrap();
        let o = child.outcome().unwrap();
        assert_eq!(
            o.verdict,
            Verdict::OomKilled,
            "status {status}, outcome {o:?}"
        );
        let u = o.usage.unwrap();
        assert!(u.peak_memory_whole_sandbox, "{u:?}");
        assert!(
            u.peak_memory_bytes > limit * 3 / 4 && u.peak_memory_bytes <= limit,
            "peak {} not close to the limit {limit}",
            u.peak_memory_bytes
        );
        let events = o.cgroup.unwrap().memory_events.unwrap();
        assert!(events.oom_kill > 0, "{events:?}");
        // The same, as a denial event.
        let limits: Vec<_> = o.denials.of_kind(stockade::denials::Kind::Limit).collect();
        assert!(
            limits
                .iter()
                .any(|e| e.detail
                    == stockade::denials::Detail::Limit(stockade::denials::Limit::Memory)),
            "{:#?}",
            o.denials
        );
        assert!(
            o.denials.to_string().contains("memory limit"),
            "{}",
            o.denials
        );
        assert!(!path.exists(), "{} left behind", path.display());
        assert!(sandbox_cgroups(&p).is_empty());
    });
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn fork_bomb_is_contained_reported_and_killed() {
    as_each_identity(|| {
        let (p, _lock) = parent();
        for pid_ns in [true, false] {
            let mut sb = limited(&p);
            sb.pids_limit(32).timeout(Duration::from_secs(60));
            if !pid_ns {
                sb.namespaces(Namespaces::default() - Namespaces::PID);
            }
            let started = Instant::now();
            let mut child = spawn_err(
                &sb,
                "f() { f | f & }; f 2>/dev/null; i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done",
            );
            let path = cgroup_of(&child);
            let status = child.wait().unwrap();
            let o = child.outcome().unwrap();
            let u = o.usage.unwrap();
            assert!(u.pids_limit_hit, "pid ns {pid_ns}: {status}: {o:?}");
            assert!(
                o.denials.events.iter().any(|e| e.detail
                    == stockade::denials::Detail::Limit(stockade::denials::Limit::Pids)),
                "{:#?}",
                o.denials
            );
            assert!(o.cgroup.unwrap().pids_max_events.unwrap() > 0);
            assert!(
                !path.exists(),
                "pid ns {pid_ns}: {} left behind",
                path.display()
            );
            assert!(sandbox_cgroups(&p).is_empty());
            common::assert_no_children();
            eprintln!(
                "measured: fork bomb (pid ns {pid_ns}) over in {:?}",
                started.elapsed()
            );
        }
    });
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn half_a_cpu_gets_half_the_wall_time() {
    as_each_identity(|| {
        let (p, _lock) = parent();
        // CPU time over wall time of a busy loop in a sandbox.
        let busy = |cpus: Option<f64>, secs: u64| {
            let mut sb = limited(&p);
            sb.cgroup_mut().placement = true;
            sb.timeout(Duration::from_secs(secs));
            if let Some(c) = cpus {
                sb.cpus(c);
            }
            let mut child = spawn_err(&sb, "while :; do :; done");
            child.wait().unwrap();
            let o = child.outcome().unwrap();
            assert_eq!(o.verdict, Verdict::TimedOut);
            let wall = o.usage.unwrap().wall_time;
            let cpu = o.cgroup.unwrap().cpu.unwrap();
            (cpu.usage_usec as f64 / wall.as_micros() as f64, cpu)
        };
        // A loaded machine (the emulated one shares its host) may not give
        // the sandbox even the half CPU it may have: try a few times, with an
        // unlimited loop alongside to show how loaded the machine was.
        let mut tries = Vec::new();
        for _ in 0..5 {
            let (free, _) = busy(None, 1);
            let (ratio, cpu) = busy(Some(0.5), 3);
            eprintln!("measured: cpus 0.5: CPU/wall {ratio:.3} (unlimited: {free:.3})");
            assert!(cpu.nr_throttled.unwrap_or(0) > 0, "{cpu:?}");
            if (ratio - 0.5).abs() <= 0.075 {
                return;
            }
            tries.push((ratio, free, cpu));
        }
        panic!(
            "CPU/wall ratio not within 15% of 0.5: (ratio, unlimited ratio, cpu.stat): {tries:?}"
        );
    });
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn timeout_ends_sleep_and_leaves_nothing() {
    as_each_identity(|| {
        let (p, _lock) = parent();
        let mut sb = limited(&p);
        sb.pids_limit(16).timeout(Duration::from_secs(1));
        let mut child = sb
            .spawn(stockade::Command::new("sleep").arg("100"))
            .unwrap();
        let started = Instant::now();
        let path = child
            .enforcement()
            .cgroup
            .as_ref()
            .unwrap()
            .path
            .clone()
            .unwrap();
        child.wait().unwrap();
        let took = started.elapsed();
        assert_eq!(child.outcome().unwrap().verdict, Verdict::TimedOut);
        eprintln!("measured: timed out and torn down {took:?} after spawn");
        // Ended by the timeout, not by its 100 s (the bound leaves room for
        // an emulated machine under load; the time is printed above).
        assert!(took < Duration::from_secs(30), "took {took:?}");
        assert!(!path.exists(), "{} left behind", path.display());
        assert!(sandbox_cgroups(&p).is_empty());
        common::assert_no_children();
    });
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn daemon_ignoring_sigterm_dies_at_teardown() {
    as_each_identity(|| {
        let (p, _lock) = parent();
        // Without a pid namespace nothing but the cgroup holds the daemon.
        let mut sb = limited(&p);
        sb.cgroup_mut().placement = true;
        sb.namespaces(Namespaces::default() - Namespaces::PID);
        let mut child = sb
            .spawn(
                sh(concat!(
                    "(setsid sh -c 'trap \"\" TERM HUP; echo $$ >/tmp/d.new; ",
                    "mv /tmp/d.new /tmp/d; exec sleep 100' &); ",
                    "while [ ! -s /tmp/d ]; do sleep 0.05; done; cat /tmp/d"
                ))
                .stdout(Stdio::piped()),
            )
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let daemon: u32 = line.trim().parse().unwrap();
        assert!(pid_alive(daemon));
        let path = child
            .enforcement()
            .cgroup
            .as_ref()
            .unwrap()
            .path
            .clone()
            .unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{status}");
        // The daemon held stdout: EOF means it is gone.
        let mut rest = Vec::new();
        out.read_to_end(&mut rest).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while pid_alive(daemon) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!pid_alive(daemon), "daemon {daemon} survived the sandbox");
        assert!(!path.exists(), "{} left behind", path.display());
    });
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn two_hundred_sandboxes_leave_no_cgroup() {
    as_each_identity(|| {
        let (p, _lock) = parent();
        let mut sb = limited(&p);
        sb.memory_limit(64 << 20).pids_limit(64).cpus(1.0);
        let plain = Sandbox::new();
        let n = 200;
        let t = Instant::now();
        for i in 0..n {
            let out = sb.output(&mut stockade::Command::new("true"));
            let out = out.unwrap_or_else(|e| panic!("spawn {i}: {}", chain(&e)));
            assert!(out.status.success());
        }
        let with = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n / 4 {
            assert!(
                plain
                    .output(&mut stockade::Command::new("true"))
                    .unwrap()
                    .status
                    .success()
            );
        }
        let without = t.elapsed() / (n / 4);
        eprintln!("measured: per sandbox: {with:?} with a cgroup, {without:?} without");
        assert!(sandbox_cgroups(&p).is_empty(), "{:?}", sandbox_cgroups(&p));
        common::assert_no_children();
    });
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn failed_spawn_and_dropped_child_leave_nothing() {
    as_each_identity(|| {
        let (p, _lock) = parent();
        let mut sb = limited(&p);
        sb.memory_limit(64 << 20).pids_limit(16);
        // The first spawn opens the process-wide lifeline pipe; the second
        // builds the policy's template mount namespace, which the policy
        // keeps.
        for _ in 0..2 {
            let _ = sb.spawn(&mut stockade::Command::new("/no/such/program"));
        }
        // The first drop of a running sandbox starts the process's reaper,
        // whose two descriptors stay open.
        drop(spawn_err(&sb, "exec sleep 100"));
        common::eventually("the first dropped sandbox is reaped", || {
            sandbox_cgroups(&p).is_empty() && common::children_of_self().is_empty()
        });
        // The reaper closes a reaped sandbox's descriptors just after
        // reaping it, the observer its seccomp listener: let the count
        // settle (no listener, then unchanged for a second) before the
        // snapshot.
        let mut fds = common::fd_count_without_listeners();
        let mut stable = std::time::Instant::now();
        let give_up = stable + Duration::from_secs(30);
        while stable.elapsed() < Duration::from_secs(1) && std::time::Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(10));
            let now = common::fd_count();
            if now != fds {
                fds = now;
                stable = std::time::Instant::now();
            }
        }
        for _ in 0..3 {
            match sb.spawn(&mut stockade::Command::new("/no/such/program")) {
                Err(Error::ProgramNotFound { .. }) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(sandbox_cgroups(&p).is_empty(), "{:?}", sandbox_cgroups(&p));
        assert_eq!(common::fd_count(), fds, "{:?}", common::fd_list());
        // Dropping a running sandbox kills it and removes its cgroup.
        let child = spawn_err(&sb, "sleep 100 & exec sleep 100");
        let path = cgroup_of(&child);
        assert!(path.exists());
        drop(child);
        common::eventually("the cgroup is removed", || !path.exists());
        // So does kill + wait.
        let mut child = spawn_err(&sb, "exec sleep 100");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(child.outcome().unwrap().verdict, Verdict::Killed);
        drop(child);
        assert!(sandbox_cgroups(&p).is_empty(), "{:?}", sandbox_cgroups(&p));
        // The reaper closes the dropped sandbox's descriptors as it removes
        // its cgroup.
        common::eventually("the descriptors are back", || common::fd_count() == fds);
        common::assert_no_children();
    });
}

/// A detached sandbox (`kill_on_drop(false)`) keeps its cgroup while it
/// runs; once it ends, the process's reaper kills what is left in the
/// cgroup (a setsid'd straggler, without a pid namespace) and removes it.
/// It used to stay, with its descriptors open, until the process died.
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn a_detached_sandboxs_cgroup_is_removed_when_it_ends() {
    as_each_identity(|| {
        let (p, _lock) = parent();
        for pid_ns in [true, false] {
            let mut sb = limited(&p);
            sb.pids_limit(16).kill_on_drop(false);
            if !pid_ns {
                sb.namespaces(Namespaces::default() - Namespaces::PID);
            }
            let mut child = sb
                .spawn(
                    sh("setsid sleep 100 & echo $!; read line")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped()),
                )
                .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let straggler: u32 = line.trim().parse().unwrap();
            let program = child.id();
            let path = cgroup_of(&child);
            let mut stdin = child.stdin.take().unwrap();
            drop(child);
            assert!(
                pid_alive(program),
                "pid ns {pid_ns}: killed although detached"
            );
            assert!(path.exists(), "pid ns {pid_ns}: removed while running");
            std::io::Write::write_all(&mut stdin, b"go\n").unwrap();
            drop(stdin);
            common::eventually("the detached sandbox's cgroup is removed", || {
                !path.exists()
            });
            if !pid_ns {
                assert!(!pid_alive(straggler), "the straggler {straggler} survived");
            }
            common::eventually("the detached sandbox is reaped", || {
                common::children_of_self().is_empty()
            });
        }
        assert!(sandbox_cgroups(&p).is_empty(), "{:?}", sandbox_cgroups(&p));
        common::assert_no_children();
    });
}

const HELPER_ENV: &str = "STOCKADE_CGROUP_TEST_HELPER";

/// Not a test on its own: run by `a_killed_callers_cgroups_are_collected`
/// as the caller that gets killed. Starts a sandbox, prints its cgroup and
/// waits to be killed.
#[test]
#[ignore = "helper for a_killed_callers_cgroups_are_collected; run by that test"]
fn helper_caller_to_be_killed() {
    let Some(parent) = std::env::var_os(HELPER_ENV) else {
        return;
    };
    let mut sb = Sandbox::new();
    sb.cgroup_mut().parent = Some(parent.into());
    sb.pids_limit(16);
    let child = sb.spawn(&mut sh("exec sleep 100")).unwrap();
    let path = child
        .enforcement()
        .cgroup
        .as_ref()
        .unwrap()
        .path
        .clone()
        .unwrap();
    println!("cgroup {}", path.display());
    std::thread::sleep(Duration::from_secs(100));
    drop(child);
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn a_killed_callers_cgroups_are_collected() {
    as_each_identity(|| {
        let (p, _lock) = parent();
        let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "helper_caller_to_be_killed",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(HELPER_ENV, &p)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(helper.stdout.take().unwrap()).lines();
        let path = loop {
            let line = lines.next().expect("helper output").unwrap();
            if let Some(rest) = line.strip_prefix("cgroup ") {
                break PathBuf::from(rest);
            }
        };
        assert!(path.exists());
        helper.kill().unwrap();
        helper.wait().unwrap();
        // The sandbox dies with its caller; the cgroup stays behind.
        let deadline = Instant::now() + Duration::from_secs(60);
        while populated(&path) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!populated(&path), "the killed caller's sandbox still runs");
        assert!(path.exists(), "nothing was left behind to collect");
        // The next sandbox under the same parent collects it.
        let mut sb = limited(&p);
        sb.pids_limit(16);
        let out = sb.output(&mut stockade::Command::new("true")).unwrap();
        assert!(out.status.success());
        assert!(!path.exists(), "{} was not collected", path.display());
        assert!(sandbox_cgroups(&p).is_empty());
        let helper_prefix = format!("stockade-{}-", helper.id());
        let left: Vec<String> = common::all_sandbox_cgroups(&p)
            .into_iter()
            .filter(|n| n.starts_with(&helper_prefix))
            .collect();
        assert!(
            left.is_empty(),
            "the killed caller's cgroups remain: {left:?}"
        );
    });
}

/// The caller's own cgroup directory (the `0::` line under /sys/fs/cgroup).
fn own_cgroup() -> PathBuf {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 line");
    Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'))
}

fn read_trimmed(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_owned()
}

/// A limit's control file and how to ask for it.
type Request = (&'static str, fn(&mut Sandbox));

/// Without `cgroup_parent` the sandbox's cgroup would go under the caller's
/// own cgroup, which holds the caller. The kernel refuses the memory
/// controller there but accepts pids, cpu and cpuset, turning the caller's
/// cgroup into a thread root whose new children cannot take processes: the
/// spawn must not get as far as clone3 (which then fails with EOPNOTSUPP).
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn limits_under_the_callers_busy_cgroup_are_refused_before_clone() {
    as_each_identity(|| {
        let (_p, _lock) = parent();
        let own = own_cgroup();
        if std::env::var_os("STOCKADE_TEST_CGROUP_RUNNER").is_some() {
            assert_eq!(
                Some(own.clone()),
                std::env::var_os("STOCKADE_TEST_CGROUP_RUNNER").map(PathBuf::from)
            );
        }
        assert!(!read_trimmed(&own.join("cgroup.procs")).is_empty());
        let controllers = read_trimmed(&own.join("cgroup.controllers"));
        for c in ["pids", "cpu", "cpuset"] {
            assert!(
                controllers.split_whitespace().any(|w| w == c),
                "{}: {controllers}",
                own.display()
            );
        }
        let subtree_before = read_trimmed(&own.join("cgroup.subtree_control"));
        let requests: [Request; 3] = [
            ("pids.max", |sb| {
                sb.pids_limit(512);
            }),
            ("cpu.max", |sb| {
                sb.cpus(0.5).cgroup_mut().cpu_weight = Some(50);
            }),
            ("cpuset.cpus", |sb| {
                sb.cgroup_mut().cpuset_cpus = Some("0".into());
            }),
        ];
        for (file, set) in requests {
            // A hard requirement: a typed error, before anything runs.
            let mut sb = Sandbox::new();
            set(&mut sb);
            match sb.spawn(&mut sh("true")) {
                Err(Error::Cgroup(stockade::cgroup::Error::NoInternalProcesses {
                    parent, ..
                })) => assert_eq!(parent, own),
                Err(e) => panic!("{file}: not NoInternalProcesses: {}", chain(&e)),
                Ok(_) => panic!("{file}: spawned under {}", own.display()),
            }
            // Best effort: the program runs; the report names what was not
            // enforced, and why.
            let cgroup = sb.cgroup_mut();
            cgroup.compat = CompatLevel::BestEffort;
            cgroup.memory_high = Some(64 << 20);
            let mut child = sb
                .spawn(sh("echo ran").stdout(Stdio::piped()))
                .unwrap_or_else(|e| panic!("{file}: {}", chain(&e)));
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert!(child.wait().unwrap().success());
            assert_eq!(out, "ran\n");
            let en = child.enforcement().clone();
            let cg = en.cgroup.clone().expect("a cgroup report");
            assert!(cg.path.is_none(), "{cg:?}");
            assert!(cg.applied.is_empty(), "{cg:?}");
            for kind in [file, "memory.high"] {
                assert!(
                    cg.skipped.iter().any(|s| s.kind.file() == kind
                        && s.requested
                        && s.reason == cgroup::Unavailable::NoInternalProcesses),
                    "{file}: {cg:?}"
                );
            }
            let text = en.to_string();
            assert!(text.contains("not enforced: "), "{text}");
            assert!(text.contains(file), "{text}");
            if file == "pids.max" {
                // RLIMIT_NPROC stands in, except for real uid 0, which it
                // would not bind.
                assert_eq!(
                    en.rlimit_fallbacks.contains(&Rlimit::Nproc),
                    !common::is_root(),
                    "{en:?}"
                );
            }
        }
        // The caller's cgroup was left as it was: no controller enabled (so
        // it did not become a thread root) and no cgroup made in it.
        assert_eq!(
            read_trimmed(&own.join("cgroup.subtree_control")),
            subtree_before
        );
        assert_eq!(read_trimmed(&own.join("cgroup.type")), "domain");
        assert!(
            sandbox_cgroups(&own).is_empty(),
            "{:?}",
            sandbox_cgroups(&own)
        );
        common::assert_no_children();
    });
}

fn populated(cgroup: &Path) -> bool {
    std::fs::read_to_string(cgroup.join("cgroup.events"))
        .map(|s| s.lines().any(|l| l == "populated 1"))
        .unwrap_or(false)
}

#[test]
fn invalid_limits_name_the_field() {
    let mut sb = Sandbox::new();
    sb.cpus(-1.0);
    match sb.validate() {
        Err(Error::Config(stockade::error::ConfigError::Cgroup { field, .. })) => {
            assert_eq!(field, stockade::cgroup::Field::Cpus)
        }
        other => panic!("{other:?}"),
    }
    let mut sb = Sandbox::new();
    sb.pids_limit(0);
    let e = sb.validate().unwrap_err();
    assert!(chain(&e).contains("pids_max"), "{}", chain(&e));
}

/// Whether `controller` is bound to a cgroup v1 hierarchy for this process.
fn on_v1(controller: &str) -> bool {
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .any(|list| list.split(',').any(|c| c == controller))
}

#[test]
#[cfg_attr(
    stockade_vm,
    ignore = "needs the memory controller on cgroup v1 (a hybrid host); the VM's is on cgroup v2"
)]
fn hybrid_host_refuses_a_memory_limit_with_advice() {
    as_each_identity(|| {
        if !on_v1("memory") {
            return skip("needs the memory controller on cgroup v1: it is on cgroup v2 here");
        }
        let mut sb = Sandbox::new();
        sb.memory_limit(64 << 20);
        let e = sb
            .spawn(&mut sh("true"))
            .expect_err("a memory limit on cgroup v1");
        match &e {
            Error::Unsupported(u) => {
                assert_eq!(
                    u.feature,
                    error::Feature::CgroupController(cgroup::Controller::Memory)
                );
                assert_eq!(
                    u.reason,
                    error::UnsupportedReason::Cgroup(cgroup::Unavailable::OnV1Hierarchy)
                );
            }
            other => panic!("not Unsupported: {}", chain(other)),
        }
        let text = chain(&e);
        assert!(text.contains("memory"), "{text}");
        assert!(
            text.contains("systemd-run --user --scope -p Delegate=yes"),
            "{text}"
        );
        assert!(text.contains("cgroup::Config::parent"), "{text}");

        // Best effort: the spawn goes ahead, approximated by RLIMIT_AS, and
        // the report says so.
        sb.cgroup_mut().compat = CompatLevel::BestEffort;
        sb.pids_limit(64);
        let mut child = sb
            .spawn(sh("ulimit -v").stdout(Stdio::piped()))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let en = child.enforcement().clone();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(child.wait().unwrap().success());
        let cg = en.cgroup.clone().expect("a cgroup report");
        assert!(cg.path.is_none());
        assert!(cg.applied.is_empty());
        assert!(
            cg.skipped.iter().any(|s| s.kind.file() == "memory.max"
                && s.requested
                && s.reason == cgroup::Unavailable::OnV1Hierarchy),
            "{cg:?}"
        );
        assert!(en.rlimit_fallbacks.contains(&Rlimit::As), "{en:?}");
        // RLIMIT_NPROC would not bind real uid 0: it stands in otherwise.
        assert_eq!(
            en.rlimit_fallbacks.contains(&Rlimit::Nproc),
            !common::is_root(),
            "{en:?}"
        );
        assert_eq!(out.trim(), (64 << 10).to_string(), "ulimit -v in KiB");
        assert!(en.to_string().contains("not enforced: memory.max"), "{en}");
    });
}
