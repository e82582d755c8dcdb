#!/usr/bin/env python3
"""PyTorch peer of the xent-wasm benchmark (run by peers/torch.mjs; not meant to be run alone).

Reads a JSON job on stdin: the paths of the raw logits (float32, NCHW) and targets (uint8,
NHW) the JS side wrote, the shape, the ignore index, the ops and the timing policy. Times
F.cross_entropy (fwd: loss only, no autograd; fwdbwd: loss + backward to the logits) on one
thread with time.perf_counter, and prints one JSON object on stdout: per op the loss, the
per-run times in ms, and for fwdbwd the gradient at the sample indices the job names.
The uint8 -> int64 target conversion (PyTorch's label dtype) happens before the timing.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def measure(fn, policy):
    """Warm-up, then timed runs: the same policy as measure() in ../stats.mjs."""
    warm = []
    start = time.perf_counter()
    fastest = float("inf")
    while True:
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        warm.append(t)
        fastest = min(fastest, t)
        elapsed = time.perf_counter() - start
        if len(warm) >= policy["maxReps"] or (len(warm) >= policy["warmup"] and elapsed >= 10 * policy["warmupSeconds"]):
            break
        if len(warm) >= policy["warmup"] and elapsed >= policy["warmupSeconds"] and t <= 1.3 * fastest:
            break
    est = sorted(warm[-3:])[len(warm[-3:]) // 2]
    reps = int(min(policy["maxReps"], max(policy["minReps"], round(policy["targetSeconds"] / max(est, 1e-9)))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(1)
    n, c, h, w = job["shape"]
    logits = torch.from_numpy(np.fromfile(job["logits"], dtype=np.float32).reshape(n, c, h, w))
    # With "resize" ({"size": [H, W], "mode", "alignCorners"}), the labels are (n, H, W) and the
    # loss is F.cross_entropy(F.interpolate(logits, size=(H, W), ...)): the gradient is then
    # w.r.t. the low-resolution logits.
    resize = job.get("resize")
    th, tw = resize["size"] if resize else (h, w)
    target = torch.from_numpy(np.fromfile(job["target"], dtype=np.uint8).reshape(n, th, tw)).long()
    ignore = job["ignoreIndex"]
    policy = job["policy"]
    out = {"version": torch.__version__, "threads": torch.get_num_threads(), "results": {}}

    def up(x):
        if not resize:
            return x
        ac = resize.get("alignCorners") if resize["mode"] == "bilinear" else None
        return F.interpolate(x, size=(th, tw), mode=resize["mode"], align_corners=ac)

    if "fwd" in job["ops"]:
        def fwd():
            with torch.no_grad():
                return F.cross_entropy(up(logits), target, ignore_index=ignore, reduction="mean").item()

        loss = fwd()
        out["results"]["fwd"] = {"loss": loss, "times": measure(fwd, policy)}

    if "fwdbwd" in job["ops"]:
        x = logits.clone().requires_grad_(True)

        def fwdbwd():
            x.grad = None
            loss = F.cross_entropy(up(x), target, ignore_index=ignore, reduction="mean")
            loss.backward()
            return loss.item()

        loss = fwdbwd()
        flat = x.grad.reshape(-1)
        idx = torch.tensor(job["sample"], dtype=torch.long)
        sample = flat[idx].tolist()
        out["results"]["fwdbwd"] = {"loss": loss, "gradSample": sample, "times": measure(fwdbwd, policy)}

    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
