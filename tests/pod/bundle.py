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
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "docs", "kubernetes"))
from seccomp_profile import (DEFAULT_CAPS, allow_namespaces,  # noqa: E402
                             docker_style, lower_seccomp)

# The paths container runtimes hide (a bind of /dev/null or an empty
# read-only tmpfs) and make read-only in the container's /proc.
MASKED = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
    "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]



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
    p.add_argument("--allow-namespaces", action="store_true",
                   help="the profile docs/kubernetes/seccomp_profile.py writes")
    p.add_argument("--unmasked-proc", action="store_true",
                   help="no masked or read-only /proc paths (a pod's "
                        "procMount: Unmasked)")
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
        "maskedPaths": [] if a.unmasked_proc else MASKED,
        "readonlyPaths": [] if a.unmasked_proc else READONLY,
    }
    if a.userns:
        namespaces.append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    if a.seccomp:
        linux["seccomp"] = lower_seccomp(a.seccomp, caps)
        if a.docker_style:
            docker_style(linux["seccomp"])
        if a.allow_namespaces:
            allow_namespaces(linux["seccomp"])

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
