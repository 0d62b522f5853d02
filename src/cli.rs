//! The command line (clap derive). Final in shape; subcommands whose body has not landed yet
//! say so and exit 2 (see `main.rs`).
// Doc comments here are the `--help` text users read, where backticks would print literally.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

use crate::config::{FlagValue, Key};
use crate::sio_client::Transport;

/// Terminal diagnostics console for the Claude MPM Socket.IO monitoring server (port 8765).
///
/// With no subcommand, opens the full-screen console. Configuration is resolved in layers, later
/// wins: defaults < SOCKETIO_* environment < ~/.claude/config.yaml (socketio: section) < flags.
/// `mpm-top config` shows where every value came from.
#[derive(Debug, Parser)]
#[command(name = "mpm-top", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// Server host to monitor or serve on [config: host, env: SOCKETIO_HOST]
    #[arg(long, global = true, value_name = "HOST")]
    pub host: Option<String>,

    /// Server port; 0 lets `serve` take any free port [config: port, env: SOCKETIO_PORT]
    #[arg(long, global = true, value_name = "PORT")]
    pub port: Option<u16>,

    /// Read this YAML file instead of ~/.claude/config.yaml (its `socketio:` section)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Server log file to write (serve) or follow (console) [config: log_file]
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Disable every action that changes anything (start, restart, kill, reset)
    #[arg(long, global = true)]
    pub read_only: bool,

    /// Start the bundled server in-process with a simulated Claude MPM session, and monitor it
    #[arg(long, conflicts_with = "collect")]
    pub demo: bool,

    /// Write the debug bundle the guide asks for (default ./debug_info.txt) and exit
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "debug_info.txt")]
    pub collect: Option<PathBuf>,

    /// Record the console's session to this file (gzip-compressed JSON lines, redacted like the
    /// debug bundle; an existing file is never replaced). `mpm-top replay FILE` opens it
    #[arg(long, value_name = "FILE", conflicts_with = "collect")]
    pub record: Option<PathBuf>,

    /// The most a recording may take on disk, compressed; it stops there, saying so
    #[arg(long, value_name = "MIB", default_value_t = crate::record::DEFAULT_CAP_MIB,
          value_parser = clap::value_parser!(u64).range(1..=crate::record::MAX_CAP_MIB))]
    pub record_max_mib: u64,

    /// What to do; without one, the console opens
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands: the guide's scripts, the bundled server, and the configuration report.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bundled Socket.IO server (a stand-in for Claude MPM's Python monitor)
    Serve(ServeArgs),
    /// Check the server end to end: process, port, /health, handshake, websocket, CORS, files
    Doctor(DoctorArgs),
    /// List every monitor server on the host (Claude MPM runs one per project on 8765-8785):
    /// port, kind, the PID holding the port, its project directory, health, clients, events/s
    Servers(ServersArgs),
    /// List the monitored server's clients (client:list) and, from its log, who left, how
    /// long each lived and why
    Clients(ServersArgs),
    /// Connection test: connect, emit test_event, wait for test_response, disconnect
    Test(TestArgs),
    /// Measure round-trip throughput and latency, or fan-out to many clients
    Bench(BenchArgs),
    /// Graceful restart: SIGTERM, wait up to 10 s, SIGKILL, start the bundled server, wait for /health
    Restart(StopArgs),
    /// Emergency recovery: kill the port's holders, clear stale PID files, start a clean server
    Recover(StopArgs),
    /// Back up ~/.claude/config.yaml and reset its socketio: section to the defaults
    ResetConfig(ConfirmArgs),
    /// Print the resolved configuration with the source of every value
    Config(ConfigArgs),
    /// Open a recording (from --record, the console's w key, or --collect) in the console,
    /// with time controls; or print its events as JSON lines
    Replay(ReplayArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
}

/// Options of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording (.jsonl.gz)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the recorded events and log lines as JSON lines instead of opening the console
    #[arg(long)]
    pub json: bool,
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Detach, return once /health answers, and print the PID
    #[arg(long)]
    pub daemon: bool,

    /// Also serve Claude MPM's web dashboard: the build in DIR, or without DIR the one inside
    /// the claude-mpm on PATH. Its page connects to localhost:8765, so it is live only there
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    pub dashboard: Option<Option<PathBuf>>,
}

/// Options of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the results as JSON (versioned schema)
    #[arg(long)]
    pub json: bool,
    /// Run only these checks (comma-separated names)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub checks: Vec<String>,
}

/// Options of `servers`.
#[derive(Debug, Args)]
pub struct ServersArgs {
    /// Print JSON (schema in the README) instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Options of `test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Seconds to wait for each step
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub timeout: u64,
    /// Engine.IO transport
    #[arg(long, value_enum, default_value = "upgrade")]
    pub transport: Transport,
}

/// Options of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Round trips to measure (fan-out: events to send)
    #[arg(long, value_name = "N", default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub events: u32,
    /// Fan-out mode: this many clients receive a broadcast (1 to 20,000)
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=20_000))]
    pub clients: Option<u32>,
    /// With --clients: send the events as hook posts (POST /api/events), as Claude MPM's hooks
    /// do, instead of socket emits
    #[arg(long, requires = "clients")]
    pub post: bool,
    /// Target send rate in events per second (round trips: unlimited when absent; fan-out: 10)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
    /// Engine.IO transport
    #[arg(long, value_enum, default_value = "websocket")]
    pub transport: Transport,
    /// Print the results as JSON
    #[arg(long)]
    pub json: bool,
}

/// Options of the actions that change things.
#[derive(Debug, Args)]
pub struct ConfirmArgs {
    /// Do it without asking (for scripts); the targets are still printed
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Options of the actions that stop processes.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Do it without asking (for scripts); the targets are still printed
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also stop a holder that belongs to another user or lives in another PID namespace
    /// (a container), which is refused otherwise
    #[arg(long)]
    pub force: bool,
}

/// Options of `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print JSON (schema in the README) instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Options of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for
    #[arg(value_enum)]
    pub shell: Shell,
}

impl Cli {
    /// The flag layer of the configuration.
    #[must_use]
    pub fn flag_values(&self) -> Vec<FlagValue> {
        let flag = |key, raw: Option<String>| raw.map(|raw| FlagValue { key, raw });
        [
            flag(Key::Host, self.host.clone()),
            flag(Key::Port, self.port.map(|p| p.to_string())),
            flag(
                Key::LogFile,
                self.log_file.as_ref().map(|p| p.display().to_string()),
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_a_subcommand_and_become_the_flag_layer() {
        let cli =
            Cli::try_parse_from(["mpm-top", "config", "--port", "9100", "--host", "h"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Config(_))));
        assert_eq!(
            cli.flag_values(),
            [
                FlagValue {
                    key: Key::Host,
                    raw: "h".into()
                },
                FlagValue {
                    key: Key::Port,
                    raw: "9100".into()
                },
            ]
        );
    }

    #[test]
    fn collect_takes_an_optional_path() {
        let cli = Cli::try_parse_from(["mpm-top", "--collect"]).unwrap();
        assert_eq!(cli.collect, Some(PathBuf::from("debug_info.txt")));
        let cli = Cli::try_parse_from(["mpm-top", "--collect", "/tmp/x.txt"]).unwrap();
        assert_eq!(cli.collect, Some(PathBuf::from("/tmp/x.txt")));
        assert!(Cli::try_parse_from(["mpm-top", "--collect", "--demo"]).is_err());
    }
}
