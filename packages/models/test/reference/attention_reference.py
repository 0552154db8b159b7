"""Reference outputs and gradients of PyTorch's attention and Transformer encoder layers.

Builds torch.nn.MultiheadAttention, torch.nn.TransformerEncoderLayer and
torch.nn.TransformerEncoder in float64 with seeded random weights. Runs them on seeded random
inputs with the masks of each case. Takes the gradient of sum(output * grad_output), plus
sum(weights * grad_weights) where weights are returned, with respect to the inputs and every
parameter. attention.test.ts and transformer.test.ts load the weights from the JSON
and compare.

Run from this folder with PyTorch 1.13 (Debian bookworm's python3-torch, which reports
version 1.13.0a0):
    /usr/bin/python3 attention_reference.py > attention_reference.json

Float masks here are finite, because JSON has no -Infinity; causal masks are rebuilt from the
"causal" flag on both sides.
"""

import json
import sys

import torch
from torch import nn

torch.manual_seed(0)
DTYPE = torch.float64


def pack(tensor):
    return {"shape": list(tensor.shape), "data": tensor.detach().reshape(-1).tolist()}


def randn(*shape, requires_grad=False):
    return torch.randn(*shape, dtype=DTYPE).requires_grad_(requires_grad)


def randomize(module):
    """Replaces every parameter with random values, so that biases and norms are not trivial."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(0.5 * torch.randn_like(parameter))


def causal_mask(length):
    return torch.triu(torch.full((length, length), float("-inf"), dtype=DTYPE), diagonal=1)


def gradients(loss, named):
    values = torch.autograd.grad(loss, [tensor for _, tensor in named], allow_unused=True)
    return {name: pack(value) for (name, _), value in zip(named, values) if value is not None}


def attention_case(config, query, key, value, key_padding_mask=None, attn_mask=None, bool_attn_mask=None, causal=False, average=True):
    module = nn.MultiheadAttention(
        config["embedDim"], config["numHeads"], bias=config.get("bias", True), batch_first=config["batchFirst"],
        kdim=config.get("kdim"), vdim=config.get("vdim"), dtype=DTYPE,
    )
    randomize(module)

    mask = None
    if attn_mask is not None:
        mask = attn_mask
    elif bool_attn_mask is not None:
        mask = torch.tensor(bool_attn_mask)
    elif causal:
        mask = causal_mask(query.shape[1 if config["batchFirst"] else 0])
    padding = torch.tensor(key_padding_mask) if key_padding_mask is not None else None

    output, weights = module(query, key, value, key_padding_mask=padding, attn_mask=mask, need_weights=True, average_attn_weights=average)
    grad_output = randn(*output.shape)
    grad_weights = randn(*weights.shape)
    loss = (output * grad_output).sum() + (weights * grad_weights).sum()

    inputs = {"query": query, "key": key, "value": value}
    if attn_mask is not None:
        inputs["attnMask"] = attn_mask
    named = list(module.named_parameters()) + [(name, tensor) for name, tensor in inputs.items() if tensor.requires_grad]
    return {
        "config": config,
        "state": {name: pack(tensor) for name, tensor in module.state_dict().items()},
        "inputs": {name: pack(tensor) for name, tensor in inputs.items()},
        "keyPaddingMask": key_padding_mask,
        "boolAttnMask": bool_attn_mask,
        "causal": causal,
        "averageAttnWeights": average,
        "gradOutput": pack(grad_output),
        "gradWeights": pack(grad_weights),
        "output": pack(output),
        "weights": pack(weights),
        "grads": gradients(loss, named),
    }


def encoder_case(config, src, key_padding_mask=None, attn_mask=None, causal=False, num_layers=None):
    layer = nn.TransformerEncoderLayer(
        config["dModel"], config["nhead"], dim_feedforward=config["dimFeedforward"], dropout=0.0,
        activation=config["activation"], layer_norm_eps=config["layerNormEps"], batch_first=config["batchFirst"],
        norm_first=config["normFirst"], dtype=DTYPE,
    )
    if num_layers is None:
        module = layer
    else:
        norm = nn.LayerNorm(config["dModel"], eps=config["layerNormEps"], dtype=DTYPE)
        module = nn.TransformerEncoder(layer, num_layers, norm=norm, enable_nested_tensor=False)
    randomize(module)

    mask = attn_mask
    if causal:
        mask = causal_mask(src.shape[1 if config["batchFirst"] else 0])
    padding = torch.tensor(key_padding_mask) if key_padding_mask is not None else None
    if num_layers is None:
        output = module(src, src_mask=mask, src_key_padding_mask=padding)
    else:
        output = module(src, mask=mask, src_key_padding_mask=padding)
    grad_output = randn(*output.shape)
    loss = (output * grad_output).sum()

    inputs = {"src": src}
    if attn_mask is not None:
        inputs["attnMask"] = attn_mask
    named = list(module.named_parameters()) + [(name, tensor) for name, tensor in inputs.items() if tensor.requires_grad]
    return {
        "config": dict(config, numLayers=num_layers),
        "state": {name: pack(tensor) for name, tensor in module.state_dict().items()},
        "inputs": {name: pack(tensor) for name, tensor in inputs.items()},
        "keyPaddingMask": key_padding_mask,
        "causal": causal,
        "gradOutput": pack(grad_output),
        "output": pack(output),
        "grads": gradients(loss, named),
    }


def main():
    cases = {}

    x = randn(3, 2, 4, requires_grad=True)
    cases["attentionSelfSequenceFirst"] = attention_case({"embedDim": 4, "numHeads": 2, "batchFirst": False}, x, x, x)

    cases["attentionCrossMasksBatchFirst"] = attention_case(
        {"embedDim": 6, "numHeads": 3, "batchFirst": True},
        randn(2, 3, 6, requires_grad=True), randn(2, 4, 6, requires_grad=True), randn(2, 4, 6, requires_grad=True),
        key_padding_mask=[[False, False, False, True], [False, False, True, True]],
        attn_mask=randn(3, 4, requires_grad=True),
        average=False,
    )

    heads_mask = [[[False, True, False, False], [False, False, True, False], [True, False, False, False]] for _ in range(4)]
    heads_mask[1][2] = [False, False, False, True]
    cases["attentionBooleanMaskPerHead"] = attention_case(
        {"embedDim": 4, "numHeads": 2, "batchFirst": False},
        randn(3, 2, 4, requires_grad=True), randn(4, 2, 4, requires_grad=True), randn(4, 2, 4, requires_grad=True),
        key_padding_mask=[[False, False, False, False], [False, False, False, True]],
        bool_attn_mask=heads_mask,
    )

    y = randn(2, 4, 4, requires_grad=True)
    cases["attentionCausalWithPadding"] = attention_case(
        {"embedDim": 4, "numHeads": 2, "batchFirst": True}, y, y, y,
        key_padding_mask=[[False, False, False, False], [False, False, False, True]],
        causal=True,
    )

    cases["attentionKdimVdimNoBias"] = attention_case(
        {"embedDim": 4, "numHeads": 2, "batchFirst": False, "kdim": 3, "vdim": 5, "bias": False},
        randn(2, 2, 4, requires_grad=True), randn(3, 2, 3, requires_grad=True), randn(3, 2, 5, requires_grad=True),
    )

    base = {"dModel": 4, "nhead": 2, "dimFeedforward": 6, "layerNormEps": 1e-5}
    cases["encoderPostNormRelu"] = encoder_case(
        dict(base, activation="relu", batchFirst=False, normFirst=False),
        randn(3, 2, 4, requires_grad=True),
        key_padding_mask=[[False, False, False], [False, False, True]],
    )
    cases["encoderPreNormGelu"] = encoder_case(
        dict(base, activation="gelu", batchFirst=True, normFirst=True),
        randn(2, 3, 4, requires_grad=True),
        key_padding_mask=[[False, True, False], [False, False, False]],
        attn_mask=randn(3, 3, requires_grad=True),
    )
    cases["encoderStackWithNorm"] = encoder_case(
        dict(base, activation="relu", batchFirst=True, normFirst=False),
        randn(2, 3, 4, requires_grad=True),
        key_padding_mask=[[False, False, True], [False, False, False]],
        num_layers=2,
    )
    cases["causalDecoderBlock"] = encoder_case(
        dict(base, activation="gelu", batchFirst=True, normFirst=True),
        randn(2, 4, 4, requires_grad=True),
        causal=True,
    )

    note = (
        "Generated by attention_reference.py with PyTorch " + torch.__version__ +
        " in float64 (/usr/bin/python3 attention_reference.py > attention_reference.json)."
    )
    json.dump({"note": note, "cases": cases}, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
