"""anonlink.solving.greedy_solve / probabilistic_greedy_solve backed by
blindlink: they take find_candidate_pairs' result and return a tuple of
groups, each a tuple of (dataset, record) pairs. Group order may differ from
anonlink's (which follows a hash-set order); the groups are the same."""
import ctypes

from ... import core, _lib


def _as_candidates(candidates):
    sims, (d0, d1), (r0, r1) = candidates
    n = len(sims)
    if not (len(d0) == len(d1) == len(r0) == len(r1) == n):
        raise ValueError("candidate arrays differ in length")
    arr = (_lib.Candidate * max(1, n))()
    for i in range(n):
        c = arr[i]
        c.score = sims[i]
        c.dset[0], c.dset[1], c.rec[0], c.rec[1] = d0[i], d1[i], r0[i], r1[i]
    return core._Candidates(ctypes.addressof(arr), n), arr


def _run(candidates, solver, merge_threshold=0.5, deduplicated=True):
    c, keep = _as_candidates(candidates)
    groups = core._solve(c, solver, merge_threshold, deduplicated)  # c is not freed: we own it
    del keep
    return tuple(groups)


def greedy_solve(candidates):
    return _run(candidates, "greedy")


def probabilistic_greedy_solve(candidates, merge_threshold=0.5, deduplicated=True):
    return _run(candidates, "probabilistic", merge_threshold, deduplicated)
