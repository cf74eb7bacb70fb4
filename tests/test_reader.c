/* test_reader: the Criteo reader (common/reader.h): row parsing against an independent
 * formula, malformed-row reasons, plain vs .gz, worker shares (exactly once, by rule,
 * balanced), rewind, bad-row reports with file:line, I/O errors, strict gzip (a plain file
 * named .gz, concatenated members, trailing garbage), path expansion, and the shuffle window
 * (rule 7) over Criteo text with malformed rows and .gz, csv with raw ids, and generated rows:
 * permutations within windows, per pass and per seed, exact positions mid-window, at window
 * edges and across rewinds, mismatched positions, and rd_open_cfg's use of it.
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
#include "prep.h"
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


/* ------------------------------------------------------------------------------------ */
/* Shuffle window (rule 7)                                                              */

/* A row's content as one number: label, time, dense values, features and raw ids. */
static uint64_t row_sig(const rd_row_t *r)
{
    uint64_t h = psr_hash_bytes(&r->label, sizeof r->label, 0x736967);
    h = psr_hash_bytes(&r->time, sizeof r->time, h);
    int32_t n[4] = {r->n_dense, r->n_feat, r->user_tok ? r->user_len : -1,
                    r->item_tok ? r->item_len : -1};
    h = psr_hash_bytes(n, sizeof n, h);
    if (r->n_dense > 0) h = psr_hash_bytes(r->dense, (size_t)r->n_dense * sizeof *r->dense, h);
    if (r->n_feat > 0) {
        h = psr_hash_bytes(r->field, (size_t)r->n_feat * sizeof *r->field, h);
        h = psr_hash_bytes(r->key, (size_t)r->n_feat * sizeof *r->key, h);
        h = psr_hash_bytes(r->val, (size_t)r->n_feat * sizeof *r->val, h);
    }
    if (n[2] > 0) h = psr_hash_bytes(r->user_tok, (size_t)n[2], h);
    if (n[3] > 0) h = psr_hash_bytes(r->item_tok, (size_t)n[3], h);
    return h;
}

/* How to open a reader of one share: rd_open_cfg(RD_USE_TRAIN) of a copy of `cfg` with
 * data.shuffle_buffer and train.seed set; else rd_open_text (text) or rd_open (Criteo) of
 * `files`, followed by rd_shuffle. */
typedef struct {
    const char *what;
    const cfg_t *cfg;
    char *const *files;
    int n_files, w, W;
    const prep_text_t *text;
    int64_t max_bad;
} src_t;

static rd_reader_t *open_src(const src_t *s, int64_t N, uint64_t seed)
{
    rd_reader_t *r = NULL;
    int rc;
    if (s->cfg) {
        cfg_t *c = malloc(sizeof *c);
        *c = *s->cfg;
        c->data.shuffle_buffer = (int)N;
        c->train.seed = seed;
        rc = rd_open_cfg(&r, c, RD_USE_TRAIN, s->w, s->W);
        free(c);
    } else {
        rc = s->text ? rd_open_text(&r, s->files, s->n_files, s->w, s->W, s->text, s->max_bad)
                     : rd_open(&r, s->files, s->n_files, s->w, s->W, CFG_INT_BUCKET, s->max_bad);
        if (rc == PSR_OK) rc = rd_shuffle(r, N, seed);
    }
    if (rc != PSR_OK) {
        fprintf(stderr, "%s: cannot open a reader: %s\n", s->what, psr_err_msg());
        exit(2);
    }
    return r;
}

/* Up to `max` rows (all when max < 0) as signatures into out; the count, or -1 (a failed
 * check) when rd_next fails or, reading all, the pass has more than `cap` rows. */
static int64_t read_sigs(rd_reader_t *r, int64_t max, uint64_t *out, int64_t cap)
{
    rd_row_t row;
    int64_t n = 0;
    int rc = 1;
    while ((max < 0 || n < max) && (rc = rd_next(r, &row)) == 1) {
        if (n == cap) {
            CHECK(n < cap);
            return -1;
        }
        out[n++] = row_sig(&row);
    }
    CHECK(rc >= 0);
    if (rc < 0) fprintf(stderr, "  rd_next: %s\n", psr_err_msg());
    return rc < 0 ? -1 : n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The same multiset of rows in a[0..n) and b[0..n). */
static int same_rows(const uint64_t *a, const uint64_t *b, int64_t n, uint64_t *tmp)
{
    memcpy(tmp, a, (size_t)n * sizeof *a);
    memcpy(tmp + n, b, (size_t)n * sizeof *b);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_u64);
    qsort(tmp + n, (size_t)n, sizeof *tmp, cmp_u64);
    return n == 0 || memcmp(tmp, tmp + n, (size_t)n * sizeof *tmp) == 0;
}

static int same_seq(const uint64_t *a, const uint64_t *b, int64_t n)
{
    return n == 0 || memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

#define SH_PASSES 3

/* Rule 7 on one share with windows of N rows: every pass is a permutation of the sequential
 * rows that keeps each row in its window; passes differ; the same seed gives the same order,
 * another seed another; rd_tell after any number of rows (inside windows, at their edges, at
 * the end), rd_seek on a fresh reader, gives exactly the rest of that pass, and after a
 * rewind the next pass; malformed rows are reported as by the sequential reader. */
static void check_shuffle(const src_t *s, int64_t N, int64_t want_rows, int64_t want_bad)
{
    const int64_t cap = want_rows + 1;
    uint64_t *base = malloc((size_t)cap * sizeof *base), *tmp = malloc(2 * (size_t)cap * 8);
    uint64_t *p[SH_PASSES], *q = malloc((size_t)cap * sizeof *q);
    for (int i = 0; i < SH_PASSES; i++) p[i] = malloc((size_t)cap * sizeof *p[i]);

    capture_begin();
    rd_reader_t *r = open_src(s, 0, 7);
    int64_t n = read_sigs(r, -1, base, cap);
    rd_close(r);
    char *warn_seq = capture_end();
    CHECK_INT(n, want_rows);
    if (n != want_rows) fprintf(stderr, "  %s, N=%lld\n", s->what, (long long)N);

    /* three passes, the first with its warnings captured */
    r = open_src(s, N, 7);
    capture_begin();
    int64_t m = read_sigs(r, -1, p[0], cap);
    char *warn_shuf = capture_end();
    CHECK_INT(m, n);
    CHECK(strcmp(warn_seq, warn_shuf) == 0);
    if (want_bad) CHECK_CONTAINS(warn_shuf, ": malformed row: ");
    CHECK_INT(rd_bad_rows(r), want_bad);
    for (int i = 1; i < SH_PASSES; i++) {
        CHECK_INT(rd_rewind(r), PSR_OK);
        CHECK_INT(read_sigs(r, -1, p[i], cap), n);
    }
    CHECK_INT(rd_rows_read(r), SH_PASSES * n);
    CHECK_INT(rd_bad_rows(r), SH_PASSES * want_bad);
    rd_close(r);
    int perm = 1, windows = 1;
    for (int i = 0; i < SH_PASSES; i++) {
        perm &= same_rows(p[i], base, n, tmp);
        for (int64_t k = 0; k < n; k += N) {
            int64_t len = n - k < N ? n - k : N;
            windows &= same_rows(p[i] + k, base + k, len, tmp);
        }
    }
    CHECK(perm);
    CHECK(windows);
    if (N == 1) CHECK(same_seq(p[0], base, n)); /* a window of one row is no shuffle */
    if (N >= 8 && n >= 16) {                     /* 1/8! chances of a false failure at most */
        CHECK(!same_seq(p[0], base, n));
        CHECK(!same_seq(p[1], p[0], n));
        CHECK(!same_seq(p[2], p[1], n));
    }

    /* the same seed: the same passes; another seed: another order */
    capture_begin();
    r = open_src(s, N, 7);
    for (int i = 0; i < SH_PASSES; i++) {
        if (i) CHECK_INT(rd_rewind(r), PSR_OK);
        CHECK_INT(read_sigs(r, -1, q, cap), n);
        CHECK(same_seq(q, p[i], n));
    }
    rd_close(r);
    r = open_src(s, N, 8);
    CHECK_INT(read_sigs(r, -1, q, cap), n);
    if (N >= 8 && n >= 16) CHECK(!same_seq(q, p[0], n));
    CHECK(same_rows(q, base, n, tmp));
    rd_close(r);
    free(capture_end());

    /* tell / seek in passes 0 and 1 */
    int64_t cuts[] = {0, 1, N - 1, N, N + 1, 2 * N - 1, 2 * N, 2 * N + 1, n / 2, n - 1, n};
    int bad_cut = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
            const int64_t cut = cuts[c];
            if (cut < 0 || cut > n) continue;
            rd_reader_t *a = open_src(s, N, 7), *b = open_src(s, N, 7);
            CHECK(rd_share_fingerprint(a) == rd_share_fingerprint(b));
            capture_begin(); /* the warnings of a re-read window are printed again */
            if (pass) {
                read_sigs(a, -1, q, cap);
                CHECK_INT(rd_rewind(a), PSR_OK);
            }
            int64_t got = read_sigs(a, cut, q, cap);
            rd_pos_t pos, again;
            rd_tell(a, &pos);
            /* the checks of one cut, each a bit of `ok`, named in a failure's message */
            static const char *const what[] = {
                "rows before the cut", "the position's window and pass", "rd_rows_read",
                "rd_seek", "rd_tell after rd_seek", "rows after the cut",
                "rd_rows_read after them", "the next pass"};
            unsigned ok = got == cut && same_seq(q, p[pass], cut);
            /* window k = cut / N with cut % N rows returned; at the end of the pass after a
             * short window, the window after it with none */
            const int64_t k = cut == n && n % N ? n / N + 1 : cut / N, done = cut - k * N;
            ok |= (unsigned)(pos.blocks[0] == RD_POS_WINDOW && pos.blocks[1] == N &&
                             pos.blocks[2] == k && pos.blocks[3] == (done > 0 ? done : 0) &&
                             pos.blocks[4] == 0 && pos.blocks[5] == 0 && pos.pass == pass)
                  << 1;
            ok |= (unsigned)(rd_rows_read(a) == pass * n + cut) << 2;
            ok |= (unsigned)(rd_seek(b, &pos) == PSR_OK) << 3;
            rd_tell(b, &again);
            const int gen = s->cfg && s->cfg->data.source == CFG_SOURCE_GENERATE;
            if (gen) again.rows = pos.rows; /* generated rows count rows since open */
            ok |= (unsigned)(memcmp(&pos, &again, sizeof pos) == 0) << 4; /* same bytes saved */
            int64_t rest = read_sigs(b, -1, q, cap);
            ok |= (unsigned)(rest == n - cut && same_seq(q, p[pass] + cut, n - cut)) << 5;
            /* text restores the counters; generated rows count since open, the re-read
             * part of the window included */
            ok |= (unsigned)(rd_rows_read(b) == (gen ? n - cut + pos.blocks[3] : pass * n + n))
                  << 6;
            ok |= (unsigned)(rd_rewind(b) == PSR_OK && read_sigs(b, -1, q, cap) == n &&
                             same_seq(q, p[pass + 1], n))
                  << 7;
            free(capture_end());
            for (int i = 0; i < 8; i++)
                if (!(ok >> i & 1)) {
                    bad_cut++;
                    fprintf(stderr, "  %s, N=%lld: rd_tell after %lld rows of pass %d (window "
                            "%lld, %lld returned): %s differ\n", s->what, (long long)N,
                            (long long)cut, pass, (long long)pos.blocks[2],
                            (long long)pos.blocks[3], what[i]);
                }
            rd_close(a);
            rd_close(b);
        }
    CHECK_INT(bad_cut, 0);

    free(warn_seq);
    free(warn_shuf);
    free(base);
    free(tmp);
    free(q);
    for (int i = 0; i < SH_PASSES; i++) free(p[i]);
}

/* Positions that do not fit: another window size, none, a window count past the data;
 * fingerprints; rd_shuffle's preconditions. */
static void check_shuffle_errors(const src_t *s, int64_t N)
{
    rd_reader_t *a = open_src(s, N, 7), *b = open_src(s, 2 * N, 7), *z = open_src(s, 0, 7),
                *o = open_src(s, N, 8);
    CHECK(rd_share_fingerprint(a) != rd_share_fingerprint(b));
    CHECK(rd_share_fingerprint(a) != rd_share_fingerprint(z));
    CHECK(rd_share_fingerprint(a) != rd_share_fingerprint(o));
    capture_begin();
    rd_row_t row;
    for (int i = 0; i < N / 2 + 1; i++) CHECK_INT(rd_next(a, &row), 1);
    rd_pos_t pos, zpos;
    rd_tell(a, &pos);
    rd_tell(z, &zpos);
    CHECK_INT(rd_seek(b, &pos), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "data.shuffle_buffer");
    CHECK_INT(rd_seek(z, &pos), PSR_ERR_FORMAT);
    CHECK_INT(rd_seek(a, &zpos), PSR_ERR_FORMAT);
    rd_pos_t bad = pos;
    bad.blocks[3] = N + 1;
    CHECK_INT(rd_seek(o, &bad), PSR_ERR_FORMAT);
    bad = pos;
    bad.blocks[2] = -1;
    CHECK_INT(rd_seek(o, &bad), PSR_ERR_FORMAT);
    CHECK_INT(rd_shuffle(a, N, 7), PSR_ERR_INTERNAL); /* already shuffled and read */
    CHECK_INT(rd_shuffle(z, 5, 7), PSR_OK); /* the failed seeks left it fresh */
    rd_close(z);
    z = open_src(s, 0, 7);
    CHECK_INT(rd_next(z, &row), 1);
    CHECK_INT(rd_shuffle(z, 5, 7), PSR_ERR_INTERNAL); /* already read from */
    free(capture_end());
    rd_close(a);
    rd_close(b);
    rd_close(z);
    rd_close(o);
}

static void test_shuffle_criteo(void)
{
    /* a plain file with malformed rows and blank lines, and a .gz file, shared by 2 workers:
     * byte ranges of the plain file, every other line of the .gz file */
    char plain[1100], gz[1100];
    tmp_path(plain, sizeof plain, "shuf.tsv");
    tmp_path(gz, sizeof gz, "shuf.tsv.gz");
    char bad_int[1024];
    row_with(bad_int, sizeof bad_int, 5, "x1");
    const char *texts[3] = {"2\tfoo", bad_int, bad_int};
    int at[3] = {4, 700, 1501};
    gfile_t g = gf_with_bad(50000, 1600, at, 3, texts);
    write_file(plain, g.text, g.size);
    gfile_t h = gf_make(60000, 1400, 29, 1);
    write_gz(gz, h.text, h.size);
    char *files[2] = {plain, gz};
    int64_t total = 0, bad = 0;
    for (int w = 0; w < 2; w++) {
        int n_plain = expect_plain(&g, w, 2, ids_a), n_gz = expect_stride(&h, w, 2, ids_b);
        int64_t b = 0, S = (int64_t)g.size, lo = w * S / 2, hi = (w + 1) * S / 2;
        for (int k = 0; k < g.n_lines; k++) b += g.off[k] >= lo && g.off[k] < hi && g.id[k] == -2;
        src_t s = {.what = "criteo", .files = files, .n_files = 2, .w = w, .W = 2,
                   .max_bad = 10};
        const int64_t sizes[] = {1, 7, 256, 100000};
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
            check_shuffle(&s, sizes[i], n_plain + n_gz, b);
        total += n_plain + n_gz;
        bad += b;
        if (w == 0) check_shuffle_errors(&s, 64);
    }
    CHECK_INT(total, 1597 + 1400);
    CHECK_INT(bad, 3);

    /* max_bad_rows is checked while a window is filled, naming the row's file:line */
    {
        rd_reader_t *r = NULL;
        CHECK_INT(rd_open(&r, files, 1, 0, 1, CFG_INT_BUCKET, 2), PSR_OK);
        CHECK_INT(rd_shuffle(r, 100000, 1), PSR_OK);
        rd_row_t row;
        capture_begin();
        CHECK_INT(rd_next(r, &row), -PSR_ERR_DATA);
        free(capture_end());
        char want[1300];
        snprintf(want, sizeof want, "%s:1501: malformed row: ", plain);
        CHECK_CONTAINS(psr_err_msg(), want);
        CHECK_CONTAINS(psr_err_msg(), "exceed data.max_bad_rows=2");
        CHECK_INT(rd_next(r, &row), -PSR_ERR_DATA); /* sticky: no row past a failed window */
        rd_close(r);
    }
    gf_free(&g);
    gf_free(&h);
}

/* csv with raw user and item ids and a multi-valued column: ids and feature counts grow
 * along the file, so the window's arrays grow while it holds rows (their content must
 * survive); the config route (rd_open_cfg) shuffles the training reader only. */
static void test_shuffle_csv(void)
{
    char path[1100];
    tmp_path(path, sizeof path, "shuf.csv");
    size_t cap = 1 << 22, o = 0;
    char *text = malloc(cap);
    o += (size_t)snprintf(text, cap, "user,item,rating,time,tags\n");
    const int rows = 3000;
    for (int i = 0; i < rows; i++) {
        uint64_t h = psr_mix64((uint64_t)i);
        long long user = (long long)(h % 97) * (i < 1000 ? 1 : i < 2000 ? 1000003 : 100000000007LL);
        o += (size_t)snprintf(text + o, cap - o, "%lld,%s%d,%d.%d,%d,", user,
                              i > 2500 ? "item-with-a-much-longer-name-" : "i", (int)(h >> 20) % 400,
                              1 + (int)(h >> 30) % 5, (int)(h >> 40) % 10, 1000 + i);
        int tags = i < 1500 ? (int)(h >> 8) % 3 : (int)(h >> 8) % (10 + i / 100);
        for (int t = 0; t < tags; t++)
            o += (size_t)snprintf(text + o, cap - o, "%st%d", t ? "|" : "", (int)((h >> t) % 50));
        if (i == 777) o += (size_t)snprintf(text + o, cap - o, ",extra"); /* malformed */
        text[o++] = '\n';
    }
    write_file(path, text, o);
    free(text);

    cfg_t *c = calloc(1, sizeof *c);
    cfg_defaults(c);
    char yaml[2600];
    snprintf(yaml, sizeof yaml,
             "data:\n  format: csv\n  header_lines: 1\n  train: [%s]\n  test: [%s]\n"
             "  columns: [user, item, label, time, multi]\n  max_bad_rows: 5\n", path, path);
    int rc = cfg_load_string(c, yaml, "shuf.yaml");
    CHECK_INT(rc, PSR_OK);
    if (rc) {
        fprintf(stderr, "  %s\n", psr_err_msg());
        free(c);
        return;
    }
    prep_text_t *t = malloc(sizeof *t);
    prep_text_from_config(c, t);
    char *files[1] = {path};
    for (int W = 1; W <= 2; W++) {
        int64_t total = 0;
        for (int w = 0; w < W; w++) {
            src_t s = {.what = "csv", .files = files, .n_files = 1, .w = w, .W = W, .text = t,
                       .max_bad = 5};
            rd_reader_t *r = open_src(&s, 0, 1);
            uint64_t *sig = malloc((rows + 1) * sizeof *sig);
            capture_begin();
            int64_t n = read_sigs(r, -1, sig, rows + 1);
            free(capture_end());
            rd_close(r);
            free(sig);
            total += n;
            const int64_t b = W == 1 || w == 0; /* line 779 lies in the first half */
            check_shuffle(&s, 1000, n, b);
            check_shuffle(&s, 333, n, b);
            if (W == 2) {
                src_t sc = s;
                sc.text = NULL;
                sc.cfg = c;
                sc.what = "csv via rd_open_cfg";
                check_shuffle(&sc, 500, n, b);
            }
        }
        CHECK_INT(total, rows - 1);
    }
    /* rd_open_cfg: RD_USE_TEST and RD_USE_HELDOUT read in file order whatever
     * data.shuffle_buffer says; RD_USE_TRAIN shuffles */
    c->data.shuffle_buffer = 1000;
    uint64_t *ref = malloc(rows * sizeof *ref), *got = malloc(rows * sizeof *got);
    rd_reader_t *r = NULL;
    CHECK_INT(rd_open_text(&r, files, 1, 0, 1, t, 5), PSR_OK);
    capture_begin();
    int64_t n = read_sigs(r, -1, ref, rows);
    rd_close(r);
    for (int use = RD_USE_TRAIN; use < RD_USE_COUNT; use++) {
        CHECK_INT(rd_open_cfg(&r, c, use, 0, 1), PSR_OK);
        CHECK_INT(read_sigs(r, -1, got, rows), n);
        CHECK_INT(same_seq(got, ref, n), use != RD_USE_TRAIN);
        rd_close(r);
    }
    free(capture_end());
    free(ref);
    free(got);
    free(t);
    free(c);
}

/* Generated rows (data.source generate) through rd_open_cfg. */
static void test_shuffle_generated(void)
{
    cfg_t *c = calloc(1, sizeof *c);
    cfg_defaults(c);
    int rc = cfg_load_string(c, "data:\n  source: generate\n  gen_rows: 2501\n  gen_seed: 4\n"
                                "  gen_test_rows: 300\n", "gen.yaml");
    CHECK_INT(rc, PSR_OK);
    if (rc) {
        free(c);
        return;
    }
    for (int w = 0; w < 2; w++) {
        src_t s = {.what = "generated", .cfg = c, .w = w, .W = 2};
        check_shuffle(&s, 100, 1251 - w, 0);
        check_shuffle(&s, 4096, 1251 - w, 0);
        if (w == 1) check_shuffle_errors(&s, 50);
    }
    /* the test rows are never shuffled */
    rd_reader_t *a = NULL, *b = NULL;
    c->data.shuffle_buffer = 100;
    CHECK_INT(rd_open_cfg(&a, c, RD_USE_TEST, 0, 1), PSR_OK);
    c->data.shuffle_buffer = 0;
    CHECK_INT(rd_open_cfg(&b, c, RD_USE_TEST, 0, 1), PSR_OK);
    uint64_t x[301], y[301];
    CHECK_INT(read_sigs(a, -1, x, 301), 300);
    CHECK_INT(read_sigs(b, -1, y, 301), 300);
    CHECK(same_seq(x, y, 300));
    rd_close(a);
    rd_close(b);
    free(c);
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
    test_shuffle_criteo();
    test_shuffle_csv();
    test_shuffle_generated();

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
