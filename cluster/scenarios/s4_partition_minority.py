"""Partition 2 | 3: with the leader on the 2-node side, the 3-node majority elects a leader and takes
writes; writes to the minority fail with a clear error; after healing, every node agrees and has
every acknowledged topic and none of the refused ones."""

import time

import cli
from history import OK
from scenario import ELECTION_BOUND, others, wait_for_leader, write_round_robin, write_until_acknowledged

VOTERS, OBSERVERS = 5, 0
NO_QUORUM_ANSWER_WITHIN = 9.0  # seconds: the node's own ~5 s timeout, well before the CLI's 10 s
HEAL_BOUND = 30.0


def scenario(cluster, run):
    leader, term = wait_for_leader(cluster, run)
    run.say(f"leader {leader}, term {term}")
    write_round_robin(cluster, run, run.count(3, 10), others(cluster))

    minority = [leader, next(node for node in others(cluster, leader))]
    majority = others(cluster, *minority)
    cluster.partition(minority, majority)
    split_at = time.monotonic()
    run.say(f"partition {','.join(minority)} / {','.join(majority)} (the leader on the minority side)")

    new_leader, new_term = wait_for_leader(cluster, run, majority, newer_than=term, timeout=ELECTION_BOUND)
    run.require(new_leader in majority, f"majority agreed on {new_leader}, which is not on its side")
    run.say(f"majority leader {new_leader}, term {new_term}, {time.monotonic() - split_at:.2f} s after the split")
    write_until_acknowledged(cluster, run, majority)
    write_round_robin(cluster, run, run.count(3, 10), majority, label="major")

    refused = write_to_minority(cluster, run, minority)
    report_minority_views(cluster, run, minority)

    cluster.heal()
    leader_now, term_now = wait_for_leader(cluster, run, timeout=HEAL_BOUND)
    run.say(f"healed; all 5 agree: leader {leader_now}, term {term_now}")
    run.require_valid_history(cluster, must_be_absent=refused)


def write_to_minority(cluster, run, minority) -> list:
    """Writes through each minority node at once; each must fail, answered by the node with an error
    (not left to the client's timeout). Returns their names: none may ever appear."""
    attempts = [(node, run.history.next_name("minor")) for node in minority for _ in range(run.count(1, 3))]
    running = [(node, name, cli.spawn_topic_create(cluster, name, node)) for node, name in attempts]
    for node, name, background in running:
        done = background.wait(cli.WRITE_TIMEOUT)
        written = run.history.record(name, node, done)
        run.say(f"minority write {name} via {node}: {written.outcome} after {done.seconds:.2f} s: "
                f"{done.stderr.strip() or done.stdout.strip()}")
        run.require(written.outcome != OK, f"{name} acknowledged by minority node {node}: {done.describe()}")
        run.require(not done.timed_out and "no reply" not in done.stderr and done.seconds < NO_QUORUM_ANSWER_WITHIN,
                    f"minority node {node} did not answer {name} with an error within "
                    f"{NO_QUORUM_ANSWER_WITHIN:g} s: {done.describe()}")
        run.require("error" in done.stderr.lower(), f"no error message for {name}: {done.describe()}")
    return [name for _, name in attempts]


def report_minority_views(cluster, run, minority):
    """Logs who the minority nodes think leads (a cut-off leader should have stepped down)."""
    for node, view in cli.views(cluster, minority).items():
        run.say(f"minority {node} says: " + (f"leader {view.leader}, term {view.term}" if view else "no answer"))
