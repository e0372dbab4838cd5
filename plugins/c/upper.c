/* upper: ASCII-uppercases the whole region in place (--in-place or --output). */
#include "mmhost_guest.h"

/* Branch-free, so that clang vectorises it with -msimd128. */
static void uppercase(uint64_t offset, uint8_t *bytes, size_t len, void *user) {
    (void)offset;
    (void)user;
    for (size_t i = 0; i < len; i++) bytes[i] -= (uint8_t)((uint8_t)(bytes[i] - 'a') < 26) * 32;
}

bool exports_transform_run(transform_list_string_t *args, transform_string_t *ret, transform_string_t *err) {
    transform_list_string_free(args);
    mmhost_failure_t fail;
    if (!mmhost_transform_chunks(MMHOST_CHUNK, uppercase, NULL, &fail)) {
        mmhost_failure_message(&fail, err);
        return false;
    }
    mmhost_string(ret, "");
    return true;
}
