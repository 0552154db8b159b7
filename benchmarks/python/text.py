"""PyTorch twin of the text suites.

Usage: text.py lstm|block.
'lstm' times one training step of the LSTM classifier: token ids [32, 100] -> embedding
10,000 x 64 -> two stacked LSTMs of 64 -> linear head to 2 classes, cross-entropy, backward and
an Adam update (learning rate 0.001).
'block' times a post-norm Transformer encoder layer (width 128, 4 heads, feed-forward 512, ReLU,
no dropout) on x [16, 128, 128]: forward, then the gradients of sum(output) for x and the weights.
Inputs are random: timing does not depend on their values.
"""

import sys

import torch

from timing import report_timing

torch.set_num_threads(1)
torch.manual_seed(0)


class LSTMClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(10000, 64, padding_idx=0)
        self.lstm = torch.nn.LSTM(64, 64, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(64, 2)

    def forward(self, tokens):
        _, (hidden, _) = self.lstm(self.embedding(tokens))
        return self.head(hidden[-1])


def lstm_step():
    model = LSTMClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tokens = torch.randint(1, 10000, (32, 100))
    labels = torch.randint(0, 2, (32,))

    def step():
        loss = torch.nn.functional.cross_entropy(model(tokens), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    report_timing(step, warmup=3, repetitions=20)


def block():
    layer = torch.nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0, batch_first=True)
    x = torch.randn(16, 128, 128, requires_grad=True)

    def run():
        layer.zero_grad()
        x.grad = None
        layer(x).sum().backward()

    report_timing(run, warmup=3, repetitions=20)


if __name__ == "__main__":
    {"lstm": lstm_step, "block": block}[sys.argv[1]]()
