"""Group and topic tools across leaders: a topic with one replica per partition, so the node asked
holds only some of them. Its answers must come from each partition's leader: `group reset-offsets`
places every partition by that partition's own offsets, `group describe` measures each lag from its
leader's end, and `topic describe` shows each partition's end. Then kill -9 the only replica of a
partition the asked node does not hold: that partition reads `-` (unknown) in both tools, never 0,
while the others keep their figures; started again, it shows every acknowledged record. Last, the
topic is deleted and made again under the same name: no group (their coordinators on every node)
keeps an offset of the old topic in the new one. Every figure is checked against the producer's
acknowledgements and the read-back, not against the tools."""

import time

import cli
import replication
import replication_check
from harness import HarnessError, wait_for
from replication import Load
from scenario import ScenarioFailed

VOTERS, OBSERVERS = 3, 0
NODE_ARGS = replication.NODE_ARGS
REQUIRES = ("workload produce", "workload read", "topic describe", "topic delete", "group describe", "group reset-offsets")
TOPIC, GROUP, PARTITIONS = "orders", "billing", 3
ASKED = "node-1"  # every tool is pointed at this node
COMMITTED = 2  # the offset the group is reset to on every partition
LEADERLESS_BOUND = 15.0  # seconds from the kill until the asked node sees the partition without a leader
BACK_BOUND = 30.0  # seconds from the restart until the partition's end is known again


def group_rows(cluster, node: str) -> dict | None:
    """partition -> (committed, end, lag) from `group describe` through `node` (-1: `-`), or None."""
    return cli.group_describe(cluster, node, GROUP, TOPIC)


def reset(cluster, run, *target: str, group: str = GROUP):
    done = cluster.ganglion("group", "reset-offsets", group, "--topic", TOPIC, *target, "--execute",
                            "--node", cluster.api(ASKED), timeout=cli.WRITE_TIMEOUT)
    run.require(done.ok, f"group reset-offsets {group} {' '.join(target)}: {done.describe()}")


def create_topic(cluster, run) -> dict:
    """Creates the topic (one replica per partition) and returns partition -> leader once all are led."""
    done = cluster.ganglion("topic", "create", TOPIC, "--partitions", str(PARTITIONS), "--replication-factor", "1",
                            "--node", cluster.api(), timeout=cli.WRITE_TIMEOUT)
    run.require(done.ok, f"topic create {TOPIC}: {done.describe()}")
    views = wait_for("every partition led", lambda: (found := replication.describe(cluster, TOPIC, ASKED))
                     and len(found) == PARTITIONS and all(view.leader for view in found) and found, 15)
    return {view.partition: view.leader for view in views}


def scenario(cluster, run):
    replication.wait_all_alive(cluster, run)
    leaders = create_topic(cluster, run)
    run.say(f"{TOPIC}: one replica per partition, leaders {leaders}")
    victims = [partition for partition, leader in leaders.items() if leader != ASKED]
    run.require(victims, f"every partition is on {ASKED}; the scenario needs one it does not hold: {leaders}")

    load = Load(cluster, run, seconds=3, topic=TOPIC, label="orders")
    load.wait_for_every_partition(PARTITIONS)
    load.finish()
    acked = replication_check.acks(load.outcomes(), None, 0)
    read = replication.read_back(cluster, run, TOPIC)
    ends = {partition: sum(1 for line in read if int(line["partition"]) == partition) for partition in range(PARTITIONS)}
    stored = {(int(line["partition"]), int(line["offset"])) for line in read}
    lost = [line for line in acked if (int(line["partition"]), int(line["offset"])) not in stored]
    run.require(not lost, f"lost: {len(lost)} acknowledged records not read back, first {lost[:3]}")
    run.require(all(end > COMMITTED for end in ends.values()), f"a partition holds too few records for the check: {ends}")
    run.say(f"{len(acked)} acknowledged, read back per partition {ends}")

    # Reset and describe through a node that holds one partition at most.
    reset(cluster, run, "--to-offset", str(COMMITTED))
    rows = group_rows(cluster, ASKED)
    expected = {partition: (COMMITTED, end, end - COMMITTED) for partition, end in ends.items()}
    run.require(rows == expected, f"group describe through {ASKED}: {rows}, expected {expected} (committed, end, lag)")
    described = {view.partition: view.high_watermark for view in replication.describe(cluster, TOPIC, ASKED) or []}
    run.require(described == ends, f"topic describe through {ASKED}: ends {described}, read back {ends}")
    run.say(f"through {ASKED}: group describe {rows}; topic describe ends {described}")

    # The only replica of a partition the asked node does not hold dies.
    victim_partition = victims[0]
    victim = leaders[victim_partition]
    cluster.kill(victim)
    run.say(f"kill -9 {victim}, the only replica of {TOPIC}-{victim_partition}")
    try:
        views = wait_for(f"{TOPIC}-{victim_partition} without a leader as {ASKED} sees it",
                         lambda: (found := replication.describe(cluster, TOPIC, ASKED))
                         and found[victim_partition].leader is None and found, LEADERLESS_BOUND)
    except HarnessError as error:
        raise ScenarioFailed(str(error)) from None
    for view in views:
        if view.partition == victim_partition:
            run.require((view.log_start, view.high_watermark) == (-1, -1),
                        f"stale: topic describe shows {TOPIC}-{victim_partition}, whose only replica is down, as "
                        f"log-start {view.log_start} end {view.high_watermark} (expected '-'): {replication.show(views)}")
        else:
            run.require(view.high_watermark == ends[view.partition],
                        f"topic describe: {TOPIC}-{view.partition} end {view.high_watermark}, read back {ends[view.partition]}")
    expected = {partition: (COMMITTED, -1, -1) if partition == victim_partition else (COMMITTED, end, end - COMMITTED)
                for partition, end in ends.items()}
    try:
        rows = wait_for(f"group describe through {ASKED} with {victim} down",
                        lambda: (found := group_rows(cluster, ASKED)) == expected and found, 15)
    except HarnessError:
        raise ScenarioFailed(f"group describe through {ASKED} with {victim} down: {group_rows(cluster, ASKED)}, "
                             f"expected {expected} (-1: '-')") from None
    run.say(f"with {victim} down: topic describe {replication.show(views)}; group describe {rows}")

    cluster.start(victim)
    started = time.monotonic()
    try:
        wait_for(f"{TOPIC}-{victim_partition}'s end known again",
                 lambda: (found := replication.describe(cluster, TOPIC, ASKED))
                 and found[victim_partition].high_watermark == ends[victim_partition], BACK_BOUND)
    except HarnessError as error:
        raise ScenarioFailed(f"{error}: {replication.show(replication.describe(cluster, TOPIC, ASKED))}") from None
    run.say(f"{victim} started; {TOPIC}-{victim_partition} ends at {ends[victim_partition]} again "
            f"{time.monotonic() - started:.1f} s later")

    reset(cluster, run, "--to-latest")
    rows = group_rows(cluster, ASKED)
    expected = {partition: (end, end, 0) for partition, end in ends.items()}
    run.require(rows == expected, f"after --to-latest through {ASKED}: {rows}, expected {expected}")
    again = replication.read_back(cluster, run, TOPIC)
    run.require(sorted((line["partition"], line["offset"], line["value"]) for line in again)
                == sorted((line["partition"], line["offset"], line["value"]) for line in read),
                "the read-back after the restart differs from the one before it (lost or changed records)")
    run.say(f"after --to-latest: {rows}; every record read back again")

    # Deleted and made again under the same name: the groups' offsets of the old topic are gone,
    # whichever node coordinates each group (enough groups for a coordinator on every node).
    groups = [f"{GROUP}-{index}" for index in range(6)]
    for group in groups:
        reset(cluster, run, "--to-latest", group=group)
    done = cluster.ganglion("topic", "delete", TOPIC, "--node", cluster.api(ASKED), timeout=cli.WRITE_TIMEOUT)
    run.require(done.ok, f"topic delete {TOPIC}: {done.describe()}")
    create_topic(cluster, run)

    def stale() -> dict:
        """group -> its committed rows on the new topic (or why they could not be read)."""
        found = {}
        for group in groups + [GROUP]:
            done = cluster.ganglion("group", "describe", group, "--node", cluster.api(ASKED), timeout=cli.READ_TIMEOUT)
            if not done.ok:
                # A group with nothing committed anywhere and no members is refused as unknown.
                if "no members and no committed offsets" not in done.describe():
                    found[group] = f"group describe failed: {done.describe()}"
            elif committed := {partition: row for partition, row in cli.group_rows(done.stdout, TOPIC).items() if row[0] >= 0}:
                found[group] = committed
        return found

    try:
        wait_for("no group committed on the new topic", lambda: not stale(), 15)
    except HarnessError:
        raise ScenarioFailed(f"stale: after {TOPIC} was deleted and made again, groups still hold offsets of the old "
                             f"topic in the new one: {stale()}") from None
    run.say(f"{TOPIC} deleted and made again: none of {len(groups) + 1} groups holds an offset in it")
