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


def ints(s):
    return [int(v) for v in s.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser()
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
        for n in nets:
            n.train()
        order = torch.randperm(a.images)
        start = time.perf_counter()
        for j in range(0, a.images, a.batch):
            idx = order[j:j + a.batch]
            for net, opt, (s, t), (ps, pt) in zip(nets, opts, train, pes):
                xs, xt = s[idx], t[idx]
                xs_hat, xt_hat = net(xs + ps, xt + pt)
                loss = F.mse_loss(xs_hat, xs) + F.mse_loss(xt_hat, xt)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return time.perf_counter() - start

    epoch()  # warm-up
    seconds = [epoch() for _ in range(a.epochs)]

    test = features(a.test_images)

    @torch.no_grad()
    def score(idx):
        maps = []
        for net, (s, t), (ps, pt) in zip(nets, test, pes):
            xs, xt = s[idx], t[idx]
            xs_hat, xt_hat = net(xs + ps, xt + pt)
            e = (torch.sum((xs_hat - xs) ** 2, 1, keepdim=True) + torch.sum((xt_hat - xt) ** 2, 1, keepdim=True)) / 2
            maps.append(F.interpolate(e, size=(a.size, a.size), mode="bilinear", align_corners=False))
        fused = torch.mean(torch.stack(maps), 0)
        return fused.amax(dim=(1, 2, 3)).numpy(), fused.numpy()

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
