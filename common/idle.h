/* idle: how a rank waits when it has nothing to do (cluster.idle, docs/CONFIG.md).
 *
 * MPI libraries busy-poll: a rank blocked in a receive spins on its core. That is the fastest
 * way to wait when every rank has a core of its own, and the slowest when ranks share cores
 * (an oversubscribed run, a laptop, a loaded CI machine): the spinning server takes the core
 * its worker needs to compute the step the server is waiting for. psrec's own wait loops (the
 * server's request loop, a worker's pull, push and clock waits) therefore poll through
 * psr_idle_wait, which under "yield" backs off from spinning to sched_yield to sleeps that
 * double up to PSR_IDLE_MAX_SLEEP_US, and Open MPI's own blocking calls (collectives) yield
 * through its mpi_yield_when_idle parameter, which must be in the environment before
 * MPI_Init (psr_idle_prepare). The mode is one per process: set once, read everywhere. */
#ifndef PSR_IDLE_H
#define PSR_IDLE_H

/* cluster.idle (enum cfg_idle of common/config.h has the same values). */
enum psr_idle_mode { PSR_IDLE_AUTO, PSR_IDLE_POLL, PSR_IDLE_YIELD, PSR_IDLE_MODE_COUNT };

#define PSR_IDLE_SPINS 64          /* idle rounds that only poll, before any yield */
#define PSR_IDLE_YIELDS 64         /* then rounds that sched_yield */
#define PSR_IDLE_MIN_SLEEP_US 16   /* then sleeps, doubling from this ... */
#define PSR_IDLE_MAX_SLEEP_US 1024 /* ... up to this while still idle */

/* A wait in progress: consecutive rounds that found nothing to do. */
typedef struct {
    unsigned rounds;
} psr_idle_t;

/* Before MPI_Init: resolve `mode` (AUTO: YIELD when this node runs more ranks than it has
 * online CPUs, from Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, else POLL), make it this process's
 * mode, and put Open MPI's mpi_yield_when_idle in the environment to match (an explicit POLL
 * or YIELD overrides one already there; AUTO leaves it alone). local_ranks and cpus (either
 * may be NULL) get what was seen (0 when unknown). Returns the resolved mode. */
int psr_idle_prepare(int mode, int *local_ranks, int *cpus);
/* This process's resolved mode (PSR_IDLE_POLL until psr_idle_prepare or psr_idle_set). */
int psr_idle_mode(void);
void psr_idle_set(int mode); /* POLL or YIELD, without touching the environment (tests) */

/* One round of a wait found nothing: under YIELD spin, yield or sleep as the back-off says;
 * under POLL return at once. */
void psr_idle_wait(psr_idle_t *w);
/* Work was found: the next idle round starts the back-off again. */
static inline void psr_idle_busy(psr_idle_t *w) { w->rounds = 0; }

#endif
