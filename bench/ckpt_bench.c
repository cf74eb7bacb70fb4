/* ckpt_bench: checkpoint write and restore throughput of one server's table through the
 * server's own code (ps_server_write_rows, ps_server_load via a committed checkpoint), in MB/s
 * of raw parameter bytes (key, w|m|v, step, last per row), and the compression ratio. A
 * benchmark, not a test: it prints figures. Run by bench/ckpt_throughput.sh.
 *
 *   ckpt_bench DIR ROWS DIM LEVEL
 * Rows hold what training leaves: weights from the row initialiser, Adam moments of a few
 * hundred updates of small gradients (so m and v are not zero). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "hash.h"
#include "log.h"
#include "psr_error.h"
#include "server.h"
#include "table.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: ckpt_bench DIR ROWS DIM LEVEL\n");
        return 2;
    }
    const char *root = argv[1];
    const int64_t rows = atoll(argv[2]);
    const int dim = atoi(argv[3]), level = atoi(argv[4]), W = 1 + dim;
    MPI_Init(&argc, &argv);
    ps_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.n_servers = 1;
    o.n_workers = 1;
    o.tables.n = 1; /* one Adam table, as an FM job has */
    snprintf(o.tables.t[0].name, sizeof o.tables.t[0].name, "features");
    o.tables.t[0].width = W;
    o.tables.t[0].optim = PSR_OPTIM_ADAM;
    o.tables.t[0].init_std = 0.01f;
    o.tables.t[0].zero_first = 1;
    o.n_buckets = 4096;
    o.seed = 1;

    ps_table_t t;
    ps_table_init(&t, W, 1, 0.01f, rows);
    psr_rng_t rng;
    psr_rng_seed(&rng, 7);
    double t0 = psr_now();
    for (int64_t i = 0; i < rows; i++) {
        int64_t r = ps_table_insert(&t, psr_mix64((uint64_t)i + 1));
        float *m = ps_table_m(&t, r), *v = ps_table_v(&t, r);
        for (int j = 0; j < W; j++) {
            double g = 1e-3 * psr_rng_normal(&rng);
            m[j] = (float)(0.1 * g);
            v[j] = (float)(1e-3 * g * g);
        }
        t.step[r] = 1 + (int64_t)psr_rng_below(&rng, 500);
        t.last[r] = t.step[r];
    }
    const double raw = (double)rows * (24.0 + 12.0 * W);
    printf("table: rows=%lld dim=%d raw_mb=%.1f filled_in=%.1fs\n", (long long)rows, dim,
           raw / 1e6, psr_now() - t0);

    /* write through the job's path: stage, rows file, an empty dense file and states, commit */
    char *stage = NULL;
    ckpt_file_info_t fi[4];
    t0 = psr_now();
    int rc = ckpt_stage(root, 1, &stage);
    if (rc == PSR_OK) rc = ps_server_write_rows(&o, 0, 0, &t, stage, 1, level, &fi[0]);
    double t_rows = psr_now() - t0;
    ckpt_writer_t *w = NULL;
    if (rc == PSR_OK) rc = ckpt_dense_create(&w, stage, 1, level);
    if (rc == PSR_OK) rc = ckpt_writer_close(w, &fi[1]);
    if (rc == PSR_OK) rc = ckpt_write_state(stage, CKPT_KIND_WORKER, 0, 1, level, "", 0, &fi[2]);
    if (rc == PSR_OK) rc = ckpt_write_state(stage, CKPT_KIND_GLOBAL, 0, 1, level, "", 0, &fi[3]);
    ckpt_manifest_t m;
    ckpt_manifest_init(&m, 1, 1, 1, 1, 1, o.n_buckets, W);
    for (int i = 0; i < 4 && rc == PSR_OK; i++) ckpt_manifest_add_file(&m, &fi[i]);
    char *final = NULL;
    if (rc == PSR_OK) rc = ckpt_commit(root, &m, 1, &final);
    double t_write = psr_now() - t0;
    ckpt_manifest_free(&m);
    if (rc != PSR_OK) {
        fprintf(stderr, "ckpt_bench: %s\n", psr_err_msg());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    printf("write: level=%d seconds=%.2f raw_mb_per_sec=%.1f (rows file alone %.2fs) "
           "file_mb=%.1f ratio=%.3f\n", level, t_write, raw / t_write / 1e6, t_rows,
           (double)fi[0].bytes / 1e6, raw / (double)fi[0].bytes);

    /* restore: what a server does on --resume (the CRC pass of rank 0 timed separately) */
    ckpt_manifest_t mm;
    t0 = psr_now();
    rc = ckpt_manifest_load(final, &mm, CKPT_CHECK_CRC);
    double t_crc = psr_now() - t0;
    ckpt_manifest_free(&mm);
    ps_table_t back, dense;
    ps_table_init(&back, W, 1, 0.01f, rows);
    ps_table_init(&dense, 4096, 0, 0.0f, 1);
    int64_t n = 0;
    t0 = psr_now();
    if (rc == PSR_OK) rc = ps_server_load(&o, 0, final, &back, &dense, &n);
    double t_load = psr_now() - t0;
    if (rc != PSR_OK || n != rows || ps_table_digest(&back) != ps_table_digest(&t)) {
        fprintf(stderr, "ckpt_bench: restore failed (%lld rows): %s\n", (long long)n,
                rc != PSR_OK ? psr_err_msg() : "digest differs");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    printf("restore: seconds=%.2f raw_mb_per_sec=%.1f verify_crc_seconds=%.2f (digest equal)\n",
           t_load, raw / t_load / 1e6, t_crc);
    free(stage);
    free(final);
    ps_table_free(&t);
    ps_table_free(&back);
    ps_table_free(&dense);
    MPI_Finalize();
    return 0;
}
