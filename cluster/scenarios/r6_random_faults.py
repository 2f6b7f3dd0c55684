"""Random faults: a seeded schedule of kill -9, SIGTERM, SIGSTOP, cut (no link at all) and isolate
(partitioned from the other nodes, the client still reaching it) on random nodes under acks=all
load, then everything undone: every ISR full again and nothing lost, duplicated or reordered
(about 25 s of faults and one at a time quick; about 240 s and up to two at a time full). The seed is
printed; SCENARIO_SEED=N replays the same schedule."""

import random
import time

import replication
from replication import Load, create_topic, graceful_stop, now_ms, report_gaps, wait_full_isr

VOTERS, OBSERVERS = 3, 0
NODE_ARGS = replication.NODE_ARGS
REQUIRES = ("workload produce", "workload read", "topic describe")
PARTITIONS = 3
FAULT_SECONDS = (25.0, 240.0)  # planned time under faults (quick, full)
MAX_FAULTS = (1, 2)  # faulty nodes at once: two of three leaves no quorum and no min-insync
HOLD = (1.0, 4.0)  # seconds between two steps of the schedule
LOAD_AFTER = 6.0  # seconds of load that must remain once the faults are undone
HEAL_BOUND = 60.0
KINDS = ("kill", "term", "pause", "cut", "isolate")
DEADLINE = (110, 480)


def plan(rng: random.Random, nodes: list, seconds: float, max_faults: int) -> list:
    """The schedule: (action, node, kind, seconds to wait after it), drawn from `rng` alone."""
    steps, active, total = [], {}, 0.0
    while total < seconds:
        if active and (len(active) >= max_faults or rng.random() < 0.5):
            node = rng.choice(sorted(active))
            action, kind = "undo", active.pop(node)
        else:
            node = rng.choice([n for n in nodes if n not in active])
            action, kind = "do", rng.choice(KINDS)
            active[node] = kind
        hold = round(rng.uniform(*HOLD), 1)
        steps.append((action, node, kind, hold))
        total += hold
    return steps


class Faults:
    """The faults in force, applied and undone through the harness."""

    def __init__(self, cluster, run):
        self.cluster, self.run = cluster, run
        self.active = {}  # node -> kind
        self.isolated = []

    def do(self, node, kind):
        cluster = self.cluster
        if kind == "kill":
            cluster.kill(node)
        elif kind == "term":
            graceful_stop(cluster, self.run, node)
        elif kind == "pause":
            cluster.stop(node)
        elif kind == "cut":
            cluster.cut(node)
        elif kind == "isolate":
            self.isolated.append(node)
            self._partition()
        self.active[node] = kind

    def undo(self, node, kind):
        cluster = self.cluster
        if kind in ("kill", "term"):
            cluster.start(node)
        elif kind == "pause":
            cluster.cont(node)
        elif kind == "cut":
            cluster.uncut(node)
        elif kind == "isolate":
            self.isolated.remove(node)
            self._partition()
        del self.active[node]

    def undo_all(self):
        for node, kind in sorted(self.active.items()):
            self.undo(node, kind)
        self.cluster.heal()

    def _partition(self):
        if not self.isolated:
            self.cluster.unpartition()
            return
        rest = [node.id for node in self.cluster.nodes if node.id not in self.isolated]
        self.cluster.partition(*[[node] for node in self.isolated], rest)


def scenario(cluster, run):
    seed = replication.scenario_seed()
    rng = random.Random(seed)
    nodes = [node.id for node in cluster.nodes]
    steps = plan(rng, nodes, run.count(*FAULT_SECONDS), run.count(*MAX_FAULTS))
    run.say(f"seed {seed} (replay: SCENARIO_SEED={seed} cluster/run-scenarios.sh --only r6{' --quick' if run.quick else ''}); "
            f"{len(steps)} steps: " + ", ".join(f"{'+' if a == 'do' else '-'}{k} {n} {h:g}s" for a, n, k, h in steps))

    create_topic(cluster, run, PARTITIONS)
    load = Load(cluster, run, seconds=run.count(*FAULT_SECONDS) + 12)
    load.wait_for_every_partition(PARTITIONS)
    load_ends = time.monotonic() + load.seconds - (now_ms() - load.started_ms) / 1000

    faults = Faults(cluster, run)
    began = now_ms()
    done_steps = 0
    applied = {}
    for action, node, kind, hold in steps:
        if time.monotonic() + hold > load_ends - LOAD_AFTER:
            run.say(f"stopping the schedule after {done_steps} of {len(steps)} steps: the load ends in "
                    f"{load_ends - time.monotonic():.1f} s")
            break
        load.require_running(f"step {done_steps + 1}")
        if action == "do":
            faults.do(node, kind)
            applied[kind] = applied.get(kind, 0) + 1
        else:
            faults.undo(node, kind)
        done_steps += 1
        run.say(f"{'+' if action == 'do' else '-'}{kind} {node}; in force: "
                f"{', '.join(f'{k} {n}' for n, k in sorted(faults.active.items())) or 'none'}")
        time.sleep(hold)

    faults.undo_all()
    healed = now_ms()
    run.say(f"every fault undone after {(healed - began) / 1000:.1f} s ({', '.join(f'{n}× {k}' for k, n in sorted(applied.items()))})")
    seconds, views = wait_full_isr(cluster, run, bound=HEAL_BOUND)
    run.say(f"every ISR full again after {seconds:.1f} s: {replication.show(views)}")
    report_gaps(run, load.outcomes(), began, healed, "under faults")

    load.finish()
    wait_full_isr(cluster, run)
    replication.verify(cluster, run, load, PARTITIONS)
