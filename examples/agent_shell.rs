//! A tool runner for an AI agent: untrusted shell commands against a
//! workspace directory.
//!
//! ```sh
//! cargo run --example agent_shell                      # a built-in demo session
//! cargo run --example agent_shell -- --workspace ./ws 'ls -la' 'echo hi > notes.txt'
//! cargo run --example agent_shell -- --timeout 5 --cap 4096 -- yes
//! ```
//!
//! Each command runs with `sh -c` in a fresh sandbox from one policy: the
//! workspace is bound read-write at `/workspace` (the working directory),
//! everything else the program sees is read-only or private (`/usr` and
//! friends, `/tmp`), the caller's home directory is not there (the program
//! gets a private, empty, writable home in its place), and there is no
//! network. A command gets a wall-clock timeout, and its output
//! (stdout and stderr, interleaved as a terminal shows them) is read up to
//! a cap: past it the runner stops reading and kills the sandbox, so a
//! runaway command costs neither memory nor time.
//!
//! After each command the runner prints a `result` line of `key=value`
//! pairs for scripts (index, verdict, exit code, whether the output was
//! truncated, bytes kept, what the output shows was denied), then the output
//! itself, indented. At the end it checks that the caller's home directory
//! still holds what it held before the session.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use stockade::{Command, Sandbox, Stdio, Verdict};

/// What the demo session runs when no command is given.
const DEMO: &[&str] = &[
    "echo 'print(42)' > solution.py && ls -l",
    "curl -sS --max-time 5 http://example.com/ || wget -q -T 5 -O- http://example.com/",
    "echo pwned > /etc/motd",
    "ls -A ~; cat ~/.ssh/id_ed25519",
    "rm -rf /usr 2>&1 | head -n 3",
    "sleep 100",
    "yes",
];

/// Error messages that show the sandbox denied something, and what.
const DENIALS: &[(&str, &str)] = &[
    ("Network is unreachable", "network"),
    ("Could not resolve host", "network"),
    ("unable to resolve host", "network"),
    ("Couldn't connect to server", "network"),
    ("Read-only file system", "write-outside-workspace"),
    ("Permission denied", "permission"),
    ("Operation not permitted", "operation"),
];

struct Args {
    workspace: Option<PathBuf>,
    timeout: Duration,
    cap: usize,
    commands: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workspace: None,
        timeout: Duration::from_secs(10),
        cap: 64 << 10,
        commands: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--workspace" => args.workspace = Some(value("--workspace")?.into()),
            "--timeout" => {
                let v = value("--timeout")?;
                let secs: f64 = v
                    .parse()
                    .map_err(|_| format!("--timeout: {v:?} is not a number of seconds"))?;
                args.timeout = Duration::try_from_secs_f64(secs)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or(format!("--timeout: {v:?} is not a positive duration"))?;
            }
            "--cap" => {
                let v = value("--cap")?;
                args.cap = v
                    .parse()
                    .map_err(|_| format!("--cap: {v:?} is not a number of bytes"))?;
            }
            // Everything after `--` is a command, even if it starts with `--`.
            "--" => args.commands.extend(it.by_ref()),
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => args.commands.push(a),
        }
    }
    if args.commands.is_empty() {
        args.commands = DEMO.iter().map(|s| s.to_string()).collect();
    }
    Ok(args)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("agent_shell: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args = parse_args()?;

    // Without --workspace, a temporary one (removed at the end).
    let scratch;
    let workspace = match &args.workspace {
        Some(w) => w.canonicalize()?,
        None => {
            scratch = tempfile::tempdir()?;
            scratch.path().to_owned()
        }
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let home_before = home.as_deref().map(snapshot);

    // The policy, built once. `Sandbox::new()` already has no network, a
    // read-only view of the system directories, a private /tmp and a
    // private, empty home instead of the caller's.
    let mut sandbox = Sandbox::new();
    sandbox
        .bind_rw(&workspace, "/workspace")
        .timeout(args.timeout);
    println!("workspace: {}", workspace.display());

    for (i, line) in args.commands.iter().enumerate() {
        println!("$ {line}");
        let r = run_one(&sandbox, line, args.cap)?;
        let code = r.code.map_or("-".to_owned(), |c| c.to_string());
        println!(
            "result index={i} verdict={} code={code} truncated={} bytes={} denied={}",
            r.verdict.name(),
            r.truncated,
            r.output.len(),
            if r.denied.is_empty() {
                "none".to_owned()
            } else {
                r.denied.join(",")
            }
        );
        for l in String::from_utf8_lossy(&r.output).lines().take(10) {
            println!("  | {l}");
        }
    }

    // What the session did to the host, outside the workspace.
    let intact = home_before == home.as_deref().map(snapshot);
    if let Some(h) = &home {
        println!("host home {}: intact={intact}", h.display());
    }
    Ok(intact)
}

/// What one command did.
struct CommandReport {
    verdict: Verdict,
    code: Option<i32>,
    output: Vec<u8>,
    truncated: bool,
    denied: Vec<&'static str>,
}

fn run_one(
    sandbox: &Sandbox,
    line: &str,
    cap: usize,
) -> Result<CommandReport, Box<dyn std::error::Error>> {
    // One pipe for stdout and stderr, so the output interleaves as it would
    // in a terminal. The write ends go to the sandbox; the runner keeps the
    // read end.
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(line)
        .current_dir("/workspace")
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end.try_clone()?))
        .stderr(Stdio::from(write_end));
    let mut child = sandbox.spawn(&mut cmd)?;
    // `cmd` holds our copies of the write ends: drop it, so the pipe ends
    // when the sandbox does.
    drop(cmd);

    // Read up to the cap, and one byte more to tell whether there was more.
    let mut output = Vec::new();
    std::fs::File::from(read_end)
        .take(cap as u64 + 1)
        .read_to_end(&mut output)?;
    let truncated = output.len() > cap;
    if truncated {
        output.truncate(cap);
        // Enough: end the command rather than buffer or drain the rest.
        child.kill()?;
    }
    let status = child.wait()?;
    let verdict = child.outcome().map_or(Verdict::Killed, |o| o.verdict);

    let text = String::from_utf8_lossy(&output);
    let mut denied = Vec::new();
    for (needle, what) in DENIALS {
        if text.contains(needle) && !denied.contains(what) {
            denied.push(*what);
        }
    }
    Ok(CommandReport {
        verdict,
        code: status.code(),
        output,
        truncated,
        denied,
    })
}

/// The names, sizes and modification times in a directory, to tell
/// whether anything changed there.
fn snapshot(dir: &Path) -> Vec<(std::ffi::OsString, u64, Option<std::time::SystemTime>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((e.file_name(), m.len(), m.modified().ok()))
        })
        .collect();
    v.sort();
    v
}
