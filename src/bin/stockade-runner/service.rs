//! The gRPC service: `CheckReadiness` and `Run`.

use std::fs::File;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tonic::{Request, Response, Status};

use crate::config::Config;
use crate::proto::resourceusage::PosixResourceUsage;
use crate::proto::runner::runner_server::{Runner, RunnerServer};
use crate::proto::runner::{CheckReadinessRequest, RunRequest, RunResponse};

/// The name of the report each run writes to its server logs directory.
pub const REPORT_FILE: &str = "stockade-sandbox.json";

/// The type URL of the resource usage message in a `RunResponse`.
const POSIX_USAGE_URL: &str = "type.googleapis.com/buildbarn.resourceusage.POSIXResourceUsage";

/// Why the runner stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The UNIX socket could not be created.
    #[error("failed to listen on the socket {path}")]
    Socket {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TCP address could not be bound.
    #[error("failed to listen on {addr}")]
    Tcp {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("failed to watch for SIGTERM and SIGINT")]
    Signals(#[source] std::io::Error),
    /// The limits or binds of the configuration are not a valid policy.
    #[error("failed to build the actions' sandbox policy")]
    Policy(#[source] stockade::Error),
}

/// Listens where the configuration says until SIGTERM or SIGINT.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    use tokio::signal::unix::{SignalKind, signal};
    let sandbox = config.sandbox();
    sandbox.validate().map_err(ServeError::Policy)?;
    let routes = tonic::service::Routes::new(RunnerServer::new(Service {
        inner: Arc::new(Inner {
            sandbox,
            build_directory: config.build_directory.clone(),
        }),
    }))
    .prepare();
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    let mut servers = tokio::task::JoinSet::new();
    if let Some(path) = &config.socket {
        // Replace a socket left by an earlier run, never another file.
        if let Ok(m) = std::fs::symlink_metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if m.file_type().is_socket() {
                let _ = std::fs::remove_file(path);
            }
        }
        let listener =
            tokio::net::UnixListener::bind(path).map_err(|source| ServeError::Socket {
                path: path.clone(),
                source,
            })?;
        eprintln!("stockade-runner: listening on {}", path.display());
        let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
        servers.spawn(serve_connections(routes.clone(), incoming, stopped()));
    }
    if let Some(addr) = config.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Tcp { addr, source })?;
        if let Ok(local) = listener.local_addr() {
            eprintln!("stockade-runner: listening on {local}");
        }
        // Small messages both ways: no Nagle delay.
        let incoming = tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            |c| c.inspect(|s| drop(s.set_nodelay(true))),
        );
        servers.spawn(serve_connections(routes.clone(), incoming, stopped()));
    }
    while servers.join_next().await.is_some() {}
    if let Some(path) = &config.socket {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Serves `routes` over HTTP/2 (gRPC's prior-knowledge form) on each
/// connection `incoming` yields, until `stop` ends; then stops accepting
/// and lets the calls in progress finish.
///
/// Not tonic's `transport::Server`: it puts a timer of its own on every
/// call with a `grpc-timeout` and, when that fires, drops the handler and
/// answers CANCELLED ("Timeout expired"), so a call past its deadline
/// never got the DEADLINE_EXCEEDED that gRPC gives an expired deadline
/// (and that the handler below sends, after killing the action and
/// writing its report). Here the handler alone owns the deadline.
async fn serve_connections<I, S>(
    routes: tonic::service::Routes,
    incoming: S,
    stop: impl std::future::Future<Output = ()>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    S: tokio_stream::Stream<Item = std::io::Result<I>>,
{
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tokio_stream::StreamExt;

    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2.timer(TokioTimer::new());
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    {
        // Dropped as soon as accepting stops: the listening socket closes
        // then, not after the last call.
        let mut incoming = std::pin::pin!(incoming);
        let mut stop = std::pin::pin!(stop);
        loop {
            let io = tokio::select! {
                () = &mut stop => break,
                io = incoming.next() => io,
            };
            let io = match io {
                Some(Ok(io)) => io,
                Some(Err(_)) => {
                    // Out of descriptors, or a connection that went away
                    // while queued: try again in a moment.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                None => break,
            };
            let service = hyper_util::service::TowerToHyperService::new(routes.clone());
            let conn = http2.serve_connection(TokioIo::new(io), service);
            let mut stopped = stopped.clone();
            connections.spawn(async move {
                let mut conn = std::pin::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => return,
                    _ = stopped.wait_for(|s| *s) => {}
                }
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            });
            while connections.try_join_next().is_some() {}
        }
    }
    let _ = stopping.send(true);
    while connections.join_next().await.is_some() {}
}

/// The runner service (cheap to clone).
#[derive(Clone)]
struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    /// The policy every action starts from.
    sandbox: stockade::Sandbox,
    /// The worker's build directory, canonical.
    build_directory: PathBuf,
}

/// Joins `rel`, a relative path from a request, to `base` without leaving
/// it: `..` may not climb above `base`, and the existing part of the result
/// must resolve (symbolic links followed) inside `within`.
fn inside(base: &Path, rel: &str, within: &Path, field: &str) -> Result<PathBuf, Status> {
    if rel.starts_with('/') {
        return Err(Status::invalid_argument(format!(
            "{field} {rel:?} is absolute; it must be relative"
        )));
    }
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(Status::invalid_argument(format!(
                        "{field} {rel:?} leads out of its directory"
                    )));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(Status::invalid_argument(format!(
                    "{field} {rel:?} is not a relative path"
                )));
            }
        }
    }
    let path = parts.iter().fold(base.to_owned(), |p, c| p.join(c));
    // The deepest existing ancestor must resolve inside `within`.
    let mut existing = path.as_path();
    loop {
        match std::fs::canonicalize(existing) {
            Ok(real) if real.starts_with(within) => return Ok(path),
            Ok(_) => {
                return Err(Status::invalid_argument(format!(
                    "{field} {rel:?} resolves outside the build directory"
                )));
            }
            Err(_) => match existing.parent() {
                Some(p) => existing = p,
                None => return Ok(path),
            },
        }
    }
}

fn directory(path: &Path, rel: &str, field: &str) -> Result<(), Status> {
    if path.is_dir() {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "{field} {rel:?} is not a directory"
        )))
    }
}

/// Creates an output file of the action; it must not exist yet.
fn create_log(path: &Path, rel: &str, field: &str) -> Result<File, Status> {
    std::fs::OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o666)
        .open(path)
        .map_err(|e| Status::invalid_argument(format!("failed to create {field} {rel:?}: {e}")))
}

fn executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The program to execute: `argv0` itself when it names a path (relative
/// ones from the working directory), else the first match in the action's
/// `PATH`, whose relative entries count from the working directory.
fn find_program(argv0: &str, workdir: &Path, path_var: Option<&str>) -> Result<PathBuf, Status> {
    if argv0.contains('/') {
        return Ok(workdir.join(argv0));
    }
    let path_var = path_var.unwrap_or_default();
    for dir in path_var.split(':') {
        let candidate = workdir.join(dir).join(argv0);
        if executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(Status::invalid_argument(format!(
        "cannot find the executable {argv0:?} in the action's PATH {path_var:?}"
    )))
}

/// The gRPC deadline the client sent (`grpc-timeout`), if any.
fn deadline(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let v = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (n, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Writes the action's report (enforcement, and the outcome once known) to
/// its server logs directory; on drop before [`finish`](Report::finish), as
/// cancelled.
struct Report {
    path: Option<PathBuf>,
    enforcement: serde_json::Value,
    done: bool,
}

impl Report {
    fn write(&self, outcome: serde_json::Value, ended: &str) {
        let Some(path) = &self.path else { return };
        let doc = serde_json::json!({
            "ended": ended,
            "enforcement": self.enforcement,
            "outcome": outcome,
        });
        let text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        // Replaced whole (written aside, then renamed), so that a reader
        // never sees half of it while `running` becomes the end.
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        if let Err(e) = written {
            eprintln!(
                "stockade-runner: failed to write the report {}: {e}",
                path.display()
            );
        }
    }

    fn finish(&mut self, outcome: Option<&stockade::Outcome>, ended: &str) {
        self.done = true;
        let outcome = serde_json::to_value(outcome).unwrap_or_default();
        self.write(outcome, ended);
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if !self.done {
            self.write(serde_json::Value::Null, "cancelled");
        }
    }
}

fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(d).unwrap_or_default()
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().trim_start_matches("SIG").to_owned())
        .unwrap_or_else(|_| sig.to_string())
}

impl Inner {
    async fn run(
        &self,
        deadline: Option<tokio::time::Instant>,
        req: RunRequest,
    ) -> Result<RunResponse, Status> {
        let build = &self.build_directory;
        let argv0 = req
            .arguments
            .first()
            .ok_or_else(|| Status::invalid_argument("arguments is empty"))?;
        let input_root = inside(
            build,
            &req.input_root_directory,
            build,
            "input_root_directory",
        )?;
        directory(
            &input_root,
            &req.input_root_directory,
            "input_root_directory",
        )?;
        let input_real = std::fs::canonicalize(&input_root)
            .map_err(|e| Status::invalid_argument(format!("input_root_directory: {e}")))?;
        let workdir = inside(
            &input_real,
            &req.working_directory,
            &input_real,
            "working_directory",
        )?;
        directory(&workdir, &req.working_directory, "working_directory")?;
        let tmp = if req.temporary_directory.is_empty() {
            None
        } else {
            let t = inside(
                build,
                &req.temporary_directory,
                build,
                "temporary_directory",
            )?;
            directory(&t, &req.temporary_directory, "temporary_directory")?;
            Some(t)
        };
        let logs = if req.server_logs_directory.is_empty() {
            None
        } else {
            let l = inside(
                build,
                &req.server_logs_directory,
                build,
                "server_logs_directory",
            )?;
            directory(&l, &req.server_logs_directory, "server_logs_directory")?;
            Some(l)
        };
        let program = find_program(
            argv0,
            &workdir,
            req.environment_variables.get("PATH").map(String::as_str),
        )?;
        let stdout = if req.stdout_path.is_empty() {
            stockade::Stdio::null()
        } else {
            let p = inside(build, &req.stdout_path, build, "stdout_path")?;
            create_log(&p, &req.stdout_path, "stdout_path")?.into()
        };
        let stderr = if req.stderr_path.is_empty() {
            stockade::Stdio::null()
        } else {
            let p = inside(build, &req.stderr_path, build, "stderr_path")?;
            create_log(&p, &req.stderr_path, "stderr_path")?.into()
        };

        let mut sandbox = self.sandbox.clone();
        sandbox.bind_rw(&input_real, &input_real);
        let mut cmd = stockade::Command::new(&program);
        cmd.arg0(argv0)
            .args(&req.arguments[1..])
            .env_clear()
            .envs(&req.environment_variables)
            .current_dir(&workdir)
            .stdin(stockade::Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        if let Some(t) = &tmp {
            let real = std::fs::canonicalize(t)
                .map_err(|e| Status::invalid_argument(format!("temporary_directory: {e}")))?;
            sandbox.bind_rw(&real, &real);
            if !req.environment_variables.contains_key("TMPDIR") {
                cmd.env("TMPDIR", &real);
            }
        }

        let child = tokio::task::spawn_blocking(move || sandbox.spawn(&mut cmd))
            .await
            .map_err(|e| Status::internal(format!("failed to start the sandbox: {e}")))?
            .map_err(spawn_error)?;
        let mut child = stockade::tokio::AsyncChild::new(child)
            .map_err(|e| Status::internal(format!("failed to watch the sandbox: {e}")))?;
        let mut report = Report {
            path: logs.map(|l| l.join(REPORT_FILE)),
            enforcement: serde_json::to_value(child.enforcement()).unwrap_or_default(),
            done: false,
        };
        report.write(serde_json::Value::Null, "running");

        let waited = match deadline {
            Some(d) => tokio::time::timeout_at(d, child.wait()).await.ok(),
            None => Some(child.wait().await),
        };
        let status = match waited {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                report.finish(None, "lost");
                return Err(Status::internal(format!(
                    "failed to wait for the action: {e}"
                )));
            }
            None => {
                let _ = child.kill().await;
                report.finish(child.outcome(), "deadline_exceeded");
                return Err(Status::deadline_exceeded(
                    "the call's deadline expired; the action was killed",
                ));
            }
        };
        let outcome = child.outcome();
        report.finish(outcome, "finished");

        let mut usage = PosixResourceUsage::default();
        if let Some(u) = outcome.and_then(|o| o.usage) {
            usage.user_time = Some(duration(u.user_time));
            usage.system_time = Some(duration(u.system_time));
            usage.maximum_resident_set_size =
                i64::try_from(u.peak_memory_bytes).unwrap_or(i64::MAX);
        }
        if let Some(sig) = status.signal() {
            usage.termination_signal = signal_name(sig);
        }
        Ok(RunResponse {
            exit_code: status.code().map_or(-1, i64::from),
            resource_usage: vec![prost_types::Any {
                type_url: POSIX_USAGE_URL.to_owned(),
                value: usage.encode_to_vec(),
            }],
        })
    }
}

/// A spawn failure as a gRPC status: the action's own fault (its program
/// or working directory) is an invalid argument, as with Buildbarn's own
/// runner; anything else is the runner's.
fn spawn_error(e: stockade::Error) -> Status {
    let message = format!("failed to start the action: {}", chain(&e));
    match e {
        stockade::Error::ProgramNotFound { .. }
        | stockade::Error::NotExecutable { .. }
        | stockade::Error::IsADirectory { .. }
        | stockade::Error::InterpreterNotFound { .. }
        | stockade::Error::ArgumentsTooLarge { .. }
        | stockade::Error::WorkingDirectory { .. } => Status::invalid_argument(message),
        _ => Status::internal(message),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

#[tonic::async_trait]
impl Runner for Service {
    async fn check_readiness(
        &self,
        request: Request<CheckReadinessRequest>,
    ) -> Result<Response<()>, Status> {
        let build = &self.inner.build_directory;
        let rel = request.into_inner().path;
        let path = inside(build, &rel, build, "path")?;
        std::fs::symlink_metadata(&path).map_err(|e| {
            Status::internal(format!(
                "failed to find {rel:?} in the build directory: {e}"
            ))
        })?;
        Ok(Response::new(()))
    }

    async fn run(&self, request: Request<RunRequest>) -> Result<Response<RunResponse>, Status> {
        // From the call's arrival, not from the sandbox's start.
        let deadline =
            deadline(request.metadata()).and_then(|d| tokio::time::Instant::now().checked_add(d));
        let inner = self.inner.clone();
        // Dropped with the call (a cancel or an expired deadline on the
        // client's side): the sandbox goes with it.
        inner
            .run(deadline, request.into_inner())
            .await
            .map(Response::new)
    }
}
