//! The library's errors in the command line's words: the flag the user
//! typed instead of the builder method or field behind it.

use stockade::error::{ConfigError, SetupError, Target};
use stockade::{Error, Sandbox, cgroup, fs};

/// The library's names in its messages, and what the command line calls
/// them. Longer names first, so that none is cut short by a prefix.
const NAMES: &[(&str, &str)] = &[
    (
        "Sandbox::mask_host_secrets(false) is set",
        "--expose-host-secrets is given",
    ),
    (
        "Sandbox::bind_ro_try skips a missing source",
        "--ro-bind-try skips a missing source",
    ),
    (
        "Sandbox::bind_rw_try skips a missing source",
        "--bind-try skips a missing source",
    ),
    (
        "use Sandbox::root_dir for a custom root",
        "use --rootfs DIR for a root of your own",
    ),
    ("cgroup::Config::parent", "--cgroup-parent"),
    (
        "Sandbox::isolation(Isolation::BestAvailable)",
        "--isolation best-available",
    ),
    ("Sandbox::uid_ranges", "--uid-range"),
    ("Sandbox::gid_ranges", "--gid-range"),
    ("Sandbox::subordinate_ids", "--subids"),
    ("Sandbox::writable_root", "--writable-root"),
    ("Sandbox::cpu_time_limit", "--cpu-time"),
    ("Sandbox::memory_limit", "--memory"),
    ("Sandbox::pids_limit", "--pids"),
    ("Sandbox::program_as_init", "--as-pid-1"),
    ("Sandbox::private_home", "--no-home"),
    ("Sandbox::inherit_env", "--inherit-env"),
    ("Sandbox::root_dir", "--rootfs"),
    ("Sandbox::hostname", "--hostname"),
    ("Sandbox::timeout", "--timeout"),
    ("Sandbox::publish", "--publish"),
    ("Sandbox::egress", "--net filter"),
    ("Sandbox::network", "--net"),
    ("Sandbox::seccomp", "--seccomp"),
    ("Sandbox::sys", "--sys"),
    (
        "opt into best-effort limits, which fall back",
        "add --limits-best-effort, which falls back",
    ),
];

/// The command-line option that makes a filesystem operation.
pub fn op_flag(op: fs::OpName) -> &'static str {
    match op {
        fs::OpName::Root => "--rootfs",
        fs::OpName::BindRo => "--ro-bind",
        fs::OpName::BindRw => "--bind",
        fs::OpName::BindDev => "--dev-bind",
        fs::OpName::Tmpfs => "--tmpfs",
        fs::OpName::Dir => "--dir",
        fs::OpName::Symlink => "--symlink",
        fs::OpName::File => "--file",
        fs::OpName::Overlay => "--overlay",
        fs::OpName::Mask => "--mask",
        _ => "a filesystem option",
    }
}

/// The command-line option behind a cgroup setting.
pub fn cgroup_flag(field: cgroup::Field) -> String {
    match field {
        cgroup::Field::MemoryMax => "--memory".into(),
        cgroup::Field::SwapMax => "--swap".into(),
        cgroup::Field::PidsMax => "--pids".into(),
        cgroup::Field::Cpus => "--cpus".into(),
        cgroup::Field::Parent => "--cgroup-parent".into(),
        // Settings the command line has no option for come from a policy
        // file, whose [cgroup] table names them so.
        other => format!("[cgroup] {other}"),
    }
}

/// The option (with its destination) that asked for a filesystem
/// operation, as typed.
pub fn op_as_typed(op: &fs::Op) -> String {
    let flag = match op {
        fs::Op::Bind {
            read_only,
            optional,
            devices,
            ..
        } => match (devices, read_only, optional) {
            (true, _, true) => "--dev-bind-try",
            (true, _, false) => "--dev-bind",
            (false, true, true) => "--ro-bind-try",
            (false, true, false) => "--ro-bind",
            (false, false, true) => "--bind-try",
            (false, false, false) => "--bind",
        },
        fs::Op::Tmpfs { .. } => "--tmpfs",
        fs::Op::Dir { .. } => "--dir",
        fs::Op::Symlink { .. } => "--symlink",
        fs::Op::File { .. } => "--file",
        fs::Op::Overlay { .. } => "--overlay",
        fs::Op::Mask { .. } => "--mask",
        _ => "a filesystem option on",
    };
    format!("{flag} {}", op.dest().display())
}

/// The operation a filesystem error is about.
fn fs_op(e: &fs::Error) -> Option<fs::OpName> {
    use fs::Error as E;
    match e {
        E::BadDestination { op, .. }
        | E::RootDestination { op }
        | E::MissingSource { op, .. }
        | E::RelativeSource { op, .. }
        | E::NotADirectory { op, .. }
        | E::Mode { op, .. }
        | E::NulByte { op, .. }
        | E::KindMismatch { op, .. }
        | E::HostSecret { op, .. } => Some(*op),
        E::TmpfsSize { .. } => Some(fs::OpName::Tmpfs),
        E::FileTooLarge { .. } => Some(fs::OpName::File),
        _ => None,
    }
}

/// Replaces the first whole-word `word` in `text` with `with`.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = text[from..].find(word).map(|i| i + from) {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
            return format!("{}{with}{}", &text[..i], &text[i + word.len()..]);
        }
        from = i + word.len();
    }
    text.to_owned()
}

/// `e` as one line in the command line's words (without the `stockade: `
/// prefix). `sb`, when given, is the sandbox `e` came from, whose
/// filesystem operations a setup error may name by index.
pub fn error(e: &Error, sb: Option<&Sandbox>, rootfs: Option<&std::path::Path>) -> String {
    let mut m = crate::one_line(e);
    match e {
        Error::Config(ConfigError::Cgroup { field, problem }) => {
            let mut p = problem.to_string();
            for (lib, cli) in [
                ("memory_max", "--memory"),
                ("swap_max", "--swap"),
                ("pids_max", "--pids"),
            ] {
                p = replace_word(&p, lib, cli);
            }
            m = format!("invalid {}: {p}", cgroup_flag(*field));
        }
        Error::Config(ConfigError::Fs(fe)) => {
            if let Some(op) = fs_op(fe) {
                m = replace_word(&m, &op.to_string(), op_flag(op));
            }
        }
        Error::Setup(SetupError {
            target: Some(Target::MountOp { index, dest }),
            source,
            ..
        }) => {
            let typed = index
                .and_then(|i| sb.and_then(|s| s.get_fs_ops().get(i)))
                .map(op_as_typed);
            if let Some(typed) = &typed {
                m = m.replacen(
                    &format!(
                        "filesystem operation #{} on {}",
                        index.unwrap_or(0),
                        dest.display()
                    ),
                    typed,
                    1,
                );
            }
            if source.raw_os_error() == Some(libc::EROFS) {
                match (&typed, rootfs) {
                    (None, Some(root)) => m = missing_mount_points(root, dest),
                    (Some(_), _) => m.push_str(&format!(
                        "; {} lies in a read-only directory of the sandbox: put it below a \
                         --tmpfs or --bind directory, or add --writable-root",
                        dest.display()
                    )),
                    (None, None) => {}
                }
            }
        }
        _ => {}
    }
    for (lib, cli) in NAMES {
        if m.contains(lib) {
            m = m.replace(lib, cli);
        }
    }
    m
}

/// The directories the sandbox mounts on that the read-only root `root`
/// lacks (`/proc`, `/dev`, `/tmp`), all of them, with the fix; `failed` is
/// the one the sandbox stopped at.
fn missing_mount_points(root: &std::path::Path, failed: &std::path::Path) -> String {
    let mut missing: Vec<std::path::PathBuf> = ["proc", "dev", "tmp"]
        .iter()
        .map(|d| root.join(d))
        .filter(|p| !p.is_dir())
        .collect();
    let in_root = root.join(failed.strip_prefix("/").unwrap_or(failed));
    if !missing.contains(&in_root) {
        missing.push(in_root);
    }
    let list: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
    format!(
        "--rootfs {}: the root is read-only and lacks {}, where the sandbox mounts its own; \
         create {} (mkdir {}), or add --writable-root",
        root.display(),
        list.join(", "),
        if list.len() == 1 { "it" } else { "them" },
        list.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_word_takes_whole_words_only() {
        assert_eq!(
            replace_word("failed to find bind_ro source", "bind_ro", "--ro-bind"),
            "failed to find --ro-bind source"
        );
        assert_eq!(
            replace_word("tmpfs2 tmpfs", "tmpfs", "--tmpfs"),
            "tmpfs2 --tmpfs"
        );
        assert_eq!(replace_word("none here", "tmpfs", "--tmpfs"), "none here");
    }
}
