//! Unit tests: the policy model, compilation, and the generated program run
//! through a classic-BPF interpreter and the kernel's action-cache emulation.

use super::codegen::*;
use super::groups::*;
use super::*;

const EPERM: Action = Action::Errno(libc::EPERM as u16);
const ENOSYS: Action = Action::Errno(libc::ENOSYS as u16);
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// `struct seccomp_data`, as the interpreter sees it.
#[derive(Clone, Copy, Default)]
struct Data {
    nr: u32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

impl Data {
    fn native(nr: u32) -> Self {
        Self {
            nr,
            arch: table::NATIVE_AUDIT_ARCH,
            ..Self::default()
        }
    }

    fn with_arg(mut self, index: usize, value: u64) -> Self {
        self.args[index] = value;
        self
    }

    fn load(&self, offset: u32) -> u32 {
        assert!(offset % 4 == 0 && offset < 64, "bad load offset {offset}");
        let word = |v: u64, high: bool| if high { (v >> 32) as u32 } else { v as u32 };
        match offset {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => word(self.ip, offset == 12),
            _ => {
                let i = ((offset - 16) / 8) as usize;
                word(self.args[i], (offset - 16) % 8 == 4)
            }
        }
    }
}

/// Runs a seccomp classic-BPF program the way the kernel does.
fn run(prog: &[libc::sock_filter], data: &Data) -> u32 {
    let mut acc = 0u32;
    let mut pc = 0usize;
    loop {
        let ins = prog[pc];
        match ins.code {
            LD_W_ABS => acc = data.load(ins.k),
            ALU_AND_K => acc &= ins.k,
            JMP_JA => pc += ins.k as usize,
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K | JMP_JSET_K => {
                let taken = match ins.code {
                    JMP_JEQ_K => acc == ins.k,
                    JMP_JGT_K => acc > ins.k,
                    JMP_JGE_K => acc >= ins.k,
                    _ => acc & ins.k != 0,
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            RET_K => return ins.k,
            other => panic!("unexpected opcode {other:#x} at {pc}"),
        }
        pc += 1;
    }
}

/// The kernel's `seccomp_is_const_allow` (kernel/seccomp.c, Linux 5.11+):
/// whether the filter allows `nr` on `arch` without looking at anything
/// else, which makes the kernel cache the call as always allowed.
fn const_allow(prog: &[libc::sock_filter], nr: u32, arch: u32) -> bool {
    let mut reg = 0u32;
    let mut pc = 0usize;
    while pc < prog.len() {
        let ins = prog[pc];
        match ins.code {
            LD_W_ABS => match ins.k {
                OFFSET_NR => reg = nr,
                OFFSET_ARCH => reg = arch,
                _ => return false,
            },
            RET_K => return ins.k == libc::SECCOMP_RET_ALLOW,
            JMP_JA => pc += ins.k as usize,
            JMP_JEQ_K | JMP_JGE_K | JMP_JGT_K | JMP_JSET_K => {
                let taken = match ins.code {
                    JMP_JEQ_K => reg == ins.k,
                    JMP_JGE_K => reg >= ins.k,
                    JMP_JGT_K => reg > ins.k,
                    _ => reg & ins.k != 0,
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            ALU_AND_K => reg &= ins.k,
            _ => return false,
        }
        pc += 1;
    }
    false
}

/// The structural checks the kernel applies when loading a filter
/// (`bpf_check_classic` and `seccomp_check_filter`).
fn check_structure(prog: &[libc::sock_filter]) {
    assert!(!prog.is_empty() && prog.len() <= BPF_MAXINSNS);
    for (pc, ins) in prog.iter().enumerate() {
        match ins.code {
            LD_W_ABS => assert!(ins.k % 4 == 0 && ins.k < 64, "bad load at {pc}"),
            JMP_JA => assert!(
                pc + 1 + (ins.k as usize) < prog.len(),
                "ja out of range at {pc}"
            ),
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K | JMP_JSET_K => {
                assert!(
                    pc + 1 + usize::from(ins.jt) < prog.len(),
                    "jt out of range at {pc}"
                );
                assert!(
                    pc + 1 + usize::from(ins.jf) < prog.len(),
                    "jf out of range at {pc}"
                );
            }
            RET_K | ALU_AND_K => {}
            other => panic!("unexpected opcode {other:#x} at {pc}"),
        }
    }
    assert_eq!(
        prog.last().map(|i| i.code),
        Some(RET_K),
        "program must end in a return"
    );
}

fn nr(name: &str) -> u32 {
    table::lookup(name).unwrap_or_else(|| panic!("{name} not in the native table"))
}

fn compiled(policy: &Policy) -> CompiledFilter {
    let filter = compile(policy).expect("policy compiles");
    check_structure(filter.instructions());
    filter
}

fn verdict(filter: &CompiledFilter, data: Data) -> u32 {
    run(filter.instructions(), &data)
}

fn verdict_of(filter: &CompiledFilter, name: &str) -> u32 {
    verdict(filter, Data::native(nr(name)))
}

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

#[test]
fn default_profile_compiles_and_reports() {
    let filter = compiled(&Policy::default_profile());
    let report = filter.report();
    assert_eq!(report.profile, Profile::Default);
    assert_eq!(report.arch, Arch::NATIVE);
    assert_eq!(report.default_action, EPERM);
    assert_eq!(report.unknown_syscall_action, ENOSYS);
    assert_eq!(report.instructions, filter.instructions().len());
    // ioctl, socket, clone, personality, ptrace.
    assert_eq!(report.conditional_syscalls, 5);
    assert!(report.allowed_syscalls > 250, "{report:?}");
    assert!(report.instructions < 512, "{report:?}");
    assert_eq!(Policy::default(), Policy::default_profile());
}

#[test]
fn program_starts_with_the_architecture_check() {
    let filter = compiled(&Policy::default_profile());
    let prog = filter.instructions();
    assert_eq!((prog[0].code, prog[0].k), (LD_W_ABS, OFFSET_ARCH));
    assert_eq!(
        (prog[1].code, prog[1].k, prog[1].jt, prog[1].jf),
        (JMP_JEQ_K, table::NATIVE_AUDIT_ARCH, 1, 0)
    );
    assert_eq!((prog[2].code, prog[2].k), (RET_K, KILL));
    assert_eq!((prog[3].code, prog[3].k), (LD_W_ABS, OFFSET_NR));
}

#[test]
fn foreign_architectures_and_x32_are_killed() {
    let filter = compiled(&Policy::default_profile());
    for arch in [
        AUDIT_ARCH_I386,
        AUDIT_ARCH_ARM,
        table::AUDIT_ARCH_AARCH64,
        table::AUDIT_ARCH_X86_64,
    ] {
        if arch == table::NATIVE_AUDIT_ARCH {
            continue;
        }
        for n in [0, 1, 20, 39, 172, 500] {
            assert_eq!(
                verdict(
                    &filter,
                    Data {
                        nr: n,
                        arch,
                        ..Data::default()
                    }
                ),
                KILL
            );
        }
    }
    if cfg!(target_arch = "x86_64") {
        for n in [0, 39, 512, 547, 0x3fff_ffff] {
            let x32 = Data::native(table::X32_SYSCALL_BIT | n);
            assert_eq!(verdict(&filter, x32), KILL, "x32 {n}");
        }
        assert_eq!(verdict(&filter, Data::native(0xffff_fffe)), KILL);
    }
    // syscall(-1) is no x32 call: it is unknown.
    assert_eq!(verdict(&filter, Data::native(u32::MAX)), RET_ENOSYS);
}

#[test]
fn unknown_numbers_answer_enosys_and_known_denied_answer_eperm() {
    let filter = compiled(&Policy::default_profile());
    let max = table::max_known();
    for n in [max + 1, max + 100, 1000, 0x3fff_ffff] {
        assert_eq!(verdict(&filter, Data::native(n)), RET_ENOSYS, "nr {n}");
    }
    // Holes in the table are unknown too.
    let known: std::collections::HashSet<u32> = table::NATIVE.iter().map(|&(_, n)| n).collect();
    let holes: Vec<u32> = (0..max).filter(|n| !known.contains(n)).collect();
    assert!(!holes.is_empty());
    for n in holes {
        assert_eq!(verdict(&filter, Data::native(n)), RET_ENOSYS, "hole {n}");
    }
    for name in [
        "unshare",
        "setns",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "add_key",
        "request_key",
        "keyctl",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "mount_setattr",
        "mount",
        "umount2",
        "pivot_root",
        "process_vm_readv",
        "process_vm_writev",
        "reboot",
        "swapon",
        "chroot",
        "open_by_handle_at",
        "pidfd_getfd",
        "kcmp",
        "syslog",
        "lsm_set_self_attr",
        "listns",
        "open_tree_attr",
    ] {
        assert_eq!(verdict_of(&filter, name), RET_EPERM, "{name}");
    }
    assert_eq!(verdict_of(&filter, "clone3"), RET_ENOSYS);
}

#[test]
fn default_profile_argument_guards() {
    let filter = compiled(&Policy::default_profile());
    let ioctl = Data::native(nr("ioctl"));
    assert_eq!(
        verdict(&filter, ioctl.with_arg(1, u64::from(TIOCSTI))),
        RET_EPERM
    );
    assert_eq!(
        verdict(&filter, ioctl.with_arg(1, 0xffff_ffff_0000_5412)),
        RET_EPERM
    );
    assert_eq!(
        verdict(&filter, ioctl.with_arg(1, 0x1_0000_5412)),
        RET_EPERM
    );
    assert_eq!(
        verdict(&filter, ioctl.with_arg(1, u64::from(TIOCLINUX))),
        RET_EPERM
    );
    assert_eq!(
        verdict(&filter, ioctl.with_arg(1, 0xdead_0000_0000_541c)),
        RET_EPERM
    );
    assert_eq!(verdict(&filter, ioctl.with_arg(1, 0x5401)), ALLOW); // TCGETS
    assert_eq!(verdict(&filter, ioctl.with_arg(1, 0x541b)), ALLOW); // FIONREAD
    // The fd argument does not matter.
    assert_eq!(
        verdict(&filter, ioctl.with_arg(0, 5412).with_arg(1, 0x5401)),
        ALLOW
    );

    let socket = Data::native(nr("socket"));
    assert_eq!(
        verdict(&filter, socket.with_arg(0, u64::from(AF_VSOCK))),
        RET_EPERM
    );
    assert_eq!(
        verdict(&filter, socket.with_arg(0, 0xffff_ffff_0000_0028)),
        RET_EPERM
    );
    assert_eq!(verdict(&filter, socket.with_arg(0, 1)), ALLOW); // AF_UNIX
    assert_eq!(verdict(&filter, socket.with_arg(0, 2)), ALLOW); // AF_INET
    assert_eq!(verdict(&filter, socket.with_arg(0, 16)), ALLOW); // AF_NETLINK

    let clone = Data::native(nr("clone"));
    let thread_flags = 0x003d_0f00; // what glibc's pthread_create passes
    assert_eq!(verdict(&filter, clone.with_arg(0, thread_flags)), ALLOW);
    assert_eq!(verdict(&filter, clone.with_arg(0, 0x11)), ALLOW); // fork: SIGCHLD
    assert_eq!(verdict(&filter, clone.with_arg(0, 0x4111)), ALLOW); // vfork
    for flag in [
        0x0002_0000u64,
        0x0200_0000,
        0x0400_0000,
        0x0800_0000,
        0x1000_0000,
        0x2000_0000,
        0x4000_0000,
    ] {
        assert_eq!(
            verdict(&filter, clone.with_arg(0, flag | 0x11)),
            RET_EPERM,
            "{flag:#x}"
        );
    }
    // The kernel ignores the upper half of clone's flags; so does the filter.
    assert_eq!(
        verdict(&filter, clone.with_arg(0, 0xffff_ffff_0000_0011)),
        ALLOW
    );

    let personality = Data::native(nr("personality"));
    assert_eq!(verdict(&filter, personality.with_arg(0, 0)), ALLOW);
    assert_eq!(
        verdict(&filter, personality.with_arg(0, 0xffff_ffff)),
        ALLOW
    );
    for value in [8, 0x0002_0000, 0x0002_0008, 0x0040_0000, 0x0800_0000] {
        assert_eq!(
            verdict(&filter, personality.with_arg(0, value)),
            RET_EPERM,
            "{value:#x}"
        );
    }

    let ptrace = Data::native(nr("ptrace"));
    assert_eq!(verdict(&filter, ptrace.with_arg(0, 0)), ALLOW); // PTRACE_TRACEME
    assert_eq!(verdict(&filter, ptrace.with_arg(0, 7)), ALLOW); // PTRACE_CONT
    assert_eq!(
        verdict(&filter, ptrace.with_arg(0, PTRACE_ATTACH)),
        RET_EPERM
    );
    assert_eq!(
        verdict(&filter, ptrace.with_arg(0, PTRACE_SEIZE)),
        RET_EPERM
    );
    // The kernel compares ptrace's request as a long: this is no attach.
    assert_eq!(verdict(&filter, ptrace.with_arg(0, 0x1_0000_0010)), ALLOW);
}

#[test]
fn allowed_calls_are_cacheable_and_checked_calls_are_not() {
    let policy = Policy::default_profile();
    let filter = compiled(&policy);
    let prog = filter.instructions();
    let mut allowed = 0;
    for &(name, n) in table::NATIVE {
        let expected = verdict(&filter, Data::native(n)) == ALLOW
            && !["ioctl", "socket", "clone", "personality", "ptrace"].contains(&name);
        assert_eq!(
            const_allow(prog, n, table::NATIVE_AUDIT_ARCH),
            expected,
            "{name}"
        );
        allowed += usize::from(expected);
        // No foreign-architecture call is ever cached as allowed.
        assert!(!const_allow(prog, n, AUDIT_ARCH_I386));
    }
    assert_eq!(allowed, filter.report().allowed_syscalls);
}

#[test]
fn argument_checks_are_the_only_argument_loads() {
    // Every load of anything but nr/arch sits inside an argument-check block,
    // which only conditional system calls reach.
    let filter = compiled(&Policy::default_profile());
    let arg_loads = filter
        .instructions()
        .iter()
        .filter(|i| i.code == LD_W_ABS && i.k >= 16)
        .count();
    // ioctl 2, socket 1, clone 1, personality 2, ptrace 2 x 2 words.
    assert_eq!(arg_loads, 2 + 1 + 1 + 2 + 4);
    assert!(
        filter
            .instructions()
            .iter()
            .all(|i| !(i.code == LD_W_ABS && (8..16).contains(&i.k)))
    );
}

#[test]
fn unknown_syscall_name_is_a_typed_error() {
    let mut policy = Policy::default_profile();
    policy.allow("not_a_syscall");
    match compile(&policy) {
        Err(Error::UnknownSyscall { name, arch }) => {
            assert_eq!(name, "not_a_syscall");
            assert_eq!(arch, Arch::NATIVE);
        }
        other => panic!("unexpected: {other:?}"),
    }
    let err = Policy::denylist().deny("mount2").validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "failed to resolve system call `mount2`: it is not in the {} system call table",
            Arch::NATIVE
        )
    );
}

#[test]
fn invalid_argument_index_and_errno_are_typed_errors() {
    let mut policy = Policy::denylist();
    policy.rule(SyscallRule::new("ioctl", EPERM).when(ArgCondition::new(6, ArgOp::Eq, 1)));
    assert!(matches!(
        compile(&policy),
        Err(Error::InvalidArgIndex { ref syscall, index: 6 }) if syscall == "ioctl"
    ));
    let mut policy = Policy::denylist();
    policy.rule(SyscallRule::new("ioctl", Action::Errno(4096)));
    assert!(matches!(
        compile(&policy),
        Err(Error::InvalidErrno { errno: 4096 })
    ));
    let mut policy = Policy::allowlist(Action::Errno(60000));
    policy.allow("read");
    assert!(matches!(
        compile(&policy),
        Err(Error::InvalidErrno { errno: 60000 })
    ));
    let mut policy = Policy::denylist();
    policy.group_action(SyscallGroup::Mount, Action::Errno(5000));
    assert!(matches!(
        compile(&policy),
        Err(Error::InvalidErrno { errno: 5000 })
    ));
    assert!(Policy::allowlist(Action::Errno(4095)).validate().is_ok());
}

#[test]
fn last_matching_rule_wins() {
    let mut policy = Policy::allowlist(EPERM);
    policy.allow_group(SyscallGroup::FileIo).deny("write");
    let filter = compiled(&policy);
    assert_eq!(verdict_of(&filter, "write"), RET_EPERM);
    assert_eq!(verdict_of(&filter, "read"), ALLOW);

    // A later unconditional rule lifts earlier guards.
    let mut policy = Policy::default_profile();
    policy.allow("ptrace");
    let filter = compiled(&policy);
    assert_eq!(filter.report().profile, Profile::Custom);
    assert_eq!(
        verdict(
            &filter,
            Data::native(nr("ptrace")).with_arg(0, PTRACE_ATTACH)
        ),
        ALLOW
    );
    assert_eq!(filter.report().conditional_syscalls, 4);

    // A later conditional rule refines an earlier unconditional one.
    let mut policy = Policy::allowlist(EPERM);
    policy.allow("write").rule(
        SyscallRule::new("write", Action::Errno(libc::EBADF as u16)).when(ArgCondition::new32(
            0,
            ArgOp::Gt,
            2,
        )),
    );
    let filter = compiled(&policy);
    let write = Data::native(nr("write"));
    assert_eq!(verdict(&filter, write.with_arg(0, 1)), ALLOW);
    assert_eq!(
        verdict(&filter, write.with_arg(0, 3)),
        libc::SECCOMP_RET_ERRNO | libc::EBADF as u32
    );

    // Earlier conditional rules are shadowed by a later unconditional one.
    let mut policy = Policy::allowlist(EPERM);
    policy
        .rule(SyscallRule::new("write", Action::Trap).when(ArgCondition::new32(0, ArgOp::Eq, 9)))
        .allow("write");
    let filter = compiled(&policy);
    assert_eq!(verdict(&filter, write.with_arg(0, 9)), ALLOW);
    assert_eq!(filter.report().rules, 1);
    assert_eq!(filter.report().conditional_syscalls, 0);
}

#[test]
fn constant_actions_are_reported_per_system_call() {
    let filter = compiled(&Policy::default_profile());
    assert_eq!(filter.constant_action("execve"), Some(Action::Allow));
    assert_eq!(filter.constant_action("reboot"), Some(EPERM));
    // Guarded: the decision depends on the arguments.
    assert_eq!(filter.constant_action("ioctl"), None);
    assert_eq!(filter.constant_action("no_such_call"), None);

    let mut policy = Policy::allowlist(Action::Errno(libc::EACCES as u16));
    policy.allow_group(SyscallGroup::FileIo);
    let filter = compiled(&policy);
    assert_eq!(
        filter.constant_action("execve"),
        Some(Action::Errno(libc::EACCES as u16))
    );
    policy.allow("execve").rule(
        SyscallRule::new("execve", Action::KillProcess).when(ArgCondition::new(2, ArgOp::Eq, 0)),
    );
    assert_eq!(compiled(&policy).constant_action("execve"), None);
    policy.rule(SyscallRule::new("execve", Action::Log));
    assert_eq!(
        compiled(&policy).constant_action("execve"),
        Some(Action::Log)
    );
}

#[test]
fn conditions_are_anded_and_first_listed_last_evaluated() {
    let mut policy = Policy::allowlist(EPERM);
    policy
        .rule(
            SyscallRule::new("openat", Action::Allow)
                .when(ArgCondition::new32(0, ArgOp::Eq, libc::AT_FDCWD as u32))
                .when(ArgCondition::new(
                    2,
                    ArgOp::MaskedEq(libc::O_ACCMODE as u64),
                    libc::O_RDONLY as u64,
                )),
        )
        .rule(
            SyscallRule::new("openat", Action::Log).when(ArgCondition::new(2, ArgOp::Ge, 1 << 40)),
        );
    let filter = compiled(&policy);
    let openat = Data::native(nr("openat")).with_arg(0, libc::AT_FDCWD as u32 as u64);
    assert_eq!(
        verdict(&filter, openat.with_arg(2, libc::O_RDONLY as u64)),
        ALLOW
    );
    assert_eq!(
        verdict(&filter, openat.with_arg(2, libc::O_WRONLY as u64)),
        RET_EPERM
    );
    assert_eq!(verdict(&filter, openat.with_arg(0, 3)), RET_EPERM);
    assert_eq!(
        verdict(&filter, openat.with_arg(2, 1 << 41)),
        libc::SECCOMP_RET_LOG
    );
    assert_eq!(filter.report().rules, 2);
}

#[test]
fn every_comparison_matches_its_meaning() {
    let values = [
        0u64,
        1,
        2,
        0x7fff_ffff,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0002,
        u64::MAX - 1,
        u64::MAX,
    ];
    let ops = [
        ArgOp::Eq,
        ArgOp::Ne,
        ArgOp::Lt,
        ArgOp::Le,
        ArgOp::Gt,
        ArgOp::Ge,
        ArgOp::MaskedEq(0xff00_0000_00ff),
    ];
    for op in ops {
        for &reference in &values {
            for wide in [true, false] {
                let condition = if wide {
                    ArgCondition::new(3, op, reference)
                } else {
                    ArgCondition::new32(3, op, reference as u32)
                };
                let mut policy = Policy::allowlist(EPERM);
                policy.rule(SyscallRule::new("read", Action::Allow).when(condition));
                let filter = compiled(&policy);
                for &arg in &values {
                    let (a, r) = if wide {
                        (arg, condition.value())
                    } else {
                        (arg & 0xffff_ffff, condition.value())
                    };
                    let holds = match op {
                        ArgOp::Eq => a == r,
                        ArgOp::Ne => a != r,
                        ArgOp::Lt => a < r,
                        ArgOp::Le => a <= r,
                        ArgOp::Gt => a > r,
                        ArgOp::Ge => a >= r,
                        ArgOp::MaskedEq(mask) => {
                            let mask = if wide { mask } else { mask & 0xffff_ffff };
                            a & mask == r & mask
                        }
                    };
                    let got = verdict(&filter, Data::native(nr("read")).with_arg(3, arg));
                    assert_eq!(
                        got == ALLOW,
                        holds,
                        "{op:?} wide={wide} arg={arg:#x} ref={reference:#x}"
                    );
                }
            }
        }
    }
}

#[test]
fn denylist_and_group_actions() {
    let mut policy = Policy::denylist();
    policy
        .deny_group(SyscallGroup::Mount)
        .group_action(SyscallGroup::Keyring, Action::KillProcess);
    let filter = compiled(&policy);
    assert_eq!(verdict_of(&filter, "mount"), RET_EPERM);
    assert_eq!(verdict_of(&filter, "fsopen"), RET_EPERM);
    assert_eq!(verdict_of(&filter, "keyctl"), KILL);
    assert_eq!(verdict_of(&filter, "read"), ALLOW);
    assert_eq!(verdict_of(&filter, "unshare"), ALLOW);
    assert_eq!(
        verdict(&filter, Data::native(table::max_known() + 1)),
        RET_ENOSYS
    );
    let report = filter.report();
    assert_eq!(report.default_action, Action::Allow);
    assert_eq!(report.allowed_syscalls, table::NATIVE.len() - report.rules);

    let mut policy = Policy::denylist();
    policy
        .unknown_syscall_action(Action::Trap)
        .default_action(Action::Log);
    let filter = compiled(&policy);
    assert_eq!(
        verdict(&filter, Data::native(table::max_known() + 1)),
        libc::SECCOMP_RET_TRAP
    );
    assert_eq!(verdict_of(&filter, "read"), libc::SECCOMP_RET_LOG);
}

#[test]
fn privileged_groups_allow_without_guards() {
    let mut policy = Policy::default_profile();
    policy.allow_group(SyscallGroup::Namespaces);
    let filter = compiled(&policy);
    assert_eq!(
        verdict(&filter, Data::native(nr("clone")).with_arg(0, 0x1000_0011)),
        ALLOW
    );
    assert_eq!(verdict_of(&filter, "clone3"), ALLOW);
    assert_eq!(verdict_of(&filter, "unshare"), ALLOW);

    let mut policy = Policy::allowlist(EPERM);
    policy.allow_group(SyscallGroup::Threads);
    let filter = compiled(&policy);
    assert_eq!(
        verdict(&filter, Data::native(nr("clone")).with_arg(0, 0x1000_0011)),
        RET_EPERM
    );
    assert_eq!(
        verdict(&filter, Data::native(nr("clone")).with_arg(0, 0x003d_0f00)),
        ALLOW
    );
    assert_eq!(verdict_of(&filter, "clone3"), RET_ENOSYS);
    assert_eq!(verdict_of(&filter, "futex"), ALLOW);
    assert_eq!(verdict_of(&filter, "read"), RET_EPERM);
}

#[test]
fn rule_counting() {
    let mut policy = Policy::allowlist(EPERM);
    policy
        .allow("read")
        .allow("write")
        .deny("write")
        .allow("read");
    let report = compile(&policy).unwrap().report;
    assert_eq!(report.rules, 2);
    assert_eq!(report.allowed_syscalls, 1);
    assert_eq!(report.profile, Profile::Custom);
    assert_eq!(Policy::allowlist(EPERM).validate().unwrap().rules, 0);
    // An allowlist with no rules is just the checks and two returns.
    assert!(Policy::allowlist(EPERM).validate().unwrap().instructions < 16);
}

#[test]
fn group_members_exist_and_privileged_ones_stay_out_of_the_default_profile() {
    let all: std::collections::HashSet<&str> = table::X86_64
        .iter()
        .chain(table::AARCH64)
        .map(|&(name, _)| name)
        .collect();
    for &group in SyscallGroup::ALL {
        for name in group.syscalls() {
            assert!(all.contains(name), "{group:?}: {name}");
        }
    }
    let filter = compiled(&Policy::default_profile());
    for &group in SyscallGroup::ALL.iter().filter(|g| g.is_privileged()) {
        for &name in group.syscalls() {
            let Some(n) = table::lookup(name) else {
                continue;
            };
            if ["clone", "clone3", "ptrace"].contains(&name) {
                continue; // guarded in the default profile, checked elsewhere
            }
            assert_eq!(
                verdict(&filter, Data::native(n)),
                RET_EPERM,
                "{group:?}: {name}"
            );
        }
    }
    assert_eq!(SyscallGroup::ALL.len(), 20);
    assert_eq!(
        SyscallGroup::ALL
            .iter()
            .filter(|g| !g.is_privileged())
            .count(),
        12
    );
}

/// The system calls Docker's default profile (moby `profiles/seccomp/default.json`)
/// allows on x86_64 to a container without capabilities, unconditionally or
/// with argument conditions.
#[cfg(target_arch = "x86_64")]
const DOCKER_X86_64: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "add_key",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "clock_adjtime",
    "clock_getres",
    "clock_gettime",
    "clock_nanosleep",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchownat",
    "fcntl",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstatfs",
    "fsync",
    "ftruncate",
    "futex",
    "futex_requeue",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresuid",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "keyctl",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedsend",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "request_key",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "sendfile",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsuid",
    "setgid",
    "setgroups",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "socketpair",
    "splice",
    "stat",
    "statfs",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_settime",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_settime",
    "times",
    "tkill",
    "truncate",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "write",
    "writev",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "socket",
    "personality",
    "arch_prctl",
    "modify_ldt",
    "clone",
];

#[test]
#[cfg(target_arch = "x86_64")]
fn default_profile_is_a_subset_of_docker() {
    let filter = compiled(&Policy::default_profile());
    let mut allowed = Vec::new();
    for &(name, n) in table::NATIVE {
        let data = Data::native(n);
        // Allowed for some arguments (a guarded call allows most of them).
        let some_allowed = [0u64, 1, 0x11, 0x5401, 0x003d_0f00]
            .iter()
            .any(|&a| verdict(&filter, data.with_arg(0, a).with_arg(1, a)) == ALLOW);
        if some_allowed {
            allowed.push(name);
            assert!(
                DOCKER_X86_64.contains(&name),
                "{name} is allowed but Docker denies it"
            );
        }
    }
    let denied_here: std::collections::BTreeSet<&str> = DOCKER_X86_64
        .iter()
        .copied()
        .filter(|name| table::lookup(name).is_some() && !allowed.contains(name))
        .collect();
    let expected: std::collections::BTreeSet<&str> = [
        "add_key",
        "keyctl",
        "request_key",
        "modify_ldt",
        "process_vm_readv",
        "process_vm_writev",
    ]
    .into_iter()
    .collect();
    assert_eq!(denied_here, expected);
}

#[test]
#[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
fn table_matches_libc() {
    macro_rules! check {
        ($($sys:ident)*) => {
            $(
                let name = &stringify!($sys)["SYS_".len()..];
                assert_eq!(table::lookup(name).map(i64::from), Some(libc::$sys), "{name}");
            )*
        };
    }
    check! {
        SYS_read SYS_write SYS_open SYS_close SYS_stat SYS_fstat SYS_lstat SYS_poll SYS_lseek
        SYS_mmap SYS_mprotect SYS_munmap SYS_brk SYS_rt_sigaction SYS_rt_sigprocmask
        SYS_rt_sigreturn SYS_ioctl SYS_pread64 SYS_pwrite64 SYS_readv SYS_writev SYS_access
        SYS_pipe SYS_select SYS_sched_yield SYS_mremap SYS_msync SYS_mincore SYS_madvise
        SYS_shmget SYS_shmat SYS_shmctl SYS_dup SYS_dup2 SYS_pause SYS_nanosleep SYS_getitimer
        SYS_alarm SYS_setitimer SYS_getpid SYS_sendfile SYS_socket SYS_connect SYS_accept
        SYS_sendto SYS_recvfrom SYS_sendmsg SYS_recvmsg SYS_shutdown SYS_bind SYS_listen
        SYS_getsockname SYS_getpeername SYS_socketpair SYS_setsockopt SYS_getsockopt SYS_clone
        SYS_fork SYS_vfork SYS_execve SYS_exit SYS_wait4 SYS_kill SYS_uname SYS_semget SYS_semop
        SYS_semctl SYS_shmdt SYS_msgget SYS_msgsnd SYS_msgrcv SYS_msgctl SYS_fcntl SYS_flock
        SYS_fsync SYS_fdatasync SYS_truncate SYS_ftruncate SYS_getdents SYS_getcwd SYS_chdir
        SYS_fchdir SYS_rename SYS_mkdir SYS_rmdir SYS_creat SYS_link SYS_unlink SYS_symlink
        SYS_readlink SYS_chmod SYS_fchmod SYS_chown SYS_fchown SYS_lchown SYS_umask
        SYS_gettimeofday SYS_getrlimit SYS_getrusage SYS_sysinfo SYS_times SYS_ptrace SYS_getuid
        SYS_syslog SYS_getgid SYS_setuid SYS_setgid SYS_geteuid SYS_getegid SYS_setpgid
        SYS_getppid SYS_getpgrp SYS_setsid SYS_setreuid SYS_setregid SYS_getgroups SYS_setgroups
        SYS_setresuid SYS_getresuid SYS_setresgid SYS_getresgid SYS_getpgid SYS_setfsuid
        SYS_setfsgid SYS_getsid SYS_capget SYS_capset SYS_rt_sigpending SYS_rt_sigtimedwait
        SYS_rt_sigqueueinfo SYS_rt_sigsuspend SYS_sigaltstack SYS_utime SYS_mknod SYS_uselib
        SYS_personality SYS_ustat SYS_statfs SYS_fstatfs SYS_sysfs SYS_getpriority SYS_setpriority
        SYS_sched_setparam SYS_sched_getparam SYS_sched_setscheduler SYS_sched_getscheduler
        SYS_sched_get_priority_max SYS_sched_get_priority_min SYS_sched_rr_get_interval SYS_mlock
        SYS_munlock SYS_mlockall SYS_munlockall SYS_vhangup SYS_modify_ldt SYS_pivot_root
        SYS__sysctl SYS_prctl SYS_arch_prctl SYS_adjtimex SYS_setrlimit SYS_chroot SYS_sync
        SYS_acct SYS_settimeofday SYS_mount SYS_umount2 SYS_swapon SYS_swapoff SYS_reboot
        SYS_sethostname SYS_setdomainname SYS_iopl SYS_ioperm SYS_init_module SYS_delete_module
        SYS_quotactl SYS_nfsservctl SYS_getpmsg SYS_putpmsg SYS_afs_syscall SYS_tuxcall
        SYS_security SYS_gettid SYS_readahead SYS_setxattr SYS_lsetxattr SYS_fsetxattr
        SYS_getxattr SYS_lgetxattr SYS_fgetxattr SYS_listxattr SYS_llistxattr SYS_flistxattr
        SYS_removexattr SYS_lremovexattr SYS_fremovexattr SYS_tkill SYS_time SYS_futex
        SYS_sched_setaffinity SYS_sched_getaffinity SYS_set_thread_area SYS_io_setup
        SYS_io_destroy SYS_io_getevents SYS_io_submit SYS_io_cancel SYS_get_thread_area
        SYS_lookup_dcookie SYS_epoll_create SYS_epoll_ctl_old SYS_epoll_wait_old
        SYS_remap_file_pages SYS_getdents64 SYS_set_tid_address SYS_restart_syscall SYS_semtimedop
        SYS_fadvise64 SYS_timer_create SYS_timer_settime SYS_timer_gettime SYS_timer_getoverrun
        SYS_timer_delete SYS_clock_settime SYS_clock_gettime SYS_clock_getres SYS_clock_nanosleep
        SYS_exit_group SYS_epoll_wait SYS_epoll_ctl SYS_tgkill SYS_utimes SYS_vserver SYS_mbind
        SYS_set_mempolicy SYS_get_mempolicy SYS_mq_open SYS_mq_unlink SYS_mq_timedsend
        SYS_mq_timedreceive SYS_mq_notify SYS_mq_getsetattr SYS_kexec_load SYS_waitid SYS_add_key
        SYS_request_key SYS_keyctl SYS_ioprio_set SYS_ioprio_get SYS_inotify_init
        SYS_inotify_add_watch SYS_inotify_rm_watch SYS_migrate_pages SYS_openat SYS_mkdirat
        SYS_mknodat SYS_fchownat SYS_futimesat SYS_newfstatat SYS_unlinkat SYS_renameat SYS_linkat
        SYS_symlinkat SYS_readlinkat SYS_fchmodat SYS_faccessat SYS_pselect6 SYS_ppoll SYS_unshare
        SYS_set_robust_list SYS_get_robust_list SYS_splice SYS_tee SYS_sync_file_range
        SYS_vmsplice SYS_move_pages SYS_utimensat SYS_epoll_pwait SYS_signalfd SYS_timerfd_create
        SYS_eventfd SYS_fallocate SYS_timerfd_settime SYS_timerfd_gettime SYS_accept4
        SYS_signalfd4 SYS_eventfd2 SYS_epoll_create1 SYS_dup3 SYS_pipe2 SYS_inotify_init1
        SYS_preadv SYS_pwritev SYS_rt_tgsigqueueinfo SYS_perf_event_open SYS_recvmmsg
        SYS_fanotify_init SYS_fanotify_mark SYS_prlimit64 SYS_name_to_handle_at
        SYS_open_by_handle_at SYS_clock_adjtime SYS_syncfs SYS_sendmmsg SYS_setns SYS_getcpu
        SYS_process_vm_readv SYS_process_vm_writev SYS_kcmp SYS_finit_module SYS_sched_setattr
        SYS_sched_getattr SYS_renameat2 SYS_seccomp SYS_getrandom SYS_memfd_create
        SYS_kexec_file_load SYS_bpf SYS_execveat SYS_userfaultfd SYS_membarrier SYS_mlock2
        SYS_copy_file_range SYS_preadv2 SYS_pwritev2 SYS_pkey_mprotect SYS_pkey_alloc
        SYS_pkey_free SYS_statx SYS_rseq SYS_pidfd_send_signal SYS_io_uring_setup
        SYS_io_uring_enter SYS_io_uring_register SYS_open_tree SYS_move_mount SYS_fsopen
        SYS_fsconfig SYS_fsmount SYS_fspick SYS_pidfd_open SYS_clone3 SYS_close_range SYS_openat2
        SYS_pidfd_getfd SYS_faccessat2 SYS_process_madvise SYS_epoll_pwait2 SYS_mount_setattr
        SYS_quotactl_fd SYS_landlock_create_ruleset SYS_landlock_add_rule
        SYS_landlock_restrict_self SYS_memfd_secret SYS_process_mrelease SYS_futex_waitv
        SYS_set_mempolicy_home_node SYS_fchmodat2 SYS_mseal
    }
}

#[test]
#[cfg(feature = "serde")]
fn policies_round_trip_and_reports_serialize() {
    let mut policy = Policy::default_profile();
    policy
        .deny_group(SyscallGroup::Networking)
        .group_action(SyscallGroup::Keyring, Action::KillProcess)
        .rule(
            SyscallRule::new("write", Action::Log).when(ArgCondition::new32(
                0,
                ArgOp::MaskedEq(3),
                2,
            )),
        );
    let json = serde_json::to_string(&policy).unwrap();
    let back: Policy = serde_json::from_str(&json).unwrap();
    assert_eq!(back, policy);
    assert_eq!(
        compile(&back).unwrap().instructions().len(),
        compile(&policy).unwrap().instructions().len()
    );

    let report = Policy::default_profile().validate().unwrap();
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["profile"], "default");
    assert_eq!(value["default_action"], serde_json::json!({ "errno": 1 }));
    assert_eq!(
        value["unknown_syscall_action"],
        serde_json::json!({ "errno": 38 })
    );
    assert_eq!(value["arch"], Arch::NATIVE.to_string());
    assert_eq!(value["instructions"], report.instructions);
    assert_eq!(
        serde_json::to_value(Action::KillProcess).unwrap(),
        "kill_process"
    );
    assert_eq!(value["profile"], "default");
    let custom = serde_json::to_value(policy.validate().unwrap()).unwrap();
    assert_eq!(custom["profile"], "custom");
}

#[test]
fn large_programs_use_long_jumps_correctly() {
    // An argument check on every known system call makes subtrees longer
    // than a conditional jump can skip.
    let mut policy = Policy::allowlist(EPERM);
    for &(name, n) in table::NATIVE {
        policy.rule(
            SyscallRule::new(name, Action::Allow).when(ArgCondition::new(
                0,
                ArgOp::Eq,
                u64::from(n) << 8 | 1,
            )),
        );
    }
    let filter = compiled(&policy);
    assert!(
        filter
            .instructions()
            .iter()
            .any(|i| i.code == JMP_JA && i.k > 255)
    );
    for &(_, n) in table::NATIVE {
        let data = Data::native(n);
        assert_eq!(
            verdict(&filter, data.with_arg(0, u64::from(n) << 8 | 1)),
            ALLOW,
            "{n}"
        );
        assert_eq!(
            verdict(&filter, data.with_arg(0, u64::from(n))),
            RET_EPERM,
            "{n}"
        );
    }
    assert_eq!(filter.report().conditional_syscalls, table::NATIVE.len());

    // Rules with more conditions than a conditional jump can skip, on the
    // first and the last leaf of the search tree.
    let last = table::NATIVE
        .iter()
        .max_by_key(|&&(_, n)| n)
        .map(|&(name, _)| name)
        .unwrap();
    for name in ["read", last] {
        let long = |action, base: u64| {
            (0..100u64).fold(SyscallRule::new(name, action), |rule, i| {
                rule.when(ArgCondition::new(2, ArgOp::Ne, base + i))
            })
        };
        let mut policy = Policy::allowlist(EPERM);
        policy
            .rule(long(Action::Log, 50))
            .rule(long(Action::Allow, 0));
        let filter = compiled(&policy);
        let data = Data::native(nr(name));
        // Allow outside [0, 100), else log outside [50, 150), else EPERM.
        for (arg, expected) in [
            (5000, ALLOW),
            (100, ALLOW),
            (0, libc::SECCOMP_RET_LOG),
            (49, libc::SECCOMP_RET_LOG),
            (50, RET_EPERM),
            (99, RET_EPERM),
        ] {
            assert_eq!(
                verdict(&filter, data.with_arg(2, arg)),
                expected,
                "{name} {arg}"
            );
        }
    }
}

#[test]
fn oversized_programs_are_a_typed_error() {
    let mut policy = Policy::allowlist(EPERM);
    for i in 0..700u64 {
        policy
            .rule(SyscallRule::new("read", Action::Allow).when(ArgCondition::new(0, ArgOp::Eq, i)));
    }
    match compile(&policy) {
        Err(Error::TooLarge {
            instructions,
            limit,
        }) => {
            assert!(instructions > limit);
            assert_eq!(limit, 4096);
        }
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn shared_values_are_thread_safe() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CompiledFilter>();
    send_sync::<Policy>();
    send_sync::<Report>();
    send_sync::<Error>();
}

#[test]
fn the_running_kernel_supports_every_action() {
    // SECCOMP_GET_ACTION_AVAIL changes nothing, so it may run in the test
    // process itself.
    let mut policy = Policy::denylist();
    policy
        .rule(SyscallRule::new("read", Action::Log))
        .rule(SyscallRule::new("write", Action::Trap))
        .rule(SyscallRule::new("sync", Action::KillProcess))
        .deny("mount");
    check_support(&compiled(&policy)).expect("seccomp actions available");
    check_support(&compiled(&Policy::default_profile())).expect("default profile supported");
    for action in [
        Action::Allow,
        Action::Log,
        Action::Errno(4095),
        Action::Trap,
        Action::KillProcess,
    ] {
        assert_eq!(Action::from_ret(action.ret()), action);
    }
}
