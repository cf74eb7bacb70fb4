/* loss: the training losses of the worker, one module. A model's forward produces scores; a
 * loss turns them into the summed loss and d loss / d score, which the model's backward reads.
 *
 * Rules every loss keeps:
 *  1. The return value is the SUM of the per-example losses, in double (the caller averages).
 *  2. Gradients are d loss_i / d score_i times `scale` (usually 1 / batch rows), written as
 *     floats; a gradient array may be NULL (loss only, e.g. evaluation).
 *  3. Every loss is finite for any finite score: exponentials only ever see -|x|, except in
 *     bce's gradient, where exp(-z) may be inf and 1 / (1 + inf) is the right limit 0.
 *  4. bce's loss and gradient are computed exactly as training did before this module
 *     (worker/model.c), so results stay bit-identical.
 * Pointwise losses (bce, mse) sit in one table in loss.c; bpr is pairwise and has its own call. */
#ifndef PSR_WK_LOSS_H
#define PSR_WK_LOSS_H

enum wk_loss_kind { WK_LOSS_BCE, WK_LOSS_MSE, WK_LOSS_BPR, WK_LOSS_COUNT };

/* "bce", "mse", "bpr"; "?" for a kind out of range. */
const char *wk_loss_name(int kind);
/* The kind named `name` (exact, case-sensitive), or -1 if none (NULL included). */
int wk_loss_parse(const char *name);

/* Pointwise loss of n scores against labels. Returns the SUM of the per-example losses (double);
 * dscore[i] = d loss_i / d score_i * scale (scale is usually 1/batch rows).
 *  bce: score is a logit z, label y in [0, 1]:
 *       loss = (z > 0 ? z : 0) - z*y + log1p(exp(-fabs(z)))      (double)
 *       dscore = (float)(1.0 / (1.0 + exp(-z)) - y) * scale       <- EXACTLY this expression, with
 *       z and y as double: training today computes it so and results must stay bit-identical.
 *  mse: loss = (z - y)^2, dscore = (float)(2 (z - y)) * scale, z - y in double.
 * dscore may be NULL. A kind that is not pointwise (bpr, out of range) returns NAN and writes
 * nothing. */
double wk_loss_point(int kind, const float *score, const float *label, int n, float scale,
                     float *dscore);
/* BPR (Rendle et al.): for row i and each of its n_neg negatives j, with x = pos_i - neg_ij,
 * loss_ij = -log sigmoid(x) = softplus(-x) = max(-x, 0) + log1p(exp(-|x|)) (stable);
 * d loss_ij / d neg_ij = sigmoid(-x) = -d loss_ij / d pos_i.
 * dpos[i] = sum_j d loss_ij / d pos_i * scale; dneg[i*n_neg + j] = d loss_ij / d neg_ij * scale.
 * neg is (n, n_neg) row-major. Returns the summed loss (over all n * n_neg pairs). dpos and dneg
 * may each be NULL. */
double wk_loss_bpr(const float *pos, const float *neg, int n, int n_neg, float scale, float *dpos,
                   float *dneg);
/* The sigmoid cross-entropy of one logit (what bce sums); kept for callers that need one value. */
double wk_loss_bce1(double z, double y);

#endif
