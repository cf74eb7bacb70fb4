/* optim: the per-table optimizers of the parameter servers. Each row of `width` weights owns a
 * fixed number of state floats (psr_optim_state_floats) and its own step t, so rows are updated
 * sparsely and asynchronously, one at a time, as pushes arrive.
 *
 * Update rules of one row w (width floats) with gradient g at its own step t >= 1 and learning
 * rate lr (the schedule already applied), decoupled weight decay wd first in every rule:
 *   adam:            w <- w - lr wd w, then exactly psr_adam_update (adam.h); state = m, v.
 *                    Bit-identical to calling psr_adam_update directly.
 *   adagrad:         w <- w - lr wd w;
 *                    per coordinate: acc_j += g_j^2;  w_j -= lr g_j / (sqrt(acc_j) + eps)
 *                    (Duchi et al.; torch.optim.Adagrad without lr decay). state = acc (width).
 *   rowwise_adagrad: w <- w - lr wd w;
 *                    acc += (sum_j g_j^2) / width;  w_j -= lr g_j / (sqrt(acc) + eps) for all j
 *                    (FBGEMM / TorchRec: one state float per row). state = acc (1 float).
 * Adagrad's accumulators start at init_acc (>= 0); t is unused by both adagrads. eps must be > 0
 * when init_acc is 0, or a zero gradient at a fresh coordinate gives 0/0.
 * Arithmetic is float, as in adam.c; loops have no per-coordinate branches. */
#ifndef PSR_OPTIM_H
#define PSR_OPTIM_H

#include <stdint.h>

enum psr_optim_kind {
    PSR_OPTIM_ADAM,
    PSR_OPTIM_ADAGRAD,
    PSR_OPTIM_ROWWISE_ADAGRAD,
    PSR_OPTIM_COUNT
};

/* "adam", "adagrad", "rowwise_adagrad"; "?" for a kind out of range. */
const char *psr_optim_name(int kind);
/* The kind named `name` (exact, case-sensitive), or -1 if none (NULL included). */
int psr_optim_parse(const char *name);

typedef struct {
    int kind; /* enum psr_optim_kind */
    float lr, beta1, beta2, eps, weight_decay;
    float init_acc; /* adagrad / rowwise_adagrad: initial accumulator value */
} psr_optim_t;

/* Floats of optimizer state per row of `width` weights: adam 2*width (m then v), adagrad width
 * (the accumulator), rowwise_adagrad 1 (one accumulator per row); 0 for a kind out of range. */
int psr_optim_state_floats(int kind, int width);
/* Initial state of one row into state[0 .. state_floats): adam zeros; adagrad init_acc. */
void psr_optim_init_state(const psr_optim_t *o, int width, float *state);
/* One update of one row: weights w (width), its state, gradient g (width), at the row's own step
 * t >= 1 (counting this update), learning rate lr (the schedule already applied; o->lr is not
 * read). o->kind must be a valid kind (checked where the config is validated). */
void psr_optim_update(const psr_optim_t *o, float lr, int64_t t, float *restrict w,
                      float *restrict state, const float *restrict g, int width);

#endif
