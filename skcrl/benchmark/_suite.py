"""The suite of offline tasks on which skcrl's defaults are chosen and checked.

Each task fixes a data set, its imbalance and the network; a seed fixes its split.
``benchmarks/protocol_defaults.py`` cross-validates candidate defaults on the
training parts of these splits; ``benchmarks/run_suite.py`` then runs the comparison
on their test parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import datasets
from .._modules import SmallCNN
from ._methods import REFERENCES
from ._run import _MLP, DATASETS

__all__ = ["IMAGE_ATTRIBUTE_METHODS", "IMAGE_METHODS", "SUITE", "TRACKS", "Task"]

#: The tracks of the suite: a network family and the data it reads.
TRACKS = ("tabular", "images")

#: The methods of the image track: plain, logit-adjusted, balanced and
#: oversampled cross-entropy, the deep long-tail baselines, CRL at its defaults
#: and on the network's embeddings (instance level), with class weights, and tuned
#: over :data:`~skcrl.benchmark.IMAGE_TUNING_GRID`; on the binary task also the
#: tuned thresholds; and the non-neural references (:data:`REFERENCES`) on the
#: flattened pixels. The full method list costs too much for a CNN on two cores.
IMAGE_METHODS = (
    "ce",
    "ce+la",
    "ce+balanced",
    "ce+ros",
    "focal",
    "ce+cb",
    "ce+cb-0.999",
    "ldam-drw",
    "crl",
    "crl-inst",
    "crl+balanced",
    "crl-tuned-small",
    "ce+threshold",
    "crl+threshold",
    *REFERENCES,
)

#: The image track's methods on attribute tasks (``compare_attributes.py``'s
#: names): binary cross-entropy plain, logit-adjusted, balanced and with
#: class-aware batches, the sigmoid focal loss, and CRL as in
#: :data:`IMAGE_METHODS`. No reference model: the references of the single-label
#: tasks take one label a row, not an indicator matrix.
IMAGE_ATTRIBUTE_METHODS = (
    "bce",
    "bce+la",
    "bce+balanced",
    "bce+sampler",
    "focal",
    "crl",
    "crl-inst",
    "crl+balanced",
)

#: The rare class of the binary image task: the tail of the long-tailed
#: Fashion-MNIST (ankle boot, 10 training images at ratio 100).
RARE_FASHION_CLASS = 9


def _fashion_images(imbalance_ratio, seed):
    return datasets.load_fashion_mnist_long_tailed(
        imbalance_ratio=imbalance_ratio, random_state=seed
    )


def _rare_fashion(imbalance_ratio, seed):
    data = _fashion_images(imbalance_ratio, seed)
    data.y_train = (data.y_train == RARE_FASHION_CLASS).astype(int)
    data.y_test = (data.y_test == RARE_FASHION_CLASS).astype(int)
    name = data.target_names[RARE_FASHION_CLASS]
    data.target_names = [f"not {name}", name]
    data.description += f"; binary: {name} against the other classes"
    return data


def _digit_images(imbalance_ratio, seed):
    return datasets.load_digits_long_tailed(
        imbalance_ratio=imbalance_ratio, as_images=True, random_state=seed
    )


#: Loaders of the image track's data sets, by ``Task.dataset``.
_IMAGES = {
    "fashion": _fashion_images,
    "fashion-rare": _rare_fashion,
    "digits": _digit_images,
}


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
    track : {"tabular", "images"}, default="tabular"
        ``"images"``: the samples are images ``(1, height, width)`` and the
        network is :class:`~skcrl.SmallCNN`; ``"tabular"``: feature vectors (or
        flattened images) and the MLP.

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
    track: str = "tabular"

    @property
    def network(self) -> dict:
        """The classifier arguments every method shares on this task."""
        if self.track == "images":
            # sized from the data (classes, channels, embeddings) by the estimator
            return {"module": SmallCNN}
        if self.kind == "attributes":
            return dict(_MLP)
        return dict(DATASETS[self.dataset].network)

    @property
    def methods(self) -> tuple | None:
        """The methods run on this task; None: every method."""
        if self.track != "images":
            return None
        return IMAGE_ATTRIBUTE_METHODS if self.kind == "attributes" else IMAGE_METHODS

    def load(self, seed: int):
        """The task's split for ``seed``: a Bunch of ``X_train``, ``y_train``,
        ``X_test``, ``y_test`` (for attributes, ``y`` is the indicator ``Y``,
        and ``source_train``, ``source_test`` the classes it was derived from)."""
        if self.track == "images" and self.kind != "attributes":
            return _IMAGES[self.dataset](self.imbalance_ratio, seed)
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
                as_images=self.track == "images",
                random_state=seed,
            )
        # the class each row's attributes come from, kept for weighing the test
        # part to the training distribution
        data.source_train, data.source_test = data.y_train, data.y_test
        data.y_train, data.y_test = data.Y_train, data.Y_test
        return data


#: The suite. The tabular track (an MLP): seven multi-class long tails of
#: different ratios, sizes and class counts, one mildly imbalanced multi-class
#: set, five naturally imbalanced binary sets from 1:3 to 1:129, two attribute
#: sets. The image track (:class:`~skcrl.SmallCNN`): long-tailed Fashion-MNIST
#: (ratio 100), its tail class against the rest (1:247), its attributes, and the
#: long-tailed digits as 8x8 images (ratios 10 and 40).
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
        Task("fashion-lt100-cnn", "multi-class", "fashion", 100.0, "images"),
        Task("fashion-rare-cnn", "binary", "fashion-rare", 100.0, "images"),
        Task("fashion-attributes-cnn", "attributes", "fashion", 100.0, "images"),
        Task("digits-lt10-cnn", "multi-class", "digits", 10.0, "images"),
        Task("digits-lt40-cnn", "multi-class", "digits", 40.0, "images"),
    ]
}
