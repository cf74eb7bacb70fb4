/* genui: synthetic user-item logs (ratings or implicit interactions) drawn from a planted
 * latent-factor model, so that tests and benchmarks know the best any model can do.
 *
 * Output (docs/DATA.md, "Synthetic user-item data"): DIR/train.csv and DIR/test.csv in the
 * MovieLens latest-small layout, header "userId,movieId,rating,timestamp", and
 * DIR/optimum.txt. The exact model, its constants and its random streams are the numbered
 * rules at the top of genui.c. Invariants:
 *  1. The output is a pure function of the options (kind, users, items, rows, test rows, dim,
 *     noise, seed, gzip): same options, same bytes.
 *  2. userId is 1..users; movieId is a seeded sparse map of the item index (never dense, never
 *     in popularity order). Rows are grouped by user (ascending userId), each user's rows in
 *     strictly increasing timestamp order; a user's test rows are its latest ones, so that
 *     the files split and a leave-last-out split by time both see the future held out.
 *  3. No (user, item) pair occurs twice in train + test, for either kind.
 *  4. Every user has at least one training row; test rows are spread over users in
 *     proportion to their activity.
 * Memory is O((users + items) * (dim + 2) + items * (dim + 5)) values plus two 2 MiB write
 * buffers per file: nothing grows with the rows (the implicit optimum re-draws each user's
 * rows instead of keeping them). Time is linear in the rows for ratings; implicit computes
 * every user's softmax over all items twice (to draw, then to rank): users * items * dim. */
#ifndef PSR_GENUI_H
#define PSR_GENUI_H

#include <stddef.h>
#include <stdint.h>

#define GENUI_K 10 /* the cut-off of the implicit optimum: hr@10, ndcg@10 */

/* Defaults of `psrec gen --kind ratings|implicit` (cmd_gen.c); docs/DATA.md. */
#define GENUI_DEFAULT_USERS 1000
#define GENUI_DEFAULT_ITEMS 2000
#define GENUI_DEFAULT_ROWS 100000
#define GENUI_DEFAULT_TEST_ROWS 10000
#define GENUI_DEFAULT_DIM 8
#define GENUI_DEFAULT_NOISE 0.5

/* Limits checked by genui_check. */
#define GENUI_MAX_USERS 100000000
#define GENUI_MAX_ITEMS 100000000
#define GENUI_MIN_ITEMS_RATINGS 2
#define GENUI_MIN_ITEMS_IMPLICIT (2 * GENUI_K)
#define GENUI_MAX_DIM 256
#define GENUI_MAX_NOISE 10.0

enum genui_kind { GENUI_RATINGS, GENUI_IMPLICIT, GENUI_KIND_COUNT };

/* Name of a kind ("ratings", "implicit"), as --kind spells it; "?" when out of range. */
const char *genui_kind_name(int kind);
/* The kind called `name`, or -1 (case matters; "criteo" is not a genui kind). */
int genui_kind_parse(const char *name);

typedef struct {
    int kind;            /* enum genui_kind */
    int64_t users;       /* [1, GENUI_MAX_USERS] */
    int64_t items;       /* [GENUI_MIN_ITEMS_*, GENUI_MAX_ITEMS] */
    int64_t rows;        /* training rows, >= users */
    int64_t test_rows;   /* rows + test_rows <= users * floor(items / 2) */
    int dim;             /* planted factor dimension, [1, GENUI_MAX_DIM] */
    double noise;        /* ratings: standard deviation of the rating noise, [0, 10] */
    uint64_t seed;
    int gzip;            /* write train.csv.gz / test.csv.gz instead of .csv */
    const char *out_dir; /* created if missing */
} genui_opts_t;

/* Options with every default filled in (kind ratings, no out_dir). */
genui_opts_t genui_defaults(void);

/* Validate o (ranges and the feasibility of the row counts). PSR_OK, or PSR_ERR_USAGE with a
 * message naming the flag (--users, --items, --rows, ...), the value and what is allowed. */
int genui_check(const genui_opts_t *o);

typedef struct {
    /* ratings */
    double rmse;        /* optimum: RMSE of the planted mean rating on the test rows */
    double bias_rmse;   /* the planted model without its factor term (mu + b_u + b_i) */
    /* implicit, full ranking of the training catalogue, training items skipped */
    double hr, ndcg;         /* optimum: the planted affinity's ranking, @GENUI_K */
    double pop_hr, pop_ndcg; /* training popularity's ranking, @GENUI_K */
    int64_t test_users;      /* users with a held-out item in the catalogue (lists ranked) */
    int64_t unknown;         /* held-out interactions whose item never occurs in training */
    int64_t catalogue;       /* distinct items of the training rows */
} genui_result_t;

/* Write out_dir/train.csv, out_dir/test.csv (or .csv.gz) and out_dir/optimum.txt (the text
 * of genui_format_optimum). Every file goes through a temporary name and a rename; a stale
 * optimum.txt is removed first and written last. Returns PSR_OK (and *res), PSR_ERR_USAGE
 * for options genui_check rejects, or PSR_ERR_IO naming the file. */
int genui_write(const genui_opts_t *o, genui_result_t *res);

/* The optimum.txt text for `kind` into buf (two '\n'-terminated lines):
 *   ratings:  "optimum: rmse=R\nbiases: rmse=B\n"
 *   implicit: "optimum: hr@10=H ndcg@10=N protocol=full\npop: hr@10=H ndcg@10=N protocol=full\n"
 * Values with 6 decimals ("nan" without test rows). Returns the length, 0 if cap is short. */
size_t genui_format_optimum(int kind, const genui_result_t *r, char *buf, size_t cap);

/* ---- The planted model, for tests that re-derive the optimum from the files ----------- */
typedef struct genui_model genui_model_t;

/* Build the model of validated options o (genui_check == PSR_OK; not checked again). Aborts
 * naming the size when memory runs out. Free with genui_model_free (accepts NULL). */
genui_model_t *genui_model_new(const genui_opts_t *o);
void genui_model_free(genui_model_t *m);

/* movieId of item index i in [0, items); item 0 is the most popular. */
int64_t genui_movie_id(const genui_model_t *m, int64_t item);
/* The planted mean rating of user index u (userId - 1) for item index i: what the optimum
 * predicts. */
double genui_rating_mean(const genui_model_t *m, int64_t u, int64_t item);
/* The planted implicit affinity (a logit: interactions are drawn from its softmax) of user
 * index u for item index i: the optimum ranks by it. */
double genui_affinity(const genui_model_t *m, int64_t u, int64_t item);
/* Rows of user index u in the training and the test file. */
void genui_user_rows(const genui_model_t *m, int64_t u, int64_t *n_train, int64_t *n_test);

#endif
