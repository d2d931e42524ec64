//! `--image`, `--bundle` and `stockade image`: where the root, the program
//! and their defaults come from when they are not the host's.

use std::ffi::OsString;
use std::process::ExitCode;

use stockade::image::{Image, Store};
use stockade::oci::Bundle;
use stockade::{Command, Sandbox};

use crate::args::{self, ImageCommand};

/// Where the sandbox's root and program come from.
pub enum Origin {
    /// The host's system view, or `--rootfs`.
    Host,
    /// `--image REF`, found in the image store.
    Image(Box<Image>),
    /// `--bundle DIR`, its `config.json` lowered.
    Bundle(Box<Bundle>),
}

/// The image store: `$STOCKADE_IMAGES`, else the user's cache directory.
pub fn store() -> Result<Store, String> {
    let dir = Store::default_dir()
        .ok_or("no image store: set STOCKADE_IMAGES, XDG_CACHE_HOME or HOME")?;
    Store::open(&dir).map_err(|e| crate::one_line(&e))
}

/// Finds what `--image` or `--bundle` names, in the words of the option.
pub fn origin(opts: &args::Options) -> Result<Origin, String> {
    if let Some(reference) = &opts.image {
        let image = store()
            .and_then(|s| s.get(reference).map_err(|e| crate::one_line(&e)))
            .map_err(|e| format!("--image {reference}: {e}"))?;
        return Ok(Origin::Image(Box::new(image)));
    }
    if let Some(dir) = &opts.bundle {
        let bundle = Bundle::load(dir)
            .map_err(|e| format!("--bundle {}: {}", dir.display(), crate::one_line(&e)))?;
        return Ok(Origin::Bundle(Box::new(bundle)));
    }
    Ok(Origin::Host)
}

/// The sandbox an origin starts from, before the options: a bundle's
/// policy, or an image's layers as a read-only root run as the image's
/// user (root, as Docker has it, when the image names none).
pub fn base(origin: &Origin, reference: Option<&str>) -> Result<Option<Sandbox>, String> {
    match origin {
        Origin::Host => Ok(None),
        Origin::Bundle(b) => Ok(Some(b.sandbox().clone())),
        Origin::Image(img) => {
            let mut sb = Sandbox::new();
            sb.root_layers(img.layer_dirs());
            let user = img.config().user.as_deref().unwrap_or("");
            let (uid, gid) = if user.is_empty() {
                (0, 0)
            } else {
                img.resolve_user(user).map_err(|e| {
                    format!(
                        "--image {}: {}",
                        reference.unwrap_or(""),
                        crate::one_line(&e)
                    )
                })?
            };
            sb.uid(uid).gid(gid);
            if let Some(sig) = img.config().stop_signal.as_deref() {
                if let Some(n) = signal_number(sig) {
                    sb.stop_signal(n);
                }
            }
            Ok(Some(sb))
        }
    }
}

/// `SIGTERM`, `TERM` or `15`.
fn signal_number(name: &str) -> Option<i32> {
    if let Ok(n) = name.parse::<i32>() {
        return Some(n);
    }
    let full = if name.starts_with("SIG") {
        name.to_owned()
    } else {
        format!("SIG{name}")
    };
    full.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

/// The program an image runs: the entrypoint (or `--entrypoint`) followed
/// by the image's command, which PROGRAM and ARGS replace (`--entrypoint`
/// drops it too, as Docker does); the image's environment under the
/// options' `--setenv`, its working directory unless `--chdir`.
pub fn image_command(opts: &args::Options, img: &Image) -> Result<Command, String> {
    let cfg = img.config();
    let mut argv: Vec<OsString> = match &opts.entrypoint {
        Some(e) => vec![e.clone()],
        None => cfg.entrypoint.iter().map(OsString::from).collect(),
    };
    if !opts.program.is_empty() {
        argv.push(opts.program.clone());
        argv.extend(opts.args.iter().cloned());
    } else if opts.entrypoint.is_none() {
        argv.extend(cfg.cmd.iter().map(OsString::from));
    }
    let Some((program, args)) = argv.split_first() else {
        return Err(format!(
            "--image {}: the image names no entrypoint or command; give PROGRAM after the options",
            opts.image.as_deref().unwrap_or("")
        ));
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    for kv in &cfg.env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    for (k, v) in &opts.setenv {
        cmd.env(k, v);
    }
    for k in &opts.unsetenv {
        cmd.env_remove(k);
    }
    match (&opts.chdir, cfg.working_dir.as_deref()) {
        (Some(d), _) => {
            cmd.current_dir(d);
        }
        (None, Some(d)) if !d.is_empty() => {
            cmd.current_dir(d);
        }
        _ => {
            cmd.current_dir("/");
        }
    }
    Ok(cmd)
}

/// A bundle's program (`process.args`, `env`, `cwd`) with the options'
/// `--setenv`, `--unsetenv` and `--chdir` on top.
pub fn bundle_command(opts: &args::Options, b: &Bundle) -> Command {
    let mut cmd = b.command();
    crate::apply_env_and_dir(&mut cmd, opts);
    cmd
}

/// `stockade image ...`.
pub fn main(cmd: &ImageCommand) -> ExitCode {
    match run(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stockade: {e}");
            ExitCode::from(125)
        }
    }
}

fn run(cmd: &ImageCommand) -> Result<(), String> {
    let store = store()?;
    match cmd {
        ImageCommand::Import { path, name } => {
            let imported = store
                .import(path, name.as_deref())
                .map_err(|e| format!("image import {}: {}", path.display(), crate::one_line(&e)))?;
            for img in &imported.images {
                println!("{} {}", img.reference(), img.digest());
            }
            for s in &imported.skipped {
                eprintln!(
                    "stockade: image import: skipped {} in layer {} ({})",
                    s.entry.display(),
                    s.blob,
                    s.reason
                );
            }
            eprintln!(
                "stockade: image import: {} layers unpacked, {} already in the store",
                imported.layers_unpacked, imported.layers_reused
            );
            Ok(())
        }
        ImageCommand::List { json } => {
            let images = store.list().map_err(|e| crate::one_line(&e))?;
            if *json {
                let list: Vec<_> = images
                    .iter()
                    .map(|i| {
                        serde_json::json!({
                            "reference": i.reference(),
                            "digest": i.digest(),
                            "layers": i.layer_dirs().len(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for i in &images {
                    println!(
                        "{:<40} {} {} layers",
                        i.reference(),
                        i.digest(),
                        i.layer_dirs().len()
                    );
                }
            }
            Ok(())
        }
        ImageCommand::Remove { references } => {
            for r in references {
                store
                    .remove(r)
                    .map_err(|e| format!("image rm {r}: {}", crate::one_line(&e)))?;
            }
            Ok(())
        }
        ImageCommand::Gc => {
            let gc = store.gc().map_err(|e| crate::one_line(&e))?;
            println!(
                "removed {} layers, {} blobs and {} leftovers of interrupted imports; {} bytes freed",
                gc.layers.len(),
                gc.blobs.len(),
                gc.temporaries,
                gc.bytes_freed
            );
            Ok(())
        }
    }
}
