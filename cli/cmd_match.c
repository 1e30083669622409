/* cli/cmd_match.c - `blindlink match`: read two or more CLK files (clkhash JSON
 * or blindlink binary; '-' reads stdin), check they were encoded alike
 * (schema fingerprint, encoding metadata), find candidate pairs (Dice >=
 * threshold, optional top-k, exhaustive or blocked), solve them into matches
 * (greedy 1:1 or probabilistic multi-party) and write pairs CSV, groups
 * JSON, candidates CSV or anonlink binary candidates, atomically; optionally
 * the LSH blocks in blocklib's format and a JSON summary.
 *
 * Adding an option: a field in match_opts, a row in match_longopts and a
 * case in match_option; checks between options go in match_check. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blindlink/clk.h>
#include <blindlink/io.h>
#include <blindlink/match.h>
#include <blindlink/plot.h>
#include "cli.h"

#define CMD "match"
#define MAX_INPUTS 64

static void usage(FILE *fp)
{
    fputs("Usage: blindlink match [options] --threshold T A.clk B.clk [C.clk ...]\n"
          "\n"
          "Find which encodings (CLKs) belong to the same entity, as anonlink does.\n"
          "Inputs are clkhash JSON ({\"clks\": [...]}) or blindlink binary CLK files\n"
          "('-' = stdin, once), all with the same filter length and schema fingerprint:\n"
          "inputs with different fingerprints or encoding metadata (layout, fields,\n"
          "normalize, harden) are refused (exit 2); a JSON input carries no fingerprint,\n"
          "so mixing it with binary ones prints a warning.\n"
          "\n"
          "Options:\n"
          "  -t, --threshold T        Dice similarity threshold in (0, 1] (required\n"
          "                           without --model)\n"
          "      --model auto|FILE    Fellegi-Sunter linkage of field-level encodings\n"
          "                           (encode --layout fields): auto trains the model on\n"
          "                           the inputs (see 'blindlink train'); pairs CSV gains\n"
          "                           weight and probability columns (docs/model.md);\n"
        "                           -f pairs or candidates, no -t, -k, --blocks,\n"
        "                           -s or LSH tables (the model resolves and blocks)\n"
          "      --min-probability P  with --model: match at posterior >= P (default 0.5;\n"
          "                           -f candidates: every scored candidate, unresolved)\n"
          "                           (--blocking lsh|none picks the model's candidate\n"
          "                           blocking; default: keyed blocks on field values\n"
          "                           above 4e9 record pairs, docs/model.md)\n"
          "      --save-model FILE    with --model auto: also write the trained model\n"
          "                           (for explain, or a later match --model FILE)\n"
          "  -o, --output FILE        output file (default '-' = stdout)\n"
          "  -f, --output-format F    pairs (default): matched pairs CSV\n"
          "                           groups: anonlink find-similarity groups JSON\n"
          "                           candidates: every candidate pair as CSV\n"
          "                           anonlink: candidates in anonlink's binary format\n"
          "  -s, --solver S           greedy (default, = anonlink greedy_solve),\n"
          "                           probabilistic (= probabilistic_greedy_solve), none\n"
          "      --merge-threshold M  probabilistic solver and --model beyond two inputs:\n"
          "                           share of cross pairs that must be candidates\n"
          "                           (--model: matches) to merge groups (default 0.5)\n"
          "      --no-dedup           probabilistic solver: allow two records of one\n"
          "                           dataset in a group\n"
          "  -k, --top-k K            keep at most K candidates per record and dataset pair\n"
          "  -j, --threads N          worker threads (default 0 = all cores)\n"
          "      --max-candidates N   fail cleanly beyond N candidate pairs (default 1e8;\n"
          "                           --model's field blocks: no cap unless given)\n"
          "\n",
          fp);
    /* two strings: C11 compilers need only take 4095 characters in one */
    fputs(
        "Blocking (default: exhaustive comparison):\n"
        "      --blocking lsh       keyed LSH over the encodings; the bit positions come\n"
        "                           from a secret (--blocking-key-file or the variable\n"
        "                           named by --blocking-key-env, default BL_BLOCKING_KEY)\n"
        "      --lsh-tables L       number of hash tables } default: chosen from the\n"
        "      --lsh-bits K         sampled bits per table } data and threshold to keep\n"
        "                           99% of the pairs >= threshold (sampled); when\n"
        "                           that would cost more comparisons than all pairs (low\n"
        "                           thresholds), match exhaustively with a message\n"
        "      --lsh-keep all|best  pairs the plan keeps 99% of: all (default for\n"
        "                           candidates, anonlink) or each record's best\n"
        "                           (default for pairs, groups: what the solvers use)\n"
        "      --blocks FILE        external blocks, once per input in the same order:\n"
        "                           blocklib/anonlink-client JSON or 'record,block' CSV\n"
        "      --write-blocks PREFIX  write the blocks used, one blocklib-format JSON\n"
        "                           file per input: PREFIX-1.json, PREFIX-2.json, ...\n"
        "                           (readable back with --blocks)\n"
        "      --blocking-report    also run exhaustively and report pair completeness\n"
        "                           and reduction ratio on stderr\n"
        "  (with --model, which blocks on keyed field values by itself, the LSH,\n"
        "  external blocks, blocking key, write-blocks, blocking report and svg\n"
        "  options above and below are refused)\n"
        "\n"
        "      --svg FILE           picture of the cluster sizes: how many records ended\n"
        "                           alone, in pairs, ... in groups of N (N parties)\n"
        "      --title NAME         data set name in the picture\n"
        "      --json               summary as JSON on stdout (needs -o FILE)\n"
        "  -v, --verbose            summary on stderr (records, candidates, kernel, time)\n"
        "  -q, --quiet              no warnings\n"
        "  -V, --version            print the version\n"
        "  -h, --help               this help\n"
        "\n"
        "Environment: BL_KERNEL=scalar|avx2|avx512 forces a popcount kernel.\n"
        "Exit status: 0 ok, 1 runtime failure, 2 usage or input error.\n",
        fp);
}

enum { OPT_MERGE = CLI_OPT_FIRST_PRIVATE, OPT_NODEDUP, OPT_MAXC, OPT_BLOCKING, OPT_TABLES,
       OPT_BITS, OPT_BLOCKS, OPT_KEYFILE, OPT_KEYENV, OPT_REPORT, OPT_WRITE_BLOCKS,
       OPT_SVG, OPT_TITLE, OPT_MODEL, OPT_MINP, OPT_KEEP, OPT_SAVE_MODEL };

/* match_parse's answer when --model takes the run (cli/cmd_train.c) */
#define CLI_OPT_MODEL 254

typedef struct match_opts {
    cli_common co;
    double threshold, merge, min_p;
    const char *model, *save_model;
    const char *format, *solver, *blocking, *keyfile, *keyenv, *write_blocks, *svg, *title;
    const char *keep; /* --lsh-keep, NULL: from the output format */
    const char *blocks[MAX_INPUTS];
    size_t nblocks;
    const char *inputs[MAX_INPUTS];
    size_t nin;
    int dedup, report, solver_set, merge_set, min_p_set;
    uint64_t topk, maxc, tables, bits;
} match_opts;

static const struct option match_longopts[] = {
    {"threshold", required_argument, NULL, 't'},
    {"output-format", required_argument, NULL, 'f'},
    {"solver", required_argument, NULL, 's'},
    {"merge-threshold", required_argument, NULL, OPT_MERGE},
    {"no-dedup", no_argument, NULL, OPT_NODEDUP},
    {"top-k", required_argument, NULL, 'k'},
    {"max-candidates", required_argument, NULL, OPT_MAXC},
    {"blocking", required_argument, NULL, OPT_BLOCKING},
    {"lsh-tables", required_argument, NULL, OPT_TABLES},
    {"lsh-bits", required_argument, NULL, OPT_BITS},
    {"lsh-keep", required_argument, NULL, OPT_KEEP},
    {"blocks", required_argument, NULL, OPT_BLOCKS},
    {"blocking-key-file", required_argument, NULL, OPT_KEYFILE},
    {"blocking-key-env", required_argument, NULL, OPT_KEYENV},
    {"blocking-report", no_argument, NULL, OPT_REPORT},
    {"write-blocks", required_argument, NULL, OPT_WRITE_BLOCKS},
    {"svg", required_argument, NULL, OPT_SVG},
    {"title", required_argument, NULL, OPT_TITLE},
    {"model", required_argument, NULL, OPT_MODEL},
    {"min-probability", required_argument, NULL, OPT_MINP},
    {"save-model", required_argument, NULL, OPT_SAVE_MODEL},
    CLI_LONGOPT_OUTPUT, CLI_LONGOPT_THREADS, CLI_LONGOPT_JSON, CLI_LONGOPT_QUIET,
    CLI_LONGOPT_VERBOSE, CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
    {NULL, 0, NULL, 0},
};

static int one_of(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(s, *names))
            return 1;
    return 0;
}

static int match_option(int c, const char *arg, match_opts *o)
{
    static const char *const formats[] = {"pairs", "groups", "candidates", "anonlink", NULL};
    static const char *const solvers[] = {"greedy", "probabilistic", "none", NULL};
    static const char *const blockings[] = {"lsh", "files", "none", NULL};
    switch (c) {
    case 't': return cli_parse_threshold(CMD, arg, &o->threshold);
    case 'f':
        if (!one_of(arg, formats))
            return cli_usage_error(CMD, "--output-format must be pairs, groups, candidates or "
                                        "anonlink, got '%s'", arg);
        o->format = arg;
        break;
    case 's':
        if (!one_of(arg, solvers))
            return cli_usage_error(CMD, "--solver must be greedy, probabilistic or none, got '%s'",
                                   arg);
        o->solver = arg;
        o->solver_set = 1;
        break;
    case OPT_MERGE:
        if (cli_parse_real(arg, 0.0, 1.0, 1, &o->merge))
            return cli_usage_error(CMD, "--merge-threshold must be in (0, 1], got '%s'", arg);
        o->merge_set = 1;
        break;
    case OPT_NODEDUP: o->dedup = 0; break;
    case 'k':
        if (cli_parse_u64(arg, 1, UINT32_MAX, &o->topk))
            return cli_usage_error(CMD, "--top-k must be a positive integer, got '%s'", arg);
        break;
    case OPT_MAXC:
        if (cli_parse_u64(arg, 1, (uint64_t)SIZE_MAX / 64, &o->maxc))
            return cli_usage_error(CMD, "--max-candidates must be a positive integer, got '%s'",
                                   arg);
        break;
    case OPT_BLOCKING:
        if (!one_of(arg, blockings))
            return cli_usage_error(CMD, "--blocking must be lsh, files or none, got '%s'", arg);
        o->blocking = arg;
        break;
    case OPT_TABLES:
        if (cli_parse_u64(arg, 1, 1024, &o->tables))
            return cli_usage_error(CMD, "--lsh-tables must be in 1..1024, got '%s'", arg);
        break;
    case OPT_BITS:
        if (cli_parse_u64(arg, 1, 32, &o->bits))
            return cli_usage_error(CMD, "--lsh-bits must be in 1..32, got '%s'", arg);
        break;
    case OPT_KEEP:
        if (strcmp(arg, "all") && strcmp(arg, "best"))
            return cli_usage_error(CMD, "--lsh-keep must be all or best, got '%s'", arg);
        o->keep = arg;
        break;
    case OPT_BLOCKS:
        if (o->nblocks == MAX_INPUTS)
            return cli_usage_error(CMD, "too many --blocks files");
        o->blocks[o->nblocks++] = arg;
        break;
    case OPT_KEYFILE: o->keyfile = arg; break;
    case OPT_KEYENV: o->keyenv = arg; break;
    case OPT_REPORT: o->report = 1; break;
    case OPT_WRITE_BLOCKS: o->write_blocks = arg; break;
    case OPT_SVG: o->svg = arg; break;
    case OPT_TITLE: o->title = arg; break;
    case OPT_MODEL: o->model = arg; break;
    case OPT_SAVE_MODEL: o->save_model = arg; break;
    case OPT_MINP:
        /* 0 would match every candidate: -f candidates writes them all */
        if (cli_parse_real(arg, 0.0, 1.0, 1, &o->min_p))
            return cli_usage_error(CMD, "--min-probability must be in (0, 1], got '%s'%s", arg,
                                   cli_parse_real(arg, 0.0, 0.0, 0, &o->min_p)
                                       ? ""
                                       : " (-f candidates writes every scored candidate)");
        o->min_p_set = 1;
        break;
    default: return cli_usage_error(CMD, "unknown option '%s'", cli_current_arg());
    }
    return CLI_OPT_OK;
}

/* consistency between options, after parsing */
/* options of the record-level path that --model would ignore: refuse them
 * and say what the model path offers instead */
static int model_check(const match_opts *o)
{
    if (o->nblocks)
        return cli_usage_error(CMD, "--model blocks by itself: --blocks files are not used with it");
    if (strcmp(o->format, "pairs") && strcmp(o->format, "candidates"))
        return cli_usage_error(CMD, "--model writes pairs or candidates, not %s", o->format);
    if (!isnan(o->threshold))
        return cli_usage_error(CMD, "--model decides by posterior probability, not by a Dice "
                                    "threshold: use --min-probability P instead of -t");
    if (o->topk)
        return cli_usage_error(CMD, "--model picks its own candidates (the best 100 per record, "
                                    "docs/model.md): -k/--top-k is not used with it");
    if (o->solver_set && strcmp(o->solver, "greedy"))
        return cli_usage_error(CMD, "--model resolves its matches itself (1:1, or anonlink's "
                                    "greedy rule beyond two inputs): --solver %s is not used "
                                    "with it%s", o->solver,
                               strcmp(o->solver, "none") ? "" : "; -f candidates writes every "
                                                                "scored candidate");
    if (!o->dedup)
        return cli_usage_error(CMD, "--no-dedup belongs to the probabilistic solver: --model "
                                    "keeps one record per input in a group");
    /* the model's --blocking lsh is keyed blocks on field values with a
     * key of its own for the run (docs/model.md), not LSH tables */
    if (o->tables || o->bits || o->keep)
        return cli_usage_error(CMD, "--model blocks on keyed field values, not LSH tables: "
                                    "--lsh-tables, --lsh-bits and --lsh-keep are not used with "
                                    "--model");
    if (o->keyfile || strcmp(o->keyenv, "BL_BLOCKING_KEY"))
        return cli_usage_error(CMD, "--model keys its field blocks with a fresh random key per "
                                    "run: --blocking-key-file/--blocking-key-env are not used "
                                    "with --model");
    if (o->write_blocks || o->report)
        return cli_usage_error(CMD, "--write-blocks and --blocking-report are not supported "
                                    "with --model; -f candidates writes every scored candidate "
                                    "(pair completeness: eval of that file)");
    if (o->svg || o->title)
        return cli_usage_error(CMD, "--svg/--title draw cluster sizes of the record-level "
                                    "solvers; with --model: eval --weights-svg (match "
                                    "weights), eval --model FILE --mu-svg (m/u per field) or "
                                    "explain --svg (one pair)");
    if (o->save_model && strcmp(o->model, "auto"))
        return cli_usage_error(CMD, "--save-model saves the model that --model auto trains; "
                                    "--model %s is a file already", o->model);
    for (size_t i = 0; i < o->nin; i++)
        if (!strcmp(o->inputs[i], "-"))
            return cli_usage_error(CMD, "field-level inputs must be files: '-' (stdin) is not "
                                        "supported with --model");
    if (o->co.json && !strcmp(o->co.output, "-"))
        return cli_usage_error(CMD, "--json prints the summary on stdout: give -o FILE for the "
                                    "matches");
    return CLI_OPT_MODEL;
}

static int match_check(match_opts *o)
{
    if (o->model)
        return model_check(o);
    if (o->save_model)
        return cli_usage_error(CMD, "--save-model goes with --model auto");
    if (o->min_p_set)
        return cli_usage_error(CMD, "--min-probability is the decision of --model; without it "
                                    "-t/--threshold decides");
    if (isnan(o->threshold))
        return cli_usage_error(CMD, "--threshold is required");
    /* refused where they would change nothing, rather than ignored */
    if ((o->merge_set || !o->dedup) && strcmp(o->solver, "probabilistic"))
        return cli_usage_error(CMD,
                               "%s belongs to -s probabilistic (the %s solver does not "
                               "merge groups)",
                               o->merge_set ? "--merge-threshold" : "--no-dedup", o->solver);
    if (o->nin < 2)
        return cli_usage_error(CMD, "need at least two CLK files (got %zu)", o->nin);
    size_t nstdin = 0;
    for (size_t i = 0; i < o->nin; i++)
        nstdin += strcmp(o->inputs[i], "-") == 0;
    if (nstdin > 1)
        return cli_usage_error(CMD, "'-' (stdin) can be only one of the inputs");
    if (o->nblocks && (!o->blocking || strcmp(o->blocking, "files") == 0))
        o->blocking = "files";
    else if (o->nblocks)
        return cli_usage_error(CMD, "--blocks goes with --blocking files (or alone)");
    if (o->blocking && strcmp(o->blocking, "files") == 0 && o->nblocks != o->nin)
        return cli_usage_error(CMD, "--blocks must be given once per input (%zu inputs, %zu "
                                    "files)", o->nin, o->nblocks);
    if (o->blocking && strcmp(o->blocking, "none") == 0)
        o->blocking = NULL;
    if (o->report && !o->blocking)
        return cli_usage_error(CMD, "--blocking-report needs --blocking");
    if (o->write_blocks && !o->blocking)
        return cli_usage_error(CMD, "--write-blocks needs --blocking lsh or --blocks");
    if (o->co.json && !strcmp(o->co.output, "-"))
        return cli_usage_error(CMD, "--json prints the summary on stdout: give -o FILE for the "
                                    "matches");
    if (strcmp(o->format, "groups") == 0 && strcmp(o->solver, "none") == 0)
        return cli_usage_error(CMD, "--output-format groups needs a solver");
    if (o->svg && o->solver_set && strcmp(o->solver, "none") == 0)
        return cli_usage_error(CMD, "--svg draws cluster sizes: it needs a solver");
    if (o->svg && !strcmp(o->svg, "-") && !strcmp(o->co.output, "-"))
        return cli_usage_error(CMD, "--svg - and the matches both go to stdout: give -o FILE");
    if (!o->solver_set && !o->svg &&
        (!strcmp(o->format, "candidates") || !strcmp(o->format, "anonlink")))
        o->solver = "none";
    if (strcmp(o->format, "pairs") == 0 && strcmp(o->solver, "none") == 0)
        o->format = "candidates";
    if (o->keep && (!o->blocking || strcmp(o->blocking, "lsh")))
        return cli_usage_error(CMD, "--lsh-keep goes with --blocking lsh");
    /* a solver takes each record's best available partner, so 1:1 and
     * group outputs need the best pairs kept; candidate lists need all */
    if (!o->keep)
        o->keep = !strcmp(o->format, "pairs") || !strcmp(o->format, "groups") ? "best" : "all";
    return CLI_OPT_OK;
}

/* The outputs against the inputs, before reading anything: rc when
 * they are fine. */
static int match_paths(const match_opts *o, int rc)
{
    const cli_path outs[] = {
        {"-o", o->co.output}, {"--save-model", o->save_model}, {"--svg", o->svg}};
    const char *ins[2 * MAX_INPUTS + 2];
    size_t n = 0;
    for (size_t i = 0; i < o->nin; i++)
        ins[n++] = o->inputs[i];
    for (size_t i = 0; i < o->nblocks; i++)
        ins[n++] = o->blocks[i];
    ins[n++] = o->keyfile;
    ins[n++] = o->model && strcmp(o->model, "auto") ? o->model : NULL;
    int prc = cli_check_inputs(CMD, (const char *const *)o->inputs, o->nin, 1);
    if (prc == CLI_EXIT_OK)
        prc = cli_check_inputs(CMD, ins + o->nin, n - o->nin, 0);
    if (prc == CLI_EXIT_OK)
        prc = cli_check_outputs(CMD, outs, sizeof outs / sizeof *outs, ins, n);
    return prc == CLI_EXIT_OK ? rc : prc;
}

static int match_parse(int argc, char **argv, match_opts *o)
{
    memset(o, 0, sizeof *o);
    o->co.output = "-";
    o->threshold = NAN;
    o->merge = 0.5;
    o->min_p = 0.5;
    o->format = "pairs";
    o->solver = "greedy";
    o->keyenv = "BL_BLOCKING_KEY";
    o->dedup = 1;
    int c;
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":t:o:f:s:k:j:qvVh", match_longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OPT_EXIT;
        }
        int rc = cli_common_option(CMD, c, optarg, &o->co);
        if (rc == CLI_OPT_UNHANDLED)
            rc = match_option(c, optarg, o);
        if (rc != CLI_OPT_OK)
            return rc;
    }
    if (argc - optind > MAX_INPUTS)
        return cli_usage_error(CMD, "at most %d inputs", MAX_INPUTS);
    for (int i = optind; i < argc; i++)
        o->inputs[o->nin++] = argv[i];
    int rc = match_check(o);
    return rc == CLI_OPT_OK || rc == CLI_OPT_MODEL ? match_paths(o, rc) : rc;
}

/* ---- a run ---- */

typedef struct match_run {
    bl_clkset *sets[MAX_INPUTS];
    size_t nin;
    bl_blocking *bk;
    bl_candidate *cand, *full;
    size_t ncand, nfull;
    bl_groups *groups;
    bl_blocking_stats bs;
    uint64_t total;              /* all cross-dataset pairs */
    double t_read, t_compare, t_solve;
    int writer;                  /* 0: a blindlink-mpi rank other than 0 */
    bl_error err;
} match_run;

cli_candidates_hook cli_match_hook;
cli_read_hook cli_match_read_hook;
cli_plan_hook cli_match_plan_hook;

static void match_run_free(match_run *r)
{
    bl_groups_free(r->groups);
    free(r->cand);
    free(r->full);
    bl_blocking_free(r->bk);
    for (size_t i = 0; i < r->nin; i++)
        bl_clkset_free(r->sets[i]);
}

static const char *input_name(const char *p)
{
    return strcmp(p, "-") ? p : "stdin";
}

static bl_status read_inputs(match_run *r, const match_opts *o)
{
    if (cli_match_read_hook) { /* blindlink-mpi */
        bl_status st = cli_match_read_hook(o->inputs, o->nin, r->sets, &r->err);
        r->nin = st ? 0 : o->nin;
        return cli_input_status(st, &r->err);
    }
    /* stdin ('-') is copied to a temporary file first; then all are read
     * at once */
    cli_spool *sp = calloc(o->nin, sizeof *sp);
    const char **paths = calloc(o->nin, sizeof *paths);
    bl_status st = sp && paths ? BL_OK : bl_error_set(&r->err, BL_ENOMEM, "out of memory");
    size_t nsp = 0, failed = 0;
    for (; st == BL_OK && nsp < o->nin; nsp++) {
        st = cli_spool_stdin(o->inputs[nsp], &sp[nsp], &r->err);
        paths[nsp] = sp[nsp].path;
    }
    if (st == BL_OK) {
        /* only the reading of the named inputs is the user's to fix: a
         * copy of stdin that cannot be made (TMPDIR, disk) stays exit 1 */
        st = bl_clkset_read_many(paths, o->nin, o->co.threads, r->sets, &failed, &r->err);
        st = cli_input_status(st, &r->err);
        if (st)
            cli_spool_blame(&sp[failed], &r->err);
    }
    r->nin = st ? 0 : o->nin;
    for (size_t i = 0; i < nsp; i++)
        cli_spool_free(&sp[i]);
    free(sp);
    free(paths);
    return st;
}

/* ---- were the inputs encoded alike? ---- */

static void hex8(const uint8_t *fp, char *out)
{
    for (int i = 0; i < 8; i++)
        sprintf(out + 2 * i, "%02x", fp[i]);
}

/* value of a metadata key as canonical text, with the documented default
 * for an absent key (docs/formats.md, CONTRACTS.md) */
static char *meta_value(const char *meta, const char *key, const char *dflt)
{
    json_t *root = meta ? json_loads(meta, 0, NULL) : NULL;
    json_t *v = root ? json_object_get(root, key) : NULL;
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS)
                : (dflt ? strdup(dflt) : NULL);
    json_decref(root);
    return s;
}

static int check_meta(const match_run *r, const match_opts *o)
{
    static const char *const keys[] = {"layout", "fields", "normalize", "harden"};
    static const char *const dflt[] = {"\"record\"", NULL, "\"none\"", NULL};
    for (size_t i = 1; i < r->nin; i++)
        for (size_t k = 0; k < 4; k++) {
            char *a = meta_value(r->sets[0]->meta, keys[k], dflt[k]);
            char *b = meta_value(r->sets[i]->meta, keys[k], dflt[k]);
            int differ = (a || b) && (!a || !b || strcmp(a, b) != 0);
            if (differ)
                fprintf(stderr, "blindlink match: %s and %s were encoded differently: "
                                "metadata \"%s\" is %.60s in the first, %.60s in the second\n",
                        input_name(o->inputs[0]), input_name(o->inputs[i]), keys[k],
                        a ? a : "absent", b ? b : "absent");
            free(a);
            free(b);
            if (differ)
                return CLI_EXIT_USAGE;
        }
    return CLI_OPT_OK;
}

/* different non-zero fingerprints: different schema or encoder options
 * (the fingerprint does not cover the secret), nothing would match, so
 * refuse (exit 2); a file without one (clkhash JSON) cannot
 * be checked: warn unless -q */
static int check_inputs(const match_run *r, const match_opts *o)
{
    /* the metadata names what differs (layout, normalize, harden): check it
     * before the fingerprint, which only says that something does */
    int rc = check_meta(r, o);
    if (rc != CLI_OPT_OK)
        return rc;
    const bl_clkset *a = r->sets[0];
    for (size_t i = 1; i < r->nin; i++) {
        const bl_clkset *b = r->sets[i];
        if (a->has_fingerprint && b->has_fingerprint &&
            memcmp(a->fingerprint, b->fingerprint, BL_FINGERPRINT_BYTES) != 0) {
            char ha[17], hb[17];
            hex8(a->fingerprint, ha);
            hex8(b->fingerprint, hb);
            fprintf(stderr, "blindlink match: %s (schema fingerprint %s...) and %s (%s...) were "
                            "encoded with different schemas or encoding options; nothing would "
                            "match\n",
                    input_name(o->inputs[0]), ha, input_name(o->inputs[i]), hb);
            return CLI_EXIT_USAGE;
        }
        if (a->has_fingerprint != b->has_fingerprint && !o->co.quiet)
            fprintf(stderr, "blindlink match: warning: %s carries no schema fingerprint (clkhash "
                            "JSON), so it cannot be checked against %s; 0 matches may mean a "
                            "different schema or secret\n",
                    input_name(o->inputs[a->has_fingerprint ? i : 0]),
                    input_name(o->inputs[a->has_fingerprint ? 0 : i]));
    }
    return CLI_OPT_OK;
}

/* ---- blocking ---- */

static void exhaustive_message(double threshold, double share)
{
    /* never lose matches silently: compare everything instead */
    if (isinf(share))
        fprintf(stderr, "blindlink match: at threshold %g no LSH setting of at most 1024 "
                        "tables keeps 99%% of the matches; comparing exhaustively\n", threshold);
    else
        fprintf(stderr, "blindlink match: at threshold %g LSH blocking keeping 99%% of "
                        "the matches would make %.1fx as many comparisons as the "
                        "exhaustive run; comparing exhaustively (force blocking with "
                        "--lsh-tables/--lsh-bits)\n", threshold, share);
}

static bl_status setup_lsh(match_run *r, match_opts *o)
{
    /* the key is required even when the run falls back to exhaustive */
    bl_secret key = {0};
    bl_status st = bl_secret_load(o->keyfile, o->keyenv, &key, &r->err);
    if (st) {
        bl_error_prefix(&r->err, "blocking key: ");
        return st;
    }
    uint32_t dt = 0, db = 0;
    double share;
    cli_plan_hook plan = cli_match_plan_hook ? cli_match_plan_hook : bl_blocking_lsh_plan_keep;
    bl_lsh_keep keep = strcmp(o->keep, "best") ? BL_LSH_KEEP_ALL : BL_LSH_KEEP_BEST;
    if (!plan((const bl_clkset *const *)r->sets, r->nin, o->threshold, 0.99, keep, &dt, &db,
              &share) &&
        !o->tables && !o->bits) {
        exhaustive_message(o->threshold, share);
        o->blocking = NULL;
        bl_secret_free(&key);
        if (o->report)
            fprintf(stderr, "blindlink match: --blocking-report: no blocking used, pair "
                            "completeness 1\n");
        if (o->write_blocks)
            fprintf(stderr, "blindlink match: --write-blocks: no blocking used, no block "
                            "files written\n");
        o->report = 0;
        o->write_blocks = NULL;
        return BL_OK;
    }
    if (o->tables)
        dt = (uint32_t)o->tables;
    if (o->bits)
        db = (uint32_t)o->bits;
    if (o->co.verbose)
        fprintf(stderr, "blindlink match: keyed LSH blocking with %u tables of %u bits (keeping "
                        "%s pairs)\n", dt, db, o->keep);
    st = bl_blocking_new_lsh(r->sets[0]->nbits, dt, db, key.bytes, key.len, &r->bk, &r->err);
    bl_secret_free(&key);
    return st;
}

static bl_status setup_blocking(match_run *r, match_opts *o)
{
    if (!o->blocking)
        return BL_OK;
    if (strcmp(o->blocking, "lsh") == 0)
        return setup_lsh(r, o);
    size_t nrecs[MAX_INPUTS];
    for (size_t i = 0; i < r->nin; i++)
        nrecs[i] = r->sets[i]->count;
    return bl_blocking_read_files(o->blocks, r->nin, nrecs, &r->bk, &r->err);
}

static bl_status write_blocks(const match_run *r, const match_opts *o)
{
    size_t n = strlen(o->write_blocks) + 32;
    char *path = malloc(n);
    if (!path)
        return bl_error_set((bl_error *)&r->err, BL_ENOMEM, "out of memory");
    bl_status st = BL_OK;
    for (size_t i = 0; i < r->nin && !st; i++) {
        snprintf(path, n, "%s-%zu.json", o->write_blocks, i + 1);
        st = bl_blocking_write_blocklib(r->bk, r->sets[i], i, path, (bl_error *)&r->err);
    }
    free(path);
    return st;
}

/* ---- candidates, solving, output ---- */

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)total;
    bl_progress_update(ctx, done);
}

static bl_status find_candidates(match_run *r, const match_opts *o)
{
    bl_match_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.threshold = o->threshold;
    mo.top_k = (uint32_t)o->topk;
    mo.threads = o->co.threads;
    mo.max_candidates = (size_t)o->maxc;
    mo.blocking = r->bk;
    for (size_t x = 0; x < r->nin; x++)
        for (size_t y = x + 1; y < r->nin; y++)
            r->total += (uint64_t)r->sets[x]->count * r->sets[y]->count;
    bl_progress *p = bl_progress_new(r->bk ? "blocked matching (tables)" : "comparing pairs",
                                     r->bk ? 0 : r->total);
    mo.progress = on_progress;
    mo.progress_ctx = p;
    double t1 = bl_clock_s();
    r->writer = 1;
    bl_status st = cli_match_hook
                       ? cli_match_hook((const bl_clkset *const *)r->sets, r->nin, &mo, &r->cand,
                                        &r->ncand, &r->writer, &r->err)
                       : bl_match_candidates((const bl_clkset *const *)r->sets, r->nin, &mo,
                                             &r->cand, &r->ncand, &r->err);
    bl_progress_finish(p);
    r->t_compare = bl_clock_s() - t1;
    if (st || !r->writer || !r->bk || !(o->report || o->co.verbose || o->co.json))
        return st;
    /* counting the blocked comparisons computes no Dice: cheap next to the
     * exhaustive run, which only --blocking-report does */
    st = bl_blocking_stats_compute(r->bk, (const bl_clkset *const *)r->sets, r->nin, &r->bs,
                                   &r->err);
    if (st || !o->report)
        return st;
    mo.blocking = NULL;
    mo.progress = NULL;
    return bl_match_candidates((const bl_clkset *const *)r->sets, r->nin, &mo, &r->full,
                               &r->nfull, &r->err);
}

static void blocking_lines(const match_run *r, const match_opts *o)
{
    const bl_blocking_stats *bs = &r->bs;
    /* --blocking-report prints this line with the completeness appended */
    if (o->co.verbose && !o->report)
        fprintf(stderr, "blindlink match: blocking compared %llu of %llu pairs "
                        "(reduction ratio %.6f; %llu comparisons counting repeats)\n",
                (unsigned long long)bs->pairs_compared, (unsigned long long)bs->pairs_total,
                bs->reduction_ratio, (unsigned long long)bs->comparisons);
    if (!o->report)
        return;
    double pc = bl_candidates_completeness(r->full, r->nfull, r->cand, r->ncand);
    size_t nb = 0;
    double pb = bl_candidates_completeness_best(r->full, r->nfull, r->cand, r->ncand, &nb);
    fprintf(stderr, "blindlink match: blocking compared %llu of %llu pairs (reduction ratio "
                    "%.6f; %llu comparisons counting repeats); pair completeness %.6f (%zu of "
                    "%zu exhaustive candidates), %.6f of the records' best pairs (%zu of %zu)\n",
            (unsigned long long)bs->pairs_compared, (unsigned long long)bs->pairs_total,
            bs->reduction_ratio, (unsigned long long)bs->comparisons, pc,
            (size_t)(pc * (double)r->nfull + 0.5), r->nfull, pb,
            (size_t)(pb * (double)nb + 0.5), nb);
}

static bl_status solve_and_write(match_run *r, const match_opts *o)
{
    bl_status st = BL_OK;
    double t2 = bl_clock_s();
    if (strcmp(o->solver, "greedy") == 0)
        st = bl_match_solve_greedy(r->cand, r->ncand, &r->groups, &r->err);
    else if (strcmp(o->solver, "probabilistic") == 0)
        st = bl_match_solve_probabilistic(r->cand, r->ncand, o->merge, o->dedup, &r->groups,
                                          &r->err);
    r->t_solve = bl_clock_s() - t2;
    if (st)
        return st;
    const bl_clkset *const *sets = (const bl_clkset *const *)r->sets;
    const char *out = o->co.output;
    if (strcmp(o->format, "candidates") == 0)
        return bl_candidates_write_csv(out, r->cand, r->ncand, sets, r->nin, &r->err);
    if (strcmp(o->format, "anonlink") == 0)
        return bl_candidates_write_anonlink(out, r->cand, r->ncand, &r->err);
    if (strcmp(o->format, "groups") == 0)
        return bl_groups_write_json(out, r->groups, &r->err);
    return bl_groups_write_pairs_csv(out, r->groups, r->cand, r->ncand, sets, r->nin, &r->err);
}

/* how many records ended in clusters of each size (1 = unmatched) */
static bl_status sizes_svg(match_run *r, const match_opts *o)
{
    uint64_t cnt[MAX_INPUTS + 1] = {0}, total = 0, grouped = 0;
    size_t maxsize = 2;
    for (size_t i = 0; i < r->nin; i++)
        total += r->sets[i]->count;
    for (size_t g = 0; g < bl_groups_count(r->groups); g++) {
        const uint32_t *d, *rr;
        size_t n = bl_groups_get(r->groups, g, &d, &rr);
        grouped += n;
        if (n > MAX_INPUTS)
            n = MAX_INPUTS; /* without dedup a group can exceed the parties */
        cnt[n]++;
        if (n > maxsize)
            maxsize = n;
    }
    cnt[1] = total > grouped ? total - grouped : 0;
    if (maxsize < r->nin)
        maxsize = r->nin;
    bl_plot_opts po;
    bl_plot_opts_init(&po);
    po.title = o->title;
    return bl_plot_counts_svg(o->svg, &po, "Cluster sizes (1 = unmatched record)",
                              "records in the cluster", "clusters", 1, 1, cnt + 1, maxsize, 1,
                              &r->err);
}

static void verbose_line(const match_run *r, const match_opts *o)
{
    fprintf(stderr, "blindlink match: %zu inputs (", r->nin);
    for (size_t i = 0; i < r->nin; i++)
        fprintf(stderr, "%s%zu", i ? " x " : "", r->sets[i]->count);
    fprintf(stderr, " records, %u bits), threshold %g: %zu candidate pairs", r->sets[0]->nbits,
            o->threshold, r->ncand);
    if (r->groups)
        fprintf(stderr, ", %zu groups (%s)", bl_groups_count(r->groups), o->solver);
    fprintf(stderr, "; kernel %s, read %.3fs, compare %.3fs", bl_match_kernel_name(), r->t_read,
            r->t_compare);
    if (!r->bk)
        fprintf(stderr, " (%.0f M pairs/s)",
                (double)r->total / (r->t_compare > 1e-9 ? r->t_compare : 1e-9) / 1e6);
    fprintf(stderr, ", solve %.3fs\n", r->t_solve);
}

static bl_status json_summary(const match_run *r, const match_opts *o)
{
    json_t *js = json_object(), *recs = json_array();
    for (size_t i = 0; i < r->nin; i++)
        json_array_append_new(recs, json_integer((json_int_t)r->sets[i]->count));
    json_object_set_new(js, "inputs", json_integer((json_int_t)r->nin));
    json_object_set_new(js, "records", recs);
    json_object_set_new(js, "bits", json_integer(r->sets[0]->nbits));
    cli_json_set_real(js, "threshold", o->threshold);
    json_object_set_new(js, "candidates", json_integer((json_int_t)r->ncand));
    json_object_set_new(js, "solver", json_string(o->solver));
    if (r->groups) {
        size_t ng = bl_groups_count(r->groups);
        json_object_set_new(js, "groups", json_integer((json_int_t)ng));
        size_t *size = malloc((ng ? ng : 1) * sizeof *size);
        for (size_t g = 0; size && g < ng; g++) {
            const uint32_t *d, *rr;
            size[g] = bl_groups_get(r->groups, g, &d, &rr);
        }
        if (size)
            json_object_set_new(js, "group_sizes", cli_json_group_sizes(size, ng));
        free(size);
    }
    if (r->bk) {
        json_object_set_new(js, "pairs_compared", json_integer((json_int_t)r->bs.pairs_compared));
        cli_json_set_real(js, "reduction_ratio", r->bs.reduction_ratio);
        if (o->report) {
            cli_json_set_real(js, "pair_completeness",
                              bl_candidates_completeness(r->full, r->nfull, r->cand, r->ncand));
            cli_json_set_real(js, "pair_completeness_best",
                              bl_candidates_completeness_best(r->full, r->nfull, r->cand,
                                                              r->ncand, NULL));
        }
    }
    json_object_set_new(js, "output", json_string(o->co.output));
    json_object_set_new(js, "kernel", json_string(bl_match_kernel_name()));
    bl_status st = cli_json_write(js, "-", (bl_error *)&r->err);
    json_decref(js);
    return st;
}

static int match_model(const match_opts *o)
{
    if (o->blocking && strcmp(o->blocking, "lsh") && strcmp(o->blocking, "none"))
        return cli_usage_error(CMD, "--model blocks by itself: --blocking lsh or none, not files");
    /* refused where it would change nothing, rather than ignored */
    if (o->merge_set && (o->nin < 3 || !strcmp(o->format, "candidates")))
        return cli_usage_error(CMD,
                               "--merge-threshold merges the groups of three inputs or more; "
                               "%s",
                               o->nin < 3 ? "two inputs are linked 1:1"
                                          : "-f candidates resolves nothing");
    cli_fs_opts fo = {
        .model = o->model,
        .output = o->co.output,
        .save_model = o->save_model,
        .paths = o->inputs,
        .n = o->nin,
        .min_p = o->min_p,
        .threads = o->co.threads,
        .verbose = o->co.verbose,
        .quiet = o->co.quiet,
        .json = o->co.json,
        .lsh = !o->blocking                  ? 0
               : !strcmp(o->blocking, "lsh") ? 1
                                             : -1,
        .candidates = !strcmp(o->format, "candidates"),
        .max_candidates = (size_t)o->maxc,
        .merge = o->merge,
    };
    return cli_match_fs(&fo);
}

int cmd_match(int argc, char **argv)
{
    cli_batch_memory();
    match_opts o;
    int rc = match_parse(argc, argv, &o);
    if (rc == CLI_OPT_MODEL) /* the model decides by posterior probability: no threshold */
        return match_model(&o);
    if (rc != CLI_OPT_OK)
        return rc == CLI_OPT_EXIT ? CLI_EXIT_OK : rc;
    match_run r;
    memset(&r, 0, sizeof r);
    double t0 = bl_clock_s();
    bl_status st = read_inputs(&r, &o);
    r.t_read = bl_clock_s() - t0;
    if (!st && (rc = check_inputs(&r, &o)) != CLI_OPT_OK)
        goto done;
    if (!st)
        st = setup_blocking(&r, &o);
    if (!st)
        st = find_candidates(&r, &o);
    if (!st && !r.writer) { /* another rank solves and writes */
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (!st && !o.co.quiet)
        cli_warn_no_candidates(CMD, r.cand, r.ncand, (const bl_clkset *const *)r.sets,
                               (const char *const *)o.inputs, r.nin);
    if (!st && r.bk)
        blocking_lines(&r, &o);
    if (!st)
        st = solve_and_write(&r, &o);
    if (!st && o.write_blocks)
        st = write_blocks(&r, &o);
    if (!st && o.svg)
        st = sizes_svg(&r, &o);
    if (!st && o.co.verbose)
        verbose_line(&r, &o);
    if (!st && o.co.json)
        st = json_summary(&r, &o);
    rc = st ? cli_fail(CMD, &r.err) : CLI_EXIT_OK;
done:
    match_run_free(&r);
    return rc;
}
