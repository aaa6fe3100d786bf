"""Trains CRL estimators with skorch's AccelerateMixin in each process of a
``torch.distributed.run`` launch and saves what tests/test_accelerate.py checks.

    python -m torch.distributed.run --nproc_per_node 2 tests/accelerate_worker.py \
        OUT_DIR [bf16]
"""

import sys
from pathlib import Path

import numpy as np
import torch

#: per-process batch; a single process with the global batch uses WORLD times it
BATCH = 16
EPOCHS = 2


def data(n=256, seed=0):
    """Long-tailed 4-class data, and two attributes (one rare) of the same rows."""
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=n, p=[0.7, 0.2, 0.07, 0.03])
    centres = rng.normal(size=(4, 6))
    X = (centres[y] + rng.normal(scale=1.5, size=(n, 6))).astype(np.float32)
    Y = np.column_stack([y == 0, y == 3]).astype(np.int64)
    return X, y, Y


def settings(mining, batch_size):
    return dict(
        mining=mining,
        batch_size=batch_size,
        max_epochs=EPOCHS,
        lr=0.01,
        iterator_train__shuffle=False,
        random_state=0,
        memory_size=64,
    )


def main(out_dir, precision):
    from accelerate import Accelerator
    from skorch.hf import AccelerateMixin

    from skcrl import CRLClassifier, CRLMultiLabelClassifier

    class AcceleratedCRL(AccelerateMixin, CRLClassifier):
        pass

    class AcceleratedMultiLabel(AccelerateMixin, CRLMultiLabelClassifier):
        pass

    torch.set_num_threads(1)
    accelerator = Accelerator(mixed_precision=precision)
    X, y, Y = data()
    results = {"world": accelerator.num_processes}
    runs = [
        ("multi-class", AcceleratedCRL, y),
        ("multi-label", AcceleratedMultiLabel, Y),
    ]
    minings = ("global",) if precision == "bf16" else ("global", "local")
    for kind, cls, target in runs:
        for mining in minings:
            net = cls(accelerator=accelerator, **settings(mining, BATCH)).fit(X, target)
            results[kind, mining] = {
                "state": {
                    k: v.detach().cpu() for k, v in net.module_.state_dict().items()
                },
                "train_loss": net.history[:, "train_loss"],
                "train_crl": net.history[:, "train_crl"],
                "memory": len(net.criterion_.crl_memory),
            }
    torch.save(results, Path(out_dir) / f"rank{accelerator.process_index}.pt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "no")
