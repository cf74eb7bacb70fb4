/* batch: see batch.h. */
#include "batch.h"

#include <string.h>

#include "hash.h"
#include "psr_error.h"

uint64_t wk_bias_key(void) { return psr_feature_key(-1, "bias", 4); }

void wk_batch_init(wk_batch_t *b, int cap, int field0, int n_fields, int n_servers,
                   uint32_t n_buckets)
{
    memset(b, 0, sizeof *b);
    size_t cells = (size_t)cap * (size_t)n_fields;
    size_t u = cells + 1;
    b->cap = cap;
    b->n_fields = n_fields;
    b->field0 = field0;
    b->n_servers = n_servers;
    b->n_buckets = n_buckets;
    b->label = psr_xmalloc((size_t)cap * sizeof *b->label);
    b->key = psr_xmalloc(cells * sizeof *b->key);
    b->val = psr_xmalloc(cells * sizeof *b->val);
    b->dense = psr_xmalloc((size_t)cap * RD_CRITEO_INT * sizeof *b->dense);
    b->idx = psr_xmalloc(cells * sizeof *b->idx);
    b->uniq = psr_xmalloc(u * sizeof *b->uniq);
    b->srv_off = psr_xmalloc(((size_t)n_servers + 1) * sizeof *b->srv_off);
    uint64_t slots = 16;
    while (slots < 2 * u) slots <<= 1;
    b->h_mask = slots - 1;
    b->h_key = psr_xmalloc(slots * sizeof *b->h_key);
    b->h_val = psr_xmalloc(slots * sizeof *b->h_val);
    b->h_gen = psr_xcalloc(slots, sizeof *b->h_gen);
    b->tmp_key = psr_xmalloc(u * sizeof *b->tmp_key);
    b->tmp_srv = psr_xmalloc(u * sizeof *b->tmp_srv);
    b->perm = psr_xmalloc(u * sizeof *b->perm);
}

void wk_batch_free(wk_batch_t *b)
{
    if (!b) return;
    free(b->label);
    free(b->key);
    free(b->val);
    free(b->dense);
    free(b->idx);
    free(b->uniq);
    free(b->srv_off);
    free(b->h_key);
    free(b->h_val);
    free(b->h_gen);
    free(b->tmp_key);
    free(b->tmp_srv);
    free(b->perm);
    memset(b, 0, sizeof *b);
}

uint64_t wk_row_hash(const rd_row_t *row)
{
    uint64_t h = row->label > 0.5f ? 0x9e3779b97f4a7c15ULL : 0;
    for (int f = 0; f < RD_CRITEO_FIELDS; f++) h += row->key[f] * (2u * (uint64_t)f + 1u);
    return psr_mix64(h);
}

int wk_batch_fill(wk_batch_t *b, rd_reader_t *r)
{
    rd_row_t row;
    int n = 0;
    b->rows_hash = 0;
    const int F = b->n_fields;
    while (n < b->cap) {
        int rc = rd_next(r, &row);
        if (rc < 0) return rc;
        if (rc == 0) break;
        b->label[n] = row.label;
        memcpy(b->key + (size_t)n * F, row.key + b->field0, (size_t)F * sizeof *b->key);
        memcpy(b->val + (size_t)n * F, row.val + b->field0, (size_t)F * sizeof *b->val);
        memcpy(b->dense + (size_t)n * RD_CRITEO_INT, row.dense, sizeof row.dense);
        b->rows_hash += wk_row_hash(&row);
        n++;
    }
    b->n = n;
    return n;
}

/* Position of key in first-occurrence order, adding it if new. */
static inline int32_t dedup(wk_batch_t *b, uint64_t key, int32_t *n_tmp)
{
    uint64_t i = psr_mix64(key) & b->h_mask;
    for (;;) {
        if (b->h_gen[i] != b->gen) {
            b->h_gen[i] = b->gen;
            b->h_key[i] = key;
            b->h_val[i] = *n_tmp;
            b->tmp_key[*n_tmp] = key;
            return (*n_tmp)++;
        }
        if (b->h_key[i] == key) return b->h_val[i];
        i = (i + 1) & b->h_mask;
    }
}

void wk_batch_index(wk_batch_t *b)
{
    const size_t cells = (size_t)b->n * (size_t)b->n_fields;
    int32_t n_tmp = 0;
    if (++b->gen == 0) { /* stamps wrapped: clear once every 2^32 batches */
        memset(b->h_gen, 0, (b->h_mask + 1) * sizeof *b->h_gen);
        b->gen = 1;
    }
    int32_t bias_tmp = dedup(b, wk_bias_key(), &n_tmp);
    for (size_t c = 0; c < cells; c++) b->idx[c] = dedup(b, b->key[c], &n_tmp);

    /* counting sort of first-occurrence positions by owning server (stable) */
    const int S = b->n_servers;
    memset(b->srv_off, 0, ((size_t)S + 1) * sizeof *b->srv_off);
    for (int32_t u = 0; u < n_tmp; u++) {
        int s = psr_bucket_owner(psr_key_bucket(b->tmp_key[u], b->n_buckets), S);
        b->tmp_srv[u] = s;
        b->srv_off[s + 1]++;
    }
    for (int s = 0; s < S; s++) b->srv_off[s + 1] += b->srv_off[s];
    /* srv_off[s] is now the start of server s; use perm as the running cursor via a pass */
    for (int32_t u = 0; u < n_tmp; u++) {
        int s = b->tmp_srv[u];
        int64_t pos = b->srv_off[s]++;
        b->perm[u] = (int32_t)pos;
        b->uniq[pos] = b->tmp_key[u];
    }
    for (int s = S; s > 0; s--) b->srv_off[s] = b->srv_off[s - 1];
    b->srv_off[0] = 0;
    for (size_t c = 0; c < cells; c++) b->idx[c] = b->perm[b->idx[c]];
    b->bias_idx = b->perm[bias_tmp];
    b->n_uniq = n_tmp;
}
