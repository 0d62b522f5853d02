//! The `mpm-top` binary: parse the command line, dispatch, turn outcomes into exit codes.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use mpm_top::cli::{BenchArgs, Cli, Command, TestArgs};
use mpm_top::config::{self, Resolved, Severity};
use mpm_top::target::Target;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let (Some(_), Some(command)) = (&cli.record, &cli.command) {
        let name = format!("{command:?}");
        let name = name
            .split(['(', ' '])
            .next()
            .unwrap_or_default()
            .to_lowercase();
        eprintln!(
            "mpm-top: --record records the console, and does nothing with `{name}`: run `mpm-top --record FILE` (or with --demo)"
        );
        return ExitCode::from(2);
    }
    let resolved = config::load(cli.flag_values(), cli.config.as_deref());
    match &cli.command {
        Some(Command::Config(args)) => print_config(&resolved, args.json),
        Some(Command::Replay(args)) => ExitCode::from(if args.json {
            mpm_top::console::replay::print_json(&args.file)
        } else {
            mpm_top::console::replay::run(&args.file)
        }),
        Some(Command::Completions(args)) => {
            // Into memory first: clap_complete panics on a failed write, and a closed pipe
            // (`mpm-top completions bash | head`) is not worth a panic.
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "mpm-top", &mut script);
            let _ = std::io::stdout().write_all(&script);
            ExitCode::SUCCESS
        }
        Some(Command::Serve(args)) => {
            if let Some(code) = refuse_on_errors(&resolved, "start") {
                return code;
            }
            mpm_top::fd_limit::raise_to_hard_limit();
            mpm_top::serve::command::run(&resolved, args.daemon, args.dashboard.as_ref())
        }
        Some(Command::Doctor(args)) => {
            let code = block_on(mpm_top::doctor::run(&resolved, &args.checks, args.json));
            ExitCode::from(code.unwrap_or(2))
        }
        Some(Command::Servers(args)) => {
            ExitCode::from(block_on(mpm_top::servers_cmd::run(&resolved, args.json)).unwrap_or(1))
        }
        Some(Command::Clients(args)) => {
            ExitCode::from(block_on(mpm_top::clients_cmd::run(&resolved, args.json)).unwrap_or(1))
        }
        Some(Command::Test(args)) => connection_test(&resolved, args),
        Some(Command::Bench(args)) => bench(&resolved, args),
        Some(Command::Restart(_) | Command::Recover(_)) if resolved.has_errors() => {
            // A host or port that did not parse falls back to a default: stopping whatever
            // holds that would stop the wrong server.
            refuse_on_errors(&resolved, "act").unwrap_or(ExitCode::from(1))
        }
        Some(Command::Restart(args)) => action_outcome(
            "restart",
            block_on(mpm_top::actions::restart::restart(
                &resolved,
                &Target::configured(&resolved),
                &mpm_top::actions::restart::Confirmed::Ask { yes: args.yes },
                args.force,
                &audit(&resolved),
            )),
        ),
        Some(Command::Recover(args)) => action_outcome(
            "recover",
            block_on(mpm_top::actions::restart::recover(
                &resolved,
                &Target::configured(&resolved),
                args.yes,
                args.force,
                &audit(&resolved),
            )),
        ),
        Some(Command::ResetConfig(args)) => reset_config(&resolved, args.yes),
        None if cli.collect.is_some() => {
            let path = cli.collect.clone().unwrap_or_default();
            ExitCode::from(block_on(mpm_top::collect::run(&resolved, &path)).unwrap_or(1))
        }
        None => {
            let options = mpm_top::console::Options {
                demo: cli.demo,
                read_only: cli.read_only,
                flags: cli.flag_values(),
                config_file: cli.config.clone(),
                record: cli.record.clone(),
                record_max_mib: cli.record_max_mib,
            };
            ExitCode::from(mpm_top::console::run(resolved, &options))
        }
    }
}

/// A runtime for one command's async work.
fn block_on<F: std::future::Future>(work: F) -> Option<F::Output> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime.block_on(work)),
        Err(e) => {
            eprintln!("mpm-top: cannot start the async runtime: {e}");
            None
        }
    }
}

/// `mpm-top test`: exit 0 when the server answered, 1 otherwise.
fn connection_test(resolved: &Resolved, args: &TestArgs) -> ExitCode {
    let url = resolved.settings.url();
    let timeout = std::time::Duration::from_secs(args.timeout.max(1));
    let passed = block_on(mpm_top::conn_test::run(
        &url,
        args.transport,
        timeout,
        &mut std::io::stdout(),
    ));
    if passed == Some(true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `mpm-top bench`: round trips, or fan-out with `--clients`.
fn bench(resolved: &Resolved, args: &BenchArgs) -> ExitCode {
    mpm_top::fd_limit::raise_to_hard_limit();
    let url = resolved.settings.url();
    if !args.json {
        eprintln!("mpm-top bench: measuring {url} ...");
    }
    let outcome = block_on(async {
        match args.clients {
            Some(k) => mpm_top::bench::fanout(
                &url,
                args.transport,
                k,
                args.events,
                args.rate.unwrap_or(10),
                if args.post {
                    mpm_top::bench::Send::Post
                } else {
                    mpm_top::bench::Send::Emit
                },
            )
            .await
            .map(|r| (r.text(), r.json())),
            None => mpm_top::bench::round_trips(&url, args.transport, args.events, args.rate)
                .await
                .map(|r| (r.text(), serde_json::to_value(&r).unwrap_or_default())),
        }
    });
    match outcome {
        Some(Ok((text, json))) => {
            let out = if args.json {
                format!("{json:#}\n")
            } else {
                text
            };
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Some(Err(e)) => {
            eprintln!("mpm-top bench: {e:#}");
            ExitCode::from(1)
        }
        None => ExitCode::from(1),
    }
}

/// mpm-top's audit log, echoed to stderr (the command line's face).
fn audit(resolved: &Resolved) -> mpm_top::actions::Audit {
    mpm_top::actions::Audit::beside(&resolved.settings.log_file)
}

/// The end of `restart` / `recover`: the server's URL, or why it failed.
fn action_outcome(action: &str, outcome: Option<anyhow::Result<String>>) -> ExitCode {
    match outcome {
        Some(Ok(url)) => {
            println!("mpm-top {action}: the server answers at {url}");
            ExitCode::SUCCESS
        }
        Some(Err(e)) => {
            eprintln!("mpm-top {action}: {e:#}");
            ExitCode::from(1)
        }
        None => ExitCode::from(1),
    }
}

/// `mpm-top reset-config`: show the change, ask, back up, write.
fn reset_config(resolved: &Resolved, yes: bool) -> ExitCode {
    use mpm_top::actions::{Audit, confirm, reset_config};
    let path = mpm_top::config::expand_tilde(&resolved.file_shown, resolved.home.as_deref());
    let plan = match reset_config::plan(&path) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("mpm-top reset-config: {e:#}");
            return ExitCode::from(1);
        }
    };
    println!(
        "Resetting the socketio: section of {} to the defaults; every other key is kept.",
        resolved.file_shown
    );
    if plan.diff.is_empty() {
        println!("It already holds the defaults: nothing to do.");
        return ExitCode::SUCCESS;
    }
    for line in &plan.diff {
        println!("  {}", mpm_top::text::sanitize(line));
    }
    if !confirm("Write this change (the old file is backed up first)?", yes) {
        eprintln!("mpm-top reset-config: nothing was changed");
        return ExitCode::from(1);
    }
    match reset_config::apply(&plan, &Audit::beside(&resolved.settings.log_file)) {
        Ok(backup) => {
            let backup = backup.map_or(String::new(), |b| {
                format!(
                    "; the old file is at {}",
                    mpm_top::config::tilde(&b, resolved.home.as_deref())
                )
            });
            println!(
                "Done{backup}. Clear any SOCKETIO_* variables too: they still override the file."
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mpm-top reset-config: {e:#}");
            ExitCode::from(1)
        }
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
    if resolved.findings.is_empty() && resolved.alerts.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Refuses to start a server on a configuration with errors, naming each one.
fn refuse_on_errors(resolved: &Resolved, verb: &str) -> Option<ExitCode> {
    if !resolved.has_errors() {
        return None;
    }
    eprintln!("mpm-top: refusing to {verb}: the configuration has errors");
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
