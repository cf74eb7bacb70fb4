/* test_wire: every header and length rule of common/wire.h is checked, with a message. */
#include <stdint.h>

#include "check.h"
#include "psr_error.h"
#include "wire.h"

static unsigned char buf[4096];

static size_t make(int type, uint64_t count, size_t payload, int sender)
{
    wire_hdr_t h;
    wire_hdr_fill(&h, type, 0, sender, payload, 3, count);
    memcpy(buf, &h, sizeof h);
    memset(buf + sizeof h, 0, payload);
    return sizeof h + payload;
}

static void expect_bad(size_t n, int source, const char *needle)
{
    int rc = wire_check(buf, n, source, 9);
    CHECK_INT(rc, PSR_ERR_WIRE);
    CHECK_CONTAINS(psr_err_msg(), needle);
}

int main(void)
{
    const int W = 9; /* FM dim 8 */
    CHECK_INT(wire_check(buf, make(WIRE_PULL, 5, 5 * 8, 4), 4, W), PSR_OK);
    CHECK_INT(wire_check(buf, make(WIRE_PULL_REPLY, 5, 5 * 4 * W, 0), 0, W), PSR_OK);
    CHECK_INT(wire_check(buf, make(WIRE_PUSH, 5, 5 * (8 + 4 * W), 4), 4, W), PSR_OK);
    CHECK_INT(wire_check(buf, make(WIRE_CLOCK, 0, sizeof(wire_clock_t), 4), 4, W), PSR_OK);
    CHECK_INT(wire_check(buf, make(WIRE_SHUTDOWN, 0, 0, 4), 4, W), PSR_OK);

    expect_bad(10, 4, "shorter than the 40-byte header");
    size_t n = make(WIRE_PULL, 5, 40, 4);
    buf[0] ^= 1;
    expect_bad(n, 4, "bad magic");
    n = make(WIRE_PULL, 5, 40, 4);
    ((wire_hdr_t *)buf)->version = 99;
    expect_bad(n, 4, "protocol version 99");
    n = make(WIRE_PULL, 5, 40, 4);
    ((wire_hdr_t *)buf)->type = 200;
    expect_bad(n, 4, "unknown type 200");
    n = make(WIRE_PULL, 5, 40, 4);
    expect_bad(n, 5, "claims sender 4");
    n = make(WIRE_PULL, 5, 40, 4);
    expect_bad(n - 8, 4, "header says 40 payload bytes, received 32");
    n = make(WIRE_PULL, 6, 40, 4); /* count says 6 keys, payload holds 5 */
    expect_bad(n, 4, "expected 48 for count 6");
    n = make(WIRE_PUSH, 5, 5 * 8, 4); /* keys without gradients */
    expect_bad(n, 4, "PUSH message from rank 4: payload of 40 bytes");
    n = make(WIRE_PULL, (uint64_t)1 << 40, 40, 4);
    expect_bad(n, 4, "out of range");
    n = make(WIRE_CLOCK, 0, 8, 4);
    expect_bad(n, 4, "CLOCK message");
    n = make(WIRE_CKPT, 0, 0, 4);
    CHECK_INT(wire_check(buf, n, 4, 9), PSR_OK);
    n = make(WIRE_CKPT, 0, 8, 4);
    expect_bad(n, 4, "CKPT message from rank 4: payload of 8 bytes, expected 0");
    CHECK(strcmp(wire_type_name(WIRE_PUSH), "PUSH") == 0);
    CHECK(strcmp(wire_type_name(1000), "?") == 0);
    CHECK_DONE();
}
