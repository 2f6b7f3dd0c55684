"""Whole cluster killed: kill -9 every node at once, start them all again; every acknowledged topic
is on every node."""

import time

from scenario import others, wait_for_leader, write_round_robin

VOTERS, OBSERVERS = 3, 2
RECOVERY_BOUND = 30.0


def scenario(cluster, run):
    leader, term = wait_for_leader(cluster, run)
    run.say(f"leader {leader}, term {term}")
    everyone = others(cluster)
    write_round_robin(cluster, run, run.count(4, 20), everyone)

    for node in everyone:
        cluster.kill(node)
    run.say("killed every node (kill -9)")
    cluster.start(*everyone)
    started_at = time.monotonic()
    run.say("started every node again")

    leader, term = wait_for_leader(cluster, run, newer_than=-1, timeout=RECOVERY_BOUND)
    run.say(f"all agree: leader {leader}, term {term}, {time.monotonic() - started_at:.2f} s after the restart")
    run.require_valid_history(cluster)
    write_round_robin(cluster, run, run.count(1, 5), everyone, label="after")
    run.require_valid_history(cluster)
