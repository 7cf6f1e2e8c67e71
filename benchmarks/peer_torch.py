"""Our train step against PyTorch peers on the identical model and batch, alternating runs.

    python benchmarks/peer_torch.py [--config bench|demo|study] [--rounds 5] [--steps 4] [--masked-only] [--default-malloc]

Peers (torch 2.13.0 CPU, Hugging Face transformers, AdamW with our optimizer's settings):
- `hf`: XLMRobertaForMaskedLM as users run it: logits over the whole vocabulary at every
  position, loss on the masked ones (labels -100 elsewhere);
- `fairseq`: the same HF modules with the LM head applied only at the masked positions
  (fairseq's trick, the strongest PyTorch setup). `--masked-only` runs only this peer.
Rounds alternate ours / peers so that machine drift hits all of them alike; the table gives
the median step time over all rounds and our tokens/s relative to each peer.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_step  # noqa: E402  (this folder)


def torch_peer(runner: "train_step.Runner", masked_only: bool):
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xlmeta_jax.interop import hf

    torch.manual_seed(0)
    torch.set_num_threads(max(1, __import__("os").cpu_count()))
    c, vocab = runner.config, runner.vocab
    model_cfg = hf.hf_config(hf.ModelConfig.from_config(c.model, vocab))
    model = XLMRobertaForMaskedLM(XLMRobertaConfig(**{k: v for k, v in model_cfg.items() if k != "architectures"}))
    model.train()
    o = c.optimizer
    opt = torch.optim.AdamW(model.parameters(), lr=o.learning_rate, betas=(o.b1, o.b2), eps=o.eps,
                            weight_decay=o.weight_decay)
    batches = []
    for b in runner.batches:
        s = b["mono"]
        tokens = torch.as_tensor(np.array(s["tokens"]), dtype=torch.long)
        rows = torch.arange(tokens.shape[0])[:, None].expand_as(torch.as_tensor(s["mlm_positions"]))
        slots = torch.as_tensor(np.array(s["mlm_positions"]), dtype=torch.long)
        weights = torch.as_tensor(np.array(s["weights"]))
        targets = torch.as_tensor(np.array(s["targets"]), dtype=torch.long)
        labels = torch.full_like(tokens, -100)
        keep = weights > 0
        labels[rows[keep], slots[keep]] = targets[keep]
        batches.append(dict(tokens=tokens, positions=torch.as_tensor(np.array(s["positions"]), dtype=torch.long),
                            mask=torch.as_tensor(np.array(s["segment_ids"]) > 0).long(), labels=labels,
                            rows=rows[keep], slots=slots[keep], targets=targets[keep]))

    def step(b, full: bool):
        opt.zero_grad(set_to_none=True)
        if full:
            loss = model(input_ids=b["tokens"], attention_mask=b["mask"], position_ids=b["positions"],
                         labels=b["labels"]).loss
        else:
            hidden = model.roberta(input_ids=b["tokens"], attention_mask=b["mask"],
                                   position_ids=b["positions"]).last_hidden_state
            logits = model.lm_head(hidden[b["rows"], b["slots"]])
            loss = torch.nn.functional.cross_entropy(logits, b["targets"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), o.clip_norm)
        opt.step()

    def run(full: bool, n: int) -> list[float]:
        times = []
        for i in range(n):
            t = time.perf_counter()
            step(batches[i % len(batches)], full)
            times.append(time.perf_counter() - t)
        return times

    peers = {"fairseq": lambda n: run(False, n)}
    if not masked_only:
        peers["hf"] = lambda n: run(True, n)
    for f in peers.values():
        f(1)  # warm-up
    return peers


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(train_step.CONFIGS), default="bench")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=4, help="steps per system per round")
    ap.add_argument("--masked-only", action="store_true", help="only the fairseq-style peer")
    ap.add_argument("--default-malloc", action="store_true",
                    help="config.host.keep_freed_memory=off (for the whole process, torch too)")
    a = ap.parse_args()
    ours = train_step.Runner(a.config, not a.default_malloc)
    peers = torch_peer(ours, a.masked_only)
    times = {"ours (jax)": [], **{k: [] for k in peers}}
    for _ in range(a.rounds):
        times["ours (jax)"] += ours.run(a.steps)
        for name, run in peers.items():
            times[name] += run(a.steps)
    tokens = ours.phase.batch_size * ours.config.data.seq_len
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{a.config}: {tokens} tokens per step, {a.rounds} alternating rounds of {a.steps} steps; "
          f"machine: {train_step.machine()}")
    print("| system | median step ms | tokens/s | ours / system |")
    print("|---|---|---|---|")
    for name, m in med.items():
        print(f"| {name} | {m * 1e3:.0f} | {tokens / m:,.0f} | {m / med['ours (jax)']:.2f}x |")


if __name__ == "__main__":
    main()
