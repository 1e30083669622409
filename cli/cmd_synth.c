/* cli/cmd_synth.c - `blindlink synth`: generate synthetic person records with
 * known ground truth (linkage sets for N parties or a deduplication set),
 * corrupted by a configurable error model. Option parsing and help only;
 * the generator is lib/synth/. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <blindlink/io.h>
#include <blindlink/synth.h>
#include "cli.h"

#define CMD "synth"

static void usage(FILE *fp)
{
    fprintf(fp,
"Usage: blindlink synth [options] -o PREFIX\n"
"       blindlink synth [options] --out-dir DIR\n"
"\n"
"Generate synthetic person records with known ground truth: CSV files with\n"
"columns rec_id, given_name, surname, date_of_birth, sex, address, suburb,\n"
"postcode, state, email, phone. Values are drawn from Febrl's frequency\n"
"tables (compiled in) and copies are corrupted by the error model below.\n"
"Ids follow FEBRL: rec-N-org is the original of person N, rec-N-dup-K its\n"
"K-th corrupted copy; records with the same N are the same person.\n"
"Output is deterministic for --seed and written atomically.\n"
"\n"
"Data sets:\n"
"  -n, --records N        records per party, or originals with --dedup [1000]\n"
"  -p, --parties N        linkage: number of parties, 2..64 [2]. Party 1 holds\n"
"                         rec-N-org records, party k>1 holds rec-N-dup-(k-2)\n"
"      --overlap F        linkage: share of each party's records whose person is\n"
"                         in every party, 0..1 [0.5]; the rest are only there\n"
"      --dedup            one deduplication set instead of parties\n"
"      --dup-share F      dedup: share of originals that have duplicates [0.5]\n"
"      --max-dups N       dedup: most duplicates per original, 1..9 [3]\n"
"      --dup-dist D       dedup: duplicates per original: uniform (1..max),\n"
"                         poisson (1+Poisson(1), capped) or zipf (P(k)~1/k)\n"
"                         [uniform]\n"
"      --corrupt-originals  corrupt rec-N-org records too (default: clean)\n"
"      --unicode-share F  share of people with non-ASCII names (accented Latin,\n"
"                         Greek, Cyrillic, Arabic, Han, Japanese, Hangul,\n"
"                         Devanagari, Hebrew), 0..1 [0.05]\n"
"\n"
    );
    fprintf(fp,
"Corruption (probabilities 0..1; 'per field' = each applicable field of a\n"
"copy draws separately, 'per record' = once per copy):\n"
"  -l, --level L          none, low, medium, high or hard: sets every probability\n"
"                         (hard also: unicode share 0.3 and Unicode form/case\n"
"                         changes of names; docs/synth.md)\n"
"                         below [medium]; the options below then override\n"
"      --typo P           all four keyboard typo kinds at once\n"
"      --typo-insert P    per field: insert a QWERTY neighbour of a character\n"
"      --typo-delete P    per field: delete a character\n"
"      --typo-substitute P  per field: replace a character by a QWERTY neighbour\n"
"      --typo-transpose P per field: swap two adjacent characters\n"
"                         (typos hit names, address, suburb, postcode, email,\n"
"                         phone)\n"
"      --ocr P            per field: an OCR confusion from Febrl's table (5->s,\n"
"                         m->rn, cl->d); names, address, suburb, postcode, phone\n"
"      --phonetic P       per field: a phonetic rewrite from Febrl's rules\n"
"                         (ph->f, ck->k); names, address, suburb\n"
"      --variant P        per field: nickname or known spelling variant from\n"
"                         Febrl's tables (elizabeth->liz); names, suburb.\n"
"                         Alias: --nickname\n"
"      --swap-names P     per record: given name and surname swapped\n"
"      --missing P        per field: value left empty (every field)\n"
"      --date-swap P      per record: day and month swapped (only when the\n"
"                         day is 12 or less and differs from the month)\n"
"      --date-year P      per record: year typo (a digit off by one, or the\n"
"                         last two digits transposed)\n"
"      --email-change P   per record: a different email address\n"
"      --phone-change P   per record: a different phone number\n"
"      --accent P         per field: accents dropped (josé->jose, мария\n"
"                         unchanged); names with accents only\n"
"\n"
    );
    fprintf(fp,
"Output:\n"
"  -o, --output PREFIX    write PREFIX-1.csv .. PREFIX-N.csv (one per party) or\n"
"                         PREFIX.csv with --dedup ('-' = stdout, dedup only)\n"
"      --out-dir DIR      same as -o DIR/party (dedup: DIR/dedup.csv)\n"
"      --date-format F    iso (1985-03-27), febrl (19850327) or dmy\n"
"                         (27-03-1985) [iso]\n"
"      --explain          add a 'corruptions' column: field:kind+kind;...\n"
"  -s, --seed N           random seed, 0..2^64-1 [1]\n"
"  -j, --threads N        worker threads, or auto for all cores [auto];\n"
"                         the output does not depend on it ('-t N' still\n"
"                         works for now, with a deprecation warning)\n"
"      --dry-run          print the plan (files, sizes, true pairs,\n"
"                         probabilities) and write nothing\n"
"      --json             the plan / a summary of what was written as JSON\n"
"                         on stdout (not with -o -)\n"
"  -q, --quiet            no progress bar, no warnings\n"
"  -v, --verbose          accepted as by every command (nothing to add here)\n"
"  -V, --version          print the version\n"
"  -h, --help             this help\n"
"\n"
"Examples:\n"
"  blindlink synth -n 100000 --overlap 0.8 --level low -o data/link\n"
"  blindlink synth --dedup -n 5000 --max-dups 5 --dup-dist zipf -o dd\n"
"  blindlink synth -p 5 -n 3000 --level high --unicode-share 0.2 --out-dir out\n"
"\n"
"Exit codes: 0 ok, 1 runtime failure, 2 usage error.\n");
}


static void plan(const bl_synth *g, const bl_synth_opts *o, char **paths)
{
    unsigned nd = bl_synth_ndatasets(g);
    for (unsigned d = 0; d < nd; d++)
        printf("file %s: %llu records\n", paths[d], (unsigned long long)bl_synth_size(g, d));
    if (o->dedup) {
        printf("originals %llu, duplicates %llu\n", (unsigned long long)o->records,
               (unsigned long long)(bl_synth_size(g, 0) - o->records));
    } else {
        uint64_t common = (uint64_t)(o->overlap * (double)o->records + 0.5);
        if (common > o->records)
            common = o->records;
        printf("persons in every party %llu, true pairs per party pair %llu\n",
               (unsigned long long)common, (unsigned long long)common);
    }
    printf("seed %llu, unicode share %g, corrupt originals %s\n", (unsigned long long)o->seed,
           o->unicode_share, o->corrupt_originals ? "yes" : "no");
    for (int k = 0; k < BL_SYNTH_NCORRUPTIONS; k++)
        printf("%-16s %g\n", bl_synth_corruption_name((bl_synth_corruption)k), o->prob[k]);
}

typedef struct prog_ctx {
    bl_progress *bar;
} prog_ctx;

static void on_progress(void *ctx, uint64_t done)
{
    bl_progress_update(((prog_ctx *)ctx)->bar, done);
}

enum {
    OPT_OVERLAP = CLI_OPT_FIRST_PRIVATE, OPT_DEDUP, OPT_DUP_SHARE, OPT_MAX_DUPS, OPT_DUP_DIST,
    OPT_CORRUPT_ORG, OPT_UNICODE, OPT_TYPO, OPT_OUT_DIR, OPT_DATE_FORMAT, OPT_EXPLAIN,
    OPT_DRY_RUN,
    OPT_PROB_BASE = 512 /* + bl_synth_corruption */
};

typedef struct synth_cli {
    cli_common co;
    bl_synth_opts o;
    const char *prefix, *outdir;
    int dry_run, parties_set, overlap_set, dedup_opt_set;
    /* probabilities set explicitly win over --level whatever the order */
    double explicit_p[BL_SYNTH_NCORRUPTIONS];
    int have_p[BL_SYNTH_NCORRUPTIONS];
} synth_cli;

static const struct option synth_longopts[] = {
    {"records", required_argument, NULL, 'n'},
    {"parties", required_argument, NULL, 'p'},
    {"overlap", required_argument, NULL, OPT_OVERLAP},
    {"dedup", no_argument, NULL, OPT_DEDUP},
    {"dup-share", required_argument, NULL, OPT_DUP_SHARE},
    {"max-dups", required_argument, NULL, OPT_MAX_DUPS},
    {"dup-dist", required_argument, NULL, OPT_DUP_DIST},
    {"corrupt-originals", no_argument, NULL, OPT_CORRUPT_ORG},
    {"unicode-share", required_argument, NULL, OPT_UNICODE},
    {"level", required_argument, NULL, 'l'},
    {"typo", required_argument, NULL, OPT_TYPO},
    {"typo-insert", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_TYPO_INSERT},
    {"typo-delete", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_TYPO_DELETE},
    {"typo-substitute", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_TYPO_SUBSTITUTE},
    {"typo-transpose", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_TYPO_TRANSPOSE},
    {"ocr", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_OCR},
    {"phonetic", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_PHONETIC},
    {"variant", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_VARIANT},
    {"nickname", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_VARIANT},
    {"swap-names", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_SWAP_NAMES},
    {"missing", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_MISSING},
    {"date-swap", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_DATE_SWAP},
    {"date-year", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_DATE_YEAR},
    {"email-change", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_EMAIL_CHANGE},
    {"phone-change", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_PHONE_CHANGE},
    {"accent", required_argument, NULL, OPT_PROB_BASE + BL_SYNTH_ACCENT},
    {"out-dir", required_argument, NULL, OPT_OUT_DIR},
    {"date-format", required_argument, NULL, OPT_DATE_FORMAT},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"seed", required_argument, NULL, 's'},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    CLI_LONGOPT_OUTPUT, CLI_LONGOPT_THREADS, CLI_LONGOPT_JSON, CLI_LONGOPT_QUIET,
    CLI_LONGOPT_VERBOSE, CLI_LONGOPT_VERSION, CLI_LONGOPT_HELP,
    {NULL, 0, NULL, 0},
};

static int prob_arg(const char *name, const char *arg, double *f)
{
    if (cli_parse_real(arg, 0.0, 1.0, 0, f))
        return cli_usage_error(CMD, "--%s '%s': probability must be a number in [0, 1]", name,
                               arg);
    return CLI_OPT_OK;
}

static int share_arg(const char *name, const char *arg, double *f)
{
    if (cli_parse_real(arg, 0.0, 1.0, 0, f))
        return cli_usage_error(CMD, "--%s '%s': must be a number in [0, 1]", name, arg);
    return CLI_OPT_OK;
}

static int named(const char *arg, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(arg, names[i])) {
            *out = i;
            return 0;
        }
    return -1;
}

/* the options that shape the data set */
static int dataset_option(int c, const char *arg, synth_cli *s)
{
    static const char *const dists[] = {"uniform", "poisson", "zipf", NULL};
    uint64_t u;
    int k;
    switch (c) {
    case 'n':
        if (cli_parse_u64(arg, 1, BL_SYNTH_MAX_RECORDS, &u))
            return cli_usage_error(CMD, "--records '%s': must be a whole number 1..%llu", arg,
                                   (unsigned long long)BL_SYNTH_MAX_RECORDS);
        s->o.records = u;
        return CLI_OPT_OK;
    case 'p':
        if (cli_parse_u64(arg, 2, BL_SYNTH_MAX_PARTIES, &u))
            return cli_usage_error(CMD, "--parties '%s': must be a whole number 2..%d", arg,
                                   BL_SYNTH_MAX_PARTIES);
        s->o.parties = (unsigned)u;
        s->parties_set = 1;
        return CLI_OPT_OK;
    case OPT_OVERLAP: s->overlap_set = 1; return share_arg("overlap", arg, &s->o.overlap);
    case OPT_DEDUP: s->o.dedup = 1; return CLI_OPT_OK;
    case OPT_DUP_SHARE: s->dedup_opt_set = 1; return share_arg("dup-share", arg, &s->o.dup_share);
    case OPT_MAX_DUPS:
        if (cli_parse_u64(arg, 1, BL_SYNTH_MAX_DUPS, &u))
            return cli_usage_error(CMD, "--max-dups '%s': must be a whole number 1..%d", arg,
                                   BL_SYNTH_MAX_DUPS);
        s->o.max_dups = (unsigned)u;
        s->dedup_opt_set = 1;
        return CLI_OPT_OK;
    case OPT_DUP_DIST:
        s->dedup_opt_set = 1;
        if (named(arg, dists, &k))
            return cli_usage_error(CMD, "--dup-dist '%s': must be uniform, poisson or zipf", arg);
        s->o.dup_dist = k == 0 ? BL_SYNTH_DUPS_UNIFORM : k == 1 ? BL_SYNTH_DUPS_POISSON
                                                                : BL_SYNTH_DUPS_ZIPF;
        return CLI_OPT_OK;
    case OPT_CORRUPT_ORG: s->o.corrupt_originals = 1; return CLI_OPT_OK;
    case OPT_UNICODE: return share_arg("unicode-share", arg, &s->o.unicode_share);
    case 's':
        if (cli_parse_u64(arg, 0, UINT64_MAX, &u))
            return cli_usage_error(CMD, "--seed '%s': must be a whole number 0..2^64-1", arg);
        s->o.seed = u;
        return CLI_OPT_OK;
    default: return CLI_OPT_UNHANDLED;
    }
}

/* corruption probabilities, output layout and the rest */
static int other_option(int c, const char *arg, synth_cli *s)
{
    static const char *const dates[] = {"iso", "febrl", "dmy", NULL};
    bl_error err = {0};
    double f;
    int k, rc;
    switch (c) {
    case 'l':
        if (bl_synth_set_level(&s->o, arg, &err) != BL_OK)
            return cli_usage_error(CMD, "--level '%s': must be none, low, medium, high or hard", arg);
        return CLI_OPT_OK;
    case OPT_TYPO:
        if ((rc = prob_arg("typo", arg, &f)) != CLI_OPT_OK)
            return rc;
        for (k = BL_SYNTH_TYPO_INSERT; k <= BL_SYNTH_TYPO_TRANSPOSE; k++) {
            s->explicit_p[k] = f;
            s->have_p[k] = 1;
        }
        return CLI_OPT_OK;
    case OPT_OUT_DIR: s->outdir = arg; return CLI_OPT_OK;
    case OPT_DATE_FORMAT:
        if (named(arg, dates, &k))
            return cli_usage_error(CMD, "--date-format '%s': must be iso, febrl or dmy", arg);
        s->o.date_format = k == 0 ? BL_SYNTH_DATE_ISO : k == 1 ? BL_SYNTH_DATE_FEBRL
                                                               : BL_SYNTH_DATE_DMY;
        return CLI_OPT_OK;
    case OPT_EXPLAIN: s->o.explain = 1; return CLI_OPT_OK;
    case OPT_DRY_RUN: s->dry_run = 1; return CLI_OPT_OK;
    case 't':
        /* -t was --threads before it meant --threshold everywhere */
        fprintf(stderr, "blindlink synth: warning: '-t N' for threads is deprecated, use "
                        "-j N (or --threads N)\n");
        return cli_common_option(CMD, 'j', arg, &s->co);
    default:
        if (c >= OPT_PROB_BASE && c < OPT_PROB_BASE + BL_SYNTH_NCORRUPTIONS) {
            k = c - OPT_PROB_BASE;
            if ((rc = prob_arg(bl_synth_corruption_name((bl_synth_corruption)k), arg, &f)))
                return rc;
            s->explicit_p[k] = f;
            s->have_p[k] = 1;
            return CLI_OPT_OK;
        }
        return cli_usage_error(CMD, "unknown option '%s'", cli_current_arg());
    }
}

static int synth_check(synth_cli *s)
{
    bl_error err = {0};
    for (int k = 0; k < BL_SYNTH_NCORRUPTIONS; k++)
        if (s->have_p[k])
            s->o.prob[k] = s->explicit_p[k];
    s->prefix = s->co.output;
    if (!s->prefix == !s->outdir)
        return cli_usage_error(CMD, "give exactly one of -o PREFIX or --out-dir DIR");
    if ((s->prefix && !*s->prefix) || (s->outdir && !*s->outdir))
        return cli_usage_error(CMD, "%s must not be empty",
                               s->prefix ? "-o PREFIX" : "--out-dir DIR");
    /* options of the other data set kind are refused rather than ignored */
    if (s->o.dedup && (s->parties_set || s->overlap_set))
        return cli_usage_error(CMD, "--parties/--overlap cannot be combined with --dedup");
    if (!s->o.dedup && s->dedup_opt_set)
        return cli_usage_error(CMD, "--dup-share/--max-dups/--dup-dist need --dedup");
    int to_stdout = s->prefix && !strcmp(s->prefix, "-");
    if (to_stdout && !s->o.dedup)
        return cli_usage_error(CMD, "-o - (stdout) works only with --dedup (one file)");
    if (to_stdout && s->co.json && !s->dry_run)
        return cli_usage_error(CMD, "--json writes to stdout: not with -o -");
    if (bl_synth_opts_check(&s->o, &err) != BL_OK)
        return cli_usage_error(CMD, "%s", err.msg);
    return CLI_OPT_OK;
}

static int synth_parse(int argc, char **argv, synth_cli *s)
{
    memset(s, 0, sizeof *s);
    bl_synth_opts_init(&s->o);
    s->co.output = NULL;
    cli_getopt_begin(argc, argv);
    int c;
    while ((c = getopt_long(argc, argv, ":n:p:l:o:s:t:j:qvVh", synth_longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OPT_EXIT;
        }
        int rc = cli_common_option(CMD, c, optarg, &s->co);
        if (rc == CLI_OPT_UNHANDLED)
            rc = dataset_option(c, optarg, s);
        if (rc == CLI_OPT_UNHANDLED)
            rc = other_option(c, optarg, s);
        if (rc != CLI_OPT_OK)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    int rc = synth_check(s);
    /* --out-dir names a folder to write into: made when it is not there
     * (docs/synth.md's example starts in an empty directory), once every
     * option has passed */
    if (rc == CLI_OPT_OK && s->outdir && mkdir(s->outdir, 0700) != 0 && errno != EEXIST)
        return cli_usage_error(CMD, "--out-dir %s: cannot create it: %s", s->outdir,
                               strerror(errno));
    return rc;
}

static char **output_paths(const synth_cli *s, unsigned nd)
{
    char **paths = calloc(nd, sizeof *paths);
    const char *base = s->outdir ? s->outdir : s->prefix;
    const char *stem = s->outdir ? (s->o.dedup ? "/dedup" : "/party") : "";
    for (unsigned d = 0; paths && d < nd; d++) {
        size_t n = strlen(base) + strlen(stem) + 32;
        if (!(paths[d] = malloc(n))) {
            for (unsigned e = 0; e < d; e++)
                free(paths[e]);
            free(paths);
            return NULL;
        }
        if (s->o.dedup && !strcmp(base, "-"))
            snprintf(paths[d], n, "-");
        else if (s->o.dedup)
            snprintf(paths[d], n, "%s%s.csv", base, stem);
        else
            snprintf(paths[d], n, "%s%s-%u.csv", base, stem, d + 1);
    }
    return paths;
}

static uint64_t true_pairs_per_party_pair(const bl_synth_opts *o)
{
    uint64_t common = (uint64_t)(o->overlap * (double)o->records + 0.5);
    return common > o->records ? o->records : common;
}

static void plan_json(const bl_synth *g, const bl_synth_opts *o, char **paths, int written)
{
    json_t *js = json_object(), *files = json_array(), *probs = json_object();
    unsigned nd = bl_synth_ndatasets(g);
    for (unsigned d = 0; d < nd; d++) {
        json_t *f = json_object();
        json_object_set_new(f, "path", json_string(paths[d]));
        json_object_set_new(f, "records", json_integer((json_int_t)bl_synth_size(g, d)));
        json_array_append_new(files, f);
    }
    json_object_set_new(js, "written", json_boolean(written));
    json_object_set_new(js, "kind", json_string(o->dedup ? "dedup" : "linkage"));
    json_object_set_new(js, "files", files);
    if (o->dedup) {
        json_object_set_new(js, "originals", json_integer((json_int_t)o->records));
        json_object_set_new(js, "duplicates",
                            json_integer((json_int_t)(bl_synth_size(g, 0) - o->records)));
    } else {
        uint64_t tp = true_pairs_per_party_pair(o);
        json_object_set_new(js, "persons_in_every_party", json_integer((json_int_t)tp));
        json_object_set_new(js, "true_pairs_per_party_pair", json_integer((json_int_t)tp));
    }
    json_object_set_new(js, "seed", json_integer((json_int_t)o->seed));
    cli_json_set_real(js, "unicode_share", o->unicode_share);
    json_object_set_new(js, "corrupt_originals", json_boolean(o->corrupt_originals));
    for (int k = 0; k < BL_SYNTH_NCORRUPTIONS; k++)
        cli_json_set_real(probs, bl_synth_corruption_name((bl_synth_corruption)k), o->prob[k]);
    json_object_set_new(js, "probabilities", probs);
    bl_error err = {0};
    if (cli_json_write(js, "-", &err) != BL_OK)
        fprintf(stderr, "blindlink synth: %s\n", err.msg);
    json_decref(js);
}

static int synth_run(const synth_cli *s, bl_synth *g, char **paths)
{
    unsigned nd = bl_synth_ndatasets(g);
    if (s->dry_run) {
        if (s->co.json)
            plan_json(g, &s->o, paths, 0);
        else
            plan(g, &s->o, paths);
        return CLI_EXIT_OK;
    }
    uint64_t total = 0;
    for (unsigned d = 0; d < nd; d++)
        total += bl_synth_size(g, d);
    bl_error err = {0};
    prog_ctx pc = {s->co.quiet ? NULL : bl_progress_new("synth", total)};
    bl_status st = bl_synth_write_all(g, (const char *const *)paths, s->co.threads,
                                      pc.bar ? on_progress : NULL, &pc, &err);
    bl_progress_finish(pc.bar);
    if (st != BL_OK)
        return cli_fail(CMD, &err);
    if (s->co.json)
        plan_json(g, &s->o, paths, 1);
    return CLI_EXIT_OK;
}

int cmd_synth(int argc, char **argv)
{
    synth_cli s;
    int rc = synth_parse(argc, argv, &s);
    if (rc != CLI_OPT_OK)
        return rc == CLI_OPT_EXIT ? CLI_EXIT_OK : rc;
    bl_error err = {0};
    bl_synth *g = NULL;
    if (bl_synth_new(&s.o, &g, &err) != BL_OK)
        return cli_fail(CMD, &err);
    unsigned nd = bl_synth_ndatasets(g);
    char **paths = output_paths(&s, nd);
    if (!paths) {
        bl_synth_free(g);
        fprintf(stderr, "blindlink synth: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    /* -o PREFIX in a folder that does not exist: refused before any record
     * is made, like every command's outputs (exit 2) */
    cli_path outs[1] = {{"-o", paths[0]}};
    rc = s.prefix ? cli_check_outputs(CMD, outs, 1, NULL, 0) : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK)
        rc = synth_run(&s, g, paths);
    for (unsigned d = 0; d < nd; d++)
        free(paths[d]);
    free(paths);
    bl_synth_free(g);
    return rc;
}
