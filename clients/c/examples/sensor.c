/*
 * An edge producer: publishes sensor readings to Ganglion, one `sensor.reading` event per reading,
 * keyed by device (so each device's readings stay in order on one partition), and prints each
 * acknowledgement as the node gives it.
 *
 *   sensor --bootstrap tcp://127.0.0.1:7400 --topic readings            reads "DEVICE VALUE" lines from stdin
 *   sensor --bootstrap tcp://127.0.0.1:7400 --topic readings --generate 20 --devices 4 --interval-ms 100
 *
 * Exits 0 when every reading was stored, 1 when any failed, 2 on bad usage.
 */
#include "ganglion.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE 1024

/** What the example remembers about a reading until its acknowledgement comes. */
typedef struct reading {
    char device[64];
    double value;
    unsigned long number;
    int next_free;
} reading;

static reading readings[QUEUE];
static int free_list = -1;
static unsigned long stored, failed;

static void release(reading *r) {
    r->next_free = free_list;
    free_list = (int)(r - readings);
}

static reading *take(void) {
    if (free_list < 0) return NULL;
    reading *r = &readings[free_list];
    free_list = r->next_free;
    return r;
}

static void on_delivery(const ganglion_delivery *delivery, void *opaque) {
    (void)opaque;
    reading *r = delivery->event_opaque;
    if (delivery->status == GANGLION_OK) {
        stored++;
        printf("ack  %s #%lu %.2f -> %s/%u@%lld\n", r->device, r->number, r->value, delivery->topic, delivery->partition,
               (long long)delivery->offset);
    } else {
        failed++;
        printf("FAIL %s #%lu %.2f: %s%s%s: %s\n", r->device, r->number, r->value, ganglion_status_name(delivery->status),
               delivery->node_error ? " " : "", delivery->node_error ? ganglion_node_error_name(delivery->node_error) : "",
               delivery->message);
    }
    fflush(stdout);
    release(r);
}

/** Publishes one reading, waiting (polling) while the queue is full. 0 on success. */
static int publish(ganglion_producer *producer, const char *topic, const char *device, double value, unsigned long number) {
    reading *r;
    while (!(r = take())) ganglion_poll(producer, 100);
    snprintf(r->device, sizeof r->device, "%s", device);
    r->value = value;
    r->number = number;
    char data[160];
    int length = snprintf(data, sizeof data, "{\"device\":\"%s\",\"value\":%.3f,\"reading\":%lu}", r->device, value, number);
    const ganglion_attribute extensions[] = {{"unit", "celsius"}};
    ganglion_event event = {
        .type = "com.example.sensor.reading",
        .source = "/edge/sensor-example",
        .subject = r->device,
        .data_content_type = "application/json",
        .key = r->device,
        .key_len = strlen(r->device),
        .extensions = extensions,
        .extension_count = 1,
        .data = data,
        .data_len = (size_t)length,
    };
    for (;;) {
        ganglion_status status = ganglion_send(producer, topic, &event, r);
        if (status == GANGLION_OK) break;
        if (status != GANGLION_ERR_QUEUE_FULL) {
            fprintf(stderr, "sensor: %s: %s\n", ganglion_status_name(status), ganglion_last_error(producer));
            release(r);
            return -1;
        }
        ganglion_poll(producer, 100);
    }
    ganglion_poll(producer, 0); /* print what is acknowledged so far */
    return 0;
}

static void sleep_ms(long ms) {
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

static int usage(void) {
    fprintf(stderr,
            "usage: sensor --bootstrap ENDPOINTS --topic TOPIC [--generate N [--devices D] [--interval-ms MS]]\n"
            "              [--security-dir DIR [--as NAME]]\n"
            "  --security-dir: a cluster with security on: DIR/cluster.pub and this sensor's DIR/NAME.key (NAME default admin).\n"
            "  Without --generate, reads \"DEVICE VALUE\" lines from standard input (# starts a comment).\n"
            "  ENDPOINTS: a node's request endpoint (tcp://127.0.0.1:7400), comma-separated for several.\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *topic = NULL, *security_dir = NULL, *principal = "admin";
    long generate = -1, devices = 4, interval_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--bootstrap") == 0 && value) bootstrap = argv[++i];
        else if (strcmp(argv[i], "--topic") == 0 && value) topic = argv[++i];
        else if (strcmp(argv[i], "--generate") == 0 && value) generate = atol(argv[++i]);
        else if (strcmp(argv[i], "--devices") == 0 && value) devices = atol(argv[++i]);
        else if (strcmp(argv[i], "--interval-ms") == 0 && value) interval_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--security-dir") == 0 && value) security_dir = argv[++i];
        else if (strcmp(argv[i], "--as") == 0 && value) principal = argv[++i];
        else return usage();
    }
    if (!bootstrap || !topic || devices < 1) return usage();
    for (int i = 0; i < QUEUE; i++) release(&readings[QUEUE - 1 - i]);

    ganglion_config config;
    ganglion_config_init(&config);
    config.bootstrap = bootstrap;
    config.client_id = "sensor-example";
    config.queue_capacity = QUEUE;
    config.on_delivery = on_delivery;
    ganglion_producer *producer;
    char error[512];
    char server_key[41], public_key[41], secret_key[41], path[1024];
    if (security_dir) {
        snprintf(path, sizeof path, "%s/cluster.pub", security_dir);
        int failed = ganglion_read_key_file(path, "public-key", server_key, error, sizeof error);
        snprintf(path, sizeof path, "%s/%s.key", security_dir, principal);
        if (!failed) failed = ganglion_read_key_file(path, "public-key", public_key, error, sizeof error);
        if (!failed) failed = ganglion_read_key_file(path, "secret-key", secret_key, error, sizeof error);
        if (failed) {
            fprintf(stderr, "sensor: %s\n", error);
            return 1;
        }
        config.curve_server_key = server_key;
        config.curve_public_key = public_key;
        config.curve_secret_key = secret_key;
    }
    if (ganglion_producer_new(&config, &producer, error, sizeof error) != GANGLION_OK) {
        fprintf(stderr, "sensor: %s\n", error);
        return 1;
    }
    int refused = 0;
    unsigned long number = 0;
    if (generate >= 0) {
        for (long i = 0; i < generate && !refused; i++) {
            char device[32];
            snprintf(device, sizeof device, "dev-%ld", i % devices);
            double value = 20.0 + 5.0 * sin((double)i / 10.0) + (double)(i % devices);
            refused = publish(producer, topic, device, value, ++number) != 0;
            if (interval_ms > 0) {
                ganglion_poll(producer, 0);
                sleep_ms(interval_ms);
            }
        }
    } else {
        char line[512];
        unsigned long line_number = 0;
        while (!refused && fgets(line, sizeof line, stdin)) {
            line_number++;
            char device[64];
            double value;
            char extra;
            if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0') continue;
            if (sscanf(line, "%63s %lf %c", device, &value, &extra) != 2) {
                fprintf(stderr, "sensor: line %lu: expected \"DEVICE VALUE\", got: %s", line_number, line);
                continue;
            }
            refused = publish(producer, topic, device, value, ++number) != 0;
        }
    }
    ganglion_status flushed = ganglion_flush(producer, 30000);
    if (flushed != GANGLION_OK) fprintf(stderr, "sensor: %s\n", ganglion_last_error(producer));
    ganglion_producer_free(producer);
    fprintf(stderr, "sensor: %lu stored, %lu failed\n", stored, failed);
    return refused || failed || flushed != GANGLION_OK ? 1 : 0;
}
