/* catalog: see catalog.h. */
#include "catalog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "psr_error.h"

static const char CAT_MAGIC[8] = {'P', 'S', 'R', 'C', 'A', 'T', '1', '\0'};

struct wk_catalog_acc {
    uint64_t mask;
    int64_t n;
    uint64_t *key;      /* (slots) */
    int64_t *count;     /* (slots), 0: empty */
    int64_t *raw_off;   /* (slots) offset into raw, -1: unknown */
    int32_t *raw_len;   /* (slots) */
    char *raw;
    size_t raw_len_total, raw_cap;
};

wk_catalog_acc_t *wk_catalog_acc_new(void)
{
    wk_catalog_acc_t *a = psr_xcalloc(1, sizeof *a);
    a->mask = 1023;
    a->key = psr_xmalloc(1024 * sizeof *a->key);
    a->count = psr_xcalloc(1024, sizeof *a->count);
    a->raw_off = psr_xmalloc(1024 * sizeof *a->raw_off);
    a->raw_len = psr_xmalloc(1024 * sizeof *a->raw_len);
    return a;
}

void wk_catalog_acc_free(wk_catalog_acc_t *a)
{
    if (!a) return;
    free(a->key);
    free(a->count);
    free(a->raw_off);
    free(a->raw_len);
    free(a->raw);
    free(a);
}

static uint64_t acc_slot(const wk_catalog_acc_t *a, uint64_t key)
{
    uint64_t i = psr_mix64(key ^ 0x6974656dULL) & a->mask;
    while (a->count[i] && a->key[i] != key) i = (i + 1) & a->mask;
    return i;
}

static void acc_put(wk_catalog_acc_t *a, uint64_t key, int64_t n, const char *raw, int32_t len);

static void acc_grow(wk_catalog_acc_t *a)
{
    wk_catalog_acc_t old = *a;
    uint64_t slots = 2 * (a->mask + 1);
    a->mask = slots - 1;
    a->n = 0;
    a->key = psr_xmalloc(slots * sizeof *a->key);
    a->count = psr_xcalloc(slots, sizeof *a->count);
    a->raw_off = psr_xmalloc(slots * sizeof *a->raw_off);
    a->raw_len = psr_xmalloc(slots * sizeof *a->raw_len);
    for (uint64_t i = 0; i <= old.mask; i++) {
        if (!old.count[i]) continue;
        uint64_t j = acc_slot(a, old.key[i]);
        a->key[j] = old.key[i];
        a->count[j] = old.count[i];
        a->raw_off[j] = old.raw_off[i];
        a->raw_len[j] = old.raw_len[i];
        a->n++;
    }
    free(old.key);
    free(old.count);
    free(old.raw_off);
    free(old.raw_len);
}

static void acc_put(wk_catalog_acc_t *a, uint64_t key, int64_t n, const char *raw, int32_t len)
{
    if (2 * (uint64_t)(a->n + 1) > a->mask + 1) acc_grow(a);
    uint64_t i = acc_slot(a, key);
    if (!a->count[i]) {
        a->key[i] = key;
        a->raw_off[i] = -1;
        a->raw_len[i] = 0;
        a->n++;
    }
    a->count[i] += n;
    if (a->raw_off[i] < 0 && len >= 0) {
        if (a->raw_len_total + (size_t)len > a->raw_cap) {
            size_t c = a->raw_cap ? a->raw_cap : 4096;
            while (c < a->raw_len_total + (size_t)len) c *= 2;
            a->raw = psr_xrealloc(a->raw, c);
            a->raw_cap = c;
        }
        memcpy(a->raw + a->raw_len_total, raw, (size_t)len);
        a->raw_off[i] = (int64_t)a->raw_len_total;
        a->raw_len[i] = len;
        a->raw_len_total += (size_t)len;
    }
}

void wk_catalog_acc_add(wk_catalog_acc_t *a, uint64_t key, const char *raw, int32_t len)
{
    acc_put(a, key, 1, raw, len);
}

/* Records: key u64 | count i64 | len u32 | raw bytes (C4 without the header). */
static size_t acc_bytes(const wk_catalog_acc_t *a)
{
    size_t n = 0;
    for (uint64_t i = 0; i <= a->mask; i++)
        if (a->count[i]) n += 20 + (a->raw_off[i] >= 0 ? (size_t)a->raw_len[i] : 0);
    return n;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Build c from an accumulator holding every worker's items. */
static void build(wk_catalog_t *c, const wk_catalog_acc_t *a)
{
    memset(c, 0, sizeof *c);
    c->n = a->n;
    c->key = psr_xmalloc(((size_t)c->n + 1) * sizeof *c->key);
    int64_t o = 0;
    for (uint64_t i = 0; i <= a->mask; i++)
        if (a->count[i]) c->key[o++] = a->key[i];
    qsort(c->key, (size_t)c->n, sizeof *c->key, cmp_u64);
    c->count = psr_xmalloc(((size_t)c->n + 1) * sizeof *c->count);
    c->raw_off = psr_xmalloc(((size_t)c->n + 1) * sizeof *c->raw_off);
    c->cdf = psr_xmalloc(((size_t)c->n + 1) * sizeof *c->cdf);
    c->self_info = psr_xmalloc(((size_t)c->n + 1) * sizeof *c->self_info);
    size_t raw_total = 0;
    for (int64_t i = 0; i < c->n; i++) {
        uint64_t s = acc_slot(a, c->key[i]);
        raw_total += a->raw_off[s] >= 0 ? (size_t)a->raw_len[s] : 16;
    }
    c->raw = psr_xmalloc(raw_total + 1);
    size_t r = 0;
    double w = 0;
    for (int64_t i = 0; i < c->n; i++) {
        uint64_t s = acc_slot(a, c->key[i]);
        c->count[i] = a->count[s];
        c->total += a->count[s];
        c->raw_off[i] = (int64_t)r;
        if (a->raw_off[s] >= 0) {
            memcpy(c->raw + r, a->raw + a->raw_off[s], (size_t)a->raw_len[s]);
            r += (size_t)a->raw_len[s];
        } else {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)c->key[i]);
            memcpy(c->raw + r, hex, 16);
            r += 16;
        }
        w += pow((double)c->count[i], 0.75);
        c->cdf[i] = w;
    }
    c->raw_off[c->n] = (int64_t)r;
    for (int64_t i = 0; i < c->n; i++) {
        c->cdf[i] /= w;
        c->self_info[i] = (float)(-log2((double)c->count[i] / (double)c->total));
    }
    if (c->n > 0) c->cdf[c->n - 1] = 1.0;
    uint64_t slots = 16;
    while (slots < 2 * (uint64_t)c->n) slots <<= 1;
    c->mask = slots - 1;
    c->slot = psr_xmalloc(slots * sizeof *c->slot);
    for (uint64_t i = 0; i < slots; i++) c->slot[i] = -1;
    for (int64_t i = 0; i < c->n; i++) {
        uint64_t j = psr_mix64(c->key[i] ^ 0x6974656dULL) & c->mask;
        while (c->slot[j] >= 0) j = (j + 1) & c->mask;
        c->slot[j] = i;
    }
}

/* Append records of `bytes` (acc_bytes layout) into a. */
static int acc_read(wk_catalog_acc_t *a, const unsigned char *p, size_t n)
{
    size_t o = 0;
    while (o < n) {
        if (n - o < 20) return -1;
        uint64_t key = psr_get_u64(p + o);
        int64_t count = (int64_t)psr_get_u64(p + o + 8);
        uint32_t len = psr_get_u32(p + o + 16);
        o += 20;
        if ((len != UINT32_MAX && len > n - o) || count < 1) return -1;
        acc_put(a, key, count, (const char *)p + o, len == UINT32_MAX ? -1 : (int32_t)len);
        o += len == UINT32_MAX ? 0 : len;
    }
    return 0;
}

void wk_catalog_merge(wk_catalog_t *c, const wk_catalog_acc_t *a, MPI_Comm comm)
{
    int n_workers;
    MPI_Comm_size(comm, &n_workers);
    size_t mine = acc_bytes(a);
    if (mine > INT32_MAX) psr_die(1, "item catalogue: %zu bytes on one worker exceed an MPI "
                                  "message", mine);
    unsigned char *buf = psr_xmalloc(mine + 1);
    size_t o = 0;
    for (uint64_t i = 0; i <= a->mask; i++) {
        if (!a->count[i]) continue;
        psr_put_u64(buf + o, a->key[i]);
        psr_put_u64(buf + o + 8, (uint64_t)a->count[i]);
        int known = a->raw_off[i] >= 0;
        psr_put_u32(buf + o + 16, known ? (uint32_t)a->raw_len[i] : UINT32_MAX);
        o += 20;
        if (known) {
            memcpy(buf + o, a->raw + a->raw_off[i], (size_t)a->raw_len[i]);
            o += (size_t)a->raw_len[i];
        }
    }
    int my = (int)mine;
    int *counts = psr_xmalloc((size_t)n_workers * sizeof *counts);
    int *displs = psr_xmalloc((size_t)n_workers * sizeof *displs);
    MPI_Allgather(&my, 1, MPI_INT, counts, 1, MPI_INT, comm);
    int64_t total = 0;
    for (int w = 0; w < n_workers; w++) {
        displs[w] = (int)total;
        total += counts[w];
    }
    if (total > INT32_MAX) psr_die(1, "item catalogue: %lld bytes exceed an MPI message",
                                   (long long)total);
    unsigned char *all = psr_xmalloc((size_t)total + 1);
    MPI_Allgatherv(buf, my, MPI_BYTE, all, counts, displs, MPI_BYTE, comm);
    /* merge in worker order, so the raw id kept for a key is that of the lowest worker */
    wk_catalog_acc_t *m = wk_catalog_acc_new();
    for (int w = 0; w < n_workers; w++)
        if (acc_read(m, all + displs[w], (size_t)counts[w]) != 0)
            psr_die(1, "item catalogue: corrupt records from worker %d (a bug)", w);
    build(c, m);
    wk_catalog_acc_free(m);
    free(buf);
    free(all);
    free(counts);
    free(displs);
}

int64_t wk_catalog_find(const wk_catalog_t *c, uint64_t key)
{
    if (c->n == 0) return -1;
    uint64_t j = psr_mix64(key ^ 0x6974656dULL) & c->mask;
    for (;;) {
        int64_t i = c->slot[j];
        if (i < 0) return -1;
        if (c->key[i] == key) return i;
        j = (j + 1) & c->mask;
    }
}

int64_t wk_catalog_sample(const wk_catalog_t *c, psr_rng_t *rng, int popularity)
{
    if (!popularity) return (int64_t)(psr_rng_next(rng) % (uint64_t)c->n);
    double u = psr_rng_uniform(rng);
    int64_t lo = 0, hi = c->n - 1; /* first i with cdf[i] > u */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (c->cdf[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

void wk_catalog_raw(const wk_catalog_t *c, int64_t i, char *buf, size_t cap)
{
    size_t len = (size_t)(c->raw_off[i + 1] - c->raw_off[i]);
    if (len >= cap) len = cap - 1;
    memcpy(buf, c->raw + c->raw_off[i], len);
    buf[len] = '\0';
}

size_t wk_catalog_bytes(const wk_catalog_t *c)
{
    return 16 + (size_t)c->n * 20 + (c->raw_off ? (size_t)c->raw_off[c->n] : 0);
}

void wk_catalog_pack(const wk_catalog_t *c, unsigned char *out)
{
    memcpy(out, CAT_MAGIC, 8);
    psr_put_u64(out + 8, (uint64_t)c->n);
    size_t o = 16;
    for (int64_t i = 0; i < c->n; i++) {
        uint32_t len = (uint32_t)(c->raw_off[i + 1] - c->raw_off[i]);
        psr_put_u64(out + o, c->key[i]);
        psr_put_u64(out + o + 8, (uint64_t)c->count[i]);
        psr_put_u32(out + o + 16, len);
        memcpy(out + o + 20, c->raw + c->raw_off[i], len);
        o += 20 + len;
    }
}

int wk_catalog_unpack(wk_catalog_t *c, const unsigned char *in, size_t n, const char *what)
{
    memset(c, 0, sizeof *c);
    PSR_RETURN_IF(n < 16 || memcmp(in, CAT_MAGIC, 8) != 0, PSR_ERR_FORMAT,
                  "%s: not an item catalogue (%zu bytes, no PSRCAT1 header)", what, n);
    uint64_t items = psr_get_u64(in + 8);
    wk_catalog_acc_t *a = wk_catalog_acc_new();
    int bad = acc_read(a, in + 16, n - 16);
    if (!bad && (uint64_t)a->n != items) bad = 1;
    if (bad) {
        wk_catalog_acc_free(a);
        return PSR_ERR(PSR_ERR_FORMAT, "%s: item catalogue of %llu items does not parse "
                       "(truncated or corrupt)", what, (unsigned long long)items);
    }
    build(c, a);
    wk_catalog_acc_free(a);
    return PSR_OK;
}

void wk_catalog_free(wk_catalog_t *c)
{
    if (!c) return;
    free(c->key);
    free(c->count);
    free(c->raw);
    free(c->raw_off);
    free(c->cdf);
    free(c->self_info);
    free(c->slot);
    memset(c, 0, sizeof *c);
}
