/* catalog: the item catalogue, part of a user-item model: every distinct item of the training
 * rows with its raw id and its count. Negative sampling, full ranking, coverage, novelty and
 * recommendation with raw ids read it (DESIGN.md 4).
 *
 * Rules (docs/EVALUATION.md):
 *  C1. Items are the item field's keys of the training rows (the held-out rows of a random or
 *      leave-last-out split excluded; with the top-K task only positive interactions). Index
 *      i = 0 .. n-1 orders them by key, so every worker builds the same catalogue whatever
 *      the worker count.
 *  C2. count[i] = training rows of item i; raw id: the item column's text of the first row
 *      seen with the key (text sources); block files carry no text, so their raw id is the
 *      key as 16 hex digits.
 *  C3. Sampling: uniform over the items, or proportional to count^0.75 (word2vec's smoothed
 *      popularity) by binary search in the cumulative weights. self_info[i] = -log2(count[i] /
 *      total) is what novelty averages.
 *  C4. Serialised form (checkpoints, global.state): "PSRCAT1\0", n u64, then per item: key u64,
 *      count i64, raw length u32, raw bytes; little-endian. */
#ifndef PSR_WK_CATALOG_H
#define PSR_WK_CATALOG_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"

typedef struct wk_catalog {
    int64_t n;           /* items */
    uint64_t *key;       /* (n) ascending */
    int64_t *count;      /* (n) */
    int64_t total;       /* sum of counts */
    char *raw;           /* raw ids back to back */
    int64_t *raw_off;    /* (n + 1): item i's raw id is raw[raw_off[i] .. raw_off[i + 1]) */
    double *cdf;         /* (n) cumulative count^0.75, normalised to end at 1 */
    float *self_info;    /* (n) -log2(count / total) */
    int64_t *slot;       /* (mask + 1) open addressing: item index or -1 */
    uint64_t mask;
} wk_catalog_t;

/* A worker's items while it reads its share: key -> (count, raw id). */
typedef struct wk_catalog_acc wk_catalog_acc_t;
wk_catalog_acc_t *wk_catalog_acc_new(void);
/* Count one row of item `key` whose raw id is raw[0..len) (len < 0: unknown). */
void wk_catalog_acc_add(wk_catalog_acc_t *a, uint64_t key, const char *raw, int32_t len);
void wk_catalog_acc_free(wk_catalog_acc_t *a); /* accepts NULL */

/* Merge every worker's accumulator into the same catalogue on every worker (collective). */
void wk_catalog_merge(wk_catalog_t *c, const wk_catalog_acc_t *a, MPI_Comm comm);

/* Index of item `key`, or -1. */
int64_t wk_catalog_find(const wk_catalog_t *c, uint64_t key);
/* An item index drawn uniformly (popularity 0) or by count^0.75 (popularity 1); n > 0. */
int64_t wk_catalog_sample(const wk_catalog_t *c, psr_rng_t *rng, int popularity);
/* The raw id of item i into buf (NUL-terminated, cut to cap). */
void wk_catalog_raw(const wk_catalog_t *c, int64_t i, char *buf, size_t cap);

/* C4: bytes of the serialised catalogue, the bytes themselves, and back (PSR_ERR_FORMAT
 * naming `what` for bytes that do not parse). */
size_t wk_catalog_bytes(const wk_catalog_t *c);
void wk_catalog_pack(const wk_catalog_t *c, unsigned char *out);
int wk_catalog_unpack(wk_catalog_t *c, const unsigned char *in, size_t n, const char *what);

void wk_catalog_free(wk_catalog_t *c); /* accepts a zeroed catalogue */

#endif
