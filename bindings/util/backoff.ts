// Exponential back-off after gRPC A6 (client-side retries): retry n waits random(0, min(initialBackoffMs ×
// backoffMultiplier^(n−1), maxBackoffMs)) with full jitter (`delayMs`); resolvers reconnect after the ceiling
// itself (`capMs`). One option shape for fetch retries (http/) and resolver reconnects (discovery/).
//
//   const b = new Backoff({ initialBackoffMs: 50, maxBackoffMs: 1000 });
//   b.capMs(3);   // 200: min(50 × 2², 1000)
//   b.delayMs(3); // uniform in [0, 200)
import { defaultRandom, type Random } from './random.js';
import { positive, rangeError } from './validate.js';

/** Exponential back-off (gRPC A6 names): one option shape for fetch retries and resolver reconnects. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay (fetch default 50 ms; each resolver states its own). */
  initialBackoffMs?: number;
  /** Ceiling of every delay (when left out: the default, raised to `initialBackoffMs` when below it). */
  maxBackoffMs?: number;
  /** Growth of the ceiling per retry (default 2). */
  backoffMultiplier?: number;
}

/** The fetch retry's defaults (50 ms, ×2, up to 1 s); internal, read-only by its type (not frozen: smaller). */
export const DEFAULT_BACKOFF: Readonly<Required<BackoffOptions>> = {
  initialBackoffMs: 50,
  maxBackoffMs: 1000,
  backoffMultiplier: 2,
};

export class Backoff {
  declare readonly initialBackoffMs: number;
  declare readonly maxBackoffMs: number;
  declare readonly backoffMultiplier: number;

  /**
   * Validates `o`: each value a finite number > 0 and `maxBackoffMs` >= `initialBackoffMs` (TypeError or
   * RangeError naming the field); options left out take `defaults`.
   */
  declare private readonly random: Random;

  constructor(
    o: BackoffOptions = {},
    random: Random = defaultRandom,
    defaults: Readonly<Required<BackoffOptions>> = DEFAULT_BACKOFF,
  ) {
    this.random = random;
    const given = (k: keyof BackoffOptions) => (o[k] === undefined ? undefined : positive(k, o[k]));
    this.initialBackoffMs = given('initialBackoffMs') ?? defaults.initialBackoffMs;
    this.maxBackoffMs = given('maxBackoffMs') ?? Math.max(defaults.maxBackoffMs, this.initialBackoffMs);
    this.backoffMultiplier = given('backoffMultiplier') ?? defaults.backoffMultiplier;
    if (this.maxBackoffMs < this.initialBackoffMs)
      throw rangeError('maxBackoffMs', `>= initialBackoffMs (${this.initialBackoffMs})`, this.maxBackoffMs);
  }

  /** The ceiling before retry number `retry` (1 for the first): min(initial × multiplier^(retry−1), max). */
  capMs(retry: number): number {
    return Math.min(this.initialBackoffMs * this.backoffMultiplier ** (retry - 1), this.maxBackoffMs);
  }

  /** Delay before retry number `retry` (1 for the first), with full jitter: uniform in [0, capMs(retry)). */
  delayMs(retry: number): number {
    return this.random() * this.capMs(retry);
  }
}
