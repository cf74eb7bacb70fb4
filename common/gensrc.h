/* gensrc: training rows generated on the fly from the planted model of `psrec gen`
 * (data.source: generate), so a worker trains without disk, for benchmarks up to 10^9 rows.
 *
 * Rules:
 *  G1. The planted model comes from `seed` (as `psrec gen --seed`). An epoch has `rows` rows,
 *      numbered i = 0 .. rows-1. Row i is drawn by gen_draw from an RNG seeded with
 *      mix(seed, stream, i) alone (stream 0: training rows, 1: test rows), so it does not depend on the worker count, on the
 *      order rows are drawn in, or on the epoch (every epoch repeats the same rows, like files).
 *  G2. Worker w of W owns the rows with i mod W == w.
 *  G3. A row becomes features exactly as `psrec gen` output read back by the text reader
 *      would, through the same field builders (gen_row_features: reader.h's rd_criteo_*),
 *      without formatting text.
 *  G4. The position is the next row number; it maps onto rd_pos_t (file = 0, offset = i). */
#ifndef PSR_GENSRC_H
#define PSR_GENSRC_H

#include <stdint.h>

#include "reader.h"

typedef struct gensrc gensrc_t;

/* truth: enum gen_truth; stream: 0 training rows, 1 test rows (same model, other rows).
 * PSR_OK, or PSR_ERR_NOMEM / PSR_ERR_INTERNAL (bad arguments). */
int gensrc_open(gensrc_t **out, uint64_t seed, int stream, int truth, int64_t rows, int worker,
                int n_workers, int int_mode);
/* 1 and a row, 0 at the end of the share. */
int gensrc_next(gensrc_t *g, rd_row_t *row);
void gensrc_rewind(gensrc_t *g);
int64_t gensrc_tell(const gensrc_t *g);          /* next row number */
int gensrc_seek(gensrc_t *g, int64_t next_row);  /* PSR_ERR_FORMAT if not in the share */
int64_t gensrc_rows_read(const gensrc_t *g);
uint64_t gensrc_fingerprint(const gensrc_t *g);  /* (seed, truth, rows, worker, W, int_mode) */
void gensrc_close(gensrc_t *g);                   /* accepts NULL */

#endif
