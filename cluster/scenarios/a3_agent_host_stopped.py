"""Agent host stopped gracefully: every node hosts the demo agents; SIGTERM a node hosting fraud-detection
shards while every demo flow's traffic runs: its members leave their groups before it exits, so the
first look at the groups after its exit already shows every shard of every demo group on the others
(a kill -9 would leave them on the dead node for the node session, ~1.5–2 s); then no event is handled
twice and nothing is lost: every acknowledged input has each of its outcomes exactly once, per-key order
kept, fraud decisions' per-customer counts intact, and nothing sent twice: an outcome stored again with
the same CloudEvent id (a resend, which a1 allows after a kill -9) fails here too — the leaving owner
drains its shards and records their sends before it lets them go. 1 round quick (fixed seed), 3 full
(a shard host, the group's coordinator, the controller leader), each stopped node started again.
SCENARIO_SEED=N replays a run."""

import random
import signal
import time

import agents
from agents import GroupWatch, Traffic, controller_leader, live_nodes, make_demo_traffic, now_ms
from processes import signal_process

VOTERS, OBSERVERS = 3, 0
DEMO = True
NODE_ARGS = agents.NODE_ARGS
REQUIRES = ("publish", "workload read", "group describe")
DEADLINE = (120, 420)
QUICK_SEED = 20251207
ROUNDS = (1, 3)
INPUTS = (500, 2500)  # at most; the traffic stops a few seconds after the last round
CUSTOMERS = 40
RATE = 12.0
BEFORE_STOP = (3.0, 5.0)  # seconds of traffic before each stop
AFTER_STOP = (4.0, 6.0)  # seconds of traffic after each exit (the survivors carry it)
AFTER_LAST = (2.0, 6.0)
EXIT_BOUND = 30.0  # SIGTERM -> the process gone
REJOIN_BOUND = 30.0
FIRST_ACKS = 10


def scenario(cluster, run):
    seed = agents.scenario_seed(run, QUICK_SEED)
    rng = random.Random(seed)
    run.say(f"seed {seed} (replay: SCENARIO_SEED={seed} cluster/run-scenarios.sh --only a3{' --quick' if run.quick else ''})")
    everyone = [node.id for node in cluster.nodes]
    watch = GroupWatch(cluster, run)
    seconds, view = watch.wait_ready(everyone)
    run.say(f"agents ready {seconds:.1f} s after the cluster: {view}")
    partitions = view.partitions

    traffic = Traffic(cluster, run, make_demo_traffic(seed, run.count(*INPUTS), CUSTOMERS, run.history.prefix), RATE)
    handoffs = []
    try:
        traffic.wait_for_acks(FIRST_ACKS, traffic.started_ms, 20.0)
        for round_number in range(1, run.count(*ROUNDS) + 1):
            watch.follow(run.count(*BEFORE_STOP))
            view = watch.poll() or view
            victim, role = pick_victim(rng, cluster, view, round_number)
            traffic.require_running(f"round {round_number}'s stop")
            exit_seconds, moved = stop_and_watch(cluster, run, watch, victim, round_number, role, view, traffic)
            handoffs.append((victim, role, exit_seconds))
            run.require(not moved, f"{victim} exited with shards still assigned to it: {moved}")
            watch.follow(run.count(*AFTER_STOP))
            traffic.require_running(f"{victim}'s restart")
            started = time.monotonic()
            cluster.start(victim)
            seconds, view = watch.wait(f"the restarted {victim} to host a {agents.AGENT} shard again",
                                       lambda v: v.fully_assigned and victim in set(v.assignments.values())
                                       and set(v.member_nodes) == set(everyone), REJOIN_BOUND)
            run.say(f"{victim} restarted; hosts a shard again {time.monotonic() - started:.1f} s later: {view}")
        watch.follow(run.count(*AFTER_LAST))
        traffic.require_running("the end")
    finally:
        traffic.stop()

    run.say("graceful stops (SIGTERM -> exit, every shard moved by then): "
            + ", ".join(f"{node} ({role}) {seconds:.1f} s" for node, role, seconds in handoffs))
    agents.wait_caught_up(cluster, run, partitions)
    try:
        verdict = agents.verify(cluster, run, traffic, strict=True)
        agents.check_delays(cluster, run, run.history.prefix)
        flows = agents.verify_flows(cluster, run, traffic, strict=True)
        run.say(f"resends after graceful stops: {len(verdict.resent)} fraud decision(s), {len(flows.resent)} other "
                f"outcome(s) stored again with the same id")
    finally:
        agents.rejoined_members(cluster, run)
        agents.log_findings(cluster, run)


def pick_victim(rng, cluster, view, round_number: int) -> tuple[str, str]:
    """Round 1 a shard host that is neither the group's coordinator nor the controller leader (when there
    is one), round 2 the coordinator, round 3 the controller leader."""
    hosts = sorted(view.hosts())
    leader = controller_leader(cluster)
    if round_number == 2 and view.coordinator in hosts:
        return view.coordinator, "the group's coordinator"
    if round_number == 3 and leader in hosts:
        return leader, "the controller leader"
    plain = [node for node in hosts if node not in (view.coordinator, leader)] or hosts
    return rng.choice(plain), "a shard host"


def stop_and_watch(cluster, run, watch, victim: str, round_number: int, role: str, before, traffic):
    """SIGTERM `victim`, look at the groups until it has exited and once more just after; returns the
    seconds to exit and what was still assigned to it ({group: [partitions]}) in that first look."""
    node = cluster.node(victim)
    stopped_ms = now_ms()
    coordinated = sorted(name for name, group in agents.demo_groups_in(before.status).items()
                         if group.get("coordinator") == victim)
    run.say(f"round {round_number}: SIGTERM {victim} ({role}), host of {agents.AGENT} shards "
            f"{', '.join(f'p{p}' for p in before.hosts().get(victim, []))}, coordinator of "
            f"{', '.join(coordinated) or 'no demo group'}; {traffic.describe()}")
    survivors = [n for n in live_nodes(cluster) if n != victim]
    left_at = {}  # group -> seconds from SIGTERM until the victim held none of its shards and had no member
    started = time.monotonic()
    run.require(signal_process(node.pid, node.ticks, signal.SIGTERM), f"{victim} is not running")
    while cluster.process_state(victim) != "dead":
        run.require(time.monotonic() - started < EXIT_BOUND, f"{victim} still running {EXIT_BOUND:g} s after SIGTERM")
        view = watch.poll(survivors[:1])
        for name, group in (agents.demo_groups_in(view.status) if view else {}).items():
            if name not in left_at and victim not in group["members"] and victim not in group["assignments"].values():
                left_at[name] = time.monotonic() - started
        time.sleep(0.05)
    exited = time.monotonic() - started
    run.say(f"{victim} exited {exited:.1f} s after SIGTERM; its members had left (seen from {survivors[0]}): "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(left_at.items(), key=lambda item: item[1]))
            + (f"; still members at exit: {', '.join(sorted(set(agents.DEMO_GROUPS) - set(left_at)))}"
               if set(agents.DEMO_GROUPS) - set(left_at) else ""))
    look_started = time.monotonic()
    groups = agents.demo_groups(cluster, survivors[0]) or agents.demo_groups(cluster, survivors[-1])
    view = watch.poll()
    run.require(groups is not None, f"no survivor answered cluster status after {victim} exited")
    moved_late = {name: sorted(p for p, n in group["assignments"].items() if n == victim)
                  for name, group in groups.items() if victim in group["assignments"].values()}
    unassigned = {name: group["partitions"] - len(group["assignments"]) for name, group in groups.items()
                  if not group["fully_assigned"]}
    members = sorted(name for name, group in groups.items() if victim in group["members"])
    run.say(f"first look after the exit ({time.monotonic() - look_started:.1f} s): "
            f"{'still assigned to it: ' + str(moved_late) if moved_late else 'no shard of any demo group on it'}"
            f"{'; unassigned: ' + str(unassigned) if unassigned else ''}"
            f"{'; still a member of ' + ', '.join(members) if members else ''}; {view}; "
            f"longest time without an acknowledged publish since the stop: {traffic.gaps(stopped_ms, now_ms()) / 1000:.1f} s")
    if unassigned:
        seconds, view = watch.wait("every shard assigned again", lambda v: v.fully_assigned, 30.0)
        run.say(f"every {agents.AGENT} shard assigned {seconds:.1f} s later")
    return exited, moved_late
