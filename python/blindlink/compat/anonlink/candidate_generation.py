"""anonlink.candidate_generation.find_candidate_pairs backed by blindlink."""
import array

from ... import core
from . import similarities


def find_candidate_pairs(datasets, similarity_f, threshold, k=None, blocking_f=None):
    """Candidate pairs over every pair of datasets (any number of them):
    ``(sims, (dset_is0, dset_is1), (rec_is0, rec_is1))``, at most ``k`` per
    record per dataset pair in both directions, in anonlink's order.
    ``similarity_f`` must be a Dice coefficient (this module's or
    anonlink's); for blocking use blindlink.match(..., blocking=LSH(key))."""
    name = getattr(similarity_f, "__name__", "")
    if similarity_f not in (similarities.dice_coefficient_accelerated,) and \
            not name.startswith("dice_coefficient"):
        raise ValueError("only the Dice coefficient is supported (got %r)" % (name,))
    if blocking_f is not None:
        raise NotImplementedError("blocking_f is not supported; use blindlink.match(..., "
                                  "blocking=blindlink.LSH(key)) or the CLI's --blocks")
    with core._find_candidates(list(datasets), threshold, k) as c:
        t = c.tuples()
    return (array.array("d", [x[0] for x in t]),
            (array.array("I", [x[1] for x in t]), array.array("I", [x[2] for x in t])),
            (array.array("I", [x[3] for x in t]), array.array("I", [x[4] for x in t])))
