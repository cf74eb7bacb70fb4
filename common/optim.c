/* optim: see optim.h for the update rules. One ops entry per optimizer, in kind order. */
#include "optim.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "adam.h"

/* Elementwise loop over j in [0, n): blocks of OPT_VB with a constant trip count, then a scalar
 * tail. GCC's -O2 ("very cheap") vectorizer only takes loops whose trip count is a known
 * multiple of the vector width (the same idiom as WK_FOR_VEC in worker/layers.h, which common/
 * cannot include). Body: statements using j (int). */
#define OPT_VB 16
#define OPT_FOR_VEC(j, n, ...)                                                             \
    do {                                                                                   \
        const int opt_n_ = (n), opt_nb_ = opt_n_ - opt_n_ % OPT_VB;                        \
        for (int opt_b_ = 0; opt_b_ < opt_nb_; opt_b_ += OPT_VB)                           \
            for (int opt_q_ = 0; opt_q_ < OPT_VB; opt_q_++) {                              \
                const int j = opt_b_ + opt_q_;                                             \
                __VA_ARGS__;                                                               \
            }                                                                              \
        for (int j = opt_nb_; j < opt_n_; j++) {                                           \
            __VA_ARGS__;                                                                   \
        }                                                                                  \
    } while (0)

typedef struct {
    const char *name;
    int starts_at_init_acc; /* state starts at o->init_acc (else at 0) */
    int (*state_floats)(int width);
    void (*update)(const psr_optim_t *o, float lr, int64_t t, float *restrict w,
                   float *restrict state, const float *restrict g, int width);
} optim_ops_t;

/* ---- adam: delegate, so servers stay bit-identical to the training before this module ---- */

static int adam_state_floats(int width) { return 2 * width; }

static void adam_update(const psr_optim_t *o, float lr, int64_t t, float *restrict w,
                        float *restrict state, const float *restrict g, int width)
{
    const psr_adam_t a = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay};
    psr_adam_update(&a, lr, t, w, state, state + width, g, width);
}

/* ---- adagrad: one accumulator per coordinate ---- */

static int adagrad_state_floats(int width) { return width; }

static void adagrad_update(const psr_optim_t *o, float lr, int64_t t, float *restrict w,
                           float *restrict acc, const float *restrict g, int width)
{
    const float decay = lr * o->weight_decay, eps = o->eps;
    OPT_FOR_VEC(j, width, {
        const float gj = g[j];
        const float wj = w[j] - decay * w[j];
        const float aj = acc[j] + gj * gj;
        acc[j] = aj;
        w[j] = wj - lr * gj / (sqrtf(aj) + eps);
    });
}

/* ---- rowwise adagrad: one accumulator per row, fed by the row's mean squared gradient ---- */

static int rowwise_state_floats(int width) { return 1; }

static void rowwise_update(const psr_optim_t *o, float lr, int64_t t, float *restrict w,
                           float *restrict acc, const float *restrict g, int width)
{
    /* Sum of squares in OPT_VB independent partial sums: a single running float sum is a
     * dependency chain the vectorizer may not reorder; fixed lanes keep the order (and so the
     * result) deterministic. */
    float part[OPT_VB] = {0};
    const int nb = width - width % OPT_VB;
    for (int b = 0; b < nb; b += OPT_VB)
        for (int q = 0; q < OPT_VB; q++) part[q] += g[b + q] * g[b + q];
    for (int j = nb; j < width; j++) part[j - nb] += g[j] * g[j];
    float ss = 0.0f;
    for (int q = 0; q < OPT_VB; q++) ss += part[q];
    const float a = acc[0] + ss / (float)(width > 0 ? width : 1);
    acc[0] = a;
    const float step = lr / (sqrtf(a) + o->eps);
    const float decay = lr * o->weight_decay;
    OPT_FOR_VEC(j, width, w[j] = (w[j] - decay * w[j]) - step * g[j]);
}

static const optim_ops_t optim_ops[] = {
    [PSR_OPTIM_ADAM] = {"adam", 0, adam_state_floats, adam_update},
    [PSR_OPTIM_ADAGRAD] = {"adagrad", 1, adagrad_state_floats, adagrad_update},
    [PSR_OPTIM_ROWWISE_ADAGRAD] = {"rowwise_adagrad", 1, rowwise_state_floats, rowwise_update},
};
_Static_assert(sizeof optim_ops / sizeof optim_ops[0] == PSR_OPTIM_COUNT, "optim_ops");

const char *psr_optim_name(int kind)
{
    if (kind < 0 || kind >= PSR_OPTIM_COUNT) return "?";
    return optim_ops[kind].name;
}

int psr_optim_parse(const char *name)
{
    if (!name) return -1;
    for (int k = 0; k < PSR_OPTIM_COUNT; k++)
        if (strcmp(name, optim_ops[k].name) == 0) return k;
    return -1;
}

int psr_optim_state_floats(int kind, int width)
{
    if (kind < 0 || kind >= PSR_OPTIM_COUNT) return 0;
    return optim_ops[kind].state_floats(width);
}

void psr_optim_init_state(const psr_optim_t *o, int width, float *state)
{
    const int n = psr_optim_state_floats(o->kind, width); /* 0 for a bad kind */
    if (n <= 0) return;
    const float v = optim_ops[o->kind].starts_at_init_acc ? o->init_acc : 0.0f;
    for (int j = 0; j < n; j++) state[j] = v;
}

void psr_optim_update(const psr_optim_t *o, float lr, int64_t t, float *restrict w,
                      float *restrict state, const float *restrict g, int width)
{
    assert(o->kind >= 0 && o->kind < PSR_OPTIM_COUNT);
    optim_ops[o->kind].update(o, lr, t, w, state, g, width);
}
