//! Where what stockade says after the program ends goes: the JSON report
//! (`--json`, `--json-fd`, `--json-file`) and the lines on standard error
//! (`--denials`, hints), each starting on a line of its own.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use crate::args::JsonTo;

/// The place the JSON report goes, opened before the program starts so
/// that a bad `--json-fd` or `--json-file` fails before anything runs.
pub enum JsonOut {
    /// Standard error, after the program's output.
    Stderr,
    /// A descriptor of our own: a duplicate of `--json-fd`'s, or the file
    /// `--json-file` names.
    File(File),
}

impl JsonOut {
    /// Opens `to`, or says in the command line's words why it cannot be.
    pub fn open(to: &JsonTo) -> Result<JsonOut, String> {
        match to {
            JsonTo::Stderr => Ok(JsonOut::Stderr),
            JsonTo::Fd(fd) => {
                // SAFETY: F_GETFD only reads the descriptor table entry of
                // `fd`, whatever it is.
                if unsafe { libc::fcntl(*fd, libc::F_GETFD) } == -1 {
                    return Err(format!(
                        "--json-fd {fd}: not an open file descriptor (open it in the shell: \
                         --json-fd 3 3>report.json)"
                    ));
                }
                // SAFETY: `fd` was just seen open, and is only borrowed for
                // the duplicate below (this process opens and closes no
                // descriptor concurrently at this point of `main`).
                let borrowed = unsafe { BorrowedFd::borrow_raw(*fd) };
                borrowed
                    .try_clone_to_owned()
                    .map(|o| JsonOut::File(File::from(o)))
                    .map_err(|e| format!("--json-fd {fd}: failed to duplicate it: {e}"))
            }
            JsonTo::File(path) => std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)
                .map(JsonOut::File)
                .map_err(|e| format!("--json-file {}: failed to create it: {e}", path.display())),
        }
    }

    /// Writes the report `json` and a newline; on standard error it starts
    /// on a line of its own (see [`Tail`]).
    pub fn write(&mut self, tail: &mut Tail, json: &str) {
        match self {
            JsonOut::Stderr => tail.line(json),
            JsonOut::File(f) => {
                let _ = f.write_all(format!("{json}\n").as_bytes());
            }
        }
    }
}

/// Standard error after the program's output: the first line stockade
/// writes there starts on a line of its own, even when the program's last
/// line had no newline. For a regular file the last byte says whether one
/// is needed; for a pipe or a terminal, which cannot be read back, a
/// newline always comes first.
#[derive(Default)]
pub struct Tail {
    started: bool,
}

impl Tail {
    /// Standard error whose last line is stockade's own, whole.
    pub fn after_own_line() -> Tail {
        Tail { started: true }
    }

    /// Writes `text` and a newline to standard error.
    pub fn line(&mut self, text: &str) {
        let mut out = String::with_capacity(text.len() + 2);
        if !self.started {
            self.started = true;
            if !stderr_ends_a_line() {
                out.push('\n');
            }
        }
        out.push_str(text);
        out.push('\n');
        let _ = io::stderr().lock().write_all(out.as_bytes());
    }
}

/// Whether standard error is a regular file that is empty or ends with a
/// newline.
fn stderr_ends_a_line() -> bool {
    let Ok(fd) = io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let f = File::from(fd);
    let Ok(meta) = f.metadata() else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    if meta.len() == 0 {
        return true;
    }
    let mut last = [0u8];
    matches!(f.read_at(&mut last, meta.len() - 1), Ok(1)) && last[0] == b'\n'
}
