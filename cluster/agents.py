"""What the agent scenarios (scenarios/a*.py) share: nodes running the demo agents, where the shards of
an agent type run (its consumer group, from `cluster status --json`), a background publisher of
transactions whose every outcome is logged, the group's lag, the read-back and the final check
(agent_check.py), and what the nodes' logs say went wrong.

The contract relied on (the node side implements it):
- `ganglion node` without `--no-demo` hosts the demo agents; on a cluster every node's agent host joins
  each agent type's consumer group (named after the agent type), so the group's partitions (shards)
  are spread over the nodes. The agents make their topics once `__consumer_offsets` exists.
- `ganglion cluster status --node EP --json`: `groups[]` with `name`, `coordinator`, `members[]`
  (`id`, `node`) and `assignments[]` (`topic`, `partition`, `node`); `topics[]` with `name` and
  `partitions[]`.
- `ganglion group describe GROUP --node EP`: members, then a table `partition committed high-watermark
  lag` (`TOPIC-P` first).
- `ganglion publish TOPIC --key K --type T --data D --node EPS`: exit 0 once stored, printing
  `published to TOPIC-P at offset O`.
- `ganglion workload read --node EPS --topic T --out FILE`: every record below each high watermark.
- The fraud-detection agent (Sources/ganglion/Demo/FraudDetectionAgent.swift) takes `transaction.created`
  events on `transactions` with `amount` > 1000 and records one decision each on
  `fraud-detection.decisions`, whose data names the input (`input_event`: its CloudEvent id) and the
  customer's count so far (`input.count`).
- The CI, saga and task demo agents (Sources/ganglion/Demo) turn a `push` on `ci.pushes`, a
  `document.received` on `docs.events` and a `task.submitted` on `tasks` into outcomes on `ci.statuses`,
  `docs.outcomes` and `tasks.verified`, keyed by the entity (demo_check.py says which ones, in which order).
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import agent_check
import cli
import demo_check
import replication_check
from harness import Cluster, HarnessError, wait_for
from replication import controller_leader  # noqa: F401 (for the scenarios)
from scenario import Run, ScenarioFailed

SESSION_TIMEOUT_MS = 1500  # node sessions (the controller fences a silent node after this)
NODE_ARGS = ["--node-session-timeout-ms", str(SESSION_TIMEOUT_MS)]
AGENT = "fraud-detection"
INPUT_TOPIC = "transactions"
DECISIONS_TOPIC = f"{AGENT}.decisions"
THRESHOLD = 1000  # the agent's filter takes amounts above this only
READY_BOUND = 60.0  # seconds from start until the group has every node and every partition assigned
PUBLISH_TIMEOUT = 15.0  # the CLI gives up after 10 s
CATCH_UP_BOUND = 45.0
READ_ATTEMPTS = 3
CONVERGE_WITHIN = 10.0  # seconds the final check re-reads while decisions are merely missing
FLOWS_CONVERGE_WITHIN = 30.0  # the same for the other flows' outcomes (a saga is four hops, a task retries)
PUBLISHED = re.compile(r"published to (.+)-(\d+) at offset (\d+)")


def now_ms() -> float:
    return time.time() * 1000


def workdir(cluster: Cluster) -> Path:
    """Where the publisher's outcomes and the read-backs go: beside the nodes' data, kept on failure."""
    path = Path(cluster.state.data_root).parent / "workload"
    path.mkdir(parents=True, exist_ok=True)
    return path


def scenario_seed(run: Run, quick_seed: int) -> int:
    """$SCENARIO_SEED, else `quick_seed` in --quick runs (CI sees the same run every time), else a fresh
    seed (printed by the scenario, so that a run can be replayed)."""
    text = os.environ.get("SCENARIO_SEED", "")
    if re.fullmatch(r"\d+", text):
        return int(text)
    return quick_seed if run.quick else random.SystemRandom().randrange(1, 1 << 31)


def live_nodes(cluster: Cluster) -> list[str]:
    return [node.id for node in cluster.nodes if cluster.process_state(node.id) == "alive"]


# ---------------------------------------------------------------------------------------------
# Where the shards run


class GroupView:
    """One answer of `cluster status --json` about the agent's group and its input topic."""

    def __init__(self, node: str, status: dict, group: str = AGENT, topic: str = INPUT_TOPIC):
        self.node = node  # who answered
        self.status = status
        found = next((g for g in status.get("groups", []) if g.get("name") == group), None)
        self.exists = found is not None
        found = found or {}
        self.coordinator = found.get("coordinator")
        self.members = {m["id"]: m.get("node") for m in found.get("members", [])}
        self.assignments = {int(a["partition"]): a.get("node") for a in found.get("assignments", [])
                            if a.get("topic") == topic}
        described = next((t for t in status.get("topics", []) if t.get("name") == topic), None)
        self.partitions = len(described.get("partitions", [])) if described else 0

    @property
    def member_nodes(self) -> set:
        return set(self.members.values())

    def hosts(self) -> dict:
        """node -> the partitions (shards) it hosts."""
        result = {}
        for partition, node in sorted(self.assignments.items()):
            result.setdefault(node, []).append(partition)
        return result

    @property
    def fully_assigned(self) -> bool:
        return self.partitions > 0 and set(self.assignments) == set(range(self.partitions))

    def __str__(self):
        if not self.exists:
            return f"no group {AGENT} (asked {self.node})"
        shards = ", ".join(f"{node}: {','.join(f'p{p}' for p in parts)}" for node, parts in sorted(self.hosts().items()))
        members = Counter(self.members.values())
        return (f"members on {', '.join(f'{n}' + (f'×{c}' if c > 1 else '') for n, c in sorted(members.items())) or 'none'}; "
                f"shards {shards or 'none'} of {self.partitions}; coordinator {self.coordinator}")

    def key(self):
        """What a change is logged for."""
        return (tuple(sorted(self.members.items())), tuple(sorted(self.assignments.items())), self.coordinator)


def group_view(cluster: Cluster, nodes=None) -> GroupView | None:
    """The group as the first of `nodes` (default: every running node) that answers sees it."""
    for node in nodes or live_nodes(cluster):
        done = cluster.ganglion("cluster", "status", "--node", cluster.api(node), "--json", timeout=cli.READ_TIMEOUT)
        if not done.ok:
            continue
        try:
            return GroupView(node, json.loads(done.stdout))
        except (ValueError, KeyError, TypeError):
            continue
    return None


DEMO_GROUPS = {  # every demo agent type (its consumer group) -> its input topic
    AGENT: INPUT_TOPIC, "ci-tests": "ci.pushes", "ci-security": "ci.pushes", "ci-lint": "ci.pushes",
    "ci-aggregator": "ci.checks", "doc-saga": "docs.events", "doc-worker": "docs.steps",
    "task-worker": "tasks", "task-verifier": "tasks.completed",
}


def demo_groups(cluster: Cluster, node: str) -> dict | None:
    """Every demo group as `node` sees it (`cluster status --json`): name -> {"members": nodes with a
    member, "assignments": partition of its input topic -> node, "partitions": how many,
    "fully_assigned"}; None when the node does not answer."""
    done = cluster.ganglion("cluster", "status", "--node", cluster.api(node), "--json", timeout=cli.READ_TIMEOUT)
    if not done.ok:
        return None
    try:
        return demo_groups_in(json.loads(done.stdout))
    except ValueError:
        return None


def demo_groups_in(status: dict) -> dict:
    """`demo_groups` from one answer of `cluster status --json`."""
    sizes = {t.get("name"): len(t.get("partitions", [])) for t in status.get("topics", [])}
    result = {}
    for group in status.get("groups", []):
        topic = DEMO_GROUPS.get(group.get("name"))
        if topic is None:
            continue
        assignments = {int(a["partition"]): a.get("node") for a in group.get("assignments", []) if a.get("topic") == topic}
        result[group["name"]] = {"members": {m.get("node") for m in group.get("members", [])},
                                 "coordinator": group.get("coordinator"),
                                 "assignments": assignments, "partitions": sizes.get(topic, 0),
                                 "fully_assigned": sizes.get(topic, 0) > 0 and set(assignments) == set(range(sizes[topic]))}
    return result


def describe_demo_groups(groups: dict) -> str:
    """'fraud-detection node-1 p0, node-2 p1,p2 of 3 (members node-1,node-2; coordinator node-2); ci-tests …'."""
    return "; ".join(
        f"{name} " + ", ".join(f"{n} p{',p'.join(str(p) for p, h in sorted(g['assignments'].items()) if h == n)}"
                               for n in sorted(set(g["assignments"].values())))
        + f" of {g['partitions']} (members {','.join(sorted(m for m in g['members'] if m))}; "
        f"coordinator {g.get('coordinator')})"
        for name, g in sorted(groups.items()))


class GroupWatch:
    """Polls the group and logs every change of its members, shards or coordinator."""

    def __init__(self, cluster: Cluster, run: Run):
        self.cluster, self.run = cluster, run
        self.last: GroupView | None = None
        self.last_every = None  # every demo group's shards, as last written to the timeline
        self.path = workdir(cluster) / "group-changes.txt"  # with UTC times, to set beside the nodes' logs
        self.path.unlink(missing_ok=True)

    def poll(self, nodes=None) -> GroupView | None:
        """The group as one of `nodes` (default: a random running node) sees it; logs a change."""
        nodes = list(nodes or live_nodes(self.cluster))
        random.shuffle(nodes)  # not always the same node's view
        view = group_view(self.cluster, nodes)
        stamp = f"{time.strftime('%H:%M:%S', time.gmtime())}.{int(time.time() * 1000) % 1000:03d}"
        if view is not None and (self.last is None or view.key() != self.last.key()):
            self.run.say(f"group {AGENT}: {view}")
            with open(self.path, "a") as timeline:
                timeline.write(f"{stamp} (asked {view.node}) {view}; members {sorted(view.members.items())}\n")
        if view is not None:
            every = describe_demo_groups(demo_groups_in(view.status))
            if every != self.last_every:  # every demo group's shards, to the timeline only
                with open(self.path, "a") as timeline:
                    timeline.write(f"{stamp} (asked {view.node}) all groups: {every}\n")
                self.last_every = every
            self.last = view
        return view

    def follow(self, seconds: float):
        """Keeps polling (and logging changes) for `seconds`."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            self.poll()
            time.sleep(max(0.0, min(0.3, until - time.monotonic())))

    def wait(self, what: str, predicate, bound: float) -> tuple[float, GroupView]:
        """Waits until `predicate(view)` holds; returns (seconds, view)."""
        started = time.monotonic()

        def check():
            view = self.poll()
            return view if view is not None and predicate(view) else None

        try:
            view = wait_for(what, check, bound, interval=0.3, detail=lambda: f"    last seen: {self.last}")
        except HarnessError as error:
            raise ScenarioFailed(str(error)) from None
        return time.monotonic() - started, view

    def wait_ready(self, nodes, bound: float = READY_BOUND) -> tuple[float, GroupView]:
        """Until every one of `nodes` has a member in the group, each partition is assigned to one of them
        and each of them hosts a shard (when there are enough): the shards spread over the nodes."""
        nodes = set(nodes)

        def ready(view: GroupView) -> bool:
            hosting = set(view.assignments.values())
            spread = hosting == nodes if view.partitions >= len(nodes) else True
            return view.fully_assigned and nodes <= view.member_nodes and hosting <= nodes and spread

        return self.wait(f"group {AGENT} to have a member on each of {', '.join(sorted(nodes))} and every "
                         f"{INPUT_TOPIC} partition assigned among them, each hosting one", ready, bound)


# ---------------------------------------------------------------------------------------------
# The traffic


def make_transactions(seed: int, count: int, customers: int, prefix: str) -> list[dict]:
    """`count` transactions from `seed` alone: unique ids, customers spread over `customers` keys, amounts
    above the agent's threshold (one in 15 large enough to raise an alert)."""
    rng = random.Random(seed)
    result = []
    for number in range(1, count + 1):
        amount = rng.randint(8_000, 40_000) if rng.random() < 1 / 15 else rng.randint(THRESHOLD + 1, 2_500)
        result.append({"txn": f"{prefix}tx-{number:05d}", "key": f"{prefix}customer-{rng.randint(1, customers):03d}",
                       "amount": amount})
    return result


def make_demo_traffic(seed: int, count: int, customers: int, prefix: str, every: int = 12) -> list[dict]:
    """`count` inputs from `seed` alone for every demo flow: transactions (as `make_transactions`), and in
    each `every` of them one CI push, one document and one task (demo_check.make_input), interleaved."""
    rng = random.Random(seed + 1)
    slots = {0: "ci", every // 3: "saga", 2 * every // 3: "task"}
    flows = [slots.get(index % every) for index in range(count)]
    transactions = iter(make_transactions(seed, sum(flow is None for flow in flows), customers, prefix))
    numbers = Counter()
    result = []
    for flow in flows:
        if flow is None:
            result.append(next(transactions))
        else:
            numbers[flow] += 1
            result.append(demo_check.make_input(flow, numbers[flow], prefix, rng))
    return result


class Traffic:
    """Publishes `transactions` in the background, about `rate` a second, one `ganglion publish` each (the
    node list rotated, so a dead node is sometimes tried first), every outcome a JSON line in a file:
    {"txn","key","amount","outcome","ms","seconds","via",("partition","offset" | "detail")}. An item with a
    `topic` (make_demo_traffic: the other demo flows) is published as given — `topic`, `key`, `type`,
    `data` — and logged with its `flow` and `id` in place of `txn`."""

    def __init__(self, cluster: Cluster, run: Run, transactions: list[dict], rate: float, workers: int = 12,
                 label: str = "traffic"):
        self.cluster, self.run, self.transactions, self.rate = cluster, run, transactions, rate
        self.path = workdir(cluster) / f"{label}.outcomes.jsonl"
        self.path.unlink(missing_ok=True)
        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self._file = open(self.path, "a")
        self.started = time.monotonic()
        self.started_ms = now_ms()
        self._threads = [threading.Thread(target=self._work, name=f"traffic-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()
        kinds = Counter(item.get("flow", "fraud") for item in transactions)
        others = "".join(f", {count} {flow}" for flow, count in sorted(kinds.items()) if flow != "fraud")
        run.say(f"traffic: up to {kinds['fraud']} transactions on "
                f"{len(set(t['key'] for t in transactions if 'txn' in t))} customers{others}, {rate:g}/s, "
                f"{workers} publishers -> {self.path}")

    def _work(self):
        endpoints = [node.api for node in self.cluster.nodes]
        while not self._stop.is_set():
            with self._lock:
                index = self._next
                self._next += 1
            if index >= len(self.transactions):
                return
            if self._stop.wait(max(0.0, self.started + index / self.rate - time.monotonic())):
                return
            transaction = self.transactions[index]
            turn = index % len(endpoints)
            via = ",".join(endpoints[turn:] + endpoints[:turn])
            if "topic" in transaction:
                topic, kind = transaction["topic"], transaction["type"]
                data = json.dumps(transaction["data"], sort_keys=True)
            else:
                topic, kind = INPUT_TOPIC, "transaction.created"
                data = json.dumps({"amount": transaction["amount"], "customer": transaction["key"],
                                   "txn": transaction["txn"]}, sort_keys=True)
            try:
                done = self.cluster.ganglion("publish", topic, "--key", transaction["key"], "--type", kind,
                                             "--source", "/cluster/a-scenarios", "--data", data,
                                             "--node", via, timeout=PUBLISH_TIMEOUT)
            except Exception as error:  # e.g. the cluster torn down under a stopping publisher
                done = None
                detail = f"not run: {error}"
            line = {**transaction, "ms": round(now_ms()), "via": via.split(",")[0]}
            stored = PUBLISHED.search(done.stdout) if done is not None and done.ok else None
            if stored:
                line.update(outcome="ok", partition=int(stored.group(2)), offset=int(stored.group(3)),
                            seconds=round(done.seconds, 3))
            else:
                outcome = "info" if done is None or cli.is_indeterminate(done) else "fail"
                line.update(outcome=outcome, seconds=round(done.seconds, 3) if done else None,
                            detail=(done.describe() if done else detail)[-300:])
            with self._lock:
                if self._file.closed:  # stopped while this publish ran past the stop's bound
                    return
                self._file.write(json.dumps(line) + "\n")
                self._file.flush()

    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def require_running(self, what: str):
        if not self.running():
            raise ScenarioFailed(f"the traffic ended before {what}: all {len(self.transactions)} transactions "
                                 f"were published; give it more")

    def outcomes(self) -> list[dict]:
        return replication_check.load_jsonl(self.path)

    def acknowledged_since(self, ms: float) -> int:
        return sum(1 for line in self.outcomes() if line.get("outcome") == "ok" and line["ms"] >= ms)

    def wait_for_acks(self, count: int, after_ms: float, bound: float) -> float:
        """Waits until `count` transactions were acknowledged after `after_ms`; returns the seconds taken."""
        started = time.monotonic()
        try:
            wait_for(f"{count} acknowledged transactions", lambda: self.acknowledged_since(after_ms) >= count, bound,
                     interval=0.1, detail=lambda: f"    {self.describe()}")
        except HarnessError as error:
            raise ScenarioFailed(str(error)) from None
        return time.monotonic() - started

    def describe(self) -> str:
        counts = Counter(line.get("outcome") for line in self.outcomes())
        return ", ".join(f"{counts[o]} {o}" for o in ("ok", "fail", "info")) + " so far"

    def stop(self, bound: float = PUBLISH_TIMEOUT + 5):
        """No new publishes; waits for those under way (each bounded by its own deadline)."""
        self._stop.set()
        deadline = time.monotonic() + bound
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            if not self._file.closed:
                self._file.close()
        outcomes = self.outcomes()
        counts = Counter(line.get("outcome") for line in outcomes)
        self.run.say(f"traffic stopped after {time.monotonic() - self.started:.1f} s: {len(outcomes)} published, "
                     f"{counts['ok']} acknowledged, {counts['fail']} refused, {counts['info']} without an answer")
        return outcomes

    def gaps(self, after_ms: float, before_ms: float) -> float:
        """The longest time without an acknowledgement between two instants, in ms."""
        acks = sorted(line["ms"] for line in self.outcomes() if line.get("outcome") == "ok" and after_ms <= line["ms"] <= before_ms)
        marks = [after_ms, *acks, before_ms]
        return max(b - a for a, b in zip(marks, marks[1:]))


# ---------------------------------------------------------------------------------------------
# Catching up and the final check


def group_lag(cluster: Cluster, node: str, group: str = AGENT) -> dict | None:
    """partition of the group's input topic -> (committed, high watermark, lag) from `group describe`
    through `node`, or None."""
    rows = cli.group_describe(cluster, node, group, DEMO_GROUPS.get(group, INPUT_TOPIC))
    # Only the committed partitions with a known end (a `-` would read as a figure).
    return None if rows is None else {partition: row for partition, row in rows.items() if -1 not in row}


def wait_caught_up(cluster: Cluster, run: Run, partitions: int, bound: float = CATCH_UP_BOUND) -> float:
    """Waits until the group has committed every partition of the input topic up to its high watermark
    (lag 0), as a running node describes it; returns the seconds it took. (Only a wait: the check
    reads everything back and believes none of it.)"""
    started = time.monotonic()
    last = {}

    def caught_up():
        for node in live_nodes(cluster):
            table = group_lag(cluster, node)
            if table is None:
                continue
            last["table"] = table
            return (set(table) == set(range(partitions))
                    and all(lag == 0 and committed == high for committed, high, lag in table.values()))
        return False

    try:
        wait_for(f"group {AGENT} to reach lag 0 on every {INPUT_TOPIC} partition", caught_up, bound, interval=0.5,
                 detail=lambda: f"    last: {last.get('table')}")
    except HarnessError as error:
        view = group_view(cluster)
        decided = last_decided(cluster, run)
        raise ScenarioFailed(f"{error}\n    the group now: {view}\n    decisions read back per {INPUT_TOPIC} "
                             f"partition: {decided} (the count, and the highest input offset decided)") from None
    seconds = time.monotonic() - started
    run.say(f"group {AGENT} caught up (lag 0) after {seconds:.1f} s: "
            + ", ".join(f"p{p} {c}/{h}" for p, (c, h, _) in sorted(last["table"].items())))
    return seconds


def describe_lags(cluster: Cluster, run: Run):
    """Says which demo groups have not caught up (`group describe`), and who hosts the lagging shards."""
    node = live_nodes(cluster)[0]
    groups = demo_groups(cluster, node) or {}
    behind = []
    for group in sorted(DEMO_GROUPS):
        table = group_lag(cluster, node, group) or {}
        for partition, (committed, high, lag) in sorted(table.items()):
            if lag:
                host = groups.get(group, {}).get("assignments", {}).get(partition)
                behind.append(f"{group} {DEMO_GROUPS[group]}-{partition} committed {committed} of {high} (on {host})")
    run.say("groups behind (group describe via " + node + "): " + ("; ".join(behind) or "none"))


def last_decided(cluster: Cluster, run: Run) -> dict:
    """{partition: (decisions, highest input offset decided)} from the read-back: tells a shard that stopped
    handling (no decision past some offset) from one that only stopped committing."""
    try:
        transactions = agent_check.parse_transactions(read_topic(cluster, run, INPUT_TOPIC))
        decisions = agent_check.parse_decisions(read_topic(cluster, run, DECISIONS_TOPIC))
    except ScenarioFailed as failure:
        return {"unread": str(failure)[:200]}
    where = {t.event_id: t for t in transactions if t.event_id}
    found = {}
    for decision in decisions:
        stored = where.get(decision.input_event or "")
        if stored is not None:
            count, highest = found.get(stored.partition, (0, -1))
            found[stored.partition] = (count + 1, max(highest, stored.offset))
    return dict(sorted(found.items()))


def read_topic(cluster: Cluster, run: Run, topic: str) -> list[dict]:
    """`workload read` of every record of `topic` through the running nodes, retried when it fails."""
    path = workdir(cluster) / f"{topic}.read.jsonl"
    done = None
    for attempt in range(READ_ATTEMPTS):
        path.unlink(missing_ok=True)
        done = cluster.ganglion("workload", "read", "--node", cluster.api(*live_nodes(cluster)), "--topic", topic,
                                "--out", str(path), timeout=60)
        if done.ok:
            records = replication_check.load_jsonl(path)
            lines = [line for line in path.read_text(errors="replace").split("\n") if line.strip()]
            if len(records) != len(lines):
                raise ScenarioFailed(f"{path}: {len(lines) - len(records)} of {len(lines)} lines are not JSON")
            return records
        run.say(f"read-back of {topic}, attempt {attempt + 1} failed: {done.describe()}")
        time.sleep(1.0)
    raise ScenarioFailed(f"workload read --topic {topic} failed {READ_ATTEMPTS} times: {done.describe()}")


def verify(cluster: Cluster, run: Run, traffic: Traffic, strict: bool = False) -> agent_check.Verdict:
    """Reads `transactions` and the decisions back in full and checks every acknowledged transaction has
    exactly one decision; re-reads for a while when decisions are only missing. Fails the scenario on
    any anomaly, naming the transactions."""
    published = [line for line in traffic.outcomes() if "txn" in line]
    deadline = time.monotonic() + CONVERGE_WITHIN
    while True:
        transactions = agent_check.parse_transactions(read_topic(cluster, run, INPUT_TOPIC))
        decisions = agent_check.parse_decisions(read_topic(cluster, run, DECISIONS_TOPIC))
        verdict = agent_check.check(published, transactions, decisions, strict=strict)
        if verdict.valid or not verdict.may_converge or time.monotonic() >= deadline:
            break
        run.say(f"{len(verdict.lost)} acknowledged transactions without a decision so far; reading again")
        time.sleep(1.0)
    run.say(f"check: {verdict.summary()}")
    run.require(verdict.acknowledged > 0, "no transaction was acknowledged at all")
    run.require(verdict.valid, f"agent check: {verdict.summary()}\n    outcomes: {traffic.path}; read-backs: "
                               f"{workdir(cluster)}")
    return verdict


def verify_flows(cluster: Cluster, run: Run, traffic: Traffic, bound: float = FLOWS_CONVERGE_WITHIN,
                 strict: bool = False) -> demo_check.Verdict:
    """Reads the CI, saga and task flows' input and outcome topics back in full and checks every
    acknowledged input has each of its outcomes exactly once, in order (demo_check); re-reads for up to
    `bound` s while outcomes are only missing (a saga takes several hops). Fails the scenario on any anomaly."""
    published = [line for line in traffic.outcomes() if line.get("flow") in demo_check.FLOWS]
    deadline = time.monotonic() + bound
    while True:
        inputs, outcomes = {}, {}
        for input_topic, _, outcome_topic in demo_check.FLOWS.values():
            inputs[input_topic] = demo_check.parse(input_topic, read_topic(cluster, run, input_topic))
            outcomes[outcome_topic] = demo_check.parse(outcome_topic, read_topic(cluster, run, outcome_topic))
        verdict = demo_check.check(published, inputs, outcomes, strict=strict)
        if verdict.valid or not verdict.may_converge or time.monotonic() >= deadline:
            break
        run.say(f"{len(verdict.lost)} inputs of the other flows still missing outcomes, e.g. "
                f"{verdict.lost[:3]}; reading again")
        time.sleep(2.0)
    run.say(f"flows check: {verdict.summary()}")
    if not verdict.valid:
        describe_lags(cluster, run)
    run.require(all(counts["acknowledged"] > 0 for counts in verdict.flows.values()),
                f"a flow had no acknowledged input at all: {verdict.flows}")
    run.require(verdict.valid, f"flows check: {verdict.summary()}\n    outcomes: {traffic.path}; read-backs: "
                               f"{workdir(cluster)}")
    return verdict


def check_delays(cluster: Cluster, run: Run, prefix: str) -> dict:
    """How late the other flows' agents answered, from a running node's own copies of their topics (record
    timestamps: the producer's clock, all on this machine): each CI check (push -> its report on
    `ci.checks`), a saga (document received -> its first outcome) and a task (submitted -> its first
    verdict). Returns {what: [(seconds, entity, input at)]}, longest first. A measurement, not a check (a
    CI check later than the aggregator's 3 s join shows as `timed_out`): it says how late, and when — a
    stalled shard."""
    for node in live_nodes(cluster):
        root = Path(cluster.node(node).data_dir) / "topics"

        def first_by_key(topic: str, keep=lambda record: True) -> dict:
            found = {}
            for directory in root.glob(f"{topic}-*"):
                for record in replication_check.read_replica(directory):
                    if (record.key or "").startswith(prefix) and keep(record):
                        found[record.key] = min(found.get(record.key, record.timestamp), record.timestamp)
            return found

        pushes = first_by_key("ci.pushes")
        if not pushes:
            continue
        delays = defaultdict(list)
        for directory in root.glob("ci.checks-*"):
            for record in replication_check.read_replica(directory):
                check = re.search(r'"check":"(\w+)"', record.value or "")
                if check and record.key in pushes:
                    delays[f"ci {check.group(1)}"].append(((record.timestamp - pushes[record.key]) / 1000, record.key,
                                                           pushes[record.key]))
        for name, inputs, outcomes in (
                ("saga", first_by_key("docs.events", lambda r: "document.received" in (r.value or "")[:400]),
                 first_by_key("docs.outcomes")),
                ("task", first_by_key("tasks"), first_by_key("tasks.verified"))):
            delays[name] = [((outcomes[key] - at) / 1000, key, at) for key, at in inputs.items() if key in outcomes]
        first = min(pushes.values())
        result = {what: sorted(found, reverse=True) for what, found in sorted(delays.items()) if found}
        run.say(f"input -> outcome (from {node}'s copies): " + "; ".join(
            f"{what} max {found[0][0]:.1f} s ({found[0][1]}, in at +{(found[0][2] - first) / 1000:.1f} s), "
            f"{sum(1 for d in found if d[0] > 3)} over 3 s" for what, found in result.items()))
        return result
    return {}


# ---------------------------------------------------------------------------------------------
# What the nodes' logs say


LOG_LINE = re.compile(r"^\S+\s+(error|warning|critical)\s+(.*)$|^(Fatal error|fatal error|Crash|Segmentation fault)(.*)$")


def log_findings(cluster: Cluster, run: Run, limit: int = 12) -> dict:
    """Logs the distinct error and warning lines of every node's log (numbers masked), most frequent
    first; returns {(node, level, message): count}."""
    found = Counter()
    for node in cluster.nodes:
        try:
            text = Path(node.log).read_text(errors="replace")
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            match = LOG_LINE.match(line.strip())
            if match:
                level, message = (match.group(1), match.group(2)) if match.group(1) else ("crash", line.strip())
                message = re.sub(r"\b[0-9a-f]{8}-[0-9a-f-]{27}\b", "<uuid>", message)
                message = re.sub(r"\d+", "N", message)
                found[(node.id, level, message)] += 1
    if not found:
        run.say("node logs: no error or warning")
    else:
        run.say(f"node logs: {sum(found.values())} error/warning lines, {len(found)} distinct:")
        for (node, level, message), count in found.most_common(limit):
            run.say(f"  {count:4d}× {node} {level}: {message[:300]}")
    return dict(found)


# ---------------------------------------------------------------------------------------------
# What the groups' own log says: members that rejoined beside themselves


def rejoined_members(cluster: Cluster, run: Run) -> list[str]:
    """Reads the member records of every replica of `__consumer_offsets` (key 0x02 GROUP NUL MEMBER,
    JSON with `epoch`, `node` and `assigned`; none when the member left) and names each time a group
    had two members on one node at once, and for how long: a member the group's coordinator refused
    (fenced after the coordinator moved) drops its partitions and joins again under a new id, while its
    recorded old self keeps those partitions, unhandled, until its group session ends (~10 s). Logs
    them; returns the descriptions. A measurement, not a check."""
    records = {}
    try:
        for node in cluster.nodes:
            for directory in Path(node.data_dir, "topics").glob("__consumer_offsets-*"):
                partition = directory.name.rsplit("-", 1)[1]
                for record in replication_check.read_replica(directory):
                    if record.key and record.key.startswith("\x02") and "\x00" in record.key:
                        records[(partition, record.offset)] = record
    except Exception as error:  # e.g. a segment being written: only a measurement, never the verdict
        run.say(f"members that rejoined beside themselves: __consumer_offsets unreadable ({error})")
        return []
    live: dict = defaultdict(dict)  # group -> member -> (node, epoch, partitions, since ms)
    found = []
    for record in sorted(records.values(), key=lambda r: r.timestamp):
        group, member = record.key[1:].split("\x00", 1)
        members = live[group]
        if not record.value:
            gone = members.pop(member, None)
            twins = [m for m, (n, *_) in members.items() if gone and n == gone[0] and members[m][3] > gone[3]]
            if gone and twins:
                stamp = time.strftime("%H:%M:%S", time.gmtime(members[twins[0]][3] / 1000))
                found.append(f"{group} on {gone[0]}: member …{member[-8:]} (epoch {gone[1]}, holding "
                             f"{', '.join(gone[2]) or 'nothing'}) outlived its rejoined self …{twins[0][-8:]} (joined {stamp} "
                             f"UTC, epoch {members[twins[0]][1]} by then) by "
                             f"{(record.timestamp - members[twins[0]][3]) / 1000:.1f} s")
            continue
        try:
            state = json.loads(record.value)
        except ValueError:
            continue
        before = members.get(member)
        node = state.get("node") or (before[0] if before else None)
        partitions = [f"{topic}-{number}" for topic, number in state.get("assigned", [])]
        members[member] = (node, state.get("epoch"), partitions, before[3] if before else record.timestamp)
    if found:
        run.say(f"members that rejoined beside themselves (a refused heartbeat; their partitions waited for the old "
                f"member's session): {len(found)}")
        for line in found[:12]:
            run.say(f"  {line}")
    else:
        run.say("members that rejoined beside themselves: none")
    return found
