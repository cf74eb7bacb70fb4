/* model: see model.h. Kernels take restrict pointers and never allocate. */
#include "model.h"

#include <math.h>
#include <string.h>

#include "psr_error.h"

void wk_fm_init(wk_fm_t *m, int dim, int cap)
{
    memset(m, 0, sizeof *m);
    m->dim = dim;
    m->width = 1 + dim;
    m->cap = cap;
    m->sum = dim > 0 ? psr_xmalloc((size_t)cap * (size_t)dim * sizeof *m->sum) : NULL;
}

void wk_fm_free(wk_fm_t *m)
{
    if (!m) return;
    free(m->sum);
    memset(m, 0, sizeof *m);
}

double wk_bce_logit(double z, double y)
{
    return (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
}

void wk_fm_forward(wk_fm_t *m, const wk_batch_t *b, const float *restrict rows,
                   float *restrict logit)
{
    const int F = b->n_fields, W = m->width, K = m->dim;
    const float bias = rows[(size_t)b->bias_idx * W];
    for (int i = 0; i < b->n; i++) {
        const int32_t *idx = b->idx + (size_t)i * F;
        const float *x = b->val + (size_t)i * F;
        float z = bias;
        for (int f = 0; f < F; f++) z += x[f] * rows[(size_t)idx[f] * W];
        if (K > 0) {
            float *s = m->sum + (size_t)i * K;
            float sq = 0.0f;
            memset(s, 0, (size_t)K * sizeof *s);
            for (int f = 0; f < F; f++) {
                const float *v = rows + (size_t)idx[f] * W + 1;
                const float xf = x[f];
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

double wk_fm_backward(const wk_fm_t *m, const wk_batch_t *b, const float *restrict rows,
                      const float *restrict logit, float *restrict grad)
{
    const int F = b->n_fields, W = m->width, K = m->dim;
    const float inv_n = 1.0f / (float)(b->n > 0 ? b->n : 1);
    double loss = 0.0;
    memset(grad, 0, (size_t)b->n_uniq * (size_t)W * sizeof *grad);
    for (int i = 0; i < b->n; i++) {
        const double z = logit[i], y = b->label[i];
        loss += wk_bce_logit(z, y);
        const float g = (float)(1.0 / (1.0 + exp(-z)) - y) * inv_n;
        const int32_t *idx = b->idx + (size_t)i * F;
        const float *x = b->val + (size_t)i * F;
        grad[(size_t)b->bias_idx * W] += g;
        for (int f = 0; f < F; f++) {
            float *gr = grad + (size_t)idx[f] * W;
            const float gx = g * x[f];
            gr[0] += gx;
            if (K > 0) {
                const float *v = rows + (size_t)idx[f] * W + 1;
                const float *s = m->sum + (size_t)i * K;
                for (int k = 0; k < K; k++) gr[1 + k] += gx * (s[k] - x[f] * v[k]);
            }
        }
    }
    return loss;
}

double wk_clip_global_norm(float *g, size_t n, double max_norm)
{
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        const float scale = (float)(max_norm / norm);
        for (size_t i = 0; i < n; i++) g[i] *= scale;
    }
    return norm;
}
