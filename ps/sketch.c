/* sketch: see sketch.h. */
#include "sketch.h"

#include <string.h>

#include "hash.h"
#include "psr_error.h"

static const uint64_t row_seed[PS_SKETCH_DEPTH] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
                                                   0x165667b19e3779f9ULL, 0xd6e8feb86659fd93ULL};

static inline uint64_t slot(const ps_sketch_t *s, int d, uint64_t id)
{
    return (uint64_t)d * (s->mask + 1) + (psr_mix64(id ^ row_seed[d]) & s->mask);
}

void ps_sketch_init(ps_sketch_t *s, int64_t width)
{
    uint64_t w = 1024;
    while ((int64_t)w < width) w <<= 1;
    s->mask = w - 1;
    s->cell = psr_xcalloc(PS_SKETCH_DEPTH * w, sizeof *s->cell);
}

void ps_sketch_free(ps_sketch_t *s)
{
    if (!s) return;
    free(s->cell);
    memset(s, 0, sizeof *s);
}

uint32_t ps_sketch_get(const ps_sketch_t *s, uint64_t id)
{
    uint32_t m = UINT32_MAX;
    for (int d = 0; d < PS_SKETCH_DEPTH; d++) {
        uint32_t c = s->cell[slot(s, d, id)];
        if (c < m) m = c;
    }
    return m;
}

uint32_t ps_sketch_add(ps_sketch_t *s, uint64_t id)
{
    uint64_t at[PS_SKETCH_DEPTH];
    uint32_t m = UINT32_MAX;
    for (int d = 0; d < PS_SKETCH_DEPTH; d++) {
        at[d] = slot(s, d, id);
        if (s->cell[at[d]] < m) m = s->cell[at[d]];
    }
    if (m == UINT32_MAX) return m; /* saturated */
    for (int d = 0; d < PS_SKETCH_DEPTH; d++)
        if (s->cell[at[d]] == m) s->cell[at[d]] = m + 1;
    return m + 1;
}
