#!/usr/bin/env python3
"""Self-test of the harness plumbing, runnable with any ganglion binary (cluster mode not needed).

Nodes start in plain mode (no --voters/--advertise: each a cluster of one), so the test checks the
harness, not the cluster: every node is reachable from the client namespace at its own address;
cut and partition make a node unreachable and heal brings it back; kill/stop/cont/start/restart act
on the right PIDs; `down` leaves no namespace and no process; a failing `up`, an exception in a
`with` block and SIGTERM all tear down; two clusters run side by side without colliding.

    selftest.py [--binary PATH]        (root; about 1 minute)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import Cluster, HarnessError, namespaces_with_prefix, process_state  # noqa: E402

UNREACHABLE_AFTER = 3.0  # seconds a request may take before the node counts as unreachable
GCLUSTER = str(HERE / "gcluster")


class Check:
    """Numbered ok / not ok lines, TAP style, and the count of failures."""

    def __init__(self):
        self.number = 0
        self.failures = []

    def __call__(self, condition, description: str, detail: str = ""):
        self.number += 1
        print(f"{'ok' if condition else 'not ok'} {self.number} - {description}", flush=True)
        if not condition:
            self.failures.append(description)
            if detail:
                print("    " + detail.replace("\n", "\n    "), flush=True)
        return condition


def gcluster(state: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([GCLUSTER, "--state", str(state), *args], capture_output=True, text=True, timeout=timeout)


def status(state: Path) -> dict:
    return json.loads(gcluster(state, "status", "--json").stdout)


def topic_list(state: Path, target: dict, from_node: str | None = None) -> subprocess.CompletedProcess:
    """`ganglion topic list` against `target` from the client namespace (or from a node's)."""
    where = ["--node", from_node] if from_node else []
    return gcluster(state, "exec", *where, "--timeout", str(UNREACHABLE_AFTER), "--",
                    "ganglion", "topic", "list", "--node", target["api"])


def reachable(state: Path, target: dict, from_node: str | None = None) -> bool:
    return topic_list(state, target, from_node).returncode == 0


def nodes_by_id(state: Path) -> dict:
    return {node["id"]: node for node in status(state)["nodes"]}


def nothing_left(prefix: str, pids) -> tuple[bool, str]:
    """No namespace with the prefix and none of the PIDs running (zombies count as gone)."""
    spaces = namespaces_with_prefix(prefix)
    running = [pid for pid, ticks in pids if process_state(pid, ticks) != "dead"]
    return not spaces and not running, f"namespaces {spaces}, running pids {running}"


def recorded_pids(cluster_or_state) -> list:
    state = cluster_or_state.state if isinstance(cluster_or_state, Cluster) else Cluster.load(cluster_or_state).state
    return [(node.pid, node.ticks) for node in state.nodes]


def test_cli_cluster(check: Check, binary: str, work: Path):
    """The gcluster commands on a 3-voter + 1-observer plain cluster."""
    state = work / "cli"
    up = gcluster(state, "up", "3", "--observers", "1", "--plain", "--binary", binary)
    if not check(up.returncode == 0, "gcluster up 3 --observers 1 --plain", up.stdout + up.stderr):
        return
    prefix = status(state)["prefix"]
    nodes = nodes_by_id(state)
    check(len(nodes) == 4 and all(n["process"] == "alive" for n in nodes.values()), "4 nodes alive after up")
    check(sorted(namespaces_with_prefix(prefix)) == sorted(
        [f"{prefix}-{name}" for name in ("hub", "client", "node-1", "node-2", "node-3", "node-4")]),
        "one namespace per node, plus hub and client, all with the cluster's prefix")
    check("voter" == nodes["node-3"]["role"] and "observer" == nodes["node-4"]["role"], "roles: 3 voters, 1 observer")
    root_links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    check("br0" not in root_links and prefix not in root_links, "no bridge or veth in the root namespace")

    check(all(reachable(state, node) for node in nodes.values()), "every node reachable from the client namespace")
    create = gcluster(state, "exec", "--", "ganglion", "topic", "create", "only-on-2", "--node", nodes["node-2"]["api"])
    check(create.returncode == 0, "topic created on node-2 through `gcluster exec -- ganglion ...` (PATH)",
          create.stderr)
    check("only-on-2" in topic_list(state, nodes["node-2"]).stdout
          and "only-on-2" not in topic_list(state, nodes["node-1"]).stdout,
          "each address reaches its own node (node-2 has the topic, node-1 not)")

    test_cut_and_heal(check, state, nodes)
    test_partition_and_heal(check, state, nodes)
    test_process_faults(check, state, nodes)

    pids = recorded_pids(state)
    first, second = gcluster(state, "down"), gcluster(state, "down")
    gone, detail = nothing_left(prefix, pids)
    check(first.returncode == 0 and gone, "down: no namespace, no node process left", detail + first.stdout)
    check(not state.exists(), "down removed the state dir")
    check(second.returncode == 0, "down again is a no-op", second.stdout + second.stderr)


def test_cut_and_heal(check: Check, state: Path, nodes: dict):
    gcluster(state, "cut", "node-2")
    started = time.monotonic()
    check(not reachable(state, nodes["node-2"]), "cut node-2: unreachable from the client")
    check(time.monotonic() - started < UNREACHABLE_AFTER + 2, "  ... and the checker gave up at its deadline")
    check(reachable(state, nodes["node-1"]), "cut node-2: node-1 still reachable")
    check(nodes_by_id(state)["node-2"]["link"] == "cut", "status shows node-2's link cut")
    gcluster(state, "heal")
    check(reachable(state, nodes["node-2"]), "heal: node-2 reachable again")


def test_partition_and_heal(check: Check, state: Path, nodes: dict):
    split = gcluster(state, "partition", "node-1", "/", "node-2,3")
    check(split.returncode == 0 and status(state)["partition"] == [["node-1"], ["node-2", "node-3"]],
          "partition node-1 / node-2,3 recorded", split.stdout + split.stderr)
    check(not reachable(state, nodes["node-2"], from_node="node-1"), "partition: node-1 cannot reach node-2")
    check(not reachable(state, nodes["node-1"], from_node="node-3"), "partition: node-3 cannot reach node-1")
    check(reachable(state, nodes["node-2"], from_node="node-3"), "partition: node-3 reaches node-2 (same side)")
    check(reachable(state, nodes["node-4"], from_node="node-1"), "partition: node-4 (on no side) reachable from node-1")
    check(all(reachable(state, node) for node in nodes.values()), "partition: the client still reaches every node")
    gcluster(state, "partition", "node-1,client / node-2")
    check(reachable(state, nodes["node-1"]) and not reachable(state, nodes["node-2"]),
          "partition node-1,client / node-2: the client, named, is cut off from node-2 only")
    gcluster(state, "heal")
    check(reachable(state, nodes["node-2"], from_node="node-1") and reachable(state, nodes["node-2"]),
          "heal: node-1 and the client reach node-2 again")
    check(status(state)["partition"] == [], "heal: no partition in status")


def test_process_faults(check: Check, state: Path, nodes: dict):
    before = {node_id: node["pid"] for node_id, node in nodes_by_id(state).items()}

    gcluster(state, "kill", "node-3")
    after = nodes_by_id(state)
    check(after["node-3"]["process"] == "dead" and proc_state_char(before["node-3"]) in ("Z", "gone"),
          "kill node-3: its pid is gone (or a zombie)")
    check(all(after[n]["process"] == "alive" and after[n]["pid"] == before[n] for n in ("node-1", "node-2", "node-4")),
          "kill node-3: the other nodes untouched")
    check(not reachable(state, nodes["node-3"]), "kill node-3: unreachable")
    start = gcluster(state, "start", "node-3")
    pid3 = nodes_by_id(state)["node-3"]["pid"]
    check(start.returncode == 0 and pid3 != before["node-3"] and reachable(state, nodes["node-3"]),
          "start node-3: new pid, reachable", start.stderr)

    gcluster(state, "stop", "node-2")
    check(proc_state_char(before["node-2"]) == "T" and nodes_by_id(state)["node-2"]["process"] == "stopped",
          "stop node-2: its pid is stopped (T)")
    check(not reachable(state, nodes["node-2"]), "stop node-2: requests to it go unanswered")
    check(proc_state_char(before["node-1"]) in "SR", "stop node-2: node-1 still running")
    gcluster(state, "cont", "node-2")
    check(proc_state_char(before["node-2"]) in "SR" and reachable(state, nodes["node-2"]),
          "cont node-2: same pid running and answering")

    gcluster(state, "restart", "node-2")
    after = nodes_by_id(state)
    check(after["node-2"]["pid"] != before["node-2"] and after["node-2"]["process"] == "alive"
          and "only-on-2" in topic_list(state, nodes["node-2"]).stdout,
          "restart node-2: new pid, same data dir (its topic survived)")
    log = Path(after["node-2"]["log"]).read_text()
    check(log.count("=== gcluster") == 2, "restart node-2: both runs appended to node-2.log")


def proc_state_char(pid: int) -> str:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return text[text.rindex(")") + 2]


def test_library(check: Check, binary: str, work: Path):
    """harness.Cluster: tear-down on exception, side by side clusters, a failing up, SIGTERM."""
    with Cluster.up(2, plain=True, binary=binary, state_dir=work / "a") as first:
        with Cluster.up(1, observers=1, plain=True, binary=binary, state_dir=work / "b") as second:
            check(first.state.prefix != second.state.prefix, "two clusters get different prefixes")
            both = [first.ganglion("topic", "list", "--node", first.api("node-1"), timeout=5),
                    second.ganglion("topic", "list", "--node", second.api("node-1"), timeout=5)]
            check(all(done.ok for done in both), "two clusters side by side both answer",
                  "; ".join(done.describe() for done in both))
            check(second.observers[0].id == "node-2" and not second.observers[0].voter,
                  "observers are numbered after the voters")
        prefixes, pids = [first.state.prefix, second.state.prefix], recorded_pids(first) + recorded_pids(second)

    try:
        with Cluster.up(2, plain=True, binary=binary, state_dir=work / "c") as doomed:
            prefixes.append(doomed.state.prefix)
            pids += recorded_pids(doomed)
            raise RuntimeError("scenario blew up")
    except RuntimeError:
        pass
    gone = [nothing_left(prefix, pids) for prefix in prefixes]
    check(all(ok for ok, _ in gone), "with-block exits (normal and exception) tear down", str(gone))

    failing = work / "failing"
    failing.write_text("#!/bin/sh\necho 'cannot start: disk on fire' >&2\nexit 3\n")
    failing.chmod(0o755)
    namespaces_before = harness.ip("netns", "list").stdout
    try:
        Cluster.up(2, plain=True, binary=str(failing), state_dir=work / "d", start_timeout=10)
        check(False, "up with a binary that exits fails")
    except HarnessError as error:
        check("node-1" in str(error) and "disk on fire" in str(error),
              "up with a binary that exits fails, naming the node and its log tail", str(error))
    namespaces_after = harness.ip("netns", "list").stdout
    check(not (work / "d").exists() and namespaces_after == namespaces_before,
          "failed up removed its state and its namespaces", namespaces_after)

    test_start_timeout(check, work)
    test_sigterm(check, binary, work)


def test_start_timeout(check: Check, work: Path):
    """A node that never gets ready fails `up` at its bound; what it forked is killed too."""
    forked = work / "forked"
    slow = work / "slow"
    slow.write_text(f"#!/bin/sh\nsleep 60 &\necho $! >> {forked}\nwait\n")
    slow.chmod(0o755)
    try:
        Cluster.up(1, plain=True, binary=str(slow), state_dir=work / "f", start_timeout=2)
        check(False, "up with a node that never gets ready fails")
    except HarnessError as error:
        check("timed out after 2 s waiting for node-1" in str(error),
              "up with a node that never gets ready fails at its bound, naming the node", str(error))
    children = [int(pid) for pid in forked.read_text().split()] if forked.exists() else []
    check(children and all(proc_state_char(pid) in ("Z", "gone") for pid in children),
          "what the node forked is killed with it", str(children))


def test_sigterm(check: Check, binary: str, work: Path):
    """SIGTERM to a process inside `with Cluster.up(...)` tears the cluster down."""
    program = (f"import sys, time; sys.path.insert(0, {str(HERE)!r}); from harness import Cluster\n"
               f"with Cluster.up(2, plain=True, binary={binary!r}, state_dir={str(work / 'e')!r}) as c:\n"
               f"    print(c.state.prefix, flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    prefix = child.stdout.readline().strip()
    pids = recorded_pids(work / "e")
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        child.kill()
    gone, detail = nothing_left(prefix, pids)
    check(prefix.startswith("gc") and gone and not (work / "e").exists(), "SIGTERM inside `with` tears down", detail)


def main(argv: list[str]) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--binary", help="ganglion binary (default $GANGLION_BIN, .build/*/ganglion, PATH)")
    args = options.parse_args(argv)
    if os.geteuid() != 0:
        print("selftest: needs root (ip netns)", file=sys.stderr)
        return 2
    binary = args.binary or harness.default_binary()
    check = Check()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gcluster-selftest-") as work:
        try:
            test_cli_cluster(check, binary, Path(work))
            test_library(check, binary, Path(work))
        finally:
            for state in Path(work).iterdir():
                harness.down(state) if (state / "state.json").exists() else None
    print(f"{check.number - len(check.failures)}/{check.number} checks passed in "
          f"{time.monotonic() - started:.1f} s" + (f"; failed: {check.failures}" if check.failures else ""))
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
