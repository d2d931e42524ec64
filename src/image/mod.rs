//! An OCI image store: images imported from OCI image layouts and
//! `docker save` / `podman save` archives, their layers unpacked once and
//! shared, every blob verified by digest (feature `image`).
//!
//! ```no_run
//! use stockade::image::Store;
//!
//! # fn main() -> Result<(), stockade::image::Error> {
//! let store = Store::open(Store::default_dir().expect("a home directory"))?;
//! let imported = store.import("busybox.tar".as_ref(), None)?;
//! println!("{} layers unpacked, {} reused", imported.layers_unpacked, imported.layers_reused);
//! let image = store.get("busybox:latest")?;
//! // The layer directories, bottom first: the lower directories of an
//! // overlay root.
//! let lower = image.layer_dirs();
//! let (uid, gid) = image.resolve_user(image.config().user.as_deref().unwrap_or("0"))?;
//! # let _ = (lower, uid, gid);
//! # Ok(())
//! # }
//! ```
//!
//! # What an import reads
//!
//! The source is recognised by its content, not its name:
//!
//! - an **OCI image layout** directory (`oci-layout`, `index.json`,
//!   `blobs/sha256/...`); `index.json`'s manifests are the images, an
//!   entry that is itself an index (a multi-platform image) gives the
//!   manifest for this machine's architecture;
//! - the same layout **in a tar archive** (`podman save --format
//!   oci-archive`, `docker save` of Docker 25 and later);
//! - a **`docker save` archive** (its `manifest.json` names each image's
//!   config, tags and layers), as `docker save` and `podman save` write it.
//!
//! Names come from `RepoTags`, or from the annotations
//! `io.containerd.image.name` and `org.opencontainers.image.ref.name` (a
//! bare tag there takes the source's file name as the image's name); the
//! `name` argument of [`Store::import`] overrides them.
//!
//! Every blob is checked while it streams: its size and digest against its
//! descriptor, and a layer's uncompressed content against the config's
//! `rootfs.diff_ids`. Layers are tar or gzip-compressed tar; zstd and other
//! media types are refused ([`Error::UnsupportedMediaType`]). Archives are
//! read in place by offset and layers are never held in memory: an import's
//! memory does not grow with the size of its layers.
//!
//! # The store
//!
//! ```text
//! STORE/layers/<diff id hex>/   one directory per layer, shared by images
//! STORE/blobs/sha256/<hex>      manifests and configs
//! STORE/images/<hash>.json      one record per name:tag (or untagged image)
//! STORE/tmp/                    layers being unpacked
//! STORE/lock                    flock'ed by every change
//! ```
//!
//! A layer is unpacked into `STORE/tmp/` and renamed into `STORE/layers/`
//! only when every layer of the import has been unpacked and verified: a
//! failed or interrupted import leaves no layer behind (what an interrupted
//! one leaves in `STORE/tmp/` goes with the next import or [`Store::gc`]).
//! Removing an image removes its record only; [`Store::gc`] then removes
//! the layers and blobs no image refers to. A sandbox still running from a
//! layer that `gc` removes keeps what it has open, but should not be
//! running: remove images when nothing uses them.
//!
//! # Layers as unpacked
//!
//! A layer directory is made to be an overlayfs lower directory: a whiteout
//! (`.wh.NAME`) becomes a character device 0/0 named `NAME` (Linux 5.8+
//! lets an unprivileged user create one), an opaque directory
//! (`.wh..wh..opq`) gets the extended attribute `user.overlay.opaque=y` (and
//! `trusted.overlay.opaque=y` when root), which the sandbox's overlays, mounted
//! with `userxattr` in a user namespace, read. Device nodes and named pipes are
//! never created: they are listed in [`Imported::skipped`].
//!
//! Run as root, files keep the owners the layer gives them. Run by another
//! user, they belong to that user: the sandbox maps the caller to the
//! image's user. Modes (setuid and setgid bits included: the sandbox mounts
//! layers `nosuid`) and modification times are kept; extended attributes
//! of entries (file capabilities, for example) are not.
//!
//! # Unpacking is hostile-input code
//!
//! An entry whose path is absolute, has a `..` component, or passes through
//! a symbolic link (one an earlier entry of the same layer planted) is
//! refused with [`Error::Unsafe`] naming the layer and the entry, and the
//! import fails. Every parent directory is opened beneath the layer's
//! directory with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)` (Linux 5.6+; older kernels walk one component
//! at a time with `O_NOFOLLOW`), and each entry is created relative to it
//! without following a final link. Symbolic links may point anywhere: they
//! are never followed here, and resolve inside the sandbox. A hard link's
//! target must be an entry already in the same layer, reached the same way.

mod error;
mod source;
mod tarframe;
mod unpack;
mod user;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::{Error, SkipReason, UnsafeEntry};

use error::io_err;
use source::{Descriptor, Digest, Format, Hashing, Source, check_size, parse_json};

/// The image config's `config` object: how the image means to be run.
///
/// Absent fields are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Config {
    /// `Entrypoint`: the program and its first arguments.
    pub entrypoint: Vec<String>,
    /// `Cmd`: the default arguments (after the entrypoint), or the program.
    pub cmd: Vec<String>,
    /// `Env`: `KEY=value` strings.
    pub env: Vec<String>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
    /// `User`: `user[:group]`, by name or number (see
    /// [`Image::resolve_user`]).
    pub user: Option<String>,
    /// `ExposedPorts`: `port/protocol` strings.
    pub exposed_ports: Vec<String>,
    /// `StopSignal`, such as `SIGTERM`.
    pub stop_signal: Option<String>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
}

impl From<source::RunConfig> for Config {
    fn from(c: source::RunConfig) -> Self {
        Config {
            entrypoint: c.entrypoint.unwrap_or_default(),
            cmd: c.cmd.unwrap_or_default(),
            env: c.env.unwrap_or_default(),
            working_dir: c.working_dir.filter(|w| !w.is_empty()),
            user: c.user.filter(|u| !u.is_empty()),
            exposed_ports: c
                .exposed_ports
                .map(|p| p.into_keys().collect())
                .unwrap_or_default(),
            stop_signal: c.stop_signal.filter(|s| !s.is_empty()),
            labels: c.labels.unwrap_or_default(),
        }
    }
}

/// The store's record of one image name (or one untagged image).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    name: Option<String>,
    tag: Option<String>,
    digest: Digest,
    config_digest: Digest,
    layers: Vec<Digest>,
    config: Config,
}

/// An image in the store. Serializes (for `--json` listings) as its name,
/// tag, reference, digests, layers, layer directories and config.
#[derive(Debug, Clone)]
pub struct Image {
    record: Record,
    layers_root: PathBuf,
}

impl Image {
    /// The image's name without the tag (`busybox`, `localhost:5000/app`);
    /// `None` for an untagged image.
    pub fn name(&self) -> Option<&str> {
        self.record.name.as_deref()
    }

    /// The tag (`latest`); `None` for an untagged image.
    pub fn tag(&self) -> Option<&str> {
        self.record.tag.as_deref()
    }

    /// `name:tag`, or the digest for an untagged image.
    pub fn reference(&self) -> String {
        match (&self.record.name, &self.record.tag) {
            (Some(n), Some(t)) => format!("{n}:{t}"),
            _ => self.record.digest.to_string(),
        }
    }

    /// The manifest's digest (`sha256:...`). For a `docker save` archive,
    /// which has no manifest, the digest of the OCI manifest the store
    /// writes for it.
    pub fn digest(&self) -> &str {
        self.record.digest.as_str()
    }

    /// The config blob's digest (what Docker calls the image id).
    pub fn config_digest(&self) -> &str {
        self.record.config_digest.as_str()
    }

    /// The layers' diff ids (digests of their uncompressed content), bottom
    /// first.
    pub fn layers(&self) -> Vec<&str> {
        self.record.layers.iter().map(Digest::as_str).collect()
    }

    /// The layer directories, bottom first, as absolute paths: an overlay's
    /// lower directories in the order `fs::Root::Layers` takes them.
    pub fn layer_dirs(&self) -> Vec<PathBuf> {
        self.record
            .layers
            .iter()
            .map(|d| self.layers_root.join(d.hex()))
            .collect()
    }

    /// How the image means to be run.
    pub fn config(&self) -> &Config {
        &self.record.config
    }

    /// The uid and gid of `user` in the image: `uid`, `uid:gid`, `name` or
    /// `name:group` (names, and a bare uid's primary group, from the
    /// image's `etc/passwd` and `etc/group`, read from the top-most layer
    /// that has them, honouring whiteouts and opaque directories, and never
    /// following a symbolic link out of its layer). A bare uid that
    /// `etc/passwd` does not list has gid 0.
    pub fn resolve_user(&self, user: &str) -> Result<(u32, u32), Error> {
        user::resolve(&self.layer_dirs(), user)
    }
}

impl Serialize for Image {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Image", 8)?;
        st.serialize_field("name", &self.record.name)?;
        st.serialize_field("tag", &self.record.tag)?;
        st.serialize_field("reference", &self.reference())?;
        st.serialize_field("digest", &self.record.digest)?;
        st.serialize_field("config_digest", &self.record.config_digest)?;
        st.serialize_field("layers", &self.record.layers)?;
        st.serialize_field("layer_dirs", &self.layer_dirs())?;
        st.serialize_field("config", &self.record.config)?;
        st.end()
    }
}

/// An entry of a layer that was not unpacked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Skipped {
    /// The layer blob.
    pub blob: String,
    /// The entry's path in the layer.
    pub entry: PathBuf,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Imported {
    /// The images imported, one per name (or untagged image).
    pub images: Vec<Image>,
    /// Entries that were not unpacked (device nodes, named pipes).
    pub skipped: Vec<Skipped>,
    /// Layers the store already had (or that an earlier image of the same
    /// import unpacked).
    pub layers_reused: usize,
    /// Layers unpacked.
    pub layers_unpacked: usize,
}

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Gc {
    /// The layers removed, by diff id.
    pub layers: Vec<String>,
    /// The blobs removed, by digest.
    pub blobs: Vec<String>,
    /// Leftovers of interrupted imports removed.
    pub temporaries: usize,
    /// The disk space freed, in bytes (allocated blocks).
    pub bytes_freed: u64,
}

/// An image store in a directory (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// How a layer is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
}

/// One layer of an image to import.
#[derive(Debug, Clone)]
struct LayerPlan {
    /// Where the source has it.
    member: String,
    /// Its name in errors: the digest, or the member path.
    label: String,
    /// Its digest as the manifest says, when there is one.
    digest: Option<Digest>,
    /// Its size as the manifest says.
    size: Option<u64>,
    compression: Compression,
    media_type: String,
    diff_id: Digest,
}

/// One image to import.
struct Plan {
    names: Vec<(String, String)>,
    /// The manifest, or `None` for a `docker save` image (written once the
    /// layers' digests are known).
    manifest: Option<(Digest, Vec<u8>)>,
    config_digest: Digest,
    config_bytes: Vec<u8>,
    config: Config,
    layers: Vec<LayerPlan>,
}

const MT_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const MT_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn compression_of(media_type: &str, blob: &str) -> Result<Compression, Error> {
    match media_type {
        MT_TAR
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Compression::None),
        MT_TAR_GZIP
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Ok(Compression::Gzip),
        other => Err(Error::UnsupportedMediaType {
            blob: blob.to_owned(),
            media_type: other.to_owned(),
        }),
    }
}

/// [`Store::default_dir`] with the environment `env`.
fn default_dir_from(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let var = |k| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = var("STOCKADE_IMAGES") {
        return Some(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME").filter(|d| d.is_absolute()) {
        return Some(d.join("stockade/images"));
    }
    var("HOME").map(|h| h.join(".cache/stockade/images"))
}

/// The OCI name of this machine's architecture.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Splits `name[:tag]`, checking both; the tag is `None` when absent.
fn parse_name(s: &str) -> Option<(String, Option<String>)> {
    if s.is_empty() || s.contains('@') {
        return None;
    }
    let (name, tag) = match s.rfind(':') {
        Some(i) if !s[i..].contains('/') => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    };
    let name_ok = !name.is_empty()
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.contains("//")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:".contains(&b));
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && !t.starts_with(['.', '-'])
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    });
    (name_ok && tag_ok).then(|| (name.to_owned(), tag.map(str::to_owned)))
}

/// The image name a source path suggests (`busybox` for `busybox.tar`).
fn name_from_path(p: &Path) -> Option<String> {
    let stem = p.file_stem()?.to_str()?.to_ascii_lowercase();
    parse_name(&stem)
        .filter(|(_, t)| t.is_none())
        .map(|(n, _)| n)
}

/// A name and tag from an annotation or `RepoTags` entry.
fn name_of(reference: &str, source: &Path) -> Option<(String, String)> {
    if !reference.contains([':', '/']) {
        // A bare tag (what `umoci` and `skopeo` write in ref.name).
        parse_name(&format!("x:{reference}"))?;
        return Some((name_from_path(source)?, reference.to_owned()));
    }
    let (n, t) = parse_name(reference)?;
    Some((n, t.unwrap_or_else(|| "latest".to_owned())))
}

impl Store {
    /// Opens the store in `dir`, creating it (mode 0700) and its
    /// subdirectories when missing.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, Error> {
        let dir = dir.as_ref().to_owned();
        let dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()
                .map_err(|e| io_err("resolve", &dir, e))?
                .join(dir)
        };
        for sub in ["", "layers", "blobs/sha256", "images", "tmp"] {
            let p = dir.join(sub);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&p)
                .map_err(|e| io_err("create directory", &p, e))?;
        }
        Ok(Store { dir })
    }

    /// The default store directory: `$STOCKADE_IMAGES`, else
    /// `$XDG_CACHE_HOME/stockade/images`, else
    /// `$HOME/.cache/stockade/images`; `None` when none is set.
    pub fn default_dir() -> Option<PathBuf> {
        default_dir_from(|k| std::env::var_os(k))
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> Result<File, Error> {
        let p = self.dir.join("lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&p)
            .map_err(|e| io_err("open", &p, e))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io_err("lock", &p, e.into()))?;
        Ok(f)
    }

    /// Removes what interrupted imports left in `tmp/` (the lock is held);
    /// how many and their size.
    fn clean_tmp(&self) -> Result<(usize, u64), Error> {
        let tmp = self.dir.join("tmp");
        let dir = open_dir(&tmp)?;
        let mut seen = HashSet::new();
        let (mut n, mut bytes) = (0, 0);
        for name in list_dir(&tmp)? {
            bytes += unpack::usage_at(dir.as_fd(), name.as_ref(), &mut seen).unwrap_or(0);
            unpack::remove_at(dir.as_fd(), name.as_ref())
                .map_err(|e| io_err("remove", tmp.join(&name), e))?;
            n += 1;
        }
        Ok((n, bytes))
    }

    fn image(&self, record: Record) -> Image {
        Image {
            record,
            layers_root: self.dir.join("layers"),
        }
    }

    /// Imports every image of `source` (an OCI image layout directory, an
    /// OCI archive or a `docker save` archive; see the [module
    /// docs](self)). `name` (`name` or `name:tag`) names the image instead
    /// of the source's names (without a tag, `name:latest`, the name a
    /// later `get(name)` finds); a source with several images cannot take
    /// one.
    pub fn import(&self, source: &Path, name: Option<&str>) -> Result<Imported, Error> {
        let rename = match name {
            Some(n) => Some(parse_name(n).ok_or_else(|| Error::BadReference {
                reference: n.to_owned(),
            })?),
            None => None,
        };
        let src = Source::open(source)?;
        let mut plans = match src.format {
            Format::Layout => layout_plans(&src)?,
            Format::Docker => docker_plans(&src)?,
        };
        if let Some((n, t)) = rename {
            if plans.len() != 1 {
                return Err(Error::NameForSeveral {
                    name: name.unwrap_or_default().to_owned(),
                    count: plans.len(),
                });
            }
            let tag = t.unwrap_or_else(|| "latest".to_owned());
            plans[0].names = vec![(n, tag)];
        }

        let _lock = self.lock()?;
        self.clean_tmp()?;
        let mut pending = Pending {
            dirs: Vec::new(),
            tmp: self.dir.join("tmp"),
        };
        let mut done = Imported {
            images: Vec::new(),
            skipped: Vec::new(),
            layers_reused: 0,
            layers_unpacked: 0,
        };
        let layers = self.dir.join("layers");
        for plan in &mut plans {
            for layer in &mut plan.layers {
                let hex = layer.diff_id.hex().to_owned();
                let present =
                    layers.join(&hex).exists() || pending.dirs.iter().any(|(_, h)| *h == hex);
                if present {
                    done.layers_reused += 1;
                    if layer.digest.is_none() && layer.compression == Compression::Gzip {
                        // A `docker save` layer stored compressed: its digest
                        // for the manifest the store writes.
                        let (r, _) = src.open_member(&layer.member, &layer.label)?;
                        let mut h = Hashing::new(r);
                        h.drain()
                            .map_err(|e| io_err("read", src.path().join(&layer.member), e))?;
                        layer.digest = Some(h.finish().0);
                    }
                    continue;
                }
                let tmp_name = format!("layer-{hex}");
                let tmp = self.dir.join("tmp").join(&tmp_name);
                pending.dirs.push((tmp_name, hex));
                let (skipped, digest) = unpack_layer(&src, layer, &tmp)?;
                layer.digest.get_or_insert(digest);
                done.skipped.extend(skipped);
                done.layers_unpacked += 1;
            }
        }

        // Everything verified: the layers move into place, then the blobs
        // and the records that refer to them.
        for (tmp_name, hex) in std::mem::take(&mut pending.dirs) {
            let from = self.dir.join("tmp").join(&tmp_name);
            let to = layers.join(&hex);
            if let Err(e) = std::fs::rename(&from, &to) {
                pending.dirs.push((tmp_name, hex));
                return Err(io_err("rename into place", from, e));
            }
        }
        for plan in plans {
            let (digest, manifest) = match plan.manifest {
                Some(m) => m,
                None => docker_manifest(&plan),
            };
            self.write_blob(&digest, &manifest)?;
            self.write_blob(&plan.config_digest, &plan.config_bytes)?;
            let layers: Vec<Digest> = plan.layers.iter().map(|l| l.diff_id.clone()).collect();
            let mut names: Vec<(Option<String>, Option<String>)> = plan
                .names
                .into_iter()
                .map(|(n, t)| (Some(n), Some(t)))
                .collect();
            if names.is_empty() {
                names.push((None, None));
            }
            for (name, tag) in names {
                let record = Record {
                    name,
                    tag,
                    digest: digest.clone(),
                    config_digest: plan.config_digest.clone(),
                    layers: layers.clone(),
                    config: plan.config.clone(),
                };
                self.write_record(&record)?;
                done.images.push(self.image(record));
            }
        }
        Ok(done)
    }

    fn write_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), Error> {
        let p = self.dir.join("blobs/sha256").join(digest.hex());
        if p.exists() {
            return Ok(());
        }
        write_atomic(&p, bytes)
    }

    fn record_path(&self, name: Option<&str>, tag: Option<&str>, digest: &Digest) -> PathBuf {
        let key = match (name, tag) {
            (Some(n), Some(t)) => format!("{n}:{t}"),
            _ => format!("@{digest}"),
        };
        self.dir
            .join("images")
            .join(format!("{}.json", source::digest_of(key.as_bytes()).hex()))
    }

    fn write_record(&self, r: &Record) -> Result<(), Error> {
        let p = self.record_path(r.name.as_deref(), r.tag.as_deref(), &r.digest);
        let bytes = serde_json::to_vec_pretty(r).map_err(|e| io_err("write", &p, e.into()))?;
        write_atomic(&p, &bytes)?;
        if r.name.is_some() {
            // A name now refers to the manifest: its untagged record goes.
            let untagged = self.record_path(None, None, &r.digest);
            match std::fs::remove_file(&untagged) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", untagged, e)),
            }
        }
        Ok(())
    }

    fn records(&self) -> Result<Vec<(PathBuf, Record)>, Error> {
        let dir = self.dir.join("images");
        let mut out = Vec::new();
        for name in list_dir(&dir)? {
            if !name.ends_with(".json") {
                continue;
            }
            let p = dir.join(&name);
            let bytes = match std::fs::read(&p) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("read", p, e)),
            };
            let r: Record = parse_json(&bytes, &p.to_string_lossy())?;
            out.push((p, r));
        }
        out.sort_by(|a, b| {
            (&a.1.name, &a.1.tag, &a.1.digest).cmp(&(&b.1.name, &b.1.tag, &b.1.digest))
        });
        Ok(out)
    }

    /// Every image in the store, by name and tag (untagged images last).
    pub fn list(&self) -> Result<Vec<Image>, Error> {
        let mut v: Vec<Image> = self
            .records()?
            .into_iter()
            .map(|(_, r)| self.image(r))
            .collect();
        v.sort_by_key(|i| i.record.name.is_none());
        Ok(v)
    }

    /// The records `reference` names: `name:tag`, `name` (tag `latest`),
    /// or a digest (`sha256:...`, or its hex) or a prefix of at least 4
    /// hex digits of a manifest or config digest that only one image has.
    fn resolve(&self, reference: &str) -> Result<Vec<(PathBuf, Record)>, Error> {
        let records = self.records()?;
        if let Some((n, t)) = parse_name(reference) {
            let t = t.unwrap_or_else(|| "latest".to_owned());
            let hits: Vec<_> = records
                .iter()
                .filter(|(_, r)| r.name.as_deref() == Some(&n) && r.tag.as_deref() == Some(&t))
                .cloned()
                .collect();
            if !hits.is_empty() {
                return Ok(hits);
            }
        }
        let hex = reference.rsplit_once('@').map_or(reference, |(_, d)| d);
        let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
        let is_hex = hex.len() >= 4
            && hex.len() <= 64
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !is_hex {
            if parse_name(reference).is_none() {
                return Err(Error::BadReference {
                    reference: reference.to_owned(),
                });
            }
            return Err(Error::NoSuchImage {
                reference: reference.to_owned(),
            });
        }
        let hits: Vec<_> = records
            .into_iter()
            .filter(|(_, r)| {
                r.digest.hex().starts_with(hex) || r.config_digest.hex().starts_with(hex)
            })
            .collect();
        let manifests: BTreeSet<&str> = hits.iter().map(|(_, r)| r.digest.as_str()).collect();
        match manifests.len() {
            0 => Err(Error::NoSuchImage {
                reference: reference.to_owned(),
            }),
            1 => Ok(hits),
            _ => Err(Error::AmbiguousReference {
                reference: reference.to_owned(),
                candidates: manifests.into_iter().map(str::to_owned).collect(),
            }),
        }
    }

    /// The image `reference` names: `name:tag`, `name` (`name:latest`), or
    /// a digest, its hex, or a prefix of at least 4 hex digits of a
    /// manifest or config digest that only one image has. A name is looked
    /// up before a digest.
    pub fn get(&self, reference: &str) -> Result<Image, Error> {
        let mut hits = self.resolve(reference)?;
        Ok(self.image(hits.swap_remove(0).1))
    }

    /// Removes the image `reference` names (as [`get`](Self::get) finds
    /// it): by name, that name; by digest, every name of that image. Its
    /// layers and blobs stay until [`gc`](Self::gc).
    pub fn remove(&self, reference: &str) -> Result<Image, Error> {
        let _lock = self.lock()?;
        let hits = self.resolve(reference)?;
        for (p, _) in &hits {
            std::fs::remove_file(p).map_err(|e| io_err("remove", p, e))?;
        }
        let first = hits.into_iter().next().map(|(_, r)| r);
        Ok(self.image(first.ok_or_else(|| Error::NoSuchImage {
            reference: reference.to_owned(),
        })?))
    }

    /// Removes the layers and blobs no image refers to, and what
    /// interrupted imports left behind.
    pub fn gc(&self) -> Result<Gc, Error> {
        let _lock = self.lock()?;
        let (temporaries, mut bytes_freed) = self.clean_tmp()?;
        let mut layers = HashSet::new();
        let mut blobs = HashSet::new();
        for (_, r) in self.records()? {
            layers.extend(r.layers.iter().map(|d| d.hex().to_owned()));
            blobs.insert(r.digest.hex().to_owned());
            blobs.insert(r.config_digest.hex().to_owned());
        }
        let mut gc = Gc {
            temporaries,
            ..Gc::default()
        };
        let mut seen = HashSet::new();
        for (sub, keep, out) in [
            ("layers", &layers, &mut gc.layers),
            ("blobs/sha256", &blobs, &mut gc.blobs),
        ] {
            let d = self.dir.join(sub);
            let fd = open_dir(&d)?;
            for name in list_dir(&d)? {
                if keep.contains(&name) {
                    continue;
                }
                bytes_freed += unpack::usage_at(fd.as_fd(), name.as_ref(), &mut seen).unwrap_or(0);
                unpack::remove_at(fd.as_fd(), name.as_ref())
                    .map_err(|e| io_err("remove", d.join(&name), e))?;
                out.push(format!("sha256:{name}"));
            }
        }
        gc.bytes_freed = bytes_freed;
        Ok(gc)
    }
}

/// The temporary layer directories of an import, removed unless they were
/// moved into place.
struct Pending {
    /// (name in tmp/, diff id hex)
    dirs: Vec<(String, String)>,
    tmp: PathBuf,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.dirs.is_empty() {
            return;
        }
        if let Ok(fd) = open_dir(&self.tmp) {
            for (name, _) in &self.dirs {
                let _ = unpack::remove_at(fd.as_fd(), name.as_ref());
            }
        }
    }
}

fn open_dir(p: &Path) -> Result<std::os::fd::OwnedFd, Error> {
    rustix::fs::open(
        p,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| io_err("open", p, e.into()))
}

fn list_dir(p: &Path) -> Result<Vec<String>, Error> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(p).map_err(|e| io_err("read directory", p, e))? {
        let e = e.map_err(|e| io_err("read directory", p, e))?;
        if let Ok(n) = e.file_name().into_string() {
            v.push(n);
        }
    }
    Ok(v)
}

/// Writes `bytes` to `p` by way of a temporary file and a rename.
fn write_atomic(p: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = p.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> io::Result<()> {
        let mut f = File::options()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, p)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err("write", p, e)
    })
}

/// A decompressing reader.
enum Decompress<R: io::BufRead> {
    Plain(R),
    Gzip(flate2::bufread::MultiGzDecoder<R>),
}

impl<R: io::BufRead> Read for Decompress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompress::Plain(r) => r.read(buf),
            Decompress::Gzip(r) => r.read(buf),
        }
    }
}

impl<R: io::BufRead> Decompress<R> {
    fn into_inner(self) -> R {
        match self {
            Decompress::Plain(r) => r,
            Decompress::Gzip(r) => r.into_inner(),
        }
    }
}

/// Unpacks `layer` into the new directory `dir`, streaming: the compressed
/// bytes are hashed as they are read, decompressed, hashed again and
/// unpacked entry by entry. Returns the skipped entries and the digest of
/// the compressed blob.
fn unpack_layer(
    src: &Source,
    layer: &LayerPlan,
    dir: &Path,
) -> Result<(Vec<Skipped>, Digest), Error> {
    let (reader, len) = src.open_member(&layer.member, &layer.label)?;
    if let Some(size) = layer.size {
        check_size(&layer.label, size, len)?;
    }
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(dir)
        .map_err(|e| io_err("create directory", dir, e))?;
    // The layer's root is 0755 unless the layer says otherwise (an
    // overlay's root takes it).
    let root = open_dir(dir)?;
    rustix::fs::fchmod(&root, rustix::fs::Mode::from_raw_mode(0o755))
        .map_err(|e| io_err("change mode of", dir, e.into()))?;

    let compressed = Hashing::new(reader);
    let buffered = BufReader::with_capacity(128 << 10, compressed);
    let decompress = match layer.compression {
        Compression::None => Decompress::Plain(buffered),
        Compression::Gzip => Decompress::Gzip(flate2::bufread::MultiGzDecoder::new(buffered)),
    };
    let mut archive = tar::Archive::new(tarframe::Guard::new(Hashing::new(decompress)));
    let mut unpacker = unpack::Unpacker::new(root.as_fd(), &layer.label);
    let result = unpacker.unpack(&mut archive);
    let skipped = std::mem::take(&mut unpacker.skipped);
    drop(unpacker);
    if let Err(e @ Error::Unsafe { .. }) = result {
        return Err(e);
    }

    let mut plain = archive.into_inner().into_inner();
    let plain_end = plain.drain();
    let (diff_id, decompress) = plain.finish();
    let mut compressed = decompress.into_inner().into_inner();
    compressed
        .drain()
        .map_err(|e| io_err("read", src.path().join(&layer.member), e))?;
    let (digest, _) = compressed.finish();
    if let Some(expected) = &layer.digest {
        if *expected != digest {
            return Err(Error::DigestMismatch {
                blob: layer.label.clone(),
                actual: digest.to_string(),
            });
        }
    }
    let eof = |e: &io::Error| e.kind() == io::ErrorKind::UnexpectedEof;
    match result {
        Err(Error::Unpack { ref source, .. }) if eof(source) => {
            return Err(Error::Truncated {
                blob: layer.label.clone(),
            });
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    if let Err(e) = plain_end {
        if eof(&e) {
            return Err(Error::Truncated {
                blob: layer.label.clone(),
            });
        }
        return Err(Error::Unpack {
            blob: layer.label.clone(),
            entry: PathBuf::new(),
            source: e,
        });
    }
    if diff_id != layer.diff_id {
        return Err(Error::DiffIdMismatch {
            blob: layer.label.clone(),
            expected: layer.diff_id.to_string(),
            actual: diff_id.to_string(),
        });
    }
    Ok((skipped, digest))
}

/// The OCI manifest the store writes for a `docker save` image.
fn docker_manifest(plan: &Plan) -> (Digest, Vec<u8>) {
    let layers: Vec<serde_json::Value> = plan
        .layers
        .iter()
        .map(|l| {
            serde_json::json!({
                "mediaType": l.media_type,
                "digest": l.digest.as_ref().unwrap_or(&l.diff_id).as_str(),
                "size": l.size.unwrap_or(0),
            })
        })
        .collect();
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": plan.config_digest.as_str(),
            "size": plan.config_bytes.len(),
        },
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&m).unwrap_or_default();
    (source::digest_of(&bytes), bytes)
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// The images of an OCI layout.
fn layout_plans(src: &Source) -> Result<Vec<Plan>, Error> {
    let index: source::Index =
        parse_json(&src.read_small("index.json", "index.json")?, "index.json")?;
    let mut plans: Vec<Plan> = Vec::new();
    for d in index.manifests {
        let annotations = d.annotations.clone().unwrap_or_default();
        if annotations
            .get("vnd.docker.reference.type")
            .map(String::as_str)
            == Some("attestation-manifest")
        {
            continue;
        }
        let names: Vec<(String, String)> = annotations
            .get("io.containerd.image.name")
            .or_else(|| annotations.get("org.opencontainers.image.ref.name"))
            .and_then(|r| name_of(r, src.path()))
            .into_iter()
            .collect();
        let manifest_desc = pick_manifest(src, d)?;
        if let Some(p) = plans.iter_mut().find(|p| {
            p.manifest
                .as_ref()
                .is_some_and(|(m, _)| *m == manifest_desc.digest)
        }) {
            p.names.extend(names);
            continue;
        }
        let bytes = src.read_blob(&manifest_desc)?;
        let label = manifest_desc.digest.to_string();
        let manifest: source::Manifest = parse_json(&bytes, &label)?;
        if let Some(mt) = &manifest.media_type {
            if !MANIFEST_TYPES.contains(&mt.as_str()) {
                return Err(Error::UnsupportedMediaType {
                    blob: label,
                    media_type: mt.clone(),
                });
            }
        }
        let config_bytes = src.read_blob(&manifest.config)?;
        let config: source::ImageConfig =
            parse_json(&config_bytes, manifest.config.digest.as_str())?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(Error::LayerCount {
                manifest: label,
                layers: manifest.layers.len(),
                diff_ids: config.rootfs.diff_ids.len(),
            });
        }
        let mut layers = Vec::new();
        for (l, diff_id) in manifest.layers.iter().zip(config.rootfs.diff_ids) {
            let label = l.digest.to_string();
            let compression = compression_of(&l.media_type, &label)?;
            let member = source::blob_path(&l.digest);
            if src.size(&member)?.is_none() {
                return Err(Error::MissingBlob { blob: label });
            }
            layers.push(LayerPlan {
                member,
                label,
                digest: Some(l.digest.clone()),
                size: Some(l.size),
                compression,
                media_type: l.media_type.clone(),
                diff_id,
            });
        }
        plans.push(Plan {
            names,
            manifest: Some((manifest_desc.digest.clone(), bytes)),
            config_digest: manifest.config.digest.clone(),
            config_bytes,
            config: config.config.unwrap_or_default().into(),
            layers,
        });
    }
    Ok(plans)
}

/// The manifest a descriptor of `index.json` stands for: itself, or the
/// one for this machine from the index it names.
fn pick_manifest(src: &Source, d: Descriptor) -> Result<Descriptor, Error> {
    let mut d = d;
    // An index may name an index; a few levels at most.
    for _ in 0..4 {
        if !INDEX_TYPES.contains(&d.media_type.as_str()) {
            if !d.media_type.is_empty() && !MANIFEST_TYPES.contains(&d.media_type.as_str()) {
                return Err(Error::UnsupportedMediaType {
                    blob: d.digest.to_string(),
                    media_type: d.media_type.clone(),
                });
            }
            return Ok(d);
        }
        let bytes = src.read_blob(&d)?;
        let label = d.digest.to_string();
        let index: source::Index = parse_json(&bytes, &label)?;
        let arch = host_arch();
        let candidates: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|m| {
                m.annotations
                    .as_ref()
                    .and_then(|a| a.get("vnd.docker.reference.type"))
                    .is_none()
            })
            .collect();
        let on = |a: &str| {
            candidates
                .iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == a)
                })
                .copied()
        };
        let chosen = on(arch)
            .or_else(|| on("amd64"))
            .or_else(|| (candidates.len() == 1).then(|| candidates[0]));
        d = chosen
            .cloned()
            .ok_or(Error::NoPlatform { index: label, arch })?;
    }
    Err(Error::UnsupportedMediaType {
        blob: d.digest.to_string(),
        media_type: d.media_type,
    })
}

/// The hex digest a `docker save` member path implies (`blobs/sha256/<hex>`,
/// `<hex>.json`), when it does.
fn digest_in_path(path: &str) -> Option<Digest> {
    let base = path.rsplit('/').next()?;
    let base = base.strip_suffix(".json").unwrap_or(base);
    let in_blobs = path.trim_start_matches("./").starts_with("blobs/sha256/");
    if in_blobs || path.ends_with(".json") {
        Digest::from_hex(base)
    } else {
        None
    }
}

/// The images of a `docker save` archive.
fn docker_plans(src: &Source) -> Result<Vec<Plan>, Error> {
    let entries: Vec<source::DockerEntry> = parse_json(
        &src.read_small("manifest.json", "manifest.json")?,
        "manifest.json",
    )?;
    let mut plans = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let config_bytes = src.read_small(&e.config, &e.config)?;
        let config_digest = source::digest_of(&config_bytes);
        if let Some(expected) = digest_in_path(&e.config) {
            if expected != config_digest {
                return Err(Error::DigestMismatch {
                    blob: e.config.clone(),
                    actual: config_digest.to_string(),
                });
            }
        }
        let config: source::ImageConfig = parse_json(&config_bytes, &e.config)?;
        if config.rootfs.diff_ids.len() != e.layers.len() {
            return Err(Error::LayerCount {
                manifest: format!("manifest.json[{i}]"),
                layers: e.layers.len(),
                diff_ids: config.rootfs.diff_ids.len(),
            });
        }
        let mut layers = Vec::new();
        for (member, diff_id) in e.layers.iter().zip(config.rootfs.diff_ids) {
            let (mut r, size) = src.open_member(member, member)?;
            let mut magic = [0u8; 4];
            let mut got = 0;
            while got < 4 {
                match r.read(&mut magic[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) => return Err(io_err("read", src.path().join(member), e)),
                }
            }
            let (compression, media_type) = match magic {
                [0x1f, 0x8b, ..] => (Compression::Gzip, MT_TAR_GZIP),
                [0x28, 0xb5, 0x2f, 0xfd] => {
                    return Err(Error::UnsupportedMediaType {
                        blob: member.clone(),
                        media_type: "application/vnd.oci.image.layer.v1.tar+zstd".to_owned(),
                    });
                }
                _ => (Compression::None, MT_TAR),
            };
            let digest = digest_in_path(member)
                .or_else(|| (compression == Compression::None).then(|| diff_id.clone()));
            layers.push(LayerPlan {
                member: member.clone(),
                label: member.clone(),
                digest,
                size: Some(size),
                compression,
                media_type: media_type.to_owned(),
                diff_id,
            });
        }
        let names = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .filter_map(|t| name_of(t, src.path()))
            .collect();
        plans.push(Plan {
            names,
            manifest: None,
            config_digest,
            config_bytes,
            config: config.config.unwrap_or_default().into(),
            layers,
        });
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags() {
        assert_eq!(
            parse_name("busybox:1.36"),
            Some(("busybox".into(), Some("1.36".into())))
        );
        assert_eq!(
            parse_name("localhost:5000/app"),
            Some(("localhost:5000/app".into(), None))
        );
        assert_eq!(
            parse_name("localhost:5000/app:v1"),
            Some(("localhost:5000/app".into(), Some("v1".into())))
        );
        assert_eq!(parse_name("a b"), None);
        assert_eq!(parse_name("x:"), None);
        assert_eq!(parse_name("x@sha256:00"), None);
        assert_eq!(
            name_of("latest", Path::new("/tmp/busybox.tar")),
            Some(("busybox".into(), "latest".into()))
        );
    }

    #[test]
    fn default_dir_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            default_dir_from(move |k| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            })
        };
        let all = &[
            ("STOCKADE_IMAGES", "/s"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(env(all), Some(PathBuf::from("/s")));
        assert_eq!(
            env(&[
                ("STOCKADE_IMAGES", ""),
                ("XDG_CACHE_HOME", "/x"),
                ("HOME", "/h")
            ]),
            Some(PathBuf::from("/x/stockade/images"))
        );
        assert_eq!(
            env(&[("XDG_CACHE_HOME", "relative"), ("HOME", "/h")]),
            Some(PathBuf::from("/h/.cache/stockade/images"))
        );
        assert_eq!(env(&[]), None);
    }

    #[test]
    fn media_types() {
        assert_eq!(compression_of(MT_TAR, "b").unwrap(), Compression::None);
        assert_eq!(
            compression_of("application/vnd.docker.image.rootfs.diff.tar.gzip", "b").unwrap(),
            Compression::Gzip
        );
        assert!(matches!(
            compression_of("application/vnd.oci.image.layer.v1.tar+zstd", "b"),
            Err(Error::UnsupportedMediaType { .. })
        ));
    }
}
