//! OCI runtime bundles made by `runc spec` (Debian's runc) with a
//! busybox-static root filesystem, run through `stockade::oci::Bundle`;
//! and the fields stockade cannot lower, each refused naming its JSON path.

mod common;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use stockade::oci::{Bundle, Error};

/// The busybox applets the probes use.
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "id", "hostname", "pwd", "touch", "ls", "dmesg", "swapoff", "grep", "wc",
    "cut",
];

/// A bundle directory with `runc spec` (`--rootless` when asked)'s
/// config.json, with a busybox-static root beside it; `None` (a reported
/// skip) where runc or busybox-static cannot be had.
fn runc_bundle(rootless: bool) -> Option<(tempfile::TempDir, Value)> {
    let runc = common::debian_package("runc", "runc")?;
    let busybox = PathBuf::from("/bin/busybox");
    if !is_static(&busybox) && common::is_root() {
        common::apt_install("busybox-static");
    }
    if !is_static(&busybox) {
        common::skip("busybox-static is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut spec = std::process::Command::new(runc);
    spec.arg("spec").current_dir(dir.path());
    if rootless {
        spec.arg("--rootless");
    }
    let st = spec.status().expect("run runc spec");
    assert!(st.success(), "runc spec failed");
    let root = dir.path().join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp", "work", "etc"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(&busybox, root.join("bin/busybox")).unwrap();
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    std::fs::write(root.join("etc/secret"), "hidden\n").unwrap();
    let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    let mut config: Value = serde_json::from_str(&text).unwrap();
    config["process"]["terminal"] = json!(false);
    Some((dir, config))
}

fn is_static(p: &Path) -> bool {
    // A static binary has no program interpreter: no PT_INTERP (3) among
    // its ELF64 program headers.
    let Ok(b) = std::fs::read(p) else {
        return false;
    };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).all(|i| {
        let o = phoff + i * size;
        b.get(o..o + 4) != Some(&3u32.to_le_bytes()[..])
    })
}

fn write(dir: &Path, config: &Value) {
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(config).unwrap(),
    )
    .unwrap();
}

/// Runs the bundle's process (`sh -c script`), best-effort cgroup limits
/// (this host may have no cgroup v2 controllers): (stdout, stderr, report).
fn run(dir: &Path, config: &mut Value, script: &str) -> (String, String, stockade::Enforcement) {
    config["process"]["args"] = json!(["sh", "-c", script]);
    write(dir, config);
    let mut bundle = Bundle::load(dir).unwrap_or_else(|e| panic!("{}", common::chain(&e)));
    bundle.sandbox_mut().cgroup_mut().compat = stockade::CompatLevel::BestEffort;
    let mut cmd = bundle.command();
    cmd.stdout(stockade::Stdio::piped())
        .stderr(stockade::Stdio::piped());
    let child = bundle
        .sandbox()
        .spawn(&mut cmd)
        .unwrap_or_else(|e| panic!("spawn: {}", common::chain(&e)));
    let report = child.enforcement().clone();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{script}: {:?}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    (stdout, stderr, report)
}

/// A probe of what the process sees, one `key=value` line each.
const PROBE: &str = r#"
echo "host=$(hostname)"
echo "foo=$FOO"
echo "cwd=$(pwd)"
echo "uid=$(id -u) gid=$(id -g)"
if touch /rootfile 2>/dev/null; then echo root=writable; else echo root=readonly; fi
if cat /etc/secret >/dev/null 2>&1; then echo secret=readable; else echo secret=masked; fi
if cat /proc/kcore >/dev/null 2>&1; then echo kcore=readable; else echo kcore=masked; fi
echo "links=$(grep -c : /proc/net/dev)"
grep -q '^ *lo:' /proc/net/dev && echo lo=up
echo "nofile=$(ulimit -n)"
echo "cgroupfs=$(grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f3)"
echo "cgroupopts=$(grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f4 | cut -c1-3)"
if mkdir /sys/fs/cgroup/child 2>/dev/null; then echo cgroupdir=made; else echo cgroupdir=refused; fi
echo "sysfs=$(grep ' /sys ' /proc/mounts | cut -d' ' -f3,4 | cut -c1-8)"
echo "fuse=$(stat -c '%F %t:%T' /dev/fuse 2>&1)"
"#;

/// Parses the probe's `key=value` lines.
fn probe(out: &str) -> std::collections::BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
#[cfg_attr(stockade_vm, ignore = "needs runc (Debian's package) on the host")]
fn runc_default_spec_runs_as_root() {
    common::as_root(|| {
        let Some((dir, mut config)) = runc_bundle(false) else {
            return;
        };
        config["hostname"] = json!("oci-probe");
        config["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("FOO=bar baz"));
        config["process"]["cwd"] = json!("/work");
        config["process"]["user"] = json!({"uid": 1234, "gid": 2345});
        config["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/etc/secret"));
        config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
        // A host device node, bound at its path, and allowed.
        let fuse = Path::new("/dev/fuse").exists();
        if fuse {
            config["linux"]["devices"] =
                json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]);
            config["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(
                    json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}),
                );
        }
        let (out, err, report) = run(dir.path(), &mut config, PROBE);
        let p = probe(&out);
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        assert_eq!(get("host"), "oci-probe", "{out}{err}");
        assert_eq!(get("foo"), "bar baz");
        assert_eq!(get("cwd"), "/work");
        assert_eq!(get("uid"), "1234 gid=2345");
        assert_eq!(get("root"), "readonly");
        assert_eq!(get("secret"), "masked");
        assert_eq!(get("kcore"), "masked");
        assert_eq!(get("nofile"), "1024", "process.rlimits");
        // /proc/net/dev: two header lines carry no colon; only lo.
        assert_eq!(get("links"), "1", "{out}");
        assert_eq!(get("lo"), "up");
        // The cgroup mount: the sandbox's cgroup namespace's tree.
        assert_eq!(get("cgroupfs"), "cgroup2", "{out}");
        // runc's spec mounts it `ro`: read-only, as asked.
        assert_eq!(get("cgroupopts"), "ro,", "{out}");
        assert_eq!(get("cgroupdir"), "refused", "{out}");
        assert_eq!(get("sysfs"), "sysfs ro", "{out}");
        if fuse {
            // 10:229 in hexadecimal.
            assert_eq!(get("fuse"), "character special file a:e5", "{out}");
        }
        assert!(report.namespaces.contains(stockade::Namespaces::NET));
        assert!(!report.namespaces.contains(stockade::Namespaces::USER));
        // The memory limit: in force, or reported as what the host could
        // not enforce.
        let cg = report.cgroup.clone().expect("a cgroup report");
        assert!(
            cg.applied
                .iter()
                .any(|a| a.kind.file() == "memory.max" && a.value == (64u64 << 20).to_string())
                || cg
                    .skipped
                    .iter()
                    .any(|s| s.kind.file() == "memory.max" && s.requested),
            "{cg:?}"
        );
    });
}

#[test]
#[cfg_attr(stockade_vm, ignore = "needs runc (Debian's package) on the host")]
fn runc_rootless_spec_runs_unprivileged() {
    common::as_unprivileged(|| {
        let Some((dir, mut config)) = runc_bundle(true) else {
            return;
        };
        let me = nix::unistd::geteuid().as_raw();
        assert_eq!(
            config["linux"]["uidMappings"][0]["hostID"],
            json!(me),
            "runc spec --rootless maps the caller"
        );
        let (out, err, report) = run(
            dir.path(),
            &mut config,
            "echo uid=$(id -u); cat /proc/self/uid_map; hostname",
        );
        assert!(out.contains("uid=0\n"), "{out}{err}");
        let map: Vec<&str> = out
            .lines()
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_eq!(map, ["0", &me.to_string(), "1"], "{out}");
        assert!(out.ends_with("runc\n"), "{out}");
        assert!(report.namespaces.contains(stockade::Namespaces::USER));
        assert!(
            !report.namespaces.contains(stockade::Namespaces::NET),
            "the rootless spec has no network namespace"
        );
    });
}

/// A bundle `umoci unpack` makes from an image umoci built (Debian's
/// umoci; `--rootless` for an unprivileged caller): its runtime
/// configuration, generated from the image's entrypoint, command,
/// environment and working directory, runs as given.
#[test]
#[cfg_attr(stockade_vm, ignore = "needs umoci (Debian's package) on the host")]
fn a_bundle_unpacked_by_umoci_runs() {
    let Some(umoci) = common::debian_package("umoci", "umoci") else {
        return;
    };
    let Some(busybox) = common::debian_package("busybox", "busybox-static") else {
        return;
    };
    common::as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| common::umoci(&umoci, dir.path(), args);
        let rootless: &[&str] = if common::is_root() {
            &[]
        } else {
            &["--rootless"]
        };
        run(&["init", "--layout", "img"]);
        run(&["new", "--image", "img:1"]);
        run(&[&["unpack"][..], rootless, &["--image", "img:1", "tree"]].concat());
        let root = dir.path().join("tree/rootfs");
        for d in ["bin", "work"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy(&busybox, root.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        run(&["repack", "--image", "img:1", "tree"]);
        run(&[
            "config",
            "--image",
            "img:1",
            "--config.entrypoint",
            "/bin/sh",
            "--config.entrypoint",
            "-c",
            "--config.cmd",
            "echo \"$FOO\"; /bin/busybox id -u; /bin/busybox pwd; /bin/busybox hostname",
            "--config.env",
            "FOO=from the image",
            "--config.workingdir",
            "/work",
        ]);
        run(&[&["unpack"][..], rootless, &["--image", "img:1", "bundle"]].concat());

        let bundle_dir = dir.path().join("bundle");
        let mut bundle =
            Bundle::load(&bundle_dir).unwrap_or_else(|e| panic!("{}", common::chain(&e)));
        assert!(
            bundle.terminal(),
            "umoci's configuration asks for a terminal"
        );
        bundle.sandbox_mut().cgroup_mut().compat = stockade::CompatLevel::BestEffort;
        let mut cmd = bundle.command();
        cmd.stdout(stockade::Stdio::piped())
            .stderr(stockade::Stdio::piped());
        let out = bundle
            .sandbox()
            .spawn(&mut cmd)
            .unwrap_or_else(|e| panic!("spawn: {}", common::chain(&e)))
            .wait_with_output()
            .unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "from the image\n0\n/work\numoci-default\n"
        );
    });
}

#[cfg(feature = "seccomp")]
/// Debian's containers-common profile (Docker's format) in the OCI form,
/// resolved for `caps` on this architecture, as tests/pod/bundle.py does.
fn containers_common_profile(caps: &[&str]) -> Option<Value> {
    let profile = Path::new("/usr/share/containers/seccomp.json");
    if !profile.exists() && common::is_root() {
        common::apt_install("golang-github-containers-common");
    }
    if !profile.exists() {
        common::skip(
            "Debian's golang-github-containers-common (its seccomp.json) is not installed",
        );
        return None;
    }
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/kubernetes");
    let script = format!(
        "import json, sys\nsys.path.insert(0, {:?})\nfrom seccomp_profile import lower_seccomp\n\
         print(json.dumps(lower_seccomp({:?}, {:?})))",
        docs.to_str().unwrap(),
        profile.to_str().unwrap(),
        caps
    );
    let out = match std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
    {
        Ok(o) => o,
        Err(_) => {
            common::skip("python3 is not installed");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[cfg(feature = "seccomp")]
/// A python3 probe (from the host's /usr, bound into the bundle) of two
/// system calls with arguments the kernel would refuse with errors of its
/// own (EBADF, EFAULT/EINVAL): what a filter answers instead shows.
fn syscall_probe() -> String {
    format!(
        "import ctypes\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         for name, nr, n in (('vmsplice', {}, 4), ('io_uring_setup', {}, 2), ('setns', {}, 2)):\n\
         \x20   args = [ctypes.c_long(-1)] + [ctypes.c_long(0)] * (n - 1)\n\
         \x20   r = libc.syscall(ctypes.c_long(nr), *args)\n\
         \x20   print(name, r, ctypes.get_errno())\n",
        libc::SYS_vmsplice,
        libc::SYS_io_uring_setup,
        libc::SYS_setns
    )
}

#[cfg(feature = "seccomp")]
#[test]
#[cfg_attr(stockade_vm, ignore = "needs runc (Debian's package) on the host")]
fn containers_common_seccomp_profile_answers_with_its_errno() {
    common::as_unprivileged(|| {
        let Some((dir, mut config)) = runc_bundle(true) else {
            return;
        };
        if !Path::new("/usr/bin/python3").exists() {
            return common::skip("python3 is not installed");
        }
        let caps: Vec<String> = config["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
        let Some(profile) = containers_common_profile(&caps) else {
            return;
        };
        assert_eq!(profile["defaultErrnoRet"], json!(libc::ENOSYS));
        // The host's /usr for python3 (and /lib, /lib64 as links into it,
        // as on a merged-/usr system).
        let root = dir.path().join("rootfs");
        std::fs::create_dir(root.join("usr")).unwrap();
        for l in ["lib", "lib64"] {
            std::os::unix::fs::symlink(format!("usr/{l}"), root.join(l)).unwrap();
        }
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/usr", "type": "bind", "source": "/usr",
            "options": ["rbind", "ro", "nosuid", "nodev"]
        }));
        config["linux"]["seccomp"] = profile;
        let probe = syscall_probe();
        let script = "/usr/bin/python3 -c \"$PROBE\"";
        config["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!(format!("PROBE={probe}")));
        let (out, err, report) = run(dir.path(), &mut config, script);
        // vmsplice is in the profile's EPERM list; io_uring_setup is
        // listed nowhere, so the profile's default answers (ENOSYS); setns
        // is allowed by the profile's first rule for it and refused with
        // EPERM by a later one (without CAP_SYS_ADMIN): the first decides,
        // as under runc, and the kernel answers the bad descriptor.
        assert_eq!(
            out,
            format!(
                "vmsplice -1 {}\nio_uring_setup -1 {}\nsetns -1 {}\n",
                libc::EPERM,
                libc::ENOSYS,
                libc::EBADF
            ),
            "{err}"
        );
        assert!(report.seccomp.is_some());

        // Without linux.seccomp stockade's default profile stays: it allows
        // vmsplice (the kernel's EBADF) and refuses io_uring and setns
        // with EPERM.
        config["linux"].as_object_mut().unwrap().remove("seccomp");
        let (out, err, _) = run(dir.path(), &mut config, script);
        assert_eq!(
            out,
            format!(
                "vmsplice -1 {}\nio_uring_setup -1 {}\nsetns -1 {}\n",
                libc::EBADF,
                libc::EPERM,
                libc::EPERM
            ),
            "{err}"
        );
    });
}

/// Sets the value at a JSON pointer, creating objects on the way.
fn set(config: &mut Value, pointer: &str, v: Value) {
    let mut cur = config;
    for part in pointer.trim_start_matches('/').split('/') {
        cur = match cur {
            Value::Array(a) => &mut a[part.parse::<usize>().unwrap()],
            other => other
                .as_object_mut()
                .unwrap()
                .entry(part.to_owned())
                .or_insert(json!({})),
        };
    }
    *cur = v;
}

#[test]
fn unsupported_fields_are_refused_naming_their_json_path() {
    let Some((dir, config)) = runc_bundle(false) else {
        return;
    };
    let d = dir.path();
    // The unmutated default lowers (a root caller's policy; an unprivileged
    // caller cannot make its namespaces without a user namespace).
    if common::is_root() {
        Bundle::from_json(d, &config.to_string()).unwrap_or_else(|e| panic!("{e}"));
    }
    type Mutation = (&'static str, Value, &'static str);
    let table: Vec<Mutation> = vec![
        (
            "/hooks",
            json!({"prestart": [{"path": "/bin/true"}]}),
            "hooks",
        ),
        (
            "/linux/sysctl",
            json!({"net.ipv4.ip_forward": "1"}),
            "linux.sysctl",
        ),
        (
            "/linux/resources/blockIO",
            json!({"weight": 10}),
            "linux.resources.blockIO",
        ),
        ("/mounts/3/type", json!("nfs"), "mounts[3].type"),
        (
            "/linux/namespaces/1/path",
            json!("/proc/1/ns/net"),
            "linux.namespaces[1].path",
        ),
        (
            "/process/apparmorProfile",
            json!("docker-default"),
            "process.apparmorProfile",
        ),
        ("/process/selinuxLabel", json!("x"), "process.selinuxLabel"),
        ("/process/oomScoreAdj", json!(100), "process.oomScoreAdj"),
        ("/process/user/umask", json!(18), "process.user.umask"),
        (
            "/process/user/additionalGids",
            json!([0, 10]),
            "process.user.additionalGids[1]",
        ),
        ("/domainname", json!("example"), "domainname"),
        ("/frobnicate", json!(true), "frobnicate"),
        ("/linux/frobnicate", json!(1), "linux.frobnicate"),
        ("/ociVersion", json!("2.0.0"), "ociVersion"),
        ("/linux/cgroupsPath", json!("/a/b"), "linux.cgroupsPath"),
        (
            "/linux/rootfsPropagation",
            json!("shared"),
            "linux.rootfsPropagation",
        ),
        ("/linux/mountLabel", json!("x"), "linux.mountLabel"),
        ("/linux/intelRdt", json!({"closID": "x"}), "linux.intelRdt"),
        (
            "/linux/personality",
            json!({"domain": "LINUX32"}),
            "linux.personality",
        ),
        (
            "/linux/devices",
            json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 230}]),
            "linux.devices[0]",
        ),
        (
            "/linux/resources/devices/0",
            json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}),
            "linux.resources.devices[0]",
        ),
        (
            "/linux/resources/hugepageLimits",
            json!([{"pageSize": "2MB", "limit": 1}]),
            "linux.resources.hugepageLimits",
        ),
        (
            "/linux/resources/unified",
            json!({"io.weight": "10"}),
            "linux.resources.unified",
        ),
        (
            "/mounts/2/options/0",
            json!("shared"),
            "mounts[2].options[0]",
        ),
        (
            "/mounts/0/destination",
            json!("/elsewhere"),
            "mounts[0].destination",
        ),
        (
            "/linux/namespaces/0/type",
            json!("bogus"),
            "linux.namespaces[0].type",
        ),
        (
            "/process/capabilities/ambient",
            json!(["CAP_KILL"]),
            "process.capabilities.ambient",
        ),
        (
            "/process/capabilities/effective",
            json!(["CAP_SYS_ADMIN"]),
            "process.capabilities.effective",
        ),
        (
            "/process/capabilities/bounding/0",
            json!("CAP_SYS_PTRACE"),
            "process.capabilities.bounding[0]",
        ),
        (
            "/process/capabilities/permitted/1",
            json!("CAP_NOT_A_THING"),
            "process.capabilities.permitted[1]",
        ),
        (
            "/process/rlimits/0/type",
            json!("RLIMIT_BOGUS"),
            "process.rlimits[0].type",
        ),
        (
            "/linux/seccomp",
            json!({"defaultAction": "SCMP_ACT_NOTIFY"}),
            "linux.seccomp.defaultAction",
        ),
        (
            "/linux/seccomp",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            "/linux/seccomp",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]}),
            "linux.seccomp.flags",
        ),
        ("/vm", json!({"hypervisor": {"path": "/x"}}), "vm"),
        (
            "/process/scheduler",
            json!({"policy": "SCHED_FIFO"}),
            "process.scheduler",
        ),
    ];
    let mut checked = 0;
    for (pointer, value, want) in table {
        let mut c = config.clone();
        set(&mut c, pointer, value.clone());
        // Without the seccomp feature any filter is refused as a whole.
        let want = if cfg!(feature = "seccomp") || !want.starts_with("linux.seccomp") {
            want
        } else {
            "linux.seccomp"
        };
        match Bundle::from_json(d, &c.to_string()) {
            Err(Error::Unsupported { path, value: v, .. }) => {
                assert_eq!(path, want, "{pointer} = {value}");
                assert!(!v.is_empty());
            }
            Err(e) => panic!("{pointer} = {value}: not Unsupported: {e}"),
            Ok(_) => panic!("{pointer} = {value}: accepted"),
        }
        checked += 1;
    }
    assert!(checked >= 30);

    // Wrong JSON types and malformed JSON name the bad value's path.
    for (text, want) in [
        (
            config
                .to_string()
                .replacen("\"terminal\":false", "\"terminal\":\"no\"", 1),
            "process.terminal",
        ),
        (
            r#"{"ociVersion": "1.0.2", "process": {"args": ["sh", }}"#.to_owned(),
            "process.args[1]",
        ),
        (
            r#"{"ociVersion": "1.0.2", "root": {"path": 7}}"#.to_owned(),
            "root.path",
        ),
    ] {
        match Bundle::from_json(d, &text) {
            Err(Error::Json { path, .. }) => assert_eq!(path, want, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn bad_bundles_are_refused_naming_what_is_wrong() {
    let Some((dir, config)) = runc_bundle(false) else {
        return;
    };
    let d = dir.path();
    // No config.json.
    let empty = tempfile::tempdir().unwrap();
    match Bundle::load(empty.path()) {
        Err(Error::Read { path, source }) => {
            assert_eq!(path, empty.path().join("config.json"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    // A root that is not there.
    let mut c = config.clone();
    c["root"]["path"] = json!("no-such-rootfs");
    match Bundle::from_json(d, &c.to_string()) {
        Err(e @ Error::Invalid { .. }) => {
            assert_eq!(e.json_path(), Some("root.path"));
            assert!(e.to_string().contains("no-such-rootfs"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // No program.
    for args in [json!([]), Value::Null] {
        let mut c = config.clone();
        c["process"]["args"] = args;
        match Bundle::from_json(d, &c.to_string()) {
            Err(Error::Invalid { path, .. }) => assert_eq!(path, "process.args"),
            other => panic!("{other:?}"),
        }
    }
    // Required sections.
    for (key, want) in [
        ("root", "root"),
        ("process", "process"),
        ("ociVersion", "ociVersion"),
    ] {
        let mut c = config.clone();
        c.as_object_mut().unwrap().remove(key);
        match Bundle::from_json(d, &c.to_string()) {
            Err(Error::Invalid { path, .. }) => assert_eq!(path, want),
            other => panic!("{key}: {other:?}"),
        }
    }
    // An environment entry without '='.
    let mut c = config.clone();
    c["process"]["env"] = json!(["PATH=/bin", "BROKEN"]);
    match Bundle::from_json(d, &c.to_string()) {
        Err(Error::Invalid { path, .. }) => assert_eq!(path, "process.env[1]"),
        other => panic!("{other:?}"),
    }
}
