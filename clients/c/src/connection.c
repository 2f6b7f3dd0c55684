/* The DEALER side of docs/protocol.md: a request is [RequestHeader, body, batch?], an answer
 * [ResponseHeader, body?, …], matched by request id. */
#include "connection.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARENA_SIZE (64u * 1024u)

static void *arena_alloc(void *data, size_t size) {
    gl_connection *connection = data;
    size_t start = (connection->arena_used + 15u) & ~(size_t)15u;
    if (size > connection->arena_size || start > connection->arena_size - size) return NULL;
    connection->arena_used = start + size;
    return connection->arena + start;
}

static void arena_free(void *data, void *pointer) {
    (void)data;
    (void)pointer; /* the arena is emptied whole */
}

static char *copy_text(const char *text, size_t length) {
    char *copy = malloc(length + 1);
    if (!copy) return NULL;
    memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

int gl_connection_init(gl_connection *connection, const char *bootstrap, const char *client_id, char *error,
                       size_t error_size) {
    memset(connection, 0, sizeof *connection);
    size_t count = 1;
    for (const char *c = bootstrap; *c; c++) count += *c == ',';
    connection->endpoints = calloc(count, sizeof *connection->endpoints);
    if (!connection->endpoints) goto no_memory;
    const char *start = bootstrap;
    for (;;) {
        const char *end = strchr(start, ',');
        size_t length = end ? (size_t)(end - start) : strlen(start);
        while (length && (*start == ' ' || *start == '\t')) start++, length--;
        while (length && (start[length - 1] == ' ' || start[length - 1] == '\t')) length--;
        if (length) {
            char *endpoint = copy_text(start, length);
            if (!endpoint) goto no_memory;
            connection->endpoints[connection->endpoint_count++] = endpoint;
        }
        if (!end) break;
        start = end + 1;
    }
    if (!connection->endpoint_count) {
        snprintf(error, error_size, "config.bootstrap names no endpoint (give \"tcp://host:7400\", comma-separated for several)");
        gl_connection_destroy(connection);
        return -1;
    }
    connection->client_id = copy_text(client_id, strlen(client_id));
    connection->header_capacity = 64 + strlen(client_id);
    connection->body_capacity = 512;
    connection->header_buffer = malloc(connection->header_capacity);
    connection->body_buffer = malloc(connection->body_capacity);
    connection->arena = malloc(ARENA_SIZE);
    if (!connection->client_id || !connection->header_buffer || !connection->body_buffer || !connection->arena) goto no_memory;
    connection->arena_size = ARENA_SIZE;
    connection->allocator.alloc = arena_alloc;
    connection->allocator.free = arena_free;
    connection->allocator.allocator_data = connection;
    connection->context = zmq_ctx_new();
    if (!connection->context) {
        snprintf(error, error_size, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        gl_connection_destroy(connection);
        return -1;
    }
    /* Every endpoint must at least parse, so a failover never meets a typo. */
    for (size_t i = 0; i < connection->endpoint_count; i++) {
        if (gl_connection_open(connection, i, error, error_size) != 0) {
            gl_connection_destroy(connection);
            return -1;
        }
    }
    zmq_close(connection->socket);
    connection->socket = NULL;
    return 0;
no_memory:
    snprintf(error, error_size, "out of memory");
    gl_connection_destroy(connection);
    return -1;
}

static void close_frames(gl_connection *connection) {
    for (int i = 0; i < connection->frames_open; i++) zmq_msg_close(&connection->frames[i]);
    connection->frames_open = 0;
}

void gl_connection_destroy(gl_connection *connection) {
    close_frames(connection);
    if (connection->socket) zmq_close(connection->socket);
    if (connection->context) zmq_ctx_term(connection->context);
    for (size_t i = 0; i < connection->endpoint_count; i++) free(connection->endpoints[i]);
    free(connection->endpoints);
    free(connection->client_id);
    free(connection->header_buffer);
    free(connection->body_buffer);
    free(connection->arena);
    memset(connection, 0, sizeof *connection);
}

int gl_connection_open(gl_connection *connection, size_t index, char *error, size_t error_size) {
    close_frames(connection);
    if (connection->socket) {
        zmq_close(connection->socket);
        connection->socket = NULL;
    }
    connection->current = index % connection->endpoint_count;
    void *socket = zmq_socket(connection->context, ZMQ_DEALER);
    if (!socket) {
        snprintf(error, error_size, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    int linger = 0; /* unsent requests die with the socket: they are resent on the next one */
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    int64_t max_message = 16 << 20; /* the node's own limit */
    zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max_message, sizeof max_message);
    if (connection->curve && (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, connection->curve_server, 40) != 0 ||
                              zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, connection->curve_public, 40) != 0 ||
                              zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, connection->curve_secret, 40) != 0)) {
        snprintf(error, error_size, "cannot set the CURVE keys: %s (is libzmq built with CURVE?)", zmq_strerror(zmq_errno()));
        zmq_close(socket);
        return -1;
    }
    const char *endpoint = connection->endpoints[connection->current];
    if (zmq_connect(socket, endpoint) != 0) {
        snprintf(error, error_size, "cannot connect to \"%s\": %s (give an endpoint like tcp://host:7400)", endpoint,
                 zmq_strerror(zmq_errno()));
        zmq_close(socket);
        return -1;
    }
    connection->socket = socket;
    return 0;
}

const char *gl_connection_endpoint(const gl_connection *connection) {
    return connection->endpoint_count ? connection->endpoints[connection->current] : "";
}

int gl_connection_send(gl_connection *connection, Ganglion__V1__RequestKind kind, uint64_t request_id,
                       const ProtobufCMessage *body, const uint8_t *batch, size_t batch_length) {
    if (!connection->socket) return 1;
    Ganglion__V1__RequestHeader header = GANGLION__V1__REQUEST_HEADER__INIT;
    header.kind = kind;
    header.request_id = request_id;
    header.client_id = connection->client_id;
    header.version = 1;
    size_t header_length = protobuf_c_message_get_packed_size(&header.base);
    size_t body_length = protobuf_c_message_get_packed_size(body);
    if (header_length > connection->header_capacity || body_length > connection->body_capacity) {
        errno = EMSGSIZE;
        return -1;
    }
    protobuf_c_message_pack(&header.base, connection->header_buffer);
    protobuf_c_message_pack(body, connection->body_buffer);
    /* Once the first frame is accepted, libzmq takes the rest of the message atomically. */
    if (zmq_send(connection->socket, connection->header_buffer, header_length, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0) {
        return zmq_errno() == EAGAIN ? 1 : -1;
    }
    if (zmq_send(connection->socket, connection->body_buffer, body_length, batch ? ZMQ_SNDMORE : 0) < 0) return -1;
    if (batch && zmq_send(connection->socket, batch, batch_length, 0) < 0) return -1;
    return 0;
}

int gl_connection_receive(gl_connection *connection, gl_response *response) {
    close_frames(connection);
    if (!connection->socket) return 0;
    connection->arena_used = 0;
    int count = 0;
    int more = 1;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *frame = count < 3 ? &connection->frames[count] : &scratch;
        zmq_msg_init(frame);
        if (zmq_msg_recv(frame, connection->socket, count == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(frame);
            if (count == 0 && zmq_errno() == EAGAIN) return 0;
            return -1; /* ETERM or the like: nothing more to read */
        }
        more = zmq_msg_more(frame);
        if (count < 3) {
            connection->frames_open = ++count;
        } else {
            zmq_msg_close(frame); /* more frames than the protocol has: ignored */
        }
    }
    Ganglion__V1__ResponseHeader *header = (Ganglion__V1__ResponseHeader *)protobuf_c_message_unpack(
        &ganglion__v1__response_header__descriptor, &connection->allocator, zmq_msg_size(&connection->frames[0]),
        zmq_msg_data(&connection->frames[0]));
    if (!header) return -1;
    response->request_id = header->request_id;
    response->error = (ganglion_node_error)header->error;
    response->message = header->error_message ? header->error_message : "";
    response->retry_after_ms = header->retry_after_ms;
    response->has_body = connection->frames_open > 1;
    response->body = response->has_body ? zmq_msg_data(&connection->frames[1]) : NULL;
    response->body_length = response->has_body ? zmq_msg_size(&connection->frames[1]) : 0;
    return 1;
}

ProtobufCMessage *gl_connection_unpack(gl_connection *connection, const ProtobufCMessageDescriptor *descriptor,
                                       const gl_response *response) {
    if (!response->has_body) return NULL;
    return protobuf_c_message_unpack(descriptor, &connection->allocator, response->body_length, response->body);
}

int gl_connection_wait(gl_connection *connection, int timeout_ms) {
    if (!connection->socket) {
        struct timespec pause = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
        if (timeout_ms > 0) nanosleep(&pause, NULL);
        return 0;
    }
    zmq_pollitem_t item = {.socket = connection->socket, .events = ZMQ_POLLIN};
    int ready = zmq_poll(&item, 1, timeout_ms < 0 ? 0 : timeout_ms);
    return ready > 0 && (item.revents & ZMQ_POLLIN);
}

int gl_connection_readable(gl_connection *connection) {
    if (!connection->socket) return 0;
    int events = 0;
    size_t size = sizeof events;
    if (zmq_getsockopt(connection->socket, ZMQ_EVENTS, &events, &size) != 0) return 0;
    return (events & ZMQ_POLLIN) != 0;
}
