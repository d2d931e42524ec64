//! The command line with images and bundles: `stockade image import|list|
//! rm|gc`, `stockade run --image` with the image's entrypoint, command,
//! user, working directory and environment over its stacked layers, and
//! `stockade run --bundle`; each mistake a one-line error naming the option.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{as_each_identity, cli_binary};
use sha2::{Digest, Sha256};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A blob written into the layout: its digest and size.
fn blob(layout: &Path, data: &[u8]) -> (String, usize) {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(layout.join("blobs/sha256").join(&hex), data).unwrap();
    (format!("sha256:{hex}"), data.len())
}

/// A tar header owned by root, of time 0.
fn header() -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// An uncompressed layer from `build` (a tar builder).
fn layer(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    b.into_inner().unwrap()
}

fn add_file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) {
    let mut h = header();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, data).unwrap();
}

fn add_dir(b: &mut tar::Builder<Vec<u8>>, path: &str) {
    let mut h = header();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_entry_type(tar::EntryType::Directory);
    b.append_data(&mut h, path, &[][..]).unwrap();
}

fn add_link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = header();
    h.set_size(0);
    h.set_mode(0o777);
    h.set_entry_type(tar::EntryType::Symlink);
    b.append_link(&mut h, path, target).unwrap();
}

/// The base layer: a static busybox and its applets, users, a file the
/// top layer deletes.
fn base_layer() -> Vec<u8> {
    let busybox = common::debian_package("busybox", "busybox-static").expect("busybox");
    let bytes = std::fs::read(busybox).unwrap();
    layer(|b| {
        for d in [
            "bin/",
            "etc/",
            "home/",
            "home/app/",
            "proc/",
            "dev/",
            "tmp/",
        ] {
            add_dir(b, d);
        }
        add_file(b, "bin/busybox", &bytes, 0o755);
        for a in ["sh", "echo", "id", "pwd", "cat", "ls", "touch", "true"] {
            add_link(b, &format!("bin/{a}"), "busybox");
        }
        add_file(
            b,
            "etc/passwd",
            b"root:x:0:0::/:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
            0o644,
        );
        add_file(b, "etc/group", b"root:x:0:\napp:x:1001:\n", 0o644);
        add_file(b, "etc/motd", b"from the base\n", 0o644);
        add_file(b, "etc/version", b"1\n", 0o644);
    })
}

/// An OCI image layout at `dir` of one image `name:tag` whose layers are
/// `layers` (bottom first) and whose config is `config`.
fn layout(dir: &Path, name: &str, layers: &[Vec<u8>], config: serde_json::Value) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let (digest, size) = blob(dir, l);
        diff_ids.push(digest.clone());
        descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": digest, "size": size
        }));
    }
    layout_of(dir, name, descs, diff_ids, config);
}

/// The layout's config, manifest and index around layers already written
/// as blobs (their descriptors and diff ids).
fn layout_of(
    dir: &Path,
    name: &str,
    descs: Vec<serde_json::Value>,
    diff_ids: Vec<String>,
    config: serde_json::Value,
) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let (cdigest, csize) = blob(dir, config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cdigest, "size": csize},
        "layers": descs,
    });
    let (mdigest, msize) = blob(dir, manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": mdigest, "size": msize,
            "annotations": {"org.opencontainers.image.ref.name": format!("{name}:{tag}", tag = "1")}
        }]
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

/// The CLI with its image store in `store`.
fn stockade(store: &Path, args: &[&str]) -> Output {
    Command::new(cli_binary())
        .env("STOCKADE_IMAGES", store)
        .args(args)
        .output()
        .unwrap()
}

/// Two images sharing the base layer: `app` (the base layer and a top
/// layer that deletes /etc/motd and replaces /etc/version, run as `app`
/// in /home/app with an entrypoint and a command) and `plain` (the base
/// layer alone, no configuration).
fn images(dir: &Path) -> (PathBuf, PathBuf) {
    let base = base_layer();
    let top = layer(|b| {
        add_dir(b, "etc/");
        add_file(b, "etc/.wh.motd", b"", 0o644);
        add_file(b, "etc/version", b"2\n", 0o644);
    });
    let app = dir.join("app-layout");
    layout(
        &app,
        "app",
        &[base.clone(), top],
        serde_json::json!({
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo user=$(id -u):$(id -g) cwd=$(pwd) greeting=$GREETING version=$(cat /etc/version); cat /etc/motd 2>&1 || true"],
            "Env": ["GREETING=hello", "PATH=/bin"],
            "WorkingDir": "/home/app",
            "User": "app",
            "StopSignal": "SIGINT",
        }),
    );
    let plain = dir.join("plain-layout");
    layout(&plain, "plain", &[base], serde_json::json!({}));
    (app, plain)
}

#[test]
fn images_import_run_with_their_defaults_and_are_removed() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let (app, plain) = images(dir.path());

        let o = stockade(&store, &["image", "import", app.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).starts_with("app:1 sha256:"),
            "{}",
            text(&o.stdout)
        );
        let o = stockade(&store, &["image", "import", plain.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("0 layers unpacked, 1 already in the store"),
            "the shared base layer is stored once: {}",
            text(&o.stderr)
        );
        let o = stockade(&store, &["image", "list", "--json"]);
        let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let refs: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["reference"].as_str().unwrap())
            .collect();
        assert_eq!(refs.len(), 2, "{list}");
        assert!(
            refs.contains(&"app:1") && refs.contains(&"plain:1"),
            "{list}"
        );

        // The image's entrypoint and command, as its user, in its working
        // directory, with its environment, over both layers: the top one
        // hides /etc/motd and replaces /etc/version.
        let o = stockade(&store, &["run", "--image", "app:1"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(
            text(&o.stdout),
            "user=1000:1001 cwd=/home/app greeting=hello version=2\n\
             cat: can't open '/etc/motd': No such file or directory\n"
        );
        // PROGRAM replaces the command; the options win over the image.
        let o = stockade(
            &store,
            &[
                "--image",
                "app:1",
                "--uid",
                "0",
                "--chdir",
                "/",
                "--setenv",
                "GREETING",
                "hi",
                "--",
                "echo $(id -u) $(pwd) $GREETING",
            ],
        );
        assert_eq!(text(&o.stdout), "0 / hi\n", "{}", text(&o.stderr));
        // --entrypoint replaces the entrypoint and drops the command.
        let o = stockade(
            &store,
            &["--image", "app:1", "--entrypoint", "/bin/id", "--", "-u"],
        );
        assert_eq!(text(&o.stdout), "1000\n", "{}", text(&o.stderr));
        // The root is read-only unless asked; a writable root changes no
        // layer.
        let o = stockade(
            &store,
            &["--image", "plain:1", "--", "/bin/touch", "/etc/x"],
        );
        assert!(!o.status.success());
        assert!(
            text(&o.stderr).contains("Read-only file system"),
            "{}",
            text(&o.stderr)
        );
        let o = stockade(
            &store,
            &[
                "--image",
                "plain:1",
                "--writable-root",
                "--",
                "/bin/sh",
                "-c",
                "echo changed > /etc/version && cat /etc/version",
            ],
        );
        assert_eq!(text(&o.stdout), "changed\n", "{}", text(&o.stderr));
        let o = stockade(
            &store,
            &["--image", "plain:1", "--", "/bin/cat", "/etc/version"],
        );
        assert_eq!(text(&o.stdout), "1\n", "{}", text(&o.stderr));
        // An image without entrypoint or command needs PROGRAM.
        let o = stockade(&store, &["--image", "plain:1"]);
        assert_eq!(o.status.code(), Some(125));
        assert!(
            text(&o.stderr).contains("names no entrypoint or command"),
            "{}",
            text(&o.stderr)
        );

        // A container of the image: its execs get the image's user,
        // working directory and environment.
        let name = format!("img-{}", std::process::id());
        let o = stockade(&store, &["start", &name, "--image", "app:1"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let o = stockade(
            &store,
            &[
                "exec",
                &name,
                "--",
                "/bin/sh",
                "-c",
                "echo $(id -u) $(pwd) $GREETING",
            ],
        );
        let o2 = stockade(&store, &["stop", &name]);
        assert_eq!(
            text(&o.stdout),
            "1000 /home/app hello\n",
            "{}",
            text(&o.stderr)
        );
        assert!(o2.status.success(), "{}", text(&o2.stderr));

        // rm and gc: the shared layer stays while an image uses it.
        let o = stockade(&store, &["image", "rm", "app:1"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let o = stockade(&store, &["image", "gc"]);
        assert!(
            text(&o.stdout).starts_with("removed 1 layers"),
            "{}",
            text(&o.stdout)
        );
        let o = stockade(&store, &["image", "rm", "plain"]);
        assert_eq!(
            o.status.code(),
            Some(125),
            "plain is plain:latest, not plain:1"
        );
        let o = stockade(&store, &["image", "rm", "plain:1"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let o = stockade(&store, &["image", "gc"]);
        assert!(
            text(&o.stdout).starts_with("removed 1 layers"),
            "{}",
            text(&o.stdout)
        );
        assert_eq!(std::fs::read_dir(store.join("layers")).unwrap().count(), 0);
    });
}

#[test]
fn image_and_bundle_mistakes_are_one_line_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let bundle = dir.path().join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
    std::fs::write(
        bundle.join("config.json"),
        r#"{"ociVersion": "1.0.2", "process": {"args": ["true"], "cwd": "/"},
            "root": {"path": "rootfs"}, "hooks": {"poststop": [{"path": "/bin/true"}]},
            "linux": {"namespaces": [{"type": "user"}, {"type": "mount"}]}}"#,
    )
    .unwrap();
    let b = bundle.to_str().unwrap();
    for (args, says) in [
        (
            &["--image", "nosuch:1"][..],
            "--image nosuch:1: failed to find image",
        ),
        (
            &["--image", "x", "--rootfs", "/", "true"][..],
            "options --rootfs and --image conflict",
        ),
        (
            &["--rootfs", "/", "--bundle", b][..],
            "options --rootfs and --bundle conflict",
        ),
        (
            &["--entrypoint", "/bin/sh", "true"][..],
            "option --entrypoint needs --image",
        ),
        (
            &["--bundle", b, "true"][..],
            "options --bundle and PROGRAM conflict",
        ),
        (&["--bundle", b][..], "failed to lower hooks"),
        (&["--bundle", "/nonexistent"][..], "--bundle /nonexistent"),
        (&["image", "import"][..], "image import"),
        (&["image", "frob"][..], "import, list, rm or gc"),
        (
            &["image", "import", "/nonexistent"][..],
            "image import /nonexistent",
        ),
        (&["run"][..], "no program given"),
    ] {
        let o = stockade(&store, args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn a_bundle_runs_its_process_with_the_options_on_top() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        let root = bundle.join("rootfs");
        let busybox = common::debian_package("busybox", "busybox-static").expect("busybox");
        for d in ["bin", "proc", "dev", "tmp"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        for a in ["sh", "echo", "id", "hostname"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
        }
        let me = nix::unistd::geteuid().as_raw();
        let config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "args": ["sh", "-c", "echo $(id -u) $(hostname) $WHO"],
                "env": ["PATH=/bin", "WHO=bundle"],
                "cwd": "/",
                "user": {"uid": 0, "gid": 0}
            },
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "from-bundle",
            "mounts": [
                {"destination": "/proc", "type": "proc"},
                {"destination": "/dev", "type": "tmpfs", "options": ["nosuid", "mode=755"]}
            ],
            "linux": {
                "namespaces": [{"type": "user"}, {"type": "mount"}, {"type": "pid"},
                               {"type": "uts"}, {"type": "ipc"}, {"type": "network"}],
                "uidMappings": [{"containerID": 0, "hostID": me, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": nix::unistd::getegid().as_raw(), "size": 1}]
            }
        });
        std::fs::write(bundle.join("config.json"), config.to_string()).unwrap();
        let o = Command::new(cli_binary())
            .args(["run", "--bundle", bundle.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(
            text(&o.stdout),
            "0 from-bundle bundle\n",
            "{}",
            text(&o.stderr)
        );
        let o = Command::new(cli_binary())
            .args([
                "--bundle",
                bundle.to_str().unwrap(),
                "--setenv",
                "WHO",
                "option",
                "--hostname",
                "h2",
            ])
            .output()
            .unwrap();
        assert_eq!(text(&o.stdout), "0 h2 option\n", "{}", text(&o.stderr));
    });
}

/// Sha256 of a file, streamed, as `sha256:HEX`.
fn file_digest(path: &Path) -> String {
    use std::io::Read;
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Appends the tree at `dir` (relative name `rel`) to a layer, with the
/// owners `shift` gives; device nodes, fifos and sockets are left out (a
/// layer's /dev comes from the runtime).
fn add_tree<W: std::io::Write>(
    b: &mut tar::Builder<W>,
    dir: &Path,
    rel: &str,
    shift: &dyn Fn(u32) -> u32,
) {
    use std::os::unix::fs::MetadataExt;
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = format!("{rel}{}", e.file_name().to_string_lossy());
        let m = std::fs::symlink_metadata(&path).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_uid(u64::from(shift(m.uid())));
        h.set_gid(u64::from(shift(m.gid())));
        h.set_mode(m.mode() & 0o7777);
        h.set_mtime(m.mtime().max(0) as u64);
        let ft = m.file_type();
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, format!("{name}/"), std::io::empty())
                .unwrap();
            add_tree(b, &path, &format!("{name}/"), shift);
        } else if ft.is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, &name, std::fs::read_link(&path).unwrap())
                .unwrap();
        } else if ft.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(m.len());
            b.append_data(&mut h, &name, std::fs::File::open(&path).unwrap())
                .unwrap();
        }
    }
}

/// The Debian bookworm userland the system-container tests boot (built by
/// tests/vm/run with mmdebstrap) made into an image by the test: one
/// gzip layer of the whole tree, its owners shifted back, a configuration
/// with a user of the image's own passwd, a working directory and an
/// environment. `--image` runs Debian's own programs with them.
#[test]
#[cfg_attr(
    not(stockade_vm),
    ignore = "needs the Debian userland tests/vm/run builds; tests/vm/run runs it"
)]
fn a_debian_userland_runs_as_an_image_as_root() {
    common::as_root(|| {
        let Some((tree, sub_uid, sub_gid)) = common::system_tree() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let lay = dir.path().join("debian-layout");
        std::fs::create_dir_all(lay.join("blobs/sha256")).unwrap();
        // The tree's owners as tests/vm/run shifted them: 0 to uid 1000,
        // n to the n-th of 1000's subordinate ids.
        assert_eq!(sub_uid, sub_gid, "the tree's uid and gid shifts differ");
        let shift = move |id: u32| match id {
            1000 => 0,
            id if id >= sub_uid => id - sub_uid + 1,
            id => id,
        };
        let tmp = lay.join("layer.tmp");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&tmp).unwrap(),
            flate2::Compression::fast(),
        );
        // The diff id is the uncompressed layer's digest: hash it as it is
        // written.
        struct Hashing<W>(W, Sha256);
        impl<W: std::io::Write> std::io::Write for Hashing<W> {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                let n = self.0.write(b)?;
                self.1.update(&b[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.0.flush()
            }
        }
        let mut b = tar::Builder::new(Hashing(gz, Sha256::new()));
        add_tree(&mut b, Path::new(&tree), "", &shift);
        let Hashing(gz, hasher) = b.into_inner().unwrap();
        gz.finish().unwrap();
        let hex: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let digest = file_digest(&tmp);
        let size = std::fs::metadata(&tmp).unwrap().len();
        std::fs::rename(
            &tmp,
            lay.join("blobs/sha256").join(&digest["sha256:".len()..]),
        )
        .unwrap();
        layout_of(
            &lay,
            "debian",
            vec![serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest, "size": size
            })],
            vec![format!("sha256:{hex}")],
            serde_json::json!({
                "Entrypoint": ["/bin/sh", "-c"],
                "User": "nobody",
                "WorkingDir": "/var/tmp",
                "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FROM_IMAGE=yes"],
            }),
        );

        let store = dir.path().join("store");
        let o = stockade(&store, &["image", "import", lay.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        // The layout is not needed once imported: keep the VM's /tmp small.
        std::fs::remove_dir_all(&lay).unwrap();
        let o = stockade(
            &store,
            &[
                "run",
                "--image",
                "debian:1",
                "--",
                "cat /etc/debian_version | cut -d. -f1; id -un; pwd; echo $FROM_IMAGE; \
                 dpkg-query -W -f '${Status}' systemd",
            ],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(
            text(&o.stdout),
            "12\nnobody\n/var/tmp\nyes\ninstall ok installed"
        );
        // The layer keeps the image's owners: root's files, and the shadow
        // group's (42) /etc/shadow.
        let layer = std::fs::read_dir(store.join("layers"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("etc/shadow").exists())
            .expect("the layer in the store");
        use std::os::unix::fs::MetadataExt;
        let apt = std::fs::symlink_metadata(layer.join("usr/bin/apt")).unwrap();
        assert_eq!((apt.uid(), apt.gid()), (0, 0));
        let shadow = std::fs::symlink_metadata(layer.join("etc/shadow")).unwrap();
        assert_eq!((shadow.uid(), shadow.gid()), (0, 42));
    });
}
