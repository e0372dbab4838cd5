/* The C guest library for mmhost plugins: see mmhost_guest.h. */
#include "mmhost_guest.h"

#include <stdlib.h>
#include <string.h>

uint64_t mmhost_size(void) { return mmhost_plugin_region_size(); }

bool mmhost_writable(void) { return mmhost_plugin_region_writable(); }

bool mmhost_read(int64_t at, uint64_t len, transform_list_u8_t *out, mmhost_failure_t *fail) {
    fail->len = len;
    return mmhost_plugin_region_read(at, len, out, &fail->error);
}

bool mmhost_write(int64_t at, uint8_t *data, size_t len, mmhost_failure_t *fail) {
    transform_list_u8_t list = {data, len};
    fail->len = len;
    return mmhost_plugin_region_write(at, &list, &fail->error);
}

bool mmhost_locate(uint32_t segment, int64_t delta, uint64_t *out, mmhost_failure_t *fail) {
    fail->len = 0;
    fail->segment = segment;
    return mmhost_plugin_region_locate(segment, delta, out, &fail->error);
}

void mmhost_segments(mmhost_segments_t *out) { mmhost_plugin_region_segments(out); }

void mmhost_segments_free(mmhost_segments_t *segments) { mmhost_plugin_region_list_segment_free(segments); }

bool mmhost_find(const uint8_t *pattern, size_t len, uint64_t start, uint64_t end, uint32_t limit,
                 transform_list_u64_t *out, mmhost_failure_t *fail) {
    transform_list_u8_t list = {(uint8_t *)pattern, len};
    fail->len = end > start ? end - start : 0;
    return mmhost_plugin_region_find(&list, start, end, limit, out, &fail->error);
}

bool mmhost_digest_sha256(int64_t at, uint64_t len, uint8_t out[32], mmhost_failure_t *fail) {
    transform_list_u8_t digest;
    fail->len = len;
    if (!mmhost_plugin_region_digest(MMHOST_PLUGIN_REGION_DIGEST_ALGORITHM_SHA256, at, len, &digest, &fail->error))
        return false;
    memcpy(out, digest.ptr, digest.len < 32 ? digest.len : 32);
    transform_list_u8_free(&digest);
    return true;
}

void mmhost_config(transform_string_t *out) { mmhost_plugin_config_get(out); }

_Noreturn void mmhost_panic(const char *message) {
    mmhost_log(MMHOST_PLUGIN_HOST_LEVEL_ERROR, message);
    __builtin_trap();
}

size_t mmhost_u64_decimal(uint64_t v, char *buf) {
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
    return n;
}

void mmhost_string(transform_string_t *s, const char *text) { transform_string_dup(s, text); }

void mmhost_string_n(transform_string_t *s, const char *text, size_t n) { transform_string_dup_n(s, text, n); }

/* A growing message buffer, for error messages. */
typedef struct {
    char buf[256];
    size_t len;
} msg_t;

static void put(msg_t *m, const char *s) {
    size_t n = strlen(s);
    if (n > sizeof m->buf - 1 - m->len) n = sizeof m->buf - 1 - m->len;
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = 0;
}

static void put_u64(msg_t *m, uint64_t v) {
    char d[21];
    mmhost_u64_decimal(v, d);
    put(m, d);
}

static void put_i64(msg_t *m, int64_t v) {
    if (v < 0) {
        put(m, "-");
        put_u64(m, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(m, (uint64_t)v);
    }
}

void mmhost_failure_message(const mmhost_failure_t *fail, transform_string_t *msg) {
    msg_t m = {{0}, 0};
    const mmhost_error_t *e = &fail->error;
    switch (e->tag) {
    case MMHOST_PLUGIN_TYPES_ERROR_OUT_OF_RANGE:
        put(&m, "access of ");
        put_u64(&m, e->val.out_of_range.len);
        put(&m, " bytes at offset ");
        put_i64(&m, e->val.out_of_range.at);
        put(&m, " is out of range for a region of ");
        put_u64(&m, e->val.out_of_range.size);
        put(&m, " bytes");
        break;
    case MMHOST_PLUGIN_TYPES_ERROR_READ_ONLY:
        put(&m, "region is read-only (run with --in-place or --output)");
        break;
    case MMHOST_PLUGIN_TYPES_ERROR_TOO_LARGE:
        put(&m, "read of ");
        put_u64(&m, fail->len);
        put(&m, " bytes exceeds the host's limit of ");
        put_u64(&m, e->val.too_large);
        put(&m, " bytes per read (read in chunks)");
        break;
    case MMHOST_PLUGIN_TYPES_ERROR_NO_SUCH_SEGMENT:
        put(&m, "no segment ");
        put_u64(&m, fail->segment);
        put(&m, ": the region has ");
        put_u64(&m, e->val.no_such_segment);
        put(&m, e->val.no_such_segment == 1 ? " segment" : " segments");
        break;
    default:
        put(&m, "unknown region error");
    }
    mmhost_string_n(msg, m.buf, m.len);
}

void mmhost_chunks_init(mmhost_chunks_t *c, uint64_t start, uint64_t end, size_t chunk, size_t overlap) {
    memset(c, 0, sizeof *c);
    c->start = c->pos = start;
    c->end = end < start ? start : end;
    c->chunk = chunk ? chunk : MMHOST_CHUNK;
    c->overlap = overlap;
    c->report_progress = true;
}

void mmhost_chunks_done(mmhost_chunks_t *c) { transform_list_u8_free(&c->bytes); }

bool mmhost_chunks_next(mmhost_chunks_t *c) {
    mmhost_chunks_done(c);
    if (c->failed || c->pos >= c->end) return false;
    uint64_t next = c->end - c->pos < c->chunk ? c->end : c->pos + c->chunk;
    uint64_t from = c->pos;
    if (c->pos != c->start) from = c->pos - c->start < c->overlap ? c->start : c->pos - c->overlap;
    if (!mmhost_read((int64_t)from, next - from, &c->bytes, &c->fail)) {
        c->failed = true;
        c->bytes.ptr = NULL;
        c->bytes.len = 0;
        return false;
    }
    c->offset = from;
    c->pos = next;
    if (c->report_progress) mmhost_progress(c->pos - c->start, c->end - c->start);
    return true;
}

bool mmhost_transform_chunks(size_t chunk, void (*f)(uint64_t, uint8_t *, size_t, void *), void *user,
                             mmhost_failure_t *fail) {
    if (!mmhost_writable()) {
        fail->error.tag = MMHOST_PLUGIN_TYPES_ERROR_READ_ONLY;
        fail->len = 0;
        return false;
    }
    mmhost_chunks_t c;
    mmhost_chunks_init(&c, 0, mmhost_size(), chunk, 0);
    while (mmhost_chunks_next(&c)) {
        f(c.offset, c.bytes.ptr, c.bytes.len, user);
        if (!mmhost_write((int64_t)c.offset, c.bytes.ptr, c.bytes.len, fail)) {
            mmhost_chunks_done(&c);
            return false;
        }
    }
    if (c.failed) {
        *fail = c.fail;
        return false;
    }
    return true;
}

void mmhost_log(mmhost_plugin_host_level_t level, const char *message) {
    transform_string_t s;
    transform_string_set(&s, message);
    mmhost_plugin_host_log(level, &s);
}

static uint64_t last_progress;

void mmhost_progress(uint64_t done, uint64_t total) {
    uint64_t step = total / 100 ? total / 100 : 1;
    if (done >= total || done - last_progress >= step || done < last_progress) {
        last_progress = done;
        mmhost_plugin_host_progress(done, total);
    }
}

void mmhost_emit(const uint8_t *data, size_t len) {
    transform_list_u8_t list = {(uint8_t *)data, len};
    mmhost_plugin_output_emit(&list);
}
