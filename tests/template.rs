//! The template mount namespace: from a policy's second spawn on, the static
//! part of the root filesystem is a copy of one built once. The sandbox must
//! not be able to tell, except that the copied mounts are locked.

mod common;

use common::{as_each_identity, chain, fd_list, sh};
use stockade::{Sandbox, Stdio, caps};

/// Runs `script` and returns (whether the root started from the template,
/// exit success, stdout, stderr).
fn run(sb: &Sandbox, script: &str) -> (bool, bool, String, String) {
    let mut cmd = sh(script);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = sb
        .spawn(&mut cmd)
        .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
    let from_template = child.enforcement().filesystem_template;
    let out = child.wait_with_output().unwrap();
    (
        from_template,
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What a program can observe of its filesystem: the mounts (point, flags,
/// type), the kind and mode of well-known paths, and which are writable.
const VIEW: &str = "awk '{ for (i = 7; $i != \"-\"; i++) ; print $5, $6, $(i+1) }' /proc/self/mountinfo | sort -u; \
    for p in / /bin /lib /usr /etc /etc/shadow /etc/ssl/private /dev /dev/null /dev/tty /dev/ptmx /dev/fd /dev/pts /dev/shm /proc /proc/sys /proc/kcore /proc/keys /tmp /w /w/sub /w/file /link /extra; do \
      [ -e $p ] || [ -L $p ] || { echo $p missing; continue; }; \
      echo $p $(stat -c '%F %a' $p); \
    done; \
    for d in / /tmp /dev /dev/shm /etc /w /w/sub; do touch $d/.probe 2>/dev/null && echo $d writable; done; \
    cat /w/file; readlink /link; ls /extra | head -3; \
    grep -c . /proc/self/uid_map; id -u; id -g";

#[test]
fn later_spawns_copy_the_template_and_see_the_same_filesystem() {
    as_each_identity(|| {
        let work = tempfile::tempdir().unwrap();
        std::fs::create_dir(work.path().join("sub")).unwrap();
        let mut sb = Sandbox::new();
        sb.bind_rw(work.path(), "/w")
            .file("/w/file", "contents\n")
            .symlink("/tmp", "/link")
            .bind_ro("/usr/share", "/extra")
            .mask("/etc/hostname");
        let (t1, ok1, first, err1) = run(&sb, VIEW);
        assert!(ok1 && !t1, "first spawn: template {t1}\n{first}\n{err1}");
        let (t2, ok2, second, err2) = run(&sb, VIEW);
        assert!(
            t2,
            "the second spawn of a splittable policy starts from the template"
        );
        assert!(ok2, "{second}\n{err2}");
        assert_eq!(first, second, "the two ways must give the same view");
        assert!(second.contains("/tmp writable") && second.contains("/dev/shm writable"));
        assert!(!second.contains("/ writable") && !second.contains("/dev writable"));
        assert!(second.contains("/w writable") && second.contains("contents"));
        // Writes through the rw bind reach the host, as before.
        let (_, ok3, _, _) = run(&sb, "echo out > /w/sub/result");
        assert!(ok3);
        assert_eq!(
            std::fs::read_to_string(work.path().join("sub/result")).unwrap(),
            "out\n"
        );
    });
}

#[test]
fn template_mounts_are_locked_and_hide_no_host_processes() {
    as_each_identity(|| {
        // A program that kept CAP_SYS_ADMIN (in its user namespace) and has
        // no seccomp filter: the most it can do to its mounts.
        let mut sb = Sandbox::new();
        sb.keep_capability(caps::Capability::SysAdmin);
        #[cfg(feature = "seccomp")]
        sb.seccomp(None);
        let script = "umount /etc/shadow 2>&1 && echo UNMOUNTED-MASK; \
                      umount -l /usr 2>&1 && echo UNMOUNTED-USR; \
                      mount -o remount,rw / 2>&1 && echo REMOUNTED-ROOT; \
                      umount -l /proc && echo proc-unmounted; \
                      ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '; echo; \
                      echo caller=$CALLER";
        run(&sb, "true");
        let mut cmd = sh(script);
        cmd.env("CALLER", std::process::id().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = sb.spawn(&mut cmd).unwrap();
        assert!(child.enforcement().filesystem_template);
        let out = child.wait_with_output().unwrap();
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{out}");
        assert!(
            !out.contains("UNMOUNTED"),
            "copied mounts are locked: {out}"
        );
        assert!(!out.contains("REMOUNTED"), "{out}");
        // The sandbox's own /proc is not locked: under it lies the
        // template's, of an empty pid namespace, with no process at all.
        assert!(out.contains("proc-unmounted"), "{out}");
        let pids_line = out
            .lines()
            .skip_while(|l| *l != "proc-unmounted")
            .nth(1)
            .unwrap_or("");
        assert_eq!(pids_line.trim(), "", "processes visible: {out}");
    });
}

#[test]
fn plans_that_do_not_split_are_built_whole() {
    as_each_identity(|| {
        // A caller's tmpfs is built per spawn (not split).
        let mut tmpfs = Sandbox::new();
        tmpfs.tmpfs("/scratch", Default::default());
        // A bind destination reached through a symlink into /tmp: the
        // template cannot hold it (its /tmp is not there yet), so the
        // policy falls back to building the whole plan, with the same
        // result as ever.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("marker"), "m").unwrap();
        let mut through = Sandbox::new();
        through.symlink("/tmp", "/t").bind_ro(dir.path(), "/t/x");
        for sb in [&tmpfs, &through] {
            for _ in 0..3 {
                let (t, ok, out, err) = run(sb, "ls /tmp/x /scratch 2>/dev/null; true");
                assert!(ok, "{out}\n{err}");
                assert!(!t, "not from a template: {out}");
            }
        }
        let (_, _, out, _) = run(&through, "cat /tmp/x/marker");
        assert_eq!(out, "m");
    });
}

#[test]
fn dropping_a_policy_releases_its_template() {
    as_each_identity(|| {
        // Once-per-process state (probes, the lifeline) first.
        let warm = Sandbox::new();
        run(&warm, "true");
        let before = fd_list();
        {
            let sb = Sandbox::new();
            for _ in 0..3 {
                run(&sb, "true");
            }
            let (t, ..) = run(&sb, "true");
            assert!(t);
            assert!(
                fd_list().len() > before.len(),
                "the policy holds its template"
            );
        }
        assert_eq!(fd_list(), before);
    });
}

/// Spawns a long-running program and returns whether its root came from the
/// template, and the identity (device, inode) of the parent of its user
/// namespace: the template's, when it came from one.
fn parent_user_ns(sb: &Sandbox) -> (bool, (u64, u64)) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::MetadataExt;
    // NS_GET_PARENT, _IO(0xb7, 0x2) in linux/nsfs.h.
    const NS_GET_PARENT: libc::c_ulong = 0xb702;
    let mut cmd = stockade::Command::new("/bin/sleep");
    cmd.arg("100").stdin(Stdio::null());
    let mut child = sb
        .spawn(&mut cmd)
        .unwrap_or_else(|e| panic!("spawn failed: {}", chain(&e)));
    let from_template = child.enforcement().filesystem_template;
    let ns = std::fs::File::open(format!("/proc/{}/ns/user", child.id())).unwrap();
    // SAFETY: ioctl on a live nsfs descriptor; it returns a new descriptor.
    let parent = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_PARENT) };
    assert!(parent >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: NS_GET_PARENT returned a descriptor we now own.
    let parent = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(parent) });
    let m = parent.metadata().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    (from_template, (m.dev(), m.ino()))
}

/// A template built from a policy with a bind serves the next spawns, its
/// user namespace the parent of theirs.
fn spawn_twice_from_a_template(sb: &Sandbox) -> (u64, u64) {
    let (t, _) = parent_user_ns(sb);
    assert!(!t, "the first spawn builds the whole root");
    let (t1, ns1) = parent_user_ns(sb);
    let (t2, ns2) = parent_user_ns(sb);
    assert!(t1 && t2);
    assert_eq!(ns1, ns2, "rebuilt although nothing changed");
    ns2
}

#[test]
fn a_template_is_kept_while_the_callers_mounts_stay() {
    as_each_identity(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut sb = Sandbox::new();
        sb.bind_ro(dir.path(), "/data");
        spawn_twice_from_a_template(&sb);
    });
}

/// Only a privileged caller can change its own mount table here (the test
/// process has threads, so it cannot enter a user namespace of its own).
#[test]
fn a_template_is_rebuilt_when_the_callers_mounts_change_as_root() {
    common::as_root(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        // This thread's own mount namespace, so that the mounts below stay
        // out of the host's. Built from here, the template must follow this
        // namespace.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap();
        let mut sb = Sandbox::new();
        sb.bind_ro(dir.path(), "/data");
        let ns2 = spawn_twice_from_a_template(&sb);
        // A mount under the bound directory, made after the template.
        nix::mount::mount(
            Some("tmpfs"),
            &dir.path().join("sub"),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        std::fs::write(dir.path().join("sub/new"), "fresh").unwrap();
        let (t3, ns3) = parent_user_ns(&sb);
        assert!(t3);
        assert_ne!(ns3, ns2, "the template was not rebuilt");
        let (t, ok, out, err) = run(&sb, "cat /data/sub/new");
        assert!(t && ok, "{out}\n{err}");
        assert_eq!(out, "fresh");
        let (_, ns4) = parent_user_ns(&sb);
        assert_eq!(ns4, ns3, "rebuilt again without a change");

        // Moving to another mount namespace, where the mount is not.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        nix::mount::umount(&dir.path().join("sub")).unwrap();
        let (t5, ns5) = parent_user_ns(&sb);
        assert!(t5);
        assert_ne!(ns5, ns4, "a template of another mount namespace was used");
        let (_, ok, out, _) = run(&sb, "ls /data/sub");
        assert!(ok);
        assert_eq!(out, "", "the old namespace's mount shows");
    });
}

/// Replaces `path` (a file) by renaming a new file with `contents` over it,
/// as editors and package managers do.
fn replace_file(path: &std::path::Path, contents: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_template_follows_bind_sources_replaced_on_the_host() {
    as_each_identity(|| {
        let base = tempfile::tempdir().unwrap();
        let out = base.path().join("out");
        let file = base.path().join("file");
        let src = base.path().join("src");
        let other = base.path().join("other");
        for d in [&out, &src, &other] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::write(out.join("old"), "").unwrap();
        std::fs::write(&file, "v1\n").unwrap();
        std::fs::write(src.join("a"), "").unwrap();
        std::fs::write(other.join("b"), "").unwrap();
        let policy = || {
            let mut sb = Sandbox::new();
            sb.bind_rw(&out, "/out")
                .bind_ro(&file, "/f")
                .bind_ro(&src, "/s");
            sb
        };
        let sb = policy();
        sb.validate().unwrap();
        let script = "ls /out; cat /f; ls /s; echo w > /out/written && echo wrote";
        let (_, ok, before, err) = run(&sb, script);
        assert!(ok, "{before}\n{err}");
        let (t, ok, again, err) = run(&sb, script);
        assert!(t && ok, "template {t}: {again}\n{err}");
        assert_eq!(again, "old\nwritten\nv1\na\nwrote\n");

        // An output directory recreated, a file replaced by a rename, a
        // source swapped for a symlink to another directory.
        std::fs::remove_dir_all(&out).unwrap();
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("new"), "").unwrap();
        replace_file(&file, "v2\n");
        std::fs::remove_dir_all(&src).unwrap();
        std::os::unix::fs::symlink(&other, &src).unwrap();

        let (t, ok, after, err) = run(&sb, script);
        assert!(ok, "{after}\n{err}");
        let (_, ok, fresh, err) = run(&policy(), "ls /out; cat /f; ls /s");
        assert!(ok, "{fresh}\n{err}");
        assert_eq!(fresh, "new\nwritten\nv2\nb\n", "a fresh policy");
        assert_eq!(after, "new\nv2\nb\nwrote\n", "the policy used before");
        assert!(t, "the template is rebuilt, not given up");
        assert!(
            out.join("written").exists(),
            "the write reached the new /out"
        );
        let (t, _, _, _) = run(&sb, "true");
        assert!(t);
    });
}

#[test]
fn a_template_keeps_masking_and_making_what_the_host_replaced() {
    as_each_identity(|| {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("d");
        let work = base.path().join("w");
        std::fs::create_dir(&dir).unwrap();
        std::fs::create_dir(&work).unwrap();
        std::fs::write(dir.join("secret"), "s1\n").unwrap();
        let policy = || {
            let mut sb = Sandbox::new();
            sb.bind_ro(&dir, "/d")
                .mask("/d/secret")
                .mask("/d/later")
                .bind_rw(&work, "/w")
                .dir("/w/made");
            sb
        };
        let sb = policy();
        let script = "cat /d/secret 2>/dev/null || echo secret-hidden; \
                      cat /d/later 2>/dev/null || echo later-hidden; \
                      [ -d /w/made ] && echo made || echo not-made";
        let (_, ok, first, err) = run(&sb, script);
        assert!(ok, "{first}\n{err}");
        let (t, ok, second, err) = run(&sb, script);
        assert!(t && ok, "template {t}: {second}\n{err}");
        assert_eq!(first, second);
        assert_eq!(second, "secret-hidden\nlater-hidden\nmade\n");

        // The masked file replaced by a rename, a file created where a
        // mask found nothing, and a directory the policy makes removed.
        replace_file(&dir.join("secret"), "s2\n");
        std::fs::write(dir.join("later"), "l\n").unwrap();
        std::fs::remove_dir(work.join("made")).unwrap();

        // (The policy used before first: a fresh one makes the directory.)
        let (t, ok, after, err) = run(&sb, script);
        assert!(ok, "{after}\n{err}");
        let (_, ok, fresh, err) = run(&policy(), script);
        assert!(ok, "{fresh}\n{err}");
        assert_eq!(
            fresh, "secret-hidden\nlater-hidden\nmade\n",
            "a fresh policy"
        );
        assert_eq!(after, fresh, "the policy used before");
        assert!(t, "the template is rebuilt, not given up");
    });
}

#[test]
fn a_template_keeps_masking_and_binding_where_the_host_renamed_things_away() {
    as_each_identity(|| {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("d");
        let data = base.path().join("data");
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::create_dir(&data).unwrap();
        std::fs::write(dir.join("secret"), "s1\n").unwrap();
        std::fs::write(dir.join("conf/key"), "k1\n").unwrap();
        std::fs::write(data.join("x"), "bound\n").unwrap();
        let policy = || {
            let mut sb = Sandbox::new();
            sb.bind_rw(&dir, "/d")
                .mask("/d/secret")
                .mask("/d/conf/key")
                .bind_ro(&data, "/d/data");
            sb
        };
        let sb = policy();
        let script = "cat /d/secret 2>/dev/null || echo secret-hidden; \
                      cat /d/conf/key 2>/dev/null || echo key-hidden; \
                      cat /d/data/x 2>/dev/null || echo no-data";
        let (_, ok, first, err) = run(&sb, script);
        assert!(ok, "{first}\n{err}");
        let (t, ok, second, err) = run(&sb, script);
        assert!(t && ok, "template {t}: {second}\n{err}");
        assert_eq!(second, "secret-hidden\nkey-hidden\nbound\n");

        // What a mask or a bind covers, renamed away (its mount goes with
        // it) and made again: an editor keeping a backup, a configuration
        // directory swapped for a new one, a directory moved aside.
        std::fs::rename(dir.join("secret"), dir.join("secret.bak")).unwrap();
        std::fs::write(dir.join("secret"), "s2\n").unwrap();
        std::fs::rename(dir.join("conf"), dir.join("conf.old")).unwrap();
        std::fs::create_dir(dir.join("conf")).unwrap();
        std::fs::write(dir.join("conf/key"), "k2\n").unwrap();
        std::fs::rename(dir.join("data"), dir.join("data.old")).unwrap();
        std::fs::create_dir(dir.join("data")).unwrap();

        let (t, ok, after, err) = run(&sb, script);
        assert!(ok, "{after}\n{err}");
        let (_, ok, fresh, err) = run(&policy(), script);
        assert!(ok, "{fresh}\n{err}");
        assert_eq!(
            fresh, "secret-hidden\nkey-hidden\nbound\n",
            "a fresh policy"
        );
        assert_eq!(after, fresh, "the policy used before");
        assert!(t, "the template is rebuilt, not given up");
    });
}

/// Fills this process's descriptor table (under a soft limit of 256) but for
/// `free` slots; the descriptors go when the returned value is dropped.
fn fill_descriptor_table(free: usize) -> Vec<std::os::fd::OwnedFd> {
    use std::os::fd::AsFd;
    let (soft, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    if soft > 256 {
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 256, hard)
            .unwrap();
    }
    let null: std::os::fd::OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let mut held = Vec::new();
    loop {
        match null.as_fd().try_clone_to_owned() {
            Ok(fd) => held.push(fd),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("{e}"),
        }
    }
    held.push(null);
    for _ in 0..free {
        held.pop();
    }
    held
}

#[test]
fn a_transient_failure_does_not_switch_the_template_off() {
    as_each_identity(|| {
        // At each possible point of a spawn, the descriptor table full: the
        // spawn may fail, and the template may fail to be built or entered,
        // but once descriptors are free again a later spawn uses it.
        // Every point; under emulation every third, the kernel's part of
        // the protocol being the same at each.
        for free in (0..24).step_by(if cfg!(stockade_vm) { 3 } else { 1 }) {
            // One policy whose template is built under the shortage, one
            // whose template was built before it.
            let fresh = Sandbox::new();
            let built = Sandbox::new();
            run(&fresh, "true");
            run(&built, "true");
            let (t, ..) = run(&built, "true");
            assert!(t);
            {
                let _held = fill_descriptor_table(free);
                for sb in [&fresh, &built] {
                    let mut cmd = sh("true");
                    cmd.stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    if let Ok(mut child) = sb.spawn(&mut cmd) {
                        child.wait().unwrap();
                    }
                }
            }
            for (name, sb) in [("fresh", &fresh), ("built", &built)] {
                // The bound the documentation gives for one failure.
                let used = (0..4).map(|_| run(sb, "true").0).collect::<Vec<_>>();
                assert!(
                    used.last() == Some(&true),
                    "{name} policy, {free} descriptors free: template use after the failure {used:?}"
                );
            }
        }
    });
}

#[test]
fn a_bind_source_missing_for_a_while_does_not_switch_the_template_off() {
    as_each_identity(|| {
        let base = tempfile::tempdir().unwrap();
        let out = base.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let mut sb = Sandbox::new();
        sb.bind_rw(&out, "/out");
        run(&sb, "true");
        assert!(run(&sb, "true").0);
        // A build tool's output directory, gone between two builds (then a
        // file in its place): every spawn fails meanwhile, as a fresh
        // policy's would. More spawns than the retries a template that
        // fails to be built is given.
        std::fs::remove_dir(&out).unwrap();
        for i in 0..150 {
            if i == 100 {
                std::fs::write(&out, "").unwrap();
            }
            let mut cmd = sh("true");
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            assert!(sb.spawn(&mut cmd).is_err(), "spawn {i} found no source");
        }
        std::fs::remove_file(&out).unwrap();
        std::fs::create_dir(&out).unwrap();
        let (t, ok, _, err) = run(&sb, "echo x > /out/y");
        assert!(ok, "{err}");
        assert!(t, "the template is not used once the source is back");
        assert!(out.join("y").exists());
    });
}
