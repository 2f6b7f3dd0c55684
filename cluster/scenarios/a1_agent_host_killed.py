"""Agent host killed: every node hosts the demo agents; kill -9 a node hosting fraud-detection shards
while transactions flow; once the group's session expires its shards move to the other nodes, and it
gets shards again when restarted; every acknowledged transaction then has exactly one decision, and
each decision's per-customer count shows the agent's state survived the moves (2 rounds quick, with a
fixed seed: a shard host, then the group's coordinator; 4 full). SCENARIO_SEED=N replays a run."""

import random
import time

import agents
from agents import GroupWatch, Traffic, controller_leader, live_nodes, make_transactions, now_ms

VOTERS, OBSERVERS = 3, 0
DEMO = True  # no --no-demo: each node runs the demo agents in-process
NODE_ARGS = agents.NODE_ARGS
REQUIRES = ("publish", "workload read", "group describe")
DEADLINE = (120, 420)
QUICK_SEED = 20251205  # quick runs are the same every time unless SCENARIO_SEED says otherwise
ROUNDS = (2, 4)  # odd rounds kill a shard host that is not the group's coordinator, even ones the coordinator
TRANSACTIONS = (600, 2000)  # at most; the traffic stops a few seconds after the last rejoin
CUSTOMERS = 40
RATE = 12.0  # transactions a second
BEFORE_KILL = (3.0, 5.0)  # seconds of traffic before each kill
AFTER_REJOIN = (6.0, 8.0)  # seconds of traffic after the last rejoin (a coordinator that moved comes back meanwhile)
MOVE_BOUND = 30.0  # kill -> every shard on a survivor (~2 s: the node session; the group session, 10 s, bounds it)
REJOIN_BOUND = 30.0  # start -> the restarted node hosts a shard again
FIRST_ACKS = 10


def scenario(cluster, run):
    seed = agents.scenario_seed(run, QUICK_SEED)
    rng = random.Random(seed)
    run.say(f"seed {seed} (replay: SCENARIO_SEED={seed} cluster/run-scenarios.sh --only a1{' --quick' if run.quick else ''})")
    everyone = [node.id for node in cluster.nodes]
    watch = GroupWatch(cluster, run)
    seconds, view = watch.wait_ready(everyone)
    run.say(f"agents ready {seconds:.1f} s after the cluster: {view}")
    partitions = view.partitions

    transactions = make_transactions(seed, run.count(*TRANSACTIONS), CUSTOMERS, run.history.prefix)
    traffic = Traffic(cluster, run, transactions, RATE)
    try:
        traffic.wait_for_acks(FIRST_ACKS, traffic.started_ms, 20.0)
        moves, rejoins = [], []
        for round_number in range(1, run.count(*ROUNDS) + 1):
            watch.follow(run.count(*BEFORE_KILL))
            view = watch.poll() or view
            hosts = view.hosts()
            victim = pick_victim(rng, hosts, view.coordinator, round_number)
            roles = [role for role, node in (("the group's coordinator", view.coordinator),
                                             ("the controller leader", controller_leader(cluster)))
                     if node == victim]
            traffic.require_running(f"round {round_number}'s kill")
            killed = now_ms()
            cluster.kill(victim)
            run.say(f"round {round_number}: kill -9 {victim}, host of shards "
                    f"{', '.join(f'p{p}' for p in hosts[victim])}{' (also ' + ' and '.join(roles) + ')' if roles else ''}; "
                    f"{traffic.describe()}")

            survivors = [node for node in everyone if node != victim]
            seconds, view = watch.wait(f"every {agents.INPUT_TOPIC} shard to move off {victim} to {', '.join(survivors)}",
                                       lambda v: v.fully_assigned and victim not in v.member_nodes
                                       and set(v.assignments.values()) <= set(survivors), MOVE_BOUND)
            moves.append((victim, seconds))
            run.say(f"{victim}'s shards moved {seconds:.1f} s after the kill: {view}")
            traffic.require_running(f"{victim}'s restart")

            cluster.start(victim)
            started = time.monotonic()
            seconds, view = watch.wait(f"the restarted {victim} to host a shard again, every shard assigned",
                                       lambda v: v.fully_assigned and victim in set(v.assignments.values())
                                       and set(v.member_nodes) == set(everyone), REJOIN_BOUND)
            rejoins.append((victim, time.monotonic() - started))
            run.say(f"{victim} restarted; hosts a shard again {time.monotonic() - started:.1f} s later: {view}; "
                    f"longest time without an acknowledged publish since the kill: "
                    f"{traffic.gaps(killed, now_ms()) / 1000:.1f} s")
        watch.follow(run.count(*AFTER_REJOIN))
        traffic.require_running("the end of the faults")
    finally:
        traffic.stop()

    run.say("shard moves (kill -> every shard on a survivor): "
            + ", ".join(f"{node} {seconds:.1f} s" for node, seconds in moves)
            + "; rejoins (start -> hosting a shard): " + ", ".join(f"{node} {seconds:.1f} s" for node, seconds in rejoins))
    run.require(sorted(live_nodes(cluster)) == sorted(everyone), f"not every node running: {live_nodes(cluster)}")
    agents.wait_caught_up(cluster, run, partitions)
    watch.poll()
    try:
        agents.verify(cluster, run, traffic)
    finally:
        agents.log_findings(cluster, run)


def pick_victim(rng, hosts: dict, coordinator, round_number: int) -> str:
    """A node hosting shards: in odd rounds one that is not the group's coordinator (its members just
    expire), in even rounds the coordinator itself (the group's coordination moves too); either when
    the other kind hosts none."""
    others = sorted(node for node in hosts if node != coordinator)
    if round_number % 2 == 0 and coordinator in hosts or not others:
        return coordinator if coordinator in hosts else rng.choice(sorted(hosts))
    return rng.choice(others)
