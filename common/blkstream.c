/* blkstream: see blkstream.h for the rules (S1-S6).
 *
 * Implementation notes:
 *  - The share is kept as an array of (file, block, index entry) refs; `order` is the current
 *    epoch's sequence of them (a permutation with shuffle). Files are opened by the producer
 *    when it reaches them, one at a time, so a share over thousands of files needs one
 *    descriptor.
 *  - Producer/consumer: n_slots decoded-block slots, each FREE, BUSY (being filled by the
 *    producer), READY (holding sequence entry `seq` of generation `gen`) or HELD (by the
 *    consumer). The producer fills sequence entries in increasing order from prod_next; the
 *    consumer asks for them in the same order and holds at most one slot, so the entry it
 *    waits for is always the next one the producer fills: no deadlock. A seek or rewind bumps
 *    `gen`: READY slots are dropped, a BUSY one is dropped when the producer finishes it.
 *  - Without a thread (prefetch 0) the consumer fills slot 0 itself with the same code, so
 *    both modes return the same rows.
 *  - The producer thread only does pread, CRC, inflate and decode into buffers sized at open
 *    for the largest block of the share (blk_block_load never allocates); its errors travel
 *    to the consumer as (code, message) in the slot, since psr_err_* is per thread.
 *  - The shuffle window copies rows out of the blocks (its arrays grow geometrically on the
 *    main thread until they fit the largest window) and releases each block at once, so the
 *    prefetch depth does not depend on how many blocks a window spans. */
#include "blkstream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "psr_error.h"

typedef struct {
    int32_t file;
    uint32_t block;
    blk_entry_t e;
} bks_ref_t;

enum { SLOT_FREE, SLOT_BUSY, SLOT_READY, SLOT_HELD };

typedef struct {
    blk_block_t b;
    int64_t seq;
    uint64_t gen;
    int state;
    int rc;
    char msg[768];
} bks_slot_t;

typedef struct {
    char *path;
    int64_t n_blocks;
} bks_file_t;

struct bks {
    bks_opts_t o;
    int n_files;
    bks_file_t *files;
    blk_schema_t schema;
    int criteo;
    int64_t total_rows, share_rows;
    bks_ref_t *share; /* (n_seq) in global order */
    bks_ref_t *order; /* (n_seq) the epoch's sequence */
    bks_ref_t *tmp;   /* (n_seq) scratch for bks_seek */
    int64_t n_seq;
    uint64_t share_fp;
    uint32_t max_block_rows;

    /* producer side; fd and fd_file are touched only by whoever loads (thread or consumer) */
    int fd, fd_file;
    pthread_t thread;
    int has_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv_prod, cv_cons;
    bks_slot_t *slots;
    int n_slots;
    int64_t prod_next; /* next sequence entry the producer fills */
    uint64_t gen;
    int stop;

    /* consumer side */
    uint64_t epoch;
    int64_t seq, row;  /* S4: block (or window start) and rows returned from it */
    bks_slot_t *held;  /* no shuffle: the block rows come from */
    int err;
    char errmsg[1024];
    int64_t rows_read;
    double wait_s;

    /* shuffle window (S3): rows [0, win_n), returned in w_perm order */
    int win_loaded;
    int64_t win_next; /* sequence entry after the window */
    int64_t win_n, win_rows_cap, win_feats_cap;
    float *w_label;   /* (win_rows_cap) */
    float *w_dense;   /* (win_rows_cap, n_dense) */
    uint32_t *w_off;  /* (win_rows_cap + 1) */
    uint16_t *w_field;/* (win_feats_cap) */
    uint64_t *w_key;
    float *w_val;
    uint32_t *w_perm; /* (win_rows_cap) */
};

bks_opts_t bks_opts_default(void)
{
    bks_opts_t o = {.worker = 0,
                    .n_workers = 1,
                    .shuffle_buffer = 0,
                    .seed = 1,
                    .prefetch = BKS_DEFAULT_PREFETCH,
                    .expect = NULL};
    return o;
}

/* floor(w * t / n) without overflow: t = q*n + r. */
static int64_t share_point(int64_t t, int w, int n)
{
    int64_t q = t / n, r = t % n;
    return q * w + (r * w) / n;
}

int bks_share(const int64_t *blocks, int n_files, int w, int n_workers, bks_range_t *ranges)
{
    int64_t total = 0;
    for (int i = 0; i < n_files; i++) total += blocks[i];
    int64_t lo = share_point(total, w, n_workers), hi = share_point(total, w + 1, n_workers);
    int n = 0;
    int64_t g = 0; /* global number of file i's first block */
    for (int i = 0; i < n_files && g < hi; g += blocks[i], i++) {
        int64_t a = lo > g ? lo : g, b = hi < g + blocks[i] ? hi : g + blocks[i];
        if (a >= b) continue;
        ranges[n].file = i;
        ranges[n].first = a - g;
        ranges[n].count = b - a;
        n++;
    }
    return n;
}

/* One 64-bit seed from a tuple, each part mixed in turn. */
static uint64_t seed_of(uint64_t seed, uint64_t worker, uint64_t epoch, uint64_t extra)
{
    uint64_t h = psr_mix64(seed ^ 0x626c6b73687566ULL); /* "blkshuf" */
    h = psr_mix64(h ^ worker);
    h = psr_mix64(h ^ epoch);
    return psr_mix64(h ^ extra);
}

/* The sequence of epoch `epoch` into out (S2, S3a). */
static void build_order(const bks_t *s, uint64_t epoch, bks_ref_t *out)
{
    if (s->n_seq) memcpy(out, s->share, (size_t)s->n_seq * sizeof *out);
    if (s->o.shuffle_buffer <= 0 || s->n_seq < 2) return;
    psr_rng_t r;
    psr_rng_seed(&r, seed_of(s->o.seed, (uint64_t)s->o.worker, epoch, UINT64_MAX));
    for (int64_t i = s->n_seq - 1; i > 0; i--) {
        int64_t j = (int64_t)psr_rng_below(&r, (uint64_t)i + 1);
        bks_ref_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

/* ---- loading (producer thread, or the consumer without one) ----------------------------- */

static int load_ref(bks_t *s, const bks_ref_t *ref, bks_slot_t *slot)
{
    const bks_file_t *bf = &s->files[ref->file];
    if (s->fd_file != ref->file) {
        if (s->fd >= 0) close(s->fd);
        s->fd_file = -1;
        s->fd = open(bf->path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) return PSR_ERR(PSR_ERR_IO, "%s: cannot open: %s", bf->path, strerror(errno));
        s->fd_file = ref->file;
    }
    return blk_block_load(&slot->b, s->fd, bf->path, &s->schema, ref->block, &ref->e);
}

static void *producer_main(void *arg)
{
    bks_t *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        bks_slot_t *slot = NULL;
        if (s->prod_next < s->n_seq)
            for (int i = 0; i < s->n_slots && !slot; i++)
                if (s->slots[i].state == SLOT_FREE) slot = &s->slots[i];
        if (!slot) {
            pthread_cond_wait(&s->cv_prod, &s->mu);
            continue;
        }
        int64_t seq = s->prod_next++;
        bks_ref_t ref = s->order[seq];
        uint64_t gen = s->gen;
        slot->state = SLOT_BUSY;
        pthread_mutex_unlock(&s->mu);

        int rc = load_ref(s, &ref, slot);
        if (rc != PSR_OK) snprintf(slot->msg, sizeof slot->msg, "%s", psr_err_msg());

        pthread_mutex_lock(&s->mu);
        if (gen != s->gen) {
            slot->state = SLOT_FREE; /* a seek or rewind made it stale */
        } else {
            slot->seq = seq;
            slot->gen = gen;
            slot->rc = rc;
            slot->state = SLOT_READY;
            pthread_cond_broadcast(&s->cv_cons);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- consumer ----------------------------------------------------------------------------- */

static int fail(bks_t *s, int rc, const char *msg)
{
    s->err = rc;
    snprintf(s->errmsg, sizeof s->errmsg, "%s", msg);
    return rc;
}

static void release(bks_t *s, bks_slot_t *slot)
{
    if (!s->has_thread) {
        slot->state = SLOT_FREE;
        return;
    }
    pthread_mutex_lock(&s->mu);
    slot->state = SLOT_FREE;
    pthread_cond_signal(&s->cv_prod);
    pthread_mutex_unlock(&s->mu);
}

/* Sequence entry `seq` decoded, held by the consumer until release. */
static int acquire(bks_t *s, int64_t seq, bks_slot_t **out)
{
    *out = NULL;
    bks_slot_t *slot = NULL;
    if (!s->has_thread) {
        slot = &s->slots[0];
        slot->rc = load_ref(s, &s->order[seq], slot);
        if (slot->rc != PSR_OK) snprintf(slot->msg, sizeof slot->msg, "%s", psr_err_msg());
        slot->seq = seq;
        slot->state = SLOT_HELD;
    } else {
        double t0 = 0.0;
        pthread_mutex_lock(&s->mu);
        for (;;) {
            for (int i = 0; i < s->n_slots && !slot; i++)
                if (s->slots[i].state == SLOT_READY && s->slots[i].seq == seq &&
                    s->slots[i].gen == s->gen)
                    slot = &s->slots[i];
            if (slot) break;
            if (t0 == 0.0) t0 = psr_now();
            pthread_cond_wait(&s->cv_cons, &s->mu);
        }
        slot->state = SLOT_HELD;
        pthread_mutex_unlock(&s->mu);
        if (t0 != 0.0) s->wait_s += psr_now() - t0;
    }
    if (slot->rc != PSR_OK) {
        int rc = slot->rc;
        fail(s, rc, slot->msg);
        release(s, slot);
        return PSR_ERR(rc, "%s", s->errmsg);
    }
    *out = slot;
    return PSR_OK;
}

/* Drop everything in flight and have the producer continue from `from` of sequence `order`
 * (which replaces s->order when not NULL: swapped under the lock). */
static void restart(bks_t *s, int64_t from, bks_ref_t *order)
{
    if (s->held) release(s, s->held);
    s->held = NULL;
    if (s->has_thread) pthread_mutex_lock(&s->mu);
    s->gen++;
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].state == SLOT_READY) s->slots[i].state = SLOT_FREE;
    if (order) {
        s->tmp = s->order;
        s->order = order;
    }
    s->prod_next = from;
    if (s->has_thread) {
        pthread_cond_signal(&s->cv_prod);
        pthread_mutex_unlock(&s->mu);
    }
}

static void window_reserve(bks_t *s, int64_t rows, int64_t feats)
{
    const size_t D = (size_t)s->schema.n_dense;
    if (rows > s->win_rows_cap) {
        int64_t cap = s->win_rows_cap ? s->win_rows_cap : 1024;
        while (cap < rows) cap *= 2;
        s->w_label = psr_xrealloc(s->w_label, (size_t)cap * sizeof *s->w_label);
        s->w_dense = psr_xrealloc(s->w_dense, ((size_t)cap * D + 1) * sizeof *s->w_dense);
        s->w_off = psr_xrealloc(s->w_off, ((size_t)cap + 1) * sizeof *s->w_off);
        s->w_perm = psr_xrealloc(s->w_perm, (size_t)cap * sizeof *s->w_perm);
        s->win_rows_cap = cap;
    }
    if (feats > s->win_feats_cap) {
        int64_t cap = s->win_feats_cap ? s->win_feats_cap : 1024;
        while (cap < feats) cap *= 2;
        s->w_field = psr_xrealloc(s->w_field, (size_t)cap * sizeof *s->w_field);
        s->w_key = psr_xrealloc(s->w_key, (size_t)cap * sizeof *s->w_key);
        s->w_val = psr_xrealloc(s->w_val, (size_t)cap * sizeof *s->w_val);
        s->win_feats_cap = cap;
    }
}

/* The window starting at sequence entry `start` (S3b, S3c). */
static int load_window(bks_t *s, int64_t start)
{
    const int64_t S = s->o.shuffle_buffer, D = s->schema.n_dense;
    int64_t n = 0, nf = 0, seq = start;
    s->win_n = 0;
    while (seq < s->n_seq && n < S) {
        bks_slot_t *slot;
        PSR_FORWARD(acquire(s, seq, &slot));
        const blk_block_t *b = &slot->b;
        window_reserve(s, n + b->n_rows, nf + b->n_feats);
        memcpy(s->w_label + n, b->label, (size_t)b->n_rows * sizeof *b->label);
        memcpy(s->w_dense + n * D, b->dense, (size_t)(b->n_rows * D) * sizeof *b->dense);
        for (int64_t r = 0; r < b->n_rows; r++) s->w_off[n + r] = (uint32_t)(nf + b->off[r]);
        memcpy(s->w_field + nf, b->field, (size_t)b->n_feats * sizeof *b->field);
        memcpy(s->w_key + nf, b->key, (size_t)b->n_feats * sizeof *b->key);
        memcpy(s->w_val + nf, b->val, (size_t)b->n_feats * sizeof *b->val);
        n += b->n_rows;
        nf += b->n_feats;
        release(s, slot);
        seq++;
    }
    if (nf > UINT32_MAX) {
        int rc = PSR_ERR(PSR_ERR_CONFIG, "data.shuffle_buffer=%lld: a window of %lld rows holds "
                         "%lld features, more than 2^32; lower data.shuffle_buffer",
                         (long long)S, (long long)n, (long long)nf);
        return fail(s, rc, psr_err_msg());
    }
    window_reserve(s, n + 1, nf);
    s->w_off[n] = (uint32_t)nf;
    psr_rng_t r;
    psr_rng_seed(&r, seed_of(s->o.seed, (uint64_t)s->o.worker, s->epoch, (uint64_t)start));
    for (int64_t i = 0; i < n; i++) s->w_perm[i] = (uint32_t)i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)psr_rng_below(&r, (uint64_t)i + 1);
        uint32_t t = s->w_perm[i];
        s->w_perm[i] = s->w_perm[j];
        s->w_perm[j] = t;
    }
    s->win_n = n;
    s->win_next = seq;
    s->win_loaded = 1;
    return PSR_OK;
}

/* The next row: from a held block (*b set, *ri its row) or the window (*b NULL, *ri the
 * window row). 1, 0 at the end, or -error. */
static int advance(bks_t *s, const blk_block_t **b, int64_t *ri)
{
    if (s->err) return -PSR_ERR(s->err, "%s", s->errmsg);
    if (s->o.shuffle_buffer > 0) {
        for (;;) {
            if (!s->win_loaded) {
                if (s->seq >= s->n_seq) return 0;
                int64_t skip = s->row;
                int rc = load_window(s, s->seq);
                if (rc != PSR_OK) return -rc;
                s->row = skip;
            }
            if (s->row < s->win_n) {
                *b = NULL;
                *ri = s->w_perm[s->row++];
                s->rows_read++;
                return 1;
            }
            s->seq = s->win_next;
            s->row = 0;
            s->win_loaded = 0;
        }
    }
    for (;;) {
        if (!s->held) {
            if (s->seq >= s->n_seq) return 0;
            int rc = acquire(s, s->seq, &s->held);
            if (rc != PSR_OK) return -rc;
        }
        if (s->row < s->held->b.n_rows) {
            *b = &s->held->b;
            *ri = s->row++;
            s->rows_read++;
            return 1;
        }
        release(s, s->held);
        s->held = NULL;
        s->seq++;
        s->row = 0;
    }
}

int bks_next(bks_t *s, rd_row_t *row)
{
    if (!s->criteo)
        return -PSR_ERR(PSR_ERR_CONFIG, "%s: the block files hold %d fields, not Criteo's 39 "
                        "(13 dense, 26 categorical); read them with bks_next_row",
                        s->files[0].path, s->schema.n_fields);
    const blk_block_t *b;
    int64_t i;
    int rc = advance(s, &b, &i);
    if (rc != 1) return rc;
    if (b) {
        blk_block_criteo(b, i, row);
    } else {
        uint32_t o = s->w_off[i];
        rd_row_criteo_shape(row);
        row->label = s->w_label[i];
        memcpy(row->key, s->w_key + o, sizeof row->i_key);
        memcpy(row->val, s->w_val + o, sizeof row->i_val);
        memcpy(row->dense, s->w_dense + i * RD_CRITEO_INT, sizeof row->i_dense);
    }
    return 1;
}

int bks_next_row(bks_t *s, blk_row_t *row)
{
    const blk_block_t *b;
    int64_t i;
    int rc = advance(s, &b, &i);
    if (rc != 1) return rc;
    if (b) {
        blk_block_row(b, i, row);
    } else {
        uint32_t o = s->w_off[i];
        row->label = s->w_label[i];
        row->dense = s->w_dense + i * s->schema.n_dense;
        row->n_feat = (int32_t)(s->w_off[i + 1] - o);
        row->field = s->w_field + o;
        row->key = s->w_key + o;
        row->val = s->w_val + o;
    }
    return 1;
}

int bks_rewind(bks_t *s)
{
    build_order(s, s->epoch + 1, s->tmp);
    restart(s, 0, s->tmp);
    s->epoch++;
    s->seq = s->row = 0;
    s->win_loaded = 0;
    s->err = 0;
    return PSR_OK;
}

void bks_tell(const bks_t *s, bks_pos_t *pos)
{
    int64_t seq = s->seq, row = s->row;
    if (s->o.shuffle_buffer > 0) {
        if (s->win_loaded && row >= s->win_n) seq = s->win_next, row = 0;
    } else if (seq < s->n_seq && row >= (int64_t)s->order[seq].e.n_rows) {
        seq++, row = 0;
    }
    memset(pos, 0, sizeof *pos);
    pos->magic = BKS_POS_MAGIC;
    pos->version = BKS_POS_VERSION;
    pos->share_fp = s->share_fp;
    pos->epoch = s->epoch;
    pos->seq = (uint64_t)seq;
    pos->row = (uint64_t)row;
    pos->file = seq < s->n_seq ? s->order[seq].file : -1;
    pos->block = seq < s->n_seq ? s->order[seq].block : 0;
}

int bks_seek(bks_t *s, const bks_pos_t *pos)
{
    PSR_RETURN_IF(pos->magic != BKS_POS_MAGIC || pos->version != BKS_POS_VERSION, PSR_ERR_CONFIG,
                  "reader position: not a block-stream position (magic 0x%08x, version %u)",
                  pos->magic, pos->version);
    PSR_RETURN_IF(pos->share_fp != s->share_fp, PSR_ERR_CONFIG,
                  "reader position: saved for a different share (share fingerprint 0x%016llx, "
                  "this stream 0x%016llx): the file list, their blocks, the worker count, "
                  "data.shuffle_buffer or train.seed differ",
                  (unsigned long long)pos->share_fp, (unsigned long long)s->share_fp);
    PSR_RETURN_IF(pos->seq > (uint64_t)s->n_seq, PSR_ERR_CONFIG,
                  "reader position: block %llu of a share of %lld blocks",
                  (unsigned long long)pos->seq, (long long)s->n_seq);
    build_order(s, pos->epoch, s->tmp);
    const int64_t seq = (int64_t)pos->seq;
    if (seq == s->n_seq) {
        PSR_RETURN_IF(pos->row != 0 || pos->file != -1, PSR_ERR_CONFIG,
                      "reader position: past the end of the share");
    } else {
        const bks_ref_t *r = &s->tmp[seq];
        PSR_RETURN_IF(r->file != pos->file || r->block != pos->block, PSR_ERR_CONFIG,
                      "reader position: entry %lld of the block sequence is file %d block %u, "
                      "the position says file %d block %u", (long long)seq, r->file, r->block,
                      pos->file, pos->block);
        uint64_t limit = r->e.n_rows;
        if (s->o.shuffle_buffer > 0) { /* seq must start a window; row within it */
            int64_t i = 0, rows = 0;
            while (i < seq) {
                rows = 0;
                while (i < s->n_seq && rows < s->o.shuffle_buffer) rows += s->tmp[i++].e.n_rows;
            }
            PSR_RETURN_IF(i != seq, PSR_ERR_CONFIG,
                          "reader position: block %lld does not start a shuffle window",
                          (long long)seq);
            for (limit = 0; i < s->n_seq && limit < (uint64_t)s->o.shuffle_buffer; i++)
                limit += s->tmp[i].e.n_rows;
        }
        PSR_RETURN_IF(pos->row > limit, PSR_ERR_CONFIG,
                      "reader position: row %llu of a block or window of %llu rows",
                      (unsigned long long)pos->row, (unsigned long long)limit);
    }
    restart(s, seq, s->tmp);
    s->epoch = pos->epoch;
    s->seq = seq;
    s->row = (int64_t)pos->row;
    s->win_loaded = 0;
    s->err = 0;
    return PSR_OK;
}

const blk_schema_t *bks_schema(const bks_t *s) { return &s->schema; }
int64_t bks_rows_read(const bks_t *s) { return s->rows_read; }
int64_t bks_bad_rows(const bks_t *s)
{
    (void)s;
    return 0;
}
int64_t bks_share_rows(const bks_t *s) { return s->share_rows; }
int64_t bks_share_blocks(const bks_t *s) { return s->n_seq; }
int64_t bks_total_rows(const bks_t *s) { return s->total_rows; }
double bks_wait_seconds(const bks_t *s) { return s->wait_s; }

void bks_close(bks_t *s)
{
    if (!s) return;
    if (s->has_thread) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->cv_prod);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_prod);
    pthread_cond_destroy(&s->cv_cons);
    if (s->fd >= 0) close(s->fd);
    for (int i = 0; i < s->n_slots; i++) blk_block_free(&s->slots[i].b);
    free(s->slots);
    for (int i = 0; i < s->n_files; i++) free(s->files[i].path);
    free(s->files);
    free(s->share);
    free(s->order);
    free(s->tmp);
    free(s->w_label);
    free(s->w_dense);
    free(s->w_off);
    free(s->w_field);
    free(s->w_key);
    free(s->w_val);
    free(s->w_perm);
    free(s);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int bks_open(bks_t **out, char *const *files, int n_files, const bks_opts_t *o)
{
    *out = NULL;
    PSR_RETURN_IF(n_files < 1 || !files, PSR_ERR_INTERNAL, "bks_open: no files");
    PSR_RETURN_IF(o->n_workers < 1 || o->worker < 0 || o->worker >= o->n_workers,
                  PSR_ERR_INTERNAL, "bks_open: worker %d of %d", o->worker, o->n_workers);
    PSR_RETURN_IF(o->shuffle_buffer < 0 || o->prefetch < 0 || o->prefetch > BKS_MAX_PREFETCH,
                  PSR_ERR_INTERNAL, "bks_open: shuffle_buffer %d, prefetch %d",
                  o->shuffle_buffer, o->prefetch);
    bks_t *s = psr_xcalloc(1, sizeof *s);
    s->o = *o;
    s->o.expect = NULL;
    s->fd = -1;
    s->fd_file = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_prod, NULL);
    pthread_cond_init(&s->cv_cons, NULL);
    s->n_files = n_files;
    s->files = psr_xcalloc((size_t)n_files, sizeof *s->files);
    for (int i = 0; i < n_files; i++) s->files[i].path = psr_xstrdup(files[i]);

    /* S5 and the block counts: every file's header and trailer */
    int rc = PSR_OK;
    uint64_t fp = 0;
    char want[200], got[200];
    int64_t *counts = psr_xcalloc((size_t)n_files, sizeof *counts);
    for (int i = 0; i < n_files && rc == PSR_OK; i++) {
        blk_file_t *f;
        if ((rc = blk_file_open(&f, files[i], 0)) != PSR_OK) break;
        const blk_schema_t *fs = blk_file_schema(f);
        if (i == 0) {
            s->schema = *fs;
            fp = blk_file_fingerprint(f);
            if (o->expect && blk_schema_fingerprint(o->expect) != fp) {
                blk_schema_describe(fs, got, sizeof got);
                blk_schema_describe(o->expect, want, sizeof want);
                rc = PSR_ERR(PSR_ERR_CONFIG, "%s: prepared with a different schema than this "
                             "job's config: the file has %s; the config says %s. Prep the data "
                             "again with this config, or use the config it was prepared with",
                             files[i], got, want);
            }
        } else if (blk_file_fingerprint(f) != fp) {
            blk_schema_describe(fs, got, sizeof got);
            blk_schema_describe(&s->schema, want, sizeof want);
            rc = PSR_ERR(PSR_ERR_CONFIG, "%s: its schema differs from the first file's (%s): "
                         "it has %s, the first %s; all files of one input must come from one "
                         "prep config", files[i], files[0], got, want);
        }
        counts[i] = blk_file_blocks(f);
        s->files[i].n_blocks = counts[i];
        s->total_rows += blk_file_rows(f);
        blk_file_close(f);
    }
    bks_range_t *ranges = psr_xcalloc((size_t)n_files, sizeof *ranges);
    int n_ranges = rc == PSR_OK ? bks_share(counts, n_files, o->worker, o->n_workers, ranges) : 0;
    for (int i = 0; i < n_ranges; i++) s->n_seq += ranges[i].count;
    s->share = psr_xcalloc((size_t)s->n_seq + 1, sizeof *s->share);
    s->order = psr_xcalloc((size_t)s->n_seq + 1, sizeof *s->order);
    s->tmp = psr_xcalloc((size_t)s->n_seq + 1, sizeof *s->tmp);
    blk_entry_t mx = {0};
    int64_t k = 0;
    for (int i = 0; i < n_ranges && rc == PSR_OK; i++) {
        blk_file_t *f;
        if ((rc = blk_file_open(&f, files[ranges[i].file], 1)) != PSR_OK) break;
        if (blk_file_blocks(f) != counts[ranges[i].file])
            rc = PSR_ERR(PSR_ERR_IO, "%s: changed while being opened", files[ranges[i].file]);
        const blk_entry_t *ix = blk_file_index(f);
        for (int64_t j = 0; rc == PSR_OK && j < ranges[i].count; j++, k++) {
            bks_ref_t *r = &s->share[k];
            r->file = ranges[i].file;
            r->block = (uint32_t)(ranges[i].first + j);
            r->e = ix[r->block];
            s->share_rows += r->e.n_rows;
            if (r->e.n_rows > mx.n_rows) mx.n_rows = r->e.n_rows;
            if (r->e.n_feats > mx.n_feats) mx.n_feats = r->e.n_feats;
            if (r->e.raw_bytes > mx.raw_bytes) mx.raw_bytes = r->e.raw_bytes;
            if (r->e.comp_bytes > mx.comp_bytes) mx.comp_bytes = r->e.comp_bytes;
        }
        blk_file_close(f);
    }
    free(ranges);
    if (rc != PSR_OK) {
        free(counts);
        bks_close(s);
        return rc;
    }
    s->max_block_rows = mx.n_rows;
    s->criteo = blk_schema_is_criteo(&s->schema);

    /* S4: the share's fingerprint */
    uint64_t h = psr_mix64(0x62736b73ULL ^ (uint64_t)n_files);
    for (int i = 0; i < n_files; i++) {
        const char *b = base_name(files[i]);
        h = psr_hash_bytes(b, strlen(b), h ^ (uint64_t)counts[i]);
    }
    h = psr_mix64(h ^ fp);
    h = psr_mix64(h ^ ((uint64_t)o->worker << 32 | (uint32_t)o->n_workers));
    h = psr_mix64(h ^ (uint64_t)o->shuffle_buffer);
    s->share_fp = psr_mix64(h ^ (o->shuffle_buffer > 0 ? o->seed : 0));
    free(counts);

    build_order(s, 0, s->order);
    s->n_slots = o->prefetch > 0 && s->n_seq > 0 ? o->prefetch + 1 : 1;
    s->slots = psr_xcalloc((size_t)s->n_slots, sizeof *s->slots);
    for (int i = 0; i < s->n_slots; i++) {
        blk_block_init(&s->slots[i].b);
        blk_block_reserve(&s->slots[i].b, &mx, s->schema.n_dense);
    }
    if (o->shuffle_buffer > 0)
        window_reserve(s, (int64_t)o->shuffle_buffer + mx.n_rows + 1, 1024);
    if (o->prefetch > 0 && s->n_seq > 0) {
        int e = pthread_create(&s->thread, NULL, producer_main, s);
        if (e != 0) {
            bks_close(s);
            return PSR_ERR(PSR_ERR_INTERNAL, "cannot start the prefetch thread: %s", strerror(e));
        }
        s->has_thread = 1;
    }
    *out = s;
    return PSR_OK;
}
