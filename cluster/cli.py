"""What scenarios ask a cluster, through the ganglion CLI run in the client namespace.

Every call names the one node it asks (`--node tcp://ADDR:7400`), so a reply is that node's own view,
and every call has a deadline. The contract relied on (the node side implements it):

- `ganglion cluster status --node EP --json` -> {"controller": {"leader": id|null, "term": int,
  "voters": [id]}, "nodes": [{"id", "voter", "state": "alive"|"fenced"|"shutdown", "api", "pub", "http"}]}
- `ganglion topic create NAME --partitions 1 --node EP`: exit 0 once committed; non-zero with an
  `error: ...` line otherwise (about 5 s without a quorum).
- `ganglion topic list --node EP`: one line per topic, the name first (`NAME<TAB>partitions=N`),
  answered from that node's own copy of the metadata.
- `ganglion group describe GROUP --node EP`: a row `TOPIC-PARTITION<TAB>committed<TAB>end<TAB>lag` per
  partition the group committed or holds, `-` for what is unknown (not committed, no leader answered).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from harness import Cluster, Completed, wait_for

WRITE_TIMEOUT = 15.0  # the CLI gives up after 10 s; the node should answer within about 5 s
READ_TIMEOUT = 12.0


@dataclass(frozen=True)
class ControllerView:
    """One node's answer to `cluster status`: who it thinks leads, in which term, and node states."""

    node: str  # the node that answered
    leader: str | None
    term: int
    voters: tuple[str, ...]
    states: dict  # node id -> "alive" | "fenced" | "shutdown"
    voter_flags: dict  # node id -> bool

    @classmethod
    def parse(cls, node: str, text: str) -> ControllerView:
        status = json.loads(text)
        controller = status["controller"]
        return cls(node=node, leader=controller.get("leader"), term=int(controller["term"]),
                   voters=tuple(controller.get("voters", [])),
                   states={entry["id"]: entry["state"] for entry in status.get("nodes", [])},
                   voter_flags={entry["id"]: bool(entry.get("voter")) for entry in status.get("nodes", [])})


def cluster_status(cluster: Cluster, node: str, timeout: float = READ_TIMEOUT) -> ControllerView | None:
    """`node`'s view of the controller, or None if it did not answer with valid JSON in time."""
    done = cluster.ganglion("cluster", "status", "--node", cluster.api(node), "--json", timeout=timeout)
    if not done.ok:
        return None
    try:
        return ControllerView.parse(cluster.node(node).id, done.stdout)
    except (ValueError, KeyError, TypeError):
        return None


def views(cluster: Cluster, nodes, timeout: float = READ_TIMEOUT) -> dict:
    """node id -> ControllerView (or None) for each of `nodes`, asked in parallel."""
    running = {node: cluster.spawn_ganglion("cluster", "status", "--node", cluster.api(node), "--json",
                                            timeout=timeout) for node in nodes}
    result = {}
    for node, background in running.items():
        done = background.wait(timeout)
        try:
            result[node] = ControllerView.parse(node, done.stdout) if done.ok else None
        except (ValueError, KeyError, TypeError):
            result[node] = None
    return result


def agreed_leader(found: dict, voters) -> tuple[str, int] | None:
    """(leader, term) when every view names the same voter as leader in the same term, else None."""
    seen = {(view.leader, view.term) if view else None for view in found.values()}
    if len(seen) != 1:
        return None
    agreed = seen.pop()
    if agreed is None or agreed[0] not in voters:
        return None
    return agreed


def wait_for_leader(cluster: Cluster, nodes=None, *, newer_than: int = -1, not_leader: str | None = None,
                    timeout: float = 30.0) -> tuple[str, int]:
    """Waits until every one of `nodes` (default: all) reports the same leader and term, with the term
    above `newer_than` and the leader not `not_leader`; returns (leader, term)."""
    nodes = [cluster.node(node).id for node in (nodes or [node.id for node in cluster.nodes])]
    voters = {node.id for node in cluster.voters}
    last = {}

    def check():
        last.clear()
        last.update(views(cluster, nodes))
        agreed = agreed_leader(last, voters)
        if agreed and agreed[1] > newer_than and agreed[0] != not_leader:
            return agreed
        return None

    return wait_for(f"{', '.join(nodes)} to agree on one leader (term > {newer_than}"
                    f"{', not ' + not_leader if not_leader else ''})", check, timeout, interval=0.2,
                    detail=lambda: describe_views(last))


def describe_views(found: dict) -> str:
    """One line per node: what it last said about the controller."""
    lines = []
    for node, view in sorted(found.items()):
        if view is None:
            lines.append(f"    {node}: no answer")
        else:
            states = ", ".join(f"{n}={s}" for n, s in sorted(view.states.items()))
            lines.append(f"    {node}: leader={view.leader} term={view.term} voters={list(view.voters)} [{states}]")
    return "\n".join(lines)


def topic_create(cluster: Cluster, name: str, via, timeout: float = WRITE_TIMEOUT) -> Completed:
    """`topic create NAME --partitions 1` sent to the node(s) `via` (a name or a list of names)."""
    return cluster.ganglion("topic", "create", name, "--partitions", "1", "--node", endpoints(cluster, via),
                            timeout=timeout)


def spawn_topic_create(cluster: Cluster, name: str, via, timeout: float = WRITE_TIMEOUT):
    """`topic_create` in the background; `.wait(timeout)` gives its Completed."""
    return cluster.spawn_ganglion("topic", "create", name, "--partitions", "1", "--node",
                                  endpoints(cluster, via), timeout=timeout)


def topic_list(cluster: Cluster, node: str, timeout: float = READ_TIMEOUT) -> list[str] | None:
    """The topic names `node` lists (duplicates kept, in order), or None if it did not answer."""
    done = cluster.ganglion("topic", "list", "--node", cluster.api(node), timeout=timeout)
    if not done.ok:
        return None
    return parse_topic_list(done.stdout)


def parse_topic_list(text: str) -> list[str]:
    """Topic names from `topic list` output: the first field of each non-empty line."""
    return [line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")]


def endpoints(cluster: Cluster, via) -> str:
    names = [via] if isinstance(via, str) else list(via)
    return cluster.api(*names)


def is_indeterminate(done: Completed) -> bool:
    """True when a failed write may still have taken effect: no reply came (our deadline or the
    CLI's own timeout), as opposed to the node answering with an error."""
    return done.timed_out or bool(re.search(r"timeout|timed out|no reply", done.stderr, re.IGNORECASE))


def group_describe(cluster: Cluster, node: str, group: str, topic: str, timeout: float = READ_TIMEOUT) -> dict | None:
    """partition of `topic` -> (committed, end, lag) from `group describe` through `node`, -1 for `-`;
    None when the command fails."""
    done = cluster.ganglion("group", "describe", group, "--node", cluster.api(node), timeout=timeout)
    if not done.ok:
        return None
    return group_rows(done.stdout, topic)


def group_rows(output: str, topic: str) -> dict:
    """partition of `topic` -> (committed, end, lag) in `group describe`'s output, -1 for `-`."""
    rows = {}
    for line in output.splitlines():
        fields = line.split()
        match = re.fullmatch(r"(.+)-(\d+)", fields[0]) if len(fields) == 4 else None
        if match and match.group(1) == topic and all(re.fullmatch(r"-?\d+|-", field) for field in fields[1:]):
            rows[int(match.group(2))] = tuple(-1 if field == "-" else int(field) for field in fields[1:])
    return rows

