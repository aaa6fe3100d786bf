"""The memory across batches (SPEC §11): the loss, the module and the estimators."""

import pickle

import numpy as np
import pytest
import torch
from batches import random_batch
from reference_crl import reference_crl_loss
from sklearn.base import clone
from skorch.callbacks import Checkpoint
from skorch.dataset import ValidSplit

from skcrl import (
    ClassRectificationLoss,
    CRLClassifier,
    CRLMultiLabelClassifier,
    crl_loss,
)
from skcrl._memory import CRLMemory

COMPARISONS = ["relative", "absolute", "distribution"]


def _split_batch(seed, multi_label, embedding="shared"):
    """A random batch cut in two: the first rows a batch, the rest its memory."""
    logits, target, embeddings, k, margin, rho = random_batch(
        seed, multi_label=multi_label, embedding=embedding
    )
    cut = max(1, len(target) // 3)
    return (logits, target, embeddings, cut), dict(k=k, margin=margin, rho=rho)


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize(
    ("level", "multi_label", "embedding"),
    [
        ("class", False, "shared"),
        ("class", True, "shared"),
        ("instance", False, "shared"),
        ("instance", True, "per_attribute"),
    ],
)
def test_memory_is_the_union_with_constant_memory_rows(
    level, multi_label, embedding, comparison
):
    n_nonzero = 0
    for seed in range(20):
        (logits, target, embeddings, cut), params = _split_batch(
            seed, multi_label, embedding
        )
        params.update(level=level, comparison=comparison)
        batch_logits = logits[:cut].clone().requires_grad_()
        batch_embeddings = embeddings[:cut].clone().requires_grad_()
        held_logits = logits[cut:].clone().requires_grad_()
        got = crl_loss(
            batch_logits,
            target[:cut],
            embeddings=batch_embeddings,
            memory=(held_logits, target[cut:], embeddings[cut:]),
            **params,
        )
        got_grads = torch.autograd.grad(
            got, (batch_logits, batch_embeddings, held_logits), allow_unused=True
        )
        # the independent loop-based reference on the whole, memory detached
        ref_logits = logits[:cut].clone().requires_grad_()
        ref_embeddings = embeddings[:cut].clone().requires_grad_()
        want = reference_crl_loss(
            torch.cat((ref_logits, logits[cut:])),
            target,
            embeddings=torch.cat((ref_embeddings, embeddings[cut:])),
            **params,
        )
        want_grads = torch.autograd.grad(
            want, (ref_logits, ref_embeddings), allow_unused=True
        )
        torch.testing.assert_close(got.detach(), want.detach(), rtol=1e-9, atol=1e-12)
        for g, w, x in zip(
            got_grads[:2], want_grads, (batch_logits, batch_embeddings), strict=True
        ):
            g = torch.zeros_like(x) if g is None else g
            w = torch.zeros_like(x) if w is None else w
            torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)
        # no gradient reaches the memory
        assert got_grads[2] is None or not got_grads[2].any()
        n_nonzero += bool(want != 0)
    assert n_nonzero >= 5


def test_memory_mines_a_class_that_comes_once_per_batch():
    # One sample of class 1 per batch: never mined alone, mined with the memory.
    logits = torch.tensor([[2.0, 0.0], [1.0, 0.5], [0.5, 1.0], [3.0, -1.0]])
    batch = (logits[:2].clone().requires_grad_(), torch.tensor([0, 1]))
    assert crl_loss(*batch) == 0
    memory = (logits[2:], torch.tensor([1, 0]))
    loss = crl_loss(*batch, memory=memory)
    assert loss > 0
    loss.backward()
    assert batch[0].grad[1].abs().sum() > 0  # the rare sample of the batch moves


def test_memory_arguments_are_checked():
    logits, target = torch.zeros(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(TypeError, match="memory must be a tuple"):
        crl_loss(logits, target, memory=torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"shape \(m, 3\)"):
        crl_loss(logits, target, memory=(torch.zeros(2, 2), torch.tensor([0, 1])))
    with pytest.raises(ValueError, match="memory's target"):
        crl_loss(logits, target, memory=(torch.zeros(2, 3), torch.tensor([0])))
    with pytest.raises(ValueError, match="memory must hold them too"):
        crl_loss(
            logits,
            target,
            embeddings=torch.zeros(4, 2),
            level="instance",
            memory=(torch.zeros(2, 3), torch.tensor([0, 1])),
        )


def test_first_in_first_out():
    memory = CRLMemory(5)
    assert memory.contents() is None and len(memory) == 0
    for start in (0, 3, 6):
        rows = torch.arange(start, start + 3)
        memory.push(rows.float().unsqueeze(1), rows)
    # newest batch first, each batch in its own order, the oldest beyond 5 dropped
    assert memory.contents()[1].tolist() == [6, 7, 8, 3, 4]
    assert memory.contents()[0][:, 0].tolist() == [6.0, 7.0, 8.0, 3.0, 4.0]
    big = torch.arange(10, 17)
    memory.push(big.float().unsqueeze(1), big)
    assert memory.contents()[1].tolist() == [10, 11, 12, 13, 14]
    memory.clear()
    assert len(memory) == 0
    nothing = CRLMemory(0)
    nothing.push(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long))
    assert nothing.contents() is None


def test_pushed_rows_are_detached_copies():
    logits = torch.randn(4, 2, requires_grad=True)
    memory = CRLMemory(8)
    memory.push(logits, torch.tensor([0, 1, 0, 1]))
    held = memory.contents()[0]
    assert not held.requires_grad
    assert held.data_ptr() != logits.data_ptr()


def test_state_dict_round_trip_of_any_length():
    memory = CRLMemory(6)
    memory.push(torch.randn(4, 3), torch.tensor([0, 1, 2, 1]), torch.randn(4, 5))
    restored = CRLMemory(6)
    restored.load_state_dict(memory.state_dict())
    for a, b in zip(memory.contents(), restored.contents(), strict=True):
        torch.testing.assert_close(a, b)
    restored.load_state_dict(CRLMemory(6).state_dict())  # an empty memory
    assert restored.contents() is None


def test_loss_module_fills_memory_in_training_only():
    torch.manual_seed(0)
    criterion = ClassRectificationLoss(alpha=0.5, memory_size=10)
    logits, target = torch.randn(4, 3, requires_grad=True), torch.tensor([0, 1, 2, 0])
    criterion(logits, target)
    assert len(criterion.memory) == 4
    with torch.no_grad():
        criterion(logits, target)
    criterion.eval()
    criterion(logits, target)
    assert len(criterion.memory) == 4
    criterion.train()
    second = torch.randn(4, 3)
    terms = criterion.terms(second, torch.tensor([1, 1, 0, 2]))
    want = crl_loss(
        second, torch.tensor([1, 1, 0, 2]), memory=(logits.detach(), target)
    )
    torch.testing.assert_close(terms.crl, want)
    assert "memory.logits" in criterion.state_dict()


# -- estimators -----------------------------------------------------------------


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0.8).astype(int)
    return X, y


def _memory_of(net):
    return net.criterion_.crl_memory


def test_fit_empties_partial_fit_and_warm_start_keep():
    X, y = _data()
    clf = CRLClassifier(memory_size=1000, max_epochs=1, batch_size=32, random_state=0)
    clf.fit(X, y)
    assert len(_memory_of(clf)) == 120
    clf.fit(X, y)
    assert len(_memory_of(clf)) == 120  # emptied first
    clf.partial_fit(X, y)
    assert len(_memory_of(clf)) == 240
    clf.set_params(warm_start=True)
    clf.fit(X, y)
    assert len(_memory_of(clf)) == 360


def test_memory_is_not_used_in_validation():
    X, y = _data(n=200)
    clf = CRLClassifier(
        memory_size=1000,
        max_epochs=2,
        train_split=ValidSplit(4, stratified=True),
        random_state=0,
    ).fit(X, y)
    assert len(_memory_of(clf)) == 2 * 150  # two epochs of the training part
    assert len(clf.history[-1, "batches"]) > 0


def test_estimator_loss_mines_the_memory():
    X, y = _data()
    clf = CRLClassifier(
        alpha=0.7, memory_size=50, logit_adjustment=0.0, max_epochs=1, random_state=0
    )
    clf.fit(X, y)
    memory = _memory_of(clf)
    memory.clear()
    first = clf.module_(torch.as_tensor(X[:20]))
    y_first = torch.as_tensor(y[:20])
    clf.get_loss(first, y_first, training=True)
    assert len(memory) == 0  # the batch goes in when it ends, not with its loss
    clf.on_batch_end(clf, training=True)
    second = clf.module_(torch.as_tensor(X[20:40]))
    y_second = torch.as_tensor(y[20:40])
    got = clf.get_loss(second, y_second, training=True)
    clf.on_batch_end(clf, training=True)
    crl = crl_loss(second, y_second, memory=(first.detach(), y_first))
    ce = torch.nn.functional.cross_entropy(second, y_second)
    torch.testing.assert_close(got, 0.7 * crl + 0.3 * ce)
    assert len(memory) == 40
    clf.get_loss(second, y_second, training=False)  # validation: untouched
    assert len(memory) == 40


def test_a_batch_goes_into_the_memory_once_per_step_with_lbfgs():
    # LBFGS evaluates the loss several times per step: the memory must still
    # hold each batch once
    X, y = _data(n=120)
    clf = CRLClassifier(
        optimizer=torch.optim.LBFGS,
        lr=0.5,
        batch_size=40,
        memory_size=1000,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    assert len(_memory_of(clf)) == 2 * 120


def test_multilabel_memory_holds_all_attributes():
    X, _ = _data()
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1.0, X[:, 2] > 0.5]).astype(int)
    clf = CRLMultiLabelClassifier(
        memory_size=64, level="instance", max_epochs=2, random_state=0
    ).fit(X, Y)
    logits, target, embeddings = _memory_of(clf).contents()
    assert logits.shape == (64, 3) and target.shape == (64, 3)
    assert embeddings.shape == (64, 128)  # the MLP's hidden layer


def test_checkpoint_saves_and_restores_the_memory(tmp_path):
    X, y = _data()
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    clf = CRLClassifier(
        memory_size=30, max_epochs=2, callbacks=[checkpoint], random_state=0
    ).fit(X, y)
    saved = _memory_of(clf).contents()
    restored = CRLClassifier(memory_size=30, random_state=0)
    restored.fit(X, y)  # sizes the default module, then load the checkpoint
    restored.load_params(checkpoint=checkpoint)
    for a, b in zip(saved, _memory_of(restored).contents(), strict=True):
        torch.testing.assert_close(a, b)


def test_user_criterion_instance_is_used_as_skorch_uses_it():
    # skorch trains module and criterion instances in place; clone copies them
    X, y = _data()
    criterion = torch.nn.CrossEntropyLoss()
    clf = CRLClassifier(criterion=criterion, memory_size=10, max_epochs=1).fit(X, y)
    assert clf.criterion_ is criterion
    assert len(_memory_of(clf)) == 10
    copy = clone(clf).fit(X, y)
    assert copy.criterion_ is not criterion


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_memory_size_fails_before_training(value):
    X, y = _data()
    with pytest.raises((ValueError, TypeError), match="memory_size"):
        CRLClassifier(memory_size=value).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("level", ["class", "instance"])
def test_memory_stays_on_the_device_without_sync(level):
    criterion = ClassRectificationLoss(alpha=0.5, level=level, memory_size=256)
    criterion.to("cuda")
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            logits = torch.randn(64, 10, device="cuda", requires_grad=True)
            target = torch.randint(0, 10, (64,), device="cuda")
            embeddings = torch.randn(64, 8, device="cuda", requires_grad=True)
            criterion(logits, target, embeddings).backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert criterion.memory.contents()[0].device.type == "cuda"


def test_staged_rows_go_in_once_on_commit():
    memory = CRLMemory(10)
    memory.stage(torch.zeros(2, 3), torch.tensor([0, 1]))
    memory.stage(torch.ones(2, 3), torch.tensor([2, 2]))  # the same step, again
    assert len(memory) == 0
    memory.commit()
    memory.commit()  # nothing staged any more
    assert memory.contents()[1].tolist() == [2, 2]


def test_window_matches_a_plain_first_in_first_out_list():
    # Pushes of varying sizes (some past the size), a reload in the middle, and
    # windows handed out earlier, against a plain list of rows, newest first.
    generator = torch.Generator().manual_seed(0)
    memory, size = CRLMemory(7), 7
    expected = []
    handed_out = []
    for step, n in enumerate([3, 1, 4, 2, 2, 9, 1, 5, 3, 3, 6, 1, 2]):
        logits = torch.randn(n, 2, generator=generator)
        target = torch.randint(0, 2, (n,), generator=generator)
        memory.push(logits, target)
        expected = [(logits[i], target[i]) for i in range(n)][:size] + expected
        expected = expected[:size]
        held_logits, held_target = memory.contents()
        torch.testing.assert_close(held_logits, torch.stack([e[0] for e in expected]))
        assert held_target.tolist() == [int(e[1]) for e in expected]
        handed_out.append((held_logits, held_logits.clone()))
        if step == 6:  # a memory restored from its state continues the same
            restored = CRLMemory(size)
            restored.load_state_dict(memory.state_dict())
            memory = restored
    for window, copy in handed_out:
        torch.testing.assert_close(window, copy, rtol=0, atol=0)
    # what a checkpoint saves, or a pickle holds, is the rows, not the store
    # behind them
    assert memory.state_dict()["logits"].untyped_storage().nbytes() == 7 * 2 * 4
    unpickled = pickle.loads(pickle.dumps(memory))
    assert unpickled.logits.untyped_storage().nbytes() == 7 * 2 * 4
    for a, b in zip(unpickled.contents(), memory.contents(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
