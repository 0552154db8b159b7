"""Reference numbers of PyTorch for the recurrent, normalisation and embedding layer tests.

Made with PyTorch 1.13.0a0 (Debian's python3-torch) on CPU, in float64, by running, from this
folder:

    /usr/bin/python3 layers_reference.py

which rewrites embedding.json, layer-norm.json, batch-norm.json and recurrent.json. Each case
stores its inputs, the layer's state dict under PyTorch's names and the outputs. It also
stores the gradients of the loss, the sum of output * cotangent over every output of the
layer, with respect to the input, the initial state and every parameter. The values come from a seeded
torch.Generator; the JSON holds all of them, so the tests depend on no random stream.

Layers run through their plain forward with the weights loaded by load_state_dict, because
torch.func.functional_call in PyTorch 1.13 leaves nn.LSTM on its own weights.
"""
import json

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_default_dtype(torch.float64)
generator = torch.Generator().manual_seed(20240601)


def random(*shape, scale=1.0):
    return torch.randn(*shape, generator=generator) * scale


def encode(tensor):
    tensor = tensor.detach()
    return {'shape': list(tensor.shape), 'values': tensor.reshape(-1).tolist()}


def state_of(module):
    return {name: encode(value) for name, value in module.state_dict().items() if value.is_floating_point()}


def randomise(module, scale):
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(random(*parameter.shape, scale=scale))


def pairing(outputs, cotangents):
    return sum((output * cotangent).sum() for output, cotangent in zip(outputs, cotangents))


def embedding_cases():
    cases = []
    for name, padding_idx in [('padding_first_row', 0), ('negative_padding', -2), ('no_padding', None)]:
        layer = torch.nn.Embedding(7, 3, padding_idx=padding_idx)
        randomise(layer, 1.0)
        indices = torch.tensor([[1, 0, 3, 5], [6, 3, 0, 1]])
        output = layer(indices)
        cotangent = random(*output.shape)
        pairing([output], [cotangent]).backward()
        cases.append({
            'name': name,
            'numEmbeddings': 7,
            'embeddingDim': 3,
            'paddingIdx': padding_idx,
            'indices': encode(indices.double()),
            'state': state_of(layer),
            'output': encode(output),
            'cotangent': encode(cotangent),
            'weightGrad': encode(layer.weight.grad),
        })
    return cases


def layer_norm_cases():
    cases = []
    settings = [
        ('last_axis', [4], [2, 3, 4], True, 1e-5),
        ('two_axes', [2, 3], [2, 2, 3], True, 1e-5),
        ('no_affine_large_eps', [5], [3, 5], False, 0.1),
    ]
    for name, normalized_shape, input_shape, affine, eps in settings:
        layer = torch.nn.LayerNorm(normalized_shape, eps=eps, elementwise_affine=affine)
        if affine:
            randomise(layer, 0.5)
            with torch.no_grad():
                layer.weight.add_(1.0)
        x = (random(*input_shape, scale=2.0) + 0.5).requires_grad_(True)
        output = layer(x)
        cotangent = random(*output.shape)
        pairing([output], [cotangent]).backward()
        grads = {'input': encode(x.grad)}
        for parameter_name, parameter in layer.named_parameters():
            grads[parameter_name] = encode(parameter.grad)
        cases.append({
            'name': name,
            'normalizedShape': normalized_shape,
            'eps': eps,
            'elementwiseAffine': affine,
            'state': state_of(layer),
            'input': encode(x),
            'output': encode(output),
            'cotangent': encode(cotangent),
            'grads': grads,
        })
    return cases


def batch_norm_cases():
    cases = []
    settings = [
        ('1d_features', torch.nn.BatchNorm1d, [4, 3], {}),
        ('1d_sequence', torch.nn.BatchNorm1d, [3, 2, 5], {}),
        ('2d_images', torch.nn.BatchNorm2d, [2, 3, 2, 3], {}),
        ('2d_cumulative_average', torch.nn.BatchNorm2d, [2, 2, 3, 2], {'momentum': None}),
    ]
    for name, layer_class, input_shape, options in settings:
        channels = input_shape[1]
        layer = layer_class(channels, **options)
        randomise(layer, 0.5)
        steps = []
        # Three training steps move the running statistics away from their initial 0 and 1.
        for step in range(3):
            x = (random(*input_shape, scale=1.5) + step).requires_grad_(True)
            layer.zero_grad()
            output = layer(x)
            cotangent = random(*output.shape)
            pairing([output], [cotangent]).backward()
            steps.append({
                'input': encode(x),
                'output': encode(output),
                'cotangent': encode(cotangent),
                'grads': {'input': encode(x.grad), 'weight': encode(layer.weight.grad), 'bias': encode(layer.bias.grad)},
                'runningMean': encode(layer.running_mean),
                'runningVar': encode(layer.running_var),
                'numBatchesTracked': int(layer.num_batches_tracked),
            })
        layer.eval()
        x = random(*input_shape, scale=1.5).requires_grad_(True)
        layer.zero_grad()
        output = layer(x)
        cotangent = random(*output.shape)
        pairing([output], [cotangent]).backward()
        evaluation = {
            'input': encode(x),
            'output': encode(output),
            'cotangent': encode(cotangent),
            'grads': {'input': encode(x.grad), 'weight': encode(layer.weight.grad), 'bias': encode(layer.bias.grad)},
        }
        cases.append({
            'name': name,
            'layer': layer_class.__name__,
            'numFeatures': channels,
            'momentum': options.get('momentum', 0.1),
            'parameters': {'weight': encode(layer.weight), 'bias': encode(layer.bias)},
            'training': steps,
            'evaluation': evaluation,
        })
    return cases


def recurrent_cases():
    settings = [
        {'name': 'rnn_tanh_two_layers_bidirectional', 'kind': 'RNN', 'numLayers': 2, 'bidirectional': True, 'initial': True},
        {'name': 'rnn_relu_batch_first', 'kind': 'RNN', 'nonlinearity': 'relu', 'batchFirst': True, 'initial': True},
        {'name': 'lstm_two_layers_bidirectional', 'kind': 'LSTM', 'numLayers': 2, 'bidirectional': True, 'initial': True},
        {'name': 'lstm_batch_first_without_bias', 'kind': 'LSTM', 'batchFirst': True, 'bias': False},
        {'name': 'lstm_lengths_bidirectional', 'kind': 'LSTM', 'numLayers': 2, 'bidirectional': True, 'initial': True, 'lengths': [2, 4, 1]},
        {'name': 'lstm_unbatched', 'kind': 'LSTM', 'numLayers': 2, 'initial': True, 'unbatched': True},
        {'name': 'gru_two_layers_bidirectional', 'kind': 'GRU', 'numLayers': 2, 'bidirectional': True, 'initial': True},
        {'name': 'gru_lengths_batch_first', 'kind': 'GRU', 'batchFirst': True, 'initial': True, 'lengths': [3, 4, 2]},
        {'name': 'rnn_lengths', 'kind': 'RNN', 'numLayers': 2, 'lengths': [4, 1, 3]},
    ]
    input_size, hidden_size, steps, batch = 3, 3, 4, 3
    cases = []
    for setting in settings:
        num_layers = setting.get('numLayers', 1)
        bidirectional = setting.get('bidirectional', False)
        batch_first = setting.get('batchFirst', False)
        options = {'num_layers': num_layers, 'bias': setting.get('bias', True), 'batch_first': batch_first, 'bidirectional': bidirectional}
        if setting['kind'] == 'RNN':
            options['nonlinearity'] = setting.get('nonlinearity', 'tanh')
        layer = getattr(torch.nn, setting['kind'])(input_size, hidden_size, **options)
        randomise(layer, 0.6)

        unbatched = setting.get('unbatched', False)
        input_shape = [steps, input_size] if unbatched else ([batch, steps, input_size] if batch_first else [steps, batch, input_size])
        x = random(*input_shape).requires_grad_(True)
        directions = 2 if bidirectional else 1
        batch_axis = [] if unbatched else [batch]
        state_shape = [num_layers * directions] + batch_axis + [hidden_size]
        initial = []
        if setting.get('initial'):
            components = 2 if setting['kind'] == 'LSTM' else 1
            initial = [random(*state_shape, scale=0.5).requires_grad_(True) for _ in range(components)]
        hx = None
        if initial:
            hx = tuple(initial) if setting['kind'] == 'LSTM' else initial[0]

        lengths = setting.get('lengths')
        if lengths is None:
            output, final = layer(x, hx)
        else:
            packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
            packed_output, final = layer(packed, hx)
            output, _ = pad_packed_sequence(packed_output, batch_first=batch_first, total_length=steps)
        finals = list(final) if setting['kind'] == 'LSTM' else [final]

        outputs = [output] + finals
        cotangents = [random(*value.shape) for value in outputs]
        pairing(outputs, cotangents).backward()

        case = dict(setting)
        case.update({
            'inputSize': input_size,
            'hiddenSize': hidden_size,
            'state': state_of(layer),
            'input': encode(x),
            'initial': [encode(value) for value in initial],
            'outputs': [encode(value) for value in outputs],
            'cotangents': [encode(value) for value in cotangents],
            'grads': {
                'input': encode(x.grad),
                'initial': [encode(value.grad) for value in initial],
                'parameters': {name: encode(parameter.grad) for name, parameter in layer.named_parameters()},
            },
        })
        cases.append(case)
    return cases


def write(path, cases):
    with open(path, 'w') as file:
        json.dump({'torch': torch.__version__, 'cases': cases}, file)
        file.write('\n')


if __name__ == '__main__':
    write('embedding.json', embedding_cases())
    write('layer-norm.json', layer_norm_cases())
    write('batch-norm.json', batch_norm_cases())
    write('recurrent.json', recurrent_cases())
