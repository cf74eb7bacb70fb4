/* cmd_gen: `psrec gen`, synthetic Criteo-format logs from a planted model (common/gen.h).
 *
 * Flags (each value as the next argument or after '='):
 *   --rows N        training rows (default 1000000)
 *   --test-rows M   test rows (default 100000; a fixed default, so that changing --rows never
 *                   changes the test file)
 *   --seed S        planted model and row streams (default 1)
 *   --out DIR       output directory, created if missing (required)
 *   --truth T       planted model: fm (default) or deep (gen.h)
 *   --gzip          write .tsv.gz instead of .tsv
 * Numbers are non-negative decimal integers. A bad command line is one line on stderr and
 * exit status 2; an I/O error exit status 1. On success stdout holds exactly one line,
 * "optimum: auc=A logloss=L", and a summary with the speed goes to stderr. No MPI. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "gen.h"
#include "psr_error.h"

#define GEN_DEFAULT_ROWS 1000000
#define GEN_DEFAULT_TEST_ROWS 100000

static void gen_usage(FILE *f)
{
    fprintf(f,
            "usage: psrec gen --out DIR [--rows N] [--test-rows M] [--seed S] [--truth fm|deep]\n"
            "                 [--gzip]\n"
            "\n"
            "Write synthetic Criteo-format logs drawn from a planted model, so that the best\n"
            "achievable AUC and logloss are known.\n"
            "\n"
            "  --out DIR       output directory, created if missing (required); receives\n"
            "                  train.tsv, test.tsv (or .tsv.gz) and optimum.txt\n"
            "  --rows N        training rows (default %d)\n"
            "  --test-rows M   test rows (default %d, independent of --rows: the test rows\n"
            "                  depend only on --seed, --truth and M)\n"
            "  --seed S        seed of the planted model and of the rows (default 1)\n"
            "  --truth T       the planted model (default fm):\n"
            "                    fm    a factorization machine: first-order weights plus\n"
            "                          pairwise factor interactions\n"
            "                    deep  a weaker FM part plus products of two categorical\n"
            "                          fields and one integer field, which no FM can express\n"
            "                          and DeepFM and DLRM can (docs/DATA.md)\n"
            "  --gzip          write gzip-compressed train.tsv.gz and test.tsv.gz\n"
            "  --help          print this help\n"
            "\n"
            "Prints \"optimum: auc=A logloss=L\": the AUC and logloss of the true click\n"
            "probabilities on the test rows (also in DIR/optimum.txt). Same flags, same bytes.\n",
            GEN_DEFAULT_ROWS, GEN_DEFAULT_TEST_ROWS);
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

int cmd_gen(int argc, char **argv)
{
    gen_opts_t o = {.rows = GEN_DEFAULT_ROWS,
                    .test_rows = GEN_DEFAULT_TEST_ROWS,
                    .seed = 1,
                    .gzip = 0,
                    .truth = GEN_TRUTH_FM,
                    .out_dir = NULL};
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
        static const char *const with_value[] = {"--rows", "--test-rows", "--seed", "--out",
                                                 "--truth"};
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
        uint64_t v;
        uint64_t max = !strcmp(name, "--seed") ? UINT64_MAX : (uint64_t)INT64_MAX;
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
            o.rows = (int64_t)v;
        else if (!strcmp(name, "--test-rows"))
            o.test_rows = (int64_t)v;
        else
            o.seed = v;
    }
    if (!o.out_dir) {
        fprintf(stderr, "psrec gen: --out DIR is required (see psrec gen --help)\n");
        return 2;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double auc = 0.0, logloss = 0.0;
    int rc = gen_write(&o, &auc, &logloss);
    if (rc != PSR_OK) {
        fprintf(stderr, "psrec gen: error: %s\n", psr_err_msg());
        return rc == PSR_ERR_USAGE ? 2 : 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double total = (double)o.rows + (double)o.test_rows;
    fprintf(stderr,
            "psrec gen: wrote %" PRId64 " train and %" PRId64 " test rows to %s%s, truth %s, "
            "in %.2f s (%.0f rows/s)\n",
            o.rows, o.test_rows, o.out_dir, o.gzip ? " (gzip)" : "", gen_truth_name(o.truth), secs,
            secs > 0 ? total / secs : 0.0);
    printf("optimum: auc=%.6f logloss=%.6f\n", auc, logloss);
    fflush(stdout);
    if (ferror(stdout)) {
        fprintf(stderr, "psrec gen: error: cannot write to standard output\n");
        return 1;
    }
    return 0;
}
