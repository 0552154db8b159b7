/**
 * Every benchmark suite, in the order `npm run bench` runs them. A new suite is one file
 * exporting a `Suite` and one entry here.
 */
import type { Suite } from './harness';
import { autodiffSuite } from './autodiff';
import { kernelsSuite } from './kernels';
import { mamlSuite } from './maml';
import { textSuite, textTorchSuite } from './text';
import { threadsSuite } from './threads';
import { trainingSuite } from './training';
import { wasmSuite } from './wasm';

export const suites: Suite[] = [kernelsSuite, autodiffSuite, trainingSuite, mamlSuite, textSuite, textTorchSuite, wasmSuite, threadsSuite];
