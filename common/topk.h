/* topk: top-K recommendation measures over ranked lists, and the top-K selection that builds
 * the lists. Pure functions, MPI-free, no allocation: an accumulator of sums per rank, merged
 * across ranks by the caller (met_topk_merge, or an all-reduce of the fields), then turned into
 * means once.
 *
 * Definitions, for one ranked list top[0..n) (n <= K, best first, distinct items) against the
 * user's distinct relevant (held-out) items rel (n_rel >= 1):
 *  1. hits = |top ∩ rel|. HR@K = 1 if hits > 0, else 0.
 *  2. NDCG@K = DCG / IDCG, DCG = sum over positions j (0-based) with top[j] in rel of
 *     1 / log2(j + 2); IDCG = sum over j < min(K, n_rel) of 1 / log2(j + 2). A list shorter
 *     than K is not given a smaller ideal: its missing positions count as misses.
 *  3. precision@K = hits / K (K, not n: a short list is penalised); recall@K = hits / n_rel.
 *  4. F1@K = 2 P R / (P + R) = 2 hits / (K + n_rel) for each list, 0 when hits == 0, and the
 *     reported F1 is the mean of the per-list F1 (not the F1 of mean precision and recall).
 *  5. AP@K = (1 / min(K, n_rel)) * sum over positions j with top[j] in rel of
 *     (hits among top[0..j]) / (j + 1); MAP@K = mean AP@K over lists.
 *  6. HR, NDCG, precision, recall, F1 and MAP are means over the lists added, each list
 *     weighted equally; NaN when no list was added.
 *  7. coverage@K = |union of all recommended items| / catalogue size (n_items), the union kept
 *     in a caller-owned bitmap (bit i of covered[i / 64]) that may be OR-ed across ranks.
 *  8. novelty@K = mean over all recommended items (every list, every position) of
 *     self_info[item], where the caller sets self_info[i] = -log2(count_i / total training
 *     interactions) (higher = rarer; an item never seen in training has +inf and should be
 *     skipped by the selection or given a finite value by the caller). Pass self_info on every
 *     add or on none: rec_items counts every recommended item either way.
 *
 * Protocols:
 *  9. Full ranking: one list per test user, the top K of the scores of the whole catalogue
 *     with the user's training items skipped (met_topk_select with skip), rel = the user's
 *     held-out items.
 * 10. Sampled ranking (e.g. 1 held-out item against N sampled negatives): one list per test
 *     interaction. The caller builds the candidate array as the N negatives FOLLOWED BY the
 *     held-out item LAST (index N), selects the top K of those N + 1 scores and adds the list
 *     with rel = {N}. Because met_topk_select ranks the lower index first among equal scores,
 *     every negative that ties with the held-out item ranks ahead of it: ties are pessimistic,
 *     so a model that scores everything equally gets HR = 0, not 1. The indices in top are
 *     then candidate positions, not item ids: map them to item ids (and rel to the held-out
 *     item id) before adding if coverage or novelty are wanted, else pass NULL for both.
 *
 * Selection (met_topk_select):
 * 11. Order: higher score first; among equal scores (-0.0 == +0.0) the lower index first.
 *     NaN scores and skipped items are never chosen; -inf is an ordinary (lowest) score.
 *     The result is exactly the first min(k, eligible) entries of a full sort in that order. */
#ifndef PSR_TOPK_H
#define PSR_TOPK_H

#include <stdint.h>

/* Words of a bitmap over n_bits items (the size of the `covered` array). */
#define MET_BITS_WORDS(n_bits) (((int64_t)(n_bits) + 63) / 64)

typedef struct {
    int k;
    int64_t lists;        /* ranked lists added (users in full ranking; test interactions in the
                             sampled protocol) */
    double hr, ndcg, precision, recall, f1, map; /* sums over the lists added */
    int64_t rec_items;    /* recommended items over all lists (sum of n_top) */
    double novelty_sum;   /* sum over recommended items of self_info[item] */
} met_topk_t;

/* Zero the sums of `a` for lists cut at k (k >= 1). */
void met_topk_init(met_topk_t *a, int k);

/* Add one ranked list: top[0..n_top) distinct item indices, best first, n_top <= k;
 * rel[0..n_rel) the distinct relevant (held-out) item indices of that user, n_rel >= 1, any order.
 * self_info: -log2 popularity per item index (or NULL: novelty not tracked).
 * covered: a bitmap over item indices (bit i of covered[i/64]) where every item of `top` is set
 * (or NULL). Cost O(n_top * n_rel) membership tests plus O(min(k, n_rel)) logs; no allocation. */
void met_topk_add(met_topk_t *a, const int64_t *top, int n_top, const int64_t *rel, int n_rel,
                  const float *self_info, uint64_t *covered);

/* Add b's sums into a (same k). */
void met_topk_merge(met_topk_t *a, const met_topk_t *b);

typedef struct {
    int64_t lists;
    double hr, ndcg, precision, recall, f1, map; /* means over lists; NaN when lists == 0 */
    double coverage; /* covered items / n_items (NaN when n_items == 0) */
    double novelty;  /* novelty_sum / rec_items (NaN when rec_items == 0) */
} met_topk_result_t;

/* Means of the sums of `a` into *out; n_covered = met_bits_count of the (merged) bitmap,
 * n_items = catalogue size. */
void met_topk_result(const met_topk_t *a, int64_t n_covered, int64_t n_items,
                     met_topk_result_t *out);

/* Number of set bits of a bitmap of n_bits bits (bits at n_bits and beyond are ignored). */
int64_t met_bits_count(const uint64_t *bits, int64_t n_bits);

/* The k best of score[0..n) into top[] (indices, best first) and top_score[] (may be NULL):
 * higher score first; among equal scores the LOWER index first; items with skip[i] != 0 are never
 * chosen (skip may be NULL); NaN scores are never chosen. Returns the number chosen
 * (<= k; 0 when k <= 0). top holds k entries and is used as the heap: O(n log k), no
 * allocation, no scratch. */
int met_topk_select(const float *score, int64_t n, const uint8_t *skip, int k, int64_t *top,
                    float *top_score);

#endif
