//! The program's descriptors: its standard streams and the descriptors the
//! command passes, lowered to moves the program process makes before exec.

use std::collections::HashSet;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;

use crate::command::{Command, StdioKind};
use crate::error::{ConfigError, Error, FdProblem, ParentOp};
use crate::zone::plan::{FdPlan, PtyPlan};

fn io_err(op: ParentOp) -> impl Fn(nix::Error) -> Error {
    move |e| Error::Io {
        op,
        source: e.into(),
    }
}

/// The descriptors of one spawn: what the program gets, and the caller's
/// ends of the pipes.
#[derive(Default)]
pub(super) struct Fds {
    /// (source, target) moves, stdio first.
    moves: Vec<(RawFd, RawFd)>,
    /// Child-side descriptors opened for this spawn: closed in the caller
    /// once the sandbox's processes have copied them.
    child_side: Vec<OwnedFd>,
    pub(super) stdin: Option<OwnedFd>,
    pub(super) stdout: Option<OwnedFd>,
    pub(super) stderr: Option<OwnedFd>,
    /// The program's terminal, if it gets one: its size and the standard
    /// streams (bit `n` for descriptor `n`) that become it.
    pty: Option<(crate::pty::WindowSize, u8)>,
    /// Standard input becomes the controlling terminal
    /// ([`Command::controlling_terminal`]).
    ctty: bool,
}

/// Checks the targets of the command's passed descriptors.
fn check_targets(cmd: &Command) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (t, _) in &cmd.fds {
        let reason = if *t < 0 {
            FdProblem::Negative
        } else if *t < 3 {
            FdProblem::Stdio
        } else if !seen.insert(*t) {
            FdProblem::Duplicate
        } else {
            continue;
        };
        return Err(ConfigError::FdTarget { fd: *t, reason });
    }
    Ok(())
}

impl Fds {
    /// Lowers the command's stdio settings (with the defaults of the
    /// calling method) and passed descriptors.
    pub(super) fn plan(
        cmd: &Command,
        default_out: &StdioKind,
        default_in: &StdioKind,
    ) -> Result<Fds, Error> {
        check_targets(cmd)?;
        let mut fds = Fds {
            moves: Vec::with_capacity(3 + cmd.fds.len()),
            ..Fds::default()
        };
        let mut terminal = 0u8;
        let streams = [
            (&cmd.stdin, default_in, 0),
            (&cmd.stdout, default_out, 1),
            (&cmd.stderr, default_out, 2),
        ];
        for (set, default, target) in streams {
            // With a terminal, a stream the command leaves to the calling
            // method becomes the terminal, unless the method's default is
            // /dev/null (`output` keeps stdin at /dev/null).
            let to_terminal =
                cmd.pty.is_some() && set.is_none() && !matches!(default, StdioKind::Null);
            let end = if to_terminal {
                terminal |= 1 << target;
                None
            } else {
                fds.stdio(set.as_ref().map(|s| &s.0), default, target)?
            };
            match target {
                0 => fds.stdin = end,
                1 => fds.stdout = end,
                _ => fds.stderr = end,
            }
        }
        fds.pty = cmd.pty.map(|size| (size, terminal));
        fds.ctty = cmd.controlling_terminal && cmd.pty.is_none();
        for (t, fd) in &cmd.fds {
            fds.moves.push((fd.as_raw_fd(), *t));
        }
        Ok(fds)
    }

    /// Lowers one stdio setting into a move, returning the caller's end of
    /// a pipe.
    fn stdio(
        &mut self,
        kind: Option<&StdioKind>,
        default: &StdioKind,
        target: RawFd,
    ) -> Result<Option<OwnedFd>, Error> {
        match kind.unwrap_or(default) {
            StdioKind::Inherit => Ok(None),
            StdioKind::Null => {
                let fd = nix::fcntl::open(
                    "/dev/null",
                    OFlag::O_RDWR | OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .map_err(io_err(ParentOp::OpenDevNull))?;
                self.moves.push((fd.as_raw_fd(), target));
                self.child_side.push(fd);
                Ok(None)
            }
            StdioKind::Piped => {
                let (r, w) =
                    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io_err(ParentOp::CreatePipe))?;
                let (child, parent) = if target == 0 { (r, w) } else { (w, r) };
                self.moves.push((child.as_raw_fd(), target));
                self.child_side.push(child);
                Ok(Some(parent))
            }
            StdioKind::Fd(fd) => {
                self.moves.push((fd.as_raw_fd(), target));
                Ok(None)
            }
        }
    }

    /// The lowest descriptor number above every target: the sandbox's own
    /// descriptors must lie at or above it, so that no move clobbers them.
    /// The standard streams the terminal replaces count as targets.
    pub(super) fn floor(&self) -> RawFd {
        let highest = self.moves.iter().map(|m| m.1).max().unwrap_or(2);
        if self.pty.is_some() {
            highest.max(2) + 1
        } else {
            highest + 1
        }
    }

    /// Moves `fd` to [`floor`](Self::floor) or above if it is below,
    /// keeping it close-on-exec.
    pub(super) fn above_targets(&self, fd: OwnedFd) -> Result<OwnedFd, Error> {
        let floor = self.floor();
        if fd.as_raw_fd() >= floor {
            return Ok(fd);
        }
        rustix::io::fcntl_dupfd_cloexec(&fd, floor).map_err(|e| Error::Io {
            op: ParentOp::DuplicateFd,
            source: e.into(),
        })
    }

    /// The program process's part, given the other descriptors the sandbox
    /// holds open (the report channel, the lifeline).
    pub(super) fn zone_plan(&self, held: &[RawFd]) -> FdPlan {
        let targets: HashSet<RawFd> = self.moves.iter().map(|m| m.1).collect();
        let via_temp = self
            .moves
            .iter()
            .any(|(s, d)| s != d && targets.contains(s));
        let highest = self
            .moves
            .iter()
            .flat_map(|&(s, d)| [s, d])
            .chain(held.iter().copied())
            .max()
            .unwrap_or(2);
        let mut keep: Vec<RawFd> = targets.into_iter().filter(|t| *t >= 3).collect();
        keep.sort_unstable();
        FdPlan {
            moves: self.moves.clone(),
            via_temp,
            temp_base: highest + 1,
            keep,
            received: Vec::new(),
            pty: self.pty_plan(),
            ctty: self.ctty,
            send_to: std::cell::Cell::new(-1),
        }
    }

    /// Makes the standard streams the program inherits explicit moves of
    /// the caller's own (those it has open): a container's supervisor
    /// holds none of the caller's descriptors.
    pub(super) fn pass_inherited(&mut self) {
        let terminal = self.pty.map_or(0, |p| p.1);
        for t in 0..3 {
            if self.moves.iter().any(|m| m.1 == t) || terminal & (1 << t) != 0 {
                continue;
            }
            if crate::sys::raw::is_open(t) {
                self.moves.push((t, t));
            }
        }
    }

    /// The program process's part for an exec into a container, and the
    /// descriptors to send its supervisor, in order: the moves' sources
    /// become indices into that list, and the supervisor places what it
    /// receives at [`floor`](Self::floor) or above, so no source is a
    /// target.
    pub(super) fn exec_zone_plan(&self) -> (FdPlan, Vec<RawFd>) {
        let mut sources: Vec<RawFd> = Vec::with_capacity(self.moves.len());
        let mut moves = Vec::with_capacity(self.moves.len());
        for &(src, dst) in &self.moves {
            let i = match sources.iter().position(|&s| s == src) {
                Some(i) => i,
                None => {
                    sources.push(src);
                    sources.len() - 1
                }
            };
            moves.push((i as RawFd, dst));
        }
        let mut keep: Vec<RawFd> = self.moves.iter().map(|m| m.1).filter(|t| *t >= 3).collect();
        keep.sort_unstable();
        keep.dedup();
        let received = sources.iter().map(|_| std::cell::Cell::new(-1)).collect();
        let plan = FdPlan {
            moves,
            via_temp: false,
            temp_base: 0,
            keep,
            received,
            pty: self.pty_plan(),
            ctty: self.ctty,
            send_to: std::cell::Cell::new(-1),
        };
        (plan, sources)
    }

    /// The zone's part of the program's terminal.
    fn pty_plan(&self) -> Option<PtyPlan> {
        self.pty.map(|(size, streams)| PtyPlan {
            size: libc::winsize {
                ws_row: size.rows,
                ws_col: size.cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
            streams,
        })
    }

    /// Closes the child-side descriptors: call once the sandbox's processes
    /// have copied the descriptor table.
    pub(super) fn close_child_side(&mut self) {
        self.child_side.clear();
    }
}
