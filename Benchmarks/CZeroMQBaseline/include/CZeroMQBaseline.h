// The libzmq C API driven directly, as the baseline the Swift binding is measured against.
// Each function mirrors a Swift benchmark step for step (libzmq's perf/local_thr.c shape).
#ifndef GANGLION_CZEROMQ_BASELINE_H
#define GANGLION_CZEROMQ_BASELINE_H

#include <stddef.h>
#include <stdint.h>

/// The high-water mark of both ends of the PUB→SUB runs.
#define GANGLION_BENCH_HWM 10000

/// PUB→SUB over tcp loopback between two contexts: `count` messages of `size` bytes, sent by an
/// XPUB with no-drop (lossless, blocking at the HWM) to a SUB.
/// Returns messages per second measured at the subscriber, or a negative errno on failure.
double ganglion_c_pubsub_throughput(size_t size, uint64_t count);

/// As ganglion_c_pubsub_throughput, with CurveZMQ when `curve` is non-zero (fresh key pairs, no
/// ZAP handler): what libzmq's encryption alone costs on this machine.
double ganglion_c_pubsub_throughput_curve(size_t size, uint64_t count, int curve);

/// DEALER→ROUTER→DEALER echo over tcp loopback: `count` round trips of `size` bytes, one at a
/// time. Writes each round trip's nanoseconds into `latencies` (length `count`).
/// Returns 0, or a negative errno on failure.
int ganglion_c_roundtrip(size_t size, uint64_t count, uint64_t *latencies);

/// The same echo with the ROUTER bound to `bind` (`tcp://127.0.0.1:*`, `ipc:///path`,
/// `inproc://name`): the transport's own latency floor on this machine.
int ganglion_c_roundtrip_over(const char *bind, size_t size, uint64_t count, uint64_t *latencies);

/// End to end through a relay, over tcp loopback, one context per party as three processes would
/// have: a DEALER sends `count` events of `size` bytes at `rate` per second (the first 8 bytes
/// carry CLOCK_MONOTONIC ns) to a ROUTER whose thread publishes each on a PUB and answers it; a
/// SUB receives them. This is the shape of `ganglion bench`'s end-to-end latency with nothing but
/// transport: its floor on this machine. Writes each event's nanoseconds from send to receipt into
/// `latencies` (length `count`; half a second of warm-up is sent first and not counted).
/// Returns 0, or a negative errno on failure.
int ganglion_c_relay_latency(size_t size, uint64_t rate, uint64_t count, uint64_t *latencies);

/// The same relay doing the least a durable log with acknowledgements must add: the relay writes
/// each event at the end of the file `log_path` (one positioned write of a 12-byte prefix and the
/// bytes, as a log append) before publishing it, and the producer's thread waits for its next send
/// time and for acknowledgements in one poll, taking each acknowledgement as it arrives (as a
/// client's socket thread does, instead of collecting them only when it sends). The floor under a
/// durable, acknowledged end-to-end latency. Returns 0, or a negative errno (a failed write too).
int ganglion_c_durable_relay_latency(size_t size, uint64_t rate, uint64_t count, uint64_t *latencies, const char *log_path);

/// The least work replicated produce needs, with libzmq and the file system alone, laid out as
/// `ganglion bench --replication`'s cluster: three nodes (a thread and context each, as processes
/// would have, files in `directory`), `partitions` partitions led by node p % 3, each held by
/// `replicas` nodes; every replica fsyncs each partition once per burst (group commit), a leader
/// forwards each batch before its own fsync and answers once every replica holds it durably. A
/// client keeps `in_flight` workers busy, each sending a batch of `batch_bytes` to a partition,
/// waiting for its answer, then going on to the next partition, for `seconds` (after half a
/// second of warm-up). Returns acknowledged batches per second, or a negative errno on failure
/// (the errno of the first write or fsync that failed on any node: nothing is counted durable
/// that was not made so). With `replicas` 1 and 3 in the same run it is the floor under the benchmark's RF 3 / RF 1.
double ganglion_c_replication_throughput(const char *directory, size_t batch_bytes, int partitions, int replicas, int in_flight, double seconds);

/// Makes stdout line-buffered, so figures appear as they are measured even when piped.
void ganglion_line_buffer_stdout(void);

#endif
