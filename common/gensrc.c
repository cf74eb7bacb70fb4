/* gensrc: see gensrc.h. */
#include "gensrc.h"

#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "hash.h"
#include "psr_error.h"

_Static_assert((int)CFG_TRUTH_FM == (int)GEN_TRUTH_FM &&
                   (int)CFG_TRUTH_DEEP == (int)GEN_TRUTH_DEEP &&
                   (int)CFG_TRUTH_COUNT == (int)GEN_TRUTH_COUNT,
               "data.gen_truth values are enum gen_truth");

struct gensrc {
    gen_model_t *model;
    uint64_t seed, row_seed;
    int truth, worker, n_workers, int_mode;
    int64_t rows, next, read;
};

int gensrc_open(gensrc_t **out, uint64_t seed, int stream, int truth, int64_t rows, int worker,
                int n_workers, int int_mode)
{
    *out = NULL;
    PSR_RETURN_IF(rows < 0 || n_workers < 1 || worker < 0 || worker >= n_workers,
                  PSR_ERR_INTERNAL, "gensrc_open: %lld rows, worker %d of %d", (long long)rows,
                  worker, n_workers);
    gensrc_t *g = psr_xcalloc(1, sizeof *g);
    g->model = gen_model_new(seed, truth);
    if (!g->model) {
        free(g);
        return PSR_ERR(PSR_ERR_NOMEM, "data.source generate: cannot build the planted model");
    }
    g->seed = seed;
    g->row_seed = psr_mix64(seed ^ psr_mix64(0x67656e737263ULL + (uint64_t)stream));
    g->truth = truth;
    g->rows = rows;
    g->worker = worker;
    g->n_workers = n_workers;
    g->int_mode = int_mode;
    g->next = worker;
    *out = g;
    return PSR_OK;
}

int gensrc_next(gensrc_t *g, rd_row_t *row)
{
    if (g->next >= g->rows) return 0;
    int64_t i = g->next;
    g->next += g->n_workers;
    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(g->row_seed ^ (uint64_t)i));
    gen_row_t r;
    gen_draw(g->model, &rng, &r);
    gen_row_features(g->model, &r, g->int_mode, row);
    g->read++;
    return 1;
}

void gensrc_rewind(gensrc_t *g) { g->next = g->worker; }
int64_t gensrc_tell(const gensrc_t *g) { return g->next; }

int gensrc_seek(gensrc_t *g, int64_t next_row)
{
    PSR_RETURN_IF(next_row < 0 || next_row % g->n_workers != g->worker ||
                      next_row > g->rows + g->n_workers,
                  PSR_ERR_FORMAT, "generated-row position %lld is not in worker %d's share of %lld "
                  "rows over %d workers", (long long)next_row, g->worker, (long long)g->rows,
                  g->n_workers);
    g->next = next_row;
    return PSR_OK;
}

int64_t gensrc_rows_read(const gensrc_t *g) { return g->read; }

uint64_t gensrc_fingerprint(const gensrc_t *g)
{
    uint64_t h = psr_mix64(g->row_seed ^ 0x736f75726365ULL);
    h = psr_mix64(h ^ (uint64_t)g->truth ^ ((uint64_t)g->int_mode << 8));
    h = psr_mix64(h ^ (uint64_t)g->rows);
    return psr_mix64(h ^ ((uint64_t)g->worker << 32) ^ (uint64_t)g->n_workers);
}

void gensrc_close(gensrc_t *g)
{
    if (!g) return;
    gen_model_free(g->model);
    free(g);
}
