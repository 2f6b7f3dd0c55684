"""What every scenario gets: the run's settings, a history, `say`, `require`, and the write patterns
scenarios share. A scenario file in scenarios/ defines VOTERS, OBSERVERS and `scenario(cluster, run)`."""

from __future__ import annotations

import time
from pathlib import Path

import cli
from harness import Cluster, HarnessError, wait_for
from history import OK, History, Write, final_check

ELECTION_BOUND = 20.0  # seconds from losing a leader to every survivor agreeing on a new one
CATCH_UP_BOUND = 30.0  # seconds for a restarted node to list every acknowledged topic


class ScenarioFailed(Exception):
    """A guarantee did not hold; the message says which and what was seen."""


class Run:
    """One scenario's run: quick or full, its history, its own scratch directory, and its clock for log
    lines."""

    def __init__(self, name: str, quick: bool, directory: Path | None = None):
        self.name = name
        self.quick = quick
        self.directory = directory  # the scenario's own output directory (beside its cluster's state)
        self.history = History(prefix=name.split("_")[0] + "-")
        self.started = time.monotonic()

    def say(self, message: str):
        print(f"    [{time.monotonic() - self.started:6.1f} s] {message}", flush=True)

    def count(self, quick: int, full: int) -> int:
        """How many of something: fewer in --quick runs."""
        return quick if self.quick else full

    def require(self, condition, message: str):
        if not condition:
            raise ScenarioFailed(message)

    def require_valid_history(self, cluster: Cluster, must_be_absent=(), nodes=None):
        """Reads every node back and fails on any anomaly (after letting lagging nodes catch up)."""
        verdict = final_check(cluster, self.history, must_be_absent, nodes=nodes)
        self.say(f"final reads: {verdict.summary()}")
        self.require(verdict.valid, f"history check: {verdict.summary()}\n    reads: {verdict.reads}")


def write(cluster: Cluster, run: Run, via, label: str = "t") -> Write:
    """One acknowledged-or-not topic creation, recorded and logged when it fails."""
    result = run.history.create(cluster, via, label)
    if result.outcome != OK:
        run.say(f"write {result.name} via {result.via}: {result.outcome}: {result.detail}")
    return result


def write_round_robin(cluster: Cluster, run: Run, count: int, via_nodes, label: str = "t") -> list[Write]:
    """`count` writes, each through the next of `via_nodes`; every one must be acknowledged."""
    writes = []
    for i in range(count):
        result = write(cluster, run, via_nodes[i % len(via_nodes)], label)
        run.require(result.outcome == OK, f"write {result.name} via {result.via} not acknowledged: {result.detail}")
        writes.append(result)
    return writes


def write_until_acknowledged(cluster: Cluster, run: Run, via_nodes, bound: float = ELECTION_BOUND,
                             label: str = "t") -> float:
    """Retries a write through `via_nodes` (as one --node list) until one is acknowledged; returns
    the seconds it took. Failed attempts stay in the history (refused ones must never appear)."""
    started = time.monotonic()

    def attempt():
        result = run.history.create(cluster, via_nodes, label)
        return result.outcome == OK

    try:
        wait_for(f"a write through {','.join(via_nodes)} to be acknowledged", attempt, bound, interval=0.05)
    except HarnessError as error:
        raise ScenarioFailed(str(error)) from None
    return time.monotonic() - started


def wait_until_caught_up(cluster: Cluster, run: Run, node: str, bound: float = CATCH_UP_BOUND):
    """Waits until `node` lists every acknowledged topic."""
    acknowledged = run.history.names(OK)
    last = {}

    def caught_up():
        listed = cli.topic_list(cluster, node)
        last["listed"] = listed
        return listed is not None and acknowledged <= set(listed)

    try:
        wait_for(f"{node} to list all {len(acknowledged)} acknowledged topics", caught_up, bound, interval=0.3)
    except HarnessError as error:
        missing = sorted(acknowledged - set(last.get("listed") or []))
        raise ScenarioFailed(f"{error}; still missing {missing}") from None


def wait_for_leader(cluster: Cluster, run: Run, nodes=None, **kwargs) -> tuple[str, int]:
    """cli.wait_for_leader, failing the scenario (with each node's last answer) on timeout."""
    try:
        return cli.wait_for_leader(cluster, nodes, **kwargs)
    except HarnessError as error:
        raise ScenarioFailed(str(error)) from None


def others(cluster: Cluster, *excluded: str) -> list[str]:
    """Every node id except `excluded`."""
    return [node.id for node in cluster.nodes if node.id not in excluded]
