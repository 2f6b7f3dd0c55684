/* Internals shared by the library's files and its unit tests; not part of the public API. */
#ifndef GANGLION_INTERNAL_H
#define GANGLION_INTERNAL_H

#include "ganglion.h"
#include "ganglion/v1/event.pb-c.h"
#include "ganglion/v1/protocol.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* ---- CRC32C, varints and the Kafka v2 record batch (record_batch.c, crc32c.c) ------------------ */

/** The batch header's size: base offset … record count; records follow. */
#define GL_BATCH_HEADER_SIZE 61
/** Where the checksummed part of a batch starts (the attributes field). */
#define GL_BATCH_CRC_START 21
/** The node refuses a record whose length prefix exceeds this (RECORD_TOO_LARGE). */
#define GL_MAX_RECORD_BYTES (1u << 20)
/** The node's default largest batch (the topic's maximum batch size). */
#define GL_MAX_BATCH_BYTES (8u << 20)

/** CRC-32C of `length` bytes, continuing from `crc` (0 to start). */
uint32_t gl_crc32c(uint32_t crc, const void *data, size_t length);

/** The size of `value` as a zig-zag varint. */
size_t gl_varint_size(int64_t value);
/** Writes `value` as a zig-zag varint; returns the byte after it. */
uint8_t *gl_varint_put(uint8_t *out, int64_t value);

/** What a batch header says beyond its records (base offset and leader epoch are always 0). */
typedef struct gl_batch_header {
    int32_t record_count;
    int64_t first_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
} gl_batch_header;

/**
 * The bytes one record takes in a batch, its length prefix included: no headers; `key` NULL is a
 * null key (length -1); the value is `value_length` bytes.
 */
size_t gl_record_size(int64_t timestamp_delta, int32_t offset_delta, const void *key, size_t key_length,
                      size_t value_length);
/**
 * Writes a record of gl_record_size() bytes at `out` and returns where its value's `value_length`
 * bytes go (the caller writes them; the trailing header count is already written).
 */
uint8_t *gl_record_write(uint8_t *out, int64_t timestamp_delta, int32_t offset_delta, const void *key,
                         size_t key_length, size_t value_length);
/** Writes the header of the batch in `batch[0 ..< length]` (records from GL_BATCH_HEADER_SIZE on) and its CRC. */
void gl_batch_seal(uint8_t *batch, size_t length, const gl_batch_header *header);
/** The producer sequence after `sequence` and `increment` records, wrapping as the node's check does. */
int32_t gl_sequence_after(int32_t sequence, int32_t increment);

/* ---- The envelope (envelope.c) ------------------------------------------------------------------ */

/** Extensions per event at most. */
#define GL_MAX_EXTENSIONS 64

/** A `ganglion.v1.EventEnvelope` pointing into the caller's event (no copies), ready to pack. */
typedef struct gl_envelope {
    Ganglion__V1__EventEnvelope message;
    Google__Protobuf__Timestamp time;
    Ganglion__V1__EventEnvelope__ExtensionsEntry entries[GL_MAX_EXTENSIONS];
    Ganglion__V1__EventEnvelope__ExtensionsEntry *entry_pointers[GL_MAX_EXTENSIONS];
    /** The record timestamp: the event time in ms since the epoch. */
    int64_t timestamp_ms;
} gl_envelope;

/**
 * Checks `event` and points `envelope` at it: `default_source` when it names no source,
 * `generated_id` when it has no id, `now_unix_nanos` when it has no time. On bad input returns
 * GANGLION_ERR_INVALID_ARGUMENT and writes why into `error`.
 */
ganglion_status gl_envelope_prepare(gl_envelope *envelope, const ganglion_event *event, const char *default_source,
                                    const char *generated_id, int64_t now_unix_nanos, char *error, size_t error_size);

/** Whether `text[0 ..< length]` is well-formed UTF-8. */
int gl_utf8_valid(const char *text, size_t length);

/* ---- Clocks ----------------------------------------------------------------------------------- */

/** Monotonic milliseconds, for deadlines. */
int64_t gl_monotonic_ms(void);
/** Whether `key` is 40 characters of Z85 (a CURVE key as text). */
int gl_is_z85_key(const char *key);
/** Wall-clock nanoseconds since the Unix epoch, for event times. */
int64_t gl_unix_nanos(void);

#endif /* GANGLION_INTERNAL_H */
