"""The call path of ``crl_loss`` through skcrl's modules, from the logits to the
value: which module calls which, in order, and how often the path goes back up.

Every Python call made inside ``skcrl`` during one forward + backward is traced
(``sys.setprofile``); the path is the sequence of modules entered, with repeats
of the same module in a row collapsed. Two counts:

- *climbs*: calls into a module that is already on the call stack below the
  caller's (a lower module calling back up into one that called it);
- *returns*: entries into a module the path had already entered and left.

A loss whose calls run downward (``crl_loss`` -> a level -> its lists and one
comparison -> the chain back to the logits) has no climbs and few returns.
``--against REV`` prints the same for an earlier revision (its package taken
out of git, as ``bench_ab.py`` does).

    python benchmarks/call_path.py
    python benchmarks/call_path.py --against cdca30c
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from bench_ab import earlier_crl_loss
from bench_loss import COMPARISONS, long_tailed_batch

from skcrl import crl_loss

#: modules that hold no step of the loss: caches and checks
UTILITIES = {"_cached", "_checks", "_gates", "_docstrings"}


def traced_modules(loss_fn, package, level, comparison, n=128, n_classes=10):
    """The modules entered, in call order, and the climbs, over one forward +
    backward of ``loss_fn``."""
    logits, labels, embeddings = long_tailed_batch(n, n_classes)
    logits.requires_grad_()
    embeddings.requires_grad_()
    run = lambda: loss_fn(  # noqa: E731
        logits, labels, embeddings=embeddings, level=level, comparison=comparison
    ).backward()
    run()  # warm: caches
    entered, stack, climbs = [], [], 0

    def module_of(frame):
        name = frame.f_globals.get("__name__", "")
        if not name.startswith(package + "."):
            return None
        short = name.split(".")[-1]
        return None if short in UTILITIES else short

    def profile(frame, event, arg):
        nonlocal climbs
        if event == "call":
            module = module_of(frame)
            caller = stack[-1] if stack else None
            if module is not None and module != caller:
                if module in stack:
                    climbs += 1
                entered.append(module)
            stack.append(module if module is not None else caller)
        elif event == "return" and stack:
            stack.pop()

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    path = [m for i, m in enumerate(entered) if i == 0 or m != entered[i - 1]]
    returns = sum(m in path[:i] for i, m in enumerate(path))
    return path, climbs, returns


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", help="also trace this git revision")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    versions = [("now", crl_loss, "skcrl")]
    with tempfile.TemporaryDirectory() as folder:
        if args.against:
            earlier = earlier_crl_loss(args.against, folder)
            versions.append((args.against, earlier, earlier.__module__.split(".")[0]))
        print("| revision | level, comparison | climbs | returns | path |")
        print("|---|---|---:|---:|---|")
        rows = []
        for name, loss_fn, package in versions:
            for level in ("class", "instance"):
                for comparison in COMPARISONS:
                    path, climbs, returns = traced_modules(
                        loss_fn, package, level, comparison
                    )
                    rows.append(
                        dict(
                            revision=name,
                            level=level,
                            comparison=comparison,
                            climbs=climbs,
                            returns=returns,
                            path=path,
                        )
                    )
                    print(
                        f"| {name} | {level} {comparison} | {climbs} | {returns} "
                        f"| {' -> '.join(path)} |"
                    )
    if args.json:
        command = "python benchmarks/call_path.py" + (
            f" --against {args.against}" if args.against else ""
        )
        Path(args.json).write_text(
            json.dumps({"command": command, "rows": rows}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
