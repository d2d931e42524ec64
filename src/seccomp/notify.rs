//! Observing refusals: the notifying form of a compiled program, a
//! user-space evaluator of classic BPF over `seccomp_data`, and the
//! decoding of a refused call's arguments.
//!
//! The notifying program is the compiled program with every refusal
//! (`SECCOMP_RET_ERRNO` with an errno other than `ENOSYS`) replaced by
//! `SECCOMP_RET_USER_NOTIF` (Linux 5.0), and, when asked for on Linux
//! 5.5, the allowed calls that write to the filesystem notifying too. Other allowed calls
//! take the same decisions as in the plain program. A notified call waits
//! in the kernel until the caller's observer answers it; the observer runs
//! the *plain* program on the very `seccomp_data` the kernel evaluated: a
//! refusal is recorded and answered with its errno (never "continue": no
//! refused call can run); an allowed write is looked at and let go on
//! (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`), exactly what the plain program
//! decides for those arguments.
//!
//! `ENOSYS` answers are left as they are: they say that a call does not
//! exist (`clone3`, numbers newer than the filter's table), which C
//! libraries probe for and fall back from on every thread they create.

use std::collections::BTreeMap;

use super::codegen::Decision;
use super::rule::{ArgCondition, ArgOp};

/// `SECCOMP_RET_USER_NOTIF`.
pub(crate) const RET_USER_NOTIF: u32 = 0x7fc0_0000;

/// The decisions of the notifying form: every reported refusal becomes a
/// notification; with `writes`, so do the allowed calls that write to the
/// filesystem ([`WRITE_CALLS`]), which the observer lets run (`CONTINUE`:
/// they were allowed) after noting whether they will meet a read-only
/// mount. `None` when nothing would notify.
pub(super) fn notifying_decisions(
    decisions: &BTreeMap<u32, Decision>,
    writes: bool,
    target: &super::table::Target,
) -> Option<BTreeMap<u32, Decision>> {
    let notify = |ret: u32| if reported(ret) { RET_USER_NOTIF } else { ret };
    let mut changed = false;
    let mut out: BTreeMap<u32, Decision> = decisions
        .iter()
        .map(|(&nr, d)| {
            let d2 = match d {
                Decision::Const(ret) => Decision::Const(notify(*ret)),
                Decision::Checked { rules, fallback } => Decision::Checked {
                    rules: rules.iter().map(|(c, r)| (c.clone(), notify(*r))).collect(),
                    fallback: notify(*fallback),
                },
            };
            changed |= &d2 != d;
            (nr, d2)
        })
        .collect();
    if writes {
        for &(name, intent) in WRITE_CALLS {
            let Some(nr) = target.lookup(name) else {
                continue;
            };
            let Some(d) = out.get_mut(&nr) else { continue };
            let write_rules: Vec<(Vec<ArgCondition>, u32)> = match intent {
                WriteIntent::Always => Vec::new(),
                WriteIntent::OpenFlags(arg) => write_flag_conditions(arg)
                    .into_iter()
                    .map(|c| (vec![c], RET_USER_NOTIF))
                    .collect(),
            };
            let allowed = libc::SECCOMP_RET_ALLOW;
            match d {
                Decision::Const(ret) if *ret == allowed => {
                    *d = if write_rules.is_empty() {
                        Decision::Const(RET_USER_NOTIF)
                    } else {
                        Decision::Checked {
                            rules: write_rules,
                            fallback: allowed,
                        }
                    };
                    changed = true;
                }
                Decision::Checked { rules, fallback } if *fallback == allowed => {
                    if write_rules.is_empty() {
                        *fallback = RET_USER_NOTIF;
                    } else {
                        rules.extend(write_rules);
                    }
                    changed = true;
                }
                _ => {}
            }
        }
    }
    changed.then_some(out)
}

/// How an allowed call shows that it writes to the filesystem.
#[derive(Clone, Copy)]
enum WriteIntent {
    /// Whatever its arguments.
    Always,
    /// When its open flags (this argument) ask to write, create or
    /// truncate.
    OpenFlags(u8),
}

/// The calls that write to the filesystem by path, observed for refusals
/// by read-only mounts. `openat2` is observed whatever its flags (they
/// lie in memory the filter cannot read; the observer reads them).
const WRITE_CALLS: &[(&str, WriteIntent)] = &[
    ("open", WriteIntent::OpenFlags(1)),
    ("openat", WriteIntent::OpenFlags(2)),
    ("openat2", WriteIntent::Always),
    ("creat", WriteIntent::Always),
    ("truncate", WriteIntent::Always),
    ("mkdir", WriteIntent::Always),
    ("mkdirat", WriteIntent::Always),
    ("mknod", WriteIntent::Always),
    ("mknodat", WriteIntent::Always),
    ("unlink", WriteIntent::Always),
    ("unlinkat", WriteIntent::Always),
    ("rmdir", WriteIntent::Always),
    ("rename", WriteIntent::Always),
    ("renameat", WriteIntent::Always),
    ("renameat2", WriteIntent::Always),
    ("link", WriteIntent::Always),
    ("linkat", WriteIntent::Always),
    ("symlink", WriteIntent::Always),
    ("symlinkat", WriteIntent::Always),
    ("chmod", WriteIntent::Always),
    ("fchmodat", WriteIntent::Always),
    ("fchmodat2", WriteIntent::Always),
    ("chown", WriteIntent::Always),
    ("lchown", WriteIntent::Always),
    ("fchownat", WriteIntent::Always),
];

/// `flags` ask to write, create or truncate: one condition each.
fn write_flag_conditions(arg: u8) -> Vec<ArgCondition> {
    let masked = |mask: i32, value: i32| {
        ArgCondition::new32(arg, ArgOp::MaskedEq(mask as u64), value as u32)
    };
    vec![
        masked(libc::O_ACCMODE, libc::O_WRONLY),
        masked(libc::O_ACCMODE, libc::O_RDWR),
        masked(libc::O_CREAT, libc::O_CREAT),
        masked(libc::O_TRUNC, libc::O_TRUNC),
    ]
}

/// Where a write call names what it changes: (directory descriptor
/// argument, path argument), each checked for a read-only mount. The
/// directory argument is `None` for calls relative to the working
/// directory.
pub(crate) fn written_paths(syscall: &str) -> &'static [(Option<usize>, usize)] {
    match syscall {
        "open" | "creat" | "truncate" | "mkdir" | "mknod" | "unlink" | "rmdir" | "chmod"
        | "chown" | "lchown" => &[(None, 0)],
        "openat" | "openat2" | "mkdirat" | "mknodat" | "unlinkat" | "fchmodat" | "fchmodat2"
        | "fchownat" => &[(Some(0), 1)],
        "rename" => &[(None, 0), (None, 1)],
        "renameat" | "renameat2" => &[(Some(0), 1), (Some(2), 3)],
        "link" | "symlink" => &[(None, 1)],
        "linkat" => &[(Some(2), 3)],
        "symlinkat" => &[(Some(1), 2)],
        _ => &[],
    }
}

/// What a write call does, in words.
pub(crate) fn write_operation(syscall: &str) -> &'static str {
    match syscall {
        "open" | "openat" | "openat2" | "creat" => "write",
        "truncate" => "truncate",
        "mkdir" | "mkdirat" => "mkdir",
        "mknod" | "mknodat" => "mknod",
        "unlink" | "unlinkat" | "rmdir" => "remove",
        "rename" | "renameat" | "renameat2" => "rename",
        "link" | "linkat" => "link",
        "symlink" | "symlinkat" => "symlink",
        "chmod" | "fchmodat" | "fchmodat2" => "chmod",
        _ => "chown",
    }
}

/// Whether a filter return value is a refusal the observer reports.
fn reported(ret: u32) -> bool {
    ret & libc::SECCOMP_RET_ACTION_FULL == libc::SECCOMP_RET_ERRNO
        && ret & libc::SECCOMP_RET_DATA != libc::ENOSYS as u32
}

/// The errno the plain program answers `data` with: what the observer
/// replies. Anything but a reported refusal (which the kernel would not
/// have sent) is answered `EPERM`: the answer is always a refusal.
pub(crate) fn refusal_errno(program: &[libc::sock_filter], data: &libc::seccomp_data) -> i32 {
    match evaluate(program, data) {
        Some(ret) if ret & libc::SECCOMP_RET_ACTION_FULL == libc::SECCOMP_RET_ERRNO => {
            match (ret & libc::SECCOMP_RET_DATA) as i32 {
                0 => libc::EPERM,
                e => e,
            }
        }
        _ => libc::EPERM,
    }
}

/// Runs a classic BPF program over `data` as the kernel's seccomp
/// interpreter does, for the instructions the kernel admits in seccomp
/// filters (`seccomp_check_filter`). `None` for a program that would have
/// been refused (an out-of-range load or jump, a division by zero).
pub(crate) fn evaluate(program: &[libc::sock_filter], data: &libc::seccomp_data) -> Option<u32> {
    // The seccomp_data words, in the kernel's layout (nr, arch,
    // instruction_pointer, args), read as native-endian 32-bit words.
    let mut words = [0u32; 16];
    words[0] = data.nr as u32;
    words[1] = data.arch;
    let ip = data.instruction_pointer.to_ne_bytes();
    words[2] = u32::from_ne_bytes([ip[0], ip[1], ip[2], ip[3]]);
    words[3] = u32::from_ne_bytes([ip[4], ip[5], ip[6], ip[7]]);
    for (i, arg) in data.args.iter().enumerate() {
        let b = arg.to_ne_bytes();
        words[4 + 2 * i] = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        words[5 + 2 * i] = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
    }
    let len = core::mem::size_of::<libc::seccomp_data>() as u32;
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    // Every jump goes forward, so a program runs at most its length.
    for _ in 0..=program.len() {
        let ins = program.get(pc)?;
        pc += 1;
        let k = ins.k;
        let class = ins.code & 0x07;
        match class {
            // BPF_LD / BPF_LDX
            0x00 | 0x01 => {
                let value = match ins.code & 0xe0 {
                    // BPF_IMM
                    0x00 => k,
                    // BPF_ABS (LD, word size only)
                    0x20 if class == 0x00 && ins.code & 0x18 == 0x00 => {
                        if k % 4 != 0 {
                            return None;
                        }
                        *words.get((k / 4) as usize)?
                    }
                    // BPF_MEM
                    0x60 => *mem.get(k as usize)?,
                    // BPF_LEN
                    0x80 => len,
                    _ => return None,
                };
                if class == 0x00 {
                    a = value;
                } else {
                    x = value;
                }
            }
            // BPF_ST / BPF_STX
            0x02 => *mem.get_mut(k as usize)? = a,
            0x03 => *mem.get_mut(k as usize)? = x,
            // BPF_ALU
            0x04 => {
                let operand = if ins.code & 0x08 != 0 { x } else { k };
                a = match ins.code & 0xf0 {
                    0x00 => a.wrapping_add(operand),
                    0x10 => a.wrapping_sub(operand),
                    0x20 => a.wrapping_mul(operand),
                    0x30 => a.checked_div(operand)?,
                    0x40 => a | operand,
                    0x50 => a & operand,
                    0x60 => a.checked_shl(operand).unwrap_or(0),
                    0x70 => a.checked_shr(operand).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => a.checked_rem(operand)?,
                    0xa0 => a ^ operand,
                    _ => return None,
                };
            }
            // BPF_JMP
            0x05 => {
                let operand = if ins.code & 0x08 != 0 { x } else { k };
                let op = ins.code & 0xf0;
                if op == 0x00 {
                    pc = pc.checked_add(k as usize)?;
                    continue;
                }
                let taken = match op {
                    0x10 => a == operand,
                    0x20 => a > operand,
                    0x30 => a >= operand,
                    0x40 => a & operand != 0,
                    _ => return None,
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            // BPF_RET
            0x06 => {
                return Some(match ins.code & 0x18 {
                    0x00 => k,
                    0x10 => a,
                    _ => return None,
                });
            }
            // BPF_MISC: TAX / TXA
            0x07 => {
                if ins.code & 0xf8 == 0x00 {
                    x = a;
                } else {
                    a = x;
                }
            }
            _ => return None,
        }
    }
    None
}

/// How the observer reads a refused call's arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// A path (or name) string in the program's memory.
    Path,
    /// An address family (`socket`, `socketpair`).
    Family,
    /// A socket type.
    SocketType,
    /// `CLONE_*` flags (`clone`, `unshare`, `setns`).
    CloneFlags,
    /// An `ioctl` request number.
    Request,
    /// A `ptrace` request.
    Ptrace,
    /// A plain number.
    Number,
}

/// The arguments of `syscall` worth showing, as (index, name, kind).
pub(crate) fn interesting_args(syscall: &str) -> &'static [(usize, &'static str, ArgKind)] {
    use ArgKind::*;
    match syscall {
        "open" | "creat" | "mkdir" | "mknod" | "unlink" | "rmdir" | "chmod" | "chown"
        | "lchown" | "truncate" | "chroot" | "chdir" | "umount2" | "swapon" | "swapoff"
        | "acct" | "execve" | "setxattr" | "lsetxattr" | "removexattr" | "lremovexattr"
        | "utime" | "utimes" | "access" | "readlink" | "stat" | "lstat" | "statfs" | "uselib"
        | "delete_module" | "rename" | "link" | "getxattr" | "lgetxattr" | "listxattr"
        | "llistxattr" => &[(0, "path", Path)],
        "openat" | "openat2" | "mkdirat" | "mknodat" | "unlinkat" | "renameat" | "renameat2"
        | "linkat" | "fchmodat" | "fchmodat2" | "fchownat" | "execveat" | "utimensat"
        | "faccessat" | "faccessat2" | "newfstatat" | "statx" | "readlinkat" | "open_tree"
        | "name_to_handle_at" | "inotify_add_watch" | "futimesat" | "quotactl"
        | "mount_setattr" | "move_mount" => &[(1, "path", Path)],
        "symlink" => &[(1, "path", Path)],
        "symlinkat" => &[(2, "path", Path)],
        "mount" => &[(1, "target", Path), (0, "source", Path), (2, "type", Path)],
        "pivot_root" => &[(0, "new_root", Path)],
        "fsopen" => &[(0, "type", Path)],
        "add_key" | "request_key" => &[(0, "type", Path)],
        "socket" => &[(0, "family", Family), (1, "type", SocketType)],
        "socketpair" => &[(0, "family", Family), (1, "type", SocketType)],
        "clone" | "unshare" => &[(0, "flags", CloneFlags)],
        "setns" => &[(1, "nstype", CloneFlags)],
        "ioctl" => &[(1, "request", Request)],
        "ptrace" => &[(0, "request", Ptrace), (1, "pid", Number)],
        "keyctl" => &[(0, "operation", Number)],
        "bpf" => &[(0, "cmd", Number)],
        "personality" => &[(0, "persona", Request)],
        "kill" | "tkill" | "pidfd_open" | "process_vm_readv" | "process_vm_writev" => {
            &[(0, "pid", Number)]
        }
        "prctl" => &[(0, "option", Number)],
        _ => &[],
    }
}

/// A value of a non-path argument, in words.
pub(crate) fn describe(kind: ArgKind, value: u64) -> String {
    match kind {
        ArgKind::Family => {
            family_name(value as i32).map_or_else(|| value.to_string(), str::to_owned)
        }
        ArgKind::SocketType => {
            let ty = (value as i32) & 0xf;
            match ty {
                libc::SOCK_STREAM => "SOCK_STREAM".to_owned(),
                libc::SOCK_DGRAM => "SOCK_DGRAM".to_owned(),
                libc::SOCK_RAW => "SOCK_RAW".to_owned(),
                libc::SOCK_SEQPACKET => "SOCK_SEQPACKET".to_owned(),
                other => other.to_string(),
            }
        }
        ArgKind::CloneFlags => {
            let names: Vec<&str> = CLONE_FLAGS
                .iter()
                .filter(|(bit, _)| value & bit != 0)
                .map(|&(_, name)| name)
                .collect();
            if names.is_empty() {
                format!("{value:#x}")
            } else {
                names.join("|")
            }
        }
        ArgKind::Request => format!("{value:#x}"),
        ArgKind::Ptrace => match value as u32 {
            0 => "PTRACE_TRACEME".to_owned(),
            16 => "PTRACE_ATTACH".to_owned(),
            0x4206 => "PTRACE_SEIZE".to_owned(),
            1 | 2 => "PTRACE_PEEK".to_owned(),
            other => other.to_string(),
        },
        ArgKind::Number | ArgKind::Path => (value as i64).to_string(),
    }
}

/// The `CLONE_*` bits worth naming.
const CLONE_FLAGS: &[(u64, &str)] = &[
    (libc::CLONE_NEWUSER as u64, "CLONE_NEWUSER"),
    (libc::CLONE_NEWNS as u64, "CLONE_NEWNS"),
    (libc::CLONE_NEWPID as u64, "CLONE_NEWPID"),
    (libc::CLONE_NEWNET as u64, "CLONE_NEWNET"),
    (libc::CLONE_NEWUTS as u64, "CLONE_NEWUTS"),
    (libc::CLONE_NEWIPC as u64, "CLONE_NEWIPC"),
    (libc::CLONE_NEWCGROUP as u64, "CLONE_NEWCGROUP"),
    (0x80, "CLONE_NEWTIME"),
];

fn family_name(family: i32) -> Option<&'static str> {
    Some(match family {
        libc::AF_UNIX => "AF_UNIX",
        libc::AF_INET => "AF_INET",
        libc::AF_INET6 => "AF_INET6",
        libc::AF_NETLINK => "AF_NETLINK",
        libc::AF_PACKET => "AF_PACKET",
        libc::AF_BLUETOOTH => "AF_BLUETOOTH",
        libc::AF_VSOCK => "AF_VSOCK",
        libc::AF_ALG => "AF_ALG",
        libc::AF_KEY => "AF_KEY",
        libc::AF_CAN => "AF_CAN",
        libc::AF_XDP => "AF_XDP",
        _ => return None,
    })
}

/// The name of native system call `nr`, when the table knows it.
pub(crate) fn syscall_name(nr: u32) -> Option<&'static str> {
    super::table::NATIVE
        .iter()
        .find(|&&(_, n)| n == nr)
        .map(|&(name, _)| name)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::seccomp::{self, Action, ArgCondition, ArgOp, Policy, SyscallRule};

    fn data(name: &str, args: [u64; 6]) -> libc::seccomp_data {
        libc::seccomp_data {
            nr: super::super::table::lookup(name).expect("known") as i32,
            arch: super::super::table::NATIVE_AUDIT_ARCH,
            instruction_pointer: 0x7fff_1234_5678,
            args,
        }
    }

    #[test]
    fn the_evaluator_agrees_with_the_compiled_decisions() {
        let mut policy = Policy::default_profile();
        policy.rule(
            SyscallRule::new("mkdirat", Action::Errno(libc::EACCES as u16))
                .when(ArgCondition::new(2, ArgOp::MaskedEq(0o777), 0o700)),
        );
        seccomp::add_net_filter(&mut policy);
        let filter = seccomp::compile(&policy).expect("compiles");
        let prog = filter.instructions();
        let ret = |name: &str, args: [u64; 6]| evaluate(prog, &data(name, args)).expect("runs");
        assert_eq!(ret("getpid", [0; 6]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(
            ret("mount", [0; 6]),
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32
        );
        assert_eq!(
            ret("socket", [libc::AF_INET as u64, 1, 0, 0, 0, 0]),
            libc::SECCOMP_RET_ERRNO | libc::EAFNOSUPPORT as u32
        );
        assert_eq!(
            ret("socket", [libc::AF_UNIX as u64, 1, 0, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            ret("mkdirat", [0, 0, 0o700, 0, 0, 0]),
            libc::SECCOMP_RET_ERRNO | libc::EACCES as u32
        );
        assert_eq!(
            ret("mkdirat", [0, 0, 0o755, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW
        );
        // clone with a namespace flag is refused, a plain fork allowed.
        assert_eq!(
            ret("clone", [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0]),
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32
        );
        assert_eq!(
            ret("clone", [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW
        );
        // Another architecture is killed.
        let mut foreign = data("getpid", [0; 6]);
        foreign.arch = 0x4000_0003;
        assert_eq!(
            evaluate(prog, &foreign),
            Some(libc::SECCOMP_RET_KILL_PROCESS)
        );
    }

    #[test]
    fn the_notifying_program_notifies_refusals_and_writes_only() {
        let filter =
            seccomp::compile_observing(&Policy::default_profile(), true).expect("compiles");
        let plain = filter.instructions();
        let notify = filter
            .notify_instructions()
            .expect("the default profile refuses calls");
        let eval = |p: &[libc::sock_filter], name: &str, args: [u64; 6]| {
            evaluate(p, &data(name, args)).expect("runs")
        };
        assert_eq!(eval(notify, "mount", [0; 6]), RET_USER_NOTIF);
        assert_eq!(eval(notify, "getpid", [0; 6]), libc::SECCOMP_RET_ALLOW);
        // clone3's ENOSYS is an answer that the call does not exist.
        assert_eq!(
            eval(notify, "clone3", [0; 6]),
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(refusal_errno(plain, &data("mount", [0; 6])), libc::EPERM);
        if crate::probe::kernel_at_least(5, 5) {
            // Opening to read is not observed; to write, create or
            // truncate it is, and so is every mkdir.
            let flags = |f: i32| [0, 0, f as u64, 0, 0, 0];
            assert_eq!(
                eval(notify, "openat", flags(libc::O_RDONLY)),
                libc::SECCOMP_RET_ALLOW
            );
            assert_eq!(
                eval(
                    notify,
                    "openat",
                    flags(libc::O_RDONLY | libc::O_CLOEXEC | libc::O_DIRECTORY)
                ),
                libc::SECCOMP_RET_ALLOW
            );
            for f in [
                libc::O_WRONLY,
                libc::O_RDWR,
                libc::O_CREAT,
                libc::O_TRUNC | libc::O_CLOEXEC,
            ] {
                assert_eq!(eval(notify, "openat", flags(f)), RET_USER_NOTIF, "{f:#o}");
                // The plain program allows it: the observer lets it go on.
                assert_eq!(eval(plain, "openat", flags(f)), libc::SECCOMP_RET_ALLOW);
            }
            assert_eq!(eval(notify, "mkdirat", [0; 6]), RET_USER_NOTIF);
        }
        assert_eq!(
            filter.observes_writes(),
            crate::probe::kernel_at_least(5, 5)
        );
        // A policy that lets the program mount (a FUSE filesystem could
        // stall the observer's look at a path) or use userfaultfd (a page
        // could stall its read) has its writes left alone.
        for call in ["mount", "userfaultfd"] {
            let mut p = Policy::default_profile();
            p.allow(call);
            let f = seccomp::compile_observing(&p, true).expect("compiles");
            assert!(!f.observes_writes(), "{call}");
            let notify = f.notify_instructions().expect("it still refuses calls");
            assert_eq!(eval(notify, "mkdirat", [0; 6]), libc::SECCOMP_RET_ALLOW);
        }
        // Without asking for writes, only refusals notify.
        let plain_only = seccomp::compile(&Policy::default_profile()).expect("compiles");
        assert!(!plain_only.observes_writes());
        let n = plain_only.notify_instructions().expect("refusals");
        assert_eq!(eval(n, "mkdirat", [0; 6]), libc::SECCOMP_RET_ALLOW);
        // A policy that allows everything has nothing to notify.
        let none = seccomp::compile(&Policy::denylist()).expect("compiles");
        assert!(none.notify_instructions().is_none());
    }

    #[test]
    fn arguments_are_described() {
        assert_eq!(describe(ArgKind::Family, libc::AF_INET as u64), "AF_INET");
        assert_eq!(
            describe(
                ArgKind::CloneFlags,
                (libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as u64
            ),
            "CLONE_NEWUSER|CLONE_NEWNS"
        );
        assert_eq!(describe(ArgKind::Request, 0x5412), "0x5412");
        assert_eq!(describe(ArgKind::Ptrace, 16), "PTRACE_ATTACH");
        assert_eq!(interesting_args("openat")[0].0, 1);
        assert!(syscall_name(super::super::table::lookup("mount").unwrap()) == Some("mount"));
    }
}
