"""The trained runs a server holds: one class per task, each loading its run once (through the task's
own ``load_trained``) and answering a batch of request items in one call of ``run(key, items)``.

``run`` works on the model's own thread (serve/batcher.py); what it returns is plain JSON data. A
problem with what a client sent (a series too short for the model, say) is a DataError, which the
server answers with 422 and its message.
"""

import csv
import io
import json
import math
import os
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Hashable, List, Optional

import torch

from ..errors import DataError
from ..tasks import TASKS
from ..tasks.runs import run_task
from ..training import checkpoint as ckpt


@dataclass
class Served:
    """A loaded run. ``endpoint`` is the verb its task answers (/v1/models/{name}/{endpoint})."""
    name: str
    path: str
    trained: Any
    config: Any
    checkpoint: str
    batch_size: int = 64

    task = ""
    endpoint = ""

    @classmethod
    def load(cls, name: str, path: str, which: str = "best", batch_size: int = 64) -> "Served":
        trained = TASKS[cls.task].load_trained(path, which)
        return cls(name, path, trained, trained.config, trained.checkpoint, batch_size)

    def info(self) -> dict:
        """What GET /v1/models says of this model."""
        model = self.config.model
        parameters = sum(p.numel() for p in self.model().parameters())
        layer = (f"{'bi' if model.bidirectional else ''}{model.cell} "
                 f"{model.num_layers}x{model.hidden_size}")
        return {"name": self.name, "task": self.task, "endpoint": f"/v1/models/{self.name}/{self.endpoint}",
                "run": os.path.basename(os.path.abspath(self.path)), "checkpoint": os.path.basename(self.checkpoint),
                "model": {"layer": layer, "parameters": parameters}, "metrics": self.metrics()}

    def metrics(self) -> dict:
        """The scalar metrics of the run's report.json (its final validation), else its best evaluation."""
        report = os.path.join(self.path, "report.json")
        if os.path.isfile(report):
            try:
                with open(report, encoding="utf-8") as f:
                    data = json.load(f)
            except (OSError, ValueError):  # a damaged report takes nothing from the model it describes
                return {}
            return {k: v for k, v in data.items() if isinstance(v, (int, float)) and math.isfinite(v)} if isinstance(
                data, dict) else {}
        early = ckpt.read_meta(self.checkpoint).get("early_stopping", {})
        best = early.get("best")
        return {f"best_valid_{early.get('monitor', 'loss')}": best} if isinstance(best, (int, float)) else {}

    def model(self) -> torch.nn.Module:
        return self.trained.model

    def run(self, key: Hashable, items: List[Any]) -> List[Any]:
        raise NotImplementedError


@dataclass
class Generation:
    """One generation request, with where its pieces go as they come (streaming) and a stop flag."""
    prompt: str
    max_tokens: int
    temperature: float
    top_k: int
    top_p: float
    seed: Optional[int]
    stop_at_eos: bool
    emit: Optional[Callable[[str], None]] = None
    cancel: threading.Event = field(default_factory=threading.Event)


class LanguageModelServed(Served):
    task, endpoint = "lm", "generate"

    @classmethod
    def load(cls, name: str, path: str, which: str = "best", batch_size: int = 64) -> "Served":
        from ..tasks.runs import stored_config

        model, tokenizer, meta = TASKS["lm"].load_trained(path, which)
        config = stored_config(TASKS["lm"], meta["config"], os.path.join(meta["checkpoint"], ckpt.META_FILE))
        return cls(name, path, (model, tokenizer), config, meta["checkpoint"], batch_size)

    def model(self) -> torch.nn.Module:
        return self.trained[0]

    def run(self, key: Hashable, items: List[Generation]) -> List[dict]:
        from ..tasks.language_modeling import prompt_ids

        model, tokenizer = self.trained
        results = []
        for request in items:
            ids, unknown = prompt_ids(tokenizer, request.prompt)
            generator = torch.Generator()
            if request.seed is not None:
                generator.manual_seed(request.seed)
            else:
                generator.seed()  # a fresh, nondeterministic seed
            stop = getattr(tokenizer, "eos", None) if request.stop_at_eos else None
            tokens = model.generate(ids, request.max_tokens, request.temperature, request.top_k, request.top_p,
                                    generator, stop)
            pieces = []
            for piece in tokenizer.stream_decode(tokens):
                if request.cancel.is_set():  # the client left, or its time is up
                    break
                pieces.append(piece)
                if request.emit is not None:
                    request.emit(piece)
            results.append({"text": "".join(pieces), "pieces": len(pieces),
                            "unknown": {symbol: count for symbol, count in unknown.items()}})
        return results


class ClassifierServed(Served):
    task, endpoint = "classify", "classify"

    def run(self, key: Hashable, items: List[str]) -> List[dict]:
        from ..tasks.classification import prediction_record

        probabilities = self.trained.predict(items, self.batch_size)
        return [prediction_record(row, self.trained.classes) for row in probabilities]


class TaggerServed(Served):
    task, endpoint = "tag", "tag"

    def run(self, key: Hashable, items: List[dict]) -> List[dict]:
        """Items: {"tokens": [...], "offsets": [(start, end), ...] or None, "text": str or None}."""
        from ..data.schemes import spans

        nonempty = [i for i, item in enumerate(items) if item["tokens"]]
        tagged = dict(zip(nonempty, self.trained.tag([items[i]["tokens"] for i in nonempty], self.batch_size)))
        results = []
        for i, item in enumerate(items):
            tokens, tags, offsets = item["tokens"], tagged.get(i, []), item["offsets"]
            found = []
            for kind, start, end in spans(tags):
                span = {"type": kind, "start_token": start, "end_token": end}
                if offsets is not None:
                    span.update(start=offsets[start][0], end=offsets[end - 1][1],
                                text=item["text"][offsets[start][0]:offsets[end - 1][1]])
                else:
                    span["text"] = " ".join(tokens[start:end])
                found.append(span)
            results.append({"tokens": tokens, "tags": tags, "spans": found})
        return results


class Seq2SeqServed(Served):
    task, endpoint = "seq2seq", "translate"

    def info(self) -> dict:
        return {**super().info(), "attention": self.config.model.attention != "none"}

    def run(self, key: Hashable, items: List[str]) -> List[dict]:
        """``key``: (DecodeConfig, greedy, n_best, attention wanted)."""
        from ..tasks.decoding import detokenize

        settings, greedy, n_best, attention = key
        found = self.trained.translate(items, settings, greedy, n_best, self.batch_size)
        results = []
        for text, hypotheses in zip(items, found):
            vocabulary = self.trained.target_vocab
            result = {"translation": detokenize(vocabulary, hypotheses[0].tokens),
                      "hypotheses": [{"text": detokenize(vocabulary, h.tokens), "score": finite(h.score)}
                                     for h in hypotheses]}
            best = hypotheses[0]
            if attention and best.attention is not None and best.tokens:
                source = self.trained.source_vocab
                result["attention"] = {"source": source.tokens(source.encode(text)),
                                       "target": vocabulary.tokens(best.tokens),
                                       "weights": [[round(w, 5) for w in row] for row in best.attention.tolist()]}
            results.append(result)
        return results


class ForecasterServed(Served):
    task, endpoint = "forecast", "forecast"

    def info(self) -> dict:
        d = self.config.data
        columns = [d.time_column] * bool(d.time_column) + list(d.targets) + list(d.past_covariates)
        return {**super().info(), "columns": columns + list(d.future_covariates), "context": d.context,
                "horizon": d.horizon, "probabilistic": self.config.model.probabilistic}

    def run(self, key: Hashable, items: List[dict]) -> List[dict]:
        """One item: {"csv": the series as CSV text, "alerts": bool, "level": float}. The text goes through
        the same reader as `rnnkit forecast` (in a private temporary file that errors do not name)."""
        from ..tasks.forecasting import alerts, forecast_file

        results = []
        for item in items:
            with tempfile.TemporaryDirectory(prefix="rnnkit-serve-") as folder:
                path = os.path.join(folder, "body.csv")
                with open(path, "w", encoding="utf-8", newline="") as f:
                    f.write(item["csv"])
                try:
                    with torch.random.fork_rng():  # sampled quantiles: the same answer for the same series
                        torch.manual_seed(self.config.train.seed)
                        if item["alerts"]:
                            results.append(self._alerts(alerts(self.trained, path, item["level"])))
                        else:
                            results.append(self._forecast(forecast_file(self.trained, path)))
                except DataError as problem:
                    raise DataError(str(problem).replace(path, "body")) from None  # the client sent no file
        return results

    def _forecast(self, result: dict) -> dict:
        d = self.config.data
        quantiles = result["quantiles"]
        series = {}
        for j, name in enumerate(d.targets):
            entry = {"point": [float(v) for v in result["point"][:, j]]}
            if quantiles is not None:
                entry["quantiles"] = {f"{q:g}": [float(v) for v in quantiles[:, j, i]]
                                      for i, q in enumerate(result["levels"])}
            series[name] = entry
        history = result["series"]
        past = history.times if history.times is not None else range(len(history))
        keep = max(d.context, 3 * d.horizon)  # what a chart of the forecast shows before it
        return {"times": [str(t) for t in result["times"]], "series": series,
                "history": {"times": [str(t) for t in list(past)[-keep:]],
                            **{name: [float(v) for v in history.values[-keep:, j]] for j, name in enumerate(d.targets)}}}

    @staticmethod
    def _alerts(result: dict) -> dict:
        return {"level": result["level"], "checked": result["checked"], "outside": result["outside"]}


def finite(value: float, digits: int = 6):
    """A number JSON can carry: None for -inf (a hypothesis that never ended) and NaN."""
    return round(value, digits) if math.isfinite(value) else None


SERVED = {cls.task: cls for cls in (LanguageModelServed, ClassifierServed, TaggerServed, Seq2SeqServed,
                                    ForecasterServed)}


def load_served(spec: str, which: str = "best", batch_size: int = 64) -> Served:
    """A run to serve from ``RUN_DIR`` or ``NAME=RUN_DIR`` (the name defaults to the folder's)."""
    name, sep, path = spec.partition("=")
    if not sep:
        name, path = os.path.basename(os.path.normpath(spec)), spec
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise DataError(f"{spec}: a model name is letters, digits, '-', '_' and '.' (NAME=RUN_DIR)")
    kind = run_task(path)
    if kind not in SERVED:
        raise DataError(f"{path}: a run of task {kind!r}, which rnnkit cannot serve")
    return SERVED[kind].load(name, path, which, batch_size)


def as_csv(columns: Dict[str, List[Any]]) -> str:
    """A JSON series ({"time": [...], "load": [...]}) as the CSV text the series reader takes."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise DataError(f"series: the columns have different lengths ({', '.join(f'{k}: {len(v)}' for k, v in columns.items())})")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns.keys())
    writer.writerows([["" if v is None else v for v in row] for row in zip(*columns.values())])
    return text.getvalue()
