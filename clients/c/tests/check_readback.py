#!/usr/bin/env python3
"""Compares what the C producer sent with what the Swift side read back.

    check_readback.py EXPECTED.jsonl TAIL.jsonl HIGH_WATERMARK_TOTAL [--swift-keys N]

EXPECTED.jsonl: one line per event the C producer sent (integration_tests --expect), with the
partition and offset its delivery report gave. TAIL.jsonl: `ganglion tail --from-beginning`
output for the topic. Checks, exactly: every sent id is stored once and nothing else from the C
producer is; its key, type, source, subject, content type, extensions and payload bytes; that
the partition and offset are the ones the C producer reported; per-key order (offsets rise with
the per-key sequence); and that the topic holds exactly as many records as expected (no
duplicates hiding past the tail). With --swift-keys, the tail also holds events the Swift CLI
published with the same keys, and each key's C and Swift events share a partition (both sides
partition by murmur2 alike). Prints "readback: N passed, N failed" and exits non-zero on failure.
"""
import base64
import json
import sys
from collections import defaultdict

problems = []
checks = 0


def check(condition, message):
    global checks
    checks += 1
    if not condition:
        problems.append(message)


def main():
    expected_path, tail_path, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    swift_keys = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--swift-keys" else 0
    expected = [json.loads(line) for line in open(expected_path) if line.strip()]
    stored = [json.loads(line) for line in open(tail_path) if line.strip()]
    by_id = {}
    swift_partitions = defaultdict(set)
    for line in stored:
        event = line.get("event")
        check(event is not None, f"offset {line.get('partition')}@{line.get('offset')} holds no envelope")
        if event is None:
            continue
        if event.get("type") == "swift.cross-check":
            swift_partitions[line.get("key")].add(line["partition"])
            continue
        check(event["id"] not in by_id, f"{event['id']} is stored twice")
        by_id[event["id"]] = line

    check(len(expected) + swift_keys == total,
          f"the topic holds {total} records; {len(expected)} were sent from C and {swift_keys} from Swift")
    check(set(by_id) == {e["id"] for e in expected},
          f"ids differ: {len(set(e['id'] for e in expected) - set(by_id))} missing, {len(set(by_id) - set(e['id'] for e in expected))} unexpected")

    order = defaultdict(list)
    c_partitions = defaultdict(set)
    for sent in expected:
        line = by_id.get(sent["id"])
        if line is None:
            continue
        event = line["event"]
        where = f"{sent['id']}"
        check(line.get("key") == sent["key"], f"{where}: record key {line.get('key')!r}, sent {sent['key']!r}")
        check(base64.b64decode(event.get("key", "")) == sent["key"].encode(), f"{where}: envelope key differs")
        for field in ("type", "source", "subject", "dataContentType"):
            check(event.get(field) == sent[field], f"{where}: {field} {event.get(field)!r}, sent {sent[field]!r}")
        check(event.get("specVersion") == "1.0", f"{where}: specVersion {event.get('specVersion')!r}")
        check(event.get("extensions", {}) == sent["extensions"], f"{where}: extensions {event.get('extensions')}, sent {sent['extensions']}")
        check(base64.b64decode(event.get("data", "")) == base64.b64decode(sent["data"]),
              f"{where}: payload bytes differ ({len(base64.b64decode(event.get('data', '')))} stored, {len(base64.b64decode(sent['data']))} sent)")
        check("time" in event, f"{where}: no time")
        check((line["partition"], line["offset"]) == (sent["partition"], sent["offset"]),
              f"{where}: stored at {line['partition']}@{line['offset']}, the C producer was told {sent['partition']}@{sent['offset']}")
        order[sent["key"]].append((line["partition"], line["offset"], int(sent["extensions"]["seq"])))
        c_partitions[sent["key"]].add(line["partition"])

    for key, stored_events in order.items():
        check(len({p for p, _, _ in stored_events}) == 1, f"{key}: spread over partitions {sorted({p for p, _, _ in stored_events})}")
        by_offset = sorted(stored_events, key=lambda entry: entry[1])
        sequences = [seq for _, _, seq in by_offset]
        check(sequences == list(range(len(sequences))), f"{key}: per-key order broken: sequences by offset {sequences[:20]}…")

    if swift_keys:
        check(len(swift_partitions) == swift_keys, f"{len(swift_partitions)} of {swift_keys} Swift cross-check keys read back")
        for key, partitions in swift_partitions.items():
            check(partitions == c_partitions.get(key), f"{key}: Swift put it on {sorted(partitions)}, C on {sorted(c_partitions.get(key, []))}")

    for problem in problems[:30]:
        print("  " + problem)
    print(f"readback: {checks - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0


sys.exit(main())
