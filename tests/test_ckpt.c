/* test_ckpt: checkpoint storage (common/ckpt.h). Round trips of rows, dense blocks, state and
 * manifests; fault tests (truncation, flipped bytes in each region, wrong version and kind,
 * missing and altered files, incompatible configs, injected write errors through /dev/full);
 * the commit/keep protocol; ckpt_find's fallback; elastic loading by bucket; and the
 * verify/inspect reports, whose digest is checked against one computed here.
 * Everything lives under $PSREC_TEST_TMP (or /tmp)/test_ckpt.PID, removed on success. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "testfs.h"
#include "ckpt.h"
#include "hash.h"
#include "psr_error.h"

static char tmpdir[900];

/* ---- helpers ------------------------------------------------------------------------- */

static char *path2(const char *a, const char *b) { return ckpt_join(a, b); }

static void cp_r(const char *a, const char *b)
{
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", b, a, b);
    if (system(cmd) != 0) fprintf(stderr, "cannot copy %s\n", a);
}

static int64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static void flip_byte(const char *p, int64_t off)
{
    int fd = open(p, O_RDWR);
    unsigned char c = 0;
    if (fd < 0 || pread(fd, &c, 1, off) != 1) fprintf(stderr, "cannot read %s\n", p);
    c ^= 0x5a;
    if (fd < 0 || pwrite(fd, &c, 1, off) != 1) fprintf(stderr, "cannot write %s\n", p);
    if (fd >= 0) close(fd);
}

static void set_u32(const char *p, int64_t off, uint32_t v)
{
    int fd = open(p, O_RDWR);
    if (fd < 0 || pwrite(fd, &v, 4, off) != 4) fprintf(stderr, "cannot write %s\n", p);
    if (fd >= 0) close(fd);
}

static void append_byte(const char *p)
{
    FILE *f = fopen(p, "ab");
    if (f) {
        fputc(0, f);
        fclose(f);
    }
}

static void copy_file(const char *a, const char *b)
{
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", a, b);
    if (system(cmd) != 0) fprintf(stderr, "cannot copy %s\n", a);
}

/* Sorted, space-separated entries of a directory ("" when empty or missing). */
static void list_dir(const char *d, char *out, size_t size)
{
    char names[64][128];
    int n = 0;
    out[0] = '\0';
    DIR *dp = opendir(d);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp)) && n < 64) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(names[n++], 128, "%.120s", e->d_name);
    }
    closedir(dp);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[128];
            memcpy(t, names[j], 128);
            memcpy(names[j], names[j - 1], 128);
            memcpy(names[j - 1], t, 128);
        }
    for (int i = 0; i < n; i++) {
        strncat(out, names[i], size - strlen(out) - 2);
        if (i + 1 < n) strncat(out, " ", size - strlen(out) - 1);
    }
}

/* stderr into a file while `capture` is active */
static int saved_fd = -1;
static char cap_path[1000];
static void capture_begin(void)
{
    fflush(stderr);
    snprintf(cap_path, sizeof cap_path, "%s/stderr.txt", tmpdir);
    int fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    saved_fd = dup(2);
    dup2(fd, 2);
    close(fd);
}
static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    FILE *f = fopen(cap_path, "rb");
    char *s = calloc(1, 65536);
    if (f) {
        size_t n = fread(s, 1, 65535, f);
        s[n] = '\0';
        fclose(f);
    }
    fputs(s, stderr); /* still visible in the test log */
    return s;
}

/* Deterministic row content for a key. */
static void row_floats(uint64_t key, int width, float *f)
{
    psr_rng_t r;
    psr_rng_seed(&r, key);
    for (int j = 0; j < width; j++) f[j] = (float)(0.01 * psr_rng_normal(&r));
    for (int j = width; j < 2 * width; j++) f[j] = (float)(1e-3 * psr_rng_normal(&r));
    for (int j = 2 * width; j < 3 * width; j++) f[j] = (float)(1e-6 * psr_rng_uniform(&r));
}
static int64_t row_step(uint64_t key) { return (int64_t)(key % 97); }
static int64_t row_last(uint64_t key) { return (int64_t)(key % 1009); }

typedef struct {
    uint32_t bucket;
    uint64_t key;
} bk_t;

static int cmp_bk(const void *a, const void *b)
{
    const bk_t *x = a, *y = b;
    if (x->bucket != y->bucket) return x->bucket < y->bucket ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* n keys sorted by (bucket, key); keys of buckets with bucket % skip_mod == 0 are left out
 * when skip_mod > 0, so those buckets are empty. */
static bk_t *make_keys(int n, uint32_t n_buckets, int skip_mod, int *n_out)
{
    bk_t *v = malloc((size_t)n * sizeof *v);
    int k = 0;
    for (int i = 0; i < n; i++) {
        uint64_t key = psr_mix64((uint64_t)i * 7919 + 11);
        uint32_t b = psr_key_bucket(key, n_buckets);
        if (skip_mod > 0 && b % (uint32_t)skip_mod == 0) continue;
        v[k].bucket = b;
        v[k].key = key;
        k++;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_bk);
    *n_out = k;
    return v;
}

/* Rows file for `server` of S holding its buckets (b % S == server), every owned bucket
 * begun. Returns the digest of the rows written; *info filled. */
static uint64_t write_rows_file(const char *dir, int server, int S, int width, uint32_t B,
                                const bk_t *keys, int n, int64_t step, int level,
                                ckpt_file_info_t *info, int *rc_out)
{
    ckpt_writer_t *w;
    uint64_t digest = 0;
    float f[3 * 64];
    int rc = ckpt_rows_create(&w, dir, server, width, B, step, level);
    int i = 0;
    for (uint32_t b = 0; b < B && rc == PSR_OK; b++) {
        while (i < n && keys[i].bucket < b) i++;
        if (psr_bucket_owner(b, S) != server) continue;
        rc = ckpt_rows_bucket(w, b);
        for (; i < n && keys[i].bucket == b && rc == PSR_OK; i++) {
            row_floats(keys[i].key, width, f);
            rc = ckpt_rows_put(w, keys[i].key, f, row_step(keys[i].key), row_last(keys[i].key));
            digest += psr_row_digest(keys[i].key, f, 3 * (size_t)width, row_step(keys[i].key));
        }
    }
    if (rc == PSR_OK)
        rc = ckpt_writer_close(w, info);
    else
        ckpt_writer_abort(w);
    *rc_out = rc;
    return digest;
}

/* dense blocks: ids 0, 3, 7 with 0, 1 and 1000 floats */
static const uint32_t dense_ids[3] = {0, 3, 7};
static const size_t dense_n[3] = {0, 1, 1000};
static void dense_block(int i, float *f)
{
    for (size_t j = 0; j < dense_n[i]; j++) f[j] = (float)(0.5 * sin((double)j + i));
}

static uint64_t write_dense_file(const char *dir, int64_t step, int level, ckpt_file_info_t *info,
                                 int *rc_out)
{
    ckpt_writer_t *w;
    float f[1000];
    uint64_t digest = 0;
    int rc = ckpt_dense_create(&w, dir, step, level);
    for (int i = 0; i < 3 && rc == PSR_OK; i++) {
        dense_block(i, f);
        rc = ckpt_dense_put(w, dense_ids[i], f, dense_n[i], 1000 + i);
        digest += psr_row_digest(dense_ids[i], f, dense_n[i], 1000 + i);
    }
    if (rc == PSR_OK)
        rc = ckpt_writer_close(w, info);
    else
        ckpt_writer_abort(w);
    *rc_out = rc;
    return digest;
}

typedef struct {
    int S, W, width, level, n_keys;
    uint32_t B;
    int set_digest;       /* record the digest in the manifest */
    uint64_t bad_digest;  /* if nonzero: record this one instead */
} job_t;

/* A whole checkpoint of `step` committed into root. Returns PSR_OK; *digest = the model
 * digest computed from what was written. */
static int write_checkpoint(const char *root, const job_t *j, int64_t step, int keep,
                            uint64_t *digest)
{
    char *stage;
    int rc = ckpt_stage(root, step, &stage);
    if (rc != PSR_OK) return rc;
    int n;
    bk_t *keys = make_keys(j->n_keys, j->B, 5, &n);
    ckpt_manifest_t m;
    ckpt_manifest_init(&m, step, 0x1234abcd5678ef00ULL, 0xfeedULL, j->S, j->W, j->B, j->width);
    uint64_t d = 0;
    ckpt_file_info_t info;
    for (int s = 0; s < j->S && rc == PSR_OK; s++) {
        d += write_rows_file(stage, s, j->S, j->width, j->B, keys, n, step, j->level, &info, &rc);
        if (rc == PSR_OK) ckpt_manifest_add_file(&m, &info);
    }
    if (rc == PSR_OK) d += write_dense_file(stage, step, j->level, &info, &rc);
    if (rc == PSR_OK) ckpt_manifest_add_file(&m, &info);
    for (int w = 0; w < j->W && rc == PSR_OK; w++) {
        char state[64];
        int len = snprintf(state, sizeof state, "worker %d reader at block %d", w, 17 * w);
        rc = ckpt_write_state(stage, CKPT_KIND_WORKER, w, step, j->level, state, (size_t)len, &info);
        if (rc == PSR_OK) ckpt_manifest_add_file(&m, &info);
    }
    if (rc == PSR_OK) {
        rc = ckpt_write_state(stage, CKPT_KIND_GLOBAL, 0, step, j->level, "lr-schedule", 11, &info);
        if (rc == PSR_OK) ckpt_manifest_add_file(&m, &info);
    }
    if (rc == PSR_OK) rc = ckpt_manifest_set(&m, "model.type", "fm");
    if (rc == PSR_OK) rc = ckpt_manifest_set(&m, "note", "quotes \" colon: newline\n tab\t é");
    if (j->set_digest) {
        m.has_digest = 1;
        m.digest = j->bad_digest ? j->bad_digest : d;
    }
    if (rc == PSR_OK) rc = ckpt_commit(root, &m, keep, NULL);
    if (rc != PSR_OK) ckpt_abort(root, step);
    ckpt_manifest_free(&m);
    free(keys);
    free(stage);
    if (digest) *digest = d;
    return rc;
}

/* Read a rows file completely: rc, rows and digest. */
static int read_rows(const char *path, int64_t *rows, uint64_t *digest)
{
    ckpt_reader_t *r;
    *rows = 0;
    *digest = 0;
    int rc = ckpt_reader_open(&r, path, CKPT_KIND_ROWS);
    if (rc != PSR_OK) return rc;
    size_t nf = 3 * (size_t)ckpt_reader_header(r)->width;
    for (;;) {
        ckpt_row_t row;
        int eof;
        rc = ckpt_rows_next(r, &row, &eof);
        if (rc != PSR_OK || eof) break;
        (*rows)++;
        *digest += psr_row_digest(row.key, row.floats, nf, row.step);
    }
    ckpt_reader_close(r);
    return rc;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_rows_roundtrip(void)
{
    char *dir = path2(tmpdir, "rows");
    mkdir_p(dir);
    const int width = 3;
    const uint32_t B = 64;
    int n;
    bk_t *keys = make_keys(20000, B, 5, &n);
    CHECK(n > 10000 && n < 20000);
    const int levels[3] = {0, 1, 9};
    int64_t sizes[3];
    for (int li = 0; li < 3; li++) {
        ckpt_file_info_t info;
        int rc;
        uint64_t want = write_rows_file(dir, 0, 1, width, B, keys, n, 42, levels[li], &info, &rc);
        CHECK_INT(rc, PSR_OK);
        char *p = path2(dir, "server-00000.rows");
        sizes[li] = file_size(p);
        CHECK_INT(info.bytes, sizes[li]);
        CHECK_INT(info.records, n);
        CHECK_INT(info.n_segments, B);
        CHECK_INT(info.raw_bytes, (uint64_t)n * (24 + 12 * width));
        CHECK_INT(info.kind, CKPT_KIND_ROWS);
        CHECK(!strcmp(info.name, "server-00000.rows"));
        /* every row back, in order, bit for bit */
        ckpt_reader_t *r;
        CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_ROWS), PSR_OK);
        const ckpt_header_t *h = ckpt_reader_header(r);
        CHECK_INT(h->width, width);
        CHECK_INT(h->n_buckets, B);
        CHECK_INT(h->step, 42);
        CHECK_INT(h->level, levels[li]);
        CHECK_INT(h->records, n);
        int i = 0, bad = 0, eof = 0;
        float f[9];
        uint64_t got = 0;
        for (;;) {
            ckpt_row_t row;
            int rc2 = ckpt_rows_next(r, &row, &eof);
            if (rc2 != PSR_OK) {
                CHECK_INT(rc2, PSR_OK);
                break;
            }
            if (eof) break;
            if (i >= n) {
                bad++;
                break;
            }
            row_floats(keys[i].key, width, f);
            if (row.key != keys[i].key || row.bucket != keys[i].bucket ||
                memcmp(row.floats, f, sizeof f) != 0 || row.step != row_step(row.key) ||
                row.last != row_last(row.key))
                bad++;
            got += psr_row_digest(row.key, row.floats, 9, row.step);
            i++;
        }
        CHECK_INT(bad, 0);
        CHECK_INT(i, n);
        CHECK(got == want);
        /* eof is sticky */
        ckpt_row_t row;
        CHECK_INT(ckpt_rows_next(r, &row, &eof), PSR_OK);
        CHECK_INT(eof, 1);
        /* one bucket alone; empty buckets are present and empty */
        CHECK(ckpt_reader_find(r, 5) >= 0); /* 5 % 5 == 0: empty but owned */
        CHECK_INT(ckpt_reader_segments(r)[ckpt_reader_find(r, 5)].records, 0);
        CHECK_INT(ckpt_reader_select(r, 5), PSR_OK);
        CHECK_INT(ckpt_rows_next(r, &row, &eof), PSR_OK);
        CHECK_INT(eof, 1);
        int first = -1, cnt = 0;
        for (int k = 0; k < n; k++)
            if (keys[k].bucket == 33) {
                if (first < 0) first = k;
                cnt++;
            }
        CHECK(cnt > 0);
        CHECK_INT(ckpt_reader_select(r, 33), PSR_OK);
        int seen = 0;
        bad = 0;
        for (;;) {
            CHECK_INT(ckpt_rows_next(r, &row, &eof), PSR_OK);
            if (eof) break;
            if (row.key != keys[first + seen].key || row.bucket != 33) bad++;
            seen++;
        }
        CHECK_INT(seen, cnt);
        CHECK_INT(bad, 0);
        CHECK_INT(ckpt_reader_select(r, 64), PSR_ERR_FORMAT);
        CHECK_CONTAINS(psr_err_msg(), "holds no bucket 64");
        ckpt_reader_close(r);
        free(p);
    }
    CHECK(sizes[1] < sizes[0]); /* level 1 compresses */
    CHECK(sizes[2] <= sizes[1]);

    /* a server that owns only some buckets: two of three */
    ckpt_file_info_t info;
    int rc;
    write_rows_file(dir, 1, 3, width, B, keys, n, 42, 1, &info, &rc);
    CHECK_INT(rc, PSR_OK);
    CHECK_INT(info.n_segments, 21); /* buckets 1, 4, ..., 61 */

    /* writer misuse: out-of-order bucket, key in the wrong bucket; abort leaves nothing */
    rm_rf(dir);
    mkdir_p(dir);
    ckpt_writer_t *w;
    float f[9] = {0};
    CHECK_INT(ckpt_rows_create(&w, dir, 0, width, B, 1, 1), PSR_OK);
    CHECK_INT(ckpt_rows_bucket(w, 10), PSR_OK);
    CHECK_INT(ckpt_rows_bucket(w, 9), PSR_ERR_INTERNAL);
    CHECK_CONTAINS(psr_err_msg(), "increasing order");
    CHECK_INT(ckpt_rows_bucket(w, 11), PSR_ERR_INTERNAL); /* sticky */
    ckpt_writer_abort(w);
    CHECK_INT(ckpt_rows_create(&w, dir, 0, width, B, 1, 1), PSR_OK);
    CHECK_INT(ckpt_rows_bucket(w, keys[0].bucket + 1), PSR_OK);
    CHECK_INT(ckpt_rows_put(w, keys[0].key, f, 0, 0), PSR_ERR_INTERNAL);
    CHECK_CONTAINS(psr_err_msg(), "belongs to bucket");
    CHECK_INT(ckpt_writer_close(w, NULL), PSR_ERR_INTERNAL); /* close after an error fails, cleans */
    char ls[2000];
    list_dir(dir, ls, sizeof ls);
    CHECK(!strcmp(ls, ""));
    CHECK_INT(ckpt_rows_create(&w, dir, 0, 0, B, 1, 1), PSR_ERR_USAGE);
    CHECK_INT(ckpt_rows_create(&w, dir, 0, 3, B, 1, 10), PSR_ERR_USAGE);
    ckpt_writer_abort(NULL);
    free(keys);
    free(dir);
}

static void test_dense_and_state(void)
{
    char *dir = path2(tmpdir, "dense");
    mkdir_p(dir);
    ckpt_file_info_t info;
    int rc;
    uint64_t want = write_dense_file(dir, 9, 6, &info, &rc);
    CHECK_INT(rc, PSR_OK);
    CHECK_INT(info.records, 3);
    CHECK_INT(info.raw_bytes, 3 * 8 + 4 * 1001);
    char *p = path2(dir, "dense.params");
    ckpt_reader_t *r;
    CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_DENSE), PSR_OK);
    uint64_t got = 0;
    int i = 0, eof, bad = 0;
    float f[1000];
    for (;;) {
        ckpt_dense_block_t b;
        CHECK_INT(ckpt_dense_next(r, &b, &eof), PSR_OK);
        if (eof || i >= 3) break;
        dense_block(i, f);
        if (b.id != dense_ids[i] || b.n != dense_n[i] || b.step != 1000 + i ||
            (b.n && memcmp(b.floats, f, b.n * 4) != 0))
            bad++;
        got += psr_row_digest(b.id, b.floats, b.n, b.step);
        i++;
    }
    CHECK_INT(i, 3);
    CHECK_INT(bad, 0);
    CHECK(got == want);
    ckpt_dense_block_t b;
    CHECK_INT(ckpt_reader_select(r, 3), PSR_OK);
    CHECK_INT(ckpt_dense_next(r, &b, &eof), PSR_OK);
    CHECK(!eof && b.id == 3 && b.n == 1 && b.step == 1001);
    CHECK_INT(ckpt_dense_next(r, &b, &eof), PSR_OK);
    CHECK_INT(eof, 1);
    ckpt_reader_close(r);

    /* an empty dense file is valid */
    rm_rf(p);
    ckpt_writer_t *w;
    CHECK_INT(ckpt_dense_create(&w, dir, 9, 1), PSR_OK);
    CHECK_INT(ckpt_writer_close(w, &info), PSR_OK);
    CHECK_INT(info.n_segments, 0);
    CHECK_INT(info.bytes, CKPT_HEADER_BYTES + CKPT_TRAILER_BYTES);
    CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_DENSE), PSR_OK);
    CHECK_INT(ckpt_dense_next(r, &b, &eof), PSR_OK);
    CHECK_INT(eof, 1);
    ckpt_reader_close(r);

    /* state: empty and 100 KB */
    void *bytes;
    size_t n;
    CHECK_INT(ckpt_write_state(dir, CKPT_KIND_GLOBAL, 0, 9, 1, "", 0, &info), PSR_OK);
    char *g = path2(dir, "global.state");
    CHECK_INT(ckpt_read_state(g, CKPT_KIND_GLOBAL, &bytes, &n), PSR_OK);
    CHECK_INT(n, 0);
    CHECK(bytes != NULL);
    free(bytes);
    unsigned char *big = malloc(100000);
    psr_rng_t rng;
    psr_rng_seed(&rng, 5);
    for (int k = 0; k < 100000; k++) big[k] = (unsigned char)(psr_rng_next(&rng) >> 56);
    CHECK_INT(ckpt_write_state(dir, CKPT_KIND_WORKER, 7, 9, 9, big, 100000, &info), PSR_OK);
    CHECK(!strcmp(info.name, "worker-00007.state"));
    char *ws = path2(dir, "worker-00007.state");
    CHECK_INT(ckpt_read_state(ws, CKPT_KIND_WORKER, &bytes, &n), PSR_OK);
    CHECK_INT(n, 100000);
    CHECK(bytes && memcmp(bytes, big, 100000) == 0);
    free(bytes);
    CHECK_INT(ckpt_write_state(dir, CKPT_KIND_ROWS, 0, 9, 1, "", 0, &info), PSR_ERR_USAGE);
    CHECK_INT(ckpt_write_state(dir, CKPT_KIND_GLOBAL, 1, 9, 1, "", 0, &info), PSR_ERR_USAGE);

    /* wrong kind */
    CHECK_INT(ckpt_reader_open(&r, ws, CKPT_KIND_ROWS), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "wrong kind: this is a worker-state file, expected a parameter-rows file");
    CHECK_CONTAINS(psr_err_msg(), ws);
    CHECK(r == NULL);
    CHECK_INT(ckpt_read_state(ws, CKPT_KIND_GLOBAL, &bytes, &n), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "wrong kind");
    free(big);
    free(g);
    free(ws);
    free(p);
    free(dir);
}

/* Open and read the whole rows file at p: the status, with the message in psr_err_msg(). */
static int open_and_read(const char *p)
{
    int64_t rows;
    uint64_t d;
    psr_err_clear();
    return read_rows(p, &rows, &d);
}

static void test_file_faults(void)
{
    char *dir = path2(tmpdir, "faults");
    mkdir_p(dir);
    int n;
    bk_t *keys = make_keys(3000, 16, 0, &n);
    ckpt_file_info_t info;
    int rc;
    write_rows_file(dir, 0, 1, 2, 16, keys, n, 5, 1, &info, &rc);
    CHECK_INT(rc, PSR_OK);
    char *good = path2(dir, "server-00000.rows");
    char *bad = path2(dir, "bad.rows");
    int64_t size = file_size(good);
    CHECK(size > 1000);
    CHECK_INT(open_and_read(good), PSR_OK);

    /* truncation anywhere */
    const int64_t cuts[] = {0, 5, 8, 12, 63, 64, 100, 111, size / 3, size / 2, size - 48, size - 20, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        copy_file(good, bad);
        if (truncate(bad, cuts[i]) != 0) fprintf(stderr, "truncate failed\n");
        CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
        CHECK_CONTAINS(psr_err_msg(), "truncated");
        CHECK_CONTAINS(psr_err_msg(), bad);
    }
    /* extended */
    copy_file(good, bad);
    append_byte(bad);
    CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "no end marker");

    /* header: magic, a CRC-covered field, version, kind */
    copy_file(good, bad);
    flip_byte(bad, 2);
    CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "not a psrec checkpoint file (wrong magic)");
    copy_file(good, bad);
    flip_byte(bad, 41); /* step */
    CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "corrupt: header CRC mismatch");
    CHECK_CONTAINS(psr_err_msg(), bad);
    copy_file(good, bad);
    set_u32(bad, 8, 3);
    CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "unsupported checkpoint file version 3 (this psrec reads versions 1 to 2)");

    /* trailer and index */
    copy_file(good, bad);
    flip_byte(bad, size - 20);
    CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "corrupt: trailer CRC mismatch");
    int64_t index_off = size - CKPT_TRAILER_BYTES - 16 * CKPT_INDEX_ENTRY_BYTES;
    copy_file(good, bad);
    flip_byte(bad, index_off + 3 * CKPT_INDEX_ENTRY_BYTES + 20);
    CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "corrupt: index CRC mismatch");

    /* payload: a byte in the middle of several segments; also at level 0 (stored blocks,
     * where only the checksums can notice) */
    ckpt_reader_t *r;
    CHECK_INT(ckpt_reader_open(&r, good, CKPT_KIND_ROWS), PSR_OK);
    ckpt_segment_t segs[16];
    memcpy(segs, ckpt_reader_segments(r), sizeof segs);
    ckpt_reader_close(r);
    for (int s = 0; s < 16; s += 5) {
        for (int pos = 0; pos < 3; pos++) {
            copy_file(good, bad);
            int64_t off = (int64_t)segs[s].offset + (int64_t)segs[s].comp_bytes * (pos + 1) / 4;
            flip_byte(bad, off);
            CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
            CHECK_CONTAINS(psr_err_msg(), "corrupt");
            CHECK_CONTAINS(psr_err_msg(), bad);
        }
    }
    write_rows_file(dir, 0, 1, 2, 16, keys, n, 5, 0, &info, &rc);
    CHECK_INT(rc, PSR_OK);
    for (int k = 1; k < 8; k++) {
        copy_file(good, bad);
        flip_byte(bad, 64 + (int64_t)info.bytes * k / 10);
        CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
        CHECK_CONTAINS(psr_err_msg(), "corrupt");
    }
    /* selecting one bucket verifies that bucket's CRC */
    CHECK_INT(ckpt_reader_open(&r, good, CKPT_KIND_ROWS), PSR_OK);
    memcpy(segs, ckpt_reader_segments(r), sizeof segs);
    ckpt_reader_close(r);
    copy_file(good, bad);
    flip_byte(bad, (int64_t)(segs[7].offset + segs[7].comp_bytes / 2));
    CHECK_INT(ckpt_reader_open(&r, bad, CKPT_KIND_ROWS), PSR_OK);
    CHECK_INT(ckpt_reader_select(r, 6), PSR_OK); /* a clean bucket reads fine */
    int eof = 0, cnt = 0, last_rc = PSR_OK;
    ckpt_row_t row;
    while ((last_rc = ckpt_rows_next(r, &row, &eof)) == PSR_OK && !eof) cnt++;
    CHECK_INT(last_rc, PSR_OK);
    CHECK_INT(cnt, segs[6].records);
    CHECK_INT(ckpt_reader_select(r, 7), PSR_OK);
    while ((last_rc = ckpt_rows_next(r, &row, &eof)) == PSR_OK && !eof) {
    }
    CHECK_INT(last_rc, PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "bucket 7");
    ckpt_reader_close(r);

    /* not there, not a checkpoint file */
    char *none = path2(dir, "nope.rows");
    CHECK_INT(open_and_read(none), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "nope.rows: cannot open");
    FILE *f = fopen(bad, "wb");
    fputs("hello, this is not a checkpoint but a long enough text file to have a header and a "
          "trailer's worth of bytes in it .............................................",
          f);
    fclose(f);
    CHECK_INT(open_and_read(bad), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "wrong magic");
    free(none);
    free(keys);
    free(good);
    free(bad);
    free(dir);
}

/* Recompute the header, index and trailer CRCs of a data file after a test edited it, so that
 * only the deeper checks can notice the edit (a writer bug, or a crafted file). */
static void reseal(const char *p)
{
    FILE *f = fopen(p, "r+b");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    unsigned char *b = malloc((size_t)size);
    fseek(f, 0, SEEK_SET);
    if (fread(b, 1, (size_t)size, f) != (size_t)size) fprintf(stderr, "short read %s\n", p);
    uint32_t c = (uint32_t)crc32(0, b, 60);
    memcpy(b + 60, &c, 4);
    unsigned char *t = b + size - CKPT_TRAILER_BYTES;
    uint64_t index_off;
    uint32_t nseg;
    memcpy(&index_off, t, 8);
    memcpy(&nseg, t + 24, 4);
    c = (uint32_t)crc32(0, b + index_off, nseg * CKPT_INDEX_ENTRY_BYTES);
    memcpy(t + 28, &c, 4);
    c = (uint32_t)crc32(0, t, 36);
    memcpy(t + 36, &c, 4);
    fseek(f, 0, SEEK_SET);
    fwrite(b, 1, (size_t)size, f);
    fclose(f);
    free(b);
}

static void test_crafted(void)
{
    char *dir = path2(tmpdir, "crafted");
    mkdir_p(dir);
    int n;
    bk_t *keys = make_keys(2000, 16, 0, &n);
    ckpt_file_info_t info;
    int rc;
    write_rows_file(dir, 0, 1, 2, 16, keys, n, 5, 1, &info, &rc);
    CHECK_INT(rc, PSR_OK);
    char *p = path2(dir, "server-00000.rows");
    int64_t size = file_size(p);
    int64_t index_off = size - CKPT_TRAILER_BYTES - 16 * CKPT_INDEX_ENTRY_BYTES;

    /* the index CRC of bucket 4's raw bytes is wrong, everything else consistent */
    flip_byte(p, index_off + 4 * CKPT_INDEX_ENTRY_BYTES + 36);
    reseal(p);
    CHECK_INT(open_and_read(p), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "corrupt: CRC mismatch in bucket 4 (index 0x");

    /* the trailer's payload CRC is wrong: caught after a full pass */
    write_rows_file(dir, 0, 1, 2, 16, keys, n, 5, 1, &info, &rc);
    flip_byte(p, size - CKPT_TRAILER_BYTES + 33);
    reseal(p);
    CHECK_INT(open_and_read(p), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "corrupt: payload CRC mismatch");

    /* the raw size of bucket 4 is one row short: its stream holds more than the index says */
    write_rows_file(dir, 0, 1, 2, 16, keys, n, 5, 1, &info, &rc);
    ckpt_reader_t *r;
    CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_ROWS), PSR_OK);
    ckpt_segment_t s4 = ckpt_reader_segments(r)[4];
    ckpt_reader_close(r);
    uint64_t v = s4.raw_bytes - 48, recs = s4.records - 1;
    int fd = open(p, O_RDWR);
    CHECK(pwrite(fd, &v, 8, index_off + 4 * CKPT_INDEX_ENTRY_BYTES + 16) == 8);
    CHECK(pwrite(fd, &recs, 8, index_off + 4 * CKPT_INDEX_ENTRY_BYTES + 24) == 8);
    uint64_t tot_raw = info.raw_bytes - 48, tot_rec = info.records - 1;
    CHECK(pwrite(fd, &tot_raw, 8, size - CKPT_TRAILER_BYTES + 8) == 8);
    CHECK(pwrite(fd, &tot_rec, 8, size - CKPT_TRAILER_BYTES + 16) == 8);
    close(fd);
    reseal(p);
    CHECK_INT(open_and_read(p), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "corrupt: bucket 4 holds more raw bytes than its index says");

    /* keys filed under the wrong bucket: the header's bucket count changed from 16 to 9,
     * with only buckets below 9 present so the index itself stays valid */
    ckpt_writer_t *w;
    float f[6];
    CHECK_INT(ckpt_rows_create(&w, dir, 0, 2, 16, 5, 1), PSR_OK);
    for (int i = 0; i < n && keys[i].bucket < 9; i++) {
        if (i == 0 || keys[i].bucket != keys[i - 1].bucket) CHECK_INT(ckpt_rows_bucket(w, keys[i].bucket), PSR_OK);
        row_floats(keys[i].key, 2, f);
        CHECK_INT(ckpt_rows_put(w, keys[i].key, f, 0, 0), PSR_OK);
    }
    CHECK_INT(ckpt_writer_close(w, &info), PSR_OK);
    set_u32(p, 28, 9);
    reseal(p);
    CHECK_INT(open_and_read(p), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "corrupt: key 0x");
    CHECK_CONTAINS(psr_err_msg(), "belongs to bucket");

    /* a key twice in one bucket (the writer does not look): verify reports it */
    char *root = path2(tmpdir, "dup");
    char *stage;
    CHECK_INT(ckpt_stage(root, 1, &stage), PSR_OK);
    ckpt_manifest_t m;
    ckpt_manifest_init(&m, 1, 1, 1, 1, 1, 4, 2);
    CHECK_INT(ckpt_rows_create(&w, stage, 0, 2, 4, 1, 1), PSR_OK);
    uint32_t b0 = psr_key_bucket(keys[0].key, 4);
    for (uint32_t b = 0; b < 4; b++) {
        CHECK_INT(ckpt_rows_bucket(w, b), PSR_OK);
        if (b != b0) continue;
        row_floats(keys[0].key, 2, f);
        CHECK_INT(ckpt_rows_put(w, keys[0].key, f, 0, 0), PSR_OK);
        CHECK_INT(ckpt_rows_put(w, keys[0].key, f, 0, 0), PSR_OK);
    }
    CHECK_INT(ckpt_writer_close(w, &info), PSR_OK);
    ckpt_manifest_add_file(&m, &info);
    CHECK_INT(ckpt_dense_create(&w, stage, 1, 1), PSR_OK);
    CHECK_INT(ckpt_writer_close(w, &info), PSR_OK);
    ckpt_manifest_add_file(&m, &info);
    CHECK_INT(ckpt_write_state(stage, CKPT_KIND_WORKER, 0, 1, 1, "", 0, &info), PSR_OK);
    ckpt_manifest_add_file(&m, &info);
    CHECK_INT(ckpt_write_state(stage, CKPT_KIND_GLOBAL, 0, 1, 1, "", 0, &info), PSR_OK);
    ckpt_manifest_add_file(&m, &info);
    CHECK_INT(ckpt_commit(root, &m, 1, NULL), PSR_OK);
    char *ck = path2(root, "ckpt-000000000001");
    char *text;
    size_t len;
    FILE *out = open_memstream(&text, &len);
    CHECK_INT(ckpt_verify_print(ck, out), PSR_ERR_FORMAT);
    fclose(out);
    CHECK_CONTAINS(text, "FAIL server-00000.rows: ");
    CHECK_CONTAINS(text, "appears twice in bucket");
    free(text);
    ckpt_manifest_free(&m);
    free(ck);
    free(stage);
    free(root);
    free(keys);
    free(p);
    free(dir);
}

static const job_t job_small = {.S = 2, .W = 3, .width = 3, .level = 1, .n_keys = 4000, .B = 16};

static void test_manifest(void)
{
    char *root = path2(tmpdir, "man");
    uint64_t digest;
    CHECK_INT(write_checkpoint(root, &job_small, 100, 0, &digest), PSR_OK);
    char *ck = path2(root, "ckpt-000000000100");
    ckpt_manifest_t m;
    CHECK_INT(ckpt_manifest_load(ck, &m, CKPT_CHECK_CRC), PSR_OK);
    CHECK_INT(m.version, 1);
    CHECK_INT(m.step, 100);
    CHECK(m.model_fp == 0x1234abcd5678ef00ULL);
    CHECK(m.schema_fp == 0xfeedULL);
    CHECK_INT(m.n_servers, 2);
    CHECK_INT(m.n_workers, 3);
    CHECK_INT(m.n_buckets, 16);
    CHECK_INT(m.width, 3);
    CHECK_INT(m.has_digest, 0);
    CHECK_INT(m.n_files, 7);
    CHECK(m.dir && !strcmp(m.dir, ck));
    CHECK(ckpt_manifest_get(&m, "model.type") && !strcmp(ckpt_manifest_get(&m, "model.type"), "fm"));
    CHECK(ckpt_manifest_get(&m, "note") &&
          !strcmp(ckpt_manifest_get(&m, "note"), "quotes \" colon: newline\n tab\t é"));
    CHECK(ckpt_manifest_get(&m, "absent") == NULL);
    int wf = ckpt_manifest_find_file(&m, CKPT_KIND_WORKER, 2);
    CHECK(wf >= 0);
    if (wf >= 0) {
        CHECK(!strcmp(m.files[wf].name, "worker-00002.state"));
        char *p = path2(ck, m.files[wf].name);
        CHECK_INT(m.files[wf].bytes, file_size(p));
        free(p);
    }
    CHECK_INT(ckpt_manifest_find_file(&m, CKPT_KIND_ROWS, 2), -1);
    for (int i = 0; i < m.n_files; i++) CHECK_INT(ckpt_check_file(&m, i, CKPT_CHECK_CRC), PSR_OK);
    CHECK_INT(ckpt_check_file(&m, m.n_files, CKPT_CHECK_CRC), PSR_ERR_USAGE);
    CHECK_INT(ckpt_manifest_set(&m, "bad key", "x"), PSR_ERR_USAGE);

    /* compatibility */
    CHECK_INT(ckpt_check_compat(&m, 0x1234abcd5678ef00ULL, 0xfeedULL, 3), PSR_OK);
    CHECK_INT(ckpt_check_compat(&m, 0x1234abcd5678ef01ULL, 0xfeedULL, 3), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "model fingerprint 0x1234abcd5678ef00 in the checkpoint, 0x1234abcd5678ef01 in this config");
    CHECK_CONTAINS(psr_err_msg(), ck);
    CHECK_INT(ckpt_check_compat(&m, 0x1234abcd5678ef00ULL, 0xbeefULL, 3), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "schema fingerprint 0x000000000000feed in the checkpoint, 0x000000000000beef");
    CHECK_INT(ckpt_check_compat(&m, 0x1234abcd5678ef00ULL, 0xfeedULL, 9), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "rows of width 3, this config needs width 9");
    CHECK_INT(ckpt_check_buckets(&m, 16), PSR_OK);
    CHECK_INT(ckpt_check_buckets(&m, 4096), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "cluster.buckets = 16, this config has 4096");
    ckpt_manifest_free(&m);
    ckpt_manifest_free(&m); /* twice is harmless */

    /* faults, each on a fresh copy */
    char *cp = path2(tmpdir, "mancopy");
    char *p;
    cp_r(ck, cp);
    p = path2(cp, "manifest.yaml");
    unlink(p);
    CHECK_INT(ckpt_manifest_load(cp, &m, CKPT_CHECK_SIZE), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "no manifest.yaml: not a committed checkpoint");
    ckpt_manifest_free(&m);
    free(p);

    cp_r(ck, cp);
    p = path2(cp, "worker-00001.state");
    unlink(p);
    CHECK_INT(ckpt_manifest_load(cp, &m, CKPT_CHECK_NONE), PSR_OK); /* parse only */
    ckpt_manifest_free(&m);
    CHECK_INT(ckpt_manifest_load(cp, &m, CKPT_CHECK_SIZE), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "worker-00001.state: missing (the manifest lists it)");
    ckpt_manifest_free(&m);
    free(p);

    cp_r(ck, cp);
    p = path2(cp, "server-00001.rows");
    append_byte(p);
    CHECK_INT(ckpt_manifest_load(cp, &m, CKPT_CHECK_SIZE), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "server-00001.rows: size");
    CHECK_CONTAINS(psr_err_msg(), "(truncated or replaced)");
    ckpt_manifest_free(&m);
    free(p);

    cp_r(ck, cp);
    p = path2(cp, "dense.params");
    flip_byte(p, 100);
    CHECK_INT(ckpt_manifest_load(cp, &m, CKPT_CHECK_SIZE), PSR_OK);
    ckpt_manifest_free(&m);
    CHECK_INT(ckpt_manifest_load(cp, &m, CKPT_CHECK_CRC), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "dense.params: corrupt: CRC32 0x");
    ckpt_manifest_free(&m);
    free(p);

    /* manifest text edits: version, unknown key, missing key, broken YAML, wrong names */
    struct {
        const char *from, *to, *msg;
    } edits[] = {
        {"format: 1", "format: 2", "unsupported checkpoint manifest format 2 (this psrec reads format 1)"},
        {"width: 3", "width: 3\nwidht: 3", "unknown key 'widht'"},
        {"width: 3\n", "", "required key 'width' is missing"},
        {"servers: 2", "servers: two", "key 'servers': found 'two'"},
        {"workers: 3", "workers: 2", "lists 7 files; 2 servers and 2 workers need 6"},
        {"name: global.state", "name: other.state", "should be named 'global.state'"},
        {"step: 100", "step: [100", "corrupt manifest: YAML error"},
        {"crc32: 0x", "crc32: 1x", "key 'crc32': found '1x"},
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        cp_r(ck, cp);
        p = path2(cp, "manifest.yaml");
        FILE *f = fopen(p, "rb");
        char text[8192] = "";
        size_t len = fread(text, 1, sizeof text - 1, f);
        text[len] = '\0';
        fclose(f);
        char *at = strstr(text, edits[e].from);
        CHECK(at != NULL);
        if (at) {
            char out[8400];
            snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, edits[e].to,
                     at + strlen(edits[e].from));
            f = fopen(p, "wb");
            fputs(out, f);
            fclose(f);
            CHECK(ckpt_manifest_load(cp, &m, CKPT_CHECK_NONE) != PSR_OK);
            CHECK_CONTAINS(psr_err_msg(), edits[e].msg);
            CHECK_CONTAINS(psr_err_msg(), "manifest.yaml");
            ckpt_manifest_free(&m);
        }
        free(p);
    }
    rm_rf(cp);
    free(cp);
    free(ck);
    free(root);
}

static void test_commit_keep(void)
{
    char *root = path2(tmpdir, "keep");
    char ls[2000], latest[64];
    for (int64_t s = 100; s <= 300; s += 100) CHECK_INT(write_checkpoint(root, &job_small, s, 2, NULL), PSR_OK);
    list_dir(root, ls, sizeof ls);
    CHECK(!strcmp(ls, "ckpt-000000000200 ckpt-000000000300 latest"));
    if (strcmp(ls, "ckpt-000000000200 ckpt-000000000300 latest")) fprintf(stderr, "  saw: %s\n", ls);
    CHECK_INT(ckpt_read_latest(root, latest, sizeof latest), PSR_OK);
    CHECK(!strcmp(latest, "ckpt-000000000300"));

    /* the committed directory holds exactly the listed files and the manifest */
    char *ck = path2(root, "ckpt-000000000300");
    list_dir(ck, ls, sizeof ls);
    CHECK(!strcmp(ls, "dense.params global.state manifest.yaml server-00000.rows server-00001.rows "
                      "worker-00000.state worker-00001.state worker-00002.state"));

    /* leftovers of killed jobs are removed by the next commit; keep=1 */
    char *left = path2(root, "ckpt-000000000350.tmp");
    mkdir_p(left);
    char *lf = path2(left, "server-00000.rows");
    FILE *f = fopen(lf, "wb");
    fputs("partial", f);
    fclose(f);
    CHECK_INT(write_checkpoint(root, &job_small, 400, 1, NULL), PSR_OK);
    list_dir(root, ls, sizeof ls);
    CHECK(!strcmp(ls, "ckpt-000000000400 latest"));

    /* same step again: replaced, still valid */
    CHECK_INT(write_checkpoint(root, &job_small, 400, 1, NULL), PSR_OK);
    list_dir(root, ls, sizeof ls);
    CHECK(!strcmp(ls, "ckpt-000000000400 latest"));
    ckpt_manifest_t m;
    char *ck4 = path2(root, "ckpt-000000000400");
    CHECK_INT(ckpt_manifest_load(ck4, &m, CKPT_CHECK_CRC), PSR_OK);
    ckpt_manifest_free(&m);

    /* an older step written after a newer one (resume from an old DIR): warned, kept */
    capture_begin();
    CHECK_INT(write_checkpoint(root, &job_small, 250, 3, NULL), PSR_OK);
    char *err = capture_end();
    CHECK_CONTAINS(err, "ckpt-000000000400' is newer than the checkpoint just written (step 250)");
    free(err);
    CHECK_INT(ckpt_read_latest(root, latest, sizeof latest), PSR_OK);
    CHECK(!strcmp(latest, "ckpt-000000000250"));
    /* keep=1 with the new checkpoint the oldest: the others go, never the new one */
    capture_begin();
    CHECK_INT(write_checkpoint(root, &job_small, 50, 1, NULL), PSR_OK);
    free(capture_end());
    list_dir(root, ls, sizeof ls);
    CHECK(!strcmp(ls, "ckpt-000000000050 latest"));

    /* commit refuses a manifest whose files are not in the stage */
    char *stage;
    CHECK_INT(ckpt_stage(root, 500, &stage), PSR_OK);
    ckpt_manifest_init(&m, 500, 1, 2, 1, 1, 4, 1);
    ckpt_file_info_t fi = {.kind = CKPT_KIND_ROWS, .rank = 0, .bytes = 10};
    ckpt_file_name(CKPT_KIND_ROWS, 0, fi.name);
    ckpt_manifest_add_file(&m, &fi);
    CHECK_INT(ckpt_commit(root, &m, 3, NULL), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "lists 1 files");
    fi.kind = CKPT_KIND_DENSE;
    ckpt_file_name(CKPT_KIND_DENSE, 0, fi.name);
    ckpt_manifest_add_file(&m, &fi);
    fi.kind = CKPT_KIND_WORKER;
    ckpt_file_name(CKPT_KIND_WORKER, 0, fi.name);
    ckpt_manifest_add_file(&m, &fi);
    fi.kind = CKPT_KIND_GLOBAL;
    ckpt_file_name(CKPT_KIND_GLOBAL, 0, fi.name);
    ckpt_manifest_add_file(&m, &fi);
    CHECK_INT(ckpt_commit(root, &m, 3, NULL), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "cannot commit checkpoint: ");
    CHECK_CONTAINS(psr_err_msg(), "server-00000.rows: missing");
    ckpt_manifest_free(&m);
    ckpt_abort(root, 500);
    CHECK(!exists(stage));
    free(stage);
    free(ck4);
    free(lf);
    free(left);
    free(ck);
    free(root);
}

static void test_find(void)
{
    char *root = path2(tmpdir, "find");
    ckpt_manifest_t m;
    /* nothing at all: fresh start */
    CHECK_INT(ckpt_find(root, "auto", &m), CKPT_FRESH);
    ckpt_manifest_free(&m);
    mkdir_p(root);
    CHECK_INT(ckpt_find(root, "auto", &m), CKPT_FRESH);
    ckpt_manifest_free(&m);
    char *left = path2(root, "ckpt-000000000900.tmp");
    mkdir_p(left);
    CHECK_INT(ckpt_find(root, "auto", &m), CKPT_FRESH); /* a leftover is not a checkpoint */
    ckpt_manifest_free(&m);
    CHECK_INT(ckpt_find("", "auto", &m), PSR_ERR_CONFIG);
    ckpt_manifest_free(&m);

    CHECK_INT(write_checkpoint(root, &job_small, 100, 0, NULL), PSR_OK);
    /* that commit removed the leftover; make another, complete with a manifest */
    char *c100 = path2(root, "ckpt-000000000100");
    cp_r(c100, left);
    CHECK_INT(write_checkpoint(root, &job_small, 200, 0, NULL), PSR_OK);
    cp_r(c100, left);
    CHECK_INT(ckpt_find(root, "auto", &m), PSR_OK);
    CHECK_INT(m.step, 200); /* the .tmp at step 900 is ignored */
    CHECK_CONTAINS(m.dir, "ckpt-000000000200");
    ckpt_manifest_free(&m);

    /* newest corrupt: warning naming the file, fall back */
    char *c200 = path2(root, "ckpt-000000000200");
    char *bad = path2(c200, "server-00001.rows");
    flip_byte(bad, 200);
    capture_begin();
    int rc = ckpt_find(root, "auto", &m);
    char *err = capture_end();
    CHECK_INT(rc, PSR_OK);
    CHECK_INT(m.step, 100);
    CHECK_CONTAINS(err, "warning: checkpoint ");
    CHECK_CONTAINS(err, "ckpt-000000000200/server-00001.rows: corrupt: CRC32");
    CHECK_CONTAINS(err, "trying the next older one");
    free(err);
    ckpt_manifest_free(&m);

    /* --resume DIR: exactly that one */
    CHECK_INT(ckpt_find(NULL, c100, &m), PSR_OK);
    CHECK_INT(m.step, 100);
    ckpt_manifest_free(&m);
    CHECK_INT(ckpt_find(NULL, c200, &m), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "cannot resume from ");
    CHECK_CONTAINS(psr_err_msg(), "server-00001.rows: corrupt");
    ckpt_manifest_free(&m);
    CHECK_INT(ckpt_find(NULL, root, &m), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "holds checkpoints, it is not one");
    CHECK_CONTAINS(psr_err_msg(), "ckpt-000000000200");
    ckpt_manifest_free(&m);
    CHECK_INT(ckpt_find(NULL, left, &m), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "was never committed");
    ckpt_manifest_free(&m);
    char *nowhere = path2(root, "ckpt-000000000777");
    CHECK(ckpt_find(NULL, nowhere, &m) != PSR_OK);
    CHECK_CONTAINS(psr_err_msg(), "no such checkpoint directory");
    ckpt_manifest_free(&m);

    /* all corrupt: an error, not a fresh start */
    char *m100 = path2(c100, "manifest.yaml");
    unlink(m100);
    capture_begin();
    rc = ckpt_find(root, "auto", &m);
    err = capture_end();
    CHECK_INT(rc, PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "no usable checkpoint in");
    CHECK_CONTAINS(err, "no older one left");
    ckpt_manifest_free(&m);
    free(err);
    free(m100);
    free(nowhere);
    free(bad);
    free(c200);
    free(c100);
    free(left);
    free(root);
}

static void test_write_errors(void)
{
    char *root = path2(tmpdir, "enospc");
    char before[2000], after[2000], latest[64];
    CHECK_INT(write_checkpoint(root, &job_small, 100, 3, NULL), PSR_OK);
    list_dir(root, before, sizeof before);

    /* a data file that cannot be written: its temporary name leads to /dev/full */
    char *stage;
    CHECK_INT(ckpt_stage(root, 200, &stage), PSR_OK);
    char *tmp = path2(stage, ".dense.params.tmp");
    CHECK_INT(symlink("/dev/full", tmp), 0);
    ckpt_file_info_t info;
    int rc;
    write_dense_file(stage, 200, 1, &info, &rc);
    CHECK_INT(rc, PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), ".dense.params.tmp");
    CHECK_CONTAINS(psr_err_msg(), strerror(ENOSPC));
    CHECK(!exists(tmp)); /* the temporary name is gone */
    char *fin = path2(stage, "dense.params");
    CHECK(!exists(fin));
    ckpt_abort(root, 200);
    list_dir(root, after, sizeof after);
    CHECK(!strcmp(before, after));

    /* the manifest cannot be written: nothing is committed, `latest` unchanged */
    free(stage);
    job_t j = job_small;
    char *st2;
    CHECK_INT(ckpt_stage(root, 300, &st2), PSR_OK);
    char *mt = path2(st2, ".manifest.yaml.tmp");
    CHECK_INT(symlink("/dev/full", mt), 0);
    ckpt_manifest_t m;
    ckpt_manifest_init(&m, 300, 1, 2, 1, 1, j.B, j.width);
    int n;
    bk_t *keys = make_keys(500, j.B, 0, &n);
    write_rows_file(st2, 0, 1, j.width, j.B, keys, n, 300, 1, &info, &rc);
    CHECK_INT(rc, PSR_OK);
    ckpt_manifest_add_file(&m, &info);
    write_dense_file(st2, 300, 1, &info, &rc);
    ckpt_manifest_add_file(&m, &info);
    CHECK_INT(ckpt_write_state(st2, CKPT_KIND_WORKER, 0, 300, 1, "w", 1, &info), PSR_OK);
    ckpt_manifest_add_file(&m, &info);
    CHECK_INT(ckpt_write_state(st2, CKPT_KIND_GLOBAL, 0, 300, 1, "g", 1, &info), PSR_OK);
    ckpt_manifest_add_file(&m, &info);
    rc = ckpt_commit(root, &m, 3, NULL);
    CHECK_INT(rc, PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), ".manifest.yaml.tmp");
    CHECK_CONTAINS(psr_err_msg(), strerror(ENOSPC));
    CHECK(!exists(mt));
    char *c300 = path2(root, "ckpt-000000000300");
    CHECK(!exists(c300));
    CHECK_INT(ckpt_read_latest(root, latest, sizeof latest), PSR_OK);
    CHECK(!strcmp(latest, "ckpt-000000000100"));
    ckpt_abort(root, 300);
    list_dir(root, after, sizeof after);
    CHECK(!strcmp(before, after));
    ckpt_manifest_t fm;
    CHECK_INT(ckpt_find(root, "auto", &fm), PSR_OK);
    CHECK_INT(fm.step, 100);
    ckpt_manifest_free(&fm);
    ckpt_manifest_free(&m);
    free(keys);
    free(c300);
    free(mt);
    free(st2);
    free(fin);
    free(tmp);
    free(root);
}

static void test_bucket_map_elastic(void)
{
    char *root = path2(tmpdir, "elastic");
    job_t j = {.S = 3, .W = 1, .width = 2, .level = 1, .n_keys = 5000, .B = 32};
    uint64_t digest;
    CHECK_INT(write_checkpoint(root, &j, 7, 0, &digest), PSR_OK);
    ckpt_manifest_t m;
    CHECK_INT(ckpt_find(root, "auto", &m), PSR_OK);
    ckpt_bucket_loc_t locs[32];
    CHECK_INT(ckpt_bucket_map(&m, locs), PSR_OK);
    int bad = 0;
    for (uint32_t b = 0; b < 32; b++)
        if (locs[b].file < 0 || m.files[locs[b].file].kind != CKPT_KIND_ROWS ||
            m.files[locs[b].file].rank != (int)(b % 3))
            bad++;
    CHECK_INT(bad, 0);
    /* resume on 2 servers: each loads exactly its buckets, bucket by bucket */
    uint64_t sum = 0, dense = 0;
    int64_t rows = 0, wrong_owner = 0;
    for (int s = 0; s < 2; s++) {
        for (int fi = 0; fi < m.n_files; fi++) {
            if (m.files[fi].kind != CKPT_KIND_ROWS) continue;
            ckpt_reader_t *r = NULL;
            for (uint32_t b = 0; b < 32; b++) {
                if (psr_bucket_owner(b, 2) != s || locs[b].file != fi) continue;
                if (!r) {
                    char *p = path2(m.dir, m.files[fi].name);
                    CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_ROWS), PSR_OK);
                    free(p);
                }
                CHECK_INT(ckpt_reader_select(r, b), PSR_OK);
                for (;;) {
                    ckpt_row_t row;
                    int eof;
                    CHECK_INT(ckpt_rows_next(r, &row, &eof), PSR_OK);
                    if (eof) break;
                    if (psr_bucket_owner(psr_key_bucket(row.key, 32), 2) != s) wrong_owner++;
                    sum += psr_row_digest(row.key, row.floats, 6, row.step);
                    rows++;
                }
            }
            ckpt_reader_close(r);
        }
    }
    float f[1000];
    for (int i = 0; i < 3; i++) {
        dense_block(i, f);
        dense += psr_row_digest(dense_ids[i], f, dense_n[i], 1000 + i);
    }
    int n;
    bk_t *keys = make_keys(5000, 32, 5, &n);
    CHECK_INT(rows, n);
    CHECK_INT(wrong_owner, 0);
    CHECK(sum + dense == digest);
    ckpt_manifest_free(&m);
    free(keys);
    free(root);
}

/* Run a report into a string. */
static int report(int (*fn)(const char *, FILE *), const char *dir, char **text)
{
    size_t len;
    FILE *f = open_memstream(text, &len);
    int rc = fn(dir, f);
    fclose(f);
    return rc;
}

static void test_reports(void)
{
    char *root = path2(tmpdir, "report");
    job_t j = job_small;
    j.set_digest = 1;
    uint64_t digest;
    CHECK_INT(write_checkpoint(root, &j, 100, 0, &digest), PSR_OK);
    char *ck = path2(root, "ckpt-000000000100");
    char *text;
    CHECK_INT(report(ckpt_verify_print, ck, &text), PSR_OK);
    CHECK_CONTAINS(text, "OK   manifest.yaml: format 1, step 100, 2 servers, 3 workers, 16 buckets, width 3");
    CHECK_CONTAINS(text, "OK   server-00000.rows: ");
    CHECK_CONTAINS(text, "OK   worker-00002.state: ");
    CHECK_CONTAINS(text, "OK   buckets: all 16 present");
    CHECK_CONTAINS(text, "OK   digest: ");
    CHECK_CONTAINS(text, "verify: OK: ");
    free(text);

    CHECK_INT(report(ckpt_inspect_print, ck, &text), PSR_OK);
    char want[64];
    snprintf(want, sizeof want, "\ndigest: %016" PRIx64 "\n", digest);
    CHECK_CONTAINS(text, want);
    CHECK_CONTAINS(text, "step: 100\n");
    CHECK_CONTAINS(text, "servers: 2\nworkers: 3\nbuckets: 16\nwidth: 3\n");
    CHECK_CONTAINS(text, "extra model.type: fm\n");
    CHECK_CONTAINS(text, "rows server 0: ");
    CHECK_CONTAINS(text, "rows server 1: ");
    CHECK_CONTAINS(text, "rows per bucket: min 0 ");
    CHECK_CONTAINS(text, "bytes rows: files 2 raw ");
    CHECK_CONTAINS(text, "bytes total: files 7 raw ");
    CHECK_CONTAINS(text, "dense: 3 blocks, 1001 floats\n");
    CHECK_CONTAINS(text, "digest recorded: ");
    /* rows per server add up to the rows written */
    int n;
    bk_t *keys = make_keys(j.n_keys, j.B, 5, &n);
    char rows_line[64];
    snprintf(rows_line, sizeof rows_line, "\nrows: %d\n", n);
    CHECK_CONTAINS(text, rows_line);
    long r0 = -1, r1 = -1;
    const char *a = strstr(text, "rows server 0: "), *b = strstr(text, "rows server 1: ");
    if (a) r0 = strtol(a + 15, NULL, 10);
    if (b) r1 = strtol(b + 15, NULL, 10);
    CHECK_INT(r0 + r1, n);
    free(text);
    free(keys);

    /* a corrupt file: verify names it, keeps going, fails; inspect fails */
    char *cp = path2(tmpdir, "reportcopy");
    cp_r(ck, cp);
    char *p = path2(cp, "server-00001.rows");
    flip_byte(p, 300);
    char *w1 = path2(cp, "worker-00001.state");
    unlink(w1);
    CHECK_INT(report(ckpt_verify_print, cp, &text), PSR_ERR_FORMAT);
    CHECK_CONTAINS(text, "FAIL server-00001.rows: ");
    CHECK_CONTAINS(text, "server-00001.rows: corrupt: CRC32");
    CHECK_CONTAINS(text, "FAIL worker-00001.state: ");
    CHECK_CONTAINS(text, "OK   server-00000.rows");
    CHECK_CONTAINS(text, "verify: FAILED: 2 problems");
    CHECK_CONTAINS(psr_err_msg(), "server-00001.rows: corrupt");
    free(text);
    CHECK_INT(report(ckpt_inspect_print, cp, &text), PSR_ERR_FORMAT);
    free(text);

    /* a stray file is noted, not failed; a missing manifest fails */
    cp_r(ck, cp);
    char *stray = path2(cp, "notes.txt");
    FILE *f = fopen(stray, "wb");
    fclose(f);
    CHECK_INT(report(ckpt_verify_print, cp, &text), PSR_OK);
    CHECK_CONTAINS(text, "note notes.txt: not listed in the manifest (ignored)");
    free(text);
    char *mp = path2(cp, "manifest.yaml");
    unlink(mp);
    CHECK_INT(report(ckpt_verify_print, cp, &text), PSR_ERR_FORMAT);
    CHECK_CONTAINS(text, "FAIL manifest.yaml: ");
    CHECK_CONTAINS(text, "not a committed checkpoint");
    free(text);

    /* a wrong recorded digest fails verify */
    j.bad_digest = digest + 1;
    CHECK_INT(write_checkpoint(root, &j, 200, 0, NULL), PSR_OK);
    char *c2 = path2(root, "ckpt-000000000200");
    CHECK_INT(report(ckpt_verify_print, c2, &text), PSR_ERR_FORMAT);
    CHECK_CONTAINS(text, "FAIL digest: the files give ");
    free(text);
    CHECK_INT(report(ckpt_inspect_print, c2, &text), PSR_ERR_FORMAT);
    CHECK_CONTAINS(text, "(DIFFERS)");
    free(text);

    /* a rows file swapped in from another checkpoint of the same job is caught */
    char *src = path2(c2, "server-00000.rows"), *dst = path2(cp, "server-00000.rows");
    cp_r(ck, cp);
    copy_file(src, dst);
    CHECK_INT(report(ckpt_verify_print, cp, &text), PSR_ERR_FORMAT);
    CHECK_CONTAINS(text, "FAIL server-00000.rows: ");
    free(text);
    free(src);
    free(dst);
    free(c2);
    free(mp);
    free(stray);
    free(w1);
    free(p);
    free(cp);
    free(ck);
    free(root);
}

/* ---- several embedding tables (F7, M3) ------------------------------------------------- */

/* The golden file: what ckpt_rows_create wrote before tables existed (level 0 stores the
 * bytes, so zlib's version cannot change them). Server 1 of B = 8, width 3, step 77. */
static void write_golden(ckpt_writer_t *w, int *rc)
{
    const uint32_t B = 8;
    for (uint32_t b = 1; b < B && *rc == PSR_OK; b += 2) {
        *rc = ckpt_rows_bucket(w, b);
        for (uint64_t i = 0; i < 400 && *rc == PSR_OK; i++) {
            uint64_t key = psr_mix64(i * 31 + 5);
            if (psr_key_bucket(key, B) != b) continue;
            float f[9];
            for (int j = 0; j < 9; j++) f[j] = (float)((double)(key % 1000) / 7.0 + j);
            *rc = ckpt_rows_put(w, key, f, (int64_t)(key % 13), (int64_t)(key % 17));
        }
    }
}

static void test_golden_single_table(void)
{
    char *dir = path2(tmpdir, "golden");
    mkdir_p(dir);
    ckpt_writer_t *w;
    ckpt_file_info_t a, b;
    int rc = ckpt_rows_create(&w, dir, 1, 3, 8, 77, 0);
    write_golden(w, &rc);
    CHECK_INT(rc, PSR_OK);
    CHECK_INT(ckpt_writer_close(w, &a), PSR_OK);
    /* recorded with the one-table writer of commit f0e4bde. The file CRC alone cannot pin the
     * header: CRC32 over a block followed by its own CRC is a constant, so the header CRC
     * (bytes 60..63, over bytes 0..59) is checked as well. */
    char *p = path2(dir, "server-00001.rows");
    CHECK_INT(a.bytes, 12976);
    CHECK_INT(a.crc32, 0x7a387bbbu);
    CHECK_INT(a.records, 211);
    CHECK_INT(a.table, 0);
    uint32_t hcrc = 0;
    int fd = open(p, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, &hcrc, 4, 60) == 4);
    if (fd >= 0) close(fd);
    CHECK_INT(hcrc, 0xfebb1e4du);
    rc = ckpt_rows_create_table(&w, dir, 1, 0, 3, 9, 8, 77, 0);
    write_golden(w, &rc);
    CHECK_INT(rc, PSR_OK);
    CHECK_INT(ckpt_writer_close(w, &b), PSR_OK);
    CHECK(!strcmp(b.name, "server-00001.rows"));
    CHECK_INT(b.bytes, a.bytes);
    CHECK_INT(b.crc32, a.crc32);
    fd = open(p, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, &hcrc, 4, 60) == 4);
    if (fd >= 0) close(fd);
    CHECK_INT(hcrc, 0xfebb1e4du);
    ckpt_reader_t *r;
    CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_ROWS), PSR_OK);
    CHECK_INT(ckpt_reader_header(r)->version, 1);
    CHECK_INT(ckpt_reader_header(r)->table, 0);
    CHECK_INT(ckpt_reader_header(r)->n_floats, 9);
    ckpt_reader_close(r);
    /* table 0 with another optimizer needs the version 2 header */
    CHECK_INT(ckpt_rows_create_table(&w, dir, 1, 0, 3, 4, 8, 77, 0), PSR_OK);
    CHECK_INT(ckpt_writer_close(w, NULL), PSR_OK);
    CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_ROWS), PSR_OK);
    CHECK_INT(ckpt_reader_header(r)->version, 2);
    CHECK_INT(ckpt_reader_header(r)->n_floats, 4);
    ckpt_reader_close(r);
    /* writer arguments */
    CHECK_INT(ckpt_rows_create_table(&w, dir, 0, CKPT_MAX_TABLES, 3, 9, 8, 1, 1), PSR_ERR_USAGE);
    CHECK_CONTAINS(psr_err_msg(), "checkpoint table 8: allowed 0 to 7");
    CHECK_INT(ckpt_rows_create_table(&w, dir, 0, -1, 3, 9, 8, 1, 1), PSR_ERR_USAGE);
    CHECK_INT(ckpt_rows_create_table(&w, dir, 0, 1, 8, 7, 8, 1, 1), PSR_ERR_USAGE);
    CHECK_CONTAINS(psr_err_msg(), "7 floats per row: allowed its width 8 to");
    CHECK_INT(ckpt_rows_create_table(&w, dir, 0, 1, 0, 1, 8, 1, 1), PSR_ERR_USAGE);
    char name[CKPT_NAME_MAX];
    ckpt_rows_file_name(12, 7, name);
    CHECK(!strcmp(name, "server-00012.t07.rows"));
    ckpt_rows_file_name(123456, 0, name);
    CHECK(!strcmp(name, "server-123456.rows"));
    free(p);
    free(dir);
}

/* The tables of the multi-table tests: floats = width + optimizer state. */
static const ckpt_table_t mt_tables[3] = {
    {"user", 4, 12, "adam"}, {"item", 8, 9, "rowwise_adagrad"}, {"bias", 1, 2, "adagrad"}};
static const int mt_keys[3] = {3000, 2000, 500}; /* keys per table: the same ids overlap */
static const int mt_skip[3] = {5, 0, 3};         /* empty buckets: b % skip == 0 */
#define MT_B 16u
#define MT_S 2

static void table_row(uint64_t key, int table, int n_floats, float *f)
{
    psr_rng_t r;
    psr_rng_seed(&r, key ^ (0x9e3779b9ULL * (uint64_t)(table + 1)));
    for (int j = 0; j < n_floats; j++) f[j] = (float)psr_rng_normal(&r);
}
static int64_t table_step(uint64_t key, int table) { return (int64_t)((key + (uint64_t)table) % 97); }
static int64_t table_last(uint64_t key, int table) { return (int64_t)((key + (uint64_t)table) % 1009); }

typedef enum { MT_OK, MT_HDR_TABLE, MT_HDR_FLOATS, MT_MISSING_BUCKET } mt_fault_t;

/* Rows file of (server, table) into dir: the table's keys of the buckets the server owns.
 * `header_table` and `n_floats` are what the file says (a fault may differ from the
 * manifest); skip_bucket (if < MT_B) is not begun. Returns the salted digest. */
static uint64_t write_table_rows(const char *dir, int server, int table, int header_table,
                                 int n_floats, uint32_t skip_bucket, int64_t step,
                                 ckpt_file_info_t *info, int *rc)
{
    int n;
    bk_t *keys = make_keys(mt_keys[table], MT_B, mt_skip[table], &n);
    ckpt_writer_t *w;
    float f[16];
    uint64_t digest = 0, salt = psr_table_salt(table);
    *rc = ckpt_rows_create_table(&w, dir, server, header_table, mt_tables[table].width, n_floats,
                                 MT_B, step, 1);
    int i = 0;
    for (uint32_t b = 0; b < MT_B && *rc == PSR_OK; b++) {
        while (i < n && keys[i].bucket < b) i++;
        if (psr_bucket_owner(b, MT_S) != server || b == skip_bucket) continue;
        *rc = ckpt_rows_bucket(w, b);
        for (; i < n && keys[i].bucket == b && *rc == PSR_OK; i++) {
            uint64_t k = keys[i].key;
            table_row(k, table, n_floats, f);
            *rc = ckpt_rows_put(w, k, f, table_step(k, table), table_last(k, table));
            digest += psr_row_digest(k ^ salt, f, (size_t)n_floats, table_step(k, table));
        }
    }
    if (*rc == PSR_OK)
        *rc = ckpt_writer_close(w, info);
    else
        ckpt_writer_abort(w);
    free(keys);
    return digest;
}

/* A committed 3-table checkpoint of 2 servers and 1 worker at `step`, with one fault. The
 * manifest always describes the intended layout and records the digest of what was
 * written. *digest: that digest. */
static int write_tables_checkpoint(const char *root, int64_t step, mt_fault_t fault,
                                   uint64_t *digest)
{
    char *stage;
    int rc = ckpt_stage(root, step, &stage);
    if (rc != PSR_OK) return rc;
    ckpt_manifest_t m;
    ckpt_manifest_init(&m, step, 0xabcULL, 0xdefULL, MT_S, 1, MT_B, 99);
    ckpt_manifest_set_tables(&m, 3, mt_tables);
    uint64_t d = 0;
    ckpt_file_info_t info;
    for (int s = 0; s < MT_S && rc == PSR_OK; s++)
        for (int t = 0; t < 3 && rc == PSR_OK; t++) {
            int hdr_table = t, nf = mt_tables[t].n_floats;
            uint32_t skip = MT_B;
            const char *into = stage;
            char *side = NULL;
            if (fault == MT_HDR_TABLE && s == 0 && t == 2) { /* a table-1 header, same shape */
                side = path2(stage, "side");
                mkdir_p(side);
                into = side;
                hdr_table = 1;
            }
            if (fault == MT_HDR_FLOATS && s == 1 && t == 1) nf = 10;
            if (fault == MT_MISSING_BUCKET && s == 1 && t == 2) skip = 3;
            d += write_table_rows(into, s, t, hdr_table, nf, skip, step, &info, &rc);
            if (side) { /* file it under table 2's name, as the manifest will list it */
                char want[CKPT_NAME_MAX];
                ckpt_rows_file_name(s, t, want);
                char *from = path2(side, info.name), *to = path2(stage, want);
                if (rename(from, to) != 0) rc = PSR_ERR_IO;
                rmdir(side);
                snprintf(info.name, sizeof info.name, "%s", want);
                info.table = t;
                free(from);
                free(to);
                free(side);
            }
            if (rc == PSR_OK) ckpt_manifest_add_file(&m, &info);
        }
    if (rc == PSR_OK) d += write_dense_file(stage, step, 1, &info, &rc);
    if (rc == PSR_OK) ckpt_manifest_add_file(&m, &info);
    if (rc == PSR_OK) rc = ckpt_write_state(stage, CKPT_KIND_WORKER, 0, step, 1, "w", 1, &info);
    if (rc == PSR_OK) ckpt_manifest_add_file(&m, &info);
    if (rc == PSR_OK) rc = ckpt_write_state(stage, CKPT_KIND_GLOBAL, 0, step, 1, "g", 1, &info);
    if (rc == PSR_OK) ckpt_manifest_add_file(&m, &info);
    m.has_digest = 1;
    m.digest = d;
    if (rc == PSR_OK) rc = ckpt_commit(root, &m, 0, NULL);
    if (rc != PSR_OK) ckpt_abort(root, step);
    ckpt_manifest_free(&m);
    free(stage);
    *digest = d;
    return rc;
}

/* Copy ck to cp with the first `from` in its manifest replaced by `to`; 0 if absent. */
static int edit_manifest(const char *ck, const char *cp, const char *from, const char *to)
{
    cp_r(ck, cp);
    char *p = path2(cp, "manifest.yaml");
    FILE *f = fopen(p, "rb");
    static char text[16384], out[17000];
    size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[len] = '\0';
    if (f) fclose(f);
    char *at = strstr(text, from);
    if (at) {
        snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        f = fopen(p, "wb");
        fputs(out, f);
        fclose(f);
    }
    free(p);
    return at != NULL;
}

/* Every row of `table` read back through its bucket map, as servers of a job with
 * n_servers would load it: bit-exact against what was written; rows and salted digest. */
static void load_table(const ckpt_manifest_t *m, int table, int n_servers, int64_t *rows,
                       uint64_t *digest, int *bad)
{
    ckpt_bucket_loc_t locs[MT_B];
    CHECK_INT(ckpt_bucket_map_table(m, table, locs), PSR_OK);
    const int nf = m->tables[table].n_floats;
    const uint64_t salt = psr_table_salt(table);
    float f[16];
    for (int s = 0; s < n_servers; s++)
        for (uint32_t b = 0; b < MT_B; b++) {
            if (psr_bucket_owner(b, n_servers) != s) continue;
            const ckpt_file_info_t *fi = &m->files[locs[b].file];
            if (fi->kind != CKPT_KIND_ROWS || fi->table != table || fi->rank != (int)(b % MT_S))
                (*bad)++;
            char *p = path2(m->dir, fi->name);
            ckpt_reader_t *r;
            CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_ROWS), PSR_OK);
            free(p);
            if (!r) continue;
            CHECK_INT(ckpt_reader_select(r, b), PSR_OK);
            uint64_t got = 0;
            for (;;) {
                ckpt_row_t row;
                int eof;
                int rc = ckpt_rows_next(r, &row, &eof);
                CHECK_INT(rc, PSR_OK);
                if (rc != PSR_OK || eof) break;
                table_row(row.key, table, nf, f);
                if (row.bucket != b || memcmp(row.floats, f, (size_t)nf * sizeof *f) != 0 ||
                    row.step != table_step(row.key, table) || row.last != table_last(row.key, table))
                    (*bad)++;
                *digest += psr_row_digest(row.key ^ salt, row.floats, (size_t)nf, row.step);
                got++;
            }
            if (got != locs[b].rows) (*bad)++;
            *rows += (int64_t)got;
            ckpt_reader_close(r);
        }
}

static void test_tables(void)
{
    char *root = path2(tmpdir, "tables");
    uint64_t digest;
    CHECK_INT(write_tables_checkpoint(root, 500, MT_OK, &digest), PSR_OK);
    char *ck = path2(root, "ckpt-000000000500");
    char ls[2000];
    list_dir(ck, ls, sizeof ls);
    CHECK(!strcmp(ls, "dense.params global.state manifest.yaml server-00000.rows "
                      "server-00000.t01.rows server-00000.t02.rows server-00001.rows "
                      "server-00001.t01.rows server-00001.t02.rows worker-00000.state"));
    if (strcmp(ls, "dense.params global.state manifest.yaml server-00000.rows "
                   "server-00000.t01.rows server-00000.t02.rows server-00001.rows "
                   "server-00001.t01.rows server-00001.t02.rows worker-00000.state"))
        fprintf(stderr, "  saw: %s\n", ls);

    /* headers: table 0 (Adam) is version 1, the others version 2 with table and floats */
    for (int t = 0; t < 3; t++) {
        char name[CKPT_NAME_MAX];
        ckpt_rows_file_name(1, t, name);
        char *p = path2(ck, name);
        ckpt_reader_t *r;
        CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_ROWS), PSR_OK);
        if (r) {
            const ckpt_header_t *h = ckpt_reader_header(r);
            CHECK_INT(h->version, t == 0 ? 1 : 2);
            CHECK_INT(h->table, t);
            CHECK_INT(h->width, mt_tables[t].width);
            CHECK_INT(h->n_floats, mt_tables[t].n_floats);
            CHECK_INT(h->rank, 1);
            CHECK_INT(h->n_segments, MT_B / 2);
        }
        ckpt_reader_close(r);
        free(p);
    }

    /* the manifest round trip */
    ckpt_manifest_t m;
    CHECK_INT(ckpt_manifest_load(ck, &m, CKPT_CHECK_CRC), PSR_OK);
    CHECK_INT(m.n_tables, 3);
    CHECK_INT(m.tables_implied, 0);
    CHECK_INT(m.width, 4); /* set_tables replaced init's 99 */
    CHECK_INT(m.n_files, 2 * 3 + 1 + 2);
    for (int t = 0; t < 3; t++) {
        CHECK(!strcmp(m.tables[t].name, mt_tables[t].name));
        CHECK_INT(m.tables[t].width, mt_tables[t].width);
        CHECK_INT(m.tables[t].n_floats, mt_tables[t].n_floats);
        CHECK(!strcmp(m.tables[t].optim, mt_tables[t].optim));
    }
    int fi = ckpt_manifest_find_rows(&m, 2, 1);
    CHECK(fi >= 0 && !strcmp(m.files[fi].name, "server-00001.t02.rows") && m.files[fi].table == 2);
    CHECK_INT(ckpt_manifest_find_rows(&m, 3, 0), -1);
    CHECK_INT(ckpt_manifest_find_rows(&m, 0, 2), -1);
    fi = ckpt_manifest_find_file(&m, CKPT_KIND_ROWS, 1);
    CHECK(fi >= 0 && m.files[fi].table == 0 && !strcmp(m.files[fi].name, "server-00001.rows"));

    /* compatibility with the job's tables: the first difference is named */
    CHECK_INT(ckpt_check_compat(&m, 0xabcULL, 0xdefULL, 4), PSR_OK);
    CHECK_INT(ckpt_check_compat(&m, 0xabcULL, 0xdefULL, 8), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "rows of width 4, this config needs width 8 (table 0, 'user')");
    CHECK_INT(ckpt_check_tables(&m, 3, mt_tables), PSR_OK);
    CHECK_INT(ckpt_check_tables(&m, 0, mt_tables), PSR_ERR_USAGE);
    CHECK_INT(ckpt_check_tables(&m, 2, mt_tables), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "holds 3 embedding tables (user, item, bias), the model of this config has 2 (user, item)");
    CHECK_CONTAINS(psr_err_msg(), ck);
    ckpt_table_t jt[3];
    memcpy(jt, mt_tables, sizeof jt);
    snprintf(jt[1].name, sizeof jt[1].name, "items");
    CHECK_INT(ckpt_check_tables(&m, 3, jt), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "embedding table 1 is named 'item' in the checkpoint, 'items' in this config");
    memcpy(jt, mt_tables, sizeof jt);
    jt[2].width = 2;
    jt[2].n_floats = 4;
    CHECK_INT(ckpt_check_tables(&m, 3, jt), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "embedding table 2 ('bias') has width 1 in the checkpoint, 2 in this config");
    memcpy(jt, mt_tables, sizeof jt);
    snprintf(jt[1].optim, sizeof jt[1].optim, "adagrad");
    jt[1].n_floats = 16;
    CHECK_INT(ckpt_check_tables(&m, 3, jt), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "embedding table 1 ('item') was trained with optimizer rowwise_adagrad, this config uses adagrad");
    memcpy(jt, mt_tables, sizeof jt);
    jt[0].n_floats = 8;
    CHECK_INT(ckpt_check_tables(&m, 3, jt), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "embedding table 0 ('user') has 12 floats per row in the checkpoint, 8 in this config");

    /* every table back through its bucket map, bit for bit, on 2 servers (as written), on 1
     * and on 3 (elastic); rows and the salted digest add up to what was written */
    int64_t want_rows[3];
    for (int t = 0; t < 3; t++) {
        int n;
        free(make_keys(mt_keys[t], MT_B, mt_skip[t], &n));
        want_rows[t] = n;
    }
    float f[1000];
    uint64_t dense = 0;
    for (int i = 0; i < 3; i++) {
        dense_block(i, f);
        dense += psr_row_digest(dense_ids[i], f, dense_n[i], 1000 + i);
    }
    for (int S = 1; S <= 3; S++) {
        uint64_t sum = dense, d1 = 0;
        int bad = 0;
        for (int t = 0; t < 3; t++) {
            int64_t rows = 0;
            uint64_t d = 0;
            load_table(&m, t, S, &rows, &d, &bad);
            CHECK_INT(rows, want_rows[t]);
            sum += d;
            if (t == 1) d1 = d;
        }
        CHECK_INT(bad, 0);
        CHECK(sum == digest);
        if (S == 1) { /* table 1's rows enter salted: unsalted they would sum differently */
            int n;
            uint64_t plain = 0, salted = 0;
            bk_t *keys = make_keys(mt_keys[1], MT_B, mt_skip[1], &n);
            for (int i = 0; i < n; i++) {
                uint64_t k = keys[i].key;
                table_row(k, 1, 9, f);
                plain += psr_row_digest(k, f, 9, table_step(k, 1));
                salted += psr_row_digest(k ^ psr_table_salt(1), f, 9, table_step(k, 1));
            }
            free(keys);
            CHECK(salted == d1);
            CHECK(plain != d1);
            CHECK(psr_table_salt(0) == 0 && psr_table_salt(1) != 0);
        }
    }
    ckpt_bucket_loc_t locs[MT_B];
    CHECK_INT(ckpt_bucket_map_table(&m, 3, locs), PSR_ERR_USAGE);
    CHECK_CONTAINS(psr_err_msg(), "no embedding table 3 (the checkpoint has 3)");
    CHECK_INT(ckpt_bucket_map(&m, locs), PSR_OK); /* table 0 */
    CHECK_INT(m.files[locs[5].file].table, 0);
    CHECK_INT(m.files[locs[5].file].rank, 1);

    /* verify and inspect: one line per table, digest as computed here */
    char *text;
    CHECK_INT(report(ckpt_verify_print, ck, &text), PSR_OK);
    CHECK_CONTAINS(text, "OK   manifest.yaml: format 1, step 500, 2 servers, 1 workers, 16 buckets, width 4, 3 tables\n");
    CHECK_CONTAINS(text, "OK   server-00001.t01.rows: ");
    CHECK_CONTAINS(text, "table 1 'item', ");
    CHECK_CONTAINS(text, "OK   buckets of table 2 'bias': all 16 present, each in one rows file");
    CHECK_CONTAINS(text, "OK   digest: ");
    CHECK_CONTAINS(text, "verify: OK: ");
    free(text);
    CHECK_INT(report(ckpt_inspect_print, ck, &text), PSR_OK);
    char want[256];
    snprintf(want, sizeof want, "\ndigest: %016" PRIx64 "\n", digest);
    CHECK_CONTAINS(text, want);
    CHECK_CONTAINS(text, "\ntables: 3\n");
    for (int t = 0; t < 3; t++) {
        int64_t bytes = 0;
        for (int s = 0; s < MT_S; s++) {
            char name[CKPT_NAME_MAX];
            ckpt_rows_file_name(s, t, name);
            char *p = path2(ck, name);
            bytes += file_size(p);
            free(p);
        }
        snprintf(want, sizeof want, "\ntable %d %s: width %d floats %d optimizer %s rows %lld bytes %lld\n",
                 t, mt_tables[t].name, mt_tables[t].width, mt_tables[t].n_floats,
                 mt_tables[t].optim, (long long)want_rows[t], (long long)bytes);
        CHECK_CONTAINS(text, want);
    }
    snprintf(want, sizeof want, "\nrows: %lld\n", (long long)(want_rows[0] + want_rows[1] + want_rows[2]));
    CHECK_CONTAINS(text, want);
    CHECK_CONTAINS(text, "bytes rows: files 6 raw ");
    free(text);
    ckpt_manifest_free(&m);

    /* a header that says another table, or other floats per row, than the manifest: the file
     * itself is intact (size and CRC as listed), so the deep checks must see it */
    char *r2 = path2(tmpdir, "tables-bad");
    uint64_t d2;
    CHECK_INT(write_tables_checkpoint(r2, 1, MT_HDR_TABLE, &d2), PSR_OK);
    CHECK_INT(write_tables_checkpoint(r2, 2, MT_HDR_FLOATS, &d2), PSR_OK);
    CHECK_INT(write_tables_checkpoint(r2, 3, MT_MISSING_BUCKET, &d2), PSR_OK);
    char *c1 = path2(r2, "ckpt-000000000001"), *c2 = path2(r2, "ckpt-000000000002"),
         *c3 = path2(r2, "ckpt-000000000003");
    CHECK_INT(ckpt_manifest_load(c1, &m, CKPT_CHECK_CRC), PSR_OK);
    CHECK_INT(ckpt_bucket_map_table(&m, 2, locs), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "server-00000.t02.rows: header says table 1, width 1, 2 floats per row; the manifest lists it as table 2 ('bias')");
    CHECK_INT(ckpt_bucket_map_table(&m, 1, locs), PSR_OK);
    ckpt_manifest_free(&m);
    CHECK_INT(report(ckpt_verify_print, c1, &text), PSR_ERR_FORMAT);
    CHECK_CONTAINS(text, "FAIL server-00000.t02.rows: ");
    CHECK_CONTAINS(text, "/server-00000.t02.rows: header says table 1");
    CHECK_CONTAINS(text, "OK   server-00001.t02.rows: ");
    CHECK_CONTAINS(text, "verify: FAILED: 1 problem in");
    free(text);
    CHECK_INT(report(ckpt_inspect_print, c1, &text), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "server-00000.t02.rows: header says table 1");
    free(text);

    CHECK_INT(ckpt_manifest_load(c2, &m, CKPT_CHECK_CRC), PSR_OK);
    CHECK_INT(ckpt_bucket_map_table(&m, 1, locs), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "server-00001.t01.rows: header says table 1, width 8, 10 floats per row; the manifest lists it as table 1 ('item'), width 8, 9 floats per row");
    ckpt_manifest_free(&m);
    CHECK_INT(report(ckpt_verify_print, c2, &text), PSR_ERR_FORMAT);
    CHECK_CONTAINS(text, "FAIL server-00001.t01.rows: ");
    CHECK_CONTAINS(text, "10 floats per row; the manifest lists it as table 1");
    free(text);

    /* a bucket of one table in no rows file */
    CHECK_INT(ckpt_manifest_load(c3, &m, CKPT_CHECK_CRC), PSR_OK);
    CHECK_INT(ckpt_bucket_map_table(&m, 0, locs), PSR_OK);
    CHECK_INT(ckpt_bucket_map_table(&m, 1, locs), PSR_OK);
    CHECK_INT(ckpt_bucket_map_table(&m, 2, locs), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "bucket 3 is in no rows file of table 2 ('bias') (of 16 buckets)");
    CHECK_CONTAINS(psr_err_msg(), c3);
    ckpt_manifest_free(&m);
    CHECK_INT(report(ckpt_verify_print, c3, &text), PSR_ERR_FORMAT);
    CHECK_CONTAINS(text, "OK   buckets of table 1 'item': all 16 present");
    CHECK_CONTAINS(text, "FAIL buckets of table 2 'bias': 1 of 16 in no rows file (first: bucket 3)");
    CHECK_CONTAINS(psr_err_msg(), "bucket 3 is in no rows file of table 2 ('bias')");
    free(text);
    CHECK_INT(report(ckpt_inspect_print, c3, &text), PSR_ERR_FORMAT);
    free(text);

    /* a corrupt version-2 header (resealed, so only the value check can see it) */
    char *p = path2(c3, "server-00000.t01.rows");
    set_u32(p, 48, 9);
    reseal(p);
    CHECK_INT(open_and_read(p), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "corrupt header: width 8, 16 buckets, table 9, 9 floats per row");
    free(p);
    p = path2(c3, "dense.params");
    set_u32(p, 52, 3);
    reseal(p);
    ckpt_reader_t *r;
    CHECK_INT(ckpt_reader_open(&r, p, CKPT_KIND_DENSE), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "corrupt header: header bytes 64, flags 0x0, reserved bytes 0x3");
    free(p);

    /* manifest values: each bad one named with the file, line and key */
    struct {
        const char *from, *to, *msg;
    } edits[] = {
        {"  width: 8\n  floats: 9", "  width: 0\n  floats: 9",
         "key 'tables[1].width': found '0', allowed an integer in [1, 1048576]"},
        {"  width: 8\n  floats: 9", "  width: 8\n  floats: 7",
         "key 'tables[1].floats' (table 'item'): found 7, allowed the table's width 8 to"},
        {"  floats: 9", "  floats: 16",
         "key 'tables[1].floats' (table 'item'): found 16, but a row of width 8 with optimizer rowwise_adagrad holds 9"},
        {"optimizer: rowwise_adagrad", "optimizer: sgd",
         "key 'tables[1].optimizer' (table 'item'): found 'sgd', allowed adam, adagrad, rowwise_adagrad"},
        {"- name: bias", "- name: item", "key 'tables[2].name': 'item' is also the name of table 1"},
        {"- name: bias", "- name: bi-as", "key 'tables[2].name': found 'bi-as', allowed 1 to 15 of [A-Za-z0-9_]"},
        {"- name: bias", "- name: abcdefghijklmnop", "key 'tables[2].name': found 'abcdefghijklmnop', too long"},
        {"  optimizer: adagrad\n", "  optimizer: adagrad\n  init: 0\n", "unknown key 'init' in entry 2 of 'tables'"},
        {"- name: user\n  width: 4\n", "- name: user\n", "key 'tables[0]': no 'width'"},
        {"width: 4\ntables:", "width: 5\ntables:", "key 'width' is 5, but table 0 ('user') has width 4"},
        {"tables:\n", "tables: []\nx:\n", "key 'tables': 0 entries, allowed 1 to 8"},
        {"  table: 2\n", "  table: 3\n", "has kind rows, rank 0 and table 3, out of range"},
        {"  table: 1\n", "  table: 8\n", "key 'table': found '8', allowed an integer in [0, 7]"},
        {"  kind: dense\n", "  kind: dense\n  table: 1\n", "has kind dense, rank 0 and table 1, out of range"},
        {"name: server-00001.t02.rows", "name: server-00001.t2.rows", "should be named 'server-00001.t02.rows' (kind rows, rank 1, table 2)"},
        {"  table: 1\n", "  table: 0\n", "should be named 'server-00000.rows' (kind rows, rank 0, table 0)"},
        {"tables:\n- name: user\n  width: 4\n  floats: 12\n  optimizer: adam\n- name: item\n"
         "  width: 8\n  floats: 9\n  optimizer: rowwise_adagrad\n- name: bias\n  width: 1\n"
         "  floats: 2\n  optimizer: adagrad\n",
         "", "lists 9 files; 2 servers and 1 workers need 5 (a rows file per server and table, 1 table;"},
    };
    char *cp = path2(tmpdir, "tables-edit");
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        int found = edit_manifest(ck, cp, edits[e].from, edits[e].to);
        CHECK(found);
        if (!found) fprintf(stderr, "  edit %zu: '%s' not in the manifest\n", e, edits[e].from);
        CHECK(ckpt_manifest_load(cp, &m, CKPT_CHECK_NONE) != PSR_OK);
        CHECK_CONTAINS(psr_err_msg(), edits[e].msg);
        CHECK_CONTAINS(psr_err_msg(), "manifest.yaml");
        ckpt_manifest_free(&m);
    }
    /* the line of a bad table value is given */
    edit_manifest(ck, cp, "  width: 8\n  floats: 9", "  width: 0\n  floats: 9");
    CHECK(ckpt_manifest_load(cp, &m, CKPT_CHECK_NONE) != PSR_OK);
    CHECK_CONTAINS(psr_err_msg(), "manifest.yaml:16: key 'tables[1].width'");
    ckpt_manifest_free(&m);
    rm_rf(cp);
    free(cp);
    free(c1);
    free(c2);
    free(c3);
    free(r2);
    free(ck);
    free(root);
}

/* A manifest written before tables existed (no `tables`, no file `table`): one implied Adam
 * table; it loads, maps, verifies and resumes a one-table job whatever that table's name. */
static void test_tables_old_manifest(void)
{
    char *root = path2(tmpdir, "oldman");
    job_t j = job_small;
    j.set_digest = 1;
    uint64_t digest;
    CHECK_INT(write_checkpoint(root, &j, 100, 0, &digest), PSR_OK);
    char *ck = path2(root, "ckpt-000000000100");
    char *p = path2(ck, "manifest.yaml");
    FILE *f = fopen(p, "rb");
    static char text[16384], old[16384];
    size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[len] = '\0';
    if (f) fclose(f);
    /* drop the tables block and every "  table: 0" line, as the one-table writer emitted */
    const char *blk = "tables:\n- name: emb\n  width: 3\n  floats: 9\n  optimizer: adam\n";
    char *at = strstr(text, blk);
    CHECK(at != NULL);
    size_t k = 0;
    for (const char *q = text; *q;) {
        if (q == at) {
            q += strlen(blk);
            continue;
        }
        if (!strncmp(q, "  table: 0\n", 11)) {
            q += 11;
            continue;
        }
        old[k++] = *q++;
    }
    old[k] = '\0';
    CHECK(strstr(old, "table") == NULL);
    f = fopen(p, "wb");
    fputs(old, f);
    fclose(f);

    ckpt_manifest_t m;
    CHECK_INT(ckpt_manifest_load(ck, &m, CKPT_CHECK_CRC), PSR_OK);
    CHECK_INT(m.n_tables, 1);
    CHECK_INT(m.tables_implied, 1);
    CHECK(!strcmp(m.tables[0].name, "emb"));
    CHECK_INT(m.tables[0].width, 3);
    CHECK_INT(m.tables[0].n_floats, 9);
    CHECK(!strcmp(m.tables[0].optim, "adam"));
    for (int i = 0; i < m.n_files; i++) CHECK_INT(m.files[i].table, 0);
    ckpt_table_t jt = {"features", 3, 9, "adam"};
    CHECK_INT(ckpt_check_tables(&m, 1, &jt), PSR_OK); /* the implied name matches any */
    jt.width = 4;
    jt.n_floats = 12;
    CHECK_INT(ckpt_check_tables(&m, 1, &jt), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "embedding table 0 ('features') has width 3 in the checkpoint, 4 in this config");
    ckpt_table_t two[2] = {{"features", 3, 9, "adam"}, {"item", 3, 9, "adam"}};
    CHECK_INT(ckpt_check_tables(&m, 2, two), PSR_ERR_CONFIG);
    CHECK_CONTAINS(psr_err_msg(), "holds 1 embedding table (emb), the model of this config has 2 (features, item)");
    ckpt_bucket_loc_t locs[16];
    CHECK_INT(ckpt_bucket_map(&m, locs), PSR_OK);
    ckpt_manifest_free(&m);
    char *out;
    CHECK_INT(report(ckpt_verify_print, ck, &out), PSR_OK);
    CHECK_CONTAINS(out, "1 table (implied)");
    CHECK_CONTAINS(out, "OK   digest: ");
    free(out);
    CHECK_INT(report(ckpt_inspect_print, ck, &out), PSR_OK);
    CHECK_CONTAINS(out, "tables: 1 (implied: the manifest predates tables)\n");
    char want[64];
    snprintf(want, sizeof want, "\ndigest: %016" PRIx64 "\n", digest);
    CHECK_CONTAINS(out, want);
    free(out);
    /* an old manifest cannot name a file of another table */
    char *cp = path2(tmpdir, "oldman-edit");
    CHECK(edit_manifest(ck, cp, "  kind: rows\n", "  kind: rows\n  table: 1\n"));
    CHECK(ckpt_manifest_load(cp, &m, CKPT_CHECK_NONE) != PSR_OK);
    CHECK_CONTAINS(psr_err_msg(), "table 1, out of range");
    ckpt_manifest_free(&m);
    rm_rf(cp);
    free(cp);
    free(p);
    free(ck);
    free(root);
}

/* ---- the fault audit's findings (operations issue, item 8) ------------------------------ */

/* Size and CRC32 of a whole file, computed here (not with ckpt.c's code). */
static void file_crc(const char *p, uint64_t *size, uint32_t *crc)
{
    FILE *f = fopen(p, "rb");
    unsigned char buf[65536];
    uLong c = crc32(0L, Z_NULL, 0);
    uint64_t n = 0;
    size_t k;
    while (f && (k = fread(buf, 1, sizeof buf, f)) > 0) {
        c = crc32(c, buf, (uInt)k);
        n += k;
    }
    if (f) fclose(f);
    *size = n;
    *crc = (uint32_t)c;
}

/* What a careful forger does: the manifest of root/ckpt-<step> rewritten (through a commit
 * of the same step) after `edit`, with every file's size and CRC32 recomputed to match what
 * is on disk now. */
static void recommit(const char *root, int64_t step, int records_delta, int digest_mode,
                     uint64_t digest)
{
    char name[32], sname[40];
    ckpt_dir_name(step, name);
    snprintf(sname, sizeof sname, "%s.tmp", name);
    char *dir = path2(root, name), *stage = path2(root, sname);
    ckpt_manifest_t m;
    CHECK_INT(ckpt_manifest_load(dir, &m, CKPT_CHECK_NONE), PSR_OK);
    CHECK_INT(rename(dir, stage), 0);
    for (int i = 0; i < m.n_files; i++) {
        char *p = path2(stage, m.files[i].name);
        file_crc(p, &m.files[i].bytes, &m.files[i].crc32);
        free(p);
    }
    m.files[0].records += (uint64_t)records_delta;
    if (digest_mode) {
        m.has_digest = 1;
        m.digest = digest;
    }
    CHECK_INT(ckpt_commit(root, &m, 0, NULL), PSR_OK);
    ckpt_manifest_free(&m);
    free(dir);
    free(stage);
}

static void swap_files(const char *a, const char *b)
{
    char tmp[2100];
    snprintf(tmp, sizeof tmp, "%s.swap", a);
    CHECK_INT(rename(a, tmp), 0);
    CHECK_INT(rename(b, a), 0);
    CHECK_INT(rename(tmp, b), 0);
}

/* ckpt_find(NULL, dir) refuses with a message containing both needles; auto on root falls
 * back to `older` with a warning naming the refused checkpoint. */
static void expect_refused(const char *root, const char *dir, const char *n1, const char *n2,
                           int64_t older)
{
    ckpt_manifest_t m;
    int rc = ckpt_find(NULL, dir, &m);
    CHECK_INT(rc, PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), n1);
    CHECK_CONTAINS(psr_err_msg(), n2);
    ckpt_manifest_free(&m);
    capture_begin();
    rc = ckpt_find(root, "auto", &m);
    char *err = capture_end();
    CHECK_INT(rc, PSR_OK);
    CHECK_INT(m.step, older);
    CHECK_CONTAINS(err, n1);
    CHECK_CONTAINS(err, "trying the next older one");
    free(err);
    ckpt_manifest_free(&m);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_ckpt: hung (a FIFO blocked an open?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(3);
    _exit(3);
}

static void test_audit(void)
{
    char *root = path2(tmpdir, "audit");
    uint64_t d200 = 0;
    CHECK_INT(write_checkpoint(root, &job_small, 100, 0, NULL), PSR_OK);
    CHECK_INT(write_checkpoint(root, &job_small, 200, 0, &d200), PSR_OK);
    char *c100 = path2(root, "ckpt-000000000100"), *c200 = path2(root, "ckpt-000000000200");
    char *keep = path2(tmpdir, "audit-200");
    cp_r(c200, keep);

    /* the recomputed sizes and CRCs alone change nothing: still accepted */
    recommit(root, 200, 0, 1, d200);
    ckpt_manifest_t m;
    CHECK_INT(ckpt_find(NULL, c200, &m), PSR_OK);
    ckpt_manifest_free(&m);

    /* worker 0's state from the older checkpoint, sizes and CRCs rewritten to match */
    char *w200 = path2(c200, "worker-00000.state"), *w100 = path2(c100, "worker-00000.state");
    copy_file(w100, w200);
    recommit(root, 200, 0, 0, 0);
    expect_refused(root, c200, "ckpt-000000000200/worker-00000.state", "step 100", 100);
    cp_r(keep, c200);

    /* server files swapped between ranks */
    char *s0 = path2(c200, "server-00000.rows"), *s1 = path2(c200, "server-00001.rows");
    swap_files(s0, s1);
    recommit(root, 200, 0, 0, 0);
    expect_refused(root, c200, "ckpt-000000000200/server-00000.rows", "rank 1", 100);
    cp_r(keep, c200);

    /* a wrong record count in the manifest (files[0] is server-00000.rows) */
    recommit(root, 200, 1, 0, 0);
    expect_refused(root, c200, "ckpt-000000000200/server-00000.rows", "records", 100);
    cp_r(keep, c200);

    /* a wrong digest in the manifest */
    recommit(root, 200, 0, 1, d200 + 1);
    expect_refused(root, c200, "ckpt-000000000200/manifest.yaml", "digest", 100);
    /* above CKPT_INFLATE_MAX (here: 0 bytes) rows are not read, so the digest is not compared;
     * headers still are */
    CHECK_INT(ckpt_manifest_load(c200, &m, CKPT_CHECK_CRC), PSR_OK);
    CHECK_INT(ckpt_check_loadable(&m, 0), PSR_OK);
    CHECK_INT(ckpt_check_loadable(&m, UINT64_MAX), PSR_ERR_FORMAT);
    ckpt_manifest_free(&m);
    cp_r(keep, c200);
    copy_file(w100, w200);
    recommit(root, 200, 0, 0, 0);
    CHECK_INT(ckpt_manifest_load(c200, &m, CKPT_CHECK_CRC), PSR_OK);
    CHECK_INT(ckpt_check_loadable(&m, 0), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "worker-00000.state: header says step 100");
    ckpt_manifest_free(&m);
    cp_r(keep, c200);

    /* a checkpoint directory that is a symbolic link to an older one */
    char *c300 = path2(root, "ckpt-000000000300");
    CHECK_INT(symlink("ckpt-000000000100", c300), 0);
    CHECK_INT(ckpt_find(NULL, c300, &m), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "ckpt-000000000300");
    CHECK_CONTAINS(psr_err_msg(), "step 100");
    ckpt_manifest_free(&m);
    capture_begin();
    int rc = ckpt_find(root, "auto", &m);
    char *err = capture_end();
    CHECK_INT(rc, PSR_OK);
    CHECK_INT(m.step, 200);
    CHECK_CONTAINS(err, "ckpt-000000000300");
    free(err);
    ckpt_manifest_free(&m);
    unlink(c300);

    /* a FIFO as manifest.yaml: verify and find return (an alarm turns a hang into a failure) */
    signal(SIGALRM, on_alarm);
    alarm(60);
    char *c400 = path2(root, "ckpt-000000000400"), *man = path2(c400, "manifest.yaml");
    cp_r(c200, c400);
    unlink(man);
    CHECK_INT(mkfifo(man, 0644), 0);
    CHECK_INT(ckpt_find(NULL, c400, &m), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "manifest.yaml: not a regular file (a FIFO)");
    ckpt_manifest_free(&m);
    char *text = NULL;
    CHECK(report(ckpt_verify_print, c400, &text) != PSR_OK);
    CHECK_CONTAINS(text, "not a regular file");
    free(text);
    capture_begin();
    rc = ckpt_find(root, "auto", &m);
    err = capture_end();
    CHECK_INT(rc, PSR_OK);
    CHECK_INT(m.step, 200);
    CHECK_CONTAINS(err, "ckpt-000000000400/manifest.yaml");
    free(err);
    ckpt_manifest_free(&m);
    /* a FIFO as a data file */
    unlink(man);
    copy_file(path2(c200, "manifest.yaml"), man);
    char *w400 = path2(c400, "worker-00001.state");
    unlink(w400);
    CHECK_INT(mkfifo(w400, 0644), 0);
    CHECK_INT(ckpt_find(NULL, c400, &m), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "worker-00001.state: not a regular file");
    ckpt_manifest_free(&m);
    CHECK(report(ckpt_verify_print, c400, &text) != PSR_OK);
    CHECK_CONTAINS(text, "FAIL worker-00001.state");
    free(text);
    alarm(0);
    rm_rf(c400);

    /* only `latest` cannot be written: the checkpoint stands, the commit succeeds with a
     * warning, and auto finds it without `latest` */
    char *lt = path2(root, ".latest.tmp"), *latest = path2(root, "latest");
    mkdir_p(lt); /* fopen of .latest.tmp fails (a directory), as on a full disk */
    capture_begin();
    rc = write_checkpoint(root, &job_small, 500, 0, NULL);
    err = capture_end();
    CHECK_INT(rc, PSR_OK);
    CHECK_CONTAINS(err, "checkpoint ");
    CHECK_CONTAINS(err, "ckpt-000000000500 is committed");
    CHECK_CONTAINS(err, "latest");
    free(err);
    char buf[64] = "";
    CHECK_INT(ckpt_read_latest(root, buf, sizeof buf), PSR_OK);
    CHECK(strcmp(buf, "ckpt-000000000200") == 0); /* still the older one */
    rmdir(lt);
    unlink(latest);
    CHECK_INT(ckpt_find(root, "auto", &m), PSR_OK);
    CHECK_INT(m.step, 500);
    ckpt_manifest_free(&m);

    free(lt);
    free(latest);
    free(w400);
    free(man);
    free(c400);
    free(c300);
    free(s0);
    free(s1);
    free(w200);
    free(w100);
    free(keep);
    free(c100);
    free(c200);
    free(root);
}

int main(void)
{
    const char *base = getenv("PSREC_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_ckpt.%d", base && *base ? base : "/tmp",
             (int)getpid());
    rm_rf(tmpdir);
    mkdir_p(tmpdir);

    test_rows_roundtrip();
    test_dense_and_state();
    test_file_faults();
    test_crafted();
    test_manifest();
    test_commit_keep();
    test_find();
    test_write_errors();
    test_bucket_map_elastic();
    test_reports();
    test_golden_single_table();
    test_tables();
    test_tables_old_manifest();
    test_audit();

    if (!check_failures) rm_rf(tmpdir); /* keep the files of a failed run for a look */
    CHECK_DONE();
}
