#!/usr/bin/env python3
"""Writes a seccomp profile for a Kubernetes pod that runs stockade with
every namespace: the container runtime's default profile (in the
Docker/containers-common format, e.g. /usr/share/containers/seccomp.json
from Debian's golang-github-containers-common), resolved for the pod's
capabilities and architecture, with the calls that create namespaces and
build a root filesystem allowed (clone, clone3, unshare, the mount calls,
pivot_root, setns), which a default profile grants only with CAP_SYS_ADMIN.

usage: seccomp_profile.py [--caps CAP,...] DEFAULT_PROFILE > stockade.json

Install the output as a Localhost profile on each node (for example
/var/lib/kubelet/seccomp/profiles/stockade.json) and name it in the pod's
securityContext (docs/kubernetes.md). tests/pod runs stockade under this
profile in runc.
"""

import argparse
import json
import platform
import sys

# The capabilities containerd and CRI-O give a container by default.
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

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


def allow_namespaces(prof):
    """Lets the profile create namespaces and mounts: the calls Docker's
    default grants only with CAP_SYS_ADMIN, allowed without conditions."""
    for rule in prof["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args"):
            rule["names"] = [n for n in rule["names"] if n not in ADMIN_ONLY]
        elif rule["action"] != "SCMP_ACT_ALLOW":
            rule["names"] = [n for n in rule["names"] if n not in ADMIN_ONLY]
    prof["syscalls"] = [r for r in prof["syscalls"] if r["names"]]
    prof["syscalls"].append({"names": list(ADMIN_ONLY), "action": "SCMP_ACT_ALLOW"})
    return prof


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--caps", default=",".join(DEFAULT_CAPS),
                   help="the pod's capabilities (default: the runtime's default set)")
    p.add_argument("profile")
    a = p.parse_args()
    caps = [c for c in a.caps.split(",") if c]
    json.dump(allow_namespaces(lower_seccomp(a.profile, caps)), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
