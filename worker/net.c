/* net: see net.h. */
#include "net.h"

#include <math.h>
#include <mpi.h>
#include <string.h>

#include "hash.h"

#include "psr_error.h"
#include "reader.h"
#include "wire.h"

void wk_net_fields(const cfg_t *cfg, int *field0, int *n_fields)
{
    if (cfg->model.type == CFG_MODEL_DLRM) {
        *field0 = RD_CRITEO_INT;
        *n_fields = RD_CRITEO_CAT;
    } else {
        *field0 = 0;
        *n_fields = RD_CRITEO_FIELDS;
    }
}

static void copy_widths(const cfg_ints_t *from, int *n, int *to)
{
    *n = from->n;
    for (int i = 0; i < from->n && i < WK_MLP_MAX_LAYERS; i++) to[i] = from->v[i];
}

int wk_net_init(wk_net_t *m, const cfg_t *cfg, int cap)
{
    memset(m, 0, sizeof *m);
    m->type = cfg->model.type;
    m->cap = cap;
    wk_net_fields(cfg, &m->field0, &m->n_fields);
    const int deep = m->type == CFG_MODEL_DEEPFM || m->type == CFG_MODEL_DLRM;
    m->dim = m->type == CFG_MODEL_LR ? 0 : cfg->model.dim;
    m->width = 1 + m->dim;
    wk_fm_init(&m->fm, m->type == CFG_MODEL_FM ? m->dim : 0, cap);
    if (!deep) return PSR_OK;

    wk_deep_spec_t spec;
    memset(&spec, 0, sizeof spec);
    spec.type = m->type == CFG_MODEL_DLRM ? WK_DEEP_DLRM : WK_DEEP_DEEPFM;
    spec.n_fields = m->n_fields;
    spec.dim = m->dim;
    spec.n_dense = RD_CRITEO_INT;
    copy_widths(&cfg->model.mlp, &spec.n_mlp, spec.mlp);
    copy_widths(&cfg->model.bottom_mlp, &spec.n_bottom, spec.bottom);
    copy_widths(&cfg->model.top_mlp, &spec.n_top, spec.top);
    spec.fm2 = 1;
    spec.dropout = (float)cfg->model.dropout;
    int worker = 0, mpi_up = 0;
    MPI_Initialized(&mpi_up); /* each worker draws its own dropout masks */
    if (mpi_up) MPI_Comm_rank(MPI_COMM_WORLD, &worker);
    spec.seed = psr_mix64(cfg->train.seed ^ (uint64_t)worker);
    PSR_FORWARD(wk_deep_check_spec(&spec));
    m->deep = wk_deep_new(&spec, (size_t)cap);
    if (!m->deep) return PSR_ERR_CONFIG;
    m->n_params = wk_deep_n_params(m->deep);
    m->n_blocks = (int64_t)((m->n_params + WIRE_DENSE_BLOCK - 1) / WIRE_DENSE_BLOCK);
    size_t padded = (size_t)m->n_blocks * WIRE_DENSE_BLOCK;
    m->theta = psr_xcalloc(padded, sizeof *m->theta);
    m->dtheta = psr_xcalloc(padded, sizeof *m->dtheta);
    wk_deep_init_params(m->deep, cfg->train.seed, m->theta);
    size_t e = (size_t)cap * (size_t)m->n_fields * (size_t)m->dim;
    m->E = psr_xmalloc(e * sizeof *m->E);
    m->dE = psr_xmalloc(e * sizeof *m->dE);
    m->lin = psr_xmalloc((size_t)cap * sizeof *m->lin);
    m->dout = psr_xmalloc((size_t)cap * sizeof *m->dout);
    return PSR_OK;
}

void wk_net_free(wk_net_t *m)
{
    if (!m) return;
    wk_fm_free(&m->fm);
    wk_deep_free(m->deep);
    free(m->theta);
    free(m->dtheta);
    free(m->E);
    free(m->dE);
    free(m->lin);
    free(m->dout);
    memset(m, 0, sizeof *m);
}

void wk_net_forward(wk_net_t *m, const wk_batch_t *b, const float *rows, int training,
                    float *logit)
{
    if (!m->deep) {
        wk_fm_forward(&m->fm, b, rows, logit);
        return;
    }
    const int F = b->n_fields, W = m->width, K = m->dim;
    const float bias = rows[(size_t)b->bias_idx * W];
    for (int i = 0; i < b->n; i++) {
        const int32_t *idx = b->idx + (size_t)i * F;
        const float *x = b->val + (size_t)i * F;
        float *e = m->E + (size_t)i * F * K;
        float z = bias;
        for (int f = 0; f < F; f++) {
            const float *row = rows + (size_t)idx[f] * W;
            z += x[f] * row[0];
            for (int k = 0; k < K; k++) e[f * K + k] = x[f] * row[1 + k];
        }
        m->lin[i] = z;
    }
    wk_deep_forward(m->deep, m->theta, m->E, b->dense, (size_t)b->n, training, logit);
    for (int i = 0; i < b->n; i++) logit[i] += m->lin[i];
}

double wk_net_backward(wk_net_t *m, const wk_batch_t *b, const float *rows, const float *logit,
                       float *grad)
{
    if (!m->deep) return wk_fm_backward(&m->fm, b, rows, logit, grad);
    const int F = b->n_fields, W = m->width, K = m->dim;
    const float inv_n = 1.0f / (float)(b->n > 0 ? b->n : 1);
    double loss = 0.0;
    for (int i = 0; i < b->n; i++) {
        const double z = logit[i], y = b->label[i];
        loss += wk_bce_logit(z, y);
        m->dout[i] = (float)(1.0 / (1.0 + exp(-z)) - y) * inv_n;
    }
    wk_deep_backward(m->deep, m->theta, m->dout, m->dE, m->dtheta);
    memset(grad, 0, (size_t)b->n_uniq * (size_t)W * sizeof *grad);
    for (int i = 0; i < b->n; i++) {
        const float g = m->dout[i];
        const int32_t *idx = b->idx + (size_t)i * F;
        const float *x = b->val + (size_t)i * F;
        const float *de = m->dE + (size_t)i * F * K;
        grad[(size_t)b->bias_idx * W] += g;
        for (int f = 0; f < F; f++) {
            float *gr = grad + (size_t)idx[f] * W;
            gr[0] += g * x[f];
            for (int k = 0; k < K; k++) gr[1 + k] += x[f] * de[f * K + k];
        }
    }
    return loss;
}
