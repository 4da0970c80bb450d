// Latches on activities: a test closes a gate on the next call of one activity that matches, the
// call waits there (mid-flight: scheduled, started, not answered) until the test opens it, and the
// test fires a competing message meanwhile. Pass `wrap` as a worker's `wrapActivities`.
import { Context } from "@temporalio/activity";
import type { Activities } from "../../activities/index.js";

type ActivityName = keyof Activities;
type InputOf<K extends ActivityName> = Parameters<Activities[K]>[0];

export interface Gate {
  /** Resolves when a matching call has reached the gate. */
  readonly reached: Promise<void>;
  /** Let the waiting call (and any later one) through. */
  open(): void;
}

interface Pending {
  name: ActivityName;
  match: (input: unknown, local: boolean) => boolean;
  arrive(): void;
  opened: Promise<void>;
}

export class Latches {
  private readonly pending: Pending[] = [];

  /**
   * Close a gate on the next call of `name` that `match` accepts (`local`: whether it runs as a
   * local activity). One call waits; the gate is gone once reached.
   */
  close<K extends ActivityName>(name: K, match: (input: InputOf<K>, local: boolean) => boolean = () => true): Gate {
    let arrive!: () => void;
    let open!: () => void;
    const reached = new Promise<void>((resolve) => (arrive = resolve));
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.pending.push({ name, match: match as (input: unknown, local: boolean) => boolean, arrive, opened });
    return { reached, open };
  }

  /**
   * The activities with the gates in front. A waiting call gives way to the worker's shutdown: it
   * throws the cancellation, so that attempt fails and Temporal retries the activity elsewhere.
   */
  readonly wrap = (real: Activities): Activities => {
    const wrapped: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [name, fn] of Object.entries(real) as Array<[ActivityName, (input: unknown) => Promise<unknown>]>) {
      wrapped[name] = async (input) => {
        const local = Context.current().info.isLocal;
        const at = this.pending.findIndex((p) => p.name === name && p.match(input, local));
        if (at >= 0) {
          const [gate] = this.pending.splice(at, 1);
          gate?.arrive();
          await Promise.race([gate?.opened, Context.current().cancelled]);
        }
        return fn(input);
      };
    }
    return wrapped as unknown as Activities;
  };
}
