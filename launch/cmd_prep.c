/* cmd_prep: `psrec prep`, text logs to block files (common/prep.h, common/block.h), plus two
 * tools over block files: --inspect (check every block) and --read (read shares as workers
 * do: rows, speed, digests).
 *
 * MPI: prep initializes MPI only when a launcher started it (OMPI_COMM_WORLD_SIZE, PMIX_RANK,
 * PMI_RANK or PMI_SIZE in the environment), so it also runs as one plain process on a
 * machine without an MPI runtime. Under mpirun, rank 0 parses the command line and config,
 * expands the input lists, plans the output names and creates the directories, then
 * broadcasts either one error (every rank exits 2, rank 0 prints it) or the plan; file i of
 * the plan (data.train files, then data.test files) is converted by rank i mod size. A rank
 * that fails prints its error, tells the others (a STOP message on prep's own communicator,
 * polled between files) and joins the final reduction: every rank exits 1, nobody hangs,
 * and no rank leaves a partial file under a final name. */
#include <errno.h>
#include <inttypes.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blkstream.h"
#include "block.h"
#include "commands.h"
#include "config.h"
#include "hash.h"
#include "log.h"
#include "prep.h"
#include "psr_error.h"
#include "reader.h"

#define PREP_TAG_STOP 7200 /* on prep_comm (a duplicate of MPI_COMM_WORLD), nothing else */

static void prep_help(FILE *f)
{
    fprintf(f,
            "usage: psrec prep -c FILE.yaml --out DIR [--set section.key=value ...]\n"
            "                  [--block-rows N] [--level L] [--verify]\n"
            "       psrec prep --inspect FILE.psrb ...\n"
            "       psrec prep --read FILE.psrb ... [--workers W] [--worker I] [--prefetch N]\n"
            "                  [--shuffle-buffer S] [--seed S] [--epochs E]\n"
            "\n"
            "Convert text logs into psrec's binary block format (docs/BLOCKS.md): rows with\n"
            "their features hashed, in compressed, CRC-checked blocks, one .psrb file per\n"
            "input file. The text format and schema come from the config's data section\n"
            "(data.format, data.columns, data.separator, data.int_mode, ...; docs/CONFIG.md);\n"
            "the inputs are data.train and data.test (override with --set data.train=...).\n"
            "Run it as one process, or under mpirun to share the input files among ranks\n"
            "(file i to rank i mod size).\n"
            "\n"
            "conversion flags:\n"
            "  -c, --config FILE   YAML config whose data section describes the text\n"
            "  --set KEY=VALUE     override one config key (repeatable, applied in order)\n"
            "  --out DIR           output directory (required); data.train files go to\n"
            "                      DIR/train/NAME.psrb, data.test files to DIR/test/NAME.psrb,\n"
            "                      NAME being the input's file name without .gz\n"
            "  --block-rows N      rows per block, 1 to %d (default %d)\n"
            "  --level L           zlib level of the blocks, 0 (store) to 9 (default %d)\n"
            "  --verify            after writing each file, read it back and check it holds\n"
            "                      exactly the rows of its input (Criteo: as the training text\n"
            "                      reader yields them); about doubles the time\n"
            "tools (no config needed):\n"
            "  --inspect           describe each .psrb file and check every block\n"
            "  --read              read the files as training workers would and print rows,\n"
            "                      rows/s and digests (order and content) per worker:\n"
            "    --workers W       number of workers sharing the files (default 1)\n"
            "    --worker I        only worker I (default: every worker in turn)\n"
            "    --prefetch N      blocks decoded ahead by a thread, 0 = none (default %d)\n"
            "    --shuffle-buffer S  rows shuffled together, 0 = off (default 0)\n"
            "    --seed S          shuffle seed, as train.seed (default 1)\n"
            "    --epochs E        passes over each share (default 1)\n"
            "  -h, --help          this text\n"
            "\n"
            "output: a line per file, progress every train.progress_seconds, then\n"
            "  result: files=F rows=R bad_rows=B blocks=K bytes_in=X bytes_out=Y text_bytes=T\n"
            "          seconds=S rows_per_sec=V mb_per_sec=M\n"
            "exit status: 0 on success, 2 for a bad command line or config, 1 when a file fails.\n",
            BLK_MAX_BLOCK_ROWS, BLK_DEFAULT_BLOCK_ROWS, BLK_DEFAULT_LEVEL, BKS_DEFAULT_PREFETCH);
}

/* ---- MPI (only when a launcher started us) ---------------------------------------------- */

static int use_mpi, rank, n_ranks = 1;
static MPI_Comm prep_comm;

static void abort_hook(int status)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
}

static int launched_by_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static void bcast_bytes(void *buf, size_t n)
{
    if (!use_mpi) return;
    for (size_t off = 0; off < n;) {
        size_t k = n - off > (1u << 30) ? (1u << 30) : n - off;
        MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, 0, prep_comm);
        off += k;
    }
}

/* ---- numbers on the command line -------------------------------------------------------- */

static int parse_int_flag(const char *name, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') goto bad;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno) goto bad;
    if (v < lo || v > hi) {
        fprintf(stderr, "psrec prep: %s: '%s' is out of range, allowed %lld to %lld\n", name, s,
                (long long)lo, (long long)hi);
        return 0;
    }
    *out = v;
    return 1;
bad:
    fprintf(stderr, "psrec prep: %s: '%s' is not a non-negative integer\n", name, s ? s : "");
    return 0;
}

/* ---- the plan ------------------------------------------------------------------------------ */

typedef struct {
    char *in, *out;
} job_t;

typedef struct {
    cfg_t cfg;
    int block_rows, level, verify;
    char out_dir[CFG_PATH_MAX];
    int n_jobs, n_train;
    job_t *jobs;
} plan_t;

static void plan_free(plan_t *p)
{
    for (int i = 0; i < p->n_jobs; i++) {
        free(p->jobs[i].in);
        free(p->jobs[i].out);
    }
    free(p->jobs);
    p->jobs = NULL;
    p->n_jobs = 0;
}

static int mkdir_p(const char *path)
{
    char *b = psr_xstrdup(path);
    int rc = PSR_OK;
    for (char *q = b + 1;; q++) {
        if (*q != '/' && *q != '\0') continue;
        char c = *q;
        *q = '\0';
        if (mkdir(b, 0777) != 0 && errno != EEXIST)
            rc = PSR_ERR(PSR_ERR_IO, "--out: cannot create directory '%s': %s", b, strerror(errno));
        *q = c;
        if (!c || rc) break;
    }
    if (rc == PSR_OK) {
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = PSR_ERR(PSR_ERR_IO, "--out: '%s' is not a directory", path);
    }
    free(b);
    return rc;
}

/* The jobs of one input list into p (outputs under DIR/sub). */
static int plan_list(plan_t *p, const cfg_paths_t *paths, const char *what, const char *sub)
{
    char **files = NULL;
    int n = 0;
    PSR_FORWARD(rd_expand_paths(paths, what, &files, &n));
    char *dir = psr_xmalloc(strlen(p->out_dir) + strlen(sub) + 2);
    sprintf(dir, "%s/%s", p->out_dir, sub);
    int rc = mkdir_p(dir);
    int first = p->n_jobs;
    p->jobs = psr_xrealloc(p->jobs, (size_t)(p->n_jobs + n) * sizeof *p->jobs);
    for (int i = 0; i < n && rc == PSR_OK; i++) {
        job_t *j = &p->jobs[p->n_jobs++];
        j->in = psr_xstrdup(files[i]);
        j->out = prep_out_name(dir, files[i]);
        for (int k = first; k < p->n_jobs - 1 && rc == PSR_OK; k++)
            if (!strcmp(p->jobs[k].out, j->out))
                rc = PSR_ERR(PSR_ERR_CONFIG, "%s: '%s' and '%s' would both be written to %s; "
                             "give the input files distinct names", what, p->jobs[k].in, j->in,
                             j->out);
    }
    free(dir);
    rd_free_paths(files, n);
    return rc;
}

/* Rank 0: command line, config, plan. PSR_ERR_USAGE with message "help" for --help. */
static int setup(int argc, char **argv, plan_t *p)
{
    const char *path = NULL;
    cfg_defaults(&p->cfg);
    p->block_rows = BLK_DEFAULT_BLOCK_ROWS;
    p->level = BLK_DEFAULT_LEVEL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int64_t v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return PSR_ERR(PSR_ERR_USAGE, "help");
        if (!strcmp(a, "--verify")) {
            p->verify = 1;
            continue;
        }
        static const char *const valued[] = {"-c", "--config", "--set", "--out", "--block-rows",
                                             "--level"};
        int k = -1;
        for (int j = 0; j < (int)(sizeof valued / sizeof valued[0]); j++)
            if (!strcmp(a, valued[j])) k = j;
        if (k < 0)
            return PSR_ERR(PSR_ERR_USAGE, "psrec prep: unknown flag '%s' (allowed: -c FILE, "
                           "--set KEY=VALUE, --out DIR, --block-rows N, --level L, --verify, "
                           "--inspect, --read, --help)", a);
        PSR_RETURN_IF(i + 1 >= argc, PSR_ERR_USAGE, "psrec prep: %s needs a value", a);
        const char *val = argv[++i];
        if (k <= 1) {
            PSR_RETURN_IF(path, PSR_ERR_USAGE, "psrec prep: -c given twice ('%s' and '%s')",
                          path, val);
            path = val;
        } else if (k == 3) {
            PSR_RETURN_IF(!*val || strlen(val) >= CFG_PATH_MAX - 16, PSR_ERR_USAGE,
                          "psrec prep: --out: '%s' is not a usable directory name", val);
            snprintf(p->out_dir, sizeof p->out_dir, "%s", val);
        } else if (k == 4) {
            if (!parse_int_flag("--block-rows", val, 1, BLK_MAX_BLOCK_ROWS, &v))
                return PSR_ERR(PSR_ERR_USAGE, "quiet");
            p->block_rows = (int)v;
        } else if (k == 5) {
            if (!parse_int_flag("--level", val, 0, 9, &v)) return PSR_ERR(PSR_ERR_USAGE, "quiet");
            p->level = (int)v;
        }
    }
    PSR_RETURN_IF(!path, PSR_ERR_USAGE, "psrec prep: no config file; give -c FILE.yaml (its "
                  "data section describes the text; see psrec prep --help)");
    PSR_RETURN_IF(!p->out_dir[0], PSR_ERR_USAGE,
                  "psrec prep: --out DIR is required (see psrec prep --help)");
    PSR_FORWARD(cfg_load_file(&p->cfg, path));
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--set")) PSR_FORWARD(cfg_set(&p->cfg, argv[++i]));
        else if (strcmp(argv[i], "--verify") != 0) i++;
    PSR_FORWARD(cfg_validate(&p->cfg));
    PSR_FORWARD(mkdir_p(p->out_dir));
    PSR_FORWARD(plan_list(p, &p->cfg.data.train, "data.train", "train"));
    p->n_train = p->n_jobs;
    if (p->cfg.data.test.n > 0) PSR_FORWARD(plan_list(p, &p->cfg.data.test, "data.test", "test"));
    return PSR_OK;
}

/* The plan as bytes (rank 0) and back (others). */
static void bcast_plan(plan_t *p)
{
    if (!use_mpi) return;
    int64_t hdr[5] = {p->block_rows, p->level, p->verify, p->n_jobs, p->n_train};
    bcast_bytes(hdr, sizeof hdr);
    bcast_bytes(&p->cfg, sizeof p->cfg);
    bcast_bytes(p->out_dir, sizeof p->out_dir);
    p->block_rows = (int)hdr[0];
    p->level = (int)hdr[1];
    p->verify = (int)hdr[2];
    int n = (int)hdr[3];
    p->n_train = (int)hdr[4];
    if (rank != 0) {
        p->jobs = psr_xcalloc((size_t)n, sizeof *p->jobs);
        p->n_jobs = n;
    }
    for (int i = 0; i < n; i++) {
        uint64_t len[2] = {0, 0};
        if (rank == 0) len[0] = strlen(p->jobs[i].in) + 1, len[1] = strlen(p->jobs[i].out) + 1;
        bcast_bytes(len, sizeof len);
        if (rank != 0) {
            p->jobs[i].in = psr_xmalloc(len[0]);
            p->jobs[i].out = psr_xmalloc(len[1]);
        }
        bcast_bytes(p->jobs[i].in, len[0]);
        bcast_bytes(p->jobs[i].out, len[1]);
    }
}

/* ---- conversion ---------------------------------------------------------------------------- */

static void progress(void *ctx, const char *in, const prep_stats_t *st)
{
    (void)ctx;
    psr_info("prep: %s: %" PRId64 " lines, %" PRId64 " rows, %" PRId64 " bad, %" PRId64
             " blocks, %.1f MB of text, %.0f rows/s", in, st->lines, st->rows, st->bad,
             st->blocks, (double)st->text_bytes / 1e6,
             st->seconds > 0 ? (double)st->rows / st->seconds : 0.0);
}

enum { T_FILES, T_ROWS, T_BAD, T_BLOCKS, T_IN, T_OUT, T_TEXT, T_COUNT };

/* Has another rank failed? (a STOP message waiting) */
static int others_failed(void)
{
    if (!use_mpi) return 0;
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, PREP_TAG_STOP, prep_comm, &flag, MPI_STATUS_IGNORE);
    return flag;
}

static int run_convert(int argc, char **argv)
{
    plan_t *p = psr_xcalloc(1, sizeof *p);
    char msg[2048] = "";
    int status = PSR_OK;
    if (rank == 0) {
        status = setup(argc, argv, p);
        if (status != PSR_OK) snprintf(msg, sizeof msg, "%s", psr_err_msg());
    }
    if (use_mpi) MPI_Bcast(&status, 1, MPI_INT, 0, prep_comm);
    if (status != PSR_OK) {
        int code = 2;
        if (rank == 0) {
            if (status == PSR_ERR_USAGE && !strcmp(msg, "help")) prep_help(stdout), code = 0;
            else if (strcmp(msg, "quiet") != 0) fprintf(stderr, "psrec: error: %s\n", msg);
        }
        if (use_mpi) MPI_Bcast(&code, 1, MPI_INT, 0, prep_comm);
        plan_free(p);
        free(p);
        return code;
    }
    bcast_plan(p);
    prep_text_t *t = psr_xmalloc(sizeof *t);
    prep_text_from_config(&p->cfg, t);
    if (rank == 0) {
        char desc[300];
        blk_schema_describe(&t->schema, desc, sizeof desc);
        psr_info("prep: %d file%s (%d train, %d test) on %d rank%s into %s; schema %s",
                 p->n_jobs, p->n_jobs == 1 ? "" : "s", p->n_train, p->n_jobs - p->n_train,
                 n_ranks, n_ranks == 1 ? "" : "s", p->out_dir, desc);
    }

    int reported = 0;
    prep_opts_t o = {.block_rows = p->block_rows,
                     .level = p->level,
                     .max_bad_rows = p->cfg.data.max_bad_rows,
                     .reported = &reported,
                     .progress_seconds = p->cfg.train.progress_seconds,
                     .progress = progress};
    int64_t tot[T_COUNT] = {0};
    double t0 = psr_now();
    int failed = 0;
    for (int i = rank; i < p->n_jobs && !failed; i += n_ranks) {
        if (others_failed()) break;
        const job_t *j = &p->jobs[i];
        prep_stats_t st;
        int rc = prep_file(t, j->in, j->out, &o, &st);
        int64_t checked = -1;
        if (rc == PSR_OK && p->verify)
            rc = prep_verify(t, j->in, j->out, p->cfg.data.max_bad_rows, &checked);
        if (rc != PSR_OK) {
            fprintf(stderr, "psrec: error: %s\n", psr_err_msg());
            failed = rc;
            break;
        }
        tot[T_FILES]++;
        tot[T_ROWS] += st.rows;
        tot[T_BAD] += st.bad;
        tot[T_BLOCKS] += st.blocks;
        tot[T_IN] += (int64_t)st.bytes_in;
        tot[T_OUT] += (int64_t)st.bytes_out;
        tot[T_TEXT] += (int64_t)st.text_bytes;
        char ver[64] = "";
        if (checked >= 0) snprintf(ver, sizeof ver, " verified=%" PRId64, checked);
        psr_info("prep: %s -> %s: rows=%" PRId64 " bad_rows=%" PRId64 " blocks=%" PRId64
                 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64 " seconds=%.2f%s", j->in, j->out,
                 st.rows, st.bad, st.blocks, st.bytes_in, st.bytes_out, st.seconds, ver);
    }
    double secs = psr_now() - t0;

    int n_failed = failed != 0;
    MPI_Request *reqs = NULL;
    if (use_mpi) {
        /* tell the others at once, then agree on the outcome */
        int dummy = 0;
        if (failed) {
            reqs = psr_xcalloc((size_t)n_ranks, sizeof *reqs);
            for (int r = 0; r < n_ranks; r++)
                if (r == rank) reqs[r] = MPI_REQUEST_NULL;
                else MPI_Isend(&dummy, 1, MPI_INT, r, PREP_TAG_STOP, prep_comm, &reqs[r]);
        }
        int mine = n_failed;
        MPI_Allreduce(&mine, &n_failed, 1, MPI_INT, MPI_SUM, prep_comm);
        for (int k = 0; k < n_failed - mine; k++) {
            int x;
            MPI_Recv(&x, 1, MPI_INT, MPI_ANY_SOURCE, PREP_TAG_STOP, prep_comm, MPI_STATUS_IGNORE);
        }
        if (reqs) MPI_Waitall(n_ranks, reqs, MPI_STATUSES_IGNORE);
        free(reqs);
        int64_t sum[T_COUNT];
        MPI_Reduce(tot, sum, T_COUNT, MPI_INT64_T, MPI_SUM, 0, prep_comm);
        memcpy(tot, sum, sizeof tot);
        double mx;
        MPI_Reduce(&secs, &mx, 1, MPI_DOUBLE, MPI_MAX, 0, prep_comm);
        secs = mx;
    }
    if (rank == 0 && n_failed == 0) {
        printf("result: files=%" PRId64 " rows=%" PRId64 " bad_rows=%" PRId64 " blocks=%" PRId64
               " bytes_in=%" PRId64 " bytes_out=%" PRId64 " text_bytes=%" PRId64
               " seconds=%.3f rows_per_sec=%.0f mb_per_sec=%.1f\n",
               tot[T_FILES], tot[T_ROWS], tot[T_BAD], tot[T_BLOCKS], tot[T_IN], tot[T_OUT],
               tot[T_TEXT], secs, secs > 0 ? (double)tot[T_ROWS] / secs : 0.0,
               secs > 0 ? (double)tot[T_TEXT] / 1e6 / secs : 0.0);
        psr_info("prep: train with data.train: \"%s/train/*%s\"%s%s%s", p->out_dir, BLK_SUFFIX,
                 p->n_jobs > p->n_train ? " and data.test: \"" : "",
                 p->n_jobs > p->n_train ? p->out_dir : "",
                 p->n_jobs > p->n_train ? "/test/*" BLK_SUFFIX "\"" : "");
        fflush(stdout);
    } else if (rank == 0) {
        fprintf(stderr, "psrec: prep failed on %d rank%s; files converted before the failure "
                "are complete, the failed ones were not written\n", n_failed,
                n_failed == 1 ? "" : "s");
    }
    free(t);
    plan_free(p);
    free(p);
    return n_failed ? 1 : 0;
}

/* ---- tools ----------------------------------------------------------------------------------- */

static int run_inspect(char **files, int n)
{
    int bad = 0;
    int64_t rows = 0;
    blk_block_t b;
    blk_block_init(&b);
    for (int i = 0; i < n; i++) {
        blk_file_t *f;
        int rc = blk_file_open(&f, files[i], 1);
        if (rc == PSR_OK) {
            char desc[300];
            blk_schema_describe(blk_file_schema(f), desc, sizeof desc);
            uint64_t raw = 0;
            const blk_entry_t *ix = blk_file_index(f);
            for (int64_t k = 0; k < blk_file_blocks(f) && rc == PSR_OK; k++) {
                rc = blk_read_block(f, k, &b);
                raw += ix[k].raw_bytes;
            }
            if (rc == PSR_OK) {
                printf("%s: version %d, %s\n  blocks=%" PRId64 " rows=%" PRId64
                       " features=%" PRId64 " block_rows=%d bytes=%" PRIu64 " raw_bytes=%" PRIu64
                       " ratio=%.2f\n  OK: every block read and checked\n",
                       files[i], BLK_FORMAT_VERSION, desc, blk_file_blocks(f), blk_file_rows(f),
                       blk_file_feats(f), blk_file_block_rows(f), blk_file_bytes(f), raw,
                       blk_file_bytes(f) ? (double)raw / (double)blk_file_bytes(f) : 0.0);
                rows += blk_file_rows(f);
            }
        }
        if (rc != PSR_OK) {
            fprintf(stderr, "psrec: error: %s\n", psr_err_msg());
            bad++;
        }
        blk_file_close(f);
    }
    blk_block_free(&b);
    printf("inspect: files=%d ok=%d failed=%d rows=%" PRId64 "\n", n, n - bad, bad, rows);
    return bad ? 1 : 0;
}

/* Digest of one row (its content, not its position). */
static uint64_t row_digest(const blk_row_t *r, int n_dense)
{
    uint64_t h = psr_hash_bytes(&r->label, sizeof r->label, 0x726f77ULL);
    h = psr_hash_bytes(r->dense, (size_t)n_dense * sizeof *r->dense, h);
    h = psr_hash_bytes(r->field, (size_t)r->n_feat * sizeof *r->field, h);
    h = psr_hash_bytes(r->key, (size_t)r->n_feat * sizeof *r->key, h);
    return psr_hash_bytes(r->val, (size_t)r->n_feat * sizeof *r->val, h);
}

static int run_read(int argc, char **argv)
{
    int64_t workers = 1, only = -1, prefetch = BKS_DEFAULT_PREFETCH, shuffle = 0, epochs = 1;
    uint64_t seed = 1;
    cfg_paths_t *paths = psr_xcalloc(1, sizeof *paths);
    int status = 0;
    for (int i = 1; i < argc && !status; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--read")) continue;
        static const char *const valued[] = {"--workers", "--worker", "--prefetch",
                                             "--shuffle-buffer", "--seed", "--epochs"};
        int k = -1;
        for (int j = 0; j < 6; j++)
            if (!strcmp(a, valued[j])) k = j;
        if (k < 0 && a[0] == '-') {
            fprintf(stderr, "psrec prep: --read: unknown flag '%s' (see psrec prep --help)\n", a);
            status = 2;
            break;
        }
        if (k < 0) {
            if (paths->n >= CFG_MAX_PATHS || strlen(a) >= CFG_PATH_MAX) {
                fprintf(stderr, "psrec prep: --read: at most %d files of fewer than %d bytes\n",
                        CFG_MAX_PATHS, CFG_PATH_MAX);
                status = 2;
                break;
            }
            snprintf(paths->path[paths->n++], CFG_PATH_MAX, "%s", a);
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "psrec prep: %s needs a value\n", a);
            status = 2;
            break;
        }
        const char *v = argv[++i];
        int64_t x = 0;
        int ok = 1;
        switch (k) {
        case 0: ok = parse_int_flag(a, v, 1, 1 << 20, &workers); break;
        case 1: ok = parse_int_flag(a, v, 0, 1 << 20, &only); break;
        case 2: ok = parse_int_flag(a, v, 0, BKS_MAX_PREFETCH, &prefetch); break;
        case 3: ok = parse_int_flag(a, v, 0, 1 << 30, &shuffle); break;
        case 4: ok = parse_int_flag(a, v, 0, INT64_MAX, &x), seed = (uint64_t)x; break;
        default: ok = parse_int_flag(a, v, 1, 1000000, &epochs); break;
        }
        if (!ok) status = 2;
    }
    if (!status && only >= workers) {
        fprintf(stderr, "psrec prep: --worker %lld is not below --workers %lld\n",
                (long long)only, (long long)workers);
        status = 2;
    }
    if (!status && paths->n == 0) {
        fprintf(stderr, "psrec prep: --read needs block files (see psrec prep --help)\n");
        status = 2;
    }
    char **files = NULL;
    int n = 0;
    if (!status && rd_expand_paths(paths, "--read", &files, &n) != PSR_OK) {
        fprintf(stderr, "psrec: error: %s\n", psr_err_msg());
        status = 2;
    }
    free(paths);
    int64_t all_rows = 0;
    uint64_t all_set = 0;
    double all_secs = 0;
    for (int64_t w = only < 0 ? 0 : only; !status && w < (only < 0 ? workers : only + 1); w++) {
        bks_opts_t o = bks_opts_default();
        o.worker = (int)w;
        o.n_workers = (int)workers;
        o.prefetch = (int)prefetch;
        o.shuffle_buffer = (int)shuffle;
        o.seed = seed;
        bks_t *s;
        if (bks_open(&s, files, n, &o) != PSR_OK) {
            fprintf(stderr, "psrec: error: %s\n", psr_err_msg());
            status = 1;
            break;
        }
        const int D = bks_schema(s)->n_dense;
        uint64_t order = 0, set = 0;
        int64_t rows = 0;
        blk_row_t row;
        int rc = 0;
        double t0 = psr_now();
        for (int64_t e = 0; e < epochs && rc >= 0; e++) {
            if (e > 0) bks_rewind(s);
            while ((rc = bks_next_row(s, &row)) == 1) {
                uint64_t d = row_digest(&row, D);
                order = psr_mix64(order ^ d);
                set += d;
                rows++;
            }
        }
        double secs = psr_now() - t0;
        if (rc < 0) {
            fprintf(stderr, "psrec: error: %s\n", psr_err_msg());
            status = 1;
        } else {
            printf("read: worker=%lld/%lld rows=%" PRId64 " blocks=%" PRId64 " seconds=%.3f "
                   "rows_per_sec=%.0f wait_seconds=%.3f order_digest=0x%016" PRIx64
                   " set_digest=0x%016" PRIx64 "\n", (long long)w, (long long)workers, rows,
                   bks_share_blocks(s), secs, secs > 0 ? (double)rows / secs : 0.0,
                   bks_wait_seconds(s), order, set);
            all_rows += rows;
            all_set += set;
            all_secs += secs;
        }
        bks_close(s);
    }
    if (!status)
        printf("read: workers=%lld rows=%" PRId64 " seconds=%.3f rows_per_sec=%.0f "
               "set_digest=0x%016" PRIx64 "\n", (long long)workers, all_rows, all_secs,
               all_secs > 0 ? (double)all_rows / all_secs : 0.0, all_set);
    rd_free_paths(files, n);
    return status;
}

int cmd_prep(int argc, char **argv)
{
    int inspect = 0, read = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            prep_help(stdout);
            return 0;
        }
        inspect |= !strcmp(argv[i], "--inspect");
        read |= !strcmp(argv[i], "--read");
    }
    if (inspect || read) {
        if (inspect && read) {
            fprintf(stderr, "psrec prep: --inspect and --read cannot be combined\n");
            return 2;
        }
        if (read) return run_read(argc, argv);
        char **files = psr_xcalloc((size_t)argc, sizeof *files);
        int n = 0;
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--inspect")) continue;
            if (argv[i][0] == '-') {
                fprintf(stderr, "psrec prep: --inspect takes only file names, found '%s'\n",
                        argv[i]);
                free(files);
                return 2;
            }
            files[n++] = argv[i];
        }
        int rc = 2;
        if (n == 0) fprintf(stderr, "psrec prep: --inspect needs block files\n");
        else rc = run_inspect(files, n);
        free(files);
        return rc;
    }
    use_mpi = launched_by_mpi();
    if (use_mpi) {
        MPI_Init(&argc, &argv);
        psr_set_die_hook(abort_hook);
        MPI_Comm_dup(MPI_COMM_WORLD, &prep_comm);
        MPI_Comm_rank(prep_comm, &rank);
        MPI_Comm_size(prep_comm, &n_ranks);
        if (n_ranks > 1) psr_log_set_rank(rank, "prep");
    }
    int code = run_convert(argc, argv);
    if (use_mpi) {
        MPI_Comm_free(&prep_comm);
        MPI_Finalize();
    }
    return code;
}
