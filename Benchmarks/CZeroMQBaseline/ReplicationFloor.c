// The least work replicated, fsynced produce needs, in C on libzmq and the file system alone:
// the floor under `ganglion bench --replication`'s RF 3 / RF 1 ratio on this machine.
//
// Three nodes, each a thread with its own context (as processes would have), laid out as the
// benchmark's cluster is: `partitions` partitions, partition p led by node p % 3, with RF 3 every
// node holding every partition. A client keeps requests in flight, each worker going round the
// partitions as the benchmark's producers do. A leader appends each batch to the partition's
// file, forwards it to the followers at once (before its own fsync, so the fsyncs overlap),
// fsyncs each partition once per burst (group commit) and answers once every replica holds the
// batch durably; a follower appends, fsyncs once per burst and acknowledges the last batch it
// holds durably. Nothing is parsed, checked or indexed.
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

#define FLOOR_NODES 3
#define FLOOR_MAX_PARTITIONS 16
#define FLOOR_MAX_IN_FLIGHT 1024
#define FLOOR_IDENTITY_BYTES 64

static uint64_t floor_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// A request waiting for its answer at its partition's leader.
struct floor_pending {
    char identity[FLOOR_IDENTITY_BYTES];
    size_t identity_length;
    uint32_t worker;
};

struct floor_node {
    void *context;
    const char *directory;
    int index, partitions, replicas;
    char endpoint[256];
    char (*peers)[256];            // every node's endpoint (valid once all are bound)
    atomic_int *all_bound;
    atomic_int bound;              // 1 once `endpoint` is valid, -1 on failure
    atomic_int stop;
    atomic_int failed;             // the errno of the first write or fsync that failed (the node stops)
};

// The first I/O failure of `node`: nothing after it is durable, so the node stops and the run fails.
static void floor_fail(struct floor_node *node, int error) {
    int none = 0;
    atomic_compare_exchange_strong(&node->failed, &none, error ? error : EIO);
}

// Appends the whole of `body` to `file`; a failed or short write fails `node` (ENOSPC for a short
// one: what a filling disk does first) and returns 0.
static int floor_write(struct floor_node *node, int file, zmq_msg_t *body) {
    ssize_t written = write(file, zmq_msg_data(body), zmq_msg_size(body));
    if (written == (ssize_t)zmq_msg_size(body)) return 1;
    floor_fail(node, written < 0 ? errno : ENOSPC);
    return 0;
}

// The errno of the first node that failed, 0 if none did.
static int floor_failure(struct floor_node *nodes, int count) {
    for (int n = 0; n < count; n++) {
        int error = atomic_load(&nodes[n].failed);
        if (error) return error;
    }
    return 0;
}

static void *floor_socket(void *context, int type) {
    void *socket = zmq_socket(context, type);
    int linger = 0, hwm = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    return socket;
}

static int floor_leader(int partition) { return partition % FLOOR_NODES; }

// Whether `node` holds `partition` with `replicas` replicas (the leader and the next ones).
static int floor_holds(int node, int partition, int replicas) {
    return (node - floor_leader(partition) + FLOOR_NODES) % FLOOR_NODES < replicas;
}

// Message kinds, the first frame: a produce from the client, a batch to copy, an acknowledgement.
enum { FLOOR_PRODUCE = 'P', FLOOR_COPY = 'R', FLOOR_ACK = 'A' };

static void *floor_node_main(void *raw) {
    struct floor_node *node = raw;
    void *router = floor_socket(node->context, ZMQ_ROUTER), *dealers[FLOOR_NODES] = {0};
    int files[FLOOR_MAX_PARTITIONS];
    for (int p = 0; p < node->partitions; p++) {
        files[p] = -1;
        if (!floor_holds(node->index, p, node->replicas)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/node-%d-partition-%d.log", node->directory, node->index, p);
        files[p] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    }
    int failed = zmq_bind(router, "tcp://127.0.0.1:*") != 0;
    for (int p = 0; p < node->partitions; p++) failed |= floor_holds(node->index, p, node->replicas) && files[p] < 0;
    size_t length = sizeof node->endpoint;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, node->endpoint, &length);
    atomic_store(&node->bound, failed ? -1 : 1);
    while (!failed && atomic_load(node->all_bound) == 0) { struct timespec pause = {0, 100000}; nanosleep(&pause, NULL); }
    if (failed || atomic_load(node->all_bound) < 0) goto done;
    for (int n = 0; n < FLOOR_NODES; n++) {
        if (n == node->index) continue;
        dealers[n] = floor_socket(node->context, ZMQ_DEALER);
        char name = (char)('0' + node->index);
        zmq_setsockopt(dealers[n], ZMQ_ROUTING_ID, &name, 1);
        zmq_connect(dealers[n], node->peers[n]);
    }

    // As leader: batches issued, durable here, acknowledged per follower, answered; the waiting requests.
    uint64_t next[FLOOR_MAX_PARTITIONS] = {0}, durable[FLOOR_MAX_PARTITIONS] = {0}, answered[FLOOR_MAX_PARTITIONS] = {0};
    uint64_t acknowledged[FLOOR_MAX_PARTITIONS][FLOOR_NODES] = {{0}};
    // As follower: the last batch copied, per partition.
    uint64_t copied[FLOOR_MAX_PARTITIONS] = {0};
    struct floor_pending *pending = calloc((size_t)FLOOR_MAX_PARTITIONS * FLOOR_MAX_IN_FLIGHT, sizeof *pending);
    zmq_msg_t identity, kind, header, body, copy;
    zmq_msg_init(&identity); zmq_msg_init(&kind); zmq_msg_init(&header); zmq_msg_init(&body); zmq_msg_init(&copy);
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    while (pending && !atomic_load(&node->stop) && !atomic_load(&node->failed)) {
        if (zmq_poll(&item, 1, 100) <= 0) continue;
        int dirty[FLOOR_MAX_PARTITIONS] = {0};
        while (zmq_msg_recv(&identity, router, ZMQ_DONTWAIT) >= 0) {
            zmq_msg_recv(&kind, router, 0);
            zmq_msg_recv(&header, router, 0);  // partition (u32), then worker (u32) or sequence (u64)
            int more = zmq_msg_more(&header);
            if (more) zmq_msg_recv(&body, router, 0);
            char what = *(char *)zmq_msg_data(&kind);
            uint32_t partition;
            memcpy(&partition, zmq_msg_data(&header), sizeof partition);
            if (partition >= (uint32_t)node->partitions) continue;
            if (what == FLOOR_PRODUCE) {
                if (!floor_write(node, files[partition], &body)) break;
                uint64_t sequence = ++next[partition];
                for (int n = 0; n < FLOOR_NODES; n++) {
                    if (n == node->index || !floor_holds(n, partition, node->replicas)) continue;
                    char copy_header[12];
                    memcpy(copy_header, &partition, 4);
                    memcpy(copy_header + 4, &sequence, 8);
                    zmq_msg_copy(&copy, &body);
                    zmq_send(dealers[n], "R", 1, ZMQ_SNDMORE);
                    zmq_send(dealers[n], copy_header, sizeof copy_header, ZMQ_SNDMORE);
                    zmq_msg_send(&copy, dealers[n], 0);
                }
                struct floor_pending *slot = &pending[partition * FLOOR_MAX_IN_FLIGHT + sequence % FLOOR_MAX_IN_FLIGHT];
                slot->identity_length = zmq_msg_size(&identity) < FLOOR_IDENTITY_BYTES ? zmq_msg_size(&identity) : FLOOR_IDENTITY_BYTES;
                memcpy(slot->identity, zmq_msg_data(&identity), slot->identity_length);
                memcpy(&slot->worker, (char *)zmq_msg_data(&header) + 4, sizeof slot->worker);
                dirty[partition] = 1;
            } else if (what == FLOOR_COPY) {
                if (!floor_write(node, files[partition], &body)) break;
                memcpy(&copied[partition], (char *)zmq_msg_data(&header) + 4, 8);
                dirty[partition] = 1;
            } else if (what == FLOOR_ACK) {
                uint64_t sequence;
                memcpy(&sequence, (char *)zmq_msg_data(&header) + 4, 8);
                int from = ((char *)zmq_msg_data(&identity))[0] - '0';  // followers' DEALERs are named by node
                if (from >= 0 && from < FLOOR_NODES && sequence > acknowledged[partition][from]) acknowledged[partition][from] = sequence;
            }
        }
        if (atomic_load(&node->failed)) break;
        for (int p = 0; p < node->partitions; p++) {
            if (!dirty[p]) continue;
            if (fdatasync(files[p]) != 0) { floor_fail(node, errno); break; }
            if (floor_leader(p) == node->index) {
                durable[p] = next[p];
            } else {
                char ack[12];
                uint32_t partition = (uint32_t)p;
                memcpy(ack, &partition, 4);
                memcpy(ack + 4, &copied[p], 8);
                zmq_send(dealers[floor_leader(p)], "A", 1, ZMQ_SNDMORE);
                zmq_send(dealers[floor_leader(p)], ack, sizeof ack, 0);
            }
        }
        if (atomic_load(&node->failed)) break;
        for (int p = 0; p < node->partitions; p++) {
            if (floor_leader(p) != node->index) continue;
            uint64_t committed = durable[p];
            for (int n = 0; n < FLOOR_NODES; n++) {
                if (n != node->index && floor_holds(n, p, node->replicas) && acknowledged[p][n] < committed) committed = acknowledged[p][n];
            }
            while (answered[p] < committed) {
                answered[p]++;
                struct floor_pending *slot = &pending[p * FLOOR_MAX_IN_FLIGHT + answered[p] % FLOOR_MAX_IN_FLIGHT];
                zmq_send(router, slot->identity, slot->identity_length, ZMQ_SNDMORE);
                zmq_send(router, &slot->worker, sizeof slot->worker, 0);
            }
        }
    }
    zmq_msg_close(&identity); zmq_msg_close(&kind); zmq_msg_close(&header); zmq_msg_close(&body); zmq_msg_close(&copy);
    free(pending);
done:
    for (int n = 0; n < FLOOR_NODES; n++) if (dealers[n]) zmq_close(dealers[n]);
    zmq_close(router);
    for (int p = 0; p < node->partitions; p++) if (files[p] >= 0) close(files[p]);
    return NULL;
}

// The client's produce of `batch` to `partition`'s leader on behalf of `worker` (echoed in the answer).
static void floor_produce(void **dealers, uint32_t partition, uint32_t worker, const char *batch, size_t batch_bytes) {
    char header[8];
    memcpy(header, &partition, 4);
    memcpy(header + 4, &worker, 4);
    void *dealer = dealers[floor_leader((int)partition)];
    zmq_send(dealer, "P", 1, ZMQ_SNDMORE);
    zmq_send(dealer, header, sizeof header, ZMQ_SNDMORE);
    zmq_send(dealer, batch, batch_bytes, 0);
}

double ganglion_c_replication_throughput(const char *directory, size_t batch_bytes, int partitions, int replicas, int in_flight, double seconds) {
    if (partitions < 1 || partitions > FLOOR_MAX_PARTITIONS || replicas < 1 || replicas > FLOOR_NODES || in_flight < 1
        || in_flight > FLOOR_MAX_IN_FLIGHT / 2 || batch_bytes == 0 || batch_bytes > (1 << 24) || seconds <= 0) return -EINVAL;
    struct floor_node nodes[FLOOR_NODES];
    char peers[FLOOR_NODES][256];
    pthread_t threads[FLOOR_NODES];
    atomic_int all_bound = 0;
    int started = 0;
    double result = 0;
    memset(nodes, 0, sizeof nodes);
    for (int n = 0; n < FLOOR_NODES; n++) {
        nodes[n] = (struct floor_node){.context = zmq_ctx_new(), .directory = directory, .index = n, .partitions = partitions,
                                       .replicas = replicas, .peers = peers, .all_bound = &all_bound};
        if (pthread_create(&threads[n], NULL, floor_node_main, &nodes[n]) != 0) { zmq_ctx_term(nodes[n].context); result = -EAGAIN; break; }
        started++;
    }
    for (int n = 0; n < started; n++) {
        while (atomic_load(&nodes[n].bound) == 0) { struct timespec pause = {0, 100000}; nanosleep(&pause, NULL); }
        if (atomic_load(&nodes[n].bound) != 1) result = -EIO;
        memcpy(peers[n], nodes[n].endpoint, sizeof peers[n]);
    }
    atomic_store(&all_bound, result == 0 ? 1 : -1);

    if (result == 0) {
        void *context = zmq_ctx_new(), *dealers[FLOOR_NODES];
        zmq_pollitem_t items[FLOOR_NODES];
        for (int n = 0; n < FLOOR_NODES; n++) {
            dealers[n] = floor_socket(context, ZMQ_DEALER);
            zmq_connect(dealers[n], peers[n]);
            items[n] = (zmq_pollitem_t){dealers[n], 0, ZMQ_POLLIN, 0};
        }
        char *batch = malloc(batch_bytes);
        uint32_t *partition_of = malloc(sizeof(uint32_t) * (size_t)in_flight);
        if (!batch || !partition_of) result = -ENOMEM;
        else memset(batch, 'r', batch_bytes);
        uint64_t start = floor_now_ns() + 500000000ull;  // half a second of warm-up
        uint64_t end = start + (uint64_t)(seconds * 1e9), counted = 0;
        int outstanding = 0;
        // Each worker sends to a partition, waits for its answer, then goes on to the next partition.
        for (int worker = 0; result == 0 && worker < in_flight; worker++) {
            partition_of[worker] = (uint32_t)(worker % partitions);
            floor_produce(dealers, partition_of[worker], (uint32_t)worker, batch, batch_bytes);
            outstanding++;
        }
        uint64_t answered_at = floor_now_ns();
        while (result == 0 && outstanding > 0) {
            // A node whose write or fsync failed answers nothing more: the run ends with its errno.
            if (floor_failure(nodes, started)) break;
            if (zmq_poll(items, FLOOR_NODES, 100) <= 0) {
                if (floor_now_ns() - answered_at > 5000000000ull) result = -ETIMEDOUT;
                continue;
            }
            answered_at = floor_now_ns();
            for (int n = 0; n < FLOOR_NODES; n++) {
                uint32_t worker;
                while (zmq_recv(dealers[n], &worker, sizeof worker, ZMQ_DONTWAIT) == (int)sizeof worker) {
                    outstanding--;
                    uint64_t now = floor_now_ns();
                    if (now >= start && now < end) counted++;
                    if (now >= end || worker >= (uint32_t)in_flight) continue;
                    partition_of[worker] = (partition_of[worker] + 1) % (uint32_t)partitions;
                    floor_produce(dealers, partition_of[worker], worker, batch, batch_bytes);
                    outstanding++;
                }
            }
        }
        int failure = floor_failure(nodes, started);
        if (failure) result = -failure;
        else if (result == 0) result = (double)counted / seconds;
        free(batch);
        free(partition_of);
        for (int n = 0; n < FLOOR_NODES; n++) zmq_close(dealers[n]);
        zmq_ctx_term(context);
    }
    for (int n = 0; n < started; n++) {
        atomic_store(&nodes[n].stop, 1);
        pthread_join(threads[n], NULL);
        zmq_ctx_term(nodes[n].context);
    }
    return result;
}
