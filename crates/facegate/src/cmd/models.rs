//! `facegate setup` and `facegate models ...`.

use std::process::ExitCode;

use anyhow::Context;
use facegate_models::pack::{self, FetchOptions};
use facegate_models::runtime;
use serde_json::json;

use super::Ctx;
use crate::cli::{ModelsCommand, SetupArgs};
use crate::output::print_json;

fn fetch_options(from: Option<std::path::PathBuf>) -> FetchOptions {
    let cache_dir = std::env::var_os("FACEGATE_DOWNLOAD_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| ".".into());
            home.join(".cache/facegate/downloads")
        });
    FetchOptions {
        cache_dir,
        from_dir: from,
    }
}

pub fn setup(ctx: &Ctx, args: SetupArgs) -> anyhow::Result<ExitCode> {
    let options = fetch_options(args.from.clone());
    // The database and keys will live here too: the directory starts
    // closed to other users (`facegate doctor` checks it), whoever creates it.
    facegate_server::datadir::create_private_dir(&ctx.data_dir)
        .with_context(|| format!("creating the data dir {}", ctx.data_dir.display()))?;
    let runtime_path = match facegate_vision::runtime::locate(&ctx.data_dir) {
        Ok(path) => path,
        Err(_) => runtime::install(&ctx.data_dir, &options).context("installing ONNX Runtime")?,
    };
    eprintln!("ONNX Runtime: {}", runtime_path.display());
    if ctx.pack_is_auto {
        install_preferred(pack::AUTO_PREFERENCE, |name| install(ctx, name, &options))?;
    } else {
        install(ctx, &ctx.pack, &options)?;
    }
    for name in args.with_packs {
        install(ctx, &name, &options)?;
    }
    // `/docs` serves these; like the packs they come pinned from a registry.
    let docs = facegate_models::swagger_ui::install(&ctx.data_dir, &options)
        .context("installing Swagger UI (npm swagger-ui-dist) for /docs")?;
    eprintln!(
        "Swagger UI {}: {}",
        facegate_models::swagger_ui::VERSION,
        docs.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Install the first of `preference` (best first) that installs, saying why
/// each one before it could not be, and which pack `auto` then runs. The
/// last one's failure is the error. Returns the pack installed.
fn install_preferred<'a>(
    preference: &[&'a str],
    mut install: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<&'a str> {
    let Some((last, better)) = preference.split_last() else {
        anyhow::bail!("no pack to install");
    };
    for (i, name) in better.iter().enumerate() {
        match install(name) {
            Ok(()) => return Ok(name),
            Err(error) => {
                let next = preference[i + 1];
                eprintln!(
                    "pack {name}: not installed: {}\n\
                     pack {name}: installing {next} instead (`auto` will use it). To add {name} later: \
                     `facegate models install {name}` on a machine that reaches its download, or with \
                     `--from DIR`, a folder holding its files (see `facegate models info {name}`).",
                    error.root_cause()
                );
            }
        }
    }
    install(last)?;
    Ok(last)
}

fn install(ctx: &Ctx, name: &str, options: &FetchOptions) -> anyhow::Result<()> {
    let manifest = pack::builtin(name)?;
    // A verified install of the current version is kept: a definition that
    // changes what is installed gets a new version. Comparing whole manifests
    // would re-fetch (and, offline, fail) for a new download source alone.
    if let Ok(installed) = pack::verify(&ctx.data_dir, name)
        && installed.manifest.version == manifest.version
    {
        eprintln!(
            "pack {name}: already installed and verified at {}",
            installed.dir.display()
        );
        return Ok(());
    }
    eprintln!("pack {name}: installing…");
    let installed = pack::install(&manifest, &ctx.data_dir, options)
        .with_context(|| format!("installing pack {name}"))?;
    eprintln!(
        "pack {name}: installed and verified at {}",
        installed.dir.display()
    );
    Ok(())
}

/// One line on what `auto` runs: the pack, its detector and recognizers,
/// and its liveness model with the pack that supplies it.
fn print_auto(data_dir: &std::path::Path, auto: &str) {
    match pack::components(data_dir, auto) {
        Ok(c) => {
            let liveness = c.liveness.map_or_else(
                || format!("none (install {})", pack::LIVENESS_ADDON),
                |l| format!("{} from pack {}", serde_name(&l.kind), l.pack),
            );
            println!(
                "auto = {}: detector {}, recognizers {}, liveness {liveness}",
                c.pack,
                serde_name(&c.detector),
                c.recognizers.join(" + "),
            );
        }
        Err(_) => println!("auto = {auto}: not installed (`facegate setup` installs it)"),
    }
}

/// A manifest enum as `pack.toml` spells it.
fn serde_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn run(ctx: &Ctx, command: ModelsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ModelsCommand::List => {
            let installed = pack::installed_packs(&ctx.data_dir);
            let auto = pack::resolve(&ctx.data_dir, pack::AUTO);
            let rows: Vec<_> = pack::builtin_names()
                .into_iter()
                .filter_map(|n| pack::builtin(n).ok())
                .map(|m| {
                    let installed_version = installed
                        .contains(&m.name)
                        .then(|| pack::installed_manifest(&ctx.data_dir, &m.name).ok())
                        .flatten()
                        .map(|i| i.version);
                    // What the pack runs with once installed, liveness add-on included.
                    let components = installed
                        .contains(&m.name)
                        .then(|| pack::components(&ctx.data_dir, &m.name).ok())
                        .flatten();
                    json!({
                        "name": m.name,
                        "version": m.version,
                        "installed": installed.contains(&m.name),
                        "installed_version": installed_version,
                        "update_available": installed_version.as_ref().is_some_and(|v| *v != m.version),
                        "auto": m.name == auto,
                        "components": components,
                        "description": m.description,
                    })
                })
                .collect();
            if ctx.json {
                print_json(&rows)?;
            } else {
                print_auto(&ctx.data_dir, &auto);
                for row in rows {
                    let mark = if row["update_available"] == true {
                        "outdated"
                    } else if row["installed"] == true {
                        "installed"
                    } else {
                        "-"
                    };
                    println!(
                        "{:<14} {:<10} {}",
                        row["name"].as_str().unwrap_or(""),
                        mark,
                        row["description"].as_str().unwrap_or("")
                    );
                    if mark == "outdated" {
                        println!(
                            "{:<14} {:<10} installed version {}, this facegate defines {}: `facegate models install {}` updates it",
                            "",
                            "",
                            row["installed_version"].as_str().unwrap_or("?"),
                            row["version"].as_str().unwrap_or("?"),
                            row["name"].as_str().unwrap_or("")
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Install { name, from } => {
            let options = fetch_options(from);
            let manifest = pack::builtin(&name)?;
            let installed = pack::install(&manifest, &ctx.data_dir, &options)
                .with_context(|| format!("installing pack {name}"))?;
            if ctx.json {
                print_json(
                    &json!({"name": name, "dir": installed.dir, "files": installed.lock.files}),
                )?;
            } else {
                println!("installed {name} at {}", installed.dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Verify { name } => {
            let names = match name {
                Some(n) => vec![n],
                None => pack::installed_packs(&ctx.data_dir),
            };
            let mut failed = false;
            let mut rows = Vec::new();
            for name in names {
                match pack::verify(&ctx.data_dir, &name) {
                    Ok(_) => rows.push(json!({"name": name, "ok": true})),
                    Err(e) => {
                        failed = true;
                        rows.push(json!({"name": name, "ok": false, "error": e.to_string()}));
                    }
                }
            }
            if ctx.json {
                print_json(&rows)?;
            } else {
                for row in &rows {
                    match row["error"].as_str() {
                        None => println!("{}: ok", row["name"].as_str().unwrap_or("")),
                        Some(e) => println!("{}: FAILED: {e}", row["name"].as_str().unwrap_or("")),
                    }
                }
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        ModelsCommand::Info { name } => {
            let manifest = match pack::verify(&ctx.data_dir, &name) {
                Ok(installed) => installed.manifest,
                Err(_) => pack::builtin(&name)?,
            };
            if ctx.json {
                print_json(&manifest)?;
            } else {
                println!("{}", manifest.to_toml()?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::install_preferred;

    #[test]
    fn setup_falls_back_to_the_next_pack_and_reports_the_last_failure() {
        let mut tried = Vec::new();
        let installed = install_preferred(&["yunet", "default"], |name| {
            tried.push(name.to_owned());
            if name == "yunet" {
                anyhow::bail!("could not resolve host")
            }
            Ok(())
        })
        .expect("default installs");
        assert_eq!(installed, "default");
        assert_eq!(tried, ["yunet", "default"]);

        let first = install_preferred(&["yunet", "default"], |_| Ok(())).expect("installs");
        assert_eq!(first, "yunet", "the preferred pack when it installs");

        let err = install_preferred(&["yunet", "default"], |name| {
            anyhow::bail!("{name} unreachable")
        })
        .expect_err("nothing installed");
        assert!(err.to_string().contains("default unreachable"), "{err}");
    }
}
