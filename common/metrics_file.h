/* metrics_file: the job's report lines (progress:, eval:, checkpoint:, result:) built once as a
 * list of fields, printed as `key=value` text and appended to train.metrics_file as one JSON
 * object per line, so the file and the printed lines can never disagree.
 *
 * Rules of the file (docs/OPERATIONS.md, "Metrics file"):
 *  1. One JSON object per line (JSON Lines), written with jansson: every field of the printed
 *     line, then "event" ("progress", "eval", "checkpoint", "result"), "time" (Unix seconds,
 *     a number with fraction), "rank" (the MPI rank that wrote it) and "step".
 *  2. A printed number is a JSON number with the printed value (a unit suffix such as the `s`
 *     of `elapsed=3.0s` is dropped from the value); nan or inf is null; text is a string; a
 *     hexadecimal digest is a string (it would not survive a double).
 *  3. The file is opened with O_APPEND and each line goes out in one write(2): nothing is held
 *     in a buffer, a resumed job continues the file, and the two ranks that write (rank 0, the
 *     first worker) never split each other's lines on a local file system.
 *  4. A failed write warns once and stops the file; it never stops the job.
 *
 * Not thread-safe: the sink is per process, like the log. */
#ifndef PSR_METRICS_FILE_H
#define PSR_METRICS_FILE_H

#include <stddef.h>
#include <stdint.h>

#define MF_TEXT_MAX 2048

/* A line being built. mf_begin starts it; every field goes to the text and to the JSON
 * object; mf_emit (or mf_drop) ends it. */
typedef struct {
    char text[MF_TEXT_MAX]; /* "key=value key=value ...", NUL-terminated */
    size_t len;
    void *obj;              /* json_t *: the JSON object (owned) */
} mf_rec_t;

/* Start a record of `event` at `step` ("step" is set in the JSON, not in the text). */
void mf_begin(mf_rec_t *r, const char *event, int64_t step);
/* key=v in both. */
void mf_int(mf_rec_t *r, const char *key, int64_t v);
/* key=<printf(fmt, v)> in the text, the printed value in the JSON (null if not finite).
 * fmt is one double conversion, optionally with a unit suffix ("%.1fs"). */
void mf_num(mf_rec_t *r, const char *key, const char *fmt, double v);
/* key=v in both (a JSON string). */
void mf_str(mf_rec_t *r, const char *key, const char *v);
/* key=%016llx in the text, a JSON string. */
void mf_hex(mf_rec_t *r, const char *key, uint64_t v);
/* JSON only (a field the printed line does not carry). */
void mf_json_int(mf_rec_t *r, const char *key, int64_t v);
/* The text so far. */
const char *mf_text(const mf_rec_t *r);
/* Append the record to the metrics file, if one is open, and free it. */
void mf_emit(mf_rec_t *r);
/* Free without writing. */
void mf_drop(mf_rec_t *r);

/* Open `path` for appending (created 0644 if missing) as this process's metrics file; `rank`
 * goes in every record. PSR_OK, or PSR_ERR_IO naming the path. */
int mf_open(const char *path, int rank);
/* Whether a metrics file is open here. */
int mf_is_open(void);
void mf_close(void);

/* The JSON text of one record without the newline (for tests); caller frees. NULL if the
 * record cannot be encoded. Does not end the record. */
char *mf_json(const mf_rec_t *r);

/* Fraction of a job done, for `pct=` and `eta=`: the larger of examples / total_examples
 * (when total_examples > 0, i.e. known) and step_sum / (n_workers x max_steps) (when
 * max_steps > 0), capped at 1; -1 when neither is known. */
double mf_progress_fraction(int64_t total_examples, int64_t examples, int64_t max_steps,
                            int64_t step_sum, int n_workers);
/* The examples a job of `epochs` epochs trains in all, from the first epoch end a run saw:
 * `at_end` examples (since the job's first run) when epoch `epoch` (0-based) ended. A run that
 * started at the first row of epoch `epoch0` with `examples0` examples behind it
 * (run_at_epoch_start: a new job, or a resume that restarts its epoch) measures an epoch as
 * at_end - examples0 when epoch == epoch0; otherwise every epoch so far is taken to be equal,
 * at_end / (epoch + 1). 0 when nothing can be said. */
int64_t mf_total_examples(int64_t epochs, int64_t epoch, int64_t at_end, int run_at_epoch_start,
                          int64_t epoch0, int64_t examples0);
/* Seconds left when the run went from fraction f0 to f in `elapsed` seconds at a steady
 * pace; -1 when that says nothing (f unknown or no progress yet). */
double mf_eta(double f, double f0, double elapsed);

#endif
