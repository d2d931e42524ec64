//! Lowering a parsed `config.json` to a [`Sandbox`] and the parts of the
//! process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

#[cfg(not(feature = "seccomp"))]
use super::walk::is_set;
use super::walk::{Obj, elem, field, invalid, string, unsupported};
use super::{Bundle, Error};
use crate::caps::{self, Capability};
use crate::fs::TmpfsOptions;
use crate::ids::IdRange;
use crate::namespaces::Namespaces;
use crate::rlimit::Rlimit;
use crate::sandbox::Sandbox;

/// The top-level fields for other platforms, which a Linux runtime ignores.
const OTHER_PLATFORMS: [&str; 3] = ["solaris", "windows", "zos"];

pub(super) fn lower(dir: &Path, doc: &Value) -> Result<Bundle, Error> {
    let mut top = Obj::new(doc, "")?;
    let version = match top.string("ociVersion")? {
        Some((v, p)) => {
            check_version(v, &p)?;
            v.to_owned()
        }
        None => return Err(invalid("ociVersion", "required field missing")),
    };
    let mut sb = Sandbox::new();
    // The bundle says what is mounted: nothing of the defaults unless a
    // mount asks for it.
    sb.proc(false).dev(false).tmp(false).private_home(false);

    let root = lower_root(&mut top, dir, &mut sb)?;
    let mut l = Lowering {
        sb,
        root_readonly: root.1,
        writable_dests: Vec::new(),
        has_dev: false,
        proc_fresh: false,
        proc_mounted: false,
        sys_ro: false,
        cgroup_mount: None,
        mqueue: None,
        ns: Namespaces::empty(),
        readonly: Vec::new(),
        devices: Vec::new(),
    };

    // linux first: the namespaces decide how mounts and the hostname lower.
    match top.object("linux")? {
        Some(linux) => l.linux(linux)?,
        None => {
            return Err(invalid(
                "linux",
                "stockade needs linux.namespaces, with a mount namespace for the bundle's root",
            ));
        }
    }
    let mut process = match top.object("process")? {
        Some(p) => p,
        None => return Err(invalid("process", "required field missing")),
    };
    let proc_parts = l.process(&mut process)?;
    process.finish()?;

    if let Some((h, p)) = top.string("hostname")? {
        if !h.is_empty() {
            if !l.ns.contains(Namespaces::UTS) {
                return Err(invalid(&p, "a hostname needs a uts namespace"));
            }
            l.sb.hostname(h);
        }
    }
    top.refuse(
        "domainname",
        "stockade does not set the NIS domain name (it stays the host's)",
    )?;
    if let Some((mounts, p)) = top.array("mounts")? {
        for (i, m) in mounts.iter().enumerate() {
            l.mount(m, &elem(&p, i), dir)?;
        }
    }
    if let Some(read_only) = l.cgroup_mount {
        // A writable tree must be the container's own cgroup; a read-only
        // one shows the cgroup the container has (its own when the bundle
        // sets resources or the runtime a cgroup path, else its caller's),
        // so that a caller without cgroup delegation (a rootless engine)
        // can still run a bundle with the usual read-only cgroup mount.
        l.ns.insert(Namespaces::CGROUP);
        if read_only {
            l.sb.mount_cgroup_read_only();
        } else {
            l.sb.mount_cgroup(true);
            l.sb.cgroup_mut().placement = true;
        }
    }
    if let Some(path) = l.mqueue.take() {
        // The queues shown are those of the mounting IPC namespace, which
        // a user namespace may mount only if it owns it.
        if l.ns.contains(Namespaces::USER) && !l.ns.contains(Namespaces::IPC) {
            return Err(unsupported(
                &path,
                &Value::String("mqueue".into()),
                "with a user namespace, /dev/mqueue needs an IPC namespace of the container's own: add {\"type\": \"ipc\"} to linux.namespaces",
            ));
        }
        l.sb.mqueue(true);
    }
    l.readonly_paths_check()?;
    l.sb.namespaces(l.ns);
    top.refuse(
        "hooks",
        "stockade runs no hooks: run what they would before spawning",
    )?;
    let mut annotations = BTreeMap::new();
    if let Some(mut a) = top.object("annotations")? {
        for (k, v, vp) in a.rest() {
            annotations.insert(k.to_owned(), string(v, &vp)?.to_owned());
        }
    }
    for p in OTHER_PLATFORMS {
        top.ignore(p);
    }
    top.refuse(
        "vm",
        "stockade runs the process in namespaces, not a virtual machine",
    )?;
    top.finish()?;

    l.sb.validate().map_err(Error::Policy)?;
    Ok(Bundle {
        version,
        root: root.0,
        sandbox: l.sb,
        args: proc_parts.args,
        env: proc_parts.env,
        cwd: proc_parts.cwd,
        terminal: proc_parts.terminal,
        console_size: proc_parts.console_size,
        annotations,
    })
}

/// `1.0.x`, `1.1.x` and `1.2.x`, with or without a pre-release suffix
/// (`1.0.2-dev`, which `runc spec` writes).
fn check_version(v: &str, path: &str) -> Result<(), Error> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !parts.iter().all(|p| num(p)) {
        return Err(invalid(path, format!("{v:?} is not a semantic version")));
    }
    if parts[0] != "1" || !matches!(parts[1], "0" | "1" | "2") {
        return Err(unsupported(
            path,
            &Value::String(v.to_owned()),
            "stockade reads runtime specifications 1.0.x to 1.2.x",
        ));
    }
    Ok(())
}

fn lower_root(top: &mut Obj<'_>, dir: &Path, sb: &mut Sandbox) -> Result<(PathBuf, bool), Error> {
    let Some(mut root) = top.object("root")? else {
        return Err(invalid("root", "required on Linux"));
    };
    let Some((path, p)) = root.string("path")? else {
        return Err(invalid("root.path", "required field missing"));
    };
    let readonly = root.bool("readonly")?.unwrap_or(false);
    root.finish()?;
    let abs = if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        dir.join(path)
    };
    if !abs.is_dir() {
        return Err(invalid(&p, format!("{} is not a directory", abs.display())));
    }
    if readonly {
        sb.root_dir(&abs);
    } else {
        // As runc: the process writes into the root filesystem in place.
        sb.root_dir_in_place(&abs, false);
    }
    Ok((abs, readonly))
}

/// What the process section gives the bundle besides the sandbox.
struct ProcessParts {
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    terminal: bool,
    console_size: Option<(u16, u16)>,
}

struct Lowering {
    sb: Sandbox,
    root_readonly: bool,
    /// Destinations of writable mounts (tmpfs, read-write binds).
    writable_dests: Vec<PathBuf>,
    /// The sandbox's own `/dev` stands for a `/dev` tmpfs.
    has_dev: bool,
    /// `/proc` is a fresh proc of the sandbox's pid namespace.
    proc_fresh: bool,
    /// A `/proc` is mounted (without a pid namespace: the host's,
    /// read-only).
    proc_mounted: bool,
    /// `/sys` is a read-only sysfs or bind.
    sys_ro: bool,
    /// A cgroup mount at `/sys/fs/cgroup`, read-only or not.
    cgroup_mount: Option<bool>,
    /// The JSON path of an `mqueue` mount at `/dev/mqueue`.
    mqueue: Option<String>,
    ns: Namespaces,
    /// `linux.readonlyPaths`, with their paths.
    readonly: Vec<(String, String)>,
    /// The device nodes of `linux.devices`: type, major, minor.
    devices: Vec<(char, i64, i64)>,
}

/// The devices stockade's minimal `/dev` has: `c major:minor` (`None`:
/// any minor).
const DEFAULT_DEVICES: &[(i64, Option<i64>)] = &[
    (1, Some(3)),
    (1, Some(5)),
    (1, Some(7)),
    (1, Some(8)),
    (1, Some(9)),
    (5, Some(0)),
    (5, Some(1)),
    (5, Some(2)),
    (136, None),
];

impl Lowering {
    fn process(&mut self, p: &mut Obj<'_>) -> Result<ProcessParts, Error> {
        let args: Vec<String> = p
            .strings("args")?
            .into_iter()
            .map(|(s, _)| s.to_owned())
            .collect();
        if args.is_empty() {
            return Err(invalid(
                &field(&p.path, "args"),
                "at least one argument (the program) is required",
            ));
        }
        let mut env = Vec::new();
        for (e, ep) in p.strings("env")? {
            let Some((k, v)) = e.split_once('=') else {
                return Err(invalid(&ep, "an environment entry is KEY=VALUE"));
            };
            if k.is_empty() {
                return Err(invalid(&ep, "an environment variable needs a name"));
            }
            env.push((k.to_owned(), v.to_owned()));
        }
        let cwd = match p.string("cwd")? {
            Some((c, cp)) => {
                if !c.starts_with('/') {
                    return Err(invalid(&cp, "the working directory must be absolute"));
                }
                PathBuf::from(c)
            }
            None => return Err(invalid(&field(&p.path, "cwd"), "required field missing")),
        };
        let terminal = p.bool("terminal")?.unwrap_or(false);
        let console_size = match p.object("consoleSize")? {
            Some(mut c) => {
                let h = c.u32("height")?.unwrap_or(0);
                let w = c.u32("width")?.unwrap_or(0);
                let path = c.path.clone();
                c.finish()?;
                let (Ok(h), Ok(w)) = (u16::try_from(h), u16::try_from(w)) else {
                    return Err(invalid(&path, "height and width are at most 65535"));
                };
                Some((h, w))
            }
            None => None,
        };
        let mut uid = 0;
        if let Some(mut u) = p.object("user")? {
            uid = u.u32("uid")?.unwrap_or(0);
            let gid = u.u32("gid")?.unwrap_or(0);
            self.sb.uid(uid).gid(gid);
            u.refuse(
                "umask",
                "stockade does not set the program's umask (it inherits the caller's)",
            )?;
            if let Some((groups, gp)) = u.array("additionalGids")? {
                for (i, g) in groups.iter().enumerate() {
                    if g.as_u64() != Some(u64::from(gid)) {
                        return Err(unsupported(
                            &elem(&gp, i),
                            g,
                            "stockade cannot set supplementary groups (its user namespace denies setgroups)",
                        ));
                    }
                }
            }
            u.refuse("username", "a Windows field")?;
            u.finish()?;
        }
        if let Some((limits, lp)) = p.array("rlimits")? {
            let mut seen = BTreeSet::new();
            for (i, r) in limits.iter().enumerate() {
                let rp = elem(&lp, i);
                let mut r = Obj::new(r, &rp)?;
                let Some((ty, tp)) = r.string("type")? else {
                    return Err(invalid(&field(&rp, "type"), "required field missing"));
                };
                let res: Rlimit = ty.parse().map_err(|_| {
                    unsupported(
                        &tp,
                        &Value::String(ty.into()),
                        "not a resource limit stockade knows",
                    )
                })?;
                if !ty.starts_with("RLIMIT_") {
                    return Err(invalid(&tp, "a limit is named RLIMIT_*"));
                }
                if !seen.insert(res) {
                    return Err(invalid(&tp, "the same limit twice"));
                }
                let soft = r.u64("soft")?.unwrap_or(0);
                let hard = r.u64("hard")?.unwrap_or(0);
                r.finish()?;
                if soft > hard {
                    return Err(invalid(&rp, "soft is above hard"));
                }
                self.sb.rlimit(res, soft, hard);
            }
        }
        if let Some(c) = p.object("capabilities")? {
            let policy = capabilities(c, uid)?;
            self.sb.capabilities(policy);
        }
        // Stockade always sets no_new_privs; `false` is accepted and the
        // stricter setting stays (see the module's table).
        p.bool("noNewPrivileges")?;
        p.refuse(
            "apparmorProfile",
            "stockade does not apply AppArmor profiles",
        )?;
        p.refuse("selinuxLabel", "stockade does not apply SELinux labels")?;
        p.refuse(
            "oomScoreAdj",
            "stockade does not set the OOM score adjustment",
        )?;
        p.refuse("scheduler", "stockade does not set the scheduling policy")?;
        p.refuse("ioPriority", "stockade does not set the I/O priority")?;
        p.refuse(
            "execCPUAffinity",
            "stockade does not set the CPU affinity (use linux.resources.cpu.cpus)",
        )?;
        p.refuse("commandLine", "a Windows field")?;
        Ok(ProcessParts {
            args,
            env,
            cwd,
            terminal,
            console_size,
        })
    }

    fn linux(&mut self, mut linux: Obj<'_>) -> Result<(), Error> {
        let mut ns = Namespaces::empty();
        if let Some((list, lp)) = linux.array("namespaces")? {
            for (i, n) in list.iter().enumerate() {
                let np = elem(&lp, i);
                let mut n = Obj::new(n, &np)?;
                let Some((ty, tp)) = n.string("type")? else {
                    return Err(invalid(&field(&np, "type"), "required field missing"));
                };
                let flag = match ty {
                    "pid" => Namespaces::PID,
                    "network" => Namespaces::NET,
                    "ipc" => Namespaces::IPC,
                    "uts" => Namespaces::UTS,
                    "mount" => Namespaces::MOUNT,
                    "user" => Namespaces::USER,
                    "cgroup" => Namespaces::CGROUP,
                    "time" => Namespaces::TIME,
                    _ => {
                        return Err(unsupported(
                            &tp,
                            &Value::String(ty.into()),
                            "not a namespace stockade creates",
                        ));
                    }
                };
                if ns.contains(flag) {
                    return Err(invalid(&tp, "the same namespace twice"));
                }
                ns.insert(flag);
                n.refuse(
                    "path",
                    "stockade creates its namespaces; it does not join existing ones",
                )?;
                n.finish()?;
            }
        }
        if !ns.contains(Namespaces::MOUNT) {
            return Err(unsupported(
                &field(&linux.path, "namespaces"),
                &Value::Null,
                "stockade builds the bundle's root in a mount namespace of its own: add {\"type\": \"mount\"}",
            ));
        }
        self.ns = ns;
        self.proc_fresh = ns.contains(Namespaces::PID);
        for (key, user) in [("uidMappings", true), ("gidMappings", false)] {
            let Some((list, lp)) = linux.array(key)? else {
                continue;
            };
            if !list.is_empty() && !ns.contains(Namespaces::USER) {
                return Err(invalid(&lp, "id mappings need a user namespace"));
            }
            let mut ranges = Vec::new();
            for (i, m) in list.iter().enumerate() {
                let mp = elem(&lp, i);
                let mut m = Obj::new(m, &mp)?;
                let inside = m.u32("containerID")?;
                let outside = m.u32("hostID")?;
                let size = m.u32("size")?;
                m.finish()?;
                let (Some(inside), Some(outside), Some(size)) = (inside, outside, size) else {
                    return Err(invalid(&mp, "containerID, hostID and size are required"));
                };
                if size == 0 {
                    return Err(invalid(
                        &field(&mp, "size"),
                        "a mapping maps at least one id",
                    ));
                }
                ranges.push(IdRange::new(inside, outside, size));
            }
            if user {
                self.sb.uid_ranges(ranges);
            } else {
                self.sb.gid_ranges(ranges);
            }
        }
        // Devices first: an allow rule of the resources may name them.
        if let Some((list, dp)) = linux.array("devices")? {
            for (i, d) in list.iter().enumerate() {
                self.device(d, &elem(&dp, i))?;
            }
        }
        if let Some(r) = linux.object("resources")? {
            self.resources(r)?;
        }
        linux.refuse(
            "cgroupsPath",
            "stockade makes a cgroup of its own for each sandbox under cgroup::Config::parent; set that on the sandbox instead",
        )?;
        if let Some((v, sp)) = linux.take("seccomp") {
            self.seccomp(v, &sp)?;
        }
        for (m, mp) in linux.strings("maskedPaths")? {
            if !m.starts_with('/') {
                return Err(invalid(&mp, "a masked path must be absolute"));
            }
            self.sb.mask(m);
        }
        // Checked once the mounts are known.
        for (r, rp) in linux.strings("readonlyPaths")? {
            if !r.starts_with('/') {
                return Err(invalid(&rp, "a read-only path must be absolute"));
            }
            self.readonly.push((r.to_owned(), rp));
        }
        linux.refuse("sysctl", "stockade does not set sysctls")?;
        linux.refuse("rootfsPropagation", "stockade's mounts are always private")?;
        linux.refuse("mountLabel", "stockade does not apply SELinux labels")?;
        linux.refuse("intelRdt", "stockade does not use Intel RDT")?;
        linux.refuse("personality", "stockade does not set the personality")?;
        linux.refuse("timeOffsets", "stockade does not set time offsets")?;
        linux.refuse("netDevices", "stockade moves no network devices")?;
        linux.refuse("memoryPolicy", "stockade does not set a NUMA memory policy")?;
        linux.finish()
    }

    /// A `linux.devices` entry: the host's node at the same path, bound
    /// with its devices usable ([`Sandbox::bind_dev`]), when it is that
    /// device with that mode and owner; refused otherwise (stockade makes
    /// no device nodes).
    fn device(&mut self, d: &Value, dp: &str) -> Result<(), Error> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let mut o = Obj::new(d, dp)?;
        let path = o.string("path")?;
        let ty = o.string("type")?;
        let major = o.i64("major")?;
        let minor = o.i64("minor")?;
        let mode = o.u32("fileMode")?;
        let uid = o.u32("uid")?;
        let gid = o.u32("gid")?;
        o.finish()?;
        let Some((path, pp)) = path else {
            return Err(invalid(&field(dp, "path"), "required field missing"));
        };
        if !path.starts_with('/') {
            return Err(invalid(&pp, "a device path must be absolute"));
        }
        let Some((ty, tp)) = ty else {
            return Err(invalid(&field(dp, "type"), "required field missing"));
        };
        let t = match ty {
            "c" | "u" => 'c',
            "b" => 'b',
            _ => {
                return Err(unsupported(
                    &tp,
                    &Value::String(ty.into()),
                    "stockade binds character and block devices only",
                ));
            }
        };
        let (Some(major), Some(minor)) = (major, minor) else {
            return Err(invalid(dp, "a device needs major and minor"));
        };
        let host = std::fs::metadata(path).ok().filter(|m| {
            let ft = m.file_type();
            let kind = if t == 'c' {
                ft.is_char_device()
            } else {
                ft.is_block_device()
            };
            kind && i64::from(libc::major(m.rdev())) == major
                && i64::from(libc::minor(m.rdev())) == minor
        });
        let Some(host) = host else {
            return Err(unsupported(
                dp,
                d,
                format!(
                    "stockade binds the host's node at the same path, and {path} on this host is not {t} {major}:{minor}"
                ),
            ));
        };
        // The mode may carry the file type bits too.
        let host_mode = host.mode() & 0o7777;
        for (key, want, have, shown) in [
            (
                "fileMode",
                mode.map(|m| m & 0o7777),
                host_mode,
                format!("{host_mode:o}"),
            ),
            ("uid", uid, host.uid(), host.uid().to_string()),
            ("gid", gid, host.gid(), host.gid().to_string()),
        ] {
            if let Some(want) = want.filter(|&w| w != have) {
                return Err(unsupported(
                    &field(dp, key),
                    &Value::from(want),
                    format!("the bound node keeps the host's {key} ({shown})"),
                ));
            }
        }
        self.sb.bind_dev(path, path);
        self.devices.push((t, major, minor));
        Ok(())
    }

    fn resources(&mut self, mut r: Obj<'_>) -> Result<(), Error> {
        if let Some((list, dp)) = r.array("devices")? {
            for (i, d) in list.iter().enumerate() {
                device_rule(d, &elem(&dp, i), &self.devices)?;
            }
        }
        if let Some(mut m) = r.object("memory")? {
            let limit = m.i64("limit")?.filter(|&l| l > 0);
            if let Some(l) = limit {
                self.sb.memory_limit(l as u64);
            }
            if let Some(swap) = m.i64("swap")? {
                let sp = field(&m.path, "swap");
                match (swap, limit) {
                    (-1, Some(_)) => self.sb.cgroup_mut().swap_max = Some(u64::MAX),
                    // Unlimited swap without a memory limit: nothing to set.
                    (-1, None) => {}
                    (s, Some(l)) if s >= l => {
                        self.sb.cgroup_mut().swap_max = Some((s - l) as u64);
                    }
                    (s, Some(_)) if s > 0 => {
                        return Err(invalid(
                            &sp,
                            "swap counts memory and swap: it is at least limit",
                        ));
                    }
                    (0, _) => {}
                    _ => {
                        return Err(invalid(&sp, "a swap limit needs a memory limit"));
                    }
                }
            }
            for key in ["reservation", "kernel", "kernelTCP", "swappiness"] {
                m.refuse(key, "stockade cannot set this memory control")?;
            }
            m.refuse("disableOOMKiller", "stockade keeps the OOM killer on")?;
            m.refuse("useHierarchy", "cgroup v1 only")?;
            m.refuse(
                "checkBeforeUpdate",
                "stockade does not update running sandboxes",
            )?;
            m.finish()?;
        }
        if let Some(mut c) = r.object("cpu")? {
            let quota = c.i64("quota")?.filter(|&q| q > 0);
            let period = c.u64("period")?;
            // A period without a quota limits nothing.
            if let Some(q) = quota {
                let period = period.filter(|&p| p > 0).unwrap_or(100_000);
                self.sb.cpus(q as f64 / period as f64);
            }
            if let Some(shares) = c.u64("shares")? {
                if shares > 0 {
                    // cgroup v1 shares (2..=262144) to v2 weight (1..=10000),
                    // as the OCI runtimes convert them.
                    let s = shares.clamp(2, 262_144);
                    let w = 1 + ((s - 2) * 9999) / 262_142;
                    self.sb.cgroup_mut().cpu_weight = Some(w as u32);
                }
            }
            if let Some((cpus, _)) = c.string("cpus")? {
                if !cpus.is_empty() {
                    self.sb.cgroup_mut().cpuset_cpus = Some(cpus.to_owned());
                }
            }
            if let Some((mems, _)) = c.string("mems")? {
                if !mems.is_empty() {
                    self.sb.cgroup_mut().cpuset_mems = Some(mems.to_owned());
                }
            }
            for key in ["realtimeRuntime", "realtimePeriod", "burst", "idle"] {
                c.refuse(key, "stockade cannot set this CPU control")?;
            }
            c.finish()?;
        }
        if let Some(mut p) = r.object("pids")? {
            if let Some(l) = p.i64("limit")?.filter(|&l| l > 0) {
                self.sb.pids_limit(l as u64);
            }
            p.finish()?;
        }
        r.refuse(
            "blockIO",
            "stockade cannot express block I/O weights and throttles from this form",
        )?;
        r.refuse("hugepageLimits", "stockade does not limit huge pages")?;
        r.refuse(
            "network",
            "stockade does not set network priorities or class ids",
        )?;
        r.refuse("rdma", "stockade does not limit RDMA resources")?;
        r.refuse("unified", "stockade does not write raw cgroup v2 files")?;
        r.finish()
    }

    #[cfg(feature = "seccomp")]
    fn seccomp(&mut self, v: &Value, path: &str) -> Result<(), Error> {
        let policy = super::seccomp::lower(v, path)?;
        self.sb.seccomp(policy);
        Ok(())
    }

    #[cfg(not(feature = "seccomp"))]
    fn seccomp(&mut self, v: &Value, path: &str) -> Result<(), Error> {
        if is_set(v) {
            return Err(unsupported(
                path,
                v,
                "stockade was built without its seccomp feature",
            ));
        }
        Ok(())
    }

    fn mount(&mut self, m: &Value, mp: &str, dir: &Path) -> Result<(), Error> {
        let mut m = Obj::new(m, mp)?;
        let Some((dest, _)) = m.string("destination")? else {
            return Err(invalid(&field(mp, "destination"), "required field missing"));
        };
        let dest_path = field(mp, "destination");
        if !dest.starts_with('/') {
            return Err(invalid(&dest_path, "the destination must be absolute"));
        }
        let dest = normalize(dest);
        let ty = m.string("type")?;
        let source = m.string("source")?;
        let options = m.strings("options")?;
        m.refuse("uidMappings", "stockade does not make idmapped mounts")?;
        m.refuse("gidMappings", "stockade does not make idmapped mounts")?;
        m.finish()?;
        let is_bind = options.iter().any(|(o, _)| *o == "bind" || *o == "rbind");
        let ty_name = ty.as_ref().map(|t| t.0).unwrap_or("");
        let ty_path = field(mp, "type");
        let refuse_dest = |why: &str| {
            Err(unsupported(
                &dest_path,
                &Value::String(dest.clone()),
                why.to_owned(),
            ))
        };
        match (ty_name, is_bind) {
            ("bind" | "none" | "", true) | ("bind", false) => {
                let Some((src, _)) = source else {
                    return Err(invalid(&field(mp, "source"), "a bind mount needs a source"));
                };
                let src = if Path::new(src).is_absolute() {
                    PathBuf::from(src)
                } else {
                    dir.join(src)
                };
                let mut ro = false;
                let mut no_exec = false;
                for (o, op) in &options {
                    match *o {
                        "ro" => ro = true,
                        "rw" => ro = false,
                        "noexec" => no_exec = true,
                        "exec" => no_exec = false,
                        "bind" | "rbind" | "nosuid" | "nodev" | "private" | "rprivate"
                        | "slave" | "rslave" | "relatime" | "norelatime" | "noatime"
                        | "strictatime" | "nodiratime" => {}
                        _ => return Err(option(op, o, "bind")),
                    }
                }
                self.sb.fs_op(crate::fs::Op::Bind {
                    src: src.clone(),
                    dest: PathBuf::from(&dest),
                    read_only: ro,
                    optional: false,
                    devices: false,
                    no_exec,
                });
                if ro {
                    self.sys_ro |= dest == "/sys";
                } else {
                    self.writable_dests.push(PathBuf::from(&dest));
                }
            }
            ("proc", _) => {
                if dest != "/proc" {
                    return refuse_dest("stockade mounts proc only at /proc");
                }
                check_options(
                    &options,
                    "proc",
                    &["nosuid", "nodev", "noexec", "relatime", "rw"],
                )?;
                self.sb.proc(true);
                self.proc_mounted = true;
            }
            ("sysfs", _) => {
                if dest != "/sys" {
                    return refuse_dest("stockade mounts sysfs only at /sys");
                }
                if self.ns.contains(Namespaces::USER) && !self.ns.contains(Namespaces::NET) {
                    return Err(unsupported(
                        &ty_path,
                        &Value::String(ty_name.into()),
                        "in a user namespace the kernel mounts sysfs only for a network namespace of the sandbox's own: add one, or bind the host's /sys read-only (as runc spec --rootless does)",
                    ));
                }
                check_options(
                    &options,
                    "sysfs",
                    &["nosuid", "nodev", "noexec", "relatime", "ro", "rw"],
                )?;
                self.sb.sys(true);
                self.sys_ro = true;
            }
            ("tmpfs", _) if dest == "/dev" => {
                check_options(
                    &options,
                    "tmpfs",
                    &[
                        "nosuid",
                        "noexec",
                        "strictatime",
                        "relatime",
                        "mode=",
                        "size=",
                    ],
                )?;
                self.sb.dev(true);
                self.has_dev = true;
            }
            ("devpts", _) | ("tmpfs", _) | ("mqueue", _)
                if matches!(dest.as_str(), "/dev/pts" | "/dev/shm" | "/dev/mqueue") =>
            {
                let want = match dest.as_str() {
                    "/dev/pts" => "devpts",
                    "/dev/shm" => "tmpfs",
                    _ => "mqueue",
                };
                if ty_name != want {
                    return Err(unsupported(
                        &ty_path,
                        &Value::String(ty_name.into()),
                        format!("stockade's /dev has its own {dest}"),
                    ));
                }
                if !self.has_dev {
                    return refuse_dest(
                        "stockade provides this only within its own /dev: mount a tmpfs at /dev first",
                    );
                }
                if dest == "/dev/mqueue" {
                    self.mqueue = Some(ty_path.clone());
                }
                check_options(
                    &options,
                    want,
                    &[
                        "nosuid",
                        "noexec",
                        "nodev",
                        "newinstance",
                        "ptmxmode=",
                        "mode=",
                        "gid=",
                        "size=",
                        "strictatime",
                        "relatime",
                    ],
                )?;
            }
            ("tmpfs", _) => {
                let mut t = TmpfsOptions::default();
                for (o, op) in &options {
                    if let Some(v) = o.strip_prefix("size=") {
                        t.size = Some(size(v).ok_or_else(|| {
                            invalid(op, "a size is bytes with an optional k, m or g suffix")
                        })?);
                    } else if let Some(v) = o.strip_prefix("mode=") {
                        t.mode = Some(
                            u32::from_str_radix(v, 8)
                                .ok()
                                .filter(|&m| m <= 0o7777)
                                .ok_or_else(|| invalid(op, "a mode is octal, at most 7777"))?,
                        );
                    } else if !matches!(
                        *o,
                        "nosuid"
                            | "nodev"
                            | "rw"
                            | "strictatime"
                            | "relatime"
                            | "noatime"
                            | "nodiratime"
                    ) {
                        return Err(option(op, o, "tmpfs"));
                    }
                }
                self.sb.tmpfs(&dest, t);
                self.writable_dests.push(PathBuf::from(&dest));
            }
            ("cgroup" | "cgroup2", _) => {
                if dest != "/sys/fs/cgroup" {
                    return refuse_dest("stockade mounts the cgroup tree only at /sys/fs/cgroup");
                }
                // Every mount of the sandbox is private already.
                check_options(
                    &options,
                    ty_name,
                    &[
                        "nosuid", "nodev", "noexec", "relatime", "ro", "rw", "private", "rprivate",
                    ],
                )?;
                let ro = options.iter().fold(false, |ro, (o, _)| match *o {
                    "ro" => true,
                    "rw" => false,
                    _ => ro,
                });
                self.cgroup_mount = Some(ro);
            }
            _ => {
                let v = ty
                    .as_ref()
                    .map(|t| Value::String(t.0.into()))
                    .unwrap_or(Value::Null);
                return Err(unsupported(
                    &ty_path,
                    &v,
                    "stockade mounts proc, sysfs, tmpfs, cgroup, the /dev set and binds",
                ));
            }
        }
        Ok(())
    }

    /// Each `linux.readonlyPaths` entry is read-only in the lowered
    /// sandbox already, is an entry of a fresh `/proc` that is not a
    /// process's (made read-only by a read-only bind of the caller's same
    /// entry, where the kernel has it), or is refused: stockade has no
    /// operation that makes any path of the sandbox read-only.
    fn readonly_paths_check(&mut self) -> Result<(), Error> {
        let mut binds = Vec::new();
        for (r, rp) in &self.readonly {
            let p = normalize(r);
            let under = |base: &str| p == base || p.starts_with(&format!("{base}/"));
            let host_proc_ro = self.proc_mounted && !self.proc_fresh && under("/proc");
            let fresh_proc_ro = self.proc_mounted
                && self.proc_fresh
                && [
                    "/proc/sys",
                    "/proc/sysrq-trigger",
                    "/proc/irq",
                    "/proc/bus",
                    "/proc/fs",
                ]
                .iter()
                .any(|b| under(b));
            let in_sys = self.sys_ro && under("/sys") && !under("/sys/fs/cgroup");
            let in_ro_root = self.root_readonly
                && !under("/proc")
                && !under("/dev")
                && !self
                    .writable_dests
                    .iter()
                    .any(|w| under(&w.to_string_lossy()) || w.starts_with(&p));
            // The fresh /proc's other entries that are the kernel's, not a
            // process's (its sound cards, ...): the caller's /proc shows the
            // same kernel.
            let kernel_entry = self.proc_mounted
                && self.proc_fresh
                && p.strip_prefix("/proc/").is_some_and(|rest| {
                    !rest.is_empty()
                        && !rest.contains('/')
                        && !rest.starts_with(|c: char| c.is_ascii_digit())
                        && !matches!(rest, "self" | "thread-self")
                });
            if kernel_entry && !(fresh_proc_ro || in_sys || in_ro_root) {
                binds.push(p);
                continue;
            }
            if !(host_proc_ro || fresh_proc_ro || in_sys || in_ro_root) {
                return Err(unsupported(
                    rp,
                    &Value::String(r.clone()),
                    "stockade cannot make this path read-only (it can where the fresh /proc, /sys or a read-only root already is)",
                ));
            }
        }
        for p in binds {
            self.sb.bind_ro_try(&p, &p);
        }
        Ok(())
    }
}

/// `/a//b/` as `/a/b`.
fn normalize(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

fn option(path: &str, o: &str, ty: &str) -> Error {
    unsupported(
        path,
        &Value::String(o.into()),
        format!("stockade cannot honour this option of a {ty} mount"),
    )
}

fn check_options(options: &[(&str, String)], ty: &str, allowed: &[&str]) -> Result<(), Error> {
    for (o, op) in options {
        let ok = allowed.iter().any(|a| {
            if a.ends_with('=') {
                o.starts_with(a)
            } else {
                o == a
            }
        });
        if !ok {
            return Err(option(op, o, ty));
        }
    }
    Ok(())
}

/// `65536k`, `64m`, `1g`, `4096`.
pub(super) fn size(v: &str) -> Option<u64> {
    let (num, mul) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&v[..v.len() - 1], 1 << 20),
        b'g' | b'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// A `linux.resources.devices` rule: a deny (of anything) or an allow of a
/// device stockade's `/dev` has, or of one `linux.devices` binds (`bound`:
/// type, major, minor).
fn device_rule(d: &Value, dp: &str, bound: &[(char, i64, i64)]) -> Result<(), Error> {
    let mut o = Obj::new(d, dp)?;
    let allow = o.bool("allow")?;
    let ty = o.string("type")?.map(|t| t.0).unwrap_or("a");
    let major = o.i64("major")?.filter(|&m| m >= 0);
    let minor = o.i64("minor")?.filter(|&m| m >= 0);
    let access = o.string("access")?.map(|a| a.0).unwrap_or("rwm");
    o.finish()?;
    let Some(allow) = allow else {
        return Err(invalid(&field(dp, "allow"), "required field missing"));
    };
    if !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(invalid(
            &field(dp, "access"),
            "access is made of r, w and m",
        ));
    }
    if !allow {
        return Ok(());
    }
    let known = (ty == "c"
        && major.is_some_and(|ma| {
            DEFAULT_DEVICES
                .iter()
                .any(|&(m, mi)| m == ma && (mi.is_none() || mi == minor))
        }))
        || bound
            .iter()
            .any(|&(t, ma, mi)| ty.starts_with(t) && Some(ma) == major && Some(mi) == minor);
    if !known {
        return Err(unsupported(
            dp,
            d,
            "stockade's /dev holds only null, zero, full, random, urandom, tty, pts and the nodes of linux.devices; it cannot allow other devices",
        ));
    }
    Ok(())
}

/// The capability sets, as stockade's one kept set.
///
/// After `execve` what a process holds depends on the bounding set, the
/// ambient set and whether it runs as uid 0; effective, permitted and
/// inheritable matter before it. So: the kept set is `bounding`; `ambient`
/// is empty or the same set; `effective`, `permitted` and `inheritable`
/// must lie within `bounding`.
fn capabilities(mut c: Obj<'_>, uid: u32) -> Result<caps::Policy, Error> {
    let mut sets: BTreeMap<&str, BTreeSet<Capability>> = BTreeMap::new();
    for key in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        let mut set = BTreeSet::new();
        for (name, np) in c.strings(key)? {
            let cap: Capability = name.parse().map_err(|_| {
                unsupported(
                    &np,
                    &Value::String(name.into()),
                    "not a capability stockade knows",
                )
            })?;
            if cap == Capability::SysPtrace && key == "bounding" {
                return Err(unsupported(
                    &np,
                    &Value::String(name.into()),
                    "stockade never keeps CAP_SYS_PTRACE: the sandbox's init shares the caller's memory",
                ));
            }
            set.insert(cap);
        }
        sets.insert(key, set);
    }
    let path = c.path.clone();
    c.finish()?;
    let bounding = sets.remove("bounding").unwrap_or_default();
    for key in ["effective", "permitted", "inheritable"] {
        let set = &sets[key];
        if !set.is_subset(&bounding) {
            return Err(unsupported(
                &field(&path, key),
                &Value::String(
                    set.difference(&bounding)
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                "stockade keeps capabilities only within the bounding set",
            ));
        }
    }
    let ambient = &sets["ambient"];
    let mut policy = caps::Policy::new();
    policy.keep_all(bounding.iter().copied());
    if ambient.is_empty() {
        policy.ambient(false);
        if uid == 0 {
            // As on any Linux system, uid 0 gets the bounding set at execve.
            policy.lock_noroot(false);
        }
    } else if *ambient != bounding {
        return Err(unsupported(
            &field(&path, "ambient"),
            &Value::String(
                ambient
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            "stockade raises either every kept capability in the ambient set or none: ambient must be empty or equal to bounding",
        ));
    }
    Ok(policy)
}
