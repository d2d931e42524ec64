//! A fake cgroupfs in a temporary directory, imitating the kernel's rules
//! closely enough to test the logic: control files appear on mkdir according
//! to the parent's subtree_control, subtree_control obeys the no-internal-
//! processes rule, cgroup.kill empties a subtree, rmdir refuses populated or
//! non-empty cgroups.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::os::Os;

#[derive(Debug, Default)]
pub(crate) struct FakeState {
    /// Absolute (fake-view) paths that are not writable (EACCES).
    pub(crate) deny_write: HashSet<PathBuf>,
    /// Control-file names whose writes fail with this errno.
    pub(crate) reject: HashMap<String, i32>,
    /// Interface files this "kernel" does not have.
    pub(crate) no_files: HashSet<String>,
    /// Live processes: pid -> start time.
    pub(crate) alive: HashMap<u32, u64>,
    pub(crate) pid: u32,
    pub(crate) cpus: usize,
    /// Every successful write: (path, data).
    pub(crate) writes: Vec<(PathBuf, String)>,
    pub(crate) killed: Vec<u32>,
}

#[derive(Debug)]
pub(crate) struct FakeOs {
    pub(crate) root: tempfile::TempDir,
    pub(crate) mounts: Vec<PathBuf>,
    pub(crate) state: Mutex<FakeState>,
}

/// The controllers cgroup v2 allows in threaded subtrees.
const THREADED: [&str; 3] = ["cpu", "cpuset", "pids"];

fn err(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn controller_files(c: &str) -> &'static [(&'static str, &'static str)] {
    match c {
        "memory" => &[
            ("memory.max", "max\n"),
            ("memory.high", "max\n"),
            ("memory.swap.max", "max\n"),
            ("memory.oom.group", "0\n"),
            ("memory.current", "0\n"),
            ("memory.peak", "0\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
            ),
        ],
        "pids" => &[
            ("pids.max", "max\n"),
            ("pids.current", "0\n"),
            ("pids.events", "max 0\n"),
        ],
        "cpu" => &[("cpu.max", "max 100000\n"), ("cpu.weight", "100\n")],
        "io" => &[("io.max", "")],
        "cpuset" => &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
        _ => &[],
    }
}

impl FakeOs {
    /// A system whose cgroup2 hierarchy is mounted at `mount` with the root
    /// offering `controllers`; /proc/self/cgroup and mountinfo as given.
    pub(crate) fn new(
        mount: &str,
        controllers: &str,
        self_cgroup: &str,
        mountinfo: &str,
    ) -> FakeOs {
        let os = FakeOs {
            root: tempfile::tempdir().expect("tempdir"),
            mounts: vec![PathBuf::from(mount)],
            state: Mutex::new(FakeState {
                pid: 4242,
                cpus: 2,
                ..FakeState::default()
            }),
        };
        os.lock().alive.insert(4242, 777);
        os.put("/proc/self/cgroup", self_cgroup);
        os.put("/proc/self/mountinfo", mountinfo);
        let m = Path::new(mount);
        fs::create_dir_all(os.map(m)).expect("mount dir");
        os.put(m.join("cgroup.controllers"), &format!("{controllers}\n"));
        os.put(m.join("cgroup.subtree_control"), "\n");
        os.put(m.join("cgroup.procs"), "");
        os.put(m.join("cgroup.kill"), "");
        os.put(
            m.join("cpu.stat"),
            "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
        );
        os
    }

    /// A pure cgroup v2 system: mounted at /sys/fs/cgroup, all controllers,
    /// the caller in `own` (which the test then creates with `cgroup`).
    pub(crate) fn v2(own: &str) -> FakeOs {
        FakeOs::new(
            "/sys/fs/cgroup",
            "cpuset cpu io memory hugetlb pids rdma misc",
            &format!("0::{own}\n"),
            "22 1 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
        )
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake state")
    }

    pub(crate) fn map(&self, p: &Path) -> PathBuf {
        self.root.path().join(p.strip_prefix("/").unwrap_or(p))
    }

    /// Writes a file directly (test set-up).
    pub(crate) fn put(&self, p: impl AsRef<Path>, content: &str) {
        let real = self.map(p.as_ref());
        if let Some(dir) = real.parent() {
            fs::create_dir_all(dir).expect("mkdir -p");
        }
        fs::write(real, content).expect("write");
    }

    /// Reads a file directly (test checks).
    pub(crate) fn get(&self, p: impl AsRef<Path>) -> String {
        fs::read_to_string(self.map(p.as_ref())).unwrap_or_else(|_| "<missing>".into())
    }

    pub(crate) fn exists(&self, p: impl AsRef<Path>) -> bool {
        self.map(p.as_ref()).exists()
    }

    /// Creates a cgroup (with the kernel's files) holding `procs`.
    pub(crate) fn cgroup(&self, p: &str, procs: &[u32]) {
        let p = Path::new(p);
        if !self.exists(p) {
            self.mkdir(p).expect("fake mkdir");
        }
        let list: String = procs.iter().map(|p| format!("{p}\n")).collect();
        self.put(p.join("cgroup.procs"), &list);
        self.refresh();
    }

    fn mount_of(&self, p: &Path) -> Option<&PathBuf> {
        self.mounts.iter().find(|m| p.starts_with(m))
    }

    fn all_cgroups(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.mounts.clone();
        let mut i = 0;
        while i < out.len() {
            if let Ok(names) = self.subdirs(&out[i]) {
                let base = out[i].clone();
                out.extend(names.into_iter().map(|n| base.join(n)));
            }
            i += 1;
        }
        out
    }

    /// Recomputes `populated` in every cgroup.events.
    fn refresh(&self) {
        let all = self.all_cgroups();
        let has_procs: Vec<PathBuf> = all
            .iter()
            .filter(|d| !self.get(d.join("cgroup.procs")).trim().is_empty())
            .cloned()
            .collect();
        for d in &all {
            let ev = d.join("cgroup.events");
            if !self.exists(&ev) {
                continue;
            }
            let populated = has_procs.iter().any(|p| p.starts_with(d));
            let frozen = self.get(d.join("cgroup.freeze")).trim() == "1";
            self.put(
                &ev,
                &format!("populated {}\nfrozen {}\n", populated as u8, frozen as u8),
            );
        }
    }

    fn remove_pid(&self, pid: u32) -> bool {
        let mut found = false;
        for d in self.all_cgroups() {
            let procs = d.join("cgroup.procs");
            let text = self.get(&procs);
            if text.lines().any(|l| l.trim() == pid.to_string()) {
                found = true;
                let rest: String = text
                    .lines()
                    .filter(|l| l.trim() != pid.to_string())
                    .map(|l| format!("{l}\n"))
                    .collect();
                self.put(&procs, &rest);
            }
        }
        found
    }
}

impl Os for FakeOs {
    fn read(&self, path: &Path) -> io::Result<String> {
        fs::read_to_string(self.map(path))
    }

    fn write(&self, path: &Path, data: &str) -> io::Result<()> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        {
            let st = self.lock();
            if st.deny_write.contains(path) {
                return Err(err(libc::EACCES));
            }
            if let Some(&code) = st.reject.get(&name) {
                return Err(err(code));
            }
        }
        let real = self.map(path);
        if !real.is_file() {
            return Err(err(libc::ENOENT));
        }
        let dir = path.parent().unwrap_or(Path::new("/"));
        match name.as_str() {
            "cgroup.subtree_control" => {
                let avail = self.get(dir.join("cgroup.controllers"));
                let mut enabled: Vec<String> = self
                    .get(path)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                for tok in data.split_whitespace() {
                    let (on, c) = match tok.split_at(1) {
                        ("+", c) => (true, c),
                        ("-", c) => (false, c),
                        _ => return Err(err(libc::EINVAL)),
                    };
                    if controller_files(c).is_empty() && c != "hugetlb" {
                        return Err(err(libc::EINVAL));
                    }
                    if !avail.split_whitespace().any(|a| a == c) {
                        return Err(err(libc::ENOENT));
                    }
                    let is_root = !self.exists(dir.join("cgroup.type"));
                    // As the kernel: a threaded controller is accepted in a
                    // cgroup with processes, which becomes a thread root.
                    let threaded = THREADED.contains(&c);
                    if on
                        && !is_root
                        && !threaded
                        && !self.get(dir.join("cgroup.procs")).trim().is_empty()
                    {
                        return Err(err(libc::EBUSY));
                    }
                    if on && !enabled.iter().any(|e| e == c) {
                        enabled.push(c.to_owned());
                    }
                    if !on {
                        enabled.retain(|e| e != c);
                    }
                }
                self.put(path, &format!("{}\n", enabled.join(" ")));
            }
            "cgroup.kill" => {
                if data.trim() != "1" {
                    return Err(err(libc::EINVAL));
                }
                for d in self
                    .all_cgroups()
                    .into_iter()
                    .filter(|d| d.starts_with(dir))
                {
                    let procs = d.join("cgroup.procs");
                    let pids: Vec<u32> = self
                        .get(&procs)
                        .lines()
                        .filter_map(|l| l.trim().parse().ok())
                        .collect();
                    self.lock().killed.extend(pids);
                    self.put(&procs, "");
                }
                self.refresh();
            }
            "io.max" => {
                let old = self.get(path);
                self.put(path, &format!("{old}{data}\n"));
            }
            "cgroup.freeze" => {
                self.put(path, &format!("{data}\n"));
                self.refresh();
            }
            _ => self.put(path, &format!("{data}\n")),
        }
        self.lock().writes.push((path.to_owned(), data.to_owned()));
        Ok(())
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        let parent = path.parent().unwrap_or(Path::new("/"));
        if self.lock().deny_write.contains(parent) {
            return Err(err(libc::EACCES));
        }
        fs::create_dir(self.map(path))?;
        if self.mount_of(path).is_none() {
            return Ok(());
        }
        let controllers = self.get(parent.join("cgroup.subtree_control"));
        let missing = self.lock().no_files.clone();
        // The children of a thread root (a non-root cgroup with processes and
        // a threaded controller enabled) cannot hold processes.
        let thread_root = self.exists(parent.join("cgroup.type"))
            && !self.get(parent.join("cgroup.procs")).trim().is_empty()
            && controllers
                .split_whitespace()
                .any(|c| THREADED.contains(&c));
        let cgroup_type = if thread_root {
            "domain invalid\n"
        } else {
            "domain\n"
        };
        let mut files: Vec<(String, String)> = vec![
            (
                "cgroup.controllers".into(),
                format!("{}\n", controllers.trim()),
            ),
            ("cgroup.subtree_control".into(), "\n".into()),
            ("cgroup.procs".into(), String::new()),
            ("cgroup.type".into(), cgroup_type.into()),
            ("cgroup.events".into(), "populated 0\nfrozen 0\n".into()),
            ("cgroup.freeze".into(), "0\n".into()),
            ("cgroup.kill".into(), String::new()),
            (
                "cpu.stat".into(),
                "usage_usec 0\nuser_usec 0\nsystem_usec 0\n".into(),
            ),
        ];
        for c in controllers.split_whitespace() {
            files.extend(
                controller_files(c)
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
            );
        }
        for (name, content) in files {
            if !missing.contains(&name) {
                self.put(path.join(name), &content);
            }
        }
        Ok(())
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        let real = self.map(path);
        if !real.is_dir() {
            return Err(err(libc::ENOENT));
        }
        if !self.get(path.join("cgroup.procs")).trim().is_empty() || !self.subdirs(path)?.is_empty()
        {
            return Err(err(libc::EBUSY));
        }
        if self
            .lock()
            .deny_write
            .contains(path.parent().unwrap_or(Path::new("/")))
        {
            return Err(err(libc::EACCES));
        }
        fs::remove_dir_all(real)
    }

    fn subdirs(&self, path: &Path) -> io::Result<Vec<OsString>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.map(path))? {
            let e = e?;
            if e.file_type()?.is_dir() {
                out.push(e.file_name());
            }
        }
        out.sort();
        Ok(out)
    }

    fn open_dir(&self, path: &Path) -> io::Result<OwnedFd> {
        super::os::RealOs.open_dir(&self.map(path))
    }

    fn open_file(&self, path: &Path, write: bool) -> io::Result<OwnedFd> {
        super::os::RealOs.open_file(&self.map(path), write)
    }

    fn is_cgroup2(&self, path: &Path) -> io::Result<bool> {
        if !self.map(path).exists() {
            return Err(err(libc::ENOENT));
        }
        Ok(self.mount_of(path).is_some())
    }

    fn writable(&self, path: &Path) -> bool {
        !self.lock().deny_write.contains(path)
    }

    fn start_time(&self, pid: u32) -> Option<u64> {
        self.lock().alive.get(&pid).copied()
    }

    fn pid(&self) -> u32 {
        self.lock().pid
    }

    fn online_cpus(&self) -> usize {
        self.lock().cpus
    }

    fn kill_member(&self, pid: u32, _cgroup: &Path) -> io::Result<()> {
        if self.remove_pid(pid) {
            self.lock().killed.push(pid);
        }
        self.refresh();
        Ok(())
    }
}

impl FakeOs {
    /// Opens a directory of the fake tree (test helper).
    pub(crate) fn open_dir_for_test(&self, p: &str) -> OwnedFd {
        self.open_dir(Path::new(p)).expect("open fake dir")
    }
}
