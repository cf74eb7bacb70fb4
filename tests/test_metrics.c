/* test_metrics: met_auc / met_auc_d against a brute-force pair count (the naive twin), hand
 * cases, the NaN contract, logloss, RMSE and MAE against hand values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "hash.h"
#include "metrics.h"

/* Naive twin: P(score_pos > score_neg) + 1/2 P(equal) over all pairs, O(n^2). */
static double auc_pairs(const double *s, const float *y, size_t n)
{
    double num = 0.0, np = 0.0, nn = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 0.5f)
            np++;
        else
            nn++;
    }
    if (np == 0 || nn == 0) return NAN;
    for (size_t i = 0; i < n; i++) {
        if (!(y[i] > 0.5f)) continue;
        for (size_t j = 0; j < n; j++) {
            if (y[j] > 0.5f) continue;
            num += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
    }
    return num / (np * nn);
}

/* qsort reference for large n: average ranks of the sorted scores (Mann-Whitney U). */
typedef struct {
    double s;
    float y;
} pair_t;

static int cmp_pair(const void *a, const void *b)
{
    double x = ((const pair_t *)a)->s, z = ((const pair_t *)b)->s;
    return (x > z) - (x < z);
}

static double auc_ranks(const double *s, const float *y, size_t n)
{
    pair_t *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (pair_t){s[i], y[i]};
    qsort(p, n, sizeof *p, cmp_pair);
    double rank_sum = 0.0, np = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j].s == p[i].s) j++;
        double avg = 0.5 * (double)(i + 1 + j); /* mean of ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (p[k].y > 0.5f) {
                rank_sum += avg;
                np++;
            }
        i = j;
    }
    free(p);
    double nn = (double)n - np;
    if (np == 0 || nn == 0) return NAN;
    return (rank_sum - np * (np + 1) / 2) / (np * nn);
}

/* Random scores with ties: `levels` distinct values (0 = continuous), positives with
 * probability q and, when `signal`, higher scores for positives. Some scores negative,
 * some -0.0 / +0.0 (which must tie). */
static void fill(psr_rng_t *r, double *s, float *sf, float *y, size_t n, int levels, double q,
                 int signal)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = psr_rng_uniform(r) < q ? 1.0f : 0.0f;
        double v;
        if (levels > 0)
            v = (double)psr_rng_below(r, (uint64_t)levels) - levels / 2;
        else
            v = psr_rng_normal(r);
        if (signal && y[i] > 0.5f) v += levels > 0 ? 1.0 : 0.7;
        if (v == 0.0 && psr_rng_below(r, 2)) v = -0.0;
        s[i] = v;
        sf[i] = (float)v; /* exact: small integers, or rounded consistently for both */
    }
}

static void test_random_vs_pairs(void)
{
    psr_rng_t r;
    psr_rng_seed(&r, 12345);
    enum { NMAX = 1500 };
    double *s = malloc(NMAX * sizeof *s);
    float *sf = malloc(NMAX * sizeof *sf), *y = malloc(NMAX * sizeof *y);
    double *sfd = malloc(NMAX * sizeof *sfd);
    static const size_t sizes[] = {1, 2, 3, 5, 10, 31, 100, 257, 1000, 1500};
    static const int levels[] = {0, 1, 2, 3, 10, 1000};
    static const double qs[] = {0.5, 0.05, 0.95};
    int compared = 0;
    for (size_t a = 0; a < sizeof sizes / sizeof sizes[0]; a++)
        for (size_t b = 0; b < sizeof levels / sizeof levels[0]; b++)
            for (size_t c = 0; c < sizeof qs / sizeof qs[0]; c++)
                for (int signal = 0; signal < 2; signal++) {
                    size_t n = sizes[a];
                    fill(&r, s, sf, y, n, levels[b], qs[c], signal);
                    for (size_t i = 0; i < n; i++) sfd[i] = (double)sf[i];
                    double ref = auc_pairs(s, y, n), ref_f = auc_pairs(sfd, y, n);
                    double got_d = met_auc_d(s, y, n), got_f = met_auc(sf, y, n);
                    if (isnan(ref)) {
                        CHECK(isnan(got_d));
                        CHECK(isnan(got_f));
                        continue;
                    }
                    compared++;
                    CHECK_NEAR(got_d, ref, 1e-12, 0);
                    CHECK_NEAR(got_f, ref_f, 1e-12, 0);
                    CHECK_NEAR(auc_ranks(s, y, n), ref, 1e-9, 0); /* the references agree */
                }
    CHECK(compared > 100); /* the loop really compared numbers */
    free(s);
    free(sf);
    free(y);
    free(sfd);
}

/* Large n against the rank formula, floats near 0.5 (sigmoid outputs share top bits, which
 * exercises the radix passes that are skipped). */
static void test_large(void)
{
    psr_rng_t r;
    psr_rng_seed(&r, 777);
    size_t n = 300000;
    double *s = malloc(n * sizeof *s), *sd = malloc(n * sizeof *sd);
    float *sf = malloc(n * sizeof *sf), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        double z = psr_rng_normal(&r);
        double p = 1.0 / (1.0 + exp(-z));
        y[i] = psr_rng_uniform(&r) < p ? 1.0f : 0.0f;
        s[i] = p;
        sf[i] = (float)p;
        sd[i] = (double)sf[i];
    }
    double ref = auc_ranks(s, y, n);
    CHECK_NEAR(met_auc_d(s, y, n), ref, 1e-12, 0);
    CHECK_NEAR(met_auc(sf, y, n), auc_ranks(sd, y, n), 1e-12, 0);
    CHECK(ref > 0.6 && ref < 0.9);
    /* negative and mixed-sign scores (logits): order-preserving key map over the sign */
    for (size_t i = 0; i < n; i++) {
        s[i] = log(s[i] / (1.0 - s[i]));
        sf[i] = (float)s[i];
        sd[i] = (double)sf[i];
    }
    CHECK_NEAR(met_auc_d(s, y, n), ref, 1e-12, 0); /* monotone transform, same AUC */
    CHECK_NEAR(met_auc(sf, y, n), auc_ranks(sd, y, n), 1e-12, 0);
    free(s);
    free(sd);
    free(sf);
    free(y);
}

static void test_hand_cases(void)
{
    const float y[6] = {0, 0, 0, 1, 1, 1};
    const float perfect[6] = {0.1f, 0.2f, 0.3f, 0.7f, 0.8f, 0.9f};
    const float inverted[6] = {0.9f, 0.8f, 0.7f, 0.3f, 0.2f, 0.1f};
    const float tied[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    CHECK_NEAR(met_auc(perfect, y, 6), 1.0, 0, 0);
    CHECK_NEAR(met_auc(inverted, y, 6), 0.0, 0, 0);
    CHECK_NEAR(met_auc(tied, y, 6), 0.5, 0, 0);
    const double pd[6] = {0.1, 0.2, 0.3, 0.7, 0.8, 0.9};
    CHECK_NEAR(met_auc_d(pd, y, 6), 1.0, 0, 0);
    /* one swapped pair out of 9: (neg 0.6) above (pos 0.5) */
    const float s2[6] = {0.1f, 0.2f, 0.6f, 0.5f, 0.8f, 0.9f};
    CHECK_NEAR(met_auc(s2, y, 6), 8.0 / 9.0, 1e-15, 0);
    /* one tie between a positive and a negative: half a pair */
    const float s3[6] = {0.1f, 0.2f, 0.7f, 0.7f, 0.8f, 0.9f};
    CHECK_NEAR(met_auc(s3, y, 6), 8.5 / 9.0, 1e-15, 0);
    /* -0.0 ties with +0.0 */
    const float yz[2] = {0, 1};
    const float sz[2] = {0.0f, -0.0f};
    CHECK_NEAR(met_auc(sz, yz, 2), 0.5, 0, 0);
    /* infinities are ordinary extremes */
    const float si[2] = {-INFINITY, INFINITY};
    CHECK_NEAR(met_auc(si, yz, 2), 1.0, 0, 0);
}

static void test_nan_contract(void)
{
    const float all_pos[3] = {1, 1, 1}, all_neg[3] = {0, 0, 0};
    const float s[3] = {0.1f, 0.5f, 0.9f};
    const double sd[3] = {0.1, 0.5, 0.9};
    CHECK(isnan(met_auc(s, all_pos, 3)));
    CHECK(isnan(met_auc(s, all_neg, 3)));
    CHECK(isnan(met_auc_d(sd, all_pos, 3)));
    CHECK(isnan(met_auc_d(sd, all_neg, 3)));
    CHECK(isnan(met_auc(s, all_pos, 0)));
    CHECK(isnan(met_auc_d(sd, all_pos, 0)));
    CHECK(isnan(met_auc(s, all_pos, 1))); /* n = 1: one class */
    /* a NaN score makes the AUC NaN (a diverged model gets no number) */
    const float y[3] = {0, 1, 1};
    const float sn[3] = {0.1f, NAN, 0.9f};
    CHECK(isnan(met_auc(sn, y, 3)));
    CHECK(isnan(met_logloss(s, y, 0)));
    CHECK(isnan(met_logloss_d(sd, y, 0)));
    CHECK(isnan(met_logloss(sn, y, 3)));
}

static void test_logloss(void)
{
    const float y[4] = {1, 0, 1, 0};
    const float p[4] = {0.9f, 0.2f, 0.5f, 0.5f};
    double want = -(log((double)0.9f) + log(1.0 - (double)0.2f) + 2.0 * log(0.5)) / 4.0;
    CHECK_NEAR(met_logloss(p, y, 4), want, 1e-12, 0);
    const double pd[4] = {0.9, 0.2, 0.5, 0.5};
    CHECK_NEAR(met_logloss_d(pd, y, 4), -(log(0.9) + log(0.8) + 2.0 * log(0.5)) / 4.0, 1e-15, 0);
    CHECK_NEAR(met_logloss_d(pd + 2, y + 2, 2), log(2.0), 1e-15, 0);
    /* clipping at 1e-7: certain and wrong costs -ln(1e-7), certain and right ~1e-7 */
    const float yw[2] = {1, 0};
    const float pw[2] = {0.0f, 1.0f};
    CHECK_NEAR(met_logloss(pw, yw, 2), -log(1e-7), 1e-9, 0);
    const float pr[2] = {1.0f, 0.0f};
    CHECK_NEAR(met_logloss(pr, yw, 2), -log1p(-1e-7), 1e-15, 0);
    const double pwd[2] = {-0.5, 1.5}; /* out-of-range probabilities are clipped too */
    CHECK_NEAR(met_logloss_d(pwd, yw, 2), -log(1e-7), 1e-9, 0);
}

static void test_rmse_mae(void)
{
    /* errors pred - label: 0.5, -1, 2, 0 (all exact in float)
     * squares 0.25 + 1 + 4 + 0 = 5.25, / 4 = 1.3125, RMSE = sqrt(1.3125) = 1.1456439...
     * |errors| 0.5 + 1 + 2 + 0 = 3.5, MAE = 3.5 / 4 = 0.875 */
    const float pred[4] = {4.5f, 2.0f, 5.0f, 3.0f};
    const float label[4] = {4.0f, 3.0f, 3.0f, 3.0f};
    CHECK_NEAR(met_rmse(pred, label, 4), 1.14564392373896, 1e-15, 0);
    CHECK_NEAR(met_mae(pred, label, 4), 0.875, 0, 0);
    /* first element only: RMSE = MAE = 0.5 */
    CHECK_NEAR(met_rmse(pred, label, 1), 0.5, 0, 0);
    CHECK_NEAR(met_mae(pred, label, 1), 0.5, 0, 0);
    /* last element alone: error 0 */
    CHECK_NEAR(met_rmse(pred + 3, label + 3, 1), 0.0, 0, 0);
    CHECK(isnan(met_rmse(pred, label, 0)));
    CHECK(isnan(met_mae(pred, label, 0)));
    const float pn[2] = {1.0f, NAN};
    CHECK(isnan(met_rmse(pn, label, 2)));
    CHECK(isnan(met_mae(pn, label, 2)));
}

int main(void)
{
    test_rmse_mae();
    test_hand_cases();
    test_nan_contract();
    test_logloss();
    test_random_vs_pairs();
    test_large();
    CHECK_DONE();
}
