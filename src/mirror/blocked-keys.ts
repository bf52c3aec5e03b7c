/**
 * Which remote keys a local Service keeps from their mirror name (a Conflict), so that its deletion
 * queues them again. A local Service's own events queue the key its name maps to (`remoteKeyOf`),
 * which is not always the key it blocks: a headless Service's pod wants `<hostname>-<cluster>`,
 * which the mirror of the Service `<hostname>` or a stranger can hold, and an export's name can be
 * held by another Service's per-pod mirror. Without this, such a Conflict outlived its cause until
 * something else synced the key.
 *
 * A sync reports a holder in the same tick as it reads the cache that shows it (mirror-sync.ts),
 * and the informer updates its cache before it tells of a deletion: a holder deleted before that
 * read is not in the cache, one deleted after is in the index.
 */
export class BlockedKeys {
  /**
   * Local Service `namespace/name` → the remote keys it blocks. Conflicts are few, so forgetting a
   * key, which every sync does, walks them rather than keep a second index.
   */
  private readonly byHolder = new Map<string, Set<string>>();

  /** Forgets what blocked `key`: its sync is about to say again. */
  reset(key: string): void {
    for (const [holder, keys] of this.byHolder) {
      if (keys.delete(key) && keys.size === 0) this.byHolder.delete(holder);
    }
  }

  /** The local Service `holder` (`namespace/name`) holds a mirror name that `key` wants. */
  add(key: string, holder: string): void {
    const keys = this.byHolder.get(holder) ?? new Set<string>();
    keys.add(key);
    this.byHolder.set(holder, keys);
  }

  /** `holder` is gone: the keys it blocked, forgotten (each is synced again and says afresh). */
  freed(holder: string): string[] {
    const keys = [...(this.byHolder.get(holder) ?? [])];
    for (const key of keys) this.reset(key);
    return keys;
  }
}
