//! Reading an import's source: an OCI image layout (a directory or a tar of
//! one) or a `docker save` archive, and the JSON documents in it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::error::{Error, io_err};

/// The most a JSON document of an image (index, manifest, config) may
/// weigh: they are read whole.
const JSON_LIMIT: u64 = 64 << 20;

/// A `sha256:<64 hex>` digest, checked when parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex digits>`.
    pub(crate) fn parse(s: &str) -> Option<Digest> {
        let hex = s.strip_prefix("sha256:")?;
        is_hex64(hex).then(|| Digest(s.to_owned()))
    }

    /// The digest of `hex`, 64 hex digits.
    pub(crate) fn from_hex(hex: &str) -> Option<Digest> {
        is_hex64(hex).then(|| Digest(format!("sha256:{hex}")))
    }

    /// The hex digits.
    pub(crate) fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// `sha256:...`.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "expected sha256:<64 lowercase hex digits>, found {s:?}"
            ))
        })
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The lowercase hex of a hash.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The sha256 digest of `bytes`.
pub(crate) fn digest_of(bytes: &[u8]) -> Digest {
    Digest(format!("sha256:{}", hex(&Sha256::digest(bytes))))
}

/// An OCI content descriptor.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// A descriptor's platform.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Platform {
    pub architecture: String,
    pub os: String,
}

/// An image index (`index.json`, or a nested index blob).
#[derive(Debug, Deserialize)]
pub(crate) struct Index {
    pub manifests: Vec<Descriptor>,
}

/// An image manifest.
#[derive(Debug, Deserialize)]
pub(crate) struct Manifest {
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// The parts of an image config the store reads.
#[derive(Debug, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub config: Option<RunConfig>,
    pub rootfs: RootFs,
}

/// `rootfs` of an image config.
#[derive(Debug, Deserialize)]
pub(crate) struct RootFs {
    pub diff_ids: Vec<Digest>,
}

/// `config` of an image config: the defaults for running it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RunConfig {
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde::de::IgnoredAny>>,
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// One image of `docker save`'s `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
}

/// Parses JSON, naming the bad field's path on failure.
pub(crate) fn parse_json<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    file: &str,
) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        Error::BadJson {
            file: file.to_owned(),
            path,
            source: e.into_inner(),
        }
    })?;
    de.end().map_err(|source| Error::BadJson {
        file: file.to_owned(),
        path: ".".to_owned(),
        source,
    })?;
    Ok(v)
}

/// A member of a tar archive: where its data lies.
#[derive(Debug, Clone, Copy)]
struct Span {
    offset: u64,
    size: u64,
}

/// What the source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// An OCI image layout.
    Layout,
    /// `docker save`'s `manifest.json` and what it names.
    Docker,
}

/// An import's source: a directory, or a tar archive read in place.
pub(crate) struct Source {
    path: PathBuf,
    archive: Option<(File, HashMap<String, Span>)>,
    pub format: Format,
}

/// A member name without `./` or doubled slashes.
fn clean(name: &str) -> String {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Resolves `target` (a link's target, relative to `dir`) to a member
/// name; `None` when it leaves the archive.
fn resolve_link(dir: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|c| !c.is_empty()).collect()
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

impl Source {
    /// Opens `path` and tells what it is, by content.
    pub(crate) fn open(path: &Path) -> Result<Source, Error> {
        let meta = std::fs::metadata(path).map_err(|e| io_err("read", path, e))?;
        let not_an_image = || Error::NotAnImage {
            path: path.to_owned(),
        };
        if meta.is_dir() {
            let format = if path.join("oci-layout").is_file() && path.join("index.json").is_file() {
                Format::Layout
            } else if path.join("manifest.json").is_file() {
                Format::Docker
            } else {
                return Err(not_an_image());
            };
            return Ok(Source {
                path: path.to_owned(),
                archive: None,
                format,
            });
        }
        let file = File::open(path).map_err(|e| io_err("open", path, e))?;
        let members = index_archive(&file, path, meta.len())?.ok_or_else(not_an_image)?;
        let format = if members.contains_key("manifest.json") {
            Format::Docker
        } else if members.contains_key("oci-layout") && members.contains_key("index.json") {
            Format::Layout
        } else {
            return Err(not_an_image());
        };
        Ok(Source {
            path: path.to_owned(),
            archive: Some((file, members)),
            format,
        })
    }

    /// The source's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The size of member `name`, or `None` when the source lacks it.
    pub(crate) fn size(&self, name: &str) -> Result<Option<u64>, Error> {
        match &self.archive {
            Some((_, members)) => Ok(members.get(&clean(name)).map(|s| s.size)),
            None => {
                let p = self.member_path(name)?;
                match std::fs::metadata(&p) {
                    Ok(m) if m.is_file() => Ok(Some(m.len())),
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io_err("read", p, e)),
                }
            }
        }
    }

    /// A path under the layout directory: only plain relative names (no
    /// `..`), so that a `manifest.json` cannot name a file elsewhere.
    fn member_path(&self, name: &str) -> Result<PathBuf, Error> {
        let c = clean(name);
        if name.starts_with('/') || c.split('/').any(|p| p == "..") || c.is_empty() {
            return Err(Error::MissingBlob {
                blob: name.to_owned(),
            });
        }
        Ok(self.path.join(c))
    }

    /// A reader of member `name` (`blob` names it in errors) and its size.
    pub(crate) fn open_member(
        &self,
        name: &str,
        blob: &str,
    ) -> Result<(Box<dyn Read + '_>, u64), Error> {
        let missing = || Error::MissingBlob {
            blob: blob.to_owned(),
        };
        match &self.archive {
            Some((file, members)) => {
                let span = *members.get(&clean(name)).ok_or_else(missing)?;
                Ok((
                    Box::new(Section {
                        file,
                        pos: span.offset,
                        end: span.offset + span.size,
                    }),
                    span.size,
                ))
            }
            None => {
                let p = self.member_path(name)?;
                let f = match File::open(&p) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing()),
                    Err(e) => return Err(io_err("open", p, e)),
                };
                let len = f.metadata().map_err(|e| io_err("read", &p, e))?.len();
                Ok((Box::new(f), len))
            }
        }
    }

    /// Reads a whole JSON document (at most 64 MiB).
    pub(crate) fn read_small(&self, name: &str, blob: &str) -> Result<Vec<u8>, Error> {
        let (r, len) = self.open_member(name, blob)?;
        if len > JSON_LIMIT {
            return Err(Error::SizeMismatch {
                blob: blob.to_owned(),
                expected: JSON_LIMIT,
                actual: len,
            });
        }
        let mut buf = Vec::with_capacity(len as usize);
        r.take(JSON_LIMIT)
            .read_to_end(&mut buf)
            .map_err(|e| io_err("read", self.path.join(name), e))?;
        Ok(buf)
    }

    /// Reads the blob `d` named by a descriptor and checks its size and
    /// digest.
    pub(crate) fn read_blob(&self, d: &Descriptor) -> Result<Vec<u8>, Error> {
        let name = blob_path(&d.digest);
        let bytes = self.read_small(&name, d.digest.as_str())?;
        check_size(d.digest.as_str(), d.size, bytes.len() as u64)?;
        let actual = digest_of(&bytes);
        if actual != d.digest {
            return Err(Error::DigestMismatch {
                blob: d.digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }
}

/// Checks a blob's size against its descriptor: shorter is a truncated
/// blob.
pub(crate) fn check_size(blob: &str, expected: u64, actual: u64) -> Result<(), Error> {
    if actual < expected {
        return Err(Error::Truncated {
            blob: blob.to_owned(),
        });
    }
    if actual != expected {
        return Err(Error::SizeMismatch {
            blob: blob.to_owned(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// Where a layout keeps the blob `d`.
pub(crate) fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// Reads a range of a file by position (no shared seek offset).
struct Section<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A NUL-terminated header field.
fn field(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    &b[..end]
}

/// Lists the members of a tar archive with where their data lies, links
/// resolved to their targets; `None` when `file` is not a tar archive.
/// Only headers are read (extension headers up to 1 MiB), by position.
fn index_archive(
    file: &File,
    path: &Path,
    len: u64,
) -> Result<Option<HashMap<String, Span>>, Error> {
    use super::tarframe::{BLOCK, EXTENSION_LIMIT, parse, pax_size, pax_value};
    let truncated = || Error::TruncatedArchive {
        path: path.to_owned(),
    };
    let mut data = HashMap::new();
    let mut links = Vec::new();
    let mut pos = 0u64;
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut pax: Option<Vec<u8>> = None;
    loop {
        let mut block = [0u8; 512];
        match file.read_exact_at(&mut block, pos) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return if pos == 0 { Ok(None) } else { Err(truncated()) };
            }
            Err(e) => return Err(io_err("read", path, e)),
        }
        let header = match parse(&block) {
            Ok(Some(h)) => h,
            // The end-of-archive block.
            Ok(None) if pos > 0 => break,
            Ok(None) => return Ok(None),
            Err(_) if pos == 0 => return Ok(None),
            Err(e) => return Err(io_err("read archive", path, e)),
        };
        pos += BLOCK;
        if header.sparse_ext {
            // Old-GNU sparse extension blocks: not in image archives, but
            // framed all the same.
            loop {
                let mut ext = [0u8; 512];
                file.read_exact_at(&mut ext, pos).map_err(|_| truncated())?;
                pos += BLOCK;
                if ext[504] == 0 {
                    break;
                }
            }
        }
        let size = if header.is_extension() {
            header.size
        } else {
            pax.as_deref().and_then(pax_size).unwrap_or(header.size)
        };
        let offset = pos;
        if offset.checked_add(size).is_none_or(|e| e > len) {
            return Err(truncated());
        }
        pos = offset + size.div_ceil(BLOCK) * BLOCK;
        let read_ext = || -> Result<Vec<u8>, Error> {
            if size > EXTENSION_LIMIT {
                return Err(io_err(
                    "read archive",
                    path,
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        "tar extension header larger than 1 MiB",
                    ),
                ));
            }
            let mut v = vec![0u8; size as usize];
            file.read_exact_at(&mut v, offset)
                .map_err(|_| truncated())?;
            Ok(v)
        };
        match header.kind {
            b'L' => long_name = Some(field(&read_ext()?).to_vec()),
            b'K' => long_link = Some(field(&read_ext()?).to_vec()),
            b'x' => pax = Some(read_ext()?),
            b'g' => {}
            kind => {
                let pax = pax.take();
                let mut name = field(&block[..100]).to_vec();
                if &block[257..263] == b"ustar\0" {
                    let prefix = field(&block[345..500]);
                    if !prefix.is_empty() {
                        name = [prefix, b"/", &name].concat();
                    }
                }
                let name = pax
                    .as_deref()
                    .and_then(|p| pax_value(p, "path"))
                    .map(<[u8]>::to_vec)
                    .or(long_name.take())
                    .unwrap_or(name);
                let link = pax
                    .as_deref()
                    .and_then(|p| pax_value(p, "linkpath"))
                    .map(<[u8]>::to_vec)
                    .or(long_link.take())
                    .unwrap_or_else(|| field(&block[157..257]).to_vec());
                long_name = None;
                long_link = None;
                let name = clean(&String::from_utf8_lossy(&name));
                let link = String::from_utf8_lossy(&link).into_owned();
                match kind {
                    b'0' | 0 | b'7' => {
                        data.insert(name, Span { offset, size });
                    }
                    b'2' => {
                        let base = name.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
                        links.push((name, base, link));
                    }
                    b'1' => links.push((name, String::new(), link)),
                    _ => {}
                }
            }
        }
    }
    // Links between members (older `docker save` links a layer shared by
    // two images), followed a few hops at most.
    for _ in 0..8 {
        let mut progress = false;
        for (name, base, target) in &links {
            if data.contains_key(name) {
                continue;
            }
            if let Some(span) = resolve_link(base, target).and_then(|t| data.get(&t).copied()) {
                data.insert(name.clone(), span);
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    Ok(Some(data))
}

/// A reader that hashes and counts what passes through it.
pub(crate) struct Hashing<R> {
    pub inner: R,
    hasher: Sha256,
    pub count: u64,
}

impl<R: Read> Hashing<R> {
    pub(crate) fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads the rest of the stream.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(drop)
    }

    /// The digest of everything read, and the inner reader.
    pub(crate) fn finish(self) -> (Digest, R) {
        let d = Digest(format!("sha256:{}", hex(&self.hasher.finalize())));
        (d, self.inner)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_when_parsed() {
        let hex = "a".repeat(64);
        assert!(Digest::parse(&format!("sha256:{hex}")).is_some());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_none());
        assert!(Digest::parse(&format!("sha512:{hex}")).is_none());
        assert!(Digest::parse("sha256:../../etc").is_none());
    }

    #[test]
    fn bad_json_names_the_field() {
        let e = parse_json::<Index>(
            br#"{"manifests":[{"digest":"md5:x","size":1}]}"#,
            "index.json",
        )
        .unwrap_err();
        match e {
            Error::BadJson { path, file, .. } => {
                assert_eq!(path, "manifests[0].digest");
                assert_eq!(file, "index.json");
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn links_in_archives_stay_inside() {
        assert_eq!(
            resolve_link("a", "../b/layer.tar").as_deref(),
            Some("b/layer.tar")
        );
        assert_eq!(resolve_link("", "../x"), None);
    }
}
