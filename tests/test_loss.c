/* test_loss: every loss of loss.h and its derivative against central finite differences in
 * double, hand-computed values, stability at large |score|, bce's gradient bit for bit against
 * the expression training used before the module, and the name table. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "loss.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
/* uniform in [-1, 1) */
static double drand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / (double)(1ull << 52) - 1.0;
}

/* A random score in [-r, r) on a grid of 2^-12, so that score +- FD_H is exact in float (|score|
 * < 2048 leaves 12 fraction bits of a float's 24): the finite difference sees exactly +-h. */
static float grid(double r) { return (float)(round(drand() * r * 4096.0) / 4096.0); }
#define FD_H (1.0 / 256.0)

/* ---- pointwise: bce and mse ---- */

static void test_point_fd(int kind)
{
    enum { N = 40 };
    float z[N], y[N], d[N];
    const float scale = 1.0f / 7.0f;
    for (int i = 0; i < N; i++) {
        /* every fourth score large, where a naive bce overflows */
        z[i] = grid(i % 4 == 3 ? 900.0 : 6.0);
        y[i] = kind == WK_LOSS_BCE ? (float)(i % 3 == 2 ? 0.3 : i % 2) : grid(3.0);
    }
    z[0] = 50.0f, z[1] = -50.0f, z[2] = 800.0f, z[3] = -800.0f;
    const double loss = wk_loss_point(kind, z, y, N, scale, d);
    CHECK(isfinite(loss));
    double sum = 0.0;
    for (int i = 0; i < N; i++) {
        const float z0 = z[i];
        z[i] = (float)(z0 + FD_H);
        const double lp = wk_loss_point(kind, z, y, N, scale, NULL);
        z[i] = (float)(z0 - FD_H);
        const double lm = wk_loss_point(kind, z, y, N, scale, NULL);
        z[i] = z0;
        const double li = wk_loss_point(kind, z + i, y + i, 1, scale, NULL);
        sum += li;
        /* (lp - lm) / 2h: mse is quadratic so exact; bce's third derivative is <= 0.1, so the
         * truncation error h^2/6 * 0.1 < 1e-6; rounding of sums near 1e4 adds ~1e-12 / h */
        const double fd = (lp - lm) / (2 * FD_H) * scale;
        CHECK_NEAR(d[i], fd, 2e-6, 1e-6); /* rtol: d is a float, up to ~250 for mse */
        CHECK(isfinite(li) && isfinite(d[i]));
    }
    CHECK_NEAR(loss, sum, 0, 1e-12);
}

/* bce1 alone, in double with a small step, at random and large logits */
static void test_bce1_fd(void)
{
    const double zs[] = {50, -50, 800, -800, 0.0, 3.5, -7.25};
    const double ys[] = {0.0, 1.0, 0.3};
    for (size_t a = 0; a < sizeof zs / sizeof zs[0]; a++)
        for (size_t b = 0; b < 3; b++) {
            const double z = zs[a], y = ys[b], h = 1e-4;
            const double fd = (wk_loss_bce1(z + h, y) - wk_loss_bce1(z - h, y)) / (2 * h);
            const double sig = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
            CHECK_NEAR(fd, sig - y, 1e-7, 0);
        }
    for (int k = 0; k < 20; k++) {
        const double z = 10 * drand(), y = 0.5 + 0.5 * drand(), h = 1e-5;
        const double fd = (wk_loss_bce1(z + h, y) - wk_loss_bce1(z - h, y)) / (2 * h);
        CHECK_NEAR(fd, 1 / (1 + exp(-z)) - y, 1e-8, 0);
    }
}

static void test_point_by_hand(void)
{
    /* bce with scale 0.5:
     *   z 0,  y 1:    loss ln 2 = 0.6931472;            d = (0.5 - 1) * 0.5 = -0.25
     *   z 2,  y 0:    loss 2 + ln(1 + e^-2) = 2.1269280; d = sigmoid(2) * 0.5 = 0.4403985
     *   z -1, y 0.25: loss 0.25 + ln(1 + e^-1) = 0.5632617;
     *                 d = (sigmoid(-1) - 0.25) * 0.5 = (0.2689414 - 0.25) * 0.5 = 0.0094707
     *   sum 3.3833369 */
    const float z[3] = {0.0f, 2.0f, -1.0f}, y[3] = {1.0f, 0.0f, 0.25f};
    float d[3];
    CHECK_NEAR(wk_loss_point(WK_LOSS_BCE, z, y, 3, 0.5f, d), 3.3833369, 1e-7, 0);
    CHECK_NEAR(d[0], -0.25, 1e-7, 0);
    CHECK_NEAR(d[1], 0.4403985, 1e-7, 0);
    CHECK_NEAR(d[2], 0.0094707, 1e-7, 0);
    CHECK_NEAR(wk_loss_bce1(2.0, 0.0), 2.1269280, 1e-7, 0);

    /* mse with scale 0.25: z 3, y 1: loss 4, d 2*2*0.25 = 1; z -0.5, y 0.5: loss 1,
     * d 2*(-1)*0.25 = -0.5; sum 5 */
    const float zm[2] = {3.0f, -0.5f}, ym[2] = {1.0f, 0.5f};
    CHECK_NEAR(wk_loss_point(WK_LOSS_MSE, zm, ym, 2, 0.25f, d), 5.0, 0, 0);
    CHECK(d[0] == 1.0f);
    CHECK(d[1] == -0.5f);

    /* bpr is not pointwise, nor is a kind out of range: NAN, nothing written */
    d[0] = 9.0f;
    CHECK(isnan(wk_loss_point(WK_LOSS_BPR, zm, ym, 2, 1.0f, d)));
    CHECK(isnan(wk_loss_point(WK_LOSS_COUNT, zm, ym, 2, 1.0f, d)));
    CHECK(isnan(wk_loss_point(-1, zm, ym, 2, 1.0f, d)));
    CHECK(d[0] == 9.0f);
}

static void test_bce_large(void)
{
    /* The naive -(y log s + (1 - y) log(1 - s)) gives inf or NaN here (s rounds to 0 or 1).
     * loss(z, y) = max(z, 0) - z y + log1p(e^-|z|), and e^-50 = 1.93e-22, e^-800 = 0:
     *   z 50, y 0.3:  35 (+1.9e-22);   z -50, y 0.3: 15;   z 800, y 0.3: 560;  z -800: 240.
     * d = sigmoid(z) - y: 0.7, -0.3 + 1.9e-22, 0.7, -0.3 (exp(800) = inf: 1/(1+inf) = 0). */
    const float z[4] = {50.0f, -50.0f, 800.0f, -800.0f};
    const float y[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    const double yd = (double)0.3f;
    float d[4];
    const double l = wk_loss_point(WK_LOSS_BCE, z, y, 4, 1.0f, d);
    CHECK(isfinite(l));
    CHECK_NEAR(l, 50 * (1 - yd) + 50 * yd + 800 * (1 - yd) + 800 * yd, 1e-9, 0);
    CHECK_NEAR(wk_loss_bce1(50, 0.3), 35.0, 1e-12, 0);
    CHECK_NEAR(wk_loss_bce1(-50, 0.3), 15.0, 1e-12, 0);
    CHECK_NEAR(wk_loss_bce1(800, 0.3), 560.0, 1e-9, 0);
    CHECK_NEAR(wk_loss_bce1(-800, 0.3), 240.0, 1e-9, 0);
    CHECK(wk_loss_bce1(50, 1.0) > 0 && wk_loss_bce1(50, 1.0) < 2e-22); /* log1p keeps e^-50 */
    CHECK(wk_loss_bce1(-800, 0.0) == 0.0);
    CHECK_NEAR(d[0], 0.7, 1e-7, 0);
    CHECK_NEAR(d[1], -0.3, 1e-7, 0);
    CHECK_NEAR(d[2], 0.7, 1e-7, 0);
    CHECK_NEAR(d[3], -0.3, 1e-7, 0);
    /* y 0 at z -50: the gradient is e^-50 itself, not flushed to 0 */
    const float y0 = 0.0f;
    CHECK_NEAR(wk_loss_point(WK_LOSS_BCE, &z[1], &y0, 1, 1.0f, d), 1.9287498e-22, 0, 1e-6);
    CHECK_NEAR(d[0], 1.9287498e-22, 0, 1e-6);
}

/* dscore must be bit-identical to the expression training used in worker/model.c. */
static void test_bce_bits(void)
{
    enum { N = 2000 };
    static float z[N], y[N], d[N];
    const float scales[3] = {1.0f / 7.0f, 1.0f / 4096.0f, 1.0f};
    for (int i = 0; i < N; i++) {
        z[i] = (float)(drand() * (i % 5 == 0 ? 100.0 : 8.0));
        y[i] = i % 7 == 0 ? (float)(0.5 + 0.5 * drand()) : (float)(i % 2);
    }
    for (int s = 0; s < 3; s++) {
        const float inv_n = scales[s];
        wk_loss_point(WK_LOSS_BCE, z, y, N, inv_n, d);
        int same = 1;
        for (int i = 0; i < N; i++) {
            const double zz = z[i], yy = y[i];
            const float g = (float)(1.0 / (1.0 + exp(-zz)) - yy) * inv_n;
            same &= memcmp(&g, &d[i], sizeof g) == 0;
        }
        CHECK(same);
    }
}

/* ---- bpr ---- */

static void test_bpr_by_hand(void)
{
    /* pos (1, 0), neg ((1, 3), (-2, 0)), x = pos - neg, loss = softplus(-x), d neg = sigmoid(-x):
     *   row 0: x 0:  ln 2 = 0.6931472,           sigmoid(0) = 0.5
     *          x -2: ln(1 + e^2) = 2.1269280,     sigmoid(2) = 0.8807971
     *   row 1: x 2:  ln(1 + e^-2) = 0.1269280,    sigmoid(-2) = 0.1192029
     *          x 0:  0.6931472,                   0.5
     *   total 3.6401504; dpos = -(0.5 + 0.8807971), -(0.1192029 + 0.5) = -1.3807971, -0.6192029
     *   With scale 0.5 every gradient halves. */
    const float pos[2] = {1.0f, 0.0f}, neg[4] = {1.0f, 3.0f, -2.0f, 0.0f};
    float dp[2], dn[4];
    CHECK_NEAR(wk_loss_bpr(pos, neg, 2, 2, 0.5f, dp, dn), 3.6401504, 1e-7, 0);
    CHECK_NEAR(dp[0], -1.3807971 / 2, 1e-7, 0);
    CHECK_NEAR(dp[1], -0.6192029 / 2, 1e-7, 0);
    CHECK_NEAR(dn[0], 0.25, 1e-7, 0);
    CHECK_NEAR(dn[1], 0.8807971 / 2, 1e-7, 0);
    CHECK_NEAR(dn[2], 0.1192029 / 2, 1e-7, 0);
    CHECK_NEAR(dn[3], 0.25, 1e-7, 0);
    /* NULL gradients: loss only */
    CHECK_NEAR(wk_loss_bpr(pos, neg, 2, 2, 0.5f, NULL, NULL), 3.6401504, 1e-7, 0);
}

static void test_bpr_large(void)
{
    /* x = pos - neg at +-50, +-800, -1600. The naive log(1 + exp(-x)) is inf at x = -800.
     *   x 800:   loss 0,                   d neg = sigmoid(-800) = 0
     *   x -800:  loss 800,                 d neg = 1
     *   x 50:    loss e^-50 = 1.93e-22,    d neg = 1.93e-22
     *   x -50:   loss 50,                  d neg = 1
     *   x -1600: loss 1600,                d neg = 1
     * row 0 holds x 800, -800; row 1 holds 50, -50; row 2 holds -1600 and 0 (ln 2, 0.5). */
    const float pos[3] = {400.0f, 0.0f, -800.0f};
    const float neg[6] = {-400.0f, 1200.0f, -50.0f, 50.0f, 800.0f, -800.0f};
    float dp[3], dn[6];
    const double l = wk_loss_bpr(pos, neg, 3, 2, 1.0f, dp, dn);
    CHECK(isfinite(l));
    CHECK_NEAR(l, 800 + 50 + 1600 + log(2.0), 1e-9, 0);
    CHECK(dn[0] == 0.0f);
    CHECK(dn[1] == 1.0f);
    CHECK_NEAR(dn[2], 1.9287498e-22, 0, 1e-6);
    CHECK(dn[3] == 1.0f);
    CHECK(dn[4] == 1.0f);
    CHECK(dn[5] == 0.5f);
    CHECK(dp[0] == -1.0f);
    CHECK(dp[1] == -1.0f);
    CHECK(dp[2] == -1.5f);
    const float p1 = 50.0f, n1 = 0.0f;
    CHECK_NEAR(wk_loss_bpr(&p1, &n1, 1, 1, 1.0f, NULL, NULL), 1.9287498e-22, 0, 1e-6);
}

static void test_bpr_fd(void)
{
    enum { N = 9, K = 3 };
    float pos[N], neg[N * K], dp[N], dn[N * K];
    const float scale = 1.0f / 9.0f;
    for (int i = 0; i < N; i++) pos[i] = grid(i % 3 == 2 ? 900.0 : 5.0);
    for (int k = 0; k < N * K; k++) neg[k] = grid(k % 4 == 1 ? 900.0 : 5.0);
    const double loss = wk_loss_bpr(pos, neg, N, K, scale, dp, dn);
    CHECK(isfinite(loss));
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        const float p0 = pos[i];
        pos[i] = (float)(p0 + FD_H);
        const double lp = wk_loss_bpr(pos, neg, N, K, scale, NULL, NULL);
        pos[i] = (float)(p0 - FD_H);
        const double lm = wk_loss_bpr(pos, neg, N, K, scale, NULL, NULL);
        pos[i] = p0;
        worst = fmax(worst, fabs(dp[i] - (lp - lm) / (2 * FD_H) * scale));
    }
    for (int k = 0; k < N * K; k++) {
        const float n0 = neg[k];
        neg[k] = (float)(n0 + FD_H);
        const double lp = wk_loss_bpr(pos, neg, N, K, scale, NULL, NULL);
        neg[k] = (float)(n0 - FD_H);
        const double lm = wk_loss_bpr(pos, neg, N, K, scale, NULL, NULL);
        neg[k] = n0;
        worst = fmax(worst, fabs(dn[k] - (lp - lm) / (2 * FD_H) * scale));
    }
    /* softplus''' <= 0.1: truncation h^2/6 * 0.1 * 3 pairs < 1e-6; the large pairs make
     * losses near 1e4 whose rounding adds ~1e-12 / h */
    CHECK_NEAR(worst, 0.0, 2e-6, 0);
}

static void test_names(void)
{
    CHECK(strcmp(wk_loss_name(WK_LOSS_BCE), "bce") == 0);
    CHECK(strcmp(wk_loss_name(WK_LOSS_MSE), "mse") == 0);
    CHECK(strcmp(wk_loss_name(WK_LOSS_BPR), "bpr") == 0);
    CHECK(strcmp(wk_loss_name(WK_LOSS_COUNT), "?") == 0);
    CHECK(strcmp(wk_loss_name(-1), "?") == 0);
    for (int k = 0; k < WK_LOSS_COUNT; k++) CHECK_INT(wk_loss_parse(wk_loss_name(k)), k);
    CHECK_INT(wk_loss_parse("BCE"), -1);
    CHECK_INT(wk_loss_parse("hinge"), -1);
    CHECK_INT(wk_loss_parse(""), -1);
    CHECK_INT(wk_loss_parse("?"), -1);
    CHECK_INT(wk_loss_parse(NULL), -1);
}

int main(void)
{
    test_point_fd(WK_LOSS_BCE);
    test_point_fd(WK_LOSS_MSE);
    test_bce1_fd();
    test_point_by_hand();
    test_bce_large();
    test_bce_bits();
    test_bpr_by_hand();
    test_bpr_large();
    test_bpr_fd();
    test_names();
    CHECK_DONE();
}
