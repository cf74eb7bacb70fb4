/* tables: what a model's embedding tables are, as both roles see them.
 *
 * A model declares its tables (worker/model.h): MF has `user`, `item` and `global`; LR, FM,
 * DeepFM and DLRM have one table, `features`. Workers send each key with its table id
 * (wire.h), servers keep one hash table per id (ps/server.h), checkpoints store one rows file
 * per server and table (ckpt.h). The spec is plain data so that rank 0 can broadcast it.
 *
 * Rules:
 *  T1. Table ids are 0 .. n-1 in declaration order; n <= PSR_MAX_TABLES.
 *  T2. A row of table t holds width weights followed by psr_optim_state_floats(optim, width)
 *      floats of optimizer state (common/optim.h).
 *  T3. The initial weights of key k in table t depend only on (train.seed, t, k): w[0] is 0
 *      when zero_first (a bias or a linear weight), every other weight N(0, init_std^2).
 *      Table 0 uses the seed as given; table t >= 1 the seed XOR psr_table_salt(t), so two tables
 *      keyed by the same id (NeuMF's GMF and MLP user tables) start from different vectors. */
#ifndef PSR_TABLES_H
#define PSR_TABLES_H

#include <stdint.h>

#define PSR_MAX_TABLES 8
#define PSR_TABLE_NAME_MAX 16 /* bytes with the NUL */

typedef struct {
    char name[PSR_TABLE_NAME_MAX]; /* [A-Za-z0-9_]+ */
    int32_t width;                 /* weights per row, >= 1 */
    int32_t optim;                 /* enum psr_optim_kind */
    float init_std;                /* std of the initial weights (T3) */
    int32_t zero_first;            /* w[0] starts at 0 (T3) */
} psr_table_spec_t;

typedef struct {
    int32_t n;                               /* tables, [1, PSR_MAX_TABLES] */
    psr_table_spec_t t[PSR_MAX_TABLES];
} psr_tables_t;

#endif
