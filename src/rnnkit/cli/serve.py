"""`rnnkit serve`: trained runs over HTTP, on 127.0.0.1 unless told otherwise."""

import sys

from .common import error, note


def serve(args) -> int:
    import uvicorn

    from ..serve import Limits, create_app, is_loopback, load_served

    try:
        limits = Limits(args.max_body_bytes, args.max_texts, args.max_tokens_per_text, args.max_new_tokens,
                        args.timeout, args.queue_size, args.batch_size, args.batch_wait_ms / 1000)
    except ValueError as problem:
        return error(str(problem))
    served = [load_served(spec, args.checkpoint, args.batch_size) for spec in args.runs]  # RnnkitError: main()
    names = [model.name for model in served]
    if len(set(names)) < len(names):
        return error(f"two runs are named {next(n for n in names if names.count(n) > 1)!r}: name them, NAME=RUN_DIR")
    if not is_loopback(args.host):
        note(f"--host {args.host}: the models answer anyone who can reach this address; rnnkit serve has no "
             "authentication (put it behind a proxy that has)")
    for model in served:
        note(f"{model.name}: {model.task} ({model.checkpoint}) at POST /v1/models/{model.name}/{model.endpoint}")
    print(f"rnnkit serve: http://{args.host}:{args.port}/ (the page), /docs (the API)", file=sys.stderr, flush=True)
    uvicorn.run(create_app(served, limits), host=args.host, port=args.port, log_level=args.log_level)
    return 0
