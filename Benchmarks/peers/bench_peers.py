#!/usr/bin/env python3
"""Peer benchmark: the same event-streaming workload against Redis Streams and
NATS JetStream (and later Ganglion), one table, optional JSON.

    python3 Benchmarks/peers/bench_peers.py [--quick] [--json FILE]
        [--systems redis,nats] [--merge OTHER.json ...] [--runs N] ...

Normally started through scripts/bench-peers.sh, which installs the servers
and clients and guarantees the servers are stopped. Each driver starts its own
server (free loopback port, data in --workdir) and stops it when done.

To print a table from saved figures only:  --systems "" --merge a.json --merge b.json

Replicated mode (--replicated): NATS JetStream with an R3 stream on a 3-server
cluster, the interval-fsync produce workload only, printed beside Ganglion's
`produce-rf3` / `produce-rf1` figures from a merged `ganglion bench --replication
--json` document (n/a where that document is missing or lacks them).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import table  # noqa: E402
from common import METRICS, Driver, Unsupported, Workload, median  # noqa: E402


def _drivers() -> dict[str, type[Driver]]:
    """Registry of built-in drivers. A Python Ganglion driver would be added
    here under the key "ganglion"; figures produced elsewhere (Ganglion's
    Swift benchmark) can instead be merged with --merge."""
    from nats_driver import NatsClusterDriver, NatsDriver
    from redis_driver import RedisDriver
    return {d.key: d for d in (RedisDriver, NatsDriver, NatsClusterDriver)}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


PLAN = ("produce_interval", "produce_always", "consume", "latency")


def run_system(driver: Driver, workload: Workload, workdir: Path, only=PLAN) -> tuple[dict, int]:
    """All metrics x sizes x runs for one system. Returns (system entry, failures)."""
    results: dict = {m.key: {} for m in METRICS}
    failures = 0
    driver.start(workdir)
    try:
        entry = driver.describe()
        log(f"[{driver.key}] {entry['server']} / {entry['client']}")
        for size in workload.sizes:
            plan = [
                ("produce_interval", lambda s=size: driver.produce(s, "interval")),
                ("produce_always", lambda s=size: driver.produce(s, "always")),
                ("consume", lambda s=size: driver.consume(s)),
                ("latency", lambda s=size: driver.latency(s)),
            ]
            for name, fn in plan:
                if name not in only:
                    continue
                runs: list = []
                server_cpu: list = []
                reason = None
                driver.last_info = {}
                for i in range(workload.runs):
                    try:
                        v = fn()
                    except Unsupported as e:
                        reason = str(e)
                        log(f"[{driver.key}] {name} {size} B: unsupported: {e}")
                        break
                    except Exception as e:  # keep going; the cell shows n/a
                        failures += 1
                        reason = f"failed: {type(e).__name__}: {e}".splitlines()[0]
                        log(f"[{driver.key}] {name} {size} B run {i + 1} FAILED\n{traceback.format_exc()}")
                        break
                    runs.append(v)
                    cpu = driver.last_info.get("server_cpu") if name != "latency" else None
                    server_cpu.append(cpu)
                    shown = (f"p50 {v[0]:,.0f} us, p99 {v[1]:,.0f} us" if name == "latency"
                             else f"{v:,.0f} events/s")
                    if cpu is not None:
                        shown += f" (server used {cpu:.2f} cores)"
                    log(f"[{driver.key}] {name} {size} B run {i + 1}/{workload.runs}: {shown}")
                if name == "latency":
                    for j, key in enumerate(("latency_p50", "latency_p99")):
                        vals = [r[j] for r in runs]
                        results[key][str(size)] = _cell("us", vals, reason)
                else:
                    results[name][str(size)] = _cell("events/s", runs, reason)
                    if any(c is not None for c in server_cpu):
                        results[name][str(size)]["server_cpu"] = server_cpu
        entry["results"] = results
        return entry, failures
    finally:
        driver.stop()


def host_idle(seconds: float = 1.0) -> float:
    """Fraction of CPU time idle over `seconds` (from /proc/stat). The
    benchmark shares a 2-core machine, so anything else running skews it."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)  # idle + iowait, total
    i0, t0 = read()
    time.sleep(seconds)
    i1, t1 = read()
    return (i1 - i0) / max(1, t1 - t0)


def _cell(unit: str, runs: list, reason) -> dict:
    if runs and not reason:
        return {"unit": unit, "median": median(runs), "runs": runs}
    return {"unit": unit, "median": None, "runs": runs, "unsupported": reason or "no result"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run (1 run, 256 B, sub-second cells)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--replicated", action="store_true",
                    help="replicated mode: NATS R3 on a 3-server cluster, produce only, beside Ganglion's "
                         "produce-rf3/produce-rf1 from --merge")
    ap.add_argument("--systems", help="comma-separated drivers to run (default redis,nats; nats-r3 with --replicated)")
    ap.add_argument("--merge", action="append", default=[], metavar="FILE",
                    help="add systems from a saved JSON document (repeatable), e.g. Ganglion's figures")
    ap.add_argument("--workdir", help="directory for server data and logs (default: a new temp dir)")
    ap.add_argument("--only", help=f"comma-separated subset of {','.join(PLAN)} (--replicated: produce_interval)")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--sizes", help="comma-separated payload sizes in bytes")
    ap.add_argument("--producers", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--produce-seconds", type=float)
    ap.add_argument("--consume-events", type=int)
    ap.add_argument("--latency-seconds", type=float)
    args = ap.parse_args(argv)

    w = Workload.quick() if args.quick else Workload()
    overrides = {"runs": args.runs, "producers": args.producers, "batch": args.batch,
                 "produce_s": args.produce_seconds, "consume_events": args.consume_events,
                 "latency_s": args.latency_seconds,
                 "sizes": tuple(int(x) for x in args.sizes.split(",")) if args.sizes else None}
    w = dataclasses.replace(w, **{k: v for k, v in overrides.items() if v is not None})

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run finally blocks, stop servers

    registry = _drivers()
    if args.systems is None:
        args.systems = "nats-r3" if args.replicated else "redis,nats"
    if args.only is None:
        args.only = "produce_interval" if args.replicated else ",".join(PLAN)
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in wanted:
        if s not in registry:
            ap.error(f"unknown system {s!r}; known: {', '.join(registry)}")

    idle = host_idle(0.3 if args.quick else 1.0) if wanted else 1.0
    if idle < 0.85:
        log(f"warning: the host is only {idle:.0%} idle before the benchmark; other work "
            f"(e.g. a build) will skew the figures")
    doc = {
        "schema": table.SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(),
                 "python": platform.python_version(), "idle_before": round(idle, 3)},
        "workload": dataclasses.asdict(w),
        "systems": {},
    }
    failures = 0
    workroot = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="peer-bench-"))
    for key in wanted:
        d = registry[key](w)
        wd = workroot / key
        wd.mkdir(parents=True, exist_ok=True)
        entry, f = run_system(d, w, wd, only=[x.strip() for x in args.only.split(",")])
        doc["systems"][key] = entry
        failures += f
    for path in args.merge:
        try:
            other = table.load(path)
        except (OSError, ValueError) as e:  # JSONDecodeError is a ValueError
            if not args.replicated:
                raise
            log(f"warning: {path}: {e}; its figures are shown as n/a")
            continue
        if not wanted and not doc["systems"]:
            doc["workload"] = other.get("workload", doc["workload"])
        table.merge(doc, other)
        if args.replicated:  # the replicated table shows each side's workload
            for key in other.get("systems", {}):
                doc["systems"][key].setdefault("workload", other.get("workload"))

    if not doc["systems"]:
        ap.error("nothing to show: no systems run and nothing merged")
    print(table.render_replicated(doc) if args.replicated else table.render(doc))
    if args.json:
        table.dump(doc, args.json)
        log(f"figures written to {args.json}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
