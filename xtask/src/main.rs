//! Developer tasks, run as `cargo xtask <task>`:
//!
//! - `setup`: build the release binary and install the ONNX Runtime library
//!   and the `yunet` model pack (`default` where it cannot be installed)
//!   into the data directory.
//! - `test`: install everything the test suite needs (runtime, packs,
//!   registry archives used as test inputs, a running PostgreSQL), then run
//!   `cargo test --workspace`.
//! - `ci`: what `.ci/run` calls: `test`, preceded by format and lint checks.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("setup") => setup(&root),
        Some("up") => up(&root),
        Some("test") => test(&root, &args[1..]),
        Some("ci") => ci(&root),
        _ => {
            eprintln!("usage: cargo xtask <up|setup|test|ci> [-- extra cargo test args]");
            bail!("unknown task")
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn shared_dir(root: &Path) -> PathBuf {
    std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"))
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    eprintln!("+ {command:?}");
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn facegate(root: &Path, profile: &str) -> Command {
    Command::new(root.join("target").join(profile).join("facegate"))
}

fn setup(root: &Path) -> anyhow::Result<()> {
    run(cargo().args(["build", "--release", "-p", "facegate"]))?;
    // Setup installs `yunet` (from the shared copy, else its pinned URL), or
    // `default` when it cannot.
    let mut command = facegate(root, "release");
    command.arg("setup");
    let yunet = shared_dir(root).join("models/yunet");
    if yunet.is_dir() {
        command.arg("--from").arg(&yunet);
    }
    run(&mut command)?;
    eprintln!("\nfacegate is ready: target/release/facegate --help");
    Ok(())
}

/// The quick start: set up, create the first organisation and owner with a
/// generated password (written to a 0600 file, never a default), then serve.
fn up(root: &Path) -> anyhow::Result<()> {
    setup(root)?;
    let data = std::env::var_os("FACEGATE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(default_data_dir);
    let password_file = data.join("initial-admin-password");
    if !password_file.exists() {
        std::fs::create_dir_all(&data)?;
        let email =
            std::env::var("FACEGATE_ADMIN_EMAIL").unwrap_or_else(|_| "admin@facegate.local".into());
        write_private(&password_file, &random_password()?)?;
        let created = run(facegate(root, "release")
            .args([
                "init",
                "--org",
                "facegate",
                "--admin-email",
                &email,
                "--admin-password-file",
            ])
            .arg(&password_file));
        if let Err(e) = created {
            // Leave no password file behind for an account that does not exist.
            let _ = std::fs::remove_file(&password_file);
            return Err(e);
        }
        eprintln!(
            "\nowner account: {email}; its generated password is in {} (change it, then delete the file)",
            password_file.display()
        );
    }
    eprintln!(
        "serving on {} (Ctrl-C stops)",
        std::env::var("FACEGATE_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into())
    );
    run(facegate(root, "release").arg("serve"))
}

fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return Path::new(&dir).join("facegate");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/facegate")
}

/// 24 characters (144 bits) from the kernel's CSPRNG; 64 symbols, so no modulo bias.
fn random_password() -> anyhow::Result<String> {
    use std::io::Read;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{contents}")?;
    Ok(())
}

/// Install what the tests read into a data directory of their own.
fn prepare_test_data(root: &Path) -> anyhow::Result<PathBuf> {
    let data = root.join("target/test-data");
    std::fs::create_dir_all(&data)?;
    run(cargo().args(["build", "-p", "facegate"]))?;
    let bin = || {
        let mut c = facegate(root, "debug");
        c.env("FACEGATE_DATA_DIR", &data);
        c
    };
    // `default` by name: setup alone installs it only when `yunet` fails,
    // and the tests run both.
    let mut setup = bin();
    setup.arg("setup");
    let yunet = shared_dir(root).join("models/yunet");
    if yunet.is_dir() {
        setup.arg("--from").arg(&yunet);
    } else {
        eprintln!(
            "note: {} is absent; setup tries YuNet's pinned URL (YuNet tests skip without it)",
            yunet.display()
        );
    }
    run(setup.args([
        "--with",
        "default",
        "--with",
        "dlib",
        "--with",
        "dlib-cnn",
        "--with",
        "mobilefacenet",
    ]))?;
    let minifasnet = shared_dir(root).join("models/minifasnet");
    if minifasnet.is_dir() {
        run(bin()
            .args(["models", "install", "minifasnet", "--from"])
            .arg(&minifasnet))?;
    } else {
        eprintln!(
            "note: {} is absent; MiniFASNet liveness tests will skip",
            minifasnet.display()
        );
    }
    Ok(data)
}

fn ensure_postgres() {
    let ready = Command::new("pg_isready")
        .args(["-h", "127.0.0.1", "-p", "5432"])
        .status()
        .is_ok_and(|s| s.success());
    if ready {
        return;
    }
    eprintln!("PostgreSQL is not answering on 127.0.0.1:5432; trying to start the local cluster");
    let versions = std::fs::read_dir("/etc/postgresql")
        .map(|d| d.filter_map(Result::ok).collect::<Vec<_>>())
        .unwrap_or_default();
    for version in versions {
        let v = version.file_name().to_string_lossy().to_string();
        let _ = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &v, "main", "start"])
            .status();
    }
}

fn test(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    let data = prepare_test_data(root)?;
    ensure_postgres();
    let mut command = cargo();
    command
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .env("FACEGATE_DATA_DIR", &data)
        .env("FACEGATE_SHARED", shared_dir(root));
    run(&mut command)
}

fn ci(root: &Path) -> anyhow::Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    test(root, &[])
}
