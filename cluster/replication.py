"""What the replication scenarios (scenarios/r*.py) share: a replicated topic, its partitions as each
node describes them, a background producer whose every outcome is logged, the read-back, and the
final check (replication_check.py) against the producer's log and every replica's own log files.

The contract relied on (the node side implements it):
- `ganglion topic create NAME --partitions N --replication-factor 3 --min-insync 2 --node EPS`
- `ganglion topic describe NAME --node EP`: a header line, then a table
  `partition leader replicas isr leader-epoch log-start high-watermark bytes` (replicas and isr
  comma-separated, leader `none` when offline), from that node's metadata (offsets from the leaders;
  `-` where none answered: parsed as -1).
- `ganglion workload produce --node EPS --topic T --keys K --rate R --seconds S --timeout-ms MS --out FILE`:
  an idempotent acks=all producer that follows partition leaders by itself; one JSON line per outcome.
- `ganglion workload read --node EPS --topic T --out FILE`: every record up to each high watermark.
- A node's partition log lives in <data-dir>/topics/<topic>-<partition>/*.log.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import cli
import replication_check
from harness import Cluster, HarnessError, wait_for
from scenario import Run, ScenarioFailed

SESSION_TIMEOUT_MS = 1500  # the controller fences a silent node after this; heartbeats every 300 ms
NODE_ARGS = ["--node-session-timeout-ms", str(SESSION_TIMEOUT_MS)]
TOPIC = "events"
REPLICATION_FACTOR, MIN_INSYNC = 3, 2
KEYS, RATE, REQUEST_TIMEOUT_MS = 12, 200, 3000
ISR_BOUND = 30.0  # seconds for every node to be back and every ISR full after the faults end
FIRST_ACKS_BOUND = 15.0  # seconds for a new load's first acknowledgement on every partition
READ_ATTEMPTS = 3


def now_ms() -> float:
    return time.time() * 1000


# ---------------------------------------------------------------------------------------------
# The topic


@dataclass(frozen=True)
class PartitionView:
    """One row of `topic describe`, as one node answered it."""

    partition: int
    leader: str | None
    replicas: tuple
    isr: tuple
    leader_epoch: int
    log_start: int
    high_watermark: int

    @property
    def full(self) -> bool:
        return self.leader is not None and len(self.replicas) == REPLICATION_FACTOR and set(self.isr) == set(self.replicas)

    def __str__(self):
        return (f"p{self.partition}: leader {self.leader or 'none'} epoch {self.leader_epoch} "
                f"isr {','.join(self.isr) or '-'} hw {self.high_watermark}")


def offset(field: str) -> int:
    """An offset column of `topic describe` or `group describe`: -1 for `-` (unknown)."""
    return -1 if field == "-" else int(field)


def parse_describe(text: str) -> list[PartitionView]:
    views = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 7 or not fields[0].isdigit():
            continue
        views.append(PartitionView(int(fields[0]), None if fields[1] in ("none", "-") else fields[1],
                                   tuple(filter(None, fields[2].split(","))),
                                   tuple(f for f in fields[3].split(",") if f and f != "-"),
                                   int(fields[4]), offset(fields[5]), offset(fields[6])))
    return sorted(views, key=lambda view: view.partition)


def describe(cluster: Cluster, topic: str, node: str | list | None = None,
             timeout: float = cli.READ_TIMEOUT) -> list[PartitionView] | None:
    """The topic's partitions as `node` describes them (any live node when None), or None."""
    done = cluster.ganglion("topic", "describe", topic, "--node", cli.endpoints(cluster, node or live_nodes(cluster)),
                            timeout=timeout)
    if not done.ok:
        return None
    return parse_describe(done.stdout) or None


def describe_each(cluster: Cluster, topic: str, nodes=None, timeout: float = cli.READ_TIMEOUT) -> dict:
    """node id -> its describe (None: no answer), every node asked directly and in parallel."""
    nodes = nodes or [node.id for node in cluster.nodes]
    running = {node: cluster.spawn_ganglion("topic", "describe", topic, "--node", cluster.api(node), timeout=timeout)
               for node in nodes}
    answers = {}
    for node, background in running.items():
        done = background.wait(timeout)
        answers[node] = (parse_describe(done.stdout) or None) if done.ok else None
    return answers


def show(views) -> str:
    return "; ".join(str(view) for view in views) if views else "no answer"


def live_nodes(cluster: Cluster) -> list[str]:
    return [node.id for node in cluster.nodes if cluster.process_state(node.id) == "alive"]


def create_topic(cluster: Cluster, run: Run, partitions: int = 3, topic: str = TOPIC) -> list[PartitionView]:
    """Once every node shows every node alive, creates the replicated topic and waits until every
    node describes it with every ISR full."""
    wait_all_alive(cluster, run)
    done = cluster.ganglion("topic", "create", topic, "--partitions", str(partitions), "--replication-factor",
                            str(REPLICATION_FACTOR), "--min-insync", str(MIN_INSYNC), "--node", cluster.api(),
                            timeout=cli.WRITE_TIMEOUT)
    run.require(done.ok, f"topic create {topic}: {done.describe()}")
    _, views = wait_full_isr(cluster, run, topic, ISR_BOUND)
    run.say(f"topic {topic}: {partitions} partitions, RF {REPLICATION_FACTOR}, min-insync {MIN_INSYNC}: {show(views)}")
    return views


def wait_all_alive(cluster: Cluster, run: Run, bound: float = ISR_BOUND):
    """Waits until every node reports a controller leader and every node `alive` (placement needs
    as many live nodes as the replication factor)."""
    everyone = [node.id for node in cluster.nodes]
    last = {}

    def alive():
        last.clear()
        last.update(cli.views(cluster, everyone))
        return all(view and view.leader and set(view.states) == set(everyone)
                   and set(view.states.values()) == {"alive"} for view in last.values())

    try:
        wait_for("every node to show a controller leader and every node alive", alive, bound, interval=0.2,
                 detail=lambda: cli.describe_views(last))
    except HarnessError as error:
        raise ScenarioFailed(str(error)) from None


def wait_full_isr(cluster: Cluster, run: Run, topic: str = TOPIC, bound: float = ISR_BOUND,
                  preferred: bool = False) -> tuple[float, list[PartitionView]]:
    """Waits until every node runs, answers, and describes every partition with a leader and its full
    ISR (and, with `preferred`, each led by its first replica); returns (seconds, one node's view)."""
    started = time.monotonic()
    everyone = [node.id for node in cluster.nodes]
    last = {}

    def full():
        down = [node for node in everyone if cluster.process_state(node) != "alive"]
        if down:
            last.clear()
            last["processes"] = f"not running: {down}"
            return None
        last.clear()
        last.update(describe_each(cluster, topic, everyone))
        for views in last.values():
            if not views or not all(view.full for view in views):
                return None
            if preferred and not all(view.leader == view.replicas[0] for view in views):
                return None
        return last[everyone[0]]

    try:
        views = wait_for(f"every node to describe {topic} with every ISR full{' and preferred leaders' if preferred else ''}",
                         full, bound, interval=0.3,
                         detail=lambda: "\n".join(f"    {node}: {views if isinstance(views, str) else show(views)}"
                                                  for node, views in last.items()))
    except HarnessError as error:
        raise ScenarioFailed(str(error)) from None
    return time.monotonic() - started, views


def leader_of(views, partition: int) -> str | None:
    return next((view.leader for view in views if view.partition == partition), None)


def controller_leader(cluster: Cluster) -> str | None:
    """Who leads the controller quorum, as a running node says (for the log only)."""
    for node in live_nodes(cluster):
        view = cli.cluster_status(cluster, node, timeout=5)
        if view and view.leader:
            return view.leader
    return None


# ---------------------------------------------------------------------------------------------
# The load


def workdir(cluster: Cluster) -> Path:
    """Where a scenario's outcome logs and read-backs go: beside the nodes' data, kept on failure."""
    path = Path(cluster.state.data_root).parent / "workload"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Load:
    """`ganglion workload produce` in the client namespace for `seconds`, every outcome in a file."""

    def __init__(self, cluster: Cluster, run: Run, seconds: float, topic: str = TOPIC, keys: int = KEYS,
                 rate: float = RATE, timeout_ms: int = REQUEST_TIMEOUT_MS, label: str = "load"):
        self.cluster, self.run, self.topic, self.seconds = cluster, run, topic, seconds
        self.path = workdir(cluster) / f"{label}.outcomes.jsonl"
        self.path.unlink(missing_ok=True)
        self.started_ms = now_ms()
        self.background = cluster.spawn_ganglion(
            "workload", "produce", "--node", cluster.api(), "--topic", topic, "--keys", str(keys), "--rate", str(rate),
            "--seconds", str(seconds), "--timeout-ms", str(timeout_ms), "--out", str(self.path),
            timeout=seconds + 60)
        self.done = None
        run.say(f"load: workload produce, {keys} keys, {rate:g}/s, {seconds:g} s, request timeout {timeout_ms} ms "
                f"-> {self.path}")

    def outcomes(self) -> list[dict]:
        return replication_check.load_jsonl(self.path)

    def running(self) -> bool:
        return self.background.process.poll() is None

    def require_running(self, what: str):
        self.run.require(self.running(), f"the load ended before {what}: its --seconds ({self.seconds:g}) is too short")

    def wait_for_ack(self, partition: int | None, after_ms: float, bound: float) -> float:
        """The ms of the first acknowledgement (of `partition`) after `after_ms`; fails after `bound` s."""
        def first():
            found = replication_check.acks(self.outcomes(), partition, after_ms)
            return found[0]["ms"] if found else None

        what = f"partition {partition}" if partition is not None else "any partition"
        try:
            return wait_for(f"an acknowledgement on {what} after ms {after_ms:.0f}", first, bound, interval=0.05)
        except HarnessError as error:
            raise ScenarioFailed(f"{error} ({self.describe_outcomes()})") from None

    def wait_for_every_partition(self, partitions: int, after_ms: float | None = None, bound: float = FIRST_ACKS_BOUND):
        """Waits until every partition has an acknowledgement after `after_ms` (default: the start)."""
        after_ms = self.started_ms if after_ms is None else after_ms
        for partition in range(partitions):
            self.wait_for_ack(partition, after_ms, bound)

    def describe_outcomes(self) -> str:
        outcomes = self.outcomes()
        acked = sum(1 for line in outcomes if line.get("type") == "ack")
        last = outcomes[-1] if outcomes else None
        return f"{acked} acks, {len(outcomes) - acked} fails so far; last: {last}"

    def finish(self):
        """Waits for the producer to end by itself; it must exit 0."""
        self.done = self.background.wait(self.seconds + 60)  # counted from its start
        self.run.require(self.done.ok, f"workload produce: {self.done.describe()}")
        self.run.say(f"load ended: {self.done.stdout.strip()}")
        return self.done


# ---------------------------------------------------------------------------------------------
# Faults beyond the harness's own


def graceful_stop(cluster: Cluster, run: Run, node: str) -> bool:
    """SIGTERM (a controlled shutdown); kill -9 if it is still running after the harness's bound.
    Returns whether it exited by itself."""
    try:
        cluster.kill(node, signal.SIGTERM)
        return True
    except HarnessError as error:
        run.say(f"{node} did not exit on SIGTERM ({error}); kill -9")
        cluster.kill(node)
        return False


# ---------------------------------------------------------------------------------------------
# The final check


def read_back(cluster: Cluster, run: Run, topic: str = TOPIC) -> list[dict]:
    """`workload read` through every node, retried when it fails (e.g. a leader moving meanwhile)."""
    path = workdir(cluster) / "read.jsonl"
    done = None
    for attempt in range(READ_ATTEMPTS):
        path.unlink(missing_ok=True)
        done = cluster.ganglion("workload", "read", "--node", cluster.api(), "--topic", topic, "--out", str(path),
                                timeout=60)
        if done.ok:
            return replication_check.load_jsonl(path)
        run.say(f"read-back attempt {attempt + 1} failed: {done.describe()}")
        time.sleep(1.0)
    raise ScenarioFailed(f"workload read failed {READ_ATTEMPTS} times: {done.describe()}")


def replica_logs(cluster: Cluster, topic: str, partitions: int) -> dict:
    """node -> partition -> [StoredRecord]: each replica's log files, parsed here. Every node is
    paused meanwhile (SIGSTOP), so no file changes under the parser; resumed after."""
    nodes = live_nodes(cluster)
    for node in nodes:
        cluster.stop(node)
    try:
        logs = {}
        for node in cluster.nodes:
            for partition in range(partitions):
                directory = Path(node.data_dir) / "topics" / f"{topic}-{partition}"
                if directory.is_dir():
                    logs.setdefault(node.id, {})[partition] = replication_check.read_replica(directory)
        return logs
    finally:
        for node in nodes:
            cluster.cont(node)


def verify(cluster: Cluster, run: Run, load: Load, partitions: int, topic: str = TOPIC) -> replication_check.Verdict:
    """Reads everything back and checks it against the producer's outcomes and every replica's log;
    fails the scenario on any anomaly. Call once the load has ended and every ISR is full."""
    outcomes = load.outcomes()
    reads = read_back(cluster, run, topic)
    replicas = replica_logs(cluster, topic, partitions)
    verdict = replication_check.check(outcomes, reads, replicas)
    run.say(f"check: {verdict.summary()}")
    run.require(verdict.acknowledged > 0, "the load had no acknowledged record at all")
    run.require(verdict.valid, f"replication check: {verdict.summary()}\n    outcomes: {load.path}")
    return verdict


def report_gaps(run: Run, outcomes: list[dict], after_ms: float, before_ms: float, what: str):
    """Logs each partition's longest time without an acknowledgement in a window."""
    gaps = replication_check.longest_gaps(outcomes, after_ms, before_ms)
    run.say(f"longest ack gaps {what}: " + ", ".join(f"p{p} {gap:.0f} ms" for p, (gap, _) in sorted(gaps.items())))
    return gaps


def fail_count(outcomes: list[dict]) -> int:
    return sum(1 for line in outcomes if line.get("type") != "ack")


def first_fails(outcomes: list[dict], limit: int = 3) -> list[dict]:
    return [line for line in outcomes if line.get("type") != "ack"][:limit]


def scenario_seed() -> int:
    """$SCENARIO_SEED, else a fresh seed (printed by the scenario, so that a run can be replayed)."""
    text = os.environ.get("SCENARIO_SEED", "")
    return int(text) if re.fullmatch(r"\d+", text) else random.SystemRandom().randrange(1, 1 << 31)
