/* deep: see deep.h. All workspace comes from one slab allocated by wk_deep_new; forward and
 * backward never allocate. The MLPs are wk_mlp_t (layers.h); what is here is the glue between
 * them: concatenation, FM2 and DLRM's pairwise interaction. */
#include "deep.h"

#include <cblas.h>
#include <string.h>

#include "psr_error.h"

enum {
    DEEP_MAX_FIELDS = 4096,
    DEEP_MAX_DIM = 1024,   /* the range of model.dim */
    DEEP_MAX_DENSE = 4096,
    DEEP_MAX_WIDTH = 65536,
};

struct wk_deep {
    wk_deep_spec_t spec;
    size_t F, k, D;    /* fields, embedding width, dense inputs */
    size_t cap, n;     /* workspace rows; rows of the last forward */
    size_t n_params;
    size_t off_bot;    /* DLRM: bottom MLP params at theta + off_bot */
    size_t off_mlp;    /* DeepFM MLP / DLRM top MLP params at theta + off_mlp */
    wk_mlp_t mlp;      /* DeepFM MLP, or DLRM top MLP */
    wk_mlp_t bot;      /* DLRM bottom MLP (unused for DeepFM) */
    psr_rng_t rng;     /* dropout masks */
    void *slab;
    /* DeepFM */
    float *cat;        /* (cap, F k + D): [flatten(E), x], the MLP input */
    float *dcat;       /* (cap, F k + D): d/d(cat) */
    float *fm_sum;     /* (cap, k): sum_f E_ifk of the last forward */
    float *fm_sq;      /* (k): scratch */
    /* DLRM */
    size_t n_pairs;    /* F (F + 1) / 2 */
    float *xd;         /* (cap, D): copy of x, the bottom MLP input */
    float *Z;          /* (cap, F + 1, k): [b, E_1 .. E_F] per row */
    float *R;          /* (cap, k + n_pairs): top MLP input [b, dots] */
    float *dR;         /* (cap, k + n_pairs) */
    float *dbot;       /* (cap, k): d/d(bottom output) */
    float *G;          /* (F + 1, F + 1): one row's Z Z^T, then its symmetric dot gradient */
    float *dZ;         /* (F + 1, k): one row's d/dZ */
};

static const char *const type_names[] = {"deepfm", "dlrm"};
_Static_assert(sizeof type_names / sizeof type_names[0] == WK_DEEP_TYPE_COUNT, "type_names");
/* DeepFM's MLP is its hidden widths plus the output layer */
_Static_assert(WK_MLP_MAX_LAYERS >= WK_DEEP_MAX_WIDTHS + 1, "MLP depth");

const char *wk_deep_type_name(int type)
{
    return type >= 0 && type < WK_DEEP_TYPE_COUNT ? type_names[type] : "?";
}

static int check_widths(const char *key, const int *w, int count, int min_count)
{
    PSR_RETURN_IF(count < min_count || count > WK_DEEP_MAX_WIDTHS, PSR_ERR_CONFIG,
                  "%s: %d layers given, allowed %d to %d", key, count, min_count,
                  WK_DEEP_MAX_WIDTHS);
    for (int l = 0; l < count; l++)
        PSR_RETURN_IF(w[l] < 1 || w[l] > DEEP_MAX_WIDTH, PSR_ERR_CONFIG,
                      "%s: width %d at position %d, allowed 1 to %d", key, w[l], l + 1,
                      DEEP_MAX_WIDTH);
    return PSR_OK;
}

int wk_deep_check_spec(const wk_deep_spec_t *s)
{
    PSR_RETURN_IF(s->type < 0 || s->type >= WK_DEEP_TYPE_COUNT, PSR_ERR_CONFIG,
                  "model.type: deep model %d unknown, allowed deepfm or dlrm", s->type);
    const char *name = wk_deep_type_name(s->type);
    PSR_RETURN_IF(s->dim < 1 || s->dim > DEEP_MAX_DIM, PSR_ERR_CONFIG,
                  "model.dim: %d, allowed 1 to %d", s->dim, DEEP_MAX_DIM);
    PSR_RETURN_IF(s->n_fields < 1 || s->n_fields > DEEP_MAX_FIELDS, PSR_ERR_CONFIG,
                  "%s: %d categorical fields in the data schema, allowed 1 to %d", name,
                  s->n_fields, DEEP_MAX_FIELDS);
    PSR_RETURN_IF(s->n_dense < 0 || s->n_dense > DEEP_MAX_DENSE, PSR_ERR_CONFIG,
                  "%s: %d dense inputs in the data schema, allowed 0 to %d", name, s->n_dense,
                  DEEP_MAX_DENSE);
    PSR_RETURN_IF(!(s->dropout >= 0.0f && s->dropout < 1.0f), PSR_ERR_CONFIG,
                  "model.dropout: %g, allowed [0, 1)", (double)s->dropout);
    if (s->type == WK_DEEP_DEEPFM) {
        PSR_FORWARD(check_widths("model.mlp", s->mlp, s->n_mlp, 0));
        return PSR_OK;
    }
    PSR_RETURN_IF(s->n_dense < 1, PSR_ERR_CONFIG,
                  "dlrm: the data schema has no dense inputs; the bottom MLP (model.bottom_mlp) "
                  "needs at least one");
    PSR_FORWARD(check_widths("model.bottom_mlp", s->bottom, s->n_bottom, 1));
    PSR_FORWARD(check_widths("model.top_mlp", s->top, s->n_top, 1));
    PSR_RETURN_IF(s->bottom[s->n_bottom - 1] != s->dim, PSR_ERR_CONFIG,
                  "model.bottom_mlp: last width is %d but model.dim is %d; DLRM dots the bottom "
                  "MLP's output with the embeddings, so they must be equal",
                  s->bottom[s->n_bottom - 1], s->dim);
    PSR_RETURN_IF(s->top[s->n_top - 1] != 1, PSR_ERR_CONFIG,
                  "model.top_mlp: last width is %d, must be 1 (the top MLP outputs the logit)",
                  s->top[s->n_top - 1]);
    return PSR_OK;
}

static size_t round16(size_t count) { return (count + 15) & ~(size_t)15; }

wk_deep_t *wk_deep_new(const wk_deep_spec_t *spec, size_t cap_rows)
{
    if (wk_deep_check_spec(spec) != PSR_OK) return NULL;
    if (cap_rows < 1 || cap_rows > (size_t)1 << 24) {
        PSR_ERR(PSR_ERR_CONFIG, "%s: batch capacity %zu rows, allowed 1 to %d",
                wk_deep_type_name(spec->type), cap_rows, 1 << 24);
        return NULL;
    }
    wk_deep_t *d = psr_xcalloc(1, sizeof *d);
    d->spec = *spec;
    d->F = (size_t)spec->n_fields;
    d->k = (size_t)spec->dim;
    d->D = (size_t)spec->n_dense;
    d->cap = cap_rows;
    psr_rng_seed(&d->rng, spec->seed);
    const size_t F = d->F, k = d->k, D = d->D, cap = cap_rows;
    size_t dims[WK_MLP_MAX_LAYERS + 1];
    size_t floats = 0;
    int rc;
    if (spec->type == WK_DEEP_DEEPFM) {
        dims[0] = F * k + D;
        for (int l = 0; l < spec->n_mlp; l++) dims[l + 1] = (size_t)spec->mlp[l];
        dims[spec->n_mlp + 1] = 1;
        rc = wk_mlp_init(&d->mlp, spec->n_mlp + 1, dims, WK_ACT_NONE, spec->dropout, cap);
        d->off_mlp = 0;
        d->n_params = d->mlp.n_params;
        floats = 2 * round16(cap * (F * k + D)) + round16(cap * k) + round16(k);
    } else {
        dims[0] = D;
        for (int l = 0; l < spec->n_bottom; l++) dims[l + 1] = (size_t)spec->bottom[l];
        rc = wk_mlp_init(&d->bot, spec->n_bottom, dims, WK_ACT_RELU, 0.0f, cap);
        d->n_pairs = F * (F + 1) / 2;
        dims[0] = k + d->n_pairs;
        for (int l = 0; l < spec->n_top; l++) dims[l + 1] = (size_t)spec->top[l];
        if (rc == PSR_OK)
            rc = wk_mlp_init(&d->mlp, spec->n_top, dims, WK_ACT_NONE, spec->dropout, cap);
        d->off_bot = 0;
        d->off_mlp = d->bot.n_params;
        d->n_params = d->bot.n_params + d->mlp.n_params;
        floats = round16(cap * D) + round16(cap * (F + 1) * k) +
                 2 * round16(cap * (k + d->n_pairs)) + round16(cap * k) +
                 round16((F + 1) * (F + 1)) + round16((F + 1) * k);
    }
    if (rc != PSR_OK) { /* cannot happen after wk_deep_check_spec; keep the message */
        wk_deep_free(d);
        return NULL;
    }
    d->slab = psr_xmalloc(floats * sizeof(float) + 64);
    float *p = (float *)(((uintptr_t)d->slab + 63) & ~(uintptr_t)63);
#define CARVE(field, count)                                                                \
    do {                                                                                   \
        d->field = p;                                                                      \
        p += round16(count);                                                               \
    } while (0)
    if (spec->type == WK_DEEP_DEEPFM) {
        CARVE(cat, cap * (F * k + D));
        CARVE(dcat, cap * (F * k + D));
        CARVE(fm_sum, cap * k);
        CARVE(fm_sq, k);
    } else {
        CARVE(xd, cap * D);
        CARVE(Z, cap * (F + 1) * k);
        CARVE(R, cap * (k + d->n_pairs));
        CARVE(dR, cap * (k + d->n_pairs));
        CARVE(dbot, cap * k);
        CARVE(G, (F + 1) * (F + 1));
        CARVE(dZ, (F + 1) * k);
        /* the diagonal of G stays 0 in backward (no self-interaction); forward rewrites G */
    }
#undef CARVE
    return d;
}

void wk_deep_free(wk_deep_t *d)
{
    if (!d) return;
    wk_mlp_free(&d->mlp);
    wk_mlp_free(&d->bot);
    free(d->slab);
    free(d);
}

size_t wk_deep_n_params(const wk_deep_t *d) { return d->n_params; }

/* Weights and biases of FC layers of widths dims[0..n] (layers.h layout). */
static size_t mlp_params(const size_t *dims, int n)
{
    size_t p = 0;
    for (int l = 0; l < n; l++) p += dims[l] * dims[l + 1] + dims[l + 1];
    return p;
}

size_t wk_deep_spec_params(const wk_deep_spec_t *spec)
{
    const size_t F = (size_t)spec->n_fields, k = (size_t)spec->dim, D = (size_t)spec->n_dense;
    size_t dims[WK_MLP_MAX_LAYERS + 1];
    if (spec->type == WK_DEEP_DEEPFM) {
        dims[0] = F * k + D;
        for (int l = 0; l < spec->n_mlp; l++) dims[l + 1] = (size_t)spec->mlp[l];
        dims[spec->n_mlp + 1] = 1;
        return mlp_params(dims, spec->n_mlp + 1);
    }
    dims[0] = D;
    for (int l = 0; l < spec->n_bottom; l++) dims[l + 1] = (size_t)spec->bottom[l];
    size_t p = mlp_params(dims, spec->n_bottom);
    dims[0] = k + F * (F + 1) / 2;
    for (int l = 0; l < spec->n_top; l++) dims[l + 1] = (size_t)spec->top[l];
    return p + mlp_params(dims, spec->n_top);
}

psr_rng_t *wk_deep_rng(wk_deep_t *d) { return &d->rng; }

void wk_deep_init_params(const wk_deep_t *d, uint64_t seed, float *theta)
{
    /* distinct streams per MLP, so the bottom's init does not depend on the top's shape */
    if (d->spec.type == WK_DEEP_DLRM)
        wk_mlp_init_params(&d->bot, psr_mix64(seed ^ 0x626f74746f6dULL), theta + d->off_bot);
    wk_mlp_init_params(&d->mlp, psr_mix64(seed ^ 0x746f70ULL), theta + d->off_mlp);
}

/* ---- DeepFM ---- */

/* FM2 of each row: 1/2 sum_k (s_k^2 - q_k), s_k = sum_f E_fk, q_k = sum_f E_fk^2; keeps s.
 * O(n F k); sq (k) is scratch (per-k partial sums vectorize, a scalar reduction would not). */
static void fm2_forward(const float *restrict cat, size_t n, size_t F, size_t k, size_t ld,
                        float *restrict sum, float *restrict sq, float *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        const float *restrict e = cat + i * ld;
        float *restrict s = sum + i * k;
        memset(s, 0, k * sizeof *s);
        memset(sq, 0, k * sizeof *sq);
        for (size_t f = 0; f < F; f++) {
            const float *restrict ef = e + f * k;
            WK_FOR_VEC(c, k, s[c] += ef[c]; sq[c] += ef[c] * ef[c]);
        }
        float t = 0.0f;
        for (size_t c = 0; c < k; c++) t += s[c] * s[c] - sq[c];
        out[i] += 0.5f * t;
    }
}

static void deepfm_forward(wk_deep_t *d, const float *theta, const float *E, const float *x,
                           size_t n, int training, float *out)
{
    const size_t F = d->F, k = d->k, D = d->D, Fk = F * k, ld = Fk + D;
    for (size_t i = 0; i < n; i++) {
        memcpy(d->cat + i * ld, E + i * Fk, Fk * sizeof(float));
        if (D) memcpy(d->cat + i * ld + Fk, x + i * D, D * sizeof(float));
    }
    const float *mo = wk_mlp_forward(&d->mlp, theta + d->off_mlp, d->cat, n, training, &d->rng);
    memcpy(out, mo, n * sizeof *out);
    if (d->spec.fm2) fm2_forward(d->cat, n, F, k, ld, d->fm_sum, d->fm_sq, out);
}

/* de (F, k) = dc (F, k) + g * (s - E_f) for each field f: the MLP's gradient plus FM2's */
static void fm2_backward_row(const float *restrict dc, const float *restrict e,
                             const float *restrict s, float g, size_t F, size_t k,
                             float *restrict de)
{
    for (size_t f = 0; f < F; f++) {
        const size_t o = f * k;
        WK_FOR_VEC(c, k, de[o + c] = dc[o + c] + g * (s[c] - e[o + c]));
    }
}

static void deepfm_backward(wk_deep_t *d, const float *theta, const float *d_out, float *dE,
                            float *dtheta)
{
    const size_t n = d->n, F = d->F, k = d->k, Fk = F * k, ld = Fk + d->D;
    wk_mlp_backward(&d->mlp, theta + d->off_mlp, d->cat, d_out, d->dcat, dtheta + d->off_mlp);
    for (size_t i = 0; i < n; i++) {
        if (d->spec.fm2) /* dFM2/dE_fk = s_k - E_fk */
            fm2_backward_row(d->dcat + i * ld, d->cat + i * ld, d->fm_sum + i * k, d_out[i], F,
                             k, dE + i * Fk);
        else
            memcpy(dE + i * Fk, d->dcat + i * ld, Fk * sizeof *dE);
    }
}

/* ---- DLRM ---- */

/* Pairwise dots of one row's Z (m = F + 1 vectors of width k) into dots (m (m - 1) / 2) in
 * the order (1,0), (2,0), (2,1), (3,0), ...: one m x m x k sgemm per row into G. */
static void interact_forward(const float *restrict Z, size_t m, size_t k, float *restrict G,
                             float *restrict dots)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)k, 1.0f, Z,
                (int)k, Z, (int)k, 0.0f, G, (int)m);
    size_t p = 0;
    for (size_t a = 1; a < m; a++)
        for (size_t b = 0; b < a; b++) dots[p++] = G[a * m + b];
}

/* dZ (m, k) = S Z where S is symmetric with S_ab = S_ba = d(loss)/d(dot_ab) and S_aa = 0:
 * each dot Z_a . Z_b sends g Z_b to row a and g Z_a to row b. G's diagonal must be 0. */
static void interact_backward(const float *restrict Z, const float *restrict ddots, size_t m,
                              size_t k, float *restrict G, float *restrict dZ)
{
    size_t p = 0;
    for (size_t a = 1; a < m; a++)
        for (size_t b = 0; b < a; b++) {
            G[a * m + b] = ddots[p];
            G[b * m + a] = ddots[p];
            p++;
        }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)k, (int)m, 1.0f, G,
                (int)m, Z, (int)k, 0.0f, dZ, (int)k);
}

static void add_rows(const float *restrict a, const float *restrict b, size_t k,
                     float *restrict out)
{
    WK_FOR_VEC(c, k, out[c] = a[c] + b[c]);
}

static void dlrm_forward(wk_deep_t *d, const float *theta, const float *E, const float *x,
                         size_t n, int training, float *out)
{
    const size_t F = d->F, k = d->k, D = d->D, m = F + 1, Fk = F * k, ldr = k + d->n_pairs;
    memcpy(d->xd, x, n * D * sizeof *d->xd);
    const float *bo = wk_mlp_forward(&d->bot, theta + d->off_bot, d->xd, n, 0, NULL);
    for (size_t i = 0; i < n; i++) {
        float *restrict z = d->Z + i * m * k;
        float *restrict r = d->R + i * ldr;
        memcpy(z, bo + i * k, k * sizeof *z);
        memcpy(z + k, E + i * Fk, Fk * sizeof *z);
        memcpy(r, bo + i * k, k * sizeof *r);
        interact_forward(z, m, k, d->G, r + k);
    }
    const float *to = wk_mlp_forward(&d->mlp, theta + d->off_mlp, d->R, n, training, &d->rng);
    memcpy(out, to, n * sizeof *out);
}

static void dlrm_backward(wk_deep_t *d, const float *theta, const float *d_out, float *dE,
                          float *dtheta)
{
    const size_t n = d->n, F = d->F, k = d->k, m = F + 1, Fk = F * k, ldr = k + d->n_pairs;
    wk_mlp_backward(&d->mlp, theta + d->off_mlp, d->R, d_out, d->dR, dtheta + d->off_mlp);
    for (size_t c = 0; c < m; c++) d->G[c * m + c] = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float *dr = d->dR + i * ldr;
        interact_backward(d->Z + i * m * k, dr + k, m, k, d->G, d->dZ);
        memcpy(dE + i * Fk, d->dZ + k, Fk * sizeof *dE);
        /* the bottom output feeds the top MLP directly and through its dots */
        add_rows(dr, d->dZ, k, d->dbot + i * k);
    }
    wk_mlp_backward(&d->bot, theta + d->off_bot, d->xd, d->dbot, NULL, dtheta + d->off_bot);
}

/* ---- entry points ---- */

void wk_deep_forward(wk_deep_t *d, const float *theta, const float *E, const float *x, size_t n,
                     int training, float *out)
{
    if (n > d->cap)
        psr_die(PSR_ERR_INTERNAL, "%s forward of %zu rows, capacity %zu",
                wk_deep_type_name(d->spec.type), n, d->cap);
    d->n = n;
    if (d->spec.type == WK_DEEP_DEEPFM)
        deepfm_forward(d, theta, E, x, n, training, out);
    else
        dlrm_forward(d, theta, E, x, n, training, out);
}

void wk_deep_backward(wk_deep_t *d, const float *theta, const float *d_out, float *dE,
                      float *dtheta)
{
    if (d->spec.type == WK_DEEP_DEEPFM)
        deepfm_backward(d, theta, d_out, dE, dtheta);
    else
        dlrm_backward(d, theta, d_out, dE, dtheta);
}
