"""The agent checker: every acknowledged transaction against the fraud-detection agent's decisions,
both read back in full.

It trusts nothing the system says about itself (not the group's offsets, not its lag). Its inputs are
- the publisher's outcome log: one line per transaction the client tried to publish,
  {"txn","key","amount","outcome":"ok"|"fail"|"info","ms",...}; "ok" is acknowledged (the CLI said
  `published to transactions-P at offset O`), "fail" an error answered by a node and "info" no answer
  (either may or may not be stored);
- the read-back of topic `transactions` (`ganglion workload read`): every stored event, whose
  CloudEvent id links it to the decisions and whose data names the transaction (`"txn"`);
- the read-back of topic `fraud-detection.decisions`: every decision, naming the CloudEvent id of its
  input (`"input_event"` in its data, which `AgentContext.decide` writes).

`workload read` prints values as UTF-8 text: an event (a protobuf EventEnvelope) comes out with its
ASCII strings intact and its varints mangled. What is used of it: the id (field 1, the value's first
bytes: tag 0x0a and a one-byte length, ids being shorter than 128 bytes) and the JSON data.

Anomalies (each fails the scenario):
- lost:            acknowledged, and no decision names it (whether the transaction itself was read
                   back is said with each example)
- duplicated:      more than one decision, with distinct CloudEvent ids, for one transaction: the
                   transaction handled twice
- unexpected:      a decision whose input is no transaction the publisher tried (or one that cannot
                   be parsed), or a stored transaction the publisher never tried
- input-duplicated: one transaction stored more than once in `transactions` (the publisher sent it once)
- wrong-count:     a decision's per-customer count (`input.count`, the agent's state) is not the
                   transaction's position among that customer's stored transactions: state lost
                   (reset to an older snapshot) or applied twice across the move of a shard
- reordered:       a customer's decisions stored in another order than its transactions (per-key
                   order; a customer's decisions share one partition of the decisions topic)

Not anomalies: an unacknowledged transaction with one decision or none (counted as indeterminate); an
ask stored in `transactions` (`ganglion ask`: an event of type `ganglion.ask`, not a transaction);
a decision stored twice with the same CloudEvent id (`resent`: the shard's outbox sent it again after
the owner that sent it died before recording the send — README's "Effects once" lets emitted events
be *sent* more than once, always with the same id, so a consumer keeps one per id). Resends are
counted and shown, and fail the check only with `--strict-once` (`strict=True`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field

EXAMPLES = 8  # examples of each anomaly in a summary
ASK_TYPE = '"' + chr(len("ganglion.ask")) + "ganglion.ask"  # field 4 (type, tag 0x22) of an ask, in an envelope's head
DATA_OBJECT = re.compile(r"\{[^{}]*\}")


# ---------------------------------------------------------------------------------------------
# Parsing what `workload read` printed


def envelope_id(value: str) -> str | None:
    """The CloudEvent id of an envelope printed as UTF-8 text: field 1 comes first (tag 0x0a, then a
    one-byte length for ids under 128 bytes), so its bytes are the value's first characters."""
    if len(value) < 2 or value[0] != "\n" or ord(value[1]) >= 0x80:
        return None
    length = ord(value[1])
    found = value[2:2 + length]
    return found if len(found) == length else None


def json_data(value: str, first_key: str) -> dict | None:
    """The envelope's JSON data: the object in the value whose first key is `first_key` (the data is
    written with sorted keys), or None."""
    for match in DATA_OBJECT.finditer(value):
        text = match.group(0)
        if not text.startswith('{"' + first_key + '"'):
            continue
        try:
            return json.loads(text)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class StoredTransaction:
    partition: int
    offset: int
    key: str
    event_id: str | None
    txn: str | None  # the publisher's transaction id (from the data), None for a foreign event
    ask: bool = False  # an ask request (type ganglion.ask), handled in order but not a transaction

    @property
    def where(self) -> str:
        return f"transactions-{self.partition}@{self.offset}"


@dataclass(frozen=True)
class StoredDecision:
    partition: int
    offset: int
    key: str
    event_id: str | None
    input_event: str | None
    decision: str | None
    count: int | None  # input.count: the agent's per-customer count after this transaction

    @property
    def where(self) -> str:
        return f"decisions-{self.partition}@{self.offset}"


def parse_transactions(reads: list[dict]) -> list[StoredTransaction]:
    found = []
    for record in reads:
        value = record.get("value") or ""
        data = json_data(value, "amount") or {}
        found.append(StoredTransaction(int(record["partition"]), int(record["offset"]), record.get("key") or "",
                                       envelope_id(value), data.get("txn"), ASK_TYPE in value[:200]))
    return sorted(found, key=lambda t: (t.partition, t.offset))


def parse_decisions(reads: list[dict]) -> list[StoredDecision]:
    found = []
    for record in reads:
        value = record.get("value") or ""
        data = json_data(value, "decision") or {}
        count = data.get("input.count")
        found.append(StoredDecision(int(record["partition"]), int(record["offset"]), record.get("key") or "",
                                    envelope_id(value), data.get("input_event"), data.get("decision"),
                                    int(count) if str(count or "").isdigit() else None))
    return sorted(found, key=lambda d: (d.partition, d.offset))


# ---------------------------------------------------------------------------------------------
# The check


@dataclass
class Verdict:
    acknowledged: int = 0
    attempted: int = 0
    stored: int = 0  # our transactions read back (distinct)
    decisions: int = 0
    alerts: int = 0
    indeterminate: int = 0  # unacknowledged transactions
    indeterminate_decided: int = 0  # of which with a decision
    lost: list = field(default_factory=list)  # (txn, why)
    duplicated: list = field(default_factory=list)  # (txn, kind, [decision descriptions])
    resent: list = field(default_factory=list)  # (txn, [decision descriptions]): same id stored again
    unexpected: list = field(default_factory=list)  # descriptions
    input_duplicated: list = field(default_factory=list)  # (txn, [where])
    wrong_count: list = field(default_factory=list)  # (txn, customer, expected, got, where)
    reordered: list = field(default_factory=list)  # (customer, earlier txn, its decision, later txn, its decision)
    asks: int = 0  # ask requests stored in the input topic

    @property
    def valid(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.input_duplicated or self.wrong_count
                    or self.reordered)

    @property
    def may_converge(self) -> bool:
        """Only decisions missing so far: reading again later may find them."""
        return bool(self.lost) and not (self.duplicated or self.unexpected or self.input_duplicated
                                        or self.wrong_count or self.reordered)

    def summary(self) -> str:
        head = (f"{self.acknowledged} acknowledged of {self.attempted} transactions, {self.stored} read back, "
                f"{self.decisions} decisions ({self.alerts} alerts); {self.indeterminate} unacknowledged, "
                f"{self.indeterminate_decided} of them decided" + (f"; {self.asks} asks in the input" if self.asks else ""))
        if self.valid:
            resent = f"; {len(self.resent)} decision(s) stored again with the same id, e.g. {self.resent[:EXAMPLES]}" if self.resent else ""
            return ("valid: " + head + "; every acknowledged transaction has exactly one decision (by id), "
                    "each customer's in order" + resent)
        parts = [head]
        for name, items in (("lost", self.lost), ("duplicated", self.duplicated), ("unexpected", self.unexpected),
                            ("input-duplicated", self.input_duplicated), ("wrong-count", self.wrong_count),
                            ("reordered", self.reordered)):
            if items:
                parts.append(f"{len(items)} {name}, e.g. {items[:EXAMPLES]}")
        return "INVALID: " + "; ".join(parts)


def check(published: list[dict], transactions: list[StoredTransaction], decisions: list[StoredDecision], strict: bool = False) -> Verdict:
    verdict = Verdict()
    attempts = {line["txn"]: line for line in published}
    acknowledged = {txn for txn, line in attempts.items() if line.get("outcome") == "ok"}
    verdict.attempted, verdict.acknowledged = len(attempts), len(acknowledged)
    verdict.indeterminate = len(attempts) - len(acknowledged)

    # The stored transactions: event id -> transaction, and where each transaction is stored.
    by_event: dict[str, StoredTransaction] = {}
    stored_at: dict[str, list[StoredTransaction]] = defaultdict(list)
    for stored in transactions:
        if stored.ask:
            verdict.asks += 1
            continue
        if stored.txn is None or stored.txn not in attempts:
            verdict.unexpected.append(f"transaction {stored.txn or '(no txn)'} at {stored.where}, never published")
            continue
        stored_at[stored.txn].append(stored)
        if stored.event_id:
            by_event[stored.event_id] = stored
    verdict.stored = len(stored_at)
    for txn, places in sorted(stored_at.items()):
        if len(places) > 1:
            verdict.input_duplicated.append((txn, [p.where for p in places]))

    # The decisions, each linked to its input through the input's event id.
    decided: dict[str, list[StoredDecision]] = defaultdict(list)
    for decision in decisions:
        verdict.decisions += 1
        verdict.alerts += decision.decision == "alert"
        stored = by_event.get(decision.input_event or "")
        if stored is None:
            verdict.unexpected.append(f"decision at {decision.where} (key {decision.key}) for input "
                                      f"{decision.input_event or '(unparsed)'}, no published transaction")
            continue
        decided[stored.txn].append(decision)

    for txn in sorted(acknowledged):
        if not decided.get(txn):
            line = attempts[txn]
            places = stored_at.get(txn)
            why = (f"stored at {', '.join(p.where for p in places)}, no decision" if places
                   else f"acknowledged at transactions-{line.get('partition')}@{line.get('offset')} but not read back")
            verdict.lost.append((txn, why))
    for txn, found in sorted(decided.items()):
        if len(found) > 1:
            described = [f"{d.where} id {d.event_id} {d.decision} count {d.count}" for d in found]
            if len({d.event_id for d in found}) == 1 and not strict:
                verdict.resent.append((txn, described))
            else:
                kind = "same id: sent again" if len({d.event_id for d in found}) == 1 else "distinct ids: handled again"
                verdict.duplicated.append((txn, kind, described))
        if txn not in acknowledged:
            verdict.indeterminate_decided += 1

    # The agent's state: per customer, the n-th stored transaction's decision says count n.
    for key, stored in _per_customer(transactions, attempts).items():
        for position, transaction in enumerate(stored, 1):
            for decision in decided.get(transaction.txn, []):
                if decision.count != position:
                    verdict.wrong_count.append((transaction.txn, key, position, decision.count, decision.where))
        # Per-key order: each transaction's first decision after the previous transaction's.
        previous = None
        for transaction in stored:
            first = min(decided.get(transaction.txn, []), key=lambda d: (d.partition, d.offset), default=None)
            if first is None:
                continue
            if previous is not None and (first.partition, first.offset) < (previous[1].partition, previous[1].offset):
                verdict.reordered.append((key, previous[0], previous[1].where, transaction.txn, first.where))
            previous = (transaction.txn, first)
    return verdict


def _per_customer(transactions: list[StoredTransaction], attempts: dict) -> dict:
    """customer -> its stored transactions in log order (a key's events share one partition)."""
    seen, result = set(), defaultdict(list)
    for stored in transactions:  # sorted by partition and offset
        if stored.txn in attempts and stored.txn not in seen:
            seen.add(stored.txn)
            result[stored.key].append(stored)
    return result
