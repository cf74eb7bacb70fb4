/* prep: text logs (criteo, csv, movielens, libsvm, libffm; plain or .gz) to block files
 * (common/block.h), one input file to one output file, in bounded memory (one line, one
 * parsed row and one block; no vocabulary). MPI-free: launch/cmd_prep.c shares the files
 * among ranks.
 *
 * Rules (user view in docs/DATA.md and docs/BLOCKS.md):
 *  P1. Lines: as the text reader (reader.h): a file whose name ends in .gz is read through
 *      zlib, a plain-named file holding gzip data is refused; lines end in "\n" or "\r\n";
 *      blank lines (empty or "\r") are not rows and are skipped silently; lines are numbered
 *      from 1 within the file; a line longer than PREP_MAX_LINE is malformed. With csv and
 *      movielens (and libsvm, libffm), the first data.header_lines lines (blank or not) are
 *      skipped.
 *  P2. Criteo rows are parsed by rd_parse_criteo, so they are exactly the text reader's rows.
 *  P3. csv / movielens rows: the line is split at every separator (data.separator; "::" for
 *      movielens; no quoting), and must have exactly one field per data.columns entry. Each
 *      feature column gets the next field index f (0, 1, ... in column order; label and
 *      ignore columns get none); dense columns also get the next dense slot.
 *        label       a decimal number (sign, digits, '.', exponent; finite): the row's label
 *        dense       empty, or a decimal number v: dense value ln(1 + max(v, 0)) (0 if empty);
 *                    feature by data.int_mode as a Criteo integer field: bucket mode key
 *                    psr_feature_key_int(f, b), b = -1 (v < 0), floor(v) (v <= 2),
 *                    floor(ln(v)^2) (v > 2), INT64_MIN + 1 (empty), value 1; dense mode key
 *                    psr_feature_key(f, "#dense") with the dense value
 *        cat, user, item   key psr_feature_key(f, token), value 1 (empty: the token "")
 *        time        an integer number of seconds t (optional sign, digits, int64): key
 *                    (uint64_t)t, value 1 (block.h BLK_FIELD_TIME; models never use it)
 *        multi       split at data.multi_separator; one feature psr_feature_key(f, token)
 *                    per non-empty token, in order (duplicates kept); none: the token ""
 *      A row is malformed when the field count is wrong (this reason wins), the label or a
 *      dense value is not a number, or it has more than BLK_MAX_ROW_FEATS features.
 *  P4. Malformed rows are skipped and counted; data.max_bad_rows applies to each input file
 *      (the file that exceeds it fails with "FILE:LINE: malformed row: REASON; N malformed
 *      rows exceed data.max_bad_rows=M"). The first RD_MAX_REPORTED_BAD of a process are
 *      printed as "psrec: warning: FILE:LINE: malformed row: REASON", then one line saying
 *      further ones are counted without being printed.
 *  P5. Output: one block file per input file, OUTDIR/BASE.psrb, BASE being the input's file
 *      name without a trailing ".gz"; written under a temporary name and renamed when
 *      complete (block.h B9).
 *  P6. libsvm / libffm rows (LIBSVM, LIBLINEAR, libFM, xLearn, libffm): tokens separated by
 *      runs of spaces and tabs (leading and trailing ones allowed). The first token is the
 *      label, a decimal number as in P3. Then, libsvm, "index:value" tokens; libffm,
 *      "field:index:value" tokens. An index is digits (decimal, 0 .. 2^63-1; leading zeros
 *      allowed), a field digits in [0, data.fields), a value a decimal number as in P3 that
 *      is finite as a float. A token starting with '#' ends the row (svmlight comments);
 *      a "qid:N" token (N an integer) right after the label is accepted and ignored: psrec
 *      trains pointwise. A row may have no features (only its bias then).
 *      Schema: libsvm, one MULTI field (0); libffm, data.fields MULTI fields; no dense values,
 *      no user, item or time. Feature: field f (libsvm 0; libffm the token's field), key
 *      psr_feature_key(f, I) with I the index written in canonical decimal (no leading zeros;
 *      so "7" in a csv multi column of field f is the same key, and block.h B2's fingerprint
 *      stays true), value the token's value (duplicates kept, as written). libsvm features
 *      keep the line's order; libffm features are put in field order (stable, so equal
 *      fields keep the line's order): the row contract's fields do not decrease.
 *      Label (t->click_labels, cfg_click_labels): for a bce loss -1 becomes 0 and a label
 *      outside {-1} U [0, 1] is malformed; for mse the label is kept as written.
 *      A row is malformed when a whitespace-only line has no label, the label, a field, an
 *      index or a value is not one of the above, a token lacks its ':' parts, or it has more
 *      than BLK_MAX_ROW_FEATS features. Reasons name the feature by its 1-based place on the
 *      line and quote the token. */
#ifndef PSR_PREP_H
#define PSR_PREP_H

#include <stdint.h>

#include "block.h"
#include "config.h"

#define PREP_MAX_LINE ((size_t)16 << 20) /* the text reader's limit too */

/* The text layout of a validated config, and the schema of the files prep writes from it. */
typedef struct prep_text {
    int format;   /* enum cfg_data_format */
    int int_mode; /* enum cfg_int_mode */
    char sep[3];  /* column separator ("\t", ",", "::", ...) */
    int sep_len;
    char msep;    /* multi separator */
    int header_lines;
    int fields;       /* libffm: data.fields; libsvm: 1 */
    int click_labels; /* libsvm / libffm: cfg_click_labels (P6) */
    int n_cols;                          /* csv/movielens: text columns */
    uint8_t col[CFG_MAX_COLUMNS];        /* enum cfg_column per column */
    int16_t col_field[CFG_MAX_COLUMNS];  /* feature field of each column, -1 for none */
    blk_schema_t schema;
} prep_text_t;

/* The text layout and schema of a config that passed cfg_validate. */
void prep_text_from_config(const cfg_t *c, prep_text_t *t);
/* Only the schema: what block files prepared with this config hold (for bks_opts_t.expect). */
void prep_schema_from_config(const cfg_t *c, blk_schema_t *s);

/* Scratch for one parsed csv/movielens/libsvm/libffm row (about 2 MB: allocate it once). */
typedef struct {
    int64_t time;                        /* the time column's value, RD_NO_TIME without one */
    const char *user_tok, *item_tok;     /* raw user / item tokens (into the parsed line) */
    int32_t user_len, item_len;          /* -1 without such a column */
    float dense[BLK_MAX_FIELDS];
    uint16_t field[BLK_MAX_ROW_FEATS];
    uint64_t key[BLK_MAX_ROW_FEATS];
    float val[BLK_MAX_ROW_FEATS];
    uint16_t s_field[BLK_MAX_ROW_FEATS]; /* libffm rows out of field order: sorted here */
    uint64_t s_key[BLK_MAX_ROW_FEATS];
    float s_val[BLK_MAX_ROW_FEATS];
} prep_row_buf_t;

/* Parse one csv/movielens/libsvm/libffm line (without '\n'; may end in '\r') into *row
 * (pointing into buf), P3 / P6. PSR_OK, or PSR_ERR_DATA with the reason in why (no file:line). */
int prep_parse_line(const prep_text_t *t, const char *line, size_t len, prep_row_buf_t *buf,
                    blk_row_t *row, char *why, size_t why_cap);

typedef struct {
    int64_t lines, rows, bad, blocks, feats;
    uint64_t bytes_in;   /* input file size */
    uint64_t text_bytes; /* uncompressed text read */
    uint64_t raw_bytes;  /* uncompressed block payload */
    uint64_t bytes_out;  /* output file size */
    double seconds;
} prep_stats_t;

typedef struct {
    int block_rows, level;    /* block.h limits */
    int64_t max_bad_rows;     /* per input file (P4) */
    int *reported;            /* malformed rows printed so far by this process (P4); NULL: own count */
    double progress_seconds;  /* call progress at most this often (0: never) */
    void (*progress)(void *ctx, const char *in, const prep_stats_t *so_far);
    void *ctx;
} prep_opts_t;

/* Convert text file `in` into block file `out` (P1-P5). *st gets the figures (also on error,
 * as far as it got). On error nothing is left under `out` or its temporary name. */
int prep_file(const prep_text_t *t, const char *in, const char *out, const prep_opts_t *o,
              prep_stats_t *st);

/* Check that block file `out` holds exactly the rows of text file `in`: Criteo through the
 * training text reader (rd_reader_t, so block rows equal training rows bit for bit), other
 * formats through prep_parse_line. *rows gets the rows compared. PSR_ERR_FORMAT naming the
 * first differing row. Malformed rows are skipped silently (prep_file reported them). */
int prep_verify(const prep_text_t *t, const char *in, const char *out, int64_t max_bad_rows,
                int64_t *rows);

/* OUTDIR/BASE.psrb for input path `in` (P5); malloc'd, the caller frees. */
char *prep_out_name(const char *out_dir, const char *in);

#endif
