/* test_catsplit: the item catalogue (worker/catalog.h, rules C1-C4) and the evaluation splits
 * (worker/split.h, rules S2-S4) on hand-made rows. One process (a singleton MPI job): the
 * collective merges run over MPI_COMM_WORLD of size 1; their multi-worker behaviour is
 * covered by the mpirun tests (t_topk.sh). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "catalog.h"
#include "check.h"
#include "config.h"
#include "hash.h"
#include "psr_error.h"
#include "reader.h"
#include "split.h"

/* A user-item row: field 0 user, field 1 item (keys as given), time, label. */
typedef struct {
    rd_row_t row;
    uint16_t field[2];
    uint64_t key[2];
    float val[2];
} ui_row_t;

static const rd_row_t *ui(ui_row_t *r, uint64_t user, uint64_t item, int64_t time, float label)
{
    memset(r, 0, sizeof *r);
    r->field[0] = 0;
    r->field[1] = 1;
    r->key[0] = user;
    r->key[1] = item;
    r->val[0] = r->val[1] = 1.0f;
    r->row.n_feat = 2;
    r->row.field = r->field;
    r->row.key = r->key;
    r->row.val = r->val;
    r->row.time = time;
    r->row.label = label;
    r->row.user_len = r->row.item_len = -1;
    return &r->row;
}

static cfg_t *make_cfg(const char *const *sets, int n)
{
    cfg_t *c = calloc(1, sizeof *c);
    cfg_defaults(c);
    CHECK_INT(cfg_set(c, "data.train=x.csv"), PSR_OK);
    for (int i = 0; i < n; i++) CHECK_INT(cfg_set(c, sets[i]), PSR_OK);
    return c;
}

static void test_catalog(void)
{
    /* C1/C2: items by key, counts, the first raw id seen */
    wk_catalog_acc_t *a = wk_catalog_acc_new();
    const uint64_t keys[] = {900, 7, 42, 7, 900, 7, 5000};
    const char *raws[] = {"m900", "m7", "m42", "other", "x", "y", NULL};
    for (int i = 0; i < 7; i++)
        wk_catalog_acc_add(a, keys[i], raws[i], raws[i] ? (int32_t)strlen(raws[i]) : -1);
    wk_catalog_t c;
    memset(&c, 0, sizeof c);
    wk_catalog_merge(&c, a, MPI_COMM_WORLD);
    wk_catalog_acc_free(a);
    CHECK_INT(c.n, 4);
    CHECK_INT(c.total, 7);
    const uint64_t want_key[] = {7, 42, 900, 5000};
    const int64_t want_count[] = {3, 1, 2, 1};
    for (int i = 0; i < 4; i++) {
        CHECK(c.key[i] == want_key[i]);
        CHECK_INT(c.count[i], want_count[i]);
        CHECK_INT(wk_catalog_find(&c, want_key[i]), i);
        CHECK_NEAR(c.self_info[i], -log2((double)want_count[i] / 7.0), 1e-6, 0);
    }
    CHECK_INT(wk_catalog_find(&c, 8), -1);
    char buf[32];
    wk_catalog_raw(&c, 0, buf, sizeof buf);
    CHECK(strcmp(buf, "m7") == 0);
    wk_catalog_raw(&c, 2, buf, sizeof buf);
    CHECK(strcmp(buf, "m900") == 0);
    wk_catalog_raw(&c, 3, buf, sizeof buf); /* no text: the key as 16 hex digits */
    CHECK(strcmp(buf, "0000000000001388") == 0);

    /* C3: sampling frequencies, uniform and count^0.75 */
    psr_rng_t rng;
    psr_rng_seed(&rng, 3);
    const int draws = 400000;
    int64_t hist[4] = {0}, hist_pop[4] = {0};
    for (int d = 0; d < draws; d++) hist[wk_catalog_sample(&c, &rng, 0)]++;
    for (int d = 0; d < draws; d++) hist_pop[wk_catalog_sample(&c, &rng, 1)]++;
    double z = 0;
    for (int i = 0; i < 4; i++) z += pow((double)want_count[i], 0.75);
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR((double)hist[i] / draws, 0.25, 0.004, 0);
        CHECK_NEAR((double)hist_pop[i] / draws, pow((double)want_count[i], 0.75) / z, 0.004, 0);
    }

    /* C4: the serialised form round-trips; truncation and a bad magic are refused */
    size_t n = wk_catalog_bytes(&c);
    unsigned char *bytes = malloc(n);
    wk_catalog_pack(&c, bytes);
    wk_catalog_t back;
    memset(&back, 0, sizeof back);
    CHECK_INT(wk_catalog_unpack(&back, bytes, n, "global.state"), PSR_OK);
    CHECK_INT(back.n, 4);
    for (int i = 0; i < 4; i++) {
        CHECK(back.key[i] == c.key[i]);
        CHECK_INT(back.count[i], c.count[i]);
        CHECK(back.cdf[i] == c.cdf[i]);
    }
    wk_catalog_raw(&back, 1, buf, sizeof buf);
    CHECK(strcmp(buf, "m42") == 0);
    wk_catalog_free(&back);
    memset(&back, 0, sizeof back);
    CHECK_INT(wk_catalog_unpack(&back, bytes, n - 1, "global.state"), PSR_ERR_FORMAT);
    CHECK_CONTAINS(psr_err_msg(), "global.state");
    wk_catalog_free(&back);
    memset(&back, 0, sizeof back);
    bytes[0] ^= 1;
    CHECK_INT(wk_catalog_unpack(&back, bytes, n, "global.state"), PSR_ERR_FORMAT);
    wk_catalog_free(&back);
    free(bytes);
    wk_catalog_free(&c);
}

static void test_random_split(void)
{
    const char *sets[] = {"data.split=random", "data.test_fraction=0.25", "train.seed=7"};
    cfg_t *c = make_cfg(sets, 3);
    wk_split_t s;
    wk_split_init(&s, c, 0, 1, 0);
    ui_row_t r;
    int held = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        int p = wk_split_part(&s, ui(&r, (uint64_t)(i % 997), (uint64_t)i, i, 4.0f), 0);
        CHECK(p == WK_SPLIT_TRAIN || p == WK_SPLIT_TEST);
        held += p == WK_SPLIT_TEST;
    }
    /* S2: binomial(200000, 0.25) has sd 194; 5 sd */
    CHECK_NEAR((double)held, 0.25 * n, 970.0, 0);
    /* the decision is a function of the row's content: same row, same side; a test-file row
     * is always test */
    for (int i = 0; i < 1000; i++) {
        int p1 = wk_split_part(&s, ui(&r, 3, (uint64_t)i, 11, 2.0f), 0);
        int p2 = wk_split_part(&s, ui(&r, 3, (uint64_t)i, 11, 2.0f), 0);
        CHECK_INT(p1, p2);
        CHECK_INT(wk_split_part(&s, ui(&r, 3, (uint64_t)i, 11, 2.0f), 1), WK_SPLIT_TEST);
    }
    /* another seed moves rows */
    wk_split_t s2;
    c->train.seed = 8;
    wk_split_init(&s2, c, 0, 1, 0);
    int moved = 0;
    for (int i = 0; i < 1000; i++)
        moved += wk_split_part(&s, ui(&r, 1, (uint64_t)i, 0, 1.0f), 0) !=
                 wk_split_part(&s2, ui(&r, 1, (uint64_t)i, 0, 1.0f), 0);
    CHECK(moved > 200 && moved < 600); /* expected 2 * 0.25 * 0.75 = 375 */
    wk_split_free(&s);
    wk_split_free(&s2);
    free(c);
}

static void test_leave_last_out(void)
{
    const char *sets[] = {"data.split=leave_last_out", "data.min_rating=3"};
    cfg_t *c = make_cfg(sets, 2);
    wk_split_t s;
    wk_split_init(&s, c, 0, 1, 1); /* top-K: S4 applies */
    ui_row_t r;
    /* user 1: items 10@100, 11@300, 12@200 -> 11 held out; user 2: a single interaction
     * (kept for training); user 3: two rows at the same latest time -> the larger item key;
     * user 4: its latest row has rating 2 < min_rating, so 40@50 is the latest positive */
    wk_split_observe(&s, ui(&r, 1, 10, 100, 5.0f));
    wk_split_observe(&s, ui(&r, 1, 11, 300, 4.0f));
    wk_split_observe(&s, ui(&r, 1, 12, 200, 3.0f));
    wk_split_observe(&s, ui(&r, 2, 20, 100, 5.0f));
    wk_split_observe(&s, ui(&r, 3, 31, 500, 5.0f));
    wk_split_observe(&s, ui(&r, 3, 30, 500, 5.0f));
    wk_split_observe(&s, ui(&r, 4, 40, 50, 5.0f));
    wk_split_observe(&s, ui(&r, 4, 41, 10, 5.0f));
    wk_split_observe(&s, ui(&r, 4, 42, 90, 2.0f));
    wk_split_merge(&s, MPI_COMM_WORLD);
    CHECK_INT(wk_split_part(&s, ui(&r, 1, 10, 100, 5.0f), 0), WK_SPLIT_TRAIN);
    CHECK_INT(wk_split_part(&s, ui(&r, 1, 11, 300, 4.0f), 0), WK_SPLIT_TEST);
    CHECK_INT(wk_split_part(&s, ui(&r, 1, 12, 200, 3.0f), 0), WK_SPLIT_TRAIN);
    CHECK_INT(wk_split_part(&s, ui(&r, 2, 20, 100, 5.0f), 0), WK_SPLIT_TRAIN);
    CHECK_INT(wk_split_part(&s, ui(&r, 3, 31, 500, 5.0f), 0), WK_SPLIT_TEST);
    CHECK_INT(wk_split_part(&s, ui(&r, 3, 30, 500, 5.0f), 0), WK_SPLIT_TRAIN);
    CHECK_INT(wk_split_part(&s, ui(&r, 4, 40, 50, 5.0f), 0), WK_SPLIT_TEST);
    CHECK_INT(wk_split_part(&s, ui(&r, 4, 41, 10, 5.0f), 0), WK_SPLIT_TRAIN);
    CHECK_INT(wk_split_part(&s, ui(&r, 4, 42, 90, 2.0f), 0), WK_SPLIT_SKIP); /* S4 */
    CHECK_INT(wk_split_part(&s, ui(&r, 4, 43, 95, 0.0f), 0), WK_SPLIT_SKIP);
    /* a duplicate of the held-out interaction is held out too */
    CHECK_INT(wk_split_part(&s, ui(&r, 1, 11, 300, 4.0f), 0), WK_SPLIT_TEST);
    wk_split_free(&s);
    free(c);
}

int main(int argc, char **argv)
{
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    MPI_Init(&argc, &argv);
    test_catalog();
    test_random_split();
    test_leave_last_out();
    MPI_Finalize();
    CHECK_DONE();
}
