"""Denoising pre-training on QM9-like molecules: throughput, step time, learning curve, force link.

Not a test. Builds (or loads from ``--cache``) MMFF94 conformers of the bundled SMILES, times the
conformer pipeline and one training step, then runs :func:`learning_curve` (strain energy of a
perturbed geometry, scratch vs denoising-pre-trained, sizes x seeds) and :func:`force_alignment` of
each seed's pre-trained network.

    OMP_NUM_THREADS=1 python benchmarks/molecular.py [--device cpu] [--seeds 0 1 2] [--sizes 25 50 100]

Split of the 3000 bundled SMILES (2980 conformers): the first 1500 are the unlabelled pre-training
set, the next 500 the labelled pool, the last 400 the test set.

Figures: see the block printed at the end of a run; the run recorded here used the defaults
(hidden 32, 2 interaction blocks, sigma 0.1 A, 6 pre-training epochs, 150 fine-tuning steps of
batch 16, Adam lr 1e-3) on a 2-core CPU shared with other jobs, torch 2.13, one thread -- compare
the rows of one run only; CUDA row: not run, no GPU lent.

RESULTS_PLACEHOLDER
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from neurolatent.methods.molecular import (
    Molecules,
    MolecularNet,
    add_noise,
    build_molecules,
    force_alignment,
    learning_curve,
    load_smiles,
)


def conformer_throughput(n: int) -> float:
    """Molecules per second through ETKDG + MMFF94 + targets (no cache)."""
    smiles = load_smiles()[-n:]
    t0 = time.perf_counter()
    build_molecules(smiles, seed=1)
    return n / (time.perf_counter() - t0)


def step_time(mols: Molecules, *, hidden: int, layers: int, batch: int, device, repeats: int = 10) -> float:
    """Seconds per denoising Adam step (forward + backward + update) on a batch of ``batch`` molecules."""
    torch.manual_seed(0)
    net = MolecularNet(hidden=hidden, n_layers=layers, device=device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    data = mols.subset(slice(0, batch)).to(device, torch.float32)
    gen = torch.Generator(device=device).manual_seed(0)

    def step():
        opt.zero_grad()
        noisy, eps = add_noise(data.positions, data.mask, 0.1, generator=gen)
        loss = ((net(data.numbers, noisy, data.mask)["noise"] - eps) ** 2).mean()
        loss.backward()
        opt.step()

    step()
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache", type=Path, default=Path("results/molecular_mols.npz"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 50, 100])
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--pretrain-epochs", type=int, default=6)
    parser.add_argument("--finetune-steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--target", default="strain")
    parser.add_argument("--throughput-n", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.cache.parent.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    mols = build_molecules(load_smiles(), seed=0, cache=args.cache)
    print(f"conformer set: {len(mols)} molecules, {len(mols.attrs['skipped'])} skipped "
          f"({time.perf_counter() - t0:.1f} s, cache {args.cache})")
    print(f"conformer throughput (ETKDG + MMFF94 + targets): {conformer_throughput(args.throughput_n):.1f} mol/s")
    for b in (16, 64):
        print(f"denoising step, batch {b}, hidden {args.hidden}, {args.layers} blocks, {args.device}: "
              f"{1e3 * step_time(mols, hidden=args.hidden, layers=args.layers, batch=b, device=args.device):.1f} ms")

    pre, lab, test = mols.subset(slice(0, 1500)), mols.subset(slice(1500, 2000)), mols.subset(slice(len(mols) - 400, None))
    kw = {"hidden": args.hidden, "n_layers": args.layers}
    t0 = time.perf_counter()
    curve = learning_curve(pre, lab, test, target=args.target, sizes=args.sizes, seeds=args.seeds, sigma=args.sigma,
                           pretrain_epochs=args.pretrain_epochs, finetune_steps=args.finetune_steps,
                           model_kwargs=kw, batch_size=args.batch, device=args.device,
                           alignment=test.subset(slice(0, 200)), callback=lambda s: print(f"  {s}", flush=True))
    print(f"learning curve ({time.perf_counter() - t0:.0f} s), target {args.target} [{curve.attrs['units']}], "
          f"test MAE mean +- sd over seeds {args.seeds}; pre-training final loss {curve.attrs['pretrain_final_loss']}")
    print("  size   scratch          pretrained       pretrained better in")
    for size in args.sizes:
        s = curve.mae.sel(init="scratch", size=size).values
        p = curve.mae.sel(init="pretrained", size=size).values
        print(f"  {size:4d}   {s.mean():6.2f} +- {s.std():5.2f}   {p.mean():6.2f} +- {p.std():5.2f}   "
              f"{int((p < s).sum())}/{len(s)} seeds")
    baseline = float((test.targets[args.target] - lab.targets[args.target].mean()).abs().mean())
    print(f"  (predicting the labelled-pool mean: MAE {baseline:.2f})")

    for seed in args.seeds:
        c = curve.sel(seed=seed)
        print(f"force alignment of the pre-trained net, seed {seed}, sigma {args.sigma} A, 200 test molecules: "
              f"cos(model, -F) {float(c.cos_model):.3f}, cos(true noise, -F) {float(c.cos_noise):.3f}, "
              f"cos(random, -F) {float(c.cos_random):.3f}")

if __name__ == "__main__":
    main()
