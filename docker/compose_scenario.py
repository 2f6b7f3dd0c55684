#!/usr/bin/env python3
"""The compose scenario: docker/compose.yaml run by a real docker engine, with faults.

    python3 docker/compose_scenario.py [--binary PATH] [--scratch DIR] [--keep]

It starts a docker engine of its own (in a network namespace of its own, data under a scratch
directory, its own socket; stopped by its PID and removed at the end, also on failure), imports
the base image (docker/build-base.sh, cached), builds the node image (docker/build-image.sh) with --binary (default: the release
binary built here with --static-swift-stdlib; CI passes its debug build, whose Swift runtime the
image then bundles) and runs, one after the other:

 1. up with 1 worker, security on (the compose file's default: keys made at first start by the
    `keys` service): every node healthy; the cluster is secured: a plain-text client and a client
    with a key the cluster does not know get no answer, /metrics without a token is 401 and 200
    with admin's; the sample traffic's demo flows produce outcomes; transactions published by this
    test (and by the sample traffic) flow through fraud-detection;
 2. `up --scale worker=3`: the fraud-detection shards spread onto the new workers (`cluster status
    --json` groups[].assignments), timed from their containers' start;
 3. the controller leader's container stopped: the cluster elects a leader among the other two,
    takes a metadata write and keeps acknowledging transactions; then started again;
 4. `docker kill -s KILL` of a worker hosting shards: they move to the other workers; started again;
 5. docker/rolling-restart.sh (one node at a time, each healthy before the next; the controllers
    recreated from the image, the workers restarted) under `ganglion workload produce`: no produce
    fails, everything acknowledged is read back; nor does any of the sample traffic's publishes
    (retried, docker/sample-traffic.sh) up to then;
 6. `down` and `up` again: the node ids, the data and the group's committed offsets are still there;
 7. the check: every acknowledged transaction of this test and every stored one of the sample
    traffic has exactly one fraud decision (cluster/agent_check.py), and every sample push,
    document and task exactly one final outcome (a commit status; completed or failed; verified or
    escalated), over the whole run.

Prints each step's figures; exits non-zero naming what failed. Needs root, dockerd, docker-compose
(v1 is what Debian has), debootstrap and Python 3.9+.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "cluster"))

import agent_check  # noqa: E402
import agents  # noqa: E402
import replication_check  # noqa: E402
from processes import Completed  # noqa: E402
from scenario import Run, ScenarioFailed  # noqa: E402

HEALTHY_BOUND = 120.0  # seconds from `up` until every node is healthy
SCALE_GOAL = 30.0  # seconds from the new workers' start until they host shards
MOVE_BOUND = 30.0  # kill -> every shard on a survivor
ELECTION_BOUND = 30.0  # stop of the controller leader -> a new one and a metadata write through the others
RATE = 4.0  # this test's transactions per second
CONTROLLERS = ["controller-1", "controller-2", "controller-3"]
FLOWS_CONVERGE = 45.0  # seconds the final check re-reads while outcomes are merely missing
ROLLING_TOPIC = "compose-rolling"
ROLLING_LOAD_SECONDS = 110  # covers the rolling restart (55-90 s seen)
NO_ANSWER_WAIT = 6.0  # seconds a client the secured cluster must not answer is given


DNS_ADDRESS = "172.31.253.53"  # on the loopback of the test engine's own network namespace
NXDOMAIN_SERVER = """
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind((sys.argv[1], 53))
while True:
    query, peer = server.recvfrom(4096)
    if len(query) >= 12:  # the question back, flagged: response, RD copied, RA, NXDOMAIN
        flags = 0x8000 | (query[2] & 0x79) << 8 | 0x80 | 3
        server.sendto(query[:2] + flags.to_bytes(2, "big") + query[4:6] + bytes(6) + query[12:], peer)
"""


def log(message: str):
    print(f"== compose scenario: {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# The engine: a dockerd of this test's own


class Engine:
    """dockerd with its data, exec root and socket under `root`; stopped by its PID."""

    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.namespace = f"gdc{os.getpid()}"
        self.process: subprocess.Popen | None = None
        self.dns: subprocess.Popen | None = None

    def start(self):
        (self.root / "data").mkdir(parents=True)
        self.log_path = self.root / "dockerd.log"
        # In a network namespace of its own: its bridges, firewall rules and published ports stay
        # there (an engine of the machine, if any, is not touched) and go with the namespace.
        subprocess.run(["ip", "netns", "add", self.namespace], check=True)
        subprocess.run(["ip", "-n", self.namespace, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", self.namespace, "address", "add", f"{DNS_ADDRESS}/32", "dev", "lo"], check=True)
        # The machine's name servers are out of the namespace's reach: a name docker's DNS does not
        # know (a stopped container's) would take 20 s to fail, and a node resolving its stopped
        # peer stalls meanwhile. The engine's name server is an address of the namespace's own, where a
        # responder answers every question it is forwarded with NXDOMAIN at once, as a reachable server would.
        self.dns = subprocess.Popen(["nsenter", f"--net=/var/run/netns/{self.namespace}", sys.executable, "-c", NXDOMAIN_SERVER,
                                     DNS_ADDRESS], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=open(self.root / "dns.log", "w"), start_new_session=True)
        self.process = subprocess.Popen(
            ["nsenter", f"--net=/var/run/netns/{self.namespace}",  # not `ip netns exec`: it hides /sys/fs/cgroup
             "dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dockerd.pid"), "-H", self.host, "--dns", DNS_ADDRESS],
            stdin=subprocess.DEVNULL, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ScenarioFailed(f"dockerd exited with {self.process.returncode}: {self.log_tail()}")
            if subprocess.run(["docker", "info"], env=self.env(), capture_output=True).returncode == 0:
                return
            time.sleep(0.5)
        raise ScenarioFailed(f"dockerd did not answer within 60 s: {self.log_tail()}")

    def env(self, **extra) -> dict:
        return {**os.environ, "DOCKER_HOST": self.host, **extra}

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return "(no log)"

    def stop(self):
        """Removes every container, stops dockerd by its PID (SIGTERM, SIGKILL after 20 s), then kills by
        PID whatever of this engine outlived it (its containerd and shims, its containers' processes)
        and unmounts what it left under the scratch space. Never raises: it runs on every way out."""
        if self.dns is not None and self.dns.poll() is None:
            self.dns.kill()
            self.dns.wait(timeout=10)
        if self.process is None:
            subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)
            return
        containers = self.root / "data" / "containers"
        ids = [entry.name for entry in containers.iterdir()] if containers.is_dir() else []
        if self.process.poll() is None:
            try:
                running = subprocess.run(["docker", "ps", "-aq"], env=self.env(), capture_output=True, text=True, timeout=20).stdout.split()
                if running:
                    subprocess.run(["docker", "rm", "-f", *running], env=self.env(), capture_output=True, timeout=60)
            except (subprocess.TimeoutExpired, OSError) as error:
                log(f"removing the containers: {error}; stopping the engine anyway")
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log(f"dockerd (pid {self.process.pid}) did not stop within 20 s of SIGTERM: SIGKILL")
                self.process.kill()
                self.process.wait(timeout=10)
        leftovers = set()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if str(self.root).encode() in (proc / "cmdline").read_bytes():
                        leftovers.add(int(proc.name))
                except OSError:
                    pass
        for container in ids:
            for pattern in (f"/sys/fs/cgroup/*/docker/{container}/cgroup.procs", f"/sys/fs/cgroup/docker/{container}/cgroup.procs",
                            f"/sys/fs/cgroup/system.slice/docker-{container}.scope/cgroup.procs"):
                for procs in glob.glob(pattern):
                    try:
                        leftovers.update(int(pid) for pid in Path(procs).read_text().split())
                    except OSError:
                        pass
        leftovers.discard(os.getpid())
        for pid in sorted(leftovers):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if leftovers:
            log(f"killed what outlived the engine: pids {sorted(leftovers)}")
            time.sleep(1)
        # Anything left mounted under the scratch space (dockerd unmounts on a clean stop).
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
                  if line.split()[1].startswith(str(self.root))]
        for mount in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)


# ---------------------------------------------------------------------------------------------
# The cluster as cluster/agents.py sees it: nodes asked through a client container


class Node:
    def __init__(self, node_id: str, log: str = ""):
        self.id, self.log = node_id, log

    @property
    def api(self) -> str:
        return f"tcp://{self.id}:7400"


class State:
    def __init__(self, data_root: Path):
        self.data_root = str(data_root)


class ComposeCluster:
    """What cluster/agents.py uses of a cluster (nodes, api, process_state, ganglion, state), for
    the compose project: the nodes it asks are the controllers (stable names); CLI commands run in
    a client container on the project's network, with the scenario's work directory mounted at the
    same path."""

    def __init__(self, engine: Engine, project: str, scratch: Path, image: str, http_port: int):
        self.engine, self.project, self.image, self.http_port = engine, project, image, http_port
        self.state = State(scratch / "nodes")
        self.work = scratch / "workload"
        self.work.mkdir(parents=True, exist_ok=True)
        self.client = f"{project}-client"
        self.background: list = []  # Traffic and Popen objects, stopped at the end whatever happens
        self.nodes = [Node(name, str(scratch / "logs" / f"{name}.log")) for name in CONTROLLERS]
        self.compose_env = engine.env(COMPOSE_PROJECT_NAME=project, GANGLION_IMAGE=image, GANGLION_HTTP_PORT=str(http_port))  # the compose file's node session (6 s)

    # -- docker and compose

    def docker(self, *args, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["docker", *args], env=self.engine.env(), capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise ScenarioFailed(f"docker {' '.join(args)} failed: {(done.stderr or done.stdout).strip()[-500:]}")
        return done

    def compose(self, *args, timeout: float = 300) -> str:
        done = subprocess.run(["docker-compose", "-f", str(HERE / "compose.yaml"), *args], env=self.compose_env,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise ScenarioFailed(f"docker-compose {' '.join(args)} failed: {(done.stderr or done.stdout).strip()[-800:]}")
        return done.stdout

    def containers(self, service: str, all: bool = False) -> list[str]:
        """The names of the service's containers (running ones unless `all`), by their number."""
        args = ["ps", "--format", "{{.Names}}", "--filter", f"label=com.docker.compose.project={self.project}",
                "--filter", f"label=com.docker.compose.service={service}"] + (["-a"] if all else [])
        names = self.docker(*args).stdout.split()
        return sorted(names, key=lambda name: int(re.findall(r"\d+", name)[-1]))

    def container(self, service: str) -> str:
        found = self.containers(service, all=True)
        if not found:
            raise ScenarioFailed(f"no container of {service}")
        return found[0]

    def health(self, container: str) -> str:
        done = self.docker("inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                           container, check=False)
        return done.stdout.strip() if done.returncode == 0 else "gone"

    def wait_healthy(self, containers: list[str], bound: float, what: str) -> float:
        started = time.monotonic()
        while True:
            states = {name: self.health(name) for name in containers}
            if all(state == "running healthy" for state in states.values()):
                return time.monotonic() - started
            if time.monotonic() - started > bound:
                details = "; ".join(f"{n}: {s}" for n, s in states.items())
                last = {n: self.docker("inspect", "--format", "{{json .State.Health}}", n, check=False).stdout.strip()[-400:]
                        for n, s in states.items() if s != "running healthy"}
                raise ScenarioFailed(f"{what}: not healthy within {bound:g} s: {details}; last checks: {last}")
            time.sleep(0.5)

    def node_containers(self) -> list[str]:
        return [self.container(name) for name in CONTROLLERS] + self.containers("worker")

    def start_client(self):
        """The client container: on the project's network, with the cluster's keys (the `keys` volume,
        read-only) and GANGLION_SECURITY_DIR, so its CLI acts as admin, as `docker-compose exec` does."""
        self.docker("rm", "-f", self.client, check=False)
        self.docker("run", "-d", "--name", self.client, "--network", f"{self.project}_ganglion", "--user", "0", "--no-healthcheck",
                    "-v", f"{self.work}:{self.work}", "-v", f"{self.project}_keys:/security:ro", "-e", "GANGLION_SECURITY_DIR=/security",
                    "--entrypoint", "sleep", self.image, "infinity")

    # -- what cluster/agents.py calls

    def api(self, *names: str) -> str:
        return ",".join(f"tcp://{name}:7400" for name in names)

    def process_state(self, name: str) -> str:
        return "alive" if self.health(self.container(name)).startswith("running") else "dead"

    def ganglion(self, *args: str, node: str | None = None, timeout: float = 30, env: tuple[str, ...] = ()) -> Completed:
        """`ganglion ARGS` in the client container (`env`: NAME=VALUE settings of its own)."""
        argv = ["ganglion", *args]
        started = time.monotonic()
        try:
            done = subprocess.run(["docker", "exec", self.client, "env", *env, "timeout", "-s", "KILL", f"{timeout:g}", *argv],
                                  env=self.engine.env(), capture_output=True, text=True, timeout=timeout + 15)
            code = None if done.returncode == 137 else done.returncode
            return Completed(argv, code, done.stdout, done.stderr, time.monotonic() - started)
        except subprocess.TimeoutExpired as error:
            return Completed(argv, None, str(error.stdout or ""), str(error.stderr or ""), time.monotonic() - started)

    # -- the nodes

    def status(self) -> dict:
        """`cluster status --json` through the first controller that answers."""
        for node in agents.live_nodes(self):
            done = self.ganglion("cluster", "status", "--json", "--node", self.api(node), timeout=15)
            if done.ok:
                return json.loads(done.stdout)
        raise ScenarioFailed("no controller answered cluster status")

    def worker_ids(self) -> dict:
        """worker container -> the id of the node it runs (the node advertises its container's IP)."""
        addresses = {}
        for name in self.containers("worker"):
            address = self.docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()
            addresses[address] = name
        found = {}
        for entry in self.status().get("nodes", []):
            host = re.sub(r"^tcp://|:\d+$", "", entry.get("api", ""))
            if host in addresses and entry.get("state") == "alive":
                found[addresses[host]] = entry["id"]
        return found

    def save_logs(self):
        (Path(self.state.data_root).parent / "logs").mkdir(parents=True, exist_ok=True)
        for name in self.docker("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split():
            service = re.sub(rf"^{self.project}[_-]|[_-]\d+$", "", name)
            path = Path(self.state.data_root).parent / "logs" / f"{name}.log"
            done = subprocess.run(["docker", "logs", name], env=self.engine.env(), capture_output=True, text=True, timeout=60)
            path.write_text(done.stdout + done.stderr)
            if service in CONTROLLERS:
                self.node(service).log = str(path)

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.id == name)


# ---------------------------------------------------------------------------------------------
# Reading the demo flows back


def data_object(value: str, first_key: str) -> dict | None:
    """The JSON object in an envelope printed as text whose first key is `first_key` (nested objects too)."""
    decoder = json.JSONDecoder()
    start = value.find('{"' + first_key + '"')
    while start >= 0:
        try:
            found, _ = decoder.raw_decode(value, start)
            return found
        except ValueError:
            start = value.find('{"' + first_key + '"', start + 1)
    return None


def read(cluster: ComposeCluster, run: Run, topic: str) -> list[dict]:
    return agents.read_topic(cluster, run, topic)


def check_flows(cluster: ComposeCluster, run: Run, prefixes: set[str]) -> dict:
    """Every sample push, document and task (keys with one of `prefixes`) has exactly one final outcome,
    counted by distinct event id (an outbox resend keeps its id). Returns the problems by flow."""
    def ids_by(records, first_key, field, types=None):
        found = defaultdict(set)
        for record in records:
            value = record.get("value") or ""
            if types and not any(t in value for t in types):
                continue
            data = data_object(value, first_key) or {}
            if field in data:
                found[data[field]].add(agent_check.envelope_id(value) or f"{record['partition']}@{record['offset']}")
        return found

    def ours(name):
        return any(str(name).startswith(prefix) for prefix in prefixes)

    pushes = {d.get("sha") for d in (data_object(r.get("value") or "", "message") for r in read(cluster, run, "ci.pushes")) if d}
    statuses = ids_by(read(cluster, run, "ci.statuses"), "checks", "sha")
    documents = {r.get("key") for r in read(cluster, run, "docs.events") if "document.received" in (r.get("value") or "")}
    outcomes = ids_by(read(cluster, run, "docs.outcomes"), "detail", "document", ("document.completed", "document.failed"))
    tasks = {d.get("task") for d in (data_object(r.get("value") or "", "kind") for r in read(cluster, run, "tasks")) if d}
    verdicts = ids_by(read(cluster, run, "tasks.verified"), "attempts", "task", ("task.verified", "task.escalated"))

    problems, counts = {}, {}
    # Pushes carry no prefix: every push stored is the sample traffic's.
    for flow, inputs, found in (("CI push -> status", {p for p in pushes if p}, statuses),
                                ("document -> completed/failed", {d for d in documents if d and ours(d)}, outcomes),
                                ("task -> verified/escalated", {t for t in tasks if t and ours(t)}, verdicts)):
        missing = sorted(name for name in inputs if not found.get(name))
        twice = sorted((name, len(found[name])) for name in inputs if len(found.get(name, ())) > 1)
        unknown = sorted(name for name in found if name not in inputs and (flow.startswith("CI") or ours(name)))
        counts[flow] = len(inputs)
        if missing or twice or unknown:
            problems[flow] = {"inputs": len(inputs), "missing": missing[:8], "missing_count": len(missing),
                              "more_than_once": twice[:8], "without_input": unknown[:8]}
    return {"problems": problems, "counts": counts}


def sample_outcomes(transactions: list[agent_check.StoredTransaction], prefixes: set[str]) -> list[dict]:
    """The sample traffic's stored transactions as acknowledged outcomes: stored, so each must be decided once."""
    found = {}
    for stored in transactions:
        if stored.txn and any(stored.txn.startswith(prefix) for prefix in prefixes):
            found.setdefault(stored.txn, {"txn": stored.txn, "key": stored.key, "outcome": "ok", "ms": 0,
                                          "partition": stored.partition, "offset": stored.offset})
    return list(found.values())


def sample_traffic_failures(cluster: ComposeCluster) -> tuple[list[str], str]:
    """The `traffic` service's publishes that failed after their retries (docker/sample-traffic.sh prints
    each), and its latest count line ("N published, R retried, F failed"), from its container's log."""
    log = cluster.compose("logs", "--no-color", "traffic", timeout=60)
    failures = re.findall(r"traffic: publish to .*? failed after .*", log)
    counts = re.findall(r"traffic: \d+ published, \d+ retried, \d+ failed", log)
    return failures, counts[-1] if counts else "no count line yet"


def sample_prefixes(transactions: list[agent_check.StoredTransaction]) -> set[str]:
    return {re.sub(r"-tx-\d+$", "-", t.txn) for t in transactions if t.txn and t.txn.startswith("sample-")}


# ---------------------------------------------------------------------------------------------
# The scenario


def http_get(engine: Engine, port: int, path: str, token: str | None = None) -> tuple[int, str]:
    """GET on the engine's loopback (its namespace), where compose publishes controller-1's HTTP port;
    with `token`, as `Authorization: Bearer TOKEN` (read by the child from its stdin, never its argv)."""
    code = ("import sys, urllib.request, urllib.error\n"
            "token = sys.stdin.read().strip()\n"
            f"request = urllib.request.Request('http://127.0.0.1:{port}{path}', headers={{'Authorization': 'Bearer ' + token}} if token else {{}})\n"
            "try:\n"
            "    r = urllib.request.urlopen(request, timeout=10); print(r.status); print(r.read().decode())\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code); print(e.read().decode())\n")
    done = subprocess.run(["nsenter", f"--net=/var/run/netns/{engine.namespace}", sys.executable, "-c", code], input=token or "",
                          capture_output=True, text=True, timeout=30)
    status, _, body = done.stdout.partition("\n")
    return (int(status) if status.strip().isdigit() else 0), body or done.stderr


def hosts_of(view: agents.GroupView) -> set:
    return set(view.assignments.values())


def check_secured(cluster: ComposeCluster, run: Run):
    """The compose cluster runs with security on: the client with the `keys` volume (admin) is answered;
    a plain-text client (GANGLION_SECURITY=off, docker/ganglion.sh) and one with a key pair the cluster
    does not know get no answer, not even a topic's name, within NO_ANSWER_WAIT; controller-1's published
    /metrics answers 401 without a token and 200 with a token of admin, made as docker/README.md says."""
    def topic_names():
        done = cluster.ganglion("topic", "list", "--node", cluster.api(*CONTROLLERS), timeout=15)
        names = [line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip()] if done.ok else []
        return names or None
    names = agents.wait_for("topics listed by admin (the client with the keys)", topic_names, 30, interval=1)
    modes = cluster.docker("exec", cluster.container("controller-1"), "stat", "-c", "%n %a %U", "/security/cluster.key",
                           "/security/admin.key").stdout.split("\n")
    run.require(all(line.endswith(" 600 ganglion") for line in modes if line), f"the secret keys in the keys volume: {modes}")
    done = cluster.ganglion("security", "keygen", "stranger", "--dir", "/tmp/stranger", timeout=15)
    run.require(done.ok, f"security keygen: {done.describe()}")
    cluster.docker("exec", cluster.client, "cp", "/security/cluster.pub", "/tmp/stranger/")
    for label, env, extra in (("a plain-text client", ("GANGLION_SECURITY=off",), ()),
                              ("a client with a key the cluster does not know", (), ("--security-dir", "/tmp/stranger", "--as", "stranger"))):
        done = cluster.ganglion("topic", "list", "--node", cluster.api("controller-1"), *extra, timeout=NO_ANSWER_WAIT, env=env)
        leaked = [name for name in names if name in done.stdout + done.stderr]
        run.require(not done.ok and not leaked, f"{label} was answered by the secured cluster"
                    f"{' (topic names leaked: ' + ', '.join(leaked) + ')' if leaked else ''}: {done.describe()[-300:]}")
        run.say(f"{label}: no answer from controller-1, not a topic name (admin sees {len(names)}): "
                f"{done.describe().split('` ', 1)[-1][:200]}")
    code, body = http_get(cluster.engine, cluster.http_port, "/metrics")
    run.require(code == 401, f"controller-1's published /metrics without a token answered {code}, not 401: {body[:200]}")
    # docker/README.md's two commands: admin made a principal of the metadata (once), then a token for it.
    done = cluster.ganglion("security", "principal", "add", "admin", "--public-key-file", "/security/admin.pub",
                            "--node", cluster.api(*CONTROLLERS), timeout=20)
    run.require(done.ok, f"security principal add admin: {done.describe()}")
    done = cluster.ganglion("security", "token", "create", "--principal", "admin", "--json", "--node", cluster.api(*CONTROLLERS), timeout=20)
    run.require(done.ok, f"security token create: {done.describe()}")
    token = json.loads(done.stdout)["secret"]
    code, metrics = http_get(cluster.engine, cluster.http_port, "/metrics", token=token)
    run.require(code == 200 and "ganglion_" in metrics, f"controller-1's published /metrics with admin's token answered {code} without ganglion_ metrics")
    run.say("secured: /metrics answers 401 without a token and 200 with admin's; /health is open")


def scenario(cluster: ComposeCluster, run: Run, figures: dict):
    watch = agents.GroupWatch(cluster, run)
    traffics = []

    # 1. Up with one worker.
    started = time.monotonic()
    cluster.compose("up", "-d", "--scale", "worker=1")
    cluster.start_client()
    seconds = cluster.wait_healthy(cluster.node_containers(), HEALTHY_BOUND, "3 controllers + 1 worker")
    figures["up -> 3 + 1 healthy"] = time.monotonic() - started
    run.say(f"3 controllers + 1 worker healthy {time.monotonic() - started:.1f} s after `up`")
    code, body = http_get(cluster.engine, cluster.http_port, "/health")
    run.require(code == 200, f"controller-1's published /health answered {code}: {body}")
    check_secured(cluster, run)
    first_worker = cluster.worker_ids()
    run.require(len(first_worker) == 1, f"the worker is not alive in cluster status: {first_worker}")
    seconds, view = watch.wait("the fraud-detection shards on the worker",
                               lambda v: v.fully_assigned and hosts_of(v) == set(first_worker.values()), 60)
    run.say(f"agents ready: {view}")
    partitions = view.partitions

    transactions = agents.make_transactions(20251205, 4000, 40, "dc-")
    traffic = agents.Traffic(cluster, run, transactions[:1500], RATE, workers=8, label="phase1")
    traffics.append(traffic)
    cluster.background.append(traffic)
    traffic.wait_for_acks(10, traffic.started_ms, 30)

    def wait_outcomes():
        counts = {}
        for topic in ("fraud-detection.decisions", "ci.statuses", "docs.outcomes", "tasks.verified"):
            counts[topic] = len(read(cluster, run, topic))
        return counts if all(counts.values()) else None
    found = agents.wait_for("every demo flow to have an outcome", wait_outcomes, 60, interval=2)
    run.say(f"the demo flows produce outcomes: {found}")

    # 2. Scale the workers to 3.
    before = set(cluster.containers("worker"))
    cluster.compose("up", "-d", "--scale", "worker=3")
    new = [name for name in cluster.containers("worker") if name not in before]
    run.require(len(new) == 2, f"--scale worker=3 started {new}")
    started_at = iso_seconds(max(cluster.docker("inspect", "--format", "{{.State.StartedAt}}", name).stdout.strip() for name in new))
    workers = agents.wait_for("3 workers alive in cluster status", lambda: (lambda w: w if len(w) == 3 else None)(cluster.worker_ids()),
                              SCALE_GOAL + 30, interval=0.5)
    seconds, view = watch.wait("the fraud-detection shards spread over the 3 workers",
                               lambda v: v.fully_assigned and hosts_of(v) == set(workers.values()), SCALE_GOAL + 30)
    to_shards = time.time() - started_at
    figures["new workers' start -> hosting shards"] = to_shards
    run.say(f"scaled to 3 workers: shards on every worker {to_shards:.1f} s after their containers started: {view}")
    run.require(to_shards <= SCALE_GOAL, f"new workers hosted shards {to_shards:.1f} s after their start (goal {SCALE_GOAL:g} s)")
    cluster.wait_healthy(cluster.node_containers(), 60, "3 workers")

    # 3. Stop the controller leader's container.
    leader = cluster.status()["controller"]["leader"]
    run.require(leader in CONTROLLERS, f"controller leader {leader}")
    stopped_ms = agents.now_ms()
    cluster.compose("stop", leader)
    run.say(f"stopped {leader} (the controller leader); {traffic.describe()}")
    others = [name for name in CONTROLLERS if name != leader]

    def new_leader():
        for node in others:
            done = cluster.ganglion("cluster", "status", "--json", "--node", cluster.api(node), timeout=10)
            if done.ok:
                elected = json.loads(done.stdout)["controller"]["leader"]
                if elected in others:
                    return elected
        return None
    elected = agents.wait_for("a new controller leader", new_leader, ELECTION_BOUND, interval=0.5)
    attempts = []

    def metadata_write():  # as a client would: again while the answer is "no leader yet" or "leader changed"
        done = cluster.ganglion("topic", "create", "compose-scenario", "--partitions", "1", "--node", cluster.api(*others), timeout=15)
        attempts.append(done)
        return done.ok or (len(attempts) > 1 and "exist" in done.stderr)
    try:
        agents.wait_for(f"a metadata write with {leader} stopped", metadata_write, ELECTION_BOUND, interval=1)
    except agents.HarnessError:
        raise ScenarioFailed(f"no metadata write succeeded within {ELECTION_BOUND:g} s of stopping {leader}: "
                             + "; ".join(a.describe()[-200:] for a in attempts[-3:])) from None
    traffic.wait_for_acks(20, stopped_ms, 30)
    run.say(f"{elected} leads; a topic was created and 20 transactions acknowledged since the stop "
            f"(longest gap {traffic.gaps(stopped_ms, agents.now_ms()) / 1000:.1f} s)")
    cluster.compose("start", leader)
    cluster.wait_healthy(cluster.node_containers(), 60, f"{leader} back")

    # 4. kill -s KILL a worker hosting shards. (The view comes from the node just restarted: it
    # may not list the group for a moment, so wait for a whole one.)
    _, view = watch.wait("the group fully assigned after the controller's restart",
                         lambda v: v.fully_assigned and bool(hosts_of(v)), 30)
    by_node = {node: name for name, node in workers.items()}
    victim_node = sorted(node for node in hosts_of(view) if node in by_node)[0]
    victim = by_node[victim_node]
    killed_ms = agents.now_ms()
    cluster.docker("kill", "-s", "KILL", victim)
    run.say(f"kill -s KILL {victim} ({victim_node}, shards {view.hosts().get(victim_node)})")
    survivors = set(workers.values()) - {victim_node}
    seconds, view = watch.wait(f"the shards of {victim_node} to move to {sorted(survivors)}",
                               lambda v: v.fully_assigned and hosts_of(v) <= survivors and victim_node not in v.member_nodes,
                               MOVE_BOUND)
    figures["worker killed -> its shards moved"] = seconds
    run.say(f"{victim_node}'s shards moved {seconds:.1f} s after the kill: {view}; "
            f"longest gap in acknowledgements {traffic.gaps(killed_ms, agents.now_ms()) / 1000:.1f} s")
    cluster.docker("start", victim)
    cluster.wait_healthy(cluster.node_containers(), 60, f"{victim} back")
    run.require(cluster.worker_ids().get(victim) == victim_node,
                f"{victim} came back as {cluster.worker_ids().get(victim)}, not {victim_node}: its identity is its volume's slot")
    seconds, view = watch.wait("every worker hosting shards again",
                               lambda v: v.fully_assigned and hosts_of(v) == set(workers.values()), 60)

    # 5. Rolling restart, one node at a time, each healthy before the next (docker/README.md), under
    #    a long-lived idempotent producer (`workload produce`, acks=all): not one produce may fail.
    done = cluster.ganglion("topic", "create", ROLLING_TOPIC, "--partitions", "3", "--replication-factor", "3",
                            "--min-insync", "2", "--node", cluster.api(*CONTROLLERS), timeout=20)
    run.require(done.ok, f"topic create {ROLLING_TOPIC}: {done.describe()}")
    load_path = cluster.work / "rolling.outcomes.jsonl"
    load = subprocess.Popen(["docker", "exec", cluster.client, "timeout", "-s", "KILL", str(ROLLING_LOAD_SECONDS + 60),
                             "ganglion", "workload", "produce", "--node", cluster.api(*CONTROLLERS), "--topic", ROLLING_TOPIC,
                             "--keys", "6", "--rate", "30", "--seconds", str(ROLLING_LOAD_SECONDS), "--out", str(load_path)],
                            env=cluster.engine.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cluster.background.append(load)
    agents.wait_for("the rolling-restart load's first acknowledgements",
                    lambda: load_path.exists() and '"ack"' in load_path.read_text(), 30, interval=0.5)
    rolling_ms = agents.now_ms()
    rolling = subprocess.run([str(HERE / "rolling-restart.sh")], env=cluster.compose_env, capture_output=True, text=True, timeout=900)
    rolled_ms = agents.now_ms()
    for line in rolling.stdout.splitlines():
        run.say(line)
    run.require(rolling.returncode == 0, f"docker/rolling-restart.sh exited {rolling.returncode}: {rolling.stderr.strip()[-400:]}")
    run.require(load.poll() is None, f"the load ended before the rolling restart did (--seconds {ROLLING_LOAD_SECONDS})")
    figures["rolling restart (6 nodes)"] = (rolled_ms - rolling_ms) / 1000
    output, _ = load.communicate(timeout=ROLLING_LOAD_SECONDS + 90)
    outcomes = replication_check.load_jsonl(load_path)
    fails = [line for line in outcomes if line.get("type") != "ack"]
    gaps = replication_check.longest_gaps(outcomes, rolling_ms, rolled_ms)
    run.say(f"rolling restart took {(rolled_ms - rolling_ms) / 1000:.1f} s; the load: {output.strip()}; longest ack gaps "
            + ", ".join(f"p{p} {gap:.0f} ms" for p, (gap, _) in sorted(gaps.items())))
    run.require(load.returncode == 0, f"workload produce exited {load.returncode}: {output.strip()[-300:]}")
    run.require(not fails, f"{len(fails)} produce requests failed during the rolling restart, e.g. {fails[:3]}")
    verdict = replication_check.check(outcomes, agents.read_topic(cluster, run, ROLLING_TOPIC))
    run.say(f"rolling-restart load check: {verdict.summary()}")
    run.require(verdict.valid and verdict.acknowledged > 0, f"rolling-restart load: {verdict.summary()}")
    per_event = [line for line in traffic.outcomes() if rolling_ms <= line["ms"] <= rolled_ms]
    refused = [line for line in per_event if line.get("outcome") != "ok"]
    figures["one-shot publishes failed in the rolling restart"] = len(refused)
    examples = [re.sub(r".*?(error: )", "error: ", line.get("detail", ""), count=1)[:140] for line in refused[:3]]
    run.say(f"meanwhile {len(per_event)} one-shot `ganglion publish` calls (a new producer each), {len(refused)} failed"
            + (f", e.g. {examples}" if refused else ""))
    # The sample traffic retries what failed before it was stored: none of its publishes may fail.
    sample_failed, sample_counts = sample_traffic_failures(cluster)
    figures["sample traffic publishes failed after retries (up to the rolling restart's end)"] = len(sample_failed)
    run.say(f"the sample traffic so far: {sample_counts}" + (f", e.g. {sample_failed[:3]}" if sample_failed else ""))
    run.require(not sample_failed, f"{len(sample_failed)} sample traffic publishes failed after their retries, e.g. {sample_failed[:3]}")
    traffic.stop()

    # 6. down and up again: identities, data and offsets still there.
    cluster.compose("stop", "traffic")
    agents.wait_caught_up(cluster, run, partitions, bound=60)
    committed = agents.group_lag(cluster, agents.live_nodes(cluster)[0])
    ids_before = set(cluster.worker_ids().values())
    stored_before = len(read(cluster, run, agents.INPUT_TOPIC))
    cluster.docker("rm", "-f", cluster.client)
    cluster.compose("down")
    run.say(f"down; committed offsets then: {committed}")
    started = time.monotonic()
    cluster.compose("up", "-d", "--scale", "worker=3")
    cluster.start_client()
    cluster.wait_healthy(cluster.node_containers(), HEALTHY_BOUND, "after down/up")
    figures["down/up -> healthy"] = time.monotonic() - started
    ids_after = set(cluster.worker_ids().values())
    run.require(ids_after == ids_before, f"the workers came back as {sorted(ids_after)}, not {sorted(ids_before)}")
    nodes = {entry["id"] for entry in cluster.status()["nodes"]}
    run.require(nodes == set(CONTROLLERS) | ids_before, f"nodes after down/up: {sorted(nodes)} (new ids registered?)")
    # Right after a restart a partition's high watermark (and so the committed offset shown, which
    # never exceeds it) can lag until its followers fetch again: wait for both to be back.
    seen = {}

    def restored():
        table = agents.group_lag(cluster, agents.live_nodes(cluster)[0])
        seen["last"] = table
        return table if table and all(p in table and table[p][1] >= committed[p][1] and table[p][0] >= committed[p][0]
                                      for p in committed) else None
    try:
        after = agents.wait_for("the group's committed offsets and high watermarks back after down/up", restored, 45, interval=1)
    except agents.HarnessError:
        raise ScenarioFailed(f"committed offsets or high watermarks not back 45 s after down/up: (committed, high, lag) before "
                             f"{committed}, after {seen.get('last')}") from None
    stored_after = len(read(cluster, run, agents.INPUT_TOPIC))
    run.require(stored_after >= stored_before, f"{agents.INPUT_TOPIC} had {stored_before} records before down, {stored_after} after")
    run.say(f"up again in {figures['down/up -> healthy']:.1f} s: the same workers {sorted(ids_after)}, "
            f"{stored_after} transactions stored (>= {stored_before}), offsets {after}")
    traffic = agents.Traffic(cluster, run, transactions[1500:1700], RATE, workers=8, label="phase2")
    traffics.append(traffic)
    cluster.background.append(traffic)
    traffic.wait_for_acks(20, traffic.started_ms, 60)
    traffic.stop()

    # 7. Every outcome exactly once over the whole run.
    cluster.compose("stop", "traffic")
    agents.wait_caught_up(cluster, run, partitions, bound=60)
    published = [line for t in traffics for line in t.outcomes()]
    deadline = time.monotonic() + agents.CONVERGE_WITHIN
    while True:
        stored = agent_check.parse_transactions(read(cluster, run, agents.INPUT_TOPIC))
        decisions = agent_check.parse_decisions(read(cluster, run, agents.DECISIONS_TOPIC))
        prefixes = sample_prefixes(stored)
        verdict = agent_check.check(published + sample_outcomes(stored, prefixes), stored, decisions)
        if verdict.valid or not verdict.may_converge or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    run.say(f"fraud check (this test's and the sample traffic's transactions, runs {sorted(prefixes)}): {verdict.summary()}")
    run.require(verdict.valid and verdict.acknowledged > 100, f"fraud check: {verdict.summary()}")
    deadline = time.monotonic() + FLOWS_CONVERGE
    while True:
        flows = check_flows(cluster, run, prefixes)
        if not flows["problems"] or time.monotonic() >= deadline or any(
                p["more_than_once"] or p["without_input"] for p in flows["problems"].values()):
            break
        time.sleep(2.0)
    run.say(f"demo flows: {flows['counts']}; problems: {flows['problems'] or 'none'}")
    run.require(not flows["problems"], f"demo flows: {flows['problems']}")
    run.require(all(flows["counts"].values()), f"a demo flow saw no input: {flows['counts']}")


def iso_seconds(text: str) -> float:
    from datetime import datetime, timezone
    text = re.sub(r"(\.\d{6})\d*", r"\1", text.strip()).replace("Z", "+00:00")
    return datetime.fromisoformat(text).astimezone(timezone.utc).timestamp()


def ensure_tools():
    """docker.io, docker-compose and debootstrap, from Debian's packages when missing."""
    wanted = {"dockerd": "docker.io", "docker-compose": "docker-compose", "debootstrap": "debootstrap"}
    missing = sorted({package for command, package in wanted.items() if shutil.which(command) is None})
    if missing:
        log(f"installing {' '.join(missing)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env, check=True, stdout=subprocess.DEVNULL)


def build_binary() -> str:
    log("building the release ganglion (--static-swift-stdlib, .build-static)")
    env = {**os.environ, "PATH": f"/opt/swift/usr/bin:{os.environ.get('PATH', '')}"}
    command = ["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "ganglion", "--scratch-path", ".build-static"]
    lock = ["flock", os.environ["GANGLION_BUILD_LOCK"]] if os.environ.get("GANGLION_BUILD_LOCK") else []  # builds sharing a machine take turns
    subprocess.run(lock + command, cwd=REPO, env=env, check=True)
    path = subprocess.run(command + ["--show-bin-path"], cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout.strip()
    return f"{path}/ganglion"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.environ.get("GANGLION_BIN"),
                        help="the ganglion to put in the image (default: build the static release)")
    parser.add_argument("--scratch", help="where the engine, logs and read-backs go (default: a new /tmp/gdc-*; removed unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory's logs and read-backs (the engine's data is always removed)")
    args = parser.parse_args()

    def terminated(_signum, _frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, terminated)
    if os.geteuid() != 0:
        print("docker/compose_scenario.py needs root (it runs a docker engine)", file=sys.stderr)
        return 2
    started = time.monotonic()
    scratch = Path(args.scratch) if args.scratch else Path(tempfile.mkdtemp(prefix="gdc-", dir="/tmp"))
    scratch.mkdir(parents=True, exist_ok=True)
    engine = Engine(scratch / "engine")
    project = f"gdc{os.getpid()}"
    image = f"ganglion:{project}"
    figures: dict = {}
    run = Run("compose", quick=True)
    cluster = None
    failed = None
    try:
        ensure_tools()
        binary = args.binary or build_binary()
        log(f"engine under {engine.root}; binary {binary}")
        engine.start()
        t = time.monotonic()
        subprocess.run([str(HERE / "build-base.sh")], env=engine.env(), check=True)
        subprocess.run([str(HERE / "build-image.sh"), binary, image], env=engine.env(), check=True)
        figures["engine + base import + image build"] = time.monotonic() - t + 0
        size = subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", image], env=engine.env(),
                              capture_output=True, text=True).stdout.strip()
        figures["image size (MB)"] = int(size or 0) / 1e6
        cluster = ComposeCluster(engine, project, scratch, image, 7402)  # the default, free in the engine's namespace
        scenario(cluster, run, figures)
    except (ScenarioFailed, agents.HarnessError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        failed = error
    except KeyboardInterrupt:
        failed = "interrupted"
    except Exception as error:  # a defect of this script: still clean up, and say where
        import traceback
        traceback.print_exc()
        failed = error
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the clean-up is not interrupted
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if cluster is not None:
            for job in cluster.background:
                try:
                    if isinstance(job, subprocess.Popen):
                        job.kill() if job.poll() is None else None
                    elif job.running():
                        job.stop(bound=5)
                except Exception:
                    pass
            try:
                cluster.save_logs()
                if failed is not None:
                    for name in sorted((scratch / "logs").glob("*.log")):
                        tail = name.read_text(errors="replace").splitlines()[-8:]
                        print(f"--- {name.name} (last lines)\n" + "\n".join(line[:300] for line in tail))
                every = [Node(path.stem, str(path)) for path in sorted((scratch / "logs").glob("*.log"))]
                agents.log_findings(types.SimpleNamespace(nodes=every), run)
            except Exception as error:  # the logs are a help, never the verdict
                print(f"(could not save the logs: {error})")
            try:  # the nodes leave gracefully; engine.stop removes whatever is left
                subprocess.run(["docker-compose", "-f", str(HERE / "compose.yaml"), "down", "--timeout", "10"],
                               env=cluster.compose_env, capture_output=True, timeout=90)
            except Exception as error:
                print(f"(docker-compose down: {error})")
        engine.stop()
        shutil.rmtree(engine.root, ignore_errors=True)
        if failed is None and not args.keep and not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    for name, value in figures.items():
        log(f"{name}: {value:.1f}")
    if failed is not None:
        log(f"FAILED after {time.monotonic() - started:.0f} s: {failed}\n    (logs and read-backs in {scratch})")
        return 1
    log(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
