/**
 * exp, the logistic sigmoid and tanh on four float32 lanes at once, as code generators for the
 * WebAssembly kernels. WebAssembly has no vector exp, so it is built from multiplies and adds.
 *
 * exp(x) splits x into n * ln 2 + r with n an integer and |r| <= ln(2) / 2, so that
 *   exp(x) = 2^n * exp(r)
 * 2^n is made by writing n + 127 into a float's exponent bits, and exp(r) is its Taylor series
 * to r^7 / 7!, whose next term is below 5e-9 for |r| <= ln(2) / 2: smaller than float32's
 * rounding. ln 2 is subtracted in two parts (the first has 15 significant bits, so n times it is
 * exact in float32 for |n| < 512), so r keeps its precision. x is clamped to [-87, 88] first, where 2^n stays a normal
 * float, so exp(-inf) is about 1.6e-38 rather than 0 and exp(inf) about 1.7e38. A NaN stays NaN.
 *
 * The sigmoid is 1 / (1 + exp(-x)) and tanh(x) is 1 - 2 / (1 + exp(2x)). Both are exact to a
 * few float32 roundings in absolute terms; tanh of tiny x has a larger relative error (about
 * 1e-7 / |x|), which the LSTM kernels that use it tolerate.
 */
import { type Code, type Local, f32x4, i32, i32x4, local, v128 } from './instructions';

const LN2_HIGH = 0.693145751953125;
const LN2_LOW = 1.4286068203094172e-6;

/** Vector locals that exp needs for its intermediate values. */
export interface ExpTemporaries {
  /** The integer n, as floats. */
  n: Local;
  /** The reduced argument r. */
  r: Local;
}

/** Returns exp(x) of each lane. `x` is evaluated once. */
export function vectorExp(x: Code, temporaries: ExpTemporaries): Code {
  const { n, r } = temporaries;
  const clamped = f32x4.min(f32x4.max(x, v128.const_f32x4(-87)), v128.const_f32x4(88));

  // x = n ln 2 + r.
  const reduce = [
    local.set(r, clamped),
    local.set(n, f32x4.nearest(f32x4.mul(local.get(r), v128.const_f32x4(Math.LOG2E)))),
    local.set(r, f32x4.sub(local.get(r), f32x4.mul(local.get(n), v128.const_f32x4(LN2_HIGH)))),
    local.set(r, f32x4.sub(local.get(r), f32x4.mul(local.get(n), v128.const_f32x4(LN2_LOW)))),
  ];

  // exp(r) = 1 + r (1 + r (1/2 + r (1/6 + ... + r / 7!))), by Horner's rule.
  let series: Code = v128.const_f32x4(1 / 5040);
  for (const coefficient of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1]) {
    series = f32x4.add(f32x4.mul(series, local.get(r)), v128.const_f32x4(coefficient));
  }

  // 2^n: n + 127 in the exponent field, bits 23 to 30.
  const powerOfTwo = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(local.get(n)), v128.const_i32x4(127)), i32.const(23));
  return [reduce, f32x4.mul(series, powerOfTwo)];
}

/** Returns the logistic sigmoid 1 / (1 + exp(-x)) of each lane. */
export function vectorSigmoid(x: Code, temporaries: ExpTemporaries): Code {
  const one = v128.const_f32x4(1);
  const negated = f32x4.sub(v128.zero(), x);
  return f32x4.div(one, f32x4.add(one, vectorExp(negated, temporaries)));
}

/** Returns tanh(x) = 1 - 2 / (1 + exp(2x)) of each lane. */
export function vectorTanh(x: Code, temporaries: ExpTemporaries): Code {
  const one = v128.const_f32x4(1);
  const doubled = f32x4.mul(x, v128.const_f32x4(2));
  return f32x4.sub(one, f32x4.div(v128.const_f32x4(2), f32x4.add(one, vectorExp(doubled, temporaries))));
}
