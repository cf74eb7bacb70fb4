/* idle: see idle.h. */
#include "idle.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int idle_mode = PSR_IDLE_POLL;

/* Ranks on this node as the launcher says (Open MPI's mpirun, then MPICH's Hydra), or 0. */
static int local_ranks(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v) continue;
        char *end;
        long n = strtol(v, &end, 10);
        if (*end == '\0' && n > 0 && n < 1L << 30) return (int)n;
    }
    return 0;
}

int psr_idle_prepare(int mode, int *n_local, int *n_cpus)
{
    const int local = local_ranks();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 0) cpus = 0;
    if (n_local) *n_local = local;
    if (n_cpus) *n_cpus = (int)cpus;
    if (mode == PSR_IDLE_AUTO) {
        mode = local > 0 && cpus > 0 && local > cpus ? PSR_IDLE_YIELD : PSR_IDLE_POLL;
        /* Open MPI already yields in its own calls when its launcher knows the node is
         * oversubscribed; say so explicitly for the cases it cannot see */
        if (mode == PSR_IDLE_YIELD) setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    } else if (mode == PSR_IDLE_YIELD) {
        setenv("OMPI_MCA_mpi_yield_when_idle", "1", 1);
    } else {
        mode = PSR_IDLE_POLL;
        setenv("OMPI_MCA_mpi_yield_when_idle", "0", 1);
    }
    idle_mode = mode;
    return mode;
}

int psr_idle_mode(void) { return idle_mode; }

void psr_idle_set(int mode) { idle_mode = mode == PSR_IDLE_YIELD ? PSR_IDLE_YIELD : PSR_IDLE_POLL; }

void psr_idle_wait(psr_idle_t *w)
{
    if (idle_mode != PSR_IDLE_YIELD) return;
    const unsigned r = w->rounds++;
    if (r < PSR_IDLE_SPINS) return;
    if (r < PSR_IDLE_SPINS + PSR_IDLE_YIELDS) {
        sched_yield();
        return;
    }
    unsigned k = r - PSR_IDLE_SPINS - PSR_IDLE_YIELDS; /* sleeps so far */
    long us = PSR_IDLE_MIN_SLEEP_US;
    while (k-- > 0 && us < PSR_IDLE_MAX_SLEEP_US) us *= 2;
    if (us > PSR_IDLE_MAX_SLEEP_US) us = PSR_IDLE_MAX_SLEEP_US;
    if (w->rounds > PSR_IDLE_SPINS + PSR_IDLE_YIELDS + 64) w->rounds--; /* no overflow */
    struct timespec ts = {0, us * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
