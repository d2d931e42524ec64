//! The cgroup module's only door to the system, so tests can swap it for a
//! fake cgroupfs in a temporary directory.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// File-system and process operations on absolute paths.
///
/// The real implementation talks to the kernel; the test implementation maps
/// every absolute path into a temporary directory and imitates cgroupfs.
pub(crate) trait Os: Send + Sync + std::fmt::Debug {
    /// Reads a whole (small) file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes `data` to an existing file in one `write` call, as cgroupfs needs.
    fn write(&self, path: &Path, data: &str) -> io::Result<()>;
    /// Creates a directory (a cgroup).
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty directory (a cgroup).
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    /// Names of the subdirectories of `path`.
    fn subdirs(&self, path: &Path) -> io::Result<Vec<OsString>>;
    /// Opens a directory `O_RDONLY | O_DIRECTORY | O_CLOEXEC`.
    fn open_dir(&self, path: &Path) -> io::Result<OwnedFd>;
    /// Opens an existing file `O_CLOEXEC`, write-only when `write`, else read-only.
    fn open_file(&self, path: &Path, write: bool) -> io::Result<OwnedFd>;
    /// Whether `path` lies on a cgroup v2 file system.
    fn is_cgroup2(&self, path: &Path) -> io::Result<bool>;
    /// Whether the calling process may write `path` (effective ids).
    fn writable(&self, path: &Path) -> bool;
    /// The start time (clock ticks since boot) of process `pid`, None if gone.
    fn start_time(&self, pid: u32) -> Option<u64>;
    /// The calling process's id.
    fn pid(&self) -> u32;
    /// Number of online CPUs.
    fn online_cpus(&self) -> usize;
    /// Sends SIGKILL to `pid` if it is still in the cgroup at hierarchy path
    /// `cgroup` or below (guards against pid reuse).
    fn kill_member(&self, pid: u32, cgroup: &Path) -> io::Result<()>;
}

/// The running system.
#[derive(Debug, Default)]
pub(crate) struct RealOs;

/// Field 22 of /proc/<pid>/stat (after the parenthesised command name).
pub(crate) fn parse_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, so start time (22) is the 20th here.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The `0::` path of a /proc/<pid>/cgroup text.
pub(crate) fn v2_path_of(text: &str) -> Option<PathBuf> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(PathBuf::from)
}

impl Os for RealOs {
    fn read(&self, path: &Path) -> io::Result<String> {
        fs::read_to_string(path)
    }

    fn write(&self, path: &Path, data: &str) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        let n = f.write(data.as_bytes())?;
        if n == data.len() {
            Ok(())
        } else {
            Err(io::ErrorKind::WriteZero.into())
        }
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        fs::DirBuilder::new().mode(0o755).create(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn subdirs(&self, path: &Path) -> io::Result<Vec<OsString>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                out.push(entry.file_name());
            }
        }
        Ok(out)
    }

    fn open_dir(&self, path: &Path) -> io::Result<OwnedFd> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)?;
        Ok(f.into())
    }

    fn open_file(&self, path: &Path, write: bool) -> io::Result<OwnedFd> {
        let f: File = OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        Ok(f.into())
    }

    fn is_cgroup2(&self, path: &Path) -> io::Result<bool> {
        let st = nix::sys::statfs::statfs(path).map_err(io::Error::from)?;
        Ok(st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
    }

    fn writable(&self, path: &Path) -> bool {
        nix::unistd::faccessat(
            nix::fcntl::AT_FDCWD,
            path,
            nix::unistd::AccessFlags::W_OK,
            nix::fcntl::AtFlags::AT_EACCESS,
        )
        .is_ok()
    }

    fn start_time(&self, pid: u32) -> Option<u64> {
        parse_start_time(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn online_cpus(&self) -> usize {
        nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
            .ok()
            .flatten()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
            .unwrap_or(1)
    }

    fn kill_member(&self, pid: u32, cgroup: &Path) -> io::Result<()> {
        use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
        let raw = i32::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let Some(rpid) = Pid::from_raw(raw) else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        match pidfd_open(rpid, PidfdFlags::empty()) {
            Ok(pidfd) => {
                // The pidfd pins the process; check that the pid still names a
                // member of the cgroup, then signal through the pidfd (which
                // fails with ESRCH if the process we checked is a newcomer).
                let text = match fs::read_to_string(format!("/proc/{pid}/cgroup")) {
                    Ok(t) => t,
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
                    Err(e) => return Err(e),
                };
                if !v2_path_of(&text).is_some_and(|p| p.starts_with(cgroup)) {
                    return Ok(());
                }
                match pidfd_send_signal(&pidfd, Signal::KILL) {
                    Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(rustix::io::Errno::NOSYS) => {
                // Before Linux 5.3: the process is frozen, so it cannot exit and
                // free its pid on its own between the read and the signal.
                match nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(raw),
                    nix::sys::signal::Signal::SIGKILL,
                ) {
                    Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}
