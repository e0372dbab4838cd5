/* checksum: prints `<sha256 hex> <size>` of the whole region. */
#include "mmhost_guest.h"
#include "sha256.h"

bool exports_transform_run(transform_list_string_t *args, transform_string_t *ret, transform_string_t *err) {
    transform_list_string_free(args);
    uint64_t size = mmhost_size();
    sha256_ctx ctx;
    sha256_init(&ctx);
    mmhost_chunks_t c;
    mmhost_chunks_init(&c, 0, size, MMHOST_CHUNK, 0);
    while (mmhost_chunks_next(&c)) sha256_update(&ctx, c.bytes.ptr, c.bytes.len);
    if (c.failed) {
        mmhost_failure_message(&c.fail, err);
        return false;
    }
    uint8_t digest[32];
    sha256_final(&ctx, digest);
    char out[64 + 1 + 21];
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = ' ';
    size_t n = mmhost_u64_decimal(size, out + 65);
    mmhost_string_n(ret, out, 65 + n);
    return true;
}
