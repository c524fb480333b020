//! `facegate serve`, `facegate init` and `facegate audit verify`: thin
//! wrappers over `facegate-server`. Configuration comes from `--config FILE`
//! (or `FACEGATE_CONFIG`) plus `FACEGATE_*` environment variables.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

/// Options shared by the service commands.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// TOML configuration file; `FACEGATE_*` variables override it.
    #[arg(long, env = "FACEGATE_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ConfigArgs {
    pub fn load(&self) -> anyhow::Result<facegate_server::Config> {
        Ok(facegate_server::Config::load(self.config.as_deref())?)
    }
}

/// `facegate serve`: run the HTTP service.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `facegate init`: create the first organisation and its owner account.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Name of the organisation.
    #[arg(long)]
    pub org: String,
    /// Email of the owner account (the login name).
    #[arg(long)]
    pub admin_email: String,
    /// File whose first line is the owner's password; without it the
    /// password is prompted for (only on a terminal).
    #[arg(long)]
    pub admin_password_file: Option<PathBuf>,
}

/// `facegate audit ...`
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute the access log's hash chain; exit status 1 if it was tampered with.
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct AuditVerifyArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    facegate_server::restrict_umask();
    let config = args.config.load()?;
    let _guard = facegate_server::init_logging(&config)?;
    runtime()?.block_on(facegate_server::serve_with_reload(
        config,
        args.config.config.clone(),
    ))
}

pub fn init(args: InitArgs) -> anyhow::Result<()> {
    facegate_server::restrict_umask();
    let config = args.config.load()?;
    let password = match &args.admin_password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --admin-password-file {}", path.display()))?;
            text.lines().next().unwrap_or("").to_string()
        }
        None => {
            if !std::io::stdin().is_terminal() {
                anyhow::bail!(
                    "no --admin-password-file given and stdin is not a terminal to prompt on"
                );
            }
            let first = rpassword::prompt_password("Owner password (at least 10 characters): ")?;
            let second = rpassword::prompt_password("Repeat the password: ")?;
            if first != second {
                anyhow::bail!("the passwords do not match");
            }
            first
        }
    };
    let report = runtime()?.block_on(facegate_server::init_organisation(
        &config,
        &args.org,
        &args.admin_email,
        &password,
    ))?;
    println!(
        "Created organisation {:?} ({}) with owner {}.",
        report.org_name, report.org_id, report.email
    );
    println!("Data directory: {}", config.data_dir.display());
    println!("Next steps:");
    println!(
        "  1. facegate serve                      (listens on {})",
        config.listen
    );
    println!(
        "  2. curl -s -X POST http://{}/api/v1/auth/login -H 'Content-Type: application/json' \\\n       -d '{{\"email\": \"{}\", \"password\": \"...\"}}'",
        config.listen, report.email
    );
    println!(
        "  3. create devices, API keys and people; see http://{}/docs",
        config.listen
    );
    Ok(())
}

pub fn audit(args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        AuditCommand::Verify(v) => audit_verify(v),
    }
}

pub fn audit_verify(args: AuditVerifyArgs) -> anyhow::Result<()> {
    facegate_server::restrict_umask();
    let config = args.config.load()?;
    let report = runtime()?.block_on(facegate_server::verify_audit(&config))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.is_ok() {
        println!(
            "access log intact: {} entries in {} organisation(s)",
            report.entries, report.organisations
        );
    } else {
        eprintln!("access log TAMPERED: {} problem(s)", report.problems.len());
        for p in &report.problems {
            eprintln!("  {p}");
        }
    }
    if report.is_ok() {
        Ok(())
    } else {
        std::process::exit(1)
    }
}
