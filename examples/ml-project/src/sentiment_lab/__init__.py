"""sentiment-lab: a naive Bayes sentiment model, its training job and its service."""

__version__ = "0.4.0"
