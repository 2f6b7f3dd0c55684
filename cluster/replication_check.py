"""The replication checker: what a producer was told, against what can be read back.

It trusts nothing the system says about itself. Its inputs are
- the producer's outcome log (`ganglion workload produce --out`): one line per record the client
  tried, {"type":"ack","key","seq","partition","offset","ms"} when acknowledged (acks=all) or
  {"type":"fail","key","seq","error","ms"} when the client gave up (the record may or may not be stored);
- the read-back (`ganglion workload read --out`): {"partition","offset","key","value"} for every record
  up to each partition's high watermark, read from the partitions' leaders;
- each replica's own log files, parsed here from the data directories (Kafka's record batch v2
  format), so that a replica that is behind or diverged is seen even when it does not lead.

Values are "k<key>:<seq>": each key's sequence numbers increase by one per attempt. Anomalies:

- lost:         acknowledged, but not read back, or read back at another partition/offset than the ack said
- duplicated:   a value read back more than once
- reordered:    per key (within its partition), a sequence number lower than an earlier offset's
- unexpected:   read back, but never attempted (no outcome line for it), or not a "k<key>:<seq>" value
- replica-behind:   a replica's log lacks offsets below the high watermark (the read-back's end)
- replica-diverged: a replica holds another value than the read-back at an offset below the high watermark
- replica-extra:    a replica holds offsets at or past the high watermark once the load is over and the
                    ISR is full (a tail that was never committed and never truncated)

Not anomalies (reported as indeterminate): a failed record that is read back, or one that is not.
"""

from __future__ import annotations

import json
import re
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

VALUE = re.compile(r"^(k\d+):(\d+)$")
EXAMPLES = 5  # examples of each anomaly in a summary


# ---------------------------------------------------------------------------------------------
# Inputs


def load_jsonl(path) -> list[dict]:
    """The JSON lines of `path`; a torn last line (a writer killed mid-line) is left out."""
    lines = []
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return lines
    # Split on "\n" alone: str.splitlines also splits on U+0085, U+2028 and others, which a value read
    # back as UTF-8 text can hold (e.g. an event's varints), and would lose that line.
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def value_of(outcome: dict) -> str:
    """The value the producer sent for an outcome line: "k3:17"."""
    return f"{outcome['key']}:{outcome['seq']}"


def parse_value(value: str):
    """("k3", 17) for "k3:17", None for anything else."""
    match = VALUE.match(value or "")
    return (match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True)
class StoredRecord:
    """One record in a replica's log file."""

    offset: int
    leader_epoch: int  # of the leader that appended its batch
    key: str | None
    value: str | None
    timestamp: int = field(default=0, compare=False)  # ms: the batch's base timestamp plus the record's delta


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), position
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def parse_segment(data: bytes) -> list[StoredRecord]:
    """The records of one .log segment (record batch v2, uncompressed: what the node writes).
    Control batches are left out; parsing stops at the first batch that is torn or not a batch."""
    records = []
    position = 0
    while position + 61 <= len(data):
        base_offset, length, leader_epoch, magic = struct.unpack_from(">qiib", data, position)
        end = position + 12 + length
        if length < 49 or magic != 2 or end > len(data):
            break
        attributes, = struct.unpack_from(">h", data, position + 21)
        count, = struct.unpack_from(">i", data, position + 57)
        base_timestamp, = struct.unpack_from(">q", data, position + 27)
        if attributes & 0x07:
            raise ValueError(f"compressed batch at byte {position} (attributes {attributes})")
        cursor = position + 61
        try:
            for _ in range(count):
                size, cursor = _varint(data, cursor)
                record_end = cursor + size
                cursor += 1  # record attributes
                timestamp_delta, cursor = _varint(data, cursor)
                offset_delta, cursor = _varint(data, cursor)
                fields = []
                for _ in range(2):  # key, value
                    length_of, cursor = _varint(data, cursor)
                    if length_of < 0:
                        fields.append(None)
                    else:
                        fields.append(data[cursor:cursor + length_of].decode(errors="replace"))
                        cursor += length_of
                if not attributes & 0x20:
                    records.append(StoredRecord(base_offset + offset_delta, leader_epoch, fields[0], fields[1],
                                                base_timestamp + timestamp_delta))
                cursor = record_end
        except (IndexError, ValueError):
            break
        position = end
    return records


def read_replica(partition_dir) -> list[StoredRecord]:
    """Every record in a partition directory's segments, by offset (empty when there is none)."""
    records = []
    for segment in sorted(Path(partition_dir).glob("*.log")):
        records += parse_segment(segment.read_bytes())
    return sorted(records, key=lambda record: record.offset)


# ---------------------------------------------------------------------------------------------
# The verdict


@dataclass
class Verdict:
    acknowledged: int = 0
    failed: int = 0
    read: int = 0
    fail_reasons: Counter = field(default_factory=Counter)
    high_watermarks: dict = field(default_factory=dict)  # partition -> end of the read-back
    replicas_checked: int = 0
    lost: list = field(default_factory=list)  # descriptions
    duplicated: list = field(default_factory=list)
    reordered: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    replica_behind: list = field(default_factory=list)
    replica_diverged: list = field(default_factory=list)
    replica_extra: list = field(default_factory=list)
    failed_present: int = 0  # indeterminate, stored
    failed_absent: int = 0  # indeterminate, not stored
    replicas: dict = field(default_factory=dict, repr=False)  # what was parsed: node -> partition -> records

    ANOMALIES = ("lost", "duplicated", "reordered", "unexpected", "replica_behind", "replica_diverged",
                 "replica_extra")

    @property
    def valid(self) -> bool:
        return not any(getattr(self, name) for name in self.ANOMALIES)

    def counts(self) -> str:
        reasons = ", ".join(f"{count}× {reason}" for reason, count in self.fail_reasons.most_common(4))
        return (f"{self.acknowledged} acknowledged, {self.failed} failed{f' ({reasons})' if reasons else ''}, "
                f"{self.read} read back (high watermarks {dict(sorted(self.high_watermarks.items()))}), "
                f"{self.replicas_checked} replica logs parsed; indeterminate: {self.failed_present} failed but "
                f"stored, {self.failed_absent} failed and absent")

    def summary(self) -> str:
        if self.valid:
            return "valid: " + self.counts()
        parts = []
        for name in self.ANOMALIES:
            found = getattr(self, name)
            if found:
                examples = "; ".join(found[:EXAMPLES]) + (f"; … ({len(found) - EXAMPLES} more)" if len(found) > EXAMPLES else "")
                parts.append(f"{len(found)} {name.replace('_', '-')}: {examples}")
        return "INVALID: " + "\n      ".join(parts) + "\n      " + self.counts()


def short_reason(error: str) -> str:
    """The kind of a producer failure, for counting: its error code, or its first words."""
    match = re.search(r"\b(NOT_ENOUGH_REPLICAS|NOT_LEADER|TIMEOUT|notEnoughReplicas|notLeader|timeout|timedOut"
                      r"|unavailable|[a-z]+[A-Z][A-Za-z]+)\b", error or "")
    return match.group(1) if match else (error or "?")[:40]


def check(outcomes: list[dict], reads: list[dict], replicas: dict | None = None) -> Verdict:
    """Names every anomaly. `replicas`: node -> partition -> [StoredRecord] (None: skip that check)."""
    verdict = Verdict()
    acked = {}  # value -> (partition, offset, ms)
    failed = set()
    attempted = set()
    for line in outcomes:
        value = value_of(line)
        attempted.add(value)
        if line.get("type") == "ack":
            acked[value] = (int(line["partition"]), int(line["offset"]), line.get("ms"))
        else:
            failed.add(value)
            verdict.fail_reasons[short_reason(line.get("error", ""))] += 1
    verdict.acknowledged, verdict.failed, verdict.read = len(acked), len(failed - set(acked)), len(reads)

    positions = defaultdict(list)  # value -> [(partition, offset)]
    at = {}  # (partition, offset) -> value
    for record in reads:
        partition, offset, value = int(record["partition"]), int(record["offset"]), record.get("value")
        positions[value].append((partition, offset))
        at[(partition, offset)] = value
        verdict.high_watermarks[partition] = max(verdict.high_watermarks.get(partition, 0), offset + 1)

    for value, (partition, offset, ms) in sorted(acked.items(), key=lambda item: item[1]):
        found = positions.get(value, [])
        if (partition, offset) not in found:
            there = at.get((partition, offset))
            elsewhere = f"read back at {found}" if found else "not read back"
            verdict.lost.append(f"{value} acked at {partition}/{offset} (ms {ms}), {elsewhere}; "
                                f"{partition}/{offset} holds {there!r}" + _replicas_at(replicas, partition, offset))

    for value, found in sorted(positions.items(), key=lambda item: item[1]):
        if len(found) > 1:
            verdict.duplicated.append(f"{value} at {sorted(found)}")
        if value not in attempted:
            verdict.unexpected.append(f"{value!r} at {found}" + ("" if parse_value(value) else " (not k<key>:<seq>)"))

    by_key = defaultdict(list)  # (partition, key) -> [(offset, seq)]
    for record in reads:
        parsed = parse_value(record.get("value"))
        if parsed and len(positions[record["value"]]) == 1:
            by_key[(int(record["partition"]), parsed[0])].append((int(record["offset"]), parsed[1]))
    for (partition, key), entries in sorted(by_key.items()):
        entries.sort()
        highest = None
        for offset, seq in entries:
            if highest and seq < highest[1]:
                verdict.reordered.append(f"{key}:{seq} at {partition}/{offset} after {key}:{highest[1]} at "
                                         f"{partition}/{highest[0]}")
            if not highest or seq > highest[1]:
                highest = (offset, seq)

    for value in failed - set(acked):
        if value in positions:
            verdict.failed_present += 1
        else:
            verdict.failed_absent += 1

    if replicas is not None:
        verdict.replicas = replicas
        check_replicas(verdict, at, replicas)
    return verdict


def check_replicas(verdict: Verdict, at: dict, replicas: dict):
    """Every replica's log must hold exactly the read-back below the high watermark, and nothing past it."""
    for node, partitions in sorted(replicas.items()):
        for partition, records in sorted(partitions.items()):
            verdict.replicas_checked += 1
            high_watermark = verdict.high_watermarks.get(partition, 0)
            stored = {record.offset: record for record in records}
            expected = sorted(offset for (p, offset) in at if p == partition)
            missing = [offset for offset in expected if offset not in stored]
            if missing:
                verdict.replica_behind.append(f"{node} lacks {len(missing)} of partition {partition}'s "
                                              f"{len(expected)} records below {high_watermark}, first {missing[:5]}"
                                              f" (its log ends at {max(stored) + 1 if stored else 0})")
            different = [offset for offset in expected if offset in stored and stored[offset].value != at[(partition, offset)]]
            for offset in different[:EXAMPLES]:
                record = stored[offset]
                verdict.replica_diverged.append(f"{node} partition {partition} offset {offset}: {record.value!r} "
                                                f"(epoch {record.leader_epoch}), read back {at[(partition, offset)]!r}")
            unread = [record for record in records if record.offset < high_watermark and (partition, record.offset) not in at]
            for record in unread[:EXAMPLES]:
                verdict.replica_diverged.append(f"{node} partition {partition} offset {record.offset}: {record.value!r} "
                                                f"(epoch {record.leader_epoch}), which the read-back lacks")
            different += unread
            if len(different) > EXAMPLES:
                verdict.replica_diverged.append(f"{node} partition {partition}: {len(different)} offsets differ in all")
            extra = [record for record in records if record.offset >= high_watermark]
            if extra:
                verdict.replica_extra.append(f"{node} partition {partition} holds {len(extra)} records from offset "
                                             f"{extra[0].offset} ({extra[0].value!r}, epoch {extra[0].leader_epoch}) "
                                             f"past the high watermark {high_watermark}")


def epochs_of(replicas: dict, partition: int) -> dict:
    """offset -> leader epoch of the batch holding it, from the first replica log of `partition`
    (every replica holds the same records below the high watermark once the check passed)."""
    for node in sorted(replicas):
        if partition in replicas[node]:
            return {record.offset: record.leader_epoch for record in replicas[node][partition]}
    return {}


def _replicas_at(replicas: dict | None, partition: int, offset: int) -> str:
    if not replicas:
        return ""
    seen = []
    for node, partitions in sorted(replicas.items()):
        record = next((r for r in partitions.get(partition, []) if r.offset == offset), None)
        seen.append(f"{node}={record.value!r}@epoch{record.leader_epoch}" if record else f"{node}=none")
    return f"; replicas: {', '.join(seen)}"


# ---------------------------------------------------------------------------------------------
# Timing, from the outcome log


def acks(outcomes: list[dict], partition: int | None = None, after_ms: float = 0, before_ms: float = float("inf")) -> list[dict]:
    """Acknowledgements (of `partition`, if given) with after_ms < ms < before_ms, by time."""
    found = [line for line in outcomes if line.get("type") == "ack" and after_ms < line["ms"] < before_ms
             and (partition is None or int(line["partition"]) == partition)]
    return sorted(found, key=lambda line: line["ms"])


def in_flight_at(outcomes: list[dict], partition: int, fault_ms: float) -> set:
    """(key, seq) of each key's first acknowledgement on `partition` after `fault_ms`: the request the
    key had in flight when the fault began (the load keeps one in flight per key). Its records may
    have reached the followers before the fault and be acknowledged after it by the new leader, which
    finds them in its log (idempotent retry): stored in the old leader's epoch, yet not acknowledged
    by the old leader. Any later record of the key was sent after the fault began."""
    first = {}
    for line in acks(outcomes, partition, fault_ms):
        first.setdefault(line["key"], line["seq"])
    return set(first.items())


def longest_gaps(outcomes: list[dict], after_ms: float = 0, before_ms: float = float("inf")) -> dict:
    """partition -> (longest time in ms without an acknowledgement, the ms it started) in the window."""
    gaps = {}
    for partition in sorted({int(line["partition"]) for line in outcomes if line.get("type") == "ack"}):
        times = ([after_ms] if after_ms else []) + [line["ms"] for line in acks(outcomes, partition, after_ms, before_ms)]
        if before_ms != float("inf"):
            times.append(before_ms)
        best = max(((b - a, a) for a, b in zip(times, times[1:])), default=(0, after_ms))
        gaps[partition] = best
    return gaps
