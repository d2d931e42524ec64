//! The program, its arguments and environment, and its working directory, as
//! C strings for `execve`.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::command::Command;
use crate::config::Config;
use crate::error::{ArgLimit, ConfigError, EnvNameProblem, Error, Field, SearchPath};
use crate::rlimit::Rlimit;
use crate::zone::plan::ExecPlan;

/// Environment variables that reach the program unless the caller opts into
/// the whole environment with [`Sandbox::inherit_env`](crate::Sandbox::inherit_env).
pub const BASE_ENV: &[&str] = &["PATH", "HOME", "TERM", "LANG", "LC_ALL", "TZ"];

/// Search path used when the program's environment has no `PATH`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn cstring(field: Field, s: &OsStr) -> Result<CString, Error> {
    CString::new(s.as_bytes()).map_err(|_| ConfigError::NulByte { field }.into())
}

/// The environment the program starts with; `home` is the sandbox's
/// private home, which `HOME` names unless the command sets it.
fn environment(cfg: &Config, cmd: &Command, home: Option<&Path>) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = BTreeMap::new();
    if !cmd.env_clear {
        if cfg.inherit_env {
            env.extend(std::env::vars_os());
        } else {
            for k in BASE_ENV {
                if let Some(v) = std::env::var_os(k) {
                    env.insert(OsString::from(k), v);
                }
            }
        }
        if let Some(home) = home {
            env.insert(OsString::from("HOME"), home.as_os_str().to_owned());
        }
    }
    for (k, v) in &cmd.env {
        match v {
            Some(v) => {
                env.insert(k.clone(), v.clone());
            }
            None => {
                env.remove(k);
            }
        }
    }
    env
}

/// Adds `key=value` to the environment of `plan` unless it has `key`
/// already.
pub(super) fn default_env(plan: &mut ExecPlan, key: &str, value: &str) {
    let prefix = format!("{key}=");
    let start = plan.argv.len().saturating_sub(1);
    let has = plan
        .strings
        .iter()
        .skip(start)
        .any(|s| s.as_bytes().starts_with(prefix.as_bytes()));
    if has {
        return;
    }
    let Ok(c) = CString::new(format!("{key}={value}")) else {
        return;
    };
    // The pointer stays valid when the string moves: it points into its
    // heap buffer.
    let at = plan.envp.len().saturating_sub(1);
    plan.envp.insert(at, c.as_ptr());
    plan.strings.push(c);
}

/// The argument vector, the environment and the paths to try, like
/// `execvp`: a program name without a `/` is looked up in the program's
/// `PATH` (as the sandbox will see it), in order.
pub(super) fn exec_plan(
    cfg: &Config,
    cmd: &Command,
    home: Option<&Path>,
) -> Result<(ExecPlan, SearchPath), Error> {
    let mut strings: Vec<CString> = Vec::with_capacity(cmd.args.len() + 16);
    let mut argv = Vec::with_capacity(cmd.args.len() + 2);
    let arg0 = cstring(Field::Arg(0), cmd.arg0.as_deref().unwrap_or(&cmd.program))?;
    argv.push(arg0.as_ptr());
    strings.push(arg0);
    for (i, a) in cmd.args.iter().enumerate() {
        let c = cstring(Field::Arg(i + 1), a)?;
        argv.push(c.as_ptr());
        strings.push(c);
    }
    argv.push(std::ptr::null());

    let env = environment(cfg, cmd, home);
    let mut envp = Vec::with_capacity(env.len() + 1);
    for (k, v) in &env {
        if k.as_bytes().contains(&0) || v.as_bytes().contains(&0) {
            return Err(ConfigError::NulByte {
                field: Field::Env(k.clone()),
            }
            .into());
        }
        let problem = if k.is_empty() {
            Some(EnvNameProblem::Empty)
        } else if k.as_bytes().contains(&b'=') {
            Some(EnvNameProblem::ContainsEquals)
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ConfigError::EnvName {
                name: k.clone(),
                problem,
            }
            .into());
        }
        let mut kv = Vec::with_capacity(k.len() + v.len() + 2);
        kv.extend_from_slice(k.as_bytes());
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        let c = CString::new(kv).map_err(|_| ConfigError::NulByte {
            field: Field::Env(k.clone()),
        })?;
        envp.push(c.as_ptr());
        strings.push(c);
    }
    envp.push(std::ptr::null());

    let program = cmd.program.as_bytes();
    if program.contains(&0) {
        return Err(ConfigError::NulByte {
            field: Field::Program,
        }
        .into());
    }
    let (candidates, search) = if program.contains(&b'/') || program.is_empty() {
        (
            vec![CString::new(program).unwrap_or_default()],
            SearchPath::Literal,
        )
    } else {
        let path = env
            .get(OsStr::new("PATH"))
            .cloned()
            .unwrap_or_else(|| OsString::from(DEFAULT_PATH));
        let mut c = Vec::new();
        for dir in path.as_bytes().split(|b| *b == b':') {
            let mut p = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            p.push(b'/');
            p.extend_from_slice(program);
            if let Ok(s) = CString::new(p) {
                c.push(s);
            }
        }
        (c, SearchPath::Path(path))
    };
    let exec = ExecPlan {
        argv,
        envp,
        candidates,
        strings,
    };
    check_arg_sizes(&exec, &env, cfg.rlimits.get(&Rlimit::Stack).map(|l| l.0))?;
    Ok((exec, search))
}

/// The longest string `execve` copies, with its NUL: `MAX_ARG_STRLEN`, 32
/// pages.
fn max_arg_strlen() -> usize {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
        .unwrap_or(4096);
    page.saturating_mul(32)
}

/// The room `execve` gives the argument and environment strings and their
/// pointers, for a program whose soft `RLIMIT_STACK` is `stack` (`None`:
/// the caller's, which the program inherits): a quarter of it, at most
/// three quarters of the kernel's default stack (`_STK_LIM`, 8 MiB) and at
/// least `ARG_MAX` (128 KiB). See `bprm_stack_limits` in the kernel's
/// `fs/exec.c` (`prepare_arg_pages` before Linux 6.5).
pub(super) fn arg_room(stack: Option<u64>) -> usize {
    let stack = stack.unwrap_or_else(|| {
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_STACK)
            .map_or(u64::MAX, |(soft, _)| soft)
    });
    let room = (stack / 4).clamp(128 << 10, 6 << 20);
    usize::try_from(room).unwrap_or(usize::MAX)
}

/// What `execve(path, ...)` of `exec` takes of that room: the path, every
/// argument and environment string with its NUL, and a pointer to each of
/// the latter (the kernel copies the path first, then the environment,
/// then the arguments, and fails with `E2BIG` once they pass the room).
pub(super) fn arg_size(exec: &ExecPlan, path: &CStr) -> usize {
    let strings: usize = exec
        .strings
        .iter()
        .map(|s| s.as_bytes_with_nul().len() + size_of::<*const libc::c_char>())
        .sum();
    strings + path.to_bytes_with_nul().len()
}

/// Refuses what `execve` would refuse with `E2BIG`, before any process is
/// made: a string longer than `MAX_ARG_STRLEN`, or strings that do not fit
/// in the room even with the shortest path tried (a longer one, or a
/// script's interpreter, can still make `execve` refuse them; that is
/// reported the same way).
fn check_arg_sizes(
    exec: &ExecPlan,
    env: &BTreeMap<OsString, OsString>,
    stack: Option<u64>,
) -> Result<(), Error> {
    let max = max_arg_strlen();
    // `strings` holds the arguments, then the environment in `env`'s order.
    let argc = exec.argv.len().saturating_sub(1);
    for (i, s) in exec.strings.iter().enumerate() {
        let len = s.as_bytes_with_nul().len();
        if len <= max {
            continue;
        }
        let field = match i.checked_sub(argc) {
            None => Field::Arg(i),
            Some(e) => Field::Env(env.keys().nth(e).cloned().unwrap_or_default()),
        };
        return Err(Error::ArgumentsTooLarge {
            limit: ArgLimit::String { field, len, max },
        });
    }
    let max = arg_room(stack);
    let shortest = exec.candidates.iter().min_by_key(|c| c.as_bytes().len());
    let size = arg_size(exec, shortest.map_or(c"", |c| c.as_c_str()));
    if size > max {
        return Err(Error::ArgumentsTooLarge {
            limit: ArgLimit::Total { size, max },
        });
    }
    Ok(())
}

/// Where the program starts: the command's directory (which must exist in
/// the sandbox), or, in a new mount namespace, the caller's own directory
/// if the sandbox has it and `/` otherwise. Returns the directory and
/// whether it is required.
pub(super) fn working_dir(cmd: &Command, mount_ns: bool) -> Result<(Option<CString>, bool), Error> {
    Ok(match &cmd.cwd {
        Some(d) => (Some(cstring(Field::CurrentDir, d.as_os_str())?), true),
        None if mount_ns => (
            std::env::current_dir()
                .ok()
                .and_then(|d| CString::new(d.as_os_str().as_bytes()).ok()),
            false,
        ),
        None => (None, false),
    })
}
