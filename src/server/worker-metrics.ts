// The workers' own metrics for the server's /metrics: scrape each worker's Prometheus endpoint (the
// Temporal SDK runtime's exporter, `worker.metricsAddress`) and merge what they serve into one valid
// exposition, each sample labelled with the worker it came from.
//
// Why a scrape rather than feeding prom-client from the SDK: the runtime's Prometheus exporter is the
// SDK's own, documented mechanism and a worker running alone needs it anyway; the SDK's in-process
// alternative (a buffered metrics exporter) is experimental and replaces the Prometheus exporter.

/** The label each appended sample gets: the `host:port` it was scraped from. */
export const WORKER_ADDRESS_LABEL = "worker_address";

/** How long one worker's endpoint may take to answer, in ms, before it counts as down for this scrape. */
export const DEFAULT_WORKER_SCRAPE_TIMEOUT_MS = 2000;

/**
 * The Prometheus text a worker serves at `http://<address>/metrics`. Rejects when the endpoint
 * refuses, answers other than 2xx, or has not sent its whole answer within `timeoutMs`.
 */
export async function scrapeWorkerMetrics(address: string, timeoutMs: number): Promise<string> {
  // The signal also bounds reading the body: an endpoint that trickles cannot hold /metrics.
  const res = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
  const text = await res.text();
  if (!res.ok) throw new Error(`worker metrics endpoint answered ${res.status}`);
  return text;
}

interface Family {
  help: string | undefined;
  type: string | undefined;
  samples: string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const DESCRIPTOR = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s(.*))?$/;
/** The worker label where a sample's label set names it: at the start or after a comma, outside any quoted value. */
const OWN_LABEL = new RegExp(`^((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\]|\\\\.)*",)*)${WORKER_ADDRESS_LABEL}=`);
/** Sample-name suffixes that belong to the family named without them (histograms, summaries, counters). */
const SUFFIXES = new Set(["_bucket", "_sum", "_count", "_total", "_created"]);

/**
 * The families of several scrapes as one Prometheus text exposition (format 0.0.4): one HELP and
 * TYPE per family however many workers serve it, every sample labelled `worker_address`. Families
 * named in `reserved` (the server's own) are left out, so nothing a worker serves can shadow them.
 */
export function mergeWorkerMetrics(scrapes: ReadonlyArray<{ address: string; text: string }>, reserved: ReadonlySet<string>): string {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) {
      f = { help: undefined, type: undefined, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const { address, text } of scrapes) {
    const label = `${WORKER_ADDRESS_LABEL}="${escapeLabelValue(address)}"`;
    // The exposition format keeps a family's samples together after its HELP/TYPE lines.
    let current: string | undefined;
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      if (line.startsWith("#")) {
        const d = DESCRIPTOR.exec(line);
        if (d === null) continue; // a plain comment
        const [, kind, name = "", rest = ""] = d;
        current = name;
        const f = family(name);
        if (kind === "HELP") f.help ??= rest;
        else f.type ??= rest.trim();
        continue;
      }
      const name = NAME.exec(line)?.[0];
      if (name === undefined) continue;
      const owner = current !== undefined && belongsTo(name, current) ? current : name;
      const rest = line.slice(name.length);
      // A sample that already names the label (an endpoint that is itself a countersign /metrics, or
      // one with such a global tag) keeps it as `exported_worker_address`, as Prometheus does: a label
      // twice in one sample would make the whole page unreadable.
      const own = rest.startsWith("{") ? rest.slice(1).replace(OWN_LABEL, `$1exported_${WORKER_ADDRESS_LABEL}=`) : rest;
      const labelled = rest.startsWith("{") ? `${name}{${label}${rest.startsWith("{}") ? "" : ","}${own}` : `${name}{${label}}${rest}`;
      family(owner).samples.push(labelled);
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    if (reserved.has(name) || f.samples.length === 0) continue;
    if (f.help !== undefined) out.push(`# HELP ${name} ${f.help}`);
    if (f.type !== undefined) out.push(`# TYPE ${name} ${f.type}`);
    out.push(...f.samples);
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

function belongsTo(sample: string, family: string): boolean {
  return sample === family || (sample.startsWith(family) && SUFFIXES.has(sample.slice(family.length)));
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
