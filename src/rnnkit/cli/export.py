"""`rnnkit export`: a trained run as ONNX, with a runner that needs neither PyTorch nor rnnkit."""

import os
import sys

from .common import error


def export(args) -> int:
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as missing:
        return error(f"rnnkit export needs the export extra ({missing.name} is missing): pip install 'rnnkit[export]'")
    from ..export.tasks import export_run

    out = args.out or os.path.join(args.run_dir, "onnx")
    manifest = export_run(args.run_dir, out, args.checkpoint, args.quantize or "")  # RnnkitError: main()
    files = sorted(name for name in os.listdir(out) if name.endswith(".onnx"))
    print(f"{manifest['task']} run {args.run_dir} ({os.path.basename(manifest['checkpoint'])}) -> {out}: "
          f"{', '.join(files)}, rnnkit-export.json, run.py", file=sys.stderr)
    verb = {"classify": "classify 'a text'", "lm": "generate --prompt 'Once'", "tag": "tag 'Peter went to Paris.'",
            "seq2seq": "translate 'a sentence'"}[manifest["task"]]
    print(f"try: python {os.path.join(out, 'run.py')} {verb}", file=sys.stderr)
    return 0
