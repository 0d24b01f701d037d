import type { Knex } from 'knex';
import type { JsonObject } from '../../../contracts';
import { StoreUnavailableError } from '../errors';

const CLAIMS_TABLE = 'eventstoredb_claims';
const MAX_RACES = 8;
/** Rows per insert: PostgreSQL binds at most 65,535 parameters to a statement. */
const CHUNK = 5_000;

export interface Claim<R extends JsonObject> {
  readonly record: R;
  readonly revision: number;
  readonly released: boolean;
}

/** A claim this claimant holds, to give up if its append fails. */
export interface HeldClaim {
  readonly name: string;
  readonly revision: number;
}

export type ClaimOutcome<R extends JsonObject> = { readonly won: true; readonly revision: number } | { readonly won: false; readonly holder: R };

/**
 * Names that one holder has at a time (an idempotency key, an event id) for one EventStoreDB
 * store, in PostgreSQL (eventstoredb_claims). A take is a conditional write on the name's row:
 * an insert where there is none, an update of the revision the claimant read otherwise, so of
 * any number of racing claimants exactly one succeeds, and a released claim can be taken again.
 * The claim is written before the append it guards and committed on its own: an append whose
 * outcome is unknown leaves its claim held, judged later by what landed.
 */
export class ClaimRegistry {
  constructor(
    private readonly knex: Knex,
    /** The store the claims belong to; resolves once it is safe to claim there (its old claims imported). */
    private readonly storeId: () => Promise<string>,
  ) {}

  /** Takes every name that has never been claimed, in one statement; returns those it took. */
  async takeUnclaimed(names: readonly string[], record: JsonObject): Promise<HeldClaim[]> {
    if (names.length === 0) return [];
    const storeId = await this.storeId();
    const taken = await guarded(() => insertUnclaimed(this.knex, storeId, names.map((name) => ({ name, record }))));
    return taken.map((name) => ({ name, revision: 0 }));
  }

  /**
   * Takes `name` for `record`, unless its current holder still holds it. `stillHeld` judges a
   * claim that was never released (e.g. its holder crashed): returning false lets this claimant
   * take over from it.
   */
  async take<R extends JsonObject>(name: string, record: R | ((taken?: R) => R), stillHeld: (holder: R) => Promise<boolean>): Promise<ClaimOutcome<R>> {
    const storeId = await this.storeId();
    for (let race = 0; ; race++) {
      // Most names were never claimed: the first round tries the insert, and only a name with a row is read.
      const current = race === 0 ? undefined : await this.current<R>(name);
      if (current && !current.released && (race > MAX_RACES || (await stillHeld(current.record)))) return { won: false, holder: current.record };
      // A record may carry what it takes over from (an unreleased claim judged not held).
      const data = JSON.stringify(typeof record === 'function' ? record(current && !current.released ? current.record : undefined) : record);
      const written: Array<{ revision: string | number }> = await guarded(() =>
        current
          ? this.knex(CLAIMS_TABLE)
              .where({ store_id: storeId, name, revision: current.revision })
              .update({ record: data, revision: current.revision + 1, released: false, updated_at: this.knex.fn.now() })
              .returning(['revision'])
          : this.knex(CLAIMS_TABLE).insert({ store_id: storeId, name, record: data, revision: 0 }).onConflict(['store_id', 'name']).ignore().returning(['revision']),
      );
      if (written.length === 1) return { won: true, revision: Number(written[0].revision) };
      // Another claimant wrote the row first: look again at who holds it now.
    }
  }

  /** Gives the claims up, each only if the claim at its revision is still the latest. */
  async release(claims: readonly HeldClaim[]): Promise<void> {
    if (claims.length === 0) return;
    const storeId = await this.storeId();
    await guarded(() =>
      this.knex(CLAIMS_TABLE)
        .where({ store_id: storeId })
        .where((query) => {
          for (const claim of claims) void query.orWhere({ name: claim.name, revision: claim.revision });
        })
        .update({ released: true, revision: this.knex.raw('revision + 1'), updated_at: this.knex.fn.now() }),
    );
  }

  async current<R extends JsonObject>(name: string): Promise<Claim<R> | undefined> {
    const storeId = await this.storeId();
    const row: { record: R | string; revision: string | number; released: boolean } | undefined = await guarded(() =>
      this.knex(CLAIMS_TABLE).where({ store_id: storeId, name }).first('record', 'revision', 'released'),
    );
    if (!row) return undefined;
    const record = typeof row.record === 'string' ? (JSON.parse(row.record) as R) : row.record;
    return { record, revision: Number(row.revision), released: row.released };
  }
}

/**
 * Inserts the claims whose names have no row yet (in chunks), never replacing one; returns the
 * names it inserted. The one way claims are added, by a claimant or by recovery from the store.
 */
export async function insertUnclaimed(knex: Knex, storeId: string, claims: ReadonlyArray<{ readonly name: string; readonly record: object }>): Promise<string[]> {
  const inserted: string[] = [];
  for (let start = 0; start < claims.length; start += CHUNK) {
    const rows = claims.slice(start, start + CHUNK).map(({ name, record }) => ({ store_id: storeId, name, record: JSON.stringify(record), revision: 0 }));
    const written: Array<{ name: string }> = await knex(CLAIMS_TABLE).insert(rows).onConflict(['store_id', 'name']).ignore().returning(['name']);
    inserted.push(...written.map(({ name }) => name));
  }
  return inserted;
}

/** The registry is written before the append: a failure of it means nothing was written. */
async function guarded<T>(query: () => PromiseLike<T>): Promise<T> {
  try {
    return await query();
  } catch (error) {
    throw new StoreUnavailableError(new Error(`the EventStoreDB claim registry in PostgreSQL failed: ${error instanceof Error ? error.message : String(error)}`));
  }
}
