// libzmq's C API, used the way its own perf tools use it (zmq_msg_* with one message reused on
// receipt, zmq_msg_init_size + memcpy per send), as the baseline for the Swift binding.
#include "CZeroMQBaseline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct publisher_args {
    void *context;
    char endpoint[256];
    size_t size;
    uint64_t count;
    atomic_int bound;        // set by the publisher once `endpoint` is valid
    atomic_int drained;      // set by the subscriber when it has everything (or gave up)
    int error;
    char curve_secret[41];   // CURVE server secret key (Z85), or "" for plain text
};

static void *publisher_main(void *raw) {
    struct publisher_args *args = raw;
    // XPUB with no-drop: a lossless publisher that blocks at the HWM instead of dropping, so the
    // run measures steady flow, not how fast an unbounded queue can grow.
    void *pub = zmq_socket(args->context, ZMQ_XPUB);
    int hwm = GANGLION_BENCH_HWM, linger = 1000, nodrop = 1;
    zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(pub, ZMQ_XPUB_NODROP, &nodrop, sizeof nodrop);
    if (args->curve_secret[0]) {
        int server = 1;
        zmq_setsockopt(pub, ZMQ_CURVE_SERVER, &server, sizeof server);
        zmq_setsockopt(pub, ZMQ_CURVE_SECRETKEY, args->curve_secret, 40);
    }
    if (zmq_bind(pub, "tcp://127.0.0.1:*") != 0) { args->error = zmq_errno(); atomic_store(&args->bound, -1); return NULL; }
    size_t length = sizeof args->endpoint;
    zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, args->endpoint, &length);
    atomic_store(&args->bound, 1);
    // The subscription message says the subscriber's pipe is attached: no slow-joiner loss.
    char subscription[16];
    int timeout = 10000;
    zmq_setsockopt(pub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_recv(pub, subscription, sizeof subscription, 0) < 0) { args->error = zmq_errno(); goto done; }
    char payload[65536];
    memset(payload, 'x', sizeof payload);
    for (uint64_t i = 0; i < args->count; i++) {
        zmq_msg_t msg;
        zmq_msg_init_size(&msg, args->size);
        memcpy(zmq_msg_data(&msg), payload, args->size);
        while (zmq_msg_send(&msg, pub, 0) < 0) {
            if (zmq_errno() != EINTR) { args->error = zmq_errno(); zmq_msg_close(&msg); goto done; }
        }
    }
done:
    // Closing with messages still queued would drop them after the linger: wait for the reader.
    while (!atomic_load(&args->drained)) { struct timespec pause = {0, 1000000}; nanosleep(&pause, NULL); }
    zmq_close(pub);
    return NULL;
}

double ganglion_c_pubsub_throughput(size_t size, uint64_t count) { return ganglion_c_pubsub_throughput_curve(size, count, 0); }

double ganglion_c_pubsub_throughput_curve(size_t size, uint64_t count, int curve) {
    if (size < 1 || size > 65536) return -EINVAL;
    void *pub_context = zmq_ctx_new(), *sub_context = zmq_ctx_new();
    struct publisher_args args = {.context = pub_context, .size = size, .count = count};
    char server_public[41] = "", client_public[41] = "", client_secret[41] = "";
    if (curve && (zmq_curve_keypair(server_public, args.curve_secret) != 0 || zmq_curve_keypair(client_public, client_secret) != 0)) {
        zmq_ctx_term(sub_context);
        zmq_ctx_term(pub_context);
        return -zmq_errno();
    }
    pthread_t thread;
    pthread_create(&thread, NULL, publisher_main, &args);
    while (atomic_load(&args.bound) == 0) { struct timespec pause = {0, 100000}; nanosleep(&pause, NULL); }
    double rate = -1;
    if (atomic_load(&args.bound) < 0) { rate = -args.error; goto join; }

    void *sub = zmq_socket(sub_context, ZMQ_SUB);
    int hwm = GANGLION_BENCH_HWM, linger = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    if (curve) {
        zmq_setsockopt(sub, ZMQ_CURVE_SERVERKEY, server_public, 40);
        zmq_setsockopt(sub, ZMQ_CURVE_PUBLICKEY, client_public, 40);
        zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, client_secret, 40);
    }
    int timeout = 10000;  // a lost message fails the run instead of hanging it
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(sub, args.endpoint);

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    uint64_t received = 0, start = 0;
    while (received < count) {
        if (zmq_msg_recv(&msg, sub, 0) < 0) {
            if (zmq_errno() == EINTR) continue;
            rate = -zmq_errno();
            break;
        }
        if (received == 0) start = now_ns();
        received++;
    }
    uint64_t elapsed = now_ns() - start;
    zmq_msg_close(&msg);
    zmq_close(sub);
    if (received == count) rate = (double)(count - 1) / ((double)elapsed / 1e9);
join:
    atomic_store(&args.drained, 1);
    pthread_join(thread, NULL);
    zmq_ctx_term(sub_context);
    zmq_ctx_term(pub_context);
    return rate;
}

struct echo_args {
    void *context;
    const char *bind;
    char endpoint[256];
    uint64_t count;
    atomic_int bound;
};

static void *echo_main(void *raw) {
    struct echo_args *args = raw;
    void *router = zmq_socket(args->context, ZMQ_ROUTER);
    int linger = 0, timeout = 5000;  // a failed client must not leave this thread blocked forever
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_bind(router, args->bind);
    size_t length = sizeof args->endpoint;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, args->endpoint, &length);
    atomic_store(&args->bound, 1);
    zmq_msg_t identity, body;
    zmq_msg_init(&identity);
    zmq_msg_init(&body);
    for (uint64_t i = 0; i < args->count; i++) {
        if (zmq_msg_recv(&identity, router, 0) < 0 || zmq_msg_recv(&body, router, 0) < 0) break;
        if (zmq_msg_send(&identity, router, ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, router, 0) < 0) break;
    }
    zmq_msg_close(&identity);
    zmq_msg_close(&body);
    zmq_close(router);
    return NULL;
}

int ganglion_c_roundtrip(size_t size, uint64_t count, uint64_t *latencies) {
    return ganglion_c_roundtrip_over("tcp://127.0.0.1:*", size, count, latencies);
}

int ganglion_c_roundtrip_over(const char *bind, size_t size, uint64_t count, uint64_t *latencies) {
    if (size > 65536) return -EINVAL;
    // inproc needs one context for both ends; the others get one each, as two processes would.
    int shared = strncmp(bind, "inproc://", 9) == 0;
    void *server_context = zmq_ctx_new(), *client_context = shared ? server_context : zmq_ctx_new();
    struct echo_args args = {.context = server_context, .bind = bind, .count = count};
    pthread_t thread;
    pthread_create(&thread, NULL, echo_main, &args);
    while (!atomic_load(&args.bound)) { struct timespec pause = {0, 100000}; nanosleep(&pause, NULL); }

    void *dealer = zmq_socket(client_context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(dealer, args.endpoint);
    char payload[65536];
    memset(payload, 'r', sizeof payload);
    zmq_msg_t reply;
    zmq_msg_init(&reply);
    int result = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t start = now_ns();
        zmq_msg_t request;
        zmq_msg_init_size(&request, size);
        memcpy(zmq_msg_data(&request), payload, size);
        if (zmq_msg_send(&request, dealer, 0) < 0 || zmq_msg_recv(&reply, dealer, 0) < 0) {
            result = -zmq_errno();
            break;
        }
        latencies[i] = now_ns() - start;
    }
    zmq_msg_close(&reply);
    zmq_close(dealer);
    pthread_join(thread, NULL);
    if (!shared) zmq_ctx_term(client_context);
    zmq_ctx_term(server_context);
    return result;
}

struct relay_args {
    void *context;
    char api[256], pub[256];
    int log_fd;           // >= 0: each request is written here (a log append) before it is published
    atomic_int error;     // the errno of a failed write: the relay stops and the run fails
    atomic_int bound;     // set once both endpoints are valid
    atomic_int stop;      // set by the producer when the run is over
};

// The node's shape with nothing but transport: each request from the ROUTER is published on the
// PUB and answered, from one thread, as ganglion's socket loop does.
static void *relay_main(void *raw) {
    struct relay_args *args = raw;
    void *router = zmq_socket(args->context, ZMQ_ROUTER), *pub = zmq_socket(args->context, ZMQ_PUB);
    int linger = 0, timeout = 100;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_bind(router, "tcp://127.0.0.1:*");
    zmq_bind(pub, "tcp://127.0.0.1:*");
    size_t length = sizeof args->api;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, args->api, &length);
    length = sizeof args->pub;
    zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, args->pub, &length);
    atomic_store(&args->bound, 1);
    zmq_msg_t identity, body, copy;
    zmq_msg_init(&identity);
    zmq_msg_init(&body);
    zmq_msg_init(&copy);
    uint64_t log_offset = 0;
    while (!atomic_load(&args->stop)) {
        if (zmq_msg_recv(&identity, router, 0) < 0) continue;  // timeout: look at `stop`
        if (zmq_msg_recv(&body, router, 0) < 0) continue;
        if (args->log_fd >= 0) {
            // A log append as a node makes it: a 12-byte prefix (offset, length) and the bytes,
            // one positioned write at the log's end, before anyone may see the event.
            uint64_t prefix[2] = {log_offset, zmq_msg_size(&body)};
            struct iovec parts[2] = {{prefix, 12}, {zmq_msg_data(&body), zmq_msg_size(&body)}};
            ssize_t written = pwritev(args->log_fd, parts, 2, (off_t)log_offset);
            if (written != (ssize_t)(12 + zmq_msg_size(&body))) {
                atomic_store(&args->error, written < 0 ? errno : ENOSPC);
                break;
            }
            log_offset += (uint64_t)written;
        }
        zmq_msg_copy(&copy, &body);
        zmq_msg_send(&copy, pub, 0);
        zmq_msg_send(&identity, router, ZMQ_SNDMORE);
        zmq_msg_send(&body, router, 0);
    }
    zmq_msg_close(&identity);
    zmq_msg_close(&body);
    zmq_msg_close(&copy);
    zmq_close(router);
    zmq_close(pub);
    return NULL;
}

struct subscriber_args {
    void *context;
    const char *endpoint;
    uint64_t count, skip;
    uint64_t *latencies;
    atomic_int subscribed;  // set once a probe came through
    atomic_int done;
};

static void *relay_subscriber_main(void *raw) {
    struct subscriber_args *args = raw;
    void *sub = zmq_socket(args->context, ZMQ_SUB);
    int linger = 0, timeout = 5000;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(sub, args->endpoint);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    uint64_t seen = 0;
    while (seen < args->count + args->skip) {
        if (zmq_msg_recv(&msg, sub, 0) < 0) break;
        uint64_t now = now_ns(), stamp;
        memcpy(&stamp, zmq_msg_data(&msg), sizeof stamp);
        if (stamp == 0) { atomic_store(&args->subscribed, 1); continue; }  // a probe
        if (seen >= args->skip) args->latencies[seen - args->skip] = now - stamp;
        seen++;
    }
    zmq_msg_close(&msg);
    zmq_close(sub);
    atomic_store(&args->done, seen == args->count + args->skip ? 1 : -1);
    return NULL;
}

// The relay run; with `log_path` the relay appends each event to that file before publishing it,
// and with `acks_wake` the producer's thread waits for its send time and its acknowledgements in
// one poll and takes each acknowledgement as it comes, as a client's socket thread does.
static int relay_latency(size_t size, uint64_t rate, uint64_t count, uint64_t *latencies, const char *log_path, int acks_wake) {
    if (size < 8 || size > 65536 || rate == 0) return -EINVAL;
    int log_fd = -1;
    if (log_path && (log_fd = open(log_path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600)) < 0) return -errno;
    int timer_fd = -1;
    if (acks_wake && (timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) < 0) {
        int error = errno;
        if (log_fd >= 0) close(log_fd);
        return -error;
    }
    void *relay_context = zmq_ctx_new(), *producer_context = zmq_ctx_new(), *consumer_context = zmq_ctx_new();
    struct relay_args relay = {.context = relay_context, .log_fd = log_fd};
    pthread_t relay_thread, subscriber_thread;
    pthread_create(&relay_thread, NULL, relay_main, &relay);
    while (!atomic_load(&relay.bound)) { struct timespec pause = {0, 100000}; nanosleep(&pause, NULL); }
    uint64_t skip = rate / 2;  // half a second of warm-up, not counted
    struct subscriber_args subscriber = {.context = consumer_context, .endpoint = relay.pub, .count = count,
                                         .skip = skip, .latencies = latencies};
    pthread_create(&subscriber_thread, NULL, relay_subscriber_main, &subscriber);

    void *dealer = zmq_socket(producer_context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(dealer, relay.api);
    char payload[65536];
    memset(payload, 'e', sizeof payload);
    zmq_msg_t reply;
    zmq_msg_init(&reply);
    // Probes (stamp 0) until the subscription is in place: no slow-joiner loss in the run.
    for (int i = 0; i < 5000 && !atomic_load(&subscriber.subscribed); i++) {
        memset(payload, 0, 8);
        zmq_send(dealer, payload, size, 0);
        while (zmq_msg_recv(&reply, dealer, ZMQ_DONTWAIT) >= 0) {}
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    int result = atomic_load(&subscriber.subscribed) ? 0 : -ETIMEDOUT;
    uint64_t interval = 1000000000ull / rate, next = now_ns();
    for (uint64_t i = 0; result == 0 && !atomic_load(&relay.error) && i < count + skip; i++) {
        next += interval;
        struct timespec at = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
        if (timer_fd >= 0) {
            // Acknowledgements are taken as they arrive until the send time comes.
            struct itimerspec due = {.it_value = at};
            if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &due, NULL) != 0) { result = -errno; break; }
            zmq_pollitem_t items[2] = {{dealer, 0, ZMQ_POLLIN, 0}, {NULL, timer_fd, ZMQ_POLLIN, 0}};
            for (;;) {
                if (zmq_poll(items, 2, -1) < 0) {
                    if (zmq_errno() == EINTR) continue;
                    result = -zmq_errno();
                    break;
                }
                if (items[0].revents & ZMQ_POLLIN) while (zmq_msg_recv(&reply, dealer, ZMQ_DONTWAIT) >= 0) {}
                if (items[1].revents & ZMQ_POLLIN) {
                    uint64_t expirations;
                    if (read(timer_fd, &expirations, sizeof expirations) > 0) break;
                }
            }
            if (result != 0) break;
        } else {
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {}
        }
        uint64_t stamp = now_ns();
        memcpy(payload, &stamp, sizeof stamp);
        if (zmq_send(dealer, payload, size, 0) < 0) result = -zmq_errno();
        while (zmq_msg_recv(&reply, dealer, ZMQ_DONTWAIT) >= 0) {}  // acknowledgements, not waited for
    }
    pthread_join(subscriber_thread, NULL);
    if (result == 0 && atomic_load(&subscriber.done) != 1) result = -ETIMEDOUT;
    atomic_store(&relay.stop, 1);
    pthread_join(relay_thread, NULL);
    zmq_msg_close(&reply);
    zmq_close(dealer);
    zmq_ctx_term(producer_context);
    zmq_ctx_term(consumer_context);
    zmq_ctx_term(relay_context);
    if (atomic_load(&relay.error)) result = -atomic_load(&relay.error);  // the cause, over the timeout it led to
    if (log_fd >= 0) close(log_fd);
    if (timer_fd >= 0) close(timer_fd);
    return result;
}

int ganglion_c_relay_latency(size_t size, uint64_t rate, uint64_t count, uint64_t *latencies) {
    return relay_latency(size, rate, count, latencies, NULL, 0);
}

int ganglion_c_durable_relay_latency(size_t size, uint64_t rate, uint64_t count, uint64_t *latencies, const char *log_path) {
    return relay_latency(size, rate, count, latencies, log_path, 1);
}

void ganglion_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
