#!/bin/sh
# Runs the OCI runtime-tools validation suite (the Go programs in
# runtime-tools' validation/ directory) against stockade-oci and prints the
# TAP results per program and in total.
#
# Run as root from the repository root, on Debian (bookworm or later):
#
#   sudo tests/oci/runtime-tools.sh
#
# Environment:
#   RUNTIME_TOOLS_SRC  an unpacked runtime-tools source tree to use instead of
#                      fetching one (it needs validation/, cmd/runtimetest/,
#                      vendor/ and rootfs-amd64.tar.gz)
#   WORK               where sources, binaries and logs go
#                      (default: target/oci-runtime-tools)
#   TEST_TIMEOUT       seconds one validation program may run (default: 300)
#   ONLY               space-separated validation program names to run
#                      (for example "state kill"); all of them by default
#
# The suite is not part of CI: it takes long, needs root and changes the
# host's cgroups while it runs.
set -eu

# The runtime-tools commit Debian packages as 0.9.0+git20220423.g0105384.
RT_COMMIT=0105384f68e16803891d0a17d9067b1def6a2778
RT_REPO=https://github.com/opencontainers/runtime-tools

if [ "$(id -u)" != 0 ]; then
    echo "runtime-tools.sh: must run as root" >&2
    exit 2
fi

REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-$REPO/target/oci-runtime-tools}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
mkdir -p "$WORK"

need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
}
need go golang-go
need prove perl
need git git
need tar tar

# --- runtime-tools sources ------------------------------------------------
src=${RUNTIME_TOOLS_SRC:-}
if [ -z "$src" ]; then
    src=$WORK/runtime-tools
    if [ ! -d "$src/validation" ]; then
        rm -rf "$src"
        git init -q "$src"
        git -C "$src" fetch -q --depth 1 "$RT_REPO" "$RT_COMMIT"
        git -C "$src" checkout -q FETCH_HEAD
    fi
fi
for p in validation cmd/runtimetest vendor rootfs-amd64.tar.gz; do
    if [ ! -e "$src/$p" ]; then
        echo "runtime-tools.sh: $src has no $p" >&2
        exit 2
    fi
done

# --- build the suite (offline: its vendor/ directory has every dependency) -
export GOFLAGS=-mod=vendor GO111MODULE=on GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath"
cd "$src"
echo "building runtimetest and the validation programs" >&2
CGO_ENABLED=0 go build -p 1 -tags "netgo osusergo" -o runtimetest ./cmd/runtimetest
programs=""
for f in $(find validation -name '*.go' ! -path 'validation/util/*' | sort); do
    name=$(basename "$(dirname "$f")")
    if [ -n "${ONLY:-}" ] && ! echo " $ONLY " | grep -q " $name "; then
        continue
    fi
    t=${f%.go}.t
    [ "$t" -nt "$f" ] || go build -p 1 -o "$t" "$f"
    programs="$programs $t"
done

# --- build stockade and its OCI runtime name ------------------------------
echo "building stockade" >&2
(cd "$REPO" && cargo build --release --features cli -j1 -q)
ln -sf "$REPO/target/release/stockade" "$WORK/stockade-oci"
RUNTIME=$WORK/stockade-oci
export RUNTIME

# --- run ------------------------------------------------------------------
logs=$WORK/tap
rm -rf "$logs"
mkdir -p "$logs"
total_pass=0 total_fail=0 total_skip=0 total_todo=0 bad_programs=0
printf '%-40s %5s %5s %5s %5s  %s\n' program pass fail skip todo exit
for t in $programs; do
    name=$(basename "$(dirname "$t")")
    log=$logs/$name.tap
    set +e
    timeout --kill-after=10 "$TEST_TIMEOUT" "./$t" >"$log" 2>"$logs/$name.stderr" </dev/null
    rc=$?
    set -e
    # TAP: "ok N ..." / "not ok N ..." with "# SKIP" or "# TODO" directives.
    pass=$(grep -E '^ok ' "$log" | grep -viE '# *(skip|todo)' | wc -l)
    fail=$(grep -E '^not ok ' "$log" | grep -viE '# *todo' | wc -l)
    skip=$(grep -E '^(not )?ok ' "$log" | grep -ciE '# *skip' || true)
    todo=$(grep -E '^(not )?ok ' "$log" | grep -ciE '# *todo' || true)
    # A program that ends without a plan, or fails without a failing test,
    # stopped on an error of its own (its stderr log says which).
    if ! grep -qE '^1\.\.[0-9]+' "$log"; then
        bad_programs=$((bad_programs + 1))
    elif [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
        bad_programs=$((bad_programs + 1))
    fi
    printf '%-40s %5s %5s %5s %5s  %s\n' "$name" "$pass" "$fail" "$skip" "$todo" "$rc"
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    total_skip=$((total_skip + skip))
    total_todo=$((total_todo + todo))
done
printf '%-40s %5s %5s %5s %5s\n' TOTAL "$total_pass" "$total_fail" "$total_skip" "$total_todo"
echo "programs that ended without a plan or with an error of their own: $bad_programs"
echo "TAP output per program: $logs"
