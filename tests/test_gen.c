/* test_gen: the synthetic-data generator. Same seed -> same bytes (plain and gzip), another
 * seed -> other bytes; 40 fields per line that the reader accepts, with the bucket keys the
 * planted model is written in; the optimum line and its value re-computed from re-drawn test
 * rows; the test file independent of --rows; CTR and missing rates; I/O errors named and no
 * temporary files left behind. The default truth's output is pinned by CRC32; the deep truth
 * is deterministic, has the same features with other labels, and has three-field
 * interactions exactly where gen.c rule 8 puts them (the FM truth has none). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "testfs.h"
#include "config.h"
#include "gen.h"
#include "hash.h"
#include "metrics.h"
#include "psr_error.h"
#include "reader.h"

/* The test stream as documented in gen.c: psr_rng_seed(psr_mix64(seed) ^ GEN_STREAM_TEST). */
#define TEST_STREAM 0x7465737400000004ULL

/* Whole file into memory (NUL-terminated); NULL if it cannot be read. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    size_t got;
    while ((got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) b = realloc(b, (cap *= 2) + 1);
    }
    fclose(f);
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

static int same_file(const char *d1, const char *d2, const char *name)
{
    size_t n1 = 0, n2 = 0;
    char *a = slurp(d1, name, &n1), *b = slurp(d2, name, &n2);
    int same = a && b && n1 == n2 && memcmp(a, b, n1) == 0;
    free(a);
    free(b);
    return same;
}

static int file_exists(const char *dir, const char *name)
{
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static int run_gen_truth(const char *dir, int64_t rows, int64_t test_rows, uint64_t seed,
                         int gzip, int truth, double *auc, double *ll)
{
    gen_opts_t o = {.rows = rows,
                    .test_rows = test_rows,
                    .seed = seed,
                    .gzip = gzip,
                    .truth = truth,
                    .out_dir = dir};
    double a, l;
    int rc = gen_write(&o, auc ? auc : &a, ll ? ll : &l);
    if (rc != PSR_OK) fprintf(stderr, "gen_write(%s): %s\n", dir, psr_err_msg());
    return rc;
}

static int run_gen(const char *dir, int64_t rows, int64_t test_rows, uint64_t seed, int gzip,
                   double *auc, double *ll)
{
    return run_gen_truth(dir, rows, test_rows, seed, gzip, GEN_TRUTH_FM, auc, ll);
}

/* CRC32 (zlib) of a file of dir; 0 if it cannot be read. */
static unsigned long file_crc(const char *dir, const char *name)
{
    size_t n = 0;
    char *b = slurp(dir, name, &n);
    if (!b) return 0;
    unsigned long c = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)b, (uInt)n);
    free(b);
    return c;
}

static size_t count_lines(const char *b, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += b[i] == '\n';
    return k;
}

static void test_determinism(void)
{
    const char *a = scratch("det_a/nested/dir"), *b = scratch("det_b"), *c = scratch("det_c");
    CHECK_INT(run_gen(a, 3000, 1000, 7, 0, NULL, NULL), PSR_OK); /* mkdir -p of a nested path */
    CHECK_INT(run_gen(b, 3000, 1000, 7, 0, NULL, NULL), PSR_OK);
    CHECK_INT(run_gen(c, 3000, 1000, 8, 0, NULL, NULL), PSR_OK);
    CHECK(same_file(a, b, "train.tsv"));
    CHECK(same_file(a, b, "test.tsv"));
    CHECK(same_file(a, b, "optimum.txt"));
    CHECK(!same_file(a, c, "train.tsv"));
    CHECK(!same_file(a, c, "test.tsv"));
    /* running again over an existing output replaces it with the same bytes */
    CHECK_INT(run_gen(b, 3000, 1000, 7, 0, NULL, NULL), PSR_OK);
    CHECK(same_file(a, b, "train.tsv"));

    const char *za = scratch("det_za"), *zb = scratch("det_zb"), *zc = scratch("det_zc");
    CHECK_INT(run_gen(za, 3000, 1000, 7, 1, NULL, NULL), PSR_OK);
    CHECK_INT(run_gen(zb, 3000, 1000, 7, 1, NULL, NULL), PSR_OK);
    CHECK_INT(run_gen(zc, 3000, 1000, 8, 1, NULL, NULL), PSR_OK);
    CHECK(same_file(za, zb, "train.tsv.gz"));
    CHECK(same_file(za, zb, "test.tsv.gz"));
    CHECK(!same_file(za, zc, "train.tsv.gz"));
    CHECK(same_file(a, za, "optimum.txt"));
    /* the gzip files hold exactly the plain files' bytes */
    size_t n1 = 0, n2 = 0;
    char *plain = slurp(a, "train.tsv", &n1), *unz = gz_slurp(za, "train.tsv.gz", &n2);
    CHECK(plain && unz && n1 == n2 && memcmp(plain, unz, n1) == 0);
    free(plain);
    free(unz);
    plain = slurp(a, "test.tsv", &n1);
    unz = gz_slurp(za, "test.tsv.gz", &n2);
    CHECK(plain && unz && n1 == n2 && memcmp(plain, unz, n1) == 0);
    free(plain);
    free(unz);
    CHECK(!file_exists(a, ".train.tsv.tmp"));
    CHECK(!file_exists(za, ".train.tsv.gz.tmp"));
}

/* Every line: 40 fields, label 0/1, integers or empty, 8 lowercase hex digits or empty; the
 * reader accepts it, and its bucket keys are those of gen's integer values. */
static void test_format(void)
{
    const char *d = scratch("fmt");
    const int64_t rows = 20000;
    CHECK_INT(run_gen(d, rows, 100, 3, 0, NULL, NULL), PSR_OK);
    size_t n = 0;
    char *b = slurp(d, "train.tsv", &n);
    CHECK(b != NULL);
    if (!b) return;
    CHECK_INT(count_lines(b, n), rows);
    CHECK(n > 0 && b[n - 1] == '\n');
    int bad_fields = 0, bad_label = 0, bad_int = 0, bad_tok = 0, bad_parse = 0, bad_key = 0;
    int64_t clicks = 0, empty_i12 = 0, empty_c22 = 0, negative_i2 = 0, big_i5 = 0;
    rd_row_t row;
    char why[256];
    char *line = b;
    for (int64_t r = 0; r < rows; r++) {
        char *end = strchr(line, '\n');
        if (!end) break;
        size_t len = (size_t)(end - line);
        /* split */
        const char *f[RD_CRITEO_FIELDS + 2];
        size_t fl[RD_CRITEO_FIELDS + 2];
        int nf = 0;
        const char *s = line;
        for (const char *p = line;; p++) {
            if (p == end || *p == '\t') {
                if (nf < RD_CRITEO_FIELDS + 2) {
                    f[nf] = s;
                    fl[nf] = (size_t)(p - s);
                }
                nf++;
                s = p + 1;
                if (p == end) break;
            }
        }
        if (nf != RD_CRITEO_FIELDS + 1) {
            bad_fields++;
            line = end + 1;
            continue;
        }
        if (fl[0] != 1 || (f[0][0] != '0' && f[0][0] != '1')) bad_label++;
        clicks += f[0][0] == '1';
        int64_t iv[RD_CRITEO_INT];
        for (int k = 0; k < RD_CRITEO_INT; k++) {
            const char *t = f[1 + k];
            size_t tl = fl[1 + k];
            iv[k] = INT64_MIN;
            if (tl == 0) continue;
            char tmp[32];
            if (tl >= sizeof tmp) {
                bad_int++;
                continue;
            }
            memcpy(tmp, t, tl);
            tmp[tl] = '\0';
            char *e;
            errno = 0;
            long long v = strtoll(tmp, &e, 10);
            if (*e || errno) bad_int++;
            iv[k] = v;
        }
        for (int k = 0; k < RD_CRITEO_CAT; k++) {
            const char *t = f[1 + RD_CRITEO_INT + k];
            size_t tl = fl[1 + RD_CRITEO_INT + k];
            if (tl == 0) continue;
            int ok = tl == 8;
            for (size_t i = 0; i < tl && ok; i++)
                ok = (t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f');
            bad_tok += !ok;
        }
        empty_i12 += fl[1 + 11] == 0;
        empty_c22 += fl[1 + RD_CRITEO_INT + 21] == 0;
        negative_i2 += fl[1 + 1] > 0 && iv[1] < 0;
        big_i5 += fl[1 + 4] > 0 && iv[4] > 100000;
        if (rd_parse_criteo(line, len, CFG_INT_BUCKET, &row, why, sizeof why) != PSR_OK) {
            if (bad_parse++ == 0) fprintf(stderr, "reader refused line %" PRId64 ": %s\n", r, why);
        } else {
            for (int k = 0; k < RD_CRITEO_INT; k++) {
                int64_t bkt;
                if (fl[1 + k] == 0)
                    bkt = INT64_MIN + 1;
                else if (iv[k] < 0)
                    bkt = -1;
                else if (iv[k] <= 2)
                    bkt = iv[k];
                else
                    bkt = (int64_t)floor(log((double)iv[k]) * log((double)iv[k]));
                bad_key += row.key[k] != psr_feature_key_int(k, bkt);
            }
            bad_key += row.label != (f[0][0] == '1' ? 1.0f : 0.0f);
        }
        line = end + 1;
    }
    CHECK_INT(bad_fields, 0);
    CHECK_INT(bad_label, 0);
    CHECK_INT(bad_int, 0);
    CHECK_INT(bad_tok, 0);
    CHECK_INT(bad_parse, 0);
    CHECK_INT(bad_key, 0);
    double ctr = (double)clicks / (double)rows;
    CHECK(ctr > 0.2 && ctr < 0.3);
    CHECK_NEAR((double)empty_i12 / rows, 0.77, 0.02, 0);  /* int_spec I12 */
    CHECK_NEAR((double)empty_c22 / rows, 0.75, 0.02, 0);  /* cat_spec C22 */
    CHECK_NEAR((double)negative_i2 / rows, 0.15, 0.02, 0); /* I2: -1..-3 as in Criteo */
    CHECK(big_i5 > 0);                                     /* long-tailed counts */
    free(b);
}

/* optimum.txt is one line in the documented format; its numbers are the returned values and
 * the AUC / logloss of the true p of the re-drawn test rows, which format to the test file. */
static void test_optimum(void)
{
    const char *d = scratch("opt");
    const uint64_t seed = 11;
    const int64_t nt = 20000;
    double auc = 0, ll = 0;
    CHECK_INT(run_gen(d, 500, nt, seed, 0, &auc, &ll), PSR_OK);
    size_t n = 0;
    char *txt = slurp(d, "optimum.txt", &n);
    CHECK(txt != NULL);
    if (!txt) return;
    double fa = -1, fl = -1;
    int used = 0;
    CHECK_INT(sscanf(txt, "optimum: auc=%lf logloss=%lf\n%n", &fa, &fl, &used), 2);
    char want[128];
    snprintf(want, sizeof want, "optimum: auc=%.6f logloss=%.6f\n", auc, ll);
    CHECK(strcmp(txt, want) == 0);
    CHECK_INT(count_lines(txt, n), 1);
    CHECK_NEAR(fa, auc, 5e-7, 0);
    CHECK_NEAR(fl, ll, 5e-7, 0);
    CHECK(auc > 0.75 && auc < 0.85);
    CHECK(ll > 0.35 && ll < 0.55);

    gen_model_t *m = gen_model_new(seed, GEN_TRUTH_FM);
    CHECK(m != NULL);
    size_t tn = 0;
    char *test = slurp(d, "test.tsv", &tn);
    double *p = malloc(nt * sizeof *p);
    float *y = malloc(nt * sizeof *y);
    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(seed) ^ TEST_STREAM);
    gen_row_t row;
    size_t off = 0;
    int mismatched = 0;
    char line[1024];
    for (int64_t i = 0; i < nt; i++) {
        gen_draw(m, &rng, &row);
        p[i] = row.p;
        y[i] = row.label;
        size_t len = gen_format_row(m, &row, line, sizeof line);
        if (!test || off + len > tn || memcmp(test + off, line, len) != 0) mismatched++;
        off += len;
    }
    CHECK_INT(mismatched, 0);
    CHECK_INT(off, tn);
    CHECK_NEAR(met_auc_d(p, y, nt), auc, 0, 0);
    CHECK_NEAR(met_logloss_d(p, y, nt), ll, 0, 0);
    /* the planted p is informative and calibrated: mean p ~ CTR */
    double sp = 0, sy = 0;
    for (int64_t i = 0; i < nt; i++) {
        sp += p[i];
        sy += y[i];
    }
    CHECK_NEAR(sp / nt, sy / nt, 0.015, 0);
    CHECK_NEAR(sp / nt, 0.25, 0.02, 0);
    free(p);
    free(y);
    free(test);
    free(txt);
    gen_model_free(m);
}

/* The test file depends only on (seed, test rows); the train file of fewer rows is a prefix. */
static void test_streams(void)
{
    const char *a = scratch("rows_a"), *b = scratch("rows_b");
    double auc_a, auc_b;
    CHECK_INT(run_gen(a, 1000, 3000, 5, 0, &auc_a, NULL), PSR_OK);
    CHECK_INT(run_gen(b, 4000, 3000, 5, 0, &auc_b, NULL), PSR_OK);
    CHECK(same_file(a, b, "test.tsv"));
    CHECK(same_file(a, b, "optimum.txt"));
    CHECK_NEAR(auc_a, auc_b, 0, 0);
    size_t na = 0, nb = 0;
    char *ta = slurp(a, "train.tsv", &na), *tb = slurp(b, "train.tsv", &nb);
    CHECK(ta && tb && na < nb && memcmp(ta, tb, na) == 0);
    CHECK(!same_file(a, b, "train.tsv"));
    /* train and test rows come from different streams */
    size_t nt = 0;
    char *te = slurp(a, "test.tsv", &nt);
    CHECK(te && ta && memcmp(te, ta, nt < na ? nt : na) != 0);
    free(ta);
    free(tb);
    free(te);

    /* zero rows: empty files; no test rows: NaN optimum, printed as nan */
    const char *z = scratch("rows_zero");
    double auc = 0;
    CHECK_INT(run_gen(z, 0, 0, 5, 0, &auc, NULL), PSR_OK);
    CHECK(isnan(auc));
    size_t n = 99;
    char *e = slurp(z, "train.tsv", &n);
    CHECK(e && n == 0);
    free(e);
    char *o = slurp(z, "optimum.txt", &n);
    CHECK(o && strcmp(o, "optimum: auc=nan logloss=nan\n") == 0);
    free(o);
}

static void test_model_and_format_row(void)
{
    gen_model_t *m1 = gen_model_new(42, GEN_TRUTH_FM), *m2 = gen_model_new(42, GEN_TRUTH_FM);
    gen_model_t *m3 = gen_model_new(43, GEN_TRUTH_FM);
    CHECK(m1 && m2 && m3);
    CHECK(gen_model_new(1, GEN_TRUTH_COUNT) == NULL);
    CHECK(gen_model_new(1, GEN_TRUTH_COUNT + 1) == NULL);
    CHECK(strcmp(gen_truth_name(GEN_TRUTH_FM), "fm") == 0);
    CHECK(strcmp(gen_truth_name(GEN_TRUTH_DEEP), "deep") == 0);
    CHECK(strcmp(gen_truth_name(GEN_TRUTH_COUNT), "?") == 0);
    CHECK_INT(gen_truth_parse("fm"), GEN_TRUTH_FM);
    CHECK_INT(gen_truth_parse("deep"), GEN_TRUTH_DEEP);
    CHECK_INT(gen_truth_parse("Deep"), -1);
    CHECK_INT(gen_truth_parse(""), -1);
    CHECK_INT(gen_truth_parse(NULL), -1);
    CHECK(gen_model_new(1, -1) == NULL);
    gen_model_free(NULL);
    psr_rng_t r1, r2, r3;
    psr_rng_seed(&r1, 9);
    psr_rng_seed(&r2, 9);
    psr_rng_seed(&r3, 9);
    int diff12 = 0, diff13 = 0, missing_cat = 0, missing_int = 0;
    gen_row_t a, b, c;
    for (int i = 0; i < 2000; i++) {
        gen_draw(m1, &r1, &a);
        gen_draw(m2, &r2, &b);
        gen_draw(m3, &r3, &c);
        diff12 += a.p != b.p || a.label != b.label || memcmp(a.ints, b.ints, sizeof a.ints) ||
                  memcmp(a.cats, b.cats, sizeof a.cats);
        diff13 += a.p != c.p; /* same features (same stream), other parameters */
        for (int f = 0; f < RD_CRITEO_CAT; f++) missing_cat += a.cats[f] == GEN_MISSING_CAT;
        for (int f = 0; f < RD_CRITEO_INT; f++) missing_int += a.ints[f] == GEN_MISSING_INT;
        CHECK(a.p > 0 && a.p < 1);
    }
    CHECK_INT(diff12, 0);
    CHECK(diff13 > 1900);
    CHECK(missing_cat > 0 && missing_int > 0);

    /* gen_format_row: returns 0 when cap is too small, never writes past cap */
    char buf[1024], small[1024];
    size_t len = gen_format_row(m1, &a, buf, sizeof buf);
    CHECK(len > 0 && buf[len - 1] == '\n');
    memset(small, 'x', sizeof small);
    CHECK_INT(gen_format_row(m1, &a, small, len), 0);
    CHECK(small[0] == 'x');
    CHECK_INT(gen_format_row(m1, &a, small, len + 1), len);
    CHECK(memcmp(small, buf, len) == 0 && small[len] == 'x');
    /* hand-made row: missing everywhere but one integer and one id */
    gen_row_t h;
    memset(&h, 0, sizeof h);
    h.label = 1.0f;
    for (int f = 0; f < RD_CRITEO_INT; f++) h.ints[f] = GEN_MISSING_INT;
    for (int f = 0; f < RD_CRITEO_CAT; f++) h.cats[f] = GEN_MISSING_CAT;
    h.ints[1] = -2;
    h.cats[0] = 0;
    len = gen_format_row(m1, &h, buf, sizeof buf);
    buf[len] = '\0';
    CHECK_INT(len, 1 + 13 + 2 + 26 + 8 + 1); /* label, tabs, "-2", tabs, token, newline */
    CHECK(strncmp(buf, "1\t\t-2\t", 6) == 0);
    gen_model_free(m1);
    gen_model_free(m2);
    gen_model_free(m3);
}

static void test_io_errors(void)
{
    /* out_dir is a regular file */
    const char *file = scratch("plainfile");
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    psr_err_clear();
    CHECK_INT(run_gen(file, 10, 10, 1, 0, NULL, NULL), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), file);
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/sub", file);
    CHECK_INT(run_gen(sub, 10, 10, 1, 0, NULL, NULL), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "plainfile");

    /* the final name is taken by a directory: rename fails, the temporary file is removed */
    const char *d = scratch("rename");
    char blocker[1200];
    snprintf(blocker, sizeof blocker, "%s/train.tsv", d);
    mkdir_p(blocker);
    CHECK_INT(run_gen(d, 10, 10, 1, 0, NULL, NULL), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "train.tsv");
    CHECK(!file_exists(d, ".train.tsv.tmp"));
    CHECK(!file_exists(d, "optimum.txt"));

    /* write errors (file size limit, EFBIG): named, temporary files removed; plain and gzip */
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        lim = old;
        lim.rlim_cur = 64 * 1024;
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            const char *w = scratch("fsize");
            int rc = run_gen(w, 20000, 10, 1, 0, NULL, NULL);
            CHECK_INT(rc, PSR_ERR_IO);
            CHECK_CONTAINS(psr_err_msg(), ".train.tsv.tmp");
            CHECK(!file_exists(w, ".train.tsv.tmp"));
            CHECK(!file_exists(w, "train.tsv"));
            const char *wz = scratch("fsize_gz");
            rc = run_gen(wz, 200000, 10, 1, 1, NULL, NULL);
            CHECK_INT(rc, PSR_ERR_IO);
            CHECK_CONTAINS(psr_err_msg(), ".train.tsv.gz.tmp");
            CHECK(!file_exists(wz, ".train.tsv.gz.tmp"));
            CHECK(!file_exists(wz, "train.tsv.gz"));
            /* the train file fits but the test file does not; the optimum.txt of an earlier
             * run in the same directory does not survive next to the new train file */
            const char *wt = scratch("fsize_test");
            CHECK_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
            CHECK_INT(run_gen(wt, 10, 10, 2, 0, NULL, NULL), PSR_OK);
            CHECK(file_exists(wt, "optimum.txt"));
            CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
            rc = run_gen(wt, 10, 20000, 1, 0, NULL, NULL);
            CHECK_INT(rc, PSR_ERR_IO);
            CHECK_CONTAINS(psr_err_msg(), ".test.tsv.tmp");
            CHECK(file_exists(wt, "train.tsv"));
            CHECK(!file_exists(wt, ".test.tsv.tmp"));
            CHECK(!file_exists(wt, "optimum.txt"));
            CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
        } else {
            fprintf(stderr, "note: cannot lower RLIMIT_FSIZE; write-error checks skipped\n");
        }
        signal(SIGXFSZ, prev);
    }

    /* bad options */
    gen_opts_t o = {.rows = -1, .test_rows = 1, .seed = 1, .out_dir = scratch("neg")};
    double a, l;
    CHECK_INT(gen_write(&o, &a, &l), PSR_ERR_USAGE);
    o.rows = 1;
    o.truth = GEN_TRUTH_COUNT;
    CHECK_INT(gen_write(&o, &a, &l), PSR_ERR_USAGE);
    o.truth = GEN_TRUTH_FM;
    o.out_dir = "";
    CHECK_INT(gen_write(&o, &a, &l), PSR_ERR_IO);
}

/* The default truth's output must never change: these CRC32s were computed with the binary
 * from before GEN_TRUTH_DEEP existed (psrec gen --rows 2000 --test-rows 500 --seed 7). If a
 * change to gen.c moves them, the FM truth changed, and every figure measured on it with it. */
static void test_fm_pinned(void)
{
    const char *d = scratch("pinned");
    CHECK_INT(run_gen(d, 2000, 500, 7, 0, NULL, NULL), PSR_OK);
    CHECK_INT(file_crc(d, "train.tsv"), 0xaa0ad3e7UL);
    CHECK_INT(file_crc(d, "test.tsv"), 0xa7124641UL);
    CHECK_INT(file_crc(d, "optimum.txt"), 0xb8f62d6cUL);
}

/* Lines of a and b (same count) with the same features; *labels_differ counts the lines whose
 * labels differ. Returns the number of lines whose features differ. */
static int64_t compare_features(const char *a, size_t na, const char *b, size_t nb,
                                int64_t *labels_differ)
{
    int64_t feat = 0, lab = 0;
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        const char *ea = memchr(a + i, '\n', na - i), *eb = memchr(b + j, '\n', nb - j);
        if (!ea || !eb) return feat + 1;
        size_t la = (size_t)(ea - (a + i)), lb = (size_t)(eb - (b + j));
        lab += a[i] != b[j];
        feat += la != lb || memcmp(a + i + 1, b + j + 1, la - 1) != 0;
        i += la + 1;
        j += lb + 1;
    }
    *labels_differ = lab;
    return feat + (i != na || j != nb);
}

/* --truth deep: deterministic, the FM truth's features with other labels, its own optimum
 * (re-computed from re-drawn rows), a CTR near 0.25; the FM output is unaffected. */
static void test_deep_output(void)
{
    const char *a = scratch("deep_a"), *b = scratch("deep_b"), *c = scratch("deep_c");
    const char *f = scratch("deep_fm");
    const uint64_t seed = 7;
    const int64_t nt = 20000;
    double auc = 0, ll = 0, fm_auc = 0;
    CHECK_INT(run_gen_truth(a, 3000, nt, seed, 0, GEN_TRUTH_DEEP, &auc, &ll), PSR_OK);
    CHECK_INT(run_gen_truth(b, 3000, nt, seed, 0, GEN_TRUTH_DEEP, NULL, NULL), PSR_OK);
    CHECK_INT(run_gen_truth(c, 3000, nt, seed + 1, 0, GEN_TRUTH_DEEP, NULL, NULL), PSR_OK);
    CHECK_INT(run_gen(f, 3000, nt, seed, 0, &fm_auc, NULL), PSR_OK);
    CHECK(same_file(a, b, "train.tsv"));
    CHECK(same_file(a, b, "test.tsv"));
    CHECK(same_file(a, b, "optimum.txt"));
    CHECK(!same_file(a, c, "train.tsv"));
    CHECK(!same_file(a, f, "train.tsv"));
    CHECK(!same_file(a, f, "test.tsv"));
    CHECK(!same_file(a, f, "optimum.txt"));
    CHECK(auc != fm_auc);
    CHECK(auc > 0.78 && auc < 0.86);
    CHECK(ll > 0.35 && ll < 0.5);

    size_t na = 0, nf = 0;
    char *ta = slurp(a, "test.tsv", &na), *tf = slurp(f, "test.tsv", &nf);
    int64_t labels = -1;
    CHECK(ta && tf);
    if (ta && tf) {
        CHECK_INT(compare_features(ta, na, tf, nf, &labels), 0);
        CHECK(labels > nt / 20); /* the labels come from another p */
    }

    /* the optimum is that of the deep p of the re-drawn test rows, which format to the file */
    gen_model_t *m = gen_model_new(seed, GEN_TRUTH_DEEP);
    CHECK(m != NULL);
    double *p = malloc(nt * sizeof *p);
    float *y = malloc(nt * sizeof *y);
    psr_rng_t rng;
    psr_rng_seed(&rng, psr_mix64(seed) ^ TEST_STREAM);
    gen_row_t row;
    size_t off = 0;
    int mismatched = 0, bad_logit = 0;
    char line[1024];
    double sp = 0, sy = 0;
    for (int64_t i = 0; m && i < nt; i++) {
        gen_draw(m, &rng, &row);
        p[i] = row.p;
        y[i] = row.label;
        sp += row.p;
        sy += row.label;
        bad_logit += fabs(1.0 / (1.0 + exp(-gen_logit(m, &row))) - row.p) > 1e-15;
        size_t len = gen_format_row(m, &row, line, sizeof line);
        if (!ta || off + len > na || memcmp(ta + off, line, len) != 0) mismatched++;
        off += len;
    }
    CHECK_INT(mismatched, 0);
    CHECK_INT(bad_logit, 0);
    CHECK_INT(off, na);
    CHECK_NEAR(met_auc_d(p, y, nt), auc, 0, 0);
    CHECK_NEAR(met_logloss_d(p, y, nt), ll, 0, 0);
    CHECK_NEAR(sp / nt, 0.25, 0.02, 0);
    CHECK_NEAR(sy / nt, sp / nt, 0.015, 0);
    free(p);
    free(y);
    free(ta);
    free(tf);
    gen_model_free(m);
}

/* One field of a third difference and its two values. */
typedef struct {
    int cat;          /* 1: categorical field `field`, 0: integer field `field` */
    int field;        /* 0-based within its kind */
    int64_t v[2];     /* the two values (ids, or integers) */
} probe_t;

/* Third-order difference of the logit over three fields, at `base`: the sum over the 8
 * corners (each field at its first or second value) of (-1)^(second values taken) logit. It
 * is zero when the logit is a sum of functions of at most two of the three fields (an FM),
 * whatever the base row. */
static double third_difference(const gen_model_t *m, const gen_row_t *base, const probe_t pr[3])
{
    double s = 0.0;
    for (int corner = 0; corner < 8; corner++) {
        gen_row_t r = *base;
        int sign = 1;
        for (int k = 0; k < 3; k++) {
            int bit = (corner >> k) & 1;
            sign = bit ? -sign : sign;
            if (pr[k].cat)
                r.cats[pr[k].field] = (uint32_t)pr[k].v[bit];
            else
                r.ints[pr[k].field] = pr[k].v[bit];
        }
        s += sign * gen_logit(m, &r);
    }
    return s;
}

/* gen.c rule 8 puts three-field products on (C5, C8, I8), (C9, C17, I11), (C6, C14, I7): the
 * deep truth's logit has a non-zero third difference there, none on three fields that share
 * no product term, and the FM truth has none anywhere (an FM sums pairwise terms). */
static void test_deep_interactions(void)
{
    gen_model_t *fm = gen_model_new(3, GEN_TRUTH_FM), *deep = gen_model_new(3, GEN_TRUTH_DEEP);
    CHECK(fm && deep);
    if (!fm || !deep) return;
    psr_rng_t rng;
    psr_rng_seed(&rng, 99);
    static const int terms[3][3] = {{4, 7, 7}, {8, 16, 10}, {5, 13, 6}}; /* C, C, I (0-based) */
    double deep_max[3] = {0}, fm_max = 0.0, unrelated_max = 0.0;
    gen_row_t base;
    for (int trial = 0; trial < 200; trial++) {
        gen_draw(deep, &rng, &base);
        uint32_t a0 = (uint32_t)psr_rng_below(&rng, 10), a1 = (uint32_t)psr_rng_below(&rng, 10);
        uint32_t b0 = (uint32_t)psr_rng_below(&rng, 10), b1 = (uint32_t)psr_rng_below(&rng, 10);
        int64_t lo = 1 + (int64_t)psr_rng_below(&rng, 4), hi = 16 + (int64_t)psr_rng_below(&rng, 500);
        for (int t = 0; t < 3; t++) {
            probe_t pr[3] = {{1, terms[t][0], {a0, a1}},
                             {1, terms[t][1], {b0, b1}},
                             {0, terms[t][2], {lo, hi}}};
            double d = fabs(third_difference(deep, &base, pr));
            if (d > deep_max[t]) deep_max[t] = d;
            d = fabs(third_difference(fm, &base, pr));
            if (d > fm_max) fm_max = d;
        }
        /* C5 and C9 are in different terms, I12 in none */
        probe_t un[3] = {{1, 4, {a0, a1}}, {1, 8, {b0, b1}}, {0, 11, {lo, hi}}};
        double d = fabs(third_difference(deep, &base, un));
        if (d > unrelated_max) unrelated_max = d;
    }
    for (int t = 0; t < 3; t++) {
        if (deep_max[t] < 0.5) fprintf(stderr, "term %d: max third difference %g\n", t, deep_max[t]);
        CHECK(deep_max[t] > 0.5);
    }
    CHECK_NEAR(fm_max, 0.0, 1e-9, 0);
    CHECK_NEAR(unrelated_max, 0.0, 1e-9, 0);
    gen_model_free(fm);
    gen_model_free(deep);
}

int main(void)
{
    const char *env = getenv("PSREC_TEST_TMP");
    snprintf(tmp_root, sizeof tmp_root, "%s/test_gen.%ld", env && *env ? env : "/tmp",
             (long)getpid());
    rm_rf(tmp_root);
    mkdir_p(tmp_root);
    test_model_and_format_row();
    test_fm_pinned();
    test_deep_output();
    test_deep_interactions();
    test_determinism();
    test_format();
    test_optimum();
    test_streams();
    test_io_errors();
    if (!check_failures) rm_rf(tmp_root);
    CHECK_DONE();
}
