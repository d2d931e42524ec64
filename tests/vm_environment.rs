//! Checks the kernel environment that the VM test matrix (`tests/vm/run`)
//! promises to every test binary: a delegated cgroup v2 subtree with the
//! memory, pids, cpu and io controllers, unprivileged user namespaces and
//! Landlock.
//!
//! The cgroup subtree and the kernel label exist only in the VM: those tests
//! are ignored elsewhere. User namespaces and Landlock may be missing on a
//! host: there a missing one prints `SKIPPED: <reason>` on stderr, and with
//! `STOCKADE_REQUIRE_ALL_FEATURES=1` (set by the VM runner) it fails the test.

mod common;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Reports a missing kernel feature: a failure when all features are
/// required, a loud skip otherwise.
#[track_caller]
fn missing(feature: &str, reason: &str) {
    common::skip(&format!("{feature}: {reason}"));
}

/// The file system type mounted at `mount_point`, from /proc/self/mountinfo.
fn fs_type_at(mount_point: &str) -> io::Result<Option<String>> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    // Fields: id parent major:minor root mount-point options [optional...] - type source super-options.
    // The last mount at a point is the visible one.
    Ok(info
        .lines()
        .filter(|line| line.split(' ').nth(4) == Some(mount_point))
        .filter_map(|line| line.split(" - ").nth(1)?.split(' ').next())
        .next_back()
        .map(str::to_owned))
}

/// Removes a cgroup directory when dropped, so that a failed assertion does
/// not leave it behind.
struct CgroupDir(PathBuf);

impl Drop for CgroupDir {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = fs::remove_dir(&self.0);
        }
    }
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs a delegated cgroup v2 subtree; tests/vm/run runs it"
)]
fn delegated_cgroup_v2_subtree() {
    let parent = common::delegated_cgroup();
    let fs_type = fs_type_at("/sys/fs/cgroup").expect("read /proc/self/mountinfo");
    assert_eq!(
        fs_type.as_deref(),
        Some("cgroup2"),
        "/sys/fs/cgroup is not a cgroup2 mount"
    );
    assert!(
        parent.starts_with("/sys/fs/cgroup"),
        "STOCKADE_TEST_CGROUP_PARENT={} is outside /sys/fs/cgroup",
        parent.display()
    );

    // This process sits in the runner leaf, below the delegated subtree.
    if let Some(runner) = std::env::var_os("STOCKADE_TEST_CGROUP_RUNNER").map(PathBuf::from) {
        assert_eq!(runner.parent(), Some(parent.as_path()));
        let own = fs::read_to_string("/proc/self/cgroup").expect("read /proc/self/cgroup");
        let own = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup v2 entry in /proc/self/cgroup");
        assert_eq!(
            Path::new("/sys/fs/cgroup").join(own.trim_start_matches('/')),
            runner
        );
    }

    // Create a child the way a sandbox would, check that the controllers are
    // available in it and that a limit can be written, then remove it.
    let child = CgroupDir(parent.join(format!("vm-environment-{}", std::process::id())));
    fs::create_dir(&child.0)
        .unwrap_or_else(|e| panic!("failed to create {}: {e}", child.0.display()));
    let controllers =
        fs::read_to_string(child.0.join("cgroup.controllers")).expect("read cgroup.controllers");
    let controllers: Vec<&str> = controllers.split_whitespace().collect();
    for wanted in ["memory", "pids", "cpu", "io"] {
        assert!(
            controllers.contains(&wanted),
            "controller {wanted} is not available under {}: {controllers:?}",
            parent.display()
        );
    }
    fs::write(child.0.join("pids.max"), "16").expect("write pids.max");
    assert_eq!(
        fs::read_to_string(child.0.join("pids.max"))
            .expect("read pids.max")
            .trim(),
        "16"
    );
    fs::remove_dir(&child.0)
        .unwrap_or_else(|e| panic!("failed to remove {}: {e}", child.0.display()));
}

#[test]
fn unprivileged_user_namespace() {
    // In a subprocess: entering a user namespace is irreversible.
    let out = match Command::new("unshare")
        .args(["--user", "--map-root-user", "id", "-u"])
        .output()
    {
        Ok(out) => out,
        Err(e) => return missing("user namespaces", &format!("cannot run unshare: {e}")),
    };
    if !out.status.success() {
        return missing(
            "user namespaces",
            &format!(
                "unshare --user failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "uid inside the namespace"
    );
}

#[test]
fn landlock_abi() {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;
    // SAFETY: with a null attribute pointer, size 0 and only the VERSION flag,
    // landlock_create_ruleset reads no memory and returns the ABI version.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0_usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if abi < 1 {
        let err = io::Error::last_os_error();
        return missing(
            "Landlock",
            &format!("landlock_create_ruleset version query: {err}"),
        );
    }
    eprintln!("landlock ABI version {abi}");
}

#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs the test VM's kernel; tests/vm/run runs it"
)]
fn vm_kernel_label_matches() {
    let label = common::vm_kernel();
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").expect("read osrelease");
    assert!(
        release.starts_with(&format!("{label}.")),
        "STOCKADE_VM_KERNEL={label} but the kernel is {}",
        release.trim()
    );
}
