/* test_model: the model interface (worker/model.h) for every registered model, on one jagged
 * batch of a user-item schema with a multi-valued field: the batch's grouping invariants
 * (batch.h 1-3), and each model's gradients (sparse rows and dense parameters) against central
 * finite differences of the batch's mean loss, for each loss it trains with (bce, mse, bpr,
 * bce against sampled negatives). Also: FM equals its pairwise definition, MF's score_items
 * equals its forward, clipping, and the registry's config errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "check.h"
#include "config.h"
#include "hash.h"
#include "loss.h"
#include "model.h"
#include "psr_error.h"
#include "trainer_int.h"

enum { N = 12, S = 3, NEG = 3 };

/* fields: 0 user, 1 item, 2 cat, 3 multi, 4 dense, 5 time */
static void make_schema(blk_schema_t *s)
{
    memset(s, 0, sizeof *s);
    s->format = CFG_FORMAT_CSV;
    s->n_fields = 6;
    s->n_dense = 1;
    s->user_field = 0;
    s->item_field = 1;
    const uint8_t kinds[] = {BLK_FIELD_USER, BLK_FIELD_ITEM, BLK_FIELD_CAT, BLK_FIELD_MULTI,
                             BLK_FIELD_DENSE, BLK_FIELD_TIME};
    memcpy(s->kind, kinds, sizeof kinds);
    CHECK_INT(blk_schema_check(s, "test schema"), PSR_OK);
}

static cfg_t *make_cfg(const char *type, const char *const *sets, int n_sets)
{
    cfg_t *c = calloc(1, sizeof *c);
    cfg_defaults(c);
    snprintf(c->model.type, sizeof c->model.type, "%s", type);
    CHECK_INT(cfg_set(c, "data.train=x.csv"), PSR_OK);
    CHECK_INT(cfg_set(c, "model.dim=4"), PSR_OK);
    CHECK_INT(cfg_set(c, "model.init_std=0.3"), PSR_OK);
    CHECK_INT(cfg_set(c, "model.mlp=[8, 4]"), PSR_OK);
    CHECK_INT(cfg_set(c, "model.bottom_mlp=[6, 4]"), PSR_OK);
    CHECK_INT(cfg_set(c, "model.top_mlp=[5, 1]"), PSR_OK);
    CHECK_INT(cfg_set(c, "model.tower=[6, 4]"), PSR_OK);
    for (int i = 0; i < n_sets; i++) {
        int rc = cfg_set(c, sets[i]);
        CHECK_INT(rc, PSR_OK);
        if (rc != PSR_OK) fprintf(stderr, "%s: %s\n", sets[i], psr_err_msg());
    }
    return c;
}

/* N rows with few distinct keys (so rows share them), a repeated key inside the multi field,
 * and NEG negatives per row when the layout samples them. */
static void fill_batch(wk_batch_t *b, psr_rng_t *rng)
{
    wk_batch_clear(b);
    for (int i = 0; i < N; i++) {
        rd_row_t row;
        memset(&row, 0, sizeof row);
        float dense[1] = {(float)psr_rng_uniform(rng)};
        uint16_t field[8];
        uint64_t key[8];
        float val[8];
        int n = 0;
        field[n] = 0, key[n] = psr_feature_key_int(0, (int64_t)psr_rng_below(rng, 4)), val[n++] = 1;
        field[n] = 1, key[n] = psr_feature_key_int(1, (int64_t)psr_rng_below(rng, 5)), val[n++] = 1;
        field[n] = 2, key[n] = psr_feature_key_int(2, (int64_t)psr_rng_below(rng, 3)),
        val[n++] = 1;
        uint64_t mk = psr_feature_key_int(3, (int64_t)psr_rng_below(rng, 3));
        field[n] = 3, key[n] = mk, val[n++] = 0.5f + (float)psr_rng_uniform(rng);
        field[n] = 3, key[n] = mk, val[n++] = 1; /* the same key twice in one field */
        field[n] = 4, key[n] = psr_feature_key_int(4, 1), val[n++] = dense[0];
        field[n] = 5, key[n] = 1500000000u + (uint64_t)i, val[n++] = 1;
        row.label = (float)psr_rng_below(rng, 2);
        row.n_dense = 1;
        row.dense = dense;
        row.n_feat = n;
        row.field = field;
        row.key = key;
        row.val = val;
        row.time = 1500000000 + i;
        wk_batch_add(b, &row);
    }
    const int nn = b->lay.neg_table >= 0 ? b->lay.n_neg : 0;
    for (int j = 0; j < N * nn; j++)
        b->neg_key[j] = psr_feature_key_int(1, (int64_t)psr_rng_below(rng, 7));
    wk_batch_index(b);
}

static void check_index(const wk_batch_t *b)
{
    /* uniq: distinct (table, key), grouped by owner then table, covering every feature */
    for (int64_t u = 0; u < b->n_uniq; u++) {
        int owner = psr_bucket_owner(psr_key_bucket(b->uniq[u], b->n_buckets), S);
        CHECK(u >= b->srv_off[owner] && u < b->srv_off[owner + 1]);
        if (u > b->srv_off[owner]) CHECK(b->utab[u] >= b->utab[u - 1]);
        for (int64_t v = u + 1; v < b->n_uniq; v++)
            CHECK(b->uniq[u] != b->uniq[v] || b->utab[u] != b->utab[v]);
        CHECK_INT(b->roff[u + 1] - b->roff[u], b->lay.tables.t[b->utab[u]].width);
    }
    int64_t sum = 0;
    for (int g = 0; g < S * b->n_tables; g++) sum += b->srv_cnt[g];
    CHECK_INT(sum, b->n_uniq);
    CHECK_INT(b->srv_off[S], b->n_uniq);
    for (int64_t c = 0; c < b->off[b->n]; c++) {
        CHECK(b->uniq[b->idx[c]] == b->key[c]);
        CHECK_INT(b->utab[b->idx[c]], b->tab[c]);
    }
    if (b->lay.bias_table >= 0) CHECK(b->uniq[b->bias_idx] == wk_bias_key());
}

/* The objective whose gradient backward returns: the mean loss over the batch, plus the
 * model.l2 penalty of m_mf / m_neumf (l2 / (2 n) times the squared norm of the user row once
 * per row and of each scored item row once per score). */
static double objective(wk_model_t *m, wk_batch_t *b, float *score, float *dscore)
{
    m->ops->forward(m, b, 0, score);
    double l = wk_batch_loss(m, b, score, dscore) / b->n;
    const double l2 = m->cfg->model.l2;
    if (l2 > 0) {
        const int nn = b->lay.neg_table >= 0 ? b->lay.n_neg : 0;
        for (int i = 0; i < b->n; i++) {
            for (int c = -1; c <= nn; c++) {
                int32_t u = c < 0 ? b->user_idx[i] : c == 0 ? b->item_idx[i]
                                                            : b->neg_idx[i * nn + c - 1];
                const float *w = b->rows + b->roff[u];
                int W = (int)(b->roff[u + 1] - b->roff[u]);
                for (int k = 0; k < W; k++) l += 0.5 * l2 / b->n * w[k] * w[k];
            }
        }
    }
    return l;
}

/* The central difference of the objective in *x at steps h and h/2; 0 (a kink: a ReLU switched
 * inside the step) when the two disagree, else 1 and *fd. */
static int central(wk_model_t *m, wk_batch_t *b, float *score, float *dscore, float *x, float h,
                   double *fd)
{
    const float keep = *x;
    double d[2];
    for (int r = 0; r < 2; r++) {
        const float s = r ? h / 2 : h;
        *x = keep + s;
        double lp = objective(m, b, score, dscore);
        *x = keep - s;
        double lm = objective(m, b, score, dscore);
        d[r] = (lp - lm) / (2.0 * (double)s);
    }
    *x = keep;
    *fd = d[1];
    return fabs(d[0] - d[1]) <= 2e-4 + 1e-2 * fabs(d[1]);
}

/* Central differences of the objective against backward's gradients, for every pulled float
 * and up to 60 dense parameters. */
static void fd_check(const char *what, const char *type, const char *const *sets, int n_sets)
{
    psr_rng_t rng;
    psr_rng_seed(&rng, 21);
    cfg_t *c = make_cfg(type, sets, n_sets);
    blk_schema_t s;
    make_schema(&s);
    wk_layout_t lay;
    int rc = wk_model_validate(c, &s, &lay);
    CHECK_INT(rc, PSR_OK);
    if (rc != PSR_OK) {
        fprintf(stderr, "%s: %s\n", what, psr_err_msg());
        free(c);
        return;
    }
    wk_model_t m;
    CHECK_INT(wk_model_init(&m, c, &s, N), PSR_OK);
    wk_batch_t b;
    wk_batch_init(&b, N, &s, &m.lay, S, 64);
    fill_batch(&b, &rng);
    check_index(&b);
    const size_t nf = (size_t)b.roff[b.n_uniq];
    for (size_t j = 0; j < nf; j++) b.rows[j] = (float)(0.5 * psr_rng_normal(&rng));
    const int C = 1 + (b.lay.neg_table >= 0 ? b.lay.n_neg : 0);
    float *score = malloc((size_t)N * C * sizeof *score), *dscore = malloc((size_t)N * C * 4);
    float *grad = malloc(nf * sizeof *grad);
    objective(&m, &b, score, dscore);
    m.ops->forward(&m, &b, 1, score); /* the forward backward uses */
    wk_batch_loss(&m, &b, score, dscore);
    m.ops->backward(&m, &b, dscore, grad);
    float *dtheta = m.n_params ? malloc(m.n_params * sizeof *dtheta) : NULL;
    if (dtheta) memcpy(dtheta, m.dtheta, m.n_params * sizeof *dtheta);
    int bad = 0, checked = 0, kinks = 0;
    double worst = 0;
    const float h = 4e-3f;
    for (size_t j = 0; j < nf; j++) {
        double fd;
        if (!central(&m, &b, score, dscore, &b.rows[j], h, &fd)) {
            kinks++;
            continue;
        }
        double err = fabs(fd - grad[j]);
        if (err > worst) worst = err;
        checked++;
        if (err > 3e-4 + 3e-2 * fabs(fd)) {
            bad++;
            fprintf(stderr, "%s: grad[%zu] = %g, finite difference %g\n", what, j, grad[j], fd);
        }
    }
    size_t step = m.n_params > 60 ? m.n_params / 60 : 1;
    for (size_t j = 0; j < m.n_params; j += step) {
        double fd;
        if (!central(&m, &b, score, dscore, &m.theta[j], h, &fd)) {
            kinks++;
            continue;
        }
        double err = fabs(fd - dtheta[j]);
        if (err > worst) worst = err;
        checked++;
        if (err > 3e-4 + 3e-2 * fabs(fd)) {
            bad++;
            fprintf(stderr, "%s: dtheta[%zu] = %g, finite difference %g\n", what, j, dtheta[j],
                    fd);
        }
    }
    CHECK_INT(bad, 0);
    CHECK(checked >= 10 && kinks * 10 <= checked); /* a ReLU kink now and then, no more */
    printf("%s: %d gradient entries (%d skipped at a ReLU kink), worst |analytic - fd| = "
           "%.2e\n", what, checked, kinks, worst);

    /* score_items of a user over some items equals the forward's scores of those pairs */
    if (m.ops->score_items) {
        const float *fixed[PSR_MAX_TABLES] = {0};
        if (m.user_table >= 0) fixed[m.user_table] = b.rows + b.roff[b.user_idx[0]];
        if (m.lay.bias_table >= 0) fixed[m.lay.bias_table] = b.rows + b.roff[b.bias_idx];
        const int W = m.lay.tables.t[m.item_table].width;
        float items[2 * 64], out[2];
        memcpy(items, b.rows + b.roff[b.item_idx[0]], (size_t)W * sizeof(float));
        memcpy(items + W, b.rows + b.roff[b.item_idx[0]], (size_t)W * sizeof(float));
        m.ops->forward(&m, &b, 0, score);
        if (strcmp(type, "pop") != 0) {
            m.ops->score_items(&m, fixed, items, NULL, 2, out);
            CHECK_NEAR(out[0], score[0], 1e-5, 1e-5);
            CHECK_NEAR(out[1], score[0], 1e-5, 1e-5);
        }
    }
    free(score);
    free(dscore);
    free(grad);
    free(dtheta);
    wk_batch_free(&b);
    wk_model_free(&m);
    free(c);
}

/* FM's O(k n) forward equals the pairwise definition sum_{j<l} x_j x_l <v_j, v_l>. */
static void fm_pairwise(void)
{
    psr_rng_t rng;
    psr_rng_seed(&rng, 5);
    const char *sets[] = {"model.dim=3"};
    cfg_t *c = make_cfg("fm", sets, 1);
    blk_schema_t s;
    make_schema(&s);
    wk_model_t m;
    CHECK_INT(wk_model_init(&m, c, &s, N), PSR_OK);
    wk_batch_t b;
    wk_batch_init(&b, N, &s, &m.lay, S, 64);
    fill_batch(&b, &rng);
    for (int64_t j = 0; j < b.roff[b.n_uniq]; j++) b.rows[j] = (float)psr_rng_normal(&rng);
    float logit[N];
    m.ops->forward(&m, &b, 0, logit);
    for (int i = 0; i < N; i++) {
        double z = b.rows[b.roff[b.bias_idx]];
        for (int64_t j = b.off[i]; j < b.off[i + 1]; j++) {
            const float *u = b.rows + b.roff[b.idx[j]];
            z += b.val[j] * u[0];
            for (int64_t l = j + 1; l < b.off[i + 1]; l++) {
                const float *v = b.rows + b.roff[b.idx[l]];
                double dot = 0;
                for (int k = 1; k <= 3; k++) dot += (double)u[k] * v[k];
                z += dot * b.val[j] * b.val[l];
            }
        }
        CHECK_NEAR(logit[i], z, 1e-4, 1e-4);
    }
    /* the time field is no feature: 6 of the 7 features of every row are kept */
    for (int i = 0; i < N; i++) CHECK_INT(b.off[i + 1] - b.off[i], 6);
    wk_batch_free(&b);
    wk_model_free(&m);
    free(c);
}

static void expect_invalid(const char *type, const char *set, const char *needle)
{
    const char *sets[1] = {set};
    cfg_t *c = make_cfg(type, sets, set ? 1 : 0);
    blk_schema_t s;
    make_schema(&s);
    CHECK_INT(wk_model_validate(c, &s, NULL), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), needle);
    free(c);
}

int main(void)
{
    const char *none[] = {NULL};
    fd_check("lr", "lr", none, 0);
    fd_check("fm", "fm", none, 0);
    const char *mse[] = {"model.loss=mse"};
    fd_check("fm mse", "fm", mse, 1);
    fd_check("deepfm", "deepfm", none, 0);
    fd_check("dlrm", "dlrm", none, 0);
    const char *mf_rating[] = {"model.l2=0.1"};
    fd_check("mf mse", "mf", mf_rating, 1);
    const char *mf_bpr[] = {"eval.task=topk", "model.loss=bpr", "model.negatives=3",
                            "model.l2=0.05"};
    fd_check("mf bpr", "mf", mf_bpr, 4);
    const char *mf_bce[] = {"eval.task=topk", "model.negatives=3"};
    fd_check("mf bce+negatives", "mf", mf_bce, 2);
    const char *neumf[] = {"model.negatives=2", "model.l2=0.05"};
    fd_check("neumf bce+negatives", "neumf", neumf, 2);
    const char *neumf_bpr[] = {"model.loss=bpr", "model.negatives=2"};
    fd_check("neumf bpr", "neumf", neumf_bpr, 2);
    fm_pairwise();

    /* the registry's and the models' own config errors */
    expect_invalid("svm", NULL, "key 'model.type': found 'svm', allowed one of lr, fm, deepfm, "
                                "dlrm, mf, neumf, pop");
    expect_invalid("mf", "model.loss=bpr", "model.loss is bpr");
    expect_invalid("mf", "embedding.tables=[item.optimizer=sgd]", "optimizer 'sgd'");
    expect_invalid("mf", "embedding.tables=[items.init_std=1]",
                   "names table 'items', but this model's tables are user, item, global");
    expect_invalid("neumf", "model.tower=[7, 4]", "key 'model.tower'");
    expect_invalid("fm", "eval.task=topk", "cannot rank items");
    expect_invalid("pop", "eval.task=rating", "a top-K baseline");
    expect_invalid("dlrm", "model.bottom_mlp=[6, 5]", "model.bottom_mlp ends in 5");
    {   /* per-table optimizer and init_std land in the layout */
        const char *sets[] = {"embedding.optimizer=adagrad",
                              "embedding.tables=[item.optimizer=rowwise_adagrad, "
                              "user.init_std=0.5]"};
        cfg_t *c = make_cfg("mf", sets, 2);
        blk_schema_t s;
        make_schema(&s);
        wk_layout_t lay;
        CHECK_INT(wk_model_validate(c, &s, &lay), PSR_OK);
        CHECK_INT(lay.tables.n, 3);
        CHECK_INT(lay.tables.t[0].optim, 1);
        CHECK_INT(lay.tables.t[1].optim, 2);
        CHECK_INT(lay.tables.t[2].optim, 1);
        CHECK(lay.tables.t[0].init_std == 0.5f);
        CHECK_INT(lay.tables.t[1].width, 5);
        CHECK_INT(lay.field_table[0], 0);
        CHECK_INT(lay.field_table[1], 1);
        CHECK_INT(lay.field_table[2], -1);
        char desc[256];
        wk_model_desc(c, &s, desc, sizeof desc);
        CHECK(strcmp(desc, "type=mf width=5 user=5:adagrad item=5:rowwise_adagrad "
                           "global=1:adagrad") == 0);
        free(c);
    }

    /* clipping by global norm */
    float g[4] = {3, 4, 0, 0};
    CHECK_NEAR(wk_clip_global_norm(g, 4, 10.0), 5.0, 1e-6, 0);
    CHECK(g[0] == 3.0f && g[1] == 4.0f); /* under the limit: unchanged */
    CHECK_NEAR(wk_clip_global_norm(g, 4, 1.0), 5.0, 1e-6, 0);
    CHECK_NEAR(g[0], 0.6, 1e-6, 0);
    CHECK_NEAR(g[1], 0.8, 1e-6, 0);
    CHECK_NEAR(wk_clip_global_norm(g, 4, 0.0), 1.0, 1e-6, 0); /* 0 = off */
    CHECK_DONE();
}
