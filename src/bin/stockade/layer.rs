//! `stockade diff|commit|reset NAME`: the changes a container with a
//! persistent writable root (`start NAME --keep-changes DIR`) made, and the
//! record of its layer they read.
//!
//! The record outlives the container, so that its changes can be reviewed,
//! committed or reset after `stop`:
//!
//! ```text
//! .layers/NAME     0600: "LAYERDIR\0LOWER\0" (LOWER empty for the
//!                  default view), written by the monitor once the
//!                  container is up, replaced by each `start NAME`
//! ```
//!
//! A `start NAME` without `--keep-changes` removes it, and so does any
//! subcommand that finds its layer directory gone (`rm -r LAYERDIR` is how
//! a layer is forgotten).

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use stockade::layer::Layer;

use crate::container::{self, Found};
use crate::json;

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("stockade: {msg}");
    ExitCode::from(125)
}

fn records(base: &Path) -> PathBuf {
    base.join(".layers")
}

/// Records (or, with `None`, forgets) the layer of container `name`.
pub fn record(base: &Path, name: &str, layer: Option<&Layer>) -> io::Result<()> {
    let dir = records(base);
    let path = dir.join(name);
    let Some(layer) = layer else {
        return match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    };
    match fs::create_dir(&dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let mut text = layer.dir().as_os_str().as_bytes().to_vec();
    text.push(0);
    if !layer.is_default_view() {
        text.extend_from_slice(layer.lower().as_os_str().as_bytes());
    }
    text.push(0);
    let tmp = dir.join(format!(".{name}"));
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| io::Write::write_all(&mut f, &text))?;
    fs::rename(tmp, path)
}

/// The recorded layer of container `name`, forgetting a record whose
/// layer directory is gone.
fn recorded(base: &Path, name: &str) -> Result<Layer, String> {
    let path = records(base).join(name);
    let none = || {
        format!(
            "container {name} has no recorded layer (start it with --keep-changes DIR to keep its \
             changes)"
        )
    };
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(none()),
        Err(e) => return Err(format!("failed to read {}: {e}", path.display())),
    };
    let mut parts = text.split(|&b| b == 0);
    let dir = PathBuf::from(OsStr::from_bytes(parts.next().unwrap_or_default()));
    let lower = parts.next().unwrap_or_default();
    if dir.as_os_str().is_empty() {
        return Err(format!("{} is not a layer record", path.display()));
    }
    if fs::symlink_metadata(&dir).is_err() {
        let _ = fs::remove_file(&path);
        return Err(none());
    }
    Ok(if lower.is_empty() {
        Layer::of_default_view(dir)
    } else {
        Layer::new(dir, PathBuf::from(OsStr::from_bytes(lower)))
    })
}

/// The layer of `name`, or a message; refused while it runs when
/// `stopped` is required.
fn layer_of(name: &str, stopped: bool) -> Result<Layer, String> {
    let base = container::base()?;
    if stopped && matches!(container::clean_if_stale(&base, name)?, Found::Running(_)) {
        return Err(format!("container {name} is running; stop it first"));
    }
    recorded(&base, name)
}

/// `stockade diff NAME [--json]`: one line per change, `A`, `M`, `D` or
/// `R` and the path from the root, or a JSON array of `{"kind", "path"}`.
pub fn diff(name: &str, json_out: bool) -> ExitCode {
    let layer = match layer_of(name, false) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let changes = match layer.changes() {
        Ok(c) => c,
        Err(e) => return fail(format!("container {name}: {}", crate::one_line(&e))),
    };
    if json_out {
        let items: Vec<String> = changes
            .iter()
            .map(|c| {
                let mut o = json::Object::new();
                o.str("kind", &c.kind.to_string());
                o.str("path", &format!("/{}", c.path.to_string_lossy()));
                o.finish()
            })
            .collect();
        println!("[{}]", items.join(","));
    } else {
        for c in changes {
            println!("{} /{}", c.kind.letter(), c.path.to_string_lossy());
        }
    }
    ExitCode::SUCCESS
}

/// `stockade commit NAME` and `stockade reset NAME`: apply the changes to
/// the root directory, or throw them away. Refused while NAME runs.
pub fn commit_or_reset(name: &str, commit: bool) -> ExitCode {
    let layer = match layer_of(name, true) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let r = if commit {
        layer.commit()
    } else {
        layer.discard()
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("container {name}: {}", crate::one_line(&e))),
    }
}
