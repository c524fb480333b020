//! The `facegate` command line: model packs, face detection and recognition
//! from files, evaluation and benchmarks, and the service.

mod cli;
mod cmd;
mod ops;
mod output;
mod server_cmds;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // One logging set-up per command: `serve` installs the service's own
    // (stdout + files, level and format from its config); a subscriber
    // installed here first would silently win over it.
    if !matches!(cli.command, cli::Command::Serve(_)) {
        output::init_tracing(cli.global.verbose);
    }
    match cmd::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
