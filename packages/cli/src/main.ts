/** Entry point of the `metagrad` command. */
export function main(argv: readonly string[]): void {
  void argv;
  process.stderr.write('metagrad: no commands are available yet\n');
  process.exitCode = 1;
}
