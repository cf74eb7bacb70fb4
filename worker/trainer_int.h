/* trainer_int: what the trainer's files share (trainer.c: the step loop, checkpoints and
 * resume; evaluate.c: evaluation by task; data.c: splits, the item catalogue and negative
 * sampling). Private to worker/. */
#ifndef PSR_WK_TRAINER_INT_H
#define PSR_WK_TRAINER_INT_H

#include <mpi.h>
#include <stdint.h>

#include "adam.h"
#include "batch.h"
#include "block.h"
#include "catalog.h"
#include "client.h"
#include "model.h"
#include "reader.h"
#include "schedule.h"
#include "split.h"
#include "trainer.h"

#define EVAL 2 /* index of the evaluation batch */

typedef struct wk_trainer {
    const cfg_t *cfg;
    const wk_train_opts_t *o;
    MPI_Comm wk_comm;
    int worker, n_workers, n_servers;
    blk_schema_t schema; /* what data.train's rows hold */
    wk_client_t client;
    wk_model_t model;
    wk_catalog_t catalog; /* training items (user-item data), empty otherwise */
    wk_split_t split;     /* which rows of data.train are held out (data.split) */
    psr_rng_t neg_rng;    /* negative sampling (this worker's stream) */
    int dense_mode;     /* -1: no dense parameters; else enum cfg_dense_sync */
    float *dm, *dv;     /* allreduce: Adam state of the dense replica (padded length) */
    float *red;         /* allreduce: reduction buffer, padded length + 1 (the active count) */
    psr_adam_t adam;
    psr_schedule_t sched;
    wk_batch_t batch[3]; /* two alternating training batches, and one for evaluation */
    float *score;      /* (batch_size, 1 + n_neg) */
    float *dscore;     /* (batch_size, 1 + n_neg) */
    int64_t known_min; /* slowest worker's finished steps, as last heard */
    int pending;       /* a training pull is in flight */
    rd_reader_t *test; /* data.test, or data.train again for a random / leave-last-out split */
    void *ev;          /* evaluate.c's buffers */
    double t_read, t_compute;
    /* where the worker is: what a checkpoint saves */
    rd_reader_t *train;
    rd_pos_t pos_of[2]; /* reader position before batch[i] was filled */
    int cur, have;      /* batch to train next, and its rows (0: none left this epoch) */
    int64_t epoch, step, examples;
    uint64_t rows_hash;
    int ckpt_on;
    int64_t last_ckpt_step; /* -1: none yet */
    double last_ckpt_time;
    int stop;           /* a preemption checkpoint was written: end the job */
    int64_t seen;       /* at an evaluation: examples all workers have trained */
    int model_ok, client_ok, batch_ok; /* what wk_train_free must free */
} trainer_t;

/* Fill b from r with the rows of split part `part` (WK_SPLIT_TRAIN or WK_SPLIT_TEST).
 * Returns rows read (0 at the end of the share) or -PSR_ERR_*. */
int wk_fill(trainer_t *t, wk_batch_t *b, rd_reader_t *r, int part);
/* Draw b's negatives (model.negatives per row, model.negative_sampler) from the catalogue,
 * from a stream of (train.seed, worker, step). */
void wk_sample_negatives(trainer_t *t, wk_batch_t *b, int64_t step);
/* d loss / d score of a forward's scores (model.h layout) into dscore; the summed loss. */
double wk_batch_loss(const wk_model_t *m, const wk_batch_t *b, const float *score,
                     float *dscore);
/* Before training: the split's per-user state and the item catalogue, built collectively
 * from data.train (a pass over the share) when the data have user and item columns. */
int wk_prepare_data(trainer_t *t);

/* Evaluate at `step` on the test rows by the task (collective over the workers); prints the
 * `eval:` line on worker 0; *met on every worker. */
int wk_evaluate(trainer_t *t, int64_t step, wk_metrics_t *met);
void wk_eval_free(trainer_t *t);

#endif
