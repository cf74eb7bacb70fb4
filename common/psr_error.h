/* psr_error: the one error enum of psrec, and a per-thread "last error" record.
 *
 * Library code returns an int status (PSR_OK == 0, otherwise a psr_err_t) and forwards it.
 * The macros below record file:line and a formatted message the first time an error is
 * raised, so the caller that finally reports it can print the root cause, not a generic
 * string. Invariants: psr_err_msg() is never NULL; psr_err_clear() resets it. */
#ifndef PSR_ERROR_H
#define PSR_ERROR_H

#include <stddef.h>
#include <stdlib.h> /* free() for what psr_x* allocate */

typedef enum {
    PSR_OK = 0,
    PSR_ERR_CONFIG,   /* bad config file, key, value or CLI flag */
    PSR_ERR_USAGE,    /* bad command line */
    PSR_ERR_IO,       /* open/read/write/fsync failed */
    PSR_ERR_DATA,     /* malformed data rows past the allowed count */
    PSR_ERR_FORMAT,   /* a file whose content is not what its format promises */
    PSR_ERR_WIRE,     /* a malformed message */
    PSR_ERR_NOMEM,    /* allocation failed */
    PSR_ERR_MPI,      /* an MPI call failed or the rank layout does not fit */
    PSR_ERR_INTERNAL, /* a bug: an invariant did not hold */
    PSR_ERR_COUNT
} psr_err_t;

/* Name of an error code ("config error", ...); never NULL. */
const char *psr_strerror(int code);

/* Record an error (printf-style message) with its origin; returns code so it can be
 * written `return psr_err_set(...)`. A later call overwrites the record. */
int psr_err_set(int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Message of the last recorded error on this thread ("" when none). */
const char *psr_err_msg(void);
/* "file:line" of the code that raised the last error ("" when none). */
const char *psr_err_where(void);
void psr_err_clear(void);

#define PSR_ERR(code, ...) psr_err_set((code), __FILE__, __LINE__, __VA_ARGS__)
/* Return `code` with a message if `cond` holds. */
#define PSR_RETURN_IF(cond, code, ...)                                                     \
    do {                                                                                   \
        if (cond) return psr_err_set((code), __FILE__, __LINE__, __VA_ARGS__);             \
    } while (0)
/* Forward a non-zero status unchanged (the message recorded deeper stays). */
#define PSR_FORWARD(expr)                                                                  \
    do {                                                                                   \
        int psr_rc_ = (expr);                                                              \
        if (psr_rc_ != PSR_OK) return psr_rc_;                                             \
    } while (0)

/* malloc/calloc/realloc that abort the process (via psr_die) naming the size on failure.
 * Used where running out of memory cannot be handled better than a clear stop. */
void *psr_xmalloc(size_t bytes);
void *psr_xcalloc(size_t n, size_t size);
void *psr_xrealloc(void *p, size_t bytes);
char *psr_xstrdup(const char *s);

/* Print "psrec: error: <msg>" to stderr and stop the whole job: MPI_Abort when MPI is
 * initialized (so no rank is left waiting), exit(status) otherwise. Set by launch/ via
 * psr_set_die_hook; common/ does not link MPI itself. */
_Noreturn void psr_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
typedef void (*psr_die_hook_t)(int status);
void psr_set_die_hook(psr_die_hook_t hook);

#endif
