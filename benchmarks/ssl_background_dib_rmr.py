"""Background augmentations, the Decodable Information Bottleneck and reasoning-modulated representations.

Not a test. Three studies of ``nl.methods.ssl`` over ``--seeds``, each printed as a table with the
median seconds per run (timings on a shared, loaded CPU: compare rows of one run only):

* ``background`` -- InfoNCE pretraining (SmallCNN (8, 16), rep 32, proj 16, crop + noise, batch 64) on
  ``--n-bg`` digits pasted on brick/grass, without and with BG_RM / BG_Random (p = 0.5) / BG_Swaps;
  ridge-probe accuracy on digits pasted on held-out gravel/camera textures;
* ``dib`` -- DIB (MLP 64-128-32 encoder, (64,) decoders, 3 nuisance heads) on 300 training digits for
  beta in {-1, 0, 0.3, 1, 3}: a fresh decoder's accuracy / cross-entropy gap, H_V[Y|Z], H_V[N|Z], and
  Spearman's correlation of H_V[N|Z] with the loss gap across all nets;
* ``rmr`` -- processor pre-trained on 10 000 exact transitions, then the contrastive pixel pipeline on
  10 trajectories x 12 frames with the core frozen vs trainable; ridge R^2 of s_t from z_t and of
  s_{t+1} from z_hat_{t+1} on 20 held-out trajectories.

    OMP_NUM_THREADS=1 python benchmarks/ssl_background_dib_rmr.py [--part all] [--seeds 0 1 2] [--device cpu]

Figures (CPU, seeds 0 1 2, the test-sized settings; from the runs recorded in the tests' docstrings):

    background, 500 images, 4 epochs   none 0.468±0.011  BG_RM 0.488±0.022  BG_Random 0.494±0.032  BG_Swaps 0.494±0.025
    dib, 40 epochs, beta -1/0/0.3/1/3  loss gap 0.187/0.185/0.183/0.181/0.162, accuracy gap 0.081/0.082/0.081/
                                       0.079/0.074, H_V[N|Z] 1.995/2.040/2.055/2.087/2.143 (log 10 = 2.303);
                                       Spearman(H_V[N|Z], loss gap) over the 15 nets -0.13, over the 5 beta means -1.0
    rmr, 40 epochs                     next-state R^2 frozen 0.433  trainable 0.400; state R^2 0.480 vs 0.481
    CUDA                               not run: no GPU lent
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
from scipy.stats import spearmanr

from neurolatent.methods.common import load_digits
from neurolatent.methods.ssl import (
    BackgroundAugment,
    BGSwaps,
    InfoNCE,
    bouncing_balls,
    decoder_generalisation,
    linear_probe,
    make_augment,
    make_encoder,
    pretrain,
    pretrain_processor,
    state_probe,
    textured_digits,
    train_dib,
    train_rmr,
    v_information,
    with_foreground,
)


def _row(name, values, seconds):
    print(f"{name:<22}" + "".join(f"{k}={np.mean(v):.3f}±{np.std(v):.3f}  " for k, v in values.items())
          + f"{np.median(seconds):.1f} s/run")


def background(seeds, n, epochs, dev):
    d = textured_digits(16, textures=("brick", "grass"), test_textures=("gravel", "camera"), seed=0, device=dev)
    x3 = with_foreground(d)[:n]
    aug = make_augment(["crop", {"noise": {"std": 0.1}}])
    runs = {
        "none": lambda e, s: pretrain(e, d.x_train[:n], InfoNCE(), aug, epochs=epochs, batch_size=64, seed=s),
        "BG_RM": lambda e, s: pretrain(e, x3, InfoNCE(), BackgroundAugment(d, "remove", 0.5, aug).to(dev),
                                       epochs=epochs, batch_size=64, seed=s),
        "BG_Random": lambda e, s: pretrain(e, x3, InfoNCE(), BackgroundAugment(d, "random", 0.5, aug).to(dev),
                                           epochs=epochs, batch_size=64, seed=s),
        "BG_Swaps": lambda e, s: pretrain(e, x3, BGSwaps(d), aug, epochs=epochs, batch_size=64, seed=s),
    }
    print(f"\n== background shift ({n} images, {epochs} epochs) ==")
    for name, run in runs.items():
        acc, sec = [], []
        for s in seeds:
            t = time.perf_counter()
            enc = make_encoder(d.input_shape, rep_dim=32, proj_dim=16, channels=(8, 16), seed=s, device=dev)
            run(enc, s)
            acc.append(linear_probe(enc, d))
            sec.append(time.perf_counter() - t)
        _row(name, {"heldout_acc": acc}, sec)


def dib(seeds, epochs, dev):
    d = load_digits(seed=0, device=dev)
    d = replace(d, x_train=d.x_train[:300], y_train=d.y_train[:300])
    print(f"\n== DIB (300 digits, {epochs} epochs) ==")
    hn, gaps, hn_mean, gap_mean = [], [], [], []
    for beta in (-1.0, 0.0, 0.3, 1.0, 3.0):
        vals, sec = {"acc_gap": [], "loss_gap": [], "test_acc": [], "h_y": [], "h_n": []}, []
        for s in seeds:
            t = time.perf_counter()
            m, _ = train_dib(d, beta=beta, epochs=epochs, seed=s, device=dev)
            g = decoder_generalisation(m, d, epochs=epochs, seed=s)
            v = v_information(m, d, epochs=epochs, seed=s, n_heads=1)
            for k, x in (("acc_gap", g["gap"]), ("loss_gap", g["loss_gap"]), ("test_acc", g["test_accuracy"]),
                         ("h_y", v["h_y"]), ("h_n", v["h_n"])):
                vals[k].append(x)
            hn.append(v["h_n"])
            gaps.append(g["loss_gap"])
            sec.append(time.perf_counter() - t)
        _row(f"beta={beta}", vals, sec)
        hn_mean.append(np.mean(vals["h_n"]))
        gap_mean.append(np.mean(vals["loss_gap"]))
    print(f"Spearman(H_V[N|Z], loss gap) over {len(hn)} nets: {spearmanr(hn, gaps)[0]:+.3f}; "
          f"over the beta means: {spearmanr(hn_mean, gap_mean)[0]:+.3f}")


def rmr(seeds, epochs, dev):
    proc, h = pretrain_processor(4, n_transitions=10000, epochs=20, seed=0, device=dev)
    print(f"\n== reasoning-modulated (processor mse {h['mse'][-1]:.2e}; 10 trajectories, {epochs} epochs) ==")
    test = bouncing_balls(20, 12, seed=100, device=dev)
    for name, p in (("frozen processor", proc), ("trainable core", None)):
        vals, sec = {"state_r2": [], "next_state_r2": []}, []
        for s in seeds:
            t = time.perf_counter()
            tr = bouncing_balls(10, 12, seed=s, device=dev)
            model, _ = train_rmr(tr, p, epochs=epochs, seed=s, device=dev)
            for k, x in state_probe(model, tr, test).items():
                vals[k].append(x)
            sec.append(time.perf_counter() - t)
        _row(name, vals, sec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "background", "dib", "rmr"], default="all")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-bg", type=int, default=500)
    ap.add_argument("--epochs-bg", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=40, help="DIB and RMR epochs")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(1)
    dev = torch.device(args.device)
    print(f"device {dev}, torch {torch.__version__}, seeds {args.seeds}")
    if args.part in ("all", "background"):
        background(args.seeds, args.n_bg, args.epochs_bg, dev)
    if args.part in ("all", "dib"):
        dib(args.seeds, args.epochs, dev)
    if args.part in ("all", "rmr"):
        rmr(args.seeds, args.epochs, dev)


if __name__ == "__main__":
    main()
