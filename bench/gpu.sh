#!/usr/bin/env bash
# What to run when a GPU is lent (the device tool, ../.library/device/README.md): the CUDA tests, the
# cell benchmark against cuDNN, and language-model runs. Run from the repository root on the GPU
# machine, with the data copied into .gpu-data/ (git-ignored; carry it):
#   mkdir -p .gpu-data && cp ../shared/data/ptb/ptb.*.txt ../shared/data/tinyshakespeare/input.txt .gpu-data/
#   bash bench/gpu.sh tests bench      # or: lm-ptb, lm-sweep
# Output goes to $OUT (the device tool brings it back) or ./gpu-out.
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT" runs
export PYTHONPATH=$PWD/src:$PWD PYTHONUNBUFFERED=1
PY=python3
rnnkit() { $PY -m rnnkit "$@"; }
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"

final() {  # the final validation record of a run directory
    $PY - "$1" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
final = ([r for r in rows if r["kind"] == "final"] or [r for r in rows if r["kind"] == "valid"])[-1]
train = [r for r in rows if r["kind"] == "train"]
print(f"{sys.argv[1]}: final valid loss {final['loss']:.4f} ppl {final['perplexity']:.2f} "
      f"steps {train[-1]['step']} epochs {train[-1]['epochs']:.1f} elapsed {train[-1]['elapsed']:.0f}s")
PYEOF
}

for stage in "$@"; do
  case $stage in
    tests)
      $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/tests-cuda.txt" ;;
    bench)
      rnnkit bench cells --device cuda 2>&1 | tee "$OUT/bench-cuda.txt" ;;
    lm-ptb)  # PTB_NAME, PTB_BUDGET (seconds) and PTB_SETS (extra --set options) vary the run
      name=${PTB_NAME:-ptb-medium}
      rnnkit train lm --data .gpu-data/ptb.train.txt --valid .gpu-data/ptb.valid.txt --config configs/ptb-medium.yaml \
        --set train.device=${DEVICE:-cuda} --set train.time_budget=${PTB_BUDGET:-500} ${PTB_SETS:-} \
        --out runs/$name --quiet > "$OUT/$name.txt" 2>&1
      final runs/$name | tee -a "$OUT/$name.txt"
      cp runs/$name/metrics.jsonl "$OUT/$name-metrics.jsonl" ;;
    lm-sweep)
      # Tiny Shakespeare settings at the epochs the 2-core CPU reaches in 30 minutes (2x512: about 16.5)
      while read -r name epochs sets; do
        case $name in ""|"#"*) continue ;; esac
        rnnkit train lm --data .gpu-data/input.txt --config configs/shakespeare.yaml --set train.device=${DEVICE:-cuda} \
          --set train.time_budget=0 --set train.max_epochs=$epochs --set train.threads=0 $sets \
          --out runs/sweep-$name --quiet > "runs/sweep-$name.log" 2>&1 || tail -3 "runs/sweep-$name.log"
        final runs/sweep-$name | tee -a "$OUT/sweep.txt"
      done < "${SWEEP:-bench/gpu-sweep.txt}" ;;
  esac
done
