/* config: the job configuration, loaded from YAML (libyaml), overridden by --set, validated,
 * and broadcast as a flat byte image.
 *
 * The schema is one table (config.c `cfg_keys[]`): {section.key, type, min, max, default,
 * offset}. Invariants:
 *  1. Every key has a default; cfg_defaults() yields a valid config except for data.train.
 *  2. Unknown sections/keys, wrong types, out-of-range values and duplicate keys are errors,
 *     never clamped. Messages name the file, line and key, what was found and what is allowed.
 *  3. cfg_pack/cfg_unpack round-trip exactly (same bytes -> same struct).
 *  4. Unused tails (path bytes past the NUL, int-list entries past n) are zero, so equal
 *     configs have equal bytes. */
#ifndef PSR_CONFIG_H
#define PSR_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Text format of the input files (docs/DATA.md). Training reads criteo text directly; csv and
 * movielens text is converted by `psrec prep` (docs/BLOCKS.md). */
enum cfg_data_format {
    CFG_FORMAT_CRITEO,    /* label, 13 integer, 26 categorical tab-separated fields */
    CFG_FORMAT_CSV,       /* columns described by data.columns, split at data.separator */
    CFG_FORMAT_MOVIELENS, /* "::"-separated; data.columns defaults to user, item, label, ignore */
    CFG_FORMAT_LIBSVM,    /* "label idx:val ...": one field of weighted features (prep.h P6) */
    CFG_FORMAT_LIBFFM,    /* "label field:idx:val ...": data.fields fields (prep.h P6) */
    CFG_FORMAT_COUNT
};
/* Kind of one text column of a csv / movielens file (data.columns). */
enum cfg_column {
    CFG_COL_LABEL,  /* the target: a number; exactly one per row */
    CFG_COL_DENSE,  /* a number (may be empty): a feature by data.int_mode, and a dense input */
    CFG_COL_CAT,    /* a categorical token: one feature */
    CFG_COL_MULTI,  /* tokens split at data.multi_separator: one feature each */
    CFG_COL_USER,   /* categorical, marked as the user id (at most one) */
    CFG_COL_ITEM,   /* categorical, marked as the item id (at most one) */
    CFG_COL_IGNORE, /* skipped */
    CFG_COL_TIME,   /* integer seconds (at most one): time-ordered splits, histories */
    CFG_COL_COUNT
};
/* Column separator of csv files (movielens always uses "::"). */
enum cfg_separator {
    CFG_SEP_TAB, CFG_SEP_COMMA, CFG_SEP_SEMICOLON, CFG_SEP_PIPE, CFG_SEP_SPACE,
    CFG_SEP_DOUBLE_COLON, CFG_SEP_COUNT
};
/* Separator between the tokens of a multi column. */
enum cfg_multi_separator {
    CFG_MSEP_PIPE, CFG_MSEP_COMMA, CFG_MSEP_SEMICOLON, CFG_MSEP_SPACE, CFG_MSEP_COLON,
    CFG_MSEP_COUNT
};
/* How the 13 Criteo integer columns enter the model (docs/CONFIG.md). */
enum cfg_int_mode {
    CFG_INT_BUCKET, /* log-bucketized, one categorical key per (field, bucket) */
    CFG_INT_DENSE,  /* one key per field with value log(1 + max(x, 0)) */
    CFG_INT_MODE_COUNT
};
/* How the dense (MLP) weights of deepfm/dlrm are kept consistent across workers. */
enum cfg_dense_sync {
    CFG_DENSE_PS,        /* held by the servers: pushed and pulled like embedding rows */
    CFG_DENSE_ALLREDUCE, /* replicated on every worker; gradients all-reduced each step */
    CFG_DENSE_SYNC_COUNT
};
/* Where training rows come from (data.source). */
enum cfg_source { CFG_SOURCE_FILES, CFG_SOURCE_GENERATE, CFG_SOURCE_COUNT };
/* Planted model of generated rows (data.gen_truth; enum gen_truth of common/gen.h). */
enum cfg_truth { CFG_TRUTH_FM, CFG_TRUTH_DEEP, CFG_TRUTH_COUNT };
/* How servers store embedding rows (docs/CONFIG.md, embedding). */
enum cfg_precision { CFG_PRECISION_FP32, CFG_PRECISION_FP16, CFG_PRECISION_COUNT };
/* How the data are split into training and test rows (data.split). */
enum cfg_split {
    CFG_SPLIT_FILES,          /* data.train and data.test */
    CFG_SPLIT_RANDOM,         /* a seeded data.test_fraction of data.train's rows */
    CFG_SPLIT_LEAVE_LAST_OUT, /* each user's latest interaction (by the time column) */
    CFG_SPLIT_COUNT
};
/* Training loss (model.loss); auto: the task's (bce for clicks and implicit feedback, mse
 * for ratings). The others follow enum wk_loss_kind (worker/loss.h) shifted by one. */
enum cfg_loss { CFG_LOSS_AUTO, CFG_LOSS_BCE, CFG_LOSS_MSE, CFG_LOSS_BPR, CFG_LOSS_COUNT };
/* How negatives are drawn from the item catalogue (model.negative_sampler). */
enum cfg_sampler { CFG_SAMPLER_UNIFORM, CFG_SAMPLER_POPULARITY, CFG_SAMPLER_COUNT };
/* Evaluation task (eval.task); auto: the model's own. */
enum cfg_task { CFG_TASK_AUTO, CFG_TASK_CTR, CFG_TASK_RATING, CFG_TASK_TOPK, CFG_TASK_COUNT };
/* Top-K protocol (eval.protocol). */
enum cfg_protocol { CFG_PROTOCOL_FULL, CFG_PROTOCOL_SAMPLED, CFG_PROTOCOL_COUNT };
/* Learning-rate schedule after the warmup (docs/CONFIG.md, optimizer). */
enum cfg_decay { CFG_DECAY_NONE, CFG_DECAY_LINEAR, CFG_DECAY_COSINE, CFG_DECAY_COUNT };

#define CFG_MAX_PATHS 256   /* entries of data.train / data.test */
#define CFG_PATH_MAX 1024   /* bytes per entry, NUL included */
#define CFG_SOURCE_MAX 1024 /* bytes of the config file name kept for messages */
#define CFG_MAX_INTS 16     /* entries of an integer list (model.mlp, ...) */
#define CFG_MAX_COLUMNS 1024 /* entries of an enum list (data.columns) */

typedef struct {
    int n;                             /* entries used */
    char path[CFG_MAX_PATHS][CFG_PATH_MAX]; /* paths or glob patterns, as written */
} cfg_paths_t;

typedef struct {
    int n;                /* entries used */
    int v[CFG_MAX_INTS];  /* v[0, n) as written; v[n, CFG_MAX_INTS) are 0 */
} cfg_ints_t;

typedef struct {
    int n;                              /* entries used */
    unsigned char v[CFG_MAX_COLUMNS];   /* v[0, n): enum values; v[n, CFG_MAX_COLUMNS) are 0 */
} cfg_enums_t;

typedef struct {
    char source[CFG_SOURCE_MAX]; /* file the config came from ("" for defaults only) */
    struct {
        int servers;  /* first `servers` ranks are parameter servers; [1, 65536], default 1 */
        int buckets;  /* virtual buckets; [1, 1048576], default 4096 */
        int idle;     /* enum psr_idle_mode (common/idle.h): "auto" (default) | "poll" | "yield" */
    } cluster;
    struct {
        int format;          /* enum cfg_data_format; "criteo" */
        cfg_paths_t train;   /* required, non-empty */
        cfg_paths_t test;    /* optional; empty means no evaluation */
        int int_mode;        /* enum cfg_int_mode; "bucket" (default) | "dense" */
        int64_t max_bad_rows;/* malformed rows tolerated per worker; [0, 2^62], default 100 */
        cfg_enums_t columns; /* csv/movielens: enum cfg_column per text column; default [] */
        int separator;       /* enum cfg_separator; csv column separator, default "comma" */
        int multi_separator; /* enum cfg_multi_separator; within multi columns, default "pipe" */
        int header_lines;    /* csv/movielens/libsvm/libffm: lines skipped at the top of each
                                file; [0, 1000000], default 0 */
        int fields;          /* libffm: fields of the rows (field indices 0 .. fields-1); [0, 1024],
                                default 0; required with libffm, 0 with every other format */
        int shuffle_buffer;  /* rows shuffled together by the training reader (text, generated or blocks); 0 = off; [0, 2^30], default 0 */
        int source;          /* enum cfg_source; "files" (default) | "generate" */
        int64_t gen_rows;    /* generate: training rows per epoch; [1, 2^62], default 1000000 */
        int64_t gen_test_rows; /* generate: test rows (0 = none); [0, 2^62], default 0 */
        uint64_t gen_seed;   /* generate: seed of the planted model; [0, 2^63), default 1 */
        int gen_truth;       /* generate: enum cfg_truth; "fm" (default) | "deep" */
        int split;           /* enum cfg_split; "files" (default) | "random" | "leave_last_out" */
        double test_fraction;/* split random: share of rows held out; (0, 1), default 0.2 */
        double min_rating;   /* top-K task: rows with a lower label are not positives;
                                [0, 1e9], default 0 (labels > 0 are positives) */
    } data;
    struct {
        char type[CFG_PATH_MAX]; /* a registered model (worker/model.c): lr, fm, deepfm, dlrm,
                                    mf, neumf, pop; default "fm" */
        int dim;         /* FM factor / embedding dimension; [1, 1024], default 8 */
        double init_std; /* std of the initial factors; [0, 10], default 0.01 */
        cfg_ints_t mlp;        /* deepfm: MLP hidden widths; 0 to 16 items, each [1, 65536],
                                  default [400, 400, 400] */
        cfg_ints_t bottom_mlp; /* dlrm: bottom MLP widths; 1 to 16 items, each [1, 65536],
                                  default [512, 256, 16]; last == dim for dlrm */
        cfg_ints_t top_mlp;    /* dlrm: top MLP widths; 1 to 16 items, each [1, 65536],
                                  default [512, 256, 1]; last == 1 for dlrm */
        double dropout;  /* drop rate of hidden MLP activations in training; [0, 1), default 0 */
        cfg_ints_t tower;      /* neumf: MLP tower widths; 1 to 16 items, default [64, 32, 16] */
        double l2;             /* mf, neumf: L2 penalty on user and item rows per occurrence;
                                  [0, 1000], default 0 */
        int loss;              /* enum cfg_loss; "auto" (default) | "bce" | "mse" | "bpr" */
        int negatives;         /* negatives sampled per positive (implicit feedback);
                                  [1, 1000], default 4 */
        int negative_sampler;  /* enum cfg_sampler; "uniform" (default) | "popularity" */
    } model;
    struct {
        double lr;           /* Adam step size; (0, 100], default 0.01 */
        double beta1;        /* [0, 1), default 0.9 */
        double beta2;        /* [0, 1), default 0.999 */
        double eps;          /* (0, 1], default 1e-8 */
        double weight_decay; /* decoupled L2 factor per update; [0, 1], default 0 */
        double clip_norm;    /* global-norm clip of a batch gradient; 0 = off; [0, 1e12], default 0 */
        int64_t warmup_steps;/* steps over which the lr rises linearly to lr; [0, 2^62], default 0 */
        int decay;           /* enum cfg_decay; "none" (default) | "linear" | "cosine" */
        int64_t decay_steps; /* step at which decay reaches min_lr_ratio * lr; 0 = train.max_steps;
                                [0, 2^62], default 0 */
        int64_t warmup_examples; /* warmup_steps counted in training examples of all workers
                                    together (common/schedule.h); [0, 2^62], default 0 */
        int64_t decay_examples;  /* decay_steps counted in training examples of all workers;
                                    [0, 2^62], default 0 */
        double min_lr_ratio; /* final lr as a fraction of lr; [0, 1], default 0 */
        double initial_accumulator; /* adagrad / rowwise_adagrad: accumulator at the start;
                                       [0, 1000], default 0 */
    } optimizer;
    struct {
        int epochs;             /* passes over data.train; [1, 1000000], default 1 */
        int batch_size;         /* rows per worker step; [1, 1048576], default 1024 */
        int max_staleness;      /* steps a worker may run ahead of the slowest; [0, 1000000], default 1 */
        int64_t max_steps;      /* stop after this many steps per worker; 0 = no limit; [0, 2^62], default 0 */
        uint64_t seed;          /* seeds parameter init and every RNG; [0, 2^63), default 1 */
        double progress_seconds;/* seconds between progress lines; [0.1, 86400], default 5 */
        int dense_sync;         /* enum cfg_dense_sync; "ps" | "allreduce" (default) */
        int dense_pull_every;   /* dense_sync ps: pull dense weights every N steps; [1, 1000000], default 1 */
        char metrics_file[CFG_PATH_MAX]; /* JSON lines of progress, eval, checkpoint and result
                                            (common/metrics_file.h); "" (default) = none */
    } train;
    struct {
        int64_t every_steps; /* evaluate on data.test every N worker steps; 0 = only at the end; [0, 2^62], default 0 */
        int task;            /* enum cfg_task; "auto" (default): the model's own */
        int k;               /* top-K list length; [1, 1000], default 10 */
        int protocol;        /* enum cfg_protocol; "full" (default) | "sampled" */
        int negatives;       /* sampled protocol: negatives per held-out item; [1, 100000], default 100 */
    } eval;
    struct {
        char dir[CFG_PATH_MAX]; /* checkpoint directory, as written; "" (default) = checkpoints off */
        int64_t every_steps;    /* checkpoint every N worker steps; 0 = not by steps; [0, 2^62], default 0 */
        double every_seconds;   /* checkpoint every N seconds; 0 = not by time; [0, 1e9], default 0 */
        int keep;               /* complete checkpoints kept, older ones deleted; [1, 1000000], default 3 */
        int level;              /* zlib compression level of checkpoint files; [0, 9], default 1 */
    } checkpoint;
    struct {
        int64_t max_rows;     /* rows per server; the least recently updated are evicted beyond
                                 it; 0 = no limit; [0, 2^62], default 0 */
        int64_t min_count;    /* pushes of an id before it gets a row (count-min sketch);
                                 0 or 1 = at once; [0, 1e9], default 0 */
        int64_t ttl_steps;    /* rows not updated for this many steps are dropped; 0 = never;
                                 [0, 2^62], default 0 */
        int64_t sketch_width; /* counters per row of the min_count sketch (4 rows);
                                 [1024, 2^30], default 2^20 */
        int precision;        /* enum cfg_precision; "fp32" (default) | "fp16" */
        int optimizer;        /* enum psr_optim_kind of every table; "adam" (default) |
                                 "adagrad" | "rowwise_adagrad" */
        cfg_paths_t tables;   /* per-table settings "TABLE.KEY=VALUE", KEY optimizer or
                                 init_std; default [] (checked against the model's tables) */
    } embedding;
} cfg_t;

/* Fill `c` with every default (data.train left empty). */
void cfg_defaults(cfg_t *c);

/* Load YAML `path` over the current contents of `c` (call cfg_defaults first).
 * Returns PSR_OK, or PSR_ERR_CONFIG / PSR_ERR_IO with psr_err_msg() set to one line such as
 *   "cfg.yaml:12: key 'train.epochs': found '-3', allowed an integer in [1, 1000000]". */
int cfg_load_file(cfg_t *c, const char *path);

/* Same as cfg_load_file but from an in-memory YAML text; `name` is used in messages. */
int cfg_load_string(cfg_t *c, const char *yaml, const char *name);

/* Apply one "--set section.key=value" override. The value is parsed as a YAML scalar or
 * flow sequence ("[a.tsv, b.tsv]", "[64, 32]"); a scalar given for a path list or an integer
 * list is a one-element list.
 * Errors name the override: "--set train.epochs=x: key 'train.epochs': found 'x', ...". */
int cfg_set(cfg_t *c, const char *assignment);

/* Cross-key checks after loading and overrides (e.g. data.train non-empty). */
int cfg_validate(const cfg_t *c);

/* Write the effective config as YAML (every key, lists in flow style) to `f`. */
void cfg_print(const cfg_t *c, FILE *f);

/* Name of `value` of enum key `key` ("section.key"), as written in YAML:
 * cfg_enum_name("train.dense_sync", CFG_DENSE_PS) is "ps". Returns "unknown" when the value is
 * out of range and NULL when `key` is not an enum key (a caller's bug). Static storage. */
const char *cfg_enum_name(const char *key, int value);

/* One-line description of how rows become features ("format=criteo int_mode=bucket keys=1");
 * checkpoints store it, and the model's (worker/model.h wk_model_desc), with their
 * fingerprints (cfg_fingerprint) and refuse to load into a config that differs. */
void cfg_schema_desc(const cfg_t *c, char *buf, size_t cap);
uint64_t cfg_fingerprint(const char *desc);

/* 1 when labels are clicks for the training loss (bce: model.loss bce, or auto without
 * eval.task rating), 0 when they are values (mse). libsvm / libffm labels depend on it
 * (prep.h P6); their rows have no user or item, so only the click models (lr, fm, deepfm,
 * dlrm) train on them and an auto loss is bce unless eval.task is rating. */
int cfg_click_labels(const cfg_t *c);

/* Flat byte image for MPI_Bcast: cfg_t is plain data, so this is a copy; kept as functions
 * so the image can become versioned without touching callers. */
size_t cfg_packed_size(void);
void cfg_pack(const cfg_t *c, void *buf);
void cfg_unpack(cfg_t *c, const void *buf);

#endif
