//! Operating an installation: `facegate doctor`, `facegate migrate` and
//! `facegate config`. They read the service's configuration the way
//! `facegate serve` does (`--config FILE` or `FACEGATE_CONFIG`, then
//! `FACEGATE_*` variables), so what they report is what the service sees.

pub mod doctor;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use facegate_store::migrations;

use crate::server_cmds::ConfigArgs;

/// `facegate doctor`.
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `facegate migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// List the migrations that would be applied, without applying them.
    #[arg(long)]
    pub dry_run: bool,
}

/// `facegate config ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file: unknown options and wrong types by their
    /// path, then the checks `serve` runs; exit status 1 when it has problems.
    Check {
        /// The TOML file (environment variables are not applied).
        file: PathBuf,
    },
    /// Print a configuration file with every option, its documentation and
    /// its default value (`facegate config example > facegate.toml`).
    Example,
}

pub fn config(command: ConfigCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Example => {
            print!("{}", facegate_server::config_doc::example());
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check { file } => {
            let result = facegate_server::config_doc::check_file(&file);
            let overridden: Vec<&str> = facegate_server::config::ENV_VARS
                .iter()
                .filter(|(var, _, _)| std::env::var_os(var).is_some())
                .map(|(var, _, _)| *var)
                .collect();
            if json {
                let findings = result.as_ref().err().cloned().unwrap_or_default();
                crate::output::print_json(&serde_json::json!({
                    "file": file,
                    "ok": result.is_ok(),
                    "problems": findings,
                    "environment_overrides": overridden,
                }))?;
            } else {
                match &result {
                    Ok(_) => println!("{}: ok", file.display()),
                    Err(findings) => {
                        for f in findings {
                            println!("{}: {f}", file.display());
                        }
                    }
                }
                if !overridden.is_empty() {
                    println!(
                        "note: {} set in this environment override the file when the service starts",
                        overridden.join(", ")
                    );
                }
            }
            Ok(if result.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

pub fn migrate(args: MigrateArgs, json: bool) -> anyhow::Result<ExitCode> {
    if !args.dry_run {
        facegate_server::restrict_umask();
    }
    let config = args.config.load()?;
    let url = config.database_url();
    let backend = migrations::backend_of(&url)?;
    let runtime = crate::server_cmds::runtime()?;
    let shown = facegate_streams::source::redact_url(&url);
    let before = runtime.block_on(async {
        // A SQLite file that does not exist yet has every migration pending;
        // connecting would create it, which a dry run must not do.
        if let Some(file) = facegate_server::datadir::sqlite_file(&url)
            && !file.exists()
        {
            return Ok::<_, anyhow::Error>(migrations::MigrationStatus {
                applied: Vec::new(),
                pending: migrations::known_migrations(backend),
                unknown: Vec::new(),
                failed: Vec::new(),
            });
        }
        let pool = migrations::connect_plain(&url, std::time::Duration::from_secs(10))
            .await
            .with_context(|| format!("cannot connect to {shown}"))?;
        let status = migrations::status(&pool, backend).await;
        pool.close().await;
        Ok(status?)
    })?;
    if !before.unknown.is_empty() {
        anyhow::bail!(
            "the database at {shown} has migrations {:?} this facegate does not know: a newer facegate migrated it; run that release",
            before.unknown
        );
    }
    if !args.dry_run && !before.pending.is_empty() {
        // The service's own path: data dir 0700, SQLite file 0600, then
        // every pending migration in one run.
        runtime.block_on(async {
            let store = facegate_server::open_store(&config, 1).await?;
            store.close().await;
            Ok::<_, anyhow::Error>(())
        })?;
    }
    if json {
        crate::output::print_json(&serde_json::json!({
            "database": shown,
            "dry_run": args.dry_run,
            "applied_before": before.applied,
            "pending": if args.dry_run { before.pending.clone() } else { Vec::new() },
            "applied_now": if args.dry_run { Vec::new() } else { before.pending.clone() },
        }))?;
    } else {
        let latest = before.applied.last().map_or(0, |m| m.version);
        if before.pending.is_empty() {
            println!("{shown}: schema current (version {latest}); nothing to apply");
        } else {
            let verb = if args.dry_run {
                "would apply"
            } else {
                "applied"
            };
            println!(
                "{shown}: schema at version {latest}; {verb} {} migration(s):",
                before.pending.len()
            );
            for m in &before.pending {
                println!("  {} {}", m.version, m.description);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `facegate health`.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// `host:port` to ask instead of the configured `listen` address.
    #[arg(long)]
    pub addr: Option<String>,
}

/// Ask the running service's `/readyz` (container health checks, scripts):
/// exit status 0 when it answers 200, 1 otherwise. Needs no HTTP client in
/// the image.
pub fn health(args: HealthArgs) -> anyhow::Result<ExitCode> {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
    let target: SocketAddr = match &args.addr {
        Some(addr) => addr
            .to_socket_addrs()
            .with_context(|| format!("--addr {addr}"))?
            .next()
            .with_context(|| format!("--addr {addr} names no address"))?,
        None => {
            let mut addr = args.config.load()?.listen_addr();
            // A service listening on every interface answers on loopback.
            if addr.ip().is_unspecified() {
                addr.set_ip(if addr.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            addr
        }
    };
    let timeout = std::time::Duration::from_secs(3);
    let answer = (|| -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&target, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        write!(
            stream,
            "GET /readyz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    })();
    let response = match answer {
        Ok(r) => r,
        Err(e) => {
            println!("http://{target}/readyz: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let status = response.split_whitespace().nth(1).unwrap_or("");
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b.trim());
    println!("http://{target}/readyz: {status} {body}");
    Ok(if status == "200" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
