//! The `mpm-top` binary: parse the command line, dispatch, turn outcomes into exit codes.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use mpm_top::cli::{Cli, Command};
use mpm_top::config::{self, Resolved, Severity};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let resolved = config::load(cli.flag_values(), cli.config.as_deref());
    match &cli.command {
        Some(Command::Config(args)) => print_config(&resolved, args.json),
        Some(Command::Completions(args)) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "mpm-top",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Some(Command::Serve(_)) => match refuse_on_errors(&resolved) {
            Some(code) => code,
            None => not_built("serve", "the bundled Socket.IO server"),
        },
        Some(Command::Doctor(_)) => not_built("doctor", "the health checks"),
        Some(Command::Test(_)) => not_built("test", "the connection test"),
        Some(Command::Bench(_)) => not_built("bench", "the benchmark"),
        Some(Command::Restart(_)) => not_built("restart", "graceful restart"),
        Some(Command::Recover(_)) => not_built("recover", "emergency recovery"),
        Some(Command::ResetConfig(_)) => not_built("reset-config", "the configuration reset"),
        None if cli.collect.is_some() => not_built("--collect", "the debug bundle"),
        None if cli.demo => not_built("--demo", "the console and its demo workload"),
        None => not_built("the console", "the full-screen console"),
    }
}

/// `mpm-top config`: exit 0 when clean, 1 when there is any finding.
fn print_config(resolved: &Resolved, json: bool) -> ExitCode {
    let text = if json {
        serde_json::to_string_pretty(&config::to_json(resolved)).unwrap_or_default() + "\n"
    } else {
        config::to_table(resolved)
    };
    // A closed pipe (`mpm-top config | head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(text.as_bytes());
    if resolved.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Refuses to start a server on a configuration with errors, naming each one.
fn refuse_on_errors(resolved: &Resolved) -> Option<ExitCode> {
    if !resolved.has_errors() {
        return None;
    }
    eprintln!("mpm-top: refusing to start: the configuration has errors");
    for finding in resolved
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
    {
        eprintln!("  {finding}");
    }
    eprintln!("Fix them (`mpm-top config` shows every value and its source), then try again.");
    Some(ExitCode::from(1))
}

/// What a subcommand says until its issue lands: never a silent no-op.
fn not_built(what: &str, feature: &str) -> ExitCode {
    eprintln!("mpm-top: {what} is not built yet, so nothing was done ({feature}: still to come).");
    ExitCode::from(2)
}
