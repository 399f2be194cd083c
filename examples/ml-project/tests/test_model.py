import json
import threading
import urllib.request
from pathlib import Path

from sentiment_lab.model import NaiveBayes
from sentiment_lab.serving.app import serve
from sentiment_lab.training.job import main as train

DATA = Path(__file__).parent.parent / "data" / "reviews.csv"


def test_training_job_writes_a_model_that_predicts(tmp_path):
    out = tmp_path / "model.json"
    assert train(["--data", str(DATA), "--out", str(out)]) == 0
    model = NaiveBayes.from_json(out.read_text())
    assert model.predict("a great and wonderful film") == "pos"
    assert model.predict("boring and terrible") == "neg"


def test_service_answers_predictions():
    model = NaiveBayes().fit([("pos", "great fun"), ("neg", "dull and boring")])
    server = serve(model, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/predict"
        request = urllib.request.Request(
            url, data=json.dumps({"text": "great"}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["label"] == "pos"
    finally:
        server.shutdown()
