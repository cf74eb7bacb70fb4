/* test_reader: the Criteo reader (common/reader.h): row parsing against an independent
 * formula, malformed-row reasons, plain vs .gz, worker shares (exactly once, by rule,
 * balanced), rewind, bad-row reports with file:line, I/O errors, strict gzip (a plain file
 * named .gz, concatenated members, trailing garbage) and path expansion.
 * All data is generated here, under $PSREC_TEST_TMP (or /tmp). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "testfs.h"
#include "config.h"
#include "hash.h"
#include "psr_error.h"
#include "reader.h"

static char tmpdir[512]; /* short enough that tmpdir + "/name" fits CFG_PATH_MAX */

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = '\0';
    if (len) *len = got;
    return b;
}

/* stderr capture, to check the warnings the reader prints */
static int saved_stderr = -1;
static char capture_file[1100];
static void capture_begin(void)
{
    tmp_path(capture_file, sizeof capture_file, "stderr.txt");
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(capture_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
}
static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    return slurp(capture_file, NULL);
}

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static int row_eq(const rd_row_t *a, const rd_row_t *b)
{
    return a->label == b->label && rd_row_equal(a, b);
}

/* ------------------------------------------------------------------------------------ */
/* Synthetic rows: row `id` has "r<id>" in its first categorical field, so a parsed row
 * names its id through key[13].                                                        */

static size_t make_row(char *buf, size_t cap, int id)
{
    size_t o = (size_t)snprintf(buf, cap, "%d", id % 3 == 0);
    for (int j = 0; j < RD_CRITEO_INT; j++) {
        uint64_t h = psr_mix64((uint64_t)id * 131 + (uint64_t)j);
        int kind = (int)(h % 11);
        if (kind == 0)
            o += (size_t)snprintf(buf + o, cap - o, "\t");
        else if (kind == 1)
            o += (size_t)snprintf(buf + o, cap - o, "\t-%d", (int)(h >> 40) % 5);
        else if (kind < 7)
            o += (size_t)snprintf(buf + o, cap - o, "\t%d", (int)((h >> 20) % 40));
        else
            o += (size_t)snprintf(buf + o, cap - o, "\t%llu",
                                  (unsigned long long)((h >> 8) % (1ULL << (4 * kind))));
    }
    for (int c = 0; c < RD_CRITEO_CAT; c++) {
        uint64_t h = psr_mix64((uint64_t)id * 977 + (uint64_t)c + 5);
        if (c == 0)
            o += (size_t)snprintf(buf + o, cap - o, "\tr%d", id);
        else if (h % 7 == 0)
            o += (size_t)snprintf(buf + o, cap - o, "\t");
        else
            o += (size_t)snprintf(buf + o, cap - o, "\t%08x", (unsigned)(h >> 32));
    }
    return o;
}

#define MAX_ID 200000
typedef struct {
    uint64_t key;
    int id;
} id_key_t;
static id_key_t *id_keys;

static int cmp_id_key(const void *a, const void *b)
{
    uint64_t x = ((const id_key_t *)a)->key, y = ((const id_key_t *)b)->key;
    return x < y ? -1 : x > y;
}

static void id_index_init(void)
{
    id_keys = malloc(MAX_ID * sizeof *id_keys);
    char tok[32];
    for (int i = 0; i < MAX_ID; i++) {
        int n = snprintf(tok, sizeof tok, "r%d", i);
        id_keys[i].key = psr_feature_key(RD_CRITEO_INT, tok, (size_t)n);
        id_keys[i].id = i;
    }
    qsort(id_keys, MAX_ID, sizeof *id_keys, cmp_id_key);
}

static int row_id(const rd_row_t *row)
{
    id_key_t k = {row->key[RD_CRITEO_INT], 0};
    id_key_t *h = bsearch(&k, id_keys, MAX_ID, sizeof *id_keys, cmp_id_key);
    return h ? h->id : -1;
}

/* Reference row of `id`, parsed from its own line (parsing itself is checked against an
 * independent formula in test_parse_row). */
static void ref_row(int id, int mode, rd_row_t *row)
{
    char buf[1024], why[256];
    size_t n = make_row(buf, sizeof buf, id);
    if (rd_parse_criteo(buf, n, mode, row, why, sizeof why) != PSR_OK) {
        fprintf(stderr, "reference row %d does not parse: %s\n", id, why);
        exit(2);
    }
}

/* A generated file: its text and, per physical line, start offset, length (without '\n')
 * and id (-1 blank, -2 malformed). */
typedef struct {
    char *text;
    size_t size, cap;
    int n_lines;
    int64_t *off;
    int *len;
    int *id;
    int max_len;
} gfile_t;

static void gf_line(gfile_t *g, const char *s, size_t n, int id, const char *eol)
{
    size_t need = g->size + n + 3;
    if (need > g->cap) {
        g->cap = need * 2;
        g->text = realloc(g->text, g->cap);
    }
    if (g->n_lines % 1024 == 0) {
        size_t m = (size_t)g->n_lines + 1024;
        g->off = realloc(g->off, m * sizeof *g->off);
        g->len = realloc(g->len, m * sizeof *g->len);
        g->id = realloc(g->id, m * sizeof *g->id);
    }
    g->off[g->n_lines] = (int64_t)g->size;
    memcpy(g->text + g->size, s, n);
    g->size += n;
    size_t el = strlen(eol);
    memcpy(g->text + g->size, eol, el);
    g->size += el;
    int len = (int)n + (el == 2 ? 1 : 0); /* '\r' is part of the line */
    g->len[g->n_lines] = len;
    if (len > g->max_len) g->max_len = len;
    g->id[g->n_lines] = id;
    g->n_lines++;
}

/* Rows first_id .. first_id + n - 1; a blank line every `blank_every` rows (0: none), every
 * 5th row with "\r\n"; the last line without '\n' if no_final_nl. */
static gfile_t gf_make(int first_id, int n, int blank_every, int no_final_nl)
{
    gfile_t g = {0};
    char buf[1024];
    for (int i = 0; i < n; i++) {
        if (blank_every && i % blank_every == blank_every - 1)
            gf_line(&g, "", 0, -1, i % 2 ? "\r\n" : "\n");
        size_t m = make_row(buf, sizeof buf, first_id + i);
        const char *eol = i % 5 == 4 ? "\r\n" : "\n";
        if (no_final_nl && i == n - 1) eol = "";
        gf_line(&g, buf, m, first_id + i, eol);
    }
    return g;
}

static void gf_free(gfile_t *g)
{
    free(g->text);
    free(g->off);
    free(g->len);
    free(g->id);
}

/* Expected ids of worker w of W, by rule 4. */
static int expect_plain(const gfile_t *g, int w, int W, int *ids)
{
    int64_t S = (int64_t)g->size, lo = (int64_t)w * S / W, hi = (int64_t)(w + 1) * S / W;
    int n = 0;
    for (int k = 0; k < g->n_lines; k++)
        if (g->off[k] >= lo && g->off[k] < hi && g->id[k] >= 0) ids[n++] = g->id[k];
    return n;
}

static int expect_stride(const gfile_t *g, int w, int W, int *ids)
{
    int n = 0;
    for (int k = 0; k < g->n_lines; k++)
        if (k % W == w && g->id[k] >= 0) ids[n++] = g->id[k];
    return n;
}

static int no_ref_check; /* rows not made by make_row: identify them, skip the content */

/* Read a whole share; every row is checked against its reference. Returns the number of
 * rows (ids in ids[]) or -1 after an error (reported as a failed check). */
static int read_share(char *const *files, int n_files, int w, int W, int mode, int *ids,
                      int cap)
{
    rd_reader_t *r = NULL;
    int rc = rd_open(&r, files, n_files, w, W, mode, 0);
    CHECK_INT(rc, PSR_OK);
    if (rc) {
        fprintf(stderr, "  rd_open: %s\n", psr_err_msg());
        return -1;
    }
    rd_row_t row, ref;
    int n = 0, bad_content = 0;
    while ((rc = rd_next(r, &row)) == 1) {
        int id = row_id(&row);
        if (id < 0 || n >= cap) {
            bad_content++;
            continue;
        }
        if (!no_ref_check) {
            ref_row(id, mode, &ref);
            if (!row_eq(&row, &ref)) bad_content++;
        }
        ids[n++] = id;
    }
    CHECK_INT(rc, 0);
    if (rc) fprintf(stderr, "  rd_next: %s\n", psr_err_msg());
    CHECK_INT(bad_content, 0);
    CHECK_INT(rd_rows_read(r), n);
    CHECK_INT(rd_bad_rows(r), 0);
    rd_close(r);
    return rc ? -1 : n;
}

static int ids_equal(const int *a, int na, const int *b, int nb)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

/* ------------------------------------------------------------------------------------ */
/* Parsing                                                                              */

static size_t row_with(char *out, size_t cap, int col, const char *tok);

static int64_t want_bucket(int64_t v)
{
    if (v < 0) return -1;
    if (v <= 2) return v;
    double l = log((double)v);
    return (int64_t)floor(l * l);
}

static void test_parse_row(void)
{
    const char *ints[RD_CRITEO_INT] = {"5",    "",     "-3",   "0",
                                       "1",    "2",    "3",    "1000",
                                       "9223372036854775807", "-9223372036854775808",
                                       "4095", "4096", "+7"};
    const char *cats[RD_CRITEO_CAT];
    char catbuf[RD_CRITEO_CAT][16];
    for (int c = 0; c < RD_CRITEO_CAT; c++) {
        snprintf(catbuf[c], sizeof catbuf[c], "%08x", 0x68fd1e64u + (unsigned)c * 77u);
        cats[c] = catbuf[c];
    }
    cats[3] = "";
    cats[7] = "a b";
    cats[RD_CRITEO_CAT - 1] = ""; /* empty last field */
    char line[2048];
    size_t n = (size_t)snprintf(line, sizeof line, "1");
    for (int f = 0; f < RD_CRITEO_INT; f++)
        n += (size_t)snprintf(line + n, sizeof line - n, "\t%s", ints[f]);
    for (int c = 0; c < RD_CRITEO_CAT; c++)
        n += (size_t)snprintf(line + n, sizeof line - n, "\t%s", cats[c]);

    for (int mode = 0; mode < CFG_INT_MODE_COUNT; mode++) {
        rd_row_t row, row_cr;
        char why[256] = "";
        memset(&row, 0xab, sizeof row);
        int rc = rd_parse_criteo(line, n, mode, &row, why, sizeof why);
        CHECK_INT(rc, PSR_OK);
        if (rc) fprintf(stderr, "  why: %s\n", why);
        CHECK(row.label == 1.0f);
        for (int f = 0; f < RD_CRITEO_INT; f++) {
            int empty = ints[f][0] == '\0';
            int64_t v = empty ? 0 : strtoll(ints[f], NULL, 10);
            double lg = empty || v <= 0 ? 0.0 : log(1.0 + (double)v);
            CHECK_NEAR(row.dense[f], lg, 1e-6, 1e-6);
            if (mode == CFG_INT_BUCKET) {
                int64_t b = empty ? INT64_MIN + 1 : want_bucket(v);
                CHECK(row.key[f] == psr_feature_key_int(f, b));
                CHECK(row.val[f] == 1.0f);
            } else {
                CHECK(row.key[f] == psr_feature_key(f, "#dense", 6));
                CHECK_NEAR(row.val[f], lg, 1e-6, 1e-6);
            }
        }
        /* spot values of the bucket rule */
        if (mode == CFG_INT_BUCKET) {
            CHECK(row.key[0] == psr_feature_key_int(0, 2)); /* 5: floor(ln(5)^2) = 2 */
            CHECK(row.key[2] == psr_feature_key_int(2, -1));
            CHECK(row.key[5] == psr_feature_key_int(5, 2));
            CHECK(row.key[7] == psr_feature_key_int(7, 47)); /* ln(1000)^2 = 47.7 */
            CHECK(row.key[8] == psr_feature_key_int(8, 1906));
        }
        CHECK(row.val[1] == (mode == CFG_INT_BUCKET ? 1.0f : 0.0f)); /* empty int */
        CHECK(row.dense[9] == 0.0f);
        CHECK_NEAR(row.dense[8], 43.66827237527655, 1e-5, 1e-6);
        for (int c = 0; c < RD_CRITEO_CAT; c++) {
            int f = RD_CRITEO_INT + c;
            CHECK(row.key[f] == psr_feature_key(f, cats[c], strlen(cats[c])));
            CHECK(row.val[f] == 1.0f);
        }
        /* "\r\n" ending: the same row */
        char crl[2100];
        memcpy(crl, line, n);
        crl[n] = '\r';
        memset(&row_cr, 0x55, sizeof row_cr);
        CHECK_INT(rd_parse_criteo(crl, n + 1, mode, &row_cr, why, sizeof why), PSR_OK);
        CHECK(row_eq(&row, &row_cr));
    }
    /* integers across the table edge and far beyond: value within one float ulp of
     * ln(1 + v), bucket exactly floor(ln(v)^2) */
    int64_t probes[64];
    int np = 0;
    for (int64_t v = 4090; v < 4100; v++) probes[np++] = v;
    for (int k = 13; k < 63; k += 3) probes[np++] = ((int64_t)1 << k) - 1;
    int64_t pow10 = 1000;
    for (int k = 4; k <= 18; k++) probes[np++] = (pow10 *= 10) + 1;
    probes[np++] = INT64_MAX;
    int ulp_bad = 0, bucket_bad = 0;
    for (int i = 0; i < np; i++) {
        char tok[32], buf[1024], why[256];
        snprintf(tok, sizeof tok, "%lld", (long long)probes[i]);
        size_t bn = row_with(buf, sizeof buf, 7, tok);
        rd_row_t r;
        if (rd_parse_criteo(buf, bn, CFG_INT_BUCKET, &r, why, sizeof why) != PSR_OK) {
            bucket_bad++;
            continue;
        }
        double want = log1p((double)probes[i]);
        if (fabs(r.dense[6] - want) > want * 1.2e-7) ulp_bad++;
        if (r.key[6] != psr_feature_key_int(6, want_bucket(probes[i]))) bucket_bad++;
    }
    CHECK_INT(ulp_bad, 0);
    CHECK_INT(bucket_bad, 0);

    /* label 0, every field empty */
    char empty[64];
    size_t m = (size_t)snprintf(empty, sizeof empty, "0");
    for (int f = 0; f < RD_CRITEO_FIELDS; f++) empty[m++] = '\t';
    rd_row_t row;
    char why[256];
    CHECK_INT(rd_parse_criteo(empty, m, CFG_INT_BUCKET, &row, why, sizeof why), PSR_OK);
    CHECK(row.label == 0.0f);
    CHECK(row.key[0] == psr_feature_key_int(0, INT64_MIN + 1));
    CHECK(row.key[12] == psr_feature_key_int(12, INT64_MIN + 1));
    CHECK(row.key[13] == psr_feature_key(13, "", 0));
    CHECK(row.key[38] == psr_feature_key(38, "", 0));
    CHECK(row.dense[4] == 0.0f);
}

/* Replace field `col` (0-based column: 0 = label) of a valid row by `tok`. */
static size_t row_with(char *out, size_t cap, int col, const char *tok)
{
    size_t n = (size_t)snprintf(out, cap, "%s", col == 0 ? tok : "0");
    for (int c = 1; c <= RD_CRITEO_FIELDS; c++)
        n += (size_t)snprintf(out + n, cap - n, "\t%s", c == col ? tok : (c <= 13 ? "7" : "ab"));
    return n;
}

static void expect_bad(const char *line, size_t n, const char *reason, int src_line)
{
    rd_row_t row;
    char why[256] = "";
    int rc = rd_parse_criteo(line, n, CFG_INT_BUCKET, &row, why, sizeof why);
    CHECK_INT(rc, PSR_ERR_DATA);
    if (strcmp(why, reason) != 0) {
        check_failures++;
        fprintf(stderr, "%s:%d: reason \"%s\", expected \"%s\"\n", __FILE__, src_line, why,
                reason);
    }
    check_count++;
}

static void test_parse_errors(void)
{
    char line[4096];
    size_t n;

    n = row_with(line, sizeof line, 0, "2");
    expect_bad(line, n, "label must be 0 or 1, found '2'", __LINE__);
    n = row_with(line, sizeof line, 0, "");
    expect_bad(line, n, "label must be 0 or 1, found ''", __LINE__);
    n = row_with(line, sizeof line, 0, "01");
    expect_bad(line, n, "label must be 0 or 1, found '01'", __LINE__);
    n = row_with(line, sizeof line, 5, "abc");
    expect_bad(line, n, "integer field 5 (column 6): 'abc' is not an integer", __LINE__);
    n = row_with(line, sizeof line, 1, "12a");
    expect_bad(line, n, "integer field 1 (column 2): '12a' is not an integer", __LINE__);
    n = row_with(line, sizeof line, 13, "-");
    expect_bad(line, n, "integer field 13 (column 14): '-' is not an integer", __LINE__);
    n = row_with(line, sizeof line, 2, " 5");
    expect_bad(line, n, "integer field 2 (column 3): ' 5' is not an integer", __LINE__);
    n = row_with(line, sizeof line, 2, "1.5");
    expect_bad(line, n, "integer field 2 (column 3): '1.5' is not an integer", __LINE__);
    n = row_with(line, sizeof line, 3, "9223372036854775808");
    expect_bad(line, n,
               "integer field 3 (column 4): '9223372036854775808' is out of the int64 range",
               __LINE__);
    n = row_with(line, sizeof line, 3, "-9223372036854775809");
    expect_bad(line, n,
               "integer field 3 (column 4): '-9223372036854775809' is out of the int64 range",
               __LINE__);
    n = row_with(line, sizeof line, 3, "123456789012345678901234567890");
    expect_bad(line, n,
               "integer field 3 (column 4): '123456789012345678901234567890' is out of the "
               "int64 range",
               __LINE__);
    /* in range: the extremes and leading zeros */
    rd_row_t row;
    char why[256];
    n = row_with(line, sizeof line, 3, "-9223372036854775808");
    CHECK_INT(rd_parse_criteo(line, n, 0, &row, why, sizeof why), PSR_OK);
    n = row_with(line, sizeof line, 3, "00000000000000000000000000042");
    CHECK_INT(rd_parse_criteo(line, n, 0, &row, why, sizeof why), PSR_OK);
    CHECK(row.key[2] == psr_feature_key_int(2, want_bucket(42)));
    /* a long token is cut in the message */
    n = row_with(line, sizeof line, 4, "x123456789012345678901234567890123456789012345678901");
    expect_bad(line, n,
               "integer field 4 (column 5): 'x123456789012345678901234567890123456789...' is "
               "not an integer",
               __LINE__);
    /* a control byte is escaped */
    n = row_with(line, sizeof line, 4, "1\x01");
    expect_bad(line, n, "integer field 4 (column 5): '1\\x01' is not an integer", __LINE__);

    /* field counts; a wrong count wins over other reasons */
    n = row_with(line, sizeof line, 0, "1");
    line[n] = '\0';
    char *last_tab = strrchr(line, '\t');
    expect_bad(line, (size_t)(last_tab - line), "expected 40 tab-separated fields, found 39",
               __LINE__);
    memcpy(line + n, "\tzz", 3);
    expect_bad(line, n + 3, "expected 40 tab-separated fields, found 41", __LINE__);
    memcpy(line + n, "\t\r", 2);
    expect_bad(line, n + 2, "expected 40 tab-separated fields, found 41", __LINE__);
    expect_bad("1", 1, "expected 40 tab-separated fields, found 1", __LINE__);
    expect_bad("1\t2\t3", 5, "expected 40 tab-separated fields, found 3", __LINE__);
    expect_bad("7\tx\t3", 5, "expected 40 tab-separated fields, found 3", __LINE__);
    n = row_with(line, sizeof line, 5, "abc");
    expect_bad(line, n - 3, "expected 40 tab-separated fields, found 39", __LINE__); /* cut */
}

/* ------------------------------------------------------------------------------------ */
/* Files and shares                                                                     */

static int *ids_a, *ids_b; /* scratch, MAX_ID entries each */

static void check_plain_shares(const char *path, const gfile_t *g, int max_w)
{
    char *files[1] = {(char *)path};
    int total = 0;
    for (int k = 0; k < g->n_lines; k++) total += g->id[k] >= 0;
    for (int W = 1; W <= max_w; W++) {
        char *seen = calloc(MAX_ID, 1);
        int union_n = 0, dup = 0;
        for (int w = 0; w < W; w++) {
            int n = read_share(files, 1, w, W, CFG_INT_BUCKET, ids_a, MAX_ID);
            int m = expect_plain(g, w, W, ids_b);
            CHECK(ids_equal(ids_a, n, ids_b, m));
            if (!ids_equal(ids_a, n, ids_b, m))
                fprintf(stderr, "  %s: W=%d w=%d: %d rows, expected %d\n", path, W, w, n, m);
            for (int i = 0; i < n; i++) {
                dup += seen[ids_a[i]];
                seen[ids_a[i]] = 1;
            }
            union_n += n > 0 ? n : 0;
            /* balance: the share spans size/W bytes within about one line (blank edge
             * lines aside) */
            if (n > 0 && g->max_len < 1000) {
                int first = -1, last = -1;
                for (int k = 0; k < g->n_lines; k++) {
                    if (g->id[k] == ids_a[0]) first = k;
                    if (g->id[k] == ids_a[n - 1]) last = k;
                }
                int64_t span = g->off[last] + g->len[last] + 1 - g->off[first];
                double ideal = (double)g->size / W;
                if (!(fabs((double)span - ideal) <= g->max_len + 4)) {
                    check_failures++;
                    fprintf(stderr, "%s:%d: W=%d w=%d: share spans %lld bytes, ideal %.0f\n",
                            __FILE__, __LINE__, W, w, (long long)span, ideal);
                }
                check_count++;
            }
        }
        CHECK_INT(dup, 0);
        CHECK_INT(union_n, total);
        free(seen);
    }
}

static void check_stride_shares(const char *path, const gfile_t *g, int max_w)
{
    char *files[1] = {(char *)path};
    int total = 0;
    for (int k = 0; k < g->n_lines; k++) total += g->id[k] >= 0;
    for (int W = 1; W <= max_w; W++) {
        int union_n = 0;
        for (int w = 0; w < W; w++) {
            int n = read_share(files, 1, w, W, CFG_INT_DENSE, ids_a, MAX_ID);
            int m = expect_stride(g, w, W, ids_b);
            CHECK(ids_equal(ids_a, n, ids_b, m));
            if (!ids_equal(ids_a, n, ids_b, m))
                fprintf(stderr, "  %s: W=%d w=%d: %d rows, expected %d\n", path, W, w, n, m);
            union_n += n > 0 ? n : 0;
        }
        CHECK_INT(union_n, total); /* with ids_equal per worker: each row exactly once */
    }
}

static void test_files_and_shares(void)
{
    char plain[1100], gz[1100], small[1100];
    tmp_path(plain, sizeof plain, "big.tsv");
    tmp_path(gz, sizeof gz, "big.tsv.gz");
    /* > 1 MiB so the read buffer is refilled and compacted mid-line */
    gfile_t g = gf_make(0, 6000, 37, 0);
    CHECK(g.size > (1u << 20));
    write_file(plain, g.text, g.size);
    write_gz(gz, g.text, g.size);

    /* plain and .gz give the same rows in the same order, all of them */
    char *fp[1] = {plain}, *fz[1] = {gz};
    int n1 = read_share(fp, 1, 0, 1, CFG_INT_BUCKET, ids_a, MAX_ID);
    int n2 = read_share(fz, 1, 0, 1, CFG_INT_BUCKET, ids_b, MAX_ID);
    CHECK_INT(n1, 6000);
    CHECK(ids_equal(ids_a, n1, ids_b, n2));
    for (int i = 0; i < n1; i++)
        if (ids_a[i] != i) {
            CHECK_INT(ids_a[i], i);
            break;
        }

    check_plain_shares(plain, &g, 4);
    check_stride_shares(gz, &g, 4);

    /* a small file, last line without '\n', more workers than lines: every boundary case */
    gfile_t s = gf_make(10000, 7, 3, 1);
    tmp_path(small, sizeof small, "small.tsv");
    write_file(small, s.text, s.size);
    check_plain_shares(small, &s, 20);
    tmp_path(small, sizeof small, "small.tsv.gz");
    write_gz(small, s.text, s.size);
    check_stride_shares(small, &s, 9);
    gf_free(&s);

    /* equal-length lines: many range boundaries fall exactly on a line start */
    gfile_t eq = {0};
    for (int i = 0; i < 12; i++) {
        char buf[512];
        int m = snprintf(buf, sizeof buf, "%d", i % 2);
        for (int f = 0; f < RD_CRITEO_INT; f++) m += snprintf(buf + m, sizeof buf - m, "\t%d", f);
        m += snprintf(buf + m, sizeof buf - m, "\tr%05d", 25000 + i);
        for (int c = 1; c < RD_CRITEO_CAT; c++) m += snprintf(buf + m, sizeof buf - m, "\tabcdef01");
        gf_line(&eq, buf, (size_t)m, 25000 + i, "\n");
    }
    CHECK(eq.size % 12 == 0);
    tmp_path(small, sizeof small, "equal.tsv");
    write_file(small, eq.text, eq.size);
    no_ref_check = 1;
    check_plain_shares(small, &eq, 13);
    no_ref_check = 0;
    gf_free(&eq);

    /* one-line file without '\n' */
    gfile_t one = gf_make(20000, 1, 0, 1);
    tmp_path(small, sizeof small, "one.tsv");
    write_file(small, one.text, one.size);
    check_plain_shares(small, &one, 5);
    gf_free(&one);

    /* empty file: no rows for anyone */
    tmp_path(small, sizeof small, "empty.tsv");
    write_file(small, "", 0);
    char *fe[1] = {small};
    CHECK_INT(read_share(fe, 1, 0, 1, CFG_INT_BUCKET, ids_a, MAX_ID), 0);
    CHECK_INT(read_share(fe, 1, 1, 3, CFG_INT_BUCKET, ids_a, MAX_ID), 0);

    /* >= W .gz files: .gz file i whole to worker i % W, files in list order */
    /* >= W .gz files: .gz file i (counting .gz files only) whole to worker i % W, in list
     * order; a plain file in front is still split by bytes */
    enum { NGZ = 5, PER = 300 };
    char names[NGZ][1100], lead[1100];
    char *list[NGZ + 1];
    gfile_t parts[NGZ];
    gfile_t lg = gf_make(35000, 40, 9, 0);
    tmp_path(lead, sizeof lead, "lead.tsv");
    write_file(lead, lg.text, lg.size);
    list[0] = lead;
    for (int i = 0; i < NGZ; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "part-%d.tsv.gz", i);
        tmp_path(names[i], sizeof names[i], nm);
        list[i + 1] = names[i];
        parts[i] = gf_make(30000 + i * PER, PER - i * 7, 50, i == 2);
        write_gz(names[i], parts[i].text, parts[i].size);
    }
    for (int W = 1; W <= NGZ + 1; W++) { /* W = NGZ + 1: too few .gz files, striding */
        int union_n = 0, total = 40;
        for (int i = 0; i < NGZ; i++) total += PER - i * 7;
        for (int w = 0; w < W; w++) {
            int n = read_share(list, NGZ + 1, w, W, CFG_INT_BUCKET, ids_a, MAX_ID);
            int m = expect_plain(&lg, w, W, ids_b);
            for (int i = 0; i < NGZ; i++) {
                if (NGZ >= W && i % W != w) continue;
                for (int k = 0; k < parts[i].n_lines; k++)
                    if (parts[i].id[k] >= 0 && (NGZ >= W || k % W == w))
                        ids_b[m++] = parts[i].id[k];
            }
            CHECK(ids_equal(ids_a, n, ids_b, m));
            if (!ids_equal(ids_a, n, ids_b, m))
                fprintf(stderr, "  gz files: W=%d w=%d: %d rows, expected %d\n", W, w, n, m);
            union_n += n > 0 ? n : 0;
        }
        CHECK_INT(union_n, total);
    }
    gf_free(&lg);

    /* a mixed list: 2 plain + 1 .gz (fewer .gz files than workers: striding) */
    char *mixed[3] = {plain, names[1], small}; /* big.tsv, part-1.tsv.gz, empty.tsv */
    for (int W = 1; W <= 3; W++) {
        int union_n = 0, dup = 0;
        char *seen = calloc(MAX_ID, 1);
        for (int w = 0; w < W; w++) {
            int n = read_share(mixed, 3, w, W, CFG_INT_BUCKET, ids_a, MAX_ID);
            for (int i = 0; i < n; i++) {
                dup += seen[ids_a[i]];
                seen[ids_a[i]] = 1;
            }
            union_n += n > 0 ? n : 0;
        }
        CHECK_INT(dup, 0);
        CHECK_INT(union_n, 6000 + PER - 7);
        free(seen);
    }
    for (int i = 0; i < NGZ; i++) gf_free(&parts[i]);

    /* rewind reproduces the share, also after a partial pass */
    char *both[2] = {gz, plain};
    for (int W = 2; W <= 3; W++) {
        rd_reader_t *r;
        CHECK_INT(rd_open(&r, both, 2, 1, W, CFG_INT_DENSE, 0), PSR_OK);
        rd_row_t *first = malloc(sizeof *first * 12000), row;
        int n = 0, rc;
        while ((rc = rd_next(r, &row)) == 1 && n < 12000) first[n++] = row;
        CHECK_INT(rc, 0);
        CHECK(n > 0);
        for (int pass = 0; pass < 2; pass++) {
            CHECK_INT(rd_rewind(r), PSR_OK);
            int m = 0, diff = 0;
            while ((rc = rd_next(r, &row)) == 1) {
                if (pass == 0 && m == n / 2) break; /* partial pass, then rewind again */
                if (m >= n || !row_eq(&row, &first[m])) diff++;
                m++;
            }
            CHECK_INT(diff, 0);
            if (pass == 1) {
                CHECK_INT(rc, 0);
                CHECK_INT(m, n);
            }
        }
        CHECK_INT(rd_rows_read(r), n + n / 2 + 1 + n);
        rd_close(r);

        /* rd_tell after k rows, then rd_seek on a fresh reader: exactly the rows k.. follow,
         * for cuts at the start, inside each file, at the file boundary and at the end */
        int cuts[6] = {0, 1, n / 3, n / 2, n - 1, n};
        for (int c = 0; c < 6; c++) {
            rd_reader_t *a, *b;
            rd_pos_t pos;
            CHECK_INT(rd_open(&a, both, 2, 1, W, CFG_INT_DENSE, 0), PSR_OK);
            for (int k = 0; k < cuts[c]; k++) CHECK_INT(rd_next(a, &row), 1);
            rd_tell(a, &pos);
            CHECK_INT(pos.rows, cuts[c]);
            CHECK_INT(rd_open(&b, both, 2, 1, W, CFG_INT_DENSE, 0), PSR_OK);
            CHECK(rd_share_fingerprint(a) == rd_share_fingerprint(b));
            CHECK_INT(rd_seek(b, &pos), PSR_OK);
            int m = cuts[c], diff = 0;
            while ((rc = rd_next(b, &row)) == 1) {
                if (m >= n || !row_eq(&row, &first[m])) diff++;
                m++;
            }
            CHECK_INT(rc, 0);
            CHECK_INT(diff, 0);
            CHECK_INT(m, n);
            CHECK_INT(rd_rows_read(b), n);
            rd_close(a);
            rd_close(b);
        }
        /* a position from another share does not fit */
        {
            rd_reader_t *a, *b;
            rd_pos_t pos;
            CHECK_INT(rd_open(&a, both, 2, 0, W, CFG_INT_DENSE, 0), PSR_OK);
            CHECK_INT(rd_open(&b, both, 2, 1, W, CFG_INT_DENSE, 0), PSR_OK);
            CHECK(rd_share_fingerprint(a) != rd_share_fingerprint(b));
            while (rd_next(a, &row) == 1) {
                rd_tell(a, &pos);
                if (pos.file == 1) break; /* inside the plain file's first share */
            }
            CHECK_INT(pos.file, 1);
            CHECK_INT(rd_seek(b, &pos), PSR_ERR_FORMAT);
            rd_close(a);
            rd_close(b);
        }
        free(first);
    }
    gf_free(&g);
}

/* ------------------------------------------------------------------------------------ */
/* Malformed rows                                                                       */

/* Write rows with malformed lines at the given 1-based line numbers. */
static gfile_t gf_with_bad(int first_id, int n_lines, const int *bad_at, int n_bad,
                           const char *const *bad_text)
{
    gfile_t g = {0};
    char buf[1024];
    int id = first_id;
    for (int ln = 1; ln <= n_lines; ln++) {
        int b = -1;
        for (int j = 0; j < n_bad; j++)
            if (bad_at[j] == ln) b = j;
        if (b >= 0) {
            gf_line(&g, bad_text[b], strlen(bad_text[b]), -2, "\n");
        } else {
            size_t m = make_row(buf, sizeof buf, id);
            gf_line(&g, buf, m, id++, "\n");
        }
    }
    return g;
}

static void test_malformed(void)
{
    char path[1100], want[1400];
    tmp_path(path, sizeof path, "bad.tsv");
    char bad_int[1024], bad_count[1024];
    row_with(bad_int, sizeof bad_int, 5, "abc");
    size_t nc = row_with(bad_count, sizeof bad_count, 1, "1");
    *strrchr(bad_count, '\t') = '\0';
    (void)nc;
    const char *texts[4] = {"2\tx", bad_count, bad_int, bad_int};
    char label2[1024];
    row_with(label2, sizeof label2, 0, "2");
    texts[0] = label2;
    int at[4] = {3, 10, 150, 190};
    gfile_t g = gf_with_bad(40000, 200, at, 4, texts);
    write_file(path, g.text, g.size);
    char *files[1] = {path};
    rd_row_t row;
    int rc, n;

    /* one worker: 196 rows, 4 bad, each reported with its line */
    rd_reader_t *r;
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 100), PSR_OK);
    capture_begin();
    n = 0;
    while ((rc = rd_next(r, &row)) == 1) n++;
    char *err = capture_end();
    CHECK_INT(rc, 0);
    CHECK_INT(n, 196);
    CHECK_INT(rd_bad_rows(r), 4);
    CHECK_INT(rd_rows_read(r), 196);
    snprintf(want, sizeof want,
             "psrec: warning: %s:3: malformed row: label must be 0 or 1, found '2'\n", path);
    CHECK_CONTAINS(err, want);
    snprintf(want, sizeof want,
             "psrec: warning: %s:10: malformed row: expected 40 tab-separated fields, found 39\n",
             path);
    CHECK_CONTAINS(err, want);
    snprintf(want, sizeof want,
             "psrec: warning: %s:150: malformed row: integer field 5 (column 6): 'abc' is not "
             "an integer\n",
             path);
    CHECK_CONTAINS(err, want);
    snprintf(want, sizeof want, "%s:190: malformed row: integer field 5", path);
    CHECK_CONTAINS(err, want);
    CHECK_INT(count_substr(err, "malformed row"), 4);
    free(err);
    /* a second pass neither re-prints nor fails on the same rows (limit is per pass) */
    CHECK_INT(rd_rewind(r), PSR_OK);
    capture_begin();
    n = 0;
    while ((rc = rd_next(r, &row)) == 1) n++;
    err = capture_end();
    CHECK_INT(rc, 0);
    CHECK_INT(n, 196);
    CHECK_INT(rd_bad_rows(r), 8);
    CHECK_INT(strlen(err), 0);
    free(err);
    rd_close(r);

    /* worker 1 of 2 starts mid-file: its line numbers count from the file start */
    CHECK(g.off[149] >= (int64_t)g.size / 2);
    CHECK_INT(rd_open(&r, files, 1, 1, 2, CFG_INT_BUCKET, 100), PSR_OK);
    capture_begin();
    while ((rc = rd_next(r, &row)) == 1) {
    }
    err = capture_end();
    CHECK_INT(rc, 0);
    CHECK_INT(rd_bad_rows(r), 2);
    snprintf(want, sizeof want,
             "psrec: warning: %s:150: malformed row: integer field 5 (column 6): 'abc' is not "
             "an integer\n",
             path);
    CHECK_CONTAINS(err, want);
    snprintf(want, sizeof want, "%s:190: malformed row:", path);
    CHECK_CONTAINS(err, want);
    CHECK_INT(count_substr(err, "malformed row"), 2);
    free(err);
    rd_close(r);

    /* max_bad_rows: the bad row past the limit fails with file:line, count and limit */
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 2), PSR_OK);
    capture_begin();
    n = 0;
    while ((rc = rd_next(r, &row)) == 1) n++;
    err = capture_end();
    CHECK_INT(rc, -PSR_ERR_DATA);
    CHECK_INT(n, 147); /* rows before line 150 */
    snprintf(want, sizeof want,
             "%s:150: malformed row: integer field 5 (column 6): 'abc' is not an integer; 3 "
             "malformed rows exceed data.max_bad_rows=2",
             path);
    CHECK_CONTAINS(psr_err_msg(), want);
    CHECK_INT(count_substr(err, "malformed row"), 2); /* the failing one is in the error */
    CHECK_INT(rd_next(r, &row), -PSR_ERR_DATA);       /* sticky */
    free(err);
    rd_close(r);

    /* limit 0 on a worker starting mid-file */
    CHECK_INT(rd_open(&r, files, 1, 1, 2, CFG_INT_BUCKET, 0), PSR_OK);
    while ((rc = rd_next(r, &row)) == 1) {
    }
    CHECK_INT(rc, -PSR_ERR_DATA);
    snprintf(want, sizeof want,
             "%s:150: malformed row: integer field 5 (column 6): 'abc' is not an integer; 1 "
             "malformed rows exceed data.max_bad_rows=0",
             path);
    CHECK_CONTAINS(psr_err_msg(), want);
    rd_close(r);

    /* .gz striding: worker 1 of 2 gets line 10 (index 9) and reports it by its file line */
    char gzp[1100];
    tmp_path(gzp, sizeof gzp, "bad.tsv.gz");
    write_gz(gzp, g.text, g.size);
    char *gfiles[1] = {gzp};
    CHECK_INT(rd_open(&r, gfiles, 1, 1, 2, CFG_INT_BUCKET, 100), PSR_OK);
    capture_begin();
    while ((rc = rd_next(r, &row)) == 1) {
    }
    err = capture_end();
    CHECK_INT(rc, 0);
    CHECK_INT(rd_bad_rows(r), 3); /* lines 10, 150 and 190 (odd indices); 3 is worker 0's */
    snprintf(want, sizeof want, "%s:10: malformed row: expected 40", gzp);
    CHECK_CONTAINS(err, want);
    snprintf(want, sizeof want, "%s:150: malformed row: integer field 5", gzp);
    CHECK_CONTAINS(err, want);
    snprintf(want, sizeof want, "%s:190: malformed row: integer field 5", gzp);
    CHECK_CONTAINS(err, want);
    CHECK_INT(count_substr(err, "malformed row"), 3);
    free(err);
    rd_close(r);
    gf_free(&g);

    /* many bad rows: RD_MAX_REPORTED_BAD printed, then one "more" line, all counted */
    int many_at[15];
    const char *many_txt[15];
    for (int i = 0; i < 15; i++) {
        many_at[i] = 2 + 3 * i;
        many_txt[i] = label2;
    }
    g = gf_with_bad(50000, 60, many_at, 15, many_txt);
    tmp_path(path, sizeof path, "many_bad.tsv");
    write_file(path, g.text, g.size);
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 15), PSR_OK);
    capture_begin();
    n = 0;
    while ((rc = rd_next(r, &row)) == 1) n++;
    err = capture_end();
    CHECK_INT(rc, 0);
    CHECK_INT(n, 45);
    CHECK_INT(rd_bad_rows(r), 15);
    CHECK_INT(count_substr(err, "malformed row:"), RD_MAX_REPORTED_BAD);
    CHECK_INT(count_substr(err, "more malformed rows"), 1);
    snprintf(want, sizeof want, "%s:29: malformed row:", path); /* the 10th */
    CHECK_CONTAINS(err, want);
    free(err);
    /* the limit counts one pass: a second pass with the same 15 bad rows is fine */
    CHECK_INT(rd_rewind(r), PSR_OK);
    n = 0;
    while ((rc = rd_next(r, &row)) == 1) n++;
    CHECK_INT(rc, 0);
    CHECK_INT(n, 45);
    CHECK_INT(rd_bad_rows(r), 30);
    rd_close(r);
    gf_free(&g);

    /* blank lines are not rows and not malformed; they still count as lines */
    tmp_path(path, sizeof path, "blank.tsv");
    char text[4096];
    size_t tl = 0;
    char rowbuf[1024];
    text[tl++] = '\n';
    memcpy(text + tl, "\r\n", 2);
    tl += 2;
    tl += make_row(text + tl, sizeof text - tl, 60000);
    text[tl++] = '\n';
    text[tl++] = '\n';
    memcpy(text + tl, label2, strlen(label2)); /* line 5 */
    tl += strlen(label2);
    text[tl++] = '\n';
    size_t rl = make_row(rowbuf, sizeof rowbuf, 60001);
    memcpy(text + tl, rowbuf, rl);
    tl += rl;
    memcpy(text + tl, "\r\n\r\n", 4);
    tl += 4;
    write_file(path, text, tl);
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 100), PSR_OK);
    capture_begin();
    n = 0;
    while ((rc = rd_next(r, &row)) == 1) n++;
    err = capture_end();
    CHECK_INT(rc, 0);
    CHECK_INT(n, 2);
    CHECK_INT(rd_bad_rows(r), 1);
    snprintf(want, sizeof want, "%s:5: malformed row: label", path);
    CHECK_CONTAINS(err, want);
    free(err);
    rd_close(r);
}

/* A line over the reader's limit (16 MiB) is one malformed row; the next rows still come. */
static void test_long_line(void)
{
    char path[1100];
    tmp_path(path, sizeof path, "long.tsv");
    size_t big = (17u << 20);
    char *text = malloc(big + 4096);
    size_t n = make_row(text, 2048, 70000);
    text[n++] = '\n';
    text[n++] = '1';
    memset(text + n, 'x', big);
    n += big;
    text[n++] = '\n';
    n += make_row(text + n, 2048, 70001);
    text[n++] = '\n';
    n += row_with(text + n, 2048, 0, "2"); /* line 4 */
    text[n++] = '\n';
    write_file(path, text, n);
    free(text);
    char *files[1] = {path};
    rd_reader_t *r;
    rd_row_t row;
    int rc, m = 0;
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 5), PSR_OK);
    capture_begin();
    while ((rc = rd_next(r, &row)) == 1) {
        CHECK_INT(row_id(&row), 70000 + m);
        m++;
    }
    char *err = capture_end();
    CHECK_INT(rc, 0);
    CHECK_INT(m, 2);
    CHECK_INT(rd_bad_rows(r), 2);
    char want[1400];
    snprintf(want, sizeof want, "%s:2: malformed row: line longer than 16777216 bytes", path);
    CHECK_CONTAINS(err, want);
    snprintf(want, sizeof want, "%s:4: malformed row: label", path);
    CHECK_CONTAINS(err, want);
    free(err);
    rd_close(r);
    unlink(path);
}

/* ------------------------------------------------------------------------------------ */
/* I/O errors                                                                           */

static void test_io_errors(void)
{
    char path[1100];
    rd_reader_t *r = NULL;
    rd_row_t row;
    int rc;

    /* missing file at open */
    tmp_path(path, sizeof path, "missing.tsv");
    char *files[1] = {path};
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 0), PSR_ERR_IO);
    CHECK(r == NULL);
    CHECK_CONTAINS(psr_err_msg(), path);

    /* truncated and corrupted .gz */
    gfile_t g = gf_make(80000, 3000, 0, 0);
    tmp_path(path, sizeof path, "trunc.tsv.gz");
    write_gz(path, g.text, g.size);
    size_t zl;
    char *z = slurp(path, &zl);
    write_file(path, z, zl / 2);
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 1000000), PSR_OK);
    int n = 0;
    while ((rc = rd_next(r, &row)) == 1) n++;
    CHECK_INT(rc, -PSR_ERR_IO);
    CHECK(n > 0 && n < 3000);
    CHECK_CONTAINS(psr_err_msg(), path);
    CHECK_CONTAINS(psr_err_msg(), "truncated");
    CHECK_INT(rd_next(r, &row), -PSR_ERR_IO); /* sticky */
    rd_close(r);

    tmp_path(path, sizeof path, "corrupt.tsv.gz");
    for (size_t i = zl / 3; i < zl / 3 + 64; i++) z[i] = (char)(z[i] ^ 0x5a);
    write_file(path, z, zl);
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 1000000), PSR_OK);
    while ((rc = rd_next(r, &row)) == 1) {
    }
    CHECK_INT(rc, -PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), path);
    rd_close(r);

    /* gzip data under a plain name */
    tmp_path(path, sizeof path, "hidden_gz.tsv");
    write_file(path, z, zl);
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 0), PSR_OK);
    CHECK_INT(rd_next(r, &row), -PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), path);
    CHECK_CONTAINS(psr_err_msg(), ".gz");
    rd_close(r);
    free(z);

    /* unreadable file (skipped when running as root, who can read anything) */
    if (geteuid() != 0) {
        tmp_path(path, sizeof path, "noperm.tsv");
        write_file(path, g.text, 4096);
        chmod(path, 0);
        CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 0), PSR_OK);
        CHECK_INT(rd_next(r, &row), -PSR_ERR_IO);
        CHECK_CONTAINS(psr_err_msg(), "cannot open");
        rd_close(r);
        chmod(path, 0644);
    }
    gf_free(&g);
    rd_close(NULL);
}

/* ------------------------------------------------------------------------------------ */
/* Strict gzip (fsutil.h psr_gz, rules G1-G3)                                           */

/* `a` and `b` as two gzip members back to back in `path` (what `cat a.gz b.gz` makes), then
 * `tail` (tail_len bytes, none if 0). Returns the file offset where the last member ends. */
static size_t write_members(const char *path, const char *a, size_t na, const char *b,
                            size_t nb, const char *tail, size_t tail_len)
{
    char t1[1100], t2[1100];
    tmp_path(t1, sizeof t1, "member1.gz");
    tmp_path(t2, sizeof t2, "member2.gz");
    write_gz(t1, a, na);
    size_t l1 = 0, l2 = 0;
    char *z1 = slurp(t1, &l1), *z2 = NULL;
    if (b) {
        write_gz(t2, b, nb);
        z2 = slurp(t2, &l2);
    }
    char *all = malloc(l1 + l2 + tail_len + 1);
    memcpy(all, z1, l1);
    if (l2) memcpy(all + l1, z2, l2);
    if (tail_len) memcpy(all + l1 + l2, tail, tail_len);
    write_file(path, all, l1 + l2 + tail_len);
    free(all);
    free(z1);
    free(z2);
    return l1 + l2;
}

/* Read all of `path` through psr_gz with a tiny or large input buffer and odd read sizes, so
 * the magic of the second member and member ends fall across buffer boundaries. */
static void check_gz_bytes(const char *path, const char *want, size_t n)
{
    const size_t in_sizes[3] = {64, 97, 0};
    const size_t chunks[3] = {1, 4093, 1 << 20};
    char *buf = malloc(n + (1 << 20));
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < 3; c++) {
            psr_gz_t *g;
            CHECK_INT(psr_gz_open(path, in_sizes[i], &g), PSR_OK);
            if (!g) continue;
            size_t have = 0, got;
            int rc;
            while ((rc = psr_gz_read(g, buf + have, chunks[c], &got)) == PSR_OK && got > 0) {
                have += got;
                if (have > n) break;
            }
            CHECK_INT(rc, PSR_OK);
            CHECK_INT(have, n);
            CHECK(have == n && !memcmp(buf, want, n));
            psr_gz_close(g);
        }
    /* skip into the second member, then read the rest */
    psr_gz_t *g;
    int64_t done;
    CHECK_INT(psr_gz_open(path, 64, &g), PSR_OK);
    CHECK_INT(psr_gz_skip(g, (int64_t)(n - n / 5), &done), PSR_OK);
    CHECK_INT(done, (int64_t)(n - n / 5));
    size_t got;
    CHECK_INT(psr_gz_read(g, buf, n, &got), PSR_OK);
    CHECK_INT(got, n / 5);
    CHECK(!memcmp(buf, want + n - n / 5, n / 5));
    CHECK_INT(psr_gz_skip(g, 10, &done), PSR_OK); /* at the end: nothing left to drop */
    CHECK_INT(done, 0);
    psr_gz_close(g);
    psr_gz_close(NULL);
    free(buf);
}

static void test_gzip_strict(void)
{
    char path[1100], want[1300];
    rd_reader_t *r = NULL;
    rd_row_t row;
    int rc;
    char *files[1] = {path};
    gfile_t g = gf_make(50000, 3000, 41, 0); /* about 500 KB of text */

    /* G1: plain text named .gz: refused at the first read, naming the file; so is an empty one */
    tmp_path(path, sizeof path, "x.gz");
    write_file(path, g.text, 20000);
    CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 0), PSR_OK);
    CHECK_INT(rd_next(r, &row), -PSR_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: named .gz but is not gzip data (it starts with bytes 30 09,"
             " gzip data with 1f 8b)", path); /* "0\t": row 50000 has label 0 */
    CHECK_CONTAINS(psr_err_msg(), want);
    rd_close(r);
    write_file(path, "", 0);
    psr_gz_t *z;
    CHECK_INT(psr_gz_open(path, 0, &z), PSR_ERR_FORMAT);
    CHECK(z == NULL);
    snprintf(want, sizeof want, "%s: named .gz but is not gzip data (the file is empty", path);
    CHECK_CONTAINS(psr_err_msg(), want);
    write_file(path, "\x1f", 1); /* one byte of the magic */
    CHECK_INT(psr_gz_open(path, 0, &z), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "starts with bytes 1f,");
    tmp_path(path, sizeof path, "nothere.gz");
    CHECK_INT(psr_gz_open(path, 0, &z), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "nothere.gz: cannot open: no such file");

    /* two members, split mid-line: one stream, every row, in order, for any share */
    tmp_path(path, sizeof path, "two.tsv.gz");
    const size_t cut = g.size / 2 + 17;
    CHECK(g.text[cut - 1] != '\n');
    write_members(path, g.text, cut, g.text + cut, g.size - cut, NULL, 0);
    check_gz_bytes(path, g.text, g.size);
    int n = read_share(files, 1, 0, 1, CFG_INT_BUCKET, ids_a, MAX_ID);
    CHECK_INT(n, 3000);
    for (int i = 0; i < n; i++)
        if (ids_a[i] != 50000 + i) {
            CHECK_INT(ids_a[i], 50000 + i);
            break;
        }
    check_stride_shares(path, &g, 3);
    /* an empty member among them is legal too */
    write_members(path, g.text, g.size, "", 0, NULL, 0);
    CHECK_INT(read_share(files, 1, 0, 1, CFG_INT_BUCKET, ids_a, MAX_ID), 3000);

    /* resume inside the second member: rd_seek decompresses up to the saved offset */
    write_members(path, g.text, cut, g.text + cut, g.size - cut, NULL, 0);
    {
        rd_reader_t *a, *b;
        rd_pos_t pos;
        CHECK_INT(rd_open(&a, files, 1, 0, 1, CFG_INT_BUCKET, 0), PSR_OK);
        for (int k = 0; k < 2500; k++) CHECK_INT(rd_next(a, &row), 1);
        rd_tell(a, &pos);
        CHECK(pos.offset > (int64_t)cut);
        CHECK_INT(rd_open(&b, files, 1, 0, 1, CFG_INT_BUCKET, 0), PSR_OK);
        CHECK_INT(rd_seek(b, &pos), PSR_OK);
        int m = 0;
        while ((rc = rd_next(b, &row)) == 1) {
            if (row_id(&row) != 52500 + m) break;
            m++;
        }
        CHECK_INT(rc, 0);
        CHECK_INT(m, 500);
        rd_close(a);
        rd_close(b);
    }

    /* G2: a member followed by junk: every row of the member, then an error naming the file
     * and the offset where the member ends; the same after the second of two members */
    const char *junks[3] = {"junk appended\n", "\0\0\0\0", "x"};
    const size_t junk_len[3] = {14, 4, 1};
    for (int j = 0; j < 3; j++)
        for (int two = 0; two < 2; two++) {
            tmp_path(path, sizeof path, "junk.tsv.gz");
            size_t end = two ? write_members(path, g.text, cut, g.text + cut, g.size - cut,
                                             junks[j], junk_len[j])
                             : write_members(path, g.text, g.size, NULL, 0, junks[j],
                                             junk_len[j]);
            CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 0), PSR_OK);
            n = 0;
            while ((rc = rd_next(r, &row)) == 1) n++;
            CHECK_INT(rc, -PSR_ERR_FORMAT);
            CHECK_INT(n, 3000);
            snprintf(want, sizeof want, "%s: trailing garbage at byte offset %zu: %zu byte%s after "
                     "gzip member %d that do not start another member", path, end, junk_len[j],
                     junk_len[j] == 1 ? "" : "s", two ? 2 : 1);
            CHECK_CONTAINS(psr_err_msg(), want);
            CHECK_INT(rd_next(r, &row), -PSR_ERR_FORMAT); /* sticky */
            rd_close(r);
        }
    CHECK_CONTAINS(psr_err_msg(), "(they start with 78, a member with 1f 8b)");

    /* G3 through psr_gz: a member cut inside its trailer is truncated, a bad CRC corrupt */
    tmp_path(path, sizeof path, "cut.tsv.gz");
    size_t end = write_members(path, g.text, g.size, NULL, 0, NULL, 0);
    size_t zl;
    char *zb = slurp(path, &zl);
    CHECK_INT(zl, end);
    write_file(path, zb, zl - 3);
    CHECK_INT(psr_gz_open(path, 0, &z), PSR_OK);
    char *buf = malloc(g.size + 1);
    size_t got, have = 0;
    while ((rc = psr_gz_read(z, buf + have, 65536, &got)) == PSR_OK && got) have += got;
    CHECK_INT(rc, PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "cut.tsv.gz: truncated gzip file");
    psr_gz_close(z);
    zb[zl - 8] ^= 0x01; /* CRC32 in the trailer */
    write_file(path, zb, zl);
    CHECK_INT(psr_gz_open(path, 0, &z), PSR_OK);
    have = 0;
    while ((rc = psr_gz_read(z, buf + have, 65536, &got)) == PSR_OK && got) have += got;
    CHECK_INT(rc, PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "cut.tsv.gz: corrupt gzip data: incorrect data check");
    psr_gz_close(z);
    free(buf);
    free(zb);
    gf_free(&g);
}

/* ------------------------------------------------------------------------------------ */
/* Path expansion                                                                       */

static void test_expand(void)
{
    char dir[700], p[1200];
    tmp_path(dir, sizeof dir, "glob");
    mkdir_p(dir);
    const char *names[] = {"b.tsv", "a.tsv", "B.tsv", "c.tsv.gz", "a.tsv~"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        write_file(p, "", 0);
    }
    snprintf(p, sizeof p, "%s/sub.tsv", dir); /* a directory matching *.tsv */
    mkdir(p, 0755);

    cfg_paths_t *ps = calloc(1, sizeof *ps);
    char **files = NULL;
    int n = -1;
    snprintf(ps->path[0], CFG_PATH_MAX, "%s/*.tsv", dir);
    snprintf(ps->path[1], CFG_PATH_MAX, "%s/a.tsv", dir);
    snprintf(ps->path[2], CFG_PATH_MAX, "%s/*.gz", dir);
    snprintf(ps->path[3], CFG_PATH_MAX, "%s/[ab].tsv", dir);
    ps->n = 4;
    int rc = rd_expand_paths(ps, "data.train", &files, &n);
    CHECK_INT(rc, PSR_OK);
    const char *want[] = {"B.tsv", "a.tsv", "b.tsv", "c.tsv.gz"}; /* bytewise: 'B' < 'a' */
    CHECK_INT(n, 4);
    for (int i = 0; i < n && i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, want[i]);
        CHECK(strcmp(files[i], p) == 0);
    }
    rd_free_paths(files, n);

    /* a plain path that does not exist */
    snprintf(ps->path[0], CFG_PATH_MAX, "x.tsv");
    ps->n = 1;
    files = (char **)1;
    rc = rd_expand_paths(ps, "data.train", &files, &n);
    CHECK_INT(rc, PSR_ERR_IO);
    CHECK(files == NULL);
    CHECK_INT(n, 0);
    CHECK_CONTAINS(psr_err_msg(), "data.train: 'x.tsv': no such file");

    /* one good pattern then one matching nothing: an error, nothing leaked */
    snprintf(ps->path[0], CFG_PATH_MAX, "%s/*.tsv", dir);
    snprintf(ps->path[1], CFG_PATH_MAX, "%s/*.csv", dir);
    ps->n = 2;
    rc = rd_expand_paths(ps, "data.test", &files, &n);
    CHECK_INT(rc, PSR_ERR_IO);
    snprintf(p, sizeof p, "data.test: '%s/*.csv': the pattern matches no file", dir);
    CHECK_CONTAINS(psr_err_msg(), p);

    /* a directory named as a plain path */
    snprintf(ps->path[0], CFG_PATH_MAX, "%s", dir);
    ps->n = 1;
    CHECK_INT(rd_expand_paths(ps, "data.train", &files, &n), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "is a directory");

    /* nothing given */
    ps->n = 0;
    CHECK_INT(rd_expand_paths(ps, "data.train", &files, &n), PSR_ERR_CONFIG);
    free(ps);
    rd_free_paths(NULL, 0);
}

int main(void)
{
    const char *base = getenv("PSREC_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_reader.%d", base && *base ? base : "/tmp",
             (int)getpid());
    mkdir_p(tmpdir);
    id_index_init();
    ids_a = malloc(MAX_ID * sizeof *ids_a);
    ids_b = malloc(MAX_ID * sizeof *ids_b);

    test_parse_row();
    test_parse_errors();
    test_files_and_shares();
    test_malformed();
    test_long_line();
    test_io_errors();
    test_gzip_strict();
    test_expand();

    free(ids_a);
    free(ids_b);
    free(id_keys);
    if (!check_failures) { /* keep the data of a failed run for a look */
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    }
    CHECK_DONE();
}
