/*
 * A small guest library for mmhost plugins in C: the C counterpart of
 * plugins/mmhost-guest (Rust). It sits on the bindings that
 * `wit-bindgen c wit --world transform` generates (transform.h, transform.c,
 * transform_component_type.o) and adds chunked reads, an in-place transform,
 * error messages identical to the Rust library's, logging and throttled
 * progress. It uses no stdio, so a plugin imports nothing but mmhost's
 * interfaces (no WASI adapter needed).
 *
 * A plugin defines the export of the world:
 *
 *   bool exports_transform_run(transform_list_string_t *args,
 *                              transform_string_t *ret, transform_string_t *err);
 *
 * returning true with *ret set (ok) or false with *err set (err). Both strings
 * must be allocated (mmhost_string, mmhost_string_n): the bindings free them.
 * The bindings hand ownership of `args` to the plugin: free it with
 * transform_list_string_free().
 *
 * It covers the whole contract of WIT 0.1.3 (size, segments, writable, read,
 * write, locate, find, digest, log, progress, emit, config), not the
 * `parallel` world (it is built on the `transform` world's bindings). A C
 * plugin "panics" with mmhost_panic(message): the message is logged at error
 * level, then the plugin traps (exit code 5).
 */
#ifndef MMHOST_GUEST_H
#define MMHOST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transform.h"

/* Bytes per chunk: 1 MiB, as in the Rust library. */
#define MMHOST_CHUNK ((size_t)1 << 20)

typedef mmhost_plugin_region_error_t mmhost_error_t;

/* A region call's failure: the error and the length the call asked for
 * (part of the message of a too-large error). */
typedef struct {
    mmhost_error_t error;
    uint64_t len;
    uint32_t segment; /* for locate: the segment asked for */
} mmhost_failure_t;

uint64_t mmhost_size(void);
bool mmhost_writable(void);

/* Reads len bytes at `at` (negative: from the end) into *out, which the
 * caller frees with transform_list_u8_free. No short reads. */
bool mmhost_read(int64_t at, uint64_t len, transform_list_u8_t *out, mmhost_failure_t *fail);
/* Writes len bytes at `at`; never changes the region's size. */
bool mmhost_write(int64_t at, uint8_t *data, size_t len, mmhost_failure_t *fail);

/* The global offset of byte `delta` of segment `segment`. */
bool mmhost_locate(uint32_t segment, int64_t delta, uint64_t *out, mmhost_failure_t *fail);

/* One input file's place in the region: .name (a transform_string_t:
 * .ptr, .len, not NUL-terminated), .start, .len; and the list of them
 * (.ptr, .len). Owned by the caller: free with mmhost_segments_free. */
typedef mmhost_plugin_region_segment_t mmhost_segment_t;
typedef mmhost_plugin_region_list_segment_t mmhost_segments_t;

/* The input files in order, with their global start offsets. */
void mmhost_segments(mmhost_segments_t *out);
void mmhost_segments_free(mmhost_segments_t *segments);

/* Up to `limit` non-overlapping occurrences of the `len` bytes at `pattern`
 * wholly inside [start, end), leftmost first, searched by the host: their
 * global offsets in *out (.ptr, .len), which the caller frees with
 * transform_list_u64_free. An empty pattern finds nothing. */
bool mmhost_find(const uint8_t *pattern, size_t len, uint64_t start, uint64_t end, uint32_t limit,
                 transform_list_u64_t *out, mmhost_failure_t *fail);

/* The SHA-256 digest of `len` bytes at `at` (negative: from the end),
 * computed by the host: nothing is copied into the plugin. Needs a host of
 * WIT 0.1.3 or later. */
bool mmhost_digest_sha256(int64_t at, uint64_t len, uint8_t out[32], mmhost_failure_t *fail);

/* The step's configuration as JSON text ("null" when it has none), in *out
 * (not NUL-terminated); free it with transform_string_free. */
void mmhost_config(transform_string_t *out);

/* Logs `message` at error level and traps the plugin (exit code 5): the C
 * counterpart of a Rust panic, for bugs (use *err for errors the user can
 * fix). */
_Noreturn void mmhost_panic(const char *message);

/* Sets *msg (allocated) to the message the Rust library gives for fail. */
void mmhost_failure_message(const mmhost_failure_t *fail, transform_string_t *msg);

/* Allocated copies of a C string / n bytes, for *ret and *err. */
void mmhost_string(transform_string_t *s, const char *text);
void mmhost_string_n(transform_string_t *s, const char *text, size_t n);
/* Writes the decimal digits of v and a NUL to buf (at least 21 bytes);
 * returns the number of digits. */
size_t mmhost_u64_decimal(uint64_t v, char *buf);

/*
 * Chunks of [start, end): each call to mmhost_chunks_next reads the next
 * chunk of `chunk` new bytes into c->offset / c->bytes (freeing the one
 * before). With an overlap k, every chunk after the first also starts with
 * the last k bytes of the chunk before it (c->offset is k smaller), so that a
 * search sees matches straddling two chunks. Returns false at the end or on
 * a failure (then c->failed is true and c->fail says why).
 */
typedef struct {
    uint64_t start, pos, end;
    size_t chunk, overlap;
    bool report_progress;
    uint64_t offset;
    transform_list_u8_t bytes;
    bool failed;
    mmhost_failure_t fail;
} mmhost_chunks_t;

void mmhost_chunks_init(mmhost_chunks_t *c, uint64_t start, uint64_t end, size_t chunk, size_t overlap);
bool mmhost_chunks_next(mmhost_chunks_t *c);
/* Frees the last chunk (call it after an early exit from the loop). */
void mmhost_chunks_done(mmhost_chunks_t *c);

/* Reads, calls f(offset, bytes, len, user) to change bytes in place, and
 * writes back, chunk by chunk over the whole region. Fails with read-only if
 * the run is not writable. */
bool mmhost_transform_chunks(size_t chunk, void (*f)(uint64_t offset, uint8_t *bytes, size_t len, void *user),
                             void *user, mmhost_failure_t *fail);

/* Logs a NUL-terminated message at a level (MMHOST_PLUGIN_HOST_LEVEL_*). */
void mmhost_log(mmhost_plugin_host_level_t level, const char *message);
/* Reports progress, at most once per 1% (and always at the end). */
void mmhost_progress(uint64_t done, uint64_t total);
/* Appends bytes to the plugin's output (mmhost's stdout). */
void mmhost_emit(const uint8_t *data, size_t len);

#endif
