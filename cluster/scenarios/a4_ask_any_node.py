"""Ask through any node: every node hosts the demo agents and transactions flow; `ganglion ask
fraud-detection CUSTOMER` and HTTP `POST /v1/agents/fraud-detection/CUSTOMER`, each sent to a node
that does NOT host the customer's shard, get the owner's answer: the customer's profile after exactly
the transactions stored before the ask in the customer's partition (the ask is stored there too and
handled in order), recomputed here from the read-back with the agent's own rules — count, risk and
average amount. An answer below the transactions acknowledged before the ask was sent is `stale`, any
other difference `wrong-answer`; an ask unanswered or refused fails the scenario. The fraud check then
runs as in a1 (the asks must not count as transactions). 4 asks quick (2 CLI, 2 HTTP; fixed seed), 16
full, where the 8th is sent just after SIGTERM to the customer's shard host (asked through another node, it
is answered by the shard's next owner), which is then started again. SCENARIO_SEED=N replays a run."""

import json
import random
import signal
import time
from collections import defaultdict

import agent_check
import agents
import demo_check
from agents import GroupWatch, Traffic, live_nodes, make_transactions, now_ms
from harness import HTTP_PORT
from processes import signal_process

VOTERS, OBSERVERS = 3, 0
DEMO = True
NODE_ARGS = agents.NODE_ARGS
REQUIRES = ("publish", "workload read", "group describe", "ask")
DEADLINE = (120, 300)
QUICK_SEED = 20251208
ASKS = (4, 16)
ASK_DURING_STOP = (0, 8)  # which ask goes out just after SIGTERM to the shard's host (0: none)
REJOIN_BOUND = 30.0
TRANSACTIONS = (400, 1200)
CUSTOMERS = 12  # few, so an asked customer has several transactions before and after its ask
RATE = 12.0
BETWEEN_ASKS = (0.5, 1.0)  # seconds of traffic between asks
ASK_TIMEOUT = 12.0  # the command's deadline (the CLI gets --timeout a second under it; HTTP timeout_ms too)
FIRST_ACKS = 24
THRESHOLD = agents.THRESHOLD


def scenario(cluster, run):
    seed = agents.scenario_seed(run, QUICK_SEED)
    rng = random.Random(seed)
    run.say(f"seed {seed} (replay: SCENARIO_SEED={seed} cluster/run-scenarios.sh --only a4{' --quick' if run.quick else ''})")
    everyone = [node.id for node in cluster.nodes]
    watch = GroupWatch(cluster, run)
    seconds, view = watch.wait_ready(everyone)
    run.say(f"agents ready {seconds:.1f} s after the cluster: {view}")
    partitions = view.partitions

    traffic = Traffic(cluster, run, make_transactions(seed, run.count(*TRANSACTIONS), CUSTOMERS, run.history.prefix), RATE)
    asks = []
    try:
        traffic.wait_for_acks(FIRST_ACKS, traffic.started_ms, 20.0)
        for number in range(1, run.count(*ASKS) + 1):
            watch.follow(run.count(*BETWEEN_ASKS))
            traffic.require_running(f"ask {number}")
            view = watch.poll() or view
            stopping = number == run.count(*ASK_DURING_STOP)
            asks.append(ask_through_non_owner(cluster, run, rng, traffic, view, number, stop_owner=stopping))
            if stopping:
                restart(cluster, run, watch, asks[-1]["owner"], everyone)
    finally:
        traffic.stop()

    agents.wait_caught_up(cluster, run, partitions)
    try:
        check_answers(cluster, run, asks, traffic)
        agents.verify(cluster, run, traffic)
    finally:
        agents.log_findings(cluster, run)


def ask_through_non_owner(cluster, run, rng, traffic, view, number: int, stop_owner: bool = False) -> dict:
    """Asks about a customer with acknowledged transactions through a node not hosting its shard (CLI on
    odd asks, HTTP on even ones), just after SIGTERM to the shard's host when `stop_owner`; returns what
    was sent and answered."""
    acknowledged = [line for line in traffic.outcomes() if line.get("outcome") == "ok"]
    partition_of = {line["key"]: line["partition"] for line in acknowledged}
    customer = rng.choice(sorted(partition_of))
    partition = partition_of[customer]
    owner = view.assignments.get(partition)
    others = [node for node in live_nodes(cluster) if node != owner]
    via = rng.choice(others)
    ask_id = f"{run.history.prefix}ask-{number:03d}"
    how = "cli" if number % 2 else "http"
    headers = cluster.http_headers() if how == "http" else []  # a bearer token with security on, made once
    sent_ms = now_ms()
    acknowledged_before = sum(1 for line in acknowledged if line["key"] == customer)  # every one acknowledged by now
    data = json.dumps({"ask": ask_id})
    if stop_owner:
        node = cluster.node(owner)
        run.require(signal_process(node.pid, node.ticks, signal.SIGTERM), f"{owner} is not running")
        run.say(f"SIGTERM {owner}, host of {customer}'s shard (partition {partition}), then ask {number} through {via}")
    if how == "cli":
        done = cluster.ganglion("ask", "fraud-detection", customer, data, "--id", ask_id, "--node", cluster.api(via),
                                timeout=ASK_TIMEOUT)
        status, body = (0 if done.ok else done.returncode), done.stdout.strip()
        failure = None if done.ok else done.describe()
    else:
        url = (f"http://{cluster.addr(via)}:{HTTP_PORT}/v1/agents/fraud-detection/{customer}"
               f"?timeout_ms={int((ASK_TIMEOUT - 1) * 1000)}&id={ask_id}")
        done = cluster.run(["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", *headers, "--data", data,
                            "-w", "\n%{http_code}", "--max-time", str(ASK_TIMEOUT - 0.5), url], timeout=ASK_TIMEOUT)
        lines = done.stdout.rstrip("\n").rsplit("\n", 1)
        status = int(lines[-1]) if lines[-1].isdigit() else -1
        body = lines[0] if len(lines) == 2 else ""
        failure = None if done.ok and status == 200 else f"HTTP {status}: {done.stdout.strip()[-300:]} {done.stderr.strip()[-200:]}"
    seconds = (now_ms() - sent_ms) / 1000
    answer = demo_check.json_data(body, "transactions") if failure is None else None
    run.say(f"ask {number} ({how}) about {customer} (partition {partition}, shard on {owner}) through {via}: "
            f"{'answered ' + json.dumps(answer, sort_keys=True) if answer else 'FAILED: ' + str(failure or body)[:300]} "
            f"in {seconds:.2f} s; {acknowledged_before} of its transactions acknowledged before")
    run.require(answer is not None, f"ask {number} ({how}) about {customer} through non-owner {via} got no answer: "
                                    f"{failure or body!r}")
    return {"number": number, "id": ask_id, "how": how, "customer": customer, "partition": partition, "owner": owner,
            "via": via, "answer": answer, "acknowledged_before": acknowledged_before, "seconds": seconds}


def restart(cluster, run, watch, node: str, everyone: list):
    """Waits for the stopping `node` to exit, starts it and waits until it hosts a shard again."""
    started = time.monotonic()
    while cluster.process_state(node) != "dead":
        run.require(time.monotonic() - started < REJOIN_BOUND, f"{node} still running {REJOIN_BOUND:g} s after SIGTERM")
        time.sleep(0.05)
    run.say(f"{node} exited {time.monotonic() - started:.1f} s after the ask's answer")
    cluster.start(node)
    seconds, view = watch.wait(f"the restarted {node} to host a {agents.AGENT} shard again",
                               lambda v: v.fully_assigned and node in set(v.assignments.values())
                               and set(v.member_nodes) == set(everyone), REJOIN_BOUND)
    run.say(f"{node} restarted; hosts a shard again {seconds:.1f} s later: {view}")


def check_answers(cluster, run, asks: list, traffic):
    """Each answer against the profile recomputed from the customer's transactions stored before its ask."""
    reads = agents.read_topic(cluster, run, agents.INPUT_TOPIC)
    published = {line["txn"]: line for line in traffic.outcomes()}
    by_partition = defaultdict(list)  # partition -> [(offset, key, ("ask", id) | ("txn", amount))]
    for record in sorted(reads, key=lambda r: (int(r["partition"]), int(r["offset"]))):
        value = record.get("value") or ""
        asked = demo_check.json_data(value, "ask")
        transaction = demo_check.json_data(value, "txn")
        if asked:
            entry = ("ask", asked["ask"])
        elif transaction and transaction.get("txn") in published:
            entry = ("txn", float(transaction["amount"]))
        else:
            continue
        by_partition[int(record["partition"])].append((int(record["offset"]), record.get("key"), entry))

    problems, stored_asks = [], 0
    for ask in asks:
        history, found = [], None
        for offset, key, entry in by_partition.get(ask["partition"], []):
            if key != ask["customer"]:
                continue
            if entry == ("ask", ask["id"]):
                found = offset
                break
            if entry[0] == "txn":
                history.append(entry[1])
        if found is None:
            problems.append(f"ask {ask['number']} ({ask['id']}) not found in {agents.INPUT_TOPIC}-{ask['partition']}")
            continue
        stored_asks += 1
        expected = profile(ask["customer"], history)
        answer = ask["answer"]
        wrong = [field for field in ("customer", "transactions", "risk") if answer.get(field) != expected[field]]
        if abs(float(answer.get("average_amount", -1)) - expected["average_amount"]) > 0.01:
            wrong.append("average_amount")
        if answer.get("transactions", 0) < ask["acknowledged_before"]:
            problems.append(f"stale: ask {ask['number']} ({ask['how']} via {ask['via']}, owner {ask['owner']}) about "
                            f"{ask['customer']} answered {answer.get('transactions')} transactions, "
                            f"{ask['acknowledged_before']} were acknowledged before it was sent")
        elif wrong:
            problems.append(f"wrong-answer: ask {ask['number']} ({ask['how']} via {ask['via']}, owner {ask['owner']}) "
                            f"about {ask['customer']} at {agents.INPUT_TOPIC}-{ask['partition']}@{found}: answered "
                            f"{json.dumps(answer, sort_keys=True)}, the {len(history)} transactions before it give "
                            f"{json.dumps(expected, sort_keys=True)} (differs in {', '.join(wrong)})")
    times = ", ".join(f"{ask['seconds']:.2f}" for ask in asks)
    run.say(f"answers check: {len(asks)} asks through non-owners ({sum(a['how'] == 'cli' for a in asks)} CLI, "
            f"{sum(a['how'] == 'http' for a in asks)} HTTP), {stored_asks} found in the log, "
            f"{len(asks) - len(problems)} answered with the owner's state at the ask's place in the log; "
            f"answer times {times} s"
            + (": " + "; ".join(problems) if problems else ""))
    run.require(not problems, "answers check: " + "; ".join(problems))


def profile(customer: str, amounts: list) -> dict:
    """FraudDetectionAgent's answer after `amounts` (Sources/ganglion/Demo/FraudDetectionAgent.swift, no
    model): count, the last 20 amounts' average, and the risk opened by a suspicious amount (above 5× the
    threshold, or above 3× the average of at least 3 earlier ones) and closed after 5 quiet ones."""
    recent, risk, quiet = [], "none", 0
    for amount in amounts:
        average = sum(recent) / len(recent) if recent else amount
        suspicious = amount > THRESHOLD * 5 or (len(recent) >= 3 and amount > average * 3)
        recent = (recent + [amount])[-20:]
        if suspicious:
            risk, quiet = "open", 0
        elif risk == "open":
            quiet += 1
            if quiet >= 5:
                risk = "none"
    return {"customer": customer, "transactions": len(amounts), "risk": risk,
            "average_amount": sum(recent) / len(recent) if recent else 0.0}
