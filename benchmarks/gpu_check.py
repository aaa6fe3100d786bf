"""The checks that need a CUDA device, as one script for a lent GPU machine.

1. The CUDA tests of the suite (``pytest -k cuda``: they skip on a machine without
   a GPU), among them every level x comparison x {plain, memory, sample weights,
   multi-label, global mining} x forced layout, forward and backward on CUDA
   under ``torch.cuda.set_sync_debug_mode("error")``
   (``tests/test_devices.py``, which runs the same on the meta device here).
2. No host synchronisation inside a training step: a default ``CRLClassifier``
   (and the multi-label one, and the instance level) fits on CUDA with
   ``torch.cuda.set_sync_debug_mode("error")`` around the forward pass, the loss,
   its backward pass and the optimiser step. The history's per-batch terms and the
   divergence guard read the device between those on purpose, once per step each,
   and are left outside.
3. Timing, CUDA-synchronised: ``benchmarks/bench_loss.py --device cuda`` (the loss
   against cross-entropy) and ``benchmarks/bench_fit.py --device cuda`` (fit
   against skorch).

    python benchmarks/gpu_check.py                    # all three, ~5 min
    python benchmarks/gpu_check.py --output gpu       # also keep the JSON files

Exits non-zero when a test fails or a step synchronises.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def synchronisation_is_an_error():
    """Any read of the CUDA device by the host an error, inside (the tests'
    own context manager)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from test_devices import no_host_synchronisation

    return no_host_synchronisation("cuda")


def _checked(base):
    """``base`` with its step's device work run under the sync check."""

    class Checked(base):
        def train_step_single(self, batch, **fit_params):
            # skorch's: forward pass, loss, backward pass
            with synchronisation_is_an_error():
                return super().train_step_single(batch, **fit_params)

        def initialize_optimizer(self, *args, **kwargs):
            super().initialize_optimizer(*args, **kwargs)
            step = self.optimizer_.step

            def checked_step(*step_args, **step_kwargs):
                with synchronisation_is_an_error():
                    return step(*step_args, **step_kwargs)

            self.optimizer_.step = checked_step
            return self

    Checked.__name__ = f"SyncChecked{base.__name__}"
    return Checked


def step_synchronisation_check():
    from skcrl import CRLClassifier, CRLMultiLabelClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 32)).astype(np.float32)
    y = np.where(rng.random(2000) < 0.05, 1, rng.integers(2, 6, size=2000))
    Y = (rng.random((2000, 4)) < [0.5, 0.2, 0.05, 0.02]).astype(np.float32)
    runs = {
        "CRLClassifier()": (CRLClassifier, {}, y),
        "CRLClassifier(memory_size=1024, class_weight='balanced')": (
            CRLClassifier,
            dict(memory_size=1024, class_weight="balanced"),
            y,
        ),
        "CRLClassifier(level='instance')": (CRLClassifier, dict(level="instance"), y),
        "CRLMultiLabelClassifier()": (CRLMultiLabelClassifier, {}, Y),
    }
    failed = []
    for name, (estimator, arguments, target) in runs.items():
        clf = _checked(estimator)(
            device="cuda", max_epochs=2, random_state=0, **arguments
        )
        try:
            clf.fit(X, target)
            print(f"no synchronisation in a step: {name}")
        except RuntimeError as error:
            failed.append(name)
            print(f"SYNCHRONISES: {name}: {error}")
    return failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: nothing to check here.")
    print(torch.cuda.get_device_name(0), "torch", torch.__version__, flush=True)
    status = subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-k", "cuda", "-p", "no:cacheprovider"],
        cwd=HERE.parent,
    )
    failed = step_synchronisation_check()
    timing = {
        "bench_loss.py": ["--device", "cuda"],
        "bench_fit.py": ["--device", "cuda"],
    }
    for script, options in timing.items():
        if args.output is not None:
            args.output.mkdir(parents=True, exist_ok=True)
            name = Path(script).stem + "_cuda.json"
            flag = "--json" if script == "bench_loss.py" else "--output"
            options = [*options, flag, str(args.output / name)]
        subprocess.call([sys.executable, str(HERE / script), *options])
    if status != 0 or failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
