/* cmd_gen: `psrec gen`, synthetic logs from a planted model: Criteo-format click logs
 * (common/gen.h, --kind criteo, the default) or MovieLens-layout user-item logs
 * (common/genui.h, --kind ratings or implicit).
 *
 * Flags (each value as the next argument or after '='):
 *   --kind K        criteo (default), ratings or implicit
 *   --rows N        training rows (default 1000000; ratings and implicit 100000)
 *   --test-rows M   test rows (default 100000, a fixed default so that changing --rows never
 *                   changes the criteo test file; ratings and implicit 10000)
 *   --seed S        planted model and row streams (default 1)
 *   --out DIR       output directory, created if missing (required)
 *   --gzip          write .tsv.gz / .csv.gz instead of .tsv / .csv
 *   --truth T       criteo only: planted model fm (default) or deep (gen.h)
 *   --users U, --items I, --dim D   ratings and implicit only (genui.h defaults)
 *   --noise X       ratings only: standard deviation of the rating noise (default 0.5)
 * Integers are non-negative decimal digits; --noise a decimal number. A bad command line is
 * one line on stderr and exit status 2 (also a flag of another kind); an I/O error exit
 * status 1. On success stdout holds the optimum: one line "optimum: auc=A logloss=L" for
 * criteo (the bytes of the criteo path do not change with the user-item kinds), the two lines
 * of genui_format_optimum otherwise; a summary with the speed goes to stderr. No MPI. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "gen.h"
#include "genui.h"
#include "psr_error.h"

#define GEN_DEFAULT_ROWS 1000000
#define GEN_DEFAULT_TEST_ROWS 100000

static void gen_usage(FILE *f)
{
    fprintf(f,
            "usage: psrec gen --out DIR [--kind criteo|ratings|implicit] [--rows N]\n"
            "                 [--test-rows M] [--seed S] [--gzip]\n"
            "                 [--truth fm|deep]                                (criteo)\n"
            "                 [--users U] [--items I] [--dim D] [--noise X]    (ratings, implicit)\n"
            "\n"
            "Write synthetic logs drawn from a planted model, so that the best any model can do\n"
            "on the test rows (the optimum) is known. Same flags, same bytes.\n"
            "\n"
            "  --kind K        what to write (default criteo):\n"
            "                    criteo    Criteo-format click logs: train.tsv, test.tsv\n"
            "                    ratings   MovieLens-layout ratings (header\n"
            "                              userId,movieId,rating,timestamp): train.csv,\n"
            "                              test.csv; ratings are real numbers with 4 decimals\n"
            "                    implicit  the same layout, rating 1 for each interaction\n"
            "  --out DIR       output directory, created if missing (required); also receives\n"
            "                  optimum.txt\n"
            "  --rows N        training rows (default %d; ratings and implicit %d)\n"
            "  --test-rows M   test rows (default %d; ratings and implicit %d). criteo: the test\n"
            "                  rows depend only on --seed, --truth and M, not on --rows;\n"
            "                  ratings and implicit: every user's latest rows in time\n"
            "  --seed S        seed of the planted model and of the rows (default 1)\n"
            "  --gzip          write gzip-compressed files (.tsv.gz, .csv.gz)\n"
            "  --help          print this help\n"
            "\n"
            "criteo only:\n"
            "  --truth T       the planted model (default fm):\n"
            "                    fm    a factorization machine: first-order weights plus\n"
            "                          pairwise factor interactions\n"
            "                    deep  a weaker FM part plus products of two categorical\n"
            "                          fields and one integer field, which no FM can express\n"
            "                          and DeepFM and DLRM can (docs/DATA.md)\n"
            "\n"
            "ratings and implicit only (a latent-factor model with Zipf item popularity):\n"
            "  --users U       users, userId 1..U (default %d)\n"
            "  --items I       items (default %d; implicit at least %d); movieIds are sparse\n"
            "                  (--rows + --test-rows must not exceed U * floor(I / 2): a user's\n"
            "                  items are distinct)\n"
            "  --dim D         dimension of the planted user and item factors (default %d,\n"
            "                  at most %d)\n"
            "  --noise X       ratings only: standard deviation of the rating noise (default\n"
            "                  %.1f, from 0 to %.0f): the optimum RMSE\n"
            "\n"
            "Prints the optimum (also in DIR/optimum.txt):\n"
            "  criteo    \"optimum: auc=A logloss=L\", the AUC and logloss of the true click\n"
            "            probabilities on the test rows\n"
            "  ratings   \"optimum: rmse=R\", the RMSE of the planted mean ratings on the test\n"
            "            rows (about --noise), and \"biases: rmse=B\", that of the planted\n"
            "            model without its factors\n"
            "  implicit  \"optimum: hr@10=H ndcg@10=N protocol=full\", the planted model's own\n"
            "            ranking of the training catalogue (training items skipped), and\n"
            "            \"pop: ...\", that of training popularity (docs/DATA.md)\n",
            GEN_DEFAULT_ROWS, GENUI_DEFAULT_ROWS, GEN_DEFAULT_TEST_ROWS, GENUI_DEFAULT_TEST_ROWS,
            GENUI_DEFAULT_USERS, GENUI_DEFAULT_ITEMS, GENUI_MIN_ITEMS_IMPLICIT,
            GENUI_DEFAULT_DIM, GENUI_MAX_DIM, GENUI_DEFAULT_NOISE, GENUI_MAX_NOISE);
}

/* Strict non-negative decimal: digits only, no sign, no spaces. Returns 0, -1 when s is not
 * such a number, -2 when it exceeds max. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return -1;
    if (errno == ERANGE || v > max) return -2;
    *out = (uint64_t)v;
    return 0;
}

/* The flags that belong to some kinds only: given ones are checked against --kind. */
enum { F_TRUTH, F_USERS, F_ITEMS, F_DIM, F_NOISE, F_COUNT };
static const char *const flag_names[] = {"--truth", "--users", "--items", "--dim", "--noise"};
_Static_assert(sizeof flag_names / sizeof flag_names[0] == F_COUNT, "one name per flag");

#define GEN_KIND_CRITEO (-1) /* the criteo path of gen.h; genui kinds are >= 0 */

static int run_criteo(const gen_opts_t *o)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double auc = 0.0, logloss = 0.0;
    int rc = gen_write(o, &auc, &logloss);
    if (rc != PSR_OK) {
        fprintf(stderr, "psrec gen: error: %s\n", psr_err_msg());
        return rc == PSR_ERR_USAGE ? 2 : 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double total = (double)o->rows + (double)o->test_rows;
    fprintf(stderr,
            "psrec gen: wrote %" PRId64 " train and %" PRId64 " test rows to %s%s, truth %s, "
            "in %.2f s (%.0f rows/s)\n",
            o->rows, o->test_rows, o->out_dir, o->gzip ? " (gzip)" : "", gen_truth_name(o->truth),
            secs, secs > 0 ? total / secs : 0.0);
    printf("optimum: auc=%.6f logloss=%.6f\n", auc, logloss);
    return 0;
}

static int run_genui(const genui_opts_t *o)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    genui_result_t r;
    int rc = genui_write(o, &r);
    if (rc != PSR_OK) {
        fprintf(stderr, "psrec gen: error: %s\n", psr_err_msg());
        return rc == PSR_ERR_USAGE ? 2 : 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double total = (double)o->rows + (double)o->test_rows;
    fprintf(stderr,
            "psrec gen: wrote %" PRId64 " train and %" PRId64 " test rows to %s%s, kind %s, "
            "%" PRId64 " users, %" PRId64 " items, dim %d",
            o->rows, o->test_rows, o->out_dir, o->gzip ? " (gzip)" : "",
            genui_kind_name(o->kind), o->users, o->items, o->dim);
    if (o->kind == GENUI_RATINGS) fprintf(stderr, ", noise %g", o->noise);
    fprintf(stderr, ", in %.2f s (%.0f rows/s)\n", secs, secs > 0 ? total / secs : 0.0);
    if (o->kind == GENUI_IMPLICIT)
        fprintf(stderr,
                "psrec gen: optimum over %" PRId64 " test users, a catalogue of %" PRId64
                " training items; %" PRId64 " test interactions with items never in training "
                "left out\n",
                r.test_users, r.catalogue, r.unknown);
    char text[512];
    size_t n = genui_format_optimum(o->kind, &r, text, sizeof text);
    fwrite(text, 1, n, stdout);
    return 0;
}

int cmd_gen(int argc, char **argv)
{
    gen_opts_t o = {.rows = GEN_DEFAULT_ROWS,
                    .test_rows = GEN_DEFAULT_TEST_ROWS,
                    .seed = 1,
                    .gzip = 0,
                    .truth = GEN_TRUTH_FM,
                    .out_dir = NULL};
    genui_opts_t u = genui_defaults();
    int kind = GEN_KIND_CRITEO;
    int given[F_COUNT] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            gen_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--gzip")) {
            o.gzip = 1;
            continue;
        }
        static const char *const with_value[] = {"--rows", "--test-rows", "--seed",  "--out",
                                                 "--truth", "--kind",     "--users", "--items",
                                                 "--dim",  "--noise"};
        const char *name = NULL, *val = NULL;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
            size_t n = strlen(with_value[k]);
            if (!strncmp(a, with_value[k], n) && (a[n] == '\0' || a[n] == '=')) {
                name = with_value[k];
                if (a[n] == '=')
                    val = a + n + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                break;
            }
        }
        if (!name) {
            if (!strncmp(a, "--gzip=", 7))
                fprintf(stderr, "psrec gen: --gzip takes no value\n");
            else if (a[0] == '-')
                fprintf(stderr, "psrec gen: unknown flag '%s' (see psrec gen --help)\n", a);
            else
                fprintf(stderr, "psrec gen: unexpected argument '%s' (see psrec gen --help)\n", a);
            return 2;
        }
        if (!val) {
            fprintf(stderr, "psrec gen: %s: missing value\n", name);
            return 2;
        }
        for (int f = 0; f < F_COUNT; f++)
            if (!strcmp(name, flag_names[f])) given[f] = 1;
        if (!strcmp(name, "--out")) {
            if (!*val) {
                fprintf(stderr, "psrec gen: --out: the directory name is empty\n");
                return 2;
            }
            o.out_dir = val;
            continue;
        }
        if (!strcmp(name, "--truth")) {
            o.truth = gen_truth_parse(val);
            if (o.truth < 0) {
                fprintf(stderr, "psrec gen: --truth: '%s' is not a truth model (allowed:", val);
                for (int t = 0; t < GEN_TRUTH_COUNT; t++)
                    fprintf(stderr, "%s %s", t ? "," : "", gen_truth_name(t));
                fprintf(stderr, ")\n");
                return 2;
            }
            continue;
        }
        if (!strcmp(name, "--kind")) {
            int is_criteo = !strcmp(val, "criteo"), k = genui_kind_parse(val);
            kind = is_criteo ? GEN_KIND_CRITEO : k;
            if (!is_criteo && k < 0) {
                fprintf(stderr, "psrec gen: --kind: '%s' is not a kind (allowed: criteo", val);
                for (int g = 0; g < GENUI_KIND_COUNT; g++)
                    fprintf(stderr, ", %s", genui_kind_name(g));
                fprintf(stderr, ")\n");
                return 2;
            }
            continue;
        }
        if (!strcmp(name, "--noise")) {
            char *end = NULL;
            errno = 0;
            double x = *val ? strtod(val, &end) : NAN;
            if (!*val || *end || errno == ERANGE || !isfinite(x)) {
                fprintf(stderr, "psrec gen: --noise: '%s' is not a number\n", val);
                return 2;
            }
            u.noise = x;
            continue;
        }
        uint64_t v;
        uint64_t max = !strcmp(name, "--seed")    ? UINT64_MAX
                       : !strcmp(name, "--users") ? (uint64_t)GENUI_MAX_USERS
                       : !strcmp(name, "--items") ? (uint64_t)GENUI_MAX_ITEMS
                       : !strcmp(name, "--dim")   ? (uint64_t)GENUI_MAX_DIM
                                                  : (uint64_t)INT64_MAX;
        int prc = parse_u64(val, max, &v);
        if (prc == -1) {
            fprintf(stderr, "psrec gen: %s: '%s' is not a non-negative integer\n", name, val);
            return 2;
        }
        if (prc == -2) {
            fprintf(stderr, "psrec gen: %s: '%s' is out of range (at most %" PRIu64 ")\n", name,
                    val, max);
            return 2;
        }
        if (!strcmp(name, "--rows"))
            o.rows = u.rows = (int64_t)v;
        else if (!strcmp(name, "--test-rows"))
            o.test_rows = u.test_rows = (int64_t)v;
        else if (!strcmp(name, "--users"))
            u.users = (int64_t)v;
        else if (!strcmp(name, "--items"))
            u.items = (int64_t)v;
        else if (!strcmp(name, "--dim"))
            u.dim = (int)v;
        else
            o.seed = u.seed = v;
    }
    if (!o.out_dir) {
        fprintf(stderr, "psrec gen: --out DIR is required (see psrec gen --help)\n");
        return 2;
    }
    /* a flag of another kind is an error, not silently ignored */
    const char *kname = kind == GEN_KIND_CRITEO ? "criteo" : genui_kind_name(kind);
    for (int f = 0; f < F_COUNT; f++) {
        const char *only = NULL;
        if (f == F_TRUTH && kind != GEN_KIND_CRITEO) only = "--kind criteo";
        if ((f == F_USERS || f == F_ITEMS || f == F_DIM) && kind == GEN_KIND_CRITEO)
            only = "--kind ratings and implicit";
        if (f == F_NOISE && kind != GENUI_RATINGS) only = "--kind ratings";
        if (given[f] && only) {
            fprintf(stderr, "psrec gen: %s applies to %s only, not to --kind %s\n",
                    flag_names[f], only, kname);
            return 2;
        }
    }

    int rc;
    if (kind == GEN_KIND_CRITEO) {
        rc = run_criteo(&o);
    } else {
        u.kind = kind;
        u.gzip = o.gzip;
        u.out_dir = o.out_dir;
        if (genui_check(&u) != PSR_OK) {
            fprintf(stderr, "psrec gen: %s\n", psr_err_msg());
            return 2;
        }
        rc = run_genui(&u);
    }
    if (rc != 0) return rc;
    fflush(stdout);
    if (ferror(stdout)) {
        fprintf(stderr, "psrec gen: error: cannot write to standard output\n");
        return 1;
    }
    return 0;
}
