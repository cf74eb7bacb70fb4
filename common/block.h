/* block: the binary block format written by `psrec prep` (.psrb files): rows with their
 * features already hashed, in blocks that are compressed and CRC-checked independently, with
 * an index at the end so a reader can fetch any block with one seek. MPI-free. The user view
 * is docs/BLOCKS.md; these rules are the contract (integers little-endian, CRC32 is zlib's
 * crc32, "f32" an IEEE-754 float).
 *
 * File rules:
 *  B1. Header: 64 fixed bytes, then a field table of 8 bytes per field.
 *        0 magic "PSRBLK\0\0" (8) | 8 version u32 = BLK_FORMAT_VERSION |
 *        12 header_bytes u32 = 64 + 8 * n_fields | 16 schema_fp u64 (B2) |
 *        24 format u32 (enum cfg_data_format of the source text; informational) |
 *        28 int_mode u32 (enum cfg_int_mode the keys were made with) |
 *        32 n_fields u32 in [1, BLK_MAX_FIELDS] | 36 n_dense u32 (= fields of kind DENSE) |
 *        40 user_field i32 | 44 item_field i32 (field of kind USER / ITEM, or -1) |
 *        48 block_rows u32 in [1, BLK_MAX_BLOCK_ROWS] (the writer's rows per block) |
 *        52 level u32 (zlib level, 0-9) | 56 flags u32 = 0 |
 *        60 header_crc u32 = CRC32 of bytes 0..59 followed by the field table.
 *      Field table entry f (f = 0 .. n_fields-1, the feature field index used in keys):
 *        kind u8 (blk_field_kind_t) | 0 u8 | column u16 (1-based column of the source text) |
 *        4 zero bytes.
 *      Readers check the magic, then the version (so a newer layout is reported as a version,
 *      not as corruption), then header_crc, then every value.
 *  B2. schema_fp = blk_schema_fingerprint(): a hash of (int_mode, n_fields, n_dense,
 *      user_field, item_field, the kind of every field). The keys of a row depend on exactly
 *      these, so two files with equal fingerprints hold comparable features; the source
 *      format, columns, block size and level do not enter it.
 *  B3. Blocks follow the header back to back. Each is a 32-byte frame, then comp_bytes bytes:
 *        "PSRB" (4) | n_rows u32 | n_feats u32 | n_keys u32 | flags u32 | raw_bytes u32 |
 *        comp_bytes u32 | crc32 u32 (CRC32 of the comp_bytes stored bytes that follow)
 *      The stored bytes are one zlib stream (deflate with the zlib wrapper) of the block's
 *      raw payload (B4), which is exactly raw_bytes long. 1 <= n_rows <= block_rows;
 *      n_feats <= BLK_MAX_BLOCK_FEATS; n_keys <= n_feats, and n_keys >= 1 when n_feats >= 1.
 *  B4. Raw payload: these sections in this order, each padded with zero bytes to a multiple
 *      of 8 bytes (so raw_bytes is a function of n_rows, n_feats, n_keys, n_dense, flags):
 *        label f32[n_rows] |
 *        dense f32[n_dense * n_rows], column-major: dense value d of row r at d * n_rows + r |
 *        unless FIXED: count u32[n_rows] (features per row), field u16[n_feats] |
 *        index u16[n_feats] if IDX16 else u32[n_feats]: in feature order (B5), except in a
 *          FIXED block, column-major: the entry of row r, field f at f * n_rows + r |
 *        unless ONES: value f32[n_feats], in feature order |
 *        keys u64[n_keys]
 *      (Columns compress much better than rows: a field's values repeat down a column.)
 *      flags: BLK_F_FIXED: every row has n_fields features, its j-th in field j (so
 *      n_feats = n_rows * n_fields, and count and field are absent); BLK_F_ONES: every
 *      feature value is 1 (value absent); BLK_F_IDX16: index entries are u16
 *      (n_keys <= 65536). Other bits are 0.
 *  B5. Rows: row i owns features [off_i, off_i + count_i), off_i the sum of the counts before
 *      it. Feature j has field[j] < n_fields, key keys[index[j]] (index[j] < n_keys) and
 *      value value[j]. Within a row, fields do not decrease. Each key of the table is a
 *      distinct 64-bit feature key (stored once per block, in first-use order).
 *      A schema without MULTI fields has every block FIXED.
 *  B6. Index, right after the last block: n_blocks entries of 40 bytes:
 *        offset u64 | n_rows u32 | n_feats u32 | n_keys u32 | flags u32 | raw_bytes u32 |
 *        comp_bytes u32 | crc32 u32 | 0 u32
 *      each equal to its block's frame (B3). Blocks are contiguous: the first at
 *      header_bytes, each next at offset + 32 + comp_bytes, the index where the last ends.
 *  B7. Trailer, 48 bytes, last in the file:
 *        index_offset u64 | n_blocks u64 | n_rows u64 (sum) | n_feats u64 (sum) |
 *        index_crc u32 (CRC32 of the index) | trailer_crc u32 (CRC32 of trailer bytes 0..35) |
 *        end magic "PSRBEND\0" (8)
 *      File size == index_offset + 40 * n_blocks + 48, so any truncation is detected when the
 *      file is opened. A file with no rows has no blocks and is valid.
 *  B8. Blocks are numbered from 0 in file order. Every error about a block names the file and
 *      the block: "FILE: block K: ..." (PSR_ERR_FORMAT for corrupt content, PSR_ERR_IO for a
 *      failed read).
 *  B9. Writers write DIR/.NAME.tmp, then fflush, fsync, fclose, rename to DIR/NAME and fsync
 *      DIR: a file under its final name is always complete.
 *
 * Features (what a row means):
 *  - Criteo (blk_schema_criteo): exactly the features of common/reader.h rule 2 for the
 *    same data.int_mode: 39 fields (0..12 DENSE, 13..38 CAT), one feature per field, and the
 *    13 dense values. A row read back as rd_row_t is bit-identical to rd_next's.
 *  - csv / movielens: docs/BLOCKS.md ("Features of csv and movielens rows").
 *
 * Memory: a writer holds one block (at most block_rows rows and BLK_MAX_BLOCK_FEATS
 * features) plus 40 bytes of index per finished block; a reader one decoded block. */
#ifndef PSR_BLOCK_H
#define PSR_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"

#define BLK_FORMAT_VERSION 1
#define BLK_SUFFIX ".psrb"
#define BLK_HEADER_FIXED 64
#define BLK_FIELD_ENTRY_BYTES 8
#define BLK_FRAME_BYTES 32
#define BLK_INDEX_ENTRY_BYTES 40
#define BLK_TRAILER_BYTES 48
#define BLK_MAX_FIELDS 1024             /* fields of a schema */
#define BLK_MAX_BLOCK_ROWS 65536        /* rows of a block (--block-rows at most) */
#define BLK_MAX_BLOCK_FEATS (1 << 21)   /* features of a block */
#define BLK_MAX_ROW_FEATS 65536         /* features of one row */
#define BLK_DEFAULT_BLOCK_ROWS 4096
#define BLK_DEFAULT_LEVEL 1

#define BLK_F_FIXED 1u
#define BLK_F_ONES 2u
#define BLK_F_IDX16 4u
#define BLK_F_ALL (BLK_F_FIXED | BLK_F_ONES | BLK_F_IDX16)

typedef enum {
    BLK_FIELD_DENSE, /* a number: a key by int_mode, and a dense input */
    BLK_FIELD_CAT,   /* one categorical token */
    BLK_FIELD_MULTI, /* any number of categorical tokens */
    BLK_FIELD_USER,  /* categorical, the user id */
    BLK_FIELD_ITEM,  /* categorical, the item id */
    BLK_FIELD_TIME,  /* integer seconds: key = the value as a two's-complement u64, value 1;
                        never a model feature (models skip it), the row's time */
    BLK_FIELD_KIND_COUNT
} blk_field_kind_t;

/* "dense", "cat", "multi", "user", "item", "time"; "?" out of range. */
const char *blk_field_kind_name(int kind);

/* What the features of a file are (B1, B2). Plain data. */
typedef struct blk_schema {
    int32_t format;     /* enum cfg_data_format of the source text (informational) */
    int32_t int_mode;   /* enum cfg_int_mode */
    int32_t n_fields;   /* [1, BLK_MAX_FIELDS] */
    int32_t n_dense;    /* fields of kind DENSE; their dense values come in field order */
    int32_t user_field; /* field of kind USER, or -1 */
    int32_t item_field; /* field of kind ITEM, or -1 */
    uint8_t kind[BLK_MAX_FIELDS];    /* blk_field_kind_t per field */
    uint16_t column[BLK_MAX_FIELDS]; /* 1-based source column per field (informational) */
} blk_schema_t;

/* The Criteo schema (reader.h rule 2): columns 2..14 DENSE, 15..40 CAT. */
void blk_schema_criteo(blk_schema_t *s, int int_mode);
/* B2. */
uint64_t blk_schema_fingerprint(const blk_schema_t *s);
/* The field of kind TIME, or -1 (at most one; blk_schema_check). */
int blk_schema_time_field(const blk_schema_t *s);
/* 1 when rows of this schema convert to rd_row_t: 39 fields, 0..12 DENSE, 13..38 CAT, USER
 * or ITEM (single-valued), so every row has exactly rd_row_t's 39 features and 13 dense. */
int blk_schema_is_criteo(const blk_schema_t *s);
/* Internal consistency (kinds, counts, user/item fields): PSR_OK or PSR_ERR_FORMAT with a
 * message starting with `what` (a file name, or "schema"). */
int blk_schema_check(const blk_schema_t *s, const char *what);
/* One line such as "39 fields (13 dense, 26 cat), int_mode bucket, fingerprint 0x..." */
void blk_schema_describe(const blk_schema_t *s, char *buf, size_t n);

/* One row. Writers read it; readers point it into their decoded block (valid until the
 * next call on that reader). */
typedef struct {
    float label;
    const float *dense;    /* (n_dense) */
    int32_t n_feat;        /* [0, BLK_MAX_ROW_FEATS] */
    const uint16_t *field; /* (n_feat), non-decreasing, each < n_fields */
    const uint64_t *key;   /* (n_feat) */
    const float *val;      /* (n_feat) */
} blk_row_t;

/* What a writer produced (so far, or in total once closed). */
typedef struct {
    int64_t rows, blocks, feats;
    uint64_t raw_bytes;  /* uncompressed payload */
    uint64_t file_bytes; /* bytes written, header to trailer */
} blk_stats_t;

/* ---- writing ---------------------------------------------------------------------------
 * Streaming, bounded memory (one block). Calls after an error return that error; then
 * blk_writer_abort. */
typedef struct blk_writer blk_writer_t;

/* Create `path` (written as DIR/.NAME.tmp until blk_writer_close, B9). schema must pass
 * blk_schema_check; block_rows in [1, BLK_MAX_BLOCK_ROWS]; level in [0, 9]. */
int blk_writer_open(blk_writer_t **w, const char *path, const blk_schema_t *schema,
                    int block_rows, int level);
/* Append one row (copied). Its fields must be non-decreasing and < n_fields, n_feat at most
 * BLK_MAX_ROW_FEATS, label and values finite: otherwise PSR_ERR_INTERNAL (the caller's
 * parser is wrong). */
int blk_writer_add(blk_writer_t *w, const blk_row_t *row);
/* Append a row of the Criteo schema (blk_schema_is_criteo) as rd_next returns it. */
int blk_writer_add_criteo(blk_writer_t *w, const rd_row_t *row);
void blk_writer_stats(const blk_writer_t *w, blk_stats_t *st);
/* Flush the last block, write index and trailer, fsync, rename, fsync the directory (B9).
 * Frees w in every case; on error the temporary file is removed. st may be NULL. */
int blk_writer_close(blk_writer_t *w, blk_stats_t *st);
/* Discard an unfinished file (removes the temporary file) and free w. Accepts NULL. */
void blk_writer_abort(blk_writer_t *w);

/* ---- reading ---------------------------------------------------------------------------- */

/* One index entry (B6) with the file's running row count. */
typedef struct {
    uint64_t offset;
    uint64_t first_row; /* rows in the blocks before this one */
    uint32_t n_rows, n_feats, n_keys, flags, raw_bytes, comp_bytes, crc32;
} blk_entry_t;

typedef struct blk_file blk_file_t;

/* Open `path`: header (B1, B2) and trailer (B7) are checked; with load_index the index too
 * (B6: CRC, contiguity, every entry's limits and sizes). Errors name the file; *f is NULL. */
int blk_file_open(blk_file_t **f, const char *path, int load_index);
/* Load and check the index of a file opened without it (no-op when loaded). */
int blk_file_load_index(blk_file_t *f);
void blk_file_close(blk_file_t *f); /* accepts NULL */
const char *blk_file_path(const blk_file_t *f);
const blk_schema_t *blk_file_schema(const blk_file_t *f);
uint64_t blk_file_fingerprint(const blk_file_t *f);
int blk_file_block_rows(const blk_file_t *f);
int64_t blk_file_blocks(const blk_file_t *f);
int64_t blk_file_rows(const blk_file_t *f);
int64_t blk_file_feats(const blk_file_t *f);
uint64_t blk_file_bytes(const blk_file_t *f);
/* The index: blk_file_blocks() entries, owned by f; NULL unless loaded. */
const blk_entry_t *blk_file_index(const blk_file_t *f);

/* A decoded block: row i is label[i], dense[i * n_dense ...], features [off[i], off[i+1])
 * of field, key and val. Buffers are owned by the block and reused from block to block. */
typedef struct {
    int64_t n_rows, n_feats;
    int32_t n_fields, n_dense;
    float *label;    /* (n_rows) */
    float *dense;    /* (n_rows, n_dense) */
    uint32_t *off;   /* (n_rows + 1) */
    uint16_t *field; /* (n_feats) */
    uint64_t *key;   /* (n_feats) */
    float *val;      /* (n_feats) */
    /* private */
    unsigned char *comp, *raw; /* a frame with its stored bytes; the inflated payload */
    size_t comp_cap, raw_cap, rows_cap, feats_cap, dense_cap;
    void *z;         /* inflate state, kept across blocks */
} blk_block_t;

void blk_block_init(blk_block_t *b);
void blk_block_free(blk_block_t *b); /* accepts a zeroed or freed block */
/* Grow b's buffers to hold a block described by e with n_dense dense values per row.
 * Allocates (aborting via psr_die when out of memory); call on the main thread. */
void blk_block_reserve(blk_block_t *b, const blk_entry_t *e, int n_dense);
/* Read block `i` (entry e) of the file `path` open as descriptor fd, check its frame against
 * e and its CRC, inflate and decode it into b (B3-B5). b must already be reserved for e:
 * this never allocates and never calls psr_die, so it may run on any thread. Errors:
 * "PATH: block I: ...". */
int blk_block_load(blk_block_t *b, int fd, const char *path, const blk_schema_t *s, int64_t i,
                   const blk_entry_t *e);
/* blk_block_reserve + blk_block_load for block i of an open file (index loaded). */
int blk_read_block(blk_file_t *f, int64_t i, blk_block_t *b);

/* Row i of a decoded block (pointers into b). */
static inline void blk_block_row(const blk_block_t *b, int64_t i, blk_row_t *row)
{
    uint32_t o = b->off[i];
    row->label = b->label[i];
    row->dense = b->dense + i * b->n_dense;
    row->n_feat = (int32_t)(b->off[i + 1] - o);
    row->field = b->field + o;
    row->key = b->key + o;
    row->val = b->val + o;
}
/* Row i of a decoded block of a Criteo-shaped schema (blk_schema_is_criteo) as rd_row_t. */
void blk_block_criteo(const blk_block_t *b, int64_t i, rd_row_t *row);

#endif
