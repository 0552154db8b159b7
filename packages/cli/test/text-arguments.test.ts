import { parse } from './command-line';

describe('text command arguments', () => {
  test('train help lists the text models', async () => {
    const { out } = await parse(['train', '--help']);

    for (const command of ['lstm', 'transformer', 'lm']) expect(out).toContain(command);
  });

  test.each(['eval', 'predict'])('%s help lists the text classifiers', async (command) => {
    const { out } = await parse([command, '--help']);

    for (const architecture of ['cnn', 'lstm', 'transformer']) expect(out).toContain(architecture);
  });

  test.each(['lstm', 'transformer'])('eval %s help names each option', async (architecture) => {
    const { out } = await parse(['eval', architecture, '--help']);

    for (const text of ['--weights <file>', `metagrad train ${architecture} --save`, '--dataset', '--test-fraction', '--seed', '--limit', 'the one saved with the weights']) {
      expect(out).toContain(text);
    }
  });

  test.each(['lstm', 'transformer'])('predict %s help names each option', async (architecture) => {
    const { out } = await parse(['predict', architecture, '--help']);

    expect(out).toContain('--weights <file>');
    expect(out).toContain('--text <text>');
    expect(out).toContain('read as unknown');
  });

  test('top-level help lists generate', async () => {
    expect((await parse(['--help'])).out).toContain('generate');
  });

  test.each(['lstm', 'transformer'])('train %s help names each option and unit', async (architecture) => {
    const { out } = await parse(['train', architecture, '--help']);

    for (const text of [
      '--dataset', 'spam-assassin', '--epochs', 'passes over the training texts', '--max-len', 'maximum number of word tokens', '--batch-size',
      'texts per optimizer step', '--lr', 'learning rate', '--seed', '--test-fraction', '--vocab-size', '--save', '.safetensors', '--report', 'confusion.svg',
    ]) {
      expect(out).toContain(text);
    }
  });

  test('train transformer help names heads', async () => {
    const { out } = await parse(['train', 'transformer', '--help']);

    expect(out).toContain('--heads');
    expect(out).toContain('--dropout');
    expect(out).toContain('--readout');
    expect(out).toContain('--weight-decay');
    expect(out).toContain('--norm-first');
    expect(out).toContain('--no-norm-first');
    expect(out).toContain('--label-smoothing');
    expect(out).toContain('default: "cls+mean"');
  });

  test('train lm help names each option and unit', async () => {
    const { out } = await parse(['train', 'lm', '--help']);

    for (const text of ['--text', 'moby-dick', 'UTF-8 text file', '--arch', 'transformer', 'lstm', '--context', 'characters per training window', '--steps', '--max-minutes', 'minutes', '--clip-norm', '--report', 'bpc.svg', '--save']) {
      expect(out).toContain(text);
    }
  });

  test('generate help names each option', async () => {
    const { out } = await parse(['generate', '--help']);

    for (const text of ['--weights <file>', '--prompt <text>', '--max-tokens', 'number of characters to generate', '--temperature', '--top-k', '--seed']) {
      expect(out).toContain(text);
    }
  });

  test.each([
    [['train', 'lstm', '--epochs', '0'], "option '--epochs <n>' argument '0' is invalid. Expected a whole number of at least 1."],
    [['train', 'lstm', '--max-len', 'long'], "option '--max-len <n>' argument 'long' is invalid"],
    [['train', 'lstm', '--dataset', 'imdb'], 'Allowed choices are spam-assassin.'],
    [['train', 'lstm', '--test-fraction', '1'], 'Expected a number between 0 and 1 (exclusive), such as 0.2.'],
    [['train', 'lstm', '--heads', '2'], "unknown option '--heads'"],
    [['train', 'transformer', '--lr', '-1'], "option '--lr <x>' argument '-1' is invalid"],
    [['train', 'transformer', '--dropout', '1'], 'Expected a number of at least 0 and below 1'],
    [['train', 'transformer', '--readout', 'max'], 'Allowed choices are cls, mean, cls+mean.'],
    [['train', 'lstm', '--readout', 'mean'], "unknown option '--readout'"],
    [['train', 'lstm', '--weight-decay', '-0.1'], "option '--weight-decay <x>' argument '-0.1' is invalid"],
    [['train', 'transformer', '--label-smoothing', '1'], 'Expected a share of at least 0 and below 1, such as 0.1.'],
    [['train', 'lstm', '--norm-first'], "unknown option '--norm-first'"],
    [['train', 'lm', '--arch', 'gru'], 'Allowed choices are lstm, transformer.'],
    [['train', 'lm', '--context', '0'], "option '--context <n>' argument '0' is invalid"],
    [['train', 'lm', '--max-minutes', 'soon'], "option '--max-minutes <m>' argument 'soon' is invalid"],
    [['train', 'lm', '--clip-norm', '0'], "option '--clip-norm <x>' argument '0' is invalid"],
    [['eval', 'lstm'], "required option '--weights <file>' not specified"],
    [['eval', 'transformer', '--weights', 'x.safetensors', '--dataset', 'imdb'], 'Allowed choices are spam-assassin.'],
    [['eval', 'lstm', '--weights', 'x.safetensors', '--test-fraction', '0'], 'Expected a number between 0 and 1 (exclusive), such as 0.2.'],
    [['eval', 'lstm', '--weights', 'x.safetensors', '--limit', '0'], "option '--limit <n>' argument '0' is invalid"],
    [['predict', 'transformer', '--text', 'hello'], "required option '--weights <file>' not specified"],
    [['predict', 'lstm', '--weights', 'x.safetensors'], "required option '--text <text>' not specified"],
    [['generate', '--prompt', 'Call me'], "required option '--weights <file>' not specified"],
    [['generate', '--weights', 'lm.safetensors'], "required option '--prompt <text>' not specified"],
    [['generate', '--weights', 'lm.safetensors', '--prompt', 'x', '--temperature', 'hot'], "option '--temperature <x>' argument 'hot' is invalid"],
    [['generate', '--weights', 'lm.safetensors', '--prompt', 'x', '--top-k', '0'], "option '--top-k <n>' argument '0' is invalid"],
  ])('rejects %j', async (args, message) => {
    const { err, error } = await parse(args);

    expect(error).toBeDefined();
    expect(error!.exitCode).not.toBe(0);
    expect(err).toContain(message);
  });

  test('rejects heads that do not divide the width', async () => {
    await expect(parse(['train', 'transformer', '--width', '30', '--heads', '4', '--no-progress'])).rejects.toThrow('--heads 4 must divide --width 30');
  });

  // A tiny run keeps the test short if the check ever stops firing.
  const tinyLm = ['--steps', '1', '--width', '8', '--context', '8', '--no-progress'];

  test('train lm rejects heads with lstm', async () => {
    const run = parse(['train', 'lm', '--arch', 'lstm', '--heads', '2', ...tinyLm]);

    await expect(run).rejects.toThrow('--heads 2 was given with --arch lstm, which has no attention heads; remove --heads, or add --arch transformer');
  });

  test('train lm rejects heads with default arch', async () => {
    const run = parse(['train', 'lm', '--heads', '4', ...tinyLm]);

    await expect(run).rejects.toThrow('--heads 4 was given with --arch lstm (the default), which has no attention heads');
  });

  test('rejects a missing text file', async () => {
    await expect(parse(['train', 'lm', '--text', '/nonexistent/moby.txt', '--no-progress'])).rejects.toThrow('cannot read text file /nonexistent/moby.txt');
  });
});
