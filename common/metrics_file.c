/* metrics_file: see metrics_file.h. JSON through jansson: it refuses NaN and infinities rather
 * than writing the invalid `NaN` some libraries emit, escapes strings by RFC 8259, and keeps
 * an object's keys in insertion order, so a line reads like the printed one. */
#include "metrics_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "psr_error.h"

/* 15 significant digits: every printed value (at most 10) and Unix time to 10 us read back
 * exactly, without the 17-digit noise of 0.80457999999999996. */
#define MF_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static int mf_fd = -1;
static int mf_rank;
static char mf_path[4096];

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void text_add(mf_rec_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(mf_rec_t *r, const char *fmt, ...)
{
    if (r->len >= sizeof r->text - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text + r->len, sizeof r->text - r->len, fmt, ap);
    va_end(ap);
    if (n > 0) r->len += (size_t)n;
    if (r->len >= sizeof r->text) r->len = sizeof r->text - 1; /* truncated */
}

static void sep(mf_rec_t *r)
{
    if (r->len > 0) text_add(r, " ");
}

static void set(mf_rec_t *r, const char *key, json_t *v)
{
    if (!r->obj) {
        json_decref(v);
        return;
    }
    json_object_set_new((json_t *)r->obj, key, v ? v : json_null());
}

void mf_begin(mf_rec_t *r, const char *event, int64_t step)
{
    r->len = 0;
    r->text[0] = '\0';
    r->obj = NULL;
    if (mf_fd < 0) return; /* no file: the text only */
    json_t *o = json_object();
    r->obj = o;
    if (!o) return;
    json_object_set_new(o, "event", json_string(event));
    json_object_set_new(o, "time", json_real(unix_now()));
    json_object_set_new(o, "rank", json_integer(mf_rank));
    json_object_set_new(o, "step", json_integer(step));
}

void mf_int(mf_rec_t *r, const char *key, int64_t v)
{
    sep(r);
    text_add(r, "%s=%lld", key, (long long)v);
    set(r, key, json_integer(v));
}

void mf_num(mf_rec_t *r, const char *key, const char *fmt, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    sep(r);
    text_add(r, "%s=%s", key, buf);
    if (!r->obj) return;
    double printed = strtod(buf, NULL); /* the value as printed, unit suffix dropped */
    set(r, key, isfinite(v) && isfinite(printed) ? json_real(printed) : json_null());
}

void mf_str(mf_rec_t *r, const char *key, const char *v)
{
    sep(r);
    text_add(r, "%s=%s", key, v);
    set(r, key, json_string(v)); /* NULL (not UTF-8) becomes null */
}

void mf_hex(mf_rec_t *r, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
    mf_str(r, key, buf);
}

void mf_json_int(mf_rec_t *r, const char *key, int64_t v) { set(r, key, json_integer(v)); }

const char *mf_text(const mf_rec_t *r) { return r->text; }

char *mf_json(const mf_rec_t *r)
{
    return r->obj ? json_dumps((const json_t *)r->obj, MF_JSON_FLAGS) : NULL;
}

static void fail_file(const char *why)
{
    psr_warn("metrics file '%s': %s; no more lines are written to it (training goes on)",
             mf_path, why);
    close(mf_fd);
    mf_fd = -1;
}

void mf_emit(mf_rec_t *r)
{
    if (mf_fd >= 0 && r->obj) {
        char *s = mf_json(r);
        if (!s) {
            fail_file("a record could not be encoded as JSON");
        } else {
            size_t n = strlen(s);
            s[n] = '\n'; /* json_dumps' terminator becomes the line end: one write per line */
            size_t off = 0;
            while (off < n + 1) {
                ssize_t w = write(mf_fd, s + off, n + 1 - off);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                    char why[256];
                    snprintf(why, sizeof why, "write failed: %s", w < 0 ? strerror(errno) : "no progress");
                    fail_file(why);
                    break;
                }
                off += (size_t)w;
            }
            free(s);
        }
    }
    mf_drop(r);
}

void mf_drop(mf_rec_t *r)
{
    json_decref((json_t *)r->obj);
    r->obj = NULL;
}

int mf_open(const char *path, int rank)
{
    mf_close();
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    PSR_RETURN_IF(fd < 0, PSR_ERR_IO, "cannot open metrics file '%s' for appending: %s", path,
                  strerror(errno));
    mf_fd = fd;
    mf_rank = rank;
    snprintf(mf_path, sizeof mf_path, "%s", path);
    return PSR_OK;
}

int mf_is_open(void) { return mf_fd >= 0; }

void mf_close(void)
{
    if (mf_fd >= 0) close(mf_fd);
    mf_fd = -1;
}

double mf_progress_fraction(int64_t total_examples, int64_t examples, int64_t max_steps,
                            int64_t step_sum, int n_workers)
{
    double f = -1.0;
    if (total_examples > 0) f = (double)examples / (double)total_examples;
    if (max_steps > 0 && n_workers > 0) {
        double g = (double)step_sum / ((double)n_workers * (double)max_steps);
        if (g > f) f = g;
    }
    if (f > 1.0) f = 1.0;
    return f;
}

int64_t mf_total_examples(int64_t epochs, int64_t epoch, int64_t at_end, int run_at_epoch_start,
                          int64_t epoch0, int64_t examples0)
{
    if (epochs <= 0 || epoch < 0 || at_end <= 0) return 0;
    if (run_at_epoch_start && epoch == epoch0) {
        const int64_t per = at_end - examples0; /* one whole epoch, seen by this run */
        return per > 0 ? examples0 + (epochs - epoch0) * per : 0;
    }
    return epochs * (at_end / (epoch + 1));
}

double mf_eta(double f, double f0, double elapsed)
{
    if (f < 0 || f0 < 0 || f <= f0 || elapsed <= 0) return -1.0;
    return elapsed * (1.0 - f) / (f - f0);
}
