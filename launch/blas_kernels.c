/* blas_kernels: make OpenBLAS use the kernels the CPU can run.
 *
 * OpenBLAS (DYNAMIC_ARCH, as Debian builds it) picks its kernels once, when the library loads,
 * from the CPU model number. A CPU newer than the library (for example model 207, Emerald
 * Rapids, under OpenBLAS 0.3.21) is not recognised and gets the generic "Prescott" SSE3
 * kernels, which run sgemm 5-7 times slower than the AVX-512 ones the CPU has. Only the
 * OPENBLAS_CORETYPE environment variable, read at load time, overrides the choice, so when
 * the library reports Prescott on a CPU with AVX-512 (or AVX2 + FMA) and the user has not set
 * OPENBLAS_CORETYPE, psrec sets it (SkylakeX, or Haswell) and re-executes itself before doing
 * anything else. PSREC_KEEP_BLAS_CORE=1 keeps the library's own choice. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

char *openblas_get_corename(void); /* OpenBLAS extension; not in every cblas.h */

void blas_kernels_fix(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("PSREC_KEEP_BLAS_CORE")) return;
    const char *core = openblas_get_corename();
    if (!core || strcmp(core, "Prescott") != 0) return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    /* the binary's own path, not /proc/self/exe, so the process keeps its name (ps, pgrep) */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1) return;
    self[n] = '\0';
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv(self, argv); /* only returns on failure: keep the slow kernels */
    unsetenv("OPENBLAS_CORETYPE");
#else
    (void)argv;
#endif
}
