"""Rolling restart: SIGTERM each node in turn (a controlled shutdown moves its leaderships first),
start it again and wait until it is back in every ISR and leads its preferred partitions, under
acks=all load. The producer retries through it all: not one failed outcome, nothing lost
(every node once quick, twice full)."""

import time

import replication
from replication import (Load, controller_leader, create_topic, graceful_stop, now_ms, report_gaps,
                         wait_full_isr)

VOTERS, OBSERVERS = 3, 0
NODE_ARGS = replication.NODE_ARGS
REQUIRES = ("workload produce", "workload read", "topic describe")
PARTITIONS = 3
REJOIN_BOUND = 30.0  # seconds from a restart to full ISRs with preferred leaders
DEADLINE = (150, 300)


def scenario(cluster, run):
    create_topic(cluster, run, PARTITIONS)
    order = [node.id for node in cluster.nodes] * run.count(1, 2)
    load = Load(cluster, run, seconds=run.count(24, 75))
    load.wait_for_every_partition(PARTITIONS)

    for step, node in enumerate(order, 1):
        time.sleep(1.0)
        load.require_running(f"the restart of {node}")
        role = "the controller leader" if controller_leader(cluster) == node else "a controller follower"
        before = now_ms()
        exited = graceful_stop(cluster, run, node)
        stopped = now_ms()
        run.require(exited, f"{node} did not exit within the harness's bound after SIGTERM")
        cluster.start(node)
        started = now_ms()
        seconds, views = wait_full_isr(cluster, run, bound=REJOIN_BOUND, preferred=True)
        run.say(f"step {step}: {node} ({role}) SIGTERM -> exit {(stopped - before) / 1000:.1f} s, started, full "
                f"ISRs and preferred leaders {(started - stopped) / 1000 + seconds:.1f} s later: {replication.show(views)}")
        report_gaps(run, load.outcomes(), before, now_ms(), f"around the restart of {node}")

    load.finish()
    wait_full_isr(cluster, run)
    outcomes = load.outcomes()
    replication.verify(cluster, run, load, PARTITIONS)
    failed = replication.fail_count(outcomes)
    run.require(failed == 0, f"{failed} produce requests failed during the rolling restart (the producer should "
                             f"have retried them), e.g. {replication.first_fails(outcomes)}")
