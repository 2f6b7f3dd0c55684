"""Rogue node and stranger: a secured 3-node cluster under acks=all writes; a 4th node process with a
cluster key of its own (its own `ganglion security init`) and the cluster's --voters never registers and
never holds a replica; a client with an unknown key gets no answer and no topic name; the admin's writes go
on, and every acknowledged record is read back (security on only: run with --secure)."""

import json
import os
import shutil
import time
from pathlib import Path

import replication
from harness import API_PORT, Node, wait_for
from netns import add_member_namespace
from processes import Background, HarnessError
from replication import Load, create_topic, now_ms, report_gaps, wait_full_isr
from scenario import ScenarioFailed

VOTERS, OBSERVERS = 3, 0
NODE_ARGS = replication.NODE_ARGS
SECURE_ONLY = True
REQUIRES = ("security init", "security keygen", "workload produce", "workload read", "topic describe")
PARTITIONS = 3
PRIVATE_TOPIC = "x1-private"  # a topic no stranger names: its name must reach none of them
ROGUE_ID = "node-4"  # the id the cluster's next node would have
ROGUE_HOST = 200  # 10.X.0.200, on the cluster's bridge like any node
ROGUE_START_BOUND = 30.0  # seconds for the rogue to write its endpoints.json
WATCH = (8.0, 20.0)  # seconds the rogue runs beside the cluster, looked at every second (quick, full)
STRANGER_DEADLINE = 8.0  # seconds a stranger's command may wait for an answer before it is killed
ACKS_AFTER_BOUND = 10.0  # seconds for every partition to be acknowledged again after the strangers


def scenario(cluster, run):
    run.require(cluster.secure, "x1 needs security on (run-scenarios.sh --secure)")
    create_topic(cluster, run, PARTITIONS)
    created = cluster.ganglion("topic", "create", PRIVATE_TOPIC, "--partitions", "1", "--node", cluster.api())
    run.require(created.ok, f"topic create {PRIVATE_TOPIC}: {created.describe()}")
    load = Load(cluster, run, seconds=run.count(30, 50))
    load.wait_for_every_partition(PARTITIONS)
    run.say("acknowledgements on every partition")
    topics = admin_topics(cluster, run)
    run.say(f"the admin lists {len(topics)} topics: {', '.join(sorted(topics))}")

    rogue = RogueNode(cluster, run, run.directory / "rogue")
    try:
        rogue.start()
        watch_rogue(cluster, run, rogue, run.count(*WATCH))
        before = now_ms()
        strangers(cluster, run, topics)
        after = now_ms()
        load.require_running("the strangers' end")
        last = max(load.wait_for_ack(partition, after, ACKS_AFTER_BOUND) for partition in range(PARTITIONS))
        run.say(f"the admin's writes go on: every partition acknowledged within {last - after:.0f} ms of the strangers' end")
        report_gaps(run, load.outcomes(), before, after, "while the strangers tried")
        require_no_traces(cluster, run, rogue, "after the strangers")
        run.require(rogue.running(), f"the rogue exited while shut out; its output:\n{rogue.output_tail()}")
    finally:
        rogue.stop()

    load.finish()
    wait_full_isr(cluster, run)
    replication.verify(cluster, run, load, PARTITIONS)
    require_no_traces(cluster, run, rogue, "at the end")


def admin_topics(cluster, run) -> set:
    """The topic names the admin lists (with the system's own, e.g. __consumer_offsets, if any)."""
    done = cluster.ganglion("topic", "list", "--node", cluster.api())
    run.require(done.ok, f"the admin's topic list: {done.describe()}")
    names = {line.split()[0] for line in done.stdout.splitlines() if line.strip() and not line.startswith("#")}
    run.require({replication.TOPIC, PRIVATE_TOPIC} <= names, f"the admin's topic list lacks ours: {sorted(names)}")
    return names


# ---------------------------------------------------------------------------------------------
# The rogue node


class RogueNode:
    """A `ganglion node` with the cluster's command line but a cluster key of its own, in a namespace of
    its own on the cluster's bridge (`P-rogue`, removed with the cluster's). Registered as one of the
    cluster's commands, so the harness kills it by PID even when the scenario dies first."""

    def __init__(self, cluster, run, directory: Path):
        self.cluster, self.run, self.directory = cluster, run, directory
        self.keys = directory / "keys"
        address = f"{cluster.state.subnet}.{ROGUE_HOST}"
        self.node = Node(id=ROGUE_ID, index=ROGUE_HOST, voter=False, address=address,
                         namespace=f"{cluster.state.prefix}-rogue", data_dir=str(directory / "data"),
                         log=str(directory / "rogue.log"))
        self.background = None
        self.done = None  # what it printed, once stopped

    @property
    def endpoint(self) -> str:
        return f"tcp://{self.node.address}:{API_PORT}"

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        made = self.cluster.ganglion("security", "init", str(self.keys))
        self.run.require(made.ok, f"the rogue's `security init`: {made.describe()}")
        ours = Path(self.cluster.state.security_dir) / "cluster.pub"
        self.run.require(public_key(self.keys / "cluster.pub") != public_key(ours),
                         "the rogue's cluster key is the cluster's own")
        add_member_namespace(self.node.namespace, self.cluster.hub_namespace, "rogue", self.node.address)
        argv = self.cluster.node_command(self.node)
        env = {key: value for key, value in os.environ.items() if not key.startswith("GANGLION_")}
        env["GANGLION_SECURITY_DIR"] = str(self.keys)
        self.background = Background(argv, self.node.namespace, env, self.cluster.state_dir / "commands")
        self.run.say(f"rogue {ROGUE_ID} (pid {self.background.process.pid}) at {self.node.address} with a cluster key "
                     f"of its own ({public_key(self.keys / 'cluster.pub')[:8]}…, the cluster's "
                     f"{public_key(ours)[:8]}…) and --voters {self.cluster.voters_flag()}")
        endpoints = Path(self.node.data_dir) / "endpoints.json"

        def ready():
            if not self.running():
                raise ScenarioFailed(f"the rogue exited while starting; its output:\n{self.output_tail()}")
            return endpoints.exists()

        try:
            wait_for(f"the rogue to write {endpoints}", ready, ROGUE_START_BOUND)
        except HarnessError as error:
            raise ScenarioFailed(f"{error}; its output:\n{self.output_tail()}") from None
        # Its own view, asked with its own keys: it runs and answers, alone.
        view = self.cluster.run([self.cluster.state.binary, "cluster", "status", "--json", "--node", self.endpoint,
                                 "--security-dir", str(self.keys)], timeout=STRANGER_DEADLINE)
        self.run.require(view.ok, f"the rogue does not answer its own admin: {view.describe()}")
        status = json.loads(view.stdout)
        self.run.say(f"the rogue answers its own admin: leader {status['controller']['leader']}, "
                     f"{len(status.get('nodes', []))} nodes, {len(status.get('topics', []))} topics")
        self.run.require(not status.get("topics"), "the rogue knows the cluster's topics: "
                         f"{', '.join(topic['name'] for topic in status['topics'])}")

    def running(self) -> bool:
        return self.background is not None and self.background.process.poll() is None

    def partition_dirs(self) -> list[str]:
        """The partition logs in the rogue's data dir (a replica would have one)."""
        topics = Path(self.node.data_dir) / "topics"
        return sorted(path.name for path in topics.iterdir()) if topics.is_dir() else []

    def stop(self):
        """Kills its process group (by PID, if still running) and keeps what it printed in rogue.log."""
        if self.background is None or self.done is not None:
            return
        self.done = self.background.wait(0)  # kills it when still running
        Path(self.node.log).write_text(self.done.stdout + self.done.stderr)
        self.run.say(f"rogue stopped ({'killed' if self.done.timed_out else f'it had exited {self.done.returncode}'}); "
                     f"its output: {self.node.log}")

    def output_tail(self, lines: int = 15) -> str:
        """The end of what it printed (it must have exited, or been stopped)."""
        if self.running():
            return "    (still running)"
        self.stop()
        text = (self.done.stdout + self.done.stderr) if self.done else ""
        return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "    (nothing)"


def public_key(path: Path) -> str:
    """The Z85 public key in a `ganglion security` .pub or .key file."""
    for line in path.read_text().splitlines():
        if line.startswith("public-key"):
            return line.split("=", 1)[1].strip()
    raise ScenarioFailed(f"no public-key line in {path}")


def traces(status: dict) -> list[str]:
    """Where the rogue's id appears in one node's `cluster status --json`."""
    found = [f"nodes[] ({entry.get('state')})" for entry in status.get("nodes", []) if entry.get("id") == ROGUE_ID]
    for topic in status.get("topics", []):
        for partition in topic.get("partitions", []):
            for role in ("leader", "replicas", "isr"):
                value = partition.get(role)
                if value == ROGUE_ID or (isinstance(value, list) and ROGUE_ID in value):
                    found.append(f"{topic['name']}-{partition['partition']} {role}")
    for group in status.get("groups", []):
        if any(member.get("node") == ROGUE_ID for member in group.get("members", [])):
            found.append(f"group {group['name']} member")
    return found


def statuses(cluster) -> dict:
    """node id -> its `cluster status --json` (None: no answer), every good node asked in parallel."""
    running = {node.id: cluster.spawn_ganglion("cluster", "status", "--json", "--node", cluster.api(node.id))
               for node in cluster.nodes}
    answers = {}
    for node, background in running.items():
        done = background.wait(12.0)
        try:
            answers[node] = json.loads(done.stdout) if done.ok else None
        except ValueError:
            answers[node] = None
    return answers


def require_no_traces(cluster, run, rogue: RogueNode, when: str) -> dict:
    answers = statuses(cluster)
    for node, status in answers.items():
        if status is not None:
            found = traces(status)
            run.require(not found, f"{when}: {node} shows the rogue {ROGUE_ID}: {', '.join(found)}")
    held = rogue.partition_dirs()
    run.require(not held, f"{when}: the rogue holds partition logs: {held}")
    return answers


def watch_rogue(cluster, run, rogue: RogueNode, seconds: float):
    """For `seconds`: every good node's status never shows the rogue (registered, replica, leader, ISR,
    group member), the rogue holds no partition log and keeps running."""
    started = time.monotonic()
    answered, looks = set(), 0
    while time.monotonic() - started < seconds:
        answers = require_no_traces(cluster, run, rogue, f"{time.monotonic() - started:.1f} s into the rogue's run")
        answered |= {node for node, status in answers.items() if status is not None}
        looks += 1
        run.require(rogue.running(), f"the rogue exited; its output:\n{rogue.output_tail()}")
        time.sleep(1.0)
    missing = {node.id for node in cluster.nodes} - answered
    run.require(not missing, f"{', '.join(sorted(missing))} never answered a status while the rogue ran")
    run.say(f"{seconds:g} s, {looks} looks at every node: the rogue never registered, never held a replica, "
            f"holds no partition log, still running")


# ---------------------------------------------------------------------------------------------
# Strangers: a client with an unknown key, and one speaking plain text


def strangers(cluster, run, topics: set):
    """A client with a key of its own (`security keygen`, the cluster's public key beside it) and a plain-text
    one: every command gets no answer; no topic name it did not type reaches its output; its refused
    handshake is in the asked node's log (ZAP: an unknown key)."""
    scratch = run.directory / "stranger"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    shutil.copy(Path(cluster.state.security_dir) / "cluster.pub", scratch / "cluster.pub")  # public: clients get it
    made = cluster.ganglion("security", "keygen", "stranger", "--dir", str(scratch))
    run.require(made.ok, f"`security keygen stranger`: {made.describe()}")
    key = public_key(scratch / "stranger.pub")
    binary = cluster.state.binary
    read_out = scratch / "read.jsonl"
    as_stranger = ["--security-dir", str(scratch), "--as", "stranger"]
    commands = {  # what the command names -> argv; a name it typed may be echoed, no other
        "topic list": ([], [binary, "topic", "list", "--node", cluster.api("node-1"), *as_stranger]),
        "cluster status": ([], [binary, "cluster", "status", "--json", "--node", cluster.api("node-2"), *as_stranger]),
        "topic describe": ([replication.TOPIC], [binary, "topic", "describe", replication.TOPIC, "--node",
                                                 cluster.api("node-3"), *as_stranger]),
        "publish": ([replication.TOPIC], [binary, "publish", replication.TOPIC, "--key", "stranger", "--type",
                                          "stranger.wrote", "--data", '{"from": "stranger"}', "--node", cluster.api(),
                                          *as_stranger]),
        "workload read": ([replication.TOPIC], [binary, "workload", "read", "--topic", replication.TOPIC, "--out",
                                                str(read_out), "--node", cluster.api(), *as_stranger]),
        "plain-text topic list": ([], ["env", "-u", "GANGLION_SECURITY_DIR", binary, "topic", "list", "--node",
                                       cluster.api("node-1")]),
    }
    running = {what: (named, cluster.spawn(argv)) for what, (named, argv) in commands.items()}
    for what, (named, background) in running.items():
        done = background.wait(STRANGER_DEADLINE)
        output = done.stdout + done.stderr
        leaked = sorted(name for name in topics if name not in named and name in output)
        outcome = "killed at its deadline" if done.timed_out else f"exit {done.returncode}: {output.strip()[-200:]}"
        run.say(f"stranger's {what}: {outcome}")
        run.require(not done.ok, f"the stranger's {what} succeeded: {output.strip()[-500:]}")
        run.require(done.timed_out or "timeout" in output.lower() or "timed out" in output.lower(),
                    f"the stranger's {what} got an answer (an error, not silence): {output.strip()[-500:]}")
        run.require(not leaked, f"the stranger's {what} saw topic names {leaked}: {output.strip()[-500:]}")
        run.require(not done.stdout.strip(), f"the stranger's {what} printed: {done.stdout.strip()[-500:]}")
    read = read_out.read_text() if read_out.exists() else ""
    run.require(not read.strip(), f"the stranger's workload read wrote records: {read[:300]}")
    # The refusal is audited where the stranger knocked (ZAP names the unknown key).
    audited = [node.id for node in cluster.nodes if key in Path(node.log).read_text(errors="replace")]
    run.require(audited, f"no node logged the refused unknown key {key[:8]}…")
    run.say(f"the stranger's key {key[:8]}… refused and logged by {', '.join(audited)}")
