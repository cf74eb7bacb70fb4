/* cmd_train: `psrec train`, run by every rank under mpirun.
 *
 * Start-up follows HPL: rank 0 parses the command line and the YAML, validates, and
 * broadcasts either an error (every rank then exits with status 2, rank 0 printing the one
 * message) or the validated config. Then the first cluster.servers ranks serve and the
 * others train. Problems with the inputs found by the ranks themselves (a worker's share of
 * the data, the data preparation, the checkpoint each rank loads) end in a start-up agreement
 * (agree() below): every rank reaches it, and on failure every rank exits 2 after rank 0
 * printed the one message. After the run every rank meets in one gather so rank 0 prints the
 * servers' figures and the `result:` line. Any failure during training calls psr_die, which
 * MPI_Aborts the whole job (status 1): no rank exits alone and no rank waits forever.
 *
 * Checkpoints (checkpoint.dir set): rank 0 also checks the directory can be written and, for
 * --resume, chooses and checks the checkpoint before anything starts (launch/ckjob.h), so a
 * bad checkpoint is a start-up error like a bad config. SIGTERM and SIGUSR1 then mean
 * "checkpoint at the next control point and exit 0". */
#include <limits.h>
#include <cblas.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckjob.h"
#include "commands.h"
#include "config.h"
#include "fsutil.h"
#include "idle.h"
#include "log.h"
#include "metrics_file.h"
#include "psr_error.h"
#include "model.h"
#include "optim.h"
#include "prep.h"
#include "schedule.h"
#include "server.h"
#include "signals.h"
#include "trainer.h"
#include "wire.h"

static void train_help(FILE *f)
{
    fprintf(f,
            "usage: mpirun -np N psrec train -c FILE.yaml [--set section.key=value ...]\n"
            "                                [--resume auto|DIR]\n\n"
            "Train under mpirun: the first cluster.servers ranks are parameter servers, the\n"
            "other ranks are workers (at least one).\n\n"
            "flags:\n"
            "  -c, --config FILE    YAML job configuration (keys: docs/CONFIG.md)\n"
            "  --set KEY=VALUE      override one key, e.g. --set train.epochs=2 or\n"
            "                       --set data.train=[a.tsv,b.tsv.gz]; repeatable, applied in order\n"
            "  --resume auto        continue from the newest checkpoint in checkpoint.dir whose\n"
            "                       files all verify (older ones are tried if it is damaged; no\n"
            "                       checkpoint at all starts fresh)\n"
            "  --resume DIR         continue from exactly checkpoint DIR, or fail\n"
            "  -h, --help           this text\n\n"
            "output: progress lines from rank 0 (with pct= and eta= once the length of the\n"
            "  run is known: train.max_steps, or train.epochs after the first epoch), `eval:`\n"
            "  and `checkpoint:` lines, per-server figures, `digest:` (the model), `data:`\n"
            "  (examples trained and their hash), and\n"
            "  result: auc=A logloss=L examples=N seconds=T examples_per_sec=R bad_rows=B\n"
            "  train.metrics_file: PATH.jsonl also appends each of these lines as JSON\n"
            "  (plot it with psrec plot PATH.jsonl --out curves.png)\n"
            "signals (with checkpoint.dir set): SIGUSR1 to mpirun, or SIGTERM, SIGINT or\n"
            "  SIGUSR1 to launch/psrec-mpirun (which the job scripts use), writes a checkpoint\n"
            "  at the next control point (at most 16 steps), prints `preempted:` and exits 0.\n"
            "  SIGTERM to mpirun itself is Open MPI's kill: it signals the ranks, kills them\n"
            "  about 1 s later and exits 1, so only a checkpoint already committed survives.\n"
            "  Without checkpoint.dir these signals kill the job.\n"
            "exit status: 0 on success or preemption; 2 for a problem with the job's inputs,\n"
            "  found before training (command line, config, a data file that does not exist\n"
            "  or is not in the configured format, a checkpoint that does not match), one\n"
            "  `psrec: error:` line; 1 for a failure during training (the job is aborted);\n"
            "  128+N when a rank dies of signal N. docs/OPERATIONS.md lists them.\n");
}

/* Dense blocks the servers hold: in `ps` mode, those of the model the workers build. */
static int64_t dense_blocks(const cfg_t *c, const blk_schema_t *s)
{
    if (c->train.dense_sync != CFG_DENSE_PS) return 0;
    return wk_model_dense_blocks(c, s);
}

/* The `result:` line: the final evaluation's figures by task (docs/EVALUATION.md), then
 * the training figures; also the metrics file's "result" record (with the model digest and
 * the data line's figures beside). */
static void print_result(const cfg_t *c, const wk_result_t *res, uint64_t digest, int64_t rows)
{
    const wk_metrics_t *m = &res->met;
    const double rate = res->seconds > 0 ? (double)res->run_examples / res->seconds : 0.0;
    mf_rec_t r;
    mf_begin(&r, "result", res->steps);
    char name[32];
    switch (m->task) {
    case WK_TASK_CTR:
        mf_num(&r, "auc", "%.6f", m->auc);
        mf_num(&r, "logloss", "%.6f", m->logloss);
        break;
    case WK_TASK_RATING:
        mf_num(&r, "rmse", "%.6f", m->rmse);
        mf_num(&r, "mae", "%.6f", m->mae);
        mf_int(&r, "test_examples", m->examples);
        break;
    case WK_TASK_TOPK: {
        const double v[8] = {m->hr, m->ndcg, m->precision, m->recall, m->f1, m->map,
                             m->coverage, m->novelty};
        static const char *const names[8] = {"hr", "ndcg", "precision", "recall", "f1", "map",
                                             "coverage", "novelty"};
        for (int i = 0; i < 8; i++) {
            snprintf(name, sizeof name, "%s@%d", names[i], m->k);
            mf_num(&r, name, i == 7 ? "%.4f" : "%.6f", v[i]);
        }
        mf_int(&r, "users", m->users);
        mf_str(&r, "protocol", m->protocol == CFG_PROTOCOL_SAMPLED ? "sampled" : "full");
        if (m->protocol == CFG_PROTOCOL_SAMPLED) mf_int(&r, "negatives", m->negatives);
        break;
    }
    default: mf_str(&r, "evaluation", "none"); break;
    }
    if (m->task == WK_TASK_RATING || m->task == WK_TASK_TOPK)
        mf_str(&r, "split", cfg_enum_name("data.split", c->data.split));
    mf_int(&r, "examples", res->examples);
    mf_num(&r, "seconds", "%.3f", res->seconds);
    mf_num(&r, "examples_per_sec", "%.0f", rate);
    mf_int(&r, "bad_rows", res->bad_rows);
    printf("result: %s\n", mf_text(&r));
    mf_hex(&r, "digest", digest);
    mf_int(&r, "rows", rows);
    mf_hex(&r, "rows_hash", res->rows_hash);
    mf_int(&r, "steps", res->steps);
    mf_emit(&r);
}

/* After a preemption: the `preempted:` line, and a "result" record saying so. */
static void print_preempted(const cfg_t *c, const wk_result_t *res, uint64_t digest)
{
    printf("preempted: checkpoint at step %lld in %s; continue with --resume auto; bad_rows=%lld\n",
           (long long)res->ckpt_step, c->checkpoint.dir, (long long)res->bad_rows);
    mf_rec_t r;
    mf_begin(&r, "result", res->steps);
    mf_int(&r, "preempted", 1);
    mf_int(&r, "checkpoint_step", res->ckpt_step);
    mf_str(&r, "dir", c->checkpoint.dir);
    mf_int(&r, "examples", res->examples);
    mf_num(&r, "seconds", "%.3f", res->seconds);
    mf_int(&r, "bad_rows", res->bad_rows);
    mf_hex(&r, "digest", digest);
    mf_emit(&r);
}

/* Where a run starts, found by rank 0 from the checkpoint to resume (zeros for a fresh job)
 * and broadcast: for progress lines and examples-based schedules. */
typedef struct {
    int64_t examples, epoch, steps; /* wk_ckpt_progress */
    int epoch_start;                /* the run starts at the first row of `epoch` */
    psr_sched_base_t base;          /* schedule base for this run (schedule.h) */
} start_t;

/* Rank 0: what checkpoint `dir` says about the job's progress and its schedule base, for a
 * job of n_workers workers. */
static int read_start(const char *dir, int n_workers, start_t *st)
{
    int rc = wk_ckpt_progress(dir, &st->examples, &st->epoch, &st->steps);
    if (rc != PSR_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", psr_err_msg());
        return PSR_ERR(rc, "cannot resume from %s: %s", dir, why);
    }
    ckpt_manifest_t m;
    PSR_FORWARD(ckpt_manifest_load(dir, &m, CKPT_CHECK_NONE));
    const char *b = ckpt_manifest_get(&m, "schedule_base");
    long long be = 0, bs = 0;
    /* another worker count restarts the interrupted epoch (trainer.c, resume_global); so
     * does a changed data.train, which is not seen here (pct= is then an estimate) */
    st->epoch_start = m.n_workers != n_workers || st->examples == 0;
    if (m.n_workers != n_workers) { /* spread the rest of the schedule over the new count */
        st->base.examples = st->examples;
        st->base.step = st->steps;
    } else if (b && sscanf(b, "%lld %lld", &be, &bs) == 2 && be >= 0 && bs >= 0) {
        st->base.examples = be;
        st->base.step = bs;
    }
    ckpt_manifest_free(&m);
    return PSR_OK;
}

/* The start-up agreement (HPL's all-reduced error flag): every rank calls it at the same
 * points with its own status. PSR_OK when every rank is fine; otherwise every rank gets the
 * status of the lowest failing rank, whose message is kept to be printed once by rank 0. */
typedef struct {
    int rank;
    int failed;
    char msg[2048];
} agree_t;

static int agree(void *ctx, int rc)
{
    agree_t *a = ctx;
    int mine = rc != PSR_OK ? a->rank : INT_MAX, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == INT_MAX) return PSR_OK;
    struct {
        int32_t rc;
        char msg[2044];
    } m;
    memset(&m, 0, sizeof m);
    if (a->rank == first) {
        m.rc = rc;
        snprintf(m.msg, sizeof m.msg, "%s", psr_err_msg());
    }
    MPI_Bcast(&m, sizeof m, MPI_BYTE, first, MPI_COMM_WORLD);
    a->failed = 1;
    snprintf(a->msg, sizeof a->msg, "%s", m.msg);
    return m.rc != PSR_OK ? m.rc : PSR_ERR_INTERNAL;
}

/* cluster.idle must act before MPI_Init (Open MPI reads mpi_yield_when_idle there), before
 * rank 0 has read and broadcast the config: every rank reads the key itself from the same
 * file and --set overrides. A config that fails to load here is left for rank 0 to report
 * after MPI_Init; meanwhile the key counts as its default, auto. */
static int idle_before_init(int argc, char **argv, int *local, int *cpus)
{
    cfg_t *c = psr_xcalloc(1, sizeof *c);
    cfg_defaults(c);
    int ok = 1;
    for (int i = 1; i + 1 < argc && ok; i++)
        if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config"))
            ok = cfg_load_file(c, argv[++i]) == PSR_OK;
    for (int i = 1; i + 1 < argc && ok; i++)
        if (!strcmp(argv[i], "--set")) ok = cfg_set(c, argv[++i]) == PSR_OK;
        else if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config") ||
                 !strcmp(argv[i], "--resume")) i++;
    int mode = ok ? c->cluster.idle : PSR_IDLE_AUTO;
    free(c);
    return psr_idle_prepare(mode, local, cpus);
}

static void abort_hook(int status)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
}

/* Rank 0's start-up: parse flags and config into c. PSR_OK, or an error with a message
 * (PSR_ERR_USAGE for a help request has the message "help"). */
static int setup(int argc, char **argv, cfg_t *c, int n_ranks, char **resume_dir, start_t *st)
{
    const char *path = NULL, *resume = NULL;
    cfg_defaults(c);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return PSR_ERR(PSR_ERR_USAGE, "help");
        if (!strcmp(a, "--resume")) {
            PSR_RETURN_IF(i + 1 >= argc, PSR_ERR_USAGE,
                          "psrec train: --resume needs a value: auto or a checkpoint directory");
            PSR_RETURN_IF(resume, PSR_ERR_USAGE, "psrec train: --resume given twice");
            resume = argv[++i];
            continue;
        }
        if (!strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--set")) {
            PSR_RETURN_IF(i + 1 >= argc, PSR_ERR_USAGE, "psrec train: %s needs a value", a);
            i++;
            if (a[2] == 's') continue; /* --set: applied after the file */
            PSR_RETURN_IF(path, PSR_ERR_USAGE, "psrec train: -c given twice ('%s' and '%s')", path,
                          argv[i]);
            path = argv[i];
            continue;
        }
        return PSR_ERR(PSR_ERR_USAGE, "psrec train: unknown flag '%s' (allowed: -c FILE, "
                                      "--set KEY=VALUE, --resume auto|DIR, --help)", a);
    }
    PSR_RETURN_IF(!path, PSR_ERR_USAGE,
                  "psrec train: no config file; give -c FILE.yaml (for example "
                  "cluster-configs/local.yaml)");
    PSR_FORWARD(cfg_load_file(c, path));
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--set")) PSR_FORWARD(cfg_set(c, argv[++i]));
        else if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config") ||
                 !strcmp(argv[i], "--resume")) i++;
    PSR_FORWARD(cfg_validate(c));
    {   /* the model checks its own keys against the data schema, here on rank 0, so a bad
         * model.mlp is a config error before anything starts, not a failure on every worker */
        blk_schema_t s;
        prep_schema_from_config(c, &s);
        int rc = wk_model_validate(c, &s, NULL);
        if (rc != PSR_OK) {
            char why[2048];
            snprintf(why, sizeof why, "%s", psr_err_msg());
            return PSR_ERR(rc, "%s: %s", c->source[0] ? c->source : "config", why);
        }
    }
    PSR_RETURN_IF(n_ranks < c->cluster.servers + 1, PSR_ERR_CONFIG,
                  "%s: key 'cluster.servers' is %d but mpirun started %d rank%s; psrec needs "
                  "cluster.servers + at least 1 worker, so run with -np %d or more, or lower "
                  "cluster.servers",
                  c->source, c->cluster.servers, n_ranks, n_ranks == 1 ? "" : "s",
                  c->cluster.servers + 1);
    if (c->checkpoint.dir[0]) {
        int rc = psr_mkdir_p(c->checkpoint.dir);
        if (rc == PSR_OK) rc = psr_dir_writable(c->checkpoint.dir);
        if (rc != PSR_OK) {
            char why[1024]; /* copied: PSR_ERR writes into psr_err_msg()'s buffer */
            snprintf(why, sizeof why, "%s", psr_err_msg());
            return PSR_ERR(PSR_ERR_CONFIG, "%s: key 'checkpoint.dir': %s", c->source, why);
        }
    }
    if (resume) {
        blk_schema_t s;
        prep_schema_from_config(c, &s);
        PSR_FORWARD(ckjob_choose(c, &s, resume, resume_dir));
        if (*resume_dir) PSR_FORWARD(read_start(*resume_dir, n_ranks - c->cluster.servers, st));
    }
    if (c->train.metrics_file[0]) { /* opened (appending) here: a bad path is a config error */
        int rc = mf_open(c->train.metrics_file, 0);
        if (rc != PSR_OK) {
            char why[1024];
            snprintf(why, sizeof why, "%s", psr_err_msg());
            return PSR_ERR(PSR_ERR_CONFIG, "%s: key 'train.metrics_file': %s", c->source, why);
        }
    }
    return PSR_OK;
}

int cmd_train(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            train_help(stdout);
            return 0;
        }
    int local_ranks = 0, cpus = 0;
    const int idle = idle_before_init(argc, argv, &local_ranks, &cpus);
    MPI_Init(&argc, &argv);
    psr_set_die_hook(abort_hook);
    /* at once, so a preemption signal during start-up is not fatal; dropped below when the job
     * has no checkpoint.dir */
    psr_signals_install();
    openblas_set_num_threads(1);
    int rank, n_ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);

    cfg_t *c = psr_xcalloc(1, sizeof *c);
    char msg[2048] = "";
    char resume[PATH_MAX] = ""; /* checkpoint to load, "" for a fresh start */
    int status = PSR_OK;
    start_t start;
    memset(&start, 0, sizeof start);
    start.epoch_start = 1;
    if (rank == 0) {
        char *dir = NULL;
        status = setup(argc, argv, c, n_ranks, &dir, &start);
        if (status == PSR_OK && dir && strlen(dir) >= sizeof resume)
            status = PSR_ERR(PSR_ERR_USAGE, "checkpoint path '%s' is too long", dir);
        if (status == PSR_OK && dir) snprintf(resume, sizeof resume, "%s", dir);
        if (status != PSR_OK) snprintf(msg, sizeof msg, "%s", psr_err_msg());
        free(dir);
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (status != PSR_OK) {
        if (rank == 0) fprintf(stderr, "psrec: error: %s\n", msg);
        free(c);
        mf_close();
        MPI_Finalize();
        return 2;
    }
    MPI_Bcast(&start, sizeof start, MPI_BYTE, 0, MPI_COMM_WORLD);
    {
        size_t n = cfg_packed_size();
        void *buf = psr_xmalloc(n);
        if (rank == 0) cfg_pack(c, buf);
        MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
        cfg_unpack(c, buf);
        free(buf);
    }
    MPI_Bcast(resume, sizeof resume, MPI_CHAR, 0, MPI_COMM_WORLD);
    const int S = c->cluster.servers, W = n_ranks - S;
    const int is_server = rank < S;
    psr_log_set_rank(rank, is_server ? "server" : "worker");
    if (rank == 0) {
        psr_info("%d server%s, %d worker%s; model %s; BLAS kernels %s; effective config:", S,
                 S == 1 ? "" : "s", W, W == 1 ? "" : "s", c->model.type,
                 openblas_get_corename());
        cfg_print(c, stdout);
        psr_info("idle: %s (cluster.idle %s; %d ranks on this node, %d online CPUs)",
                 idle == PSR_IDLE_YIELD ? "yield" : "poll",
                 cfg_enum_name("cluster.idle", c->cluster.idle), local_ranks, cpus);
    }
    char sched_desc[1024];
    const psr_schedule_t sched = psr_schedule_resolve(c, W, start.base, sched_desc,
                                                      sizeof sched_desc);
    if (rank == 0) {
        psr_info("schedule: %s", sched_desc);
        fflush(stdout);
    }
    /* the first worker writes its `eval:` lines to the metrics file too (rank 0 has it open) */
    if (rank == S && rank != 0 && c->train.metrics_file[0] &&
        mf_open(c->train.metrics_file, rank) != PSR_OK)
        psr_warn("%s; this rank's eval lines are not written to it", psr_err_msg());

    MPI_Comm ps_comm, wk_comm, srv_comm, ck_comm;
    MPI_Comm_dup(MPI_COMM_WORLD, &ps_comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &ck_comm);
    MPI_Comm_split(MPI_COMM_WORLD, is_server ? MPI_UNDEFINED : 1, rank, &wk_comm);
    MPI_Comm_split(MPI_COMM_WORLD, is_server ? 0 : MPI_UNDEFINED, rank, &srv_comm);
    blk_schema_t schema; /* what the rows hold, as the config describes them */
    prep_schema_from_config(c, &schema);
    wk_layout_t lay;
    wk_layout_of(c, &schema, &lay);
    ckjob_t job;
    ckpt_hook_t hook = {NULL, ckjob_run};
    if (c->checkpoint.dir[0]) {
        ckjob_init(&job, c, &schema, ck_comm, S, W);
        job.sched_base = start.base;
        hook.job = &job;
    } else {
        psr_signals_default();
    }
    const char *resume_dir = resume[0] ? resume : NULL;
    int64_t n_dense = dense_blocks(c, &schema);
    const int n_dense_model = wk_model_dense_blocks(c, &schema) > 0;

    wire_stats_t st;
    memset(&st, 0, sizeof st);
    wk_result_t res;
    memset(&res, 0, sizeof res);
    /* Inputs first: every worker opens its shares of the data (and reads a first row) and
     * the job agrees on the outcome, so a missing or unreadable input is one error and exit
     * status 2 on every rank, not an abort; the servers' checkpoint load and the workers'
     * data preparation and checkpoint read end in a second agreement inside the runs. */
    agree_t ag;
    memset(&ag, 0, sizeof ag);
    ag.rank = rank;
    wk_trainer_t *tr = NULL;
    int rc = is_server ? PSR_OK : wk_train_open(&tr, c, wk_comm);
    rc = agree(&ag, rc);
    if (rc == PSR_OK && is_server) {
        ps_server_opts_t o = {
            .n_servers = S,
            .n_workers = W,
            .tables = lay.tables,
            .optim = {.kind = PSR_OPTIM_ADAM,
                      .lr = (float)c->optimizer.lr,
                      .beta1 = (float)c->optimizer.beta1,
                      .beta2 = (float)c->optimizer.beta2,
                      .eps = (float)c->optimizer.eps,
                      .weight_decay = (float)c->optimizer.weight_decay,
                      .init_acc = (float)c->optimizer.initial_accumulator},
            .n_buckets = (uint32_t)c->cluster.buckets,
            .seed = c->train.seed,
            .adam = {(float)c->optimizer.lr, (float)c->optimizer.beta1, (float)c->optimizer.beta2,
                     (float)c->optimizer.eps, (float)c->optimizer.weight_decay},
            .schedule = sched,
            .n_dense_blocks = n_dense,
            .progress_seconds = c->train.progress_seconds,
            .expect_rows = 1 << 16,
            .ckpt = hook,
            .srv_comm = srv_comm,
            .write_dense = !(c->train.dense_sync == CFG_DENSE_ALLREDUCE && n_dense_model > 0),
            .resume = resume_dir,
            .max_rows = c->embedding.max_rows,
            .min_count = c->embedding.min_count,
            .ttl_steps = c->embedding.ttl_steps,
            .sketch_width = c->embedding.sketch_width,
            .half = c->embedding.precision == CFG_PRECISION_FP16,
            .prog_examples0 = start.examples,
            .prog_epoch0 = start.epoch,
            .prog_epoch_start = start.epoch_start,
            .prog_step0 = start.steps,
            .prog_epochs = c->train.epochs,
            .prog_max_steps = c->train.max_steps,
            .agree = agree,
            .agree_ctx = &ag,
        };
        rc = ps_server_run(&o, ps_comm, &st);
    } else if (rc == PSR_OK) {
        wk_train_opts_t o = {hook, resume_dir, sched, agree, &ag};
        rc = wk_train_run(tr, &o, ps_comm, S, &res);
    }
    if (rc != PSR_OK && ag.failed) { /* an input problem every rank agreed on */
        if (rank == 0) fprintf(stderr, "psrec: error: %s\n", ag.msg);
        wk_train_free(tr);
        free(c);
        mf_close();
        if (wk_comm != MPI_COMM_NULL) MPI_Comm_free(&wk_comm);
        if (srv_comm != MPI_COMM_NULL) MPI_Comm_free(&srv_comm);
        MPI_Comm_free(&ck_comm);
        MPI_Comm_free(&ps_comm);
        MPI_Finalize();
        return 2;
    }
    if (rc != PSR_OK) psr_die(1, "%s", psr_err_msg());
    wk_train_free(tr);

    if (!is_server) /* this worker's own wall time, and the rest of it: evaluation,
                     * checkpoints, waiting for the others at control points */
        psr_info("time split: read=%.2fs compute=%.2fs wait=%.2fs other=%.2fs of %.2fs",
                 res.read_seconds, res.compute_seconds, res.wait_seconds,
                 res.own_seconds - res.read_seconds - res.compute_seconds - res.wait_seconds,
                 res.own_seconds);
    /* every rank: servers' figures to rank 0, the workers' result from the first worker */
    wire_stats_t *all = rank == 0 ? psr_xmalloc((size_t)n_ranks * sizeof *all) : NULL;
    MPI_Gather(&st, sizeof st, MPI_BYTE, all, sizeof st, MPI_BYTE, 0, MPI_COMM_WORLD);
    MPI_Bcast(&res, sizeof res, MPI_BYTE, S, MPI_COMM_WORLD);
    if (rank == 0) {
        uint64_t digest = 0;
        int64_t rows = 0;
        for (int s = 0; s < S; s++) {
            psr_info("server %d: rows=%lld peak_rows=%lld bytes=%lld pulls=%lld pushes=%lld "
                     "keys_pulled=%lld keys_pushed=%lld admissions=%lld rejections=%lld "
                     "evictions=%lld expired=%lld",
                     s, (long long)all[s].rows, (long long)all[s].peak_rows,
                     (long long)all[s].bytes, (long long)all[s].pulls, (long long)all[s].pushes,
                     (long long)all[s].keys_pulled, (long long)all[s].keys_pushed,
                     (long long)all[s].admissions, (long long)all[s].rejections,
                     (long long)all[s].evictions, (long long)all[s].expired);
            digest += all[s].digest;
            rows += all[s].rows;
        }
        digest += res.dense_digest;
        printf("digest: %016llx rows=%lld\n", (unsigned long long)digest, (long long)rows);
        printf("data: examples=%lld rows_hash=%016llx steps=%lld\n", (long long)res.examples,
               (unsigned long long)res.rows_hash, (long long)res.steps);
        if (res.preempted)
            print_preempted(c, &res, digest);
        else
            print_result(c, &res, digest, rows);
        fflush(stdout);
    }
    free(all);
    free(c);
    if (wk_comm != MPI_COMM_NULL) MPI_Comm_free(&wk_comm);
    if (srv_comm != MPI_COMM_NULL) MPI_Comm_free(&srv_comm);
    MPI_Comm_free(&ck_comm);
    MPI_Comm_free(&ps_comm);
    mf_close();
    MPI_Finalize();
    return 0;
}
