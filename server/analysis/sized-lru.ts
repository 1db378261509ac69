// A least-recently-used map bounded by the summed size of its values (in whatever unit the caller counts: values,
// bytes); the caches of an analysis's shareable runs are built on it.
export class SizedLru<V> {
  private readonly entries = new Map<string, { value: V; size: number }>();
  private held = 0;

  constructor(private readonly maxSize: number) {}

  /** The value, made the most recently used. */
  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  /** Stores the value, evicting the least recently used until the sizes fit; a value larger than the bound is not kept. */
  set(key: string, value: V, size: number): void {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.held -= old.size;
    }
    if (size > this.maxSize) return;
    this.entries.set(key, { value, size });
    this.held += size;
    for (const [oldest, e] of this.entries) {
      if (this.held <= this.maxSize) break;
      this.entries.delete(oldest);
      this.held -= e.size;
    }
  }

  /** Entries held. */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }
}
