/* cmd_plot: `psrec plot METRICS.jsonl --out curves.png`: learning curves from a metrics file
 * (train.metrics_file, common/metrics_file.h) drawn by gnuplot.
 *
 * The file is read with jansson, line by line; the curves go to data files in a temporary
 * directory with a generated gnuplot script, and gnuplot (Debian package gnuplot-nox) runs as
 * a child process that writes the PNG. Three panels share the x axis, examples seen (all
 * workers): the training loss of the progress lines, every metric of the eval lines, and
 * examples/s. A resumed job's file holds several runs one after the other; a run that starts
 * again from an earlier point (its progress examples go down) starts a new line segment. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "psr_error.h"

#define PLOT_MAX_METRICS 16

static void plot_help(FILE *f)
{
    fprintf(f,
            "usage: psrec plot METRICS.jsonl [--out FILE.png] [--title TEXT]\n\n"
            "Draw the learning curves of a metrics file (train.metrics_file) with gnuplot:\n"
            "training loss, the evaluation metrics and examples/s against examples seen.\n"
            "Needs gnuplot on PATH (Debian/Ubuntu: apt-get install gnuplot-nox).\n\n"
            "flags:\n"
            "  --out FILE.png   where to write the image (default curves.png)\n"
            "  --title TEXT     title above the plots (default: the metrics file's name)\n"
            "  -h, --help       this text\n\n"
            "Lines of a resumed job continue in the same file; a run that restarted from an\n"
            "earlier checkpoint starts a new segment of each curve.\n"
            "exit status: 0 when the image was written; 2 for a bad command line or a metrics\n"
            "  file that is missing, not JSON lines, or holds nothing to plot; 1 when gnuplot\n"
            "  is missing or fails.\n");
}

typedef struct {
    double x, loss, rate;
    int brk; /* a new segment starts here */
} prog_pt_t;

typedef struct {
    double x;
    double v[PLOT_MAX_METRICS]; /* NAN: not in this record */
    int brk;
} eval_pt_t;

typedef struct {
    prog_pt_t *prog;
    size_t n_prog, cap_prog;
    eval_pt_t *eval;
    size_t n_eval, cap_eval;
    char names[PLOT_MAX_METRICS][48];
    int n_names;
    int64_t n_ckpt, n_result;
} curves_t;

/* Eval fields that are counts or settings, not metrics to draw. */
static int is_metric(const char *key)
{
    static const char *const skip[] = {"event", "time", "rank", "step", "examples", "trained",
                                       "users", "lists", "unknown", "negatives", "test_examples"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (!strcmp(key, skip[i])) return 0;
    return 1;
}

static int metric_index(curves_t *cv, const char *key)
{
    for (int i = 0; i < cv->n_names; i++)
        if (!strcmp(cv->names[i], key)) return i;
    if (cv->n_names == PLOT_MAX_METRICS || strlen(key) >= sizeof cv->names[0]) return -1;
    snprintf(cv->names[cv->n_names], sizeof cv->names[0], "%s", key);
    return cv->n_names++;
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return v && json_is_number(v) ? json_number_value(v) : NAN;
}

/* Read every record of `path` into cv. PSR_OK, or PSR_ERR_USAGE / PSR_ERR_IO naming the file
 * and line. A last line without its newline (a write cut short) is skipped with a warning. */
static int read_metrics(const char *path, curves_t *cv)
{
    FILE *f = fopen(path, "r");
    PSR_RETURN_IF(!f, PSR_ERR_IO, "psrec plot: cannot open metrics file '%s': %s", path,
                  strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t no = 0;
    int rc = PSR_OK;
    double last_x = -1;
    while (rc == PSR_OK && (len = getline(&line, &cap, f)) >= 0) {
        no++;
        const int complete = len > 0 && line[len - 1] == '\n';
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (!o || !json_is_object(o)) {
            if (!complete) {
                fprintf(stderr, "psrec plot: warning: %s:%lld: last line is cut short (the job "
                        "was stopped while writing it); skipped\n", path, (long long)no);
            } else {
                rc = PSR_ERR(PSR_ERR_USAGE, "psrec plot: %s:%lld: not a JSON object (%s at "
                             "column %d); a metrics file holds one JSON object per line",
                             path, (long long)no, o ? "a JSON value but not an object" : err.text,
                             err.column);
            }
            json_decref(o);
            continue;
        }
        const char *ev = json_string_value(json_object_get(o, "event"));
        if (!ev) {
            rc = PSR_ERR(PSR_ERR_USAGE, "psrec plot: %s:%lld: no \"event\" string; allowed "
                         "events: progress, eval, checkpoint, result", path, (long long)no);
        } else if (!strcmp(ev, "progress")) {
            double x = num(o, "examples");
            if (isfinite(x)) {
                if (cv->n_prog == cv->cap_prog) {
                    cv->cap_prog = cv->cap_prog ? 2 * cv->cap_prog : 256;
                    cv->prog = psr_xrealloc(cv->prog, cv->cap_prog * sizeof *cv->prog);
                }
                const int brk = x < last_x; /* a resumed run went back to its checkpoint */
                cv->prog[cv->n_prog++] = (prog_pt_t){x, num(o, "loss"), num(o, "examples_per_sec"),
                                                     brk};
                last_x = x;
            }
        } else if (!strcmp(ev, "eval")) {
            double x = num(o, "trained");
            if (isfinite(x)) {
                if (cv->n_eval == cv->cap_eval) {
                    cv->cap_eval = cv->cap_eval ? 2 * cv->cap_eval : 64;
                    cv->eval = psr_xrealloc(cv->eval, cv->cap_eval * sizeof *cv->eval);
                }
                eval_pt_t *p = &cv->eval[cv->n_eval++];
                p->x = x;
                p->brk = cv->n_eval > 1 && x < cv->eval[cv->n_eval - 2].x;
                for (int i = 0; i < PLOT_MAX_METRICS; i++) p->v[i] = NAN;
                const char *key;
                json_t *val;
                json_object_foreach(o, key, val) {
                    if (!is_metric(key) || !(json_is_number(val) || json_is_null(val))) continue;
                    int i = metric_index(cv, key);
                    if (i >= 0 && json_is_number(val)) p->v[i] = json_number_value(val);
                }
            }
        } else if (!strcmp(ev, "checkpoint")) {
            cv->n_ckpt++;
        } else if (!strcmp(ev, "result")) {
            cv->n_result++;
        } else {
            rc = PSR_ERR(PSR_ERR_USAGE, "psrec plot: %s:%lld: event '%s' is not one of progress, "
                         "eval, checkpoint, result", path, (long long)no, ev);
        }
        json_decref(o);
    }
    if (rc == PSR_OK && ferror(f))
        rc = PSR_ERR(PSR_ERR_IO, "psrec plot: read error on '%s': %s", path, strerror(errno));
    free(line);
    fclose(f);
    PSR_RETURN_IF(rc == PSR_OK && cv->n_prog == 0 && cv->n_eval == 0, PSR_ERR_USAGE,
                  "psrec plot: %s has no progress or eval record to plot (%lld lines); is it a "
                  "train.metrics_file of a job that trained?", path, (long long)no);
    return rc;
}

/* A gnuplot single-quoted string: no escapes inside, a quote is doubled. */
static void gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        if (*s == '\n' || *s == '\r') continue;
        fputc(*s, f);
    }
    fputc('\'', f);
}

static void put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.10g", v);
    else
        fputs(" ?", f);
}

static int write_data(const char *dir, const curves_t *cv)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/progress.dat", dir);
    FILE *f = fopen(path, "w");
    PSR_RETURN_IF(!f, PSR_ERR_IO, "psrec plot: cannot write '%s': %s", path, strerror(errno));
    fputs("# examples loss examples_per_sec\n", f);
    for (size_t i = 0; i < cv->n_prog; i++) {
        if (cv->prog[i].brk) fputs("\n", f); /* gnuplot: a blank line breaks the line */
        fprintf(f, "%.10g", cv->prog[i].x);
        put_num(f, cv->prog[i].loss);
        put_num(f, cv->prog[i].rate);
        fputc('\n', f);
    }
    int bad = fclose(f) != 0;
    snprintf(path, sizeof path, "%s/eval.dat", dir);
    f = fopen(path, "w");
    PSR_RETURN_IF(!f || bad, PSR_ERR_IO, "psrec plot: cannot write '%s': %s", path,
                  strerror(errno));
    fputs("# examples", f);
    for (int k = 0; k < cv->n_names; k++) fprintf(f, " %s", cv->names[k]);
    fputc('\n', f);
    for (size_t i = 0; i < cv->n_eval; i++) {
        if (cv->eval[i].brk) fputs("\n", f);
        fprintf(f, "%.10g", cv->eval[i].x);
        for (int k = 0; k < cv->n_names; k++) put_num(f, cv->eval[i].v[k]);
        fputc('\n', f);
    }
    PSR_RETURN_IF(fclose(f) != 0, PSR_ERR_IO, "psrec plot: cannot write '%s'", path);
    return PSR_OK;
}

/* Largest |value| of metric k, to put metrics of another scale (novelty) on the right axis. */
static double metric_max(const curves_t *cv, int k)
{
    double m = 0;
    for (size_t i = 0; i < cv->n_eval; i++)
        if (isfinite(cv->eval[i].v[k]) && fabs(cv->eval[i].v[k]) > m) m = fabs(cv->eval[i].v[k]);
    return m;
}

static int write_script(const char *dir, const char *out, const char *title, const curves_t *cv)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/plot.gp", dir);
    FILE *f = fopen(path, "w");
    PSR_RETURN_IF(!f, PSR_ERR_IO, "psrec plot: cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "# written by psrec plot\n"
               "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "  set terminal pngcairo size 1000,1100 font ',10'\n"
               "} else {\n"
               "  set terminal png size 1000,1100\n"
               "}\n"
               "set output ");
    gp_quote(f, out);
    fprintf(f, "\nset datafile missing '?'\n"
               "set grid\n"
               "set key top right\n"
               "set format x '%%.1s%%c'\n"
               "set multiplot layout 3,1 title ");
    gp_quote(f, title);
    fprintf(f, "\nset lmargin 12\nset rmargin 10\n");
    char prog[4300], eval[4300];
    snprintf(prog, sizeof prog, "%s/progress.dat", dir);
    snprintf(eval, sizeof eval, "%s/eval.dat", dir);

    /* 1: training loss */
    fprintf(f, "set title 'training loss (mean over each progress interval)'\n"
               "set ylabel 'loss'\nunset xlabel\n");
    if (cv->n_prog > 0) {
        fputs("plot ", f);
        gp_quote(f, prog);
        fputs(" using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 title 'loss'\n", f);
    } else {
        fputs("set label 1 'no progress lines' at graph 0.5,0.5 center\n"
              "plot [0:1][0:1] NaN notitle\nunset label 1\n", f);
    }

    /* 2: evaluation metrics */
    fprintf(f, "set title 'evaluation on the test rows'\nset ylabel 'metric'\n");
    int any = 0, right = 0;
    for (int k = 0; k < cv->n_names; k++) right |= metric_max(cv, k) > 5.0;
    if (right) fputs("set y2label 'metric (right axis)'\nset y2tics\nset ytics nomirror\n", f);
    for (int k = 0; k < cv->n_names; k++) {
        fputs(any ? ", \\\n     " : "plot ", f);
        gp_quote(f, eval);
        fprintf(f, " using 1:%d with linespoints pt 7 ps 0.6 lw 1.5 %s title ", k + 2,
                metric_max(cv, k) > 5.0 ? "axes x1y2" : "axes x1y1");
        gp_quote(f, cv->names[k]);
        any = 1;
    }
    if (any) {
        fputc('\n', f);
    } else {
        fputs("set label 1 'no evaluation (no eval lines in the metrics file)' at graph 0.5,0.5 "
              "center\nplot [0:1][0:1] NaN notitle\nunset label 1\n", f);
    }
    if (right) fputs("unset y2label\nunset y2tics\nset ytics mirror\n", f);

    /* 3: throughput */
    fprintf(f, "set title 'throughput'\nset ylabel 'examples/s'\nset xlabel 'examples seen'\n");
    if (cv->n_prog > 0) {
        fputs("plot ", f);
        gp_quote(f, prog);
        fputs(" using 1:3 with linespoints pt 7 ps 0.5 lw 1.5 title 'examples/s'\n", f);
    } else {
        fputs("plot [0:1][0:1] NaN notitle\n", f);
    }
    fputs("unset multiplot\n", f);
    PSR_RETURN_IF(fclose(f) != 0, PSR_ERR_IO, "psrec plot: cannot write '%s'", path);
    return PSR_OK;
}

/* Whether an executable `name` is on PATH. */
static int on_path(const char *name)
{
    const char *p = getenv("PATH");
    if (!p || !*p) p = "/usr/bin:/bin";
    char dir[4096];
    while (*p) {
        size_t n = strcspn(p, ":");
        if (n == 0) snprintf(dir, sizeof dir, ".");
        else snprintf(dir, sizeof dir, "%.*s", (int)n, p);
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", dir, name);
        if (access(full, X_OK) == 0) return 1;
        p += n;
        if (*p == ':') p++;
    }
    return 0;
}

/* Run gnuplot on the script; PSR_OK when it exits 0. */
static int run_gnuplot(const char *script)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    PSR_RETURN_IF(pid < 0, PSR_ERR_IO, "psrec plot: cannot start gnuplot: fork: %s",
                  strerror(errno));
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        fprintf(stderr, "psrec plot: cannot run gnuplot: %s\n", strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return PSR_ERR(PSR_ERR_IO, "psrec plot: waiting for gnuplot: %s", strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return PSR_OK;
    if (WIFEXITED(st))
        return PSR_ERR(PSR_ERR_IO, "psrec plot: gnuplot failed with exit status %d (its message "
                       "is above)", WEXITSTATUS(st));
    return PSR_ERR(PSR_ERR_IO, "psrec plot: gnuplot was killed by signal %d", WTERMSIG(st));
}

static void remove_dir(const char *dir)
{
    static const char *const files[] = {"progress.dat", "eval.dat", "plot.gp"};
    char path[4200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int cmd_plot(int argc, char **argv)
{
    const char *in = NULL, *out = "curves.png", *title = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            plot_help(stdout);
            return 0;
        }
        if (!strcmp(a, "--out") || !strcmp(a, "--title")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "psrec: error: psrec plot: %s needs a value\n", a);
                return 2;
            }
            if (a[2] == 'o') out = argv[++i];
            else title = argv[++i];
            continue;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "psrec: error: psrec plot: unknown flag '%s' (allowed: --out FILE.png, "
                    "--title TEXT, --help)\n", a);
            return 2;
        }
        if (in) {
            fprintf(stderr, "psrec: error: psrec plot: one metrics file, got '%s' and '%s'\n", in, a);
            return 2;
        }
        in = a;
    }
    if (!in) {
        fprintf(stderr, "psrec: error: psrec plot: no metrics file; usage: psrec plot "
                "METRICS.jsonl --out curves.png\n");
        return 2;
    }
    if (!*out) {
        fprintf(stderr, "psrec: error: psrec plot: --out is empty\n");
        return 2;
    }
    curves_t cv;
    memset(&cv, 0, sizeof cv);
    int rc = read_metrics(in, &cv);
    if (rc != PSR_OK) {
        fprintf(stderr, "psrec: error: %s\n", psr_err_msg());
        free(cv.prog);
        free(cv.eval);
        return 2;
    }
    if (!on_path("gnuplot")) {
        fprintf(stderr, "psrec: error: psrec plot: gnuplot is not installed (not found on PATH); "
                "psrec plot draws with it: install the Debian/Ubuntu package gnuplot-nox "
                "(apt-get install gnuplot-nox)\n");
        free(cv.prog);
        free(cv.eval);
        return 1;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/psrec-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "psrec: error: psrec plot: cannot make a temporary directory '%s': %s\n",
                dir, strerror(errno));
        free(cv.prog);
        free(cv.eval);
        return 1;
    }
    const char *base = strrchr(in, '/');
    rc = write_data(dir, &cv);
    if (rc == PSR_OK) rc = write_script(dir, out, title ? title : base ? base + 1 : in, &cv);
    unlink(out); /* so that a stale image is never taken for a new one */
    if (rc == PSR_OK) {
        char script[4200];
        snprintf(script, sizeof script, "%s/plot.gp", dir);
        rc = run_gnuplot(script);
    }
    struct stat st;
    if (rc == PSR_OK && (stat(out, &st) != 0 || st.st_size == 0))
        rc = PSR_ERR(PSR_ERR_IO, "psrec plot: gnuplot exited 0 but wrote no image to '%s'", out);
    remove_dir(dir);
    if (rc == PSR_OK)
        printf("psrec plot: wrote %s (%zu progress, %zu eval, %lld checkpoint, %lld result "
               "records; %d metric%s)\n", out, cv.n_prog, cv.n_eval, (long long)cv.n_ckpt,
               (long long)cv.n_result, cv.n_names, cv.n_names == 1 ? "" : "s");
    else
        fprintf(stderr, "psrec: error: %s\n", psr_err_msg());
    free(cv.prog);
    free(cv.eval);
    return rc == PSR_OK ? 0 : 1;
}
