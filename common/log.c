/* log: see log.h. Each line is written with one fprintf so lines from ranks do not
 * interleave mid-line under mpirun's output forwarding. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int log_rank = -1;
static const char *log_role;

void psr_log_set_rank(int rank, const char *role)
{
    log_rank = rank;
    log_role = role;
}

double psr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void vlog(FILE *f, const char *level, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (log_rank >= 0)
        fprintf(f, "psrec[%d %s]: %s%s\n", log_rank, log_role ? log_role : "", level, msg);
    else
        fprintf(f, "psrec: %s%s\n", level, msg);
    fflush(f);
}

void psr_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(stdout, "", fmt, ap);
    va_end(ap);
}

void psr_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(stderr, "warning: ", fmt, ap);
    va_end(ap);
}
