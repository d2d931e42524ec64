//! A test harness that runs hermetic workers concurrently on tokio.
//!
//! ```sh
//! cargo run --example test_pool --features tokio
//! cargo run --example test_pool --features tokio -- --bomb   # add a memory bomb
//! cargo run --example test_pool --features tokio -- --cgroup-parent /sys/fs/cgroup/delegated
//! ```
//!
//! Each worker is a shell snippet run in a sandbox of its own: a private
//! `/scratch` tmpfs, its own hostname, no network, and limits on memory
//! (64 MiB for the whole sandbox), processes and wall-clock time. All
//! workers run at once on a single-threaded runtime: waiting for a sandbox
//! is a future over its pidfd, so no thread is spent per worker. The
//! harness collects each worker's verdict and resource use into a table.
//!
//! The memory limit needs the cgroup v2 memory controller. Without it (a
//! host whose controllers sit on cgroup v1, or no delegated cgroup) the
//! pool still runs, best-effort, with `RLIMIT_AS` standing in; the bomb then
//! fails to allocate instead of being OOM-killed, and the `limits:` line
//! says which limits held.
//!
//! Output for scripts: a `limits:` line, one table row per worker (name,
//! verdict, exit code, wall and CPU milliseconds, peak memory in KiB, all
//! separated by whitespace) and a final `summary:` line.

use std::time::Duration;

use stockade::{Command, CompatLevel, Outcome, Sandbox, Stdio, Verdict, fs};
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

/// One test to run.
struct Worker {
    name: &'static str,
    script: &'static str,
    /// Wall-clock limit for this worker.
    timeout: Duration,
}

const NORMAL: Duration = Duration::from_secs(60);

/// The pool: some pass, some fail, one hangs.
const WORKERS: &[Worker] = &[
    Worker {
        name: "upcase",
        script: r#"[ "$(echo hello | tr a-z A-Z)" = HELLO ]"#,
        timeout: NORMAL,
    },
    Worker {
        name: "scratch-write",
        // 4 MiB into the worker's own tmpfs.
        script: "head -c 4194304 /dev/zero > /scratch/blob && [ $(wc -c < /scratch/blob) = 4194304 ]",
        timeout: NORMAL,
    },
    Worker {
        name: "hostname",
        script: r#"[ "$(hostname)" = worker-hostname ]"#,
        timeout: NORMAL,
    },
    Worker {
        name: "no-network",
        // Only a loopback device, and it is down.
        script: "! grep -qv -e '^ *lo:' -e '|' /proc/net/dev",
        timeout: NORMAL,
    },
    Worker {
        name: "assert-fails",
        script: "echo 'expected 4, got 5'; exit 1",
        timeout: NORMAL,
    },
    Worker {
        name: "segfault",
        script: "kill -SEGV $$",
        timeout: NORMAL,
    },
    Worker {
        name: "hangs",
        script: "sleep 100",
        timeout: Duration::from_secs(2),
    },
];

/// Added with `--bomb`: `tail` keeps the current line in memory, and
/// `/dev/zero` has no line ends, so it allocates until stopped.
const BOMB: Worker = Worker {
    name: "memory-bomb",
    script: "tail /dev/zero",
    timeout: NORMAL,
};

/// How much of a worker's output the harness keeps.
const OUTPUT_CAP: u64 = 64 << 10;

/// What the harness learns about one worker.
struct Report {
    name: &'static str,
    outcome: Option<Outcome>,
    output: String,
    /// Limits in force (cgroup) and approximated (rlimits), for the
    /// `limits:` line.
    enforced: Vec<&'static str>,
    approximated: Vec<&'static str>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut bomb = false;
    let mut cgroup_parent = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("--bomb") => bomb = true,
            Some("--cgroup-parent") => {
                cgroup_parent = Some(args.next().ok_or("--cgroup-parent needs a directory")?)
            }
            _ => return Err(format!("unexpected argument {a:?}").into()),
        }
    }

    // The shared part of every worker's policy.
    let mut base = Sandbox::new();
    base.tmpfs(
        "/scratch",
        fs::TmpfsOptions {
            size: Some(16 << 20),
            mode: None,
        },
    )
    .memory_limit(64 << 20)
    .pids_limit(32);
    let cgroup = base.cgroup_mut();
    cgroup.compat = CompatLevel::BestEffort;
    cgroup.parent = cgroup_parent.clone().map(Into::into);

    let mut pool = JoinSet::new();
    for (i, w) in WORKERS.iter().chain(bomb.then_some(&BOMB)).enumerate() {
        // Per-worker settings on a copy of the base policy.
        let mut sb = base.clone();
        sb.timeout(w.timeout).hostname(format!("worker-{}", w.name));
        // stderr joins stdout, so the harness reads a single stream.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec 2>&1; {}", w.script))
            .stdout(Stdio::piped());
        // Spawning returns once the worker runs; waiting happens in a task.
        let mut child = sb.spawn_async(&mut cmd)?;
        let cgroup = child.enforcement().cgroup.as_ref();
        let enforced = cgroup
            .map(|c| c.applied.iter().map(|a| a.kind.file()).collect())
            .unwrap_or_default();
        let approximated = child
            .enforcement()
            .rlimit_fallbacks
            .iter()
            .map(|r| r.name())
            .collect();
        let name = w.name;
        pool.spawn(async move {
            // Keep at most OUTPUT_CAP bytes; a worker writing more gets
            // EPIPE once the pipe is dropped.
            let mut output = Vec::new();
            if let Some(stdout) = child.stdout.take() {
                let _ = stdout.take(OUTPUT_CAP).read_to_end(&mut output).await;
            }
            let _ = child.wait().await;
            Report {
                name,
                outcome: child.outcome().cloned(),
                output: String::from_utf8_lossy(&output).into_owned(),
                enforced,
                approximated,
            }
        });
        eprintln!("started worker {i}: {}", w.name);
    }
    let mut reports = pool.join_all().await;
    reports.sort_by_key(|r| WORKERS.iter().chain([&BOMB]).position(|w| w.name == r.name));

    let first = &reports[0];
    println!(
        "limits: enforced={} approximated={}",
        join(&first.enforced),
        join(&first.approximated)
    );
    println!(
        "{:<14} {:<18} {:>4} {:>8} {:>7} {:>9}",
        "worker", "verdict", "code", "wall_ms", "cpu_ms", "peak_kib"
    );
    let (mut passed, mut failed, mut timed_out, mut oom) = (0, 0, 0, 0);
    for r in &reports {
        let Some(o) = &r.outcome else {
            println!("{:<14} unknown", r.name);
            failed += 1;
            continue;
        };
        match o.verdict {
            Verdict::Exited(0) => passed += 1,
            Verdict::TimedOut => timed_out += 1,
            Verdict::OomKilled => oom += 1,
            _ => failed += 1,
        }
        let code = o.status.code().map_or("-".to_owned(), |c| c.to_string());
        let u = o.usage.unwrap_or_default();
        println!(
            "{:<14} {:<18} {:>4} {:>8} {:>7} {:>9}",
            r.name,
            o.verdict.name(),
            code,
            u.wall_time.as_millis(),
            u.cpu_time().as_millis(),
            u.peak_memory_bytes / 1024
        );
    }
    // The output of what did not pass, as a test harness shows it.
    for r in &reports {
        let ok = matches!(
            r.outcome.as_ref().map(|o| o.verdict),
            Some(Verdict::Exited(0))
        );
        if !ok && !r.output.is_empty() {
            println!("--- {} output:\n{}", r.name, r.output.trim_end());
        }
    }
    println!(
        "summary: workers={} passed={passed} failed={failed} timed_out={timed_out} oom_killed={oom}",
        reports.len()
    );
    Ok(())
}

fn join(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(",")
    }
}
