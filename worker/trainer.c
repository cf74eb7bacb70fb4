/* trainer: see trainer.h. */
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "client.h"
#include "log.h"
#include "metrics.h"
#include "adam.h"
#include "net.h"
#include "psr_error.h"
#include "schedule.h"
#include "reader.h"
#include "wire.h"

#define NONE_LEFT INT64_MAX
#define EVAL 2 /* index of the evaluation batch */

typedef struct {
    const cfg_t *cfg;
    MPI_Comm wk_comm;
    int worker, n_workers, n_servers;
    wk_client_t client;
    wk_net_t net;
    int dense_mode;     /* -1: no dense parameters; else enum cfg_dense_sync */
    float *dm, *dv;     /* allreduce: Adam state of the dense replica (padded length) */
    float *red;         /* allreduce: reduction buffer, padded length + 1 (the active count) */
    psr_adam_t adam;
    psr_schedule_t sched;
    wk_batch_t batch[3]; /* two alternating training batches, and one for evaluation */
    float *rows[3];      /* (cap_keys, width) pulled rows of batch[i] */
    float *grad;       /* (cap_keys, width) */
    float *logit;      /* (batch_size) */
    int64_t known_min; /* slowest worker's finished steps, as last heard */
    int pending;       /* a training pull is in flight */
    rd_reader_t *test;
    float *ev_p, *ev_y; /* this worker's test predictions */
    size_t ev_cap;
    float *all_p, *all_y; /* worker 0: everyone's */
    size_t all_cap;
    double t_read, t_compute;
} trainer_t;

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
    wk_client_pull_start(&t->client, t->batch[i].uniq, t->batch[i].srv_off, t->rows[i], step);
}

static int fill(trainer_t *t, int i, rd_reader_t *r)
{
    double t0 = psr_now();
    int n = wk_batch_fill(&t->batch[i], r);
    t->t_read += psr_now() - t0;
    return n;
}

static void ev_append(trainer_t *t, const float *logit, const float *label, int n, size_t *len)
{
    if (*len + (size_t)n > t->ev_cap) {
        size_t cap = t->ev_cap ? t->ev_cap : 65536;
        while (cap < *len + (size_t)n) cap *= 2;
        t->ev_p = psr_xrealloc(t->ev_p, cap * sizeof *t->ev_p);
        t->ev_y = psr_xrealloc(t->ev_y, cap * sizeof *t->ev_y);
        t->ev_cap = cap;
    }
    for (int j = 0; j < n; j++) {
        t->ev_p[*len + j] = (float)(1.0 / (1.0 + exp(-(double)logit[j])));
        t->ev_y[*len + j] = label[j];
    }
    *len += (size_t)n;
}

/* Evaluate on every worker's share of data.test; collective over wk_comm. */
static int evaluate(trainer_t *t, int64_t step, double *auc, double *logloss, int64_t *n_out)
{
    *auc = *logloss = NAN;
    *n_out = 0;
    if (!t->test) return PSR_OK;
    PSR_FORWARD(rd_rewind(t->test));
    size_t len = 0;
    int rc = PSR_OK;
    for (;;) {
        wk_batch_t *b = &t->batch[EVAL];
        int n = wk_batch_fill(b, t->test);
        if (n < 0) {
            rc = -n;
            break;
        }
        if (n == 0) break;
        wk_batch_index(b);
        wk_client_pull_start(&t->client, b->uniq, b->srv_off, t->rows[EVAL], step);
        rc = wk_client_pull_wait(&t->client);
        if (rc != PSR_OK) break;
        wk_net_forward(&t->net, b, t->rows[EVAL], 0, t->logit);
        ev_append(t, t->logit, b->label, n, &len);
    }
    if (rc != PSR_OK) return rc; /* the caller stops the job: no one waits in the gather */

    int my = (int)len, *counts = NULL, *displs = NULL;
    if (t->worker == 0) {
        counts = psr_xmalloc((size_t)t->n_workers * sizeof *counts);
        displs = psr_xmalloc((size_t)t->n_workers * sizeof *displs);
    }
    MPI_Gather(&my, 1, MPI_INT, counts, 1, MPI_INT, 0, t->wk_comm);
    size_t total = 0;
    if (t->worker == 0) {
        for (int w = 0; w < t->n_workers; w++) {
            displs[w] = (int)total;
            total += (size_t)counts[w];
        }
        if (total > t->all_cap) {
            t->all_p = psr_xrealloc(t->all_p, total * sizeof *t->all_p);
            t->all_y = psr_xrealloc(t->all_y, total * sizeof *t->all_y);
            t->all_cap = total;
        }
    }
    MPI_Gatherv(t->ev_p, my, MPI_FLOAT, t->all_p, counts, displs, MPI_FLOAT, 0, t->wk_comm);
    MPI_Gatherv(t->ev_y, my, MPI_FLOAT, t->all_y, counts, displs, MPI_FLOAT, 0, t->wk_comm);
    double m[3] = {NAN, NAN, 0};
    if (t->worker == 0) {
        m[0] = met_auc(t->all_p, t->all_y, total);
        m[1] = met_logloss(t->all_p, t->all_y, total);
        m[2] = (double)total;
        psr_info("eval: step=%lld auc=%.6f logloss=%.6f examples=%zu", (long long)step, m[0],
                 m[1], total);
    }
    MPI_Bcast(m, 3, MPI_DOUBLE, 0, t->wk_comm);
    free(counts);
    free(displs);
    *auc = m[0];
    *logloss = m[1];
    *n_out = (int64_t)m[2];
    return PSR_OK;
}

/* The agreement protocol of trainer.h: contribute `mine` (a step, or NONE_LEFT); returns
 * the minimum over workers. */
static int64_t agree(trainer_t *t, int64_t mine)
{
    int64_t all;
    MPI_Allreduce(&mine, &all, 1, MPI_INT64_T, MPI_MIN, t->wk_comm);
    return all;
}

static size_t dense_len(const trainer_t *t) { return (size_t)t->net.n_blocks * WIRE_DENSE_BLOCK; }

/* Forward, backward, joint clipping of sparse and dense gradients, sparse push, and in `ps`
 * mode the dense push. *loss: the batch's summed loss. */
static int train_step(trainer_t *t, int cur, int64_t step, double *loss)
{
    wk_batch_t *b = &t->batch[cur];
    double t0 = psr_now();
    const size_t n_grad = (size_t)b->n_uniq * (size_t)t->net.width;
    if (t->dense_mode == CFG_DENSE_PS && step % t->cfg->train.dense_pull_every == 0) {
        int rc = wk_client_dense_pull(&t->client, t->net.theta, t->net.n_blocks, step);
        if (rc != PSR_OK) return rc;
        t0 = psr_now();
    }
    wk_net_forward(&t->net, b, t->rows[cur], 1, t->logit);
    *loss = wk_net_backward(&t->net, b, t->rows[cur], t->logit, t->grad);
    /* one norm over sparse and dense gradients together, as if they were one vector */
    double ss = 0.0;
    for (size_t j = 0; j < n_grad; j++) ss += (double)t->grad[j] * t->grad[j];
    for (size_t j = 0; j < t->net.n_params; j++) ss += (double)t->net.dtheta[j] * t->net.dtheta[j];
    const double norm = sqrt(ss), clip = t->cfg->optimizer.clip_norm;
    if (clip > 0 && norm > clip) {
        const float scale = (float)(clip / norm);
        for (size_t j = 0; j < n_grad; j++) t->grad[j] *= scale;
        for (size_t j = 0; j < t->net.n_params; j++) t->net.dtheta[j] *= scale;
    }
    t->t_compute += psr_now() - t0;
    if (!isfinite(norm))
        return PSR_ERR(PSR_ERR_DATA, "worker %d: gradient norm is %g at step %lld; lower "
                                     "optimizer.lr or set optimizer.clip_norm",
                       t->worker, norm, (long long)step);
    wk_client_push(&t->client, b->uniq, t->grad, b->srv_off, step);
    if (t->dense_mode == CFG_DENSE_PS)
        wk_client_dense_push(&t->client, t->net.dtheta, t->net.n_blocks, step);
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
        memcpy(t->red, t->net.dtheta, n * sizeof *t->red);
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
    for (size_t j = 0; j < t->net.n_params; j++) t->red[j] *= inv;
    const float lr = (float)(t->adam.lr * psr_lr_scale(&t->sched, step));
    psr_adam_update(&t->adam, lr, step + 1, t->net.theta, t->dm, t->dv, t->red,
                    (int)t->net.n_params);
    return n_active;
}

/* Read batch i for step `step` and start its pull, unless train.max_steps ends the run
 * before that step. Returns rows read (0: no step to take) or -PSR_ERR_*. */
static int prepare(trainer_t *t, rd_reader_t *r, int i, int64_t step)
{
    const int64_t max_steps = t->cfg->train.max_steps;
    if (max_steps > 0 && step >= max_steps) return 0;
    int n = fill(t, i, r);
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

/* Step `step` on batch cur, whose pull was started: wait for its rows, prepare the next batch
 * into 1 - cur (before computing when train.max_staleness >= 1, so its pull overlaps this
 * step; after this step's CLOCK otherwise, since its staleness wait counts this step), then
 * compute and push. *n_next: rows of the next batch (0: none). */
static int run_step(trainer_t *t, rd_reader_t *r, int cur, int64_t step, int *n_next,
                    int64_t *examples)
{
    const int prefetch = t->cfg->train.max_staleness >= 1;
    double loss;
    int rc = wait_rows(t);
    if (rc != PSR_OK) return rc;
    *n_next = prefetch ? prepare(t, r, 1 - cur, step + 1) : 0;
    if (*n_next < 0) return -*n_next;
    rc = train_step(t, cur, step, &loss);
    if (rc != PSR_OK) return rc;
    *examples += t->batch[cur].n;
    wk_client_clock(&t->client, step + 1, t->batch[cur].n, loss, 0);
    if (!prefetch) *n_next = prepare(t, r, 1 - cur, step + 1);
    return *n_next < 0 ? -*n_next : PSR_OK;
}

/* One epoch in allreduce mode: every worker takes part in every round, training when it has
 * data and contributing zeros once out, until no worker has data. Steps stay in lockstep, so
 * evaluation points are the same on every worker without further agreement. */
static int epoch_lockstep(trainer_t *t, rd_reader_t *train, int64_t *step, int64_t *examples)
{
    const int64_t every = t->cfg->eval.every_steps;
    int cur = 0, have = prepare(t, train, cur, *step), rc;
    if (have < 0) return -have;
    for (;;) {
        int n_next = 0;
        if (have > 0) {
            rc = run_step(t, train, cur, *step, &n_next, examples);
            if (rc != PSR_OK) return rc;
        }
        if (dense_allreduce(t, have > 0, *step) == 0) break;
        ++*step;
        if (have > 0) {
            if (n_next == 0) wk_client_clock(&t->client, *step, 0, 0.0, WIRE_CLOCK_F_DONE);
            cur = 1 - cur;
            have = n_next;
        }
        if (every > 0 && *step % every == 0) {
            double auc, logloss;
            int64_t n_eval;
            rc = wait_rows(t);
            if (rc == PSR_OK) rc = evaluate(t, *step, &auc, &logloss, &n_eval);
            if (rc != PSR_OK) return rc;
        }
    }
    return PSR_OK;
}

/* One epoch in asynchronous mode (no dense parameters, or dense parameters on servers):
 * workers never wait for each other except through the staleness bound and the agreement
 * protocol at evaluation points and the epoch end. */
static int epoch_async(trainer_t *t, rd_reader_t *train, int64_t *step, int64_t *examples)
{
    const int64_t every = t->cfg->eval.every_steps;
    double auc, logloss;
    int64_t n_eval;
    int cur = 0, have = prepare(t, train, cur, *step), rc;
    if (have < 0) return -have;
    while (have > 0) {
        int n_next;
        rc = run_step(t, train, cur, *step, &n_next, examples);
        if (rc != PSR_OK) return rc;
        ++*step;
        cur = 1 - cur;
        have = n_next;
        if (have > 0 && every > 0 && *step % every == 0) {
            rc = wait_rows(t);
            if (rc != PSR_OK) return rc;
            int64_t at = agree(t, *step);
            rc = evaluate(t, at, &auc, &logloss, &n_eval);
            if (rc != PSR_OK) return rc;
        }
    }
    /* out of data (or steps) for this epoch: stop holding others back, then follow the
     * evaluations the others still reach until everyone is out */
    wk_client_push_wait(&t->client);
    wk_client_clock(&t->client, *step, 0, 0.0, WIRE_CLOCK_F_DONE);
    for (;;) {
        int64_t at = agree(t, NONE_LEFT);
        if (at == NONE_LEFT) break;
        rc = evaluate(t, at, &auc, &logloss, &n_eval);
        if (rc != PSR_OK) return rc;
    }
    return PSR_OK;
}

int wk_train(const cfg_t *cfg, MPI_Comm ps_comm, MPI_Comm wk_comm, int n_servers,
             wk_result_t *res)
{
    trainer_t t;
    memset(&t, 0, sizeof t);
    memset(res, 0, sizeof *res);
    t.cfg = cfg;
    t.wk_comm = wk_comm;
    t.n_servers = n_servers;
    MPI_Comm_rank(wk_comm, &t.worker);
    MPI_Comm_size(wk_comm, &t.n_workers);

    char **files = NULL;
    int n_files = 0;
    rd_reader_t *train = NULL;
    int rc = rd_expand_paths(&cfg->data.train, "data.train", &files, &n_files);
    if (rc == PSR_OK)
        rc = rd_open(&train, files, n_files, t.worker, t.n_workers, cfg->data.int_mode,
                     cfg->data.max_bad_rows);
    rd_free_paths(files, n_files);
    if (rc == PSR_OK && cfg->data.test.n > 0) {
        rc = rd_expand_paths(&cfg->data.test, "data.test", &files, &n_files);
        if (rc == PSR_OK)
            rc = rd_open(&t.test, files, n_files, t.worker, t.n_workers, cfg->data.int_mode,
                         cfg->data.max_bad_rows);
        rd_free_paths(files, n_files);
    }
    if (rc != PSR_OK) {
        rd_close(train);
        return rc;
    }

    const int B = cfg->train.batch_size;
    rc = wk_net_init(&t.net, cfg, B);
    if (rc != PSR_OK) {
        rd_close(train);
        rd_close(t.test);
        return rc;
    }
    const int W = t.net.width, F = t.net.n_fields;
    const size_t cap_keys = (size_t)B * F + 1;
    wk_client_init(&t.client, ps_comm, n_servers, W, cap_keys);
    for (int i = 0; i < 3; i++) {
        wk_batch_init(&t.batch[i], B, t.net.field0, F, n_servers, (uint32_t)cfg->cluster.buckets);
        t.rows[i] = psr_xmalloc(cap_keys * (size_t)W * sizeof(float));
    }
    t.grad = psr_xmalloc(cap_keys * (size_t)W * sizeof(float));
    t.logit = psr_xmalloc((size_t)B * sizeof(float));
    t.adam = (psr_adam_t){(float)cfg->optimizer.lr, (float)cfg->optimizer.beta1,
                          (float)cfg->optimizer.beta2, (float)cfg->optimizer.eps,
                          (float)cfg->optimizer.weight_decay};
    t.sched = psr_schedule_of(cfg);
    t.dense_mode = t.net.n_params > 0 ? cfg->train.dense_sync : -1;
    if (t.dense_mode == CFG_DENSE_ALLREDUCE) {
        t.dm = psr_xcalloc(dense_len(&t), sizeof *t.dm);
        t.dv = psr_xcalloc(dense_len(&t), sizeof *t.dv);
        t.red = psr_xmalloc((dense_len(&t) + 1) * sizeof *t.red);
    } else if (t.dense_mode == CFG_DENSE_PS) {
        /* worker 0 stores the initial dense values; nobody pulls before they are acknowledged */
        if (t.worker == 0) wk_client_dense_init(&t.client, t.net.theta, t.net.n_blocks);
        MPI_Barrier(wk_comm);
    }

    int64_t step = 0, examples = 0;
    double auc = NAN, logloss = NAN;
    int64_t n_eval = 0;
    double t_start = psr_now();

    for (int epoch = 0; epoch < cfg->train.epochs && rc == PSR_OK; epoch++) {
        if (epoch > 0) rc = rd_rewind(train);
        if (rc != PSR_OK) break;
        if (t.dense_mode == CFG_DENSE_ALLREDUCE)
            rc = epoch_lockstep(&t, train, &step, &examples);
        else
            rc = epoch_async(&t, train, &step, &examples);
        if (rc == PSR_OK && epoch + 1 < cfg->train.epochs) {
            wk_client_push_wait(&t.client);
            wk_client_clock_resume(&t.client, step);
            t.known_min = 0;
            MPI_Barrier(wk_comm);
        }
    }
    double t_end = psr_now();
    if (rc == PSR_OK) rc = evaluate(&t, step, &auc, &logloss, &n_eval);
    if (rc == PSR_OK) {
        res->auc = auc;
        res->logloss = logloss;
        res->test_examples = n_eval;
        MPI_Allreduce(&examples, &res->examples, 1, MPI_INT64_T, MPI_SUM, wk_comm);
        MPI_Allreduce(&step, &res->steps, 1, MPI_INT64_T, MPI_MAX, wk_comm);
        double secs = t_end - t_start;
        MPI_Allreduce(&secs, &res->seconds, 1, MPI_DOUBLE, MPI_MAX, wk_comm);
        res->read_seconds = t.t_read;
        res->compute_seconds = t.t_compute;
        res->wait_seconds = t.client.wait_seconds;
        wk_client_push_wait(&t.client);
        wk_client_shutdown(&t.client);
    }

    rd_close(train);
    rd_close(t.test);
    wk_client_free(&t.client);
    wk_net_free(&t.net);
    free(t.dm);
    free(t.dv);
    free(t.red);
    for (int i = 0; i < 3; i++) {
        wk_batch_free(&t.batch[i]);
        free(t.rows[i]);
    }
    free(t.grad);
    free(t.logit);
    free(t.ev_p);
    free(t.ev_y);
    free(t.all_p);
    free(t.all_y);
    return rc;
}
