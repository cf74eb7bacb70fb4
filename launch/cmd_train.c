/* cmd_train: `psrec train`, run by every rank under mpirun.
 *
 * Start-up follows HPL: rank 0 parses the command line and the YAML, validates, and
 * broadcasts either an error (every rank then exits with status 2, rank 0 printing the one
 * message) or the validated config. Then the first cluster.servers ranks serve and the
 * others train. After the run every rank meets in one gather so rank 0 prints the servers'
 * figures and the `result:` line. Any later failure calls psr_die, which MPI_Aborts the
 * whole job: no rank exits alone and no rank waits forever.
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
            "output: progress lines from rank 0, `eval:` and `checkpoint:` lines, per-server\n"
            "  figures, `digest:` (the model), `data:` (examples trained and their hash), and\n"
            "  result: auc=A logloss=L examples=N seconds=T examples_per_sec=R\n"
            "signals (with checkpoint.dir set): SIGTERM or SIGUSR1 to mpirun writes a checkpoint\n"
            "  at the next step boundary, prints `preempted:` and exits 0.\n"
            "exit status: 0 on success or preemption, 2 for a bad command line, config or\n"
            "  checkpoint to resume, 1 for a failed run.\n");
}

/* Dense blocks the servers hold: in `ps` mode, those of the model the workers build. */
static int64_t dense_blocks(const cfg_t *c, const blk_schema_t *s)
{
    if (c->train.dense_sync != CFG_DENSE_PS) return 0;
    return wk_model_dense_blocks(c, s);
}

/* The `result:` line: the final evaluation's figures by task (docs/EVALUATION.md), then
 * the training figures. */
static void print_result(const cfg_t *c, const wk_result_t *res)
{
    const wk_metrics_t *m = &res->met;
    const double rate = res->seconds > 0 ? (double)res->run_examples / res->seconds : 0.0;
    printf("result: ");
    switch (m->task) {
    case WK_TASK_CTR: printf("auc=%.6f logloss=%.6f ", m->auc, m->logloss); break;
    case WK_TASK_RATING:
        printf("rmse=%.6f mae=%.6f test_examples=%lld ", m->rmse, m->mae, (long long)m->examples);
        break;
    case WK_TASK_TOPK: {
        const int k = m->k;
        printf("hr@%d=%.6f ndcg@%d=%.6f precision@%d=%.6f recall@%d=%.6f f1@%d=%.6f map@%d=%.6f "
               "coverage@%d=%.6f novelty@%d=%.4f users=%lld protocol=%s ", k, m->hr, k, m->ndcg,
               k, m->precision, k, m->recall, k, m->f1, k, m->map, k, m->coverage, k, m->novelty,
               (long long)m->users, m->protocol == CFG_PROTOCOL_SAMPLED ? "sampled" : "full");
        if (m->protocol == CFG_PROTOCOL_SAMPLED) printf("negatives=%d ", m->negatives);
        break;
    }
    default: printf("evaluation=none "); break;
    }
    if (m->task == WK_TASK_RATING || m->task == WK_TASK_TOPK)
        printf("split=%s ", cfg_enum_name("data.split", c->data.split));
    printf("examples=%lld seconds=%.3f examples_per_sec=%.0f\n", (long long)res->examples,
           res->seconds, rate);
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
static int setup(int argc, char **argv, cfg_t *c, int n_ranks, char **resume_dir)
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
    if (rank == 0) {
        char *dir = NULL;
        status = setup(argc, argv, c, n_ranks, &dir);
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
        MPI_Finalize();
        return 2;
    }
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
        fflush(stdout);
    }

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
    int rc;
    if (is_server) {
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
            .schedule = psr_schedule_of(c),
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
        };
        rc = ps_server_run(&o, ps_comm, &st);
    } else {
        wk_train_opts_t o = {hook, resume_dir};
        rc = wk_train(c, &o, ps_comm, wk_comm, S, &res);
    }
    if (rc != PSR_OK) psr_die(1, "%s", psr_err_msg());

    if (!is_server)
        psr_info("time split: read=%.2fs compute=%.2fs wait=%.2fs of %.2fs", res.read_seconds,
                 res.compute_seconds, res.wait_seconds, res.seconds);
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
            printf("preempted: checkpoint at step %lld in %s; continue with --resume auto\n",
                   (long long)res.ckpt_step, c->checkpoint.dir);
        else
            print_result(c, &res);
        fflush(stdout);
    }
    free(all);
    free(c);
    if (wk_comm != MPI_COMM_NULL) MPI_Comm_free(&wk_comm);
    if (srv_comm != MPI_COMM_NULL) MPI_Comm_free(&srv_comm);
    MPI_Comm_free(&ck_comm);
    MPI_Comm_free(&ps_comm);
    MPI_Finalize();
    return 0;
}
