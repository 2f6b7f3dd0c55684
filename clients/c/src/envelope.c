/* A ganglion_event checked and turned into a ganglion.v1.EventEnvelope that points into it. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t gl_monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t gl_unix_nanos(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int gl_utf8_valid(const char *text, size_t length) {
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    while (i < length) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t min;
        uint32_t code;
        if ((c & 0xE0) == 0xC0) {
            extra = 1, min = 0x80, code = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, min = 0x800, code = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, min = 0x10000, code = c & 0x07;
        } else {
            return 0;
        }
        if (length - i <= extra) return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            code = code << 6 | (s[i + k] & 0x3F);
        }
        if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
        i += extra + 1;
    }
    return 1;
}

/* Checks one optional string field; NULL is absent. */
static int text_ok(const char *value, const char *field, char *error, size_t error_size) {
    if (value && !gl_utf8_valid(value, strlen(value))) {
        snprintf(error, error_size, "event.%s is not valid UTF-8", field);
        return 0;
    }
    return 1;
}

/* A CloudEvents extension name: lower-case letters and digits only. */
static int extension_name_ok(const char *name) {
    if (!name || !*name) return 0;
    for (const char *c = name; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))) return 0;
    }
    return 1;
}

ganglion_status gl_envelope_prepare(gl_envelope *envelope, const ganglion_event *event, const char *default_source,
                                    const char *generated_id, int64_t now_unix_nanos, char *error, size_t error_size) {
#define BAD(...)                                   \
    do {                                           \
        snprintf(error, error_size, __VA_ARGS__); \
        return GANGLION_ERR_INVALID_ARGUMENT;      \
    } while (0)
    if (!event) BAD("event is NULL");
    if (!event->type || !*event->type) BAD("event.type is required: the kind of event, e.g. \"com.example.reading\"");
    if (event->id && !*event->id) BAD("event.id is empty: give a unique id or NULL for a generated one");
    const char *source = event->source ? event->source : default_source;
    if (!source || !*source) BAD("event.source is empty: give one, or set ganglion_config.default_source");
    if (event->key_len && !event->key) BAD("event.key is NULL but key_len is %zu", event->key_len);
    if (event->data_len && !event->data) BAD("event.data is NULL but data_len is %zu", event->data_len);
    if (event->extension_count && !event->extensions) BAD("event.extensions is NULL but extension_count is %zu", event->extension_count);
    if (event->extension_count > GL_MAX_EXTENSIONS) BAD("event has %zu extensions; at most %d", event->extension_count, GL_MAX_EXTENSIONS);
    if (!text_ok(event->id, "id", error, error_size) || !text_ok(source, "source", error, error_size) ||
        !text_ok(event->type, "type", error, error_size) || !text_ok(event->subject, "subject", error, error_size) ||
        !text_ok(event->data_content_type, "data_content_type", error, error_size) ||
        !text_ok(event->data_schema, "data_schema", error, error_size) ||
        !text_ok(event->message_name, "message_name", error, error_size) ||
        !text_ok(event->correlation_id, "correlation_id", error, error_size) ||
        !text_ok(event->causation_id, "causation_id", error, error_size) ||
        !text_ok(event->traceparent, "traceparent", error, error_size) ||
        !text_ok(event->tracestate, "tracestate", error, error_size)) {
        return GANGLION_ERR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < event->extension_count; i++) {
        const ganglion_attribute *attribute = &event->extensions[i];
        if (!extension_name_ok(attribute->name)) {
            BAD("event.extensions[%zu].name \"%s\" is not a CloudEvents extension name (lower-case letters and digits)", i,
                attribute->name ? attribute->name : "(null)");
        }
        if (!attribute->value) BAD("event.extensions[%zu] (%s) has a NULL value", i, attribute->name);
        if (!gl_utf8_valid(attribute->value, strlen(attribute->value))) BAD("event.extensions[%zu] (%s) is not valid UTF-8", i, attribute->name);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(event->extensions[k].name, attribute->name) == 0) BAD("event.extensions names \"%s\" twice", attribute->name);
        }
    }
#undef BAD

    Ganglion__V1__EventEnvelope *m = &envelope->message;
    ganglion__v1__event_envelope__init(m);
    /* protobuf-c's fields are not const; packing only reads them. */
    m->id = (char *)(event->id ? event->id : generated_id);
    m->source = (char *)source;
    m->spec_version = "1.0";
    m->type = (char *)event->type;
    m->subject = (char *)event->subject;
    int64_t nanos = event->time_unix_nanos ? event->time_unix_nanos : now_unix_nanos;
    int64_t seconds = nanos / 1000000000;
    int64_t remainder = nanos % 1000000000;
    if (remainder < 0) {
        seconds -= 1;
        remainder += 1000000000;
    }
    google__protobuf__timestamp__init(&envelope->time);
    envelope->time.seconds = seconds;
    envelope->time.nanos = (int32_t)remainder;
    m->time = &envelope->time;
    envelope->timestamp_ms = seconds * 1000 + remainder / 1000000;
    m->data_content_type = (char *)event->data_content_type;
    m->data_schema = (char *)event->data_schema;
    m->key.data = (uint8_t *)event->key;
    m->key.len = event->key_len;
    m->schema_id = event->schema_id;
    m->message_name = (char *)event->message_name;
    m->correlation_id = (char *)event->correlation_id;
    m->causation_id = (char *)event->causation_id;
    m->traceparent = (char *)event->traceparent;
    m->tracestate = (char *)event->tracestate;
    for (size_t i = 0; i < event->extension_count; i++) {
        Ganglion__V1__EventEnvelope__ExtensionsEntry *entry = &envelope->entries[i];
        ganglion__v1__event_envelope__extensions_entry__init(entry);
        entry->key = (char *)event->extensions[i].name;
        entry->value = (char *)event->extensions[i].value;
        envelope->entry_pointers[i] = entry;
    }
    m->n_extensions = event->extension_count;
    m->extensions = event->extension_count ? envelope->entry_pointers : NULL;
    m->data.data = (uint8_t *)event->data;
    m->data.len = event->data_len;
    return GANGLION_OK;
}
