//! The channels between the caller and a sandbox's supervisor: the report
//! socket (records up, kill requests down) and the lifeline the supervisor
//! watches to die with the caller.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, sockopt};

use super::fds::Fds;
use crate::error::{Error, ParentOp};
use crate::forksafe::{Got, Once};
use crate::record::{self, Record};

/// The lifeline pipe: its write end stays open in this process (and closes
/// only when the process dies or executes another program); every supervisor
/// polls the read end and ends its sandbox on hang-up. Unlike
/// `PR_SET_PDEATHSIG`, this does not fire when the spawning thread exits.
fn lifeline() -> Result<BorrowedFd<'static>, Error> {
    static LIFELINE: Once<(OwnedFd, OwnedFd)> = Once::new();
    let pair = LIFELINE.get_or_try_init(|| {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::Io {
            op: ParentOp::CreateLifeline,
            source: e.into(),
        })
    })?;
    Ok(match pair {
        Got::Cached((r, _)) => r.as_fd(),
        // Another thread is setting the cache at this moment (or was, in
        // the process this one was forked from): this pipe must stay open
        // as long as the process, like the cached one.
        Got::Own(pair) => Box::leak(Box::new(pair)).0.as_fd(),
    })
}

/// One spawn's channels.
pub(super) struct Channel {
    /// The caller's end of the report socket: setup records, then the exit
    /// record, arrive here; kill requests leave from here.
    pub(super) report: OwnedFd,
    /// The supervisor's end, open until the clone has copied it.
    child: Option<OwnedFd>,
    /// A duplicate of the lifeline's read end above the program's targets,
    /// when the original lies below them.
    lifeline_dup: Option<OwnedFd>,
    lifeline: RawFd,
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
    pub(super) fn open(fds: &Fds, die_with_parent: bool) -> Result<Channel, Error> {
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
        let (lifeline, lifeline_dup) = if die_with_parent {
            let l = lifeline()?;
            if l.as_raw_fd() < fds.floor() {
                let dup = l.try_clone_to_owned().map_err(|e| Error::Io {
                    op: ParentOp::DuplicateFd,
                    source: e,
                })?;
                let dup = fds.above_targets(dup)?;
                (dup.as_raw_fd(), Some(dup))
            } else {
                (l.as_raw_fd(), None)
            }
        } else {
            (-1, None)
        };
        Ok(Channel {
            report,
            child: Some(child),
            lifeline_dup,
            lifeline,
        })
    }

    /// The supervisor's end of the report socket.
    pub(super) fn child_fd(&self) -> RawFd {
        self.child.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    /// The lifeline's read end as the supervisor sees it (-1: none).
    pub(super) fn lifeline_fd(&self) -> RawFd {
        self.lifeline
    }

    /// Closes the supervisor's ends: call once the clone has copied them.
    pub(super) fn close_child_side(&mut self) {
        self.child = None;
        self.lifeline_dup = None;
    }

    /// Reads the report socket until the supervisor says `Running`, a setup
    /// step reports an error, or it closes.
    pub(super) fn read_setup(&self) -> Result<SetupReport, Error> {
        let mut buf = [0u8; record::RECORD_LEN];
        let mut cmsg = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
        loop {
            let mut iov = [io::IoSliceMut::new(&mut buf)];
            let msg = match socket::recvmsg::<()>(
                self.report.as_raw_fd(),
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
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmCredentials(cred) = c {
                        pid = Some(cred.pid());
                    }
                }
            }
            if n == 0 {
                return Ok(SetupReport::Vanished);
            }
            let Some(rec) = Record::decode(buf.get(..n).unwrap_or(&[])) else {
                return Ok(SetupReport::Vanished);
            };
            return Ok(match rec.kind {
                record::KIND_RUNNING => {
                    let from = if rec.flags & record::FLAG_PID_IN_CREDENTIALS != 0 {
                        pid
                    } else {
                        Some(rec.value)
                    };
                    SetupReport::Running(
                        from.and_then(|p| u32::try_from(p).ok()).filter(|&p| p > 0),
                    )
                }
                record::KIND_ERROR => SetupReport::Failed(Box::new(rec)),
                _ => SetupReport::Vanished,
            });
        }
    }
}
