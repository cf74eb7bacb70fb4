/* schedule: see schedule.h for the formula. */
#include "schedule.h"

#include <math.h>

double psr_lr_scale(const psr_schedule_t *s, int64_t t)
{
    if (t < 0) t = 0;
    if (t < s->warmup_steps) return (double)(t + 1) / (double)s->warmup_steps;
    if (s->decay == PSR_DECAY_NONE) return 1.0;
    if (t >= s->decay_steps || s->decay_steps <= s->warmup_steps) return s->min_ratio;
    double p = (double)(t - s->warmup_steps) / (double)(s->decay_steps - s->warmup_steps);
    if (s->decay == PSR_DECAY_LINEAR) return 1.0 - (1.0 - s->min_ratio) * p;
    return s->min_ratio + (1.0 - s->min_ratio) * 0.5 * (1.0 + cos(3.14159265358979323846 * p));
}

psr_schedule_t psr_schedule_of(const cfg_t *c)
{
    psr_schedule_t s = {c->optimizer.warmup_steps, c->optimizer.decay,
                        c->optimizer.decay_steps ? c->optimizer.decay_steps : c->train.max_steps,
                        c->optimizer.min_lr_ratio};
    return s;
}
