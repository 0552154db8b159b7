/** Runs every benchmark suite. */
process.stdout.write('no benchmarks yet\n');
