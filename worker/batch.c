/* batch: see batch.h. */
#include "batch.h"

#include <string.h>

#include "hash.h"
#include "psr_error.h"

uint64_t wk_bias_key(void) { return psr_feature_key(-1, "bias", 4); }

static void alloc_feats(wk_batch_t *b, int64_t cap_feats)
{
    b->cap_feats = cap_feats;
    b->field = psr_xrealloc(b->field, (size_t)cap_feats * sizeof *b->field);
    b->tab = psr_xrealloc(b->tab, (size_t)cap_feats * sizeof *b->tab);
    b->key = psr_xrealloc(b->key, (size_t)cap_feats * sizeof *b->key);
    b->val = psr_xrealloc(b->val, (size_t)cap_feats * sizeof *b->val);
    b->idx = psr_xrealloc(b->idx, (size_t)cap_feats * sizeof *b->idx);
}

/* Unique-key arrays and the dedup table for up to u keys. */
static void alloc_uniq(wk_batch_t *b, int64_t u)
{
    b->cap_uniq = u;
    b->uniq = psr_xrealloc(b->uniq, (size_t)u * sizeof *b->uniq);
    b->utab = psr_xrealloc(b->utab, (size_t)u * sizeof *b->utab);
    b->roff = psr_xrealloc(b->roff, ((size_t)u + 1) * sizeof *b->roff);
    b->tmp_key = psr_xrealloc(b->tmp_key, (size_t)u * sizeof *b->tmp_key);
    b->tmp_tab = psr_xrealloc(b->tmp_tab, (size_t)u * sizeof *b->tmp_tab);
    b->tmp_grp = psr_xrealloc(b->tmp_grp, (size_t)u * sizeof *b->tmp_grp);
    b->perm = psr_xrealloc(b->perm, (size_t)u * sizeof *b->perm);
    uint64_t slots = 16;
    while (slots < 2 * (uint64_t)u) slots <<= 1;
    free(b->h_key);
    free(b->h_tab);
    free(b->h_val);
    free(b->h_gen);
    b->h_mask = slots - 1;
    b->h_key = psr_xmalloc(slots * sizeof *b->h_key);
    b->h_tab = psr_xmalloc(slots * sizeof *b->h_tab);
    b->h_val = psr_xmalloc(slots * sizeof *b->h_val);
    b->h_gen = psr_xcalloc(slots, sizeof *b->h_gen);
    b->gen = 0;
}

static void alloc_floats(wk_batch_t *b, int64_t n)
{
    b->cap_floats = n;
    free(b->rows);
    free(b->grad);
    b->rows = psr_xmalloc((size_t)n * sizeof *b->rows);
    b->grad = psr_xmalloc((size_t)n * sizeof *b->grad);
}

void wk_batch_init(wk_batch_t *b, int cap, const blk_schema_t *s, const wk_layout_t *lay,
                   int n_servers, uint32_t n_buckets)
{
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->lay = *lay;
    b->n_tables = lay->tables.n;
    b->n_servers = n_servers;
    b->n_buckets = n_buckets;
    b->n_dense = s->n_dense;
    b->user_field = s->user_field;
    b->item_field = s->item_field;
    int per_row = 0, widest = 1;
    for (int f = 0; f < s->n_fields; f++)
        if (lay->field_table[f] >= 0) per_row += s->kind[f] == BLK_FIELD_MULTI ? 4 : 1;
    for (int t = 0; t < b->n_tables; t++)
        if (lay->tables.t[t].width > widest) widest = lay->tables.t[t].width;
    const size_t C = (size_t)cap;
    b->label = psr_xmalloc(C * sizeof *b->label);
    b->time = psr_xmalloc(C * sizeof *b->time);
    b->dense = psr_xmalloc((C * (size_t)b->n_dense + 1) * sizeof *b->dense);
    b->off = psr_xmalloc((C + 1) * sizeof *b->off);
    b->user_key = psr_xmalloc(C * sizeof *b->user_key);
    b->item_key = psr_xmalloc(C * sizeof *b->item_key);
    b->user_idx = psr_xmalloc(C * sizeof *b->user_idx);
    b->item_idx = psr_xmalloc(C * sizeof *b->item_idx);
    const size_t NN = C * (size_t)(lay->n_neg > 0 ? lay->n_neg : 0) + 1;
    b->neg_key = psr_xcalloc(NN, sizeof *b->neg_key);
    b->neg_idx = psr_xmalloc(NN * sizeof *b->neg_idx);
    b->srv_cnt = psr_xcalloc((size_t)n_servers * (size_t)b->n_tables, sizeof *b->srv_cnt);
    b->srv_off = psr_xmalloc(((size_t)n_servers + 1) * sizeof *b->srv_off);
    b->grp_off = psr_xmalloc(((size_t)n_servers * (size_t)b->n_tables + 1) * sizeof *b->grp_off);
    int64_t feats = (int64_t)C * (per_row > 0 ? per_row : 1);
    alloc_feats(b, feats);
    int64_t u = feats + (int64_t)NN + 1;
    alloc_uniq(b, u);
    alloc_floats(b, u * widest);
    b->off[0] = 0;
    b->bias_idx = -1;
}

void wk_batch_free(wk_batch_t *b)
{
    if (!b) return;
    void *p[] = {b->label, b->time,    b->dense,   b->off,     b->field,   b->tab,
                 b->key,   b->val,     b->idx,     b->user_key, b->item_key, b->user_idx,
                 b->item_idx, b->neg_key, b->neg_idx, b->uniq,  b->utab,    b->roff,
                 b->srv_cnt, b->srv_off, b->grp_off, b->rows,   b->grad,    b->h_key,
                 b->h_tab,  b->h_val,  b->h_gen,   b->tmp_key, b->tmp_tab, b->tmp_grp,
                 b->perm};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    memset(b, 0, sizeof *b);
}

uint64_t wk_row_hash(const rd_row_t *row)
{
    uint64_t h = row->label > 0.5f ? 0x9e3779b97f4a7c15ULL : 0;
    for (int32_t j = 0; j < row->n_feat; j++)
        h += row->key[j] * (2u * (uint64_t)row->field[j] + 1u);
    if (row->label != 0.0f && row->label != 1.0f) { /* ratings: the value counts too */
        uint32_t bits;
        memcpy(&bits, &row->label, sizeof bits);
        h += psr_mix64(bits);
    }
    return psr_mix64(h);
}

void wk_batch_clear(wk_batch_t *b)
{
    b->n = 0;
    b->off[0] = 0;
    b->rows_hash = 0;
}

void wk_batch_add(wk_batch_t *b, const rd_row_t *row)
{
    const int i = b->n;
    int64_t o = b->off[i];
    if (o + row->n_feat > b->cap_feats) {
        int64_t need = o + row->n_feat, c = b->cap_feats * 2;
        while (c < need) c *= 2;
        alloc_feats(b, c);
    }
    b->label[i] = row->label;
    b->time[i] = row->time;
    if (b->n_dense > 0)
        memcpy(b->dense + (size_t)i * (size_t)b->n_dense, row->dense,
               (size_t)b->n_dense * sizeof *b->dense);
    b->user_key[i] = b->item_key[i] = 0;
    const int16_t *ft = b->lay.field_table;
    for (int32_t j = 0; j < row->n_feat; j++) {
        const int f = row->field[j], t = ft[f];
        if (t < 0) continue;
        b->field[o] = (uint16_t)f;
        b->tab[o] = (uint8_t)t;
        b->key[o] = row->key[j];
        b->val[o] = row->val[j];
        o++;
    }
    /* the user's and item's keys even when no table takes them (evaluation groups by them) */
    for (int32_t j = 0; j < row->n_feat; j++) {
        if (row->field[j] == b->user_field && !b->user_key[i]) b->user_key[i] = row->key[j];
        if (row->field[j] == b->item_field && !b->item_key[i]) b->item_key[i] = row->key[j];
    }
    b->off[i + 1] = o;
    b->rows_hash += wk_row_hash(row);
    b->n = i + 1;
}

int wk_batch_fill(wk_batch_t *b, rd_reader_t *r)
{
    rd_row_t row;
    wk_batch_clear(b);
    while (b->n < b->cap) {
        int rc = rd_next(r, &row);
        if (rc < 0) return rc;
        if (rc == 0) break;
        wk_batch_add(b, &row);
    }
    return b->n;
}

/* Position of (table, key) in first-occurrence order, adding it if new. */
static inline int32_t dedup(wk_batch_t *b, int tab, uint64_t key, int32_t *n_tmp)
{
    uint64_t i = psr_mix64(key + (uint64_t)tab) & b->h_mask;
    for (;;) {
        if (b->h_gen[i] != b->gen) {
            b->h_gen[i] = b->gen;
            b->h_key[i] = key;
            b->h_tab[i] = (uint8_t)tab;
            b->h_val[i] = *n_tmp;
            b->tmp_key[*n_tmp] = key;
            b->tmp_tab[*n_tmp] = (uint8_t)tab;
            return (*n_tmp)++;
        }
        if (b->h_key[i] == key && b->h_tab[i] == tab) return b->h_val[i];
        i = (i + 1) & b->h_mask;
    }
}

void wk_batch_index(wk_batch_t *b)
{
    const int64_t feats = b->off[b->n];
    const int n_neg = b->lay.neg_table >= 0 ? b->lay.n_neg : 0;
    const int64_t need = feats + (int64_t)b->n * n_neg + 1;
    if (need > b->cap_uniq) {
        int64_t c = b->cap_uniq * 2;
        while (c < need) c *= 2;
        alloc_uniq(b, c);
    }
    int32_t n_tmp = 0;
    if (++b->gen == 0) { /* stamps wrapped: clear once every 2^32 batches */
        memset(b->h_gen, 0, (b->h_mask + 1) * sizeof *b->h_gen);
        b->gen = 1;
    }
    int32_t bias_tmp = b->lay.bias_table >= 0 ? dedup(b, b->lay.bias_table, wk_bias_key(), &n_tmp)
                                              : -1;
    for (int64_t c = 0; c < feats; c++) b->idx[c] = dedup(b, b->tab[c], b->key[c], &n_tmp);
    const int64_t nn = (int64_t)b->n * n_neg;
    for (int64_t c = 0; c < nn; c++)
        b->neg_idx[c] = dedup(b, b->lay.neg_table, b->neg_key[c], &n_tmp);

    /* counting sort of first-occurrence positions by (server, table) (stable) */
    const int S = b->n_servers, T = b->n_tables, G = S * T;
    memset(b->grp_off, 0, ((size_t)G + 1) * sizeof *b->grp_off);
    for (int32_t u = 0; u < n_tmp; u++) {
        int s = psr_bucket_owner(psr_key_bucket(b->tmp_key[u], b->n_buckets), S);
        int g = s * T + b->tmp_tab[u];
        b->tmp_grp[u] = g;
        b->grp_off[g + 1]++;
    }
    for (int g = 0; g < G; g++) {
        b->srv_cnt[g] = (uint32_t)b->grp_off[g + 1];
        b->grp_off[g + 1] += b->grp_off[g];
    }
    for (int s = 0; s <= S; s++) b->srv_off[s] = b->grp_off[s * T];
    for (int32_t u = 0; u < n_tmp; u++) {
        int64_t pos = b->grp_off[b->tmp_grp[u]]++;
        b->perm[u] = (int32_t)pos;
        b->uniq[pos] = b->tmp_key[u];
        b->utab[pos] = b->tmp_tab[u];
    }
    /* row offsets by table width */
    const psr_table_spec_t *ts = b->lay.tables.t;
    int64_t fl = 0;
    for (int32_t u = 0; u < n_tmp; u++) {
        b->roff[u] = fl;
        fl += ts[b->utab[u]].width;
    }
    b->roff[n_tmp] = fl;
    if (fl > b->cap_floats) {
        int64_t c = b->cap_floats * 2;
        while (c < fl) c *= 2;
        alloc_floats(b, c);
    }
    for (int64_t c = 0; c < feats; c++) b->idx[c] = b->perm[b->idx[c]];
    for (int64_t c = 0; c < nn; c++) b->neg_idx[c] = b->perm[b->neg_idx[c]];
    b->bias_idx = bias_tmp >= 0 ? b->perm[bias_tmp] : -1;
    for (int i = 0; i < b->n; i++) {
        b->user_idx[i] = b->item_idx[i] = -1;
        for (int64_t c = b->off[i]; c < b->off[i + 1]; c++) {
            if (b->field[c] == b->user_field && b->user_idx[i] < 0) b->user_idx[i] = b->idx[c];
            if (b->field[c] == b->item_field && b->item_idx[i] < 0) b->item_idx[i] = b->idx[c];
        }
    }
    b->n_uniq = n_tmp;
}

wk_keyset_t wk_batch_keys(const wk_batch_t *b)
{
    wk_keyset_t k = {b->uniq, b->srv_off, b->srv_cnt, b->roff};
    return k;
}
