/* Kafka's v2 record batch, as docs/protocol.md describes it and EventLog's RecordBatchBuilder
 * writes it: a 61-byte big-endian header, then records of zig-zag varints. */
#include "internal.h"

static uint64_t zigzag(int64_t value) { return ((uint64_t)value << 1) ^ (uint64_t)(value >> 63); }

size_t gl_varint_size(int64_t value) {
    uint64_t bits = zigzag(value);
    size_t size = 1;
    while (bits >= 0x80) {
        bits >>= 7;
        size++;
    }
    return size;
}

uint8_t *gl_varint_put(uint8_t *out, int64_t value) {
    uint64_t bits = zigzag(value);
    while (bits >= 0x80) {
        *out++ = (uint8_t)(bits | 0x80);
        bits >>= 7;
    }
    *out++ = (uint8_t)bits;
    return out;
}

/* The record's bytes after its length prefix. */
static size_t record_body_size(int64_t timestamp_delta, int32_t offset_delta, const void *key, size_t key_length,
                               size_t value_length) {
    size_t size = 1; /* attributes */
    size += gl_varint_size(timestamp_delta);
    size += gl_varint_size(offset_delta);
    size += key ? gl_varint_size((int64_t)key_length) + key_length : gl_varint_size(-1);
    size += gl_varint_size((int64_t)value_length) + value_length;
    size += 1; /* header count 0 */
    return size;
}

size_t gl_record_size(int64_t timestamp_delta, int32_t offset_delta, const void *key, size_t key_length,
                      size_t value_length) {
    size_t body = record_body_size(timestamp_delta, offset_delta, key, key_length, value_length);
    return gl_varint_size((int64_t)body) + body;
}

uint8_t *gl_record_write(uint8_t *out, int64_t timestamp_delta, int32_t offset_delta, const void *key,
                         size_t key_length, size_t value_length) {
    size_t body = record_body_size(timestamp_delta, offset_delta, key, key_length, value_length);
    out = gl_varint_put(out, (int64_t)body);
    *out++ = 0; /* attributes */
    out = gl_varint_put(out, timestamp_delta);
    out = gl_varint_put(out, offset_delta);
    if (key) {
        out = gl_varint_put(out, (int64_t)key_length);
        for (size_t i = 0; i < key_length; i++) out[i] = ((const uint8_t *)key)[i];
        out += key_length;
    } else {
        out = gl_varint_put(out, -1);
    }
    out = gl_varint_put(out, (int64_t)value_length);
    out[value_length] = 0; /* header count */
    return out;
}

static uint8_t *put16(uint8_t *out, uint16_t value) {
    out[0] = (uint8_t)(value >> 8);
    out[1] = (uint8_t)value;
    return out + 2;
}

static uint8_t *put32(uint8_t *out, uint32_t value) {
    out[0] = (uint8_t)(value >> 24);
    out[1] = (uint8_t)(value >> 16);
    out[2] = (uint8_t)(value >> 8);
    out[3] = (uint8_t)value;
    return out + 4;
}

static uint8_t *put64(uint8_t *out, uint64_t value) {
    out = put32(out, (uint32_t)(value >> 32));
    return put32(out, (uint32_t)value);
}

void gl_batch_seal(uint8_t *batch, size_t length, const gl_batch_header *header) {
    uint8_t *out = batch;
    out = put64(out, 0);                                 /* base offset: the node assigns it */
    out = put32(out, (uint32_t)(length - 12));           /* batch length: the bytes after this field */
    out = put32(out, 0);                                 /* leader epoch: the node writes it */
    *out++ = 2;                                          /* magic */
    uint8_t *crc_at = out;
    out += 4;
    out = put16(out, 0);                                 /* attributes: no compression, create time */
    out = put32(out, (uint32_t)(header->record_count - 1)); /* last offset delta */
    out = put64(out, (uint64_t)header->first_timestamp);
    out = put64(out, (uint64_t)header->max_timestamp);
    out = put64(out, (uint64_t)header->producer_id);
    out = put16(out, (uint16_t)header->producer_epoch);
    out = put32(out, (uint32_t)header->base_sequence);
    put32(out, (uint32_t)header->record_count);
    put32(crc_at, gl_crc32c(0, batch + GL_BATCH_CRC_START, length - GL_BATCH_CRC_START));
}

int32_t gl_sequence_after(int32_t sequence, int32_t increment) {
    /* Two's-complement wrap, as the node checks it (ProducerStateTable: lastSequence &+ 1). */
    return (int32_t)((uint32_t)sequence + (uint32_t)increment);
}
