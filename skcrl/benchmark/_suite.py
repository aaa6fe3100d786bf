"""The suite of offline tasks on which skcrl's defaults are chosen and checked.

Each task fixes a data set, its imbalance and the network; a seed fixes its split.
``benchmarks/protocol_defaults.py`` cross-validates candidate defaults on the
training parts of these splits; ``benchmarks/run_suite.py`` then runs the comparison
on their test parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import datasets
from ._run import _MLP, DATASETS

__all__ = ["SUITE", "Task"]


@dataclass(frozen=True)
class Task:
    """One task of the suite.

    Parameters
    ----------
    name : str
    kind : {"multi-class", "binary", "attributes"}
        ``"attributes"`` tasks have a 0/1 indicator target ``(n, J)`` and train
        :class:`~skcrl.CRLMultiLabelClassifier`; the others
        :class:`~skcrl.CRLClassifier`.
    dataset : str
        A name of :data:`DATASETS` (``"attributes"``: ``"digits"`` or
        ``"fashion"``).
    imbalance_ratio : float, default=None
        Head / tail of a long-tailed data set; None for a natural imbalance.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl.benchmark import SUITE
    >>> task = SUITE["digits-lt40"]
    >>> np.bincount(task.load(seed=0).y_train).tolist()[-3:]
    [7, 4, 3]
    """

    name: str
    kind: str
    dataset: str
    imbalance_ratio: float | None = None

    @property
    def network(self) -> dict:
        """The classifier arguments every method shares on this task."""
        if self.kind == "attributes":
            return dict(_MLP)
        return dict(DATASETS[self.dataset].network)

    def load(self, seed: int):
        """The task's split for ``seed``: a Bunch of ``X_train``, ``y_train``,
        ``X_test``, ``y_test`` (for attributes, ``y`` is the indicator ``Y``,
        and ``source_train``, ``source_test`` the classes it was derived from)."""
        if self.kind != "attributes":
            return DATASETS[self.dataset].load(
                imbalance_ratio=self.imbalance_ratio, random_state=seed
            )
        if self.dataset == "digits":
            data = datasets.load_digits_attributes(
                imbalance_ratio=self.imbalance_ratio, random_state=seed
            )
        else:
            data = datasets.load_fashion_mnist_attributes(
                imbalance_ratio=self.imbalance_ratio,
                as_images=False,
                random_state=seed,
            )
        # the class each row's attributes come from, kept for weighing the test
        # part to the training distribution
        data.source_train, data.source_test = data.y_train, data.y_test
        data.y_train, data.y_test = data.Y_train, data.Y_test
        return data


#: The suite: seven multi-class long tails of different ratios, sizes and class
#: counts, one mildly imbalanced multi-class set, five naturally imbalanced
#: binary sets from 1:3 to 1:129, two attribute sets.
SUITE = {
    task.name: task
    for task in [
        Task("digits-lt10", "multi-class", "digits", 10.0),
        Task("digits-lt40", "multi-class", "digits", 40.0),
        Task("fashion-lt100", "multi-class", "fashion-mlp", 100.0),
        Task("vowel-lt20", "multi-class", "vowel", 20.0),
        Task("segment-lt50", "multi-class", "segment", 50.0),
        Task("yeast", "multi-class", "yeast"),
        Task("page-blocks", "multi-class", "page-blocks"),
        Task("satimage", "multi-class", "satimage"),
        Task("vehicle0", "binary", "vehicle0"),
        Task("ecoli4", "binary", "ecoli4"),
        Task("yeast4", "binary", "yeast4"),
        Task("yeast6", "binary", "yeast6"),
        Task("abalone19", "binary", "abalone19"),
        Task("digits-attributes", "attributes", "digits", 10.0),
        Task("fashion-attributes", "attributes", "fashion", 100.0),
    ]
}
