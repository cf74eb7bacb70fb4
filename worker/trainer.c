/* trainer: see trainer.h. */
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "ckpt.h"
#include "client.h"
#include "log.h"
#include "metrics.h"
#include "adam.h"
#include "loss.h"
#include "model.h"
#include "trainer_int.h"
#include "psr_error.h"
#include "schedule.h"
#include "signals.h"
#include "reader.h"
#include "wire.h"

#define NONE_LEFT INT64_MAX

/* Block until every active worker has finished `need` steps (the staleness bound). */
static void staleness_wait(trainer_t *t, int64_t need)
{
    if (t->n_workers == 1 || t->known_min >= need) return;
    while (t->known_min < need) t->known_min = wk_client_clock_wait(&t->client, need);
}

/* Index batch i and start its pull as step `step` (0-based). */
static void begin_step(trainer_t *t, int i, int64_t step)
{
    double t0 = psr_now();
    wk_batch_index(&t->batch[i]);
    t->t_read += psr_now() - t0;
    staleness_wait(t, step - t->cfg->train.max_staleness);
    wk_keyset_t ks = wk_batch_keys(&t->batch[i]);
    wk_client_pull_start(&t->client, &ks, t->batch[i].rows, step);
}

static int fill(trainer_t *t, int i, rd_reader_t *r, int64_t step)
{
    double t0 = psr_now();
    int n = wk_fill(t, &t->batch[i], r, WK_SPLIT_TRAIN);
    if (n > 0) wk_sample_negatives(t, &t->batch[i], step);
    t->t_read += psr_now() - t0;
    return n;
}

static size_t dense_len(const trainer_t *t) { return (size_t)t->model.n_blocks * WIRE_DENSE_BLOCK; }

/* Forward, loss, backward, joint clipping of sparse and dense gradients, sparse push, and in
 * `ps` mode the dense push. *loss: the batch's summed loss. */
static int train_step(trainer_t *t, int cur, int64_t step, double *loss)
{
    wk_batch_t *b = &t->batch[cur];
    wk_model_t *m = &t->model;
    double t0 = psr_now();
    const size_t n_grad = (size_t)b->roff[b->n_uniq];
    if (t->dense_mode == CFG_DENSE_PS && step % t->cfg->train.dense_pull_every == 0) {
        int rc = wk_client_dense_pull(&t->client, m->theta, m->n_blocks, step);
        if (rc != PSR_OK) return rc;
        t0 = psr_now();
    }
    m->ops->forward(m, b, 1, t->score);
    *loss = wk_batch_loss(m, b, t->score, t->dscore);
    m->ops->backward(m, b, t->dscore, b->grad);
    /* one norm over sparse and dense gradients together, as if they were one vector */
    double ss = 0.0;
    float *grad = b->grad;
    for (size_t j = 0; j < n_grad; j++) ss += (double)grad[j] * grad[j];
    for (size_t j = 0; j < m->n_params; j++) ss += (double)m->dtheta[j] * m->dtheta[j];
    const double norm = sqrt(ss), clip = t->cfg->optimizer.clip_norm;
    if (clip > 0 && norm > clip) {
        const float scale = (float)(clip / norm);
        for (size_t j = 0; j < n_grad; j++) grad[j] *= scale;
        for (size_t j = 0; j < m->n_params; j++) m->dtheta[j] *= scale;
    }
    t->t_compute += psr_now() - t0;
    if (!isfinite(norm))
        return PSR_ERR(PSR_ERR_DATA, "worker %d: gradient norm is %g at step %lld; lower "
                                     "optimizer.lr or set optimizer.clip_norm",
                       t->worker, norm, (long long)step);
    wk_keyset_t ks = wk_batch_keys(b);
    wk_client_push(&t->client, &ks, grad, step);
    if (t->dense_mode == CFG_DENSE_PS)
        wk_client_dense_push(&t->client, m->dtheta, m->n_blocks, step);
    return PSR_OK;
}

/* allreduce mode: sum the workers' dense gradients and active flags; every worker then
 * applies the same Adam step to its replica. Reduce + broadcast (not Allreduce) so every
 * replica receives bit-identical sums whatever algorithm MPI picks. Returns the number of
 * workers that trained this round (0: all are out of data). */
static int dense_allreduce(trainer_t *t, int active, int64_t step)
{
    const size_t n = dense_len(t);
    double t0 = psr_now();
    if (active)
        memcpy(t->red, t->model.dtheta, n * sizeof *t->red);
    else
        memset(t->red, 0, n * sizeof *t->red);
    t->red[n] = (float)active;
    if (t->worker == 0)
        MPI_Reduce(MPI_IN_PLACE, t->red, (int)(n + 1), MPI_FLOAT, MPI_SUM, 0, t->wk_comm);
    else
        MPI_Reduce(t->red, NULL, (int)(n + 1), MPI_FLOAT, MPI_SUM, 0, t->wk_comm);
    MPI_Bcast(t->red, (int)(n + 1), MPI_FLOAT, 0, t->wk_comm);
    t->client.wait_seconds += psr_now() - t0;
    int n_active = (int)t->red[n];
    if (n_active == 0) return 0;
    const float inv = 1.0f / (float)n_active;
    for (size_t j = 0; j < t->model.n_params; j++) t->red[j] *= inv;
    const float lr = (float)(t->adam.lr * psr_lr_scale(&t->sched, step));
    psr_adam_update(&t->adam, lr, step + 1, t->model.theta, t->dm, t->dv, t->red,
                    (int)t->model.n_params);
    return n_active;
}

/* Read batch i for step `step` and start its pull, unless train.max_steps ends the run
 * before that step. Returns rows read (0: no step to take) or -PSR_ERR_*. */
static int prepare(trainer_t *t, int i, int64_t step)
{
    const int64_t max_steps = t->cfg->train.max_steps;
    if (max_steps > 0 && step >= max_steps) return 0;
    rd_tell(t->train, &t->pos_of[i]);
    int n = fill(t, i, t->train, step);
    if (n > 0) {
        begin_step(t, i, step);
        t->pending = 1;
    }
    return n;
}

/* Wait for the rows of the pull in flight, if any. */
static int wait_rows(trainer_t *t)
{
    if (!t->pending) return PSR_OK;
    t->pending = 0;
    return wk_client_pull_wait(&t->client);
}

/* Step t->step on batch t->cur, whose pull was started: wait for its rows, prepare the next
 * batch into 1 - cur (before computing when train.max_staleness >= 1, so its pull overlaps
 * this step; after this step's CLOCK otherwise, since its staleness wait counts this step),
 * then compute and push. *n_next: rows of the next batch (0: none). */
static int run_step(trainer_t *t, int *n_next)
{
    const int prefetch = t->cfg->train.max_staleness >= 1, cur = t->cur;
    double loss;
    int rc = wait_rows(t);
    if (rc != PSR_OK) return rc;
    *n_next = prefetch ? prepare(t, 1 - cur, t->step + 1) : 0;
    if (*n_next < 0) return -*n_next;
    rc = train_step(t, cur, t->step, &loss);
    if (rc != PSR_OK) return rc;
    t->examples += t->batch[cur].n;
    t->rows_hash += t->batch[cur].rows_hash;
    wk_client_clock(&t->client, t->step + 1, t->batch[cur].n, loss, 0);
    if (!prefetch) *n_next = prepare(t, 1 - cur, t->step + 1);
    return *n_next < 0 ? -*n_next : PSR_OK;
}

/* --- checkpoints ------------------------------------------------------------------------ */

#define WK_STATE_MAGIC 0x3174617473727370ULL /* "psrstat1" */
#define WK_STATE_VERSION 1

/* worker-W.state (and, for every worker, the entries of global.state). Plain int64 data. */
typedef struct {
    uint64_t magic;
    int64_t version;
    int64_t worker, n_workers;
    int64_t epoch;       /* epoch in progress, 0-based */
    int64_t step;        /* steps this worker finished */
    int64_t examples;    /* examples it trained since the job's first run */
    uint64_t rows_hash;  /* sum of wk_row_hash over them */
    int64_t done;        /* its share of `epoch` is exhausted */
    uint64_t share_fp;   /* rd_share_fingerprint of its training share */
    rd_pos_t pos;        /* position of its first untrained row */
    psr_rng_t rng;       /* dropout masks */
} wk_state_t;
_Static_assert(sizeof(wk_state_t) == 248, "wk_state_t is docs/CHECKPOINTS.md rule W1");

/* global.state: a header and every worker's wk_state_t. */
typedef struct {
    uint64_t magic;
    int64_t version;
    int64_t n_workers;
    int64_t state_bytes;
} wk_global_hdr_t;

static void state_of(const trainer_t *t, wk_state_t *st)
{
    memset(st, 0, sizeof *st);
    st->magic = WK_STATE_MAGIC;
    st->version = WK_STATE_VERSION;
    st->worker = t->worker;
    st->n_workers = t->n_workers;
    st->epoch = t->epoch;
    st->step = t->step;
    st->examples = t->examples;
    st->rows_hash = t->rows_hash;
    const int64_t cap = t->cfg->train.max_steps;
    st->done = t->have == 0 && !(cap > 0 && t->step >= cap); /* capped is not done */
    st->share_fp = rd_share_fingerprint(t->train);
    if (t->have > 0)
        st->pos = t->pos_of[t->cur];
    else
        rd_tell(t->train, &st->pos);
    if (t->model.rng) st->rng = *t->model.rng;
}

/* The dense replica's block b as w | m | v, the layout of dense.params. */
static void replica_block(const trainer_t *t, int64_t b, float *out)
{
    const size_t o = (size_t)b * WIRE_DENSE_BLOCK, n = WIRE_DENSE_BLOCK * sizeof *out;
    memcpy(out, t->model.theta + o, n);
    memcpy(out + WIRE_DENSE_BLOCK, t->dm + o, n);
    memcpy(out + 2 * WIRE_DENSE_BLOCK, t->dv + o, n);
}

static uint64_t replica_digest(const trainer_t *t, float *scratch)
{
    uint64_t d = 0;
    for (int64_t b = 0; b < t->model.n_blocks; b++) {
        replica_block(t, b, scratch);
        d += psr_row_digest((uint64_t)b, scratch, 3 * WIRE_DENSE_BLOCK, t->step);
    }
    return d;
}

static int write_replica(const trainer_t *t, const char *stage, int64_t step, int level,
                         ckpt_file_info_t *info, uint64_t *digest)
{
    float *blk = psr_xmalloc(3 * WIRE_DENSE_BLOCK * sizeof *blk);
    ckpt_writer_t *w = NULL;
    int rc = ckpt_dense_create(&w, stage, step, level);
    *digest = 0; /* replica_digest's sum, over the blocks as they are written */
    for (int64_t b = 0; b < t->model.n_blocks && rc == PSR_OK; b++) {
        replica_block(t, b, blk);
        *digest += psr_row_digest((uint64_t)b, blk, 3 * WIRE_DENSE_BLOCK, t->step);
        rc = ckpt_dense_put(w, (uint32_t)b, blk, 3 * WIRE_DENSE_BLOCK, t->step);
    }
    if (rc == PSR_OK)
        rc = ckpt_writer_close(w, info);
    else
        ckpt_writer_abort(w);
    free(blk);
    return rc;
}

/* This worker's part of the collective write (ckpt_part_fn). */
static int worker_part(void *ctx, const char *stage, int64_t step, int level, ckpt_part_t *out)
{
    trainer_t *t = ctx;
    wk_state_t st;
    state_of(t, &st);
    int rc = ckpt_write_state(stage, CKPT_KIND_WORKER, t->worker, step, level, &st, sizeof st,
                              &out->files[0]);
    if (rc == PSR_OK) out->n_files = 1;
    /* global.state: every worker's state, on worker 0 (a collective, taken even after a
     * failure so that no worker waits) */
    const size_t states = sizeof(wk_global_hdr_t) + (size_t)t->n_workers * sizeof st;
    /* then the item catalogue, part of a user-item model (catalog.h C4; W4) */
    const size_t gbytes = states + (t->catalog.n > 0 ? wk_catalog_bytes(&t->catalog) : 0);
    char *g = t->worker == 0 ? psr_xmalloc(gbytes) : NULL;
    if (g && t->catalog.n > 0) wk_catalog_pack(&t->catalog, (unsigned char *)g + states);
    MPI_Gather(&st, sizeof st, MPI_BYTE, g ? g + sizeof(wk_global_hdr_t) : NULL, sizeof st,
               MPI_BYTE, 0, t->wk_comm);
    if (t->worker == 0) {
        wk_global_hdr_t h = {WK_STATE_MAGIC, WK_STATE_VERSION, t->n_workers, sizeof st};
        memcpy(g, &h, sizeof h);
        if (rc == PSR_OK)
            rc = ckpt_write_state(stage, CKPT_KIND_GLOBAL, 0, step, level, g, gbytes,
                                  &out->files[out->n_files]);
        if (rc == PSR_OK) out->n_files++;
        if (rc == PSR_OK && t->dense_mode == CFG_DENSE_ALLREDUCE) {
            rc = write_replica(t, stage, step, level, &out->files[out->n_files], &out->digest);
            if (rc == PSR_OK) out->n_files++;
        }
    }
    free(g);
    return rc;
}

/* The collective checkpoint at job step `at`: stop between steps, make sure every push left,
 * tell the servers, write. */
static int checkpoint(trainer_t *t, int64_t at)
{
    int rc = wait_rows(t);
    if (rc != PSR_OK) return rc;
    wk_client_push_wait(&t->client);
    wk_client_ckpt(&t->client, t->step, at);
    rc = t->o->ckpt.run(t->o->ckpt.job, at, worker_part, t);
    if (rc != PSR_OK) return rc;
    t->last_ckpt_step = at;
    t->last_ckpt_time = psr_now();
    return PSR_OK;
}

/* Evaluate at `step` (collective): first the examples every worker has trained so far, which
 * the metrics file records beside the figures. */
static int evaluate(trainer_t *t, int64_t step, wk_metrics_t *met)
{
    MPI_Allreduce(&t->examples, &t->seen, 1, MPI_INT64_T, MPI_SUM, t->wk_comm);
    return wk_evaluate(t, step, met);
}

enum { CTL_STEP, CTL_SIGNAL, CTL_TIME, CTL_N };

static int is_control(const trainer_t *t, int64_t step)
{
    const int64_t ev = t->cfg->eval.every_steps;
    const int64_t ck = t->ckpt_on ? t->cfg->checkpoint.every_steps : 0;
    return (ev > 0 && step % ev == 0) || (ck > 0 && step % ck == 0) ||
           (t->ckpt_on && step % WK_POLL_STEPS == 0);
}

/* The agreement of trainer.h: contribute `mine` (a step, or NONE_LEFT) and this worker's
 * requests; v gets the minimum step and whether any worker saw a signal or (worker 0) found
 * the checkpoint interval elapsed. One MPI_Allreduce(MAX) over negated steps and flags. */
static void agree(trainer_t *t, int64_t mine, int64_t v[CTL_N])
{
    int64_t in[CTL_N] = {-mine, 0, 0};
    if (t->ckpt_on) {
        in[CTL_SIGNAL] = psr_signal_pending() != 0;
        const double every = t->cfg->checkpoint.every_seconds;
        in[CTL_TIME] = t->worker == 0 && every > 0 && psr_now() - t->last_ckpt_time >= every;
    }
    MPI_Allreduce(in, v, CTL_N, MPI_INT64_T, MPI_MAX, t->wk_comm);
    v[CTL_STEP] = -v[CTL_STEP];
}

/* What the agreement v asks for at its step: an evaluation, a checkpoint, the end of the job
 * after a preemption checkpoint (t->stop). */
static int control(trainer_t *t, const int64_t v[CTL_N])
{
    const int64_t at = v[CTL_STEP], ev = t->cfg->eval.every_steps;
    const int64_t ck = t->cfg->checkpoint.every_steps;
    int rc = PSR_OK;
    if (ev > 0 && at % ev == 0) {
        wk_metrics_t met;
        rc = wait_rows(t);
        if (rc == PSR_OK) rc = evaluate(t, at, &met);
        if (rc != PSR_OK) return rc;
    }
    if (!t->ckpt_on) return PSR_OK;
    int due = (ck > 0 && at % ck == 0) || v[CTL_SIGNAL] || v[CTL_TIME];
    if (due && at != t->last_ckpt_step) rc = checkpoint(t, at);
    if (rc == PSR_OK && v[CTL_SIGNAL]) {
        if (t->worker == 0)
            psr_info("preemption signal: stopping after the checkpoint at step %lld",
                     (long long)t->last_ckpt_step);
        t->stop = 1;
    }
    return rc;
}

/* One epoch in allreduce mode: every worker takes part in every round, training when it has
 * data and contributing zeros once out, until no worker has data. Steps stay in lockstep, so
 * control points are the same on every worker without further agreement. */
static int epoch_lockstep(trainer_t *t)
{
    int rc;
    t->have = prepare(t, t->cur, t->step);
    if (t->have < 0) return -t->have;
    for (;;) {
        int n_next = 0;
        if (t->have > 0) {
            rc = run_step(t, &n_next);
            if (rc != PSR_OK) return rc;
        }
        if (dense_allreduce(t, t->have > 0, t->step) == 0) break;
        ++t->step;
        if (t->have > 0) {
            if (n_next == 0) wk_client_clock(&t->client, t->step, 0, 0.0, WIRE_CLOCK_F_DONE);
            t->cur = 1 - t->cur;
            t->have = n_next;
        }
        if (is_control(t, t->step)) {
            int64_t v[CTL_N];
            agree(t, t->step, v);
            rc = control(t, v);
            if (rc != PSR_OK || t->stop) return rc;
        }
    }
    return PSR_OK;
}

/* One epoch in asynchronous mode (no dense parameters, or dense parameters on servers):
 * workers never wait for each other except through the staleness bound and the agreement
 * protocol at control points and the epoch end. */
static int epoch_async(trainer_t *t)
{
    int64_t v[CTL_N];
    int rc;
    t->have = prepare(t, t->cur, t->step);
    if (t->have < 0) return -t->have;
    while (t->have > 0) {
        int n_next;
        rc = run_step(t, &n_next);
        if (rc != PSR_OK) return rc;
        ++t->step;
        t->cur = 1 - t->cur;
        t->have = n_next;
        if (t->have > 0 && is_control(t, t->step)) {
            rc = wait_rows(t);
            if (rc != PSR_OK) return rc;
            agree(t, t->step, v);
            rc = control(t, v);
            if (rc != PSR_OK || t->stop) return rc;
        }
    }
    /* out of data (or steps) for this epoch: stop holding others back, then follow the
     * control points the others still reach until everyone is out */
    wk_client_push_wait(&t->client);
    wk_client_clock(&t->client, t->step, 0, 0.0, WIRE_CLOCK_F_DONE);
    for (;;) {
        agree(t, NONE_LEFT, v);
        if (v[CTL_STEP] == NONE_LEFT) break;
        rc = control(t, v);
        if (rc != PSR_OK || t->stop) return rc;
    }
    return PSR_OK;
}

/* --- resume ----------------------------------------------------------------------------- */

static int read_state(const char *dir, int kind, int rank, void **bytes, size_t *n)
{
    char name[CKPT_NAME_MAX];
    ckpt_file_name(kind, rank, name);
    char *path = ckpt_join(dir, name);
    int rc = ckpt_read_state(path, kind, bytes, n);
    free(path);
    return rc;
}

/* The header of state file (kind, rank) in dir says the manifest's step and that rank: a
 * state file from another checkpoint or another worker, with the manifest's sizes and CRCs
 * rewritten to match, would otherwise resume a worker at the wrong place. */
static int state_header_check(const char *dir, int kind, int rank, int64_t step)
{
    char name[CKPT_NAME_MAX];
    ckpt_file_name(kind, rank, name);
    char *path = ckpt_join(dir, name);
    ckpt_reader_t *r = NULL;
    int rc = ckpt_reader_open(&r, path, kind);
    if (rc == PSR_OK) {
        const ckpt_header_t *h = ckpt_reader_header(r);
        if (h->step != step || h->rank != (uint32_t)rank)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: header says step %lld rank %u, the manifest step "
                         "%lld rank %d (a file from another checkpoint?)", path,
                         (long long)h->step, h->rank, (long long)step, rank);
    }
    ckpt_reader_close(r);
    free(path);
    return rc;
}

static int check_state(const wk_state_t *st, const char *dir, const char *what)
{
    PSR_RETURN_IF(st->magic != WK_STATE_MAGIC || st->version != WK_STATE_VERSION, PSR_ERR_FORMAT,
                  "%s/%s: not a psrec worker state of version %d", dir, what, WK_STATE_VERSION);
    PSR_RETURN_IF(st->epoch < 0 || st->step < 0 || st->examples < 0, PSR_ERR_FORMAT,
                  "%s/%s: negative epoch, step or example count", dir, what);
    return PSR_OK;
}

/* DIR/global.state into *bytes (n bytes; free it) and its checked header (W2). On an error
 * after the read, *bytes is still set. */
static int read_global(const char *dir, void **bytes, size_t *n_out, wk_global_hdr_t *hp)
{
    PSR_FORWARD(read_state(dir, CKPT_KIND_GLOBAL, 0, bytes, n_out));
    const size_t n = *n_out;
    wk_global_hdr_t h;
    memset(&h, 0, sizeof h);
    int rc = PSR_OK;
    if (n < sizeof h) rc = PSR_ERR(PSR_ERR_FORMAT, "%s/global.state: %zu bytes, too short", dir, n);
    if (rc == PSR_OK) {
        memcpy(&h, *bytes, sizeof h);
        if (h.magic != WK_STATE_MAGIC || h.version != WK_STATE_VERSION ||
            h.state_bytes != (int64_t)sizeof(wk_state_t) || h.n_workers < 1 ||
            h.n_workers > (int64_t)(n / sizeof(wk_state_t)) ||
            n < sizeof h + (size_t)h.n_workers * sizeof(wk_state_t))
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s/global.state: not a psrec global state of version %d "
                         "(%zu bytes)", dir, WK_STATE_VERSION, n);
    }
    *hp = h;
    return rc;
}

/* Worker count changed (or the share no longer matches): positions cannot be mapped, so the
 * interrupted epoch starts again for everyone; steps continue from the furthest worker, and
 * worker 0 carries the example counts. */
static int resume_global(trainer_t *t, const char *dir, const char *why)
{
    void *bytes = NULL;
    size_t n = 0;
    wk_global_hdr_t h;
    int rc = read_global(dir, &bytes, &n, &h);
    if (rc == PSR_OK) { /* W4: a trailing item catalogue must parse (it is rebuilt from data) */
        const size_t states = sizeof h + (size_t)h.n_workers * sizeof(wk_state_t);
        if (n > states) {
            wk_catalog_t cat;
            char what[CFG_PATH_MAX + 32];
            snprintf(what, sizeof what, "%s/global.state", dir);
            rc = wk_catalog_unpack(&cat, (const unsigned char *)bytes + states, n - states, what);
            wk_catalog_free(&cat);
        }
    }
    int64_t epoch = INT64_MAX, step = 0, examples = 0, all_done = 1;
    uint64_t hash = 0;
    for (int64_t w = 0; rc == PSR_OK && w < h.n_workers; w++) {
        wk_state_t st;
        memcpy(&st, (char *)bytes + sizeof h + (size_t)w * sizeof st, sizeof st);
        rc = check_state(&st, dir, "global.state");
        if (st.epoch < epoch) epoch = st.epoch;
        if (st.step > step) step = st.step;
        examples += st.examples;
        hash += st.rows_hash;
        all_done &= st.done != 0;
    }
    free(bytes);
    if (rc != PSR_OK) return rc;
    t->epoch = all_done ? epoch + 1 : epoch;
    t->step = step;
    t->examples = t->worker == 0 ? examples : 0;
    t->rows_hash = t->worker == 0 ? hash : 0;
    if (t->worker == 0 && !all_done)
        psr_warn("resume: %s; epoch %lld starts again from its first row (examples of it "
                 "trained before the checkpoint are trained again)", why, (long long)t->epoch + 1);
    return PSR_OK;
}

static int resume_dense(trainer_t *t, const char *dir)
{
    char *path = ckpt_join(dir, "dense.params");
    ckpt_reader_t *r = NULL;
    int rc = ckpt_reader_open(&r, path, CKPT_KIND_DENSE);
    free(path);
    int64_t got = 0;
    while (rc == PSR_OK) {
        ckpt_dense_block_t b;
        int eof = 0;
        if ((rc = ckpt_dense_next(r, &b, &eof)) != PSR_OK || eof) break;
        if ((int64_t)b.id >= t->model.n_blocks || b.n != 3u * WIRE_DENSE_BLOCK) {
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s/dense.params: block %u of %zu floats does not fit "
                         "the model (%lld blocks of %d floats with Adam state)", dir, b.id, b.n,
                         (long long)t->model.n_blocks, 3 * WIRE_DENSE_BLOCK);
            break;
        }
        const size_t o = (size_t)b.id * WIRE_DENSE_BLOCK, n = WIRE_DENSE_BLOCK * sizeof(float);
        memcpy(t->model.theta + o, b.floats, n);
        memcpy(t->dm + o, b.floats + WIRE_DENSE_BLOCK, n);
        memcpy(t->dv + o, b.floats + 2 * WIRE_DENSE_BLOCK, n);
        got++;
    }
    ckpt_reader_close(r);
    if (rc == PSR_OK && got != t->model.n_blocks)
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s/dense.params: %lld dense blocks, the model has %lld", dir,
                     (long long)got, (long long)t->model.n_blocks);
    return rc;
}

/* Restore this worker from checkpoint `dir`: its own state when the worker count is the
 * same, else the restart rule of resume_global; the dense replica in allreduce mode. Every
 * worker takes the same collective (the agreement on whether all shares still match) whatever
 * fails, so a bad checkpoint is reported through the start-up agreement, not a hang. */
static int resume(trainer_t *t, const char *dir)
{
    ckpt_manifest_t m;
    int rc = ckpt_manifest_load(dir, &m, CKPT_CHECK_NONE);
    const int same = rc == PSR_OK && m.n_workers == t->n_workers;
    int64_t ck_step = m.step;
    char why[160];
    snprintf(why, sizeof why, "the checkpoint was written by %d worker%s, this job has %d",
             m.n_workers, m.n_workers == 1 ? "" : "s", t->n_workers);
    ckpt_manifest_free(&m);
    wk_state_t st;
    memset(&st, 0, sizeof st);
    int match = 0, all = 0;
    if (rc == PSR_OK) rc = state_header_check(dir, CKPT_KIND_GLOBAL, 0, ck_step);
    if (rc == PSR_OK && same) rc = state_header_check(dir, CKPT_KIND_WORKER, t->worker, ck_step);
    if (rc == PSR_OK && same) {
        void *bytes = NULL;
        size_t n = 0;
        rc = read_state(dir, CKPT_KIND_WORKER, t->worker, &bytes, &n);
        if (rc == PSR_OK && n != sizeof st)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: worker %d state of %zu bytes, expected %zu", dir,
                         t->worker, n, sizeof st);
        if (rc == PSR_OK) {
            memcpy(&st, bytes, sizeof st);
            rc = check_state(&st, dir, "worker state");
        }
        free(bytes);
        match = rc == PSR_OK && st.share_fp == rd_share_fingerprint(t->train) &&
                st.worker == t->worker;
    }
    /* every worker must take the same path: agree on whether all shares still match */
    MPI_Allreduce(&match, &all, 1, MPI_INT, MPI_MIN, t->wk_comm);
    if (rc != PSR_OK) return rc;
    if (same && all) {
        rc = rd_seek(t->train, &st.pos);
        if (rc != PSR_OK) return rc;
        t->epoch = st.epoch;
        t->step = st.step;
        t->examples = st.examples;
        t->rows_hash = st.rows_hash;
        if (t->model.rng) *t->model.rng = st.rng;
    } else {
        if (same)
            snprintf(why, sizeof why, "data.train differs from when the checkpoint was written "
                     "(files, sizes or order)");
        rc = resume_global(t, dir, why);
    }
    if (rc == PSR_OK && t->dense_mode == CFG_DENSE_ALLREDUCE) rc = resume_dense(t, dir);
    if (rc != PSR_OK) return rc;
    t->last_ckpt_step = ck_step;
    return PSR_OK;
}

int wk_ckpt_progress(const char *dir, int64_t *examples, int64_t *epoch, int64_t *steps)
{
    *examples = *epoch = *steps = 0;
    void *bytes = NULL;
    size_t n = 0;
    wk_global_hdr_t h;
    int rc = read_global(dir, &bytes, &n, &h);
    if (rc != PSR_OK) return rc;
    int64_t ep = INT64_MAX, all_done = 1;
    for (int64_t w = 0; rc == PSR_OK && w < h.n_workers; w++) {
        wk_state_t st;
        memcpy(&st, (char *)bytes + sizeof h + (size_t)w * sizeof st, sizeof st);
        rc = check_state(&st, dir, "global.state");
        if (st.epoch < ep) ep = st.epoch;
        if (st.step > *steps) *steps = st.step;
        *examples += st.examples;
        all_done &= st.done != 0;
    }
    free(bytes);
    if (rc == PSR_OK) *epoch = all_done ? ep + 1 : ep; /* as resume_global continues */
    return rc;
}

/* --- the run ---------------------------------------------------------------------------- */

/* Open a reader as rd_open_cfg does and, for text, read its first row through a second reader
 * that is then closed: a plain file named .gz or a first file in a format training does not
 * accept is found now, before the job starts, not when the first batch is read. */
static int open_input(rd_reader_t **out, const cfg_t *cfg, int use, int worker, int n_workers)
{
    PSR_FORWARD(rd_open_cfg(out, cfg, use, worker, n_workers));
    if (!*out) return PSR_OK;
    rd_pos_t pos;
    rd_tell(*out, &pos);
    if (pos.kind != RD_SRC_TEXT) return PSR_OK; /* blocks and generated rows check at open */
    rd_reader_t *probe = NULL;
    /* the probe reads in file order: a shuffled reader would fill a whole window first */
    int rc = rd_open_cfg(&probe, cfg, use == RD_USE_TRAIN ? RD_USE_HELDOUT : use, worker,
                         n_workers);
    if (rc == PSR_OK && probe) {
        rd_row_t row;
        int n = rd_next(probe, &row);
        if (n < 0) rc = -n;
    }
    rd_close(probe);
    if (rc != PSR_OK) {
        rd_close(*out);
        *out = NULL;
    }
    return rc;
}

int wk_train_open(wk_trainer_t **out, const cfg_t *cfg, MPI_Comm wk_comm)
{
    trainer_t *t = psr_xcalloc(1, sizeof *t);
    *out = t;
    t->cfg = cfg;
    t->wk_comm = wk_comm;
    t->last_ckpt_step = -1;
    MPI_Comm_rank(wk_comm, &t->worker);
    MPI_Comm_size(wk_comm, &t->n_workers);
    int rc = open_input(&t->train, cfg, RD_USE_TRAIN, t->worker, t->n_workers);
    if (rc == PSR_OK && cfg->data.split == CFG_SPLIT_FILES)
        rc = open_input(&t->test, cfg, RD_USE_TEST, t->worker, t->n_workers);
    else if (rc == PSR_OK) /* the held-out rows come out of data.train */
        rc = rd_open_cfg(&t->test, cfg, RD_USE_HELDOUT, t->worker, t->n_workers);
    if (rc != PSR_OK) return rc;
    t->schema = *rd_schema(t->train);
    rc = wk_model_init(&t->model, cfg, &t->schema, cfg->train.batch_size);
    if (rc == PSR_OK) t->model_ok = 1;
    return rc;
}

void wk_train_free(wk_trainer_t *t)
{
    if (!t) return;
    rd_close(t->train);
    rd_close(t->test);
    if (t->client_ok) wk_client_free(&t->client);
    if (t->model_ok) wk_model_free(&t->model);
    wk_catalog_free(&t->catalog);
    wk_split_free(&t->split);
    free(t->dm);
    free(t->dv);
    free(t->red);
    for (int i = 0; i < 3; i++)
        if (t->batch_ok) wk_batch_free(&t->batch[i]);
    free(t->score);
    free(t->dscore);
    wk_eval_free(t);
    free(t);
}

int wk_train_run(wk_trainer_t *tp, const wk_train_opts_t *o, MPI_Comm ps_comm, int n_servers,
                 wk_result_t *res)
{
    trainer_t *const t = tp;
    const cfg_t *cfg = t->cfg;
    MPI_Comm wk_comm = t->wk_comm;
    memset(res, 0, sizeof *res);
    t->o = o;
    t->n_servers = n_servers;
    t->ckpt_on = o->ckpt.job != NULL;
    t->last_ckpt_time = psr_now();

    int rc = wk_prepare_data(t); /* collective; every worker takes part even after a failure */
    t->model.catalog = t->catalog.n > 0 ? &t->catalog : NULL;
    const int B = cfg->train.batch_size;
    int32_t widths[PSR_MAX_TABLES];
    for (int k = 0; k < t->model.lay.tables.n; k++) widths[k] = t->model.lay.tables.t[k].width;
    wk_client_init(&t->client, ps_comm, n_servers, widths, t->model.lay.tables.n);
    t->client_ok = 1;
    wk_layout_t eval_lay = t->model.lay; /* evaluation batches carry no negatives */
    eval_lay.n_neg = 0;
    eval_lay.neg_table = -1;
    for (int i = 0; i < 3; i++)
        wk_batch_init(&t->batch[i], B, &t->schema, i == EVAL ? &eval_lay : &t->model.lay,
                      n_servers, (uint32_t)cfg->cluster.buckets);
    t->batch_ok = 1;
    const int n_cols = 1 + (t->model.lay.neg_table >= 0 ? t->model.lay.n_neg : 0);
    t->score = psr_xmalloc((size_t)B * (size_t)n_cols * sizeof *t->score);
    t->dscore = psr_xmalloc((size_t)B * (size_t)n_cols * sizeof *t->dscore);
    t->adam = (psr_adam_t){(float)cfg->optimizer.lr, (float)cfg->optimizer.beta1,
                           (float)cfg->optimizer.beta2, (float)cfg->optimizer.eps,
                           (float)cfg->optimizer.weight_decay};
    t->sched = o->sched;
    t->dense_mode = t->model.n_params > 0 ? cfg->train.dense_sync : -1;
    if (t->dense_mode == CFG_DENSE_ALLREDUCE) {
        t->dm = psr_xcalloc(dense_len(t), sizeof *t->dm);
        t->dv = psr_xcalloc(dense_len(t), sizeof *t->dv);
        t->red = psr_xmalloc((dense_len(t) + 1) * sizeof *t->red);
    }
    if (rc == PSR_OK && o->resume) rc = resume(t, o->resume);
    else if (o->resume) { /* take resume()'s one collective all the same */
        int match = 0, all;
        MPI_Allreduce(&match, &all, 1, MPI_INT, MPI_MIN, wk_comm);
    }
    /* the inputs are open and read: the whole job agrees before any server is asked */
    if (o->agree) rc = o->agree(o->agree_ctx, rc);
    if (rc != PSR_OK) return rc;
    if (o->resume) {
        /* tell server 0 where this worker's clock stands before anyone waits on it */
        wk_client_clock_resume(&t->client, t->step);
        MPI_Barrier(wk_comm);
    } else if (t->dense_mode == CFG_DENSE_PS) {
        /* worker 0 stores the initial dense values; nobody pulls before they are acknowledged
         * (on resume the servers loaded them from the checkpoint) */
        if (t->worker == 0) wk_client_dense_init(&t->client, t->model.theta, t->model.n_blocks);
        MPI_Barrier(wk_comm);
    }

    wk_metrics_t met;
    memset(&met, 0, sizeof met);
    double t_start = psr_now();
    const double wait0 = t->client.wait_seconds; /* waits before the start are not in it */
    const int64_t examples0 = t->examples;

    /* The reader starts where the first epoch of this run starts: at the beginning, or at
     * the position resume() restored. Once train.max_steps caps this worker, its epoch and
     * position stay where they are (what a checkpoint saves, so that a resumed run with a
     * higher cap continues there), while it still follows the others' epoch ends. */
    int fresh = 1;
    const int64_t max_steps = cfg->train.max_steps;
    for (int64_t e = t->epoch; e < cfg->train.epochs && rc == PSR_OK && !t->stop; e++) {
        const int capped = max_steps > 0 && t->step >= max_steps;
        if (!capped) {
            t->epoch = e;
            if (!fresh) rc = rd_rewind(t->train);
        }
        fresh = 0;
        if (rc != PSR_OK) break;
        t->cur = 0;
        if (t->dense_mode == CFG_DENSE_ALLREDUCE)
            rc = epoch_lockstep(t);
        else
            rc = epoch_async(t);
        if (rc == PSR_OK && !t->stop && e + 1 < cfg->train.epochs) {
            wk_client_push_wait(&t->client);
            wk_client_clock_resume(&t->client, t->step);
            t->known_min = 0;
            MPI_Barrier(wk_comm);
        }
    }
    if (rc == PSR_OK && !t->stop && !(max_steps > 0 && t->step >= max_steps))
        t->epoch = cfg->train.epochs; /* every epoch complete */
    double t_end = psr_now();
    if (rc == PSR_OK && !t->stop && t->ckpt_on) { /* the final state, unless just written */
        int64_t at;
        MPI_Allreduce(&t->step, &at, 1, MPI_INT64_T, MPI_MAX, wk_comm);
        t->have = 0;
        if (at != t->last_ckpt_step) rc = checkpoint(t, at);
    }
    if (rc == PSR_OK && !t->stop) rc = evaluate(t, t->step, &met);
    if (rc == PSR_OK) {
        res->met = met;
        res->preempted = t->stop;
        res->ckpt_step = t->last_ckpt_step;
        MPI_Allreduce(&t->examples, &res->examples, 1, MPI_INT64_T, MPI_SUM, wk_comm);
        MPI_Allreduce(&t->rows_hash, &res->rows_hash, 1, MPI_UINT64_T, MPI_SUM, wk_comm);
        MPI_Allreduce(&t->step, &res->steps, 1, MPI_INT64_T, MPI_MAX, wk_comm);
        int64_t mine = t->examples - examples0, run;
        MPI_Allreduce(&mine, &run, 1, MPI_INT64_T, MPI_SUM, wk_comm);
        res->run_examples = run;
        int64_t bad = rd_bad_rows(t->train) + (t->test ? rd_bad_rows(t->test) : 0);
        MPI_Allreduce(&bad, &res->bad_rows, 1, MPI_INT64_T, MPI_SUM, wk_comm);
        double secs = t_end - t_start;
        MPI_Allreduce(&secs, &res->seconds, 1, MPI_DOUBLE, MPI_MAX, wk_comm);
        /* this worker's split covers its whole run, the last checkpoint and evaluation too */
        res->read_seconds = t->t_read;
        res->compute_seconds = t->t_compute;
        res->wait_seconds = t->client.wait_seconds - wait0;
        res->own_seconds = psr_now() - t_start;
        if (t->dense_mode == CFG_DENSE_ALLREDUCE) {
            float *scratch = psr_xmalloc(3 * WIRE_DENSE_BLOCK * sizeof *scratch);
            res->dense_digest = replica_digest(t, scratch);
            free(scratch);
        }
        wk_client_push_wait(&t->client);
        wk_client_shutdown(&t->client);
    }
    return rc;
}
