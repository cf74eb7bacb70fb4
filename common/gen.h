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

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

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

/* ---- Output helpers, shared with the user-item generator (genui.h) ----------------------
 * A data file is written under a hidden temporary name in its directory (".NAME.tmp"),
 * flushed, fsynced and renamed to NAME when complete; on error the temporary is removed.
 * All return PSR_OK or PSR_ERR_IO with the path in psr_err_msg(). */
typedef struct {
    FILE *f;
    gzFile gz;
    char *tmp;   /* temporary path, written first */
    char *final; /* renamed to this when complete */
} gen_sink_t;

/* dir + '/' + name, malloc'ed (the caller frees). */
char *gen_path_join(const char *dir, const char *name);
/* Create DIR (mkdir -p) and remove a stale DIR/optimum.txt, which a generator writes last so
 * that it never outlives a failed run next to newer data files. PSR_OK or PSR_ERR_IO. */
int gen_prepare_out(const char *dir);
/* Open dir/.name.tmp for writing (zlib level 6 when gzip). Call gen_sink_free afterwards
 * whatever the result. */
int gen_sink_open(gen_sink_t *s, const char *dir, const char *name, int gzip);
int gen_sink_write(gen_sink_t *s, const char *buf, size_t n);
/* Flush, fsync, close and rename to the final name. The sink is closed either way. */
int gen_sink_commit(gen_sink_t *s);
/* Close without committing (on error): the temporary file is removed. */
void gen_sink_abort(gen_sink_t *s);
void gen_sink_free(gen_sink_t *s); /* frees the paths */
/* Write a small text file atomically (tmp, fsync, rename). */
int gen_write_small(const char *dir, const char *name, const char *text);
/* fsync a directory, so the renames in it are durable (EINVAL/EROFS are not errors). */
int gen_fsync_dir(const char *dir);

#define GEN_BUF_BYTES (1u << 20)

/* A double-buffered writer thread over one sink: the caller fills buf[cur] (GEN_BUF_BYTES),
 * hands it over with gen_writer_submit (which flips cur and waits until that buffer is free)
 * and formats the next one while the thread writes. The caller reads buf[] and owns the
 * bytes of buf[cur] until it submits them; the other fields belong to gen.c. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    gen_sink_t *sink;
    char *buf[2];    /* (GEN_BUF_BYTES) each; the caller fills them in turn 0, 1, 0, ... */
    size_t len[2];   /* bytes in a full buffer */
    int full[2];     /* handed to the writer, not yet written */
    int done;        /* no more buffers will come */
    int rc;          /* first write error, PSR_OK so far */
    char msg[1024];  /* its message */
} gen_writer_t;

/* Start the thread over `sink` with bufs = 2 * GEN_BUF_BYTES of caller-owned scratch.
 * PSR_OK, or PSR_ERR_INTERNAL (no message recorded) when no thread could be started. */
int gen_writer_start(gen_writer_t *w, gen_sink_t *sink, char *bufs);
/* Hand buffer *cur (len bytes) to the writer and wait until the other one is free; returns
 * the writer's error status so far. */
int gen_writer_submit(gen_writer_t *w, int *cur, size_t len);
/* Wait for every submitted buffer, stop the thread; the first write error (its message
 * re-recorded on this thread) or PSR_OK. The sink is left open for commit or abort. */
int gen_writer_finish(gen_writer_t *w);

#endif
