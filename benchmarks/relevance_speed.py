"""Speed of `focus.stages.relevance.object_relevance` vs a literal transcription of the paper's Fig. 7 (issue 3).

Fig. 7 builds the N×N similarity matrix of every layer; `object_relevance` computes only the target rows.
Prints both timings and the ratio measured in this run (goal: ≥ 20× at N = 3000, 28 layers, 4 heads × 128).
"""

import argparse
import time

import torch

from focus.stages.relevance import object_relevance


def fig7(features, x_target, x_visual, x_layer):
    X = torch.nn.functional.normalize(torch.stack(features), dim=-1)  # O, H, N, D
    O, H, N, D = X.shape
    X = X.permute(0, 2, 1, 3).reshape(O, N, H * D)
    X = torch.bmm(X, X.permute(0, 2, 1))  # O, N, N
    rel = torch.ones(len(x_visual))
    for target in x_target:
        pseudo = torch.zeros(len(x_visual))
        for layer in x_layer:
            X_layer = (X[layer] + torch.eye(N)) / 2
            X_layer = X_layer / X_layer.sum(dim=-1, keepdim=True)
            pseudo += X_layer[target, x_visual]
        pseudo /= pseudo.sum()
        rel *= pseudo
    return rel / rel.sum()


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tokens", type=int, default=3000)
    p.add_argument("--layers", type=int, default=28)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--head-dim", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.manual_seed(0)
    feats = [torch.randn(a.heads, a.tokens, a.head_dim) + 0.3 for _ in range(a.layers)]
    visual = list(range(35, 35 + min(2304, a.tokens - 100)))
    targets = [a.tokens - 20, a.tokens - 19]
    layers = list(range(a.layers // 2, a.layers))
    t_fast, fast = best_of(lambda: object_relevance(feats, targets, visual, layers), a.repeats)
    t_ref, ref = best_of(lambda: fig7(feats, targets, visual, layers), a.repeats)
    err = float(((fast - ref).abs() / ref.abs().clamp_min(1e-12)).max())
    print(f"N={a.tokens} layers={a.layers} heads={a.heads}x{a.head_dim} targets={len(targets)} visual={len(visual)}")
    print(f"fig7 transcription: {t_ref * 1000:.1f} ms | object_relevance: {t_fast * 1000:.2f} ms | "
          f"speed ratio: {t_ref / t_fast:.1f}x | max relative difference: {err:.2e}")


if __name__ == "__main__":
    main()
