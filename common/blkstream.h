/* blkstream: one worker's share of a list of block files (common/block.h), read ahead by a
 * prefetch thread, optionally shuffled, with an exact position for checkpoints. The drop-in
 * for rd_reader_t when the training data has been through `psrec prep`. MPI-free; the
 * prefetch thread never calls MPI, psr_die or an allocator (buffers are sized at open).
 *
 * Rules (user view in docs/BLOCKS.md, "Reading blocks"):
 *  S1. The share. The files are taken in the given order (the caller expands globs with
 *      rd_expand_paths: sorted, duplicates removed) and their blocks numbered globally in
 *      file order, g = 0 .. T-1. Worker w of W owns g in [floor(w T / W), floor((w+1) T / W)):
 *      one contiguous run, i.e. a contiguous block range in each file it touches. Shares
 *      differ by at most one block, cover every block exactly once, and depend only on
 *      (the files' block counts, w, W).
 *  S2. Order without shuffle (shuffle_buffer 0): the share's blocks in global order, rows in
 *      block order; every epoch the same.
 *  S3. Shuffle (shuffle_buffer S > 0), for epoch e (0 at open, +1 per bks_rewind):
 *      (a) the share's blocks are visited in a random permutation drawn from
 *          rng(seed, worker, e);
 *      (b) that sequence is cut greedily into windows: consecutive blocks until the window
 *          holds at least S rows (the last window may hold fewer);
 *      (c) the rows of a window come out in a random permutation drawn from
 *          rng(seed, worker, e, index in the sequence of the window's first block).
 *      Memory: S rows plus one block (the window) besides the prefetched blocks. Rows never
 *      leave their window, so S bounds how far a row can move within the block order.
 *  S4. Position (bks_pos_t, fixed-size plain data): the epoch, the index `seq` in the epoch's
 *      block sequence of the current block (S2) or window's first block (S3), and `row`,
 *      the rows already returned from that block or window; plus the (file, block) of
 *      sequence entry seq (for messages and as a check) and a fingerprint of the share. Both
 *      with and without shuffle, bks_seek(bks_tell()) continues with exactly the rows that
 *      would have come next: the block sequence and window permutation are recomputed from
 *      the seeds, not stored. A position only fits a stream with the same share fingerprint
 *      (file list and block counts, worker, worker count, shuffle_buffer, seed): otherwise
 *      bks_seek fails with PSR_ERR_CONFIG.
 *  S5. Every file must have the same schema fingerprint (block.h B2), and the one of
 *      `expect` when given. A mismatch is PSR_ERR_CONFIG naming the file.
 *  S6. Errors (a corrupt block, a failed read) come back from bks_next as -PSR_ERR_* with the
 *      message "FILE: block K: ..." in psr_err_msg() of the calling thread; they are sticky
 *      until bks_rewind or bks_seek.
 *
 * Typical trainer use (in place of rd_reader_t):
 *    rd_expand_paths(&cfg->data.train, "data.train", &files, &n);
 *    bks_opts_t o = bks_opts_default(); o.worker = w; o.n_workers = W;
 *    o.shuffle_buffer = cfg->data.shuffle_buffer; o.seed = cfg->train.seed;
 *    blk_schema_t want; prep_schema_from_config(cfg, &want); o.expect = &want;
 *    bks_open(&s, files, n, &o);
 *    while ((rc = bks_next(s, &row)) == 1) ...;  bks_rewind(s) per epoch;
 *    checkpoint: bks_tell(s, &pos) -> save sizeof pos bytes; resume: bks_seek(s, &pos). */
#ifndef PSR_BLKSTREAM_H
#define PSR_BLKSTREAM_H

#include <stdint.h>

#include "block.h"
#include "reader.h"

#define BKS_DEFAULT_PREFETCH 3 /* blocks decoded ahead */
#define BKS_MAX_PREFETCH 64
#define BKS_POS_MAGIC 0x53504b42u /* "BKPS" */
#define BKS_POS_VERSION 1

typedef struct {
    int worker, n_workers;   /* this share: worker in [0, n_workers) */
    int shuffle_buffer;      /* rows, 0 = off (data.shuffle_buffer) */
    uint64_t seed;           /* train.seed */
    int prefetch;            /* blocks decoded ahead by a thread, 0 = no thread (synchronous) */
    const blk_schema_t *expect; /* schema every file must have, or NULL (S5) */
} bks_opts_t;

/* worker 0 of 1, no shuffle, seed 1, prefetch BKS_DEFAULT_PREFETCH, expect NULL. */
bks_opts_t bks_opts_default(void);

/* Where a stream is (S4). Plain data of a fixed size: save and restore it as bytes. */
typedef struct {
    uint32_t magic;    /* BKS_POS_MAGIC */
    uint32_t version;  /* BKS_POS_VERSION */
    uint64_t share_fp; /* the share it belongs to */
    uint64_t epoch;    /* rewinds since open (seeds the shuffle) */
    uint64_t seq;      /* index in the epoch's block sequence: current block or window start */
    uint64_t row;      /* rows returned from that block (no shuffle) or window (shuffle) */
    int32_t file;      /* file index of block sequence entry seq, -1 at the end of the share */
    uint32_t block;    /* its block index within that file */
} bks_pos_t;
_Static_assert(sizeof(bks_pos_t) == 48, "bks_pos_t is saved as bytes: keep its layout");

/* A contiguous range of blocks of one file (S1). */
typedef struct {
    int32_t file;
    int64_t first, count;
} bks_range_t;

/* The share of worker w of W over files with blocks[i] blocks each (S1) into ranges (at most
 * n_files entries, in file order, none empty); returns the number of ranges. Pure. */
int bks_share(const int64_t *blocks, int n_files, int w, int n_workers, bks_range_t *ranges);

typedef struct bks bks_t;

/* Open the share of o->worker over `files` (copied). Reads every file's header and trailer
 * and the index of the files in the share; starts the prefetch thread when o->prefetch > 0.
 * Errors name the file; *out is NULL. */
int bks_open(bks_t **out, char *const *files, int n_files, const bks_opts_t *o);

/* Next row as rd_row_t; the schema must be Criteo-shaped (blk_schema_is_criteo), else
 * PSR_ERR_CONFIG. Returns 1 for a row, 0 at the end of the share, or -PSR_ERR_* (S6). */
int bks_next(bks_t *s, rd_row_t *row);
/* Next row of any schema; row's arrays point into the stream, valid until its next call. */
int bks_next_row(bks_t *s, blk_row_t *row);

/* Start the next epoch from the beginning of the share (a new permutation with shuffle). */
int bks_rewind(bks_t *s);
/* The position after the last row returned (S4). */
void bks_tell(const bks_t *s, bks_pos_t *pos);
/* Continue from a position from bks_tell of a stream over the same share. PSR_ERR_CONFIG
 * (and the stream unchanged) when it does not fit. */
int bks_seek(bks_t *s, const bks_pos_t *pos);

const blk_schema_t *bks_schema(const bks_t *s);
int64_t bks_rows_read(const bks_t *s);   /* rows returned since open */
int64_t bks_bad_rows(const bks_t *s);    /* always 0: blocks hold well-formed rows only */
int64_t bks_share_rows(const bks_t *s);  /* rows in this worker's share (one epoch) */
int64_t bks_share_blocks(const bks_t *s);
int64_t bks_total_rows(const bks_t *s);  /* rows in all files */
/* Seconds the consumer spent waiting for a block since open (0 when prefetch keeps up). */
double bks_wait_seconds(const bks_t *s);

/* Stop the thread, close and free; accepts NULL. */
void bks_close(bks_t *s);

#endif
