/* schedule: the learning-rate multiplier at a step, shared by servers (sparse rows, dense
 * blocks in `ps` mode) and workers (dense replicas in `allreduce` mode) so both follow one
 * schedule exactly.
 *
 * For step t (0-based, the step whose gradient is applied):
 *   warmup:  t <  W        scale = (t + 1) / W
 *   decay:   W <= t < D    p = (t - W) / (D - W)
 *            linear:  scale = 1 - (1 - m) p
 *            cosine:  scale = m + (1 - m) (1 + cos(pi p)) / 2
 *   after:   t >= D        scale = m          (m = optimizer.min_lr_ratio)
 * decay none: scale 1 after warmup. */
#ifndef PSR_SCHEDULE_H
#define PSR_SCHEDULE_H

#include <stdint.h>

#include "config.h"

enum psr_decay { PSR_DECAY_NONE, PSR_DECAY_LINEAR, PSR_DECAY_COSINE, PSR_DECAY_COUNT };
_Static_assert((int)PSR_DECAY_COUNT == (int)CFG_DECAY_COUNT && (int)PSR_DECAY_COSINE ==
                   (int)CFG_DECAY_COSINE, "psr_decay mirrors cfg_decay");

typedef struct {
    int64_t warmup_steps; /* W */
    int decay;            /* enum psr_decay */
    int64_t decay_steps;  /* D: step at which the decay reaches min_ratio */
    double min_ratio;     /* m */
} psr_schedule_t;

/* The schedule a config describes (optimizer.decay_steps 0 means train.max_steps). */
psr_schedule_t psr_schedule_of(const cfg_t *c);

/* Multiplier of optimizer.lr at step t. */
double psr_lr_scale(const psr_schedule_t *s, int64_t t);

#endif
