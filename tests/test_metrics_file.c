/* test_metrics_file: the report lines as text and as JSON lines (exact bytes), appending,
 * non-finite values, and the progress fraction and ETA against hand-computed values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "metrics_file.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The record's JSON with the "time" value (which changes) replaced by T. */
static void json_no_time(const mf_rec_t *r, char *out, size_t cap)
{
    char *j = mf_json(r);
    const char *t = j ? strstr(j, "\"time\":") : NULL;
    if (!t) {
        snprintf(out, cap, "%s", j ? j : "(null)");
    } else {
        const char *e = strchr(t, ',');
        snprintf(out, cap, "%.*s\"time\":T%s", (int)(t - j), j, e ? e : "");
    }
    free(j);
}

int main(void)
{
    /* without a file: the text only */
    mf_rec_t r;
    mf_begin(&r, "progress", 7);
    mf_int(&r, "step", 7);
    mf_num(&r, "loss", "%.5f", 0.123456789);
    mf_num(&r, "elapsed", "%.1fs", 3.04);
    CHECK(strcmp(mf_text(&r), "step=7 loss=0.12346 elapsed=3.0s") == 0);
    CHECK(mf_json(&r) == NULL);
    mf_emit(&r);

    const char *base = getenv("PSREC_TEST_TMP");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s", base && *base ? base : "/tmp");
    snprintf(path, sizeof path, "%s/test_metrics_file.%d.jsonl", dir, (int)getpid());
    if (base && *base) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        if (system(cmd) != 0) return 1;
    }
    unlink(path);
    CHECK_INT(mf_open(path, 3), 0);
    CHECK(mf_is_open());

    mf_begin(&r, "eval", 200);
    mf_int(&r, "step", 200);
    mf_num(&r, "auc", "%.6f", 0.8045801);
    mf_num(&r, "logloss", "%.6f", NAN);
    mf_num(&r, "eta", "%.0fs", 12.6);
    mf_str(&r, "split", "random \"q\"");
    mf_hex(&r, "digest", 0x00ab12ULL);
    mf_json_int(&r, "trained", 204800);
    CHECK(strcmp(mf_text(&r), "step=200 auc=0.804580 logloss=nan eta=13s split=random \"q\" "
                              "digest=000000000000ab12") == 0);
    char js[1024];
    json_no_time(&r, js, sizeof js);
    CHECK_CONTAINS(js, "{\"event\":\"eval\",\"time\":T,\"rank\":3,\"step\":200,\"auc\":0.80458,"
                       "\"logloss\":null,\"eta\":13.0,\"split\":\"random \\\"q\\\"\","
                       "\"digest\":\"000000000000ab12\",\"trained\":204800}");
    if (!strstr(js, "\"auc\":0.80458,")) fprintf(stderr, "json: %s\n", js);
    mf_emit(&r);

    mf_begin(&r, "result", 400);
    mf_int(&r, "bad_rows", 3);
    mf_emit(&r);
    mf_close();
    CHECK(!mf_is_open());

    /* two lines, each ending in a newline, in order; reopening appends */
    CHECK_INT(mf_open(path, 0), 0);
    mf_begin(&r, "checkpoint", 500);
    mf_int(&r, "step", 500);
    mf_emit(&r);
    mf_close();
    const char *all = slurp(path);
    CHECK(all != NULL);
    int lines = 0;
    for (const char *p = all; p && *p; p++) lines += *p == '\n';
    CHECK_INT(lines, 3);
    CHECK(all && strncmp(all, "{\"event\":\"eval\",\"time\":", 23) == 0);
    CHECK_CONTAINS(all, ",\"rank\":3,\"step\":400,\"bad_rows\":3}\n{\"event\":\"checkpoint\"");
    CHECK_CONTAINS(all, ",\"rank\":0,\"step\":500}\n");
    /* the time is Unix seconds with a fraction: after 2020, before 2100 */
    const char *t = all ? strstr(all, "\"time\":") : NULL;
    double tv = t ? strtod(t + 7, NULL) : 0;
    CHECK(tv > 1.5e9 && tv < 4.2e9);
    unlink(path);

    /* a path that cannot be opened */
    CHECK_INT(mf_open("/nonexistent-dir/x.jsonl", 0), 3 /* PSR_ERR_IO */);

    /* the fraction done: by examples once the total is known, by steps with max_steps */
    CHECK_NEAR(mf_progress_fraction(0, 5000, 0, 0, 1), -1.0, 0, 0);
    CHECK_NEAR(mf_progress_fraction(400000, 271168, 0, 0, 2), 0.67792, 1e-12, 0);
    CHECK_NEAR(mf_progress_fraction(0, 0, 300, 296 + 290, 2), 586.0 / 600.0, 1e-12, 0);
    CHECK_NEAR(mf_progress_fraction(400000, 100000, 300, 300, 2), 0.5, 1e-12, 0); /* larger */
    CHECK_NEAR(mf_progress_fraction(400000, 500000, 0, 0, 2), 1.0, 0, 0);       /* capped */
    /* the total: a run from the start sees epoch 0 end at 200000 examples -> 3 x 200000 */
    CHECK_INT(mf_total_examples(3, 0, 200000, 1, 0, 0), 600000);
    /* a same-count resume in epoch 1 (mid-epoch, 306496 behind): epoch 1 ends at 400000 */
    CHECK_INT(mf_total_examples(3, 1, 400000, 0, 1, 306496), 600000);
    /* a resume on another count restarts epoch 1 after 306496 examples: it ends at 506496 */
    CHECK_INT(mf_total_examples(3, 1, 506496, 1, 1, 306496), 706496);
    CHECK_INT(mf_total_examples(3, 1, 0, 1, 1, 0), 0);
    /* ETA: from 20% to 60% in 10 s leaves 40% at 4% per s */
    CHECK_NEAR(mf_eta(0.6, 0.2, 10.0), 10.0, 1e-12, 0);
    CHECK_NEAR(mf_eta(-1, 0, 10.0), -1.0, 0, 0);
    CHECK_NEAR(mf_eta(0.2, 0.2, 10.0), -1.0, 0, 0);
    CHECK_DONE();
}
