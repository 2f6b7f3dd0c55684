"""Observer fenced: kill an observer; once its session expires every other node shows it `fenced`;
restarted, it shows `alive` again everywhere."""

import time

import cli
from harness import HarnessError, wait_for
from scenario import ScenarioFailed, others, wait_for_leader, write_round_robin

VOTERS, OBSERVERS = 3, 2
FENCE_BOUND = 25.0  # session expiry plus the time for every node to learn it
RETURN_BOUND = 20.0


def scenario(cluster, run):
    leader, term = wait_for_leader(cluster, run)
    observer = cluster.observers[-1].id
    everyone = others(cluster)
    wait_for_state(cluster, everyone, observer, "alive", 20.0)
    run.say(f"leader {leader}, term {term}; {observer} alive everywhere")

    cluster.kill(observer)
    killed_at = time.monotonic()
    watchers = others(cluster, observer)
    run.say(f"killed observer {observer}")
    wait_for_state(cluster, watchers, observer, "fenced", FENCE_BOUND)
    run.say(f"{observer} fenced on all of {', '.join(watchers)} {time.monotonic() - killed_at:.2f} s after the kill")
    write_round_robin(cluster, run, run.count(2, 5), watchers)

    cluster.start(observer)
    started_at = time.monotonic()
    wait_for_state(cluster, everyone, observer, "alive", RETURN_BOUND)
    run.say(f"{observer} alive again everywhere {time.monotonic() - started_at:.2f} s after its restart")
    run.require_valid_history(cluster)


def wait_for_state(cluster, watchers, subject, state, bound):
    """Waits until every one of `watchers` reports `subject` in `state`."""
    last = {}

    def everyone_agrees():
        last.clear()
        last.update(cli.views(cluster, watchers))
        return all(view and view.states.get(subject) == state for view in last.values())

    try:
        wait_for(f"{', '.join(watchers)} to show {subject} {state}", everyone_agrees, bound, interval=0.3,
                 detail=lambda: cli.describe_views(last))
    except HarnessError as error:
        raise ScenarioFailed(str(error)) from None
