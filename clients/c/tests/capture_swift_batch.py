#!/usr/bin/env python3
"""Writes a C header with batches the Swift producer built, as a node stored them, for the unit tests.

    capture_swift_batch.py NAME SEGMENT.log BATCH_INDEX >> swift_batches.h

Capture: run a node, `ganglion topic create T`, pipe a few JSON lines (some with "key") into
`ganglion publish T` (the Swift Producer: idempotent, RecordBatchBuilder), and point this at
<data-dir>/topics/T-0/00000000000000000000.log. The node wrote the base offset and leader epoch
(outside the CRC); they are set back to 0 here, so the bytes are exactly the Swift builder's.
The records' envelopes are decoded too, so the test can rebuild the same batch from the same
fields with the C library.
"""
import struct
import sys


def zigzag(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), i


def plain_varint(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def envelope_fields(value):
    """The EventEnvelope fields the CLI sets; anything else is refused."""
    fields, i = {}, 0
    names = {1: "id", 2: "source", 3: "spec_version", 4: "type", 7: "data_content_type", 9: "key", 17: "data"}
    while i < len(value):
        tag, i = plain_varint(value, i)
        number, wire = tag >> 3, tag & 7
        if wire != 2:
            raise SystemExit(f"unexpected wire type {wire} for field {number}")
        length, i = plain_varint(value, i)
        chunk = value[i:i + length]
        i += length
        if number == 6:
            j, time = 0, {"seconds": 0, "nanos": 0}
            while j < len(chunk):
                inner, j = plain_varint(chunk, j)
                number_inner = inner >> 3
                amount, j = plain_varint(chunk, j)
                time["seconds" if number_inner == 1 else "nanos"] = amount
            fields["time"] = time
        elif number in names:
            fields[names[number]] = chunk
        else:
            raise SystemExit(f"unexpected envelope field {number}")
    return fields


def c_bytes(data):
    return "{" + ", ".join(f"0x{b:02x}" for b in data) + "}" if data else "{0}"


def c_string(data):
    return '"' + "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\x{b:02x}" for b in data) + '"'


def main():
    name, path, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log = open(path, "rb").read()
    position = index = 0
    while index < wanted:
        position += 12 + struct.unpack(">i", log[position + 8:position + 12])[0]
        index += 1
    length = 12 + struct.unpack(">i", log[position + 8:position + 12])[0]
    batch = bytearray(log[position:position + length])
    batch[0:8] = bytes(8)    # base offset: written by the node
    batch[12:16] = bytes(4)  # leader epoch: written by the node
    first_timestamp, = struct.unpack(">q", batch[27:35])
    producer_id, epoch, base_sequence, count = struct.unpack(">qhii", batch[43:61])
    print(f"/* {path.split('/')[-2] if '/' in path else path}: batch {wanted} of the segment, by capture_swift_batch.py. */")
    print(f"static const uint8_t {name}_bytes[{len(batch)}] = {c_bytes(batch)};")
    print(f"static const swift_record {name}_records[{count}] = {{")
    i = 61
    for _ in range(count):
        record_length, i = zigzag(batch, i)
        start = i
        i += 1
        timestamp_delta, i = zigzag(batch, i)
        _, i = zigzag(batch, i)
        key_length, i = zigzag(batch, i)
        i += max(key_length, 0)
        value_length, i = zigzag(batch, i)
        value = batch[i:i + value_length]
        fields = envelope_fields(value)
        key = fields.get("key", b"")
        print("    {")
        print(f"        .id = {c_string(fields['id'])}, .source = {c_string(fields['source'])}, .type = {c_string(fields['type'])},")
        print(f"        .data_content_type = {c_string(fields.get('data_content_type', b''))},")
        print(f"        .time_unix_nanos = INT64_C({fields['time']['seconds'] * 1000000000 + fields['time']['nanos']}),")
        print(f"        .key = {c_string(key)}, .key_len = {len(key)}, .data = {c_string(fields.get('data', b''))}, .data_len = {len(fields.get('data', b''))},")
        print(f"        .timestamp_ms = INT64_C({first_timestamp + timestamp_delta}),")
        print("    },")
        i = start + record_length
    print("};")
    print(f"static const swift_batch {name} = {{.bytes = {name}_bytes, .length = {len(batch)}, .records = {name}_records, "
          f".count = {count}, .producer_id = {producer_id}, .producer_epoch = {epoch}, .base_sequence = {base_sequence}}};")


main()
