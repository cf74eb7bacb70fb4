/* hash: feature keys, bucket routing and deterministic random numbers.
 *
 * Invariants every rank and every run relies on:
 *  1. psr_feature_key(field, token) depends only on its arguments (no seed, no process state):
 *     the same raw token in the same field is the same 64-bit key everywhere, forever.
 *  2. psr_key_bucket(key, B) depends only on (key, B); servers own buckets, never keys.
 *  3. psr_rng_* streams are fully determined by their seed (xoshiro256**, seeded by
 *     splitmix64), independent of platform libc. */
#ifndef PSR_HASH_H
#define PSR_HASH_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64 finalizer: a bijective 64-bit mixer. */
static inline uint64_t psr_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* 64-bit hash of `len` bytes under `seed`. */
uint64_t psr_hash_bytes(const void *data, size_t len, uint64_t seed);

/* Key of raw token `tok` (len bytes, not NUL-terminated) in field `field` (0-based).
 * Field -1 is reserved for the global bias key. */
uint64_t psr_feature_key(int field, const char *tok, size_t len);

/* Key of an integer-valued token (e.g. a log bucket) in `field`. */
uint64_t psr_feature_key_int(int field, int64_t value);

/* Virtual bucket of a key, in [0, n_buckets). */
static inline uint32_t psr_key_bucket(uint64_t key, uint32_t n_buckets)
{
    return (uint32_t)(psr_mix64(key ^ 0x5bd1e9955bd1e995ULL) % n_buckets);
}

/* Server that owns a bucket: buckets are dealt round-robin (DESIGN.md 4). */
static inline int psr_bucket_owner(uint32_t bucket, int n_servers)
{
    return (int)(bucket % (uint32_t)n_servers);
}

typedef struct {
    uint64_t s[4];
} psr_rng_t;

void psr_rng_seed(psr_rng_t *r, uint64_t seed);
uint64_t psr_rng_next(psr_rng_t *r);
/* Uniform double in [0, 1) with 53 random bits. */
double psr_rng_uniform(psr_rng_t *r);
/* Standard normal (Box-Muller, no cached second value so the stream position is exact). */
double psr_rng_normal(psr_rng_t *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t psr_rng_below(psr_rng_t *r, uint64_t n);

/* Digest of one parameter row: its key, its floats (weights, then optimizer state, as
 * stored) and its optimizer step. The digest of a model is the wrapping sum of its rows'
 * digests (plus those of its dense blocks), so it ignores row order and placement. */
uint64_t psr_row_digest(uint64_t key, const float *floats, size_t n_floats, int64_t step);
/* Salt of embedding table `table` (common/tables.h): 0 for table 0, so one-table models keep
 * their digests and row inits; a fixed mix of the id otherwise. Rows of table t enter the
 * model digest as psr_row_digest(key ^ salt, ...) and are initialised from seed ^ salt. */
uint64_t psr_table_salt(int table);

#endif
