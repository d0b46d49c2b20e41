"""`rnnkit serve` for real: uvicorn serves the runs saved in tests/fixtures/saved_runs (one per task) on
a free loopback port, and every test talks to it over HTTP. Each endpoint answers what the task's own
library call (the one `rnnkit predict/tag/translate/forecast/generate` prints) answers; concurrent
requests are batched without changing an answer; what a client can send never gets a 500."""

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.serve import Limits, create_app, is_loopback, load_served
from rnnkit.tasks import TASKS

from .server import Server

RUNS = {"lm": "lm", "classify": "classify", "tag": "tag", "seq2seq": "seq2seq", "forecast": "forecast"}


@pytest.fixture(scope="module")
def server(saved):
    served = [load_served(f"{name}={task}/run") for name, task in RUNS.items()]
    running = Server(create_app(served, Limits(max_texts=40, max_tokens_per_text=50, max_new_tokens=300,
                                               batch_wait=0.05)))
    yield running
    running.stop()


def test_health_and_the_list_of_models(server):
    assert server.call("/health")[2] == {"status": "ok", "models": sorted(RUNS)}
    status, _, listing = server.call("/v1/models")
    assert status == 200
    by_name = {model["name"]: model for model in listing["models"]}
    assert {name: model["task"] for name, model in by_name.items()} == RUNS
    assert by_name["seq2seq"]["endpoint"] == "/v1/models/seq2seq/translate"
    report = json.loads(Path("classify/run/report.json").read_text())
    assert by_name["classify"]["metrics"]["accuracy"] == report["accuracy"]
    assert by_name["lm"]["metrics"]["best_valid_loss"] > 0 and by_name["tag"]["model"]["parameters"] > 0
    schema = server.call("/openapi.json")[2]
    assert {f"/v1/models/{{name}}/{verb}" for verb in ("generate", "classify", "tag", "translate", "forecast")} <= set(
        schema["paths"])
    assert set(schema["paths"]["/v1/models/{name}/forecast"]["post"]["requestBody"]["content"]) == {
        "application/json", "text/csv"}


def test_classify_answers_as_the_library_does(server):
    texts = ["the film was great", "dull plot", "", "loved it, loved it"]
    status, _, body = server.call("/v1/models/classify/classify", {"texts": texts})
    trained = TASKS["classify"].load_trained("classify/run")
    expected = trained.predict(texts)
    assert status == 200 and len(body["results"]) == len(texts)
    for row, result in zip(expected, body["results"]):
        assert result["label"] == trained.classes[int(row.argmax())]
        assert [result["probabilities"][c] for c in trained.classes] == pytest.approx(row.tolist(), abs=1e-6)


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(server):
    trained = TASKS["classify"].load_trained("classify/run")
    texts = [f"the plot was {'great' if i % 3 else 'dull'} {'film ' * (i % 5)}" for i in range(32)]
    alone = [trained.predict([text])[0] for text in texts]  # one at a time: no padding, no batch
    batcher = server.app.state.batchers["classify"]
    before = batcher.batches
    start = threading.Barrier(len(texts))

    def one(text):
        start.wait()
        return server.call("/v1/models/classify/classify", {"texts": [text]})

    with ThreadPoolExecutor(len(texts)) as pool:
        answers = list(pool.map(one, texts))
    for (status, _, body), expected in zip(answers, alone):
        assert status == 200
        assert list(body["results"][0]["probabilities"].values()) == pytest.approx(expected.tolist(), abs=1e-5)
    assert batcher.batches - before < len(texts), "32 requests released together ran one by one"


def test_tag_gives_spans_with_character_offsets(server):
    text = "Peter met Mary in Paris ,  then Berlin"
    status, _, body = server.call("/v1/models/tag/tag", {"texts": [text, ""]})
    trained = TASKS["tag"].load_trained("tag/run")
    result = body["results"][0]
    assert status == 200 and result["tags"] == trained.tag([result["tokens"]])[0]
    assert body["results"][1] == {"tokens": [], "tags": [], "spans": []}
    for span in result["spans"]:
        assert text[span["start"]:span["end"]] == span["text"] == " ".join(
            result["tokens"][span["start_token"]:span["end_token"]])
    tokens = [["Peter", "met", "Mary"], ["Berlin"]]
    status, _, body = server.call("/v1/models/tag/tag", {"tokens": tokens})
    assert [r["tags"] for r in body["results"]] == trained.tag(tokens)


def test_translate_with_n_best_and_attention(server):
    from rnnkit.tasks.decoding import detokenize

    texts = ["ein hund läuft", "zwei katzen"]
    status, _, body = server.call("/v1/models/seq2seq/translate", {"texts": texts, "n_best": 2, "attention": True})
    trained = TASKS["seq2seq"].load_trained("seq2seq/run")
    expected = trained.translate(texts, n_best=2)
    assert status == 200
    for result, hypotheses in zip(body["results"], expected):
        assert [h["text"] for h in result["hypotheses"]] == [detokenize(trained.target_vocab, h.tokens)
                                                             for h in hypotheses]
        assert result["translation"] == result["hypotheses"][0]["text"]
        weights = torch.tensor(result["attention"]["weights"])
        assert weights.shape == (len(result["attention"]["target"]), len(result["attention"]["source"]))
        assert torch.allclose(weights.sum(1), torch.ones(len(weights)), atol=1e-3)
    greedy = server.call("/v1/models/seq2seq/translate", {"texts": texts, "greedy": True})[2]
    assert [r["translation"] for r in greedy["results"]] == [
        detokenize(trained.target_vocab, h[0].tokens) for h in trained.translate(texts, greedy=True)]


def test_forecast_from_json_columns_and_from_a_csv_body_equals_the_cli_s(server):
    from rnnkit.tasks.forecasting import forecast_file

    csv_text = Path("forecast/data/series.csv").read_text()
    status, _, from_csv = server.call("/v1/models/forecast/forecast", raw=csv_text.encode(),
                                      headers={"content-type": "text/csv"})
    rows = [line.split(",") for line in csv_text.strip().split("\n")]
    columns = {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}
    columns["load"] = [float(v) for v in columns["load"]]
    status_json, _, from_json = server.call("/v1/models/forecast/forecast", {"series": columns})
    trained = TASKS["forecast"].load_trained("forecast/run")
    torch.manual_seed(trained.config.train.seed)
    expected = forecast_file(trained, "forecast/data/series.csv")
    assert status == status_json == 200 and from_csv == from_json
    assert from_csv["series"]["load"]["point"] == pytest.approx(expected["point"][:, 0].tolist(), rel=1e-6)
    assert from_csv["times"] == [str(t) for t in expected["times"]]


def test_generate_equals_rnnkit_generate_and_streams_the_same_text(server, capsys):
    from rnnkit.cli import main

    assert main(["generate", "lm/run", "--prompt", "line", "--max-tokens", "40", "--seed", "3",
                 "--temperature", "0.9"]) == 0
    printed = capsys.readouterr().out
    request = {"prompt": "line", "max_tokens": 40, "seed": 3, "temperature": 0.9}
    status, _, body = server.call("/v1/models/lm/generate", request)
    assert status == 200 and "line" + body["text"] + "\n" == printed
    status, headers, events = server.call("/v1/models/lm/generate", {**request, "stream": True})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    records = [json.loads(line[len("data: "):]) for line in events.split("\n\n") if line.startswith("data: ")]
    assert records[-1] == {"done": True, "pieces": body["pieces"]}
    assert "".join(r["text"] for r in records[:-1]) == body["text"]


@pytest.mark.parametrize("path, body, status, message", [
    ("/v1/models/classify/classify", {"texts": ["a"] * 41}, 422, "texts: 41 items, more than the limit of 40"),
    ("/v1/models/classify/classify", {"texts": ["w " * 51]}, 422, "texts.0: 51 tokens, more than the limit of 50"),
    ("/v1/models/classify/classify", {"texts": []}, 422, "texts: List should have at least 1 item"),
    ("/v1/models/classify/classify", {"texts": ["a"], "lang": "en"}, 422, "lang: Extra inputs are not permitted"),
    ("/v1/models/classify/classify", {"texts": "a film"}, 422, "texts: Input should be a valid list"),
    ("/v1/models/lm/generate", {"max_tokens": 301}, 422, "max_tokens: 301, more than the limit of 300"),
    ("/v1/models/lm/generate", {"temperature": -1}, 422, "temperature: Input should be greater than or equal to 0"),
    ("/v1/models/lm/generate", {"top_p": 0}, 422, "top_p: Input should be greater than 0"),
    ("/v1/models/tag/tag", {"texts": ["a"], "tokens": [["a"]]}, 422, "texts or tokens: give one of them"),
    ("/v1/models/tag/tag", {"tokens": [["New York"]]}, 422, "tokens.0.0: a token is one word"),
    ("/v1/models/seq2seq/translate", {"texts": ["a"], "n_best": 9}, 422, "n_best: 9 is more than the beam"),
    ("/v1/models/forecast/forecast", {"series": {"date": ["2021-03-01 00:00"], "load": [1.0], "wind": [0.5]}}, 422,
     "body: 1 rows, but the model needs data.context = 12 rows of history"),
    ("/v1/models/forecast/forecast", {"series": {"date": ["2021-03-01"], "load": [1.0, 2.0]}}, 422,
     "series: the columns have different lengths"),
    ("/v1/models/nope/classify", {"texts": ["a"]}, 404, "no model 'nope'; this server has classify, forecast"),
    ("/v1/models/lm/classify", {"texts": ["a"]}, 404, "model 'lm' serves task 'lm': POST /v1/models/lm/generate"),
])
def test_a_bad_request_is_named(server, path, body, status, message):
    got, _, answer = server.call(path, body)
    assert got == status and answer["error"].startswith(message), answer


def test_bad_json_a_large_body_and_bad_bytes(server):
    status, _, answer = server.call("/v1/models/classify/classify", raw=b'{"texts": ["a"')
    assert status == 422 and answer["error"].startswith("body: not valid JSON at character")
    import http.client

    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=30)
    connection.putrequest("POST", "/v1/models/classify/classify")
    connection.putheader("content-type", "application/json")
    connection.putheader("content-length", str((1 << 20) + 1))
    connection.endheaders()  # no body sent: the header alone is refused, before a byte of it is read
    response = connection.getresponse()
    assert response.status == 413 and "over the limit of 1,048,576 bytes" in json.loads(response.read())["error"]
    connection.close()
    status, _, answer = server.call("/v1/models/forecast/forecast", raw=b"date,load\n\xff\n",
                                    headers={"content-type": "text/csv"})
    assert status == 422 and answer["error"].startswith("body: not UTF-8")
    status, _, answer = server.call("/v1/models/forecast/forecast?level=2", raw=b"date,load\n",
                                    headers={"content-type": "text/csv"})
    assert status == 422 and answer["error"].startswith("level: expected a number in (0, 1)")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
FIELDS = ["texts", "tokens", "prompt", "max_tokens", "temperature", "top_k", "top_p", "seed", "stream", "beam_size",
          "n_best", "greedy", "attention", "series", "alerts", "level", "length_penalty", "stop_at_eos"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(["lm/generate", "classify/classify", "tag/tag", "seq2seq/translate",
                                 "forecast/forecast"]),
       body=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4) | JSON)
def test_no_request_a_client_can_send_is_a_500(server, endpoint, body):
    if isinstance(body, dict) and body.get("stream"):
        body["stream"] = False  # a stream's status is sent before its first piece: tested above
    status, _, answer = server.call(f"/v1/models/{endpoint}", raw=json.dumps(body, allow_nan=True).encode())
    assert status in (200, 404, 413, 422), (status, answer)
    if status != 200:
        assert answer["error"]


def test_a_request_over_its_time_is_504_and_the_worker_moves_on(saved):
    served = [load_served("lm=lm/run")]
    slow = Server(create_app(served, Limits(timeout=0.05, batch_wait=0.0, max_new_tokens=100_000)))
    try:
        status, _, answer = slow.call("/v1/models/lm/generate", {"max_tokens": 100_000})
        assert status == 504 and answer["error"] == "no answer within 0.05 s (--timeout)"
        status, _, _ = slow.call("/v1/models/lm/generate", {"max_tokens": 1})  # the cancelled one stopped early
        assert status in (200, 504)
    finally:
        slow.stop()


def test_a_chunked_body_is_refused_once_it_passes_the_limit(saved):
    """Without a Content-Length, the body is counted as it arrives."""
    import socket

    small = Server(create_app([load_served("classify=classify/run")], Limits(max_body_bytes=1000)))
    try:
        host, port = small.url.removeprefix("http://").split(":")
        body = json.dumps({"texts": ["a" * 2000]}).encode()
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(b"POST /v1/models/classify/classify HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                               + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
            reply = b""
            while not reply.endswith(b"}"):  # the status line and headers, then the JSON body
                part = connection.recv(4096)
                if not part:
                    break
                reply += part
            reply = reply.decode()
        assert reply.startswith("HTTP/1.1 413") and "over the limit of 1,000 bytes" in reply
    finally:
        small.stop()


def test_loopback_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")


def test_the_command_starts_a_server_that_answers(saved, tmp_path):
    """`rnnkit serve` itself, as a user starts it: a process on a loopback port, stopped by a signal."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "rnnkit", "serve", "tag=tag/run", "classify=classify/run", "--port", str(port),
                                "--log-level", "warning"], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                    health = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("rnnkit serve did not answer in 30 s")
        assert health == {"status": "ok", "models": ["classify", "tag"]}
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert "at POST /v1/models/" in err


def test_two_runs_of_one_name_are_refused(saved, capsys):
    from rnnkit.cli import EXIT_BAD_INPUT, main

    assert main(["serve", "tag/run", "classify/run"]) == EXIT_BAD_INPUT
    assert "two runs are named 'run': name them, NAME=RUN_DIR" in capsys.readouterr().err


def test_a_full_queue_is_503_with_retry_after(saved):
    """queue_size 1: a streamed generation holds the worker, one request waits in the queue, the next
    is refused at once; when the stream's client leaves, its generation stops and the waiting one runs."""
    import http.client

    busy = Server(create_app([load_served("lm=lm/run")], Limits(queue_size=1, max_new_tokens=10**6,
                                                                 batch_wait=0.0)))
    try:
        host, port = busy.url.removeprefix("http://").split(":")
        stream = http.client.HTTPConnection(host, int(port), timeout=60)
        stream.request("POST", "/v1/models/lm/generate", json.dumps({"max_tokens": 10**6, "stream": True}),
                       {"content-type": "application/json"})
        response = stream.getresponse()
        assert response.status == 200 and response.readline().startswith(b"data: ")  # generating now
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(busy.call, "/v1/models/lm/generate", {"max_tokens": 3})
            for _ in range(200):  # until it sits in the queue
                if busy.app.state.batchers["lm"].queue.full():
                    break
                time.sleep(0.01)
            status, headers, answer = busy.call("/v1/models/lm/generate", {"max_tokens": 3})
            assert status == 503 and headers["retry-after"] == "1" and "1 requests waiting" in answer["error"]
            stream.close()  # the client leaves: its generation stops at the next token
            assert waiting.result(timeout=60)[0] == 200
    finally:
        busy.stop()
