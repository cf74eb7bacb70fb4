/* config: the job configuration schema, its YAML loader (libyaml document API), --set
 * overrides, cross-key validation, printing and the broadcast image.
 *
 * Every key is one row of cfg_keys[]; loading, --set, validation and printing all walk that
 * table, and docs/CONFIG.md documents it row by row. Invariants:
 *  1. A load or --set that fails leaves the caller's cfg_t untouched: work happens on a copy
 *     that replaces the caller's only on success.
 *  2. Values are never clamped or coerced. Integers are decimal `[-+]?[0-9]+` (no 0x, octal,
 *     exponent, fraction or '_'); numbers are finite decimal floats (no nan/inf/hex); enum
 *     names match exactly; a path list is a sequence of strings or one string; an integer
 *     list is a sequence of integers or one integer; a single path is one string, where an
 *     empty value or "" means "none".
 *  3. A message is one line, "<where>: <what>", where <where> is "file:LINE" (1-based, from
 *     libyaml marks) or "--set key=value". Echoed user text is truncated and its control
 *     characters replaced, so a message never spans lines.
 *  4. cfg_print's output, read back by cfg_load_string, yields the same struct (doubles are
 *     printed with the fewest digits, at most 17, that parse back to the same bits).
 *  5. Path entries are zero-filled past their NUL and integer lists past their n, so equal
 *     configs have equal bytes.
 *  6. Input is bounded before libyaml builds a document: a config file or text is at most
 *     CFG_FILE_MAX bytes (checked with fstat before reading), and mappings and sequences
 *     nest at most CFG_MAX_DEPTH levels (checked on the event stream first, because
 *     yaml_parser_load takes time quadratic in the depth: 7 s for 50,000 levels). */
#include "config.h"

#include "idle.h"
#include "optim.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "hash.h"
#include "psr_error.h"

/* ---- schema ---------------------------------------------------------------------------- */

typedef enum {
    CT_INT,    /* int field, bounds in .i */
    CT_INT64,  /* int64_t field, bounds in .i */
    CT_UINT64, /* uint64_t field, bounds in .u */
    CT_DOUBLE, /* double field, bounds in .d, each bound open or closed */
    CT_ENUM,   /* int field holding an index into names[] */
    CT_PATHS,  /* cfg_paths_t field */
    CT_INTS,   /* cfg_ints_t field: item bounds in .i, length bounds in min_len/max_len */
    CT_PATH,   /* char[CFG_PATH_MAX] field: one path, "" = none (the default) */
    CT_ENUMS,  /* cfg_enums_t field: a list of names[] (an item "name*K" repeats it K times) */
    CT_COUNT
} cfg_type_t;

typedef union {
    int64_t i;
    uint64_t u;
    double d;
} cfg_num_t;

typedef struct {
    const char *name;                   /* "section.key" */
    cfg_type_t type;
    cfg_num_t min, max;                 /* allowed range (enums: index range) */
    cfg_num_t def;                      /* default (enums: index; paths: empty list; path: "") */
    unsigned char open_min, open_max;   /* doubles: bound excluded from the range */
    const char *const *names;           /* enums: value names, n_names of them */
    int n_names;
    int min_len, max_len;               /* integer lists: allowed number of items */
    const int *def_ints;                /* integer lists: default items, n_def_ints of them */
    const char *def_str;                /* single paths: default (NULL: "") */
    int n_def_ints;
    size_t offset;                      /* of the field in cfg_t */
} cfg_key_t;

enum cfg_section {
    SEC_CLUSTER, SEC_DATA, SEC_MODEL, SEC_OPTIMIZER, SEC_TRAIN, SEC_EVAL, SEC_CHECKPOINT,
    SEC_EMBEDDING, SEC_COUNT
};
static const char *const cfg_sections[] = {"cluster", "data", "model",      "optimizer",
                                           "train",   "eval", "checkpoint", "embedding"};
_Static_assert(sizeof cfg_sections / sizeof cfg_sections[0] == SEC_COUNT, "cfg_sections");

static const char *const idle_names[] = {"auto", "poll", "yield"};
_Static_assert(sizeof idle_names / sizeof idle_names[0] == PSR_IDLE_MODE_COUNT, "idle_names");
static const char *const precision_names[] = {"fp32", "fp16"};
static const char *const source_names[] = {"files", "generate"};
_Static_assert(sizeof source_names / sizeof source_names[0] == CFG_SOURCE_COUNT, "source_names");
static const char *const truth_names[] = {"fm", "deep"};
_Static_assert(sizeof truth_names / sizeof truth_names[0] == CFG_TRUTH_COUNT, "truth_names");
_Static_assert(sizeof precision_names / sizeof precision_names[0] == CFG_PRECISION_COUNT,
               "precision_names");
static const char *const split_names[] = {"files", "random", "leave_last_out"};
_Static_assert(sizeof split_names / sizeof split_names[0] == CFG_SPLIT_COUNT, "split_names");
static const char *const loss_names[] = {"auto", "bce", "mse", "bpr"};
_Static_assert(sizeof loss_names / sizeof loss_names[0] == CFG_LOSS_COUNT, "loss_names");
static const char *const sampler_names[] = {"uniform", "popularity"};
_Static_assert(sizeof sampler_names / sizeof sampler_names[0] == CFG_SAMPLER_COUNT, "sampler");
static const char *const task_names[] = {"auto", "ctr", "rating", "topk"};
_Static_assert(sizeof task_names / sizeof task_names[0] == CFG_TASK_COUNT, "task_names");
static const char *const protocol_names[] = {"full", "sampled"};
_Static_assert(sizeof protocol_names / sizeof protocol_names[0] == CFG_PROTOCOL_COUNT, "protocol");
static const char *const optim_names[] = {"adam", "adagrad", "rowwise_adagrad"};
_Static_assert(sizeof optim_names / sizeof optim_names[0] == PSR_OPTIM_COUNT, "optim_names");
static const char *const format_names[] = {"criteo", "csv", "movielens", "libsvm", "libffm"};
_Static_assert(sizeof format_names / sizeof format_names[0] == CFG_FORMAT_COUNT, "format_names");
static const char *const int_mode_names[] = {"bucket", "dense"};
_Static_assert(sizeof int_mode_names / sizeof int_mode_names[0] == CFG_INT_MODE_COUNT,
               "int_mode_names");
static const char *const dense_sync_names[] = {"ps", "allreduce"};
_Static_assert(sizeof dense_sync_names / sizeof dense_sync_names[0] == CFG_DENSE_SYNC_COUNT,
               "dense_sync_names");
static const char *const decay_names[] = {"none", "linear", "cosine"};
_Static_assert(sizeof decay_names / sizeof decay_names[0] == CFG_DECAY_COUNT, "decay_names");
static const char *const column_names[] = {"label", "dense", "cat",   "multi",
                                           "user",  "item",  "ignore", "time"};
_Static_assert(sizeof column_names / sizeof column_names[0] == CFG_COL_COUNT, "column_names");
static const char *const separator_names[] = {"tab",  "comma", "semicolon",
                                              "pipe", "space", "double_colon"};
_Static_assert(sizeof separator_names / sizeof separator_names[0] == CFG_SEP_COUNT,
               "separator_names");
static const char *const multi_separator_names[] = {"pipe", "comma", "semicolon", "space",
                                                    "colon"};
_Static_assert(sizeof multi_separator_names / sizeof multi_separator_names[0] == CFG_MSEP_COUNT,
               "multi_separator_names");

/* Defaults of the integer lists. */
static const int mlp_default[] = {400, 400, 400};
static const int bottom_mlp_default[] = {512, 256, 16};
static const int top_mlp_default[] = {512, 256, 1};
static const int tower_default[] = {64, 32, 16};

/* offsetof(cfg_t, f) that refuses to compile unless field f has exactly type T, so a row can
 * never write an int64_t into an int. CFG_OFF_ARRAY does the same for an array field, whose
 * address keeps the array's length in its type (T is an array typedef). */
#define CFG_OFF(f, T) _Generic(((cfg_t *)0)->f, T: offsetof(cfg_t, f))
#define CFG_OFF_ARRAY(f, T) _Generic(&((cfg_t *)0)->f, T *: offsetof(cfg_t, f))
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
/* 0, or a compile error when cond is false; for checks inside an initializer. */
#define CFG_REQUIRE(cond) (0 * (int)sizeof(char[(cond) ? 1 : -1]))

typedef char cfg_path_buf_t[CFG_PATH_MAX];

#define KEY_INT(k, f, lo, hi, dflt)                                                             \
    { .name = k, .type = CT_INT, .min = {.i = (lo)}, .max = {.i = (hi)}, .def = {.i = (dflt)},  \
      .offset = CFG_OFF(f, int) }
#define KEY_I64(k, f, lo, hi, dflt)                                                             \
    { .name = k, .type = CT_INT64, .min = {.i = (lo)}, .max = {.i = (hi)},                      \
      .def = {.i = (dflt)}, .offset = CFG_OFF(f, int64_t) }
#define KEY_U64(k, f, lo, hi, dflt)                                                             \
    { .name = k, .type = CT_UINT64, .min = {.u = (lo)}, .max = {.u = (hi)},                     \
      .def = {.u = (dflt)}, .offset = CFG_OFF(f, uint64_t) }
/* lb is '[' or '(' and rb is ']' or ')', as the interval is written in the docs */
#define KEY_DBL(k, f, lb, lo, hi, rb, dflt)                                                     \
    { .name = k, .type = CT_DOUBLE, .min = {.d = (lo)}, .max = {.d = (hi)},                     \
      .def = {.d = (dflt)}, .open_min = (lb) == '(', .open_max = (rb) == ')',                   \
      .offset = CFG_OFF(f, double) }
#define KEY_ENUM(k, f, names_, dflt)                                                            \
    { .name = k, .type = CT_ENUM, .min = {.i = 0}, .max = {.i = (int64_t)N_OF(names_) - 1},      \
      .def = {.i = (dflt)}, .names = names_, .n_names = (int)N_OF(names_),                      \
      .offset = CFG_OFF(f, int) }
#define KEY_PATHS(k, f)                                                                         \
    { .name = k, .type = CT_PATHS, .min = {.i = 0}, .max = {.i = CFG_MAX_PATHS},                \
      .offset = CFG_OFF(f, cfg_paths_t) }
/* Items in [lo, hi] (within int), between minlen and maxlen of them (at most CFG_MAX_INTS);
 * dflt is a static int array whose length must itself be allowed. Checked at compile time. */
#define KEY_INTS(k, f, lo, hi, minlen, maxlen, dflt)                                            \
    { .name = k, .type = CT_INTS,                                                               \
      .min = {.i = (lo) + CFG_REQUIRE((lo) >= INT_MIN && (lo) <= (hi))},                        \
      .max = {.i = (hi) + CFG_REQUIRE((hi) <= INT_MAX)},                                        \
      .min_len = (minlen) + CFG_REQUIRE(0 <= (minlen) && (minlen) <= (maxlen)),                 \
      .max_len = (maxlen) + CFG_REQUIRE((maxlen) <= CFG_MAX_INTS),                              \
      .def_ints = dflt,                                                                         \
      .n_def_ints = (int)N_OF(dflt) +                                                           \
                    CFG_REQUIRE((int)N_OF(dflt) >= (minlen) && (int)N_OF(dflt) <= (maxlen)),    \
      .offset = CFG_OFF(f, cfg_ints_t) }
#define KEY_PATH(k, f)                                                                          \
    { .name = k, .type = CT_PATH, .offset = CFG_OFF_ARRAY(f, cfg_path_buf_t) }
/* A name held like a path, with a default; its allowed values are checked by whoever owns
 * them (model.type: the model registry, worker/model.c). */
#define KEY_NAME(k, f, dflt)                                                                    \
    { .name = k, .type = CT_PATH, .def_str = dflt, .offset = CFG_OFF_ARRAY(f, cfg_path_buf_t) }
/* A list of 0 to CFG_MAX_COLUMNS names from names_; default the empty list. */
#define KEY_ENUMS(k, f, names_)                                                                 \
    { .name = k, .type = CT_ENUMS, .min = {.i = 0}, .max = {.i = (int64_t)N_OF(names_) - 1},     \
      .names = names_, .n_names = (int)N_OF(names_), .min_len = 0,                              \
      .max_len = CFG_MAX_COLUMNS + CFG_REQUIRE(N_OF(names_) <= 256),                            \
      .offset = CFG_OFF(f, cfg_enums_t) }

#define I64_2P62 (INT64_C(1) << 62)

/* The schema. Ranges and defaults are those documented in config.h and docs/CONFIG.md.
 * Rows of a section are contiguous and sections appear in cfg_sections[] order (cfg_print
 * relies on neither, but the printed order is the table order). */
static const cfg_key_t cfg_keys[] = {
    KEY_INT("cluster.servers", cluster.servers, 1, 65536, 1),
    KEY_INT("cluster.buckets", cluster.buckets, 1, 1048576, 4096),
    KEY_ENUM("cluster.idle", cluster.idle, idle_names, PSR_IDLE_AUTO),

    KEY_ENUM("data.format", data.format, format_names, CFG_FORMAT_CRITEO),
    KEY_PATHS("data.train", data.train),
    KEY_PATHS("data.test", data.test),
    KEY_ENUM("data.int_mode", data.int_mode, int_mode_names, CFG_INT_BUCKET),
    KEY_I64("data.max_bad_rows", data.max_bad_rows, 0, I64_2P62, 100),
    KEY_ENUMS("data.columns", data.columns, column_names),
    KEY_INT("data.fields", data.fields, 0, 1024, 0),
    KEY_ENUM("data.separator", data.separator, separator_names, CFG_SEP_COMMA),
    KEY_ENUM("data.multi_separator", data.multi_separator, multi_separator_names, CFG_MSEP_PIPE),
    KEY_INT("data.header_lines", data.header_lines, 0, 1000000, 0),
    KEY_INT("data.shuffle_buffer", data.shuffle_buffer, 0, 1 << 30, 0),
    KEY_ENUM("data.source", data.source, source_names, CFG_SOURCE_FILES),
    KEY_I64("data.gen_rows", data.gen_rows, 1, I64_2P62, 1000000),
    KEY_I64("data.gen_test_rows", data.gen_test_rows, 0, I64_2P62, 0),
    KEY_U64("data.gen_seed", data.gen_seed, 0, (uint64_t)INT64_MAX, 1),
    KEY_ENUM("data.gen_truth", data.gen_truth, truth_names, CFG_TRUTH_FM),
    KEY_ENUM("data.split", data.split, split_names, CFG_SPLIT_FILES),
    KEY_DBL("data.test_fraction", data.test_fraction, '(', 0.0, 1.0, ')', 0.2),
    KEY_DBL("data.min_rating", data.min_rating, '[', 0.0, 1e9, ']', 0.0),

    KEY_NAME("model.type", model.type, "fm"),
    KEY_INT("model.dim", model.dim, 1, 1024, 8),
    KEY_DBL("model.init_std", model.init_std, '[', 0.0, 10.0, ']', 0.01),
    KEY_INTS("model.mlp", model.mlp, 1, 65536, 0, CFG_MAX_INTS, mlp_default),
    KEY_INTS("model.bottom_mlp", model.bottom_mlp, 1, 65536, 1, CFG_MAX_INTS, bottom_mlp_default),
    KEY_INTS("model.top_mlp", model.top_mlp, 1, 65536, 1, CFG_MAX_INTS, top_mlp_default),
    KEY_DBL("model.dropout", model.dropout, '[', 0.0, 1.0, ')', 0.0),
    KEY_INTS("model.tower", model.tower, 1, 65536, 1, CFG_MAX_INTS, tower_default),
    KEY_DBL("model.l2", model.l2, '[', 0.0, 1000.0, ']', 0.0),
    KEY_ENUM("model.loss", model.loss, loss_names, CFG_LOSS_AUTO),
    KEY_INT("model.negatives", model.negatives, 1, 1000, 4),
    KEY_ENUM("model.negative_sampler", model.negative_sampler, sampler_names, CFG_SAMPLER_UNIFORM),

    KEY_DBL("optimizer.lr", optimizer.lr, '(', 0.0, 100.0, ']', 0.01),
    KEY_DBL("optimizer.beta1", optimizer.beta1, '[', 0.0, 1.0, ')', 0.9),
    KEY_DBL("optimizer.beta2", optimizer.beta2, '[', 0.0, 1.0, ')', 0.999),
    KEY_DBL("optimizer.eps", optimizer.eps, '(', 0.0, 1.0, ']', 1e-8),
    KEY_DBL("optimizer.weight_decay", optimizer.weight_decay, '[', 0.0, 1.0, ']', 0.0),
    KEY_DBL("optimizer.clip_norm", optimizer.clip_norm, '[', 0.0, 1e12, ']', 0.0),
    KEY_I64("optimizer.warmup_steps", optimizer.warmup_steps, 0, I64_2P62, 0),
    KEY_ENUM("optimizer.decay", optimizer.decay, decay_names, CFG_DECAY_NONE),
    KEY_I64("optimizer.decay_steps", optimizer.decay_steps, 0, I64_2P62, 0),
    KEY_DBL("optimizer.min_lr_ratio", optimizer.min_lr_ratio, '[', 0.0, 1.0, ']', 0.0),
    KEY_DBL("optimizer.initial_accumulator", optimizer.initial_accumulator, '[', 0.0, 1000.0,
            ']', 0.0),
    KEY_I64("optimizer.warmup_examples", optimizer.warmup_examples, 0, I64_2P62, 0),
    KEY_I64("optimizer.decay_examples", optimizer.decay_examples, 0, I64_2P62, 0),

    KEY_INT("train.epochs", train.epochs, 1, 1000000, 1),
    KEY_INT("train.batch_size", train.batch_size, 1, 1048576, 1024),
    KEY_INT("train.max_staleness", train.max_staleness, 0, 1000000, 1),
    KEY_I64("train.max_steps", train.max_steps, 0, I64_2P62, 0),
    KEY_U64("train.seed", train.seed, 0, (uint64_t)INT64_MAX, 1),
    KEY_DBL("train.progress_seconds", train.progress_seconds, '[', 0.1, 86400.0, ']', 5.0),
    KEY_ENUM("train.dense_sync", train.dense_sync, dense_sync_names, CFG_DENSE_ALLREDUCE),
    KEY_INT("train.dense_pull_every", train.dense_pull_every, 1, 1000000, 1),
    KEY_PATH("train.metrics_file", train.metrics_file),

    KEY_I64("eval.every_steps", eval.every_steps, 0, I64_2P62, 0),
    KEY_ENUM("eval.task", eval.task, task_names, CFG_TASK_AUTO),
    KEY_INT("eval.k", eval.k, 1, 1000, 10),
    KEY_ENUM("eval.protocol", eval.protocol, protocol_names, CFG_PROTOCOL_FULL),
    KEY_INT("eval.negatives", eval.negatives, 1, 100000, 100),

    KEY_PATH("checkpoint.dir", checkpoint.dir),
    KEY_I64("checkpoint.every_steps", checkpoint.every_steps, 0, I64_2P62, 0),
    KEY_DBL("checkpoint.every_seconds", checkpoint.every_seconds, '[', 0.0, 1e9, ']', 0.0),
    KEY_INT("checkpoint.keep", checkpoint.keep, 1, 1000000, 3),
    KEY_INT("checkpoint.level", checkpoint.level, 0, 9, 1),

    KEY_I64("embedding.max_rows", embedding.max_rows, 0, I64_2P62, 0),
    KEY_I64("embedding.min_count", embedding.min_count, 0, 1000000000, 0),
    KEY_I64("embedding.ttl_steps", embedding.ttl_steps, 0, I64_2P62, 0),
    KEY_I64("embedding.sketch_width", embedding.sketch_width, 1024, INT64_C(1) << 30, 1 << 20),
    KEY_ENUM("embedding.precision", embedding.precision, precision_names, CFG_PRECISION_FP32),
    KEY_ENUM("embedding.optimizer", embedding.optimizer, optim_names, PSR_OPTIM_ADAM),
    KEY_PATHS("embedding.tables", embedding.tables),
};
#define N_KEYS N_OF(cfg_keys)

#define FIELD(c, k, T) ((T *)((char *)(c) + (k)->offset))
#define CFIELD(c, k, T) ((const T *)((const char *)(c) + (k)->offset))

/* ---- small helpers --------------------------------------------------------------------- */

/* Copy user text for a one-line message: at most `max` bytes, control characters replaced by
 * '?', "..." appended when cut. */
static void echo(char *dst, size_t n, const char *s, size_t len, size_t max)
{
    size_t j = 0, cut = len > max;
    if (cut) len = max;
    for (size_t i = 0; i < len && j + 1 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[j++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    for (int i = 0; cut && i < 3 && j + 1 < n; i++) dst[j++] = '.';
    dst[j] = '\0';
}

/* Copy a NUL-terminated string into a fixed buffer, truncating. */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n) len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The shortest "%.Ng" text (N in 1..17) that parses back to exactly v: "100" rather than
 * "1e+02", "1e+12" rather than "1000000000000", 17 digits only when needed. */
static void fmt_double(char *buf, size_t n, double v)
{
    char best[40] = "", tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v && (!best[0] || strlen(tmp) < strlen(best)))
            memcpy(best, tmp, sizeof best);
    }
    if (!best[0]) snprintf(best, sizeof best, "%.17g", v); /* NaN: never equal */
    snprintf(buf, n, "%s", best);
}

/* Levenshtein distance, case-insensitive, on strings of at most 63 bytes (longer: huge). */
static int edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    int row[64], prev_diag;
    if (na > 63 || nb > 63) return 1 << 20;
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        prev_diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int ca = a[i - 1], cb = b[j - 1];
            if (ca >= 'A' && ca <= 'Z') ca += 'a' - 'A';
            if (cb >= 'A' && cb <= 'Z') cb += 'a' - 'A';
            int best = prev_diag + (ca != cb);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            prev_diag = row[j];
            row[j] = best;
        }
    }
    return row[nb];
}

/* Close enough to suggest: fewer than half the characters differ. */
static int is_close(int d, size_t na, size_t nb)
{
    size_t longer = na > nb ? na : nb;
    return d > 0 && (size_t)(2 * d) <= longer;
}

static const char *key_bare(const cfg_key_t *k) { return strchr(k->name, '.') + 1; }

static size_t key_section_len(const cfg_key_t *k) { return (size_t)(strchr(k->name, '.') - k->name); }

static int key_in_section(const cfg_key_t *k, int sec)
{
    size_t n = strlen(cfg_sections[sec]);
    return key_section_len(k) == n && memcmp(k->name, cfg_sections[sec], n) == 0;
}

static int find_section(const char *s, size_t len)
{
    for (int i = 0; i < SEC_COUNT; i++)
        if (strlen(cfg_sections[i]) == len && memcmp(cfg_sections[i], s, len) == 0) return i;
    return -1;
}

static const cfg_key_t *find_key(int sec, const char *bare, size_t len)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *b = key_bare(&cfg_keys[i]);
        if (key_in_section(&cfg_keys[i], sec) && strlen(b) == len && memcmp(b, bare, len) == 0)
            return &cfg_keys[i];
    }
    return NULL;
}

/* "a, b, c" of the sections, or of the bare keys of section `sec`. */
static void list_sections(char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < SEC_COUNT && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", cfg_sections[i]);
}

static void list_keys(char *buf, size_t n, int sec)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_KEYS && used < n; i++)
        if (key_in_section(&cfg_keys[i], sec))
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "",
                                     key_bare(&cfg_keys[i]));
}

/* Suggestion for an unknown bare key written in section `sec` (-1: no or unknown section):
 * the same key name in another section, else the closest key of `sec`, else the closest key
 * anywhere. NULL when nothing is close. */
static const cfg_key_t *suggest_key(int sec, const char *bare, size_t len)
{
    const cfg_key_t *best = NULL;
    int best_d = 1 << 20;
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *b = key_bare(&cfg_keys[i]);
        if (strlen(b) == len && memcmp(b, bare, len) == 0) return &cfg_keys[i];
    }
    for (int pass = 0; pass < 2 && !best; pass++) {
        for (size_t i = 0; i < N_KEYS; i++) {
            const cfg_key_t *k = &cfg_keys[i];
            if (pass == 0 && (sec < 0 || !key_in_section(k, sec))) continue;
            const char *b = key_bare(k);
            int d = edit_distance(bare, len, b, strlen(b));
            if (is_close(d, len, strlen(b)) && d < best_d) best = k, best_d = d;
        }
    }
    return best;
}

static int suggest_section(const char *s, size_t len)
{
    int best = -1, best_d = 1 << 20;
    for (int i = 0; i < SEC_COUNT; i++) {
        int d = edit_distance(s, len, cfg_sections[i], strlen(cfg_sections[i]));
        if (is_close(d, len, strlen(cfg_sections[i])) && d < best_d) best = i, best_d = d;
    }
    return best;
}

/* ---- values ---------------------------------------------------------------------------- */

/* "an integer in [1, 1000000]", "a number in (0, 100]", "one of: lr, fm", ... */
static void key_allowed(const cfg_key_t *k, char *buf, size_t n)
{
    char lo[40], hi[40];
    switch (k->type) {
    case CT_INT:
    case CT_INT64:
        snprintf(buf, n, "an integer in [%" PRId64 ", %" PRId64 "]", k->min.i, k->max.i);
        break;
    case CT_UINT64:
        snprintf(buf, n, "an integer in [%" PRIu64 ", %" PRIu64 "]", k->min.u, k->max.u);
        break;
    case CT_DOUBLE:
        fmt_double(lo, sizeof lo, k->min.d);
        fmt_double(hi, sizeof hi, k->max.d);
        snprintf(buf, n, "a number in %c%s, %s%c", k->open_min ? '(' : '[', lo, hi,
                 k->open_max ? ')' : ']');
        break;
    case CT_ENUM: {
        size_t used = (size_t)snprintf(buf, n, "one of: ");
        for (int i = 0; i < k->n_names && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", k->names[i]);
        break;
    }
    case CT_PATHS:
    case CT_COUNT:
        snprintf(buf, n, "a path or a list of at most %d paths, each shorter than %d bytes",
                 CFG_MAX_PATHS, CFG_PATH_MAX);
        break;
    case CT_INTS:
        snprintf(buf, n, "an integer or a list of %d to %d integers, each in [%" PRId64 ", %"
                 PRId64 "]", k->min_len, k->max_len, k->min.i, k->max.i);
        break;
    case CT_PATH:
        snprintf(buf, n, "a path shorter than %d bytes, or \"\" for none", CFG_PATH_MAX);
        break;
    case CT_ENUMS: {
        size_t used = (size_t)snprintf(buf, n, "a list of at most %d names, each one of: ",
                                       k->max_len);
        for (int i = 0; i < k->n_names && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", k->names[i]);
        if (used < n) snprintf(buf + used, n - used, " (NAME*K repeats NAME K times)");
        break;
    }
    }
}

/* The row that checks one item of integer list k: a CT_INT with the same bounds, so items
 * are parsed and described exactly like an int key ("an integer in [1, 65536]"). */
static cfg_key_t item_key(const cfg_key_t *k)
{
    cfg_key_t e = *k;
    e.type = CT_INT;
    return e;
}

static int key_in_range(const cfg_key_t *k, cfg_num_t v)
{
    switch (k->type) {
    case CT_INT:
    case CT_INT64:
    case CT_ENUM:
        return v.i >= k->min.i && v.i <= k->max.i;
    case CT_UINT64:
        return v.u >= k->min.u && v.u <= k->max.u;
    case CT_DOUBLE: /* written so that NaN is out of every range */
        if (!isfinite(v.d)) return 0;
        if (!(k->open_min ? v.d > k->min.d : v.d >= k->min.d)) return 0;
        return k->open_max ? v.d < k->max.d : v.d <= k->max.d;
    case CT_PATHS:
    case CT_INTS:
    case CT_PATH:
    case CT_ENUMS:
    case CT_COUNT:
        break;
    }
    return 0;
}

static cfg_num_t key_get(const cfg_t *c, const cfg_key_t *k)
{
    cfg_num_t v = {.i = 0};
    switch (k->type) {
    case CT_INT:
    case CT_ENUM: v.i = *CFIELD(c, k, int); break;
    case CT_INT64: v.i = *CFIELD(c, k, int64_t); break;
    case CT_UINT64: v.u = *CFIELD(c, k, uint64_t); break;
    case CT_DOUBLE: v.d = *CFIELD(c, k, double); break;
    case CT_PATHS:
    case CT_INTS:
    case CT_PATH:
    case CT_ENUMS:
    case CT_COUNT: break;
    }
    return v;
}

/* v must be in range (so it fits the field). */
static void key_put(cfg_t *c, const cfg_key_t *k, cfg_num_t v)
{
    switch (k->type) {
    case CT_INT:
    case CT_ENUM: *FIELD(c, k, int) = (int)v.i; break;
    case CT_INT64: *FIELD(c, k, int64_t) = v.i; break;
    case CT_UINT64: *FIELD(c, k, uint64_t) = v.u; break;
    case CT_DOUBLE: *FIELD(c, k, double) = v.d; break;
    case CT_PATHS:
    case CT_INTS:
    case CT_PATH:
    case CT_ENUMS:
    case CT_COUNT: break;
    }
}

/* A scalar value as cfg_print writes it (enum out of range: its number). */
static void key_format(const cfg_t *c, const cfg_key_t *k, char *buf, size_t n)
{
    cfg_num_t v = key_get(c, k);
    switch (k->type) {
    case CT_INT:
    case CT_INT64: snprintf(buf, n, "%" PRId64, v.i); break;
    case CT_UINT64: snprintf(buf, n, "%" PRIu64, v.u); break;
    case CT_DOUBLE: fmt_double(buf, n, v.d); break;
    case CT_ENUM:
        if (v.i >= 0 && v.i < k->n_names) snprintf(buf, n, "%s", k->names[v.i]);
        else snprintf(buf, n, "%" PRId64, v.i);
        break;
    case CT_PATHS:
    case CT_INTS:
    case CT_PATH:
    case CT_ENUMS:
    case CT_COUNT: buf[0] = '\0'; break;
    }
}

/* Decimal integer [-+]?[0-9]+ into sign and magnitude; *overflow when it exceeds uint64. */
static int parse_integer(const char *s, size_t len, int *neg, uint64_t *mag, int *overflow)
{
    size_t i = 0;
    *neg = 0, *mag = 0, *overflow = 0;
    if (i < len && (s[i] == '-' || s[i] == '+')) *neg = s[i++] == '-';
    if (i == len) return 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (*mag > (UINT64_MAX - d) / 10) *overflow = 1;
        else *mag = *mag * 10 + d;
    }
    return 1;
}

/* Finite decimal float: digits, sign, '.', exponent; no nan/inf/hex. */
static int parse_double(const char *s, size_t len, double *out)
{
    int digits = 0;
    if (len == 0 || len > 400) return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9') digits++;
        else if (!strchr("+-.eE", ch) || ch == '\0') return 0;
    }
    if (!digits) return 0;
    char tmp[402];
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    /* ERANGE on underflow still gives the nearest representable value; keep it and let the
     * range check decide. Overflow gives HUGE_VAL, which isfinite rejects. */
    if (end != tmp + len || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* Parse scalar text for key k (not a path list). Returns 1 and *v when the text is a valid,
 * in-range value, else 0. */
static int key_parse(const cfg_key_t *k, const char *s, size_t len, cfg_num_t *v)
{
    int neg, overflow;
    uint64_t mag;
    switch (k->type) {
    case CT_INT:
    case CT_INT64:
        if (!parse_integer(s, len, &neg, &mag, &overflow) || overflow) return 0;
        if (neg) {
            if (mag > (uint64_t)INT64_MAX + 1) return 0;
            v->i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
        } else {
            if (mag > (uint64_t)INT64_MAX) return 0;
            v->i = (int64_t)mag;
        }
        return key_in_range(k, *v);
    case CT_UINT64:
        if (!parse_integer(s, len, &neg, &mag, &overflow) || overflow) return 0;
        if (neg && mag != 0) return 0;
        v->u = mag;
        return key_in_range(k, *v);
    case CT_DOUBLE:
        return parse_double(s, len, &v->d) && key_in_range(k, *v);
    case CT_ENUM:
        for (int i = 0; i < k->n_names; i++)
            if (strlen(k->names[i]) == len && memcmp(k->names[i], s, len) == 0) {
                v->i = i;
                return 1;
            }
        return 0;
    case CT_PATHS:
    case CT_INTS:
    case CT_PATH:
    case CT_ENUMS:
    case CT_COUNT:
        break;
    }
    return 0;
}

/* ---- loading --------------------------------------------------------------------------- */

typedef struct {
    const char *name;          /* file name, or "--set key=value" */
    int lines;                 /* 1: messages are "name:LINE: ..."; 0: "name: ..." */
    const char *text;          /* the YAML input, for locating reader errors */
    size_t len;
    size_t key_line[N_KEYS];   /* 1-based line where each key was set; 0 = not yet */
    size_t sec_line[SEC_COUNT];
} ld_t;

__attribute__((format(printf, 3, 4)))
static int ld_fail(const ld_t *ld, size_t line0, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ld->lines) return PSR_ERR(PSR_ERR_CONFIG, "%s:%zu: %s", ld->name, line0 + 1, msg);
    return PSR_ERR(PSR_ERR_CONFIG, "%s: %s", ld->name, msg);
}

static size_t node_line(const yaml_node_t *n) { return n ? n->start_mark.line : 0; }

static const char *node_kind(const yaml_node_t *n)
{
    if (!n) return "nothing";
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a sequence";
    case YAML_SCALAR_NODE: return "a scalar";
    default: return "an empty node";
    }
}

static int text_is_null(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* YAML's null: a plain, untagged (or !!null) scalar that is empty, "~" or "null". */
static int node_is_null(const yaml_node_t *n)
{
    if (!n) return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *tag = (const char *)n->tag;
    if (tag && strcmp(tag, YAML_DEFAULT_SCALAR_TAG) && strcmp(tag, YAML_NULL_TAG)) return 0;
    return text_is_null((const char *)n->data.scalar.value, n->data.scalar.length);
}

/* "found 'x'" / "found an empty value" / "found a mapping" for node n (NULL: empty). */
static void node_found(const yaml_node_t *n, char *buf, size_t size)
{
    if (!n || (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)) {
        snprintf(buf, size, "found an empty value");
    } else if (n->type == YAML_SCALAR_NODE) {
        char e[80];
        echo(e, sizeof e, (const char *)n->data.scalar.value, n->data.scalar.length, 60);
        snprintf(buf, size, "found '%s'", e);
    } else {
        snprintf(buf, size, "found %s", node_kind(n));
    }
}

/* One path (scalar `n`) into dst; `item` is the 1-based list position, 0 for a lone scalar. */
static int apply_path(const ld_t *ld, const cfg_key_t *k, const yaml_node_t *n, int item,
                      char *dst)
{
    char where[64] = "";
    if (item) snprintf(where, sizeof where, " item %d", item);
    if (n->type != YAML_SCALAR_NODE)
        return ld_fail(ld, node_line(n), "key '%s'%s: found %s, allowed a path (a string)",
                       k->name, where, node_kind(n));
    size_t len = n->data.scalar.length;
    const char *s = (const char *)n->data.scalar.value;
    if (len == 0)
        return ld_fail(ld, node_line(n), "key '%s'%s: found an empty path, allowed a non-empty "
                       "path", k->name, where);
    if (node_is_null(n))
        return ld_fail(ld, node_line(n), "key '%s'%s: found '%s', which YAML reads as empty, "
                       "allowed a path (quote it to name a file called %s)", k->name, where, s, s);
    if (len >= CFG_PATH_MAX)
        return ld_fail(ld, node_line(n),
                       "key '%s'%s: found a path of %zu bytes, allowed at most %d bytes",
                       k->name, where, len, CFG_PATH_MAX - 1);
    if (memchr(s, '\0', len))
        return ld_fail(ld, node_line(n), "key '%s'%s: found a path containing a NUL byte, "
                       "allowed a path without one", k->name, where);
    memcpy(dst, s, len);
    dst[len] = '\0';
    return PSR_OK;
}

/* One item (scalar `n`, or anything else for an error) of integer list k into *dst; `item` is
 * the 1-based list position, 0 for a lone scalar. */
static int apply_int_item(const ld_t *ld, const cfg_key_t *k, const yaml_node_t *n, int item,
                          int *dst)
{
    char where[64] = "", found[128], allowed[160];
    cfg_key_t e = item_key(k);
    cfg_num_t v;
    if (item) snprintf(where, sizeof where, " item %d", item);
    if (n && n->type == YAML_SCALAR_NODE &&
        key_parse(&e, (const char *)n->data.scalar.value, n->data.scalar.length, &v)) {
        *dst = (int)v.i;
        return PSR_OK;
    }
    node_found(n, found, sizeof found);
    key_allowed(&e, allowed, sizeof allowed);
    return ld_fail(ld, node_line(n), "key '%s'%s: %s, allowed %s", k->name, where, found,
                   allowed);
}

/* "an empty list", "a list of 1 integer", "a list of 17 integers". */
static void describe_count(char *buf, size_t n, ptrdiff_t count)
{
    if (count == 0) snprintf(buf, n, "an empty list");
    else snprintf(buf, n, "a list of %td integer%s", count, count == 1 ? "" : "s");
}

/* Node n (NULL: empty value) as the value of integer-list key k, into *L. */
static int apply_ints(ld_t *ld, yaml_document_t *doc, const cfg_key_t *k, const yaml_node_t *n,
                      cfg_ints_t *L)
{
    char found[64], allowed[200];
    ptrdiff_t count = 0;
    memset(L, 0, sizeof *L);
    if (node_is_null(n)) /* "key:", "key: ~": the empty list */
        count = 0;
    else if (n->type == YAML_SCALAR_NODE)
        count = 1;
    else if (n->type == YAML_SEQUENCE_NODE)
        count = n->data.sequence.items.top - n->data.sequence.items.start;
    else {
        key_allowed(k, allowed, sizeof allowed);
        return ld_fail(ld, node_line(n), "key '%s': found %s, allowed %s", k->name,
                       node_kind(n), allowed);
    }
    if (count > k->max_len) {
        describe_count(found, sizeof found, count);
        return ld_fail(ld, node_line(n), "key '%s': found %s, allowed at most %d", k->name,
                       found, k->max_len);
    }
    if (count == 1 && n->type == YAML_SCALAR_NODE) {
        PSR_FORWARD(apply_int_item(ld, k, n, 0, &L->v[0]));
    } else {
        for (ptrdiff_t i = 0; i < count; i++) {
            const yaml_node_t *item = yaml_document_get_node(doc, n->data.sequence.items.start[i]);
            PSR_FORWARD(apply_int_item(ld, k, item, (int)i + 1, &L->v[i]));
        }
    }
    if (count < k->min_len) {
        describe_count(found, sizeof found, count);
        return ld_fail(ld, node_line(n), "key '%s': found %s, allowed at least %d integer%s",
                       k->name, found, k->min_len, k->min_len == 1 ? "" : "s");
    }
    L->n = (int)count;
    return PSR_OK;
}

/* Node n (NULL: empty value) as the value of single-path key k, into dst[CFG_PATH_MAX].
 * "key:", "key: ~" and "key: \"\"" are the empty path ("none"). A tag with no value ("!x")
 * is refused: it is not written as empty, and would silently turn the feature off. */
static int apply_single_path(const ld_t *ld, const cfg_key_t *k, const yaml_node_t *n,
                             char *dst)
{
    char allowed[160];
    memset(dst, 0, CFG_PATH_MAX);
    if (node_is_null(n)) return PSR_OK;
    if (n->type != YAML_SCALAR_NODE) {
        key_allowed(k, allowed, sizeof allowed);
        return ld_fail(ld, node_line(n), "key '%s': found %s, allowed %s", k->name,
                       node_kind(n), allowed);
    }
    if (n->data.scalar.length == 0) {
        if (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
            n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
            return PSR_OK;
        key_allowed(k, allowed, sizeof allowed);
        return ld_fail(ld, node_line(n), "key '%s': found a tag with no value, allowed %s",
                       k->name, allowed);
    }
    return apply_path(ld, k, n, 0, dst);
}

/* One item of enum list k ("name" or "name*K", K in [1, CFG_MAX_COLUMNS]) from node n: the
 * value in *v and the repeat count in *times. `item` is the 1-based list position, 0 for a
 * lone scalar. */
static int apply_enum_item(const ld_t *ld, const cfg_key_t *k, const yaml_node_t *n, int item,
                           int *v, int *times)
{
    char where[64] = "", found[128], allowed[400];
    if (item) snprintf(where, sizeof where, " item %d", item);
    if (n && n->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)n->data.scalar.value;
        size_t len = n->data.scalar.length, nl = len;
        const char *star = memchr(s, '*', len);
        int neg, overflow;
        uint64_t mag = 1;
        int ok = 1;
        if (star) {
            nl = (size_t)(star - s);
            ok = parse_integer(star + 1, len - nl - 1, &neg, &mag, &overflow) && !neg &&
                 !overflow && star[1] != '+' && mag >= 1 && mag <= CFG_MAX_COLUMNS;
        }
        for (int i = 0; ok && i < k->n_names; i++)
            if (strlen(k->names[i]) == nl && memcmp(k->names[i], s, nl) == 0) {
                *v = i;
                *times = (int)mag;
                return PSR_OK;
            }
    }
    node_found(n, found, sizeof found);
    key_allowed(k, allowed, sizeof allowed);
    return ld_fail(ld, node_line(n), "key '%s'%s: %s, allowed %s", k->name, where, found,
                   allowed);
}

/* Node n (NULL: empty value) as the value of enum-list key k, into *L. */
static int apply_enums(ld_t *ld, yaml_document_t *doc, const cfg_key_t *k, const yaml_node_t *n,
                       cfg_enums_t *L)
{
    char allowed[400];
    ptrdiff_t count = 0;
    memset(L, 0, sizeof *L);
    if (node_is_null(n)) return PSR_OK; /* "key:", "key: ~": the empty list */
    if (n->type == YAML_SCALAR_NODE) {
        count = 1;
    } else if (n->type == YAML_SEQUENCE_NODE) {
        count = n->data.sequence.items.top - n->data.sequence.items.start;
    } else {
        key_allowed(k, allowed, sizeof allowed);
        return ld_fail(ld, node_line(n), "key '%s': found %s, allowed %s", k->name,
                       node_kind(n), allowed);
    }
    int total = 0;
    for (ptrdiff_t i = 0; i < count; i++) {
        const yaml_node_t *item =
            n->type == YAML_SCALAR_NODE
                ? n
                : yaml_document_get_node(doc, n->data.sequence.items.start[i]);
        int v = 0, times = 0;
        PSR_FORWARD(apply_enum_item(ld, k, item, n->type == YAML_SCALAR_NODE ? 0 : (int)i + 1,
                                    &v, &times));
        if (times > k->max_len - total)
            return ld_fail(ld, node_line(n), "key '%s': found a list of more than %d names "
                           "(counting NAME*K as K), allowed at most %d", k->name, k->max_len,
                           k->max_len);
        memset(L->v + total, v, (size_t)times);
        total += times;
    }
    L->n = total;
    return PSR_OK;
}

/* Node n (NULL: empty value) as the value of key k, into c. */
static int apply_value(ld_t *ld, yaml_document_t *doc, const cfg_key_t *k,
                       const yaml_node_t *n, cfg_t *c)
{
    char found[128], allowed[160];
    if (k->type == CT_INTS) return apply_ints(ld, doc, k, n, FIELD(c, k, cfg_ints_t));
    if (k->type == CT_PATH) return apply_single_path(ld, k, n, FIELD(c, k, char));
    if (k->type == CT_ENUMS) return apply_enums(ld, doc, k, n, FIELD(c, k, cfg_enums_t));
    if (k->type == CT_PATHS) {
        cfg_paths_t *p = FIELD(c, k, cfg_paths_t);
        memset(p, 0, sizeof *p);
        if (node_is_null(n)) return PSR_OK; /* "key:" or "key: ~": empty list */
        if (n->type == YAML_SCALAR_NODE) {
            p->n = 1;
            return apply_path(ld, k, n, 0, p->path[0]);
        }
        if (n->type != YAML_SEQUENCE_NODE) {
            key_allowed(k, allowed, sizeof allowed);
            return ld_fail(ld, node_line(n), "key '%s': found %s, allowed %s", k->name,
                           node_kind(n), allowed);
        }
        ptrdiff_t count = n->data.sequence.items.top - n->data.sequence.items.start;
        if (count > CFG_MAX_PATHS)
            return ld_fail(ld, node_line(n),
                           "key '%s': found a list of %td paths, allowed at most %d", k->name,
                           count, CFG_MAX_PATHS);
        for (ptrdiff_t i = 0; i < count; i++) {
            const yaml_node_t *item = yaml_document_get_node(doc, n->data.sequence.items.start[i]);
            PSR_FORWARD(apply_path(ld, k, item, (int)i + 1, p->path[i]));
            p->n = (int)i + 1;
        }
        return PSR_OK;
    }
    cfg_num_t v;
    if (n && n->type == YAML_SCALAR_NODE &&
        key_parse(k, (const char *)n->data.scalar.value, n->data.scalar.length, &v)) {
        key_put(c, k, v);
        return PSR_OK;
    }
    node_found(n, found, sizeof found);
    key_allowed(k, allowed, sizeof allowed);
    return ld_fail(ld, node_line(n), "key '%s': %s, allowed %s", k->name, found, allowed);
}

/* Unknown key `bare` in known section `sec`. */
static int fail_unknown_key(const ld_t *ld, size_t line0, int sec, const char *bare, size_t len)
{
    char e[80], keys[400], hint[96] = "";
    echo(e, sizeof e, bare, len, 60);
    list_keys(keys, sizeof keys, sec);
    const cfg_key_t *s = suggest_key(sec, bare, len);
    if (s) snprintf(hint, sizeof hint, "; did you mean '%s'?", s->name);
    return ld_fail(ld, line0, "unknown key '%s.%s' (allowed in section '%s': %s)%s",
                   cfg_sections[sec], e, cfg_sections[sec], keys, hint);
}

static int fail_unknown_section(const ld_t *ld, size_t line0, const char *s, size_t len)
{
    char e[80], secs[200], hint[160] = "";
    echo(e, sizeof e, s, len, 60);
    list_sections(secs, sizeof secs);
    const char *dot = memchr(s, '.', len);
    int sec = dot ? find_section(s, (size_t)(dot - s)) : -1;
    const cfg_key_t *k = sec >= 0 ? find_key(sec, dot + 1, len - (size_t)(dot - s) - 1) : NULL;
    int near = suggest_section(s, len);
    if (k)
        snprintf(hint, sizeof hint, "; write '%s' nested: '%s:' then '  %s: ...' below it",
                 k->name, cfg_sections[sec], key_bare(k));
    else if (near >= 0)
        snprintf(hint, sizeof hint, "; did you mean '%s'?", cfg_sections[near]);
    return ld_fail(ld, line0, "unknown section '%s' (allowed: %s)%s", e, secs, hint);
}

/* A mapping key must be a scalar; returns it or sets an error. */
static int key_text(const ld_t *ld, const yaml_node_t *key, const char *what, const char **s,
                    size_t *len)
{
    if (key->type != YAML_SCALAR_NODE)
        return ld_fail(ld, node_line(key), "found %s as a %s name, allowed a plain name",
                       node_kind(key), what);
    *s = (const char *)key->data.scalar.value;
    *len = key->data.scalar.length;
    return PSR_OK;
}

static int apply_section(ld_t *ld, yaml_document_t *doc, int sec, const yaml_node_t *n, cfg_t *c)
{
    if (node_is_null(n)) return PSR_OK; /* "eval:" with every key commented out */
    if (n->type != YAML_MAPPING_NODE)
        return ld_fail(ld, node_line(n),
                       "section '%s': found %s, allowed a mapping of key: value lines",
                       cfg_sections[sec], node_kind(n));
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        const yaml_node_t *key = yaml_document_get_node(doc, pr->key);
        const yaml_node_t *val = yaml_document_get_node(doc, pr->value);
        const char *s = NULL;
        size_t len = 0;
        PSR_FORWARD(key_text(ld, key, "key", &s, &len));
        const cfg_key_t *k = find_key(sec, s, len);
        if (!k) return fail_unknown_key(ld, node_line(key), sec, s, len);
        size_t ki = (size_t)(k - cfg_keys);
        if (ld->key_line[ki])
            return ld_fail(ld, node_line(key), "duplicate key '%s' (first set on line %zu)",
                           k->name, ld->key_line[ki]);
        ld->key_line[ki] = node_line(key) + 1;
        PSR_FORWARD(apply_value(ld, doc, k, val, c));
    }
    return PSR_OK;
}

static int apply_root(ld_t *ld, yaml_document_t *doc, cfg_t *c)
{
    const yaml_node_t *root = yaml_document_get_root_node(doc);
    char secs[200];
    if (node_is_null(root)) return PSR_OK; /* empty file or comments only: all defaults */
    if (root->type != YAML_MAPPING_NODE) {
        list_sections(secs, sizeof secs);
        return ld_fail(ld, node_line(root),
                       "found %s at the top level, allowed a mapping of sections (%s)",
                       node_kind(root), secs);
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        const yaml_node_t *key = yaml_document_get_node(doc, pr->key);
        const char *s = NULL;
        size_t len = 0;
        PSR_FORWARD(key_text(ld, key, "section", &s, &len));
        int sec = find_section(s, len);
        if (sec < 0) return fail_unknown_section(ld, node_line(key), s, len);
        if (ld->sec_line[sec])
            return ld_fail(ld, node_line(key),
                           "duplicate section '%s' (first on line %zu); merge the two",
                           cfg_sections[sec], ld->sec_line[sec]);
        ld->sec_line[sec] = node_line(key) + 1;
        PSR_FORWARD(apply_section(ld, doc, sec, yaml_document_get_node(doc, pr->value), c));
    }
    return PSR_OK;
}

/* 1 if line `line0` (0-based) of the input is indented with a tab: libyaml's "found
 * character that cannot start any token" rarely says so itself. */
static int line_has_tab_indent(const ld_t *ld, size_t line0)
{
    size_t i = 0;
    for (size_t l = 0; l < line0 && i < ld->len; i++) l += ld->text[i] == '\n';
    for (; i < ld->len && (ld->text[i] == ' ' || ld->text[i] == '\t'); i++)
        if (ld->text[i] == '\t') return 1;
    return 0;
}

/* `only`: the key of a --set (its messages carry no line or column, and get a quoting hint). */
static int fail_syntax(const ld_t *ld, const yaml_parser_t *p, const cfg_key_t *only)
{
    char ctx[160] = "", prob[200], hint[160] = "";
    const char *problem = p->problem ? p->problem : "invalid YAML";
    size_t line0 = p->problem_mark.line;
    if (p->error == YAML_MEMORY_ERROR)
        return PSR_ERR(PSR_ERR_NOMEM, "%s: out of memory while parsing YAML", ld->name);
    if (p->error == YAML_READER_ERROR) {
        /* reader errors carry a byte offset, not a mark */
        line0 = 0;
        for (size_t i = 0; i < p->problem_offset && i < ld->len; i++) line0 += ld->text[i] == '\n';
        if (p->problem_value != -1)
            snprintf(prob, sizeof prob, "%s (byte 0x%02x at offset %zu)", problem,
                     (unsigned)p->problem_value & 0xffu, p->problem_offset);
        else
            snprintf(prob, sizeof prob, "%s (at offset %zu)", problem, p->problem_offset);
    } else if (ld->lines) {
        snprintf(prob, sizeof prob, "%s at column %zu", problem, p->problem_mark.column + 1);
        if (p->context)
            snprintf(ctx, sizeof ctx, " (%s started on line %zu)", p->context,
                     p->context_mark.line + 1);
        if (line_has_tab_indent(ld, line0))
            snprintf(hint, sizeof hint, "; indent with spaces, YAML does not allow tabs there");
    } else {
        snprintf(prob, sizeof prob, "%s", problem);
        if (p->context) snprintf(ctx, sizeof ctx, " (%s)", p->context);
    }
    if (only)
        snprintf(hint, sizeof hint, "; to pass one plain string, quote it as YAML: "
                 "--set '%s=\"...\"'", only->name);
    return ld_fail(ld, line0, "YAML syntax error: %s%s%s", prob, ctx, hint);
}

/* The value of a --set. A value that YAML reads as empty although it is not written as one
 * ("#x" is a comment, "&x" an anchor, "!x" a tag) would silently clear a list: refuse it. */
static int apply_set_value(ld_t *ld, yaml_document_t *doc, const cfg_key_t *k, cfg_t *c)
{
    const yaml_node_t *root = yaml_document_get_root_node(doc);
    const char *s = ld->text;
    size_t len = ld->len;
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (node_is_null(root) && !text_is_null(s, len)) {
        char e[80];
        echo(e, sizeof e, s, len, 60);
        return ld_fail(ld, 0, "key '%s': found '%s', which YAML reads as an empty value (a "
                       "comment, anchor or tag); quote it as YAML: --set '%s=\"...\"'",
                       k->name, e, k->name);
    }
    return apply_value(ld, doc, k, root, c);
}

#define CFG_MAX_DEPTH 64 /* nesting levels; a config needs 3 (section, key, list) */

/* Invariant 6: walk the event stream of `text` and refuse a mapping or sequence nested more
 * than CFG_MAX_DEPTH levels, before yaml_parser_load builds (slowly) the document. The walk
 * stops at the first level too deep, so its cost is bounded by the text's length. A syntax
 * error found here is reported as the loader would report it. */
static int check_depth(const ld_t *ld, const char *text, size_t len, const cfg_key_t *only)
{
    yaml_parser_t p;
    yaml_event_t ev;
    if (!yaml_parser_initialize(&p))
        return PSR_ERR(PSR_ERR_NOMEM, "%s: out of memory initializing the YAML parser", ld->name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int depth = 0, rc = PSR_OK;
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = fail_syntax(ld, &p, only);
            break;
        }
        const yaml_event_type_t type = ev.type;
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > CFG_MAX_DEPTH) {
                rc = ld_fail(ld, ev.start_mark.line, "YAML nested too deep: the %s at column %zu "
                             "opens level %d, allowed at most %d levels (a config needs 3: "
                             "section, key, list)",
                             type == YAML_SEQUENCE_START_EVENT ? "sequence" : "mapping",
                             ev.start_mark.column + 1, depth, CFG_MAX_DEPTH);
                yaml_event_delete(&ev);
                break;
            }
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&p);
    return rc;
}

/* Parse `text` as one YAML document and apply it to c: the whole config when `only` is NULL,
 * else the value of key `only` (for --set). */
static int parse_apply(ld_t *ld, const char *text, size_t len, cfg_t *c, const cfg_key_t *only)
{
    yaml_parser_t p;
    yaml_document_t doc, extra;
    int rc;
    ld->text = text;
    ld->len = len;
    PSR_FORWARD(check_depth(ld, text, len, only));
    if (!yaml_parser_initialize(&p))
        return PSR_ERR(PSR_ERR_NOMEM, "%s: out of memory initializing the YAML parser", ld->name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) { /* libyaml already freed doc */
        rc = fail_syntax(ld, &p, only);
        yaml_parser_delete(&p);
        return rc;
    }
    /* A second document would be silently ignored; a stray '---' usually means a pasted file. */
    if (!yaml_parser_load(&p, &extra)) {
        rc = fail_syntax(ld, &p, only);
    } else {
        const yaml_node_t *r2 = yaml_document_get_root_node(&extra);
        if (r2)
            rc = ld_fail(ld, extra.start_mark.line,
                         "a second YAML document starts here; a config holds one document "
                         "(remove the '---' line)");
        else if (only)
            rc = apply_set_value(ld, &doc, only, c);
        else
            rc = apply_root(ld, &doc, c);
        yaml_document_delete(&extra);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

#define CFG_FILE_MAX ((size_t)1 << 20) /* bytes; a config is a few KB */

static int too_big(const char *shown, const char *what, long long bytes)
{
    return PSR_ERR(PSR_ERR_CONFIG, "%s: %s is %lld bytes, allowed at most %zu (1 MiB); a config "
                   "is a few KB: is this the right file?", shown, what, bytes, CFG_FILE_MAX);
}

static int load_text(cfg_t *c, const char *text, size_t len, const char *name)
{
    ld_t ld;
    char shown[520];
    memset(&ld, 0, sizeof ld);
    if (!name || !name[0]) name = "<config>";
    echo(shown, sizeof shown, name, strlen(name), 500);
    if (len > CFG_FILE_MAX) return too_big(shown, "config text", (long long)len);
    ld.name = shown;
    ld.lines = 1;
    cfg_t *t = psr_xmalloc(sizeof *t);
    memcpy(t, c, sizeof *t);
    int rc = parse_apply(&ld, text, len, t, NULL);
    if (rc == PSR_OK) {
        memset(t->source, 0, sizeof t->source);
        copy_str(t->source, sizeof t->source, name);
        memcpy(c, t, sizeof *t);
    }
    free(t);
    return rc;
}

/* ---- public API ------------------------------------------------------------------------ */

void cfg_defaults(cfg_t *c)
{
    memset(c, 0, sizeof *c); /* also zeroes padding, path tails and list tails (invariant 5);
                                path lists start empty and single paths "" */
    for (size_t i = 0; i < N_KEYS; i++) {
        const cfg_key_t *k = &cfg_keys[i];
        if (k->type == CT_INTS) {
            cfg_ints_t *L = FIELD(c, k, cfg_ints_t);
            L->n = k->n_def_ints;
            memcpy(L->v, k->def_ints, (size_t)k->n_def_ints * sizeof *L->v);
        } else {
            key_put(c, k, k->def); /* no-op for path lists and single paths */
            if (k->type == CT_PATH && k->def_str)
                snprintf(FIELD(c, k, char), CFG_PATH_MAX, "%s", k->def_str);
        }
    }
}

int cfg_load_file(cfg_t *c, const char *path)
{
    char shown[520];
    echo(shown, sizeof shown, path, strlen(path), 500);
    FILE *f = fopen(path, "rb");
    if (!f)
        return PSR_ERR(PSR_ERR_IO, "%s: cannot open config file: %s", shown, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > CFG_FILE_MAX) {
        fclose(f);
        return too_big(shown, "config file", (long long)st.st_size);
    }
    /* a pipe or device has no size: read at most one byte more than allowed */
    size_t cap = 4096, len = 0;
    char *buf = psr_xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (len > CFG_FILE_MAX) break;
            cap = cap * 2 > CFG_FILE_MAX + 1 ? CFG_FILE_MAX + 1 : cap * 2;
            buf = psr_xrealloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        int err = errno;
        free(buf);
        fclose(f);
        return PSR_ERR(PSR_ERR_IO, "%s: cannot read config file: %s", shown, strerror(err));
    }
    fclose(f);
    if (len > CFG_FILE_MAX) {
        free(buf);
        return PSR_ERR(PSR_ERR_CONFIG, "%s: config file is larger than %zu bytes (1 MiB), the "
                       "most allowed; a config is a few KB: is this the right file?", shown,
                       CFG_FILE_MAX);
    }
    int rc = load_text(c, buf, len, path);
    free(buf);
    return rc;
}

int cfg_load_string(cfg_t *c, const char *yaml, const char *name)
{
    return load_text(c, yaml, strlen(yaml), name);
}

int cfg_set(cfg_t *c, const char *assignment)
{
    char where[300], e[220];
    ld_t ld;
    memset(&ld, 0, sizeof ld);
    echo(e, sizeof e, assignment, strlen(assignment), 200);
    snprintf(where, sizeof where, "--set %s", e);
    ld.name = where;
    ld.lines = 0;

    const char *eq = strchr(assignment, '=');
    if (!eq)
        return PSR_ERR(PSR_ERR_CONFIG, "%s: expected section.key=value (no '=' found)", where);
    const char *ks = assignment, *ke = eq;
    while (ks < ke && (*ks == ' ' || *ks == '\t')) ks++;
    while (ke > ks && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
    size_t klen = (size_t)(ke - ks);
    if (klen == 0)
        return PSR_ERR(PSR_ERR_CONFIG, "%s: expected section.key=value (empty key)", where);

    const char *dot = memchr(ks, '.', klen);
    if (!dot) {
        char ek[80], hint[96] = "";
        const cfg_key_t *s = suggest_key(-1, ks, klen);
        echo(ek, sizeof ek, ks, klen, 60);
        if (s) snprintf(hint, sizeof hint, "; did you mean '%s'?", s->name);
        return PSR_ERR(PSR_ERR_CONFIG, "%s: unknown key '%s' (keys are written section.key)%s",
                       where, ek, hint);
    }
    int sec = find_section(ks, (size_t)(dot - ks));
    if (sec < 0) return fail_unknown_section(&ld, 0, ks, (size_t)(dot - ks));
    const char *bare = dot + 1;
    size_t blen = (size_t)(ke - bare);
    const cfg_key_t *k = find_key(sec, bare, blen);
    if (!k) return fail_unknown_key(&ld, 0, sec, bare, blen);

    cfg_t *t = psr_xmalloc(sizeof *t);
    memcpy(t, c, sizeof *t);
    const char *val = eq + 1;
    int rc = parse_apply(&ld, val, strlen(val), t, k);
    if (rc == PSR_OK) memcpy(c, t, sizeof *t);
    free(t);
    return rc;
}

/* Cross-key checks of the text schema (data.format, data.columns and the separators). */
static int validate_columns(const cfg_t *c)
{
    const cfg_enums_t *L = &c->data.columns;
    const char *fmt = format_names[c->data.format];
    if (c->data.fields > 0 && c->data.format != CFG_FORMAT_LIBFFM)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.fields is %d but data.format is "
                       "%s; data.fields only applies to libffm; set it to 0", c->data.fields, fmt);
    if (c->data.format == CFG_FORMAT_CRITEO) {
        if (L->n > 0)
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.columns is set but data.format "
                           "is criteo, whose 40 columns are fixed; remove data.columns, or set "
                           "data.format to csv");
        if (c->data.header_lines > 0)
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.header_lines is %d but "
                           "data.format is criteo, whose files have no header; set "
                           "data.header_lines to 0", c->data.header_lines);
        return PSR_OK;
    }
    if (c->data.format == CFG_FORMAT_LIBSVM || c->data.format == CFG_FORMAT_LIBFFM) {
        if (L->n > 0)
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.columns is set but data.format "
                           "is %s, whose rows are 'label %s ...' without columns; remove "
                           "data.columns", fmt, c->data.format == CFG_FORMAT_LIBSVM
                           ? "index:value" : "field:index:value");
        if (c->data.format == CFG_FORMAT_LIBFFM && c->data.fields == 0)
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.format is libffm but "
                           "data.fields is 0; set data.fields to the number of fields (one more "
                           "than the largest field index in the files, at most 1024)");
        return PSR_OK;
    }
    if (L->n == 0) {
        if (c->data.format == CFG_FORMAT_MOVIELENS) return PSR_OK; /* user, item, label, time */
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.format is csv but data.columns is "
                       "empty; list the kind of every column in order, e.g. columns: [label, "
                       "dense*13, cat*26]");
    }
    int count[CFG_COL_COUNT] = {0}, first[CFG_COL_COUNT], second[CFG_COL_COUNT];
    for (int i = 0; i < CFG_COL_COUNT; i++) first[i] = second[i] = 0;
    for (int j = 0; j < L->n; j++) {
        int v = L->v[j];
        if (count[v] == 0) first[v] = j + 1;
        else if (count[v] == 1) second[v] = j + 1;
        count[v]++;
    }
    if (count[CFG_COL_LABEL] == 0)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.columns (format %s) has no label "
                       "column; exactly one column must be 'label'", fmt);
    if (count[CFG_COL_LABEL] > 1)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.columns (format %s) has %d label "
                       "columns (columns %d and %d%s); exactly one column must be 'label'", fmt,
                       count[CFG_COL_LABEL], first[CFG_COL_LABEL], second[CFG_COL_LABEL],
                       count[CFG_COL_LABEL] > 2 ? ", ..." : "");
    for (int v = CFG_COL_USER; v <= CFG_COL_ITEM; v++)
        if (count[v] > 1)
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.columns has %d '%s' columns "
                           "(columns %d and %d%s); at most one column can be the %s id; make the "
                           "others 'cat'", count[v], column_names[v], first[v], second[v],
                           count[v] > 2 ? ", ..." : "",
                           column_names[v]);
    if (count[CFG_COL_TIME] > 1)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.columns has %d 'time' columns "
                       "(columns %d and %d%s); at most one column can be the time; make the "
                       "others 'ignore' or 'dense'", count[CFG_COL_TIME], first[CFG_COL_TIME],
                       second[CFG_COL_TIME], count[CFG_COL_TIME] > 2 ? ", ..." : "");
    int features = L->n - count[CFG_COL_LABEL] - count[CFG_COL_IGNORE] - count[CFG_COL_TIME];
    if (features == 0)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.columns has no feature column; at "
                       "least one column must be dense, cat, multi, user or item");
    if (count[CFG_COL_MULTI] > 0) {
        static const char msep_char[] = {'|', ',', ';', ' ', ':'};
        static const char sep_char[] = {'\t', ',', ';', '|', ' ', ':'};
        _Static_assert(sizeof msep_char == CFG_MSEP_COUNT, "msep_char");
        _Static_assert(sizeof sep_char == CFG_SEP_COUNT, "sep_char");
        int sep = c->data.format == CFG_FORMAT_MOVIELENS ? CFG_SEP_DOUBLE_COLON : c->data.separator;
        if (msep_char[c->data.multi_separator] == sep_char[sep])
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.multi_separator is %s, which "
                           "also separates the columns (%s%s); a multi column (column %d) could "
                           "not be split; choose another data.multi_separator",
                           multi_separator_names[c->data.multi_separator],
                           c->data.format == CFG_FORMAT_MOVIELENS ? "format movielens uses "
                                                                  : "data.separator is ",
                           separator_names[sep], first[CFG_COL_MULTI]);
    }
    return PSR_OK;
}

int cfg_validate(const cfg_t *c)
{
    char found[128], allowed[160];
    /* Every key again: the struct may come from cfg_unpack or be filled by code, not YAML. */
    for (size_t i = 0; i < N_KEYS; i++) {
        const cfg_key_t *k = &cfg_keys[i];
        if (k->type == CT_PATHS) {
            const cfg_paths_t *p = CFIELD(c, k, cfg_paths_t);
            if (p->n < 0 || p->n > CFG_MAX_PATHS)
                return PSR_ERR(PSR_ERR_CONFIG, "invalid config: key '%s' holds %d paths, "
                               "allowed 0 to %d", k->name, p->n, CFG_MAX_PATHS);
            for (int j = 0; j < p->n; j++)
                if (!memchr(p->path[j], '\0', CFG_PATH_MAX) || !p->path[j][0])
                    return PSR_ERR(PSR_ERR_CONFIG, "invalid config: key '%s' item %d is %s, "
                                   "allowed a non-empty path shorter than %d bytes", k->name,
                                   j + 1, p->path[j][0] ? "unterminated" : "empty", CFG_PATH_MAX);
            continue;
        }
        if (k->type == CT_INTS) {
            const cfg_ints_t *L = CFIELD(c, k, cfg_ints_t);
            if (L->n < k->min_len || L->n > k->max_len)
                return PSR_ERR(PSR_ERR_CONFIG, "invalid config: key '%s' holds %d integers, "
                               "allowed %d to %d", k->name, L->n, k->min_len, k->max_len);
            cfg_key_t e = item_key(k);
            for (int j = 0; j < L->n; j++)
                if (!key_in_range(&e, (cfg_num_t){.i = L->v[j]})) {
                    key_allowed(&e, allowed, sizeof allowed);
                    return PSR_ERR(PSR_ERR_CONFIG, "invalid config: key '%s' item %d: found "
                                   "'%d', allowed %s", k->name, j + 1, L->v[j], allowed);
                }
            continue;
        }
        if (k->type == CT_ENUMS) {
            const cfg_enums_t *L = CFIELD(c, k, cfg_enums_t);
            if (L->n < k->min_len || L->n > k->max_len)
                return PSR_ERR(PSR_ERR_CONFIG, "invalid config: key '%s' holds %d names, "
                               "allowed %d to %d", k->name, L->n, k->min_len, k->max_len);
            for (int j = 0; j < L->n; j++)
                if (L->v[j] >= k->n_names)
                    return PSR_ERR(PSR_ERR_CONFIG, "invalid config: key '%s' item %d: found "
                                   "value %d, allowed 0 to %d", k->name, j + 1, L->v[j],
                                   k->n_names - 1);
            continue;
        }
        if (k->type == CT_PATH) {
            if (!memchr(CFIELD(c, k, char), '\0', CFG_PATH_MAX))
                return PSR_ERR(PSR_ERR_CONFIG, "invalid config: key '%s' is unterminated, "
                               "allowed a path shorter than %d bytes", k->name, CFG_PATH_MAX);
            continue;
        }
        if (!key_in_range(k, key_get(c, k))) {
            key_format(c, k, found, sizeof found);
            key_allowed(k, allowed, sizeof allowed);
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: key '%s': found '%s', allowed %s",
                           k->name, found, allowed);
        }
    }
    if (c->data.source == CFG_SOURCE_GENERATE) {
        if (c->data.train.n > 0)
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.source is 'generate' but "
                           "data.train lists files; remove data.train (--set data.train=[]) or "
                           "set data.source: files");
        if (c->data.format != CFG_FORMAT_CRITEO)
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.source 'generate' makes Criteo "
                           "rows, but data.format is '%s'; set data.format: criteo",
                           cfg_enum_name("data.format", c->data.format));
        if (c->data.gen_test_rows > 0 && c->data.test.n > 0)
            return PSR_ERR(PSR_ERR_CONFIG, "invalid config: both data.gen_test_rows and "
                           "data.test are set; evaluate on one of them");
    } else if (c->data.train.n == 0) {
        char src[120] = "";
        if (c->source[0]) {
            char e[100];
            echo(e, sizeof e, c->source, strlen(c->source), 80);
            snprintf(src, sizeof src, " (%s)", e);
        }
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: data.train is empty; set data.train in "
                       "the config file%s or with --set data.train=PATH", src);
    }
    if (c->cluster.buckets < c->cluster.servers)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: cluster.buckets (%d) is less than "
                       "cluster.servers (%d); every server must own at least one bucket",
                       c->cluster.buckets, c->cluster.servers);
    if (c->eval.every_steps > 0 && c->data.test.n == 0 &&
        !(c->data.source == CFG_SOURCE_GENERATE && c->data.gen_test_rows > 0))
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: eval.every_steps is %" PRId64 " but "
                       "data.test is empty; set data.test (or --set data.test=PATH), or set "
                       "eval.every_steps to 0", c->eval.every_steps);

    if (c->optimizer.warmup_steps > 0 && c->optimizer.warmup_examples > 0)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: optimizer.warmup_steps (%" PRId64 ") and "
                       "optimizer.warmup_examples (%" PRId64 ") are both set; give the warmup's "
                       "length one way: warmup_examples (all workers' examples, the same for any "
                       "worker count) or warmup_steps (steps of each worker)",
                       c->optimizer.warmup_steps, c->optimizer.warmup_examples);
    if (c->optimizer.decay_steps > 0 && c->optimizer.decay_examples > 0)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: optimizer.decay_steps (%" PRId64 ") and "
                       "optimizer.decay_examples (%" PRId64 ") are both set; give the decay's "
                       "end one way: decay_examples (all workers' examples, the same for any "
                       "worker count) or decay_steps (steps of each worker)",
                       c->optimizer.decay_steps, c->optimizer.decay_examples);
    if (c->optimizer.decay == CFG_DECAY_NONE && c->optimizer.decay_examples > 0)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: optimizer.decay_examples is %" PRId64
                       " but optimizer.decay is none, so nothing decays; set optimizer.decay to "
                       "linear or cosine, or remove decay_examples", c->optimizer.decay_examples);
    if (c->optimizer.decay_examples > 0 && c->optimizer.warmup_examples > 0 &&
        c->optimizer.decay_examples <= c->optimizer.warmup_examples)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: optimizer.decay_examples (%" PRId64 ") "
                       "must exceed optimizer.warmup_examples (%" PRId64 "): the decay runs from "
                       "the end of the warmup to that many examples",
                       c->optimizer.decay_examples, c->optimizer.warmup_examples);
    if (c->optimizer.decay != CFG_DECAY_NONE && c->optimizer.decay_steps == 0 &&
        c->optimizer.decay_examples == 0 && c->train.max_steps == 0)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: optimizer.decay is %s but "
                       "optimizer.decay_steps, optimizer.decay_examples and train.max_steps are "
                       "all 0, so the decay has no end; set optimizer.decay_examples (or "
                       "decay_steps, or train.max_steps), or set optimizer.decay to none", decay_names[c->optimizer.decay]);
    if (c->optimizer.decay_steps > 0 && c->optimizer.warmup_steps > 0 &&
        c->optimizer.decay_steps <= c->optimizer.warmup_steps)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: optimizer.decay_steps (%" PRId64 ") "
                       "must exceed optimizer.warmup_steps (%" PRId64 "): the decay runs from "
                       "the end of the warmup to step optimizer.decay_steps",
                       c->optimizer.decay_steps, c->optimizer.warmup_steps);
    if (!c->checkpoint.dir[0] && c->checkpoint.every_steps > 0)
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: checkpoint.every_steps is %" PRId64 " "
                       "but checkpoint.dir is empty; set checkpoint.dir (or --set "
                       "checkpoint.dir=PATH), or set checkpoint.every_steps to 0",
                       c->checkpoint.every_steps);
    if (!c->checkpoint.dir[0] && c->checkpoint.every_seconds > 0) {
        fmt_double(found, sizeof found, c->checkpoint.every_seconds);
        return PSR_ERR(PSR_ERR_CONFIG, "invalid config: checkpoint.every_seconds is %s but "
                       "checkpoint.dir is empty; set checkpoint.dir (or --set "
                       "checkpoint.dir=PATH), or set checkpoint.every_seconds to 0", found);
    }
    return validate_columns(c);
}

/* [a-z0-9_]+: safe to print as a bare YAML scalar. */
static int plain_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

/* A YAML double-quoted scalar: always quoted, so any path (with ':', '#', '*', spaces, a
 * leading '-', ...) reads back unchanged. */
static void print_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\x%02x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

void cfg_print(const cfg_t *c, FILE *f)
{
    char buf[128];
    if (c->source[0]) {
        echo(buf, sizeof buf, c->source, strlen(c->source), 100);
        fprintf(f, "# psrec effective config (loaded from %s, then --set overrides)\n", buf);
    } else {
        fprintf(f, "# psrec effective config (defaults, then --set overrides)\n");
    }
    for (int sec = 0; sec < SEC_COUNT; sec++) {
        fprintf(f, "%s:\n", cfg_sections[sec]);
        for (size_t i = 0; i < N_KEYS; i++) {
            const cfg_key_t *k = &cfg_keys[i];
            if (!key_in_section(k, sec)) continue;
            fprintf(f, "  %s: ", key_bare(k));
            if (k->type == CT_PATHS) {
                const cfg_paths_t *p = CFIELD(c, k, cfg_paths_t);
                fputc('[', f);
                for (int j = 0; j < p->n && j < CFG_MAX_PATHS; j++) {
                    if (j) fputs(", ", f);
                    print_quoted(f, p->path[j]);
                }
                fputs("]\n", f);
            } else if (k->type == CT_INTS) {
                const cfg_ints_t *L = CFIELD(c, k, cfg_ints_t);
                fputc('[', f);
                for (int j = 0; j < L->n && j < CFG_MAX_INTS; j++)
                    fprintf(f, "%s%d", j ? ", " : "", L->v[j]);
                fputs("]\n", f);
            } else if (k->type == CT_PATH && k->def_str && plain_name(CFIELD(c, k, char))) {
                fputs(CFIELD(c, k, char), f); /* a name (model.type) prints like an enum */
                fputc('\n', f);
            } else if (k->type == CT_PATH) {
                print_quoted(f, CFIELD(c, k, char));
                fputc('\n', f);
            } else if (k->type == CT_ENUMS) { /* runs of one name as NAME*K */
                const cfg_enums_t *L = CFIELD(c, k, cfg_enums_t);
                fputc('[', f);
                for (int j = 0, first = 1; j < L->n && j < CFG_MAX_COLUMNS; first = 0) {
                    int r = j + 1;
                    while (r < L->n && r < CFG_MAX_COLUMNS && L->v[r] == L->v[j]) r++;
                    const char *nm = L->v[j] < k->n_names ? k->names[L->v[j]] : "?";
                    fprintf(f, "%s%s", first ? "" : ", ", nm);
                    if (r - j > 1) fprintf(f, "*%d", r - j);
                    j = r;
                }
                fputs("]\n", f);
            } else {
                key_format(c, k, buf, sizeof buf);
                fprintf(f, "%s\n", buf);
            }
        }
    }
}

const char *cfg_enum_name(const char *key, int value)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const cfg_key_t *k = &cfg_keys[i];
        if (k->type != CT_ENUM || strcmp(k->name, key) != 0) continue;
        return value >= 0 && value < k->n_names ? k->names[value] : "unknown";
    }
    return NULL;
}

void cfg_schema_desc(const cfg_t *c, char *buf, size_t cap)
{
    /* keys=1: the feature-key hashing of common/hash.c and the reader rules of reader.h */
    size_t o = (size_t)snprintf(buf, cap, "format=%s int_mode=%s keys=1",
                                cfg_enum_name("data.format", c->data.format),
                                cfg_enum_name("data.int_mode", c->data.int_mode));
    if (c->data.format == CFG_FORMAT_CRITEO) return; /* as before columns existed */
    if (c->data.format == CFG_FORMAT_LIBSVM || c->data.format == CFG_FORMAT_LIBFFM) {
        /* the field count and what a label means are all that shape the rows (prep.h P6) */
        if (c->data.format == CFG_FORMAT_LIBFFM && o < cap)
            o += (size_t)snprintf(buf + o, cap - o, " fields=%d", c->data.fields);
        if (o < cap)
            snprintf(buf + o, cap - o, " labels=%s", cfg_click_labels(c) ? "click" : "value");
        return;
    }
    /* csv / movielens: what each column is (the keys' field numbers follow from it) */
    for (int j = 0; j < c->data.columns.n && o + 16 < cap; j++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", j ? "," : " columns=",
                              column_names[c->data.columns.v[j]]);
}

int cfg_click_labels(const cfg_t *c)
{
    if (c->model.loss == CFG_LOSS_MSE) return 0;
    return !(c->model.loss == CFG_LOSS_AUTO && c->eval.task == CFG_TASK_RATING);
}

uint64_t cfg_fingerprint(const char *desc)
{
    return psr_hash_bytes(desc, strlen(desc), 0x70737265ULL);
}

size_t cfg_packed_size(void) { return sizeof(cfg_t); }

void cfg_pack(const cfg_t *c, void *buf) { memcpy(buf, c, sizeof *c); }

void cfg_unpack(cfg_t *c, const void *buf) { memcpy(c, buf, sizeof *c); }
