/* psr_error: error codes, last-error record, checked allocation, job-wide stop. */
#include "psr_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const err_names[] = {
    "ok",           "config error",  "usage error", "I/O error",    "data error",
    "format error", "message error", "out of memory", "MPI error", "internal error",
};
_Static_assert(sizeof err_names / sizeof err_names[0] == PSR_ERR_COUNT, "err_names");

static _Thread_local char err_msg[1024];
static _Thread_local char err_where[160];
static psr_die_hook_t die_hook;

const char *psr_strerror(int code)
{
    if (code < 0 || code >= PSR_ERR_COUNT) return "unknown error";
    return err_names[code];
}

int psr_err_set(int code, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    snprintf(err_where, sizeof err_where, "%s:%d", file, line);
    return code;
}

const char *psr_err_msg(void) { return err_msg; }
const char *psr_err_where(void) { return err_where; }
void psr_err_clear(void)
{
    err_msg[0] = '\0';
    err_where[0] = '\0';
}

void psr_set_die_hook(psr_die_hook_t hook) { die_hook = hook; }

_Noreturn void psr_die(int status, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "psrec: error: %s\n", buf);
    fflush(stderr);
    fflush(stdout);
    if (die_hook) die_hook(status);
    exit(status);
}

void *psr_xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) psr_die(1, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *psr_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) psr_die(1, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *psr_xrealloc(void *p, size_t bytes)
{
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) psr_die(1, "out of memory reallocating to %zu bytes", bytes);
    return q;
}

char *psr_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = psr_xmalloc(n);
    memcpy(d, s, n);
    return d;
}
