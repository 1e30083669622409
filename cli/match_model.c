/* cli/match_model.c - the model path of `blindlink match --model auto|FILE`:
 * read field-level inputs, load or train a Fellegi-Sunter model, score and
 * resolve the candidates, write the pairs CSV, optionally save the trained
 * model (--save-model) and print the summary (-v text, --json JSON).
 * cmd_match.c parses the options and calls cli_match_fs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/clk.h>
#include <blindlink/io.h>
#include <blindlink/model.h>
#include "cli.h"

#define CMD "match"
#define MAX_INPUTS 64

typedef struct fs_run {
    bl_clkset *sets[MAX_INPUTS];
    size_t n;
    bl_model *m;
    bl_candidate *c;
    bl_scored_pair *sc, *res;
    size_t nc, nres, nsc; /* nsc: the scored pairs (the decision's bound leaves some out) */
    double t0, t_block, t_train, t_score;
    bl_error err;
} fs_run;

static void fs_run_free(fs_run *r)
{
    free(r->c);
    free(r->sc);
    free(r->res);
    bl_model_free(r->m);
    for (size_t i = 0; i < r->n; i++)
        bl_clkset_free(r->sets[i]);
}

/* the library's "cannot read model" gives no reason; a missing or
 * unreadable file is the usual one, so say it with strerror first */
static int check_model_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp) {
        fclose(fp);
        return CLI_EXIT_OK;
    }
    bl_error err = {0};
    bl_error_set(&err, BL_EINVAL, "cannot read model '%s': %s", path, strerror(errno));
    return cli_fail(CMD, &err);
}

/* read the inputs and check they are alike; the exit code on failure
 * (message printed) */
static int fs_read(fs_run *r, const cli_fs_opts *o)
{
    if (bl_clkset_read_many(o->paths, o->n, o->threads, r->sets, NULL, &r->err) != BL_OK)
        return cli_fail_input(CMD, &r->err);
    r->n = o->n;
    /* one sentence naming both files when the first is field-level and a
     * later one is not (the library's check words it for one file) */
    for (size_t i = 1; cli_is_field_level(r->sets[0]) && i < r->n; i++)
        if (!cli_is_field_level(r->sets[i])) {
            fprintf(stderr, "blindlink match: %s is field-level but %s is record-level: --model "
                            "needs field-level encodings of every input (encode --layout fields "
                            "--format bin)\n", o->paths[0], o->paths[i]);
            return CLI_EXIT_USAGE;
        }
    if (bl_model_check_inputs((const bl_clkset *const *)r->sets, o->paths, r->n, &r->err) != BL_OK)
        return cli_fail(CMD, &r->err);
    return CLI_EXIT_OK;
}

/* load or train, score, resolve */
static bl_status fs_link(fs_run *r, const cli_fs_opts *o)
{
    const bl_clkset *const *sets = (const bl_clkset *const *)r->sets;
    /* a decision scores the pairs in the blocks' order (records in cache);
     * -f candidates writes them in anonlink's */
    bl_model_link_opts lo = {.threads = o->threads, .min_probability = o->min_p, .lsh = o->lsh,
                              .max_candidates = o->max_candidates,
                              .order = o->candidates ? BL_MODEL_ORDER_SCORE : BL_MODEL_ORDER_BLOCKS};
    bl_model_train_opts to = {.threads = o->threads};
    const int autom = strcmp(o->model, "auto") == 0;
    bl_status st = BL_OK;
    if (!autom) {
        st = bl_model_read(o->model, &r->m, &r->err);
        for (size_t i = 0; st == BL_OK && i < r->n; i++)
            st = bl_model_check_set(r->m, r->sets[i], o->paths[i], &r->err);
    }
    r->t0 = bl_clock_s();
    if (st == BL_OK)
        st = bl_model_candidates(sets, r->n, &lo, &r->c, &r->nc, &r->err);
    double tb = bl_clock_s();
    r->t_block = tb - r->t0;
    /* auto: train on the very candidates that are then scored */
    if (st == BL_OK && autom)
        st = bl_model_train(sets, r->n, r->c, r->nc, &to, &r->m, &r->err);
    double t1 = bl_clock_s();
    r->t_train = t1 - tb;
    /* a decision needs the exact scores of the pairs that can reach it
     * only; -f candidates writes every candidate's */
    if (st == BL_OK && o->candidates) {
        st = bl_model_score(r->m, sets, r->n, r->c, r->nc, o->threads, &r->sc, &r->err);
        r->nsc = r->nc;
    } else if (st == BL_OK) {
        st = bl_model_decide(r->m, sets, r->n, r->c, r->nc, &lo, &r->sc, &r->nsc, &r->err);
    }
    r->t_score = bl_clock_s() - t1;
    /* -f candidates: every scored candidate, for pair completeness and
     * threshold sweeps (bench/quality.sh) */
    if (st == BL_OK && o->candidates) {
        r->res = r->sc;
        r->sc = NULL;
        r->nres = r->nc;
    } else if (st == BL_OK) {
        st = bl_model_resolve_merge(r->sc, r->nsc, r->n, o->min_p, o->merge, &r->res, &r->nres,
                                    &r->err);
    }
    return st;
}

static void fs_verbose(const fs_run *r, const cli_fs_opts *o)
{
    uint32_t it;
    double prior;
    if (!strcmp(o->model, "auto")) {
        int conv = bl_model_converged(r->m, &it, &prior);
        fprintf(stderr, "blindlink match: blocking %.2fs, %zu candidate pairs; model trained in "
                        "%.2fs: %s after %u iterations, prior %.4g\n", r->t_block, r->nc,
                r->t_train, conv ? "converged" : "hit the iteration limit", it, prior);
    }
    fprintf(stderr,
            "blindlink match: model %s: %zu candidate pairs, scored in %.3fs (%.1f M "
            "pairs/s; %zu ruled out by the decision bound), %zu %s at probability >= %g; "
            "total %.2fs\n",
            o->model, r->nc, r->t_score, (double)r->nc / fmax(r->t_score, 1e-9) / 1e6,
            r->nc - r->nsc, r->nres, o->candidates ? "scored candidates written" : "matched pairs",
            o->min_p, bl_clock_s() - r->t0);
}

/* the figures of the -v lines as JSON on stdout */
static size_t uf_root(size_t *up, size_t i)
{
    while (up[i] != i)
        i = up[i] = up[up[i]];
    return i;
}

/* The groups the matched pairs form (their connected components: a group
 * of bl_model_resolve is joined by its pairs), as "groups" and
 * "group_sizes" in the summary, like match without --model. */
static void groups_json(const fs_run *r, json_t *js)
{
    size_t nu;
    uint64_t *k = cli_pair_records(r->nres ? &r->res[0].c : NULL, r->nres, sizeof *r->res, &nu);
    size_t *up = malloc((nu + 1) * sizeof *up), *size = calloc(nu + 1, sizeof *size);
    if (!k || !up || !size) {
        free(k), free(up), free(size);
        return;
    }
    for (size_t i = 0; i < nu; i++)
        up[i] = i;
    for (size_t i = 0; i < r->nres; i++) {
        const bl_candidate *c = &r->res[i].c;
        up[uf_root(up, cli_record_at(k, nu, c->dset[0], c->rec[0]))] =
            uf_root(up, cli_record_at(k, nu, c->dset[1], c->rec[1]));
    }
    size_t ng = 0;
    for (size_t i = 0; i < nu; i++)
        size[uf_root(up, i)]++;
    for (size_t i = 0; i < nu; i++)
        if (size[i])
            size[ng++] = size[i];
    json_object_set_new(js, "groups", json_integer((json_int_t)ng));
    json_object_set_new(js, "group_sizes", cli_json_group_sizes(size, ng));
    free(k), free(up), free(size);
}

static bl_status fs_json(const fs_run *r, const cli_fs_opts *o)
{
    json_t *js = json_object(), *recs = json_array();
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(recs, json_integer((json_int_t)r->sets[i]->count));
    json_object_set_new(js, "inputs", json_integer((json_int_t)r->n));
    json_object_set_new(js, "records", recs);
    json_object_set_new(js, "model", json_string(o->model));
    json_object_set_new(js, "candidates", json_integer((json_int_t)r->nc));
    cli_json_set_real(js, "min_probability", o->min_p);
    json_object_set_new(js, o->candidates ? "scored_candidates" : "matched_pairs",
                        json_integer((json_int_t)r->nres));
    if (!o->candidates)
        groups_json(r, js);
    uint32_t it;
    double prior;
    int conv = bl_model_converged(r->m, &it, &prior);
    json_t *tr = json_object();
    json_object_set_new(tr, "trained", json_boolean(!strcmp(o->model, "auto")));
    json_object_set_new(tr, "converged", json_boolean(conv));
    json_object_set_new(tr, "iterations", json_integer(it));
    cli_json_set_real(tr, "prior", prior);
    cli_json_set_real(tr, "train_seconds", r->t_train);
    json_object_set_new(js, "training", tr);
    cli_json_set_real(js, "blocking_seconds", r->t_block);
    cli_json_set_real(js, "score_seconds", r->t_score);
    json_object_set_new(js, "ruled_out_by_bound", json_integer((json_int_t)(r->nc - r->nsc)));
    json_object_set_new(js, "output", json_string(o->output));
    json_object_set_new(js, "saved_model", o->save_model ? json_string(o->save_model) : json_null());
    bl_status st = cli_json_write(js, "-", (bl_error *)&r->err);
    json_decref(js);
    return st;
}

int cli_match_fs(const cli_fs_opts *o)
{
    if (o->n > MAX_INPUTS)
        return cli_usage_error(CMD, "at most %d inputs", MAX_INPUTS);
    /* --model - : bl_model_read takes the model from stdin itself */
    int rc = strcmp(o->model, "auto") && strcmp(o->model, "-") ? check_model_file(o->model)
                                                               : CLI_EXIT_OK;
    fs_run r;
    memset(&r, 0, sizeof r);
    if (!rc)
        rc = fs_read(&r, o);
    if (rc) {
        fs_run_free(&r);
        return rc;
    }
    bl_status st = fs_link(&r, o);
    /* the model first: when it cannot be saved, no pairs file is left
     * either (both writes are atomic); when the pairs fail, the model just
     * saved is removed again */
    if (st == BL_OK && o->save_model)
        st = bl_model_write(r.m, o->save_model, &r.err);
    if (st == BL_OK) {
        st = bl_model_write_pairs(o->output, r.res, r.nres, (const bl_clkset *const *)r.sets, r.n,
                                  o->threads, &r.err);
        if (st != BL_OK && o->save_model)
            (void)remove(o->save_model);
    }
    if (st == BL_OK && !o->quiet)
        cli_warn_no_candidates(CMD, r.c, r.nc, (const bl_clkset *const *)r.sets, o->paths, r.n);
    if (st == BL_OK && o->verbose)
        fs_verbose(&r, o);
    if (st == BL_OK && o->json)
        st = fs_json(&r, o);
    rc = st == BL_OK ? CLI_EXIT_OK : cli_fail(CMD, &r.err);
    fs_run_free(&r);
    return rc;
}
