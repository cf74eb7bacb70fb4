/* m_neumf: Neural Collaborative Filtering's NeuMF (He et al. 2017): a GMF tower (the
 * element-wise product of user and item factors) and an MLP tower over the concatenated user
 * and item embeddings, fused by one output layer:
 *   x = [p'_u, q'_i]                     (2 m, the MLP embeddings, m = model.tower[0] / 2)
 *   h = MLP(x)                           (ReLU layers of widths model.tower)
 *   s(u, i) = w . [p_u * q_i, h] + b     (the GMF factors have model.dim floats)
 * Tables `user` and `item` hold [GMF factors (dim) | MLP embedding (m)] per id, N(0, init_std);
 * the towers and the output layer are dense parameters (all-reduced or on the servers).
 * Trained on implicit feedback with bce (the paper's log loss) or bpr against model.negatives
 * sampled items; model.l2 regularises the embedding rows as in m_mf. */
#include <stdio.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "psr_error.h"

enum { T_USER, T_ITEM };

typedef struct {
    int dg, dm, tl;   /* GMF factors, MLP embedding width, the tower's last width */
    size_t cap;       /* rows of workspace: batch rows * (1 + negatives) */
    wk_mlp_t tower;   /* 2 dm -> tower widths, ReLU after each */
    wk_mlp_t head;    /* dg + tl -> 1 */
    float *x;         /* (cap, 2 dm) tower input */
    float *h;         /* (cap, dg + tl) head input */
    float *dx, *dh;   /* gradients of the same shapes */
    float *dt;        /* (cap, tl) gradient of the tower's output */
    const float **urow, **irow; /* (cap) the user and item row of each scored pair */
} neumf_t;

static int emb_dim(const cfg_t *c) { return c->model.tower.v[0] / 2; }

static int neumf_check(const cfg_t *c, const blk_schema_t *s)
{
    PSR_RETURN_IF(s->user_field < 0 || s->item_field < 0, PSR_ERR_CONFIG,
                  "model.type is neumf, which learns user-item interactions, but the data have "
                  "%s; mark the columns 'user' and 'item' in data.columns",
                  s->user_field < 0 ? "no user column" : "no item column");
    PSR_RETURN_IF(c->model.tower.v[0] < 2 || c->model.tower.v[0] % 2, PSR_ERR_CONFIG,
                  "key 'model.tower': its first width is %d; NeuMF's MLP takes the user and item "
                  "embeddings of half that width each, so it must be even and >= 2",
                  c->model.tower.v[0]);
    return PSR_OK;
}

static void neumf_layout(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay)
{
    static const char *const names[] = {"user", "item"};
    lay->tables.n = 2;
    for (int t = 0; t < 2; t++) {
        psr_table_spec_t *sp = &lay->tables.t[t];
        snprintf(sp->name, sizeof sp->name, "%s", names[t]);
        sp->width = c->model.dim + emb_dim(c);
        sp->zero_first = 0;
        sp->init_std = (float)c->model.init_std;
    }
    if (s->user_field >= 0) lay->field_table[s->user_field] = T_USER;
    if (s->item_field >= 0) lay->field_table[s->item_field] = T_ITEM;
    if (wk_model_task(c) == WK_TASK_TOPK) {
        lay->neg_table = T_ITEM;
        lay->n_neg = c->model.negatives;
    }
}

static void dims_of(const cfg_t *c, size_t *tower, size_t *head)
{
    const cfg_ints_t *T = &c->model.tower;
    tower[0] = 2 * (size_t)emb_dim(c);
    for (int l = 0; l < T->n; l++) tower[l + 1] = (size_t)T->v[l];
    head[0] = (size_t)c->model.dim + (size_t)T->v[T->n - 1];
    head[1] = 1;
}

static size_t neumf_params(const cfg_t *c, const blk_schema_t *s)
{
    size_t tower[WK_MLP_MAX_LAYERS + 1], head[2], p = 0;
    dims_of(c, tower, head);
    for (int l = 0; l < c->model.tower.n; l++) p += tower[l] * tower[l + 1] + tower[l + 1];
    return p + head[0] + 1;
}

static size_t neumf_desc(const cfg_t *c, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, " tower=[");
    for (int i = 0; i < c->model.tower.n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%d", i ? "," : "", c->model.tower.v[i]);
    if (o < cap) o += (size_t)snprintf(buf + o, cap - o, "]");
    return o;
}

static int neumf_init(wk_model_t *m, const blk_schema_t *s)
{
    const cfg_t *c = m->cfg;
    neumf_t *n = psr_xcalloc(1, sizeof *n);
    m->impl = n;
    n->dg = c->model.dim;
    n->dm = emb_dim(c);
    n->tl = c->model.tower.v[c->model.tower.n - 1];
    n->cap = (size_t)m->cap * (size_t)(1 + (m->lay.neg_table >= 0 ? m->lay.n_neg : 0));
    if (n->cap < 4096) n->cap = 4096; /* score_items scores items in chunks of this many */
    size_t tower[WK_MLP_MAX_LAYERS + 1], head[2];
    dims_of(c, tower, head);
    PSR_FORWARD(wk_mlp_init(&n->tower, c->model.tower.n, tower, WK_ACT_RELU, 0.0f, n->cap));
    PSR_FORWARD(wk_mlp_init(&n->head, 1, head, WK_ACT_NONE, 0.0f, n->cap));
    PSR_RETURN_IF(n->tower.n_params + n->head.n_params != m->n_params, PSR_ERR_INTERNAL,
                  "neumf: %zu parameters built, %zu counted", n->tower.n_params + n->head.n_params,
                  m->n_params);
    wk_mlp_init_params(&n->tower, psr_mix64(c->train.seed ^ 0x746f776572ULL), m->theta);
    wk_mlp_init_params(&n->head, psr_mix64(c->train.seed ^ 0x68656164ULL),
                       m->theta + n->tower.n_params);
    n->x = psr_xmalloc(n->cap * 2 * (size_t)n->dm * sizeof *n->x);
    n->dx = psr_xmalloc(n->cap * 2 * (size_t)n->dm * sizeof *n->dx);
    n->h = psr_xmalloc(n->cap * (size_t)(n->dg + n->tl) * sizeof *n->h);
    n->dh = psr_xmalloc(n->cap * (size_t)(n->dg + n->tl) * sizeof *n->dh);
    n->dt = psr_xmalloc(n->cap * (size_t)n->tl * sizeof *n->dt);
    n->urow = psr_xmalloc(n->cap * sizeof *n->urow);
    n->irow = psr_xmalloc(n->cap * sizeof *n->irow);
    return PSR_OK;
}

static void neumf_free(wk_model_t *m)
{
    neumf_t *n = m->impl;
    if (n) {
        wk_mlp_free(&n->tower);
        wk_mlp_free(&n->head);
        free(n->x);
        free(n->dx);
        free(n->h);
        free(n->dh);
        free(n->dt);
        free(n->urow);
        free(n->irow);
    }
    free(n);
    m->impl = NULL;
}

/* Scores of `rows` pairs (user row urow[r], item row irow[r]) into out; leaves the towers'
 * workspaces holding this forward (for a backward). */
static void run(wk_model_t *m, const float *const *urow, const float *const *irow, size_t rows,
                float *out)
{
    neumf_t *n = m->impl;
    const int dg = n->dg, dm = n->dm, H = dg + n->tl;
    for (size_t r = 0; r < rows; r++) {
        const float *u = urow[r], *q = irow[r];
        float *x = n->x + r * 2 * (size_t)dm, *h = n->h + r * (size_t)H;
        memcpy(x, u + dg, (size_t)dm * sizeof *x);
        memcpy(x + dm, q + dg, (size_t)dm * sizeof *x);
        for (int k = 0; k < dg; k++) h[k] = u[k] * q[k];
    }
    const float *t = wk_mlp_forward(&n->tower, m->theta, n->x, rows, 0, NULL);
    for (size_t r = 0; r < rows; r++)
        memcpy(n->h + r * (size_t)H + dg, t + r * (size_t)n->tl, (size_t)n->tl * sizeof(float));
    const float *o = wk_mlp_forward(&n->head, m->theta + n->tower.n_params, n->h, rows, 0, NULL);
    memcpy(out, o, rows * sizeof *out);
}

/* The (user row, item row) of every score of a batch, in the order of the (n, 1 + N) scores. */
static size_t pairs(const wk_batch_t *b, const float **urow, const float **irow)
{
    const int N = b->lay.neg_table >= 0 ? b->lay.n_neg : 0, C = 1 + N;
    size_t r = 0;
    for (int i = 0; i < b->n; i++)
        for (int c = 0; c < C; c++, r++) {
            int32_t it = c == 0 ? b->item_idx[i] : b->neg_idx[(size_t)i * N + c - 1];
            urow[r] = b->rows + b->roff[b->user_idx[i]];
            irow[r] = b->rows + b->roff[it];
        }
    return r;
}

static void neumf_forward(wk_model_t *m, const wk_batch_t *b, int training, float *score)
{
    neumf_t *n = m->impl;
    size_t rows = pairs(b, n->urow, n->irow);
    run(m, n->urow, n->irow, rows, score);
}

static void neumf_backward(wk_model_t *m, const wk_batch_t *b, const float *dscore, float *grad)
{
    neumf_t *n = m->impl;
    const int dg = n->dg, dm = n->dm, H = dg + n->tl;
    const int N = b->lay.neg_table >= 0 ? b->lay.n_neg : 0, C = 1 + N;
    const size_t rows = (size_t)b->n * (size_t)C;
    /* the head is linear: dh = dscore * w, its first dg columns the GMF product's gradient,
     * the last tl the tower output's */
    wk_mlp_backward(&n->head, m->theta + n->tower.n_params, n->h, dscore, n->dh,
                    m->dtheta + n->tower.n_params);
    for (size_t r = 0; r < rows; r++)
        memcpy(n->dt + r * (size_t)n->tl, n->dh + r * (size_t)H + dg,
               (size_t)n->tl * sizeof(float));
    wk_mlp_backward(&n->tower, m->theta, n->x, n->dt, n->dx, m->dtheta);
    const float l2 = (float)m->cfg->model.l2 / (float)(b->n > 0 ? b->n : 1);
    memset(grad, 0, (size_t)b->roff[b->n_uniq] * sizeof *grad);
    for (int i = 0; i < b->n; i++) {
        const int32_t ui = b->user_idx[i];
        const float *u = b->rows + b->roff[ui];
        float *gu = grad + b->roff[ui];
        for (int c = 0; c < C; c++) {
            const size_t r = (size_t)i * C + c;
            const int32_t it = c == 0 ? b->item_idx[i] : b->neg_idx[(size_t)i * N + c - 1];
            const float *q = b->rows + b->roff[it];
            float *gq = grad + b->roff[it];
            const float *dx = n->dx + r * 2 * (size_t)dm, *dgmf = n->dh + r * (size_t)H;
            for (int k = 0; k < dg; k++) {
                gu[k] += dgmf[k] * q[k];
                gq[k] += dgmf[k] * u[k];
            }
            for (int k = 0; k < dm; k++) {
                gu[dg + k] += dx[k];
                gq[dg + k] += dx[dm + k];
            }
            for (int k = 0; k < dg + dm; k++) gq[k] += l2 * q[k];
        }
        for (int k = 0; k < dg + dm; k++) gu[k] += l2 * u[k];
    }
}

static void neumf_score_items(wk_model_t *m, const float *const *user, const float *items,
                              const int64_t *item_idx, int64_t n_items, float *out)
{
    neumf_t *n = m->impl;
    const int W = n->dg + n->dm;
    const float **urow = n->urow, **irow = n->irow;
    for (int64_t j0 = 0; j0 < n_items; j0 += (int64_t)n->cap) {
        size_t rows = (size_t)(n_items - j0 < (int64_t)n->cap ? n_items - j0 : (int64_t)n->cap);
        for (size_t r = 0; r < rows; r++) {
            urow[r] = user[T_USER];
            irow[r] = items + (size_t)(j0 + (int64_t)r) * W;
        }
        run(m, urow, irow, rows, out + j0);
    }
}

const wk_model_ops_t wk_model_neumf = {
    .name = "neumf",
    .task = WK_TASK_TOPK,
    .check = neumf_check,
    .layout = neumf_layout,
    .n_params = neumf_params,
    .init = neumf_init,
    .forward = neumf_forward,
    .backward = neumf_backward,
    .score_items = neumf_score_items,
    .desc = neumf_desc,
    .free = neumf_free,
};
