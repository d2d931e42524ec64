//! Linux namespaces a sandbox can create.

bitflags::bitflags! {
    /// The set of namespaces to create for a sandbox.
    ///
    /// [`Namespaces::default()`] is everything an unprivileged caller can use
    /// and programs tolerate: user, mount, pid, network, IPC, UTS and cgroup.
    /// The time namespace is opt-in.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    #[cfg_attr(feature = "serde", serde(transparent))]
    pub struct Namespaces: u32 {
        /// User namespace (Linux 3.8): the sandbox's ids are mapped, and its
        /// capabilities apply only to objects it owns. Required for every other
        /// namespace when the caller is not root.
        const USER = 1 << 0;
        /// Mount namespace: the sandbox gets its own root filesystem.
        const MOUNT = 1 << 1;
        /// PID namespace: the sandbox sees only its own processes; a minimal
        /// init reaps orphans and forwards signals.
        const PID = 1 << 2;
        /// Network namespace: only a loopback interface (down until
        /// configured).
        const NET = 1 << 3;
        /// IPC namespace: System V IPC objects and POSIX message queues.
        const IPC = 1 << 4;
        /// UTS namespace: hostname and domain name.
        const UTS = 1 << 5;
        /// Cgroup namespace (Linux 4.6): `/proc/self/cgroup` is rooted at the
        /// sandbox's own cgroup.
        const CGROUP = 1 << 6;
        /// Time namespace (Linux 5.6): monotonic and boot-time clock offsets.
        /// Entered by the program at `execve`; needs Linux 5.6.
        const TIME = 1 << 7;
    }
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces::all() - Namespaces::TIME
    }
}

impl Namespaces {
    /// Flags for the supervisor's clone (everything but the cgroup and time
    /// namespaces, which the program process creates for itself once it is in
    /// the sandbox's cgroup).
    pub(crate) fn supervisor_clone_flags(self) -> u64 {
        let mut f = 0u64;
        for (ns, flag) in [
            (Namespaces::USER, libc::CLONE_NEWUSER),
            (Namespaces::MOUNT, libc::CLONE_NEWNS),
            (Namespaces::PID, libc::CLONE_NEWPID),
            (Namespaces::NET, libc::CLONE_NEWNET),
            (Namespaces::IPC, libc::CLONE_NEWIPC),
            (Namespaces::UTS, libc::CLONE_NEWUTS),
        ] {
            if self.contains(ns) {
                f |= flag as u64;
            }
        }
        f
    }

    /// Short lowercase names, for reports and `Display`.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [
            (Namespaces::USER, "user"),
            (Namespaces::MOUNT, "mount"),
            (Namespaces::PID, "pid"),
            (Namespaces::NET, "net"),
            (Namespaces::IPC, "ipc"),
            (Namespaces::UTS, "uts"),
            (Namespaces::CGROUP, "cgroup"),
            (Namespaces::TIME, "time"),
        ]
        .into_iter()
        .filter(move |(ns, _)| self.contains(*ns))
        .map(|(_, n)| n)
    }
}

/// A single-id mapping between the sandbox and the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IdMapping {
    /// The id inside the sandbox.
    pub inside: u32,
    /// The id it maps to outside (the caller's id).
    pub outside: u32,
}

/// The identities of a sandboxed program's namespaces: their inode numbers,
/// as `stat(2)` gives them for `/proc/PID/ns/*` (what `lsns`, `readlink
/// /proc/PID/ns/net` and bubblewrap's `--info-fd` show). Two processes are
/// in the same namespace of a kind when the numbers are equal.
///
/// Recorded by the program's own process just before it executes the
/// program, when the command asks
/// ([`Command::record_namespace_ids`](crate::Command::record_namespace_ids)):
/// they are known however soon the program ends. Each is `None` where it
/// could not be read (a kernel without that kind of namespace).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct NamespaceIds {
    /// The cgroup namespace.
    pub cgroup: Option<u64>,
    /// The IPC namespace.
    pub ipc: Option<u64>,
    /// The mount namespace.
    pub mnt: Option<u64>,
    /// The network namespace.
    pub net: Option<u64>,
    /// The pid namespace the program is in.
    pub pid: Option<u64>,
    /// The time namespace the program runs in (`time_for_children` before
    /// it executes: a new time namespace is entered at exec).
    pub time: Option<u64>,
    /// The user namespace.
    pub user: Option<u64>,
    /// The UTS namespace.
    pub uts: Option<u64>,
}

impl NamespaceIds {
    /// The links the program process stats, in the order of
    /// [`NamespaceIds::from_raw`]'s array, below `/proc/thread-self/ns/`.
    pub(crate) const LINKS: [&'static std::ffi::CStr; 8] = [
        c"thread-self/ns/cgroup",
        c"thread-self/ns/ipc",
        c"thread-self/ns/mnt",
        c"thread-self/ns/net",
        c"thread-self/ns/pid",
        c"thread-self/ns/time_for_children",
        c"thread-self/ns/user",
        c"thread-self/ns/uts",
    ];

    /// From the numbers the program process recorded (0: not read).
    pub(crate) fn from_raw(raw: [u64; 8]) -> NamespaceIds {
        let id = |i: usize| Some(raw[i]).filter(|&n| n != 0);
        NamespaceIds {
            cgroup: id(0),
            ipc: id(1),
            mnt: id(2),
            net: id(3),
            pid: id(4),
            time: id(5),
            user: id(6),
            uts: id(7),
        }
    }

    /// The kinds and their ids, in bubblewrap's and `lsns`' names.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("cgroup", self.cgroup),
            ("ipc", self.ipc),
            ("mnt", self.mnt),
            ("net", self.net),
            ("pid", self.pid),
            ("time", self.time),
            ("user", self.user),
            ("uts", self.uts),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }
}
