/* table: see table.h. */
#include "table.h"

#include <math.h>
#include <string.h>

#include "half.h"
#include "hash.h"
#include "psr_error.h"

static uint64_t slot_of(uint64_t key) { return psr_mix64(key ^ 0xa0761d6478bd642fULL); }

static void slots_alloc(ps_table_t *t, uint64_t n_slots)
{
    t->slots = psr_xmalloc(n_slots * sizeof *t->slots);
    for (uint64_t i = 0; i < n_slots; i++) t->slots[i].row = -1;
    t->slot_mask = n_slots - 1;
}

static int init(ps_table_t *t, int width, int n_state, uint64_t seed, float init_std,
                int zero_first, int64_t expect_rows, int half)
{
    memset(t, 0, sizeof *t);
    t->width = width;
    t->n_state = n_state;
    t->stride = width + n_state;
    t->zero_first = zero_first;
    t->seed = seed;
    t->init_std = init_std;
    t->cap_rows = expect_rows > 0 ? expect_rows : 1;
    t->keys = psr_xmalloc((size_t)t->cap_rows * sizeof *t->keys);
    if (half)
        t->hdata = psr_xmalloc((size_t)t->cap_rows * (size_t)t->stride * sizeof *t->hdata);
    else
        t->data = psr_xmalloc((size_t)t->cap_rows * (size_t)t->stride * sizeof *t->data);
    t->step = psr_xmalloc((size_t)t->cap_rows * sizeof *t->step);
    t->last = psr_xmalloc((size_t)t->cap_rows * sizeof *t->last);
    uint64_t n_slots = 1;
    while (n_slots < 2u * (uint64_t)t->cap_rows) n_slots <<= 1;
    slots_alloc(t, n_slots);
    return PSR_OK;
}

int ps_table_init(ps_table_t *t, int width, uint64_t seed, float init_std, int64_t expect_rows)
{
    return init(t, width, 2 * width, seed, init_std, 1, expect_rows, 0);
}

int ps_table_init_half(ps_table_t *t, int width, uint64_t seed, float init_std,
                       int64_t expect_rows)
{
    return init(t, width, 2 * width, seed, init_std, 1, expect_rows, 1);
}

int ps_table_init_spec(ps_table_t *t, int width, int n_state, float state_init, uint64_t seed,
                       float init_std, int zero_first, uint64_t salt, int64_t expect_rows,
                       int half)
{
    PSR_RETURN_IF(width < 1 || n_state < 0, PSR_ERR_INTERNAL, "table width %d, state %d", width,
                  n_state);
    PSR_RETURN_IF(half && (n_state != 2 * width || width > PS_MAX_HALF_WIDTH), PSR_ERR_CONFIG,
                  "fp16 rows need the adam optimizer and width <= %d (width %d, %d state floats)",
                  PS_MAX_HALF_WIDTH, width, n_state);
    int rc = init(t, width, n_state, seed, init_std, zero_first, expect_rows, half);
    t->state_init = state_init;
    t->salt = salt;
    return rc;
}

void ps_table_load(const ps_table_t *t, int64_t row, float *wmv)
{
    const size_t W = (size_t)t->width;
    if (!t->hdata) {
        memcpy(wmv, ps_table_w(t, row), (size_t)t->stride * sizeof *wmv);
        return;
    }
    const uint16_t *h = t->hdata + (size_t)row * 3u * W;
    for (size_t j = 0; j < 2u * W; j++) wmv[j] = psr_float_of_half(h[j]);
    for (size_t j = 2u * W; j < 3u * W; j++) {
        float r = psr_float_of_half(h[j]);
        wmv[j] = r * r;
    }
}

void ps_table_load_w(const ps_table_t *t, int64_t row, float *w)
{
    const size_t W = (size_t)t->width;
    if (!t->hdata) {
        memcpy(w, ps_table_w(t, row), W * sizeof *w);
        return;
    }
    const uint16_t *h = t->hdata + (size_t)row * 3u * W;
    for (size_t j = 0; j < W; j++) w[j] = psr_float_of_half(h[j]);
}

void ps_table_store(ps_table_t *t, int64_t row, const float *wmv)
{
    const size_t W = (size_t)t->width;
    if (!t->hdata) {
        memcpy(ps_table_w(t, row), wmv, (size_t)t->stride * sizeof *wmv);
        return;
    }
    uint16_t *h = t->hdata + (size_t)row * 3u * W;
    for (size_t j = 0; j < 2u * W; j++) h[j] = psr_half_of(wmv[j]);
    for (size_t j = 2u * W; j < 3u * W; j++) h[j] = psr_half_of(sqrtf(wmv[j]));
}

void ps_table_free(ps_table_t *t)
{
    if (!t) return;
    free(t->keys);
    free(t->data);
    free(t->hdata);
    free(t->step);
    free(t->last);
    free(t->slots);
    free(t->scratch);
    memset(t, 0, sizeof *t);
}

int64_t ps_table_find(const ps_table_t *t, uint64_t key)
{
    uint64_t i = slot_of(key) & t->slot_mask;
    for (;;) {
        const ps_slot_t *s = &t->slots[i];
        if (s->row < 0) return -1;
        if (s->key == key) return s->row;
        i = (i + 1) & t->slot_mask;
    }
}

static void rehash(ps_table_t *t, uint64_t n_slots)
{
    free(t->slots);
    slots_alloc(t, n_slots);
    for (int64_t r = 0; r < t->n_rows; r++) {
        uint64_t i = slot_of(t->keys[r]) & t->slot_mask;
        while (t->slots[i].row >= 0) i = (i + 1) & t->slot_mask;
        t->slots[i].key = t->keys[r];
        t->slots[i].row = r;
    }
}

static void grow_rows(ps_table_t *t)
{
    int64_t cap = t->cap_rows * 2;
    t->keys = psr_xrealloc(t->keys, (size_t)cap * sizeof *t->keys);
    if (t->hdata)
        t->hdata = psr_xrealloc(t->hdata, (size_t)cap * (size_t)t->stride * sizeof *t->hdata);
    else
        t->data = psr_xrealloc(t->data, (size_t)cap * (size_t)t->stride * sizeof *t->data);
    t->step = psr_xrealloc(t->step, (size_t)cap * sizeof *t->step);
    t->last = psr_xrealloc(t->last, (size_t)cap * sizeof *t->last);
    t->cap_rows = cap;
}

/* Slot of `key`, or of the empty slot where it would go (*found says which). */
static uint64_t probe(const ps_table_t *t, uint64_t key, int *found)
{
    uint64_t i = slot_of(key) & t->slot_mask;
    for (;;) {
        const ps_slot_t *s = &t->slots[i];
        if (s->row < 0 || s->key == key) {
            *found = s->row >= 0;
            return i;
        }
        i = (i + 1) & t->slot_mask;
    }
}

/* Append a row for `key` (absent, its empty slot is i); the caller fills it. */
static int64_t add_row(ps_table_t *t, uint64_t key, uint64_t i)
{
    if (t->n_rows == t->cap_rows) grow_rows(t);
    int64_t r = t->n_rows++;
    t->keys[r] = key;
    if (2u * (uint64_t)t->n_rows > t->slot_mask + 1) {
        rehash(t, 2u * (t->slot_mask + 1));
    } else {
        t->slots[i].key = key;
        t->slots[i].row = r;
    }
    return r;
}

int64_t ps_table_insert(ps_table_t *t, uint64_t key)
{
    int found;
    uint64_t i = probe(t, key, &found);
    if (found) return t->slots[i].row;
    int64_t r = add_row(t, key, i);
    if (t->hdata) {
        float w[3 * PS_MAX_HALF_WIDTH];
        ps_row_init_ex(t->seed, key, t->width, t->init_std, t->zero_first, w);
        memset(w + t->width, 0, 2u * (size_t)t->width * sizeof *w);
        ps_table_store(t, r, w);
    } else {
        float *w = ps_table_w(t, r);
        ps_row_init_ex(t->seed, key, t->width, t->init_std, t->zero_first, w);
        for (int j = 0; j < t->n_state; j++) w[t->width + j] = t->state_init;
    }
    t->step[r] = 0;
    t->last[r] = 0;
    return r;
}

int64_t ps_table_put(ps_table_t *t, uint64_t key, const float *wmv, int64_t step, int64_t last)
{
    int found;
    uint64_t i = probe(t, key, &found);
    if (found) return -1;
    int64_t r = add_row(t, key, i);
    ps_table_store(t, r, wmv);
    t->step[r] = step;
    t->last[r] = last;
    return r;
}

/* Keep the rows r with keep[r] != 0 (keep: a byte per row), compacted in order; rebuild. */
static int64_t compact(ps_table_t *t, const unsigned char *keep)
{
    const size_t nf = (size_t)t->stride;
    int64_t o = 0;
    for (int64_t r = 0; r < t->n_rows; r++) {
        if (!keep[r]) continue;
        if (o != r) {
            t->keys[o] = t->keys[r];
            if (t->hdata)
                memcpy(t->hdata + (size_t)o * nf, t->hdata + (size_t)r * nf, nf * sizeof *t->hdata);
            else
                memcpy(ps_table_w(t, o), ps_table_w(t, r), nf * sizeof(float));
            t->step[o] = t->step[r];
            t->last[o] = t->last[r];
        }
        o++;
    }
    int64_t dropped = t->n_rows - o;
    t->n_rows = o;
    if (dropped) rehash(t, t->slot_mask + 1);
    return dropped;
}

static unsigned char *keep_buf(ps_table_t *t)
{
    size_t need = (size_t)t->n_rows * sizeof(int64_t) + (size_t)t->n_rows + 8;
    if ((int64_t)need > t->scratch_cap) {
        free(t->scratch);
        t->scratch = psr_xmalloc(need);
        t->scratch_cap = (int64_t)need;
    }
    return (unsigned char *)t->scratch + (size_t)t->n_rows * sizeof(int64_t);
}

int64_t ps_table_drop_before(ps_table_t *t, int64_t min_last)
{
    unsigned char *keep = keep_buf(t);
    int64_t n = 0;
    for (int64_t r = 0; r < t->n_rows; r++) n += !(keep[r] = t->last[r] >= min_last);
    return n ? compact(t, keep) : 0;
}

/* k-th smallest (0-based) of v[0..n), reordering v (Hoare quickselect, median of three). */
static int64_t kth(int64_t *v, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];
        int64_t p = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < p) i++;
            while (v[j] > p) j--;
            if (i <= j) {
                int64_t x = v[i];
                v[i++] = v[j];
                v[j--] = x;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

int64_t ps_table_shrink_lru(ps_table_t *t, int64_t target)
{
    if (target < 0) target = 0;
    int64_t drop = t->n_rows - target;
    if (drop <= 0) return 0;
    unsigned char *keep = keep_buf(t);
    int64_t *v = t->scratch;
    memcpy(v, t->last, (size_t)t->n_rows * sizeof *v);
    const int64_t thr = kth(v, t->n_rows, drop - 1); /* the largest `last` dropped */
    int64_t below = 0;
    for (int64_t r = 0; r < t->n_rows; r++) below += t->last[r] < thr;
    int64_t ties = drop - below; /* rows with last == thr to drop, lowest row numbers first */
    for (int64_t r = 0; r < t->n_rows; r++) {
        if (t->last[r] < thr) keep[r] = 0;
        else if (t->last[r] == thr && ties > 0) keep[r] = 0, ties--;
        else keep[r] = 1;
    }
    return compact(t, keep);
}

void ps_row_init(uint64_t seed, uint64_t key, int width, float init_std, float *w)
{
    ps_row_init_ex(seed, key, width, init_std, 1, w);
}

void ps_row_init_ex(uint64_t seed, uint64_t key, int width, float init_std, int zero_first,
                    float *w)
{
    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(seed) ^ key);
    int j = 0;
    if (zero_first) w[j++] = 0.0f;
    for (; j < width; j++) w[j] = (float)(init_std * psr_rng_normal(&rng));
}

uint64_t ps_table_digest(const ps_table_t *t)
{
    uint64_t sum = 0;
    float *buf = t->hdata ? psr_xmalloc((size_t)t->stride * sizeof *buf) : NULL;
    for (int64_t r = 0; r < t->n_rows; r++) { /* addition commutes: order does not matter */
        const float *f = ps_table_w(t, r);
        if (buf) {
            ps_table_load(t, r, buf);
            f = buf;
        }
        sum += psr_row_digest(t->keys[r] ^ t->salt, f, (size_t)t->stride, t->step[r]);
    }
    free(buf);
    return sum;
}

int64_t ps_table_bytes(const ps_table_t *t)
{
    size_t per_row = sizeof(uint64_t) + (size_t)t->stride * (t->hdata ? 2u : 4u) +
                     2 * sizeof(int64_t);
    return (int64_t)((size_t)t->cap_rows * per_row + (t->slot_mask + 1) * sizeof(ps_slot_t)) +
           t->scratch_cap;
}

int64_t ps_table_bytes_used(const ps_table_t *t)
{
    size_t per_row = sizeof(uint64_t) + (size_t)t->stride * (t->hdata ? 2u : 4u) +
                     2 * sizeof(int64_t);
    return (int64_t)((size_t)t->n_rows * per_row);
}
