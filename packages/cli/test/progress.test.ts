/** The plain progress lines that replace the bar when stderr is not a terminal. */
import { startEpochProgress } from '../src/progress';

describe('progress without a terminal', () => {
  test('final line printed once', () => {
    const tty = process.stderr.isTTY;
    const lines: string[] = [];
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((text: string | Uint8Array) => lines.push(String(text)) > 0);
    const clock = jest.spyOn(performance, 'now');
    try {
      process.stderr.isTTY = false;
      clock.mockReturnValue(0);
      const progress = startEpochProgress('training', 4, 'steps');
      progress.update(2, 0.5);
      // The last update comes after 10 s, so it prints its line; stop must not print it again.
      clock.mockReturnValue(11_000);
      progress.update(4, 0.25);
      progress.stop();
    } finally {
      process.stderr.isTTY = tty;
      write.mockRestore();
      clock.mockRestore();
    }

    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('training 4/4 steps | loss 0.2500');
  });
});
