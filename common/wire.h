/* wire: the message format between workers and parameter servers.
 *
 * Rules (a server checks every one before it reads a payload):
 *  1. A message is one MPI_BYTE buffer: a 40-byte wire_hdr_t, then `payload_bytes` bytes.
 *     The buffer length must be exactly sizeof(wire_hdr_t) + payload_bytes.
 *  2. magic == WIRE_MAGIC, version == WIRE_VERSION, type in [1, WIRE_TYPE_COUNT),
 *     sender == the MPI rank (in the parameter-server communicator) it came from.
 *  3. Payload per type (n = hdr.count; the model's T embedding tables have widths W_t in floats,
 *     which both sides know from the broadcast config, common/tables.h; all integers
 *     little-endian). PULL, PULL_REPLY and PUSH start with a table of counts C: T uint32 c_t
 *     (keys of table t in this message, sum c_t == n), zero-padded to a multiple of 8 bytes
 *     (|C| = 8 * ceil(T / 2)); keys and rows come table by table, in table id order:
 *       PULL        C, n uint64 keys                               -> |C| + n*8 bytes
 *       PULL_REPLY  C, a row of W_t float32 per key, in key order   -> |C| + 4 sum c_t W_t
 *       PUSH        C, n uint64 keys, then their gradient rows      -> |C| + 8n + 4 sum c_t W_t
 *       PULL_DENSE  n uint64 dense block ids                        -> n*8 bytes
 *       PULL_DENSE_REPLY  n blocks of WIRE_DENSE_BLOCK float32       -> n*B*4 bytes
 *       PUSH_DENSE  n uint64 block ids, then n blocks of gradients  -> n*(8+4B) bytes;
 *                   flag WIRE_DENSE_F_INIT: the floats are initial values, to be stored,
 *                   and the server acknowledges with an empty PULL_DENSE_REPLY
 *       CLOCK       wire_clock_t (a worker finished hdr.step steps) -> sizeof(wire_clock_t)
 *       CLOCK_WAIT  none: the worker wants every worker to have finished hdr.step steps
 *       CLOCK_GRANT none: hdr.step = the slowest worker's finished step count now
 *       CKPT        none: the worker stopped after hdr.step steps for the checkpoint at job
 *                   step hdr.count; it sends nothing more until that checkpoint is written.
 *                   Once a server has CKPT from every worker it has applied every push
 *                   (rule 5) and joins the collective write (launch/ckjob.h).
 *       STATS_REPLY wire_stats_t
 *       SHUTDOWN    none: this worker sends no more requests
 *     Every key of a PULL or PUSH must belong to a bucket the receiving server owns; every
 *     dense block id b of a PULL_DENSE or PUSH_DENSE must satisfy b mod n_servers == server and
 *     b < the number of dense blocks of the model.
 *  4. Tags: requests to a server use WIRE_TAG_REQUEST, pull replies WIRE_TAG_REPLY, dense
 *     replies and acknowledgements WIRE_TAG_DENSE_REPLY, clock grants WIRE_TAG_CLOCK. No other
 *     tags are used on the parameter-server communicator.
 *  5. Messages from one sender to one server are handled in the order sent (MPI's
 *     non-overtaking rule with a single request tag); the determinism of one worker at
 *     staleness 0 depends on it. */
#ifndef PSR_WIRE_H
#define PSR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC 0x43525350u /* "PSRC" in little-endian byte order */
#define WIRE_VERSION 2 /* 2: tables of counts in PULL, PULL_REPLY and PUSH */
#define WIRE_MAX_MESSAGE_BYTES ((uint64_t)1 << 31) /* MPI counts are int */

enum wire_tag {
    WIRE_TAG_REQUEST = 7100,
    WIRE_TAG_REPLY = 7101,
    WIRE_TAG_CLOCK = 7102,
    WIRE_TAG_DENSE_REPLY = 7103,
};

/* Dense parameters travel in blocks of this many floats (the last block zero-padded). */
#define WIRE_DENSE_BLOCK 4096

enum wire_type {
    WIRE_NONE = 0,
    WIRE_PULL,
    WIRE_PULL_REPLY,
    WIRE_PUSH,
    WIRE_PULL_DENSE,
    WIRE_PUSH_DENSE,
    WIRE_CLOCK,
    WIRE_CLOCK_WAIT,
    WIRE_CLOCK_GRANT,
    WIRE_CKPT,
    WIRE_STATS,
    WIRE_STATS_REPLY,
    WIRE_SHUTDOWN,
    WIRE_PULL_DENSE_REPLY,
    WIRE_TYPE_COUNT
};

/* hdr.flags for WIRE_CLOCK */
#define WIRE_CLOCK_F_DONE 1u   /* the worker ran out of data for this epoch: do not wait for it */
#define WIRE_CLOCK_F_RESUME 2u /* the worker starts a new epoch at hdr.step; reply with a grant */
/* hdr.flags for WIRE_PUSH_DENSE */
#define WIRE_DENSE_F_INIT 1u

typedef struct {
    uint32_t magic;
    uint16_t version;
    uint16_t type;          /* enum wire_type */
    uint32_t flags;
    int32_t sender;         /* rank in the parameter-server communicator */
    uint64_t payload_bytes; /* bytes after the header */
    int64_t step;           /* sender's step (type-specific meaning, rule 3) */
    uint64_t count;         /* n: keys or rows in the payload */
} wire_hdr_t;

_Static_assert(sizeof(wire_hdr_t) == 40, "wire_hdr_t layout is frozen");
_Static_assert(offsetof(wire_hdr_t, flags) == 8, "wire_hdr_t layout is frozen");
_Static_assert(offsetof(wire_hdr_t, payload_bytes) == 16, "wire_hdr_t layout is frozen");
_Static_assert(offsetof(wire_hdr_t, step) == 24, "wire_hdr_t layout is frozen");
_Static_assert(offsetof(wire_hdr_t, count) == 32, "wire_hdr_t layout is frozen");

typedef struct {
    int64_t examples; /* examples in the steps reported since the last CLOCK */
    double loss_sum;  /* sum of per-example training loss over those examples */
} wire_clock_t;
_Static_assert(sizeof(wire_clock_t) == 16, "wire_clock_t layout is frozen");

typedef struct {
    int64_t rows;        /* rows in the server's tables */
    int64_t pulls;       /* PULL requests served */
    int64_t pushes;      /* PUSH requests applied */
    int64_t keys_pulled; /* keys answered */
    int64_t keys_pushed; /* key gradients applied */
    uint64_t digest;     /* order-independent digest of every row (see ps/table.h) */
    int64_t bytes;       /* bytes held by the tables */
    int64_t peak_rows;   /* most embedding rows held at any time */
    int64_t admissions;  /* embedding rows created */
    int64_t rejections;  /* key gradients dropped: the id is not admitted yet (min_count) */
    int64_t evictions;   /* rows dropped to stay within embedding.max_rows */
    int64_t expired;     /* rows dropped by embedding.ttl_steps */
} wire_stats_t;
_Static_assert(sizeof(wire_stats_t) == 96, "wire_stats_t layout is frozen");

/* Name of a message type for messages ("PULL"); "?" when out of range. */
const char *wire_type_name(int type);

/* Fill a header. */
void wire_hdr_fill(wire_hdr_t *h, int type, uint32_t flags, int sender, uint64_t payload_bytes,
                   int64_t step, uint64_t count);

/* Bytes of the table of counts for T tables (rule 3). */
static inline size_t wire_counts_bytes(int n_tables) { return 8u * (((size_t)n_tables + 1) / 2); }

/* Check rules 1-3 for a received buffer of `n_bytes` from rank `source`, for tables of
 * widths[0 .. n_tables). Returns PSR_OK or PSR_ERR_WIRE with a message naming the source, the
 * type and what is wrong. Never reads past n_bytes. */
int wire_check(const void *buf, size_t n_bytes, int source, const int32_t *widths, int n_tables);

#endif
