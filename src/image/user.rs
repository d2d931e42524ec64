//! Resolving an image's `User` through its own `etc/passwd` and
//! `etc/group`.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::error::{Error, io_err};

/// The most of `etc/passwd` or `etc/group` read.
const LIMIT: u64 = 16 << 20;

/// What a layer says about a file.
enum Found {
    /// The file's content.
    File(String),
    /// The layer hides it from the layers below (a whiteout, an opaque
    /// directory) or has something else there.
    Hidden,
    /// The layer says nothing about it.
    Absent,
}

fn open_in_layer(layer: &OwnedFd, path: &str, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    // RESOLVE_IN_ROOT: a symbolic link in the layer resolves with the
    // layer's directory as its root, never outside it.
    rustix::fs::openat2(
        layer,
        path,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

/// Looks for `etc/<file>` in one layer.
fn look(layer: &Path, file: &str) -> Result<Found, Error> {
    let path = format!("etc/{file}");
    let dir = match rustix::fs::open(
        layer,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return Err(io_err("open", layer, e.into())),
    };
    let full = layer.join(&path);
    // The entry itself, not followed: a whiteout is a character device.
    match open_in_layer(&dir, &path, OFlags::PATH | OFlags::NOFOLLOW) {
        Ok(fd) => {
            let st = rustix::fs::fstat(&fd).map_err(|e| io_err("read", &full, e.into()))?;
            match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile | FileType::Symlink => {}
                _ => return Ok(Found::Hidden),
            }
        }
        Err(Errno::NOENT) => {
            // An opaque etc/ hides the lower layers' files.
            if let Ok(etc) = open_in_layer(&dir, "etc", OFlags::RDONLY | OFlags::DIRECTORY) {
                let mut v = [0u8; 1];
                if rustix::fs::fgetxattr(etc.as_fd(), "user.overlay.opaque", &mut v[..])
                    .is_ok_and(|n| n == 1 && v[0] == b'y')
                {
                    return Ok(Found::Hidden);
                }
            }
            // A whited-out etc/ hides them too.
            if let Ok(fd) = open_in_layer(&dir, "etc", OFlags::PATH | OFlags::NOFOLLOW) {
                if rustix::fs::fstat(&fd).is_ok_and(|st| {
                    FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
                }) {
                    return Ok(Found::Hidden);
                }
            }
            return Ok(Found::Absent);
        }
        Err(Errno::NOTDIR) => return Ok(Found::Hidden),
        Err(e) => return Err(io_err("open", full, e.into())),
    }
    let fd = match open_in_layer(&dir, &path, OFlags::RDONLY) {
        Ok(fd) => fd,
        // A link to nothing in this layer.
        Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(Found::Absent),
        Err(e) => return Err(io_err("open", full, e.into())),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| io_err("read", &full, e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Ok(Found::Hidden);
    }
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(LIMIT)
        .read_to_string(&mut text)
        .map_err(|e| io_err("read", &full, e))?;
    Ok(Found::File(text))
}

/// `etc/<file>` as the stacked layers show it.
fn read(layers: &[PathBuf], file: &str) -> Result<Option<String>, Error> {
    for layer in layers.iter().rev() {
        match look(layer, file)? {
            Found::File(t) => return Ok(Some(t)),
            Found::Hidden => return Ok(None),
            Found::Absent => {}
        }
    }
    Ok(None)
}

/// The fields of the line of `db` whose field `key` is `value`.
fn find<'a>(db: &'a str, key: usize, value: &str) -> Option<Vec<&'a str>> {
    db.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f.get(key) == Some(&value))
}

/// Resolves `user[:group]` through the layers' `etc/passwd` and
/// `etc/group`.
pub(crate) fn resolve(layers: &[PathBuf], spec: &str) -> Result<(u32, u32), Error> {
    let bad = || Error::BadUser {
        user: spec.to_owned(),
    };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) || spec.contains(['\n', '\0']) {
        return Err(bad());
    }
    let passwd = read(layers, "passwd")?.unwrap_or_default();
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => {
            let gid = find(&passwd, 2, user)
                .and_then(|f| f[3].parse().ok())
                .unwrap_or(0);
            (uid, gid)
        }
        Err(_) => {
            let f = find(&passwd, 0, user).ok_or_else(|| Error::NoSuchUser {
                user: user.to_owned(),
            })?;
            let uid = f[2].parse().map_err(|_| Error::NoSuchUser {
                user: user.to_owned(),
            })?;
            (uid, f[3].parse().unwrap_or(0))
        }
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = read(layers, "group")?.unwrap_or_default();
                let no_such = || Error::NoSuchGroup {
                    group: g.to_owned(),
                };
                let f = groups
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() > 2 && f[0] == g)
                    .ok_or_else(no_such)?;
                f[2].parse().map_err(|_| no_such())?
            }
        },
    };
    Ok((uid, gid))
}
