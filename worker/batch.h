/* batch: a worker's mini-batch in the row contract's shape (jagged features per row, like
 * torchrec's KeyedJaggedTensor), with its keys deduplicated per table and grouped by server.
 *
 * Filling keeps the features of the fields a model uses (lay->field_table[f] >= 0), each
 * tagged with its table; the user, item and time of every row are kept for models and
 * evaluation. Invariants after wk_batch_index():
 *  1. uniq[0 .. n_uniq) holds each distinct (table, key) of the batch (plus the bias key, plus
 *     the sampled negatives) once, grouped by owning server, and within a server by table:
 *     server s's keys are uniq[srv_off[s] .. srv_off[s+1]), srv_cnt[s * n_tables + t] of them
 *     in table t. Within a (server, table) group keys are in first-occurrence order (bias
 *     first), so the layout is a pure function of the batch's rows.
 *  2. idx[j] is the position in uniq of feature j; bias_idx that of the bias key (-1 none);
 *     user_idx[i] / item_idx[i] that of row i's first user / item feature (-1 none);
 *     neg_idx[i * n_neg + k] that of row i's k-th negative.
 *  3. Pulled rows and gradients are laid out by roff: key u's row is floats
 *     [roff[u], roff[u + 1]) of rows / grad, its table's width long.
 * Buffers are allocated by wk_batch_init for `cap` rows and an estimate of their features;
 * a batch with more features than any before grows them (doubling), so a run allocates a
 * bounded number of times and steady-state steps never do. */
#ifndef PSR_WK_BATCH_H
#define PSR_WK_BATCH_H

#include <stdint.h>

#include "block.h"
#include "client.h"
#include "reader.h"
#include "tables.h"

/* How a model's tables take a schema's fields (worker/model.h fills it). */
typedef struct {
    psr_tables_t tables;
    int16_t field_table[BLK_MAX_FIELDS]; /* table of field f's keys; -1: not used */
    int bias_table; /* table holding the bias key (wk_bias_key), -1: none */
    int neg_table;  /* table of sampled negatives (the item table), -1: none */
    int n_neg;      /* negatives sampled per row */
} wk_layout_t;

typedef struct {
    int cap;          /* rows allocated */
    int n;            /* rows filled */
    int n_dense;      /* dense values per row (the schema's) */
    int n_tables;
    int n_servers;
    uint32_t n_buckets;
    int user_field, item_field; /* schema fields, -1 when absent */
    wk_layout_t lay;
    float *label;     /* (cap) */
    int64_t *time;    /* (cap) RD_NO_TIME when the schema has none */
    float *dense;     /* (cap, n_dense) */
    int64_t *off;     /* (cap + 1): row i's features are [off[i], off[i + 1]) */
    int64_t cap_feats;
    uint16_t *field;  /* (cap_feats) */
    uint8_t *tab;     /* (cap_feats) table of each feature */
    uint64_t *key;    /* (cap_feats) */
    float *val;       /* (cap_feats) */
    int32_t *idx;     /* (cap_feats) */
    uint64_t *user_key, *item_key; /* (cap) key of the row's user / item feature (0: none) */
    int32_t *user_idx, *item_idx;  /* (cap) invariant 2 */
    uint64_t *neg_key; /* (cap, n_neg) drawn by the trainer before wk_batch_index */
    int32_t *neg_idx;  /* (cap, n_neg) */
    int32_t bias_idx;
    uint64_t rows_hash; /* sum of wk_row_hash of the rows filled (counts examples exactly) */
    /* unique keys (invariant 1) and their rows (invariant 3) */
    int64_t cap_uniq;
    int64_t n_uniq;
    uint64_t *uniq;    /* (cap_uniq) */
    uint8_t *utab;     /* (cap_uniq) */
    int64_t *roff;     /* (cap_uniq + 1) */
    uint32_t *srv_cnt; /* (n_servers, n_tables) */
    int64_t *srv_off;  /* (n_servers + 1) */
    int64_t cap_floats;
    float *rows;       /* (cap_floats) pulled rows */
    float *grad;       /* (cap_floats) gradients of the same layout */
    /* dedup scratch: open addressing with generation stamps, so no clearing per batch */
    uint64_t *h_key;   /* (h_mask + 1) */
    uint8_t *h_tab;    /* (h_mask + 1) */
    int32_t *h_val;    /* (h_mask + 1) */
    uint32_t *h_gen;   /* (h_mask + 1) */
    uint32_t gen;
    uint64_t h_mask;
    uint64_t *tmp_key; /* (cap_uniq) keys in first-occurrence order */
    uint8_t *tmp_tab;  /* (cap_uniq) */
    int32_t *tmp_grp;  /* (cap_uniq) group = server * n_tables + table */
    int32_t *perm;     /* (cap_uniq) first-occurrence index -> uniq position */
    int64_t *grp_off;  /* (n_servers * n_tables + 1) */
} wk_batch_t;

/* The bias feature's key (field -1). */
uint64_t wk_bias_key(void);

/* Hash of a row's label and keys; sums of it over trained rows tell whether a resumed run
 * skipped or repeated any (the order of rows does not matter). Criteo rows hash as before the
 * row contract: sum of key * (2 field + 1). */
uint64_t wk_row_hash(const rd_row_t *row);

/* Allocate a batch for `cap` rows of schema s laid out by lay (copied), for n_servers
 * servers and n_buckets buckets. */
void wk_batch_init(wk_batch_t *b, int cap, const blk_schema_t *s, const wk_layout_t *lay,
                   int n_servers, uint32_t n_buckets);
void wk_batch_free(wk_batch_t *b); /* accepts a zeroed batch */

/* Read up to cap rows from r. Returns rows read (0 at the end of the share) or -PSR_ERR_*. */
int wk_batch_fill(wk_batch_t *b, rd_reader_t *r);
/* Append one row (what wk_batch_fill does per row); the caller checks b->n < b->cap. */
void wk_batch_add(wk_batch_t *b, const rd_row_t *row);
/* Empty the batch. */
void wk_batch_clear(wk_batch_t *b);

/* Deduplicate and group keys (invariants 1-3); negatives must be in neg_key already. */
void wk_batch_index(wk_batch_t *b);

/* The batch's keys as a pull/push set. */
wk_keyset_t wk_batch_keys(const wk_batch_t *b);

#endif
