#!/usr/bin/env python3
"""A stand-in for the ganglion binary that speaks the scenarios' contract, to test the scenarios.

Not Ganglion: a toy Raft (whole-log replication over JSON lines on TCP) behind the same command
lines the harness and scenarios use — `node` with --voters/--advertise, `topic create/list`,
`cluster status --json`, `help`. It lets the scenario code run end to end before the real cluster
mode exists, and a deliberate bug shows that the checks catch a broken node:

    run-scenarios.sh --binary cluster/fake_ganglion.py
    FAKE_GANGLION_BUG=ack-uncommitted run-scenarios.sh --binary cluster/fake_ganglion.py --only s4
    FAKE_GANGLION_BUG=forget-on-restart run-scenarios.sh --binary cluster/fake_ganglion.py --only s5
"""

import json
import os
import random
import socket
import socketserver
import sys
import threading
import time
from pathlib import Path

HEARTBEAT, ELECTION_MIN, ELECTION_MAX = 0.2, 1.5, 3.0  # seconds
SESSION, COMMIT_WAIT, PEER_TIMEOUT, CLIENT_TIMEOUT = 6.0, 5.0, 0.5, 10.0
BUG = os.environ.get("FAKE_GANGLION_BUG", "")


def flag(argv, name, default=None):
    return argv[argv.index(name) + 1] if name in argv else default


def host_port(endpoint):
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    return host, int(port)


def call(endpoint, request, timeout):
    """One JSON request, one JSON reply; raises OSError/ValueError on any failure."""
    with socket.create_connection(host_port(endpoint), timeout=timeout) as connection:
        connection.settimeout(timeout)
        connection.sendall((json.dumps(request) + "\n").encode())
        return json.loads(connection.makefile().readline())


class Node:
    """A toy Raft voter or observer whose log is the list of topic names."""

    def __init__(self, argv):
        self.id = flag(argv, "--node-id")
        self.data = Path(flag(argv, "--data-dir"))
        self.address = flag(argv, "--advertise", "127.0.0.1")
        self.voters = {}
        for entry in filter(None, flag(argv, "--voters", "").split(",")):
            voter_id, endpoint = entry.split("@")
            self.voters[voter_id] = "tcp://" + endpoint
        if not self.voters:
            self.voters = {self.id: f"tcp://{self.address}:7400"}
        self.lock = threading.RLock()
        self.term, self.voted_for, self.log, self.commit = 0, None, [], 0
        self.leader, self.role = None, "follower"
        self.heard = time.monotonic()
        self.timeout = random.uniform(ELECTION_MIN, ELECTION_MAX)
        self.registry = {}  # id -> {"api", "voter", "seen"}: the leader's
        self.registry_view, self.states = {}, {}  # what followers last heard from the leader
        self.match, self.replied = {}, {}
        self.data.mkdir(parents=True, exist_ok=True)
        self._load()

    # -- persistence ------------------------------------------------------------------------------

    def _load(self):
        path = self.data / "raft.json"
        if path.exists() and BUG != "forget-on-restart":
            saved = json.loads(path.read_text())
            self.term, self.voted_for, self.log = saved["term"], saved["voted_for"], saved["log"]

    def _save(self):
        temporary = self.data / "raft.json.tmp"
        temporary.write_text(json.dumps({"term": self.term, "voted_for": self.voted_for, "log": self.log}))
        temporary.replace(self.data / "raft.json")

    # -- requests ---------------------------------------------------------------------------------

    def handle(self, request):
        kind = request["kind"]
        if kind == "vote":
            return self.on_vote(request)
        if kind == "append":
            return self.on_append(request)
        if kind == "hello":
            return self.on_hello(request)
        if kind == "create":
            return self.on_create(request)
        if kind == "list":
            with self.lock:
                return {"ok": True, "topics": [name for _, name in self.log[:self.commit] if name]}
        if kind == "status":
            return {"ok": True, "status": self.status()}
        return {"ok": False, "error": f"badRequest: unknown kind {kind}"}

    def on_vote(self, request):
        with self.lock:
            self._observe_term(request["term"])
            last = (self.log[-1][0] if self.log else 0, len(self.log))
            granted = (request["term"] == self.term and self.voted_for in (None, request["candidate"])
                       and (request["last_term"], request["length"]) >= last)
            if granted:
                self.voted_for, self.heard = request["candidate"], time.monotonic()
                self._save()
            return {"ok": True, "term": self.term, "granted": granted}

    def on_append(self, request):
        with self.lock:
            if request["term"] < self.term:
                return {"ok": True, "term": self.term, "success": False}
            self._observe_term(request["term"])
            self.role, self.leader, self.heard = "follower", request["leader"], time.monotonic()
            if self.log != request["log"]:
                self.log = request["log"]
                self._save()
            self.commit = min(request["commit"], len(self.log))
            self.states, self.registry_view = request["states"], request["registry"]
            return {"ok": True, "term": self.term, "success": True, "length": len(self.log)}

    def on_hello(self, request):
        with self.lock:
            if self.role == "leader":
                self.registry[request["id"]] = {"api": request["api"], "voter": request["id"] in self.voters,
                                                "seen": time.monotonic()}
            return {"ok": True}

    def on_create(self, request):
        deadline = time.monotonic() + COMMIT_WAIT
        while True:
            with self.lock:
                role, leader = self.role, self.leader
            if role == "leader":
                return self._create_as_leader(request["name"], deadline)
            if leader and leader in self.voters and not request.get("forwarded"):
                try:
                    return call(self.voters[leader], {**request, "forwarded": True}, COMMIT_WAIT + 0.5)
                except ConnectionRefusedError:
                    return {"ok": False, "error": f"unavailable: controller leader {leader} is down"}
                except (OSError, ValueError):  # sent, maybe handled: the outcome is unknown
                    return {"ok": False, "error": f"timeout: controller leader {leader} did not answer"}
            if time.monotonic() >= deadline:
                return {"ok": False, "error": "unavailable: no controller leader (no quorum)"}
            time.sleep(0.05)

    def _create_as_leader(self, name, deadline):
        with self.lock:
            if name in [n for _, n in self.log]:
                return {"ok": False, "error": f"topicExists: topic {name} already exists"}
            self.log.append([self.term, name])
            self._save()
            index = len(self.log)
        if BUG == "ack-uncommitted":
            return {"ok": True, "message": f"created topic {name} with 1 partition(s)"}
        while time.monotonic() < deadline:
            with self.lock:
                if self.commit >= index and self.log[index - 1][1] == name:
                    return {"ok": True, "message": f"created topic {name} with 1 partition(s)"}
                if self.role != "leader":
                    break
            time.sleep(0.02)
        return {"ok": False, "error": f"timeout: {name} not committed within {COMMIT_WAIT:g} s (no quorum)"}

    def _observe_term(self, term):
        if term > self.term:
            self.term, self.voted_for, self.role, self.leader = term, None, "follower", None
            self._save()

    def status(self):
        with self.lock:
            states = self.states if self.role != "leader" else self._leader_states()
            nodes = self.registry_view if self.role != "leader" else self._registry_view()
            return {"controller": {"leader": self.leader, "term": self.term, "voters": sorted(self.voters)},
                    "nodes": [{"id": node_id, "voter": entry["voter"], "state": states.get(node_id, "alive"),
                               "api": entry["api"], "pub": entry["api"][:-1] + "1",
                               "http": entry["api"].removeprefix("tcp://")[:-1] + "2"}
                              for node_id, entry in sorted(nodes.items())]}

    def _leader_states(self):
        now = time.monotonic()
        return {node_id: "alive" if node_id == self.id or now - entry["seen"] < SESSION else "fenced"
                for node_id, entry in self.registry.items()}

    def _registry_view(self):
        return {node_id: {"api": entry["api"], "voter": entry["voter"]} for node_id, entry in self.registry.items()}

    # -- timers -----------------------------------------------------------------------------------

    def run_timers(self):
        while True:
            time.sleep(HEARTBEAT)
            self._say_hello()
            with self.lock:
                role = self.role
                expired = time.monotonic() - self.heard > self.timeout
            if role == "leader":
                self._replicate()
            elif expired and self.id in self.voters:
                self._campaign()

    def _say_hello(self):
        hello = {"kind": "hello", "id": self.id, "api": f"tcp://{self.address}:7400"}
        with self.lock:
            target = self.voters.get(self.leader) if self.leader else None
        for endpoint in [target] if target else self.voters.values():
            threading.Thread(target=self._quietly, args=(endpoint, hello), daemon=True).start()

    @staticmethod
    def _quietly(endpoint, request):
        try:
            return call(endpoint, request, PEER_TIMEOUT)
        except (OSError, ValueError):
            return None

    def _campaign(self):
        with self.lock:
            self.term, self.voted_for, self.role, self.leader = self.term + 1, self.id, "candidate", None
            self.heard, self.timeout = time.monotonic(), random.uniform(ELECTION_MIN, ELECTION_MAX)
            self._save()
            request = {"kind": "vote", "term": self.term, "candidate": self.id,
                       "last_term": self.log[-1][0] if self.log else 0, "length": len(self.log)}
        replies = self._ask_all({v: e for v, e in self.voters.items() if v != self.id}, request)
        with self.lock:
            for reply in replies.values():
                if reply:
                    self._observe_term(reply["term"])
            votes = 1 + sum(1 for reply in replies.values() if reply and reply.get("granted"))
            if self.role == "candidate" and self.term == request["term"] and votes * 2 > len(self.voters):
                self.role, self.leader = "leader", self.id
                self.log.append([self.term, None])  # a no-op of its own term commits the earlier ones
                self._save()
                now = time.monotonic()
                self.replied = {voter: now for voter in self.voters}
                self.registry = {node_id: {**entry, "seen": now} for node_id, entry in
                                 self.registry_view.items()}
                self.registry[self.id] = {"api": self.voters[self.id], "voter": True, "seen": now}

    def _replicate(self):
        with self.lock:
            request = {"kind": "append", "term": self.term, "leader": self.id, "log": list(self.log),
                       "commit": self.commit, "states": self._leader_states(), "registry": self._registry_view()}
            peers = {node_id: entry["api"] for node_id, entry in self.registry.items() if node_id != self.id}
            peers.update({v: e for v, e in self.voters.items() if v != self.id})
        replies = self._ask_all(peers, request)
        with self.lock:
            now = time.monotonic()
            for peer, reply in replies.items():
                if not reply:
                    continue
                self._observe_term(reply["term"])
                if reply.get("success"):
                    self.replied[peer] = now
                    self.match[peer] = reply["length"]
                    if peer in self.registry:
                        self.registry[peer]["seen"] = now
            if self.role != "leader" or self.term != request["term"]:
                return
            lengths = sorted([len(self.log)] + [self.match.get(v, 0) for v in self.voters if v != self.id],
                             reverse=True)
            majority_length = lengths[len(self.voters) // 2]
            if majority_length > self.commit and self.log[majority_length - 1][0] == self.term:
                self.commit = majority_length
            heard = 1 + sum(1 for v in self.voters if v != self.id and now - self.replied.get(v, 0) < ELECTION_MAX)
            if heard * 2 <= len(self.voters):  # check-quorum: a cut-off leader steps down
                self.role, self.leader = "follower", None

    def _ask_all(self, peers, request):
        replies = {}
        threads = [threading.Thread(target=lambda p=p, e=e: replies.__setitem__(p, self._quietly(e, request)))
                   for p, e in peers.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PEER_TIMEOUT + 0.2)
        return replies


def serve(argv):
    node = Node(argv)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            line = self.rfile.readline()
            if line:
                self.wfile.write((json.dumps(node.handle(json.loads(line))) + "\n").encode())

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("0.0.0.0", 7400), Handler)
    server.daemon_threads = True
    (node.data / "endpoints.json").write_text(json.dumps({"api": "tcp://0.0.0.0:7400"}))
    print(f"fake ganglion node {node.id}: voters {sorted(node.voters)}", flush=True)
    threading.Thread(target=node.run_timers, daemon=True).start()
    server.serve_forever()


def client(argv, request):
    """Asks the first endpoint of --node that answers; prints like the real CLI."""
    deadline = time.monotonic() + CLIENT_TIMEOUT
    endpoints = flag(argv, "--node", "tcp://127.0.0.1:7400").split(",")
    for endpoint in endpoints:
        try:
            reply = call(endpoint, request, max(0.1, deadline - time.monotonic()))
            break
        except (OSError, ValueError):
            continue
    else:
        print(f"error: timeout: no reply from {','.join(endpoints)} in time", file=sys.stderr)
        return 1
    if not reply["ok"]:
        print(f"error: {reply['error']}", file=sys.stderr)
        return 1
    if request["kind"] == "list":
        print("".join(f"{name}\tpartitions=1\n" for name in reply["topics"]), end="")
    elif request["kind"] == "status":
        print(json.dumps(reply["status"]))
    else:
        print(reply["message"])
    return 0


def main(argv):
    words = [arg for arg in argv if not arg.startswith("-")][:2]
    if argv[:1] == ["help"]:
        print("USAGE: ganglion cluster status [--node <node>] [--json]" if argv[1:3] == ["cluster", "status"]
              else "USAGE: fake ganglion")
        return 0
    if argv[:1] == ["node"]:
        return serve(argv)
    if words == ["topic", "create"]:
        return client(argv, {"kind": "create", "name": [a for a in argv if not a.startswith("-")][2]})
    if words == ["topic", "list"]:
        return client(argv, {"kind": "list"})
    if words == ["cluster", "status"]:
        return client(argv, {"kind": "status"})
    print(f"fake ganglion: unsupported {argv}", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
