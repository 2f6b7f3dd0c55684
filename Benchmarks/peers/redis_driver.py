"""Redis Streams driver (redis-server from Debian, redis-py + hiredis client).

Server: one redis-server on a free loopback port, data in a temp dir,
`appendonly yes`, RDB snapshots off (`save ""`), and automatic AOF rewrite off
(`auto-aof-rewrite-percentage 0`). The rewrite is Redis's log compaction; left
on it would fork and rewrite the whole dataset every time the AOF doubles past
64 MB, i.e. several times inside one produce run. The log-structured peers do
no such work during a run either, so it is switched off and instead run
explicitly (BGREWRITEAOF, awaited) between runs to reclaim disk after the
stream is deleted.

Durability: `appendfsync everysec` for the interval-fsync rows (the ack is
sent once the write is in the AOF page cache; a background thread fsyncs
every second) and `appendfsync always` (CONFIG SET at run time) for the
fsync-before-ack rows: Redis then fsyncs the AOF in `beforeSleep` before it
writes any reply of that event-loop iteration, i.e. group commit, one fsync
per batch of commands read in an iteration, never an ack before its fsync.
"""

from __future__ import annotations

import gc
import subprocess
import time
import traceback
from pathlib import Path

import redis

from common import (CpuSampler, Driver, ServerProcess, Workload, free_port, latency_summary,
                    payload, run_workers, paced, stamp_of, stamped, wait_for_port, worker_context)

STREAM = "bench"
GROUP = "g"
FIELD = b"p"


# --------------------------------------------------------------------------
# Worker processes (top level so the spawn start method can import them)
# --------------------------------------------------------------------------


def _preload_worker(port, size, batch, count, gate, out):
    """Write exactly `count` events with pipelined XADD (untimed preload)."""
    try:
        r = redis.Redis(port=port)
        r.ping()
        fields = {FIELD: payload(size)}
        gate.wait(out)
        written = 0
        while written < count:
            n = min(batch, count - written)
            pipe = r.pipeline(transaction=False)
            for _ in range(n):
                pipe.xadd(STREAM, fields)
            pipe.execute()
            written += n
        r.close()
        out.put(written)
    except BaseException:
        out.put(("error", traceback.format_exc()))


def _produce_worker(port, size, batch, warmup_s, measure_s, gate, out):
    """Pipelined XADD: `batch` XADDs are written in one go, then all replies
    (the acks) are read; repeat. Produces from the gate's start instant; only
    batches whose acks arrive inside [start + warmup, start + warmup +
    measure) are counted."""
    try:
        r = redis.Redis(port=port)
        r.ping()
        fields = {FIELD: payload(size)}
        counted = 0
        gc.disable()
        t_measure = gate.wait(out) + warmup_s
        t_end = t_measure + measure_s
        while True:
            pipe = r.pipeline(transaction=False)
            for _ in range(batch):
                pipe.xadd(STREAM, fields)
            pipe.execute()
            now = time.monotonic()
            if now >= t_end:
                break
            if now >= t_measure:
                counted += batch
        r.close()
        out.put(counted)
    except BaseException:
        out.put(("error", traceback.format_exc()))


def _consume_worker(port, name, batch, gate, out):
    """XREADGROUP COUNT batch, then XACK of that batch pipelined together
    with the next XREADGROUP (one round trip per batch). An empty read means
    the preloaded stream is exhausted; the XACK in that same pipeline was the
    last commit, and its reply has been read, so commits are confirmed."""
    try:
        r = redis.Redis(port=port)
        r.ping()
        gc.disable()
        gate.wait(out)
        ids: list = []
        n = 0
        while True:
            pipe = r.pipeline(transaction=False)
            if ids:
                pipe.xack(STREAM, GROUP, *ids)
            pipe.xreadgroup(GROUP, name, {STREAM: ">"}, count=batch)
            res = pipe.execute()
            entries = res[-1][0][1] if res[-1] else []
            if not entries:
                break
            ids = [eid for eid, _ in entries]
            n += len(ids)
        t_done = time.monotonic()
        r.close()
        out.put((n, t_done))
    except BaseException:
        out.put(("error", traceback.format_exc()))


def _latency_worker(role, port, size, rate, warmup_s, measure_s, sent_total, gate, out):
    """One side of the latency run, each in its own process with a synchronous
    client (CLOCK_MONOTONIC is system-wide, so stamps compare across processes).

    Producer: sends each event at its scheduled time (`rate` events/s), stamped
    as it is handed to the client, with one XADD and its ack; if it falls behind
    it sends the events already due as one pipeline. Consumer: XREADGROUP BLOCK
    (a long poll that returns as soon as anything is there) with the previous
    batch's XACK pipelined in front. Events stamped during warm-up are not
    counted."""
    try:
        r = redis.Redis(port=port)
        r.ping()
        gc.collect()
        gc.disable()  # load generator hygiene: no collector pauses inside the timed loop
        if role == "producer":
            pad = payload(size - 8)
            t0 = gate.wait(out)
            t_end = t0 + warmup_s + measure_s
            sent = 0
            for due in paced(t0, t_end, rate):
                if due == 1:
                    r.xadd(STREAM, {FIELD: stamped(pad)})
                else:
                    pipe = r.pipeline(transaction=False)
                    for _ in range(due):
                        pipe.xadd(STREAM, {FIELD: stamped(pad)})
                    pipe.execute()
                sent += due
            sent_total.value = sent
            out.put(("sent", sent))
        else:
            t0 = gate.wait(out)
            t_measure_ns = int((t0 + warmup_s) * 1e9)
            deadline = t0 + warmup_s + measure_s + 30
            lat: list[int] = []
            ids: list = []
            received = 0
            while True:
                pipe = r.pipeline(transaction=False)
                if ids:
                    pipe.xack(STREAM, GROUP, *ids)
                pipe.xreadgroup(GROUP, "c0", {STREAM: ">"}, count=1000, block=100)
                res = pipe.execute()
                now = time.monotonic_ns()
                entries = res[-1][0][1] if res[-1] else []
                ids = [eid for eid, _ in entries]
                received += len(ids)
                for _, fields in entries:
                    ts = stamp_of(fields[FIELD])
                    if ts >= t_measure_ns:
                        lat.append(now - ts)
                total = sent_total.value
                if (total >= 0 and received >= total) or time.monotonic() > deadline:
                    break
            if ids:
                r.xack(STREAM, GROUP, *ids)
            out.put(("latencies", lat))
        r.close()
    except BaseException:
        out.put(("error", traceback.format_exc()))


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


class RedisDriver(Driver):
    key = "redis"
    label = "Redis Streams"

    def __init__(self, workload: Workload):
        super().__init__(workload)
        self.server: ServerProcess | None = None
        self.port = 0
        self.ctx = worker_context()

    # lifecycle -------------------------------------------------------------

    def start(self, workdir: Path) -> None:
        data = workdir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--protected-mode", "no", "--dir", str(data), "--daemonize", "no",
                "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                "--auto-aof-rewrite-percentage", "0", "--logfile", ""]
        self.server = ServerProcess("redis-server", argv, workdir / "redis-server.log")
        wait_for_port(self.port, proc=self.server.proc)
        self.r = redis.Redis(port=self.port)
        self.r.ping()

    def stop(self) -> None:
        if self.server is not None:
            self.r.close()
            self.server.stop()  # SIGTERM: Redis fsyncs the AOF and exits
            self.server = None

    def describe(self) -> dict:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
        info = self.r.info("server") if self.server else {}
        from importlib.metadata import PackageNotFoundError, version
        try:  # with hiredis installed redis-py parses replies in C
            client = f"redis-py {version('redis')} + hiredis {version('hiredis')}"
        except PackageNotFoundError:
            client = f"redis-py {version('redis')} (pure-Python parser)"
        return {
            "label": self.label,
            "server": f"redis-server {info.get('redis_version', out)}",
            "client": client,
            "config": "appendonly yes; appendfsync everysec | always; save \"\"; "
                      "auto-aof-rewrite off (BGREWRITEAOF between runs)",
        }

    # helpers -----------------------------------------------------------------

    def _reset(self) -> None:
        """Delete the stream and compact the AOF so each run starts empty."""
        self.r.delete(STREAM)
        self.r.config_set("appendfsync", "everysec")
        try:
            self.r.bgrewriteaof()
        except redis.ResponseError:
            pass
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            p = self.r.info("persistence")
            if not p.get("aof_rewrite_in_progress") and not p.get("aof_rewrite_scheduled"):
                return
            time.sleep(0.05)

    # workloads ---------------------------------------------------------------

    def produce(self, size: int, fsync: str) -> float:
        w = self.workload
        self._reset()
        self.r.config_set("appendfsync", "always" if fsync == "always" else "everysec")
        try:
            with CpuSampler(self.server.proc.pid) as cpu:
                counts, t_start = run_workers(self.ctx, _produce_worker,
                                              [(self.port, size, w.batch, w.warmup_s, w.produce_s)
                                               for _ in range(w.producers)],
                                              timeout=w.warmup_s + w.produce_s + 30)
            t_measure = t_start + w.warmup_s
            t_end = t_measure + w.produce_s
            self.last_info = {"server_cpu": cpu.cores(t_measure, t_end)}
            return sum(counts) / w.produce_s
        finally:
            self._reset()

    def consume(self, size: int) -> float:
        w = self.workload
        self._reset()
        try:
            per = [w.consume_events // w.producers] * w.producers
            per[0] += w.consume_events - sum(per)
            run_workers(self.ctx, _preload_worker,
                        [(self.port, size, w.batch, n) for n in per],
                        timeout=w.consume_timeout_s + 60)
            assert self.r.xlen(STREAM) == w.consume_events
            self.r.xgroup_create(STREAM, GROUP, id="0")
            with CpuSampler(self.server.proc.pid) as cpu:
                res, t_start = run_workers(self.ctx, _consume_worker,
                                           [(self.port, f"c{i}", w.consume_batch) for i in range(2)],
                                           timeout=w.consume_timeout_s + 5)
            t_done = max(t for _, t in res)
            self.last_info = {"server_cpu": cpu.cores(t_start, t_done)}
            total = sum(n for n, _ in res)
            pending = self.r.xpending(STREAM, GROUP)["pending"]
            if total != w.consume_events or pending:
                raise RuntimeError(f"consumed {total}/{w.consume_events}, {pending} unacked")
            return total / (t_done - t_start)
        finally:
            self._reset()

    def latency(self, size: int) -> tuple[float, float]:
        w = self.workload
        self._reset()
        try:
            self.r.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
            sent_total = self.ctx.Value("q", -1)
            res, _ = run_workers(self.ctx, _latency_worker,
                                 [(role, self.port, size, w.latency_rate, w.warmup_s, w.latency_s, sent_total)
                                  for role in ("consumer", "producer")],
                                 timeout=w.warmup_s + w.latency_s + 40)
            return latency_summary(next(v for k, v in res if k == "latencies"))
        finally:
            self._reset()

