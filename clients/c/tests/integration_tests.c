/*
 * The C side of the integration tests (tests/run.sh drives them against a real node):
 *
 *   integration_tests publish --bootstrap EP --topic T --events N --keys K --run TAG --expect FILE
 *                             [--rate EVENTS_PER_S] [--progress FILE] [--request-timeout-ms MS] [--max-attempts N]
 *                             [--drop-replies N]
 *
 * Publishes N events over K keys — each with its own id, subject, extensions and binary payload
 * (zero bytes, 0xff, lengths 0 to 400) — checks that every event gets exactly one outcome, stored,
 * with offsets rising per key in send order, and writes what it sent and where the node put it,
 * one JSON line per event, to FILE: tests/check_readback.py compares that with what the Swift
 * side (`ganglion tail`) reads back. --progress keeps FILE's acknowledged count current (the
 * restart test kills the node once part of the stream is stored). --drop-replies N puts a proxy
 * between the producer and the node that loses the node's answer to every 10th produce request,
 * N times: the node stored those batches, the producer never hears so, times out and resends —
 * and the node must recognise each resent batch by its producer sequence and store it once.
 */
#include "ganglion.h"
#include "ganglion/v1/protocol.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <zmq.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sent_event {
    char id[64];
    char key[32];
    char subject[32];
    char sequence[16];
    int reports;
    ganglion_status status;
    ganglion_node_error node_error;
    uint32_t partition;
    int64_t offset;
    char message[160];
} sent_event;

static sent_event *events;
static long acknowledged;

static void on_delivery(const ganglion_delivery *delivery, void *opaque) {
    (void)opaque;
    sent_event *event = delivery->event_opaque;
    event->reports++;
    event->status = delivery->status;
    event->node_error = delivery->node_error;
    event->partition = delivery->partition;
    event->offset = delivery->offset;
    snprintf(event->message, sizeof event->message, "%s", delivery->message);
    if (delivery->status == GANGLION_OK) acknowledged++;
}

/* ---- A proxy that loses some of the node's answers -------------------------------------- */

typedef struct lossy_proxy {
    void *context;
    void *front; /* ROUTER: the producer connects here */
    void *back;  /* DEALER: to the node */
    char endpoint[64];
    pthread_t thread;
    atomic_int stop;
    int to_drop;
    long produce_requests;
    /* request id → the producer's routing id, and whether to lose the answer */
    struct route {
        uint64_t request_id;
        uint8_t routing[64];
        size_t routing_length;
        int lose;
    } routes[4096];
} lossy_proxy;

static struct route *route_for(lossy_proxy *proxy, uint64_t request_id) {
    return &proxy->routes[request_id % 4096];
}

static uint64_t header_request_id(zmq_msg_t *frame, int *is_produce, int request) {
    uint64_t id = 0;
    if (request) {
        Ganglion__V1__RequestHeader *header = (Ganglion__V1__RequestHeader *)protobuf_c_message_unpack(
            &ganglion__v1__request_header__descriptor, NULL, zmq_msg_size(frame), zmq_msg_data(frame));
        if (header) {
            id = header->request_id;
            *is_produce = header->kind == GANGLION__V1__REQUEST_KIND__REQUEST_KIND_PRODUCE;
            protobuf_c_message_free_unpacked(&header->base, NULL);
        }
    } else {
        Ganglion__V1__ResponseHeader *header = (Ganglion__V1__ResponseHeader *)protobuf_c_message_unpack(
            &ganglion__v1__response_header__descriptor, NULL, zmq_msg_size(frame), zmq_msg_data(frame));
        if (header) {
            id = header->request_id;
            protobuf_c_message_free_unpacked(&header->base, NULL);
        }
    }
    return id;
}

static int receive_message(void *socket, zmq_msg_t *frames, int capacity) {
    int count = 0, more = 1;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, 0) < 0) {
            zmq_msg_close(&frame);
            return count;
        }
        more = zmq_msg_more(&frame);
        if (count < capacity) frames[count++] = frame;
        else zmq_msg_close(&frame);
    }
    return count;
}

static void send_frames(void *socket, zmq_msg_t *frames, int from, int count) {
    for (int i = from; i < count; i++) zmq_msg_send(&frames[i], socket, i + 1 < count ? ZMQ_SNDMORE : 0);
}

static void *proxy_run(void *argument) {
    lossy_proxy *proxy = argument;
    while (!atomic_load(&proxy->stop)) {
        zmq_pollitem_t items[2] = {{.socket = proxy->front, .events = ZMQ_POLLIN}, {.socket = proxy->back, .events = ZMQ_POLLIN}};
        if (zmq_poll(items, 2, 20) <= 0) continue;
        zmq_msg_t frames[6];
        if (items[0].revents & ZMQ_POLLIN) {
            int count = receive_message(proxy->front, frames, 6);
            if (count >= 3) {
                int is_produce = 0;
                uint64_t id = header_request_id(&frames[1], &is_produce, 1);
                struct route *route = route_for(proxy, id);
                route->request_id = id;
                route->routing_length = zmq_msg_size(&frames[0]) < sizeof route->routing ? zmq_msg_size(&frames[0]) : 0;
                memcpy(route->routing, zmq_msg_data(&frames[0]), route->routing_length);
                route->lose = 0;
                if (is_produce && ++proxy->produce_requests % 10 == 5 && proxy->to_drop > 0) {
                    route->lose = 1;
                    proxy->to_drop--;
                }
                send_frames(proxy->back, frames, 1, count);
                zmq_msg_close(&frames[0]);
            } else {
                for (int i = 0; i < count; i++) zmq_msg_close(&frames[i]);
            }
        }
        if (items[1].revents & ZMQ_POLLIN) {
            int count = receive_message(proxy->back, frames, 6);
            int unused = 0;
            uint64_t id = count ? header_request_id(&frames[0], &unused, 0) : 0;
            struct route *route = route_for(proxy, id);
            if (count && route->request_id == id && route->routing_length && !route->lose) {
                zmq_send(proxy->front, route->routing, route->routing_length, ZMQ_SNDMORE);
                send_frames(proxy->front, frames, 0, count);
            } else {
                for (int i = 0; i < count; i++) zmq_msg_close(&frames[i]); /* lost on the way back */
            }
        }
    }
    return NULL;
}

static lossy_proxy *proxy_start(const char *node, int to_drop) {
    lossy_proxy *proxy = calloc(1, sizeof *proxy);
    proxy->to_drop = to_drop;
    proxy->context = zmq_ctx_new();
    proxy->front = zmq_socket(proxy->context, ZMQ_ROUTER);
    proxy->back = zmq_socket(proxy->context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(proxy->front, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(proxy->back, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(proxy->front, "tcp://127.0.0.1:*") != 0 || zmq_connect(proxy->back, node) != 0) return NULL;
    size_t size = sizeof proxy->endpoint;
    zmq_getsockopt(proxy->front, ZMQ_LAST_ENDPOINT, proxy->endpoint, &size);
    pthread_create(&proxy->thread, NULL, proxy_run, proxy);
    return proxy;
}

static void proxy_stop(lossy_proxy *proxy) {
    atomic_store(&proxy->stop, 1);
    pthread_join(proxy->thread, NULL);
    zmq_close(proxy->front);
    zmq_close(proxy->back);
    zmq_ctx_term(proxy->context);
    free(proxy);
}

/* ---- Publishing --------------------------------------------------------------------------- */

static size_t payload(long i, uint8_t *out) {
    size_t length = (size_t)((i * 37) % 401);
    if (i % 50 == 7) length = 0; /* some events carry no payload at all */
    for (size_t j = 0; j < length; j++) out[j] = (uint8_t)((i * 31 + (long)j * 7) & 0xFF);
    if (length > 2) out[1] = 0x00, out[2] = 0xFF;
    return length;
}

static void base64(const uint8_t *data, size_t length, char *out) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < length; i += 3) {
        uint32_t chunk = (uint32_t)data[i] << 16 | (i + 1 < length ? (uint32_t)data[i + 1] << 8 : 0) | (i + 2 < length ? data[i + 2] : 0);
        out[o++] = alphabet[chunk >> 18 & 63];
        out[o++] = alphabet[chunk >> 12 & 63];
        out[o++] = i + 1 < length ? alphabet[chunk >> 6 & 63] : '=';
        out[o++] = i + 2 < length ? alphabet[chunk & 63] : '=';
    }
    out[o] = '\0';
}

static int64_t now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void write_progress(const char *path, long value) {
    if (!path) return;
    char temporary[512];
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *file = fopen(temporary, "w");
    if (!file) return;
    fprintf(file, "%ld\n", value);
    fclose(file);
    rename(temporary, path);
}

static int usage(void) {
    fprintf(stderr, "usage: integration_tests publish --bootstrap EP --topic T --events N --keys K --run TAG --expect FILE "
                    "[--rate N] [--progress FILE] [--request-timeout-ms MS] [--max-attempts N] [--drop-replies N]\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "publish") != 0) return usage();
    const char *bootstrap = NULL, *topic = NULL, *run = "run", *expect = NULL, *progress = NULL;
    long count = 0, keys = 1, rate = 0, timeout_ms = 5000, attempts = 10, drop_replies = 0;
    for (int i = 2; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value) return usage();
        if (strcmp(argv[i], "--bootstrap") == 0) bootstrap = value;
        else if (strcmp(argv[i], "--topic") == 0) topic = value;
        else if (strcmp(argv[i], "--events") == 0) count = atol(value);
        else if (strcmp(argv[i], "--keys") == 0) keys = atol(value);
        else if (strcmp(argv[i], "--run") == 0) run = value;
        else if (strcmp(argv[i], "--expect") == 0) expect = value;
        else if (strcmp(argv[i], "--rate") == 0) rate = atol(value);
        else if (strcmp(argv[i], "--progress") == 0) progress = value;
        else if (strcmp(argv[i], "--request-timeout-ms") == 0) timeout_ms = atol(value);
        else if (strcmp(argv[i], "--max-attempts") == 0) attempts = atol(value);
        else if (strcmp(argv[i], "--drop-replies") == 0) drop_replies = atol(value);
        else return usage();
        i++;
    }
    if (!bootstrap || !topic || !expect || count < 1 || keys < 1) return usage();
    events = calloc((size_t)count, sizeof *events);
    if (!events) return 1;

    lossy_proxy *proxy = NULL;
    if (drop_replies > 0) {
        proxy = proxy_start(bootstrap, (int)drop_replies);
        if (!proxy) {
            fprintf(stderr, "integration: cannot start the proxy to %s\n", bootstrap);
            return 1;
        }
        bootstrap = proxy->endpoint;
    }
    ganglion_config config;
    ganglion_config_init(&config);
    config.bootstrap = bootstrap;
    config.client_id = "c-integration-test";
    config.on_delivery = on_delivery;
    config.request_timeout_ms = (uint32_t)timeout_ms;
    config.max_attempts = (uint32_t)attempts;
    config.max_batch_records = 64; /* many batches, so a restart lands between and inside them */
    ganglion_producer *producer;
    char error[512];
    if (ganglion_producer_new(&config, &producer, error, sizeof error) != GANGLION_OK) {
        fprintf(stderr, "integration: %s\n", error);
        return 1;
    }

    uint8_t data[512];
    long *per_key = calloc((size_t)keys, sizeof *per_key);
    int64_t started = now_ms(), last_progress = 0;
    for (long i = 0; i < count; i++) {
        sent_event *event = &events[i];
        long key = (i * 7 + i / 3) % keys;
        snprintf(event->id, sizeof event->id, "%s-%06ld", run, i);
        snprintf(event->key, sizeof event->key, "key-%ld", key);
        snprintf(event->subject, sizeof event->subject, "subject-%ld", i);
        snprintf(event->sequence, sizeof event->sequence, "%ld", per_key[key]++);
        const ganglion_attribute extensions[] = {{"seq", event->sequence}, {"parity", i % 2 ? "odd" : "even"}};
        ganglion_event e = {
            .id = event->id,
            .source = "/c/integration",
            .type = "test.c.event",
            .subject = event->subject,
            .data_content_type = "application/octet-stream",
            .key = event->key,
            .key_len = strlen(event->key),
            .extensions = extensions,
            .extension_count = 2,
            .data = data,
            .data_len = payload(i, data),
        };
        ganglion_status status;
        while ((status = ganglion_send(producer, topic, &e, event)) == GANGLION_ERR_QUEUE_FULL) ganglion_poll(producer, 50);
        if (status != GANGLION_OK) {
            fprintf(stderr, "integration: event %ld: %s: %s\n", i, ganglion_status_name(status), ganglion_last_error(producer));
            return 1;
        }
        ganglion_poll(producer, 0);
        if (rate > 0) {
            int64_t due = started + (int64_t)(i + 1) * 1000 / rate;
            while (now_ms() < due) ganglion_poll(producer, (int)(due - now_ms()));
        }
        if (now_ms() - last_progress >= 50) {
            write_progress(progress, acknowledged);
            last_progress = now_ms();
        }
    }
    while (ganglion_queued(producer) > 0 && ganglion_flush(producer, 500) != GANGLION_OK) write_progress(progress, acknowledged);
    write_progress(progress, acknowledged);
    ganglion_stats stats;
    ganglion_producer_stats(producer, &stats);

    /* Every event exactly one outcome, stored; offsets rise per key in send order. */
    int failures = 0;
    int64_t *last_offset = malloc((size_t)keys * sizeof *last_offset);
    uint32_t *key_partition = malloc((size_t)keys * sizeof *key_partition);
    for (long k = 0; k < keys; k++) last_offset[k] = -1;
    for (long i = 0; i < count && failures < 20; i++) {
        sent_event *event = &events[i];
        long key = (i * 7 + i / 3) % keys;
        if (event->reports != 1 || event->status != GANGLION_OK) {
            fprintf(stderr, "integration: event %s: %d outcomes, last %s %s: %s\n", event->id, event->reports,
                    ganglion_status_name(event->status), ganglion_node_error_name(event->node_error), event->message);
            failures++;
            continue;
        }
        if (last_offset[key] >= 0 && (event->partition != key_partition[key] || event->offset <= last_offset[key])) {
            fprintf(stderr, "integration: event %s of %s at %u@%lld after %u@%lld: out of order\n", event->id, event->key,
                    event->partition, (long long)event->offset, key_partition[key], (long long)last_offset[key]);
            failures++;
        }
        last_offset[key] = event->offset;
        key_partition[key] = event->partition;
    }

    FILE *out = fopen(expect, "w");
    if (!out) {
        perror(expect);
        return 1;
    }
    char encoded[1024];
    for (long i = 0; i < count; i++) {
        sent_event *event = &events[i];
        base64(data, payload(i, data), encoded);
        fprintf(out,
                "{\"id\":\"%s\",\"key\":\"%s\",\"type\":\"test.c.event\",\"source\":\"/c/integration\",\"subject\":\"%s\","
                "\"dataContentType\":\"application/octet-stream\",\"extensions\":{\"seq\":\"%s\",\"parity\":\"%s\"},"
                "\"data\":\"%s\",\"partition\":%u,\"offset\":%lld}\n",
                event->id, event->key, event->subject, event->sequence, i % 2 ? "odd" : "even", encoded, event->partition,
                (long long)event->offset);
    }
    fclose(out);
    printf("integration: %ld events published in %.2f s; producer %" PRId64 " epoch %d; %" PRIu64 " batches acknowledged, "
           "%" PRIu64 " resent, %" PRIu64 " reconnects; %d problems\n",
           count, (double)(now_ms() - started) / 1000.0, stats.producer_id, stats.producer_epoch, stats.batches_acknowledged,
           stats.batches_resent, stats.reconnects, failures);
    ganglion_producer_free(producer);
    if (proxy) {
        if (proxy->to_drop > 0) {
            fprintf(stderr, "integration: the proxy lost only %ld of %ld answers\n", drop_replies - proxy->to_drop, drop_replies);
            failures++;
        }
        proxy_stop(proxy);
    }
    free(events);
    free(per_key);
    free(last_offset);
    free(key_partition);
    return failures ? 1 : 0;
}
