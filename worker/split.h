/* split: which rows of data.train are held out for evaluation (data.split).
 *
 * Rules (docs/EVALUATION.md):
 *  S1. files: data.train is all training rows, data.test all test rows.
 *  S2. random: a row is held out when u < data.test_fraction, u a uniform number in [0, 1)
 *      hashed from (train.seed, the row's user key, item key, time, label). The decision is a
 *      function of the row's content only: it does not depend on the worker count, the order
 *      or the files; identical rows fall on the same side.
 *  S3. leave_last_out: a user's held-out interaction is the one with the largest (time, item
 *      key) among their rows; every row equal to it in (user, item, time) is held out. Users
 *      with one interaction keep it for training (nothing to train them on otherwise) and are
 *      not evaluated. Needs a time column. The per-user latest interaction is found by one
 *      pass over data.train before training and merged over the workers: every worker holds
 *      24 bytes per user of the whole data set.
 *  S4. With the top-K task, rows that are not positive interactions (label <= 0, or below
 *      data.min_rating) are neither trained on nor evaluated. */
#ifndef PSR_WK_SPLIT_H
#define PSR_WK_SPLIT_H

#include <mpi.h>
#include <stdint.h>

#include "config.h"
#include "reader.h"

enum { WK_SPLIT_TRAIN, WK_SPLIT_TEST, WK_SPLIT_SKIP };

typedef struct {
    int kind;             /* enum cfg_split */
    double fraction;      /* random */
    uint64_t seed;
    int user_field, item_field;
    int topk;             /* S4 applies */
    double min_rating;
    /* leave_last_out: open addressing user -> latest (time, item) */
    uint64_t mask;        /* slots - 1 */
    uint64_t *user;       /* (slots); a slot is empty while its count is 0 */
    int64_t *time;        /* (slots) */
    uint64_t *item;       /* (slots) */
    int64_t *count;       /* (slots) interactions of the user */
    int64_t n_users;
} wk_split_t;

/* Set up from the config and the schema (no state yet). */
void wk_split_init(wk_split_t *s, const cfg_t *c, int user_field, int item_field, int topk);
void wk_split_free(wk_split_t *s); /* accepts a zeroed split */

/* The user's / item's key of a row (its first feature of that field), 0 when absent. */
uint64_t wk_row_field_key(const rd_row_t *row, int field);

/* Record a training-data row for S3 (before wk_split_merge). */
void wk_split_observe(wk_split_t *s, const rd_row_t *row);
/* Merge every worker's observations (collective over comm): afterwards each worker knows
 * every user's latest interaction. */
void wk_split_merge(wk_split_t *s, MPI_Comm comm);
/* WK_SPLIT_TRAIN, WK_SPLIT_TEST or WK_SPLIT_SKIP (S4) for a row of data.train; a row of
 * data.test (split files) is WK_SPLIT_TEST unless S4 skips it. */
int wk_split_part(const wk_split_t *s, const rd_row_t *row, int from_test_file);

#endif
