/* split: see split.h. */
#include "split.h"

#include <string.h>

#include "hash.h"
#include "psr_error.h"

void wk_split_init(wk_split_t *s, const cfg_t *c, int user_field, int item_field, int topk)
{
    memset(s, 0, sizeof *s);
    s->kind = c->data.split;
    s->fraction = c->data.test_fraction;
    s->seed = c->train.seed;
    s->user_field = user_field;
    s->item_field = item_field;
    s->topk = topk;
    s->min_rating = c->data.min_rating;
}

void wk_split_free(wk_split_t *s)
{
    if (!s) return;
    free(s->user);
    free(s->time);
    free(s->item);
    free(s->count);
    memset(s, 0, sizeof *s);
}

uint64_t wk_row_field_key(const rd_row_t *row, int field)
{
    if (field < 0) return 0;
    for (int32_t j = 0; j < row->n_feat; j++)
        if (row->field[j] == field) return row->key[j];
    return 0;
}

static void alloc_slots(wk_split_t *s, uint64_t slots)
{
    s->mask = slots - 1;
    s->user = psr_xmalloc(slots * sizeof *s->user);
    s->time = psr_xmalloc(slots * sizeof *s->time);
    s->item = psr_xmalloc(slots * sizeof *s->item);
    s->count = psr_xcalloc(slots, sizeof *s->count);
}

static uint64_t find_slot(const wk_split_t *s, uint64_t user)
{
    uint64_t i = psr_mix64(user ^ 0x75736572ULL) & s->mask;
    while (s->count[i] && s->user[i] != user) i = (i + 1) & s->mask;
    return i;
}

/* (t1, i1) later than (t0, i0). */
static int later(int64_t t1, uint64_t i1, int64_t t0, uint64_t i0)
{
    return t1 > t0 || (t1 == t0 && i1 > i0);
}

/* Add `n` interactions of `user` whose latest is (time, item). */
static void add(wk_split_t *s, uint64_t user, int64_t time, uint64_t item, int64_t n)
{
    if (!s->user) alloc_slots(s, 1024);
    if (2 * (uint64_t)(s->n_users + 1) > s->mask + 1) { /* grow: rehash into twice the slots */
        wk_split_t old = *s;
        alloc_slots(s, 2 * (old.mask + 1));
        s->n_users = 0;
        for (uint64_t i = 0; i <= old.mask; i++)
            if (old.count[i]) add(s, old.user[i], old.time[i], old.item[i], old.count[i]);
        free(old.user);
        free(old.time);
        free(old.item);
        free(old.count);
    }
    uint64_t i = find_slot(s, user);
    if (!s->count[i]) {
        s->user[i] = user;
        s->time[i] = time;
        s->item[i] = item;
        s->n_users++;
    } else if (later(time, item, s->time[i], s->item[i])) {
        s->time[i] = time;
        s->item[i] = item;
    }
    s->count[i] += n;
}

static int positive(const wk_split_t *s, const rd_row_t *row)
{
    return !s->topk || (row->label > 0 && row->label >= s->min_rating);
}

void wk_split_observe(wk_split_t *s, const rd_row_t *row)
{
    if (s->kind != CFG_SPLIT_LEAVE_LAST_OUT || !positive(s, row)) return;
    add(s, wk_row_field_key(row, s->user_field), row->time, wk_row_field_key(row, s->item_field),
        1);
}

void wk_split_merge(wk_split_t *s, MPI_Comm comm)
{
    if (s->kind != CFG_SPLIT_LEAVE_LAST_OUT) return;
    int n_workers;
    MPI_Comm_size(comm, &n_workers);
    /* every worker's users as (user, time, item, count) records, gathered everywhere */
    int mine = (int)s->n_users * 4;
    int64_t *rec = psr_xmalloc(((size_t)mine + 1) * sizeof *rec);
    int64_t o = 0;
    for (uint64_t i = 0; s->user && i <= s->mask; i++)
        if (s->count[i]) {
            rec[o++] = (int64_t)s->user[i];
            rec[o++] = s->time[i];
            rec[o++] = (int64_t)s->item[i];
            rec[o++] = s->count[i];
        }
    int *counts = psr_xmalloc((size_t)n_workers * sizeof *counts);
    int *displs = psr_xmalloc((size_t)n_workers * sizeof *displs);
    MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, comm);
    int64_t total = 0;
    for (int w = 0; w < n_workers; w++) {
        displs[w] = (int)total;
        total += counts[w];
    }
    if (total > INT32_MAX) psr_die(1, "data.split leave_last_out: %lld users are more than one "
                                   "MPI message carries", (long long)(total / 4));
    int64_t *all = psr_xmalloc(((size_t)total + 1) * sizeof *all);
    MPI_Allgatherv(rec, mine, MPI_INT64_T, all, counts, displs, MPI_INT64_T, comm);
    free(s->user);
    free(s->time);
    free(s->item);
    free(s->count);
    s->user = NULL;
    s->time = NULL;
    s->item = NULL;
    s->count = NULL;
    s->n_users = 0;
    for (int64_t r = 0; r < total; r += 4)
        add(s, (uint64_t)all[r], all[r + 1], (uint64_t)all[r + 2], all[r + 3]);
    free(rec);
    free(all);
    free(counts);
    free(displs);
}

int wk_split_part(const wk_split_t *s, const rd_row_t *row, int from_test_file)
{
    if (!positive(s, row)) return WK_SPLIT_SKIP;
    if (from_test_file) return WK_SPLIT_TEST;
    switch (s->kind) {
    case CFG_SPLIT_RANDOM: {
        uint32_t lb;
        memcpy(&lb, &row->label, sizeof lb);
        uint64_t h = psr_mix64(s->seed ^ 0x73706c6974ULL);
        h = psr_mix64(h ^ wk_row_field_key(row, s->user_field));
        h = psr_mix64(h ^ wk_row_field_key(row, s->item_field));
        h = psr_mix64(h ^ (uint64_t)row->time);
        h = psr_mix64(h ^ lb);
        double u = (double)(h >> 11) * (1.0 / 9007199254740992.0);
        return u < s->fraction ? WK_SPLIT_TEST : WK_SPLIT_TRAIN;
    }
    case CFG_SPLIT_LEAVE_LAST_OUT: {
        if (!s->user) return WK_SPLIT_TRAIN;
        uint64_t user = wk_row_field_key(row, s->user_field);
        uint64_t i = find_slot(s, user);
        if (!s->count[i] || s->count[i] < 2) return WK_SPLIT_TRAIN;
        return row->time == s->time[i] && wk_row_field_key(row, s->item_field) == s->item[i]
                   ? WK_SPLIT_TEST
                   : WK_SPLIT_TRAIN;
    }
    default:
        return WK_SPLIT_TRAIN;
    }
}
