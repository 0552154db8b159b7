import { parse } from './command-line';

describe('metagrad arguments', () => {
  test('top-level help lists commands', async () => {
    const { out, error } = await parse(['--help']);
    expect(error?.code).toBe('commander.helpDisplayed');
    expect(out).toContain('train');
    expect(out).toContain('eval');
    expect(out).toContain('predict');
  });

  test('train cnn help names each option and unit', async () => {
    const { out } = await parse(['train', 'cnn', '--help']);
    for (const text of ['--dataset', '--epochs', 'passes over the training images', '--batch-size', 'images per optimizer step', '--lr', 'learning rate', '--optimizer', '--schedule', 'cosine', '--train-limit', '--seed', '--save', '.safetensors', '--report', 'summary.json']) {
      expect(out).toContain(text);
    }
  });

  test('eval and predict help name their inputs', async () => {
    expect((await parse(['eval', 'cnn', '--help'])).out).toContain('--weights <file>');
    const predict = (await parse(['predict', 'cnn', '--help'])).out;
    expect(predict).toContain('--image <file>');
    expect(predict).toContain('28x28');
  });

  test.each([
    [['train', 'cnn', '--epochs', '0'], "option '--epochs <n>' argument '0' is invalid. Expected a whole number of at least 1."],
    [['train', 'cnn', '--epochs', '1.5'], 'Expected a whole number of at least 1.'],
    [['train', 'cnn', '--batch-size', '-3'], "option '--batch-size <n>' argument '-3' is invalid"],
    [['train', 'cnn', '--lr', 'abc'], "option '--lr <x>' argument 'abc' is invalid. Expected a finite number greater than 0"],
    [['train', 'cnn', '--lr', '0'], 'Expected a finite number greater than 0'],
    [['train', 'cnn', '--optimizer', 'rmsprop'], 'Allowed choices are adam, sgd.'],
    [['train', 'cnn', '--schedule', 'step'], 'Allowed choices are cosine, constant.'],
    [['train', 'cnn', '--seed', '4294967296'], 'Expected a whole number from 0 to 4294967295.'],
    [['train', 'cnn', '--seed', 'x'], "option '--seed <n>' argument 'x' is invalid"],
    [['train', 'cnn', '--bogus'], "unknown option '--bogus'"],
    [['train', 'rnn'], "unknown command 'rnn'"],
    [['eval', 'cnn'], "required option '--weights <file>' not specified"],
    [['predict', 'cnn', '--weights', 'w.safetensors'], "required option '--image <file>' not specified"],
  ])('rejects %j', async (args, message) => {
    const { err, error } = await parse(args);
    expect(error).toBeDefined();
    expect(error!.exitCode).not.toBe(0);
    expect(err).toContain(message);
    expect(err).toContain('(add --help for the options)');
  });
});
