/* psrec: one binary, subcommands. Dispatches on argv[1]; each subcommand parses its own
 * flags and returns the exit status (0 only on success). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

#ifndef PSREC_VERSION
#define PSREC_VERSION "0.1.0"
#endif

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    {"train", cmd_train, "train a model under mpirun: psrec train -c FILE.yaml [--set k=v ...]"},
    {"gen", cmd_gen, "write synthetic Criteo-format logs from a planted model, with its optimum"},
    {"ckpt", cmd_ckpt, "check or describe a checkpoint: psrec ckpt verify|inspect DIR"},
    {"prep", cmd_prep, "convert text logs to binary blocks: psrec prep -c FILE.yaml --out DIR"},
    {"plot", cmd_plot, "learning curves of a metrics file: psrec plot M.jsonl --out curves.png"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: psrec COMMAND [FLAGS]\n\n"
               "psrec %s: a distributed parameter-server trainer for recommender models.\n\n"
               "commands:\n",
            PSREC_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`psrec COMMAND --help` describes every flag of a command.\n"
               "Example: mpirun -np 2 psrec train -c cluster-configs/local.yaml\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("psrec %s\n", PSREC_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "train")) blas_kernels_fix(argv);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "psrec: unknown command '%s' (allowed: ", argv[1]);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(stderr, "%s%s", i ? ", " : "", commands[i].name);
    fprintf(stderr, "); see psrec --help\n");
    return 2;
}
