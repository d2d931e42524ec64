#!/usr/bin/env python3
"""A stockade sandbox against a minimal virtual machine, in one run on one
machine: time from nothing to a program running, and memory per running
instance; and the command line's spawns per second on one core.

usage: benches/vm_vs_sandbox.py [--rounds N] [--instances N] STOCKADE KERNEL

STOCKADE is the stockade binary (cargo build --release --features cli);
KERNEL a bootable Linux kernel image (tests/vm/run caches Debian's under
.vm-cache/kernels/*/vmlinux). The guest is the least a VM can be: that
kernel and an initramfs holding only a static busybox, whose init prints a
line and powers off (or sleeps, for the memory figure); one vCPU, 128 MiB.
QEMU uses KVM where /dev/kvm works (a probe boot within 20 s), TCG otherwise;
the output says which. Rounds are interleaved: each round starts one sandbox
and one VM, in shuffled order.

Memory is the proportional set size (PSS, /proc/PID/smaps_rollup) of every
process an instance consists of (stockade's front end, its supervisor and
init, the program; QEMU's process), with N instances running at once.
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MARK = b"STOCKADE-READY"


def initramfs(dirpath, sleep):
    root = os.path.join(dirpath, "root-sleep" if sleep else "root")
    os.makedirs(os.path.join(root, "bin"))
    busybox = shutil.which("busybox")
    if not busybox:
        sys.exit("busybox (Debian package busybox-static) is needed")
    shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
    tail = "/bin/busybox sleep 3600" if sleep else "/bin/busybox poweroff -f"
    with open(os.path.join(root, "init"), "w") as f:
        f.write(f"#!/bin/busybox sh\n/bin/busybox echo {MARK.decode()}\n{tail}\n")
    os.chmod(os.path.join(root, "init"), 0o755)
    out = os.path.join(dirpath, "sleep.cpio" if sleep else "init.cpio")
    find = subprocess.Popen(["find", "."], cwd=root, stdout=subprocess.PIPE)
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                       stdin=find.stdout, stdout=f, check=True)
    find.wait()
    return out


def qemu_cmd(kernel, cpio, accel):
    return ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-no-reboot",
            "-machine", f"pc,accel={accel}", "-cpu", "host" if accel == "kvm" else "max",
            "-smp", "1", "-m", "128M", "-kernel", kernel, "-initrd", cpio,
            "-append", "console=ttyS0 quiet panic=-1 rdinit=/init",
            "-serial", "stdio", "-display", "none"]


def until_mark(cmd, limit):
    """Seconds from starting `cmd` to the line with MARK, and to its exit
    (None if it did not come within `limit`)."""
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ready = None
    deadline = t + limit
    for line in p.stdout:
        if MARK in line:
            ready = time.monotonic() - t
            break
        if time.monotonic() > deadline:
            break
    try:
        p.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return ready, None
    return ready, time.monotonic() - t


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid):
    """`pid` and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def memory(cmds, settle):
    """Mean PSS (KiB) of each command's process tree, all running at once."""
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for c in cmds]
    time.sleep(settle)
    sizes = [sum(pss_kib(p) for p in tree(proc.pid)) for proc in procs]
    for proc in procs:
        proc.kill()
    for proc in procs:
        proc.wait()
    return statistics.mean(sizes)


def slab_active(name):
    """Active objects of a slab cache (/proc/slabinfo, root), or None."""
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                if line.startswith(name + " "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def netns_teardown(stockade, n):
    """Network namespaces the kernel still holds right after `n` sandboxes
    with one each have ended, and how long until they are freed (the
    kernel frees them from a work queue after the processes exit). Slab
    counts move with everything else on the machine: the baseline is the
    median of samples before, and "freed" is back within 2 of it."""
    def sample():
        return slab_active("net_namespace")
    if sample() is None:
        return None
    before = []
    for _ in range(9):
        before.append(sample())
        time.sleep(0.01)
    base = statistics.median(before)
    for _ in range(n):
        subprocess.run([stockade, "--", "/bin/true"], check=True)
    t = time.monotonic()
    left = sample() - base
    held = left
    while left > 2 and time.monotonic() - t < 30:
        time.sleep(0.005)
        left = sample() - base
    return max(0, held), time.monotonic() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--instances", type=int, default=4)
    ap.add_argument("--spawns", type=int, default=300)
    ap.add_argument("stockade")
    ap.add_argument("kernel")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp()
    init = initramfs(tmp, sleep=False)
    sleeper = initramfs(tmp, sleep=True)

    accel = "tcg"
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        ready, _ = until_mark(qemu_cmd(a.kernel, init, "kvm"), 20)
        if ready is not None:
            accel = "kvm"
    sandbox = [a.stockade, "--", "/bin/echo", MARK.decode()]
    vm = qemu_cmd(a.kernel, init, accel)

    times = {"sandbox": [], "vm": []}
    for _ in range(a.rounds):
        order = list(times)
        random.shuffle(order)
        for which in order:
            ready, _ = until_mark(sandbox if which == "sandbox" else vm, 120)
            if ready is None:
                sys.exit(f"{which}: no {MARK.decode()} line")
            times[which].append(ready)

    mem_sandbox = memory([[a.stockade, "--", "sleep", "3600"]] * a.instances, 1.0)
    vm_sleep = qemu_cmd(a.kernel, sleeper, accel)
    mem_vm = memory([vm_sleep] * a.instances, 8.0 if accel == "tcg" else 3.0)

    # The command line's spawns per second, pinned to one core.
    t = time.monotonic()
    for _ in range(a.spawns):
        subprocess.run(["taskset", "-c", "0", a.stockade, "--", "/bin/true"], check=True)
    per_second = a.spawns / (time.monotonic() - t)

    teardown = netns_teardown(a.stockade, 200)

    sb, v = statistics.median(times["sandbox"]), statistics.median(times["vm"])
    print(f"rounds: {a.rounds} interleaved; instances for memory: {a.instances}; "
          f"QEMU accelerator: {accel}")
    print("| | stockade sandbox | minimal VM | VM / sandbox |")
    print("|---|---|---|---|")
    print(f"| start to program running (median) | {sb * 1000:.1f} ms | {v * 1000:.0f} ms | "
          f"{v / sb:.0f}x |")
    print(f"| memory per running instance (PSS) | {mem_sandbox / 1024:.1f} MiB | "
          f"{mem_vm / 1024:.1f} MiB | {mem_vm / mem_sandbox:.0f}x |")
    print(f"one-shot command-line sandboxes per second, one core: {per_second:.0f}")
    if teardown:
        print(f"network namespaces not yet freed right after 200 sandboxes ended: "
              f"{teardown[0]} (slab objects; all freed {teardown[1] * 1000:.0f} ms later)")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
