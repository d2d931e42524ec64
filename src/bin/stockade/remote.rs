//! `stockade --remote-action`: the command line as the entrypoint a
//! remote-execution worker puts before every action's arguments (NativeLink's
//! `entrypoint`), taking its policy from environment variables the worker
//! maps from the action's platform properties, and reporting a timeout
//! through the worker's side-channel file.
//!
//! The action keeps its environment (less the `STOCKADE_*` variables), its
//! working directory, and its action directory read-write at the same path;
//! everything else is the default sandbox.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// The variables read, the option each stands for, and how its value
/// becomes that option's.
const VARIABLES: &[(&str, &str)] = &[
    ("STOCKADE_POLICY", "--policy"),
    ("STOCKADE_TIMEOUT_MS", "--timeout"),
    ("STOCKADE_MEMORY", "--memory"),
    ("STOCKADE_PIDS", "--pids"),
    ("STOCKADE_CPUS", "--cpus"),
    ("STOCKADE_NETWORK", "--net"),
    ("STOCKADE_ISOLATION", "--isolation"),
];

/// The first argument that makes this an action.
pub const FLAG: &str = "--remote-action";

/// What the run needs after the program ends.
#[derive(Debug, Default)]
pub struct Action {
    /// `STOCKADE_SIDE_CHANNEL_FILE`: where a timeout is reported.
    pub side_channel: Option<PathBuf>,
}

impl Action {
    /// Tells the worker the action timed out, as its side channel expects:
    /// `{"failure":"timeout"}`.
    pub fn timed_out(&self) -> Result<(), String> {
        match &self.side_channel {
            Some(path) => std::fs::write(path, "{\"failure\":\"timeout\"}\n").map_err(|e| {
                format!(
                    "STOCKADE_SIDE_CHANNEL_FILE={}: failed to write it: {e}",
                    path.display()
                )
            }),
            None => Ok(()),
        }
    }
}

/// With `--remote-action` first, the command line with the options the
/// environment asks for spliced in after it (so that options given after it
/// win), and the action's; `args` unchanged and `None` otherwise. An
/// unusable variable is a one-line error naming it.
pub fn expand(
    args: Vec<OsString>,
    env: &[(OsString, OsString)],
    cwd: &std::path::Path,
) -> Result<(Vec<OsString>, Option<Action>), String> {
    if args.first().map(OsString::as_os_str) != Some(OsStr::new(FLAG)) {
        return Ok((args, None));
    }
    let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut out: Vec<OsString> = vec!["--inherit-env".into()];
    for (k, _) in env {
        if k.as_encoded_bytes().starts_with(b"STOCKADE_") {
            out.push("--unsetenv".into());
            out.push(k.clone());
        }
    }
    let dir = get("STOCKADE_ACTION_DIRECTORY").map_or_else(|| cwd.to_owned(), PathBuf::from);
    if !dir.is_absolute() {
        return Err(format!(
            "STOCKADE_ACTION_DIRECTORY={}: must be an absolute path",
            dir.display()
        ));
    }
    out.extend(["--bind".into(), dir.clone().into(), dir.into()]);
    out.extend(["--chdir".into(), cwd.as_os_str().to_owned()]);
    // The options the command line gives itself (up to the program): a
    // variable standing for one of them gives way.
    let own: Vec<&OsStr> = args[1..]
        .iter()
        .map(OsString::as_os_str)
        .take_while(|a| *a != "--")
        .collect();
    let given = |option: &str| {
        let aliases: &[&str] = match option {
            "--net" => &[
                "--net",
                "--share-net",
                "--net-filter",
                "--allow-host",
                "--deny-host",
                "--allow-private",
                "--resolve",
                "--max-connections",
            ],
            _ => &[],
        };
        // `--memory 1G` or `--memory=1G`.
        let is = |a: &OsStr, x: &str| {
            a.as_encoded_bytes()
                .strip_prefix(x.as_bytes())
                .is_some_and(|rest| rest.is_empty() || rest[0] == b'=')
        };
        own.iter()
            .any(|a| is(a, option) || aliases.iter().any(|x| is(a, x)))
    };
    for (name, option) in VARIABLES {
        let Some(value) = get(name) else { continue };
        if given(option) {
            continue;
        }
        let value = if *name == "STOCKADE_TIMEOUT_MS" {
            let ms = value
                .to_str()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .ok_or_else(|| {
                    format!(
                        "STOCKADE_TIMEOUT_MS={}: expected a number of milliseconds above 0",
                        value.to_string_lossy()
                    )
                })?;
            OsString::from(format!("{ms}ms"))
        } else {
            value
        };
        // Each variable checked on its own, so that its error names it.
        let probe = [OsString::from(*option), value.clone(), "true".into()];
        if let Err(e) = crate::args::parse(probe) {
            return Err(format!(
                "{name}={}: {}",
                value.to_string_lossy(),
                e.to_string().trim_end()
            ));
        }
        out.push((*option).into());
        out.push(value);
    }
    out.extend(args.into_iter().skip(1));
    let action = Action {
        side_channel: get("STOCKADE_SIDE_CHANNEL_FILE").map(PathBuf::from),
    };
    Ok((out, Some(action)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_a_first_flag_makes_an_action() {
        let args = os(&["--memory", "1G", "--", "true"]);
        let (same, action) = expand(args.clone(), &[], "/w".as_ref()).unwrap();
        assert_eq!(same, args);
        assert!(action.is_none());
    }

    #[test]
    fn variables_become_options_before_the_command_lines() {
        let env = [
            ("STOCKADE_MEMORY".into(), "64M".into()),
            ("STOCKADE_TIMEOUT_MS".into(), "1500".into()),
            ("STOCKADE_SIDE_CHANNEL_FILE".into(), "/tmp/side".into()),
            ("PATH".into(), "/usr/bin".into()),
        ];
        let (args, action) = expand(
            os(&[FLAG, "--pids", "9", "--", "make"]),
            &env,
            "/b/w".as_ref(),
        )
        .unwrap();
        assert_eq!(
            args,
            os(&[
                "--inherit-env",
                "--unsetenv",
                "STOCKADE_MEMORY",
                "--unsetenv",
                "STOCKADE_TIMEOUT_MS",
                "--unsetenv",
                "STOCKADE_SIDE_CHANNEL_FILE",
                "--bind",
                "/b/w",
                "/b/w",
                "--chdir",
                "/b/w",
                "--timeout",
                "1500ms",
                "--memory",
                "64M",
                "--pids",
                "9",
                "--",
                "make",
            ])
        );
        assert_eq!(action.unwrap().side_channel, Some("/tmp/side".into()));
        // An option given with its value attached gives way to no variable.
        let (args, _) = expand(
            os(&[FLAG, "--memory=1G", "--net=host", "true"]),
            &[
                ("STOCKADE_MEMORY".into(), "64M".into()),
                ("STOCKADE_NETWORK".into(), "none".into()),
            ],
            "/b/w".as_ref(),
        )
        .unwrap();
        assert!(
            !args.iter().any(|a| a == "--memory" || a == "--net"),
            "{args:?}"
        );
        assert!(crate::args::parse(args).is_ok());
    }

    #[test]
    fn a_bad_variable_is_named() {
        for (name, value, says) in [
            ("STOCKADE_MEMORY", "lots", "--memory"),
            ("STOCKADE_TIMEOUT_MS", "soon", "milliseconds"),
            ("STOCKADE_NETWORK", "everything", "--net"),
            ("STOCKADE_ACTION_DIRECTORY", "relative", "absolute"),
        ] {
            let env = [(OsString::from(name), OsString::from(value))];
            let e = expand(os(&[FLAG, "true"]), &env, "/w".as_ref()).unwrap_err();
            assert!(e.starts_with(&format!("{name}={value}: ")), "{e}");
            assert!(e.contains(says), "{e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}
