//! mpm-top: a terminal diagnostics console for the Claude MPM Socket.IO monitoring server.
//!
//! One package, three faces sharing one core (see `ARCHITECTURE.md` in the shared docs):
//! the full-screen console (`mpm-top`), the scripting face (`doctor`, `--collect`, `restart`,
//! `recover`, `reset-config`, `config`, `bench`, `test`) and the bundled server (`serve`).
//!
//! # Layout
//!
//! - `main.rs`: thin entry point: parses the command line and dispatches.
//! - [`cli`]: the command line (clap derive), final in shape.
//! - [`config`]: layered configuration (defaults < `SOCKETIO_*` env < `~/.claude/config.yaml`
//!   < flags) resolved into typed [`config::Settings`], with the source of every value, the
//!   values it shadowed, and findings for bad input. `gather` does the I/O, `resolve` is pure.
//! - [`serve`]: the bundled Socket.IO server (socketioxide on axum): `spawn(listener, settings)`
//!   for tests and the demo, `serve::command` for `mpm-top serve`.
//! - [`probes`]: read-only facts (port holders, process identity), blocking, bounded.
//! - [`sio_client`]: a `rust_socketio` session that waits for the connect ack before emitting.
//! - [`conn_test`]: `mpm-top test`, the guide's connection test.
//! - [`actions`]: the only code that changes anything: kill, restart, recover, reset config.
//! - [`bench`]: `mpm-top bench`, round trips and fan-out.
//! - [`checks`]: facts to doctor findings (pure), shared by `doctor`, the console, `--collect`.
//! - [`collect`]: the debug bundle, redacted, written 0600.
//! - [`doctor`]: gathers the facts concurrently under timeouts and prints the checks.
//! - [`clients_cmd`]: `mpm-top clients`, the Clients view (`C`) as a table or JSON: the
//!   server's `client:list`, and the departures its log tells of.
//! - [`servers_cmd`]: `mpm-top servers`, every monitor server on the host, from
//!   [`probes::servers`] (the scan the console repeats).
//! - [`fd_limit`]: raises the open-file limit for `serve` and `bench`.
//! - [`files`]: the user's files (log, audit log, PID file, backups, bundle), 0600.
//! - [`target`]: the one server a console, `doctor` or action is about, and how it was chosen.
//! - [`text`]: the one sanitiser every string from outside passes before it is drawn or logged.
//! - [`bounded`]: the ring and the capped counter map every buffer fed from outside uses.
//!
//! - [`app`]: console state, `Action`, `update(state, action) -> effects` (no I/O), key map.
//! - [`console`]: the runtime: producers, the event loop, effects, `--demo`.
//! - [`ui`]: pure rendering of the state, one function per pane, theme.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod actions;
pub mod app;
pub mod bench;
pub mod bounded;
pub mod checks;
pub mod cli;
pub mod clients_cmd;
pub mod collect;
pub mod config;
pub mod conn_test;
pub mod console;
pub mod doctor;
pub mod fd_limit;
pub mod files;
pub mod probes;
pub mod record;
pub mod serve;
pub mod servers_cmd;
pub mod sio_client;
pub mod target;
pub mod text;
pub mod ui;
