#!/usr/bin/env python3
"""Controller failover and write latency of a 3-voter cluster, measured through the CLI.

    bench-failover.py [--kills 20] [--writes 50] [--binary PATH]

Failover: kill -9 the leader, then retry `topic create` every ~50 ms through the two survivors until
one is acknowledged; the time from the kill to that acknowledgement is one sample. The killed node is
restarted and the cluster left to agree on a leader before the next kill.
Write latency: sequential `topic create` through the leader, each timed as the client sees it (a CLI
process start included: `topic list` through the same node is printed as that baseline).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli  # noqa: E402
import harness  # noqa: E402
from harness import Cluster, HarnessError  # noqa: E402

RETRY_EVERY = 0.05  # seconds between write attempts after a kill
FAILOVER_BOUND = 30.0  # seconds; a kill with no acknowledged write by then aborts the run
ATTEMPT_TIMEOUT = 6.0  # seconds one attempt may take (the node should answer within about 5 s)


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary(samples: list[float]) -> str:
    milliseconds = [sample * 1000 for sample in samples]
    return (f"p50 {percentile(milliseconds, 0.50):7.1f} ms   p99 {percentile(milliseconds, 0.99):7.1f} ms   "
            f"max {max(milliseconds):7.1f} ms   (n={len(samples)})")


def failover_once(cluster: Cluster, names) -> tuple[str, float, int]:
    """Kills the current leader and times the first acknowledged write; returns (killed, seconds, attempts)."""
    leader, _term = cli.wait_for_leader(cluster)
    survivors = [node.id for node in cluster.nodes if node.id != leader]
    cluster.kill(leader)
    killed_at = time.monotonic()
    attempts = 0
    while time.monotonic() - killed_at < FAILOVER_BOUND:
        attempts += 1
        if cli.topic_create(cluster, next(names), survivors, timeout=ATTEMPT_TIMEOUT).ok:
            return leader, time.monotonic() - killed_at, attempts
        time.sleep(RETRY_EVERY)
    raise HarnessError(f"no write acknowledged within {FAILOVER_BOUND:g} s after killing {leader}")


def measure_failover(cluster: Cluster, kills: int, names) -> list[float]:
    samples = []
    for number in range(1, kills + 1):
        killed, seconds, attempts = failover_once(cluster, names)
        samples.append(seconds)
        print(f"  kill {number:3d}: leader {killed} -> write acknowledged after {seconds * 1000:7.1f} ms "
              f"({attempts} attempts)", flush=True)
        cluster.start(killed)
        cli.wait_for_leader(cluster)
    return samples


def measure_writes(cluster: Cluster, writes: int, names) -> tuple[list[float], list[float]]:
    """(create latencies, list latencies) through the current leader."""
    leader, _term = cli.wait_for_leader(cluster)
    creates, lists = [], []
    for _ in range(writes):
        done = cli.topic_create(cluster, next(names), leader)
        if not done.ok:
            raise HarnessError(f"write through leader {leader} failed: {done.describe()}")
        creates.append(done.seconds)
        lists.append(cluster.ganglion("topic", "list", "--node", cluster.api(leader)).seconds)
    return creates, lists


def main(argv: list[str]) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--kills", type=int, default=20)
    options.add_argument("--writes", type=int, default=50)
    options.add_argument("--binary", help="ganglion binary (default $GANGLION_BIN, .build/*/ganglion, PATH)")
    options.add_argument("--state", default=None, help="state dir (default: a fresh temp dir)")
    args = options.parse_args(argv)
    state = Path(args.state) if args.state else Path(tempfile.mkdtemp(prefix="bench-failover-"))
    names = (f"bench-{number:05d}" for number in range(1, 10 ** 6))
    try:
        with Cluster.up(3, state_dir=state, binary=args.binary, plain=False) as cluster:
            print(f"3 voters, cluster {cluster.state.prefix}, binary {cluster.state.binary}", flush=True)
            failovers = measure_failover(cluster, args.kills, names) if args.kills else []
            creates, lists = measure_writes(cluster, args.writes, names) if args.writes else ([], [])
    except HarnessError as error:
        print(f"bench-failover: {error}", file=sys.stderr)
        return 1
    print()
    if failovers:
        print(f"failover (kill -9 leader -> first acknowledged topic create): {summary(failovers)}")
    if creates:
        print(f"write latency (topic create via the leader, sequential):     {summary(creates)}")
        print(f"CLI baseline (topic list via the leader):                    {summary(lists)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
