//! stockade inside a container shaped like a Kubernetes pod's: runc (Debian's
//! package) with the container runtime's default capabilities, masked and
//! read-only /proc paths, a read-only root, and a default seccomp profile:
//! Debian's containers-common profile (podman's default) as shipped, or
//! narrowed the way Docker's and containerd's default narrow namespaces for
//! a container without CAP_SYS_ADMIN (a pod's `RuntimeDefault`); with and
//! without a user namespace (`hostUsers: false`); as root and as uid 1000
//! inside. tests/pod/bundle.py writes each bundle.
//!
//! Strict isolation (the default) must fail with the real cause and the way
//! out; `--isolation best-available` must run on the strongest rung the pod
//! allows, say which, and still keep the program from /etc/shadow, from
//! writing outside its workspace, from the network and from unshare.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

/// The profile a pod gets.
#[derive(Clone, Copy, Debug)]
enum Profile {
    /// Debian's containers-common seccomp.json as shipped.
    Podman,
    /// The same narrowed as Docker's default: namespaces refused.
    Kubernetes,
    /// The Localhost profile docs/kubernetes/seccomp_profile.py writes
    /// from the Kubernetes one: namespaces allowed.
    Documented,
}

struct Pod {
    profile: Profile,
    userns: bool,
    uid: u32,
    /// `procMount: Unmasked`: no masked /proc paths.
    unmasked_proc: bool,
}

/// runc and the containers-common profile, installed by the test set-up;
/// `None` (a reported skip) where they cannot be.
fn runtime() -> Option<(PathBuf, PathBuf)> {
    let runc = common::debian_package("runc", "runc")?;
    let profile = PathBuf::from("/usr/share/containers/seccomp.json");
    if !profile.exists() {
        // The package that ships the profile has no command to look for.
        common::apt_install("golang-github-containers-common");
    }
    if !profile.exists() {
        common::skip(
            "Debian's golang-github-containers-common (its seccomp.json) is not installed",
        );
        return None;
    }
    Some((runc, profile))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Pod {
    /// Runs `script` under `sh -c` as the pod's process, with the stockade
    /// binary at /stockade/stockade and a writable workspace at /work.
    fn run(&self, runc: &Path, profile: &Path, script: &str) -> (Output, PathBuf) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = tempfile::tempdir_in("/tmp").unwrap();
        let bundle = dir.path().join("bundle");
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        std::fs::set_permissions(&work, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let bin = common::cli_binary();
        let bin_dir = bin.parent().unwrap();
        let mut bundler = std::process::Command::new("python3");
        bundler
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pod/bundle.py"))
            .arg(&bundle)
            .arg("--bin")
            .arg(bin_dir)
            .arg("--tmp")
            .arg(&work)
            .arg("--uid")
            .arg(self.uid.to_string())
            .arg("--seccomp")
            .arg(profile);
        if matches!(self.profile, Profile::Kubernetes | Profile::Documented) {
            bundler.arg("--docker-style");
        }
        if matches!(self.profile, Profile::Documented) {
            bundler.arg("--allow-namespaces");
        }
        if self.unmasked_proc {
            bundler.arg("--unmasked-proc");
        }
        if self.userns {
            bundler.arg("--userns");
            // The mapped root (host uid 100000) must reach the workspace.
            nix::unistd::chown(
                &work,
                Some(nix::unistd::Uid::from_raw(100000 + self.uid)),
                None,
            )
            .unwrap();
        }
        let status = bundler
            .args(["--", "/bin/sh", "-c", script])
            .status()
            .unwrap();
        assert!(status.success(), "bundle.py failed");
        let id = format!(
            "stockade-pod-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let out = std::process::Command::new("timeout")
            .arg("120")
            .arg(runc)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let _ = std::process::Command::new(runc)
            .args(["delete", "--force", &id])
            .output();
        // The workspace outlives the container for the caller to look at.
        let kept = dir.keep();
        (out, kept.join("work"))
    }
}

/// The probes the program runs in the sandbox: each line it prints is a
/// protection that did not hold (or, for the workspace, one that did).
const PROBES: &str = r#"
cat /etc/shadow >/dev/null 2>&1 && echo "BREACH shadow readable"
echo ok > /work/ws && echo "workspace written"
( echo x > /etc/probe ) 2>/dev/null && echo "BREACH etc written"
( echo x > /tmp/probe ) 2>/dev/null
unshare -U true 2>/dev/null && echo "BREACH unshare worked"
python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM); print("inet socket")' 2>/dev/null
echo "interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
"#;

/// What the pod's process runs: stockade with `options` around the probes,
/// then whether the sandbox's /tmp write reached the pod's /tmp.
fn script(options: &str) -> String {
    format!(
        "/stockade/stockade {options} --bind /work /work --json -- sh -c '{}'; rc=$?; \
         test -e /tmp/probe && echo 'BREACH tmp write reached the pod'; echo \"rc=$rc\"",
        PROBES.replace('\'', "'\\''")
    )
}

/// The report's `"rung":"..."`.
fn rung(stderr: &str) -> Option<String> {
    let line = stderr.lines().rev().find(|l| l.starts_with('{'))?;
    let at = line.find("\"rung\":\"")? + 8;
    Some(line[at..].split('"').next()?.to_owned())
}

fn check_pod(pod: &Pod, runc: &Path, profile: &Path, strict_says: &[&str], want_rung: &str) {
    let what = format!(
        "{:?} profile, user namespace: {}, uid {}",
        pod.profile, pod.userns, pod.uid
    );
    // Strict: the real cause and the way out, exit 125.
    let (out, _) = pod.run(runc, profile, &script(""));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("rc=125"),
        "{what}: strict ran: {stdout}\n{stderr}"
    );
    let first = stderr.lines().next().unwrap_or_default();
    for want in strict_says.iter().chain(&["--isolation best-available"]) {
        assert!(
            first.contains(want),
            "{what}: strict says {want:?}: {stderr}"
        );
    }

    // Best available: runs, on the rung expected, and the probes hold.
    let (out, work) = pod.run(runc, profile, &script("--isolation best-available"));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.contains("rc=0"), "{what}: {stdout}\n{stderr}");
    assert_eq!(
        rung(&stderr).as_deref(),
        Some(want_rung),
        "{what}: {stderr}"
    );
    assert!(
        stderr.contains("\"refused\":[{\"rung\":\"namespaces\""),
        "{what}: the report says why the full sandbox did not hold: {stderr}"
    );
    assert!(stdout.contains("workspace written"), "{what}: {stdout}");
    assert_eq!(std::fs::read_to_string(work.join("ws")).unwrap(), "ok\n");
    assert!(!stdout.contains("BREACH"), "{what}: {stdout}\n{stderr}");
    if want_rung == "confinement" {
        assert!(!stdout.contains("inet socket"), "{what}: sockets: {stdout}");
    } else {
        // Its own network namespace: loopback only.
        assert!(stdout.contains("interfaces: lo \n"), "{what}: {stdout}");
    }
    let _ = std::fs::remove_dir_all(work.parent().unwrap());
}

/// Each identity and user-namespace variant of a pod with `profile` and the
/// runtime's masked /proc: strict says `strict_says`, best-available holds
/// on `rung`.
fn every_variant_steps_down(profile: Profile, strict_says: &[&str], rung: &str) {
    if !common::is_root() {
        return common::skip("runc needs root");
    }
    let Some((runc, seccomp)) = runtime() else {
        return;
    };
    for (userns, uid) in [(false, 0), (false, 1000), (true, 0)] {
        let pod = Pod {
            profile,
            userns,
            uid,
            unmasked_proc: false,
        };
        check_pod(&pod, &runc, &seccomp, strict_says, rung);
    }
}

/// podman's default profile lets namespaces be made, but its masked /proc
/// paths keep the kernel from mounting a fresh /proc: the pid namespace
/// is what gives way.
#[test]
#[cfg_attr(stockade_vm, ignore = "runs runc (Debian's package) on the host")]
fn podman_default_profile_steps_down_to_the_hosts_proc() {
    every_variant_steps_down(
        Profile::Podman,
        &["failed to mount a fresh /proc", "mounted over: /proc/"],
        "host_proc",
    );
}

/// A pod's RuntimeDefault profile refuses namespaces outright: the
/// diagnosis names the caller's seccomp filter, and the sandbox steps down
/// to confinement without namespaces.
#[test]
#[cfg_attr(stockade_vm, ignore = "runs runc (Debian's package) on the host")]
fn kubernetes_default_profile_steps_down_to_confinement() {
    every_variant_steps_down(
        Profile::Kubernetes,
        &[
            "failed to create a user namespace",
            "a seccomp filter on this process refuses namespace creation",
        ],
        "confinement",
    );
}

/// The pod docs/kubernetes.md recommends (a user namespace, the Localhost
/// seccomp profile docs/kubernetes/seccomp_profile.py writes, procMount
/// Unmasked) runs the full sandbox, strict; with the runtime's masked
/// /proc it steps down only to the host's /proc.
#[test]
#[cfg_attr(stockade_vm, ignore = "runs runc (Debian's package) on the host")]
fn the_documented_pod_runs_every_namespace() {
    if !common::is_root() {
        return common::skip("runc needs root");
    }
    let Some((runc, profile)) = runtime() else {
        return;
    };
    for uid in [0, 1000] {
        let pod = Pod {
            profile: Profile::Documented,
            userns: true,
            uid,
            unmasked_proc: true,
        };
        let what = format!("documented pod, uid {uid}");
        let (out, work) = pod.run(&runc, &profile, &script("--uid 0 --as-pid-1"));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(stdout.contains("rc=0"), "{what}: {stdout}\n{stderr}");
        assert_eq!(
            rung(&stderr).as_deref(),
            Some("namespaces"),
            "{what}: {stderr}"
        );
        assert!(stderr.contains("\"mode\":\"strict\""), "{what}: {stderr}");
        assert!(stdout.contains("workspace written"), "{what}: {stdout}");
        assert!(!stdout.contains("BREACH"), "{what}: {stdout}\n{stderr}");
        assert!(stdout.contains("interfaces: lo \n"), "{what}: {stdout}");
        let _ = std::fs::remove_dir_all(work.parent().unwrap());

        let masked = Pod {
            unmasked_proc: false,
            ..pod
        };
        check_pod(
            &masked,
            &runc,
            &profile,
            &["failed to mount a fresh /proc"],
            "host_proc",
        );
    }
}
