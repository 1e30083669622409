"""anonlink.similarities.dice_coefficient(_accelerated) backed by blindlink."""
import array

from ... import core


def dice_coefficient_accelerated(datasets, threshold, k=None):
    """Pairs of the two datasets with Dice >= threshold, at most ``k`` per
    record of the first (its best k): ``(sims, (idx0, idx1))`` as
    array('d') / array('I'), by similarity descending, then index."""
    if len(datasets) != 2:
        raise ValueError("only 2 datasets at a time are supported")
    with core._find_candidates(list(datasets), threshold, k, one_sided=True) as c:
        t = c.tuples()
    return (array.array("d", [x[0] for x in t]),
            (array.array("I", [x[3] for x in t]), array.array("I", [x[4] for x in t])))


dice_coefficient = dice_coefficient_accelerated
dice_coefficient_python = dice_coefficient_accelerated
