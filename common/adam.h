/* adam: the optimizer, applied to one row (or dense block) at a time: by servers as pushes
 * arrive, and by workers to their dense replicas in allreduce mode.
 *
 * Update of row r at its own step t (t counts the pushes that touched r, starting at 1):
 *   w <- w - lr_t * weight_decay * w                    (decoupled decay, as AdamW)
 *   m <- beta1 m + (1 - beta1) g
 *   v <- beta2 v + (1 - beta2) g^2
 *   w <- w - lr_t * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * Bias correction uses the row's own t (rows are updated sparsely and asynchronously). */
#ifndef PSR_ADAM_H
#define PSR_ADAM_H

#include <stdint.h>

typedef struct {
    float lr;
    float beta1;
    float beta2;
    float eps;
    float weight_decay;
} psr_adam_t;

/* Apply one Adam step (t >= 1, already counting this update) to n floats. */
void psr_adam_update(const psr_adam_t *a, float lr, int64_t t, float *restrict w,
                    float *restrict m, float *restrict v, const float *restrict g, int n);

#endif
