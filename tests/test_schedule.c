/* test_schedule: the learning-rate multiplier against hand-computed points. */
#include "check.h"
#include "schedule.h"

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
    CHECK_DONE();
}
