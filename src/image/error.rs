//! The image store's errors and the reasons they carry.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why the image store failed.
///
/// A blob is named by its digest (`sha256:...`) when the source names it so,
/// otherwise by its path in the source (a `docker save` archive names its
/// layers by path).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed.
    #[error("failed to {action} {path:?}")]
    Io {
        /// What was being done (for example "create directory").
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The source is neither an OCI image layout (a directory, or a tar
    /// archive of one) nor a `docker save` archive.
    #[error(
        "failed to import {path:?}: it is neither an OCI image layout (oci-layout and index.json) \
         nor an image archive (manifest.json, or an OCI layout in a tar)"
    )]
    NotAnImage {
        /// The source.
        path: PathBuf,
    },
    /// The source archive ends before its end-of-archive marker, or one of
    /// its members is cut short.
    #[error("failed to read archive {path:?}: it is truncated")]
    TruncatedArchive {
        /// The archive.
        path: PathBuf,
    },
    /// A blob is shorter than its manifest says, or its compressed stream
    /// ends early.
    #[error("failed to read blob {blob}: it is truncated")]
    Truncated {
        /// The blob.
        blob: String,
    },
    /// A JSON document of the image (index, manifest, config, the store's
    /// own records) does not have the expected shape.
    #[error("failed to parse {file}: bad value at `{path}`")]
    BadJson {
        /// The document: a blob digest, a path in the source, or a record.
        file: String,
        /// The JSON path of the bad field (for example
        /// `manifests[0].digest`); `.` for the document itself.
        path: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The manifest (or index, or `manifest.json`) names a blob the source
    /// does not have.
    #[error("failed to find blob {blob} in the source")]
    MissingBlob {
        /// The blob.
        blob: String,
    },
    /// A blob's content does not have the digest it is named by.
    #[error("failed to verify blob {blob}: its content has digest {actual}")]
    DigestMismatch {
        /// The blob, named by the digest it was expected to have.
        blob: String,
        /// The digest of what was read.
        actual: String,
    },
    /// A layer's uncompressed content does not have the digest the image
    /// config lists for it (`rootfs.diff_ids`).
    #[error(
        "failed to verify layer {blob}: its uncompressed content has digest {actual}, the image \
         config says {expected}"
    )]
    DiffIdMismatch {
        /// The layer blob.
        blob: String,
        /// The diff id from the image config.
        expected: String,
        /// The digest of what was read.
        actual: String,
    },
    /// A blob's size is not what its descriptor says.
    #[error("failed to verify blob {blob}: it has {actual} bytes, its descriptor says {expected}")]
    SizeMismatch {
        /// The blob.
        blob: String,
        /// The size in the descriptor.
        expected: u64,
        /// The size read.
        actual: u64,
    },
    /// The image has a different number of layers than its config has diff
    /// ids.
    #[error(
        "failed to import manifest {manifest}: it lists {layers} layers, its config {diff_ids} \
         diff ids"
    )]
    LayerCount {
        /// The manifest.
        manifest: String,
        /// The number of layers in the manifest.
        layers: usize,
        /// The number of `rootfs.diff_ids` in the config.
        diff_ids: usize,
    },
    /// A layer (or manifest) has a media type the store does not read, such
    /// as zstd-compressed layers.
    #[error("failed to import blob {blob}: unsupported media type {media_type:?}")]
    UnsupportedMediaType {
        /// The blob.
        blob: String,
        /// Its media type.
        media_type: String,
    },
    /// An image index has no manifest for this machine.
    #[error("failed to pick a manifest from index {index}: none is for linux/{arch}")]
    NoPlatform {
        /// The index.
        index: String,
        /// The architecture looked for, as OCI names it (`amd64`, `arm64`).
        arch: &'static str,
    },
    /// A layer entry would be written outside the layer directory, or
    /// through a symbolic link: refused, and the import fails.
    #[error("failed to unpack {entry:?} of layer {blob}: {reason}")]
    Unsafe {
        /// The layer blob.
        blob: String,
        /// The entry's path as the archive names it.
        entry: PathBuf,
        /// Why it was refused.
        reason: UnsafeEntry,
    },
    /// Unpacking an entry of a layer failed.
    #[error("failed to unpack {entry:?} of layer {blob}")]
    Unpack {
        /// The layer blob.
        blob: String,
        /// The entry's path as the archive names it (empty when reading
        /// the archive itself failed).
        entry: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A reference or name is not of the form `name[:tag]` or a digest.
    #[error("failed to parse image reference {reference:?}: expected NAME[:TAG] or a digest")]
    BadReference {
        /// The reference.
        reference: String,
    },
    /// A name was given for the import, and the source holds several
    /// images.
    #[error("failed to name the import {name:?}: the source holds {count} images")]
    NameForSeveral {
        /// The name given.
        name: String,
        /// The number of images in the source.
        count: usize,
    },
    /// No image in the store has this name or digest.
    #[error("failed to find image {reference:?} in the store")]
    NoSuchImage {
        /// The reference.
        reference: String,
    },
    /// A digest prefix matches several images.
    #[error("failed to resolve image reference {reference:?}: it matches {candidates:?}")]
    AmbiguousReference {
        /// The reference.
        reference: String,
        /// The manifest digests it matches.
        candidates: Vec<String>,
    },
    /// A user specification is not `uid`, `uid:gid`, `name` or
    /// `name:group`.
    #[error("failed to parse user {user:?}: expected USER[:GROUP], by name or number")]
    BadUser {
        /// The specification.
        user: String,
    },
    /// The image's `etc/passwd` has no such user.
    #[error("failed to find user {user:?} in the image's etc/passwd")]
    NoSuchUser {
        /// The user name.
        user: String,
    },
    /// The image's `etc/group` has no such group.
    #[error("failed to find group {group:?} in the image's etc/group")]
    NoSuchGroup {
        /// The group name.
        group: String,
    },
}

/// Why a layer entry was refused ([`Error::Unsafe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsafeEntry {
    /// The path is absolute.
    Absolute,
    /// The path has a `..` component.
    DotDot,
    /// A parent of the path is a symbolic link (planted by an earlier entry
    /// of the same layer), or is not a directory.
    ThroughSymlink,
    /// A hard link's target is absolute or has a `..` component.
    LinkOutside,
    /// A hard link's target passes through a symbolic link.
    LinkThroughSymlink,
    /// A hard link's target is not an entry of the same layer.
    LinkTargetMissing,
    /// The path names the layer's root with an entry that is not a
    /// directory, or a whiteout of nothing.
    BadName,
    /// The path is longer than 3968 bytes (the store must be able to name
    /// every file of a layer beneath its own directories within
    /// `PATH_MAX`).
    TooLong,
}

impl fmt::Display for UnsafeEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnsafeEntry::Absolute => "the path is absolute",
            UnsafeEntry::DotDot => "the path has a `..` component",
            UnsafeEntry::ThroughSymlink => {
                "a parent directory is a symbolic link or not a directory"
            }
            UnsafeEntry::LinkOutside => "the hard link's target is absolute or has `..`",
            UnsafeEntry::LinkThroughSymlink => {
                "the hard link's target passes through a symbolic link"
            }
            UnsafeEntry::LinkTargetMissing => "the hard link's target is not in the layer",
            UnsafeEntry::BadName => "the path names no file",
            UnsafeEntry::TooLong => "the path is longer than 3968 bytes",
        })
    }
}

/// Why a layer entry was not unpacked ([`Skipped`](super::Skipped)); the
/// import goes on without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// A character or block device node: never created in a layer.
    Device,
    /// A named pipe.
    Fifo,
    /// An aufs metadata entry (`.wh..wh.` other than the opaque marker).
    AufsMeta,
    /// An entry of a type the store does not know (the tar type byte).
    UnknownType(u8),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Device => f.write_str("device node"),
            SkipReason::Fifo => f.write_str("named pipe"),
            SkipReason::AufsMeta => f.write_str("aufs metadata"),
            SkipReason::UnknownType(t) => write!(f, "unknown entry type {:?}", *t as char),
        }
    }
}

/// Shorthand for an [`Error::Io`].
pub(crate) fn io_err(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
    Error::Io {
        action,
        path: path.into(),
        source,
    }
}
