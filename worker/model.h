/* model: logistic regression and factorization machines over a batch's features.
 *
 * A row pulled for key u holds width = 1 + dim floats: w[0] the linear weight, w[1..dim] the
 * FM factor v_u (LR: width 1, no factors). For example i with features (u_f, x_f):
 *   LR:  z_i = b + sum_f x_f w_{u_f}
 *   FM:  z_i = LR + 1/2 sum_k [ (sum_f x_f v_{u_f,k})^2 - sum_f x_f^2 v_{u_f,k}^2 ]   O(k n)
 * where b is w[0] of the bias key's row. Loss: mean sigmoid cross-entropy over the batch. */
#ifndef PSR_WK_MODEL_H
#define PSR_WK_MODEL_H

#include <stddef.h>

#include "batch.h"

typedef struct {
    int dim;    /* factor dimension; 0 for LR */
    int width;  /* floats per pulled row: 1 + dim */
    int cap;    /* rows of workspace */
    float *sum; /* (cap, dim): sum_f x_f v_{u_f,k} of the last forward */
} wk_fm_t;

/* dim = 0 selects LR. */
void wk_fm_init(wk_fm_t *m, int dim, int cap);
void wk_fm_free(wk_fm_t *m); /* accepts a zeroed model */

/* Logits of b's rows from rows (n_uniq, width) ordered as b->uniq. */
void wk_fm_forward(wk_fm_t *m, const wk_batch_t *b, const float *restrict rows,
                   float *restrict logit);

/* Gradient of the batch's mean loss w.r.t. every pulled row into grad (n_uniq, width),
 * overwritten; uses the workspace of the preceding forward. Returns the summed loss. */
double wk_fm_backward(const wk_fm_t *m, const wk_batch_t *b, const float *restrict rows,
                      const float *restrict logit, float *restrict grad);

/* Numerically stable sigmoid cross-entropy of logit z against label y. */
double wk_bce_logit(double z, double y);

/* Scale g (n floats) so its L2 norm is at most max_norm (<= 0: no clipping).
 * Returns the norm before clipping. */
double wk_clip_global_norm(float *g, size_t n, double max_norm);

#endif
