/* test_table: the server's hash table and row initialisation (ps/table.h invariants),
 * loading rows as a checkpoint does (ps_table_put), and the memory controls: LRU shrinking
 * and expiry keep exactly the right rows, intact, and the index stays consistent. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "half.h"
#include "hash.h"
#include "table.h"

int main(void)
{
    ps_table_t t;
    const int W = 5;
    ps_table_init(&t, W, 7, 0.1f, 10); /* tiny start: forces growth and rehashing */
    const int64_t N = 200000;
    for (int64_t i = 0; i < N; i++) {
        uint64_t key = psr_mix64((uint64_t)i * 3 + 1);
        int64_t r = ps_table_insert(&t, key);
        CHECK_INT(r, i);
        ps_table_w(&t, r)[0] = (float)i; /* mark the row */
    }
    CHECK_INT(t.n_rows, N);
    CHECK(2 * (uint64_t)t.n_rows <= t.slot_mask + 1); /* at most half full */
    int64_t bad = 0;
    for (int64_t i = 0; i < N; i++) {
        uint64_t key = psr_mix64((uint64_t)i * 3 + 1);
        int64_t r = ps_table_find(&t, key);
        if (r != i || ps_table_w(&t, r)[0] != (float)i) bad++;
        if (ps_table_insert(&t, key) != i) bad++; /* insert of a present key finds it */
    }
    CHECK_INT(bad, 0);
    CHECK_INT(t.n_rows, N);
    CHECK_INT(ps_table_find(&t, psr_mix64(2)), -1); /* never inserted */

    /* init: a function of (seed, key) only; linear weight 0; factors ~ N(0, std^2) */
    float a[5], b[5];
    ps_row_init(7, 12345, W, 0.1f, a);
    ps_row_init(7, 12345, W, 0.1f, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(a[0] == 0.0f);
    ps_row_init(8, 12345, W, 0.1f, b);
    CHECK(memcmp(a, b, sizeof a) != 0);
    double s1 = 0, s2 = 0;
    const int M = 20000;
    for (int k = 0; k < M; k++) {
        float w[2];
        ps_row_init(1, (uint64_t)k, 2, 0.5f, w);
        s1 += w[1];
        s2 += (double)w[1] * w[1];
    }
    CHECK_NEAR(s1 / M, 0.0, 0.02, 0);
    CHECK_NEAR(sqrt(s2 / M), 0.5, 0.02, 0);

    /* a new row's weights are its initial value and its optimizer state is zero */
    int64_t r = ps_table_insert(&t, 999999999999ULL);
    float want[5];
    ps_row_init(7, 999999999999ULL, W, 0.1f, want);
    CHECK(memcmp(ps_table_w(&t, r), want, sizeof want) == 0);
    CHECK(ps_table_m(&t, r)[3] == 0.0f && ps_table_v(&t, r)[4] == 0.0f && t.step[r] == 0);

    /* digest: independent of insertion order and of how rows are split over tables */
    ps_table_t x, y1, y2;
    ps_table_init(&x, 3, 1, 0.1f, 4);
    ps_table_init(&y1, 3, 1, 0.1f, 4);
    ps_table_init(&y2, 3, 1, 0.1f, 4);
    for (int k = 0; k < 1000; k++) ps_table_insert(&x, (uint64_t)k);
    for (int k = 999; k >= 0; k--) ps_table_insert(k % 2 ? &y1 : &y2, (uint64_t)k);
    CHECK(ps_table_digest(&x) == ps_table_digest(&y1) + ps_table_digest(&y2));
    ps_table_m(&x, ps_table_find(&x, 5))[1] = 1e-3f; /* optimizer state counts */
    CHECK(ps_table_digest(&x) != ps_table_digest(&y1) + ps_table_digest(&y2));

    ps_table_free(&x);
    ps_table_free(&y1);
    ps_table_free(&y2);
    ps_table_free(&t);
    ps_table_free(&t); /* a freed table frees again harmlessly */

    /* put: rows as loaded from a checkpoint, exactly; a present key is refused */
    {
        ps_table_t p;
        ps_table_init(&p, 2, 1, 0.1f, 2);
        float wmv[6] = {1, 2, 3, 4, 5, 6};
        int64_t r = ps_table_put(&p, 42, wmv, 7, 9);
        CHECK_INT(r, 0);
        CHECK(ps_table_w(&p, r)[1] == 2.0f && ps_table_v(&p, r)[1] == 6.0f);
        CHECK_INT(p.step[r], 7);
        CHECK_INT(p.last[r], 9);
        CHECK_INT(ps_table_put(&p, 42, wmv, 1, 1), -1);
        CHECK_INT(p.step[r], 7);
        ps_table_free(&p);
    }

    /* shrink_lru: 1000 rows with last = a permutation-like spread (with ties); keeping 300
     * keeps exactly the 300 largest `last` (ties: higher row numbers kept), contents intact */
    {
        ps_table_t e;
        ps_table_init(&e, 3, 1, 0.1f, 16);
        const int64_t n = 1000;
        for (int64_t i = 0; i < n; i++) {
            int64_t r = ps_table_insert(&e, (uint64_t)i + 1000);
            e.last[r] = (i * 7919) % 500; /* each value twice */
            e.step[r] = i;
            ps_table_w(&e, r)[2] = (float)i;
        }
        CHECK_INT(ps_table_shrink_lru(&e, 300), 700);
        CHECK_INT(e.n_rows, 300);
        int64_t wrong = 0, kept = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t last = (i * 7919) % 500, r = ps_table_find(&e, (uint64_t)i + 1000);
            /* last values 350..499 are kept (300 rows); all below are dropped */
            int should = last >= 350;
            if ((r >= 0) != should) wrong++;
            if (r >= 0) {
                kept++;
                wrong += e.step[r] != i || ps_table_w(&e, r)[2] != (float)i || e.last[r] != last;
            }
        }
        CHECK_INT(wrong, 0);
        CHECK_INT(kept, 300);
        /* ties at the threshold: keep 299 of the rows; one of the two rows with the smallest
         * kept `last` (350) goes: the one with the lower row number */
        CHECK_INT(ps_table_shrink_lru(&e, 299), 1);
        int64_t at350 = 0;
        for (int64_t r = 0; r < e.n_rows; r++) at350 += e.last[r] == 350;
        CHECK_INT(at350, 1);
        /* drop_before: every row with last < 400 goes */
        CHECK_INT(ps_table_drop_before(&e, 400), 99);
        int64_t low = 0;
        for (int64_t r = 0; r < e.n_rows; r++) low += e.last[r] < 400;
        CHECK_INT(low, 0);
        CHECK_INT(e.n_rows, 200);
        /* the index still finds every remaining row and nothing else; inserts keep working */
        int64_t miss = 0;
        for (int64_t r = 0; r < e.n_rows; r++) miss += ps_table_find(&e, e.keys[r]) != r;
        CHECK_INT(miss, 0);
        int64_t r = ps_table_insert(&e, 5);
        CHECK_INT(r, 200);
        CHECK_INT(ps_table_find(&e, 5), 200);
        CHECK_INT(ps_table_shrink_lru(&e, 1000), 0);
        ps_table_free(&e);
    }
    /* half precision: rows hold what fp16 rounding of w, m and sqrt(v) gives; growth,
     * compaction and put keep them; the digest is that of the loaded floats */
    {
        ps_table_t h, f;
        const int HW = 4;
        ps_table_init_half(&h, HW, 9, 0.05f, 2);
        ps_table_init(&f, HW, 9, 0.05f, 2);
        int64_t wrong = 0;
        for (int64_t i = 0; i < 3000; i++) {
            int64_t rh = ps_table_insert(&h, (uint64_t)i + 1);
            int64_t rf = ps_table_insert(&f, (uint64_t)i + 1);
            float row[12], back[12];
            ps_table_load(&h, rh, back);
            for (int j = 0; j < HW; j++) /* init weights: the fp32 init, rounded */
                wrong += back[j] != psr_float_of_half(psr_half_of(ps_table_w(&f, rf)[j]));
            for (int j = HW; j < 3 * HW; j++) wrong += back[j] != 0.0f;
            for (int j = 0; j < 3 * HW; j++)
                row[j] = (float)((j + 1) * 1e-3 * (double)(i % 17 + 1));
            row[2 * HW] = 4e-9f; /* an Adam v far below fp16's range: kept through its root */
            ps_table_store(&h, rh, row);
            ps_table_load(&h, rh, back);
            for (int j = 0; j < 3 * HW; j++) {
                double tol = fabs((double)row[j]) * (j >= 2 * HW ? 2.5e-3 : 1e-3);
                wrong += fabs((double)back[j] - row[j]) > tol;
            }
            ps_table_store(&f, rf, back); /* the fp32 twin holds exactly the loaded floats */
            h.last[rh] = f.last[rf] = i;
        }
        CHECK_INT(wrong, 0);
        CHECK(ps_table_digest(&h) == ps_table_digest(&f));
        CHECK_INT(ps_table_shrink_lru(&h, 1000), 2000);
        CHECK_INT(ps_table_shrink_lru(&f, 1000), 2000);
        CHECK(ps_table_digest(&h) == ps_table_digest(&f));
        float wmv[12];
        ps_table_load(&h, 0, wmv);
        ps_table_t h2;
        ps_table_init_half(&h2, HW, 9, 0.05f, 1);
        ps_table_put(&h2, h.keys[0], wmv, h.step[0], h.last[0]);
        float again[12];
        ps_table_load(&h2, 0, again);
        CHECK(memcmp(wmv, again, sizeof wmv) == 0); /* load -> put -> load is exact */
        CHECK(ps_table_bytes(&h) < ps_table_bytes(&f));
        ps_table_free(&h);
        ps_table_free(&h2);
        ps_table_free(&f);
    }
    CHECK_DONE();
}
