/* adam: see adam.h for the update rule. */
#include "adam.h"

#include <math.h>

void psr_adam_update(const psr_adam_t *a, float lr, int64_t t, float *restrict w,
                    float *restrict m, float *restrict v, const float *restrict g, int n)
{
    const double bc1 = 1.0 - pow((double)a->beta1, (double)t);
    const double bc2 = 1.0 - pow((double)a->beta2, (double)t);
    const float inv_bc1 = (float)(1.0 / bc1);
    const float inv_bc2 = (float)(1.0 / bc2);
    const float b1 = a->beta1, b2 = a->beta2, eps = a->eps;
    const float decay = lr * a->weight_decay;
    for (int j = 0; j < n; j++) {
        const float gj = g[j];
        float wj = w[j] - decay * w[j];
        const float mj = b1 * m[j] + (1.0f - b1) * gj;
        const float vj = b2 * v[j] + (1.0f - b2) * gj * gj;
        m[j] = mj;
        v[j] = vj;
        w[j] = wj - lr * (mj * inv_bc1) / (sqrtf(vj * inv_bc2) + eps);
    }
}
