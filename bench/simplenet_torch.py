"""PyTorch timing of SimpleNet's training step (METHODS.md §4), for comparison with Argus's trainer.

Our own script, written from the specification (not the official code): feature adaptor Linear(D, D)
(Xavier-normal weight), Gaussian noise added to the adapted features, discriminator
Linear(D, H) -> BatchNorm1d(H) -> LeakyReLU(0.2) -> Linear(H, 1, no bias) on true and fake features
concatenated, truncated L1 loss with margin 0.5, Adam (lr 2e-4, weight decay 1e-5) on the
discriminator and AdamW (lr 1e-4, weight decay 0.01) on the adaptor.

Feature extraction is excluded: the patch features are made once (random, with roughly the spread of
the real ones) and kept in memory, as Argus keeps the training set's patch features in memory. Each
step gathers the features of `batch` images (`batch * cells` rows), exactly as Argus's trainer does.

`--form reassociated` computes the same values the way Argus's step graph does (W1 q = (W1 Wa) x + W1 ba,
W1 (q + ε) = W1 q + W1 ε), for a comparison at equal FLOPs; the default is the official formulation.

Prints one JSON line: seconds per epoch (mean over the timed epochs, after one warm-up epoch).
Exits with status 3 and a message on stderr when torch cannot be imported.
"""
import argparse
import json
import sys
import time

try:
    import torch
except ImportError as err:  # the bench reports this and skips
    print(f"simplenet_torch: torch is not importable ({err})", file=sys.stderr)
    sys.exit(3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=54, help="training images per epoch")
    ap.add_argument("--cells", type=int, default=1024, help="patches per image (32x32 at 256 px)")
    ap.add_argument("--batch", type=int, default=8, help="images per step")
    ap.add_argument("--dim", type=int, default=1536)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--noise-std", type=float, default=0.015)
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up epoch)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--form", choices=["official", "reassociated"], default="official")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    D, H = a.dim, a.hidden

    adaptor = torch.nn.Linear(D, D)
    torch.nn.init.xavier_normal_(adaptor.weight)
    fc1 = torch.nn.Linear(D, H)
    torch.nn.init.xavier_normal_(fc1.weight)
    tail = torch.nn.Linear(H, 1, bias=False)
    torch.nn.init.xavier_normal_(tail.weight)
    bn = torch.nn.BatchNorm1d(H)
    dsc = torch.nn.Sequential(fc1, bn, torch.nn.LeakyReLU(0.2), tail)
    head = torch.nn.Sequential(bn, torch.nn.LeakyReLU(0.2), tail)
    adaptor.train()
    dsc.train()
    dsc_opt = torch.optim.Adam(dsc.parameters(), lr=2e-4, weight_decay=1e-5)
    proj_opt = torch.optim.AdamW(adaptor.parameters(), lr=1e-4)

    features = torch.randn(a.images, a.cells, D) * 0.2 + 0.3
    margin = 0.5

    def step(idx: torch.Tensor) -> float:
        dsc_opt.zero_grad()
        proj_opt.zero_grad()
        x = features[idx].reshape(-1, D)
        noise = torch.normal(0.0, a.noise_std, x.shape)
        if a.form == "official":
            true = adaptor(x)
            scores = dsc(torch.cat([true, true + noise]))
        else:
            fused = fc1.weight @ adaptor.weight
            hq = torch.nn.functional.linear(x, fused, fc1.weight @ adaptor.bias + fc1.bias)
            hn = noise @ fc1.weight.t()
            scores = head(torch.cat([hq, hq + hn]))
        n = x.shape[0]
        loss = torch.clip(margin - scores[:n], min=0).mean() + torch.clip(scores[n:] + margin, min=0).mean()
        loss.backward()
        proj_opt.step()
        dsc_opt.step()
        return float(loss.detach())

    def epoch() -> float:
        start = time.perf_counter()
        order = torch.randperm(a.images)
        for j in range(0, a.images, a.batch):
            step(order[j : j + a.batch])
        return time.perf_counter() - start

    epoch()  # warm-up
    seconds = [epoch() for _ in range(a.epochs)]
    steps = (a.images + a.batch - 1) // a.batch
    print(json.dumps({
        "impl": "pytorch",
        "form": a.form,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "images": a.images,
        "cells": a.cells,
        "batch": a.batch,
        "stepsPerEpoch": steps,
        "secondsPerEpoch": sum(seconds) / len(seconds),
        "epochSeconds": seconds,
        "secondsPerStep": sum(seconds) / len(seconds) / steps,
    }))


if __name__ == "__main__":
    main()
