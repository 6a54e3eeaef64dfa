//! `conn`: list, check, explain, query, read and copy the connections of a
//! Streamlit-style project, resolved exactly as the app resolves them.
//!
//! Exit codes: 0 success, 1 a check, query, read or write failed, 2 a configuration or
//! usage error. Nothing printed (results, `--json`, errors) ever holds a secret: values
//! of secret keys show as `***`, and errors are the library's, already redacted.

mod cli;
mod commands;
mod error;
mod interrupt;
mod output;
mod progress;
mod project;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command, Shell};
use error::{CliResult, Code};
use project::Project;

fn main() -> ExitCode {
    // Names every built-in connection type, so the linker keeps their registrations.
    let _ = conn::enabled_types();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code.exit_code(),
        Err(err) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {err}");
            err.code.exit_code()
        }
    }
}

fn run(cli: &Cli) -> CliResult {
    if let Command::Completions(args) = &cli.command {
        return completions(args.shell);
    }
    let project = Project::open(&cli.project)?;
    match &cli.command {
        Command::List(args) => commands::list::run(&project, args),
        Command::Check(args) => commands::check::run(&project, args),
        Command::Explain(args) => commands::explain::run(&project, args),
        Command::Query(args) => commands::query::run(&project, args),
        Command::Read(args) => commands::query::read(&project, args),
        Command::Copy(args) => commands::copy::run(&project, args),
        Command::Completions(args) => completions(args.shell),
    }
}

fn completions(shell: Shell) -> CliResult {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "conn", &mut std::io::stdout().lock());
    Ok(Code::Ok)
}
