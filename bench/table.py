"""Markdown rows from run reports, for BENCHMARKS.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HEADER = (
    "| run | scenario | req/s | p50 ms | p95 ms | p99 ms | errors | floor req/s | hub/floor "
    "| claims/s | duplicates | CPU ms/req hub+db | CPU hub/floor | peak RSS MB |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
    "| ---: |"
)


def rows(path: Path) -> list[str]:
    report: dict[str, Any] = json.loads(path.read_text())
    label = report.get("label") or path.stem
    out = []
    for name, result in report["scenarios"].items():
        duplicates = ""
        if name == "claim_storm":
            duplicates = str(result["needs_claimed_twice"] + result["needs_over_pledged"])
        cpu = result.get("cpu_ms_per_request")  # reports before run 15 have none
        cpu_cell = f"{cpu['server']} + {cpu['database']}" if cpu else ""
        out.append(
            f"| {label} ({report['database_url']}) | {name} | {result['requests_per_second']} "
            f"| {result['p50_ms']} | {result['p95_ms']} | {result['p99_ms']} | {result['errors']} "
            f"| {result.get('floor_requests_per_second', '')} "
            f"| {result.get('ratio_hub_to_floor', '')} | {result.get('claims_per_second', '')} "
            f"| {duplicates} | {cpu_cell} | {result.get('cpu_ratio_hub_to_floor', '')} "
            f"| {report['peak_rss_mb_max']} |"
        )
    return out


def render(paths: list[str]) -> str:
    lines = [HEADER]
    for path in paths:
        lines.extend(rows(Path(path)))
    return "\n".join(lines)
