/* gen: synthetic Criteo-format logs from a planted model (see gen.h for the API).
 *
 * The planted models: GEN_TRUTH_FM (rules 1-6) and GEN_TRUTH_DEEP (rules 1-5, 7, 8). Their
 * structure and scales are the tables below; every parameter is then a pure function of the
 * seed. "N" is a standard normal and "U" a uniform
 * on [0, 1), drawn from the model stream psr_rng_seed(mix64(seed) ^ GEN_STREAM_MODEL) in a
 * fixed order (integer fields, then categorical fields, in field order).
 *
 *  1. Categorical field f (C1..C26, cat_spec[]) has V_f ids, V_f from 10 to 5000. The value
 *     is missing (empty) with probability miss_f; otherwise id r in [0, V_f) is drawn from
 *     a Zipf law, P(r) proportional to (r + 1)^-s_f, s_f in [1.0, 1.2], by inverse CDF
 *     (cumulative table, 4096-entry guide table, binary search). Id r is written as 8
 *     lowercase hex digits: the low 32 bits of a fixed hash of (field, r, salt), salt the
 *     smallest that keeps the field's tokens distinct. Tokens do not depend on the seed.
 *  2. Integer field f (I1..I13, int_spec[]): missing with probability miss_f; else negative
 *     with probability neg_f (-1, -2, -3 in proportions .7/.2/.1); else 0 with probability
 *     zero_f; else uniform in [2^e, 2^(e+1)) for an octave e in [0, 23] drawn with P(e)
 *     proportional to exp(-(e - mu_f)^2 / (2 sd_f^2)) (a discretised log-normal, long-tailed
 *     like Criteo's counts). The truth sees an integer only through its slot: the log
 *     bucket b of reader.h rule 2 (-1 for v < 0, v for v <= 2, floor(ln(v)^2) above) or
 *     "missing", so a model with bucketized integer features can express it exactly.
 *  3. Raw first-order parameters. Categorical: w_f(r) = N * h(r) with the shrinkage
 *     h(r) = 1 / (1 + r / 5) of Zipf rank r, so rare ids carry little weight and the
 *     parameters that matter number a few dozen per field; the missing slot gets N.
 *     Integer: with A = N, c = ln2 * (mu_f + sd_f * (2U - 1)), d = ln2 * sd_f * (0.5 + U),
 *     w_f(b) = A * tanh((sqrt(b) - c) / d) + 0.3 N for b >= 0 (a smooth curve over the
 *     buckets), N for the b = -1 and missing slots.
 *  4. Raw factors (GEN_K = 4 components) only for the fields with tau_f > 0 (0.3): the small
 *     categorical fields C6, C9, C14, C17, C23 (10 .. 25 ids): v_f(r) = N_vec * h(r),
 *     missing slot N_vec. All other fields have no factors (no interactions).
 *  5. Normalisation on GEN_CALIB_ROWS rows of the calibration stream (GEN_STREAM_CALIB;
 *     features do not depend on parameters): each field's w_f is shifted and scaled to mean
 *     0 and standard deviation sigma_f over the row distribution, each interacting field's
 *     factors scaled to mean squared norm tau_f^2 * GEN_K. The logit's spread thus follows
 *     the tables instead of the luck of a few head ids' draws.
 *  6. logit = bias + sum_f w_f(x_f) + sum_{f<g} <v_f(x_f), v_g(x_g)>, p = sigmoid(logit),
 *     label = 1 iff U < p (U from the row's stream). The bias is set by bisection so that
 *     the mean p over the calibration rows is GEN_TARGET_CTR = 0.25.
 *  GEN_TRUTH_FM: with these tables the optimum (AUC of the true p on test rows) is 0.80-0.82
 *  and its logloss ~0.44 across seeds. Measured learnability (50k test rows, seeds 1 and 5):
 *  an FM of dimension 8 with bucketized integers, Adam lr 0.002, batch 256, L2 0.001 on
 *  factors, 3 epochs, gets within 0.011 AUC of the optimum from 500k rows (0.013 from 300k);
 *  logistic regression, which cannot express the interactions, stays 0.022-0.025 below.
 *  7. GEN_TRUTH_DEEP has the parameters of rules 3-5 (same seed, same draws), but an integer
 *     enters through its dense value x = ln(1 + max(v, 0)) (0 when missing), the input that
 *     DeepFM's MLP and DLRM's bottom MLP see: its first-order term is the smooth curve of
 *     rule 3 without the per-bucket noise, A * tanh((x - c) / d), shifted and scaled as in
 *     rule 5 to mean 0 and standard deviation sigma_f. FM(x) denotes rule 6's logit with
 *     these integer terms and without the bias.
 *  8. GEN_TRUTH_DEEP: logit = bias + rho FM(x) + sum_t T_t(x), rho = GEN_DEEP_FM_SCALE, with
 *     three product terms (deep_spec[]: C5 x C8 x I8, C9 x C17 x I11, C6 x C14 x I7)
 *       T_t = lambda_t (s_a(x_a) + B) (s_b(x_b) + B) (g(x_I) + B),  B = GEN_DEEP_OFFSET:
 *     s_a(r) = sign(N) for every id r and the missing slot (N from the stream
 *     GEN_STREAM_DEEP, term by term, field a then b, ids in order), g(x) = tanh((x - m) / h)
 *     with m the median of x and h = GEN_DEEP_GATE_WIDTH * ln2 * sd_f (a smooth step). On
 *     the calibration rows each s and g is shifted and scaled to mean 0 and variance 1 (s
 *     keeps two values), and lambda_t makes T_t's standard deviation GEN_DEEP_TAU. Then the
 *     bias, p and the label as in rule 6.
 *     Why no FM can express it: in the expansion of T_t, lambda_t s_a s_b g is a product of
 *     three mean-0 functions of three independently drawn fields, so it is uncorrelated
 *     with every function of at most two fields, which is all an FM sums (of any
 *     dimension): that part, half of T_t's variance, is invisible to an FM. The rest (the
 *     terms in B) are functions of one or two fields: an FM learns them, and they give
 *     gradient descent a start on the factors. DeepFM (an MLP over the embeddings and the
 *     dense values) and DLRM (a top MLP over embedding dot products, such as s_a s_b, and
 *     the bottom MLP's output, such as g) can express the whole product.
 *  GEN_TRUTH_DEEP: with these tables the optimum AUC is 0.81-0.83 (logloss ~0.42) across
 *  seeds 1-7; the best any FM can do (the AUC of the true logit minus the products' pure
 *  parts) is 0.075-0.082 below it. Measured in tests/t_deep.sh (1.6M rows, one epoch, 1
 *  server + 2 workers, seeds 1, 3 and 5): DeepFM and DLRM get within 0.005-0.009 of the
 *  optimum, the FM stays 0.085-0.09 below it.
 *
 * Streams (part of the format: tests re-draw rows with them): the training rows come from
 * psr_rng_seed(psr_mix64(seed) ^ GEN_STREAM_TRAIN), the test rows from ... ^ GEN_STREAM_TEST
 * (values below), each row drawn by gen_draw in file order. So the test file does not depend
 * on the number of training rows, and fewer training rows are a prefix of more. The output is
 * a pure function of (seed, truth, rows, test_rows, gzip); the features of a row do not depend
 * on the truth (only p and the label do); gzip output is byte-identical across
 * runs (zlib writes no timestamp) for a given zlib version. */
#include "gen.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fsutil.h"
#include "metrics.h"
#include "psr_error.h"

#define GEN_K 4                 /* factor dimension of the truth */
#define GEN_SHRINK_RANK 5.0    /* h(r) = 1 / (1 + r / GEN_SHRINK_RANK) */
#define GEN_OCTAVES 24          /* integer values < 2^24 */
#define GEN_BMAX 277            /* buckets b in [0, GEN_BMAX): floor(ln(2^24 - 1)^2) = 276 */
#define GEN_ISLOTS (GEN_BMAX + 2) /* slot 0: b = -1; slot 1 + b; slot GEN_BMAX + 1: missing */
#define GEN_SMALL_INT 4096      /* integers with a precomputed slot */
#define GEN_GUIDE 4096          /* guide entries per Zipf table (most draws need no search) */
#define GEN_TARGET_CTR 0.25
#define GEN_CALIB_ROWS 20000
#define GEN_LINE_MAX 640        /* > 1 + 13 * 21 + 26 * 9 + 1 */

_Static_assert(RD_CRITEO_CAT % 2 == 0, "draw_features takes the categorical fields in pairs");

#define GEN_STREAM_MODEL 0x6d6f64656c000001ULL
#define GEN_STREAM_CALIB 0x63616c6962000002ULL
#define GEN_STREAM_TRAIN 0x747261696e000003ULL
#define GEN_STREAM_TEST 0x7465737400000004ULL
#define GEN_TOKEN_SEED 0x746f6b656e000005ULL
#define GEN_STREAM_DEEP 0x6465657000000006ULL

static const char *const truth_names[] = {"fm", "deep"};
_Static_assert(sizeof truth_names / sizeof truth_names[0] == GEN_TRUTH_COUNT,
               "one name per enum gen_truth member");

typedef struct {
    uint32_t vocab;
    double zipf_s, miss, sigma, tau;
} cat_spec_t;

/* C1..C26: a few strong fields, many weak, one irrelevant; missing rates like Criteo's. */
static const cat_spec_t cat_spec[RD_CRITEO_CAT] = {
    /* C1 */ {300, 1.10, 0.00, 0.25, 0},     /* C2 */ {150, 1.05, 0.00, 0.38, 0},
    /* C3 */ {5000, 1.20, 0.03, 0.17, 0},    /* C4 */ {900, 1.10, 0.03, 0.17, 0},
    /* C5 */ {30, 1.00, 0.00, 0.42, 0},      /* C6 */ {20, 1.00, 0.12, 0.34, 0.30},
    /* C7 */ {600, 1.10, 0.00, 0.25, 0},     /* C8 */ {18, 1.00, 0.00, 0.25, 0},
    /* C9 */ {10, 1.00, 0.00, 0.17, 0.30},   /* C10 */ {450, 1.15, 0.00, 0.085, 0},
    /* C11 */ {240, 1.05, 0.00, 0.25, 0},    /* C12 */ {4000, 1.20, 0.03, 0.085, 0},
    /* C13 */ {360, 1.10, 0.00, 0.17, 0},    /* C14 */ {25, 1.00, 0.00, 0.34, 0.30},
    /* C15 */ {300, 1.10, 0.00, 0.085, 0},    /* C16 */ {1000, 1.20, 0.03, 0.04, 0},
    /* C17 */ {10, 1.00, 0.00, 0.25, 0.30},  /* C18 */ {180, 1.10, 0.00, 0.17, 0},
    /* C19 */ {90, 1.00, 0.45, 0.25, 0},     /* C20 */ {15, 1.00, 0.45, 0.17, 0},
    /* C21 */ {750, 1.15, 0.03, 0.085, 0},    /* C22 */ {12, 1.00, 0.75, 0.17, 0},
    /* C23 */ {15, 1.00, 0.00, 0.25, 0.30},  /* C24 */ {540, 1.10, 0.00, 0.17, 0},
    /* C25 */ {40, 1.00, 0.45, 0.085, 0},     /* C26 */ {270, 1.10, 0.45, 0.00, 0},
};

typedef struct {
    double miss, neg, zero, mu, sd, sigma;
} int_spec_t;

/* I1..I13: octave mean/sd give the typical magnitude (I5 is large, I12 mostly missing). */
static const int_spec_t int_spec[RD_CRITEO_INT] = {
    /* I1 */ {0.45, 0.00, 0.30, 1.0, 1.5, 0.25},  /* I2 */ {0.00, 0.15, 0.20, 2.5, 2.5, 0.25},
    /* I3 */ {0.20, 0.00, 0.10, 3.0, 2.0, 0.17},  /* I4 */ {0.20, 0.00, 0.05, 2.0, 1.2, 0.17},
    /* I5 */ {0.03, 0.00, 0.02, 12.0, 3.0, 0.25}, /* I6 */ {0.20, 0.00, 0.15, 5.0, 2.5, 0.25},
    /* I7 */ {0.04, 0.00, 0.10, 2.5, 2.0, 0.25},  /* I8 */ {0.00, 0.00, 0.05, 3.0, 1.5, 0.085},
    /* I9 */ {0.04, 0.00, 0.05, 5.0, 2.0, 0.17},  /* I10 */ {0.45, 0.00, 0.40, 0.3, 0.7, 0.085},
    /* I11 */ {0.04, 0.00, 0.10, 1.5, 1.2, 0.25}, /* I12 */ {0.77, 0.00, 0.60, 0.5, 1.0, 0.00},
    /* I13 */ {0.22, 0.00, 0.05, 2.5, 1.5, 0.17},
};

/* GEN_TRUTH_DEEP, rule 8: one product term (s_a(C_a) + B) (s_b(C_b) + B) (g(I) + B). */
typedef struct {
    int cat[2]; /* two categorical fields, 0-based among C1..C26 */
    int in;     /* one integer field, 0-based among I1..I13 */
} deep_spec_t;

/* Small, rarely missing fields, none used twice, so the terms are learnable from about a
 * million rows; the integer fields have their median well above 0. */
#define GEN_DEEP_TERMS 3
static const deep_spec_t deep_spec[GEN_DEEP_TERMS] = {
    {{4, 7}, 7},   /* C5 (30 ids) x C8 (18 ids) x I8 */
    {{8, 16}, 10}, /* C9 (10 ids) x C17 (10 ids) x I11 */
    {{5, 13}, 6},  /* C6 (20 ids) x C14 (25 ids) x I7 */
};
#define GEN_DEEP_FM_SCALE 0.35 /* rho: weight of the FM-style part */
#define GEN_DEEP_TAU 0.8       /* standard deviation of each product term */
#define GEN_DEEP_OFFSET 0.5    /* B: gives each factor a lower-order share */
#define GEN_DEEP_GATE_WIDTH 0.6 /* gate width h = GEN_DEEP_GATE_WIDTH * ln2 * sd_f */

typedef struct {
    uint32_t vocab;
    double miss;
    double inv_keep;  /* 1 / (1 - miss) */
    double *cdf;      /* (vocab) cumulative Zipf probabilities, cdf[vocab - 1] == 1 */
    uint16_t *guide;  /* (GEN_GUIDE + 1) first id with cdf > j / GEN_GUIDE */
    double *w;        /* (vocab + 1) first-order weights; [vocab] is "missing" */
    double *v;        /* (vocab + 1, GEN_K) factors, NULL when the field does not interact */
    char *tok;        /* (vocab, 8) hex tokens, not NUL-terminated */
} cat_field_t;

typedef struct {
    double miss, neg, zero; /* probabilities */
    double oct_cdf[GEN_OCTAVES];
    double w[GEN_ISLOTS]; /* first-order weight per slot (int_slot) */
    /* GEN_TRUTH_DEEP (rule 7): first-order term ck * tanh((x - c) / d) + cb of the dense value
     * x; ck holds the raw amplitude A until the normalisation */
    double c, d, ck, cb;
} int_field_t;

typedef struct {
    double m, h;      /* g(x) = (tanh((x - m) / h) - mu) / sd */
    double mu, inv_sd;
} deep_gate_t;

typedef struct {
    double *sign[2]; /* (vocab + 1) per categorical field: s(id), two values, [vocab] missing */
    deep_gate_t g;
    double lambda;   /* scale: the term's standard deviation is GEN_DEEP_TAU */
} deep_term_t;

struct gen_model {
    uint64_t seed;
    int truth;
    double bias;
    cat_field_t cat[RD_CRITEO_CAT];
    int_field_t in[RD_CRITEO_INT];
    deep_term_t deep[GEN_DEEP_TERMS]; /* GEN_TRUTH_DEEP only */
    double *slab; /* backs every cdf, w and v array (and the deep terms' signs) */
    uint16_t small_slot[GEN_SMALL_INT]; /* int_slot_slow(v) for v in [0, GEN_SMALL_INT) */
    double small_dense[GEN_SMALL_INT];  /* ln(1 + v) for v in [0, GEN_SMALL_INT) */
};

/* reader.h rule 2, the bucket of a present integer. */
static inline int64_t int_bucket(int64_t v)
{
    if (v < 0) return -1;
    if (v <= 2) return v;
    double l = log((double)v);
    return (int64_t)floor(l * l);
}

static inline int int_slot_slow(int64_t v)
{
    if (v == GEN_MISSING_INT) return GEN_ISLOTS - 1;
    int64_t b = int_bucket(v);
    if (b >= GEN_BMAX) b = GEN_BMAX - 1; /* unreachable for v < 2^24 */
    return (int)(b + 1);
}

/* Slot of v in an integer field's table; small values through a lookup table (no log). */
static inline int int_slot(const gen_model_t *m, int64_t v)
{
    if (v >= 0 && v < GEN_SMALL_INT) return m->small_slot[v];
    return int_slot_slow(v);
}

static inline double shrink(uint32_t r) { return 1.0 / (1.0 + (double)r / GEN_SHRINK_RANK); }

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static const char hexdig[] = "0123456789abcdef";

/* Hex tokens of field f: distinct within the field (salt raised until they are). */
static void make_tokens(cat_field_t *c, int f)
{
    uint32_t *t = psr_xmalloc(c->vocab * sizeof *t);
    uint32_t *s = psr_xmalloc(c->vocab * sizeof *s);
    for (uint64_t salt = 0;; salt++) {
        uint64_t fs = psr_mix64(GEN_TOKEN_SEED + (uint64_t)f * 0x10001ULL + (salt << 40));
        for (uint32_t r = 0; r < c->vocab; r++) t[r] = (uint32_t)psr_mix64(fs ^ r);
        memcpy(s, t, c->vocab * sizeof *s);
        qsort(s, c->vocab, sizeof *s, cmp_u32);
        int dup = 0;
        for (uint32_t r = 1; r < c->vocab && !dup; r++) dup = s[r] == s[r - 1];
        if (!dup) break;
    }
    for (uint32_t r = 0; r < c->vocab; r++)
        for (int k = 0; k < 8; k++) c->tok[8 * r + k] = hexdig[(t[r] >> (28 - 4 * k)) & 15];
    free(t);
    free(s);
}

static inline uint32_t zipf_draw(const cat_field_t *c, double u)
{
    uint32_t j = (uint32_t)(u * GEN_GUIDE);
    if (j >= GEN_GUIDE) j = GEN_GUIDE - 1;
    uint32_t lo = c->guide[j], hi = c->guide[j + 1]; /* answer in [lo, hi] */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The dense value of reader.h, ln(1 + max(v, 0)), 0 when missing. */
static inline double dense_value(const gen_model_t *m, int64_t v)
{
    if (v <= 0) return 0.0; /* GEN_MISSING_INT is negative too */
    if (v < GEN_SMALL_INT) return m->small_dense[v];
    return log1p((double)v);
}

static inline double gate(const deep_gate_t *g, double x)
{
    return (tanh((x - g->m) / g->h) - g->mu) * g->inv_sd;
}

static inline double deep_sign(const gen_model_t *m, const deep_term_t *d, int j, int f,
                               const gen_row_t *row)
{
    uint32_t id = row->cats[f];
    return d->sign[j][id == GEN_MISSING_CAT ? m->cat[f].vocab : id];
}

/* Rule 8: term t of a row; offset B, or 0 for its pure three-field part. */
static double deep_term(const gen_model_t *m, int t, const gen_row_t *row, double offset)
{
    const deep_spec_t *sp = &deep_spec[t];
    const deep_term_t *d = &m->deep[t];
    return d->lambda * (deep_sign(m, d, 0, sp->cat[0], row) + offset) *
           (deep_sign(m, d, 1, sp->cat[1], row) + offset) *
           (gate(&d->g, dense_value(m, row->ints[sp->in])) + offset);
}

static double deep_terms(const gen_model_t *m, const gen_row_t *row)
{
    double s = 0.0;
    for (int t = 0; t < GEN_DEEP_TERMS; t++) s += deep_term(m, t, row, GEN_DEEP_OFFSET);
    return s;
}

/* The FM-style part of the logit (rule 6; for GEN_TRUTH_DEEP with rule 7's integer curves). */
static double fm_part(const gen_model_t *m, const gen_row_t *row)
{
    double s = 0.0, sum[GEN_K] = {0}, sq = 0.0;
    if (m->truth == GEN_TRUTH_DEEP) {
        for (int f = 0; f < RD_CRITEO_INT; f++) {
            const int_field_t *in = &m->in[f];
            s += in->ck * tanh((dense_value(m, row->ints[f]) - in->c) / in->d) + in->cb;
        }
    } else {
        for (int f = 0; f < RD_CRITEO_INT; f++) s += m->in[f].w[int_slot(m, row->ints[f])];
    }
    for (int f = 0; f < RD_CRITEO_CAT; f++) {
        const cat_field_t *c = &m->cat[f];
        uint32_t id = row->cats[f] == GEN_MISSING_CAT ? c->vocab : row->cats[f];
        s += c->w[id];
        if (c->v) {
            const double *v = c->v + (size_t)id * GEN_K;
            for (int k = 0; k < GEN_K; k++) {
                sum[k] += v[k];
                sq += v[k] * v[k];
            }
        }
    }
    double ss = 0.0;
    for (int k = 0; k < GEN_K; k++) ss += sum[k] * sum[k];
    return s + 0.5 * (ss - sq);
}

/* logit without the bias */
static double raw_logit(const gen_model_t *m, const gen_row_t *row)
{
    if (m->truth == GEN_TRUTH_DEEP) return GEN_DEEP_FM_SCALE * fm_part(m, row) + deep_terms(m, row);
    return fm_part(m, row);
}

/* Draw the features of one row (not p or label). */
static void draw_features(const gen_model_t *m, psr_rng_t *rng, gen_row_t *row)
{
    /* One 64-bit draw per integer field: bits 44..63 pick missing / negative / zero / positive,
     * bits 24..43 the octave e, bits 0..e-1 the offset within it (2^-20 is fine enough for
     * these probabilities, and halves the generator's cost). */
    for (int f = 0; f < RD_CRITEO_INT; f++) {
        const int_field_t *in = &m->in[f];
        uint64_t x = psr_rng_next(rng);
        double u = (double)(x >> 44) * 0x1p-20;
        int64_t v;
        if (u < in->miss) {
            v = GEN_MISSING_INT;
        } else if ((u -= in->miss) < in->neg) {
            u /= in->neg;
            v = u < 0.7 ? -1 : u < 0.9 ? -2 : -3;
        } else if (u - in->neg < in->zero) {
            v = 0;
        } else {
            double uo = (double)((x >> 24) & 0xfffff) * 0x1p-20;
            int e = 0;
            while (e < GEN_OCTAVES - 1 && in->oct_cdf[e] <= uo) e++;
            v = ((int64_t)1 << e) + (int64_t)(x & (((uint64_t)1 << e) - 1));
        }
        row->ints[f] = v;
    }
    /* One 64-bit draw per two categorical fields, 32 bits each: u < miss_f is "missing",
     * otherwise (u - miss_f) / (1 - miss_f) goes through the Zipf inverse CDF. */
    for (int f = 0; f < RD_CRITEO_CAT; f += 2) {
        uint64_t x = psr_rng_next(rng);
        for (int h = 0; h < 2; h++) {
            const cat_field_t *c = &m->cat[f + h];
            double u = (double)(h ? (uint32_t)x : (uint32_t)(x >> 32)) * 0x1p-32;
            if (u < c->miss)
                row->cats[f + h] = GEN_MISSING_CAT;
            else
                row->cats[f + h] = zipf_draw(c, (u - c->miss) * c->inv_keep);
        }
    }
}

double gen_logit(const gen_model_t *m, const gen_row_t *row) { return m->bias + raw_logit(m, row); }

void gen_draw(const gen_model_t *m, psr_rng_t *rng, gen_row_t *row)
{
    draw_features(m, rng, row);
    double z = gen_logit(m, row);
    row->p = 1.0 / (1.0 + exp(-z));
    row->label = psr_rng_uniform(rng) < row->p ? 1.0f : 0.0f;
}

static double sigmoid_mean(const double *z, size_t n, double bias)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += 1.0 / (1.0 + exp(-(z[i] + bias)));
    return s / (double)n;
}

/* w[0..n) <- (w - mean) * sigma / sd, mean and sd from sums s1, s2 over GEN_CALIB_ROWS. */
static void normalise(double *w, size_t n, double s1, double s2, double sigma)
{
    double mean = s1 / GEN_CALIB_ROWS;
    double var = s2 / GEN_CALIB_ROWS - mean * mean;
    double scale = var > 1e-24 ? sigma / sqrt(var) : 0.0;
    for (size_t i = 0; i < n; i++) w[i] = (w[i] - mean) * scale;
}

/* v[0..n, GEN_K) scaled so that the mean squared norm (sum q over the sample) is tau^2 K. */
static void scale_factors(double *v, size_t n, double q, double tau)
{
    double ms = q / GEN_CALIB_ROWS;
    double scale = ms > 1e-24 ? tau * sqrt((double)GEN_K / ms) : 0.0;
    for (size_t i = 0; i < n * GEN_K; i++) v[i] *= scale;
}

const char *gen_truth_name(int truth)
{
    return truth >= 0 && truth < GEN_TRUTH_COUNT ? truth_names[truth] : "?";
}

int gen_truth_parse(const char *name)
{
    for (int t = 0; t < GEN_TRUTH_COUNT; t++)
        if (name && !strcmp(name, truth_names[t])) return t;
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Rule 8: the product terms' parameters, from their own stream (the FM-style parameters are
 * those of GEN_TRUTH_FM), normalised on the calibration rows. w: the slab's free part. */
static void deep_new(gen_model_t *m, double *w, uint64_t seed, const gen_row_t *cal_rows)
{
    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(seed) ^ GEN_STREAM_DEEP);
    double *x = psr_xmalloc(GEN_CALIB_ROWS * sizeof *x);
    for (int t = 0; t < GEN_DEEP_TERMS; t++) {
        const deep_spec_t *sp = &deep_spec[t];
        deep_term_t *d = &m->deep[t];
        /* signs: +-1 per id, then mean 0 and variance 1 over the rows (still two values) */
        for (int j = 0; j < 2; j++) {
            const int f = sp->cat[j];
            const uint32_t V = m->cat[f].vocab;
            double *sg = d->sign[j] = w;
            w += V + 1;
            for (uint32_t i = 0; i <= V; i++) sg[i] = psr_rng_normal(&rng) < 0.0 ? -1.0 : 1.0;
            double s1 = 0.0, s2 = 0.0;
            for (int i = 0; i < GEN_CALIB_ROWS; i++) {
                double v = deep_sign(m, d, j, f, &cal_rows[i]);
                s1 += v;
                s2 += v * v;
            }
            double mean = s1 / GEN_CALIB_ROWS, var = s2 / GEN_CALIB_ROWS - mean * mean;
            double scale = var > 1e-12 ? 1.0 / sqrt(var) : 0.0; /* 0: one sign for all rows */
            for (uint32_t i = 0; i <= V; i++) sg[i] = (sg[i] - mean) * scale;
        }
        /* gate: a smooth step at the median, then mean 0 and variance 1 over the rows */
        deep_gate_t *g = &d->g;
        for (int i = 0; i < GEN_CALIB_ROWS; i++) x[i] = dense_value(m, cal_rows[i].ints[sp->in]);
        qsort(x, GEN_CALIB_ROWS, sizeof *x, cmp_double);
        g->m = x[GEN_CALIB_ROWS / 2];
        g->h = GEN_DEEP_GATE_WIDTH * M_LN2 * int_spec[sp->in].sd;
        g->mu = 0.0;
        g->inv_sd = 1.0;
        double s1 = 0.0, s2 = 0.0;
        for (int i = 0; i < GEN_CALIB_ROWS; i++) {
            double v = gate(g, x[i]);
            s1 += v;
            s2 += v * v;
        }
        double mean = s1 / GEN_CALIB_ROWS, var = s2 / GEN_CALIB_ROWS - mean * mean;
        g->mu = mean;
        g->inv_sd = var > 1e-12 ? 1.0 / sqrt(var) : 0.0;
        /* lambda: the term's standard deviation over the rows is GEN_DEEP_TAU */
        d->lambda = 1.0;
        s1 = s2 = 0.0;
        for (int i = 0; i < GEN_CALIB_ROWS; i++) {
            double v = deep_term(m, t, &cal_rows[i], GEN_DEEP_OFFSET);
            s1 += v;
            s2 += v * v;
        }
        mean = s1 / GEN_CALIB_ROWS;
        var = s2 / GEN_CALIB_ROWS - mean * mean;
        d->lambda = var > 1e-24 ? GEN_DEEP_TAU / sqrt(var) : 0.0;
    }
    free(x);
}

gen_model_t *gen_model_new(uint64_t seed, int truth)
{
    if (truth < 0 || truth >= GEN_TRUTH_COUNT) return NULL;
    gen_model_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->seed = seed;
    m->truth = truth;
    for (int v = 0; v < GEN_SMALL_INT; v++) {
        m->small_slot[v] = (uint16_t)int_slot_slow(v);
        m->small_dense[v] = log1p((double)v);
    }

    size_t n_slab = 0;
    for (int f = 0; f < RD_CRITEO_CAT; f++) {
        size_t vv = cat_spec[f].vocab;
        n_slab += vv + (vv + 1) + (cat_spec[f].tau > 0 ? (vv + 1) * GEN_K : 0);
    }
    if (truth == GEN_TRUTH_DEEP)
        for (int t = 0; t < GEN_DEEP_TERMS; t++)
            for (int j = 0; j < 2; j++) n_slab += cat_spec[deep_spec[t].cat[j]].vocab + 1;
    m->slab = malloc(n_slab * sizeof *m->slab);
    if (!m->slab) {
        free(m);
        return NULL;
    }
    double *p = m->slab;

    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(seed) ^ GEN_STREAM_MODEL);

    for (int f = 0; f < RD_CRITEO_INT; f++) {
        const int_spec_t *sp = &int_spec[f];
        int_field_t *in = &m->in[f];
        in->miss = sp->miss;
        in->neg = sp->neg;
        in->zero = sp->zero;
        double tot = 0.0;
        for (int e = 0; e < GEN_OCTAVES; e++) {
            double d = (e - sp->mu) / sp->sd;
            tot += exp(-0.5 * d * d);
            in->oct_cdf[e] = tot;
        }
        for (int e = 0; e < GEN_OCTAVES; e++) in->oct_cdf[e] /= tot;
        in->oct_cdf[GEN_OCTAVES - 1] = 1.0;

        double a = psr_rng_normal(&rng);
        double c = M_LN2 * (sp->mu + sp->sd * (2.0 * psr_rng_uniform(&rng) - 1.0));
        double d = M_LN2 * sp->sd * (0.5 + psr_rng_uniform(&rng));
        in->w[0] = psr_rng_normal(&rng);
        for (int b = 0; b < GEN_BMAX; b++)
            in->w[1 + b] = a * tanh((sqrt((double)b) - c) / d) + 0.3 * psr_rng_normal(&rng);
        in->w[GEN_ISLOTS - 1] = psr_rng_normal(&rng);
        in->c = c;
        in->d = d;
        in->ck = a;
        in->cb = 0.0;
    }

    for (int f = 0; f < RD_CRITEO_CAT; f++) {
        const cat_spec_t *sp = &cat_spec[f];
        cat_field_t *c = &m->cat[f];
        uint32_t V = sp->vocab;
        assert(V >= 1 && V <= 65536); /* the guide table holds uint16_t ids */
        c->vocab = V;
        c->miss = sp->miss;
        c->inv_keep = 1.0 / (1.0 - sp->miss);
        c->cdf = p;
        p += V;
        c->w = p;
        p += V + 1;
        double tot = 0.0;
        for (uint32_t r = 0; r < V; r++) {
            tot += pow((double)r + 1.0, -sp->zipf_s);
            c->cdf[r] = tot;
        }
        for (uint32_t r = 0; r < V; r++) c->cdf[r] /= tot;
        c->cdf[V - 1] = 1.0;
        c->guide = malloc((GEN_GUIDE + 1) * sizeof *c->guide);
        c->tok = malloc((size_t)V * 8);
        if (!c->guide || !c->tok) {
            gen_model_free(m);
            return NULL;
        }
        uint32_t r = 0;
        for (uint32_t j = 0; j < GEN_GUIDE; j++) {
            double u = (double)j / GEN_GUIDE;
            while (c->cdf[r] <= u) r++; /* cdf[V - 1] = 1 > u stops it */
            c->guide[j] = (uint16_t)r;
        }
        c->guide[GEN_GUIDE] = (uint16_t)(V - 1);
        make_tokens(c, f);

        for (uint32_t i = 0; i < V; i++) c->w[i] = psr_rng_normal(&rng) * shrink(i);
        c->w[V] = psr_rng_normal(&rng);
        if (sp->tau > 0) {
            c->v = p;
            p += (size_t)(V + 1) * GEN_K;
            for (uint32_t i = 0; i <= V; i++) {
                double h = i < V ? shrink(i) : 1.0;
                for (int k = 0; k < GEN_K; k++)
                    c->v[(size_t)i * GEN_K + k] = psr_rng_normal(&rng) * h;
            }
        }
    }

    /* Normalise on a calibration sample (features do not depend on parameters): each field's
     * first-order term gets mean 0 and standard deviation sigma_f over the row distribution,
     * each interacting field's factors mean squared norm tau_f^2 * GEN_K. The logit's scale
     * thus depends on the tables, not on the luck of a few head ids' draws. */
    gen_row_t *cal_rows = malloc(GEN_CALIB_ROWS * sizeof *cal_rows);
    double *z = malloc(GEN_CALIB_ROWS * sizeof *z);
    if (!cal_rows || !z) {
        free(cal_rows);
        free(z);
        gen_model_free(m);
        return NULL;
    }
    psr_rng_t cal;
    psr_rng_seed(&cal, psr_mix64(seed) ^ GEN_STREAM_CALIB);
    for (int i = 0; i < GEN_CALIB_ROWS; i++) draw_features(m, &cal, &cal_rows[i]);
    for (int f = 0; f < RD_CRITEO_INT; f++) {
        int_field_t *in = &m->in[f];
        double s1 = 0.0, s2 = 0.0;
        for (int i = 0; i < GEN_CALIB_ROWS; i++) {
            double w = in->w[int_slot(m, cal_rows[i].ints[f])];
            s1 += w;
            s2 += w * w;
        }
        normalise(in->w, GEN_ISLOTS, s1, s2, int_spec[f].sigma);
        if (truth == GEN_TRUTH_DEEP) { /* rule 7: the same normalisation for the curve */
            double c1 = 0.0, c2 = 0.0;
            for (int i = 0; i < GEN_CALIB_ROWS; i++) {
                double w = tanh((dense_value(m, cal_rows[i].ints[f]) - in->c) / in->d);
                c1 += w;
                c2 += w * w;
            }
            double mean = c1 / GEN_CALIB_ROWS, var = c2 / GEN_CALIB_ROWS - mean * mean;
            double scale = var > 1e-24 ? int_spec[f].sigma / sqrt(var) : 0.0;
            in->ck = in->ck * scale;
            in->cb = -mean * in->ck;
        }
    }
    for (int f = 0; f < RD_CRITEO_CAT; f++) {
        cat_field_t *c = &m->cat[f];
        double s1 = 0.0, s2 = 0.0, q = 0.0;
        for (int i = 0; i < GEN_CALIB_ROWS; i++) {
            uint32_t id = cal_rows[i].cats[f] == GEN_MISSING_CAT ? c->vocab : cal_rows[i].cats[f];
            s1 += c->w[id];
            s2 += c->w[id] * c->w[id];
            if (c->v)
                for (int k = 0; k < GEN_K; k++)
                    q += c->v[(size_t)id * GEN_K + k] * c->v[(size_t)id * GEN_K + k];
        }
        normalise(c->w, (size_t)c->vocab + 1, s1, s2, cat_spec[f].sigma);
        if (c->v) scale_factors(c->v, (size_t)c->vocab + 1, q, cat_spec[f].tau);
    }

    if (truth == GEN_TRUTH_DEEP) deep_new(m, p, seed, cal_rows);

    /* Bias: mean p over the calibration sample equals GEN_TARGET_CTR. */
    for (int i = 0; i < GEN_CALIB_ROWS; i++) z[i] = raw_logit(m, &cal_rows[i]);
    free(cal_rows);
    double lo = -30.0, hi = 30.0;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        if (sigmoid_mean(z, GEN_CALIB_ROWS, mid) < GEN_TARGET_CTR)
            lo = mid;
        else
            hi = mid;
    }
    m->bias = 0.5 * (lo + hi);
    free(z);
    return m;
}

void gen_model_free(gen_model_t *m)
{
    if (!m) return;
    for (int f = 0; f < RD_CRITEO_CAT; f++) {
        free(m->cat[f].guide);
        free(m->cat[f].tok);
    }
    free(m->slab);
    free(m);
}

/* Decimal digits of v (any int64 but INT64_MIN) at d; returns the end. */
static inline char *put_int(char *d, int64_t v)
{
    uint64_t u;
    if (v < 0) {
        *d++ = '-';
        u = (uint64_t)0 - (uint64_t)v;
    } else {
        u = (uint64_t)v;
    }
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n) *d++ = tmp[--n];
    return d;
}

static size_t format_row(const gen_model_t *m, const gen_row_t *row, char *buf)
{
    char *d = buf;
    *d++ = row->label > 0.5f ? '1' : '0';
    for (int f = 0; f < RD_CRITEO_INT; f++) {
        *d++ = '\t';
        if (row->ints[f] != GEN_MISSING_INT) d = put_int(d, row->ints[f]);
    }
    for (int f = 0; f < RD_CRITEO_CAT; f++) {
        *d++ = '\t';
        uint32_t id = row->cats[f];
        if (id != GEN_MISSING_CAT && id < m->cat[f].vocab) {
            memcpy(d, m->cat[f].tok + 8 * (size_t)id, 8);
            d += 8;
        }
    }
    *d++ = '\n';
    return (size_t)(d - buf);
}

void gen_row_features(const gen_model_t *m, const gen_row_t *row, int int_mode, rd_row_t *out)
{
    rd_criteo_begin(out, row->label > 0.5f ? 1.0f : 0.0f);
    for (int f = 0; f < RD_CRITEO_INT; f++)
        rd_criteo_int(out, f, row->ints[f] == GEN_MISSING_INT, row->ints[f], int_mode);
    for (int f = 0; f < RD_CRITEO_CAT; f++) {
        uint32_t id = row->cats[f];
        if (id != GEN_MISSING_CAT && id < m->cat[f].vocab)
            rd_criteo_cat(out, f, m->cat[f].tok + 8 * (size_t)id, 8);
        else
            rd_criteo_cat(out, f, "", 0);
    }
}

size_t gen_format_row(const gen_model_t *m, const gen_row_t *row, char *buf, size_t cap)
{
    if (cap >= GEN_LINE_MAX) return format_row(m, row, buf);
    char tmp[GEN_LINE_MAX];
    size_t n = format_row(m, row, tmp);
    if (n >= cap) return 0;
    memcpy(buf, tmp, n);
    return n;
}

/* ---- writing (the helpers are shared with genui.c through gen.h) ---------------------- */

char *gen_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = psr_xmalloc(a + b + 2);
    memcpy(s, dir, a);
    size_t n = a;
    if (n == 0 || s[n - 1] != '/') s[n++] = '/';
    memcpy(s + n, name, b + 1);
    return s;
}

int gen_sink_open(gen_sink_t *s, const char *dir, const char *name, int gzip)
{
    memset(s, 0, sizeof *s);
    char tname[256];
    snprintf(tname, sizeof tname, ".%s.tmp", name);
    s->tmp = gen_path_join(dir, tname);
    s->final = gen_path_join(dir, name);
    errno = 0;
    if (gzip) {
        s->gz = gzopen(s->tmp, "wb6");
        if (s->gz && gzbuffer(s->gz, 1 << 18) != 0) {
            gzclose(s->gz);
            s->gz = NULL;
        }
        if (!s->gz)
            return PSR_ERR(PSR_ERR_IO, "cannot open '%s' for writing: %s", s->tmp,
                           errno ? strerror(errno) : "zlib error");
    } else {
        s->f = fopen(s->tmp, "wb");
        if (!s->f)
            return PSR_ERR(PSR_ERR_IO, "cannot open '%s' for writing: %s", s->tmp,
                           strerror(errno));
    }
    return PSR_OK;
}

int gen_sink_write(gen_sink_t *s, const char *buf, size_t n)
{
    if (n == 0) return PSR_OK;
    errno = 0;
    if (s->gz) {
        if (gzwrite(s->gz, buf, (unsigned)n) != (int)n) {
            int zerr;
            const char *msg = gzerror(s->gz, &zerr);
            return PSR_ERR(PSR_ERR_IO, "cannot write '%s': %s", s->tmp,
                           zerr == Z_ERRNO ? strerror(errno) : msg);
        }
    } else if (fwrite(buf, 1, n, s->f) != n) {
        return PSR_ERR(PSR_ERR_IO, "cannot write '%s': %s", s->tmp,
                       errno ? strerror(errno) : "short write");
    }
    return PSR_OK;
}

int gen_sink_commit(gen_sink_t *s)
{
    errno = 0;
    if (s->gz) {
        int zrc = gzclose(s->gz);
        s->gz = NULL;
        if (zrc != Z_OK)
            return PSR_ERR(PSR_ERR_IO, "cannot write '%s': %s", s->tmp,
                           zrc == Z_ERRNO && errno ? strerror(errno) : "zlib error on close");
        int fd = open(s->tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0) {
            int e = errno;
            if (fd >= 0) close(fd);
            return PSR_ERR(PSR_ERR_IO, "cannot fsync '%s': %s", s->tmp, strerror(e));
        }
        close(fd);
    } else {
        FILE *f = s->f;
        s->f = NULL;
        if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
            int e = errno;
            fclose(f);
            return PSR_ERR(PSR_ERR_IO, "cannot write '%s': %s", s->tmp, strerror(e));
        }
        if (fclose(f) != 0)
            return PSR_ERR(PSR_ERR_IO, "cannot close '%s': %s", s->tmp, strerror(errno));
    }
    if (rename(s->tmp, s->final) != 0)
        return PSR_ERR(PSR_ERR_IO, "cannot rename '%s' to '%s': %s", s->tmp, s->final,
                       strerror(errno));
    return PSR_OK;
}

void gen_sink_abort(gen_sink_t *s)
{
    if (s->gz) gzclose(s->gz);
    if (s->f) fclose(s->f);
    s->gz = NULL;
    s->f = NULL;
    if (s->tmp) unlink(s->tmp);
}

void gen_sink_free(gen_sink_t *s)
{
    free(s->tmp);
    free(s->final);
    s->tmp = s->final = NULL;
}

/* A writer thread writes (or deflates) one buffer while the caller draws and formats the
 * next: for plain output the kernel's copy costs about as much as drawing the rows. The
 * thread's error message is copied out because psr_err_msg() is per thread. */
static void *writer_main(void *arg)
{
    gen_writer_t *w = arg;
    for (int i = 0;; i ^= 1) {
        pthread_mutex_lock(&w->mu);
        while (!w->full[i] && !w->done) pthread_cond_wait(&w->cv, &w->mu);
        if (!w->full[i]) { /* done, and buffers are handed over in order: nothing left */
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        int failed = w->rc != PSR_OK;
        pthread_mutex_unlock(&w->mu);
        int rc = failed ? PSR_OK : gen_sink_write(w->sink, w->buf[i], w->len[i]);
        pthread_mutex_lock(&w->mu);
        if (rc != PSR_OK) {
            w->rc = rc;
            snprintf(w->msg, sizeof w->msg, "%s", psr_err_msg());
        }
        w->full[i] = 0;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

int gen_writer_submit(gen_writer_t *w, int *cur, size_t len)
{
    pthread_mutex_lock(&w->mu);
    w->len[*cur] = len;
    w->full[*cur] = 1;
    pthread_cond_broadcast(&w->cv);
    *cur ^= 1;
    while (w->full[*cur]) pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int gen_writer_start(gen_writer_t *w, gen_sink_t *sink, char *bufs)
{
    memset(w, 0, sizeof *w);
    w->sink = sink;
    w->buf[0] = bufs;
    w->buf[1] = bufs + GEN_BUF_BYTES;
    if (pthread_mutex_init(&w->mu, NULL) != 0) return PSR_ERR_INTERNAL;
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        return PSR_ERR_INTERNAL;
    }
    if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return PSR_ERR_INTERNAL;
    }
    return PSR_OK;
}

int gen_writer_finish(gen_writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return w->rc == PSR_OK ? PSR_OK : PSR_ERR(w->rc, "%s", w->msg);
}

/* Stream n rows of `stream` into file `name` of out_dir. If p_out, keep each row's p and
 * label. bufs: 2 * GEN_BUF_BYTES of scratch. */
static int write_file(const gen_model_t *m, const gen_opts_t *o, const char *name,
                      uint64_t stream, int64_t n, double *p_out, float *y_out, char *bufs)
{
    gen_sink_t s;
    int rc = gen_sink_open(&s, o->out_dir, name, o->gzip);
    if (rc != PSR_OK) {
        gen_sink_free(&s);
        return rc;
    }
    gen_writer_t w;
    if (gen_writer_start(&w, &s, bufs) != PSR_OK) {
        gen_sink_abort(&s);
        gen_sink_free(&s);
        return PSR_ERR(PSR_ERR_INTERNAL, "gen: cannot start the writer thread for '%s'", name);
    }

    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(o->seed) ^ stream);
    gen_row_t row;
    int cur = 0;
    size_t pos = 0;
    for (int64_t i = 0; i < n && rc == PSR_OK; i++) {
        gen_draw(m, &rng, &row);
        if (p_out) {
            p_out[i] = row.p;
            y_out[i] = row.label;
        }
        pos += format_row(m, &row, w.buf[cur] + pos);
        if (pos > GEN_BUF_BYTES - GEN_LINE_MAX) {
            rc = gen_writer_submit(&w, &cur, pos);
            pos = 0;
        }
    }
    if (rc == PSR_OK && pos > 0) rc = gen_writer_submit(&w, &cur, pos);
    int wrc = gen_writer_finish(&w);
    if (wrc != PSR_OK) rc = wrc;

    if (rc == PSR_OK) rc = gen_sink_commit(&s);
    if (rc != PSR_OK) gen_sink_abort(&s);
    gen_sink_free(&s);
    return rc;
}

int gen_write_small(const char *dir, const char *name, const char *text)
{
    gen_sink_t s;
    int rc = gen_sink_open(&s, dir, name, 0);
    if (rc == PSR_OK) rc = gen_sink_write(&s, text, strlen(text));
    if (rc == PSR_OK) rc = gen_sink_commit(&s);
    if (rc != PSR_OK) gen_sink_abort(&s);
    gen_sink_free(&s);
    return rc;
}

int gen_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return PSR_ERR(PSR_ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
    int rc = PSR_OK;
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        rc = PSR_ERR(PSR_ERR_IO, "cannot fsync directory '%s': %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int gen_prepare_out(const char *dir)
{
    PSR_RETURN_IF(dir == NULL || dir[0] == '\0', PSR_ERR_IO, "output directory is empty");
    PSR_FORWARD(psr_mkdir_p(dir));
    /* An optimum.txt left by an earlier run must not outlive a failure of this one next to
     * newer data files: it goes first and is written last. */
    char *opt_path = gen_path_join(dir, "optimum.txt");
    if (unlink(opt_path) != 0 && errno != ENOENT) {
        int rc = PSR_ERR(PSR_ERR_IO, "cannot remove '%s': %s", opt_path, strerror(errno));
        free(opt_path);
        return rc;
    }
    free(opt_path);
    return PSR_OK;
}

int gen_write(const gen_opts_t *o, double *auc, double *logloss)
{
    PSR_RETURN_IF(o->rows < 0 || o->test_rows < 0, PSR_ERR_USAGE,
                  "gen: rows (%lld) and test rows (%lld) must be >= 0", (long long)o->rows,
                  (long long)o->test_rows);
    PSR_RETURN_IF(o->truth < 0 || o->truth >= GEN_TRUTH_COUNT, PSR_ERR_USAGE,
                  "gen: unknown truth model %d", o->truth);
    PSR_RETURN_IF((uint64_t)o->test_rows > SIZE_MAX / (sizeof(double) + sizeof(float)),
                  PSR_ERR_NOMEM, "gen: %lld test rows do not fit in memory",
                  (long long)o->test_rows);
    PSR_FORWARD(gen_prepare_out(o->out_dir));

    size_t nt = (size_t)o->test_rows;
    double *tp = malloc((nt ? nt : 1) * sizeof *tp);
    float *ty = malloc((nt ? nt : 1) * sizeof *ty);
    char *buf = malloc(2 * (size_t)GEN_BUF_BYTES);
    gen_model_t *m = gen_model_new(o->seed, o->truth);
    int rc = PSR_OK;
    if (!tp || !ty || !buf || !m)
        rc = PSR_ERR(PSR_ERR_NOMEM, "gen: out of memory for %zu test rows (%zu bytes)", nt,
                     nt * (sizeof *tp + sizeof *ty));

    const char *ext = o->gzip ? ".tsv.gz" : ".tsv";
    char train_name[32], test_name[32];
    snprintf(train_name, sizeof train_name, "train%s", ext);
    snprintf(test_name, sizeof test_name, "test%s", ext);
    if (rc == PSR_OK)
        rc = write_file(m, o, train_name, GEN_STREAM_TRAIN, o->rows, NULL, NULL, buf);
    if (rc == PSR_OK) rc = write_file(m, o, test_name, GEN_STREAM_TEST, o->test_rows, tp, ty, buf);
    double a = NAN, l = NAN;
    if (rc == PSR_OK) {
        a = met_auc_d(tp, ty, nt);
        l = met_logloss_d(tp, ty, nt);
        char line[128];
        snprintf(line, sizeof line, "optimum: auc=%.6f logloss=%.6f\n", a, l);
        rc = gen_write_small(o->out_dir, "optimum.txt", line);
    }
    if (rc == PSR_OK) rc = gen_fsync_dir(o->out_dir);
    if (rc == PSR_OK) {
        if (auc) *auc = a;
        if (logloss) *logloss = l;
    }
    gen_model_free(m);
    free(buf);
    free(tp);
    free(ty);
    return rc;
}
