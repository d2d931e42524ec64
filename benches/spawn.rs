//! Spawn cost, side by side with `std::process::Command` and bubblewrap.
//!
//! ```text
//! cargo bench --bench spawn                 # everything, then a table of ratios
//! cargo bench --bench spawn -- levels/      # one group (criterion filter)
//! cargo bench --bench spawn -- containers   # containers (interleaved runner)
//! cargo bench --bench spawn -- features     # parts of the default policy
//! cargo bench --bench spawn -- new-policy   # a policy per spawn against one reused
//! cargo bench --bench spawn -- pty          # terminals (interleaved runner)
//! cargo bench --bench spawn -- writable-root  # writable roots (interleaved runner)
//! cargo bench --bench spawn -- egress     # the filtered network (interleaved runner)
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
    no_net.network(stockade::Network::Host);
    let full = Sandbox::new();
    let mut net_filter = Sandbox::new();
    net_filter.network(stockade::Network::Blocked);
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
        // No network by seccomp and Landlock instead of a namespace (no
        // bubblewrap equivalent).
        ("default-net-filter", net_filter, None),
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
    // A caller that builds a new policy for every spawn pays for compiling
    // it and for building the whole root each time (no template).
    g.bench_function(BenchmarkId::new("stockade", NEW_POLICY), |b| {
        b.iter(|| {
            let mut sb = Sandbox::new();
            sb.network(stockade::Network::Host);
            run_sandbox(&sb)
        })
    });
    g.finish();
}

/// The row of a policy built anew for each spawn (default, no netns).
const NEW_POLICY: &str = "default-no-net-new-policy";

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
    sb.network(stockade::Network::Host);
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
    sb.network(stockade::Network::Host);
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
    sb.network(stockade::Network::Host);
    let mut g = c.benchmark_group("mount-table");
    g.bench_function(BenchmarkId::new("stockade", 0), |b| {
        b.iter(|| run_sandbox(&sb))
    });
    g.finish();
    // The rest of the benchmark process runs with the bigger table: this
    // group comes last.
    add_mounts(1000).expect("create 1000 mounts");
    // A new policy, so that its template (built on its second spawn) is
    // built under the bigger table too.
    let mut sb = Sandbox::new();
    sb.network(stockade::Network::Host);
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
    let rows = levels().into_iter().map(|(name, ..)| (name, name));
    for (name, bw_name) in rows.chain([(NEW_POLICY, "default-no-net")]) {
        let ours = median(&format!("levels/stockade/{name}"));
        let bw = median(&format!("levels/bwrap/{bw_name}"));
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

/// Every process in the tree rooted at `pid`, the root included.
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let p = all[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
                all.extend(
                    kids.split_whitespace()
                        .filter_map(|k| k.parse::<u32>().ok()),
                );
            }
        }
        i += 1;
    }
    all
}

/// The proportional set size of process `pid` in KiB (`smaps_rollup`).
fn pss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = s.lines().find(|l| l.starts_with("Pss:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether process `pid` shares this process's address space (a
/// `CLONE_VM` child that has not executed anything).
fn shares_our_memory(pid: u32) -> bool {
    // SAFETY: kcmp with integer arguments only; KCMP_VM compares the two
    // processes' memory descriptors.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            std::process::id() as libc::pid_t,
            pid as libc::pid_t,
            1, /* KCMP_VM */
            0usize,
            0usize,
        )
    };
    r == 0
}

/// The processes of one running sandbox: how many, how many of them share
/// the caller's address space, and the summed PSS of the others.
struct TreeMemory {
    processes: usize,
    sharing_ours: usize,
    pss_kib: u64,
}

/// Waits until the tree under `pid` holds a `sleep` that has settled, then
/// measures it.
fn settled_tree(pid: u32) -> TreeMemory {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let procs = tree(pid);
        let has_sleep = procs.iter().any(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        });
        if has_sleep || Instant::now() > deadline {
            // Let the program finish loading before reading its PSS.
            std::thread::sleep(Duration::from_millis(200));
            return measure(&tree(pid));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The pid behind a pidfd, from its fdinfo.
fn pid_of_pidfd(fd: std::os::fd::BorrowedFd<'_>) -> u32 {
    use std::os::fd::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))
        .expect("pidfd fdinfo");
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Pid: in pidfd fdinfo")
}

/// Memory per sandbox: the processes a running `sleep` costs and their
/// summed PSS, for std, stockade's levels and bubblewrap. Not a timing, so
/// it is printed directly rather than through criterion. stockade's
/// supervisor shares the caller's address space (it is cloned with
/// `CLONE_VM` and never executes anything), so it adds a process but no
/// pages of its own beyond its stack; its PSS, which would be the caller's,
/// is left out and the process is counted in its own column.
fn memory_per_sandbox(bwrap: Option<&Path>) {
    println!("\nmemory per sandbox (a running `sleep 30`; PSS from smaps_rollup)\n");
    println!(
        "| runner | processes | of them sharing the caller's memory | PSS KiB of the others | extra processes over std | extra PSS KiB |"
    );
    println!("|---|---|---|---|---|---|");
    let mut std_child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    let base = settled_tree(std_child.id());
    let _ = std_child.kill();
    let _ = std_child.wait();
    let row = |name: &str, m: &TreeMemory| {
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            m.processes,
            m.sharing_ours,
            m.pss_kib,
            m.processes as i64 - base.processes as i64,
            m.pss_kib as i64 - base.pss_kib as i64
        );
    };
    row("std", &base);
    for (name, sb, flags) in levels() {
        let mut child = sb
            .spawn(Command::new("sleep").arg("30").stdin(Stdio::null()))
            .expect("sandbox spawn");
        let m = settled_tree(pid_of_pidfd(child.pidfd()));
        let _ = child.kill();
        let _ = child.wait();
        row(&format!("stockade {name}"), &m);
        if let (Some(bw), Some(flags)) = (bwrap, flags) {
            let mut c = std::process::Command::new(bw)
                .arg("--die-with-parent")
                .args(flags)
                .args(["sleep", "30"])
                .stdin(StdStdio::null())
                .spawn()
                .expect("spawn bwrap");
            let m = settled_tree(c.id());
            let _ = c.kill();
            let _ = c.wait();
            row(&format!("bwrap {name}"), &m);
        }
    }
}

/// Containers, measured by an interleaved runner rather than criterion:
/// each round runs every row once, in a shuffled order, so that the
/// machine's drift and noise fall on all rows alike; medians of the rounds.
/// Rows: std's fork+exec of `/bin/true` (the baseline for an exec), an exec
/// of it into a running container of the default policy, a one-shot spawn
/// of the default policy, and a container's start and stop (`kill`) with
/// the same policy.
fn containers_interleaved() {
    const ROUNDS: usize = 300;
    let sb = Sandbox::new();
    sb.validate().expect("policy");
    // Warm both paths up: the policy's template is built on its second use.
    for _ in 0..3 {
        run_sandbox(&sb);
        drop(sb.start().expect("start"));
    }
    let container = sb.start().expect("start");
    let m = interleave(
        ROUNDS,
        &mut [
            &mut || run_std(TRUE, &[]),
            &mut || {
                let st = container
                    .status(Command::new(TRUE).stdin(Stdio::null()))
                    .expect("exec");
                assert!(st.success());
            },
            &mut || run_sandbox(&sb),
            &mut || {
                let mut c = sb.start().expect("start");
                c.kill().expect("kill");
            },
        ],
    );
    println!("\ncontainers, default policy ({ROUNDS} interleaved rounds, medians)\n");
    println!("| operation | median | ratio |");
    println!("|---|---|---|");
    println!("| std fork+exec of /bin/true | {} | 1.00x |", ms(m[0]));
    println!(
        "| exec of /bin/true into a running container | {} | {:.2}x std |",
        ms(m[1]),
        m[1] / m[0]
    );
    println!("| one-shot spawn of /bin/true | {} | 1.00x |", ms(m[2]));
    println!(
        "| start and kill of a container | {} | {:.2}x one-shot spawn |",
        ms(m[3]),
        m[3] / m[2]
    );
    drop(container);

    // Memory of idle containers: their processes and PSS, and what the
    // kernel holds for them (namespaces, mounts, page tables), from the
    // change in the machine's available memory with 100 of them running.
    let one = sb.start().expect("start");
    let m1 = settled_idle(one.id());
    println!(
        "\nan idle container: {} process(es), {} sharing the caller's memory, {} KiB PSS of the others",
        m1.processes, m1.sharing_ours, m1.pss_kib
    );
    drop(one);
    let avail = || -> Option<i64> {
        let s = std::fs::read_to_string("/proc/meminfo").ok()?;
        let l = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
        l.split_whitespace().nth(1)?.parse().ok()
    };
    std::thread::sleep(Duration::from_millis(300));
    let before = avail();
    let many: Vec<_> = (0..100).map(|_| sb.start().expect("start")).collect();
    std::thread::sleep(Duration::from_millis(300));
    let after = avail();
    drop(many);
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "100 idle containers: MemAvailable down by {} KiB ({} KiB each)",
            b - a,
            (b - a) / 100
        );
    }
}

/// Runs every row once per round, in a shuffled order, for `rounds`
/// rounds, and returns each row's median time in nanoseconds.
fn interleave(rounds: usize, rows: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); rows.len()];
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..rounds {
        for i in (1..order.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            order.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        for &row in &order {
            let t = Instant::now();
            rows[row]();
            samples[row].push(t.elapsed().as_nanos() as f64);
        }
    }
    samples
        .iter_mut()
        .map(|v| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v[v.len() / 2]
        })
        .collect()
}

/// One-shot spawns of `/bin/true` with each of `policies`, each warmed up
/// (its template built), by [`interleave`]: each policy's median.
fn interleave_policies<'a>(rounds: usize, policies: impl Iterator<Item = &'a Sandbox>) -> Vec<f64> {
    let policies: Vec<&Sandbox> = policies.collect();
    for sb in &policies {
        for _ in 0..3 {
            run_sandbox(sb);
        }
    }
    let mut rows: Vec<Box<dyn FnMut()>> = policies
        .iter()
        .map(|sb| Box::new(move || run_sandbox(sb)) as Box<dyn FnMut()>)
        .collect();
    let mut refs: Vec<&mut dyn FnMut()> = rows.iter_mut().map(|r| &mut **r as _).collect();
    interleave(rounds, &mut refs)
}

/// A policy built for every spawn against one reused, by the interleaved
/// runner (default policy, host network, as the `NEW_POLICY` row). The rows
/// with two and three spawns of a new policy tell what its later spawns
/// cost: the second builds the template and starts from it, the third
/// starts from it; the first builds the whole root (see `template`).
fn new_policy_interleaved() {
    const ROUNDS: usize = 300;
    let policy = || {
        let mut sb = Sandbox::new();
        sb.network(stockade::Network::Host);
        sb
    };
    let reused = policy();
    for _ in 0..3 {
        run_sandbox(&reused);
    }
    type Row<'a> = (&'static str, Box<dyn FnMut() + 'a>);
    let mut rows: Vec<Row<'_>> = vec![
        ("reused policy, 1 spawn", Box::new(|| run_sandbox(&reused))),
        ("new policy, 1 spawn", Box::new(|| run_sandbox(&policy()))),
        (
            "new policy, 2 spawns",
            Box::new(|| {
                let sb = policy();
                run_sandbox(&sb);
                run_sandbox(&sb);
            }),
        ),
        (
            "new policy, 3 spawns",
            Box::new(|| {
                let sb = policy();
                for _ in 0..3 {
                    run_sandbox(&sb);
                }
            }),
        ),
    ];
    let mut refs: Vec<&mut dyn FnMut()> = rows.iter_mut().map(|(_, r)| &mut **r as _).collect();
    let m = interleave(ROUNDS, &mut refs);
    println!("\nnew policy per spawn ({ROUNDS} interleaved rounds, medians)\n");
    println!("| row | median | / reused policy |");
    println!("|---|---|---|");
    for (i, (name, _)) in rows.iter().enumerate() {
        println!("| {name} | {} | {:.2}x |", ms(m[i]), m[i] / m[0]);
    }
    println!(
        "\nspawns of a new policy: first (whole root) {}, second (template built, then used) {}, third (from the template) {}",
        ms(m[1]),
        ms(m[2] - m[1]),
        ms(m[3] - m[2])
    );
}

/// What the default policy's parts cost, by an interleaved runner: a
/// one-shot spawn of `/bin/true` with the default policy against the same
/// policy without each part (each policy warmed up, so all use their
/// templates).
fn features_interleaved() {
    const ROUNDS: usize = 400;
    let default = Sandbox::new();
    let mut no_home = Sandbox::new();
    no_home.private_home(false);
    let policies = [
        ("default policy", &default),
        ("without the private home", &no_home),
    ];
    let m = interleave_policies(ROUNDS, policies.iter().map(|(_, sb)| *sb));
    println!(
        "
parts of the default policy ({ROUNDS} interleaved rounds, medians of one-shot spawns)\n"
    );
    println!("| policy | median | ratio |");
    println!("|---|---|---|");
    for (i, (name, _)) in policies.iter().enumerate() {
        println!("| {name} | {} | {:.3}x default |", ms(m[i]), m[i] / m[0]);
    }
}

/// Writable roots, by the interleaved runner: a one-shot spawn of
/// `/bin/true` with the default policy, the default view made writable
/// (each system directory an overlay with a temporary upper layer), a root
/// directory (a tree holding a static busybox), the same made writable
/// with a temporary and with a persistent upper layer.
fn writable_root_interleaved() {
    use stockade::fs::Upper;
    const ROUNDS: usize = 200;
    let Some(busybox) = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
    else {
        eprintln!("busybox not found: writable-root rows are left out");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    for d in ["bin", "proc", "dev", "tmp"] {
        std::fs::create_dir_all(tree.join(d)).expect("tree");
    }
    std::fs::copy(busybox, tree.join("bin/busybox")).expect("busybox");
    std::os::unix::fs::symlink("busybox", tree.join("bin/true")).expect("true");
    let mut policies: Vec<(&str, Sandbox)> = Vec::new();
    policies.push(("default view, read-only", Sandbox::new()));
    let mut w = Sandbox::new();
    w.writable_root(Upper::Temporary);
    policies.push(("default view, writable (temporary upper)", w));
    let mut r = Sandbox::new();
    r.root_dir(&tree);
    policies.push(("root directory, read-only", r.clone()));
    let mut rt = r.clone();
    rt.writable_root(Upper::Temporary);
    policies.push(("root directory, writable (temporary upper)", rt));
    let mut rp = r.clone();
    rp.writable_root(Upper::Persistent(dir.path().join("layer")));
    policies.push(("root directory, writable (persistent upper)", rp));
    let m = interleave_policies(ROUNDS, policies.iter().map(|(_, sb)| sb));
    println!(
        "\nwritable roots, one-shot spawn of /bin/true ({ROUNDS} interleaved rounds, medians)\n"
    );
    println!("| root | median | ratio |");
    println!("|---|---|---|");
    for (i, (name, _)) in policies.iter().enumerate() {
        let (base, of) = if i < 2 {
            (m[0], "default")
        } else {
            (m[2], "read-only root directory")
        };
        println!("| {name} | {} | {:.2}x {of} |", ms(m[i]), m[i] / base);
    }
}

/// The processes of an idle container (no program: only its init).
fn settled_idle(pid: u32) -> TreeMemory {
    std::thread::sleep(Duration::from_millis(100));
    measure(&tree(pid))
}

/// How many of `procs` there are, how many share our memory, and the
/// summed PSS of the others.
fn measure(procs: &[u32]) -> TreeMemory {
    let sharing: Vec<u32> = procs
        .iter()
        .copied()
        .filter(|p| shares_our_memory(*p))
        .collect();
    TreeMemory {
        processes: procs.len(),
        sharing_ours: sharing.len(),
        pss_kib: procs
            .iter()
            .filter(|p| !sharing.contains(p))
            .filter_map(|p| pss_kib(*p))
            .sum(),
    }
}

/// Runs `/bin/true` with a terminal and reads the terminal to its end.
fn run_with_pty(spawn: impl FnOnce(&mut Command) -> stockade::Child) {
    use std::io::Read;
    let mut cmd = Command::new(TRUE);
    cmd.pty(stockade::pty::WindowSize::new(24, 80));
    let mut child = spawn(&mut cmd);
    let mut pty = child.pty.take().expect("pty");
    let mut rest = Vec::new();
    pty.read_to_end(&mut rest).expect("read the terminal");
    assert!(child.wait().expect("wait").success());
}

/// The cost of a terminal, by an interleaved runner (as for containers):
/// a one-shot spawn of `/bin/true` of the default policy with its streams
/// at /dev/null and with a terminal (read to its end), and the same for an
/// exec into a running container.
fn pty_interleaved() {
    const ROUNDS: usize = 300;
    let sb = Sandbox::new();
    sb.validate().expect("policy");
    for _ in 0..3 {
        run_sandbox(&sb);
        run_with_pty(|c| sb.spawn(c).expect("spawn"));
    }
    let container = sb.start().expect("start");
    let quiet = || {
        let mut c = Command::new(TRUE);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let m = interleave(
        ROUNDS,
        &mut [
            &mut || assert!(sb.status(&mut quiet()).expect("spawn").success()),
            &mut || run_with_pty(|c| sb.spawn(c).expect("spawn")),
            &mut || assert!(container.status(&mut quiet()).expect("exec").success()),
            &mut || run_with_pty(|c| container.spawn(c).expect("exec")),
        ],
    );
    println!("\nterminals, default policy ({ROUNDS} interleaved rounds, medians)\n");
    println!("| operation | median | ratio |");
    println!("|---|---|---|");
    println!("| one-shot spawn of /bin/true | {} | 1.00x |", ms(m[0]));
    println!(
        "| the same with a terminal | {} | {:.2}x |",
        ms(m[1]),
        m[1] / m[0]
    );
    println!(
        "| exec of /bin/true into a container | {} | 1.00x |",
        ms(m[2])
    );
    println!(
        "| the same with a terminal | {} | {:.2}x |",
        ms(m[3]),
        m[3] / m[2]
    );
}

/// The filtered network, by the interleaved runner: a one-shot spawn of
/// `/bin/true` with the default (isolated) network against a filtered one
/// (the same policy with an egress policy: per spawn, the listeners in the
/// sandbox and the engine's thread) and one publishing a port; then one
/// 1 GiB HTTP download by `curl` from a server on the host's loopback,
/// through the proxy's CONNECT against directly (a sandbox sharing the
/// host's network), in the same rounds.
fn egress_interleaved() {
    use std::io::{Read, Write};
    const ROUNDS: usize = 300;
    let isolated = Sandbox::new();
    let mut filtered = Sandbox::new();
    let mut policy = stockade::net::Egress::new();
    let hosts =
        stockade::net::Hosts::new().add("origin.test", std::net::Ipv4Addr::LOCALHOST.into());
    policy
        .resolver(hosts)
        .allow("origin.test")
        .allow_private("127.0.0.1");
    filtered.egress(policy);
    let mut published = Sandbox::new();
    published.publish((std::net::Ipv4Addr::LOCALHOST, 0).into(), 8000);
    let policies = [
        ("isolated network (default)", &isolated),
        ("filtered network (egress policy)", &filtered),
        ("isolated network, one published port", &published),
    ];
    let m = interleave_policies(ROUNDS, policies.iter().map(|(_, sb)| *sb));
    println!("\nthe filtered network ({ROUNDS} interleaved rounds, medians of one-shot spawns)\n");
    println!("| policy | median | ratio |");
    println!("|---|---|---|");
    for (i, (name, _)) in policies.iter().enumerate() {
        println!("| {name} | {} | {:.3}x isolated |", ms(m[i]), m[i] / m[0]);
    }

    let Some(curl) = ["/usr/bin/curl", "/bin/curl"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
    else {
        eprintln!("curl not found: the throughput rows are left out");
        return;
    };
    const SIZE: u64 = 1 << 30;
    let server = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = server.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in server.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut head = [0u8; 4096];
                let _ = conn.read(&mut head);
                let _ = write!(
                    conn,
                    "HTTP/1.0 200 OK\r\nContent-Length: {SIZE}\r\nConnection: close\r\n\r\n"
                );
                let chunk = vec![b'x'; 256 << 10];
                let mut left = SIZE;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if conn.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            });
        }
    });
    let mut host = Sandbox::new();
    host.network(stockade::Network::Host);
    let fetch = |sb: &Sandbox, args: &[String]| {
        let out = sb
            .output(Command::new(curl).args(args))
            .expect("spawn curl");
        let size = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            size.trim(),
            SIZE.to_string(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let common = ["-sS", "-o", "/dev/null", "-w", "%{size_download}"].map(String::from);
    let direct: Vec<String> = common
        .iter()
        .cloned()
        .chain([format!("http://127.0.0.1:{port}/")])
        .collect();
    let proxied: Vec<String> = common
        .iter()
        .cloned()
        .chain(["-p".into(), format!("http://origin.test:{port}/")])
        .collect();
    const TRANSFERS: usize = 7;
    let mut rows: [Box<dyn FnMut()>; 2] = [
        Box::new(|| fetch(&host, &direct)),
        Box::new(|| fetch(&filtered, &proxied)),
    ];
    let mut refs: Vec<&mut dyn FnMut()> = rows.iter_mut().map(|r| &mut **r as _).collect();
    let t = interleave(TRANSFERS, &mut refs);
    let gib_s = |ns: f64| SIZE as f64 / ns;
    println!(
        "\none 1 GiB download by curl from the host's loopback ({TRANSFERS} interleaved rounds, medians)\n"
    );
    println!("| path | median | GB/s | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| direct (host network) | {} | {:.2} | 1.00x |",
        ms(t[0]),
        gib_s(t[0])
    );
    println!(
        "| through the proxy (CONNECT) | {} | {:.2} | {:.2}x direct throughput |",
        ms(t[1]),
        gib_s(t[1]),
        t[0] / t[1]
    );
}

/// What observing the seccomp filter's refusals costs: a one-shot spawn, a
/// syscall-heavy workload that is never refused (`find /usr`), and a
/// workload refused 100,000 times (the cost per refusal), each with
/// observation on and off in the same interleaved rounds.
fn denials_interleaved() {
    let on = Sandbox::new();
    let mut off = Sandbox::new();
    off.observe_denials(false);
    const ROUNDS: usize = 300;
    let m = interleave_policies(ROUNDS, [&on, &off].into_iter());
    println!("\nobserving refusals ({ROUNDS} interleaved rounds, medians of one-shot spawns)\n");
    println!("| policy | median | ratio |");
    println!("|---|---|---|");
    println!("| observation off | {} | 1.000x |", ms(m[1]));
    println!(
        "| observation on (default) | {} | {:.3}x off |",
        ms(m[0]),
        m[0] / m[1]
    );

    let run = |sb: &Sandbox, script: &str| {
        let out = sb
            .output(stockade::Command::new("/bin/sh").arg("-c").arg(script))
            .expect("spawn");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.outcome.denials.counts.syscall
    };
    // (Some directories are closed to the sandbox's user: find says so
    // and goes on; its status is not the point.)
    let find = "find /usr -xdev -printf '%s %m\\n' > /dev/null 2>&1; true";
    const FIND_ROUNDS: usize = 15;
    let mut rows: [Box<dyn FnMut()>; 2] = [
        Box::new(|| assert_eq!(run(&on, find), 0)),
        Box::new(|| assert_eq!(run(&off, find), 0)),
    ];
    let mut refs: Vec<&mut dyn FnMut()> = rows.iter_mut().map(|r| &mut **r as _).collect();
    let t = interleave(FIND_ROUNDS, &mut refs);
    println!("\n`find /usr`, never refused ({FIND_ROUNDS} interleaved rounds, medians)\n");
    println!("| observation | median | ratio |");
    println!("|---|---|---|");
    println!("| off | {} | 1.000x |", ms(t[1]));
    println!("| on | {} | {:.3}x off |", ms(t[0]), t[0] / t[1]);

    // A compile (which writes its output and temporary files) and a loop
    // of 2,000 small writes to /tmp, with observation off, on (the
    // default) and on with the writes looked at (observe_writes).
    let mut looked = Sandbox::new();
    looked.observe_writes(true);
    let compile = "printf 'int f(int x){return x*2;}\\n' > /tmp/a.c && \
                   cc -O2 -c /tmp/a.c -o /tmp/a.o";
    let writes = "i=0; while [ $i -lt 2000 ]; do echo x > /tmp/f; i=$((i+1)); done";
    let cc = Path::new("/usr/bin/cc").exists();
    let mut rows: Vec<Box<dyn FnMut()>> = vec![
        Box::new(|| assert_eq!(run(&off, writes), 0)),
        Box::new(|| assert_eq!(run(&on, writes), 0)),
        Box::new(|| assert_eq!(run(&looked, writes), 0)),
    ];
    if cc {
        rows.push(Box::new(|| assert_eq!(run(&off, compile), 0)));
        rows.push(Box::new(|| assert_eq!(run(&on, compile), 0)));
        rows.push(Box::new(|| assert_eq!(run(&looked, compile), 0)));
    }
    let mut refs: Vec<&mut dyn FnMut()> = rows.iter_mut().map(|r| &mut **r as _).collect();
    const WRITE_ROUNDS: usize = 60;
    let t = interleave(WRITE_ROUNDS, &mut refs);
    println!("\nwrites ({WRITE_ROUNDS} interleaved rounds, medians)\n");
    println!("| workload | observation off | on (default) | on, writes looked at |");
    println!("|---|---|---|---|");
    println!(
        "| 2,000 `echo x > /tmp/f` | {} | {} ({:.3}x) | {} ({:.3}x, {:.1} us per write) |",
        ms(t[0]),
        ms(t[1]),
        t[1] / t[0],
        ms(t[2]),
        t[2] / t[0],
        (t[2] - t[0]) / 2000.0 / 1e3
    );
    if cc {
        println!(
            "| `cc -O2 -c` of a small file | {} | {} ({:.3}x) | {} ({:.3}x) |",
            ms(t[3]),
            ms(t[4]),
            t[4] / t[3],
            ms(t[5]),
            t[5] / t[3]
        );
    }

    const REFUSALS: u64 = 100_000;
    let refused = format!(
        "/usr/bin/python3 -c 'import ctypes; s = ctypes.CDLL(None).syscall\nfor i in range({REFUSALS}): s(250, 1, 0, 0, 0, 0)'"
    );
    const REFUSED_ROUNDS: usize = 7;
    let mut rows: [Box<dyn FnMut()>; 2] = [
        Box::new(|| assert_eq!(run(&on, &refused), REFUSALS)),
        Box::new(|| assert_eq!(run(&off, &refused), 0)),
    ];
    let mut refs: Vec<&mut dyn FnMut()> = rows.iter_mut().map(|r| &mut **r as _).collect();
    let t = interleave(REFUSED_ROUNDS, &mut refs);
    println!(
        "\n{REFUSALS} refused keyctl calls from Python ({REFUSED_ROUNDS} interleaved rounds, medians)\n"
    );
    println!("| observation | median | cost per refusal |");
    println!("|---|---|---|");
    println!("| off | {} | |", ms(t[1]));
    println!(
        "| on | {} | {:.1} us more |",
        ms(t[0]),
        (t[0] - t[1]) / REFUSALS as f64 / 1e3
    );
}

fn main() {
    // `cargo bench --bench spawn -- egress`: only the filtered network.
    if std::env::args().skip(1).any(|a| a == "egress") {
        egress_interleaved();
        return;
    }
    // `cargo bench --bench spawn -- denials`: what observing refusals costs.
    if std::env::args().skip(1).any(|a| a == "denials") {
        denials_interleaved();
        return;
    }
    // `cargo bench --bench spawn -- containers`: only the container rows.
    if std::env::args().skip(1).any(|a| a == "containers") {
        containers_interleaved();
        return;
    }
    // `cargo bench --bench spawn -- new-policy`: a policy per spawn.
    if std::env::args().skip(1).any(|a| a == "new-policy") {
        new_policy_interleaved();
        return;
    }
    // `cargo bench --bench spawn -- features`: what parts of a policy cost.
    if std::env::args().skip(1).any(|a| a == "features") {
        features_interleaved();
        return;
    }
    // `cargo bench --bench spawn -- pty`: only the terminal rows.
    if std::env::args().skip(1).any(|a| a == "pty") {
        pty_interleaved();
        return;
    }
    // `cargo bench --bench spawn -- writable-root`: only the writable roots.
    if std::env::args().skip(1).any(|a| a == "writable-root") {
        writable_root_interleaved();
        return;
    }
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
    memory_per_sandbox(bw.as_deref());
    containers_interleaved();
    features_interleaved();
    new_policy_interleaved();
    pty_interleaved();
    writable_root_interleaved();
    egress_interleaved();
    denials_interleaved();
}
