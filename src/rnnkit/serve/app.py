"""The HTTP server: a FastAPI application over loaded runs (serve/models.py), one micro-batching worker
each (serve/batcher.py).

    GET  /health                          {"status": "ok", "models": [...]}
    GET  /v1/models                       name, task, endpoint, layer, parameters, metrics of each model
    POST /v1/models/{name}/generate       language models: a prompt -> text (JSON, or server-sent events)
    POST /v1/models/{name}/classify       texts -> labels and probabilities
    POST /v1/models/{name}/tag            texts (or tokens) -> tags and spans with character offsets
    POST /v1/models/{name}/translate      texts -> translations, n-best lists, attention weights
    POST /v1/models/{name}/forecast       a series (JSON columns, or a CSV body) -> quantiles, or alerts
    GET  /docs, /openapi.json             the schema of all of them
    GET  /                                a page to try each model (serve/static: plain HTML and JavaScript)

What a client sends never causes a 500: a body over the size limit is 413; bad JSON, a wrong or
missing field, too many texts or tokens, or data the model cannot use (a series too short) are 422
with the reason and the field; a full queue is 503 with Retry-After; a request over its time is 504.
No endpoint reads a path a client names.
"""

import asyncio
import ipaddress
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from ..errors import RnnkitError
from .batcher import Batcher, QueueFull
from .models import Generation, Served, as_csv
from .schemas import ForecastRequest, GenerateRequest, TagRequest, TextsRequest, TranslateRequest


@dataclass(frozen=True)
class Limits:
    """What one request may ask; each is a `rnnkit serve` option of the same name."""
    max_body_bytes: int = 1 << 20     # 413 over this
    max_texts: int = 64               # texts (or sentences, or series) per request
    max_tokens_per_text: int = 1000   # whitespace-separated tokens in one text
    max_new_tokens: int = 1000        # what one generation may ask for
    timeout: float = 30.0             # seconds before a request is answered 504
    queue_size: int = 64              # requests waiting per model before 503
    batch_size: int = 64              # texts in one forward pass
    batch_wait: float = 0.005         # seconds a batch waits for more requests to join it

    def __post_init__(self):
        for name in ("max_body_bytes", "max_texts", "max_tokens_per_text", "max_new_tokens", "queue_size",
                     "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r}: expected an integer >= 1")
        if not self.timeout > 0 or not 0 <= self.batch_wait < self.timeout:
            raise ValueError(f"timeout={self.timeout!r}, batch_wait={self.batch_wait!r}: expected timeout > 0 "
                             "and 0 <= batch_wait < timeout")


class ClientError(Exception):
    """A request the server cannot answer as asked: its status and reason."""

    def __init__(self, status: int, message: str, headers: Dict[str, str] = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def create_app(served: List[Served], limits: Limits = Limits()) -> FastAPI:
    models = {model.name: model for model in served}
    batchers: Dict[str, Batcher] = {}

    @asynccontextmanager
    async def lifespan(app):
        for model in served:
            batchers[model.name] = Batcher(model.run, model.name, limits.batch_size, limits.batch_wait,
                                           limits.queue_size)
        yield
        for batcher in batchers.values():
            batcher.close()

    app = FastAPI(title="rnnkit", description="Trained recurrent networks over HTTP", lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    app.state.batchers = batchers  # tests and the benchmark read batch counts

    @app.exception_handler(ClientError)
    async def client_error(request, problem: ClientError):
        return JSONResponse({"error": str(problem)}, problem.status, problem.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, problem: RequestValidationError):
        errors = problem.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
        if first.get("type") == "json_invalid":  # its loc is (body, character position)
            position = first["loc"][-1] if len(first["loc"]) > 1 else "?"
            reason = (first.get("ctx") or {}).get("error", "")
            return JSONResponse({"error": f"body: not valid JSON at character {position}{': ' + reason if reason else ''}",
                                 "field": "body"}, 422)
        def field(error) -> str:
            return ".".join(str(part) for part in error["loc"] if part != "body") or "body"

        return JSONResponse({"error": f"{field(first)}: {first['msg']}", "field": field(first),
                             "errors": [{"field": field(e), "message": e["msg"]} for e in errors]}, 422)

    def model_for(name: str, endpoint: str) -> Served:
        model = models.get(name)
        if model is None:
            raise ClientError(404, f"no model {name!r}; this server has {', '.join(sorted(models))}")
        if model.endpoint != endpoint:
            raise ClientError(404, f"model {name!r} serves task {model.task!r}: POST /v1/models/{name}/{model.endpoint}")
        return model

    def check_texts(texts: List[str], field: str = "texts") -> None:
        if len(texts) > limits.max_texts:
            raise ClientError(422, f"{field}: {len(texts):,} items, more than the limit of {limits.max_texts} "
                                   "(--max-texts)")
        for i, text in enumerate(texts):
            count = len(text.split()) if isinstance(text, str) else len(text)
            if count > limits.max_tokens_per_text:
                raise ClientError(422, f"{field}.{i}: {count:,} tokens, more than the limit of "
                                       f"{limits.max_tokens_per_text} (--max-tokens-per-text)")

    async def answer(name: str, items: list, key=None) -> list:
        try:
            return await asyncio.wait_for(batchers[name].submit(items, key), limits.timeout)
        except QueueFull as problem:
            raise ClientError(503, f"{problem}; try again shortly", {"Retry-After": "1"}) from None
        except asyncio.TimeoutError:
            raise ClientError(504, f"no answer within {limits.timeout:g} s (--timeout)") from None
        except RnnkitError as problem:  # what the client sent, as the model's own reader saw it
            raise ClientError(422, str(problem)) from None

    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(static / "index.html")

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": sorted(models)}

    listing = {"models": [model.info() for model in served]}  # the runs are loaded once: so is what they are

    @app.get("/v1/models")
    async def list_models():
        return listing

    @app.post("/v1/models/{name}/classify")
    async def classify(name: str, body: TextsRequest):
        model_for(name, "classify")
        check_texts(body.texts)
        return {"results": await answer(name, body.texts)}

    @app.post("/v1/models/{name}/tag")
    async def tag(name: str, body: TagRequest):
        from ..tasks.tagging import tokenize

        model_for(name, "tag")
        if (body.texts is None) == (body.tokens is None):
            raise ClientError(422, "texts or tokens: give one of them (plain sentences, or sentences as tokens)")
        if body.texts is not None:
            check_texts(body.texts)
            items = [dict(zip(("tokens", "offsets"), tokenize(text)), text=text) for text in body.texts]
        else:
            check_texts(body.tokens, "tokens")
            bad = [(i, j) for i, sentence in enumerate(body.tokens) for j, t in enumerate(sentence) if not t.strip()
                   or len(t.split()) != 1]
            if bad:
                raise ClientError(422, f"tokens.{bad[0][0]}.{bad[0][1]}: a token is one word, without spaces")
            items = [{"tokens": sentence, "offsets": None, "text": None} for sentence in body.tokens]
        return {"results": await answer(name, items)}

    @app.post("/v1/models/{name}/translate")
    async def translate(name: str, body: TranslateRequest):
        import dataclasses

        model = model_for(name, "translate")
        check_texts(body.texts)
        changes = {k: v for k, v in (("beam_size", body.beam_size), ("length_penalty", body.length_penalty))
                   if v is not None}
        settings = dataclasses.replace(model.config.decode, **changes)
        if body.greedy and body.n_best > 1:
            raise ClientError(422, "n_best: greedy decoding finds one hypothesis; n_best needs beam search")
        if not body.greedy and body.n_best > settings.beam_size:
            raise ClientError(422, f"n_best: {body.n_best} is more than the beam ({settings.beam_size})")
        if body.attention and model.config.model.attention == "none":
            raise ClientError(422, "attention: this model has none (model.attention=none)")
        key = (settings, body.greedy, body.n_best, body.attention)
        return {"results": await answer(name, body.texts, key)}

    body_schema = {"content": {"application/json": {"schema": ForecastRequest.model_json_schema()},
                               "text/csv": {"schema": {"type": "string", "description": "the series as CSV; "
                                                       "?alerts=true&level=0.9 in the query"}}}, "required": True}

    @app.post("/v1/models/{name}/forecast", openapi_extra={"requestBody": body_schema})
    async def forecast(name: str, request: Request):
        model_for(name, "forecast")
        if request.headers.get("content-type", "").split(";")[0].strip() == "text/csv":
            try:
                text = (await request.body()).decode("utf-8")
            except UnicodeDecodeError as problem:
                raise ClientError(422, f"body: not UTF-8 text (byte at offset {problem.start})") from None
            alerts = request.query_params.get("alerts", "false").lower() in ("1", "true", "yes")
            try:
                level = float(request.query_params.get("level", "0.95"))
            except ValueError:
                level = float("nan")
            if not 0 < level < 1:
                raise ClientError(422, f"level: expected a number in (0, 1), got {request.query_params['level']!r}")
            item = {"csv": text, "alerts": alerts, "level": level}
        else:
            body = await parse(request, ForecastRequest)
            try:
                item = {"csv": as_csv(body.series), "alerts": body.alerts, "level": body.level}
            except RnnkitError as problem:
                raise ClientError(422, str(problem)) from None
        return (await answer(name, [item], object()))[0]

    @app.post("/v1/models/{name}/generate")
    async def generate(name: str, body: GenerateRequest):
        model_for(name, "generate")
        if body.max_tokens > limits.max_new_tokens:
            raise ClientError(422, f"max_tokens: {body.max_tokens:,}, more than the limit of {limits.max_new_tokens} "
                                   "(--max-new-tokens)")
        check_texts([body.prompt], "prompt")
        request = Generation(body.prompt, body.max_tokens, body.temperature, body.top_k, body.top_p, body.seed,
                             body.stop_at_eos)
        if not body.stream:
            try:
                return (await answer(name, [request], object()))[0]
            finally:
                request.cancel.set()  # on a timeout, the worker stops at its next token
        if batchers[name].queue.full():
            raise ClientError(503, f"model {name!r} has {limits.queue_size} requests waiting; try again shortly",
                              {"Retry-After": "1"})
        return StreamingResponse(stream(batchers[name], request, limits.timeout), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return app


async def parse(request: Request, schema):
    """A JSON body read by hand (the forecast endpoint also takes CSV), with the same 422s."""
    from pydantic import ValidationError

    try:
        return schema.model_validate_json(await request.body())
    except ValidationError as problem:
        raise RequestValidationError(problem.errors(include_url=False)) from None


async def stream(batcher: Batcher, request: Generation, timeout: float):
    """Server-sent events: {"text": piece} as each piece is generated, then {"done": true, ...}."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()
    request.emit = lambda piece: loop.call_soon_threadsafe(events.put_nowait, ("piece", piece))

    async def run():
        try:
            result = await batcher.submit([request], object())
            events.put_nowait(("done", result[0]))
        except Exception as problem:  # noqa: BLE001 (sent to the client as the stream's last event)
            events.put_nowait(("error", str(problem)))

    task = loop.create_task(run())
    deadline = loop.time() + timeout
    try:
        while True:
            try:
                kind, value = await asyncio.wait_for(events.get(), max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:
                yield f"data: {json.dumps({'error': f'no end within {timeout:g} s (--timeout)'})}\n\n"
                return
            if kind == "piece":
                yield f"data: {json.dumps({'text': value}, ensure_ascii=False)}\n\n"
            elif kind == "done":
                yield f"data: {json.dumps({'done': True, 'pieces': value['pieces']})}\n\n"
                return
            else:
                yield f"data: {json.dumps({'error': value})}\n\n"
                return
    finally:
        request.cancel.set()  # the client left or the time is up: the worker stops at its next token
        if not task.done():
            task.cancel()


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 before it is read whole
    (by its Content-Length, or, when it is sent in chunks, as soon as it passes the limit)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await self.refuse(send)
        received, too_large, refused = 0, False, False

        async def counted():  # past the limit, the body ends there (the app sees a truncated one) ...
            nonlocal received, too_large
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def answered(message):  # ... and whatever the app answers to that is replaced by the 413
            nonlocal refused
            if not too_large:
                return await send(message)
            if not refused:
                refused = True
                await self.refuse(send)

        await self.app(scope, counted, answered)

    async def refuse(self, send):
        body = json.dumps({"error": f"the body is over the limit of {self.limit:,} bytes (--max-body-bytes)"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
