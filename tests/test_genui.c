/* test_genui: the user-item generator (common/genui.h). Option checks name the flag and the
 * limit; same options -> same bytes (plain and gzip), another seed -> other bytes; the
 * MovieLens header and layout, row counts per user and in total, sparse distinct movieIds,
 * no (user, item) pair twice, timestamps strictly increasing per user with the test rows
 * last; the ratings optimum re-computed from the test file and the planted means, and close
 * to --noise; the implicit optimum and the pop baseline re-computed from both files by a
 * naive full sort (independent of met_topk_select); first draws that follow the Zipf law
 * (ratings) and the softmax (implicit); a full catalogue (every user at floor(items / 2)
 * rows); --noise changing only the ratings; I/O errors without temporary files left. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "genui.h"
#include "hash.h"
#include "psr_error.h"
#include "testfs.h"

static int same_file(const char *d1, const char *d2, const char *name)
{
    size_t n1 = 0, n2 = 0;
    char *a = gz_slurp(d1, name, &n1), *b = gz_slurp(d2, name, &n2);
    int same = a && b && n1 == n2 && memcmp(a, b, n1) == 0;
    free(a);
    free(b);
    return same;
}

typedef struct {
    int64_t user, movie, time;
    double rating;
    char rating_text[32];
} row_t;

/* Parse a written file: the header, then "userId,movieId,rating,timestamp" lines. Returns the
 * rows (malloc'ed), *n their count; a line that does not parse is a check failure. */
static row_t *load_rows(const char *dir, const char *name, int64_t *n)
{
    size_t len;
    char *text = gz_slurp(dir, name, &len);
    *n = 0;
    CHECK(text != NULL);
    if (!text) return NULL;
    const char *hdr = "userId,movieId,rating,timestamp\n";
    CHECK(strncmp(text, hdr, strlen(hdr)) == 0);
    int64_t cap = 1024;
    row_t *r = malloc((size_t)cap * sizeof *r);
    int bad = 0;
    for (char *line = text + strlen(hdr); *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) {
            bad++;
            break;
        }
        *nl = '\0';
        if (*n == cap) r = realloc(r, (size_t)(cap *= 2) * sizeof *r);
        row_t *x = &r[*n];
        char *end;
        x->user = strtoll(line, &end, 10);
        if (*end != ',') bad++;
        x->movie = strtoll(end + 1, &end, 10);
        if (*end != ',') bad++;
        char *rs = end + 1;
        x->rating = strtod(rs, &end);
        if (*end != ',' || end - rs >= (long)sizeof x->rating_text) bad++;
        else {
            memcpy(x->rating_text, rs, (size_t)(end - rs));
            x->rating_text[end - rs] = '\0';
        }
        x->time = strtoll(end + 1, &end, 10);
        if (*end != '\0') bad++;
        (*n)++;
        line = nl + 1;
    }
    CHECK_INT(bad, 0);
    free(text);
    return r;
}

static genui_opts_t small_opts(int kind, const char *dir)
{
    genui_opts_t o = genui_defaults();
    o.kind = kind;
    o.users = 60;
    o.items = 300;
    o.rows = 4000;
    o.test_rows = 700;
    o.dim = 4;
    o.seed = 7;
    o.out_dir = dir;
    return o;
}

/* movieId -> item index (or -1), over [0, 7 * items + 2). */
static int64_t *movie_map(const genui_model_t *m, int64_t items, int64_t *n_map)
{
    int64_t maxid = 0;
    for (int64_t i = 0; i < items; i++)
        if (genui_movie_id(m, i) > maxid) maxid = genui_movie_id(m, i);
    *n_map = maxid + 1;
    int64_t *map = malloc((size_t)(maxid + 1) * sizeof *map);
    for (int64_t j = 0; j <= maxid; j++) map[j] = -1;
    for (int64_t i = 0; i < items; i++) map[genui_movie_id(m, i)] = i;
    return map;
}

static int64_t item_of(const int64_t *map, int64_t n_map, int64_t movie)
{
    return movie >= 0 && movie < n_map ? map[movie] : -1;
}

/* item_of for rows check_layout has already validated: an unknown id stops the test. */
static int64_t known_item(const int64_t *map, int64_t n_map, int64_t movie)
{
    int64_t i = item_of(map, n_map, movie);
    if (i < 0) {
        fprintf(stderr, "test: movieId %lld maps to no item\n", (long long)movie);
        exit(2);
    }
    return i;
}

/* ---- option checks ------------------------------------------------------------------- */

static void expect_usage(genui_opts_t o, const char *needle)
{
    int rc = genui_check(&o);
    CHECK_INT(rc, PSR_ERR_USAGE);
    CHECK_CONTAINS(psr_err_msg(), needle);
}

static void test_check(void)
{
    genui_opts_t o = genui_defaults();
    CHECK_INT(genui_check(&o), PSR_OK);
    CHECK_INT(o.users, 1000);
    CHECK_INT(o.items, 2000);
    CHECK_INT(o.rows, 100000);
    CHECK_INT(o.test_rows, 10000);
    CHECK_INT(o.dim, 8);
    CHECK_NEAR(o.noise, 0.5, 0, 0);
    o.kind = GENUI_IMPLICIT;
    CHECK_INT(genui_check(&o), PSR_OK);
    CHECK_INT(genui_kind_parse("ratings"), GENUI_RATINGS);
    CHECK_INT(genui_kind_parse("implicit"), GENUI_IMPLICIT);
    CHECK_INT(genui_kind_parse("criteo"), -1);
    CHECK_INT(genui_kind_parse("Ratings"), -1);

    genui_opts_t b = genui_defaults();
    b.users = 0;
    expect_usage(b, "--users: 0 is out of range (allowed 1 .. 100000000)");
    b = genui_defaults();
    b.kind = GENUI_IMPLICIT;
    b.items = 19;
    expect_usage(b, "--items: 19 is out of range for --kind implicit (allowed 20 ..");
    b.items = 20;
    b.rows = 1000;
    b.test_rows = 0;
    CHECK_INT(genui_check(&b), PSR_OK);
    b = genui_defaults();
    b.items = 1;
    expect_usage(b, "--items: 1 is out of range for --kind ratings (allowed 2 ..");
    b = genui_defaults();
    b.dim = 0;
    expect_usage(b, "--dim: 0 is out of range (allowed 1 .. 256)");
    b.dim = 257;
    expect_usage(b, "--dim: 257 is out of range");
    b = genui_defaults();
    b.noise = -0.1;
    expect_usage(b, "--noise: -0.1 is out of range (allowed 0 .. 10)");
    b.noise = NAN;
    expect_usage(b, "--noise");
    b = genui_defaults();
    b.rows = 999;
    expect_usage(b, "--rows: 999 is less than --users 1000");
    /* feasibility: users * floor(items / 2) rows at most, the boundary accepted */
    b = genui_defaults();
    b.items = 2001; /* floor 1000 */
    b.rows = 900000;
    b.test_rows = 100000;
    CHECK_INT(genui_check(&b), PSR_OK);
    b.test_rows = 100001;
    expect_usage(b, "--rows + --test-rows = 900000 + 100001 exceeds --users * floor(--items / 2)"
                    " = 1000 * 1000 = 1000000");
    b.rows = INT64_MAX;
    b.test_rows = INT64_MAX; /* no overflow in the sum */
    expect_usage(b, "exceeds --users");
}

/* ---- layout, counts, order, uniqueness ---------------------------------------------------- */

/* The common checks on a written directory; returns the model (the caller frees). */
static genui_model_t *check_layout(const genui_opts_t *o, row_t **tr_out, int64_t *ntr_out,
                                   row_t **te_out, int64_t *nte_out)
{
    genui_model_t *m = genui_model_new(o);
    int64_t n_map;
    int64_t *map = movie_map(m, o->items, &n_map);
    const char *trn = o->gzip ? "train.csv.gz" : "train.csv";
    const char *ten = o->gzip ? "test.csv.gz" : "test.csv";
    int64_t ntr, nte;
    row_t *tr = load_rows(o->out_dir, trn, &ntr), *te = load_rows(o->out_dir, ten, &nte);
    CHECK_INT(ntr, o->rows);
    CHECK_INT(nte, o->test_rows);

    /* sparse, distinct movieIds: a map hit for every item, ids beyond the item count */
    int64_t distinct = 0;
    for (int64_t j = 0; j < n_map; j++) distinct += map[j] >= 0;
    CHECK_INT(distinct, o->items);
    CHECK(n_map - 1 > o->items);

    int64_t *cnt_tr = calloc((size_t)o->users + 1, sizeof *cnt_tr);
    int64_t *cnt_te = calloc((size_t)o->users + 1, sizeof *cnt_te);
    int64_t *last_tr = calloc((size_t)o->users + 1, sizeof *last_tr);
    uint8_t *seen = calloc((size_t)(o->users * o->items), 1);
    int bad_user = 0, bad_item = 0, dup = 0, order = 0, time_bad = 0, test_before = 0;
    int bad_rating = 0;
    for (int pass = 0; pass < 2; pass++) {
        const row_t *r = pass ? te : tr;
        int64_t n = pass ? nte : ntr;
        for (int64_t k = 0; k < n; k++) {
            if (r[k].user < 1 || r[k].user > o->users) {
                bad_user++;
                continue;
            }
            const int64_t u = r[k].user - 1, i = item_of(map, n_map, r[k].movie);
            if (i < 0) {
                bad_item++;
                continue;
            }
            if (seen[u * o->items + i]++) dup++;
            if (k > 0 && r[k].user < r[k - 1].user) order++; /* grouped by ascending user */
            if (k > 0 && r[k].user == r[k - 1].user && r[k].time <= r[k - 1].time) time_bad++;
            if (pass == 0) {
                cnt_tr[u]++;
                last_tr[u] = r[k].time;
            } else {
                cnt_te[u]++;
                if (r[k].time <= last_tr[u]) test_before++;
            }
            if (o->kind == GENUI_IMPLICIT) {
                bad_rating += strcmp(r[k].rating_text, "1") != 0;
            } else { /* 4 decimals */
                const char *dot = strchr(r[k].rating_text, '.');
                bad_rating += !dot || strlen(dot + 1) != 4;
            }
        }
    }
    CHECK_INT(bad_user, 0);
    CHECK_INT(bad_item, 0);
    CHECK_INT(dup, 0);
    CHECK_INT(order, 0);
    CHECK_INT(time_bad, 0);
    CHECK_INT(test_before, 0);
    CHECK_INT(bad_rating, 0);
    int count_bad = 0, no_train = 0, over = 0;
    for (int64_t u = 0; u < o->users; u++) {
        int64_t a, b;
        genui_user_rows(m, u, &a, &b);
        count_bad += a != cnt_tr[u] || b != cnt_te[u];
        no_train += cnt_tr[u] < 1;
        over += cnt_tr[u] + cnt_te[u] > o->items / 2;
    }
    CHECK_INT(count_bad, 0);
    CHECK_INT(no_train, 0);
    CHECK_INT(over, 0);
    free(cnt_tr);
    free(cnt_te);
    free(last_tr);
    free(seen);
    free(map);
    *tr_out = tr;
    *ntr_out = ntr;
    *te_out = te;
    *nte_out = nte;
    return m;
}

static void test_determinism(void)
{
    for (int kind = 0; kind < GENUI_KIND_COUNT; kind++) {
        const char *a = scratch(kind ? "det_i_a" : "det_r_a");
        const char *b = scratch(kind ? "det_i_b" : "det_r_b");
        const char *c = scratch(kind ? "det_i_c" : "det_r_c");
        genui_opts_t o = small_opts(kind, a);
        genui_result_t r1, r2;
        CHECK_INT(genui_write(&o, &r1), PSR_OK);
        o.out_dir = b;
        CHECK_INT(genui_write(&o, &r2), PSR_OK);
        CHECK(same_file(a, b, "train.csv"));
        CHECK(same_file(a, b, "test.csv"));
        CHECK(same_file(a, b, "optimum.txt"));
        o.seed = 8;
        o.out_dir = c;
        CHECK_INT(genui_write(&o, NULL), PSR_OK);
        CHECK(!same_file(a, c, "train.csv"));
        CHECK(!same_file(a, c, "test.csv"));
        /* gzip: the same bytes once inflated */
        o.seed = 7;
        o.gzip = 1;
        o.out_dir = b;
        CHECK_INT(genui_write(&o, NULL), PSR_OK);
        size_t n1 = 0, n2 = 0;
        char *p = gz_slurp(a, "train.csv", &n1), *z = gz_slurp(b, "train.csv.gz", &n2);
        CHECK(p && z && n1 == n2 && memcmp(p, z, n1) == 0);
        free(p);
        free(z);
        CHECK(same_file(a, b, "optimum.txt"));
        /* no temporary files left */
        char path[1200];
        snprintf(path, sizeof path, "%s/.train.csv.tmp", a);
        CHECK(access(path, F_OK) != 0);
        snprintf(path, sizeof path, "%s/.optimum.txt.tmp", a);
        CHECK(access(path, F_OK) != 0);
    }
}

/* ---- ratings --------------------------------------------------------------------------- */

static void test_ratings(void)
{
    const char *dir = scratch("ratings");
    genui_opts_t o = small_opts(GENUI_RATINGS, dir);
    genui_result_t res;
    CHECK_INT(genui_write(&o, &res), PSR_OK);
    row_t *tr, *te;
    int64_t ntr, nte;
    genui_model_t *m = check_layout(&o, &tr, &ntr, &te, &nte);
    int64_t n_map;
    int64_t *map = movie_map(m, o.items, &n_map);
    /* the optimum: RMSE of the planted means against the written test ratings */
    double se = 0.0, mean_r = 0.0, var_r = 0.0;
    for (int64_t k = 0; k < nte; k++) {
        double e = te[k].rating - genui_rating_mean(m, te[k].user - 1, known_item(map, n_map, te[k].movie));
        se += e * e;
    }
    for (int64_t k = 0; k < ntr; k++) mean_r += tr[k].rating / (double)ntr;
    for (int64_t k = 0; k < ntr; k++) var_r += (tr[k].rating - mean_r) * (tr[k].rating - mean_r);
    const double rmse = sqrt(se / (double)nte);
    CHECK_NEAR(res.rmse, rmse, 1e-12, 1e-9);
    CHECK_NEAR(res.rmse, 0.5, 0.05, 0); /* 700 test rows: standard error about 0.013 */
    CHECK(res.bias_rmse > res.rmse + 0.2);
    /* the printed line, rounded to 6 decimals */
    size_t n;
    char *txt = gz_slurp(dir, "optimum.txt", &n);
    double printed = NAN, pb = NAN;
    CHECK(txt && sscanf(txt, "optimum: rmse=%lf\nbiases: rmse=%lf\n", &printed, &pb) == 2);
    CHECK_NEAR(printed, rmse, 1e-6, 0);
    CHECK_NEAR(pb, res.bias_rmse, 1e-6, 0);
    char line[256];
    CHECK(genui_format_optimum(GENUI_RATINGS, &res, line, sizeof line) > 0);
    CHECK(txt && strcmp(txt, line) == 0);
    free(txt);
    /* like MovieLens: mean about 3.5, standard deviation about 1 */
    CHECK_NEAR(mean_r, 3.5, 0.25, 0);
    CHECK_NEAR(sqrt(var_r / (double)ntr), 1.0, 0.2, 0);
    free(tr);
    free(te);
    free(map);
    genui_model_free(m);

    /* the defaults: the optimum within 0.01 of --noise (10,000 test rows) */
    const char *d2 = scratch("ratings_default");
    genui_opts_t od = genui_defaults();
    od.out_dir = d2;
    CHECK_INT(genui_write(&od, &res), PSR_OK);
    CHECK_NEAR(res.rmse, 0.5, 0.01, 0);
    CHECK(res.bias_rmse > 0.8);

    /* --noise changes only the ratings; noise 0 leaves only the rounding to 4 decimals */
    const char *d3 = scratch("ratings_noise0");
    genui_opts_t o0 = small_opts(GENUI_RATINGS, d3);
    o0.noise = 0.0;
    CHECK_INT(genui_write(&o0, &res), PSR_OK);
    CHECK(res.rmse < 5e-5);
    int64_t n0, n1, t0, t1;
    row_t *a = load_rows(dir, "train.csv", &n0), *b = load_rows(d3, "train.csv", &n1);
    row_t *at = load_rows(dir, "test.csv", &t0), *bt = load_rows(d3, "test.csv", &t1);
    CHECK_INT(n0, n1);
    CHECK_INT(t0, t1);
    int diff_key = 0, diff_rating = 0;
    for (int64_t k = 0; k < n0 && k < n1; k++) {
        diff_key += a[k].user != b[k].user || a[k].movie != b[k].movie || a[k].time != b[k].time;
        diff_rating += a[k].rating != b[k].rating;
    }
    for (int64_t k = 0; k < t0 && k < t1; k++)
        diff_key += at[k].user != bt[k].user || at[k].movie != bt[k].movie || at[k].time != bt[k].time;
    CHECK_INT(diff_key, 0);
    CHECK(diff_rating > n0 / 2);
    free(a);
    free(b);
    free(at);
    free(bt);
}

/* With one row per user, each user's single item is one Zipf draw: item 0's share is
 * 1 / sum_i (i + 1)^-0.8. */
static void test_zipf_first_draw(void)
{
    const char *dir = scratch("zipf");
    genui_opts_t o = genui_defaults();
    o.users = 20000;
    o.items = 500;
    o.rows = 20000;
    o.test_rows = 0;
    o.out_dir = dir;
    genui_result_t res;
    CHECK_INT(genui_write(&o, &res), PSR_OK);
    CHECK(isnan(res.rmse)); /* no test rows */
    genui_model_t *m = genui_model_new(&o);
    int64_t n;
    row_t *r = load_rows(dir, "train.csv", &n);
    CHECK_INT(n, 20000);
    double h = 0.0;
    for (int i = 0; i < 500; i++) h += pow(i + 1.0, -0.8);
    int64_t c0 = 0, c1 = 0, c9 = 0;
    for (int64_t k = 0; k < n; k++) {
        c0 += r[k].movie == genui_movie_id(m, 0);
        c1 += r[k].movie == genui_movie_id(m, 1);
        c9 += r[k].movie == genui_movie_id(m, 9);
    }
    const double p[3] = {1.0 / h, pow(2.0, -0.8) / h, pow(10.0, -0.8) / h};
    const int64_t c[3] = {c0, c1, c9};
    for (int j = 0; j < 3; j++) {
        double e = 20000 * p[j], sd = sqrt(20000 * p[j] * (1 - p[j]));
        CHECK_NEAR((double)c[j], e, 4 * sd, 0);
    }
    free(r);
    genui_model_free(m);
}

/* ---- implicit -------------------------------------------------------------------------- */

typedef struct {
    float score;
    int64_t item;
} scored_t;

static int cmp_scored(const void *a, const void *b)
{
    const scored_t *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* psrec's catalogue key of an item: its movieId text in field 1 (movielens.yaml's item
 * column), what ties between equal counts fall back on in psrec's pop model */
static uint64_t item_key(const genui_model_t *m, int64_t i)
{
    char tok[24];
    int n = snprintf(tok, sizeof tok, "%lld", (long long)genui_movie_id(m, i));
    return psr_feature_key(1, tok, (size_t)n);
}

static const int64_t *g_count;
static const genui_model_t *g_model;
static int cmp_pop_items(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    if (g_count[x] != g_count[y]) return g_count[x] > g_count[y] ? -1 : 1;
    uint64_t kx = item_key(g_model, x), ky = item_key(g_model, y);
    return (kx > ky) - (kx < ky);
}

/* HR and NDCG of one list against rel (topk.h rules 1, 2), written out independently. */
static void score_list(const int64_t *top, int n_top, const uint8_t *is_rel, int n_rel,
                       double *hr, double *ndcg)
{
    double dcg = 0.0, idcg = 0.0;
    int hits = 0;
    for (int j = 0; j < n_top; j++)
        if (is_rel[top[j]]) {
            hits++;
            dcg += 1.0 / log2(j + 2.0);
        }
    for (int j = 0; j < n_rel && j < GENUI_K; j++) idcg += 1.0 / log2(j + 2.0);
    *hr += hits > 0;
    *ndcg += dcg / idcg;
}

/* Re-compute the implicit optimum and pop from the files by a naive full sort. */
static void recompute_implicit(const genui_opts_t *o, double out[4], int64_t *users_out)
{
    genui_model_t *m = genui_model_new(o);
    int64_t n_map, ntr, nte;
    int64_t *map = movie_map(m, o->items, &n_map);
    row_t *tr = load_rows(o->out_dir, "train.csv", &ntr), *te = load_rows(o->out_dir, "test.csv", &nte);
    const int64_t I = o->items;
    int64_t *count = calloc((size_t)I, sizeof *count);
    for (int64_t k = 0; k < ntr; k++) count[known_item(map, n_map, tr[k].movie)]++;
    int64_t *pop = malloc((size_t)I * sizeof *pop), n_cat = 0;
    for (int64_t i = 0; i < I; i++)
        if (count[i] > 0) pop[n_cat++] = i;
    g_count = count;
    g_model = m;
    qsort(pop, (size_t)n_cat, sizeof *pop, cmp_pop_items);
    uint8_t *seen = calloc((size_t)I, 1), *is_rel = calloc((size_t)I, 1);
    scored_t *cand = malloc((size_t)I * sizeof *cand);
    double hr = 0, ndcg = 0, phr = 0, pndcg = 0;
    int64_t users = 0, a = 0, b = 0;
    for (int64_t u = 1; u <= o->users; u++) {
        int64_t a0 = a, b0 = b;
        while (a < ntr && tr[a].user == u) seen[known_item(map, n_map, tr[a++].movie)] = 1;
        int n_rel = 0;
        while (b < nte && te[b].user == u) {
            int64_t i = known_item(map, n_map, te[b++].movie);
            if (count[i] > 0 && !is_rel[i]) {
                is_rel[i] = 1;
                n_rel++;
            }
        }
        if (n_rel > 0) {
            users++;
            int64_t nc = 0;
            for (int64_t i = 0; i < I; i++)
                if (count[i] > 0 && !seen[i])
                    cand[nc++] = (scored_t){(float)genui_affinity(m, u - 1, i), i};
            qsort(cand, (size_t)nc, sizeof *cand, cmp_scored);
            int64_t top[GENUI_K];
            int n_top = 0;
            for (; n_top < GENUI_K && n_top < nc; n_top++) top[n_top] = cand[n_top].item;
            score_list(top, n_top, is_rel, n_rel, &hr, &ndcg);
            n_top = 0;
            for (int64_t j = 0; j < n_cat && n_top < GENUI_K; j++)
                if (!seen[pop[j]]) top[n_top++] = pop[j];
            score_list(top, n_top, is_rel, n_rel, &phr, &pndcg);
        }
        for (int64_t k = a0; k < a; k++) seen[known_item(map, n_map, tr[k].movie)] = 0;
        for (int64_t k = b0; k < b; k++) is_rel[known_item(map, n_map, te[k].movie)] = 0;
    }
    out[0] = hr / (double)users;
    out[1] = ndcg / (double)users;
    out[2] = phr / (double)users;
    out[3] = pndcg / (double)users;
    *users_out = users;
    free(cand);
    free(seen);
    free(is_rel);
    free(pop);
    free(count);
    free(tr);
    free(te);
    free(map);
    genui_model_free(m);
}

static void test_implicit(void)
{
    const char *dir = scratch("implicit");
    genui_opts_t o = small_opts(GENUI_IMPLICIT, dir);
    genui_result_t res;
    CHECK_INT(genui_write(&o, &res), PSR_OK);
    row_t *tr, *te;
    int64_t ntr, nte;
    genui_model_t *m = check_layout(&o, &tr, &ntr, &te, &nte);
    double want[4];
    int64_t users;
    recompute_implicit(&o, want, &users);
    CHECK_INT(res.test_users, users);
    CHECK_NEAR(res.hr, want[0], 1e-12, 0);
    CHECK_NEAR(res.ndcg, want[1], 1e-12, 0);
    CHECK_NEAR(res.pop_hr, want[2], 1e-12, 0);
    CHECK_NEAR(res.pop_ndcg, want[3], 1e-12, 0);
    CHECK(res.pop_hr < res.hr);
    CHECK(res.pop_ndcg < res.ndcg);
    size_t n;
    char *txt = gz_slurp(dir, "optimum.txt", &n);
    double h, g, ph, pg;
    CHECK(txt && sscanf(txt, "optimum: hr@10=%lf ndcg@10=%lf protocol=full\npop: hr@10=%lf "
                             "ndcg@10=%lf protocol=full\n",
                        &h, &g, &ph, &pg) == 4);
    CHECK_NEAR(h, want[0], 1e-6, 0);
    CHECK_NEAR(g, want[1], 1e-6, 0);
    CHECK_NEAR(ph, want[2], 1e-6, 0);
    CHECK_NEAR(pg, want[3], 1e-6, 0);
    free(txt);
    free(tr);
    free(te);
    genui_model_free(m);

    /* the defaults: the planted ranking well above popularity */
    const char *d2 = scratch("implicit_default");
    genui_opts_t od = genui_defaults();
    od.kind = GENUI_IMPLICIT;
    od.out_dir = d2;
    CHECK_INT(genui_write(&od, &res), PSR_OK);
    CHECK(res.hr > 0.75);
    CHECK(res.pop_hr < 0.5);
    CHECK(res.hr > res.pop_hr + 0.3);
    CHECK_INT(res.catalogue, 2000);
    CHECK(res.test_users > 950);
}

/* With one row per user, each user's item is one softmax draw: the number of users whose item
 * is their most likely one has mean sum_u max_i P_u(i). */
static void test_softmax_first_draw(void)
{
    const char *dir = scratch("softmax");
    genui_opts_t o = genui_defaults();
    o.kind = GENUI_IMPLICIT;
    o.users = 4000;
    o.items = 100;
    o.rows = 4000;
    o.test_rows = 0;
    o.out_dir = dir;
    genui_result_t res;
    CHECK_INT(genui_write(&o, &res), PSR_OK);
    CHECK(isnan(res.hr));
    CHECK_INT(res.test_users, 0);
    genui_model_t *m = genui_model_new(&o);
    int64_t n;
    row_t *r = load_rows(dir, "train.csv", &n);
    CHECK_INT(n, 4000);
    double mean = 0.0, var = 0.0, mean_lp = 0.0;
    int64_t hits = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t u = r[k].user - 1, best = 0;
        double mx = -INFINITY, z = 0.0;
        for (int64_t i = 0; i < o.items; i++) {
            double a = genui_affinity(m, u, i);
            if (a > mx) {
                mx = a;
                best = i;
            }
        }
        for (int64_t i = 0; i < o.items; i++) z += exp(genui_affinity(m, u, i) - mx);
        double p = 1.0 / z;
        mean += p;
        var += p * (1 - p);
        hits += r[k].movie == genui_movie_id(m, best);
        for (int64_t i = 0; i < o.items; i++)
            if (genui_movie_id(m, i) == r[k].movie) mean_lp += genui_affinity(m, u, i) - mx - log(z);
    }
    CHECK_NEAR((double)hits, mean, 4 * sqrt(var), 0);
    /* and the drawn items are far likelier than uniform ones: mean log-probability */
    CHECK(mean_lp / (double)n > -log((double)o.items) + 1.0);
    free(r);
    genui_model_free(m);
}

/* Every user at floor(items / 2) rows: the rebuilds of the successive sampling, still no
 * duplicate and the right counts. */
static void test_full_capacity(void)
{
    for (int kind = 0; kind < GENUI_KIND_COUNT; kind++) {
        const char *dir = scratch(kind ? "full_i" : "full_r");
        genui_opts_t o = genui_defaults();
        o.kind = kind;
        o.users = 12;
        o.items = 41; /* floor 20 */
        o.rows = 190;
        o.test_rows = 50;
        o.dim = 3;
        o.out_dir = dir;
        CHECK_INT(genui_write(&o, NULL), PSR_OK);
        row_t *tr, *te;
        int64_t ntr, nte;
        genui_model_t *m = check_layout(&o, &tr, &ntr, &te, &nte);
        for (int64_t u = 0; u < o.users; u++) {
            int64_t a, b;
            genui_user_rows(m, u, &a, &b);
            CHECK_INT(a + b, 20);
        }
        free(tr);
        free(te);
        genui_model_free(m);
    }
}

/* Activity is heavy-tailed and the test rows follow it. */
static void test_allocation(void)
{
    genui_opts_t o = genui_defaults();
    genui_model_t *m = genui_model_new(&o);
    int64_t sum_tr = 0, sum_te = 0, mx = 0, ratio_bad = 0;
    for (int64_t u = 0; u < o.users; u++) {
        int64_t a, b;
        genui_user_rows(m, u, &a, &b);
        sum_tr += a;
        sum_te += b;
        if (a + b > mx) mx = a + b;
        /* t_u within one of its share M * n_u / (N + M) (no user is capped here) */
        double share = (double)o.test_rows * (double)(a + b) / (double)(o.rows + o.test_rows);
        ratio_bad += fabs((double)b - share) > 1.0;
    }
    CHECK_INT(sum_tr, o.rows);
    CHECK_INT(sum_te, o.test_rows);
    CHECK(mx > 4 * (o.rows + o.test_rows) / o.users);
    CHECK(mx <= o.items / 2);
    CHECK_INT(ratio_bad, 0);
    genui_model_free(m);
}

/* The documented scales (genui.c rules 1, 2, 6): over all (user, item) pairs the planted
 * mean rating has mean 3.5 and variance 0.3^2 + 0.4^2 + 0.7^2 = 0.74, and the affinity minus
 * log popularity is 2.5 p.q with p.q of variance 1. */
static void test_scales(void)
{
    genui_opts_t o = genui_defaults();
    o.users = 400;
    o.items = 600;
    o.rows = 400;
    o.test_rows = 0;
    genui_model_t *m = genui_model_new(&o);
    double s1 = 0, s2 = 0, a1 = 0, a2 = 0;
    const double n = (double)o.users * (double)o.items;
    for (int64_t u = 0; u < o.users; u++)
        for (int64_t i = 0; i < o.items; i++) {
            double r = genui_rating_mean(m, u, i);
            double pq = (genui_affinity(m, u, i) + 0.8 * log((double)i + 1.0)) / 2.5;
            s1 += r;
            s2 += r * r;
            a1 += pq;
            a2 += pq * pq;
        }
    const double mean = s1 / n, var = s2 / n - mean * mean, pq_var = a2 / n - (a1 / n) * (a1 / n);
    CHECK_NEAR(mean, 3.5, 0.06, 0);
    CHECK_NEAR(var, 0.74, 0.07, 0);
    CHECK_NEAR(pq_var, 1.0, 0.1, 0);
    genui_model_free(m);
}

/* CRC32 of a file's bytes (0 if it cannot be read). */
static unsigned long file_crc(const char *dir, const char *name)
{
    size_t n;
    char *b = gz_slurp(dir, name, &n);
    if (!b) return 0;
    unsigned long c = crc32(0L, (const Bytef *)b, (uInt)n);
    free(b);
    return c;
}

/* The bytes of small runs, pinned: any change of the model, the streams or the format shows
 * here (a libm whose exp or log rounds differently would too). */
static void test_pinned(void)
{
    const char *d = scratch("pinned_r");
    genui_opts_t o = small_opts(GENUI_RATINGS, d);
    CHECK_INT(genui_write(&o, NULL), PSR_OK);
    CHECK_INT(file_crc(d, "train.csv"), 0x21923068UL);
    CHECK_INT(file_crc(d, "test.csv"), 0x7457d6ddUL);
    CHECK_INT(file_crc(d, "optimum.txt"), 0x91f00fd8UL);
    d = scratch("pinned_i");
    o = small_opts(GENUI_IMPLICIT, d);
    CHECK_INT(genui_write(&o, NULL), PSR_OK);
    CHECK_INT(file_crc(d, "train.csv"), 0xb421187fUL);
    CHECK_INT(file_crc(d, "test.csv"), 0x374cb843UL);
    CHECK_INT(file_crc(d, "optimum.txt"), 0xef1620efUL);
}

/* ---- errors --------------------------------------------------------------------------- */

static void test_io_errors(void)
{
    /* the output directory is a file */
    const char *f = scratch("a_file");
    write_file(f, "x", 1);
    genui_opts_t o = small_opts(GENUI_RATINGS, f);
    CHECK_INT(genui_write(&o, NULL), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "a_file");
    /* train.csv cannot be renamed into place (a directory holds its name): error, the
     * temporary removed, and the stale optimum.txt gone */
    const char *d = scratch("blocked");
    char path[1200];
    snprintf(path, sizeof path, "%s/train.csv", d);
    mkdir_p(path);
    snprintf(path, sizeof path, "%s/train.csv/x", d);
    write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/optimum.txt", d);
    write_file(path, "optimum: rmse=0.1\n", 18);
    o.out_dir = d;
    CHECK_INT(genui_write(&o, NULL), PSR_ERR_IO);
    CHECK_CONTAINS(psr_err_msg(), "train.csv");
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/.train.csv.tmp", d);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/.test.csv.tmp", d);
    CHECK(access(path, F_OK) != 0);
    /* bad options are usage errors before anything is written */
    const char *d2 = scratch("never");
    o = small_opts(GENUI_IMPLICIT, d2);
    o.items = 10;
    CHECK_INT(genui_write(&o, NULL), PSR_ERR_USAGE);
    CHECK(access(d2, F_OK) != 0);
}

int main(void)
{
    const char *env = getenv("PSREC_TEST_TMP");
    snprintf(tmp_root, sizeof tmp_root, "%s/test_genui.%ld", env && *env ? env : "/tmp",
             (long)getpid());
    rm_rf(tmp_root);
    mkdir_p(tmp_root);
    test_check();
    test_determinism();
    test_ratings();
    test_zipf_first_draw();
    test_implicit();
    test_softmax_first_draw();
    test_full_capacity();
    test_allocation();
    test_scales();
    test_pinned();
    test_io_errors();
    if (!check_failures) rm_rf(tmp_root);
    CHECK_DONE();
}
