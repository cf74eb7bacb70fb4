/* test_half: fp16 conversions (common/half.h) against their definition: every half converts
 * to the float it denotes and back to itself; floats round to the nearest half, ties to even,
 * checked by brute force against the two neighbouring halves. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "half.h"
#include "hash.h"

/* The value a finite half denotes, from the definition. */
static double half_value(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

int main(void)
{
    int64_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        int e = (h >> 10) & 0x1f;
        float f = psr_float_of_half((uint16_t)h);
        if (e == 0x1f) {
            if ((h & 0x3ff) ? !isnan(f) : !isinf(f)) bad++;
            continue;
        }
        if ((double)f != half_value((uint16_t)h)) bad++;
        if (psr_half_of(f) != h) bad++;
    }
    CHECK_INT(bad, 0);

    /* nearest, ties to even: for random floats in the half range (and below it) */
    psr_rng_t rng;
    psr_rng_seed(&rng, 3);
    bad = 0;
    for (int i = 0; i < 2000000; i++) {
        double mag = ldexp(psr_rng_uniform(&rng) + 0.5, (int)psr_rng_below(&rng, 44) - 28);
        float f = (float)((i & 1) ? -mag : mag);
        uint16_t h = psr_half_of(f);
        double got = half_value(h), err = fabs(got - f);
        /* the neighbours of h must not be closer (or as close with an even mantissa) */
        for (int d = -1; d <= 1; d += 2) {
            uint16_t n = (uint16_t)(h + d);
            if (((n >> 10) & 0x1f) == 0x1f || (n & 0x7fff) == 0x7fff) continue;
            if ((n ^ h) & 0x8000) continue;
            double e2 = fabs(half_value(n) - f);
            if (e2 < err || (e2 == err && (n & 1) == 0)) bad++;
        }
        if (fabs(f) >= 65520.0 && !isinf(psr_float_of_half(h))) bad++;
    }
    CHECK_INT(bad, 0);
    CHECK(psr_half_of(1.0f) == 0x3c00);
    CHECK(psr_half_of(65504.0f) == 0x7bff);
    CHECK(psr_half_of(65520.0f) == 0x7c00); /* halfway to the next binade: rounds to infinity */
    CHECK(psr_half_of(5.9604645e-8f) == 0x0001);
    CHECK(psr_half_of(2.9802322e-8f) == 0x0000); /* exactly half the smallest: ties to even */
    CHECK(psr_half_of(-0.0f) == 0x8000);
    CHECK(isnan(psr_float_of_half(psr_half_of(NAN))));
    CHECK_DONE();
}
