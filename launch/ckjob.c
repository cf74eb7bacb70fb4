/* ckjob: see ckjob.h. */
#include "ckjob.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics_file.h"
#include "model.h"
#include "optim.h"
#include "psr_error.h"

int ckjob_tables(const cfg_t *c, const blk_schema_t *s, ckpt_table_t *out)
{
    wk_layout_t lay;
    wk_layout_of(c, s, &lay);
    for (int t = 0; t < lay.tables.n; t++) {
        const psr_table_spec_t *sp = &lay.tables.t[t];
        memset(&out[t], 0, sizeof out[t]);
        snprintf(out[t].name, sizeof out[t].name, "%s", sp->name);
        out[t].width = sp->width;
        out[t].n_floats = sp->width + psr_optim_state_floats(sp->optim, sp->width);
        snprintf(out[t].optim, sizeof out[t].optim, "%s", psr_optim_name(sp->optim));
    }
    return lay.tables.n;
}

void ckjob_init(ckjob_t *j, const cfg_t *c, const blk_schema_t *s, MPI_Comm comm,
                int n_servers, int n_workers)
{
    memset(j, 0, sizeof *j);
    j->comm = comm;
    MPI_Comm_rank(comm, &j->rank);
    j->n_servers = n_servers;
    j->n_workers = n_workers;
    snprintf(j->root, sizeof j->root, "%s", c->checkpoint.dir);
    j->keep = c->checkpoint.keep;
    j->level = c->checkpoint.level;
    j->n_buckets = (uint32_t)c->cluster.buckets;
    j->n_tables = ckjob_tables(c, s, j->tables);
    j->width = j->tables[0].width;
    wk_model_desc(c, s, j->model_desc, sizeof j->model_desc);
    cfg_schema_desc(c, j->schema_desc, sizeof j->schema_desc);
    j->model_fp = cfg_fingerprint(j->model_desc);
    j->schema_fp = cfg_fingerprint(j->schema_desc);
    snprintf(j->source, sizeof j->source, "%s", c->source);
    j->last_step = -1;
}

typedef struct {
    int32_t rc, pad;
    ckpt_part_t part;
    char msg[512];
} part_msg_t;

typedef struct {
    int32_t rc, pad;
    char text[4096]; /* the stage path, or the error */
} note_t;

/* Rank 0: manifest and commit. */
static int commit(ckjob_t *j, int64_t step, const part_msg_t *all, int n_ranks, double t0)
{
    ckpt_manifest_t m;
    ckpt_manifest_init(&m, step, j->model_fp, j->schema_fp, j->n_servers, j->n_workers,
                       j->n_buckets, j->width);
    ckpt_manifest_set_tables(&m, j->n_tables, j->tables);
    uint64_t digest = 0, raw = 0, bytes = 0;
    for (int r = 0; r < n_ranks; r++) {
        digest += all[r].part.digest;
        for (int f = 0; f < all[r].part.n_files; f++) {
            ckpt_manifest_add_file(&m, &all[r].part.files[f]);
            raw += all[r].part.files[f].raw_bytes;
            bytes += all[r].part.files[f].bytes;
        }
    }
    m.has_digest = 1;
    m.digest = digest;
    int rc = ckpt_manifest_set(&m, "model", j->model_desc);
    if (rc == PSR_OK) rc = ckpt_manifest_set(&m, "schema", j->schema_desc);
    if (rc == PSR_OK && j->source[0]) rc = ckpt_manifest_set(&m, "config", j->source);
    if (rc == PSR_OK) { /* a resumed job on the same worker count keeps counting from it */
        char base[64];
        snprintf(base, sizeof base, "%lld %lld", (long long)j->sched_base.examples,
                 (long long)j->sched_base.step);
        rc = ckpt_manifest_set(&m, "schedule_base", base);
    }
    char *final = NULL;
    if (rc == PSR_OK) rc = ckpt_commit(j->root, &m, j->keep, &final);
    if (rc == PSR_OK) {
        double dt = MPI_Wtime() - t0;
        mf_rec_t r;
        mf_begin(&r, "checkpoint", step);
        mf_int(&r, "step", step);
        mf_str(&r, "dir", final);
        mf_int(&r, "raw_bytes", (int64_t)raw);
        mf_int(&r, "bytes", (int64_t)bytes);
        mf_num(&r, "seconds", "%.2f", dt);
        mf_num(&r, "raw_mb_per_sec", "%.1f", dt > 0 ? (double)raw / dt / 1e6 : 0.0);
        mf_hex(&r, "digest", digest);
        psr_info("checkpoint: %s", mf_text(&r));
        mf_emit(&r);
    }
    free(final);
    ckpt_manifest_free(&m);
    return rc;
}

int ckjob_run(void *job, int64_t step, ckpt_part_fn part, void *ctx)
{
    ckjob_t *j = job;
    int n_ranks;
    MPI_Comm_size(j->comm, &n_ranks);
    double t0 = MPI_Wtime();
    note_t note;
    memset(&note, 0, sizeof note);
    if (j->rank == 0) {
        char *stage = NULL;
        note.rc = ckpt_stage(j->root, step, &stage);
        if (note.rc == PSR_OK && strlen(stage) >= sizeof note.text)
            note.rc = PSR_ERR(PSR_ERR_CONFIG, "checkpoint.dir '%s' is too long", j->root);
        snprintf(note.text, sizeof note.text, "%s", note.rc == PSR_OK ? stage : psr_err_msg());
        free(stage);
    }
    MPI_Bcast(&note, sizeof note, MPI_BYTE, 0, j->comm);
    if (note.rc != PSR_OK)
        return PSR_ERR(note.rc, "checkpoint at step %lld: %s", (long long)step, note.text);

    part_msg_t me;
    memset(&me, 0, sizeof me);
    me.rc = part(ctx, note.text, step, j->level, &me.part);
    if (me.rc != PSR_OK) snprintf(me.msg, sizeof me.msg, "%s", psr_err_msg());
    part_msg_t *all = j->rank == 0 ? psr_xmalloc((size_t)n_ranks * sizeof *all) : NULL;
    MPI_Gather(&me, sizeof me, MPI_BYTE, all, sizeof me, MPI_BYTE, 0, j->comm);

    memset(&note, 0, sizeof note);
    if (j->rank == 0) {
        for (int r = 0; r < n_ranks && note.rc == PSR_OK; r++)
            if (all[r].rc != PSR_OK) {
                note.rc = all[r].rc;
                snprintf(note.text, sizeof note.text, "rank %d: %s", r, all[r].msg);
            }
        if (note.rc == PSR_OK) {
            note.rc = commit(j, step, all, n_ranks, t0);
            if (note.rc != PSR_OK) snprintf(note.text, sizeof note.text, "%s", psr_err_msg());
        }
        if (note.rc != PSR_OK) ckpt_abort(j->root, step);
    }
    free(all);
    MPI_Bcast(&note, sizeof note, MPI_BYTE, 0, j->comm);
    if (note.rc != PSR_OK)
        return PSR_ERR(note.rc, "checkpoint at step %lld failed (earlier checkpoints are "
                       "untouched): %s", (long long)step, note.text);
    j->last_step = step;
    return PSR_OK;
}

int ckjob_choose(const cfg_t *c, const blk_schema_t *s, const char *resume, char **dir)
{
    *dir = NULL;
    const int is_auto = strcmp(resume, "auto") == 0;
    PSR_RETURN_IF(is_auto && !c->checkpoint.dir[0], PSR_ERR_CONFIG,
                  "--resume auto: key 'checkpoint.dir' is not set, so there is nowhere to look "
                  "for checkpoints; set it (e.g. --set checkpoint.dir=ckpt) or give --resume DIR");
    ckpt_manifest_t m;
    memset(&m, 0, sizeof m);
    int rc = ckpt_find(c->checkpoint.dir, resume, &m);
    if (rc == CKPT_FRESH) {
        psr_info("resume: no checkpoint in '%s': starting fresh", c->checkpoint.dir);
        ckpt_manifest_free(&m);
        return PSR_OK;
    }
    if (rc != PSR_OK) {
        ckpt_manifest_free(&m);
        if (!is_auto) return rc; /* "cannot resume from DIR: ..." */
        char msg[1024]; /* psr_err_msg() is the buffer PSR_ERR writes: copy it first */
        snprintf(msg, sizeof msg, "%s", psr_err_msg());
        return PSR_ERR(rc, "--resume auto: %s", msg);
    }
    char model[1024], schema[1024];
    ckpt_table_t tables[PSR_MAX_TABLES];
    const int n_tables = ckjob_tables(c, s, tables);
    wk_model_desc(c, s, model, sizeof model);
    cfg_schema_desc(c, schema, sizeof schema);
    const char *m_model = ckpt_manifest_get(&m, "model");
    const char *m_schema = ckpt_manifest_get(&m, "schema");
    if (m.model_fp != cfg_fingerprint(model))
        rc = PSR_ERR(PSR_ERR_CONFIG, "checkpoint %s holds a model '%s', but the config asks "
                     "for '%s' (model.type, model.dim and the layer widths must match)",
                     m.dir, m_model ? m_model : "(unrecorded)", model);
    else if (m.schema_fp != cfg_fingerprint(schema))
        rc = PSR_ERR(PSR_ERR_CONFIG, "checkpoint %s was trained on features '%s', but the "
                     "config gives '%s' (data.format and data.int_mode must match)",
                     m.dir, m_schema ? m_schema : "(unrecorded)", schema);
    else if ((rc = ckpt_check_compat(&m, m.model_fp, m.schema_fp, tables[0].width)) == PSR_OK &&
             (rc = ckpt_check_tables(&m, n_tables, tables)) == PSR_OK)
        rc = ckpt_check_buckets(&m, (uint32_t)c->cluster.buckets);
    if (rc == PSR_OK) {
        psr_info("resume: checkpoint %s (step %lld, written by %d server%s and %d worker%s)",
                 m.dir, (long long)m.step, m.n_servers, m.n_servers == 1 ? "" : "s", m.n_workers,
                 m.n_workers == 1 ? "" : "s");
        *dir = psr_xstrdup(m.dir);
    }
    ckpt_manifest_free(&m);
    return rc;
}
