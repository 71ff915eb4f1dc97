"""The unit formulas live in one place (units.py): each says what it computes, on numbers and on arrays, and no
other module writes them out again."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tokenomy
from tokenomy import units as U


def test_formulas_by_hand():
    assert U.tok_s_per_mw(1000.0, 1.73) == pytest.approx(1000.0 * 1000.0 / 1.73)
    assert U.joules_per_token(1.73, 1000.0) == pytest.approx(1.73)  # 1,730 W / 1,000 tok/s
    assert U.usd_per_mtok(1.74, 1000.0) == pytest.approx(1.74 / 3.6)  # 3.6 M tokens in an hour
    assert U.usd_per_mtok_of(6.0, 2e6) == 3.0
    assert U.usd_for_tokens(2e6, 3.0) == 6.0
    assert U.gpus_per_mw(1.0, 1.25) == 800.0
    assert U.wh_of(3600.0) == 1.0
    assert U.gco2_per_mtok(3.6, 100.0) == pytest.approx(100.0)  # 1e6 × 3.6 J = 1 kWh at 100 g/kWh


def test_formulas_take_arrays():
    tok_s = np.array([500.0, 1000.0])
    np.testing.assert_allclose(U.usd_per_mtok(1.8, tok_s), [1.0, 0.5])
    np.testing.assert_allclose(U.tok_s_per_mw(tok_s, 2.0), [250_000.0, 500_000.0])


def test_no_module_writes_the_formulas_again():
    """$/M tokens, tok/s per MW and GPUs per MW are called from units.py, not spelled out elsewhere."""
    spelled = [
        (r"3600(\.0)?\s*/\s*1e6", "$/M tokens from $/GPU-hour"),
        (r"/\s*\(\s*\w+\s*/\s*1e6\s*\)", "$/M tokens from a total"),
        (r"1000(\.0)?\s*/\s*\(\s*\w+(\[\"\w+\"\])?\s*\*\s*\w+", "GPUs per MW"),
        (r"(tput|tok_s)\w*\s*\*\s*1000(\.0)?\s*/", "tok/s per MW"),
    ]
    src = Path(tokenomy.__file__).parent
    hits = []
    for path in src.rglob("*.py"):
        if path.name == "units.py":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern, what in spelled:
            hits += [f"{path.relative_to(src)}: {what}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert not hits, hits
