/* {{name}}: an mmhost plugin in C. Prints the number of lines ('\n' bytes)
 * in the region; change run() to do what you need. */
#include "mmhost_guest.h"

bool exports_transform_run(transform_list_string_t *args, transform_string_t *ret, transform_string_t *err) {
    size_t nargs = args->len;
    transform_list_string_free(args); /* the plugin owns its arguments */
    if (nargs != 0) {
        mmhost_string(err, "usage: {{name}}");
        return false; /* err: printed on stderr, exit code 1 */
    }
    uint64_t lines = 0;
    mmhost_chunks_t c;
    mmhost_chunks_init(&c, 0, mmhost_size(), MMHOST_CHUNK, 0);
    while (mmhost_chunks_next(&c)) /* 1 MiB at a time */
        for (size_t i = 0; i < c.bytes.len; i++) lines += c.bytes.ptr[i] == '\n';
    if (c.failed) {
        mmhost_failure_message(&c.fail, err);
        return false;
    }
    char digits[21];
    mmhost_string_n(ret, digits, mmhost_u64_decimal(lines, digits));
    return true; /* ok: printed on stdout */
}
