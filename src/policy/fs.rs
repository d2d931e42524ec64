//! The `[filesystem]` table: the root, the default mounts and the ordered
//! `filesystem.ops`, each entry's keys checked against its `op`.

use std::path::PathBuf;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::error::{Error, Inexpressible};
use super::values::{AbsPath, Mode, Size, abs, changed, utf8};
use crate::fs::{self, OpName, TmpfsOptions};
use crate::sandbox::Sandbox;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct FsFile {
    #[serde(with = "root_text", skip_serializing_if = "Option::is_none")]
    root: Option<fs::Root>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proc: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dev: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tmp: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sys: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_home: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mask_host_secrets: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ops: Option<Vec<OpEntry>>,
}

/// `filesystem.root` as text: `"host"`, `"empty"` or an absolute host
/// directory.
mod root_text {
    use serde::Deserialize;
    use serde::de::{self, Deserializer};
    use serde::ser::{self, Serializer};

    use crate::fs;

    pub(super) fn serialize<S: Serializer>(
        root: &Option<fs::Root>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match root {
            None => s.serialize_none(),
            Some(fs::Root::HostSystem) => s.serialize_str("host"),
            Some(fs::Root::Empty) => s.serialize_str("empty"),
            Some(fs::Root::Dir(d)) => s.serialize_str(
                d.to_str()
                    .ok_or_else(|| ser::Error::custom("the root directory is not UTF-8"))?,
            ),
            Some(fs::Root::Layers(_)) => Err(ser::Error::custom(
                "a root of stacked layers has no form in policy files",
            )),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<fs::Root>, D::Error> {
        Ok(Option::<Text>::deserialize(d)?.map(|t| t.0))
    }

    /// The root, checked inside the value's own deserializer so that an
    /// error points at the value.
    struct Text(fs::Root);

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = String::deserialize(d)?;
            match s.as_str() {
                "host" => Ok(Text(fs::Root::HostSystem)),
                "empty" => Ok(Text(fs::Root::Empty)),
                _ if s.starts_with('/') && !s.contains('\0') => Ok(Text(fs::Root::Dir(s.into()))),
                _ => Err(de::Error::invalid_value(
                    de::Unexpected::Str(&s),
                    &"\"host\", \"empty\" or an absolute host directory",
                )),
            }
        }
    }
}

/// One entry of `filesystem.ops`, its keys checked against its `op`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOp {
    op: OpName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    src: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lower: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    dest: AbsPath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    optional: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    devices: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    no_exec: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contents: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct OpEntry(RawOp);

impl<'de> Deserialize<'de> for OpEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawOp::deserialize(d)?;
        raw.check().map_err(de::Error::custom)?;
        Ok(OpEntry(raw))
    }
}

impl RawOp {
    fn new(op: OpName, dest: String) -> RawOp {
        RawOp {
            op,
            dest: AbsPath(dest),
            src: None,
            optional: None,
            devices: None,
            no_exec: None,
            size: None,
            mode: None,
            target: None,
            contents: None,
            lower: None,
        }
    }

    /// Checks that the entry has the keys its operation needs and no
    /// others.
    fn check(&self) -> Result<(), String> {
        let op = self.op;
        let (required, allowed): (&[&str], &[&str]) = match op {
            OpName::BindRo | OpName::BindRw | OpName::BindDev => {
                (&["src"], &["src", "optional", "devices", "no_exec"])
            }
            OpName::Tmpfs => (&[], &["size", "mode"]),
            OpName::Dir => (&[], &["mode"]),
            OpName::Symlink => (&["target"], &["target"]),
            OpName::File => (&["contents"], &["contents", "mode"]),
            OpName::Overlay => (&["lower"], &["lower"]),
            OpName::Mask => (&[], &[]),
            // Not an operation of the file: serde does not read it.
            OpName::Root => return Err(format!("\"{op}\" is not an operation")),
        };
        let present = [
            ("src", self.src.is_some()),
            ("optional", self.optional.is_some()),
            ("devices", self.devices.is_some()),
            ("no_exec", self.no_exec.is_some()),
            ("size", self.size.is_some()),
            ("mode", self.mode.is_some()),
            ("target", self.target.is_some()),
            ("contents", self.contents.is_some()),
            ("lower", self.lower.is_some()),
        ];
        for (key, is) in present {
            if is && !allowed.contains(&key) {
                return Err(format!("operation \"{op}\" does not take `{key}`"));
            }
            if !is && required.contains(&key) {
                return Err(format!("operation \"{op}\" needs `{key}`"));
            }
        }
        if op == OpName::BindDev && self.devices == Some(false) {
            return Err("operation \"bind_dev\" always allows devices".to_owned());
        }
        Ok(())
    }

    /// The operation of a checked entry.
    fn into_fs_op(self) -> fs::Op {
        let dest = PathBuf::from(self.dest.0);
        let text = |s: Option<String>| PathBuf::from(s.unwrap_or_default());
        match self.op {
            OpName::BindRo | OpName::BindRw | OpName::BindDev => fs::Op::Bind {
                src: text(self.src),
                dest,
                read_only: self.op == OpName::BindRo,
                optional: self.optional.unwrap_or(false),
                devices: self.op == OpName::BindDev || self.devices.unwrap_or(false),
                no_exec: self.no_exec.unwrap_or(false),
            },
            OpName::Tmpfs => fs::Op::Tmpfs {
                dest,
                options: TmpfsOptions {
                    size: self.size.map(|s| s.0),
                    mode: self.mode.map(|m| m.0),
                },
            },
            OpName::Dir => fs::Op::Dir {
                dest,
                mode: self.mode.map(|m| m.0),
            },
            OpName::Symlink => fs::Op::Symlink {
                target: text(self.target),
                dest,
            },
            OpName::File => fs::Op::File {
                dest,
                contents: self.contents.unwrap_or_default().into_bytes(),
                mode: self.mode.map(|m| m.0),
            },
            OpName::Overlay => fs::Op::Overlay {
                lower: text(self.lower),
                dest,
                upper: fs::Upper::Temporary,
            },
            OpName::Mask => fs::Op::Mask { dest },
            OpName::Root => unreachable!("RawOp::check refuses the root"),
        }
    }
}

fn op_to_raw(i: usize, op: &fs::Op) -> Result<OpEntry, Error> {
    let key = |k: &str| format!("filesystem.ops[{i}].{k}");
    let dest = abs(&key("dest"), op.dest())?.0;
    let raw = match op {
        fs::Op::Bind {
            src,
            read_only,
            optional,
            devices,
            no_exec,
            ..
        } => RawOp {
            src: Some(utf8(&key("src"), src.as_os_str())?),
            optional: optional.then_some(true),
            devices: (*devices && *read_only).then_some(true),
            no_exec: no_exec.then_some(true),
            ..RawOp::new(op.name(), dest)
        },
        fs::Op::Tmpfs { options, .. } => RawOp {
            size: options.size.map(Size),
            mode: options.mode.map(Mode),
            ..RawOp::new(OpName::Tmpfs, dest)
        },
        fs::Op::Dir { mode, .. } => RawOp {
            mode: mode.map(Mode),
            ..RawOp::new(OpName::Dir, dest)
        },
        fs::Op::Symlink { target, .. } => RawOp {
            target: Some(utf8(&key("target"), target.as_os_str())?),
            ..RawOp::new(OpName::Symlink, dest)
        },
        fs::Op::File { contents, mode, .. } => RawOp {
            contents: Some(String::from_utf8(contents.clone()).map_err(|_| {
                Error::NotExpressible {
                    key: key("contents"),
                    reason: Inexpressible::NotUtf8,
                }
            })?),
            mode: mode.map(Mode),
            ..RawOp::new(OpName::File, dest)
        },
        fs::Op::Overlay {
            upper: fs::Upper::Persistent(_),
            ..
        } => {
            return Err(Error::NotExpressible {
                key: key("upper"),
                reason: Inexpressible::NotInPolicyFiles,
            });
        }
        fs::Op::Overlay { lower, .. } => RawOp {
            lower: Some(utf8(&key("lower"), lower.as_os_str())?),
            ..RawOp::new(OpName::Overlay, dest)
        },
        fs::Op::Mask { .. } => RawOp::new(OpName::Mask, dest),
    };
    Ok(OpEntry(raw))
}

impl FsFile {
    /// The table for `fs`, leaving out what equals `def`.
    pub(super) fn from_config(fs: &fs::Config, def: &fs::Config) -> Result<FsFile, Error> {
        if fs.writable_root.is_some() {
            return Err(Error::NotExpressible {
                key: "filesystem.writable_root".to_owned(),
                reason: Inexpressible::NotInPolicyFiles,
            });
        }
        if fs.root_bind != fs::RootBind::ReadOnly {
            return Err(Error::NotExpressible {
                key: "filesystem.root".to_owned(),
                reason: Inexpressible::NotInPolicyFiles,
            });
        }
        let root = match &fs.root {
            fs::Root::HostSystem => None,
            fs::Root::Empty => Some(fs::Root::Empty),
            fs::Root::Dir(d) => {
                abs("filesystem.root", d)?;
                Some(fs::Root::Dir(d.clone()))
            }
            fs::Root::Layers(_) => {
                return Err(Error::NotExpressible {
                    key: "filesystem.root".to_owned(),
                    reason: Inexpressible::NotInPolicyFiles,
                });
            }
        };
        let ops = fs
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| op_to_raw(i, op))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FsFile {
            root,
            proc: changed(fs.proc, def.proc),
            dev: changed(fs.dev, def.dev),
            tmp: changed(fs.tmp, def.tmp),
            sys: changed(fs.sys, def.sys),
            private_home: changed(fs.home, def.home),
            mask_host_secrets: changed(fs.mask_secrets, def.mask_secrets),
            ops: (!ops.is_empty()).then_some(ops),
        })
    }

    /// Applies the table to `sb`.
    pub(super) fn apply(self, sb: &mut Sandbox) {
        match self.root {
            None | Some(fs::Root::HostSystem) => {}
            Some(fs::Root::Empty) => {
                sb.empty_root();
            }
            Some(fs::Root::Dir(d)) => {
                sb.root_dir(d);
            }
            // Never read from a file: `Text` has no such form.
            Some(fs::Root::Layers(layers)) => {
                sb.root_layers(layers);
            }
        }
        if let Some(v) = self.proc {
            sb.proc(v);
        }
        if let Some(v) = self.dev {
            sb.dev(v);
        }
        if let Some(v) = self.tmp {
            sb.tmp(v);
        }
        if let Some(v) = self.sys {
            sb.sys(v);
        }
        if let Some(v) = self.private_home {
            sb.private_home(v);
        }
        if let Some(v) = self.mask_host_secrets {
            sb.mask_host_secrets(v);
        }
        for op in self.ops.unwrap_or_default() {
            sb.fs_op(op.0.into_fs_op());
        }
    }
}
