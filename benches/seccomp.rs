//! seccomp costs: compiling the default profile, attaching it, what it
//! adds to each system call, and what it adds to a sandbox spawn.
//!
//! Attaching and running system calls happen in forked children (a filter
//! cannot be removed); each child times only its own work and reports the
//! elapsed nanoseconds over a pipe.
//!
//! Variants for the per-call cost:
//! - `none`: no filter;
//! - `default`: the default profile as installed by sandboxes; allowed
//!   calls without argument checks are served by the kernel's action cache
//!   (Linux 5.11) and never run the filter;
//! - `default_uncached`: the same program behind one leading load of the
//!   instruction pointer, which the kernel's cache emulation cannot
//!   evaluate, so every call runs the filter: the cost of the binary search;
//! - `linear_uncached`: the same allowed set compiled by seccompiler's
//!   linear `SeccompFilter` (one comparison per allowed call, in number
//!   order), also uncached: what the search saves.

use std::ffi::CString;
use std::hint::black_box;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use stockade::{Command, Sandbox, Stdio, seccomp};

const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
/// `offsetof(struct seccomp_data, instruction_pointer)`
const OFFSET_IP: u32 = 8;

#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xc000_00b7;

/// Whether `prog` allows `nr` on the native architecture without looking
/// at arguments (follows only nr/arch loads and constant jumps).
fn const_allows(prog: &[libc::sock_filter], nr: u32) -> bool {
    let (mut acc, mut pc) = (0u32, 0usize);
    while let Some(ins) = prog.get(pc) {
        match ins.code {
            LD_W_ABS if ins.k == 0 => acc = nr,
            LD_W_ABS if ins.k == 4 => acc = NATIVE_ARCH,
            JMP_JA => pc += ins.k as usize,
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => {
                let taken = match ins.code {
                    JMP_JEQ_K => acc == ins.k,
                    JMP_JGT_K => acc > ins.k,
                    _ => acc >= ins.k,
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            RET_K => return ins.k == libc::SECCOMP_RET_ALLOW,
            _ => return false,
        }
        pc += 1;
    }
    false
}

/// Prepends a load of the instruction pointer, which defeats the kernel's
/// action cache without changing any decision (the next instruction loads
/// the architecture into the same register).
fn uncached(prog: &[libc::sock_filter]) -> Vec<libc::sock_filter> {
    let mut out = vec![libc::sock_filter {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: OFFSET_IP,
    }];
    out.extend_from_slice(prog);
    out
}

/// seccompiler's linear layout for the system calls `default` allows
/// without argument checks (everything else: EPERM).
fn linear(default: &[libc::sock_filter]) -> Vec<libc::sock_filter> {
    let rules = (0..1024u32)
        .filter(|&nr| const_allows(default, nr))
        .map(|nr| (i64::from(nr), Vec::new()))
        .collect();
    let filter = seccompiler::SeccompFilter::new(
        rules,
        seccompiler::SeccompAction::Errno(libc::EPERM as u32),
        seccompiler::SeccompAction::Allow,
        std::env::consts::ARCH
            .try_into()
            .expect("supported architecture"),
    )
    .expect("valid filter");
    let prog: seccompiler::BpfProgram = filter.try_into().expect("filter fits");
    prog.into_iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect()
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2")
}

/// Installs `prog` on the calling thread with raw system calls.
fn install(prog: &[libc::sock_filter]) -> bool {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers only.
    let nnp = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    // SAFETY: `fprog` points to `prog`, which outlives the call; the kernel
    // copies the program.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    };
    nnp == 0 && ret == 0
}

/// Forks a child that optionally installs `prog` first (untimed, unless
/// `time_install`), then times `body` and reports the elapsed time.
fn timed_in_child(
    prog: Option<&[libc::sock_filter]>,
    time_install: bool,
    body: impl FnOnce(),
) -> Duration {
    let (reader, writer) = pipe();
    // SAFETY: the child only runs the measured code, writes to a pipe and
    // leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let start = Instant::now();
        let installed = prog.is_none_or(install);
        let start = if time_install { start } else { Instant::now() };
        if !time_install {
            body();
        }
        let nanos = start.elapsed().as_nanos() as u64;
        let report = if installed { nanos } else { u64::MAX };
        let bytes = report.to_ne_bytes();
        // SAFETY: writing a local buffer to our pipe, then leaving the child.
        unsafe { libc::write(writer.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        // SAFETY: leave without running the parent's code.
        unsafe { libc::_exit(0) };
    }
    drop(writer);
    let mut raw = [0u8; 8];
    std::fs::File::from(reader)
        .read_exact(&mut raw)
        .expect("child report");
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let nanos = u64::from_ne_bytes(raw);
    assert_ne!(nanos, u64::MAX, "the filter could not be installed");
    Duration::from_nanos(nanos)
}

fn compile(c: &mut Criterion) {
    let policy = seccomp::Policy::default_profile();
    let report = policy.validate().expect("default profile compiles");
    eprintln!(
        "default profile: {} instructions, {} allowed, {} conditional, {} rules",
        report.instructions, report.allowed_syscalls, report.conditional_syscalls, report.rules
    );
    c.bench_function("compile/default_profile", |b| {
        b.iter(|| black_box(&policy).to_bpf().expect("compiles"))
    });
    c.bench_function("compile/default_profile_built_and_compiled", |b| {
        b.iter(|| {
            seccomp::Policy::default_profile()
                .to_bpf()
                .expect("compiles")
        })
    });
}

fn attach(c: &mut Criterion) {
    let default = seccomp::Policy::default_profile()
        .to_bpf()
        .expect("compiles");
    let mut group = c.benchmark_group("attach");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4));
    group.bench_function("default_profile", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| timed_in_child(Some(&default), true, || {}))
                .sum()
        })
    });
    group.finish();
}

fn per_syscall(c: &mut Criterion) {
    let default = seccomp::Policy::default_profile()
        .to_bpf()
        .expect("compiles");
    let default_uncached = uncached(&default);
    let linear_uncached = uncached(&linear(&default));
    eprintln!(
        "programs: default {} instructions, linear {} instructions",
        default.len(),
        linear_uncached.len() - 1
    );
    let variants: [(&str, Option<&[libc::sock_filter]>); 4] = [
        ("none", None),
        ("default", Some(&default)),
        ("default_uncached", Some(&default_uncached)),
        ("linear_uncached", Some(&linear_uncached)),
    ];

    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<CString> = (0..1000)
        .map(|i| {
            let path = dir.path().join(format!("f{i}"));
            std::fs::write(&path, b"x").expect("write");
            CString::new(path.into_os_string().into_encoded_bytes()).expect("path")
        })
        .collect();
    let (pipe_r, _pipe_w) = pipe();
    let pipe_fd = pipe_r.as_raw_fd();

    let mut group = c.benchmark_group("syscall");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(3));
    for (name, prog) in variants {
        group.bench_with_input(BenchmarkId::new("getppid", name), &prog, |b, prog| {
            b.iter_custom(|iters| {
                timed_in_child(*prog, false, || {
                    for _ in 0..iters {
                        // SAFETY: getppid takes no arguments.
                        black_box(unsafe { libc::syscall(libc::SYS_getppid) });
                    }
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("fstat", name), &prog, |b, prog| {
            b.iter_custom(|iters| {
                timed_in_child(*prog, false, || {
                    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
                    for _ in 0..iters {
                        // SAFETY: `st` is a valid out buffer for fstat.
                        black_box(unsafe { libc::fstat(pipe_fd, st.as_mut_ptr()) });
                    }
                })
            })
        });
        group.bench_with_input(
            BenchmarkId::new("stat_1000_files", name),
            &prog,
            |b, prog| {
                b.iter_custom(|iters| {
                    timed_in_child(*prog, false, || {
                        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
                        for i in 0..iters as usize {
                            let path = &files[i % files.len()];
                            // SAFETY: a valid C path and out buffer.
                            black_box(unsafe { libc::stat(path.as_ptr(), st.as_mut_ptr()) });
                        }
                    })
                })
            },
        );
        // ioctl is argument-checked: the kernel runs the filter on every call.
        group.bench_with_input(
            BenchmarkId::new("ioctl_fionread", name),
            &prog,
            |b, prog| {
                b.iter_custom(|iters| {
                    timed_in_child(*prog, false, || {
                        let mut n: libc::c_int = 0;
                        for _ in 0..iters {
                            // SAFETY: FIONREAD writes an int to `n`.
                            black_box(unsafe { libc::ioctl(pipe_fd, libc::FIONREAD, &mut n) });
                        }
                    })
                })
            },
        );
    }
    group.finish();
}

/// A noise-resistant summary printed before the criterion runs: for each
/// variant and call, the fastest of several fresh children, each making
/// 200 000 calls (the machine may be shared; the minimum is the least
/// disturbed run). Variants are interleaved so that load hits them alike.
fn summary(_: &mut Criterion) {
    const CALLS: u64 = 200_000;
    const RUNS: usize = 11;
    let default = seccomp::Policy::default_profile()
        .to_bpf()
        .expect("compiles");
    let default_uncached = uncached(&default);
    let linear_uncached = uncached(&linear(&default));
    let variants: [(&str, Option<&[libc::sock_filter]>); 4] = [
        ("none", None),
        ("default", Some(&default)),
        ("default_uncached", Some(&default_uncached)),
        ("linear_uncached", Some(&linear_uncached)),
    ];
    let (pipe_r, _pipe_w) = pipe();
    let fd = pipe_r.as_raw_fd();
    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<CString> = (0..1000)
        .map(|i| {
            let path = dir.path().join(format!("f{i}"));
            std::fs::write(&path, b"x").expect("write");
            CString::new(path.into_os_string().into_encoded_bytes()).expect("path")
        })
        .collect();
    let next = std::cell::Cell::new(0usize);
    let calls: [(&str, &dyn Fn()); 4] = [
        ("getppid", &|| {
            // SAFETY: getppid takes no arguments.
            black_box(unsafe { libc::syscall(libc::SYS_getppid) });
        }),
        ("fstat", &|| {
            let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
            // SAFETY: `st` is a valid out buffer for fstat.
            black_box(unsafe { libc::fstat(fd, st.as_mut_ptr()) });
        }),
        ("stat_1000_files", &|| {
            let path = &files[next.get() % files.len()];
            next.set(next.get() + 1);
            let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
            // SAFETY: a valid C path and out buffer.
            black_box(unsafe { libc::stat(path.as_ptr(), st.as_mut_ptr()) });
        }),
        ("ioctl_fionread", &|| {
            let mut n: libc::c_int = 0;
            // SAFETY: FIONREAD writes an int to `n`.
            black_box(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) });
        }),
    ];
    eprintln!("ns per call, fastest of {RUNS} children x {CALLS} calls:");
    eprintln!(
        "{:<16}{:>10}{:>10}{:>18}{:>17}",
        "call", "none", "default", "default_uncached", "linear_uncached"
    );
    for (name, call) in calls {
        let mut best = [f64::INFINITY; 4];
        for _ in 0..RUNS {
            for (slot, (_, prog)) in best.iter_mut().zip(&variants) {
                let elapsed = timed_in_child(*prog, false, || (0..CALLS).for_each(|_| call()));
                *slot = slot.min(elapsed.as_nanos() as f64 / CALLS as f64);
            }
        }
        eprintln!(
            "{name:<16}{:>10.1}{:>10.1}{:>18.1}{:>17.1}",
            best[0], best[1], best[2], best[3]
        );
    }
    let mut attach = f64::INFINITY;
    for _ in 0..51 {
        attach = attach.min(timed_in_child(Some(&default), true, || {}).as_nanos() as f64);
    }
    eprintln!(
        "attach (no_new_privs + seccomp), fastest of 51: {:.1} us",
        attach / 1000.0
    );
}

/// The default sandbox and the same without a filter; the policy (and the
/// filter) is compiled once, before timing.
fn sandboxes() -> [(&'static str, Sandbox); 2] {
    let with = Sandbox::new();
    let mut without = Sandbox::new();
    without.seccomp(None);
    with.validate().expect("default sandbox");
    without.validate().expect("sandbox without a filter");
    [("default_filter", with), ("no_filter", without)]
}

fn spawn_true(sb: &Sandbox) {
    let status = sb
        .status(
            Command::new("/bin/true")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("spawn");
    assert!(status.success());
}

/// Spawn and wait for `/bin/true` in the default sandbox, with and without
/// the default profile: the difference is attaching the filter in the
/// program process (plus the filter's cost for the calls `true` and the
/// dynamic loader make).
fn spawn(c: &mut Criterion) {
    let sandboxes = sandboxes();
    // Interleaved medians first: robust against load that shifts during the
    // run.
    const ROUNDS: usize = 301;
    let mut times = [Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS)];
    for _ in 0..ROUNDS {
        for (slot, (_, sb)) in times.iter_mut().zip(&sandboxes) {
            let start = Instant::now();
            spawn_true(sb);
            slot.push(start.elapsed());
        }
    }
    for ((name, _), t) in sandboxes.iter().zip(&mut times) {
        t.sort();
        eprintln!(
            "spawn+wait /bin/true, {name}: median {:.0} us, fastest {:.0} us ({ROUNDS} interleaved runs)",
            t[ROUNDS / 2].as_secs_f64() * 1e6,
            t[0].as_secs_f64() * 1e6
        );
    }
    let mut group = c.benchmark_group("spawn_true");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));
    for (name, sb) in &sandboxes {
        group.bench_function(*name, |b| b.iter(|| spawn_true(sb)));
    }
    group.finish();
}

/// A syscall-heavy real workload: `find /usr` (getdents64 and newfstatat on
/// every entry) in the default sandbox, with and without the default
/// profile, interleaved so both see the same machine, then the ratio.
fn find_usr(c: &mut Criterion) {
    let sandboxes = sandboxes();
    let run = |sb: &Sandbox| {
        let status = sb
            .status(
                Command::new("find")
                    .args(["/usr", "-xdev", "-printf", ""])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            )
            .expect("spawn find");
        // 1: some directories are unreadable without capabilities.
        assert!(matches!(status.code(), Some(0 | 1)), "find: {status}");
    };
    const ROUNDS: usize = 15;
    let mut times = [Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS)];
    run(&sandboxes[0].1); // warm the dentry cache
    for _ in 0..ROUNDS {
        for (slot, (_, sb)) in times.iter_mut().zip(&sandboxes) {
            let start = Instant::now();
            run(sb);
            slot.push(start.elapsed());
        }
    }
    let mut medians = Vec::new();
    for ((name, _), t) in sandboxes.iter().zip(&mut times) {
        t.sort();
        let m = t[ROUNDS / 2];
        medians.push(m);
        eprintln!(
            "find /usr, {name}: median {:.1} ms ({ROUNDS} interleaved runs)",
            m.as_secs_f64() * 1e3
        );
    }
    eprintln!(
        "find /usr: default filter / no filter = {:.3}x",
        medians[0].as_secs_f64() / medians[1].as_secs_f64()
    );
    let mut group = c.benchmark_group("find_usr");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, sb) in &sandboxes {
        group.bench_function(*name, |b| b.iter(|| run(sb)));
    }
    group.finish();
}

criterion_group!(
    benches,
    summary,
    compile,
    attach,
    per_syscall,
    spawn,
    find_usr
);
criterion_main!(benches);
