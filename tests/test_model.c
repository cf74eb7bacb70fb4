/* test_model: batch deduplication/grouping invariants, and LR/FM gradients against central
 * finite differences of the batch's mean loss (worker/model.h). */
#include <stdint.h>
#include <stdlib.h>

#include "batch.h"
#include "check.h"
#include "hash.h"
#include "model.h"

enum { N = 16, F = 6, S = 3 };

static double mean_loss(wk_fm_t *m, const wk_batch_t *b, const float *rows, float *logit)
{
    wk_fm_forward(m, b, rows, logit);
    double l = 0;
    for (int i = 0; i < b->n; i++) l += wk_bce_logit(logit[i], b->label[i]);
    return l / b->n;
}

static void make_batch(wk_batch_t *b, psr_rng_t *rng)
{
    wk_batch_init(b, N, 0, F, S, 64);
    b->n = N;
    for (int i = 0; i < N; i++) {
        b->label[i] = (float)(psr_rng_below(rng, 2));
        for (int f = 0; f < F; f++) {
            /* few distinct keys so rows share them; field 5 repeats field 4's key (a key
             * appearing twice in one row must sum both contributions) */
            uint64_t key = f == 5 ? b->key[i * F + 4] : psr_feature_key_int(f, (int64_t)psr_rng_below(rng, 4));
            b->key[i * F + f] = key;
            b->val[i * F + f] = f == 2 ? (float)(0.5 + psr_rng_uniform(rng)) : 1.0f;
        }
    }
    wk_batch_index(b);
}

static void check_index(const wk_batch_t *b)
{
    /* uniq: distinct, grouped by owning server, covering every feature and the bias */
    for (int64_t u = 0; u < b->n_uniq; u++) {
        int owner = psr_bucket_owner(psr_key_bucket(b->uniq[u], b->n_buckets), S);
        CHECK(u >= b->srv_off[owner] && u < b->srv_off[owner + 1]);
        for (int64_t v = u + 1; v < b->n_uniq; v++) CHECK(b->uniq[u] != b->uniq[v]);
    }
    CHECK_INT(b->srv_off[S], b->n_uniq);
    for (int c = 0; c < b->n * F; c++) CHECK(b->uniq[b->idx[c]] == b->key[c]);
    CHECK(b->uniq[b->bias_idx] == wk_bias_key());
}

static void gradient_check(int dim, psr_rng_t *rng)
{
    wk_batch_t b;
    make_batch(&b, rng);
    check_index(&b);
    wk_fm_t m;
    wk_fm_init(&m, dim, N);
    const int W = m.width;
    const size_t n = (size_t)b.n_uniq * W;
    float *rows = malloc(n * sizeof *rows), *grad = malloc(n * sizeof *grad);
    float logit[N];
    for (size_t j = 0; j < n; j++) rows[j] = (float)(0.3 * psr_rng_normal(rng));
    wk_fm_forward(&m, &b, rows, logit);
    double loss = wk_fm_backward(&m, &b, rows, logit, grad);
    CHECK_NEAR(loss / N, mean_loss(&m, &b, rows, logit), 1e-6, 1e-6);
    int bad = 0;
    double worst = 0;
    for (size_t j = 0; j < n; j++) {
        const float h = 1e-2f, keep = rows[j];
        rows[j] = keep + h;
        double lp = mean_loss(&m, &b, rows, logit);
        rows[j] = keep - h;
        double lm = mean_loss(&m, &b, rows, logit);
        rows[j] = keep;
        double fd = (lp - lm) / (2.0 * h);
        double err = fabs(fd - grad[j]);
        if (err > worst) worst = err;
        if (err > 2e-4 + 2e-2 * fabs(fd)) {
            bad++;
            fprintf(stderr, "dim %d: grad[%zu] = %g, finite difference %g\n", dim, j, grad[j], fd);
        }
    }
    CHECK_INT(bad, 0);
    printf("dim %d: %zu gradient entries, worst |analytic - fd| = %.2e\n", dim, n, worst);
    /* the bias row's factors (if any) get no gradient: the bias is linear only */
    for (int k = 1; k < W; k++) CHECK(grad[(size_t)b.bias_idx * W + k] == 0.0f);
    free(rows);
    free(grad);
    wk_fm_free(&m);
    wk_batch_free(&b);
}

int main(void)
{
    psr_rng_t rng;
    psr_rng_seed(&rng, 11);
    gradient_check(0, &rng); /* LR */
    gradient_check(4, &rng); /* FM */

    /* FM forward equals the O(k n^2) pairwise definition */
    {
        wk_batch_t b;
        make_batch(&b, &rng);
        wk_fm_t m;
        wk_fm_init(&m, 3, N);
        const int W = m.width;
        float *rows = malloc((size_t)b.n_uniq * W * sizeof *rows);
        for (int64_t j = 0; j < b.n_uniq * W; j++) rows[j] = (float)psr_rng_normal(&rng);
        float logit[N];
        wk_fm_forward(&m, &b, rows, logit);
        for (int i = 0; i < N; i++) {
            double z = rows[(size_t)b.bias_idx * W];
            for (int f = 0; f < F; f++) {
                int u = b.idx[i * F + f];
                z += b.val[i * F + f] * rows[(size_t)u * W];
                for (int g = f + 1; g < F; g++) {
                    int v = b.idx[i * F + g];
                    double dot = 0;
                    for (int k = 1; k < W; k++) dot += (double)rows[(size_t)u * W + k] * rows[(size_t)v * W + k];
                    z += dot * b.val[i * F + f] * b.val[i * F + g];
                }
            }
            CHECK_NEAR(logit[i], z, 1e-4, 1e-4);
        }
        free(rows);
        wk_fm_free(&m);
        wk_batch_free(&b);
    }

    /* the same batch indexed twice gives the same layout (determinism) */
    {
        wk_batch_t b;
        make_batch(&b, &rng);
        uint64_t first[N * F + 1];
        int64_t n1 = b.n_uniq;
        memcpy(first, b.uniq, (size_t)n1 * sizeof *first);
        wk_batch_index(&b);
        CHECK_INT(b.n_uniq, n1);
        CHECK(memcmp(first, b.uniq, (size_t)n1 * sizeof *first) == 0);
        wk_batch_free(&b);
    }

    /* clipping by global norm */
    float g[4] = {3, 4, 0, 0};
    CHECK_NEAR(wk_clip_global_norm(g, 4, 10.0), 5.0, 1e-6, 0);
    CHECK(g[0] == 3.0f && g[1] == 4.0f); /* under the limit: unchanged */
    CHECK_NEAR(wk_clip_global_norm(g, 4, 1.0), 5.0, 1e-6, 0);
    CHECK_NEAR(g[0], 0.6, 1e-6, 0);
    CHECK_NEAR(g[1], 0.8, 1e-6, 0);
    CHECK_NEAR(wk_clip_global_norm(g, 4, 0.0), 1.0, 1e-6, 0); /* 0 = off */
    CHECK_NEAR(g[0], 0.6, 1e-6, 0);

    /* stable cross-entropy */
    CHECK_NEAR(wk_bce_logit(0.0, 1.0), log(2.0), 1e-12, 0);
    CHECK_NEAR(wk_bce_logit(800.0, 0.0), 800.0, 1e-9, 0);
    CHECK_NEAR(wk_bce_logit(-800.0, 0.0), 0.0, 1e-12, 0);
    CHECK_DONE();
}
