#!/usr/bin/env python3
"""One-shot command line runs, stockade against bubblewrap, interleaved.

Each round runs every command once, in a new random order, so that a burst
of load on the machine hits every row alike (hyperfine runs each command's
runs back to back). Prints the median, quartiles and the ratio of each
stockade row to its bubblewrap row, from the medians and per round.

    cargo build --release --features cli
    python3 benches/cli_vs_bwrap.py                       # target/release/stockade
    python3 benches/cli_vs_bwrap.py --stockade OLD --stockade NEW --rounds 500

Run it as the user to measure (as root, or for example as an unprivileged
user with `setpriv --reuid=1000 --regid=1000 --clear-groups python3 ...`).
Every command must exit 0; the runner stops at the first that does not.
"""

import argparse
import os
import random
import shutil
import statistics
import sys
import time

BWRAP_ROOT = ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]


def rows(stockades, bwrap, program):
    """(name, argv, the bubblewrap row it is compared with)"""
    out = []
    for label, path in stockades:
        out.append((f"{label} --share-net", [path, "--share-net", "--", program], "bwrap share-net"))
        out.append((f"{label} (own netns)", [path, "--", program], "bwrap unshare-all"))
    out.append(("bwrap share-net", [bwrap, "--unshare-all", "--share-net", *BWRAP_ROOT, program], None))
    out.append(("bwrap unshare-all", [bwrap, "--unshare-all", *BWRAP_ROOT, program], None))
    return out


def run_once(argv, devnull):
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, devnull, 0),
    ])
    _, status = os.waitpid(pid, 0)
    took = time.perf_counter_ns() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(argv)}: exit status {code}")
    return took / 1e6


def quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stockade", action="append",
                    help="a stockade binary (repeatable; default target/release/stockade)")
    ap.add_argument("--bwrap", default=shutil.which("bwrap"))
    ap.add_argument("--program", default="/bin/true")
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=20)
    args = ap.parse_args()
    if not args.bwrap:
        sys.exit("bwrap not found (apt-get install bubblewrap)")
    paths = args.stockade or [os.path.join(os.path.dirname(__file__), "..", "target", "release", "stockade")]
    stockades = [(("stockade" if len(paths) == 1 else f"stockade[{i}]"), os.path.abspath(p))
                 for i, p in enumerate(paths)]
    table = rows(stockades, args.bwrap, args.program)
    times = {name: [] for name, _, _ in table}
    ratios = {name: [] for name, _, ref in table if ref}
    devnull = os.open("/dev/null", os.O_RDONLY)
    for r in range(args.warmup + args.rounds):
        order = list(table)
        random.shuffle(order)
        this = {name: run_once(argv, devnull) for name, argv, _ in order}
        if r < args.warmup:
            continue
        for name, t in this.items():
            times[name].append(t)
        for name, _, ref in table:
            if ref:
                ratios[name].append(this[name] / this[ref])
    load = os.getloadavg()
    print(f"{args.rounds} rounds (+{args.warmup} warm-up), uid {os.getuid()}, "
          f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for i, (label, path) in enumerate(stockades):
        print(f"{label} = {path}")
    print()
    print("| command | p25 ms | median ms | p75 ms | / bwrap (medians) | / bwrap (per round, median) |")
    print("|---|---|---|---|---|---|")
    med = {}
    for name, _, ref in table:
        lo, m, hi = quartiles(times[name])
        med[name] = m
    for name, _, ref in table:
        lo, m, hi = quartiles(times[name])
        if ref:
            a = f"{m / med[ref]:.2f}x"
            b = f"{statistics.median(ratios[name]):.2f}x"
        else:
            a = b = ""
        print(f"| {name} | {lo:.2f} | {m:.2f} | {hi:.2f} | {a} | {b} |")


if __name__ == "__main__":
    main()
