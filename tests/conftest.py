import pytest
import torch


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    torch.manual_seed(0)


def pytest_collection_modifyitems(config, items):
    """Mark the tests a module lists in ``EXPECTED_FAILURES`` (strict xfail) and
    ``SKIPPED`` (by function name, every parametrisation)."""
    for item in items:
        module = getattr(item, "module", None)
        name = getattr(item, "originalname", None)
        expected = getattr(module, "EXPECTED_FAILURES", None)
        skipped = getattr(module, "SKIPPED", None)
        if isinstance(skipped, dict) and name in skipped:
            item.add_marker(pytest.mark.skip(reason=skipped[name]))
        elif isinstance(expected, dict) and name in expected:
            item.add_marker(pytest.mark.xfail(strict=True, reason=expected[name]))
