#!/usr/bin/env python3
"""Runs the scenarios in cluster/scenarios/, each on a fresh cluster, one after another.

    run_scenarios.py [--quick] [--secure] [--only NAME ...] [--binary PATH] [--out DIR] [--keep]

Each scenario file defines VOTERS, OBSERVERS and `scenario(cluster, run)`, and may define NODE_ARGS (extra
`ganglion node` arguments), DEMO (True: the nodes run the demo agents, no `--no-demo`), START (the nodes
started at first, e.g. ["node-1"]; the others wait for the scenario's `cluster.start`), DEADLINE ((quick,
full) seconds) and REQUIRES (CLI subcommands the binary must have, e.g. "workload produce"; without them
the scenario is skipped) and SECURE_ONLY (True: it tests security itself, and is skipped without --secure).
With --secure, the keys are made once (`ganglion security init OUT/keys`) and every node and every command
of every scenario runs with GANGLION_SECURITY_DIR=OUT/keys: CurveZMQ, known keys only, ACLs, commands acting
as the super user `admin`, HTTP with its bearer token. A scenario fails when it
raises (a broken guarantee, a bounded wait that ran out, or its deadline); the cluster is torn down
either way, and the nodes' logs of a failed scenario stay in the output directory.
Exit status: 0 all passed, 1 some failed, 2 could not run (no binary, or one without cluster mode).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import Cluster, HarnessError  # noqa: E402
from scenario import Run, ScenarioFailed  # noqa: E402

QUICK_DEADLINE, FULL_DEADLINE = 120, 300  # seconds per scenario


class DeadlinePassed(Exception):
    """The scenario ran past its deadline."""


def load_scenarios(only: list[str]) -> list:
    """The scenario modules: the controller ones (s*), the replication ones (r*), the agent ones (a*), then
    the security ones (x*), each in file-name order, filtered by `only` (substrings of the name)."""
    modules = []
    paths = [path for kind in "srax" for path in sorted((HERE / "scenarios").glob(f"{kind}[0-9]*_*.py"))]
    for path in paths:
        if only and not any(part in path.stem for part in only):
            continue
        spec = importlib.util.spec_from_file_location(f"scenarios.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def has_cluster_mode(binary: str) -> bool:
    """Whether the binary knows `cluster status` (the scenarios need it)."""
    done = subprocess.run([binary, "help", "cluster", "status"], capture_output=True, text=True, timeout=20)
    return done.returncode == 0 and "--json" in done.stdout


def missing_subcommands(module, binary: str) -> list[str]:
    """The subcommands in the module's REQUIRES that `binary` does not know."""
    missing = []
    for command in getattr(module, "REQUIRES", ()):
        done = subprocess.run([binary, "help", *command.split()], capture_output=True, text=True, timeout=20)
        if done.returncode != 0 or f"USAGE: ganglion {command}" not in done.stdout:
            missing.append(command)
    return missing


def make_keys(binary: str, directory: Path):
    """`ganglion security init DIRECTORY`: the cluster's and the admin's key pairs, once per run."""
    done = subprocess.run([binary, "security", "init", str(directory)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or not (directory / "cluster.key").exists() or not (directory / "admin.key").exists():
        raise HarnessError(f"`{binary} security init {directory}` failed (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-500:]}")


def run_one(module, binary: str, out: Path, quick: bool, deadline: int,
            security_dir: Path | None = None) -> tuple[bool, float, str]:
    """Runs one scenario on its own cluster (secured with the keys in `security_dir`, if given); returns
    (passed, seconds, failure message)."""
    name = module.__name__.split(".")[-1]
    run = Run(name, quick, out / name)
    print(f"--- {name}: {module.__doc__.strip().splitlines()[0]}", flush=True)
    if hasattr(module, "DEADLINE"):
        deadline = module.DEADLINE[0 if quick else 1]

    def on_deadline(_signum, _frame):
        raise DeadlinePassed(f"{name} still running after its {deadline} s deadline")

    previous = signal.signal(signal.SIGALRM, on_deadline)
    signal.alarm(deadline)
    try:
        with Cluster.up(module.VOTERS, module.OBSERVERS, state_dir=out / name / "state",
                        data_root=out / name / "data", binary=binary, plain=False,
                        extra_args=getattr(module, "NODE_ARGS", ()), demo=getattr(module, "DEMO", False),
                        start=getattr(module, "START", None), security_dir=security_dir) as cluster:
            run.say(f"cluster {cluster.state.prefix}: {module.VOTERS} voters, {module.OBSERVERS} observers "
                    f"on {cluster.state.subnet}.0/24{' '.join([''] + list(getattr(module, 'NODE_ARGS', ())))}"
                    f"{', demo agents on' if cluster.state.demo else ''}"
                    f"{', security on' if cluster.secure else ''}")
            try:
                module.scenario(cluster, run)
            except BaseException:
                print_log_tails(cluster)
                raise
        return True, time.monotonic() - run.started, ""
    except (ScenarioFailed, HarnessError, DeadlinePassed, AssertionError) as failure:
        return False, time.monotonic() - run.started, str(failure)
    except Exception:  # a bug in the scenario itself: show where
        return False, time.monotonic() - run.started, traceback.format_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        harness.down(out / name / "state")  # in case the deadline cut a tear-down short


def print_log_tails(cluster: Cluster):
    for node in cluster.nodes:
        print(f"    --- {node.log} ({cluster.process_state(node.id)}):\n{cluster.log_tail(node.id, 15)}")


def main(argv: list[str]) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--quick", action="store_true", help="fewer writes and rounds (CI)")
    options.add_argument("--secure", action="store_true",
                         help="security on: keys made once (ganglion security init OUT/keys), every node and "
                              "command with GANGLION_SECURITY_DIR set to them")
    options.add_argument("--only", action="append", default=[], help="run scenarios whose name contains this")
    options.add_argument("--binary", help="ganglion binary (default $GANGLION_BIN, .build/*/ganglion, PATH)")
    options.add_argument("--out", help="where clusters keep data and logs (default: a new temp dir)")
    options.add_argument("--keep", action="store_true", help="keep the output directory even when all pass")
    args = options.parse_args(argv)

    try:
        binary = args.binary or harness.default_binary()
    except HarnessError as error:
        print(f"run-scenarios: {error}", file=sys.stderr)
        return 2
    if not has_cluster_mode(binary):
        print(f"run-scenarios: {binary} has no `cluster status --json`: build the node with cluster mode",
              file=sys.stderr)
        return 2
    out = Path(args.out or tempfile.mkdtemp(prefix="ganglion-scenarios-")).resolve()
    deadline = QUICK_DEADLINE if args.quick else FULL_DEADLINE
    security_dir = out / "keys" if args.secure else None
    if security_dir:
        try:
            make_keys(binary, security_dir)
        except (HarnessError, subprocess.TimeoutExpired) as error:
            print(f"run-scenarios: {error}", file=sys.stderr)
            return 2
        print(f"security on: keys in {security_dir} (GANGLION_SECURITY_DIR for every node and command)", flush=True)

    results, skipped = [], []
    try:
        with harness.raising_on_termination():
            for module in load_scenarios(args.only):
                name = module.__name__.split(".")[-1]
                if getattr(module, "SECURE_ONLY", False) and not security_dir:
                    print(f"SKIP {name}: tests security itself (run with --secure)", flush=True)
                    skipped.append(name)
                    continue
                missing = missing_subcommands(module, binary)
                if missing:
                    print(f"SKIP {name}: {binary} has no `{'`, `'.join(missing)}`", flush=True)
                    skipped.append(name)
                    continue
                passed, seconds, message = run_one(module, binary, out, args.quick, deadline, security_dir)
                results.append((name, passed, seconds))
                print(f"{'PASS' if passed else 'FAIL'} {name} ({seconds:.1f} s){'' if passed else ': ' + message}",
                      flush=True)
    except (KeyboardInterrupt, harness.Terminated) as interruption:
        print(f"run-scenarios: interrupted ({interruption or 'SIGINT'}); clusters torn down; logs: {out}")
        return 130

    failed = [name for name, passed, _ in results if not passed]
    total = sum(seconds for _, _, seconds in results)
    print(f"\n{len(results) - len(failed)}/{len(results)} scenarios passed in {total:.1f} s"
          + (" with security on" if security_dir else "")
          + (f" ({len(skipped)} skipped: {', '.join(skipped)})" if skipped else ""))
    if failed or args.keep:
        print(f"logs: {out}")
    else:
        shutil.rmtree(out, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
