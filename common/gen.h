/* gen: synthetic Criteo-format logs drawn from a planted model, so tests know the optimum.
 *
 * The planted model (docs/DATA.md): each categorical field f draws an id in [0, V_f) from a
 * Zipf law; each integer field draws a value from a per-field distribution (some values
 * missing). The true click probability is sigmoid of a function of the fields, the "truth":
 *  - GEN_TRUTH_FM: an FM-style function, bias + sum of per-(field, value) weights + sum over
 *    field pairs of factor dot products;
 *  - GEN_TRUTH_DEEP: that function scaled down (with integers entering through smooth curves
 *    of their dense value) plus products of two categorical fields and one integer field
 *    that no FM can express and DeepFM and DLRM can (gen.c rules 7 and 8).
 * Rows are a pure function of (seed, truth, row index stream); same arguments, same bytes.
 * The features of a row do not depend on the truth: only p and the label do. */
#ifndef PSR_GEN_H
#define PSR_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "hash.h"
#include "reader.h"

#define GEN_MISSING_CAT UINT32_MAX
#define GEN_MISSING_INT INT64_MIN

enum gen_truth { GEN_TRUTH_FM, GEN_TRUTH_DEEP, GEN_TRUTH_COUNT };

/* Name of a truth ("fm", "deep"), as the --truth flag spells it; "?" when out of range. */
const char *gen_truth_name(int truth);
/* The truth called `name`, or -1 when no truth has that name (case matters). */
int gen_truth_parse(const char *name);

typedef struct {
    float label;                   /* drawn from p */
    double p;                      /* true click probability */
    int64_t ints[RD_CRITEO_INT];   /* GEN_MISSING_INT when empty */
    uint32_t cats[RD_CRITEO_CAT];  /* id in field's vocabulary, GEN_MISSING_CAT when empty */
} gen_row_t;

typedef struct gen_model gen_model_t;

/* Build the planted model for `seed` and `truth` (enum gen_truth; all its tables come from
 * this seed). NULL on OOM or when truth is out of range. */
gen_model_t *gen_model_new(uint64_t seed, int truth);
void gen_model_free(gen_model_t *m); /* accepts NULL */

/* Draw one row using `rng` (advances it). */
void gen_draw(const gen_model_t *m, psr_rng_t *rng, gen_row_t *row);

/* The true logit of the features of `row` (its ints and cats; label and p are ignored):
 * row->p of a drawn row is sigmoid of it. For tests that probe the planted function. */
double gen_logit(const gen_model_t *m, const gen_row_t *row);

/* The features of a row exactly as the text reader would make them from its formatted line
 * (reader.h rule 2), without the text. */
void gen_row_features(const gen_model_t *m, const gen_row_t *row, int int_mode, rd_row_t *out);

/* Format a row as one Criteo TSV line with '\n' into buf; returns bytes written (< cap),
 * or 0 if cap is too small. Categorical ids become 8 lowercase hex digits. */
size_t gen_format_row(const gen_model_t *m, const gen_row_t *row, char *buf, size_t cap);

typedef struct {
    int64_t rows;       /* training rows */
    int64_t test_rows;  /* test rows */
    uint64_t seed;
    int gzip;           /* write .tsv.gz instead of .tsv */
    int truth;          /* enum gen_truth: GEN_TRUTH_FM or GEN_TRUTH_DEEP */
    const char *out_dir;/* created if missing */
} gen_opts_t;

/* Write out_dir/train.tsv[.gz], out_dir/test.tsv[.gz] and out_dir/optimum.txt
 * ("optimum: auc=A logloss=L\n", from the true probabilities of the test rows).
 * Files are written under temporary names and renamed when complete.
 * Returns PSR_OK (and *auc, *logloss) or an error with psr_err_msg() set. */
int gen_write(const gen_opts_t *o, double *auc, double *logloss);

#endif
