/**
 * Counted loops, written with the instructions a compiler emits for them: a `block` to leave
 * early and a `loop` that branches back while the counter is below its end.
 */
import { type Code, Label, type Local, block, br_if, i32, local, loop, select } from './instructions';

/**
 * for (counter = from; counter < to; counter += step) { body }, with signed comparisons. The
 * body never runs when from >= to. `to` and `step` are evaluated on every iteration, so they
 * should be locals or constants.
 */
export function forLoop(counter: Local, from: Code, to: Code, step: Code, ...body: Code[]): Code {
  const exit = new Label(`${counter.name}_done`);
  const repeat = new Label(`${counter.name}_loop`);
  return [
    local.set(counter, from),
    block(exit,
      br_if(exit, i32.ge_s(local.get(counter), to)),
      loop(repeat,
        ...body,
        local.set(counter, i32.add(local.get(counter), step)),
        br_if(repeat, i32.lt_s(local.get(counter), to)),
      ),
    ),
  ];
}

/** The smaller of two signed i32 values; both are evaluated twice. */
export function minS(a: Code, b: Code): Code {
  return select(a, b, i32.lt_s(a, b));
}
