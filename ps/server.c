/* server: see server.h. One thread that never blocks on one worker: requests are taken with
 * MPI_Improbe/MPI_Imrecv, replies leave with MPI_Isend from a bounded set of buffers per
 * worker, and a worker whose replies are not being taken (stopped, swapped out) only stops
 * its own requests from being received (docs/DESIGN.md, Servers). */
#include "server.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "idle.h"
#include "log.h"
#include "metrics_file.h"
#include "psr_error.h"
#include "sketch.h"
#include "table.h"

typedef struct {
    const ps_server_opts_t *o;
    MPI_Comm comm;
    int rank;
    int n_tables;
    ps_table_t table[PSR_MAX_TABLES]; /* embedding rows, one hash table per model table */
    psr_optim_t opt[PSR_MAX_TABLES];  /* each table's optimizer */
    int32_t widths[PSR_MAX_TABLES];
    ps_table_t dense; /* dense blocks owned here: key = block id, width WIRE_DENSE_BLOCK */
    const char *msg; /* the request being handled (rbuf or a parked buffer) */
    char *rbuf;      /* where the next request is received */
    size_t rcap;
    int live;        /* workers that have not sent SHUTDOWN */
    /* Replies in flight: worker w's slots are [w * PS_REPLY_SLOTS, (w + 1) * PS_REPLY_SLOTS)
     * of these arrays. A slot's buffer is kept and grows to the largest reply it carried. */
    MPI_Request *out_req; /* MPI_REQUEST_NULL: the slot is free */
    char **out_buf;
    size_t *out_cap;
    int *out_done;        /* MPI_Testsome's indices */
    int n_out;            /* sends in flight, all workers */
    int *busy;            /* (n_workers) slots in flight, plus 1 while a CLOCK_WAIT is held */
    /* A receive that did not complete at once (the sender has to progress it: TCP, or a
     * sender stopped mid-message) is parked with its buffer, swapped with rbuf. */
    MPI_Request *in_req; /* (n_workers) */
    char **in_buf;       /* (n_workers) */
    size_t *in_cap;
    int *in_count;
    int n_parked;
    char *gated;  /* (n_workers) its requests are left unreceived: slots full or one parked */
    int n_gated;
    int next_src; /* per-source probing starts here (round robin) */
    wire_stats_t st;
    ps_sketch_t sketch; /* embedding.min_count > 1 */
    float *row;         /* half table: one row as floats (3 * width of the widest table) */
    int64_t max_step;   /* newest step count seen in a push */
    int64_t next_ttl;   /* max_step at which expired rows are dropped next */
    int64_t ckpt_step; /* checkpoint announced by the CKPT messages received so far */
    int ckpt_n;        /* CKPT messages received for it */
    char *ckpt_seen;   /* (n_workers) which workers sent one */
    /* coordinator (server 0) */
    int64_t *clock;   /* (n_workers) finished steps */
    int *done;        /* (n_workers) out of data this epoch */
    int64_t *waiting; /* (n_workers) step count awaited, -1 when not waiting */
    int64_t prog_examples, prog_last_examples;
    double prog_loss, prog_t0, prog_last_t;
    int64_t prog_win_examples;
    int epoch_over;         /* every worker is out of data since the last RESUME clock */
    int64_t epochs_seen;    /* epoch ends seen by this run */
    int64_t total_examples; /* examples of the whole job, 0 until the first epoch end */
} server_t;

static void ensure(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    *buf = psr_xrealloc(*buf, c);
    *cap = c;
}

/* --- replies in flight and gating ------------------------------------------------------ */

/* Recompute whether worker w's requests are left unreceived: all its reply slots are taken
 * (it is not receiving what it asked for), or one of its requests is still arriving. */
static void gate(server_t *s, int w)
{
    char g = s->busy[w] >= PS_REPLY_SLOTS || s->in_req[w] != MPI_REQUEST_NULL;
    s->n_gated += g - s->gated[w];
    s->gated[w] = g;
}

/* Free the slots whose sends completed. Returns how many did. */
static int reap(server_t *s)
{
    if (s->n_out == 0) return 0;
    int n = 0;
    MPI_Testsome(s->o->n_workers * PS_REPLY_SLOTS, s->out_req, &n, s->out_done,
                 MPI_STATUSES_IGNORE);
    if (n == MPI_UNDEFINED) return 0;
    for (int k = 0; k < n; k++) {
        int w = s->out_done[k] / PS_REPLY_SLOTS;
        s->busy[w]--;
        s->n_out--;
        gate(s, w);
    }
    return n;
}

/* A free reply slot of worker w with room for `bytes` (fill out_buf[slot], then reply_post).
 * There is always one: a request from w is only received while w has a free slot, and a held
 * CLOCK_WAIT keeps one (busy). Returns the slot, or -1 (an internal error) if not. */
static int reply_slot(server_t *s, int w, size_t bytes)
{
    for (int j = 0; j < PS_REPLY_SLOTS; j++) {
        int i = w * PS_REPLY_SLOTS + j;
        if (s->out_req[i] != MPI_REQUEST_NULL) continue;
        ensure(&s->out_buf[i], &s->out_cap[i], bytes);
        return i;
    }
    return -1;
}

/* Send the reply in slot i (worker i / PS_REPLY_SLOTS) without waiting for it. */
static int reply_post(server_t *s, int i, size_t bytes, int tag)
{
    const int w = i / PS_REPLY_SLOTS, dest = s->o->n_servers + w;
    int rc = MPI_Isend(s->out_buf[i], (int)bytes, MPI_BYTE, dest, tag, s->comm, &s->out_req[i]);
    PSR_RETURN_IF(rc != MPI_SUCCESS, PSR_ERR_MPI, "server %d: reply to rank %d failed", s->rank,
                  dest);
    s->busy[w]++;
    s->n_out++;
    gate(s, w);
    return PSR_OK;
}

#define NO_SLOT(s, w)                                                                          \
    PSR_ERR(PSR_ERR_INTERNAL, "server %d: no free reply slot for worker %d (%d in flight)",   \
            (s)->rank, (w), PS_REPLY_SLOTS)

static int check_owned(server_t *s, const uint64_t *keys, uint64_t n, int source)
{
    for (uint64_t i = 0; i < n; i++) {
        uint32_t b = psr_key_bucket(keys[i], s->o->n_buckets);
        if (psr_bucket_owner(b, s->o->n_servers) != s->rank)
            return PSR_ERR(PSR_ERR_WIRE,
                           "message from rank %d: key %016llx (bucket %u) belongs to server %d, "
                           "not %d",
                           source, (unsigned long long)keys[i], b,
                           psr_bucket_owner(b, s->o->n_servers), s->rank);
    }
    return PSR_OK;
}

/* The table of counts of a PULL or PUSH (wire_check has checked it adds up). */
static void read_counts(const server_t *s, const char *payload, uint32_t *cnt)
{
    for (int t = 0; t < s->n_tables; t++) memcpy(&cnt[t], payload + 4 * (size_t)t, 4);
}

static int handle_pull(server_t *s, const wire_hdr_t *h, int source)
{
    const size_t cb = wire_counts_bytes(s->n_tables);
    const char *payload = s->msg + sizeof *h;
    const uint64_t *keys = (const uint64_t *)(payload + cb);
    uint32_t cnt[PSR_MAX_TABLES];
    read_counts(s, payload, cnt);
    PSR_FORWARD(check_owned(s, keys, h->count, source));
    size_t floats = 0;
    for (int t = 0; t < s->n_tables; t++) floats += (size_t)cnt[t] * (size_t)s->widths[t];
    size_t bytes = sizeof(wire_hdr_t) + cb + floats * sizeof(float);
    const int w = source - s->o->n_servers, slot = reply_slot(s, w, bytes);
    if (slot < 0) return NO_SLOT(s, w);
    wire_hdr_t *rh = (wire_hdr_t *)s->out_buf[slot];
    wire_hdr_fill(rh, WIRE_PULL_REPLY, 0, s->rank, bytes - sizeof *rh, h->step, h->count);
    memcpy(rh + 1, payload, cb);
    float *out = (float *)((char *)(rh + 1) + cb);
    for (int t = 0; t < s->n_tables; t++) {
        const ps_table_t *tab = &s->table[t];
        const int W = tab->width;
        for (uint32_t i = 0; i < cnt[t]; i++, keys++, out += W) {
            int64_t r = ps_table_find(tab, *keys);
            if (r >= 0)
                ps_table_load_w(tab, r, out);
            else if (s->o->min_count > 1) /* not admitted (yet, or any more): zeros */
                memset(out, 0, (size_t)W * sizeof *out);
            else
                ps_row_init_ex(tab->seed, *keys, W, tab->init_std, tab->zero_first, out);
        }
    }
    PSR_FORWARD(reply_post(s, slot, bytes, WIRE_TAG_REPLY));
    s->st.pulls++;
    s->st.keys_pulled += (int64_t)h->count;
    return PSR_OK;
}

/* Adam on each row of `keys` in table t with gradients g (count, t->width) at the rate of
 * the sender's step. */
static void apply(server_t *s, ps_table_t *t, const uint64_t *keys, const float *g,
                  uint64_t count, int64_t step)
{
    const int W = t->width;
    const float lr = (float)(s->o->adam.lr * psr_lr_scale(&s->o->schedule, step));
    for (uint64_t i = 0; i < count; i++) {
        int64_t r = ps_table_insert(t, keys[i]);
        int64_t n = ++t->step[r];
        t->last[r] = step + 1;
        psr_adam_update(&s->o->adam, lr, n, ps_table_w(t, r), ps_table_m(t, r), ps_table_v(t, r),
                        g + i * (size_t)W, W);
    }
}

static int64_t total_rows(const server_t *s)
{
    int64_t n = 0;
    for (int t = 0; t < s->n_tables; t++) n += s->table[t].n_rows;
    return n;
}

/* Table t's optimizer step on each row of `keys` with gradients g (count, width), under the
 * memory controls of server.h (applied to each table on its own). */
static void apply_sparse(server_t *s, int ti, const uint64_t *keys, const float *g,
                         uint64_t count, int64_t step)
{
    ps_table_t *t = &s->table[ti];
    const psr_optim_t *opt = &s->opt[ti];
    const ps_server_opts_t *o = s->o;
    const int W = t->width;
    const float lr = (float)(o->adam.lr * psr_lr_scale(&o->schedule, step));
    for (uint64_t i = 0; i < count; i++) {
        int64_t r = ps_table_find(t, keys[i]);
        if (r < 0) {
            if (o->min_count > 1 &&
                ps_sketch_add(&s->sketch, keys[i] ^ t->salt) < (uint64_t)o->min_count) {
                s->st.rejections++;
                continue;
            }
            if (o->max_rows > 0 && t->n_rows >= o->max_rows) {
                int64_t room = o->max_rows / 16 > 0 ? o->max_rows / 16 : 1;
                s->st.evictions += ps_table_shrink_lru(t, o->max_rows - room);
            }
            r = ps_table_insert(t, keys[i]);
            s->st.admissions++;
            int64_t rows = total_rows(s);
            if (rows > s->st.peak_rows) s->st.peak_rows = rows;
        }
        int64_t n = ++t->step[r];
        t->last[r] = step + 1;
        if (t->hdata) { /* in floats, rounded back once */
            ps_table_load(t, r, s->row);
            psr_optim_update(opt, lr, n, s->row, s->row + W, g + i * (size_t)W, W);
            ps_table_store(t, r, s->row);
        } else {
            psr_optim_update(opt, lr, n, ps_table_w(t, r), ps_table_state(t, r),
                             g + i * (size_t)W, W);
        }
    }
    if (o->ttl_steps > 0) {
        if (step + 1 > s->max_step) s->max_step = step + 1;
        if (s->max_step >= s->next_ttl) {
            for (int k = 0; k < s->n_tables; k++)
                s->st.expired += ps_table_drop_before(&s->table[k], s->max_step - o->ttl_steps);
            s->next_ttl = s->max_step + (o->ttl_steps / 8 > 0 ? o->ttl_steps / 8 : 1);
        }
    }
}

static int handle_push(server_t *s, const wire_hdr_t *h, int source)
{
    const size_t cb = wire_counts_bytes(s->n_tables);
    const char *payload = s->msg + sizeof *h;
    const uint64_t *keys = (const uint64_t *)(payload + cb);
    uint32_t cnt[PSR_MAX_TABLES];
    read_counts(s, payload, cnt);
    PSR_FORWARD(check_owned(s, keys, h->count, source));
    const float *g = (const float *)(keys + h->count);
    for (int t = 0; t < s->n_tables; t++) {
        apply_sparse(s, t, keys, g, cnt[t], h->step);
        keys += cnt[t];
        g += (size_t)cnt[t] * (size_t)s->widths[t];
    }
    s->st.pushes++;
    s->st.keys_pushed += (int64_t)h->count;
    return PSR_OK;
}

static int check_dense_ids(server_t *s, const uint64_t *ids, uint64_t n, int source)
{
    for (uint64_t i = 0; i < n; i++)
        PSR_RETURN_IF(ids[i] >= (uint64_t)s->o->n_dense_blocks ||
                          ids[i] % (uint64_t)s->o->n_servers != (uint64_t)s->rank,
                      PSR_ERR_WIRE,
                      "dense message from rank %d: block %llu is not one of server %d's (the model "
                      "has %lld dense blocks over %d servers)",
                      source, (unsigned long long)ids[i], s->rank,
                      (long long)s->o->n_dense_blocks, s->o->n_servers);
    return PSR_OK;
}

static int dense_reply(server_t *s, int source, const uint64_t *ids, uint64_t n, int64_t step)
{
    size_t bytes = sizeof(wire_hdr_t) + n * WIRE_DENSE_BLOCK * sizeof(float);
    const int w = source - s->o->n_servers, slot = reply_slot(s, w, bytes);
    if (slot < 0) return NO_SLOT(s, w);
    wire_hdr_t *rh = (wire_hdr_t *)s->out_buf[slot];
    wire_hdr_fill(rh, WIRE_PULL_DENSE_REPLY, 0, s->rank, bytes - sizeof *rh, step, n);
    float *out = (float *)(rh + 1);
    for (uint64_t i = 0; i < n; i++) {
        int64_t r = ps_table_find(&s->dense, ids[i]);
        float *dst = out + i * (size_t)WIRE_DENSE_BLOCK;
        if (r >= 0)
            memcpy(dst, ps_table_w(&s->dense, r), WIRE_DENSE_BLOCK * sizeof *dst);
        else
            memset(dst, 0, WIRE_DENSE_BLOCK * sizeof *dst);
    }
    return reply_post(s, slot, bytes, WIRE_TAG_DENSE_REPLY);
}

static int handle_dense(server_t *s, const wire_hdr_t *h, int source)
{
    const uint64_t *ids = (const uint64_t *)(s->msg + sizeof *h);
    PSR_RETURN_IF(s->o->n_dense_blocks == 0, PSR_ERR_WIRE,
                  "%s message from rank %d, but this model keeps no dense parameters on servers",
                  wire_type_name(h->type), source);
    PSR_FORWARD(check_dense_ids(s, ids, h->count, source));
    if (h->type == WIRE_PULL_DENSE) return dense_reply(s, source, ids, h->count, h->step);
    const float *g = (const float *)(ids + h->count);
    if (h->flags & WIRE_DENSE_F_INIT) {
        for (uint64_t i = 0; i < h->count; i++) {
            int64_t r = ps_table_insert(&s->dense, ids[i]);
            memcpy(ps_table_w(&s->dense, r), g + i * (size_t)WIRE_DENSE_BLOCK,
                   WIRE_DENSE_BLOCK * sizeof(float));
        }
        return dense_reply(s, source, ids, 0, h->step); /* acknowledgement */
    }
    apply(s, &s->dense, ids, g, h->count, h->step);
    return PSR_OK;
}

/* --- clock coordination (server 0) --------------------------------------------------- */

static int64_t slowest(const server_t *s)
{
    int64_t m = INT64_MAX;
    for (int w = 0; w < s->o->n_workers; w++)
        if (!s->done[w] && s->clock[w] < m) m = s->clock[w];
    return m;
}

static int send_grant(server_t *s, int worker, int64_t value)
{
    int slot = reply_slot(s, worker, sizeof(wire_hdr_t));
    if (slot < 0) return NO_SLOT(s, worker);
    wire_hdr_fill((wire_hdr_t *)s->out_buf[slot], WIRE_CLOCK_GRANT, 0, s->rank, 0, value, 0);
    return reply_post(s, slot, sizeof(wire_hdr_t), WIRE_TAG_CLOCK);
}

static int release_waiters(server_t *s)
{
    int64_t m = slowest(s);
    for (int w = 0; w < s->o->n_workers; w++) {
        if (s->waiting[w] >= 0 && m >= s->waiting[w]) {
            s->waiting[w] = -1;
            s->busy[w]--; /* the slot held for this grant */
            PSR_FORWARD(send_grant(s, w, m));
        }
    }
    return PSR_OK;
}

static void progress(server_t *s, int force)
{
    const ps_server_opts_t *o = s->o;
    double now = psr_now();
    if (!force && now - s->prog_last_t < o->progress_seconds) return;
    int64_t lo = INT64_MAX, hi = 0, sum = 0;
    int waiting = 0;
    for (int w = 0; w < o->n_workers; w++) {
        if (s->clock[w] < lo) lo = s->clock[w];
        if (s->clock[w] > hi) hi = s->clock[w];
        sum += s->clock[w];
        waiting += s->waiting[w] >= 0;
    }
    double dt = now - s->prog_last_t;
    double rate = dt > 0 ? (double)(s->prog_examples - s->prog_last_examples) / dt : 0.0;
    double loss = s->prog_win_examples ? s->prog_loss / (double)s->prog_win_examples : 0.0;
    /* the fraction of the job done: known from train.max_steps, or from train.epochs once an
     * epoch's size has been seen; the ETA assumes this run's pace so far */
    const double f = mf_progress_fraction(s->total_examples, s->prog_examples, o->prog_max_steps,
                                          sum, o->n_workers);
    const double f0 = mf_progress_fraction(s->total_examples, o->prog_examples0,
                                           o->prog_max_steps, o->prog_step0 * o->n_workers,
                                           o->n_workers);
    const double eta = mf_eta(f, f0, now - s->prog_t0);
    mf_rec_t r;
    mf_begin(&r, "progress", hi);
    mf_int(&r, "step", hi);
    mf_int(&r, "slowest", lo);
    mf_int(&r, "waiting", waiting);
    mf_int(&r, "examples", s->prog_examples);
    mf_num(&r, "examples_per_sec", "%.0f", rate);
    mf_num(&r, "loss", "%.5f", loss);
    mf_num(&r, "elapsed", "%.1fs", now - s->prog_t0);
    if (f >= 0) {
        mf_num(&r, "pct", "%.1f", 100.0 * f);
        if (eta >= 0) mf_num(&r, "eta", "%.0fs", eta);
    }
    psr_info("progress: %s", mf_text(&r));
    mf_emit(&r);
    s->prog_last_t = now;
    s->prog_last_examples = s->prog_examples;
    s->prog_loss = 0;
    s->prog_win_examples = 0;
}

/* A worker ran out of data: when that makes every worker out of it, an epoch ended, and the
 * first such end tells the size of an epoch (for pct=). */
static void note_epoch_end(server_t *s)
{
    if (s->epoch_over) return;
    for (int w = 0; w < s->o->n_workers; w++)
        if (!s->done[w]) return;
    s->epoch_over = 1;
    s->epochs_seen++;
    const ps_server_opts_t *o = s->o;
    if (s->total_examples == 0)
        s->total_examples = mf_total_examples(o->prog_epochs, o->prog_epoch0 + s->epochs_seen - 1,
                                              s->prog_examples, o->prog_epoch_start,
                                              o->prog_epoch0, o->prog_examples0);
}

static int handle_clock(server_t *s, const wire_hdr_t *h, int source)
{
    int w = source - s->o->n_servers;
    PSR_RETURN_IF(s->rank != 0, PSR_ERR_WIRE, "%s message from rank %d sent to server %d, not 0",
                  wire_type_name(h->type), source, s->rank);
    if (h->type == WIRE_CLOCK_WAIT) {
        int64_t m = slowest(s);
        if (m >= h->step) return send_grant(s, w, m);
        PSR_RETURN_IF(s->waiting[w] >= 0, PSR_ERR_WIRE,
                      "second CLOCK_WAIT from rank %d before its first was granted", source);
        s->waiting[w] = h->step;
        s->busy[w]++; /* hold a slot for the grant */
        gate(s, w);
        return PSR_OK;
    }
    wire_clock_t c;
    memcpy(&c, s->msg + sizeof *h, sizeof c);
    PSR_RETURN_IF(h->step < s->clock[w] && !(h->flags & WIRE_CLOCK_F_RESUME), PSR_ERR_WIRE,
                  "CLOCK from rank %d goes back from step %lld to %lld", source,
                  (long long)s->clock[w], (long long)h->step);
    s->clock[w] = h->step;
    s->prog_examples += c.examples;
    s->prog_win_examples += c.examples;
    s->prog_loss += c.loss_sum;
    if (h->flags & WIRE_CLOCK_F_DONE) {
        s->done[w] = 1;
        note_epoch_end(s);
    }
    if (h->flags & WIRE_CLOCK_F_RESUME) {
        s->done[w] = 0;
        s->epoch_over = 0;
        PSR_FORWARD(send_grant(s, w, h->step));
    }
    progress(s, 0);
    return release_waiters(s);
}

/* --- checkpoints ---------------------------------------------------------------------- */

int ps_server_write_rows(const ps_server_opts_t *o, int rank, int table, const ps_table_t *t,
                         const char *stage, int64_t step, int level, ckpt_file_info_t *info)
{
    const uint32_t B = o->n_buckets;
    /* counting sort of the rows by bucket, so each bucket is one segment */
    int64_t *start = psr_xcalloc((size_t)B + 1, sizeof *start);
    int64_t *order = psr_xmalloc((size_t)(t->n_rows > 0 ? t->n_rows : 1) * sizeof *order);
    for (int64_t r = 0; r < t->n_rows; r++) start[psr_key_bucket(t->keys[r], B) + 1]++;
    for (uint32_t b = 0; b < B; b++) start[b + 1] += start[b];
    int64_t *cursor = psr_xmalloc((size_t)B * sizeof *cursor);
    memcpy(cursor, start, (size_t)B * sizeof *cursor);
    for (int64_t r = 0; r < t->n_rows; r++) order[cursor[psr_key_bucket(t->keys[r], B)]++] = r;
    free(cursor);

    ckpt_writer_t *w = NULL;
    float *buf = psr_xmalloc((size_t)t->stride * sizeof *buf);
    int rc = ckpt_rows_create_table(&w, stage, rank, table, t->width, t->stride, B, step, level);
    for (uint32_t b = 0; b < B && rc == PSR_OK; b++) {
        if (psr_bucket_owner(b, o->n_servers) != rank) {
            if (start[b + 1] > start[b])
                rc = PSR_ERR(PSR_ERR_INTERNAL, "server %d holds rows of bucket %u, owned by "
                             "server %d", rank, b, psr_bucket_owner(b, o->n_servers));
            continue;
        }
        rc = ckpt_rows_bucket(w, b);
        for (int64_t i = start[b]; i < start[b + 1] && rc == PSR_OK; i++) {
            int64_t r = order[i];
            ps_table_load(t, r, buf);
            rc = ckpt_rows_put(w, t->keys[r], buf, t->step[r], t->last[r]);
        }
    }
    free(buf);
    free(start);
    free(order);
    if (rc != PSR_OK) {
        ckpt_writer_abort(w);
        return rc;
    }
    return ckpt_writer_close(w, info);
}

/* One dense block as it travels to server 0: id, step, w | m | v. */
typedef struct {
    uint64_t id;
    int64_t step;
    float f[3 * WIRE_DENSE_BLOCK];
} dense_rec_t;

static int cmp_rec(const void *a, const void *b)
{
    uint64_t x = ((const dense_rec_t *)a)->id, y = ((const dense_rec_t *)b)->id;
    return (x > y) - (x < y);
}

/* Collective over the servers: gather every dense block on server 0, which writes
 * dense.params (with no blocks when the model has none). */
static int write_dense(server_t *s, const char *stage, int64_t step, int level,
                       ckpt_file_info_t *info, int *wrote)
{
    const ps_table_t *d = &s->dense;
    const int S = s->o->n_servers;
    *wrote = 0;
    dense_rec_t *mine = psr_xmalloc((size_t)(d->n_rows > 0 ? d->n_rows : 1) * sizeof *mine);
    for (int64_t r = 0; r < d->n_rows; r++) {
        mine[r].id = d->keys[r];
        mine[r].step = d->step[r];
        memcpy(mine[r].f, ps_table_w(d, r), sizeof mine[r].f);
    }
    int bytes = (int)((size_t)d->n_rows * sizeof *mine), *counts = NULL, *displs = NULL;
    dense_rec_t *all = NULL;
    int64_t total = 0;
    if (s->rank == 0) {
        counts = psr_xmalloc((size_t)S * sizeof *counts);
        displs = psr_xmalloc((size_t)S * sizeof *displs);
    }
    MPI_Gather(&bytes, 1, MPI_INT, counts, 1, MPI_INT, 0, s->o->srv_comm);
    int rc = PSR_OK;
    if (s->rank == 0) {
        for (int i = 0; i < S; i++) {
            if (total + counts[i] > INT_MAX)
                rc = PSR_ERR(PSR_ERR_INTERNAL, "dense parameters of %lld+ bytes exceed what one "
                             "MPI message carries", (long long)(total + counts[i]));
            displs[i] = (int)total;
            total += counts[i];
        }
        all = psr_xmalloc((size_t)(total > 0 ? total : 1));
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, s->o->srv_comm);
    if (rc == PSR_OK)
        MPI_Gatherv(mine, bytes, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, s->o->srv_comm);
    free(mine);
    if (rc == PSR_OK && s->rank == 0) {
        size_t n = (size_t)total / sizeof *all;
        qsort(all, n, sizeof *all, cmp_rec);
        ckpt_writer_t *w = NULL;
        rc = ckpt_dense_create(&w, stage, step, level);
        for (size_t i = 0; i < n && rc == PSR_OK; i++)
            rc = ckpt_dense_put(w, (uint32_t)all[i].id, all[i].f, 3 * WIRE_DENSE_BLOCK,
                                all[i].step);
        if (rc == PSR_OK) {
            rc = ckpt_writer_close(w, info);
            *wrote = rc == PSR_OK;
        } else {
            ckpt_writer_abort(w);
        }
    }
    free(all);
    free(counts);
    free(displs);
    return rc;
}

/* This server's part of the collective write (ckpt_part_fn). */
static int server_part(void *ctx, const char *stage, int64_t step, int level, ckpt_part_t *out)
{
    server_t *s = ctx;
    out->digest = ps_table_digest(&s->dense);
    int rc = PSR_OK;
    for (int t = 0; t < s->n_tables; t++) {
        out->digest += ps_table_digest(&s->table[t]);
        if (rc == PSR_OK)
            rc = ps_server_write_rows(s->o, s->rank, t, &s->table[t], stage, step, level,
                                      &out->files[t]);
        if (rc == PSR_OK) out->n_files = t + 1;
    }
    if (s->o->write_dense) { /* collective among servers: taken even after a failure */
        int wrote = 0, rc2 = write_dense(s, stage, step, level, &out->files[s->n_tables], &wrote);
        if (rc == PSR_OK) rc = rc2;
        if (rc == PSR_OK && wrote) out->n_files = s->n_tables + 1;
    }
    return rc;
}

static int handle_ckpt(server_t *s, const wire_hdr_t *h, int source)
{
    const int w = source - s->o->n_servers;
    PSR_RETURN_IF(!s->o->ckpt.job, PSR_ERR_WIRE,
                  "CKPT message from rank %d, but checkpoints are off (checkpoint.dir is empty)",
                  source);
    PSR_RETURN_IF(s->ckpt_seen[w], PSR_ERR_WIRE,
                  "second CKPT message from rank %d for the checkpoint at step %lld", source,
                  (long long)s->ckpt_step);
    PSR_RETURN_IF(s->ckpt_n > 0 && (int64_t)h->count != s->ckpt_step, PSR_ERR_WIRE,
                  "CKPT message from rank %d for step %lld while the checkpoint at step %lld is "
                  "being gathered", source, (long long)h->count, (long long)s->ckpt_step);
    s->ckpt_step = (int64_t)h->count;
    s->ckpt_seen[w] = 1;
    if (++s->ckpt_n < s->o->n_workers) return PSR_OK;
    s->ckpt_n = 0;
    memset(s->ckpt_seen, 0, (size_t)s->o->n_workers);
    return s->o->ckpt.run(s->o->ckpt.job, s->ckpt_step, server_part, s);
}

int ps_server_load(const ps_server_opts_t *o, int rank, const char *dir, ps_table_t *rows,
                   ps_table_t *dense, int64_t *n_loaded)
{
    *n_loaded = 0;
    uint64_t digest = 0; /* this server's share of the model digest (common/ckpt.h) */
    ckpt_manifest_t m;
    int rc = ckpt_manifest_load(dir, &m, CKPT_CHECK_SIZE);
    const psr_tables_t *T = &o->tables;
    if (rc == PSR_OK) rc = ckpt_check_buckets(&m, o->n_buckets);
    for (int t = 0; rc == PSR_OK && t < T->n; t++) {
        const psr_table_spec_t *sp = &T->t[t];
        const int floats = sp->width + psr_optim_state_floats(sp->optim, sp->width);
        if (t >= m.n_tables || m.tables[t].width != sp->width || m.tables[t].n_floats != floats)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: table %d (%s) does not match this job's: the "
                         "checkpoint has %s, the job width %d with %d floats per row (%s)",
                         dir, t, sp->name, t < m.n_tables ? "another width or optimizer" : "no such table",
                         sp->width, floats, psr_optim_name(sp->optim));
    }
    ckpt_bucket_loc_t *locs = NULL;
    ckpt_reader_t **rd = NULL;
    if (rc == PSR_OK) {
        locs = psr_xmalloc((size_t)o->n_buckets * sizeof *locs);
        rd = psr_xcalloc((size_t)m.n_files, sizeof *rd);
    }
    for (int t = 0; rc == PSR_OK && t < T->n; t++) {
        rc = ckpt_bucket_map_table(&m, t, locs);
        for (uint32_t b = 0; b < o->n_buckets && rc == PSR_OK; b++) {
            if (psr_bucket_owner(b, o->n_servers) != rank || locs[b].rows == 0) continue;
            int fi = locs[b].file;
            if (!rd[fi]) {
                char *path = ckpt_join(m.dir, m.files[fi].name);
                rc = ckpt_reader_open(&rd[fi], path, CKPT_KIND_ROWS);
                if (rc == PSR_OK && ckpt_reader_header(rd[fi])->rank != (uint32_t)m.files[fi].rank)
                    rc = PSR_ERR(PSR_ERR_FORMAT, "%s: header says server %u, the manifest lists "
                                 "it as server %d's (files swapped between ranks?)", path,
                                 ckpt_reader_header(rd[fi])->rank, m.files[fi].rank);
                free(path);
                if (rc != PSR_OK) break;
            }
            rc = ckpt_reader_select(rd[fi], b);
            for (;;) {
                ckpt_row_t row;
                int eof = 0;
                if (rc != PSR_OK || (rc = ckpt_rows_next(rd[fi], &row, &eof)) != PSR_OK || eof)
                    break;
                digest += psr_row_digest(row.key ^ psr_table_salt(t), row.floats,
                                         (size_t)m.tables[t].n_floats, row.step);
                if (ps_table_put(&rows[t], row.key, row.floats, row.step, row.last) < 0) {
                    rc = PSR_ERR(PSR_ERR_FORMAT, "%s/%s: key %016llx appears twice", m.dir,
                                 m.files[fi].name, (unsigned long long)row.key);
                    break;
                }
                ++*n_loaded;
            }
        }
    }
    if (rc == PSR_OK && dense && o->n_dense_blocks > 0) {
        ckpt_reader_t *r = NULL;
        int di = ckpt_manifest_find_file(&m, CKPT_KIND_DENSE, 0); /* M2: always listed */
        char *path = ckpt_join(m.dir, m.files[di].name);
        rc = ckpt_reader_open(&r, path, CKPT_KIND_DENSE);
        if (rc == PSR_OK && ckpt_reader_header(r)->step != m.step)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: header says step %lld, the manifest %lld (a file "
                         "from another checkpoint?)", path,
                         (long long)ckpt_reader_header(r)->step, (long long)m.step);
        free(path);
        int64_t got = 0, want = 0;
        for (int64_t id = rank; id < o->n_dense_blocks; id += o->n_servers) want++;
        while (rc == PSR_OK) {
            ckpt_dense_block_t blk;
            int eof = 0;
            if ((rc = ckpt_dense_next(r, &blk, &eof)) != PSR_OK || eof) break;
            if ((int64_t)blk.id >= o->n_dense_blocks || blk.n != 3u * WIRE_DENSE_BLOCK) {
                rc = PSR_ERR(PSR_ERR_FORMAT, "%s/dense.params: block %u of %zu floats does not "
                             "fit the model (%lld blocks of %d floats with Adam state)", m.dir,
                             blk.id, blk.n, (long long)o->n_dense_blocks, 3 * WIRE_DENSE_BLOCK);
                break;
            }
            if ((int64_t)(blk.id % (uint32_t)o->n_servers) != rank) continue;
            digest += psr_row_digest(blk.id, blk.floats, blk.n, blk.step);
            if (ps_table_put(dense, blk.id, blk.floats, blk.step, blk.step) < 0) {
                rc = PSR_ERR(PSR_ERR_FORMAT, "%s/dense.params: block %u appears twice", m.dir,
                             blk.id);
                break;
            }
            got++;
        }
        if (rc == PSR_OK && got != want)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s/dense.params: %lld of server %d's %lld dense blocks "
                         "are missing", m.dir, (long long)(want - got), rank, (long long)want);
        ckpt_reader_close(r);
    }
    if (rc == PSR_OK && rank == 0 && !(dense && o->n_dense_blocks > 0)) {
        /* dense parameters live on the workers (or nowhere): server 0 adds dense.params's
         * share of the digest, which the workers' replica gave when it was written */
        ckpt_reader_t *r = NULL;
        int di = ckpt_manifest_find_file(&m, CKPT_KIND_DENSE, 0);
        char *path = ckpt_join(m.dir, m.files[di].name);
        rc = ckpt_reader_open(&r, path, CKPT_KIND_DENSE);
        free(path);
        while (rc == PSR_OK) {
            ckpt_dense_block_t blk;
            int eof = 0;
            if ((rc = ckpt_dense_next(r, &blk, &eof)) != PSR_OK || eof) break;
            digest += psr_row_digest(blk.id, blk.floats, blk.n, blk.step);
        }
        ckpt_reader_close(r);
    }
    /* The model digest of what the servers loaded, summed over them, against the manifest's.
     * Every server of a job gets here (whatever failed above), so the sum is collective;
     * a server that failed reports its own error, the others go on to the agreement. */
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin && o->srv_comm != MPI_COMM_NULL && o->srv_comm != (MPI_Comm)0) {
        uint64_t mine[2] = {rc == PSR_OK ? 0u : 1u, digest}, sum[2] = {0, 0};
        MPI_Allreduce(mine, sum, 2, MPI_UINT64_T, MPI_SUM, o->srv_comm);
        if (rc == PSR_OK && sum[0] == 0 && m.has_digest && sum[1] != m.digest)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s/%s: records model digest %016llx, but the servers "
                         "loaded %016llx (the manifest or a file was altered)", m.dir,
                         CKPT_MANIFEST, (unsigned long long)m.digest,
                         (unsigned long long)sum[1]);
    }
    for (int i = 0; rd && i < m.n_files; i++) ckpt_reader_close(rd[i]);
    free(rd);
    free(locs);
    ckpt_manifest_free(&m);
    return rc;
}

/* --- the request loop ------------------------------------------------------------------ */

/* Check and serve the request of `count` bytes in buf from rank `source`. */
static int handle(server_t *s, const char *buf, int count, int source)
{
    const ps_server_opts_t *o = s->o;
    PSR_FORWARD(wire_check(buf, (size_t)count, source, s->widths, s->n_tables));
    wire_hdr_t h;
    memcpy(&h, buf, sizeof h);
    s->msg = buf;
    switch (h.type) {
    case WIRE_PULL: return handle_pull(s, &h, source);
    case WIRE_PUSH: return handle_push(s, &h, source);
    case WIRE_PULL_DENSE:
    case WIRE_PUSH_DENSE: return handle_dense(s, &h, source);
    case WIRE_CLOCK:
    case WIRE_CLOCK_WAIT: return handle_clock(s, &h, source);
    case WIRE_CKPT: return handle_ckpt(s, &h, source);
    case WIRE_SHUTDOWN:
        s->live--;
        if (s->rank == 0) {
            s->done[source - o->n_servers] = 1;
            return release_waiters(s);
        }
        return PSR_OK;
    default:
        return PSR_ERR(PSR_ERR_WIRE, "%s message from rank %d is not a request a server takes",
                       wire_type_name(h.type), source);
    }
}

/* Find the next request to take: from any source while no worker is gated, else from the
 * others in turn, so a gated worker's requests stay unreceived in MPI. 1 if found. */
static int probe(server_t *s, MPI_Message *msg, MPI_Status *st)
{
    int found = 0;
    if (s->n_gated == 0) {
        MPI_Improbe(MPI_ANY_SOURCE, WIRE_TAG_REQUEST, s->comm, &found, msg, st);
        return found;
    }
    const int W = s->o->n_workers;
    for (int k = 0; k < W; k++) {
        int w = (s->next_src + k) % W;
        if (s->gated[w]) continue;
        MPI_Improbe(s->o->n_servers + w, WIRE_TAG_REQUEST, s->comm, &found, msg, st);
        if (found) {
            s->next_src = (w + 1) % W;
            return 1;
        }
    }
    return 0;
}

/* Receive the matched request and serve it, or, when its bytes are still arriving (the
 * sender has to progress them), park it with its buffer and gate its sender until then. */
static int take(server_t *s, MPI_Message *msg, MPI_Status *st)
{
    const int source = st->MPI_SOURCE;
    int count = 0;
    MPI_Get_count(st, MPI_BYTE, &count);
    PSR_RETURN_IF(source < s->o->n_servers, PSR_ERR_WIRE,
                  "request from rank %d, which is a server, not a worker", source);
    ensure(&s->rbuf, &s->rcap, count > 0 ? (size_t)count : 1);
    MPI_Request req;
    int done = 0;
    MPI_Imrecv(s->rbuf, count, MPI_BYTE, msg, &req);
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) return handle(s, s->rbuf, count, source);
    const int w = source - s->o->n_servers;
    char *b = s->in_buf[w];
    size_t cap = s->in_cap[w];
    s->in_buf[w] = s->rbuf;
    s->in_cap[w] = s->rcap;
    s->rbuf = b;
    s->rcap = cap;
    s->in_req[w] = req;
    s->in_count[w] = count;
    s->n_parked++;
    gate(s, w);
    return PSR_OK;
}

/* Serve the parked requests that have arrived. */
static int take_parked(server_t *s, int *did)
{
    for (int w = 0; w < s->o->n_workers; w++) {
        int done = 0;
        if (s->in_req[w] == MPI_REQUEST_NULL) continue;
        MPI_Test(&s->in_req[w], &done, MPI_STATUS_IGNORE);
        if (!done) continue;
        s->n_parked--;
        gate(s, w);
        *did = 1;
        PSR_FORWARD(handle(s, s->in_buf[w], s->in_count[w], s->o->n_servers + w));
    }
    return PSR_OK;
}

int ps_server_run(const ps_server_opts_t *o, MPI_Comm comm, wire_stats_t *stats)
{
    server_t s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.comm = comm;
    MPI_Comm_rank(comm, &s.rank);
    int rc = PSR_OK;
    s.n_tables = o->tables.n;
    int widest = 1;
    for (int t = 0; t < s.n_tables && rc == PSR_OK; t++) {
        const psr_table_spec_t *sp = &o->tables.t[t];
        s.opt[t] = o->optim;
        s.opt[t].kind = sp->optim;
        s.widths[t] = sp->width;
        if (sp->width > widest) widest = sp->width;
        uint64_t salt = psr_table_salt(t);
        rc = ps_table_init_spec(&s.table[t], sp->width, psr_optim_state_floats(sp->optim, sp->width),
                                sp->optim == PSR_OPTIM_ADAM ? 0.0f : o->optim.init_acc,
                                o->seed ^ salt, sp->init_std, sp->zero_first, salt,
                                o->expect_rows, o->half);
    }
    if (o->half) s.row = psr_xmalloc(3u * (size_t)widest * sizeof *s.row);
    ps_table_init(&s.dense, WIRE_DENSE_BLOCK, 0, 0.0f,
                  o->n_dense_blocks / o->n_servers + 1);
    s.clock = psr_xcalloc((size_t)o->n_workers, sizeof *s.clock);
    s.done = psr_xcalloc((size_t)o->n_workers, sizeof *s.done);
    s.waiting = psr_xmalloc((size_t)o->n_workers * sizeof *s.waiting);
    for (int w = 0; w < o->n_workers; w++) s.waiting[w] = -1;
    s.ckpt_seen = psr_xcalloc((size_t)o->n_workers, 1);
    const size_t W = (size_t)o->n_workers, n_slots = W * PS_REPLY_SLOTS;
    s.out_req = psr_xmalloc(n_slots * sizeof *s.out_req);
    for (size_t i = 0; i < n_slots; i++) s.out_req[i] = MPI_REQUEST_NULL;
    s.out_buf = psr_xcalloc(n_slots, sizeof *s.out_buf);
    s.out_cap = psr_xcalloc(n_slots, sizeof *s.out_cap);
    s.out_done = psr_xmalloc(n_slots * sizeof *s.out_done);
    s.busy = psr_xcalloc(W, sizeof *s.busy);
    s.in_req = psr_xmalloc(W * sizeof *s.in_req);
    for (size_t w = 0; w < W; w++) s.in_req[w] = MPI_REQUEST_NULL;
    s.in_buf = psr_xcalloc(W, sizeof *s.in_buf);
    s.in_cap = psr_xcalloc(W, sizeof *s.in_cap);
    s.in_count = psr_xcalloc(W, sizeof *s.in_count);
    s.gated = psr_xcalloc(W, 1);
    if (o->min_count > 1) ps_sketch_init(&s.sketch, o->sketch_width);

    if (rc == PSR_OK && o->resume) {
        double t0 = psr_now();
        int64_t n = 0;
        rc = ps_server_load(o, s.rank, o->resume, s.table, &s.dense, &n);
        if (rc == PSR_OK)
            psr_info("loaded %lld rows and %lld dense blocks from %s in %.2fs", (long long)n,
                     (long long)s.dense.n_rows, o->resume, psr_now() - t0);
        for (int t = 0; t < s.n_tables && rc == PSR_OK; t++) {
            ps_table_t *tab = &s.table[t];
            if (o->max_rows > 0 && tab->n_rows > o->max_rows) {
                s.st.evictions += ps_table_shrink_lru(tab, o->max_rows);
                psr_warn("the checkpoint holds more rows of table '%s' than "
                         "embedding.max_rows=%lld: the least recently updated were dropped",
                         o->tables.t[t].name, (long long)o->max_rows);
            }
            for (int64_t r = 0; r < tab->n_rows; r++)
                if (tab->last[r] > s.max_step) s.max_step = tab->last[r];
        }
        s.next_ttl = s.max_step;
    }
    if (o->agree) rc = o->agree(o->agree_ctx, rc); /* every rank reaches this once */
    s.st.peak_rows = total_rows(&s);
    s.prog_examples = s.prog_last_examples = o->prog_examples0;
    s.prog_t0 = s.prog_last_t = psr_now();
    s.live = o->n_workers;
    psr_idle_t idle = {0};
    while (s.live > 0 && rc == PSR_OK) {
        int did = reap(&s);
        if (s.n_parked > 0) rc = take_parked(&s, &did);
        MPI_Message msg;
        MPI_Status st;
        if (rc == PSR_OK && probe(&s, &msg, &st)) {
            rc = take(&s, &msg, &st);
            did = 1;
        }
        /* server 0 also reports while every worker waits (on a stopped one, say) */
        if (s.rank == 0 && s.prog_examples > 0) progress(&s, 0);
        if (did)
            psr_idle_busy(&idle);
        else
            psr_idle_wait(&idle);
    }
    /* every worker took its replies before its SHUTDOWN (it waits for its pulls), so these
     * complete at once; no send may outlive its buffer */
    while (rc == PSR_OK && s.n_out > 0)
        if (!reap(&s)) psr_idle_wait(&idle);
    if (rc == PSR_OK && s.rank == 0 && s.prog_examples > o->prog_examples0) progress(&s, 1);
    s.st.rows = total_rows(&s);
    s.st.digest = ps_table_digest(&s.dense);
    /* memory in use (rows held), not the capacity the arrays reserve (ps/table.h) */
    s.st.bytes = ps_table_bytes_used(&s.dense) +
                 (s.sketch.cell ? (int64_t)(PS_SKETCH_DEPTH * (s.sketch.mask + 1) * 4) : 0);
    for (int t = 0; t < s.n_tables; t++) {
        s.st.digest += ps_table_digest(&s.table[t]);
        s.st.bytes += ps_table_bytes_used(&s.table[t]);
    }
    *stats = s.st;
    for (int t = 0; t < s.n_tables; t++) ps_table_free(&s.table[t]);
    ps_table_free(&s.dense);
    ps_sketch_free(&s.sketch);
    free(s.row);
    free(s.rbuf);
    /* after an error the job is about to abort: a send still in flight keeps its buffer */
    for (int i = 0; s.n_out == 0 && i < o->n_workers * PS_REPLY_SLOTS; i++) free(s.out_buf[i]);
    for (int w = 0; s.n_parked == 0 && w < o->n_workers; w++) free(s.in_buf[w]);
    free(s.out_req);
    free(s.out_buf);
    free(s.out_cap);
    free(s.out_done);
    free(s.busy);
    free(s.in_req);
    free(s.in_buf);
    free(s.in_cap);
    free(s.in_count);
    free(s.gated);
    free(s.clock);
    free(s.done);
    free(s.waiting);
    free(s.ckpt_seen);
    return rc;
}
