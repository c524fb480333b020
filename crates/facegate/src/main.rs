//! The `facegate` command line: model packs, face detection and recognition
//! from files, evaluation and benchmarks, and the service.

mod cli;
mod cmd;
mod output;
mod server_cmds;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    output::init_tracing(cli.global.verbose);
    match cmd::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
