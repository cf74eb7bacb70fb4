/* fsutil: small file-system helpers shared by the tools and the job. */
#ifndef PSR_FSUTIL_H
#define PSR_FSUTIL_H

#include <stddef.h>
#include <zlib.h>

/* mkdir -p: create `dir` and its missing parents (mode 0777 before umask). PSR_OK when it
 * exists as a directory afterwards; PSR_ERR_IO naming the component that failed, or
 * PSR_ERR_USAGE for an empty path. */
int psr_mkdir_p(const char *dir);

/* PSR_OK when `dir` is a directory this process can create files in, else PSR_ERR_IO. */
int psr_dir_writable(const char *dir);

/* Read up to `want` bytes of `path` into buf: with read(2) from fd when gz is NULL (EINTR
 * retried), else through zlib. *got = bytes read, 0 at the end of the file. PSR_ERR_IO names
 * the file: a read error, a truncated .gz, corrupt gzip data. */
int psr_read_some(int fd, gzFile gz, const char *path, char *buf, size_t want, size_t *got);

#endif
