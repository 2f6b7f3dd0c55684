// The least work replicated, fsynced produce needs, in C on libzmq and the file system alone:
// the floor under `ganglion bench --replication`'s RF 3 / RF 1 ratio on this machine.
//
// Every party has its own context and thread, as separate processes would. The leader appends
// each batch to its file, forwards it to every follower at once (before its own fsync, so the
// fsyncs overlap), fsyncs once per burst of requests (group commit), and answers a request once
// every replica holds it durably. A follower appends what arrives, fsyncs once per burst and
// acknowledges the last batch it holds durably. Nothing is parsed, checked or indexed.
#include "CZeroMQBaseline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define FLOOR_MAX_FOLLOWERS 4
#define FLOOR_MAX_IN_FLIGHT 4096
#define FLOOR_IDENTITY_BYTES 256

static uint64_t floor_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct floor_replica {
    void *context;
    const char *directory;
    int index;
    char endpoint[256];
    int followers;                                   // the leader's only
    char follower_endpoints[FLOOR_MAX_FOLLOWERS][256];
    atomic_int bound;                                // 1 once `endpoint` is valid, -1 on failure
    atomic_int stop;
};

static int floor_open_log(struct floor_replica *replica) {
    char path[4096];
    snprintf(path, sizeof path, "%s/replica-%d.log", replica->directory, replica->index);
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
}

static void *floor_socket(void *context, int type) {
    void *socket = zmq_socket(context, type);
    int linger = 0, hwm = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    return socket;
}

static int floor_bind(struct floor_replica *replica, void *router) {
    if (zmq_bind(router, "tcp://127.0.0.1:*") != 0) return -1;
    size_t length = sizeof replica->endpoint;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, replica->endpoint, &length);
    return 0;
}

static void *floor_follower_main(void *raw) {
    struct floor_replica *replica = raw;
    void *router = floor_socket(replica->context, ZMQ_ROUTER);
    int fd = floor_open_log(replica);
    if (fd < 0 || floor_bind(replica, router) != 0) {
        atomic_store(&replica->bound, -1);
        zmq_close(router);
        if (fd >= 0) close(fd);
        return NULL;
    }
    atomic_store(&replica->bound, 1);
    zmq_msg_t identity, sequence, body;
    zmq_msg_init(&identity);
    zmq_msg_init(&sequence);
    zmq_msg_init(&body);
    char leader[FLOOR_IDENTITY_BYTES];
    size_t leader_length = 0;
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    while (!atomic_load(&replica->stop)) {
        if (zmq_poll(&item, 1, 100) <= 0) continue;
        uint64_t last = 0;
        int appended = 0;
        while (zmq_msg_recv(&identity, router, ZMQ_DONTWAIT) >= 0) {
            zmq_msg_recv(&sequence, router, 0);
            zmq_msg_recv(&body, router, 0);
            if (write(fd, zmq_msg_data(&body), zmq_msg_size(&body)) < 0) break;
            memcpy(&last, zmq_msg_data(&sequence), sizeof last);
            leader_length = zmq_msg_size(&identity) < sizeof leader ? zmq_msg_size(&identity) : sizeof leader;
            memcpy(leader, zmq_msg_data(&identity), leader_length);
            appended = 1;
        }
        if (!appended) continue;
        fdatasync(fd);
        zmq_send(router, leader, leader_length, ZMQ_SNDMORE);
        zmq_send(router, &last, sizeof last, 0);
    }
    zmq_msg_close(&identity);
    zmq_msg_close(&sequence);
    zmq_msg_close(&body);
    zmq_close(router);
    close(fd);
    return NULL;
}

static void *floor_leader_main(void *raw) {
    struct floor_replica *replica = raw;
    void *router = floor_socket(replica->context, ZMQ_ROUTER);
    void *dealers[FLOOR_MAX_FOLLOWERS];
    int fd = floor_open_log(replica);
    if (fd < 0 || floor_bind(replica, router) != 0) {
        atomic_store(&replica->bound, -1);
        zmq_close(router);
        if (fd >= 0) close(fd);
        return NULL;
    }
    zmq_pollitem_t items[1 + FLOOR_MAX_FOLLOWERS];
    items[0] = (zmq_pollitem_t){router, 0, ZMQ_POLLIN, 0};
    for (int i = 0; i < replica->followers; i++) {
        dealers[i] = floor_socket(replica->context, ZMQ_DEALER);
        zmq_connect(dealers[i], replica->follower_endpoints[i]);
        items[1 + i] = (zmq_pollitem_t){dealers[i], 0, ZMQ_POLLIN, 0};
    }
    atomic_store(&replica->bound, 1);
    // Requests waiting for their answer, by sequence number (the client keeps at most
    // FLOOR_MAX_IN_FLIGHT in flight).
    char (*identities)[FLOOR_IDENTITY_BYTES] = malloc(sizeof(char[FLOOR_MAX_IN_FLIGHT][FLOOR_IDENTITY_BYTES]));
    size_t *identity_lengths = calloc(FLOOR_MAX_IN_FLIGHT, sizeof(size_t));
    uint64_t next = 1, durable = 0, answered = 0, acknowledged[FLOOR_MAX_FOLLOWERS] = {0};
    zmq_msg_t identity, body, copy;
    zmq_msg_init(&identity);
    zmq_msg_init(&body);
    zmq_msg_init(&copy);
    while (!atomic_load(&replica->stop)) {
        if (zmq_poll(items, 1 + replica->followers, 100) <= 0) continue;
        int appended = 0;
        while (zmq_msg_recv(&identity, router, ZMQ_DONTWAIT) >= 0) {
            zmq_msg_recv(&body, router, 0);
            uint64_t sequence = next++;
            if (write(fd, zmq_msg_data(&body), zmq_msg_size(&body)) < 0) break;
            for (int i = 0; i < replica->followers; i++) {
                zmq_msg_copy(&copy, &body);
                zmq_send(dealers[i], &sequence, sizeof sequence, ZMQ_SNDMORE);
                zmq_msg_send(&copy, dealers[i], 0);
            }
            size_t slot = sequence % FLOOR_MAX_IN_FLIGHT;
            identity_lengths[slot] = zmq_msg_size(&identity) < FLOOR_IDENTITY_BYTES ? zmq_msg_size(&identity) : FLOOR_IDENTITY_BYTES;
            memcpy(identities[slot], zmq_msg_data(&identity), identity_lengths[slot]);
            appended = 1;
        }
        if (appended) {
            fdatasync(fd);
            durable = next - 1;
        }
        uint64_t committed = durable, ack;
        for (int i = 0; i < replica->followers; i++) {
            while (zmq_recv(dealers[i], &ack, sizeof ack, ZMQ_DONTWAIT) == (int)sizeof ack) {
                if (ack > acknowledged[i]) acknowledged[i] = ack;
            }
            if (acknowledged[i] < committed) committed = acknowledged[i];
        }
        while (answered < committed) {
            answered++;
            size_t slot = answered % FLOOR_MAX_IN_FLIGHT;
            zmq_send(router, identities[slot], identity_lengths[slot], ZMQ_SNDMORE);
            zmq_send(router, "", 0, 0);
        }
    }
    zmq_msg_close(&identity);
    zmq_msg_close(&body);
    zmq_msg_close(&copy);
    for (int i = 0; i < replica->followers; i++) zmq_close(dealers[i]);
    zmq_close(router);
    close(fd);
    free(identities);
    free(identity_lengths);
    return NULL;
}

static int floor_wait_bound(struct floor_replica *replica) {
    while (atomic_load(&replica->bound) == 0) {
        struct timespec pause = {0, 100000};
        nanosleep(&pause, NULL);
    }
    return atomic_load(&replica->bound) == 1 ? 0 : -1;
}

double ganglion_c_replication_throughput(const char *directory, size_t batch_bytes, int replicas, int in_flight, double seconds) {
    if (replicas < 1 || replicas > 1 + FLOOR_MAX_FOLLOWERS || in_flight < 1 || in_flight > FLOOR_MAX_IN_FLIGHT / 2
        || batch_bytes == 0 || batch_bytes > (1 << 24) || seconds <= 0) return -EINVAL;
    struct floor_replica parties[1 + FLOOR_MAX_FOLLOWERS];
    pthread_t threads[1 + FLOOR_MAX_FOLLOWERS];
    int started = 0;
    double result = 0;
    memset(parties, 0, sizeof parties);
    for (int i = 1; i < replicas; i++) {
        parties[i].context = zmq_ctx_new();
        parties[i].directory = directory;
        parties[i].index = i;
        pthread_create(&threads[i], NULL, floor_follower_main, &parties[i]);
        started = i;
        if (floor_wait_bound(&parties[i]) != 0) { result = -EIO; goto stop; }
    }
    parties[0].context = zmq_ctx_new();
    parties[0].directory = directory;
    parties[0].followers = replicas - 1;
    for (int i = 1; i < replicas; i++) memcpy(parties[0].follower_endpoints[i - 1], parties[i].endpoint, sizeof parties[i].endpoint);
    pthread_create(&threads[0], NULL, floor_leader_main, &parties[0]);
    if (floor_wait_bound(&parties[0]) != 0) { result = -EIO; goto stop_leader; }

    {
        void *context = zmq_ctx_new(), *dealer = floor_socket(context, ZMQ_DEALER);
        zmq_connect(dealer, parties[0].endpoint);
        char *batch = malloc(batch_bytes);
        memset(batch, 'r', batch_bytes);
        uint64_t start = floor_now_ns() + 500000000ull;  // half a second of warm-up
        uint64_t end = start + (uint64_t)(seconds * 1e9), counted = 0;
        int outstanding = 0;
        zmq_pollitem_t item = {dealer, 0, ZMQ_POLLIN, 0};
        char reply[8];
        while (1) {
            uint64_t now = floor_now_ns();
            while (now < end && outstanding < in_flight) {
                zmq_send(dealer, batch, batch_bytes, 0);
                outstanding++;
            }
            if (outstanding == 0) break;
            if (zmq_poll(&item, 1, 5000) <= 0) { result = -ETIMEDOUT; break; }
            while (zmq_recv(dealer, reply, sizeof reply, ZMQ_DONTWAIT) >= 0) {
                outstanding--;
                now = floor_now_ns();
                if (now >= start && now < end) counted++;
            }
        }
        if (result == 0) result = (double)counted / seconds;
        free(batch);
        zmq_close(dealer);
        zmq_ctx_term(context);
    }

stop_leader:
    atomic_store(&parties[0].stop, 1);
    pthread_join(threads[0], NULL);
    zmq_ctx_term(parties[0].context);
stop:
    for (int i = 1; i <= started; i++) {
        atomic_store(&parties[i].stop, 1);
        pthread_join(threads[i], NULL);
        zmq_ctx_term(parties[i].context);
    }
    return result;
}
