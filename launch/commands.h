/* commands: the psrec subcommands. Each takes argv after the subcommand name (argv[0] is
 * the subcommand) and returns the process exit status: 0 only on success. */
#ifndef PSR_COMMANDS_H
#define PSR_COMMANDS_H

int cmd_train(int argc, char **argv); /* launch/cmd_train.c: under mpirun */
int cmd_gen(int argc, char **argv);   /* launch/cmd_gen.c: synthetic logs */
int cmd_ckpt(int argc, char **argv);  /* launch/cmd_ckpt.c: verify, inspect a checkpoint */
int cmd_prep(int argc, char **argv);  /* launch/cmd_prep.c: text logs to block files */
int cmd_plot(int argc, char **argv);  /* launch/cmd_plot.c: learning curves (gnuplot) */

/* launch/blas_kernels.c: before anything else in `psrec train`, with the whole argv: re-exec
 * with OPENBLAS_CORETYPE set when OpenBLAS fell back to generic kernels on a CPU it does not
 * know (returns when nothing needs doing). */
void blas_kernels_fix(char **argv);

#endif
