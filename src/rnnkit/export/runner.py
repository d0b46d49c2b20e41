"""Run a model that `rnnkit export` wrote, with onnxruntime, numpy and tokenizers only: no PyTorch, no
rnnkit. `rnnkit export` copies this file into the export as run.py.

    python run.py [EXPORT_DIR] classify "a text" "another text"     # JSON lines: label, probabilities
    python run.py [EXPORT_DIR] classify --file texts.txt            # one text per line
    python run.py [EXPORT_DIR] generate --prompt "ROMEO:" --max-tokens 200 [--temperature 0.8 --top-k 40 --seed 1]
    python run.py [EXPORT_DIR] tag "Angela Merkel met Emmanuel Macron in Paris."   # JSON lines: tokens, tags, spans
    python run.py [EXPORT_DIR] translate "Ein Hund läuft." [--beam-size 5 --n-best 3 | --greedy]

EXPORT_DIR defaults to this file's folder. As a library: ``Exported(folder).classify(texts)`` and
``Exported(folder).generate(prompt, ...)``, ``Exported(folder).tag(sentences)``. The text goes through the same steps as in rnnkit (the
vocabulary is the run's own JSON); temperature 0 is greedy decoding, which gives the text rnnkit's
``generate --temperature 0`` gives.
"""

import argparse
import json
import os
import re
import sys

import numpy as np
import onnxruntime

WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")  # rnnkit/data/encoder.py
HTML_TAG = re.compile(r"<[a-zA-Z/][^<>]{0,80}>")


class TextEncoder:
    """A classifier's words or BPE pieces (rnnkit/data/encoder.py), from its JSON."""

    def __init__(self, data):
        self.kind, self.lowercase, self.strip_html = data["kind"], data["lowercase"], data["strip_html"]
        if self.kind == "bpe":
            from tokenizers import Tokenizer

            self.bpe = Tokenizer.from_str(data["tokenizer"])
        else:
            self.index = {s: i for i, s in enumerate(data["symbols"])}

    def encode(self, text):
        if self.strip_html:
            text = HTML_TAG.sub(" ", text)
        text = text.lower() if self.lowercase else text
        if self.kind == "bpe":
            return self.bpe.encode(text).ids
        return [self.index.get(word, 1) for word in WORD.findall(text)]  # 1: <unk>


class LanguageTokenizer:
    """A language model's characters, words or byte-level BPE (rnnkit/data/tokenizer.py), from its JSON."""

    def __init__(self, data):
        self.kind = data["kind"]
        if self.kind == "bpe":
            from tokenizers import Tokenizer

            self.bpe = Tokenizer.from_str(data["tokenizer"])
        else:
            self.symbols = data["symbols"]
            self.index = {s: i for i, s in enumerate(self.symbols)}

    def encode_prompt(self, prompt):
        """The ids to prime with (rnnkit's prompt_ids): unknown characters left out, unknown words <unk>, a
        word-level prompt's line left open; an empty prompt starts from a line break."""
        if self.kind == "bpe":
            ids = self.bpe.encode(prompt).ids if prompt else []
        elif self.kind == "char":
            ids = [self.index[ch] for ch in prompt if ch in self.index]
        else:
            eos, unk = self.index["<eos>"], self.index["<unk>"]
            lines = prompt.splitlines()
            ids = [i for line in lines for i in [self.index.get(w, unk) for w in line.split()] + [eos]]
            if ids and prompt and not prompt.endswith("\n"):
                ids = ids[:-1]
        if not ids:  # what "\n" encodes to, as rnnkit's tokenizers encode it
            if self.kind == "bpe":
                ids = self.bpe.encode("\n").ids
            elif self.kind == "char":
                ids = [self.index["\n"]] if "\n" in self.index else []
            else:
                ids = [self.index["<eos>"]]
        return ids or [0]

    def pieces(self, ids):
        """The text of ``ids`` as it is generated (BPE: a piece once it decodes whole)."""
        if self.kind == "char":
            for i in ids:
                yield self.symbols[i]
        elif self.kind == "word":
            start, eos = True, self.index["<eos>"]
            for i in ids:
                if i == eos:
                    yield "\n"
                    start = True
                else:
                    yield ("" if start else " ") + self.symbols[i]
                    start = False
        else:
            pending = []
            for i in ids:
                pending.append(i)
                piece = self.bpe.decode(pending)
                if not piece.endswith("\ufffd") or len(pending) >= 8:
                    pending = []
                    yield piece
            if pending:
                yield self.bpe.decode(pending)


TOKEN = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")  # rnnkit/tasks/tagging.py: how plain text is cut into tokens
DIGIT = re.compile(r"\d")


def casing(token):
    """rnnkit/data/tagging.py casing: the class of a token's letters and digits."""
    digits = sum(c.isdigit() for c in token)
    if token.isdigit():
        return "numeric"
    if digits / max(len(token), 1) > 0.5:
        return "mostly_numeric"
    if token.islower():
        return "lower"
    if token.isupper():
        return "upper"
    if token[:1].isupper():
        return "title"
    return "has_digit" if digits else "other"


def spans(tags):
    """rnnkit/data/schemes.py spans: (type, start, end) as conlleval reads IOB1, IOB2 and IOBES."""
    def split(tag):
        return ("O", "") if tag == "O" or "-" not in tag else tuple(tag.split("-", 1))

    found, start, prev, prev_type = [], None, "O", ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = split(tag)
        ends = prev in ("E", "S") or (prev in ("B", "I") and prefix in ("B", "S", "O")) or (
            prev != "O" and prev_type != kind)
        if start is not None and ends:
            found.append((prev_type, start, i))
            start = None
        starts = prefix in ("B", "S") or (prev in ("E", "S", "O") and prefix in ("E", "I")) or (
            prefix != "O" and prev_type != kind)
        if prefix != "O" and starts:
            start = i
        prev, prev_type = prefix, kind
    return found


def write(found, length, scheme):
    """rnnkit/data/schemes.py write: tags in ``scheme`` for non-overlapping spans."""
    tags = ["O"] * length
    previous_end, previous_type = -1, None
    for kind, start, end in sorted(found, key=lambda s: s[1]):
        if scheme == "iobes" and end - start == 1:
            tags[start] = f"S-{kind}"
        else:
            for i in range(start, end):
                tags[i] = f"I-{kind}"
            if scheme in ("iob2", "iobes") or (previous_end == start and previous_type == kind):
                tags[start] = f"B-{kind}"
            if scheme == "iobes":
                tags[end - 1] = f"E-{kind}"
        previous_end, previous_type = end, kind
    return tags


def viterbi(emissions, length, transitions, start, end):
    """rnnkit/models/crf.py decode for one sentence: the best tag sequence under the CRF's scores."""
    delta = start + emissions[0]
    pointers = []
    for t in range(1, length):
        scores = delta[:, None] + transitions  # (previous, next)
        pointers.append(scores.argmax(0))
        delta = scores.max(0) + emissions[t]
    tags = [int((delta + end).argmax())]
    for back in reversed(pointers):
        tags.append(int(back[tags[-1]]))
    return tags[::-1]


JOINER, SPACE, PAD, BOS, EOS = "\uffed", "\u2581", 0, 2, 3  # rnnkit/data/subwords.py


class Vocabulary:
    """A translation model's words (with OpenNMT's joiners) or Metaspace BPE (rnnkit/data/subwords.py)."""

    def __init__(self, data):
        self.kind, self.lowercase = data["kind"], data["lowercase"]
        if self.kind == "bpe":
            from tokenizers import Tokenizer

            self.bpe = Tokenizer.from_str(data["tokenizer"])
            self.bpe.encode_special_tokens = True
        else:
            self.symbols = data["symbols"]
            self.index = {s: i for i, s in enumerate(self.symbols)}

    def encode(self, text):
        text = " ".join(text.replace(JOINER if self.kind == "word" else SPACE, " ").split())
        text = text.lower() if self.lowercase else text
        if self.kind == "bpe":
            return self.bpe.encode(text, add_special_tokens=False).ids
        tokens, end = [], -1
        for match in WORD.finditer(text):
            token = match.group()
            if match.start() == end:  # no space since the previous token: one of the two is a mark
                if token[0].isalnum() or token[0] == "_":
                    tokens[-1] += JOINER
                else:
                    token = JOINER + token
            tokens.append(token)
            end = match.end()
        return [self.index.get(token, 1) for token in tokens]  # 1: <unk>

    def decode(self, ids):
        """The text of ``ids`` on one line (rnnkit's detokenize)."""
        ids = [i for i in ids if i not in (PAD, BOS)]
        ids = ids[:ids.index(EOS)] if EOS in ids else ids
        if self.kind == "bpe":
            text = self.bpe.decode(ids, skip_special_tokens=False)
        else:
            pieces, attached = [], True
            for token in (self.symbols[i] for i in ids):
                if not attached and not token.startswith(JOINER):
                    pieces.append(" ")
                pieces.append(token.removeprefix(JOINER).removesuffix(JOINER))
                attached = token.endswith(JOINER)
            text = "".join(pieces)
        return text.replace("\r", " ").replace("\n", " ")


class Exported:
    def __init__(self, folder, model=None):
        with open(os.path.join(folder, "rnnkit-export.json"), encoding="utf-8") as f:
            self.manifest = json.load(f)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3

        def session(name):
            return onnxruntime.InferenceSession(os.path.join(folder, name), options, providers=["CPUExecutionProvider"])

        self.task = self.manifest["task"]
        if self.task == "seq2seq":  # model: "int8" picks encoder.int8.onnx and decoder.int8.onnx
            suffix = ".int8.onnx" if model in ("int8", "model.int8.onnx") else ".onnx"
            self.encoder, self.decoder = session("encoder" + suffix), session("decoder" + suffix)
        else:
            self.session = session(model or "model.onnx")

    # --- classification --------------------------------------------------------------------------
    def classify(self, texts, batch_size=64):
        m = self.manifest
        encoder = TextEncoder(m["encoder"])
        pad_id = 1 if encoder.kind == "word" else 0  # a text with no tokens reads as one <unk>
        sequences = [truncate(encoder.encode(t), m["max_length"], m["truncation"]) or [pad_id] for t in texts]
        results = []
        for start in range(0, len(sequences), batch_size):
            chunk = sequences[start:start + batch_size]
            lengths = np.array([len(s) for s in chunk], dtype=np.int64)
            ids = np.zeros((len(chunk), lengths.max()), dtype=np.int64)
            for row, s in enumerate(chunk):
                ids[row, :len(s)] = s
            probabilities = self.session.run(None, {"ids": ids, "lengths": lengths})[0]
            for row in probabilities:
                best = int(row.argmax())
                results.append({"label": m["classes"][best], "probability": float(row[best]),
                                "probabilities": dict(zip(m["classes"], map(float, row)))})
        return results

    # --- generation ------------------------------------------------------------------------------
    def generate(self, prompt, max_tokens=200, temperature=1.0, top_k=0, top_p=1.0, seed=None):
        """The text after ``prompt``, piece by piece (a generator)."""
        m = self.manifest
        tokenizer = LanguageTokenizer(m["tokenizer"])
        rng = np.random.default_rng(seed)
        state = np.zeros((m["state"]["layers"], 1, m["state"]["hidden_size"]), dtype=np.float32)
        tokens = np.array([tokenizer.encode_prompt(prompt)], dtype=np.int64)
        h, c = state, state

        def ids():
            nonlocal tokens, h, c
            for _ in range(max_tokens):
                logits, h, c = self.session.run(None, {"tokens": tokens, "h0": h, "c0": c})
                token = sample(logits[0, -1], temperature, top_k, top_p, rng)
                yield token
                tokens = np.array([[token]], dtype=np.int64)

        yield from tokenizer.pieces(ids())


    # --- tagging --------------------------------------------------------------------------------
    def tag(self, sentences, batch_size=64):
        """Tags (in the training files' scheme) and spans for each sentence: a string (tokenized here, spans
        with character offsets) or a list of tokens."""
        m = self.manifest
        v = m["vocabulary"]
        words, chars = ({s: i for i, s in enumerate(v[k])} for k in ("words", "chars"))
        names, cases = v["tags"], {c: i for i, c in enumerate(m["cases"])}
        prepared = []
        for sentence in sentences:
            if isinstance(sentence, str):
                matches = list(TOKEN.finditer(sentence))
                prepared.append(([x.group() for x in matches], [(x.start(), x.end()) for x in matches], sentence))
            else:
                prepared.append((list(sentence), None, None))

        def normal(token):
            token = token.lower() if v["lowercase"] else token
            return DIGIT.sub("0", token) if v["zeros"] else token

        results = []
        for first in range(0, len(prepared), batch_size):
            chunk = prepared[first:first + batch_size]
            B = len(chunk)
            T = max(max(len(tokens) for tokens, _, _ in chunk), 1)
            L = max([len(t) for tokens, _, _ in chunk for t in tokens] + [1])
            feed = {"words": np.zeros((B, T), np.int64), "chars": np.zeros((B, T, L), np.int64),
                    "char_lengths": np.zeros((B, T), np.int64), "cases": np.zeros((B, T), np.int64),
                    "lengths": np.array([max(len(tokens), 1) for tokens, _, _ in chunk], np.int64)}
            for b, (tokens, _, _) in enumerate(chunk):
                for t, token in enumerate(tokens):
                    feed["words"][b, t] = words.get(normal(token), 1)  # 1: <unk>
                    feed["chars"][b, t, :len(token)] = [chars.get(c, 1) for c in token]
                    feed["char_lengths"][b, t] = len(token)
                    feed["cases"][b, t] = cases[casing(token)]
            emissions = self.session.run(None, feed)[0]
            decoder = m["decoder"]
            for b, (tokens, offsets, text) in enumerate(chunk):
                n = len(tokens)
                if not n:
                    results.append({"tokens": [], "tags": [], "spans": []})
                    continue
                if decoder["kind"] == "crf":
                    ids = viterbi(emissions[b], n, np.array(decoder["transitions"]), np.array(decoder["start"]),
                                  np.array(decoder["end"]))
                else:
                    ids = emissions[b, :n].argmax(-1).tolist()
                predicted = write(spans([names[i] for i in ids]), n, m["scheme"])
                found = []
                for kind, a, z in spans(predicted):
                    span = {"type": kind, "start_token": a, "end_token": z, "text": " ".join(tokens[a:z])}
                    if offsets is not None:
                        span.update(start=offsets[a][0], end=offsets[z - 1][1], text=text[offsets[a][0]:offsets[z - 1][1]])
                    found.append(span)
                results.append({"tokens": tokens, "tags": predicted, "spans": found})
        return results


    # --- translation ------------------------------------------------------------------------------
    def translate(self, texts, beam_size=None, n_best=1, greedy=False, length_penalty=None, batch_size=64):
        """Per text {"translation", "hypotheses": [{"text", "score"}], best first}, by rnnkit's beam search
        (models/beam_search.py) or greedily (no score), sentences sorted by length and batched as rnnkit
        batches them."""
        m = self.manifest
        source, target = Vocabulary(m["source_vocabulary"]), Vocabulary(m["target_vocabulary"])
        d = m["decode"]
        k = beam_size or d["beam_size"]
        alpha = d["length_penalty"] if length_penalty is None else length_penalty
        ids = [source.encode(text) for text in texts]
        results = [{"translation": "", "hypotheses": [{"text": "", "score": 0.0}]} for _ in texts]
        order = sorted((i for i in range(len(texts)) if ids[i]), key=lambda i: len(ids[i]))
        for first in range(0, len(order), batch_size):
            rows = order[first:first + batch_size]
            lengths = np.array([len(ids[i]) for i in rows], np.int64)
            batch = np.zeros((len(rows), lengths.max()), np.int64)
            for r, i in enumerate(rows):
                batch[r, :lengths[r]] = ids[i]
            state = dict(zip(m["state"], self.encoder.run(None, {"source": batch, "lengths": lengths})))
            limits = np.floor(d["max_length_a"] * lengths + d["max_length_b"]).clip(min=0).astype(np.int64)
            found = self._greedy(state, limits) if greedy else self._beam(state, limits, k, n_best, alpha)
            for i, hypotheses in zip(rows, found):
                texts_ = [{"text": target.decode(tokens), "score": score} for tokens, score in hypotheses]
                results[i] = {"translation": texts_[0]["text"], "hypotheses": texts_}
        return results

    def _step(self, token, state):
        """One decoder step for rows token (R,): log-probabilities (R, V) in float64, the new state."""
        m = self.manifest
        outputs = self.decoder.run(None, {"token": token.astype(np.int64), **state})
        state = {**state, **dict(zip(m["changing"], outputs[1:1 + len(m["changing"])]))}
        return outputs[0].astype(np.float64), state

    @staticmethod
    def _select(state, rows):
        return {name: value[:, rows] if name in ("h", "c") else value[rows] for name, value in state.items()}

    @staticmethod
    def _restrict(log_probs, step, limits):
        """rnnkit's restrict, per row: PAD and BOS never; only EOS once a row has its limit of tokens."""
        log_probs = log_probs.copy()
        at_max = step >= limits  # (R,)
        eos = log_probs[:, EOS].copy()
        log_probs[:, [PAD, BOS]] = -np.inf
        log_probs[at_max] = -np.inf
        log_probs[at_max, EOS] = eos[at_max]
        return log_probs

    def _greedy(self, state, limits):
        """The likeliest token at each step for every sentence at once (models/seq2seq.py greedy)."""
        token = np.full(len(limits), BOS)
        done = np.zeros(len(limits), bool)
        tokens = [[] for _ in limits]
        for step in range(int(limits.max()) + 1):
            log_probs, state = self._step(token, state)
            token = self._restrict(log_probs, step, limits).argmax(1)
            token[done] = PAD
            for r in np.nonzero(~done & (token != EOS))[0]:
                tokens[r].append(int(token[r]))
            done |= token == EOS
            if done.all():
                break
        return [[(t, None)] for t in tokens]  # greedy hypotheses have no score, as in rnnkit

    def _beam(self, state, limits, k, n_best, alpha):
        """rnnkit's batched beam search: k live rows per sentence, the 2k best candidates, finished ones
        kept by GNMT-penalized score, sentences leaving the batch once nothing live can beat them."""
        def penalty(length):
            return ((5 + length) / 6) ** alpha

        B = len(limits)
        state = self._select(state, np.repeat(np.arange(B), k))
        active = np.arange(B)
        scores = np.full((B, k), -np.inf)
        scores[:, 0] = 0.0
        token, history, finished = np.full(B * k, BOS), [[] for _ in range(B * k)], [[] for _ in range(B)]
        for step in range(int(limits.max()) + 1):
            n = len(active)
            log_probs, state = self._step(token, state)
            log_probs = self._restrict(log_probs, step, np.repeat(limits[active], k))
            V = log_probs.shape[1]
            total = (scores[:, :, None] + log_probs.reshape(n, k, V)).reshape(n, k * V)
            c = min(2 * k, k * V)  # the c best of each row, then sorted: a selection, as torch.topk
            best = np.argpartition(-total, c - 1, axis=1)[:, :c] if c < k * V else np.tile(np.arange(k * V), (n, 1))
            best = np.take_along_axis(best, np.argsort(-np.take_along_axis(total, best, 1), axis=1, kind="stable"), 1)
            top = np.take_along_axis(total, best, 1)
            origin, word = best // V + k * np.arange(n)[:, None], best % V
            is_eos = word == EOS
            for i, j in zip(*np.nonzero(is_eos[:, :k] & np.isfinite(top[:, :k]))):
                kept = finished[active[i]]
                kept.append((history[origin[i, j]], float(top[i, j]) / penalty(step + 1)))
                kept.sort(key=lambda h: -h[1])
                del kept[n_best:]
            live = np.where(is_eos, -np.inf, top)
            pick = np.argsort(-live, axis=1, kind="stable")[:, :k]
            scores = np.take_along_axis(live, pick, 1)
            rows = np.take_along_axis(origin, pick, 1).reshape(-1)
            token = np.take_along_axis(word, pick, 1).reshape(-1)
            history = [history[r] + [int(t)] for r, t in zip(rows, token)]
            state = self._select(state, rows)
            bound = scores[:, 0] / penalty(limits[active] + 1)
            going = np.array([not (b == -np.inf or (len(finished[s]) >= n_best and finished[s][n_best - 1][1] >= b))
                              for b, s in zip(bound, active)])
            if not going.any():
                break
            if not going.all():  # done sentences leave the batch
                keep = np.nonzero(going)[0]
                rows = (keep[:, None] * k + np.arange(k)).reshape(-1)
                active, scores, token = active[keep], scores[keep], token[rows]
                history = [history[r] for r in rows]
                state = self._select(state, rows)
        return finished


def truncate(ids, max_length, how):
    """rnnkit/data/batches.py truncate."""
    if max_length <= 0 or len(ids) <= max_length:
        return ids
    if how == "head":
        return ids[:max_length]
    if how == "tail":
        return ids[-max_length:]
    head = max_length // 4
    return ids[:head] + ids[len(ids) - (max_length - head):]


def sample(logits, temperature, top_k, top_p, rng):
    """rnnkit's sample_next on one row of logits: 0 = greedy; top-k; nucleus (top-p)."""
    if temperature <= 0:
        return int(logits.argmax())
    logits = logits.astype(np.float64) / temperature
    if 0 < top_k < logits.size:
        logits = np.where(logits < np.sort(logits)[-top_k], -np.inf, logits)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    if top_p < 1.0:
        order = np.argsort(-probabilities)
        before = np.cumsum(probabilities[order]) - probabilities[order]
        probabilities[order[before >= top_p]] = 0.0
        probabilities /= probabilities.sum()
    return int(rng.choice(probabilities.size, p=probabilities))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    folder = os.path.dirname(os.path.abspath(__file__))
    if argv and os.path.isfile(os.path.join(argv[0], "rnnkit-export.json")):  # an export folder, not a verb
        folder = argv.pop(0)
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    classify = verbs.add_parser("classify")
    classify.add_argument("texts", nargs="*")
    classify.add_argument("--file", help="one text per line")
    generate = verbs.add_parser("generate")
    generate.add_argument("--prompt", default="")
    generate.add_argument("--max-tokens", type=int, default=200)
    generate.add_argument("--temperature", type=float, default=0.8)
    generate.add_argument("--top-k", type=int, default=0)
    generate.add_argument("--top-p", type=float, default=1.0)
    generate.add_argument("--seed", type=int, default=None)
    translate = verbs.add_parser("translate")
    translate.add_argument("texts", nargs="*", help="sentences")
    translate.add_argument("--file", help="one sentence per line")
    translate.add_argument("--beam-size", type=int)
    translate.add_argument("--n-best", type=int, default=1)
    translate.add_argument("--greedy", action="store_true")
    tag = verbs.add_parser("tag")
    tag.add_argument("texts", nargs="*", help="sentences of plain text")
    tag.add_argument("--file", help="one sentence per line")
    for verb in (classify, generate, tag, translate):
        verb.add_argument("--model", help="the ONNX file in the export (default model.onnx; model.int8.onnx)")
    args = parser.parse_args(argv)
    exported = Exported(folder, args.model)
    wanted = {"classify": "classify", "generate": "lm", "tag": "tag", "translate": "seq2seq"}[args.verb]
    if exported.task != wanted:
        parser.error(f"{folder} holds a {exported.task!r} model; {args.verb} needs a {wanted!r} one")
    if args.verb in ("classify", "tag", "translate"):
        texts = args.texts
        if args.file:
            with open(args.file, encoding="utf-8") as f:
                texts = texts + [line.rstrip("\r\n") for line in f if line.strip()]
        if args.verb == "translate":
            for result in exported.translate(texts, args.beam_size, args.n_best, args.greedy):
                print(result["translation"] if args.n_best == 1 else json.dumps(result, ensure_ascii=False))
            return
        for result in (exported.classify(texts) if args.verb == "classify" else exported.tag(texts)):
            print(json.dumps(result, ensure_ascii=False))
    else:
        sys.stdout.write(args.prompt)
        for piece in exported.generate(args.prompt, args.max_tokens, args.temperature, args.top_k, args.top_p,
                                       args.seed):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
