/* metrics: AUC, logloss, RMSE and MAE over (score, label) arrays. See metrics.h for the contracts.
 *
 * AUC is exact with ties counted one half: the scores of positives and of negatives are
 * mapped to order-preserving unsigned integers, each class is radix-sorted on its own, and
 * one merge walks the distinct values, adding for every positive the negatives strictly
 * below it plus half the negatives equal to it. This equals the average-rank (Mann-Whitney)
 * formula and costs O(n) after the sorts; the count is exact in double (all partial sums
 * are multiples of 1/2 below 2^52 for n < 2^26, and stay within 1 ulp far beyond).
 *
 * Choices beyond the header: a label counts as positive when it is > 0.5; any NaN score
 * makes the AUC NaN (a diverged model should not get a number); -0.0 ties with +0.0. */
#include "metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "psr_error.h"

/* Order-preserving maps: a < b (as floats) iff key(a) < key(b) (unsigned); NaN excluded. */
static inline uint32_t key_f32(float x)
{
    uint32_t u;
    if (x == 0.0f) x = 0.0f; /* -0.0 == +0.0 */
    memcpy(&u, &x, 4);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline uint64_t key_f64(double x)
{
    uint64_t u;
    if (x == 0.0) x = 0.0;
    memcpy(&u, &x, 8);
    return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

/* LSD radix sort of a[0..n) on 11-bit digits, tmp of n entries as scratch; passes where every
 * key has the same digit are skipped (sigmoid outputs share their top bits). Result in a. */
#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_MASK (RADIX_SIZE - 1u)

static void radix_sort_u32(uint32_t *a, uint32_t *tmp, size_t n)
{
    const int n_pass = (32 + RADIX_BITS - 1) / RADIX_BITS;
    size_t count[3][RADIX_SIZE];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = a[i];
        count[0][k & RADIX_MASK]++;
        count[1][(k >> RADIX_BITS) & RADIX_MASK]++;
        count[2][k >> (2 * RADIX_BITS)]++;
    }
    uint32_t *src = a, *dst = tmp;
    for (int p = 0; p < n_pass; p++) {
        int shift = p * RADIX_BITS;
        size_t *c = count[p];
        if (n == 0 || c[(src[0] >> shift) & RADIX_MASK] == n) continue;
        size_t sum = 0;
        for (uint32_t d = 0; d < RADIX_SIZE; d++) {
            size_t t = c[d];
            c[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) dst[c[(src[i] >> shift) & RADIX_MASK]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

static void radix_sort_u64(uint64_t *a, uint64_t *tmp, size_t n)
{
    enum { N_PASS = (64 + RADIX_BITS - 1) / RADIX_BITS };
    size_t(*count)[RADIX_SIZE] = psr_xcalloc(N_PASS, sizeof *count);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = a[i];
        for (int p = 0; p < N_PASS; p++) count[p][(k >> (p * RADIX_BITS)) & RADIX_MASK]++;
    }
    uint64_t *src = a, *dst = tmp;
    for (int p = 0; p < N_PASS; p++) {
        int shift = p * RADIX_BITS;
        size_t *c = count[p];
        if (n == 0 || c[(src[0] >> shift) & RADIX_MASK] == n) continue;
        size_t sum = 0;
        for (uint32_t d = 0; d < RADIX_SIZE; d++) {
            size_t t = c[d];
            c[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) dst[c[(src[i] >> shift) & RADIX_MASK]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
    free(count);
}

/* Walk sorted positive keys pos[0..np) and negative keys neg[0..nn) together; returns the
 * number of (positive, negative) pairs with the positive above, ties one half. */
#define MERGE_COUNT(T, pos, np, neg, nn)                                                   \
    do {                                                                                   \
        size_t i_ = 0, j_ = 0;                                                             \
        double below_ = 0.0;                                                               \
        while (i_ < (np)) {                                                                \
            T v_ = (pos)[i_];                                                              \
            while (j_ < (nn) && (neg)[j_] < v_) j_++;                                      \
            below_ = (double)j_;                                                           \
            size_t eq_ = j_;                                                               \
            while (eq_ < (nn) && (neg)[eq_] == v_) eq_++;                                  \
            size_t i0_ = i_;                                                               \
            while (i_ < (np) && (pos)[i_] == v_) i_++;                                     \
            pairs += (double)(i_ - i0_) * (below_ + 0.5 * (double)(eq_ - j_));             \
        }                                                                                  \
    } while (0)

double met_auc(const float *score, const float *label, size_t n)
{
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(score[i])) return NAN;
        np += label[i] > 0.5f;
    }
    size_t nn = n - np;
    if (np == 0 || nn == 0) return NAN;
    /* keys: positives in [0, np), negatives in [np, n); scratch after them. */
    uint32_t *k = psr_xmalloc(2 * n * sizeof *k);
    size_t ip = 0, in = np;
    for (size_t i = 0; i < n; i++) {
        uint32_t kk = key_f32(score[i]);
        if (label[i] > 0.5f)
            k[ip++] = kk;
        else
            k[in++] = kk;
    }
    radix_sort_u32(k, k + n, np);
    radix_sort_u32(k + np, k + n, nn);
    double pairs = 0.0;
    MERGE_COUNT(uint32_t, k, np, k + np, nn);
    free(k);
    return pairs / ((double)np * (double)nn);
}

double met_auc_d(const double *score, const float *label, size_t n)
{
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(score[i])) return NAN;
        np += label[i] > 0.5f;
    }
    size_t nn = n - np;
    if (np == 0 || nn == 0) return NAN;
    uint64_t *k = psr_xmalloc(2 * n * sizeof *k);
    size_t ip = 0, in = np;
    for (size_t i = 0; i < n; i++) {
        uint64_t kk = key_f64(score[i]);
        if (label[i] > 0.5f)
            k[ip++] = kk;
        else
            k[in++] = kk;
    }
    radix_sort_u64(k, k + n, np);
    radix_sort_u64(k + np, k + n, nn);
    double pairs = 0.0;
    MERGE_COUNT(uint64_t, k, np, k + np, nn);
    free(k);
    return pairs / ((double)np * (double)nn);
}

#define LL_LO 1e-7
#define LL_HI (1.0 - 1e-7)

/* Cross-entropy of one clipped probability; NaN p stays NaN (comparisons fail). Labels 0
 * and 1 take one log; any other label value uses the general formula. */
static inline double ll_one(double q, double y)
{
    if (q < LL_LO)
        q = LL_LO;
    else if (q > LL_HI)
        q = LL_HI;
    if (y == 1.0) return -log(q);
    if (y == 0.0) return -log1p(-q);
    return -(y * log(q) + (1.0 - y) * log1p(-q));
}

double met_logloss(const float *p, const float *label, size_t n)
{
    if (n == 0) return NAN;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += ll_one((double)p[i], (double)label[i]);
    return s / (double)n;
}

double met_logloss_d(const double *p, const float *label, size_t n)
{
    if (n == 0) return NAN;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += ll_one(p[i], (double)label[i]);
    return s / (double)n;
}

double met_rmse(const float *pred, const float *label, size_t n)
{
    if (n == 0) return NAN;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)label[i]; /* in double: no float cancellation */
        s += d * d;
    }
    return sqrt(s / (double)n);
}

double met_mae(const float *pred, const float *label, size_t n)
{
    if (n == 0) return NAN;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += fabs((double)pred[i] - (double)label[i]);
    return s / (double)n;
}
