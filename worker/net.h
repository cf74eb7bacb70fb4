/* net: the model a worker trains, whatever model.type says, behind one interface.
 *
 * Sparse rows (pulled per batch) hold width = 1 + dim floats for every model but LR
 * (width 1): w[0] a linear weight, w[1..dim] an embedding / FM factor. For example i:
 *   lr, fm:          logit = bias + sum_f x_f w0_f [+ FM second order]   (worker/model.h)
 *   deepfm, dlrm:    logit = bias + sum_f x_f w0_f + deep(E_i, dense_i)   (worker/deep.h)
 * where E_if = x_f * w[1..dim] of field f's row. DLRM embeds only the 26 categorical fields
 * (the 13 integer columns are its dense inputs); DeepFM embeds all 39 fields and also feeds
 * the 13 dense values to its MLP.
 *
 * Dense parameters (deep models only) are one flat vector theta of n_params floats, padded
 * to n_blocks * WIRE_DENSE_BLOCK; dtheta is the gradient of the batch's mean loss. */
#ifndef PSR_WK_NET_H
#define PSR_WK_NET_H

#include <stdint.h>

#include "batch.h"
#include "config.h"
#include "deep.h"
#include "model.h"

typedef struct {
    int type;          /* enum cfg_model_type */
    int dim;           /* embedding / factor width */
    int width;         /* floats per sparse row */
    int field0;        /* first reader field the model uses */
    int n_fields;      /* fields it uses */
    int cap;           /* rows of workspace */
    wk_fm_t fm;        /* lr / fm */
    wk_deep_t *deep;   /* deepfm / dlrm, else NULL */
    size_t n_params;   /* dense parameters (0 for lr / fm) */
    int64_t n_blocks;  /* ceil(n_params / WIRE_DENSE_BLOCK) */
    float *theta;      /* (n_blocks * WIRE_DENSE_BLOCK) */
    float *dtheta;     /* (n_blocks * WIRE_DENSE_BLOCK), padding stays 0 */
    float *E, *dE;     /* (cap, n_fields, dim) */
    float *lin;        /* (cap) linear part of the last forward */
    float *dout;       /* (cap) */
} wk_net_t;

/* Set up the model of cfg for batches of up to cap rows; theta is initialised from
 * train.seed (identical on every worker). PSR_OK or PSR_ERR_CONFIG (bad layer widths). */
int wk_net_init(wk_net_t *m, const cfg_t *cfg, int cap);
void wk_net_free(wk_net_t *m); /* accepts a zeroed net */

/* The reader fields a model of this config uses: [*field0, *field0 + *n_fields). */
void wk_net_fields(const cfg_t *cfg, int *field0, int *n_fields);

/* Logits of b's rows. rows: (b->n_uniq, width) in b->uniq order. */
void wk_net_forward(wk_net_t *m, const wk_batch_t *b, const float *rows, int training,
                    float *logit);
/* Gradients of the mean loss: sparse rows into grad (n_uniq, width), overwritten, and dense
 * into m->dtheta. Returns the summed loss. Uses the workspace of the last forward. */
double wk_net_backward(wk_net_t *m, const wk_batch_t *b, const float *rows, const float *logit,
                       float *grad);

#endif
