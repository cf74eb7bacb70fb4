/* fsutil: small file-system helpers shared by the tools and the job. */
#ifndef PSR_FSUTIL_H
#define PSR_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* mkdir -p: create `dir` and its missing parents (mode 0777 before umask). PSR_OK when it
 * exists as a directory afterwards; PSR_ERR_IO naming the component that failed, or
 * PSR_ERR_USAGE for an empty path. */
int psr_mkdir_p(const char *dir);

/* PSR_OK when `dir` is a directory this process can create files in, else PSR_ERR_IO. */
int psr_dir_writable(const char *dir);

/* psr_gz: a strict reader of gzip files (RFC 1952) over read(2). A .gz file is one or more
 * gzip members back to back (`cat a.gz b.gz > c.gz` is legal gzip and reads as a then b).
 * Where zlib's gzread is lenient this reader refuses, as `gzip -t` does:
 *  G1. a file that does not start with the gzip magic bytes 1f 8b, or is empty (gzread would
 *      pass plain text through unchanged): PSR_ERR_FORMAT at open, "named .gz but is not gzip
 *      data";
 *  G2. bytes after a member that do not start another member (gzread drops them silently):
 *      PSR_ERR_FORMAT "trailing garbage at byte offset N", N being where the last member ends;
 *  G3. a file that ends inside a member: PSR_ERR_IO "truncated gzip file"; corrupt deflate
 *      data or a bad CRC/length trailer: PSR_ERR_IO "corrupt gzip data".
 * Every message starts with the file's path. psr_gz_read allocates nothing (but for the
 * message of an error). */
typedef struct psr_gz psr_gz_t;

/* Open `path` with an input buffer of in_bytes (0: 1 MiB) and check rule G1. *out is the
 * reader (free with psr_gz_close) or NULL on error: PSR_ERR_IO (cannot open or read),
 * PSR_ERR_FORMAT (G1). */
int psr_gz_open(const char *path, size_t in_bytes, psr_gz_t **out);
/* Up to `want` uncompressed bytes into buf; *got < want only at the end of the file (0 there)
 * or before an error. PSR_ERR_IO / PSR_ERR_FORMAT per G2, G3, returned once the bytes decoded
 * before the problem have been returned (as read(2) does); errors are sticky. */
int psr_gz_read(psr_gz_t *g, char *buf, size_t want, size_t *got);
/* Decompress and drop the next n uncompressed bytes (gzip cannot seek); *done = bytes dropped,
 * less than n when the file ends first. Errors as psr_gz_read. */
int psr_gz_skip(psr_gz_t *g, int64_t n, int64_t *done);
/* Close; accepts NULL. */
void psr_gz_close(psr_gz_t *g);

/* Read up to `want` bytes of `path` into buf: with read(2) from fd when gz is NULL (EINTR
 * retried), else through gz. *got = bytes read, 0 at the end of the file. PSR_ERR_IO names
 * the file: a read error, a truncated .gz, corrupt gzip data; PSR_ERR_FORMAT for trailing
 * garbage after the last gzip member. */
int psr_read_some(int fd, psr_gz_t *gz, const char *path, char *buf, size_t want, size_t *got);

#endif
