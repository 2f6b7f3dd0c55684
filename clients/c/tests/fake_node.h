/*
 * A scripted stand-in for a node, for the unit tests: a ROUTER on its own thread that answers
 * INIT_PRODUCER_ID, METADATA and PRODUCE the way docs/protocol.md says, keeps a copy of every
 * batch it receives, and can be told to drop, refuse or answer BUSY to the next produce requests.
 * It deduplicates a batch whose producer sequence it already stored (the node's idempotence).
 */
#ifndef GANGLION_FAKE_NODE_H
#define GANGLION_FAKE_NODE_H

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define FAKE_MAX_BATCHES 512
#define FAKE_PARTITIONS 16

typedef struct fake_batch {
    uint8_t *bytes;
    size_t length;
    uint32_t partition;
    uint64_t request_id;
} fake_batch;

typedef struct fake_node {
    void *context;
    void *router;
    char endpoint[64];
    pthread_t thread;
    pthread_mutex_t lock;
    atomic_int stop;
    /* What to do; change under `lock`. */
    uint32_t partitions;
    int drop_produce;
    int busy_produce;
    int refuse_produce;
    ganglion_node_error refuse_with;
    /* What happened; read under `lock`. */
    fake_batch batches[FAKE_MAX_BATCHES];
    int batch_count;
    int produce_requests;
    int init_requests;
    int64_t last_resumed_id;
    int16_t epoch;
    int64_t next_offset[FAKE_PARTITIONS];
    struct {
        int valid;
        int16_t epoch;
        int32_t sequence;
        int64_t offset;
    } last[FAKE_PARTITIONS];
} fake_node;

static uint32_t fake_read32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void fake_reply(fake_node *node, zmq_msg_t *routing, uint64_t request_id, ganglion_node_error error, const char *message,
                       uint32_t retry_after_ms, const ProtobufCMessage *body) {
    Ganglion__V1__ResponseHeader header = GANGLION__V1__RESPONSE_HEADER__INIT;
    header.request_id = request_id;
    header.error = (Ganglion__V1__ErrorCode)error;
    header.error_message = (char *)(message ? message : "");
    header.retry_after_ms = retry_after_ms;
    uint8_t header_bytes[512];
    size_t header_length = protobuf_c_message_pack(&header.base, header_bytes);
    zmq_send(node->router, zmq_msg_data(routing), zmq_msg_size(routing), ZMQ_SNDMORE);
    if (!body) {
        zmq_send(node->router, header_bytes, header_length, 0);
        return;
    }
    zmq_send(node->router, header_bytes, header_length, ZMQ_SNDMORE);
    size_t body_length = protobuf_c_message_get_packed_size(body);
    uint8_t *body_bytes = malloc(body_length + 1);
    protobuf_c_message_pack(body, body_bytes);
    zmq_send(node->router, body_bytes, body_length, 0);
    free(body_bytes);
}

static void fake_handle(fake_node *node, zmq_msg_t *frames, int count) {
    Ganglion__V1__RequestHeader *header = (Ganglion__V1__RequestHeader *)protobuf_c_message_unpack(
        &ganglion__v1__request_header__descriptor, NULL, zmq_msg_size(&frames[1]), zmq_msg_data(&frames[1]));
    if (!header) return;
    uint64_t id = header->request_id;
    pthread_mutex_lock(&node->lock);
    switch (header->kind) {
    case GANGLION__V1__REQUEST_KIND__REQUEST_KIND_INIT_PRODUCER_ID: {
        Ganglion__V1__InitProducerIdRequest *request = (Ganglion__V1__InitProducerIdRequest *)protobuf_c_message_unpack(
            &ganglion__v1__init_producer_id_request__descriptor, NULL, zmq_msg_size(&frames[2]), zmq_msg_data(&frames[2]));
        node->init_requests++;
        node->last_resumed_id = request ? request->producer_id : -2;
        if (request && request->producer_id == 42) node->epoch++;
        Ganglion__V1__InitProducerIdResponse response = GANGLION__V1__INIT_PRODUCER_ID_RESPONSE__INIT;
        response.producer_id = 42;
        response.producer_epoch = node->epoch;
        fake_reply(node, &frames[0], id, GANGLION_NODE_NONE, NULL, 0, &response.base);
        if (request) protobuf_c_message_free_unpacked(&request->base, NULL);
        break;
    }
    case GANGLION__V1__REQUEST_KIND__REQUEST_KIND_METADATA: {
        Ganglion__V1__MetadataRequest *request = (Ganglion__V1__MetadataRequest *)protobuf_c_message_unpack(
            &ganglion__v1__metadata_request__descriptor, NULL, zmq_msg_size(&frames[2]), zmq_msg_data(&frames[2]));
        Ganglion__V1__MetadataResponse response = GANGLION__V1__METADATA_RESPONSE__INIT;
        Ganglion__V1__TopicMetadata topic = GANGLION__V1__TOPIC_METADATA__INIT;
        Ganglion__V1__TopicConfig config = GANGLION__V1__TOPIC_CONFIG__INIT;
        Ganglion__V1__TopicMetadata *topics[1] = {&topic};
        char *unknown[1];
        if (request && request->n_topics == 1 && strcmp(request->topics[0], "missing") == 0) {
            unknown[0] = request->topics[0];
            response.unknown_topics = unknown;
            response.n_unknown_topics = 1;
        } else if (request && request->n_topics == 1) {
            topic.name = request->topics[0];
            config.partitions = node->partitions;
            topic.config = &config;
            response.topics = topics;
            response.n_topics = 1;
        }
        fake_reply(node, &frames[0], id, GANGLION_NODE_NONE, NULL, 0, &response.base);
        if (request) protobuf_c_message_free_unpacked(&request->base, NULL);
        break;
    }
    case GANGLION__V1__REQUEST_KIND__REQUEST_KIND_PRODUCE: {
        Ganglion__V1__ProduceRequest *request = (Ganglion__V1__ProduceRequest *)protobuf_c_message_unpack(
            &ganglion__v1__produce_request__descriptor, NULL, zmq_msg_size(&frames[2]), zmq_msg_data(&frames[2]));
        if (!request || count < 4) {
            fake_reply(node, &frames[0], id, GANGLION_NODE_MALFORMED_REQUEST, "no batch", 0, NULL);
            if (request) protobuf_c_message_free_unpacked(&request->base, NULL);
            break;
        }
        uint32_t partition = request->partition % FAKE_PARTITIONS;
        protobuf_c_message_free_unpacked(&request->base, NULL);
        node->produce_requests++;
        const uint8_t *batch = zmq_msg_data(&frames[3]);
        size_t length = zmq_msg_size(&frames[3]);
        if (node->batch_count < FAKE_MAX_BATCHES) {
            fake_batch *copy = &node->batches[node->batch_count++];
            copy->bytes = malloc(length);
            memcpy(copy->bytes, batch, length);
            copy->length = length;
            copy->partition = partition;
            copy->request_id = id;
        }
        if (node->drop_produce > 0) {
            node->drop_produce--;
            break;
        }
        if (node->busy_produce > 0) {
            node->busy_produce--;
            fake_reply(node, &frames[0], id, GANGLION_NODE_BUSY, "busy: too many produce requests in flight", 5, NULL);
            break;
        }
        if (node->refuse_produce > 0) {
            node->refuse_produce--;
            fake_reply(node, &frames[0], id, node->refuse_with, "refused by the fake node", 0, NULL);
            break;
        }
        int16_t epoch = (int16_t)(batch[51] << 8 | batch[52]);
        int32_t sequence = (int32_t)fake_read32(batch + 53);
        int32_t records = (int32_t)fake_read32(batch + 57);
        int idempotent = !(batch[43] == 0xFF && batch[44] == 0xFF && batch[49] == 0xFF && batch[50] == 0xFF);
        if (!idempotent) {
            Ganglion__V1__ProduceResponse response = GANGLION__V1__PRODUCE_RESPONSE__INIT;
            response.base_offset = node->next_offset[partition];
            node->next_offset[partition] += records;
            fake_reply(node, &frames[0], id, GANGLION_NODE_NONE, NULL, 0, &response.base);
            break;
        }
        if (epoch < node->epoch) {
            fake_reply(node, &frames[0], id, GANGLION_NODE_INVALID_PRODUCER_EPOCH, "an older epoch", 0, NULL);
            break;
        }
        Ganglion__V1__ProduceResponse response = GANGLION__V1__PRODUCE_RESPONSE__INIT;
        if (node->last[partition].valid && node->last[partition].epoch == epoch && node->last[partition].sequence == sequence) {
            response.base_offset = node->last[partition].offset; /* a retry: acknowledged, not stored twice */
        } else {
            response.base_offset = node->next_offset[partition];
            node->last[partition].valid = 1;
            node->last[partition].epoch = epoch;
            node->last[partition].sequence = sequence;
            node->last[partition].offset = response.base_offset;
            node->next_offset[partition] += records;
        }
        fake_reply(node, &frames[0], id, GANGLION_NODE_NONE, NULL, 0, &response.base);
        break;
    }
    default:
        fake_reply(node, &frames[0], id, GANGLION_NODE_UNSUPPORTED_KIND, "not faked", 0, NULL);
    }
    pthread_mutex_unlock(&node->lock);
    protobuf_c_message_free_unpacked(&header->base, NULL);
}

static void *fake_run(void *argument) {
    fake_node *node = argument;
    while (!atomic_load(&node->stop)) {
        zmq_pollitem_t item = {.socket = node->router, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 20) <= 0) continue;
        zmq_msg_t frames[5];
        int count = 0;
        int more = 1;
        while (more) {
            zmq_msg_t frame;
            zmq_msg_init(&frame);
            if (zmq_msg_recv(&frame, node->router, 0) < 0) {
                zmq_msg_close(&frame);
                break;
            }
            more = zmq_msg_more(&frame);
            if (count < 5) {
                frames[count++] = frame;
            } else {
                zmq_msg_close(&frame);
            }
        }
        if (count >= 3) fake_handle(node, frames, count);
        for (int i = 0; i < count; i++) zmq_msg_close(&frames[i]);
    }
    return NULL;
}

/** Starts a fake node with `partitions` partitions per topic on an OS-chosen loopback port. */
static fake_node *fake_node_start(uint32_t partitions) {
    fake_node *node = calloc(1, sizeof *node);
    node->partitions = partitions;
    pthread_mutex_init(&node->lock, NULL);
    node->context = zmq_ctx_new();
    node->router = zmq_socket(node->context, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(node->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_bind(node->router, "tcp://127.0.0.1:*");
    size_t size = sizeof node->endpoint;
    zmq_getsockopt(node->router, ZMQ_LAST_ENDPOINT, node->endpoint, &size);
    pthread_create(&node->thread, NULL, fake_run, node);
    return node;
}

static void fake_node_stop(fake_node *node) {
    atomic_store(&node->stop, 1);
    pthread_join(node->thread, NULL);
    zmq_close(node->router);
    zmq_ctx_term(node->context);
    for (int i = 0; i < node->batch_count; i++) free(node->batches[i].bytes);
    pthread_mutex_destroy(&node->lock);
    free(node);
}

#endif /* GANGLION_FAKE_NODE_H */
