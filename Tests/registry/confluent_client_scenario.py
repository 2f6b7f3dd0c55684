#!/usr/bin/env python3
"""Drive a Confluent-compatible Schema Registry with Confluent's own Python client.

Usage:
    python3 confluent_client_scenario.py <registry-base-url> [--with-serializer] [--basic-auth USER:TOKEN | --bearer TOKEN]

--basic-auth / --bearer: a node with security on; the client authenticates as Confluent's clients do
(`basic.auth.user.info`, or `bearer.auth.credentials.source: STATIC_TOKEN`), with a Ganglion HTTP token.
Before anything else the scenario checks that the same client without credentials is refused (401).

Needs (see docs/registry-api-notes.md section 6):
    pip install confluent-kafka==2.16.1 certifi attrs cachetools httpx2 authlib protobuf googleapis-common-protos
(`protobuf` is only needed for the descriptor cross-check and --with-serializer; without it those parts are skipped.)

No Kafka broker is involved: only SchemaRegistryClient talks to the registry. Every step prints one line,
`[ok] ...` or `[FAIL] ...`. On success the last stdout line is `FRAMED <hex>`: a Confluent-framed
protobuf record (magic 0, 4-byte big-endian schema id, message-index array, message bytes) encoded with the
id of schema v1, which stays registered under subject "audit-value" so a test can resolve it.
Exit status: 0 all assertions held, 1 an assertion failed or the registry misbehaved, 2 usage/import error.

--with-serializer additionally runs ProtobufSerializer/ProtobufDeserializer end to end (topic
"ganglion-scenario"): the serializer registers base64 FileDescriptorProto text, asks
/associations/... first (expects 404), and the deserializer fetches ?format=serialized.
"""

import struct
import sys

ORDERS = "orders-value"
AUDIT = "audit-value"
PACKAGE = "ganglion.scenario"

V1 = """syntax = "proto3";
package ganglion.scenario;

message Order {
  string order_id = 1;
  int32 quantity = 2;
  double price = 3;
}
"""

# v2: adds a field -> BACKWARD compatible with v1.
V2 = """syntax = "proto3";
package ganglion.scenario;

message Order {
  string order_id = 1;
  int32 quantity = 2;
  double price = 3;
  string customer = 4;
}
"""

# v3: changes field 2 from int32 to string -> FIELD_SCALAR_KIND_CHANGED, incompatible with v2.
V3 = """syntax = "proto3";
package ganglion.scenario;

message Order {
  string order_id = 1;
  string quantity = 2;
  double price = 3;
  string customer = 4;
}
"""

# The record framed at the end: Order{order_id: "o-1", quantity: 3, price: 9.5}
ORDER_ID, QUANTITY, PRICE = "o-1", 3, 9.5


class ScenarioFailure(Exception):
    pass


def ok(msg):
    print("[ok] " + msg, flush=True)


def check(cond, msg):
    if not cond:
        raise ScenarioFailure(msg)


# ---- hand encoder: protobuf wire format and Confluent framing -------------------------------------------------

def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(n):
    return (n << 1) ^ (n >> 63)


def field_key(number, wire_type):
    return uvarint((number << 3) | wire_type)


def encode_order(order_id, quantity, price):
    raw_id = order_id.encode("utf-8")
    return (field_key(1, 2) + uvarint(len(raw_id)) + raw_id   # string order_id = 1 (LEN)
            + field_key(2, 0) + uvarint(quantity)             # int32 quantity = 2 (VARINT, non-negative here)
            + field_key(3, 1) + struct.pack("<d", price))     # double price = 3 (I64, little-endian)


def message_indexes(indexes):
    """Confluent message-index array: zigzag(count) + zigzag(each); [0] is the single byte 0x00."""
    if list(indexes) == [0]:
        return b"\x00"
    return uvarint(zigzag(len(indexes))) + b"".join(uvarint(zigzag(i)) for i in indexes)


def frame(schema_id, indexes, payload):
    return b"\x00" + struct.pack(">I", schema_id) + message_indexes(indexes) + payload


# ---- optional: the same Order as a dynamic protobuf message (descriptor built in code) -----------------------

def order_message_class():
    """Order (v1) as a dynamic message class, or None when the protobuf package is missing."""
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool
        from google.protobuf.message_factory import GetMessageClass
    except ImportError:
        return None
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="ganglion/scenario/order.proto", package=PACKAGE, syntax="proto3")
    msg = fdp.message_type.add(name="Order")
    msg.field.add(name="order_id", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, json_name="orderId")
    msg.field.add(name="quantity", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL, json_name="quantity")
    msg.field.add(name="price", number=3, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL, json_name="price")
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(fdp.SerializeToString())
    return GetMessageClass(pool.FindMessageTypeByName(PACKAGE + ".Order"))


# ---- scenario ------------------------------------------------------------------------------------------------

def expect_error(fn, status, codes, what, text=None):
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    try:
        result = fn()
    except SchemaRegistryError as e:
        check(e.http_status_code == status,
              "%s: expected HTTP %d, got %d (%s)" % (what, status, e.http_status_code, e))
        check(e.error_code in codes, "%s: expected error_code in %s, got %r (%s)" % (what, codes, e.error_code, e))
        if text is not None:
            check(text in (e.error_message or ""),
                  "%s: expected message containing %r, got %r" % (what, text, e.error_message))
        return e
    raise ScenarioFailure("%s: expected HTTP %d error, got success %r" % (what, status, result))


def cleanup(client):
    """Make reruns against a persistent registry start clean. Only 'not found' answers are tolerated."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    for subject in (ORDERS, AUDIT, "ganglion-scenario-value"):
        for permanent in (False, True):
            try:
                client.delete_subject(subject, permanent=permanent)
            except SchemaRegistryError as e:
                if e.http_status_code != 404:
                    raise
        try:
            client.delete_mode(subject)
        except SchemaRegistryError as e:
            if e.http_status_code != 404:
                raise
    client.clear_caches()


def run(url, with_serializer, auth=None):
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.schema_registry.schema_registry_client import ConfigCompatibilityLevel, ServerConfig

    # max.retries 0: a 5xx must fail fast instead of being retried with multi-second backoff.
    conf = {"url": url, "max.retries": 0, "timeout": 30}
    if auth is not None:
        try:
            SchemaRegistryClient(dict(conf)).get_subjects()
            raise ScenarioFailure("a client without credentials was served by a node with security on")
        except SchemaRegistryError as e:
            check(e.http_status_code == 401, "no credentials: expected 401, got %s" % e.http_status_code)
            ok("no credentials: 401 (%s)" % e.error_message)
        kind, value = auth
        if kind == "basic":
            conf["basic.auth.user.info"] = value
        else:
            conf.update({"bearer.auth.credentials.source": "STATIC_TOKEN", "bearer.auth.token": value,
                         "bearer.auth.logical.cluster": "ganglion"})
    client = SchemaRegistryClient(conf)
    s1 = Schema(V1, "PROTOBUF")
    s2 = Schema(V2, "PROTOBUF")
    s3 = Schema(V3, "PROTOBUF")

    def fresh():
        # The client caches register/lookup/get results; clear them so each step really talks to the server.
        client.clear_caches()
        return client

    types = fresh().get_schema_types()
    check("PROTOBUF" in types, "GET /schemas/types should list PROTOBUF, got %r" % (types,))
    ok("GET /schemas/types -> %r" % (types,))

    cleanup(client)
    ok("cleanup of %s / %s from earlier runs" % (ORDERS, AUDIT))

    id1 = fresh().register_schema(ORDERS, s1)
    check(isinstance(id1, int) and id1 > 0, "register v1 should return a positive int id, got %r" % (id1,))
    ok("register v1 under %s -> id %d" % (ORDERS, id1))

    again = fresh().register_schema(ORDERS, s1)
    check(again == id1, "re-registering identical v1 should return id %d, got %r" % (id1, again))
    versions = fresh().get_versions(ORDERS)
    check(versions == [1], "identical re-register must not add a version; versions=%r" % (versions,))
    ok("re-register identical v1 -> same id %d, versions still [1]" % id1)

    found = fresh().lookup_schema(ORDERS, s1)
    check(found.schema_id == id1, "lookup id %r != %d" % (found.schema_id, id1))
    check(found.version == 1, "lookup version %r != 1" % (found.version,))
    check(found.subject == ORDERS, "lookup subject %r != %s" % (found.subject, ORDERS))
    ok("lookup_schema(%s, v1) -> id %d version 1" % (ORDERS, id1))

    by_id = fresh().get_schema(id1)
    check(by_id.schema_type == "PROTOBUF", "GET /schemas/ids/%d schemaType %r != PROTOBUF" % (id1, by_id.schema_type))
    check(by_id.schema_str and "Order" in by_id.schema_str and "quantity" in by_id.schema_str,
          "GET /schemas/ids/%d returned unexpected schema text %r" % (id1, by_id.schema_str))
    ok("get_schema(%d) -> PROTOBUF schema text" % id1)

    latest = fresh().get_latest_version(ORDERS)
    check((latest.schema_id, latest.version, latest.subject) == (id1, 1, ORDERS),
          "latest of %s = (%r, %r, %r), expected (%d, 1, %s)"
          % (ORDERS, latest.schema_id, latest.version, latest.subject, id1, ORDERS))
    check(latest.schema.schema_type == "PROTOBUF", "latest schemaType %r" % (latest.schema.schema_type,))
    ok("get_latest_version(%s) -> version 1, id %d" % (ORDERS, id1))

    v1 = fresh().get_version(ORDERS, 1)
    check((v1.schema_id, v1.version) == (id1, 1), "get_version(%s, 1) -> (%r, %r)" % (ORDERS, v1.schema_id, v1.version))
    ok("get_version(%s, 1) -> id %d" % (ORDERS, id1))

    check(fresh().test_compatibility(ORDERS, s2) is True, "v2 (added field) should be compatible with latest")
    check(fresh().test_compatibility(ORDERS, s2, version=1, verbose=True) is True,
          "v2 should be compatible with version 1 (verbose=True)")
    ok("test_compatibility(v2 adds a field) -> True")

    id2 = fresh().register_schema(ORDERS, s2)
    check(isinstance(id2, int) and id2 != id1, "v2 should get a new id, got %r (v1 is %d)" % (id2, id1))
    versions = fresh().get_versions(ORDERS)
    check(versions == [1, 2], "versions after v2 = %r, expected [1, 2]" % (versions,))
    latest = fresh().get_latest_version(ORDERS)
    check((latest.schema_id, latest.version) == (id2, 2), "latest after v2 = (%r, %r)" % (latest.schema_id, latest.version))
    ok("register v2 -> id %d, versions [1, 2]" % id2)

    check(fresh().test_compatibility(ORDERS, s3) is False, "v3 (int32 -> string) should be incompatible")
    check(fresh().test_compatibility_all_versions(ORDERS, s3) is False,
          "v3 should be incompatible against all versions")
    ok("test_compatibility(v3 changes int32 -> string) -> False")

    e = expect_error(lambda: fresh().register_schema(ORDERS, s3), 409, (409, 40901), "register incompatible v3",
                     text="incompatible")
    ok("register v3 -> 409 (error_code %s): %s" % (e.error_code, (e.error_message or "")[:100]))

    expect_error(lambda: fresh().lookup_schema(ORDERS, s3), 404, (40403,), "lookup of unregistered schema")
    expect_error(lambda: fresh().lookup_schema("ganglion-no-such-subject", s1), 404, (40401,),
                 "lookup under unknown subject")
    expect_error(lambda: fresh().get_version(ORDERS, 99), 404, (40402,), "get_version 99")
    expect_error(lambda: fresh().get_schema(987654321), 404, (40403,), "get_schema unknown id")
    ok("not-found errors: lookup 40403 / 40401, version 40402, schema id 40403")

    global_level = fresh().get_compatibility()
    check(global_level in [level.value for level in ConfigCompatibilityLevel],
          "GET /config compatibilityLevel %r is not a level" % (global_level,))
    put = fresh().set_config(ORDERS, ServerConfig(compatibility=ConfigCompatibilityLevel.NONE))
    check(isinstance(put, dict) and put.get("compatibility") == "NONE",
          "PUT /config/%s should echo {'compatibility': 'NONE'}, got %r" % (ORDERS, put))
    cfg = fresh().get_config(ORDERS)
    check(cfg.compatibility_level == ConfigCompatibilityLevel.NONE,
          "GET /config/%s compatibilityLevel %r != NONE" % (ORDERS, cfg.compatibility_level))
    check(fresh().get_compatibility(ORDERS) == "NONE", "get_compatibility(%s) != NONE" % ORDERS)
    check(fresh().get_compatibility() == global_level, "setting the subject level changed the global level")
    ok("set_config(%s, NONE) -> echoed; get_config -> NONE; global stays %s" % (ORDERS, global_level))

    id3 = fresh().register_schema(ORDERS, s3)
    check(id3 not in (id1, id2), "v3 should get a new id, got %r" % (id3,))
    check(fresh().get_versions(ORDERS) == [1, 2, 3], "versions after v3 should be [1, 2, 3]")
    ok("with NONE, register v3 -> id %d, version 3" % id3)

    audit_id = fresh().register_schema(AUDIT, s1)
    check(audit_id == id1, "same schema under a second subject should reuse id %d, got %r" % (id1, audit_id))
    check(fresh().get_versions(AUDIT) == [1], "%s versions should be [1]" % AUDIT)
    pairs = sorted((sv.subject, sv.version) for sv in fresh().get_schema_versions(id1))
    check(pairs == [(AUDIT, 1), (ORDERS, 1)], "GET /schemas/ids/%d/versions -> %r" % (id1, pairs))
    subjects = sorted(fresh().get_subjects_by_schema_id(id1))
    check(subjects == [AUDIT, ORDERS], "GET /schemas/ids/%d/subjects -> %r" % (id1, subjects))
    ok("register v1 under %s -> same id %d; /schemas/ids/%d/versions and /subjects list both" % (AUDIT, id1, id1))

    check(fresh().update_mode(AUDIT, "READONLY") == "READONLY", "PUT /mode/%s should echo READONLY" % AUDIT)
    check(fresh().get_mode(AUDIT) == "READONLY", "GET /mode/%s should be READONLY" % AUDIT)
    expect_error(lambda: fresh().register_schema(AUDIT, s2), 422, (42205,), "register under READONLY subject")
    fresh().delete_mode(AUDIT)
    check(fresh().get_global_mode() == "READWRITE", "global mode should be READWRITE")
    ok("mode READONLY on %s refuses a new schema with 42205; mode deleted again" % AUDIT)

    check(fresh().delete_version(ORDERS, 3) == 3, "DELETE /subjects/%s/versions/3 should return 3" % ORDERS)
    check(fresh().get_versions(ORDERS) == [1, 2], "versions after deleting 3 should be [1, 2]")
    check(fresh().get_versions(ORDERS, deleted=True) == [1, 2, 3], "versions?deleted=true should be [1, 2, 3]")
    ok("delete_version(%s, 3) -> 3; versions [1, 2], with deleted [1, 2, 3]" % ORDERS)

    soft = fresh().delete_subject(ORDERS)
    check(sorted(soft) == [1, 2], "soft DELETE /subjects/%s should return [1, 2], got %r" % (ORDERS, soft))
    live = fresh().get_subjects()
    check(ORDERS not in live and AUDIT in live, "GET /subjects after soft delete -> %r" % (live,))
    check(ORDERS in fresh().get_subjects(deleted=True), "GET /subjects?deleted=true should list %s" % ORDERS)
    expect_error(lambda: fresh().get_versions(ORDERS), 404, (40401,), "versions of soft-deleted subject")
    ok("delete_subject(%s) soft -> %r; hidden from /subjects, listed with deleted=true" % (ORDERS, soft))

    hard = fresh().delete_subject(ORDERS, permanent=True)
    check(sorted(hard) == [1, 2, 3], "permanent DELETE should return [1, 2, 3], got %r" % (hard,))
    check(ORDERS not in fresh().get_subjects(deleted=True), "%s should be gone after permanent delete" % ORDERS)
    again = fresh().get_schema(id1)
    check(again.schema_type == "PROTOBUF", "id %d must still resolve (held by %s)" % (id1, AUDIT))
    ok("delete_subject(%s, permanent=True) -> %r; id %d still resolves via %s" % (ORDERS, hard, id1, AUDIT))

    payload = encode_order(ORDER_ID, QUANTITY, PRICE)
    order_cls = order_message_class()
    if order_cls is not None:
        msg = order_cls(order_id=ORDER_ID, quantity=QUANTITY, price=PRICE)
        check(msg.SerializeToString() == payload, "hand-encoded Order differs from protobuf's encoding")
        ok("hand-encoded Order == protobuf dynamic message encoding (%d bytes)" % len(payload))
    else:
        ok("protobuf package not installed: descriptor cross-check skipped")

    framed = frame(id1, [0], payload)
    from confluent_kafka.schema_registry.serde import SchemaId
    prefix = SchemaId("PROTOBUF", id1, None, [0]).id_to_bytes()
    check(framed.startswith(prefix), "framing prefix %s != confluent_kafka's %s" % (framed.hex(), prefix.hex()))
    check(message_indexes([1, 2]) == SchemaId("PROTOBUF", 1, None, [1, 2]).id_to_bytes()[5:],
          "message-index encoding of [1, 2] differs from confluent_kafka's")
    ok("framing matches confluent_kafka SchemaId.id_to_bytes (magic 0, id %d, index [0])" % id1)

    if with_serializer:
        run_serializer(client, order_cls)

    print("FRAMED " + framed.hex(), flush=True)


def run_serializer(client, order_cls):
    """ProtobufSerializer/Deserializer through the registry (opt-in: needs base64 descriptors, format=serialized)."""
    check(order_cls is not None, "--with-serializer needs the protobuf package")
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic = "ganglion-scenario"
    ctx = SerializationContext(topic, MessageField.VALUE)
    client.clear_caches()
    ser = ProtobufSerializer(order_cls, client, {"auto.register.schemas": True})
    msg = order_cls(order_id=ORDER_ID, quantity=QUANTITY, price=PRICE)
    data = ser(msg, ctx)
    check(data[0] == 0 and data[5] == 0, "serializer output should be 00|id|00|payload, got %s" % data.hex())
    sid = struct.unpack(">I", data[1:5])[0]
    check(data[6:] == msg.SerializeToString(), "serializer payload differs from the message encoding")
    latest = client.get_latest_version(topic + "-value")
    check(latest.schema_id == sid, "serializer used id %d but %s-value latest is %r" % (sid, topic, latest.schema_id))
    ok("ProtobufSerializer registered base64 descriptor under %s-value as id %d: %s" % (topic, sid, data.hex()))

    client.clear_caches()
    de = ProtobufDeserializer(order_cls, {}, client)
    back = de(data, ctx)
    check(back == msg, "ProtobufDeserializer returned %r" % (back,))
    ok("ProtobufDeserializer (format=serialized) decoded the record back")


def main(argv):
    argv = list(argv)
    auth = None
    for option, kind in (("--basic-auth", "basic"), ("--bearer", "bearer")):
        if option in argv:
            at = argv.index(option)
            if at + 1 >= len(argv):
                print("%s needs a value" % option, file=sys.stderr)
                return 2
            auth = (kind, argv[at + 1])
            del argv[at:at + 2]
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = [a for a in argv[1:] if a.startswith("--")]
    if len(args) != 1 or set(flags) - {"--with-serializer"}:
        print("usage: %s <registry-base-url> [--with-serializer] [--basic-auth USER:TOKEN | --bearer TOKEN]" % argv[0], file=sys.stderr)
        return 2
    try:
        import confluent_kafka
        from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: F401
    except ImportError as e:
        print("[FAIL] cannot import confluent_kafka.schema_registry (%s); install: pip install "
              "confluent-kafka==2.16.1 certifi attrs cachetools httpx2 authlib protobuf googleapis-common-protos" % e)
        return 2
    print("confluent-kafka %s, registry %s" % (confluent_kafka.version(), args[0]), flush=True)
    try:
        run(args[0].rstrip("/"), "--with-serializer" in flags, auth)
    except ScenarioFailure as e:
        print("[FAIL] " + str(e), flush=True)
        return 1
    except Exception as e:  # SchemaRegistryError where success was expected, transport errors, ...
        print("[FAIL] unexpected %s: %s" % (type(e).__name__, e), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
