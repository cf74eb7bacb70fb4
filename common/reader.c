/* reader: one worker's share of Criteo-format text logs (rules in reader.h, user view in
 * docs/DATA.md).
 *
 * Implementation notes:
 *  - One buffer per reader (RD_BUF_BYTES, grown by doubling only for a line longer than it,
 *    up to RD_MAX_LINE); lines are found with memchr and fields parsed by hand in place.
 *    Nothing is allocated per row.
 *  - Plain files are read with read(2) from the worker's byte range; .gz files through the
 *    strict gzip reader of fsutil.h (psr_gz) with a RD_GZ_BUF_BYTES input buffer. A file is opened when the share reaches it.
 *  - Rule 4 details: a file is .gz by its name; "file i" of the whole-file assignment counts
 *    .gz files only, in list order. A range starting at byte b > 0 starts reading at b - 1
 *    and drops everything through the first '\n', so a line starting exactly at b is kept
 *    and a line in progress is left to the previous worker, which reads past its end.
 *  - Blank lines (empty, or only "\r") are not rows: skipped silently, never counted as bad,
 *    but they do count as lines (line numbers, .gz line striding).
 *  - Line numbers in messages are 1-based within the file. A plain share starting mid-file
 *    learns the number of its first line only when a malformed row needs it, by counting
 *    newlines from the file start once (cached per file, valid across rewinds).
 *  - max_bad_rows applies per pass over the share (rd_rewind starts a new count: the same
 *    bad rows come back each epoch); warnings are printed in the first pass only.
 *  - The shuffle window (rule 7) sits on top of the sequential reader (seq_*: rules 1-6)
 *    for text and generated rows; blocks shuffle in blkstream.c. It deep-copies each row
 *    (label, time, dense values, features, raw user/item ids) into arrays sized once for
 *    N rows: 32 bytes per row (time 8, label 4, feature and id offsets 4 + 4, id lengths
 *    4 + 4, permutation 4) + 4 per dense value + 14 per feature (key 8, value 4, field 2)
 *    + the id bytes. Rows point into those arrays until the next rd_next. A position names
 *    the window's start, not its rows, so nothing but a few integers is ever saved; the
 *    price is re-reading up to N rows when a job resumes. */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "blkstream.h"
#include "gensrc.h"
#include "prep.h"
#include "fsutil.h"
#include "hash.h"
#include "psr_error.h"

#define RD_BUF_BYTES ((size_t)1 << 20)    /* read chunk and initial line buffer */
#define RD_GZ_BUF_BYTES ((size_t)1 << 20) /* compressed-input buffer of a .gz file */
#define RD_MAX_LINE ((size_t)16 << 20)    /* longer lines are malformed rows, skipped */
#define RD_SMALL_INT 4096                 /* integers in [0, RD_SMALL_INT) use tables */

/* ------------------------------------------------------------------------------------ */
/* Row parsing                                                                          */

/* Naive twins of the tables and of the large-value path below (rule 2). */
static float ln1p_of(int64_t v) { return v > 0 ? (float)log1p((double)v) : 0.0f; }
static int64_t bucket_of(int64_t v)
{
    if (v < 0) return -1;
    if (v <= 2) return v;
    double l = log((double)v);
    return (int64_t)floor(l * l);
}

/* Tables for the common case, filled once from the naive twins and psr_feature_key*(), so
 * they give bit-identical results. Hashing dominates the parse time; the bucket-key table
 * saves a third of the hash calls of a typical row in bucket mode. */
#define RD_SMALL_BUCKETS 72 /* buckets -1..70 >= bucket_of(RD_SMALL_INT - 1) = 69, plus one */
static float ln1p_tab[RD_SMALL_INT];
static int8_t bucket_tab[RD_SMALL_INT];
static uint64_t bucket_key[RD_CRITEO_INT][RD_SMALL_BUCKETS]; /* [f][b + 1] */
static uint64_t empty_key[RD_CRITEO_INT];                    /* bucket INT64_MIN + 1 */
static uint64_t dense_key[RD_CRITEO_INT];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_init(void)
{
    for (int64_t v = 0; v < RD_SMALL_INT; v++) {
        ln1p_tab[v] = ln1p_of(v);
        bucket_tab[v] = (int8_t)bucket_of(v);
    }
    if (bucket_of(RD_SMALL_INT - 1) + 2 > RD_SMALL_BUCKETS)
        psr_die(1, "reader: RD_SMALL_BUCKETS too small for RD_SMALL_INT (a bug)");
    for (int f = 0; f < RD_CRITEO_INT; f++) {
        for (int b = -1; b < RD_SMALL_BUCKETS - 1; b++)
            bucket_key[f][b + 1] = psr_feature_key_int(f, b);
        empty_key[f] = psr_feature_key_int(f, INT64_MIN + 1);
        dense_key[f] = psr_feature_key(f, "#dense", 6);
    }
}

enum { INT_OK, INT_EMPTY, INT_BAD, INT_RANGE };

/* Parse an optional sign and decimal digits ending at a tab or `e`. Advances *pp to the end
 * of what was consumed. INT_EMPTY leaves *pp unchanged. */
static inline int parse_int(const char **pp, const char *e, int64_t *out)
{
    const char *p = *pp;
    if (p == e || *p == '\t') return INT_EMPTY;
    unsigned neg = 0;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    const char *d0 = p;
    uint64_t acc = 0;
    int range = 0;
    const uint64_t lim10 = 922337203685477580ULL; /* (2^63 - 1) / 10 */
    while (p < e) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9) break;
        if (acc >= lim10 && (acc > lim10 || d > 7u + neg))
            range = 1; /* keep consuming digits; acc no longer matters */
        else
            acc = acc * 10 + d;
        p++;
    }
    *pp = p;
    if (p == d0 || (p < e && *p != '\t')) return INT_BAD;
    if (range) return INT_RANGE;
    if (!neg) *out = (int64_t)acc;
    else *out = acc == (1ULL << 63) ? INT64_MIN : -(int64_t)acc;
    return INT_OK;
}

void rd_quote_token(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    size_t shown = n < RD_TOKEN_SHOWN ? n : RD_TOKEN_SHOWN;
    for (size_t i = 0; i < shown && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, cap - o, "\\x%02x", c);
            o += 4;
        }
    }
    if (shown < n && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

enum { BAD_COUNT, BAD_LABEL, BAD_INT, BAD_RANGE };

/* Build the reason for a malformed row. A wrong field count wins over any other reason.
 * `f` is the 0-based integer field, `tok` the start of the offending field. */
static int bad_row(const char *line, const char *e, int kind, int f, const char *tok, char *why,
                   size_t why_cap)
{
    size_t n_fields = 1;
    for (const char *q = line; (q = memchr(q, '\t', (size_t)(e - q))) != NULL; q++) n_fields++;
    if (n_fields != RD_CRITEO_FIELDS + 1) kind = BAD_COUNT;

    char shown[RD_TOKEN_SHOWN * 4 + 8];
    if (kind != BAD_COUNT) {
        const char *t = memchr(tok, '\t', (size_t)(e - tok));
        rd_quote_token(shown, sizeof shown, tok, (size_t)((t ? t : e) - tok));
    }
    switch (kind) {
    case BAD_COUNT:
        snprintf(why, why_cap, "expected %d tab-separated fields, found %zu",
                 RD_CRITEO_FIELDS + 1, n_fields);
        break;
    case BAD_LABEL:
        snprintf(why, why_cap, "label must be 0 or 1, found '%s'", shown);
        break;
    case BAD_INT:
        snprintf(why, why_cap, "integer field %d (column %d): '%s' is not an integer", f + 1,
                 f + 2, shown);
        break;
    default:
        snprintf(why, why_cap, "integer field %d (column %d): '%s' is out of the int64 range",
                 f + 1, f + 2, shown);
        break;
    }
    return PSR_ERR_DATA;
}

void rd_row_criteo_shape(rd_row_t *row)
{
    row->dense = row->i_dense;
    row->field = row->i_field;
    row->key = row->i_key;
    row->val = row->i_val;
    for (int f = 0; f < RD_CRITEO_FIELDS; f++) row->i_field[f] = (uint16_t)f;
    row->n_dense = RD_CRITEO_INT;
    row->n_feat = RD_CRITEO_FIELDS;
    row->time = RD_NO_TIME;
    row->user_tok = row->item_tok = NULL;
    row->user_len = row->item_len = -1;
}

int rd_row_equal(const rd_row_t *a, const rd_row_t *b)
{
    size_t nf = (size_t)a->n_feat;
    return a->n_dense == b->n_dense && a->n_feat == b->n_feat && a->time == b->time &&
           !memcmp(&a->label, &b->label, sizeof a->label) &&
           !memcmp(a->dense, b->dense, (size_t)a->n_dense * sizeof *a->dense) &&
           !memcmp(a->field, b->field, nf * sizeof *a->field) &&
           !memcmp(a->key, b->key, nf * sizeof *a->key) &&
           !memcmp(a->val, b->val, nf * sizeof *a->val);
}

void rd_criteo_begin(rd_row_t *row, float label)
{
    pthread_once(&tab_once, tab_init);
    rd_row_criteo_shape(row);
    row->label = label;
}

void rd_criteo_int(rd_row_t *row, int f, int empty, int64_t v, int int_mode)
{
    float lg;
    uint64_t key;
    if (empty) {
        lg = 0.0f;
        key = empty_key[f];
    } else if (v >= 0 && v < RD_SMALL_INT) {
        lg = ln1p_tab[v];
        key = bucket_key[f][bucket_tab[v] + 1];
    } else if (v < 0) {
        lg = 0.0f;
        key = bucket_key[f][0];
    } else { /* v >= RD_SMALL_INT: one log for both; ln(1+v) = ln(v) + x - x^2/2 + O(x^3),
              * x = 1/v <= 2^-12, so the series is exact far below float precision */
        double l = log((double)v), x = 1.0 / (double)v;
        lg = (float)(l + x - 0.5 * x * x);
        key = int_mode == CFG_INT_DENSE ? 0 : psr_feature_key_int(f, (int64_t)floor(l * l));
    }
    row->dense[f] = lg;
    if (int_mode == CFG_INT_DENSE) {
        row->key[f] = dense_key[f];
        row->val[f] = lg;
    } else {
        row->key[f] = key;
        row->val[f] = 1.0f;
    }
}

void rd_criteo_cat(rd_row_t *row, int c, const char *tok, size_t len)
{
    const int f = RD_CRITEO_INT + c;
    row->key[f] = psr_feature_key(f, tok, len);
    row->val[f] = 1.0f;
}

int rd_parse_criteo(const char *line, size_t len, int int_mode, rd_row_t *row, char *why,
                    size_t why_cap)
{
    const char *e = line + len;
    if (len && e[-1] == '\r') e--;
    if (e - line < 2 || (line[0] != '0' && line[0] != '1') || line[1] != '\t')
        return bad_row(line, e, BAD_LABEL, 0, line, why, why_cap);
    rd_criteo_begin(row, (float)(line[0] - '0'));
    const char *p = line + 2;

    for (int f = 0; f < RD_CRITEO_INT; f++) {
        const char *fs = p;
        int64_t v = 0;
        int st = parse_int(&p, e, &v);
        if (st >= INT_BAD)
            return bad_row(line, e, st == INT_BAD ? BAD_INT : BAD_RANGE, f, fs, why, why_cap);
        if (p == e) return bad_row(line, e, BAD_COUNT, f, fs, why, why_cap);
        p++; /* the tab */
        rd_criteo_int(row, f, st == INT_EMPTY, v, int_mode);
    }
    for (int c = 0; c < RD_CRITEO_CAT; c++) {
        const char *t = memchr(p, '\t', (size_t)(e - p));
        if (c < RD_CRITEO_CAT - 1) {
            if (!t) return bad_row(line, e, BAD_COUNT, 0, p, why, why_cap);
        } else {
            if (t) return bad_row(line, e, BAD_COUNT, 0, p, why, why_cap);
            t = e;
        }
        rd_criteo_cat(row, c, p, (size_t)(t - p));
        p = t + 1;
    }
    return PSR_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Path expansion                                                                       */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b); /* bytewise: compares unsigned chars */
}

static void push_path(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = psr_xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = psr_xstrdup(s);
}

void rd_free_paths(char **files, int n_files)
{
    if (!files) return;
    for (int i = 0; i < n_files; i++) free(files[i]);
    free(files);
}

int rd_expand_paths(const cfg_paths_t *paths, const char *what, char ***files, int *n_files)
{
    *files = NULL;
    *n_files = 0;
    PSR_RETURN_IF(paths->n <= 0, PSR_ERR_CONFIG, "%s: no input files given", what);
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = PSR_OK;
    for (int i = 0; i < paths->n && rc == PSR_OK; i++) {
        const char *pat = paths->path[i];
        if (!strpbrk(pat, "*?[")) { /* a plain path: stat gives the precise reason */
            struct stat st;
            if (stat(pat, &st) != 0)
                rc = PSR_ERR(PSR_ERR_IO, "%s: '%s': %s", what, pat,
                             errno == ENOENT ? "no such file" : strerror(errno));
            else if (S_ISDIR(st.st_mode))
                rc = PSR_ERR(PSR_ERR_IO, "%s: '%s': is a directory, expected a file (use a "
                             "glob such as '%s/*.tsv')", what, pat, pat);
            else
                push_path(&v, &n, &cap, pat);
            continue;
        }
        glob_t g;
        int grc = glob(pat, GLOB_MARK, NULL, &g);
        size_t kept = 0;
        if (grc == 0) {
            for (size_t j = 0; j < g.gl_pathc; j++) {
                size_t l = strlen(g.gl_pathv[j]);
                if (l && g.gl_pathv[j][l - 1] == '/') continue; /* a directory (GLOB_MARK) */
                push_path(&v, &n, &cap, g.gl_pathv[j]);
                kept++;
            }
        }
        if (grc == 0 || grc == GLOB_NOMATCH) globfree(&g);
        if (grc == GLOB_NOSPACE) psr_die(1, "out of memory expanding %s pattern '%s'", what, pat);
        if (grc == GLOB_ABORTED)
            rc = PSR_ERR(PSR_ERR_IO, "%s: '%s': read error while expanding the pattern", what,
                         pat);
        else if (kept == 0)
            rc = PSR_ERR(PSR_ERR_IO, "%s: '%s': the pattern matches no file", what, pat);
    }
    if (rc == PSR_OK && n > INT_MAX)
        rc = PSR_ERR(PSR_ERR_CONFIG, "%s: %zu files, at most %d allowed", what, n, INT_MAX);
    if (rc != PSR_OK) {
        rd_free_paths(v, (int)n);
        return rc;
    }
    qsort(v, n, sizeof *v, cmp_str);
    size_t m = 0;
    for (size_t j = 0; j < n; j++) {
        if (m > 0 && strcmp(v[m - 1], v[j]) == 0) {
            free(v[j]);
            continue;
        }
        v[m++] = v[j];
    }
    *files = v;
    *n_files = (int)m;
    return PSR_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Reader                                                                               */

enum rd_kind {
    RD_SKIP,      /* nothing of this file is in the share */
    RD_PLAIN,     /* byte range [begin, end) */
    RD_GZ_WHOLE,  /* whole .gz file */
    RD_GZ_STRIDE, /* lines with number % n_workers == worker */
};

typedef struct {
    char *path;
    int kind;            /* enum rd_kind */
    int64_t begin, end;  /* RD_PLAIN: this worker's byte range */
    int64_t first_off;   /* offset of the share's first line; -1 until known */
    int64_t first_no;    /* 0-based line number of that line; -1 until counted */
    int64_t size;        /* bytes at open (the share fingerprint) */
    int64_t hdr_end;     /* plain: offset after the header lines; -1 until needed */
} rd_file_t;

struct rd_reader {
    int src;            /* enum rd_source */
    blk_schema_t schema;/* what the rows hold */
    prep_text_t *text;  /* csv / movielens text: the column layout; NULL for Criteo text */
    prep_row_buf_t *pbuf; /* csv / movielens: one parsed row */
    int time_field;     /* blocks: the schema's time field, or -1 */
    bks_t *bks;         /* RD_SRC_BLOCKS */
    gensrc_t *gen;      /* RD_SRC_GEN */
    rd_file_t *files;
    int n_files;
    int worker, n_workers, int_mode;
    int64_t max_bad;

    int cur;            /* file being read; n_files when the share is done */
    int is_open;
    int fd;             /* RD_PLAIN */
    psr_gz_t *gz;       /* RD_GZ_* */
    int eof;            /* the open file has no more bytes */
    int skip_partial;   /* RD_PLAIN mid-file start: drop bytes through the first '\n' */
    int long_line;      /* inside a line longer than RD_MAX_LINE, dropping bytes */
    int64_t long_idx;   /* that line's index */
    int64_t buf_off;    /* file offset of buf[0] (RD_PLAIN) */
    int64_t line_idx;   /* lines started in this file since the share's first line */

    char *buf;          /* (cap) bytes; data in [pos, len) */
    size_t cap, pos, len;

    int64_t rows, bad;  /* since open */
    int64_t bad_pass;   /* malformed rows in the current pass */
    int64_t pass;       /* rewinds done (generated rows: counted for the shuffle seed) */
    int err;            /* sticky error code, 0 if none */

    /* Shuffle window (rule 7): rows [0, w_n) of window w_index copied out of the sequential
     * reader, returned in w_perm order; w_next of them returned. Per-row arrays (w_label ..
     * w_perm, w_dense) are carved from w_slab, sized for sh_n rows at rd_shuffle; features
     * (w_key, w_val, w_field carved from w_fslab) for sh_n * w_feat_row and raw ids (w_tok)
     * for sh_n * w_tok_row, both grown only when a row needs more than any before. */
    int64_t sh_n;       /* rows per window, 0 = off */
    uint64_t sh_seed;   /* train.seed */
    int w_loaded;       /* rows [0, w_n) hold window w_index; else the sequential reader is
                           at the start of window w_index */
    int64_t w_index, w_n, w_next;
    rd_pos_t w_start;   /* sequential position at the window start */
    int64_t w_rows0;    /* sequential rows read at the window start */
    int32_t w_dense_n;  /* dense values per row (the schema's) */
    int64_t w_feat_row, w_tok_row; /* capacity per row: features, raw-id bytes */
    void *w_slab, *w_fslab;
    int64_t *w_time;    /* (sh_n) */
    float *w_label;     /* (sh_n) */
    uint32_t *w_foff;   /* (sh_n + 1) first feature of each row */
    uint32_t *w_toff;   /* (sh_n) first raw-id byte: user then item */
    int32_t *w_ulen, *w_ilen; /* (sh_n) raw-id lengths, -1: none */
    uint32_t *w_perm;   /* (sh_n) */
    float *w_dense;     /* (sh_n, w_dense_n) */
    uint64_t *w_key;    /* (sh_n * w_feat_row) */
    float *w_val;       /* (sh_n * w_feat_row) */
    uint16_t *w_field;  /* (sh_n * w_feat_row) */
    char *w_tok;        /* (sh_n * w_tok_row) */
};

static int has_gz_suffix(const char *p)
{
    size_t l = strlen(p);
    return l >= 3 && memcmp(p + l - 3, ".gz", 3) == 0;
}

/* floor(w * size / n) without overflow: size = q*n + r. */
static int64_t share_off(int64_t size, int w, int n)
{
    int64_t q = size / n, r = size % n;
    return q * w + (r * w) / n;
}

static int open_text(rd_reader_t **out, char *const *files, int n_files, int worker,
                     int n_workers, int int_mode, const prep_text_t *text, int64_t max_bad_rows);

int rd_open(rd_reader_t **out, char *const *files, int n_files, int worker, int n_workers,
            int int_mode, int64_t max_bad_rows)
{
    return open_text(out, files, n_files, worker, n_workers, int_mode, NULL, max_bad_rows);
}

int rd_open_text(rd_reader_t **out, char *const *files, int n_files, int worker, int n_workers,
                 const prep_text_t *text, int64_t max_bad_rows)
{
    return open_text(out, files, n_files, worker, n_workers, text->int_mode,
                     text->format == CFG_FORMAT_CRITEO ? NULL : text, max_bad_rows);
}

static int open_text(rd_reader_t **out, char *const *files, int n_files, int worker,
                     int n_workers, int int_mode, const prep_text_t *text, int64_t max_bad_rows)
{
    *out = NULL;
    PSR_RETURN_IF(n_files < 1 || !files, PSR_ERR_INTERNAL, "rd_open: no files");
    PSR_RETURN_IF(n_workers < 1 || worker < 0 || worker >= n_workers, PSR_ERR_INTERNAL,
                  "rd_open: worker %d of %d", worker, n_workers);
    PSR_RETURN_IF(int_mode < 0 || int_mode >= CFG_INT_MODE_COUNT, PSR_ERR_INTERNAL,
                  "rd_open: int_mode %d", int_mode);
    PSR_RETURN_IF(max_bad_rows < 0, PSR_ERR_INTERNAL, "rd_open: max_bad_rows %lld",
                  (long long)max_bad_rows);

    int n_gz = 0;
    for (int i = 0; i < n_files; i++) n_gz += has_gz_suffix(files[i]);
    rd_file_t *fs = psr_xcalloc((size_t)n_files, sizeof *fs);
    int gz_i = 0, rc = PSR_OK;
    for (int i = 0; i < n_files; i++) {
        rd_file_t *f = &fs[i];
        f->path = psr_xstrdup(files[i]);
        f->first_off = f->first_no = -1;
        f->hdr_end = -1;
        struct stat st;
        if (rc == PSR_OK && stat(f->path, &st) != 0)
            rc = PSR_ERR(PSR_ERR_IO, "%s: %s", f->path,
                         errno == ENOENT ? "no such file" : strerror(errno));
        if (rc != PSR_OK) continue;
        f->size = (int64_t)st.st_size;
        if (has_gz_suffix(f->path)) {
            if (n_gz >= n_workers)
                f->kind = gz_i % n_workers == worker ? RD_GZ_WHOLE : RD_SKIP;
            else
                f->kind = RD_GZ_STRIDE;
            gz_i++;
            f->first_off = f->first_no = 0;
        } else {
            int64_t size = (int64_t)st.st_size;
            f->begin = share_off(size, worker, n_workers);
            f->end = share_off(size, worker + 1, n_workers);
            f->kind = f->begin < f->end ? RD_PLAIN : RD_SKIP;
            if (f->begin == 0) f->first_off = f->first_no = 0;
        }
    }
    rd_reader_t *r = psr_xcalloc(1, sizeof *r);
    r->files = fs;
    r->n_files = n_files;
    r->fd = -1;
    if (rc != PSR_OK) {
        rd_close(r);
        return rc;
    }
    r->worker = worker;
    r->n_workers = n_workers;
    r->int_mode = int_mode;
    r->max_bad = max_bad_rows;
    if (text) {
        r->text = psr_xmalloc(sizeof *r->text);
        *r->text = *text;
        r->pbuf = psr_xmalloc(sizeof *r->pbuf);
        r->schema = text->schema;
    } else {
        blk_schema_criteo(&r->schema, int_mode);
    }
    r->time_field = -1;
    r->cap = RD_BUF_BYTES;
    r->buf = psr_xmalloc(r->cap);
    *out = r;
    return PSR_OK;
}

static void close_cur(rd_reader_t *r)
{
    if (r->fd >= 0) close(r->fd);
    psr_gz_close(r->gz);
    r->fd = -1;
    r->gz = NULL;
    r->is_open = 0;
}

static int open_cur(rd_reader_t *r)
{
    rd_file_t *f = &r->files[r->cur];
    r->pos = r->len = 0;
    r->eof = 0;
    r->long_line = 0;
    r->line_idx = 0;
    r->skip_partial = 0;
    r->buf_off = 0;
    if (f->kind == RD_PLAIN) {
        r->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        PSR_RETURN_IF(r->fd < 0, PSR_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
        r->is_open = 1;
        unsigned char magic[2];
        ssize_t m = pread(r->fd, magic, 2, 0);
        PSR_RETURN_IF(m < 0, PSR_ERR_IO, "%s: read error: %s", f->path, strerror(errno));
        PSR_RETURN_IF(m == 2 && magic[0] == 0x1f && magic[1] == 0x8b, PSR_ERR_FORMAT,
                      "%s: gzip-compressed data in a file whose name does not end in .gz; "
                      "rename it to end in .gz", f->path);
        int64_t start = f->begin > 0 ? f->begin - 1 : 0;
        PSR_RETURN_IF(lseek(r->fd, (off_t)start, SEEK_SET) < 0, PSR_ERR_IO,
                      "%s: seek to byte %lld failed: %s", f->path, (long long)start,
                      strerror(errno));
        (void)posix_fadvise(r->fd, (off_t)start, (off_t)(f->end - start), POSIX_FADV_SEQUENTIAL);
        r->buf_off = start;
        r->skip_partial = f->begin > 0;
    } else {
        PSR_FORWARD(psr_gz_open(f->path, RD_GZ_BUF_BYTES, &r->gz));
        r->is_open = 1;
    }
    return PSR_OK;
}

/* Read more bytes after [pos, len), compacting first. Sets r->eof at the end of the file. */
static int fill(rd_reader_t *r)
{
    const rd_file_t *f = &r->files[r->cur];
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->buf_off += (int64_t)r->pos;
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len == r->cap) { /* one line fills the buffer: grow (callers handle the limit) */
        r->cap *= 2;
        r->buf = psr_xrealloc(r->buf, r->cap);
    }
    const int plain = f->kind == RD_PLAIN;
    size_t got;
    PSR_FORWARD(psr_read_some(plain ? r->fd : -1, plain ? NULL : r->gz, f->path,
                              r->buf + r->len, r->cap - r->len, &got));
    if (got == 0) r->eof = 1;
    r->len += got;
    return PSR_OK;
}

/* Next line of the open file's share. Returns 1 with the line (without '\n') in
 * [*line, *line + *len) and its index since the share's first line in *idx, *too_long set
 * for a line over RD_MAX_LINE (content dropped); 0 at the end of the file's share; or an
 * error code as a negative number. */
static int next_line(rd_reader_t *r, const char **line, size_t *len, int64_t *idx,
                     int *too_long)
{
    rd_file_t *f = &r->files[r->cur];
    for (;;) {
        char *p = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        if (r->skip_partial || r->long_line) {
            char *nl = memchr(p, '\n', avail);
            if (!nl && !r->eof) {
                r->pos = r->len; /* drop, keep looking */
                int rc = fill(r);
                if (rc) return -rc;
                continue;
            }
            r->pos = nl ? (size_t)(nl - r->buf) + 1 : r->len;
            if (r->skip_partial) {
                r->skip_partial = 0;
                if (!nl) return 0; /* the file ended inside the previous share's line */
                f->first_off = r->buf_off + (int64_t)r->pos;
                continue;
            }
            r->long_line = 0;
            if (f->kind == RD_GZ_STRIDE && r->long_idx % r->n_workers != r->worker) continue;
            *line = NULL;
            *len = 0;
            *idx = r->long_idx;
            *too_long = 1;
            return 1;
        }
        if (f->kind == RD_PLAIN && r->buf_off + (int64_t)r->pos >= f->end) return 0;
        char *nl = memchr(p, '\n', avail);
        if (nl || (r->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - p) : avail;
            r->pos += nl ? n + 1 : n;
            int64_t i = r->line_idx++;
            if (f->kind == RD_GZ_STRIDE && i % r->n_workers != r->worker) continue;
            *line = p;
            *len = n;
            *idx = i;
            *too_long = 0;
            return 1;
        }
        if (r->eof) return 0;
        if (avail >= RD_MAX_LINE) { /* no newline in RD_MAX_LINE bytes */
            r->long_line = 1;
            r->long_idx = r->line_idx++;
            r->pos = r->len;
        }
        int rc = fill(r);
        if (rc) return -rc;
    }
}

/* 0-based line number within the file of the line with index `idx` of the share. */
static int line_number(rd_reader_t *r, int64_t idx, int64_t *out)
{
    rd_file_t *f = &r->files[r->cur];
    if (f->first_no < 0) { /* plain share starting mid-file: count newlines before it once */
        size_t cap = RD_BUF_BYTES;
        char *tmp = psr_xmalloc(cap);
        int64_t off = 0, nl = 0;
        int rc = PSR_OK;
        while (off < f->first_off) {
            size_t want = (size_t)(f->first_off - off) < cap ? (size_t)(f->first_off - off) : cap;
            ssize_t n = pread(r->fd, tmp, want, (off_t)off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                rc = PSR_ERR(PSR_ERR_IO, "%s: read error while counting lines: %s", f->path,
                             n < 0 ? strerror(errno) : "file shrank");
                break;
            }
            for (const char *q = tmp, *e = tmp + n; (q = memchr(q, '\n', (size_t)(e - q))); q++)
                nl++;
            off += n;
        }
        free(tmp);
        if (rc) return rc;
        f->first_no = nl;
    }
    *out = f->first_no + idx;
    return PSR_OK;
}

/* The line at `line` (index idx of the share) is one of the file's first text->header_lines
 * lines. gz files and shares from the file's start know line numbers (idx); a plain share
 * starting mid-file compares the line's offset with where the header ends, read once. */
static int is_header(rd_reader_t *r, const char *line, int64_t idx, int *out)
{
    rd_file_t *f = &r->files[r->cur];
    const int64_t H = r->text->header_lines;
    if (f->kind != RD_PLAIN || f->begin == 0 || !line) {
        *out = idx < H;
        return PSR_OK;
    }
    if (f->hdr_end < 0) {
        char tmp[65536];
        int64_t off = 0, seen = 0, end = -1;
        while (end < 0) {
            ssize_t n = pread(r->fd, tmp, sizeof tmp, (off_t)off);
            if (n < 0 && errno == EINTR) continue;
            PSR_RETURN_IF(n < 0, PSR_ERR_IO, "%s: read error: %s", f->path, strerror(errno));
            if (n == 0) {
                end = off; /* the whole file is header */
                break;
            }
            for (ssize_t i = 0; i < n; i++)
                if (tmp[i] == '\n' && ++seen == H) {
                    end = off + i + 1;
                    break;
                }
            off += n;
        }
        f->hdr_end = end;
    }
    *out = r->buf_off + (int64_t)(line - r->buf) < f->hdr_end;
    return PSR_OK;
}

/* A csv / movielens line into *row (pointing into r->pbuf). */
static int parse_text(rd_reader_t *r, const char *line, size_t len, rd_row_t *row, char *why,
                      size_t why_cap)
{
    blk_row_t br;
    int rc = prep_parse_line(r->text, line, len, r->pbuf, &br, why, why_cap);
    if (rc != PSR_OK) return rc;
    row->label = br.label;
    row->n_dense = r->schema.n_dense;
    row->dense = r->pbuf->dense;
    row->n_feat = br.n_feat;
    row->field = r->pbuf->field;
    row->key = r->pbuf->key;
    row->val = r->pbuf->val;
    row->time = r->pbuf->time;
    row->user_tok = r->pbuf->user_tok;
    row->user_len = r->pbuf->user_len;
    row->item_tok = r->pbuf->item_tok;
    row->item_len = r->pbuf->item_len;
    return PSR_OK;
}

/* A block row of any schema into *row (pointing into the block). */
static int next_block_row(rd_reader_t *r, rd_row_t *row)
{
    blk_row_t br;
    int rc = bks_next_row(r->bks, &br);
    if (rc != 1) return rc;
    row->label = br.label;
    row->n_dense = r->schema.n_dense;
    row->dense = (float *)br.dense;
    row->n_feat = br.n_feat;
    row->field = (uint16_t *)br.field;
    row->key = (uint64_t *)br.key;
    row->val = (float *)br.val;
    row->time = RD_NO_TIME;
    if (r->time_field >= 0)
        for (int32_t j = 0; j < br.n_feat; j++)
            if (br.field[j] == r->time_field) {
                row->time = (int64_t)br.key[j];
                break;
            }
    row->user_tok = row->item_tok = NULL;
    row->user_len = row->item_len = -1;
    return 1;
}

/* rd_next without the shuffle window: rules 1-6. */
static int seq_next(rd_reader_t *r, rd_row_t *row)
{
    if (r->src == RD_SRC_BLOCKS) return next_block_row(r, row);
    if (r->src == RD_SRC_GEN) return gensrc_next(r->gen, row);
    if (r->err) return -r->err;
    char why[256];
    for (;;) {
        if (r->cur >= r->n_files) return 0;
        rd_file_t *f = &r->files[r->cur];
        if (f->kind == RD_SKIP) {
            r->cur++;
            continue;
        }
        int rc;
        if (!r->is_open && (rc = open_cur(r)) != PSR_OK) {
            close_cur(r);
            r->err = rc;
            return -rc;
        }
        const char *line = NULL;
        size_t len = 0;
        int64_t idx = 0;
        int too_long = 0;
        rc = next_line(r, &line, &len, &idx, &too_long);
        if (rc < 0) {
            r->err = -rc;
            return rc;
        }
        if (rc == 0) {
            close_cur(r);
            r->cur++;
            continue;
        }
        if (r->text && r->text->header_lines > 0) {
            int hdr = 0;
            if ((rc = is_header(r, line, idx, &hdr)) != PSR_OK) {
                r->err = rc;
                return -rc;
            }
            if (hdr) continue;
        }
        if (too_long) {
            snprintf(why, sizeof why, "line longer than %zu bytes", RD_MAX_LINE);
        } else {
            if (len == 0 || (len == 1 && line[0] == '\r')) continue; /* blank: not a row */
            rc = r->text ? parse_text(r, line, len, row, why, sizeof why)
                         : rd_parse_criteo(line, len, r->int_mode, row, why, sizeof why);
            if (rc == PSR_OK) {
                r->rows++;
                return 1;
            }
        }
        r->bad++;
        r->bad_pass++;
        int fail = r->bad_pass > r->max_bad;
        int report = r->pass == 0 && r->bad_pass <= RD_MAX_REPORTED_BAD + 1;
        if (!fail && !report) continue;
        int64_t no;
        if ((rc = line_number(r, idx, &no)) != PSR_OK) {
            r->err = rc;
            return -rc;
        }
        if (fail) {
            r->err = PSR_ERR_DATA;
            return -PSR_ERR(PSR_ERR_DATA,
                            "%s:%lld: malformed row: %s; %lld malformed rows exceed "
                            "data.max_bad_rows=%lld",
                            f->path, (long long)no + 1, why, (long long)r->bad_pass,
                            (long long)r->max_bad);
        }
        if (r->bad_pass <= RD_MAX_REPORTED_BAD)
            fprintf(stderr, "psrec: warning: %s:%lld: malformed row: %s\n", f->path,
                    (long long)no + 1, why);
        else
            fprintf(stderr,
                    "psrec: warning: %s:%lld: more malformed rows; counting them without "
                    "printing (data.max_bad_rows=%lld)\n",
                    f->path, (long long)no + 1, (long long)r->max_bad);
    }
}

static int seq_rewind(rd_reader_t *r)
{
    if (r->src == RD_SRC_BLOCKS) return bks_rewind(r->bks);
    if (r->src == RD_SRC_GEN) {
        gensrc_rewind(r->gen);
        r->pass++;
        return PSR_OK;
    }
    close_cur(r);
    r->cur = 0;
    r->pos = r->len = 0;
    r->bad_pass = 0;
    r->pass++;
    r->err = 0;
    return PSR_OK;
}

static void seq_tell(const rd_reader_t *r, rd_pos_t *p)
{
    memset(p, 0, sizeof *p);
    p->kind = r->src;
    if (r->src == RD_SRC_BLOCKS) {
        _Static_assert(sizeof(bks_pos_t) <= sizeof p->blocks, "rd_pos_t.blocks holds bks_pos_t");
        bks_pos_t b;
        bks_tell(r->bks, &b);
        memcpy(p->blocks, &b, sizeof b);
        p->rows = bks_rows_read(r->bks);
        return;
    }
    if (r->src == RD_SRC_GEN) {
        p->offset = gensrc_tell(r->gen);
        p->rows = gensrc_rows_read(r->gen);
        if (r->sh_n > 0) p->pass = r->pass; /* without a window: zero, as always */
        return;
    }
    p->file = r->cur;
    p->offset = -1;
    p->first_off = -1;
    p->pass = r->pass;
    p->bad_pass = r->bad_pass;
    p->rows = r->rows;
    p->bad = r->bad;
    if (r->cur >= r->n_files) return;
    p->first_off = r->files[r->cur].first_off;
    if (!r->is_open || r->skip_partial) return; /* the file's share has not started */
    p->offset = r->buf_off + (int64_t)r->pos;
    p->line_idx = r->line_idx;
    p->long_line = r->long_line;
    p->long_idx = r->long_idx;
}

/* rd_seek without the shuffle window (rd_seek checked the source kind). */
static int seq_seek(rd_reader_t *r, const rd_pos_t *p)
{
    if (r->src == RD_SRC_BLOCKS) {
        bks_pos_t b;
        memcpy(&b, p->blocks, sizeof b);
        return bks_seek(r->bks, &b);
    }
    if (r->src == RD_SRC_GEN) {
        PSR_RETURN_IF(p->pass < 0, PSR_ERR_FORMAT, "reader position: pass %lld",
                      (long long)p->pass);
        PSR_FORWARD(gensrc_seek(r->gen, p->offset));
        if (r->sh_n > 0) r->pass = p->pass;
        return PSR_OK;
    }
    PSR_RETURN_IF(p->file < 0 || p->file > r->n_files || p->pass < 0 || p->bad_pass < 0 ||
                      p->rows < 0 || p->bad < 0 || p->line_idx < 0 || p->long_idx < 0 ||
                      p->offset < -1,
                  PSR_ERR_FORMAT,
                  "reader position (file %lld, offset %lld) does not fit a share of %d file%s",
                  (long long)p->file, (long long)p->offset, r->n_files,
                  r->n_files == 1 ? "" : "s");
    close_cur(r);
    r->err = 0;
    r->cur = (int)p->file;
    r->pos = r->len = 0;
    r->pass = p->pass;
    r->bad_pass = p->bad_pass;
    r->rows = p->rows;
    r->bad = p->bad;
    if (r->cur == r->n_files || p->offset < 0) return PSR_OK; /* opened when reached */
    rd_file_t *f = &r->files[r->cur];
    PSR_RETURN_IF(f->kind == RD_SKIP || (f->kind == RD_PLAIN &&
                                         (p->offset < f->begin || p->offset > f->size)),
                  PSR_ERR_FORMAT,
                  "%s: reader position %lld is outside this worker's share of the file",
                  f->path, (long long)p->offset);
    int rc = open_cur(r);
    if (rc == PSR_OK && f->kind == RD_PLAIN) {
        if (lseek(r->fd, (off_t)p->offset, SEEK_SET) < 0)
            rc = PSR_ERR(PSR_ERR_IO, "%s: seek to byte %lld failed: %s", f->path,
                         (long long)p->offset, strerror(errno));
    } else if (rc == PSR_OK) {
        int64_t at;
        rc = psr_gz_skip(r->gz, p->offset, &at);
        if (rc == PSR_OK && at != p->offset)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: cannot reach uncompressed offset %lld (the file "
                         "is shorter than when the position was saved)", f->path,
                         (long long)p->offset);
    }
    if (rc != PSR_OK) {
        close_cur(r);
        return rc;
    }
    r->buf_off = p->offset;
    r->skip_partial = 0;
    r->line_idx = p->line_idx;
    r->long_line = (int)p->long_line;
    r->long_idx = p->long_idx;
    if (p->first_off >= 0) f->first_off = p->first_off;
    return PSR_OK;
}

static uint64_t seq_fingerprint(const rd_reader_t *r)
{
    if (r->src == RD_SRC_BLOCKS) {
        bks_pos_t b;
        bks_tell(r->bks, &b);
        return b.share_fp;
    }
    if (r->src == RD_SRC_GEN) return gensrc_fingerprint(r->gen);
    uint64_t h = psr_mix64(((uint64_t)r->worker << 32) ^ (uint64_t)r->n_workers);
    for (int i = 0; i < r->n_files; i++) {
        const rd_file_t *f = &r->files[i];
        h = psr_mix64(h ^ psr_feature_key(i, f->path, strlen(f->path)));
        h = psr_mix64(h ^ (uint64_t)f->size ^ ((uint64_t)f->kind << 56));
        h = psr_mix64(h ^ (uint64_t)f->begin ^ ((uint64_t)f->end << 1));
    }
    return h;
}

static int64_t seq_rows(const rd_reader_t *r)
{
    if (r->src == RD_SRC_BLOCKS) return bks_rows_read(r->bks);
    if (r->src == RD_SRC_GEN) return gensrc_rows_read(r->gen);
    return r->rows;
}
int64_t rd_bad_rows(const rd_reader_t *r) { return r->src == RD_SRC_TEXT ? r->bad : 0; }

/* ------------------------------------------------------------------------------------ */
/* Shuffle window (rule 7)                                                              */

/* The window's seed: one 64-bit value from (seed, worker, pass, window), mixed in turn. */
static uint64_t win_seed(uint64_t seed, int worker, int64_t pass, int64_t window)
{
    uint64_t h = psr_mix64(seed ^ 0x7264736875666cULL); /* "rdshufl" */
    h = psr_mix64(h ^ (uint64_t)worker);
    h = psr_mix64(h ^ (uint64_t)pass);
    return psr_mix64(h ^ (uint64_t)window);
}

/* Room for sh_n rows of `feats` features and `toks` raw-id bytes each, keeping the first
 * nf features and the raw ids held. Capacities grow by at least a quarter, so a run of
 * slightly larger rows costs a few reallocations, not one per row. */
static void win_reserve(rd_reader_t *r, int64_t feats, int64_t toks, uint64_t nf)
{
    const size_t N = (size_t)r->sh_n;
    if (feats > r->w_feat_row) {
        int64_t per = r->w_feat_row + r->w_feat_row / 4;
        if (per < feats) per = feats;
        const size_t cap = N * (size_t)per;
        char *slab = psr_xmalloc(cap * (sizeof(uint64_t) + sizeof(float) + sizeof(uint16_t)));
        uint64_t *key = (uint64_t *)slab;
        float *val = (float *)(key + cap);
        uint16_t *field = (uint16_t *)(val + cap);
        if (nf) {
            memcpy(key, r->w_key, nf * sizeof *key);
            memcpy(val, r->w_val, nf * sizeof *val);
            memcpy(field, r->w_field, nf * sizeof *field);
        }
        free(r->w_fslab);
        r->w_fslab = slab;
        r->w_key = key;
        r->w_val = val;
        r->w_field = field;
        r->w_feat_row = per;
    }
    if (toks > r->w_tok_row) {
        int64_t per = r->w_tok_row + r->w_tok_row / 4;
        if (per < toks) per = toks;
        r->w_tok = psr_xrealloc(r->w_tok, N * (size_t)per); /* keeps the bytes held */
        r->w_tok_row = per;
    }
}

int rd_shuffle(rd_reader_t *r, int64_t rows, uint64_t seed)
{
    PSR_RETURN_IF(r->src == RD_SRC_BLOCKS, PSR_ERR_INTERNAL,
                  "rd_shuffle: block readers shuffle in bks_open");
    PSR_RETURN_IF(rows < 0 || rows > ((int64_t)1 << 30), PSR_ERR_INTERNAL,
                  "rd_shuffle: %lld rows", (long long)rows);
    PSR_RETURN_IF(r->sh_n > 0 || r->pass > 0 || seq_rows(r) > 0 || r->bad > 0 || r->is_open ||
                      r->cur > 0 || (r->src == RD_SRC_GEN && gensrc_tell(r->gen) != r->worker),
                  PSR_ERR_INTERNAL, "rd_shuffle: the reader was already used");
    if (rows == 0) return PSR_OK;
    r->sh_n = rows;
    r->sh_seed = seed;
    const size_t N = (size_t)rows, D = (size_t)r->schema.n_dense;
    r->w_dense_n = (int32_t)D;
    /* per-row arrays, widest first so every one stays aligned */
    const size_t bytes = N * sizeof(int64_t) + N * sizeof(float) + (N + 1) * sizeof(uint32_t) +
                         N * sizeof(uint32_t) + 2 * N * sizeof(int32_t) +
                         N * sizeof(uint32_t) + N * D * sizeof(float);
    char *p = psr_xmalloc(bytes);
    r->w_slab = p;
    r->w_time = (int64_t *)p;
    r->w_label = (float *)(r->w_time + N);
    r->w_foff = (uint32_t *)(r->w_label + N);
    r->w_toff = r->w_foff + N + 1;
    r->w_ulen = (int32_t *)(r->w_toff + N);
    r->w_ilen = r->w_ulen + N;
    r->w_perm = (uint32_t *)(r->w_ilen + N);
    r->w_dense = (float *)(r->w_perm + N);
    /* features and raw ids: what the schema suggests (one feature per field; raw ids for
     * text with a user or item column), grown if rows hold more */
    const int ids = r->src == RD_SRC_TEXT && r->text &&
                    (r->schema.user_field >= 0 || r->schema.item_field >= 0);
    win_reserve(r, r->schema.n_fields > 0 ? r->schema.n_fields : 1, ids ? 16 : 0, 0);
    r->w_index = 0;
    r->w_loaded = 0;
    return PSR_OK;
}

/* Fill window r->w_index from the sequential reader and draw its permutation. PSR_OK (w_n 0
 * at the end of the pass) or an error code, sticky in r->err (the sequential reader has
 * moved past the window start) until rd_rewind or rd_seek. */
static int win_fill_rows(rd_reader_t *r);
static int win_fill(rd_reader_t *r)
{
    int rc = win_fill_rows(r);
    if (rc != PSR_OK) r->err = rc;
    return rc;
}

static int win_fill_rows(rd_reader_t *r)
{
    seq_tell(r, &r->w_start);
    r->w_rows0 = seq_rows(r);
    r->w_loaded = 0;
    r->w_n = r->w_next = 0;
    const int64_t N = r->sh_n, D = r->w_dense_n;
    uint64_t nf = 0, nt = 0;
    int64_t n = 0;
    rd_row_t row;
    while (n < N) {
        int rc = seq_next(r, &row);
        if (rc < 0) return -rc;
        if (rc == 0) break;
        PSR_RETURN_IF(row.n_dense != D, PSR_ERR_INTERNAL,
                      "reader: a row with %d dense values, the schema has %lld", row.n_dense,
                      (long long)D);
        const int32_t ul = row.user_tok ? row.user_len : -1;
        const int32_t il = row.item_tok ? row.item_len : -1;
        const int64_t toks = (ul > 0 ? ul : 0) + (il > 0 ? il : 0);
        PSR_RETURN_IF(nf + (uint64_t)row.n_feat > UINT32_MAX || nt + (uint64_t)toks > UINT32_MAX,
                      PSR_ERR_CONFIG, "data.shuffle_buffer=%lld: a window of %lld rows holds "
                      "more than 2^32 features or raw-id bytes; lower data.shuffle_buffer",
                      (long long)N, (long long)n + 1);
        if (row.n_feat > r->w_feat_row || toks > r->w_tok_row)
            win_reserve(r, row.n_feat, toks, nf);
        r->w_time[n] = row.time;
        r->w_label[n] = row.label;
        if (D) memcpy(r->w_dense + n * D, row.dense, (size_t)D * sizeof *row.dense);
        r->w_foff[n] = (uint32_t)nf;
        memcpy(r->w_key + nf, row.key, (size_t)row.n_feat * sizeof *row.key);
        memcpy(r->w_val + nf, row.val, (size_t)row.n_feat * sizeof *row.val);
        memcpy(r->w_field + nf, row.field, (size_t)row.n_feat * sizeof *row.field);
        nf += (uint64_t)row.n_feat;
        r->w_toff[n] = (uint32_t)nt;
        r->w_ulen[n] = ul;
        r->w_ilen[n] = il;
        if (ul > 0) memcpy(r->w_tok + nt, row.user_tok, (size_t)ul);
        if (il > 0) memcpy(r->w_tok + nt + (ul > 0 ? ul : 0), row.item_tok, (size_t)il);
        nt += (uint64_t)toks;
        n++;
    }
    r->w_foff[n] = (uint32_t)nf;
    psr_rng_t g;
    psr_rng_seed(&g, win_seed(r->sh_seed, r->worker, r->pass, r->w_index));
    for (int64_t i = 0; i < n; i++) r->w_perm[i] = (uint32_t)i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)psr_rng_below(&g, (uint64_t)i + 1);
        uint32_t t = r->w_perm[i];
        r->w_perm[i] = r->w_perm[j];
        r->w_perm[j] = t;
    }
    r->w_n = n;
    r->w_loaded = 1;
    return PSR_OK;
}

static int win_next(rd_reader_t *r, rd_row_t *row)
{
    if (r->err) return -r->err;
    for (;;) {
        if (!r->w_loaded) {
            int rc = win_fill(r);
            if (rc != PSR_OK) return -rc;
        }
        if (r->w_next < r->w_n) break;
        if (r->w_n < r->sh_n) return 0; /* a short window ends the pass */
        r->w_index++;
        r->w_loaded = 0;
    }
    const uint32_t i = r->w_perm[r->w_next++];
    const uint32_t f0 = r->w_foff[i];
    row->label = r->w_label[i];
    row->time = r->w_time[i];
    row->n_dense = r->w_dense_n;
    row->dense = r->w_dense + (size_t)i * (size_t)r->w_dense_n;
    row->n_feat = (int32_t)(r->w_foff[i + 1] - f0);
    row->field = r->w_field + f0;
    row->key = r->w_key + f0;
    row->val = r->w_val + f0;
    const int32_t ul = r->w_ulen[i], il = r->w_ilen[i];
    const char *t = r->w_tok + r->w_toff[i];
    row->user_len = ul;
    row->user_tok = ul >= 0 ? t : NULL;
    row->item_len = il;
    row->item_tok = il >= 0 ? t + (ul > 0 ? ul : 0) : NULL;
    return 1;
}

/* rd_seek of a shuffled reader: the window start, then window k again, then skip. */
static int win_seek(rd_reader_t *r, const rd_pos_t *p)
{
    const int64_t tag = p->blocks[0], n = tag == RD_POS_WINDOW ? p->blocks[1] : 0;
    PSR_RETURN_IF(n != r->sh_n, PSR_ERR_FORMAT,
                  "reader position saved with data.shuffle_buffer=%lld, but this reader has "
                  "data.shuffle_buffer=%lld", (long long)n, (long long)r->sh_n);
    if (r->sh_n == 0) {
        for (int i = 0; i < 6; i++)
            PSR_RETURN_IF(p->blocks[i] != 0, PSR_ERR_FORMAT,
                          "reader position: unexpected window data for %s",
                          r->src == RD_SRC_GEN ? "generated rows" : "text");
        return seq_seek(r, p);
    }
    const int64_t k = p->blocks[2], done = p->blocks[3];
    PSR_RETURN_IF(k < 0 || done < 0 || done > n || p->blocks[4] || p->blocks[5],
                  PSR_ERR_FORMAT, "reader position: window %lld, %lld rows returned from it "
                  "(data.shuffle_buffer=%lld)", (long long)k, (long long)done, (long long)n);
    rd_pos_t q = *p;
    memset(q.blocks, 0, sizeof q.blocks);
    r->w_loaded = 0;
    int rc = seq_seek(r, &q);
    if (rc != PSR_OK) return rc;
    r->err = 0;
    r->w_index = k;
    rc = win_fill(r);
    if (rc != PSR_OK) return rc;
    PSR_RETURN_IF(done > r->w_n, PSR_ERR_FORMAT,
                  "reader position: %lld rows returned from shuffle window %lld, which holds "
                  "only %lld rows (the data changed since the position was saved)",
                  (long long)done, (long long)k, (long long)r->w_n);
    r->w_next = done;
    r->w_start = q; /* what was saved: a resumed job's rd_tell gives the same bytes */
    return PSR_OK;
}

/* ------------------------------------------------------------------------------------ */
/* The reader: the sequential reader, or the shuffle window on top of it                 */

int rd_next(rd_reader_t *r, rd_row_t *row)
{
    return r->sh_n > 0 ? win_next(r, row) : seq_next(r, row);
}

int rd_rewind(rd_reader_t *r)
{
    PSR_FORWARD(seq_rewind(r));
    r->err = 0;
    r->w_index = 0;
    r->w_loaded = 0;
    r->w_n = r->w_next = 0;
    return PSR_OK;
}

void rd_tell(const rd_reader_t *r, rd_pos_t *p)
{
    if (r->sh_n == 0) {
        seq_tell(r, p);
        return;
    }
    int64_t k = r->w_index, done = 0;
    if (r->w_loaded && (r->w_next < r->w_n || r->w_n == 0)) {
        *p = r->w_start; /* inside window k, or at the end of the pass */
        done = r->w_next;
    } else { /* at the start of a window: of w_index, or of the next one once this is done */
        seq_tell(r, p);
        if (r->w_loaded) k++;
    }
    p->blocks[0] = RD_POS_WINDOW;
    p->blocks[1] = r->sh_n;
    p->blocks[2] = k;
    p->blocks[3] = done;
}

int rd_seek(rd_reader_t *r, const rd_pos_t *p)
{
    static const char *const src_names[] = {"text", "block files", "generated rows"};
    PSR_RETURN_IF(p->kind != r->src, PSR_ERR_FORMAT,
                  "reader position saved for %s, but this reader reads %s",
                  p->kind >= 0 && p->kind <= RD_SRC_GEN ? src_names[p->kind] : "an unknown source",
                  src_names[r->src]);
    if (r->src == RD_SRC_BLOCKS) return seq_seek(r, p);
    return win_seek(r, p);
}

uint64_t rd_share_fingerprint(const rd_reader_t *r)
{
    uint64_t h = seq_fingerprint(r);
    if (r->sh_n > 0) /* without a window: the fingerprint of old checkpoints */
        h = psr_mix64(h ^ psr_mix64((uint64_t)r->sh_n ^ ((uint64_t)RD_POS_WINDOW << 16)) ^
                      r->sh_seed);
    return h;
}

int64_t rd_rows_read(const rd_reader_t *r)
{
    if (r->sh_n > 0 && r->w_loaded) return r->w_rows0 + r->w_next;
    return seq_rows(r);
}

void rd_close(rd_reader_t *r)
{
    if (!r) return;
    bks_close(r->bks);
    gensrc_close(r->gen);
    close_cur(r);
    for (int i = 0; i < r->n_files; i++) free(r->files[i].path);
    free(r->files);
    free(r->buf);
    free(r->text);
    free(r->pbuf);
    free(r->w_slab);
    free(r->w_fslab);
    free(r->w_tok);
    free(r);
}

const blk_schema_t *rd_schema(const rd_reader_t *r) { return &r->schema; }

/* ------------------------------------------------------------------------------------ */
/* Choosing the source by the config                                                     */

static int has_suffix(const char *p, const char *suf)
{
    size_t l = strlen(p), n = strlen(suf);
    return l >= n && memcmp(p + l - n, suf, n) == 0;
}

int rd_open_cfg(rd_reader_t **out, const cfg_t *c, int use, int worker, int n_workers)
{
    *out = NULL;
    PSR_RETURN_IF(use < 0 || use >= RD_USE_COUNT, PSR_ERR_INTERNAL, "rd_open_cfg: use %d", use);
    const int test = use == RD_USE_TEST;
    const int shuffle = use == RD_USE_TRAIN ? c->data.shuffle_buffer : 0;
    const char *what = test ? "data.test" : "data.train";
    if (c->data.source == CFG_SOURCE_GENERATE && (!test || c->data.gen_test_rows > 0)) {
        /* the test rows come from the same model and their own row stream */
        gensrc_t *g;
        PSR_FORWARD(gensrc_open(&g, c->data.gen_seed, test, c->data.gen_truth,
                                test ? c->data.gen_test_rows : c->data.gen_rows, worker,
                                n_workers, c->data.int_mode));
        rd_reader_t *r = psr_xcalloc(1, sizeof *r);
        r->src = RD_SRC_GEN;
        r->gen = g;
        r->fd = -1;
        r->worker = worker;
        r->n_workers = n_workers;
        blk_schema_criteo(&r->schema, c->data.int_mode);
        int rc = rd_shuffle(r, shuffle, c->train.seed);
        if (rc != PSR_OK) {
            rd_close(r);
            return rc;
        }
        *out = r;
        return PSR_OK;
    }
    const cfg_paths_t *paths = test ? &c->data.test : &c->data.train;
    if (paths->n == 0 && test) return PSR_OK;
    char **files = NULL;
    int n = 0;
    PSR_FORWARD(rd_expand_paths(paths, what, &files, &n));
    int n_blk = 0, rc = PSR_OK;
    for (int i = 0; i < n; i++) n_blk += has_suffix(files[i], ".psrb");
    if (n_blk > 0 && n_blk < n) {
        rc = PSR_ERR(PSR_ERR_CONFIG, "%s mixes .psrb block files and text files (%d of %d are "
                     "blocks, e.g. '%s'); list one kind", what, n_blk, n, files[0]);
    } else if (n_blk == n) {
        blk_schema_t want;
        prep_schema_from_config(c, &want);
        bks_opts_t o = bks_opts_default();
        o.worker = worker;
        o.n_workers = n_workers;
        o.shuffle_buffer = shuffle;
        o.seed = c->train.seed;
        o.expect = &want;
        bks_t *b = NULL;
        rc = bks_open(&b, files, n, &o);
        if (rc == PSR_OK) {
            rd_reader_t *r = psr_xcalloc(1, sizeof *r);
            r->src = RD_SRC_BLOCKS;
            r->bks = b;
            r->fd = -1;
            r->schema = *bks_schema(b);
            r->time_field = blk_schema_time_field(&r->schema);
            *out = r;
        }
    } else {
        prep_text_t *t = psr_xmalloc(sizeof *t);
        prep_text_from_config(c, t);
        rc = rd_open_text(out, files, n, worker, n_workers, t, c->data.max_bad_rows);
        free(t);
        if (rc == PSR_OK && (rc = rd_shuffle(*out, shuffle, c->train.seed)) != PSR_OK) {
            rd_close(*out);
            *out = NULL;
        }
    }
    rd_free_paths(files, n);
    return rc;
}
