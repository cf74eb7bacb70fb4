/* test_block: the block format (common/block.h) and the block stream (common/blkstream.h):
 * round trips of generic rows (multi-valued fields, every block flag) and of Criteo rows;
 * corrupted, truncated and foreign files (errors name the file and the block); shares
 * (balanced within one block, every block exactly once); positions (tell/seek gives exactly
 * the remaining rows, with and without shuffle, across epochs); the shuffle (deterministic,
 * a permutation, within windows of whole blocks); prefetch thread vs synchronous reads.
 * All data is generated here, under $PSREC_TEST_TMP (or /tmp). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkstream.h"
#include "block.h"
#include "check.h"
#include "testfs.h"
#include "config.h"
#include "hash.h"
#include "psr_error.h"
#include "reader.h"

static char tmpdir[512];

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    if (!a || !b) {
        fprintf(stderr, "cannot copy %s to %s\n", from, to);
        exit(2);
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
    fclose(a);
    fclose(b);
}

static void flip_byte(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    if (fd < 0 || pread(fd, &c, 1, off) != 1) exit(2);
    c ^= 0x5a;
    if (pwrite(fd, &c, 1, off) != 1) exit(2);
    close(fd);
}

/* ---- generated generic rows --------------------------------------------------------------
 * Schema: 0 dense, 1 cat, 2 multi, 3 user, 4 item, 5 multi, 6 dense. Row r's label is r (so a
 * row read back tells which it is); features per multi field 0..5 from small vocabularies so
 * blocks deduplicate keys. */

#define G_FIELDS 7
#define G_MAXF 64

typedef struct {
    int64_t n;
    float *label, *dense;           /* (n), (n, 2) */
    int32_t *nf;                    /* (n) */
    uint16_t *field;                /* (n, G_MAXF) */
    uint64_t *key;
    float *val;
} rows_t;

static void schema_generic(blk_schema_t *s)
{
    static const uint8_t kinds[G_FIELDS] = {BLK_FIELD_DENSE, BLK_FIELD_CAT,  BLK_FIELD_MULTI,
                                            BLK_FIELD_USER,  BLK_FIELD_ITEM, BLK_FIELD_MULTI,
                                            BLK_FIELD_DENSE};
    memset(s, 0, sizeof *s);
    s->format = CFG_FORMAT_CSV;
    s->int_mode = CFG_INT_BUCKET;
    s->n_fields = G_FIELDS;
    s->n_dense = 2;
    s->user_field = 3;
    s->item_field = 4;
    for (int f = 0; f < G_FIELDS; f++) {
        s->kind[f] = kinds[f];
        s->column[f] = (uint16_t)(f + 2);
    }
}

/* ones: every value 1 (else some dense values differ); wide: keys from a huge vocabulary. */
static void rows_gen(rows_t *R, int64_t n, uint64_t seed, int ones, int wide)
{
    psr_rng_t g;
    psr_rng_seed(&g, seed);
    R->n = n;
    R->label = calloc((size_t)n, sizeof *R->label);
    R->dense = calloc((size_t)n * 2, sizeof *R->dense);
    R->nf = calloc((size_t)n, sizeof *R->nf);
    R->field = calloc((size_t)n * G_MAXF, sizeof *R->field);
    R->key = calloc((size_t)n * G_MAXF, sizeof *R->key);
    R->val = calloc((size_t)n * G_MAXF, sizeof *R->val);
    for (int64_t r = 0; r < n; r++) {
        R->label[r] = (float)r;
        R->dense[2 * r] = (float)psr_rng_uniform(&g);
        R->dense[2 * r + 1] = (float)r * 0.5f;
        int k = 0;
        for (int f = 0; f < G_FIELDS; f++) {
            int cnt = (f == 2 || f == 5) ? (int)psr_rng_below(&g, 6) : 1;
            for (int c = 0; c < cnt; c++) {
                uint64_t tok = wide ? psr_rng_next(&g) : psr_rng_below(&g, 50);
                R->field[r * G_MAXF + k] = (uint16_t)f;
                R->key[r * G_MAXF + k] = psr_feature_key_int(f, (int64_t)tok);
                R->val[r * G_MAXF + k] =
                    ones || f != 0 ? 1.0f : (float)psr_rng_uniform(&g) + 0.25f;
                k++;
            }
        }
        R->nf[r] = k;
    }
}

static void rows_free(rows_t *R)
{
    free(R->label);
    free(R->dense);
    free(R->nf);
    free(R->field);
    free(R->key);
    free(R->val);
}

static blk_row_t rows_get(const rows_t *R, int64_t r)
{
    blk_row_t b = {.label = R->label[r],
                   .dense = R->dense + 2 * r,
                   .n_feat = R->nf[r],
                   .field = R->field + r * G_MAXF,
                   .key = R->key + r * G_MAXF,
                   .val = R->val + r * G_MAXF};
    return b;
}

/* 1 when b equals generated row r bit for bit. */
static int row_equal(const rows_t *R, int64_t r, const blk_row_t *b)
{
    blk_row_t a = rows_get(R, r);
    size_t n = (size_t)a.n_feat;
    return a.n_feat == b->n_feat && !memcmp(&a.label, &b->label, 4) &&
           !memcmp(a.dense, b->dense, 8) && !memcmp(a.field, b->field, 2 * n) &&
           !memcmp(a.key, b->key, 8 * n) && !memcmp(a.val, b->val, 4 * n);
}

static int write_rows(const char *path, const rows_t *R, int64_t from, int64_t to,
                      int block_rows, int level, blk_stats_t *st)
{
    blk_schema_t s;
    schema_generic(&s);
    blk_writer_t *w;
    int rc = blk_writer_open(&w, path, &s, block_rows, level);
    if (rc) return rc;
    for (int64_t r = from; r < to && rc == PSR_OK; r++) {
        blk_row_t b = rows_get(R, r);
        rc = blk_writer_add(w, &b);
    }
    if (rc) {
        blk_writer_abort(w);
        return rc;
    }
    return blk_writer_close(w, st);
}

/* ---- format round trips ----------------------------------------------------------------- */

static void test_round_trip(void)
{
    char path[1024], tmp[1100];
    tmp_path(path, sizeof path, "gen.psrb");
    rows_t R;
    rows_gen(&R, 1000, 7, 0, 0);
    for (int level = 0; level <= 9; level += 9) {
        blk_stats_t st;
        CHECK_INT(write_rows(path, &R, 0, R.n, 37, level, &st), PSR_OK);
        snprintf(tmp, sizeof tmp, "%s/.gen.psrb.tmp", tmpdir);
        CHECK(access(tmp, F_OK) != 0); /* renamed away */
        CHECK_INT(st.rows, 1000);
        CHECK_INT(st.blocks, (1000 + 36) / 37);
        CHECK_INT((long)st.file_bytes, file_size(path));
        blk_file_t *f;
        CHECK_INT(blk_file_open(&f, path, 1), PSR_OK);
        if (!f) continue;
        CHECK_INT(blk_file_rows(f), 1000);
        CHECK_INT(blk_file_blocks(f), st.blocks);
        CHECK_INT(blk_file_block_rows(f), 37);
        blk_schema_t s;
        schema_generic(&s);
        CHECK(blk_file_fingerprint(f) == blk_schema_fingerprint(&s));
        CHECK(!blk_schema_is_criteo(blk_file_schema(f)));
        const blk_entry_t *ix = blk_file_index(f);
        blk_block_t b;
        blk_block_init(&b);
        int64_t r = 0, bad = 0;
        for (int64_t i = 0; i < blk_file_blocks(f); i++) {
            CHECK(!(ix[i].flags & BLK_F_FIXED)); /* multi fields: variable counts */
            CHECK(!(ix[i].flags & BLK_F_ONES));  /* field 0 has values other than 1 */
            CHECK(ix[i].flags & BLK_F_IDX16);
            CHECK_INT((int64_t)ix[i].first_row, r);
            CHECK_INT(blk_read_block(f, i, &b), PSR_OK);
            for (int64_t j = 0; j < b.n_rows; j++, r++) {
                blk_row_t row;
                blk_block_row(&b, j, &row);
                bad += !row_equal(&R, r, &row);
            }
        }
        CHECK_INT(r, 1000);
        CHECK_INT(bad, 0);
        blk_block_free(&b);
        blk_file_close(f);
    }
    rows_free(&R);

    /* every value 1 (ONES) and more than 65536 keys in a block (no IDX16) */
    rows_gen(&R, 20000, 8, 1, 1);
    CHECK_INT(write_rows(path, &R, 0, R.n, 20000, 1, NULL), PSR_OK);
    blk_file_t *f;
    CHECK_INT(blk_file_open(&f, path, 1), PSR_OK);
    if (f) {
        const blk_entry_t *e = blk_file_index(f);
        CHECK_INT(blk_file_blocks(f), 1);
        CHECK(e[0].flags & BLK_F_ONES);
        CHECK(!(e[0].flags & BLK_F_IDX16));
        CHECK(e[0].n_keys > 65536);
        blk_block_t b;
        blk_block_init(&b);
        CHECK_INT(blk_read_block(f, 0, &b), PSR_OK);
        int64_t bad = 0;
        for (int64_t j = 0; j < b.n_rows; j++) {
            blk_row_t row;
            blk_block_row(&b, j, &row);
            bad += !row_equal(&R, j, &row);
        }
        CHECK_INT(b.n_rows, 20000);
        CHECK_INT(bad, 0);
        blk_block_free(&b);
        blk_file_close(f);
    }
    rows_free(&R);

    /* an empty file is valid */
    rows_gen(&R, 1, 1, 1, 0);
    CHECK_INT(write_rows(path, &R, 0, 0, 10, 1, NULL), PSR_OK);
    CHECK_INT(blk_file_open(&f, path, 1), PSR_OK);
    if (f) CHECK_INT(blk_file_blocks(f), 0);
    blk_file_close(f);
    rows_free(&R);
}

static void test_writer_rejects(void)
{
    char path[1024];
    tmp_path(path, sizeof path, "reject.psrb");
    blk_schema_t s;
    schema_generic(&s);
    blk_writer_t *w;
    CHECK_INT(blk_writer_open(&w, path, &s, 0, 1), PSR_ERR_USAGE);
    CHECK_INT(blk_writer_open(&w, path, &s, 10, 10), PSR_ERR_USAGE);
    s.n_dense = 3; /* inconsistent with the kinds */
    CHECK_INT(blk_writer_open(&w, path, &s, 10, 1), PSR_ERR_FORMAT);
    schema_generic(&s);
    CHECK_INT(blk_writer_open(&w, path, &s, 10, 1), PSR_OK);
    uint16_t field[2] = {2, 1}; /* decreasing */
    uint64_t key[2] = {1, 2};
    float val[2] = {1, 1}, dense[2] = {0, 0};
    blk_row_t r = {.label = 1, .dense = dense, .n_feat = 2, .field = field, .key = key, .val = val};
    CHECK_INT(blk_writer_add(w, &r), PSR_ERR_INTERNAL);
    field[0] = 1;
    field[1] = 7; /* out of range */
    CHECK_INT(blk_writer_add(w, &r), PSR_ERR_INTERNAL);
    blk_writer_abort(w);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s/.reject.psrb.tmp", tmpdir);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(access(path, F_OK) != 0);
}

/* Criteo rows: rd_parse_criteo output through a block file and back, bit for bit. */
static void criteo_line(psr_rng_t *g, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "%d", (int)psr_rng_below(g, 2));
    static const char *const special[] = {"",   "-1", "0", "2", "3",  "4095", "4096",
                                          "-3", "9223372036854775807", "123456789", "007"};
    for (int f = 0; f < RD_CRITEO_INT; f++) {
        uint64_t u = psr_rng_below(g, 20);
        if (u < 11)
            o += (size_t)snprintf(buf + o, cap - o, "\t%s", special[u]);
        else
            o += (size_t)snprintf(buf + o, cap - o, "\t%llu",
                                  (unsigned long long)psr_rng_below(g, 1ULL << (2 * u - 10)));
    }
    for (int c = 0; c < RD_CRITEO_CAT; c++) {
        if (psr_rng_below(g, 8) == 0)
            o += (size_t)snprintf(buf + o, cap - o, "\t");
        else
            o += (size_t)snprintf(buf + o, cap - o, "\t%08llx",
                                  (unsigned long long)psr_rng_below(g, 40 + 100 * (uint64_t)c));
    }
}

static int write_criteo(const char *path, int64_t n, uint64_t seed, int int_mode,
                        int block_rows, rd_row_t **rows_out)
{
    blk_schema_t s;
    blk_schema_criteo(&s, int_mode);
    blk_writer_t *w;
    int rc = blk_writer_open(&w, path, &s, block_rows, 1);
    if (rc) return rc;
    psr_rng_t g;
    psr_rng_seed(&g, seed);
    rd_row_t *rows = calloc((size_t)n, sizeof *rows);
    char line[2048], why[256];
    for (int64_t r = 0; r < n && rc == PSR_OK; r++) {
        criteo_line(&g, line, sizeof line);
        rc = rd_parse_criteo(line, strlen(line), int_mode, &rows[r], why, sizeof why);
        if (rc) fprintf(stderr, "generated line does not parse: %s: %s\n", why, line);
        if (rc == PSR_OK) rc = blk_writer_add_criteo(w, &rows[r]);
    }
    if (rc) blk_writer_abort(w);
    else rc = blk_writer_close(w, NULL);
    if (rows_out) *rows_out = rows;
    else free(rows);
    return rc;
}

static int crow_equal(const rd_row_t *a, const rd_row_t *b)
{
    return rd_row_equal(a, b);
}

static void test_criteo_round_trip(void)
{
    char path[1024];
    tmp_path(path, sizeof path, "criteo.psrb");
    for (int mode = 0; mode < CFG_INT_MODE_COUNT; mode++) {
        rd_row_t *rows = NULL;
        CHECK_INT(write_criteo(path, 3000, 11 + (uint64_t)mode, mode, 256, &rows), PSR_OK);
        blk_file_t *f;
        CHECK_INT(blk_file_open(&f, path, 1), PSR_OK);
        if (!f) continue;
        CHECK(blk_schema_is_criteo(blk_file_schema(f)));
        blk_schema_t want;
        blk_schema_criteo(&want, mode);
        CHECK(blk_file_fingerprint(f) == blk_schema_fingerprint(&want));
        const blk_entry_t *ix = blk_file_index(f);
        for (int64_t i = 0; i < blk_file_blocks(f); i++) {
            CHECK(ix[i].flags & BLK_F_FIXED);
            CHECK_INT(!!(ix[i].flags & BLK_F_ONES), mode == CFG_INT_BUCKET);
        }
        blk_file_close(f);
        /* through the stream, with the prefetch thread */
        bks_opts_t o = bks_opts_default();
        o.expect = &want;
        bks_t *s;
        char *files[1] = {path};
        CHECK_INT(bks_open(&s, files, 1, &o), PSR_OK);
        rd_row_t row;
        int64_t n = 0, bad = 0;
        int rc;
        while ((rc = bks_next(s, &row)) == 1) bad += n < 3000 && !crow_equal(&row, &rows[n]), n++;
        CHECK_INT(rc, 0);
        CHECK_INT(n, 3000);
        CHECK_INT(bad, 0);
        CHECK_INT(bks_rows_read(s), 3000);
        CHECK_INT(bks_bad_rows(s), 0);
        bks_close(s);
        /* the other int_mode's schema is refused */
        blk_schema_criteo(&want, 1 - mode);
        CHECK_INT(bks_open(&s, files, 1, &o), PSR_ERR_CONFIG);
        CHECK_CONTAINS(psr_err_msg(), "prepared with a different schema");
        CHECK_CONTAINS(psr_err_msg(), path);
        free(rows);
    }
}

/* ---- damaged and foreign files ---------------------------------------------------------- */

static void expect_open_error(const char *path, int code, const char *needle)
{
    blk_file_t *f = NULL;
    int rc = blk_file_open(&f, path, 1);
    CHECK_INT(rc, code);
    CHECK(f == NULL);
    CHECK_CONTAINS(psr_err_msg(), path);
    CHECK_CONTAINS(psr_err_msg(), needle);
    blk_file_close(f);
}

static void test_corruption(void)
{
    char good[1024], bad[1024];
    tmp_path(good, sizeof good, "good.psrb");
    tmp_path(bad, sizeof bad, "bad.psrb");
    rows_t R;
    rows_gen(&R, 500, 3, 0, 0);
    CHECK_INT(write_rows(good, &R, 0, R.n, 50, 1, NULL), PSR_OK);
    blk_file_t *f;
    CHECK_INT(blk_file_open(&f, good, 1), PSR_OK);
    if (!f) return;
    const blk_entry_t *ix = blk_file_index(f);
    long b3 = (long)ix[3].offset, b3_payload = b3 + BLK_FRAME_BYTES + 5;
    long index_off = (long)(ix[9].offset + BLK_FRAME_BYTES + ix[9].comp_bytes);
    blk_file_close(f);
    long size = file_size(good);

    /* a flipped byte in block 3's payload: the file opens, block 3 fails naming file and block */
    copy_file(good, bad);
    flip_byte(bad, b3_payload);
    CHECK_INT(blk_file_open(&f, bad, 1), PSR_OK);
    if (f) {
        blk_block_t b;
        blk_block_init(&b);
        CHECK_INT(blk_read_block(f, 2, &b), PSR_OK);
        CHECK_INT(blk_read_block(f, 3, &b), PSR_ERR_FORMAT);
        char want[1200];
        snprintf(want, sizeof want, "%s: block 3: corrupt (CRC mismatch", bad);
        CHECK_CONTAINS(psr_err_msg(), want);
        CHECK_INT(blk_read_block(f, 4, &b), PSR_OK);
        blk_block_free(&b);
        blk_file_close(f);
    }
    /* ... and through the stream with the prefetch thread: rows before it, then the error */
    for (int prefetch = 0; prefetch <= 2; prefetch += 2) {
        bks_opts_t o = bks_opts_default();
        o.prefetch = prefetch;
        bks_t *s;
        char *files[1] = {bad};
        CHECK_INT(bks_open(&s, files, 1, &o), PSR_OK);
        blk_row_t row;
        int rc;
        int64_t n = 0;
        while ((rc = bks_next_row(s, &row)) == 1) n++;
        CHECK_INT(n, 150);
        CHECK_INT(rc, -PSR_ERR_FORMAT);
        CHECK_CONTAINS(psr_err_msg(), "block 3: corrupt");
        CHECK_CONTAINS(psr_err_msg(), bad);
        CHECK_INT(bks_next_row(s, &row), -PSR_ERR_FORMAT); /* sticky */
        CHECK_CONTAINS(psr_err_msg(), "block 3: corrupt");
        bks_close(s);
    }
    /* a flipped byte in block 3's frame */
    copy_file(good, bad);
    flip_byte(bad, b3 + 6);
    CHECK_INT(blk_file_open(&f, bad, 1), PSR_OK);
    if (f) {
        blk_block_t b;
        blk_block_init(&b);
        CHECK_INT(blk_read_block(f, 3, &b), PSR_ERR_FORMAT);
        CHECK_CONTAINS(psr_err_msg(), "block 3: corrupt (its frame");
        blk_block_free(&b);
        blk_file_close(f);
    }
    /* header, index, trailer */
    copy_file(good, bad);
    flip_byte(bad, 70);
    expect_open_error(bad, PSR_ERR_FORMAT, "header is corrupt");
    copy_file(good, bad);
    flip_byte(bad, index_off + 3 * BLK_INDEX_ENTRY_BYTES + 9);
    expect_open_error(bad, PSR_ERR_FORMAT, "index is corrupt");
    copy_file(good, bad);
    flip_byte(bad, size - 20);
    expect_open_error(bad, PSR_ERR_FORMAT, "trailer is corrupt");
    /* truncation anywhere is detected at open */
    static const long cuts[] = {1, 7, 48, 100};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        copy_file(good, bad);
        CHECK_INT(truncate(bad, size - cuts[i]), 0);
        expect_open_error(bad, PSR_ERR_FORMAT, "truncated");
    }
    copy_file(good, bad);
    CHECK_INT(truncate(bad, 30), 0);
    expect_open_error(bad, PSR_ERR_FORMAT, "truncated");
    /* a file with data appended after the trailer */
    copy_file(good, bad);
    FILE *a = fopen(bad, "ab");
    fputs("junk", a);
    fclose(a);
    expect_open_error(bad, PSR_ERR_FORMAT, "truncated or corrupt");
    /* foreign files: wrong magic, newer version, empty, missing */
    copy_file(good, bad);
    flip_byte(bad, 0);
    expect_open_error(bad, PSR_ERR_FORMAT, "not a psrec block file");
    copy_file(good, bad);
    {
        int fd = open(bad, O_RDWR);
        uint32_t v = BLK_FORMAT_VERSION + 1;
        CHECK(pwrite(fd, &v, 4, 8) == 4);
        close(fd);
    }
    expect_open_error(bad, PSR_ERR_FORMAT, "block format version 2; this psrec reads version 1");
    a = fopen(bad, "wb");
    fputs("1\t2\t3\n", a);
    fclose(a);
    expect_open_error(bad, PSR_ERR_FORMAT, "not a psrec block file");
    a = fopen(bad, "wb");
    fclose(a);
    expect_open_error(bad, PSR_ERR_FORMAT, "not a psrec block file");
    unlink(bad);
    expect_open_error(bad, PSR_ERR_IO, "no such file");
    rows_free(&R);
}

/* ---- shares -------------------------------------------------------------------------------- */

static void test_shares(void)
{
    static const int64_t layouts[][6] = {{10, 0, 0, 0, 0, 0},   {3, 1, 4, 1, 5, 9},
                                         {0, 0, 7, 0, 0, 1},    {1, 1, 1, 1, 1, 1},
                                         {1000, 1, 0, 999, 2, 3}};
    int bad_cover = 0, bad_balance = 0, bad_contig = 0;
    for (size_t L = 0; L < sizeof layouts / sizeof layouts[0]; L++) {
        const int64_t *blocks = layouts[L];
        int64_t total = 0;
        for (int i = 0; i < 6; i++) total += blocks[i];
        for (int W = 1; W <= 17; W++) {
            int64_t *seen = calloc((size_t)total + 1, sizeof *seen);
            int64_t lo = INT64_MAX, hi = 0;
            for (int w = 0; w < W; w++) {
                bks_range_t r[6];
                int n = bks_share(blocks, 6, w, W, r);
                int64_t mine = 0, prev_end = -1;
                for (int k = 0; k < n; k++) {
                    int64_t g0 = 0;
                    for (int i = 0; i < r[k].file; i++) g0 += blocks[i];
                    if (r[k].count <= 0 || r[k].first < 0 ||
                        r[k].first + r[k].count > blocks[r[k].file])
                        bad_cover++;
                    if (prev_end >= 0 && g0 + r[k].first != prev_end) bad_contig++;
                    for (int64_t j = 0; j < r[k].count; j++) seen[g0 + r[k].first + j]++;
                    mine += r[k].count;
                    prev_end = g0 + r[k].first + r[k].count;
                }
                if (mine < lo) lo = mine;
                if (mine > hi) hi = mine;
            }
            for (int64_t g = 0; g < total; g++) bad_cover += seen[g] != 1;
            bad_balance += hi - lo > 1;
            free(seen);
        }
    }
    CHECK_INT(bad_cover, 0);
    CHECK_INT(bad_balance, 0);
    CHECK_INT(bad_contig, 0);
}

/* Several files through bks streams: every worker count gives every row exactly once. */
static void write_files(rows_t *R, char paths[][1024], int n_files, const int64_t *cuts,
                        int block_rows)
{
    for (int i = 0; i < n_files; i++) {
        char name[64];
        snprintf(name, sizeof name, "part-%d.psrb", i);
        tmp_path(paths[i], 1024, name);
        CHECK_INT(write_rows(paths[i], R, cuts[i], cuts[i + 1], block_rows, 1, NULL), PSR_OK);
    }
}

static void test_stream_shares(void)
{
    rows_t R;
    rows_gen(&R, 2000, 21, 0, 0);
    char paths[4][1024];
    const int64_t cuts[5] = {0, 700, 710, 710, 2000}; /* one file empty */
    write_files(&R, paths, 4, cuts, 64);
    char *files[4] = {paths[0], paths[1], paths[2], paths[3]};
    for (int W = 1; W <= 5; W++) {
        int *seen = calloc((size_t)R.n, sizeof *seen);
        int bad = 0;
        int64_t blocks_lo = INT64_MAX, blocks_hi = 0;
        for (int w = 0; w < W; w++) {
            bks_opts_t o = bks_opts_default();
            o.worker = w;
            o.n_workers = W;
            o.prefetch = w % 2 ? 2 : 0;
            bks_t *s;
            CHECK_INT(bks_open(&s, files, 4, &o), PSR_OK);
            if (!s) continue;
            CHECK_INT(bks_total_rows(s), 2000);
            blk_row_t row;
            int rc;
            int64_t n = 0;
            while ((rc = bks_next_row(s, &row)) == 1) {
                int64_t r = (int64_t)row.label;
                if (r < 0 || r >= R.n || !row_equal(&R, r, &row)) bad++;
                else seen[r]++;
                n++;
            }
            CHECK_INT(rc, 0);
            CHECK_INT(n, bks_share_rows(s));
            int64_t nb = bks_share_blocks(s);
            if (nb < blocks_lo) blocks_lo = nb;
            if (nb > blocks_hi) blocks_hi = nb;
            bks_close(s);
        }
        for (int64_t r = 0; r < R.n; r++) bad += seen[r] != 1;
        CHECK_INT(bad, 0);
        CHECK(blocks_hi - blocks_lo <= 1);
        free(seen);
    }
    /* files with different schemas are refused, naming the odd file */
    char odd[1024];
    tmp_path(odd, sizeof odd, "odd.psrb");
    CHECK_INT(write_criteo(odd, 10, 1, CFG_INT_BUCKET, 8, NULL), PSR_OK);
    char *mixed[2] = {paths[0], odd};
    bks_opts_t o = bks_opts_default();
    bks_t *s;
    CHECK_INT(bks_open(&s, mixed, 2, &o), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "odd.psrb: its schema differs");
    /* generic rows cannot come out as rd_row_t */
    CHECK_INT(bks_open(&s, files, 1, &o), PSR_OK);
    rd_row_t cr;
    CHECK_INT(bks_next(s, &cr), -PSR_ERR_CONFIG);
    bks_close(s);
    rows_free(&R);
}

/* ---- positions, shuffle, prefetch ------------------------------------------------------------- */

/* All rows of a stream as labels (row ids), up to cap. */
static int64_t drain(bks_t *s, int64_t *out, int64_t cap, int64_t *mismatch, const rows_t *R)
{
    blk_row_t row;
    int64_t n = 0;
    int rc;
    while ((rc = bks_next_row(s, &row)) == 1) {
        int64_t r = (int64_t)row.label;
        if (R && (r < 0 || r >= R->n || !row_equal(R, r, &row))) (*mismatch)++;
        if (n < cap) out[n] = r;
        n++;
    }
    if (rc != 0) (*mismatch)++;
    return n;
}

static bks_t *open_stream(char **files, int n, int w, int W, int shuffle, uint64_t seed,
                          int prefetch)
{
    bks_opts_t o = bks_opts_default();
    o.worker = w;
    o.n_workers = W;
    o.shuffle_buffer = shuffle;
    o.seed = seed;
    o.prefetch = prefetch;
    bks_t *s = NULL;
    if (bks_open(&s, files, n, &o) != PSR_OK) {
        fprintf(stderr, "bks_open: %s\n", psr_err_msg());
        exit(1);
    }
    return s;
}

static void test_positions(void)
{
    rows_t R;
    rows_gen(&R, 1500, 31, 0, 0);
    char paths[3][1024];
    const int64_t cuts[4] = {0, 500, 1001, 1500};
    write_files(&R, paths, 3, cuts, 40);
    char *files[3] = {paths[0], paths[1], paths[2]};
    int64_t *ref = calloc(4000, sizeof *ref), *got = calloc(4000, sizeof *got);
    static const int shuffles[] = {0, 1, 100, 333, 100000};
    for (size_t si = 0; si < sizeof shuffles / sizeof shuffles[0]; si++) {
        const int S = shuffles[si];
        for (int prefetch = 0; prefetch <= 3; prefetch += 3) {
            int64_t mism = 0;
            /* the full epochs 0 and 1 */
            bks_t *a = open_stream(files, 3, 1, 2, S, 5, prefetch);
            int64_t n0 = drain(a, ref, 4000, &mism, &R);
            CHECK_INT(bks_rewind(a), PSR_OK);
            int64_t n1 = drain(a, ref + n0, 4000 - n0, &mism, &R);
            CHECK_INT(n0, bks_share_rows(a));
            CHECK_INT(n1, n0);
            bks_close(a);
            /* stop at several points, tell, seek a fresh stream there: exactly the rest */
            static const int64_t stops[] = {0, 1, 39, 40, 41, 333, 700, 749, 750};
            for (size_t k = 0; k < sizeof stops / sizeof stops[0]; k++) {
                for (int epoch = 0; epoch < 2; epoch++) {
                    int64_t stop = stops[k];
                    if (stop > n0) continue;
                    bks_t *b = open_stream(files, 3, 1, 2, S, 5, prefetch);
                    if (epoch) bks_rewind(b);
                    blk_row_t row;
                    for (int64_t i = 0; i < stop; i++) CHECK_INT(bks_next_row(b, &row), 1);
                    bks_pos_t pos;
                    bks_tell(b, &pos);
                    bks_close(b);
                    unsigned char saved[sizeof pos]; /* as a checkpoint would keep it */
                    memcpy(saved, &pos, sizeof pos);
                    bks_t *c = open_stream(files, 3, 1, 2, S, 5, prefetch ? 0 : 2);
                    bks_pos_t back;
                    memcpy(&back, saved, sizeof back);
                    CHECK_INT(bks_seek(c, &back), PSR_OK);
                    int64_t n = drain(c, got, 4000, &mism, &R);
                    CHECK_INT(n, n0 - stop);
                    int diff = 0;
                    for (int64_t i = 0; i < n && i < 4000; i++)
                        diff += got[i] != ref[epoch * n0 + stop + i];
                    CHECK_INT(diff, 0);
                    /* and the next epoch after it continues like the uninterrupted stream */
                    if (epoch == 0) {
                        CHECK_INT(bks_rewind(c), PSR_OK);
                        n = drain(c, got, 4000, &mism, &R);
                        diff = 0;
                        for (int64_t i = 0; i < n; i++) diff += got[i] != ref[n0 + i];
                        CHECK_INT(diff, 0);
                    }
                    bks_close(c);
                }
            }
            CHECK_INT(mism, 0);
        }
    }
    /* positions that do not fit */
    bks_t *a = open_stream(files, 3, 0, 2, 0, 5, 0);
    bks_pos_t pos;
    bks_tell(a, &pos);
    bks_t *b = open_stream(files, 3, 0, 3, 0, 5, 0); /* another worker count */
    CHECK_INT(bks_seek(b, &pos), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "different share");
    bks_close(b);
    b = open_stream(files, 3, 0, 2, 10, 5, 0); /* shuffle on */
    CHECK_INT(bks_seek(b, &pos), PSR_ERR_CONFIG);
    bks_close(b);
    bks_pos_t bad = pos;
    bad.magic ^= 1;
    CHECK_INT(bks_seek(a, &bad), PSR_ERR_CONFIG);
    bad = pos;
    bad.row = 41; /* blocks hold 40 rows */
    CHECK_INT(bks_seek(a, &bad), PSR_ERR_CONFIG);
    bad = pos;
    bad.block = 5;
    CHECK_INT(bks_seek(a, &bad), PSR_ERR_CONFIG);
    /* the stream is unchanged by the failed seeks */
    int64_t mism = 0;
    CHECK_INT(drain(a, got, 4000, &mism, &R), bks_share_rows(a));
    CHECK_INT(mism, 0);
    /* at the end: tell says so, and seeking there gives nothing */
    bks_tell(a, &pos);
    CHECK_INT(pos.file, -1);
    CHECK_INT((int64_t)pos.seq, bks_share_blocks(a));
    b = open_stream(files, 3, 0, 2, 0, 5, 2);
    CHECK_INT(bks_seek(b, &pos), PSR_OK);
    blk_row_t row;
    CHECK_INT(bks_next_row(b, &row), 0);
    bks_close(b);
    bks_close(a);
    free(ref);
    free(got);
    rows_free(&R);
}

/* Shuffle: a permutation of the share, deterministic per seed and epoch, different across
 * seeds and epochs, each window made of whole blocks holding at least S rows. */
static void test_shuffle(void)
{
    rows_t R;
    rows_gen(&R, 3000, 41, 0, 0);
    char paths[2][1024];
    const int64_t cuts[3] = {0, 1234, 3000};
    write_files(&R, paths, 2, cuts, 50); /* blocks of 50, the last of each file shorter */
    char *files[2] = {paths[0], paths[1]};
    int64_t *a = calloc(3000, sizeof *a), *b = calloc(3000, sizeof *b), *c = calloc(3000, sizeof *c);
    static const int sizes[] = {1, 120, 1000, 5000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int S = sizes[si];
        int64_t mism = 0;
        bks_t *s1 = open_stream(files, 2, 0, 1, S, 9, 0), *s2 = open_stream(files, 2, 0, 1, S, 9, 3);
        int64_t n1 = drain(s1, a, 3000, &mism, &R), n2 = drain(s2, b, 3000, &mism, &R);
        CHECK_INT(n1, 3000);
        CHECK_INT(n2, 3000);
        CHECK_INT(mism, 0);
        CHECK(memcmp(a, b, 3000 * sizeof *a) == 0); /* same seed: same order, thread or not */
        /* a permutation, not the identity */
        char *seen = calloc(3000, 1);
        int dup = 0, moved = 0;
        for (int i = 0; i < 3000; i++) {
            dup += seen[a[i]]++;
            moved += a[i] != i;
        }
        CHECK_INT(dup, 0);
        CHECK(moved > 1500);
        free(seen);
        /* windows: walking the output, every window is a set of whole blocks of >= S rows */
        {
            int64_t block_of[3000];
            for (int64_t r = 0; r < 3000; r++)
                block_of[r] = r < 1234 ? r / 50 : 25 + (r - 1234) / 50; /* 1234 = 24*50 + 34 */
            int need[61] = {0}, left[61];
            for (int64_t r = 0; r < 3000; r++) need[block_of[r]]++;
            memcpy(left, need, sizeof left);
            /* a window ends where every block begun is complete and it holds >= S rows; it
             * never holds more than S + 49 (whole blocks of at most 50 rows) */
            int open_blocks = 0, too_long = 0, windows = 0;
            int64_t rows_in_window = 0;
            int started[61] = {0};
            for (int i = 0; i < 3000; i++) {
                int64_t k = block_of[a[i]];
                if (!started[k]) started[k] = 1, open_blocks++;
                if (--left[k] == 0) open_blocks--;
                rows_in_window++;
                too_long += rows_in_window > S + 49;
                if (open_blocks == 0 && rows_in_window >= S) rows_in_window = 0, windows++;
            }
            CHECK_INT(open_blocks, 0);
            CHECK_INT(too_long, 0);
            if (S < 3000) CHECK(windows >= 3000 / (S + 49));
            /* with S = 1 each window is one block: rows of a block come out together */
            if (S == 1) {
                int splits = 0;
                for (int i = 1; i < 3000; i++)
                    splits += block_of[a[i]] != block_of[a[i - 1]];
                CHECK_INT(splits, 60); /* 61 blocks, each contiguous */
            }
        }
        /* the next epoch and another seed give other orders */
        bks_rewind(s1);
        drain(s1, c, 3000, &mism, &R);
        CHECK(memcmp(a, c, 3000 * sizeof *a) != 0);
        bks_t *s3 = open_stream(files, 2, 0, 1, S, 10, 2);
        drain(s3, c, 3000, &mism, &R);
        CHECK(memcmp(a, c, 3000 * sizeof *a) != 0);
        CHECK_INT(mism, 0);
        bks_close(s1);
        bks_close(s2);
        bks_close(s3);
    }
    /* without shuffle, prefetch and synchronous reads agree and keep file order */
    int64_t mism = 0;
    bks_t *s1 = open_stream(files, 2, 0, 1, 0, 9, 0), *s2 = open_stream(files, 2, 0, 1, 0, 9, 1);
    drain(s1, a, 3000, &mism, &R);
    drain(s2, b, 3000, &mism, &R);
    int out_of_order = 0;
    for (int i = 0; i < 3000; i++) out_of_order += a[i] != i || b[i] != i;
    CHECK_INT(out_of_order, 0);
    CHECK_INT(mism, 0);
    bks_close(s1);
    bks_close(s2);
    free(a);
    free(b);
    free(c);
    rows_free(&R);
}

int main(void)
{
    const char *base = getenv("PSREC_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_block.%d", base && *base ? base : "/tmp",
             (int)getpid());
    mkdir_p(tmpdir);
    test_round_trip();
    test_writer_rejects();
    test_criteo_round_trip();
    test_corruption();
    test_shares();
    test_stream_shares();
    test_positions();
    test_shuffle();
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (!check_failures && system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    CHECK_DONE();
}
