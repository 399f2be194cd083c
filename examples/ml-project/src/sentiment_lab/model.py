"""A multinomial naive Bayes text classifier with Laplace smoothing."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

TOKEN = re.compile(r"[a-z']+")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


@dataclass
class NaiveBayes:
    class_counts: Counter = field(default_factory=Counter)
    word_counts: dict = field(default_factory=dict)
    vocabulary: set = field(default_factory=set)

    def fit(self, samples: Iterable[tuple[str, str]]) -> NaiveBayes:
        for label, text in samples:
            self.class_counts[label] += 1
            counts = self.word_counts.setdefault(label, Counter())
            for token in tokenize(text):
                counts[token] += 1
                self.vocabulary.add(token)
        return self

    def scores(self, text: str) -> dict[str, float]:
        total = sum(self.class_counts.values())
        vocab = len(self.vocabulary) or 1
        out = {}
        for label, n in self.class_counts.items():
            counts = self.word_counts[label]
            denom = sum(counts.values()) + vocab
            score = math.log(n / total)
            for token in tokenize(text):
                score += math.log((counts[token] + 1) / denom)
            out[label] = score
        return out

    def predict(self, text: str) -> str:
        scores = self.scores(text)
        return max(sorted(scores), key=scores.__getitem__)

    def to_json(self) -> str:
        return json.dumps(
            {
                "class_counts": dict(self.class_counts),
                "word_counts": {k: dict(v) for k, v in self.word_counts.items()},
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> NaiveBayes:
        data = json.loads(text)
        model = cls(Counter(data["class_counts"]))
        model.word_counts = {k: Counter(v) for k, v in data["word_counts"].items()}
        model.vocabulary = {w for counts in model.word_counts.values() for w in counts}
        return model
