/*
 * ganglion.h — a small C producer for Ganglion, for edge devices and gateways.
 *
 * A producer connects to a node (or the first of a list of bootstrap nodes that answers), wraps
 * each event in a `ganglion.v1.EventEnvelope`, gathers the events of a partition into Kafka v2
 * record batches and sends them with PRODUCE. It is idempotent: it holds a producer id and epoch
 * from the node and numbers its batches per partition, so a batch resent after a timeout, a
 * `BUSY` answer or a node restart is stored once. Every accepted event's outcome (partition and
 * offset, or the error and the node's message) is reported once, through the delivery callback.
 *
 * Threading: a producer belongs to one thread (its ZeroMQ socket does). Callbacks run on that
 * thread, only inside ganglion_poll(), ganglion_flush() and ganglion_producer_free(); a callback
 * may call ganglion_send(), but not ganglion_poll(), ganglion_flush() or ganglion_producer_free().
 *
 * Memory: the producer allocates while it warms up (a topic's first use, a batch buffer growing
 * to its largest size so far); after that ganglion_send() and ganglion_poll() allocate nothing of
 * their own (libzmq copies each frame it sends, as it always does).
 *
 *     ganglion_config config;
 *     ganglion_config_init(&config);
 *     config.bootstrap = "tcp://127.0.0.1:7400";
 *     config.on_delivery = print_ack;
 *     ganglion_producer *producer;
 *     char why[256];
 *     if (ganglion_producer_new(&config, &producer, why, sizeof why) != GANGLION_OK) { puts(why); return 1; }
 *     ganglion_event event = {.type = "sensor.reading", .key = "dev-1", .key_len = 5, .data = "21.5", .data_len = 4};
 *     ganglion_send(producer, "readings", &event, NULL);
 *     ganglion_flush(producer, 10000);
 *     ganglion_producer_free(producer);
 */
#ifndef GANGLION_H
#define GANGLION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version. */
#define GANGLION_C_VERSION "0.1.0"

/** The outcome of a call, or of one event's delivery. */
typedef enum ganglion_status {
    /** Done: the event is queued (ganglion_send) or stored (a delivery). */
    GANGLION_OK = 0,
    /** A NULL or malformed argument (named in the error message); nothing was queued. */
    GANGLION_ERR_INVALID_ARGUMENT = 1,
    /** The encoded event is larger than a record may be (see ganglion_config.max_batch_bytes). */
    GANGLION_ERR_TOO_LARGE = 2,
    /** The bounded queue is full: call ganglion_poll() to let acknowledgements drain, then send again. */
    GANGLION_ERR_QUEUE_FULL = 3,
    /** No bootstrap node answered. */
    GANGLION_ERR_CONNECT = 4,
    /** No answer in time, every attempt used: the event may or may not be stored. */
    GANGLION_ERR_TIMEOUT = 5,
    /** The node refused: ganglion_delivery.node_error (or ganglion_last_node_error()) says why. */
    GANGLION_ERR_NODE = 6,
    /** A newer producer with the same producer id took over; this one sends nothing more. */
    GANGLION_ERR_FENCED = 7,
    /** An allocation failed while warming up. */
    GANGLION_ERR_NO_MEMORY = 8,
    /** The node's answer does not parse (a different protocol version?). */
    GANGLION_ERR_PROTOCOL = 9,
    /** The producer was freed before the node acknowledged the event: it may or may not be stored. */
    GANGLION_ERR_CLOSED = 10,
} ganglion_status;

/**
 * The node's error codes: `ganglion.v1.ErrorCode` in proto/ganglion/v1/protocol.proto, same
 * numbers. ganglion_node_error_name() names them.
 */
typedef enum ganglion_node_error {
    GANGLION_NODE_NONE = 0,
    GANGLION_NODE_MALFORMED_REQUEST = 1,
    GANGLION_NODE_UNSUPPORTED_KIND = 2,
    GANGLION_NODE_UNKNOWN_TOPIC = 3,
    GANGLION_NODE_UNKNOWN_PARTITION = 4,
    GANGLION_NODE_TOPIC_EXISTS = 5,
    GANGLION_NODE_INVALID_CONFIG = 6,
    GANGLION_NODE_CORRUPT_BATCH = 7,
    GANGLION_NODE_BATCH_TOO_LARGE = 8,
    GANGLION_NODE_RECORD_TOO_LARGE = 9,
    GANGLION_NODE_OFFSET_OUT_OF_RANGE = 10,
    GANGLION_NODE_BUSY = 11,
    GANGLION_NODE_NOT_LEADER = 12,
    GANGLION_NODE_DUPLICATE_SEQUENCE = 13,
    GANGLION_NODE_OUT_OF_ORDER_SEQUENCE = 14,
    GANGLION_NODE_INVALID_PRODUCER_EPOCH = 15,
    GANGLION_NODE_FENCED_MEMBER_EPOCH = 16,
    GANGLION_NODE_UNKNOWN_MEMBER_ID = 17,
    GANGLION_NODE_NOT_PARTITION_OWNER = 18,
    GANGLION_NODE_SCHEMA_VIOLATION = 19,
    GANGLION_NODE_TIMEOUT = 20,
    GANGLION_NODE_INTERNAL = 21,
    GANGLION_NODE_GROUP_NOT_EMPTY = 22,
    GANGLION_NODE_UNKNOWN_GROUP = 23,
    /** A metadata write found no controller leader (an election, or no quorum): nothing applied, retry. */
    GANGLION_NODE_NOT_CONTROLLER = 24,
    /** The request named an older leader epoch than the partition's: refresh metadata, retry. */
    GANGLION_NODE_FENCED_LEADER_EPOCH = 25,
    /** An acks=all produce found fewer in-sync replicas than min-insync: not acknowledged, retry. */
    GANGLION_NODE_NOT_ENOUGH_REPLICAS = 26,
    /** A group request found no coordinator for its group (it is moving): nothing applied, retry. */
    GANGLION_NODE_NOT_COORDINATOR = 27,
    /** The producer's principal may not write the topic (security on, ACLs): not stored; not retried. */
    GANGLION_NODE_NOT_AUTHORIZED = 28,
} ganglion_node_error;

/** How many copies hold a batch before the node acknowledges it (`ganglion.v1.Acks`). */
typedef enum ganglion_acks {
    /** No answer at all: deliveries report success at once, with offset -1, and nothing is retried. */
    GANGLION_ACKS_NONE = 1,
    /** The partition leader stored it under its fsync policy (the default). */
    GANGLION_ACKS_LEADER = 2,
    /** Every in-sync replica holds it. */
    GANGLION_ACKS_ALL = 3,
} ganglion_acks;

/** One event's outcome, passed to the delivery callback. Valid only during the call. */
typedef struct ganglion_delivery {
    /** What the caller passed to ganglion_send() with the event. */
    void *event_opaque;
    /** The topic. */
    const char *topic;
    /** The partition the event went to. */
    uint32_t partition;
    /** Its offset in the partition; -1 when it was not stored, or with GANGLION_ACKS_NONE. */
    int64_t offset;
    /** GANGLION_OK when stored. */
    ganglion_status status;
    /** With GANGLION_ERR_NODE (and a node's BUSY or TIMEOUT that outlasted the retries): the node's code. */
    ganglion_node_error node_error;
    /** What went wrong and what to do, for a person; "" on success. */
    const char *message;
} ganglion_delivery;

/** Called once per accepted event (from ganglion_poll(), ganglion_flush() or ganglion_producer_free()), in order per partition. */
typedef void (*ganglion_delivery_fn)(const ganglion_delivery *delivery, void *callback_opaque);

/** A producer's settings; ganglion_config_init() fills in the defaults. */
typedef struct ganglion_config {
    /** Node request endpoints, comma-separated ("tcp://10.0.0.5:7400,tcp://10.0.0.6:7400"). Required. */
    const char *bootstrap;
    /** Names this producer in the node's logs and metrics. Default "ganglion-c". */
    const char *client_id;
    /** The CloudEvents source of events that name none. Default "/ganglion/c". */
    const char *default_source;
    /** Default GANGLION_ACKS_LEADER. */
    ganglion_acks acks;
    /** Stamp batches with a producer id, epoch and sequence so retries are stored once. Default 1. */
    int idempotent;
    /** How long a bootstrap node has to answer before the next is tried (ms). Default 3000. */
    uint32_t connect_timeout_ms;
    /** How long a request waits for its answer before it is sent again, to the next node (ms). Default 5000. */
    uint32_t request_timeout_ms;
    /** Attempts per batch (timeouts, BUSY and the node's TIMEOUT are retried). Default 10. */
    uint32_t max_attempts;
    /** How long a partition's first event waits for others to share its batch (ms). Default 2. */
    uint32_t linger_ms;
    /** Events per batch at most. Default 1000. */
    uint32_t max_batch_records;
    /** Bytes per batch at most, header included; also bounds one event. Default 512 KiB, at most 8 MiB. */
    uint32_t max_batch_bytes;
    /** Events accepted and not yet reported, at most; beyond it ganglion_send() answers QUEUE_FULL. Default 10000. */
    uint32_t queue_capacity;
    /** How long a topic's partition count is trusted before it is read again (ms). Default 300000. */
    uint32_t metadata_max_age_ms;
    /** Told each event's outcome; may be NULL (outcomes are then only counted). */
    ganglion_delivery_fn on_delivery;
    /** Passed to on_delivery. */
    void *callback_opaque;
    /** A cluster with security on: its public key (cluster.pub), 40 Z85 characters. With the two
     *  below, the producer connects with CurveZMQ as the principal owning that key pair; all three
     *  or none. Default NULL: plain text. ganglion_read_key_file() reads them from key files. */
    const char *curve_server_key;
    /** This producer's public key (NAME.pub / NAME.key's public-key), 40 Z85 characters. */
    const char *curve_public_key;
    /** This producer's secret key (NAME.key's secret-key), 40 Z85 characters. Never logged. */
    const char *curve_secret_key;
} ganglion_config;

/** Reads the `field` ("public-key" or "secret-key") of a key file written by `ganglion security
 *  init/keygen` into `key` (41 bytes: 40 Z85 characters and a NUL). 0, or -1 with `error`. */
int ganglion_read_key_file(const char *path, const char *field, char key[41], char *error, size_t error_size);

/** A CloudEvents extension attribute: a lower-case alphanumeric name and a string value. */
typedef struct ganglion_attribute {
    const char *name;
    const char *value;
} ganglion_attribute;

/**
 * One event. Strings are NUL-terminated UTF-8; NULL means absent. The producer copies what it
 * needs during ganglion_send(): nothing here has to outlive the call.
 */
typedef struct ganglion_event {
    /** Unique with `source`; NULL: the producer makes one ("c-<producer id>-<epoch>-<n>"). */
    const char *id;
    /** NULL: ganglion_config.default_source. */
    const char *source;
    /** The kind of event, reverse-DNS style ("com.example.reading"). Required. */
    const char *type;
    const char *subject;
    /** When it happened, in nanoseconds since the Unix epoch; 0: now. Also the record's timestamp (ms). */
    int64_t time_unix_nanos;
    /** Media type of data, e.g. "application/json". */
    const char *data_content_type;
    const char *data_schema;
    /** The partition key (murmur2(key) mod partitions, as Kafka); NULL or empty: a sticky partition. */
    const void *key;
    size_t key_len;
    /** The schema registry id of data's schema; 0: unregistered. */
    uint32_t schema_id;
    const char *message_name;
    const char *correlation_id;
    const char *causation_id;
    const char *traceparent;
    const char *tracestate;
    /** Extension attributes (at most 64). */
    const ganglion_attribute *extensions;
    size_t extension_count;
    /** The payload; may be NULL when data_len is 0. */
    const void *data;
    size_t data_len;
} ganglion_event;

/** An open producer. */
typedef struct ganglion_producer ganglion_producer;

/** Fills `config` with the defaults (bootstrap stays NULL). */
void ganglion_config_init(ganglion_config *config);

/**
 * Connects to the first bootstrap node that answers and (when idempotent) asks it for a producer
 * id. On failure returns the status, writes why into `error` (when not NULL) and sets *out to NULL.
 */
ganglion_status ganglion_producer_new(const ganglion_config *config, ganglion_producer **out, char *error,
                                      size_t error_size);

/**
 * Queues one event for `topic` and returns at once; its outcome comes later through the delivery
 * callback (with `event_opaque`). The first event for a topic waits for the node's metadata (its
 * partition count). Anything but GANGLION_OK means the event was not queued and will not be
 * reported; ganglion_last_error() says why.
 */
ganglion_status ganglion_send(ganglion_producer *producer, const char *topic, const ganglion_event *event,
                              void *event_opaque);

/**
 * Sends what is due, reads the node's answers and reports outcomes through the callback, waiting
 * up to `timeout_ms` (0: not at all) for at least one. Returns how many events were reported.
 */
int ganglion_poll(ganglion_producer *producer, int timeout_ms);

/**
 * Sends everything queued and polls until every event is reported or `timeout_ms` passed:
 * GANGLION_OK when nothing is left, GANGLION_ERR_TIMEOUT otherwise.
 */
ganglion_status ganglion_flush(ganglion_producer *producer, int timeout_ms);

/**
 * Closes the producer. Events not yet reported are reported now with GANGLION_ERR_CLOSED (call
 * ganglion_flush() first to wait for them). NULL is ignored.
 */
void ganglion_producer_free(ganglion_producer *producer);

/** Events accepted and not yet reported. */
size_t ganglion_queued(const ganglion_producer *producer);

/** Why the last call on this producer failed, for a person ("" after a success). */
const char *ganglion_last_error(const ganglion_producer *producer);

/** The node's error code behind the last failed call (GANGLION_NODE_NONE when the node said nothing). */
ganglion_node_error ganglion_last_node_error(const ganglion_producer *producer);

/** Counters, for logs and benchmarks. */
typedef struct ganglion_stats {
    /** The producer id the node issued (-1 when not idempotent) and the current epoch. */
    int64_t producer_id;
    int16_t producer_epoch;
    /** Batches acknowledged, events reported stored, events reported failed. */
    uint64_t batches_acknowledged;
    uint64_t events_stored;
    uint64_t events_failed;
    /** Batches sent again (after a timeout, BUSY or a reconnect). */
    uint64_t batches_resent;
    /** Times the producer moved to another (or the same) bootstrap node after a timeout. */
    uint64_t reconnects;
    /** The endpoint it talks to now. */
    const char *endpoint;
} ganglion_stats;

/** Fills `stats` with the producer's counters. */
void ganglion_producer_stats(const ganglion_producer *producer, ganglion_stats *stats);

/** The status's name ("GANGLION_ERR_QUEUE_FULL"). */
const char *ganglion_status_name(ganglion_status status);

/** The node error's name as protocol.proto spells it, without its prefix ("UNKNOWN_TOPIC"). */
const char *ganglion_node_error_name(ganglion_node_error code);

/** Kafka's murmur2 of `key` (as Kafka's Utils.murmur2 and Ganglion's KeyPartitioner compute it). */
int32_t ganglion_murmur2(const void *key, size_t length);

/** The partition of `key` among `partition_count` (> 0): (murmur2(key) & 0x7fffffff) % partition_count. */
uint32_t ganglion_partition_for_key(const void *key, size_t length, uint32_t partition_count);

#ifdef __cplusplus
}
#endif

#endif /* GANGLION_H */
