/* topk: see topk.h for the definitions (rules 1-11).
 *
 * Selection keeps the k best seen so far in top[] as a binary heap whose root is the WORST of
 * them under the rule-11 order, so each new index costs one comparison with the root and, when
 * it wins, one sift-down: O(n log k). Indices arrive in increasing order, so a newcomer that
 * ties the root on score is worse than it (higher index) and is rejected by the same test; the
 * comparator still breaks ties on index so the heap never depends on arrival order. A final
 * in-place heap sort (repeatedly moving the root, the worst, to the end) leaves top[] best
 * first. Scores are read back through score[top[i]], so no score scratch is needed. */
#include "topk.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

/* a is ranked below b (rule 11). Neither score is NaN here. */
static inline int worse(const float *score, int64_t a, int64_t b)
{
    float sa = score[a], sb = score[b];
    return sa < sb || (sa == sb && a > b);
}

/* Restore the heap below position i of h[0..m) (root = worst). */
static void sift_down(const float *score, int64_t *h, int m, int i)
{
    int64_t x = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && worse(score, h[c + 1], h[c])) c++;
        if (!worse(score, h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void sift_up(const float *score, int64_t *h, int i)
{
    int64_t x = h[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!worse(score, x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

int met_topk_select(const float *score, int64_t n, const uint8_t *skip, int k, int64_t *top,
                    float *top_score)
{
    if (k <= 0) return 0;
    int m = 0;
    for (int64_t i = 0; i < n; i++) {
        float s = score[i];
        if (isnan(s) || (skip && skip[i])) continue;
        if (m < k) {
            top[m] = i;
            sift_up(score, top, m++);
        } else if (worse(score, top[0], i)) {
            top[0] = i;
            sift_down(score, top, m, 0);
        }
    }
    for (int end = m - 1; end > 0; end--) {
        int64_t t = top[0];
        top[0] = top[end];
        top[end] = t;
        sift_down(score, top, end, 0);
    }
    if (top_score)
        for (int j = 0; j < m; j++) top_score[j] = score[top[j]];
    return m;
}

void met_topk_init(met_topk_t *a, int k)
{
    assert(k >= 1);
    *a = (met_topk_t){.k = k};
}

/* Discount of 0-based position j (rule 2). */
static inline double disc(int j) { return 1.0 / log2((double)j + 2.0); }

void met_topk_add(met_topk_t *a, const int64_t *top, int n_top, const int64_t *rel, int n_rel,
                  const float *self_info, uint64_t *covered)
{
    const int k = a->k;
    assert(n_top >= 0 && n_top <= k && n_rel >= 1);
    int hits = 0;
    double dcg = 0.0, ap = 0.0, nov = 0.0;
    for (int j = 0; j < n_top; j++) {
        const int64_t item = top[j];
        if (covered) covered[item >> 6] |= UINT64_C(1) << (item & 63);
        if (self_info) nov += (double)self_info[item];
        int hit = 0;
        for (int r = 0; r < n_rel && !hit; r++) hit = rel[r] == item;
        if (!hit) continue;
        hits++;
        dcg += disc(j);
        ap += (double)hits / (double)(j + 1);
    }
    const int ideal = k < n_rel ? k : n_rel;
    a->lists++;
    a->rec_items += n_top;
    a->novelty_sum += nov;
    if (hits == 0) return; /* every other measure of this list is 0 */
    double idcg = 0.0;
    for (int j = 0; j < ideal; j++) idcg += disc(j);
    a->hr += 1.0;
    a->ndcg += dcg / idcg;
    a->precision += (double)hits / (double)k;
    a->recall += (double)hits / (double)n_rel;
    a->f1 += 2.0 * (double)hits / ((double)k + (double)n_rel); /* = 2PR/(P+R), rule 4 */
    a->map += ap / (double)ideal;
}

void met_topk_merge(met_topk_t *a, const met_topk_t *b)
{
    assert(a->k == b->k);
    a->lists += b->lists;
    a->hr += b->hr;
    a->ndcg += b->ndcg;
    a->precision += b->precision;
    a->recall += b->recall;
    a->f1 += b->f1;
    a->map += b->map;
    a->rec_items += b->rec_items;
    a->novelty_sum += b->novelty_sum;
}

void met_topk_result(const met_topk_t *a, int64_t n_covered, int64_t n_items,
                     met_topk_result_t *out)
{
    const double l = (double)a->lists;
    const int none = a->lists == 0;
    out->lists = a->lists;
    out->hr = none ? NAN : a->hr / l;
    out->ndcg = none ? NAN : a->ndcg / l;
    out->precision = none ? NAN : a->precision / l;
    out->recall = none ? NAN : a->recall / l;
    out->f1 = none ? NAN : a->f1 / l;
    out->map = none ? NAN : a->map / l;
    out->coverage = n_items == 0 ? NAN : (double)n_covered / (double)n_items;
    out->novelty = a->rec_items == 0 ? NAN : a->novelty_sum / (double)a->rec_items;
}

static inline int popcount64(uint64_t x)
{
#if defined(__GNUC__)
    return __builtin_popcountll(x);
#else
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (int)((x * UINT64_C(0x0101010101010101)) >> 56);
#endif
}

int64_t met_bits_count(const uint64_t *bits, int64_t n_bits)
{
    if (n_bits <= 0) return 0;
    const int64_t full = n_bits / 64;
    int64_t c = 0;
    for (int64_t w = 0; w < full; w++) c += popcount64(bits[w]);
    const int rest = (int)(n_bits % 64);
    if (rest) c += popcount64(bits[full] & ((UINT64_C(1) << rest) - 1));
    return c;
}
