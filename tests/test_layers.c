/* test_layers: every dense layer of worker/layers.h against a naive twin written here (plain
 * loops, double accumulation) on random shapes including n = 1 and odd sizes, and analytic
 * gradients against central finite differences (inputs and parameters). */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "hash.h"
#include "layers.h"
#include "psr_error.h"

static psr_rng_t rng;

static float *randn(size_t len, double sd)
{
    float *v = malloc((len ? len : 1) * sizeof *v);
    for (size_t j = 0; j < len; j++) v[j] = (float)(sd * psr_rng_normal(&rng));
    return v;
}

static float *filled(size_t len, float value)
{
    float *v = malloc((len ? len : 1) * sizeof *v);
    for (size_t j = 0; j < len; j++) v[j] = value;
    return v;
}

/* worst |a - b| / (atol + rtol |b|) over len entries: <= 1 means all within tolerance */
static double worst_ratio(const float *a, const double *b, size_t len, double atol, double rtol)
{
    double w = 0;
    for (size_t j = 0; j < len; j++) {
        double r = fabs((double)a[j] - b[j]) / (atol + rtol * fabs(b[j]));
        if (!(r <= w)) w = r; /* NaN propagates as a failure */
    }
    return w;
}

/* ---- finite differences ----
 * L(theta) is any scalar the caller evaluates; the check perturbs `len` entries of `param`
 * (all of them, or `max_checks` random ones) by +-h. With `kinks`, an entry whose one-sided
 * differences disagree (a ReLU switching inside [-h, h]) is skipped and counted; the caller
 * bounds the count. Piecewise-linear functions make the one-sided slopes agree to rounding.
 * FD_DEBUG=1 in the environment prints each skipped entry. */
typedef double (*eval_fn)(void *ctx);

static int fd_check(const char *what, float *param, size_t len, const float *grad, eval_fn eval,
                    void *ctx, size_t max_checks, int kinks, double h, double atol, double rtol)
{
    size_t n_check = max_checks && max_checks < len ? max_checks : len;
    int bad = 0, skipped = 0;
    double worst = 0;
    const double l0 = kinks ? eval(ctx) : 0;
    for (size_t c = 0; c < n_check; c++) {
        size_t j = n_check == len ? c : (size_t)psr_rng_below(&rng, len);
        const float keep = param[j];
        param[j] = (float)(keep + h);
        const double hp = (double)param[j] - keep; /* the step float can represent */
        double lp = eval(ctx);
        param[j] = (float)(keep - h);
        const double hm = keep - (double)param[j];
        double lm = eval(ctx);
        param[j] = keep;
        const double fd = (lp - lm) / (hp + hm);
        if (kinks) {
            const double sp = (lp - l0) / hp, sm = (l0 - lm) / hm;
            if (fabs(sp - sm) > 5e-3 * (1 + fabs(fd))) {
                if (getenv("FD_DEBUG")) fprintf(stderr, "%s kink j=%zu sp=%g sm=%g g=%g\n", what, j, sp, sm, grad[j]);
                skipped++;
                continue;
            }
        }
        const double err = fabs(fd - grad[j]);
        const double ratio = err / (atol + rtol * fabs(fd));
        if (ratio > worst) worst = ratio;
        if (!(ratio <= 1.0)) {
            if (bad < 5) fprintf(stderr, "%s: grad[%zu] = %.7g, finite difference %.7g\n", what, j, grad[j], fd);
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    /* kinks are rare at random points; many would mean the slopes are wrong, not unlucky */
    CHECK(skipped * 50 <= (int)n_check);
    printf("  fd %-26s %4zu entries, %d at a kink, worst err/tol %.3f\n", what, n_check, skipped, worst);
    return bad;
}

/* ---- fully connected ---- */

static void naive_fc(const float *x, const float *W, const float *b, size_t n, size_t in,
                     size_t out, double *y)
{
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (size_t j = 0; j < in; j++) s += (double)x[i * in + j] * W[o * in + j];
            y[i * out + o] = s;
        }
}

static void naive_fc_backward(const float *x, const float *W, const float *dy, size_t n,
                              size_t in, size_t out, double *dx, double *dW, double *db)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < in; j++) {
            double s = 0;
            for (size_t o = 0; o < out; o++) s += (double)dy[i * out + o] * W[o * in + j];
            dx[i * in + j] = s;
        }
    for (size_t o = 0; o < out; o++) {
        double sb = 0;
        for (size_t i = 0; i < n; i++) sb += dy[i * out + o];
        db[o] = sb;
        for (size_t j = 0; j < in; j++) {
            double s = 0;
            for (size_t i = 0; i < n; i++) s += (double)dy[i * out + o] * x[i * in + j];
            dW[o * in + j] = s;
        }
    }
}

static void test_fc_naive(size_t n, size_t in, size_t out)
{
    float *x = randn(n * in, 1), *W = randn(out * in, 0.5), *b = randn(out, 1);
    float *y = filled(n * out, NAN), *dy = randn(n * out, 1);
    double *yr = malloc(n * out * sizeof *yr);
    naive_fc(x, W, b, n, in, out, yr);
    wk_fc_forward(x, W, b, n, in, out, y);
    CHECK(worst_ratio(y, yr, n * out, 1e-5, 1e-5) <= 1);
    naive_fc(x, W, NULL, n, in, out, yr);
    wk_fc_forward(x, W, NULL, n, in, out, y);
    CHECK(worst_ratio(y, yr, n * out, 1e-5, 1e-5) <= 1);

    /* outputs prefilled with garbage: backward overwrites, never accumulates */
    float *dx = filled(n * in, 1e30f), *dW = filled(out * in, 1e30f), *db = filled(out, 1e30f);
    double *dxr = malloc(n * in * sizeof *dxr), *dWr = malloc(out * in * sizeof *dWr),
           *dbr = malloc(out * sizeof *dbr);
    naive_fc_backward(x, W, dy, n, in, out, dxr, dWr, dbr);
    wk_fc_backward(x, W, dy, n, in, out, dx, dW, db);
    CHECK(worst_ratio(dx, dxr, n * in, 1e-5, 1e-5) <= 1);
    CHECK(worst_ratio(dW, dWr, out * in, 1e-5, 1e-5) <= 1);
    CHECK(worst_ratio(db, dbr, out, 1e-5, 1e-5) <= 1);
    /* dx optional */
    for (size_t j = 0; j < out * in; j++) dW[j] = 1e30f;
    wk_fc_backward(x, W, dy, n, in, out, NULL, dW, db);
    CHECK(worst_ratio(dW, dWr, out * in, 1e-5, 1e-5) <= 1);
    free(x), free(W), free(b), free(y), free(dy), free(yr);
    free(dx), free(dW), free(db), free(dxr), free(dWr), free(dbr);
}

struct fc_ctx {
    const float *x, *W, *b, *r;
    size_t n, in, out;
    float *y;
};

static double fc_eval(void *p) /* L = sum r . y */
{
    struct fc_ctx *c = p;
    wk_fc_forward(c->x, c->W, c->b, c->n, c->in, c->out, c->y);
    double L = 0;
    for (size_t j = 0; j < c->n * c->out; j++) L += (double)c->r[j] * c->y[j];
    return L;
}

static void test_fc_fd(size_t n, size_t in, size_t out)
{
    float *x = randn(n * in, 1), *W = randn(out * in, 0.5), *b = randn(out, 1);
    float *r = randn(n * out, 1), *y = malloc(n * out * sizeof *y);
    float *dx = malloc(n * in * sizeof *dx), *dW = malloc(out * in * sizeof *dW), *db = malloc(out * sizeof *db);
    wk_fc_backward(x, W, r, n, in, out, dx, dW, db);
    struct fc_ctx c = {x, W, b, r, n, in, out, y};
    fd_check("fc dx", x, n * in, dx, fc_eval, &c, 0, 0, 1e-2, 1e-3, 1e-3);
    fd_check("fc dW", W, out * in, dW, fc_eval, &c, 0, 0, 1e-2, 1e-3, 1e-3);
    fd_check("fc db", b, out, db, fc_eval, &c, 0, 0, 1e-2, 1e-3, 1e-3);
    free(x), free(W), free(b), free(r), free(y), free(dx), free(dW), free(db);
}

/* ---- activations ---- */

static double naive_act(wk_act_t a, double v)
{
    switch (a) {
    case WK_ACT_RELU: return v > 0 ? v : 0;
    case WK_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case WK_ACT_TANH: return tanh(v);
    default: return v;
    }
}

static double naive_act_grad(wk_act_t a, double v)
{
    switch (a) {
    case WK_ACT_RELU: return v > 0 ? 1 : 0;
    case WK_ACT_SIGMOID: { double s = 1.0 / (1.0 + exp(-v)); return s * (1 - s); }
    case WK_ACT_TANH: return 1 - tanh(v) * tanh(v);
    default: return 1;
    }
}

struct act_ctx {
    wk_act_t a;
    const float *x, *r;
    float *y;
    size_t len;
};

static double act_eval(void *p)
{
    struct act_ctx *c = p;
    memcpy(c->y, c->x, c->len * sizeof *c->y);
    wk_act_forward(c->a, c->y, c->len);
    double L = 0;
    for (size_t j = 0; j < c->len; j++) L += (double)c->r[j] * c->y[j];
    return L;
}

static void test_activations(void)
{
    const size_t len = 37;
    for (int a = 0; a < WK_ACT_COUNT; a++) {
        float *x = randn(len, 2), *y = malloc(len * sizeof *y), *r = randn(len, 1);
        /* keep ReLU inputs away from its kink so the finite difference is exact */
        for (size_t j = 0; j < len; j++)
            if (fabsf(x[j]) < 0.05f) x[j] = x[j] < 0 ? -0.3f : 0.3f;
        double *yr = malloc(len * sizeof *yr), *gr = malloc(len * sizeof *gr);
        memcpy(y, x, len * sizeof *y);
        wk_act_forward((wk_act_t)a, y, len);
        for (size_t j = 0; j < len; j++) {
            yr[j] = naive_act((wk_act_t)a, x[j]);
            gr[j] = r[j] * naive_act_grad((wk_act_t)a, x[j]);
        }
        CHECK(worst_ratio(y, yr, len, 1e-6, 1e-5) <= 1);
        float *g = malloc(len * sizeof *g);
        memcpy(g, r, len * sizeof *g);
        wk_act_backward((wk_act_t)a, y, g, len); /* from the saved output */
        CHECK(worst_ratio(g, gr, len, 1e-6, 1e-4) <= 1);
        struct act_ctx c = {(wk_act_t)a, x, r, y, len};
        char what[64];
        snprintf(what, sizeof what, "act %s dx", wk_act_name(a));
        fd_check(what, x, len, g, act_eval, &c, 0, 0, 1e-2, 1e-3, 1e-3);
        free(x), free(y), free(r), free(yr), free(gr), free(g);
    }
    /* sigmoid never overflows or returns NaN at large |x| */
    float big[4] = {100.0f, -100.0f, 1000.0f, -1000.0f};
    wk_sigmoid_forward(big, 4);
    CHECK(big[0] == 1.0f && big[2] == 1.0f);
    CHECK(big[1] >= 0.0f && big[1] < 1e-30f && big[3] == 0.0f);
    CHECK(strcmp(wk_act_name(WK_ACT_RELU), "relu") == 0 && strcmp(wk_act_name(99), "?") == 0);
}

/* ---- dropout ---- */

static void test_dropout(void)
{
    const size_t len = 200003; /* odd: the last 64-bit draw is partly used */
    const float p = 0.3f;
    float *x = randn(len, 1), *y = malloc(len * sizeof *y), *y2 = malloc(len * sizeof *y2);
    uint8_t *mask = malloc(len), *mask2 = malloc(len);

    /* eval: identity, rng untouched */
    psr_rng_t r, r0;
    psr_rng_seed(&r, 5);
    r0 = r;
    memcpy(y, x, len * sizeof *y);
    wk_dropout_forward(y, mask, len, p, 0, &r);
    CHECK(memcmp(y, x, len * sizeof *y) == 0);
    CHECK(memcmp(&r, &r0, sizeof r) == 0);
    size_t ones = 0;
    for (size_t j = 0; j < len; j++) ones += mask[j];
    CHECK_INT(ones, len);
    /* p = 0 in training: identity too */
    wk_dropout_forward(y, NULL, len, 0.0f, 1, &r);
    CHECK(memcmp(y, x, len * sizeof *y) == 0);

    /* training: keeps ~(1-p), scales kept by 1/(1-p), zeroes the rest, mask agrees */
    const float s = wk_dropout_scale(p);
    CHECK_NEAR(s, 1.0 / (1.0 - p), 0, 1e-4);
    CHECK(wk_dropout_scale(0.5f) == 2.0f);
    wk_dropout_forward(y, mask, len, p, 1, &r);
    size_t kept = 0, bad = 0;
    for (size_t j = 0; j < len; j++) {
        kept += mask[j];
        if (mask[j] ? y[j] != x[j] * s : y[j] != 0.0f) bad++;
    }
    CHECK_INT(bad, 0);
    const double frac = (double)kept / len, sd = sqrt(p * (1 - p) / len);
    CHECK_NEAR(frac, 1 - p, 5 * sd, 0);
    printf("  dropout p=%.2f: kept %.4f (expect %.4f +- %.4f), scale %.6f\n", p, frac, 1 - p, sd, s);

    /* same seed -> same mask; another seed -> another mask */
    psr_rng_t ra, rb, rc;
    psr_rng_seed(&ra, 77);
    psr_rng_seed(&rb, 77);
    psr_rng_seed(&rc, 78);
    memcpy(y, x, len * sizeof *y);
    memcpy(y2, x, len * sizeof *y2);
    wk_dropout_forward(y, mask, len, p, 1, &ra);
    wk_dropout_forward(y2, mask2, len, p, 1, &rb);
    CHECK(memcmp(mask, mask2, len) == 0 && memcmp(y, y2, len * sizeof *y) == 0);
    CHECK(memcmp(&ra, &rb, sizeof ra) == 0);
    memcpy(y2, x, len * sizeof *y2);
    wk_dropout_forward(y2, mask2, len, p, 1, &rc);
    CHECK(memcmp(mask, mask2, len) != 0);

    /* backward: dy * mask * scale */
    float *g = randn(len, 1), *g0 = malloc(len * sizeof *g0);
    memcpy(g0, g, len * sizeof *g0);
    wk_dropout_backward(g, mask, len, p);
    bad = 0;
    for (size_t j = 0; j < len; j++)
        if (g[j] != (mask[j] ? g0[j] * s : 0.0f)) bad++;
    CHECK_INT(bad, 0);

    /* the mask depends on the rng state only: tiny lengths, including < 4 */
    for (size_t l = 1; l <= 9; l++) {
        psr_rng_t q1, q2;
        psr_rng_seed(&q1, 3);
        psr_rng_seed(&q2, 3);
        memcpy(y, x, l * sizeof *y);
        memcpy(y2, x, l * sizeof *y2);
        wk_dropout_forward(y, NULL, l, 0.5f, 1, &q1);
        wk_dropout_forward(y2, mask, l, 0.5f, 1, &q2);
        CHECK(memcmp(y, y2, l * sizeof *y) == 0);
    }
    free(x), free(y), free(y2), free(mask), free(mask2), free(g), free(g0);
}

/* ---- losses ---- */

struct loss_ctx {
    int mse;
    const float *z, *y;
    size_t n;
};

static double loss_eval(void *p) /* the MEAN loss */
{
    struct loss_ctx *c = p;
    double s = c->mse ? wk_loss_mse(c->z, c->y, c->n, NULL) : wk_loss_bce_logit(c->z, c->y, c->n, NULL);
    return s / c->n;
}

static void test_losses(void)
{
    const size_t n = 9;
    float z[9], y[9], dz[9];
    for (size_t i = 0; i < n; i++) {
        z[i] = (float)(2 * psr_rng_normal(&rng));
        y[i] = i % 3 == 2 ? 0.25f : (float)psr_rng_below(&rng, 2);
    }
    /* bce vs the textbook form (fine at moderate z) */
    double ref = 0;
    for (size_t i = 0; i < n; i++) {
        double sg = 1 / (1 + exp(-(double)z[i]));
        ref += -(y[i] * log(sg) + (1 - y[i]) * log(1 - sg));
    }
    CHECK_NEAR(wk_loss_bce_logit(z, y, n, dz), ref, 1e-9, 1e-9);
    for (size_t i = 0; i < n; i++) CHECK_NEAR(dz[i], (1 / (1 + exp(-(double)z[i])) - y[i]) / n, 1e-7, 1e-6);
    struct loss_ctx c = {0, z, y, n};
    fd_check("bce dz (mean loss)", z, n, dz, loss_eval, &c, 0, 0, 1e-2, 1e-4, 1e-3);

    /* stable at extreme logits: no inf, no NaN, right limits */
    float ze[4] = {100.0f, -100.0f, 1000.0f, -1000.0f}, ye[4] = {1, 0, 0, 1}, de[4];
    double le = wk_loss_bce_logit(ze, ye, 4, de);
    CHECK_NEAR(le, 2000.0, 1e-6, 1e-9); /* the last two are wrong by 1000 each */
    CHECK_NEAR(de[0], 0.0, 1e-12, 0);
    CHECK_NEAR(de[2], 0.25, 1e-7, 0);
    CHECK_NEAR(de[3], -0.25, 1e-7, 0);

    /* mse */
    double mref = 0;
    for (size_t i = 0; i < n; i++) mref += ((double)z[i] - y[i]) * ((double)z[i] - y[i]);
    CHECK_NEAR(wk_loss_mse(z, y, n, dz), mref, 1e-9, 1e-9);
    for (size_t i = 0; i < n; i++) CHECK_NEAR(dz[i], 2.0 * ((double)z[i] - y[i]) / n, 1e-7, 1e-6);
    c.mse = 1;
    fd_check("mse dp (mean loss)", z, n, dz, loss_eval, &c, 0, 0, 1e-2, 1e-4, 1e-3);
}

/* ---- MLP ---- */

/* Naive twin: reads the documented layout (for each layer W (out, in) then b (out)). */
static void naive_mlp(const size_t *dims, int L, wk_act_t last, const float *theta,
                      const float *x, size_t n, double *out)
{
    size_t off = 0, wmax = 0;
    for (int l = 0; l <= L; l++) if (dims[l] > wmax) wmax = dims[l];
    double *a = malloc(wmax * sizeof *a), *b = malloc(wmax * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        off = 0;
        for (size_t j = 0; j < dims[0]; j++) a[j] = x[i * dims[0] + j];
        for (int l = 0; l < L; l++) {
            const size_t in = dims[l], o = dims[l + 1];
            const float *W = theta + off, *bias = theta + off + in * o;
            for (size_t q = 0; q < o; q++) {
                double s = bias[q];
                for (size_t j = 0; j < in; j++) s += W[q * in + j] * a[j];
                b[q] = naive_act(l < L - 1 ? WK_ACT_RELU : last, s);
            }
            off += in * o + o;
            memcpy(a, b, o * sizeof *a);
        }
        for (size_t q = 0; q < dims[L]; q++) out[i * dims[L] + q] = a[q];
    }
    free(a), free(b);
}

struct mlp_ctx {
    wk_mlp_t *m;
    const float *theta, *x, *r;
    size_t n;
    int training;
    uint64_t drop_seed;
};

static double mlp_eval(void *p)
{
    struct mlp_ctx *c = p;
    psr_rng_t dr;
    psr_rng_seed(&dr, c->drop_seed); /* the same masks at every evaluation */
    const float *y = wk_mlp_forward(c->m, c->theta, c->x, c->n, c->training, &dr);
    double L = 0;
    for (size_t j = 0; j < c->n * c->m->dims[c->m->n_layers]; j++) L += (double)c->r[j] * y[j];
    return L;
}

static void test_mlp(int L, const size_t *dims, wk_act_t last, size_t n, float dropout)
{
    wk_mlp_t m;
    CHECK_INT(wk_mlp_init(&m, L, dims, last, dropout, n + 3), PSR_OK);
    size_t np = 0;
    for (int l = 0; l < L; l++) np += dims[l] * dims[l + 1] + dims[l + 1];
    CHECK_INT(m.n_params, np);
    printf("  mlp %zu", dims[0]);
    for (int l = 1; l <= L; l++) printf("-%zu", dims[l]);
    printf(" last %s, n %zu, dropout %.2f: %zu params\n", wk_act_name(last), n, dropout, np);

    float *theta = malloc(np * sizeof *theta), *theta2 = malloc(np * sizeof *theta2);
    wk_mlp_init_params(&m, 99, theta);
    wk_mlp_init_params(&m, 99, theta2);
    CHECK(memcmp(theta, theta2, np * sizeof *theta) == 0);
    wk_mlp_init_params(&m, 100, theta2);
    CHECK(memcmp(theta, theta2, np * sizeof *theta) != 0);
    for (int l = 0; l < L; l++)
        for (size_t j = 0; j < dims[l + 1]; j++) CHECK(theta[m.b_off[l] + j] == 0.0f);
    /* random biases so the bias gradient matters and ReLU units sit in both regimes */
    for (int l = 0; l < L; l++)
        for (size_t j = 0; j < dims[l + 1]; j++) theta[m.b_off[l] + j] = (float)(0.3 * psr_rng_normal(&rng));

    const size_t in = dims[0], out = dims[L];
    float *x = randn(n * in, 1), *r = randn(n * out, 1);
    double *ref = malloc(n * out * sizeof *ref);
    naive_mlp(dims, L, last, theta, x, n, ref);
    const float *y = wk_mlp_forward(&m, theta, x, n, 0, NULL); /* eval: no dropout */
    CHECK(worst_ratio(y, ref, n * out, 1e-5, 1e-4) <= 1);

    /* gradients, with dropout on when asked (masks replayed by reseeding the rng) */
    const int training = dropout > 0;
    struct mlp_ctx c = {&m, theta, x, r, n, training, 1234};
    mlp_eval(&c);
    if (training) {
        /* training output differs from eval output somewhere */
        int differs = 0;
        const float *yt = m.act[L - 1];
        for (size_t j = 0; j < n * out; j++) differs |= fabs(yt[j] - ref[j]) > 1e-4;
        CHECK(differs);
    }
    float *dx = filled(n * in, 1e30f), *dth = filled(np, 1e30f);
    wk_mlp_backward(&m, theta, x, r, dx, dth);
    const int kinks = 1;
    fd_check("mlp dx", x, n * in, dx, mlp_eval, &c, 300, kinks, 1e-3, 3e-3, 3e-3);
    fd_check("mlp dtheta", theta, np, dth, mlp_eval, &c, 400, kinks, 1e-3, 3e-3, 3e-3);
    /* dx = NULL leaves dtheta the same */
    float *dth2 = filled(np, 1e30f);
    mlp_eval(&c);
    wk_mlp_backward(&m, theta, x, r, NULL, dth2);
    CHECK(memcmp(dth, dth2, np * sizeof *dth) == 0);
    free(theta), free(theta2), free(x), free(r), free(ref), free(dx), free(dth), free(dth2);
    wk_mlp_free(&m);
}

static void test_mlp_misc(void)
{
    /* He init: std of a large layer's W close to sqrt(2 / in) */
    size_t dims[3] = {500, 400, 1};
    wk_mlp_t m;
    CHECK_INT(wk_mlp_init(&m, 2, dims, WK_ACT_NONE, 0, 4), PSR_OK);
    float *theta = malloc(m.n_params * sizeof *theta);
    wk_mlp_init_params(&m, 1, theta);
    double ss = 0;
    for (size_t j = 0; j < 500 * 400; j++) ss += (double)theta[j] * theta[j];
    CHECK_NEAR(sqrt(ss / (500 * 400)), sqrt(2.0 / 500), 0, 0.01);
    ss = 0; /* the output layer: Xavier */
    for (size_t j = 0; j < 400; j++) ss += (double)theta[m.w_off[1] + j] * theta[m.w_off[1] + j];
    CHECK_NEAR(sqrt(ss / 400), sqrt(2.0 / 401), 0, 0.15);
    /* n = 0: forward is a no-op, backward zeroes dtheta */
    wk_mlp_forward(&m, theta, NULL, 0, 0, NULL);
    for (size_t j = 0; j < m.n_params; j++) theta[j] = 1;
    wk_mlp_backward(&m, theta, NULL, NULL, NULL, theta);
    size_t nz = 0;
    for (size_t j = 0; j < m.n_params; j++) nz += theta[j] != 0;
    CHECK_INT(nz, 0);
    free(theta);
    wk_mlp_free(&m);
    wk_mlp_free(&m); /* freeing twice (zeroed) and NULL are fine */
    wk_mlp_free(NULL);

    /* bad shapes are config errors with a message, and leave m zeroed */
    size_t bad[3] = {4, 0, 1};
    CHECK_INT(wk_mlp_init(&m, 2, bad, WK_ACT_NONE, 0, 4), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "width 0");
    CHECK(m.slab == NULL);
    CHECK_INT(wk_mlp_init(&m, 0, dims, WK_ACT_NONE, 0, 4), PSR_ERR_CONFIG);
    CHECK_INT(wk_mlp_init(&m, 2, dims, WK_ACT_NONE, 1.0f, 4), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "dropout");
}

int main(void)
{
    psr_rng_seed(&rng, 2024);
    printf("fc vs naive\n");
    const size_t shapes[][3] = {{1, 1, 1}, {1, 7, 3}, {3, 5, 1}, {5, 13, 9}, {17, 33, 65}, {64, 100, 37}, {2, 257, 129}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        test_fc_naive(shapes[s][0], shapes[s][1], shapes[s][2]);
    printf("fc finite differences\n");
    test_fc_fd(1, 3, 2);
    test_fc_fd(5, 7, 3);
    printf("activations\n");
    test_activations();
    printf("dropout\n");
    test_dropout();
    printf("losses\n");
    test_losses();
    printf("mlp\n");
    const size_t d1[] = {7, 5, 3, 2}, d2[] = {4, 6, 1}, d3[] = {3, 2}, d4[] = {13, 9, 11, 7, 1};
    test_mlp(3, d1, WK_ACT_NONE, 6, 0);
    test_mlp(2, d2, WK_ACT_SIGMOID, 5, 0);
    test_mlp(2, d2, WK_ACT_TANH, 1, 0);
    test_mlp(1, d3, WK_ACT_RELU, 1, 0);
    test_mlp(4, d4, WK_ACT_NONE, 9, 0);
    test_mlp(4, d4, WK_ACT_NONE, 9, 0.4f); /* dropout: exact gradients with replayed masks */
    test_mlp(3, d1, WK_ACT_RELU, 11, 0.25f);
    test_mlp_misc();
    CHECK_DONE();
}
