/* test_sketch: the count-min sketch behind embedding.min_count (ps/sketch.h): it never
 * under-counts, conservative update keeps over-counts within the e * N / width bound, and
 * counts saturate instead of wrapping. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "hash.h"
#include "sketch.h"

int main(void)
{
    ps_sketch_t s;
    ps_sketch_init(&s, 3000); /* rounded up to 4096 */
    CHECK_INT((int64_t)s.mask, 4095);
    /* 20000 ids with known counts 1..8 (id i counted 1 + i % 8 times), interleaved */
    const int n = 20000;
    int64_t total = 0;
    for (int round = 0; round < 8; round++)
        for (int i = 0; i < n; i++)
            if (round < 1 + i % 8) {
                uint32_t est = ps_sketch_add(&s, psr_mix64((uint64_t)i + 77));
                total++;
                if (est < (uint32_t)round + 1) CHECK(!"under-count while adding");
            }
    int64_t under = 0, over = 0, max_over = 0;
    for (int i = 0; i < n; i++) {
        int64_t truth = 1 + i % 8, est = ps_sketch_get(&s, psr_mix64((uint64_t)i + 77));
        if (est < truth) under++;
        if (est > truth) over++;
        if (est - truth > max_over) max_over = est - truth;
    }
    CHECK_INT(under, 0);
    /* bound: e * N / width = 2.718 * 90000 / 4096 ~ 60, exceeded with probability < e^-4 per
     * id; conservative update does far better in practice */
    int64_t bound = (int64_t)(2.718 * (double)total / 4096.0);
    int64_t beyond = 0;
    for (int i = 0; i < n; i++)
        beyond += (int64_t)ps_sketch_get(&s, psr_mix64((uint64_t)i + 77)) - (1 + i % 8) > bound;
    CHECK(beyond <= n / 50); /* e^-4 = 1.8% */
    CHECK(over < n);         /* a crowded sketch over-counts some, not all */
    ps_sketch_free(&s);

    /* a roomy sketch is exact for a few ids */
    ps_sketch_init(&s, 1 << 16);
    for (int k = 0; k < 5; k++) CHECK_INT(ps_sketch_add(&s, 12345), k + 1);
    CHECK_INT(ps_sketch_get(&s, 12345), 5);
    CHECK_INT(ps_sketch_get(&s, 54321), 0);
    /* saturation: a counter at UINT32_MAX stays there */
    for (uint64_t j = 0; j <= s.mask; j++)
        for (int d = 0; d < PS_SKETCH_DEPTH; d++) s.cell[d * (s.mask + 1) + j] = UINT32_MAX - 1;
    CHECK(ps_sketch_add(&s, 9) == UINT32_MAX);
    CHECK(ps_sketch_add(&s, 9) == UINT32_MAX);
    ps_sketch_free(&s);
    ps_sketch_free(&s);
    CHECK_DONE();
}
