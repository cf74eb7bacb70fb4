/* data: the rows a worker trains and evaluates on: the split of data.train (split.h), the
 * item catalogue (catalog.h), negatives for implicit feedback, and the loss of a batch. */
#include <math.h>
#include <string.h>

#include "log.h"
#include "loss.h"
#include "psr_error.h"
#include "trainer_int.h"

int wk_fill(trainer_t *t, wk_batch_t *b, rd_reader_t *r, int part)
{
    rd_row_t row;
    wk_batch_clear(b);
    const int from_test = part == WK_SPLIT_TEST && t->cfg->data.split == CFG_SPLIT_FILES;
    const int filter = t->split.topk || t->cfg->data.split != CFG_SPLIT_FILES;
    while (b->n < b->cap) {
        int rc = rd_next(r, &row);
        if (rc < 0) return rc;
        if (rc == 0) break;
        if (filter && wk_split_part(&t->split, &row, from_test) != part) continue;
        if (t->split.topk) row.label = 1.0f; /* implicit feedback: every kept row a positive */
        wk_batch_add(b, &row);
    }
    return b->n;
}

void wk_sample_negatives(trainer_t *t, wk_batch_t *b, int64_t step)
{
    const int N = b->lay.neg_table >= 0 ? b->lay.n_neg : 0;
    if (N == 0 || t->catalog.n == 0) return;
    /* a stream per (seed, worker, step): a resumed job draws exactly the same negatives */
    psr_rng_seed(&t->neg_rng, psr_mix64(t->cfg->train.seed ^ 0x6e6567ULL ^
                                        psr_mix64(((uint64_t)t->worker << 40) ^ (uint64_t)step)));
    const int pop = t->cfg->model.negative_sampler == CFG_SAMPLER_POPULARITY;
    for (int i = 0; i < b->n; i++) {
        const uint64_t pos = b->item_key[i];
        for (int k = 0; k < N; k++) {
            uint64_t key = pos;
            /* redraw the row's own item (a catalogue of one item keeps it) */
            for (int tries = 0; key == pos && tries < 16; tries++)
                key = t->catalog.key[wk_catalog_sample(&t->catalog, &t->neg_rng, pop)];
            b->neg_key[(size_t)i * N + k] = key;
        }
    }
}

double wk_batch_loss(const wk_model_t *m, const wk_batch_t *b, const float *score,
                     float *dscore)
{
    const int n = b->n, N = b->lay.neg_table >= 0 ? b->lay.n_neg : 0;
    const float scale = 1.0f / (float)(n > 0 ? n : 1);
    if (N == 0) return wk_loss_point(m->loss, score, b->label, n, scale, dscore);
    const int C = 1 + N;
    double loss = 0.0;
    if (m->loss == WK_LOSS_BPR) {
        for (int i = 0; i < n; i++) {
            float dpos;
            loss += wk_loss_bpr(score + (size_t)i * C, score + (size_t)i * C + 1, 1, N, scale,
                                &dpos, dscore + (size_t)i * C + 1);
            dscore[(size_t)i * C] = dpos;
        }
        return loss;
    }
    /* pointwise on implicit feedback: the row's item is a positive (1), negatives are 0 */
    static const float one = 1.0f;
    float zeros[64] = {0};
    for (int i = 0; i < n; i++) {
        const float *s = score + (size_t)i * C;
        float *d = dscore + (size_t)i * C;
        loss += wk_loss_point(m->loss, s, &one, 1, scale, d);
        for (int k = 0; k < N; k += 64) {
            int len = N - k < 64 ? N - k : 64;
            loss += wk_loss_point(m->loss, s + 1 + k, zeros, len, scale, d + 1 + k);
        }
    }
    return loss;
}

int wk_prepare_data(trainer_t *t)
{
    const blk_schema_t *s = &t->schema;
    const int topk = wk_model_task(t->cfg) == WK_TASK_TOPK;
    wk_split_init(&t->split, t->cfg, s->user_field, s->item_field, topk);
    if (t->cfg->data.split != CFG_SPLIT_FILES) {
        PSR_RETURN_IF(s->user_field < 0 || s->item_field < 0, PSR_ERR_CONFIG,
                      "data.split is %s, which holds out interactions of users with items, but "
                      "the data have %s; mark the columns 'user' and 'item' in data.columns, or "
                      "use data.split files", cfg_enum_name("data.split", t->cfg->data.split),
                      s->user_field < 0 ? "no user column" : "no item column");
        PSR_RETURN_IF(t->cfg->data.split == CFG_SPLIT_LEAVE_LAST_OUT &&
                          blk_schema_time_field(s) < 0,
                      PSR_ERR_CONFIG, "data.split is leave_last_out, which holds out each "
                      "user's latest interaction, but the data have no time column; mark it "
                      "'time' in data.columns");
    }
    if (s->item_field < 0 || s->user_field < 0) return PSR_OK; /* click logs: no catalogue */

    double t0 = psr_now();
    rd_row_t row;
    int rc = PSR_OK, n;
    if (t->cfg->data.split == CFG_SPLIT_LEAVE_LAST_OUT) {
        while ((n = rd_next(t->train, &row)) > 0) wk_split_observe(&t->split, &row);
        if (n < 0) rc = -n;
        if (rc == PSR_OK) rc = rd_rewind(t->train);
        /* every worker takes part even after a failure; the caller stops the job */
        wk_split_merge(&t->split, t->wk_comm);
        if (rc != PSR_OK) return rc;
    }
    wk_catalog_acc_t *acc = wk_catalog_acc_new();
    const int filter = topk || t->cfg->data.split != CFG_SPLIT_FILES;
    while ((n = rd_next(t->train, &row)) > 0) {
        if (filter && wk_split_part(&t->split, &row, 0) != WK_SPLIT_TRAIN) continue;
        wk_catalog_acc_add(acc, wk_row_field_key(&row, s->item_field), row.item_tok,
                           row.item_tok ? row.item_len : -1);
    }
    if (n < 0) rc = -n;
    if (rc == PSR_OK) rc = rd_rewind(t->train);
    wk_catalog_merge(&t->catalog, acc, t->wk_comm);
    wk_catalog_acc_free(acc);
    if (rc != PSR_OK) return rc;
    if (t->worker == 0)
        psr_info("item catalogue: %lld items, %lld training interactions (%.2fs)%s",
                 (long long)t->catalog.n, (long long)t->catalog.total, psr_now() - t0,
                 t->split.n_users ? "; latest interaction of every user found" : "");
    PSR_RETURN_IF(t->catalog.n == 0 && topk, PSR_ERR_DATA,
                  "data.train holds no training interaction (after the split and "
                  "data.min_rating); nothing to rank");
    return PSR_OK;
}
