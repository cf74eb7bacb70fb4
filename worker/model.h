/* model: what a worker trains, behind one ops table per model (ps-lite's request handles,
 * llm.c's x_forward / x_backward pairs). Adding a model is one new file with its ops, one line
 * in model.c's list, its tests and its docs.
 *
 * A model
 *  - checks the config keys it reads against the data schema (check);
 *  - declares its embedding tables and which schema fields feed them (layout): the servers
 *    hold those tables (common/tables.h), the batch groups keys by them (worker/batch.h);
 *  - says how many dense parameters it has from the config alone (n_params), so servers know
 *    the dense blocks without building a model;
 *  - computes scores from a batch's pulled rows (forward) and, given d loss / d score,
 *    gradients for every pulled row and for its dense parameters (backward).
 * Scores: forward writes (b->n, 1 + n_neg) floats, row-major: column 0 the score of the row's
 * own item, columns 1.. those of its sampled negatives (n_neg = b->lay.n_neg, 0 for most). The
 * trainer turns scores into d loss / d score with the loss module (worker/loss.h): bce over
 * logits (clicks, implicit feedback with negatives labelled 0), mse (ratings), bpr (pairs of
 * column 0 against each negative).
 * Dense parameters are one flat vector theta of n_params floats, padded to n_blocks *
 * WIRE_DENSE_BLOCK; dtheta is the gradient of the batch's mean loss; both belong to the model.
 *
 * Top-K evaluation and recommendation score one user against many items with score_items:
 * the user's pulled rows and a matrix of item rows, the same floats a batch would pull. */
#ifndef PSR_WK_MODEL_H
#define PSR_WK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "block.h"
#include "config.h"
#include "hash.h"

/* What a model is evaluated on by default (eval.task: ctr | rating | topk). */
enum wk_task { WK_TASK_CTR, WK_TASK_RATING, WK_TASK_TOPK, WK_TASK_COUNT };

typedef struct wk_model wk_model_t;

typedef struct {
    const char *name;  /* model.type */
    int task;          /* enum wk_task it serves by default */
    /* Model-specific checks of the config against the data schema. PSR_OK or PSR_ERR_CONFIG
     * with a message naming the key, what was found and what is allowed. */
    int (*check)(const cfg_t *c, const blk_schema_t *s);
    /* Tables and the fields that feed them (widths, initializers; wk_layout applies the
     * embedding.optimizer / embedding.tables keys afterwards). */
    void (*layout)(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay);
    /* Dense parameters of the model, from the config alone (0: none). */
    size_t (*n_params)(const cfg_t *c, const blk_schema_t *s);
    /* Workspace for batches of up to m->cap rows; m->theta is allocated by the caller and
     * initialised here from train.seed (identical on every worker). */
    int (*init)(wk_model_t *m, const blk_schema_t *s);
    void (*forward)(wk_model_t *m, const wk_batch_t *b, int training, float *score);
    /* dscore laid out as forward's scores -> grad (b->roff layout, overwritten) and
     * m->dtheta (overwritten). Uses the workspace of the last forward. */
    void (*backward)(wk_model_t *m, const wk_batch_t *b, const float *dscore, float *grad);
    /* Scores of one user against n items: user[t] is the pulled row of table t for the user
     * (the user field's table, and the bias table's bias key; NULL for other tables); items
     * the rows (n, width) of the item table (field_table[item_field]) of the catalogue items
     * item_idx[0 .. n) (NULL: items 0 .. n-1). NULL when the model cannot rank items. */
    void (*score_items)(wk_model_t *m, const float *const *user, const float *items,
                        const int64_t *item_idx, int64_t n, float *out);
    /* Appends what else shapes its parameters to the description (optional, may be NULL). */
    size_t (*desc)(const cfg_t *c, char *buf, size_t cap);
    void (*free)(wk_model_t *m); /* the model's own workspace (impl) */
} wk_model_ops_t;

struct wk_model {
    const wk_model_ops_t *ops;
    const cfg_t *cfg;
    wk_layout_t lay;
    int cap;           /* rows of workspace */
    int loss;          /* enum wk_loss_kind the trainer applies */
    size_t n_params;   /* dense parameters */
    int64_t n_blocks;  /* ceil(n_params / WIRE_DENSE_BLOCK) */
    float *theta;      /* (n_blocks * WIRE_DENSE_BLOCK) */
    float *dtheta;     /* (n_blocks * WIRE_DENSE_BLOCK), padding stays 0 */
    psr_rng_t *rng;    /* dropout masks (checkpointed), or NULL */
    const struct wk_catalog *catalog; /* the item catalogue (set by the trainer), or NULL */
    int user_table, item_table;       /* field_table of the user / item field, or -1 */
    void *impl;        /* the model's own state */
};

/* The registered model called `name`, or NULL. */
const wk_model_ops_t *wk_model_find(const char *name);
/* The model of config c (model.type). */
const wk_model_ops_t *wk_model_of(const cfg_t *c);
/* Number of registered models and the i-th (for help texts and docs). */
int wk_model_count(void);
const wk_model_ops_t *wk_model_at(int i);

/* Everything a model needs checked before any rank starts: its own check, its layout with
 * embedding.optimizer / embedding.tables applied, the loss (model.loss) against the task,
 * and the dense parameters' memory. Fills *lay (may be NULL). PSR_OK or PSR_ERR_CONFIG. */
int wk_model_validate(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay);
/* The layout with the config's table options applied (after wk_model_validate passed). */
void wk_layout_of(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay);
/* Dense blocks of the model of c: ceil(n_params / WIRE_DENSE_BLOCK). */
int64_t wk_model_dense_blocks(const cfg_t *c, const blk_schema_t *s);
/* The loss a model of c trains with: model.loss, or the task's default (bce for clicks and
 * implicit feedback, mse for ratings). */
int wk_model_loss(const cfg_t *c);
/* The task it is evaluated on: eval.task, or the model's own. */
int wk_model_task(const cfg_t *c);
/* "ctr", "rating", "topk". */
const char *wk_task_name(int task);

/* Build the model of c for batches of up to cap rows. PSR_OK or an error. */
int wk_model_init(wk_model_t *m, const cfg_t *c, const blk_schema_t *s, int cap);
void wk_model_free(wk_model_t *m); /* accepts a zeroed model */

/* A one-line description of what shapes the parameters: the model, every table (name,
 * width, optimizer) and the dense parameter count; checkpoints store it with its
 * fingerprint and refuse to load into a model that differs. */
void wk_model_desc(const cfg_t *c, const blk_schema_t *s, char *buf, size_t cap);

/* Scale g (n floats) so its L2 norm is at most max_norm (<= 0: no clipping).
 * Returns the norm before clipping. */
double wk_clip_global_norm(float *g, size_t n, double max_norm);

#endif
