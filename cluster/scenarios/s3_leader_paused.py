"""Leader paused: SIGSTOP the leader past the election timeout. The others elect a new leader; a
write sent to the paused node meanwhile is either refused or, if acknowledged, present everywhere;
after SIGCONT the old leader follows the new term and nothing it accepted alone was committed."""

import time

import cli
from history import FAIL, INFO, OK
from scenario import ELECTION_BOUND, others, wait_for_leader, write_round_robin, write_until_acknowledged

VOTERS, OBSERVERS = 3, 1
PAUSED_AT_LEAST = 4.0  # seconds, longer than the election timeout
PAUSED_WRITE_BOUND = 25.0  # the paused node answers after SIGCONT, or the CLI gives up at 10 s


def scenario(cluster, run):
    leader, term = wait_for_leader(cluster, run)
    run.say(f"leader {leader}, term {term}")
    write_round_robin(cluster, run, run.count(3, 10), others(cluster))

    cluster.stop(leader)
    paused_at = time.monotonic()
    paused_name = run.history.next_name("paused")
    paused_write = cli.spawn_topic_create(cluster, paused_name, leader, timeout=PAUSED_WRITE_BOUND)
    run.say(f"SIGSTOP {leader}; sent {paused_name} to it in the background")

    survivors = others(cluster, leader)
    new_leader, new_term = wait_for_leader(cluster, run, survivors, newer_than=term, not_leader=leader,
                                           timeout=ELECTION_BOUND)
    run.say(f"new leader {new_leader}, term {new_term}, {time.monotonic() - paused_at:.2f} s into the pause")
    write_until_acknowledged(cluster, run, survivors)
    write_round_robin(cluster, run, run.count(2, 8), survivors)

    time.sleep(max(0.0, PAUSED_AT_LEAST - (time.monotonic() - paused_at)))
    cluster.cont(leader)
    run.say(f"SIGCONT {leader} after {time.monotonic() - paused_at:.2f} s")

    paused = run.history.record(paused_name, leader, paused_write.wait(PAUSED_WRITE_BOUND))
    meaning = {OK: "acknowledged: must be on every node", FAIL: "refused: must be on no node",
               INFO: "no answer: may or may not be there"}[paused.outcome]
    run.say(f"write to the paused node: {paused.outcome} ({meaning}); {paused.detail}")

    leader_now, term_now = wait_for_leader(cluster, run, newer_than=term, timeout=ELECTION_BOUND)
    run.say(f"all nodes, {leader} included, agree: leader {leader_now}, term {term_now}")
    run.require_valid_history(cluster)
