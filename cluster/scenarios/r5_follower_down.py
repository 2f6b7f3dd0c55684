"""Follower down: kill -9 a node that leads no partition (it only follows) under acks=all load;
the leaders drop it from their ISRs and keep acknowledging with the other two; started again, it
catches up and is back in every ISR within a bound, its own log holding every acknowledged record;
nothing lost (down 6 s quick; 6 s and 20 s full)."""

import time

import replication
import replication_check
from replication import Load, create_topic, describe, now_ms, report_gaps, wait_full_isr

VOTERS, OBSERVERS = 3, 0
NODE_ARGS = replication.NODE_ARGS
REQUIRES = ("workload produce", "workload read", "topic describe")
PARTITIONS = 2  # on 3 nodes: two leaders, and one node that only follows
DOWN_FOR = ((6.0,), (6.0, 20.0))  # seconds down in each round (quick, full)
SHRINK_BOUND = 10.0  # seconds from the kill until every leader is acknowledged again (ISR without it)
REJOIN_BOUND = 20.0  # seconds from the restart until it is in every ISR again


def scenario(cluster, run):
    views = create_topic(cluster, run, PARTITIONS)
    downs = run.count(*DOWN_FOR)
    load = Load(cluster, run, seconds=run.count(16, 45))
    load.wait_for_every_partition(PARTITIONS)

    rejoins = []
    for round_number, down_for in enumerate(downs, 1):
        time.sleep(1.0)
        views = describe(cluster, replication.TOPIC) or views
        leaders = {view.leader for view in views}
        followers = [node.id for node in cluster.nodes if node.id not in leaders]
        run.require(followers, f"every node leads a partition, none is only a follower: {replication.show(views)}")
        victim = followers[0]
        load.require_running(f"round {round_number}'s kill")
        killed = now_ms()
        cluster.kill(victim)
        run.say(f"round {round_number}: kill -9 {victim}, a follower of every partition "
                f"(leaders {', '.join(sorted(leaders))}), for {down_for:g} s")

        for partition in range(PARTITIONS):
            load.wait_for_ack(partition, killed + 100, SHRINK_BOUND)
        report_gaps(run, load.outcomes(), killed, now_ms(), f"after the kill of {victim}")
        time.sleep(max(0.0, down_for - (now_ms() - killed) / 1000))
        during = describe(cluster, replication.TOPIC)
        run.say(f"before the restart: {replication.show(during)}")
        if during:
            run.require(all(victim not in view.isr for view in during),
                        f"{victim}, down {down_for:g} s, still in an ISR: {replication.show(during)}")
        late = replication_check.acks(load.outcomes(), None, killed + down_for * 500)
        run.require({int(line["partition"]) for line in late} == set(range(PARTITIONS)),
                    f"not every partition acknowledged in the second half of {victim}'s downtime")

        cluster.start(victim)
        started = time.monotonic()
        seconds, views = wait_full_isr(cluster, run, bound=REJOIN_BOUND)
        rejoins.append((victim, down_for, time.monotonic() - started))
        run.say(f"{victim} started; back in every ISR {time.monotonic() - started:.1f} s later: {replication.show(views)}")

    load.finish()
    wait_full_isr(cluster, run)
    run.say("rejoin times (start -> full ISR): " + ", ".join(f"{node} down {down:g} s: {took:.1f} s"
                                                             for node, down, took in rejoins))
    replication.verify(cluster, run, load, PARTITIONS)
