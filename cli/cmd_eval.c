/* cli/cmd_eval.c - `blindlink eval`: score matches (or candidates) written by
 * `blindlink match` against ground truth - FEBRL rec-N-org/rec-N-dup-K ids,
 * a shared id column, or a file of true pairs - printing precision, recall
 * and F1 (text or JSON), a sweep over thresholds, and a histogram of true
 * vs false candidate similarities (text and SVG) for choosing a threshold. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <blindlink/csv.h>
#include <blindlink/eval.h>
#include <blindlink/model.h>
#include <blindlink/io.h>
#include <blindlink/match.h>
#include "cli.h"

#define CMD "eval"
#define MAX_DATA 64

static void usage(FILE *fp)
{
    fputs(
        "Usage: blindlink eval [options] MATCHES.csv\n"
        "\n"
        "Measure linkage quality of a pairs or candidates CSV from 'blindlink match'.\n"
        "\n"
        "Ground truth (pick one):\n"
        "      --truth febrl        ids follow FEBRL's rec-N-org / rec-N-dup-K: same N =\n"
        "                           same person (default when ids look like that)\n"
        "      --truth id           equal ids = same entity (shared id column)\n"
        "      --truth FILE         CSV of true pairs: a_index,b_index, or a_id,b_id\n"
        "                           (record ids, looked up in --data or in the ids of\n"
        "                           MATCHES); a_dataset,b_dataset beyond two datasets\n"
        "Where the ids come from:\n"
        "      --data FILE          original data CSV, once per dataset in match order;\n"
        "                           gives every record's id, hence the number of true pairs\n"
        "      --id-column NAME     id column of --data files (default: the first column)\n"
        "      (without --data the a_id/b_id columns of MATCHES are used; recall then\n"
        "       needs --true-pairs N)\n"
        "      --true-pairs N       number of true pairs (overrides the count from --data)\n"
        "\n"
        "  -t, --threshold T        only rows with score >= T count as matches\n"
        "      --sweep              table of precision/recall/F1 over thresholds\n"
        "      --thresholds LO:HI:STEP   sweep range (default 0.5:1:0.025)\n"
        "      --solver greedy|none sweep: re-solve 1:1 at each threshold (default greedy)\n"
        "                           or count every candidate above it (none)\n"
        "      --histogram          text histogram of true vs false candidate scores\n"
        "      --svg FILE           the same histogram as an SVG image\n"
        "      --bins N             histogram bins (default 25)\n"
        "      --weights            pairs from match --model: histogram of the match\n"
        "                           weights of true vs false pairs\n"
        "      --weights-svg FILE   the same as an SVG image\n"
        "      --model FILE --mu-svg FILE   the model's m/u chart per field (SVG)\n"
        "      --json               machine-readable output\n"
        "  -o, --output FILE        report destination (default stdout)\n"
        "  -h, --help               this help\n"
        "\n"
        "Exit status: 0 ok, 1 runtime failure, 2 usage or input error.\n",
        fp);
}

enum { OPT_TRUTH = 1000, OPT_DATA, OPT_IDCOL, OPT_TP, OPT_SWEEP, OPT_RANGE, OPT_SOLVER, OPT_HIST,
       OPT_SVG, OPT_BINS, OPT_JSON, OPT_WEIGHTS, OPT_WSVG, OPT_MODEL, OPT_MUSVG };

typedef struct idlist {
    char **v;
    size_t n;
} idlist;

static void idlist_free(idlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

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
        size_t f;
        for (f = 0; f < row.nfields && strcmp(row.fields[f], col) != 0; f++)
            ;
        if (f == row.nfields)
            st = bl_error_set(err, BL_EINPUT, "%s:%llu: no column named '%s'", path,
                              (unsigned long long)row.line, col);
        idx = f;
    }
    size_t cap = 0;
    while (!st && (st = bl_csv_next(r, &row, err)) == BL_OK) {
        if (idx >= row.nfields) {
            st = bl_error_set(err, BL_EINPUT, "%s:%llu: row has no field %zu", path,
                              (unsigned long long)row.line, idx + 1);
            break;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 1024;
            if (cap > 200000000) {
                st = bl_error_set(err, BL_ELIMIT, "%s: too many rows", path);
                break;
            }
            char **nv = realloc(out->v, cap * sizeof *nv);
            if (!nv) {
                st = bl_error_set(err, BL_ENOMEM, "out of memory");
                break;
            }
            out->v = nv;
        }
        out->v[out->n] = strdup(row.fields[idx]);
        if (!out->v[out->n]) {
            st = bl_error_set(err, BL_ENOMEM, "out of memory");
            break;
        }
        out->n++;
    }
    bl_csv_free(r);
    return st == BL_EOF ? BL_OK : st;
}

static void put_num(FILE *fp, double v, int json)
{
    if (isnan(v))
        fputs(json ? "null" : "n/a", fp);
    else
        fprintf(fp, "%.6f", v);
}

static int cmp_score_desc(const void *x, const void *y)
{
    const bl_candidate *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->dset[0] != b->dset[0])
        return a->dset[0] < b->dset[0] ? -1 : 1;
    if (a->rec[0] != b->rec[0])
        return a->rec[0] < b->rec[0] ? -1 : 1;
    if (a->dset[1] != b->dset[1])
        return a->dset[1] < b->dset[1] ? -1 : 1;
    return a->rec[1] < b->rec[1] ? -1 : (a->rec[1] > b->rec[1]);
}

int cmd_eval(int argc, char **argv)
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
        {"weights", no_argument, NULL, OPT_WEIGHTS},
        {"weights-svg", required_argument, NULL, OPT_WSVG},
        {"model", required_argument, NULL, OPT_MODEL},
        {"mu-svg", required_argument, NULL, OPT_MUSVG},
        {"bins", required_argument, NULL, OPT_BINS},
        {"json", no_argument, NULL, OPT_JSON},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *truth = NULL, *idcol = NULL, *svg = NULL, *output = "-";
    const char *wsvg = NULL, *modelp = NULL, *musvg = NULL; /* model hooks (lib/model/weights.c) */
    int weights = 0;
    const char *data[MAX_DATA];
    size_t ndata = 0;
    unsigned long long true_pairs = 0;
    double threshold = NAN, lo = 0.5, hi = 1.0, step = 0.025;
    int sweep = 0, hist = 0, json = 0, solve = 1;
    unsigned bins = 25;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:o:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case OPT_TRUTH: truth = optarg; break;
        case OPT_DATA:
            if (ndata == MAX_DATA)
                return cli_usage_error(CMD, "too many --data files");
            data[ndata++] = optarg;
            break;
        case OPT_IDCOL: idcol = optarg; break;
        case OPT_TP:
            errno = 0;
            true_pairs = strtoull(optarg, &end, 10);
            if (errno || *end || !*optarg || *optarg == '-' || true_pairs == 0)
                return cli_usage_error(CMD, "--true-pairs must be a positive integer, got '%s'", optarg);
            break;
        case 't':
            threshold = strtod(optarg, &end);
            if (*end || !*optarg || !(threshold > 0.0 && threshold <= 1.0))
                return cli_usage_error(CMD, "--threshold must be in (0, 1], got '%s'", optarg);
            break;
        case OPT_SWEEP: sweep = 1; break;
        case OPT_RANGE:
            if (sscanf(optarg, "%lf:%lf:%lf", &lo, &hi, &step) != 3 || !(lo > 0 && lo <= hi && hi <= 1) ||
                !(step > 0) || (hi - lo) / step > 10000)
                return cli_usage_error(CMD, "--thresholds must be LO:HI:STEP with 0 < LO <= HI <= 1, "
                                            "STEP > 0, got '%s'", optarg);
            break;
        case OPT_SOLVER:
            if (strcmp(optarg, "greedy") && strcmp(optarg, "none"))
                return cli_usage_error(CMD, "--solver must be greedy or none, got '%s'", optarg);
            solve = strcmp(optarg, "greedy") == 0;
            break;
        case OPT_HIST: hist = 1; break;
        case OPT_SVG: svg = optarg; break;
        case OPT_WEIGHTS: weights = 1; break;
        case OPT_WSVG: wsvg = optarg; break;
        case OPT_MODEL: modelp = optarg; break;
        case OPT_MUSVG: musvg = optarg; break;
        case OPT_BINS:
            bins = (unsigned)strtoul(optarg, &end, 10);
            if (*end || bins == 0 || bins > 1000)
                return cli_usage_error(CMD, "--bins must be in 1..1000, got '%s'", optarg);
            break;
        case OPT_JSON: json = 1; break;
        case 'o': output = optarg; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: return cli_usage_error(CMD, "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(CMD, "expected exactly one MATCHES file");
    const char *mpath = argv[optind];

    int rc = CLI_EXIT_OK;
    bl_error err = {0};
    bl_matches m = {0};
    bl_eval_truth *tr = NULL;
    idlist ids[MAX_DATA] = {{0}};
    char ***idv = NULL;
    size_t *counts = NULL;
    bl_candidate *sel = NULL;
    bl_histogram h = {0};
    bl_ofile *of = NULL;
    bl_status st = bl_matches_read(mpath, 0, &m, &err);
    if (st)
        goto fail;
    size_t nsets = m.nsets > ndata ? m.nsets : ndata;
    if (ndata && ndata < m.nsets) {
        rc = cli_usage_error(CMD, "%s uses %u datasets but %zu --data files were given", mpath,
                             m.nsets, ndata);
        goto done;
    }
    int truth_file = truth && strcmp(truth, "febrl") && strcmp(truth, "id");
    {
        idv = calloc(nsets, sizeof *idv);
        counts = calloc(nsets, sizeof *counts);
        if (!idv || !counts) {
            st = bl_error_set(&err, BL_ENOMEM, "out of memory");
            goto fail;
        }
        if (ndata) {
            for (size_t d = 0; d < ndata; d++) {
                st = read_ids(data[d], idcol, &ids[d], &err);
                if (st)
                    goto fail;
                idv[d] = ids[d].v;
                counts[d] = ids[d].n;
            }
            for (size_t i = 0; i < m.n; i++)
                for (int s = 0; s < 2; s++)
                    if (m.pairs[i].rec[s] >= counts[m.pairs[i].dset[s]]) {
                        st = bl_error_set(&err, BL_EINPUT,
                                          "%s row %zu: record %u of dataset %u is beyond the %zu "
                                          "rows of %s", mpath, i + 2, m.pairs[i].rec[s],
                                          m.pairs[i].dset[s], counts[m.pairs[i].dset[s]],
                                          data[m.pairs[i].dset[s]]);
                        goto fail;
                    }
        } else if (m.ids) {
            /* ids of the matched records only */
            for (size_t i = 0; i < m.n; i++)
                for (int s = 0; s < 2; s++)
                    if (m.pairs[i].rec[s] + (size_t)1 > counts[m.pairs[i].dset[s]])
                        counts[m.pairs[i].dset[s]] = m.pairs[i].rec[s] + (size_t)1;
            for (size_t d = 0; d < nsets; d++) {
                idv[d] = calloc(counts[d] ? counts[d] : 1, sizeof(char *));
                if (!idv[d]) {
                    st = bl_error_set(&err, BL_ENOMEM, "out of memory");
                    goto fail;
                }
            }
            for (size_t i = 0; i < m.n; i++)
                for (int s = 0; s < 2; s++)
                    idv[m.pairs[i].dset[s]][m.pairs[i].rec[s]] = m.ids[2 * i + s];
        } else if (!truth_file) {
            rc = cli_usage_error(CMD, "%s has no a_id/b_id columns: give --data files or "
                                      "--truth FILE", mpath);
            goto done;
        }
    }
    if (truth_file) {
        /* index-based, or id-based against the ids of --data (complete) or
         * of the matches (matched records only) */
        st = bl_eval_truth_read(truth, (ndata || m.ids) ? (const char *const *const *)idv : NULL,
                                counts, nsets, ndata > 0, &tr, &err);
        if (st)
            goto fail;
    } else {
        bl_eval_idmode mode = BL_EVAL_SAME_ID;
        if (truth ? strcmp(truth, "febrl") == 0 : 0)
            mode = BL_EVAL_FEBRL;
        if (!truth) { /* auto: FEBRL when the first id looks like one */
            const char *first = NULL;
            for (size_t d = 0; d < nsets && !first; d++)
                for (size_t r = 0; r < counts[d] && !first; r++)
                    first = idv[d][r];
            if (first && strncmp(first, "rec-", 4) == 0)
                mode = BL_EVAL_FEBRL;
        }
        st = bl_eval_truth_from_ids((const char *const *const *)idv, counts, nsets, mode, &tr, &err);
        if (st)
            goto fail;
        if (!ndata && !true_pairs)
            true_pairs = 0; /* unknown: recall n/a */
    }
    uint64_t ntrue = true_pairs ? true_pairs : ((ndata || truth_file) ? bl_eval_truth_pairs(tr) : 0);
    if (!ntrue && !true_pairs && !ndata && !truth_file)
        ntrue = 0;

    /* selected rows */
    sel = malloc((m.n ? m.n : 1) * sizeof *sel);
    if (!sel) {
        st = bl_error_set(&err, BL_ENOMEM, "out of memory");
        goto fail;
    }
    size_t nsel = 0;
    for (size_t i = 0; i < m.n; i++)
        if (isnan(threshold) || (!isnan(m.pairs[i].score) && m.pairs[i].score >= threshold))
            sel[nsel++] = m.pairs[i];
    if (!isnan(threshold) && !m.has_score) {
        rc = cli_usage_error(CMD, "--threshold needs a score column in %s", mpath);
        goto done;
    }
    bl_eval_result res = bl_eval_score(tr, sel, nsel, ntrue ? ntrue : UINT64_MAX);
    if (!ntrue) {
        res.true_pairs = 0;
        res.recall = NAN;
        res.f1 = NAN;
    }

    st = bl_ofile_open(output, &of, &err);
    if (st)
        goto fail;
    FILE *fp = bl_ofile_stream(of);
    if (json) {
        json_t *js = json_string(mpath);
        char *jq = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        fprintf(fp, "{\"matches\": %s, \"predicted\": %llu, \"true_positives\": %llu, "
                    "\"true_pairs\": ", jq ? jq : "null", (unsigned long long)res.predicted,
                (unsigned long long)res.true_positives);
        free(jq);
        json_decref(js);
        if (res.true_pairs)
            fprintf(fp, "%llu", (unsigned long long)res.true_pairs);
        else
            fputs("null", fp);
        fputs(", \"precision\": ", fp);
        put_num(fp, res.precision, 1);
        fputs(", \"recall\": ", fp);
        put_num(fp, res.recall, 1);
        fputs(", \"f1\": ", fp);
        put_num(fp, res.f1, 1);
    } else {
        fprintf(fp, "matches          %s\n", mpath);
        fprintf(fp, "predicted pairs  %llu\n", (unsigned long long)res.predicted);
        fprintf(fp, "true positives   %llu\n", (unsigned long long)res.true_positives);
        fprintf(fp, "false positives  %llu\n",
                (unsigned long long)(res.predicted - res.true_positives));
        if (res.true_pairs)
            fprintf(fp, "true pairs       %llu\nfalse negatives  %llu\n",
                    (unsigned long long)res.true_pairs,
                    (unsigned long long)(res.true_pairs - res.true_positives));
        fputs("precision        ", fp);
        put_num(fp, res.precision, 0);
        fputs("\nrecall           ", fp);
        put_num(fp, res.recall, 0);
        fputs("\nF1               ", fp);
        put_num(fp, res.f1, 0);
        fputc('\n', fp);
    }
    if (sweep) {
        if (!m.has_score) {
            bl_ofile_abort(of);
            of = NULL;
            rc = cli_usage_error(CMD, "--sweep needs a score column in %s", mpath);
            goto done;
        }
        qsort(m.pairs, m.n, sizeof *m.pairs, cmp_score_desc);
        if (json)
            fputs(", \"sweep\": [", fp);
        else
            fprintf(fp, "\n%-10s %10s %10s %10s %10s %10s\n", "threshold", "predicted", "true_pos",
                    "precision", "recall", "F1");
        int first = 1;
        for (int i = 0; lo + i * step <= hi + 1e-12; i++) {
            double t = lo + i * step;
            size_t k = 0;
            while (k < m.n && m.pairs[k].score >= t)
                k++;
            bl_eval_result r;
            if (solve) {
                bl_groups *g = NULL;
                st = bl_match_solve_greedy(m.pairs, k, &g, &err);
                if (st)
                    goto fail;
                size_t np = 0;
                for (size_t q = 0; q < bl_groups_count(g); q++) {
                    const uint32_t *d, *rr;
                    size_t gs = bl_groups_get(g, q, &d, &rr);
                    for (size_t x = 0; x < gs; x++)
                        for (size_t y = x + 1; y < gs; y++)
                            if (d[x] != d[y] && np < m.n)
                                sel[np++] = (bl_candidate){0, {d[x], d[y]}, {rr[x], rr[y]}};
                }
                bl_groups_free(g);
                r = bl_eval_score(tr, sel, np, ntrue ? ntrue : UINT64_MAX);
            } else {
                r = bl_eval_score(tr, m.pairs, k, ntrue ? ntrue : UINT64_MAX);
            }
            if (!ntrue) {
                r.recall = NAN;
                r.f1 = NAN;
            }
            if (json) {
                fprintf(fp, "%s{\"threshold\": %.6g, \"predicted\": %llu, \"true_positives\": %llu, "
                            "\"precision\": ", first ? "" : ", ", t, (unsigned long long)r.predicted,
                        (unsigned long long)r.true_positives);
                put_num(fp, r.precision, 1);
                fputs(", \"recall\": ", fp);
                put_num(fp, r.recall, 1);
                fputs(", \"f1\": ", fp);
                put_num(fp, r.f1, 1);
                fputc('}', fp);
            } else {
                fprintf(fp, "%-10.4f %10llu %10llu ", t, (unsigned long long)r.predicted,
                        (unsigned long long)r.true_positives);
                put_num(fp, r.precision, 0);
                fputs("   ", fp);
                put_num(fp, r.recall, 0);
                fputs("   ", fp);
                put_num(fp, r.f1, 0);
                fputc('\n', fp);
            }
            first = 0;
        }
        if (json)
            fputc(']', fp);
    }
    if (hist || svg) {
        if (!m.has_score) {
            bl_ofile_abort(of);
            of = NULL;
            rc = cli_usage_error(CMD, "--histogram/--svg need a score column in %s", mpath);
            goto done;
        }
        double mn = 1.0;
        for (size_t i = 0; i < m.n; i++)
            if (!isnan(m.pairs[i].score) && m.pairs[i].score < mn)
                mn = m.pairs[i].score;
        mn = floor(mn * 20) / 20;
        if (mn >= 1.0)
            mn = 0.95;
        st = bl_histogram_build(tr, m.pairs, m.n, mn, bins, &h, &err);
        if (st)
            goto fail;
        if (hist && !json) {
            fputc('\n', fp);
            bl_histogram_print(&h, fp);
        }
        if (svg) {
            st = bl_histogram_write_svg(&h, svg, &err);
            if (st)
                goto fail;
        }
    }
    if ((weights || wsvg) && !json) {
        double *w = NULL;
        st = bl_model_read_weights(mpath, m.n, &w, &err);
        if (st == BL_OK)
            st = bl_model_weight_report(tr, m.pairs, w, m.n, weights ? fp : NULL, wsvg, &err);
        free(w);
        if (st)
            goto fail;
    }
    if (musvg) {
        bl_model *mm = NULL;
        st = modelp ? bl_model_read(modelp, &mm, &err) : bl_error_set(&err, BL_EINVAL, "--mu-svg needs --model FILE");
        if (st == BL_OK)
            st = bl_model_mu_svg(mm, musvg, &err);
        bl_model_free(mm);
        if (st)
            goto fail;
    }
    if (json)
        fputs("}\n", fp);
    st = bl_ofile_commit(of, &err);
    of = NULL;
    if (st)
        goto fail;
    goto done;
fail:
    rc = cli_fail(CMD, &err);
done:
    bl_ofile_abort(of);
    bl_histogram_free(&h);
    free(sel);
    bl_eval_truth_free(tr);
    if (idv && !ndata)
        for (size_t d = 0; d < nsets; d++)
            free(idv[d]);
    free(idv);
    free(counts);
    for (size_t d = 0; d < ndata; d++)
        idlist_free(&ids[d]);
    bl_matches_free(&m);
    return rc;
}
