#!/usr/bin/env python3
"""False failovers under load: a 3-voter cluster (network namespaces) runs while `ganglion bench`
loads one of its voters — and with it this machine's cores — for a fixed time; the controller's
term and leader are read from every node before and after. Any change is a spurious leader change
(no node was killed, paused or cut). The bench's topics are replicated (RF 3 on a cluster), so the
load includes replication; nodes fenced by the controller (`ganglion_nodes_fenced_total`) and nodes
that saw their controller session lapse (`ganglion_controller_sessions_lost_total`) are false
failovers too.

    bench-stability.py [--seconds 60] [--binary PATH] [--load-on leader|follower] [--session-ms 1500]

Prints the term before and after, the leader changes each node counted
(`ganglion_controller_leader_changes_total` on /metrics), fencings and lapsed sessions, and the
load's own figures.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli  # noqa: E402
from harness import Cluster  # noqa: E402


def counter(cluster: Cluster, node: str, name: str = "ganglion_controller_leader_changes_total") -> float | None:
    """One of the node's counters, read from its /metrics inside the client namespace."""
    done = cluster.run(["python3", "-c", "import sys,urllib.request;"
                        f"sys.stdout.write(urllib.request.urlopen('http://{cluster.addr(node)}:7402/metrics', timeout=5).read().decode())"])
    if not done.ok:
        return None
    match = re.search(rf"^{name}(?:\{{[^}}]*\}})? ([0-9.e+]+)$", done.stdout, re.M)
    return float(match.group(1)) if match else 0.0


def leader_changes(cluster: Cluster, node: str) -> float | None:
    return counter(cluster, node)


def failovers(cluster: Cluster) -> float:
    """Fencings counted by any node (the controller leader counts them) plus lapsed sessions."""
    total = 0.0
    for node in cluster.nodes:
        for name in ("ganglion_nodes_fenced_total", "ganglion_controller_sessions_lost_total"):
            total += counter(cluster, node.id, name) or 0.0
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--binary", help="the ganglion binary (default: $GANGLION_BIN or .build/*/ganglion)")
    parser.add_argument("--load-on", choices=["leader", "follower"], default="leader", help="which voter the bench loads")
    parser.add_argument("--session-ms", type=int, default=None, help="--node-session-timeout-ms of the nodes (default: the node's)")
    options = parser.parse_args()
    extra = ["--node-session-timeout-ms", str(options.session_ms)] if options.session_ms else []

    with Cluster.up(3, binary=options.binary, extra_args=extra) as cluster:
        leader, term = cli.wait_for_leader(cluster)
        target = leader if options.load_on == "leader" else next(n.id for n in cluster.voters if n.id != leader)
        before = {node.id: leader_changes(cluster, node.id) for node in cluster.nodes}
        fenced_before = failovers(cluster)
        print(f"3 voters up: leader {leader}, term {term}; loading {target} with `ganglion bench` for {options.seconds:g} s", flush=True)
        # Produce runs until the time is spent: several produce rounds of the bench, back to back.
        rounds = max(1, round(options.seconds / 10.5))  # each round: 0.5 s warm-up + 10 s measured
        started = time.monotonic()
        load = cluster.ganglion("bench", "--node", cluster.api(target), "--only", "produce", "--runs", str(rounds),
                                "--produce-seconds", "10", "--sizes", "256", timeout=options.seconds * 3 + 60)
        elapsed = time.monotonic() - started
        after_leader, after_term = cli.wait_for_leader(cluster)
        after = {node.id: leader_changes(cluster, node.id) for node in cluster.nodes}
        fenced = failovers(cluster) - fenced_before
        figures = [line for line in load.stdout.splitlines() if "events/s" in line or "ev/s" in line or "MB/s" in line]
        print(f"load: {'ok' if load.ok else 'FAILED'} after {elapsed:.1f} s; " + (" | ".join(figures[-3:]) if figures else load.stdout[-300:]))
        spurious = {node: (after[node] or 0) - (before[node] or 0) for node in after}
        print(f"term before {term} (leader {leader}), after {after_term} (leader {after_leader})")
        print("leader changes counted during the load: " + ", ".join(f"{node} {int(count)}" for node, count in sorted(spurious.items())))
        print(f"nodes fenced or sessions lapsed during the load (false partition failovers): {int(fenced)}")
        stable = after_term == term and after_leader == leader and all(count == 0 for count in spurious.values()) and fenced == 0
        print("spurious leader changes: " + ("0" if stable else "YES — the timers did not survive the load"))
        return 0 if stable and load.ok else 1


if __name__ == "__main__":
    sys.exit(main())
