//! The only code that changes anything: kill port holders, restart, recover, reset config.
//!
//! Every action acts on targets captured (and shown) before it starts, never on a pattern
//! (`killall python`, `pkill -f` are what this replaces), and writes one audit line per step to
//! mpm-top's own log.

pub mod holder;
pub mod kill;
pub mod reset_config;
pub mod restart;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

/// mpm-top's own log of what it did, beside the server log.
#[derive(Clone, Debug)]
pub struct Audit {
    path: PathBuf,
    echo: bool,
}

impl Audit {
    /// The audit log for a server logging to `server_log`: `mpm-top.log` in the same directory.
    #[must_use]
    pub fn beside(server_log: &Path) -> Audit {
        let dir = server_log
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Audit {
            path: dir.join("mpm-top.log"),
            echo: true,
        }
    }

    /// The same, without echoing to stderr: for the console, which owns the terminal.
    #[must_use]
    pub fn quiet(self) -> Audit {
        Audit {
            echo: false,
            ..self
        }
    }

    /// Where the lines go.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records one step: what was done, to what, and how it went. Also echoed to stderr, so a
    /// user sees each step as it happens. Failing to write the audit never stops an action.
    pub fn step(&self, action: &str, target: &str, result: &str) {
        // Targets and results carry process names and server answers: one line each, shown.
        let (target, result) = (crate::text::sanitize(target), crate::text::sanitize(result));
        let line = format!(
            "{} action={action} target=\"{target}\" result=\"{result}\"\n",
            crate::serve::socket::now_rfc3339()
        );
        if self.echo {
            eprintln!("mpm-top {action}: {target}: {result}");
        }
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(mut f) = crate::files::append_private(&self.path) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Asks `question` on the terminal; `--yes` answers for scripts. Without a terminal and without
/// `--yes`, the answer is no.
#[must_use]
pub fn confirm(question: &str, yes: bool) -> bool {
    if yes {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        eprintln!("{question} — not confirmed: no terminal to ask on; pass --yes to go ahead");
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}
