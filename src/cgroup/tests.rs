//! Unit tests against the fake cgroupfs.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::discover::{Discovery, common_ancestor, parse_mountinfo, parse_self_cgroup};
use super::fake::FakeOs;
use super::limits::{cpu_max_value, plan};
use super::os::{parse_start_time, v2_path_of};
use super::stale::Name;
use super::*;

/// This development host: hybrid cgroups, memory/cpu/pids/io on v1.
const HYBRID_SELF: &str = "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n\
4:memory:/process_api/ba4ea949273af7515a31078074eadfd9\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";
const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

const SYSTEMD_MOUNTINFO: &str = "\
24 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
26 24 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 26 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

fn fake_v2() -> (Arc<FakeOs>, Engine) {
    let os = Arc::new(FakeOs::v2("/app"));
    os.cgroup("/sys/fs/cgroup/app", &[4242]);
    let engine = Engine::new(os.clone());
    (os, engine)
}

/// A delegated, empty parent `/sys/fs/cgroup/pool` with all controllers offered.
fn with_pool(os: &FakeOs) -> PathBuf {
    os.put(
        "/sys/fs/cgroup/cgroup.subtree_control",
        "cpuset cpu io memory pids\n",
    );
    os.cgroup("/sys/fs/cgroup/pool", &[]);
    PathBuf::from("/sys/fs/cgroup/pool")
}

fn config_in(parent: &Path) -> Config {
    Config {
        parent: Some(parent.to_owned()),
        ..Config::default()
    }
}

fn cgroup_dirs(os: &FakeOs, parent: &Path) -> Vec<String> {
    use super::os::Os;
    os.subdirs(parent)
        .unwrap()
        .into_iter()
        .map(|n| n.into_string().unwrap())
        .collect()
}

// ---- discovery ----

#[test]
fn discovery_on_a_hybrid_host() {
    let d = Discovery::from_texts(HYBRID_SELF, HYBRID_MOUNTINFO).unwrap();
    assert_eq!(d.own, Path::new("/"));
    assert_eq!(d.own_dir, Path::new("/sys/fs/cgroup/unified"));
    assert_eq!(d.mount_point, Path::new("/sys/fs/cgroup/unified"));
    for c in [
        Controller::Memory,
        Controller::Pids,
        Controller::Cpu,
        Controller::Io,
        Controller::Cpuset,
    ] {
        assert!(d.v1.contains(&c), "{c} should be seen on v1");
    }
}

#[test]
fn discovery_on_a_systemd_v2_host() {
    let own = "/user.slice/user-1000.slice/user@1000.service/app.slice/run-u7.scope";
    let d = Discovery::from_texts(&format!("0::{own}\n"), SYSTEMD_MOUNTINFO).unwrap();
    assert_eq!(d.own_dir, Path::new("/sys/fs/cgroup").join(&own[1..]));
    assert!(d.v1.is_empty());
    assert_eq!(
        d.hierarchy_path(Path::new("/sys/fs/cgroup/a/b")).unwrap(),
        Path::new("/a/b")
    );
    assert_eq!(
        d.dir_of(Path::new("/a")).unwrap(),
        Path::new("/sys/fs/cgroup/a")
    );
}

#[test]
fn discovery_mount_not_at_sys_fs_cgroup_and_escaped() {
    let mi = "50 1 0:40 / /run/my\\040cgroups rw - cgroup2 none rw\n";
    let d = Discovery::from_texts("0::/w\n", mi).unwrap();
    assert_eq!(d.own_dir, Path::new("/run/my cgroups/w"));
}

#[test]
fn discovery_with_subtree_mounted_as_root() {
    // A container that sees only its own subtree bind-mounted.
    let mi = "60 1 0:30 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    let d = Discovery::from_texts("0::/kubepods/pod1/c1\n", mi).unwrap();
    assert_eq!(d.own_dir, Path::new("/sys/fs/cgroup/c1"));
    assert_eq!(
        d.hierarchy_path(Path::new("/sys/fs/cgroup/c1/x")).unwrap(),
        Path::new("/kubepods/pod1/c1/x")
    );
    // The real root is not visible.
    assert_eq!(d.dir_of(Path::new("/")), None);
}

#[test]
fn discovery_errors() {
    assert!(matches!(
        Discovery::from_texts("0::/../sibling\n", SYSTEMD_MOUNTINFO),
        Err(Error::OwnCgroupNotVisible { .. })
    ));
    // Pure v1: no cgroup2 mount, no 0:: line.
    let v1_only: String = HYBRID_MOUNTINFO
        .lines()
        .take(9)
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(matches!(
        Discovery::from_texts("4:memory:/\n", &v1_only),
        Err(Error::NoCgroup2)
    ));
    assert!(matches!(
        Discovery::from_texts("0::/\n", "1 2 3\n"),
        Err(Error::Malformed { line: 1, .. })
    ));
    assert_eq!(parse_self_cgroup("garbage\n"), Err(1));
    assert_eq!(parse_mountinfo("\n31 23 0:28 / /x rw - tmpfs\n"), Err(2));
}

#[test]
fn common_ancestors() {
    let ca = |a: &str, b: &str| common_ancestor(Path::new(a), Path::new(b));
    assert_eq!(ca("/a/b/c", "/a/b/d/e"), Path::new("/a/b"));
    assert_eq!(ca("/", "/x/y"), Path::new("/"));
    assert_eq!(ca("/ab", "/a"), Path::new("/"));
}

#[test]
fn proc_parsers() {
    let stat = "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100";
    assert_eq!(parse_start_time(stat), Some(98765));
    assert_eq!(parse_start_time("garbage"), None);
    assert_eq!(
        v2_path_of("1:cpu:/\n0::/a/b\n"),
        Some(PathBuf::from("/a/b"))
    );
}

// ---- config and limit values ----

#[test]
fn cpu_max_formatting() {
    assert_eq!(cpu_max_value(0.5), "50000 100000");
    assert_eq!(cpu_max_value(1.0), "100000 100000");
    assert_eq!(cpu_max_value(1.5), "150000 100000");
    assert_eq!(cpu_max_value(0.01), "1000 100000");
    assert_eq!(cpu_max_value(0.333333), "33333 100000");
}

#[test]
fn plan_swap_oom_group_and_io() {
    let mut c = Config {
        memory_max: Some(64 << 20),
        ..Config::default()
    };
    let files = |c: &Config| -> Vec<(LimitKind, String, bool)> {
        plan(c)
            .into_iter()
            .map(|w| (w.kind, w.value, w.explicit))
            .collect()
    };
    assert_eq!(
        files(&c),
        vec![
            (LimitKind::MemoryMax, "67108864".into(), true),
            (LimitKind::MemorySwapMax, "0".into(), false),
            (LimitKind::MemoryOomGroup, "1".into(), false),
        ]
    );
    c.swap_max = Some(u64::MAX);
    c.oom_group = false;
    assert_eq!(
        files(&c),
        vec![
            (LimitKind::MemoryMax, "67108864".into(), true),
            (LimitKind::MemorySwapMax, "max".into(), true),
        ]
    );
    let mut rule = IoMaxRule::new(8, 0);
    rule.rbps = Some(1 << 20);
    rule.wiops = Some(100);
    let c = Config {
        io_max: vec![rule],
        pids_max: Some(u64::MAX),
        cpu_weight: Some(50),
        ..Config::default()
    };
    assert_eq!(
        files(&c),
        vec![
            (LimitKind::PidsMax, "max".into(), true),
            (LimitKind::CpuWeight, "50".into(), true),
            (LimitKind::IoMax, "8:0 rbps=1048576 wiops=100".into(), true),
        ]
    );
}

#[test]
fn validation_names_the_field() {
    let check = |c: Config, field: Field, problem: Problem| match c.validate(2) {
        Err(Error::Invalid {
            field: f,
            problem: p,
        }) => {
            assert_eq!((f, p), (field, problem));
            let msg = Error::Invalid {
                field: f,
                problem: p,
            }
            .to_string();
            assert!(msg.starts_with("invalid cgroup setting `"), "{msg}");
            assert!(msg.contains(&field.to_string()), "{msg}");
        }
        other => panic!("expected {field} {problem:?}, got {other:?}"),
    };
    let d = Config::default;
    check(
        Config {
            memory_max: Some(0),
            ..d()
        },
        Field::MemoryMax,
        Problem::Zero,
    );
    check(
        Config {
            pids_max: Some(0),
            ..d()
        },
        Field::PidsMax,
        Problem::Zero,
    );
    check(
        Config {
            memory_max: Some(10),
            memory_high: Some(11),
            ..d()
        },
        Field::MemoryHigh,
        Problem::HighAboveMax,
    );
    check(
        Config {
            swap_max: Some(1),
            ..d()
        },
        Field::SwapMax,
        Problem::SwapWithoutMemoryMax,
    );
    check(
        Config {
            cpus: Some(-1.0),
            ..d()
        },
        Field::Cpus,
        Problem::NotFinitePositive,
    );
    check(
        Config {
            cpus: Some(f64::NAN),
            ..d()
        },
        Field::Cpus,
        Problem::NotFinitePositive,
    );
    check(
        Config {
            cpus: Some(0.001),
            ..d()
        },
        Field::Cpus,
        Problem::BelowMinimum { minimum: 0.01 },
    );
    check(
        Config {
            cpus: Some(3.0),
            ..d()
        },
        Field::Cpus,
        Problem::ExceedsOnlineCpus { online: 2 },
    );
    check(
        Config {
            cpu_weight: Some(0),
            ..d()
        },
        Field::CpuWeight,
        Problem::Zero,
    );
    check(
        Config {
            cpu_weight: Some(10_001),
            ..d()
        },
        Field::CpuWeight,
        Problem::AboveMaximum { maximum: 10_000.0 },
    );
    check(
        Config {
            io_max: vec![IoMaxRule::new(8, 0)],
            ..d()
        },
        Field::IoMax(0),
        Problem::EmptyIoRule,
    );
    let mut r = IoMaxRule::new(8, 0);
    r.rbps = Some(1);
    check(
        Config {
            io_max: vec![r.clone(), r],
            ..d()
        },
        Field::IoMax(1),
        Problem::DuplicateDevice,
    );
    check(
        Config {
            cpuset_cpus: Some("0-".into()),
            ..d()
        },
        Field::CpusetCpus,
        Problem::BadList,
    );
    check(
        Config {
            cpuset_mems: Some("3-1".into()),
            ..d()
        },
        Field::CpusetMems,
        Problem::BadList,
    );
    check(
        Config {
            parent: Some("rel/x".into()),
            ..d()
        },
        Field::Parent,
        Problem::NotAbsolute,
    );
    let ok = Config {
        memory_max: Some(1 << 30),
        memory_high: Some(1 << 29),
        cpus: Some(2.0),
        cpuset_cpus: Some("0-1".into()),
        cpuset_mems: Some("0".into()),
        ..d()
    };
    assert!(ok.validate(2).is_ok());
}

// ---- prepare against the fake cgroupfs ----

#[test]
fn nothing_requested_gives_none() {
    let (os, engine) = fake_v2();
    let p = engine.prepare(&Config::default()).unwrap();
    assert!(p.cgroup.is_none() && p.report.is_none());
    assert!(os.lock().writes.is_empty());
}

#[test]
fn limits_land_in_the_right_files() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    let config = Config {
        memory_max: Some(256 << 20),
        memory_high: Some(200 << 20),
        pids_max: Some(64),
        cpus: Some(0.5),
        cpu_weight: Some(200),
        cpuset_cpus: Some("0".into()),
        ..config_in(&pool)
    };
    let cg = engine.prepare(&config).unwrap().cgroup.unwrap();
    let dir = cg.path().to_owned();
    let name = dir.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        Name::parse(name).map(|n| (n.pid, n.start)),
        Some((4242, 777))
    );
    let file = |f: &str| os.get(dir.join(f)).trim().to_owned();
    assert_eq!(file("memory.max"), "268435456");
    assert_eq!(file("memory.high"), "209715200");
    assert_eq!(file("memory.swap.max"), "0");
    assert_eq!(file("memory.oom.group"), "1");
    assert_eq!(file("pids.max"), "64");
    assert_eq!(file("cpu.max"), "50000 100000");
    assert_eq!(file("cpu.weight"), "200");
    assert_eq!(file("cpuset.cpus"), "0");
    // The leaf exists and carries no limits.
    assert_eq!(cg.leaf_path(), dir.join("sandbox"));
    assert!(os.exists(dir.join("sandbox/cgroup.procs")));
    assert!(!os.exists(dir.join("sandbox/memory.max")));
    // Needed controllers were enabled in the parent, and nothing else.
    let sc = os.get(pool.join("cgroup.subtree_control"));
    let mut enabled: Vec<&str> = sc.split_whitespace().collect();
    enabled.sort();
    assert_eq!(enabled, ["cpu", "cpuset", "memory", "pids"]);
    let r = cg.report();
    assert_eq!(r.path.as_deref(), Some(dir.as_path()));
    assert!(r.fully_applied());
    assert!(r.skipped.is_empty());
    assert_eq!(r.applied.len(), 8);
    assert_eq!(
        r.controllers,
        [
            Controller::Cpuset,
            Controller::Cpu,
            Controller::Memory,
            Controller::Pids
        ]
    );
    // Placement fds are open on the leaf.
    assert!(cg.dir_fd().as_raw_fd() >= 0 && cg.procs_fd().as_raw_fd() >= 0);
    drop(cg);
    assert!(!os.exists(&dir), "drop removes the cgroup");
    assert!(cgroup_dirs(&os, &pool).is_empty());
}

/// The kernel lets a cgroup with processes enable a threaded controller
/// (pids, cpu, cpuset) and then makes every new child "domain invalid", where
/// clone3 cannot place the program (EOPNOTSUPP): such limits must be refused
/// up front, leaving the caller's cgroup as it was.
#[test]
fn threaded_controllers_are_not_enabled_in_a_cgroup_with_processes() {
    let (os, engine) = fake_v2();
    os.put("/sys/fs/cgroup/cgroup.subtree_control", "cpuset cpu pids\n");
    os.put("/sys/fs/cgroup/app/cgroup.controllers", "cpuset cpu pids\n");
    let app = Path::new("/sys/fs/cgroup/app");
    let config = Config {
        pids_max: Some(64),
        cpus: Some(0.5),
        cpu_weight: Some(50),
        ..Config::default()
    };
    match engine.prepare(&config).unwrap_err() {
        Error::NoInternalProcesses { parent, controller } => {
            assert_eq!(parent, app);
            assert!(
                matches!(controller, Controller::Pids | Controller::Cpu),
                "{controller:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let best = Config {
        compat: CompatLevel::BestEffort,
        ..config
    };
    let p = engine.prepare(&best).unwrap();
    assert!(p.cgroup.is_none());
    let report = p.report.unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    let skipped: Vec<(LimitKind, Unavailable, bool)> = report
        .skipped
        .iter()
        .map(|s| (s.kind, s.reason, s.requested))
        .collect();
    assert_eq!(
        skipped,
        [
            (LimitKind::PidsMax, Unavailable::NoInternalProcesses, true),
            (LimitKind::CpuMax, Unavailable::NoInternalProcesses, true),
            (LimitKind::CpuWeight, Unavailable::NoInternalProcesses, true),
        ]
    );
    // The caller's cgroup did not become a thread root; nothing was made.
    assert_eq!(os.get(app.join("cgroup.subtree_control")).trim(), "");
    assert!(cgroup_dirs(&os, app).is_empty());
    // Nor is a threaded controller used that someone else enabled there.
    os.put(app.join("cgroup.subtree_control"), "pids\n");
    let pids_only = Config {
        pids_max: Some(64),
        ..Config::default()
    };
    assert!(matches!(
        engine.prepare(&pids_only),
        Err(Error::NoInternalProcesses {
            controller: Controller::Pids,
            ..
        })
    ));
    assert!(cgroup_dirs(&os, app).is_empty());
}

#[test]
fn no_internal_processes_is_detected_not_worked_around() {
    let (os, engine) = fake_v2();
    os.put("/sys/fs/cgroup/cgroup.subtree_control", "memory pids\n");
    // The caller's own cgroup /app holds the caller and is offered memory.
    os.put("/sys/fs/cgroup/app/cgroup.controllers", "memory pids\n");
    let config = Config {
        memory_max: Some(1 << 20),
        ..Config::default()
    };
    let err = engine.prepare(&config).unwrap_err();
    match &err {
        Error::NoInternalProcesses { parent, controller } => {
            assert_eq!(parent, Path::new("/sys/fs/cgroup/app"));
            assert_eq!(*controller, Controller::Memory);
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with("failed to enable the memory controller"),
        "{msg}"
    );
    assert!(msg.contains("leaf child cgroup"), "{msg}");
    // The caller was not moved and nothing was created.
    assert_eq!(os.get("/sys/fs/cgroup/app/cgroup.procs").trim(), "4242");
    assert!(cgroup_dirs(&os, Path::new("/sys/fs/cgroup/app")).is_empty());
}

#[test]
fn placement_only_works_under_a_populated_own_cgroup() {
    let (os, engine) = fake_v2();
    let config = Config {
        placement: true,
        ..Config::default()
    };
    let cg = engine.prepare(&config).unwrap().cgroup.unwrap();
    assert!(cg.path().starts_with("/sys/fs/cgroup/app"));
    assert!(cg.report().applied.is_empty() && cg.report().fully_applied());
    let usage = cg.usage().unwrap();
    assert_eq!(usage.cpu.unwrap().usage_usec, 0);
    assert_eq!(usage.memory_peak, None, "memory not enabled there");
    cg.remove().unwrap();
    assert!(cgroup_dirs(&os, Path::new("/sys/fs/cgroup/app")).is_empty());
}

#[test]
fn hybrid_host_names_the_v1_controller_and_advice() {
    let os = Arc::new(FakeOs::new(
        "/sys/fs/cgroup/unified",
        "hugetlb",
        HYBRID_SELF,
        HYBRID_MOUNTINFO,
    ));
    let engine = Engine::new(os.clone());
    let config = Config {
        memory_max: Some(1 << 20),
        ..Config::default()
    };
    let err = engine.prepare(&config).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                controller: Controller::Memory,
                reason: Unavailable::OnV1Hierarchy,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("memory cgroup controller"), "{msg}");
    assert!(msg.contains("cgroup v1 hierarchy"), "{msg}");
    assert!(msg.contains("systemd.unified_cgroup_hierarchy=1"), "{msg}");
    // Nothing was written on such a host.
    assert!(os.lock().writes.is_empty());
    assert!(cgroup_dirs(&os, Path::new("/sys/fs/cgroup/unified")).is_empty());
}

#[test]
fn best_effort_skips_what_cannot_apply_and_says_why() {
    let os = Arc::new(FakeOs::new(
        "/sys/fs/cgroup/unified",
        "hugetlb pids",
        "4:memory:/\n0::/\n",
        HYBRID_MOUNTINFO,
    ));
    let engine = Engine::new(os.clone());
    let config = Config {
        memory_max: Some(1 << 20),
        pids_max: Some(10),
        compat: CompatLevel::BestEffort,
        ..Config::default()
    };
    let p = engine.prepare(&config).unwrap();
    let cg = p.cgroup.unwrap();
    let r = cg.report();
    assert_eq!(r.applied.len(), 1);
    assert_eq!(r.applied[0].kind, LimitKind::PidsMax);
    let skipped: Vec<(LimitKind, Unavailable, bool)> = r
        .skipped
        .iter()
        .map(|s| (s.kind, s.reason, s.requested))
        .collect();
    assert_eq!(
        skipped,
        [
            (LimitKind::MemoryMax, Unavailable::OnV1Hierarchy, true),
            (LimitKind::MemorySwapMax, Unavailable::OnV1Hierarchy, false),
            (LimitKind::MemoryOomGroup, Unavailable::OnV1Hierarchy, false),
        ]
    );
    assert!(!r.fully_applied());
    assert_eq!(os.get(cg.path().join("pids.max")).trim(), "10");
}

#[test]
fn best_effort_without_cgroup2_reports_everything_skipped() {
    let v1_only: String = HYBRID_MOUNTINFO
        .lines()
        .take(9)
        .map(|l| format!("{l}\n"))
        .collect();
    let os = Arc::new(FakeOs::new("/nonexistent", "", "4:memory:/\n", &v1_only));
    let engine = Engine::new(os);
    let mut config = Config {
        pids_max: Some(10),
        ..Config::default()
    };
    assert!(matches!(engine.prepare(&config), Err(Error::NoCgroup2)));
    config.compat = CompatLevel::BestEffort;
    let p = engine.prepare(&config).unwrap();
    assert!(p.cgroup.is_none());
    assert!(matches!(p.swallowed, Some(Error::NoCgroup2)));
    let r = p.report.unwrap();
    assert_eq!(r.path, None);
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].reason, Unavailable::NoCgroup2);
}

#[test]
fn controller_classification() {
    // Not offered by the parent: its own parent does not enable it.
    let (os, engine) = fake_v2();
    os.put("/sys/fs/cgroup/cgroup.subtree_control", "pids\n");
    os.cgroup("/sys/fs/cgroup/pool", &[]);
    let config = Config {
        memory_max: Some(1 << 20),
        ..config_in(Path::new("/sys/fs/cgroup/pool"))
    };
    let err = engine.prepare(&config).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                reason: Unavailable::NotEnabledInParent,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("systemd-run --user --scope -p Delegate=yes")
    );

    // Offered but the parent's subtree_control is not ours to write.
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    os.lock()
        .deny_write
        .insert(pool.join("cgroup.subtree_control"));
    let err = engine
        .prepare(&Config {
            pids_max: Some(5),
            ..config_in(&pool)
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                reason: Unavailable::NotDelegated,
                controller: Controller::Pids,
                ..
            }
        ),
        "{err:?}"
    );

    // Not in the kernel at all (root lacks it, no v1 either).
    let os = Arc::new(FakeOs::v2("/"));
    os.put("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
    let engine = Engine::new(os.clone());
    let mut rule = IoMaxRule::new(8, 0);
    rule.wbps = Some(1);
    let err = engine
        .prepare(&Config {
            io_max: vec![rule],
            ..Config::default()
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                reason: Unavailable::NotInKernel,
                controller: Controller::Io,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn root_cgroup_may_enable_controllers_while_holding_processes() {
    // Inside a VM whose init runs in the root cgroup.
    let os = Arc::new(FakeOs::v2("/"));
    os.put("/sys/fs/cgroup/cgroup.procs", "1\n4242\n");
    let engine = Engine::new(os.clone());
    let cg = engine
        .prepare(&Config {
            memory_max: Some(1 << 20),
            ..Config::default()
        })
        .unwrap()
        .cgroup
        .unwrap();
    assert_eq!(cg.path().parent().unwrap(), Path::new("/sys/fs/cgroup"));
    assert!(
        os.get("/sys/fs/cgroup/cgroup.subtree_control")
            .contains("memory")
    );
}

#[test]
fn parent_permission_problems() {
    // Parent directory not writable: not delegated.
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    os.lock().deny_write.insert(pool.clone());
    let err = engine.prepare(&config_in(&pool)).unwrap_err();
    assert!(matches!(err, Error::NotDelegated { .. }), "{err:?}");
    assert!(err.to_string().contains("not delegated to this user"));

    // Processes could not be moved there: the common ancestor is not ours.
    let os = Arc::new(FakeOs::v2("/a/runner"));
    os.put("/sys/fs/cgroup/cgroup.subtree_control", "memory pids\n");
    os.cgroup("/sys/fs/cgroup/a", &[]);
    os.cgroup("/sys/fs/cgroup/a/runner", &[4242]);
    os.cgroup("/sys/fs/cgroup/b", &[]);
    os.lock()
        .deny_write
        .insert(PathBuf::from("/sys/fs/cgroup/cgroup.procs"));
    let engine = Engine::new(os.clone());
    let err = engine
        .prepare(&config_in(Path::new("/sys/fs/cgroup/b")))
        .unwrap_err();
    match &err {
        Error::CannotMigrate {
            common_ancestor, ..
        } => {
            assert_eq!(common_ancestor, Path::new("/sys/fs/cgroup"))
        }
        other => panic!("{other:?}"),
    }
    // A sibling under the caller's delegated subtree is fine.
    assert!(
        engine
            .prepare(&config_in(Path::new("/sys/fs/cgroup/a")))
            .unwrap()
            .cgroup
            .is_some()
    );

    // Not a cgroup2 directory.
    let (os, engine) = fake_v2();
    os.put("/tmp/notcg/x", "");
    let err = engine
        .prepare(&config_in(Path::new("/tmp/notcg")))
        .unwrap_err();
    assert!(matches!(err, Error::NotCgroup2 { .. }), "{err:?}");
}

#[test]
fn missing_interface_files() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    os.lock().no_files.insert("memory.swap.max".into());
    // The implicit swap limit is a default: skipped and reported.
    let cg = engine
        .prepare(&Config {
            memory_max: Some(1 << 20),
            ..config_in(&pool)
        })
        .unwrap()
        .cgroup
        .unwrap();
    let r = cg.report();
    assert!(r.fully_applied());
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].kind, LimitKind::MemorySwapMax);
    assert!(!r.skipped[0].requested);
    drop(cg);
    // An explicit one is a hard requirement.
    let err = engine
        .prepare(&Config {
            memory_max: Some(1 << 20),
            swap_max: Some(1 << 20),
            ..config_in(&pool)
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InterfaceMissing {
                limit: LimitKind::MemorySwapMax,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        cgroup_dirs(&os, &pool).is_empty(),
        "failed prepare leaves nothing"
    );
}

#[test]
fn rejected_value_is_typed_and_leaks_nothing() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    os.lock().reject.insert("io.max".into(), libc::ENODEV);
    let mut rule = IoMaxRule::new(259, 1);
    rule.rbps = Some(1 << 20);
    let err = engine
        .prepare(&Config {
            io_max: vec![rule],
            ..config_in(&pool)
        })
        .unwrap_err();
    match &err {
        Error::LimitRejected { limit, source, .. } => {
            assert_eq!(*limit, LimitKind::IoMax);
            assert_eq!(source.raw_os_error(), Some(libc::ENODEV));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("failed to set io.max in /sys/fs/cgroup/pool/stockade-")
    );
    assert!(cgroup_dirs(&os, &pool).is_empty());
}

#[test]
fn controller_disabled_behind_our_back_is_re_enabled() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    let config = Config {
        pids_max: Some(7),
        ..config_in(&pool)
    };
    engine
        .prepare(&config)
        .unwrap()
        .cgroup
        .unwrap()
        .remove()
        .unwrap();
    os.put(pool.join("cgroup.subtree_control"), "\n");
    let cg = engine.prepare(&config).unwrap().cgroup.unwrap();
    assert_eq!(os.get(cg.path().join("pids.max")).trim(), "7");
}

#[test]
fn stale_cgroups_are_cleaned_and_live_ones_kept() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    {
        let mut st = os.lock();
        st.alive.insert(500, 10); // alive creator
        st.alive.insert(501, 99); // pid reused by another process
    }
    os.cgroup("/sys/fs/cgroup/pool/stockade-500-10-0", &[]);
    os.cgroup("/sys/fs/cgroup/pool/stockade-501-10-3", &[]);
    os.cgroup("/sys/fs/cgroup/pool/stockade-502-10-1", &[]);
    os.cgroup("/sys/fs/cgroup/pool/stockade-502-10-1/sandbox", &[31337]);
    os.cgroup("/sys/fs/cgroup/pool/stockade-503-10-0", &[]);
    os.cgroup("/sys/fs/cgroup/pool/stockade-not-a-name", &[]);
    os.cgroup("/sys/fs/cgroup/pool/other", &[]);
    // Someone (another namespace's creator) holds this one.
    let held = os.open_dir_for_test("/sys/fs/cgroup/pool/stockade-503-10-0");
    let _held = nix::fcntl::Flock::lock(held, nix::fcntl::FlockArg::LockExclusiveNonblock).unwrap();
    let cg = engine
        .prepare(&Config {
            pids_max: Some(3),
            ..config_in(&pool)
        })
        .unwrap()
        .cgroup
        .unwrap();
    let mut left = cgroup_dirs(&os, &pool);
    left.retain(|n| n != cg.path().file_name().unwrap().to_str().unwrap());
    assert_eq!(
        left,
        [
            "other",
            "stockade-500-10-0",
            "stockade-503-10-0",
            "stockade-not-a-name"
        ]
    );
    assert!(
        os.lock().killed.contains(&31337),
        "stale sandbox processes are killed"
    );
}

#[test]
fn names_round_trip_and_reject_lookalikes() {
    let n = Name {
        pid: 12,
        start: 3456,
        n: 7,
    };
    assert_eq!(n.format(), "stockade-12-3456-7");
    assert_eq!(Name::parse("stockade-12-3456-7"), Some(n));
    for bad in [
        "stockade-12-3456",
        "stockade-12-3456-7-8",
        "stockade--3456-7",
        "stockade-a-1-2",
        "stockade-1-2-+3",
        "xstockade-1-2-3",
        "stockade-99999999999-1-2",
    ] {
        assert_eq!(Name::parse(bad), None, "{bad}");
    }
}

#[test]
fn kill_loop_without_cgroup_kill() {
    let os = Arc::new(FakeOs::v2("/app"));
    os.cgroup("/sys/fs/cgroup/app", &[4242]);
    os.lock().no_files.insert("cgroup.kill".into());
    let engine = Engine::new(os.clone());
    let pool = with_pool(&os);
    let cg = engine.prepare(&config_in(&pool)).unwrap().cgroup.unwrap();
    os.put(cg.leaf_path().join("cgroup.procs"), "100\n101\n");
    os.cgroup(cg.leaf_path().join("inner").to_str().unwrap(), &[102]);
    assert!(cg.is_populated().unwrap());
    cg.kill().unwrap();
    cg.wait_empty(Duration::from_secs(1)).unwrap();
    let mut killed = os.lock().killed.clone();
    killed.sort();
    assert_eq!(killed, [100, 101, 102]);
    assert_eq!(
        os.get(cg.path().join("cgroup.freeze")).trim(),
        "0",
        "thawed after"
    );
    let dir = cg.path().to_owned();
    cg.remove().unwrap();
    assert!(!os.exists(dir), "nested cgroups are removed too");
}

#[test]
fn forced_kill_loop_with_cgroup_kill_present() {
    let os = Arc::new(FakeOs::v2("/app"));
    os.cgroup("/sys/fs/cgroup/app", &[4242]);
    let engine = Engine::new(os.clone()).with_kill_loop();
    let pool = with_pool(&os);
    let cg = engine.prepare(&config_in(&pool)).unwrap().cgroup.unwrap();
    os.put(cg.leaf_path().join("cgroup.procs"), "300\n");
    super::handle::kill(&*os, &cg.at, true).unwrap();
    assert_eq!(os.lock().killed, [300]);
}

#[test]
fn wait_empty_times_out_with_a_typed_error() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    let cg = engine.prepare(&config_in(&pool)).unwrap().cgroup.unwrap();
    os.cgroup(cg.leaf_path().to_str().unwrap(), &[55]);
    let err = cg.wait_empty(Duration::from_millis(30)).unwrap_err();
    assert!(matches!(err, Error::StillPopulated { .. }), "{err:?}");
    assert!(err.to_string().starts_with("failed to empty cgroup"));
}

#[test]
fn failed_teardown_is_retried_by_the_next_prepare() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    let cg = engine.prepare(&config_in(&pool)).unwrap().cgroup.unwrap();
    let dir = cg.path().to_owned();
    os.cgroup(cg.leaf_path().to_str().unwrap(), &[77]);
    os.lock().reject.insert("cgroup.kill".into(), libc::EPERM);
    drop(cg); // cannot kill: left for later, no panic
    assert!(os.exists(&dir));
    os.lock().reject.clear();
    let next = engine.prepare(&config_in(&pool)).unwrap().cgroup.unwrap();
    assert!(!os.exists(&dir), "deferred removal done");
    drop(next);
}

#[test]
fn usage_is_parsed() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    let cg = engine
        .prepare(&Config {
            memory_max: Some(1 << 20),
            pids_max: Some(2),
            ..config_in(&pool)
        })
        .unwrap()
        .cgroup
        .unwrap();
    let d = cg.path().to_owned();
    os.put(d.join("memory.peak"), "1048576\n");
    os.put(
        d.join("memory.events"),
        "low 0\nhigh 2\nmax 9\noom 1\noom_kill 1\noom_group_kill 1\n",
    );
    os.put(d.join("pids.events"), "max 4\n");
    os.put(
        d.join("cpu.stat"),
        "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n",
    );
    let u = cg.finish(Duration::from_secs(1)).unwrap();
    assert_eq!(u.memory_peak, Some(1 << 20));
    let ev = u.memory_events.unwrap();
    assert_eq!(
        (ev.high, ev.max, ev.oom, ev.oom_kill, ev.oom_group_kill),
        (2, 9, 1, 1, Some(1))
    );
    assert!(u.oom_killed());
    assert_eq!(u.pids_max_events, Some(4));
    let cpu = u.cpu.unwrap();
    assert_eq!(
        (cpu.usage_usec, cpu.user_usec, cpu.system_usec),
        (1500, 1000, 500)
    );
    assert_eq!(cpu.nr_throttled, None);
    assert!(!os.exists(&d));
}

#[test]
fn usage_without_memory_peak_is_none() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    os.lock().no_files.insert("memory.peak".into());
    let cg = engine
        .prepare(&Config {
            memory_max: Some(1 << 20),
            ..config_in(&pool)
        })
        .unwrap()
        .cgroup
        .unwrap();
    let u = cg.usage().unwrap();
    assert_eq!(u.memory_peak, None);
    assert_eq!(u.memory_current, Some(0));
    assert!(!u.oom_killed());
}

#[test]
fn many_cycles_leave_nothing_behind() {
    let (os, engine) = fake_v2();
    let pool = with_pool(&os);
    let config = Config {
        memory_max: Some(1 << 20),
        pids_max: Some(8),
        ..config_in(&pool)
    };
    for i in 0..200 {
        let cg = engine.prepare(&config).unwrap().cgroup.unwrap();
        if i % 2 == 0 {
            cg.remove().unwrap();
        } else {
            drop(cg);
        }
    }
    assert!(cgroup_dirs(&os, &pool).is_empty());
}

#[test]
fn error_messages_are_lowercase_failed_to() {
    let errors = [
        Error::NoCgroup2,
        Error::Unsupported {
            controller: Controller::Pids,
            parent: "/p".into(),
            reason: Unavailable::NoInternalProcesses,
        },
        Error::OwnCgroupNotVisible {
            own: "/../x".into(),
        },
        Error::NotCgroup2 {
            path: "/tmp".into(),
        },
        Error::TooManyCgroups {
            parent: "/p".into(),
            source: std::io::Error::from_raw_os_error(libc::EAGAIN),
        },
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(msg.starts_with("failed to "), "{msg}");
        assert!(
            !msg.contains("Resource temporarily"),
            "cause is in source(): {msg}"
        );
    }
}
