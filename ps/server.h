/* server: the parameter-server request loop.
 *
 * A server owns the buckets b with psr_bucket_owner(b, n_servers) == its rank, answers PULLs
 * with current rows (initial values for keys never pushed, without creating them), applies
 * each PUSH at once with Adam, and exits when every worker has sent SHUTDOWN. With dense
 * parameters on the servers, dense block b lives on server b mod n_servers and is updated by
 * the same Adam (PULL_DENSE / PUSH_DENSE); worker 0 stores their initial values first.
 * Server 0 is also the clock coordinator for bounded staleness: it keeps each worker's
 * finished-step count, grants CLOCK_WAITs once the slowest active worker has caught up, and
 * prints the job's progress lines. Any malformed message stops the whole job (psr_die). */
#ifndef PSR_PS_SERVER_H
#define PSR_PS_SERVER_H

#include <mpi.h>
#include <stdint.h>

#include "adam.h"
#include "schedule.h"
#include "wire.h"

typedef struct {
    int n_servers;          /* ranks 0 .. n_servers-1 of the communicator */
    int n_workers;          /* ranks n_servers .. n_servers+n_workers-1 */
    int width;              /* floats per row */
    uint32_t n_buckets;
    uint64_t seed;          /* row init seed */
    float init_std;
    psr_adam_t adam;         /* adam.lr is the base rate; the schedule scales it per step */
    psr_schedule_t schedule; /* applied at the step carried by each PUSH */
    int64_t n_dense_blocks;  /* dense parameter blocks of the model (train.dense_sync: ps), or 0 */
    double progress_seconds;/* server 0: seconds between progress lines */
    int64_t expect_rows;    /* initial table capacity */
} ps_server_opts_t;

/* Serve until every worker has shut down. Fills *stats for this server. PSR_OK or an error
 * (the caller stops the job). */
int ps_server_run(const ps_server_opts_t *o, MPI_Comm comm, wire_stats_t *stats);

#endif
