//! System containers: a container whose init (pid 1 of its pid namespace)
//! is the caller's program (`Sandbox::start_init`), with stockade's
//! supervisor one namespace up; programs run in it join the init's pid
//! namespace, the container ends when its init ends, and `stop` asks the
//! init to stop with its stop signal.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{as_each_identity, chain, sh};
use stockade::{Command, Container, Error, Namespaces, Sandbox, Stdio};

/// Runs `script` in `c` and returns its stdout, asserting it succeeded.
fn run(c: &Container, script: &str) -> String {
    let out = c
        .output(&mut sh(script))
        .unwrap_or_else(|e| panic!("exec failed: {}", chain(&e)));
    assert!(
        out.status.success(),
        "{script:?}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A marker unique to this process, for finding the processes a test
/// started.
fn marker(what: &str) -> String {
    format!("stockade-init-{what}-{}", std::process::id())
}

/// Pids of the processes whose command line contains `marker`.
fn marked(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(marker) && common::pid_alive(pid) {
                out.push(pid);
            }
        }
    }
    out
}

/// The applets the busybox root links to `/bin/busybox`.
const APPLETS: [&str; 12] = [
    "init", "sh", "sleep", "echo", "cat", "kill", "ps", "touch", "grep", "tr", "wc", "head",
];

/// A root holding busybox alone, its applets in `/bin`, an `/etc/inittab`
/// of `inittab`, and the host directory `state` at `/state`, writable.
fn busybox_root(busybox: &Path, inittab: &str, state: &Path) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.empty_root()
        .bind_ro(busybox, "/bin/busybox")
        .file("/etc/inittab", inittab)
        .bind_rw(state, "/state");
    for a in APPLETS {
        sb.symlink("busybox", format!("/bin/{a}"));
    }
    sb.fs_op(stockade::fs::Op::Dir {
        dest: "/root".into(),
        mode: None,
    });
    sb
}

/// The lines of a file of the state directory (none if it is missing).
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn busybox() -> Option<PathBuf> {
    common::debian_package("busybox", "busybox-static")
}

#[test]
fn busybox_init_runs_its_inittab_as_pid_1() {
    as_each_identity(|| {
        let Some(busybox) = busybox() else { return };
        let state = tempfile::tempdir().unwrap();
        let m = marker("respawn");
        let inittab = format!(
            "::sysinit:/bin/sh -c 'echo $$ > /state/sysinit'\n\
             ::respawn:/bin/sh -c 'echo $$ >> /state/respawns; sleep 1000; true' {m}\n\
             ::shutdown:/bin/sh -c 'echo done > /state/shutdown'\n"
        );
        let sb = busybox_root(&busybox, &inittab, state.path());
        // What stays open across sandboxes (the caller's lifeline, the
        // policy's template, built at its second use) opens first.
        drop(sb.start().unwrap());
        drop(sb.start().unwrap());
        // So does the observer of refused calls, started by the first
        // program.
        sb.start().unwrap().status(&mut sh("true")).unwrap();
        let fds_before = common::fd_count_without_listeners();
        let mut init = Command::new("/bin/init");
        init.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut c = sb
            .start_init(&mut init)
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let init_pid = c.init_id().expect("the init's pid");
        assert_ne!(init_pid, c.id());
        assert!(common::pid_alive(init_pid));
        let respawns = state.path().join("respawns");
        common::eventually("the respawn entry runs", || lines(&respawns).len() == 1);
        // The sysinit entry ran first, in the init's pid namespace.
        let sysinit = lines(&state.path().join("sysinit"));
        assert_eq!(sysinit.len(), 1, "{sysinit:?}");
        assert_ne!(sysinit[0], "1");
        // An exec sees busybox init as pid 1, with the container's
        // environment variable, and itself as a child of nothing there.
        assert_eq!(run(&c, "cat /proc/1/comm"), "init\n");
        let environ = run(&c, "tr '\\0' '\\n' < /proc/1/environ");
        assert!(
            environ.lines().any(|l| l == "container=stockade"),
            "{environ}"
        );
        let ppid = run(&c, "grep '^PPid:' /proc/self/status");
        assert_eq!(ppid.split_whitespace().nth(1), Some("0"), "{ppid}");
        let ps = run(&c, "ps -o pid,comm");
        assert!(ps.lines().any(|l| l.trim() == "1 init"), "{ps}");
        // The respawned process comes back once killed.
        let first = lines(&respawns)[0].clone();
        run(&c, &format!("kill {first}"));
        common::eventually("the respawn entry runs again", || {
            lines(&respawns).len() == 2
        });
        assert_ne!(lines(&respawns)[1], first);
        // A stop sends the init SIGTERM (busybox init's reboot): it runs
        // its shutdown entries, ends every process, and exits.
        let before = Instant::now();
        let stopped = c.stop(Duration::from_secs(30)).unwrap();
        let took = before.elapsed();
        eprintln!("busybox init stopped in {took:?}");
        assert!(!stopped.forced, "{stopped:?} after {took:?}");
        let status = stopped.init.expect("the init's status");
        assert!(status.success(), "{status}");
        assert_eq!(lines(&state.path().join("shutdown")), ["done"]);
        // Nothing is left: no process, no descriptor, no child.
        assert!(!common::pid_alive(init_pid));
        assert_eq!(marked(&m), Vec::<u32>::new());
        assert!(c.try_wait().unwrap());
        assert!(matches!(
            c.spawn(&mut sh("true")),
            Err(Error::ContainerEnded)
        ));
        drop(c);
        assert_eq!(
            common::fd_count_without_listeners(),
            fds_before,
            "{:?}",
            common::fd_list()
        );
        common::assert_no_children();
    });
}

#[test]
fn the_container_ends_when_its_init_ends() {
    as_each_identity(|| {
        let mut init = sh("read line; echo \"init got $line\"; exit 3");
        init.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut c = Sandbox::new()
            .start_init(&mut init)
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        // Execs run beside it, in its pid namespace.
        assert_eq!(
            run(&c, "cat /proc/1/cmdline | tr '\\0' ' '"),
            "/bin/sh -c read line; echo \"init got $line\"; exit 3 "
        );
        let m = marker("orphan");
        let mut bg = sh(&format!(
            "sh -c 'sleep 1000' {m} >/dev/null 2>&1 & echo started"
        ));
        bg.stdout(Stdio::piped());
        let out = c.output(&mut bg).unwrap();
        assert_eq!(out.stdout, b"started\n");
        assert!(!c.try_wait().unwrap());
        let mut stdin = c.take_stdin().expect("piped stdin");
        let mut stdout = c.take_stdout().expect("piped stdout");
        assert!(c.take_stdin().is_none());
        stdin.write_all(b"hello\n").unwrap();
        drop(stdin);
        let stopped = c.wait().unwrap();
        assert!(!stopped.forced, "{stopped:?}");
        assert_eq!(stopped.init.and_then(|s| s.code()), Some(3), "{stopped:?}");
        let mut said = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut said).unwrap();
        assert_eq!(said, "init got hello\n");
        // The kernel killed what the init left behind.
        common::eventually("the orphan is gone", || marked(&m).is_empty());
        assert!(matches!(
            c.spawn(&mut sh("true")),
            Err(Error::ContainerEnded)
        ));
        assert!(c.try_wait().unwrap());
        assert_eq!(c.stop(Duration::from_secs(1)).unwrap(), stopped);
    });
}

/// A shell that sleeps, its command line marked with `m`.
fn stubborn(m: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", "sleep 1000; true", m]);
    c
}

#[test]
fn stop_kills_an_init_that_does_not_stop_within_the_grace() {
    as_each_identity(|| {
        // A shell as pid 1 without a handler for SIGUSR2: the signal does
        // not reach it.
        let m = marker("stubborn");
        let mut c = Sandbox::new()
            .stop_signal(libc::SIGUSR2)
            .start_init(&mut stubborn(&m))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        common::eventually("the init's sleep runs", || !marked(&m).is_empty());
        let before = Instant::now();
        let stopped = c.stop(Duration::from_millis(300)).unwrap();
        assert!(before.elapsed() >= Duration::from_millis(300));
        assert!(stopped.forced, "{stopped:?}");
        assert_eq!(stopped.init.and_then(|s| s.signal()), Some(libc::SIGKILL));
        assert!(marked(&m).is_empty());
        // One that handles it stops at once, with the status it chooses.
        let mut c = Sandbox::new()
            .stop_signal(libc::SIGUSR2)
            .start_init(&mut sh(
                "trap 'exit 7' USR2; touch /tmp/ready; while :; do sleep 0.05; done",
            ))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        // Until its handler is set, the signal would not reach it.
        run(&c, "while [ ! -e /tmp/ready ]; do sleep 0.01; done");
        let stopped = c.stop(Duration::from_secs(20)).unwrap();
        assert!(!stopped.forced, "{stopped:?}");
        assert_eq!(stopped.init.and_then(|s| s.code()), Some(7));
        // Killing a container kills its init.
        let mut c = Sandbox::new()
            .start_init(&mut stubborn(&m))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let stopped = c.kill().unwrap();
        assert!(stopped.forced);
        assert_eq!(stopped.init.and_then(|s| s.signal()), Some(libc::SIGKILL));
        assert!(marked(&m).is_empty());
    });
}

#[test]
fn start_init_bad_input() {
    as_each_identity(|| {
        // No pid namespace: nothing for the init to be pid 1 of.
        let mut sb = Sandbox::new();
        sb.namespaces(Namespaces::default() - Namespaces::PID);
        match sb.start_init(&mut sh("true")) {
            Err(Error::Config(e)) => {
                assert!(e.to_string().contains("start_init"), "{e}");
                assert!(matches!(
                    e,
                    stockade::error::ConfigError::StartInitNeedsPidNamespace
                ));
            }
            other => panic!("{other:?}"),
        }
        // A stop signal that is none.
        match Sandbox::new().stop_signal(65).start_init(&mut sh("true")) {
            Err(Error::Config(e)) => assert!(e.to_string().contains("stop_signal 65"), "{e}"),
            other => panic!("{other:?}"),
        }
        // An init that cannot be executed: the spawn's own error, and
        // nothing left running.
        match Sandbox::new().start_init(&mut Command::new("/no/such/init")) {
            Err(e @ Error::ProgramNotFound { .. }) => {
                assert!(chain(&e).contains("/no/such/init"), "{}", chain(&e))
            }
            other => panic!("{other:?}"),
        }
        common::assert_no_children();
    });
}

#[test]
fn mount_cgroup_bad_input() {
    as_each_identity(|| {
        // Without a cgroup of the sandbox's own there is nothing to mount.
        let mut sb = Sandbox::new();
        sb.mount_cgroup(true);
        for sb in [
            sb.clone(),
            sb.clone()
                .namespaces(Namespaces::default() - Namespaces::CGROUP)
                .clone(),
        ] {
            match sb.start_init(&mut sh("true")) {
                Err(Error::Config(e)) => {
                    assert!(
                        matches!(e, stockade::error::ConfigError::MountCgroupNeeds),
                        "{e}"
                    );
                    assert!(e.to_string().starts_with("invalid mount_cgroup"), "{e}");
                }
                other => panic!("{other:?}"),
            }
        }
        let mut sb = Sandbox::new();
        sb.mount_cgroup(true)
            .namespaces(Namespaces::default() - Namespaces::CGROUP);
        sb.cgroup_mut().placement = true;
        assert!(matches!(sb.validate(), Err(Error::Config(_))));
    });
}

/// A read-only cgroup mount needs no cgroup of the sandbox's own: without
/// one it shows the cgroup the program runs in (its caller's, the root of
/// its cgroup namespace), and nothing there can be changed.
#[test]
fn read_only_cgroup_mount_shows_the_callers_cgroup_without_one_of_its_own() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.mount_cgroup_read_only().dir("/sys/fs/cgroup");
        let out = common::stdout_of(
            &sb,
            "cat /proc/self/cgroup | grep '^0::'; \
             awk '$5 == \"/sys/fs/cgroup\" { split($6, o, \",\"); \
                  for (i = 7; i <= NF; i++) if ($i == \"-\") print o[1], $(i+1) }' \
                 /proc/self/mountinfo; \
             test -r /sys/fs/cgroup/cgroup.procs && echo readable; \
             mkdir /sys/fs/cgroup/child 2>/dev/null && echo MADE || echo refused",
        );
        assert_eq!(
            out, "0::/\nro cgroup2\nreadable\nrefused\n",
            "the program should sit at the root of its cgroup namespace, \
             under a read-only cgroup2 mount it cannot change"
        );
        // The writable mount still needs a cgroup of the sandbox's own.
        let mut sb = Sandbox::new();
        sb.mount_cgroup(true);
        assert!(matches!(sb.validate(), Err(Error::Config(_))));
    });
}

/// A container without an init of the caller's mounts its cgroup tree too:
/// the first program run in it does, once, for every later one (the tree
/// had been left out, silently, for such containers).
#[test]
fn a_container_without_an_init_gets_its_cgroup_mount_once() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.mount_cgroup_read_only().dir("/sys/fs/cgroup");
        let mut c = sb.start().unwrap();
        let view = "awk '$5 == \"/sys/fs/cgroup\" { split($6, o, \",\"); \\
                      for (i = 7; i <= NF; i++) if ($i == \"-\") print o[1], $(i+1) }' \\
                    /proc/self/mountinfo; \\
                    grep '^0::' /proc/self/cgroup";
        for round in 0..3 {
            let out = c.output(&mut sh(view)).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "ro cgroup2\n0::/\n",
                "exec {round}: one read-only cgroup2 mount, the program at its root"
            );
        }
        c.stop(std::time::Duration::from_secs(5)).unwrap();
    });
}

/// The container's cgroup as the host sees the process `pid` in it.
fn host_cgroup(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap()
        .to_owned()
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn an_init_gets_its_cgroup_writable_in_its_own_cgroup_namespace() {
    as_each_identity(|| {
        let parent = common::delegated_cgroup();
        let mut sb = Sandbox::new();
        sb.cgroup_mut().parent = Some(parent.clone());
        sb.pids_limit(64)
            .mount_cgroup(true)
            .dir("/sys/fs/cgroup")
            .stop_signal(libc::SIGUSR1);
        let mut c = sb
            .start_init(&mut sh(
                "trap 'exit 0' USR1; touch /tmp/ready; while :; do sleep 0.05; done",
            ))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        run(&c, "while [ ! -e /tmp/ready ]; do sleep 0.01; done");
        let init = c.init_id().unwrap();
        // The host sees the init in the container's cgroup, beneath the
        // delegated parent; the container sees it at the root of its own.
        let on_host = host_cgroup(init);
        let leaf = Path::new("/sys/fs/cgroup").join(on_host.strip_prefix("0::/").unwrap());
        assert!(leaf.starts_with(&parent), "{on_host}");
        assert_eq!(run(&c, "grep '^0::' /proc/1/cgroup"), "0::/\n");
        // A cgroup2 mount of that cgroup, which a program of the container
        // may make cgroups in and move processes to.
        assert_eq!(run(&c, "stat -f -c %T /sys/fs/cgroup"), "cgroup2fs\n");
        let moved = run(
            &c,
            "mkdir /sys/fs/cgroup/svc && echo $$ > /sys/fs/cgroup/svc/cgroup.procs && \
             grep '^0::' /proc/self/cgroup",
        );
        assert_eq!(moved, "0::/svc\n");
        assert!(leaf.join("svc").is_dir());
        run(&c, "rmdir /sys/fs/cgroup/svc");
        let stopped = c.stop(Duration::from_secs(20)).unwrap();
        assert!(!stopped.forced, "{stopped:?}");
        assert!(!leaf.exists(), "{}", leaf.display());
    });
}

/// `Sandbox::sys`: a fresh sysfs of the sandbox's own network namespace,
/// read-only, without set-id programs, devices or executables; none
/// without it.
#[test]
fn sys_is_a_read_only_sysfs_of_the_sandboxs_own_network_namespace() {
    as_each_identity(|| {
        let script = "stat -f -c %T /sys; ls /sys/class/net; \
                      if touch /sys/x 2>/dev/null; then echo writable; fi; \
                      grep ' /sys ' /proc/self/mounts | cut -d' ' -f3,4";
        let out = Sandbox::new()
            .sys(true)
            .output(&mut sh(script))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("sysfs"), "{text}");
        assert_eq!(lines.next(), Some("lo"), "{text}");
        let opts = lines.next().unwrap_or_default();
        assert!(opts.starts_with("sysfs ro,nosuid,nodev,noexec"), "{text}");
        assert_eq!(lines.next(), None, "{text}");
        // A container's init and its execs see the same one.
        let mut c = Sandbox::new()
            .sys(true)
            .start_init(&mut sh("trap 'exit 0' TERM; while :; do sleep 0.05; done"))
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        assert_eq!(
            run(&c, "stat -f -c %T /sys; ls /sys/class/net"),
            "sysfs\nlo\n"
        );
        c.stop(Duration::from_secs(10)).unwrap();
        // Without it there is no /sys.
        let out = Sandbox::new()
            .output(&mut sh("stat -f -c %T /sys 2>&1 || echo none"))
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).ends_with("none\n"),
            "{out:?}"
        );
    });
}

#[test]
fn sys_needs_a_network_namespace_of_the_sandboxs_own() {
    as_each_identity(|| {
        let mut sb = Sandbox::new();
        sb.sys(true).network(stockade::Network::Host);
        match sb.output(&mut sh("true")) {
            Err(Error::Config(e)) => {
                assert!(
                    matches!(e, stockade::error::ConfigError::SysNeedsNetworkNamespace),
                    "{e}"
                );
                assert!(e.to_string().contains("Namespaces::NET"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        common::assert_no_children();
    });
}

/// A root caller whose init runs as another id than its own (ranges here)
/// hands the init its cgroup, as `Delegate=yes` does: the init may make
/// cgroups beneath it; the limits stay the caller's.
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn an_init_mapped_to_another_id_gets_its_cgroup_handed_over_as_root() {
    let parent = common::delegated_cgroup();
    // The caller's own uid is mapped too (the supervisor runs as it).
    let map = [
        stockade::IdRange::new(0, 1000, 1),
        stockade::IdRange::new(1, 0, 1),
    ];
    let mut sb = Sandbox::new();
    sb.cgroup_mut().parent = Some(parent.clone());
    sb.uid_ranges(map)
        .gid_ranges(map)
        .uid(0)
        .gid(0)
        .pids_limit(64)
        .mount_cgroup(true)
        .dir("/sys/fs/cgroup");
    let mut c = sb
        .start_init(&mut sh("trap 'exit 0' TERM; while :; do sleep 0.05; done"))
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let init = c.init_id().unwrap();
    let on_host = host_cgroup(init);
    let leaf = Path::new("/sys/fs/cgroup").join(on_host.strip_prefix("0::/").unwrap());
    use std::os::unix::fs::MetadataExt;
    let owner = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (m.uid(), m.gid())
    };
    assert_eq!(owner(&leaf), (1000, 1000));
    assert_eq!(owner(&leaf.join("cgroup.procs")), (1000, 1000));
    // The limits, on the directory above, stay the caller's.
    let outer = leaf.parent().unwrap();
    assert_eq!(owner(outer), (0, 0));
    assert_eq!(owner(&outer.join("pids.max")), (0, 0));
    let moved = run(
        &c,
        "mkdir /sys/fs/cgroup/svc && echo $$ > /sys/fs/cgroup/svc/cgroup.procs && \
         grep '^0::' /proc/self/cgroup",
    );
    assert_eq!(moved, "0::/svc\n");
    run(&c, "rmdir /sys/fs/cgroup/svc");
    let stopped = c.stop(Duration::from_secs(20)).unwrap();
    assert!(!stopped.forced, "{stopped:?}");
    assert!(!leaf.exists(), "{}", leaf.display());
}

/// The output of `script` in `c`, its status and both streams, without
/// asserting anything.
fn attempt(c: &Container, script: &str) -> (bool, String) {
    let out = c
        .output(&mut sh(script))
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A Debian bookworm userland (minbase and systemd, built by tests/vm/run)
/// boots systemd as the container's init: the system comes up (`running`,
/// or `degraded` when a unit the container cannot run failed), a program
/// run in it talks to the service manager, and the stop signal systemd
/// halts on (`SIGRTMIN+3`) shuts it down cleanly. As root with explicit
/// ranges; unprivileged with its subordinate ids and a delegated cgroup.
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree and the Debian userland tests/vm/run builds; tests/vm/run runs it"
)]
fn a_debian_userland_boots_systemd_as_pid_1() {
    as_each_identity(|| {
        let Some((tree, sub_uid, sub_gid)) = common::system_tree() else {
            return;
        };
        let parent = common::delegated_cgroup();
        let mut sb = Sandbox::new();
        if common::is_root() {
            // The tree's owners as tests/vm/run shifted them: 0 to uid
            // 1000, n to the n-th of 1000's subordinate ids; and root's own.
            let map = |sub| {
                [
                    stockade::IdRange::new(0, 1000, 1),
                    stockade::IdRange::new(1, sub, 65535),
                    stockade::IdRange::new(65536, 0, 1),
                ]
            };
            sb.uid_ranges(map(sub_uid)).gid_ranges(map(sub_gid));
        } else {
            sb.subordinate_ids(true);
        }
        let mut caps = stockade::caps::Policy::new();
        // Every capability but CAP_SYS_PTRACE, which stockade never grants.
        caps.keep_all(
            stockade::caps::Capability::ALL
                .iter()
                .copied()
                .filter(|&c| c != stockade::caps::Capability::SysPtrace),
        )
        .no_new_privs(false)
        // systemd sets each service's securebits.
        .lock_noroot(false);
        sb.cgroup_mut().parent = Some(parent);
        sb.root_dir(&tree)
            .writable_root(stockade::fs::Upper::Temporary)
            .sys(true)
            .mount_cgroup(true)
            .tmpfs("/run", Default::default())
            .tmpfs("/run/lock", Default::default())
            .uid(0)
            .gid(0)
            .hostname("bookworm")
            .capabilities(caps)
            .stop_signal(libc::SIGRTMIN() + 3);
        // systemd installs its services' filters itself.
        #[cfg(feature = "seccomp")]
        sb.seccomp(None);
        let mut init = Command::new("/sbin/init");
        if let Some(level) = std::env::var_os("STOCKADE_TEST_SYSTEMD_LOG_LEVEL") {
            // For a look at a failing boot: systemd's own log on the console.
            init.arg(format!("--log-level={}", level.to_string_lossy()))
                .arg("--log-target=console");
        }
        init.pty(stockade::pty::WindowSize::new(24, 80));
        let started = Instant::now();
        let mut c = sb
            .start_init(&mut init)
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        // The console: kept open and read all along, so that systemd never
        // blocks on it, and shown when something fails. systemd closes its
        // own terminal and opens /dev/console for each message: an end of
        // file means only that nobody has it open at the moment (were the
        // master closed, each open would fail with EIO, which systemd
        // retries for a second per message).
        let mut pty = c.take_pty().expect("the init's terminal");
        let console = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (sink, finished) = (console.clone(), done.clone());
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !finished.load(std::sync::atomic::Ordering::Relaxed) {
                match std::io::Read::read(&mut pty, &mut buf) {
                    Ok(n) if n > 0 => sink.lock().unwrap().extend_from_slice(&buf[..n]),
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        let console_text = || String::from_utf8_lossy(&console.lock().unwrap()).into_owned();
        let shown = |c: &Container, what: &str| {
            // What runs, and what systemd left in /run.
            let (_, procs) = attempt(
                c,
                "for p in /proc/[0-9]*; do echo \"${p#/proc/} $(tr '\\0' ' ' < $p/cmdline)\"; done; \
                 ls -la /run /run/systemd 2>&1; head -12 /proc/1/status; \
                 for t in /proc/1/task/*; do echo \"$t $(cat $t/wchan) $(cat $t/syscall 2>&1)\"; done",
            );
            format!(
                "{what}\n--- processes\n{procs}\n--- console\n{}",
                console_text()
            )
        };
        let (_, state) = attempt(&c, common::SYSTEMD_BOOTED);
        let (_, failed) = attempt(&c, "systemctl --failed --no-legend --plain");
        eprintln!(
            "system state after {:.1}s: {state}failed units: {failed:?}",
            started.elapsed().as_secs_f64()
        );
        assert!(
            state == "running\n" || state == "degraded\n",
            "{}",
            shown(&c, &format!("state {state:?}; failed units:\n{failed}"))
        );
        let (ok, status) = attempt(&c, "systemctl status --no-pager");
        assert!(ok, "{}", shown(&c, &status));
        assert!(
            status.contains("State: running") || status.contains("State: degraded"),
            "{status}"
        );
        // What systemd makes of its container.
        let (ok, virt) = attempt(&c, "systemd-detect-virt --container; cat /proc/1/comm");
        assert!(ok && virt == "container-other\nsystemd\n", "{virt}");
        // systemd halts with reboot(2), which in a pid namespace other than
        // the first ends its init with SIGINT (exit 0 when it exits).
        let stopped = c.stop(Duration::from_secs(120)).unwrap();
        let halted = |s: stockade::ExitStatus| s.success() || s.signal() == Some(libc::SIGINT);
        assert!(
            !stopped.forced && stopped.init.is_some_and(halted),
            "{stopped:?}\n--- console\n{}",
            console_text()
        );
        drop(c);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().unwrap();
    });
}
