/* The producer's one DEALER socket to a node: framing, packing and parsing (connection.c). */
#ifndef GANGLION_CONNECTION_H
#define GANGLION_CONNECTION_H

#include "internal.h"

#include <zmq.h>

/** One answer, valid until the next gl_connection_receive(). */
typedef struct gl_response {
    uint64_t request_id;
    ganglion_node_error error;
    /** The node's message ("" when none). */
    const char *message;
    uint32_t retry_after_ms;
    /** The body frame, when there is one. */
    const uint8_t *body;
    size_t body_length;
    int has_body;
} gl_response;

/** The socket, the bootstrap endpoints and the buffers requests are packed into. */
typedef struct gl_connection {
    void *context;
    void *socket;
    char **endpoints;
    size_t endpoint_count;
    /** The endpoint the socket is connected to now. */
    size_t current;
    char *client_id;
    uint8_t *header_buffer;
    size_t header_capacity;
    uint8_t *body_buffer;
    size_t body_capacity;
    /** The frames of the last answer received. */
    zmq_msg_t frames[3];
    int frames_open;
    /** Answers are unpacked into this arena, emptied before each answer: no allocation per answer. */
    uint8_t *arena;
    size_t arena_size;
    size_t arena_used;
    ProtobufCAllocator allocator;
    /** CurveZMQ keys (Z85) when `curve` is set: the server's, ours. */
    int curve;
    char curve_server[41];
    char curve_public[41];
    char curve_secret[41];
} gl_connection;

/** Splits `bootstrap` (comma-separated) and makes the buffers; no socket yet. 0, or -1 with `error`. */
int gl_connection_init(gl_connection *connection, const char *bootstrap, const char *client_id, char *error,
                       size_t error_size);
/** Closes the socket and frees everything. */
void gl_connection_destroy(gl_connection *connection);
/** Closes any socket and connects a new one to endpoint `index`. 0, or -1 with `error`. */
int gl_connection_open(gl_connection *connection, size_t index, char *error, size_t error_size);
/** The endpoint connected now. */
const char *gl_connection_endpoint(const gl_connection *connection);
/**
 * Sends one request: header, `body`, and for PRODUCE the raw batch. 0 sent; 1 the socket's queue
 * is full (try again later); -1 an error (errno).
 */
int gl_connection_send(gl_connection *connection, Ganglion__V1__RequestKind kind, uint64_t request_id,
                       const ProtobufCMessage *body, const uint8_t *batch, size_t batch_length);
/** Reads one answer without waiting: 1 read into `response`, 0 none waiting, -1 one that does not parse (skipped). */
int gl_connection_receive(gl_connection *connection, gl_response *response);
/** Parses an answer's body into the arena; NULL when it does not parse. Valid until the next receive. */
ProtobufCMessage *gl_connection_unpack(gl_connection *connection, const ProtobufCMessageDescriptor *descriptor,
                                       const gl_response *response);
/** Waits up to `timeout_ms` for an answer to read: 1 readable, 0 not. */
int gl_connection_wait(gl_connection *connection, int timeout_ms);
/** Whether an answer is waiting (no system call when libzmq already knows). */
int gl_connection_readable(gl_connection *connection);

#endif /* GANGLION_CONNECTION_H */
