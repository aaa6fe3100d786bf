"""mining="global" (SPEC §9) in two CPU processes (gloo): each computes the loss of
the global batch, and its rows receive world_size times that loss's gradient."""

import itertools

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from skcrl import ClassRectificationLoss, crl_loss
from skcrl._distributed import gather_batch

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="needs torch.distributed with gloo",
)

WORLD = 2
CASES = list(
    itertools.product(
        ("class", "instance"),
        ("relative", "absolute", "distribution"),
        ("multi-class", "multi-label"),
        ((12, 12), (15, 8)),  # equal and unequal shares
    )
)


def _case(kind, n, seed):
    """A long-tailed global batch in float64: rare classes come about once per
    process, so only the global batch mines them."""
    generator = torch.Generator().manual_seed(seed)
    if kind == "multi-class":
        target = torch.tensor([0] * (n - 7) + [1] * 4 + [2] * 3)
        target = target[torch.randperm(n, generator=generator)]
        logits = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    else:
        target = (torch.rand(n, 3, generator=generator) < 0.2).long()
        target[:2] = 1  # every attribute has positives
        logits = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    embeddings = torch.randn(n, 5, generator=generator, dtype=torch.float64)
    return logits, target, embeddings


def _loss(logits, target, embeddings, level, comparison, mining):
    return crl_loss(
        logits,
        target,
        embeddings=embeddings,
        level=level,
        comparison=comparison,
        k=3,
        rho=0.5,
        n_bins=8,
        mining=mining,
    )


def _worker(rank, init_file, out_file):
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD
    )
    torch.set_num_threads(1)
    results = []
    for index, (level, comparison, kind, shares) in enumerate(CASES):
        logits, target, embeddings = _case(kind, sum(shares), seed=index)
        start = sum(shares[:rank])
        own = slice(start, start + shares[rank])
        mine = logits[own].clone().requires_grad_(True)
        mine_embeddings = embeddings[own].clone().requires_grad_(True)
        loss = _loss(mine, target[own], mine_embeddings, level, comparison, "global")
        loss.backward()
        # the module: the same CRL term, and a memory that holds the global batch
        module = ClassRectificationLoss(
            1.0,
            level=level,
            comparison=comparison,
            k=3,
            n_bins=8,
            mining="global",
            memory_size=100,
        )
        terms = module.terms(mine, target[own], mine_embeddings)
        held = len(module.memory)
        results.append(
            (loss.detach(), mine.grad, mine_embeddings.grad, terms.crl.detach(), held)
        )
    gathered = gather_batch(torch.arange(3.0 + rank), torch.zeros(3 + rank))[0]
    torch.save({"cases": results, "gathered": gathered}, f"{out_file}{rank}")
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def per_process(tmp_path_factory):
    directory = tmp_path_factory.mktemp("distributed")
    mp.spawn(
        _worker,
        args=(str(directory / "rendezvous"), str(directory / "rank")),
        nprocs=WORLD,
        join=True,
    )
    return [torch.load(directory / f"rank{rank}") for rank in range(WORLD)]


def test_shares_are_gathered_in_rank_order(per_process):
    for result in per_process:
        torch.testing.assert_close(
            result["gathered"], torch.tensor([0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 3.0])
        )


@pytest.mark.parametrize(("index", "case"), list(enumerate(CASES)), ids=str)
def test_global_loss_is_the_loss_of_the_concatenated_batch(per_process, index, case):
    level, comparison, kind, shares = case
    logits, target, embeddings = _case(kind, sum(shares), seed=index)
    logits.requires_grad_(True)
    embeddings.requires_grad_(True)
    single = _loss(logits, target, embeddings, level, comparison, "local")
    assert single.item() > 0  # the case mines something
    single.backward()
    for rank, result in enumerate(per_process):
        loss, grad, embedding_grad, module_crl, held = result["cases"][index]
        torch.testing.assert_close(loss, single.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(module_crl, single.detach(), rtol=1e-12, atol=1e-12)
        assert held == sum(shares)
        start = sum(shares[:rank])
        own = slice(start, start + shares[rank])
        if level == "class":
            expected, got = logits.grad[own], grad
        else:
            expected, got = embeddings.grad[own], embedding_grad
        torch.testing.assert_close(got, WORLD * expected, rtol=1e-10, atol=1e-12)


def test_without_a_process_group_global_is_local():
    logits, target, embeddings = _case("multi-class", 20, seed=0)
    for level in ("class", "instance"):
        torch.testing.assert_close(
            _loss(logits, target, embeddings, level, "relative", "global"),
            _loss(logits, target, embeddings, level, "relative", "local"),
        )


def test_mining_is_checked():
    logits, target, _ = _case("multi-class", 20, seed=0)
    with pytest.raises(ValueError, match="mining"):
        crl_loss(logits, target, mining="everywhere")
