//! What Landlock adds to a spawn: `/bin/true` run to completion in the
//! default sandbox without Landlock, with a seven-path policy, and with the
//! default mount plan mirrored (nineteen rules), each ruleset built by the
//! program process after `pivot_root`.
//!
//! ```text
//! cargo bench --bench landlock            # 300 spawns per configuration
//! STOCKADE_BENCH_N=1000 cargo bench --bench landlock
//! ```
//!
//! Prints medians and 90th percentiles; the difference between the lines is
//! the per-spawn cost of the ruleset (the system calls themselves are
//! measured in isolation by `landlock::tests::measure_spawn_ruleset`).

use std::time::{Duration, Instant};

use stockade::{Command, CompatLevel, Sandbox, landlock};

fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort_unstable();
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

fn main() {
    let n: usize = std::env::var("STOCKADE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let plain = Sandbox::new();
    let mut explicit = landlock::Policy::new();
    for d in ["/usr", "/bin", "/lib", "/lib64", "/etc"] {
        explicit.allow_try(d, landlock::FsAccess::READ_EXEC);
    }
    explicit
        .allow_read_write("/tmp")
        .allow("/dev/null", landlock::FsAccess::READ_WRITE)
        .compat(CompatLevel::BestEffort);
    let mut with_policy = Sandbox::new();
    with_policy.landlock(explicit);
    let mut best_effort = landlock::Policy::new();
    best_effort.compat(CompatLevel::BestEffort);
    let mut mirrored = Sandbox::new();
    mirrored.landlock(best_effort).landlock_mirror_fs(true);

    let configs = [
        ("no Landlock", &plain),
        ("7-path policy", &with_policy),
        ("mirrored mount plan", &mirrored),
    ];
    // Warm up (page cache, probes, compiled policies), then interleave the
    // configurations so drift affects them alike.
    for (_, sb) in &configs {
        for _ in 0..20 {
            assert!(sb.status(&mut Command::new("/bin/true")).unwrap().success());
        }
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(n); configs.len()];
    for _ in 0..n {
        for (i, (_, sb)) in configs.iter().enumerate() {
            let t = Instant::now();
            let st = sb.status(&mut Command::new("/bin/true")).unwrap();
            samples[i].push(t.elapsed());
            assert!(st.success());
        }
    }
    for ((name, _), s) in configs.iter().zip(samples) {
        let (median, p90) = stats(s);
        println!(
            "spawn+wait /bin/true, {name:<20} median {median:>10.1?}  p90 {p90:>10.1?}  ({n} runs)"
        );
    }
}
