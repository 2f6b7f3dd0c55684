/*
 * The producer: per-partition rings of batch buffers, one batch in flight per partition, retries
 * with the batch's original producer sequence, and outcomes reported in order per partition.
 *
 * A partition's ring holds up to GL_SLOTS batches in the order they were opened:
 *
 *     DONE … DONE, [IN_FLIGHT | RETRY], READY …, [FILLING]
 *
 * FILLING takes new events; READY is sealed and waits its turn; IN_FLIGHT was sent and awaits its
 * answer; RETRY was sent and must be sent again (BUSY, the node's TIMEOUT, a reconnect) — its
 * bytes, producer sequence included, never change, so the node stores it once; DONE has its
 * outcome and waits for ganglion_poll() to report it. A batch gets its producer sequence (and
 * CRC) when it is first sent, so an epoch bump can renumber the batches nobody has seen yet.
 */
#include "connection.h"
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/** Batches per partition ring. */
#define GL_SLOTS 4
/** Request ids: bit 63 marks control requests (metadata, producer id); produce ids carry where the batch is. */
#define CONTROL_BIT (UINT64_C(1) << 63)
#define ID_COUNTER_BITS 24
#define ID_TOPIC_BITS 12
#define ID_PARTITION_BITS 24
#define ID_SLOT_BITS 3
#define MAX_TOPICS (1u << ID_TOPIC_BITS)
#define MAX_PARTITIONS (1u << ID_PARTITION_BITS)
#define MESSAGE_SIZE 256

typedef enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_IN_FLIGHT, SLOT_RETRY, SLOT_DONE } slot_state;

typedef struct gl_slot {
    slot_state state;
    /** The batch: a header written when it is first sent, then its records. */
    uint8_t *bytes;
    size_t length;
    size_t capacity;
    /** Each event's opaque, in record order. */
    void **opaques;
    uint32_t count;
    int64_t first_timestamp;
    int64_t max_timestamp;
    /** When its first event came (monotonic ms): it goes after linger_ms. */
    int64_t opened_at;
    /** The header and sequence are written (it was sent at least once). */
    int stamped;
    int32_t base_sequence;
    uint64_t request_id;
    /** IN_FLIGHT: when to give up waiting; RETRY: when to send again (monotonic ms). */
    int64_t deadline;
    uint32_t attempts;
    /** DONE: the outcome. */
    ganglion_status status;
    ganglion_node_error node_error;
    int64_t base_offset;
    char message[MESSAGE_SIZE];
} gl_slot;

typedef struct gl_partition {
    gl_slot slots[GL_SLOTS];
    uint8_t head;
    uint8_t used;
    /** A slot is IN_FLIGHT or RETRY. */
    uint8_t busy;
    int32_t next_sequence;
} gl_partition;

typedef struct gl_topic {
    char *name;
    /** The partition count the node last gave. */
    uint32_t partition_count;
    uint32_t partitions_allocated;
    gl_partition *partitions;
    /** Where events without a key go now (moves on with each batch, as Kafka's sticky partitioner). */
    uint32_t sticky;
    int64_t metadata_read_at;
    /** The node said the topic or a partition is unknown: read the metadata again before the next send. */
    int needs_lookup;
    /** An asynchronous metadata refresh in flight (0: none). */
    uint64_t refresh_request_id;
} gl_topic;

/** The answer to a synchronous metadata lookup. */
typedef struct gl_lookup {
    uint64_t request_id;
    char topic[256];
    int answered;
    ganglion_status status;
    ganglion_node_error node_error;
    uint32_t partition_count;
    char message[MESSAGE_SIZE];
} gl_lookup;

struct ganglion_producer {
    ganglion_config config;
    char *default_source;
    gl_connection connection;
    int64_t producer_id;
    int16_t producer_epoch;
    char id_prefix[48];
    uint64_t id_counter;

    gl_topic *topics;
    uint32_t topic_count;
    uint32_t topic_capacity;
    uint32_t last_topic;

    /** Events accepted and not yet reported. */
    size_t queued;
    /** Partitions with a batch IN_FLIGHT or RETRY. */
    uint32_t busy_partitions;
    /** DONE slots waiting to be reported. */
    uint32_t done_slots;
    uint64_t request_counter;
    /** The earliest time something is due (linger, deadline, retry); INT64_MAX: nothing. */
    int64_t next_due;
    /** Send FILLING batches without waiting for linger (during ganglion_flush). */
    int flushing;
    int in_callback;
    int reconnect_wanted;

    /** A batch's outcome stayed unknown: renumber from a new epoch before sending anything new. */
    int bump_wanted;
    uint64_t bump_request_id;
    int64_t bump_due;
    int fenced;
    char fenced_message[MESSAGE_SIZE];

    gl_lookup lookup;
    gl_envelope envelope;
    ganglion_stats stats;
    char last_error[512];
    ganglion_node_error last_node_error;
};

/* ---- Small helpers ------------------------------------------------------------------------ */

static ganglion_status fail(ganglion_producer *p, ganglion_status status, ganglion_node_error node_error,
                            const char *format, ...) __attribute__((format(printf, 4, 5)));

static ganglion_status fail(ganglion_producer *p, ganglion_status status, ganglion_node_error node_error,
                            const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(p->last_error, sizeof p->last_error, format, arguments);
    va_end(arguments);
    p->last_node_error = node_error;
    return status;
}

static void succeed(ganglion_producer *p) {
    p->last_error[0] = '\0';
    p->last_node_error = GANGLION_NODE_NONE;
}

static void due_at(ganglion_producer *p, int64_t when) {
    if (when < p->next_due) p->next_due = when;
}

static gl_slot *ring_slot(gl_partition *partition, unsigned position) {
    return &partition->slots[(partition->head + position) % GL_SLOTS];
}

static uint64_t control_id(ganglion_producer *p) { return CONTROL_BIT | ++p->request_counter; }

static uint64_t produce_id(ganglion_producer *p, uint32_t topic, uint32_t partition, unsigned slot) {
    uint64_t counter = ++p->request_counter & ((UINT64_C(1) << ID_COUNTER_BITS) - 1);
    return counter << (ID_TOPIC_BITS + ID_PARTITION_BITS + ID_SLOT_BITS) |
           (uint64_t)topic << (ID_PARTITION_BITS + ID_SLOT_BITS) | (uint64_t)partition << ID_SLOT_BITS | slot;
}

static int topic_name_ok(const char *name) {
    size_t length = strlen(name);
    if (length == 0 || length > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
    for (const char *c = name; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
              *c == '_' || *c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* ---- Configuration ------------------------------------------------------------------------ */

void ganglion_config_init(ganglion_config *config) {
    memset(config, 0, sizeof *config);
    config->client_id = "ganglion-c";
    config->default_source = "/ganglion/c";
    config->acks = GANGLION_ACKS_LEADER;
    config->idempotent = 1;
    config->connect_timeout_ms = 3000;
    config->request_timeout_ms = 5000;
    config->max_attempts = 10;
    config->linger_ms = 2;
    config->max_batch_records = 1000;
    config->max_batch_bytes = 512u * 1024u;
    config->queue_capacity = 10000;
    config->metadata_max_age_ms = 300000;
}

static int config_error(const ganglion_config *config, char *error, size_t error_size) {
    if (!config->bootstrap || !*config->bootstrap) {
        snprintf(error, error_size, "config.bootstrap is required: a node's request endpoint, e.g. tcp://127.0.0.1:7400");
    } else if (!config->client_id || !*config->client_id || strlen(config->client_id) > 200) {
        snprintf(error, error_size, "config.client_id must be 1-200 characters");
    } else if (config->acks != GANGLION_ACKS_NONE && config->acks != GANGLION_ACKS_LEADER && config->acks != GANGLION_ACKS_ALL) {
        snprintf(error, error_size, "config.acks is %d: use GANGLION_ACKS_NONE, _LEADER or _ALL", (int)config->acks);
    } else if (config->max_batch_records < 1 || config->max_batch_records > 1000000) {
        snprintf(error, error_size, "config.max_batch_records must be 1-1000000");
    } else if (config->max_batch_bytes < 1024 || config->max_batch_bytes > GL_MAX_BATCH_BYTES) {
        snprintf(error, error_size, "config.max_batch_bytes must be 1 KiB to 8 MiB (the node's largest batch)");
    } else if (config->queue_capacity < 1) {
        snprintf(error, error_size, "config.queue_capacity must be at least 1");
    } else if (config->max_attempts < 1) {
        snprintf(error, error_size, "config.max_attempts must be at least 1");
    } else if (config->request_timeout_ms < 1 || config->connect_timeout_ms < 1) {
        snprintf(error, error_size, "config.request_timeout_ms and connect_timeout_ms must be at least 1");
    } else if ((config->curve_server_key || config->curve_public_key || config->curve_secret_key) &&
               !(gl_is_z85_key(config->curve_server_key) && gl_is_z85_key(config->curve_public_key) && gl_is_z85_key(config->curve_secret_key))) {
        snprintf(error, error_size, "config.curve_server_key, curve_public_key and curve_secret_key go together, each 40 Z85 characters "
                                    "(as `ganglion security keygen` writes them)");
    } else {
        return 0;
    }
    return 1;
}

/* ---- Delivering outcomes ------------------------------------------------------------------ */

static void slot_finish(ganglion_producer *p, gl_partition *partition, gl_slot *slot, ganglion_status status,
                        ganglion_node_error node_error, int64_t base_offset, const char *message) {
    if (slot->state == SLOT_IN_FLIGHT || slot->state == SLOT_RETRY) {
        partition->busy = 0;
        p->busy_partitions--;
    }
    slot->state = SLOT_DONE;
    slot->status = status;
    slot->node_error = node_error;
    slot->base_offset = base_offset;
    snprintf(slot->message, sizeof slot->message, "%s", message ? message : "");
    p->done_slots++;
}

/** Reports the DONE batches at the heads of the rings; returns how many events were reported. */
static int deliver(ganglion_producer *p) {
    int reported = 0;
    for (uint32_t t = 0; t < p->topic_count && p->done_slots; t++) {
        for (uint32_t n = 0; n < p->topics[t].partitions_allocated && p->done_slots; n++) {
            for (;;) {
                gl_partition *partition = &p->topics[t].partitions[n];
                if (!partition->used) break;
                gl_slot *slot = ring_slot(partition, 0);
                if (slot->state != SLOT_DONE) break;
                ganglion_delivery delivery = {
                    .topic = p->topics[t].name,
                    .partition = n,
                    .status = slot->status,
                    .node_error = slot->node_error,
                    .message = slot->message,
                };
                uint32_t count = slot->count;
                for (uint32_t i = 0; i < count; i++) {
                    delivery.event_opaque = slot->opaques[i];
                    delivery.offset = slot->status == GANGLION_OK && slot->base_offset >= 0 ? slot->base_offset + i : -1;
                    if (p->config.on_delivery) {
                        p->in_callback = 1;
                        p->config.on_delivery(&delivery, p->config.callback_opaque);
                        p->in_callback = 0;
                        /* A callback may send, which may grow the topic table: look everything up again. */
                        partition = &p->topics[t].partitions[n];
                        slot = ring_slot(partition, 0);
                        delivery.topic = p->topics[t].name;
                    }
                }
                if (slot->status == GANGLION_OK) {
                    p->stats.events_stored += count;
                } else {
                    p->stats.events_failed += count;
                }
                reported += (int)count;
                p->queued -= count;
                p->done_slots--;
                slot->state = SLOT_FREE;
                slot->count = 0;
                slot->length = GL_BATCH_HEADER_SIZE;
                slot->stamped = 0;
                slot->attempts = 0;
                partition->head = (uint8_t)((partition->head + 1) % GL_SLOTS);
                partition->used--;
            }
        }
    }
    return reported;
}

/* ---- Sending batches ---------------------------------------------------------------------- */

static void fence(ganglion_producer *p, const char *message);
static int send_metadata_request(ganglion_producer *p, const char *topic, uint64_t id);

/** Sends (or sends again) the slot at ring position `position`; it must be READY or RETRY. */
static void slot_send(ganglion_producer *p, uint32_t t, uint32_t n, unsigned position, int64_t now) {
    gl_topic *topic = &p->topics[t];
    gl_partition *partition = &topic->partitions[n];
    gl_slot *slot = ring_slot(partition, position);
    int resend = slot->state == SLOT_RETRY;
    if (!slot->stamped) {
        gl_batch_header header = {
            .record_count = (int32_t)slot->count,
            .first_timestamp = slot->first_timestamp,
            .max_timestamp = slot->max_timestamp,
            .producer_id = p->config.idempotent ? p->producer_id : -1,
            .producer_epoch = p->config.idempotent ? p->producer_epoch : -1,
            .base_sequence = p->config.idempotent ? partition->next_sequence : -1,
        };
        gl_batch_seal(slot->bytes, slot->length, &header);
        slot->base_sequence = partition->next_sequence;
        slot->stamped = 1;
        partition->next_sequence = gl_sequence_after(partition->next_sequence, (int32_t)slot->count);
    }
    Ganglion__V1__ProduceRequest request = GANGLION__V1__PRODUCE_REQUEST__INIT;
    request.topic = topic->name;
    request.partition = n;
    request.acks = (Ganglion__V1__Acks)p->config.acks;
    request.timeout_ms = p->config.request_timeout_ms;
    unsigned index = (unsigned)(slot - partition->slots);
    uint64_t id = produce_id(p, t, n, index);
    int sent = gl_connection_send(&p->connection, GANGLION__V1__REQUEST_KIND__REQUEST_KIND_PRODUCE, id, &request.base,
                                  slot->bytes, slot->length);
    if (sent > 0) {
        /* The socket's queue is full: try again shortly. */
        if (!resend) {
            /* Never sent: give the sequence back, so an epoch bump may renumber it. */
            partition->next_sequence = slot->base_sequence;
            slot->stamped = 0;
        }
        slot->deadline = now + 10;
        due_at(p, now + 10);
        return;
    }
    if (sent < 0) {
        char message[MESSAGE_SIZE];
        snprintf(message, sizeof message, "cannot send the batch: %s", strerror(errno));
        if (!resend) partition->next_sequence = slot->base_sequence;
        slot_finish(p, partition, slot, GANGLION_ERR_PROTOCOL, GANGLION_NODE_NONE, -1, message);
        if (resend) p->bump_wanted = p->config.idempotent; /* an earlier attempt may be stored */
        return;
    }
    if (resend) p->stats.batches_resent++;
    slot->attempts++;
    slot->request_id = id;
    if (!resend) {
        partition->busy = 1;
        p->busy_partitions++;
    }
    if (p->config.acks == GANGLION_ACKS_NONE) {
        slot->state = SLOT_IN_FLIGHT; /* so that slot_finish releases the partition */
        slot_finish(p, partition, slot, GANGLION_OK, GANGLION_NODE_NONE, -1, NULL);
        return;
    }
    slot->state = SLOT_IN_FLIGHT;
    slot->deadline = now + p->config.request_timeout_ms;
    due_at(p, slot->deadline);
}

/** Seals a FILLING slot; events without a key move on to the next partition (sticky partitioning). */
static void slot_seal(gl_topic *topic, uint32_t n, gl_slot *slot) {
    slot->state = SLOT_READY;
    if (topic->sticky == n && topic->partition_count > 1) topic->sticky = (n + 1) % topic->partition_count;
}

/**
 * Sends the partition's next batch when nothing of it is in flight: a READY one, or the FILLING
 * one once its linger is over (or at once with `now_anyway`). A RETRY batch goes when due.
 */
static void partition_dispatch(ganglion_producer *p, uint32_t t, uint32_t n, int64_t now, int now_anyway) {
    gl_partition *partition = &p->topics[t].partitions[n];
    for (unsigned position = 0; position < partition->used; position++) {
        gl_slot *slot = ring_slot(partition, position);
        switch (slot->state) {
        case SLOT_DONE:
            continue;
        case SLOT_IN_FLIGHT:
            if (now >= slot->deadline) p->reconnect_wanted = 1;
            else due_at(p, slot->deadline);
            return;
        case SLOT_RETRY:
            if (now >= slot->deadline) slot_send(p, t, n, position, now);
            else due_at(p, slot->deadline);
            return;
        case SLOT_FILLING:
            if (!now_anyway && !p->flushing && now < slot->opened_at + (int64_t)p->config.linger_ms) {
                due_at(p, slot->opened_at + p->config.linger_ms);
                return;
            }
            slot_seal(&p->topics[t], n, slot);
            /* fall through */
        case SLOT_READY:
            if (p->fenced) {
                slot_finish(p, partition, slot, GANGLION_ERR_FENCED, GANGLION_NODE_INVALID_PRODUCER_EPOCH, -1, p->fenced_message);
                continue;
            }
            if (p->bump_wanted) return;
            slot_send(p, t, n, position, now);
            return;
        case SLOT_FREE:
            return;
        }
    }
}

/** Closes the socket and connects to the next bootstrap endpoint; everything in flight is sent again there. */
static int reconnect(ganglion_producer *p, int64_t now) {
    p->reconnect_wanted = 0;
    char error[256];
    size_t next = p->connection.current + 1;
    p->stats.reconnects++;
    if (gl_connection_open(&p->connection, next, error, sizeof error) != 0) {
        /* Could not even make a socket: try again shortly. */
        p->reconnect_wanted = 1;
        due_at(p, now + 100);
        return -1;
    }
    p->bump_request_id = 0;
    p->bump_due = now;
    /* A first-use metadata lookup someone is waiting for goes again, on the new socket. */
    if (p->lookup.request_id && !p->lookup.answered) send_metadata_request(p, p->lookup.topic, p->lookup.request_id);
    for (uint32_t t = 0; t < p->topic_count; t++) {
        p->topics[t].refresh_request_id = 0;
        for (uint32_t n = 0; n < p->topics[t].partitions_allocated; n++) {
            gl_partition *partition = &p->topics[t].partitions[n];
            for (unsigned position = 0; position < partition->used; position++) {
                gl_slot *slot = ring_slot(partition, position);
                if (slot->state != SLOT_IN_FLIGHT && slot->state != SLOT_RETRY) continue;
                if (slot->attempts >= p->config.max_attempts) {
                    char message[MESSAGE_SIZE];
                    snprintf(message, sizeof message,
                             "no answer after %u attempts of %u ms: the events may or may not be stored", slot->attempts,
                             p->config.request_timeout_ms);
                    slot_finish(p, partition, slot, GANGLION_ERR_TIMEOUT, GANGLION_NODE_NONE, -1, message);
                    p->bump_wanted = p->config.idempotent;
                } else {
                    slot->state = SLOT_RETRY;
                    slot->deadline = now;
                }
            }
        }
    }
    p->next_due = now;
    return 0;
}

/* ---- Control requests: metadata and producer ids ------------------------------------------ */

static int send_metadata_request(ganglion_producer *p, const char *topic, uint64_t id) {
    Ganglion__V1__MetadataRequest request = GANGLION__V1__METADATA_REQUEST__INIT;
    char *topics[1] = {(char *)topic};
    request.n_topics = 1;
    request.topics = topics;
    return gl_connection_send(&p->connection, GANGLION__V1__REQUEST_KIND__REQUEST_KIND_METADATA, id, &request.base, NULL, 0);
}

static int send_init_producer_id(ganglion_producer *p, int64_t resuming, uint64_t id) {
    Ganglion__V1__InitProducerIdRequest request = GANGLION__V1__INIT_PRODUCER_ID_REQUEST__INIT;
    request.producer_id = resuming;
    return gl_connection_send(&p->connection, GANGLION__V1__REQUEST_KIND__REQUEST_KIND_INIT_PRODUCER_ID, id,
                              &request.base, NULL, 0);
}

/** Reads a metadata answer for one topic: its partition count, or why not. */
static void read_metadata(const gl_response *response, const char *topic, gl_lookup *out) {
    out->answered = 1;
    out->partition_count = 0;
    out->node_error = response->error;
    if (response->error != GANGLION_NODE_NONE) {
        out->status = GANGLION_ERR_NODE;
        snprintf(out->message, sizeof out->message, "metadata for topic %s: %s", topic, response->message);
        return;
    }
    /* Metadata can be large: unpacked on the heap, not in the arena (it is not on the send path). */
    Ganglion__V1__MetadataResponse *metadata = response->has_body
        ? (Ganglion__V1__MetadataResponse *)protobuf_c_message_unpack(&ganglion__v1__metadata_response__descriptor, NULL,
                                                                       response->body_length, response->body)
        : NULL;
    if (!metadata) {
        out->status = GANGLION_ERR_PROTOCOL;
        snprintf(out->message, sizeof out->message, "metadata for topic %s: the answer does not parse", topic);
        return;
    }
    out->status = GANGLION_ERR_NODE;
    out->node_error = GANGLION_NODE_UNKNOWN_TOPIC;
    snprintf(out->message, sizeof out->message, "topic %s does not exist; create it with `ganglion topic create %s`", topic, topic);
    for (size_t i = 0; i < metadata->n_topics; i++) {
        Ganglion__V1__TopicMetadata *described = metadata->topics[i];
        if (!described->name || strcmp(described->name, topic) != 0) continue;
        uint32_t count = described->config ? described->config->partitions : 0;
        if (count == 0) count = (uint32_t)described->n_partitions;
        if (count == 0 || count > MAX_PARTITIONS) {
            out->status = GANGLION_ERR_PROTOCOL;
            out->node_error = GANGLION_NODE_NONE;
            snprintf(out->message, sizeof out->message, "topic %s: the node reports %u partitions", topic, count);
        } else {
            out->status = GANGLION_OK;
            out->node_error = GANGLION_NODE_NONE;
            out->partition_count = count;
            out->message[0] = '\0';
        }
        break;
    }
    protobuf_c_message_free_unpacked(&metadata->base, NULL);
}

/** Grows (never shrinks) a topic's partition table to `count`. 0, or -1 when out of memory. */
static int topic_resize(gl_topic *topic, uint32_t count) {
    if (count > topic->partitions_allocated) {
        gl_partition *grown = realloc(topic->partitions, count * sizeof *grown);
        if (!grown) return -1;
        memset(grown + topic->partitions_allocated, 0, (count - topic->partitions_allocated) * sizeof *grown);
        topic->partitions = grown;
        topic->partitions_allocated = count;
    }
    topic->partition_count = count;
    if (topic->sticky >= count) topic->sticky = 0;
    return 0;
}

static void fence(ganglion_producer *p, const char *message) {
    if (!p->fenced) {
        p->fenced = 1;
        snprintf(p->fenced_message, sizeof p->fenced_message,
                 "producer %" PRId64 " epoch %d was fenced by a newer instance: %s", p->producer_id,
                 (int)p->producer_epoch, message);
    }
    p->bump_wanted = 0;
    for (uint32_t t = 0; t < p->topic_count; t++) {
        for (uint32_t n = 0; n < p->topics[t].partitions_allocated; n++) {
            gl_partition *partition = &p->topics[t].partitions[n];
            for (unsigned position = 0; position < partition->used; position++) {
                gl_slot *slot = ring_slot(partition, position);
                if (slot->state == SLOT_READY || slot->state == SLOT_RETRY) {
                    slot_finish(p, partition, slot, GANGLION_ERR_FENCED, GANGLION_NODE_INVALID_PRODUCER_EPOCH, -1,
                                p->fenced_message);
                }
            }
        }
    }
}

/* ---- Answers ------------------------------------------------------------------------------ */

static void handle_produce(ganglion_producer *p, const gl_response *response, int64_t now) {
    uint64_t id = response->request_id;
    uint32_t slot_index = (uint32_t)(id & ((1u << ID_SLOT_BITS) - 1));
    uint32_t n = (uint32_t)((id >> ID_SLOT_BITS) & (MAX_PARTITIONS - 1));
    uint32_t t = (uint32_t)((id >> (ID_SLOT_BITS + ID_PARTITION_BITS)) & (MAX_TOPICS - 1));
    if (t >= p->topic_count || n >= p->topics[t].partitions_allocated || slot_index >= GL_SLOTS) return;
    gl_topic *topic = &p->topics[t];
    gl_partition *partition = &topic->partitions[n];
    gl_slot *slot = &partition->slots[slot_index];
    /* An answer to an attempt given up on, or to a socket closed since: the batch's fate is decided elsewhere. */
    if (slot->state != SLOT_IN_FLIGHT || slot->request_id != id) return;

    switch (response->error) {
    case GANGLION_NODE_NONE: {
        Ganglion__V1__ProduceResponse *body = (Ganglion__V1__ProduceResponse *)gl_connection_unpack(
            &p->connection, &ganglion__v1__produce_response__descriptor, response);
        if (!body) {
            slot_finish(p, partition, slot, GANGLION_ERR_PROTOCOL, GANGLION_NODE_NONE, -1,
                        "the node acknowledged the batch but its answer does not parse");
        } else {
            p->stats.batches_acknowledged++;
            slot_finish(p, partition, slot, GANGLION_OK, GANGLION_NODE_NONE, body->base_offset, NULL);
        }
        break;
    }
    case GANGLION_NODE_BUSY:
    case GANGLION_NODE_TIMEOUT:
        if (slot->attempts < p->config.max_attempts) {
            uint32_t wait = response->retry_after_ms ? response->retry_after_ms : 20 * slot->attempts;
            if (wait > 500 && !response->retry_after_ms) wait = 500;
            slot->state = SLOT_RETRY;
            slot->deadline = now + wait;
            due_at(p, slot->deadline);
            return;
        }
        slot_finish(p, partition, slot, GANGLION_ERR_NODE, response->error, -1, response->message);
        p->bump_wanted = p->config.idempotent;
        break;
    case GANGLION_NODE_INTERNAL:
        /* Stored or not, nobody knows: a new epoch restarts the sequences safely. */
        slot_finish(p, partition, slot, GANGLION_ERR_NODE, response->error, -1, response->message);
        p->bump_wanted = p->config.idempotent;
        break;
    case GANGLION_NODE_INVALID_PRODUCER_EPOCH:
        slot_finish(p, partition, slot, GANGLION_ERR_FENCED, response->error, -1, response->message);
        fence(p, response->message);
        break;
    case GANGLION_NODE_UNKNOWN_TOPIC:
    case GANGLION_NODE_UNKNOWN_PARTITION:
        topic->needs_lookup = 1;
        partition->next_sequence = slot->base_sequence;
        slot_finish(p, partition, slot, GANGLION_ERR_NODE, response->error, -1, response->message);
        break;
    default:
        /* Refused, so not stored: the next batch reuses the sequence. */
        partition->next_sequence = slot->base_sequence;
        slot_finish(p, partition, slot, GANGLION_ERR_NODE, response->error, -1, response->message);
        break;
    }
    /* What filled up while this batch was in flight has waited long enough: send it now. */
    partition_dispatch(p, t, n, now, 1);
}

static void handle_bump(ganglion_producer *p, const gl_response *response, int64_t now) {
    p->bump_request_id = 0;
    Ganglion__V1__InitProducerIdResponse *body = NULL;
    if (response->error == GANGLION_NODE_NONE) {
        body = (Ganglion__V1__InitProducerIdResponse *)gl_connection_unpack(
            &p->connection, &ganglion__v1__init_producer_id_response__descriptor, response);
    }
    if (response->error == GANGLION_NODE_INVALID_PRODUCER_EPOCH) {
        fence(p, response->message);
        return;
    }
    if (!body) {
        p->bump_due = now + 200;
        due_at(p, p->bump_due);
        return;
    }
    p->producer_epoch = (int16_t)body->producer_epoch;
    p->bump_wanted = 0;
    for (uint32_t t = 0; t < p->topic_count; t++) {
        for (uint32_t n = 0; n < p->topics[t].partitions_allocated; n++) p->topics[t].partitions[n].next_sequence = 0;
    }
    p->next_due = now;
}

static void handle_response(ganglion_producer *p, const gl_response *response, int64_t now) {
    uint64_t id = response->request_id;
    if (!(id & CONTROL_BIT)) {
        handle_produce(p, response, now);
        return;
    }
    if (id == p->bump_request_id) {
        handle_bump(p, response, now);
        return;
    }
    if (id == p->lookup.request_id && !p->lookup.answered) {
        read_metadata(response, p->lookup.topic, &p->lookup);
        return;
    }
    for (uint32_t t = 0; t < p->topic_count; t++) {
        gl_topic *topic = &p->topics[t];
        if (topic->refresh_request_id != id) continue;
        topic->refresh_request_id = 0;
        gl_lookup answer = {0};
        read_metadata(response, topic->name, &answer);
        if (answer.status == GANGLION_OK && answer.partition_count != topic->partition_count) {
            if (topic_resize(topic, answer.partition_count) != 0) topic->metadata_read_at = 0;
        } else if (answer.node_error == GANGLION_NODE_UNKNOWN_TOPIC) {
            topic->needs_lookup = 1;
        }
        return;
    }
}

/** Reads every answer waiting, without blocking. */
static void receive_all(ganglion_producer *p) {
    gl_response response;
    for (;;) {
        int got = gl_connection_receive(&p->connection, &response);
        if (got == 0) return;
        if (got > 0) handle_response(p, &response, gl_monotonic_ms());
    }
}

/* ---- The service loop --------------------------------------------------------------------- */

/** Does everything due now: reconnects, timed-out and due batches, the epoch bump, refreshes. */
static void service_due(ganglion_producer *p) {
    int64_t now = gl_monotonic_ms();
    p->next_due = INT64_MAX;
    for (uint32_t t = 0; t < p->topic_count; t++) {
        gl_topic *topic = &p->topics[t];
        for (uint32_t n = 0; n < topic->partitions_allocated; n++) {
            if (topic->partitions[n].used) partition_dispatch(p, t, n, now, 0);
        }
        if (topic->refresh_request_id && now - topic->metadata_read_at >= (int64_t)p->config.request_timeout_ms) {
            topic->refresh_request_id = 0; /* unanswered: try again after another max age */
        }
        if (!topic->refresh_request_id && !topic->needs_lookup && p->config.metadata_max_age_ms &&
            now - topic->metadata_read_at >= (int64_t)p->config.metadata_max_age_ms) {
            uint64_t id = control_id(p);
            if (send_metadata_request(p, topic->name, id) == 0) topic->refresh_request_id = id;
            topic->metadata_read_at = now;
        }
        if (p->config.metadata_max_age_ms) due_at(p, topic->metadata_read_at + p->config.metadata_max_age_ms);
    }
    if (p->reconnect_wanted) {
        if (reconnect(p, now) == 0) service_due(p);
        return;
    }
    if (p->bump_wanted && !p->busy_partitions && !p->fenced) {
        if (p->bump_request_id && now >= p->bump_due) {
            p->reconnect_wanted = 1; /* the bump went unanswered */
            due_at(p, now);
        } else if (!p->bump_request_id && now >= p->bump_due) {
            uint64_t id = control_id(p);
            if (send_init_producer_id(p, p->producer_id, id) == 0) {
                p->bump_request_id = id;
                p->bump_due = now + p->config.request_timeout_ms;
            } else {
                p->bump_due = now + 10;
            }
        }
        due_at(p, p->bump_due);
    }
}

/** Serves the socket until `deadline` (monotonic ms), returning early once `until(p)` holds. */
static void serve_until(ganglion_producer *p, int64_t deadline, int (*until)(ganglion_producer *)) {
    for (;;) {
        service_due(p);
        receive_all(p);
        if (until(p)) return;
        int64_t now = gl_monotonic_ms();
        if (now >= deadline) return;
        int64_t wake = p->next_due < deadline ? p->next_due : deadline;
        int64_t wait = wake - now;
        if (wait > 0) gl_connection_wait(&p->connection, (int)(wait > 1000 ? 1000 : wait));
    }
}

static int lookup_answered(ganglion_producer *p) { return p->lookup.answered; }
static int something_to_report(ganglion_producer *p) { return p->done_slots > 0; }

/* ---- Opening ------------------------------------------------------------------------------ */

ganglion_status ganglion_producer_new(const ganglion_config *config, ganglion_producer **out, char *error,
                                      size_t error_size) {
    char scratch[8];
    if (!error || !error_size) {
        error = scratch;
        error_size = sizeof scratch;
    }
    if (!out) {
        snprintf(error, error_size, "out is NULL");
        return GANGLION_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (!config) {
        snprintf(error, error_size, "config is NULL");
        return GANGLION_ERR_INVALID_ARGUMENT;
    }
    if (config_error(config, error, error_size)) return GANGLION_ERR_INVALID_ARGUMENT;
    ganglion_producer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(error, error_size, "out of memory");
        return GANGLION_ERR_NO_MEMORY;
    }
    p->config = *config;
    p->default_source = strdup(config->default_source ? config->default_source : "");
    if (!p->default_source) {
        free(p);
        snprintf(error, error_size, "out of memory");
        return GANGLION_ERR_NO_MEMORY;
    }
    p->config.default_source = p->default_source;
    p->config.bootstrap = NULL; /* the connection keeps its own copies */
    p->config.client_id = NULL;
    p->producer_id = -1;
    p->producer_epoch = -1;
    p->next_due = INT64_MAX;
    if (gl_connection_init(&p->connection, config->bootstrap, config->client_id, error, error_size) != 0) {
        free(p->default_source);
        free(p);
        return GANGLION_ERR_INVALID_ARGUMENT;
    }
    if (config->curve_server_key) {
        p->connection.curve = 1;
        memcpy(p->connection.curve_server, config->curve_server_key, 41);
        memcpy(p->connection.curve_public, config->curve_public_key, 41);
        memcpy(p->connection.curve_secret, config->curve_secret_key, 41);
    }
    p->config.curve_server_key = p->config.curve_public_key = p->config.curve_secret_key = NULL; /* copied */

    /* Each bootstrap node in turn: the first to answer INIT_PRODUCER_ID (or METADATA) is ours. */
    size_t tried = 0;
    char reasons[512] = "";
    ganglion_status status = GANGLION_ERR_CONNECT;
    for (; tried < p->connection.endpoint_count; tried++) {
        char why[256];
        if (gl_connection_open(&p->connection, tried, why, sizeof why) != 0) {
            snprintf(error, error_size, "%s", why);
            ganglion_producer_free(p);
            return GANGLION_ERR_INVALID_ARGUMENT;
        }
        uint64_t id = control_id(p);
        int sent = config->idempotent ? send_init_producer_id(p, 0, id) : send_metadata_request(p, "", id);
        int64_t deadline = gl_monotonic_ms() + config->connect_timeout_ms;
        gl_response response;
        int answered = 0;
        while (sent == 0 && !answered) {
            int64_t left = deadline - gl_monotonic_ms();
            if (left <= 0 || !gl_connection_wait(&p->connection, (int)left)) break;
            while (gl_connection_receive(&p->connection, &response) > 0) {
                if (response.request_id == id) {
                    answered = 1;
                    break;
                }
            }
        }
        if (!answered) {
            size_t used = strlen(reasons);
            snprintf(reasons + used, sizeof reasons - used, "%s%s", used ? ", " : "", gl_connection_endpoint(&p->connection));
            continue;
        }
        if (!config->idempotent) {
            status = GANGLION_OK;
            break;
        }
        if (response.error != GANGLION_NODE_NONE) {
            snprintf(error, error_size, "%s refused a producer id: %s (%s)", gl_connection_endpoint(&p->connection),
                     response.message, ganglion_node_error_name(response.error));
            status = GANGLION_ERR_NODE;
            break;
        }
        Ganglion__V1__InitProducerIdResponse *body = (Ganglion__V1__InitProducerIdResponse *)gl_connection_unpack(
            &p->connection, &ganglion__v1__init_producer_id_response__descriptor, &response);
        if (!body) {
            snprintf(error, error_size, "%s: the producer id answer does not parse", gl_connection_endpoint(&p->connection));
            status = GANGLION_ERR_PROTOCOL;
            break;
        }
        p->producer_id = body->producer_id;
        p->producer_epoch = (int16_t)body->producer_epoch;
        status = GANGLION_OK;
        break;
    }
    if (status == GANGLION_ERR_CONNECT) {
        snprintf(error, error_size, "no node answered within %u ms at %s; is `ganglion node` running there?",
                 config->connect_timeout_ms, reasons);
    }
    if (status != GANGLION_OK) {
        ganglion_producer_free(p);
        return status;
    }
    if (p->config.idempotent) {
        snprintf(p->id_prefix, sizeof p->id_prefix, "c-%" PRId64 "-", p->producer_id);
    } else {
        snprintf(p->id_prefix, sizeof p->id_prefix, "c-%" PRIx64 "-%d-", (uint64_t)gl_unix_nanos(), (int)getpid());
    }
    succeed(p);
    *out = p;
    return GANGLION_OK;
}

/* ---- Topics ------------------------------------------------------------------------------- */

/** Asks the node for `name`'s partition count and waits for the answer (a topic's first use). */
static ganglion_status lookup_topic(ganglion_producer *p, const char *name, uint32_t *count) {
    uint64_t id = control_id(p);
    p->lookup = (gl_lookup){.request_id = id};
    snprintf(p->lookup.topic, sizeof p->lookup.topic, "%s", name);
    if (send_metadata_request(p, name, id) != 0) {
        p->lookup.request_id = 0;
        return fail(p, GANGLION_ERR_QUEUE_FULL, GANGLION_NODE_NONE,
                    "cannot ask %s for topic %s: the socket's queue is full; poll and try again",
                    gl_connection_endpoint(&p->connection), name);
    }
    serve_until(p, gl_monotonic_ms() + p->config.request_timeout_ms, lookup_answered);
    if (!p->lookup.answered) {
        p->lookup.request_id = 0;
        const char *endpoint = gl_connection_endpoint(&p->connection);
        char where[256];
        snprintf(where, sizeof where, "%s", endpoint);
        reconnect(p, gl_monotonic_ms());
        return fail(p, GANGLION_ERR_TIMEOUT, GANGLION_NODE_NONE, "no answer from %s about topic %s within %u ms", where,
                    name, p->config.request_timeout_ms);
    }
    p->lookup.request_id = 0;
    if (p->lookup.status != GANGLION_OK) return fail(p, p->lookup.status, p->lookup.node_error, "%s", p->lookup.message);
    *count = p->lookup.partition_count;
    return GANGLION_OK;
}

/** The topic's index, looking it up at the node on its first use (or after the node forgot it). */
static ganglion_status topic_for(ganglion_producer *p, const char *name, uint32_t *index) {
    gl_topic *topic = NULL;
    if (p->last_topic < p->topic_count && strcmp(p->topics[p->last_topic].name, name) == 0) {
        topic = &p->topics[p->last_topic];
    } else {
        for (uint32_t t = 0; t < p->topic_count; t++) {
            if (strcmp(p->topics[t].name, name) == 0) {
                p->last_topic = t;
                topic = &p->topics[t];
                break;
            }
        }
    }
    if (topic && !topic->needs_lookup) {
        *index = (uint32_t)(topic - p->topics);
        return GANGLION_OK;
    }
    uint32_t count = 0;
    ganglion_status status = lookup_topic(p, name, &count);
    if (status != GANGLION_OK) return status;
    if (!topic) {
        /* The lookup may have served answers, but never adds topics: the table is as it was. */
        if (p->topic_count == MAX_TOPICS) {
            return fail(p, GANGLION_ERR_INVALID_ARGUMENT, GANGLION_NODE_NONE, "a producer sends to at most %u topics", MAX_TOPICS);
        }
        if (p->topic_count == p->topic_capacity) {
            uint32_t capacity = p->topic_capacity ? p->topic_capacity * 2 : 4;
            gl_topic *grown = realloc(p->topics, capacity * sizeof *grown);
            if (!grown) return fail(p, GANGLION_ERR_NO_MEMORY, GANGLION_NODE_NONE, "out of memory");
            p->topics = grown;
            p->topic_capacity = capacity;
        }
        topic = &p->topics[p->topic_count];
        memset(topic, 0, sizeof *topic);
        topic->name = strdup(name);
        if (!topic->name) return fail(p, GANGLION_ERR_NO_MEMORY, GANGLION_NODE_NONE, "out of memory");
        /* Keyless events start on a partition that depends on the producer, not on chance. */
        topic->sticky = (uint32_t)((uint64_t)(p->producer_id < 0 ? 0 : p->producer_id) % count);
        p->topic_count++;
    }
    if (topic_resize(topic, count) != 0) return fail(p, GANGLION_ERR_NO_MEMORY, GANGLION_NODE_NONE, "out of memory");
    topic->needs_lookup = 0;
    topic->metadata_read_at = gl_monotonic_ms();
    *index = (uint32_t)(topic - p->topics);
    p->last_topic = *index;
    return GANGLION_OK;
}

/* ---- Sending ------------------------------------------------------------------------------ */

/** A FILLING slot with room for `record_size` more bytes, opening one when needed; NULL when the ring is full. */
static gl_slot *slot_for(ganglion_producer *p, uint32_t t, uint32_t n, size_t record_size, int64_t now, int *no_memory) {
    gl_partition *partition = &p->topics[t].partitions[n];
    if (partition->used) {
        gl_slot *last = ring_slot(partition, partition->used - 1u);
        if (last->state == SLOT_FILLING) {
            if (last->count < p->config.max_batch_records && last->length + record_size <= p->config.max_batch_bytes) {
                return last;
            }
            slot_seal(&p->topics[t], n, last);
            partition_dispatch(p, t, n, now, 1);
        }
    }
    if (partition->used == GL_SLOTS) return NULL;
    gl_slot *slot = ring_slot(partition, partition->used);
    if (!slot->opaques) {
        slot->opaques = malloc(p->config.max_batch_records * sizeof *slot->opaques);
        if (!slot->opaques) return *no_memory = 1, NULL;
    }
    if (slot->capacity < GL_BATCH_HEADER_SIZE) {
        size_t capacity = 4096;
        uint8_t *bytes = realloc(slot->bytes, capacity);
        if (!bytes) return *no_memory = 1, NULL;
        slot->bytes = bytes;
        slot->capacity = capacity;
    }
    partition->used++;
    slot->state = SLOT_FILLING;
    slot->length = GL_BATCH_HEADER_SIZE;
    slot->count = 0;
    slot->stamped = 0;
    slot->attempts = 0;
    slot->opened_at = now;
    due_at(p, now + p->config.linger_ms);
    return slot;
}

ganglion_status ganglion_send(ganglion_producer *producer, const char *topic_name, const ganglion_event *event,
                              void *event_opaque) {
    ganglion_producer *p = producer;
    if (!p) return GANGLION_ERR_INVALID_ARGUMENT;
    if (!topic_name) return fail(p, GANGLION_ERR_INVALID_ARGUMENT, GANGLION_NODE_NONE, "topic is NULL");
    if (!topic_name_ok(topic_name)) {
        return fail(p, GANGLION_ERR_INVALID_ARGUMENT, GANGLION_NODE_NONE,
                    "topic name \"%.64s\" must be 1-249 characters of a-z, A-Z, 0-9, '.', '_' or '-'", topic_name);
    }
    if (p->fenced) return fail(p, GANGLION_ERR_FENCED, GANGLION_NODE_INVALID_PRODUCER_EPOCH, "%s", p->fenced_message);
    if (p->queued >= p->config.queue_capacity) {
        return fail(p, GANGLION_ERR_QUEUE_FULL, GANGLION_NODE_NONE,
                    "queue full: %zu events await their outcome (queue_capacity); call ganglion_poll() and send again",
                    p->queued);
    }
    char generated_id[80];
    snprintf(generated_id, sizeof generated_id, "%s%" PRIu64, p->id_prefix, p->id_counter + 1);
    ganglion_status status = gl_envelope_prepare(&p->envelope, event, p->default_source, generated_id, gl_unix_nanos(),
                                                 p->last_error, sizeof p->last_error);
    if (status != GANGLION_OK) {
        p->last_node_error = GANGLION_NODE_NONE;
        return status;
    }
    size_t value_length = protobuf_c_message_get_packed_size(&p->envelope.message.base);
    const void *key = event->key_len ? event->key : NULL;
    size_t alone = gl_record_size(0, 0, key, event->key_len, value_length);
    if (alone + 16 + GL_BATCH_HEADER_SIZE > p->config.max_batch_bytes || alone > GL_MAX_RECORD_BYTES) {
        return fail(p, GANGLION_ERR_TOO_LARGE, GANGLION_NODE_NONE,
                    "event of %zu bytes (envelope %zu, data %zu) exceeds the limit of %zu bytes per record "
                    "(max_batch_bytes %u less the batch header; the node takes at most 1 MiB per record)",
                    alone, value_length, event->data_len,
                    (size_t)(p->config.max_batch_bytes - GL_BATCH_HEADER_SIZE - 16) < GL_MAX_RECORD_BYTES
                        ? (size_t)(p->config.max_batch_bytes - GL_BATCH_HEADER_SIZE - 16)
                        : (size_t)GL_MAX_RECORD_BYTES,
                    p->config.max_batch_bytes);
    }

    uint32_t t = 0;
    status = topic_for(p, topic_name, &t);
    if (status != GANGLION_OK) return status;
    gl_topic *topic = &p->topics[t];
    uint32_t n = key ? ganglion_partition_for_key(key, event->key_len, topic->partition_count) : topic->sticky;

    int64_t now = gl_monotonic_ms();
    int64_t timestamp = p->envelope.timestamp_ms;
    /* Sized as the slot's next record; a fresh slot's record is no larger than this bound. */
    int no_memory = 0;
    gl_slot *slot = slot_for(p, t, n, alone + 16, now, &no_memory);
    if (no_memory) return fail(p, GANGLION_ERR_NO_MEMORY, GANGLION_NODE_NONE, "out of memory opening a batch");
    if (!slot) {
        return fail(p, GANGLION_ERR_QUEUE_FULL, GANGLION_NODE_NONE,
                    "queue full for %s partition %u: %d batches await their outcome; call ganglion_poll() and send again",
                    topic_name, n, GL_SLOTS);
    }
    if (slot->count == 0) {
        slot->first_timestamp = timestamp;
        slot->max_timestamp = timestamp;
    }
    int64_t delta = timestamp - slot->first_timestamp;
    size_t size = gl_record_size(delta, (int32_t)slot->count, key, event->key_len, value_length);
    if (slot->length + size > slot->capacity) {
        size_t capacity = slot->capacity * 2;
        while (capacity < slot->length + size) capacity *= 2;
        if (capacity > p->config.max_batch_bytes + 64u) capacity = p->config.max_batch_bytes + 64u;
        uint8_t *bytes = realloc(slot->bytes, capacity);
        if (!bytes) return fail(p, GANGLION_ERR_NO_MEMORY, GANGLION_NODE_NONE, "out of memory growing a batch to %zu bytes", capacity);
        slot->bytes = bytes;
        slot->capacity = capacity;
    }
    uint8_t *value = gl_record_write(slot->bytes + slot->length, delta, (int32_t)slot->count, key, event->key_len, value_length);
    protobuf_c_message_pack(&p->envelope.message.base, value);
    slot->length += size;
    slot->opaques[slot->count++] = event_opaque;
    if (timestamp > slot->max_timestamp) slot->max_timestamp = timestamp;
    p->queued++;
    p->id_counter++;

    /* Keep things moving without the caller's poll: a full batch goes now, answers are read. */
    if (slot->count >= p->config.max_batch_records || p->config.linger_ms == 0) {
        partition_dispatch(p, t, n, now, 1);
    }
    if (now >= p->next_due) service_due(p);
    if (gl_connection_readable(&p->connection)) receive_all(p);
    succeed(p);
    return GANGLION_OK;
}

/* ---- Polling, flushing, closing ----------------------------------------------------------- */

int ganglion_poll(ganglion_producer *p, int timeout_ms) {
    if (!p || p->in_callback) return 0;
    int64_t deadline = gl_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    serve_until(p, deadline, something_to_report);
    return deliver(p);
}

ganglion_status ganglion_flush(ganglion_producer *p, int timeout_ms) {
    if (!p) return GANGLION_ERR_INVALID_ARGUMENT;
    if (p->in_callback) return fail(p, GANGLION_ERR_INVALID_ARGUMENT, GANGLION_NODE_NONE, "ganglion_flush() called from a delivery callback");
    int64_t deadline = gl_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    p->flushing = 1;
    while (p->queued) {
        serve_until(p, deadline, something_to_report);
        deliver(p);
        if (gl_monotonic_ms() >= deadline) break;
    }
    p->flushing = 0;
    if (p->queued) {
        return fail(p, GANGLION_ERR_TIMEOUT, GANGLION_NODE_NONE, "%zu events still await their outcome after %d ms", p->queued,
                    timeout_ms);
    }
    succeed(p);
    return GANGLION_OK;
}

void ganglion_producer_free(ganglion_producer *p) {
    if (!p) return;
    /* Whatever is left is reported, so every accepted event gets exactly one outcome. */
    for (uint32_t t = 0; t < p->topic_count; t++) {
        for (uint32_t n = 0; n < p->topics[t].partitions_allocated; n++) {
            gl_partition *partition = &p->topics[t].partitions[n];
            for (unsigned position = 0; position < partition->used; position++) {
                gl_slot *slot = ring_slot(partition, position);
                if (slot->state != SLOT_DONE) {
                    slot_finish(p, partition, slot, GANGLION_ERR_CLOSED, GANGLION_NODE_NONE, -1,
                                slot->stamped ? "the producer was closed before the node answered: the events may or may not be stored"
                                              : "the producer was closed before the events were sent");
                }
            }
        }
    }
    if (!p->in_callback) deliver(p);
    for (uint32_t t = 0; t < p->topic_count; t++) {
        for (uint32_t n = 0; n < p->topics[t].partitions_allocated; n++) {
            for (unsigned s = 0; s < GL_SLOTS; s++) {
                free(p->topics[t].partitions[n].slots[s].bytes);
                free(p->topics[t].partitions[n].slots[s].opaques);
            }
        }
        free(p->topics[t].partitions);
        free(p->topics[t].name);
    }
    free(p->topics);
    gl_connection_destroy(&p->connection);
    free(p->default_source);
    free(p);
}

/* ---- Inspection --------------------------------------------------------------------------- */

size_t ganglion_queued(const ganglion_producer *p) { return p ? p->queued : 0; }

const char *ganglion_last_error(const ganglion_producer *p) { return p ? p->last_error : "producer is NULL"; }

ganglion_node_error ganglion_last_node_error(const ganglion_producer *p) { return p ? p->last_node_error : GANGLION_NODE_NONE; }

void ganglion_producer_stats(const ganglion_producer *p, ganglion_stats *stats) {
    if (!p || !stats) return;
    *stats = p->stats;
    stats->producer_id = p->producer_id;
    stats->producer_epoch = p->producer_epoch;
    stats->endpoint = gl_connection_endpoint(&p->connection);
}

/* ---- Key files ------------------------------------------------------------------------------ */

int gl_is_z85_key(const char *key) {
    if (!key || strlen(key) != 40) return 0;
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    for (size_t i = 0; i < 40; i++) {
        if (!strchr(alphabet, key[i])) return 0;
    }
    return 1;
}

int ganglion_read_key_file(const char *path, const char *field, char key[41], char *error, size_t error_size) {
    FILE *file = fopen(path, "r");
    if (!file) {
        snprintf(error, error_size, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    size_t field_length = strlen(field);
    int found = -1;
    while (fgets(line, sizeof line, file)) {
        char *at = line;
        while (*at == ' ' || *at == '\t') at++;
        if (*at == '#' || strncmp(at, field, field_length) != 0) continue;
        at += field_length;
        while (*at == ' ' || *at == '\t') at++;
        if (*at != '=') continue;
        at++;
        while (*at == ' ' || *at == '\t') at++;
        size_t length = strcspn(at, " \t\r\n");
        if (length == 40) {
            memcpy(key, at, 40);
            key[40] = 0;
            found = gl_is_z85_key(key) ? 0 : -1;
        }
        break;
    }
    fclose(file);
    if (found != 0) snprintf(error, error_size, "%s has no valid %s line (40 Z85 characters)", path, field);
    return found;
}
