"""`tokenomy catalog list|show`: the sourced catalog."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import typer
from rich.table import Table

from tokenomy.catalog import UnknownIdError
from tokenomy.catalog.views import list_entries, show_entry
from tokenomy.cli.base import (
    app,
    console,
    fail,
    fmt,
    print_json,
)

catalog_app = typer.Typer(
    help="Browse the sourced catalog (hardware, systems, models, tiers, regions, claims, engines)."
)
app.add_typer(catalog_app, name="catalog")


class Kind(StrEnum):
    accelerators = "accelerators"
    systems = "systems"
    models = "models"
    tiers = "tiers"
    regions = "regions"
    claims = "claims"
    engines = "engines"


_LIST_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "accelerators": [
        ("id", "id"),
        ("name", "name"),
        ("bf16_dense_tflops", "BF16 TF"),
        ("fp8_dense_tflops", "FP8 TF"),
        ("fp4_dense_tflops", "FP4 TF"),
        ("memory_gb", "mem GB"),
        ("memory_bw_tbytes_s", "TB/s"),
        ("allin_kw", "all-in kW"),
        ("usd_per_gpu_hour_neocloud", "$/GPU-h (neocloud)"),
    ],
    "systems": [
        ("id", "id"),
        ("name", "name"),
        ("accelerator", "accelerator"),
        ("gpus", "GPUs"),
        ("allin_kw", "all-in kW"),
        ("price_usd", "price $"),
    ],
    "models": [
        ("id", "id"),
        ("name", "name"),
        ("total_params_b", "total B"),
        ("active_params_b", "active B"),
        ("attention", "attention"),
        ("layers", "layers"),
        ("experts", "experts"),
        ("default_precision", "precision"),
    ],
    "tiers": [
        ("id", "id"),
        ("name", "name"),
        ("price_usd_per_mtok", "$/M tok"),
        ("min_tok_s_per_user", "floor tok/s/user"),
        ("serves", "serves"),
    ],
    "regions": [
        ("id", "id"),
        ("name", "name"),
        ("electricity_usd_per_kwh", "$/kWh"),
        ("grid_gco2_per_kwh", "gCO2e/kWh"),
        ("pue", "PUE"),
    ],
    "claims": [
        ("id", "id"),
        ("statement", "statement"),
        ("value", "value"),
        ("unit", "unit"),
        ("confidence", "conf"),
    ],
    "engines": [
        ("id", "id"),
        ("name", "name"),
        ("max_running_per_rank", "running batch / rank"),
        ("max_concurrency", "largest concurrency run"),
        ("mtp_draft_tokens", "MTP drafts"),
    ],
}


@catalog_app.command("list")
def catalog_list(
    kind: Kind = typer.Argument(Kind.accelerators, help="Which part of the catalog to list."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """List catalog entries. Values marked [U] are unverified or derived defaults."""
    rows = list_entries(kind.value)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"tokenomy catalog: {kind.value}", show_lines=False)
    cols = _LIST_COLUMNS[kind.value]
    for _, header in cols:
        table.add_column(header, overflow="fold")
    for row in rows:
        cells = []
        for key, _ in cols:
            text = fmt(row.get(key))
            if key in row.get("unverified", []):
                text += " [U]"
            cells.append(text)
        table.add_row(*cells)
    console.print(table)
    console.print("[dim]tokenomy catalog show ID  → every figure with its source, date and confidence.[/]")


@catalog_app.command("show")
def catalog_show(
    entry_id: str = typer.Argument(
        ..., metavar="ID", help="Any id or alias, e.g. gb200, 'H200', deepseek-r1."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Show one entry with every figure's source, date and confidence (O/S/W/U)."""
    try:
        data = show_entry(entry_id)
    except UnknownIdError as exc:
        fail(str(exc))
    if json_out:
        print_json(data)
        return
    console.print(f"[bold]{data['name']}[/]  ([cyan]{data['kind']}[/] {data['id']})")
    _figure_table("figures", data["figures"])
    for system in data.get("per_system", []):
        _figure_table(f"per system: {system['name']}", system["figures"])
    if "per_gpu" in data:
        _figure_table(f"per GPU: {data['per_gpu']['name']}", data["per_gpu"]["figures"])
    if "architecture" in data:
        arch = {k: v for k, v in data["architecture"].items() if v not in (0, False)}
        console.print(f"architecture ({data['architecture_source']}): {arch}")
        console.print(f"computed: {data['total_params_b']} B total, {data['active_params_b']} B active")


def _figure_table(title: str, figures: dict[str, Any]) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("figure", "value", "conf", "as of", "source", "note"):
        table.add_column(col, overflow="fold")
    for name, fig in figures.items():
        table.add_row(
            name, fmt(fig["value"]), fig["confidence"], fig["as_of"], fig["source_id"], fig.get("note", "")
        )
    console.print(table)
    console.print("[dim]sources: see `tokenomy catalog show ID --json` for titles and URLs.[/]")
