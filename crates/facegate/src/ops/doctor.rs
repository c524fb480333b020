//! `facegate doctor`: everything `facegate serve` needs from the machine,
//! checked one by one, each failure with the command that fixes it.
//!
//! Doctor only reads: it never migrates the database, creates the data
//! directory or changes a permission, so it is safe to run against a live
//! installation (as the service's user, since ownership is checked against
//! the user that runs it).

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use facegate_models::pack::{self, PackError};
use facegate_server::Config;
use facegate_store::migrations::{self, MigrationStatus};
use facegate_streams::SourceSpec;
use facegate_streams::source::{SourceKind, redact_url};
use serde::Serialize;

use super::DoctorArgs;

/// How long doctor waits for the database or a camera to answer: long
/// enough for a LAN round trip, short enough that a dead host does not make
/// doctor look hung.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(3);

/// Free space below which the data directory's filesystem fails the check
/// (SQLite needs room for its WAL and the logs keep growing), and below
/// which it warns.
const DISK_FAIL_BYTES: u64 = 256 << 20;
const DISK_WARN_BYTES: u64 = 1 << 30;

/// No clock reading before this can be right (2025-01-01T00:00:00Z): a
/// board without a real-time clock that booted without NTP starts in 1970,
/// and tokens, sessions and attendance days would all be wrong.
const CLOCK_FLOOR_MS: i64 = 1_735_689_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

/// One finding. `fix` is a command (or the one thing to do) that makes it
/// pass, present whenever the status is not `ok`.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }
    fn bad(
        status: Status,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Self::bad(Status::Fail, name, detail, fix)
    }
    fn warn(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Self::bad(Status::Warn, name, detail, fix)
    }
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    checks: Vec<Check>,
}

pub fn run(args: DoctorArgs, json: bool) -> anyhow::Result<ExitCode> {
    let mut checks = Vec::new();
    let config = match args.config.load() {
        Ok(config) => {
            let from = args.config.config.as_ref().map_or_else(
                || "defaults and FACEGATE_* variables".to_string(),
                |p| p.display().to_string(),
            );
            checks.push(Check::ok("config", format!("loaded from {from}")));
            Some(config)
        }
        Err(e) => {
            let fix = match &args.config.config {
                Some(path) => format!("facegate config check {}", path.display()),
                None => "correct the FACEGATE_* variable named above".to_string(),
            };
            checks.push(Check::fail("config", format!("{e:#}"), fix));
            None
        }
    };
    if let Some(config) = &config {
        check_runtime(config, &mut checks);
        check_packs(config, &mut checks);
        check_data_dir(config, &mut checks);
        check_disk(&config.data_dir, &mut checks);
        check_clock(&mut checks);
        let runtime = crate::server_cmds::runtime()?;
        let migrate = migrate_fix(args.config.config.as_deref(), config);
        runtime.block_on(check_database_and_cameras(config, &migrate, &mut checks));
    }
    let ok = !checks.iter().any(|c| c.status == Status::Fail);
    let report = Report {
        ok,
        config: args.config.config.clone(),
        data_dir: config.as_ref().map(|c| c.data_dir.clone()),
        checks,
    };
    if json {
        crate::output::print_json(&report)?;
    } else {
        print_text(&report);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(report: &Report) {
    if let Some(dir) = &report.data_dir {
        println!("facegate doctor: data dir {}", dir.display());
    }
    for c in &report.checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        println!("{mark}  {:<16} {}", c.name, c.detail);
        if let Some(fix) = &c.fix {
            println!("      {:<16} fix: {fix}", "");
        }
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .count();
    if failed == 0 {
        println!("all checks passed");
    } else {
        println!("{failed} problem(s) found");
    }
}

/// `facegate --data-dir DIR`, so a printed fix acts on the directory doctor
/// looked at, whatever the environment of whoever runs it.
fn cli(dir: &Path) -> String {
    format!(
        "facegate --data-dir {}",
        shell_quote(&dir.display().to_string())
    )
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn check_runtime(config: &Config, checks: &mut Vec<Check>) {
    let models = config.models_dir();
    let path = match facegate_vision::runtime::locate(&models) {
        Ok(path) => path,
        Err(e) => {
            checks.push(Check::fail(
                "runtime",
                e.to_string(),
                format!("{} setup", cli(&models)),
            ));
            return;
        }
    };
    // Loading it is the real test: a truncated or wrong-architecture file
    // is found by `locate` and refused only here.
    match facegate_vision::runtime::init_from_path(&path) {
        Ok(_) => checks.push(Check::ok(
            "runtime",
            format!("ONNX Runtime loads from {}", path.display()),
        )),
        Err(e) => checks.push(Check::fail(
            "runtime",
            e.to_string(),
            format!(
                "rm {} && {} setup",
                shell_quote(&path.display().to_string()),
                cli(&models)
            ),
        )),
    }
}

fn check_packs(config: &Config, checks: &mut Vec<Check>) {
    let models = config.models_dir();
    let configured = pack::resolve(&models, &config.pack);
    let installed = pack::installed_packs(&models);
    if !installed.contains(&configured) {
        let fix = if config.pack == pack::AUTO {
            format!("{} setup", cli(&models))
        } else {
            format!("{} models install {configured}", cli(&models))
        };
        let status = if config.engine_required {
            Status::Fail
        } else {
            Status::Warn
        };
        checks.push(Check::bad(
            status,
            format!("pack {configured}"),
            format!(
                "the configured pack ({:?}) is not installed in {}; recognition needs it",
                config.pack,
                models.display()
            ),
            fix,
        ));
    }
    for name in installed {
        let what = format!("pack {name}");
        match pack::verify(&models, &name) {
            Ok(p) => {
                let used = if name == configured { ", in use" } else { "" };
                match pack::outdated_manifest(&p.manifest) {
                    Some((have, want)) => checks.push(Check::warn(
                        what,
                        format!(
                            "{} files verified; installed version {have}, this facegate defines {want}{used}",
                            p.lock.files.len()
                        ),
                        format!("{} models install {name}", cli(&models)),
                    )),
                    None => checks.push(Check::ok(
                        what,
                        format!(
                            "version {}, {} files match lock.json{used}",
                            p.manifest.version,
                            p.lock.files.len()
                        ),
                    )),
                }
            }
            Err(e) => {
                let detail = match &e {
                    PackError::HashMismatch { what, .. } => {
                        format!("{what} does not match lock.json (altered or corrupt): {e}")
                    }
                    _ => e.to_string(),
                };
                checks.push(Check::fail(
                    what,
                    detail,
                    format!("{} models install {name}", cli(&models)),
                ));
            }
        }
    }
}

/// The data directory and what holds personal data in it must belong to
/// the service's user and be closed to everyone else. Model files
/// (`packs`, `runtime`, `swagger-ui`) are not personal; they only must not
/// be writable by others, who could swap a model.
fn check_data_dir(config: &Config, checks: &mut Vec<Check>) {
    use std::os::unix::fs::MetadataExt;
    let dir = &config.data_dir;
    let meta = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => m,
        Ok(_) => {
            checks.push(Check::fail(
                "data dir",
                format!("{} is not a directory", dir.display()),
                "set data_dir (FACEGATE_DATA_DIR) to a directory",
            ));
            return;
        }
        Err(e) => {
            checks.push(Check::fail(
                "data dir",
                format!("{}: {e}", dir.display()),
                format!("{} setup", cli(dir)),
            ));
            return;
        }
    };
    // SAFETY: geteuid takes no arguments and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let mut exposed = Vec::new();
    let mut foreign = Vec::new();
    let mut writable_models = Vec::new();
    let mut visit = |path: &Path, meta: &std::fs::Metadata, private: bool| {
        if meta.uid() != uid {
            foreign.push(path.to_path_buf());
        }
        let mode = meta.mode() & 0o777;
        if private && mode & 0o077 != 0 {
            exposed.push(format!("{} ({mode:o})", path.display()));
        } else if !private && mode & 0o022 != 0 {
            writable_models.push(format!("{} ({mode:o})", path.display()));
        }
    };
    visit(dir, &meta, true);
    walk(dir, 0, &mut |path, meta| {
        let top = path
            .strip_prefix(dir)
            .ok()
            .and_then(|p| p.components().next())
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .unwrap_or_default();
        let models = matches!(
            top.as_str(),
            "packs" | "runtime" | "swagger-ui" | ".swagger-ui.partial"
        );
        visit(path, meta, !models);
    });
    let q = |p: &str| shell_quote(p);
    let mut problems = false;
    if !foreign.is_empty() {
        problems = true;
        checks.push(Check::fail(
            "data dir owner",
            format!(
                "{} path(s) not owned by uid {uid} (the user running doctor, who should be the service's user), e.g. {}",
                foreign.len(),
                foreign[0].display()
            ),
            format!("sudo chown -R {uid} {}", q(&dir.display().to_string())),
        ));
    }
    if !exposed.is_empty() {
        problems = true;
        let paths = quoted_paths(&exposed);
        checks.push(Check::fail(
            "data dir mode",
            format!(
                "biometric data readable by other users (want 0700 directories, 0600 files): {}",
                exposed.join(", ")
            ),
            format!("chmod go-rwx {}", paths.join(" ")),
        ));
    }
    if !writable_models.is_empty() {
        problems = true;
        let paths = quoted_paths(&writable_models);
        checks.push(Check::fail(
            "data dir mode",
            format!(
                "model files writable by other users: {}",
                writable_models.join(", ")
            ),
            format!("chmod go-w {}", paths.join(" ")),
        ));
    }
    if !problems {
        checks.push(Check::ok(
            "data dir",
            format!(
                "{} owned by uid {uid}, closed to other users",
                dir.display()
            ),
        ));
    }
}

/// Every entry under `dir` (links are not followed), depth-first.
fn walk(dir: &Path, depth: usize, f: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    if depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        f(&path, &meta);
        if meta.is_dir() {
            walk(&path, depth + 1, f);
        }
    }
}

fn check_disk(dir: &Path, checks: &mut Vec<Check>) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: statvfs writes into the zeroed struct we own and reads the
    // NUL-terminated path, which lives until the call returns.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        checks.push(Check {
            name: "disk".into(),
            status: Status::Skip,
            detail: format!("cannot read free space of {}", dir.display()),
            fix: None,
        });
        return;
    }
    // The field types differ between platforms (u32 or u64).
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let (free, total) = (
        stat.f_bavail as u64 * stat.f_frsize as u64,
        stat.f_blocks as u64 * stat.f_frsize as u64,
    );
    let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
    let detail = format!(
        "{:.1} GiB free of {:.1} GiB on the data dir's filesystem",
        gib(free),
        gib(total)
    );
    let fix = format!(
        "free space on that filesystem; old logs: find {} -name 'facegate.*.log' -mtime +7 -delete (and lower logging.retention_days)",
        shell_quote(&dir.join("logs").display().to_string())
    );
    if free < DISK_FAIL_BYTES {
        checks.push(Check::fail("disk", detail, fix));
    } else if free < DISK_WARN_BYTES {
        checks.push(Check::warn("disk", detail, fix));
    } else {
        checks.push(Check::ok("disk", detail));
    }
}

fn check_clock(checks: &mut Vec<Check>) {
    let now = facegate_store::now_ms();
    if now < CLOCK_FLOOR_MS {
        checks.push(Check::fail(
            "clock",
            format!(
                "the system clock reads {} (before 2025): tokens, sessions and attendance days would be wrong",
                chrono_like(now)
            ),
            "sudo timedatectl set-ntp true (or set the time: sudo date -s 'YYYY-MM-DD HH:MM:SS')",
        ));
        return;
    }
    // The kernel knows whether something (NTP, chrony, the hypervisor)
    // disciplines the clock; an undisciplined one drifts seconds a day.
    // SAFETY: ntp_adjtime with modes 0 only reads the kernel's state into
    // the zeroed struct we own.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::ntp_adjtime(&mut tx) };
    let detail = format!("{} UTC", chrono_like(now));
    if state == libc::TIME_ERROR {
        checks.push(Check::warn(
            "clock",
            format!("{detail}; the kernel reports the clock as not synchronised"),
            "sudo timedatectl set-ntp true (or run chrony/ntpd)",
        ));
    } else {
        checks.push(Check::ok("clock", format!("{detail}, synchronised")));
    }
}

/// `YYYY-MM-DD HH:MM:SS` of Unix milliseconds, without a date crate.
fn chrono_like(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

async fn check_database_and_cameras(config: &Config, migrate: &str, checks: &mut Vec<Check>) {
    let url = config.database_url();
    let shown = redact_url(&url);
    let backend = match migrations::backend_of(&url) {
        Ok(b) => b,
        Err(e) => {
            checks.push(Check::fail(
                "database",
                e.to_string(),
                "set database_url (FACEGATE_DATABASE_URL) to sqlite://… or postgres://…",
            ));
            return;
        }
    };
    if let Some(file) = facegate_server::datadir::sqlite_file(&url)
        && !file.exists()
    {
        checks.push(Check::fail(
            "database",
            format!("{} does not exist yet", file.display()),
            migrate.to_string(),
        ));
        return;
    }
    let pool = match tokio::time::timeout(
        NETWORK_TIMEOUT * 2,
        migrations::connect_plain(&url, NETWORK_TIMEOUT),
    )
    .await
    {
        Ok(Ok(pool)) => pool,
        Ok(Err(e)) => {
            checks.push(Check::fail(
                "database",
                format!("cannot connect to {shown}: {e}"),
                database_fix(&url),
            ));
            return;
        }
        Err(_) => {
            checks.push(Check::fail(
                "database",
                format!(
                    "cannot connect to {shown}: no answer in {} s",
                    (NETWORK_TIMEOUT * 2).as_secs()
                ),
                database_fix(&url),
            ));
            return;
        }
    };
    checks.push(Check::ok("database", format!("connected to {shown}")));
    let status = match migrations::status(&pool, backend).await {
        Ok(s) => s,
        Err(e) => {
            checks.push(Check::fail(
                "migrations",
                format!("cannot read the schema version: {e}"),
                migrate.to_string(),
            ));
            pool.close().await;
            return;
        }
    };
    checks.push(migration_check(migrate, &status));
    if status.is_current() {
        let store = facegate_store::Store::without_migrating(pool.clone(), backend);
        match store.list_enabled_cameras().await {
            Ok(cameras) => check_cameras(&cameras, checks).await,
            Err(e) => checks.push(Check::fail(
                "cameras",
                format!("cannot list cameras: {e}"),
                migrate.to_string(),
            )),
        }
    } else {
        checks.push(Check {
            name: "cameras".into(),
            status: Status::Skip,
            detail: "not checked until the schema is current".into(),
            fix: None,
        });
    }
    pool.close().await;
}

/// `facegate migrate` with the configuration doctor read (the file, else
/// the data directory), so the fix acts on the database doctor looked at.
fn migrate_fix(file: Option<&Path>, config: &Config) -> String {
    match file {
        Some(path) => format!(
            "facegate migrate --config {}",
            shell_quote(&path.display().to_string())
        ),
        None => format!(
            "FACEGATE_DATA_DIR={} facegate migrate",
            shell_quote(&config.data_dir.display().to_string())
        ),
    }
}

fn database_fix(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return "check the database file's path and permissions in database_url".into();
    }
    let (host, port) = host_port(url, 5432).unwrap_or(("localhost".into(), 5432));
    format!(
        "start PostgreSQL at {host}:{port} (sudo systemctl start postgresql; check with pg_isready -h {host} -p {port}) or correct database_url (FACEGATE_DATABASE_URL)"
    )
}

fn migration_check(migrate: &str, status: &MigrationStatus) -> Check {
    let latest = status
        .applied
        .last()
        .map_or_else(|| "none".to_string(), |m| m.version.to_string());
    if !status.failed.is_empty() {
        return Check::fail(
            "migrations",
            format!(
                "migration {:?} started and did not finish; the schema is in an unknown state",
                status.failed
            ),
            "restore the database from the backup taken before the upgrade, then run facegate migrate",
        );
    }
    if !status.unknown.is_empty() {
        return Check::fail(
            "migrations",
            format!(
                "the database has migrations {:?} this facegate does not know: a newer facegate migrated it",
                status.unknown
            ),
            "run the facegate release that migrated this database (downgrades are not supported)",
        );
    }
    if !status.pending.is_empty() {
        let names: Vec<String> = status
            .pending
            .iter()
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        return Check::warn(
            "migrations",
            format!(
                "schema at {latest}; {} pending ({}), applied at the next start or by migrate",
                names.len(),
                names.join(", ")
            ),
            migrate.to_string(),
        );
    }
    Check::ok(
        "migrations",
        format!(
            "schema current ({} migrations, latest {latest})",
            status.applied.len()
        ),
    )
}

/// `(host, port)` of a URL's authority, with `default` when it names none.
fn host_port(url: &str, default: u16) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    if let Some(v6) = host_port.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .and_then(|p| p.parse().ok())
            .unwrap_or(default);
        return Some((host.to_string(), port));
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((host_port.to_string(), default)),
    }
}

async fn check_cameras(cameras: &[facegate_store::Camera], checks: &mut Vec<Check>) {
    if cameras.is_empty() {
        checks.push(Check::ok("cameras", "no camera enabled"));
        return;
    }
    let needs_ffmpeg = cameras.iter().any(|c| {
        !matches!(
            SourceSpec::new(c.fields.source_url.clone()).kind(),
            Ok(SourceKind::Push)
        )
    });
    if needs_ffmpeg {
        let found = std::process::Command::new("ffmpeg")
            .arg("-version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            checks.push(Check::ok("ffmpeg", "ffmpeg runs (cameras decode with it)"));
        } else {
            checks.push(Check::fail(
                "ffmpeg",
                "ffmpeg is not on PATH; enabled cameras cannot be decoded",
                "sudo apt-get install ffmpeg",
            ));
        }
    }
    // Each probe blocks for up to the timeout; run them side by side.
    let mut probes = Vec::new();
    for camera in cameras {
        let camera = camera.clone();
        probes.push(tokio::task::spawn_blocking(move || probe_camera(&camera)));
    }
    for probe in probes {
        if let Ok(check) = probe.await {
            checks.push(check);
        }
    }
}

fn probe_camera(camera: &facegate_store::Camera) -> Check {
    let name = format!("camera {}", camera.fields.name);
    let spec = SourceSpec::new(camera.fields.source_url.clone());
    let shown = spec.redacted();
    let disable = format!(
        "make {shown} reachable from this machine, or disable camera {} (PATCH /api/v1/cameras/{} {{\"enabled\": false}})",
        camera.id, camera.id
    );
    match spec.kind() {
        Err(e) => Check::fail(name, e.to_string(), disable),
        Ok(SourceKind::Push) => Check::ok(name, "push (frames arrive over the API)"),
        Ok(SourceKind::File) => {
            let url = spec.url.trim();
            let path = url.strip_prefix("file://").unwrap_or(url);
            if Path::new(path).is_file() {
                Check::ok(name, format!("file {path} exists"))
            } else {
                Check::fail(name, format!("file {path} does not exist"), disable)
            }
        }
        Ok(SourceKind::V4l2) => {
            let url = spec.url.trim();
            let path = url.strip_prefix("v4l2://").unwrap_or(url);
            if Path::new(path).exists() {
                Check::ok(name, format!("device {path} exists"))
            } else {
                Check::fail(name, format!("device {path} does not exist"), disable)
            }
        }
        Ok(kind @ (SourceKind::Rtsp | SourceKind::Http)) => {
            let lower = spec.url.trim().to_ascii_lowercase();
            let default = match kind {
                SourceKind::Rtsp if lower.starts_with("rtsps") => 322,
                SourceKind::Rtsp => 554,
                _ if lower.starts_with("https") => 443,
                _ => 80,
            };
            let Some((host, port)) = host_port(spec.url.trim(), default) else {
                return Check::fail(name, format!("{shown} names no host"), disable);
            };
            let addrs: Vec<_> = match (host.as_str(), port).to_socket_addrs() {
                Ok(a) => a.collect(),
                Err(e) => {
                    return Check::fail(name, format!("{host}: {e}"), disable);
                }
            };
            let mut last = String::from("no address");
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, NETWORK_TIMEOUT) {
                    Ok(_) => {
                        return Check::ok(name, format!("{shown}: {addr} accepts connections"));
                    }
                    Err(e) => last = format!("{addr}: {e}"),
                }
            }
            Check::fail(name, format!("{shown} unreachable ({last})"), disable)
        }
    }
}

/// The shell-quoted paths of findings written as `PATH (what is wrong)`.
fn quoted_paths(findings: &[String]) -> Vec<String> {
    findings
        .iter()
        .map(|e| shell_quote(e.rsplit_once(" (").map_or(e.as_str(), |(p, _)| p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_of_urls() {
        assert_eq!(
            host_port("postgres://u:p@db.example:6543/x", 5432),
            Some(("db.example".into(), 6543))
        );
        assert_eq!(
            host_port("rtsp://cam/stream", 554),
            Some(("cam".into(), 554))
        );
        assert_eq!(
            host_port("http://[::1]:8081/x", 80),
            Some(("::1".into(), 8081))
        );
        assert_eq!(host_port("postgres:///db", 5432), None);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(chrono_like(0), "1970-01-01 00:00:00");
        assert_eq!(chrono_like(CLOCK_FLOOR_MS), "2025-01-01 00:00:00");
        assert_eq!(chrono_like(951_827_696_000), "2000-02-29 12:34:56");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/var/lib/facegate"), "/var/lib/facegate");
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
