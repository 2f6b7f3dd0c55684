"""Network namespaces through iproute2: the hub bridge and one veth-linked namespace per member."""

from __future__ import annotations

import subprocess

from processes import HarnessError

HUB_BRIDGE = "br0"

# ---------------------------------------------------------------------------------------------
# Network namespaces


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Runs `ip [-n ns] args...`; raises HarnessError with ip's message when `check` and it fails."""
    argv = ["ip", *(["-n", ns] if ns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if check and done.returncode != 0:
        raise HarnessError(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")
    return done


def namespaces_with_prefix(prefix: str) -> list[str]:
    """The network namespaces whose names start with `prefix-`."""
    names = [line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()]
    return [name for name in names if name.startswith(prefix + "-")]


def add_member_namespace(namespace: str, hub: str, port: str, address: str):
    """Creates `namespace` with eth0 = `address`/24, linked to the hub bridge by veth `port`.

    The `local` routing rule moves from priority 0 to 1000 so that partition rules (priority 100)
    can drop arriving packets before they are delivered.
    """
    ip("netns", "add", namespace)
    ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", namespace, ns=hub)
    ip("link", "set", port, "master", HUB_BRIDGE, ns=hub)
    ip("link", "set", port, "up", ns=hub)
    ip("addr", "add", f"{address}/24", "dev", "eth0", ns=namespace)
    ip("link", "set", "eth0", "up", ns=namespace)
    ip("link", "set", "lo", "up", ns=namespace)
    ip("rule", "add", "pref", "1000", "lookup", "local", ns=namespace)
    ip("rule", "del", "pref", "0", "lookup", "local", ns=namespace)
