/* ckjob: the job-level side of checkpoints (docs/CHECKPOINTS.md): the collective write that
 * servers and workers call through a ckpt_hook_t, and the choice of a checkpoint to resume.
 *
 * Write protocol (every rank, same step):
 *  1. rank 0 stages ROOT/ckpt-<step>.tmp and broadcasts its path (or its error);
 *  2. every rank writes its files into it (its ckpt_part_fn) and sends rank 0 their entries;
 *  3. rank 0 builds the manifest (fingerprints, counts, files, summed digest) and commits
 *     (ckpt_commit: rename, `latest`, pruning to checkpoint.keep), or removes the stage if
 *     any rank failed; the outcome is broadcast, so every rank returns the same status. */
#ifndef PSR_CKJOB_H
#define PSR_CKJOB_H

#include <mpi.h>
#include <stdint.h>

#include "block.h"
#include "ckpt.h"
#include "config.h"
#include "schedule.h"
#include "tables.h"

typedef struct {
    MPI_Comm comm;            /* every rank of the job (a duplicate of MPI_COMM_WORLD) */
    int rank, n_servers, n_workers;
    char root[CFG_PATH_MAX];  /* checkpoint.dir */
    int keep, level;
    uint32_t n_buckets;
    int width;                /* table 0's */
    int n_tables;
    ckpt_table_t tables[PSR_MAX_TABLES];
    char model_desc[1024], schema_desc[1024];
    uint64_t model_fp, schema_fp;
    char source[CFG_SOURCE_MAX];
    int64_t last_step;        /* step of the last checkpoint this job committed, or -1 */
    psr_sched_base_t sched_base; /* where examples-based schedules count from (schedule.h),
                                    written to each manifest as `schedule_base` */
} ckjob_t;

/* Set up from the broadcast config (checkpoint.dir non-empty) and the data schema. */
void ckjob_init(ckjob_t *j, const cfg_t *c, const blk_schema_t *s, MPI_Comm comm,
                int n_servers, int n_workers);
/* The hook servers and workers call (ckpt_hook_t.run). */
int ckjob_run(void *job, int64_t step, ckpt_part_fn part, void *ctx);

/* Rank 0, before training: `resume` is "auto" or a checkpoint directory. On PSR_OK *dir is
 * the malloc'd checkpoint to load, or NULL for a fresh start (auto with none: said so).
 * Errors (PSR_ERR_CONFIG / PSR_ERR_FORMAT / PSR_ERR_IO) name the checkpoint and the problem:
 * no usable checkpoint, or one written for another model, feature schema or bucket count. */
int ckjob_choose(const cfg_t *c, const blk_schema_t *s, const char *resume, char **dir);

/* The tables of the model of c as a checkpoint manifest lists them. Returns their count. */
int ckjob_tables(const cfg_t *c, const blk_schema_t *s, ckpt_table_t *out);

#endif
