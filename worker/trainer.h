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
 * epoch, so workers with unequal shares never deadlock.
 *
 * Control points: evaluation steps, checkpoint steps and, with checkpoints on, every
 * WK_POLL_STEPS steps. There the workers agree (one MPI_Allreduce) on the step and on
 * whether a checkpoint is due by time (worker 0's clock) or a preemption signal arrived on
 * any worker. A checkpoint: every worker waits for its pull and pushes, sends CKPT to every
 * server and joins the collective write with its state (epoch, steps, examples, the reader
 * position of its first untrained row, RNG); worker 0 adds global.state and, in allreduce
 * mode, the dense replica. After a preemption checkpoint the job ends (res->preempted).
 *
 * User-item data (a user and an item column): before the first epoch the workers read their
 * shares once to build the item catalogue (and, for data.split leave_last_out, every user's
 * latest interaction); implicit-feedback models draw model.negatives per row from it. */
#ifndef PSR_WK_TRAINER_H
#define PSR_WK_TRAINER_H

#include <mpi.h>
#include <stdint.h>

#include "ckpt.h"
#include "config.h"
#include "schedule.h"

#define WK_POLL_STEPS 16 /* steps between polls for signals and checkpoint.every_seconds */

/* An evaluation's figures (docs/EVALUATION.md defines each). */
typedef struct {
    int task;            /* enum wk_task; -1: nothing was evaluated (no test rows) */
    int64_t examples;    /* test rows (ctr, rating) or ranked lists (topk) */
    double auc, logloss; /* ctr */
    double rmse, mae;    /* rating */
    int k, protocol, negatives; /* topk: eval.k, eval.protocol, eval.negatives */
    double hr, ndcg, precision, recall, f1, map, coverage, novelty; /* topk, @k */
    int64_t users;       /* topk: users with held-out items */
    int64_t unknown;     /* topk: held-out interactions whose item never occurs in training */
} wk_metrics_t;

typedef struct {
    wk_metrics_t met;    /* final evaluation (met.task -1 without test rows) */
    int64_t examples;    /* training examples over all workers, since the job's first run */
    int64_t run_examples;/* of which trained by this run (after a resume, fewer) */
    int64_t steps;       /* steps of the busiest worker */
    int64_t bad_rows;    /* malformed rows skipped by every read of data.train and data.test,
                            all workers (a row counts once per pass that read it) */
    double seconds;      /* training wall time, start to the end of the last epoch, slowest
                            worker */
    double own_seconds;  /* the same for this worker: what its split below adds up to */
    double read_seconds, compute_seconds, wait_seconds; /* this worker's split */
    uint64_t rows_hash;  /* sum of wk_row_hash over every trained example, all workers */
    uint64_t dense_digest; /* digest of the allreduce dense replica (0 otherwise) */
    int preempted;       /* stopped by a signal after the checkpoint at ckpt_step */
    int64_t ckpt_step;   /* last checkpoint written or resumed from, -1 if none */
} wk_result_t;

typedef struct {
    ckpt_hook_t ckpt;   /* collective checkpoint write (ckpt.job NULL: checkpoints off) */
    const char *resume; /* checkpoint directory to resume from, or NULL */
    psr_schedule_t sched; /* the learning-rate schedule as resolved for this job (schedule.h) */
    /* Start-up agreement (launch/cmd_train.c): called once by every worker after its data
     * was prepared and the checkpoint read, with that status; returns the job-wide verdict.
     * NULL: none. */
    int (*agree)(void *ctx, int rc);
    void *agree_ctx;
} wk_train_opts_t;

typedef struct wk_trainer wk_trainer_t;

/* Open this worker's inputs: its shares of data.train and data.test (a text share's first row
 * is read, so a missing file, a format training does not accept or a bad first file is found
 * here) and the model. No communication, so the caller can agree on the outcome with every
 * rank. *out is set even on error (free it with wk_train_free). */
int wk_train_open(wk_trainer_t **out, const cfg_t *cfg, MPI_Comm wk_comm);

/* Run worker training on an opened trainer. ps_comm: servers are ranks [0, n_servers),
 * workers after them; the trainer's wk_comm: the workers only. Calls o->agree once after the
 * data and the checkpoint were read. Fills *res (global figures valid on every worker).
 * Returns PSR_OK or an error (the caller stops the job). */
int wk_train_run(wk_trainer_t *t, const wk_train_opts_t *o, MPI_Comm ps_comm, int n_servers,
                 wk_result_t *res);
void wk_train_free(wk_trainer_t *t); /* accepts NULL */

/* What checkpoint `dir` says about the job's progress (its global.state): examples trained
 * since the job's first run, the epoch a resume continues with, and the furthest worker's
 * steps. PSR_OK or an error naming the file. */
int wk_ckpt_progress(const char *dir, int64_t *examples, int64_t *epoch, int64_t *steps);

#endif
