"""PyTorch twin of the `maml` suite: one MAML meta-step on a meta-batch of sinusoid-sized tasks.

Usage: maml.py {per-task,batched} {second,first} [--check]

The network is 1-40-40-1 with ReLU, the meta-batch 25 tasks of K = 10 support and 10 query
points, one inner SGD step of 0.01, and Adam 0.001 on the meta-parameters, as in maml.ts.
per-task loops over the tasks with torch.autograd.grad; batched gives the weights a task axis
and runs the tasks through torch.bmm, as metagrad's adaptTasks does. With --check the script
prints the meta-gradient of the shared inputs as JSON instead of timing, for the agreement
check.
"""

import json
import os
import sys

# One BLAS thread: metagrad runs on one thread. Must be set before torch loads OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

from timing import report_timing  # noqa: E402

TASKS, SHOTS, HIDDEN, INNER_LR = 25, 10, 40, 0.01
SHAPES = [(HIDDEN, 1), (HIDDEN,), (HIDDEN, HIDDEN), (HIDDEN,), (1, HIDDEN), (1,)]


def park_miller(count, seed):
    """Return count values in [-1, 1) from the Park-Miller generator, exactly as maml.ts draws them."""
    state = seed
    values = []
    for _ in range(count):
        state = state * 16807 % 2147483647
        values.append(2 * state / 2147483647 - 1)
    return values


def shared_inputs():
    """Build the weights and the task batch that maml.ts builds from the same streams."""
    weights = []
    for index, shape in enumerate(SHAPES):
        size = 1
        for dim in shape:
            size *= dim
        scale = 1 / (shape[-1] ** 0.5) if len(shape) == 2 else 0.1
        values = [v * scale for v in park_miller(size, 1000 + index)]
        weights.append(torch.tensor(values, dtype=torch.float32).reshape(shape).requires_grad_())
    batch = [torch.tensor([5 * v for v in park_miller(TASKS * SHOTS, 2000 + i)], dtype=torch.float32).reshape(TASKS, SHOTS, 1) for i in range(4)]
    return weights, batch


def forward(weights, x):
    """Run the MLP on x [K, 1] with shared weights, or on x [T, K, 1] with per-task weights [T, ...]."""
    w1, b1, w2, b2, w3, b3 = weights
    if w1.dim() == 2:
        h = torch.relu(x @ w1.t() + b1)
        h = torch.relu(h @ w2.t() + b2)
        return h @ w3.t() + b3
    h = torch.relu(torch.bmm(x, w1.transpose(1, 2)) + b1.unsqueeze(1))
    h = torch.relu(torch.bmm(h, w2.transpose(1, 2)) + b2.unsqueeze(1))
    return torch.bmm(h, w3.transpose(1, 2)) + b3.unsqueeze(1)


def meta_loss_backward(weights, batch, path, second_order):
    """Adapts to every task, then backpropagates the mean query loss to the weights."""
    support_x, support_y, query_x, query_y = batch
    if path == "per-task":
        for t in range(TASKS):
            inner = ((forward(weights, support_x[t]) - support_y[t]) ** 2).mean()
            grads = torch.autograd.grad(inner, weights, create_graph=second_order)
            adapted = [w - INNER_LR * g for w, g in zip(weights, grads)]
            query = ((forward(adapted, query_x[t]) - query_y[t]) ** 2).mean()
            (query / TASKS).backward()
        return

    per_task = [w.unsqueeze(0).expand(TASKS, *w.shape) for w in weights]
    inner = ((forward(per_task, support_x) - support_y) ** 2).mean(dim=(1, 2)).sum()
    grads = torch.autograd.grad(inner, per_task, create_graph=second_order)
    adapted = [w - INNER_LR * g for w, g in zip(per_task, grads)]
    query = ((forward(adapted, query_x) - query_y) ** 2).mean(dim=(1, 2)).mean()
    query.backward()


def main():
    path, order = sys.argv[1], sys.argv[2]
    second_order = order == "second"
    torch.set_num_threads(1)
    weights, batch = shared_inputs()

    if "--check" in sys.argv:
        meta_loss_backward(weights, batch, path, second_order)
        print(json.dumps([v for w in weights for v in w.grad.reshape(-1).tolist()]))
        return

    optimizer = torch.optim.Adam(weights, lr=1e-3)

    def step():
        optimizer.zero_grad()
        meta_loss_backward(weights, batch, path, second_order)
        optimizer.step()

    report_timing(step, warmup=20, repetitions=200)


if __name__ == "__main__":
    main()
