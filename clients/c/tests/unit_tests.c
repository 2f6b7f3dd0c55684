/*
 * Unit tests of the C producer: the batch encoder against known vectors and against batches the
 * Swift producer built, and the producer's protocol behaviour against a scripted fake node.
 * Prints one line per test and "N passed, N failed" last; exits non-zero on any failure.
 */
#define _GNU_SOURCE /* dladdr, to name where an unexpected allocation came from */
#include "fake_node.h"
#include "internal.h"
#include "swift_batches.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- A tiny harness ----------------------------------------------------------------------- */

static int checks_failed;

#define CHECK(condition, ...)                                                        \
    do {                                                                             \
        if (!(condition)) {                                                          \
            checks_failed++;                                                         \
            fprintf(stderr, "    %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #condition); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fprintf(stderr, "\n");                                                   \
        }                                                                            \
    } while (0)

static int tests_passed, tests_failed;

static void run(const char *name, void (*test)(void)) {
    int before = checks_failed;
    test();
    if (checks_failed == before) {
        tests_passed++;
        printf("ok   %s\n", name);
    } else {
        tests_failed++;
        printf("FAIL %s\n", name);
    }
    fflush(stdout);
}

static void hex_diff(const uint8_t *expected, const uint8_t *actual, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (expected[i] != actual[i]) {
            fprintf(stderr, "    first difference at byte %zu: expected 0x%02x, got 0x%02x\n", i, expected[i], actual[i]);
            return;
        }
    }
}

/* ---- Counting our own allocations (the library is linked with --wrap=malloc etc.) --------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
static _Thread_local int counting_allocations;
static _Thread_local long allocations;
/** Where the first counted allocation was called from (reset with `allocations`). */
static _Thread_local void *first_allocation_site;

static void count_allocation(void *site) {
    if (!counting_allocations) return;
    if (allocations++ == 0) first_allocation_site = site;
}

void *__wrap_malloc(size_t size) {
    count_allocation(__builtin_return_address(0));
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size) {
    count_allocation(__builtin_return_address(0));
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *pointer, size_t size) {
    count_allocation(__builtin_return_address(0));
    return __real_realloc(pointer, size);
}

/** The function and source line of a call site in this executable (addr2line), or its address. */
static const char *describe_site(void *site, char *out, size_t size) {
    snprintf(out, size, "%p", site);
    Dl_info info;
    if (!site || !dladdr(site, &info) || !info.dli_fbase) return out;
    char command[256];
    /* The return address is just past the call: one byte back is inside it. */
    snprintf(command, sizeof command, "addr2line -f -i -C -e /proc/%d/exe 0x%lx 2>/dev/null", (int)getpid(),
             (unsigned long)((uintptr_t)site - (uintptr_t)info.dli_fbase - 1));
    FILE *pipe = popen(command, "r");
    if (!pipe) return out;
    size_t used = strlen(out);
    char line[256];
    while (fgets(line, sizeof line, pipe) && used + 2 < size) {
        line[strcspn(line, "\n")] = '\0';
        used += (size_t)snprintf(out + used, size - used, " %s", line);
        if (used >= size) used = size - 1;
    }
    pclose(pipe);
    return out;
}

/* ---- The encoder -------------------------------------------------------------------------- */

static void test_crc32c_matches_known_vectors(void) {
    /* The CRC-32C check value, and RFC 3720 (iSCSI) B.4's vectors. */
    CHECK(gl_crc32c(0, "123456789", 9) == 0xE3069283u, "check value 0x%08x", gl_crc32c(0, "123456789", 9));
    uint8_t bytes[32];
    memset(bytes, 0, sizeof bytes);
    CHECK(gl_crc32c(0, bytes, 32) == 0x8A9136AAu, "32 zeros: 0x%08x", gl_crc32c(0, bytes, 32));
    memset(bytes, 0xFF, sizeof bytes);
    CHECK(gl_crc32c(0, bytes, 32) == 0x62A8AB43u, "32 0xff: 0x%08x", gl_crc32c(0, bytes, 32));
    for (int i = 0; i < 32; i++) bytes[i] = (uint8_t)i;
    CHECK(gl_crc32c(0, bytes, 32) == 0x46DD794Eu, "ascending: 0x%08x", gl_crc32c(0, bytes, 32));
    for (int i = 0; i < 32; i++) bytes[i] = (uint8_t)(31 - i);
    CHECK(gl_crc32c(0, bytes, 32) == 0x113FDB5Cu, "descending: 0x%08x", gl_crc32c(0, bytes, 32));
    CHECK(gl_crc32c(0, "", 0) == 0, "empty");
    /* In pieces (any split, unaligned) as in one go. */
    const char *text = "The quick brown fox jumps over the lazy dog, twice over.";
    size_t length = strlen(text);
    for (size_t split = 0; split <= length; split++) {
        uint32_t pieces = gl_crc32c(gl_crc32c(0, text, split), text + split, length - split);
        CHECK(pieces == gl_crc32c(0, text, length), "split at %zu", split);
    }
}

static void test_murmur2_matches_kafka(void) {
    /* The vectors of Kafka's UtilsTest.testMurmur2 (and Ganglion's KeyPartitionerTests). */
    struct {
        const char *key;
        int32_t hash;
    } vectors[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        int32_t hash = ganglion_murmur2(vectors[i].key, strlen(vectors[i].key));
        CHECK(hash == vectors[i].hash, "murmur2(%s) = %d, want %d", vectors[i].key, hash, vectors[i].hash);
    }
    /* murmur2("foobar") = -790332482 → positive 1357151166 → mod 12 = 6. */
    CHECK(ganglion_partition_for_key("foobar", 6, 12) == 1357151166u % 12, "foobar mod 12");
    for (uint32_t count = 1; count < 50; count++) {
        char key[32];
        snprintf(key, sizeof key, "account-%u", count * 7);
        CHECK(ganglion_partition_for_key(key, strlen(key), count) < count, "in range");
    }
}

static void test_varints_are_zigzag_encoded(void) {
    struct {
        int64_t value;
        const char *bytes;
        size_t length;
    } vectors[] = {
        {0, "\x00", 1}, {-1, "\x01", 1}, {1, "\x02", 1}, {63, "\x7e", 1}, {-64, "\x7f", 1}, {64, "\x80\x01", 2},
        {300, "\xd8\x04", 2}, {INT64_MAX, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10},
        {INT64_MIN, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t out[16];
        size_t length = (size_t)(gl_varint_put(out, vectors[i].value) - out);
        CHECK(length == vectors[i].length && gl_varint_size(vectors[i].value) == length &&
                  memcmp(out, vectors[i].bytes, length) == 0,
              "varint %lld", (long long)vectors[i].value);
    }
    CHECK(gl_sequence_after(5, 3) == 8, "sequence");
    CHECK(gl_sequence_after(INT32_MAX, 1) == INT32_MIN, "wraps as the node's &+ does");
}

/** Builds a batch from Swift-captured envelope fields with the library's own functions. */
static size_t build_like_swift(const swift_batch *swift, uint8_t *out, size_t capacity) {
    size_t length = GL_BATCH_HEADER_SIZE;
    int64_t first = swift->records[0].timestamp_ms;
    int64_t max = first;
    for (int i = 0; i < swift->count; i++) {
        const swift_record *record = &swift->records[i];
        ganglion_event event = {
            .id = record->id,
            .source = record->source,
            .type = record->type,
            .data_content_type = record->data_content_type,
            .time_unix_nanos = record->time_unix_nanos,
            .key = record->key,
            .key_len = record->key_len,
            .data = record->data,
            .data_len = record->data_len,
        };
        gl_envelope envelope;
        char error[256];
        if (gl_envelope_prepare(&envelope, &event, "/unused", "unused", 0, error, sizeof error) != GANGLION_OK) {
            CHECK(0, "prepare: %s", error);
            return 0;
        }
        /* `ganglion publish` stamps records with the time it enqueues them, not the event time. */
        int64_t timestamp = record->timestamp_ms;
        size_t value = protobuf_c_message_get_packed_size(&envelope.message.base);
        const void *key = record->key_len ? record->key : NULL;
        size_t size = gl_record_size(timestamp - first, i, key, record->key_len, value);
        if (length + size > capacity) return 0;
        uint8_t *at = gl_record_write(out + length, timestamp - first, i, key, record->key_len, value);
        size_t packed = protobuf_c_message_pack(&envelope.message.base, at);
        CHECK(packed == value, "packed size");
        CHECK((size_t)(at + value + 1 - (out + length)) == size, "record size agrees with what was written");
        length += size;
        if (timestamp > max) max = timestamp;
    }
    gl_batch_header header = {
        .record_count = swift->count,
        .first_timestamp = first,
        .max_timestamp = max,
        .producer_id = swift->producer_id,
        .producer_epoch = swift->producer_epoch,
        .base_sequence = swift->base_sequence,
    };
    gl_batch_seal(out, length, &header);
    return length;
}

static void test_batch_is_byte_for_byte_the_swift_builders(void) {
    const swift_batch *batches[] = {&swift_three_same_millisecond, &swift_second_batch_with_deltas};
    for (size_t b = 0; b < 2; b++) {
        uint8_t out[4096];
        size_t length = build_like_swift(batches[b], out, sizeof out);
        CHECK(length == batches[b]->length, "batch %zu: %zu bytes, Swift %zu", b, length, batches[b]->length);
        if (length == batches[b]->length) {
            int same = memcmp(out, batches[b]->bytes, length) == 0;
            CHECK(same, "batch %zu differs from the Swift builder's", b);
            if (!same) hex_diff(batches[b]->bytes, out, length);
        }
        /* And the stored CRC is the CRC32C of bytes 21… */
        uint32_t stored = fake_read32(batches[b]->bytes + 17);
        CHECK(stored == gl_crc32c(0, batches[b]->bytes + 21, batches[b]->length - 21), "Swift's CRC is CRC32C");
    }
}

/* ---- The envelope ------------------------------------------------------------------------- */

static void test_envelope_carries_every_field(void) {
    const ganglion_attribute extensions[] = {{"region", "eu-west"}, {"firmware", "1.4.2"}};
    const uint8_t data[] = {0, 1, 2, 0xFF, 0xFE, 0};
    ganglion_event event = {
        .id = "evt-1", .source = "/sensors/7", .type = "com.example.reading", .subject = "room-3",
        .time_unix_nanos = -1500000001, /* before the epoch: seconds floor, nanos positive */
        .data_content_type = "application/octet-stream", .data_schema = "urn:schema:1",
        .key = "dev-7", .key_len = 5, .schema_id = 9, .message_name = "demo.Reading",
        .correlation_id = "corr", .causation_id = "cause", .traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        .tracestate = "k=v", .extensions = extensions, .extension_count = 2, .data = data, .data_len = sizeof data,
    };
    gl_envelope envelope;
    char error[256];
    CHECK(gl_envelope_prepare(&envelope, &event, "/default", "gen", 0, error, sizeof error) == GANGLION_OK, "%s", error);
    CHECK(envelope.timestamp_ms == -1501, "timestamp %lld", (long long)envelope.timestamp_ms);
    uint8_t packed[1024];
    size_t length = protobuf_c_message_pack(&envelope.message.base, packed);
    Ganglion__V1__EventEnvelope *decoded =
        (Ganglion__V1__EventEnvelope *)protobuf_c_message_unpack(&ganglion__v1__event_envelope__descriptor, NULL, length, packed);
    CHECK(decoded != NULL, "decodes");
    if (!decoded) return;
    CHECK(strcmp(decoded->id, "evt-1") == 0 && strcmp(decoded->source, "/sensors/7") == 0 &&
              strcmp(decoded->spec_version, "1.0") == 0 && strcmp(decoded->type, "com.example.reading") == 0 &&
              strcmp(decoded->subject, "room-3") == 0 && strcmp(decoded->data_schema, "urn:schema:1") == 0 &&
              strcmp(decoded->message_name, "demo.Reading") == 0 && strcmp(decoded->correlation_id, "corr") == 0 &&
              strcmp(decoded->causation_id, "cause") == 0 && strcmp(decoded->tracestate, "k=v") == 0 &&
              decoded->schema_id == 9,
          "string fields");
    CHECK(decoded->time && decoded->time->seconds == -2 && decoded->time->nanos == 499999999, "time %lld.%d",
          decoded->time ? (long long)decoded->time->seconds : 0LL, decoded->time ? decoded->time->nanos : 0);
    CHECK(decoded->key.len == 5 && memcmp(decoded->key.data, "dev-7", 5) == 0, "key");
    CHECK(decoded->data.len == sizeof data && memcmp(decoded->data.data, data, sizeof data) == 0, "data bytes");
    CHECK(decoded->n_extensions == 2 && strcmp(decoded->extensions[0]->key, "region") == 0 &&
              strcmp(decoded->extensions[1]->value, "1.4.2") == 0,
          "extensions");
    protobuf_c_message_free_unpacked(&decoded->base, NULL);

    /* Defaults: the generated id, the configured source, now. */
    ganglion_event bare = {.type = "t"};
    CHECK(gl_envelope_prepare(&envelope, &bare, "/default", "gen-1", 1700000000123456789, error, sizeof error) == GANGLION_OK, "%s", error);
    CHECK(strcmp(envelope.message.id, "gen-1") == 0 && strcmp(envelope.message.source, "/default") == 0 &&
              envelope.timestamp_ms == 1700000000123,
          "defaults");
}

static void expect_refused(const ganglion_event *event, const char *fragment) {
    gl_envelope envelope;
    char error[256] = "";
    ganglion_status status = gl_envelope_prepare(&envelope, event, "/default", "gen", 0, error, sizeof error);
    CHECK(status == GANGLION_ERR_INVALID_ARGUMENT, "status %s for \"%s\"", ganglion_status_name(status), fragment);
    CHECK(strstr(error, fragment) != NULL, "message \"%s\" should name \"%s\"", error, fragment);
}

static void test_bad_events_are_refused_naming_the_field(void) {
    expect_refused(NULL, "event is NULL");
    expect_refused(&(ganglion_event){.id = "x"}, "event.type is required");
    expect_refused(&(ganglion_event){.type = "t", .id = ""}, "event.id is empty");
    expect_refused(&(ganglion_event){.type = "t", .key_len = 3}, "event.key is NULL");
    expect_refused(&(ganglion_event){.type = "t", .data_len = 3}, "event.data is NULL");
    expect_refused(&(ganglion_event){.type = "t", .subject = "\xff\xfe"}, "event.subject is not valid UTF-8");
    expect_refused(&(ganglion_event){.type = "t", .source = "\xc0\x80"}, "event.source is not valid UTF-8");
    expect_refused(&(ganglion_event){.type = "t", .extensions = &(ganglion_attribute){"Bad-Name", "v"}, .extension_count = 1},
                   "extensions[0].name \"Bad-Name\"");
    expect_refused(&(ganglion_event){.type = "t", .extensions = &(ganglion_attribute){"ok", NULL}, .extension_count = 1},
                   "NULL value");
    const ganglion_attribute twice[] = {{"a", "1"}, {"a", "2"}};
    expect_refused(&(ganglion_event){.type = "t", .extensions = twice, .extension_count = 2}, "names \"a\" twice");
    expect_refused(&(ganglion_event){.type = "t", .extensions = twice, .extension_count = 65}, "at most 64");
    CHECK(gl_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15), "valid UTF-8 accepted");
    CHECK(!gl_utf8_valid("\xed\xa0\x80", 3), "surrogates refused");
}

static void test_node_error_names_are_protocol_protos(void) {
    CHECK(ganglion__v1__error_code__descriptor.n_values == GANGLION_NODE_NOT_AUTHORIZED + 1,
          "ganglion.h mirrors %u error codes", ganglion__v1__error_code__descriptor.n_values);
    CHECK(strcmp(ganglion_node_error_name(GANGLION_NODE_UNKNOWN_TOPIC), "UNKNOWN_TOPIC") == 0, "UNKNOWN_TOPIC");
    CHECK(strcmp(ganglion_node_error_name(GANGLION_NODE_OUT_OF_ORDER_SEQUENCE), "OUT_OF_ORDER_SEQUENCE") == 0, "sequence");
    CHECK(strcmp(ganglion_node_error_name(GANGLION_NODE_NOT_CONTROLLER), "NOT_CONTROLLER") == 0, "NOT_CONTROLLER");
    CHECK(strcmp(ganglion_node_error_name(GANGLION_NODE_FENCED_LEADER_EPOCH), "FENCED_LEADER_EPOCH") == 0, "FENCED_LEADER_EPOCH");
    CHECK(strcmp(ganglion_node_error_name(GANGLION_NODE_NOT_ENOUGH_REPLICAS), "NOT_ENOUGH_REPLICAS") == 0, "NOT_ENOUGH_REPLICAS");
    CHECK(strcmp(ganglion_node_error_name(GANGLION_NODE_NOT_COORDINATOR), "NOT_COORDINATOR") == 0, "NOT_COORDINATOR");
    CHECK(strcmp(ganglion_node_error_name(GANGLION_NODE_NOT_AUTHORIZED), "NOT_AUTHORIZED") == 0, "NOT_AUTHORIZED");
    CHECK(strcmp(ganglion_node_error_name((ganglion_node_error)99), "UNKNOWN_ERROR_CODE") == 0, "unknown");
    CHECK(strcmp(ganglion_status_name(GANGLION_ERR_QUEUE_FULL), "GANGLION_ERR_QUEUE_FULL") == 0, "status name");
}

/* ---- Opening ------------------------------------------------------------------------------ */

static void test_bad_configuration_names_what_to_fix(void) {
    ganglion_producer *producer = (ganglion_producer *)1;
    char error[256];
    CHECK(ganglion_producer_new(NULL, &producer, error, sizeof error) == GANGLION_ERR_INVALID_ARGUMENT && !producer, "NULL config");
    ganglion_config config;
    ganglion_config_init(&config);
    CHECK(ganglion_producer_new(&config, &producer, error, sizeof error) == GANGLION_ERR_INVALID_ARGUMENT, "no bootstrap");
    CHECK(strstr(error, "config.bootstrap is required") != NULL, "%s", error);
    config.bootstrap = "localhost:7400";
    CHECK(ganglion_producer_new(&config, &producer, error, sizeof error) == GANGLION_ERR_INVALID_ARGUMENT, "no transport");
    CHECK(strstr(error, "localhost:7400") != NULL, "%s", error);
    config.bootstrap = " , ";
    CHECK(ganglion_producer_new(&config, &producer, error, sizeof error) == GANGLION_ERR_INVALID_ARGUMENT, "empty list");
    config.bootstrap = "tcp://127.0.0.1:1";
    config.max_batch_bytes = 64u << 20;
    CHECK(ganglion_producer_new(&config, &producer, error, sizeof error) == GANGLION_ERR_INVALID_ARGUMENT, "batch too big");
    CHECK(strstr(error, "max_batch_bytes") != NULL, "%s", error);
}

static void test_unreachable_bootstrap_names_every_endpoint(void) {
    ganglion_config config;
    ganglion_config_init(&config);
    config.bootstrap = "tcp://127.0.0.1:1,tcp://127.0.0.1:2";
    config.connect_timeout_ms = 150;
    ganglion_producer *producer = NULL;
    char error[512];
    CHECK(ganglion_producer_new(&config, &producer, error, sizeof error) == GANGLION_ERR_CONNECT && !producer, "status");
    CHECK(strstr(error, "tcp://127.0.0.1:1") && strstr(error, "tcp://127.0.0.1:2"), "%s", error);
}

/* ---- Against the fake node ---------------------------------------------------------------- */

typedef struct outcome {
    int reported;
    ganglion_status status;
    ganglion_node_error node_error;
    uint32_t partition;
    int64_t offset;
    char message[256];
} outcome;

static outcome outcomes[20000];
static int outcome_calls;

static void record_outcome(const ganglion_delivery *delivery, void *opaque) {
    (void)opaque;
    outcome *o = delivery->event_opaque;
    o->reported++;
    o->status = delivery->status;
    o->node_error = delivery->node_error;
    o->partition = delivery->partition;
    o->offset = delivery->offset;
    snprintf(o->message, sizeof o->message, "%s", delivery->message);
    outcome_calls++;
}

static ganglion_producer *open_producer(fake_node *node, ganglion_config *config) {
    config->bootstrap = node->endpoint;
    config->on_delivery = record_outcome;
    memset(outcomes, 0, sizeof outcomes);
    outcome_calls = 0;
    ganglion_producer *producer = NULL;
    char error[256];
    ganglion_status status = ganglion_producer_new(config, &producer, error, sizeof error);
    CHECK(status == GANGLION_OK, "open: %s", error);
    return producer;
}

static ganglion_status send_reading(ganglion_producer *producer, const char *topic, const char *key, int i) {
    char data[32];
    int length = snprintf(data, sizeof data, "reading %d", i);
    ganglion_event event = {.type = "sensor.reading", .key = key, .key_len = key ? strlen(key) : 0, .data = data, .data_len = (size_t)length};
    return ganglion_send(producer, topic, &event, &outcomes[i]);
}

static fake_batch fake_batch_at(fake_node *node, int index) {
    pthread_mutex_lock(&node->lock);
    fake_batch batch = index < node->batch_count ? node->batches[index] : (fake_batch){0};
    pthread_mutex_unlock(&node->lock);
    return batch;
}

static void test_a_node_that_stops_answering_is_left_for_the_next_endpoint(void) {
    fake_node *first = fake_node_start(1), *second = fake_node_start(1);
    char bootstrap[160];
    snprintf(bootstrap, sizeof bootstrap, "%s,%s", first->endpoint, second->endpoint);
    ganglion_config config;
    ganglion_config_init(&config);
    config.bootstrap = bootstrap;
    config.request_timeout_ms = 150;
    config.on_delivery = record_outcome;
    memset(outcomes, 0, sizeof outcomes);
    ganglion_producer *producer = NULL;
    char error[256];
    CHECK(ganglion_producer_new(&config, &producer, error, sizeof error) == GANGLION_OK, "%s", error);
    if (producer) {
        pthread_mutex_lock(&first->lock);
        first->drop_produce = 1000; /* alive for metadata, silent for produce */
        pthread_mutex_unlock(&first->lock);
        send_reading(producer, "t", "k", 0);
        CHECK(ganglion_flush(producer, 5000) == GANGLION_OK, "%s", ganglion_last_error(producer));
        ganglion_stats stats;
        ganglion_producer_stats(producer, &stats);
        CHECK(outcomes[0].status == GANGLION_OK && strcmp(stats.endpoint, second->endpoint) == 0, "stored via %s", stats.endpoint);
        CHECK(second->next_offset[0] == 1, "the second node stored it");
        ganglion_producer_free(producer);
    }
    fake_node_stop(first);
    fake_node_stop(second);
}

static void test_events_are_acknowledged_with_partition_and_offset(void) {
    fake_node *node = fake_node_start(3);
    ganglion_config config;
    ganglion_config_init(&config);
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    const char *keys[] = {"dev-1", "dev-2", "dev-3", "dev-4"};
    for (int i = 0; i < 40; i++) CHECK(send_reading(producer, "readings", keys[i % 4], i) == GANGLION_OK, "%s", ganglion_last_error(producer));
    CHECK(ganglion_flush(producer, 5000) == GANGLION_OK, "%s", ganglion_last_error(producer));
    int64_t next[3] = {0, 0, 0};
    for (int i = 0; i < 40; i++) {
        uint32_t want = ganglion_partition_for_key(keys[i % 4], 5, 3);
        CHECK(outcomes[i].reported == 1 && outcomes[i].status == GANGLION_OK, "event %d: %d reports, %s", i, outcomes[i].reported,
              ganglion_status_name(outcomes[i].status));
        CHECK(outcomes[i].partition == want, "event %d on partition %u, murmur2 says %u", i, outcomes[i].partition, want);
        CHECK(outcomes[i].offset == next[want], "event %d offset %lld, want %lld (in send order)", i, (long long)outcomes[i].offset,
              (long long)next[want]);
        next[want] = outcomes[i].offset + 1;
    }
    ganglion_stats stats;
    ganglion_producer_stats(producer, &stats);
    CHECK(stats.producer_id == 42 && stats.events_stored == 40 && stats.events_failed == 0, "stats");
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_sequences_advance_per_partition_from_the_issued_id(void) {
    fake_node *node = fake_node_start(1);
    ganglion_config config;
    ganglion_config_init(&config);
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    for (int i = 0; i < 3; i++) send_reading(producer, "t", "k", i);
    CHECK(ganglion_flush(producer, 5000) == GANGLION_OK, "first flush");
    for (int i = 3; i < 5; i++) send_reading(producer, "t", "k", i);
    CHECK(ganglion_flush(producer, 5000) == GANGLION_OK, "second flush");
    fake_batch first = fake_batch_at(node, 0), second = fake_batch_at(node, 1);
    CHECK(first.bytes && second.bytes, "two batches");
    if (first.bytes && second.bytes) {
        CHECK(fake_read32(first.bytes + 57) == 3 && fake_read32(first.bytes + 53) == 0, "first: 3 records from sequence 0");
        CHECK(fake_read32(second.bytes + 57) == 2 && fake_read32(second.bytes + 53) == 3, "second: from sequence 3");
        CHECK(fake_read32(first.bytes + 47) == 42 && first.bytes[52] == 0, "producer id 42, epoch 0");
        CHECK(fake_read32(first.bytes + 17) == gl_crc32c(0, first.bytes + 21, first.length - 21), "CRC");
    }
    CHECK(outcomes[4].offset == 4, "offset %lld", (long long)outcomes[4].offset);
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_unanswered_batch_is_resent_byte_for_byte_and_stored_once(void) {
    fake_node *node = fake_node_start(1);
    node->drop_produce = 1;
    ganglion_config config;
    ganglion_config_init(&config);
    config.request_timeout_ms = 150;
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    for (int i = 0; i < 5; i++) send_reading(producer, "t", "k", i);
    CHECK(ganglion_flush(producer, 5000) == GANGLION_OK, "%s", ganglion_last_error(producer));
    fake_batch sent = fake_batch_at(node, 0), resent = fake_batch_at(node, 1);
    CHECK(sent.bytes && resent.bytes, "sent twice");
    if (sent.bytes && resent.bytes) {
        CHECK(sent.length == resent.length && memcmp(sent.bytes, resent.bytes, sent.length) == 0, "the same bytes, sequence and CRC");
        CHECK(sent.request_id != resent.request_id, "a new request id");
    }
    for (int i = 0; i < 5; i++) CHECK(outcomes[i].reported == 1 && outcomes[i].offset == i, "event %d once at offset %d", i, i);
    ganglion_stats stats;
    ganglion_producer_stats(producer, &stats);
    CHECK(stats.batches_resent == 1 && stats.reconnects == 1, "resent %llu, reconnects %llu", (unsigned long long)stats.batches_resent,
          (unsigned long long)stats.reconnects);
    CHECK(node->next_offset[0] == 5, "stored once: %lld", (long long)node->next_offset[0]);
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_busy_is_retried_with_the_same_sequence(void) {
    fake_node *node = fake_node_start(1);
    node->busy_produce = 2;
    ganglion_config config;
    ganglion_config_init(&config);
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    send_reading(producer, "t", "k", 0);
    CHECK(ganglion_flush(producer, 5000) == GANGLION_OK, "%s", ganglion_last_error(producer));
    CHECK(node->produce_requests == 3, "3 attempts, got %d", node->produce_requests);
    fake_batch a = fake_batch_at(node, 0), c = fake_batch_at(node, 2);
    CHECK(a.bytes && c.bytes && a.length == c.length && memcmp(a.bytes, c.bytes, a.length) == 0, "identical batches");
    CHECK(outcomes[0].reported == 1 && outcomes[0].status == GANGLION_OK && outcomes[0].offset == 0, "stored");
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_refused_batch_reports_the_nodes_error_and_frees_its_sequence(void) {
    fake_node *node = fake_node_start(1);
    node->refuse_produce = 1;
    node->refuse_with = GANGLION_NODE_SCHEMA_VIOLATION;
    ganglion_config config;
    ganglion_config_init(&config);
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    send_reading(producer, "t", "k", 0);
    CHECK(ganglion_flush(producer, 5000) == GANGLION_OK, "flush");
    CHECK(outcomes[0].reported == 1 && outcomes[0].status == GANGLION_ERR_NODE &&
              outcomes[0].node_error == GANGLION_NODE_SCHEMA_VIOLATION && outcomes[0].offset == -1 &&
              strstr(outcomes[0].message, "refused by the fake node"),
          "outcome %s %s \"%s\"", ganglion_status_name(outcomes[0].status), ganglion_node_error_name(outcomes[0].node_error),
          outcomes[0].message);
    send_reading(producer, "t", "k", 1);
    CHECK(ganglion_flush(producer, 5000) == GANGLION_OK, "flush");
    fake_batch second = fake_batch_at(node, 1);
    CHECK(second.bytes && fake_read32(second.bytes + 53) == 0, "the refused batch's sequence is used again");
    CHECK(outcomes[1].status == GANGLION_OK, "then stored");
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_unknown_topic_is_a_clear_send_error(void) {
    fake_node *node = fake_node_start(1);
    ganglion_config config;
    ganglion_config_init(&config);
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    CHECK(send_reading(producer, "missing", "k", 0) == GANGLION_ERR_NODE, "status");
    CHECK(ganglion_last_node_error(producer) == GANGLION_NODE_UNKNOWN_TOPIC, "node error %s",
          ganglion_node_error_name(ganglion_last_node_error(producer)));
    CHECK(strstr(ganglion_last_error(producer), "ganglion topic create missing"), "%s", ganglion_last_error(producer));
    CHECK(send_reading(producer, "bad topic!", "k", 0) == GANGLION_ERR_INVALID_ARGUMENT, "bad name");
    CHECK(strstr(ganglion_last_error(producer), "1-249 characters"), "%s", ganglion_last_error(producer));
    CHECK(ganglion_send(producer, NULL, &(ganglion_event){.type = "t"}, NULL) == GANGLION_ERR_INVALID_ARGUMENT, "NULL topic");
    CHECK(ganglion_send(producer, "t", NULL, NULL) == GANGLION_ERR_INVALID_ARGUMENT, "NULL event");
    CHECK(ganglion_send(NULL, "t", &(ganglion_event){.type = "t"}, NULL) == GANGLION_ERR_INVALID_ARGUMENT, "NULL producer");
    static uint8_t big[600 * 1024];
    ganglion_event large = {.type = "t", .data = big, .data_len = sizeof big};
    CHECK(ganglion_send(producer, "t", &large, NULL) == GANGLION_ERR_TOO_LARGE, "oversized payload");
    CHECK(strstr(ganglion_last_error(producer), "exceeds the limit"), "%s", ganglion_last_error(producer));
    CHECK(ganglion_queued(producer) == 0, "nothing queued");
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_full_queue_is_reported_and_every_event_gets_one_outcome(void) {
    fake_node *node = fake_node_start(1);
    node->drop_produce = 1000;
    ganglion_config config;
    ganglion_config_init(&config);
    config.queue_capacity = 5;
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    for (int i = 0; i < 5; i++) CHECK(send_reading(producer, "t", "k", i) == GANGLION_OK, "event %d", i);
    CHECK(send_reading(producer, "t", "k", 5) == GANGLION_ERR_QUEUE_FULL, "the sixth");
    CHECK(strstr(ganglion_last_error(producer), "queue full"), "%s", ganglion_last_error(producer));
    CHECK(ganglion_flush(producer, 100) == GANGLION_ERR_TIMEOUT, "nothing answers");
    ganglion_producer_free(producer);
    for (int i = 0; i < 5; i++) CHECK(outcomes[i].reported == 1 && outcomes[i].status == GANGLION_ERR_CLOSED, "event %d closed", i);
    CHECK(outcomes[5].reported == 0, "the refused one is never reported");
    fake_node_stop(node);
}

static void test_exhausted_retries_report_timeout_and_bump_the_epoch(void) {
    fake_node *node = fake_node_start(1);
    node->drop_produce = 3;
    ganglion_config config;
    ganglion_config_init(&config);
    config.request_timeout_ms = 100;
    config.max_attempts = 3;
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    send_reading(producer, "t", "k", 0);
    ganglion_flush(producer, 5000);
    CHECK(outcomes[0].reported == 1 && outcomes[0].status == GANGLION_ERR_TIMEOUT && strstr(outcomes[0].message, "may or may not"),
          "%s: %s", ganglion_status_name(outcomes[0].status), outcomes[0].message);
    send_reading(producer, "t", "k", 1);
    CHECK(ganglion_flush(producer, 5000) == GANGLION_OK, "%s", ganglion_last_error(producer));
    CHECK(node->init_requests == 2 && node->last_resumed_id == 42, "the epoch of id 42 was bumped");
    fake_batch after = fake_batch_at(node, 3);
    CHECK(after.bytes && after.bytes[52] == 1 && fake_read32(after.bytes + 53) == 0, "epoch 1 starts at sequence 0");
    CHECK(outcomes[1].status == GANGLION_OK, "stored after the bump");
    ganglion_stats stats;
    ganglion_producer_stats(producer, &stats);
    CHECK(stats.producer_epoch == 1, "epoch %d", stats.producer_epoch);
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_fenced_producer_sends_nothing_more(void) {
    fake_node *node = fake_node_start(1);
    node->refuse_produce = 1;
    node->refuse_with = GANGLION_NODE_INVALID_PRODUCER_EPOCH;
    ganglion_config config;
    ganglion_config_init(&config);
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    send_reading(producer, "t", "k", 0);
    ganglion_flush(producer, 5000);
    CHECK(outcomes[0].status == GANGLION_ERR_FENCED, "%s", ganglion_status_name(outcomes[0].status));
    CHECK(send_reading(producer, "t", "k", 1) == GANGLION_ERR_FENCED, "later sends refused");
    CHECK(strstr(ganglion_last_error(producer), "fenced"), "%s", ganglion_last_error(producer));
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_bootstrap_moves_on_to_the_next_endpoint(void) {
    fake_node *node = fake_node_start(1);
    char bootstrap[160];
    snprintf(bootstrap, sizeof bootstrap, "tcp://127.0.0.1:1, %s", node->endpoint);
    ganglion_config config;
    ganglion_config_init(&config);
    config.connect_timeout_ms = 200;
    config.bootstrap = bootstrap;
    ganglion_producer *producer = NULL;
    char error[256];
    CHECK(ganglion_producer_new(&config, &producer, error, sizeof error) == GANGLION_OK, "%s", error);
    if (producer) {
        ganglion_stats stats;
        ganglion_producer_stats(producer, &stats);
        CHECK(strcmp(stats.endpoint, node->endpoint) == 0, "talks to %s", stats.endpoint);
        ganglion_producer_free(producer);
    }
    fake_node_stop(node);
}

static void test_acks_none_reports_at_once_without_offsets(void) {
    fake_node *node = fake_node_start(1);
    ganglion_config config;
    ganglion_config_init(&config);
    config.acks = GANGLION_ACKS_NONE;
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    for (int i = 0; i < 3; i++) send_reading(producer, "t", "k", i);
    CHECK(ganglion_flush(producer, 2000) == GANGLION_OK, "%s", ganglion_last_error(producer));
    for (int i = 0; i < 3; i++) CHECK(outcomes[i].reported == 1 && outcomes[i].status == GANGLION_OK && outcomes[i].offset == -1, "event %d", i);
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_non_idempotent_batches_carry_no_producer_id(void) {
    fake_node *node = fake_node_start(1);
    ganglion_config config;
    ganglion_config_init(&config);
    config.idempotent = 0;
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    send_reading(producer, "t", "k", 0);
    CHECK(ganglion_flush(producer, 2000) == GANGLION_OK, "%s", ganglion_last_error(producer));
    CHECK(node->init_requests == 0, "no producer id asked for");
    fake_batch batch = fake_batch_at(node, 0);
    CHECK(batch.bytes && fake_read32(batch.bytes + 43) == 0xFFFFFFFFu && fake_read32(batch.bytes + 47) == 0xFFFFFFFFu &&
              batch.bytes[51] == 0xFF && batch.bytes[52] == 0xFF && fake_read32(batch.bytes + 53) == 0xFFFFFFFFu,
          "producer id, epoch and sequence are -1");
    CHECK(outcomes[0].status == GANGLION_OK, "stored");
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_partition_count_is_read_again_after_its_max_age(void) {
    fake_node *node = fake_node_start(1);
    ganglion_config config;
    ganglion_config_init(&config);
    config.metadata_max_age_ms = 50;
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    const char *key = "foobar"; /* murmur2 → 1357151166: partition 0 of 1, 6 of 12 */
    send_reading(producer, "t", key, 0);
    CHECK(ganglion_flush(producer, 2000) == GANGLION_OK, "flush");
    CHECK(outcomes[0].partition == 0, "one partition");
    pthread_mutex_lock(&node->lock);
    node->partitions = 12;
    pthread_mutex_unlock(&node->lock);
    struct timespec pause = {.tv_nsec = 150 * 1000000L};
    nanosleep(&pause, NULL);
    for (int i = 0; i < 5; i++) ganglion_poll(producer, 20); /* the refresh goes out and its answer comes back */
    send_reading(producer, "t", key, 1);
    CHECK(ganglion_flush(producer, 2000) == GANGLION_OK, "flush");
    CHECK(outcomes[1].partition == 1357151166u % 12, "now on partition %u of 12", outcomes[1].partition);
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

static void test_nothing_is_allocated_on_the_send_path_once_warm(void) {
    fake_node *node = fake_node_start(1);
    ganglion_config config;
    ganglion_config_init(&config);
    config.max_batch_records = 50; /* every batch is full: each ring slot reaches its largest size */
    config.linger_ms = 10000;
    ganglion_producer *producer = open_producer(node, &config);
    if (!producer) return fake_node_stop(node);
    char data[256];
    memset(data, 'x', sizeof data);
    long warming = 0;
    for (int round = 0; round < 2; round++) {
        counting_allocations = 1;
        allocations = 0;
        first_allocation_site = NULL;
        for (int i = 0; i < 2000; i++) {
            char id[32];
            snprintf(id, sizeof id, "evt-%06d", round * 2000 + i);
            ganglion_event event = {.id = id, .type = "sensor.reading", .key = "dev-1", .key_len = 5, .data = data, .data_len = sizeof data,
                                    .extensions = &(ganglion_attribute){"unit", "celsius"}, .extension_count = 1};
            ganglion_status status;
            while ((status = ganglion_send(producer, "t", &event, &outcomes[i])) == GANGLION_ERR_QUEUE_FULL) ganglion_poll(producer, 10);
            CHECK(status == GANGLION_OK, "%s", ganglion_last_error(producer));
            ganglion_poll(producer, 0);
        }
        CHECK(ganglion_flush(producer, 10000) == GANGLION_OK, "flush");
        counting_allocations = 0;
        if (round == 0) warming = allocations;
    }
    CHECK(warming > 0, "the warm-up allocates (else the counting is broken)");
    char site[512];
    CHECK(allocations == 0, "%ld allocations while sending 2000 events after warm-up, the first called at %s", allocations,
          allocations ? describe_site(first_allocation_site, site, sizeof site) : "-");
    ganglion_producer_free(producer);
    fake_node_stop(node);
}

int main(void) {
    run("crc32c matches known vectors", test_crc32c_matches_known_vectors);
    run("murmur2 matches Kafka", test_murmur2_matches_kafka);
    run("varints are zig-zag encoded", test_varints_are_zigzag_encoded);
    run("batch is byte for byte the Swift builder's", test_batch_is_byte_for_byte_the_swift_builders);
    run("envelope carries every field", test_envelope_carries_every_field);
    run("bad events are refused naming the field", test_bad_events_are_refused_naming_the_field);
    run("node error names are protocol.proto's", test_node_error_names_are_protocol_protos);
    run("bad configuration names what to fix", test_bad_configuration_names_what_to_fix);
    run("unreachable bootstrap names every endpoint", test_unreachable_bootstrap_names_every_endpoint);
    run("bootstrap moves on to the next endpoint", test_bootstrap_moves_on_to_the_next_endpoint);
    run("a node that stops answering is left for the next endpoint", test_a_node_that_stops_answering_is_left_for_the_next_endpoint);
    run("events are acknowledged with partition and offset", test_events_are_acknowledged_with_partition_and_offset);
    run("sequences advance per partition from the issued id", test_sequences_advance_per_partition_from_the_issued_id);
    run("unanswered batch is resent byte for byte and stored once", test_unanswered_batch_is_resent_byte_for_byte_and_stored_once);
    run("BUSY is retried with the same sequence", test_busy_is_retried_with_the_same_sequence);
    run("refused batch reports the node's error and frees its sequence", test_refused_batch_reports_the_nodes_error_and_frees_its_sequence);
    run("unknown topic and bad input are clear send errors", test_unknown_topic_is_a_clear_send_error);
    run("full queue is reported and every event gets one outcome", test_full_queue_is_reported_and_every_event_gets_one_outcome);
    run("exhausted retries report timeout and bump the epoch", test_exhausted_retries_report_timeout_and_bump_the_epoch);
    run("fenced producer sends nothing more", test_fenced_producer_sends_nothing_more);
    run("acks=none reports at once without offsets", test_acks_none_reports_at_once_without_offsets);
    run("non-idempotent batches carry no producer id", test_non_idempotent_batches_carry_no_producer_id);
    run("partition count is read again after its max age", test_partition_count_is_read_again_after_its_max_age);
    run("nothing is allocated on the send path once warm", test_nothing_is_allocated_on_the_send_path_once_warm);
    printf("unit: %d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed ? 1 : 0;
}
