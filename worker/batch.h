/* batch: a worker's mini-batch of rows, with its keys deduplicated and grouped by server.
 *
 * Invariants after wk_batch_index():
 *  1. uniq[0 .. n_uniq) holds each distinct key of the batch (plus the bias key) once,
 *     grouped by owning server: server s's keys are uniq[srv_off[s] .. srv_off[s+1]).
 *     Within a server, keys are in first-occurrence order, so the layout is a pure function
 *     of the batch's rows.
 *  2. idx[i*n_fields + f] is the position in uniq of row i's feature f; bias_idx that of the
 *     bias key.
 * All arrays are allocated once by wk_batch_init for `cap` rows; filling and indexing never
 * allocate. */
#ifndef PSR_WK_BATCH_H
#define PSR_WK_BATCH_H

#include <stdint.h>

#include "reader.h"

typedef struct {
    int cap;          /* rows allocated */
    int n;            /* rows filled */
    int n_fields;     /* features per row: reader fields field0 .. field0 + n_fields - 1 */
    int field0;       /* first reader field kept (DLRM keeps only the categorical ones) */
    float *label;     /* (cap) */
    uint64_t *key;    /* (cap, n_fields) */
    float *val;       /* (cap, n_fields) */
    float *dense;     /* (cap, RD_CRITEO_INT) */
    uint64_t rows_hash; /* sum of wk_row_hash of the rows filled (counts examples exactly) */
    int32_t *idx;     /* (cap, n_fields) */
    int32_t bias_idx;
    int64_t n_uniq;
    uint64_t *uniq;    /* (cap * n_fields + 1) */
    int64_t *srv_off;  /* (n_servers + 1) */
    int n_servers;
    uint32_t n_buckets;
    /* dedup scratch: open addressing with generation stamps, so no clearing per batch */
    uint64_t *h_key;   /* (h_mask + 1) */
    int32_t *h_val;    /* (h_mask + 1) */
    uint32_t *h_gen;   /* (h_mask + 1) */
    uint32_t gen;
    uint64_t h_mask;
    uint64_t *tmp_key; /* (cap * n_fields + 1) keys in first-occurrence order */
    int32_t *tmp_srv;  /* (cap * n_fields + 1) */
    int32_t *perm;     /* (cap * n_fields + 1) first-occurrence index -> uniq position */
} wk_batch_t;

/* The bias feature's key (field -1). */
uint64_t wk_bias_key(void);

/* Hash of a row's label and keys; sums of it over trained rows tell whether a resumed run
 * skipped or repeated any (the order of rows does not matter). */
uint64_t wk_row_hash(const rd_row_t *row);

/* Allocate a batch for `cap` rows keeping reader fields [field0, field0 + n_fields). */
void wk_batch_init(wk_batch_t *b, int cap, int field0, int n_fields, int n_servers,
                   uint32_t n_buckets);
void wk_batch_free(wk_batch_t *b); /* accepts a zeroed batch */

/* Read up to cap rows from r. Returns rows read (0 at the end of the share) or -PSR_ERR_*. */
int wk_batch_fill(wk_batch_t *b, rd_reader_t *r);

/* Deduplicate and group keys (invariants 1-2). */
void wk_batch_index(wk_batch_t *b);

#endif
