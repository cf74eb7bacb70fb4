/* client: see client.h. */
#include "client.h"

#include <string.h>

#include "idle.h"
#include "log.h"
#include "psr_error.h"
#include "wire.h"

void wk_client_init(wk_client_t *c, MPI_Comm comm, int n_servers, const int32_t *widths,
                    int n_tables)
{
    memset(c, 0, sizeof *c);
    c->comm = comm;
    MPI_Comm_rank(comm, &c->rank);
    c->n_servers = n_servers;
    c->n_tables = n_tables;
    memcpy(c->widths, widths, (size_t)n_tables * sizeof *widths);
    size_t S = (size_t)n_servers;
    c->pull_buf = psr_xcalloc(S, sizeof *c->pull_buf);
    c->reply_buf = psr_xcalloc(S, sizeof *c->reply_buf);
    c->push_buf = psr_xcalloc(S, sizeof *c->push_buf);
    c->pull_cap = psr_xcalloc(S, sizeof *c->pull_cap);
    c->reply_cap = psr_xcalloc(S, sizeof *c->reply_cap);
    c->push_cap = psr_xcalloc(S, sizeof *c->push_cap);
    c->pull_req = psr_xmalloc(S * sizeof *c->pull_req);
    c->reply_req = psr_xmalloc(S * sizeof *c->reply_req);
    c->push_req = psr_xmalloc(S * sizeof *c->push_req);
    for (size_t s = 0; s < S; s++) c->pull_req[s] = c->reply_req[s] = c->push_req[s] = MPI_REQUEST_NULL;
}

/* Grow a per-server buffer (only while no request uses it: callers wait first). Buffers grow
 * by doubling, so a run allocates a handful of times while batches reach their largest. */
static void ensure(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return;
    size_t n = *cap ? *cap : 4096;
    while (n < need) n *= 2;
    free(*buf);
    *buf = psr_xmalloc(n);
    *cap = n;
}

void wk_client_free(wk_client_t *c)
{
    if (!c || !c->pull_buf) return;
    for (int s = 0; s < c->n_servers; s++) {
        free(c->pull_buf[s]);
        free(c->reply_buf[s]);
        free(c->push_buf[s]);
    }
    free(c->pull_buf);
    free(c->reply_buf);
    free(c->push_buf);
    free(c->pull_req);
    free(c->reply_req);
    free(c->push_req);
    free(c->pull_cap);
    free(c->reply_cap);
    free(c->push_cap);
    if (c->dense_buf)
        for (int s = 0; s < c->n_servers; s++) free(c->dense_buf[s]);
    free(c->dense_buf);
    free(c->dense_req);
    free(c->dense_reply);
    memset(c, 0, sizeof *c);
}

/* Complete requests r[0, n): MPI_Waitall when ranks poll, else MPI_Testall with the idle
 * back-off (common/idle.h), so a worker waiting on a server leaves a shared core to it. */
static void wait_all(int n, MPI_Request *r, MPI_Status *st)
{
    if (psr_idle_mode() != PSR_IDLE_YIELD) {
        MPI_Waitall(n, r, st);
        return;
    }
    psr_idle_t idle = {0};
    for (;;) {
        int done = 0;
        MPI_Testall(n, r, &done, st);
        if (done) return;
        psr_idle_wait(&idle);
    }
}

/* MPI_Recv through wait_all. */
static void recv_msg(void *buf, int bytes, int source, int tag, MPI_Comm comm, MPI_Status *st)
{
    MPI_Request r;
    MPI_Irecv(buf, bytes, MPI_BYTE, source, tag, comm, &r);
    wait_all(1, &r, st);
}

/* Write the table of counts of server s (wire.h rule 3) at p; returns its bytes. */
static size_t put_counts(const wk_client_t *c, const wk_keyset_t *ks, int s, char *p)
{
    size_t cb = wire_counts_bytes(c->n_tables);
    memset(p, 0, cb);
    for (int t = 0; t < c->n_tables; t++) {
        uint32_t n = ks->srv_cnt[(size_t)s * (size_t)c->n_tables + (size_t)t];
        memcpy(p + 4 * (size_t)t, &n, 4);
    }
    return cb;
}

void wk_client_pull_start(wk_client_t *c, const wk_keyset_t *ks, float *rows, int64_t step)
{
    c->pull_ks = *ks;
    c->pull_rows = rows;
    c->pull_step = step;
    const size_t cb = wire_counts_bytes(c->n_tables);
    for (int s = 0; s < c->n_servers; s++) {
        const int64_t k0 = ks->srv_off[s], k1 = ks->srv_off[s + 1];
        uint64_t n = (uint64_t)(k1 - k0);
        c->pull_req[s] = c->reply_req[s] = MPI_REQUEST_NULL;
        if (n == 0) continue;
        size_t floats = (size_t)(ks->roff[k1] - ks->roff[k0]);
        size_t reply_bytes = sizeof(wire_hdr_t) + cb + floats * sizeof(float);
        size_t req_bytes = sizeof(wire_hdr_t) + cb + n * sizeof(uint64_t);
        ensure(&c->reply_buf[s], &c->reply_cap[s], reply_bytes);
        ensure(&c->pull_buf[s], &c->pull_cap[s], req_bytes);
        MPI_Irecv(c->reply_buf[s], (int)reply_bytes, MPI_BYTE, s, WIRE_TAG_REPLY, c->comm,
                  &c->reply_req[s]);
        wire_hdr_t *h = (wire_hdr_t *)c->pull_buf[s];
        wire_hdr_fill(h, WIRE_PULL, 0, c->rank, req_bytes - sizeof *h, step, n);
        char *p = (char *)(h + 1);
        p += put_counts(c, ks, s, p);
        memcpy(p, ks->keys + k0, n * sizeof(uint64_t));
        MPI_Isend(h, (int)req_bytes, MPI_BYTE, s, WIRE_TAG_REQUEST, c->comm, &c->pull_req[s]);
    }
}

int wk_client_pull_wait(wk_client_t *c)
{
    double t0 = psr_now();
    wait_all(c->n_servers, c->pull_req, MPI_STATUSES_IGNORE);
    int rc = PSR_OK;
    const wk_keyset_t *ks = &c->pull_ks;
    const size_t cb = wire_counts_bytes(c->n_tables);
    for (int s = 0; s < c->n_servers; s++) {
        const int64_t k0 = ks->srv_off[s], k1 = ks->srv_off[s + 1];
        uint64_t n = (uint64_t)(k1 - k0);
        if (n == 0) continue;
        MPI_Status st;
        int count;
        wait_all(1, &c->reply_req[s], &st);
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (rc != PSR_OK) continue;
        rc = wire_check(c->reply_buf[s], (size_t)count, s, c->widths, c->n_tables);
        const wire_hdr_t *h = (const wire_hdr_t *)c->reply_buf[s];
        if (rc == PSR_OK && (h->type != WIRE_PULL_REPLY || h->count != n))
            rc = PSR_ERR(PSR_ERR_WIRE, "reply from server %d: %s with %llu rows, expected "
                                       "PULL_REPLY with %llu",
                         s, wire_type_name(h->type), (unsigned long long)h->count,
                         (unsigned long long)n);
        if (rc == PSR_OK && memcmp((const char *)(h + 1),
                                   c->pull_buf[s] + sizeof(wire_hdr_t), cb) != 0)
            rc = PSR_ERR(PSR_ERR_WIRE, "reply from server %d: its table counts differ from the "
                         "request's", s);
        if (rc == PSR_OK)
            memcpy(c->pull_rows + ks->roff[k0], (const char *)(h + 1) + cb,
                   (size_t)(ks->roff[k1] - ks->roff[k0]) * sizeof(float));
    }
    c->wait_seconds += psr_now() - t0;
    return rc;
}

void wk_client_push_wait(wk_client_t *c)
{
    double t0 = psr_now();
    wait_all(c->n_servers, c->push_req, MPI_STATUSES_IGNORE);
    if (c->dense_req) wait_all(c->n_servers, c->dense_req, MPI_STATUSES_IGNORE);
    c->wait_seconds += psr_now() - t0;
}

/* Blocks of server s among n_blocks: s, s + S, s + 2S, ... */
static int64_t blocks_of(const wk_client_t *c, int s, int64_t n_blocks)
{
    return n_blocks > s ? (n_blocks - s + c->n_servers - 1) / c->n_servers : 0;
}

static void dense_alloc(wk_client_t *c, int64_t n_blocks)
{
    if (c->dense_buf) return;
    size_t S = (size_t)c->n_servers;
    c->dense_buf = psr_xcalloc(S, sizeof *c->dense_buf);
    c->dense_req = psr_xmalloc(S * sizeof *c->dense_req);
    for (int s = 0; s < c->n_servers; s++) {
        size_t nb = (size_t)blocks_of(c, s, n_blocks);
        c->dense_buf[s] = psr_xmalloc(sizeof(wire_hdr_t) +
                                      nb * (sizeof(uint64_t) + WIRE_DENSE_BLOCK * sizeof(float)));
        c->dense_req[s] = MPI_REQUEST_NULL;
    }
    /* server 0 holds the most blocks */
    c->dense_reply = psr_xmalloc(sizeof(wire_hdr_t) + (size_t)blocks_of(c, 0, n_blocks) *
                                                          WIRE_DENSE_BLOCK * sizeof(float));
}

/* Fill server s's dense message: ids, then (if src) the blocks' floats. Returns its bytes. */
static size_t dense_fill(wk_client_t *c, int s, int type, uint32_t flags, const float *src,
                         int64_t n_blocks, int64_t step)
{
    int64_t nb = blocks_of(c, s, n_blocks);
    size_t floats = src ? (size_t)nb * WIRE_DENSE_BLOCK * sizeof(float) : 0;
    wire_hdr_t *h = (wire_hdr_t *)c->dense_buf[s];
    wire_hdr_fill(h, type, flags, c->rank, (size_t)nb * sizeof(uint64_t) + floats, step,
                  (uint64_t)nb);
    uint64_t *ids = (uint64_t *)(h + 1);
    float *dst = (float *)(ids + nb);
    for (int64_t i = 0; i < nb; i++) {
        int64_t b = s + i * c->n_servers;
        ids[i] = (uint64_t)b;
        if (src) memcpy(dst + i * WIRE_DENSE_BLOCK, src + b * WIRE_DENSE_BLOCK,
                        WIRE_DENSE_BLOCK * sizeof(float));
    }
    return sizeof *h + h->payload_bytes;
}

/* Receive server s's dense reply of `nb` blocks into theta (or just check an ack). */
static int dense_recv(wk_client_t *c, int s, float *theta, int64_t nb)
{
    size_t bytes = sizeof(wire_hdr_t) + (size_t)nb * WIRE_DENSE_BLOCK * sizeof(float);
    char *buf = c->dense_reply;
    MPI_Status st;
    int count;
    recv_msg(buf, (int)bytes, s, WIRE_TAG_DENSE_REPLY, c->comm, &st);
    MPI_Get_count(&st, MPI_BYTE, &count);
    int rc = wire_check(buf, (size_t)count, s, c->widths, c->n_tables);
    const wire_hdr_t *h = (const wire_hdr_t *)buf;
    if (rc == PSR_OK && (h->type != WIRE_PULL_DENSE_REPLY || h->count != (uint64_t)nb))
        rc = PSR_ERR(PSR_ERR_WIRE, "dense reply from server %d: %s with %llu blocks, expected %lld",
                     s, wire_type_name(h->type), (unsigned long long)h->count, (long long)nb);
    if (rc == PSR_OK && theta) {
        const float *src = (const float *)(h + 1);
        for (int64_t i = 0; i < nb; i++)
            memcpy(theta + (s + i * c->n_servers) * WIRE_DENSE_BLOCK, src + i * WIRE_DENSE_BLOCK,
                   WIRE_DENSE_BLOCK * sizeof(float));
    }
    return rc;
}

void wk_client_dense_init(wk_client_t *c, const float *theta, int64_t n_blocks)
{
    dense_alloc(c, n_blocks);
    for (int s = 0; s < c->n_servers; s++) {
        if (blocks_of(c, s, n_blocks) == 0) continue;
        size_t n = dense_fill(c, s, WIRE_PUSH_DENSE, WIRE_DENSE_F_INIT, theta, n_blocks, 0);
        MPI_Send(c->dense_buf[s], (int)n, MPI_BYTE, s, WIRE_TAG_REQUEST, c->comm);
        if (dense_recv(c, s, NULL, 0) != PSR_OK) psr_die(1, "%s", psr_err_msg());
    }
}

int wk_client_dense_pull(wk_client_t *c, float *theta, int64_t n_blocks, int64_t step)
{
    double t0 = psr_now();
    dense_alloc(c, n_blocks);
    wk_client_push_wait(c); /* the dense buffers are shared with pushes */
    int rc = PSR_OK;
    for (int s = 0; s < c->n_servers; s++) {
        if (blocks_of(c, s, n_blocks) == 0) continue;
        size_t n = dense_fill(c, s, WIRE_PULL_DENSE, 0, NULL, n_blocks, step);
        MPI_Send(c->dense_buf[s], (int)n, MPI_BYTE, s, WIRE_TAG_REQUEST, c->comm);
    }
    for (int s = 0; s < c->n_servers && rc == PSR_OK; s++) {
        int64_t nb = blocks_of(c, s, n_blocks);
        if (nb > 0) rc = dense_recv(c, s, theta, nb);
    }
    c->wait_seconds += psr_now() - t0;
    return rc;
}

void wk_client_dense_push(wk_client_t *c, const float *grad, int64_t n_blocks, int64_t step)
{
    dense_alloc(c, n_blocks);
    double t0 = psr_now();
    wait_all(c->n_servers, c->dense_req, MPI_STATUSES_IGNORE);
    c->wait_seconds += psr_now() - t0;
    for (int s = 0; s < c->n_servers; s++) {
        c->dense_req[s] = MPI_REQUEST_NULL;
        if (blocks_of(c, s, n_blocks) == 0) continue;
        size_t n = dense_fill(c, s, WIRE_PUSH_DENSE, 0, grad, n_blocks, step);
        MPI_Isend(c->dense_buf[s], (int)n, MPI_BYTE, s, WIRE_TAG_REQUEST, c->comm,
                  &c->dense_req[s]);
    }
}

void wk_client_push(wk_client_t *c, const wk_keyset_t *ks, const float *grads, int64_t step)
{
    wk_client_push_wait(c);
    const size_t cb = wire_counts_bytes(c->n_tables);
    for (int s = 0; s < c->n_servers; s++) {
        const int64_t k0 = ks->srv_off[s], k1 = ks->srv_off[s + 1];
        uint64_t n = (uint64_t)(k1 - k0);
        c->push_req[s] = MPI_REQUEST_NULL;
        if (n == 0) continue;
        size_t floats = (size_t)(ks->roff[k1] - ks->roff[k0]);
        size_t payload = cb + n * sizeof(uint64_t) + floats * sizeof(float);
        ensure(&c->push_buf[s], &c->push_cap[s], sizeof(wire_hdr_t) + payload);
        wire_hdr_t *h = (wire_hdr_t *)c->push_buf[s];
        wire_hdr_fill(h, WIRE_PUSH, 0, c->rank, payload, step, n);
        char *p = (char *)(h + 1);
        p += put_counts(c, ks, s, p);
        memcpy(p, ks->keys + k0, n * sizeof(uint64_t));
        memcpy(p + n * sizeof(uint64_t), grads + ks->roff[k0], floats * sizeof(float));
        MPI_Isend(h, (int)(sizeof *h + payload), MPI_BYTE, s, WIRE_TAG_REQUEST, c->comm,
                  &c->push_req[s]);
    }
}

void wk_client_clock(wk_client_t *c, int64_t finished_steps, int64_t examples, double loss_sum,
                     uint32_t flags)
{
    struct {
        wire_hdr_t h;
        wire_clock_t c;
    } m;
    wire_hdr_fill(&m.h, WIRE_CLOCK, flags, c->rank, sizeof m.c, finished_steps, 0);
    m.c.examples = examples;
    m.c.loss_sum = loss_sum;
    MPI_Send(&m, sizeof m, MPI_BYTE, 0, WIRE_TAG_REQUEST, c->comm);
}

static int64_t recv_grant(wk_client_t *c)
{
    wire_hdr_t g;
    MPI_Status st;
    int count;
    double t0 = psr_now();
    recv_msg(&g, sizeof g, 0, WIRE_TAG_CLOCK, c->comm, &st);
    c->wait_seconds += psr_now() - t0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (wire_check(&g, (size_t)count, 0, c->widths, c->n_tables) != PSR_OK)
        psr_die(1, "%s", psr_err_msg());
    if (g.type != WIRE_CLOCK_GRANT)
        psr_die(1, "clock reply from server 0 is %s, expected CLOCK_GRANT", wire_type_name(g.type));
    return g.step;
}

int64_t wk_client_clock_wait(wk_client_t *c, int64_t need)
{
    wire_hdr_t h;
    wire_hdr_fill(&h, WIRE_CLOCK_WAIT, 0, c->rank, 0, need, 0);
    MPI_Send(&h, sizeof h, MPI_BYTE, 0, WIRE_TAG_REQUEST, c->comm);
    return recv_grant(c);
}

void wk_client_clock_resume(wk_client_t *c, int64_t finished_steps)
{
    wk_client_clock(c, finished_steps, 0, 0.0, WIRE_CLOCK_F_RESUME);
    (void)recv_grant(c);
}

void wk_client_ckpt(wk_client_t *c, int64_t finished_steps, int64_t ckpt_step)
{
    wire_hdr_t h;
    for (int s = 0; s < c->n_servers; s++) {
        wire_hdr_fill(&h, WIRE_CKPT, 0, c->rank, 0, finished_steps, (uint64_t)ckpt_step);
        MPI_Send(&h, sizeof h, MPI_BYTE, s, WIRE_TAG_REQUEST, c->comm);
    }
}

void wk_client_shutdown(wk_client_t *c)
{
    wire_hdr_t h;
    for (int s = 0; s < c->n_servers; s++) {
        wire_hdr_fill(&h, WIRE_SHUTDOWN, 0, c->rank, 0, 0, 0);
        MPI_Send(&h, sizeof h, MPI_BYTE, s, WIRE_TAG_REQUEST, c->comm);
    }
}
