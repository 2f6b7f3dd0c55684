"""Run a multi-node Ganglion cluster on one machine, each node in its own network namespace.

One cluster, with prefix P and subnet 10.X.0.0/24, is made of:

    P-hub       a namespace holding the bridge br0, with one veth end per member (n1..nN, client)
    P-node-K    node-K's namespace: eth0 = 10.X.0.K, running `ganglion node`
    P-client    where CLI commands and checkers run: eth0 = 10.X.0.250

Nothing is created in the root namespace, so clusters with different prefixes never collide. What a
cluster is made of (prefix, subnet, node PIDs, data dirs, cuts, partition) lives in a state directory,
so `gcluster` commands run as separate processes can act on it. Every process is signalled by PID only
after checking it is still the one started (PID plus its start time in /proc), never by name.

Faults:
- kill / stop / cont: SIGKILL, SIGSTOP, SIGCONT to the node's PID.
- cut: the node's veth end in the hub goes down; nothing reaches the node, nothing leaves it.
- partition: inside each member's namespace, an `ip rule ... blackhole` drops every packet arriving
  from a member on another side. Senders see nothing (no error), as in a real partition.

    with Cluster.up(3, observers=2) as cluster:
        cluster.ganglion("topic", "list", "--node", cluster.api("node-1"))
        cluster.kill("node-1")
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from netns import HUB_BRIDGE, add_member_namespace, ip, namespaces_with_prefix
from processes import (Background, Completed, HarnessError, Terminated, process_state,  # noqa: F401
                       process_group, raising_on_termination, signal_process, start_ticks, wait_for)

API_PORT, PUB_PORT, HTTP_PORT = 7400, 7401, 7402
CLIENT = "client"
CLIENT_HOST = 250
PARTITION_RULE_PREF = 100
START_TIMEOUT = float(os.environ.get("GCLUSTER_START_TIMEOUT", "30"))
COMMAND_TIMEOUT = 15.0  # longer than the CLI's own 10 s request timeout
EXIT_TIMEOUT = 10.0
REPO_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# State


@dataclass
class Node:
    """One `ganglion node` process: its identity, address, files and the process last started."""

    id: str
    index: int
    voter: bool
    address: str
    namespace: str
    data_dir: str
    log: str
    pid: int | None = None
    ticks: int | None = None  # start time of `pid`, so a reused PID is never signalled

    @property
    def api(self) -> str:
        return f"tcp://{self.address}:{API_PORT}"

    @property
    def endpoints_file(self) -> Path:
        return Path(self.data_dir) / "endpoints.json"

    @property
    def hub_port(self) -> str:
        return f"n{self.index}"


@dataclass
class ClusterState:
    """Everything `gcluster` needs to act on a cluster, saved as state.json in the state directory."""

    prefix: str
    subnet: str  # first three octets, e.g. "10.123.0"
    binary: str
    data_root: str
    plain: bool  # no --voters/--advertise: every node is a cluster of one
    extra_args: list[str]
    nodes: list[Node]
    demo: bool = False  # run the demo agents in every node (no --no-demo)
    security_dir: str | None = None  # security on: the keys of `ganglion security init`, for nodes and commands
    cuts: list[str] = field(default_factory=list)  # members whose hub link is down
    partition: list[list[str]] = field(default_factory=list)  # sides; empty when whole

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        raw = json.loads(text)
        raw["nodes"] = [Node(**node) for node in raw["nodes"]]
        return cls(**raw)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def default_state_dir() -> Path:
    return Path(os.environ.get("GCLUSTER_STATE", ".gcluster"))


def default_binary() -> str:
    """$GANGLION_BIN, else a built ganglion in this repo, else `ganglion` on PATH."""
    candidates = [os.environ.get("GANGLION_BIN")]
    candidates += [str(REPO_ROOT / ".build" / kind / "ganglion") for kind in ("release", "debug")]
    candidates.append(shutil.which("ganglion"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    raise HarnessError("no ganglion binary: pass --binary PATH or set GANGLION_BIN")


def plain_by_default() -> bool:
    return os.environ.get("GCLUSTER_PLAIN", "") not in ("", "0")


# ---------------------------------------------------------------------------------------------
# The cluster


class Cluster:
    """A running cluster, backed by its state directory. Create with `Cluster.up`, reopen with
    `Cluster.load`; every fault and every command is a method."""

    def __init__(self, state_dir: Path, state: ClusterState):
        self.state_dir = Path(state_dir).resolve()
        self.state = state
        self._children: dict[int, subprocess.Popen] = {}  # node processes this object started
        self._timeout_flag_cache: dict[tuple, bool] = {}
        self._signal_guard = None

    # -- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def up(cls, voters: int, observers: int = 0, *, state_dir: str | Path | None = None,
           binary: str | None = None, data_root: str | Path | None = None, extra_args=(),
           plain: bool | None = None, prefix: str | None = None, subnet: str | None = None,
           start_timeout: float = START_TIMEOUT, demo: bool = False, start=None,
           security_dir: str | Path | None = None) -> Cluster:
        """Creates the namespaces, starts `voters` voters and `observers` observers and waits until
        every node has written endpoints.json. On any failure (or SIGTERM) it tears down what it made.
        With `demo`, every node runs the demo agents (no `--no-demo`). With `start` (node names), only
        those are started; the others are planned (namespace, address, `--voters`) and stay down until
        `cluster.start(...)`. With `security_dir` (keys made by `ganglion security init`), security is on:
        every node and every command runs with GANGLION_SECURITY_DIR set to it (commands act as its admin).
        Usable as a context manager that always runs `down`."""
        if voters < 1 or observers < 0 or voters + observers >= CLIENT_HOST:
            raise HarnessError(f"need 1 to {CLIENT_HOST - 1} nodes, got {voters} voters + {observers} observers")
        state_dir = Path(state_dir or default_state_dir()).resolve()
        if (state_dir / "state.json").exists():
            raise HarnessError(f"a cluster is already up in {state_dir}; run `gcluster --state {state_dir} down` first")
        state_dir.mkdir(parents=True, exist_ok=True)
        prefix = prefix or cls._fresh_prefix()
        subnet = subnet or f"10.{16 + int(prefix[-4:], 16) % 230}.0"
        data_root = Path(data_root or state_dir / "data").resolve()
        nodes = [cls._plan_node(prefix, subnet, data_root, index, voter=index <= voters)
                 for index in range(1, voters + observers + 1)]
        state = ClusterState(prefix, subnet, os.path.abspath(binary or default_binary()), str(data_root),
                             plain_by_default() if plain is None else plain, list(extra_args), nodes, demo=demo,
                             security_dir=str(Path(security_dir).resolve()) if security_dir else None)
        cluster = cls(state_dir, state)
        guard = raising_on_termination()
        guard.__enter__()
        try:
            cluster._save()  # first, so that `down` finds the prefix whatever fails next
            cluster._build(start_timeout, None if start is None else [cluster.node(name).id for name in start])
        except BaseException:
            cluster.down()
            guard.__exit__(None, None, None)
            raise
        cluster._signal_guard = guard
        return cluster

    @classmethod
    def load(cls, state_dir: str | Path | None = None) -> Cluster | None:
        """The cluster described by `state_dir`, or None when there is none."""
        state_file = Path(state_dir or default_state_dir()) / "state.json"
        if not state_file.exists():
            return None
        return cls(state_file.parent, ClusterState.from_json(state_file.read_text()))

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    def down(self):
        """Kills every process this cluster started (by PID), deletes its namespaces and its state.
        Idempotent; works on a half-built cluster."""
        messages = []
        with self._locked():
            self._reload()
            for node in self.state.nodes:
                signal_process(node.pid, node.ticks, signal.SIGKILL)
            self._kill_background_commands()
            for node in self.state.nodes:
                if not self._wait_dead(node, EXIT_TIMEOUT):
                    messages.append(f"warning: {node.id} (pid {node.pid}) did not exit after SIGKILL")
            started_groups = {node.pid for node in self.state.nodes if node.pid}
            for namespace in namespaces_with_prefix(self.state.prefix):
                strays = self._kill_descendants(namespace, started_groups)
                if strays:
                    messages.append(f"warning: processes not started by gcluster left in {namespace}: "
                                    f"{' '.join(strays)} (not killed)")
                ip("netns", "del", namespace, check=False)
        data_root = Path(self.state.data_root)
        if self.state_dir in data_root.parents:
            shutil.rmtree(data_root, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        if self._signal_guard:
            self._signal_guard.__exit__(None, None, None)
            self._signal_guard = None
        for message in messages:
            print(message)

    @staticmethod
    def _kill_descendants(namespace: str, started_groups: set) -> list[str]:
        """Kills what is left in `namespace` of the process groups of nodes we started (e.g. what a
        wrapper script forked); returns the PIDs of anything else there, which it leaves alone."""
        strays = []
        for pid in ip("netns", "pids", namespace, check=False).stdout.split():
            if process_group(int(pid)) in started_groups:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            else:
                strays.append(pid)
        return strays

    def _build(self, start_timeout: float, start: list[str] | None):
        self._make_network()
        (self.state_dir / "bin").mkdir(exist_ok=True)
        (self.state_dir / "bin" / "ganglion").symlink_to(self.state.binary)
        Path(self.state.data_root).mkdir(parents=True, exist_ok=True)
        starting = [node for node in self.state.nodes if start is None or node.id in start]
        with self._locked():
            for node in starting:
                self._launch(node)
            self._save()
        for node in starting:
            self._wait_ready(node, start_timeout)

    @staticmethod
    def _fresh_prefix() -> str:
        taken = {line.split()[0].split("-")[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()}
        while True:
            prefix = f"gc{random.randrange(16 ** 5):05x}"
            if prefix not in taken:
                return prefix

    @staticmethod
    def _plan_node(prefix: str, subnet: str, data_root: Path, index: int, voter: bool) -> Node:
        node_id = f"node-{index}"
        return Node(id=node_id, index=index, voter=voter, address=f"{subnet}.{index}",
                    namespace=f"{prefix}-{node_id}", data_dir=str(data_root / node_id),
                    log=str(data_root / f"{node_id}.log"))

    def _make_network(self):
        hub = self.hub_namespace
        ip("netns", "add", hub)
        ip("link", "add", HUB_BRIDGE, "type", "bridge", ns=hub)
        ip("link", "set", HUB_BRIDGE, "up", ns=hub)
        for node in self.state.nodes:
            add_member_namespace(node.namespace, hub, node.hub_port, node.address)
        add_member_namespace(self.client_namespace, hub, CLIENT, self.client_address)

    # -- names and addresses ---------------------------------------------------------------------

    @property
    def hub_namespace(self) -> str:
        return f"{self.state.prefix}-hub"

    @property
    def client_namespace(self) -> str:
        return f"{self.state.prefix}-{CLIENT}"

    @property
    def client_address(self) -> str:
        return f"{self.state.subnet}.{CLIENT_HOST}"

    @property
    def nodes(self) -> list[Node]:
        return list(self.state.nodes)

    @property
    def voters(self) -> list[Node]:
        return [node for node in self.state.nodes if node.voter]

    @property
    def observers(self) -> list[Node]:
        return [node for node in self.state.nodes if not node.voter]

    def node(self, name: str) -> Node:
        """The node called `name`: 'node-3' or just '3'."""
        node_id = f"node-{name}" if name.isdigit() else name
        for node in self.state.nodes:
            if node.id == node_id:
                return node
        raise HarnessError(f"no node {name!r} in cluster {self.state.prefix} "
                           f"(nodes: {', '.join(n.id for n in self.state.nodes)})")

    def addr(self, name: str) -> str:
        """The IPv4 address of a node, or of the client namespace for 'client'."""
        return self.client_address if name == CLIENT else self.node(name).address

    def api(self, *names: str) -> str:
        """The request endpoint(s) of the named nodes (all nodes when none), comma-separated."""
        nodes = [self.node(name) for name in names] if names else self.state.nodes
        return ",".join(node.api for node in nodes)

    def voters_flag(self) -> str:
        return ",".join(f"{node.id}@{node.address}:{API_PORT}" for node in self.voters)

    # -- node processes --------------------------------------------------------------------------

    def node_command(self, node: Node) -> list[str]:
        """The exact `ganglion node` command line of `node`."""
        argv = [self.state.binary, "node", "--node-id", node.id, "--data-dir", node.data_dir,
                "--api", f"tcp://0.0.0.0:{API_PORT}", "--pub", f"tcp://0.0.0.0:{PUB_PORT}",
                "--http", f"0.0.0.0:{HTTP_PORT}"]
        if not self.state.plain:
            argv += ["--advertise", node.address, "--voters", self.voters_flag()]
        return argv + ([] if self.state.demo else ["--no-demo"]) + list(self.state.extra_args)

    def process_state(self, name: str) -> str:
        """'alive', 'stopped' or 'dead'."""
        node = self.node(name)
        child = self._children.get(node.pid)
        if child is not None:
            child.poll()  # reap it if it exited, so it is not left a zombie
        return process_state(node.pid, node.ticks)

    def pid(self, name: str) -> int | None:
        return self.node(name).pid

    def kill(self, name: str, signum: int = signal.SIGKILL):
        """kill -9 the node (or another signal) and wait until it is gone."""
        node = self.node(name)
        if not signal_process(node.pid, node.ticks, signum):
            raise HarnessError(f"{node.id} is not running (pid {node.pid})")
        if signum in (signal.SIGKILL, signal.SIGTERM) and not self._wait_dead(node, EXIT_TIMEOUT):
            raise HarnessError(f"{node.id} (pid {node.pid}) still running {EXIT_TIMEOUT:g} s after "
                               f"{signal.Signals(signum).name}")

    def stop(self, name: str):
        """SIGSTOP the node and wait until the kernel shows it stopped."""
        node = self.node(name)
        if not signal_process(node.pid, node.ticks, signal.SIGSTOP):
            raise HarnessError(f"{node.id} is not running (pid {node.pid})")
        wait_for(f"{node.id} (pid {node.pid}) to be stopped", lambda: self.process_state(name) == "stopped", 5)

    def cont(self, name: str):
        """SIGCONT the node."""
        node = self.node(name)
        if not signal_process(node.pid, node.ticks, signal.SIGCONT):
            raise HarnessError(f"{node.id} is not running (pid {node.pid})")
        wait_for(f"{node.id} (pid {node.pid}) to run again", lambda: self.process_state(name) == "alive", 5)

    def start(self, *names: str, timeout: float = START_TIMEOUT):
        """Starts dead nodes again with the same arguments and data dirs, all at once (a node may
        need the others to get ready), then waits for each one's endpoints.json."""
        nodes = [self.node(name) for name in names]
        for node in nodes:
            if self.process_state(node.id) != "dead":
                raise HarnessError(f"{node.id} is already running (pid {node.pid})")
        with self._locked():
            self._reload()
            for node in nodes:
                self._launch(self.node(node.id))
            self._save()
        for node in nodes:
            self._wait_ready(self.node(node.id), timeout)

    def restart(self, name: str, graceful: bool = False, timeout: float = START_TIMEOUT):
        """kill -9 (or SIGTERM when `graceful`) if running, then start."""
        if self.process_state(name) != "dead":
            if self.process_state(name) == "stopped":
                self.cont(name)
            self.kill(name, signal.SIGTERM if graceful else signal.SIGKILL)
        self.start(name, timeout=timeout)

    def _launch(self, node: Node):
        node.endpoints_file.unlink(missing_ok=True)  # a stale one would make the wait meaningless
        Path(node.data_dir).mkdir(parents=True, exist_ok=True)
        argv = self.node_command(node)
        security = self._security_env()
        shown = " ".join([*(f"{key}={value}" for key, value in security.items()), *argv])
        with open(node.log, "ab") as log:
            log.write(f"=== gcluster {time.strftime('%H:%M:%S')}: {shown}\n".encode())
            log.flush()
            process = subprocess.Popen(["ip", "netns", "exec", node.namespace, *argv],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       env={**self._node_env(), **security}, start_new_session=True)
        node.pid, node.ticks = process.pid, start_ticks(process.pid)
        self._children[process.pid] = process

    @staticmethod
    def _node_env() -> dict:
        """The environment without GANGLION_* variables, so that only the flags (and the cluster's own
        GANGLION_SECURITY_DIR, when security is on) configure a node."""
        return {key: value for key, value in os.environ.items() if not key.startswith("GANGLION_")}

    def _security_env(self) -> dict:
        """GANGLION_SECURITY_DIR (security on), or nothing."""
        return {"GANGLION_SECURITY_DIR": self.state.security_dir} if self.state.security_dir else {}

    @property
    def secure(self) -> bool:
        """Whether the cluster runs with security on (CurveZMQ, known keys only, ACLs, HTTP tokens)."""
        return self.state.security_dir is not None

    def http_headers(self) -> list[str]:
        """curl arguments that authenticate an HTTP request as the admin: with security on, a bearer
        token made once per cluster (`ganglion security token create`), read by curl from a file in the
        state dir so that the secret is in no command line; else none."""
        if not self.secure:
            return []
        header_file = self.state_dir / "admin-token.header"
        if not header_file.exists():
            # A token names a principal of the metadata: the super user (known to the nodes by its key
            # file alone) is added first; already added, that fails and the token is made all the same.
            self.ganglion("security", "principal", "add", "admin", "--public-key-file",
                          str(Path(self.state.security_dir) / "admin.pub"))
            done = self.ganglion("security", "token", "create", "--principal", "admin", "--json",
                                 "--description", "cluster/ harness")
            if not done.ok:
                raise HarnessError(f"could not create an HTTP token for admin: {done.describe()}")
            header_file.touch(mode=0o600)
            header_file.write_text(f"Authorization: Bearer {json.loads(done.stdout)['secret']}\n")
        return ["-H", f"@{header_file}"]

    def process_environment(self, name: str) -> dict:
        """The environment the node's running process really has (/proc/PID/environ); {} when gone."""
        try:
            raw = Path(f"/proc/{self.node(name).pid}/environ").read_bytes()
        except OSError:
            return {}
        return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)

    def _wait_ready(self, node: Node, timeout: float):
        def ready():
            if self.process_state(node.id) == "dead":
                raise HarnessError(f"{node.id} (pid {node.pid}) exited while starting; "
                                   f"last lines of {node.log}:\n{self.log_tail(node.id)}")
            return node.endpoints_file.exists()

        wait_for(f"{node.id} to write {node.endpoints_file}", ready, timeout,
                 detail=lambda: f"last lines of {node.log}:\n{self.log_tail(node.id)}")
        if self.secure and self.process_environment(node.id).get("GANGLION_SECURITY_DIR") != self.state.security_dir:
            raise HarnessError(f"{node.id} (pid {node.pid}) runs without GANGLION_SECURITY_DIR="
                               f"{self.state.security_dir} in its environment: security would be off")

    def _wait_dead(self, node: Node, timeout: float) -> bool:
        try:
            wait_for(f"{node.id} to exit", lambda: self.process_state(node.id) == "dead", timeout, 0.02)
            return True
        except HarnessError:
            return False

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last lines of the node's log."""
        try:
            text = Path(self.node(name).log).read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join("    " + line for line in text.splitlines()[-lines:])

    # -- network faults --------------------------------------------------------------------------

    def cut(self, name: str):
        """Takes the member's link to the hub down: it reaches no one and no one reaches it."""
        port = CLIENT if name == CLIENT else self.node(name).hub_port
        member = CLIENT if name == CLIENT else self.node(name).id
        with self._locked():
            self._reload()
            ip("link", "set", port, "down", ns=self.hub_namespace)
            if member not in self.state.cuts:
                self.state.cuts.append(member)
            self._save()

    def uncut(self, name: str):
        """Brings the member's link to the hub up again: `cut` undone for it alone (other cuts and the
        partition stay)."""
        port = CLIENT if name == CLIENT else self.node(name).hub_port
        member = CLIENT if name == CLIENT else self.node(name).id
        with self._locked():
            self._reload()
            ip("link", "set", port, "up", ns=self.hub_namespace)
            self.state.cuts = [cut for cut in self.state.cuts if cut != member]
            self._save()

    def partition(self, *sides):
        """Splits the members into sides that cannot reach each other: packets arriving from a member
        on another side are dropped silently. Members on no side (and the client, unless named)
        keep reaching everyone. Replaces any earlier partition; cuts stay."""
        sides = [self._parse_side(side) for side in sides]
        named = [member for side in sides for member in side]
        if len(sides) < 2 or len(named) != len(set(named)):
            raise HarnessError(f"a partition needs two or more disjoint sides, got {sides}")
        with self._locked():
            self._reload()
            self._clear_partition()
            for side in sides:
                for member in side:
                    for other in (m for s in sides if s is not side for m in s):
                        ip("rule", "add", "pref", str(PARTITION_RULE_PREF), "from", f"{self.addr(other)}/32",
                           "blackhole", ns=self._namespace_of(member))
            self.state.partition = sides
            self._save()

    def heal(self):
        """Undoes every cut and the partition."""
        with self._locked():
            self._reload()
            for member in self.state.cuts:
                port = CLIENT if member == CLIENT else self.node(member).hub_port
                ip("link", "set", port, "up", ns=self.hub_namespace)
            self.state.cuts = []
            self._clear_partition()
            self.state.partition = []
            self._save()

    def unpartition(self):
        """Undoes the partition; cuts stay."""
        with self._locked():
            self._reload()
            self._clear_partition()
            self.state.partition = []
            self._save()

    @staticmethod
    def parse_sides(text: str) -> list[str]:
        """'node-1,node-2 / 3,4,5' -> ['node-1,node-2', '3,4,5']."""
        return [side.strip() for side in text.split("/")]

    def _parse_side(self, side) -> list[str]:
        names = side.replace(",", " ").split() if isinstance(side, str) else list(side)
        return [CLIENT if name == CLIENT else self.node(name).id for name in names]

    def _clear_partition(self):
        """Deletes every partition rule in every member namespace (until none is left)."""
        for namespace in [node.namespace for node in self.state.nodes] + [self.client_namespace]:
            for _ in range(len(self.state.nodes) + 2):
                if ip("rule", "del", "pref", str(PARTITION_RULE_PREF), ns=namespace, check=False).returncode:
                    break

    def _namespace_of(self, member: str) -> str:
        return self.client_namespace if member == CLIENT else self.node(member).namespace

    # -- running commands ------------------------------------------------------------------------

    def spawn(self, argv: list[str], node: str | None = None, env: dict | None = None) -> Background:
        """Starts `argv` in the client namespace (or in a node's) without waiting for it."""
        namespace = self.node(node).namespace if node else self.client_namespace
        return Background(list(argv), namespace, {**self.command_env(), **(env or {})},
                          self.state_dir / "commands")

    def run(self, argv: list[str], node: str | None = None, timeout: float = COMMAND_TIMEOUT,
            env: dict | None = None) -> Completed:
        """Runs `argv` in the client namespace (or a node's); kills it after `timeout` s."""
        return self.spawn(argv, node, env).wait(timeout)

    def ganglion(self, *args: str, node: str | None = None, timeout: float = COMMAND_TIMEOUT) -> Completed:
        """Runs the cluster's ganglion binary with `args` in the client namespace (or a node's)."""
        return self.run([self.state.binary, *args, *self._timeout_flag(args, timeout)], node, timeout)

    def spawn_ganglion(self, *args: str, node: str | None = None, timeout: float = COMMAND_TIMEOUT) -> Background:
        """Like `ganglion`, in the background; collect it with `.wait(timeout)`."""
        return self.spawn([self.state.binary, *args, *self._timeout_flag(args, timeout)], node)

    def command_env(self) -> dict:
        """The environment of commands: this cluster's ganglion first on PATH, GANGLION_NODE set to
        every node's endpoint (to node-1 in plain mode, where a list is not understood), and
        GANGLION_SECURITY_DIR when security is on (commands then act as its admin)."""
        path = f"{self.state_dir / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        target = self.api("node-1") if self.state.plain else self.api()
        return {**os.environ, "PATH": path, "GANGLION_NODE": target, **self._security_env()}

    def _timeout_flag(self, args, timeout: float) -> list[str]:
        """`--timeout MS` (a little under our deadline) when this subcommand has that option.

        Today only `ask` has it; the harness's own deadline covers the rest."""
        command = tuple(arg for arg in args[:2] if not arg.startswith("-"))
        if not command:
            return []
        if command not in self._timeout_flag_cache:
            helps = [subprocess.run([self.state.binary, "help", *command[:n]], capture_output=True,
                                    text=True, timeout=10) for n in (2, 1)[:len(command)]]
            usage = next((h.stdout for h in helps if h.returncode == 0), "")
            self._timeout_flag_cache[command] = "--timeout <" in usage
        if not self._timeout_flag_cache[command]:
            return []
        return ["--timeout", str(int(max(0.5, timeout - 1.0) * 1000))]

    def _kill_background_commands(self):
        """Kills commands started by spawn/run/exec that are still registered."""
        for record in (self.state_dir / "commands").glob("*.json"):
            try:
                command = json.loads(record.read_text())
            except (OSError, ValueError):
                continue
            if process_state(command["pid"], command["ticks"]) != "dead":
                try:
                    os.killpg(command["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
            record.unlink(missing_ok=True)

    # -- status ----------------------------------------------------------------------------------

    def status(self) -> dict:
        """What the harness knows: each node's process and link, the cuts and the partition."""
        self._reload()
        return {
            "prefix": self.state.prefix, "subnet": f"{self.state.subnet}.0/24", "plain": self.state.plain,
            "state_dir": str(self.state_dir), "data_root": self.state.data_root, "binary": self.state.binary,
            "security_dir": self.state.security_dir,
            "client": {"namespace": self.client_namespace, "address": self.client_address,
                       "link": "cut" if CLIENT in self.state.cuts else "up"},
            "nodes": [{"id": node.id, "role": "voter" if node.voter else "observer", "address": node.address,
                       "api": node.api, "namespace": node.namespace, "pid": node.pid,
                       "process": self.process_state(node.id),
                       "link": "cut" if node.id in self.state.cuts else "up",
                       "data_dir": node.data_dir, "log": node.log} for node in self.state.nodes],
            "cuts": list(self.state.cuts), "partition": [list(side) for side in self.state.partition],
        }

    # -- persistence -----------------------------------------------------------------------------

    @contextmanager
    def _locked(self):
        """Serialises changes to the state dir between gcluster processes."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _reload(self):
        state_file = self.state_dir / "state.json"
        if state_file.exists():
            self.state = ClusterState.from_json(state_file.read_text())

    def _save(self):
        temporary = self.state_dir / "state.json.tmp"
        temporary.write_text(self.state.to_json())
        temporary.replace(self.state_dir / "state.json")


def down(state_dir: str | Path | None = None) -> bool:
    """Tears down the cluster in `state_dir`; False when there was none."""
    cluster = Cluster.load(state_dir)
    if cluster is None:
        return False
    cluster.down()
    return True
