import { parse } from './command-line';

describe('metagrad maml arguments', () => {
  test('maml help lists both commands', async () => {
    const { out } = await parse(['maml', '--help']);
    expect(out).toContain('sinusoid');
    expect(out).toContain('fewshot');
  });

  test('sinusoid help names each option', async () => {
    const { out } = await parse(['maml', 'sinusoid', '--help']);
    for (const text of ['--algo', 'maml, fomaml', 'reptile', 'metasgd', 'anil', '--shots', 'support points per task', '--inner-steps', '--inner-lr', 'step size', '--meta-batch', 'tasks per meta-step', '--iterations', '--seed', '--report', '--eval-shots']) {
      expect(out).toContain(text);
    }
  });

  test('fewshot help names ways and shots', async () => {
    const { out } = await parse(['maml', 'fewshot', '--help']);
    for (const text of ['--dataset', '--ways', '--shots']) expect(out).toContain(text);
  });

  test.each([
    [['maml', 'sinusoid', '--algo', 'sgd'], 'Allowed choices are maml, fomaml, reptile, metasgd, anil.'],
    [['maml', 'sinusoid', '--shots', '0'], "option '--shots <n>' argument '0' is invalid"],
    [['maml', 'sinusoid', '--inner-lr', '-1'], "option '--inner-lr <x>' argument '-1' is invalid"],
    [['maml', 'sinusoid', '--meta-batch', 'many'], "option '--meta-batch <n>' argument 'many' is invalid"],
    [['maml', 'sinusoid', '--iterations', '2.5'], "option '--iterations <n>' argument '2.5' is invalid"],
    [['maml', 'sinusoid', '--eval-shots', '5,x'], "option '--eval-shots <list>' argument '5,x' is invalid"],
    [['maml', 'fewshot', '--eval-steps', '5,1,1'], 'Expected each number larger than the one before it, such as 5,10,20; got 5,1,1.'],
    [['maml', 'fewshot', '--ways', '1'], "option '--ways <n>' argument '1' is invalid. Expected a whole number of at least 2."],
    [['maml', 'sinusoid', '--eval-tasks', '1'], "option '--eval-tasks <n>' argument '1' is invalid. Expected a whole number of at least 2."],
    [['maml', 'regression'], "unknown command 'regression'"],
  ])('rejects %j', async (args, message) => {
    const { err, error } = await parse(args);
    expect(error).toBeDefined();
    expect(error!.exitCode).not.toBe(0);
    expect(err).toContain(message);
  });

  // A tiny run keeps each test short, and quiet, if the check ever stops firing.
  const tinyRun = ['--iterations', '1', '--eval-tasks', '2', '--eval-steps', '1', '--no-progress'];

  test.each([
    ['sinusoid', 'reptile', 'whose inner steps always use the fixed --inner-lr'],
    ['fewshot', 'reptile', 'whose inner steps always use the fixed --inner-lr'],
    ['sinusoid', 'metasgd', 'which learns a step size for every parameter element instead'],
    ['fewshot', 'metasgd', 'which learns a step size for every parameter element instead'],
  ])('%s rejects learn-inner-lr with %s', async (command, algorithm, reason) => {
    const run = parse(['maml', command, '--algo', algorithm, '--learn-inner-lr', ...tinyRun]);

    await expect(run).rejects.toThrow(`--learn-inner-lr was given with --algo ${algorithm}, ${reason}; remove --learn-inner-lr, or choose --algo maml, fomaml or anil`);
  });

  test.each(['maml', 'reptile', 'metasgd'])('sinusoid accepts %s without learn-inner-lr', async (algorithm) => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const { error } = await parse(['maml', 'sinusoid', '--algo', algorithm, ...tinyRun]);

      expect(error).toBeUndefined();
    } finally {
      log.mockRestore();
    }
  });

  test('sinusoid accepts learn-inner-lr with maml', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const { error } = await parse(['maml', 'sinusoid', '--algo', 'maml', '--learn-inner-lr', ...tinyRun]);

      expect(error).toBeUndefined();
    } finally {
      log.mockRestore();
    }
  });

  test('fewshot rejects more ways than classes', async () => {
    await expect(parse(['maml', 'fewshot', '--ways', '11', '--no-progress'])).rejects.toThrow('--ways 11 is more than the 10 meta-test classes');
  });

  test('fewshot rejects more images than classes hold', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await expect(parse(['maml', 'fewshot', '--queries', '6000', '--no-progress'])).rejects.toThrow(
        '--shots 1 and --queries 6000 need 6001 images of each class, but the smallest class of mnist-train has 5421; lower --queries to 5420 or less',
      );
    } finally {
      log.mockRestore();
    }
  });
});
