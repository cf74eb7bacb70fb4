/* schedule: see schedule.h for the formula. */
#include "schedule.h"

#include <math.h>
#include <stdio.h>

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

/* Step of each worker at which `examples` examples of all workers are reached. */
static int64_t steps_of(int64_t examples, int n_workers, int batch, psr_sched_base_t base)
{
    const int64_t per_step = (int64_t)n_workers * (int64_t)batch;
    const int64_t left = examples - base.examples;
    if (left <= 0) return base.step + left / per_step; /* already behind: floor toward 0 */
    return base.step + (left + per_step - 1) / per_step;
}

/* "(optimizer.KEY E / (n workers x batch B))" and the base, into buf. */
static void examples_why(char *buf, size_t cap, const char *key, int64_t e, int n, int batch,
                         psr_sched_base_t base)
{
    int k = snprintf(buf, cap, "optimizer.%s %lld / (%d worker%s x batch %d)", key,
                     (long long)e, n, n == 1 ? "" : "s", batch);
    if (k > 0 && (size_t)k < cap && (base.examples != 0 || base.step != 0))
        snprintf(buf + k, cap - (size_t)k, ", counted from example %lld at step %lld",
                 (long long)base.examples, (long long)base.step);
}

psr_schedule_t psr_schedule_resolve(const cfg_t *c, int n_workers, psr_sched_base_t base,
                                    char *desc, size_t cap)
{
    psr_schedule_t s = psr_schedule_of(c);
    const int B = c->train.batch_size;
    char wwhy[256] = "optimizer.warmup_steps", dwhy[256] = "optimizer.decay_steps";
    if (c->optimizer.warmup_examples > 0) {
        s.warmup_steps = steps_of(c->optimizer.warmup_examples, n_workers, B, base);
        if (s.warmup_steps < 0) s.warmup_steps = 0;
        examples_why(wwhy, sizeof wwhy, "warmup_examples", c->optimizer.warmup_examples,
                     n_workers, B, base);
    }
    if (c->optimizer.decay_examples > 0) {
        s.decay_steps = steps_of(c->optimizer.decay_examples, n_workers, B, base);
        if (s.decay_steps < 0) s.decay_steps = 0;
        examples_why(dwhy, sizeof dwhy, "decay_examples", c->optimizer.decay_examples,
                     n_workers, B, base);
    } else if (c->optimizer.decay_steps == 0) {
        snprintf(dwhy, sizeof dwhy, "train.max_steps");
    }
    if (!desc || cap == 0) return s;
    char warm[320], decay[400];
    if (s.warmup_steps > 0)
        snprintf(warm, sizeof warm, "warmup over %lld steps of each worker (%s)",
                 (long long)s.warmup_steps, wwhy);
    else
        snprintf(warm, sizeof warm, "no warmup");
    if (s.decay == PSR_DECAY_NONE)
        snprintf(decay, sizeof decay, "then constant (optimizer.decay none)");
    else
        snprintf(decay, sizeof decay, "then %s decay to %g x lr at step %lld of each worker (%s)",
                 s.decay == PSR_DECAY_LINEAR ? "linear" : "cosine", s.min_ratio,
                 (long long)s.decay_steps, dwhy);
    snprintf(desc, cap, "lr %g: %s, %s", c->optimizer.lr, warm, decay);
    return s;
}
