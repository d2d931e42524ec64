//! Spawn cost, side by side with `std::process::Command` and bubblewrap.
//!
//! ```text
//! cargo bench --bench spawn                 # everything, then a table of ratios
//! cargo bench --bench spawn -- levels/      # one group (criterion filter)
//! ```
//!
//! Every figure is a criterion median measured in the same run as the
//! figures it is compared with; the table at the end prints the ratios.
//! bubblewrap rows appear when `bwrap` is on `PATH`. The mount-table group
//! needs root (it mounts 1,000 tmpfs instances in a private mount namespace
//! of the benchmark process).

use std::path::{Path, PathBuf};
use std::process::Stdio as StdStdio;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use stockade::{Command, Namespaces, Sandbox, Stdio};

const TRUE: &str = "/bin/true";

/// The isolation levels compared, with the bubblewrap flags that match them.
fn levels() -> Vec<(&'static str, Sandbox, Option<&'static [&'static str]>)> {
    let mut none = Sandbox::new();
    none.namespaces(Namespaces::empty());
    let mut ump = Sandbox::new();
    ump.namespaces(Namespaces::USER | Namespaces::MOUNT | Namespaces::PID);
    let mut no_net = Sandbox::new();
    no_net.share_net();
    let full = Sandbox::new();
    const BWRAP_UMP: &[&str] = &[
        "--unshare-user",
        "--unshare-pid",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ];
    const BWRAP_NO_NET: &[&str] = &[
        "--unshare-all",
        "--share-net",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ];
    const BWRAP_FULL: &[&str] = &[
        "--unshare-all",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ];
    vec![
        ("none", none, None),
        ("user+mount+pid", ump, Some(BWRAP_UMP)),
        ("default-no-net", no_net, Some(BWRAP_NO_NET)),
        ("default", full, Some(BWRAP_FULL)),
    ]
}

fn bwrap() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("bwrap"))
        .find(|p| p.exists())
}

fn run_std(program: &str, args: &[&str]) {
    let s = std::process::Command::new(program)
        .args(args)
        .stdin(StdStdio::null())
        .status()
        .expect("spawn");
    assert!(s.success());
}

fn run_sandbox(sb: &Sandbox) {
    let s = sb
        .status(Command::new(TRUE).stdin(Stdio::null()))
        .expect("sandbox spawn");
    assert!(s.success());
}

fn bench_levels(c: &mut Criterion, bwrap: Option<&Path>) {
    let mut g = c.benchmark_group("levels");
    g.bench_function("std", |b| b.iter(|| run_std(TRUE, &[])));
    for (name, sb, bw) in levels() {
        sb.validate().expect("policy");
        g.bench_function(BenchmarkId::new("stockade", name), |b| {
            b.iter(|| run_sandbox(&sb))
        });
        if let (Some(bin), Some(flags)) = (bwrap, bw) {
            let mut args: Vec<&str> = flags.to_vec();
            args.push(TRUE);
            let bin = bin.to_str().unwrap();
            g.bench_function(BenchmarkId::new("bwrap", name), |b| {
                b.iter(|| run_std(bin, &args))
            });
        }
    }
    g.finish();
}

/// Time per sandbox with `threads` threads spawning concurrently.
fn per_spawn_concurrent(threads: usize, iters: u64, one: Arc<dyn Fn() + Send + Sync>) -> Duration {
    let per = iters.div_ceil(threads as u64);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let b = barrier.clone();
            let one = one.clone();
            std::thread::spawn(move || {
                b.wait();
                for _ in 0..per {
                    one();
                }
            })
        })
        .collect();
    barrier.wait();
    let t = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    // Report the time for `iters` sandboxes at the measured rate.
    t.elapsed()
        .mul_f64(iters as f64 / (per * threads as u64) as f64)
}

fn bench_throughput(c: &mut Criterion, bwrap: Option<&Path>) {
    let mut g = c.benchmark_group("throughput");
    let mut sb = Sandbox::new();
    sb.share_net();
    sb.validate().unwrap();
    let sb = Arc::new(sb);
    for threads in [1usize, 2, 4] {
        let s = sb.clone();
        let one: Arc<dyn Fn() + Send + Sync> = Arc::new(move || run_sandbox(&s));
        g.bench_function(BenchmarkId::new("stockade", threads), |b| {
            b.iter_custom(|iters| per_spawn_concurrent(threads, iters, one.clone()))
        });
        if let Some(bin) = bwrap {
            let bin = bin.to_str().unwrap().to_owned();
            let one: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                let mut args: Vec<&str> = levels()[2].2.unwrap().to_vec();
                args.push(TRUE);
                run_std(&bin, &args)
            });
            g.bench_function(BenchmarkId::new("bwrap", threads), |b| {
                b.iter_custom(|iters| per_spawn_concurrent(threads, iters, one.clone()))
            });
        }
    }
    g.finish();
}

/// Touches every page so the memory is really mapped.
fn touched(bytes: usize) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    for i in (0..bytes).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(&v);
    v
}

fn bench_parent_size(c: &mut Criterion) {
    let mut g = c.benchmark_group("parent-size");
    let mut sb = Sandbox::new();
    sb.share_net();
    for (label, bytes) in [("10MiB", 10usize << 20), ("1GiB", 1 << 30)] {
        let ballast = touched(bytes);
        g.bench_function(BenchmarkId::new("stockade", label), |b| {
            b.iter(|| run_sandbox(&sb))
        });
        g.bench_function(BenchmarkId::new("std", label), |b| {
            b.iter(|| run_std(TRUE, &[]))
        });
        drop(ballast);
    }
    g.finish();
}

/// Moves the benchmark into a private mount namespace and mounts `n` tmpfs
/// instances there. Root only.
fn add_mounts(n: usize) -> std::io::Result<()> {
    use nix::mount::{MsFlags, mount};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    let base = std::env::temp_dir().join(format!("stockade-bench-mounts-{}", std::process::id()));
    for i in 0..n {
        let d = base.join(i.to_string());
        std::fs::create_dir_all(&d)?;
        mount(
            Some("tmpfs"),
            &d,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=4k"),
        )?;
    }
    Ok(())
}

fn bench_mount_table(c: &mut Criterion) {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED mount-table group: needs root to create the extra mounts");
        return;
    }
    let mut sb = Sandbox::new();
    sb.share_net();
    let mut g = c.benchmark_group("mount-table");
    g.bench_function(BenchmarkId::new("stockade", 0), |b| {
        b.iter(|| run_sandbox(&sb))
    });
    g.finish();
    // The rest of the benchmark process runs with the bigger table: this
    // group comes last.
    add_mounts(1000).expect("create 1000 mounts");
    let mut g = c.benchmark_group("mount-table");
    g.bench_function(BenchmarkId::new("stockade", 1000), |b| {
        b.iter(|| run_sandbox(&sb))
    });
    g.finish();
}

/// The median of one criterion benchmark, from its saved estimates.
fn median(id: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let path = dir.join("criterion").join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn ms(ns: f64) -> String {
    format!("{:.2} ms", ns / 1e6)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn table() {
    let std = median("levels/std");
    println!("\nspawn+wait of /bin/true (medians, same run)\n");
    println!("| isolation | std | stockade | bwrap | stockade / std | bwrap / stockade |");
    println!("|---|---|---|---|---|---|");
    for (name, _, _) in levels() {
        let ours = median(&format!("levels/stockade/{name}"));
        let bw = median(&format!("levels/bwrap/{name}"));
        let show = |v: Option<f64>| v.map_or("-".into(), ms);
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            show(std),
            show(ours),
            show(bw),
            ratio(ours, std),
            ratio(bw, ours)
        );
    }
    println!("\nthroughput, default policy without network namespace (sandboxes/s)\n");
    println!("| threads | stockade | bwrap | stockade / bwrap |");
    println!("|---|---|---|---|");
    for t in [1, 2, 4] {
        let ours = median(&format!("throughput/stockade/{t}"));
        let bw = median(&format!("throughput/bwrap/{t}"));
        let rate = |v: Option<f64>| v.map_or("-".into(), |ns| format!("{:.0}", 1e9 / ns));
        println!(
            "| {t} | {} | {} | {} |",
            rate(ours),
            rate(bw),
            ratio(bw, ours)
        );
    }
    println!("\nparent size\n");
    println!("| parent | stockade | std | stockade 1GiB / 10MiB |");
    println!("|---|---|---|---|");
    let small = median("parent-size/stockade/10MiB");
    for label in ["10MiB", "1GiB"] {
        let ours = median(&format!("parent-size/stockade/{label}"));
        let s = median(&format!("parent-size/std/{label}"));
        println!(
            "| {label} | {} | {} | {} |",
            ours.map_or("-".into(), ms),
            s.map_or("-".into(), ms),
            ratio(ours, small)
        );
    }
    let m0 = median("mount-table/stockade/0");
    let m1000 = median("mount-table/stockade/1000");
    println!(
        "\ncaller mount table: 0 extra mounts {}, 1000 extra mounts {}, ratio {}",
        m0.map_or("-".into(), ms),
        m1000.map_or("-".into(), ms),
        ratio(m1000, m0)
    );
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let bw = bwrap();
    if bw.is_none() {
        eprintln!("bwrap not found: bubblewrap rows are left out");
    }
    bench_levels(&mut c, bw.as_deref());
    bench_throughput(&mut c, bw.as_deref());
    bench_parent_size(&mut c);
    bench_mount_table(&mut c);
    c.final_summary();
    table();
}
