/* test_optim: the per-table optimizers of optim.h against steps computed by hand, against naive
 * double twins over random steps, and adam against psr_adam_update bit for bit. */
#include <stdint.h>
#include <string.h>

#include "adam.h"
#include "check.h"
#include "optim.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
/* uniform in [-1, 1) */
static float frand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1ull << 23) - 1.0);
}

/* Two steps of two coordinates: w = (1, -2), g1 = (0.6, -0.8), g2 = (0.8, 0.6), lr 0.1,
 * eps 0.01. o->lr is set to nonsense: the update must use its lr argument. */
static void run2(int kind, float wd, float init_acc, float w[2], float *state)
{
    psr_optim_t o = {.kind = kind, .lr = 123.0f, .eps = 0.01f, .weight_decay = wd,
                     .init_acc = init_acc};
    const float g1[2] = {0.6f, -0.8f};
    w[0] = 1.0f;
    w[1] = -2.0f;
    psr_optim_init_state(&o, 2, state);
    psr_optim_update(&o, 0.1f, 1, w, state, g1, 2);
}

static void step2(int kind, float wd, float init_acc, float w[2], float *state)
{
    psr_optim_t o = {.kind = kind, .lr = 123.0f, .eps = 0.01f, .weight_decay = wd,
                     .init_acc = init_acc};
    const float g2[2] = {0.8f, 0.6f};
    psr_optim_update(&o, 0.1f, 2, w, state, g2, 2);
}

static void test_adagrad_by_hand(void)
{
    float w[2], acc[2];
    /* wd 0, init_acc 0.
     * step 1: acc = (0.36, 0.64), sqrt = (0.6, 0.8)
     *   w0 = 1 - 0.1*0.6/0.61 = 1 - 0.0983607 = 0.9016393
     *   w1 = -2 + 0.1*0.8/0.81 = -2 + 0.0987654 = -1.9012346 */
    run2(PSR_OPTIM_ADAGRAD, 0.0f, 0.0f, w, acc);
    CHECK_NEAR(acc[0], 0.36, 1e-7, 0);
    CHECK_NEAR(acc[1], 0.64, 1e-7, 0);
    CHECK_NEAR(w[0], 0.9016393, 2e-6, 0);
    CHECK_NEAR(w[1], -1.9012346, 2e-6, 0);
    /* step 2: acc = (0.36 + 0.64, 0.64 + 0.36) = (1, 1), denominators 1.01
     *   w0 = 0.9016393 - 0.08/1.01 = 0.9016393 - 0.0792079 = 0.8224314
     *   w1 = -1.9012346 - 0.06/1.01 = -1.9012346 - 0.0594059 = -1.9606405 */
    step2(PSR_OPTIM_ADAGRAD, 0.0f, 0.0f, w, acc);
    CHECK_NEAR(acc[0], 1.0, 1e-6, 0);
    CHECK_NEAR(acc[1], 1.0, 1e-6, 0);
    CHECK_NEAR(w[0], 0.8224314, 2e-6, 0);
    CHECK_NEAR(w[1], -1.9606405, 2e-6, 0);

    /* wd 0.5, init_acc 0.1: decay multiplies w by 1 - 0.1*0.5 = 0.95 before each step.
     * step 1: w = (0.95, -1.9); acc = (0.46, 0.74), sqrt = (0.6782330, 0.8602325)
     *   w0 = 0.95 - 0.06/0.6882330 = 0.95 - 0.0871798 = 0.8628202
     *   w1 = -1.9 + 0.08/0.8702325 = -1.9 + 0.0919295 = -1.8080705 */
    run2(PSR_OPTIM_ADAGRAD, 0.5f, 0.1f, w, acc);
    CHECK_NEAR(acc[0], 0.46, 1e-7, 0);
    CHECK_NEAR(acc[1], 0.74, 1e-7, 0);
    CHECK_NEAR(w[0], 0.8628202, 2e-6, 0);
    CHECK_NEAR(w[1], -1.8080705, 2e-6, 0);
    /* step 2: w = 0.95 * (0.8628202, -1.8080705) = (0.8196792, -1.7176670)
     *   acc = (1.1, 1.1), sqrt 1.0488088, denominator 1.0588088
     *   w0 = 0.8196792 - 0.08/1.0588088 = 0.8196792 - 0.0755566 = 0.7441226
     *   w1 = -1.7176670 - 0.06/1.0588088 = -1.7176670 - 0.0566675 = -1.7743345 */
    step2(PSR_OPTIM_ADAGRAD, 0.5f, 0.1f, w, acc);
    CHECK_NEAR(acc[0], 1.1, 1e-6, 0);
    CHECK_NEAR(w[0], 0.7441226, 2e-6, 0);
    CHECK_NEAR(w[1], -1.7743345, 2e-6, 0);
}

static void test_rowwise_by_hand(void)
{
    float w[2], acc[2] = {0, -7.0f}; /* acc[1]: sentinel, rowwise state is one float */
    /* wd 0, init_acc 0.
     * step 1: acc = (0.36 + 0.64)/2 = 0.5, sqrt 0.7071068, lr/(sqrt+eps) = 0.1/0.7171068
     *   = 0.1394492;  w0 = 1 - 0.6*0.1394492 = 0.9163305; w1 = -2 + 0.8*0.1394492 = -1.8884406 */
    run2(PSR_OPTIM_ROWWISE_ADAGRAD, 0.0f, 0.0f, w, acc);
    CHECK_NEAR(acc[0], 0.5, 1e-7, 0);
    CHECK_NEAR(w[0], 0.9163305, 2e-6, 0);
    CHECK_NEAR(w[1], -1.8884406, 2e-6, 0);
    /* step 2: acc = 0.5 + 0.5 = 1, step 0.1/1.01 = 0.0990099
     *   w0 = 0.9163305 - 0.8*0.0990099 = 0.8371226; w1 = -1.8884406 - 0.6*0.0990099 = -1.9478465 */
    step2(PSR_OPTIM_ROWWISE_ADAGRAD, 0.0f, 0.0f, w, acc);
    CHECK_NEAR(acc[0], 1.0, 1e-6, 0);
    CHECK_NEAR(w[0], 0.8371226, 2e-6, 0);
    CHECK_NEAR(w[1], -1.9478465, 2e-6, 0);
    CHECK(acc[1] == -7.0f);

    /* wd 0.5, init_acc 0.1.
     * step 1: w = (0.95, -1.9); acc = 0.1 + 0.5 = 0.6, sqrt 0.7745967, step 0.1/0.7845967
     *   = 0.1274540;  w0 = 0.95 - 0.6*0.1274540 = 0.8735276; w1 = -1.9 + 0.8*0.1274540
     *   = -1.7980368 */
    run2(PSR_OPTIM_ROWWISE_ADAGRAD, 0.5f, 0.1f, w, acc);
    CHECK_NEAR(acc[0], 0.6, 1e-7, 0);
    CHECK_NEAR(w[0], 0.8735276, 2e-6, 0);
    CHECK_NEAR(w[1], -1.7980368, 2e-6, 0);
    /* step 2: w = 0.95 * (0.8735276, -1.7980368) = (0.8298512, -1.7081350); acc = 1.1,
     *   step 0.1/1.0588088 = 0.0944458
     *   w0 = 0.8298512 - 0.8*0.0944458 = 0.7542946; w1 = -1.7081350 - 0.6*0.0944458 = -1.7648025 */
    step2(PSR_OPTIM_ROWWISE_ADAGRAD, 0.5f, 0.1f, w, acc);
    CHECK_NEAR(acc[0], 1.1, 1e-6, 0);
    CHECK_NEAR(w[0], 0.7542946, 2e-6, 0);
    CHECK_NEAR(w[1], -1.7648025, 2e-6, 0);
    CHECK(acc[1] == -7.0f);
}

/* Naive double twins of the two adagrads (optim.h's rules, one coordinate at a time). */
static void adagrad_naive(double lr, double eps, double wd, double *w, double *acc,
                          const float *g, int n)
{
    for (int j = 0; j < n; j++) {
        w[j] -= lr * wd * w[j];
        acc[j] += (double)g[j] * g[j];
        w[j] -= lr * g[j] / (sqrt(acc[j]) + eps);
    }
}

static void rowwise_naive(double lr, double eps, double wd, double *w, double *acc,
                          const float *g, int n)
{
    double ss = 0;
    for (int j = 0; j < n; j++) ss += (double)g[j] * g[j];
    *acc += ss / n;
    for (int j = 0; j < n; j++) w[j] = w[j] - lr * wd * w[j] - lr * g[j] / (sqrt(*acc) + eps);
}

/* Width 37 = two blocks of 16 plus a tail of 5: both halves of the blocked loops run. */
#define RW 37
static void test_against_naive(int kind)
{
    psr_optim_t o = {.kind = kind, .eps = 1e-3f, .weight_decay = 0.02f, .init_acc = 0.1f};
    float w[RW], st[RW], g[RW];
    double wn[RW], sn[RW];
    for (int j = 0; j < RW; j++) wn[j] = w[j] = frand();
    psr_optim_init_state(&o, RW, st);
    for (int j = 0; j < RW; j++) sn[j] = st[j];
    double worst = 0;
    for (int t = 1; t <= 200; t++) {
        const float lr = 0.05f * (1.0f + frand()) + 0.001f;
        for (int j = 0; j < RW; j++) g[j] = frand() * (t % 7 == 0 ? 10.0f : 1.0f);
        psr_optim_update(&o, lr, t, w, st, g, RW);
        if (kind == PSR_OPTIM_ADAGRAD)
            adagrad_naive(lr, o.eps, o.weight_decay, wn, sn, g, RW);
        else
            rowwise_naive(lr, o.eps, o.weight_decay, wn, sn, g, RW);
        for (int j = 0; j < RW; j++) {
            const double d = fabs(w[j] - wn[j]);
            if (d > worst) worst = d;
        }
    }
    /* float vs double over 200 steps: about 1e-6 apart (measured), far below one step */
    CHECK_NEAR(worst, 0, 1e-5, 0);
    CHECK_NEAR(st[0], sn[0], 0, 1e-5);
    if (kind == PSR_OPTIM_ADAGRAD) CHECK_NEAR(st[RW - 1], sn[RW - 1], 0, 1e-5);
}

static void test_adam_bit_identical(void)
{
    psr_optim_t o = {.kind = PSR_OPTIM_ADAM, .lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f,
                     .eps = 1e-8f, .weight_decay = 0.01f};
    psr_adam_t a = {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay};
    float w1[RW], w2[RW], s1[2 * RW], m2[RW], v2[RW], g[RW];
    for (int j = 0; j < RW; j++) w1[j] = w2[j] = frand();
    for (int j = 0; j < 2 * RW; j++) s1[j] = 5.0f; /* init_state must zero it */
    psr_optim_init_state(&o, RW, s1);
    memset(m2, 0, sizeof m2);
    memset(v2, 0, sizeof v2);
    int same = 1;
    for (int t = 1; t <= 1000; t++) {
        const float lr = 0.01f * (1.0f + frand());
        for (int j = 0; j < RW; j++) g[j] = frand();
        psr_optim_update(&o, lr, t, w1, s1, g, RW);
        psr_adam_update(&a, lr, t, w2, m2, v2, g, RW);
        same &= memcmp(w1, w2, sizeof w1) == 0 && memcmp(s1, m2, sizeof m2) == 0 &&
                memcmp(s1 + RW, v2, sizeof v2) == 0;
    }
    CHECK(same);
    CHECK(w1[0] != 0.0f && w1[0] == w2[0]); /* the weights did move and agree */
}

static void test_state(void)
{
    CHECK_INT(psr_optim_state_floats(PSR_OPTIM_ADAM, 16), 32);
    CHECK_INT(psr_optim_state_floats(PSR_OPTIM_ADAGRAD, 16), 16);
    CHECK_INT(psr_optim_state_floats(PSR_OPTIM_ROWWISE_ADAGRAD, 16), 1);
    CHECK_INT(psr_optim_state_floats(PSR_OPTIM_ADAM, 1), 2);
    CHECK_INT(psr_optim_state_floats(PSR_OPTIM_COUNT, 16), 0);
    CHECK_INT(psr_optim_state_floats(-1, 16), 0);

    /* init_state writes exactly state_floats floats: the sentinel after them survives */
    float s[8];
    for (int k = 0; k < PSR_OPTIM_COUNT; k++) {
        psr_optim_t o = {.kind = k, .init_acc = 0.25f};
        for (int j = 0; j < 8; j++) s[j] = -1.0f;
        psr_optim_init_state(&o, 3, s);
        const int n = psr_optim_state_floats(k, 3);
        const float want = k == PSR_OPTIM_ADAM ? 0.0f : 0.25f;
        for (int j = 0; j < n; j++) CHECK(s[j] == want);
        CHECK(s[n] == -1.0f);
    }
}

static void test_names(void)
{
    CHECK(strcmp(psr_optim_name(PSR_OPTIM_ADAM), "adam") == 0);
    CHECK(strcmp(psr_optim_name(PSR_OPTIM_ADAGRAD), "adagrad") == 0);
    CHECK(strcmp(psr_optim_name(PSR_OPTIM_ROWWISE_ADAGRAD), "rowwise_adagrad") == 0);
    CHECK(strcmp(psr_optim_name(PSR_OPTIM_COUNT), "?") == 0);
    CHECK(strcmp(psr_optim_name(-1), "?") == 0);
    for (int k = 0; k < PSR_OPTIM_COUNT; k++) CHECK_INT(psr_optim_parse(psr_optim_name(k)), k);
    CHECK_INT(psr_optim_parse("sgd"), -1);
    CHECK_INT(psr_optim_parse("Adam"), -1);
    CHECK_INT(psr_optim_parse("adam "), -1);
    CHECK_INT(psr_optim_parse(""), -1);
    CHECK_INT(psr_optim_parse("?"), -1);
    CHECK_INT(psr_optim_parse(NULL), -1);
}

int main(void)
{
    test_adagrad_by_hand();
    test_rowwise_by_hand();
    test_against_naive(PSR_OPTIM_ADAGRAD);
    test_against_naive(PSR_OPTIM_ROWWISE_ADAGRAD);
    test_adam_bit_identical();
    test_state();
    test_names();
    CHECK_DONE();
}
