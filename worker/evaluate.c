/* evaluate: a model's figures on the held-out rows, by task (docs/EVALUATION.md).
 *
 *  ctr     AUC and logloss of sigmoid(score) against 0/1 labels over every test row.
 *  rating  RMSE and MAE of the score against the rating over every test row.
 *  topk    ranked lists per user (common/topk.h rules) under eval.protocol:
 *          full     every catalogue item is scored for the user; the user's training items
 *                   are skipped; one list per user with held-out items;
 *          sampled  each held-out item against eval.negatives items drawn uniformly from the
 *                   catalogue among those the user never interacted with (training or held
 *                   out), from a stream of (train.seed, user, item); one list per held-out
 *                   interaction; ties pessimistic (topk.h rule 10).
 *          Held-out items that never occur in training are not in the catalogue and cannot
 *          be ranked: they are counted (`unknown=`) and left out.
 * ctr and rating gather every prediction on worker 0 (8 bytes per test row). topk spreads
 * users over workers (owner = hash(user) mod workers): each worker sends every (user, item)
 * pair of its shares to the user's owner once (the first evaluation; kept for later ones), so
 * a worker holds its users' interactions (24 bytes each) and, for ranking, every catalogue
 * item's row (items x width floats, pulled once per evaluation). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics_file.h"
#include "metrics.h"
#include "psr_error.h"
#include "topk.h"
#include "trainer_int.h"

typedef struct {
    float *p, *y;          /* this worker's predictions and labels */
    size_t cap;
    float *all_p, *all_y;  /* worker 0: everyone's */
    size_t all_cap;
    /* topk: this worker's users (CSR) */
    int have_users;
    int64_t n_users;
    uint64_t *user;        /* (n_users) */
    int64_t *seen_off;     /* (n_users + 1) into seen */
    int64_t *seen;         /* training item indices, ascending per user */
    int64_t *rel_off;      /* (n_users + 1) into rel */
    int64_t *rel;          /* held-out item indices, ascending, distinct per user */
    int64_t unknown;       /* held-out interactions with an item outside the catalogue */
    float *items;          /* (catalogue n, item width) */
    float *scores;         /* (catalogue n) */
    uint8_t *skip;         /* (catalogue n) */
    uint64_t *covered;     /* bitmap over the catalogue */
    int64_t *top, *cand;   /* (k), (negatives + 1) */
    float *cand_rows;      /* (negatives + 1, item width) */
    float *cand_scores;    /* (negatives + 1) */
} ev_t;

static ev_t *ev_of(trainer_t *t)
{
    if (!t->ev) t->ev = psr_xcalloc(1, sizeof(ev_t));
    return t->ev;
}

void wk_eval_free(trainer_t *t)
{
    ev_t *e = t->ev;
    if (!e) return;
    void *p[] = {e->p,       e->y,   e->all_p, e->all_y,  e->user,      e->seen_off,
                 e->seen,    e->rel_off, e->rel, e->items, e->scores,   e->skip,
                 e->covered, e->top, e->cand,  e->cand_rows, e->cand_scores};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    free(e);
    t->ev = NULL;
}

/* ---- ctr and rating ------------------------------------------------------------------- */

static void append(ev_t *e, const float *score, const float *label, int n, size_t *len, int ctr)
{
    if (*len + (size_t)n > e->cap) {
        size_t cap = e->cap ? e->cap : 65536;
        while (cap < *len + (size_t)n) cap *= 2;
        e->p = psr_xrealloc(e->p, cap * sizeof *e->p);
        e->y = psr_xrealloc(e->y, cap * sizeof *e->y);
        e->cap = cap;
    }
    for (int j = 0; j < n; j++) {
        e->p[*len + j] = ctr ? (float)(1.0 / (1.0 + exp(-(double)score[j]))) : score[j];
        e->y[*len + j] = label[j];
    }
    *len += (size_t)n;
}

/* Pull a batch's rows into its rows array (blocking). */
static int pull(trainer_t *t, wk_batch_t *b, int64_t step)
{
    wk_batch_index(b);
    wk_keyset_t ks = wk_batch_keys(b);
    wk_client_pull_start(&t->client, &ks, b->rows, step);
    return wk_client_pull_wait(&t->client);
}

static int eval_pointwise(trainer_t *t, int64_t step, int task, wk_metrics_t *met)
{
    ev_t *e = ev_of(t);
    const int ctr = task == WK_TASK_CTR;
    PSR_FORWARD(rd_rewind(t->test));
    size_t len = 0;
    int rc = PSR_OK;
    wk_batch_t *b = &t->batch[EVAL];
    for (;;) {
        int n = wk_fill(t, b, t->test, WK_SPLIT_TEST);
        if (n < 0) {
            rc = -n;
            break;
        }
        if (n == 0) break;
        if ((rc = pull(t, b, step)) != PSR_OK) break;
        t->model.ops->forward(&t->model, b, 0, t->score);
        append(e, t->score, b->label, n, &len, ctr);
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
        if (total > e->all_cap) {
            e->all_p = psr_xrealloc(e->all_p, total * sizeof *e->all_p);
            e->all_y = psr_xrealloc(e->all_y, total * sizeof *e->all_y);
            e->all_cap = total;
        }
    }
    MPI_Gatherv(e->p, my, MPI_FLOAT, e->all_p, counts, displs, MPI_FLOAT, 0, t->wk_comm);
    MPI_Gatherv(e->y, my, MPI_FLOAT, e->all_y, counts, displs, MPI_FLOAT, 0, t->wk_comm);
    double m[3] = {NAN, NAN, 0};
    if (t->worker == 0) {
        m[0] = ctr ? met_auc(e->all_p, e->all_y, total) : met_rmse(e->all_p, e->all_y, total);
        m[1] = ctr ? met_logloss(e->all_p, e->all_y, total) : met_mae(e->all_p, e->all_y, total);
        m[2] = (double)total;
    }
    MPI_Bcast(m, 3, MPI_DOUBLE, 0, t->wk_comm);
    free(counts);
    free(displs);
    met->examples = (int64_t)m[2];
    if (ctr) {
        met->auc = m[0];
        met->logloss = m[1];
        if (t->worker == 0) {
            mf_rec_t r;
            mf_begin(&r, "eval", step);
            mf_int(&r, "step", step);
            mf_num(&r, "auc", "%.6f", m[0]);
            mf_num(&r, "logloss", "%.6f", m[1]);
            mf_int(&r, "examples", (int64_t)total);
            mf_json_int(&r, "trained", t->seen);
            psr_info("eval: %s", mf_text(&r));
            mf_emit(&r);
        }
    } else {
        met->rmse = m[0];
        met->mae = m[1];
        if (t->worker == 0) {
            mf_rec_t r;
            mf_begin(&r, "eval", step);
            mf_int(&r, "step", step);
            mf_num(&r, "rmse", "%.6f", m[0]);
            mf_num(&r, "mae", "%.6f", m[1]);
            mf_int(&r, "examples", (int64_t)total);
            mf_str(&r, "split", cfg_enum_name("data.split", t->cfg->data.split));
            mf_json_int(&r, "trained", t->seen);
            psr_info("eval: %s", mf_text(&r));
            mf_emit(&r);
        }
    }
    return PSR_OK;
}

/* ---- topk: who interacted with what ----------------------------------------------------- */

typedef struct {
    uint64_t user;
    int64_t item; /* catalogue index, -1 unknown */
    int64_t test; /* 0 training, 1 held out */
} pair_t;

static int cmp_pair(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->test != y->test) return x->test < y->test ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

static int owner(uint64_t user, int n_workers)
{
    return (int)(psr_mix64(user ^ 0x6f776e6572ULL) % (uint64_t)n_workers);
}

/* Append every row of r's share in split part `part` as pairs. */
static int collect(trainer_t *t, rd_reader_t *r, int part, pair_t **v, size_t *n, size_t *cap)
{
    PSR_FORWARD(rd_rewind(r));
    wk_batch_t *b = &t->batch[EVAL];
    for (;;) {
        int got = wk_fill(t, b, r, part);
        if (got < 0) return -got;
        if (got == 0) return PSR_OK;
        if (*n + (size_t)got > *cap) {
            size_t c = *cap ? *cap : 65536;
            while (c < *n + (size_t)got) c *= 2;
            *v = psr_xrealloc(*v, c * sizeof **v);
            *cap = c;
        }
        for (int i = 0; i < got; i++) {
            pair_t *p = &(*v)[(*n)++];
            p->user = b->user_key[i];
            p->item = wk_catalog_find(&t->catalog, b->item_key[i]);
            p->test = part == WK_SPLIT_TEST;
        }
    }
}

/* Send every pair to its user's owner and build this worker's users (once). */
static int gather_users(trainer_t *t)
{
    ev_t *e = ev_of(t);
    if (e->have_users) return PSR_OK;
    pair_t *v = NULL;
    size_t n = 0, cap = 0;
    int rc = collect(t, t->test, WK_SPLIT_TEST, &v, &n, &cap);
    rd_reader_t *train = NULL; /* its own reader: training may be mid-epoch */
    if (rc == PSR_OK) rc = rd_open_cfg(&train, t->cfg, RD_USE_HELDOUT, t->worker, t->n_workers);
    if (rc == PSR_OK) rc = collect(t, train, WK_SPLIT_TRAIN, &v, &n, &cap);
    rd_close(train);
    int bad = rc != PSR_OK, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, t->wk_comm);
    if (any) {
        free(v);
        return rc != PSR_OK ? rc : PSR_ERR(PSR_ERR_DATA, "another worker failed to read its "
                                           "share for the top-K evaluation");
    }
    const int W = t->n_workers;
    int *sc = psr_xcalloc((size_t)W, sizeof *sc), *sd = psr_xmalloc((size_t)W * sizeof *sd);
    int *rcnt = psr_xmalloc((size_t)W * sizeof *rcnt), *rd = psr_xmalloc((size_t)W * sizeof *rd);
    for (size_t i = 0; i < n; i++) sc[owner(v[i].user, W)]++;
    pair_t *send = psr_xmalloc((n + 1) * sizeof *send);
    int64_t acc = 0;
    for (int w = 0; w < W; w++) {
        sd[w] = (int)acc;
        acc += sc[w];
    }
    int *pos = psr_xmalloc((size_t)W * sizeof *pos);
    memcpy(pos, sd, (size_t)W * sizeof *pos);
    for (size_t i = 0; i < n; i++) send[pos[owner(v[i].user, W)]++] = v[i];
    free(v);
    free(pos);
    MPI_Alltoall(sc, 1, MPI_INT, rcnt, 1, MPI_INT, t->wk_comm);
    int64_t total = 0;
    for (int w = 0; w < W; w++) {
        rd[w] = (int)total;
        total += rcnt[w];
    }
    pair_t *recv = psr_xmalloc(((size_t)total + 1) * sizeof *recv);
    MPI_Datatype pt;
    MPI_Type_contiguous((int)sizeof(pair_t), MPI_BYTE, &pt);
    MPI_Type_commit(&pt);
    MPI_Alltoallv(send, sc, sd, pt, recv, rcnt, rd, pt, t->wk_comm);
    MPI_Type_free(&pt);
    free(send);
    free(sc);
    free(sd);
    free(rcnt);
    free(rd);
    qsort(recv, (size_t)total, sizeof *recv, cmp_pair);
    /* CSR of users with at least one held-out item in the catalogue */
    e->user = psr_xmalloc(((size_t)total + 1) * sizeof *e->user);
    e->seen_off = psr_xmalloc(((size_t)total + 2) * sizeof *e->seen_off);
    e->rel_off = psr_xmalloc(((size_t)total + 2) * sizeof *e->rel_off);
    e->seen = psr_xmalloc(((size_t)total + 1) * sizeof *e->seen);
    e->rel = psr_xmalloc(((size_t)total + 1) * sizeof *e->rel);
    int64_t ns = 0, nr = 0, nu = 0;
    e->seen_off[0] = e->rel_off[0] = 0;
    for (int64_t i = 0; i < total;) {
        int64_t j = i;
        const int64_t s0 = ns, r0 = nr;
        for (; j < total && recv[j].user == recv[i].user; j++) {
            if (recv[j].item < 0) {
                if (recv[j].test) e->unknown++;
                continue;
            }
            if (!recv[j].test) {
                if (ns == s0 || e->seen[ns - 1] != recv[j].item) e->seen[ns++] = recv[j].item;
            } else if (nr == r0 || e->rel[nr - 1] != recv[j].item) {
                e->rel[nr++] = recv[j].item;
            }
        }
        if (nr > r0) { /* a user to evaluate */
            e->user[nu++] = recv[i].user;
            e->seen_off[nu] = ns;
            e->rel_off[nu] = nr;
        } else { /* nothing held out: forget the user */
            ns = s0;
        }
        i = j;
    }
    e->n_users = nu;
    free(recv);
    e->have_users = 1;
    return PSR_OK;
}

/* ---- topk: scoring ---------------------------------------------------------------------- */

/* A synthetic row holding one key of `field` (an item or a user to pull). */
static void one_key_row(rd_row_t *row, int field, uint64_t key, int n_dense, float *zeros)
{
    memset(row, 0, sizeof *row);
    row->i_field[0] = (uint16_t)field;
    row->i_key[0] = key;
    row->i_val[0] = 1.0f;
    row->field = row->i_field;
    row->key = row->i_key;
    row->val = row->i_val;
    row->n_feat = 1;
    row->n_dense = n_dense;
    row->dense = zeros;
    row->time = RD_NO_TIME;
}

/* Pull every catalogue item's row of the item table into e->items. */
static int pull_items(trainer_t *t, int64_t step, float *zeros)
{
    ev_t *e = ev_of(t);
    const wk_catalog_t *c = &t->catalog;
    const int it = t->model.item_table, W = t->model.lay.tables.t[it].width;
    if (!e->items) e->items = psr_xmalloc(((size_t)c->n * (size_t)W + 1) * sizeof *e->items);
    wk_batch_t *b = &t->batch[EVAL];
    rd_row_t row;
    for (int64_t i0 = 0; i0 < c->n; i0 += b->cap) {
        wk_batch_clear(b);
        int64_t i1 = i0 + b->cap < c->n ? i0 + b->cap : c->n;
        for (int64_t i = i0; i < i1; i++) {
            one_key_row(&row, t->schema.item_field, c->key[i], t->schema.n_dense, zeros);
            wk_batch_add(b, &row);
        }
        PSR_FORWARD(pull(t, b, step));
        for (int64_t i = i0; i < i1; i++)
            memcpy(e->items + (size_t)i * W, b->rows + b->roff[b->item_idx[i - i0]],
                   (size_t)W * sizeof(float));
    }
    return PSR_OK;
}

/* Draw eval.negatives distinct items the user has not interacted with (seen or held out) into
 * cand[0 .. N), from a stream of (seed, user, item); returns how many were found. */
static int draw_negatives(trainer_t *t, const ev_t *e, int64_t u, int64_t item, int64_t *cand,
                          int N)
{
    const wk_catalog_t *c = &t->catalog;
    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(t->cfg->train.seed ^ 0x73616d70ULL ^ psr_mix64(e->user[u]) ^
                                 (uint64_t)item));
    int got = 0;
    const int64_t *seen = e->seen + e->seen_off[u], *rel = e->rel + e->rel_off[u];
    const int64_t ns = e->seen_off[u + 1] - e->seen_off[u], nr = e->rel_off[u + 1] - e->rel_off[u];
    for (int64_t tries = 0; got < N && tries < 50 * (int64_t)N + 1000; tries++) {
        int64_t x = (int64_t)(psr_rng_next(&rng) % (uint64_t)c->n);
        int dup = 0;
        for (int64_t a = 0, b = ns; a < b;) { /* binary search in the sorted lists */
            int64_t mid = (a + b) / 2;
            if (seen[mid] == x) { dup = 1; break; }
            if (seen[mid] < x) a = mid + 1; else b = mid;
        }
        for (int64_t a = 0, b = nr; !dup && a < b;) {
            int64_t mid = (a + b) / 2;
            if (rel[mid] == x) { dup = 1; break; }
            if (rel[mid] < x) a = mid + 1; else b = mid;
        }
        for (int k = 0; !dup && k < got; k++) dup = cand[k] == x;
        if (!dup) cand[got++] = x;
    }
    return got;
}

static int eval_topk(trainer_t *t, int64_t step, wk_metrics_t *met)
{
    PSR_FORWARD(gather_users(t));
    ev_t *e = ev_of(t);
    const wk_catalog_t *c = &t->catalog;
    wk_model_t *m = &t->model;
    const int K = t->cfg->eval.k, sampled = t->cfg->eval.protocol == CFG_PROTOCOL_SAMPLED;
    const int N = t->cfg->eval.negatives;
    const int it = m->item_table, W = m->lay.tables.t[it].width;
    float *zeros = psr_xcalloc((size_t)t->schema.n_dense + 1, sizeof *zeros);
    int rc = pull_items(t, step, zeros);
    const int64_t words = MET_BITS_WORDS(c->n);
    if (!e->scores) {
        e->scores = psr_xmalloc(((size_t)c->n + 1) * sizeof *e->scores);
        e->skip = psr_xcalloc((size_t)c->n + 1, 1);
        e->covered = psr_xmalloc(((size_t)words + 1) * sizeof *e->covered);
        e->top = psr_xmalloc(((size_t)K + 1) * sizeof *e->top);
        e->cand = psr_xmalloc(((size_t)N + 2) * sizeof *e->cand);
        e->cand_rows = psr_xmalloc(((size_t)N + 1) * (size_t)W * sizeof *e->cand_rows);
        e->cand_scores = psr_xmalloc(((size_t)N + 1) * sizeof *e->cand_scores);
    }
    memset(e->covered, 0, ((size_t)words + 1) * sizeof *e->covered);
    met_topk_t acc;
    met_topk_init(&acc, K);
    wk_batch_t *b = &t->batch[EVAL];
    rd_row_t row;
    const float *fixed[PSR_MAX_TABLES];
    int64_t top_items[1000];
    for (int64_t u0 = 0; u0 < e->n_users && rc == PSR_OK; u0 += b->cap) {
        int64_t u1 = u0 + b->cap < e->n_users ? u0 + b->cap : e->n_users;
        wk_batch_clear(b);
        for (int64_t u = u0; u < u1; u++) {
            one_key_row(&row, t->schema.user_field, e->user[u], t->schema.n_dense, zeros);
            wk_batch_add(b, &row);
        }
        if ((rc = pull(t, b, step)) != PSR_OK) break;
        for (int64_t u = u0; u < u1; u++) {
            const int i = (int)(u - u0);
            for (int k = 0; k < m->lay.tables.n; k++) fixed[k] = NULL;
            if (m->user_table >= 0 && b->user_idx[i] >= 0)
                fixed[m->user_table] = b->rows + b->roff[b->user_idx[i]];
            if (m->lay.bias_table >= 0 && b->bias_idx >= 0)
                fixed[m->lay.bias_table] = b->rows + b->roff[b->bias_idx];
            const int64_t *rel = e->rel + e->rel_off[u];
            const int n_rel = (int)(e->rel_off[u + 1] - e->rel_off[u]);
            if (!sampled) {
                m->ops->score_items(m, fixed, e->items, NULL, c->n, e->scores);
                for (int64_t s = e->seen_off[u]; s < e->seen_off[u + 1]; s++) e->skip[e->seen[s]] = 1;
                int n_top = met_topk_select(e->scores, c->n, e->skip, K, e->top, NULL);
                for (int64_t s = e->seen_off[u]; s < e->seen_off[u + 1]; s++) e->skip[e->seen[s]] = 0;
                met_topk_add(&acc, e->top, n_top, rel, n_rel, c->self_info, e->covered);
                continue;
            }
            for (int r = 0; r < n_rel; r++) {
                int got = draw_negatives(t, e, u, rel[r], e->cand, N);
                e->cand[got] = rel[r]; /* the held-out item last: pessimistic ties */
                for (int q = 0; q <= got; q++)
                    memcpy(e->cand_rows + (size_t)q * W, e->items + (size_t)e->cand[q] * W,
                           (size_t)W * sizeof(float));
                m->ops->score_items(m, fixed, e->cand_rows, e->cand, got + 1, e->cand_scores);
                int n_top = met_topk_select(e->cand_scores, got + 1, NULL, K, e->top, NULL);
                for (int q = 0; q < n_top; q++) top_items[q] = e->cand[e->top[q]];
                met_topk_add(&acc, top_items, n_top, &rel[r], 1, c->self_info, e->covered);
            }
        }
    }
    free(zeros);
    /* every worker reaches the reductions, failed or not; a failure is then reported */
    int bad = rc != PSR_OK, any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, t->wk_comm);
    if (any) return rc != PSR_OK ? rc : PSR_ERR(PSR_ERR_DATA, "another worker failed during "
                                                "the top-K evaluation");
    double sums[7] = {acc.hr, acc.ndcg, acc.precision, acc.recall, acc.f1, acc.map,
                      acc.novelty_sum};
    int64_t cnt[4] = {acc.lists, acc.rec_items, e->unknown, e->n_users};
    MPI_Allreduce(MPI_IN_PLACE, sums, 7, MPI_DOUBLE, MPI_SUM, t->wk_comm);
    MPI_Allreduce(MPI_IN_PLACE, cnt, 4, MPI_INT64_T, MPI_SUM, t->wk_comm);
    MPI_Allreduce(MPI_IN_PLACE, e->covered, (int)words, MPI_UINT64_T, MPI_BOR, t->wk_comm);
    met_topk_t all;
    met_topk_init(&all, K);
    all.hr = sums[0], all.ndcg = sums[1], all.precision = sums[2], all.recall = sums[3];
    all.f1 = sums[4], all.map = sums[5], all.novelty_sum = sums[6];
    all.lists = cnt[0], all.rec_items = cnt[1];
    met_topk_result_t r;
    met_topk_result(&all, met_bits_count(e->covered, c->n), c->n, &r);
    met->k = K;
    met->protocol = t->cfg->eval.protocol;
    met->negatives = sampled ? N : 0;
    met->examples = r.lists;
    met->hr = r.hr, met->ndcg = r.ndcg, met->precision = r.precision, met->recall = r.recall;
    met->f1 = r.f1, met->map = r.map, met->coverage = r.coverage, met->novelty = r.novelty;
    met->unknown = cnt[2];
    met->users = cnt[3];
    if (t->worker == 0) {
        mf_rec_t rec;
        char name[32];
        const double v[8] = {r.hr, r.ndcg, r.precision, r.recall, r.f1, r.map, r.coverage,
                             r.novelty};
        static const char *const names[8] = {"hr", "ndcg", "precision", "recall", "f1", "map",
                                             "coverage", "novelty"};
        mf_begin(&rec, "eval", step);
        mf_int(&rec, "step", step);
        for (int i = 0; i < 8; i++) {
            snprintf(name, sizeof name, "%s@%d", names[i], K);
            mf_num(&rec, name, i == 7 ? "%.4f" : "%.6f", v[i]);
        }
        mf_int(&rec, "users", cnt[3]);
        mf_int(&rec, "lists", r.lists);
        mf_int(&rec, "unknown", cnt[2]);
        mf_str(&rec, "protocol", sampled ? "sampled" : "full");
        if (sampled) mf_int(&rec, "negatives", N);
        mf_str(&rec, "split", cfg_enum_name("data.split", t->cfg->data.split));
        mf_json_int(&rec, "trained", t->seen);
        psr_info("eval: %s", mf_text(&rec));
        mf_emit(&rec);
    }
    return PSR_OK;
}

int wk_evaluate(trainer_t *t, int64_t step, wk_metrics_t *met)
{
    memset(met, 0, sizeof *met);
    met->task = -1;
    met->auc = met->logloss = met->rmse = met->mae = NAN;
    if (!t->test) return PSR_OK;
    const int task = wk_model_task(t->cfg);
    met->task = task;
    if (task == WK_TASK_TOPK) return eval_topk(t, step, met);
    return eval_pointwise(t, step, task, met);
}
