/* cli/cli.h - shared declarations of the blindlink command-line front end.
 * Every subcommand lives in its own file cli/<name>.c and exposes
 * `int cmd_<name>(int argc, char **argv)` where argv[0] is the subcommand
 * name; it returns the process exit code (0 ok, 1 runtime failure, 2 usage
 * or input error). The CLI uses only the public API in include/blindlink/. */
#ifndef BLINDLINK_CLI_H
#define BLINDLINK_CLI_H

#include <blindlink/common.h>
#include <blindlink/match.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

int cmd_encode(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_match(int argc, char **argv);

/** Distributed candidate step of `match` (set by blindlink-mpi, NULL in
 *  blindlink): must return what bl_match_candidates returns; sets *writer
 *  to 0 on the processes that neither solve nor write. */
typedef bl_status (*cli_candidates_hook)(const bl_clkset *const *sets, size_t nsets,
                                         const bl_match_opts *mo, bl_candidate **out,
                                         size_t *count, int *writer, bl_error *err);
extern cli_candidates_hook cli_match_hook;
/** blindlink-mpi: reads the inputs (each rank only the rows it needs) in
 *  place of bl_clkset_read; on failure frees what it read and sets none. */
typedef bl_status (*cli_read_hook)(const char *const *paths, size_t n, bl_clkset **sets,
                                   bl_error *err);
extern cli_read_hook cli_match_read_hook;
/** blindlink-mpi: bl_blocking_lsh_plan_keep computed once (rank 0 holds all
 *  the rows it samples) and shared, in place of bl_blocking_lsh_plan_keep. */
typedef int (*cli_plan_hook)(const bl_clkset *const *sets, size_t nsets, double threshold,
                             double recall, bl_lsh_keep keep, uint32_t *tables, uint32_t *bits,
                             double *share);
extern cli_plan_hook cli_match_plan_hook;
int cmd_eval(int argc, char **argv);
int cmd_psi(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_relay(int argc, char **argv); /* chat (issue 14) */
int cmd_bank(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_explain(int argc, char **argv);

/** `match --model auto|FILE` as cmd_match runs it (cli/match_model.c): train
 *  or load a model, block, score, resolve, write the pairs CSV with weight
 *  and probability; --save-model, the --json summary, the 0-candidates
 *  warning. */
typedef struct cli_fs_opts {
    const char *model;            /**< "auto" or a model file */
    const char *output;           /**< pairs CSV ("-" = stdout) */
    const char *save_model;       /**< NULL, or where auto writes its model */
    const char *const *paths;     /**< field-level CLK files (no '-') */
    size_t n;
    double min_p;
    int threads, verbose, quiet, json;
    int lsh;                      /**< -1 none, 0 auto, 1 lsh */
    int candidates;               /**< -f candidates: every scored pair */
    size_t max_candidates;        /**< --max-candidates (0: the library's default) */
    double merge;                 /**< --merge-threshold: groups of 3+ inputs */
} cli_fs_opts;
int cli_match_fs(const cli_fs_opts *o);
/** The records (dataset << 32 | record) of n pairs, the bl_candidate of
 *  pair i at (char *)c + i * stride: sorted, each once, *nu of them
 *  (caller frees); NULL when out of memory. */
uint64_t *cli_pair_records(const bl_candidate *c, size_t n, size_t stride, size_t *nu);
/** The place of record (dset, rec) among cli_pair_records' keys (it must
 *  be one of them). */
size_t cli_record_at(const uint64_t *keys, size_t nu, uint32_t dset, uint32_t rec);
/** Unless some input is empty: warn on stderr that a run found 0 candidate
 *  pairs, or, of three inputs or more, name each input in no candidate pair
 *  (the usual cause: inputs encoded with other secrets or schemas). */
void cli_warn_no_candidates(const char *cmd, const bl_candidate *c, size_t ncand,
                            const bl_clkset *const *sets, const char *const *names, size_t n);
int cmd_attack(int argc, char **argv);

/** Print "blindlink <cmd>: <message>" to stderr; returns exit code for `err`. */
int cli_fail(const char *cmd, const bl_error *err);
/** cli_fail for a failure to read an input: a file that cannot be opened or
 *  read is the caller's to fix, so it exits 2 (usage or input error) like
 *  any other bad input, not 1 (BL_EIO, kept for outputs and the network). */
int cli_fail_input(const char *cmd, bl_error *err);
/** The status of cli_fail_input for a reading step: BL_EIO (an input that
 *  cannot be opened or read) becomes BL_EINVAL, in err too; others pass. */
bl_status cli_input_status(bl_status st, bl_error *err);
/** blindlink-mpi: set on a rank whose failure rank 0 reports; cli_fail then
 *  prints nothing (and still returns the exit code). */
extern int cli_fail_silent;

/** Print "blindlink <cmd>: <formatted>\nTry 'blindlink <cmd> --help'." and
 *  return CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) BL_PRINTF(2, 3);

/* ---- shared option handling (cli/cli_common.c) ----
 * Every subcommand keeps its options in a struct and parses them in one
 * function; the options all commands share go through cli_common_option:
 *   -o/--output FILE  -j/--threads N  -q/--quiet  -v/--verbose  -V/--version
 *   --json  (and -h/--help, which each command answers with its usage text).
 * Use cli_getopt_begin() before the getopt_long loop and a short option
 * string starting with ':' so that missing values are reported. */
enum { CLI_OPT_JSON = 200, CLI_OPT_FIRST_PRIVATE = 256 };
#define CLI_OPT_UNHANDLED (-1) /**< not a common option */
#define CLI_OPT_OK 0           /**< handled, continue parsing */
#define CLI_OPT_EXIT 255       /**< handled, exit 0 now (--version) */

#define CLI_LONGOPT_QUIET {"quiet", no_argument, NULL, 'q'}
#define CLI_LONGOPT_VERBOSE {"verbose", no_argument, NULL, 'v'}
#define CLI_LONGOPT_VERSION {"version", no_argument, NULL, 'V'}
#define CLI_LONGOPT_HELP {"help", no_argument, NULL, 'h'}
#define CLI_LONGOPT_JSON {"json", no_argument, NULL, CLI_OPT_JSON}
#define CLI_LONGOPT_THREADS {"threads", required_argument, NULL, 'j'}
#define CLI_LONGOPT_OUTPUT {"output", required_argument, NULL, 'o'}

typedef struct cli_common {
    const char *output; /**< -o FILE; "-" = stdout */
    int threads;        /**< -j N; 0 = all cores */
    int quiet, verbose, json;
} cli_common;

/** Handle option `c` if it is a common one: returns CLI_OPT_OK,
 *  CLI_OPT_EXIT, CLI_EXIT_USAGE (message printed) or CLI_OPT_UNHANDLED.
 *  ':' and '?' from getopt are reported here as well. */
int cli_common_option(const char *cmd, int c, const char *arg, cli_common *co);
void cli_getopt_begin(int argc, char **argv);
/** The argument getopt is complaining about ("--frob", "-x"). */
const char *cli_current_arg(void);
void cli_print_version(void);
/** An output file and the option that names it ("-o", "--svg"). */
typedef struct cli_path {
    const char *opt, *path;
} cli_path;
/** Before any work (cli_paths.c): each output's folder exists, no output
 *  is one of the inputs and no two outputs are one file. NULL, "" and "-"
 *  are skipped. CLI_EXIT_OK, else CLI_EXIT_USAGE with the message printed. */
int cli_check_outputs(const char *cmd, const cli_path *outs, size_t nouts, const char *const *ins,
                      size_t nins);
/** Before any work: no input is a folder, and (with `distinct`) no two
 *  inputs are one file (a file linked with itself finds every record's own
 *  copy). "-" and missing files are skipped (reading reports those).
 *  CLI_EXIT_OK, else CLI_EXIT_USAGE with the message printed. */
int cli_check_inputs(const char *cmd, const char *const *ins, size_t nins, int distinct);
/** Remove dir and everything in it (a state directory a failed start
 *  made); a failure is reported on stderr, prefixed "blindlink cmd:". */
void cli_remove_tree(const char *cmd, const char *dir);
/** Whether s holds field-level encodings (encode --layout fields records
 *  the layout in the file's metadata; cli_common.c). */
int cli_is_field_level(const bl_clkset *s);
/** For batch commands: keep freed memory in the process (cli_common.c). */
void cli_batch_memory(void);

/** One number parser for the whole CLI. Decimal integer in [min, max] (no
 *  sign, no blanks): 0 ok, -1 bad. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/** Finite real in [lo, hi] (or (lo, hi] with lo_open): 0 ok, -1 bad. */
int cli_parse_real(const char *s, double lo, double hi, int lo_open, double *out);
/** Parse a thread count option ("0"/"auto" = all cores). Returns -1 on error. */
int cli_parse_threads(const char *s);
/** -t/--threshold in (0, 1]: 0 ok, else CLI_EXIT_USAGE with the message printed. */
int cli_parse_threshold(const char *cmd, const char *s, double *out);

/* '-' wherever a file is read or written: the library reads CLK files by
 * path (twice, to detect the format) and writes binary CLK files with a
 * header it fills in last, so stdin/stdout go through a temporary file. */
typedef struct cli_spool {
    const char *path; /**< the path to hand to the library */
    char tmp[512];    /**< temporary file ("" = none) */
} cli_spool;
/** After a failure to read sp->path: the temporary file's name in the
 *  message becomes "stdin", the name the user gave. */
void cli_spool_blame(const cli_spool *sp, bl_error *err);
/** "-": copy stdin into a temporary file; other paths pass through. */
bl_status cli_spool_stdin(const char *path, cli_spool *sp, bl_error *err) BL_WUR;
/** "-": let the library write a temporary file ... */
bl_status cli_spool_stdout_begin(const char *path, cli_spool *sp, bl_error *err) BL_WUR;
/** ... then copy it to stdout when `ok` (nothing is written otherwise). */
bl_status cli_spool_stdout_end(cli_spool *sp, int ok, bl_error *err) BL_WUR;
void cli_spool_free(cli_spool *sp);

/* JSON summaries (--json) are built with jansson. */
#include <jansson.h>
/** {"2": groups of 2, "3": ..., ...}, in ascending size, from the sizes of
 *  ng groups (match --json, with and without --model). */
json_t *cli_json_group_sizes(const size_t *size, size_t ng);
/** Set a real; NaN becomes null. Returns json_object_set_new's result. */
int cli_json_set_real(json_t *obj, const char *key, double v);
/** Write `obj` (indented, keys in insertion order) to `path` atomically. */
bl_status cli_json_write(json_t *obj, const char *path, bl_error *err) BL_WUR;

#endif
