/* lib/match/partition.c - the candidate step split into shares for
 * distributed matching (blindlink-mpi). With keyed LSH a share is a range
 * of the tables over all records (part_tables); with external blocks, a
 * set of whole blocks and pieces of big ones, of about equal cost
 * (part_blocks). Otherwise each
 * cross-dataset pair (x < y) is
 * cut into row ranges of x; the cost of a row is |y| comparisons, and the
 * shares are equal slices of the total cost. A share runs the ordinary
 * bl_match_candidates on a view of its rows of x against all of y, with the
 * top-k kept one-sided: per-record top-k lives entirely in one share, so
 * it is exact, and the two-sided pass (which needs every pair) runs in
 * bl_match_candidates_merge after the shares are concatenated, followed by
 * the same sort as the single-process path. Calls candidates.c only. */
#include <stdlib.h>
#include <string.h>
#include "match/match_internal.h"

/* rows [lo, hi) of X in share `part`: the share owns the cost interval
 * [part*T/n, (part+1)*T/n) of the pair sequence (x, y) in order */
static void share_rows(uint64_t base, uint64_t rowcost, size_t nrows, uint64_t total,
                       size_t part, size_t nparts, size_t *lo, size_t *hi)
{
    /* floor(total * p / n) without overflow: total = q*n + r */
    uint64_t q = total / nparts, r = total % nparts;
    uint64_t c0 = q * part + r * part / nparts;
    uint64_t c1 = q * (part + 1) + r * (part + 1) / nparts;
    /* row i covers [base + i*rowcost, base + (i+1)*rowcost); it belongs to
     * the share holding its first comparison */
    size_t a = c0 <= base ? 0 : (size_t)((c0 - base + rowcost - 1) / rowcost);
    size_t b = c1 <= base ? 0 : (size_t)((c1 - base + rowcost - 1) / rowcost);
    *lo = a < nrows ? a : nrows;
    *hi = b < nrows ? b : nrows;
}

static bl_status append(bl_candidate **all, size_t *n, size_t *cap, const bl_candidate *c,
                        size_t m, uint32_t x, uint32_t y, size_t lo, bl_error *err)
{
    if (*n + m > *cap) {
        size_t nc = (*n + m) * 2 + 16;
        bl_candidate *v = realloc(*all, nc * sizeof *v);
        if (!v)
            return bl_error_set(err, BL_ENOMEM, "out of memory collecting candidates");
        *all = v;
        *cap = nc;
    }
    for (size_t i = 0; i < m; i++) {
        bl_candidate t = c[i];
        t.dset[0] = x;
        t.dset[1] = y;
        t.rec[0] = (uint32_t)(t.rec[0] + lo);
        (*all)[(*n)++] = t;
    }
    return BL_OK;
}

void bl_match_part_rows(const size_t *counts, size_t nsets, size_t part, size_t nparts,
                        size_t *first, size_t *last)
{
    uint64_t total = 0, base = 0;
    for (size_t x = 0; x < nsets; x++) {
        first[x] = last[x] = 0;
        for (size_t y = x + 1; y < nsets; y++)
            total += (uint64_t)counts[x] * counts[y];
    }
    if (nparts == 0 || part >= nparts)
        return;
    /* the same walk as bl_match_candidates_part: rows [lo, hi) of x, all of y */
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = x + 1; y < nsets; y++) {
            size_t lo = 0, hi = 0;
            if (counts[x] && counts[y])
                share_rows(base, counts[y], counts[x], total, part, nparts, &lo, &hi);
            base += (uint64_t)counts[x] * counts[y];
            if (lo >= hi)
                continue;
            if (first[x] == last[x] || lo < first[x])
                first[x] = lo;
            if (hi > last[x])
                last[x] = hi;
            first[y] = 0;
            last[y] = counts[y];
        }
}

/* Keyed LSH: the share is a range of the tables over all records. Every
 * table costs the same (the keys of every record, a sort, the colliding
 * pairs), so equal ranges are balanced, and no share repeats another's key
 * work (a row split would make every share compute the keys of all of the
 * other dataset). A pair is emitted by the first table it shares, wherever
 * that table is, so the shares are disjoint; top-k is kept one-sided here
 * (a superset of each record's best k) and exact after the merge. */
static bl_status part_tables(const bl_clkset *const *sets, size_t nsets, const bl_match_opts *opts,
                             size_t part, size_t nparts, bl_candidate **out, size_t *count,
                             bl_error *err)
{
    bl_blocking view = *opts->blocking; /* the same positions and masks, fewer tables */
    view.t_lo = (uint32_t)((uint64_t)view.tables * part / nparts);
    view.t_hi = (uint32_t)((uint64_t)view.tables * (part + 1) / nparts);
    if (view.t_lo >= view.t_hi) {
        *out = malloc(sizeof **out);
        *count = 0;
        return *out ? BL_OK : bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    bl_match_opts o = *opts;
    o.blocking = &view;
    o.top_k_one_sided = 1;
    return bl_match_candidates(sets, nsets, &o, out, count, err);
}

/* one thing to deal to a share: a whole block (ulo = uhi = 0) or units
 * [ulo, uhi) of a split one (units as blocking.c cuts a block's sorted
 * members: BLI_BLOCK_UNIT rows of the comparing side each) */
typedef struct blockitem {
    uint64_t cost;
    uint32_t id, ulo, uhi;
} blockitem;

static int cmp_item(const void *x, const void *y)
{
    const blockitem *a = x, *b = y;
    if (a->cost != b->cost)
        return a->cost > b->cost ? -1 : 1; /* dearest first */
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->ulo < b->ulo ? -1 : (a->ulo > b->ulo);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b; /* a sum past 2^64 still compares as largest */
}

/* The estimated cost of every block: the pairs it compares, summed over
 * dataset pairs x < y of (its members in x) x (its members in y). Exact
 * in 64 bits (fewer than 2^32 records in all). cnt (nblocks x ndsets)
 * receives the members per dataset of the blocks with split[id] >= 0, at
 * row split[id]. NULL when out of memory. */
static blockitem *block_costs(const bl_blocking *b, const int32_t *split, uint32_t *cnt)
{
    size_t nb = b->nblocks ? b->nblocks : 1;
    blockitem *bc = calloc(nb, sizeof *bc);
    uint64_t *before = calloc(nb, sizeof *before); /* members in datasets < d */
    uint32_t *here = calloc(nb, sizeof *here);      /* members in dataset d */
    if (!bc || !before || !here) {
        free(bc);
        bc = NULL;
    }
    for (size_t d = 0; bc && d < b->ndsets; d++) {
        size_t nq = b->off[d][b->nrecs[d]];
        for (size_t q = 0; q < nq; q++)
            here[b->ids[d][q]]++;
        for (size_t q = 0; q < nq; q++) {
            uint32_t id = b->ids[d][q];
            if (here[id]) { /* once per block */
                bc[id].cost += (uint64_t)here[id] * before[id];
                before[id] += here[id];
                if (split && split[id] >= 0)
                    cnt[(size_t)split[id] * b->ndsets + d] = here[id];
                here[id] = 0;
            }
        }
    }
    for (uint32_t i = 0; bc && i < b->nblocks; i++)
        bc[i].id = i;
    free(before);
    free(here);
    return bc;
}

/* The cost of each unit of a block with c[d] members of dataset d (the
 * sort orders them by dataset): a row of dataset d is compared with every
 * member of a later dataset; unit k holds rows [k*U, (k+1)*U). */
static void unit_costs(const uint32_t *c, size_t nsets, uint64_t *uc, size_t nu)
{
    uint64_t all = 0, p0 = 0;
    for (size_t d = 0; d < nsets; d++)
        all += c[d];
    memset(uc, 0, nu * sizeof *uc);
    for (size_t d = 0; d < nsets; p0 += c[d], d++) {
        uint64_t p1 = p0 + c[d], per = all - p1;
        for (uint64_t r = p0; per && r < p1;) {
            uint64_t k = r / BLI_BLOCK_UNIT, end = (k + 1) * BLI_BLOCK_UNIT;
            if (end > p1)
                end = p1;
            if (k < nu)
                uc[k] += (end - r) * per;
            r = end;
        }
    }
}

/* Cuts a block into at most nparts pieces of about equal cost (runs of
 * whole units) appended to items; returns the number appended, or
 * SIZE_MAX when out of memory */
static size_t split_block(const uint32_t *c, size_t nsets, uint32_t id, uint64_t cost,
                          size_t nparts, blockitem *items)
{
    uint64_t all = 0;
    for (size_t d = 0; d < nsets; d++)
        all += c[d];
    size_t nu = all > 1 ? (size_t)((all - 1 + BLI_BLOCK_UNIT - 1) / BLI_BLOCK_UNIT) : 0;
    uint64_t *uc = malloc((nu ? nu : 1) * sizeof *uc);
    if (!uc)
        return SIZE_MAX;
    unit_costs(c, nsets, uc, nu);
    size_t n = 0, k = 0;
    uint64_t acc = 0;
    for (size_t piece = 1; piece <= nparts && k < nu; piece++) {
        uint64_t goal = piece == nparts ? UINT64_MAX : cost / nparts * piece;
        blockitem it = {0, id, (uint32_t)k, 0};
        while (k < nu && (acc < goal || it.cost == 0)) {
            acc += uc[k];
            it.cost += uc[k++];
        }
        it.uhi = (uint32_t)k;
        if (it.cost)
            items[n++] = it;
    }
    free(uc);
    return n;
}

typedef struct share_load {
    uint64_t load;
    size_t part;
} share_load;

static int load_less(const share_load *a, const share_load *b)
{
    return a->load < b->load || (a->load == b->load && a->part < b->part);
}

/* the root of the min-heap h (n entries) grew: move it down */
static void sift_down(share_load *h, size_t n)
{
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && load_less(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && load_less(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        share_load t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Deals the items, dearest first, each to the share with the least cost
 * so far (ties: lower share; a heap, as LSH-written files hold millions of
 * blocks): owner[id] of whole blocks, BLI_BLOCK_SPLIT for split ones, whose
 * pieces for share `part` go to pieces as (id, ulo, uhi) triples. */
static int deal(blockitem *items, size_t n, size_t nparts, size_t part, uint32_t *owner,
                uint32_t *pieces, size_t *npieces)
{
    share_load *h = malloc(nparts * sizeof *h);
    if (!h)
        return -1;
    for (size_t p = 0; p < nparts; p++) /* all 0, ascending: a heap */
        h[p] = (share_load){0, p};
    if (n)
        qsort(items, n, sizeof *items, cmp_item);
    *npieces = 0;
    for (size_t i = 0; i < n && items[i].cost; i++) {
        const blockitem *it = &items[i];
        if (it->uhi == 0) {
            owner[it->id] = (uint32_t)h[0].part;
        } else if (h[0].part == part) {
            uint32_t *t = pieces + 3 * (*npieces)++;
            t[0] = it->id;
            t[1] = it->ulo;
            t[2] = it->uhi;
        }
        h[0].load = sat_add(h[0].load, it->cost);
        sift_down(h, nparts);
    }
    free(h);
    return 0;
}

/* The share of every block, alike on every rank: a block that costs more
 * than a share should (total / nparts) is cut into pieces of whole units
 * of about equal cost, and the whole blocks and pieces are dealt by cost
 * (deal), so one big block and many small ones still balance. Blocks that
 * compare nothing belong to no share (BLI_BLOCK_NONE). Sets v.bowner and
 * v.bpieces (malloc'd; free both). */
static bl_status block_owners(bl_blocking *v, size_t nparts, size_t part, bl_error *err)
{
    size_t nb = v->nblocks ? v->nblocks : 1, nsplit = 0, n = 0;
    blockitem *bc = block_costs(v, NULL, NULL), *items = NULL;
    int32_t *split = malloc(nb * sizeof *split);
    uint32_t *owner = malloc(nb * sizeof *owner), *cnt = NULL, *pieces = NULL;
    uint64_t total = 0;
    for (uint32_t i = 0; bc && i < v->nblocks; i++)
        total = sat_add(total, bc[i].cost);
    for (uint32_t i = 0; bc && split && owner && i < v->nblocks; i++) {
        owner[i] = BLI_BLOCK_NONE;
        split[i] = bc[i].cost > total / nparts ? (int32_t)nsplit++ : -1; /* fewer than nparts */
    }
    if (bc && split && owner) {
        cnt = calloc(nsplit * v->ndsets + 1, sizeof *cnt);
        items = malloc((v->nblocks + nsplit * nparts + 1) * sizeof *items);
        pieces = malloc((3 * nsplit * nparts + 1) * sizeof *pieces);
    }
    free(bc);
    bc = cnt && items && pieces ? block_costs(v, split, cnt) : NULL;
    for (uint32_t i = 0; bc && i < v->nblocks; i++) {
        if (split[i] < 0) {
            items[n++] = bc[i];
            continue;
        }
        owner[i] = BLI_BLOCK_SPLIT;
        size_t m = split_block(cnt + (size_t)split[i] * v->ndsets, v->ndsets, i, bc[i].cost, nparts,
                               items + n);
        if (m == SIZE_MAX) {
            free(bc);
            bc = NULL;
            break;
        }
        n += m;
    }
    bl_status st = BL_OK;
    if (!bc || deal(items, n, nparts, part, owner, pieces, &v->npieces)) {
        st = bl_error_set(err, BL_ENOMEM, "out of memory sharing the blocks");
        free(owner);
        free(pieces);
        owner = pieces = NULL;
    }
    v->bowner = owner;
    v->bpieces = pieces;
    free(bc);
    free(split);
    free(cnt);
    free(items);
    return st;
}

/* External blocks: the share is a set of whole blocks and pieces of big
 * ones, chosen by cost (block_owners); each share sorts the memberships of
 * its blocks and compares only the rows of its pieces. The block lists
 * stay whole, so a pair is emitted by the first block it shares (lowest
 * block id), whichever share owns it (or, in a split block, by the piece
 * holding its first row), and the shares are disjoint; top-k is kept
 * one-sided here, exact after the merge, as for LSH tables. */
static bl_status part_blocks(const bl_clkset *const *sets, size_t nsets, const bl_match_opts *opts,
                             size_t part, size_t nparts, bl_candidate **out, size_t *count,
                             bl_error *err)
{
    bl_blocking view = *opts->blocking; /* the same block lists, fewer blocks */
    view.bpart = (uint32_t)part;
    if (nparts > 1 && block_owners(&view, nparts, part, err))
        return BL_ENOMEM;
    bl_match_opts o = *opts;
    o.blocking = &view;
    o.top_k_one_sided = 1;
    bl_status st = bl_match_candidates(sets, nsets, &o, out, count, err);
    free((void *)view.bowner);
    free((void *)view.bpieces);
    return st;
}

bl_status bl_match_candidates_part(const bl_clkset *const *sets, size_t nsets,
                                   const bl_match_opts *opts, size_t part, size_t nparts,
                                   bl_candidate **out, size_t *count, bl_error *err)
{
    if (!out || !count || !sets || !opts || nparts == 0 || part >= nparts)
        return bl_error_set(err, BL_EINVAL, "bad share %zu of %zu", part, nparts);
    *out = NULL;
    *count = 0;
    if (opts->blocking && opts->blocking->kind == 2)
        return part_blocks(sets, nsets, opts, part, nparts, out, count, err);
    if (opts->blocking && opts->blocking->kind == 1 && nparts > 1)
        return part_tables(sets, nsets, opts, part, nparts, out, count, err);
    /* the single-process checks (counts, bits, fingerprints) on all sets */
    bl_status st = BL_OK;
    uint64_t total = 0;
    for (size_t x = 0; x < nsets; x++)
        for (size_t y = x + 1; y < nsets; y++)
            total += (uint64_t)sets[x]->count * sets[y]->count;
    bl_match_opts o = *opts;
    o.top_k_one_sided = 1;
    bl_candidate *all = NULL;
    size_t n = 0, cap = 0;
    uint64_t base = 0;
    for (size_t x = 0; !st && x < nsets; x++)
        for (size_t y = x + 1; !st && y < nsets; y++) {
            size_t lo, hi;
            uint64_t rc = sets[y]->count;
            if (rc == 0 || sets[x]->count == 0) {
                lo = hi = 0;
            } else {
                share_rows(base, rc, sets[x]->count, total, part, nparts, &lo, &hi);
            }
            base += (uint64_t)sets[x]->count * rc;
            if (lo >= hi)
                continue;
            bl_clkset view = *sets[x]; /* rows [lo, hi) of x, no copy */
            view.data = sets[x]->data + lo * sets[x]->stride;
            view.ids = sets[x]->ids ? sets[x]->ids + lo : NULL;
            view.count = view.capacity = hi - lo;
            const bl_clkset *pair[2] = {&view, sets[y]};
            bl_candidate *c;
            size_t m;
            st = bl_match_candidates(pair, 2, &o, &c, &m, err);
            if (st)
                break;
            st = append(&all, &n, &cap, c, m, (uint32_t)x, (uint32_t)y, lo, err);
            free(c);
        }
    if (st) {
        free(all);
        return st;
    }
    if (!all && !(all = malloc(sizeof *all)))
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    *out = all;
    *count = n;
    return BL_OK;
}

bl_status bl_match_candidates_merge(const bl_clkset *const *sets, size_t nsets,
                                    const bl_match_opts *opts, bl_candidate *c, size_t *count,
                                    bl_error *err)
{
    size_t cap = opts->max_candidates ? opts->max_candidates : BL_MATCH_DEFAULT_MAX_CANDIDATES;
    if (*count > cap)
        return bl_error_set(err, BL_ELIMIT,
                            "more than %zu candidate pairs at threshold %g: raise the threshold, "
                            "use --top-k, or raise --max-candidates",
                            cap, opts->threshold);
    bl_candidates_sort(c, *count);
    /* LSH table and block shares hold a superset of each record's best
     * k: keep the best k of the union (row shares are exact already) */
    if (opts->top_k && opts->blocking)
        bli_candidates_topk_one_sided(c, count, sets, nsets, opts->top_k);
    if (opts->top_k && !opts->top_k_one_sided)
        return bl_candidates_enforce_k(sets, nsets, c, count, opts->top_k, err);
    return BL_OK;
}
