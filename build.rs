//! Compiles the runner's .proto files (proto/) when the feature `runner` is
//! on (`CARGO_FEATURE_RUNNER`); does nothing otherwise. The compiler is
//! protox, in Rust, so no `protoc` binary is needed.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "runner")]
    runner_protos();
}

#[cfg(feature = "runner")]
fn runner_protos() {
    const FILES: [&str; 2] = [
        "proto/buildbarn/runner/runner.proto",
        "proto/buildbarn/resourceusage/resourceusage.proto",
    ];
    for f in FILES {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = match protox::compile(FILES, ["proto"]) {
        Ok(fds) => fds,
        Err(e) => {
            eprintln!("failed to compile the runner's .proto files: {e:?}");
            std::process::exit(1);
        }
    };
    if let Err(e) = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)
    {
        eprintln!("failed to generate the runner's gRPC code: {e}");
        std::process::exit(1);
    }
}
