/* genui: synthetic user-item logs from a planted latent-factor model (API in genui.h).
 *
 * The planted model. "N" is a standard normal, "U" a uniform on [0, 1), "below(n)" a uniform
 * integer in [0, n) (psr_rng_below); d = --dim.
 *  1. Parameters, drawn from the model stream psr_rng_seed(psr_mix64(seed) ^
 *     GENUI_STREAM_MODEL) in this order: for each user u = 0..U-1: p_u (d values N * d^-1/4),
 *     b_u = GENUI_USER_BIAS_SD * N, z_u = N; for each item i = 0..I-1: q_i (d values
 *     N * d^-1/4), b_i = GENUI_ITEM_BIAS_SD * N; then the id permutation (rule 3). With
 *     components of variance d^-1/2, p_u . q_i has variance 1 whatever d.
 *  2. Popularity: item index i is its popularity rank; its Zipf weight is
 *     pop_i = (i + 1)^-GENUI_ZIPF_S, log pop_i = -GENUI_ZIPF_S ln(i + 1).
 *  3. Ids: userId = u + 1. movieId = 1 + GENUI_ID_STRIDE * pi(i), pi a Fisher-Yates
 *     permutation of 0..I-1 (k = I-1 down to 1: swap k with below(k + 1)), so ids are sparse
 *     and their order says nothing about popularity.
 *  4. Rows per user: every user has one row, and the other rows + test_rows - U are
 *     apportioned (apportion(): largest remainder, ties to the lower user index) in
 *     proportion to the activity exp(GENUI_ACTIVITY_SD z_u) (log-normal, heavy-tailed like
 *     real users), no user above floor(I / 2) rows: n_u. Then the test_rows are apportioned
 *     in proportion to n_u with at most n_u - 1 per user: t_u. A user's last t_u rows in time
 *     are its test rows, the first n_u - t_u its training rows.
 *  5. Each user's rows come from its own stream psr_rng_seed(psr_mix64(psr_mix64(seed) ^
 *     GENUI_STREAM_USER ^ psr_mix64(u))), in this order:
 *     a. n_u distinct items by successive sampling (draw_distinct): an item is drawn with
 *        probability proportional to its weight among the items not yet drawn. Weights:
 *          ratings   w_i = pop_i (which items get rated is missing at random given
 *                    popularity: the ratings are not biased by the selection);
 *          implicit  w_i = exp(a_ui - max_j a_uj), the softmax of the affinity
 *                    a_ui = GENUI_AFFINITY_SCALE * p_u . q_i + log pop_i (a scale of 1/tau:
 *                    tau = 0.4), floored at 1e-300.
 *        One draw: x = U * W (W the weights not yet drawn at the last rebuild), the first item
 *        whose cumulative weight exceeds x; a drawn item is rejected and drawn again; when
 *        the drawn weight passes half of W, the cumulative table is rebuilt without the
 *        drawn items (so the acceptance stays >= 1/2 and the rebuilds number
 *        O(log(weight range))).
 *     b. The order of the n_u items is shuffled (Fisher-Yates as in rule 3): time order says
 *        nothing about popularity, so a user's test items are a uniform subset of its items.
 *     c. Timestamps: t = GENUI_T0 + below(GENUI_T_SPAN) seconds, then for each row in time
 *        order t += 1 + floor(-GENUI_GAP_MEAN ln(1 - U)): strictly increasing per user.
 *        Ratings draw, right after each row's gap, the noise e = noise * N (drawn whatever
 *        --noise, so changing it changes only the ratings).
 *  6. Ratings: rating = mu + b_u + b_i + GENUI_RATING_FACTOR p_u . q_i + e, mu = GENUI_MU,
 *     written with 4 decimals (llround(rating * 1e4) / 1e4), neither clipped nor rounded to
 *     stars: the best any model can do in expectation is RMSE = --noise. The optimum printed
 *     is the RMSE of the planted mean (mu + b_u + b_i + GENUI_RATING_FACTOR p_u . q_i) against
 *     the written test ratings; "biases" is that of mu + b_u + b_i, the model without its
 *     factors. With the defaults the rating has mean 3.5 and standard deviation about 1
 *     (0.3^2 + 0.4^2 + 0.7^2 + 0.5^2 = 0.99), like MovieLens.
 *  7. Implicit: rating 1 for every row. The optimum is psrec's full-ranking protocol
 *     (docs/EVALUATION.md, topk.h rules 1, 2, 9) with the planted affinity as the scores:
 *     the catalogue is the set of items of the training rows; for every user with a test
 *     item in the catalogue, every catalogue item but the user's training items is ranked
 *     by (float) a_ui, higher first, ties to the lower item index (met_topk_select), and the
 *     top GENUI_K are scored against the user's test items in the catalogue: HR@10 = 1 if
 *     one of them is in the list, NDCG@10 = DCG / IDCG; both averaged over those users. Test
 *     items outside the catalogue are counted as unknown. Ranking by a_ui ranks by the true
 *     sampling weight, which maximises the expected hits of the list. "pop" ranks the same
 *     candidates by training count, higher first, ties to the lower catalogue key
 *     psr_feature_key(GENUI_ITEM_FIELD, movieId as decimal text): exactly psrec's pop model
 *     when the item column is field 1, as in cluster-configs/movielens.yaml (columns [user,
 *     item, label, time]).
 * Determinism: every value above is a function of the options; the users' streams do not
 * depend on one another, so a user's rows depend on the row totals only through n_u, t_u. */
#include "genui.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "gen.h"
#include "hash.h"
#include "psr_error.h"
#include "topk.h"

#define GENUI_MU 3.5
#define GENUI_USER_BIAS_SD 0.3
#define GENUI_ITEM_BIAS_SD 0.4
#define GENUI_RATING_FACTOR 0.7   /* standard deviation of the factor term of a rating */
#define GENUI_AFFINITY_SCALE 2.5  /* 1 / tau of the implicit softmax: tau = 0.4 */
#define GENUI_ZIPF_S 0.8
#define GENUI_ACTIVITY_SD 1.0
#define GENUI_ID_STRIDE 7
#define GENUI_T0 1104537600LL     /* 2005-01-01 00:00:00 UTC */
#define GENUI_T_SPAN 315360000LL  /* users start within 10 years */
#define GENUI_GAP_MEAN 3600.0     /* mean seconds between a user's rows */
#define GENUI_MIN_WEIGHT 1e-300
#define GENUI_GUIDE 4096
#define GENUI_LINE_MAX 128        /* > 3 * 20 + 2 + 24 + 1 */
#define GENUI_ITEM_FIELD 1        /* the item column's field in movielens.yaml: pop's ties */

#define GENUI_STREAM_MODEL 0x7569606d6f64000aULL
#define GENUI_STREAM_USER 0x756975736572000bULL

static const char *const kind_names[] = {"ratings", "implicit"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == GENUI_KIND_COUNT,
               "one name per enum genui_kind member");

static const char header[] = "userId,movieId,rating,timestamp\n";

const char *genui_kind_name(int kind)
{
    return kind >= 0 && kind < GENUI_KIND_COUNT ? kind_names[kind] : "?";
}

int genui_kind_parse(const char *name)
{
    for (int k = 0; name && k < GENUI_KIND_COUNT; k++)
        if (!strcmp(name, kind_names[k])) return k;
    return -1;
}

genui_opts_t genui_defaults(void)
{
    genui_opts_t o = {.kind = GENUI_RATINGS,
                      .users = GENUI_DEFAULT_USERS,
                      .items = GENUI_DEFAULT_ITEMS,
                      .rows = GENUI_DEFAULT_ROWS,
                      .test_rows = GENUI_DEFAULT_TEST_ROWS,
                      .dim = GENUI_DEFAULT_DIM,
                      .noise = GENUI_DEFAULT_NOISE,
                      .seed = 1,
                      .gzip = 0,
                      .out_dir = NULL};
    return o;
}

int genui_check(const genui_opts_t *o)
{
    PSR_RETURN_IF(o->kind < 0 || o->kind >= GENUI_KIND_COUNT, PSR_ERR_USAGE,
                  "--kind: %d is not a user-item kind (allowed: ratings, implicit)", o->kind);
    PSR_RETURN_IF(o->users < 1 || o->users > GENUI_MAX_USERS, PSR_ERR_USAGE,
                  "--users: %lld is out of range (allowed 1 .. %d)", (long long)o->users,
                  GENUI_MAX_USERS);
    const int64_t min_items =
        o->kind == GENUI_IMPLICIT ? GENUI_MIN_ITEMS_IMPLICIT : GENUI_MIN_ITEMS_RATINGS;
    PSR_RETURN_IF(o->items < min_items || o->items > GENUI_MAX_ITEMS, PSR_ERR_USAGE,
                  "--items: %lld is out of range for --kind %s (allowed %lld .. %d%s)",
                  (long long)o->items, genui_kind_name(o->kind), (long long)min_items,
                  GENUI_MAX_ITEMS,
                  o->kind == GENUI_IMPLICIT ? ": the optimum ranks a top 10 among them" : "");
    PSR_RETURN_IF(o->dim < 1 || o->dim > GENUI_MAX_DIM, PSR_ERR_USAGE,
                  "--dim: %d is out of range (allowed 1 .. %d)", o->dim, GENUI_MAX_DIM);
    PSR_RETURN_IF(!(o->noise >= 0.0 && o->noise <= GENUI_MAX_NOISE), PSR_ERR_USAGE,
                  "--noise: %g is out of range (allowed 0 .. %g)", o->noise, GENUI_MAX_NOISE);
    PSR_RETURN_IF(o->rows < o->users, PSR_ERR_USAGE,
                  "--rows: %lld is less than --users %lld (every user gets at least one "
                  "training row)",
                  (long long)o->rows, (long long)o->users);
    PSR_RETURN_IF(o->test_rows < 0, PSR_ERR_USAGE, "--test-rows: %lld is negative",
                  (long long)o->test_rows);
    const int64_t cap = o->users * (o->items / 2); /* <= 5e15 */
    PSR_RETURN_IF(o->rows > cap || o->test_rows > cap - o->rows, PSR_ERR_USAGE,
                  "--rows + --test-rows = %lld + %lld exceeds --users * floor(--items / 2) = "
                  "%lld * %lld = %lld (a user's items are distinct and at most half the "
                  "catalogue); lower the rows or raise --users or --items",
                  (long long)o->rows, (long long)o->test_rows, (long long)o->users,
                  (long long)(o->items / 2), (long long)cap);
    return PSR_OK;
}

/* ---- the model ------------------------------------------------------------------------ */

struct genui_model {
    genui_opts_t o;     /* out_dir not used */
    double *slab;       /* backs the double arrays below */
    double *p;          /* (users, dim) */
    double *bu;         /* (users) */
    double *q;          /* (items, dim) */
    double *qt;         /* (dim, items) q transposed: the implicit affinity loop runs over items */
    double *bi;         /* (items) */
    double *logpop;     /* (items) */
    double *pop;        /* (items) Zipf weights */
    double *cdf;        /* (items) cumulative pop */
    uint32_t *guide;    /* (GENUI_GUIDE + 1) first item with cdf > j / GENUI_GUIDE * total */
    int64_t *movie;     /* (items) movieId */
    int32_t *n_all;     /* (users) rows of the user, train + test */
    int32_t *n_test;    /* (users) its test rows */
    int32_t max_rows;   /* max n_all */
};

typedef struct {
    double key;
    int64_t idx;
} keyed_t;

/* key descending, idx ascending */
static int cmp_keyed_desc(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Split `total` among n slots in proportion to w (>= 0), slot u getting at most cap[u]
 * (requires total <= the sum of the caps of slots with w > 0): slots whose proportional
 * share would pass their cap get the cap (water-filling, in the order of w / cap, which is
 * the order they reach it in), the others floor(share) and then one more for the largest
 * fractional parts (ties to the lower index). Deterministic: a fixed order of operations. */
static void apportion(int64_t total, const double *w, const int32_t *cap, int64_t n,
                      int32_t *out)
{
    keyed_t *ord = psr_xmalloc(((size_t)n + 1) * sizeof *ord);
    double *suffix = psr_xmalloc(((size_t)n + 2) * sizeof *suffix);
    int64_t m = 0;
    for (int64_t u = 0; u < n; u++) {
        out[u] = 0;
        if (cap[u] > 0 && w[u] > 0.0) ord[m++] = (keyed_t){w[u] / cap[u], u};
    }
    qsort(ord, (size_t)m, sizeof *ord, cmp_keyed_desc);
    suffix[m] = 0.0;
    for (int64_t k = m - 1; k >= 0; k--) suffix[k] = suffix[k + 1] + w[ord[k].idx];
    int64_t left = total, k = 0;
    for (; k < m; k++) { /* the slots that reach their cap */
        const int64_t u = ord[k].idx;
        if ((double)left * w[u] / suffix[k] < (double)cap[u]) break;
        out[u] = cap[u];
        left -= cap[u];
    }
    const double W = suffix[k];
    int64_t given = 0;
    for (int64_t j = k; j < m; j++) {
        const int64_t u = ord[j].idx;
        double share = W > 0.0 ? (double)left * w[u] / W : 0.0, fl = floor(share);
        if (fl >= (double)cap[u]) fl = (double)cap[u]; /* rounding at the cap */
        out[u] = (int32_t)fl;
        given += out[u];
        ord[j - k] = (keyed_t){out[u] < cap[u] ? share - fl : -1.0, u};
    }
    int64_t rest = left - given, n_frac = m - k;
    qsort(ord, (size_t)n_frac, sizeof *ord, cmp_keyed_desc);
    /* one more for the largest remainders; a second round only if rounding left some over */
    while (rest > 0) {
        int64_t moved = 0;
        for (int64_t j = 0; j < n_frac && rest > 0; j++) {
            const int64_t u = ord[j].idx;
            if (out[u] < cap[u]) {
                out[u]++;
                rest--;
                moved++;
            }
        }
        if (!moved) break; /* unreachable when the caps allow total */
    }
    free(ord);
    free(suffix);
}

genui_model_t *genui_model_new(const genui_opts_t *o)
{
    genui_model_t *m = psr_xcalloc(1, sizeof *m);
    m->o = *o;
    m->o.out_dir = NULL;
    const size_t U = (size_t)o->users, I = (size_t)o->items, d = (size_t)o->dim;
    m->slab = psr_xmalloc((U * (d + 1) + I * (2 * d + 4)) * sizeof *m->slab);
    m->p = m->slab;
    m->bu = m->p + U * d;
    m->q = m->bu + U;
    m->qt = m->q + I * d;
    m->bi = m->qt + I * d;
    m->logpop = m->bi + I;
    m->pop = m->logpop + I;
    m->cdf = m->pop + I;
    m->guide = psr_xmalloc((GENUI_GUIDE + 1) * sizeof *m->guide);
    m->movie = psr_xmalloc(I * sizeof *m->movie);
    m->n_all = psr_xmalloc(U * sizeof *m->n_all);
    m->n_test = psr_xmalloc(U * sizeof *m->n_test);

    /* rule 1 */
    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(o->seed) ^ GENUI_STREAM_MODEL);
    const double fsd = pow((double)d, -0.25);
    double *act = psr_xmalloc(U * sizeof *act);
    for (size_t u = 0; u < U; u++) {
        for (size_t k = 0; k < d; k++) m->p[u * d + k] = fsd * psr_rng_normal(&rng);
        m->bu[u] = GENUI_USER_BIAS_SD * psr_rng_normal(&rng);
        act[u] = exp(GENUI_ACTIVITY_SD * psr_rng_normal(&rng));
    }
    for (size_t i = 0; i < I; i++) {
        for (size_t k = 0; k < d; k++) m->q[i * d + k] = fsd * psr_rng_normal(&rng);
        m->bi[i] = GENUI_ITEM_BIAS_SD * psr_rng_normal(&rng);
    }
    for (size_t i = 0; i < I; i++)
        for (size_t k = 0; k < d; k++) m->qt[k * I + i] = m->q[i * d + k];
    /* rule 3 */
    for (size_t i = 0; i < I; i++) m->movie[i] = (int64_t)i;
    for (size_t k = I - 1; k >= 1; k--) {
        size_t j = (size_t)psr_rng_below(&rng, (uint64_t)k + 1);
        int64_t t = m->movie[k];
        m->movie[k] = m->movie[j];
        m->movie[j] = t;
    }
    for (size_t i = 0; i < I; i++) m->movie[i] = 1 + GENUI_ID_STRIDE * m->movie[i];
    /* rule 2 */
    double acc = 0.0;
    for (size_t i = 0; i < I; i++) {
        m->logpop[i] = -GENUI_ZIPF_S * log((double)(i + 1));
        m->pop[i] = exp(m->logpop[i]);
        acc += m->pop[i];
        m->cdf[i] = acc;
    }
    for (size_t j = 0, i = 0; j <= GENUI_GUIDE; j++) {
        const double x = (double)j / GENUI_GUIDE * acc;
        while (i < I - 1 && !(m->cdf[i] > x)) i++;
        m->guide[j] = (uint32_t)i;
    }
    /* rule 4 */
    int32_t *cap = psr_xmalloc(U * sizeof *cap);
    for (size_t u = 0; u < U; u++) cap[u] = (int32_t)(I / 2) - 1;
    apportion(o->rows + o->test_rows - o->users, act, cap, o->users, m->n_all);
    m->max_rows = 0;
    for (size_t u = 0; u < U; u++) {
        m->n_all[u] += 1;
        if (m->n_all[u] > m->max_rows) m->max_rows = m->n_all[u];
        act[u] = (double)m->n_all[u];
        cap[u] = m->n_all[u] - 1;
    }
    apportion(o->test_rows, act, cap, o->users, m->n_test);
    free(cap);
    free(act);
    return m;
}

void genui_model_free(genui_model_t *m)
{
    if (!m) return;
    free(m->slab);
    free(m->guide);
    free(m->movie);
    free(m->n_all);
    free(m->n_test);
    free(m);
}

int64_t genui_movie_id(const genui_model_t *m, int64_t item) { return m->movie[item]; }

static inline double dot(const double *a, const double *b, int d)
{
    double s = 0.0;
    for (int k = 0; k < d; k++) s += a[k] * b[k];
    return s;
}

static inline double bias_mean(const genui_model_t *m, int64_t u, int64_t i)
{
    return GENUI_MU + m->bu[u] + m->bi[i];
}

double genui_rating_mean(const genui_model_t *m, int64_t u, int64_t i)
{
    const int d = m->o.dim;
    return bias_mean(m, u, i) +
           GENUI_RATING_FACTOR * dot(m->p + (size_t)u * d, m->q + (size_t)i * d, d);
}

double genui_affinity(const genui_model_t *m, int64_t u, int64_t i)
{
    const int d = m->o.dim;
    return GENUI_AFFINITY_SCALE * dot(m->p + (size_t)u * d, m->q + (size_t)i * d, d) +
           m->logpop[i];
}

void genui_user_rows(const genui_model_t *m, int64_t u, int64_t *n_train, int64_t *n_test)
{
    *n_test = m->n_test[u];
    *n_train = m->n_all[u] - m->n_test[u];
}

/* ---- one user's rows (rule 5) ----------------------------------------------------------- */

typedef struct {
    double *w;        /* (items) implicit: the user's weights */
    double *cdf;      /* (items) the user's cumulative table (implicit, or after a rebuild) */
    float *score;     /* (items) implicit: the affinity a_ui as float */
    uint32_t *stamp;  /* (items) == tag: drawn for the current user */
    uint32_t tag;
    int32_t *item;    /* (max_rows) the user's items in time order */
    int64_t *time;    /* (max_rows) */
    double *mean;     /* (max_rows) ratings: planted mean */
    double *rating;   /* (max_rows) ratings: mean + noise, unrounded */
} scratch_t;

static void scratch_init(scratch_t *s, const genui_model_t *m)
{
    const size_t I = (size_t)m->o.items, R = (size_t)m->max_rows + 1;
    const int imp = m->o.kind == GENUI_IMPLICIT;
    s->w = imp ? psr_xmalloc(I * sizeof *s->w) : NULL;
    s->cdf = psr_xmalloc(I * sizeof *s->cdf);
    s->score = imp ? psr_xmalloc(I * sizeof *s->score) : NULL;
    s->stamp = psr_xcalloc(I, sizeof *s->stamp);
    s->tag = 0;
    s->item = psr_xmalloc(R * sizeof *s->item);
    s->time = psr_xmalloc(R * sizeof *s->time);
    s->mean = psr_xmalloc(R * sizeof *s->mean);
    s->rating = psr_xmalloc(R * sizeof *s->rating);
}

static void scratch_free(scratch_t *s)
{
    free(s->w);
    free(s->cdf);
    free(s->score);
    free(s->stamp);
    free(s->item);
    free(s->time);
    free(s->mean);
    free(s->rating);
}

/* First index in [0, n) whose cumulative weight exceeds x (x < cdf[n - 1]); guide narrows
 * the search when given (the model's table for cdf), else a plain binary search. */
static inline int64_t cdf_find(const double *cdf, const uint32_t *guide, int64_t n, double u,
                               double x)
{
    int64_t lo = 0, hi = n - 1;
    if (guide) {
        size_t j = (size_t)(u * GENUI_GUIDE);
        if (j >= GENUI_GUIDE) j = GENUI_GUIDE - 1;
        lo = guide[j];
        hi = guide[j + 1];
        while (lo > 0 && cdf[lo - 1] > x) lo--; /* rounding at the guide's edges */
        while (hi < n - 1 && !(cdf[hi] > x)) hi++;
    }
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Successive sampling of n distinct items of weights w (rule 5a) into out[0..n). cdf0: the
 * cumulative weights (with guide, or NULL); res: (items) scratch for the rebuilt tables (may
 * be cdf0 itself). Items drawn are stamped with tag. */
static void draw_distinct(const double *w, const double *cdf0, const uint32_t *guide,
                          int64_t n_items, int32_t n, psr_rng_t *rng, uint32_t *stamp,
                          uint32_t tag, double *res, int32_t *out)
{
    const double *cdf = cdf0;
    double total = cdf0[n_items - 1], taken = 0.0;
    for (int32_t k = 0; k < n;) {
        if (taken > 0.5 * total) {
            double acc = 0.0;
            for (int64_t i = 0; i < n_items; i++) {
                if (stamp[i] != tag) acc += w[i];
                res[i] = acc;
            }
            cdf = res;
            guide = NULL;
            total = acc;
            taken = 0.0;
        }
        const double u = psr_rng_uniform(rng), x = u * total;
        if (!(x < cdf[n_items - 1])) continue; /* u * total rounded up to the total */
        const int64_t i = cdf_find(cdf, guide, n_items, u, x);
        if (stamp[i] == tag) continue;
        stamp[i] = tag;
        taken += w[i];
        out[k++] = (int32_t)i;
    }
}

/* The rows of user u into s (s->item, s->time and for ratings s->mean, s->rating), n_all[u]
 * of them in time order; for implicit also s->score (every item's affinity). */
static void user_draw(const genui_model_t *m, int64_t u, scratch_t *s)
{
    const int64_t I = m->o.items;
    const int d = m->o.dim;
    const int32_t n = m->n_all[u];
    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(psr_mix64(m->o.seed) ^ GENUI_STREAM_USER ^
                                 psr_mix64((uint64_t)u)));
    if (++s->tag == 0) { /* wrapped: forget every stamp */
        memset(s->stamp, 0, (size_t)I * sizeof *s->stamp);
        s->tag = 1;
    }
    if (m->o.kind == GENUI_IMPLICIT) {
        /* p_u . q_i for every item, summed over k in the order of dot() (same bits), in a
         * loop over items that the compiler vectorises */
        const double *pu = m->p + (size_t)u * d;
        double *restrict a = s->w;
        for (int64_t i = 0; i < I; i++) a[i] = 0.0;
        for (int k = 0; k < d; k++) {
            const double pk = pu[k], *restrict qk = m->qt + (size_t)k * (size_t)I;
            for (int64_t i = 0; i < I; i++) a[i] += pk * qk[i];
        }
        double mx = -INFINITY;
        for (int64_t i = 0; i < I; i++) {
            a[i] = GENUI_AFFINITY_SCALE * a[i] + m->logpop[i];
            s->score[i] = (float)a[i];
            if (a[i] > mx) mx = a[i];
        }
        double acc = 0.0;
        for (int64_t i = 0; i < I; i++) {
            double w = exp(s->w[i] - mx);
            s->w[i] = w > GENUI_MIN_WEIGHT ? w : GENUI_MIN_WEIGHT;
            acc += s->w[i];
            s->cdf[i] = acc;
        }
        draw_distinct(s->w, s->cdf, NULL, I, n, &rng, s->stamp, s->tag, s->cdf, s->item);
    } else {
        draw_distinct(m->pop, m->cdf, m->guide, I, n, &rng, s->stamp, s->tag, s->cdf, s->item);
    }
    for (int32_t k = n - 1; k >= 1; k--) { /* rule 5b */
        int32_t j = (int32_t)psr_rng_below(&rng, (uint64_t)k + 1);
        int32_t t = s->item[k];
        s->item[k] = s->item[j];
        s->item[j] = t;
    }
    int64_t t = GENUI_T0 + (int64_t)psr_rng_below(&rng, (uint64_t)GENUI_T_SPAN);
    for (int32_t k = 0; k < n; k++) { /* rule 5c */
        t += 1 + (int64_t)floor(-GENUI_GAP_MEAN * log(1.0 - psr_rng_uniform(&rng)));
        s->time[k] = t;
        if (m->o.kind == GENUI_RATINGS) {
            double e = m->o.noise * psr_rng_normal(&rng);
            s->mean[k] = genui_rating_mean(m, u, s->item[k]);
            s->rating[k] = s->mean[k] + e;
        }
    }
}

/* ---- writing ------------------------------------------------------------------------------ */

static inline char *put_u64(char *d, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *d++ = tmp[--n];
    return d;
}

/* A rating with 4 decimals, from r4 = llround(rating * 1e4). */
static inline char *put_rating(char *d, int64_t r4)
{
    uint64_t a;
    if (r4 < 0) {
        *d++ = '-';
        a = (uint64_t)0 - (uint64_t)r4;
    } else {
        a = (uint64_t)r4;
    }
    d = put_u64(d, a / 10000);
    *d++ = '.';
    uint32_t f = (uint32_t)(a % 10000);
    d[0] = (char)('0' + f / 1000);
    d[1] = (char)('0' + f / 100 % 10);
    d[2] = (char)('0' + f / 10 % 10);
    d[3] = (char)('0' + f % 10);
    return d + 4;
}

/* One output file: its sink, its writer thread and the buffer being filled. */
typedef struct {
    gen_sink_t sink;
    gen_writer_t w;
    char *bufs; /* 2 * GEN_BUF_BYTES */
    int open, started, cur;
    size_t pos;
} out_t;

static int out_open(out_t *f, const char *dir, const char *name, int gzip)
{
    memset(f, 0, sizeof *f);
    int rc = gen_sink_open(&f->sink, dir, name, gzip);
    if (rc != PSR_OK) return rc;
    f->open = 1;
    f->bufs = psr_xmalloc(2 * (size_t)GEN_BUF_BYTES);
    if (gen_writer_start(&f->w, &f->sink, f->bufs) != PSR_OK)
        return PSR_ERR(PSR_ERR_INTERNAL, "gen: cannot start the writer thread for '%s'", name);
    f->started = 1;
    memcpy(f->w.buf[0], header, sizeof header - 1);
    f->pos = sizeof header - 1;
    return PSR_OK;
}

/* Room for one more line; hands the buffer over when full. */
static inline int out_room(out_t *f)
{
    if (f->pos <= GEN_BUF_BYTES - GENUI_LINE_MAX) return PSR_OK;
    int rc = gen_writer_submit(&f->w, &f->cur, f->pos);
    f->pos = 0;
    return rc;
}

/* Flush and stop the writer; commit (rename) when ok and everything went well, else remove
 * the temporary file. Returns the first error. */
static int out_close(out_t *f, int rc)
{
    if (f->started) {
        if (rc == PSR_OK && f->pos > 0) rc = gen_writer_submit(&f->w, &f->cur, f->pos);
        int wrc = gen_writer_finish(&f->w);
        if (rc == PSR_OK) rc = wrc;
    }
    if (f->open) {
        if (rc == PSR_OK)
            rc = gen_sink_commit(&f->sink);
        if (rc != PSR_OK) gen_sink_abort(&f->sink);
        gen_sink_free(&f->sink);
    }
    free(f->bufs);
    memset(f, 0, sizeof *f);
    return rc;
}

static inline char *put_row(char *d, int64_t user_id, int64_t movie_id, int64_t r4, int imp,
                            int64_t time)
{
    d = put_u64(d, (uint64_t)user_id);
    *d++ = ',';
    d = put_u64(d, (uint64_t)movie_id);
    *d++ = ',';
    if (imp)
        *d++ = '1';
    else
        d = put_rating(d, r4);
    *d++ = ',';
    d = put_u64(d, (uint64_t)time);
    *d++ = '\n';
    return d;
}

/* Pass 1: every user's rows into train and test; for ratings the optimum's sums, for
 * implicit the training count of every item (count, (items), zeroed by the caller). */
static int write_rows(const genui_model_t *m, scratch_t *s, out_t *tr, out_t *te,
                      int64_t *count, double *se, double *se_bias, int64_t *n_se)
{
    const int imp = m->o.kind == GENUI_IMPLICIT;
    int rc = PSR_OK;
    for (int64_t u = 0; u < m->o.users && rc == PSR_OK; u++) {
        user_draw(m, u, s);
        const int32_t n = m->n_all[u], n_train = n - m->n_test[u];
        for (int32_t k = 0; k < n && rc == PSR_OK; k++) {
            const int32_t i = s->item[k];
            int64_t r4 = 0;
            if (!imp) r4 = llround(s->rating[k] * 1e4);
            out_t *f = k < n_train ? tr : te;
            f->pos = (size_t)(put_row(f->w.buf[f->cur] + f->pos, u + 1, m->movie[i], r4, imp,
                                      s->time[k]) -
                              f->w.buf[f->cur]);
            if (k < n_train) {
                if (imp) count[i]++;
            } else if (!imp) {
                const double r = (double)r4 / 1e4, e = r - s->mean[k],
                             eb = r - bias_mean(m, u, i);
                *se += e * e;
                *se_bias += eb * eb;
                ++*n_se;
            }
            rc = out_room(f);
        }
    }
    return rc;
}

static const uint64_t *cmp_fkey; /* qsort context of cmp_pop: catalogue key per item */

/* training count descending, catalogue key ascending (rule 7) */
static int cmp_pop(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    uint64_t kx = cmp_fkey[x->idx], ky = cmp_fkey[y->idx];
    return (kx > ky) - (kx < ky);
}

/* Pass 2 (implicit, rule 7): re-draw every test user's rows and rank. */
static void rank_implicit(const genui_model_t *m, scratch_t *s, const int64_t *count,
                          genui_result_t *res)
{
    const int64_t I = m->o.items;
    uint8_t *skip = psr_xmalloc((size_t)I);
    keyed_t *pop = psr_xmalloc((size_t)I * sizeof *pop);
    uint64_t *fkey = psr_xmalloc((size_t)I * sizeof *fkey);
    int64_t n_cat = 0;
    for (int64_t i = 0; i < I; i++) {
        skip[i] = count[i] == 0;
        if (count[i] > 0) pop[n_cat++] = (keyed_t){(double)count[i], i};
        char tok[24];
        int len = snprintf(tok, sizeof tok, "%lld", (long long)m->movie[i]);
        fkey[i] = psr_feature_key(GENUI_ITEM_FIELD, tok, (size_t)len);
    }
    cmp_fkey = fkey;
    qsort(pop, (size_t)n_cat, sizeof *pop, cmp_pop);
    free(fkey);
    int64_t *rel = psr_xmalloc(((size_t)m->max_rows + 1) * sizeof *rel);
    int64_t top[GENUI_K], ptop[GENUI_K];
    met_topk_t opt, base;
    met_topk_init(&opt, GENUI_K);
    met_topk_init(&base, GENUI_K);
    int64_t unknown = 0;
    for (int64_t u = 0; u < m->o.users; u++) {
        if (m->n_test[u] == 0) continue;
        user_draw(m, u, s);
        const int32_t n = m->n_all[u], n_train = n - m->n_test[u];
        for (int32_t k = 0; k < n_train; k++) skip[s->item[k]] = 1;
        int n_rel = 0;
        for (int32_t k = n_train; k < n; k++) {
            if (count[s->item[k]] > 0)
                rel[n_rel++] = s->item[k];
            else
                unknown++;
        }
        if (n_rel > 0) {
            int n_top = met_topk_select(s->score, I, skip, GENUI_K, top, NULL);
            met_topk_add(&opt, top, n_top, rel, n_rel, NULL, NULL);
            int n_pop = 0;
            for (int64_t j = 0; j < n_cat && n_pop < GENUI_K; j++)
                if (!skip[pop[j].idx]) ptop[n_pop++] = pop[j].idx;
            met_topk_add(&base, ptop, n_pop, rel, n_rel, NULL, NULL);
        }
        for (int32_t k = 0; k < n_train; k++) skip[s->item[k]] = 0; /* in the catalogue */
    }
    met_topk_result_t r;
    met_topk_result(&opt, 0, n_cat, &r);
    res->hr = r.hr;
    res->ndcg = r.ndcg;
    res->test_users = r.lists;
    met_topk_result(&base, 0, n_cat, &r);
    res->pop_hr = r.hr;
    res->pop_ndcg = r.ndcg;
    res->unknown = unknown;
    res->catalogue = n_cat;
    free(rel);
    free(pop);
    free(skip);
}

size_t genui_format_optimum(int kind, const genui_result_t *r, char *buf, size_t cap)
{
    int n;
    if (kind == GENUI_RATINGS)
        n = snprintf(buf, cap, "optimum: rmse=%.6f\nbiases: rmse=%.6f\n", r->rmse, r->bias_rmse);
    else
        n = snprintf(buf, cap,
                     "optimum: hr@%d=%.6f ndcg@%d=%.6f protocol=full\n"
                     "pop: hr@%d=%.6f ndcg@%d=%.6f protocol=full\n",
                     GENUI_K, r->hr, GENUI_K, r->ndcg, GENUI_K, r->pop_hr, GENUI_K, r->pop_ndcg);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int genui_write(const genui_opts_t *o, genui_result_t *res)
{
    PSR_FORWARD(genui_check(o));
    PSR_FORWARD(gen_prepare_out(o->out_dir));

    genui_model_t *m = genui_model_new(o);
    scratch_t s;
    scratch_init(&s, m);
    const int imp = o->kind == GENUI_IMPLICIT;
    int64_t *count = imp ? psr_xcalloc((size_t)o->items, sizeof *count) : NULL;
    genui_result_t r;
    memset(&r, 0, sizeof r);
    r.rmse = r.bias_rmse = r.hr = r.ndcg = r.pop_hr = r.pop_ndcg = NAN;
    double se = 0.0, se_bias = 0.0;
    int64_t n_se = 0;

    out_t tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    int rc = out_open(&tr, o->out_dir, o->gzip ? "train.csv.gz" : "train.csv", o->gzip);
    if (rc == PSR_OK)
        rc = out_open(&te, o->out_dir, o->gzip ? "test.csv.gz" : "test.csv", o->gzip);
    if (rc == PSR_OK) rc = write_rows(m, &s, &tr, &te, count, &se, &se_bias, &n_se);
    rc = out_close(&tr, rc);
    rc = out_close(&te, rc);

    if (rc == PSR_OK) {
        if (imp) {
            rank_implicit(m, &s, count, &r);
        } else if (n_se > 0) {
            r.rmse = sqrt(se / (double)n_se);
            r.bias_rmse = sqrt(se_bias / (double)n_se);
        }
        char text[512];
        size_t n = genui_format_optimum(o->kind, &r, text, sizeof text);
        rc = n ? gen_write_small(o->out_dir, "optimum.txt", text)
               : PSR_ERR(PSR_ERR_INTERNAL, "gen: optimum text does not fit");
    }
    if (rc == PSR_OK) rc = gen_fsync_dir(o->out_dir);
    if (rc == PSR_OK && res) *res = r;
    free(count);
    scratch_free(&s);
    genui_model_free(m);
    return rc;
}
