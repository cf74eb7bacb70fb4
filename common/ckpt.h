/* ckpt: checkpoint storage. Compressed, checksummed data files; the YAML manifest that
 * commits a checkpoint; the commit/keep protocol; finding a checkpoint to resume; and the
 * verify/inspect reports behind `psrec ckpt`. MPI-free: the caller decides who writes what
 * (docs/CHECKPOINTS.md has the user-facing side and the reasons for these choices).
 *
 * Directory rules (checkpoint.dir = ROOT):
 *  D1. A committed checkpoint is the directory ROOT/ckpt-<step as 12+ decimal digits,
 *      zero-padded> holding manifest.yaml. It is built as ROOT/ckpt-<step>.tmp and renamed
 *      to its final name only after every file and the manifest are written and fsynced;
 *      a name ending in ".tmp" is never a checkpoint (leftover of a killed job).
 *  D2. Files inside (names are fixed, so the manifest can be checked against them):
 *        server-SSSSS.rows    one per server S (5+ digits): the rows of embedding table 0 in
 *                             every bucket the server owned, one segment per bucket, with a
 *                             bucket index
 *        server-SSSSS.tTT.rows  the same for table TT (2 digits, 01 to 07) of a model with
 *                             several tables (F7)
 *        dense.params         dense parameter blocks, one segment per block (may hold none)
 *        worker-WWWWW.state   one per worker: opaque bytes (reader position, RNG state)
 *        global.state         opaque bytes (schedule state)
 *        manifest.yaml        written last (D3)
 *      Each data file is written as .NAME.tmp, fflushed, fsynced, closed, renamed to NAME,
 *      and the directory fsynced; on error the temporary file is unlinked.
 *  D3. Commit (ckpt_commit, one rank): manifest.yaml written the same way; ckpt-<step>.tmp
 *      renamed to ckpt-<step>; ROOT fsynced; ROOT/latest (one line: the directory name)
 *      replaced via .latest.tmp + fsync + rename + fsync ROOT. Only then: committed
 *      checkpoints beyond `keep` are deleted oldest first (never the new one; each renamed
 *      to ckpt-<step>.deleting.tmp before removal, so a crash never leaves a committed
 *      directory with files missing), and leftover ckpt-*.tmp directories are removed.
 *      A committed ckpt-<step> of the same step is replaced (moved aside, then removed).
 *  D4. --resume auto picks the committed checkpoint with the largest step whose manifest
 *      loads and says the step of the directory's name, whose every file is a regular file
 *      with the size and CRC32 the manifest lists, and that ckpt_check_loadable accepts
 *      (headers against the manifest, bucket coverage, rows and digest when small); a
 *      failing one is reported (warning naming the file) and the next older tried. `latest`
 *      is for people and scripts; resume does not trust it (a crash between D3's renames can
 *      leave it one checkpoint behind), and a commit whose only failure is updating it
 *      succeeds with a warning.
 *
 * Data file rules (every .rows, .params, .state file; integers little-endian):
 *  F1. Header, 64 bytes: magic "PSRCKPT\0" (8) | version u32 (1 or 2, F7) |
 *      kind u32 (ckpt_kind_t) | header bytes u32 = 64 | level u32 (zlib level used, 0-9) |
 *      width u32 (rows: weights per row; else 0) | n_buckets u32 (rows: the job's bucket
 *      count; else 0) | rank u32 (rows: server; worker state: worker; else 0) |
 *      flags u32 = 0 | step i64 | version 1: 12 zero bytes; version 2: table u32 |
 *      n_floats u32 (rows: floats per row; else 0) | 4 zero bytes | header_crc u32 = CRC32 of
 *      bytes 0..59.
 *      Readers check magic, then version (so a future layout is reported as a version, not
 *      as corruption), then header_crc, header bytes, flags and kind.
 *  F2. Then n_segments segments, back to back from offset 64: each one complete zlib stream
 *      (deflate, zlib wrapper) of the segment's raw bytes, compressed independently so a
 *      reader can inflate one segment without touching the others.
 *  F3. Then the index: n_segments entries of 40 bytes, ids strictly increasing:
 *      offset u64 | comp_bytes u64 | raw_bytes u64 | records u64 | id u32 | crc32 u32 (of
 *      the segment's raw bytes). Segments are contiguous: the first starts at 64, each next
 *      one where the previous ends, the index where the last ends.
 *  F4. Then the trailer, 48 bytes, last in the file: index_offset u64 | raw_bytes u64 (sum
 *      over segments) | records u64 (sum) | n_segments u32 | index_crc u32 (CRC32 of the
 *      index) | payload_crc u32 (CRC32 of all raw bytes, segments in order) | trailer_crc u32
 *      (CRC32 of trailer bytes 0..35) | end magic "PSRCEND\0" (8).
 *      File size == index_offset + 40 * n_segments + 48, so any truncation is detected.
 *  F5. Payload by kind:
 *      ROWS    segment id = bucket (< n_buckets), records = rows; raw bytes = rows * (24 +
 *              4 * n_floats): per row key u64 | n_floats float32 (width weights, then the
 *              table's optimizer state: Adam m | v, adagrad's accumulators, rowwise
 *              adagrad's one accumulator) | step i64 (optimizer steps of the row) | last i64
 *              (the sender's step count after the push that last updated the row).
 *              Every key k in segment b has psr_key_bucket(k, n_buckets) == b. A bucket the
 *              server owned but that holds no rows has an empty segment.
 *      DENSE   segment id = block id, records = 1, raw = step i64 | n float32 (n >= 0).
 *      WORKER, GLOBAL  exactly one segment, id 0, records = 1, raw = the caller's bytes.
 *  F6. The manifest lists every data file with its size and the CRC32 of the whole file,
 *      so a resume can check a checkpoint byte for byte without inflating anything.
 *  F7. Tables. A model has 1 to CKPT_MAX_TABLES embedding tables, ids 0.. in declaration
 *      order (common/tables.h); each server writes one rows file per table, every bucket it
 *      owned begun in each. Table t's rows hold n_floats = width + optimizer state floats.
 *      A rows file of table 0 with n_floats = 3 * width (Adam) is written as version 1,
 *      exactly as before tables existed (byte for byte); any other rows file is version 2,
 *      whose header carries table and n_floats. A version-1 header means table 0 with
 *      n_floats = 3 * width; dense and state files are always version 1. Readers accept
 *      both versions; a version-2 header of a non-rows file has table 0 and n_floats 0.
 *
 * Manifest (manifest.yaml; YAML mapping, written with libyaml, read strictly):
 *  M1. format: CKPT_FORMAT_VERSION (checked first), step, model_fingerprint and
 *      schema_fingerprint ("0x" + hex u64), servers, workers, buckets, width (table 0's),
 *      tables (M3), optional digest (hex u64, the model digest the writer computed in
 *      memory; verify compares), files (sequence of {name, kind, rank, table, records,
 *      bytes, raw_bytes, crc32}; table is written for rows files only and defaults to 0),
 *      optional extra (mapping of string keys to string values, free-form). Unknown keys are
 *      errors.
 *  M2. files holds exactly: the rows file of every (server S, table t) for S in
 *      [0, servers), t in [0, n_tables), worker-W.state for W in [0, workers), dense.params
 *      and global.state; names match kind, rank and table (D2); only rows files have a
 *      table other than 0.
 *  M3. tables: a sequence of 1 to CKPT_MAX_TABLES mappings {name, width, floats, optimizer},
 *      in table id order: name 1-15 of [A-Za-z0-9_], distinct; width 1 to 1048576 and equal
 *      to `width` for table 0; optimizer one of psr_optim_name() (adam, adagrad,
 *      rowwise_adagrad); floats = width + psr_optim_state_floats(optimizer, width) (so
 *      never below width). A manifest without `tables` (written before tables existed) means
 *      one table: name "emb", width `width`, floats 3 * width, optimizer adam
 *      (tables_implied = 1: its name is a placeholder, which ckpt_check_tables ignores).
 *
 * Model digest (inspect, verify, and the optional manifest `digest`): the wrapping uint64
 * sum of psr_row_digest(key ^ psr_table_salt(t), floats, n_floats, step) over every row of
 * every table t (salt 0 for table 0, so one-table digests are what they were), plus
 * psr_row_digest(block id, floats, n, step) over every dense block. Row order, bucket and
 * server placement do not change it; it equals the sum of the servers' ps_table_digest().
 *
 * Use (the job, with rank 0 doing the ROOT-level steps):
 *    rank 0: ckpt_stage(root, step, &stage)            -> everyone writes into `stage`:
 *    server: per table t: ckpt_rows_create_table(&w, stage, server, t, ...); per owned
 *            bucket, increasing:
 *            ckpt_rows_bucket(w, b); ckpt_rows_put(w, key, floats, step, last)...;
 *            ckpt_writer_close(w, &info)               (ckpt_writer_abort(w) on error)
 *    dense:  ckpt_dense_create / ckpt_dense_put / ckpt_writer_close
 *    states: ckpt_write_state(stage, CKPT_KIND_WORKER, w, ...), CKPT_KIND_GLOBAL likewise
 *    rank 0: gather every ckpt_file_info_t (a plain struct: send it as bytes),
 *            ckpt_manifest_init + set_tables + add_file + set; ckpt_commit(root, &m, keep);
 *            on any failure anywhere: ckpt_abort(root, step).
 *    resume: ckpt_find(root, "auto" or DIR, &m); ckpt_check_compat(...), ckpt_check_tables;
 *            per table, ckpt_bucket_map_table tells which file holds each bucket; open it,
 *            ckpt_reader_select(r, bucket), ckpt_rows_next(...) until eof.
 * Errors: every function returns PSR_OK or a psr_err_t with psr_err_msg() naming the file
 * and the problem. Rows a reader yielded before an error must be discarded by the caller. */
#ifndef PSR_CKPT_H
#define PSR_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CKPT_FORMAT_VERSION 1 /* manifest format (M1) */
#define CKPT_FILE_VERSION 2   /* newest data file version (F1, F7); 1 is still read and written */
#define CKPT_MAX_TABLES 8     /* embedding tables per model (common/tables.h PSR_MAX_TABLES) */
#define CKPT_MAX_WIDTH (1 << 20)
#define CKPT_MAX_FLOATS (1 << 22) /* floats per row: width + optimizer state */
#define CKPT_MANIFEST "manifest.yaml"
#define CKPT_LATEST "latest"
#define CKPT_HEADER_BYTES 64
#define CKPT_INDEX_ENTRY_BYTES 40
#define CKPT_TRAILER_BYTES 48
#define CKPT_NAME_MAX 48 /* file names inside a checkpoint, with the NUL */

/* ckpt_find: no committed checkpoint at all, start fresh. Distinct from every psr_err_t. */
#define CKPT_FRESH (-1)

typedef enum {
    CKPT_KIND_NONE = 0, /* "any kind" when opening; never stored */
    CKPT_KIND_ROWS,     /* server-S.rows */
    CKPT_KIND_DENSE,    /* dense.params */
    CKPT_KIND_WORKER,   /* worker-W.state */
    CKPT_KIND_GLOBAL,   /* global.state */
    CKPT_KIND_COUNT
} ckpt_kind_t;

/* "rows", "dense", "worker", "global" ("none" for 0, "?" out of range). */
const char *ckpt_kind_name(int kind);

/* Fixed name of a file of `kind` (and rank for rows/worker) into name[CKPT_NAME_MAX]; rows:
 * table 0's. */
void ckpt_file_name(int kind, int rank, char name[CKPT_NAME_MAX]);
/* Name of the rows file of (server, table): "server-00003.rows" for table 0,
 * "server-00003.t02.rows" for table 2 (D2). */
void ckpt_rows_file_name(int server, int table, char name[CKPT_NAME_MAX]);
/* "ckpt-000000001000" into name[32]. */
void ckpt_dir_name(int64_t step, char name[32]);
/* dir + "/" + name, malloc'd (the caller frees). */
char *ckpt_join(const char *dir, const char *name);

/* What a writer reports once its file is complete; what the manifest lists per file.
 * Plain data with fixed-size fields, so ranks can send it to rank 0 as bytes. */
typedef struct {
    char name[CKPT_NAME_MAX]; /* inside the checkpoint directory, e.g. "server-00003.rows" */
    int32_t kind;             /* ckpt_kind_t */
    int32_t rank;             /* server (rows), worker (worker state), else 0 */
    uint64_t bytes;           /* file size */
    uint64_t raw_bytes;       /* uncompressed payload */
    uint64_t records;         /* rows (rows), blocks (dense), 1 (state) */
    uint32_t crc32;           /* CRC32 of the whole file */
    uint32_t n_segments;      /* buckets (rows), blocks (dense), 1 (state) */
    int32_t table;            /* embedding table (rows), else 0 */
} ckpt_file_info_t;

/* One embedding table as a checkpoint records it (M3). Plain data. */
typedef struct {
    char name[16];            /* [A-Za-z0-9_]+, NUL-terminated */
    int32_t width, n_floats;  /* weights per row; floats per row (weights + optimizer state) */
    char optim[32];           /* psr_optim_name(): "adam", "adagrad", "rowwise_adagrad" */
} ckpt_table_t;

/* ---- writing ---------------------------------------------------------------------------
 * A writer streams into DIR/.NAME.tmp with bounded memory (a deflate state, 1 MiB of output
 * buffer, a 256 KiB row buffer, 40 bytes per segment). Calls after an error return that
 * error; then ckpt_writer_abort. */
typedef struct ckpt_writer ckpt_writer_t;

/* Rows file of (server, table) in directory `dir` (normally the stage directory): table in
 * [0, CKPT_MAX_TABLES), width in [1, CKPT_MAX_WIDTH], n_floats in [width, CKPT_MAX_FLOATS]
 * (floats per row: width weights, then optimizer state), n_buckets >= 1, level 0..9.
 * PSR_ERR_USAGE for a value out of range. Version 1 for table 0 with n_floats = 3*width,
 * else version 2 (F7). */
int ckpt_rows_create_table(ckpt_writer_t **w, const char *dir, int server, int table, int width,
                           int n_floats, uint32_t n_buckets, int64_t step, int level);
/* Table 0 with Adam state: ckpt_rows_create_table(w, dir, server, 0, width, 3 * width, ...). */
int ckpt_rows_create(ckpt_writer_t **w, const char *dir, int server, int width,
                     uint32_t n_buckets, int64_t step, int level);
/* Start bucket b: buckets strictly increasing, each at most once; an owned bucket with no
 * rows is still begun (an empty segment records that the server owned it). */
int ckpt_rows_bucket(ckpt_writer_t *w, uint32_t bucket);
/* Append one row to the current bucket: n_floats floats (weights, then optimizer state; Adam:
 * w | m | v). The key must belong to the bucket (psr_key_bucket); a wrong one is
 * PSR_ERR_INTERNAL. */
int ckpt_rows_put(ckpt_writer_t *w, uint64_t key, const float *floats, int64_t step,
                  int64_t last);

/* Dense file; blocks go in by ckpt_dense_put with ids strictly increasing. */
int ckpt_dense_create(ckpt_writer_t **w, const char *dir, int64_t step, int level);
/* One dense block: n floats (weights and whatever optimizer state the caller keeps, in its
 * own layout) and its optimizer step. The floats are compressed at once, not kept. */
int ckpt_dense_put(ckpt_writer_t *w, uint32_t id, const float *floats, size_t n, int64_t step);

/* Finish: index, trailer, fflush, fsync, fclose, rename, fsync dir. Frees w in every case;
 * on error the temporary file is removed. info (may be NULL) gets the file's entry. */
int ckpt_writer_close(ckpt_writer_t *w, ckpt_file_info_t *info);
/* Discard an unfinished file (removes the temporary file) and free w. Accepts NULL. */
void ckpt_writer_abort(ckpt_writer_t *w);

/* One-shot state file (kind CKPT_KIND_WORKER with rank = worker, or CKPT_KIND_GLOBAL with
 * rank 0): `bytes` opaque bytes, n may be 0. */
int ckpt_write_state(const char *dir, int kind, int rank, int64_t step, int level,
                     const void *bytes, size_t n, ckpt_file_info_t *info);

/* ---- reading ---------------------------------------------------------------------------
 * Opening checks F1, F3, F4 (header, trailer, index: truncation, magic, version, kind and
 * the structure of every segment); reading inflates and checks each segment's CRC and raw
 * size at its end, and the payload CRC after a full pass. */
typedef struct ckpt_reader ckpt_reader_t;

typedef struct {
    uint32_t version, kind, level, width, n_buckets, rank;
    uint32_t table, n_floats; /* rows (F7; version 1: 0 and 3 * width); else 0, 0 */
    int64_t step;
    uint32_t n_segments;
    uint64_t raw_bytes, records; /* totals from the trailer */
    uint64_t file_bytes;
} ckpt_header_t;

typedef struct {
    uint64_t offset, comp_bytes, raw_bytes, records;
    uint32_t id;    /* bucket (rows), block id (dense), 0 (state) */
    uint32_t crc32; /* of the raw bytes */
} ckpt_segment_t;

/* Open `path`, expecting `kind` (CKPT_KIND_NONE: any). *r is NULL on error. */
int ckpt_reader_open(ckpt_reader_t **r, const char *path, int kind);
void ckpt_reader_close(ckpt_reader_t *r); /* accepts NULL */
const ckpt_header_t *ckpt_reader_header(const ckpt_reader_t *r);
/* The index: n_segments entries in id order, owned by r. */
const ckpt_segment_t *ckpt_reader_segments(const ckpt_reader_t *r);
/* Index of the segment with id `id`, or -1. */
int64_t ckpt_reader_find(const ckpt_reader_t *r, uint32_t id);
/* Restrict the next reads to segment `id` (a bucket, a dense block). Without a select, a
 * reader goes through every segment in order. Missing id: PSR_ERR_FORMAT. */
int ckpt_reader_select(ckpt_reader_t *r, uint32_t id);

typedef struct {
    uint64_t key;
    const float *floats; /* (n_floats): weights, then optimizer state; owned by the reader,
                          * valid until its next call */
    int64_t step, last;
    uint32_t bucket;
} ckpt_row_t;

/* Next row; *eof = 1 (and PSR_OK) when the file, or the selected bucket, is done. */
int ckpt_rows_next(ckpt_reader_t *r, ckpt_row_t *row, int *eof);

typedef struct {
    uint32_t id;
    size_t n;            /* floats */
    int64_t step;
    const float *floats; /* (n), owned by the reader, valid until its next call */
} ckpt_dense_block_t;

/* Next dense block; *eof = 1 when done. */
int ckpt_dense_next(ckpt_reader_t *r, ckpt_dense_block_t *b, int *eof);

/* Whole state file of `kind` into a malloc'd *bytes (caller frees; non-NULL even when *n
 * is 0), fully verified. */
int ckpt_read_state(const char *path, int kind, void **bytes, size_t *n);

/* ---- manifest -------------------------------------------------------------------------- */
typedef struct {
    char *key, *value;
} ckpt_kv_t;

typedef struct {
    char *dir;          /* checkpoint directory it was loaded from; NULL when built */
    int version;        /* CKPT_FORMAT_VERSION */
    int64_t step;
    uint64_t model_fp, schema_fp;
    int n_servers, n_workers;
    uint32_t n_buckets;
    int width;          /* table 0's width (tables[0].width) */
    int n_tables;       /* [1, CKPT_MAX_TABLES] */
    ckpt_table_t tables[CKPT_MAX_TABLES]; /* (n_tables), by table id (M3) */
    int tables_implied; /* loaded from a manifest without `tables` (M3) */
    int has_digest;     /* digest below is set (optional manifest key) */
    uint64_t digest;    /* model digest computed in memory by the writer */
    int n_files;
    ckpt_file_info_t *files; /* (n_files) */
    int n_extra;
    ckpt_kv_t *extra;        /* (n_extra), free-form, e.g. {"model.type", "fm"} */
} ckpt_manifest_t;

/* A manifest without files, holding one table: "emb", `width`, 3 * width floats, adam (what
 * a manifest without `tables` means; ckpt_manifest_set_tables replaces it). */
void ckpt_manifest_init(ckpt_manifest_t *m, int64_t step, uint64_t model_fp, uint64_t schema_fp,
                        int n_servers, int n_workers, uint32_t n_buckets, int width);
/* The model's tables t[0 .. n), n in [1, CKPT_MAX_TABLES]; also sets m->width to t[0].width.
 * Values, n included, are checked where the manifest is (ckpt_commit: PSR_ERR_FORMAT, M3);
 * at most CKPT_MAX_TABLES entries are ever read from t. */
void ckpt_manifest_set_tables(ckpt_manifest_t *m, int n, const ckpt_table_t *t);
void ckpt_manifest_free(ckpt_manifest_t *m); /* accepts a zeroed or freed manifest */
void ckpt_manifest_add_file(ckpt_manifest_t *m, const ckpt_file_info_t *f);
/* Set (or replace) a free-form key. Keys: 1-64 bytes of [A-Za-z0-9_.-]; values: any text
 * without NUL, at most 4096 bytes. PSR_ERR_USAGE otherwise. */
int ckpt_manifest_set(ckpt_manifest_t *m, const char *key, const char *value);
const char *ckpt_manifest_get(const ckpt_manifest_t *m, const char *key); /* NULL if unset */
/* Index into m->files of the file of (kind, rank), or -1; rows: table 0's. */
int ckpt_manifest_find_file(const ckpt_manifest_t *m, int kind, int rank);
/* Index into m->files of the rows file of (table, server), or -1. */
int ckpt_manifest_find_rows(const ckpt_manifest_t *m, int table, int server);

typedef enum {
    CKPT_CHECK_NONE = 0, /* parse and validate the manifest only */
    CKPT_CHECK_SIZE,     /* + every file exists with the listed size */
    CKPT_CHECK_CRC,      /* + every file's CRC32 matches (reads every byte, inflates none) */
    CKPT_CHECK_COUNT
} ckpt_check_t;

/* Load DIR/manifest.yaml into m (initialised here; ckpt_manifest_free it even on error) and
 * check the files to `level`. Errors name the file and what differs. */
int ckpt_manifest_load(const char *dir, ckpt_manifest_t *m, int level);

/* Check file m->files[i] of a loaded manifest to `level` (what ckpt_manifest_load does for
 * every file), so that ranks can share the CRC reading of a large checkpoint. */
int ckpt_check_file(const ckpt_manifest_t *m, int i, int level);

/* The checkpoint fits the running job: same model and schema fingerprints and table 0's row
 * width. PSR_ERR_CONFIG naming what differs otherwise. (Server and worker counts may differ;
 * see ckpt_check_buckets for the bucket count, ckpt_check_tables for the other tables.) */
int ckpt_check_compat(const ckpt_manifest_t *m, uint64_t model_fp, uint64_t schema_fp,
                      int width);
/* The checkpoint holds the job's tables t[0 .. n): same count, and per table the same name,
 * width, floats per row and optimizer. PSR_ERR_CONFIG naming the checkpoint, the table and
 * the first difference otherwise. The placeholder name of an implied table (M3) matches any. */
int ckpt_check_tables(const ckpt_manifest_t *m, int n, const ckpt_table_t *t);
/* Same bucket count (rows are placed by bucket, so it cannot change on resume). */
int ckpt_check_buckets(const ckpt_manifest_t *m, uint32_t n_buckets);

/* ---- commit, abort, find --------------------------------------------------------------- */

/* Create ROOT (mkdir -p) and an empty ROOT/ckpt-<step>.tmp (an old one of that name is
 * removed first). *stage: its malloc'd path. */
int ckpt_stage(const char *root, int64_t step, char **stage);
/* Commit the staged checkpoint m->step (D3): checks that every file in m exists in the stage
 * with its size, writes the manifest, renames, updates `latest`, prunes to the `keep`
 * newest (keep <= 0: keep all) and removes leftover ckpt-*.tmp. Pruning problems are
 * warnings. *final (may be NULL) gets the malloc'd committed path. An error before the
 * rename leaves nothing committed (call ckpt_abort); an error in the fsync of ROOT after it
 * is still returned, but the checkpoint stands and resume will find it; failing to update
 * `latest` is only a warning that says so (PSR_OK). */
int ckpt_commit(const char *root, const ckpt_manifest_t *m, int keep, char **final);
/* Remove ROOT/ckpt-<step>.tmp and its contents (after a failed checkpoint). */
void ckpt_abort(const char *root, int64_t step);
/* Contents of ROOT/latest without the newline into buf; PSR_ERR_IO if absent. */
int ckpt_read_latest(const char *root, char *buf, size_t size);

/* resume = "auto": the newest usable checkpoint in ROOT (D4; warnings for the skipped),
 * CKPT_FRESH when ROOT is missing or holds none, PSR_ERR_FORMAT when it holds some and none
 * is usable. resume = a directory: exactly that checkpoint, verified to CKPT_CHECK_CRC and by
 * ckpt_check_loadable (ckpt_inflate_max()), its name's step checked, or an error (root is not
 * used). On PSR_OK, m is loaded and m->dir names the checkpoint;
 * free m in every case. */
int ckpt_find(const char *root, const char *resume, ckpt_manifest_t *m);

/* Raw bytes up to which ckpt_find inflates a whole checkpoint (and compares the digest)
 * before accepting it; larger ones get every header and index checked, not the rows. */
#define CKPT_INFLATE_MAX ((uint64_t)256 << 20)
/* That bound: the environment variable PSREC_RESUME_INFLATE_MAX (bytes) when set, else
 * CKPT_INFLATE_MAX (a warning for a value that is not a byte count). */
uint64_t ckpt_inflate_max(void);

/* Everything a load would trip over, checked before a job commits to a checkpoint (ckpt_find
 * calls it for every candidate): each file opens as a regular file, its header, index and
 * trailer are sound, and its header agrees with the manifest (kind, step, rank, table,
 * width, floats per row, bucket count, records and raw bytes), so a file from another
 * checkpoint or another rank is refused; every bucket of every table is in exactly one rows
 * file. When the listed raw bytes total at most inflate_max, every segment is also inflated
 * and checked and the model digest compared with the manifest's (when it has one).
 * PSR_ERR_FORMAT (or PSR_ERR_IO) naming the file and the difference. */
int ckpt_check_loadable(const ckpt_manifest_t *m, uint64_t inflate_max);

/* Where each bucket lives: reads every rows file's index (not its rows). */
typedef struct {
    int32_t file;     /* index into m->files */
    uint32_t segment; /* index into that file's segments */
    uint64_t rows;
} ckpt_bucket_loc_t;
/* locs[m->n_buckets] for table `table`: every bucket must be in exactly one of that table's
 * rows files (PSR_ERR_FORMAT), whose headers must match the manifest (table, width, floats,
 * buckets, step). PSR_ERR_USAGE for a table the manifest does not have. */
int ckpt_bucket_map_table(const ckpt_manifest_t *m, int table, ckpt_bucket_loc_t *locs);
/* ckpt_bucket_map_table(m, 0, locs). */
int ckpt_bucket_map(const ckpt_manifest_t *m, ckpt_bucket_loc_t *locs);

/* ---- reports (psrec ckpt) -------------------------------------------------------------- */

/* `psrec ckpt verify DIR`: checks the manifest, then every file: size and CRC32 against the
 * manifest, header against the manifest (rows: table, width, floats per row), every segment
 * inflated and checked, every key in its bucket, no key twice in a bucket, every bucket of
 * every table in exactly one of that table's rows files, the digest when the manifest has
 * one. One line per file ("OK name ..." or "FAIL name: problem"), then a summary. PSR_OK
 * only if everything verifies. */
int ckpt_verify_print(const char *dir, FILE *out);
/* `psrec ckpt inspect DIR`: step, counts, one line per table ("table T NAME: width W floats
 * F optimizer O rows R bytes B", B the compressed bytes of its rows files), rows per server
 * (all tables), rows per bucket min/mean/max (all tables), bytes raw and compressed per kind
 * and in total with ratios (raw / compressed), and "digest: <16 hex digits>" (the model
 * digest). Reads every row, checking as it goes; an error stops it. */
int ckpt_inspect_print(const char *dir, FILE *out);

/* ---- the job's side (launch/ckjob.c) ---------------------------------------------------
 * A checkpoint is collective: every rank calls hook->run(hook->job, step, part, ctx) at the
 * same checkpoint, once workers have stopped between steps and servers have applied every
 * push. run stages the directory on rank 0, calls part() on every rank to write that rank's
 * files into it, gathers the entries, commits on rank 0 and returns the same status on every
 * rank (a failure anywhere leaves the previous checkpoints as they were). */
#define CKPT_MAX_PART_FILES (CKPT_MAX_TABLES + 1) /* a server: its rows files and dense.params */
typedef struct {
    int32_t n_files;
    int32_t pad;
    ckpt_file_info_t files[CKPT_MAX_PART_FILES];
    uint64_t digest; /* this rank's share of the model digest (see above) */
} ckpt_part_t;
typedef int (*ckpt_part_fn)(void *ctx, const char *stage, int64_t step, int level,
                            ckpt_part_t *out);
typedef struct {
    void *job; /* NULL: checkpoints are off */
    int (*run)(void *job, int64_t step, ckpt_part_fn part, void *ctx);
} ckpt_hook_t;

#endif
