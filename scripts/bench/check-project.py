"""Generates the larger project of the check benchmark (scripts/bench/check.sh).

A clean, typed Python package in a src layout: MODULES modules in packages of
20, each importing one or two earlier modules, with dataclasses, functions
with type hints and small classes, plus a tests/ directory with a few hundred
quick pytest tests. `[tool.mypy]` is configured so a type checker runs, and
the code passes ruff's default rules, `ruff format --check`, mypy and pytest,
as on a green commit. The output depends only on the seed.

Usage: python3 check-project.py DIR [--modules N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

PER_PACKAGE = 20
WORDS = [
    "order",
    "invoice",
    "parcel",
    "route",
    "sensor",
    "ledger",
    "batch",
    "ticket",
    "sample",
    "metric",
    "account",
    "review",
]

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.27"]
build-backend = "hatchling.build"

[project]
name = "benchapp"
version = "1.0.0"
description = "A generated project for the check benchmark"
readme = "README.md"
requires-python = ">=3.9"
license = "MIT"
dependencies = []

[project.optional-dependencies]
test = ["pytest>=7"]

[tool.hatch.build.targets.wheel]
packages = ["src/benchapp"]

[tool.mypy]
files = ["src", "tests"]
mypy_path = "src"
python_version = "3.11"
disallow_untyped_defs = true
warn_unused_ignores = true
warn_redundant_casts = true

# The type checker may run in an environment of its own, without pytest.
[[tool.mypy.overrides]]
module = ["pytest"]
ignore_missing_imports = true

[tool.pytest.ini_options]
testpaths = ["tests"]
"""


def module_name(index: int) -> str:
    return f"benchapp.pkg_{index // PER_PACKAGE:02}.mod_{index:03}"


def module_source(index: int, rng: random.Random) -> str:
    """One module: a record type, its builder and scorer, and helpers."""
    word = rng.choice(WORDS)
    record = f"{word.capitalize()}{index:03}"
    limit = rng.randrange(1, 500)
    weight = rng.randrange(2, 9) / 4
    deps = sorted(rng.sample(range(index), min(index, rng.randrange(1, 3))))
    lines = [
        f'"""{word.capitalize()} records of unit {index}: totals, rankings, summaries."""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Iterable, Sequence",
        "from dataclasses import dataclass, field",
        "",
    ]
    for dep in deps:
        lines.append(f"from {module_name(dep)} import build_{dep:03}, score_{dep:03}")
    if deps:
        lines.append("")
    lines += [
        f"LIMIT = {limit}",
        "",
        "",
        "@dataclass",
        f"class {record}:",
        f'    """One {word} of this unit."""',
        "",
        "    name: str",
        "    quantity: int",
        "    price: float",
        "    tags: list[str] = field(default_factory=list)",
        "",
        "    def total(self) -> float:",
        '        """The price of every item."""',
        "        return self.quantity * self.price",
        "",
        "    def label(self) -> str:",
        '        return f"{self.name}:{self.quantity}"',
        "",
        "    def tagged(self, tag: str) -> bool:",
        "        return tag in self.tags",
        "",
        "",
        f"def build_{index:03}(count: int) -> list[{record}]:",
        f'    """{count_doc(word)}"""',
        "    return [",
        f"        {record}(",
        '            name=f"item{n}",',
        f"            quantity=n % {rng.randrange(3, 9)} + 1,",
        f"            price={rng.randrange(1, 40) / 4} * n,",
        '            tags=["even"] if n % 2 == 0 else ["odd"],',
        "        )",
        "        for n in range(count)",
        "    ]",
        "",
        "",
        f"def score_{index:03}(records: Iterable[{record}], weight: float = {weight}) -> float:",
        '    """The weighted total of the records, plus the unit\'s limit."""',
        "    return sum(r.total() * weight for r in records) + LIMIT",
        "",
        "",
        f"def rank_{index:03}(records: Sequence[{record}]) -> list[str]:",
        '    """Labels by decreasing total, ties by name."""',
        "    ordered = sorted(records, key=lambda r: (-r.total(), r.name))",
        "    return [r.label() for r in ordered]",
        "",
        "",
    ]
    helpers = [helper_window, helper_merge, helper_counter, helper_split]
    for helper in rng.sample(helpers, 2):
        lines += helper(index, rng)
    lines += [
        f"def combined_{index:03}(count: int) -> float:",
        '    """This unit\'s score together with the units it builds on."""',
        f"    total = score_{index:03}(build_{index:03}(count))",
    ]
    for dep in deps:
        lines.append(f"    total += score_{dep:03}(build_{dep:03}(count))")
    lines += ["    return total", ""]
    return "\n".join(lines)


def count_doc(word: str) -> str:
    return f"COUNT generated {word} records, priced by position."


def helper_window(index: int, rng: random.Random) -> list[str]:
    return [
        f"def window_{index:03}(values: Sequence[float], size: int) -> list[float]:",
        '    """Moving averages over windows of `size` values."""',
        "    if size <= 0:",
        '        raise ValueError("size must be positive")',
        "    return [sum(values[i : i + size]) / size for i in range(len(values) - size + 1)]",
        "",
        "",
    ]


def helper_merge(index: int, rng: random.Random) -> list[str]:
    return [
        f"def merge_{index:03}(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:",
        '    """Sums the counts of both mappings key by key."""',
        "    merged = dict(a)",
        "    for key, value in b.items():",
        "        merged[key] = merged.get(key, 0) + value",
        "    return merged",
        "",
        "",
    ]


def helper_counter(index: int, rng: random.Random) -> list[str]:
    step = rng.randrange(1, 5)
    return [
        f"class Counter{index:03}:",
        '    """Counts events, in steps."""',
        "",
        "    def __init__(self, start: int = 0) -> None:",
        "        self.value = start",
        f"        self.step = {step}",
        "",
        "    def tick(self, times: int = 1) -> int:",
        "        self.value += self.step * times",
        "        return self.value",
        "",
        "    def reset(self) -> None:",
        "        self.value = 0",
        "",
        "",
    ]


def helper_split(index: int, rng: random.Random) -> list[str]:
    sep = rng.choice([",", ";", "|"])
    return [
        f"def split_{index:03}(text: str) -> list[str]:",
        '    """The non-empty, stripped fields of a line."""',
        f'    return [part.strip() for part in text.split("{sep}") if part.strip()]',
        "",
        "",
    ]


def tests_source(package: int, indices: list[int], sources: dict[int, str]) -> str:
    """The tests of one package: one per module, more for every fourth."""
    lines = [f'"""Tests of benchapp.pkg_{package:02}."""', "", "import pytest", ""]
    lines.append(f"from benchapp.pkg_{package:02} import (")
    lines += [f"    mod_{index:03}," for index in indices]
    lines += [")", ""]
    for index in indices:
        source, mod = sources[index], f"mod_{index:03}"
        lines += [
            "",
            f"def test_unit_{index:03}_builds_scores_and_ranks() -> None:",
            f"    records = {mod}.build_{index:03}(5)",
            "    assert len(records) == 5",
            "    assert all(r.quantity >= 1 for r in records)",
            f"    assert {mod}.score_{index:03}(records) >= {mod}.LIMIT",
            f"    assert len({mod}.rank_{index:03}(records)) == 5",
            "",
        ]
        if index % 4:
            continue
        if f"def window_{index:03}(" in source:
            lines += [
                "",
                f"def test_window_{index:03}_averages() -> None:",
                f"    assert {mod}.window_{index:03}([1.0, 3.0, 5.0], 2) == [2.0, 4.0]",
                "    with pytest.raises(ValueError):",
                f"        {mod}.window_{index:03}([1.0], 0)",
                "",
            ]
        if f"def merge_{index:03}(" in source:
            lines += [
                "",
                '@pytest.mark.parametrize("extra", [0, 1, 5])',
                f"def test_merge_{index:03}_sums(extra: int) -> None:",
                f'    merged = {mod}.merge_{index:03}({{"a": 1}}, {{"a": extra, "b": 1}})',
                '    assert merged == {"a": 1 + extra, "b": 1}',
                "",
            ]
        if f"def split_{index:03}(" in source:
            lines += [
                "",
                f"def test_split_{index:03}_drops_empty_fields() -> None:",
                f'    assert {mod}.split_{index:03}("") == []',
                "",
            ]
        if f"class Counter{index:03}:" in source:
            lines += [
                "",
                f"def test_counter_{index:03}_ticks() -> None:",
                f"    counter = {mod}.Counter{index:03}()",
                "    assert counter.tick(2) == 2 * counter.step",
                "    counter.reset()",
                "    assert counter.value == 0",
                "",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--modules", type=int, default=400)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root: Path = args.dir
    src = root / "src" / "benchapp"
    src.mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "README.md").write_text(
        "# benchapp\n\nGenerated for the check benchmark.\n"
    )
    (root / ".gitignore").write_text("dist/\n*.egg-info/\n__pycache__/\n")
    (src / "__init__.py").write_text('"""The generated benchmark package."""\n')
    (src / "py.typed").write_text("")
    sources: dict[int, str] = {}
    packages = (args.modules + PER_PACKAGE - 1) // PER_PACKAGE
    for package in range(packages):
        pkg = src / f"pkg_{package:02}"
        pkg.mkdir(exist_ok=True)
        (pkg / "__init__.py").write_text(
            f'"""Units {package * PER_PACKAGE} and on."""\n'
        )
    for index in range(args.modules):
        sources[index] = module_source(index, rng)
        path = src / f"pkg_{index // PER_PACKAGE:02}" / f"mod_{index:03}.py"
        path.write_text(sources[index])
    for package in range(packages):
        first = package * PER_PACKAGE
        indices = list(range(first, min(first + PER_PACKAGE, args.modules)))
        test = root / "tests" / f"test_pkg_{package:02}.py"
        test.write_text(tests_source(package, indices, sources))


if __name__ == "__main__":
    main()
