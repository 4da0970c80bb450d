// Shared by the benchmarks: percentiles, and the line that opens every table (when, on which node,
// under what load), so that figures from different runs can be told apart.
import { loadavg } from "node:os";

/** The p-th percentile (nearest rank) of samples sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export interface Latency {
  n: number;
  p50: number;
  p95: number;
}

/** How many samples, and their p50 and p95 (nearest rank); samples in any order. */
export function latency(samples: readonly number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
}

/** `p50 / p95` with one decimal, as the markdown tables print latencies in ms. */
export function p50p95(l: Latency): string {
  return `${l.p50.toFixed(1)} / ${l.p95.toFixed(1)}`;
}

/** `<title> — <ISO date> — node <version>, load average <1 5 15 min>`. */
export function environmentLine(title: string): string {
  return `${title} — ${new Date().toISOString()} — node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`;
}
