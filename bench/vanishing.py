"""Vanishing gradients, in numbers: how much the loss at the last step of a window depends on the input
k steps earlier, for trained language models (an RNN, an LSTM, a GRU).

For each run directory, a batch of validation-like windows of T characters is taken from FILE, and
the gradient of the last position's loss with respect to the input embeddings is measured at each
earlier position: g(k) = mean over the batch of || d loss_T / d e_{T-k} ||, reported relative to g(0).
A vanilla RNN's g(k) falls off exponentially (Bengio et al. 1994; Hochreiter 1991); the gated cells
keep it alive over long distances.

    python bench/vanishing.py FILE RUN_DIR [RUN_DIR ...] [--steps 200] [--batch 32]
"""

import argparse
import os

import torch

from rnnkit.tasks.language_modeling import load_trained


def gradient_by_distance(model, ids: torch.Tensor, steps: int, batch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, ids.numel() - steps - 1, (batch,), generator=generator)
    x = torch.stack([ids[s:s + steps] for s in starts])            # (B, T)
    y = torch.stack([ids[s + steps] for s in starts])              # (B,) the token after the window
    model.eval()
    embedded = model.embedding(x).detach().requires_grad_()       # (B, T, E)
    out, _ = model.rnn(embedded)                                   # (B, T, H)
    if model.projection is not None:
        out = model.projection(out)
    loss = torch.nn.functional.cross_entropy(model.decoder(out[:, -1]), y)
    loss.backward()
    norms = embedded.grad.norm(dim=-1).mean(0)                     # (T,) by position
    return norms.flip(0)                                           # g(k): k = 0 is the last step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    distances = [k for k in (0, 1, 5, 10, 20, 50, 100, 150, 199) if k < args.steps]
    print(f"{'run':<28}{'cell':<10}" + "".join(f"{'k=' + str(k):>10}" for k in distances))
    for run in args.runs:
        model, tokenizer, meta = load_trained(run)
        ids = torch.tensor(tokenizer.encode(open(args.file, encoding="utf-8").read()))
        g = gradient_by_distance(model, ids, args.steps, args.batch)
        rel = g / g[0]
        print(f"{os.path.basename(run.rstrip(os.sep))[:27]:<28}{model.config.cell:<10}" + "".join(f"{float(rel[k]):>10.2e}" for k in distances))


if __name__ == "__main__":
    main()
