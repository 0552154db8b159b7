"""Reference numbers of PyTorch for the tests of the models core.

Made with PyTorch 1.13.0a0 (Debian bookworm's python3-torch) on CPU, in float64, by running,
from this folder:

    /usr/bin/python3 core_reference.py > core_reference.json

The JSON holds one section per concept: module naming, layers, init gains and formulas, losses,
optimizers, schedulers, gradient clipping and the reference CNN. Every random value comes from
a seeded torch.Generator and is stored, so the tests depend on no random stream. Gradients are
those of sum(output * cotangent) unless a case names another loss.

The reference CNN's weights are stored as int8 values k in base64, one scale per tensor: the
weight is k * scale, and each scale is a power of two, so both sides hold the same float64
values exactly while the file stays small.
"""
import base64
import json
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

torch.set_default_dtype(torch.float64)
generator = torch.Generator().manual_seed(20240611)


def random(*shape, scale=1.0):
    return torch.randn(*shape, generator=generator) * scale


def encode(tensor):
    tensor = tensor.detach().double()
    return {'shape': list(tensor.shape), 'values': tensor.reshape(-1).tolist()}


def randomise(module, scale=0.5):
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(random(*parameter.shape, scale=scale))


def pairing(output, cotangent):
    return (output * cotangent).sum()


# Module naming


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3, bias=False))
        self.scale = nn.Parameter(torch.ones(3))
        self.norm = nn.BatchNorm1d(3)
        self.register_buffer('count', torch.zeros(1))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(2, 3)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(3, 1))
        self.temperature = nn.Parameter(torch.ones(1))


def describe_names(module):
    return {
        'parameters': [[name, list(value.shape)] for name, value in module.named_parameters()],
        'buffers': [[name, list(value.shape)] for name, value in module.named_buffers()],
        'modules': [[name, type(child).__name__] for name, child in module.named_modules()],
        'children': [name for name, _ in module.named_children()],
        'stateDict': list(module.state_dict().keys()),
        'numParameters': sum(value.numel() for value in module.parameters()),
    }


def module_cases():
    shared = nn.Linear(2, 2)
    return {
        'nested': describe_names(Net()),
        'sharedLayer': describe_names(nn.Sequential(shared, nn.ReLU(), shared)),
    }


# Layers


def conv_case(name, in_channels, out_channels, kernel_size, input_shape, **options):
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, **options)
    config = {'inChannels': in_channels, 'outChannels': out_channels, 'kernelSize': kernel_size}
    for key, js_key in [('stride', 'stride'), ('padding', 'padding'), ('dilation', 'dilation'), ('groups', 'groups'), ('bias', 'bias')]:
        if key in options:
            config[js_key] = options[key]
    return name, 'Conv2d', layer, config, input_shape


def layer_cases():
    settings = [
        ('linear', 'Linear', nn.Linear(3, 4), {'inFeatures': 3, 'outFeatures': 4}, [2, 3]),
        ('linear_batched_without_bias', 'Linear', nn.Linear(3, 2, bias=False), {'inFeatures': 3, 'outFeatures': 2, 'bias': False}, [2, 2, 3]),
        conv_case('conv_plain', 2, 3, 3, [2, 2, 5, 5]),
        conv_case('conv_stride_padding', 2, 4, 3, [1, 2, 6, 7], stride=2, padding=1),
        conv_case('conv_rectangular', 2, 2, (2, 3), [1, 2, 5, 6], stride=(2, 1), padding=(1, 0)),
        conv_case('conv_same_odd_kernel', 2, 2, 3, [1, 2, 5, 5], padding='same'),
        conv_case('conv_same_even_kernel_dilated', 1, 2, (2, 4), [1, 1, 5, 8], padding='same', dilation=(1, 2)),
        conv_case('conv_dilation', 2, 2, 3, [1, 2, 7, 7], dilation=2),
        conv_case('conv_groups', 4, 6, 3, [1, 4, 4, 4], groups=2, padding=1),
        conv_case('conv_depthwise_without_bias', 3, 3, 3, [2, 3, 4, 4], groups=3, bias=False),
        ('max_pool', 'MaxPool2d', nn.MaxPool2d(2), {'kernelSize': 2}, [2, 2, 4, 6]),
        ('max_pool_stride_padding', 'MaxPool2d', nn.MaxPool2d(3, stride=2, padding=1), {'kernelSize': 3, 'stride': 2, 'padding': 1}, [1, 2, 5, 6]),
        ('max_pool_dilation', 'MaxPool2d', nn.MaxPool2d(2, stride=1, dilation=2), {'kernelSize': 2, 'stride': 1, 'dilation': 2}, [1, 1, 5, 5]),
        ('max_pool_ceil_mode', 'MaxPool2d', nn.MaxPool2d(2, ceil_mode=True), {'kernelSize': 2, 'ceilMode': True}, [1, 2, 5, 5]),
        ('max_pool_rectangular', 'MaxPool2d', nn.MaxPool2d((2, 3), stride=(1, 2)), {'kernelSize': [2, 3], 'stride': [1, 2]}, [1, 1, 4, 7]),
        ('avg_pool', 'AvgPool2d', nn.AvgPool2d(2), {'kernelSize': 2}, [2, 2, 4, 6]),
        ('avg_pool_padding_counted', 'AvgPool2d', nn.AvgPool2d(3, stride=2, padding=1), {'kernelSize': 3, 'stride': 2, 'padding': 1}, [1, 2, 5, 6]),
        ('avg_pool_padding_not_counted', 'AvgPool2d', nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
         {'kernelSize': 3, 'stride': 2, 'padding': 1, 'countIncludePad': False}, [1, 2, 5, 6]),
        ('avg_pool_ceil_mode', 'AvgPool2d', nn.AvgPool2d(2, ceil_mode=True), {'kernelSize': 2, 'ceilMode': True}, [1, 2, 5, 5]),
        ('flatten', 'Flatten', nn.Flatten(), {}, [2, 3, 2, 2]),
        ('flatten_middle_axes', 'Flatten', nn.Flatten(1, 2), {'startAxis': 1, 'endAxis': 2}, [2, 3, 2, 2]),
        ('relu', 'ReLU', nn.ReLU(), {}, [3, 4]),
        ('leaky_relu', 'LeakyReLU', nn.LeakyReLU(), {}, [3, 4]),
        ('leaky_relu_slope', 'LeakyReLU', nn.LeakyReLU(0.2), {'negativeSlope': 0.2}, [3, 4]),
        ('tanh', 'Tanh', nn.Tanh(), {}, [3, 4]),
        ('sigmoid', 'Sigmoid', nn.Sigmoid(), {}, [3, 4]),
        ('gelu', 'GELU', nn.GELU(), {}, [3, 4]),
        ('softmax_last_axis', 'Softmax', nn.Softmax(dim=-1), {}, [3, 4]),
        ('softmax_axis_1', 'Softmax', nn.Softmax(dim=1), {'axis': 1}, [2, 3, 2]),
        ('log_softmax_last_axis', 'LogSoftmax', nn.LogSoftmax(dim=-1), {}, [3, 4]),
        ('log_softmax_axis_0', 'LogSoftmax', nn.LogSoftmax(dim=0), {'axis': 0}, [3, 4]),
    ]
    cases = []
    for name, kind, layer, config, input_shape in settings:
        randomise(layer)
        x = random(*input_shape, scale=2.0).requires_grad_(True)
        output = layer(x)
        cotangent = random(*output.shape)
        pairing(output, cotangent).backward()
        grads = {'input': encode(x.grad)}
        for parameter_name, parameter in layer.named_parameters():
            grads[parameter_name] = encode(parameter.grad)
        cases.append({
            'name': name,
            'layer': kind,
            'config': config,
            'state': {key: encode(value) for key, value in layer.state_dict().items()},
            'input': encode(x),
            'output': encode(output),
            'cotangent': encode(cotangent),
            'grads': grads,
        })
    return cases


# Init


def init_cases():
    gains = []
    for nonlinearity, param in [('linear', None), ('conv2d', None), ('sigmoid', None), ('tanh', None), ('relu', None),
                                ('leaky_relu', None), ('leaky_relu', 0.2), ('leaky_relu', 0)]:
        gains.append({'nonlinearity': nonlinearity, 'param': param, 'gain': nn.init.calculate_gain(nonlinearity, param)})

    # The bound of each uniform initialiser and the standard deviation of each normal one, from
    # PyTorch's own fan and gain functions.
    formulas = []
    for shape in [[30, 20], [16, 8, 3, 3]]:
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
        formulas.append({'shape': shape, 'fanIn': fan_in, 'fanOut': fan_out, 'cases': [
            {'init': 'xavierUniform', 'options': {}, 'bound': math.sqrt(6 / (fan_in + fan_out))},
            {'init': 'xavierUniform', 'options': {'gain': nn.init.calculate_gain('tanh')}, 'bound': nn.init.calculate_gain('tanh') * math.sqrt(6 / (fan_in + fan_out))},
            {'init': 'xavierNormal', 'options': {}, 'std': math.sqrt(2 / (fan_in + fan_out))},
            {'init': 'kaimingUniform', 'options': {}, 'bound': math.sqrt(3) * nn.init.calculate_gain('leaky_relu', 0) / math.sqrt(fan_in)},
            {'init': 'kaimingUniform', 'options': {'a': math.sqrt(5)}, 'bound': math.sqrt(3) * nn.init.calculate_gain('leaky_relu', math.sqrt(5)) / math.sqrt(fan_in)},
            {'init': 'kaimingUniform', 'options': {'mode': 'fanOut', 'nonlinearity': 'relu'}, 'bound': math.sqrt(3) * math.sqrt(2) / math.sqrt(fan_out)},
            {'init': 'kaimingNormal', 'options': {}, 'std': math.sqrt(2) / math.sqrt(fan_in)},
            {'init': 'kaimingNormal', 'options': {'mode': 'fanOut', 'nonlinearity': 'tanh'}, 'std': (5 / 3) / math.sqrt(fan_out)},
        ]})
    return {'gains': gains, 'formulas': formulas}


# Losses


def class_targets(shape, classes):
    return torch.randint(0, classes, shape, generator=generator)


def loss_cases():
    cases = []

    def add(name, loss, function, inputs, options, targets_are_indices):
        x = inputs['input'].clone().requires_grad_(True)
        keywords = dict(options['torch'])
        for key in ['weight', 'pos_weight']:
            if key in inputs:
                keywords[key] = inputs[key]
        output = function(x, inputs['target'], **keywords)
        cotangent = random(*output.shape) if output.dim() > 0 else torch.tensor(1.0)
        pairing(output, cotangent).backward()
        tensors = {key: encode(value.double()) for key, value in inputs.items()}
        cases.append({
            'name': name,
            'loss': loss,
            'options': options['js'],
            'targetsAreIndices': targets_are_indices,
            'tensors': tensors,
            'output': encode(output),
            'cotangent': encode(cotangent),
            'grad': encode(x.grad),
        })

    def both(js=None, **torch_options):
        return {'js': js or {}, 'torch': torch_options}

    logits = random(6, 4, scale=2.0)
    targets = torch.tensor([0, 3, 1, 1, 2, 3])
    ignored = torch.tensor([0, -100, 1, 1, -100, 3])
    class_weight = torch.tensor([0.5, 2.0, 1.0, 1.5])
    zero_weight = torch.tensor([0.5, 0.0, 1.0, 1.5])
    for reduction in ['mean', 'sum', 'none']:
        plain = {'input': logits, 'target': targets}
        add(f'ce_{reduction}', 'crossEntropy', F.cross_entropy, plain, both({'reduction': reduction}, reduction=reduction), True)
        add(f'ce_ignore_{reduction}', 'crossEntropy', F.cross_entropy, {'input': logits, 'target': ignored},
            both({'reduction': reduction}, reduction=reduction), True)
        add(f'ce_smoothing_{reduction}', 'crossEntropy', F.cross_entropy, plain,
            both({'reduction': reduction, 'labelSmoothing': 0.1}, reduction=reduction, label_smoothing=0.1), True)
        add(f'ce_weight_{reduction}', 'crossEntropy', F.cross_entropy, {**plain, 'weight': class_weight},
            both({'reduction': reduction}, reduction=reduction), True)
        add(f'ce_weight_smoothing_ignore_{reduction}', 'crossEntropy', F.cross_entropy,
            {'input': logits, 'target': ignored, 'weight': class_weight},
            both({'reduction': reduction, 'labelSmoothing': 0.2}, reduction=reduction, label_smoothing=0.2), True)
    add('ce_custom_ignore_index', 'crossEntropy', F.cross_entropy, {'input': logits, 'target': targets},
        both({'ignoreIndex': 1}, ignore_index=1), True)
    add('ce_zero_class_weight_smoothing', 'crossEntropy', F.cross_entropy, {'input': logits, 'target': targets, 'weight': zero_weight},
        both({'labelSmoothing': 0.3}, label_smoothing=0.3), True)
    add('ce_full_smoothing', 'crossEntropy', F.cross_entropy, {'input': logits, 'target': targets},
        both({'labelSmoothing': 1.0}, label_smoothing=1.0), True)

    spatial = random(2, 3, 4, scale=2.0)
    spatial_targets = torch.tensor([[0, 2, -100, 1], [2, 2, 1, -100]])
    spatial_weight = torch.tensor([1.0, 0.5, 2.0])
    add('ce_spatial', 'crossEntropy', F.cross_entropy, {'input': spatial, 'target': spatial_targets}, both(), True)
    add('ce_spatial_weight_smoothing_none', 'crossEntropy', F.cross_entropy,
        {'input': spatial, 'target': spatial_targets, 'weight': spatial_weight},
        both({'reduction': 'none', 'labelSmoothing': 0.1}, reduction='none', label_smoothing=0.1), True)
    image = random(2, 3, 2, 2, scale=2.0)
    add('ce_image_weight_smoothing', 'crossEntropy', F.cross_entropy,
        {'input': image, 'target': class_targets((2, 2, 2), 3), 'weight': spatial_weight},
        both({'labelSmoothing': 0.1}, label_smoothing=0.1), True)
    add('ce_logits_far_apart', 'crossEntropy', F.cross_entropy,
        {'input': torch.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, -1e4], [-1e4, 1e4, 0.0]]), 'target': torch.tensor([0, 2, 0])},
        both({'labelSmoothing': 0.1}, label_smoothing=0.1), True)

    log_probs = F.log_softmax(random(5, 3), dim=1)
    nll_targets = torch.tensor([2, 0, -100, 1, 2])
    for reduction in ['mean', 'sum', 'none']:
        add(f'nll_{reduction}', 'nllLoss', F.nll_loss, {'input': log_probs, 'target': nll_targets},
            both({'reduction': reduction}, reduction=reduction), True)
        add(f'nll_weight_{reduction}', 'nllLoss', F.nll_loss, {'input': log_probs, 'target': nll_targets, 'weight': torch.tensor([2.0, 0.5, 1.0])},
            both({'reduction': reduction}, reduction=reduction), True)
    add('nll_spatial_ignore_index', 'nllLoss', F.nll_loss,
        {'input': F.log_softmax(random(2, 3, 4), dim=1), 'target': torch.tensor([[0, 1, 2, 1], [2, 1, 0, 0]])},
        both({'ignoreIndex': 0}, ignore_index=0), True)

    prediction = random(3, 4)
    truth = random(3, 4)
    # One exact tie checks the subgradient of |d| and of the Huber kink at d = 0.
    truth[0, 0] = prediction[0, 0]
    for reduction in ['mean', 'sum', 'none']:
        pair = {'input': prediction, 'target': truth}
        add(f'mse_{reduction}', 'mseLoss', F.mse_loss, pair, both({'reduction': reduction}, reduction=reduction), False)
        add(f'l1_{reduction}', 'l1Loss', F.l1_loss, pair, both({'reduction': reduction}, reduction=reduction), False)
        add(f'huber_{reduction}', 'huberLoss', F.huber_loss, pair, both({'reduction': reduction}, reduction=reduction), False)
        add(f'huber_delta_{reduction}', 'huberLoss', F.huber_loss, pair,
            both({'reduction': reduction, 'delta': 0.5}, reduction=reduction, delta=0.5), False)

    bce_logits = random(3, 4, scale=3.0)
    bce_targets = torch.rand(3, 4, generator=generator)
    bce_targets[0, :2] = torch.tensor([0.0, 1.0])
    element_weight = torch.rand(4, generator=generator) + 0.5
    pos_weight = torch.tensor([0.5, 1.0, 2.0, 3.0])
    for reduction in ['mean', 'sum', 'none']:
        pair = {'input': bce_logits, 'target': bce_targets}
        bce = F.binary_cross_entropy_with_logits
        add(f'bce_{reduction}', 'binaryCrossEntropyWithLogits', bce, pair, both({'reduction': reduction}, reduction=reduction), False)
        add(f'bce_weight_{reduction}', 'binaryCrossEntropyWithLogits', bce, {**pair, 'weight': element_weight},
            both({'reduction': reduction}, reduction=reduction), False)
        add(f'bce_pos_weight_{reduction}', 'binaryCrossEntropyWithLogits', bce, {**pair, 'pos_weight': pos_weight},
            both({'reduction': reduction}, reduction=reduction), False)
        add(f'bce_weight_pos_weight_{reduction}', 'binaryCrossEntropyWithLogits', bce, {**pair, 'weight': element_weight, 'pos_weight': pos_weight},
            both({'reduction': reduction}, reduction=reduction), False)
    add('bce_logits_far_apart', 'binaryCrossEntropyWithLogits', F.binary_cross_entropy_with_logits,
        {'input': torch.tensor([1e4, -1e4, 1e4, -1e4]), 'target': torch.tensor([1.0, 0.0, 0.0, 1.0]), 'pos_weight': torch.tensor([2.0])},
        both(), False)
    return cases


# Optimizers


def optimizer_cases():
    x = random(5, 3)
    y = random(5, 2)
    weight = random(2, 3, scale=0.5)
    bias = random(2, scale=0.5)
    settings = [
        ('sgd', 'SGD', {'lr': 0.1}, {'lr': 0.1}),
        ('sgd_momentum', 'SGD', {'lr': 0.1, 'momentum': 0.9}, {'lr': 0.1, 'momentum': 0.9}),
        ('sgd_momentum_dampening', 'SGD', {'lr': 0.1, 'momentum': 0.9, 'dampening': 0.5}, {'lr': 0.1, 'momentum': 0.9, 'dampening': 0.5}),
        ('sgd_nesterov_weight_decay', 'SGD', {'lr': 0.1, 'momentum': 0.8, 'nesterov': True, 'weight_decay': 0.1},
         {'lr': 0.1, 'momentum': 0.8, 'nesterov': True, 'weightDecay': 0.1}),
        ('sgd_weight_decay', 'SGD', {'lr': 0.1, 'weight_decay': 0.2}, {'lr': 0.1, 'weightDecay': 0.2}),
        ('adam', 'Adam', {'lr': 0.1}, {'lr': 0.1}),
        ('adam_betas_eps', 'Adam', {'lr': 0.05, 'betas': (0.8, 0.95), 'eps': 1e-3}, {'lr': 0.05, 'betas': [0.8, 0.95], 'eps': 1e-3}),
        ('adam_weight_decay', 'Adam', {'lr': 0.1, 'weight_decay': 0.1}, {'lr': 0.1, 'weightDecay': 0.1}),
        ('adam_amsgrad', 'Adam', {'lr': 0.1, 'amsgrad': True}, {'lr': 0.1, 'amsgrad': True}),
        ('adam_amsgrad_weight_decay', 'Adam', {'lr': 0.1, 'amsgrad': True, 'weight_decay': 0.05}, {'lr': 0.1, 'amsgrad': True, 'weightDecay': 0.05}),
        ('adamw', 'AdamW', {'lr': 0.1}, {'lr': 0.1}),
        ('adamw_weight_decay_amsgrad', 'AdamW', {'lr': 0.1, 'weight_decay': 0.3, 'amsgrad': True}, {'lr': 0.1, 'weightDecay': 0.3, 'amsgrad': True}),
        ('rmsprop', 'RMSprop', {'lr': 0.01}, {'lr': 0.01}),
        ('rmsprop_momentum', 'RMSprop', {'lr': 0.01, 'momentum': 0.9}, {'lr': 0.01, 'momentum': 0.9}),
        ('rmsprop_centered', 'RMSprop', {'lr': 0.01, 'centered': True, 'alpha': 0.9}, {'lr': 0.01, 'centered': True, 'alpha': 0.9}),
        ('rmsprop_centered_momentum_weight_decay', 'RMSprop', {'lr': 0.01, 'centered': True, 'momentum': 0.5, 'weight_decay': 0.1, 'eps': 1e-4},
         {'lr': 0.01, 'centered': True, 'momentum': 0.5, 'weightDecay': 0.1, 'eps': 1e-4}),
    ]
    # The partial cases leave the bias without a gradient on the first step, so its optimizer
    # state starts one step later than the weight's.
    partial = [
        ('sgd_momentum_partial', 'SGD', {'lr': 0.1, 'momentum': 0.9}, {'lr': 0.1, 'momentum': 0.9}),
        ('adam_partial', 'Adam', {'lr': 0.1}, {'lr': 0.1}),
        ('adamw_partial', 'AdamW', {'lr': 0.1, 'weight_decay': 0.1}, {'lr': 0.1, 'weightDecay': 0.1}),
        ('rmsprop_partial', 'RMSprop', {'lr': 0.01, 'momentum': 0.5}, {'lr': 0.01, 'momentum': 0.5}),
    ]
    cases = []
    for (name, kind, torch_options, js_options), skip_first_bias in [(s, False) for s in settings] + [(s, True) for s in partial]:
        w = weight.clone().requires_grad_(True)
        b = bias.clone().requires_grad_(True)
        optimizer = getattr(torch.optim, kind)([w, b], **torch_options)
        trajectory = []
        for step in range(5):
            optimizer.zero_grad(set_to_none=True)
            F.mse_loss(F.linear(x, w, b), y).backward()
            if skip_first_bias and step == 0:
                b.grad = None
            optimizer.step()
            trajectory.append({'weight': encode(w), 'bias': encode(b)})
        cases.append({'name': name, 'optimizer': kind, 'options': js_options, 'skipFirstBiasGradient': skip_first_bias, 'trajectory': trajectory})
    return {'problem': {'input': encode(x), 'target': encode(y), 'weight': encode(weight), 'bias': encode(bias)}, 'cases': cases}


# Schedulers


def learning_rates(make, steps, lr=0.1):
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=lr)
    scheduler = make(optimizer)
    rates = [optimizer.param_groups[0]['lr']]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]['lr'])
    return rates


def scheduler_cases():
    lr_scheduler = torch.optim.lr_scheduler
    return [
        {'name': 'step', 'scheduler': 'StepLR', 'options': {'stepSize': 3, 'gamma': 0.5},
         'lrs': learning_rates(lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 10)},
        {'name': 'step_default_gamma', 'scheduler': 'StepLR', 'options': {'stepSize': 2},
         'lrs': learning_rates(lambda o: lr_scheduler.StepLR(o, step_size=2), 7)},
        {'name': 'cosine', 'scheduler': 'CosineAnnealingLR', 'options': {'tMax': 6},
         'lrs': learning_rates(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=6), 6)},
        {'name': 'cosine_eta_min', 'scheduler': 'CosineAnnealingLR', 'options': {'tMax': 7, 'etaMin': 0.01},
         'lrs': learning_rates(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01), 7)},
        {'name': 'linear_warmup', 'scheduler': 'LinearWarmupLR', 'options': {'warmupSteps': 5, 'startFactor': 0.1},
         'lrs': learning_rates(lambda o: lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=5), 8)},
        {'name': 'linear_warmup_then_cosine', 'scheduler': 'LinearWarmupLR', 'options': {'warmupSteps': 4, 'startFactor': 0.25},
         'after': {'scheduler': 'CosineAnnealingLR', 'options': {'tMax': 5, 'etaMin': 0.002}},
         'lrs': learning_rates(lambda o: lr_scheduler.SequentialLR(o, [
             lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4),
             lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.002),
         ], milestones=[4]), 9)},
    ]


# Gradient clipping


def clip_cases():
    cases = []
    grads = [random(2, 3), random(4), random(3, 1, 2, scale=0.1)]
    for name, max_norm, norm_type in [('l2', 1.0, 2.0), ('l1', 0.5, 1.0), ('infinity', 0.3, math.inf), ('l3', 0.8, 3.0), ('below_max_norm', 100.0, 2.0)]:
        parameters = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for parameter, g in zip(parameters, grads):
            parameter.grad = g.clone()
        total = nn.utils.clip_grad_norm_(parameters, max_norm, norm_type)
        cases.append({
            'name': name,
            'maxNorm': max_norm,
            'normType': 'inf' if math.isinf(norm_type) else norm_type,
            'grads': [encode(g) for g in grads],
            'totalNorm': total.item(),
            'clipped': [encode(parameter.grad) for parameter in parameters],
        })
    return cases


# The reference CNN


def reference_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def cnn_case():
    model = reference_cnn()
    weights = {}
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            fan_in = model[int(name.split('.')[0])].weight[0].numel()
            # k in [-8, 8] has a standard deviation of about 4.9; a power-of-two scale near
            # 1 / (4.9 sqrt(fanIn)) keeps the activations of every layer near unit size.
            scale = 2.0 ** -round(math.log2(4.9 * math.sqrt(fan_in)))
            k = torch.randint(-8, 9, parameter.shape, generator=generator, dtype=torch.int8)
            parameter.copy_(k.double() * scale)
            weights[name] = {'shape': list(parameter.shape), 'scale': scale, 'int8': base64.b64encode(k.numpy().tobytes()).decode('ascii')}
    x = random(2, 1, 28, 28).requires_grad_(True)
    targets = torch.tensor([3, 7])
    output = model(x)
    loss = F.cross_entropy(output, targets)
    loss.backward()
    return {
        'parameters': [[name, list(value.shape)] for name, value in model.named_parameters()],
        'weights': weights,
        'input': encode(x),
        'targets': targets.tolist(),
        'output': encode(output),
        'loss': loss.item(),
        'grads': {name: encode(parameter.grad) for name, parameter in model.named_parameters() if parameter.numel() <= 1000},
        'gradSquaredNorms': {name: parameter.grad.pow(2).sum().item() for name, parameter in model.named_parameters()},
        'inputGrad': encode(x.grad),
    }


if __name__ == '__main__':
    reference = {
        'torch': torch.__version__,
        'modules': module_cases(),
        'layers': layer_cases(),
        'init': init_cases(),
        'losses': loss_cases(),
        'optimizers': optimizer_cases(),
        'schedulers': scheduler_cases(),
        'clip': clip_cases(),
        'cnn': cnn_case(),
    }
    json.dump(reference, sys.stdout, allow_nan=False)
    sys.stdout.write('\n')
