/**
 * Runs the 'wasm' backend in headless Chromium, through playwright-core: with Web Workers over a
 * shared WebAssembly.Memory on a cross-origin isolated page, and on one thread on a page without
 * isolation. esbuild bundles browser/page.ts from the package's sources, and a server on
 * 127.0.0.1 serves it with src/wasm/worker.js.
 *
 * The test looks for Chromium at METAGRAD_CHROMIUM, /usr/bin/chromium, then `chromium` on PATH.
 * Without it the suite is skipped, or fails when METAGRAD_REQUIRE_BROWSER=1, as CI sets it.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { build } from 'esbuild';
import { type Browser, type Page, chromium } from 'playwright-core';
import { type PageReport, convolutionShape, productShape } from './browser/page';
import { expectClose } from './helpers';

const packageDirectory = path.resolve(__dirname, '..');

/** Headers that make a page cross-origin isolated, which SharedArrayBuffer needs. */
const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

const PAGE_HTML = '<!doctype html><html><head><link rel="icon" href="data:,"><script src="page.js"></script></head><body></body></html>';

/**
 * Chromium's switches besides playwright's own. They turn off background services (updates,
 * sync) that connect to outside hosts, because this test needs no network beyond 127.0.0.1.
 */
const CHROMIUM_ARGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Returns the path of the Chromium executable, or undefined when there is none. */
function findChromium(): string | undefined {
  const configured = process.env.METAGRAD_CHROMIUM;
  if (configured !== undefined && configured !== '') return existsSync(configured) ? configured : undefined;
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  const directories = (process.env.PATH ?? '').split(path.delimiter).filter((directory) => directory !== '');
  return directories.map((directory) => path.join(directory, 'chromium')).find((candidate) => existsSync(candidate));
}

/** Bundles browser/page.ts, with the package's sources, into one script for the page. */
async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(__dirname, 'browser/page.ts')],
    bundle: true,
    format: 'iife',
    globalName: 'metagradPage',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/**
 * Serves the same files under /isolated/, with the isolation headers on every response but
 * worker-without-headers.js, and under /plain/, without them. Listens on a free port of 127.0.0.1.
 */
async function startServer(pageScript: string): Promise<{ server: http.Server; origin: string }> {
  const workerScript = readFileSync(path.join(packageDirectory, 'src/wasm/worker.js'), 'utf8');
  const files: Record<string, { type: string; body: string }> = {
    'index.html': { type: 'text/html', body: PAGE_HTML },
    'page.js': { type: 'text/javascript', body: pageScript },
    'worker.js': { type: 'text/javascript', body: workerScript },
    'worker-without-headers.js': { type: 'text/javascript', body: workerScript },
  };
  const server = http.createServer((request, response) => {
    const match = /^\/(isolated|plain)\/([a-z.-]+)$/.exec(request.url ?? '');
    const file = match ? files[match[2]] : undefined;
    if (match === null || file === undefined) {
      response.writeHead(404).end();
      return;
    }
    const isolated = match[1] === 'isolated' && match[2] !== 'worker-without-headers.js';
    const headers = isolated ? ISOLATION_HEADERS : {};
    response.writeHead(200, { 'Content-Type': file.type, ...headers }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}` };
}

/** A page's report and its uncaught errors. */
interface PageRun {
  report: PageReport;
  pageErrors: string[];
}

/**
 * Opens `/{folder}/index.html`, runs the page's checks with the worker script `/{folder}/{workerFile}`
 * and returns their report. `productFirst` is passed on to the page's `run`.
 */
async function runPage(browser: Browser, origin: string, folder: 'isolated' | 'plain', workerFile = 'worker.js', productFirst = false): Promise<PageRun> {
  const page: Page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.setDefaultTimeout(20_000);
  try {
    await page.goto(`${origin}/${folder}/index.html`);
    const workerUrl = `${origin}/${folder}/${workerFile}`;
    const report = (await page.evaluate(`metagradPage.run(${JSON.stringify(workerUrl)}, ${productFirst})`)) as PageReport;
    return { report, pageErrors };
  } finally {
    await page.close();
  }
}

/** Decodes a float32 array that the page encoded with encodeFloats. */
function decodeFloats(encoded: string): Float32Array {
  const bytes = Uint8Array.from(Buffer.from(encoded, 'base64'));
  return new Float32Array(bytes.buffer);
}

/** Returns the indices at which two float32 arrays, as the page encoded them, differ in any bit. */
function bitDifferences(x: string, y: string): number[] {
  const [xBits, yBits] = [new Uint32Array(decodeFloats(x).buffer), new Uint32Array(decodeFloats(y).buffer)];
  const differences: number[] = [];
  for (let i = 0; i < Math.max(xBits.length, yBits.length); i++) if (xBits[i] !== yBits[i]) differences.push(i);
  return differences;
}

/** Checks `actual` against `expected`, both as the page encoded them, within 1e-5 of expected's largest magnitude. */
function expectCloseToScale(actual: string, expected: string): void {
  const [actualValues, expectedValues] = [decodeFloats(actual), decodeFloats(expected)];
  const scale = expectedValues.reduce((largest, value) => Math.max(largest, Math.abs(value)), 0);
  expectClose(actualValues, expectedValues, 1e-5, 1e-5 * scale);
}

const chromiumPath = findChromium();
const missingMessage = `Chromium not found at ${process.env.METAGRAD_CHROMIUM || '/usr/bin/chromium or on PATH'}: `
  + 'install it with `apt-get install chromium`, or set METAGRAD_CHROMIUM to its executable';
const required = process.env.METAGRAD_REQUIRE_BROWSER === '1';

if (chromiumPath === undefined && required) {
  test('Chromium is installed', () => {
    throw new Error(`${missingMessage} (METAGRAD_REQUIRE_BROWSER=1 makes this a failure)`);
  });
} else if (chromiumPath === undefined) {
  console.warn(`Skipping the browser tests. ${missingMessage}`);
}

const describeWithChromium = chromiumPath === undefined ? describe.skip : describe;

describeWithChromium('wasm backend in Chromium', () => {
  let browser: Browser;
  let server: http.Server;
  let isolated: PageRun;
  let plain: PageRun;
  let scriptAfterProduct: PageRun;
  let missingScript: PageRun;
  let scriptWithoutHeaders: PageRun;

  beforeAll(async () => {
    const started = await startServer(await bundlePage());
    server = started.server;
    // Chromium refuses to run as root, as CI does, with its sandbox on. chromiumSandbox: false
    // makes playwright pass --no-sandbox.
    browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, chromiumSandbox: false, timeout: 20_000 });
    isolated = await runPage(browser, started.origin, 'isolated');
    plain = await runPage(browser, started.origin, 'plain');
    scriptAfterProduct = await runPage(browser, started.origin, 'isolated', 'worker.js', true);
    missingScript = await runPage(browser, started.origin, 'isolated', 'missing.js');
    scriptWithoutHeaders = await runPage(browser, started.origin, 'isolated', 'worker-without-headers.js');
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  test('isolated page has SIMD and shared memory', () => {
    expect(isolated.pageErrors).toEqual([]);
    expect(isolated.report.crossOriginIsolated).toBe(true);
    expect(isolated.report.features.simd).toBe(true);
    expect(isolated.report.features.sharedMemory).toBe(true);
  });

  test('isolated page gets two threads', () => {
    expect(isolated.report.readyThreads).toBe(2);
    expect(isolated.report.workerFailures).toEqual([]);
  });

  test('product matches js backend', () => {
    const { report } = isolated;
    const operandBytes = 4 * (productShape.m * productShape.k + productShape.k * productShape.n);
    expect(report.wasmMemoryBytes).toBeGreaterThan(operandBytes);
    expectCloseToScale(report.productOneThread, report.productJs);
  });

  test('product has same bits on two threads', () => {
    const { report } = isolated;
    expect(report.threadedCallsWithOtherBits).toBe(0);
    expect(bitDifferences(report.productTwoThreads, report.productOneThread)).toEqual([]);
  });

  test('worker computes parts', () => {
    expect(isolated.report.partsRunByWorkers).toBeGreaterThan(0);
  });

  test('convolution matches js backend', () => {
    const { report } = isolated;
    const [batch, , height, width] = convolutionShape.input;
    expect(decodeFloats(report.convolutionWasm)).toHaveLength(batch * convolutionShape.filters[0] * height * width);
    expectCloseToScale(report.convolutionWasm, report.convolutionJs);
  });

  test('page without isolation runs one thread', () => {
    const { report, pageErrors } = plain;
    expect(pageErrors).toEqual([]);
    expect(report.crossOriginIsolated).toBe(false);
    expect(report.features.simd).toBe(true);
    expect(report.features.sharedMemory).toBe(false);
    expect(report.readyThreads).toBe(1);
    expect(report.partsRunByWorkers).toBe(0);
    expect(report.workerFailures).toEqual([]);
  });

  test('page without isolation computes correctly', () => {
    const { report } = plain;
    const operandBytes = 4 * (productShape.m * productShape.k + productShape.k * productShape.n);
    expect(report.wasmMemoryBytes).toBeGreaterThan(operandBytes);
    expectCloseToScale(report.productOneThread, report.productJs);
    expect(bitDifferences(report.productTwoThreads, report.productOneThread)).toEqual([]);
    expectCloseToScale(report.convolutionWasm, report.convolutionJs);
  });

  test('worker script set after a product', () => {
    const { report, pageErrors } = scriptAfterProduct;
    expect(pageErrors).toEqual([]);
    expect(report.readyThreads).toBe(2);
    expect(report.partsRunByWorkers).toBeGreaterThan(0);
    expect(report.threadedCallsWithOtherBits).toBe(0);
    expectCloseToScale(report.productOneThread, report.productJs);
  });

  test.each([
    ['missing', () => missingScript, '/isolated/missing.js'],
    ['served without COEP', () => scriptWithoutHeaders, '/isolated/worker-without-headers.js'],
  ])('worker script %s fails fast', (_, pageRun, url) => {
    const { report, pageErrors } = pageRun();
    expect(pageErrors).toEqual([]);
    expect(report.readyThreads).toBe(1);
    // backendReady gives up after 10 s by default, but it need not wait for a worker that failed.
    expect(report.readyMilliseconds).toBeLessThan(5_000);
    expect(report.workerFailures).toHaveLength(1);
    expect(report.workerFailures[0]).toContain(url);
    expect(report.workerFailures[0]).toContain('Cross-Origin-Embedder-Policy: require-corp');
    expect(report.partsRunByWorkers).toBe(0);
    expectCloseToScale(report.productOneThread, report.productJs);
    expectCloseToScale(report.convolutionWasm, report.convolutionJs);
  });
});
