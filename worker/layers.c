/* layers: see layers.h. Kernels take restrict pointers, never allocate, and hand every dense
 * product to cblas_sgemm; the elementwise passes are written so the compiler vectorizes them. */
#include "layers.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "psr_error.h"

/* BLAS dimensions are int; wk_mlp_init and the callers keep every dimension <= INT_MAX. */
static inline int bi(size_t v) { return (int)v; }

/* ---- fully connected ---- */

static void add_bias(float *restrict y, const float *restrict b, size_t n, size_t out)
{
    for (size_t i = 0; i < n; i++) {
        float *restrict row = y + i * out;
        WK_FOR_VEC(j, out, row[j] += b[j]);
    }
}

/* db (out) = column sums of dy (n, out) */
static void col_sums(const float *restrict dy, size_t n, size_t out, float *restrict db)
{
    memset(db, 0, out * sizeof *db);
    for (size_t i = 0; i < n; i++) {
        const float *restrict row = dy + i * out;
        WK_FOR_VEC(j, out, db[j] += row[j]);
    }
}

void wk_fc_forward(const float *restrict x, const float *restrict W, const float *restrict b,
                   size_t n, size_t in, size_t out, float *restrict y)
{
    if (n == 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi(n), bi(out), bi(in), 1.0f, x,
                bi(in), W, bi(in), 0.0f, y, bi(out));
    if (b) add_bias(y, b, n, out);
}

void wk_fc_backward(const float *restrict x, const float *restrict W, const float *restrict dy,
                    size_t n, size_t in, size_t out, float *restrict dx, float *restrict dW,
                    float *restrict db)
{
    if (db) col_sums(dy, n, out, db);
    if (n == 0) {
        memset(dW, 0, out * in * sizeof *dW);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bi(out), bi(in), bi(n), 1.0f, dy,
                bi(out), x, bi(in), 0.0f, dW, bi(in));
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bi(n), bi(in), bi(out), 1.0f, dy,
                    bi(out), W, bi(in), 0.0f, dx, bi(in));
}

/* ---- activations ---- */

static const char *const act_names[] = {"none", "relu", "sigmoid", "tanh"};
_Static_assert(sizeof act_names / sizeof act_names[0] == WK_ACT_COUNT, "act_names");

const char *wk_act_name(int act)
{
    return act >= 0 && act < WK_ACT_COUNT ? act_names[act] : "?";
}

void wk_relu_forward(float *restrict x, size_t len)
{
    WK_FOR_VEC(j, len, x[j] = x[j] > 0.0f ? x[j] : 0.0f);
}

void wk_sigmoid_forward(float *restrict x, size_t len)
{
    for (size_t j = 0; j < len; j++) {
        const float e = expf(-fabsf(x[j])); /* in (0, 1]: never overflows */
        x[j] = x[j] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}

void wk_tanh_forward(float *restrict x, size_t len)
{
    for (size_t j = 0; j < len; j++) x[j] = tanhf(x[j]);
}

void wk_relu_backward(const float *restrict y, float *restrict dy, size_t len)
{
    WK_FOR_VEC(j, len, dy[j] = y[j] > 0.0f ? dy[j] : 0.0f);
}

void wk_sigmoid_backward(const float *restrict y, float *restrict dy, size_t len)
{
    WK_FOR_VEC(j, len, dy[j] *= y[j] * (1.0f - y[j]));
}

void wk_tanh_backward(const float *restrict y, float *restrict dy, size_t len)
{
    WK_FOR_VEC(j, len, dy[j] *= 1.0f - y[j] * y[j]);
}

void wk_act_forward(wk_act_t act, float *restrict x, size_t len)
{
    switch (act) {
    case WK_ACT_RELU: wk_relu_forward(x, len); break;
    case WK_ACT_SIGMOID: wk_sigmoid_forward(x, len); break;
    case WK_ACT_TANH: wk_tanh_forward(x, len); break;
    default: break;
    }
}

void wk_act_backward(wk_act_t act, const float *restrict y, float *restrict dy, size_t len)
{
    switch (act) {
    case WK_ACT_RELU: wk_relu_backward(y, dy, len); break;
    case WK_ACT_SIGMOID: wk_sigmoid_backward(y, dy, len); break;
    case WK_ACT_TANH: wk_tanh_backward(y, dy, len); break;
    default: break;
    }
}

/* ---- dropout ---- */

/* Drop threshold on a 16-bit uniform: element dropped iff u16 < t. Clamped to 65535 so at
 * least one value in 2^16 is kept and the scale stays finite. */
static uint32_t drop_threshold(float p)
{
    if (!(p > 0.0f)) return 0;
    double t = floor((double)p * 65536.0 + 0.5);
    return t > 65535.0 ? 65535u : (uint32_t)t;
}

float wk_dropout_scale(float p)
{
    const uint32_t t = drop_threshold(p);
    return (float)(65536.0 / (double)(65536u - t));
}

void wk_dropout_forward(float *restrict x, uint8_t *restrict mask, size_t len, float p,
                        int training, psr_rng_t *rng)
{
    const uint32_t t = drop_threshold(p);
    if (!training || t == 0) {
        if (mask) memset(mask, 1, len);
        return;
    }
    const float s = wk_dropout_scale(p);
    /* four 16-bit uniforms per 64-bit draw (low bits first), so the rng costs a quarter call
     * per element; the keep factor is s * 0/1 (no branch to mispredict), applied in scalar
     * code: a buffer of factors read back as vectors would stall on store forwarding */
    for (size_t j0 = 0; j0 < len; j0 += 4) {
        uint64_t r = psr_rng_next(rng);
        const size_t m = len - j0 < 4 ? len - j0 : 4;
        for (size_t u = 0; u < m; u++, r >>= 16) {
            const uint32_t keep = (uint32_t)(r & 0xffffu) >= t;
            x[j0 + u] *= s * (float)keep;
            if (mask) mask[j0 + u] = (uint8_t)keep;
        }
    }
}

void wk_dropout_backward(float *restrict dy, const uint8_t *restrict mask, size_t len, float p)
{
    const float s = wk_dropout_scale(p);
    WK_FOR_VEC(j, len, dy[j] *= mask[j] ? s : 0.0f);
}

/* ---- losses ---- */

double wk_loss_bce_logit(const float *restrict z, const float *restrict y, size_t n,
                         float *restrict dz)
{
    const double inv_n = 1.0 / (double)(n > 0 ? n : 1);
    double loss = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double zi = z[i], yi = y[i];
        const double e = exp(-fabs(zi)); /* in (0, 1] */
        loss += (zi > 0 ? zi : 0) - zi * yi + log1p(e);
        if (dz) {
            const double sig = zi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            dz[i] = (float)((sig - yi) * inv_n);
        }
    }
    return loss;
}

double wk_loss_mse(const float *restrict p, const float *restrict y, size_t n,
                   float *restrict dp)
{
    const double inv_n = 1.0 / (double)(n > 0 ? n : 1);
    double loss = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)p[i] - (double)y[i];
        loss += d * d;
        if (dp) dp[i] = (float)(2.0 * d * inv_n);
    }
    return loss;
}

/* ---- MLP ---- */

/* Floats of an array of `count` rounded up to a 64-byte multiple, so every carved array of
 * the slab starts on a cache line. */
static size_t round16(size_t count) { return (count + 15) & ~(size_t)15; }

int wk_mlp_init(wk_mlp_t *m, int n_layers, const size_t *dims, wk_act_t last_act,
                float dropout, size_t cap)
{
    memset(m, 0, sizeof *m);
    PSR_RETURN_IF(n_layers < 1 || n_layers > WK_MLP_MAX_LAYERS, PSR_ERR_CONFIG,
                  "MLP with %d layers: allowed 1 to %d", n_layers, WK_MLP_MAX_LAYERS);
    for (int l = 0; l <= n_layers; l++)
        PSR_RETURN_IF(dims[l] < 1 || dims[l] > INT_MAX, PSR_ERR_CONFIG,
                      "MLP width %zu at position %d: allowed 1 to %d", dims[l], l, INT_MAX);
    PSR_RETURN_IF(!(dropout >= 0.0f && dropout < 1.0f), PSR_ERR_CONFIG,
                  "MLP dropout rate %g: allowed [0, 1)", (double)dropout);
    PSR_RETURN_IF((int)last_act < 0 || last_act >= WK_ACT_COUNT, PSR_ERR_CONFIG,
                  "MLP last activation %d: unknown", (int)last_act);
    PSR_RETURN_IF(cap < 1 || cap > INT_MAX, PSR_ERR_CONFIG,
                  "MLP capacity %zu rows: allowed 1 to %d", cap, INT_MAX);

    m->n_layers = n_layers;
    m->last_act = last_act;
    m->dropout = dropout;
    m->cap = cap;
    m->drop_scale = 1.0f;
    size_t off = 0, gmax = 0, floats = 0;
    for (int l = 0; l < n_layers; l++) {
        const size_t in = dims[l], out = dims[l + 1];
        m->w_off[l] = off;
        off += in * out;
        m->b_off[l] = off;
        off += out;
        if (out > gmax) gmax = out;
        floats += round16(cap * out);
    }
    for (int l = 0; l <= n_layers; l++) m->dims[l] = dims[l];
    m->n_params = off;
    floats += 2 * round16(cap * gmax);

    m->slab = psr_xmalloc(floats * sizeof(float) + 64);
    float *p = (float *)(((uintptr_t)m->slab + 63) & ~(uintptr_t)63);
    for (int l = 0; l < n_layers; l++) {
        m->act[l] = p;
        p += round16(cap * dims[l + 1]);
    }
    m->g[0] = p;
    p += round16(cap * gmax);
    m->g[1] = p;
    return PSR_OK;
}

void wk_mlp_free(wk_mlp_t *m)
{
    if (!m) return;
    free(m->slab);
    memset(m, 0, sizeof *m);
}

void wk_mlp_init_params(const wk_mlp_t *m, uint64_t seed, float *theta)
{
    for (int l = 0; l < m->n_layers; l++) {
        const size_t in = m->dims[l], out = m->dims[l + 1];
        const int relu_after = l < m->n_layers - 1 || m->last_act == WK_ACT_RELU;
        const double sd = relu_after ? sqrt(2.0 / (double)in) : sqrt(2.0 / (double)(in + out));
        psr_rng_t rng;
        psr_rng_seed(&rng, psr_mix64(seed ^ psr_mix64(0x6d6c70u + (uint64_t)l)));
        float *W = theta + m->w_off[l];
        for (size_t j = 0; j < in * out; j++) W[j] = (float)(sd * psr_rng_normal(&rng));
        memset(theta + m->b_off[l], 0, out * sizeof(float));
    }
}

/* y (n, out) = relu(y + b), in one pass after the product */
static void bias_relu(float *restrict y, const float *restrict b, size_t n, size_t out)
{
    for (size_t i = 0; i < n; i++) {
        float *restrict row = y + i * out;
        WK_FOR_VEC(j, out, const float v = row[j] + b[j]; row[j] = v > 0.0f ? v : 0.0f);
    }
}

const float *wk_mlp_forward(wk_mlp_t *m, const float *theta, const float *x, size_t n,
                            int training, psr_rng_t *rng)
{
    if (n > m->cap) psr_die(PSR_ERR_INTERNAL, "MLP forward of %zu rows, capacity %zu", n, m->cap);
    const int L = m->n_layers;
    const int drop = training && m->dropout > 0.0f;
    m->n = n;
    m->drop_scale = drop ? wk_dropout_scale(m->dropout) : 1.0f;
    if (n == 0) return m->act[L - 1];
    const float *in_x = x;
    for (int l = 0; l < L; l++) {
        const size_t in = m->dims[l], out = m->dims[l + 1];
        float *y = m->act[l];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi(n), bi(out), bi(in), 1.0f, in_x,
                    bi(in), theta + m->w_off[l], bi(in), 0.0f, y, bi(out));
        if (l < L - 1) {
            bias_relu(y, theta + m->b_off[l], n, out);
            if (drop) wk_dropout_forward(y, NULL, n * out, m->dropout, 1, rng);
        } else {
            add_bias(y, theta + m->b_off[l], n, out);
            wk_act_forward(m->last_act, y, n * out);
        }
        in_x = y;
    }
    return m->act[L - 1];
}

/* Hidden layers: ReLU then (maybe) dropout, backward from the stored output y_d. A dropped
 * unit has y_d = 0, and a kept one has y_d = s * relu(z), so dz = dy * s * [y_d > 0] is the
 * exact gradient through both without storing the mask. */
static void relu_drop_backward(const float *restrict y, float *restrict g, size_t len, float s)
{
    WK_FOR_VEC(j, len, g[j] *= y[j] > 0.0f ? s : 0.0f);
}

void wk_mlp_backward(wk_mlp_t *m, const float *theta, const float *x, const float *dy,
                     float *dx, float *dtheta)
{
    const int L = m->n_layers;
    const size_t n = m->n;
    if (n == 0) {
        memset(dtheta, 0, m->n_params * sizeof *dtheta);
        return;
    }
    int cur = 0;
    float *g = m->g[cur];
    memcpy(g, dy, n * m->dims[L] * sizeof *g);
    for (int l = L - 1; l >= 0; l--) {
        const size_t in = m->dims[l], out = m->dims[l + 1];
        if (l == L - 1)
            wk_act_backward(m->last_act, m->act[l], g, n * out);
        else
            relu_drop_backward(m->act[l], g, n * out, m->drop_scale);
        /* g is now dL/dz_l (n, out) */
        col_sums(g, n, out, dtheta + m->b_off[l]);
        const float *in_x = l > 0 ? m->act[l - 1] : x;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bi(out), bi(in), bi(n), 1.0f, g,
                    bi(out), in_x, bi(in), 0.0f, dtheta + m->w_off[l], bi(in));
        float *next = l > 0 ? m->g[cur ^ 1] : dx;
        if (next)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bi(n), bi(in), bi(out), 1.0f,
                        g, bi(out), theta + m->w_off[l], bi(in), 0.0f, next, bi(in));
        cur ^= 1;
        g = m->g[cur];
    }
}
