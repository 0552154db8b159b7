/**
 * N-way K-shot classification tasks drawn from the classes of an image dataset: pick `ways`
 * classes, then `shots` support images and `queries` query images of each, all distinct.
 * Within a task the chosen classes are relabelled 0 to ways - 1 in random order, so a model
 * cannot memorise a class's label across tasks.
 */
import { Generator, Tensor } from '@metagrad/autodiff';
import { type ImageClass, type LabelledImages, copyRotatedImage } from './image-classes';

/** Options of `fewShotTasks`. */
export interface FewShotOptions {
  /** Classes per task, N. */
  ways: number;
  /** Support images per class, K. */
  shots: number;
  /** Query images per class. */
  queries: number;
  /** The classes tasks are drawn from, for example the meta-training half of `splitClasses`. */
  classes: readonly ImageClass[];
  /** Seed of the task stream. Default 0. */
  seed?: number;
  /** Subtracted from, then dividing, pixels scaled to [0, 1]. Default none. */
  normalize?: { mean: number; std: number };
  /** Give images as vectors [height * width] for MLPs instead of [1, height, width]. Default false. */
  flatten?: boolean;
}

/**
 * One task: support images [N * K, 1, H, W] (or [N * K, H * W] with `flatten`) with labels
 * [N * K] in 0 .. N - 1, class by class, and query images and labels likewise.
 */
export interface FewShotTask {
  supportX: Tensor;
  supportY: Tensor;
  queryX: Tensor;
  queryY: Tensor;
  /** The task's classes; class i has label i. */
  classes: ImageClass[];
}

/** T tasks with a leading task axis: support [T, N * K, ...] and labels [T, N * K]. */
export interface FewShotTaskBatch {
  supportX: Tensor;
  supportY: Tensor;
  queryX: Tensor;
  queryY: Tensor;
  classes: ImageClass[][];
}

/** The images a task picked: dataset index and rotation, class by class, with the label of each. */
interface Picked {
  classes: ImageClass[];
  support: Array<{ index: number; image: ImageClass; label: number }>;
  query: Array<{ index: number; image: ImageClass; label: number }>;
}

/** A seeded stream of few-shot tasks over a fixed set of classes. */
export class FewShotTasks {
  readonly ways: number;
  readonly shots: number;
  readonly queries: number;
  private readonly generator: Generator;
  private readonly scale: (byte: number) => number;

  constructor(readonly dataset: LabelledImages, readonly options: FewShotOptions) {
    const { ways, shots, queries, classes } = options;
    for (const [key, value] of [['ways', ways], ['shots', shots], ['queries', queries]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`fewShotTasks: ${key} must be a whole number of at least 1, got ${value}`);
    }
    if (classes.length < ways) throw new Error(`fewShotTasks: a ${ways}-way task needs at least ${ways} classes, but only ${classes.length} were given`);
    const small = classes.find((c) => c.indices.length < shots + queries);
    if (small) throw new Error(`fewShotTasks: class ${small.name} has ${small.indices.length} images, fewer than shots + queries = ${shots + queries}`);

    this.ways = ways;
    this.shots = shots;
    this.queries = queries;
    this.generator = new Generator(options.seed ?? 0);
    const { mean, std } = options.normalize ?? { mean: 0, std: 1 };
    this.scale = (byte) => (byte / 255 - mean) / std;
  }

  /** Draws the next task. */
  sample(): FewShotTask {
    const picked = this.pick();
    const [supportX, supportY] = this.assemble([picked.support]);
    const [queryX, queryY] = this.assemble([picked.query]);
    return { supportX: unbatch(supportX), supportY: unbatch(supportY), queryX: unbatch(queryX), queryY: unbatch(queryY), classes: picked.classes };
  }

  /** Draws the next `tasks` tasks as one batch: the tasks that as many `sample()` calls would draw. */
  sampleBatch(tasks: number): FewShotTaskBatch {
    if (!Number.isInteger(tasks) || tasks < 1) throw new Error(`FewShotTasks.sampleBatch: tasks must be a whole number of at least 1, got ${tasks}`);
    const picked = Array.from({ length: tasks }, () => this.pick());
    const [supportX, supportY] = this.assemble(picked.map((p) => p.support));
    const [queryX, queryY] = this.assemble(picked.map((p) => p.query));
    return { supportX, supportY, queryX, queryY, classes: picked.map((p) => p.classes) };
  }

  private pick(): Picked {
    const pool = this.options.classes;
    const chosen = this.generator.permutation(pool.length).slice(0, this.ways).map((i) => pool[i]);
    const picked: Picked = { classes: chosen, support: [], query: [] };

    chosen.forEach((image, label) => {
      // A partial Fisher-Yates shuffle draws shots + queries distinct images without copying the class.
      const indices = image.indices;
      const taken = new Map<number, number>();
      const needed = this.shots + this.queries;
      for (let i = 0; i < needed; i++) {
        const j = this.generator.integer(i, indices.length);
        const atJ = taken.get(j) ?? indices[j];
        taken.set(j, taken.get(i) ?? indices[i]);
        (i < this.shots ? picked.support : picked.query).push({ index: atJ, image, label });
      }
    });
    return picked;
  }

  /** Builds images [T, count, ...] and labels [T, count] from each task's picked examples. */
  private assemble(perTask: Picked['support'][]): [Tensor, Tensor] {
    const { height, width } = this.dataset;
    const pixels = height * width;
    const count = perTask[0].length;
    const images = new Float32Array(perTask.length * count * pixels);
    const labels = new Float32Array(perTask.length * count);

    perTask.forEach((examples, t) => {
      examples.forEach(({ index, image, label }, i) => {
        const position = t * count + i;
        copyRotatedImage(this.dataset, index, image.rotation, images, position * pixels, this.scale);
        labels[position] = label;
      });
    });

    const imageShape = this.options.flatten ? [pixels] : [1, height, width];
    return [new Tensor(images, [perTask.length, count, ...imageShape]), new Tensor(labels, [perTask.length, count])];
  }
}

/** Drops the leading task axis of a batch of one task. */
function unbatch(batch: Tensor): Tensor {
  return new Tensor(batch.data, batch.shape.slice(1));
}

/**
 * Returns a seeded stream of N-way K-shot tasks over `options.classes` of `dataset`.
 *
 * const { metaTrain } = splitClasses(imageClasses(mnist, [0, 90, 180, 270]), 30);
 * const tasks = fewShotTasks(mnist, { ways: 5, shots: 1, queries: 15, classes: metaTrain, seed: 0 });
 * tasks.sample().supportX.shape; // [5, 1, 28, 28]
 */
export function fewShotTasks(dataset: LabelledImages, options: FewShotOptions): FewShotTasks {
  return new FewShotTasks(dataset, options);
}
