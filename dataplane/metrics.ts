/**
 * A small Prometheus registry. Each process (primary and workers) keeps its own; workers send
 * `dump()` to the primary, which merges them (`merge`) and renders text for `GET /metrics`.
 * Counters and histograms only add, so merging is a sum. Label values are escaped on render.
 */

export type Labels = Readonly<Record<string, string>>;

interface Family {
  type: "counter" | "gauge" | "histogram";
  help: string;
  buckets?: number[];
  /** label key → value (counter/gauge) or [bucket counts..., sum, count] (histogram) */
  series: Map<string, number | number[]>;
  /**
   * The labels as a caller passed them (names and values in call order) → their label key.
   * Building a key (sort, escape, join) four times per proxied request showed in the proxy's
   * profile (docs/benchmarks.md); this lookup costs a fraction of it.
   */
  keys: Map<string, string>;
}

export interface MetricsDump {
  families: Record<string, { type: Family["type"]; help: string; buckets?: number[]; series: [string, number | number[]][] }>;
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${escape(labels[k] ?? "")}"`).join(",");
}

function escape(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

export const DEFAULT_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The label key of `labels` in family `f`, built once per distinct set of labels. */
function keyIn(f: Family, labels: Labels | undefined): string {
  if (!labels) return "";
  let raw = "";
  for (const k in labels) raw += `${k}\u0000${labels[k]}\u0001`;
  let key = f.keys.get(raw);
  if (key === undefined) {
    key = labelKey(labels);
    f.keys.set(raw, key);
  }
  return key;
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly collectors: (() => void)[] = [];

  /**
   * Runs `collect` before every `dump()` and `render()`, so that gauges which would change on every
   * request (requests in flight) are read from their source then instead of being set per request.
   */
  addCollector(collect: () => void): void {
    this.collectors.push(collect);
  }

  private family(name: string, type: Family["type"], help: string, buckets?: number[]): Family {
    let f = this.families.get(name);
    if (!f) {
      f = { type, help, series: new Map(), keys: new Map(), ...(buckets ? { buckets } : {}) };
      this.families.set(name, f);
    }
    return f;
  }

  /**
   * A counter series bound to fixed labels, for hot paths: `inc` skips building the label key.
   * The series appears on its first `inc`, as with `inc` above.
   */
  counter(name: string, help: string, labels?: Labels): { inc(by?: number): void } {
    const f = this.family(name, "counter", help);
    const k = keyIn(f, labels);
    return { inc: (by = 1) => void f.series.set(k, ((f.series.get(k) as number | undefined) ?? 0) + by) };
  }

  /** A histogram series bound to fixed labels (see `counter`). */
  histogram(name: string, help: string, labels?: Labels, buckets = DEFAULT_LATENCY_BUCKETS): { observe(value: number): void } {
    const f = this.family(name, "histogram", help, buckets);
    const k = keyIn(f, labels);
    return {
      observe: (value) => {
        let s = f.series.get(k) as number[] | undefined;
        if (!s) f.series.set(k, (s = new Array<number>(buckets.length + 2).fill(0)));
        for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]!) s[i]!++;
        s[buckets.length]! += value;
        s[buckets.length + 1]!++;
      },
    };
  }

  /** Adds `by` (default 1) to a counter. */
  inc(name: string, help: string, labels?: Labels, by = 1): void {
    const f = this.family(name, "counter", help);
    const k = keyIn(f, labels);
    f.series.set(k, ((f.series.get(k) as number | undefined) ?? 0) + by);
  }

  /** Sets a gauge. */
  set(name: string, help: string, labels: Labels | undefined, value: number): void {
    const f = this.family(name, "gauge", help);
    f.series.set(keyIn(f, labels), value);
  }

  /** Removes every series of a gauge, for collectors that set the whole family anew (gone servers leave no series behind). */
  clear(name: string): void {
    this.families.get(name)?.series.clear();
  }

  /** Records one observation (seconds) in a histogram. */
  observe(name: string, help: string, labels: Labels | undefined, value: number, buckets = DEFAULT_LATENCY_BUCKETS): void {
    const f = this.family(name, "histogram", help, buckets);
    const k = keyIn(f, labels);
    let s = f.series.get(k) as number[] | undefined;
    if (!s) {
      s = new Array<number>(buckets.length + 2).fill(0);
      f.series.set(k, s);
    }
    for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]!) s[i]!++;
    s[buckets.length]! += value;
    s[buckets.length + 1]!++;
  }

  dump(): MetricsDump {
    for (const collect of this.collectors) collect();
    const families: MetricsDump["families"] = {};
    for (const [name, f] of this.families) {
      families[name] = { type: f.type, help: f.help, ...(f.buckets ? { buckets: f.buckets } : {}), series: [...f.series] };
    }
    return { families };
  }

  /** Adds another process's dump into this registry (sums counters and histograms; gauges add too). */
  merge(dump: MetricsDump): void {
    for (const [name, d] of Object.entries(dump.families)) {
      const f = this.family(name, d.type, d.help, d.buckets);
      for (const [k, v] of d.series) {
        const cur = f.series.get(k);
        if (Array.isArray(v)) {
          const arr = (cur as number[] | undefined) ?? new Array<number>(v.length).fill(0);
          for (let i = 0; i < v.length; i++) arr[i] = (arr[i] ?? 0) + v[i]!;
          f.series.set(k, arr);
        } else f.series.set(k, ((cur as number | undefined) ?? 0) + v);
      }
    }
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    for (const collect of this.collectors) collect();
    const out: string[] = [];
    for (const [name, f] of [...this.families].sort(([a], [b]) => a.localeCompare(b))) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const [k, v] of f.series) {
        if (Array.isArray(v)) {
          const buckets = f.buckets ?? [];
          const sep = k ? "," : "";
          for (let i = 0; i < buckets.length; i++) out.push(`${name}_bucket{${k}${sep}le="${buckets[i]}"} ${v[i]}`);
          out.push(`${name}_bucket{${k}${sep}le="+Inf"} ${v[buckets.length + 1]}`);
          out.push(`${name}_sum${k ? `{${k}}` : ""} ${v[buckets.length]}`);
          out.push(`${name}_count${k ? `{${k}}` : ""} ${v[buckets.length + 1]}`);
        } else out.push(`${name}${k ? `{${k}}` : ""} ${v}`);
      }
    }
    return out.join("\n") + "\n";
  }
}
