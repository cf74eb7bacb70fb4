/* m_deep: DeepFM (Guo et al. 2017) and DLRM (Naumov et al. 2019) over the dense kernels of
 * deep.h. Two models, one glue.
 *
 * One table, `features` (width 1 + dim: w[0] a linear weight, w[1..dim] the embedding). A row
 * embeds its fields: E_if = sum over field f's features j of x_j * w[1..dim] of key j (one
 * feature per field in Criteo rows, so E_if = x_f v_f; multi-valued fields are sum-pooled).
 *   deepfm: every field but the time is embedded; the MLP also reads the dense values;
 *           logit = bias + sum_j x_j w0_j + FM2(E) + MLP([E, dense])
 *   dlrm:   categorical fields are embedded (dense columns are the bottom MLP's input);
 *           logit = bias + sum_j x_j w0_j + top([bottom(dense), dots(E)])
 * Dense parameters: deep.h's layout; on the servers or all-reduced (train.dense_sync). */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "deep.h"
#include "model.h"
#include "psr_error.h"

typedef struct {
    wk_deep_t *deep;
    int n_slots;                 /* embedded fields */
    int16_t slot[BLK_MAX_FIELDS];/* field -> slot, -1 not embedded */
    int dim;
    float *E, *dE;               /* (cap, n_slots, dim) */
    float *lin;                  /* (cap) */
} deep_t;

static int is_dlrm(const cfg_t *c) { return !strcmp(c->model.type, "dlrm"); }

/* Field f is embedded by this model. */
static int embeds(const cfg_t *c, const blk_schema_t *s, int f)
{
    if (s->kind[f] == BLK_FIELD_TIME) return 0;
    return !is_dlrm(c) || s->kind[f] != BLK_FIELD_DENSE;
}

static void copy_widths(const cfg_ints_t *from, int *n, int *to)
{
    *n = from->n;
    for (int i = 0; i < from->n && i < WK_MLP_MAX_LAYERS; i++) to[i] = from->v[i];
}

static void spec_of(const cfg_t *c, const blk_schema_t *s, wk_deep_spec_t *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->type = is_dlrm(c) ? WK_DEEP_DLRM : WK_DEEP_DEEPFM;
    for (int f = 0; f < s->n_fields; f++) spec->n_fields += embeds(c, s, f);
    spec->dim = c->model.dim;
    spec->n_dense = s->n_dense;
    copy_widths(&c->model.mlp, &spec->n_mlp, spec->mlp);
    copy_widths(&c->model.bottom_mlp, &spec->n_bottom, spec->bottom);
    copy_widths(&c->model.top_mlp, &spec->n_top, spec->top);
    spec->fm2 = 1;
    spec->dropout = (float)c->model.dropout;
    int worker = 0, mpi_up = 0;
    MPI_Initialized(&mpi_up); /* each worker draws its own dropout masks */
    if (mpi_up) MPI_Comm_rank(MPI_COMM_WORLD, &worker);
    spec->seed = psr_mix64(c->train.seed ^ (uint64_t)worker);
}

static int deep_check(const cfg_t *c, const blk_schema_t *s)
{
    if (is_dlrm(c)) {
        /* libsvm / libffm rows (and csv without dense columns) have no dense values: say so
         * before any width, which could not fix it */
        PSR_RETURN_IF(s->n_dense == 0, PSR_ERR_CONFIG,
                      "invalid config: model.type dlrm needs dense inputs (its bottom MLP reads "
                      "them), but data.format %s rows have none; use deepfm, fm or lr%s",
                      cfg_enum_name("data.format", c->data.format),
                      c->data.format == CFG_FORMAT_CSV ? ", or add dense columns" : "");
        /* the bottom MLP turns the dense features into one more embedding-sized vector that
         * enters the pairwise dot products, and the top MLP ends in the click logit */
        int bottom = c->model.bottom_mlp.v[c->model.bottom_mlp.n - 1];
        int top = c->model.top_mlp.v[c->model.top_mlp.n - 1];
        PSR_RETURN_IF(bottom != c->model.dim, PSR_ERR_CONFIG,
                      "invalid config: model.bottom_mlp ends in %d but model.dim is %d; with "
                      "model.type dlrm the bottom MLP's last width must equal model.dim (its "
                      "output is one more embedding); change the last item of model.bottom_mlp "
                      "or model.dim", bottom, c->model.dim);
        PSR_RETURN_IF(top != 1, PSR_ERR_CONFIG,
                      "invalid config: model.top_mlp ends in %d; with model.type dlrm its last "
                      "width must be 1 (the click logit); end model.top_mlp with 1", top);
    }
    wk_deep_spec_t spec;
    spec_of(c, s, &spec);
    return wk_deep_check_spec(&spec);
}

static void deep_layout(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay)
{
    lay->tables.n = 1;
    psr_table_spec_t *t = &lay->tables.t[0];
    snprintf(t->name, sizeof t->name, "features");
    t->width = 1 + c->model.dim;
    t->zero_first = 1;
    t->init_std = (float)c->model.init_std;
    for (int f = 0; f < s->n_fields; f++) lay->field_table[f] = embeds(c, s, f) ? 0 : -1;
    lay->bias_table = 0;
}

static size_t deep_params(const cfg_t *c, const blk_schema_t *s)
{
    wk_deep_spec_t spec;
    spec_of(c, s, &spec);
    return wk_deep_spec_params(&spec);
}

static size_t ints_desc(char *buf, size_t cap, const char *name, const cfg_ints_t *v)
{
    size_t o = (size_t)snprintf(buf, cap, " %s=[", name);
    for (int i = 0; i < v->n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%d", i ? "," : "", v->v[i]);
    if (o < cap) o += (size_t)snprintf(buf + o, cap - o, "]");
    return o;
}

static size_t deep_desc(const cfg_t *c, char *buf, size_t cap)
{
    if (!is_dlrm(c)) return ints_desc(buf, cap, "mlp", &c->model.mlp);
    size_t o = ints_desc(buf, cap, "bottom_mlp", &c->model.bottom_mlp);
    if (o < cap) o += ints_desc(buf + o, cap - o, "top_mlp", &c->model.top_mlp);
    return o;
}

static int deep_init(wk_model_t *m, const blk_schema_t *s)
{
    const cfg_t *c = m->cfg;
    wk_deep_spec_t spec;
    spec_of(c, s, &spec);
    deep_t *d = psr_xcalloc(1, sizeof *d);
    m->impl = d;
    d->deep = wk_deep_new(&spec, (size_t)m->cap);
    if (!d->deep) return PSR_ERR_CONFIG;
    PSR_RETURN_IF(wk_deep_n_params(d->deep) != m->n_params, PSR_ERR_INTERNAL,
                  "deep model: %zu parameters built, %zu counted", wk_deep_n_params(d->deep),
                  m->n_params);
    wk_deep_init_params(d->deep, c->train.seed, m->theta);
    m->rng = wk_deep_rng(d->deep);
    d->dim = c->model.dim;
    for (int f = 0; f < BLK_MAX_FIELDS; f++) d->slot[f] = -1;
    for (int f = 0; f < s->n_fields; f++)
        if (embeds(c, s, f)) d->slot[f] = (int16_t)d->n_slots++;
    size_t e = (size_t)m->cap * (size_t)d->n_slots * (size_t)d->dim;
    d->E = psr_xmalloc(e * sizeof *d->E);
    d->dE = psr_xmalloc(e * sizeof *d->dE);
    d->lin = psr_xmalloc((size_t)m->cap * sizeof *d->lin);
    return PSR_OK;
}

static void deep_free(wk_model_t *m)
{
    deep_t *d = m->impl;
    if (d) {
        wk_deep_free(d->deep);
        free(d->E);
        free(d->dE);
        free(d->lin);
    }
    free(d);
    m->impl = NULL;
}

static void deep_forward(wk_model_t *m, const wk_batch_t *b, int training, float *logit)
{
    deep_t *d = m->impl;
    const int F = d->n_slots, K = d->dim;
    const float *rows = b->rows;
    const int64_t *roff = b->roff;
    const float bias = rows[roff[b->bias_idx]];
    /* -0.0 is the identity of float addition (-0 + x == x for every x, +0 and -0 included),
     * so a field with one feature gets exactly x * v */
    const size_t n_e = (size_t)b->n * (size_t)F * (size_t)K;
    for (size_t q = 0; q < n_e; q++) d->E[q] = -0.0f;
    for (int i = 0; i < b->n; i++) {
        float *e = d->E + (size_t)i * F * K;
        float z = bias;
        for (int64_t j = b->off[i]; j < b->off[i + 1]; j++) {
            const float *row = rows + roff[b->idx[j]];
            const float x = b->val[j];
            float *ef = e + (size_t)d->slot[b->field[j]] * K;
            z += x * row[0];
            for (int k = 0; k < K; k++) ef[k] += x * row[1 + k];
        }
        d->lin[i] = z;
    }
    wk_deep_forward(d->deep, m->theta, d->E, b->dense, (size_t)b->n, training, logit);
    for (int i = 0; i < b->n; i++) logit[i] += d->lin[i];
}

static void deep_backward(wk_model_t *m, const wk_batch_t *b, const float *dscore, float *grad)
{
    deep_t *d = m->impl;
    const int F = d->n_slots, K = d->dim;
    const int64_t *roff = b->roff;
    wk_deep_backward(d->deep, m->theta, dscore, d->dE, m->dtheta);
    memset(grad, 0, (size_t)roff[b->n_uniq] * sizeof *grad);
    for (int i = 0; i < b->n; i++) {
        const float g = dscore[i];
        const float *de = d->dE + (size_t)i * F * K;
        grad[roff[b->bias_idx]] += g;
        for (int64_t j = b->off[i]; j < b->off[i + 1]; j++) {
            float *gr = grad + roff[b->idx[j]];
            const float x = b->val[j];
            const float *def = de + (size_t)d->slot[b->field[j]] * K;
            gr[0] += g * x;
            for (int k = 0; k < K; k++) gr[1 + k] += x * def[k];
        }
    }
}

const wk_model_ops_t wk_model_deepfm = {
    .name = "deepfm",
    .task = WK_TASK_CTR,
    .check = deep_check,
    .layout = deep_layout,
    .n_params = deep_params,
    .init = deep_init,
    .forward = deep_forward,
    .backward = deep_backward,
    .desc = deep_desc,
    .free = deep_free,
};

const wk_model_ops_t wk_model_dlrm = {
    .name = "dlrm",
    .task = WK_TASK_CTR,
    .check = deep_check,
    .layout = deep_layout,
    .n_params = deep_params,
    .init = deep_init,
    .forward = deep_forward,
    .backward = deep_backward,
    .desc = deep_desc,
    .free = deep_free,
};
