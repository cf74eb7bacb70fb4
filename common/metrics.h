/* metrics: evaluation measures over (score, label) arrays. Pure functions, no allocation
 * except met_auc's sort scratch. Top-K ranking measures live in topk.h. */
#ifndef PSR_METRICS_H
#define PSR_METRICS_H

#include <stddef.h>

/* Exact ROC AUC of scores against 0/1 labels: the probability that a random positive scores
 * above a random negative, ties counted one half (average ranks). NaN when either class is
 * absent or n == 0. O(n log n); allocates n index entries. */
double met_auc(const float *score, const float *label, size_t n);

/* Mean binary cross-entropy of probabilities p against 0/1 labels, p clipped to
 * [1e-7, 1 - 1e-7]. NaN when n == 0. Double accumulation. */
double met_logloss(const float *p, const float *label, size_t n);

/* The same two over double-precision probabilities (used by the generator's optimum). */
double met_auc_d(const double *score, const float *label, size_t n);
double met_logloss_d(const double *p, const float *label, size_t n);

/* Rating-prediction errors of pred against label (real-valued ratings): root mean squared error
 * and mean absolute error. Double accumulation; NaN when n == 0; a NaN input gives NaN. */
double met_rmse(const float *pred, const float *label, size_t n);
double met_mae(const float *pred, const float *label, size_t n);

#endif
