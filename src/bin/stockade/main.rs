//! `stockade`: run a program in a sandbox from the command line.
//!
//! ```text
//! cargo run --release --features cli -- sh -c 'echo $$; id -u; hostname'
//! ```
//!
//! See `--help` for the options and the exit-status convention.

mod args;
mod bwrap;
mod container;
mod image;
mod json;
mod layer;
mod monitor;
mod oci;
mod remote;
mod report;
mod terminal;
mod waiter;
mod wire;
mod words;

use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use stockade::{Command, Error, Sandbox, Verdict};

/// Signals the front end forwards to the sandboxed program (unless it was
/// started with them ignored, as a background job is with `SIGINT`).
const FORWARDED: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGWINCH,
];

/// Of those, the ones that end the front end: the program gets the signal
/// and [`GRACE`] to end, then the sandbox is killed, and the front end ends
/// by the same signal (a shell then reports 128+N).
const ENDING: [Signal; 2] = [Signal::SIGINT, Signal::SIGTERM];

/// How long the program has to end after a forwarded [`ENDING`] signal.
const GRACE: Duration = Duration::from_secs(2);

/// Of the [`FORWARDED`] signals, those this process was started with
/// ignored, as a mask (bit N-1 for signal N): an ignored signal stays
/// ignored. Asked of the kernel one signal at a time (`sigaction` without
/// changing anything), which costs less than reading `SigIgn` from
/// `/proc/self/status`.
fn ignored_at_start() -> u64 {
    let mut mask = 0;
    for s in FORWARDED {
        // SAFETY: a zeroed `sigaction` is a valid out-parameter.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only reads the current one into `old`,
        // which outlives the call.
        let r = unsafe { libc::sigaction(s as libc::c_int, std::ptr::null(), &mut old) };
        if r == 0 && old.sa_sigaction == libc::SIG_IGN {
            mask |= 1 << (s as u32 - 1);
        }
    }
    mask
}

/// Ends this process by `sig` (blocked and default here): it becomes
/// pending, then unblocking delivers it. Returns only if that did not end
/// the process.
fn die_by(sig: Signal) -> ExitCode {
    terminal::restore();
    let _ = nix::sys::signal::raise(sig);
    let mut set = SigSet::empty();
    set.add(sig);
    let _ = set.thread_unblock();
    ExitCode::from(128 + sig as u8)
}

/// Ends this process by `sig`, as a program the caller ran was: the
/// default action whatever this process did with it, without a core dump
/// of this process (the program's, if any, is the program's own).
fn die_as_program(sig: Signal) -> ExitCode {
    let _ = nix::sys::prctl::set_dumpable(false);
    let default = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::SigDfl,
        nix::sys::signal::SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: installing the default action runs no code of this process.
    let _ = unsafe { nix::sys::signal::sigaction(sig, &default) };
    die_by(sig)
}

fn main() -> ExitCode {
    if let Some(code) = bwrap::dispatch() {
        return code;
    }
    if let Some(code) = oci::dispatch() {
        return code;
    }
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut action = None;
    if argv.first().is_some_and(|a| a == remote::FLAG) {
        let env: Vec<_> = std::env::vars_os().collect();
        let cwd = match std::env::current_dir() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("stockade: --remote-action: failed to read the working directory: {e}");
                return ExitCode::from(125);
            }
        };
        match remote::expand(argv, &env, &cwd) {
            Ok((a, act)) => {
                argv = a;
                action = act;
            }
            Err(e) => {
                eprintln!("stockade: {e}");
                return ExitCode::from(125);
            }
        }
    }
    let invocation = match args::parse_command_line(argv.iter().cloned()) {
        Ok(i) => i,
        Err(e) => return usage_error(&e),
    };
    if let Err(e) = args::check_terminal(&invocation, terminal::stdin_is_terminal()) {
        return usage_error(&e);
    }
    match invocation {
        args::Invocation::Help => {
            print!("{}", args::help(&argv));
            ExitCode::SUCCESS
        }
        args::Invocation::Completions(shell) => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut args::command(), "stockade", &mut out);
            match std::io::Write::flush(&mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("stockade: failed to write the completion script: {e}");
                    ExitCode::from(125)
                }
            }
        }
        args::Invocation::Version => {
            println!("stockade {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        args::Invocation::Run(opts) => run(&opts, action.as_ref()),
        args::Invocation::Start(s) => container::start(&s),
        args::Invocation::Monitor(s) => monitor::main(s),
        args::Invocation::Exec(e) => container::exec(&e),
        args::Invocation::Stop { name, grace } => container::stop(&name, Some(grace)),
        args::Invocation::Kill { name } => container::stop(&name, None),
        args::Invocation::List { json } => container::list(json),
        args::Invocation::Diff { name, json } => layer::diff(&name, json),
        args::Invocation::Commit { name } => layer::commit_or_reset(&name, true),
        args::Invocation::Reset { name } => layer::commit_or_reset(&name, false),
        args::Invocation::Image(cmd) => image::main(&cmd),
    }
}

/// A command line that does not parse: one line naming the option, and
/// where the rest is explained.
fn usage_error(e: &args::ArgError) -> ExitCode {
    let m = e.to_string();
    eprintln!("stockade: {}; see stockade --help", m.trim_end());
    ExitCode::from(125)
}

/// The sandbox policy the options ask for, or a one-line reason why there
/// is none.
pub fn sandbox(opts: &args::Options, origin: &image::Origin) -> Result<Sandbox, String> {
    // The policy file (or the bundle's, or the image's) first, then every
    // other option on top of it.
    let mut sb = match (&opts.policy, image::base(origin, opts.image.as_deref())?) {
        (Some(path), None) => policy(path)?,
        (Some(_), Some(_)) => {
            let other = if opts.image.is_some() {
                "--image"
            } else {
                "--bundle"
            };
            return Err(format!(
                "options --policy and {other} conflict: use --policy with --rootfs, or the \
                 options of the command line with {other}"
            ));
        }
        (None, Some(sb)) => sb,
        (None, None) => Sandbox::new(),
    };
    if opts.system {
        system(&mut sb);
    }
    match opts.net {
        None => {}
        Some(args::NetMode::Isolated) => {
            sb.network(stockade::Network::Isolated);
        }
        Some(args::NetMode::Host) => {
            sb.network(stockade::Network::Host);
        }
        Some(args::NetMode::Filter) => {
            sb.egress(egress(opts));
        }
        Some(args::NetMode::Blocked) => {
            #[cfg(all(feature = "seccomp", feature = "landlock"))]
            sb.network(stockade::Network::Blocked);
            #[cfg(not(all(feature = "seccomp", feature = "landlock")))]
            return Err(format!(
                "{} needs the seccomp and landlock features",
                opts.net_option
            ));
        }
    }
    for &(host, sandbox_port) in &opts.publish {
        sb.publish(host, sandbox_port);
    }
    if let Some(h) = &opts.hostname {
        sb.hostname(h);
    }
    if opts.as_pid_1 {
        sb.program_as_init(true);
    }
    if let Some(sig) = opts.stop_signal {
        sb.stop_signal(sig);
    }
    if let Some(u) = opts.uid {
        sb.uid(u);
    }
    if let Some(g) = opts.gid {
        sb.gid(g);
    }
    if opts.subids {
        sb.subordinate_ids(true);
    }
    if !opts.uid_ranges.is_empty() {
        sb.uid_ranges(opts.uid_ranges.iter().copied());
    }
    if !opts.gid_ranges.is_empty() {
        sb.gid_ranges(opts.gid_ranges.iter().copied());
    }
    if opts.inherit_env {
        sb.inherit_env(true);
    }
    if let Some(r) = &opts.rootfs {
        sb.root_dir(r);
    }
    if opts.expose_host_secrets {
        sb.mask_host_secrets(false);
    }
    if let Some(dir) = &opts.keep_changes {
        let dir = std::path::absolute(dir)
            .map_err(|e| format!("--keep-changes {}: {e}", dir.display()))?;
        sb.writable_root(stockade::fs::Upper::Persistent(dir));
    } else if opts.writable_root {
        sb.writable_root(stockade::fs::Upper::Temporary);
    }
    if opts.no_home {
        sb.private_home(false);
    }
    if opts.sys {
        sb.sys(true);
    }
    for op in &opts.fs_ops {
        sb.fs_op(op.clone());
    }
    if let Some(t) = opts.timeout {
        sb.timeout(t);
    }
    if let Some(t) = opts.cpu_time {
        sb.cpu_time_limit(t);
    }
    for &(r, v) in &opts.rlimits {
        sb.rlimit(r, v, v);
    }
    if let Some(m) = opts.memory {
        sb.memory_limit(m);
    }
    if let Some(s) = opts.swap {
        sb.cgroup_mut().swap_max = Some(s);
    }
    if let Some(n) = opts.pids {
        sb.pids_limit(n);
    }
    if let Some(c) = opts.cpus {
        sb.cpus(c);
    }
    if let Some(p) = &opts.cgroup_parent {
        sb.cgroup_mut().parent = Some(p.into());
    }
    if opts.best_available {
        sb.isolation(stockade::isolation::Isolation::BestAvailable);
    }
    if opts.limits_best_effort {
        sb.cgroup_mut().compat = stockade::CompatLevel::BestEffort;
    }
    if opts.no_observe_denials {
        sb.observe_denials(false);
    }
    if opts.observe_writes {
        sb.observe_writes(true);
    }
    landlock(&mut sb, opts)
        .and_then(|()| seccomp(&mut sb, opts))
        .map_err(str::to_owned)?;
    Ok(sb)
}

/// The egress policy of `--net filter`: the --allow-host, --deny-host,
/// --allow-private, --resolve and --max-connections options (none: an
/// empty policy, nothing reachable). The library checks the rules when the
/// sandbox is spawned.
fn egress(opts: &args::Options) -> stockade::net::Egress {
    let mut e = stockade::net::Egress::new();
    for rule in &opts.allow_hosts {
        e.allow(rule.as_str());
    }
    for rule in &opts.deny_hosts {
        e.deny(rule.as_str());
    }
    for cidr in &opts.allow_private {
        e.allow_private(cidr.as_str());
    }
    if !opts.resolve.is_empty() {
        let mut hosts = stockade::net::Hosts::new();
        for (name, addr) in &opts.resolve {
            hosts = hosts.add(name.as_str(), *addr);
        }
        e.resolver(hosts);
    }
    if let Some(n) = opts.max_connections {
        e.max_connections(n);
    }
    e
}

/// The command the options ask for: the program, its arguments,
/// environment changes and working directory.
pub fn command(opts: &args::Options, origin: &image::Origin) -> Result<Command, String> {
    match origin {
        image::Origin::Image(img) => return image::image_command(opts, img),
        image::Origin::Bundle(b) => return Ok(image::bundle_command(opts, b)),
        image::Origin::Host => {}
    }
    let mut cmd = Command::new(&opts.program);
    cmd.args(&opts.args);
    apply_env_and_dir(&mut cmd, opts);
    Ok(cmd)
}

/// The options' `--setenv`, `--unsetenv` and `--chdir`, on top of what
/// `cmd` has.
pub fn apply_env_and_dir(cmd: &mut Command, opts: &args::Options) {
    for (k, v) in &opts.setenv {
        cmd.env(k, v);
    }
    for k in &opts.unsetenv {
        cmd.env_remove(k);
    }
    if let Some(d) = &opts.chdir {
        cmd.current_dir(d);
    }
}

/// The exit status for a program that could not be started: 127 when it
/// does not exist, 126 when it cannot be executed, 125 otherwise.
pub fn setup_failure_code(e: &Error) -> u8 {
    match e {
        Error::ProgramNotFound { .. } => 127,
        Error::NotExecutable { .. }
        | Error::ArgumentsTooLarge { .. }
        | Error::IsADirectory { .. }
        | Error::InterpreterNotFound { .. } => 126,
        _ => 125,
    }
}

/// The one-line message for a program that could not be started (with the
/// pointer to the opt-in when it is about a host secret).
pub fn setup_failure_message(e: &Error) -> String {
    setup_failure_in_words(e, None, None)
}

/// [`setup_failure_message`], naming the option behind a filesystem
/// operation of `sb` and what a `--rootfs` directory lacks.
pub fn setup_failure_in_words(
    e: &Error,
    sb: Option<&Sandbox>,
    rootfs: Option<&std::path::Path>,
) -> String {
    if matches!(
        e,
        Error::Config(stockade::error::ConfigError::SysNeedsNetworkNamespace)
    ) {
        // In the words of the command line.
        return "stockade: --sys needs the sandbox's own network namespace: the kernel mounts sysfs only for a network namespace of the sandbox's user namespace (use --net none or --net filter, not --share-net or --net-filter)".to_owned();
    }
    let mut m = format!("stockade: {}", words::error(e, sb, rootfs));
    if let Error::Config(stockade::error::ConfigError::Fs(
        stockade::fs::Error::LayerOnOverlay { op, .. }
        | stockade::fs::Error::LayerNoUserXattr { op, .. }
        | stockade::fs::Error::LayerOverlapsLower { op, .. }
        | stockade::fs::Error::LayerInUse { op, .. }
        | stockade::fs::Error::Layer { op, .. },
    )) = e
    {
        if *op == stockade::fs::OpName::Root {
            m.push_str("\nstockade: the root's layer directory is --keep-changes DIR");
        }
    }
    m
}

/// The one-shot form: runs the program in a new sandbox and waits for it.
fn run(opts: &args::Options, action: Option<&remote::Action>) -> ExitCode {
    let mut json_out = match opts.json.then(|| report::JsonOut::open(&opts.json_to)) {
        Some(Ok(out)) => Some(out),
        Some(Err(e)) => {
            eprintln!("stockade: {e}");
            return ExitCode::from(125);
        }
        None => None,
    };
    let mut tail = report::Tail::default();
    let made = image::origin(opts)
        .and_then(|origin| Ok((sandbox(opts, &origin)?, command(opts, &origin)?)));
    let (sb, mut cmd) = match made {
        Ok(m) => m,
        Err(e) => {
            eprintln!("stockade: {e}");
            return ExitCode::from(125);
        }
    };
    if opts.pty {
        cmd.pty(terminal::size());
    }
    if opts.json {
        // For the report's "namespace_ids" (what `lsns` and `nsenter
        // --target` see).
        cmd.record_namespace_ids();
    }
    // With a terminal of its own, losing ours (SIGHUP) ends the program
    // too.
    let ending: &[Signal] = if opts.pty {
        &[Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP]
    } else {
        &ENDING
    };

    // Block the signals we forward before spawning, so none is lost between
    // spawn and the wait loop. The sandbox resets its own mask.
    let ignored = ignored_at_start();
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        if ignored & (1 << (s as u32 - 1)) == 0 {
            mask.add(s);
        }
    }
    let _ = mask.thread_block();
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();

    let start = Instant::now();
    let mut child = match sb.spawn(&mut cmd) {
        Ok(c) => c,
        Err(e) => {
            let code = setup_failure_code(&e);
            eprintln!(
                "{}",
                setup_failure_in_words(&e, Some(&sb), opts.rootfs.as_deref())
            );
            if let Some(out) = &mut json_out {
                let mut j = json::Object::new();
                j.str("status", "setup_failed");
                j.raw("code", "null");
                j.raw("signal", "null");
                j.num("wall_ms", start.elapsed().as_millis() as u64);
                j.str("error", &one_line(&e));
                // Our own line came last: no program output to part from.
                tail = report::Tail::after_own_line();
                out.write(&mut tail, &j.finish());
            }
            return ExitCode::from(code);
        }
    };

    // The host addresses listened on (a port the kernel picked included).
    let published = child.published();

    // With --pty: this terminal in raw mode, relayed to the program's.
    let mut relay = child
        .pty
        .take()
        .map(|p| terminal::Relay::new(std::fs::File::from(p)));
    let raw = match relay {
        Some(_) => match terminal::RawMode::enter() {
            Ok(r) => Some(r),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!("stockade: failed to put the terminal in raw mode: {e}");
                return ExitCode::from(125);
            }
        },
        None => None,
    };

    // The sandbox enforces the timeout itself: wait for it to end, forwarding
    // signals meanwhile. After an ending signal, the sandbox is killed once
    // the grace period is over (or at a second one).
    let mut ending_by: Option<(Signal, Instant)> = None;
    let mut killed = false;
    let status = loop {
        let mut fds = vec![PollFd::new(child.pidfd(), PollFlags::POLLIN)];
        if let Some(s) = &sfd {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        let relay_at = fds.len();
        if let Some(r) = &relay {
            fds.extend(r.poll_fds());
        }
        let timeout = match ending_by {
            Some((_, deadline)) if !killed => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Rounded up, so the deadline has passed when poll returns.
                let ms = left.as_millis().saturating_add(1).min(60_000) as u16;
                PollTimeout::from(ms)
            }
            _ => PollTimeout::NONE,
        };
        let _ = poll(&mut fds, timeout);
        let child_done = fds[0].revents().is_some_and(|r| !r.is_empty());
        let sig_ready = sfd.is_some()
            && fds
                .get(1)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty());
        let relay_ready: Vec<bool> = fds[relay_at..]
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if let Some(r) = &mut relay {
            r.ready(&relay_ready);
        }
        if sig_ready {
            if let Some(s) = &sfd {
                while let Ok(Some(info)) = s.read_signal() {
                    let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                        continue;
                    };
                    if let (Signal::SIGWINCH, Some(r)) = (sig, &relay) {
                        // The program's terminal follows ours (its
                        // foreground job gets SIGWINCH from the kernel).
                        r.resize();
                    } else if !ending.contains(&sig) {
                        let _ = child.signal(sig as i32);
                    } else if ending_by.is_none() {
                        let _ = child.signal(sig as i32);
                        ending_by = Some((sig, Instant::now() + GRACE));
                    } else if !killed {
                        killed = true;
                        let _ = child.kill();
                    }
                }
            }
        }
        if let Some((_, deadline)) = ending_by {
            if !killed && Instant::now() >= deadline {
                killed = true;
                let _ = child.kill();
            }
        }
        if child_done {
            if let Some(r) = &mut relay {
                r.drain();
            }
            match child.wait() {
                Ok(s) => break s,
                Err(e) => {
                    eprintln!("stockade: waiting for the sandbox: {e}");
                    return ExitCode::from(125);
                }
            }
        }
    };
    drop(relay);
    drop(raw);
    let outcome = child.outcome().cloned();
    let verdict = outcome.as_ref().map(|o| o.verdict);
    let denials = outcome
        .as_ref()
        .map_or_else(|| child.denials(), |o| o.denials.clone());

    // Before the JSON report, which stays the last line.
    if opts.denials && worth_saying(&denials) {
        tail.line(&format!("stockade: {}", printable(&denials.to_string())));
    }
    if let Some(hint) = memory_rlimit_hint(opts, &child, &status) {
        tail.line(&hint);
    }

    if let Some(out) = &mut json_out {
        let mut j = json::Object::new();
        j.str("status", verdict.map_or("exited", |v| v.name()));
        j.opt_num("code", status.code().map(|c| c as u64));
        j.opt_num("signal", status.signal().map(|s| s as u64));
        let usage = outcome.as_ref().and_then(|o| o.usage);
        let wall = usage.map_or_else(|| start.elapsed(), |u| u.wall_time);
        j.num("wall_ms", wall.as_millis() as u64);
        j.opt_num("cpu_ms", usage.map(|u| u.cpu_time().as_millis() as u64));
        j.opt_num("user_ms", usage.map(|u| u.user_time.as_millis() as u64));
        j.opt_num("system_ms", usage.map(|u| u.system_time.as_millis() as u64));
        j.opt_num("peak_memory_bytes", usage.map(|u| u.peak_memory_bytes));
        match usage {
            Some(u) => {
                j.bool("peak_memory_whole_sandbox", u.peak_memory_whole_sandbox);
                j.bool("pids_limit_hit", u.pids_limit_hit);
            }
            None => {
                j.raw("peak_memory_whole_sandbox", "null");
                j.raw("pids_limit_hit", "null");
            }
        }
        j.raw("enforcement", &json::enforcement(child.enforcement()));
        j.raw("namespace_ids", &json::namespace_ids(child.namespace_ids()));
        j.raw("published", &json::published(&published));
        j.raw(
            "connections",
            &json::connections(outcome.as_ref().map_or(&[], |o| &o.connections)),
        );
        j.raw("denials", &json::denials(&denials));
        out.write(&mut tail, &j.finish());
    }
    if let Some((sig, _)) = ending_by {
        // The sandbox has ended: now this process, as asked.
        return die_by(sig);
    }
    if verdict == Some(Verdict::TimedOut) {
        if let Some(Err(e)) = action.map(remote::Action::timed_out) {
            tail.line(&format!("stockade: {e}"));
        }
        return ExitCode::from(124);
    }
    match (status.code(), status.signal()) {
        (Some(c), _) => ExitCode::from(c as u8),
        (None, Some(s)) => ExitCode::from(128 + s as u8),
        _ => ExitCode::from(125),
    }
}

/// When `--memory` stood in as `RLIMIT_AS` (`--limits-best-effort`
/// without a memory controller) and the program died by `SIGSEGV` or
/// `SIGKILL`, the likely reason: the kernel kills a program that cannot map
/// what it needs under that limit, sometimes before it runs a single
/// instruction.
fn memory_rlimit_hint(
    opts: &args::Options,
    child: &stockade::Child,
    status: &stockade::ExitStatus,
) -> Option<String> {
    let sig = status.signal()?;
    if sig != libc::SIGSEGV && sig != libc::SIGKILL && sig != libc::SIGBUS {
        return None;
    }
    let memory = opts.memory?;
    let fell_back = child
        .enforcement()
        .rlimit_fallbacks
        .contains(&stockade::Rlimit::As);
    fell_back.then(|| {
        format!(
            "stockade: the program was killed by signal {sig}: --memory {memory} could only be \
             applied as each process's address-space limit (RLIMIT_AS, --limits-best-effort \
             without a memory cgroup), which is likely too small for it to start or run"
        )
    })
}

/// Whether `--denials` has something to say: a refusal, or a source of
/// refusals that was not watched (turned off, or the kernel or an outer
/// filter would not let it be). Silence then means nothing was refused.
fn worth_saying(d: &stockade::denials::Denials) -> bool {
    use stockade::denials::Observation;
    let unwatched = |o: Observation| !matches!(o, Observation::Observed | Observation::NotEnforced);
    !d.is_empty() || d.omitted > 0 || unwatched(d.syscalls) || unwatched(d.network)
}

/// `text` on one line of a terminal: control characters (a newline, an
/// escape sequence in a path the program chose) and the marks that reorder
/// text on screen escaped, so that the line cannot be split, restyled or
/// made to read otherwise by what it quotes.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let reorders = matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        );
        if c.is_control() || reorders {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Applies the --landlock-* options: any of them makes a Landlock policy,
/// a hard requirement unless --landlock-best-effort.
#[cfg(feature = "landlock")]
fn landlock(sb: &mut Sandbox, opts: &args::Options) -> Result<(), &'static str> {
    use stockade::{CompatLevel, landlock};
    if opts.landlock_ro.is_empty()
        && opts.landlock_rw.is_empty()
        && opts.landlock_connect.is_empty()
    {
        return Ok(());
    }
    let mut policy = landlock::Policy::new();
    for p in &opts.landlock_ro {
        policy.allow(p, landlock::FsAccess::READ_EXEC);
    }
    for p in &opts.landlock_rw {
        // Like a read-write bind: read, write and execute.
        policy.allow(
            p,
            landlock::FsAccess::READ_WRITE | landlock::FsAccess::EXECUTE,
        );
    }
    for &port in &opts.landlock_connect {
        policy.allow_tcp_connect(port);
    }
    if opts.landlock_best_effort {
        policy.compat(CompatLevel::BestEffort);
    }
    sb.landlock(policy);
    Ok(())
}

#[cfg(not(feature = "landlock"))]
fn landlock(_: &mut Sandbox, opts: &args::Options) -> Result<(), &'static str> {
    if opts.landlock_ro.is_empty()
        && opts.landlock_rw.is_empty()
        && opts.landlock_connect.is_empty()
    {
        Ok(())
    } else {
        Err("this build has no Landlock support (feature \"landlock\")")
    }
}

/// `start --system`: what a userland's own init (systemd) expects of a
/// container, applied before the other options, which may change any of
/// it.
fn system(sb: &mut Sandbox) {
    use stockade::caps::{Capability, Policy};
    let mut caps = Policy::new();
    // Never CAP_SYS_PTRACE: the library refuses it (its supervisor shares
    // the caller's memory).
    caps.keep_all(
        Capability::ALL
            .iter()
            .copied()
            .filter(|&c| c != Capability::SysPtrace),
    )
    .no_new_privs(false)
    .lock_noroot(false);
    sb.capabilities(caps)
        .uid(0)
        .gid(0)
        .sys(true)
        .tmpfs("/run", Default::default())
        .tmpfs("/run/lock", Default::default())
        .mount_cgroup(true)
        .stop_signal(libc::SIGRTMIN() + 3);
    // A cgroup of the container's own (under the caller's, unless
    // --cgroup-parent says where).
    sb.cgroup_mut().placement = true;
    #[cfg(feature = "seccomp")]
    sb.seccomp(None);
}

/// Applies --seccomp: the library's default profile unless `none`.
#[cfg(feature = "seccomp")]
fn seccomp(sb: &mut Sandbox, opts: &args::Options) -> Result<(), &'static str> {
    match opts.seccomp {
        Some(args::SeccompMode::None) => {
            sb.seccomp(None);
        }
        Some(args::SeccompMode::Default) => {
            sb.seccomp(stockade::seccomp::Policy::default_profile());
        }
        None => {}
    }
    Ok(())
}

#[cfg(not(feature = "seccomp"))]
fn seccomp(_: &mut Sandbox, opts: &args::Options) -> Result<(), &'static str> {
    match opts.seccomp {
        Some(args::SeccompMode::Default) => {
            Err("this build has no seccomp support (feature \"seccomp\")")
        }
        _ => Ok(()),
    }
}

/// Reads the sandbox policy in `path`: JSON when the name ends in `.json`,
/// TOML otherwise.
#[cfg(feature = "serde")]
fn policy(path: &std::path::Path) -> Result<Sandbox, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read policy file {}: {e}", path.display()))?;
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parsed = if json {
        Sandbox::from_json(&text)
    } else {
        Sandbox::from_toml(&text)
    };
    parsed.map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(not(feature = "serde"))]
fn policy(_: &std::path::Path) -> Result<Sandbox, String> {
    Err("this build has no policy file support (feature \"serde\")".to_owned())
}

/// The error and its causes on one line.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
