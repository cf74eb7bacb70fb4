/* m_mf: biased matrix factorization (Koren, Bell and Volinsky 2009), for explicit ratings
 * (mse) and implicit feedback (bce or bpr against sampled negatives, Rendle et al. 2009).
 *
 * Tables: `user` and `item` rows of width 1 + dim (w[0] the bias b, w[1..dim] the factors),
 * fed by the schema's user and item fields; `global` holds the global bias mu under the bias
 * key (width 1). Score of user u and item i:
 *   s(u, i) = mu + b_u + b_i + p_u . q_i
 * A rating model predicts the rating with it; an implicit one ranks by it. model.l2 adds
 * lambda * w to the gradient of every user and item row at each occurrence in the batch (the
 * per-rating regularisation of SGD matrix factorisation), scaled like the loss (1/batch). */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "psr_error.h"

enum { T_USER, T_ITEM, T_GLOBAL };

static int mf_check(const cfg_t *c, const blk_schema_t *s)
{
    PSR_RETURN_IF(s->user_field < 0 || s->item_field < 0, PSR_ERR_CONFIG,
                  "model.type is %s, which factorizes users against items, but the data have %s; "
                  "mark the columns 'user' and 'item' in data.columns (data.format movielens "
                  "has them)", c->model.type,
                  s->user_field < 0 ? "no user column" : "no item column");
    return PSR_OK;
}

static void mf_layout(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay)
{
    static const char *const names[] = {"user", "item", "global"};
    lay->tables.n = 3;
    for (int t = 0; t < 3; t++) {
        psr_table_spec_t *sp = &lay->tables.t[t];
        snprintf(sp->name, sizeof sp->name, "%s", names[t]);
        sp->width = t == T_GLOBAL ? 1 : 1 + c->model.dim;
        sp->zero_first = 1;
        sp->init_std = (float)c->model.init_std;
    }
    if (s->user_field >= 0) lay->field_table[s->user_field] = T_USER;
    if (s->item_field >= 0) lay->field_table[s->item_field] = T_ITEM;
    lay->bias_table = T_GLOBAL;
    if (wk_model_task(c) == WK_TASK_TOPK) {
        lay->neg_table = T_ITEM;
        lay->n_neg = c->model.negatives;
    }
}

static size_t no_params(const cfg_t *c, const blk_schema_t *s) { return 0; }
static int mf_init(wk_model_t *m, const blk_schema_t *s) { return PSR_OK; }
static void mf_free(wk_model_t *m) {}

static inline float dot(const float *restrict a, const float *restrict b, int n)
{
    float s = 0.0f;
    for (int k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

static void mf_forward(wk_model_t *m, const wk_batch_t *b, int training, float *score)
{
    const int K = m->cfg->model.dim, N = b->lay.neg_table >= 0 ? b->lay.n_neg : 0;
    const int C = 1 + N;
    const float *rows = b->rows;
    const int64_t *roff = b->roff;
    const float mu = rows[roff[b->bias_idx]];
    for (int i = 0; i < b->n; i++) {
        const float *u = rows + roff[b->user_idx[i]];
        for (int c = 0; c < C; c++) {
            int32_t it = c == 0 ? b->item_idx[i] : b->neg_idx[(size_t)i * N + c - 1];
            const float *q = rows + roff[it];
            score[(size_t)i * C + c] = mu + u[0] + q[0] + dot(u + 1, q + 1, K);
        }
    }
}

static void mf_backward(wk_model_t *m, const wk_batch_t *b, const float *dscore, float *grad)
{
    const int K = m->cfg->model.dim, N = b->lay.neg_table >= 0 ? b->lay.n_neg : 0;
    const int C = 1 + N;
    const float *rows = b->rows;
    const int64_t *roff = b->roff;
    const float l2 = (float)m->cfg->model.l2 / (float)(b->n > 0 ? b->n : 1);
    memset(grad, 0, (size_t)roff[b->n_uniq] * sizeof *grad);
    float *gmu = grad + roff[b->bias_idx];
    for (int i = 0; i < b->n; i++) {
        const float *u = rows + roff[b->user_idx[i]];
        float *gu = grad + roff[b->user_idx[i]];
        for (int c = 0; c < C; c++) {
            int32_t it = c == 0 ? b->item_idx[i] : b->neg_idx[(size_t)i * N + c - 1];
            const float *q = rows + roff[it];
            float *gq = grad + roff[it];
            const float g = dscore[(size_t)i * C + c];
            *gmu += g;
            gu[0] += g;
            gq[0] += g + l2 * q[0];
            for (int k = 1; k <= K; k++) {
                gu[k] += g * q[k];
                gq[k] += g * u[k] + l2 * q[k];
            }
        }
        for (int k = 0; k <= K; k++) gu[k] += l2 * u[k];
    }
}

/* mu + b_u + b_j + p_u . q_j for every item j: one sgemv over the item rows. */
static void mf_score_items(wk_model_t *m, const float *const *user, const float *items,
                           const int64_t *item_idx, int64_t n, float *out)
{
    const int K = m->cfg->model.dim;
    const float *u = user[T_USER], mu = user[T_GLOBAL] ? user[T_GLOBAL][0] : 0.0f;
    if (n == 0) return;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, K, 1.0f, items + 1, K + 1, u + 1, 1, 0.0f,
                out, 1);
    const float base = mu + u[0];
    for (int64_t j = 0; j < n; j++) out[j] += base + items[(size_t)j * (K + 1)];
}

const wk_model_ops_t wk_model_mf = {
    .name = "mf",
    .task = WK_TASK_RATING,
    .check = mf_check,
    .layout = mf_layout,
    .n_params = no_params,
    .init = mf_init,
    .forward = mf_forward,
    .backward = mf_backward,
    .score_items = mf_score_items,
    .free = mf_free,
};
