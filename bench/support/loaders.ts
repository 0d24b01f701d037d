import type { Decider, DomainEvent } from '../../src/commands/decider';
import type { Snapshot, SnapshotStore } from '../../src/commands/snapshot-store';
import { StateLoader, type LoadedState } from '../../src/commands/state-loader';
import { nowMs } from './kit';

/** A snapshot store that never has one and never keeps one: every load replays the whole stream. */
export class NoSnapshots implements SnapshotStore {
  async load(): Promise<Snapshot | undefined> {
    return undefined;
  }
  async save(): Promise<void> {}
}

/** The real StateLoader, timing each load() so a command's latency can be split into load and the rest. */
export class TimedStateLoader extends StateLoader {
  lastLoadMs = NaN;
  lastLoadFromCache = false;

  override async load<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, streamId: string): Promise<LoadedState<S>> {
    const started = nowMs();
    const loaded = await super.load(decider, streamId);
    this.lastLoadMs = nowMs() - started;
    this.lastLoadFromCache = loaded.fromCache;
    return loaded;
  }
}
