/* cli/cmd_eval.c - `blindlink eval`: score matches (or candidates) written by
 * `blindlink match` - CSV, or anonlink's binary candidate format - against
 * ground truth (FEBRL rec-N-org/rec-N-dup-K ids, a shared id column, or a
 * file of true pairs), printing precision, recall and F1 (text or JSON), a
 * sweep over thresholds (lib: bl_eval_sweep), and histograms of candidate
 * similarities, true vs false or without any truth (text and SVG). */
#include <getopt.h>
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/csv.h>
#include <blindlink/eval.h>
#include <blindlink/model.h>
#include <blindlink/io.h>
#include <blindlink/match.h>
#include <blindlink/plot.h>
#include "cli.h"

#define CMD "eval"
#define MAX_DATA 64

static void usage(FILE *fp)
{
    fputs(
        "Usage: blindlink eval [options] MATCHES\n"
        "\n"
        "Measure linkage quality of a pairs or candidates file from 'blindlink match'\n"
        "(CSV, or anonlink's binary candidate format, detected; '-' reads stdin).\n"
        "\n"
        "Ground truth (pick one):\n"
        "      --truth febrl        ids follow FEBRL's rec-N-org / rec-N-dup-K: same N =\n"
        "                           same person (default when ids look like that)\n"
        "      --truth id           equal ids = same entity (shared id column)\n"
        "      --truth FILE         CSV of true pairs: a_index,b_index, or a_id,b_id\n"
        "                           (record ids, looked up in --data or in the ids of\n"
        "                           MATCHES); a_dataset,b_dataset beyond two datasets\n"
        "      --truth none         no ground truth: only the score histogram (how to\n"
        "                           choose a threshold before any labels exist)\n"
        "Where the ids come from:\n"
        "      --data FILE          original data CSV, once per dataset in match order;\n"
        "                           gives every record's id, hence the number of true pairs\n"
        "      --id-column NAME     id column of --data files (default: the first column)\n"
        "      (without --data the a_id/b_id columns of MATCHES are used; recall then\n"
        "       needs --true-pairs N)\n"
        "      --true-pairs N       number of true pairs (overrides the count from --data)\n"
        "\n"
        "  -t, --threshold T        only rows with score >= T count as matches (and the\n"
        "                           threshold marked in the pictures)\n"
        "      --sweep              table of precision/recall/F1 over thresholds\n"
        "      --thresholds LO:HI:STEP   sweep range (default 0.5:1:0.025)\n"
        "      --solver greedy|none  sweep: re-solve 1:1 at each threshold (default greedy)\n"
        "                           or count every candidate above it (none)\n"
        "      --histogram          text histogram of true vs false candidate scores\n"
        "      --svg FILE           the histogram as an SVG image ('-' = stdout); with\n"
        "                           --sweep a second panel plots precision, recall and\n"
        "                           F1 against the threshold\n"
        "      --sweep-svg FILE     the sweep plot alone as an SVG image\n"
        "      --title NAME         data set name shown in the pictures (default: the\n"
        "                           MATCHES file name)\n"
        "      --bins N             histogram bins (default 25)\n"
        "      --weights            pairs from match --model: histogram of the match\n"
        "                           weights of true vs false pairs\n"
        "      --weights-svg FILE   the same as an SVG image\n"
        "      --model FILE --mu-svg FILE   the model's m/u chart per field (SVG; the two\n"
        "                           go together, and the model is read before the report)\n"
        "      --json               machine-readable output\n"
        "  -o, --output FILE        report destination (default stdout)\n"
        "  -q, --quiet              no report (pictures only)\n"
        "  -v, --verbose            accepted as by every command (nothing to add here)\n"
        "  -V, --version            print the version\n"
        "  -h, --help               this help\n"
        "\n"
        "Exit status: 0 ok, 1 runtime failure, 2 usage or input error.\n",
        fp);
}

enum { OPT_TRUTH = CLI_OPT_FIRST_PRIVATE, OPT_DATA, OPT_IDCOL, OPT_TP, OPT_SWEEP, OPT_RANGE,
       OPT_SOLVER, OPT_HIST, OPT_SVG, OPT_SWEEP_SVG, OPT_TITLE, OPT_BINS, OPT_WEIGHTS, OPT_WSVG,
       OPT_MODEL, OPT_MUSVG };

typedef struct eval_opts {
    cli_common co;
    const char *truth, *idcol, *svg, *sweep_svg, *title, *input;
    const char *data[MAX_DATA];
    size_t ndata;
    uint64_t true_pairs;
    double threshold, lo, hi, step;
    int sweep, hist, solve, no_truth;
    int truth_file; /* --truth names a file (not febrl, id or none) */
    unsigned bins;
    const char *wsvg, *modelp, *musvg; /* model hooks (lib/model) */
    int weights;
} eval_opts;

static int eval_option(int c, const char *arg, eval_opts *o)
{
    uint64_t u;
    switch (c) {
    case OPT_TRUTH: o->truth = arg; break;
    case OPT_DATA:
        if (o->ndata == MAX_DATA)
            return cli_usage_error(CMD, "too many --data files (at most %d)", MAX_DATA);
        o->data[o->ndata++] = arg;
        break;
    case OPT_IDCOL: o->idcol = arg; break;
    case OPT_TP:
        if (cli_parse_u64(arg, 1, UINT64_MAX, &o->true_pairs))
            return cli_usage_error(CMD, "--true-pairs must be a positive integer, got '%s'", arg);
        break;
    case 't': return cli_parse_threshold(CMD, arg, &o->threshold);
    case OPT_SWEEP: o->sweep = 1; break;
    case OPT_RANGE:
        if (sscanf(arg, "%lf:%lf:%lf", &o->lo, &o->hi, &o->step) != 3 ||
            !(o->lo > 0 && o->lo <= o->hi && o->hi <= 1) || !(o->step > 0) ||
            (o->hi - o->lo) / o->step > 10000)
            return cli_usage_error(CMD, "--thresholds must be LO:HI:STEP with 0 < LO <= HI <= 1, "
                                        "STEP > 0 and at most 10000 steps, got '%s'", arg);
        break;
    case OPT_SOLVER:
        if (strcmp(arg, "greedy") && strcmp(arg, "none"))
            return cli_usage_error(CMD, "--solver must be greedy or none, got '%s'", arg);
        o->solve = strcmp(arg, "greedy") == 0;
        break;
    case OPT_HIST: o->hist = 1; break;
    case OPT_SVG: o->svg = arg; break;
    case OPT_SWEEP_SVG: o->sweep_svg = arg; break;
    case OPT_TITLE: o->title = arg; break;
    case OPT_WEIGHTS: o->weights = 1; break;
    case OPT_WSVG: o->wsvg = arg; break;
    case OPT_MODEL: o->modelp = arg; break;
    case OPT_MUSVG: o->musvg = arg; break;
    case OPT_BINS:
        if (cli_parse_u64(arg, 1, 1000, &u))
            return cli_usage_error(CMD, "--bins must be in 1..1000, got '%s'", arg);
        o->bins = (unsigned)u;
        break;
    default: return cli_usage_error(CMD, "unknown option '%s'", cli_current_arg());
    }
    return CLI_OPT_OK;
}

/* CLI_OPT_OK to run, else the exit code */
static int eval_parse(int argc, char **argv, eval_opts *o)
{
    static const struct option opts[] = {
        {"truth", required_argument, NULL, OPT_TRUTH},
        {"data", required_argument, NULL, OPT_DATA},
        {"id-column", required_argument, NULL, OPT_IDCOL},
        {"true-pairs", required_argument, NULL, OPT_TP},
        {"threshold", required_argument, NULL, 't'},
        {"sweep", no_argument, NULL, OPT_SWEEP},
        {"thresholds", required_argument, NULL, OPT_RANGE},
        {"solver", required_argument, NULL, OPT_SOLVER},
        {"histogram", no_argument, NULL, OPT_HIST},
        {"svg", required_argument, NULL, OPT_SVG},
        {"sweep-svg", required_argument, NULL, OPT_SWEEP_SVG},
        {"title", required_argument, NULL, OPT_TITLE},
        {"bins", required_argument, NULL, OPT_BINS},
        {"weights", no_argument, NULL, OPT_WEIGHTS},
        {"weights-svg", required_argument, NULL, OPT_WSVG},
        {"model", required_argument, NULL, OPT_MODEL},
        {"mu-svg", required_argument, NULL, OPT_MUSVG},
        CLI_LONGOPT_JSON, CLI_LONGOPT_OUTPUT, CLI_LONGOPT_QUIET, CLI_LONGOPT_VERBOSE,
        CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->co.output = "-";
    o->threshold = NAN;
    o->lo = 0.5;
    o->hi = 1.0;
    o->step = 0.025;
    o->solve = 1;
    o->bins = 25;
    int c;
    cli_getopt_begin(argc, argv);
    while ((c = getopt_long(argc, argv, ":t:o:qvVh", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OPT_EXIT;
        }
        int rc = cli_common_option(CMD, c, optarg, &o->co);
        if (rc == CLI_OPT_UNHANDLED)
            rc = eval_option(c, optarg, o);
        if (rc != CLI_OPT_OK)
            return rc;
    }
    if (argc - optind != 1)
        return cli_usage_error(CMD, "expected exactly one MATCHES file");
    o->input = argv[optind];
    o->no_truth = o->truth && strcmp(o->truth, "none") == 0;
    o->truth_file = o->truth && !o->no_truth && strcmp(o->truth, "febrl") && strcmp(o->truth, "id");
    if (o->no_truth && (o->ndata || o->true_pairs || o->sweep))
        return cli_usage_error(CMD, "--truth none goes without --data, --true-pairs and --sweep");
    if (o->sweep_svg && !o->sweep)
        o->sweep = 1;
    /* the model is read for its chart alone: either option without the
     * other was ignored (a broken model passed) or failed after the report */
    if (o->musvg && !o->modelp)
        return cli_usage_error(CMD, "--mu-svg needs --model FILE (the model whose m/u chart to draw)");
    if (o->modelp && !o->musvg)
        return cli_usage_error(CMD, "--model is read only for --mu-svg FILE (the model's m/u chart); "
                                    "add --mu-svg or leave --model out");
    if (o->modelp && !strcmp(o->modelp, "-") && !strcmp(o->input, "-"))
        return cli_usage_error(CMD, "--model - and MATCHES - cannot both read stdin");
    const cli_path outs[] = {{"-o", o->co.output},
                             {"--svg", o->svg},
                             {"--sweep-svg", o->sweep_svg},
                             {"--weights-svg", o->wsvg},
                             {"--mu-svg", o->musvg}};
    const char *ins[MAX_DATA + 3] = {o->input, o->modelp, o->truth_file ? o->truth : NULL};
    for (size_t i = 0; i < o->ndata; i++)
        ins[i + 3] = o->data[i];
    int rc = cli_check_inputs(CMD, ins, o->ndata + 3, 0);
    if (rc == CLI_EXIT_OK)
        rc = cli_check_outputs(CMD, outs, sizeof outs / sizeof *outs, ins, o->ndata + 3);
    return rc == CLI_EXIT_OK ? CLI_OPT_OK : rc;
}

/* ---- inputs ---- */

typedef struct idlist {
    char **v;
    size_t n, cap;
} idlist;

static void idlist_free(idlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static bl_status idlist_push(idlist *l, const char *s, const char *path, bl_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        if (cap > 200000000)
            return bl_error_set(err, BL_ELIMIT, "%s: too many rows", path);
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        l->v = nv;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s)))
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    l->n++;
    return BL_OK;
}

/* the id column of one data file (the first column unless named) */
static bl_status read_ids(const char *path, const char *col, idlist *out, bl_error *err)
{
    bl_csv_opts o;
    memset(&o, 0, sizeof o);
    o.trim_spaces = 1; /* FEBRL writes ", " separators */
    bl_csv_reader *r;
    bl_status st = bl_csv_open(path, &o, &r, err);
    if (st)
        return st;
    bl_csv_row row;
    st = bl_csv_next(r, &row, err);
    if (st == BL_EOF) {
        bl_csv_free(r);
        return bl_error_set(err, BL_EINPUT, "%s: empty file", path);
    }
    size_t idx = 0;
    if (!st && col) {
        while (idx < row.nfields && strcmp(row.fields[idx], col) != 0)
            idx++;
        if (idx == row.nfields)
            st = bl_error_set(err, BL_EINPUT, "%s:%llu: no column named '%s'", path,
                              (unsigned long long)row.line, col);
    }
    while (!st && (st = bl_csv_next(r, &row, err)) == BL_OK) {
        if (idx >= row.nfields) {
            st = bl_error_set(err, BL_EINPUT, "%s:%llu: row has no field %zu", path,
                              (unsigned long long)row.line, idx + 1);
            break;
        }
        st = idlist_push(out, row.fields[idx], path, err);
    }
    bl_csv_free(r);
    return st == BL_EOF ? BL_OK : st;
}

/* anonlink's binary candidates start with version 1 and the sizes 8, 4, 4 */
static int is_anonlink_binary(const char *path)
{
    FILE *fp = fopen(path, "rb");
    unsigned char h[4] = {0};
    /* the sizes 8/4/4 with any version: the reader then names the version
     * (read as CSV, the bytes gave "header lacks a_index") */
    int yes = fp && fread(h, 1, 4, fp) == 4 && h[1] == 8 && h[2] == 4 && h[3] == 4 && h[0] < 0x20;
    if (fp)
        fclose(fp);
    return yes;
}

/* match --model writes score = probability and a probability column; the
 * pictures then must not call the scores Dice similarities */
static int has_probability_column(const char *path)
{
    bl_csv_reader *r = NULL;
    bl_csv_row row;
    bl_error e = {0};
    int yes = 0;
    if (is_anonlink_binary(path) || bl_csv_open(path, NULL, &r, &e) != BL_OK)
        return 0;
    if (bl_csv_next(r, &row, &e) == BL_OK)
        for (size_t c = 0; c < row.nfields; c++)
            yes |= !strcmp(row.fields[c], "probability");
    bl_csv_free(r);
    return yes;
}

static bl_status load_matches(const char *path, bl_matches *m, bl_error *err)
{
    if (!is_anonlink_binary(path))
        return bl_matches_read(path, 0, m, err);
    memset(m, 0, sizeof *m);
    bl_status st = bl_candidates_read_anonlink(path, 0, &m->pairs, &m->n, err);
    if (st)
        return st;
    m->has_score = 1;
    m->nsets = 2;
    for (size_t i = 0; i < m->n; i++)
        for (int s = 0; s < 2; s++) {
            if (m->pairs[i].dset[s] >= 4096)
                return bl_error_set(err, BL_EINPUT, "%s: entry %zu: dataset index %u out of "
                                    "range", path, i, m->pairs[i].dset[s]);
            if (m->pairs[i].dset[s] + 1 > m->nsets)
                m->nsets = m->pairs[i].dset[s] + 1;
        }
    return BL_OK;
}

/* ---- ground truth ---- */

typedef struct eval_run {
    bl_matches m;
    const char *mpath; /* name used in messages and reports */
    size_t nsets;
    idlist ids[MAX_DATA];
    char ***idv;      /* idv[d][r]: id of record r of dataset d (may be NULL) */
    size_t *counts;
    int own_idv;      /* idv[d] arrays allocated here (ids of the matches) */
    bl_eval_truth *tr;
    uint64_t ntrue;   /* for bl_eval_score: UINT64_MAX when unknown */
    int recall_unknown;
    int probs;        /* scores are posterior probabilities (a probability column) */
    double *w;        /* --weights, --weights-svg: the pairs' weight column */
} eval_run;

static void eval_run_free(eval_run *r)
{
    bl_eval_truth_free(r->tr);
    free(r->w);
    if (r->idv && r->own_idv)
        for (size_t d = 0; d < r->nsets; d++)
            free(r->idv[d]);
    free(r->idv);
    free(r->counts);
    for (size_t d = 0; d < MAX_DATA; d++)
        idlist_free(&r->ids[d]);
    bl_matches_free(&r->m);
}

/* 1 when the pairs file's a_id/b_id columns agree with the --data ids only
 * with the two --data files swapped (most rows): F1 would be near 0 */
static int data_swapped(const eval_run *r)
{
    size_t same = 0, swapped = 0;
    if (!r->m.ids || r->m.nsets != 2 || r->nsets != 2)
        return 0;
    for (size_t i = 0; i < r->m.n; i++) {
        const bl_candidate *p = &r->m.pairs[i];
        const char *a = r->m.ids[2 * i], *b = r->m.ids[2 * i + 1];
        size_t da = p->dset[0], db = p->dset[1];
        if (!a || !b || da > 1 || db > 1)
            continue;
        same += p->rec[0] < r->counts[da] && p->rec[1] < r->counts[db] &&
                !strcmp(a, r->idv[da][p->rec[0]]) && !strcmp(b, r->idv[db][p->rec[1]]);
        swapped += p->rec[0] < r->counts[1 - da] && p->rec[1] < r->counts[1 - db] &&
                   !strcmp(a, r->idv[1 - da][p->rec[0]]) && !strcmp(b, r->idv[1 - db][p->rec[1]]);
    }
    return swapped > same && 2 * swapped > r->m.n;
}

/* a and b equal once b's surrounding spaces are dropped: read_ids trims
 * the --data ids (FEBRL writes ", "), encode --ids keeps them */
static int same_id(const char *a, const char *b)
{
    size_t n = strlen(b);
    while (n && b[n - 1] == ' ')
        n--;
    while (n && *b == ' ')
        b++, n--;
    return strlen(a) == n && !memcmp(a, b, n);
}

/* The matches' a_id/b_id (the encodings' ids) against the ids of the
 * --data rows they name: other data files (another synth seed, another
 * extract) gave precision and recall 0 without a word. A warning, not an
 * error: encodings may carry another column's ids (encode --ids) than the
 * one eval reads, and the evaluation by index is then right. It names rows,
 * not ids: stderr goes to logs. */
static void ids_agree(const eval_run *r, const eval_opts *o)
{
    size_t bad = 0, first = 0;
    int side = 0;
    for (size_t i = 0; r->m.ids && i < r->m.n; i++)
        for (int s = 0; s < 2; s++) {
            const bl_candidate *p = &r->m.pairs[i];
            const char *mid = r->m.ids[2 * i + s], *did = r->idv[p->dset[s]][p->rec[s]];
            if (mid && *mid && did && !same_id(did, mid) && !bad++) {
                first = i;
                side = s;
            }
        }
    if (!bad || o->co.quiet)
        return;
    const bl_candidate *p = &r->m.pairs[first];
    fprintf(stderr,
            "blindlink eval: warning: %zu ids of %s differ from the ids of the --data rows they "
            "name (the first: the %s of row %zu is not the id of record %u of %s). Are these "
            "the data files of this match run, in its order? (--id-column names their id "
            "column)\n",
            bad, r->mpath, side ? "b_id" : "a_id", first + 2, p->rec[side], o->data[p->dset[side]]);
}

static bl_status ids_from_data(eval_run *r, const eval_opts *o, bl_error *err)
{
    for (size_t d = 0; d < o->ndata; d++) {
        bl_status st = read_ids(o->data[d], o->idcol, &r->ids[d], err);
        if (st)
            return st;
        r->idv[d] = r->ids[d].v;
        r->counts[d] = r->ids[d].n;
    }
    if (data_swapped(r))
        return bl_error_set(err, BL_EINPUT, "the --data order looks swapped: most a_id values "
                            "of %s are ids of %s and its b_id values ids of %s; give the --data "
                            "files in match order", r->mpath, o->data[1], o->data[0]);
    for (size_t i = 0; i < r->m.n; i++)
        for (int s = 0; s < 2; s++) {
            const bl_candidate *p = &r->m.pairs[i];
            if (p->rec[s] >= r->counts[p->dset[s]])
                return bl_error_set(err, BL_EINPUT, "%s row %zu: record %u of dataset %u is "
                                    "beyond the %zu rows of %s", r->mpath, i + 2, p->rec[s],
                                    p->dset[s], r->counts[p->dset[s]], o->data[p->dset[s]]);
        }
    ids_agree(r, o);
    return BL_OK;
}

/* ids of the matched records only (the a_id/b_id columns) */
/* Without --data the record indices only tell records apart: number them
 * 0, 1, ... per dataset in index order, so that memory follows the rows of
 * the file, not its largest index (a row with index 10^9 took 4 GB). */
static bl_status compact_records(eval_run *r, bl_error *err)
{
    size_t nu;
    uint64_t *k = cli_pair_records(r->m.pairs, r->m.n, sizeof *r->m.pairs, &nu);
    if (!k)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    /* first[d]: where dataset d's keys begin (the reader keeps d < 4096) */
    size_t *first = calloc(r->m.nsets + 1, sizeof *first);
    if (!first) {
        free(k);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    for (size_t i = nu; i-- > 0;)
        first[k[i] >> 32] = i;
    for (size_t i = 0; i < r->m.n; i++)
        for (int s = 0; s < 2; s++) {
            const uint32_t d = r->m.pairs[i].dset[s];
            assert(d < r->m.nsets);
            r->m.pairs[i].rec[s] =
                (uint32_t)(cli_record_at(k, nu, d, r->m.pairs[i].rec[s]) - first[d]);
        }
    free(first);
    free(k);
    return BL_OK;
}

static bl_status ids_from_matches(eval_run *r, int truth_file, bl_error *err)
{
    r->own_idv = 1;
    /* a truth file may name records by index: then they keep theirs */
    bl_status st = truth_file ? BL_OK : compact_records(r, err);
    if (st)
        return st;
    for (size_t i = 0; i < r->m.n; i++)
        for (int s = 0; s < 2; s++)
            if (r->m.pairs[i].rec[s] + (size_t)1 > r->counts[r->m.pairs[i].dset[s]])
                r->counts[r->m.pairs[i].dset[s]] = r->m.pairs[i].rec[s] + (size_t)1;
    for (size_t d = 0; d < r->nsets; d++)
        if (!(r->idv[d] = calloc(r->counts[d] ? r->counts[d] : 1, sizeof(char *))))
            return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->m.n; i++)
        for (int s = 0; s < 2; s++)
            r->idv[r->m.pairs[i].dset[s]][r->m.pairs[i].rec[s]] = r->m.ids[2 * i + s];
    return BL_OK;
}

static bl_eval_idmode id_mode(const eval_run *r, const char *truth)
{
    if (truth)
        return strcmp(truth, "febrl") == 0 ? BL_EVAL_FEBRL : BL_EVAL_SAME_ID;
    /* auto: FEBRL when the first id looks like one */
    for (size_t d = 0; d < r->nsets; d++)
        for (size_t i = 0; i < r->counts[d]; i++)
            if (r->idv[d][i])
                return strncmp(r->idv[d][i], "rec-", 4) == 0 ? BL_EVAL_FEBRL : BL_EVAL_SAME_ID;
    return BL_EVAL_SAME_ID;
}

/* CLI_OPT_OK, or an exit code with the message printed */
static int build_truth(eval_run *r, const eval_opts *o, bl_error *err)
{
    const int truth_file = o->truth_file;
    r->nsets = r->m.nsets > o->ndata ? r->m.nsets : o->ndata;
    if (o->ndata && o->ndata < r->m.nsets)
        return cli_usage_error(CMD, "%s uses %u datasets but %zu --data files were given", r->mpath,
                               r->m.nsets, o->ndata);
    /* More files than the file names datasets: right when the last inputs
     * of a multi-party run matched nothing, wrong when a file was given
     * twice or to a two-party run (its people then count as true pairs no
     * match can find: recall 0.25). The file cannot tell which: say so. */
    if (o->ndata > r->m.nsets && !o->co.quiet)
        fprintf(stderr,
                "blindlink eval: warning: %s names %u datasets but %zu --data files were "
                "given: the records of the others count as true pairs nobody matched "
                "(give one --data per input of the match run, in its order)\n",
                r->mpath, r->m.nsets, o->ndata);
    r->idv = calloc(r->nsets, sizeof *r->idv);
    r->counts = calloc(r->nsets, sizeof *r->counts);
    bl_status st = (!r->idv || !r->counts) ? bl_error_set(err, BL_ENOMEM, "out of memory") : BL_OK;
    if (!st && o->ndata)
        st = ids_from_data(r, o, err);
    else if (!st && r->m.ids)
        st = ids_from_matches(r, truth_file, err);
    else if (!st && !truth_file)
        return cli_usage_error(CMD, "%s has no a_id/b_id columns: give --data files, "
                                    "--truth FILE or --truth none", r->mpath);
    if (!st && truth_file) /* index-based, or id-based against the known ids */
        st = bl_eval_truth_read(o->truth, (o->ndata || r->m.ids)
                                              ? (const char *const *const *)r->idv : NULL,
                                r->counts, r->nsets, o->ndata > 0, &r->tr, err);
    else if (!st)
        st = bl_eval_truth_from_ids((const char *const *const *)r->idv, r->counts, r->nsets,
                                    id_mode(r, o->truth), &r->tr, err);
    if (st)
        return cli_fail_input(CMD, err);
    /* the number of true pairs is known from complete ids or a truth file */
    uint64_t n = o->true_pairs ? o->true_pairs
                               : ((o->ndata || truth_file) ? bl_eval_truth_pairs(r->tr) : 0);
    r->recall_unknown = n == 0;
    r->ntrue = n ? n : UINT64_MAX;
    return CLI_OPT_OK;
}

/* ---- figures ---- */

static bl_status score_selected(const eval_run *r, double threshold, bl_eval_result *res,
                                bl_error *err)
{
    bl_candidate *sel = malloc((r->m.n ? r->m.n : 1) * sizeof *sel);
    if (!sel)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    size_t nsel = 0;
    for (size_t i = 0; i < r->m.n; i++)
        if (isnan(threshold) || (!isnan(r->m.pairs[i].score) && r->m.pairs[i].score >= threshold))
            sel[nsel++] = r->m.pairs[i];
    *res = bl_eval_score(r->tr, sel, nsel, r->ntrue);
    free(sel);
    /* a given count below what the file proves: recall above 1 and false
     * negatives wrapped around */
    if (!r->recall_unknown && res->true_positives > res->true_pairs)
        return bl_error_set(err, BL_EINVAL,
                            "%llu true pairs (--true-pairs or the truth) but %llu true positives "
                            "among the matches: there are at least that many true pairs",
                            (unsigned long long)res->true_pairs,
                            (unsigned long long)res->true_positives);
    if (r->recall_unknown) {
        res->true_pairs = 0;
        res->recall = NAN;
        res->f1 = NAN;
    }
    return BL_OK;
}

static void put_num(FILE *fp, double v)
{
    if (isnan(v))
        fputs("n/a", fp);
    else
        fprintf(fp, "%.6f", v);
}

static void report_text(FILE *fp, const char *mpath, const bl_eval_result *res)
{
    fprintf(fp, "matches          %s\n", mpath);
    fprintf(fp, "predicted pairs  %llu\n", (unsigned long long)res->predicted);
    fprintf(fp, "true positives   %llu\n", (unsigned long long)res->true_positives);
    fprintf(fp, "false positives  %llu\n",
            (unsigned long long)(res->predicted - res->true_positives));
    if (res->true_pairs)
        fprintf(fp, "true pairs       %llu\nfalse negatives  %llu\n",
                (unsigned long long)res->true_pairs,
                (unsigned long long)(res->true_pairs - res->true_positives));
    fputs("precision        ", fp);
    put_num(fp, res->precision);
    fputs("\nrecall           ", fp);
    put_num(fp, res->recall);
    fputs("\nF1               ", fp);
    put_num(fp, res->f1);
    fputc('\n', fp);
}

static void sweep_text(FILE *fp, const bl_eval_sweep_point *pts, size_t n)
{
    fprintf(fp, "\n%-10s %10s %10s %10s %10s %10s\n", "threshold", "predicted", "true_pos",
            "precision", "recall", "F1");
    for (size_t i = 0; i < n; i++) {
        const bl_eval_result *r = &pts[i].r;
        fprintf(fp, "%-10.4f %10llu %10llu ", pts[i].threshold, (unsigned long long)r->predicted,
                (unsigned long long)r->true_positives);
        put_num(fp, r->precision);
        fputs("   ", fp);
        put_num(fp, r->recall);
        fputs("   ", fp);
        put_num(fp, r->f1);
        fputc('\n', fp);
    }
}

static json_t *result_json(const bl_eval_result *r, json_t *o)
{
    json_object_set_new(o, "predicted", json_integer((json_int_t)r->predicted));
    json_object_set_new(o, "true_positives", json_integer((json_int_t)r->true_positives));
    return o;
}

static json_t *weights_json(const eval_run *r)
{
    bl_weight_hist wh;
    bl_model_weight_hist(r->tr, r->m.pairs, r->w, r->m.n, &wh);
    json_t *o = json_object(), *t = json_array(), *f = json_array();
    cli_json_set_real(o, "low", wh.lo);
    cli_json_set_real(o, "width", wh.width);
    json_object_set_new(o, "bins", json_integer(BL_MODEL_WEIGHT_BINS));
    for (int b = 0; b < BL_MODEL_WEIGHT_BINS; b++) {
        json_array_append_new(t, json_integer((json_int_t)wh.true_counts[b]));
        json_array_append_new(f, json_integer((json_int_t)wh.false_counts[b]));
    }
    json_object_set_new(o, "true", t);
    json_object_set_new(o, "false", f);
    return o;
}

static json_t *report_json(const char *mpath, const bl_eval_result *res,
                           const bl_eval_sweep_point *pts, size_t npts, const bl_histogram *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "matches", json_string(mpath));
    if (res) {
        result_json(res, o);
        json_object_set_new(o, "true_pairs", res->true_pairs
                                                 ? json_integer((json_int_t)res->true_pairs)
                                                 : json_null());
        /* the text report's counts as well */
        json_object_set_new(o, "false_positives",
                            json_integer((json_int_t)(res->predicted - res->true_positives)));
        json_object_set_new(o, "false_negatives",
                            res->true_pairs
                                ? json_integer((json_int_t)(res->true_pairs - res->true_positives))
                                : json_null());
        cli_json_set_real(o, "precision", res->precision);
        cli_json_set_real(o, "recall", res->recall);
        cli_json_set_real(o, "f1", res->f1);
    }
    if (pts) {
        json_t *a = json_array();
        for (size_t i = 0; i < npts; i++) {
            json_t *p = json_object();
            cli_json_set_real(p, "threshold", pts[i].threshold);
            result_json(&pts[i].r, p);
            cli_json_set_real(p, "precision", pts[i].r.precision);
            cli_json_set_real(p, "recall", pts[i].r.recall);
            cli_json_set_real(p, "f1", pts[i].r.f1);
            json_array_append_new(a, p);
        }
        json_object_set_new(o, "sweep", a);
    }
    if (h) {
        json_t *hj = json_object(), *t = json_array(), *f = json_array();
        cli_json_set_real(hj, "low", h->lo);
        json_object_set_new(hj, "bins", json_integer(h->bins));
        for (uint32_t b = 0; b < h->bins; b++) {
            json_array_append_new(t, json_integer((json_int_t)h->true_counts[b]));
            json_array_append_new(f, json_integer((json_int_t)h->false_counts[b]));
        }
        json_object_set_new(hj, "true", t);
        json_object_set_new(hj, "false", f);
        json_object_set_new(o, "histogram", hj);
    }
    return o;
}

/* histogram bins from the lowest score (rounded down to 0.05) to 1 */
static bl_status build_histogram(const eval_run *r, unsigned bins, bl_histogram *h, bl_error *err)
{
    double mn = 1.0;
    for (size_t i = 0; i < r->m.n; i++)
        if (!isnan(r->m.pairs[i].score) && r->m.pairs[i].score < mn)
            mn = r->m.pairs[i].score;
    mn = floor(mn * 20) / 20;
    if (mn >= 1.0)
        mn = 0.95;
    return bl_histogram_build(r->tr, r->m.pairs, r->m.n, mn, bins, h, err);
}

static bl_status write_pictures(const eval_run *r, const eval_opts *o, const bl_histogram *h,
                                const bl_eval_sweep_point *pts, size_t npts, bl_error *err)
{
    bl_plot_opts po;
    bl_plot_opts_init(&po);
    po.title = o->title ? o->title : r->mpath;
    po.threshold = o->threshold;
    po.no_truth = o->no_truth;
    po.score_label = r->probs ? "posterior probability" : NULL;
    bl_status st = BL_OK;
    if (o->svg)
        st = bl_plot_eval_svg(o->svg, &po, h, o->sweep ? pts : NULL, npts, err);
    if (!st && o->sweep_svg)
        st = bl_plot_eval_svg(o->sweep_svg, &po, NULL, pts, npts, err);
    return st;
}

/* text or JSON report on -o; CLI_OPT_OK or an exit code */
static int write_report(const eval_run *r, const eval_opts *o, const bl_eval_result *res,
                        const bl_eval_sweep_point *pts, size_t npts, const bl_histogram *h,
                        bl_error *err)
{
    bl_status st = BL_OK;
    if (o->co.quiet)
        return CLI_OPT_OK;
    if (o->co.json) {
        json_t *js = report_json(r->mpath, o->no_truth ? NULL : res, pts, npts,
                                 (o->hist || o->svg) ? h : NULL);
        if (o->weights)
            json_object_set_new(js, "weights", weights_json(r));
        st = cli_json_write(js, o->co.output, err);
        json_decref(js);
        return st ? cli_fail(CMD, err) : CLI_OPT_OK;
    }
    bl_ofile *of = NULL;
    if ((st = bl_ofile_open(o->co.output, &of, err)) != BL_OK)
        return cli_fail(CMD, err);
    FILE *fp = bl_ofile_stream(of);
    if (!o->no_truth)
        report_text(fp, r->mpath, res);
    else
        fprintf(fp, "matches          %s\ncandidates       %zu\n", r->mpath, r->m.n);
    if (pts)
        sweep_text(fp, pts, npts);
    if (o->hist) {
        fputc('\n', fp);
        bl_histogram_print(h, fp);
    }
    /* with the report, on -o (it went to stdout alone) */
    if (o->weights &&
        (st = bl_model_weight_report(r->tr, r->m.pairs, r->w, r->m.n, fp, NULL, err))) {
        bl_ofile_abort(of);
        return cli_fail(CMD, err);
    }
    st = bl_ofile_commit(of, err);
    return st ? cli_fail(CMD, err) : CLI_OPT_OK;
}

/* match --model pictures, before the report: the weight histogram as SVG
 * and the m/u chart of the model `mm` (read before any work, cmd_eval) */
static bl_status model_reports(const eval_run *r, const eval_opts *o, const bl_model *mm, bl_error *err)
{
    bl_status st = BL_OK;
    if (o->wsvg)
        st = bl_model_weight_report(r->tr, r->m.pairs, r->w, r->m.n, NULL, o->wsvg, err);
    if (st == BL_OK && mm)
        st = bl_model_mu_svg(mm, o->musvg, err);
    return st;
}

static int eval_check_scores(const eval_run *r, const eval_opts *o)
{
    if (r->m.has_score)
        return CLI_OPT_OK;
    if (!isnan(o->threshold))
        return cli_usage_error(CMD, "--threshold needs a score column in %s", r->mpath);
    if (o->sweep)
        return cli_usage_error(CMD, "--sweep needs a score column in %s", r->mpath);
    if (o->hist || o->svg || o->no_truth)
        return cli_usage_error(CMD, "--histogram/--svg/--truth none need a score column in %s",
                               r->mpath);
    return CLI_OPT_OK;
}

int cmd_eval(int argc, char **argv)
{
    eval_opts o;
    int rc = eval_parse(argc, argv, &o);
    if (rc != CLI_OPT_OK)
        return rc == CLI_OPT_EXIT ? CLI_EXIT_OK : rc;
    eval_run r;
    memset(&r, 0, sizeof r);
    r.mpath = strcmp(o.input, "-") ? o.input : "stdin";
    bl_error err = {0};
    bl_histogram h = {0};
    bl_eval_sweep_point *pts = NULL;
    size_t npts = 0;
    bl_eval_result res;
    memset(&res, 0, sizeof res);
    bl_model *mm = NULL;
    /* a model that cannot be read stops the run before the report */
    bl_status st = o.modelp ? bl_model_read(o.modelp, &mm, &err) : BL_OK;
    if (st) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    cli_spool in;
    if ((st = cli_spool_stdin(o.input, &in, &err)) != BL_OK) { /* TMPDIR, disk: exit 1 */
        rc = cli_fail(CMD, &err);
        goto done;
    }
    st = load_matches(in.path, &r.m, &err);
    if (!st)
        r.probs = has_probability_column(in.path);
    /* the weights are checked before anything is written */
    if (!st && (o.weights || o.wsvg))
        st = bl_model_read_weights(in.path, r.m.n, &r.w, &err);
    if (st)
        cli_spool_blame(&in, &err);
    cli_spool_free(&in);
    if (st) {
        rc = cli_fail_input(CMD, &err);
        goto done;
    }
    if ((rc = eval_check_scores(&r, &o)) != CLI_OPT_OK)
        goto done;
    if (o.no_truth) {
        /* every candidate counts as "false": one class, one colour */
        st = bl_eval_truth_from_pairs(NULL, 0, &r.tr, &err);
    } else if ((rc = build_truth(&r, &o, &err)) != CLI_OPT_OK) {
        goto done;
    } else {
        st = score_selected(&r, o.threshold, &res, &err);
    }
    if (!st && o.sweep)
        st = bl_eval_sweep(r.tr, r.m.pairs, r.m.n, o.lo, o.hi, o.step, o.solve, r.ntrue,
                           r.recall_unknown, &pts, &npts, &err);
    if (!st && (o.hist || o.svg || o.no_truth))
        st = build_histogram(&r, o.bins, &h, &err);
    if (!st)
        st = write_pictures(&r, &o, &h, pts, npts, &err);
    if (!st)
        st = model_reports(&r, &o, mm, &err);
    if (st) {
        rc = cli_fail(CMD, &err);
        goto done;
    }
    rc = write_report(&r, &o, &res, pts, npts, h.bins ? &h : NULL, &err);
done:
    bl_model_free(mm);
    free(pts);
    bl_histogram_free(&h);
    eval_run_free(&r);
    return rc;
}
