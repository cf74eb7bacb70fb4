/* table: one server's embedding rows, key -> row, created on first push.
 *
 * Invariants:
 *  1. A row holds `width` weights, then n_state floats of optimizer state (Adam: m and v,
 *     width each; adagrad: width; rowwise_adagrad: 1), the row's optimizer step and the server
 *     push counter of its last update. Row r's floats are data[r*stride ...], stride = width +
 *     n_state: w | state, contiguous so one update touches one region. ps_table_w/m/v assume
 *     Adam's layout (m = state, v = state + width).
 *  2. The initial weights of a key depend only on (seed, key, width, init_std, zero_first)
 *     (ps_row_init_ex): w[0] (a linear weight or bias) is 0 when zero_first, every other
 *     weight N(0, init_std^2); the state starts at state_init. A key that was never pushed
 *     reads as its initial value, so pulls never create rows.
 *  3. ps_table_digest depends only on the set of (key, w, state, step) rows, not on their
 *     order, the table's capacity or which server holds them: server digests add up. Each row
 *     enters as psr_row_digest(key ^ salt, floats, stride, step) (salt: psr_table_salt of the
 *     table id, 0 for table 0; ckpt.h's model digest).
 *  4. Half precision (ps_table_init_half, embedding.precision: fp16): weights, Adam m and
 *     sqrt(Adam v) are stored as IEEE fp16 in hdata (v's square root, because v of small
 *     gradients, ~1e-9, is below fp16's smallest subnormal 6e-8 while its root is not).
 *     ps_table_load / ps_table_store convert a whole row to and from w | m | v floats; the
 *     digest and checkpoints see the converted floats. ps_table_w/m/v are for fp32 tables.
 * Index: open addressing, linear probing, power-of-two slots at most half full. */
#ifndef PSR_PS_TABLE_H
#define PSR_PS_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* Widest row a half table takes (model.dim <= 1023). */
#define PS_MAX_HALF_WIDTH 1025

typedef struct {
    uint64_t key;
    int64_t row; /* -1 when empty */
} ps_slot_t;

typedef struct {
    int width;          /* floats of weights per row */
    int n_state;        /* floats of optimizer state per row */
    int stride;         /* width + n_state */
    int zero_first;     /* w[0] starts at 0 */
    float state_init;   /* initial value of every state float */
    uint64_t salt;      /* mixed into keys for the digest (invariant 3) */
    uint64_t seed;      /* init seed (train.seed) */
    float init_std;     /* std of w[1..] at init */
    int64_t n_rows;     /* rows in use */
    int64_t cap_rows;   /* rows allocated */
    uint64_t *keys;     /* (cap_rows) */
    float *data;        /* (cap_rows, stride): w | state; NULL in a half table */
    uint16_t *hdata;    /* half table: (cap_rows, 3 * width) fp16 w | m | sqrt(v) */
    int64_t *step;      /* (cap_rows) Adam steps applied to the row */
    int64_t *last;      /* (cap_rows) server push counter at the row's last update */
    ps_slot_t *slots;   /* (slot_mask + 1) */
    uint64_t slot_mask;
    int64_t *scratch;   /* (scratch_cap) eviction work space, kept between evictions */
    int64_t scratch_cap;
} ps_table_t;

/* Set up an empty table sized for `expect_rows` rows (it grows as needed). PSR_OK. */
int ps_table_init(ps_table_t *t, int width, uint64_t seed, float init_std, int64_t expect_rows);
/* The same with rows stored in half precision (invariant 4). */
int ps_table_init_half(ps_table_t *t, int width, uint64_t seed, float init_std,
                       int64_t expect_rows);
/* A table with its own optimizer state size (n_state floats per row, each starting at
 * state_init), init (invariant 2) and digest salt; half: fp16 rows (Adam layout only, else
 * PSR_ERR_CONFIG). ps_table_init is this with n_state 2*width, zero_first 1, salt 0. */
int ps_table_init_spec(ps_table_t *t, int width, int n_state, float state_init, uint64_t seed,
                       float init_std, int zero_first, uint64_t salt, int64_t expect_rows,
                       int half);
/* Free everything; accepts a zeroed or already freed table. */
void ps_table_free(ps_table_t *t);

/* Row of `key`, or -1 when absent. */
int64_t ps_table_find(const ps_table_t *t, uint64_t key);
/* Row of `key`, created with its initial value when absent (may grow the table). */
int64_t ps_table_insert(ps_table_t *t, uint64_t key);

static inline float *ps_table_w(const ps_table_t *t, int64_t row)
{
    return t->data + (size_t)row * (size_t)t->stride;
}
static inline float *ps_table_state(const ps_table_t *t, int64_t row)
{
    return ps_table_w(t, row) + t->width;
}
static inline float *ps_table_m(const ps_table_t *t, int64_t row)
{
    return ps_table_w(t, row) + t->width;
}
static inline float *ps_table_v(const ps_table_t *t, int64_t row)
{
    return ps_table_w(t, row) + 2 * t->width;
}

/* Insert `key` with the given w | state (stride floats), step and last, as loaded from a
 * checkpoint. Returns the row, or -1 if the key is already present (nothing changed). */
int64_t ps_table_put(ps_table_t *t, uint64_t key, const float *wmv, int64_t step, int64_t last);

/* Memory control (embedding.*). Both remove rows, keep the others in their order, and rebuild
 * the index; row numbers change. O(rows).
 * Drop every row whose `last` is below min_last (ttl_steps). Returns the rows dropped. */
int64_t ps_table_drop_before(ps_table_t *t, int64_t min_last);
/* Drop the least recently updated rows (smallest `last`; among equal `last`, the lower row
 * numbers first) until at most `target` remain (max_rows). Returns the rows dropped. */
int64_t ps_table_shrink_lru(ps_table_t *t, int64_t target);

/* Row r as floats: w | state (stride) or just w (width), whatever the precision. */
void ps_table_load(const ps_table_t *t, int64_t row, float *wmv);
void ps_table_load_w(const ps_table_t *t, int64_t row, float *w);
/* Set row r from w | state floats (rounded to fp16 in a half table). */
void ps_table_store(ps_table_t *t, int64_t row, const float *wmv);

/* Initial weights of `key` into w[0..width) (invariant 2; ps_row_init: zero_first 1). */
void ps_row_init(uint64_t seed, uint64_t key, int width, float init_std, float *w);
void ps_row_init_ex(uint64_t seed, uint64_t key, int width, float init_std, int zero_first,
                    float *w);

/* Order-independent digest of every row (invariant 3). */
uint64_t ps_table_digest(const ps_table_t *t);

/* Bytes held by the table's arrays: its capacity (rows allocated, the whole index, the
 * eviction scratch). */
int64_t ps_table_bytes(const ps_table_t *t);
/* Bytes of the rows in use: n_rows x (key, weights and optimizer state, step, last update);
 * what the server's `bytes=` reports. The arrays hold up to twice the rows (they double when
 * full) and the index 2 to 4 slots of 16 bytes per row on top (ps_table_bytes). */
int64_t ps_table_bytes_used(const ps_table_t *t);

#endif
