/* prep: see prep.h for the rules (P1-P5).
 *
 * Implementation notes:
 *  - One line buffer per file (1 MiB, doubled only for longer lines, up to PREP_MAX_LINE);
 *    lines are found with memchr and parsed in place. Nothing is allocated per row.
 *  - The dense-value rule of P3 is written so that an integer column gives bit-identical
 *    keys and values to a Criteo integer field (reader.c: log1p below 4096, the two-term
 *    series of ln(1 + 1/v) above it). */
#include "prep.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "blkstream.h"
#include "fsutil.h"
#include "hash.h"
#include "log.h"
#include "psr_error.h"
#include "reader.h"

#define PREP_BUF_BYTES ((size_t)1 << 20)

/* ---- schema from the config ------------------------------------------------------------- */

static const char *const sep_text[] = {"\t", ",", ";", "|", " ", "::"};
static const char *const sep_desc[] = {"tabs", "','", "';'", "'|'", "' '", "'::'"};
static const char msep_char[] = {'|', ',', ';', ' ', ':'};
_Static_assert(sizeof sep_text / sizeof sep_text[0] == CFG_SEP_COUNT, "sep_text");
_Static_assert(sizeof sep_desc / sizeof sep_desc[0] == CFG_SEP_COUNT, "sep_desc");
_Static_assert(sizeof msep_char == CFG_MSEP_COUNT, "msep_char");

static const unsigned char movielens_columns[] = {CFG_COL_USER, CFG_COL_ITEM, CFG_COL_LABEL,
                                                  CFG_COL_TIME};

void prep_text_from_config(const cfg_t *c, prep_text_t *t)
{
    memset(t, 0, sizeof *t);
    t->format = c->data.format;
    t->int_mode = c->data.int_mode;
    int sep = c->data.format == CFG_FORMAT_MOVIELENS ? CFG_SEP_DOUBLE_COLON
              : c->data.format == CFG_FORMAT_CRITEO  ? CFG_SEP_TAB
                                                     : c->data.separator;
    t->sep_len = (int)strlen(sep_text[sep]);
    memcpy(t->sep, sep_text[sep], (size_t)t->sep_len);
    t->msep = msep_char[c->data.multi_separator];
    t->header_lines = c->data.format == CFG_FORMAT_CRITEO ? 0 : c->data.header_lines;
    if (c->data.format == CFG_FORMAT_CRITEO) {
        blk_schema_criteo(&t->schema, c->data.int_mode);
        return;
    }
    if (c->data.format == CFG_FORMAT_LIBSVM || c->data.format == CFG_FORMAT_LIBFFM) {
        /* P6: one multi field (libsvm) or data.fields of them (libffm), no columns */
        blk_schema_t *s = &t->schema;
        t->fields = c->data.format == CFG_FORMAT_LIBSVM ? 1 : c->data.fields;
        t->click_labels = cfg_click_labels(c);
        s->format = c->data.format;
        s->int_mode = c->data.int_mode;
        s->user_field = s->item_field = -1;
        s->n_fields = t->fields;
        for (int f = 0; f < t->fields; f++) s->kind[f] = BLK_FIELD_MULTI;
        return;
    }
    if (c->data.columns.n > 0) {
        t->n_cols = c->data.columns.n;
        memcpy(t->col, c->data.columns.v, (size_t)t->n_cols);
    } else { /* movielens ratings.dat: UserID::MovieID::Rating::Timestamp */
        t->n_cols = (int)sizeof movielens_columns;
        memcpy(t->col, movielens_columns, sizeof movielens_columns);
    }
    blk_schema_t *s = &t->schema;
    s->format = c->data.format;
    s->int_mode = c->data.int_mode;
    s->user_field = s->item_field = -1;
    for (int j = 0; j < t->n_cols; j++) {
        int kind;
        switch (t->col[j]) {
        case CFG_COL_DENSE: kind = BLK_FIELD_DENSE; break;
        case CFG_COL_CAT: kind = BLK_FIELD_CAT; break;
        case CFG_COL_MULTI: kind = BLK_FIELD_MULTI; break;
        case CFG_COL_USER: kind = BLK_FIELD_USER; break;
        case CFG_COL_ITEM: kind = BLK_FIELD_ITEM; break;
        case CFG_COL_TIME: kind = BLK_FIELD_TIME; break;
        default: kind = -1; break; /* label, ignore */
        }
        t->col_field[j] = (int16_t)(kind < 0 ? -1 : s->n_fields);
        if (kind < 0) continue;
        int f = s->n_fields++;
        s->kind[f] = (uint8_t)kind;
        s->column[f] = (uint16_t)(j + 1);
        if (kind == BLK_FIELD_DENSE) s->n_dense++;
        if (kind == BLK_FIELD_USER) s->user_field = f;
        if (kind == BLK_FIELD_ITEM) s->item_field = f;
    }
}

void prep_schema_from_config(const cfg_t *c, blk_schema_t *s)
{
    prep_text_t *t = psr_xmalloc(sizeof *t);
    prep_text_from_config(c, t);
    *s = t->schema;
    free(t);
}

char *prep_out_name(const char *out_dir, const char *in)
{
    const char *slash = strrchr(in, '/');
    const char *base = slash ? slash + 1 : in;
    size_t bl = strlen(base);
    if (bl > 3 && !strcmp(base + bl - 3, ".gz")) bl -= 3;
    size_t dl = strlen(out_dir);
    size_t n = dl + 1 + bl + strlen(BLK_SUFFIX) + 1;
    char *s = psr_xmalloc(n);
    snprintf(s, n, "%s%s%.*s%s", out_dir, dl && out_dir[dl - 1] == '/' ? "" : "/", (int)bl, base,
             BLK_SUFFIX);
    return s;
}

/* ---- csv / movielens rows (P3) ------------------------------------------------------------ */

/* A finite decimal number: [-+]? (digits [. digits*] | . digits) ([eE] [-+]? digits)? */
static int parse_number(const char *s, size_t n, double *out)
{
    size_t i = 0, d = 0;
    if (n == 0 || n > 100) return 0;
    if (s[i] == '-' || s[i] == '+') i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, d++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, d++;
    }
    if (d == 0) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = 0;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, e++;
        if (e == 0) return 0;
    }
    if (i != n) return 0;
    char tmp[104];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    double v = strtod(tmp, NULL);
    if (!isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* ln(1 + max(v, 0)) as reader.c computes it for integers (log1p below 4096, else a series). */
static float dense_value(double v)
{
    if (!(v > 0)) return 0.0f;
    if (v >= 4096) {
        double l = log(v), x = 1.0 / v;
        return (float)(l + x - 0.5 * x * x);
    }
    return (float)log1p(v);
}

static int64_t dense_bucket(double v)
{
    if (v < 0) return -1;
    if (v <= 2) return (int64_t)floor(v);
    double l = log(v);
    return (int64_t)floor(l * l);
}

static const char *find_sep(const char *p, const char *e, const char *sep, int sep_len)
{
    if (sep_len == 1) return memchr(p, sep[0], (size_t)(e - p));
    for (;;) {
        const char *q = memchr(p, sep[0], (size_t)(e - p));
        if (!q || e - q < sep_len) return NULL;
        if (memcmp(q, sep, (size_t)sep_len) == 0) return q;
        p = q + 1;
    }
}

static size_t count_fields(const prep_text_t *t, const char *p, const char *e)
{
    size_t n = 1;
    for (const char *q; (q = find_sep(p, e, t->sep, t->sep_len)) != NULL; p = q + t->sep_len) n++;
    return n;
}

static int sep_kind(const prep_text_t *t)
{
    for (int i = 0; i < CFG_SEP_COUNT; i++)
        if ((int)strlen(sep_text[i]) == t->sep_len && !memcmp(sep_text[i], t->sep, (size_t)t->sep_len))
            return i;
    return 0;
}

enum { BAD_COUNT, BAD_LABEL, BAD_DENSE, BAD_MANY, BAD_TIME };

/* An integer in int64: [-+]? digits. */
static int parse_time(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    if (n == 0 || n > 20) return 0;
    if (s[0] == '-' || s[0] == '+') i++;
    if (i == n) return 0;
    for (size_t j = i; j < n; j++)
        if (s[j] < '0' || s[j] > '9') return 0;
    char tmp[24];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (errno == ERANGE) return 0;
    *out = (int64_t)v;
    return 1;
}

/* The reason of a malformed row; a wrong field count wins over any other. */
static int bad_row(const prep_text_t *t, const char *line, const char *e, int kind, int col,
                   int field, const char *tok, size_t tok_len, char *why, size_t cap)
{
    size_t n = count_fields(t, line, e);
    if (n != (size_t)t->n_cols) kind = BAD_COUNT;
    char shown[RD_TOKEN_SHOWN * 4 + 8];
    if (kind == BAD_LABEL || kind == BAD_DENSE || kind == BAD_TIME)
        rd_quote_token(shown, sizeof shown, tok, tok_len);
    switch (kind) {
    case BAD_COUNT:
        snprintf(why, cap, "expected %d fields separated by %s, found %zu", t->n_cols,
                 sep_desc[sep_kind(t)], n);
        break;
    case BAD_LABEL:
        snprintf(why, cap, "label (column %d): '%s' is not a number", col + 1, shown);
        break;
    case BAD_DENSE:
        snprintf(why, cap, "dense field %d (column %d): '%s' is not a number", field, col + 1,
                 shown);
        break;
    case BAD_TIME:
        snprintf(why, cap, "time (column %d): '%s' is not an integer number of seconds in the "
                 "int64 range", col + 1, shown);
        break;
    default:
        snprintf(why, cap, "more than %d feature values in one row", BLK_MAX_ROW_FEATS);
        break;
    }
    return PSR_ERR_DATA;
}

/* ---- libsvm / libffm rows (P6) ------------------------------------------------------------ */

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* Digits only, value in [0, max]: 1 and *out, else 0. */
static int parse_index(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (d > max || v > (max - d) / 10) return 0; /* v * 10 + d > max */
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* v in canonical decimal into out (at least 21 bytes); returns the length. */
static size_t canonical_decimal(uint64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

/* One libsvm / libffm line into *row (P6). */
static int parse_svm(const prep_text_t *t, const char *line, size_t len, prep_row_buf_t *buf,
                     blk_row_t *row, char *why, size_t cap)
{
    const int ffm = t->format == CFG_FORMAT_LIBFFM;
    const char *e = line + len;
    if (len && e[-1] == '\r') e--;
    const char *p = line;
    char shown[RD_TOKEN_SHOWN * 4 + 8], part[RD_TOKEN_SHOWN * 4 + 8];
    buf->time = RD_NO_TIME;
    buf->user_tok = buf->item_tok = NULL;
    buf->user_len = buf->item_len = -1;
    while (p < e && is_blank(*p)) p++;
    if (p == e) {
        snprintf(why, cap, "no label: the line holds only spaces or tabs");
        return PSR_ERR_DATA;
    }
    const char *q = p;
    while (q < e && !is_blank(*q)) q++;
    double v = 0.0;
    float y = 0.0f;
    int ok = parse_number(p, (size_t)(q - p), &v);
    if (ok) y = (float)v;
    if (!ok || !isfinite(y)) {
        rd_quote_token(shown, sizeof shown, p, (size_t)(q - p));
        snprintf(why, cap, "label '%s' is not a number", shown);
        return PSR_ERR_DATA;
    }
    if (t->click_labels) {
        if (y == -1.0f) y = 0.0f;
        if (!(y >= 0.0f && y <= 1.0f)) {
            rd_quote_token(shown, sizeof shown, p, (size_t)(q - p));
            snprintf(why, cap, "label '%s' is not a click label: allowed -1 or 0 (no click), 1 "
                     "(click) or a probability in [0, 1] (the loss is bce; model.loss: mse "
                     "trains on the values)", shown);
            return PSR_ERR_DATA;
        }
    }
    row->label = y;
    int nf = 0, sorted = 1, k = 0;
    for (p = q;;) {
        while (p < e && is_blank(*p)) p++;
        if (p == e || *p == '#') break; /* the end, or a comment */
        q = p;
        while (q < e && !is_blank(*q)) q++;
        const size_t tl = (size_t)(q - p);
        if (k == 0 && tl > 4 && !memcmp(p, "qid:", 4)) { /* svm-rank query id: ignored */
            uint64_t qid;
            if (!parse_index(p + 4, tl - 4, (uint64_t)INT64_MAX, &qid)) {
                rd_quote_token(shown, sizeof shown, p, tl);
                snprintf(why, cap, "'%s': the query id is not an integer in [0, 2^63)", shown);
                return PSR_ERR_DATA;
            }
            p = q;
            k = -1; /* a second qid is an ordinary (bad) token */
            continue;
        }
        k = k < 0 ? 1 : k + 1;
#define QUOTE_TOKEN() rd_quote_token(shown, sizeof shown, p, tl) /* only on error paths */
        /* the ':'-separated parts: [field:]index:value */
        const char *c1 = memchr(p, ':', tl);
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(q - c1 - 1)) : NULL;
        const char *c3 = c2 ? memchr(c2 + 1, ':', (size_t)(q - c2 - 1)) : NULL;
        if (!c1 || (ffm ? (!c2 || c3) : c2 != NULL)) {
            QUOTE_TOKEN();
            snprintf(why, cap, "feature %d '%s': expected %s", k, shown,
                     ffm ? "field:index:value" : "index:value");
            return PSR_ERR_DATA;
        }
        uint64_t fld = 0, idx;
        const char *ib = ffm ? c1 + 1 : p, *ie = ffm ? c2 : c1;
        if (ffm && !parse_index(p, (size_t)(c1 - p), (uint64_t)t->fields - 1, &fld)) {
            QUOTE_TOKEN();
            rd_quote_token(part, sizeof part, p, (size_t)(c1 - p));
            snprintf(why, cap, "feature %d '%s': field '%s' is not an integer in [0, %d) "
                     "(data.fields is %d)", k, shown, part, t->fields, t->fields);
            return PSR_ERR_DATA;
        }
        if (!parse_index(ib, (size_t)(ie - ib), (uint64_t)INT64_MAX, &idx)) {
            QUOTE_TOKEN();
            rd_quote_token(part, sizeof part, ib, (size_t)(ie - ib));
            snprintf(why, cap, "feature %d '%s': index '%s' is not an integer in [0, 2^63)", k,
                     shown, part);
            return PSR_ERR_DATA;
        }
        float x = 0.0f;
        ok = parse_number(ie + 1, (size_t)(q - ie - 1), &v);
        if (ok) x = (float)v;
        if (!ok || !isfinite(x)) {
            QUOTE_TOKEN();
            rd_quote_token(part, sizeof part, ie + 1, (size_t)(q - ie - 1));
            snprintf(why, cap, "feature %d '%s': value '%s' is not a number", k, shown, part);
            return PSR_ERR_DATA;
        }
        if (nf >= BLK_MAX_ROW_FEATS) {
            snprintf(why, cap, "more than %d feature values in one row", BLK_MAX_ROW_FEATS);
            return PSR_ERR_DATA;
        }
        char dec[24];
        size_t dl = canonical_decimal(idx, dec);
        if (nf > 0 && (uint16_t)fld < buf->field[nf - 1]) sorted = 0;
        buf->field[nf] = (uint16_t)fld;
        buf->key[nf] = psr_feature_key((int)fld, dec, dl);
        buf->val[nf] = x;
        nf++;
        p = q;
#undef QUOTE_TOKEN
    }
    if (!sorted) { /* libffm fields in any order: a stable counting sort by field */
        int32_t start[BLK_MAX_FIELDS + 1];
        memset(start, 0, (size_t)(t->fields + 1) * sizeof *start);
        for (int j = 0; j < nf; j++) start[buf->field[j] + 1]++;
        for (int f = 0; f < t->fields; f++) start[f + 1] += start[f];
        for (int j = 0; j < nf; j++) {
            int32_t o = start[buf->field[j]]++;
            buf->s_field[o] = buf->field[j];
            buf->s_key[o] = buf->key[j];
            buf->s_val[o] = buf->val[j];
        }
        memcpy(buf->field, buf->s_field, (size_t)nf * sizeof *buf->field);
        memcpy(buf->key, buf->s_key, (size_t)nf * sizeof *buf->key);
        memcpy(buf->val, buf->s_val, (size_t)nf * sizeof *buf->val);
    }
    row->dense = buf->dense;
    row->n_feat = nf;
    row->field = buf->field;
    row->key = buf->key;
    row->val = buf->val;
    return PSR_OK;
}

int prep_parse_line(const prep_text_t *t, const char *line, size_t len, prep_row_buf_t *buf,
                    blk_row_t *row, char *why, size_t why_cap)
{
    if (t->format == CFG_FORMAT_LIBSVM || t->format == CFG_FORMAT_LIBFFM)
        return parse_svm(t, line, len, buf, row, why, why_cap);
    const char *e = line + len;
    if (len && e[-1] == '\r') e--;
    const char *p = line;
    int nf = 0, nd = 0;
    row->label = 0.0f;
    buf->time = RD_NO_TIME;
    buf->user_tok = buf->item_tok = NULL;
    buf->user_len = buf->item_len = -1;
    for (int c = 0; c < t->n_cols; c++) {
        const char *q = find_sep(p, e, t->sep, t->sep_len);
        if ((c < t->n_cols - 1) != (q != NULL))
            return bad_row(t, line, e, BAD_COUNT, c, 0, NULL, 0, why, why_cap);
        const char *te = q ? q : e;
        size_t tl = (size_t)(te - p);
        int f = t->col_field[c];
        double v = 0.0;
        switch (t->col[c]) {
        case CFG_COL_LABEL:
            if (!parse_number(p, tl, &v))
                return bad_row(t, line, e, BAD_LABEL, c, 0, p, tl, why, why_cap);
            row->label = (float)v;
            if (!isfinite(row->label)) /* a double beyond float range */
                return bad_row(t, line, e, BAD_LABEL, c, 0, p, tl, why, why_cap);
            break;
        case CFG_COL_DENSE: {
            int empty = tl == 0;
            if (!empty && !parse_number(p, tl, &v))
                return bad_row(t, line, e, BAD_DENSE, c, f, p, tl, why, why_cap);
            float lg = empty ? 0.0f : dense_value(v);
            buf->dense[nd++] = lg;
            buf->field[nf] = (uint16_t)f;
            if (t->int_mode == CFG_INT_DENSE) {
                buf->key[nf] = psr_feature_key(f, "#dense", 6);
                buf->val[nf] = lg;
            } else {
                buf->key[nf] = psr_feature_key_int(f, empty ? INT64_MIN + 1 : dense_bucket(v));
                buf->val[nf] = 1.0f;
            }
            nf++;
            break;
        }
        case CFG_COL_TIME: {
            int64_t tv;
            if (!parse_time(p, tl, &tv))
                return bad_row(t, line, e, BAD_TIME, c, f, p, tl, why, why_cap);
            buf->time = tv;
            buf->field[nf] = (uint16_t)f;
            buf->key[nf] = (uint64_t)tv;
            buf->val[nf] = 1.0f;
            nf++;
            break;
        }
        case CFG_COL_USER:
        case CFG_COL_ITEM:
            if (t->col[c] == CFG_COL_USER) {
                buf->user_tok = p;
                buf->user_len = (int32_t)tl;
            } else {
                buf->item_tok = p;
                buf->item_len = (int32_t)tl;
            }
            /* fall through */
        case CFG_COL_CAT:
            buf->field[nf] = (uint16_t)f;
            buf->key[nf] = psr_feature_key(f, p, tl);
            buf->val[nf] = 1.0f;
            nf++;
            break;
        case CFG_COL_MULTI: {
            int any = 0;
            for (const char *a = p;;) {
                const char *b = memchr(a, t->msep, (size_t)(te - a));
                if (!b) b = te;
                if (b > a) {
                    if (nf >= BLK_MAX_ROW_FEATS)
                        return bad_row(t, line, e, BAD_MANY, c, f, NULL, 0, why, why_cap);
                    buf->field[nf] = (uint16_t)f;
                    buf->key[nf] = psr_feature_key(f, a, (size_t)(b - a));
                    buf->val[nf] = 1.0f;
                    nf++;
                    any = 1;
                }
                if (b == te) break;
                a = b + 1;
            }
            if (!any) {
                if (nf >= BLK_MAX_ROW_FEATS)
                    return bad_row(t, line, e, BAD_MANY, c, f, NULL, 0, why, why_cap);
                buf->field[nf] = (uint16_t)f;
                buf->key[nf] = psr_feature_key(f, "", 0);
                buf->val[nf] = 1.0f;
                nf++;
            }
            break;
        }
        default: /* ignore */
            break;
        }
        if (nf > BLK_MAX_ROW_FEATS) return bad_row(t, line, e, BAD_MANY, c, f, NULL, 0, why, why_cap);
        p = q ? q + t->sep_len : e;
    }
    row->dense = buf->dense;
    row->n_feat = nf;
    row->field = buf->field;
    row->key = buf->key;
    row->val = buf->val;
    return PSR_OK;
}

/* ---- lines (P1) ------------------------------------------------------------------------- */

typedef struct {
    const char *path;
    int fd;
    psr_gz_t *gz;
    char *buf;
    size_t cap, pos, len;
    int eof;
    int long_line;   /* inside a line longer than PREP_MAX_LINE */
    int64_t line_no; /* lines started so far */
    uint64_t bytes;  /* text bytes consumed */
} lines_t;

static int has_gz_suffix(const char *p)
{
    size_t l = strlen(p);
    return l >= 3 && memcmp(p + l - 3, ".gz", 3) == 0;
}

static void lines_close(lines_t *L)
{
    if (L->fd >= 0) close(L->fd);
    psr_gz_close(L->gz);
    free(L->buf);
    L->fd = -1;
    L->gz = NULL;
    L->buf = NULL;
}

static int lines_open(lines_t *L, const char *path)
{
    memset(L, 0, sizeof *L);
    L->path = path;
    L->fd = -1;
    if (has_gz_suffix(path)) {
        PSR_FORWARD(psr_gz_open(path, (size_t)1 << 20, &L->gz));
    } else {
        L->fd = open(path, O_RDONLY | O_CLOEXEC);
        PSR_RETURN_IF(L->fd < 0, PSR_ERR_IO, "%s: cannot open: %s", path,
                      errno == ENOENT ? "no such file" : strerror(errno));
        unsigned char magic[8];
        ssize_t m = pread(L->fd, magic, 8, 0);
        PSR_RETURN_IF(m < 0, PSR_ERR_IO, "%s: read error: %s", path, strerror(errno));
        PSR_RETURN_IF(m >= 2 && magic[0] == 0x1f && magic[1] == 0x8b, PSR_ERR_FORMAT,
                      "%s: gzip-compressed data in a file whose name does not end in .gz; "
                      "rename it to end in .gz", path);
        PSR_RETURN_IF(m == 8 && !memcmp(magic, "PSRBLK\0\0", 8), PSR_ERR_FORMAT,
                      "%s: already a block file (written by psrec prep); list text files in "
                      "data.train and data.test of a prep config", path);
        (void)posix_fadvise(L->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    L->cap = PREP_BUF_BYTES;
    L->buf = psr_xmalloc(L->cap);
    return PSR_OK;
}

static int lines_fill(lines_t *L)
{
    if (L->pos > 0) {
        memmove(L->buf, L->buf + L->pos, L->len - L->pos);
        L->len -= L->pos;
        L->pos = 0;
    }
    if (L->len == L->cap) {
        L->cap *= 2;
        L->buf = psr_xrealloc(L->buf, L->cap);
    }
    size_t got;
    PSR_FORWARD(psr_read_some(L->fd, L->fd >= 0 ? NULL : L->gz, L->path, L->buf + L->len,
                              L->cap - L->len, &got));
    if (got == 0) L->eof = 1;
    L->len += got;
    return PSR_OK;
}

/* Next line: 1 with [*line, *line + *len) (NULL and *too_long for a line over
 * PREP_MAX_LINE), 0 at the end of the file, or -error. L->line_no is its 1-based number. */
static int lines_next(lines_t *L, const char **line, size_t *len, int *too_long)
{
    for (;;) {
        char *p = L->buf + L->pos;
        size_t avail = L->len - L->pos;
        if (L->long_line) {
            char *nl = memchr(p, '\n', avail);
            if (!nl && !L->eof) {
                L->bytes += avail;
                L->pos = L->len;
                int rc = lines_fill(L);
                if (rc) return -rc;
                continue;
            }
            size_t used = nl ? (size_t)(nl - p) + 1 : avail;
            L->bytes += used;
            L->pos += used;
            L->long_line = 0;
            *line = NULL;
            *len = 0;
            *too_long = 1;
            return 1;
        }
        char *nl = memchr(p, '\n', avail);
        if (nl || (L->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - p) : avail;
            L->pos += nl ? n + 1 : n;
            L->bytes += nl ? n + 1 : n;
            L->line_no++;
            *line = p;
            *len = n;
            *too_long = 0;
            return 1;
        }
        if (L->eof) return 0;
        if (avail >= PREP_MAX_LINE) {
            L->long_line = 1;
            L->line_no++;
            L->bytes += avail;
            L->pos = L->len;
        }
        int rc = lines_fill(L);
        if (rc) return -rc;
    }
}

/* ---- conversion ------------------------------------------------------------------------ */

static const uint16_t criteo_fields[RD_CRITEO_FIELDS] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
    20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38};

/* Rows of one text file, malformed ones skipped and counted (P1-P4). */
typedef struct {
    const prep_text_t *t;
    lines_t L;
    prep_row_buf_t *buf;
    rd_row_t crow;
    int64_t bad, max_bad;
    int quiet;     /* print no warnings */
    int *reported; /* warnings printed by the process */
    int own_reported;
} rows_t;

static void rows_close(rows_t *x)
{
    lines_close(&x->L);
    free(x->buf);
    x->buf = NULL;
}

static int rows_open(rows_t *x, const prep_text_t *t, const char *path, int64_t max_bad,
                     int quiet, int *reported)
{
    memset(x, 0, sizeof *x);
    x->t = t;
    x->max_bad = max_bad;
    x->quiet = quiet;
    x->reported = reported ? reported : &x->own_reported;
    if (t->format != CFG_FORMAT_CRITEO) x->buf = psr_xmalloc(sizeof *x->buf);
    int rc = lines_open(&x->L, path);
    if (rc != PSR_OK) rows_close(x);
    return rc;
}

/* 1 with *row (valid until the next call), 0 at the end, or -error. */
static int rows_next(rows_t *x, blk_row_t *row)
{
    char why[256];
    const prep_text_t *t = x->t;
    for (;;) {
        const char *line = NULL;
        size_t len = 0;
        int too_long = 0;
        int rc = lines_next(&x->L, &line, &len, &too_long);
        if (rc <= 0) return rc;
        if (x->L.line_no <= t->header_lines) continue;
        if (too_long) {
            snprintf(why, sizeof why, "line longer than %zu bytes", PREP_MAX_LINE);
        } else {
            if (len == 0 || (len == 1 && line[0] == '\r')) continue; /* blank: not a row */
            if (t->format == CFG_FORMAT_CRITEO) {
                if (rd_parse_criteo(line, len, t->int_mode, &x->crow, why, sizeof why) == PSR_OK) {
                    row->label = x->crow.label;
                    row->dense = x->crow.dense;
                    row->n_feat = RD_CRITEO_FIELDS;
                    row->field = criteo_fields;
                    row->key = x->crow.key;
                    row->val = x->crow.val;
                    return 1;
                }
            } else if (prep_parse_line(t, line, len, x->buf, row, why, sizeof why) == PSR_OK) {
                return 1;
            }
        }
        x->bad++;
        if (x->bad > x->max_bad)
            return -PSR_ERR(PSR_ERR_DATA, "%s:%lld: malformed row: %s; %lld malformed rows exceed "
                            "data.max_bad_rows=%lld", x->L.path, (long long)x->L.line_no, why,
                            (long long)x->bad, (long long)x->max_bad);
        if (x->quiet || *x->reported > RD_MAX_REPORTED_BAD) continue;
        (*x->reported)++;
        if (*x->reported <= RD_MAX_REPORTED_BAD)
            fprintf(stderr, "psrec: warning: %s:%lld: malformed row: %s\n", x->L.path,
                    (long long)x->L.line_no, why);
        else
            fprintf(stderr, "psrec: warning: %s:%lld: more malformed rows; counting them without "
                    "printing (data.max_bad_rows=%lld per file)\n", x->L.path,
                    (long long)x->L.line_no, (long long)x->max_bad);
    }
}

int prep_file(const prep_text_t *t, const char *in, const char *out, const prep_opts_t *o,
              prep_stats_t *st)
{
    memset(st, 0, sizeof *st);
    double t0 = psr_now(), last = t0;
    struct stat sb;
    if (stat(in, &sb) == 0) st->bytes_in = (uint64_t)sb.st_size;
    rows_t x;
    int rc = rows_open(&x, t, in, o->max_bad_rows, 0, o->reported);
    if (rc != PSR_OK) return rc;
    blk_writer_t *w = NULL;
    rc = blk_writer_open(&w, out, &t->schema, o->block_rows, o->level);
    blk_row_t row;
    blk_stats_t ws = {0};
    while (rc == PSR_OK) {
        int n = rows_next(&x, &row);
        if (n < 0) rc = -n;
        if (n <= 0) break;
        rc = blk_writer_add(w, &row);
        st->rows++;
        if (o->progress && o->progress_seconds > 0 && (st->rows & 65535) == 0) {
            double now = psr_now();
            if (now - last >= o->progress_seconds) {
                last = now;
                blk_writer_stats(w, &ws);
                st->lines = x.L.line_no;
                st->bad = x.bad;
                st->blocks = ws.blocks;
                st->text_bytes = x.L.bytes;
                st->bytes_out = ws.file_bytes;
                st->seconds = now - t0;
                o->progress(o->ctx, in, st);
            }
        }
    }
    st->lines = x.L.line_no;
    st->bad = x.bad;
    st->text_bytes = x.L.bytes;
    rows_close(&x);
    if (rc == PSR_OK) {
        rc = blk_writer_close(w, &ws);
        st->blocks = ws.blocks;
        st->feats = ws.feats;
        st->raw_bytes = ws.raw_bytes;
        st->bytes_out = ws.file_bytes;
    } else {
        blk_writer_abort(w);
    }
    st->seconds = psr_now() - t0;
    return rc;
}

/* ---- verification ------------------------------------------------------------------------ */

static int same_bits(const void *a, const void *b, size_t n) { return memcmp(a, b, n) == 0; }

int prep_verify(const prep_text_t *t, const char *in, const char *out, int64_t max_bad_rows,
                int64_t *rows)
{
    *rows = 0;
    bks_opts_t so = bks_opts_default();
    so.prefetch = 0;
    so.expect = &t->schema;
    bks_t *s = NULL;
    char *files[1] = {(char *)out};
    PSR_FORWARD(bks_open(&s, files, 1, &so));
    int rc = PSR_OK;
    int64_t n = 0;
    if (t->format == CFG_FORMAT_CRITEO) {
        rd_reader_t *r = NULL;
        char *ins[1] = {(char *)in};
        rc = rd_open(&r, ins, 1, 0, 1, t->int_mode, max_bad_rows);
        /* the reader prints malformed-row warnings in its first pass only; prep_file already
         * printed them, so start with the second pass (same rows, same order) */
        if (rc == PSR_OK) rc = rd_rewind(r);
        rd_row_t a, b;
        while (rc == PSR_OK) {
            int ra = rd_next(r, &a), rb = bks_next(s, &b);
            if (ra < 0 || rb < 0) {
                rc = ra < 0 ? -ra : -rb;
                break;
            }
            if (ra == 0 || rb == 0) {
                if (ra != rb)
                    rc = PSR_ERR(PSR_ERR_FORMAT, "verify: %s has %s rows than %s (after %lld)",
                                 out, ra ? "fewer" : "more", in, (long long)n);
                break;
            }
            int f = -1;
            for (int j = 0; j < RD_CRITEO_FIELDS && f < 0; j++)
                if (a.key[j] != b.key[j] || !same_bits(&a.val[j], &b.val[j], sizeof a.val[j]))
                    f = j;
            if (f >= 0 || !same_bits(&a.label, &b.label, sizeof a.label) ||
                !same_bits(a.dense, b.dense, sizeof a.i_dense))
                rc = PSR_ERR(PSR_ERR_FORMAT, "verify: %s: row %lld differs from the text "
                             "reader's row %lld of %s (%s%d)", out, (long long)n, (long long)n, in,
                             f >= 0 ? "field " : "label or dense values, field ", f);
            n++;
        }
        rd_close(r);
    } else {
        rows_t x;
        rc = rows_open(&x, t, in, max_bad_rows, 1, NULL);
        blk_row_t a, b;
        while (rc == PSR_OK) {
            int ra = rows_next(&x, &a), rb = bks_next_row(s, &b);
            if (ra < 0 || rb < 0) {
                rc = ra < 0 ? -ra : -rb;
                break;
            }
            if (ra == 0 || rb == 0) {
                if (ra != rb)
                    rc = PSR_ERR(PSR_ERR_FORMAT, "verify: %s has %s rows than %s (after %lld)",
                                 out, ra ? "fewer" : "more", in, (long long)n);
                break;
            }
            size_t nf = (size_t)a.n_feat;
            if (a.n_feat != b.n_feat || !same_bits(&a.label, &b.label, sizeof a.label) ||
                !same_bits(a.dense, b.dense, (size_t)t->schema.n_dense * sizeof *a.dense) ||
                !same_bits(a.field, b.field, nf * sizeof *a.field) ||
                !same_bits(a.key, b.key, nf * sizeof *a.key) ||
                !same_bits(a.val, b.val, nf * sizeof *a.val))
                rc = PSR_ERR(PSR_ERR_FORMAT, "verify: %s: row %lld differs from row %lld "
                             "parsed from %s", out, (long long)n, (long long)n, in);
            n++;
        }
        rows_close(&x);
    }
    bks_close(s);
    *rows = n;
    return rc;
}
