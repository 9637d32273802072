"""PyTorch's side of `lstm_100steps_maxrss`: 100 W4 training steps (nn.LSTM(64, 128) batch-first,
batch 32, sequence 35, Linear(128, 10) head on the last hidden state, cross-entropy, Adam 1e-3) in a
fresh process, then its peak resident memory (ru_maxrss). Also prints the resident memory just
before the first step (after `import torch` and building the model and data), so the growth due
to training can be compared as well as the total.

Usage: python benches/pytorch_lstm_maxrss.py [THREADS] [fused|primitive]   (prints one JSON line)
benches/compare.sh runs it for each thread count when a PyTorch environment exists."""
import json, resource, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    variant = sys.argv[2] if len(sys.argv) > 2 else "fused"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(32, 35, 64)
    y = torch.randint(0, 10, (32,))
    head = nn.Linear(128, 10)
    if variant == "fused":
        lstm = nn.LSTM(64, 128, batch_first=True)
        params = list(lstm.parameters()) + list(head.parameters())

        def forward():
            o, _ = lstm(x)
            return head(o[:, -1])
    else:
        W = torch.randn(64, 512, requires_grad=True)
        U = torch.randn(128, 512, requires_grad=True)
        bias = torch.zeros(512, requires_grad=True)
        params = [W, U, bias] + list(head.parameters())

        def forward():
            h = torch.zeros(32, 128)
            c = torch.zeros(32, 128)
            for t in range(35):
                g = x[:, t] @ W + h @ U + bias
                i, f, gg, o = g.chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
                h = torch.sigmoid(o) * torch.tanh(c)
            return head(h)
    opt = torch.optim.Adam(params, lr=1e-3)
    before = rss_kib()
    start = time.perf_counter()
    for _ in range(100):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(), y)
        loss.backward()
        opt.step()
    us = (time.perf_counter() - start) * 1e6 / 100
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    name = "lstm_100steps_maxrss" if variant == "fused" else "lstm_primitive_100steps_maxrss"
    print(json.dumps(dict(peer="pytorch-" + torch.__version__, workload=name, threads=threads,
                          median_us=round(us, 3), min_us=round(us, 3), iters=100,
                          max_rss_kib=peak, rss_before_steps_kib=before,
                          max_rss_growth_kib=peak - before)), flush=True)


if __name__ == "__main__":
    main()
