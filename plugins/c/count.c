/*
 * count PATTERN: the number of non-overlapping occurrences of PATTERN (its
 * UTF-8 bytes) in the region, exactly like Python's bytes.count over the
 * concatenation: matches are taken greedily from the left, an empty pattern
 * counts size + 1, and matches that straddle chunk or file boundaries count.
 */
#include <string.h>

#include "mmhost_guest.h"

bool exports_transform_run(transform_list_string_t *args, transform_string_t *ret, transform_string_t *err) {
    if (args->len != 1) {
        transform_list_string_free(args);
        mmhost_string(err, "usage: count PATTERN");
        return false;
    }
    const uint8_t *pat = args->ptr[0].ptr;
    size_t n = args->ptr[0].len;
    uint64_t total = 0;
    if (n == 0) {
        total = mmhost_size() + 1;
    } else {
        /* With an overlap of n - 1 every occurrence lies whole in one chunk;
         * a match counts only if it starts at or after `next`, the global end
         * of the last one counted. */
        uint64_t next = 0;
        mmhost_chunks_t c;
        mmhost_chunks_init(&c, 0, mmhost_size(), MMHOST_CHUNK, n - 1);
        while (mmhost_chunks_next(&c)) {
            const uint8_t *bytes = c.bytes.ptr;
            size_t len = c.bytes.len;
            size_t i = next > c.offset ? (size_t)(next - c.offset) : 0;
            while (len >= n && i <= len - n) {
                const uint8_t *hit = memchr(bytes + i, pat[0], len - n + 1 - i);
                if (!hit) break;
                i = (size_t)(hit - bytes);
                if (memcmp(hit, pat, n) == 0) {
                    total++;
                    i += n;
                    next = c.offset + i;
                } else {
                    i++;
                }
            }
        }
        if (c.failed) {
            transform_list_string_free(args);
            mmhost_failure_message(&c.fail, err);
            return false;
        }
    }
    transform_list_string_free(args);
    char digits[21];
    size_t len = mmhost_u64_decimal(total, digits);
    mmhost_string_n(ret, digits, len);
    return true;
}
