/* test_prep: text to blocks (common/prep.h) and the config keys that describe the text
 * (common/config.h: data.format csv/movielens, data.columns, separators, header_lines,
 * shuffle_buffer): csv and movielens parsing rules, malformed-row reasons, Criteo-equivalent
 * csv columns, prep_file on plain and .gz Criteo and csv text (blank lines, malformed rows,
 * data.max_bad_rows, no file left behind on error), prep_verify against the training text
 * reader, and the config errors; libsvm and libffm rows (prep.h P6): parsing, labels, keys,
 * field order, every malformed-row reason, prep and the text reader on a .gz libffm file.
 * All data is generated here. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "blkstream.h"
#include "block.h"
#include "check.h"
#include "testfs.h"
#include "config.h"
#include "hash.h"
#include "prep.h"
#include "psr_error.h"
#include "reader.h"

static char tmpdir[512];

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* A validated config from YAML text (exits on error: a bug in the test). */
static cfg_t *config(const char *yaml)
{
    cfg_t *c = calloc(1, sizeof *c);
    cfg_defaults(c);
    if (cfg_load_string(c, yaml, "test.yaml") != PSR_OK || cfg_validate(c) != PSR_OK) {
        fprintf(stderr, "config does not load: %s\n%s\n", psr_err_msg(), yaml);
        exit(2);
    }
    return c;
}

static int config_error(const char *yaml, const char *needle)
{
    cfg_t *c = calloc(1, sizeof *c);
    cfg_defaults(c);
    int rc = cfg_load_string(c, yaml, "bad.yaml");
    if (rc == PSR_OK) rc = cfg_validate(c);
    free(c);
    CHECK_INT(rc, PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), needle);
    return rc;
}

/* ---- config ----------------------------------------------------------------------------- */

static void test_config(void)
{
    cfg_t *c = calloc(1, sizeof *c);
    cfg_defaults(c);
    CHECK_INT(c->data.columns.n, 0);
    CHECK_INT(c->data.separator, CFG_SEP_COMMA);
    CHECK_INT(c->data.multi_separator, CFG_MSEP_PIPE);
    CHECK_INT(c->data.header_lines, 0);
    CHECK_INT(c->data.shuffle_buffer, 0);
    free(c);

    c = config("data:\n  format: csv\n  train: x.csv\n"
               "  columns: [label, dense*3, cat, multi, ignore*2, user, 'item']\n"
               "  separator: tab\n  multi_separator: comma\n  header_lines: 1\n"
               "  shuffle_buffer: 100000\n");
    CHECK_INT(c->data.format, CFG_FORMAT_CSV);
    CHECK_INT(c->data.columns.n, 10);
    static const unsigned char want[10] = {CFG_COL_LABEL, CFG_COL_DENSE,  CFG_COL_DENSE,
                                           CFG_COL_DENSE, CFG_COL_CAT,    CFG_COL_MULTI,
                                           CFG_COL_IGNORE, CFG_COL_IGNORE, CFG_COL_USER,
                                           CFG_COL_ITEM};
    CHECK(memcmp(c->data.columns.v, want, 10) == 0);
    CHECK_INT(c->data.columns.v[10], 0);
    CHECK_INT(c->data.shuffle_buffer, 100000);
    /* printed with runs folded, and read back to the same struct */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cfg_print(c, m);
    fclose(m);
    CHECK_CONTAINS(buf, "  columns: [label, dense*3, cat, multi, ignore*2, user, item]\n");
    CHECK_CONTAINS(buf, "  separator: tab\n  multi_separator: comma\n  header_lines: 1\n"
                        "  shuffle_buffer: 100000\n");
    cfg_t *back = calloc(1, sizeof *back);
    cfg_defaults(back);
    CHECK_INT(cfg_load_string(back, buf, "test.yaml"), PSR_OK);
    CHECK(memcmp(back, c, sizeof *c) == 0);
    free(buf);
    free(back);
    /* --set forms */
    CHECK_INT(cfg_set(c, "data.columns=[label, cat*26]"), PSR_OK);
    CHECK_INT(c->data.columns.n, 27);
    CHECK_INT(cfg_set(c, "data.columns=cat"), PSR_OK);
    CHECK_INT(c->data.columns.n, 1);
    CHECK_INT(cfg_set(c, "data.columns="), PSR_OK);
    CHECK_INT(c->data.columns.n, 0);
    CHECK_INT(cfg_set(c, "data.columns=[label, catt]"), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "--set data.columns=[label, catt]: key 'data.columns' item 2: "
                                  "found 'catt', allowed a list of at most 1024 names, each one "
                                  "of: label, dense, cat, multi, user, item, ignore");
    CHECK_INT(cfg_set(c, "data.shuffle_buffer=-1"), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "allowed an integer in [0, 1073741824]");
    free(c);

    /* every bad value names the file, the line and the key */
    config_error("data:\n  train: x\n  format: csv\n  columns: [label, cat*0]\n",
                 "bad.yaml:4: key 'data.columns' item 2: found 'cat*0'");
    config_error("data:\n  train: x\n  format: csv\n  columns: [label, cat*x]\n",
                 "bad.yaml:4: key 'data.columns' item 2: found 'cat*x'");
    config_error("data:\n  train: x\n  format: csv\n  columns: [label, cat*1000, dense*25]\n",
                 "bad.yaml:4: key 'data.columns': found a list of more than 1024 names");
    config_error("data:\n  train: x\n  format: csv\n  columns: {a: 1}\n",
                 "bad.yaml:4: key 'data.columns': found a mapping");
    config_error("data:\n  train: x\n  format: csv\n  columns: [label, [cat]]\n",
                 "bad.yaml:4: key 'data.columns' item 2: found a sequence");
    config_error("data:\n  train: x\n  format: tsv\n", "bad.yaml:3: key 'data.format': found "
                 "'tsv', allowed one of: criteo, csv, movielens");
    config_error("data:\n  train: x\n  separator: '::'\n",
                 "bad.yaml:3: key 'data.separator': found '::', allowed one of: tab, comma, "
                 "semicolon, pipe, space, double_colon");
    config_error("data:\n  train: x\n  multi_separator: tab\n",
                 "bad.yaml:3: key 'data.multi_separator': found 'tab'");
    config_error("data:\n  train: x\n  header_lines: -1\n", "bad.yaml:3: key 'data.header_lines'");
    config_error("data:\n  train: x\n  shuffle_buffer: 1.5\n",
                 "bad.yaml:3: key 'data.shuffle_buffer': found '1.5'");
    /* cross-key checks */
    config_error("data:\n  train: x\n  columns: [label, cat]\n",
                 "data.columns is set but data.format is criteo");
    config_error("data:\n  train: x\n  header_lines: 1\n",
                 "data.header_lines is 1 but data.format is criteo");
    config_error("data:\n  train: x\n  format: csv\n", "data.format is csv but data.columns is "
                 "empty");
    config_error("data:\n  train: x\n  format: csv\n  columns: [cat, cat]\n",
                 "has no label column");
    config_error("data:\n  train: x\n  format: csv\n  columns: [label, cat, label]\n",
                 "has 2 label columns (columns 1 and 3)");
    config_error("data:\n  train: x\n  format: csv\n  columns: [label, user, cat, user]\n",
                 "has 2 'user' columns (columns 2 and 4)");
    config_error("data:\n  train: x\n  format: csv\n  columns: [label, ignore]\n",
                 "has no feature column");
    config_error("data:\n  train: x\n  format: csv\n  columns: [label, multi]\n"
                 "  separator: pipe\n", "data.multi_separator is pipe, which also separates the "
                 "columns (data.separator is pipe)");
    config_error("data:\n  train: x\n  format: movielens\n  columns: [item, ignore, multi, label]\n"
                 "  multi_separator: colon\n", "format movielens uses double_colon");
    /* movielens needs no columns; a csv without multi may share separators */
    free(config("data:\n  train: x\n  format: movielens\n"));
    free(config("data:\n  train: x\n  format: csv\n  columns: [label, cat]\n  separator: pipe\n"));
}

/* ---- parsing ---------------------------------------------------------------------------- */

static void test_parse_csv(void)
{
    cfg_t *c = config("data:\n  train: x\n  format: csv\n"
                      "  columns: [label, dense, cat, multi, ignore, user, item]\n");
    prep_text_t *t = malloc(sizeof *t);
    prep_text_from_config(c, t);
    const blk_schema_t *s = &t->schema;
    CHECK_INT(s->n_fields, 5);
    CHECK_INT(s->n_dense, 1);
    CHECK_INT(s->user_field, 3);
    CHECK_INT(s->item_field, 4);
    CHECK_INT(s->kind[2], BLK_FIELD_MULTI);
    CHECK_INT(s->column[3], 6);
    CHECK_INT(blk_schema_check(s, "t"), PSR_OK);
    blk_schema_t s2;
    prep_schema_from_config(c, &s2);
    CHECK(blk_schema_fingerprint(&s2) == blk_schema_fingerprint(s));

    prep_row_buf_t *buf = malloc(sizeof *buf);
    blk_row_t row;
    char why[256];
    const char *l1 = "1,3.5,abc,x|y||z,junk,u1,i9\r";
    CHECK_INT(prep_parse_line(t, l1, strlen(l1), buf, &row, why, sizeof why), PSR_OK);
    CHECK(row.label == 1.0f);
    CHECK_INT(row.n_feat, 7);
    CHECK(row.dense[0] == (float)log1p(3.5));
    static const uint16_t fields[7] = {0, 1, 2, 2, 2, 3, 4};
    CHECK(memcmp(row.field, fields, sizeof fields) == 0);
    CHECK(row.key[0] == psr_feature_key_int(0, 1)); /* floor(ln(3.5)^2) = 1 */
    CHECK(row.key[1] == psr_feature_key(1, "abc", 3));
    CHECK(row.key[2] == psr_feature_key(2, "x", 1));
    CHECK(row.key[3] == psr_feature_key(2, "y", 1));
    CHECK(row.key[4] == psr_feature_key(2, "z", 1));
    CHECK(row.key[5] == psr_feature_key(3, "u1", 2));
    CHECK(row.key[6] == psr_feature_key(4, "i9", 2)); /* the '\r' is not part of the token */
    for (int j = 0; j < 7; j++) CHECK(row.val[j] == 1.0f);
    /* empty fields: dense missing, cat and multi the token "" */
    const char *l2 = "-0.5e1,,,,,,";
    CHECK_INT(prep_parse_line(t, l2, strlen(l2), buf, &row, why, sizeof why), PSR_OK);
    CHECK(row.label == -5.0f);
    CHECK_INT(row.n_feat, 5);
    CHECK(row.dense[0] == 0.0f);
    CHECK(row.key[0] == psr_feature_key_int(0, INT64_MIN + 1));
    CHECK(row.key[1] == psr_feature_key(1, "", 0));
    CHECK(row.key[2] == psr_feature_key(2, "", 0));
    /* buckets of dense values */
    static const struct {
        const char *v;
        int64_t b;
    } buckets[] = {{"-3", -1}, {"-0.1", -1}, {"0", 0}, {"0.9", 0}, {"2", 2},
                   {"2.5", 0 /* floor(ln(2.5)^2) */}, {"3", 1}, {"10", 5}, {"1e6", 190}, {".5", 0}};
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "0,%s,a,b,c,d,e", buckets[i].v);
        CHECK_INT(prep_parse_line(t, line, strlen(line), buf, &row, why, sizeof why), PSR_OK);
        CHECK(row.key[0] == psr_feature_key_int(0, buckets[i].b));
    }
    /* malformed rows and their reasons; the field count wins */
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"1,2,a,b,c,d", "expected 7 fields separated by ',', found 6"},
        {"1,2,a,b,c,d,e,f", "expected 7 fields separated by ',', found 8"},
        {"x,2,a,b,c,d", "expected 7 fields separated by ',', found 6"},
        {"x,2,a,b,c,d,e", "label (column 1): 'x' is not a number"},
        {",2,a,b,c,d,e", "label (column 1): '' is not a number"},
        {"nan,2,a,b,c,d,e", "label (column 1): 'nan' is not a number"},
        {"inf,2,a,b,c,d,e", "label (column 1): 'inf' is not a number"},
        {"1e999,2,a,b,c,d,e", "label (column 1): '1e999' is not a number"},
        {"1,1.2.3,a,b,c,d,e", "dense field 0 (column 2): '1.2.3' is not a number"},
        {"1,0x10,a,b,c,d,e", "dense field 0 (column 2): '0x10' is not a number"},
        {"1, 3,a,b,c,d,e", "dense field 0 (column 2): ' 3' is not a number"},
        {"1,e5,a,b,c,d,e", "dense field 0 (column 2): 'e5' is not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        CHECK_INT(prep_parse_line(t, bad[i].line, strlen(bad[i].line), buf, &row, why, sizeof why),
                  PSR_ERR_DATA);
        CHECK_CONTAINS(why, bad[i].why);
    }
    free(c);

    /* movielens: "::" and the default columns user, item, label, time */
    c = config("data:\n  train: x\n  format: movielens\n");
    prep_text_from_config(c, t);
    CHECK_INT(t->schema.n_fields, 3);
    CHECK_INT(blk_schema_time_field(&t->schema), 2);
    CHECK_INT(t->schema.user_field, 0);
    CHECK_INT(t->schema.item_field, 1);
    const char *ml = "1::1193::5::978300760";
    CHECK_INT(prep_parse_line(t, ml, strlen(ml), buf, &row, why, sizeof why), PSR_OK);
    CHECK(row.label == 5.0f);
    CHECK_INT(row.n_feat, 3); /* the time travels as field 2, key = the seconds */
    CHECK(row.key[0] == psr_feature_key(0, "1", 1));
    CHECK(row.key[1] == psr_feature_key(1, "1193", 4));
    CHECK(row.key[2] == 978300760u);
    const char *ml_bad = "1::1193:5::978300760";
    CHECK_INT(prep_parse_line(t, ml_bad, strlen(ml_bad), buf, &row, why, sizeof why), PSR_ERR_DATA);
    CHECK_CONTAINS(why, "expected 4 fields separated by '::', found 3");
    free(c);
    /* movies.dat-like: a multi column split at '|' inside '::' columns */
    c = config("data:\n  train: x\n  format: movielens\n  columns: [item, ignore, multi, label]\n");
    prep_text_from_config(c, t);
    const char *mv = "1::Toy Story (1995)::Animation|Children's|Comedy::1";
    CHECK_INT(prep_parse_line(t, mv, strlen(mv), buf, &row, why, sizeof why), PSR_OK);
    CHECK_INT(row.n_feat, 4);
    CHECK(row.key[3] == psr_feature_key(1, "Comedy", 6));
    free(c);
    free(buf);
    free(t);
}

/* A csv with Criteo's columns gives rd_parse_criteo's features for integer data. */
static void test_csv_equals_criteo(void)
{
    prep_text_t *t = malloc(sizeof *t);
    prep_row_buf_t *buf = malloc(sizeof *buf);
    for (int mode = 0; mode < CFG_INT_MODE_COUNT; mode++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, "data:\n  train: x\n  format: csv\n  separator: tab\n"
                 "  int_mode: %s\n  columns: [label, dense*13, cat*26]\n",
                 mode == CFG_INT_DENSE ? "dense" : "bucket");
        cfg_t *c = config(yaml);
        prep_text_from_config(c, t);
        blk_schema_t crit;
        blk_schema_criteo(&crit, mode);
        CHECK(blk_schema_is_criteo(&t->schema));
        CHECK(blk_schema_fingerprint(&t->schema) == blk_schema_fingerprint(&crit));
        psr_rng_t g;
        psr_rng_seed(&g, 77);
        int diff = 0;
        for (int n = 0; n < 2000; n++) {
            char line[1024];
            size_t o = (size_t)snprintf(line, sizeof line, "%d", n & 1);
            for (int f = 0; f < 13; f++) {
                uint64_t u = psr_rng_below(&g, 12);
                if (u == 0) o += (size_t)snprintf(line + o, sizeof line - o, "\t");
                else if (u == 1) o += (size_t)snprintf(line + o, sizeof line - o, "\t-%d", n % 7);
                else
                    o += (size_t)snprintf(line + o, sizeof line - o, "\t%llu",
                                          (unsigned long long)psr_rng_below(&g, 1ULL << (4 * u)));
            }
            for (int f = 0; f < 26; f++)
                o += (size_t)snprintf(line + o, sizeof line - o, "\t%x",
                                      (unsigned)psr_rng_below(&g, 1000));
            rd_row_t a;
            blk_row_t b;
            char why[256];
            if (rd_parse_criteo(line, o, mode, &a, why, sizeof why) != PSR_OK ||
                prep_parse_line(t, line, o, buf, &b, why, sizeof why) != PSR_OK) {
                diff++;
                continue;
            }
            diff += b.n_feat != 39 || memcmp(a.key, b.key, sizeof a.i_key) ||
                    memcmp(a.val, b.val, sizeof a.i_val) ||
                    memcmp(a.dense, b.dense, sizeof a.i_dense) || a.label != b.label;
        }
        CHECK_INT(diff, 0);
        free(c);
    }
    free(buf);
    free(t);
}

/* ---- prep_file and prep_verify ------------------------------------------------------------ */

static char *criteo_text(int64_t n, uint64_t seed, int64_t *good, int with_bad)
{
    psr_rng_t g;
    psr_rng_seed(&g, seed);
    size_t cap = (size_t)n * 400 + 1024, o = 0;
    char *s = malloc(cap);
    *good = 0;
    for (int64_t r = 0; r < n; r++) {
        if (with_bad && r % 97 == 5) {
            o += (size_t)snprintf(s + o, cap - o, "%s\n", r % 2 ? "2\t1" : ""); /* bad / blank */
            continue;
        }
        o += (size_t)snprintf(s + o, cap - o, "%d", (int)psr_rng_below(&g, 2));
        for (int f = 0; f < 13; f++) {
            uint64_t u = psr_rng_below(&g, 10);
            if (u == 0) o += (size_t)snprintf(s + o, cap - o, "\t");
            else
                o += (size_t)snprintf(s + o, cap - o, "\t%lld",
                                      (long long)psr_rng_below(&g, 1ULL << (3 * u)) - 1);
        }
        for (int f = 0; f < 26; f++) {
            if (psr_rng_below(&g, 10) == 0) o += (size_t)snprintf(s + o, cap - o, "\t");
            else
                o += (size_t)snprintf(s + o, cap - o, "\t%08x",
                                      (unsigned)psr_rng_below(&g, 50 + 300 * (uint64_t)f));
        }
        o += (size_t)snprintf(s + o, cap - o, r % 5 == 0 ? "\r\n" : "\n");
        (*good)++;
    }
    s[o] = '\0';
    return s;
}

static void test_prep_criteo(void)
{
    cfg_t *c = config("data:\n  train: x\n");
    prep_text_t *t = malloc(sizeof *t);
    prep_text_from_config(c, t);
    int64_t good = 0;
    char *text = criteo_text(5000, 5, &good, 1);
    char in[1024], in_gz[1024], out[1024];
    tmp_path(in, sizeof in, "day.tsv");
    tmp_path(in_gz, sizeof in_gz, "dayz.tsv.gz");
    write_file(in, text, strlen(text));
    write_gz(in_gz, text, strlen(text));
    int reported = 0;
    prep_opts_t o = {.block_rows = 300, .level = 1, .max_bad_rows = 100, .reported = &reported};
    for (int z = 0; z < 2; z++) {
        const char *src = z ? in_gz : in;
        char *name = prep_out_name(tmpdir, src);
        snprintf(out, sizeof out, "%s", name);
        free(name);
        CHECK_CONTAINS(out, z ? "/dayz.tsv.psrb" : "/day.tsv.psrb");
        prep_stats_t st;
        CHECK_INT(prep_file(t, src, out, &o, &st), PSR_OK);
        CHECK_INT(st.rows, good);
        CHECK_INT(st.bad, 26); /* lines 6, 200, ... with r odd among r % 97 == 5 */
        CHECK_INT(st.lines, 5000);
        CHECK_INT(st.blocks, (good + 299) / 300);
        CHECK_INT((int64_t)st.text_bytes, (int64_t)strlen(text));
        int64_t rows = 0;
        CHECK_INT(prep_verify(t, src, out, 100, &rows), PSR_OK);
        CHECK_INT(rows, good);
    }
    CHECK_INT(reported, RD_MAX_REPORTED_BAD + 1);
    /* verify notices a block file of other rows */
    char other[1024];
    tmp_path(other, sizeof other, "other.tsv");
    int64_t good2;
    char *text2 = criteo_text(5000, 6, &good2, 1);
    write_file(other, text2, strlen(text2));
    int64_t rows;
    CHECK_INT(prep_verify(t, other, out, 100, &rows), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "row 0 differs from the text reader's row 0");
    free(text2);
    /* one malformed row too many: file:line and the limit; nothing left behind */
    char cut[1024];
    tmp_path(cut, sizeof cut, "cut.psrb");
    o.max_bad_rows = 3;
    prep_stats_t st;
    CHECK_INT(prep_file(t, in, cut, &o, &st), PSR_ERR_DATA);
    char want[1200];
    snprintf(want, sizeof want, "%s:588: malformed row: expected 40 tab-separated fields, found 2; "
             "4 malformed rows exceed data.max_bad_rows=3", in);
    CHECK_CONTAINS(psr_err_msg(), want);
    CHECK(access(cut, F_OK) != 0);
    char cut_tmp[1100];
    snprintf(cut_tmp, sizeof cut_tmp, "%s/.cut.psrb.tmp", tmpdir);
    CHECK(access(cut_tmp, F_OK) != 0);
    /* a gzip file without .gz, a missing file, a truncated .gz */
    char fake[1024];
    tmp_path(fake, sizeof fake, "fake.tsv");
    write_gz(fake, text, 1000);
    CHECK_INT(prep_file(t, fake, cut, &o, &st), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "gzip-compressed data in a file whose name does not end in .gz");
    tmp_path(fake, sizeof fake, "missing.tsv");
    CHECK_INT(prep_file(t, fake, cut, &o, &st), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "missing.tsv: cannot open: no such file");
    tmp_path(fake, sizeof fake, "short.tsv.gz");
    write_gz(fake, text, strlen(text));
    struct stat sb;
    stat(fake, &sb);
    CHECK_INT(truncate(fake, sb.st_size / 2), 0);
    o.max_bad_rows = 100;
    CHECK_INT(prep_file(t, fake, cut, &o, &st), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "short.tsv.gz: truncated gzip file");
    CHECK(access(cut, F_OK) != 0);
    free(text);
    free(c);
    free(t);
}

static void test_prep_csv(void)
{
    cfg_t *c = config("data:\n  train: x\n  format: csv\n  header_lines: 2\n"
                      "  columns: [ignore, label, dense*2, cat, multi, user, item]\n"
                      "  separator: semicolon\n  multi_separator: space\n  int_mode: dense\n");
    prep_text_t *t = malloc(sizeof *t);
    prep_text_from_config(c, t);
    char in[1024], out[1024];
    tmp_path(in, sizeof in, "events.csv.gz");
    size_t cap = 1 << 22, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "id;click;price;age;site;tags;user;item\n\n");
    psr_rng_t g;
    psr_rng_seed(&g, 3);
    int64_t good = 0;
    for (int r = 0; r < 3000; r++) {
        if (r == 17) {
            o += (size_t)snprintf(s + o, cap - o, "17;yes;1;2;a;b;c;d\n"); /* bad label */
            continue;
        }
        o += (size_t)snprintf(s + o, cap - o, "%d;%d;%.3f;%d;s%d;", r, r % 2,
                              psr_rng_uniform(&g) * 100, (int)psr_rng_below(&g, 90), r % 13);
        int ntag = (int)psr_rng_below(&g, 4);
        for (int k = 0; k < ntag; k++)
            o += (size_t)snprintf(s + o, cap - o, "%st%d", k ? " " : "", (int)psr_rng_below(&g, 30));
        o += (size_t)snprintf(s + o, cap - o, ";u%d;i%d\n", (int)psr_rng_below(&g, 100),
                              (int)psr_rng_below(&g, 500));
        good++;
    }
    write_gz(in, s, o);
    char *name = prep_out_name(tmpdir, in);
    snprintf(out, sizeof out, "%s", name);
    free(name);
    CHECK_CONTAINS(out, "/events.csv.psrb");
    prep_opts_t po = {.block_rows = 128, .level = 6, .max_bad_rows = 5};
    prep_stats_t st;
    CHECK_INT(prep_file(t, in, out, &po, &st), PSR_OK);
    CHECK_INT(st.rows, good);
    CHECK_INT(st.bad, 1);
    int64_t rows = 0;
    CHECK_INT(prep_verify(t, in, out, 5, &rows), PSR_OK);
    CHECK_INT(rows, good);
    /* the file's schema, and the rows through a stream: dense mode values, multi counts */
    blk_file_t *f;
    CHECK_INT(blk_file_open(&f, out, 1), PSR_OK);
    if (f) {
        const blk_schema_t *fs = blk_file_schema(f);
        CHECK_INT(fs->n_fields, 6);
        CHECK_INT(fs->n_dense, 2);
        CHECK_INT(fs->format, CFG_FORMAT_CSV);
        CHECK_INT(fs->int_mode, CFG_INT_DENSE);
        CHECK_INT(fs->column[0], 3);
        CHECK_INT(fs->kind[3], BLK_FIELD_MULTI);
        blk_file_close(f);
    }
    bks_opts_t so = bks_opts_default();
    so.expect = &t->schema;
    bks_t *bs;
    char *files[1] = {out};
    CHECK_INT(bks_open(&bs, files, 1, &so), PSR_OK);
    blk_row_t row;
    int64_t n = 0, bad = 0;
    while (bks_next_row(bs, &row) == 1) {
        bad += row.n_feat < 6 || row.field[0] != 0 || row.val[0] != row.dense[0] ||
               row.key[0] != psr_feature_key(0, "#dense", 6);
        n++;
    }
    CHECK_INT(n, good);
    CHECK_INT(bad, 0);
    bks_close(bs);
    free(s);
    free(c);
    free(t);
}

/* ---- libsvm / libffm (P6) ------------------------------------------------------------------ */

static void test_config_svm(void)
{
    cfg_t *c = config("data:\n  train: x\n  format: libffm\n  fields: 4\n");
    CHECK_INT(c->data.format, CFG_FORMAT_LIBFFM);
    CHECK_INT(c->data.fields, 4);
    char d[256];
    cfg_schema_desc(c, d, sizeof d);
    CHECK_CONTAINS(d, "format=libffm int_mode=bucket keys=1 fields=4 labels=click");
    free(c);
    c = config("data:\n  train: x\n  format: libsvm\n  header_lines: 1\nmodel:\n  loss: mse\n");
    cfg_schema_desc(c, d, sizeof d);
    CHECK_CONTAINS(d, "format=libsvm int_mode=bucket keys=1 labels=value");
    CHECK_INT(cfg_click_labels(c), 0);
    free(c);
    c = config("data:\n  train: x\n  format: libsvm\neval:\n  task: rating\n");
    CHECK_INT(cfg_click_labels(c), 0);
    free(c);
    config_error("data:\n  train: x\n  format: libffm\n",
                 "invalid config: data.format is libffm but data.fields is 0; set data.fields "
                 "to the number of fields (one more than the largest field index in the files, "
                 "at most 1024)");
    config_error("data:\n  train: x\n  format: libsvm\n  fields: 3\n",
                 "invalid config: data.fields is 3 but data.format is libsvm; data.fields only "
                 "applies to libffm; set it to 0");
    config_error("data:\n  train: x\n  fields: 3\n", "data.fields is 3 but data.format is criteo");
    config_error("data:\n  train: x\n  format: libsvm\n  columns: [label, multi]\n",
                 "invalid config: data.columns is set but data.format is libsvm, whose rows are "
                 "'label index:value ...' without columns; remove data.columns");
    config_error("data:\n  train: x\n  format: libffm\n  fields: 1025\n",
                 "bad.yaml:4: key 'data.fields': found '1025', allowed an integer in [0, 1024]");
}

static void test_parse_svm(void)
{
    cfg_t *c = config("data:\n  train: x\n  format: libsvm\n");
    prep_text_t *t = malloc(sizeof *t);
    prep_text_from_config(c, t);
    CHECK_INT(t->schema.n_fields, 1);
    CHECK_INT(t->schema.kind[0], BLK_FIELD_MULTI);
    CHECK_INT(t->schema.n_dense, 0);
    CHECK_INT(t->schema.user_field, -1);
    CHECK_INT(blk_schema_check(&t->schema, "t"), PSR_OK);
    /* the fingerprint is a csv's with one multi column: the same keys for the same tokens */
    cfg_t *cm = config("data:\n  train: x\n  format: csv\n  columns: [label, multi]\n");
    blk_schema_t sm;
    prep_schema_from_config(cm, &sm);
    CHECK(blk_schema_fingerprint(&sm) == blk_schema_fingerprint(&t->schema));
    prep_row_buf_t *buf = malloc(sizeof *buf);
    blk_row_t row;
    char why[512];
    /* -1 is 0 for bce; leading, repeated and trailing blanks; a duplicate kept; a comment */
    const char *l1 = "  -1 \t7:0.5  007:-2 3:1e-1 7:0.5 # a comment 9:9\r";
    CHECK_INT(prep_parse_line(t, l1, strlen(l1), buf, &row, why, sizeof why), PSR_OK);
    CHECK(row.label == 0.0f);
    CHECK_INT(row.n_feat, 4);
    CHECK(row.key[0] == psr_feature_key(0, "7", 1));
    CHECK(row.key[1] == psr_feature_key(0, "7", 1)); /* 007 is index 7 */
    CHECK(row.key[2] == psr_feature_key(0, "3", 1));
    CHECK(row.key[3] == row.key[0]);
    CHECK(row.val[0] == 0.5f && row.val[1] == -2.0f && row.val[2] == 0.1f && row.val[3] == 0.5f);
    for (int j = 0; j < 4; j++) CHECK_INT(row.field[j], 0);
    /* a csv multi token "7" is the same key */
    prep_text_t *tm = malloc(sizeof *tm);
    prep_text_from_config(cm, tm);
    const char *lm = "1,7|3";
    CHECK_INT(prep_parse_line(tm, lm, strlen(lm), buf, &row, why, sizeof why), PSR_OK);
    CHECK(row.key[0] == psr_feature_key(0, "7", 1) && row.key[1] == psr_feature_key(0, "3", 1));
    free(tm);
    free(cm);
    /* +1, a qid, no features, 0 as an index, the largest index */
    const char *l2 = "+1 qid:12 0:1 9223372036854775807:3";
    CHECK_INT(prep_parse_line(t, l2, strlen(l2), buf, &row, why, sizeof why), PSR_OK);
    CHECK(row.label == 1.0f);
    CHECK_INT(row.n_feat, 2);
    CHECK(row.key[0] == psr_feature_key(0, "0", 1));
    CHECK(row.key[1] == psr_feature_key(0, "9223372036854775807", 19));
    CHECK_INT(prep_parse_line(t, "0.25", 4, buf, &row, why, sizeof why), PSR_OK);
    CHECK(row.label == 0.25f);
    CHECK_INT(row.n_feat, 0);
    static const struct {
        const char *line, *why;
    } bad[] = {
        {" \t ", "no label: the line holds only spaces or tabs"},
        {"yes 1:2", "label 'yes' is not a number"},
        {"1:2 3:4", "label '1:2' is not a number"},
        {"1e39 1:2", "label '1e39' is not a number"},
        {"2 1:1", "label '2' is not a click label: allowed -1 or 0 (no click), 1 (click) or a "
                  "probability in [0, 1] (the loss is bce; model.loss: mse trains on the values)"},
        {"-0.5 1:1", "label '-0.5' is not a click label"},
        {"1 3", "feature 1 '3': expected index:value"},
        {"1 1:2 3:4:5", "feature 2 '3:4:5': expected index:value"},
        {"1 x:2", "feature 1 'x:2': index 'x' is not an integer in [0, 2^63)"},
        {"1 -3:2", "feature 1 '-3:2': index '-3' is not an integer in [0, 2^63)"},
        {"1 :2", "feature 1 ':2': index '' is not an integer in [0, 2^63)"},
        {"1 9223372036854775808:1", "feature 1 '9223372036854775808:1': index "
                                    "'9223372036854775808' is not an integer in [0, 2^63)"},
        {"1 4:", "feature 1 '4:': value '' is not a number"},
        {"1 4:abc", "feature 1 '4:abc': value 'abc' is not a number"},
        {"1 4:nan", "feature 1 '4:nan': value 'nan' is not a number"},
        {"1 4:1e40", "feature 1 '4:1e40': value '1e40' is not a number"},
        {"1 qid:x 1:1", "'qid:x': the query id is not an integer in [0, 2^63)"},
        {"1 qid:1 qid:2 1:1", "feature 1 'qid:2': index 'qid' is not an integer in [0, 2^63)"},
        {"1 1:1 qid:2", "feature 2 'qid:2': index 'qid' is not an integer in [0, 2^63)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        CHECK_INT(prep_parse_line(t, bad[i].line, strlen(bad[i].line), buf, &row, why, sizeof why),
                  PSR_ERR_DATA);
        CHECK_CONTAINS(why, bad[i].why);
    }
    /* more than BLK_MAX_ROW_FEATS features */
    size_t cap = 16 * (BLK_MAX_ROW_FEATS + 2), o = 0;
    char *big = malloc(cap);
    o += (size_t)snprintf(big, cap, "1");
    for (int j = 0; j <= BLK_MAX_ROW_FEATS; j++) o += (size_t)snprintf(big + o, cap - o, " %d:1", j);
    CHECK_INT(prep_parse_line(t, big, o, buf, &row, why, sizeof why), PSR_ERR_DATA);
    CHECK_CONTAINS(why, "more than 65536 feature values in one row");
    free(big);
    free(c);

    /* mse: labels as written */
    c = config("data:\n  train: x\n  format: libsvm\nmodel:\n  loss: mse\n");
    prep_text_from_config(c, t);
    CHECK_INT(prep_parse_line(t, "-1 1:1", 6, buf, &row, why, sizeof why), PSR_OK);
    CHECK(row.label == -1.0f);
    CHECK_INT(prep_parse_line(t, "4.5 1:1", 7, buf, &row, why, sizeof why), PSR_OK);
    CHECK(row.label == 4.5f);
    free(c);

    /* libffm: fields from the row, put in field order (stable) */
    c = config("data:\n  train: x\n  format: libffm\n  fields: 4\n");
    prep_text_from_config(c, t);
    CHECK_INT(t->schema.n_fields, 4);
    for (int f = 0; f < 4; f++) CHECK_INT(t->schema.kind[f], BLK_FIELD_MULTI);
    cm = config("data:\n  train: x\n  format: csv\n  columns: [label, multi*4]\n");
    prep_schema_from_config(cm, &sm);
    CHECK(blk_schema_fingerprint(&sm) == blk_schema_fingerprint(&t->schema));
    free(cm);
    const char *l3 = "1 3:5:0.5 0:5:2 3:1:-1 1:8:4 0:2:3";
    CHECK_INT(prep_parse_line(t, l3, strlen(l3), buf, &row, why, sizeof why), PSR_OK);
    CHECK_INT(row.n_feat, 5);
    static const uint16_t ffields[5] = {0, 0, 1, 3, 3};
    static const float fvals[5] = {2, 3, 4, 0.5f, -1};
    CHECK(memcmp(row.field, ffields, sizeof ffields) == 0);
    CHECK(memcmp(row.val, fvals, sizeof fvals) == 0);
    CHECK(row.key[0] == psr_feature_key(0, "5", 1));
    CHECK(row.key[1] == psr_feature_key(0, "2", 1));
    CHECK(row.key[2] == psr_feature_key(1, "8", 1));
    CHECK(row.key[3] == psr_feature_key(3, "5", 1));
    CHECK(row.key[4] == psr_feature_key(3, "1", 1));
    static const struct {
        const char *line, *why;
    } fbad[] = {
        {"1 0:1:1 4:1:1", "feature 2 '4:1:1': field '4' is not an integer in [0, 4) "
                          "(data.fields is 4)"},
        {"1 x:1:1", "feature 1 'x:1:1': field 'x' is not an integer in [0, 4)"},
        {"1 1:1", "feature 1 '1:1': expected field:index:value"},
        {"1 1:1:1:1", "feature 1 '1:1:1:1': expected field:index:value"},
        {"1 1:y:1", "feature 1 '1:y:1': index 'y' is not an integer in [0, 2^63)"},
        {"1 1:1:z", "feature 1 '1:1:z': value 'z' is not a number"},
    };
    for (size_t i = 0; i < sizeof fbad / sizeof fbad[0]; i++) {
        why[0] = '\0';
        CHECK_INT(prep_parse_line(t, fbad[i].line, strlen(fbad[i].line), buf, &row, why,
                                  sizeof why), PSR_ERR_DATA);
        CHECK_CONTAINS(why, fbad[i].why);
    }
    free(c);
    free(buf);
    free(t);
}

/* A .gz libffm file through prep_file, prep_verify and the training text reader: the same
 * rows, a malformed row skipped and reported, and data.max_bad_rows naming file:line. */
static void test_prep_svm(void)
{
    cfg_t *c = config("data:\n  train: x\n  format: libffm\n  fields: 3\n  max_bad_rows: 1\n");
    prep_text_t *t = malloc(sizeof *t);
    prep_text_from_config(c, t);
    char in[1024], out[1024];
    tmp_path(in, sizeof in, "clicks.ffm.gz");
    size_t cap = 1 << 20, o = 0;
    char *s = malloc(cap);
    psr_rng_t g;
    psr_rng_seed(&g, 5);
    int64_t good = 0;
    for (int r = 0; r < 2000; r++) {
        if (r == 99) { /* line 100 */
            o += (size_t)snprintf(s + o, cap - o, "1 0:1:1 3:2:1\n");
            continue;
        }
        o += (size_t)snprintf(s + o, cap - o, "%s", r % 3 ? "-1" : "+1");
        int nf = (int)psr_rng_below(&g, 5);
        for (int k = 0; k < nf; k++)
            o += (size_t)snprintf(s + o, cap - o, " %d:%d:%.3f", (int)psr_rng_below(&g, 3),
                                  (int)psr_rng_below(&g, 50), psr_rng_uniform(&g) * 2 - 1);
        o += (size_t)snprintf(s + o, cap - o, "\n");
        good++;
    }
    write_gz(in, s, o);
    char *name = prep_out_name(tmpdir, in);
    snprintf(out, sizeof out, "%s", name);
    free(name);
    prep_opts_t po = {.block_rows = 100, .level = 1, .max_bad_rows = 1};
    prep_stats_t st;
    CHECK_INT(prep_file(t, in, out, &po, &st), PSR_OK);
    CHECK_INT(st.rows, good);
    CHECK_INT(st.bad, 1);
    int64_t rows = 0;
    CHECK_INT(prep_verify(t, in, out, 1, &rows), PSR_OK);
    CHECK_INT(rows, good);
    /* the training reader: the same rows with the same values, fields in order */
    rd_reader_t *r = NULL;
    char *files[1] = {in};
    CHECK_INT(rd_open_text(&r, files, 1, 0, 1, t, 1), PSR_OK);
    bks_opts_t so = bks_opts_default();
    so.expect = &t->schema;
    bks_t *bs = NULL;
    char *bfiles[1] = {out};
    CHECK_INT(bks_open(&bs, bfiles, 1, &so), PSR_OK);
    rd_row_t a;
    blk_row_t b;
    int64_t n = 0, diff = 0, unsorted = 0, labels = 0;
    while (r && bs && rd_next(r, &a) == 1 && bks_next_row(bs, &b) == 1) {
        diff += a.n_feat != b.n_feat || a.label != b.label ||
                memcmp(a.key, b.key, (size_t)a.n_feat * 8) ||
                memcmp(a.val, b.val, (size_t)a.n_feat * 4);
        for (int j = 1; j < a.n_feat; j++) unsorted += a.field[j] < a.field[j - 1];
        labels += a.label != 0.0f && a.label != 1.0f;
        n++;
    }
    CHECK_INT(n, good);
    CHECK_INT(diff, 0);
    CHECK_INT(unsorted, 0);
    CHECK_INT(labels, 0);
    CHECK_INT(rd_bad_rows(r), 1);
    rd_close(r);
    bks_close(bs);
    /* one malformed row more than max_bad_rows: the error names file:line */
    po.max_bad_rows = 0;
    CHECK_INT(prep_file(t, in, out, &po, &st), PSR_ERR_DATA);
    char want[1200];
    snprintf(want, sizeof want, "%s:100: malformed row: feature 2 '3:2:1': field '3' is not an "
             "integer in [0, 3) (data.fields is 3); 1 malformed rows exceed data.max_bad_rows=0", in);
    CHECK_CONTAINS(psr_err_msg(), want);
    free(s);
    free(c);
    free(t);
}

int main(void)
{
    const char *base = getenv("PSREC_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_prep.%d", base && *base ? base : "/tmp",
             (int)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmpdir);
    if (system(cmd) != 0) return 2;
    test_config();
    test_parse_csv();
    test_csv_equals_criteo();
    test_prep_criteo();
    test_prep_csv();
    test_config_svm();
    test_parse_svm();
    test_prep_svm();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (!check_failures && system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    CHECK_DONE();
}
