/* reader: streams one worker's share of Criteo-format text logs (plain or .gz) as rows of
 * hashed features, optionally shuffled within windows of rows (rule 7); also csv/movielens
 * text, block files and generated rows behind the same interface (rd_open_cfg).
 *
 * Rules (documented for users in docs/DATA.md):
 *  1. A Criteo row is 40 tab-separated fields: label (0 or 1), 13 integer fields, 26
 *     categorical fields. Any field but the label may be empty. "\r\n" endings are accepted.
 *  2. Every row yields exactly RD_CRITEO_FIELDS features, one per field, in field order:
 *     - categorical field f (13..38): key psr_feature_key(f, token) value 1; an empty field is
 *       the token "" (a learned "missing" feature of that field);
 *     - integer field f (0..12), int_mode bucket: key psr_feature_key_int(f, b) value 1, with
 *       b = v for v <= 2, floor(ln(v)^2) for v > 2, -1 for v < 0, INT64_MIN+1 if empty;
 *     - integer field f, int_mode dense: key psr_feature_key(f, "#dense") value
 *       ln(1 + max(v, 0)) (0 if empty).
 *     row.dense[f] always holds ln(1 + max(v, 0)) (0 if empty) for models with dense inputs.
 *  3. Malformed rows (wrong field count, label not 0/1, integer field not an integer in
 *     int64 range) are skipped, counted, and the first few are reported as
 *     "file:line: reason". When the count exceeds max_bad_rows, rd_next fails with
 *     PSR_ERR_DATA naming the file:line of the last one and the limit.
 *  4. Share: the path list is expanded (globs, sorted, duplicates removed). Plain files are
 *     split into n_workers contiguous byte ranges aligned to line starts (a line belongs to
 *     the range holding its first byte). A .gz file goes whole to one worker when there are at
 *     least n_workers .gz files (file i to worker i mod n_workers); otherwise each worker
 *     decompresses it and keeps the lines whose number mod n_workers equals its index.
 *     The share depends only on (expanded file list, worker, n_workers) and file contents.
 *  5. rd_rewind starts the same share again, yielding the same rows in the same order.
 *  6. rd_tell gives the position of the next row (a plain struct of int64 fields, saved in
 *     checkpoints); rd_seek to it on a reader opened with the same (files, worker,
 *     n_workers) yields exactly the rows that would have followed. A plain file resumes at
 *     the byte offset of the next line; a .gz file is decompressed again up to the saved
 *     offset of the uncompressed stream (gzip cannot seek).
 *  7. Shuffle window (rd_shuffle; data.shuffle_buffer N > 0 for the training reader of text or
 *     generated rows, never for a test reader). Pass p (0 at open, +1 per rd_rewind) is cut
 *     into windows of N consecutive rows of rule 5's sequence (the last may hold fewer);
 *     window k is copied out of the sequential reader and returned in the order of a
 *     Fisher-Yates shuffle drawn from psr_rng seeded by (seed, worker, p, k), so rows move at
 *     most N - 1 places and every pass has another order. Malformed rows are skipped (counted,
 *     reported, max_bad_rows checked) while a window is filled, up to N rows ahead of the
 *     rows returned. The position is the sequential reader's position at the window start
 *     (file, offset, line and row counters, pass) with blocks[] = {RD_POS_WINDOW, N, k, rows
 *     already returned from window k, 0, 0}; rd_seek re-reads window k from its start, draws
 *     the same permutation and skips the rows returned, so the same rows follow. A finished
 *     window is reported as window k + 1 with 0 rows returned, at the sequential position
 *     where it ends. With N = 0 nothing changes: blocks[] stays zero. */
#ifndef PSR_READER_H
#define PSR_READER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct blk_schema;    /* common/block.h */
struct prep_text;     /* common/prep.h */

#define RD_CRITEO_INT 13
#define RD_CRITEO_CAT 26
#define RD_CRITEO_FIELDS (RD_CRITEO_INT + RD_CRITEO_CAT)
#define RD_MAX_REPORTED_BAD 10 /* malformed rows printed individually per reader */
#define RD_TOKEN_SHOWN 40      /* bytes of an offending token quoted in a message */

/* The row contract: what every source yields and every model reads (a KeyedJaggedTensor of one
 * row). A row has a label (click or rating), the dense values its schema declares, and a
 * jagged list of features: feature j is (field[j], key[j], val[j]) with fields non-decreasing,
 * so a field holds 0..n keys (a Criteo row holds exactly one per field, in field order).
 * Which field is the user, the item and the time comes from the source's schema
 * (rd_schema_t); `time` repeats the time field's value (RD_NO_TIME without one), and
 * user_tok/item_tok the raw text of the user and item columns when the source is text
 * (len -1 otherwise). Pointers stay valid until the next call on the source that filled the
 * row; rd_parse_criteo points them at the row's own inline arrays. */
#define RD_NO_TIME INT64_MIN
typedef struct {
    float label;       /* 0/1 for clicks, the rating for explicit feedback */
    int32_t n_dense;   /* dense values */
    int32_t n_feat;    /* features */
    int64_t time;      /* the time column (integer seconds), RD_NO_TIME when none */
    float *dense;      /* (n_dense) */
    uint16_t *field;   /* (n_feat), non-decreasing */
    uint64_t *key;     /* (n_feat) feature keys */
    float *val;        /* (n_feat) feature values (weights) */
    const char *user_tok, *item_tok; /* raw ids (text sources) */
    int32_t user_len, item_len;      /* -1: unknown */
    /* inline storage for Criteo-shaped rows (rd_parse_criteo) */
    float i_dense[RD_CRITEO_INT];
    uint16_t i_field[RD_CRITEO_FIELDS];
    uint64_t i_key[RD_CRITEO_FIELDS];
    float i_val[RD_CRITEO_FIELDS];
} rd_row_t;

/* Equal label, dense values and features (bit for bit). */
int rd_row_equal(const rd_row_t *a, const rd_row_t *b);
/* Point a row's arrays at its inline storage with Criteo's shape (39 features, one per field,
 * 13 dense); what rd_parse_criteo does before filling it. */
void rd_row_criteo_shape(rd_row_t *row);

typedef struct rd_reader rd_reader_t;

/* Expand `paths` (globs allowed) into a sorted, de-duplicated list of existing files.
 * On success *files (array and strings, caller frees with rd_free_paths) and *n_files >= 1.
 * A pattern matching nothing is PSR_ERR_IO naming `what` (e.g. "data.train") and the pattern. */
int rd_expand_paths(const cfg_paths_t *paths, const char *what, char ***files, int *n_files);
void rd_free_paths(char **files, int n_files);

/* Open worker `worker` of `n_workers`'s share of `files` (copied; caller keeps ownership).
 * max_bad_rows: see rule 3. Returns PSR_OK and *out, or an error (nothing allocated). */
int rd_open(rd_reader_t **out, char *const *files, int n_files, int worker, int n_workers,
            int int_mode, int64_t max_bad_rows);

/* rd_open for csv / movielens text laid out by `text` (common/prep.h; Criteo when
 * text->format is criteo): rows as prep_parse_line makes them, the first text->header_lines
 * lines of every file skipped. */
int rd_open_text(rd_reader_t **out, char *const *files, int n_files, int worker, int n_workers,
                 const struct prep_text *text, int64_t max_bad_rows);

/* What the reader's rows hold: fields and their kinds (user, item, time ...). */
const struct blk_schema *rd_schema(const rd_reader_t *r);

/* What rd_open_cfg opens a reader for: the rows to train on (shuffled by
 * data.shuffle_buffer), data.test, or data.train read for evaluation (the held-out rows of a
 * random or leave-last-out split, the training pairs of top-K evaluation: never shuffled). */
enum rd_use { RD_USE_TRAIN, RD_USE_TEST, RD_USE_HELDOUT, RD_USE_COUNT };

/* The reader for `use` (enum rd_use) of config c, worker `worker` of n_workers: generated
 * rows when data.source is generate (test rows from data.gen_test_rows with their own seed);
 * block files when every path ends in .psrb (a prefetch thread, the schema of the config's
 * data.format/columns required); else text of data.format (criteo, csv, movielens, libsvm, libffm).
 * RD_USE_TRAIN applies data.shuffle_buffer with train.seed (blocks: docs/BLOCKS.md; text and
 * generated rows: rule 7). *out is NULL (and PSR_OK) when there is no test set. */
int rd_open_cfg(rd_reader_t **out, const cfg_t *c, int use, int worker, int n_workers);

/* Rule 7: return the rows of a text or generated-rows reader in shuffled windows of `rows`
 * rows (0: off), seeded by `seed` (train.seed). Allocates the window (about
 * 32 + 4 * dense + 14 * features + token bytes per row: reader.c) once, here; it grows only
 * when a row with more features or longer raw ids than any before arrives. Call before the
 * first rd_next. PSR_ERR_INTERNAL for a block reader (blocks shuffle in bks_open), for a
 * reader already read from, or rows outside [0, 2^30]. */
int rd_shuffle(rd_reader_t *r, int64_t rows, uint64_t seed);

/* Next row of the share into *row. Returns 1 for a row, 0 at the end of the share,
 * or a negative -PSR_ERR_* on error (message in psr_err_msg()). */
int rd_next(rd_reader_t *r, rd_row_t *row);

/* Start the share again from its first row (next epoch; with a shuffle window, the next
 * pass's permutation). PSR_OK or an error. */
int rd_rewind(rd_reader_t *r);

/* What a reader reads: Criteo text, .psrb blocks (common/blkstream.h), generated rows
 * (common/gensrc.h). rd_open reads text; rd_open_cfg picks by the config. */
enum rd_source { RD_SRC_TEXT, RD_SRC_BLOCKS, RD_SRC_GEN };

/* blocks[0] of a position inside a shuffled text or generated stream (rule 7): "rd_win". */
#define RD_POS_WINDOW INT64_C(0x6e69775f6472)

/* Rules 6 and 7. Every field is int64 so the struct has no padding and travels as bytes. */
typedef struct {
    int64_t kind;       /* enum rd_source of the reader it came from */
    int64_t file;       /* index into the expanded file list; n_files when the share is done */
    int64_t offset;     /* byte offset of the next line (plain: in the file; .gz: in the
                           uncompressed stream); -1: the file's share not started yet */
    int64_t line_idx;   /* lines of the file's share started before that offset */
    int64_t first_off;  /* plain: offset of the share's first line in the file, -1 unknown */
    int64_t long_line;  /* 1 when inside an over-long line being dropped */
    int64_t long_idx;   /* that line's index */
    int64_t pass;       /* rewinds done (generated rows: only with a shuffle window) */
    int64_t bad_pass;   /* malformed rows so far in this pass */
    int64_t rows, bad;  /* counters since open */
    int64_t blocks[6];  /* RD_SRC_BLOCKS: the block stream's bks_pos_t (48 bytes); text and
                           generated rows with a shuffle window (rule 7): {RD_POS_WINDOW,
                           window rows N, window index in the pass, rows returned from it,
                           0, 0}, the other fields then being those of the window start;
                           zero without. Generated rows use `offset` (the next row number) */
} rd_pos_t;
_Static_assert(sizeof(rd_pos_t) == 17 * 8, "rd_pos_t is docs/CHECKPOINTS.md rule W1");

void rd_tell(const rd_reader_t *r, rd_pos_t *pos);
/* Continue from `pos` (from rd_tell of a reader with the same files and share). A position
 * that does not fit the files (index, offset past the share) is PSR_ERR_FORMAT. */
int rd_seek(rd_reader_t *r, const rd_pos_t *pos);
/* Fingerprint of the share's layout: file paths, sizes and kinds, worker, n_workers, and,
 * with a shuffle window, its rows and seed; a saved position is only meaningful for a reader
 * with the same fingerprint. */
uint64_t rd_share_fingerprint(const rd_reader_t *r);

int64_t rd_rows_read(const rd_reader_t *r); /* good rows returned since open */
int64_t rd_bad_rows(const rd_reader_t *r);  /* malformed rows skipped since open (with a
                                               shuffle window: read into windows so far) */

/* Close and free; accepts NULL. */
void rd_close(rd_reader_t *r);

/* Quote up to RD_TOKEN_SHOWN bytes of s[0..n) into out for a message: printable ASCII as
 * is, other bytes as \xNN, "..." when cut. out needs RD_TOKEN_SHOWN * 4 + 8 bytes. */
void rd_quote_token(char *out, size_t cap, const char *s, size_t n);

/* The Criteo row builder, one field at a time (rule 2), shared by the text parser below and
 * the generator (common/gen.c), so generated rows are text rows without the text:
 * rd_criteo_begin shapes the row and sets its label; rd_criteo_int sets integer field f
 * (0..12) from its value v (empty: the field was empty); rd_criteo_cat sets categorical
 * field c (0..25) from its token. */
void rd_criteo_begin(rd_row_t *row, float label);
void rd_criteo_int(rd_row_t *row, int f, int empty, int64_t v, int int_mode);
void rd_criteo_cat(rd_row_t *row, int c, const char *tok, size_t len);

/* Parse one Criteo line (no trailing newline; may end in '\r') into *row.
 * Returns PSR_OK or PSR_ERR_DATA with a reason in `why` (without file:line). */
int rd_parse_criteo(const char *line, size_t len, int int_mode, rd_row_t *row, char *why,
                    size_t why_cap);

#endif
