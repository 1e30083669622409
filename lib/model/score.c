/* lib/model/score.c - linkage with a model: blocked candidates (the match
 * layer's record-level Dice with top-k, keyed LSH on large inputs), match
 * weights and posteriors for every candidate (all cores, popcount kernels on
 * the field slices), the decision and 1:1 / group resolution, the pairs CSV
 * and per-pair explanations. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blindlink/csv.h>
#include <blindlink/io.h>

#include "model/model_internal.h"

#define TF_MAX_SETS 64

/* Level weights of field f at [f][level & 15]; slot 15 (missing) is 0.0. */
#define WSLOT 16
_Static_assert(BL_MODEL_MAX_LEVELS < WSLOT && (BL_LEVEL_MISSING & (WSLOT - 1)) == WSLOT - 1, "weight slots");

typedef struct sjob {
    const bl_model *m;
    const bl_clkset *const *sets;
    const bl_setstats *st;
    const bl_candidate *c;
    bl_scored_pair *out;
    size_t lo, hi;
    const double (*w)[WSLOT];
    const double (*wn)[BL_MODEL_MAX_FIELDS][WSLOT]; /* weights per name class (class - 1) */
    int fail;
    int names;                 /* the model has a name pair: g, s */
    size_t g, s;
} sjob;

static double sigmoid2(double w)
{
    return 1.0 / (1.0 + exp2(-w));
}

/* Pairs per field-kernel call, and pairs after them whose records the
 * kernel prefetches (the next chunk's first ones). */
#define SCORE_CHUNK 128
#define SCORE_AHEAD 16
#define SCORE_STEP 8


/* Weight and posterior of the pairs c[0..n) from their levels: the prior
 * weight, then each field's level weight and the term-frequency
 * adjustment of an exact agreement, in field order, so every field kernel
 * gives the same doubles. Missing fields and non-exact levels add +0.0,
 * which leaves any sum but -0.0 unchanged, and no sum here is -0.0 (the
 * prior weight is not, and round-to-nearest never gives x + y = -0.0 unless
 * both are), so the adds need no branches. */
static void score_chunk(const sjob *j, const bl_candidate *c, size_t n, const uint8_t *lv, bl_scored_pair *out)
{
    const size_t nf = j->m->nf;
    const double pw = bl_model_prior_weight(j->m);
    for (size_t q = 0; q < n; q++) {
        const float *tf = j->st[c[q].dset[0]].tfadj + c[q].rec[0] * nf;
        const uint8_t *l = lv + q * nf;
        const int cls = j->names ? bl_model_name_class(j->m, j->g, j->s, l) : 0;
        const double(*wt)[WSLOT] = cls ? j->wn[cls - 1] : j->w;
        double w = pw;
        for (size_t f = 0; f < nf; f++) {
            w += wt[f][l[f] & (WSLOT - 1)];
            w += l[f] == 0 ? (double)tf[f] : 0.0;
        }
        bl_scored_pair *p = &out[q];
        p->c = c[q];
        p->weight = w;
        p->probability = sigmoid2(w);
        p->c.score = p->probability;
    }
}

static void *score_worker(void *arg)
{
    sjob *j = arg;
    const bl_model *m = j->m;
    bl_fieldpop fpk;
    uint32_t *cnt = malloc((2 * m->nf + 2) * SCORE_CHUNK * sizeof *cnt), *popb = cnt + SCORE_CHUNK * m->nf;
    uint32_t *cross = popb + SCORE_CHUNK * m->nf;
    uint8_t *lv = malloc(SCORE_CHUNK * m->nf);
    if (!cnt || !lv || bl_fieldpop_init(&fpk, m, bli_kernel_active()) != 0) {
        free(cnt);
        free(lv);
        j->fail = 1;
        return NULL;
    }
    const uint8_t *ra[SCORE_CHUNK + SCORE_AHEAD], *rb[SCORE_CHUNK + SCORE_AHEAD];
    const uint32_t *xa[SCORE_CHUNK], *xb[SCORE_CHUNK];
    for (size_t i = j->lo; i < j->hi; i += SCORE_CHUNK) {
        const size_t n = j->hi - i < SCORE_CHUNK ? j->hi - i : SCORE_CHUNK;
        const size_t ahead = j->hi - i - n < SCORE_AHEAD ? j->hi - i - n : SCORE_AHEAD;
        const bl_candidate *c = &j->c[i];
        for (size_t q = 0; q < n + ahead; q++) {
            ra[q] = bl_clkset_get(j->sets[c[q].dset[0]], c[q].rec[0]);
            rb[q] = bl_clkset_get(j->sets[c[q].dset[1]], c[q].rec[1]);
            if (q < n) {
                xa[q] = j->st[c[q].dset[0]].pop + (size_t)c[q].rec[0] * m->nf;
                xb[q] = popb + q * m->nf;
            }
        }
        /* levels and weights of a few pairs at a time, so that they run
         * while the records of the pairs ahead are on their way */
        for (size_t q = 0; q < n; q += SCORE_STEP) {
            const size_t k = n - q < SCORE_STEP ? n - q : SCORE_STEP;
            fpk.batch(&fpk, ra + q, rb + q, k, n + ahead - q - k, cnt + q * m->nf, popb + q * m->nf, cross + 2 * q);
            fpk.levels(&fpk, ra + q, rb + q, xa + q, xb + q, cnt + q * m->nf, fpk.batch_cross ? cross + 2 * q : NULL,
                       k, lv + q * m->nf);
            score_chunk(j, c + q, k, lv + q * m->nf, &j->out[i + q]);
        }
    }
    bl_fieldpop_free(&fpk);
    free(cnt);
    free(lv);
    return NULL;
}

bl_status bl_model_score_into(const bl_model *m, const bl_clkset *const *sets, const bl_setstats *ss,
                              const bl_candidate *cand, size_t ncand, int threads, bl_scored_pair *res,
                              bl_error *err)
{
    double w[BL_MODEL_MAX_FIELDS][WSLOT] = {{0}}, wn[2][BL_MODEL_MAX_FIELDS][WSLOT] = {{{0}}};
    for (size_t f = 0; f < m->nf; f++)
        for (uint32_t l = 0; l < m->f[f].nlevels; l++) {
            w[f][l] = bl_model_level_weight(m, f, l);
            for (int c = 0; c < 2; c++)
                wn[c][f][l] = bl_model_level_weight_names(m, f, l, c + 1);
        }
    size_t g = 0, s = 0;
    const int names = bl_model_name_pair(m, &g, &s);
    int nt = threads > 0 ? threads : bli_ncpus();
    if (nt > 64)
        nt = 64;
    if ((size_t)nt > ncand / 10000 + 1)
        nt = (int)(ncand / 10000 + 1);
    sjob jobs[64];
    pthread_t tid[64];
    int started = 1;
    for (int t = 0; t < nt; t++)
        jobs[t] = (sjob){m, sets, ss, cand, res, ncand * (size_t)t / (size_t)nt,
                         ncand * (size_t)(t + 1) / (size_t)nt, (const double (*)[WSLOT])w,
                         (const double (*)[BL_MODEL_MAX_FIELDS][WSLOT])wn, 0, names, g, s};
    for (int t = 1; t < nt && started == t; t++)
        if (pthread_create(&tid[t], NULL, score_worker, &jobs[t]) == 0)
            started++;
    score_worker(&jobs[0]);
    for (int t = 1; t < started; t++)
        pthread_join(tid[t], NULL);
    for (int t = started; t < nt; t++)
        score_worker(&jobs[t]);
    for (int t = 0; t < nt; t++)
        if (jobs[t].fail)
            return bl_error_set(err, BL_ENOMEM, "out of memory for level tables");
    return BL_OK;
}

bl_status bl_model_score(const bl_model *m, const bl_clkset *const *sets, size_t nsets, const bl_candidate *cand,
                         size_t ncand, int threads, bl_scored_pair **out, bl_error *err)
{
    *out = NULL;
    bl_setstats *ss = calloc(nsets, sizeof *ss);
    if (!ss)
        return bl_error_set(err, BL_ENOMEM, "out of memory for record statistics");
    bl_scored_pair *res = malloc((ncand ? ncand : 1) * sizeof *res);
    if (!res) {
        free(ss);
        return bl_error_set(err, BL_ENOMEM, "out of memory for %zu scored pairs", ncand);
    }
    bl_status st = bl_setstats_build(m, sets, nsets, ss, err);
    if (st == BL_OK)
        st = bl_model_score_into(m, sets, ss, cand, ncand, threads, res, err);
    bl_setstats_free(ss, nsets);
    free(ss);
    if (st != BL_OK)
        free(res);
    else
        *out = res;
    return st;
}

static int cmp_weight(const void *x, const void *y)
{
    const bl_scored_pair *a = x, *b = y;
    if (a->weight != b->weight)
        return a->weight > b->weight ? -1 : 1;
    return bli_candidate_key_cmp(&a->c, &b->c);
}

/* Record (dataset, index) -> taken flag, for the 1:1 rule. */
static size_t rec_slot(const uint64_t *keys, size_t cap, uint64_t key)
{
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1);
    while (keys[i] && keys[i] != key)
        i = (i + 1) & (cap - 1);
    return i;
}

bl_status bl_model_resolve(const bl_scored_pair *p, size_t n, size_t nsets, double min_p, bl_scored_pair **out,
                           size_t *nout, bl_error *err)
{
    *out = NULL;
    *nout = 0;
    size_t k = 0;
    bl_scored_pair *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (p[i].probability >= min_p)
            v[k++] = p[i];
    qsort(v, k, sizeof *v, cmp_weight);
    if (nsets == 2) {
        /* 1:1, heaviest first: each record in at most one pair */
        size_t cap = 64;
        while (cap < 4 * k + 64)
            cap *= 2;
        uint64_t *keys = calloc(cap, sizeof *keys);
        if (!keys) {
            free(v);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
        size_t o = 0;
        for (size_t i = 0; i < k; i++) {
            uint64_t a = ((uint64_t)v[i].c.dset[0] << 32 | v[i].c.rec[0]) + 1;
            uint64_t b = ((uint64_t)v[i].c.dset[1] << 32 | v[i].c.rec[1]) + 1;
            size_t sa = rec_slot(keys, cap, a), sb = rec_slot(keys, cap, b);
            if (keys[sa] || keys[sb])
                continue;
            keys[sa] = a;
            keys[rec_slot(keys, cap, b)] = b;
            v[o++] = v[i];
        }
        free(keys);
        *out = v;
        *nout = o;
        return BL_OK;
    }
    /* N parties: anonlink's greedy rule (groups merge only when every cross
     * pair is a candidate, one record per dataset) on weight order */
    bl_candidate *c = malloc((k ? k : 1) * sizeof *c);
    if (!c) {
        free(v);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < k; i++) {
        c[i] = v[i].c;
        c[i].score = v[i].weight;
    }
    bl_groups *g = NULL;
    bl_status st = bl_match_solve_probabilistic(c, k, 1.0, 1, &g, err);
    free(c);
    if (st != BL_OK) {
        free(v);
        return st;
    }
    /* keep the candidate pairs that lie inside a group */
    size_t cap = 64;
    while (cap < 4 * k + 64)
        cap *= 2;
    uint64_t *keys = calloc(cap, sizeof *keys);
    uint32_t *gid = calloc(cap, sizeof *gid);
    if (!keys || !gid) {
        free(keys);
        free(gid);
        free(v);
        bl_groups_free(g);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < bl_groups_count(g); i++) {
        const uint32_t *ds, *rs;
        size_t sz = bl_groups_get(g, i, &ds, &rs);
        for (size_t q = 0; q < sz; q++) {
            uint64_t key = ((uint64_t)ds[q] << 32 | rs[q]) + 1;
            size_t s = rec_slot(keys, cap, key);
            keys[s] = key;
            gid[s] = (uint32_t)i + 1;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t a = ((uint64_t)v[i].c.dset[0] << 32 | v[i].c.rec[0]) + 1;
        uint64_t b = ((uint64_t)v[i].c.dset[1] << 32 | v[i].c.rec[1]) + 1;
        uint32_t ga = gid[rec_slot(keys, cap, a)], gb = gid[rec_slot(keys, cap, b)];
        if (ga && ga == gb)
            v[o++] = v[i];
    }
    free(keys);
    free(gid);
    bl_groups_free(g);
    *out = v;
    *nout = o;
    return BL_OK;
}

bl_status bl_model_write_pairs(const char *path, const bl_scored_pair *p, size_t n, const bl_clkset *const *sets,
                               size_t nsets, bl_error *err)
{
    bl_ofile *f = NULL;
    bl_status st = bl_ofile_open(path, &f, err);
    if (st != BL_OK)
        return st;
    FILE *fp = bl_ofile_stream(f);
    int ids = sets != NULL;
    for (size_t d = 0; ids && d < nsets; d++)
        ids = sets[d]->ids != NULL;
    const int multi = nsets > 2;
    fputs(multi ? "a_dataset,a_index,b_dataset,b_index" : "a_index,b_index", fp);
    fputs(",score,weight,probability", fp);
    fputs(ids ? ",a_id,b_id\n" : "\n", fp);
    char b1[32], b2[32];
    for (size_t i = 0; i < n; i++) {
        const bl_candidate *c = &p[i].c;
        if (multi)
            fprintf(fp, "%u,%u,%u,%u,", c->dset[0], c->rec[0], c->dset[1], c->rec[1]);
        else
            fprintf(fp, "%u,%u,", c->rec[0], c->rec[1]);
        bl_format_double(p[i].probability, b1);
        fprintf(fp, "%s,%.4f,%s", b1, p[i].weight, bl_format_double(p[i].probability, b2));
        if (ids) {
            const char *a = sets[c->dset[0]]->ids[c->rec[0]], *b = sets[c->dset[1]]->ids[c->rec[1]];
            fputc(',', fp);
            bl_csv_write_field(fp, a, strlen(a));
            fputc(',', fp);
            bl_csv_write_field(fp, b, strlen(b));
        }
        fputc('\n', fp);
    }
    if (ferror(fp)) {
        bl_ofile_abort(f);
        return bl_error_set(err, BL_EIO, "%s: write failed", path);
    }
    return bl_ofile_commit(f, err);
}

bl_status bl_model_explain(const bl_model *m, const bl_clkset *a, size_t i, const bl_clkset *b, size_t j,
                           const bl_clkset *const *tfsets, size_t ntf, bl_explain_field *fields,
                           double *prior_weight, double *weight, double *probability, bl_error *err)
{
    if (i >= a->count || j >= b->count)
        return bl_error_set(err, BL_EINVAL, "record index out of range (%zu of %zu, %zu of %zu)", i, a->count, j,
                            b->count);
    const bl_kernel *k = bli_kernel_active();
    bl_fieldpop fpk;
    if (bl_fieldpop_init(&fpk, m, k) != 0)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    uint32_t pa[BL_MODEL_MAX_FIELDS], pb[BL_MODEL_MAX_FIELDS];
    const uint8_t *ra = bl_clkset_get(a, i), *rb = bl_clkset_get(b, j);
    for (size_t f = 0; f < m->nf; f++) {
        pa[f] = k->popcount(ra + m->f[f].offset / 8, (m->f[f].bits + 7) / 8);
        pb[f] = k->popcount(rb + m->f[f].offset / 8, (m->f[f].bits + 7) / 8);
    }
    bl_setstats ss[TF_MAX_SETS];
    float tfadj[BL_MODEL_MAX_FIELDS] = {0};
    if (tfsets && ntf && ntf <= TF_MAX_SETS) {
        bl_status st = bl_setstats_build(m, tfsets, ntf, ss, err);
        if (st != BL_OK) {
            bl_fieldpop_free(&fpk);
            return st;
        }
        for (size_t d = 0; d < ntf; d++)
            if (tfsets[d] == a)
                memcpy(tfadj, ss[d].tfadj + i * m->nf, m->nf * sizeof *tfadj);
        bl_setstats_free(ss, ntf);
    }
    uint8_t lv[BL_MODEL_MAX_FIELDS];
    double dice[BL_MODEL_MAX_FIELDS];
    bl_model_levels(m, &fpk, ra, pa, rb, pb, lv, dice);
    bl_fieldpop_free(&fpk);
    double w = bl_model_prior_weight(m);
    *prior_weight = w;
    size_t ng = 0, ns = 0;
    const int cls = bl_model_name_pair(m, &ng, &ns) ? bl_model_name_class(m, ng, ns, lv) : 0;
    for (size_t f = 0; f < m->nf; f++) {
        bl_explain_field *e = &fields[f];
        e->name = m->f[f].name;
        e->dice = dice[f];
        e->level = lv[f] == BL_LEVEL_MISSING ? -1 : lv[f];
        e->label = lv[f] == BL_LEVEL_MISSING ? "missing" : m->f[f].label[lv[f]];
        e->tf_adjust = lv[f] == 0 ? tfadj[f] : 0.0;
        e->weight = bl_model_level_weight_names(m, f, lv[f], cls) + e->tf_adjust;
        w += e->weight;
    }
    *weight = w;
    *probability = sigmoid2(w);
    return BL_OK;
}
