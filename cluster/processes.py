"""Processes the harness starts: bounded waits, identity by PID and start time, commands with
deadlines, and turning SIGTERM into an exception so that clean-up code runs.

A process is only ever signalled after checking, in /proc, that its PID still belongs to the process
that was started (same start time): never by name, never a process the harness did not start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

EXIT_TIMEOUT = 10.0  # seconds a killed command may take to be reaped


class HarnessError(Exception):
    """Something the harness could not do, with what it was doing and what to look at."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived; raised so that `with` blocks tear their cluster down."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by signal {signal.Signals(signum).name}")
        self.signum = signum


# ---------------------------------------------------------------------------------------------
# Bounded waiting


def wait_for(what: str, check, timeout: float, interval: float = 0.1, detail=None):
    """Polls `check()` until it returns something truthy, and returns that.

    Raises HarnessError naming `what` (and `detail()`, if given, e.g. a log tail) after `timeout` s.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            extra = f"\n{detail()}" if detail else ""
            raise HarnessError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Processes, identified by PID and start time


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on, or None when there is no such process. Index 0 is
    the state, 2 the process group, 19 the start time."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2:].split()  # the name in parentheses may contain spaces


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None."""
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None


def process_state(pid: int | None, ticks: int | None) -> str:
    """'alive', 'stopped' or 'dead' for the process started as (pid, ticks).

    A zombie counts as dead (nobody may reap orphans on this machine), and so does a PID that now
    belongs to another process.
    """
    fields = stat_fields(pid) if pid is not None else None
    if not fields or int(fields[19]) != ticks or fields[0] in "ZXx":
        return "dead"
    return "stopped" if fields[0] in "Tt" else "alive"


def signal_process(pid: int, ticks: int | None, signum: int) -> bool:
    """Sends `signum` to the process group the process leads (it was started in a session of its own,
    so the group is it and whatever it forked), if it is still the one started; False if it is gone."""
    if process_state(pid, ticks) == "dead":
        return False
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        return False
    return True


def process_group(pid: int) -> int | None:
    """The process group of `pid`, or None when it is gone."""
    fields = stat_fields(pid)
    return int(fields[2]) if fields else None


@contextmanager
def raising_on_termination():
    """While active (main thread only), SIGTERM and SIGHUP raise Terminated instead of killing us."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, _frame):
        raise Terminated(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# ---------------------------------------------------------------------------------------------
# Commands run inside a namespace


@dataclass
class Completed:
    """A finished command: exit status (None when killed at its deadline), output and duration."""

    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def describe(self) -> str:
        status = "killed at its deadline" if self.timed_out else f"exit {self.returncode}"
        output = (self.stderr.strip() or self.stdout.strip()).splitlines()
        last = f": {output[-1]}" if output else ""
        return f"`{' '.join(self.argv)}` {status} after {self.seconds:.2f} s{last}"


class Background:
    """A command running in a namespace, in its own process group, registered in the state dir
    so that `down` kills it if it is still running."""

    def __init__(self, argv: list[str], namespace: str, env: dict, registry: Path):
        self.argv = argv
        self._stdout, self._stderr = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *argv], stdin=subprocess.DEVNULL,
            stdout=self._stdout, stderr=self._stderr, env=env, start_new_session=True)
        self.ticks = start_ticks(self.process.pid)
        registry.mkdir(parents=True, exist_ok=True)
        self._record = registry / f"{self.process.pid}.json"
        self._record.write_text(json.dumps({"pid": self.process.pid, "ticks": self.ticks, "argv": argv}))

    def wait(self, timeout: float) -> Completed:
        """Waits up to `timeout` s, then kills the command's process group; returns what it did."""
        try:
            returncode = self.process.wait(timeout=max(0.0, timeout - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.kill()
            returncode = None
        seconds = time.monotonic() - self.started
        self._record.unlink(missing_ok=True)
        stdout, stderr = self._read(self._stdout), self._read(self._stderr)
        return Completed(self.argv, returncode, stdout, stderr, seconds)

    def kill(self):
        """Kills the process group this command leads (it was started in a session of its own)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=EXIT_TIMEOUT)

    @staticmethod
    def _read(file) -> str:
        file.seek(0)
        text = file.read().decode(errors="replace")
        file.close()
        return text
