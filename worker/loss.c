/* loss: see loss.h for the rules. Pointwise losses: one entry each in point_ops, in kind order. */
#include "loss.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

typedef double (*point_fn)(const float *score, const float *label, int n, float scale,
                           float *dscore);

double wk_loss_bce1(double z, double y)
{
    return (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
}

static double bce_point(const float *score, const float *label, int n, float scale,
                        float *dscore)
{
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const double z = score[i], y = label[i];
        loss += wk_loss_bce1(z, y);
        /* The float cast before the float multiply is what worker/model.c did: keep it. */
        if (dscore) dscore[i] = (float)(1.0 / (1.0 + exp(-z)) - y) * scale;
    }
    return loss;
}

static double mse_point(const float *score, const float *label, int n, float scale,
                        float *dscore)
{
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const double d = (double)score[i] - (double)label[i];
        loss += d * d;
        if (dscore) dscore[i] = (float)(2.0 * d) * scale;
    }
    return loss;
}

static const struct {
    const char *name;
    point_fn point; /* NULL: not pointwise */
} loss_ops[] = {
    [WK_LOSS_BCE] = {"bce", bce_point},
    [WK_LOSS_MSE] = {"mse", mse_point},
    [WK_LOSS_BPR] = {"bpr", NULL},
};
_Static_assert(sizeof loss_ops / sizeof loss_ops[0] == WK_LOSS_COUNT, "loss_ops");

const char *wk_loss_name(int kind)
{
    if (kind < 0 || kind >= WK_LOSS_COUNT) return "?";
    return loss_ops[kind].name;
}

int wk_loss_parse(const char *name)
{
    if (!name) return -1;
    for (int k = 0; k < WK_LOSS_COUNT; k++)
        if (strcmp(name, loss_ops[k].name) == 0) return k;
    return -1;
}

double wk_loss_point(int kind, const float *score, const float *label, int n, float scale,
                     float *dscore)
{
    if (kind < 0 || kind >= WK_LOSS_COUNT || !loss_ops[kind].point) return NAN;
    return loss_ops[kind].point(score, label, n, scale, dscore);
}

double wk_loss_bpr(const float *pos, const float *neg, int n, int n_neg, float scale, float *dpos,
                   float *dneg)
{
    const double s = scale;
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const double p = pos[i];
        double dp = 0.0;
        for (int j = 0; j < n_neg; j++) {
            const size_t k = (size_t)i * (size_t)n_neg + (size_t)j;
            const double x = p - (double)neg[k]; /* in double: no float overflow or cancel */
            const double e = exp(-fabs(x));       /* in (0, 1] */
            loss += (x < 0 ? -x : 0) + log1p(e);
            const double sig = x <= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e); /* sigmoid(-x) */
            dp -= sig;
            if (dneg) dneg[k] = (float)(sig * s);
        }
        if (dpos) dpos[i] = (float)(dp * s);
    }
    return loss;
}
