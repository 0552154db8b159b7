"""PyTorch twin of the autodiff suite: a 1-40-40-1 ReLU MLP on a batch of 10.

Usage: mlp.py first|second. 'first' times the loss and the gradients of all parameters;
'second' also differentiates the squared norm of those gradients again. Weights and inputs
come from the same Park-Miller generator as benchmarks/src/autodiff.ts.
"""

import sys

import torch

from timing import report_timing

torch.set_num_threads(1)


def park_miller(count, seed):
    state = seed
    values = []
    for _ in range(count):
        state = (state * 16807) % 2147483647
        values.append(2 * state / 2147483647 - 1)
    return values


def main():
    order = sys.argv[1]
    model = torch.nn.Sequential(
        torch.nn.Linear(1, 40), torch.nn.ReLU(), torch.nn.Linear(40, 40), torch.nn.ReLU(), torch.nn.Linear(40, 1)
    )
    with torch.no_grad():
        for seed, parameter in enumerate(model.parameters(), start=1):
            values = torch.tensor([0.5 * v for v in park_miller(parameter.numel(), seed)])
            parameter.copy_(values.reshape(parameter.shape))
    x = torch.tensor([5 * v for v in park_miller(10, 100)]).reshape(10, 1)
    y = torch.tensor(park_miller(10, 101)).reshape(10, 1)
    params = list(model.parameters())

    def first():
        loss = torch.nn.functional.mse_loss(model(x), y)
        return torch.autograd.grad(loss, params)

    def second():
        loss = torch.nn.functional.mse_loss(model(x), y)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        norm = sum((g * g).sum() for g in grads)
        return torch.autograd.grad(norm, params)

    report_timing(first if order == "first" else second, warmup=500, repetitions=2000)


main()
