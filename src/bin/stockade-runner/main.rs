//! `stockade-runner`: a runner for Buildbarn's workers.
//!
//! A Buildbarn worker lays out each action in its build directory and asks a
//! runner, over gRPC (`buildbarn.runner.Runner`), to execute it. This runner
//! executes every action in a sandbox of its own: the action's input root
//! and temporary directory are bound read-write at their own paths, the rest
//! is the sandbox's default view (read-only system directories, a private
//! `/tmp`), with no network unless the runner is started with
//! `--network host`, and with the runner's limits. A cancelled call kills
//! the action. Each run writes the sandbox's enforcement report and outcome
//! as JSON to the action's server logs directory.
//!
//! Run `stockade-runner --help` for the options.

mod config;
mod service;

/// The code generated from `proto/` by build.rs.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    /// `buildbarn.runner`: the runner service.
    pub mod runner {
        tonic::include_proto!("buildbarn.runner");
    }
    /// `buildbarn.resourceusage`: what an action used.
    pub mod resourceusage {
        tonic::include_proto!("buildbarn.resourceusage");
    }
}

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match config::Config::parse(&args) {
        Ok(config::Parsed::Run(c)) => c,
        Ok(config::Parsed::Help) => {
            print!("{}", config::HELP);
            return ExitCode::SUCCESS;
        }
        Ok(config::Parsed::Version) => {
            println!("stockade-runner {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("stockade-runner: {e}\nTry 'stockade-runner --help'.");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stockade-runner: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(service::serve(*config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stockade-runner: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
