/* trainer: a worker's training and evaluation loop.
 *
 * One step: fill a batch from this worker's share, deduplicate its keys, wait until the
 * staleness bound allows the step, PULL rows, forward and backward, clip by global norm,
 * PUSH per-key gradient sums (without waiting for the update), send a CLOCK to server 0.
 * With train.max_staleness >= 1 the next batch is read and its PULL issued before the
 * current batch is computed (the rows it reads may miss this worker's last update, which
 * the bound allows); with 0 nothing overlaps, so one worker is deterministic bit for bit.
 *
 * Collective points among workers (evaluations, epoch ends) use one agreement protocol:
 * each worker contributes its step at an evaluation point, or "none left" once its share of
 * the epoch is exhausted; MPI_Allreduce(MIN) tells everyone whether to evaluate or to end the
 * epoch, so workers with unequal shares never deadlock. */
#ifndef PSR_WK_TRAINER_H
#define PSR_WK_TRAINER_H

#include <mpi.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    double auc;          /* final evaluation (NaN without data.test) */
    double logloss;
    int64_t test_examples;
    int64_t examples;    /* training examples over all workers */
    int64_t steps;       /* steps of the busiest worker */
    double seconds;      /* training wall time, start to the end of the last epoch */
    double read_seconds, compute_seconds, wait_seconds; /* this worker's split */
} wk_result_t;

/* Run worker training. ps_comm: servers are ranks [0, n_servers), workers after them;
 * wk_comm: the workers only. Fills *res (global figures valid on every worker).
 * Returns PSR_OK or an error (the caller stops the job). */
int wk_train(const cfg_t *cfg, MPI_Comm ps_comm, MPI_Comm wk_comm, int n_servers,
             wk_result_t *res);

#endif
