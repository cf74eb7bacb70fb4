/* layers: batch dense layers for the deep models, forward and backward over a whole batch.
 *
 * Conventions every kernel here keeps:
 *  1. Tensors are row-major float arrays, one row per example: x (n, in) means x[i * in + j].
 *  2. Dense products go through cblas_sgemm; the caller sets OpenBLAS to one thread per rank.
 *  3. Kernels never allocate, print or fail; sizes are size_t and each dimension must fit in
 *     an int (BLAS takes int). Backward kernels OVERWRITE their parameter gradients (dW, db),
 *     they never accumulate; a caller that wants a sum adds into its own buffer.
 *  4. Activations and dropout work in place: forward turns x into y, backward turns dy into
 *     dx, and ReLU/sigmoid/tanh backward read the SAVED OUTPUT y (not the input).
 *  5. Losses return the SUMMED loss (double) and write the gradient of the MEAN loss.
 *  6. wk_mlp_t: a stack of FC layers whose parameters live in one flat float array theta:
 *     for each layer l in order, W_l (dims[l+1], dims[l]) row-major, then b_l (dims[l+1]).
 *     Its workspace is allocated once for cap rows; forward/backward never allocate. */
#ifndef PSR_WK_LAYERS_H
#define PSR_WK_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

/* Elementwise loop over j in [0, len) for kernels: blocks of WK_VB with a constant trip count,
 * then a scalar tail. GCC's -O2 vectorizer (its "very cheap" cost model) only vectorizes loops
 * whose trip count is a known multiple of the vector width, and the plain form of a select
 * like `v > 0 ? v : 0` becomes a branch that mispredicts on random signs; in blocks both
 * become branch-free SIMD. Body: statements using j (size_t). */
#define WK_VB 16
#define WK_FOR_VEC(j, len, ...)                                                            \
    do {                                                                                   \
        const size_t wk_len_ = (len), wk_nb_ = wk_len_ - wk_len_ % WK_VB;                  \
        for (size_t wk_b_ = 0; wk_b_ < wk_nb_; wk_b_ += WK_VB)                             \
            for (size_t wk_q_ = 0; wk_q_ < WK_VB; wk_q_++) {                               \
                const size_t j = wk_b_ + wk_q_;                                            \
                __VA_ARGS__;                                                               \
            }                                                                              \
        for (size_t j = wk_nb_; j < wk_len_; j++) {                                        \
            __VA_ARGS__;                                                                   \
        }                                                                                  \
    } while (0)

/* ---- fully connected: y = x W^T + b ---- */

/* y (n, out) = x (n, in) W^T + b, with W (out, in) and b (out) (b may be NULL: no bias). */
void wk_fc_forward(const float *restrict x, const float *restrict W, const float *restrict b,
                   size_t n, size_t in, size_t out, float *restrict y);

/* From dy (n, out) = dL/dy: dW (out, in) = dy^T x and db (out) = column sums of dy, both
 * overwritten; dx (n, in) = dy W, overwritten, skipped when dx is NULL (e.g. x is data).
 * db may be NULL (layer without bias). */
void wk_fc_backward(const float *restrict x, const float *restrict W, const float *restrict dy,
                    size_t n, size_t in, size_t out, float *restrict dx, float *restrict dW,
                    float *restrict db);

/* ---- activations (in place; backward from the saved output y) ---- */

typedef enum { WK_ACT_NONE, WK_ACT_RELU, WK_ACT_SIGMOID, WK_ACT_TANH, WK_ACT_COUNT } wk_act_t;

/* Name of an activation ("relu", ...); "?" when out of range. */
const char *wk_act_name(int act);

void wk_relu_forward(float *restrict x, size_t len);
void wk_sigmoid_forward(float *restrict x, size_t len); /* stable for any sign of x */
void wk_tanh_forward(float *restrict x, size_t len);
/* dy (len) becomes dx in place, given y (len) = the forward's output. */
void wk_relu_backward(const float *restrict y, float *restrict dy, size_t len);
void wk_sigmoid_backward(const float *restrict y, float *restrict dy, size_t len);
void wk_tanh_backward(const float *restrict y, float *restrict dy, size_t len);
/* Dispatch on act; WK_ACT_NONE is the identity. */
void wk_act_forward(wk_act_t act, float *restrict x, size_t len);
void wk_act_backward(wk_act_t act, const float *restrict y, float *restrict dy, size_t len);

/* ---- inverted dropout (in place) ---- */

/* Scale applied to kept elements for rate p: 1 / (keep probability). The rate is quantized
 * to a multiple of 2^-16 (|error| <= 2^-17) and the scale is exact for the quantized rate, so
 * E[y] = x holds exactly. Returns 1 for p <= 0. */
float wk_dropout_scale(float p);

/* Training (training != 0, 0 < p < 1): each of the len elements of x is kept with
 * probability 1 - p and multiplied by wk_dropout_scale(p), else multiplied by 0; mask (len
 * bytes, may be NULL) records 1 for kept, 0 for dropped. Draws ceil(len / 4) numbers from
 * rng (16 bits per element), so the mask depends only on the rng state. Eval (training == 0)
 * or p <= 0: x unchanged, mask (if any) all 1, rng untouched. */
void wk_dropout_forward(float *restrict x, uint8_t *restrict mask, size_t len, float p,
                        int training, psr_rng_t *rng);
/* dy (len) becomes dx in place: dy * mask * wk_dropout_scale(p). */
void wk_dropout_backward(float *restrict dy, const uint8_t *restrict mask, size_t len, float p);

/* ---- losses: return sum_i l_i; write d(mean loss)/d(input) ---- */

/* Sigmoid cross-entropy with logits z against labels y in [0, 1]:
 * l_i = max(z,0) - z y + log(1 + exp(-|z|)) (stable for any z); dz_i = (sigmoid(z_i) - y_i)
 * / n. dz may be NULL (loss only). */
double wk_loss_bce_logit(const float *restrict z, const float *restrict y, size_t n,
                         float *restrict dz);
/* Squared error l_i = (p_i - y_i)^2; dp_i = 2 (p_i - y_i) / n. dp may be NULL. */
double wk_loss_mse(const float *restrict p, const float *restrict y, size_t n,
                   float *restrict dp);

/* ---- MLP: FC layers, ReLU between them, a configurable last activation ---- */

enum { WK_MLP_MAX_LAYERS = 17 }; /* 16 configurable widths plus DeepFM's implied output layer */

typedef struct {
    int n_layers;                      /* FC layers, in [1, WK_MLP_MAX_LAYERS] */
    size_t dims[WK_MLP_MAX_LAYERS + 1]; /* dims[0] input width; dims[l+1] width of layer l */
    wk_act_t last_act;                 /* after the last layer; hidden layers use ReLU */
    float dropout;                     /* rate after each hidden ReLU while training; 0 = off */
    size_t cap;                        /* rows of workspace */
    size_t n_params;                   /* floats of theta */
    size_t w_off[WK_MLP_MAX_LAYERS];   /* offset of W_l in theta */
    size_t b_off[WK_MLP_MAX_LAYERS];   /* offset of b_l in theta */
    float *act[WK_MLP_MAX_LAYERS];     /* (cap, dims[l+1]): layer l's output after act/dropout */
    float *g[2];                       /* (cap, max dims[1..L]): backward ping-pong */
    size_t n;                          /* rows of the last forward */
    float drop_scale;                  /* dropout scale of the last forward (1: none) */
    void *slab;                        /* owns every workspace array above */
} wk_mlp_t;

/* Set up m for n_layers FC layers of widths dims[0..n_layers] (dims[0] = input width) and
 * allocate its workspace for cap rows (aborts naming the size when out of memory).
 * Returns PSR_OK, or PSR_ERR_CONFIG for n_layers out of range, a zero or > INT_MAX width,
 * dropout outside [0, 1) or a bad last_act (m is then zeroed). Free with wk_mlp_free. */
int wk_mlp_init(wk_mlp_t *m, int n_layers, const size_t *dims, wk_act_t last_act,
                float dropout, size_t cap);
void wk_mlp_free(wk_mlp_t *m); /* NULL or a zeroed m is fine */

/* Deterministic init from seed into theta (m->n_params): W_l ~ N(0, 2 / dims[l]) (He) when
 * layer l is followed by ReLU, else N(0, 2 / (dims[l] + dims[l+1])) (Xavier); biases 0.
 * Layer l draws from its own stream (seed, l), so resizing one layer leaves the others. */
void wk_mlp_init_params(const wk_mlp_t *m, uint64_t seed, float *theta);

/* Forward x (n, dims[0]) -> returns the output (n, dims[L]) held in m's workspace (valid
 * until the next forward). n <= cap. Dropout runs when training and m->dropout > 0, drawing
 * its masks from rng (may be NULL otherwise). x must stay unchanged until the backward. */
const float *wk_mlp_forward(wk_mlp_t *m, const float *theta, const float *x, size_t n,
                            int training, psr_rng_t *rng);

/* Backward of the last forward: x is the same input, dy (n, dims[L]) = dL/d(output).
 * dtheta (n_params) is overwritten; dx (n, dims[0]) is overwritten, skipped when NULL. */
void wk_mlp_backward(wk_mlp_t *m, const float *theta, const float *x, const float *dy,
                     float *dx, float *dtheta);

#endif
