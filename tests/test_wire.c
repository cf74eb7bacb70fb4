/* test_wire: every header and length rule of common/wire.h is checked, with a message. */
#include <stdint.h>

#include "check.h"
#include "psr_error.h"
#include "wire.h"

static unsigned char buf[4096];
/* Two tables: width 9 (FM dim 8) and width 3. Counts bytes: 8 (two uint32). */
static const int32_t WID[2] = {9, 3};

/* A message with `payload` bytes; for PULL/PULL_REPLY/PUSH the first 8 payload bytes are the
 * counts c0, c1. */
static size_t make(int type, uint64_t count, size_t payload, int sender, uint32_t c0, uint32_t c1)
{
    wire_hdr_t h;
    wire_hdr_fill(&h, type, 0, sender, payload, 3, count);
    memcpy(buf, &h, sizeof h);
    memset(buf + sizeof h, 0, payload);
    if ((type == WIRE_PULL || type == WIRE_PULL_REPLY || type == WIRE_PUSH) && payload >= 8) {
        memcpy(buf + sizeof h, &c0, 4);
        memcpy(buf + sizeof h + 4, &c1, 4);
    }
    return sizeof h + payload;
}

static void expect_bad(size_t n, int source, const char *needle)
{
    int rc = wire_check(buf, n, source, WID, 2);
    CHECK_INT(rc, PSR_ERR_WIRE);
    CHECK_CONTAINS(psr_err_msg(), needle);
}

int main(void)
{
    CHECK_INT((int)wire_counts_bytes(1), 8);
    CHECK_INT((int)wire_counts_bytes(2), 8);
    CHECK_INT((int)wire_counts_bytes(3), 16);
    /* 5 keys: 3 of table 0 (width 9), 2 of table 1 (width 3): rows 3*9 + 2*3 = 33 floats */
    CHECK_INT(wire_check(buf, make(WIRE_PULL, 5, 8 + 5 * 8, 4, 3, 2), 4, WID, 2), PSR_OK);
    CHECK_INT(wire_check(buf, make(WIRE_PULL_REPLY, 5, 8 + 33 * 4, 0, 3, 2), 0, WID, 2), PSR_OK);
    CHECK_INT(wire_check(buf, make(WIRE_PUSH, 5, 8 + 5 * 8 + 33 * 4, 4, 3, 2), 4, WID, 2),
              PSR_OK);
    /* one table: counts still take 8 bytes (one uint32 and 4 bytes of padding) */
    CHECK_INT(wire_check(buf, make(WIRE_PUSH, 5, 8 + 5 * (8 + 4 * 9), 4, 5, 0), 4, WID, 1),
              PSR_OK);
    CHECK_INT(wire_check(buf, make(WIRE_CLOCK, 0, sizeof(wire_clock_t), 4, 0, 0), 4, WID, 2),
              PSR_OK);
    CHECK_INT(wire_check(buf, make(WIRE_SHUTDOWN, 0, 0, 4, 0, 0), 4, WID, 2), PSR_OK);

    expect_bad(10, 4, "shorter than the 40-byte header");
    size_t n = make(WIRE_PULL, 5, 48, 4, 3, 2);
    buf[0] ^= 1;
    expect_bad(n, 4, "bad magic");
    n = make(WIRE_PULL, 5, 48, 4, 3, 2);
    ((wire_hdr_t *)buf)->version = 99;
    expect_bad(n, 4, "protocol version 99");
    n = make(WIRE_PULL, 5, 48, 4, 3, 2);
    ((wire_hdr_t *)buf)->type = 200;
    expect_bad(n, 4, "unknown type 200");
    n = make(WIRE_PULL, 5, 48, 4, 3, 2);
    expect_bad(n, 5, "claims sender 4");
    n = make(WIRE_PULL, 5, 48, 4, 3, 2);
    expect_bad(n - 8, 4, "header says 48 payload bytes, received 40");
    n = make(WIRE_PULL, 6, 48, 4, 4, 2); /* count says 6 keys, payload holds 5 */
    expect_bad(n, 4, "expected 56 for count 6");
    n = make(WIRE_PULL, 6, 56, 4, 3, 2); /* counts add up to 5, header says 6 */
    expect_bad(n, 4, "table counts add up to 5 keys, the header says 6");
    n = make(WIRE_PUSH, 5, 8 + 5 * 8, 4, 3, 2); /* keys without gradients */
    expect_bad(n, 4, "PUSH message from rank 4: payload of 48 bytes");
    n = make(WIRE_PULL_REPLY, 5, 8 + 45 * 4, 0, 3, 2); /* rows as if every key had width 9 */
    expect_bad(n, 0, "expected 140 for count 5");
    n = make(WIRE_PULL, 0, 4, 4, 0, 0);
    expect_bad(n, 4, "no room for the 8-byte table of counts");
    n = make(WIRE_PULL, 5, 8 + 5 * 8, 4, 5, 0);
    buf[sizeof(wire_hdr_t) + 7] = 1; /* padding after one table's count */
    CHECK_INT(wire_check(buf, n, 4, WID, 1), PSR_ERR_WIRE);
    CHECK_CONTAINS(psr_err_msg(), "non-zero padding");
    n = make(WIRE_PULL, (uint64_t)1 << 40, 48, 4, 3, 2);
    expect_bad(n, 4, "out of range");
    n = make(WIRE_CLOCK, 0, 8, 4, 0, 0);
    expect_bad(n, 4, "CLOCK message");
    n = make(WIRE_CKPT, 0, 0, 4, 0, 0);
    CHECK_INT(wire_check(buf, n, 4, WID, 2), PSR_OK);
    n = make(WIRE_CKPT, 0, 8, 4, 0, 0);
    expect_bad(n, 4, "CKPT message from rank 4: payload of 8 bytes, expected 0");
    CHECK(strcmp(wire_type_name(WIRE_PUSH), "PUSH") == 0);
    CHECK(strcmp(wire_type_name(1000), "?") == 0);
    CHECK_DONE();
}
