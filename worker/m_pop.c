/* m_pop: the popularity baseline. Every user gets the items with the most training
 * interactions (the item catalogue's counts), whatever they did: the figure every top-K
 * result is read against. Nothing is learned: its one table (`item`, width 1, fed by the item
 * field) stays at its initial zeros, and a training run only counts the data. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "model.h"
#include "psr_error.h"

static int pop_check(const cfg_t *c, const blk_schema_t *s)
{
    PSR_RETURN_IF(s->item_field < 0, PSR_ERR_CONFIG,
                  "model.type is pop, which ranks items by their training count, but the data "
                  "have no item column; mark it 'item' in data.columns");
    PSR_RETURN_IF(wk_model_task(c) != WK_TASK_TOPK, PSR_ERR_CONFIG,
                  "model.type is pop, a top-K baseline, but eval.task is %s; use eval.task topk "
                  "(or auto)", cfg_enum_name("eval.task", c->eval.task));
    return PSR_OK;
}

static void pop_layout(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay)
{
    lay->tables.n = 1;
    snprintf(lay->tables.t[0].name, sizeof lay->tables.t[0].name, "item");
    lay->tables.t[0].width = 1;
    lay->tables.t[0].zero_first = 1;
    if (s->item_field >= 0) lay->field_table[s->item_field] = 0;
}

static size_t no_params(const cfg_t *c, const blk_schema_t *s) { return 0; }
static int pop_init(wk_model_t *m, const blk_schema_t *s) { return PSR_OK; }
static void pop_free(wk_model_t *m) {}

/* log(1 + training count) of the item of key `key` (0 for an item outside the catalogue). */
static float pop_of(const wk_model_t *m, uint64_t key)
{
    if (!m->catalog) return 0.0f;
    int64_t i = wk_catalog_find(m->catalog, key);
    return i < 0 ? 0.0f : (float)log1p((double)m->catalog->count[i]);
}

static void pop_forward(wk_model_t *m, const wk_batch_t *b, int training, float *score)
{
    const int N = b->lay.neg_table >= 0 ? b->lay.n_neg : 0, C = 1 + N;
    for (int i = 0; i < b->n; i++) {
        score[(size_t)i * C] = pop_of(m, b->item_key[i]);
        for (int k = 0; k < N; k++)
            score[(size_t)i * C + 1 + k] = pop_of(m, b->neg_key[(size_t)i * N + k]);
    }
}

static void pop_backward(wk_model_t *m, const wk_batch_t *b, const float *dscore, float *grad)
{
    memset(grad, 0, (size_t)b->roff[b->n_uniq] * sizeof *grad); /* nothing to learn */
}

static void pop_score_items(wk_model_t *m, const float *const *user, const float *items,
                            const int64_t *item_idx, int64_t n, float *out)
{
    const wk_catalog_t *c = m->catalog;
    for (int64_t j = 0; j < n; j++) {
        int64_t i = item_idx ? item_idx[j] : j;
        out[j] = c ? (float)log1p((double)c->count[i]) : 0.0f;
    }
}

const wk_model_ops_t wk_model_pop = {
    .name = "pop",
    .task = WK_TASK_TOPK,
    .check = pop_check,
    .layout = pop_layout,
    .n_params = no_params,
    .init = pop_init,
    .forward = pop_forward,
    .backward = pop_backward,
    .score_items = pop_score_items,
    .free = pop_free,
};
