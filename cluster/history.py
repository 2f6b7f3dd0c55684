"""A Jepsen-style history of topic creations, checked against what every node lists at the end.

The checker never trusts the system's own account: it records each write as the client saw it
(acknowledged = exit 0), then reads every node's topic list and names the anomalies as Jepsen's
set checkers do:

- lost:        acknowledged, but listed by no node
- stale:       acknowledged, listed by some nodes but not by this one (it is behind or diverged)
- duplicated:  listed more than once by one node
- unexpected:  listed, but never attempted
- refused-but-present: the write was refused (a definite error, or a write the scenario knows
               cannot commit, e.g. to a minority) and is listed anyway

Writes without a reply (timeouts) are indeterminate: listed or not, both are fine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cli
from harness import Cluster, Completed

OK, FAIL, INFO = "ok", "fail", "info"  # Jepsen's outcomes: acknowledged, refused, unknown


@dataclass(frozen=True)
class Write:
    """One `topic create` as the client saw it."""

    name: str
    via: str
    outcome: str
    seconds: float
    detail: str


class History:
    """Every write a scenario attempted, with its outcome. Topic names start with `prefix`, so
    topics the system makes for itself are not mistaken for unexpected ones."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.writes: list[Write] = []
        self._counter = 0

    def next_name(self, label: str = "t") -> str:
        """A fresh topic name, e.g. `s4-major-007`."""
        self._counter += 1
        return f"{self.prefix}{label}-{self._counter:03d}"

    def record(self, name: str, via, done: Completed) -> Write:
        """Adds the outcome of a finished write."""
        outcome = OK if done.ok else INFO if cli.is_indeterminate(done) else FAIL
        via = via if isinstance(via, str) else ",".join(via)
        write = Write(name, via, outcome, done.seconds, done.describe())
        self.writes.append(write)
        return write

    def create(self, cluster: Cluster, via, label: str = "t") -> Write:
        """Creates a fresh topic through `via` and records the outcome."""
        name = self.next_name(label)
        return self.record(name, via, cli.topic_create(cluster, name, via))

    def names(self, outcome: str | None = None) -> set[str]:
        return {write.name for write in self.writes if outcome is None or write.outcome == outcome}


@dataclass
class Verdict:
    """The anomalies found in one round of final reads."""

    reads: dict  # node id -> list of names (None: no answer)
    acknowledged: int
    lost: list = field(default_factory=list)
    stale: dict = field(default_factory=dict)
    duplicated: dict = field(default_factory=dict)
    unexpected: list = field(default_factory=list)
    refused_but_present: list = field(default_factory=list)
    unanswered: list = field(default_factory=list)

    @property
    def may_converge(self) -> bool:
        """Only lagging nodes are wrong so far: reading again may find them caught up. A node that
        listed a refused, duplicated or unexpected topic is wrong already."""
        return not (self.duplicated or self.unexpected or self.refused_but_present)

    @property
    def valid(self) -> bool:
        return not (self.lost or self.stale or self.duplicated or self.unexpected
                    or self.refused_but_present or self.unanswered)

    def summary(self) -> str:
        if self.valid:
            return f"valid: {self.acknowledged} acknowledged topics on all {len(self.reads)} nodes"
        parts = [f"{len(self.lost)} lost {self.lost}" if self.lost else "",
                 f"stale {self.stale}" if self.stale else "",
                 f"duplicated {self.duplicated}" if self.duplicated else "",
                 f"unexpected {self.unexpected}" if self.unexpected else "",
                 f"refused-but-present {self.refused_but_present}" if self.refused_but_present else "",
                 f"no answer from {self.unanswered}" if self.unanswered else ""]
        return "INVALID: " + "; ".join(part for part in parts if part)


def check(history: History, reads: dict, must_be_absent=()) -> Verdict:
    """Names the anomalies in `reads` (node id -> listed names or None) given `history`."""
    acknowledged = history.names(OK)
    refused = history.names(FAIL) | set(must_be_absent)
    answered = {node: [n for n in names if n.startswith(history.prefix)]
                for node, names in reads.items() if names is not None}
    present = set().union(*answered.values()) if answered else set()
    verdict = Verdict(reads=reads, acknowledged=len(acknowledged))
    verdict.unanswered = sorted(node for node, names in reads.items() if names is None)
    verdict.lost = sorted(acknowledged - present) if answered else []
    for node, names in sorted(answered.items()):
        missing = sorted((acknowledged & present) - set(names))
        if missing:
            verdict.stale[node] = missing
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            verdict.duplicated[node] = repeated
    verdict.unexpected = sorted(present - history.names())
    verdict.refused_but_present = sorted(present & (refused - acknowledged))
    return verdict


def read_everything(cluster: Cluster, nodes=None) -> dict:
    """node id -> the topics it lists (None when it does not answer), each node asked directly."""
    nodes = nodes or [node.id for node in cluster.nodes]
    running = {node: cluster.spawn_ganglion("topic", "list", "--node", cluster.api(node), timeout=cli.READ_TIMEOUT)
               for node in nodes}
    reads = {}
    for node, background in running.items():
        done = background.wait(cli.READ_TIMEOUT)
        reads[node] = cli.parse_topic_list(done.stdout) if done.ok else None
    return reads


def final_check(cluster: Cluster, history: History, must_be_absent=(), converge_within: float = 30.0,
                nodes=None) -> Verdict:
    """Reads every node until the history checks out or `converge_within` s pass; returns the last
    verdict (valid or not). Nodes may lag a little; they may not stay behind, and an anomaly that
    waiting cannot undo ends the check at once."""
    deadline = time.monotonic() + converge_within
    while True:
        verdict = check(history, read_everything(cluster, nodes), must_be_absent)
        if verdict.valid or not verdict.may_converge or time.monotonic() >= deadline:
            return verdict
        time.sleep(0.5)
