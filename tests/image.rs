//! The image store: imports of OCI layouts and `docker save` archives built
//! here, layer sharing, digest checks, hostile layers, whiteouts, and the
//! store's list/get/remove/gc. Each test that an unprivileged user can run
//! runs as root and as an unprivileged uid.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{as_each_identity, is_root};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use stockade::image::{Error, SkipReason, Store, UnsafeEntry};

// ---------------------------------------------------------------------------
// Building images

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One entry of a layer, written with its raw name (so that hostile names
/// can be written as they are).
enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str),
    Fifo(&'a str),
}

fn header(path: &str, kind: tar::EntryType, size: u64, link: &str, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    {
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..path.len()].copy_from_slice(path.as_bytes());
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(1234);
    h.set_gid(2345);
    h.set_mtime(1_000_000_000);
    h.set_cksum();
    h
}

/// A layer's tar stream.
fn layer(entries: &[E]) -> Vec<u8> {
    use tar::EntryType as T;
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let (h, data): (_, &[u8]) = match e {
            E::Dir(p, m) => (header(p, T::Directory, 0, "", *m), b""),
            E::File(p, d, m) => (header(p, T::Regular, d.len() as u64, "", *m), d),
            E::Symlink(p, t) => (header(p, T::Symlink, 0, t, 0o777), b""),
            E::Hardlink(p, t) => (header(p, T::Link, 0, t, 0o644), b""),
            E::Char(p) => (header(p, T::Char, 0, "", 0o666), b""),
            E::Fifo(p) => (header(p, T::Fifo, 0, "", 0o666), b""),
        };
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(bytes).unwrap();
    g.finish().unwrap()
}

/// A layer as stored in an image: its blob, media type and diff id.
#[derive(Clone)]
struct Blob {
    bytes: Vec<u8>,
    media_type: String,
    diff_id: String,
}

fn tar_layer(entries: &[E]) -> Blob {
    let bytes = layer(entries);
    Blob {
        diff_id: format!("sha256:{}", sha(&bytes)),
        bytes,
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
    }
}

fn gzip_layer(entries: &[E]) -> Blob {
    let plain = layer(entries);
    Blob {
        diff_id: format!("sha256:{}", sha(&plain)),
        bytes: gzip(&plain),
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
    }
}

fn config_json(layers: &[Blob], config: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
        },
    }))
    .unwrap()
}

fn write_blob(dir: &Path, bytes: &[u8]) -> String {
    let hex = sha(bytes);
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
    format!("sha256:{hex}")
}

/// Writes the manifest of an image (layers and config) into the layout
/// `dir`; its descriptor.
fn write_manifest(dir: &Path, layers: &[Blob], config: serde_json::Value) -> serde_json::Value {
    let config = config_json(layers, config);
    let config_digest = write_blob(dir, &config);
    let descs: Vec<_> = layers
        .iter()
        .map(|l| {
            json!({
                "mediaType": l.media_type,
                "digest": write_blob(dir, &l.bytes),
                "size": l.bytes.len(),
            })
        })
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": descs,
    }))
    .unwrap();
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": write_blob(dir, &manifest),
        "size": manifest.len(),
    })
}

/// An OCI image layout in `dir` with one image per `(ref name, layers,
/// config)`.
fn oci_layout(dir: &Path, images: &[(&str, Vec<Blob>, serde_json::Value)]) {
    fs::create_dir_all(dir).unwrap();
    let mut manifests = Vec::new();
    for (name, layers, config) in images {
        let mut d = write_manifest(dir, layers, config.clone());
        d["annotations"] = json!({ "org.opencontainers.image.ref.name": name });
        manifests.push(d);
    }
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({ "schemaVersion": 2, "manifests": manifests })).unwrap(),
    )
    .unwrap();
}

/// A `docker save` archive at `path` with one image per `(repo tags,
/// layers, config)`, written as Docker before version 25 does
/// (`<id>/layer.tar`, `<config hex>.json`).
fn docker_archive(path: &Path, images: &[(&[&str], Vec<Blob>, serde_json::Value)]) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    let add = |b: &mut tar::Builder<fs::File>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    let mut manifest = Vec::new();
    let mut written = std::collections::HashSet::new();
    for (tags, layers, config) in images {
        let config = config_json(layers, config.clone());
        let config_name = format!("{}.json", sha(&config));
        add(&mut b, &config_name, &config);
        let mut names = Vec::new();
        for l in layers {
            let name = format!("{}/layer.tar", &l.diff_id["sha256:".len()..]);
            if written.insert(name.clone()) {
                add(&mut b, &name, &l.bytes);
            }
            names.push(name);
        }
        manifest.push(json!({ "Config": config_name, "RepoTags": tags, "Layers": names }));
    }
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    b.finish().unwrap();
}

/// A tar of the directory `dir` (an OCI archive, from a layout).
fn tar_of(dir: &Path, path: &Path) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
}

/// A scratch directory with a store in it, and an empty sentinel directory
/// outside the store that no import may write to.
struct Scratch {
    dir: tempfile::TempDir,
    store: Store,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        fs::create_dir(dir.path().join("sentinel")).unwrap();
        Scratch { dir, store }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn sentinel(&self) -> PathBuf {
        self.path("sentinel")
    }

    fn ls(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.path("store").join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    /// Nothing was left behind by a failed import, and nothing was
    /// written outside the store.
    fn assert_clean(&self) {
        assert_eq!(self.ls("layers"), Vec::<String>::new(), "no layer left");
        assert_eq!(self.ls("tmp"), Vec::<String>::new(), "no temporary left");
        assert_eq!(self.ls("images"), Vec::<String>::new(), "no record left");
        assert_eq!(
            fs::read_dir(self.sentinel()).unwrap().count(),
            0,
            "nothing written outside the store"
        );
    }
}

/// Where the store's filesystem takes no `user.` extended attributes: an
/// import of a layer with an opaque directory must be refused naming the
/// entry, leaving nothing behind. Returns whether that was the case (the
/// test has nothing more to show).
fn opaque_refused(s: &Scratch, imported: &Result<stockade::image::Imported, Error>) -> bool {
    if common::user_xattrs(&s.path("store")) {
        return false;
    }
    match imported {
        Err(Error::Unpack { entry, source, .. }) => {
            assert!(entry.ends_with(".wh..wh..opq"), "{entry:?}");
            assert_eq!(source.raw_os_error(), Some(libc::EOPNOTSUPP));
        }
        other => panic!("{other:?}"),
    }
    s.assert_clean();
    eprintln!("note: the store's filesystem takes no user. xattrs: only the refusal is shown");
    true
}

fn base_layer() -> Blob {
    gzip_layer(&[
        E::Dir("etc/", 0o755),
        E::File(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
            0o644,
        ),
        E::File("etc/group", b"root:x:0:\nstaff:x:50:\napp:x:1001:\n", 0o644),
        E::Dir("bin/", 0o755),
        E::File("bin/tool", b"#!/bin/sh\necho hi\n", 0o755),
        E::Symlink("bin/sh", "/bin/tool"),
        E::Hardlink("bin/tool2", "bin/tool"),
        // A read-only directory with entries after it.
        E::Dir("ro/", 0o555),
        E::File("ro/inside", b"x", 0o444),
        E::Dir("ro/sub/", 0o500),
        E::File("ro/sub/deeper", b"y", 0o600),
    ])
}

// ---------------------------------------------------------------------------
// Imports

#[test]
fn imports_an_oci_layout() {
    as_each_identity(|| {
        let s = Scratch::new();
        let top = tar_layer(&[
            E::Dir("app/", 0o750),
            E::File("app/run", b"run", 0o4755),
            // A later entry replaces an earlier one of the same path.
            E::File("app/x", b"old", 0o644),
            E::Symlink("app/x", "run"),
        ]);
        let src = s.path("busybox");
        oci_layout(
            &src,
            &[(
                "1.36",
                vec![base_layer(), top],
                json!({
                    "Entrypoint": ["/bin/sh", "-c"],
                    "Cmd": ["echo hi"],
                    "Env": ["PATH=/bin", "A=b"],
                    "WorkingDir": "/app",
                    "User": "app",
                    "ExposedPorts": { "8080/tcp": {} },
                    "StopSignal": "SIGINT",
                    "Labels": { "k": "v" },
                }),
            )],
        );
        let imported = s.store.import(&src, None).unwrap();
        assert_eq!(imported.layers_unpacked, 2);
        assert_eq!(imported.layers_reused, 0);
        assert!(imported.skipped.is_empty());
        let image = &imported.images[0];
        assert_eq!(
            image.reference(),
            "busybox:1.36",
            "a bare tag takes the directory's name"
        );
        let c = image.config();
        assert_eq!(c.entrypoint, ["/bin/sh", "-c"]);
        assert_eq!(c.cmd, ["echo hi"]);
        assert_eq!(c.env, ["PATH=/bin", "A=b"]);
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.exposed_ports, ["8080/tcp"]);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(c.labels.get("k").map(String::as_str), Some("v"));

        let dirs = image.layer_dirs();
        assert_eq!(dirs.len(), 2);
        assert!(dirs.iter().all(|d| d.is_absolute() && d.is_dir()));
        let (base, upper) = (&dirs[0], &dirs[1]);
        assert_eq!(
            fs::read(base.join("bin/tool")).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
        assert_eq!(
            fs::read_link(base.join("bin/sh")).unwrap(),
            Path::new("/bin/tool")
        );
        let (a, b) = (
            fs::metadata(base.join("bin/tool")).unwrap(),
            fs::metadata(base.join("bin/tool2")).unwrap(),
        );
        assert_eq!(a.ino(), b.ino(), "a hard link within the layer");
        assert_eq!(a.mode() & 0o7777, 0o755);
        assert_eq!(a.mtime(), 1_000_000_000);
        // Read-only directories keep their modes, and what is in them.
        assert_eq!(
            fs::metadata(base.join("ro")).unwrap().mode() & 0o7777,
            0o555
        );
        assert_eq!(
            fs::metadata(base.join("ro/sub")).unwrap().mode() & 0o7777,
            0o500
        );
        assert_eq!(
            fs::metadata(base.join("ro")).unwrap().mtime(),
            1_000_000_000
        );
        assert!(
            fs::symlink_metadata(upper.join("app/x"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            fs::metadata(upper.join("app/run")).unwrap().mode() & 0o7777,
            0o4755
        );
        let owner = fs::metadata(upper.join("app/run")).unwrap().uid();
        if is_root() {
            assert_eq!(owner, 1234, "root keeps the layer's owners");
        } else {
            assert_eq!(
                owner,
                rustix::process::getuid().as_raw(),
                "the caller owns the files"
            );
        }
        // The layer's root is world-searchable (an overlay's root takes it).
        assert_eq!(fs::metadata(base).unwrap().mode() & 0o777, 0o755);

        assert_eq!(image.resolve_user("app").unwrap(), (1000, 1001));
        assert_eq!(image.resolve_user("app:staff").unwrap(), (1000, 50));
        assert_eq!(image.resolve_user("1000").unwrap(), (1000, 1001));
        assert_eq!(image.resolve_user("7:8").unwrap(), (7, 8));
        assert_eq!(image.resolve_user("42").unwrap(), (42, 0));
        assert!(
            matches!(image.resolve_user("nobody"), Err(Error::NoSuchUser { user }) if user == "nobody")
        );
        assert!(
            matches!(image.resolve_user("app:nogroup"), Err(Error::NoSuchGroup { group }) if group == "nogroup")
        );
        assert!(matches!(
            image.resolve_user(":1"),
            Err(Error::BadUser { .. })
        ));

        // get by name, by the default tag, by digest and digest prefix.
        assert_eq!(
            s.store.get("busybox:1.36").unwrap().digest(),
            image.digest()
        );
        assert!(matches!(
            s.store.get("busybox"),
            Err(Error::NoSuchImage { .. })
        ));
        assert_eq!(
            s.store.get(image.digest()).unwrap().reference(),
            "busybox:1.36"
        );
        let prefix = &image.digest()["sha256:".len()..][..12];
        assert_eq!(s.store.get(prefix).unwrap().reference(), "busybox:1.36");
        assert_eq!(
            s.store.get(&image.config_digest()[7..]).unwrap().digest(),
            image.digest()
        );

        // The same layout again: everything is reused. A new name without
        // a tag is `latest`, what `get("other")` finds.
        let again = s.store.import(&src, Some("other")).unwrap();
        assert_eq!((again.layers_unpacked, again.layers_reused), (0, 2));
        assert_eq!(again.images[0].reference(), "other:latest");
        assert_eq!(s.store.get("other").unwrap().digest(), image.digest());
        assert_eq!(s.ls("layers").len(), 2);
        assert_eq!(s.store.list().unwrap().len(), 2);
    });
}

#[test]
fn imports_a_docker_save_archive_and_an_oci_archive() {
    as_each_identity(|| {
        let s = Scratch::new();
        let base = tar_layer(&[
            E::Dir("etc/", 0o755),
            E::File("etc/os-release", b"ID=test\n", 0o644),
        ]);
        let a = tar_layer(&[E::File("a", b"a", 0o644)]);
        let b = tar_layer(&[E::File("b", b"b", 0o644)]);
        let archive = s.path("save.tar");
        docker_archive(
            &archive,
            &[
                (
                    &["app-a:1", "app-a:latest"],
                    vec![base.clone(), a],
                    json!({ "Cmd": ["a"] }),
                ),
                (
                    &["registry.local:5000/app-b:2"],
                    vec![base.clone(), b],
                    json!({ "Cmd": ["b"] }),
                ),
            ],
        );
        let imported = s.store.import(&archive, None).unwrap();
        // The base layer is unpacked once, for the first image.
        assert_eq!((imported.layers_unpacked, imported.layers_reused), (3, 1));
        let mut refs: Vec<String> = imported.images.iter().map(|i| i.reference()).collect();
        refs.sort();
        assert_eq!(
            refs,
            ["app-a:1", "app-a:latest", "registry.local:5000/app-b:2"]
        );
        assert_eq!(s.ls("layers").len(), 3);
        let a = s.store.get("app-a").unwrap();
        assert_eq!(a.config().cmd, ["a"]);
        assert_eq!(a.layers().len(), 2);
        let b = s.store.get("registry.local:5000/app-b:2").unwrap();
        assert_eq!(
            a.layer_dirs()[0],
            b.layer_dirs()[0],
            "one directory for the shared layer"
        );
        assert_eq!(fs::read(b.layer_dirs()[1].join("b")).unwrap(), b"b");
        // The manifest the store wrote for it is kept as a blob.
        assert!(
            s.path("store/blobs/sha256")
                .join(&a.digest()[7..])
                .is_file()
        );

        // An OCI layout in a tar, with a gzip layer over the same base.
        let layout = s.path("layout");
        let top = gzip_layer(&[E::File("top", b"t", 0o644)]);
        oci_layout(
            &layout,
            &[("localhost/app-c:3", vec![base, top], json!({}))],
        );
        let oci_archive = s.path("c.oci");
        tar_of(&layout, &oci_archive);
        let imported = s.store.import(&oci_archive, None).unwrap();
        assert_eq!((imported.layers_unpacked, imported.layers_reused), (1, 1));
        assert_eq!(imported.images[0].reference(), "localhost/app-c:3");
        assert_eq!(imported.images[0].config(), &Default::default());
        assert_eq!(s.ls("layers").len(), 4);
    });
}

#[test]
fn a_multi_platform_index_gives_this_machines_manifest() {
    as_each_identity(|| {
        let s = Scratch::new();
        let dir = s.path("multi");
        let host = write_manifest(
            &dir,
            &[tar_layer(&[E::File("host", b"", 0o644)])],
            json!({}),
        );
        let other = write_manifest(
            &dir,
            &[tar_layer(&[E::File("other", b"", 0o644)])],
            json!({}),
        );
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        let mut h = host.clone();
        h["platform"] = json!({ "os": "linux", "architecture": arch });
        let mut o = other.clone();
        o["platform"] = json!({ "os": "linux", "architecture": "s390x-not-this" });
        let index =
            serde_json::to_vec(&json!({ "schemaVersion": 2, "manifests": [o, h] })).unwrap();
        let index_desc = json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": write_blob(&dir, &index),
            "size": index.len(),
            "annotations": { "io.containerd.image.name": "docker.io/library/multi:1" },
        });
        fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        fs::write(
            dir.join("index.json"),
            serde_json::to_vec(&json!({ "schemaVersion": 2, "manifests": [index_desc] })).unwrap(),
        )
        .unwrap();
        let imported = s.store.import(&dir, None).unwrap();
        assert_eq!(imported.images.len(), 1);
        let image = &imported.images[0];
        assert_eq!(image.reference(), "docker.io/library/multi:1");
        assert_eq!(image.digest(), host["digest"].as_str().unwrap());
        assert!(image.layer_dirs()[0].join("host").exists());
    });
}

#[test]
fn a_shared_base_layer_is_stored_once() {
    as_each_identity(|| {
        let s = Scratch::new();
        let base = base_layer();
        oci_layout(
            &s.path("one"),
            &[(
                "one:1",
                vec![base.clone(), tar_layer(&[E::File("1", b"1", 0o644)])],
                json!({}),
            )],
        );
        oci_layout(
            &s.path("two"),
            &[(
                "two:1",
                vec![base.clone(), tar_layer(&[E::File("2", b"2", 0o644)])],
                json!({}),
            )],
        );
        let first = s.store.import(&s.path("one"), None).unwrap();
        assert_eq!((first.layers_unpacked, first.layers_reused), (2, 0));
        let second = s.store.import(&s.path("two"), None).unwrap();
        assert_eq!((second.layers_unpacked, second.layers_reused), (1, 1));
        assert_eq!(s.ls("layers").len(), 3);
        assert!(s.ls("layers").contains(&base.diff_id[7..].to_owned()));
    });
}

// ---------------------------------------------------------------------------
// Refused sources

#[test]
fn a_tampered_blob_is_refused_naming_it() {
    as_each_identity(|| {
        let s = Scratch::new();
        let src = s.path("img");
        let good = tar_layer(&[E::File("ok", b"fine", 0o644)]);
        let bad = tar_layer(&[E::File("evil", b"original", 0o644)]);
        oci_layout(&src, &[("img:1", vec![good, bad.clone()], json!({}))]);
        // Change the second layer's bytes after its digest was taken: the
        // first layer unpacks, the second fails, nothing stays.
        let hex = sha(&bad.bytes);
        let path = src.join("blobs/sha256").join(&hex);
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.windows(8).position(|w| w == b"original").unwrap();
        bytes[at] = b'O';
        fs::write(&path, &bytes).unwrap();
        match s.store.import(&src, None) {
            Err(Error::DigestMismatch { blob, actual }) => {
                assert_eq!(blob, format!("sha256:{hex}"));
                assert_eq!(actual, format!("sha256:{}", sha(&bytes)));
            }
            r => panic!("expected a digest mismatch, got {r:?}"),
        }
        s.assert_clean();

        // A diff id that does not match the uncompressed content.
        let src = s.path("img2");
        let mut layer = gzip_layer(&[E::File("f", b"f", 0o644)]);
        let real = layer.diff_id.clone();
        layer.diff_id = format!("sha256:{}", "0".repeat(64));
        oci_layout(&src, &[("img2:1", vec![layer], json!({}))]);
        match s.store.import(&src, None) {
            Err(Error::DiffIdMismatch {
                expected, actual, ..
            }) => {
                assert_eq!(expected, format!("sha256:{}", "0".repeat(64)));
                assert_eq!(actual, real);
            }
            r => panic!("expected a diff id mismatch, got {r:?}"),
        }
        s.assert_clean();
    });
}

/// Imports one layer made of `entries`; the error.
fn import_layer(s: &Scratch, entries: &[E]) -> Error {
    let src = s.path("hostile");
    let _ = fs::remove_dir_all(&src);
    oci_layout(&src, &[("hostile:1", vec![tar_layer(entries)], json!({}))]);
    s.store
        .import(&src, None)
        .expect_err("a hostile layer must be refused")
}

#[test]
fn layer_entries_that_escape_are_refused() {
    as_each_identity(|| {
        let s = Scratch::new();
        let sentinel = s.sentinel();
        let sentinel = sentinel.to_str().unwrap();
        let abs = format!("{sentinel}/abs");
        let cases: Vec<(Vec<E>, &str, UnsafeEntry)> = vec![
            (
                vec![E::File(&abs, b"x", 0o644)],
                &abs,
                UnsafeEntry::Absolute,
            ),
            (
                vec![E::File("../escape", b"x", 0o644)],
                "../escape",
                UnsafeEntry::DotDot,
            ),
            (
                vec![E::Dir("a/", 0o755), E::File("a/../../escape", b"x", 0o644)],
                "a/../../escape",
                UnsafeEntry::DotDot,
            ),
            (
                vec![E::Symlink("link", sentinel), E::File("link/x", b"x", 0o644)],
                "link/x",
                UnsafeEntry::ThroughSymlink,
            ),
            (
                vec![E::Symlink("link", sentinel), E::Dir("link/d/", 0o755)],
                "link/d/",
                UnsafeEntry::ThroughSymlink,
            ),
            (
                vec![E::Symlink("rel", "../sentinel"), E::Symlink("rel/s", "/")],
                "rel/s",
                UnsafeEntry::ThroughSymlink,
            ),
            (
                vec![E::Hardlink("hl", "../outside")],
                "hl",
                UnsafeEntry::LinkOutside,
            ),
            (
                vec![
                    E::Symlink("etcdir", "/etc"),
                    E::Hardlink("hl", "etcdir/passwd"),
                ],
                "hl",
                UnsafeEntry::LinkThroughSymlink,
            ),
            (
                vec![E::Hardlink("hl", "not/in/layer")],
                "hl",
                UnsafeEntry::LinkTargetMissing,
            ),
            (
                vec![
                    E::Symlink("link", sentinel),
                    E::File("link/.wh.x", b"", 0o644),
                ],
                "link/.wh.x",
                UnsafeEntry::ThroughSymlink,
            ),
        ];
        for (entries, entry_name, why) in cases {
            match import_layer(&s, &entries) {
                Error::Unsafe {
                    blob,
                    entry,
                    reason,
                } => {
                    assert_eq!(entry, Path::new(entry_name), "the refused entry is named");
                    assert_eq!(reason, why, "{entry_name}");
                    assert!(blob.starts_with("sha256:"), "the layer is named: {blob}");
                }
                e => panic!("{entry_name}: expected a refusal, got {e:?}"),
            }
            s.assert_clean();
        }
        assert!(!Path::new("/etc/passwd2").exists());
    });
}

#[test]
fn a_truncated_archive_or_blob_is_refused() {
    as_each_identity(|| {
        let s = Scratch::new();
        let archive = s.path("save.tar");
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        docker_archive(
            &archive,
            &[(
                &["t:1"],
                vec![tar_layer(&[E::File("big", &big, 0o644)])],
                json!({}),
            )],
        );
        let full = fs::read(&archive).unwrap();
        for cut in [full.len() / 2, full.len() - 1024, 700] {
            let part = s.path("part.tar");
            fs::write(&part, &full[..cut]).unwrap();
            match s.store.import(&part, None) {
                Err(Error::TruncatedArchive { path }) => assert_eq!(path, part),
                // Cut before manifest.json was reached: no image in it.
                Err(Error::NotAnImage { .. }) if cut == 700 => {}
                r => panic!("cut at {cut}: expected a truncated archive, got {r:?}"),
            }
            s.assert_clean();
        }

        // A layout whose layer blob is cut short.
        let src = s.path("img");
        let layer = gzip_layer(&[E::File("big", &big, 0o644)]);
        oci_layout(&src, &[("img:1", vec![layer.clone()], json!({}))]);
        let path = src.join("blobs/sha256").join(sha(&layer.bytes));
        fs::write(&path, &layer.bytes[..layer.bytes.len() / 2]).unwrap();
        match s.store.import(&src, None) {
            Err(Error::Truncated { blob }) => {
                assert_eq!(blob, format!("sha256:{}", sha(&layer.bytes)))
            }
            r => panic!("expected a truncated blob, got {r:?}"),
        }
        s.assert_clean();
    });
}

#[test]
fn a_missing_blob_bad_json_zstd_and_non_images_are_refused() {
    as_each_identity(|| {
        let s = Scratch::new();
        let src = s.path("img");
        let layer = tar_layer(&[E::File("f", b"f", 0o644)]);
        oci_layout(&src, &[("img:1", vec![layer.clone()], json!({}))]);
        fs::remove_file(src.join("blobs/sha256").join(sha(&layer.bytes))).unwrap();
        match s.store.import(&src, None) {
            Err(Error::MissingBlob { blob }) => {
                assert_eq!(blob, format!("sha256:{}", sha(&layer.bytes)))
            }
            r => panic!("expected a missing blob, got {r:?}"),
        }
        s.assert_clean();

        // zstd layers are refused before anything is unpacked.
        let src = s.path("zstd");
        let mut z = tar_layer(&[E::File("f", b"f", 0o644)]);
        z.media_type = "application/vnd.oci.image.layer.v1.tar+zstd".into();
        oci_layout(
            &src,
            &[(
                "z:1",
                vec![tar_layer(&[E::File("g", b"g", 0o644)]), z.clone()],
                json!({}),
            )],
        );
        match s.store.import(&src, None) {
            Err(Error::UnsupportedMediaType { blob, media_type }) => {
                assert_eq!(blob, format!("sha256:{}", sha(&z.bytes)));
                assert_eq!(media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
            }
            r => panic!("expected an unsupported media type, got {r:?}"),
        }
        s.assert_clean();

        // Malformed JSON names the field.
        let src = s.path("json");
        oci_layout(&src, &[("j:1", vec![layer.clone()], json!({}))]);
        let mut index: serde_json::Value =
            serde_json::from_slice(&fs::read(src.join("index.json")).unwrap()).unwrap();
        index["manifests"][0]["digest"] = json!("sha256:../../../etc/passwd");
        fs::write(src.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        match s.store.import(&src, None) {
            Err(Error::BadJson { file, path, .. }) => {
                assert_eq!(file, "index.json");
                assert_eq!(path, "manifests[0].digest");
            }
            r => panic!("expected bad JSON, got {r:?}"),
        }
        index["manifests"][0]["digest"] = json!(format!("sha256:{}", "1".repeat(64)));
        index["manifests"][0]["size"] = json!("ten");
        fs::write(src.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        match s.store.import(&src, None) {
            Err(Error::BadJson { path, .. }) => assert_eq!(path, "manifests[0].size"),
            r => panic!("expected bad JSON, got {r:?}"),
        }
        s.assert_clean();

        // Neither a layout nor an archive.
        let junk = s.path("junk");
        fs::write(&junk, b"not a tar at all").unwrap();
        assert!(matches!(
            s.store.import(&junk, None),
            Err(Error::NotAnImage { .. })
        ));
        assert!(matches!(
            s.store.import(&s.sentinel(), None),
            Err(Error::NotAnImage { .. })
        ));
        assert!(matches!(
            s.store.import(&src, Some("bad name")),
            Err(Error::BadReference { .. })
        ));
        s.assert_clean();
    });
}

// ---------------------------------------------------------------------------
// What layers become

#[test]
fn whiteouts_opaque_dirs_and_devices_become_what_overlayfs_reads() {
    as_each_identity(|| {
        let s = Scratch::new();
        let base = tar_layer(&[
            E::Dir("etc/", 0o755),
            E::File("etc/gone", b"x", 0o644),
            E::Dir("var/", 0o755),
            E::File("var/old", b"x", 0o644),
        ]);
        let top = tar_layer(&[
            E::Dir("etc/", 0o755),
            E::File("etc/.wh.gone", b"", 0o644),
            // A whiteout of a name the same layer has: the layer's own
            // entry stays.
            E::File("etc/kept", b"k", 0o644),
            E::File("etc/.wh.kept", b"", 0o644),
            E::Dir("var/", 0o755),
            E::File("var/.wh..wh..opq", b"", 0o644),
            E::File("var/new", b"n", 0o644),
            // A whiteout in a directory the layer does not list.
            E::File("usr/lib/.wh.libx.so", b"", 0o644),
            E::Char("dev/null"),
            E::Fifo("run/fifo"),
        ]);
        let src = s.path("wh");
        oci_layout(&src, &[("wh:1", vec![base, top.clone()], json!({}))]);
        let imported = s.store.import(&src, None);
        if opaque_refused(&s, &imported) {
            return;
        }
        let imported = imported.unwrap();
        let upper = &imported.images[0].layer_dirs()[1];

        for whiteout in ["etc/gone", "usr/lib/libx.so"] {
            let m = fs::symlink_metadata(upper.join(whiteout)).unwrap();
            assert!(m.file_type().is_char_device(), "{whiteout} is a whiteout");
            assert_eq!(m.rdev(), 0, "{whiteout} is device 0/0");
        }
        assert_eq!(fs::read(upper.join("etc/kept")).unwrap(), b"k");
        assert!(!upper.join("etc/.wh.gone").exists());
        let xattr = |name: &str| {
            let mut v = [0u8; 8];
            rustix::fs::getxattr(upper.join("var"), name, &mut v[..])
                .ok()
                .map(|n| v[..n].to_vec())
        };
        assert_eq!(xattr("user.overlay.opaque").as_deref(), Some(&b"y"[..]));
        if is_root() {
            assert_eq!(xattr("trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
        }
        assert!(upper.join("var/new").exists());
        assert!(!upper.join("var/.wh..wh..opq").exists());

        // Devices and fifos are reported, never created.
        assert!(!upper.join("dev/null").exists());
        assert!(!upper.join("run/fifo").exists());
        let mut skipped: Vec<_> = imported
            .skipped
            .iter()
            .map(|k| (k.entry.clone(), k.reason, k.blob.clone()))
            .collect();
        skipped.sort_by(|a, b| a.0.cmp(&b.0));
        let blob = format!("sha256:{}", sha(&top.bytes));
        assert_eq!(
            skipped,
            [
                (PathBuf::from("dev/null"), SkipReason::Device, blob.clone()),
                (PathBuf::from("run/fifo"), SkipReason::Fifo, blob),
            ]
        );

        // resolve_user honours a whiteout of etc/passwd in a higher layer.
        let hidden = s.path("hidden");
        oci_layout(
            &hidden,
            &[(
                "hidden:1",
                vec![
                    base_layer(),
                    tar_layer(&[E::File("etc/.wh.passwd", b"", 0o644)]),
                ],
                json!({}),
            )],
        );
        let image = &s.store.import(&hidden, None).unwrap().images[0];
        assert!(matches!(
            image.resolve_user("app"),
            Err(Error::NoSuchUser { .. })
        ));
        assert_eq!(image.resolve_user("5").unwrap(), (5, 0));
        // ... resolves a symbolic link with the layer as its root, and never
        // follows one out of its layer (to the host's /etc/passwd here).
        let linked = s.path("linked");
        let layer = tar_layer(&[
            E::Dir("etc/", 0o755),
            E::Symlink("etc/passwd", "/etc/real-passwd"),
            E::File("etc/real-passwd", b"inlayer:x:5:6::/:/bin/sh\n", 0o644),
        ]);
        let escaping = tar_layer(&[
            E::Dir("etc/", 0o755),
            E::Symlink("etc/passwd", "../../../../../../../../../../../etc/passwd"),
        ]);
        oci_layout(
            &linked,
            &[
                ("linked:1", vec![layer], json!({})),
                ("linked:2", vec![escaping], json!({})),
            ],
        );
        let images = s.store.import(&linked, None).unwrap().images;
        assert_eq!(images[0].resolve_user("inlayer").unwrap(), (5, 6));
        assert!(
            fs::read_to_string("/etc/passwd")
                .unwrap()
                .starts_with("root:")
        );
        assert!(matches!(
            images[1].resolve_user("root"),
            Err(Error::NoSuchUser { .. })
        ));
    });
}

// ---------------------------------------------------------------------------
// The store

#[test]
fn list_get_remove_and_gc() {
    as_each_identity(|| {
        let s = Scratch::new();
        let base = base_layer();
        let only_a = tar_layer(&[
            E::Dir("ro/", 0o500),
            E::File("ro/a", &[7u8; 100_000], 0o400),
        ]);
        let only_b = tar_layer(&[E::File("b", b"b", 0o644)]);
        oci_layout(
            &s.path("ab"),
            &[
                ("ab/a:1", vec![base.clone(), only_a.clone()], json!({})),
                ("ab/b:1", vec![base.clone(), only_b.clone()], json!({})),
            ],
        );
        let imported = s.store.import(&s.path("ab"), None).unwrap();
        assert_eq!((imported.layers_unpacked, imported.layers_reused), (3, 1));
        let list = s.store.list().unwrap();
        let refs: Vec<String> = list.iter().map(|i| i.reference()).collect();
        assert_eq!(refs, ["ab/a:1", "ab/b:1"]);
        let listed = serde_json::to_value(&list).unwrap();
        assert_eq!(listed[0]["reference"], "ab/a:1");
        assert_eq!(listed[0]["layer_dirs"].as_array().unwrap().len(), 2);

        // A stale temporary directory goes with the next import...
        fs::create_dir_all(s.path("store/tmp/layer-stale")).unwrap();
        let again = s.store.import(&s.path("ab"), None).unwrap();
        assert_eq!(again.layers_unpacked, 0);
        assert_eq!(s.ls("tmp"), Vec::<String>::new());
        // ... or with gc; nothing is unused yet.
        fs::create_dir_all(s.path("store/tmp/layer-stale/ro")).unwrap();
        fs::set_permissions(
            s.path("store/tmp/layer-stale/ro"),
            fs::Permissions::from_mode(0o500),
        )
        .unwrap();
        let gc = s.store.gc().unwrap();
        assert!(gc.layers.is_empty() && gc.blobs.is_empty());
        assert_eq!(gc.temporaries, 1);
        assert_eq!(s.ls("tmp"), Vec::<String>::new());

        let removed = s.store.remove("ab/a:1").unwrap();
        assert_eq!(removed.reference(), "ab/a:1");
        assert!(matches!(
            s.store.get("ab/a:1"),
            Err(Error::NoSuchImage { .. })
        ));
        assert!(matches!(
            s.store.remove("ab/a:1"),
            Err(Error::NoSuchImage { .. })
        ));
        let gc = s.store.gc().unwrap();
        assert_eq!(
            gc.layers,
            std::slice::from_ref(&only_a.diff_id),
            "the layer only a used goes"
        );
        assert_eq!(gc.blobs.len(), 2, "a's manifest and config go");
        assert!(gc.bytes_freed >= 100_000, "freed {}", gc.bytes_freed);
        let mut left = s.ls("layers");
        left.sort();
        let mut want = vec![base.diff_id[7..].to_owned(), only_b.diff_id[7..].to_owned()];
        want.sort();
        assert_eq!(left, want, "the shared layer stays");
        let b = s.store.get("ab/b:1").unwrap();
        assert!(b.layer_dirs().iter().all(|d| d.is_dir()));

        // Remove by digest prefix; then everything goes.
        let removed = s.store.remove(&b.digest()[7..19]).unwrap();
        assert_eq!(removed.digest(), b.digest());
        assert!(s.store.list().unwrap().is_empty());
        let gc = s.store.gc().unwrap();
        assert_eq!(gc.layers.len(), 2);
        s.assert_clean();
        assert!(matches!(s.store.get("zz"), Err(Error::NoSuchImage { .. })));
        assert!(matches!(
            s.store.get("bad ref"),
            Err(Error::BadReference { .. })
        ));
    });
}

/// An image built by a real OCI tool: `umoci` (Debian package `umoci`)
/// makes a layout from a busybox-static tree and sets its config.
#[test]
#[cfg_attr(stockade_vm, ignore = "needs umoci (Debian's package) on the host")]
fn imports_an_image_built_by_umoci() {
    let Some(umoci) = common::debian_package("umoci", "umoci") else {
        return;
    };
    let Some(busybox) = common::debian_package("busybox", "busybox-static") else {
        return;
    };
    as_each_identity(|| {
        let s = Scratch::new();
        let run = |args: &[&str]| common::umoci(&umoci, s.dir.path(), args);
        let rootless: &[&str] = if is_root() { &[] } else { &["--rootless"] };
        run(&["init", "--layout", "bb"]);
        run(&["new", "--image", "bb:latest"]);
        run(&[
            &["unpack"][..],
            rootless,
            &["--image", "bb:latest", "bundle"],
        ]
        .concat());
        let root = s.path("bundle/rootfs");
        for d in ["bin", "etc", "work"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::copy(&busybox, root.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        fs::write(
            root.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/work:/bin/sh\n",
        )
        .unwrap();
        fs::write(root.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
        run(&["repack", "--image", "bb:latest", "bundle"]);
        run(&[
            "config",
            "--image",
            "bb:latest",
            "--config.entrypoint",
            "/bin/sh",
            "--config.entrypoint",
            "-c",
            "--config.cmd",
            "echo hi",
            "--config.env",
            "FOO=bar",
            "--config.workingdir",
            "/work",
            "--config.user",
            "app",
            "--config.exposedports",
            "8080/tcp",
            "--config.stopsignal",
            "SIGTERM",
            "--config.label",
            "org.example=yes",
        ]);

        let imported = s.store.import(&s.path("bb"), None).unwrap();
        assert_eq!(imported.images.len(), 1);
        let image = &imported.images[0];
        assert_eq!(image.reference(), "bb:latest");
        let c = image.config();
        assert_eq!(c.entrypoint, ["/bin/sh", "-c"]);
        assert_eq!(c.cmd, ["echo hi"]);
        assert!(c.env.iter().any(|e| e == "FOO=bar"), "{:?}", c.env);
        assert_eq!(c.working_dir.as_deref(), Some("/work"));
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.exposed_ports, ["8080/tcp"]);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGTERM"));
        assert_eq!(c.labels.get("org.example").map(String::as_str), Some("yes"));
        assert_eq!(
            image.resolve_user(c.user.as_deref().unwrap()).unwrap(),
            (1000, 1000)
        );
        let top = image.layer_dirs().pop().unwrap();
        assert_eq!(
            fs::read(top.join("bin/busybox")).unwrap(),
            fs::read(&busybox).unwrap()
        );
        assert_eq!(
            fs::read_link(top.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert_eq!(
            fs::metadata(top.join("bin/busybox")).unwrap().mode() & 0o111,
            0o111
        );
    });
}

/// `podman save` in both its formats (Docker's, where a layer shared by
/// name is a symbolic link inside the archive, and the OCI archive) of an
/// image podman made from a busybox-static tree.
#[test]
#[cfg_attr(stockade_vm, ignore = "needs podman (Debian's package) on the host")]
fn imports_podman_save_archives_as_root() {
    common::as_root(|| {
        let Some(podman) = common::debian_package("podman", "podman") else {
            return;
        };
        let Some(busybox) = common::debian_package("busybox", "busybox-static") else {
            return;
        };
        let s = Scratch::new();
        let root = s.path("rootfs");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::copy(&busybox, root.join("bin/busybox")).unwrap();
        let rootfs_tar = s.path("rootfs.tar");
        tar_of(&root, &rootfs_tar);
        let name = format!("localhost/stockade-image-test-{}:1", std::process::id());
        let podman_run = |args: &[&str]| {
            let out = std::process::Command::new(&podman)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "podman {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        podman_run(&[
            "import",
            "--change",
            "CMD [\"/bin/busybox\", \"true\"]",
            rootfs_tar.to_str().unwrap(),
            &name,
        ]);
        let docker = s.path("docker.tar");
        let oci = s.path("oci.tar");
        let saved = std::panic::catch_unwind(|| {
            podman_run(&["save", "-o", docker.to_str().unwrap(), &name]);
            podman_run(&[
                "save",
                "--format",
                "oci-archive",
                "-o",
                oci.to_str().unwrap(),
                &name,
            ]);
        });
        podman_run(&["rmi", &name]);
        saved.unwrap();

        let first = s.store.import(&docker, None).unwrap();
        assert_eq!((first.layers_unpacked, first.layers_reused), (1, 0));
        assert_eq!(first.images[0].reference(), name);
        assert_eq!(first.images[0].config().cmd, ["/bin/busybox", "true"]);
        let second = s.store.import(&oci, Some("from-oci")).unwrap();
        assert_eq!((second.layers_unpacked, second.layers_reused), (0, 1));
        assert_eq!(second.images[0].reference(), "from-oci:latest");
        assert_eq!(
            second.images[0].config_digest(),
            first.images[0].config_digest()
        );
        let top = second.images[0].layer_dirs().pop().unwrap();
        assert_eq!(
            fs::read(top.join("bin/busybox")).unwrap(),
            fs::read(&busybox).unwrap()
        );
    });
}

/// Long names (GNU long name and pax headers) unpack; an extension header
/// larger than 1 MiB, which the tar reader would hold in memory whole, is
/// refused.
#[test]
fn long_names_unpack_and_huge_extension_headers_are_refused() {
    as_each_identity(|| {
        let s = Scratch::new();
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(150));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, &long, &b"long"[..]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_pax_extensions([("path", format!("pax/{}", "p".repeat(200)).as_bytes())])
            .unwrap();
        h.set_path("short").unwrap();
        h.set_cksum();
        b.append(&h, &b"pax"[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let layer = Blob {
            diff_id: format!("sha256:{}", sha(&bytes)),
            bytes,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        };
        oci_layout(&s.path("long"), &[("long:1", vec![layer], json!({}))]);
        let image = &s.store.import(&s.path("long"), None).unwrap().images[0];
        let dir = &image.layer_dirs()[0];
        assert_eq!(fs::read(dir.join(&long)).unwrap(), b"long");
        assert_eq!(
            fs::read(dir.join(format!("pax/{}", "p".repeat(200)))).unwrap(),
            b"pax"
        );

        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(2 << 20);
        h.set_cksum();
        b.append(&h, &vec![b'a'; 2 << 20][..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_path("x").unwrap();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append(&h, &b""[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let layer = Blob {
            diff_id: format!("sha256:{}", sha(&bytes)),
            bytes,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        };
        let src = s.path("huge");
        oci_layout(&src, &[("huge:1", vec![layer], json!({}))]);
        match s.store.import(&src, None) {
            Err(e @ Error::Unpack { .. }) => {
                let chain = common::chain(&e);
                assert!(chain.contains("larger than 1 MiB"), "{chain}");
            }
            r => panic!("expected a refused extension header, got {r:?}"),
        }
        assert_eq!(s.ls("tmp"), Vec::<String>::new());
        assert_eq!(s.ls("layers").len(), 1, "only the first image's layer");
    });
}

/// A `docker save` archive may hold a gzip-compressed layer: told by its
/// content, verified against its diff id, and named by its own digest in
/// the manifest the store writes.
#[test]
fn a_docker_save_archive_with_a_gzip_layer() {
    as_each_identity(|| {
        let s = Scratch::new();
        let layer = gzip_layer(&[E::File("zipped", b"z", 0o644)]);
        let archive = s.path("gz.tar");
        docker_archive(&archive, &[(&["gz:1"], vec![layer.clone()], json!({}))]);
        let image = &s.store.import(&archive, None).unwrap().images[0];
        assert_eq!(
            fs::read(image.layer_dirs()[0].join("zipped")).unwrap(),
            b"z"
        );
        let manifest: serde_json::Value = serde_json::from_slice(
            &fs::read(s.path("store/blobs/sha256").join(&image.digest()[7..])).unwrap(),
        )
        .unwrap();
        assert_eq!(
            manifest["layers"][0]["digest"],
            format!("sha256:{}", sha(&layer.bytes))
        );
        assert_eq!(
            manifest["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(manifest["config"]["digest"], image.config_digest());
    });
}

/// Imports from two threads at once into one store: the lock serializes
/// them, and the shared layer is unpacked once.
#[test]
fn parallel_imports_share_the_store() {
    as_each_identity(|| {
        let s = Scratch::new();
        let base = base_layer();
        for n in ["p1", "p2"] {
            oci_layout(
                &s.path(n),
                &[(
                    "1",
                    vec![base.clone(), tar_layer(&[E::File(n, b"p", 0o644)])],
                    json!({}),
                )],
            );
        }
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = ["p1", "p2"]
                .map(|n| {
                    let store = Store::open(s.path("store")).unwrap();
                    let src = s.path(n);
                    scope.spawn(move || store.import(&src, None).unwrap())
                })
                .into_iter()
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let unpacked: usize = results.iter().map(|r| r.layers_unpacked).sum();
        let reused: usize = results.iter().map(|r| r.layers_reused).sum();
        assert_eq!((unpacked, reused), (3, 1));
        assert_eq!(s.ls("layers").len(), 3);
        assert_eq!(s.store.list().unwrap().len(), 2, "p1:1 and p2:1");
    });
}

/// The layer directories stack as overlayfs lower directories, mounted the
/// way the sandbox mounts them (`userxattr`, in a user namespace): the
/// whiteout hides the lower file, the opaque directory the lower
/// directory's entries.
#[test]
fn layer_dirs_stack_as_an_overlay() {
    as_each_identity(|| {
        let s = Scratch::new();
        let base = tar_layer(&[
            E::Dir("etc/", 0o755),
            E::File("etc/gone", b"x", 0o644),
            E::File("etc/stays", b"x", 0o644),
            E::Dir("var/", 0o755),
            E::File("var/old", b"x", 0o644),
        ]);
        let top = tar_layer(&[
            E::File("etc/.wh.gone", b"", 0o644),
            E::Dir("var/", 0o755),
            E::File("var/.wh..wh..opq", b"", 0o644),
            E::File("var/new", b"n", 0o644),
        ]);
        oci_layout(&s.path("ov"), &[("ov:1", vec![base, top], json!({}))]);
        let imported = s.store.import(&s.path("ov"), None);
        if opaque_refused(&s, &imported) {
            return;
        }
        let image = &imported.unwrap().images[0];
        let mut lower: Vec<String> = image
            .layer_dirs()
            .iter()
            .map(|d| d.to_str().unwrap().to_owned())
            .collect();
        lower.reverse();
        let userns = std::process::Command::new("unshare")
            .args(["-Urm", "true"])
            .status()
            .is_ok_and(|st| st.success());
        if !userns {
            return common::skip("unshare -Urm: no user namespaces here");
        }
        let mnt = s.path("mnt");
        fs::create_dir(&mnt).unwrap();
        let script = format!(
            "mount -t overlay overlay -o userxattr,lowerdir={} {} && ls {m}/etc {m}/var",
            lower.join(":"),
            mnt.display(),
            m = mnt.display()
        );
        let out = std::process::Command::new("unshare")
            .args(["-Urm", "sh", "-c", &script])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let names: Vec<&str> = stdout
            .lines()
            .filter(|l| !l.is_empty() && !l.ends_with(':'))
            .collect();
        assert_eq!(names, ["stays", "new"]);
    });
}

/// A layer thousands of directories deep unpacks and goes again with a
/// few descriptors (removal holds one at a time), and a path too long for
/// the store to name is refused.
#[test]
fn deep_layers_unpack_and_go_with_few_descriptors() {
    as_each_identity(|| {
        // This process is the test's own: a low descriptor limit here
        // shows that neither unpacking nor removal holds one per level.
        rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(128),
                maximum: None,
            },
        )
        .or_else(|_| {
            let max = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
            rustix::process::setrlimit(
                rustix::process::Resource::Nofile,
                rustix::process::Rlimit {
                    current: Some(128),
                    maximum: max,
                },
            )
        })
        .unwrap();
        let s = Scratch::new();
        let deep = format!("{}f", "a/".repeat(1500));
        let layer = |path: &str| {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, &b"d"[..]).unwrap();
            let bytes = b.into_inner().unwrap();
            Blob {
                diff_id: format!("sha256:{}", sha(&bytes)),
                bytes,
                media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            }
        };
        oci_layout(
            &s.path("deep"),
            &[("deep:1", vec![layer(&deep)], json!({}))],
        );
        let image = &s.store.import(&s.path("deep"), None).unwrap().images[0];
        assert_eq!(fs::read(image.layer_dirs()[0].join(&deep)).unwrap(), b"d");
        s.store.remove("deep:1").unwrap();
        assert_eq!(s.store.gc().unwrap().layers.len(), 1);
        assert_eq!(s.ls("layers"), Vec::<String>::new());

        let too_long = format!("{}f", "b/".repeat(2100));
        oci_layout(
            &s.path("long"),
            &[("long:1", vec![layer(&too_long)], json!({}))],
        );
        match s.store.import(&s.path("long"), None) {
            Err(Error::Unsafe { reason, .. }) => assert_eq!(reason, UnsafeEntry::TooLong),
            r => panic!("expected a refused long path, got {r:?}"),
        }
        s.assert_clean();
    });
}
