/** Reading a grayscale image from a PNG file, with pngjs. */
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';

/**
 * Reads a PNG as gray levels in [0, 1], row-major. Colour is converted to luminance
 * (0.299 R + 0.587 G + 0.114 B) and transparency is composited over black.
 */
export function readGrayPng(path: string): { width: number; height: number; pixels: Float32Array } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read image ${path}: ${readFailure(error)}`);
  }
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || signature.some((byte, i) => bytes[i] !== byte)) {
    throw new Error(`image ${path} is not a PNG file: it does not start with the PNG signature`);
  }
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (error) {
    throw new Error(`image ${path} is not a valid PNG file: ${(error as Error).message}`);
  }

  const pixels = new Float32Array(png.width * png.height);
  for (let i = 0; i < pixels.length; i++) {
    const [r, g, b, a] = [png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2], png.data[4 * i + 3]];
    pixels[i] = ((0.299 * r + 0.587 * g + 0.114 * b) / 255) * (a / 255);
  }
  return { width: png.width, height: png.height, pixels };
}

/** Describes why a file could not be read, in words for the common cases. */
function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'it is a folder; give the path of a PNG file';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}
