"""Nodes added under load: start ONE node running the demo agents, send every demo flow's traffic, start
a second node and then a third: every agent type's shards spread over the nodes (each group fully
assigned, balanced within one, a member on each node, fraud-detection's 3 shards one per node); then
every acknowledged input has each of its outcomes exactly once, per-key order kept (fraud decisions,
CI statuses, saga results, task verdicts). 1 voter + 2 observers: a controller quorum needs its voters,
so the one node first started is the only voter and the two added are observers (they host agents
the same). SCENARIO_SEED=N replays a run's traffic."""

import time

import agents
from agents import GroupWatch, Traffic, live_nodes, make_demo_traffic, now_ms

VOTERS, OBSERVERS = 1, 2
START = ["node-1"]  # node-2 and node-3 are started by the scenario
DEMO = True
NODE_ARGS = agents.NODE_ARGS
REQUIRES = ("publish", "workload read", "group describe")
DEADLINE = (120, 300)
QUICK_SEED = 20251206
INPUTS = (500, 2000)  # at most; the traffic stops once the last node has settled
CUSTOMERS = 40
RATE = 12.0  # inputs a second, all flows together (one in 12 a push, one a document, one a task)
BEFORE_ADD = (3.0, 8.0)  # seconds of traffic before each node is added
AFTER_LAST = (4.0, 15.0)  # seconds of traffic after the last node's shards settled
SPREAD_BOUND = 45.0  # start of a node -> the groups spread over it
FIRST_ACKS = 10


def scenario(cluster, run):
    seed = agents.scenario_seed(run, QUICK_SEED)
    run.say(f"seed {seed} (replay: SCENARIO_SEED={seed} cluster/run-scenarios.sh --only a2{' --quick' if run.quick else ''})")
    watch = GroupWatch(cluster, run)
    seconds, view = watch.wait_ready(["node-1"])
    run.say(f"agents ready on node-1 alone {seconds:.1f} s after it started: {view}")
    describe_groups(cluster, run, "node-1")
    describe_topics(run, view.status)
    partitions = view.partitions

    traffic = Traffic(cluster, run, make_demo_traffic(seed, run.count(*INPUTS), CUSTOMERS, run.history.prefix), RATE)
    try:
        traffic.wait_for_acks(FIRST_ACKS, traffic.started_ms, 20.0)
        spreads = []
        for added in ("node-2", "node-3"):
            watch.follow(run.count(*BEFORE_ADD))
            traffic.require_running(f"{added} is added")
            nodes = sorted(live_nodes(cluster) + [added])
            started, started_ms = time.monotonic(), now_ms()
            cluster.start(added)
            ready = time.monotonic() - started
            run.say(f"{added} started (ready in {ready:.1f} s); {traffic.describe()}")
            seconds, view = watch.wait(f"every demo group to spread over {', '.join(nodes)}",
                                       lambda v: running(cluster, run, added) and spread_over(cluster, nodes, v),
                                       SPREAD_BOUND)
            spreads.append((added, time.monotonic() - started))
            run.say(f"groups spread over {', '.join(nodes)} {time.monotonic() - started:.1f} s after {added} started: "
                    f"{view}; longest time without an acknowledged publish since: "
                    f"{traffic.gaps(started_ms, now_ms()) / 1000:.1f} s")
            describe_groups(cluster, run, added)
        watch.follow(run.count(*AFTER_LAST))
        traffic.require_running("the end")
    finally:
        traffic.stop()

    describe_topics(run, (watch.poll() or view).status)
    run.say("spread (start -> every group over the nodes): "
            + ", ".join(f"{node} {seconds:.1f} s" for node, seconds in spreads))
    run.require(sorted(live_nodes(cluster)) == ["node-1", "node-2", "node-3"], f"not every node running: {live_nodes(cluster)}")
    agents.wait_caught_up(cluster, run, partitions)
    try:
        agents.verify(cluster, run, traffic)
        agents.check_delays(cluster, run, run.history.prefix)
        agents.verify_flows(cluster, run, traffic)
    finally:
        agents.rejoined_members(cluster, run)
        agents.log_findings(cluster, run)


def running(cluster, run, node: str) -> bool:
    """True while `node` runs; fails the scenario at once, with its log's end, when it has exited."""
    run.require(cluster.process_state(node) != "dead",
                f"{node} exited after it was started; last lines of {cluster.node(node).log}:\n{cluster.log_tail(node)}")
    return True


def spread_over(cluster, nodes: list, view) -> bool:
    """Every demo group has a member on each of `nodes`, every partition assigned to one of them,
    balanced within one (a node with none counts), and fraud-detection's shards on all of them."""
    if not (view.fully_assigned and set(view.assignments.values()) == set(nodes)):
        return False
    groups = agents.demo_groups(cluster, view.node)
    if groups is None or set(groups) != set(agents.DEMO_GROUPS):
        return False
    for group in groups.values():
        per_node = [sum(1 for node in group["assignments"].values() if node == n) for n in nodes]
        if (set(group["members"]) != set(nodes) or not group["fully_assigned"]
                or set(group["assignments"].values()) - set(nodes) or max(per_node) - min(per_node) > 1):
            return False
    return True


def describe_groups(cluster, run, node: str):
    run.say("shards per node: " + agents.describe_demo_groups(agents.demo_groups(cluster, node) or {}))


def describe_topics(run, status: dict):
    """Replication factor and leaders of __consumer_offsets and the demo agents' input topics: made while
    node-1 was alone, they keep one replica (min(3, live nodes) then; __consumer_offsets min(3, voters))."""
    shown = []
    for topic in status.get("topics", []):
        if topic.get("name") in ("__consumer_offsets", *set(agents.DEMO_GROUPS.values())):
            leaders = sorted({str(p.get("leader")) for p in topic.get("partitions", [])})
            shown.append(f"{topic['name']} rf {topic.get('replicationFactor')} led by {','.join(leaders)}")
    run.say("topics: " + "; ".join(sorted(shown)))
