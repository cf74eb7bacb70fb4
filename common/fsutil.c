/* fsutil: see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
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
