/* test_topk: the top-K measures against hand values (rules 1-8 of topk.h), merge, coverage and
 * novelty, the sampled-protocol tie convention (rule 10), and met_topk_select against a naive
 * full sort (its twin) over random arrays with many ties, NaNs and skips. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "hash.h"
#include "topk.h"

#define TOL 1e-15

static void add_one(met_topk_t *a, const int64_t *top, int n_top, const int64_t *rel, int n_rel)
{
    met_topk_add(a, top, n_top, rel, n_rel, NULL, NULL);
}

/* K = 3, top = {10, 11, 12}, relevant items at positions 0 and 2 (items 10 and 12). */
static void test_hits_0_and_2(void)
{
    const int64_t top[3] = {10, 11, 12};
    met_topk_result_t r;
    met_topk_t a;

    /* n_rel = 2, rel = {12, 10}: hits = 2, HR = 1.
     * DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5
     * IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.6309297535714575 = 1.6309297535714575
     * NDCG = 1.5 / 1.6309297535714575 = 0.9197207891481876
     * P = 2/3, R = 2/2 = 1, F1 = 2 (2/3)(1) / (2/3 + 1) = (4/3) / (5/3) = 0.8
     * AP = (1/min(3,2)) (1/1 + 2/3) = (1/2)(5/3) = 5/6 */
    const int64_t rel2[2] = {12, 10};
    met_topk_init(&a, 3);
    add_one(&a, top, 3, rel2, 2);
    met_topk_result(&a, 0, 1, &r);
    CHECK_INT(r.lists, 1);
    CHECK_NEAR(r.hr, 1.0, 0, 0);
    CHECK_NEAR(r.ndcg, 0.9197207891481876, TOL, 0);
    CHECK_NEAR(r.precision, 2.0 / 3.0, TOL, 0);
    CHECK_NEAR(r.recall, 1.0, TOL, 0);
    CHECK_NEAR(r.f1, 0.8, TOL, 0);
    CHECK_NEAR(r.map, 5.0 / 6.0, TOL, 0);

    /* n_rel = 4, rel = {99, 10, 98, 12}: hits = 2, HR = 1.
     * DCG = 1.5; IDCG = 1 + 0.6309297535714575 + 0.5 = 2.1309297535714578 (min(K, 4) = 3)
     * NDCG = 1.5 / 2.1309297535714578 = 0.7039180890341347
     * P = 2/3, R = 2/4 = 1/2, F1 = 2 (2/3)(1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7
     * AP = (1/min(3,4)) (1/1 + 2/3) = (1/3)(5/3) = 5/9 */
    const int64_t rel4[4] = {99, 10, 98, 12};
    met_topk_init(&a, 3);
    add_one(&a, top, 3, rel4, 4);
    met_topk_result(&a, 0, 1, &r);
    CHECK_NEAR(r.hr, 1.0, 0, 0);
    CHECK_NEAR(r.ndcg, 0.7039180890341347, TOL, 0);
    CHECK_NEAR(r.precision, 2.0 / 3.0, TOL, 0);
    CHECK_NEAR(r.recall, 0.5, TOL, 0);
    CHECK_NEAR(r.f1, 4.0 / 7.0, TOL, 0);
    CHECK_NEAR(r.map, 5.0 / 9.0, TOL, 0);

    /* both lists in one accumulator: means of the two sets above
     * NDCG (0.9197207891481876 + 0.7039180890341347) / 2 = 0.811819439091161
     * F1 (0.8 + 4/7) / 2 = 0.6857142857142857 (per-list F1 averaged; the F1 of the mean
     * P = 2/3 and mean R = 3/4 would be 2 (1/2) / (17/12) = 12/17 = 0.70588..., not this)
     * MAP (5/6 + 5/9) / 2 = (15/18 + 10/18) / 2 = 25/36 */
    met_topk_init(&a, 3);
    add_one(&a, top, 3, rel2, 2);
    add_one(&a, top, 3, rel4, 4);
    met_topk_result(&a, 0, 1, &r);
    CHECK_INT(r.lists, 2);
    CHECK_NEAR(r.ndcg, 0.811819439091161, TOL, 0);
    CHECK_NEAR(r.f1, 0.6857142857142857, TOL, 0);
    CHECK_NEAR(r.recall, 0.75, TOL, 0);
    CHECK_NEAR(r.map, 25.0 / 36.0, TOL, 0);
}

static void test_no_hit_and_short(void)
{
    met_topk_result_t r;
    met_topk_t a;
    /* no hit: every measure 0 (not NaN), the list still counts */
    const int64_t top[3] = {1, 2, 3}, rel[2] = {4, 5};
    met_topk_init(&a, 3);
    add_one(&a, top, 3, rel, 2);
    met_topk_result(&a, 0, 1, &r);
    CHECK_INT(r.lists, 1);
    CHECK_NEAR(r.hr, 0.0, 0, 0);
    CHECK_NEAR(r.ndcg, 0.0, 0, 0);
    CHECK_NEAR(r.precision, 0.0, 0, 0);
    CHECK_NEAR(r.recall, 0.0, 0, 0);
    CHECK_NEAR(r.f1, 0.0, 0, 0);
    CHECK_NEAR(r.map, 0.0, 0, 0);

    /* n_top = 2 < K = 5, top = {7, 3}, rel = {3}: one hit at position 1.
     * DCG = 1/log2(3) = 0.6309297535714575; IDCG = 1/log2(2) = 1 (min(5, 1) = 1)
     * NDCG = 0.6309297535714575; P = 1/K = 1/5 (not 1/2); R = 1/1 = 1
     * F1 = 2 (1/5)(1) / (1/5 + 1) = (2/5) / (6/5) = 1/3; AP = (1/1)(1/2) = 1/2 */
    const int64_t st[2] = {7, 3}, sr[1] = {3};
    met_topk_init(&a, 5);
    add_one(&a, st, 2, sr, 1);
    met_topk_result(&a, 0, 1, &r);
    CHECK_NEAR(r.hr, 1.0, 0, 0);
    CHECK_NEAR(r.ndcg, 0.6309297535714575, TOL, 0);
    CHECK_NEAR(r.precision, 0.2, TOL, 0);
    CHECK_NEAR(r.recall, 1.0, TOL, 0);
    CHECK_NEAR(r.f1, 1.0 / 3.0, TOL, 0);
    CHECK_NEAR(r.map, 0.5, TOL, 0);

    /* an empty list (n_top = 0) is a miss and adds no recommended items */
    met_topk_init(&a, 5);
    add_one(&a, st, 0, sr, 1);
    met_topk_result(&a, 0, 1, &r);
    CHECK_INT(r.lists, 1);
    CHECK_NEAR(r.hr, 0.0, 0, 0);
    CHECK(isnan(r.novelty)); /* rec_items == 0 */

    /* nothing added: means are NaN; n_items == 0: coverage NaN */
    met_topk_init(&a, 5);
    met_topk_result(&a, 0, 0, &r);
    CHECK_INT(r.lists, 0);
    CHECK(isnan(r.hr) && isnan(r.ndcg) && isnan(r.precision));
    CHECK(isnan(r.recall) && isnan(r.f1) && isnan(r.map));
    CHECK(isnan(r.coverage) && isnan(r.novelty));
}

static void check_same(const met_topk_t *x, const met_topk_t *y)
{
    CHECK_INT(x->k, y->k);
    CHECK_INT(x->lists, y->lists);
    CHECK_INT(x->rec_items, y->rec_items);
    CHECK_NEAR(x->hr, y->hr, 1e-12, 0);
    CHECK_NEAR(x->ndcg, y->ndcg, 1e-12, 0);
    CHECK_NEAR(x->precision, y->precision, 1e-12, 0);
    CHECK_NEAR(x->recall, y->recall, 1e-12, 0);
    CHECK_NEAR(x->f1, y->f1, 1e-12, 0);
    CHECK_NEAR(x->map, y->map, 1e-12, 0);
    CHECK_NEAR(x->novelty_sum, y->novelty_sum, 1e-12, 0);
}

/* Lists split over two accumulators (two ranks) and merged equal all lists in one. */
static void test_merge(void)
{
    psr_rng_t g;
    psr_rng_seed(&g, 99);
    enum { K = 4, N_ITEMS = 12, N_LISTS = 40 };
    float self_info[N_ITEMS];
    for (int i = 0; i < N_ITEMS; i++) self_info[i] = (float)(1 + i % 5);
    met_topk_t all, part[2];
    met_topk_init(&all, K);
    met_topk_init(&part[0], K);
    met_topk_init(&part[1], K);
    for (int l = 0; l < N_LISTS; l++) {
        /* distinct top items and distinct relevant items from shuffled catalogues */
        int64_t perm[N_ITEMS], rel[N_ITEMS];
        for (int i = 0; i < N_ITEMS; i++) perm[i] = rel[i] = i;
        for (int i = N_ITEMS - 1; i > 0; i--) {
            int j = (int)psr_rng_below(&g, (uint64_t)i + 1);
            int64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
            j = (int)psr_rng_below(&g, (uint64_t)i + 1);
            t = rel[i];
            rel[i] = rel[j];
            rel[j] = t;
        }
        int n_top = (int)psr_rng_below(&g, K + 1);
        int n_rel = 1 + (int)psr_rng_below(&g, 6);
        met_topk_add(&all, perm, n_top, rel, n_rel, self_info, NULL);
        met_topk_add(&part[l % 3 == 0], perm, n_top, rel, n_rel, self_info, NULL);
    }
    CHECK(all.hr > 0 && all.hr < N_LISTS); /* hits and misses both occurred */
    met_topk_t m = part[0];
    met_topk_merge(&m, &part[1]);
    check_same(&m, &all);
    met_topk_t z;
    met_topk_init(&z, K);
    met_topk_merge(&z, &all); /* merging into an empty accumulator copies */
    check_same(&z, &all);
}

/* Catalogue of 5 items with training counts {8, 4, 2, 1, 1} (total 16):
 * self_info = -log2(c / 16) = {1, 2, 3, 4, 4}.
 * K = 2, user A gets {0, 1}, user B gets {0, 2}, user C gets {2} (n_top = 1).
 * covered = {0, 1, 2}: coverage = 3 / 5 = 0.6
 * novelty = (1 + 2 + 1 + 3 + 3) / 5 recommended items = 10 / 5 = 2 */
static void test_coverage_novelty(void)
{
    const double count[5] = {8, 4, 2, 1, 1};
    float self_info[5];
    for (int i = 0; i < 5; i++) self_info[i] = (float)-log2(count[i] / 16.0);
    uint64_t covered[MET_BITS_WORDS(5)] = {0};
    met_topk_t a;
    met_topk_init(&a, 2);
    const int64_t ta[2] = {0, 1}, tb[2] = {0, 2}, tc[1] = {2}, rel[1] = {4};
    met_topk_add(&a, ta, 2, rel, 1, self_info, covered);
    met_topk_add(&a, tb, 2, rel, 1, self_info, covered);
    met_topk_add(&a, tc, 1, rel, 1, self_info, covered);
    CHECK_INT(covered[0], 0x7); /* bits 0, 1, 2 */
    int64_t n_cov = met_bits_count(covered, 5);
    CHECK_INT(n_cov, 3);
    met_topk_result_t r;
    met_topk_result(&a, n_cov, 5, &r);
    CHECK_INT(a.rec_items, 5);
    CHECK_NEAR(r.coverage, 0.6, TOL, 0);
    CHECK_NEAR(r.novelty, 2.0, TOL, 0);
    CHECK_NEAR(r.hr, 0.0, 0, 0); /* item 4 was never recommended */

    /* a bitmap spanning words: item 64 sets bit 0 of word 1 */
    uint64_t big[MET_BITS_WORDS(130)] = {0};
    const int64_t tw[2] = {64, 129};
    met_topk_add(&a, tw, 2, rel, 1, NULL, big);
    CHECK_INT(big[1], 1);
    CHECK_INT(big[2], 2);
    CHECK_INT(met_bits_count(big, 130), 2);
}

static void test_bits_count(void)
{
    const uint64_t b[2] = {UINT64_MAX, UINT64_MAX};
    CHECK_INT(met_bits_count(b, 128), 128);
    CHECK_INT(met_bits_count(b, 70), 70); /* bits 70..127 are ignored */
    CHECK_INT(met_bits_count(b, 64), 64);
    CHECK_INT(met_bits_count(b, 1), 1);
    CHECK_INT(met_bits_count(b, 0), 0);
    const uint64_t c[1] = {UINT64_C(0x8000000000000101)}; /* bits 0, 8, 63 */
    CHECK_INT(met_bits_count(c, 64), 3);
    CHECK_INT(met_bits_count(c, 63), 2);
    CHECK_INT(met_bits_count(c, 8), 1);
}

static void test_select_hand(void)
{
    int64_t top[8];
    float ts[8];
    /* ties: scores {1, 3, 3, 2, 3}; the three 3s in index order, then the 2 */
    const float s[5] = {1, 3, 3, 2, 3};
    CHECK_INT(met_topk_select(s, 5, NULL, 3, top, ts), 3);
    CHECK_INT(top[0], 1);
    CHECK_INT(top[1], 2);
    CHECK_INT(top[2], 4);
    CHECK_NEAR(ts[0], 3, 0, 0);
    CHECK_NEAR(ts[2], 3, 0, 0);
    CHECK_INT(met_topk_select(s, 5, NULL, 4, top, NULL), 4);
    CHECK_INT(top[3], 3);
    /* k == 1: the first maximum */
    CHECK_INT(met_topk_select(s, 5, NULL, 1, top, ts), 1);
    CHECK_INT(top[0], 1);
    /* skip item 2: {1, 4, 3} */
    const uint8_t skip[5] = {0, 0, 1, 0, 0};
    CHECK_INT(met_topk_select(s, 5, skip, 3, top, ts), 3);
    CHECK_INT(top[0], 1);
    CHECK_INT(top[1], 4);
    CHECK_INT(top[2], 3);
    CHECK_NEAR(ts[2], 2, 0, 0);
    /* k > n: all of them, sorted: {1, 2, 4, 3, 0} */
    CHECK_INT(met_topk_select(s, 5, NULL, 8, top, ts), 5);
    CHECK_INT(top[3], 3);
    CHECK_INT(top[4], 0);
    CHECK_NEAR(ts[4], 1, 0, 0);
    /* NaN never chosen, -inf is: {NaN, 1, NaN, 2, -inf} -> {3, 1, 4} */
    const float sn[5] = {NAN, 1, NAN, 2, -INFINITY};
    CHECK_INT(met_topk_select(sn, 5, NULL, 5, top, ts), 3);
    CHECK_INT(top[0], 3);
    CHECK_INT(top[1], 1);
    CHECK_INT(top[2], 4);
    /* all NaN or all skipped: nothing; k <= 0 or n == 0: nothing */
    const float an[2] = {NAN, NAN};
    CHECK_INT(met_topk_select(an, 2, NULL, 2, top, ts), 0);
    const uint8_t all[5] = {1, 1, 1, 1, 1};
    CHECK_INT(met_topk_select(s, 5, all, 2, top, ts), 0);
    CHECK_INT(met_topk_select(s, 5, NULL, 0, top, ts), 0);
    CHECK_INT(met_topk_select(s, 0, NULL, 3, top, ts), 0);
    /* -0.0 ties with +0.0: index order */
    const float z[2] = {0.0f, -0.0f};
    CHECK_INT(met_topk_select(z, 2, NULL, 1, top, ts), 1);
    CHECK_INT(top[0], 0);
    const float z2[2] = {-0.0f, 0.0f};
    CHECK_INT(met_topk_select(z2, 2, NULL, 1, top, ts), 1);
    CHECK_INT(top[0], 0);
}

/* Naive twin: full qsort of the eligible indices by (score desc, index asc). */
static const float *g_score;

static int cmp_rank(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    float sa = g_score[a], sb = g_score[b];
    if (sa != sb) return sa > sb ? -1 : 1;
    return (a > b) - (a < b);
}

static int select_naive(const float *score, int64_t n, const uint8_t *skip, int k, int64_t *top,
                        int64_t *scratch)
{
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(score[i]) && !(skip && skip[i])) scratch[m++] = i;
    g_score = score;
    qsort(scratch, (size_t)m, sizeof *scratch, cmp_rank);
    int r = k < 0 ? 0 : (m < k ? (int)m : k);
    for (int j = 0; j < r; j++) top[j] = scratch[j];
    return r;
}

static void test_select_random(void)
{
    psr_rng_t g;
    psr_rng_seed(&g, 4242);
    enum { NMAX = 300, KMAX = NMAX + 10 };
    float *s = malloc(NMAX * sizeof *s), *ts = malloc(KMAX * sizeof *ts);
    uint8_t *skip = malloc(NMAX);
    int64_t *top = malloc(KMAX * sizeof *top), *ref = malloc(KMAX * sizeof *ref);
    int64_t *scratch = malloc(NMAX * sizeof *scratch);
    int ties_seen = 0, full_k = 0;
    for (int t = 0; t < 1000; t++) {
        int64_t n = (int64_t)psr_rng_below(&g, NMAX + 1);
        int levels = (int)psr_rng_below(&g, 4); /* 0: continuous; 1..3: very few values */
        int use_skip = (int)psr_rng_below(&g, 2);
        for (int64_t i = 0; i < n; i++) {
            s[i] = levels ? (float)psr_rng_below(&g, (uint64_t)levels * 2)
                          : (float)psr_rng_normal(&g);
            if (psr_rng_below(&g, 20) == 0) s[i] = NAN;
            if (psr_rng_below(&g, 50) == 0) s[i] = -INFINITY;
            skip[i] = use_skip && psr_rng_below(&g, 4) == 0;
        }
        int k = 1 + (int)psr_rng_below(&g, t % 10 == 0 ? (uint64_t)n + 10 : 20);
        int want = select_naive(s, n, use_skip ? skip : NULL, k, ref, scratch);
        int got = met_topk_select(s, n, use_skip ? skip : NULL, k, top, ts);
        CHECK_INT(got, want);
        int bad = 0;
        for (int j = 0; j < want && j < got; j++) {
            bad += top[j] != ref[j];
            bad += ts[j] != s[ref[j]];
            if (j > 0 && ts[j] == ts[j - 1]) ties_seen++;
        }
        CHECK_INT(bad, 0);
        full_k += got < k;
    }
    CHECK(ties_seen > 1000); /* the comparison really covered equal scores */
    CHECK(full_k > 50);      /* and k beyond the eligible items */
    free(s);
    free(ts);
    free(skip);
    free(top);
    free(ref);
    free(scratch);
}

/* Rule 10: 4 sampled negatives then the held-out item LAST (candidate 4).
 * scores {0.1, 0.7, 0.4, 0.2 | 0.4}: ranking 1 (0.7), 2 (0.4), 4 (0.4, ties after the
 * negative 2), 3 (0.2), 0 (0.1).
 * K = 2: top {1, 2}, a miss: HR = NDCG = 0.
 * K = 3: top {1, 2, 4}, hit at position 2: HR = 1, NDCG = (1/log2(4)) / 1 = 0.5,
 *        AP = (1/min(3,1)) (1/3) = 1/3, precision 1/3, recall 1.
 * All scores equal: the held-out item is last of 5, so HR@4 = 0 and HR@5 = 1. */
static void test_sampled_protocol(void)
{
    const float s[5] = {0.1f, 0.7f, 0.4f, 0.2f, 0.4f};
    const int64_t rel[1] = {4};
    int64_t top[5];
    met_topk_t a2, a3;
    met_topk_result_t r;
    met_topk_init(&a2, 2);
    met_topk_init(&a3, 3);
    int n = met_topk_select(s, 5, NULL, 2, top, NULL);
    CHECK_INT(n, 2);
    CHECK_INT(top[1], 2);
    met_topk_add(&a2, top, n, rel, 1, NULL, NULL);
    met_topk_result(&a2, 0, 1, &r);
    CHECK_NEAR(r.hr, 0.0, 0, 0);
    CHECK_NEAR(r.ndcg, 0.0, 0, 0);
    n = met_topk_select(s, 5, NULL, 3, top, NULL);
    CHECK_INT(n, 3);
    CHECK_INT(top[2], 4);
    met_topk_add(&a3, top, n, rel, 1, NULL, NULL);
    met_topk_result(&a3, 0, 1, &r);
    CHECK_NEAR(r.hr, 1.0, 0, 0);
    CHECK_NEAR(r.ndcg, 0.5, TOL, 0);
    CHECK_NEAR(r.map, 1.0 / 3.0, TOL, 0);
    CHECK_NEAR(r.precision, 1.0 / 3.0, TOL, 0);
    CHECK_NEAR(r.recall, 1.0, 0, 0);

    const float flat[5] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    met_topk_t a4, a5;
    met_topk_init(&a4, 4);
    met_topk_init(&a5, 5);
    n = met_topk_select(flat, 5, NULL, 4, top, NULL);
    met_topk_add(&a4, top, n, rel, 1, NULL, NULL);
    n = met_topk_select(flat, 5, NULL, 5, top, NULL);
    met_topk_add(&a5, top, n, rel, 1, NULL, NULL);
    CHECK_NEAR(a4.hr, 0.0, 0, 0);
    CHECK_NEAR(a5.hr, 1.0, 0, 0);
}

int main(void)
{
    test_hits_0_and_2();
    test_no_hit_and_short();
    test_merge();
    test_coverage_novelty();
    test_bits_count();
    test_select_hand();
    test_select_random();
    test_sampled_protocol();
    CHECK_DONE();
}
