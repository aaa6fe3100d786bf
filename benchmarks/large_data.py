"""Training from a Dataset that reads images lazily from files, against the same
images held in memory as one array: peak memory and time of ``fit``.

Fashion-MNIST's training images (a long tail: ``--n-max`` of class 0 down to
``n_max / 100`` of class 9) are written once as one ``.npy`` file per image.
Each variant then runs in a fresh process (so that its peak resident memory is
its own), one torch thread, ``SmallCNN``, 1 epoch, batches of 128:

- ``array``: the images loaded into one float32 array, ``fit(X, y)``;
- ``lazy files``: a Dataset that opens one file per sample and keeps its labels as
  ``targets`` (read without opening a file), ``fit(dataset, None)``;
- ``lazy files, class-aware batches``: the same with
  :class:`skcrl.ClassAwareDataLoader`.

    python benchmarks/large_data.py --output docs/results/large_data.json   # ~2 min
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from skcrl import ClassAwareDataLoader, CRLClassifier, SmallCNN
from skcrl.datasets import FASHION_MNIST_HOME, read_idx

VARIANTS = ("array", "lazy files", "lazy files, class-aware batches")


class ImageFiles(torch.utils.data.Dataset):
    """One ``.npy`` image per file, read when a sample is asked for."""

    def __init__(self, paths, targets):
        self.paths = list(paths)
        self.targets = np.asarray(targets)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        image = np.load(self.paths[index]).astype(np.float32) / 255.0
        return torch.from_numpy(image[None]), self.targets[index]


def long_tailed_indices(labels, n_max, ratio=100.0, seed=0):
    """``n_max * ratio ** (-c / 9)`` images of class ``c``."""
    rng = np.random.default_rng(seed)
    counts = np.maximum(1, np.round(n_max * ratio ** (-np.arange(10) / 9))).astype(int)
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=count, replace=False)
        for c, count in enumerate(counts)
    ]
    return rng.permutation(np.concatenate(chosen))


def write_images(directory, n_max):
    images = read_idx(FASHION_MNIST_HOME / "train-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_MNIST_HOME / "train-labels-idx1-ubyte.gz")
    index = long_tailed_indices(labels, n_max)
    (Path(directory) / "images").mkdir()
    paths = []
    for i, row in enumerate(index):
        path = Path(directory) / "images" / f"{i:06d}.npy"
        np.save(path, images[row])
        paths.append(str(path))
    return paths, labels[index].astype(np.int64)


def run_variant(variant, directory):
    torch.set_num_threads(1)
    paths = sorted(str(p) for p in (Path(directory) / "images").glob("*.npy"))
    labels = np.load(Path(directory) / "labels.npy")
    extra = {}
    if variant.endswith("class-aware batches"):
        extra["iterator_train"] = ClassAwareDataLoader
    clf = CRLClassifier(
        SmallCNN,
        module__n_classes=10,
        max_epochs=1,
        batch_size=128,
        random_state=0,
        **extra,
    )
    start = time.perf_counter()
    if variant == "array":
        X = np.stack([np.load(p) for p in paths]).astype(np.float32)[:, None] / 255.0
        clf.fit(X, labels)
    else:
        clf.fit(ImageFiles(paths, labels), None)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mib": peak_mib}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-max", type=int, default=6000, help="images of class 0")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:  # a child process: one variant, its figures on stdout
        print(json.dumps(run_variant(args.variant, args.directory)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        paths, labels = write_images(directory, args.n_max)
        np.save(Path(directory) / "labels.npy", labels)
        on_disk = sum(Path(p).stat().st_size for p in paths) / 2**20
        for variant in VARIANTS:
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--variant",
                    variant,
                    "--directory",
                    directory,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            results[variant] = json.loads(child.stdout.strip().splitlines()[-1])
            print(variant, results[variant])
    report = {
        "command": "python benchmarks/large_data.py " + " ".join(argv or sys.argv[1:]),
        "machine": f"{platform.machine()}, 1 torch thread",
        "torch": torch.__version__,
        "n_images": len(labels),
        "class_counts": np.bincount(labels, minlength=10).tolist(),
        "images_on_disk_mib": on_disk,
        "array_mib": len(labels) * 28 * 28 * 4 / 2**20,
        "results": results,
    }
    if args.output:
        args.output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
