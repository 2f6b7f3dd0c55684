"""Leader killed: kill -9 the leader; a new one is elected, writes work again, and the old leader,
restarted, catches up with every acknowledged topic."""

import time

from scenario import (ELECTION_BOUND, others, wait_for_leader, wait_until_caught_up, write_round_robin,
                      write_until_acknowledged)

VOTERS, OBSERVERS = 3, 1


def scenario(cluster, run):
    leader, term = wait_for_leader(cluster, run)
    run.say(f"leader {leader}, term {term}")
    write_round_robin(cluster, run, run.count(3, 10), others(cluster))

    for round_number in range(1, run.count(1, 3) + 1):
        cluster.kill(leader)
        killed_at = time.monotonic()
        survivors = others(cluster, leader)
        run.say(f"round {round_number}: killed leader {leader} (kill -9)")

        new_leader, new_term = wait_for_leader(cluster, run, survivors, newer_than=term, not_leader=leader,
                                               timeout=ELECTION_BOUND)
        run.say(f"new leader {new_leader}, term {new_term}, {time.monotonic() - killed_at:.2f} s after the kill")
        waited = write_until_acknowledged(cluster, run, survivors)
        run.say(f"writes acknowledged again after {waited:.2f} s of retrying")
        write_round_robin(cluster, run, run.count(3, 10), survivors)

        cluster.start(leader)
        wait_until_caught_up(cluster, run, leader)
        run.say(f"{leader} restarted and lists all {len(run.history.names('ok'))} acknowledged topics")
        leader, term = wait_for_leader(cluster, run, newer_than=new_term - 1)
        run.say(f"all nodes agree: leader {leader}, term {term}")

    run.require_valid_history(cluster)
