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
    let runtime_path = match facegate_vision::runtime::locate(&ctx.data_dir) {
        Ok(path) => path,
        Err(_) => runtime::install(&ctx.data_dir, &options).context("installing ONNX Runtime")?,
    };
    eprintln!("ONNX Runtime: {}", runtime_path.display());
    // Unless a pack is named, setup installs the registry-only default:
    // `auto` may point at a pack that needs `--from`, which setup lacks.
    let first = if ctx.pack_is_auto {
        "default".to_owned()
    } else {
        ctx.pack.clone()
    };
    let mut names = vec![first];
    names.extend(args.with_packs);
    for name in names {
        install(ctx, &name, &options)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn install(ctx: &Ctx, name: &str, options: &FetchOptions) -> anyhow::Result<()> {
    let manifest = pack::builtin(name)?;
    if let Ok(installed) = pack::verify(&ctx.data_dir, name)
        && installed.manifest == manifest
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

pub fn run(ctx: &Ctx, command: ModelsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ModelsCommand::List => {
            let installed = pack::installed_packs(&ctx.data_dir);
            let rows: Vec<_> = pack::builtin_names()
                .into_iter()
                .filter_map(|n| pack::builtin(n).ok())
                .map(|m| {
                    let installed_version = installed
                        .contains(&m.name)
                        .then(|| pack::installed_manifest(&ctx.data_dir, &m.name).ok())
                        .flatten()
                        .map(|i| i.version);
                    json!({
                        "name": m.name,
                        "version": m.version,
                        "installed": installed.contains(&m.name),
                        "installed_version": installed_version,
                        "update_available": installed_version.as_ref().is_some_and(|v| *v != m.version),
                        "description": m.description,
                    })
                })
                .collect();
            if ctx.json {
                print_json(&rows)?;
            } else {
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
