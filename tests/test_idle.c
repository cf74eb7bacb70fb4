/* test_idle: cluster.idle's resolution before MPI_Init (common/idle.h): auto yields exactly
 * when the launcher reports more ranks on the node than there are online CPUs, an explicit
 * mode overrides Open MPI's mpi_yield_when_idle in the environment and auto never does, and
 * the back-off really gives the core away (a yielding wait sleeps, a polling one does not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "idle.h"

#define MCA "OMPI_MCA_mpi_yield_when_idle"

static const char *mca(void) { return getenv(MCA) ? getenv(MCA) : "(unset)"; }

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void)
{
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char buf[32];
    int local = -1, n_cpus = -1;

    /* no launcher variables: auto polls and leaves the environment alone */
    unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    unsetenv("MPI_LOCALNRANKS");
    unsetenv(MCA);
    CHECK_INT(psr_idle_prepare(PSR_IDLE_AUTO, &local, &n_cpus), PSR_IDLE_POLL);
    CHECK_INT(local, 0);
    CHECK_INT(n_cpus, cpus);
    CHECK(getenv(MCA) == NULL);

    /* as many ranks as CPUs: still poll */
    snprintf(buf, sizeof buf, "%ld", cpus);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", buf, 1);
    CHECK_INT(psr_idle_prepare(PSR_IDLE_AUTO, &local, NULL), PSR_IDLE_POLL);
    CHECK_INT(local, cpus);
    CHECK(getenv(MCA) == NULL);
    CHECK_INT(psr_idle_mode(), PSR_IDLE_POLL);

    /* one rank more than CPUs: yield, and Open MPI is told to yield too */
    snprintf(buf, sizeof buf, "%ld", cpus + 1);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", buf, 1);
    CHECK_INT(psr_idle_prepare(PSR_IDLE_AUTO, &local, NULL), PSR_IDLE_YIELD);
    CHECK_INT(local, cpus + 1);
    CHECK(!strcmp(mca(), "1"));
    CHECK_INT(psr_idle_mode(), PSR_IDLE_YIELD);

    /* auto keeps a value the user set */
    setenv(MCA, "0", 1);
    CHECK_INT(psr_idle_prepare(PSR_IDLE_AUTO, NULL, NULL), PSR_IDLE_YIELD);
    CHECK(!strcmp(mca(), "0"));

    /* explicit modes override it either way, whatever the rank count */
    CHECK_INT(psr_idle_prepare(PSR_IDLE_YIELD, NULL, NULL), PSR_IDLE_YIELD);
    CHECK(!strcmp(mca(), "1"));
    CHECK_INT(psr_idle_prepare(PSR_IDLE_POLL, NULL, NULL), PSR_IDLE_POLL);
    CHECK(!strcmp(mca(), "0"));

    /* MPICH's Hydra variable when Open MPI's is absent; garbage counts as unknown */
    unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    setenv("MPI_LOCALNRANKS", buf, 1);
    CHECK_INT(psr_idle_prepare(PSR_IDLE_AUTO, &local, NULL), PSR_IDLE_YIELD);
    CHECK_INT(local, cpus + 1);
    setenv("MPI_LOCALNRANKS", "4x", 1);
    CHECK_INT(psr_idle_prepare(PSR_IDLE_AUTO, &local, NULL), PSR_IDLE_POLL);
    CHECK_INT(local, 0);

    /* the config key: names and default */
    CHECK(!strcmp(cfg_enum_name("cluster.idle", PSR_IDLE_AUTO), "auto"));
    CHECK(!strcmp(cfg_enum_name("cluster.idle", PSR_IDLE_POLL), "poll"));
    CHECK(!strcmp(cfg_enum_name("cluster.idle", PSR_IDLE_YIELD), "yield"));
    cfg_t *c = calloc(1, sizeof *c);
    cfg_defaults(c);
    CHECK_INT(c->cluster.idle, PSR_IDLE_AUTO);
    CHECK_INT(cfg_set(c, "cluster.idle=yield"), 0);
    CHECK_INT(c->cluster.idle, PSR_IDLE_YIELD);
    CHECK(cfg_set(c, "cluster.idle=sleep") != 0);
    free(c);

    /* the back-off: 2000 idle rounds under poll return at once; under yield they reach the
     * 1 ms sleeps (64 spins, 64 yields, then sleeps of 16, 32, ... 1024 us), so they take
     * about 2 s of wall time and almost no CPU */
    psr_idle_t w = {0};
    psr_idle_set(PSR_IDLE_POLL);
    double t0 = wall_seconds();
    for (int i = 0; i < 2000; i++) psr_idle_wait(&w);
    CHECK(wall_seconds() - t0 < 0.05);
    psr_idle_set(PSR_IDLE_YIELD);
    psr_idle_busy(&w);
    double c0 = cpu_seconds();
    t0 = wall_seconds();
    for (int i = 0; i < 2000; i++) psr_idle_wait(&w);
    double wall = wall_seconds() - t0, cpu = cpu_seconds() - c0;
    printf("2000 yielding idle rounds: %.3f s wall, %.3f s CPU\n", wall, cpu);
    CHECK(wall > 1.5);       /* about 1860 sleeps of 1 ms */
    CHECK(cpu < 0.5 * wall); /* asleep, not spinning */
    CHECK_DONE();
}
