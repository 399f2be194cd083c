"""The training job of the image: train the sentiment model on a few
reviews (or a CSV given with --data), report its accuracy, and write the
model as JSON (to --out, default /tmp/model.json)."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from sentiment_lab.model import NaiveBayes

REVIEWS = [
    ("pos", "a wonderful film with a great cast"),
    ("pos", "loved every minute of it"),
    ("pos", "brilliant and moving story"),
    ("neg", "a dull and boring plot"),
    ("neg", "terrible acting and a waste of time"),
    ("neg", "i hated the ending"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train.py")
    parser.add_argument("--data", type=Path, help="a CSV of label,text rows")
    parser.add_argument("--out", type=Path, default=Path("/tmp/model.json"))
    args = parser.parse_args(argv)
    if args.data:
        with args.data.open(newline="", encoding="utf-8") as f:
            samples = [(row["label"], row["text"]) for row in csv.DictReader(f)]
    else:
        samples = REVIEWS
    model = NaiveBayes().fit(samples)
    correct = sum(model.predict(text) == label for label, text in samples)
    args.out.write_text(model.to_json(), encoding="utf-8")
    print(f"trained on {len(samples)} reviews, accuracy {correct / len(samples):.2f}")
    print(f"'a great story' is {model.predict('a great story')}")
    print(f"model written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
