import { ProoflineError } from '../errors/proofline-error';
import type { StoreIdentity } from './event-store.port';
import { formatPosition, type GlobalPosition } from './global-position';

/** The store a checkpoint row names (both columns are null on rows written before migration 0015). */
export interface RecordedStore {
  readonly store_kind?: string | null;
  readonly store_id?: string | null;
}

export function describeStore(identity: StoreIdentity): string {
  return `${identity.kind} ${identity.id}`;
}

/**
 * Refuses a checkpoint recorded against another store: its position would be read in a log it
 * does not belong to, and every event before that number would be skipped without a word.
 * A row written before migration 0015 names no store; it is accepted (and stamped by the next
 * save), and the EventStoreDB adapter still refuses a position that is no event of its own.
 */
export function checkCheckpointStore(checkpoint: string, position: GlobalPosition, recorded: RecordedStore, current: StoreIdentity): void {
  if (recorded.store_kind == null && recorded.store_id == null) return;
  if (recorded.store_kind === current.kind && recorded.store_id === current.id) return;
  throw new ProoflineError(
    'CHECKPOINT.FOREIGN_STORE',
    `the ${checkpoint} checkpoint at ${formatPosition(position)} was recorded against ${recorded.store_kind} ${recorded.store_id}, but this process reads ${describeStore(current)}; ` +
      `resuming would skip events. Point the process back at the store the checkpoint belongs to, or, if this store is meant to replace it, ` +
      `reset the checkpoint to the start of this store (docs/eventstoredb.md, "Checkpoints belong to one store")`,
    500,
    { checkpoint, position: formatPosition(position), recordedKind: recorded.store_kind ?? null, recordedId: recorded.store_id ?? null, storeKind: current.kind, storeId: current.id },
  );
}
