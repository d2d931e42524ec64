//! A build tool that runs each compiler call in a sandbox.
//!
//! ```sh
//! cargo run --example compile                         # a built-in hello world
//! cargo run --example compile -- prog.c out/          # your own C file
//! cargo run --example compile -- --cgroup-parent /sys/fs/cgroup/delegated prog.c out/
//! ```
//!
//! The compiler sees the source directory read-only at `/src`, writes only
//! to the output directory (bound read-write at `/out`), has no network and
//! runs under memory, process-count, CPU-time and wall-clock limits. The
//! produced binary then runs in a second sandbox that sees the output
//! directory read-only.
//!
//! Memory and process-count limits live in cgroup v2. Where the controllers
//! are unavailable (a host whose controllers sit on cgroup v1, or a caller
//! without a delegated cgroup) the sandbox is asked to be best-effort: it
//! still runs, with per-process rlimits standing in, and the example prints
//! which limits held and which were only approximated.
//!
//! Lines meant for scripts are `key=value` pairs after a fixed prefix:
//! `limits:`, `compile:` and `run:`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use stockade::{Command, CompatLevel, Enforcement, Outcome, Sandbox, Stdio};

/// The program compiled when no source is given.
const HELLO: &str = r#"#include <stdio.h>

int main(void) {
    printf("hello from a sandboxed build\n");
    return 0;
}
"#;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("compile: {e}");
            ExitCode::from(2)
        }
    }
}

/// Command-line arguments: `[--cgroup-parent DIR] [SOURCE.c [OUTDIR]]`.
struct Args {
    cgroup_parent: Option<PathBuf>,
    source: Option<PathBuf>,
    out_dir: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        cgroup_parent: None,
        source: None,
        out_dir: None,
    };
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        if a == "--cgroup-parent" {
            let dir = it.next().ok_or("--cgroup-parent needs a directory")?;
            args.cgroup_parent = Some(dir.into());
        } else if args.source.is_none() {
            args.source = Some(a.into());
        } else if args.out_dir.is_none() {
            args.out_dir = Some(a.into());
        } else {
            return Err(format!("unexpected argument {a:?}"));
        }
    }
    Ok(args)
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args = parse_args()?;

    // Without a source, write the hello world to a temporary directory
    // (removed when `scratch` is dropped at the end of `run`).
    let mut scratch = None;
    let (source, out_dir) = match args.source {
        Some(src) => {
            let out = args.out_dir.unwrap_or_else(|| PathBuf::from("."));
            (src, out)
        }
        None => {
            let dir = tempfile::tempdir()?;
            let src = dir.path().join("hello.c");
            std::fs::write(&src, HELLO)?;
            let out = dir.path().join("out");
            scratch = Some(dir);
            (src, out)
        }
    };
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("output directory {}: {e}", out_dir.display()))?;
    let source = source
        .canonicalize()
        .map_err(|e| format!("source {}: {e}", source.display()))?;
    let out_dir = out_dir.canonicalize()?;
    let (Some(src_dir), Some(file), Some(stem)) =
        (source.parent(), source.file_name(), source.file_stem())
    else {
        return Err(format!("source {} is not a file", source.display()).into());
    };
    let binary = Path::new("/out").join(stem);

    // The policy: everything `Sandbox::new()` isolates (no network, a
    // private read-only root, no capabilities, seccomp), plus two binds and
    // the limits. A `Sandbox` is reusable: a real build tool would build it
    // once and spawn every compiler call from it.
    let mut compiler = Sandbox::new();
    compiler
        .bind_ro(src_dir, "/src")
        .bind_rw(&out_dir, "/out")
        .memory_limit(512 << 20) // the whole sandbox: cc, cc1, as, ld together
        .pids_limit(64)
        .cpu_time_limit(Duration::from_secs(60))
        .timeout(Duration::from_secs(120));
    // Run even where cgroup limits are unavailable; the enforcement report
    // says what held.
    let cgroup = compiler.cgroup_mut();
    cgroup.compat = CompatLevel::BestEffort;
    cgroup.parent = args.cgroup_parent.clone();

    let mut cc = Command::new("cc");
    cc.arg("-O2")
        .arg("-o")
        .arg(&binary)
        .arg(Path::new("/src").join(file))
        .current_dir("/out")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = compiler.spawn(&mut cc)?;
    print_limits(child.enforcement());

    // Diagnostics are small; read them to the end, then wait.
    let mut diagnostics = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        stderr.read_to_string(&mut diagnostics)?;
    }
    child.wait()?;
    let outcome = child.outcome().expect("waited for").clone();
    print_outcome("compile", &outcome);
    if !diagnostics.is_empty() {
        eprint!("{diagnostics}");
    }
    if outcome.status.code() != Some(0) {
        return Ok(false);
    }

    // Run what was built, in a sandbox of its own that sees the output
    // directory read-only.
    let mut runner = Sandbox::new();
    runner
        .bind_ro(&out_dir, "/out")
        .timeout(Duration::from_secs(10));
    let out = runner.output(&mut Command::new(&binary))?;
    println!(
        "run: status={} output={:?}",
        out.status
            .code()
            .map_or("signal".to_owned(), |c| c.to_string()),
        String::from_utf8_lossy(&out.stdout)
    );
    if scratch.is_none() {
        println!("built {}", out_dir.join(stem).display());
    }
    Ok(out.status.success())
}

/// Prints which limits hold: those written to the sandbox's cgroup, and
/// those only approximated by per-process rlimits (best-effort mode).
fn print_limits(enforcement: &Enforcement) {
    let mut enforced = Vec::new();
    if let Some(cg) = &enforcement.cgroup {
        enforced.extend(cg.applied.iter().map(|a| a.kind.file()));
        for s in cg.skipped.iter().filter(|s| s.requested) {
            println!("note: {} not enforced: {}", s.kind.file(), s.reason);
        }
    }
    let approximated: Vec<&str> = enforcement
        .rlimit_fallbacks
        .iter()
        .map(|r| r.name())
        .collect();
    println!(
        "limits: enforced={} approximated={}",
        list(&enforced),
        list(&approximated)
    );
}

fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(",")
    }
}

/// Prints why the sandbox ended and what it used.
fn print_outcome(what: &str, o: &Outcome) {
    let code = o.status.code().map_or("none".to_owned(), |c| c.to_string());
    print!("{what}: verdict={} code={code}", o.verdict.name());
    if let Some(u) = o.usage {
        print!(
            " wall_ms={} cpu_ms={} peak_memory_kib={} peak_scope={}",
            u.wall_time.as_millis(),
            u.cpu_time().as_millis(),
            u.peak_memory_bytes / 1024,
            // memory.peak covers every process at once; ru_maxrss only the
            // largest single one.
            if u.peak_memory_whole_sandbox {
                "sandbox"
            } else {
                "largest_process"
            }
        );
    }
    println!();
}
