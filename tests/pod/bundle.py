#!/usr/bin/env python3
"""Writes an OCI runtime bundle shaped like a Kubernetes pod's container.

usage: bundle.py BUNDLE_DIR --bin DIR [--userns] [--uid N] [--seccomp PROFILE]
                 [--tmp DIR] -- ARGS...

The container gets what a pod gets by default: the container runtime's
default capabilities, its masked and read-only /proc paths, a read-only
root, and (with --seccomp) a seccomp profile in the Docker/containers-common
format, lowered here to the OCI runtime form the way container engines do
(rules whose `includes`/`excludes` name capabilities or architectures are
kept only where they apply). --userns adds a user namespace (a pod with
`hostUsers: false`): uid and gid 0-65535 inside are 100000-165535 outside.

The root is an empty directory with the host's system directories bound
read-only onto it, and --bin DIR (the binaries under test) at /stockade.
"""

import argparse
import json
import os
import platform
import sys

# The capabilities containerd and CRI-O give a container by default.
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

# The paths container runtimes hide (a bind of /dev/null or an empty
# read-only tmpfs) and make read-only in the container's /proc.
MASKED = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
    "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

ARCH = {"x86_64": ("amd64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "SCMP_ARCH_AARCH64")}


def applies(cond, caps, arch):
    """Whether an includes/excludes condition holds for this container."""
    if not cond:
        return None
    hold = []
    if cond.get("caps"):
        hold.append(all(c in caps for c in cond["caps"]))
    if cond.get("arches"):
        hold.append(arch in cond["arches"])
    if cond.get("minKernel"):
        want = [int(x) for x in cond["minKernel"].split(".")[:2]]
        have = [int(x) for x in platform.release().split("-")[0].split(".")[:2]]
        hold.append(have >= want)
    return all(hold) if hold else None


def lower_seccomp(path, caps):
    """The OCI runtime form of a Docker/containers-common profile."""
    with open(path) as f:
        prof = json.load(f)
    arch, scmp_arch = ARCH[platform.machine()]
    out = {
        "defaultAction": prof["defaultAction"],
        "architectures": [scmp_arch],
        "syscalls": [],
    }
    if "defaultErrnoRet" in prof:
        out["defaultErrnoRet"] = prof["defaultErrnoRet"]
    for rule in prof["syscalls"]:
        inc = applies(rule.get("includes"), caps, arch)
        exc = applies(rule.get("excludes"), caps, arch)
        if inc is False or exc is True:
            continue
        r = {"names": rule["names"], "action": rule["action"]}
        if rule.get("errnoRet") is not None:
            r["errnoRet"] = rule["errnoRet"]
        if rule.get("args"):
            r["args"] = rule["args"]
        out["syscalls"].append(r)
    return out


# What Docker's default profile grants only with CAP_SYS_ADMIN.
ADMIN_ONLY = ["unshare", "mount", "umount", "umount2", "pivot_root", "setns",
              "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
              "open_tree", "mount_setattr", "clone", "clone3"]
# The clone flags that create namespaces (CLONE_NEWNS ... CLONE_NEWNET,
# and CLONE_NEWCGROUP): clone is allowed only without them.
CLONE_NAMESPACE_FLAGS = 0x7E020000


def docker_style(prof):
    """Narrows a lowered profile the way Docker's default narrows
    namespaces: unshare and the mount calls refused with EPERM, clone only
    without namespace flags, clone3 answered ENOSYS (so that C libraries
    fall back to clone, whose flags a filter can see)."""
    for rule in prof["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args"):
            rule["names"] = [n for n in rule["names"] if n not in ADMIN_ONLY]
    prof["syscalls"] = [r for r in prof["syscalls"] if r["names"]]
    # Docker's answers what it does not list with EPERM.
    prof["defaultErrnoRet"] = 1
    prof["syscalls"] += [
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0,
                   "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": [n for n in ADMIN_ONLY if n not in ("clone", "clone3")],
         "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
    ]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bundle")
    p.add_argument("--bin", required=True)
    p.add_argument("--userns", action="store_true")
    p.add_argument("--uid", type=int, default=0)
    p.add_argument("--seccomp")
    p.add_argument("--docker-style", action="store_true",
                   help="make the profile refuse namespaces as Docker's and "
                        "containerd's default does for a container without "
                        "CAP_SYS_ADMIN")
    p.add_argument("--tmp", help="a host directory bound writable at /work")
    p.add_argument("args", nargs="+")
    a = p.parse_args()

    root = os.path.join(a.bundle, "rootfs")
    os.makedirs(root, exist_ok=True)
    caps = list(DEFAULT_CAPS) if a.uid == 0 else []
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=1777"]},
    ]
    for d in ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32"]:
        if os.path.isdir(d) and not os.path.islink(d):
            mounts.append({"destination": d, "type": "bind", "source": d,
                           "options": ["rbind", "ro", "nosuid", "nodev"]})
        elif os.path.islink(d):
            link = os.path.join(root, d.lstrip("/"))
            if not os.path.lexists(link):
                os.symlink(os.readlink(d), link)
    mounts.append({"destination": "/stockade", "type": "bind", "source": a.bin,
                   "options": ["rbind", "ro", "nosuid", "nodev"]})
    if a.tmp:
        mounts.append({"destination": "/work", "type": "bind", "source": a.tmp,
                       "options": ["rbind", "rw", "nosuid", "nodev"]})

    # Every mount point made here: runc, as the container's (mapped) root,
    # could not create it in a directory the host's root owns.
    os.chmod(a.bundle, 0o755)
    os.chmod(root, 0o755)
    for m in mounts:
        dest = os.path.join(root, m["destination"].lstrip("/"))
        if not os.path.lexists(dest):
            os.makedirs(dest, mode=0o755)
    namespaces = [{"type": t} for t in ["pid", "network", "ipc", "uts", "mount", "cgroup"]]
    linux = {
        "namespaces": namespaces,
        "maskedPaths": MASKED,
        "readonlyPaths": READONLY,
    }
    if a.userns:
        namespaces.append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    if a.seccomp:
        linux["seccomp"] = lower_seccomp(a.seccomp, caps)
        if a.docker_style:
            docker_style(linux["seccomp"])

    config = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": a.uid, "gid": a.uid},
            "args": a.args,
            "env": ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                    "HOME=/tmp", "RUST_BACKTRACE=1"],
            "cwd": "/",
            "capabilities": {k: caps for k in
                             ["bounding", "effective", "permitted"]},
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "pod",
        "mounts": mounts,
        "linux": linux,
    }
    with open(os.path.join(a.bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
