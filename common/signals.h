/* signals: preemption requests (DESIGN.md 7). SIGTERM and SIGUSR1 only set a flag; the
 * trainer polls it between steps, and the job writes a checkpoint and exits 0. Slurm's
 * `--signal` and `scontrol requeue`, and PBS's qdel grace period, deliver one of them. */
#ifndef PSR_SIGNALS_H
#define PSR_SIGNALS_H

/* Install the handlers (SA_RESTART). Call after MPI_Init, which installs its own. */
void psr_signals_install(void);
/* Back to the default actions (a job without checkpoints); a signal that arrived meanwhile
 * is raised again, so it takes its default effect now. */
void psr_signals_default(void);
/* The first of SIGTERM / SIGUSR1 received since install, or 0. */
int psr_signal_pending(void);
/* For tests: behave as if `sig` had arrived. */
void psr_signal_raise(int sig);

#endif
