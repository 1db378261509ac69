// What the `experiment` and `search` commands share while they wait: follow a live job's events until its status
// event (or at once, when the job is no longer live).

interface Followable<E> {
  subscribe(id: string, fn: (e: E) => void): () => void;
  isLive(id: string): boolean;
}

/** Calls `onEvent` for each event of `id` and resolves at its status event, or at once when it is not live. */
export function followUntilEnded<E extends { type: string }>(manager: Followable<E>, id: string, onEvent: (e: E) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const unsubscribe = manager.subscribe(id, (e) => {
      onEvent(e);
      if (e.type === 'status') {
        unsubscribe();
        resolve();
      }
    });
    if (!manager.isLive(id)) {
      unsubscribe();
      resolve();
    }
  });
}
