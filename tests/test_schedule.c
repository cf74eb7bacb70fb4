/* test_schedule: the learning-rate multiplier against hand-computed points. */
#include <stdlib.h>

#include "check.h"
#include "schedule.h"

/* The multiplier at the step where `examples` examples of all workers have been trained, for
 * a job of n_workers workers of batch B (each step of each worker takes B examples). */
static double scale_at(const psr_schedule_t *s, int64_t examples, int n_workers, int B)
{
    return psr_lr_scale(s, examples / ((int64_t)n_workers * B));
}

int main(void)
{
    psr_schedule_t none = {0, PSR_DECAY_NONE, 0, 0};
    CHECK_NEAR(psr_lr_scale(&none, 0), 1.0, 0, 0);
    CHECK_NEAR(psr_lr_scale(&none, 123456), 1.0, 0, 0);

    psr_schedule_t warm = {4, PSR_DECAY_NONE, 0, 0};
    CHECK_NEAR(psr_lr_scale(&warm, 0), 0.25, 1e-15, 0);
    CHECK_NEAR(psr_lr_scale(&warm, 2), 0.75, 1e-15, 0);
    CHECK_NEAR(psr_lr_scale(&warm, 3), 1.0, 1e-15, 0);
    CHECK_NEAR(psr_lr_scale(&warm, 100), 1.0, 1e-15, 0);

    /* warmup 10, linear decay to 0.1 at step 110 */
    psr_schedule_t lin = {10, PSR_DECAY_LINEAR, 110, 0.1};
    CHECK_NEAR(psr_lr_scale(&lin, 9), 1.0, 1e-15, 0);
    CHECK_NEAR(psr_lr_scale(&lin, 10), 1.0, 1e-15, 0);
    CHECK_NEAR(psr_lr_scale(&lin, 60), 0.55, 1e-12, 0); /* halfway: 1 - 0.9 * 0.5 */
    CHECK_NEAR(psr_lr_scale(&lin, 110), 0.1, 1e-15, 0);
    CHECK_NEAR(psr_lr_scale(&lin, 5000), 0.1, 1e-15, 0);

    psr_schedule_t cosd = {0, PSR_DECAY_COSINE, 100, 0.0};
    CHECK_NEAR(psr_lr_scale(&cosd, 0), 1.0, 1e-15, 0);
    CHECK_NEAR(psr_lr_scale(&cosd, 50), 0.5, 1e-12, 0);
    CHECK_NEAR(psr_lr_scale(&cosd, 25), 0.5 * (1 + cos(M_PI / 4)), 1e-12, 0);
    CHECK_NEAR(psr_lr_scale(&cosd, 100), 0.0, 1e-15, 0);

    /* lengths in examples: resolved to steps of each worker from the worker count */
    cfg_t *c = calloc(1, sizeof *c);
    cfg_defaults(c);
    c->train.batch_size = 512;
    c->optimizer.decay = CFG_DECAY_LINEAR;
    c->optimizer.min_lr_ratio = 0.0;
    c->optimizer.warmup_examples = 102400;  /* 200 steps of 1 worker x 512 */
    c->optimizer.decay_examples = 2048000;  /* 4000 steps of 1 worker x 512 */
    const psr_sched_base_t zero = {0, 0};
    char desc[512];
    psr_schedule_t s1 = psr_schedule_resolve(c, 1, zero, desc, sizeof desc);
    CHECK_INT(s1.warmup_steps, 200);
    CHECK_INT(s1.decay_steps, 4000);
    CHECK_CONTAINS(desc, "warmup over 200 steps of each worker (optimizer.warmup_examples "
                         "102400 / (1 worker x batch 512))");
    CHECK_CONTAINS(desc, "then linear decay to 0 x lr at step 4000 of each worker "
                         "(optimizer.decay_examples 2048000 / (1 worker x batch 512))");
    psr_schedule_t s2 = psr_schedule_resolve(c, 2, zero, desc, sizeof desc);
    CHECK_INT(s2.warmup_steps, 100);
    CHECK_INT(s2.decay_steps, 2000);
    CHECK_CONTAINS(desc, "at step 2000 of each worker (optimizer.decay_examples 2048000 / "
                         "(2 workers x batch 512))");
    psr_schedule_t s4 = psr_schedule_resolve(c, 4, zero, NULL, 0);
    CHECK_INT(s4.decay_steps, 1000);
    /* 1, 2 and 4 workers: the same multiplier at the same point of the run, exactly at the
     * schedule's landmarks and within one step of the 4-worker job (whose steps are 4 times
     * coarser) everywhere else */
    const psr_schedule_t *by_n[3] = {&s1, &s2, &s4};
    for (int i = 0; i < 3; i++) {
        const int n = 1 << i;
        CHECK_NEAR(scale_at(by_n[i], 102400 - n * 512, n, 512), 1.0, 1e-12, 0); /* warmup's last step */
        CHECK(scale_at(by_n[i], 102400 - 2 * n * 512, n, 512) < 1.0);
        CHECK_NEAR(scale_at(by_n[i], 1075200, n, 512), 0.5, 1e-12, 0);  /* half the decay */
        CHECK_NEAR(scale_at(by_n[i], 2048000, n, 512), 0.0, 1e-12, 0);  /* decay's end */
        CHECK(scale_at(by_n[i], 2048000 - n * 512, n, 512) > 0.0);
    }
    for (int64_t e = 0; e <= 2048000 + 8192; e += 4096) {
        CHECK_NEAR(scale_at(&s2, e, 2, 512), scale_at(&s1, e, 1, 512), 1.0 / 50, 0);
        CHECK_NEAR(scale_at(&s4, e, 4, 512), scale_at(&s1, e, 1, 512), 1.0 / 50, 0);
    }
    /* not a multiple: rounded up, so the decay never ends before the examples are trained */
    c->optimizer.decay_examples = 1000000;
    CHECK_INT(psr_schedule_resolve(c, 2, zero, NULL, 0).decay_steps, 977); /* 976.56 */
    CHECK_INT(psr_schedule_resolve(c, 1, zero, NULL, 0).decay_steps, 1954); /* 1953.1 */
    /* a job resumed on 2 workers after 1-worker training to step 1000 (512000 examples):
     * the remaining 488000 examples are spread over 2 workers from step 1000 */
    const psr_sched_base_t base = {512000, 1000};
    psr_schedule_t r = psr_schedule_resolve(c, 2, base, desc, sizeof desc);
    CHECK_INT(r.decay_steps, 1000 + 477); /* ceil(488000 / 1024) = 476.6 */
    CHECK_CONTAINS(desc, "counted from example 512000 at step 1000");
    /* the step keys pass through; decay_steps 0 is train.max_steps */
    c->optimizer.warmup_examples = c->optimizer.decay_examples = 0;
    c->optimizer.warmup_steps = 7;
    c->optimizer.decay_steps = 70;
    psr_schedule_t k = psr_schedule_resolve(c, 3, zero, desc, sizeof desc);
    CHECK_INT(k.warmup_steps, 7);
    CHECK_INT(k.decay_steps, 70);
    CHECK_CONTAINS(desc, "(optimizer.warmup_steps)");
    c->optimizer.decay_steps = 0;
    c->train.max_steps = 90;
    CHECK_INT(psr_schedule_resolve(c, 3, zero, desc, sizeof desc).decay_steps, 90);
    CHECK_CONTAINS(desc, "at step 90 of each worker (train.max_steps)");
    c->optimizer.decay = CFG_DECAY_NONE;
    c->optimizer.warmup_steps = 0;
    psr_schedule_resolve(c, 3, zero, desc, sizeof desc);
    CHECK_CONTAINS(desc, "no warmup, then constant (optimizer.decay none)");
    free(c);
    CHECK_DONE();
}
