/* test_adam: psr_adam_update against values computed by hand from adam.h's formula. */
#include "adam.h"
#include "check.h"

int main(void)
{
    psr_adam_t a = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0};
    float w[2] = {1.0f, -2.0f}, m[2] = {0, 0}, v[2] = {0, 0};
    float g[2] = {0.5f, -0.25f};
    /* step 1: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2 -> w -= lr * sign(g) (eps aside) */
    psr_adam_update(&a, a.lr, 1, w, m, v, g, 2);
    CHECK_NEAR(m[0], 0.05, 1e-7, 0);
    /* beta2 is a float: 1 - 0.999f is 0.00099998713..., not 0.001 */
    const double b2 = (double)0.999f;
    CHECK_NEAR(v[0], (1 - b2) * 0.25, 0, 1e-6);
    CHECK_NEAR(w[0], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-6, 0);
    CHECK_NEAR(w[1], -2.0 + 0.1 * 0.25 / (0.25 + 1e-8), 1e-6, 0);
    /* step 2 with g' = 1.5, -0.25:
     * m0 = 0.9*0.05 + 0.1*1.5 = 0.195; v0 = 0.999*0.00025 + 0.001*2.25 = 0.00249975
     * mhat = 0.195/0.19 = 1.0263158; vhat = 0.00249975/0.001999 = 1.2504952
     * w0 = 0.9 - 0.1 * 1.0263158 / (sqrt(1.2504952) + 1e-8) = 0.9 - 0.0917778 = 0.8082222 */
    g[0] = 1.5f;
    psr_adam_update(&a, a.lr, 2, w, m, v, g, 2);
    CHECK_NEAR(m[0], 0.195, 1e-7, 0);
    CHECK_NEAR(v[0], b2 * (1 - b2) * 0.25 + (1 - b2) * 2.25, 0, 1e-6);
    CHECK_NEAR(w[0], 0.9 - 0.1 * (0.195 / 0.19) / sqrt(0.00249975 / 0.001999), 1e-6, 0);
    CHECK_NEAR(w[0], 0.8082222, 1e-6, 0);
    /* the second coordinate saw the same gradient twice: mhat = g, vhat = g^2 again */
    CHECK_NEAR(w[1], -1.9 + 0.1, 1e-6, 0);

    /* decoupled weight decay: zero gradient moves w by lr * wd * w only */
    psr_adam_t d = a;
    d.weight_decay = 0.01f;
    float w2 = 3.0f, m2 = 0, v2 = 0, g2 = 0;
    psr_adam_update(&d, d.lr, 1, &w2, &m2, &v2, &g2, 1);
    CHECK_NEAR(w2, 3.0 - 0.1 * 0.01 * 3.0, 1e-7, 0);
    CHECK_DONE();
}
