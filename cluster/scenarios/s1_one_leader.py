"""One leader: 3 voters and 2 observers agree on one leader and term, and all 5 nodes are alive."""

import time

import cli
from harness import HarnessError, wait_for
from scenario import ScenarioFailed, write_round_robin

VOTERS, OBSERVERS = 3, 2
AGREEMENT_BOUND = 30.0  # seconds from `up` to every node agreeing


def scenario(cluster, run):
    voters = tuple(node.id for node in cluster.voters)
    everyone = [node.id for node in cluster.nodes]
    expected_flags = {node.id: node.voter for node in cluster.nodes}
    last = {}

    def agreed():
        last.clear()
        last.update(cli.views(cluster, everyone))
        leader = cli.agreed_leader(last, voters)
        healthy = all(view and sorted(view.voters) == sorted(voters) and view.voter_flags == expected_flags
                      and view.states == {node: "alive" for node in everyone} for view in last.values())
        return leader if healthy else None

    try:
        leader, term = wait_for("all 5 nodes to agree on one leader, the voters and all 5 alive", agreed,
                                AGREEMENT_BOUND, interval=0.2, detail=lambda: cli.describe_views(last))
    except HarnessError as error:
        raise ScenarioFailed(str(error)) from None
    run.say(f"all nodes agree: leader {leader}, term {term}, voters {list(voters)}, 5 alive")

    steady = run.count(3.0, 15.0)
    deadline = time.monotonic() + steady
    while time.monotonic() < deadline:
        seen = cli.views(cluster, everyone)
        run.require(cli.agreed_leader(seen, voters) == (leader, term),
                    f"leader or term changed with no fault injected:\n{cli.describe_views(seen)}")
        time.sleep(0.5)
    run.say(f"same leader and term for {steady:g} s with no faults")

    write_round_robin(cluster, run, run.count(2, 10), everyone)
    run.require_valid_history(cluster)
