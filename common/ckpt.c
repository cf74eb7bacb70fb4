/* ckpt: see ckpt.h for the directory, data file and manifest rules (D*, F*, M*).
 *
 * Implementation notes:
 *  - Writers keep one deflate state, reset between segments (F2), and a 1 MiB output
 *    buffer; the whole-file CRC32 is computed over the bytes as they are handed to stdio,
 *    so no file is read back to be listed in the manifest.
 *  - Readers use pread on their own buffer: selecting a bucket costs one seek, and a
 *    bucket's rows never require inflating another bucket.
 *  - Every message about a data file starts with its path; every message about corrupt
 *    content contains the word "corrupt", truncation "truncated". */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include <zlib.h>

#include "fsutil.h"
#include "hash.h"
#include "le.h"
#include "log.h"
#include "optim.h"
#include "psr_error.h"

static const char CKPT_MAGIC[8] = {'P', 'S', 'R', 'C', 'K', 'P', 'T', '\0'};
static const char CKPT_END_MAGIC[8] = {'P', 'S', 'R', 'C', 'E', 'N', 'D', '\0'};

#define CKPT_OUT_BYTES ((size_t)1 << 20)    /* writer: compressed output buffer */
#define CKPT_ROWBUF_BYTES ((size_t)1 << 18) /* writer and reader: rows buffered per deflate call */
#define CKPT_IN_BYTES ((size_t)1 << 18)     /* reader: compressed input buffer */
#define CKPT_ZCHUNK ((size_t)1 << 30)       /* zlib counts are uInt */
#define CKPT_MAX_EXPANSION 1100u            /* deflate never expands more than 1032:1 */

static const char *const kind_names[] = {"none", "rows", "dense", "worker", "global"};
static const char *const kind_what[] = {"unknown", "parameter-rows", "dense-parameters",
                                        "worker-state", "global-state"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == CKPT_KIND_COUNT, "kind_names");
_Static_assert(sizeof kind_what / sizeof kind_what[0] == CKPT_KIND_COUNT, "kind_what");

const char *ckpt_kind_name(int kind)
{
    return kind >= 0 && kind < CKPT_KIND_COUNT ? kind_names[kind] : "?";
}

static const char *kind_desc(int kind)
{
    return kind >= 0 && kind < CKPT_KIND_COUNT ? kind_what[kind] : "unknown";
}

void ckpt_file_name(int kind, int rank, char name[CKPT_NAME_MAX])
{
    switch (kind) {
    case CKPT_KIND_ROWS: ckpt_rows_file_name(rank, 0, name); break;
    case CKPT_KIND_DENSE: snprintf(name, CKPT_NAME_MAX, "dense.params"); break;
    case CKPT_KIND_WORKER: snprintf(name, CKPT_NAME_MAX, "worker-%05d.state", rank); break;
    case CKPT_KIND_GLOBAL: snprintf(name, CKPT_NAME_MAX, "global.state"); break;
    default: snprintf(name, CKPT_NAME_MAX, "invalid-kind-%d", kind); break;
    }
}

void ckpt_rows_file_name(int server, int table, char name[CKPT_NAME_MAX])
{
    if (table == 0)
        snprintf(name, CKPT_NAME_MAX, "server-%05d.rows", server);
    else
        snprintf(name, CKPT_NAME_MAX, "server-%05d.t%02d.rows", server, table);
}

/* The name a listed file must have (D2). */
static void info_name(const ckpt_file_info_t *f, char name[CKPT_NAME_MAX])
{
    if (f->kind == CKPT_KIND_ROWS)
        ckpt_rows_file_name(f->rank, f->table, name);
    else
        ckpt_file_name(f->kind, f->rank, name);
}

void ckpt_dir_name(int64_t step, char name[32])
{
    snprintf(name, 32, "ckpt-%012" PRId64, step);
}

char *ckpt_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = psr_xmalloc(a + b + 2);
    memcpy(s, dir, a);
    size_t n = a;
    if (n > 0 && s[n - 1] != '/') s[n++] = '/';
    memcpy(s + n, name, b + 1);
    return s;
}

static uint32_t crc_update(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    uLong c = crc;
    while (n > 0) {
        size_t k = n < CKPT_ZCHUNK ? n : CKPT_ZCHUNK;
        c = crc32(c, p, (uInt)k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static uint32_t crc_combine(uint32_t a, uint32_t b, uint64_t len_b)
{
    return (uint32_t)crc32_combine(a, b, (z_off_t)len_b);
}

/* Prefix the recorded error message (psr_err_msg() cannot be an argument of PSR_ERR: the
 * message buffer would be both source and destination). */
static int err_wrap(int rc, const char *prefix)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", psr_err_msg());
    return PSR_ERR(rc, "%s%s", prefix, msg);
}

/* ---- file system helpers --------------------------------------------------------------- */

/* fsync a directory so the renames inside it are durable. File systems that cannot
 * (EINVAL) are accepted: there is nothing better to do on them. */
static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return PSR_ERR(PSR_ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
    if (fsync(fd) != 0 && errno != EINVAL) {
        int e = errno;
        close(fd);
        return PSR_ERR(PSR_ERR_IO, "cannot fsync directory '%s': %s", dir, strerror(e));
    }
    close(fd);
    return PSR_OK;
}

/* rm -rf, never following symbolic links. 0 on success (or nothing there), -1 otherwise. */
static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    DIR *d = opendir(path);
    if (!d) return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = ckpt_join(path, e->d_name);
        if (rm_rf(p) != 0) rc = -1;
        free(p);
    }
    closedir(d);
    if (rmdir(path) != 0) rc = -1;
    return rc;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* DIR/NAME replaced by `len` bytes: DIR/.NAME.tmp, fflush, fsync, fclose, rename, fsync DIR.
 * On error the temporary file is removed. */
static int write_file_atomic(const char *dir, const char *name, const void *data, size_t len)
{
    char tname[CKPT_NAME_MAX + 8];
    snprintf(tname, sizeof tname, ".%s.tmp", name);
    char *tmp = ckpt_join(dir, tname), *path = ckpt_join(dir, name);
    int rc = PSR_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = PSR_ERR(PSR_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    errno = 0;
    if (fwrite(data, 1, len, f) != len || fflush(f) != 0) {
        rc = PSR_ERR(PSR_ERR_IO, "cannot write '%s': %s", tmp, errno ? strerror(errno) : "short write");
    } else if (fsync(fileno(f)) != 0) {
        rc = PSR_ERR(PSR_ERR_IO, "cannot fsync '%s': %s", tmp, strerror(errno));
    }
    if (fclose(f) != 0 && rc == PSR_OK)
        rc = PSR_ERR(PSR_ERR_IO, "cannot close '%s': %s", tmp, strerror(errno));
    if (rc == PSR_OK && rename(tmp, path) != 0)
        rc = PSR_ERR(PSR_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (rc == PSR_OK) rc = fsync_dir(dir);
out:
    if (rc != PSR_OK) unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

/* Open a checkpoint file for reading without ever blocking in open(): O_NONBLOCK (a FIFO
 * opens at once instead of waiting for a writer), then fstat, and only a regular file is
 * accepted; blocking mode is restored for the reads. The fd, or -1 with the error recorded
 * (message "PATH: ..."). */
static int open_regular(const char *path, int *fd_out)
{
    *fd_out = -1;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return PSR_ERR(PSR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return PSR_ERR(PSR_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return PSR_ERR(PSR_ERR_FORMAT, "%s: not a regular file (%s); a checkpoint holds only "
                       "regular files", path,
                       S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory"
                       : S_ISSOCK(st.st_mode) ? "a socket" : "a device or other special file");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *fd_out = fd;
    return PSR_OK;
}

/* Size and CRC32 of a whole file. */
static int crc_file(const char *path, uint64_t *size, uint32_t *crc)
{
    int fd;
    PSR_FORWARD(open_regular(path, &fd));
    unsigned char *buf = psr_xmalloc(CKPT_OUT_BYTES);
    uint64_t n = 0;
    uint32_t c = 0;
    int rc = PSR_OK;
    for (;;) {
        ssize_t k = read(fd, buf, CKPT_OUT_BYTES);
        if (k < 0) {
            if (errno == EINTR) continue;
            rc = PSR_ERR(PSR_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
        if (k == 0) break;
        c = crc_update(c, buf, (size_t)k);
        n += (uint64_t)k;
    }
    free(buf);
    close(fd);
    *size = n;
    *crc = c;
    return rc;
}

/* ---- writer ---------------------------------------------------------------------------- */

struct ckpt_writer {
    FILE *f;
    char *dir, *tmp, *path;
    ckpt_file_info_t info;
    int kind, width, n_floats, table, level, rank;
    uint32_t n_buckets;
    int64_t step;
    int err; /* sticky status */
    z_stream z;
    int z_ready;
    unsigned char *out; /* (CKPT_OUT_BYTES) compressed bytes not yet handed to stdio */
    size_t out_len;
    uint64_t written; /* bytes handed to stdio */
    uint32_t file_crc;
    ckpt_segment_t *seg; /* (cap_seg) finished segments */
    uint32_t n_seg, cap_seg;
    int in_seg;
    ckpt_segment_t cur; /* open segment */
    int64_t last_id;    /* id of the last segment begun, -1 before the first */
    uint64_t raw_total, records_total;
    uint32_t payload_crc;
    size_t rec_bytes;   /* rows: 24 + 4 * n_floats */
    unsigned char *rows; /* (rows_cap) rows not yet deflated */
    size_t rows_len, rows_cap;
};

static int w_fail(ckpt_writer_t *w, int rc)
{
    if (w->err == PSR_OK) w->err = rc;
    return rc;
}

static int w_flush(ckpt_writer_t *w)
{
    if (w->out_len == 0) return PSR_OK;
    errno = 0;
    if (fwrite(w->out, 1, w->out_len, w->f) != w->out_len)
        return w_fail(w, PSR_ERR(PSR_ERR_IO, "cannot write '%s': %s", w->tmp,
                                 errno ? strerror(errno) : "short write"));
    w->file_crc = crc_update(w->file_crc, w->out, w->out_len);
    w->written += w->out_len;
    w->out_len = 0;
    return PSR_OK;
}

static uint64_t w_pos(const ckpt_writer_t *w) { return w->written + w->out_len; }

/* Uncompressed bytes (header, index, trailer). */
static int w_emit(ckpt_writer_t *w, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0) {
        if (w->out_len == CKPT_OUT_BYTES) PSR_FORWARD(w_flush(w));
        size_t k = CKPT_OUT_BYTES - w->out_len;
        if (k > n) k = n;
        memcpy(w->out + w->out_len, p, k);
        w->out_len += k;
        p += k;
        n -= k;
    }
    return PSR_OK;
}

/* Feed n bytes to deflate (flush = Z_NO_FLUSH or Z_FINISH). */
static int w_deflate(ckpt_writer_t *w, const void *data, size_t n, int flush)
{
    const unsigned char *p = data;
    do {
        size_t k = n < CKPT_ZCHUNK ? n : CKPT_ZCHUNK;
        w->z.next_in = (Bytef *)(uintptr_t)p;
        w->z.avail_in = (uInt)k;
        p += k;
        n -= k;
        int fl = n == 0 ? flush : Z_NO_FLUSH;
        for (;;) {
            if (w->out_len == CKPT_OUT_BYTES) PSR_FORWARD(w_flush(w));
            w->z.next_out = w->out + w->out_len;
            w->z.avail_out = (uInt)(CKPT_OUT_BYTES - w->out_len);
            int zrc = deflate(&w->z, fl);
            w->out_len = CKPT_OUT_BYTES - w->z.avail_out;
            if (zrc == Z_STREAM_ERROR)
                return w_fail(w, PSR_ERR(PSR_ERR_INTERNAL, "%s: deflate failed", w->tmp));
            if (fl == Z_FINISH) {
                if (zrc == Z_STREAM_END) break;
            } else if (w->z.avail_in == 0) {
                break;
            }
        }
    } while (n > 0);
    return PSR_OK;
}

static int w_seg_begin(ckpt_writer_t *w, uint32_t id)
{
    memset(&w->cur, 0, sizeof w->cur);
    w->cur.id = id;
    w->cur.offset = w_pos(w);
    w->in_seg = 1;
    w->last_id = id;
    return PSR_OK;
}

static int w_seg_data(ckpt_writer_t *w, const void *data, size_t n)
{
    if (n == 0) return PSR_OK;
    w->cur.crc32 = crc_update(w->cur.crc32, data, n);
    w->cur.raw_bytes += n;
    return w_deflate(w, data, n, Z_NO_FLUSH);
}

static int w_seg_end(ckpt_writer_t *w, uint64_t records)
{
    PSR_FORWARD(w_deflate(w, NULL, 0, Z_FINISH));
    if (deflateReset(&w->z) != Z_OK)
        return w_fail(w, PSR_ERR(PSR_ERR_INTERNAL, "%s: deflateReset failed", w->tmp));
    w->cur.comp_bytes = w_pos(w) - w->cur.offset;
    w->cur.records = records;
    if (w->n_seg == w->cap_seg) {
        w->cap_seg = w->cap_seg ? 2 * w->cap_seg : 64;
        w->seg = psr_xrealloc(w->seg, w->cap_seg * sizeof *w->seg);
    }
    w->seg[w->n_seg++] = w->cur;
    w->payload_crc = crc_combine(w->payload_crc, w->cur.crc32, w->cur.raw_bytes);
    w->raw_total += w->cur.raw_bytes;
    w->records_total += records;
    w->in_seg = 0;
    return PSR_OK;
}

static void w_free(ckpt_writer_t *w)
{
    if (w->z_ready) deflateEnd(&w->z);
    free(w->dir);
    free(w->tmp);
    free(w->path);
    free(w->out);
    free(w->seg);
    free(w->rows);
    free(w);
}

/* Open DIR/.NAME.tmp and write the header. table and n_floats: rows only (0 otherwise);
 * the header is version 1 whenever it can say the same (F7). */
static int w_open(ckpt_writer_t **wp, const char *dir, int kind, int rank, int table, int width,
                  int n_floats, uint32_t n_buckets, int64_t step, int level)
{
    *wp = NULL;
    PSR_RETURN_IF(level < 0 || level > 9, PSR_ERR_USAGE,
                  "checkpoint compression level %d: allowed 0 to 9", level);
    PSR_RETURN_IF(step < 0, PSR_ERR_USAGE, "checkpoint step %" PRId64 ": must be >= 0", step);
    PSR_RETURN_IF(rank < 0, PSR_ERR_USAGE, "checkpoint file rank %d: must be >= 0", rank);
    ckpt_writer_t *w = psr_xcalloc(1, sizeof *w);
    w->kind = kind;
    w->rank = rank;
    w->width = width;
    w->n_floats = n_floats;
    w->table = table;
    w->n_buckets = n_buckets;
    w->step = step;
    w->level = level;
    w->last_id = -1;
    w->info.kind = kind;
    w->info.rank = rank;
    w->info.table = table;
    info_name(&w->info, w->info.name);
    char tname[CKPT_NAME_MAX + 8];
    snprintf(tname, sizeof tname, ".%s.tmp", w->info.name);
    w->dir = psr_xstrdup(dir);
    w->tmp = ckpt_join(dir, tname);
    w->path = ckpt_join(dir, w->info.name);
    w->out = psr_xmalloc(CKPT_OUT_BYTES);
    if (deflateInit(&w->z, level) != Z_OK) {
        w_free(w);
        return PSR_ERR(PSR_ERR_NOMEM, "cannot set up zlib for a checkpoint file");
    }
    w->z_ready = 1;
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        int rc = PSR_ERR(PSR_ERR_IO, "cannot create '%s': %s", w->tmp, strerror(errno));
        w_free(w);
        return rc;
    }
    const int v1 = kind != CKPT_KIND_ROWS || (table == 0 && n_floats == 3 * width);
    unsigned char h[CKPT_HEADER_BYTES] = {0};
    memcpy(h, CKPT_MAGIC, 8);
    psr_put_u32(h + 8, v1 ? 1 : 2);
    psr_put_u32(h + 12, (uint32_t)kind);
    psr_put_u32(h + 16, CKPT_HEADER_BYTES);
    psr_put_u32(h + 20, (uint32_t)level);
    psr_put_u32(h + 24, (uint32_t)width);
    psr_put_u32(h + 28, n_buckets);
    psr_put_u32(h + 32, (uint32_t)rank);
    psr_put_u32(h + 36, 0);
    psr_put_u64(h + 40, (uint64_t)step);
    if (!v1) {
        psr_put_u32(h + 48, (uint32_t)table);
        psr_put_u32(h + 52, (uint32_t)n_floats);
    }
    psr_put_u32(h + 60, crc_update(0, h, 60));
    int rc = w_emit(w, h, sizeof h);
    if (rc != PSR_OK) {
        ckpt_writer_abort(w);
        return rc;
    }
    *wp = w;
    return PSR_OK;
}

int ckpt_rows_create_table(ckpt_writer_t **w, const char *dir, int server, int table, int width,
                           int n_floats, uint32_t n_buckets, int64_t step, int level)
{
    *w = NULL;
    PSR_RETURN_IF(table < 0 || table >= CKPT_MAX_TABLES, PSR_ERR_USAGE,
                  "checkpoint table %d: allowed 0 to %d", table, CKPT_MAX_TABLES - 1);
    PSR_RETURN_IF(width < 1 || width > CKPT_MAX_WIDTH, PSR_ERR_USAGE,
                  "checkpoint row width %d: allowed 1 to %d", width, CKPT_MAX_WIDTH);
    PSR_RETURN_IF(n_floats < width || n_floats > CKPT_MAX_FLOATS, PSR_ERR_USAGE,
                  "checkpoint table %d: %d floats per row: allowed its width %d to %d", table,
                  n_floats, width, CKPT_MAX_FLOATS);
    PSR_RETURN_IF(n_buckets < 1, PSR_ERR_USAGE, "checkpoint bucket count must be >= 1");
    PSR_FORWARD(w_open(w, dir, CKPT_KIND_ROWS, server, table, width, n_floats, n_buckets, step,
                       level));
    (*w)->rec_bytes = 24 + 4 * (size_t)n_floats;
    size_t per = CKPT_ROWBUF_BYTES / (*w)->rec_bytes;
    (*w)->rows_cap = (per ? per : 1) * (*w)->rec_bytes;
    (*w)->rows = psr_xmalloc((*w)->rows_cap);
    return PSR_OK;
}

int ckpt_rows_create(ckpt_writer_t **w, const char *dir, int server, int width,
                     uint32_t n_buckets, int64_t step, int level)
{
    *w = NULL;
    PSR_RETURN_IF(width < 1 || width > CKPT_MAX_WIDTH, PSR_ERR_USAGE,
                  "checkpoint row width %d: allowed 1 to %d", width, CKPT_MAX_WIDTH);
    return ckpt_rows_create_table(w, dir, server, 0, width, 3 * width, n_buckets, step, level);
}

static int rows_flush(ckpt_writer_t *w)
{
    int rc = w_seg_data(w, w->rows, w->rows_len);
    w->rows_len = 0;
    return rc;
}

static int rows_end_bucket(ckpt_writer_t *w)
{
    PSR_FORWARD(rows_flush(w));
    return w_seg_end(w, w->cur.raw_bytes / w->rec_bytes);
}

int ckpt_rows_bucket(ckpt_writer_t *w, uint32_t bucket)
{
    if (w->err) return w->err;
    if (w->kind != CKPT_KIND_ROWS)
        return w_fail(w, PSR_ERR(PSR_ERR_INTERNAL, "%s: not a rows file", w->tmp));
    if (bucket >= w->n_buckets)
        return w_fail(w, PSR_ERR(PSR_ERR_INTERNAL, "%s: bucket %u out of range [0, %u)", w->tmp,
                                 bucket, w->n_buckets));
    if ((int64_t)bucket <= w->last_id)
        return w_fail(w, PSR_ERR(PSR_ERR_INTERNAL,
                                 "%s: bucket %u after bucket %" PRId64
                                 ": buckets must be written in increasing order, once each",
                                 w->tmp, bucket, w->last_id));
    if (w->in_seg) PSR_FORWARD(rows_end_bucket(w));
    return w_seg_begin(w, bucket);
}

int ckpt_rows_put(ckpt_writer_t *w, uint64_t key, const float *floats, int64_t step,
                  int64_t last)
{
    if (w->err) return w->err;
    if (!w->in_seg)
        return w_fail(w, PSR_ERR(PSR_ERR_INTERNAL, "%s: row before any ckpt_rows_bucket", w->tmp));
    uint32_t b = psr_key_bucket(key, w->n_buckets);
    if (b != w->cur.id)
        return w_fail(w, PSR_ERR(PSR_ERR_INTERNAL,
                                 "%s: key 0x%016" PRIx64 " belongs to bucket %u, written to bucket %u",
                                 w->tmp, key, b, w->cur.id));
    if (w->rows_len + w->rec_bytes > w->rows_cap) PSR_FORWARD(rows_flush(w));
    unsigned char *p = w->rows + w->rows_len;
    size_t nf = 4 * (size_t)w->n_floats;
    psr_put_u64(p, key);
    memcpy(p + 8, floats, nf);
    psr_put_u64(p + 8 + nf, (uint64_t)step);
    psr_put_u64(p + 16 + nf, (uint64_t)last);
    w->rows_len += w->rec_bytes;
    return PSR_OK;
}

int ckpt_dense_create(ckpt_writer_t **w, const char *dir, int64_t step, int level)
{
    return w_open(w, dir, CKPT_KIND_DENSE, 0, 0, 0, 0, 0, step, level);
}

int ckpt_dense_put(ckpt_writer_t *w, uint32_t id, const float *floats, size_t n, int64_t step)
{
    if (w->err) return w->err;
    if (w->kind != CKPT_KIND_DENSE)
        return w_fail(w, PSR_ERR(PSR_ERR_INTERNAL, "%s: not a dense file", w->tmp));
    if ((int64_t)id <= w->last_id)
        return w_fail(w, PSR_ERR(PSR_ERR_INTERNAL,
                                 "%s: dense block %u after block %" PRId64
                                 ": ids must be increasing, once each",
                                 w->tmp, id, w->last_id));
    unsigned char s[8];
    psr_put_u64(s, (uint64_t)step);
    PSR_FORWARD(w_seg_begin(w, id));
    PSR_FORWARD(w_seg_data(w, s, 8));
    PSR_FORWARD(w_seg_data(w, floats, n * sizeof(float)));
    return w_seg_end(w, 1);
}

int ckpt_writer_close(ckpt_writer_t *w, ckpt_file_info_t *info)
{
    int rc = w->err;
    if (rc == PSR_OK && w->in_seg) rc = w->kind == CKPT_KIND_ROWS ? rows_end_bucket(w) : w_seg_end(w, 1);
    uint64_t index_offset = w_pos(w);
    uint32_t icrc = 0;
    for (uint32_t i = 0; i < w->n_seg && rc == PSR_OK; i++) {
        unsigned char e[CKPT_INDEX_ENTRY_BYTES];
        psr_put_u64(e, w->seg[i].offset);
        psr_put_u64(e + 8, w->seg[i].comp_bytes);
        psr_put_u64(e + 16, w->seg[i].raw_bytes);
        psr_put_u64(e + 24, w->seg[i].records);
        psr_put_u32(e + 32, w->seg[i].id);
        psr_put_u32(e + 36, w->seg[i].crc32);
        icrc = crc_update(icrc, e, sizeof e);
        rc = w_emit(w, e, sizeof e);
    }
    if (rc == PSR_OK) {
        unsigned char t[CKPT_TRAILER_BYTES];
        psr_put_u64(t, index_offset);
        psr_put_u64(t + 8, w->raw_total);
        psr_put_u64(t + 16, w->records_total);
        psr_put_u32(t + 24, w->n_seg);
        psr_put_u32(t + 28, icrc);
        psr_put_u32(t + 32, w->payload_crc);
        psr_put_u32(t + 36, crc_update(0, t, 36));
        memcpy(t + 40, CKPT_END_MAGIC, 8);
        rc = w_emit(w, t, sizeof t);
    }
    if (rc == PSR_OK) rc = w_flush(w);
    FILE *f = w->f;
    w->f = NULL;
    errno = 0;
    if (rc == PSR_OK && fflush(f) != 0)
        rc = PSR_ERR(PSR_ERR_IO, "cannot write '%s': %s", w->tmp, strerror(errno));
    if (rc == PSR_OK && fsync(fileno(f)) != 0)
        rc = PSR_ERR(PSR_ERR_IO, "cannot fsync '%s': %s", w->tmp, strerror(errno));
    if (fclose(f) != 0 && rc == PSR_OK)
        rc = PSR_ERR(PSR_ERR_IO, "cannot close '%s': %s", w->tmp, strerror(errno));
    if (rc == PSR_OK && rename(w->tmp, w->path) != 0)
        rc = PSR_ERR(PSR_ERR_IO, "cannot rename '%s' to '%s': %s", w->tmp, w->path,
                     strerror(errno));
    if (rc == PSR_OK) rc = fsync_dir(w->dir);
    if (rc != PSR_OK) {
        unlink(w->tmp);
    } else {
        w->info.bytes = w->written;
        w->info.raw_bytes = w->raw_total;
        w->info.records = w->records_total;
        w->info.crc32 = w->file_crc;
        w->info.n_segments = w->n_seg;
        if (info) *info = w->info;
    }
    w_free(w);
    return rc;
}

void ckpt_writer_abort(ckpt_writer_t *w)
{
    if (!w) return;
    if (w->f) fclose(w->f);
    unlink(w->tmp);
    w_free(w);
}

int ckpt_write_state(const char *dir, int kind, int rank, int64_t step, int level,
                     const void *bytes, size_t n, ckpt_file_info_t *info)
{
    PSR_RETURN_IF(kind != CKPT_KIND_WORKER && kind != CKPT_KIND_GLOBAL, PSR_ERR_USAGE,
                  "ckpt_write_state: kind %s is not a state kind", ckpt_kind_name(kind));
    PSR_RETURN_IF(kind == CKPT_KIND_GLOBAL && rank != 0, PSR_ERR_USAGE,
                  "ckpt_write_state: the global state has rank 0, not %d", rank);
    ckpt_writer_t *w;
    PSR_FORWARD(w_open(&w, dir, kind, rank, 0, 0, 0, 0, step, level));
    int rc = w_seg_begin(w, 0);
    if (rc == PSR_OK) rc = w_seg_data(w, bytes, n);
    if (rc == PSR_OK) rc = w_seg_end(w, 1);
    if (rc != PSR_OK) {
        ckpt_writer_abort(w);
        return rc;
    }
    return ckpt_writer_close(w, info);
}

/* ---- reader ---------------------------------------------------------------------------- */

struct ckpt_reader {
    int fd;
    char *path;
    ckpt_header_t h;
    ckpt_segment_t *seg; /* (h.n_segments) */
    uint32_t payload_crc_stored, payload_crc;
    int err; /* sticky status */
    z_stream z;
    int z_ready;
    unsigned char *in; /* (CKPT_IN_BYTES) */
    /* selection: segments [next, end) remain; `full` when it is every segment from 0 */
    int64_t next, end;
    int full, done;
    /* open segment */
    int64_t cur; /* -1 when none */
    uint64_t comp_left, comp_pos, raw_left, rec_left;
    uint32_t crc;
    int z_end; /* the open segment's zlib stream has ended */
    /* decoded rows / dense floats */
    unsigned char *buf;
    size_t buf_cap, buf_len, buf_pos;
    size_t rec_bytes;
};

static int r_fail(ckpt_reader_t *r, int rc)
{
    if (r->err == PSR_OK) r->err = rc;
    return rc;
}

static void seg_label(const ckpt_reader_t *r, int64_t i, char *buf, size_t n)
{
    if (r->h.kind == CKPT_KIND_ROWS)
        snprintf(buf, n, "bucket %u", r->seg[i].id);
    else if (r->h.kind == CKPT_KIND_DENSE)
        snprintf(buf, n, "dense block %u", r->seg[i].id);
    else
        snprintf(buf, n, "payload");
}

static int r_pread(ckpt_reader_t *r, void *buf, size_t n, uint64_t off, const char *what)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = pread(r->fd, p, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR) continue;
            return PSR_ERR(PSR_ERR_IO, "%s: cannot read %s: %s", r->path, what, strerror(errno));
        }
        if (k == 0)
            return PSR_ERR(PSR_ERR_FORMAT, "%s: truncated: %s ends at byte %" PRIu64 ", past the end of the file",
                           r->path, what, off);
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return PSR_OK;
}

void ckpt_reader_close(ckpt_reader_t *r)
{
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    if (r->z_ready) inflateEnd(&r->z);
    free(r->path);
    free(r->seg);
    free(r->in);
    free(r->buf);
    free(r);
}

static int r_check_structure(ckpt_reader_t *r)
{
    const ckpt_header_t *h = &r->h;
    const char *p = r->path;
    uint64_t expect = CKPT_HEADER_BYTES, raw = 0, rec = 0;
    for (uint32_t i = 0; i < h->n_segments; i++) {
        const ckpt_segment_t *s = &r->seg[i];
        PSR_RETURN_IF(s->offset != expect, PSR_ERR_FORMAT,
                      "%s: corrupt index: segment %u starts at %" PRIu64 ", expected %" PRIu64, p,
                      i, s->offset, expect);
        PSR_RETURN_IF(i > 0 && s->id <= r->seg[i - 1].id, PSR_ERR_FORMAT,
                      "%s: corrupt index: segment ids not increasing (%u after %u)", p, s->id,
                      r->seg[i - 1].id);
        PSR_RETURN_IF(s->comp_bytes < 8 || s->comp_bytes > UINT64_MAX / CKPT_MAX_EXPANSION ||
                          s->raw_bytes > s->comp_bytes * CKPT_MAX_EXPANSION,
                      PSR_ERR_FORMAT,
                      "%s: corrupt index: segment %u claims %" PRIu64
                      " raw bytes from %" PRIu64 " compressed",
                      p, i, s->raw_bytes, s->comp_bytes);
        if (h->kind == CKPT_KIND_ROWS) {
            PSR_RETURN_IF(s->id >= h->n_buckets, PSR_ERR_FORMAT,
                          "%s: corrupt index: bucket %u, the file has %u buckets", p, s->id,
                          h->n_buckets);
            PSR_RETURN_IF(s->raw_bytes != s->records * r->rec_bytes ||
                              s->records > s->raw_bytes,
                          PSR_ERR_FORMAT,
                          "%s: corrupt index: bucket %u has %" PRIu64 " rows in %" PRIu64
                          " bytes (rows are %zu bytes)",
                          p, s->id, s->records, s->raw_bytes, r->rec_bytes);
        } else if (h->kind == CKPT_KIND_DENSE) {
            PSR_RETURN_IF(s->records != 1 || s->raw_bytes < 8 || (s->raw_bytes - 8) % 4 != 0,
                          PSR_ERR_FORMAT,
                          "%s: corrupt index: dense block %u has %" PRIu64 " bytes, %" PRIu64
                          " records",
                          p, s->id, s->raw_bytes, s->records);
        } else {
            PSR_RETURN_IF(h->n_segments != 1 || s->id != 0 || s->records != 1, PSR_ERR_FORMAT,
                          "%s: corrupt index: a state file has exactly one segment", p);
        }
        expect = s->offset + s->comp_bytes;
        raw += s->raw_bytes;
        rec += s->records;
    }
    PSR_RETURN_IF(h->n_segments == 0 && h->kind != CKPT_KIND_ROWS && h->kind != CKPT_KIND_DENSE,
                  PSR_ERR_FORMAT, "%s: corrupt index: a state file has exactly one segment", p);
    PSR_RETURN_IF(raw != h->raw_bytes || rec != h->records, PSR_ERR_FORMAT,
                  "%s: corrupt index: segments hold %" PRIu64 " bytes, %" PRIu64
                  " records; the trailer says %" PRIu64 ", %" PRIu64,
                  p, raw, rec, h->raw_bytes, h->records);
    return PSR_OK;
}

int ckpt_reader_open(ckpt_reader_t **rp, const char *path, int kind)
{
    *rp = NULL;
    ckpt_reader_t *r = psr_xcalloc(1, sizeof *r);
    r->path = psr_xstrdup(path);
    r->cur = -1;
    int rc = open_regular(path, &r->fd);
    if (rc != PSR_OK) goto fail;
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        rc = PSR_ERR(PSR_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    uint64_t size = (uint64_t)st.st_size;
    r->h.file_bytes = size;

    /* F1: magic, version, header CRC, layout, kind */
    unsigned char hb[CKPT_HEADER_BYTES];
    size_t got = size < sizeof hb ? (size_t)size : sizeof hb;
    if ((rc = r_pread(r, hb, got, 0, "the header")) != PSR_OK) goto fail;
    if (got >= 8 && memcmp(hb, CKPT_MAGIC, 8) != 0) {
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: not a psrec checkpoint file (wrong magic)", path);
        goto fail;
    }
    if (got >= 12 && (psr_get_u32(hb + 8) < 1 || psr_get_u32(hb + 8) > CKPT_FILE_VERSION)) {
        rc = PSR_ERR(PSR_ERR_FORMAT,
                     "%s: unsupported checkpoint file version %u (this psrec reads versions 1 to "
                     "%d)",
                     path, psr_get_u32(hb + 8), CKPT_FILE_VERSION);
        goto fail;
    }
    if (size < CKPT_HEADER_BYTES + CKPT_TRAILER_BYTES) {
        rc = PSR_ERR(PSR_ERR_FORMAT,
                     "%s: truncated: %" PRIu64 " bytes, a checkpoint file has at least %d",
                     path, size, CKPT_HEADER_BYTES + CKPT_TRAILER_BYTES);
        goto fail;
    }
    if (psr_get_u32(hb + 60) != crc_update(0, hb, 60)) {
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: corrupt: header CRC mismatch", path);
        goto fail;
    }
    ckpt_header_t *h = &r->h;
    h->version = psr_get_u32(hb + 8);
    h->kind = psr_get_u32(hb + 12);
    h->level = psr_get_u32(hb + 20);
    h->width = psr_get_u32(hb + 24);
    h->n_buckets = psr_get_u32(hb + 28);
    h->rank = psr_get_u32(hb + 32);
    h->step = (int64_t)psr_get_u64(hb + 40);
    /* version 1: bytes 48..59 are zero; version 2: table, n_floats, 4 zero bytes (F1, F7) */
    uint32_t reserved = psr_get_u32(hb + 56);
    if (h->version >= 2) {
        h->table = psr_get_u32(hb + 48);
        h->n_floats = psr_get_u32(hb + 52);
    } else {
        reserved |= psr_get_u32(hb + 48) | psr_get_u32(hb + 52);
    }
    if (psr_get_u32(hb + 16) != CKPT_HEADER_BYTES || psr_get_u32(hb + 36) != 0 || reserved != 0 ||
        h->kind == 0 || h->kind >= CKPT_KIND_COUNT) {
        rc = PSR_ERR(PSR_ERR_FORMAT,
                     "%s: corrupt header: header bytes %u, flags 0x%x, reserved bytes 0x%x, kind "
                     "%u (allowed: 64, 0, 0, 1 to %d)",
                     path, psr_get_u32(hb + 16), psr_get_u32(hb + 36), reserved, h->kind,
                     CKPT_KIND_COUNT - 1);
        goto fail;
    }
    if (kind != CKPT_KIND_NONE && (uint32_t)kind != h->kind) {
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: wrong kind: this is a %s file, expected a %s file",
                     path, kind_desc((int)h->kind), kind_desc(kind));
        goto fail;
    }
    if (h->kind == CKPT_KIND_ROWS) {
        if (h->version == 1) h->n_floats = 3 * h->width; /* F7: table 0 with Adam state */
        if (h->width < 1 || h->width > CKPT_MAX_WIDTH || h->n_buckets < 1 ||
            h->table >= CKPT_MAX_TABLES || h->n_floats < h->width || h->n_floats > CKPT_MAX_FLOATS) {
            rc = PSR_ERR(PSR_ERR_FORMAT,
                         "%s: corrupt header: width %u, %u buckets, table %u, %u floats per row "
                         "(allowed: width 1 to %d, buckets >= 1, table < %d, floats from the "
                         "width to %d)",
                         path, h->width, h->n_buckets, h->table, h->n_floats, CKPT_MAX_WIDTH,
                         CKPT_MAX_TABLES, CKPT_MAX_FLOATS);
            goto fail;
        }
        r->rec_bytes = 24 + 4 * (size_t)h->n_floats;
    } else if (h->table != 0 || h->n_floats != 0) {
        rc = PSR_ERR(PSR_ERR_FORMAT,
                     "%s: corrupt header: a %s file with table %u, %u floats per row (allowed: 0)",
                     path, kind_desc((int)h->kind), h->table, h->n_floats);
        goto fail;
    }

    /* F4: trailer */
    unsigned char t[CKPT_TRAILER_BYTES];
    if ((rc = r_pread(r, t, sizeof t, size - CKPT_TRAILER_BYTES, "the trailer")) != PSR_OK)
        goto fail;
    if (memcmp(t + 40, CKPT_END_MAGIC, 8) != 0) {
        rc = PSR_ERR(PSR_ERR_FORMAT,
                     "%s: truncated or incompletely written: no end marker in the last %d of "
                     "its %" PRIu64 " bytes",
                     path, CKPT_TRAILER_BYTES, size);
        goto fail;
    }
    if (psr_get_u32(t + 36) != crc_update(0, t, 36)) {
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: corrupt: trailer CRC mismatch", path);
        goto fail;
    }
    uint64_t index_offset = psr_get_u64(t);
    h->raw_bytes = psr_get_u64(t + 8);
    h->records = psr_get_u64(t + 16);
    h->n_segments = psr_get_u32(t + 24);
    uint32_t index_crc = psr_get_u32(t + 28);
    r->payload_crc_stored = psr_get_u32(t + 32);
    if (index_offset < CKPT_HEADER_BYTES || index_offset > size - CKPT_TRAILER_BYTES ||
        size - CKPT_TRAILER_BYTES - index_offset !=
            (uint64_t)h->n_segments * CKPT_INDEX_ENTRY_BYTES) {
        rc = PSR_ERR(PSR_ERR_FORMAT,
                     "%s: truncated or corrupt: %" PRIu64 " bytes, but its trailer places %u index "
                     "entries at offset %" PRIu64,
                     path, size, h->n_segments, index_offset);
        goto fail;
    }

    /* F3: index */
    size_t ib = (size_t)h->n_segments * CKPT_INDEX_ENTRY_BYTES;
    unsigned char *idx = psr_xmalloc(ib ? ib : 1);
    rc = r_pread(r, idx, ib, index_offset, "the index");
    if (rc == PSR_OK && crc_update(0, idx, ib) != index_crc)
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: corrupt: index CRC mismatch", path);
    if (rc == PSR_OK) {
        r->seg = psr_xmalloc((h->n_segments ? h->n_segments : 1) * sizeof *r->seg);
        for (uint32_t i = 0; i < h->n_segments; i++) {
            const unsigned char *e = idx + (size_t)i * CKPT_INDEX_ENTRY_BYTES;
            r->seg[i].offset = psr_get_u64(e);
            r->seg[i].comp_bytes = psr_get_u64(e + 8);
            r->seg[i].raw_bytes = psr_get_u64(e + 16);
            r->seg[i].records = psr_get_u64(e + 24);
            r->seg[i].id = psr_get_u32(e + 32);
            r->seg[i].crc32 = psr_get_u32(e + 36);
        }
    }
    free(idx);
    if (rc != PSR_OK) goto fail;
    /* the last segment must end where the index starts */
    if (h->n_segments > 0 &&
        r->seg[h->n_segments - 1].offset + r->seg[h->n_segments - 1].comp_bytes != index_offset) {
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: corrupt index: the last segment does not end at the index",
                     path);
        goto fail;
    }
    if (h->n_segments == 0 && index_offset != CKPT_HEADER_BYTES) {
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: corrupt index: no segments but data before the index",
                     path);
        goto fail;
    }
    if ((rc = r_check_structure(r)) != PSR_OK) goto fail;

    if (inflateInit(&r->z) != Z_OK) {
        rc = PSR_ERR(PSR_ERR_NOMEM, "%s: cannot set up zlib", path);
        goto fail;
    }
    r->z_ready = 1;
    r->in = psr_xmalloc(CKPT_IN_BYTES);
    if (h->kind == CKPT_KIND_ROWS) {
        size_t per = CKPT_ROWBUF_BYTES / r->rec_bytes;
        r->buf_cap = (per ? per : 1) * r->rec_bytes;
        r->buf = psr_xmalloc(r->buf_cap);
    }
    r->next = 0;
    r->end = h->n_segments;
    r->full = 1;
    *rp = r;
    return PSR_OK;
fail:
    ckpt_reader_close(r);
    return rc;
}

const ckpt_header_t *ckpt_reader_header(const ckpt_reader_t *r) { return &r->h; }
const ckpt_segment_t *ckpt_reader_segments(const ckpt_reader_t *r) { return r->seg; }

int64_t ckpt_reader_find(const ckpt_reader_t *r, uint32_t id)
{
    int64_t lo = 0, hi = (int64_t)r->h.n_segments - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (r->seg[mid].id == id) return mid;
        if (r->seg[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int ckpt_reader_select(ckpt_reader_t *r, uint32_t id)
{
    if (r->err) return r->err;
    int64_t i = ckpt_reader_find(r, id);
    if (i < 0)
        return PSR_ERR(PSR_ERR_FORMAT, "%s: holds no %s %u", r->path,
                       r->h.kind == CKPT_KIND_ROWS ? "bucket" : "segment", id);
    r->next = i;
    r->end = i + 1;
    r->full = 0;
    r->done = 0;
    r->cur = -1;
    r->buf_len = r->buf_pos = 0;
    return PSR_OK;
}

static void r_seg_begin(ckpt_reader_t *r, int64_t i)
{
    r->cur = i;
    r->comp_left = r->seg[i].comp_bytes;
    r->comp_pos = r->seg[i].offset;
    r->raw_left = r->seg[i].raw_bytes;
    r->rec_left = r->seg[i].records;
    r->crc = 0;
    r->z_end = 0;
    inflateReset(&r->z);
    r->z.avail_in = 0;
}

static int r_refill(ckpt_reader_t *r)
{
    size_t k = r->comp_left < CKPT_IN_BYTES ? (size_t)r->comp_left : CKPT_IN_BYTES;
    PSR_FORWARD(r_pread(r, r->in, k, r->comp_pos, "compressed data"));
    r->comp_pos += k;
    r->comp_left -= k;
    r->z.next_in = r->in;
    r->z.avail_in = (uInt)k;
    return PSR_OK;
}

static int r_zerror(ckpt_reader_t *r, int zrc)
{
    char lab[48];
    seg_label(r, r->cur, lab, sizeof lab);
    if (zrc == Z_MEM_ERROR) return PSR_ERR(PSR_ERR_NOMEM, "%s: out of memory inflating", r->path);
    return PSR_ERR(PSR_ERR_FORMAT, "%s: corrupt compressed data in %s (zlib: %s)", r->path, lab,
                   r->z.msg ? r->z.msg : "invalid stream");
}

/* Exactly n raw bytes of the open segment into dst. */
static int r_inflate(ckpt_reader_t *r, void *dst, size_t n)
{
    char lab[48];
    if (n > r->raw_left) {
        seg_label(r, r->cur, lab, sizeof lab);
        return PSR_ERR(PSR_ERR_INTERNAL, "%s: read past the end of %s", r->path, lab);
    }
    unsigned char *p = dst;
    size_t left = n;
    while (left > 0) {
        size_t k = left < CKPT_ZCHUNK ? left : CKPT_ZCHUNK;
        r->z.next_out = p;
        r->z.avail_out = (uInt)k;
        while (r->z.avail_out > 0) {
            if (r->z_end) {
                seg_label(r, r->cur, lab, sizeof lab);
                return PSR_ERR(PSR_ERR_FORMAT,
                               "%s: corrupt: %s holds fewer raw bytes than its index says (%" PRIu64
                               ")",
                               r->path, lab, r->seg[r->cur].raw_bytes);
            }
            if (r->z.avail_in == 0) {
                if (r->comp_left == 0) {
                    seg_label(r, r->cur, lab, sizeof lab);
                    return PSR_ERR(PSR_ERR_FORMAT,
                                   "%s: corrupt: the compressed data of %s ends early", r->path,
                                   lab);
                }
                PSR_FORWARD(r_refill(r));
            }
            int zrc = inflate(&r->z, Z_NO_FLUSH);
            if (zrc == Z_STREAM_END)
                r->z_end = 1;
            else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
                return r_zerror(r, zrc);
        }
        p += k;
        left -= k;
    }
    r->crc = crc_update(r->crc, dst, n);
    r->raw_left -= n;
    return PSR_OK;
}

/* After the last raw byte: the stream must end here, consume exactly the segment's
 * compressed bytes, and match the index CRC. */
static int r_seg_finish(ckpt_reader_t *r)
{
    char lab[48];
    seg_label(r, r->cur, lab, sizeof lab);
    const ckpt_segment_t *s = &r->seg[r->cur];
    while (!r->z_end) {
        unsigned char extra;
        if (r->z.avail_in == 0) {
            if (r->comp_left == 0)
                return PSR_ERR(PSR_ERR_FORMAT, "%s: corrupt: the compressed data of %s ends early",
                               r->path, lab);
            PSR_FORWARD(r_refill(r));
        }
        r->z.next_out = &extra;
        r->z.avail_out = 1;
        int zrc = inflate(&r->z, Z_NO_FLUSH);
        if (zrc == Z_STREAM_END)
            r->z_end = 1;
        else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return r_zerror(r, zrc);
        if (r->z.avail_out == 0)
            return PSR_ERR(PSR_ERR_FORMAT,
                           "%s: corrupt: %s holds more raw bytes than its index says (%" PRIu64 ")",
                           r->path, lab, s->raw_bytes);
    }
    if (r->z.avail_in != 0 || r->comp_left != 0)
        return PSR_ERR(PSR_ERR_FORMAT, "%s: corrupt: bytes after the end of the compressed %s",
                       r->path, lab);
    if (r->crc != s->crc32)
        return PSR_ERR(PSR_ERR_FORMAT,
                       "%s: corrupt: CRC mismatch in %s (index 0x%08x, data 0x%08x)", r->path, lab,
                       s->crc32, r->crc);
    if (r->full) r->payload_crc = crc_combine(r->payload_crc, r->crc, s->raw_bytes);
    r->cur = -1;
    return PSR_OK;
}

/* Open the next segment of the selection; *eof when none is left (checking the payload
 * CRC after a full pass). */
static int r_next_segment(ckpt_reader_t *r, int *eof)
{
    if (r->cur >= 0) PSR_FORWARD(r_seg_finish(r));
    if (r->next >= r->end) {
        if (r->full && !r->done && r->payload_crc != r->payload_crc_stored)
            return PSR_ERR(PSR_ERR_FORMAT,
                           "%s: corrupt: payload CRC mismatch (trailer 0x%08x, data 0x%08x)",
                           r->path, r->payload_crc_stored, r->payload_crc);
        r->done = 1;
        *eof = 1;
        return PSR_OK;
    }
    r_seg_begin(r, r->next++);
    *eof = 0;
    return PSR_OK;
}

int ckpt_rows_next(ckpt_reader_t *r, ckpt_row_t *row, int *eof)
{
    *eof = 0;
    if (r->err) return r->err;
    if (r->h.kind != CKPT_KIND_ROWS)
        return r_fail(r, PSR_ERR(PSR_ERR_INTERNAL, "%s: not a rows file", r->path));
    for (;;) {
        if (r->buf_pos < r->buf_len) {
            const unsigned char *p = r->buf + r->buf_pos;
            size_t nf = 4 * (size_t)r->h.n_floats;
            uint32_t bucket = r->seg[r->cur].id;
            row->key = psr_get_u64(p);
            row->floats = (const float *)(const void *)(p + 8);
            row->step = (int64_t)psr_get_u64(p + 8 + nf);
            row->last = (int64_t)psr_get_u64(p + 16 + nf);
            row->bucket = bucket;
            r->buf_pos += r->rec_bytes;
            if (psr_key_bucket(row->key, r->h.n_buckets) != bucket)
                return r_fail(r, PSR_ERR(PSR_ERR_FORMAT,
                                         "%s: corrupt: key 0x%016" PRIx64
                                         " in bucket %u belongs to bucket %u",
                                         r->path, row->key, bucket,
                                         psr_key_bucket(row->key, r->h.n_buckets)));
            return PSR_OK;
        }
        if (r->done) {
            *eof = 1;
            return PSR_OK;
        }
        if (r->cur >= 0 && r->rec_left > 0) {
            uint64_t n = r->buf_cap / r->rec_bytes;
            if (n > r->rec_left) n = r->rec_left;
            int rc = r_inflate(r, r->buf, (size_t)n * r->rec_bytes);
            if (rc != PSR_OK) return r_fail(r, rc);
            r->rec_left -= n;
            r->buf_len = (size_t)n * r->rec_bytes;
            r->buf_pos = 0;
            continue;
        }
        int rc = r_next_segment(r, eof);
        if (rc != PSR_OK) return r_fail(r, rc);
        if (*eof) return PSR_OK;
    }
}

int ckpt_dense_next(ckpt_reader_t *r, ckpt_dense_block_t *b, int *eof)
{
    *eof = 0;
    if (r->err) return r->err;
    if (r->h.kind != CKPT_KIND_DENSE)
        return r_fail(r, PSR_ERR(PSR_ERR_INTERNAL, "%s: not a dense file", r->path));
    if (r->done) {
        *eof = 1;
        return PSR_OK;
    }
    int rc = r_next_segment(r, eof);
    if (rc != PSR_OK || *eof) return rc == PSR_OK ? rc : r_fail(r, rc);
    const ckpt_segment_t *s = &r->seg[r->cur];
    size_t n = (size_t)((s->raw_bytes - 8) / 4);
    if (!r->buf || n * 4 > r->buf_cap) {
        free(r->buf);
        r->buf_cap = n * 4 > 4 ? n * 4 : 4;
        r->buf = psr_xmalloc(r->buf_cap);
    }
    unsigned char st[8];
    rc = r_inflate(r, st, 8);
    if (rc == PSR_OK) rc = r_inflate(r, r->buf, n * 4);
    if (rc == PSR_OK) rc = r_seg_finish(r); /* verified before the caller sees it */
    if (rc != PSR_OK) return r_fail(r, rc);
    b->id = s->id;
    b->n = n;
    b->step = (int64_t)psr_get_u64(st);
    b->floats = (const float *)(const void *)r->buf;
    return PSR_OK;
}

int ckpt_read_state(const char *path, int kind, void **bytes, size_t *n)
{
    *bytes = NULL;
    *n = 0;
    PSR_RETURN_IF(kind != CKPT_KIND_WORKER && kind != CKPT_KIND_GLOBAL, PSR_ERR_USAGE,
                  "ckpt_read_state: kind %s is not a state kind", ckpt_kind_name(kind));
    ckpt_reader_t *r;
    PSR_FORWARD(ckpt_reader_open(&r, path, kind));
    size_t len = (size_t)r->seg[0].raw_bytes;
    unsigned char *p = psr_xmalloc(len ? len : 1);
    int eof;
    int rc = r_next_segment(r, &eof);
    if (rc == PSR_OK) rc = r_inflate(r, p, len);
    if (rc == PSR_OK) rc = r_next_segment(r, &eof); /* finishes, checks CRCs */
    ckpt_reader_close(r);
    if (rc != PSR_OK) {
        free(p);
        return rc;
    }
    *bytes = p;
    *n = len;
    return PSR_OK;
}

/* ---- manifest -------------------------------------------------------------------------- */

/* The one table of a manifest without `tables` (M3). */
static void implied_table(ckpt_table_t *t, int width)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "emb");
    t->width = width;
    t->n_floats = 3 * width;
    snprintf(t->optim, sizeof t->optim, "%s", psr_optim_name(PSR_OPTIM_ADAM));
}

void ckpt_manifest_init(ckpt_manifest_t *m, int64_t step, uint64_t model_fp, uint64_t schema_fp,
                        int n_servers, int n_workers, uint32_t n_buckets, int width)
{
    memset(m, 0, sizeof *m);
    m->version = CKPT_FORMAT_VERSION;
    m->step = step;
    m->model_fp = model_fp;
    m->schema_fp = schema_fp;
    m->n_servers = n_servers;
    m->n_workers = n_workers;
    m->n_buckets = n_buckets;
    m->width = width;
    m->n_tables = 1;
    implied_table(&m->tables[0], width);
}

void ckpt_manifest_set_tables(ckpt_manifest_t *m, int n, const ckpt_table_t *t)
{
    memset(m->tables, 0, sizeof m->tables);
    m->n_tables = n; /* out of range: rejected by manifest_validate, nothing beyond is read */
    for (int i = 0; i < n && i < CKPT_MAX_TABLES; i++) m->tables[i] = t[i];
    if (n >= 1) m->width = t[0].width;
    m->tables_implied = 0;
}

void ckpt_manifest_free(ckpt_manifest_t *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_extra; i++) {
        free(m->extra[i].key);
        free(m->extra[i].value);
    }
    free(m->extra);
    free(m->files);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

void ckpt_manifest_add_file(ckpt_manifest_t *m, const ckpt_file_info_t *f)
{
    m->files = psr_xrealloc(m->files, (size_t)(m->n_files + 1) * sizeof *m->files);
    m->files[m->n_files++] = *f;
}

static int extra_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 64) return 0;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

int ckpt_manifest_set(ckpt_manifest_t *m, const char *key, const char *value)
{
    PSR_RETURN_IF(!key || !extra_key_ok(key), PSR_ERR_USAGE,
                  "checkpoint manifest key '%s': allowed 1 to 64 of [A-Za-z0-9_.-]",
                  key ? key : "(null)");
    PSR_RETURN_IF(!value || strlen(value) > 4096, PSR_ERR_USAGE,
                  "checkpoint manifest value of '%s': allowed a string of at most 4096 bytes", key);
    for (int i = 0; i < m->n_extra; i++)
        if (!strcmp(m->extra[i].key, key)) {
            free(m->extra[i].value);
            m->extra[i].value = psr_xstrdup(value);
            return PSR_OK;
        }
    m->extra = psr_xrealloc(m->extra, (size_t)(m->n_extra + 1) * sizeof *m->extra);
    m->extra[m->n_extra].key = psr_xstrdup(key);
    m->extra[m->n_extra].value = psr_xstrdup(value);
    m->n_extra++;
    return PSR_OK;
}

const char *ckpt_manifest_get(const ckpt_manifest_t *m, const char *key)
{
    for (int i = 0; i < m->n_extra; i++)
        if (!strcmp(m->extra[i].key, key)) return m->extra[i].value;
    return NULL;
}

int ckpt_manifest_find_file(const ckpt_manifest_t *m, int kind, int rank)
{
    for (int i = 0; i < m->n_files; i++)
        if (m->files[i].kind == kind && m->files[i].rank == rank && m->files[i].table == 0)
            return i;
    return -1;
}

int ckpt_manifest_find_rows(const ckpt_manifest_t *m, int table, int server)
{
    for (int i = 0; i < m->n_files; i++)
        if (m->files[i].kind == CKPT_KIND_ROWS && m->files[i].rank == server &&
            m->files[i].table == table)
            return i;
    return -1;
}

/* One table entry (M3); `where` prefixes messages (a path, with the line when parsing). */
static int table_validate(const ckpt_table_t *t, int i, const char *where)
{
    size_t len = strnlen(t->name, sizeof t->name);
    int ok = len >= 1 && len < sizeof t->name;
    for (size_t j = 0; ok && j < len; j++) {
        char c = t->name[j];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }
    PSR_RETURN_IF(!ok, PSR_ERR_FORMAT,
                  "%s: key 'tables[%d].name': found '%.*s', allowed 1 to %zu of [A-Za-z0-9_]",
                  where, i, (int)len, t->name, sizeof t->name - 1);
    PSR_RETURN_IF(t->width < 1 || t->width > CKPT_MAX_WIDTH, PSR_ERR_FORMAT,
                  "%s: key 'tables[%d].width' (table '%s'): found %d, allowed an integer in [1, %d]",
                  where, i, t->name, t->width, CKPT_MAX_WIDTH);
    PSR_RETURN_IF(t->n_floats < t->width || t->n_floats > CKPT_MAX_FLOATS, PSR_ERR_FORMAT,
                  "%s: key 'tables[%d].floats' (table '%s'): found %d, allowed the table's width "
                  "%d to %d (a row holds its weights, then its optimizer state)",
                  where, i, t->name, t->n_floats, t->width, CKPT_MAX_FLOATS);
    size_t olen = strnlen(t->optim, sizeof t->optim);
    int kind = olen < sizeof t->optim ? psr_optim_parse(t->optim) : -1;
    PSR_RETURN_IF(kind < 0, PSR_ERR_FORMAT,
                  "%s: key 'tables[%d].optimizer' (table '%s'): found '%.*s', allowed adam, "
                  "adagrad, rowwise_adagrad",
                  where, i, t->name, (int)olen, t->optim);
    int want = t->width + psr_optim_state_floats(kind, t->width);
    PSR_RETURN_IF(t->n_floats != want, PSR_ERR_FORMAT,
                  "%s: key 'tables[%d].floats' (table '%s'): found %d, but a row of width %d with "
                  "optimizer %s holds %d",
                  where, i, t->name, t->n_floats, t->width, t->optim, want);
    return PSR_OK;
}

/* M2 and value ranges; `where` prefixes messages. */
static int manifest_validate(const ckpt_manifest_t *m, const char *where)
{
    PSR_RETURN_IF(m->step < 0, PSR_ERR_FORMAT, "%s: step %" PRId64 " is negative", where, m->step);
    PSR_RETURN_IF(m->n_servers < 1 || m->n_workers < 1 || m->n_buckets < 1 || m->width < 1 ||
                      m->width > CKPT_MAX_WIDTH,
                  PSR_ERR_FORMAT,
                  "%s: servers %d, workers %d, buckets %u, width %d: each must be >= 1 (width <= "
                  "%d)",
                  where, m->n_servers, m->n_workers, m->n_buckets, m->width, CKPT_MAX_WIDTH);
    /* M3 */
    const int T = m->n_tables;
    PSR_RETURN_IF(T < 1 || T > CKPT_MAX_TABLES, PSR_ERR_FORMAT,
                  "%s: key 'tables': %d tables, allowed 1 to %d", where, T, CKPT_MAX_TABLES);
    for (int t = 0; t < T; t++) {
        PSR_FORWARD(table_validate(&m->tables[t], t, where));
        for (int u = 0; u < t; u++)
            PSR_RETURN_IF(!strcmp(m->tables[u].name, m->tables[t].name), PSR_ERR_FORMAT,
                          "%s: key 'tables[%d].name': '%s' is also the name of table %d", where,
                          t, m->tables[t].name, u);
    }
    PSR_RETURN_IF(m->tables[0].width != m->width, PSR_ERR_FORMAT,
                  "%s: key 'width' is %d, but table 0 ('%s') has width %d (they must agree)",
                  where, m->width, m->tables[0].name, m->tables[0].width);
    /* M2: n_files distinct, valid (kind, rank, table) triples, as many as required */
    const int64_t want = (int64_t)m->n_servers * T + m->n_workers + 2;
    PSR_RETURN_IF(m->n_files != want, PSR_ERR_FORMAT,
                  "%s: lists %d files; %d servers and %d workers need %" PRId64
                  " (a rows file per server and table, %d table%s; worker-W.state; dense.params; "
                  "global.state)",
                  where, m->n_files, m->n_servers, m->n_workers, want, T, T == 1 ? "" : "s");
    char *seen = psr_xcalloc((size_t)want, 1);
    int rc = PSR_OK;
    for (int i = 0; i < m->n_files && rc == PSR_OK; i++) {
        const ckpt_file_info_t *f = &m->files[i];
        int rows = f->kind == CKPT_KIND_ROWS;
        int limit = rows                          ? m->n_servers
                    : f->kind == CKPT_KIND_WORKER ? m->n_workers
                                                  : 1;
        if (f->kind <= CKPT_KIND_NONE || f->kind >= CKPT_KIND_COUNT || f->rank < 0 ||
            f->rank >= limit || f->table < 0 || f->table >= (rows ? T : 1)) {
            rc = PSR_ERR(PSR_ERR_FORMAT,
                         "%s: file '%.*s' has kind %s, rank %d and table %d, out of range "
                         "(%d servers, %d workers, %d table%s; only rows files have a table)",
                         where, CKPT_NAME_MAX, f->name, ckpt_kind_name(f->kind), f->rank,
                         f->table, m->n_servers, m->n_workers, T, T == 1 ? "" : "s");
            break;
        }
        char name[CKPT_NAME_MAX];
        info_name(f, name);
        if (strncmp(name, f->name, CKPT_NAME_MAX) != 0) {
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: file '%.*s' should be named '%s' (kind %s, rank %d, "
                         "table %d)", where, CKPT_NAME_MAX, f->name, name,
                         ckpt_kind_name(f->kind), f->rank, f->table);
            break;
        }
        int64_t slot = rows                          ? (int64_t)f->rank * T + f->table
                       : f->kind == CKPT_KIND_WORKER ? (int64_t)m->n_servers * T + f->rank
                       : f->kind == CKPT_KIND_DENSE  ? want - 2
                                                     : want - 1;
        if (seen[slot]++)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: file '%s' is listed twice", where, name);
    }
    free(seen);
    return rc;
}

typedef struct {
    char *p;
    size_t n, cap;
} sbuf_t;

static int sbuf_write(void *data, unsigned char *buffer, size_t size)
{
    sbuf_t *b = data;
    if (b->n + size + 1 > b->cap) {
        b->cap = 2 * (b->n + size + 1);
        b->p = psr_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, buffer, size);
    b->n += size;
    b->p[b->n] = '\0';
    return 1;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, int quoted)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)s, (int)strlen(s),
                                      1, 1,
                                      quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                             : YAML_PLAIN_SCALAR_STYLE))
        return 0;
    return yaml_emitter_emit(e, &ev);
}

static int emit_kv(yaml_emitter_t *e, const char *k, const char *v)
{
    return emit_scalar(e, k, 0) && emit_scalar(e, v, 0);
}

static int emit_event(yaml_emitter_t *e, int type)
{
    yaml_event_t ev;
    int ok = 0;
    switch (type) {
    case 0: ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING); break;
    case 1: ok = yaml_stream_end_event_initialize(&ev); break;
    case 2: ok = yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1); break;
    case 3: ok = yaml_document_end_event_initialize(&ev, 1); break;
    case 4: ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE); break;
    case 5: ok = yaml_mapping_end_event_initialize(&ev); break;
    case 6: ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE); break;
    case 7: ok = yaml_sequence_end_event_initialize(&ev); break;
    }
    return ok && yaml_emitter_emit(e, &ev);
}
enum { EV_STREAM_START, EV_STREAM_END, EV_DOC_START, EV_DOC_END, EV_MAP_START, EV_MAP_END,
       EV_SEQ_START, EV_SEQ_END };

/* The manifest text (M1), malloc'd into *text. */
static int manifest_emit(const ckpt_manifest_t *m, char **text, size_t *len)
{
    sbuf_t b = {0};
    const char *head = "# psrec checkpoint manifest (docs/CHECKPOINTS.md). Written last: "
                       "its presence commits the checkpoint.\n";
    sbuf_write(&b, (unsigned char *)(uintptr_t)head, strlen(head));
    yaml_emitter_t e;
    if (!yaml_emitter_initialize(&e)) return PSR_ERR(PSR_ERR_NOMEM, "cannot set up libyaml");
    yaml_emitter_set_output(&e, sbuf_write, &b);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    char v[64];
    int ok = emit_event(&e, EV_STREAM_START) && emit_event(&e, EV_DOC_START) &&
             emit_event(&e, EV_MAP_START);
#define KV_FMT(k, ...) (snprintf(v, sizeof v, __VA_ARGS__), emit_kv(&e, (k), v))
    ok = ok && KV_FMT("format", "%d", CKPT_FORMAT_VERSION) && KV_FMT("step", "%" PRId64, m->step) &&
         KV_FMT("model_fingerprint", "0x%016" PRIx64, m->model_fp) &&
         KV_FMT("schema_fingerprint", "0x%016" PRIx64, m->schema_fp) &&
         KV_FMT("servers", "%d", m->n_servers) && KV_FMT("workers", "%d", m->n_workers) &&
         KV_FMT("buckets", "%u", m->n_buckets) && KV_FMT("width", "%d", m->width);
    ok = ok && emit_scalar(&e, "tables", 0) && emit_event(&e, EV_SEQ_START);
    for (int t = 0; ok && t < m->n_tables; t++) {
        const ckpt_table_t *tb = &m->tables[t];
        ok = emit_event(&e, EV_MAP_START) && emit_kv(&e, "name", tb->name) &&
             KV_FMT("width", "%d", tb->width) && KV_FMT("floats", "%d", tb->n_floats) &&
             emit_kv(&e, "optimizer", tb->optim) && emit_event(&e, EV_MAP_END);
    }
    ok = ok && emit_event(&e, EV_SEQ_END);
    if (ok && m->has_digest) ok = KV_FMT("digest", "0x%016" PRIx64, m->digest);
    ok = ok && emit_scalar(&e, "files", 0) && emit_event(&e, EV_SEQ_START);
    for (int i = 0; ok && i < m->n_files; i++) {
        const ckpt_file_info_t *f = &m->files[i];
        char name[CKPT_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", CKPT_NAME_MAX, f->name);
        ok = emit_event(&e, EV_MAP_START) && emit_kv(&e, "name", name) &&
             emit_kv(&e, "kind", ckpt_kind_name(f->kind)) && KV_FMT("rank", "%d", f->rank) &&
             (f->kind != CKPT_KIND_ROWS || KV_FMT("table", "%d", f->table)) &&
             KV_FMT("records", "%" PRIu64, f->records) && KV_FMT("bytes", "%" PRIu64, f->bytes) &&
             KV_FMT("raw_bytes", "%" PRIu64, f->raw_bytes) &&
             KV_FMT("crc32", "0x%08" PRIx32, f->crc32) && emit_event(&e, EV_MAP_END);
    }
    ok = ok && emit_event(&e, EV_SEQ_END);
#undef KV_FMT
    if (ok && m->n_extra > 0) {
        ok = emit_scalar(&e, "extra", 0) && emit_event(&e, EV_MAP_START);
        for (int i = 0; ok && i < m->n_extra; i++)
            ok = emit_scalar(&e, m->extra[i].key, 1) && emit_scalar(&e, m->extra[i].value, 1);
        ok = ok && emit_event(&e, EV_MAP_END);
    }
    ok = ok && emit_event(&e, EV_MAP_END) && emit_event(&e, EV_DOC_END) &&
         emit_event(&e, EV_STREAM_END) && yaml_emitter_flush(&e);
    int rc = PSR_OK;
    if (!ok)
        rc = PSR_ERR(PSR_ERR_INTERNAL, "cannot write the checkpoint manifest: libyaml: %s",
                     e.problem ? e.problem : "emitter error");
    yaml_emitter_delete(&e);
    if (rc != PSR_OK) {
        free(b.p);
        return rc;
    }
    *text = b.p;
    *len = b.n;
    return PSR_OK;
}

/* --- parsing --- */

typedef struct {
    const char *path;
    yaml_document_t *doc;
} mp_t;

static size_t mline(const yaml_node_t *n) { return n ? n->start_mark.line + 1 : 0; }

static int mp_scalar(const mp_t *p, const yaml_node_t *n, const char *key, const char **s)
{
    PSR_RETURN_IF(!n || n->type != YAML_SCALAR_NODE, PSR_ERR_FORMAT,
                  "%s:%zu: key '%s': expected a scalar value", p->path, mline(n), key);
    *s = (const char *)n->data.scalar.value;
    return PSR_OK;
}

static int mp_int(const mp_t *p, const yaml_node_t *n, const char *key, int64_t min, int64_t max,
                  int64_t *out)
{
    const char *s = "";
    PSR_FORWARD(mp_scalar(p, n, key, &s));
    const char *q = s;
    if (*q == '-') q++;
    int ok = *q != '\0';
    for (; *q; q++)
        if (*q < '0' || *q > '9') ok = 0;
    errno = 0;
    long long v = ok ? strtoll(s, NULL, 10) : 0;
    PSR_RETURN_IF(!ok || errno == ERANGE || v < min || v > max, PSR_ERR_FORMAT,
                  "%s:%zu: key '%s': found '%.40s', allowed an integer in [%" PRId64 ", %" PRId64
                  "]",
                  p->path, mline(n), key, s, min, max);
    *out = v;
    return PSR_OK;
}

static int mp_hex(const mp_t *p, const yaml_node_t *n, const char *key, uint64_t max,
                  uint64_t *out)
{
    const char *s = "";
    PSR_FORWARD(mp_scalar(p, n, key, &s));
    int ok = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s[2] != '\0' && strlen(s) <= 18;
    for (const char *q = s + 2; ok && *q; q++)
        if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F')))
            ok = 0;
    uint64_t v = ok ? strtoull(s + 2, NULL, 16) : 0;
    PSR_RETURN_IF(!ok || v > max, PSR_ERR_FORMAT,
                  "%s:%zu: key '%s': found '%.40s', allowed a hexadecimal 0x... of at most 0x%" PRIx64,
                  p->path, mline(n), key, s, max);
    *out = v;
    return PSR_OK;
}

static int mp_file(const mp_t *p, const yaml_node_t *n, ckpt_file_info_t *f)
{
    PSR_RETURN_IF(n->type != YAML_MAPPING_NODE, PSR_ERR_FORMAT,
                  "%s:%zu: each entry of 'files' must be a mapping", p->path, mline(n));
    static const char *const keys[] = {"name",  "kind",      "rank",  "records",
                                       "bytes", "raw_bytes", "crc32", "table"};
    enum { NK = sizeof keys / sizeof keys[0], OPT_TABLE = 7 };
    int seen[NK] = {0};
    memset(f, 0, sizeof *f);
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        const char *ks = "";
        PSR_FORWARD(mp_scalar(p, k, "files", &ks));
        int which = -1;
        for (int i = 0; i < NK; i++)
            if (!strcmp(ks, keys[i])) which = i;
        PSR_RETURN_IF(which < 0, PSR_ERR_FORMAT,
                      "%s:%zu: unknown key '%.40s' in a file entry (allowed: name, kind, rank, "
                      "table, records, bytes, raw_bytes, crc32)",
                      p->path, mline(k), ks);
        PSR_RETURN_IF(seen[which], PSR_ERR_FORMAT, "%s:%zu: key '%s' given twice", p->path,
                      mline(k), ks);
        seen[which] = 1;
        const char *s = "";
        int64_t iv = 0;
        uint64_t uv = 0;
        switch (which) {
        case 0:
            PSR_FORWARD(mp_scalar(p, v, ks, &s));
            PSR_RETURN_IF(strlen(s) >= CKPT_NAME_MAX, PSR_ERR_FORMAT,
                          "%s:%zu: file name '%.60s' is too long", p->path, mline(v), s);
            strcpy(f->name, s);
            break;
        case 1:
            PSR_FORWARD(mp_scalar(p, v, ks, &s));
            f->kind = CKPT_KIND_NONE;
            for (int kk = 1; kk < CKPT_KIND_COUNT; kk++)
                if (!strcmp(s, kind_names[kk])) f->kind = kk;
            PSR_RETURN_IF(f->kind == CKPT_KIND_NONE, PSR_ERR_FORMAT,
                          "%s:%zu: kind '%.40s': allowed rows, dense, worker, global", p->path,
                          mline(v), s);
            break;
        case 2:
            PSR_FORWARD(mp_int(p, v, ks, 0, INT32_MAX, &iv));
            f->rank = (int32_t)iv;
            break;
        case 3:
        case 4:
        case 5:
            PSR_FORWARD(mp_int(p, v, ks, 0, INT64_MAX, &iv));
            if (which == 3) f->records = (uint64_t)iv;
            if (which == 4) f->bytes = (uint64_t)iv;
            if (which == 5) f->raw_bytes = (uint64_t)iv;
            break;
        case 6:
            PSR_FORWARD(mp_hex(p, v, ks, UINT32_MAX, &uv));
            f->crc32 = (uint32_t)uv;
            break;
        case 7:
            PSR_FORWARD(mp_int(p, v, ks, 0, CKPT_MAX_TABLES - 1, &iv));
            f->table = (int32_t)iv;
            break;
        }
    }
    for (int i = 0; i < NK; i++)
        PSR_RETURN_IF(!seen[i] && i != OPT_TABLE, PSR_ERR_FORMAT,
                      "%s:%zu: file entry without '%s'", p->path, mline(n), keys[i]);
    return PSR_OK;
}

/* Entry i of `tables` (M3): every key required, values checked here so that the message
 * names the line and the key. */
static int mp_table(const mp_t *p, const yaml_node_t *n, int i, ckpt_table_t *t)
{
    PSR_RETURN_IF(!n || n->type != YAML_MAPPING_NODE, PSR_ERR_FORMAT,
                  "%s:%zu: key 'tables[%d]': each entry of 'tables' must be a mapping", p->path,
                  mline(n), i);
    static const char *const keys[] = {"name", "width", "floats", "optimizer"};
    enum { NK = sizeof keys / sizeof keys[0] };
    int seen[NK] = {0};
    memset(t, 0, sizeof *t);
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        const char *ks = "";
        PSR_FORWARD(mp_scalar(p, k, "tables", &ks));
        int which = -1;
        for (int j = 0; j < NK; j++)
            if (!strcmp(ks, keys[j])) which = j;
        PSR_RETURN_IF(which < 0, PSR_ERR_FORMAT,
                      "%s:%zu: unknown key '%.40s' in entry %d of 'tables' (allowed: name, width, "
                      "floats, optimizer)",
                      p->path, mline(k), ks, i);
        PSR_RETURN_IF(seen[which], PSR_ERR_FORMAT, "%s:%zu: key 'tables[%d].%s' given twice",
                      p->path, mline(k), i, ks);
        seen[which] = 1;
        char key[48];
        snprintf(key, sizeof key, "tables[%d].%s", i, ks);
        const char *s = "";
        int64_t iv = 0;
        switch (which) {
        case 0:
        case 3:
            PSR_FORWARD(mp_scalar(p, v, key, &s));
            PSR_RETURN_IF(strlen(s) >= (which == 0 ? sizeof t->name : sizeof t->optim),
                          PSR_ERR_FORMAT, "%s:%zu: key '%s': found '%.40s', too long", p->path,
                          mline(v), key, s);
            if (which == 0) strcpy(t->name, s);
            if (which == 3) strcpy(t->optim, s);
            break;
        case 1:
            PSR_FORWARD(mp_int(p, v, key, 1, CKPT_MAX_WIDTH, &iv));
            t->width = (int32_t)iv;
            break;
        case 2:
            PSR_FORWARD(mp_int(p, v, key, 1, CKPT_MAX_FLOATS, &iv));
            t->n_floats = (int32_t)iv;
            break;
        }
    }
    for (int j = 0; j < NK; j++)
        PSR_RETURN_IF(!seen[j], PSR_ERR_FORMAT, "%s:%zu: key 'tables[%d]': no '%s'", p->path,
                      mline(n), i, keys[j]);
    char where[1100];
    snprintf(where, sizeof where, "%s:%zu", p->path, mline(n));
    return table_validate(t, i, where);
}

static int manifest_parse_root(const mp_t *p, ckpt_manifest_t *m)
{
    yaml_node_t *root = yaml_document_get_root_node(p->doc);
    PSR_RETURN_IF(!root || root->type != YAML_MAPPING_NODE, PSR_ERR_FORMAT,
                  "%s: not a checkpoint manifest (expected a YAML mapping)", p->path);
    /* M1: the format version first, so a future manifest is reported as such */
    yaml_node_t *fmt = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, "format"))
            fmt = yaml_document_get_node(p->doc, pr->value);
    }
    PSR_RETURN_IF(!fmt, PSR_ERR_FORMAT, "%s: no 'format' key: not a psrec checkpoint manifest",
                  p->path);
    int64_t iv;
    PSR_FORWARD(mp_int(p, fmt, "format", 0, INT32_MAX, &iv));
    PSR_RETURN_IF(iv != CKPT_FORMAT_VERSION, PSR_ERR_FORMAT,
                  "%s:%zu: unsupported checkpoint manifest format %" PRId64
                  " (this psrec reads format %d)",
                  p->path, mline(fmt), iv, CKPT_FORMAT_VERSION);
    m->version = (int)iv;

    static const char *const keys[] = {"format",  "step",    "model_fingerprint",
                                       "schema_fingerprint", "servers", "workers",
                                       "buckets", "width",   "digest",
                                       "files",   "extra",   "tables"};
    enum { NK = sizeof keys / sizeof keys[0], OPT_DIGEST = 8, OPT_EXTRA = 10, OPT_TABLES = 11 };
    int seen[NK] = {0};
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        const char *ks = "";
        PSR_FORWARD(mp_scalar(p, k, "(top level)", &ks));
        int which = -1;
        for (int i = 0; i < NK; i++)
            if (!strcmp(ks, keys[i])) which = i;
        PSR_RETURN_IF(which < 0, PSR_ERR_FORMAT,
                      "%s:%zu: unknown key '%.40s' (allowed: format, step, model_fingerprint, "
                      "schema_fingerprint, servers, workers, buckets, width, tables, digest, "
                      "files, extra)",
                      p->path, mline(k), ks);
        PSR_RETURN_IF(seen[which], PSR_ERR_FORMAT, "%s:%zu: key '%s' given twice", p->path,
                      mline(k), ks);
        seen[which] = 1;
        uint64_t uv;
        switch (which) {
        case 0: break;
        case 1: PSR_FORWARD(mp_int(p, v, ks, 0, INT64_MAX, &iv)); m->step = iv; break;
        case 2: PSR_FORWARD(mp_hex(p, v, ks, UINT64_MAX, &m->model_fp)); break;
        case 3: PSR_FORWARD(mp_hex(p, v, ks, UINT64_MAX, &m->schema_fp)); break;
        case 4: PSR_FORWARD(mp_int(p, v, ks, 1, INT32_MAX, &iv)); m->n_servers = (int)iv; break;
        case 5: PSR_FORWARD(mp_int(p, v, ks, 1, INT32_MAX, &iv)); m->n_workers = (int)iv; break;
        case 6: PSR_FORWARD(mp_int(p, v, ks, 1, UINT32_MAX, &iv)); m->n_buckets = (uint32_t)iv; break;
        case 7: PSR_FORWARD(mp_int(p, v, ks, 1, CKPT_MAX_WIDTH, &iv)); m->width = (int)iv; break;
        case 8:
            PSR_FORWARD(mp_hex(p, v, ks, UINT64_MAX, &uv));
            m->digest = uv;
            m->has_digest = 1;
            break;
        case 9:
            PSR_RETURN_IF(v->type != YAML_SEQUENCE_NODE, PSR_ERR_FORMAT,
                          "%s:%zu: 'files' must be a sequence", p->path, mline(v));
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                ckpt_file_info_t f;
                PSR_FORWARD(mp_file(p, yaml_document_get_node(p->doc, *it), &f));
                ckpt_manifest_add_file(m, &f);
            }
            break;
        case 10:
            PSR_RETURN_IF(v->type != YAML_MAPPING_NODE, PSR_ERR_FORMAT,
                          "%s:%zu: 'extra' must be a mapping", p->path, mline(v));
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *ek = yaml_document_get_node(p->doc, q->key);
                yaml_node_t *ev = yaml_document_get_node(p->doc, q->value);
                const char *eks = "", *evs = "";
                PSR_FORWARD(mp_scalar(p, ek, "extra", &eks));
                PSR_FORWARD(mp_scalar(p, ev, eks, &evs));
                PSR_RETURN_IF(ckpt_manifest_get(m, eks) != NULL, PSR_ERR_FORMAT,
                              "%s:%zu: extra key '%.64s' given twice", p->path, mline(ek), eks);
                if (ckpt_manifest_set(m, eks, evs) != PSR_OK) {
                    char pre[1100];
                    snprintf(pre, sizeof pre, "%s:%zu: ", p->path, mline(ek));
                    return err_wrap(PSR_ERR_FORMAT, pre);
                }
            }
            break;
        case 11: {
            PSR_RETURN_IF(v->type != YAML_SEQUENCE_NODE, PSR_ERR_FORMAT,
                          "%s:%zu: 'tables' must be a sequence", p->path, mline(v));
            int nt = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
            PSR_RETURN_IF(nt < 1 || nt > CKPT_MAX_TABLES, PSR_ERR_FORMAT,
                          "%s:%zu: key 'tables': %d entries, allowed 1 to %d", p->path, mline(v),
                          nt, CKPT_MAX_TABLES);
            for (int t = 0; t < nt; t++)
                PSR_FORWARD(mp_table(p, yaml_document_get_node(p->doc, v->data.sequence.items.start[t]),
                                     t, &m->tables[t]));
            m->n_tables = nt;
            break;
        }
        }
    }
    for (int i = 0; i < NK; i++)
        PSR_RETURN_IF(!seen[i] && i != OPT_DIGEST && i != OPT_EXTRA && i != OPT_TABLES,
                      PSR_ERR_FORMAT, "%s: required key '%s' is missing", p->path, keys[i]);
    if (!seen[OPT_TABLES]) { /* M3: written before tables existed */
        m->n_tables = 1;
        implied_table(&m->tables[0], m->width);
        m->tables_implied = 1;
    }
    return manifest_validate(m, p->path);
}

static int read_small_file(const char *path, char **text, size_t *len)
{
    int fd;
    PSR_FORWARD(open_regular(path, &fd));
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return PSR_ERR(PSR_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    sbuf_t b = {0};
    unsigned char chunk[8192];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        sbuf_write(&b, chunk, k);
        if (b.n > ((size_t)64 << 20)) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || b.n > ((size_t)64 << 20)) {
        free(b.p);
        return PSR_ERR(bad ? PSR_ERR_IO : PSR_ERR_FORMAT, "%s: %s", path,
                       bad ? "read error" : "larger than 64 MiB: not a manifest");
    }
    if (!b.p) b.p = psr_xstrdup("");
    *text = b.p;
    *len = b.n;
    return PSR_OK;
}

/* Size (and CRC) of one listed file against the manifest. */
static int check_file(const char *dir, const ckpt_file_info_t *f, int level)
{
    if (level < CKPT_CHECK_SIZE) return PSR_OK;
    char *path = ckpt_join(dir, f->name);
    struct stat st;
    int rc = PSR_OK;
    if (stat(path, &st) != 0) {
        rc = errno == ENOENT
                 ? PSR_ERR(PSR_ERR_FORMAT, "%s: missing (the manifest lists it)", path)
                 : PSR_ERR(PSR_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: not a regular file (%s); a checkpoint holds only "
                     "regular files", path, S_ISFIFO(st.st_mode) ? "a FIFO" : "a special file");
    } else if ((uint64_t)st.st_size != f->bytes) {
        rc = PSR_ERR(PSR_ERR_FORMAT,
                     "%s: size %" PRIu64 " bytes, the manifest lists %" PRIu64
                     " (truncated or replaced)",
                     path, (uint64_t)st.st_size, f->bytes);
    } else if (level >= CKPT_CHECK_CRC) {
        uint64_t size = 0;
        uint32_t crc = 0;
        rc = crc_file(path, &size, &crc);
        if (rc == PSR_OK && (size != f->bytes || crc != f->crc32))
            rc = PSR_ERR(PSR_ERR_FORMAT,
                         "%s: corrupt: CRC32 0x%08x, the manifest lists 0x%08x", path, crc,
                         f->crc32);
    }
    free(path);
    return rc;
}

static int not_a_checkpoint(const char *dir);

static int manifest_parse(const char *dir, ckpt_manifest_t *m)
{
    char *path = ckpt_join(dir, CKPT_MANIFEST);
    char *text = NULL;
    size_t len = 0;
    int rc = PSR_OK;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        if (!is_dir(dir))
            rc = PSR_ERR(PSR_ERR_IO, "%s: no such checkpoint directory", dir);
        else if ((rc = not_a_checkpoint(dir)) == PSR_OK)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: no %s: not a committed checkpoint", dir,
                         CKPT_MANIFEST);
        free(path);
        return rc;
    }
    rc = read_small_file(path, &text, &len);
    if (rc != PSR_OK) {
        free(path);
        return rc;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        free(path);
        return PSR_ERR(PSR_ERR_NOMEM, "cannot set up libyaml");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s:%zu: corrupt manifest: YAML error: %s", path,
                     parser.problem_mark.line + 1, parser.problem ? parser.problem : "syntax error");
    } else {
        mp_t p = {path, &doc};
        rc = manifest_parse_root(&p, m);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    free(text);
    free(path);
    return rc;
}

int ckpt_manifest_load(const char *dir, ckpt_manifest_t *m, int level)
{
    memset(m, 0, sizeof *m);
    m->dir = psr_xstrdup(dir);
    PSR_FORWARD(manifest_parse(dir, m));
    for (int i = 0; i < m->n_files; i++) PSR_FORWARD(check_file(dir, &m->files[i], level));
    return PSR_OK;
}

int ckpt_check_file(const ckpt_manifest_t *m, int i, int level)
{
    PSR_RETURN_IF(i < 0 || i >= m->n_files, PSR_ERR_USAGE, "ckpt_check_file: no file %d of %d",
                  i, m->n_files);
    return check_file(m->dir ? m->dir : ".", &m->files[i], level);
}

int ckpt_check_compat(const ckpt_manifest_t *m, uint64_t model_fp, uint64_t schema_fp, int width)
{
    const char *d = m->dir ? m->dir : "checkpoint";
    PSR_RETURN_IF(m->model_fp != model_fp, PSR_ERR_CONFIG,
                  "%s was written by a different model: model fingerprint 0x%016" PRIx64
                  " in the checkpoint, 0x%016" PRIx64
                  " in this config (model type, dimensions or layers differ)",
                  d, m->model_fp, model_fp);
    PSR_RETURN_IF(m->schema_fp != schema_fp, PSR_ERR_CONFIG,
                  "%s was written for different input data: schema fingerprint 0x%016" PRIx64
                  " in the checkpoint, 0x%016" PRIx64 " in this config (data format or fields differ)",
                  d, m->schema_fp, schema_fp);
    const int w0 = m->n_tables >= 1 ? m->tables[0].width : m->width;
    PSR_RETURN_IF(w0 != width, PSR_ERR_CONFIG,
                  "%s has rows of width %d, this config needs width %d (table 0, '%s')", d, w0,
                  width, m->n_tables >= 1 ? m->tables[0].name : "?");
    return PSR_OK;
}

/* "a, b, c" of the tables' names into buf. */
static void table_names(const ckpt_table_t *t, int n, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && i < CKPT_MAX_TABLES && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%.16s", i ? ", " : "", t[i].name);
}

int ckpt_check_tables(const ckpt_manifest_t *m, int n, const ckpt_table_t *t)
{
    const char *d = m->dir ? m->dir : "checkpoint";
    PSR_RETURN_IF(n < 1 || n > CKPT_MAX_TABLES, PSR_ERR_USAGE,
                  "ckpt_check_tables: %d tables, allowed 1 to %d", n, CKPT_MAX_TABLES);
    if (m->n_tables != n) {
        char a[200], b[200];
        table_names(m->tables, m->n_tables, a, sizeof a);
        table_names(t, n, b, sizeof b);
        return PSR_ERR(PSR_ERR_CONFIG,
                       "%s holds %d embedding table%s (%s), the model of this config has %d (%s)",
                       d, m->n_tables, m->n_tables == 1 ? "" : "s", a, n, b);
    }
    for (int i = 0; i < n; i++) {
        const ckpt_table_t *c = &m->tables[i], *j = &t[i];
        PSR_RETURN_IF(!m->tables_implied && strncmp(c->name, j->name, sizeof c->name) != 0,
                      PSR_ERR_CONFIG,
                      "%s: embedding table %d is named '%.16s' in the checkpoint, '%.16s' in this "
                      "config",
                      d, i, c->name, j->name);
        PSR_RETURN_IF(c->width != j->width, PSR_ERR_CONFIG,
                      "%s: embedding table %d ('%.16s') has width %d in the checkpoint, %d in this "
                      "config",
                      d, i, j->name, c->width, j->width);
        PSR_RETURN_IF(strncmp(c->optim, j->optim, sizeof c->optim) != 0, PSR_ERR_CONFIG,
                      "%s: embedding table %d ('%.16s') was trained with optimizer %.32s, this "
                      "config uses %.32s (optimizer state cannot be converted)",
                      d, i, j->name, c->optim, j->optim);
        PSR_RETURN_IF(c->n_floats != j->n_floats, PSR_ERR_CONFIG,
                      "%s: embedding table %d ('%.16s') has %d floats per row in the checkpoint, "
                      "%d in this config",
                      d, i, j->name, c->n_floats, j->n_floats);
    }
    return PSR_OK;
}

int ckpt_check_buckets(const ckpt_manifest_t *m, uint32_t n_buckets)
{
    PSR_RETURN_IF(m->n_buckets != n_buckets, PSR_ERR_CONFIG,
                  "%s was written with cluster.buckets = %u, this config has %u (rows are placed "
                  "by bucket: set cluster.buckets: %u to resume from it)",
                  m->dir ? m->dir : "checkpoint", m->n_buckets, n_buckets, m->n_buckets);
    return PSR_OK;
}

/* ---- commit, abort, find --------------------------------------------------------------- */

/* step of a committed checkpoint directory name "ckpt-" + 12 or more digits, or -1. */
static int64_t committed_step(const char *name)
{
    if (strncmp(name, "ckpt-", 5) != 0) return -1;
    const char *d = name + 5;
    size_t n = strlen(d);
    if (n < 12 || n > 18) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') return -1;
        v = v * 10 + (d[i] - '0');
    }
    return v;
}

static int is_leftover(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "ckpt-", 5) == 0 && n > 9 && !strcmp(name + n - 4, ".tmp");
}

typedef struct {
    int64_t step;
    char *name;
} entry_t;

static int cmp_entry(const void *a, const void *b)
{
    int64_t x = ((const entry_t *)a)->step, y = ((const entry_t *)b)->step;
    return x < y ? -1 : x > y;
}

/* Committed checkpoint directories in root, sorted by step ascending. */
static int list_committed(const char *root, entry_t **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(root);
    if (!d) {
        if (errno == ENOENT) return PSR_OK;
        return PSR_ERR(PSR_ERR_IO, "cannot read checkpoint directory '%s': %s", root,
                       strerror(errno));
    }
    entry_t *v = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t s = committed_step(e->d_name);
        if (s < 0) continue;
        char *p = ckpt_join(root, e->d_name);
        int dir = is_dir(p);
        free(p);
        if (!dir) continue;
        v = psr_xrealloc(v, (size_t)(n + 1) * sizeof *v);
        v[n].step = s;
        v[n].name = psr_xstrdup(e->d_name);
        n++;
    }
    closedir(d);
    if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_entry);
    *out = v;
    *n_out = n;
    return PSR_OK;
}

static void free_entries(entry_t *v, int n)
{
    for (int i = 0; i < n; i++) free(v[i].name);
    free(v);
}

int ckpt_stage(const char *root, int64_t step, char **stage)
{
    *stage = NULL;
    PSR_RETURN_IF(step < 0, PSR_ERR_USAGE, "checkpoint step %" PRId64 " is negative", step);
    PSR_RETURN_IF(root == NULL || root[0] == '\0', PSR_ERR_CONFIG,
                  "checkpoint directory is empty");
    PSR_FORWARD(psr_mkdir_p(root));
    char name[40];
    ckpt_dir_name(step, name);
    strcat(name, ".tmp");
    char *p = ckpt_join(root, name);
    if (rm_rf(p) != 0) {
        int rc = PSR_ERR(PSR_ERR_IO, "cannot remove the old '%s': %s", p, strerror(errno));
        free(p);
        return rc;
    }
    if (mkdir(p, 0777) != 0) {
        int rc = PSR_ERR(PSR_ERR_IO, "cannot create '%s': %s", p, strerror(errno));
        free(p);
        return rc;
    }
    *stage = p;
    return PSR_OK;
}

void ckpt_abort(const char *root, int64_t step)
{
    char name[40];
    ckpt_dir_name(step, name);
    strcat(name, ".tmp");
    char *p = ckpt_join(root, name);
    if (rm_rf(p) != 0) psr_warn("cannot remove the unfinished checkpoint '%s': %s", p, strerror(errno));
    free(p);
}

int ckpt_read_latest(const char *root, char *buf, size_t size)
{
    char *path = ckpt_join(root, CKPT_LATEST);
    char *text;
    size_t len;
    int rc = read_small_file(path, &text, &len);
    free(path);
    PSR_FORWARD(rc);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = '\0';
    snprintf(buf, size, "%s", text);
    free(text);
    return PSR_OK;
}

/* After a commit: delete committed checkpoints beyond `keep` (oldest first, never `step`),
 * remove leftovers, warn about newer ones. Problems are warnings: the commit stands. */
static void prune(const char *root, int64_t step, int keep)
{
    entry_t *v;
    int n;
    if (list_committed(root, &v, &n) != PSR_OK) {
        psr_warn("checkpoint pruning skipped: %s", psr_err_msg());
        return;
    }
    int excess = keep > 0 ? n - keep : 0;
    for (int i = 0; i < n && excess > 0; i++) {
        if (v[i].step == step) continue;
        char *p = ckpt_join(root, v[i].name);
        char *gone = psr_xmalloc(strlen(p) + 16);
        sprintf(gone, "%s.deleting.tmp", p);
        /* un-commit atomically first: a crash mid-removal leaves only a *.tmp leftover */
        if (rm_rf(gone) != 0 || rename(p, gone) != 0 || rm_rf(gone) != 0)
            psr_warn("cannot delete old checkpoint '%s': %s", p, strerror(errno));
        free(p);
        free(gone);
        excess--;
    }
    for (int i = 0; i < n; i++)
        if (v[i].step > step)
            psr_warn("'%s/%s' is newer than the checkpoint just written (step %" PRId64
                     "); --resume auto picks the largest step, so remove it if it belongs to an "
                     "abandoned run",
                     root, v[i].name, step);
    free_entries(v, n);
    DIR *d = opendir(root);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_leftover(e->d_name)) continue;
        char *p = ckpt_join(root, e->d_name);
        if (rm_rf(p) != 0) psr_warn("cannot remove leftover '%s': %s", p, strerror(errno));
        free(p);
    }
    closedir(d);
}

int ckpt_commit(const char *root, const ckpt_manifest_t *m, int keep, char **final)
{
    if (final) *final = NULL;
    char dname[40], sname[48];
    ckpt_dir_name(m->step, dname);
    snprintf(sname, sizeof sname, "%s.tmp", dname);
    char *stage = ckpt_join(root, sname), *dest = ckpt_join(root, dname), *aside = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = manifest_validate(m, "checkpoint manifest");
    if (rc == PSR_OK && !is_dir(stage))
        rc = PSR_ERR(PSR_ERR_IO, "cannot commit checkpoint: '%s' is not a directory", stage);
    for (int i = 0; i < m->n_files && rc == PSR_OK; i++) {
        rc = check_file(stage, &m->files[i], CKPT_CHECK_SIZE);
        if (rc != PSR_OK) rc = err_wrap(rc, "cannot commit checkpoint: ");
    }
    if (rc == PSR_OK) rc = fsync_dir(stage);
    if (rc == PSR_OK) rc = manifest_emit(m, &text, &len);
    if (rc == PSR_OK) rc = write_file_atomic(stage, CKPT_MANIFEST, text, len);
    if (rc == PSR_OK && is_dir(dest)) { /* D3: same step committed before: move it aside */
        aside = psr_xmalloc(strlen(dest) + 16);
        sprintf(aside, "%s.replaced.tmp", dest);
        if (rm_rf(aside) != 0 || rename(dest, aside) != 0)
            rc = PSR_ERR(PSR_ERR_IO, "cannot replace '%s': %s", dest, strerror(errno));
    }
    if (rc == PSR_OK && rename(stage, dest) != 0)
        rc = PSR_ERR(PSR_ERR_IO, "cannot rename '%s' to '%s': %s", stage, dest, strerror(errno));
    if (rc == PSR_OK) rc = fsync_dir(root);
    if (rc == PSR_OK && aside && rm_rf(aside) != 0)
        psr_warn("cannot remove '%s': %s", aside, strerror(errno));
    if (rc == PSR_OK) { /* D3, D4: the checkpoint stands; `latest` is only for people */
        char line[48];
        snprintf(line, sizeof line, "%s\n", dname);
        if (write_file_atomic(root, CKPT_LATEST, line, strlen(line)) != PSR_OK)
            psr_warn("checkpoint %s is committed and complete, but the pointer %s/%s could not "
                     "be updated (%s): it still names an older checkpoint or none; --resume "
                     "auto does not read it and will find %s",
                     dest, root, CKPT_LATEST, psr_err_msg(), dname);
    }
    if (rc == PSR_OK) prune(root, m->step, keep);
    if (rc == PSR_OK && final) {
        *final = dest;
        dest = NULL;
    }
    free(text);
    free(stage);
    free(dest);
    free(aside);
    return rc;
}

/* D1: a name ending in .tmp is never a checkpoint, whatever it holds. */
static int is_stage_name(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    return n > 4 && !strncmp(dir + n - 4, ".tmp", 4);
}

/* Explain why DIR is not a checkpoint, if it looks like a checkpoint root. */
static int not_a_checkpoint(const char *dir)
{
    entry_t *v;
    int k;
    if (list_committed(dir, &v, &k) == PSR_OK && k > 0) {
        int rc = PSR_ERR(PSR_ERR_FORMAT,
                         "%s holds checkpoints, it is not one: name one of them (newest: %s/%s); "
                         "to resume the newest, set checkpoint.dir: %s and use --resume auto",
                         dir, dir, v[k - 1].name, dir);
        free_entries(v, k);
        return rc;
    }
    free_entries(v, k);
    return PSR_OK;
}

/* A directory named ckpt-<step> must hold that step's checkpoint (a symbolic link or a copy
 * of an older checkpoint under a newer name would make a job resume from the wrong step). */
static int check_dir_step(const char *dir, int64_t step)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    char name[64];
    if (n - b >= sizeof name) return PSR_OK;
    memcpy(name, dir + b, n - b);
    name[n - b] = '\0';
    int64_t named = committed_step(name);
    PSR_RETURN_IF(named >= 0 && named != step, PSR_ERR_FORMAT,
                  "%s: named for step %" PRId64 ", but its %s says step %" PRId64
                  " (a link to or a copy of another checkpoint?)",
                  dir, named, CKPT_MANIFEST, step);
    return PSR_OK;
}

uint64_t ckpt_inflate_max(void)
{
    const char *e = getenv("PSREC_RESUME_INFLATE_MAX");
    if (!e || !*e) return CKPT_INFLATE_MAX;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(e, &end, 10);
    if (errno || *end || e[0] == '-') {
        psr_warn("PSREC_RESUME_INFLATE_MAX='%s' is not a byte count (a non-negative integer); "
                 "using %llu", e, (unsigned long long)CKPT_INFLATE_MAX);
        return CKPT_INFLATE_MAX;
    }
    return (uint64_t)v;
}

int ckpt_find(const char *root, const char *resume, ckpt_manifest_t *m)
{
    memset(m, 0, sizeof *m);
    PSR_RETURN_IF(!resume || !*resume, PSR_ERR_USAGE,
                  "--resume needs 'auto' or a checkpoint directory");
    if (strcmp(resume, "auto") != 0) {
        PSR_RETURN_IF(is_stage_name(resume), PSR_ERR_FORMAT,
                      "%s was never committed (a checkpoint interrupted while being written); "
                      "resume from a ckpt-<step> directory or use --resume auto",
                      resume);
        int rc = ckpt_manifest_load(resume, m, CKPT_CHECK_CRC);
        if (rc == PSR_OK) rc = check_dir_step(resume, m->step);
        if (rc == PSR_OK) rc = ckpt_check_loadable(m, ckpt_inflate_max());
        if (rc != PSR_OK) {
            char pre[1100];
            snprintf(pre, sizeof pre, "cannot resume from %s: ", resume);
            return err_wrap(rc, pre);
        }
        return PSR_OK;
    }
    PSR_RETURN_IF(!root || !*root, PSR_ERR_CONFIG,
                  "--resume auto needs checkpoint.dir to be set");
    entry_t *v;
    int n;
    PSR_FORWARD(list_committed(root, &v, &n));
    if (n == 0) {
        free(v);
        return CKPT_FRESH;
    }
    char first_err[1024] = "";
    for (int i = n - 1; i >= 0; i--) {
        char *dir = ckpt_join(root, v[i].name);
        ckpt_manifest_free(m);
        int rc = ckpt_manifest_load(dir, m, CKPT_CHECK_CRC);
        if (rc == PSR_OK && m->step != v[i].step)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: its manifest says step %" PRId64, dir, m->step);
        if (rc == PSR_OK) rc = ckpt_check_loadable(m, ckpt_inflate_max());
        if (rc == PSR_OK) {
            free(dir);
            free_entries(v, n);
            return PSR_OK;
        }
        if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", psr_err_msg());
        psr_warn("checkpoint %s is unusable: %s; %s", dir, psr_err_msg(),
                 i > 0 ? "trying the next older one" : "no older one left");
        free(dir);
    }
    ckpt_manifest_free(m);
    int rc = PSR_ERR(PSR_ERR_FORMAT,
                     "no usable checkpoint in %s: all %d fail verification (newest: %s); move "
                     "them away to start fresh",
                     root, n, first_err);
    free_entries(v, n);
    return rc;
}

/* The header of rows file f (of manifest m) says what the manifest does (F1, F7). */
static int rows_header_check(const ckpt_manifest_t *m, const ckpt_file_info_t *f,
                             const ckpt_header_t *h, const char *path)
{
    const ckpt_table_t *t = &m->tables[f->table];
    PSR_RETURN_IF(h->table != (uint32_t)f->table || h->n_floats != (uint32_t)t->n_floats ||
                      h->width != (uint32_t)t->width,
                  PSR_ERR_FORMAT,
                  "%s: header says table %u, width %u, %u floats per row; the manifest lists it "
                  "as table %d ('%s'), width %d, %d floats per row",
                  path, h->table, h->width, h->n_floats, f->table, t->name, t->width, t->n_floats);
    PSR_RETURN_IF(h->n_buckets != m->n_buckets || h->step != m->step, PSR_ERR_FORMAT,
                  "%s: header says %u buckets, step %" PRId64 "; the manifest %u, %" PRId64
                  " (a file from another checkpoint?)",
                  path, h->n_buckets, h->step, m->n_buckets, m->step);
    return PSR_OK;
}

int ckpt_bucket_map_table(const ckpt_manifest_t *m, int table, ckpt_bucket_loc_t *locs)
{
    PSR_RETURN_IF(table < 0 || table >= m->n_tables, PSR_ERR_USAGE,
                  "%s: no embedding table %d (the checkpoint has %d)",
                  m->dir ? m->dir : "checkpoint", table, m->n_tables);
    for (uint32_t b = 0; b < m->n_buckets; b++) locs[b] = (ckpt_bucket_loc_t){-1, 0, 0};
    for (int i = 0; i < m->n_files; i++) {
        if (m->files[i].kind != CKPT_KIND_ROWS || m->files[i].table != table) continue;
        char *path = ckpt_join(m->dir ? m->dir : ".", m->files[i].name);
        ckpt_reader_t *r;
        int rc = ckpt_reader_open(&r, path, CKPT_KIND_ROWS);
        if (rc == PSR_OK) {
            const ckpt_header_t *h = ckpt_reader_header(r);
            rc = rows_header_check(m, &m->files[i], h, path);
            for (uint32_t s = 0; s < h->n_segments && rc == PSR_OK; s++) {
                uint32_t b = r->seg[s].id;
                if (locs[b].file >= 0)
                    rc = PSR_ERR(PSR_ERR_FORMAT, "bucket %u is in both %s and %s", b,
                                 m->files[locs[b].file].name, m->files[i].name);
                else
                    locs[b] = (ckpt_bucket_loc_t){i, s, r->seg[s].records};
            }
            ckpt_reader_close(r);
        }
        free(path);
        PSR_FORWARD(rc);
    }
    for (uint32_t b = 0; b < m->n_buckets; b++)
        PSR_RETURN_IF(locs[b].file < 0, PSR_ERR_FORMAT,
                      "%s: bucket %u is in no rows file of table %d ('%s') (of %u buckets)",
                      m->dir ? m->dir : "checkpoint", b, table, m->tables[table].name,
                      m->n_buckets);
    return PSR_OK;
}

int ckpt_bucket_map(const ckpt_manifest_t *m, ckpt_bucket_loc_t *locs)
{
    return ckpt_bucket_map_table(m, 0, locs);
}

/* ---- verify and inspect ---------------------------------------------------------------- */

typedef struct {
    uint64_t raw[CKPT_KIND_COUNT], bytes[CKPT_KIND_COUNT];
    int files[CKPT_KIND_COUNT];
    uint64_t digest;
    uint64_t table_rows[CKPT_MAX_TABLES], table_bytes[CKPT_MAX_TABLES];
    uint64_t *server_rows;     /* (n_servers) all tables */
    uint32_t *server_buckets;  /* (n_servers) buckets of table 0 */
    int32_t *bucket_file;      /* (n_tables, n_buckets) index into m->files, -1 when not seen */
    uint64_t *bucket_rows;     /* (n_buckets) all tables */
    uint64_t rows, dense_blocks, dense_floats, state_bytes;
    uint64_t *keys;            /* one bucket's keys, for the duplicate check */
    size_t keys_cap;
} scan_t;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int dup_check(scan_t *s, size_t n, const char *path, uint32_t bucket)
{
    if (n < 2) return PSR_OK;
    qsort(s->keys, n, sizeof *s->keys, cmp_u64);
    for (size_t i = 1; i < n; i++)
        PSR_RETURN_IF(s->keys[i] == s->keys[i - 1], PSR_ERR_FORMAT,
                      "%s: corrupt: key 0x%016" PRIx64 " appears twice in bucket %u", path,
                      s->keys[i], bucket);
    return PSR_OK;
}

/* Check one listed file deeply and add it to the totals. On error nothing is added. */
static int scan_file(const ckpt_manifest_t *m, int fi, scan_t *s, int level, int inflate,
                     char *note, size_t note_size)
{
    const ckpt_file_info_t *f = &m->files[fi];
    PSR_FORWARD(check_file(m->dir, f, level));
    char *path = ckpt_join(m->dir, f->name);
    ckpt_reader_t *r;
    int rc = ckpt_reader_open(&r, path, f->kind);
    if (rc != PSR_OK) {
        free(path);
        return rc;
    }
    const ckpt_header_t *h = ckpt_reader_header(r);
    uint64_t digest = 0, rows = 0;
    const int t = f->table; /* rows: validated (M2); else 0 */
    int32_t *bfile = s->bucket_file + (size_t)t * m->n_buckets;
    if (h->step != m->step || h->rank != (uint32_t)f->rank)
        rc = PSR_ERR(PSR_ERR_FORMAT,
                     "%s: header says step %" PRId64 " rank %u, the manifest step %" PRId64
                     " rank %d (a file from another checkpoint?)",
                     path, h->step, h->rank, m->step, f->rank);
    if (rc == PSR_OK && h->kind == CKPT_KIND_ROWS) rc = rows_header_check(m, f, h, path);
    if (rc == PSR_OK && (h->raw_bytes != f->raw_bytes || h->records != f->records))
        rc = PSR_ERR(PSR_ERR_FORMAT,
                     "%s: holds %" PRIu64 " raw bytes in %" PRIu64
                     " records, the manifest lists %" PRIu64 " in %" PRIu64,
                     path, h->raw_bytes, h->records, f->raw_bytes, f->records);
    if (rc == PSR_OK && h->kind == CKPT_KIND_ROWS) {
        for (uint32_t i = 0; i < h->n_segments && rc == PSR_OK; i++) {
            uint32_t b = r->seg[i].id;
            if (bfile[b] >= 0)
                rc = PSR_ERR(PSR_ERR_FORMAT, "%s: bucket %u is also in %s", path, b,
                             m->files[bfile[b]].name);
        }
        const uint64_t salt = psr_table_salt(t);
        uint32_t cur = UINT32_MAX;
        size_t nk = 0;
        if (!inflate) rows = h->records;
        for (; inflate;) {
            if (rc != PSR_OK) break;
            ckpt_row_t row;
            int eof;
            rc = ckpt_rows_next(r, &row, &eof);
            if (rc != PSR_OK) break;
            if (eof || row.bucket != cur) {
                rc = dup_check(s, nk, path, cur);
                nk = 0;
                if (eof || rc != PSR_OK) break;
                cur = row.bucket;
            }
            if (nk == s->keys_cap) {
                s->keys_cap = s->keys_cap ? 2 * s->keys_cap : 1024;
                s->keys = psr_xrealloc(s->keys, s->keys_cap * sizeof *s->keys);
            }
            s->keys[nk++] = row.key;
            digest += psr_row_digest(row.key ^ salt, row.floats, h->n_floats, row.step);
            rows++;
        }
        if (rc == PSR_OK) {
            for (uint32_t i = 0; i < h->n_segments; i++) {
                bfile[r->seg[i].id] = fi;
                s->bucket_rows[r->seg[i].id] += r->seg[i].records;
            }
            s->server_rows[f->rank] += rows;
            if (t == 0) s->server_buckets[f->rank] = h->n_segments;
            s->rows += rows;
            s->table_rows[t] += rows;
            s->table_bytes[t] += f->bytes;
            snprintf(note, note_size, "table %d '%s', %" PRIu64 " rows in %u buckets", t,
                     m->tables[t].name, rows, h->n_segments);
        }
    } else if (rc == PSR_OK && h->kind == CKPT_KIND_DENSE) {
        uint64_t floats = 0;
        for (; inflate;) {
            ckpt_dense_block_t b;
            int eof;
            rc = ckpt_dense_next(r, &b, &eof);
            if (rc != PSR_OK || eof) break;
            digest += psr_row_digest(b.id, b.floats, b.n, b.step);
            floats += b.n;
        }
        if (rc == PSR_OK) {
            s->dense_blocks += h->n_segments;
            s->dense_floats += floats;
            snprintf(note, note_size, "%u dense block%s, %" PRIu64 " floats", h->n_segments,
                     h->n_segments == 1 ? "" : "s", floats);
        }
    } else if (rc == PSR_OK) {
        void *bytes;
        size_t n;
        rc = ckpt_read_state(path, f->kind, &bytes, &n);
        free(bytes);
        if (rc == PSR_OK) {
            s->state_bytes += n;
            snprintf(note, note_size, "%zu bytes of state", n);
        }
    }
    if (rc == PSR_OK) {
        s->digest += digest;
        s->raw[f->kind] += f->raw_bytes;
        s->bytes[f->kind] += f->bytes;
        s->files[f->kind]++;
    }
    ckpt_reader_close(r);
    free(path);
    return rc;
}

static void scan_init(scan_t *s, const ckpt_manifest_t *m)
{
    memset(s, 0, sizeof *s);
    s->server_rows = psr_xcalloc((size_t)m->n_servers, sizeof *s->server_rows);
    s->server_buckets = psr_xcalloc((size_t)m->n_servers, sizeof *s->server_buckets);
    const size_t nb = (size_t)m->n_tables * m->n_buckets;
    s->bucket_file = psr_xmalloc(nb * sizeof *s->bucket_file);
    s->bucket_rows = psr_xcalloc((size_t)m->n_buckets, sizeof *s->bucket_rows);
    for (size_t b = 0; b < nb; b++) s->bucket_file[b] = -1;
}

static void scan_free(scan_t *s)
{
    free(s->server_rows);
    free(s->server_buckets);
    free(s->bucket_file);
    free(s->bucket_rows);
    free(s->keys);
}

/* Buckets of table t missing from every rows file of t: count, first one in *first. */
static uint32_t scan_missing(const scan_t *s, const ckpt_manifest_t *m, int t, uint32_t *first)
{
    uint32_t n = 0;
    const int32_t *bfile = s->bucket_file + (size_t)t * m->n_buckets;
    for (uint32_t b = 0; b < m->n_buckets; b++)
        if (bfile[b] < 0 && n++ == 0) *first = b;
    return n;
}

int ckpt_check_loadable(const ckpt_manifest_t *m, uint64_t inflate_max)
{
    const char *dir = m->dir ? m->dir : ".";
    uint64_t raw = 0;
    for (int i = 0; i < m->n_files; i++) raw += m->files[i].raw_bytes;
    const int inflate = raw <= inflate_max;
    scan_t s;
    scan_init(&s, m);
    int rc = PSR_OK;
    for (int i = 0; i < m->n_files && rc == PSR_OK; i++) {
        char note[128];
        rc = scan_file(m, i, &s, CKPT_CHECK_NONE, inflate, note, sizeof note);
    }
    for (int t = 0; t < m->n_tables && rc == PSR_OK; t++) {
        uint32_t first = 0;
        if (scan_missing(&s, m, t, &first) > 0)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: bucket %u of table %d ('%s') is in no rows file "
                         "(of %u buckets)", dir, first, t, m->tables[t].name, m->n_buckets);
    }
    if (rc == PSR_OK && inflate && m->has_digest && s.digest != m->digest)
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s/%s: records model digest %016" PRIx64 ", but the files "
                     "hold %016" PRIx64 " (the manifest or a file was altered)",
                     dir, CKPT_MANIFEST, m->digest, s.digest);
    scan_free(&s);
    return rc;
}

int ckpt_verify_print(const char *dir, FILE *out)
{
    ckpt_manifest_t m;
    int rc = ckpt_manifest_load(dir, &m, CKPT_CHECK_NONE);
    if (rc != PSR_OK) {
        fprintf(out, "FAIL %s: %s\n", CKPT_MANIFEST, psr_err_msg());
        fprintf(out, "verify: FAILED: %s is not a usable checkpoint\n", dir);
        ckpt_manifest_free(&m);
        return rc;
    }
    fprintf(out, "OK   %s: format %d, step %" PRId64 ", %d servers, %d workers, %u buckets, width %d, "
            "%d table%s%s\n",
            CKPT_MANIFEST, m.version, m.step, m.n_servers, m.n_workers, m.n_buckets, m.width,
            m.n_tables, m.n_tables == 1 ? "" : "s", m.tables_implied ? " (implied)" : "");
    scan_t s;
    scan_init(&s, &m);
    int bad = 0, first_rc = PSR_OK;
    char first_msg[1024] = "";
    for (int i = 0; i < m.n_files; i++) {
        char note[128] = "";
        int frc = scan_file(&m, i, &s, CKPT_CHECK_CRC, 1, note, sizeof note);
        if (frc == PSR_OK) {
            fprintf(out, "OK   %s: %" PRIu64 " bytes, CRC32 0x%08x, %s\n", m.files[i].name,
                    m.files[i].bytes, m.files[i].crc32, note);
        } else {
            fprintf(out, "FAIL %s: %s\n", m.files[i].name, psr_err_msg());
            if (!bad++) {
                first_rc = frc;
                snprintf(first_msg, sizeof first_msg, "%s", psr_err_msg());
            }
        }
    }
    /* buckets and digest only mean something when every rows file read cleanly */
    if (s.files[CKPT_KIND_ROWS] == m.n_servers * m.n_tables) {
        for (int t = 0; t < m.n_tables; t++) {
            char label[64] = "buckets";
            if (m.n_tables > 1)
                snprintf(label, sizeof label, "buckets of table %d '%s'", t, m.tables[t].name);
            uint32_t first = 0, miss = scan_missing(&s, &m, t, &first);
            if (miss == 0) {
                fprintf(out, "OK   %s: all %u present, each in one rows file\n", label,
                        m.n_buckets);
                continue;
            }
            fprintf(out, "FAIL %s: %u of %u in no rows file (first: bucket %u)\n", label, miss,
                    m.n_buckets, first);
            if (!bad++) {
                first_rc = PSR_ERR(PSR_ERR_FORMAT,
                                   "%s: bucket %u is in no rows file of table %d ('%s')", dir,
                                   first, t, m.tables[t].name);
                snprintf(first_msg, sizeof first_msg, "%s", psr_err_msg());
            }
        }
        if (bad == 0 && m.has_digest) {
            if (s.digest == m.digest) {
                fprintf(out, "OK   digest: %016" PRIx64 " as recorded in the manifest\n", s.digest);
            } else {
                fprintf(out, "FAIL digest: the files give %016" PRIx64 ", the manifest records %016" PRIx64 "\n",
                        s.digest, m.digest);
                bad++;
                first_rc = PSR_ERR(PSR_ERR_FORMAT,
                                   "%s: model digest %016" PRIx64 " differs from the manifest's %016" PRIx64,
                                   dir, s.digest, m.digest);
                snprintf(first_msg, sizeof first_msg, "%s", psr_err_msg());
            }
        }
    }
    /* files nobody listed: harmless, but worth a look */
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
                continue;
            int listed = !strcmp(e->d_name, CKPT_MANIFEST);
            for (int i = 0; i < m.n_files && !listed; i++)
                listed = !strncmp(m.files[i].name, e->d_name, CKPT_NAME_MAX);
            if (!listed) fprintf(out, "note %s: not listed in the manifest (ignored)\n", e->d_name);
        }
        closedir(d);
    }
    if (bad == 0)
        fprintf(out, "verify: OK: %s (step %" PRId64 ", %d files)\n", dir, m.step, m.n_files);
    else
        fprintf(out, "verify: FAILED: %d problem%s in %s\n", bad, bad > 1 ? "s" : "", dir);
    scan_free(&s);
    ckpt_manifest_free(&m);
    if (bad) {
        /* leave the first problem as the recorded error */
        return PSR_ERR(first_rc, "%s", first_msg);
    }
    return PSR_OK;
}

static void print_bytes_line(FILE *out, const char *what, uint64_t raw, uint64_t bytes, int files)
{
    fprintf(out, "bytes %s: files %d raw %" PRIu64 " compressed %" PRIu64, what, files, raw, bytes);
    if (bytes > 0)
        fprintf(out, " ratio %.3f\n", (double)raw / (double)bytes);
    else
        fprintf(out, " ratio -\n");
}

int ckpt_inspect_print(const char *dir, FILE *out)
{
    ckpt_manifest_t m;
    int rc = ckpt_manifest_load(dir, &m, CKPT_CHECK_SIZE);
    if (rc != PSR_OK) {
        ckpt_manifest_free(&m);
        return rc;
    }
    scan_t s;
    scan_init(&s, &m);
    for (int i = 0; i < m.n_files && rc == PSR_OK; i++) {
        char note[128];
        rc = scan_file(&m, i, &s, CKPT_CHECK_SIZE, 1, note, sizeof note);
    }
    for (int t = 0; t < m.n_tables && rc == PSR_OK; t++) {
        uint32_t first = 0;
        if (scan_missing(&s, &m, t, &first) > 0)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: bucket %u is in no rows file of table %d ('%s')",
                         dir, first, t, m.tables[t].name);
    }
    if (rc != PSR_OK) {
        scan_free(&s);
        ckpt_manifest_free(&m);
        return rc;
    }
    fprintf(out, "checkpoint: %s\n", dir);
    fprintf(out, "format: %d\n", m.version);
    fprintf(out, "step: %" PRId64 "\n", m.step);
    fprintf(out, "model_fingerprint: 0x%016" PRIx64 "\n", m.model_fp);
    fprintf(out, "schema_fingerprint: 0x%016" PRIx64 "\n", m.schema_fp);
    fprintf(out, "servers: %d\nworkers: %d\nbuckets: %u\nwidth: %d\n", m.n_servers, m.n_workers,
            m.n_buckets, m.width);
    for (int i = 0; i < m.n_extra; i++)
        fprintf(out, "extra %s: %s\n", m.extra[i].key, m.extra[i].value);
    fprintf(out, "tables: %d%s\n", m.n_tables, m.tables_implied ? " (implied: the manifest predates tables)" : "");
    for (int t = 0; t < m.n_tables; t++)
        fprintf(out, "table %d %s: width %d floats %d optimizer %s rows %" PRIu64 " bytes %" PRIu64 "\n",
                t, m.tables[t].name, m.tables[t].width, m.tables[t].n_floats, m.tables[t].optim,
                s.table_rows[t], s.table_bytes[t]);
    fprintf(out, "rows: %" PRIu64 "\n", s.rows);
    for (int i = 0; i < m.n_servers; i++)
        fprintf(out, "rows server %d: %" PRIu64 " in %u buckets\n", i, s.server_rows[i],
                s.server_buckets[i]);
    uint64_t mn = UINT64_MAX, mx = 0;
    for (uint32_t b = 0; b < m.n_buckets; b++) {
        if (s.bucket_rows[b] < mn) mn = s.bucket_rows[b];
        if (s.bucket_rows[b] > mx) mx = s.bucket_rows[b];
    }
    fprintf(out, "rows per bucket: min %" PRIu64 " mean %.1f max %" PRIu64 "\n", mn,
            (double)s.rows / (double)m.n_buckets, mx);
    fprintf(out, "dense: %" PRIu64 " blocks, %" PRIu64 " floats\n", s.dense_blocks, s.dense_floats);
    uint64_t raw = 0, bytes = 0;
    int files = 0;
    for (int k = 1; k < CKPT_KIND_COUNT; k++) {
        print_bytes_line(out, kind_names[k], s.raw[k], s.bytes[k], s.files[k]);
        raw += s.raw[k];
        bytes += s.bytes[k];
        files += s.files[k];
    }
    print_bytes_line(out, "total", raw, bytes, files);
    if (m.has_digest)
        fprintf(out, "digest recorded: %016" PRIx64 " (%s)\n", m.digest,
                m.digest == s.digest ? "matches" : "DIFFERS");
    fprintf(out, "digest: %016" PRIx64 "\n", s.digest);
    rc = m.has_digest && m.digest != s.digest
             ? PSR_ERR(PSR_ERR_FORMAT,
                       "%s: model digest %016" PRIx64 " differs from the manifest's %016" PRIx64,
                       dir, s.digest, m.digest)
             : PSR_OK;
    scan_free(&s);
    ckpt_manifest_free(&m);
    return rc;
}
