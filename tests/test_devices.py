"""The loss in any grad mode and on any torch device type: caches that a first
call without gradients cannot poison, and every path run on the meta device
(which holds no values: any read back to the host, any tensor left on the CPU,
fails there)."""

import contextlib
import itertools

import numpy as np
import pytest
import torch

from skcrl import (
    ClassRectificationLoss,
    CRLClassifier,
    CRLMultiLabelClassifier,
    _cached,
    crl_loss,
)

LEVELS = ("class", "instance")
COMPARISONS = ("relative", "absolute", "distribution")


def _batch(device="cpu", *, n=48, n_classes=3, multi_label=False, seed=0):
    generator = torch.Generator().manual_seed(seed)
    n_out = 4 if multi_label else n_classes
    logits = torch.randn(n, n_out, generator=generator, dtype=torch.float64)
    if multi_label:
        rates = torch.tensor([0.5, 0.2, 0.1, 0.05], dtype=torch.float64)
        target = torch.rand(n, n_out, generator=generator, dtype=torch.float64) < rates
        target = target.to(torch.float64)
    else:
        weights = torch.tensor([0.7, 0.2, 0.1])
        target = torch.multinomial(weights, n, replacement=True, generator=generator)
    embeddings = torch.randn(n, 5, generator=generator, dtype=torch.float64)
    return logits.to(device), target.to(device), embeddings.to(device)


def _arguments(level, comparison, embeddings, memory, target, seed=1):
    arguments = dict(level=level, comparison=comparison)
    if level == "instance":
        arguments["embeddings"] = embeddings
    if memory:
        logits_m, target_m, embeddings_m = _batch(
            embeddings.device, n=32, multi_label=target.dim() == 2, seed=seed
        )
        arguments["memory"] = (logits_m.to(embeddings.dtype), target_m) + (
            (embeddings_m.to(embeddings.dtype),) if level == "instance" else ()
        )
    return arguments


def _gradient(logits, target, arguments):
    """The gradient of the loss with respect to the logits and, at instance
    level, the embeddings."""
    inputs = {"logits": logits.detach().requires_grad_()}
    if "embeddings" in arguments:
        inputs["embeddings"] = arguments["embeddings"].detach().requires_grad_()
    crl_loss(target=target, **{**arguments, **inputs}).backward()
    return [tensor.grad for tensor in inputs.values()]


@pytest.mark.parametrize("mode", [torch.inference_mode, torch.no_grad])
@pytest.mark.parametrize("memory", [False, True], ids=["plain", "memory"])
@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("level", LEVELS)
def test_first_evaluated_without_gradients_then_trained(
    level, comparison, memory, mode
):
    logits, target, embeddings = _batch()
    arguments = _arguments(level, comparison, embeddings, memory, target)
    _cached.clear()
    expected = _gradient(logits, target, arguments)
    # the caches filled by a first call in inference mode or without gradients,
    # as a validation loss computed the usual way fills them
    _cached.clear()
    with mode():
        evaluated = crl_loss(logits, target, **arguments)
    gradient = _gradient(logits, target, arguments)
    torch.testing.assert_close(gradient, expected)
    assert evaluated.item() == pytest.approx(
        crl_loss(logits, target, **arguments).item()
    )


def test_estimator_trains_after_an_evaluation_in_inference_mode():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (rng.random(120) < 0.2).astype(int)
    X[y == 1] += 1.0
    logits, target, embeddings = _batch(n=40)
    _cached.clear()
    with torch.inference_mode():
        crl_loss(
            logits.float(), target, level="instance", embeddings=embeddings.float()
        )
    clf = CRLClassifier(level="instance", max_epochs=2, random_state=0).fit(X, y)
    assert np.isfinite(clf.history[:, "train_loss"]).all()


#: the size gates of the loss, each forced to the path it otherwise takes only
#: for large inputs (the reference tests hold every path to the same values)
LAYOUTS = {
    "default": {},
    "many columns, anchor rows": {
        "skcrl._gates.MANY_COLUMNS": 0,
        "skcrl._gates.SELECT_ANCHORS_FROM": 0,
    },
    "sample by sample": {
        "skcrl._gates.class_by_class": lambda *_: False,
        "skcrl._gates.ABSOLUTE_ANCHORS_FROM": 0,
    },
    "blocked pairs": {
        "skcrl._gates.DENSE_PAIRS": 0,
        "skcrl._gates.SIMILARITY_BLOCK": 16,
    },
}


@contextlib.contextmanager
def no_host_synchronisation(device):
    """On CUDA, any read of the device by the host an error (the meta device
    holds no values: every read fails there anyway); benchmarks/gpu_check.py
    uses it around its training steps too."""
    if device != "cuda":
        yield
        return
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


#: the meta device everywhere; CUDA where there is one (benchmarks/gpu_check.py
#: runs the tests named "cuda" on a GPU machine)
DEVICES = [
    "meta",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(
            not torch.cuda.is_available(), reason="needs a CUDA device"
        ),
    ),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize(
    "variant", ["plain", "memory", "sample weights", "multi-label", "global mining"]
)
@pytest.mark.parametrize(
    ("level", "comparison"), list(itertools.product(LEVELS, COMPARISONS))
)
def test_forward_and_backward_on_the_device(
    monkeypatch, level, comparison, variant, layout, device
):
    for name, value in LAYOUTS[layout].items():
        monkeypatch.setattr(name, value)
    logits, target, embeddings = _batch(device, multi_label=variant == "multi-label")
    logits.requires_grad_()
    embeddings.requires_grad_()
    arguments = _arguments(level, comparison, embeddings, variant == "memory", target)
    if variant == "sample weights":
        arguments["sample_weight"] = torch.ones(len(target), device=device)
    if variant == "global mining":  # one process: the global batch is the local one
        arguments["mining"] = "global"
    with no_host_synchronisation(device):
        loss = crl_loss(logits, target, **arguments)
        loss.backward()
    assert loss.device.type == device and loss.shape == ()
    assert logits.grad.device.type == device
    if level == "instance":
        assert embeddings.grad.device.type == device


@pytest.mark.parametrize("multi_label", [False, True])
def test_balanced_loss_with_weights_prior_and_memory_on_the_meta_device(multi_label):
    logits, target, _ = _batch("meta", multi_label=multi_label)
    n_out = logits.shape[1]
    weight = torch.ones((n_out, 2) if multi_label else (n_out,))
    prior = torch.full((n_out,), 0.5 if multi_label else 1 / n_out)
    prior[0] = 0.3
    criterion = ClassRectificationLoss(
        alpha=0.5,
        logit_adjustment=1.0,
        prior=prior / (1 if multi_label else prior.sum()),
        weight=weight,
        memory_size=64,
    ).to("meta")
    for _ in range(2):  # the second batch mines against the first's rows
        batch = logits.detach().requires_grad_()
        criterion(batch, target, sample_weight=torch.ones(len(target), device="meta"))
        criterion(batch, target).backward()
    assert len(criterion.memory) > 0 and batch.grad.device.type == "meta"


@pytest.mark.parametrize("estimator", [CRLClassifier, CRLMultiLabelClassifier])
def test_estimator_loss_on_the_meta_device(estimator):
    # the estimator's training step (get_loss and its backward) on meta tensors:
    # the cross-entropy with its logit shift and class weights, the CRL term, the
    # memory; only the history, which records numbers, needs a real device
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    if estimator is CRLClassifier:
        y = np.repeat([0, 1, 2], [40, 16, 8])
    else:
        y = np.column_stack([np.arange(64) % 2, np.arange(64) % 5 == 0]).astype(int)
    net = estimator(
        max_epochs=1, class_weight="balanced", memory_size=1024, random_state=0
    ).fit(X, y)
    net.module_.to("meta")
    net._logit_shift_ = torch.ones(net._n_logits(), device="meta")
    with contextlib.suppress(AttributeError):
        net._entry_weight_ = net._entry_weight_.to("meta")
    net.criterion_.to("meta")
    output = net.module_(torch.as_tensor(X, device="meta"))
    target = torch.as_tensor(y, device="meta")
    loss = net.get_loss(output, target, training=True)
    loss.backward()
    assert loss.device.type == "meta"
    assert all(p.grad.device.type == "meta" for p in net.module_.parameters())
    # the fit's last rows, moved with the criterion, and this batch's
    net.criterion_.crl_memory.commit()
    assert len(net.criterion_.crl_memory) == 2 * len(X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
@pytest.mark.parametrize("estimator", [CRLClassifier, CRLMultiLabelClassifier])
def test_an_unavailable_device_is_refused_before_training(estimator, device):
    X = np.zeros((20, 3), dtype=np.float32)
    y = np.r_[np.zeros(15), np.ones(5)].astype(int)
    if estimator is CRLMultiLabelClassifier:
        y = np.column_stack([y, 1 - y])
    clf = estimator(device=device, max_epochs=1)
    with pytest.raises(ValueError, match=r"device=.*cuda.*not available.*'cpu'"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")
    with pytest.raises(ValueError, match="cuda"):
        estimator(device=device).initialize()
