/* log: timestamped lines to stdout/stderr with the rank and role, and a monotonic clock.
 * Progress and results go to stdout; warnings and errors to stderr. */
#ifndef PSR_LOG_H
#define PSR_LOG_H

/* Set once after MPI_Init: rank and role ("server", "worker", or NULL for tools). */
void psr_log_set_rank(int rank, const char *role);
/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double psr_now(void);

void psr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void psr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
