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

#include <stddef.h>
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

/* The schedule a config describes in steps (optimizer.decay_steps 0 means train.max_steps);
 * the *_examples keys need psr_schedule_resolve. */
psr_schedule_t psr_schedule_of(const cfg_t *c);

/* Lengths in examples (optimizer.warmup_examples, optimizer.decay_examples) count the
 * training examples of all workers together, so a job keeps its schedule whatever its worker
 * count. Servers apply the schedule at each worker's step, so they become steps of each
 * worker: with n workers of batch B, E examples end at step
 *     base.step + ceil((E - base.examples) / (n B))
 * where base is where the count starts: (0, 0) for a new job; for a job resumed on another
 * worker count, the checkpoint's (examples, furthest step), so the rest of the schedule is
 * spread over the new count (docs/CONFIG.md, optimizer). */
typedef struct {
    int64_t examples; /* examples of all workers when the base was set */
    int64_t step;     /* the step the job continued from then */
} psr_sched_base_t;

/* The schedule of config c for a job of n_workers workers from `base`. desc (if not NULL)
 * gets one line saying what it resolved to, e.g. "lr 0.003: no warmup, then linear decay to
 * 0 x lr at step 3907 of each worker (optimizer.decay_examples 2000000 / (1 worker x batch
 * 512))". */
psr_schedule_t psr_schedule_resolve(const cfg_t *c, int n_workers, psr_sched_base_t base,
                                    char *desc, size_t cap);

/* Multiplier of optimizer.lr at step t. */
double psr_lr_scale(const psr_schedule_t *s, int64_t t);

#endif
