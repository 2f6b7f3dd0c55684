/* Names of statuses and of the node's error codes. */
#include "internal.h"

const char *ganglion_status_name(ganglion_status status) {
    switch (status) {
    case GANGLION_OK: return "GANGLION_OK";
    case GANGLION_ERR_INVALID_ARGUMENT: return "GANGLION_ERR_INVALID_ARGUMENT";
    case GANGLION_ERR_TOO_LARGE: return "GANGLION_ERR_TOO_LARGE";
    case GANGLION_ERR_QUEUE_FULL: return "GANGLION_ERR_QUEUE_FULL";
    case GANGLION_ERR_CONNECT: return "GANGLION_ERR_CONNECT";
    case GANGLION_ERR_TIMEOUT: return "GANGLION_ERR_TIMEOUT";
    case GANGLION_ERR_NODE: return "GANGLION_ERR_NODE";
    case GANGLION_ERR_FENCED: return "GANGLION_ERR_FENCED";
    case GANGLION_ERR_NO_MEMORY: return "GANGLION_ERR_NO_MEMORY";
    case GANGLION_ERR_PROTOCOL: return "GANGLION_ERR_PROTOCOL";
    case GANGLION_ERR_CLOSED: return "GANGLION_ERR_CLOSED";
    }
    return "GANGLION_ERR_UNKNOWN";
}

const char *ganglion_node_error_name(ganglion_node_error code) {
    /* From the generated descriptor, so the names are protocol.proto's own. */
    const ProtobufCEnumValue *value = protobuf_c_enum_descriptor_get_value(&ganglion__v1__error_code__descriptor, (int)code);
    if (!value) return "UNKNOWN_ERROR_CODE";
    const char *name = value->name;
    const char *prefix = "ERROR_CODE_";
    const char *p = prefix;
    const char *n = name;
    while (*p && *n == *p) p++, n++;
    return *p ? name : n;
}
