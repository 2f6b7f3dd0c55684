#!/usr/bin/env python3
"""Partition failover of a 3-node cluster under acks=all load, measured from the client's side.

    bench-partition-failover.py [--kills 20] [--session-ms 1500] [--binary PATH]

One RF 3 topic with one partition; `ganglion workload produce` (an idempotent producer, acks=all,
every acknowledgement recorded with its wall-clock ms) runs in the client namespace for the whole
run. Each round kill -9s the partition's leader (read from `topic describe`) and records the kill's
wall-clock ms; the sample is the time from the kill to the first acknowledgement after it (the new
leader's). The killed node is restarted and the round waits until the ISR is full again. At the end
the whole topic is read back and checked: an acknowledged record lost, duplicated or reordered fails
the run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Cluster, HarnessError  # noqa: E402

TOPIC = "failover"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def describe(cluster: Cluster) -> dict | None:
    """Partition 0 as the most recent view among the nodes has it (the highest partition epoch: a
    node just restarted may still hold an older one): leader, isr (a list), leader epoch."""
    best = None
    for node in cluster.state.nodes:
        done = cluster.ganglion("cluster", "status", "--json", "--node", cluster.api(node.id), timeout=5)
        if not done.ok:
            continue
        try:
            topics = json.loads(done.stdout).get("topics", [])
        except ValueError:
            continue
        for topic in topics:
            if topic.get("name") != TOPIC:
                continue
            for partition in topic.get("partitions", []):
                if int(partition.get("partition", 0)) != 0:
                    continue
                row = {"leader": partition.get("leader") or "none", "isr": partition.get("isr", []),
                       "epoch": int(partition.get("leaderEpoch", 0)), "version": int(partition.get("partitionEpoch", 0))}
                if best is None or row["version"] > best["version"]:
                    best = row
    return best


def controller_leader(cluster: Cluster) -> str | None:
    """The controller leader as the first node that answers names it."""
    done = cluster.ganglion("cluster", "status", "--json", "--node", cluster.api(), timeout=5)
    try:
        return json.loads(done.stdout)["controller"]["leader"] if done.ok else None
    except (ValueError, KeyError):
        return None


def wait(what: str, condition, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise HarnessError(f"{what} did not happen within {timeout:g} s")


def check(acks: list[dict], records: list[dict]) -> list[str]:
    """Jepsen's names for what went wrong: lost, duplicated, reordered."""
    problems = []
    seen: dict[tuple, dict] = {}
    for record in records:
        key, seq = record["value"].split(":")
        if (key, int(seq)) in seen:
            problems.append(f"duplicated {record['value']}")
        seen[(key, int(seq))] = record
    for ack in acks:
        if ack["type"] != "ack":
            continue
        stored = seen.get((ack["key"], ack["seq"]))
        if stored is None or (stored["partition"], stored["offset"]) != (ack["partition"], ack["offset"]):
            problems.append(f"lost {ack['key']}:{ack['seq']} (acknowledged at offset {ack['offset']})")
    by_key: dict[str, list[int]] = {}
    for record in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        key, seq = record["value"].split(":")
        by_key.setdefault(key, []).append(int(seq))
    for key, seqs in by_key.items():
        problems += [f"reordered {key}: {a} before {b}" for a, b in zip(seqs, seqs[1:]) if b <= a]
    return problems


def main(argv: list[str]) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--kills", type=int, default=20)
    options.add_argument("--session-ms", type=int, default=1500, help="--node-session-timeout-ms of the nodes")
    options.add_argument("--rate", type=float, default=400, help="records/s of the background producer")
    options.add_argument("--binary", help="ganglion binary (default $GANGLION_BIN, .build/*/ganglion, PATH)")
    args = options.parse_args(argv)
    state = Path(tempfile.mkdtemp(prefix="bench-partition-failover-"))
    samples: list[float] = []
    try:
        with Cluster.up(3, state_dir=state, binary=args.binary, plain=False,
                        extra_args=["--node-session-timeout-ms", str(args.session_ms)]) as cluster:
            print(f"3 nodes, cluster {cluster.state.prefix}, session timeout {args.session_ms} ms, "
                  f"binary {cluster.state.binary}", flush=True)
            wait("topic created", lambda: cluster.ganglion("topic", "create", TOPIC, "--partitions", "1",
                                                           "--replication-factor", "3", "--node", cluster.api()).ok)
            wait("full ISR", lambda: (row := describe(cluster)) and len(row["isr"]) == 3)
            seconds = 30 + args.kills * 20
            acks_file = state / "acks.jsonl"
            producer = cluster.spawn_ganglion("workload", "produce", "--node", cluster.api(), "--topic", TOPIC, "--keys", "8",
                                              "--rate", str(args.rate), "--seconds", str(seconds), "--timeout-ms", "3000",
                                              "--out", str(acks_file), timeout=seconds + 60)
            time.sleep(3)
            kills: list[int] = []
            roles: list[str] = []
            for number in range(1, args.kills + 1):
                row = wait("a leader", lambda: (r := describe(cluster)) and r["leader"] != "none" and len(r["isr"]) == 3 and r)
                leader = row["leader"]
                controller = controller_leader(cluster)
                cluster.kill(leader)
                kills.append(int(time.time() * 1000))
                roles.append(f"{leader}{' (also the controller leader)' if controller == leader else ''}")
                wait("a new leader", lambda: (r := describe(cluster)) and r["leader"] not in ("none", leader))
                time.sleep(1.0)
                cluster.start(leader)
                wait("the ISR full again", lambda: (r := describe(cluster)) and len(r["isr"]) == 3, timeout=90)
                print(f"  kill {number:3d}: {leader} killed (epoch {row['epoch']})", flush=True)
            time.sleep(2)
            cluster._kill_background_commands()
            producer.wait(10)
            read_file = state / "read.jsonl"
            done = cluster.ganglion("workload", "read", "--node", cluster.api(), "--topic", TOPIC, "--out", str(read_file), timeout=120)
            if not done.ok:
                raise HarnessError(f"read back failed: {done.describe()}")
            acks = [json.loads(line) for line in acks_file.read_text().splitlines() if line.strip()]
            records = [json.loads(line) for line in read_file.read_text().splitlines() if line.strip()]
    except HarnessError as error:
        print(f"bench-partition-failover: {error}", file=sys.stderr)
        return 1
    acknowledged = sorted(ack["ms"] for ack in acks if ack["type"] == "ack")
    for kill in kills:
        # Answers already on their way when the leader died arrive within a few ms: the first
        # acknowledgement more than 20 ms after the kill is the new leader's.
        after = [ms for ms in acknowledged if ms > kill + 20]
        if after:
            samples.append((after[0] - kill) / 1000)
    for number, (sample, role) in enumerate(zip(samples, roles), 1):
        print(f"  kill {number:3d}: {role}: first acknowledgement {sample * 1000:.0f} ms after")
    problems = check(acks, records)
    ms = [s * 1000 for s in samples]
    print()
    print(f"failover (kill -9 partition leader -> first acks=all acknowledgement): p50 {percentile(ms, 0.5):.0f} ms   "
          f"p99 {percentile(ms, 0.99):.0f} ms   max {max(ms):.0f} ms   (n={len(ms)})")
    print(f"checker: {sum(a['type'] == 'ack' for a in acks)} acknowledged, {sum(a['type'] == 'fail' for a in acks)} failed, "
          f"{len(records)} read back; {len(problems)} anomalies")
    for problem in problems[:20]:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
