/* hash: see hash.h for the invariants. */
#include "hash.h"

#include <math.h>
#include <string.h>

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* little-endian hosts only; checked at build time in CMake */
    return v;
}

uint64_t psr_hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = psr_mix64(seed ^ (0x27d4eb2f165667c5ULL * (uint64_t)(len + 1)));
    while (len >= 8) {
        h = psr_mix64(h ^ load64(p)) + 0x9e3779b97f4a7c15ULL;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++) tail |= (uint64_t)p[i] << (8 * i);
    return psr_mix64(h ^ tail ^ ((uint64_t)len << 56));
}

uint64_t psr_feature_key(int field, const char *tok, size_t len)
{
    return psr_hash_bytes(tok, len, psr_mix64((uint64_t)(int64_t)field + 0x1000ULL));
}

uint64_t psr_feature_key_int(int field, int64_t value)
{
    unsigned char b[8];
    uint64_t u = (uint64_t)value;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(u >> (8 * i));
    return psr_hash_bytes(b, 8, psr_mix64((uint64_t)(int64_t)field + 0x2000ULL));
}

void psr_rng_seed(psr_rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = psr_mix64(x);
    }
}

uint64_t psr_rng_next(psr_rng_t *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double psr_rng_uniform(psr_rng_t *r) { return (double)(psr_rng_next(r) >> 11) * 0x1.0p-53; }

double psr_rng_normal(psr_rng_t *r)
{
    double u1 = psr_rng_uniform(r);
    double u2 = psr_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t psr_rng_below(psr_rng_t *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = psr_rng_next(r);
    } while (x >= limit);
    return x % n;
}

uint64_t psr_table_salt(int table)
{
    return table == 0 ? 0 : psr_mix64(0x7461626c65000000ULL + (uint64_t)table);
}

uint64_t psr_row_digest(uint64_t key, const float *floats, size_t n_floats, int64_t step)
{
    uint64_t h = psr_hash_bytes(&key, sizeof key, 0x70737265ULL);
    h = psr_hash_bytes(floats, n_floats * sizeof *floats, h);
    return psr_hash_bytes(&step, sizeof step, h);
}
