/* cli/cmd_synth.c - `blindlink synth`: generate synthetic person records with
 * known ground truth (linkage sets for N parties or a deduplication set),
 * corrupted by a configurable error model. Option parsing and help only;
 * the generator is lib/synth*.c. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
"  -t, --threads N        worker threads, or auto for all cores [auto];\n"
"                         the output does not depend on it\n"
"      --dry-run          print the plan (files, sizes, true pairs,\n"
"                         probabilities) and write nothing\n"
"  -h, --help             this help\n"
"\n"
"Examples:\n"
"  blindlink synth -n 100000 --overlap 0.8 --level low -o data/link\n"
"  blindlink synth --dedup -n 5000 --max-dups 5 --dup-dist zipf -o dd\n"
"  blindlink synth -p 5 -n 3000 --level high --unicode-share 0.2 --out-dir out\n"
"\n"
"Exit codes: 0 ok, 1 runtime failure, 2 usage error.\n");
}

enum {
    OPT_OVERLAP = 256, OPT_DEDUP, OPT_DUP_SHARE, OPT_MAX_DUPS, OPT_DUP_DIST,
    OPT_CORRUPT_ORG, OPT_UNICODE, OPT_TYPO, OPT_OUT_DIR, OPT_DATE_FORMAT, OPT_EXPLAIN,
    OPT_DRY_RUN,
    OPT_PROB_BASE = 512 /* + bl_synth_corruption */
};

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_unit(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0.0 || v > 1.0)
        return -1;
    *out = v;
    return 0;
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

int cmd_synth(int argc, char **argv)
{
    static const struct option longopts[] = {
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
        {"output", required_argument, NULL, 'o'},
        {"out-dir", required_argument, NULL, OPT_OUT_DIR},
        {"date-format", required_argument, NULL, OPT_DATE_FORMAT},
        {"explain", no_argument, NULL, OPT_EXPLAIN},
        {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bl_synth_opts o;
    bl_synth_opts_init(&o);
    bl_error err = {0};
    const char *prefix = NULL, *outdir = NULL;
    int threads = 0, dry_run = 0, parties_set = 0, overlap_set = 0, dedup_opt_set = 0;
    /* probabilities set explicitly win over --level whatever the order */
    double explicit_p[BL_SYNTH_NCORRUPTIONS];
    int have_p[BL_SYNTH_NCORRUPTIONS] = {0};
    uint64_t u;
    double f;

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":n:p:l:o:s:t:h", longopts, NULL)) != -1) {
        const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        switch (c) {
        case 'n':
            if (parse_u64(optarg, &u) || u < 1 || u > BL_SYNTH_MAX_RECORDS)
                return cli_usage_error(CMD, "--records '%s': must be a whole number 1..%llu",
                                       optarg, (unsigned long long)BL_SYNTH_MAX_RECORDS);
            o.records = u;
            break;
        case 'p':
            if (parse_u64(optarg, &u) || u < 2 || u > BL_SYNTH_MAX_PARTIES)
                return cli_usage_error(CMD, "--parties '%s': must be a whole number 2..%d",
                                       optarg, BL_SYNTH_MAX_PARTIES);
            o.parties = (unsigned)u;
            parties_set = 1;
            break;
        case OPT_OVERLAP:
            if (parse_unit(optarg, &f))
                return cli_usage_error(CMD, "--overlap '%s': must be a number in [0, 1]", optarg);
            o.overlap = f;
            overlap_set = 1;
            break;
        case OPT_DEDUP: o.dedup = 1; break;
        case OPT_DUP_SHARE:
            if (parse_unit(optarg, &f))
                return cli_usage_error(CMD, "--dup-share '%s': must be a number in [0, 1]",
                                       optarg);
            o.dup_share = f;
            dedup_opt_set = 1;
            break;
        case OPT_MAX_DUPS:
            if (parse_u64(optarg, &u) || u < 1 || u > BL_SYNTH_MAX_DUPS)
                return cli_usage_error(CMD, "--max-dups '%s': must be a whole number 1..%d",
                                       optarg, BL_SYNTH_MAX_DUPS);
            o.max_dups = (unsigned)u;
            dedup_opt_set = 1;
            break;
        case OPT_DUP_DIST:
            dedup_opt_set = 1;
            if (!strcmp(optarg, "uniform"))
                o.dup_dist = BL_SYNTH_DUPS_UNIFORM;
            else if (!strcmp(optarg, "poisson"))
                o.dup_dist = BL_SYNTH_DUPS_POISSON;
            else if (!strcmp(optarg, "zipf"))
                o.dup_dist = BL_SYNTH_DUPS_ZIPF;
            else
                return cli_usage_error(CMD, "--dup-dist '%s': must be uniform, poisson or zipf",
                                       optarg);
            break;
        case OPT_CORRUPT_ORG: o.corrupt_originals = 1; break;
        case OPT_UNICODE:
            if (parse_unit(optarg, &f))
                return cli_usage_error(CMD, "--unicode-share '%s': must be a number in [0, 1]",
                                       optarg);
            o.unicode_share = f;
            break;
        case 'l':
            if (bl_synth_set_level(&o, optarg, &err) != BL_OK)
                return cli_usage_error(CMD, "--level '%s': must be none, low, medium, high or hard",
                                       optarg);
            break;
        case OPT_TYPO:
            if (parse_unit(optarg, &f))
                return cli_usage_error(CMD, "--typo '%s': probability must be a number in [0, 1]",
                                       optarg);
            for (int k = BL_SYNTH_TYPO_INSERT; k <= BL_SYNTH_TYPO_TRANSPOSE; k++) {
                explicit_p[k] = f;
                have_p[k] = 1;
            }
            break;
        case 'o': prefix = optarg; break;
        case OPT_OUT_DIR: outdir = optarg; break;
        case OPT_DATE_FORMAT:
            if (!strcmp(optarg, "iso"))
                o.date_format = BL_SYNTH_DATE_ISO;
            else if (!strcmp(optarg, "febrl"))
                o.date_format = BL_SYNTH_DATE_FEBRL;
            else if (!strcmp(optarg, "dmy"))
                o.date_format = BL_SYNTH_DATE_DMY;
            else
                return cli_usage_error(CMD, "--date-format '%s': must be iso, febrl or dmy",
                                       optarg);
            break;
        case OPT_EXPLAIN: o.explain = 1; break;
        case 's':
            if (parse_u64(optarg, &u))
                return cli_usage_error(CMD, "--seed '%s': must be a whole number 0..2^64-1",
                                       optarg);
            o.seed = u;
            break;
        case 't':
            threads = cli_parse_threads(optarg);
            if (threads < 0)
                return cli_usage_error(CMD, "--threads '%s': must be auto or 1..1024", optarg);
            break;
        case OPT_DRY_RUN: dry_run = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        case ':': return cli_usage_error(CMD, "option '%s' needs a value", name);
        case '?': return cli_usage_error(CMD, "unknown option '%s'", name);
        default:
            if (c >= OPT_PROB_BASE && c < OPT_PROB_BASE + BL_SYNTH_NCORRUPTIONS) {
                int k = c - OPT_PROB_BASE;
                if (parse_unit(optarg, &f))
                    return cli_usage_error(CMD,
                                           "--%s '%s': probability must be a number in [0, 1]",
                                           bl_synth_corruption_name((bl_synth_corruption)k),
                                           optarg);
                explicit_p[k] = f;
                have_p[k] = 1;
                break;
            }
            return cli_usage_error(CMD, "unknown option '%s'", name);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    for (int k = 0; k < BL_SYNTH_NCORRUPTIONS; k++)
        if (have_p[k])
            o.prob[k] = explicit_p[k];
    if (!prefix == !outdir)
        return cli_usage_error(CMD, "give exactly one of -o PREFIX or --out-dir DIR");
    /* options of the other data set kind are refused rather than ignored */
    if (o.dedup && (parties_set || overlap_set))
        return cli_usage_error(CMD, "--parties/--overlap cannot be combined with --dedup");
    if (!o.dedup && dedup_opt_set)
        return cli_usage_error(CMD, "--dup-share/--max-dups/--dup-dist need --dedup");
    if (prefix && !strcmp(prefix, "-") && !o.dedup)
        return cli_usage_error(CMD, "-o - (stdout) works only with --dedup (one file)");
    if (bl_synth_opts_check(&o, &err) != BL_OK)
        return cli_usage_error(CMD, "%s", err.msg);

    bl_synth *g = NULL;
    if (bl_synth_new(&o, &g, &err) != BL_OK)
        return cli_fail(CMD, &err);
    unsigned nd = bl_synth_ndatasets(g);
    char **paths = calloc(nd, sizeof *paths);
    int rc = CLI_EXIT_OK;
    if (!paths) {
        bl_synth_free(g);
        fprintf(stderr, "blindlink synth: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    for (unsigned d = 0; d < nd; d++) {
        const char *base = outdir ? outdir : prefix;
        const char *stem = outdir ? (o.dedup ? "/dedup" : "/party") : "";
        size_t n = strlen(base) + strlen(stem) + 32;
        paths[d] = malloc(n);
        if (!paths[d]) {
            rc = CLI_EXIT_FAIL;
            break;
        }
        if (o.dedup && !strcmp(base, "-"))
            snprintf(paths[d], n, "-");
        else if (o.dedup)
            snprintf(paths[d], n, "%s%s.csv", base, stem);
        else
            snprintf(paths[d], n, "%s%s-%u.csv", base, stem, d + 1);
    }
    if (rc == CLI_EXIT_OK) {
        if (dry_run) {
            plan(g, &o, paths);
        } else {
            uint64_t total = 0;
            for (unsigned d = 0; d < nd; d++)
                total += bl_synth_size(g, d);
            prog_ctx pc = {bl_progress_new("synth", total)};
            bl_status st = bl_synth_write_all(g, (const char *const *)paths, threads,
                                              on_progress, &pc, &err);
            bl_progress_finish(pc.bar);
            if (st != BL_OK)
                rc = cli_fail(CMD, &err);
        }
    } else {
        fprintf(stderr, "blindlink synth: out of memory\n");
    }
    for (unsigned d = 0; d < nd; d++)
        free(paths[d]);
    free(paths);
    bl_synth_free(g);
    return rc;
}
