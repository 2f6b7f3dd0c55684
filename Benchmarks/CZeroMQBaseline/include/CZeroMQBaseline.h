// The libzmq C API driven directly, as the baseline the Swift binding is measured against.
// Each function mirrors a Swift benchmark step for step (libzmq's perf/local_thr.c shape).
#ifndef GANGLION_CZEROMQ_BASELINE_H
#define GANGLION_CZEROMQ_BASELINE_H

#include <stddef.h>
#include <stdint.h>

/// PUB→SUB over tcp loopback between two contexts: `count` messages of `size` bytes.
/// Returns messages per second measured at the subscriber, or a negative errno on failure.
double ganglion_c_pubsub_throughput(size_t size, uint64_t count);

/// DEALER→ROUTER→DEALER echo over tcp loopback: `count` round trips of `size` bytes, one at a
/// time. Writes each round trip's nanoseconds into `latencies` (length `count`).
/// Returns 0, or a negative errno on failure.
int ganglion_c_roundtrip(size_t size, uint64_t count, uint64_t *latencies);

#endif
