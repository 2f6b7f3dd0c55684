"""NATS JetStream driver (nats-server from Debian, nats-py client).

Server: one nats-server on a free loopback port with JetStream enabled and its
store in a temp dir. Stream `BENCH` on subject `bench.ev`: file storage, one
replica, limits retention, no limits, recreated empty for every run.

Durability: the interval-fsync rows use the server's default file-store sync
interval (the filestore writes through the page cache and fsyncs
periodically; the publish ack does not wait for it). The fsync-before-ack rows
need `jetstream { sync_interval: always }`, which appeared in nats-server
2.10.0 (nats-server PR #4483). The driver probes the installed server with
`nats-server -t`; if the option is unknown the rows are reported as
unsupported rather than measured with a weaker setting.

Replicated mode (`NatsClusterDriver`, key `nats-r3`): three nats-server
processes on loopback joined by cluster routes, the same stream as R3, and only
the interval-fsync produce workload; a PubAck then means a quorum (2 of 3) of
the stream's replicas stored the message.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

import nats
from nats.js import api

from common import (CpuSampler, Driver, ServerProcess, Unsupported, Workload, free_port, free_ports,
                    latency_summary, payload, run_workers, paced, stamp_of, stamped, wait_for_port,
                    worker_context)

STREAM = "BENCH"
SUBJECT = "bench.ev"
DURABLE = "g"


def _server_config(port: int, store: Path, sync_always: bool) -> str:
    sync = "  sync_interval: always\n" if sync_always else ""
    return (f"listen: 127.0.0.1:{port}\n"
            f"jetstream {{\n  store_dir: \"{store}\"\n  max_memory_store: 256MB\n{sync}}}\n")


# --------------------------------------------------------------------------
# Worker processes
# --------------------------------------------------------------------------


async def _publish_window(js, data: bytes, n: int) -> None:
    """n async publishes written back to back (the client buffers them into
    one socket write), then all n PubAcks awaited: the NATS analogue of a
    Redis pipeline of n XADDs."""
    futures = [await js.publish_async(SUBJECT, data) for _ in range(n)]
    await asyncio.gather(*futures)


def _preload_worker(url, size, batch, count, gate, out):
    async def main():
        nc = await nats.connect(url)
        js = nc.jetstream(publish_async_max_pending=batch)
        data = payload(size)
        gate.wait(out)
        written = 0
        while written < count:
            n = min(batch, count - written)
            await _publish_window(js, data, n)
            written += n
        await nc.close()
        return written
    try:
        out.put(asyncio.run(main()))
    except BaseException:
        out.put(("error", traceback.format_exc()))


def _produce_worker(url, size, batch, warmup_s, measure_s, gate, out):
    """Windows of `batch` async publishes; only windows whose acks all arrive
    inside [start + warmup, start + warmup + measure) are counted."""
    async def main():
        nc = await nats.connect(url)
        js = nc.jetstream(publish_async_max_pending=batch)
        await nc.flush()
        data = payload(size)
        counted = 0
        gc.disable()
        t_measure = gate.wait(out) + warmup_s
        t_end = t_measure + measure_s
        while True:
            await _publish_window(js, data, batch)
            now = time.monotonic()
            if now >= t_end:
                break
            if now >= t_measure:
                counted += batch
        await nc.close()
        return counted
    try:
        out.put(asyncio.run(main()))
    except BaseException:
        out.put(("error", traceback.format_exc()))


def _consume_worker(url, batch, target, shared, gate, out):
    """One of two subscribers bound to the same durable pull consumer: fetch
    up to `batch` messages, ack each (explicit ack policy; `msg.ack()` is a
    buffered publish, not a round trip), repeat until the pair has seen
    `target` messages. The subscriber that takes the total to `target`
    flushes and then polls the consumer until the server shows nothing
    pending and nothing awaiting ack, so the reported end time is when every
    commit has been applied server-side."""
    async def main():
        nc = await nats.connect(url)
        js = nc.jetstream()
        psub = await js.pull_subscribe_bind(DURABLE, stream=STREAM)
        await nc.flush()
        gc.disable()
        t_start = gate.wait(out)
        n = 0
        t_last = t_start
        while shared.value < target:
            try:
                msgs = await psub.fetch(batch, timeout=1.0)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                continue
            for m in msgs:
                await m.ack()
            n += len(msgs)
            with shared.get_lock():
                shared.value += len(msgs)
                finished = shared.value >= target
            await nc.flush()
            t_last = time.monotonic()
            if finished:
                while True:
                    info = await js.consumer_info(STREAM, DURABLE)
                    if info.num_ack_pending == 0 and info.num_pending == 0:
                        break
                    await asyncio.sleep(0.002)
                t_last = time.monotonic()
        await nc.close()
        return n, t_last
    try:
        out.put(asyncio.run(main()))
    except BaseException:
        out.put(("error", traceback.format_exc()))


def _latency_worker(role, url, size, rate, warmup_s, measure_s, sent_total, gate, out):
    """One side of the latency run, each in its own process (CLOCK_MONOTONIC is
    system-wide, so stamps compare across processes).

    Producer: publishes each event at its scheduled time (`rate` events/s),
    stamped as it is handed to the client, and awaits its PubAck; if it falls
    behind it publishes the events already due as one window. Consumer: a
    durable JetStream consumer with explicit acks delivering to a subscription
    callback (push delivery), which hands each message over as soon as the
    server sends it. nats-py's pull `fetch(n)` keeps waiting to fill the batch
    once a first message arrived, which would measure the client's timer rather
    than the server, so the latency rows use streaming delivery; the throughput
    rows use pull. Events stamped during warm-up are not counted."""
    async def producer():
        nc = await nats.connect(url)
        js = nc.jetstream(publish_async_max_pending=100_000)
        pad = payload(size - 8)
        gc.collect()
        gc.disable()  # load generator hygiene: no collector pauses inside the timed loop
        t0 = gate.wait(out)
        t_end = t0 + warmup_s + measure_s
        sent = 0
        # Nothing else runs in this process: sleeping the loop between events keeps the schedule exact.
        for due in paced(t0, t_end, rate):
            if due == 1:
                await js.publish(SUBJECT, stamped(pad))
            else:
                futures = [await js.publish_async(SUBJECT, stamped(pad)) for _ in range(due)]
                await asyncio.gather(*futures)
            sent += due
        sent_total.value = sent
        await nc.close()
        return ("sent", sent)

    async def consumer():
        nc = await nats.connect(url)
        js = nc.jetstream()
        lat: list[int] = []
        received = 0
        t_measure_ns = 1 << 62

        async def on_msg(msg):
            nonlocal received
            now = time.monotonic_ns()
            ts = stamp_of(msg.data)
            if ts >= t_measure_ns:
                lat.append(now - ts)
            await msg.ack()
            received += 1

        sub = await js.subscribe(SUBJECT, durable="lat", stream=STREAM, cb=on_msg, manual_ack=True,
                                 config=api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT,
                                                           deliver_policy=api.DeliverPolicy.NEW,
                                                           max_ack_pending=100_000))
        gc.collect()
        gc.disable()
        t0 = gate.wait(out)  # nothing arrives before the producer starts, after this gate
        t_measure_ns = int((t0 + warmup_s) * 1e9)
        deadline = t0 + warmup_s + measure_s + 30
        while True:
            total = sent_total.value
            if (total >= 0 and received >= total) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        await nc.flush()
        await sub.unsubscribe()
        await nc.close()
        return ("latencies", lat)

    try:
        out.put(asyncio.run(producer() if role == "producer" else consumer()))
    except BaseException:
        out.put(("error", traceback.format_exc()))


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


class NatsDriver(Driver):
    key = "nats"
    label = "NATS JetStream"

    def __init__(self, workload: Workload):
        super().__init__(workload)
        self.server: ServerProcess | None = None
        self.sync_always = False
        self.ctx = worker_context()
        self.always_unsupported: str | None = None

    # lifecycle -------------------------------------------------------------

    def start(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "nats").mkdir(parents=True, exist_ok=True)
        probe = workdir / "nats" / "probe.conf"
        probe.write_text(_server_config(free_port(), workdir / "nats" / "probe", True))
        r = subprocess.run(["nats-server", "-t", "-c", str(probe)], capture_output=True, text=True)
        if r.returncode != 0:
            detail = (r.stderr or r.stdout).strip().splitlines()[-1].split(": ")[-1]
            self.always_unsupported = (
                f"{self.version()} rejects `sync_interval: always` ({detail}); the option "
                f"appeared in nats-server 2.10.0, so fsync-before-ack cannot be configured")
        self._start_server(sync_always=False)

    def _start_server(self, sync_always: bool) -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        store = self.workdir / "nats" / ("store-always" if sync_always else "store")
        conf = self.workdir / "nats" / "server.conf"
        conf.write_text(_server_config(self.port, store, sync_always))
        self.server = ServerProcess("nats-server", ["nats-server", "-c", str(conf)],
                                    self.workdir / "nats-server.log")
        wait_for_port(self.port, proc=self.server.proc)
        self.sync_always = sync_always

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _server_pids(self) -> list[int]:
        return [self.server.proc.pid]

    def version(self) -> str:
        out = subprocess.run(["nats-server", "--version"], capture_output=True, text=True).stdout.strip()
        return out.replace(": v", " ").replace(":", "")

    def describe(self) -> dict:
        from importlib.metadata import version
        d = {
            "label": self.label,
            "server": self.version(),
            "client": f"nats-py {version('nats-py')}",
            "config": "JetStream file storage, R1, limits retention; default sync interval | "
                      "sync_interval: always",
        }
        if self.always_unsupported:
            d["unsupported"] = {"produce_always": self.always_unsupported}
        return d

    # helpers -----------------------------------------------------------------

    def _js(self, fn):
        async def main():
            nc = await nats.connect(self.url)
            try:
                return await fn(nc.jetstream())
            finally:
                await nc.close()
        return asyncio.run(main())

    def _reset(self) -> None:
        """Drop and recreate the stream (deleting it removes its files)."""
        async def f(js):
            try:
                await js.delete_stream(STREAM)
            except nats.js.errors.NotFoundError:
                pass
            await js.add_stream(name=STREAM, subjects=[SUBJECT], storage=api.StorageType.FILE,
                                num_replicas=1, retention=api.RetentionPolicy.LIMITS)
        self._js(f)

    def _delete(self) -> None:
        async def f(js):
            try:
                await js.delete_stream(STREAM)
            except nats.js.errors.NotFoundError:
                pass
        self._js(f)

    def _ensure_mode(self, sync_always: bool) -> None:
        if self.sync_always != sync_always:
            self.stop()
            self._start_server(sync_always)

    # workloads ---------------------------------------------------------------

    def produce(self, size: int, fsync: str) -> float:
        if fsync == "always" and self.always_unsupported:
            raise Unsupported(self.always_unsupported)
        w = self.workload
        self._ensure_mode(fsync == "always")
        try:
            self._reset()
            with CpuSampler(self._server_pids()) as cpu:
                counts, t_start = run_workers(self.ctx, _produce_worker,
                                              [(self.url, size, w.batch, w.warmup_s, w.produce_s)
                                               for _ in range(w.producers)],
                                              timeout=w.warmup_s + w.produce_s + 30)
            t_measure = t_start + w.warmup_s
            t_end = t_measure + w.produce_s
            self.last_info = {"server_cpu": cpu.cores(t_measure, t_end)}
            return sum(counts) / w.produce_s
        finally:
            self._delete()
            self._ensure_mode(False)

    def consume(self, size: int) -> float:
        w = self.workload
        self._reset()
        try:
            per = [w.consume_events // w.producers] * w.producers
            per[0] += w.consume_events - sum(per)
            run_workers(self.ctx, _preload_worker, [(self.url, size, w.batch, n) for n in per],
                        timeout=w.consume_timeout_s + 60)

            async def mk(js):
                info = await js.stream_info(STREAM)
                assert info.state.messages == w.consume_events, info.state
                await js.add_consumer(STREAM, durable_name=DURABLE,
                                      ack_policy=api.AckPolicy.EXPLICIT,
                                      deliver_policy=api.DeliverPolicy.ALL,
                                      max_ack_pending=20_000, max_waiting=512)
            self._js(mk)
            shared = self.ctx.Value("q", 0)
            with CpuSampler(self.server.proc.pid) as cpu:
                res, t_start = run_workers(self.ctx, _consume_worker,
                                           [(self.url, w.consume_batch, w.consume_events, shared)
                                            for _ in range(2)],
                                           timeout=w.consume_timeout_s + 5)
            t_done = max(t for _, t in res)
            self.last_info = {"server_cpu": cpu.cores(t_start, t_done)}
            total = sum(n for n, _ in res)
            if total != w.consume_events:
                raise RuntimeError(f"consumed {total}/{w.consume_events}")
            return total / (t_done - t_start)
        finally:
            self._delete()

    def latency(self, size: int) -> tuple[float, float]:
        w = self.workload
        self._reset()
        try:
            sent_total = self.ctx.Value("q", -1)
            res, _ = run_workers(self.ctx, _latency_worker,
                                 [(role, self.url, size, w.latency_rate, w.warmup_s, w.latency_s, sent_total)
                                  for role in ("consumer", "producer")],
                                 timeout=w.warmup_s + w.latency_s + 40)
            return latency_summary(next(v for k, v in res if k == "latencies"))
        finally:
            self._delete()


# --------------------------------------------------------------------------
# Replicated: an R3 stream on a 3-server cluster
# --------------------------------------------------------------------------


def _cluster_config(name: str, port: int, http_port: int, route_port: int, peers: list[int], store: Path) -> str:
    """One member of a 3-server cluster on loopback. Same JetStream settings as
    the single server (file storage, no `sync_interval`: the server's default
    background sync), plus a server name (JetStream clustering needs one), the
    route listener and explicit routes to the two other members, and a
    monitoring port (its /routez shows whether the routes are up)."""
    routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in peers)
    return (f"server_name: {name}\n"
            f"listen: 127.0.0.1:{port}\n"
            f"http: 127.0.0.1:{http_port}\n"
            f"jetstream {{\n  store_dir: \"{store}\"\n  max_memory_store: 256MB\n}}\n"
            f"cluster {{\n  name: bench\n  listen: 127.0.0.1:{route_port}\n  routes: [{routes}]\n}}\n")


class NatsClusterDriver(NatsDriver):
    """NATS JetStream with an R3 stream on three nats-server processes on this
    machine (the replicated mode). Only the interval-fsync produce workload is
    measured, with the same workers as the single-server driver. A PubAck is
    sent once the stream's Raft group has committed the message, i.e. a quorum
    (2 of 3) of the replicas stored it. Producers connect to the server that
    leads the stream, so no publish takes an extra hop through a non-leader."""

    key = "nats-r3"
    label = "NATS JetStream R3 (3 servers)"
    NAMES = ("n1", "n2", "n3")
    FORM_TIMEOUT_S = 30.0

    def __init__(self, workload: Workload):
        super().__init__(workload)
        self.servers: dict[str, ServerProcess] = {}
        self.urls: dict[str, str] = {}
        self.http: dict[str, int] = {}
        self.leader: str | None = None

    def start(self, workdir: Path) -> None:
        self.workdir = workdir
        base = workdir / "nats-cluster"
        base.mkdir(parents=True, exist_ok=True)
        ports = free_ports(3 * len(self.NAMES))  # client, monitoring and route port per server
        client, http, route = ports[0:3], ports[3:6], ports[6:9]
        try:
            for i, name in enumerate(self.NAMES):
                conf = base / f"{name}.conf"
                conf.write_text(_cluster_config(name, client[i], http[i], route[i],
                                                [route[j] for j in range(3) if j != i], base / f"store-{name}"))
                self.servers[name] = ServerProcess(f"nats-server-{name}", ["nats-server", "-c", str(conf)],
                                                   base / f"{name}.log")
                self.urls[name] = f"nats://127.0.0.1:{client[i]}"
                self.http[name] = http[i]
            for i, name in enumerate(self.NAMES):
                wait_for_port(client[i], proc=self.servers[name].proc)
            self.url = self.urls[self.NAMES[0]]
            t0 = time.monotonic()
            self._wait_for_cluster()
            print(f"[{self.key}] cluster formed: 3 servers, all routes up, JetStream meta leader elected "
                  f"({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    def _server_pids(self) -> list[int]:
        return [s.proc.pid for s in self.servers.values()]

    def _check_alive(self) -> None:
        for name, server in self.servers.items():
            if server.proc.poll() is not None:
                raise RuntimeError(f"nats-server {name} exited with status {server.proc.returncode}:\n"
                                   f"{server.log_tail()}")

    def _wait_for_cluster(self) -> None:
        """Until every server has routes to the two others (monitoring
        /routez) and answers a JetStream account request, which a clustered
        server only does once the JetStream meta group has a leader."""
        deadline = time.monotonic() + self.FORM_TIMEOUT_S
        last = "not started"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                routes = {}
                for name, port in self.http.items():
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/routez", timeout=1) as r:
                        routes[name] = json.load(r).get("num_routes", 0)
                if any(n < len(self.NAMES) - 1 for n in routes.values()):
                    last = f"routes per server {routes}"
                    time.sleep(0.1)
                    continue

                async def probe():
                    for name, url in self.urls.items():
                        nc = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0)
                        try:
                            await nc.jetstream(timeout=1).account_info()
                        finally:
                            await nc.close()
                asyncio.run(probe())
                return
            except Exception as e:  # not formed yet
                last = f"{type(e).__name__}: {e}".splitlines()[0]
                time.sleep(0.2)
        raise TimeoutError(f"the 3-server NATS cluster did not form within {self.FORM_TIMEOUT_S:.0f} s ({last})")

    def describe(self) -> dict:
        from importlib.metadata import version
        return {
            "label": self.label,
            "server": f"{self.version()} x3",
            "client": f"nats-py {version('nats-py')}",
            "config": "3 nats-server processes on 127.0.0.1 with cluster routes; JetStream file storage, R3 stream, "
                      "limits retention; default sync interval (no fsync before the ack); PubAck after a quorum "
                      "(2 of 3) stored the message; producers connect to the stream leader",
        }

    def _reset(self) -> None:
        """Drop and recreate the stream as R3, then wait until it has a leader
        and both followers are current; point the producers at the leader."""
        self._check_alive()
        control = self.urls[self.NAMES[0]]

        async def create():
            nc = await nats.connect(control)
            try:
                js = nc.jetstream(timeout=10)
                try:
                    await js.delete_stream(STREAM)
                except nats.js.errors.NotFoundError:
                    pass
                await js.add_stream(name=STREAM, subjects=[SUBJECT], storage=api.StorageType.FILE,
                                    num_replicas=3, retention=api.RetentionPolicy.LIMITS)
                deadline = time.monotonic() + self.FORM_TIMEOUT_S
                state = "no stream info yet"
                while time.monotonic() < deadline:
                    try:
                        info = await js.stream_info(STREAM)
                    except Exception as e:  # e.g. no leader elected yet
                        state = f"{type(e).__name__}: {e}"
                        await asyncio.sleep(0.1)
                        continue
                    c = info.cluster
                    replicas = (c.replicas or []) if c else []
                    if (info.config.num_replicas == 3 and c and c.leader in self.urls and len(replicas) == 2
                            and all(r.current and not r.offline for r in replicas)):
                        return c.leader, [r.name for r in replicas]
                    state = (f"leader {c.leader if c else None}, replicas "
                             f"{[(r.name, r.current, r.offline) for r in replicas]}")
                    await asyncio.sleep(0.05)
                raise TimeoutError(f"stream {STREAM} not R3 with current replicas within "
                                   f"{self.FORM_TIMEOUT_S:.0f} s ({state})")
            finally:
                await nc.close()

        t0 = time.monotonic()
        self.leader, followers = asyncio.run(create())
        self.url = self.urls[self.leader]
        print(f"[{self.key}] stream {STREAM} R3: leader {self.leader}, replicas {', '.join(followers)} current "
              f"({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)

    def produce(self, size: int, fsync: str) -> float:
        if fsync != "interval":
            raise Unsupported("the replicated mode measures the interval-fsync produce workload only")
        return super().produce(size, fsync)

    def consume(self, size: int) -> float:
        raise Unsupported("the replicated mode measures produce only")

    def latency(self, size: int) -> tuple[float, float]:
        raise Unsupported("the replicated mode measures produce only")
