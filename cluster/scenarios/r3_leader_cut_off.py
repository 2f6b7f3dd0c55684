"""Partition leader cut off from its followers: partition {leader} / {the others} while the client
still reaches every node, under acks=all load. Writes may fail or time out meanwhile; nothing the
isolated leader acknowledges may rest on its copy alone, and after healing nothing acknowledged is
lost (quick: the leader of partition 0; full: also a leader that is not the controller leader, and
{leader, client} / {others}, where the client reaches only the isolated leader)."""

import time

import replication
import replication_check
from replication import (Load, controller_leader, create_topic, describe, leader_of, now_ms, report_gaps,
                         wait_full_isr)

VOTERS, OBSERVERS = 3, 0
NODE_ARGS = replication.NODE_ARGS
REQUIRES = ("workload produce", "workload read", "topic describe")
PARTITIONS = 3
CUT_FOR = (6.0, 10.0)  # seconds (quick, full)
IN_FLIGHT_MS = 500  # an acknowledgement the leader could still send from before the cut


def scenario(cluster, run):
    views = create_topic(cluster, run, PARTITIONS)
    rounds = ["controller", "other", "with-client"][:run.count(1, 3)]
    load = Load(cluster, run, seconds=run.count(17, 65))
    load.wait_for_every_partition(PARTITIONS)

    cuts = []  # (partition, victim, epoch before, cut ms, healed ms)
    for round_number, kind in enumerate(rounds, 1):
        time.sleep(1.0)
        views = describe(cluster, replication.TOPIC) or views
        controller = controller_leader(cluster)
        if kind == "other":
            partition = next((v.partition for v in views if v.leader != controller), 1)
        else:
            partition = next((v.partition for v in views if v.leader == controller), 0)
        victim = leader_of(views, partition)
        epoch = next(view.leader_epoch for view in views if view.partition == partition)
        others = [node.id for node in cluster.nodes if node.id != victim]
        isolated = [victim, "client"] if kind == "with-client" else [victim]
        load.require_running(f"round {round_number}'s partition")
        cluster.partition(isolated, others)
        cut = now_ms()
        run.say(f"round {round_number}: partition {','.join(isolated)} / {','.join(others)}: {victim} leads "
                f"partition {partition} at epoch {epoch} and is {'' if victim == controller else 'not '}the "
                f"controller leader ({controller})")

        time.sleep(run.count(*CUT_FOR) / 2)
        run.say(f"the others describe: {replication.show(describe(cluster, replication.TOPIC, others))}")
        run.say(f"{victim} describes: {replication.show(describe(cluster, replication.TOPIC, victim, timeout=5))}")
        time.sleep(max(0.0, run.count(*CUT_FOR) - (now_ms() - cut) / 1000))
        outcomes = load.outcomes()
        window = [line for line in outcomes if cut < line["ms"] < now_ms()]
        fails = [line for line in window if line.get("type") != "ack"]
        run.say(f"during the cut: {len(window) - len(fails)} acknowledged "
                f"({', '.join(f'p{p} {len(replication_check.acks(window, p))}' for p in range(PARTITIONS))}), "
                f"{len(fails)} failed{': e.g. ' + fails[0]['error'][:120] if fails else ''}")
        report_gaps(run, outcomes, cut, now_ms(), "during the cut")

        cluster.heal()
        healed = now_ms()
        cuts.append((partition, victim, epoch, cut, healed))
        seconds, views = wait_full_isr(cluster, run)
        run.say(f"healed; every ISR full again after {seconds:.1f} s: {replication.show(views)}")

    load.finish()
    wait_full_isr(cluster, run)
    verdict = replication.verify(cluster, run, load, PARTITIONS)

    outcomes = load.outcomes()
    for partition, victim, epoch, cut, healed in cuts:
        epochs = replication_check.epochs_of(verdict.replicas, partition)
        during = replication_check.acks(outcomes, partition, cut + IN_FLIGHT_MS, healed)
        in_flight = replication_check.in_flight_at(outcomes, partition, cut)
        old = [line for line in during if epochs.get(int(line["offset"]), -1) <= epoch]
        # A request in flight at the cut may have reached the followers before it and be acknowledged by
        # the new leader on its retry (it holds the records, in the old epoch): not on the old copy alone.
        # Had the isolated leader acknowledged it alone, the new leader would lack it: the check's `lost`.
        alone = [line for line in old if (line["key"], line["seq"]) not in in_flight]
        run.say(f"partition {partition}: {len(during)} acknowledged during the cut of {victim}, in leader epochs "
                f"{sorted({epochs.get(int(line['offset'])) for line in during})}"
                + (f"; {len(old) - len(alone)} in epoch {epoch}: requests in flight at the cut, replicated before "
                   f"it and acknowledged by the new leader on their retry" if len(old) > len(alone) else ""))
        run.require(not alone, f"{len(alone)} records of partition {partition} acknowledged more than "
                               f"{IN_FLIGHT_MS} ms into the cut are stored in the isolated {victim}'s epoch {epoch}: "
                               f"acknowledged by {victim} alone, e.g. {alone[:3]}")
