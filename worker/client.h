/* client: the worker side of PULL and PUSH, split-phase so the trainer can overlap them
 * with computation (start now, wait later).
 *
 * Invariants: at most one pull and one push are in flight; a buffer grows (by doubling) only
 * before the request that needs it is posted, never while one uses it. A pull's replies land
 * in the caller's rows array at the keyset's row offsets. */
#ifndef PSR_WK_CLIENT_H
#define PSR_WK_CLIENT_H

#include <mpi.h>
#include <stdint.h>

#include "tables.h"

/* What a pull or push carries: n keys grouped by server, then by table within a server
 * (wire.h rule 3), with the float offset of each key's row (rows of different tables have
 * different widths). Owned by the caller (worker/batch.h builds it). */
typedef struct {
    const uint64_t *keys;     /* (n) */
    const int64_t *srv_off;   /* (n_servers + 1): server s's keys are [srv_off[s], srv_off[s+1]) */
    const uint32_t *srv_cnt;  /* (n_servers, n_tables): keys per server and table */
    const int64_t *roff;      /* (n + 1): key u's row is floats [roff[u], roff[u+1]) */
} wk_keyset_t;

typedef struct {
    MPI_Comm comm;
    int rank;
    int n_servers;
    int n_tables;
    int32_t widths[PSR_MAX_TABLES];
    char **pull_buf;        /* (n_servers) header + counts + keys */
    char **reply_buf;       /* (n_servers) header + counts + rows */
    char **push_buf;        /* (n_servers) header + counts + keys + grads */
    size_t *pull_cap, *reply_cap, *push_cap; /* (n_servers) bytes allocated */
    MPI_Request *pull_req;  /* (n_servers) */
    MPI_Request *reply_req; /* (n_servers) */
    MPI_Request *push_req;  /* (n_servers) */
    char **dense_buf;       /* (n_servers) header + block ids + blocks, or NULL */
    MPI_Request *dense_req; /* (n_servers) dense pushes in flight */
    char *dense_reply;      /* header + the most blocks any server holds */
    wk_keyset_t pull_ks;    /* the pull in flight (its arrays stay the caller's) */
    float *pull_rows;       /* destination of the pull in flight */
    int64_t pull_step;
    double wait_seconds;    /* time blocked in pull/push waits */
} wk_client_t;

/* widths[t]: floats per row of table t (common/tables.h). Buffers grow with the batches. */
void wk_client_init(wk_client_t *c, MPI_Comm comm, int n_servers, const int32_t *widths,
                    int n_tables);
void wk_client_free(wk_client_t *c); /* waits for nothing: call wk_client_push_wait first */

/* Start pulling ks's keys from their servers into rows (at ks->roff offsets). ks's arrays and
 * rows must stay valid until wk_client_pull_wait returns. */
void wk_client_pull_start(wk_client_t *c, const wk_keyset_t *ks, float *rows, int64_t step);
/* Wait for the pull in flight; checks each reply (PSR_OK or PSR_ERR_WIRE). */
int wk_client_pull_wait(wk_client_t *c);

/* Push grads (laid out as ks->roff) of ks's keys, after the previous push's sends finished
 * (the buffers are reused). Returns at once; the server applies it when it arrives. */
void wk_client_push(wk_client_t *c, const wk_keyset_t *ks, const float *grads, int64_t step);
/* Wait until the push's buffers are free. */
void wk_client_push_wait(wk_client_t *c);

/* Dense blocks (train.dense_sync: ps): block b lives on server b mod n_servers.
 * wk_client_dense_init stores initial values (worker 0 only, before any other worker pulls;
 * waits for every server's acknowledgement). theta is (n_blocks * WIRE_DENSE_BLOCK). */
void wk_client_dense_init(wk_client_t *c, const float *theta, int64_t n_blocks);
/* Pull every block into theta (blocking; counts as waiting time). PSR_OK or PSR_ERR_WIRE. */
int wk_client_dense_pull(wk_client_t *c, float *theta, int64_t n_blocks, int64_t step);
/* Push gradients of every block (grad stays in use until the next dense push or
 * wk_client_push_wait). */
void wk_client_dense_push(wk_client_t *c, const float *grad, int64_t n_blocks, int64_t step);

/* Blocking small control messages to server 0 (CLOCK, CLOCK_WAIT, SHUTDOWN). */
void wk_client_clock(wk_client_t *c, int64_t finished_steps, int64_t examples, double loss_sum,
                     uint32_t flags);
/* Ask server 0 until every active worker has finished `need` steps; returns its answer. */
int64_t wk_client_clock_wait(wk_client_t *c, int64_t need);
/* A RESUME clock: blocks until server 0 acknowledges it. */
void wk_client_clock_resume(wk_client_t *c, int64_t finished_steps);
void wk_client_shutdown(wk_client_t *c);
/* Tell every server this worker stopped after `finished_steps` for the checkpoint at job step
 * `ckpt_step` (after wk_client_push_wait; wire.h, CKPT). */
void wk_client_ckpt(wk_client_t *c, int64_t finished_steps, int64_t ckpt_step);

#endif
