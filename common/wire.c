/* wire: header helpers and the per-type length checks of wire.h rule 1-3. */
#include "wire.h"

#include <string.h>

#include "psr_error.h"

static const char *const type_names[] = {
    "NONE",       "PULL",       "PULL_REPLY", "PUSH",  "PULL_DENSE",  "PUSH_DENSE",  "CLOCK",
    "CLOCK_WAIT", "CLOCK_GRANT", "CKPT",      "STATS", "STATS_REPLY", "SHUTDOWN",
    "PULL_DENSE_REPLY",
};
_Static_assert(sizeof type_names / sizeof type_names[0] == WIRE_TYPE_COUNT, "type_names");

const char *wire_type_name(int type)
{
    if (type < 0 || type >= WIRE_TYPE_COUNT) return "?";
    return type_names[type];
}

void wire_hdr_fill(wire_hdr_t *h, int type, uint32_t flags, int sender, uint64_t payload_bytes,
                   int64_t step, uint64_t count)
{
    memset(h, 0, sizeof *h);
    h->magic = WIRE_MAGIC;
    h->version = WIRE_VERSION;
    h->type = (uint16_t)type;
    h->flags = flags;
    h->sender = sender;
    h->payload_bytes = payload_bytes;
    h->step = step;
    h->count = count;
}

int wire_check(const void *buf, size_t n_bytes, int source, const int32_t *widths, int n_tables)
{
    wire_hdr_t h;
    PSR_RETURN_IF(n_bytes < sizeof h, PSR_ERR_WIRE,
                  "message from rank %d: %zu bytes, shorter than the %zu-byte header", source,
                  n_bytes, sizeof h);
    memcpy(&h, buf, sizeof h);
    PSR_RETURN_IF(h.magic != WIRE_MAGIC, PSR_ERR_WIRE,
                  "message from rank %d: bad magic 0x%08x (expected 0x%08x)", source,
                  (unsigned)h.magic, (unsigned)WIRE_MAGIC);
    PSR_RETURN_IF(h.version != WIRE_VERSION, PSR_ERR_WIRE,
                  "message from rank %d: protocol version %u, this build speaks %u "
                  "(all ranks must run the same psrec)",
                  source, (unsigned)h.version, (unsigned)WIRE_VERSION);
    PSR_RETURN_IF(h.type == WIRE_NONE || h.type >= WIRE_TYPE_COUNT, PSR_ERR_WIRE,
                  "message from rank %d: unknown type %u", source, (unsigned)h.type);
    PSR_RETURN_IF(h.sender != source, PSR_ERR_WIRE,
                  "%s message from rank %d claims sender %d", wire_type_name(h.type), source,
                  (int)h.sender);
    PSR_RETURN_IF(h.payload_bytes != n_bytes - sizeof h, PSR_ERR_WIRE,
                  "%s message from rank %d: header says %llu payload bytes, received %zu",
                  wire_type_name(h.type), source, (unsigned long long)h.payload_bytes,
                  n_bytes - sizeof h);
    uint64_t want;
    uint64_t n = h.count;
    PSR_RETURN_IF(n > WIRE_MAX_MESSAGE_BYTES, PSR_ERR_WIRE,
                  "%s message from rank %d: count %llu is out of range",
                  wire_type_name(h.type), source, (unsigned long long)n);
    uint64_t rows = 0; /* floats of the rows of a PULL_REPLY or PUSH */
    const size_t cb = wire_counts_bytes(n_tables);
    if (h.type == WIRE_PULL || h.type == WIRE_PULL_REPLY || h.type == WIRE_PUSH) {
        PSR_RETURN_IF(h.payload_bytes < cb, PSR_ERR_WIRE,
                      "%s message from rank %d: payload of %llu bytes has no room for the %zu-byte "
                      "table of counts", wire_type_name(h.type), source,
                      (unsigned long long)h.payload_bytes, cb);
        const unsigned char *c = (const unsigned char *)buf + sizeof h;
        uint64_t sum = 0;
        for (int t = 0; t < n_tables; t++) {
            uint32_t ct;
            memcpy(&ct, c + 4 * (size_t)t, 4);
            sum += ct;
            rows += (uint64_t)ct * (uint64_t)widths[t];
        }
        for (size_t j = 4 * (size_t)n_tables; j < cb; j++)
            PSR_RETURN_IF(c[j] != 0, PSR_ERR_WIRE, "%s message from rank %d: non-zero padding "
                          "after the table of counts", wire_type_name(h.type), source);
        PSR_RETURN_IF(sum != n, PSR_ERR_WIRE,
                      "%s message from rank %d: the table counts add up to %llu keys, the header "
                      "says %llu", wire_type_name(h.type), source, (unsigned long long)sum,
                      (unsigned long long)n);
    }
    switch (h.type) {
    case WIRE_PULL: want = cb + n * 8u; break;
    case WIRE_PULL_REPLY: want = cb + rows * 4u; break;
    case WIRE_PUSH: want = cb + n * 8u + rows * 4u; break;
    case WIRE_PULL_DENSE: want = n * 8u; break;
    case WIRE_PULL_DENSE_REPLY: want = n * 4u * WIRE_DENSE_BLOCK; break;
    case WIRE_PUSH_DENSE: want = n * (8u + 4u * WIRE_DENSE_BLOCK); break;
    case WIRE_CLOCK: want = sizeof(wire_clock_t); break;
    case WIRE_STATS_REPLY: want = sizeof(wire_stats_t); break;
    case WIRE_CKPT:
    case WIRE_CLOCK_WAIT:
    case WIRE_CLOCK_GRANT:
    case WIRE_STATS:
    case WIRE_SHUTDOWN: want = 0; break;
    default:
        return PSR_ERR(PSR_ERR_WIRE, "%s message from rank %d: type not supported by this build",
                       wire_type_name(h.type), source);
    }
    PSR_RETURN_IF(h.payload_bytes != want, PSR_ERR_WIRE,
                  "%s message from rank %d: payload of %llu bytes, expected %llu for count %llu",
                  wire_type_name(h.type), source, (unsigned long long)h.payload_bytes,
                  (unsigned long long)want, (unsigned long long)n);
    return PSR_OK;
}
