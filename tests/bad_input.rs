//! The bad-input matrix: every builder input of `Sandbox` and `Command`,
//! given a bad value, makes `spawn` return its typed error naming the field
//! or path, without panicking and without leaking a descriptor or a child.
//! (The individual feature tests check some of these in context; this is the
//! complete table.)

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::Duration;

use common::{as_each_identity, assert_no_children, chain, fd_list, is_root};
use stockade::{Error, IdRange, Namespaces, Rlimit, Sandbox, caps, error, fs, ids};

type Setup = Box<dyn Fn(&mut Sandbox, &mut stockade::Command)>;
type Check = Box<dyn Fn(&Error) -> bool>;

/// One row: the input, the error it must give, and a string the error's own
/// one-line message must contain (the field or path it names), without its
/// causes: what `?` into `Box<dyn Error>` keeps.
struct Case {
    name: &'static str,
    setup: Setup,
    check: Check,
    names: &'static str,
}

macro_rules! case {
    ($name:expr, |$sb:ident, $c:ident| $setup:expr, $pat:pat, $names:expr) => {
        Case {
            name: $name,
            setup: Box::new(|$sb: &mut Sandbox, $c: &mut stockade::Command| {
                let _ = (&$sb, &$c);
                $setup;
            }),
            check: Box::new(|e: &Error| matches!(e, $pat)),
            names: $names,
        }
    };
}

fn nul(s: &str) -> &OsStr {
    OsStr::from_bytes(s.as_bytes())
}

fn devnull() -> std::fs::File {
    std::fs::File::open("/dev/null").unwrap()
}

fn cases() -> Vec<Case> {
    use Error::Config as C;
    let mut v = vec![
        // ---- Command ----
        // The program name is also argument 0, which is checked first.
        case!(
            "program with NUL",
            |s, c| *c = stockade::Command::new(nul("sh\0x")),
            C(error::ConfigError::NulByte {
                field: error::Field::Program | error::Field::Arg(0)
            }),
            "0"
        ),
        case!(
            "program empty",
            |s, c| *c = stockade::Command::new(""),
            Error::ProgramNotFound { .. },
            "\"\""
        ),
        case!(
            "program missing",
            |s, c| *c = stockade::Command::new("/no/such/prog"),
            Error::ProgramNotFound { .. },
            "/no/such/prog"
        ),
        case!(
            "program relative and missing",
            |s, c| *c = stockade::Command::new("no-such-prog-x"),
            Error::ProgramNotFound { .. },
            "no-such-prog-x"
        ),
        case!(
            "program is a directory",
            |s, c| *c = stockade::Command::new("/usr"),
            Error::IsADirectory { .. },
            "/usr"
        ),
        case!(
            "program not executable",
            |s, c| *c = stockade::Command::new("/etc/passwd"),
            Error::NotExecutable { .. },
            "/etc/passwd"
        ),
        case!(
            "arg with NUL",
            |s, c| {
                c.arg("ok").arg(nul("a\0b"));
            },
            C(error::ConfigError::NulByte {
                field: error::Field::Arg(2)
            }),
            "argument 2"
        ),
        case!(
            "arg0 with NUL",
            |s, c| {
                c.arg0(nul("a\0b"));
            },
            C(error::ConfigError::NulByte {
                field: error::Field::Arg(0)
            }),
            "argument 0"
        ),
        case!(
            "env key empty",
            |s, c| {
                c.env("", "v");
            },
            C(error::ConfigError::EnvName {
                problem: error::EnvNameProblem::Empty,
                ..
            }),
            "environment variable name \"\": it is empty"
        ),
        case!(
            "env key with '='",
            |s, c| {
                c.env("A=B", "v");
            },
            C(error::ConfigError::EnvName {
                problem: error::EnvNameProblem::ContainsEquals,
                ..
            }),
            "\"A=B\": it contains '='"
        ),
        case!(
            "env key with NUL",
            |s, c| {
                c.env(nul("K\0"), "v");
            },
            C(error::ConfigError::NulByte {
                field: error::Field::Env(_)
            }),
            "environment variable"
        ),
        case!(
            "env value with NUL",
            |s, c| {
                c.env("KEY", nul("v\0"));
            },
            C(error::ConfigError::NulByte {
                field: error::Field::Env(_)
            }),
            "\"KEY\""
        ),
        case!(
            "argument of 2 MiB",
            |s, c| {
                c.arg("x".repeat(2 << 20));
            },
            Error::ArgumentsTooLarge {
                limit: error::ArgLimit::String {
                    field: error::Field::Arg(1),
                    len: 2097153,
                    ..
                }
            },
            "argument 1 is 2097153 bytes long"
        ),
        case!(
            "environment value of 2 MiB",
            |s, c| {
                c.env("BIG", "x".repeat(2 << 20));
            },
            Error::ArgumentsTooLarge {
                limit: error::ArgLimit::String {
                    field: error::Field::Env(_),
                    ..
                }
            },
            "environment variable \"BIG\""
        ),
        case!(
            "arguments over a quarter of the stack limit",
            |s, c| {
                // 1 MiB of stack leaves execve 256 KiB for the strings.
                s.rlimit(Rlimit::Stack, 1 << 20, 1 << 20);
                c.args(std::iter::repeat_n("x".repeat(100 << 10), 3));
            },
            Error::ArgumentsTooLarge {
                limit: error::ArgLimit::Total { max: 262144, .. }
            },
            "262144 bytes"
        ),
        case!(
            "cwd with NUL",
            |s, c| {
                c.current_dir(nul("/tmp\0x"));
            },
            C(error::ConfigError::NulByte {
                field: error::Field::CurrentDir
            }),
            "working directory"
        ),
        case!(
            "cwd missing",
            |s, c| {
                c.current_dir("/no/such/dir");
            },
            Error::WorkingDirectory { .. },
            "/no/such/dir"
        ),
        case!(
            "cwd relative",
            |s, c| {
                c.current_dir("relative/dir");
            },
            Error::WorkingDirectory { .. },
            "relative/dir"
        ),
        case!(
            "cwd a file",
            |s, c| {
                c.current_dir("/etc/passwd");
            },
            Error::WorkingDirectory { .. },
            "/etc/passwd"
        ),
        case!(
            "pass_fd negative",
            |s, c| {
                c.pass_fd(-1, devnull());
            },
            C(error::ConfigError::FdTarget {
                fd: -1,
                reason: error::FdProblem::Negative
            }),
            "fd -1"
        ),
        case!(
            "pass_fd onto stdio",
            |s, c| {
                c.pass_fd(2, devnull());
            },
            C(error::ConfigError::FdTarget {
                fd: 2,
                reason: error::FdProblem::Stdio
            }),
            "fd 2"
        ),
        case!(
            "pass_fd twice",
            |s, c| {
                c.pass_fd(7, devnull()).pass_fd(7, devnull());
            },
            C(error::ConfigError::FdTarget {
                fd: 7,
                reason: error::FdProblem::Duplicate
            }),
            "fd 7"
        ),
        // ---- Sandbox: identity and namespaces ----
        case!(
            "hostname empty",
            |s, c| {
                s.hostname("");
            },
            C(error::ConfigError::Hostname {
                reason: error::HostnameProblem::Empty,
                ..
            }),
            "hostname"
        ),
        case!(
            "hostname too long",
            |s, c| {
                s.hostname("h".repeat(65));
            },
            C(error::ConfigError::Hostname {
                reason: error::HostnameProblem::TooLong,
                ..
            }),
            "hhhh"
        ),
        case!(
            "hostname with NUL",
            |s, c| {
                s.hostname(nul("a\0b"));
            },
            C(error::ConfigError::Hostname {
                reason: error::HostnameProblem::NulByte,
                ..
            }),
            "hostname"
        ),
        case!(
            "hostname without UTS",
            |s, c| {
                s.hostname("box")
                    .namespaces(Namespaces::default() - Namespaces::UTS);
            },
            C(error::ConfigError::Hostname {
                reason: error::HostnameProblem::NoUtsNamespace,
                ..
            }),
            "\"box\""
        ),
        case!(
            "uid -1",
            |s, c| {
                s.uid(u32::MAX);
            },
            C(error::ConfigError::Identity {
                reason: error::IdentityProblem::Invalid,
                ..
            }),
            "uid 4294967295"
        ),
        case!(
            "gid -1",
            |s, c| {
                s.gid(u32::MAX);
            },
            C(error::ConfigError::Identity {
                reason: error::IdentityProblem::Invalid,
                ..
            }),
            "gid 4294967295"
        ),
        case!(
            "fs plan without a mount namespace",
            |s, c| {
                s.namespaces(Namespaces::USER)
                    .tmpfs("/x", fs::TmpfsOptions::default());
            },
            C(error::ConfigError::Namespaces {
                reason: error::NamespaceProblem::RootfsNeedsMountNamespace
            }),
            "mount namespace"
        ),
        case!(
            "keep CAP_SYS_PTRACE",
            |s, c| {
                s.keep_capability(caps::Capability::SysPtrace);
            },
            C(error::ConfigError::Capabilities(_)),
            "CAP_SYS_PTRACE"
        ),
        // ---- Limits ----
        case!(
            "zero timeout",
            |s, c| {
                s.timeout(Duration::ZERO);
            },
            C(error::ConfigError::Timeout),
            "timeout"
        ),
        case!(
            "soft rlimit above hard",
            |s, c| {
                s.rlimit(Rlimit::Nofile, 64, 32);
            },
            C(error::ConfigError::Rlimit {
                resource: Rlimit::Nofile,
                soft: 64,
                hard: 32
            }),
            "nofile"
        ),
        case!(
            "soft infinity above hard",
            |s, c| {
                s.rlimit(Rlimit::Fsize, Rlimit::INFINITY, 1);
            },
            C(error::ConfigError::Rlimit {
                resource: Rlimit::Fsize,
                ..
            }),
            "fsize"
        ),
        // ---- Filesystem ----
        case!(
            "root_dir missing",
            |s, c| {
                s.root_dir("/no/such/root");
            },
            C(error::ConfigError::Fs(fs::Error::MissingSource {
                op: fs::OpName::Root,
                ..
            })),
            "/no/such/root"
        ),
        case!(
            "root_dir relative",
            |s, c| {
                s.root_dir("rel/root");
            },
            C(error::ConfigError::Fs(fs::Error::RelativeSource {
                op: fs::OpName::Root,
                ..
            })),
            "rel/root"
        ),
        case!(
            "root_dir a file",
            |s, c| {
                s.root_dir("/etc/passwd");
            },
            C(error::ConfigError::Fs(fs::Error::NotADirectory {
                op: fs::OpName::Root,
                ..
            })),
            "/etc/passwd"
        ),
        case!(
            "root_dir with NUL",
            |s, c| {
                s.root_dir(nul("/usr\0x"));
            },
            C(error::ConfigError::Fs(fs::Error::NulByte {
                op: fs::OpName::Root,
                ..
            })),
            "NUL byte"
        ),
        case!(
            "bind source relative",
            |s, c| {
                s.bind_ro("usr", "/x");
            },
            C(error::ConfigError::Fs(fs::Error::RelativeSource {
                op: fs::OpName::BindRo,
                ..
            })),
            "\"usr\""
        ),
        case!(
            "bind source empty",
            |s, c| {
                s.bind_rw("", "/x");
            },
            C(error::ConfigError::Fs(fs::Error::RelativeSource {
                op: fs::OpName::BindRw,
                ..
            })),
            "\"\""
        ),
        case!(
            "bind source missing",
            |s, c| {
                s.bind_rw("/no/such/src", "/x");
            },
            C(error::ConfigError::Fs(fs::Error::MissingSource {
                op: fs::OpName::BindRw,
                ..
            })),
            "/no/such/src"
        ),
        case!(
            "bind source with NUL",
            |s, c| {
                s.bind_ro(nul("/usr\0"), "/x");
            },
            C(error::ConfigError::Fs(fs::Error::NulByte {
                op: fs::OpName::BindRo,
                ..
            })),
            "NUL byte"
        ),
        case!(
            "bind dest relative",
            |s, c| {
                s.bind_ro("/usr", "x");
            },
            C(error::ConfigError::Fs(fs::Error::BadDestination {
                op: fs::OpName::BindRo,
                ..
            })),
            "\"x\""
        ),
        case!(
            "bind dest empty",
            |s, c| {
                s.bind_ro("/usr", "");
            },
            C(error::ConfigError::Fs(fs::Error::BadDestination {
                op: fs::OpName::BindRo,
                ..
            })),
            "\"\""
        ),
        case!(
            "bind dest with ..",
            |s, c| {
                s.bind_ro("/usr", "/a/../../b");
            },
            C(error::ConfigError::Fs(fs::Error::BadDestination {
                op: fs::OpName::BindRo,
                ..
            })),
            "/a/../../b"
        ),
        case!(
            "bind dest with NUL",
            |s, c| {
                s.bind_ro("/usr", nul("/x\0y"));
            },
            C(error::ConfigError::Fs(fs::Error::NulByte {
                op: fs::OpName::BindRo,
                ..
            })),
            "/x"
        ),
        case!(
            "bind dest /",
            |s, c| {
                s.bind_ro("/usr", "/");
            },
            C(error::ConfigError::Fs(fs::Error::RootDestination {
                op: fs::OpName::BindRo
            })),
            "root_dir"
        ),
        case!(
            "bind dest under a file",
            |s, c| {
                s.bind_ro("/usr", "/etc/hostname/sub");
            },
            Error::Setup(stockade::error::SetupError {
                stage: error::Stage::MountOp,
                ..
            }),
            "/etc/hostname/sub"
        ),
        case!(
            "bind of a file onto a directory",
            |s, c| {
                s.dir("/d").bind_ro("/etc/passwd", "/d");
            },
            C(error::ConfigError::Fs(fs::Error::KindMismatch { .. })),
            "/d"
        ),
        case!(
            "bind_dev source missing",
            |s, c| {
                s.bind_dev("/dev/no-such-dev", "/dev/x");
            },
            C(error::ConfigError::Fs(fs::Error::MissingSource { .. })),
            "/dev/no-such-dev"
        ),
        case!(
            "tmpfs size 0",
            |s, c| {
                s.tmpfs(
                    "/t",
                    fs::TmpfsOptions {
                        size: Some(0),
                        mode: None,
                    },
                );
            },
            C(error::ConfigError::Fs(fs::Error::TmpfsSize { size: 0, .. })),
            "/t"
        ),
        case!(
            "tmpfs size over 1 TiB",
            |s, c| {
                s.tmpfs(
                    "/t",
                    fs::TmpfsOptions {
                        size: Some(u64::MAX),
                        mode: None,
                    },
                );
            },
            C(error::ConfigError::Fs(fs::Error::TmpfsSize { .. })),
            "/t"
        ),
        case!(
            "tmpfs mode out of range",
            |s, c| {
                s.tmpfs(
                    "/t",
                    fs::TmpfsOptions {
                        size: None,
                        mode: Some(0o10000),
                    },
                );
            },
            C(error::ConfigError::Fs(fs::Error::Mode { .. })),
            "/t"
        ),
        case!(
            "tmpfs dest relative",
            |s, c| {
                s.tmpfs("t", fs::TmpfsOptions::default());
            },
            C(error::ConfigError::Fs(fs::Error::BadDestination { .. })),
            "\"t\""
        ),
        case!(
            "tmpfs on /",
            |s, c| {
                s.tmpfs("/", fs::TmpfsOptions::default());
            },
            C(error::ConfigError::Fs(fs::Error::RootDestination { .. })),
            "tmpfs"
        ),
        case!(
            "dir mode out of range",
            |s, c| {
                s.fs_op(fs::Op::Dir {
                    dest: "/d".into(),
                    mode: Some(0o777777),
                });
            },
            C(error::ConfigError::Fs(fs::Error::Mode { .. })),
            "/d"
        ),
        case!(
            "dir dest relative",
            |s, c| {
                s.dir("d");
            },
            C(error::ConfigError::Fs(fs::Error::BadDestination { .. })),
            "\"d\""
        ),
        case!(
            "symlink target with NUL",
            |s, c| {
                s.symlink(nul("/x\0"), "/l");
            },
            C(error::ConfigError::Fs(fs::Error::NulByte { .. })),
            "/x"
        ),
        case!(
            "symlink dest relative",
            |s, c| {
                s.symlink("/x", "l");
            },
            C(error::ConfigError::Fs(fs::Error::BadDestination { .. })),
            "\"l\""
        ),
        case!(
            "file dest relative",
            |s, c| {
                s.file("f", "x");
            },
            C(error::ConfigError::Fs(fs::Error::BadDestination { .. })),
            "\"f\""
        ),
        case!(
            "file on /",
            |s, c| {
                s.file("/", "x");
            },
            C(error::ConfigError::Fs(fs::Error::RootDestination { .. })),
            "file"
        ),
        case!(
            "file mode out of range",
            |s, c| {
                s.fs_op(fs::Op::File {
                    dest: "/f".into(),
                    contents: vec![],
                    mode: Some(0o20000),
                });
            },
            C(error::ConfigError::Fs(fs::Error::Mode { .. })),
            "/f"
        ),
        case!(
            "file dest under a file",
            |s, c| {
                s.file("/etc/passwd/x", "x");
            },
            Error::Setup(stockade::error::SetupError {
                stage: error::Stage::MountOp,
                ..
            }),
            "/etc/passwd/x"
        ),
        case!(
            "overlay lower missing",
            |s, c| {
                s.overlay("/no/such/lower", "/o");
            },
            C(error::ConfigError::Fs(fs::Error::MissingSource {
                op: fs::OpName::Overlay,
                ..
            })),
            "/no/such/lower"
        ),
        case!(
            "overlay lower a file",
            |s, c| {
                s.overlay("/etc/passwd", "/o");
            },
            C(error::ConfigError::Fs(fs::Error::NotADirectory {
                op: fs::OpName::Overlay,
                ..
            })),
            "/etc/passwd"
        ),
        case!(
            "overlay lower relative",
            |s, c| {
                s.overlay("usr", "/o");
            },
            C(error::ConfigError::Fs(fs::Error::RelativeSource {
                op: fs::OpName::Overlay,
                ..
            })),
            "\"usr\""
        ),
        case!(
            "overlay dest relative",
            |s, c| {
                s.overlay("/usr", "o");
            },
            C(error::ConfigError::Fs(fs::Error::BadDestination {
                op: fs::OpName::Overlay,
                ..
            })),
            "\"o\""
        ),
        case!(
            "mask relative",
            |s, c| {
                s.mask("etc/passwd");
            },
            C(error::ConfigError::Fs(fs::Error::BadDestination { .. })),
            "etc/passwd"
        ),
        case!(
            "mask with NUL",
            |s, c| {
                s.mask(nul("/etc\0"));
            },
            C(error::ConfigError::Fs(fs::Error::NulByte { .. })),
            "/etc"
        ),
        case!(
            "mask /",
            |s, c| {
                s.mask("/");
            },
            C(error::ConfigError::Fs(fs::Error::RootDestination { .. })),
            "mask"
        ),
        case!(
            "uid range of no ids",
            |s, c| {
                s.uid_ranges([IdRange::new(0, 0, 0)]);
            },
            Error::Ids(ids::Error::InvalidRange { .. }),
            "uid range 0:0:0"
        ),
        case!(
            "overlapping gid ranges",
            |s, c| {
                s.gid_ranges([IdRange::new(0, 10, 5), IdRange::new(4, 20, 5)]);
            },
            Error::Ids(ids::Error::Overlap { side: "inside", .. }),
            "Sandbox::gid_ranges: 0:10:5 and 4:20:5 overlap"
        ),
        case!(
            "too many uid ranges",
            |s, c| {
                s.uid_ranges((0..341).map(|i| IdRange::new(i, i + 1000, 1)));
            },
            Error::Ids(ids::Error::TooManyRanges { count: 341, .. }),
            "341 ranges"
        ),
        case!(
            "ranges without a user namespace",
            |s, c| {
                s.namespaces(Namespaces::empty()).subordinate_ids(true);
            },
            Error::Ids(ids::Error::NeedsUserNamespace { .. }),
            "Namespaces::USER"
        ),
        case!(
            "uid ranges that miss the program's uid",
            |s, c| {
                let me = nix::unistd::geteuid().as_raw();
                s.uid(7).uid_ranges([IdRange::new(0, me, 1)]);
            },
            Error::Ids(ids::Error::TooSmall {
                id: 7,
                inside: true,
                ..
            }),
            "program's uid 7"
        ),
        case!(
            "gid ranges that miss the caller's gid",
            |s, c| {
                let me = nix::unistd::getegid().as_raw();
                s.gid(0)
                    .gid_ranges([IdRange::new(0, me.wrapping_add(1), 1)]);
            },
            Error::Ids(ids::Error::TooSmall { inside: false, .. }),
            "caller's gid"
        ),
    ];
    if !is_root() {
        v.push(case!(
            "uid range not granted in /etc/subuid",
            |s, c| {
                let me = nix::unistd::geteuid().as_raw();
                s.uid(0)
                    .uid_ranges([IdRange::new(0, me, 1), IdRange::new(1, 7, 1)]);
            },
            Error::Ids(ids::Error::NotOwned { .. }),
            "/etc/subuid"
        ));
        v.push(case!(
            "namespaces without a user namespace",
            |s, c| {
                s.namespaces(Namespaces::default() - Namespaces::USER);
            },
            C(error::ConfigError::Namespaces {
                reason: error::NamespaceProblem::NeedsUserNamespace
            }),
            "user namespace"
        ));
        v.push(case!(
            "uid without a user namespace",
            |s, c| {
                s.namespaces(Namespaces::empty()).uid(0);
            },
            C(error::ConfigError::Identity {
                reason: error::IdentityProblem::NeedsUserNamespaceOrRoot,
                ..
            }),
            "uid 0"
        ));
    }
    #[cfg(feature = "seccomp")]
    {
        use stockade::seccomp;
        v.push(case!(
            "seccomp allowlist without execve",
            |s, c| {
                let mut p = seccomp::Policy::allowlist(seccomp::Action::Errno(libc::EPERM as u16));
                for &g in seccomp::SyscallGroup::UNPRIVILEGED {
                    p.allow_group(g);
                }
                p.deny("execve");
                s.seccomp(p);
            },
            C(error::ConfigError::SeccompDeniesExec {
                action: seccomp::Action::Errno(1),
                ..
            }),
            "`execve` with errno(1)"
        ));
        v.push(case!(
            "seccomp policy killing execve",
            |s, c| {
                let mut p = seccomp::Policy::denylist();
                p.rule(seccomp::SyscallRule::new(
                    "execve",
                    seccomp::Action::KillProcess,
                ));
                s.seccomp(p);
            },
            C(error::ConfigError::SeccompDeniesExec {
                action: seccomp::Action::KillProcess,
                ..
            }),
            "`execve`"
        ));
    }
    #[cfg(feature = "landlock")]
    {
        use stockade::landlock;
        v.push(case!(
            "landlock rule relative",
            |s, c| {
                let mut p = landlock::Policy::new();
                p.allow_read("usr");
                s.landlock(p);
            },
            Error::Landlock(landlock::Error::InvalidRule {
                reason: landlock::RuleProblem::RelativePath,
                ..
            }),
            "\"usr\""
        ));
        v.push(case!(
            "landlock rule empty",
            |s, c| {
                let mut p = landlock::Policy::new();
                p.allow_read_write("");
                s.landlock(p);
            },
            Error::Landlock(landlock::Error::InvalidRule {
                reason: landlock::RuleProblem::RelativePath,
                ..
            }),
            "\"\""
        ));
        v.push(case!(
            "landlock rule with NUL",
            |s, c| {
                let mut p = landlock::Policy::new();
                p.allow_read(nul("/usr\0"));
                s.landlock(p);
            },
            Error::Landlock(landlock::Error::InvalidRule {
                reason: landlock::RuleProblem::NulByte,
                ..
            }),
            "/usr"
        ));
        v.push(case!(
            "landlock rule path missing",
            |s, c| {
                let mut p = landlock::Policy::new();
                // Rights every Landlock ABI has, so the case fails for its
                // own reason on older kernels too.
                p.handle_fs(landlock::FsAccess::supported_by(landlock::Abi::V1));
                p.allow_read("/no/such/rule/path");
                s.landlock(p);
            },
            Error::Setup(stockade::error::SetupError {
                stage: error::Stage::Landlock,
                ..
            }),
            "/no/such/rule/path"
        ));
        v.push(case!(
            "landlock without no_new_privs",
            |s, c| {
                let mut p = landlock::Policy::new();
                // Rights every Landlock ABI has, so the case fails for its
                // own reason on older kernels too.
                p.handle_fs(landlock::FsAccess::supported_by(landlock::Abi::V1));
                p.allow_read("/usr");
                let mut caps = stockade::caps::Policy::new();
                caps.no_new_privs(false);
                s.landlock(p).capabilities(caps);
            },
            C(error::ConfigError::LandlockNeedsNoNewPrivs),
            "no_new_privs"
        ));
        v.push(case!(
            "landlock mirror of a tmpfs without a mount namespace",
            |s, c| {
                s.namespaces(Namespaces::empty())
                    .landlock_mirror_fs(true)
                    .tmpfs("/scratch", fs::TmpfsOptions::default());
            },
            Error::Landlock(landlock::Error::Mirror { .. }),
            "/scratch"
        ));
    }
    v
}

/// Every bad input of the matrix gives its typed error, naming what was
/// wrong, and leaves no descriptor or child behind; a good sandbox spawned
/// between the rows still works.
#[test]
fn every_builder_input_rejects_bad_values_with_a_typed_error() {
    as_each_identity(|| {
        // Warm up what is done once per process.
        Sandbox::new().output(&mut common::sh("true")).unwrap();
        let fds = fd_list();
        let mut failures = Vec::new();
        for case in cases() {
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut sb = Sandbox::new();
                let mut cmd = stockade::Command::new("/bin/true");
                (case.setup)(&mut sb, &mut cmd);
                match sb.spawn(&mut cmd) {
                    Ok(mut child) => {
                        let st = child.wait();
                        Err(format!("spawned ({st:?})"))
                    }
                    Err(e) if !(case.check)(&e) => Err(format!("wrong error: {e:?}")),
                    Err(e) => {
                        let msg = e.to_string();
                        if msg.contains(case.names) && !msg.contains('\n') {
                            Ok(())
                        } else {
                            Err(format!(
                                "message does not name {:?} in one line: {}",
                                case.names,
                                chain(&e)
                            ))
                        }
                    }
                }
            }));
            match r {
                Ok(Ok(())) => {}
                Ok(Err(why)) => failures.push(format!("{}: {why}", case.name)),
                Err(_) => failures.push(format!("{}: panicked", case.name)),
            }
            let now = fd_list();
            if now != fds {
                failures.push(format!(
                    "{}: descriptors changed: {fds:?} -> {now:?}",
                    case.name
                ));
            }
            assert_no_children();
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // Validation alone reports the policy's errors without spawning.
        let mut sb = Sandbox::new();
        sb.timeout(Duration::ZERO);
        assert!(matches!(
            sb.validate(),
            Err(Error::Config(error::ConfigError::Timeout))
        ));
        assert!(Path::new("/bin/true").exists());
        assert!(
            Sandbox::new()
                .output(&mut common::sh("true"))
                .unwrap()
                .status
                .success()
        );
        assert_eq!(fd_list(), fds);
    });
}

/// `execve`'s room for the strings is counted as the kernel counts it: a
/// program whose strings fill it exactly runs, one byte more is refused
/// before clone, and when a script's `#!` line makes `execve` itself refuse
/// them (`E2BIG`), that is reported as the same limit, not as a program
/// that is not executable.
#[test]
fn arguments_fill_execve_room_to_the_byte() {
    as_each_identity(|| {
        // A 512 KiB stack leaves execve its floor, 128 KiB, for the strings.
        const ROOM: usize = 128 << 10;
        let ptr = std::mem::size_of::<usize>();
        // Counted: the path (with its NUL), then each string with its NUL
        // and a pointer to it; arg0 is the path.
        let filler = |path: &str, slack: usize| {
            let used = (path.len() + 1) + (path.len() + 1 + ptr) + (1 + ptr);
            "x".repeat(ROOM - used - slack)
        };
        let run = |sb: &Sandbox, path: &str, arg: String| {
            let mut cmd = stockade::Command::new(path);
            cmd.env_clear().arg(arg);
            sb.output(&mut cmd)
        };
        let mut sb = Sandbox::new();
        sb.rlimit(Rlimit::Stack, 512 << 10, 512 << 10);
        let out = run(&sb, "/bin/true", filler("/bin/true", 0))
            .unwrap_or_else(|e| panic!("a full room is refused: {}", chain(&e)));
        assert!(out.status.success(), "{:?}", out.status);
        let mut big = filler("/bin/true", 0);
        big.push('x');
        match run(&sb, "/bin/true", big) {
            Err(Error::ArgumentsTooLarge {
                limit: error::ArgLimit::Total { size, max },
            }) => assert_eq!((size, max), (ROOM + 1, ROOM)),
            other => panic!("one byte over the room: {other:?}"),
        }

        // A script: the kernel replaces arg0 with the interpreter and the
        // script's path, which no longer fit.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("x");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        sb.bind_ro(dir.path(), "/s");
        let e = run(&sb, "/s/x", filler("/s/x", 4)).unwrap_err();
        match &e {
            Error::ArgumentsTooLarge {
                limit: error::ArgLimit::Total { size, max },
            } => assert_eq!((*size, *max), (ROOM - 4, ROOM)),
            other => panic!("E2BIG from a script: {other:?}"),
        }
        assert!(e.to_string().contains("script"), "{e}");
        // With room to spare, the script runs.
        let out = run(&sb, "/s/x", filler("/s/x", 64)).unwrap();
        assert!(out.status.success(), "{:?}", out.status);
    });
}

/// A seccomp policy that refuses `execve` only for some arguments passes
/// compilation; when it refuses the program's, the error carries its
/// errno, even where the filter also refuses the `fstatat` that tells a
/// missing file from one that cannot be executed.
#[cfg(feature = "seccomp")]
#[test]
fn an_execve_refused_by_seccomp_reports_its_errno() {
    use stockade::seccomp::{Action, ArgCondition, ArgOp, Policy, SyscallRule};
    as_each_identity(|| {
        let mut p = Policy::allowlist(Action::Errno(libc::EPERM as u16));
        p.allow("exit_group").allow("execve").rule(
            SyscallRule::new("execve", Action::Errno(libc::EACCES as u16))
                // Any path: the pointer is never null.
                .when(ArgCondition::new(0, ArgOp::Ne, 0)),
        );
        let mut sb = Sandbox::new();
        sb.seccomp(p);
        sb.validate().unwrap();
        match sb.output(&mut stockade::Command::new("/bin/true")) {
            Err(Error::NotExecutable { path, source }) => {
                assert_eq!(path, Path::new("/bin/true"));
                assert_eq!(source.raw_os_error(), Some(libc::EACCES));
            }
            other => panic!("{other:?}"),
        }
    });
}
