/* fsutil: see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "psr_error.h"

int psr_mkdir_p(const char *dir)
{
    PSR_RETURN_IF(dir == NULL || dir[0] == '\0', PSR_ERR_USAGE, "empty directory name");
    char *p = psr_xstrdup(dir);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char save = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            int rc = PSR_ERR(PSR_ERR_IO, "cannot create directory '%s': %s", p, strerror(e));
            free(p);
            return rc;
        }
        p[i] = save;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) != 0)
        return PSR_ERR(PSR_ERR_IO, "cannot create directory '%s': %s", dir, strerror(errno));
    PSR_RETURN_IF(!S_ISDIR(st.st_mode), PSR_ERR_IO,
                  "cannot create directory '%s': a file of that name exists", dir);
    return PSR_OK;
}

int psr_dir_writable(const char *dir)
{
    PSR_RETURN_IF(access(dir, W_OK | X_OK) != 0, PSR_ERR_IO, "directory '%s' is not writable: %s",
                  dir, strerror(errno));
    return PSR_OK;
}

/* ---- psr_gz ----------------------------------------------------------------------------
 * One z_stream in gzip-only mode (windowBits 15 + 16: a zlib or raw stream is corrupt data,
 * not something to guess at), reset at each member end. Between members the next two input
 * bytes decide: the magic starts another member, the end of the file ends the stream, and
 * anything else is trailing garbage (rule G2). The input buffer is compacted and refilled with
 * read(2); in_off is the file offset of in[0], so any input position is a file offset. */

enum { GZ_BETWEEN, GZ_MEMBER };

struct psr_gz {
    int fd;
    char *path;          /* owned copy, for messages */
    z_stream z;
    unsigned char *in;   /* (in_cap) compressed bytes; unread ones at z.next_in, z.avail_in */
    size_t in_cap;
    int64_t in_off;      /* file offset of in[0] */
    int eof;             /* read(2) returned 0 */
    int state;           /* GZ_BETWEEN or GZ_MEMBER */
    int64_t members;     /* members finished */
    int err;             /* sticky error code, 0 if none */
    char *errmsg;        /* its message, for the calls after the first */
};

#define GZ_IN_BYTES ((size_t)1 << 20)

static int64_t gz_pos(const psr_gz_t *g) /* file offset of the next unread input byte */
{
    return g->in_off + (int64_t)(g->z.next_in - g->in);
}

static int gz_fail(psr_gz_t *g, int code)
{
    g->err = code;
    free(g->errmsg);
    g->errmsg = psr_xstrdup(psr_err_msg());
    return code;
}

/* Keep the unread input, read more after it. Sets g->eof when read(2) returns 0. */
static int gz_refill(psr_gz_t *g)
{
    size_t keep = g->z.avail_in;
    g->in_off = gz_pos(g);
    if (keep) memmove(g->in, g->z.next_in, keep);
    ssize_t n;
    do n = read(g->fd, g->in + keep, g->in_cap - keep);
    while (n < 0 && errno == EINTR);
    if (n < 0) return PSR_ERR(PSR_ERR_IO, "%s: read error: %s", g->path, strerror(errno));
    if (n == 0) g->eof = 1;
    g->z.next_in = g->in;
    g->z.avail_in = (uInt)(keep + (size_t)n);
    return PSR_OK;
}

/* "xx yy" for the first (up to 2) of n bytes at p, for messages. */
static void gz_first_bytes(const unsigned char *p, size_t n, char out[8])
{
    if (n >= 2) snprintf(out, 8, "%02x %02x", p[0], p[1]);
    else snprintf(out, 8, "%02x", p[0]);
}

/* At a member boundary: PSR_OK with *more = 1 when another member starts at the input, 0 at
 * the end of the file; PSR_ERR_FORMAT for anything else (G1 before the first member, G2
 * after one). */
static int gz_next_member(psr_gz_t *g, int *more)
{
    while (g->z.avail_in < 2 && !g->eof) PSR_FORWARD(gz_refill(g));
    *more = 0;
    const unsigned char *p = g->z.next_in;
    const size_t have = g->z.avail_in;
    if (have >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        *more = 1;
        return PSR_OK;
    }
    if (have == 0 && g->members > 0) return PSR_OK; /* the end of the file after a member */
    PSR_RETURN_IF(have == 0, PSR_ERR_FORMAT, "%s: named .gz but is not gzip data (the file is "
                  "empty; gzip data starts with bytes 1f 8b)", g->path);
    char first[8];
    gz_first_bytes(p, have, first);
    PSR_RETURN_IF(g->members == 0, PSR_ERR_FORMAT, "%s: named .gz but is not gzip data (it "
                  "starts with bytes %s, gzip data with 1f 8b); if it is plain text, rename it "
                  "without .gz", g->path, first);
    const int64_t at = gz_pos(g);
    struct stat st;
    char size[48] = "bytes";
    if (fstat(g->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > at)
        snprintf(size, sizeof size, "%lld byte%s", (long long)(st.st_size - at),
                 st.st_size - at == 1 ? "" : "s");
    return PSR_ERR(PSR_ERR_FORMAT, "%s: trailing garbage at byte offset %lld: %s after gzip "
                   "member %lld that do not start another member (they start with %s, a member "
                   "with 1f 8b); the file is damaged or had data appended", g->path,
                   (long long)at, size, (long long)g->members, first);
}

int psr_gz_open(const char *path, size_t in_bytes, psr_gz_t **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    PSR_RETURN_IF(fd < 0, PSR_ERR_IO, "%s: cannot open: %s", path,
                  errno == ENOENT ? "no such file" : strerror(errno));
    psr_gz_t *g = psr_xcalloc(1, sizeof *g);
    g->fd = fd;
    g->path = psr_xstrdup(path);
    g->in_cap = in_bytes >= 64 ? in_bytes : GZ_IN_BYTES;
    if (g->in_cap > UINT_MAX / 2) g->in_cap = UINT_MAX / 2;
    g->in = psr_xmalloc(g->in_cap);
    g->z.next_in = g->in;
    g->state = GZ_BETWEEN;
    int rc = inflateInit2(&g->z, 15 + 16);
    if (rc != Z_OK) {
        free(g->in);
        free(g->path);
        free(g);
        close(fd);
        return PSR_ERR(PSR_ERR_NOMEM, "%s: cannot initialise zlib (out of memory)", path);
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    int more;
    rc = gz_next_member(g, &more); /* rule G1 now, not at the first read */
    if (rc != PSR_OK) {
        psr_gz_close(g);
        return rc;
    }
    *out = g;
    return PSR_OK;
}

int psr_gz_read(psr_gz_t *g, char *buf, size_t want, size_t *got)
{
    *got = 0;
    if (g->err) return PSR_ERR(g->err, "%s", g->errmsg);
    if (want > UINT_MAX / 2) want = UINT_MAX / 2;
    g->z.next_out = (unsigned char *)buf;
    g->z.avail_out = (uInt)want;
    int rc = PSR_OK;
    while (g->z.avail_out > 0 && rc == PSR_OK) {
        if (g->state == GZ_BETWEEN) {
            int more;
            rc = gz_next_member(g, &more);
            if (rc != PSR_OK || !more) break;
            inflateReset(&g->z);
            g->state = GZ_MEMBER;
        }
        if (g->z.avail_in == 0 && !g->eof && (rc = gz_refill(g)) != PSR_OK) break;
        int zr = inflate(&g->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            g->state = GZ_BETWEEN;
            g->members++;
        } else if (zr == Z_BUF_ERROR && g->z.avail_in == 0 && g->eof) {
            rc = PSR_ERR(PSR_ERR_IO, "%s: truncated gzip file (unexpected end of file inside "
                         "gzip member %lld, at byte offset %lld)", g->path,
                         (long long)g->members + 1, (long long)gz_pos(g));
        } else if (zr == Z_MEM_ERROR) {
            rc = PSR_ERR(PSR_ERR_NOMEM, "%s: out of memory in zlib", g->path);
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = PSR_ERR(PSR_ERR_IO, "%s: corrupt gzip data: %s (gzip member %lld, near byte "
                         "offset %lld)", g->path, g->z.msg ? g->z.msg : "unknown zlib error",
                         (long long)g->members + 1, (long long)gz_pos(g));
        }
    }
    *got = want - g->z.avail_out;
    if (rc == PSR_OK) return PSR_OK;
    gz_fail(g, rc);
    /* like read(2): the bytes decoded before the problem first, the error at the next call */
    return *got > 0 ? PSR_OK : rc;
}

int psr_gz_skip(psr_gz_t *g, int64_t n, int64_t *done)
{
    *done = 0;
    const size_t chunk = (size_t)1 << 18;
    char *tmp = psr_xmalloc(chunk); /* resume only, not a hot path */
    int rc = PSR_OK;
    while (*done < n) {
        size_t want = n - *done < (int64_t)chunk ? (size_t)(n - *done) : chunk, got;
        rc = psr_gz_read(g, tmp, want, &got);
        if (rc != PSR_OK || got == 0) break;
        *done += (int64_t)got;
    }
    free(tmp);
    return rc;
}

void psr_gz_close(psr_gz_t *g)
{
    if (!g) return;
    inflateEnd(&g->z);
    close(g->fd);
    free(g->in);
    free(g->path);
    free(g->errmsg);
    free(g);
}

int psr_read_some(int fd, psr_gz_t *gz, const char *path, char *buf, size_t want, size_t *got)
{
    *got = 0;
    if (want > INT_MAX / 2) want = INT_MAX / 2;
    if (gz) return psr_gz_read(gz, buf, want, got);
    ssize_t n;
    do n = read(fd, buf, want);
    while (n < 0 && errno == EINTR);
    PSR_RETURN_IF(n < 0, PSR_ERR_IO, "%s: read error: %s", path, strerror(errno));
    *got = (size_t)n;
    return PSR_OK;
}
