//! The channels between the caller and a sandbox's supervisor: the report
//! socket (records up, requests down) and the caller's lifeline (see
//! `crate::sys::lifeline`), which the supervisor watches to die with the
//! caller.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, sockopt};

use super::fds::Fds;
use crate::denials::Observe;
use crate::error::{Error, ParentOp};
use crate::record::{self, Record};

/// One spawn's channels.
pub(super) struct Channel {
    /// The caller's end of the report socket: setup records, then the exit
    /// record, arrive here; requests (kill, signal) leave from here.
    pub(super) report: OwnedFd,
    /// The supervisor's end, open until the clone has copied it.
    child: Option<OwnedFd>,
    /// Duplicates of the lifeline's descriptors above the program's
    /// targets, for those that lie below them.
    lifeline_dups: Vec<OwnedFd>,
    /// The lifeline pipe's read end and the caller's pidfd, as the
    /// supervisor sees them (-1: none).
    lifeline: RawFd,
    caller_pidfd: RawFd,
    /// The network channel (a filtered network or published ports): the
    /// caller's end, and the supervisor's until the clone has copied it.
    pub(super) net: Option<OwnedFd>,
    net_child: Option<OwnedFd>,
}

/// What the report channel said during setup.
pub(super) enum SetupReport {
    /// The program has been executed; its pid in the caller's terms, when
    /// known.
    Running(Option<u32>),
    /// A setup step failed.
    Failed(Box<Record>),
    /// The supervisor closed the channel without a verdict (it crashed or
    /// was killed).
    Vanished,
}

impl Channel {
    /// Opens the report socket, and takes the lifeline when the sandbox is
    /// to die with the caller; every descriptor the supervisor gets lies
    /// above the program's descriptor targets.
    pub(super) fn open(fds: &Fds, die_with_parent: bool, net: bool) -> Result<Channel, Error> {
        let io_err = |e: nix::Error| Error::Io {
            op: ParentOp::CreateReportChannel,
            source: e.into(),
        };
        let (report, child) = socket::socketpair(
            socket::AddressFamily::Unix,
            socket::SockType::SeqPacket,
            None,
            socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io_err)?;
        socket::setsockopt(&report, sockopt::PassCred, &true).map_err(io_err)?;
        let child = fds.above_targets(child)?;
        let mut channel = Channel {
            report,
            child: Some(child),
            lifeline_dups: Vec::new(),
            lifeline: -1,
            caller_pidfd: -1,
            net: None,
            net_child: None,
        };
        if net {
            let (ours, theirs) = socket::socketpair(
                socket::AddressFamily::Unix,
                socket::SockType::SeqPacket,
                None,
                socket::SockFlag::SOCK_CLOEXEC,
            )
            .map_err(io_err)?;
            channel.net_child = Some(fds.above_targets(theirs)?);
            channel.net = Some(ours);
        }
        if die_with_parent {
            let l = crate::sys::lifeline::get().map_err(|e| Error::Io {
                op: ParentOp::CreateLifeline,
                source: e,
            })?;
            channel.lifeline = channel.above_targets(fds, l.pipe)?;
            if let Some(p) = l.pidfd {
                channel.caller_pidfd = channel.above_targets(fds, p)?;
            }
        }
        Ok(channel)
    }

    /// `fd` itself if it lies above the program's targets, or a duplicate
    /// there, kept until the clone has copied it.
    fn above_targets(
        &mut self,
        fds: &Fds,
        fd: std::os::fd::BorrowedFd<'_>,
    ) -> Result<RawFd, Error> {
        if fd.as_raw_fd() >= fds.floor() {
            return Ok(fd.as_raw_fd());
        }
        let dup = fd.try_clone_to_owned().map_err(|e| Error::Io {
            op: ParentOp::DuplicateFd,
            source: e,
        })?;
        let dup = fds.above_targets(dup)?;
        let raw = dup.as_raw_fd();
        self.lifeline_dups.push(dup);
        Ok(raw)
    }

    /// The supervisor's end of the report socket.
    pub(super) fn child_fd(&self) -> RawFd {
        self.child.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// The lifeline pipe's read end as the supervisor sees it (-1: none).
    pub(super) fn lifeline_fd(&self) -> RawFd {
        self.lifeline
    }

    /// The caller's pidfd as the supervisor sees it (-1: none).
    pub(super) fn caller_pidfd(&self) -> RawFd {
        self.caller_pidfd
    }

    /// The supervisor's end of the network channel (-1: none).
    pub(super) fn net_child_fd(&self) -> RawFd {
        self.net_child.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Every descriptor the supervisor holds besides the program's.
    pub(super) fn held(&self) -> [RawFd; 4] {
        [
            self.child_fd(),
            self.lifeline,
            self.caller_pidfd,
            self.net_child_fd(),
        ]
    }

    /// Closes the supervisor's ends: call once the clone has copied them.
    pub(super) fn close_child_side(&mut self) {
        self.child = None;
        self.net_child = None;
        self.lifeline_dups.clear();
    }

    /// Tells the supervisor that its id maps are written.
    pub(super) fn maps_written(&self) -> Result<(), Error> {
        nix::unistd::write(&self.report, &[record::REQUEST_MAPS_WRITTEN])
            .map(drop)
            .map_err(|e| Error::Io {
                op: ParentOp::IdMaps,
                source: e.into(),
            })
    }

    /// Reads the report socket until the supervisor says `Running`, a setup
    /// step reports an error, or it closes.
    pub(super) fn read_setup(
        &self,
        pty: &mut Option<OwnedFd>,
        observe: Option<&Observe>,
    ) -> Result<SetupReport, Error> {
        read_setup(self.report.as_raw_fd(), pty, observe)
    }
}

/// Reads a report channel until its supervisor says `Running`, a setup step
/// reports an error, or it closes. The program's terminal master, when the
/// program process sends one, lands in `pty`; its seccomp listener, when
/// it sends one, is watched by `observe` at once (the program may already
/// wait on it).
pub(super) fn read_setup(
    report: RawFd,
    pty: &mut Option<OwnedFd>,
    observe: Option<&Observe>,
) -> Result<SetupReport, Error> {
    let mut buf = [0u8; record::RECORD_LEN];
    let mut cmsg = nix::cmsg_space!(nix::sys::socket::UnixCredentials, [RawFd; 1]);
    loop {
        let mut iov = [io::IoSliceMut::new(&mut buf)];
        let msg = match socket::recvmsg::<()>(
            report,
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::Error::EINTR) => continue,
            Err(e) => {
                return Err(Error::Io {
                    op: ParentOp::ReadReport,
                    source: e.into(),
                });
            }
        };
        let n = msg.bytes;
        let mut pid = None;
        let mut passed: Option<OwnedFd> = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                match c {
                    ControlMessageOwned::ScmCredentials(cred) => pid = Some(cred.pid()),
                    ControlMessageOwned::ScmRights(fds) => {
                        for fd in crate::sys::adopt_received(fds) {
                            passed = Some(fd);
                        }
                    }
                    _ => {}
                }
            }
        }
        if n == 0 {
            return Ok(SetupReport::Vanished);
        }
        let Some(rec) = Record::decode(buf.get(..n).unwrap_or(&[])) else {
            return Ok(SetupReport::Vanished);
        };
        if rec.kind == record::KIND_PTY {
            if passed.is_some() {
                *pty = passed;
            }
            continue;
        }
        if rec.kind == record::KIND_LISTENER {
            watch_listener(observe, passed, rec.errno)?;
            continue;
        }
        return Ok(match rec.kind {
            record::KIND_RUNNING => {
                let from = if rec.flags & record::FLAG_PID_IN_CREDENTIALS != 0 {
                    pid
                } else {
                    Some(rec.value)
                };
                SetupReport::Running(from.and_then(|p| u32::try_from(p).ok()).filter(|&p| p > 0))
            }
            record::KIND_ERROR => SetupReport::Failed(Box::new(rec)),
            _ => SetupReport::Vanished,
        });
    }
}

/// Hands a program's listener to its sandbox's observer, or records why
/// it has none. A listener nobody asked for is closed (the kernel then
/// answers refused calls `ENOSYS`).
#[allow(clippy::needless_pass_by_value)]
fn watch_listener(
    observe: Option<&Observe>,
    listener: Option<OwnedFd>,
    errno: i32,
) -> Result<(), Error> {
    #[cfg(feature = "seccomp")]
    if let Some(sink) = observe {
        return match listener {
            Some(fd) => sink.watch(fd).map_err(|source| Error::Io {
                op: ParentOp::ObserveDenials,
                source,
            }),
            None => {
                sink.unobserved(errno);
                Ok(())
            }
        };
    }
    let _ = (observe, listener, errno);
    Ok(())
}
