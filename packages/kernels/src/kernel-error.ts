/**
 * Error raised by a kernel for invalid input. The message starts with the kernel's name and
 * names every shape and attribute involved, for example
 * `matmul: inner dimensions differ: a is [2, 3] and b is [4, 5] (3 != 4)`.
 */
export class KernelError extends Error {
  readonly kernel: string;

  constructor(kernel: string, message: string) {
    super(`${kernel}: ${message}`);
    this.name = 'KernelError';
    this.kernel = kernel;
  }
}
