"""Partition leader killed: kill -9 a partition's leader under acks=all load; another in-sync replica
takes over and acknowledges again; restarted, the old leader rejoins the ISR; nothing acknowledged is
lost, nothing is stored twice (1 round quick, 3 full, each a different partition's leader)."""

import time

import replication
from replication import (Load, controller_leader, create_topic, describe, leader_of, now_ms, report_gaps,
                         wait_full_isr)

VOTERS, OBSERVERS = 3, 0
NODE_ARGS = replication.NODE_ARGS
REQUIRES = ("workload produce", "workload read", "topic describe")
PARTITIONS = 3
FAILOVER_BOUND = 15.0  # seconds from the kill to the partition's first acknowledgement after it
DOWN_FOR = (3.0, 4.0)  # seconds the killed node stays down (quick, full)


def scenario(cluster, run):
    views = create_topic(cluster, run, PARTITIONS)
    rounds = run.count(1, 3)
    load = Load(cluster, run, seconds=run.count(15, 60))
    load.wait_for_every_partition(PARTITIONS)
    run.say("acknowledgements on every partition")

    gaps = []
    for round_number in range(rounds):
        partition = round_number % PARTITIONS
        time.sleep(1.0)
        views = describe(cluster, replication.TOPIC) or views
        victim = leader_of(views, partition)
        role = "also the controller leader" if controller_leader(cluster) == victim else "not the controller leader"
        load.require_running(f"round {round_number + 1}'s kill")
        before = now_ms()
        cluster.kill(victim)
        dead = now_ms()
        run.say(f"round {round_number + 1}: kill -9 {victim}, leader of partition {partition} ({role})")

        first = load.wait_for_ack(partition, dead, FAILOVER_BOUND)
        gap = first - before
        gaps.append((victim, partition, gap))
        after = describe(cluster, replication.TOPIC)
        run.say(f"partition {partition} acknowledged again {gap:.0f} ms after the kill; now {replication.show(after)}")
        if after:
            run.require(leader_of(after, partition) != victim,
                        f"partition {partition} still led by the killed {victim}: {replication.show(after)}")
        time.sleep(run.count(*DOWN_FOR))
        report_gaps(run, load.outcomes(), before, now_ms(), f"since the kill of {victim}")

        cluster.start(victim)
        seconds, views = wait_full_isr(cluster, run)
        run.say(f"{victim} restarted; every ISR full again after {seconds:.1f} s: {replication.show(views)}")

    load.finish()
    _, views = wait_full_isr(cluster, run)
    run.say("failover gaps (kill -9 -> first ack on the partition): "
            + ", ".join(f"{victim}/p{partition} {gap:.0f} ms" for victim, partition, gap in gaps))
    replication.verify(cluster, run, load, PARTITIONS)
