"""The demo-flow checker: every acknowledged CI push, document and task against the outcomes the demo
agents wrote (a commit's status, a saga's result, a task's verdicts), all read back in full. The fraud
flow has its own checker (agent_check.py); this one covers the three others the same way.

It trusts nothing the system says about itself. Its inputs are
- the publisher's outcome log (agents.Traffic): one line per input it tried to publish, with `flow`
  (`ci`, `saga` or `task`), `id` (the entity: the commit SHA, the document, the task — also the event's
  key), `outcome` (`ok` acknowledged, `fail` refused, `info` no answer) and what was sent;
- the read-back (`ganglion workload read`) of each flow's input topic (`ci.pushes`, `docs.events`,
  `tasks`), to tell a lost outcome of a stored input from an input that was never stored;
- the read-back of each flow's outcome topic (`ci.statuses`, `docs.outcomes`, `tasks.verified`).

What each acknowledged input must produce, from the demo agents' code (Sources/ganglion/Demo):
- ci (a `push` on `ci.pushes`, key = data `sha`): the three check agents report to `ci.checks` and the
  aggregator writes ONE `ci.status` on `ci.statuses` (key and data `sha`): `failure` when the message
  names `WIP` (lint), `break` (tests) or `secret` (security), else `success`, with each check's verdict
  in `checks`; or `timed_out`, naming the checks missing after the aggregator's 3 s join timeout
  (allowed, counted and shown: a check stalled > 3 s). Messages never say "slow runner" (the tests
  check then sleeps past the join timeout on purpose).
- saga (a `document.received` on `docs.events`, key = the document): on `docs.outcomes`, in this order,
  `document.completed` (detail `all steps done`); or for a name holding `corrupt`, `document.failed`
  (`validate failed …`) then `doc.compensated` `undid extract`; for `unroutable`, `document.failed`
  (`route failed …`), `undid validate`, `undid extract` (compensations newest first).
- task (a `task.submitted` on `tasks`, key = data `task`, with a `kind`): on `tasks.verified`, in this
  order (each identified by its type and the data's `requeued`, 0 when absent): plain, hangs and flaky
  tasks `task.verified`; a sloppy one `task.requeued`(0), `task.verified`(1); a hopeless one
  `task.requeued`(0), `task.requeued`(1), `task.escalated`(2).

Anomalies (each fails the check; Jepsen's names where they fit):
- lost:        an acknowledged input, or one read back, lacks an expected outcome (each example says
               whether the input itself was read back)
- duplicated:  an expected outcome stored more than once with distinct CloudEvent ids: handled twice
- unexpected:  an outcome the input should not produce (a wrong status or check verdict, a step that
               should not fail), for an entity never published, or that cannot be parsed
- reordered:   an entity's outcomes written by ONE agent in another order than it produced them
               (per-key order of a shard's output)
- causal-reordered: an entity's outcome stored before the outcome of an earlier handling, by another
               agent, that caused it (the saga's `document.failed` after the worker's `undid extract`,
               which its compensation command caused): a handling's emitted events reach their topics
               out of emit order, so a consumer sees an effect before its cause
- input-duplicated: an input stored more than once (the publisher sent each once)
Not anomalies: an outcome stored again with the SAME CloudEvent id (`resent`: the outbox sending again,
which README's "Effects once" allows; counted, failing only with `strict`); `timed_out` CI statuses
(counted); any complete or missing outcome of an unacknowledged input (indeterminate).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

EXAMPLES = 6
FLOWS = {  # flow -> (input topic, input type, outcome topic)
    "ci": ("ci.pushes", "push", "ci.statuses"),
    "saga": ("docs.events", "document.received", "docs.outcomes"),
    "task": ("tasks", "task.submitted", "tasks.verified"),
}
CI_FAILS = {"lint": "WIP", "tests": "break", "security": "secret"}
CI_MESSAGES = ["Fix flaky retry test", "WIP: new scoring model", "Bump dependencies", "Add audit trail",
               "break: refactor ledger", "Rotate secret in config", "Improve docs"]
DOC_NAMES = ["invoice", "contract", "corrupt-scan", "receipt", "unroutable-memo", "statement"]
TASK_KINDS = ["plain", "hangs", "plain", "flaky", "sloppy", "plain", "hopeless"]


# ---------------------------------------------------------------------------------------------
# What the publisher sends, and what each input must produce


def make_input(flow: str, number: int, prefix: str, rng) -> dict:
    """The `number`-th input of `flow`: a traffic item (topic, key, type, data) with its identity."""
    if flow == "ci":
        sha = f"{prefix}sha-{number:04d}"
        return {"flow": "ci", "id": sha, "topic": "ci.pushes", "key": sha, "type": "push",
                "data": {"sha": sha, "message": rng.choice(CI_MESSAGES)}}
    if flow == "saga":
        document = f"{prefix}doc-{number:04d}"
        return {"flow": "saga", "id": document, "topic": "docs.events", "key": document, "type": "document.received",
                "data": {"name": f"{rng.choice(DOC_NAMES)}-{number}"}}
    task = f"{prefix}task-{number:04d}"
    return {"flow": "task", "id": task, "topic": "tasks", "key": task, "type": "task.submitted",
            "data": {"kind": rng.choice(TASK_KINDS), "task": task}}


def expected_outcomes(item: dict) -> list[tuple]:
    """The outcomes an input must produce, in order, each as its identity (see `outcome_identity`)."""
    data = item["data"]
    if item["flow"] == "ci":
        return [("ci.status",)]
    if item["flow"] == "saga":
        name = data["name"]
        if "corrupt" in name:
            return [("document.failed", "validate"), ("doc.compensated", "undid extract")]
        if "unroutable" in name:
            return [("document.failed", "route"), ("doc.compensated", "undid validate"),
                    ("doc.compensated", "undid extract")]
        return [("document.completed", "all steps done")]
    kind = data["kind"]
    if kind == "sloppy":
        return [("task.requeued", 0), ("task.verified", 1)]
    if kind == "hopeless":
        return [("task.requeued", 0), ("task.requeued", 1), ("task.escalated", 2)]
    return [("task.verified", 0)]


def expected_ci_checks(message: str) -> dict:
    return {check: "failure" if word in message else "success" for check, word in CI_FAILS.items()}


# ---------------------------------------------------------------------------------------------
# Parsing what `workload read` printed


def envelope_head(value: str) -> dict:
    """Fields 1–5 of an envelope printed as UTF-8 text (id, source, spec_version, type, subject): they
    come first, in field order, each a tag byte, a length and ASCII text. A length under 128 is one byte,
    intact; a longer one (an id derived over many hops) is two, the first printed as U+FFFD, so the
    field is read up to the next field's tag (ids hold no control characters)."""
    names = {0x0A: "id", 0x12: "source", 0x1A: "spec_version", 0x22: "type", 0x2A: "subject"}
    found, at = {}, 0
    while at + 1 < len(value) and ord(value[at]) in names and names[ord(value[at])] not in found:
        name = names[ord(value[at])]
        if ord(value[at + 1]) < 0x80:
            length = ord(value[at + 1])
            found[name] = value[at + 2:at + 2 + length]
            at += 2 + length
            continue
        if value[at + 1] != "\ufffd" or at + 2 >= len(value):
            break
        following = [value.find(chr(tag), at + 3) for tag in names if tag > ord(value[at])]
        end = min((f for f in following if f > 0), default=-1)
        if end < 0 or not 0 <= (end - at - 3) - ord(value[at + 2]) * 128 < 128:
            break
        found[name] = value[at + 3:end]
        at = end
    return found


def json_data(value: str, required_key: str) -> dict | None:
    """The envelope's JSON data: the first object in the value (nested ones too) holding `required_key`."""
    decoder = json.JSONDecoder()
    at = value.find("{")
    while at >= 0:
        try:
            found, _ = decoder.raw_decode(value, at)
            if isinstance(found, dict) and required_key in found:
                return found
        except ValueError:
            pass
        at = value.find("{", at + 1)
    return None


@dataclass(frozen=True)
class Stored:
    """One record read back: where, its key, its envelope's id and type, and its JSON data."""
    topic: str
    partition: int
    offset: int
    key: str
    event_id: str | None
    type: str | None
    data: dict | None

    @property
    def where(self) -> str:
        return f"{self.topic}-{self.partition}@{self.offset}"


DATA_KEYS = {"ci.pushes": "sha", "docs.events": "name", "tasks": "task", "ci.statuses": "status",
             "docs.outcomes": "document", "tasks.verified": "task"}


def parse(topic: str, reads: list[dict]) -> list[Stored]:
    found = []
    for record in reads:
        value = record.get("value") or ""
        head = envelope_head(value)
        found.append(Stored(topic, int(record["partition"]), int(record["offset"]), record.get("key") or "",
                            head.get("id"), head.get("type"), json_data(value, DATA_KEYS.get(topic, ""))))
    return sorted(found, key=lambda s: (s.partition, s.offset))


def outcome_identity(flow: str, stored: Stored) -> tuple | None:
    """What tells an entity's outcomes apart: ci ("ci.status",); saga (type, the step that failed or
    the detail); task (type, requeued). None when it cannot be parsed."""
    data = stored.data or {}
    if stored.type is None or not data:
        return None
    if flow == "ci":
        return ("ci.status",) if stored.type == "ci.status" else (stored.type,)
    if flow == "saga":
        detail = str(data.get("detail", ""))
        return (stored.type, detail.split(" ")[0] if stored.type == "document.failed" else detail)
    return (stored.type, int(data.get("requeued", 0)))


# ---------------------------------------------------------------------------------------------
# The check


@dataclass
class Verdict:
    flows: dict = field(default_factory=dict)  # flow -> {"acknowledged", "attempted", "outcomes"}
    timed_out: list = field(default_factory=list)  # (sha, missing checks)
    lost: list = field(default_factory=list)
    duplicated: list = field(default_factory=list)
    resent: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    reordered: list = field(default_factory=list)
    causal_reordered: list = field(default_factory=list)
    input_duplicated: list = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.reordered or self.causal_reordered
                    or self.input_duplicated)

    @property
    def may_converge(self) -> bool:
        """Only outcomes missing so far: reading again later may find them."""
        return bool(self.lost) and not (self.duplicated or self.unexpected or self.reordered or self.causal_reordered
                                        or self.input_duplicated)

    def summary(self) -> str:
        head = "; ".join(f"{flow}: {c['acknowledged']} acknowledged of {c['attempted']}, {c['outcomes']} outcomes"
                         for flow, c in sorted(self.flows.items()))
        notes = []
        if self.timed_out:
            notes.append(f"{len(self.timed_out)} CI status(es) timed_out (a check > 3 s late), e.g. {self.timed_out[:EXAMPLES]}")
        if self.resent:
            notes.append(f"{len(self.resent)} outcome(s) stored again with the same id, e.g. {self.resent[:EXAMPLES]}")
        if self.valid:
            return ("valid: " + head + "; every acknowledged input has each expected outcome exactly once, in order"
                    + "".join("; " + note for note in notes))
        parts = [head]
        for name, items in (("lost", self.lost), ("duplicated", self.duplicated), ("unexpected", self.unexpected),
                            ("reordered", self.reordered), ("causal-reordered", self.causal_reordered),
                            ("input-duplicated", self.input_duplicated)):
            if items:
                parts.append(f"{len(items)} {name}, e.g. {items[:EXAMPLES]}")
        return "INVALID: " + "; ".join(parts + notes)


def check(published: list[dict], inputs: dict, outcomes: dict, strict: bool = False) -> Verdict:
    """`published`: the publisher's lines of the ci, saga and task flows; `inputs` and `outcomes`: topic
    -> [Stored] for each flow's input and outcome topic."""
    verdict = Verdict()
    for flow, (input_topic, input_type, outcome_topic) in FLOWS.items():
        attempts = {line["id"]: line for line in published if line.get("flow") == flow}
        acknowledged = {entity for entity, line in attempts.items() if line.get("outcome") == "ok"}
        stored_inputs = defaultdict(list)
        for stored in inputs.get(input_topic, []):
            if stored.type == input_type and stored.key in attempts and not (stored.data or {}).get("requeued"):
                stored_inputs[stored.key].append(stored)
        for entity, places in sorted(stored_inputs.items()):
            if len(places) > 1:
                verdict.input_duplicated.append((entity, [p.where for p in places]))

        by_entity = defaultdict(list)  # entity -> its outcomes in log order (one partition per key)
        for stored in outcomes.get(outcome_topic, []):
            entity = stored.key or str((stored.data or {}).get("sha") or (stored.data or {}).get("document") or "")
            if entity not in attempts:
                if entity.startswith(_prefix(attempts)):
                    verdict.unexpected.append(f"{stored.where} {stored.type} for {entity or '(no key)'}, never published")
                continue
            by_entity[entity].append(stored)
        verdict.flows[flow] = {"attempted": len(attempts), "acknowledged": len(acknowledged),
                               "outcomes": sum(len(found) for found in by_entity.values())}

        for entity, line in sorted(attempts.items()):
            _check_entity(verdict, flow, line, by_entity.get(entity, []), entity in acknowledged,
                          bool(stored_inputs.get(entity)), strict)
    return verdict


def _prefix(attempts: dict) -> str:
    """The scenario's prefix of entity names (`a2-`), so foreign records (the demo's own) are ignored."""
    first = next(iter(attempts), "")
    return first.split("-")[0] + "-" if "-" in first else "\0"


def _check_entity(verdict: Verdict, flow: str, line: dict, found: list, acknowledged: bool, input_stored: bool,
                  strict: bool):
    entity, expected = line["id"], expected_outcomes(line)
    # Copies of one outcome: the same id is a resend, distinct ids a second handling.
    copies = defaultdict(list)
    order = []
    for stored in found:
        identity = outcome_identity(flow, stored)
        if identity is None:
            verdict.unexpected.append(f"{stored.where}: outcome of {entity} that cannot be parsed (type {stored.type})")
            continue
        if identity not in copies:
            order.append(identity)
        copies[identity].append(stored)
    for identity, stored in copies.items():
        described = [f"{s.where} id {s.event_id}" for s in stored]
        if identity not in expected:
            verdict.unexpected.append((entity, identity, described, f"expected {expected}"))
        elif len(stored) > 1:
            if len({s.event_id for s in stored}) == 1 and not strict:
                verdict.resent.append((entity, identity, described))
            else:
                verdict.duplicated.append((entity, identity, described))
    if flow == "ci" and ("ci.status",) in copies:
        _check_ci_status(verdict, line, copies[("ci.status",)][0])
    present = [identity for identity in expected if identity in copies]
    if (acknowledged or input_stored) and len(present) < len(expected):
        verdict.lost.append((entity, [i for i in expected if i not in copies],
                             "input stored" if input_stored else "input acknowledged but not read back"))
    stored_order = [identity for identity in order if identity in expected]
    if stored_order != present:
        agents = {identity: producer(copies[identity][0]) for identity in stored_order}
        inverted = [(a, b) for i, a in enumerate(stored_order) for b in stored_order[i + 1:]
                    if expected.index(a) > expected.index(b)]
        same_agent = [(a, b) for a, b in inverted if agents[a] == agents[b]]
        described = (entity, "stored " + ", ".join(f"{i} by {agents[i]} at {copies[i][0].where}" for i in stored_order)
                     + f"; produced in order {expected}")
        (verdict.reordered if same_agent else verdict.causal_reordered).append(described)


def producer(stored: Stored) -> str:
    """The agent that wrote an outcome: the last agent named in its derived id (`…/AGENT/emit-N`)."""
    parts = (stored.event_id or "").split("/")
    return parts[-2] if len(parts) >= 3 else "?"


def _check_ci_status(verdict: Verdict, line: dict, stored: Stored):
    data = stored.data or {}
    checks = expected_ci_checks(line["data"]["message"])
    wanted = "failure" if "failure" in checks.values() else "success"
    got = data.get("checks") or {}
    if data.get("status") == "timed_out":
        missing = sorted(data.get("missing") or [])
        consistent = sorted(set(checks) - set(got)) == missing and all(got[c] == checks[c] for c in got)
        verdict.timed_out.append((line["id"], missing))
        if not consistent:
            verdict.unexpected.append((line["id"], f"timed_out with checks {got}, missing {missing}; expected {checks}"))
    elif data.get("status") != wanted or got != checks:
        verdict.unexpected.append((line["id"], f"{stored.where} status {data.get('status')} checks {got}; "
                                               f"expected {wanted} {checks} (message {line['data']['message']!r})"))
