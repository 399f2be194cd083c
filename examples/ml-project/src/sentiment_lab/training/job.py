"""Train a model from a CSV of `label,text` rows and write it as JSON."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from sentiment_lab.model import NaiveBayes


def load(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(row["label"], row["text"]) for row in csv.DictReader(f)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sentiment-train")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    samples = load(args.data)
    if not samples:
        print(f"error: no samples in {args.data}", file=sys.stderr)
        return 2
    model = NaiveBayes().fit(samples)
    args.out.write_text(model.to_json(), encoding="utf-8")
    correct = sum(model.predict(text) == label for label, text in samples)
    print(
        f"trained on {len(samples)} samples, training accuracy {correct / len(samples):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
