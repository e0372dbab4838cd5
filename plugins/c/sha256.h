/* SHA-256 (FIPS 180-4), incremental: a few lines, no dependencies. */
#ifndef MMHOST_SHA256_H
#define MMHOST_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[8];
    uint64_t length;       /* bytes hashed so far */
    uint8_t block[64];     /* a partial block */
    size_t used;           /* bytes in block */
} sha256_ctx;

void sha256_init(sha256_ctx *ctx);
void sha256_update(sha256_ctx *ctx, const uint8_t *data, size_t len);
/* Writes the 32-byte digest to out. */
void sha256_final(sha256_ctx *ctx, uint8_t out[32]);

#endif
