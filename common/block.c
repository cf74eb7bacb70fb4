/* block: see block.h for the file rules (B1-B9).
 *
 * Implementation notes:
 *  - The writer deduplicates the keys of a block with an open-addressing table stamped with
 *    a generation number, so nothing is cleared between blocks; its arrays grow only when a
 *    block of multi-valued rows needs more features than the first estimate.
 *  - Readers use pread on a caller-owned descriptor, so the stream's prefetch thread and the
 *    main thread never share a file position. blk_block_load allocates nothing: zlib's
 *    inflate state is created by blk_block_reserve and reset per block.
 *  - Every check of file content survives NDEBUG; messages start with the file name and,
 *    for a block, "block K" (B8). */
#include "block.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "config.h"
#include "hash.h"
#include "le.h"
#include "psr_error.h"

static const char BLK_MAGIC[8] = {'P', 'S', 'R', 'B', 'L', 'K', '\0', '\0'};
static const char BLK_END_MAGIC[8] = {'P', 'S', 'R', 'B', 'E', 'N', 'D', '\0'};
static const char BLK_FRAME_MAGIC[4] = {'P', 'S', 'R', 'B'};

#define BLK_MAX_RAW_BYTES ((size_t)64 << 20) /* a writer flushes before a block gets larger */
#define BLK_OUT_BUF_BYTES ((size_t)1 << 20)  /* stdio buffer of a writer */

static const char *const kind_names[] = {"dense", "cat", "multi", "user", "item", "time"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == BLK_FIELD_KIND_COUNT, "kind_names");

const char *blk_field_kind_name(int kind)
{
    return kind >= 0 && kind < BLK_FIELD_KIND_COUNT ? kind_names[kind] : "?";
}

/* Fields are little-endian (common/le.h). */
static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

/* ---- schema ----------------------------------------------------------------------------- */

void blk_schema_criteo(blk_schema_t *s, int int_mode)
{
    memset(s, 0, sizeof *s);
    s->format = CFG_FORMAT_CRITEO;
    s->int_mode = int_mode;
    s->n_fields = RD_CRITEO_FIELDS;
    s->n_dense = RD_CRITEO_INT;
    s->user_field = s->item_field = -1;
    for (int f = 0; f < RD_CRITEO_FIELDS; f++) {
        s->kind[f] = f < RD_CRITEO_INT ? BLK_FIELD_DENSE : BLK_FIELD_CAT;
        s->column[f] = (uint16_t)(f + 2);
    }
}

uint64_t blk_schema_fingerprint(const blk_schema_t *s)
{
    unsigned char buf[32 + BLK_MAX_FIELDS];
    int n = s->n_fields < 0 ? 0 : s->n_fields > BLK_MAX_FIELDS ? BLK_MAX_FIELDS : s->n_fields;
    memcpy(buf, "PSRB-schema-1\0\0\0", 16);
    psr_put_u32(buf + 16, (uint32_t)s->int_mode);
    psr_put_u32(buf + 20, (uint32_t)s->n_fields);
    psr_put_u32(buf + 24, (uint32_t)s->n_dense);
    psr_put_u32(buf + 28, (uint32_t)s->user_field);
    memcpy(buf + 32, s->kind, (size_t)n);
    uint64_t h = psr_hash_bytes(buf, 32 + (size_t)n, 0x70737262ULL);
    return psr_mix64(h ^ (uint64_t)(uint32_t)s->item_field);
}

int blk_schema_is_criteo(const blk_schema_t *s)
{
    if (s->n_fields != RD_CRITEO_FIELDS || s->n_dense != RD_CRITEO_INT) return 0;
    for (int f = 0; f < RD_CRITEO_FIELDS; f++) {
        int k = s->kind[f];
        if (f < RD_CRITEO_INT ? k != BLK_FIELD_DENSE : (k == BLK_FIELD_DENSE || k == BLK_FIELD_MULTI))
            return 0;
    }
    return 1;
}

static int schema_has_multi(const blk_schema_t *s)
{
    for (int f = 0; f < s->n_fields; f++)
        if (s->kind[f] == BLK_FIELD_MULTI) return 1;
    return 0;
}

int blk_schema_time_field(const blk_schema_t *s)
{
    for (int f = 0; f < s->n_fields; f++)
        if (s->kind[f] == BLK_FIELD_TIME) return f;
    return -1;
}

int blk_schema_check(const blk_schema_t *s, const char *what)
{
    PSR_RETURN_IF(s->n_fields < 1 || s->n_fields > BLK_MAX_FIELDS, PSR_ERR_FORMAT,
                  "%s: %d fields, allowed 1 to %d", what, s->n_fields, BLK_MAX_FIELDS);
    PSR_RETURN_IF(s->int_mode < 0 || s->int_mode >= CFG_INT_MODE_COUNT, PSR_ERR_FORMAT,
                  "%s: int_mode %d is not a known mode", what, s->int_mode);
    PSR_RETURN_IF(s->format < 0 || s->format >= CFG_FORMAT_COUNT, PSR_ERR_FORMAT,
                  "%s: source format %d is not a known format", what, s->format);
    int dense = 0, user = -1, item = -1, time = -1;
    for (int f = 0; f < s->n_fields; f++) {
        int k = s->kind[f];
        PSR_RETURN_IF(k >= BLK_FIELD_KIND_COUNT, PSR_ERR_FORMAT,
                      "%s: field %d has kind %d, not a known kind", what, f, k);
        dense += k == BLK_FIELD_DENSE;
        if (k == BLK_FIELD_TIME) {
            PSR_RETURN_IF(time >= 0, PSR_ERR_FORMAT, "%s: fields %d and %d are both times",
                          what, time, f);
            time = f;
        }
        if (k == BLK_FIELD_USER) {
            PSR_RETURN_IF(user >= 0, PSR_ERR_FORMAT, "%s: fields %d and %d are both user ids",
                          what, user, f);
            user = f;
        }
        if (k == BLK_FIELD_ITEM) {
            PSR_RETURN_IF(item >= 0, PSR_ERR_FORMAT, "%s: fields %d and %d are both item ids",
                          what, item, f);
            item = f;
        }
    }
    PSR_RETURN_IF(s->n_dense != dense, PSR_ERR_FORMAT,
                  "%s: n_dense is %d but %d fields are dense", what, s->n_dense, dense);
    PSR_RETURN_IF(s->user_field != user || s->item_field != item, PSR_ERR_FORMAT,
                  "%s: user/item fields are %d/%d but the field kinds say %d/%d", what,
                  s->user_field, s->item_field, user, item);
    return PSR_OK;
}

void blk_schema_describe(const blk_schema_t *s, char *buf, size_t n)
{
    int count[BLK_FIELD_KIND_COUNT] = {0};
    for (int f = 0; f < s->n_fields && f < BLK_MAX_FIELDS; f++)
        if (s->kind[f] < BLK_FIELD_KIND_COUNT) count[s->kind[f]]++;
    size_t used = (size_t)snprintf(buf, n, "%d fields (", s->n_fields);
    int any = 0;
    for (int k = 0; k < BLK_FIELD_KIND_COUNT && used < n; k++)
        if (count[k]) {
            used += (size_t)snprintf(buf + used, n - used, "%s%d %s", any ? ", " : "", count[k],
                                     kind_names[k]);
            any = 1;
        }
    if (used < n) {
        const char *fmt = cfg_enum_name("data.format", s->format);
        const char *im = cfg_enum_name("data.int_mode", s->int_mode);
        snprintf(buf + used, n - used, "), from %s, int_mode %s, fingerprint 0x%016" PRIx64,
                 fmt ? fmt : "?", im ? im : "?", blk_schema_fingerprint(s));
    }
}

/* Bytes of a block's raw payload (B4). */
static uint64_t raw_size(uint64_t n_rows, uint64_t n_feats, uint64_t n_keys, uint64_t n_dense,
                         uint32_t flags)
{
    uint64_t b = pad8(4 * n_rows) + pad8(4 * n_rows * n_dense);
    if (!(flags & BLK_F_FIXED)) b += pad8(4 * n_rows) + pad8(2 * n_feats);
    b += pad8((flags & BLK_F_IDX16 ? 2 : 4) * n_feats);
    if (!(flags & BLK_F_ONES)) b += pad8(4 * n_feats);
    return b + 8 * n_keys;
}

/* Header bytes (B1) of schema s into h (64 + 8 * n_fields bytes). */
static void encode_header(unsigned char *h, const blk_schema_t *s, int block_rows, int level)
{
    size_t table = (size_t)s->n_fields * BLK_FIELD_ENTRY_BYTES;
    memset(h, 0, BLK_HEADER_FIXED + table);
    memcpy(h, BLK_MAGIC, 8);
    psr_put_u32(h + 8, BLK_FORMAT_VERSION);
    psr_put_u32(h + 12, (uint32_t)(BLK_HEADER_FIXED + table));
    psr_put_u64(h + 16, blk_schema_fingerprint(s));
    psr_put_u32(h + 24, (uint32_t)s->format);
    psr_put_u32(h + 28, (uint32_t)s->int_mode);
    psr_put_u32(h + 32, (uint32_t)s->n_fields);
    psr_put_u32(h + 36, (uint32_t)s->n_dense);
    psr_put_u32(h + 40, (uint32_t)s->user_field);
    psr_put_u32(h + 44, (uint32_t)s->item_field);
    psr_put_u32(h + 48, (uint32_t)block_rows);
    psr_put_u32(h + 52, (uint32_t)level);
    psr_put_u32(h + 56, 0);
    for (int f = 0; f < s->n_fields; f++) {
        unsigned char *e = h + BLK_HEADER_FIXED + (size_t)f * BLK_FIELD_ENTRY_BYTES;
        e[0] = s->kind[f];
        memcpy(e + 2, &s->column[f], 2);
    }
    uLong crc = crc32(0L, h, 60);
    crc = crc32(crc, h + BLK_HEADER_FIXED, (uInt)table);
    psr_put_u32(h + 60, (uint32_t)crc);
}

/* ---- writer ----------------------------------------------------------------------------- */

struct blk_writer {
    char *path, *tmp, *dir;
    FILE *f;
    char *fbuf;
    blk_schema_t s;
    int block_rows, level, has_multi;
    int err;
    uint64_t off; /* bytes written */

    /* the block being filled */
    int64_t n_rows, n_feats;
    uint32_t n_keys;
    int fixed, ones;
    float *label;     /* (block_rows) */
    float *dense;     /* (block_rows, n_dense) */
    uint32_t *count;  /* (block_rows) */
    uint16_t *field;  /* (feats_cap) */
    uint32_t *idx;    /* (feats_cap) */
    float *val;       /* (feats_cap) */
    uint64_t *keys;   /* (feats_cap): the key table, n_keys used */
    size_t feats_cap;

    /* key -> index in keys[], valid where h_gen == gen */
    uint64_t *h_key;
    uint32_t *h_idx, *h_gen;
    uint32_t gen;
    int h_bits;

    unsigned char *raw, *comp;
    size_t raw_cap, comp_cap;
    z_stream z;
    int z_init;

    blk_entry_t *index;
    size_t index_cap;
    blk_stats_t st;
};

static void hash_alloc(blk_writer_t *w)
{
    int bits = 4;
    while (((size_t)1 << bits) < 2 * w->feats_cap) bits++;
    w->h_bits = bits;
    size_t slots = (size_t)1 << bits;
    free(w->h_key);
    free(w->h_idx);
    free(w->h_gen);
    w->h_key = psr_xmalloc(slots * sizeof *w->h_key);
    w->h_idx = psr_xmalloc(slots * sizeof *w->h_idx);
    w->h_gen = psr_xcalloc(slots, sizeof *w->h_gen);
    w->gen = 1;
}

static inline size_t hash_slot(const blk_writer_t *w, uint64_t key)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> (64 - w->h_bits));
}

/* Index of key in the block's key table, adding it if new. */
static inline uint32_t key_index(blk_writer_t *w, uint64_t key)
{
    size_t mask = ((size_t)1 << w->h_bits) - 1;
    for (size_t i = hash_slot(w, key);; i = (i + 1) & mask) {
        if (w->h_gen[i] != w->gen) {
            w->h_gen[i] = w->gen;
            w->h_key[i] = key;
            w->h_idx[i] = w->n_keys;
            w->keys[w->n_keys] = key;
            return w->n_keys++;
        }
        if (w->h_key[i] == key) return w->h_idx[i];
    }
}

/* Room for `need` features in the block: grow the arrays and the table (rare: only blocks of
 * multi-valued rows can exceed the first estimate). */
static void reserve_feats(blk_writer_t *w, size_t need)
{
    if (need <= w->feats_cap) return;
    size_t cap = w->feats_cap;
    while (cap < need) cap *= 2;
    if (cap > BLK_MAX_BLOCK_FEATS) cap = BLK_MAX_BLOCK_FEATS;
    w->field = psr_xrealloc(w->field, cap * sizeof *w->field);
    w->idx = psr_xrealloc(w->idx, cap * sizeof *w->idx);
    w->val = psr_xrealloc(w->val, cap * sizeof *w->val);
    w->keys = psr_xrealloc(w->keys, cap * sizeof *w->keys);
    w->feats_cap = cap;
    hash_alloc(w); /* re-insert the keys so far, keeping their indices */
    uint32_t n = w->n_keys;
    w->n_keys = 0;
    for (uint32_t k = 0; k < n; k++) key_index(w, w->keys[k]);
}

static int wr_bytes(blk_writer_t *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return w->err = PSR_ERR(PSR_ERR_IO, "%s: write error: %s", w->tmp, strerror(errno));
    w->off += n;
    return PSR_OK;
}

/* Write the block being filled (B3, B4) and start a new one. */
static int flush_block(blk_writer_t *w)
{
    if (w->n_rows == 0) return PSR_OK;
    const uint64_t R = (uint64_t)w->n_rows, N = (uint64_t)w->n_feats, K = w->n_keys;
    const uint64_t D = (uint64_t)w->s.n_dense;
    uint32_t flags = (w->fixed ? BLK_F_FIXED : 0) | (w->ones ? BLK_F_ONES : 0) |
                     (K <= 65536 ? BLK_F_IDX16 : 0);
    size_t raw = (size_t)raw_size(R, N, K, D, flags);
    if (raw > w->raw_cap) {
        w->raw_cap = raw;
        w->raw = psr_xrealloc(w->raw, raw);
    }
    unsigned char *p = w->raw;
    memset(p, 0, raw); /* the padding */
#define SECTION(src, bytes)                                                                    \
    do {                                                                                       \
        memcpy(p, (src), (bytes));                                                             \
        p += pad8(bytes);                                                                      \
    } while (0)
    SECTION(w->label, 4 * R);
    { /* dense values column-major: a column of one field compresses far better than rows */
        float *q = (float *)(void *)p;
        for (uint64_t r = 0; r < R; r++)
            for (uint64_t d = 0; d < D; d++) q[d * R + r] = w->dense[r * D + d];
        p += pad8(4 * R * D);
    }
    if (!(flags & BLK_F_FIXED)) {
        SECTION(w->count, 4 * R);
        SECTION(w->field, 2 * N);
    }
    { /* FIXED: index column-major too (entry of row r, field f at f * R + r) */
        const uint64_t F = (flags & BLK_F_FIXED) ? (uint64_t)w->s.n_fields : 0;
        if (flags & BLK_F_IDX16) {
            uint16_t *q = (uint16_t *)(void *)p;
            if (F)
                for (uint64_t r = 0; r < R; r++)
                    for (uint64_t f = 0; f < F; f++) q[f * R + r] = (uint16_t)w->idx[r * F + f];
            else
                for (uint64_t j = 0; j < N; j++) q[j] = (uint16_t)w->idx[j];
            p += pad8(2 * N);
        } else {
            uint32_t *q = (uint32_t *)(void *)p;
            if (F)
                for (uint64_t r = 0; r < R; r++)
                    for (uint64_t f = 0; f < F; f++) q[f * R + r] = w->idx[r * F + f];
            else
                memcpy(q, w->idx, 4 * N);
            p += pad8(4 * N);
        }
    }
    if (!(flags & BLK_F_ONES)) SECTION(w->val, 4 * N);
    memcpy(p, w->keys, 8 * K);
    p += 8 * K;
#undef SECTION
    if ((size_t)(p - w->raw) != raw)
        return w->err = PSR_ERR(PSR_ERR_INTERNAL, "%s: block payload is %zu bytes, expected %zu",
                                w->tmp, (size_t)(p - w->raw), raw);

    size_t bound = deflateBound(&w->z, (uLong)raw);
    if (bound > w->comp_cap) {
        w->comp_cap = bound;
        w->comp = psr_xrealloc(w->comp, bound);
    }
    if (deflateReset(&w->z) != Z_OK)
        return w->err = PSR_ERR(PSR_ERR_INTERNAL, "%s: deflateReset failed", w->tmp);
    w->z.next_in = w->raw;
    w->z.avail_in = (uInt)raw;
    w->z.next_out = w->comp;
    w->z.avail_out = (uInt)w->comp_cap;
    int zrc = deflate(&w->z, Z_FINISH);
    if (zrc != Z_STREAM_END)
        return w->err = PSR_ERR(PSR_ERR_INTERNAL, "%s: deflate failed (%d): %s", w->tmp, zrc,
                                w->z.msg ? w->z.msg : "no message");
    size_t comp = w->comp_cap - w->z.avail_out;

    if ((size_t)w->st.blocks == w->index_cap) {
        w->index_cap = w->index_cap ? 2 * w->index_cap : 256;
        w->index = psr_xrealloc(w->index, w->index_cap * sizeof *w->index);
    }
    blk_entry_t *e = &w->index[w->st.blocks];
    e->offset = w->off;
    e->first_row = (uint64_t)w->st.rows;
    e->n_rows = (uint32_t)R;
    e->n_feats = (uint32_t)N;
    e->n_keys = (uint32_t)K;
    e->flags = flags;
    e->raw_bytes = (uint32_t)raw;
    e->comp_bytes = (uint32_t)comp;
    e->crc32 = (uint32_t)crc32(0L, w->comp, (uInt)comp);

    unsigned char fr[BLK_FRAME_BYTES];
    memcpy(fr, BLK_FRAME_MAGIC, 4);
    psr_put_u32(fr + 4, e->n_rows);
    psr_put_u32(fr + 8, e->n_feats);
    psr_put_u32(fr + 12, e->n_keys);
    psr_put_u32(fr + 16, e->flags);
    psr_put_u32(fr + 20, e->raw_bytes);
    psr_put_u32(fr + 24, e->comp_bytes);
    psr_put_u32(fr + 28, e->crc32);
    PSR_FORWARD(wr_bytes(w, fr, sizeof fr));
    PSR_FORWARD(wr_bytes(w, w->comp, comp));

    w->st.blocks++;
    w->st.rows += w->n_rows;
    w->st.feats += w->n_feats;
    w->st.raw_bytes += raw;
    w->n_rows = w->n_feats = 0;
    w->n_keys = 0;
    w->fixed = w->ones = 1;
    if (++w->gen == 0) { /* wrapped: stamps of 2^32 blocks ago would look current */
        memset(w->h_gen, 0, ((size_t)1 << w->h_bits) * sizeof *w->h_gen);
        w->gen = 1;
    }
    return PSR_OK;
}

static void writer_free(blk_writer_t *w)
{
    if (w->f) fclose(w->f);
    if (w->z_init) deflateEnd(&w->z);
    free(w->fbuf);
    free(w->path);
    free(w->tmp);
    free(w->dir);
    free(w->label);
    free(w->dense);
    free(w->count);
    free(w->field);
    free(w->idx);
    free(w->val);
    free(w->keys);
    free(w->h_key);
    free(w->h_idx);
    free(w->h_gen);
    free(w->raw);
    free(w->comp);
    free(w->index);
    free(w);
}

int blk_writer_open(blk_writer_t **out, const char *path, const blk_schema_t *schema,
                    int block_rows, int level)
{
    *out = NULL;
    PSR_FORWARD(blk_schema_check(schema, path));
    PSR_RETURN_IF(block_rows < 1 || block_rows > BLK_MAX_BLOCK_ROWS, PSR_ERR_USAGE,
                  "%s: %d rows per block, allowed 1 to %d", path, block_rows, BLK_MAX_BLOCK_ROWS);
    PSR_RETURN_IF(level < 0 || level > 9, PSR_ERR_USAGE,
                  "%s: compression level %d, allowed 0 to 9", path, level);
    blk_writer_t *w = psr_xcalloc(1, sizeof *w);
    w->s = *schema;
    w->block_rows = block_rows;
    w->level = level;
    w->has_multi = schema_has_multi(schema);
    w->path = psr_xstrdup(path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dl = slash ? (size_t)(slash - path) : 0;
    w->dir = psr_xmalloc(dl + 2);
    if (slash) {
        memcpy(w->dir, path, dl ? dl : 1); /* "/name": the root */
        w->dir[dl ? dl : 1] = '\0';
    } else {
        strcpy(w->dir, ".");
    }
    w->tmp = psr_xmalloc(strlen(path) + 8);
    snprintf(w->tmp, strlen(path) + 8, "%.*s.%s.tmp", (int)(base - path), path, base);

    size_t per_row = (size_t)schema->n_fields * (w->has_multi ? 2 : 1);
    size_t cap = (size_t)block_rows * per_row;
    if (cap < 1024) cap = 1024;
    if (cap > BLK_MAX_BLOCK_FEATS) cap = BLK_MAX_BLOCK_FEATS;
    w->feats_cap = cap;
    w->label = psr_xmalloc((size_t)block_rows * sizeof *w->label);
    w->dense = psr_xmalloc((size_t)block_rows * (size_t)(schema->n_dense + 1) * sizeof *w->dense);
    w->count = psr_xmalloc((size_t)block_rows * sizeof *w->count);
    w->field = psr_xmalloc(cap * sizeof *w->field);
    w->idx = psr_xmalloc(cap * sizeof *w->idx);
    w->val = psr_xmalloc(cap * sizeof *w->val);
    w->keys = psr_xmalloc(cap * sizeof *w->keys);
    hash_alloc(w);
    w->fixed = w->ones = 1;
    if (deflateInit(&w->z, level) != Z_OK) {
        writer_free(w);
        return PSR_ERR(PSR_ERR_NOMEM, "%s: cannot initialise zlib", path);
    }
    w->z_init = 1;

    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        int rc = PSR_ERR(PSR_ERR_IO, "%s: cannot create: %s", w->tmp, strerror(errno));
        writer_free(w);
        return rc;
    }
    w->fbuf = psr_xmalloc(BLK_OUT_BUF_BYTES);
    setvbuf(w->f, w->fbuf, _IOFBF, BLK_OUT_BUF_BYTES);
    size_t hb = BLK_HEADER_FIXED + (size_t)schema->n_fields * BLK_FIELD_ENTRY_BYTES;
    unsigned char *h = psr_xmalloc(hb);
    encode_header(h, schema, block_rows, level);
    int rc = wr_bytes(w, h, hb);
    free(h);
    if (rc != PSR_OK) {
        blk_writer_abort(w);
        return rc;
    }
    *out = w;
    return PSR_OK;
}

int blk_writer_add(blk_writer_t *w, const blk_row_t *row)
{
    if (w->err) return w->err;
    const int32_t n = row->n_feat, F = w->s.n_fields, D = w->s.n_dense;
    PSR_RETURN_IF(n < 0 || n > BLK_MAX_ROW_FEATS, PSR_ERR_INTERNAL,
                  "%s: a row with %d features (allowed 0 to %d)", w->path, n, BLK_MAX_ROW_FEATS);
    PSR_RETURN_IF(!isfinite(row->label), PSR_ERR_INTERNAL, "%s: a row with a non-finite label",
                  w->path);
    int row_fixed = n == F;
    for (int32_t j = 0; j < n; j++) {
        unsigned f = row->field[j];
        PSR_RETURN_IF(f >= (unsigned)F || (j > 0 && f < row->field[j - 1]), PSR_ERR_INTERNAL,
                      "%s: feature %d of a row has field %u (fields must be non-decreasing and "
                      "below %d)", w->path, j, f, F);
        PSR_RETURN_IF(!isfinite(row->val[j]), PSR_ERR_INTERNAL,
                      "%s: feature %d of a row has a non-finite value", w->path, j);
        row_fixed &= f == (unsigned)j;
    }
    PSR_RETURN_IF(!w->has_multi && !row_fixed, PSR_ERR_INTERNAL,
                  "%s: a row of a schema without multi fields must have one feature per field "
                  "in field order (B5)", w->path);
    for (int32_t d = 0; d < D; d++)
        PSR_RETURN_IF(!isfinite(row->dense[d]), PSR_ERR_INTERNAL,
                      "%s: dense value %d of a row is not finite", w->path, d);

    size_t row_raw = 8 + 4 * (size_t)D + 22 * (size_t)n;
    size_t blk_raw = (size_t)w->n_rows * (8 + 4 * (size_t)D) + 22 * (size_t)w->n_feats;
    if (w->n_rows == w->block_rows || w->n_feats + n > BLK_MAX_BLOCK_FEATS ||
        (w->n_rows > 0 && blk_raw + row_raw > BLK_MAX_RAW_BYTES))
        PSR_FORWARD(flush_block(w));
    reserve_feats(w, (size_t)(w->n_feats + n));

    const int64_t r = w->n_rows, o = w->n_feats;
    w->label[r] = row->label;
    if (D) memcpy(w->dense + r * D, row->dense, (size_t)D * sizeof(float));
    w->count[r] = (uint32_t)n;
    w->fixed &= row_fixed;
    memcpy(w->field + o, row->field, (size_t)n * sizeof *w->field);
    int ones = 1;
    for (int32_t j = 0; j < n; j++) {
        w->val[o + j] = row->val[j];
        ones &= row->val[j] == 1.0f;
        w->idx[o + j] = key_index(w, row->key[j]);
    }
    w->ones &= ones;
    w->n_rows++;
    w->n_feats += n;
    return PSR_OK;
}

int blk_writer_add_criteo(blk_writer_t *w, const rd_row_t *row)
{
    static const uint16_t fields[RD_CRITEO_FIELDS] = {
        0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
        20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38};
    PSR_RETURN_IF(!blk_schema_is_criteo(&w->s), PSR_ERR_INTERNAL,
                  "%s: a Criteo row for a file whose schema is not Criteo-shaped", w->path);
    blk_row_t g = {.label = row->label,
                   .dense = row->dense,
                   .n_feat = RD_CRITEO_FIELDS,
                   .field = fields,
                   .key = row->key,
                   .val = row->val};
    return blk_writer_add(w, &g);
}

void blk_writer_stats(const blk_writer_t *w, blk_stats_t *st)
{
    *st = w->st;
    st->file_bytes = w->off;
}

/* fsync a directory so a rename inside it is durable; file systems that cannot (EINVAL) are
 * accepted. */
static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PSR_ERR(PSR_ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
    int rc = PSR_OK;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = PSR_ERR(PSR_ERR_IO, "cannot fsync directory '%s': %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int blk_writer_close(blk_writer_t *w, blk_stats_t *st)
{
    int rc = w->err ? w->err : flush_block(w);
    uint64_t index_off = w->off;
    uLong icrc = crc32(0L, Z_NULL, 0);
    for (int64_t i = 0; rc == PSR_OK && i < w->st.blocks; i++) {
        const blk_entry_t *e = &w->index[i];
        unsigned char b[BLK_INDEX_ENTRY_BYTES];
        psr_put_u64(b, e->offset);
        psr_put_u32(b + 8, e->n_rows);
        psr_put_u32(b + 12, e->n_feats);
        psr_put_u32(b + 16, e->n_keys);
        psr_put_u32(b + 20, e->flags);
        psr_put_u32(b + 24, e->raw_bytes);
        psr_put_u32(b + 28, e->comp_bytes);
        psr_put_u32(b + 32, e->crc32);
        psr_put_u32(b + 36, 0);
        icrc = crc32(icrc, b, sizeof b);
        rc = wr_bytes(w, b, sizeof b);
    }
    if (rc == PSR_OK) {
        unsigned char t[BLK_TRAILER_BYTES];
        psr_put_u64(t, index_off);
        psr_put_u64(t + 8, (uint64_t)w->st.blocks);
        psr_put_u64(t + 16, (uint64_t)w->st.rows);
        psr_put_u64(t + 24, (uint64_t)w->st.feats);
        psr_put_u32(t + 32, (uint32_t)icrc);
        psr_put_u32(t + 36, (uint32_t)crc32(0L, t, 36));
        memcpy(t + 40, BLK_END_MAGIC, 8);
        rc = wr_bytes(w, t, sizeof t);
    }
    if (rc == PSR_OK && fflush(w->f) != 0)
        rc = PSR_ERR(PSR_ERR_IO, "%s: write error: %s", w->tmp, strerror(errno));
    if (rc == PSR_OK && fsync(fileno(w->f)) != 0)
        rc = PSR_ERR(PSR_ERR_IO, "cannot fsync '%s': %s", w->tmp, strerror(errno));
    if (fclose(w->f) != 0 && rc == PSR_OK)
        rc = PSR_ERR(PSR_ERR_IO, "%s: write error: %s", w->tmp, strerror(errno));
    w->f = NULL;
    if (rc == PSR_OK && rename(w->tmp, w->path) != 0)
        rc = PSR_ERR(PSR_ERR_IO, "cannot rename '%s' to '%s': %s", w->tmp, w->path,
                     strerror(errno));
    if (rc == PSR_OK) rc = fsync_dir(w->dir);
    if (rc != PSR_OK) unlink(w->tmp);
    if (st) blk_writer_stats(w, st);
    writer_free(w);
    return rc;
}

void blk_writer_abort(blk_writer_t *w)
{
    if (!w) return;
    if (w->f) fclose(w->f);
    w->f = NULL;
    unlink(w->tmp);
    writer_free(w);
}

/* ---- reader ----------------------------------------------------------------------------- */

struct blk_file {
    char *path;
    int fd;
    uint64_t size;
    blk_schema_t s;
    uint64_t fp;
    uint32_t header_bytes, block_rows, level;
    int has_multi;
    uint64_t index_off, n_blocks, n_rows, n_feats;
    uint32_t index_crc;
    blk_entry_t *index;
};

/* Read exactly n bytes at off. PSR_ERR_IO naming the file when short or failing. */
static int read_at(int fd, const char *path, void *buf, size_t n, uint64_t off, const char *what)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = pread(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0)
            return PSR_ERR(PSR_ERR_IO, "%s: read error (%s): %s", path, what, strerror(errno));
        if (got == 0)
            return PSR_ERR(PSR_ERR_IO, "%s: unexpected end of file reading %s (the file is "
                           "shorter than its index says; was it truncated?)", path, what);
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return PSR_OK;
}

static int file_fail(blk_file_t *f, int rc)
{
    blk_file_close(f);
    return rc;
}

int blk_file_open(blk_file_t **out, const char *path, int load_index)
{
    *out = NULL;
    blk_file_t *f = psr_xcalloc(1, sizeof *f);
    f->path = psr_xstrdup(path);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return file_fail(f, PSR_ERR(PSR_ERR_IO, "%s: cannot open: %s", path,
                                    errno == ENOENT ? "no such file" : strerror(errno)));
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return file_fail(f, PSR_ERR(PSR_ERR_IO, "%s: cannot stat: %s", path, strerror(errno)));
    f->size = (uint64_t)st.st_size;

    unsigned char h[BLK_HEADER_FIXED];
    size_t head = f->size < BLK_HEADER_FIXED ? (size_t)f->size : BLK_HEADER_FIXED;
    int rc = read_at(f->fd, path, h, head, 0, "the header");
    if (rc) return file_fail(f, rc);
    if (head < 8 || memcmp(h, BLK_MAGIC, 8) != 0)
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: not a psrec block file (bad magic; "
                                    "block files are written by psrec prep)", path));
    if (head < BLK_HEADER_FIXED)
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: truncated: %llu bytes, shorter than "
                                    "the %d-byte header", path, (unsigned long long)f->size,
                                    BLK_HEADER_FIXED));
    uint32_t version = psr_get_u32(h + 8);
    if (version != BLK_FORMAT_VERSION)
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: block format version %u; this psrec "
                                    "reads version %d (prep the data again with this psrec)",
                                    path, version, BLK_FORMAT_VERSION));
    uint32_t n_fields = psr_get_u32(h + 32);
    f->header_bytes = psr_get_u32(h + 12);
    if (n_fields < 1 || n_fields > BLK_MAX_FIELDS ||
        f->header_bytes != BLK_HEADER_FIXED + n_fields * BLK_FIELD_ENTRY_BYTES ||
        f->header_bytes > f->size)
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: header is corrupt (%u fields, %u "
                                    "header bytes, file of %llu bytes)", path, n_fields,
                                    f->header_bytes, (unsigned long long)f->size));
    size_t table = (size_t)n_fields * BLK_FIELD_ENTRY_BYTES;
    unsigned char *tb = psr_xmalloc(table);
    rc = read_at(f->fd, path, tb, table, BLK_HEADER_FIXED, "the header");
    uLong crc = crc32(crc32(0L, h, 60), tb, (uInt)table);
    if (rc == PSR_OK && (uint32_t)crc != psr_get_u32(h + 60))
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: header is corrupt (CRC mismatch: stored 0x%08x, "
                     "computed 0x%08x)", path, psr_get_u32(h + 60), (uint32_t)crc);
    blk_schema_t *s = &f->s;
    memset(s, 0, sizeof *s);
    s->format = (int32_t)psr_get_u32(h + 24);
    s->int_mode = (int32_t)psr_get_u32(h + 28);
    s->n_fields = (int32_t)n_fields;
    s->n_dense = (int32_t)psr_get_u32(h + 36);
    s->user_field = (int32_t)psr_get_u32(h + 40);
    s->item_field = (int32_t)psr_get_u32(h + 44);
    for (uint32_t i = 0; rc == PSR_OK && i < n_fields; i++) {
        const unsigned char *e = tb + (size_t)i * BLK_FIELD_ENTRY_BYTES;
        s->kind[i] = e[0];
        memcpy(&s->column[i], e + 2, 2);
    }
    free(tb);
    if (rc) return file_fail(f, rc);
    f->block_rows = psr_get_u32(h + 48);
    f->level = psr_get_u32(h + 52);
    f->fp = psr_get_u64(h + 16);
    if ((rc = blk_schema_check(s, path)) != PSR_OK) return file_fail(f, rc);
    if (f->fp != blk_schema_fingerprint(s) || f->block_rows < 1 ||
        f->block_rows > BLK_MAX_BLOCK_ROWS || f->level > 9 || psr_get_u32(h + 56) != 0)
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: header is corrupt (fingerprint, rows "
                                    "per block %u, level %u or flags 0x%x out of place)", path,
                                    f->block_rows, f->level, psr_get_u32(h + 56)));
    f->has_multi = schema_has_multi(s);

    unsigned char t[BLK_TRAILER_BYTES];
    if (f->size < (uint64_t)f->header_bytes + BLK_TRAILER_BYTES)
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: truncated: %llu bytes, too short for "
                                    "the header and trailer (the file is incomplete)", path,
                                    (unsigned long long)f->size));
    if ((rc = read_at(f->fd, path, t, sizeof t, f->size - BLK_TRAILER_BYTES, "the trailer")))
        return file_fail(f, rc);
    if (memcmp(t + 40, BLK_END_MAGIC, 8) != 0)
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: truncated or corrupt: no end marker "
                                    "(the file was cut short or not completely written)", path));
    if (psr_get_u32(t + 36) != (uint32_t)crc32(0L, t, 36))
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: trailer is corrupt (CRC mismatch)",
                                    path));
    f->index_off = psr_get_u64(t);
    f->n_blocks = psr_get_u64(t + 8);
    f->n_rows = psr_get_u64(t + 16);
    f->n_feats = psr_get_u64(t + 24);
    f->index_crc = psr_get_u32(t + 32);
    uint64_t room = f->size - BLK_TRAILER_BYTES;
    if (f->index_off < f->header_bytes || f->index_off > room ||
        f->n_blocks > (room - f->index_off) / BLK_INDEX_ENTRY_BYTES ||
        f->index_off + f->n_blocks * BLK_INDEX_ENTRY_BYTES != room)
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: truncated or corrupt: the file has "
                                    "%llu bytes but its trailer places %llu blocks' index at "
                                    "byte %llu", path, (unsigned long long)f->size,
                                    (unsigned long long)f->n_blocks,
                                    (unsigned long long)f->index_off));
    if (f->n_rows > f->n_blocks * f->block_rows || f->n_rows < f->n_blocks)
        return file_fail(f, PSR_ERR(PSR_ERR_FORMAT, "%s: trailer is corrupt (%llu rows in %llu "
                                    "blocks of at most %u)", path,
                                    (unsigned long long)f->n_rows,
                                    (unsigned long long)f->n_blocks, f->block_rows));
    if (load_index && (rc = blk_file_load_index(f)) != PSR_OK) return file_fail(f, rc);
    *out = f;
    return PSR_OK;
}

int blk_file_load_index(blk_file_t *f)
{
    if (f->index || f->n_blocks == 0) {
        if (!f->index) f->index = psr_xcalloc(1, sizeof *f->index);
        return PSR_OK;
    }
    size_t bytes = (size_t)f->n_blocks * BLK_INDEX_ENTRY_BYTES;
    unsigned char *b = psr_xmalloc(bytes);
    int rc = read_at(f->fd, f->path, b, bytes, f->index_off, "the index");
    if (rc == PSR_OK && (uint32_t)crc32(0L, b, (uInt)bytes) != f->index_crc)
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: index is corrupt (CRC mismatch)", f->path);
    blk_entry_t *ix = psr_xcalloc((size_t)f->n_blocks, sizeof *ix);
    uint64_t off = f->header_bytes, rows = 0, feats = 0;
    const uint64_t D = (uint64_t)f->s.n_dense, F = (uint64_t)f->s.n_fields;
    for (uint64_t i = 0; rc == PSR_OK && i < f->n_blocks; i++) {
        const unsigned char *p = b + i * BLK_INDEX_ENTRY_BYTES;
        blk_entry_t *e = &ix[i];
        e->offset = psr_get_u64(p);
        e->n_rows = psr_get_u32(p + 8);
        e->n_feats = psr_get_u32(p + 12);
        e->n_keys = psr_get_u32(p + 16);
        e->flags = psr_get_u32(p + 20);
        e->raw_bytes = psr_get_u32(p + 24);
        e->comp_bytes = psr_get_u32(p + 28);
        e->crc32 = psr_get_u32(p + 32);
        e->first_row = rows;
        const char *bad = NULL;
        if (e->offset != off) bad = "offset is not where the previous block ends";
        else if (e->n_rows < 1 || e->n_rows > f->block_rows) bad = "row count out of range";
        else if (e->n_feats > BLK_MAX_BLOCK_FEATS) bad = "feature count out of range";
        else if (e->n_keys > e->n_feats || (e->n_feats > 0 && e->n_keys == 0))
            bad = "key count out of range";
        else if (e->flags & ~BLK_F_ALL || psr_get_u32(p + 36) != 0) bad = "unknown flags";
        else if ((e->flags & BLK_F_FIXED) && e->n_feats != (uint64_t)e->n_rows * F)
            bad = "a fixed block with a feature count other than rows times fields";
        else if (!f->has_multi && !(e->flags & BLK_F_FIXED))
            bad = "a block not marked fixed in a file without multi fields";
        else if ((e->flags & BLK_F_IDX16) && e->n_keys > 65536) bad = "16-bit index, too many keys";
        else if (e->raw_bytes != raw_size(e->n_rows, e->n_feats, e->n_keys, D, e->flags) ||
                 e->raw_bytes > BLK_MAX_RAW_BYTES + BLK_MAX_RAW_BYTES / 4)
            bad = "raw size does not match its counts";
        else if (e->comp_bytes < 8 || e->comp_bytes > e->raw_bytes + e->raw_bytes / 8 + 1024)
            bad = "compressed size out of range";
        else if (e->offset + BLK_FRAME_BYTES + e->comp_bytes > f->index_off)
            bad = "extends past the index";
        if (bad)
            rc = PSR_ERR(PSR_ERR_FORMAT, "%s: block %llu: index entry is corrupt (%s)", f->path,
                         (unsigned long long)i, bad);
        off = e->offset + BLK_FRAME_BYTES + e->comp_bytes;
        rows += e->n_rows;
        feats += e->n_feats;
    }
    free(b);
    if (rc == PSR_OK && (off != f->index_off || rows != f->n_rows || feats != f->n_feats))
        rc = PSR_ERR(PSR_ERR_FORMAT, "%s: index is corrupt (its blocks end at byte %llu with "
                     "%llu rows; the trailer says byte %llu with %llu rows)", f->path,
                     (unsigned long long)off, (unsigned long long)rows,
                     (unsigned long long)f->index_off, (unsigned long long)f->n_rows);
    if (rc != PSR_OK) {
        free(ix);
        return rc;
    }
    f->index = ix;
    return PSR_OK;
}

void blk_file_close(blk_file_t *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    free(f->path);
    free(f->index);
    free(f);
}

const char *blk_file_path(const blk_file_t *f) { return f->path; }
const blk_schema_t *blk_file_schema(const blk_file_t *f) { return &f->s; }
uint64_t blk_file_fingerprint(const blk_file_t *f) { return f->fp; }
int blk_file_block_rows(const blk_file_t *f) { return (int)f->block_rows; }
int64_t blk_file_blocks(const blk_file_t *f) { return (int64_t)f->n_blocks; }
int64_t blk_file_rows(const blk_file_t *f) { return (int64_t)f->n_rows; }
int64_t blk_file_feats(const blk_file_t *f) { return (int64_t)f->n_feats; }
uint64_t blk_file_bytes(const blk_file_t *f) { return f->size; }
const blk_entry_t *blk_file_index(const blk_file_t *f) { return f->index; }

/* ---- decoded blocks --------------------------------------------------------------------- */

void blk_block_init(blk_block_t *b) { memset(b, 0, sizeof *b); }

void blk_block_free(blk_block_t *b)
{
    if (!b) return;
    if (b->z) {
        inflateEnd(b->z);
        free(b->z);
    }
    free(b->label);
    free(b->dense);
    free(b->off);
    free(b->field);
    free(b->key);
    free(b->val);
    free(b->comp);
    free(b->raw);
    memset(b, 0, sizeof *b);
}

void blk_block_reserve(blk_block_t *b, const blk_entry_t *e, int n_dense)
{
    if (!b->z) {
        z_stream *z = psr_xcalloc(1, sizeof *z);
        if (inflateInit(z) != Z_OK) psr_die(1, "block: cannot initialise zlib (out of memory)");
        b->z = z;
    }
    size_t comp = BLK_FRAME_BYTES + (size_t)e->comp_bytes;
    if (comp > b->comp_cap) {
        b->comp = psr_xrealloc(b->comp, comp);
        b->comp_cap = comp;
    }
    if (e->raw_bytes > b->raw_cap) {
        b->raw = psr_xrealloc(b->raw, e->raw_bytes);
        b->raw_cap = e->raw_bytes;
    }
    if (e->n_rows > b->rows_cap) {
        b->label = psr_xrealloc(b->label, (size_t)e->n_rows * sizeof *b->label);
        b->off = psr_xrealloc(b->off, ((size_t)e->n_rows + 1) * sizeof *b->off);
        b->rows_cap = e->n_rows;
    }
    size_t nd = (size_t)e->n_rows * (size_t)n_dense;
    if (!b->dense || nd > b->dense_cap) {
        if (nd > b->dense_cap) b->dense_cap = nd;
        b->dense = psr_xrealloc(b->dense, (b->dense_cap ? b->dense_cap : 1) * sizeof *b->dense);
    }
    if (!b->key || e->n_feats > b->feats_cap) {
        if (e->n_feats > b->feats_cap) b->feats_cap = e->n_feats;
        size_t n = b->feats_cap ? b->feats_cap : 1;
        b->field = psr_xrealloc(b->field, n * sizeof *b->field);
        b->key = psr_xrealloc(b->key, n * sizeof *b->key);
        b->val = psr_xrealloc(b->val, n * sizeof *b->val);
    }
}

int blk_block_load(blk_block_t *b, int fd, const char *path, const blk_schema_t *s, int64_t i,
                   const blk_entry_t *e)
{
    const unsigned long long bi = (unsigned long long)i;
    b->n_rows = b->n_feats = 0;
    b->n_fields = s->n_fields;
    b->n_dense = s->n_dense;
    const uint64_t R = e->n_rows, N = e->n_feats, K = e->n_keys, D = (uint64_t)s->n_dense;
    const uint64_t F = (uint64_t)s->n_fields;
    PSR_RETURN_IF(!b->z || BLK_FRAME_BYTES + (size_t)e->comp_bytes > b->comp_cap ||
                  e->raw_bytes > b->raw_cap || R > b->rows_cap || N > b->feats_cap ||
                  R * D > b->dense_cap, PSR_ERR_INTERNAL,
                  "%s: block %llu: decode buffers not reserved", path, bi);

    char what[48];
    snprintf(what, sizeof what, "block %llu", bi);
    PSR_FORWARD(read_at(fd, path, b->comp, BLK_FRAME_BYTES + (size_t)e->comp_bytes, e->offset,
                        what));
    const unsigned char *fr = b->comp;
    if (memcmp(fr, BLK_FRAME_MAGIC, 4) != 0 || psr_get_u32(fr + 4) != e->n_rows ||
        psr_get_u32(fr + 8) != e->n_feats || psr_get_u32(fr + 12) != e->n_keys ||
        psr_get_u32(fr + 16) != e->flags || psr_get_u32(fr + 20) != e->raw_bytes ||
        psr_get_u32(fr + 24) != e->comp_bytes || psr_get_u32(fr + 28) != e->crc32)
        return PSR_ERR(PSR_ERR_FORMAT, "%s: block %llu: corrupt (its frame at byte %llu does "
                       "not match the index)", path, bi, (unsigned long long)e->offset);
    const unsigned char *comp = b->comp + BLK_FRAME_BYTES;
    uint32_t crc = (uint32_t)crc32(0L, comp, e->comp_bytes);
    if (crc != e->crc32)
        return PSR_ERR(PSR_ERR_FORMAT, "%s: block %llu: corrupt (CRC mismatch: stored 0x%08x, "
                       "computed 0x%08x)", path, bi, e->crc32, crc);

    z_stream *z = b->z;
    if (inflateReset(z) != Z_OK)
        return PSR_ERR(PSR_ERR_INTERNAL, "%s: block %llu: inflateReset failed", path, bi);
    z->next_in = (unsigned char *)comp;
    z->avail_in = e->comp_bytes;
    z->next_out = b->raw;
    z->avail_out = e->raw_bytes;
    int zrc = inflate(z, Z_FINISH);
    if (zrc != Z_STREAM_END || z->avail_out != 0 || z->avail_in != 0)
        return PSR_ERR(PSR_ERR_FORMAT, "%s: block %llu: corrupt compressed data (%s)", path, bi,
                       zrc == Z_STREAM_END ? "wrong length"
                       : z->msg            ? z->msg
                                           : "inflates to more than its stated size");

    /* B4, B5 */
    const unsigned char *p = b->raw;
    memcpy(b->label, p, 4 * R);
    p += pad8(4 * R);
    {
        const float *col = (const float *)(const void *)p; /* column-major */
        for (uint64_t d = 0; d < D; d++)
            for (uint64_t r = 0; r < R; r++) b->dense[r * D + d] = col[d * R + r];
        p += pad8(4 * R * D);
    }
    if (e->flags & BLK_F_FIXED) {
        for (uint64_t r = 0; r <= R; r++) b->off[r] = (uint32_t)(r * F);
        for (uint64_t f = 0; f < F && R > 0; f++) b->field[f] = (uint16_t)f;
        for (uint64_t r = 1; r < R; r++) memcpy(b->field + r * F, b->field, 2 * F);
    } else {
        const uint32_t *count = (const uint32_t *)(const void *)p;
        p += pad8(4 * R);
        const uint16_t *field = (const uint16_t *)(const void *)p;
        p += pad8(2 * N);
        uint64_t o = 0;
        int bad = 0;
        for (uint64_t r = 0; r < R && !bad; r++) {
            b->off[r] = (uint32_t)o;
            uint64_t c = count[r];
            if (c > N - o) {
                bad = 1;
                break;
            }
            unsigned prev = 0;
            for (uint64_t j = o; j < o + c; j++) {
                unsigned fj = field[j];
                bad |= fj >= F || fj < prev;
                prev = fj;
            }
            o += c;
        }
        if (bad || o != N)
            return PSR_ERR(PSR_ERR_FORMAT, "%s: block %llu: corrupt (feature counts or fields "
                           "out of range)", path, bi);
        b->off[R] = (uint32_t)o;
        memcpy(b->field, field, 2 * N);
    }
    const unsigned char *idx = p;
    p += pad8((e->flags & BLK_F_IDX16 ? 2 : 4) * N);
    const float *val = NULL;
    if (!(e->flags & BLK_F_ONES)) {
        val = (const float *)(const void *)p;
        p += pad8(4 * N);
    }
    const uint64_t *table = (const uint64_t *)(const void *)p;
    uint32_t bad = 0;
    /* feature j of the index section is feature out(j) of the rows: FIXED blocks store it
     * column-major, j = f * R + r for feature r * F + f */
#define RESOLVE(T)                                                                             \
    do {                                                                                       \
        const T *ix = (const T *)(const void *)idx;                                            \
        if (e->flags & BLK_F_FIXED) {                                                          \
            for (uint64_t f = 0, j = 0; f < F; f++)                                            \
                for (uint64_t r = 0; r < R; r++, j++) {                                        \
                    uint32_t k = ix[j];                                                        \
                    bad |= k >= K;                                                             \
                    b->key[r * F + f] = table[k < K ? k : 0];                                  \
                }                                                                              \
        } else {                                                                               \
            for (uint64_t j = 0; j < N; j++) {                                                 \
                uint32_t k = ix[j];                                                            \
                bad |= k >= K;                                                                 \
                b->key[j] = table[k < K ? k : 0];                                              \
            }                                                                                  \
        }                                                                                      \
    } while (0)
    if (e->flags & BLK_F_IDX16) RESOLVE(uint16_t);
    else RESOLVE(uint32_t);
#undef RESOLVE
    if (bad)
        return PSR_ERR(PSR_ERR_FORMAT, "%s: block %llu: corrupt (a key index is out of range)",
                       path, bi);
    if (val) {
        memcpy(b->val, val, 4 * N);
    } else {
        for (uint64_t j = 0; j < N; j++) b->val[j] = 1.0f;
    }
    b->n_rows = (int64_t)R;
    b->n_feats = (int64_t)N;
    return PSR_OK;
}

int blk_read_block(blk_file_t *f, int64_t i, blk_block_t *b)
{
    PSR_RETURN_IF(!f->index, PSR_ERR_INTERNAL, "%s: index not loaded", f->path);
    PSR_RETURN_IF(i < 0 || (uint64_t)i >= f->n_blocks, PSR_ERR_INTERNAL,
                  "%s: block %lld of %llu", f->path, (long long)i,
                  (unsigned long long)f->n_blocks);
    blk_block_reserve(b, &f->index[i], f->s.n_dense);
    return blk_block_load(b, f->fd, f->path, &f->s, i, &f->index[i]);
}

void blk_block_criteo(const blk_block_t *b, int64_t i, rd_row_t *row)
{
    uint32_t o = b->off[i];
    rd_row_criteo_shape(row);
    row->label = b->label[i];
    memcpy(row->key, b->key + o, sizeof row->i_key);
    memcpy(row->val, b->val + o, sizeof row->i_val);
    memcpy(row->dense, b->dense + i * RD_CRITEO_INT, sizeof row->i_dense);
}
