/* server: the parameter-server request loop.
 *
 * A server owns the buckets b with psr_bucket_owner(b, n_servers) == its rank, answers PULLs
 * with current rows (initial values for keys never pushed, without creating them), applies
 * each PUSH at once with Adam, and exits when every worker has sent SHUTDOWN. With dense
 * parameters on the servers, dense block b lives on server b mod n_servers and is updated by
 * the same Adam (PULL_DENSE / PUSH_DENSE); worker 0 stores their initial values first.
 * Server 0 is also the clock coordinator for bounded staleness: it keeps each worker's
 * finished-step count, grants CLOCK_WAITs once the slowest active worker has caught up, and
 * prints the job's progress lines. Any malformed message stops the whole job (psr_die).
 *
 * Never blocking on one worker: requests are taken with MPI_Improbe/MPI_Imrecv and every
 * reply (rows, dense blocks, acknowledgements, clock grants) leaves with MPI_Isend from one of
 * PS_REPLY_SLOTS buffers of its worker, kept and reused once their sends complete. A worker
 * with all its slots in flight (it is not taking its replies: stopped, swapped out), or with a
 * request whose bytes are still arriving, is gated: its further requests stay unreceived in
 * MPI while the others are served (probed source by source). A worker that follows the
 * protocol has at most two replies from one server outstanding (a prefetched pull and a dense
 * pull; a clock grant only while it has neither), so only a worker that stops taking its
 * replies is ever gated.
 *
 * Checkpoints: once a server has a CKPT message from every worker, every push sent before
 * them has been applied (wire.h rule 5), and no worker sends more until the checkpoint is
 * written; the server then joins the collective write (o->ckpt) with its rows, bucket by
 * bucket. In `ps` dense mode server 0 also gathers every server's dense blocks and writes
 * them. On resume the server loads, before serving, every bucket it owns under the new
 * server count from whichever rows file holds it, and its dense blocks.
 *
 * Memory control (embedding.*, docs/CONFIG.md): with min_count > 1 a key gets a row only at
 * its min_count-th push (a count-min sketch counts pushes of keys without rows; earlier
 * gradients are dropped) and keys without rows read as zeros; with max_rows, inserting into a
 * full table first evicts the least recently updated 1/16 of it, so the table never holds more
 * than max_rows rows; with ttl_steps, every ttl_steps/8 steps the rows whose last update is
 * more than ttl_steps behind the newest step seen are dropped. */
#ifndef PSR_PS_SERVER_H
#define PSR_PS_SERVER_H

#include <mpi.h>
#include <stdint.h>

#include "adam.h"
#include "ckpt.h"
#include "optim.h"
#include "schedule.h"
#include "table.h"
#include "tables.h"
#include "wire.h"

/* Replies in flight to one worker before its requests are left unreceived. */
#define PS_REPLY_SLOTS 4

typedef struct {
    int n_servers;          /* ranks 0 .. n_servers-1 of the communicator */
    int n_workers;          /* ranks n_servers .. n_servers+n_workers-1 */
    psr_tables_t tables;    /* the model's embedding tables (common/tables.h) */
    psr_optim_t optim;      /* hyper-parameters of every table's optimizer (kind per table) */
    uint32_t n_buckets;
    uint64_t seed;          /* row init seed (train.seed) */
    psr_adam_t adam;         /* dense blocks' Adam; adam.lr is the base rate of every table and
                                block, the schedule scales it per step */
    psr_schedule_t schedule; /* applied at the step carried by each PUSH */
    int64_t n_dense_blocks;  /* dense parameter blocks of the model (train.dense_sync: ps), or 0 */
    double progress_seconds;/* server 0: seconds between progress lines */
    int64_t expect_rows;    /* initial table capacity */
    ckpt_hook_t ckpt;       /* collective checkpoint write (ckpt.job NULL: off) */
    MPI_Comm srv_comm;      /* the servers only (gathering dense blocks) */
    int write_dense;        /* servers write dense.params (no dense parameters or `ps` mode;
                               else worker 0 writes its replica) */
    const char *resume;     /* checkpoint directory to load before serving, or NULL */
    int64_t max_rows;       /* embedding.max_rows (0: no limit) */
    int64_t min_count;      /* embedding.min_count (<= 1: admit at once) */
    int64_t ttl_steps;      /* embedding.ttl_steps (0: never expire) */
    int64_t sketch_width;   /* embedding.sketch_width */
    int half;               /* embedding.precision fp16: rows in half precision */
    /* progress lines (server 0): where the job stood when this run started, and its length,
     * for cumulative examples= and for pct= / eta= (common/metrics_file.h) */
    int64_t prog_examples0; /* examples trained before this run (resumed job), else 0 */
    int64_t prog_epoch0;    /* epoch this run starts in (0-based) */
    int prog_epoch_start;   /* this run starts at that epoch's first row (a new job, or a
                               resume on another worker count, which restarts the epoch) */
    int64_t prog_step0;     /* steps of the furthest worker before this run */
    int64_t prog_epochs;    /* train.epochs */
    int64_t prog_max_steps; /* train.max_steps (0: none) */
    /* Start-up agreement (launch/cmd_train.c): called once by every server after it loaded
     * its part of the checkpoint, with that status; returns the job-wide verdict. When it is
     * not PSR_OK the server returns it at once without serving. NULL: none. */
    int (*agree)(void *ctx, int rc);
    void *agree_ctx;
} ps_server_opts_t;

/* Load this server's buckets of every table (and dense blocks, if dense != NULL) from
 * checkpoint `dir` into rows[0 .. o->tables.n), set up as the job's tables. Exposed for the
 * benchmark. */
int ps_server_load(const ps_server_opts_t *o, int rank, const char *dir, ps_table_t *rows,
                   ps_table_t *dense, int64_t *n_loaded);
/* Write this server's rows file of table `table` for checkpoint step `step` into `stage`
 * (part of the collective write; exposed for the benchmark). */
int ps_server_write_rows(const ps_server_opts_t *o, int rank, int table, const ps_table_t *rows,
                         const char *stage, int64_t step, int level, ckpt_file_info_t *info);

/* Serve until every worker has shut down. Fills *stats for this server. PSR_OK or an error
 * (the caller stops the job). */
int ps_server_run(const ps_server_opts_t *o, MPI_Comm comm, wire_stats_t *stats);

#endif
