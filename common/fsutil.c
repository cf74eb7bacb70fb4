/* fsutil: see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int psr_read_some(int fd, gzFile gz, const char *path, char *buf, size_t want, size_t *got)
{
    *got = 0;
    if (want > INT_MAX / 2) want = INT_MAX / 2;
    if (!gz) {
        ssize_t n;
        do n = read(fd, buf, want);
        while (n < 0 && errno == EINTR);
        PSR_RETURN_IF(n < 0, PSR_ERR_IO, "%s: read error: %s", path, strerror(errno));
        *got = (size_t)n;
        return PSR_OK;
    }
    int n = gzread(gz, buf, (unsigned)want);
    int zerr = Z_OK;
    const char *zmsg = NULL;
    if (n <= 0) zmsg = gzerror(gz, &zerr);
    if (n < 0 || zerr == Z_BUF_ERROR || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        if (zerr == Z_ERRNO)
            return PSR_ERR(PSR_ERR_IO, "%s: read error: %s", path, strerror(errno));
        if (zerr == Z_BUF_ERROR)
            return PSR_ERR(PSR_ERR_IO, "%s: truncated gzip file (unexpected end of file)", path);
        return PSR_ERR(PSR_ERR_IO, "%s: corrupt gzip data: %s", path,
                       zmsg && *zmsg ? zmsg : "unknown zlib error");
    }
    *got = (size_t)n;
    return PSR_OK;
}
