//! A program in a pseudo-terminal, its screen read back with vt100: for the console's
//! end-to-end test, its screenshots and its load benchmark.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// A running program and its 120×36 screen.
pub struct Tty {
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    pub screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn std::io::Write + Send>,
}

impl Tty {
    /// Starts `program` (looked up in `path`) with `args`, HOME=`home`, a UTF-8 xterm, and
    /// nothing else from this environment.
    pub fn spawn(program: &str, args: &[String], home: &Path, path: &std::ffi::OsStr) -> Tty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 36,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env_clear();
        cmd.env("HOME", home);
        cmd.env("PATH", path);
        cmd.env("TERM", "xterm-256color");
        cmd.env("LANG", "C.UTF-8");
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(36, 120, 0)));
        let parser = Arc::clone(&screen);
        let mut reader = pair.master.try_clone_reader().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                parser.lock().unwrap().process(&buf[..n]);
            }
        });
        let writer = pair.master.take_writer().unwrap();
        std::mem::forget(pair.master); // keep the pty open for the child's whole life
        Tty {
            child,
            screen,
            writer,
        }
    }

    /// The screen's text.
    pub fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits up to 20 s for `needle` on screen; returns the screen.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(&format!("'{needle}' on screen"), |text| {
            text.contains(needle)
        })
    }

    /// Waits up to 20 s for a screen that is `ready` (a whole frame, where one string could
    /// be read while the rest of the frame is still being drawn); returns it.
    pub fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.text();
            if ready(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what}; the screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Types `keys`.
    pub fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Escape on its own: followed at once by another key, a terminal reads it as Alt+key.
    pub fn escape(&mut self) {
        self.keys("\x1b");
        std::thread::sleep(Duration::from_millis(300));
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
