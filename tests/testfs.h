/* testfs: file helpers the unit tests share. Failures are bugs in the test's environment:
 * they print the reason and exit 2 (not a test failure to be counted). */
#ifndef PSR_TESTFS_H
#define PSR_TESTFS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fsutil.h"
#include "psr_error.h"

/* mkdir -p */
static inline void mkdir_p(const char *path)
{
    if (psr_mkdir_p(path) != PSR_OK) {
        fprintf(stderr, "test: %s\n", psr_err_msg());
        exit(2);
    }
}

static inline void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "test: cannot write %s: %s\n", path, strerror(errno));
        exit(2);
    }
}

/* gzip-compressed, in several gzwrite calls as a real writer would. */
static inline void write_gz(const char *path, const char *data, size_t len)
{
    gzFile g = gzopen(path, "wb6");
    int ok = g != NULL;
    for (size_t off = 0; ok && off < len;) {
        unsigned n = (unsigned)(len - off < 100000 ? len - off : 100000);
        ok = gzwrite(g, data + off, n) == (int)n;
        off += n;
    }
    if (g && gzclose(g) != Z_OK) ok = 0;
    if (!ok) {
        fprintf(stderr, "test: cannot write %s\n", path);
        exit(2);
    }
}

/* The test's scratch root (set once by the test's main) and fresh paths under it. */
static char tmp_root[1024];

static inline const char *scratch(const char *name)
{
    static char bufs[16][1100];
    static int k;
    char *b = bufs[k++ % 16];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp_root, name);
    return b;
}

static inline void rm_rf(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

/* Whole file dir/name into memory, NUL-terminated, through zlib (so plain or gzip); NULL if it
 * cannot be opened. *len (may be NULL) gets the length. */
static inline char *gz_slurp(const char *dir, const char *name, size_t *len)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile g = gzopen(path, "rb");
    if (!g) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    int got;
    while ((got = gzread(g, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) b = realloc(b, (cap *= 2) + 1);
    }
    gzclose(g);
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

#endif
