/* sketch: a count-min sketch of 64-bit ids, for embedding.min_count admission.
 *
 * Four rows of `width` (a power of two) saturating 32-bit counters, one independent hash per
 * row. ps_sketch_add increments the id's counter in every row (conservative update: only the
 * counters equal to the current minimum, which keeps the over-count smaller) and returns the
 * new estimate: the minimum over rows. The estimate never under-counts; it over-counts by at
 * most e * N / width with probability 1 - e^-4 (N = total adds). Memory: 16 * width bytes. */
#ifndef PSR_PS_SKETCH_H
#define PSR_PS_SKETCH_H

#include <stdint.h>

#define PS_SKETCH_DEPTH 4

typedef struct {
    uint64_t mask;  /* width - 1 */
    uint32_t *cell; /* (PS_SKETCH_DEPTH * width) */
} ps_sketch_t;

/* width is rounded up to a power of two (at least 1024). */
void ps_sketch_init(ps_sketch_t *s, int64_t width);
void ps_sketch_free(ps_sketch_t *s); /* accepts a zeroed sketch */
/* Count one more occurrence of `id`; returns the estimated count including it. */
uint32_t ps_sketch_add(ps_sketch_t *s, uint64_t id);
/* Estimated count of `id` without counting it. */
uint32_t ps_sketch_get(const ps_sketch_t *s, uint64_t id);

#endif
