"""Runs the REAL Claude MPM monitor server (claude-mpm 6.5.83) for the interop tests.

Needs the Python 3.13 virtualenv of `requirements-claude-mpm.txt`. Run it with HOME and the
working directory pointed at a scratch folder: the server writes only below those two.

    python claude_mpm_server.py [--port P] [--host 127.0.0.1] [--mark-root] [--server-only | --cli]

The first line on stdout is `listening on http://HOST:PORT` once `GET /health` answers (or a
line starting with `error:` and exit status 2). It then runs until SIGTERM or SIGINT, stops the
server through claude-mpm's own shutdown path and exits 0. The real shutdown takes several
seconds (claude-mpm sleeps 2.5 s in it, and aiohttp waits for open connections).

Modes:

* default ("daemon"): the code path of the process that a real `claude-mpm monitor start`
  spawns (it re-runs itself as `python -m claude_mpm.cli monitor start --background` with
  CLAUDE_MPM_SUBPROCESS_DAEMON=1), in this process but without the CLI's slow start-up work
  (banner, agent and skill sync, npm). Reused from claude-mpm: the CLI's logging set-up
  (`setup_early_environment`, `setup_mcp_server_logging`: claude_mpm's own loggers OFF, as
  a real install runs unless given --logging), `DaemonManager`'s path resolvers and
  `_redirect_streams` (stdout and stderr appended to the daemon log, stdin from /dev/null),
  and `UnifiedMonitorDaemon` itself (PID file, signal handlers, hook installation into
  `<cwd>/.claude/settings.json`, shutdown). Files, as in a real install:
      <project root>/.claude-mpm/monitor-daemon-<port>.pid
      <project root>/.claude-mpm/logs/monitor-daemon-<port>.log
* --server-only: only `UnifiedMonitorServer`, no files; its log lines go to stderr.
* --cli: the real daemon child process itself (`python -m claude_mpm.cli monitor start
  --background --port P --host H`, CLAUDE_MPM_SUBPROCESS_DAEMON=1, stdout and stderr appended
  to the daemon log) as a child of this launcher, which forwards SIGTERM/SIGINT to it. Slow
  (the whole CLI start-up runs first: 10-30 s) and it also writes `.claude-mpm/` (config,
  templates, skills) and `.claude/` into the cwd and `.claude-mpm/`, `.config/`, `.npm/` into
  HOME. Only the real parent (`claude-mpm monitor start`) is skipped: its readiness check
  fails when the server listens on IPv4 only, because it then finds [::1]:P free, takes the
  port for unbound and kills the child after 30 s.

"Project root" is claude-mpm's: the nearest parent of the cwd holding `.git` or
`pyproject.toml`, not looking at or above the system temp dir; else the cwd itself. A scratch
dir under a git checkout (such as the crate's target/) would make the server write into the
checkout, so the launcher refuses unless the root is the cwd; `--mark-root` creates an empty
`pyproject.toml` in the cwd first so that it is.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

READY_TIMEOUT_S = 20.0
CLI_READY_TIMEOUT_S = 180.0
CLI_STOP_TIMEOUT_S = 30.0


def free_port(host):
    # UnifiedMonitorServer cannot take port 0: it would bind an ephemeral port but still report
    # port 0 (in /health, its log, and the PID and log file names). So take a free port from the
    # OS by binding to HOST:0, close that socket, and hand the port over (a small race, fine for
    # tests on loopback).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def health(host, port):
    """The /health answer as a dict, or None."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=1) as response:
            return json.loads(response.read())
    except Exception:  # noqa: BLE001 - not up yet
        return None


def wait_ready(host, port, pid, timeout, alive=lambda: True):
    """True once /health answers for the process `pid`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        answer = health(host, port)
        if answer and answer.get("pid") == pid:
            return True
        time.sleep(0.05)
    return False


class Announcer:
    """Writes the one status line to the original stdout, exactly once."""

    def __init__(self, fd):
        self.fd = fd
        self.lock = threading.Lock()
        self.done = False

    def say(self, line):
        with self.lock:
            if self.done:
                return
            self.done = True
            os.write(self.fd, (line + "\n").encode())
            if self.fd != 1:
                os.close(self.fd)


def clean_environment(cwd):
    # claude-mpm takes the project dir from $PWD (CLAUDE_MPM_USER_PWD), which a test that only
    # sets the child's cwd leaves pointing at its own directory.
    os.environ["PWD"] = str(cwd)
    for name in ("CLAUDE_MPM_USER_PWD", "CLAUDE_MPM_IS_SUBPROCESS", "CLAUDE_MPM_SUBPROCESS_DAEMON"):
        os.environ.pop(name, None)


def project_paths(port, host, mark_root):
    """claude-mpm's own PID and log file paths for `port`, or exits when outside the cwd."""
    from claude_mpm.services.monitor.daemon_manager import DaemonManager

    cwd = Path.cwd().resolve()
    if mark_root and not (cwd / ".git").exists() and not (cwd / "pyproject.toml").exists():
        (cwd / "pyproject.toml").write_text("")
    manager = DaemonManager(port=port, host=host)
    root = manager.pid_file.parent.parent
    if root.resolve() != cwd:
        print(
            f"error: claude-mpm's project root would be {root}, not the cwd {cwd};"
            " use a scratch dir outside any checkout or pass --mark-root",
            flush=True,
        )
        sys.exit(2)
    return manager


def run_daemon(host, port, mark_root):
    manager = project_paths(port, host, mark_root)
    announcer = Announcer(os.dup(1))
    # stdin from /dev/null, stdout and stderr appended to <root>/.claude-mpm/logs/monitor-daemon-<port>.log
    manager._redirect_streams()

    # The daemon child's environment and logging, as `claude-mpm monitor start --background`
    # sets them up in it.
    os.environ["CLAUDE_MPM_SUBPROCESS_DAEMON"] = "1"
    from claude_mpm.cli.parser import create_parser
    from claude_mpm.cli.startup import setup_early_environment, setup_mcp_server_logging

    argv = ["monitor", "start", "--background", "--port", str(port), "--host", host]
    argv = setup_early_environment(argv)
    setup_mcp_server_logging(create_parser().parse_args(argv))

    from claude_mpm.services.monitor.daemon import UnifiedMonitorDaemon

    daemon = UnifiedMonitorDaemon(host=host, port=port, daemon_mode=True)

    def announce_when_ready():
        if wait_ready(host, port, os.getpid(), READY_TIMEOUT_S):
            announcer.say(f"listening on http://{host}:{port}")
        else:
            announcer.say(f"error: no answer on http://{host}:{port}/health; see {manager.log_file}")

    threading.Thread(target=announce_when_ready, daemon=True).start()
    # Blocks until SIGTERM/SIGINT: claude-mpm's handler stops the server, removes the PID file
    # and raises SystemExit(0).
    started = daemon.start()
    announcer.say(f"error: claude-mpm did not start the server; see {manager.log_file}")
    sys.exit(0 if started else 2)


def run_cli(host, port, mark_root):
    manager = project_paths(port, host, mark_root)
    env = dict(os.environ)
    env["CLAUDE_MPM_SUBPROCESS_DAEMON"] = "1"
    cmd = [
        sys.executable, "-m", "claude_mpm.cli", "monitor", "start", "--background",
        "--port", str(port), "--host", host,
    ]
    manager.log_file.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with manager.log_file.open("a") as log:
        child = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            preexec_fn=die_with_parent,
        )
    try:
        ready = wait_ready(
            host, port, child.pid, CLI_READY_TIMEOUT_S,
            alive=lambda: child.poll() is None and not stop.is_set(),
        )
        if not ready:
            print(f"error: claude-mpm did not start the server; see {manager.log_file}", flush=True)
            return 2
        announce_and_detach(f"listening on http://{host}:{port}")
        while not stop.is_set() and child.poll() is None:
            stop.wait(0.2)
        return 0
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(CLI_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def announce_and_detach(line):
    """Prints the status line, then points stdout at stderr: a reader that stops after the first
    line must not make a later print fail."""
    print(line, flush=True)
    os.dup2(2, 1)


def die_with_parent():
    # Linux: the CLI child gets SIGTERM if this launcher dies without forwarding a signal.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort only
        pass


def run_server_only(host, port):
    from claude_mpm.services.monitor.server import UnifiedMonitorServer

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    server = UnifiedMonitorServer(host=host, port=port)
    if not server.start() or not wait_ready(host, port, os.getpid(), READY_TIMEOUT_S):
        print(f"error: the server did not start on {host}:{port}", flush=True)
        server.stop()
        return 2
    announce_and_detach(f"listening on http://{host}:{port}")
    stop.wait()
    server.stop()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--mark-root", action="store_true",
                        help="create an empty pyproject.toml in the cwd so it is the project root")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--server-only", action="store_true")
    mode.add_argument("--cli", action="store_true")
    args = parser.parse_args()

    clean_environment(Path.cwd())
    port = args.port or free_port(args.host)
    if args.server_only:
        sys.exit(run_server_only(args.host, port))
    if args.cli:
        sys.exit(run_cli(args.host, port, args.mark_root))
    run_daemon(args.host, port, args.mark_root)


if __name__ == "__main__":
    main()
