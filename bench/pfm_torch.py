"""PyTorch timing of the MB-PFM / PEFM mapping networks (METHODS.md §2.3-2.5, §3.1), for comparison
with Argus's trainer and scoring graph.

The network is the official code's DualProjectionNet (S-PFM `MB-PFM-ResNet.py`, "small" variant of
`PEFM_AD.py`): per level 1x1 Conv2d layers with bias, CBR = Conv2d -> BatchNorm2d -> ReLU,
enc_S = CBR(Cs, Cs//2+d), CBR(Cs//2+d, 2d); shared = Conv2d(2d, d) used by both directions;
dec_T = CBR(d, 2d), CBR(2d, Ct//2+d), Conv2d(Ct//2+d, Ct); enc_T / dec_S mirror them. Training as the
official loop: for each level, loss = MSE(S_hat, S) + MSE(T_hat, T), zero_grad, backward, its own Adam
step (lr per level, weight decay 1e-5). PEFM adds the 2-D sinusoidal position encoding to the inputs.

Feature extraction is excluded: the L2-normalised features (NCHW, as the official code holds them) are
made once (random, normalised over channels) and kept in memory; each step takes `batch` images.

Inference (eval mode, as the official test loop): mapping of both directions, e = sum over channels of
the squared error, (e_S + e_T)/2, bilinear upsampling (align_corners=False) to the input size, mean over
levels, image score = max; timed per image at batch 1 and batch 8.

Prints one JSON line. Exits with status 3 and a message on stderr when torch cannot be imported.

With `--features DIR --out DIR` (bench/pfm-parity.ts) it is the official method on real data instead of a
timing: it reads the L2-normalised features Argus extracted (DIR/meta.json; per level train_s<l>.f32,
train_t<l>.f32, test_s<l>.f32, test_t<l>.f32 as float32 [n, H, W, C]), trains as the official loop does
(seeded, a shuffled permutation per epoch, batch as given, per level zero_grad / backward / Adam step,
BatchNorm in train mode) for the given epochs, and writes the fused test maps (float32 [n, size, size],
eval mode) to OUT/maps.f32. With `--init DIR` it starts from Argus's initial weights and reads the
images in Argus's epoch orders (pfm-parity.ts --same-start).
"""
import argparse
import json
import math
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:  # the bench reports this and skips
    print(f"pfm_torch: torch is not importable ({err})", file=sys.stderr)
    sys.exit(3)


class DualProjectionNet(nn.Module):
    def __init__(self, in_dim, out_dim, latent_dim):
        super().__init__()
        cbr = lambda i, o: [nn.Conv2d(i, o, 1, 1, 0), nn.BatchNorm2d(o), nn.ReLU()]
        self.encoder1 = nn.Sequential(*cbr(in_dim, in_dim // 2 + latent_dim), *cbr(in_dim // 2 + latent_dim, 2 * latent_dim))
        self.shared_coder = nn.Conv2d(2 * latent_dim, latent_dim, 1, 1, 0)
        self.decoder1 = nn.Sequential(*cbr(latent_dim, 2 * latent_dim), *cbr(2 * latent_dim, out_dim // 2 + latent_dim),
                                      nn.Conv2d(out_dim // 2 + latent_dim, out_dim, 1, 1, 0))
        self.encoder2 = nn.Sequential(*cbr(out_dim, out_dim // 2 + latent_dim), *cbr(out_dim // 2 + latent_dim, 2 * latent_dim))
        self.decoder2 = nn.Sequential(*cbr(latent_dim, 2 * latent_dim), *cbr(2 * latent_dim, in_dim // 2 + latent_dim),
                                      nn.Conv2d(in_dim // 2 + latent_dim, in_dim, 1, 1, 0))

    def forward(self, xs, xt):
        xt_hat = self.decoder1(self.shared_coder(self.encoder1(xs)))
        xs_hat = self.decoder2(self.shared_coder(self.encoder2(xt)))
        return xs_hat, xt_hat


def position_encoding(d, h, w):
    """PE(D, H, W) of METHODS.md §1.7 (the function PEFM and CFLOW share)."""
    pe = torch.zeros(d, h, w)
    half = d // 2
    div = torch.exp(torch.arange(0.0, half, 2) * -(math.log(10000.0) / half))
    pos_w = torch.arange(0.0, w).unsqueeze(1)
    pos_h = torch.arange(0.0, h).unsqueeze(1)
    pe[0:half:2] = torch.sin(pos_w * div).transpose(0, 1).unsqueeze(1).repeat(1, h, 1)
    pe[1:half:2] = torch.cos(pos_w * div).transpose(0, 1).unsqueeze(1).repeat(1, h, 1)
    pe[half::2] = torch.sin(pos_h * div).transpose(0, 1).unsqueeze(2).repeat(1, 1, w)
    pe[half + 1::2] = torch.cos(pos_h * div).transpose(0, 1).unsqueeze(2).repeat(1, 1, w)
    return pe


# Argus's branch names (methods/pfm/network.ts) -> DualProjectionNet's modules
ARGUS_BRANCHES = {"enc_s": "encoder1", "shared": "shared_coder", "dec_t": "decoder1", "enc_t": "encoder2", "dec_s": "decoder2"}


def load_argus_start(nets, levels, folder):
    """Argus's initial weights (folder/start.json names them; one float32 file each) into the nets.
    Argus's layer l<level>.<branch>.<i> is the branch's i-th conv (Sequential index 3i, its BatchNorm 3i+1)."""
    import os
    import numpy as np
    start = json.load(open(os.path.join(folder, "start.json")))
    for net, lv in zip(nets, levels):
        state = net.state_dict()
        for name in start["weights"]:
            parts = name.split(".")
            if parts[0] != f"l{lv['level']}":
                continue
            branch, i, rest = ARGUS_BRANCHES[parts[1]], int(parts[2]), parts[3:]
            if parts[1] == "shared":
                key = f"{branch}.{rest[0]}"
            elif rest[0] == "bn":
                key = f"{branch}.{3 * i + 1}.{rest[1]}"
            else:
                key = f"{branch}.{3 * i}.{rest[0]}"
            data = np.fromfile(os.path.join(folder, f"{name}.f32"), dtype=np.float32)
            state[key] = torch.from_numpy(data.copy()).view(state[key].shape)
        net.load_state_dict(state)
    return start["orders"]


def ints(s):
    return [int(v) for v in s.split(",")]


def official_epoch(nets, opts, train, pes, n, batch, order=None):
    """One epoch of the official loop: a shuffled permutation (or the given order), then per batch and
    level zero_grad / backward / that level's Adam step on MSE(S_hat, S) + MSE(T_hat, T). Returns the
    summed loss."""
    for net in nets:
        net.train()
    order = torch.randperm(n) if order is None else torch.tensor(order)
    total = 0.0
    for j in range(0, n, batch):
        idx = order[j:j + batch]
        for net, opt, (s, t), (ps, pt) in zip(nets, opts, train, pes):
            xs, xt = s[idx], t[idx]
            xs_hat, xt_hat = net(xs + ps, xt + pt)
            loss = F.mse_loss(xs_hat, xs) + F.mse_loss(xt_hat, xt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
    return total


def fused_maps(nets, pes, feats, idx, size, fusion, variances=None):
    """Eval-mode maps of the images `idx`: per level (e_S + e_T)/2, upsampled, then mean or product.
    `variances`: per level the official statistic_var(c=True) pair (var_S, var_T) dividing the squared errors."""
    maps = []
    for k, (net, (s, t), (ps, pt)) in enumerate(zip(nets, feats, pes)):
        xs, xt = s[idx], t[idx]
        xs_hat, xt_hat = net(xs + ps, xt + pt)
        vs, vt = variances[k] if variances else (1, 1)
        e = (torch.sum((xs_hat - xs) ** 2 / vs, 1, keepdim=True) + torch.sum((xt_hat - xt) ** 2 / vt, 1, keepdim=True)) / 2
        maps.append(F.interpolate(e, size=(size, size), mode="bilinear", align_corners=False))
    stacked = torch.stack(maps)
    return (torch.prod(stacked, 0) if fusion == "multiply" else torch.mean(stacked, 0))[:, 0]


def official_on_features(a) -> None:
    import os
    import random
    import numpy as np
    meta = json.load(open(os.path.join(a.features, "meta.json")))
    torch.set_num_threads(a.threads)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)

    def read(split, kind, lv):
        n = meta["nTrain"] if split == "train" else meta["nTest"]
        c = lv["cs"] if kind == "s" else lv["ct"]
        raw = np.fromfile(os.path.join(a.features, f"{split}_{kind}{lv['level']}.f32"), dtype=np.float32)
        return torch.from_numpy(raw).view(n, lv["gridH"], lv["gridW"], c).permute(0, 3, 1, 2).contiguous()

    levels = meta["levels"]
    train = [(read("train", "s", lv), read("train", "t", lv)) for lv in levels]
    nets = [DualProjectionNet(lv["cs"], lv["ct"], lv["d"]) for lv in levels]
    opts = [torch.optim.Adam(n.parameters(), lr=lv["lr"], weight_decay=1e-5) for n, lv in zip(nets, levels)]
    pes = [(position_encoding(lv["cs"], lv["gridH"], lv["gridW"]).unsqueeze(0), position_encoding(lv["ct"], lv["gridH"], lv["gridW"]).unsqueeze(0))
           if meta["positionEncoding"] else (0, 0) for lv in levels]
    orders = load_argus_start(nets, levels, a.init) if a.init else None
    n, batch = meta["nTrain"], meta["batchSize"]
    start = time.perf_counter()
    for epoch in range(meta["epochs"]):
        total = official_epoch(nets, opts, train, pes, n, batch, orders[epoch] if orders else None)
        print(f"epoch {epoch + 1}: loss {total / math.ceil(n / batch):.5f}", file=sys.stderr, flush=True)
    train_seconds = time.perf_counter() - start
    variances = None
    if a.statistic_var:
        # the official statistic_var(c=True): per level, channel and position the mean over the training
        # batches of the batch mean of the squared mapping error, in eval mode
        for net in nets:
            net.eval()
        variances = []
        with torch.no_grad():
            for net, (s, t), (ps, pt) in zip(nets, train, pes):
                vs, vt, batches = 0, 0, 0
                for j in range(0, n, batch):
                    xs, xt = s[j:j + batch], t[j:j + batch]
                    xs_hat, xt_hat = net(xs + ps, xt + pt)
                    vs = vs + torch.mean((xs - xs_hat) ** 2, dim=0, keepdim=True)
                    vt = vt + torch.mean((xt - xt_hat) ** 2, dim=0, keepdim=True)
                    batches += 1
                variances.append((vs / batches, vt / batches))
    del train
    test = [(read("test", "s", lv), read("test", "t", lv)) for lv in levels]
    for net in nets:
        net.eval()
    out = np.empty((meta["nTest"], meta["size"], meta["size"]), dtype=np.float32)
    with torch.no_grad():
        for j in range(0, meta["nTest"], 8):
            idx = torch.arange(j, min(j + 8, meta["nTest"]))
            out[j:j + len(idx)] = fused_maps(nets, pes, test, idx, meta["size"], meta["fusion"], variances).numpy()
    out.tofile(os.path.join(a.out, "maps.f32"))
    print(json.dumps({"torch": torch.__version__, "trainSeconds": train_seconds}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", help="official training and scoring on these features (see the module text)")
    ap.add_argument("--out")
    ap.add_argument("--init", help="start from Argus's initial weights and epoch orders in this folder (with --features)")
    ap.add_argument("--statistic-var", action="store_true", help="divide by the official statistic_var(c=True) (with --features)")
    ap.add_argument("--images", type=int, default=54)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--cs", type=ints, default=[24, 192, 576])
    ap.add_argument("--ct", type=ints, default=[128, 256, 512])
    ap.add_argument("--strides", type=ints, default=[4, 8, 16])
    ap.add_argument("--latent", type=ints, default=[95, 280, 765])
    ap.add_argument("--lr", type=lambda s: [float(v) for v in s.split(",")], default=[3e-3, 3e-4, 3e-4])
    ap.add_argument("--pe", action="store_true")
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up epoch)")
    ap.add_argument("--test-images", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=888)
    a = ap.parse_args()
    if a.features:
        official_on_features(a)
        return

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    levels = list(zip(a.cs, a.ct, a.strides, a.latent, a.lr))
    nets = [DualProjectionNet(cs, ct, d) for cs, ct, _, d, _ in levels]
    opts = [torch.optim.Adam(n.parameters(), lr=lr, weight_decay=1e-5) for n, (_, _, _, _, lr) in zip(nets, levels)]

    def features(n):
        out = []
        for cs, ct, stride, _, _ in levels:
            g = a.size // stride
            out.append((F.normalize(torch.rand(n, cs, g, g), dim=1), F.normalize(torch.rand(n, ct, g, g), dim=1)))
        return out

    train = features(a.images)
    pes = [(position_encoding(cs, a.size // st, a.size // st).unsqueeze(0), position_encoding(ct, a.size // st, a.size // st).unsqueeze(0)) if a.pe else (0, 0)
           for cs, ct, st, _, _ in levels]

    def epoch():
        start = time.perf_counter()
        official_epoch(nets, opts, train, pes, a.images, a.batch)
        return time.perf_counter() - start

    epoch()  # warm-up
    seconds = [epoch() for _ in range(a.epochs)]

    test = features(a.test_images)

    @torch.no_grad()
    def score(idx):
        fused = fused_maps(nets, pes, test, idx, a.size, "add")
        return fused.amax(dim=(1, 2)).numpy(), fused.numpy()

    def ms_per_image(bs):
        for n in nets:
            n.eval()
        score(torch.arange(0, bs))  # warm-up
        start = time.perf_counter()
        for j in range(0, a.test_images, bs):
            score(torch.arange(j, min(j + bs, a.test_images)))
        return (time.perf_counter() - start) * 1000 / a.test_images

    bs1 = ms_per_image(1)
    bs8 = ms_per_image(8)
    steps = math.ceil(a.images / a.batch)
    print(json.dumps({"torch": torch.__version__, "secondsPerEpoch": sum(seconds) / len(seconds), "stepsPerEpoch": steps,
                      "secondsPerStep": sum(seconds) / len(seconds) / steps, "msPerImageBs1": bs1, "msPerImageBs8": bs8}))


if __name__ == "__main__":
    main()
