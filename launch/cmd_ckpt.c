/* cmd_ckpt: `psrec ckpt verify|inspect DIR`, offline checks of one checkpoint directory.
 *
 * Both reports live in common/ckpt.c (ckpt_verify_print, ckpt_inspect_print) so the unit
 * tests exercise them; this file only parses the command line. Exit status: 0 when the
 * checkpoint verifies (inspect: when it was read completely), 1 when it does not or an I/O
 * error occurred, 2 for a bad command line. No MPI. */
#include <stdio.h>
#include <string.h>

#include "ckpt.h"
#include "commands.h"
#include "psr_error.h"

static void ckpt_usage(FILE *f)
{
    fprintf(f,
            "usage: psrec ckpt verify DIR\n"
            "       psrec ckpt inspect DIR\n"
            "\n"
            "Check or describe one checkpoint directory (a ckpt-<step> directory inside\n"
            "checkpoint.dir; docs/CHECKPOINTS.md describes the format).\n"
            "\n"
            "  verify DIR    check the manifest and every file: size and CRC32 against the\n"
            "                manifest, each rows file's header against its table (width,\n"
            "                floats per row), every compressed segment and its CRC, every key\n"
            "                in its bucket and every bucket of every table in exactly one of\n"
            "                that table's server files. One line per file (OK or FAIL with the\n"
            "                problem), then a summary. Exit 0 only if everything verifies.\n"
            "  inspect DIR   print step, server, worker and bucket counts, one line per\n"
            "                embedding table (name, width, floats per row, optimizer, rows,\n"
            "                compressed bytes), rows per server and per bucket, raw and\n"
            "                compressed bytes per file kind with compression ratios (raw /\n"
            "                compressed), and \"digest: HEX\", the model digest: the wrapping\n"
            "                64-bit sum of psr_row_digest over every row of every table and\n"
            "                every dense block. Two checkpoints with the same digest hold the\n"
            "                same parameters and optimizer state.\n"
            "  --help        print this help (also after verify or inspect)\n");
}

int cmd_ckpt(int argc, char **argv)
{
    if (argc < 2) {
        ckpt_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        ckpt_usage(stdout);
        return 0;
    }
    if (strcmp(sub, "verify") != 0 && strcmp(sub, "inspect") != 0) {
        fprintf(stderr, "psrec ckpt: unknown subcommand '%s' (allowed: verify, inspect; see psrec ckpt --help)\n",
                sub);
        return 2;
    }
    const char *dir = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ckpt_usage(stdout);
            return 0;
        }
        if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "psrec ckpt %s: unknown flag '%s' (see psrec ckpt --help)\n", sub, a);
            return 2;
        }
        if (dir) {
            fprintf(stderr, "psrec ckpt %s: one directory only ('%s' and '%s')\n", sub, dir, a);
            return 2;
        }
        dir = a;
    }
    if (!dir || !*dir) {
        fprintf(stderr, "psrec ckpt %s: missing the checkpoint directory (see psrec ckpt --help)\n",
                sub);
        return 2;
    }
    if (!strcmp(sub, "verify")) {
        int rc = ckpt_verify_print(dir, stdout);
        fflush(stdout);
        if (rc != PSR_OK) fprintf(stderr, "psrec: error: %s\n", psr_err_msg());
        return rc == PSR_OK ? 0 : 1;
    }
    int rc = ckpt_inspect_print(dir, stdout);
    fflush(stdout);
    if (rc != PSR_OK) {
        fprintf(stderr, "psrec: error: %s\n", psr_err_msg());
        return 1;
    }
    return 0;
}
