/* deep: the dense part of DeepFM and DLRM as pure kernels over per-row field embeddings.
 *
 * Inputs of a batch of n rows: E (n, F, k) the pooled embedding of each of F fields, x (n, D)
 * the dense features, theta the flat dense parameters. Output: each row's deep contribution
 * to the logit (n); the caller adds the linear (LR/FM first-order) terms and the bias.
 *
 *   DeepFM: out_i = FM2(E_i) + MLP([flatten(E_i), x_i]),  FM2(E_i) = 1/2 sum_k [(sum_f
 *           E_ifk)^2 - sum_f E_ifk^2]  (spec.fm2 = 0 drops FM2: a DNN over embeddings).
 *           MLP: widths spec.mlp (ReLU) then a linear layer to 1.
 *   DLRM:   b_i = bottom(x_i), widths spec.bottom, ReLU after every layer, last width k;
 *           Z_i = [b_i, E_i1, .., E_iF] (F+1, k); top input R_i = [b_i, dots_i] where dots_i
 *           are Z_ia . Z_ib for a = 1..F, b = 0..a-1 in that order (the strictly lower
 *           triangle of Z Z^T row by row, as the DLRM reference orders it), F (F+1) / 2 values;
 *           out_i = top(R_i), widths spec.top (ReLU between, none after the last, which is 1).
 *
 * Parameter layout (theta, wk_deep_n_params floats), each MLP laid out as in layers.h
 * (for each layer: W (out, in) row-major, then b (out)):
 *   DeepFM: [MLP]                    the MLP's input is [flatten(E) (F k), x (D)]
 *   DLRM:   [bottom MLP | top MLP]   the top's input is [b (k), dots (F (F+1) / 2)]
 *
 * Cost: the MLPs are sgemm calls over the whole batch and dominate (~90% of a step at the
 * Criteo shapes). DLRM's interaction is one (F+1) x (F+1) x k sgemm per row forward (Z Z^T)
 * and one per row backward (S Z, S the symmetric matrix of dot gradients): ~1 us each through
 * OpenBLAS's small-matrix path at F = 26, k = 16, i.e. ~2 ms per 1024 rows, ~10% of a step.
 *
 * Dropout (spec.dropout, training only) follows each hidden ReLU of the DeepFM MLP and of the
 * DLRM top MLP (not the bottom MLP, never the output layer). Its masks come from the model's
 * rng (wk_deep_rng), seeded from spec.seed; the caller may reseed it or save its state. */
#ifndef PSR_WK_DEEP_H
#define PSR_WK_DEEP_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "layers.h"

typedef enum { WK_DEEP_DEEPFM, WK_DEEP_DLRM, WK_DEEP_TYPE_COUNT } wk_deep_type_t;

/* Name of a model type ("deepfm", "dlrm"); "?" when out of range. */
const char *wk_deep_type_name(int type);

/* Most widths of one MLP list in a spec (the limit of model.mlp / bottom_mlp / top_mlp). The
 * arrays below hold WK_MLP_MAX_LAYERS (one more) so a copy bounded by either limit fits. */
enum { WK_DEEP_MAX_WIDTHS = 16 };

/* A plain struct with fixed arrays, so a validated spec can be copied or broadcast as bytes. */
typedef struct {
    int type;                       /* wk_deep_type_t */
    int n_fields;                   /* F: categorical fields, >= 1 */
    int dim;                        /* k: embedding width (model.dim) */
    int n_dense;                    /* D: dense inputs (13 for Criteo); DLRM needs >= 1 */
    int n_mlp;                      /* DeepFM: hidden layers (model.mlp), 0 .. 16 */
    int mlp[WK_MLP_MAX_LAYERS];     /* DeepFM: hidden widths; the 1-wide output is implied */
    int n_bottom;                   /* DLRM: bottom layers (model.bottom_mlp), 1 .. 16 */
    int bottom[WK_MLP_MAX_LAYERS];  /* DLRM: bottom widths, the last == dim */
    int n_top;                      /* DLRM: top layers (model.top_mlp), 1 .. 16 */
    int top[WK_MLP_MAX_LAYERS];     /* DLRM: top widths, the last == 1 */
    int fm2;                        /* DeepFM: 1 = add the FM second-order term */
    float dropout;                  /* rate in [0, 1); 0 = off */
    uint64_t seed;                  /* dropout rng seed */
} wk_deep_spec_t;

typedef struct wk_deep wk_deep_t;

/* PSR_OK, or PSR_ERR_CONFIG with a message naming the key (model.mlp, model.bottom_mlp,
 * model.top_mlp, model.dim, model.dropout, ...), the value found and what is allowed. */
int wk_deep_check_spec(const wk_deep_spec_t *spec);

/* A model with workspace for cap_rows rows (>= 1); the only allocation of the module.
 * Returns NULL with the error recorded (psr_err_msg) when wk_deep_check_spec fails or
 * cap_rows is 0; aborts naming the size when out of memory. Free with wk_deep_free. */
wk_deep_t *wk_deep_new(const wk_deep_spec_t *spec, size_t cap_rows);
void wk_deep_free(wk_deep_t *d); /* NULL ok */

/* Floats of theta (and of dtheta). */
size_t wk_deep_n_params(const wk_deep_t *d);
/* The same from a spec that passed wk_deep_check_spec, without building the model. */
size_t wk_deep_spec_params(const wk_deep_spec_t *spec);
/* Deterministic init of theta from seed (He for layers followed by ReLU, Xavier for the
 * output layers, biases 0; see wk_mlp_init_params). */
void wk_deep_init_params(const wk_deep_t *d, uint64_t seed, float *theta);
/* The dropout rng (seeded with spec.seed by wk_deep_new): reseed it or save its state. */
psr_rng_t *wk_deep_rng(wk_deep_t *d);

/* out (n) = deep part of the logit of rows E (n, F, k), x (n, D); n <= cap_rows. training
 * enables dropout. E and x are copied into the workspace: they may change after return. */
void wk_deep_forward(wk_deep_t *d, const float *theta, const float *E, const float *x, size_t n,
                     int training, float *out);

/* Backward of the last forward from d_out (n) = d(loss)/d(out_i) (for a mean loss it carries
 * the 1/n): dE (n, F, k) and dtheta (n_params) are overwritten. */
void wk_deep_backward(wk_deep_t *d, const float *theta, const float *d_out, float *dE,
                      float *dtheta);

#endif
