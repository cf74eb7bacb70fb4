/* model: the registry of models and what every model shares (see model.h). */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loss.h"
#include "optim.h"
#include "psr_error.h"
#include "wire.h"

extern const wk_model_ops_t wk_model_lr, wk_model_fm, wk_model_deepfm, wk_model_dlrm,
    wk_model_mf, wk_model_neumf, wk_model_pop;

/* The list: one line per model. */
static const wk_model_ops_t *const models[] = {
    &wk_model_lr, &wk_model_fm, &wk_model_deepfm, &wk_model_dlrm,
    &wk_model_mf, &wk_model_neumf, &wk_model_pop,
};
#define N_MODELS 7
_Static_assert(sizeof models / sizeof models[0] == N_MODELS, "one line per model");

static const char *const task_names[] = {"ctr", "rating", "topk"};
_Static_assert(sizeof task_names / sizeof task_names[0] == WK_TASK_COUNT, "task_names");

const char *wk_task_name(int task)
{
    return task >= 0 && task < WK_TASK_COUNT ? task_names[task] : "?";
}

int wk_model_count(void) { return N_MODELS; }
const wk_model_ops_t *wk_model_at(int i) { return i >= 0 && i < N_MODELS ? models[i] : NULL; }

const wk_model_ops_t *wk_model_find(const char *name)
{
    for (int i = 0; i < N_MODELS; i++)
        if (!strcmp(models[i]->name, name)) return models[i];
    return NULL;
}

const wk_model_ops_t *wk_model_of(const cfg_t *c) { return wk_model_find(c->model.type); }

int wk_model_task(const cfg_t *c)
{
    if (c->eval.task != CFG_TASK_AUTO) return c->eval.task - 1;
    const wk_model_ops_t *o = wk_model_of(c);
    return o ? o->task : WK_TASK_CTR;
}

int wk_model_loss(const cfg_t *c)
{
    if (c->model.loss != CFG_LOSS_AUTO) return c->model.loss - 1;
    return wk_model_task(c) == WK_TASK_RATING ? WK_LOSS_MSE : WK_LOSS_BCE;
}

/* Apply one "TABLE.KEY=VALUE" of embedding.tables. */
static int table_option(wk_layout_t *lay, const char *opt)
{
    const char *dot = strchr(opt, '.'), *eq = strchr(opt, '=');
    char names[256] = "";
    for (int t = 0; t < lay->tables.n; t++) {
        size_t o = strlen(names);
        snprintf(names + o, sizeof names - o, "%s%s", t ? ", " : "", lay->tables.t[t].name);
    }
    PSR_RETURN_IF(!dot || !eq || eq < dot, PSR_ERR_CONFIG,
                  "key 'embedding.tables': found '%s', allowed entries TABLE.KEY=VALUE with "
                  "TABLE one of this model's tables (%s) and KEY optimizer or init_std", opt,
                  names);
    int t = 0;
    for (; t < lay->tables.n; t++)
        if (strlen(lay->tables.t[t].name) == (size_t)(dot - opt) &&
            !memcmp(lay->tables.t[t].name, opt, (size_t)(dot - opt)))
            break;
    PSR_RETURN_IF(t == lay->tables.n, PSR_ERR_CONFIG,
                  "key 'embedding.tables': entry '%s' names table '%.*s', but this model's "
                  "tables are %s", opt, (int)(dot - opt), opt, names);
    psr_table_spec_t *sp = &lay->tables.t[t];
    const char *key = dot + 1, *val = eq + 1;
    size_t kl = (size_t)(eq - key);
    if (kl == 9 && !memcmp(key, "optimizer", 9)) {
        int k = psr_optim_parse(val);
        PSR_RETURN_IF(k < 0, PSR_ERR_CONFIG,
                      "key 'embedding.tables': entry '%s': optimizer '%s', allowed adam, "
                      "adagrad or rowwise_adagrad", opt, val);
        sp->optim = k;
        return PSR_OK;
    }
    if (kl == 8 && !memcmp(key, "init_std", 8)) {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        PSR_RETURN_IF(!*val || *end || errno || !(v >= 0 && v <= 10), PSR_ERR_CONFIG,
                      "key 'embedding.tables': entry '%s': init_std '%s', allowed a number in "
                      "[0, 10]", opt, val);
        sp->init_std = (float)v;
        return PSR_OK;
    }
    return PSR_ERR(PSR_ERR_CONFIG, "key 'embedding.tables': entry '%s': unknown setting "
                   "'%.*s', allowed optimizer or init_std", opt, (int)kl, key);
}

static int layout(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay)
{
    const wk_model_ops_t *o = wk_model_of(c);
    memset(lay, 0, sizeof *lay);
    for (int f = 0; f < BLK_MAX_FIELDS; f++) lay->field_table[f] = -1;
    lay->bias_table = lay->neg_table = -1;
    o->layout(c, s, lay);
    for (int t = 0; t < lay->tables.n; t++) lay->tables.t[t].optim = c->embedding.optimizer;
    for (int i = 0; i < c->embedding.tables.n; i++)
        PSR_FORWARD(table_option(lay, c->embedding.tables.path[i]));
    return PSR_OK;
}

void wk_layout_of(const cfg_t *c, const blk_schema_t *s, wk_layout_t *lay)
{
    if (layout(c, s, lay) != PSR_OK) psr_die(2, "%s", psr_err_msg()); /* validated before */
}

/* Bytes a worker needs for the dense parameters: theta, dtheta, and in allreduce mode Adam's
 * m and v and the reduction buffer. */
static double dense_bytes(size_t n_params)
{
    return 5.0 * (double)n_params * sizeof(float);
}

int wk_model_validate(const cfg_t *c, const blk_schema_t *s, wk_layout_t *out)
{
    const wk_model_ops_t *o = wk_model_of(c);
    if (!o) {
        char names[256] = "";
        for (int i = 0; i < N_MODELS; i++) {
            size_t n = strlen(names);
            snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", models[i]->name);
        }
        return PSR_ERR(PSR_ERR_CONFIG, "key 'model.type': found '%s', allowed one of %s",
                       c->model.type, names);
    }
    PSR_FORWARD(o->check(c, s));
    wk_layout_t lay;
    PSR_FORWARD(layout(c, s, &lay));
    PSR_RETURN_IF(lay.tables.n < 1 || lay.tables.n > PSR_MAX_TABLES, PSR_ERR_INTERNAL,
                  "model %s declares %d tables", o->name, lay.tables.n);
    for (int t = 0; t < lay.tables.n; t++)
        PSR_RETURN_IF(c->embedding.precision == CFG_PRECISION_FP16 &&
                          lay.tables.t[t].optim != PSR_OPTIM_ADAM,
                      PSR_ERR_CONFIG, "embedding.precision is fp16, which stores Adam's state in "
                      "half precision, but table '%s' uses %s; use fp32 or adam",
                      lay.tables.t[t].name, psr_optim_name(lay.tables.t[t].optim));
    const int task = wk_model_task(c), loss = wk_model_loss(c);
    PSR_RETURN_IF(task == WK_TASK_TOPK && !o->score_items, PSR_ERR_CONFIG,
                  "eval.task is topk, but model %s cannot rank items for a user; use a "
                  "user-item model (mf, neumf, pop) or eval.task ctr", o->name);
    PSR_RETURN_IF(task != WK_TASK_CTR && (s->user_field < 0 || s->item_field < 0),
                  PSR_ERR_CONFIG, "eval.task is %s, which needs a user and an item column, but "
                  "the data schema (data.format / data.columns) has %s; mark them 'user' and "
                  "'item' in data.columns", wk_task_name(task),
                  s->user_field < 0 && s->item_field < 0 ? "neither"
                  : s->user_field < 0                    ? "no user column"
                                                         : "no item column");
    PSR_RETURN_IF(loss == WK_LOSS_BPR && task != WK_TASK_TOPK, PSR_ERR_CONFIG,
                  "model.loss is bpr, which ranks positives above sampled negatives, but the "
                  "task is %s; bpr needs eval.task topk (implicit feedback)",
                  wk_task_name(task));
    PSR_RETURN_IF(loss == WK_LOSS_MSE && task == WK_TASK_TOPK, PSR_ERR_CONFIG,
                  "model.loss is mse with eval.task topk: implicit feedback has only positives, "
                  "so mse would learn a constant; use bce or bpr (with model.negatives)");
    size_t n_params = o->n_params(c, s);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    double phys = pages > 0 && psz > 0 ? (double)pages * (double)psz : 0.0;
    PSR_RETURN_IF(phys > 0 && dense_bytes(n_params) > phys, PSR_ERR_CONFIG,
                  "model %s has %zu dense parameters, which need %.1f GB per worker (weights, "
                  "gradients, optimizer state), more than this machine's %.1f GB; make "
                  "model.mlp / model.bottom_mlp / model.top_mlp / model.tower narrower", o->name,
                  n_params, dense_bytes(n_params) / 1e9, phys / 1e9);
    if (out) *out = lay;
    return PSR_OK;
}

int64_t wk_model_dense_blocks(const cfg_t *c, const blk_schema_t *s)
{
    size_t n = wk_model_of(c)->n_params(c, s);
    return (int64_t)((n + WIRE_DENSE_BLOCK - 1) / WIRE_DENSE_BLOCK);
}

int wk_model_init(wk_model_t *m, const cfg_t *c, const blk_schema_t *s, int cap)
{
    memset(m, 0, sizeof *m);
    m->ops = wk_model_of(c);
    PSR_RETURN_IF(!m->ops, PSR_ERR_CONFIG, "key 'model.type': unknown model '%s'", c->model.type);
    m->cfg = c;
    m->cap = cap;
    PSR_FORWARD(layout(c, s, &m->lay));
    m->loss = wk_model_loss(c);
    m->user_table = s->user_field >= 0 ? m->lay.field_table[s->user_field] : -1;
    m->item_table = s->item_field >= 0 ? m->lay.field_table[s->item_field] : -1;
    m->n_params = m->ops->n_params(c, s);
    m->n_blocks = (int64_t)((m->n_params + WIRE_DENSE_BLOCK - 1) / WIRE_DENSE_BLOCK);
    if (m->n_params > 0) {
        size_t padded = (size_t)m->n_blocks * WIRE_DENSE_BLOCK;
        m->theta = psr_xcalloc(padded, sizeof *m->theta);
        m->dtheta = psr_xcalloc(padded, sizeof *m->dtheta);
    }
    int rc = m->ops->init(m, s);
    if (rc != PSR_OK) wk_model_free(m);
    return rc;
}

void wk_model_free(wk_model_t *m)
{
    if (!m) return;
    if (m->ops && m->ops->free) m->ops->free(m);
    free(m->theta);
    free(m->dtheta);
    memset(m, 0, sizeof *m);
}

void wk_model_desc(const cfg_t *c, const blk_schema_t *s, char *buf, size_t cap)
{
    wk_layout_t lay;
    wk_layout_of(c, s, &lay);
    const wk_model_ops_t *o = wk_model_of(c);
    size_t n = (size_t)snprintf(buf, cap, "type=%s width=%d", o->name, lay.tables.t[0].width);
    if (n < cap && o->desc) n += o->desc(c, buf + n, cap - n);
    /* one Adam table (lr, fm, deepfm, dlrm as before tables existed) adds nothing */
    if (lay.tables.n == 1 && lay.tables.t[0].optim == PSR_OPTIM_ADAM) return;
    for (int t = 0; t < lay.tables.n && n < cap; t++)
        n += (size_t)snprintf(buf + n, cap - n, " %s=%d:%s", lay.tables.t[t].name,
                              lay.tables.t[t].width, psr_optim_name(lay.tables.t[t].optim));
}

double wk_clip_global_norm(float *g, size_t n, double max_norm)
{
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        const float scale = (float)(max_norm / norm);
        for (size_t i = 0; i < n; i++) g[i] *= scale;
    }
    return norm;
}
