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
//! gets a private, empty, writable home in its place), and nothing on the
//! network is reachable: the sandbox's only way out is a proxy that allows
//! no name and logs each attempt. A command gets a wall-clock timeout, and
//! its output (stdout and stderr, interleaved as a terminal shows them) is
//! read up to a cap: past it the runner stops reading and kills the
//! sandbox, so a runaway command costs neither memory nor time.
//!
//! After each command the runner prints a `result` line of `key=value`
//! pairs for scripts (index, verdict, exit code, whether the output was
//! truncated, bytes kept, what the sandbox denied), then, when the sandbox
//! denied something, a `denied:` line saying what in full, then the output
//! itself, indented. At the end it checks that the caller's home directory
//! still holds what it held before the session.
//!
//! What was denied comes from the sandbox's own report
//! ([`Outcome::denials`](stockade::Outcome::denials)), not from the
//! command's error messages, which it writes itself and may word as it
//! likes: a system call the seccomp filter refused, with its arguments
//! (`denied=unshare`, `denied: unshare flags=CLONE_NEWUSER (seccomp filter:
//! EPERM)`), a connection the proxy refused (`denied=network`, `denied:
//! connect to example.com:80 (network policy: ...)`), a limit
//! (`denied=wall-clock`). Filesystem refusals (a write to a read-only
//! directory) are not in it: the kernel refuses those without telling the
//! runner, so only the command's own output shows them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use stockade::denials::{Denials, Detail, Limit, Observation};
use stockade::{Command, Sandbox, Stdio, Verdict};

/// What the demo session runs when no command is given.
const DEMO: &[&str] = &[
    "echo 'print(42)' > solution.py && ls -l",
    "curl -fsS --max-time 5 http://example.com/ || wget -q -T 5 -O- http://example.com/",
    "echo pwned > /etc/motd",
    "unshare --user --map-root-user id",
    "ls -A ~; cat ~/.ssh/id_ed25519",
    "rm -rf /usr 2>&1 | head -n 3",
    "sleep 100",
    "yes",
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

    // The policy, built once. `Sandbox::new()` already has a read-only view
    // of the system directories, a private /tmp, a private, empty home
    // instead of the caller's, and the default seccomp filter, whose
    // refusals it reports. An egress policy without rules reaches nothing,
    // like the default network namespace of its own, but every attempt is
    // a refusal the report names.
    let mut sandbox = Sandbox::new();
    sandbox
        .bind_rw(&workspace, "/workspace")
        .timeout(args.timeout)
        .egress(stockade::net::Egress::new())
        // Writes outside the workspace are refused by read-only mounts:
        // have each looked at, so that the report names them.
        .observe_writes(true);
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
            denied_names(&r.denials),
        );
        if worth_saying(&r.denials) {
            println!("{}", printable(&r.denials.to_string()));
        }
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
    /// What the sandbox refused.
    denials: Denials,
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
    let (verdict, denials) = match child.outcome() {
        Some(o) => (o.verdict, o.denials.clone()),
        None => (Verdict::Killed, child.denials()),
    };
    Ok(CommandReport {
        verdict,
        code: status.code(),
        output,
        truncated,
        denials,
    })
}

/// The `denied=` value: the distinct things refused, in order, by names
/// without spaces or commas (a system call's name, `network`, a limit's
/// name), or `none`.
// The library's enums are non-exhaustive: a variant added later gets a
// generic name.
#[allow(unreachable_patterns)]
fn denied_names(d: &Denials) -> String {
    let mut names: Vec<&str> = Vec::new();
    for e in &d.events {
        let name = match &e.detail {
            // The kernel's number, named from the crate's table: not the
            // program's word.
            Detail::Syscall(s) => s.syscall.as_str(),
            Detail::Network(_) => "network",
            Detail::Limit(Limit::Memory) => "memory",
            Detail::Limit(Limit::Pids) => "pids",
            Detail::Limit(Limit::CpuTime) => "cpu-time",
            Detail::Limit(Limit::WallClock) => "wall-clock",
            Detail::File(_) => "read-only",
            _ => "other",
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if d.omitted > 0 {
        names.push("more");
    }
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(",")
    }
}

/// Whether the `denied:` line has something to say: a refusal, or a source
/// of refusals the sandbox could not watch (then `denied=none` does not
/// mean nothing was refused, and the line says why).
fn worth_saying(d: &Denials) -> bool {
    let unwatched = |o: Observation| !matches!(o, Observation::Observed | Observation::NotEnforced);
    !d.is_empty() || unwatched(d.syscalls) || unwatched(d.network)
}

/// `text` with its control characters escaped: the paths in a `denied:`
/// line are the command's word, and a newline in one must not start a
/// line of its own.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
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
