/*
 * Throughput of the C producer against a running node: events per second acknowledged, each a
 * full EventEnvelope (generated id, type, source, time, key) around a payload of --size bytes,
 * keyed over 64 keys, through ganglion_send() — envelope encoding, batching, CRC32C, PRODUCE with
 * acks=leader and idempotent sequences included. Only acknowledgements inside the measured window
 * count (after --warmup-ms).
 *
 *   bench --bootstrap tcp://127.0.0.1:7400 --topic bench [--size 256] [--seconds 5] [--runs 3] [--batch 1000]
 *
 * --batch sets max_batch_records (64 matches `ganglion bench`'s batches).
 *
 * Prints one line per run and the median, e.g. "c producer, 256 B: 412345 ev/s (median of 3 runs)".
 */
#include "ganglion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

typedef struct window {
    double start;
    double end;
    long counted;
    long failed;
} window;

static void on_delivery(const ganglion_delivery *delivery, void *opaque) {
    window *w = opaque;
    if (delivery->status != GANGLION_OK) {
        if (w->failed++ < 5) fprintf(stderr, "bench: %s: %s\n", ganglion_status_name(delivery->status), delivery->message);
        return;
    }
    double now = now_seconds();
    if (now >= w->start && now < w->end) w->counted++;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *topic = NULL;
    long size = 256, runs = 3, warmup_ms = 500, batch = 1000;
    double seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--bootstrap") == 0) bootstrap = argv[i + 1];
        else if (strcmp(argv[i], "--topic") == 0) topic = argv[i + 1];
        else if (strcmp(argv[i], "--size") == 0) size = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0) seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0) runs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup-ms") == 0) warmup_ms = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--batch") == 0) batch = atol(argv[i + 1]);
        else bootstrap = NULL, i = argc;
    }
    if (!bootstrap || !topic || size < 0 || size > 65536 || runs < 1 || runs > 100 || seconds <= 0 || batch < 1) {
        fprintf(stderr, "usage: bench --bootstrap ENDPOINT --topic TOPIC [--size 256] [--seconds 5] [--runs 3] [--warmup-ms 500] [--batch 1000]\n");
        return 2;
    }
    uint8_t *payload = malloc((size_t)size + 1);
    srand(7);
    for (long i = 0; i < size; i++) payload[i] = (uint8_t)rand();
    char keys[64][16];
    for (int k = 0; k < 64; k++) snprintf(keys[k], sizeof keys[k], "k%d", k);

    double figures[100];
    for (long run = 0; run < runs; run++) {
        window w = {0};
        ganglion_config config;
        ganglion_config_init(&config);
        config.bootstrap = bootstrap;
        config.client_id = "c-bench";
        config.on_delivery = on_delivery;
        config.callback_opaque = &w;
        config.queue_capacity = 50000;
        config.max_batch_records = (uint32_t)batch;
        ganglion_producer *producer;
        char error[512];
        if (ganglion_producer_new(&config, &producer, error, sizeof error) != GANGLION_OK) {
            fprintf(stderr, "bench: %s\n", error);
            return 1;
        }
        w.start = now_seconds() + (double)warmup_ms / 1000.0;
        w.end = w.start + seconds;
        long sent = 0;
        while (now_seconds() < w.end) {
            ganglion_event event = {.type = "bench.event", .source = "/c/bench", .key = keys[sent % 64], .key_len = strlen(keys[sent % 64]),
                                    .data = payload, .data_len = (size_t)size};
            ganglion_status status = ganglion_send(producer, topic, &event, NULL);
            if (status == GANGLION_ERR_QUEUE_FULL) {
                ganglion_poll(producer, 1);
                continue;
            }
            if (status != GANGLION_OK) {
                fprintf(stderr, "bench: %s: %s\n", ganglion_status_name(status), ganglion_last_error(producer));
                return 1;
            }
            if (++sent % 256 == 0) ganglion_poll(producer, 0);
        }
        ganglion_flush(producer, 30000);
        ganglion_producer_free(producer);
        figures[run] = (double)w.counted / seconds;
        printf("c producer, %ld B, batches of up to %ld, run %ld/%ld: %.0f ev/s (%ld sent, %ld failed)\n", size, batch, run + 1, runs,
               figures[run], sent, w.failed);
        fflush(stdout);
        if (w.failed) return 1;
    }
    qsort(figures, (size_t)runs, sizeof figures[0], compare);
    printf("c producer, %ld B, batches of up to %ld: %.0f ev/s (median of %ld runs)\n", size, batch, figures[runs / 2], runs);
    free(payload);
    return 0;
}
