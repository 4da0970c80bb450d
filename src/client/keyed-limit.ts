// A per-key concurrency limit with first-come-first-served waiting and a deadline: the client uses
// it to bound the Updates it has in flight on one workflow (see ApprovalsClient).

/** Thrown by {@link KeyedLimit.run} when the deadline passes before a slot frees up. */
export class KeyedLimitTimeout extends Error {
  constructor(key: string) {
    super(`no slot for ${key} before the deadline`);
    this.name = "KeyedLimitTimeout";
  }
}

interface Waiter {
  start(): void;
  timer: NodeJS.Timeout;
}

interface Slots {
  running: number;
  waiting: Waiter[];
}

/** At most `limit` calls of {@link run} per key at once; the others wait their turn in arrival order. */
export class KeyedLimit {
  private readonly keys = new Map<string, Slots>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("limit must be a positive integer");
  }

  /**
   * Run `fn` once fewer than `limit` calls for `key` are running. Waits until `deadline` (epoch ms)
   * at most: past it, rejects with {@link KeyedLimitTimeout} without running `fn`.
   */
  async run<R>(key: string, deadline: number, fn: () => Promise<R>): Promise<R> {
    let slots = this.keys.get(key);
    if (slots === undefined) {
      slots = { running: 0, waiting: [] };
      this.keys.set(key, slots);
    }
    // A finishing call hands its slot straight to the next waiter, so a newcomer cannot take it in between.
    if (slots.running >= this.limit) await this.wait(key, slots, deadline);
    else slots.running++;
    try {
      return await fn();
    } finally {
      const next = slots.waiting.shift();
      if (next !== undefined) next.start();
      else if (--slots.running === 0) this.keys.delete(key);
    }
  }

  /** Resolves when a finishing call hands over its slot; rejects at `deadline`. Only while all slots are taken. */
  private wait(key: string, slots: Slots, deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        start() {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          slots.waiting.splice(slots.waiting.indexOf(waiter), 1);
          reject(new KeyedLimitTimeout(key));
        }, Math.max(0, deadline - Date.now())),
      };
      slots.waiting.push(waiter);
    });
  }
}
