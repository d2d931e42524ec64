//! The runner's configuration, from its command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const HELP: &str = "\
Usage: stockade-runner --build-directory DIR (--socket PATH | --listen ADDR) [OPTIONS]

Serves buildbarn.runner.Runner (CheckReadiness, Run) for a Buildbarn worker
and runs every action in a sandbox of its own.

Where it listens (at least one):
  --socket PATH           a UNIX socket (created; an old socket file is replaced)
  --listen ADDR           a loopback TCP address, e.g. 127.0.0.1:8991

Actions:
  --build-directory DIR   the worker's build directory; every path of a
                          request is relative to it and must stay inside it
  --network MODE          none (default: a network namespace of its own with
                          only loopback) or host
  --memory SIZE           memory limit per action (cgroup v2), e.g. 2G
  --pids N                process limit per action (cgroup v2)
  --cpus N                CPU bandwidth per action (cgroup v2), e.g. 1.5
  --timeout DURATION      wall-clock limit per action, e.g. 15m
  --cpu-time DURATION     CPU-time limit per action (RLIMIT_CPU)
  --cgroup-parent DIR     the delegated cgroup v2 directory for the actions'
                          cgroups (default: the runner's own)
  --bind-ro PATH          also show this host path, read-only, at the same
                          path (repeatable; e.g. a toolchain under /opt)
  --isolation MODE        strict (default) or best-available (step down where
                          the host refuses namespaces)

  -h, --help              this text
  -V, --version           the version
";

/// How the runner was asked to run.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Config>),
    Help,
    Version,
}

/// The runner's settings.
#[derive(Debug, Default)]
pub struct Config {
    pub socket: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub build_directory: PathBuf,
    pub host_network: bool,
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    pub cpus: Option<f64>,
    pub timeout: Option<Duration>,
    pub cpu_time: Option<Duration>,
    pub cgroup_parent: Option<PathBuf>,
    pub bind_ro: Vec<PathBuf>,
    pub best_available: bool,
}

/// A command line the runner cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown option {0}")]
    Unknown(String),
    #[error("{0} needs a value")]
    MissingValue(&'static str),
    #[error("{option} {value}: {reason}")]
    Invalid {
        option: &'static str,
        value: String,
        reason: String,
    },
    #[error("--build-directory is required")]
    NoBuildDirectory,
    #[error("nothing to listen on: give --socket PATH or --listen ADDR")]
    NoListener,
}

fn invalid(option: &'static str, value: &str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        option,
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

impl Config {
    /// Reads the command line (without the program name).
    pub fn parse(args: &[String]) -> Result<Parsed, ConfigError> {
        let mut c = Config::default();
        let mut build_directory = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            let option: &'static str = match name {
                "-h" | "--help" => return Ok(Parsed::Help),
                "-V" | "--version" => return Ok(Parsed::Version),
                "--socket" => "--socket",
                "--listen" => "--listen",
                "--build-directory" => "--build-directory",
                "--network" => "--network",
                "--memory" => "--memory",
                "--pids" => "--pids",
                "--cpus" => "--cpus",
                "--timeout" => "--timeout",
                "--cpu-time" => "--cpu-time",
                "--cgroup-parent" => "--cgroup-parent",
                "--bind-ro" => "--bind-ro",
                "--isolation" => "--isolation",
                _ => return Err(ConfigError::Unknown(arg.clone())),
            };
            let value = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or(ConfigError::MissingValue(option))?,
            };
            let v = value.as_str();
            match option {
                "--socket" => c.socket = Some(PathBuf::from(v)),
                "--listen" => {
                    let addr: SocketAddr = v.parse().map_err(|e| invalid(option, v, e))?;
                    if !addr.ip().is_loopback() {
                        return Err(invalid(
                            option,
                            v,
                            "not a loopback address (the runner serves no TLS; use a UNIX socket or 127.0.0.1)",
                        ));
                    }
                    c.listen = Some(addr);
                }
                "--build-directory" => {
                    let dir = std::fs::canonicalize(v).map_err(|e| invalid(option, v, e))?;
                    if !dir.is_dir() {
                        return Err(invalid(option, v, "not a directory"));
                    }
                    build_directory = Some(dir);
                }
                "--network" => {
                    c.host_network = match v {
                        "none" => false,
                        "host" => true,
                        _ => return Err(invalid(option, v, "expected none or host")),
                    }
                }
                "--memory" => {
                    c.memory =
                        Some(stockade::units::parse_size(v).map_err(|e| invalid(option, v, e))?)
                }
                "--pids" => c.pids = Some(v.parse().map_err(|e| invalid(option, v, e))?),
                "--cpus" => {
                    let n: f64 = v.parse().map_err(|e| invalid(option, v, e))?;
                    if !(n.is_finite() && n > 0.0) {
                        return Err(invalid(option, v, "expected a positive number"));
                    }
                    c.cpus = Some(n);
                }
                "--timeout" => {
                    c.timeout = Some(
                        stockade::units::parse_duration(v).map_err(|e| invalid(option, v, e))?,
                    )
                }
                "--cpu-time" => {
                    c.cpu_time = Some(
                        stockade::units::parse_duration(v).map_err(|e| invalid(option, v, e))?,
                    )
                }
                "--cgroup-parent" => c.cgroup_parent = Some(PathBuf::from(v)),
                "--bind-ro" => {
                    let p = std::fs::canonicalize(v).map_err(|e| invalid(option, v, e))?;
                    c.bind_ro.push(p);
                }
                "--isolation" => {
                    c.best_available = match v {
                        "strict" => false,
                        "best-available" => true,
                        _ => return Err(invalid(option, v, "expected strict or best-available")),
                    }
                }
                _ => unreachable!("every option is matched above"),
            }
        }
        c.build_directory = build_directory.ok_or(ConfigError::NoBuildDirectory)?;
        if c.socket.is_none() && c.listen.is_none() {
            return Err(ConfigError::NoListener);
        }
        Ok(Parsed::Run(Box::new(c)))
    }

    /// The sandbox every action starts from, before its own binds.
    pub fn sandbox(&self) -> stockade::Sandbox {
        let mut sb = stockade::Sandbox::new();
        if self.host_network {
            sb.network(stockade::Network::Host);
        }
        if let Some(m) = self.memory {
            sb.memory_limit(m);
        }
        if let Some(p) = self.pids {
            sb.pids_limit(p);
        }
        if let Some(n) = self.cpus {
            sb.cpus(n);
        }
        if let Some(t) = self.timeout {
            sb.timeout(t);
        }
        if let Some(t) = self.cpu_time {
            sb.cpu_time_limit(t);
        }
        if let Some(p) = &self.cgroup_parent {
            sb.cgroup_mut().parent = Some(p.clone());
        }
        for p in &self.bind_ro {
            sb.bind_ro(p, p);
        }
        if self.best_available {
            sb.isolation(stockade::isolation::Isolation::BestAvailable);
        }
        sb
    }
}
