/* gen: synthetic Criteo-format logs drawn from a planted model, so tests know the optimum.
 *
 * The planted model (docs/DATA.md): each categorical field f draws an id in [0, V_f) from a
 * Zipf law; each integer field draws a value from a per-field distribution (some values
 * missing). The true click probability is sigmoid of an FM-style function of the fields:
 * bias + sum of per-(field, value) weights + sum over field pairs of factor dot products.
 * Rows are a pure function of (seed, row index stream); same arguments, same bytes. */
#ifndef PSR_GEN_H
#define PSR_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "hash.h"
#include "reader.h"

#define GEN_MISSING_CAT UINT32_MAX
#define GEN_MISSING_INT INT64_MIN

enum gen_truth { GEN_TRUTH_FM, GEN_TRUTH_COUNT };

typedef struct {
    float label;                   /* drawn from p */
    double p;                      /* true click probability */
    int64_t ints[RD_CRITEO_INT];   /* GEN_MISSING_INT when empty */
    uint32_t cats[RD_CRITEO_CAT];  /* id in field's vocabulary, GEN_MISSING_CAT when empty */
} gen_row_t;

typedef struct gen_model gen_model_t;

/* Build the planted model for `seed` (all its tables come from this seed). NULL on OOM. */
gen_model_t *gen_model_new(uint64_t seed, int truth);
void gen_model_free(gen_model_t *m); /* accepts NULL */

/* Draw one row using `rng` (advances it). */
void gen_draw(const gen_model_t *m, psr_rng_t *rng, gen_row_t *row);

/* Format a row as one Criteo TSV line with '\n' into buf; returns bytes written (< cap),
 * or 0 if cap is too small. Categorical ids become 8 lowercase hex digits. */
size_t gen_format_row(const gen_model_t *m, const gen_row_t *row, char *buf, size_t cap);

typedef struct {
    int64_t rows;       /* training rows */
    int64_t test_rows;  /* test rows */
    uint64_t seed;
    int gzip;           /* write .tsv.gz instead of .tsv */
    int truth;          /* enum gen_truth */
    const char *out_dir;/* created if missing */
} gen_opts_t;

/* Write out_dir/train.tsv[.gz], out_dir/test.tsv[.gz] and out_dir/optimum.txt
 * ("optimum: auc=A logloss=L\n", from the true probabilities of the test rows).
 * Files are written under temporary names and renamed when complete.
 * Returns PSR_OK (and *auc, *logloss) or an error with psr_err_msg() set. */
int gen_write(const gen_opts_t *o, double *auc, double *logloss);

#endif
