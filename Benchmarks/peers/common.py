"""Shared pieces of the peer benchmark: the workload definition, the driver
interface every system implements, payload/timing helpers and server-process
management.

A *driver* wraps one system (Redis Streams, NATS JetStream, later Ganglion).
The harness (`bench_peers.py`) owns repetition, medians and reporting; a
driver only knows how to start its server, run one measurement of one
workload, and stop. Every driver receives the same `Workload`, so the numbers
in one table always come from the same event sizes, durations, concurrency
and pacing.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Optional, Sequence

# --------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Workload:
    """Parameters shared by every system. See README.md for the rationale.

    sizes:             payload sizes in bytes (the event body; framing is the
                       system's own business and not counted).
    runs:              measurements per (system, metric, size); the table shows
                       the median.
    warmup_s:          time at the start of a timed run that is not counted
                       (connections settle, first segment/AOF file is created).
    produce_s:         measured length of a produce run.
    producers:         concurrent producer processes (each with its own
                       connection), so the client-side Python cost is spread
                       over processes instead of serialised by one GIL.
    batch:             events in flight per producer before acks are awaited:
                       a Redis pipeline of `batch` XADDs, or `batch` NATS
                       async publishes whose acks are then awaited together.
    consume_events:    events preloaded (untimed) before a consume run; the
                       run ends when two consumers have read and committed
                       all of them.
    consume_batch:     events per XREADGROUP / per pull fetch.
    consume_timeout_s: bound on one consume run.
    latency_rate:      events/s the latency producer is paced at.
    latency_s:         measured length of a latency run.
    """

    sizes: Sequence[int] = (256, 1024)
    runs: int = 3
    warmup_s: float = 0.5
    produce_s: float = 5.0
    producers: int = 2
    batch: int = 256
    consume_events: int = 200_000
    consume_batch: int = 500
    consume_timeout_s: float = 40.0
    latency_rate: int = 10_000
    latency_s: float = 5.0

    @classmethod
    def quick(cls) -> "Workload":
        """Smoke-test sizing: one short run per cell, 256 B only."""
        return cls(sizes=(256,), runs=1, warmup_s=0.1, produce_s=0.5,
                   consume_events=5_000, consume_timeout_s=10.0,
                   latency_s=0.5)


# --------------------------------------------------------------------------
# Metrics (rows of the table / keys of the JSON file)
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str
    higher_is_better: bool


METRICS: Sequence[Metric] = (
    Metric("produce_interval", "produce, interval fsync", "events/s", True),
    Metric("produce_always", "produce, fsync before ack", "events/s", True),
    Metric("consume", "consume+commit, 2 consumers", "events/s", True),
    Metric("latency_p50", "e2e latency p50 @10k/s", "us", False),
    Metric("latency_p99", "e2e latency p99 @10k/s", "us", False),
)


class Unsupported(Exception):
    """Raised by a driver for a workload its system (version) cannot run as
    specified. The message is shown as a footnote instead of a number."""


# --------------------------------------------------------------------------
# Driver interface
# --------------------------------------------------------------------------


class Driver(abc.ABC):
    """One system under test.

    Lifecycle: `start(workdir)` once, then any number of measurement calls,
    then `stop()` (always called, also after failures). Each measurement call
    performs exactly one run and leaves the system empty again (stream
    deleted) so runs are independent and disk/memory use stays bounded.
    """

    #: short column name, also the key in the JSON file ("redis", "nats", "ganglion")
    key: str = ""
    #: human readable name
    label: str = ""

    def __init__(self, workload: Workload):
        self.workload = workload
        #: extra facts about the last measurement, e.g. {"server_cpu": 0.93}
        #: (average cores used by the server process in the measured window)
        self.last_info: dict = {}

    @abc.abstractmethod
    def start(self, workdir: Path) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    @abc.abstractmethod
    def describe(self) -> dict:
        """Version strings and the configuration actually used (goes into the
        JSON file and the table footer)."""

    @abc.abstractmethod
    def produce(self, size: int, fsync: str) -> float:
        """Acknowledged produce throughput in events/s. `fsync` is
        "interval" (periodic fsync, ack before fsync) or "always" (every ack
        is preceded by an fsync covering the event)."""

    @abc.abstractmethod
    def consume(self, size: int) -> float:
        """Two consumers in one group read `consume_events` preloaded events
        and commit them; events/s from start until every commit is confirmed."""

    @abc.abstractmethod
    def latency(self, size: int) -> tuple[float, float]:
        """(p50, p99) end-to-end latency in microseconds with the producer
        paced at `latency_rate` events/s."""


# --------------------------------------------------------------------------
# Payloads and timing
# --------------------------------------------------------------------------


def payload(size: int) -> bytes:
    """Incompressible payload of exactly `size` bytes (neither system
    compresses, but random bytes keep it honest)."""
    return os.urandom(size)


def stamped(pad: bytes) -> bytes:
    """Payload for latency runs: 8-byte big-endian CLOCK_MONOTONIC timestamp
    in ns followed by `pad` (size - 8 bytes). The clock is system-wide, so
    producer and consumer processes compare stamps."""
    return time.monotonic_ns().to_bytes(8, "big") + pad


def stamp_of(data: bytes) -> int:
    return int.from_bytes(data[:8], "big")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


def latency_summary(latencies_ns: list[int]) -> tuple[float, float]:
    latencies_ns.sort()
    return (percentile(latencies_ns, 50) / 1000.0, percentile(latencies_ns, 99) / 1000.0)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def wait_until(t_monotonic: float) -> None:
    delay = t_monotonic - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def paced(t0: float, t_end: float, rate: int):
    """The latency producers' schedule: yields, at each event's time (`rate`
    events/s from `t0`), how many events are due now (1, or more when the
    sender fell behind) until `t_end`. It sleeps the thread in between, which
    is fine in a process that does nothing else (also an asyncio one)."""
    sent = 0
    while True:
        now = time.monotonic()
        if now >= t_end:
            return
        due = int((now - t0) * rate) - sent
        if due <= 0:
            wait_until(t0 + (sent + 1) / rate)
            continue
        yield due
        sent += due


def free_port() -> int:
    """A loopback port the OS considers free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    """`n` distinct loopback ports the OS considers free right now: all `n`
    sockets stay bound until every port is chosen, so none repeats."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for_port(port: int, timeout: float = 10.0, proc: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


# --------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------


class ServerProcess:
    """A server we started ourselves. Its PID is written to
    `$PEER_BENCH_PIDDIR/<name>.pid` (when set) so `scripts/bench-peers.sh`
    can stop exactly this process from its exit trap even if Python dies."""

    def __init__(self, name: str, argv: list[str], log: Path):
        self.name = name
        self.log_path = log
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        piddir = os.environ.get("PEER_BENCH_PIDDIR")
        self._pidfile = Path(piddir) / f"{name}.pid" if piddir else None
        if self._pidfile:
            self._pidfile.write_text(f"{self.proc.pid}\n")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if self._pidfile:
            self._pidfile.unlink(missing_ok=True)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class CpuSampler:
    """Samples a process's CPU time (user+system, all threads) every 20 ms
    from /proc so a run can report how many cores the *server* used while it
    was measured: near the core count means the server was the bottleneck,
    well below means the clients were. Use as a context manager. Given
    several PIDs (a cluster), it reports their sum."""

    def __init__(self, pid: int | Sequence[int], period: float = 0.02):
        self.pids = [pid] if isinstance(pid, int) else list(pid)
        self.period = period
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _cpu(self) -> float:
        total = 0
        for pid in self.pids:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self._tick

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), self._cpu()))
            except OSError:
                return
            self._stop.wait(self.period)

    def __enter__(self) -> "CpuSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def cores(self, t_from: float, t_to: float) -> Optional[float]:
        """Average cores used between two monotonic instants (nearest samples)."""
        inside = [s for s in self.samples if t_from <= s[0] <= t_to]
        if len(inside) < 2 or inside[-1][0] - inside[0][0] <= 0:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


_worker_ctx = None


def worker_context():
    """multiprocessing context for load-generator processes: a fork server
    that has already imported the drivers and client libraries, so workers
    start in milliseconds (matters for --quick) and are forked from a clean
    single-threaded process rather than from the harness."""
    global _worker_ctx
    if _worker_ctx is None:
        import multiprocessing
        _worker_ctx = multiprocessing.get_context("forkserver")
        _worker_ctx.set_forkserver_preload(["redis_driver", "nats_driver"])
    return _worker_ctx


class Gate:
    """Start line for worker processes: each worker connects, calls
    `wait(out)` (reports ready, blocks), and all get the same start instant,
    set by the parent just after the last worker is ready, so process start-up
    and imports never eat into a measured window."""

    READY = "ready"

    def __init__(self, ctx):
        self._go = ctx.Event()
        self._t = ctx.Value("d", 0.0)

    def wait(self, out) -> float:
        out.put(Gate.READY)
        self._go.wait()
        t = self._t.value
        wait_until(t)
        return t

    def open(self, lead: float = 0.05) -> float:
        self._t.value = time.monotonic() + lead
        self._go.set()
        return self._t.value


def run_workers(ctx, target, args_list: list[tuple], timeout: float) -> tuple[list, float]:
    """Start one process per args tuple; each is called as
    target(*args, gate, out). Waits until all are ready, opens the gate,
    collects one result from each and makes sure none outlives the call.
    Returns (results, start instant). A worker reports failure as
    ("error", text)."""
    queue = ctx.Queue()
    gate = Gate(ctx)
    procs = [ctx.Process(target=target, args=(*args, gate, queue), daemon=True) for args in args_list]
    for p in procs:
        p.start()
    results = []
    t_start = 0.0
    try:
        deadline = time.monotonic() + 60  # start-up bound
        ready = 0
        while ready < len(procs):
            r = _get(queue, deadline)
            if r == Gate.READY:
                ready += 1
            else:
                results.append(r)  # an early error
                break
        if len(results) == 0:
            t_start = gate.open()
            deadline = time.monotonic() + timeout
            for _ in procs:
                results.append(_get(queue, deadline))
    finally:
        if not gate._go.is_set():
            gate.open()
        for p in procs:
            p.join(timeout=2)
            if p.is_alive():
                p.terminate()
                p.join()
    for r in results:
        if isinstance(r, tuple) and r and r[0] == "error":
            raise RuntimeError(f"worker failed:\n{r[1]}")
    return results, t_start


def _get(queue, deadline: float):
    import queue as queue_mod
    remaining = deadline - time.monotonic()
    try:
        if remaining <= 0:
            raise queue_mod.Empty
        return queue.get(timeout=remaining)
    except queue_mod.Empty:
        raise TimeoutError("benchmark worker did not report in time") from None
