/* m_fm: logistic regression and factorization machines (Rendle 2010) over a batch's jagged
 * features. Two models, one kernel: LR is an FM without factors.
 *
 * One table, `features`, fed by every schema field but the time: a row holds width = 1 + dim
 * floats, w[0] the linear weight and w[1..dim] the factor v (LR: width 1). For row i with
 * features (u_j, x_j) and b the bias key's w[0]:
 *   LR:  z_i = b + sum_j x_j w_{u_j}
 *   FM:  z_i = LR + 1/2 sum_k [ (sum_j x_j v_{u_j,k})^2 - sum_j x_j^2 v_{u_j,k}^2 ]   O(k n)
 * Loss bce on clicks (or mse on ratings, model.loss). */
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "optim.h"
#include "psr_error.h"

typedef struct {
    int dim;    /* factor dimension; 0 for LR */
    float *sum; /* (cap, dim): sum_j x_j v_{u_j,k} of the last forward */
} fm_t;

static int fm_check(const cfg_t *c, const blk_schema_t *s) { return PSR_OK; }

static void layout_dim(const blk_schema_t *s, wk_layout_t *lay, int dim)
{
    lay->tables.n = 1;
    psr_table_spec_t *t = &lay->tables.t[0];
    snprintf(t->name, sizeof t->name, "features");
    t->width = 1 + dim;
    t->zero_first = 1;
    for (int f = 0; f < s->n_fields; f++)
        lay->field_table[f] = s->kind[f] == BLK_FIELD_TIME ? -1 : 0;
    lay->bias_table = 0;
}

static void lr_layout(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay)
{
    layout_dim(s, lay, 0);
    lay->tables.t[0].init_std = (float)c->model.init_std;
}

static void fm_layout(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay)
{
    layout_dim(s, lay, c->model.dim);
    lay->tables.t[0].init_std = (float)c->model.init_std;
}

static size_t no_params(const cfg_t *c, const blk_schema_t *s) { return 0; }

static int init(wk_model_t *m, int dim)
{
    fm_t *f = psr_xcalloc(1, sizeof *f);
    f->dim = dim;
    f->sum = dim > 0 ? psr_xmalloc((size_t)m->cap * (size_t)dim * sizeof *f->sum) : NULL;
    m->impl = f;
    return PSR_OK;
}

static int lr_init(wk_model_t *m, const blk_schema_t *s) { return init(m, 0); }
static int fm_init(wk_model_t *m, const blk_schema_t *s) { return init(m, m->cfg->model.dim); }

static void fm_free(wk_model_t *m)
{
    fm_t *f = m->impl;
    if (f) free(f->sum);
    free(f);
    m->impl = NULL;
}

static void fm_forward(wk_model_t *m, const wk_batch_t *b, int training, float *restrict logit)
{
    const fm_t *f = m->impl;
    const int K = f->dim;
    const float *restrict rows = b->rows;
    const int64_t *roff = b->roff;
    const float bias = rows[roff[b->bias_idx]];
    for (int i = 0; i < b->n; i++) {
        const int64_t j0 = b->off[i], j1 = b->off[i + 1];
        float z = bias;
        for (int64_t j = j0; j < j1; j++) z += b->val[j] * rows[roff[b->idx[j]]];
        if (K > 0) {
            float *s = f->sum + (size_t)i * K;
            float sq = 0.0f;
            memset(s, 0, (size_t)K * sizeof *s);
            for (int64_t j = j0; j < j1; j++) {
                const float *v = rows + roff[b->idx[j]] + 1;
                const float xf = b->val[j];
                for (int k = 0; k < K; k++) {
                    const float t = xf * v[k];
                    s[k] += t;
                    sq += t * t;
                }
            }
            float ss = 0.0f;
            for (int k = 0; k < K; k++) ss += s[k] * s[k];
            z += 0.5f * (ss - sq);
        }
        logit[i] = z;
    }
}

static void fm_backward(wk_model_t *m, const wk_batch_t *b, const float *restrict dscore,
                        float *restrict grad)
{
    const fm_t *f = m->impl;
    const int K = f->dim;
    const float *restrict rows = b->rows;
    const int64_t *roff = b->roff;
    memset(grad, 0, (size_t)roff[b->n_uniq] * sizeof *grad);
    for (int i = 0; i < b->n; i++) {
        const float g = dscore[i];
        grad[roff[b->bias_idx]] += g;
        for (int64_t j = b->off[i]; j < b->off[i + 1]; j++) {
            float *gr = grad + roff[b->idx[j]];
            const float x = b->val[j], gx = g * x;
            gr[0] += gx;
            if (K > 0) {
                const float *v = rows + roff[b->idx[j]] + 1;
                const float *s = f->sum + (size_t)i * K;
                for (int k = 0; k < K; k++) gr[1 + k] += gx * (s[k] - x * v[k]);
            }
        }
    }
}

const wk_model_ops_t wk_model_lr = {
    .name = "lr",
    .task = WK_TASK_CTR,
    .check = fm_check,
    .layout = lr_layout,
    .n_params = no_params,
    .init = lr_init,
    .forward = fm_forward,
    .backward = fm_backward,
    .free = fm_free,
};

const wk_model_ops_t wk_model_fm = {
    .name = "fm",
    .task = WK_TASK_CTR,
    .check = fm_check,
    .layout = fm_layout,
    .n_params = no_params,
    .init = fm_init,
    .forward = fm_forward,
    .backward = fm_backward,
    .free = fm_free,
};
