/* test_deep: DeepFM and DLRM (worker/deep.h) on small shapes: forward against naive twins
 * written here (plain loops in double, reading the documented parameter layout, FM2 as the
 * pairwise sum, DLRM's interaction dot by dot), the whole model's gradient w.r.t. E and every
 * dense parameter against central finite differences, dropout, and spec validation. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "deep.h"
#include "hash.h"
#include "psr_error.h"

enum { F = 5, K = 4, D = 3 };

static psr_rng_t rng;

static float *randn(size_t len, double sd)
{
    float *v = malloc((len ? len : 1) * sizeof *v);
    for (size_t j = 0; j < len; j++) v[j] = (float)(sd * psr_rng_normal(&rng));
    return v;
}

static wk_deep_spec_t deepfm_spec(int fm2)
{
    wk_deep_spec_t s = {0};
    s.type = WK_DEEP_DEEPFM;
    s.n_fields = F, s.dim = K, s.n_dense = D;
    s.n_mlp = 2, s.mlp[0] = 8, s.mlp[1] = 6;
    s.fm2 = fm2;
    s.seed = 42;
    return s;
}

static wk_deep_spec_t dlrm_spec(void)
{
    wk_deep_spec_t s = {0};
    s.type = WK_DEEP_DLRM;
    s.n_fields = F, s.dim = K, s.n_dense = D;
    s.n_bottom = 2, s.bottom[0] = 8, s.bottom[1] = K;
    s.n_top = 3, s.top[0] = 8, s.top[1] = 6, s.top[2] = 1;
    s.seed = 42;
    return s;
}

/* ---- naive twins ---- */

/* One row through an MLP laid out as documented (per layer W (out, in) then b (out)); hidden
 * ReLU, `last_relu` after the last layer. Returns the floats of theta it used. */
static size_t naive_mlp_row(const int *dims, int L, int last_relu, const float *theta,
                            const double *in, double *out)
{
    double a[512], b[512];
    size_t off = 0;
    for (int j = 0; j < dims[0]; j++) a[j] = in[j];
    for (int l = 0; l < L; l++) {
        const int ni = dims[l], no = dims[l + 1];
        const float *W = theta + off, *bias = theta + off + (size_t)ni * no;
        for (int q = 0; q < no; q++) {
            double s = bias[q];
            for (int j = 0; j < ni; j++) s += (double)W[q * ni + j] * a[j];
            b[q] = (l < L - 1 || last_relu) && s < 0 ? 0 : s;
        }
        off += (size_t)ni * no + no;
        memcpy(a, b, (size_t)no * sizeof *a);
    }
    for (int q = 0; q < dims[L]; q++) out[q] = a[q];
    return off;
}

static void naive_deep(const wk_deep_spec_t *s, const float *theta, const float *E,
                       const float *x, size_t n, double *out)
{
    const int Fk = s->n_fields * s->dim, k = s->dim, nf = s->n_fields;
    for (size_t i = 0; i < n; i++) {
        const float *e = E + i * Fk, *xi = x + i * s->n_dense;
        double in[512], o;
        if (s->type == WK_DEEP_DEEPFM) {
            int dims[WK_MLP_MAX_LAYERS + 1];
            dims[0] = Fk + s->n_dense;
            for (int l = 0; l < s->n_mlp; l++) dims[l + 1] = s->mlp[l];
            dims[s->n_mlp + 1] = 1;
            for (int j = 0; j < Fk; j++) in[j] = e[j];
            for (int j = 0; j < s->n_dense; j++) in[Fk + j] = xi[j];
            naive_mlp_row(dims, s->n_mlp + 1, 0, theta, in, &o);
            if (s->fm2) /* the O(F^2 k) definition: sum over field pairs of <E_f, E_g> */
                for (int f = 0; f < nf; f++)
                    for (int g = f + 1; g < nf; g++)
                        for (int c = 0; c < k; c++) o += (double)e[f * k + c] * e[g * k + c];
        } else {
            int bd[WK_MLP_MAX_LAYERS + 1], td[WK_MLP_MAX_LAYERS + 1];
            bd[0] = s->n_dense;
            for (int l = 0; l < s->n_bottom; l++) bd[l + 1] = s->bottom[l];
            double bx[64], bo[64];
            for (int j = 0; j < s->n_dense; j++) bx[j] = xi[j];
            size_t used = naive_mlp_row(bd, s->n_bottom, 1, theta, bx, bo);
            /* Z = [bottom, E_1..E_F]; R = [bottom, Z_a . Z_b for a = 1..F, b < a] */
            double Z[64][64];
            for (int c = 0; c < k; c++) Z[0][c] = bo[c];
            for (int f = 0; f < nf; f++)
                for (int c = 0; c < k; c++) Z[f + 1][c] = e[f * k + c];
            int p = 0;
            for (int c = 0; c < k; c++) in[p++] = bo[c];
            for (int a = 1; a <= nf; a++)
                for (int b = 0; b < a; b++) {
                    double dot = 0;
                    for (int c = 0; c < k; c++) dot += Z[a][c] * Z[b][c];
                    in[p++] = dot;
                }
            td[0] = p;
            for (int l = 0; l < s->n_top; l++) td[l + 1] = s->top[l];
            naive_mlp_row(td, s->n_top, 0, theta + used, in, &o);
        }
        out[i] = o;
    }
}

/* ---- finite differences (see test_layers.c: kinks of ReLU are detected and skipped) ---- */

struct ctx {
    wk_deep_t *d;
    const float *theta, *E, *x, *r;
    size_t n;
    int training;
    float *out;
};

static double eval(struct ctx *c) /* L = sum_i r_i out_i, dropout masks replayed */
{
    psr_rng_seed(wk_deep_rng(c->d), 777);
    wk_deep_forward(c->d, c->theta, c->E, c->x, c->n, c->training, c->out);
    double L = 0;
    for (size_t i = 0; i < c->n; i++) L += (double)c->r[i] * c->out[i];
    return L;
}

static void fd_check(const char *what, struct ctx *c, float *param, size_t len,
                     const float *grad, size_t max_checks)
{
    const double h = 1e-3, atol = 3e-3, rtol = 3e-3;
    size_t n_check = max_checks && max_checks < len ? max_checks : len;
    int bad = 0, skipped = 0;
    double worst = 0;
    const double l0 = eval(c);
    for (size_t t = 0; t < n_check; t++) {
        size_t j = n_check == len ? t : (size_t)psr_rng_below(&rng, len);
        const float keep = param[j];
        param[j] = (float)(keep + h);
        const double hp = (double)param[j] - keep;
        const double lp = eval(c);
        param[j] = (float)(keep - h);
        const double hm = keep - (double)param[j];
        const double lm = eval(c);
        param[j] = keep;
        const double fd = (lp - lm) / (hp + hm), sp = (lp - l0) / hp, sm = (l0 - lm) / hm;
        /* the models are piecewise linear or quadratic along one coordinate, so one-sided
         * slopes agree to rounding except where a ReLU switches inside [-h, h] */
        if (fabs(sp - sm) > 5e-3 * (1 + fabs(fd))) {
            skipped++;
            continue;
        }
        const double ratio = fabs(fd - grad[j]) / (atol + rtol * fabs(fd));
        if (ratio > worst) worst = ratio;
        if (!(ratio <= 1.0)) {
            if (bad < 5) fprintf(stderr, "%s: grad[%zu] = %.7g, finite difference %.7g\n", what, j, grad[j], fd);
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    CHECK(skipped * 50 <= (int)n_check);
    printf("  fd %-22s %5zu of %5zu entries, %d at a kink, worst err/tol %.3f\n", what, n_check, len, skipped, worst);
}

/* ---- one model ---- */

static void test_model(const wk_deep_spec_t *s, const char *label, size_t n, int training)
{
    printf("%s (F %d, k %d, D %d), n = %zu%s\n", label, s->n_fields, s->dim, s->n_dense, n, training ? ", dropout on (masks replayed)" : "");
    CHECK_INT(wk_deep_check_spec(s), PSR_OK);
    wk_deep_t *d = wk_deep_new(s, n + 2);
    CHECK(d != NULL);
    if (!d) return;
    const size_t nF = (size_t)s->n_fields, k = (size_t)s->dim, nD = (size_t)s->n_dense;
    const size_t np = wk_deep_n_params(d), nE = n * nF * k;
    /* n_params from the shapes */
    size_t want = 0;
    if (s->type == WK_DEEP_DEEPFM) {
        size_t prev = nF * k + nD;
        for (int l = 0; l < s->n_mlp; l++) want += prev * s->mlp[l] + s->mlp[l], prev = s->mlp[l];
        want += prev + 1;
    } else {
        size_t prev = nD;
        for (int l = 0; l < s->n_bottom; l++) want += prev * s->bottom[l] + s->bottom[l], prev = s->bottom[l];
        prev = k + nF * (nF + 1) / 2;
        for (int l = 0; l < s->n_top; l++) want += prev * s->top[l] + s->top[l], prev = s->top[l];
    }
    CHECK_INT(np, want);

    float *theta = malloc(np * sizeof *theta), *theta2 = malloc(np * sizeof *theta2);
    wk_deep_init_params(d, 5, theta);
    wk_deep_init_params(d, 5, theta2);
    CHECK(memcmp(theta, theta2, np * sizeof *theta) == 0);
    /* random biases: exercise their gradients and put ReLU units on both sides of 0 */
    for (size_t j = 0; j < np; j++)
        if (theta[j] == 0.0f) theta[j] = (float)(0.2 * psr_rng_normal(&rng));

    float *E = randn(nE, 0.7), *x = randn(n * nD, 1), *r = randn(n, 1);
    float *out = malloc(n * sizeof *out);
    double *ref = malloc(n * sizeof *ref);

    /* forward (eval) vs the naive twin */
    wk_deep_forward(d, theta, E, x, n, 0, out);
    naive_deep(s, theta, E, x, n, ref);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(out[i] - ref[i]) / (1e-5 + 1e-5 * fabs(ref[i]));
        if (e > worst) worst = e;
        CHECK_NEAR(out[i], ref[i], 1e-5, 1e-5);
    }
    printf("  forward vs naive twin: worst err/tol %.3f\n", worst);

    struct ctx c = {d, theta, E, x, r, n, training, out};
    if (training) {
        /* dropout changes the output; the same rng state gives the same output */
        float *o1 = malloc(n * sizeof *o1);
        eval(&c);
        memcpy(o1, out, n * sizeof *o1);
        int differs = 0;
        for (size_t i = 0; i < n; i++) differs |= fabs(out[i] - ref[i]) > 1e-4;
        CHECK(differs);
        eval(&c);
        CHECK(memcmp(o1, out, n * sizeof *o1) == 0);
        /* eval does not touch the rng and is deterministic */
        psr_rng_t before = *wk_deep_rng(d);
        wk_deep_forward(d, theta, E, x, n, 0, o1);
        CHECK(memcmp(&before, wk_deep_rng(d), sizeof before) == 0);
        for (size_t i = 0; i < n; i++) CHECK_NEAR(o1[i], ref[i], 1e-5, 1e-5);
        free(o1);
    }

    /* backward overwrites dE and dtheta (prefilled with garbage) */
    float *dE = malloc(nE * sizeof *dE), *dth = malloc(np * sizeof *dth);
    for (size_t j = 0; j < nE; j++) dE[j] = 1e30f;
    for (size_t j = 0; j < np; j++) dth[j] = 1e30f;
    eval(&c);
    /* the model copied E and x: scribbling on them must not change the backward */
    float *Ekeep = malloc(nE * sizeof *Ekeep), *xkeep = malloc(n * nD * sizeof *xkeep);
    memcpy(Ekeep, E, nE * sizeof *E);
    memcpy(xkeep, x, n * nD * sizeof *x);
    for (size_t j = 0; j < nE; j++) E[j] = 123.0f;
    for (size_t j = 0; j < n * nD; j++) x[j] = -5.0f;
    wk_deep_backward(d, theta, r, dE, dth);
    memcpy(E, Ekeep, nE * sizeof *E);
    memcpy(x, xkeep, n * nD * sizeof *x);

    fd_check("dE", &c, E, nE, dE, 0);
    fd_check("dtheta", &c, theta, np, dth, np > 2000 ? 400 : 0);

    /* n = 0: nothing to do, dtheta zero */
    wk_deep_forward(d, theta, E, x, 0, training, out);
    wk_deep_backward(d, theta, r, dE, dth);
    size_t nz = 0;
    for (size_t j = 0; j < np; j++) nz += dth[j] != 0.0f;
    CHECK_INT(nz, 0);

    free(theta), free(theta2), free(E), free(x), free(r), free(out), free(ref);
    free(dE), free(dth), free(Ekeep), free(xkeep);
    wk_deep_free(d);
}

/* ---- spec validation ---- */

static void expect_bad(const wk_deep_spec_t *s, const char *key, const char *also)
{
    psr_err_clear();
    CHECK_INT(wk_deep_check_spec(s), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), key);
    if (also) CHECK_CONTAINS(psr_err_msg(), also);
    CHECK(wk_deep_new(s, 8) == NULL);
    printf("  rejected: %s\n", psr_err_msg());
}

static void test_specs(void)
{
    printf("spec validation\n");
    wk_deep_spec_t s = dlrm_spec();
    s.bottom[1] = K + 1;
    expect_bad(&s, "model.bottom_mlp", "model.dim");
    s = dlrm_spec();
    s.top[2] = 2;
    expect_bad(&s, "model.top_mlp", "must be 1");
    s = dlrm_spec();
    s.n_bottom = 0;
    expect_bad(&s, "model.bottom_mlp", "0 layers");
    s = dlrm_spec();
    s.n_dense = 0;
    expect_bad(&s, "model.bottom_mlp", "dense");
    s = deepfm_spec(1);
    s.mlp[1] = 0;
    expect_bad(&s, "model.mlp", "width 0");
    s = deepfm_spec(1);
    s.n_mlp = WK_DEEP_MAX_WIDTHS + 1;
    expect_bad(&s, "model.mlp", "17 layers given");
    /* the most hidden layers a config allows (16) build, with the output layer on top */
    s = deepfm_spec(1);
    s.n_mlp = WK_DEEP_MAX_WIDTHS;
    for (int l = 0; l < s.n_mlp; l++) s.mlp[l] = 3;
    wk_deep_t *deep16 = wk_deep_new(&s, 2);
    CHECK(deep16 != NULL);
    wk_deep_free(deep16);
    s = deepfm_spec(1);
    s.dim = 0;
    expect_bad(&s, "model.dim", NULL);
    s = deepfm_spec(1);
    s.dropout = 1.0f;
    expect_bad(&s, "model.dropout", NULL);
    s = deepfm_spec(1);
    s.type = 7;
    expect_bad(&s, "model.type", NULL);
    /* a DeepFM with no hidden layer is a valid (linear) model */
    s = deepfm_spec(1);
    s.n_mlp = 0;
    CHECK_INT(wk_deep_check_spec(&s), PSR_OK);
    s = deepfm_spec(1);
    CHECK(wk_deep_new(&s, 0) == NULL);
    CHECK(strcmp(wk_deep_type_name(WK_DEEP_DLRM), "dlrm") == 0);
    wk_deep_free(NULL);
}

int main(void)
{
    psr_rng_seed(&rng, 31);
    wk_deep_spec_t fm = deepfm_spec(1), dnn = deepfm_spec(0), dl = dlrm_spec();
    test_model(&fm, "deepfm", 7, 0);
    test_model(&fm, "deepfm", 1, 0);
    test_model(&dnn, "deepfm without fm2 (dnn)", 6, 0);
    test_model(&dl, "dlrm", 7, 0);
    test_model(&dl, "dlrm", 1, 0);
    fm.dropout = 0.3f;
    dl.dropout = 0.3f;
    test_model(&fm, "deepfm", 5, 1);
    test_model(&dl, "dlrm", 5, 1);
    /* odd shapes: one field, k = 1, a three-layer bottom, a single-layer top; no dense
     * input and no hidden layer for DeepFM */
    wk_deep_spec_t o1 = dlrm_spec();
    o1.n_fields = 1, o1.dim = 1, o1.n_dense = 2;
    o1.n_bottom = 3, o1.bottom[0] = 3, o1.bottom[1] = 5, o1.bottom[2] = 1;
    o1.n_top = 1, o1.top[0] = 1;
    test_model(&o1, "dlrm", 3, 0);
    wk_deep_spec_t o2 = dlrm_spec();
    o2.n_fields = 7, o2.dim = 3, o2.n_dense = 1, o2.bottom[1] = 3;
    test_model(&o2, "dlrm", 4, 0);
    wk_deep_spec_t o3 = deepfm_spec(1);
    o3.n_fields = 3, o3.dim = 5, o3.n_dense = 0, o3.n_mlp = 0;
    test_model(&o3, "deepfm", 3, 0);
    test_specs();
    CHECK_DONE();
}
