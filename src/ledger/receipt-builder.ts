import type { Knex } from 'knex';
import { newEventId } from '../../contracts';
import { streamIdFor } from '../commands/stream-id';
import { ProoflineError } from '../errors/proofline-error';
import { uniqueViolationOf } from '../eventstore/postgres/database-errors';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port';
import { formatPosition } from '../eventstore/global-position';
import type { EventSigner } from '../signing/event-signer';
import type { KeyRegistry } from '../signing/key-registry';
import { CHECKPOINT_EVENT_TYPE, originOf, type CheckpointBody, type SignedCheckpoint } from './checkpoint';
import { signCheckpoint, verifyCheckpoint } from './checkpoint-signature';
import { LedgerRepository, type StoredReceipt, type TenantHalt } from './ledger-repository';
import { leafHash } from './merkle/hashes';
import { consistencyProof, rootFromLeafHashes } from './merkle/tree';
import { isValidConsistency } from './merkle/verify';
import { noteTextOf } from './note/checkpoint-note';
import { signLogNote } from './note/log-note';
import { formatNote, SIGNATURE_LINE_PREFIX } from './note/signed-note';
import { receiptAndBytesFor } from './receipt';
import { SignedHeads, type KeptHead } from './signed-heads';
import { TenantChain } from './tenant-chain';

const copiedEvent = (copy: RecordedEvent, original: string) =>
  new ProoflineError('LEDGER.DUPLICATE_EVENT', `no receipt is issued for event ${copy.envelope.id} at ${formatPosition(copy.position)}: an event with this id is already ${original}, so this one is a stored copy`, 500, {
    eventId: copy.envelope.id,
    position: formatPosition(copy.position),
  });

/** Why the signer will not sign a tenant's current tree: it does not provably extend the head it kept. */
export interface ForkRefusal {
  readonly tenantId: string;
  /** The last head signed (or accepted by an operator's rewind), kept beside the key. */
  readonly kept: KeptHead;
  /** The tree the database holds now. */
  readonly database: { readonly treeSize: number; readonly rootHash: string };
  readonly message: string;
}

const forkRefused = (refusal: ForkRefusal) =>
  new ProoflineError('LEDGER.FORK_REFUSED', refusal.message, 500, { tenantId: refusal.tenantId, kept: refusal.kept, database: refusal.database });

const concurrentBuilder = () =>
  new ProoflineError('LEDGER.CONCURRENT_BUILDER', 'another receipt builder wrote these receipts first; this batch was rolled back and will be read again', 409);

const staleTree = (tenantId: string, size: number) =>
  new ProoflineError('LEDGER.CONCURRENT_BUILDER', `another receipt builder wrote receipts of tenant ${tenantId} beyond the tree of size ${size} this one held; no checkpoint was signed, and the tree is read again`, 409, { tenantId });

/** Events per receipt batch: large enough that round trips and transactions are a small share. */
const DEFAULT_BATCH_SIZE = 2000;

export interface LedgerSettings {
  /** Names this Proofline in every checkpoint's origin. */
  readonly instance: string;
  readonly checkpointEvery: number;
  readonly checkpointIntervalMs: number;
  readonly batchSize?: number;
  /** Where the signed heads are kept when not beside the key (PROOFLINE_LEDGER_HEADS_DIR): shared by every instance that may build. */
  readonly headsDirectory?: string;
}

/**
 * Proves, right before a write, that this builder may still write: the runner's lease check
 * (LedgerRunner). It throws when the lease is lost, and nothing is written.
 */
export type BuilderFence = () => Promise<void>;

export interface BuildOutcome {
  readonly receipts: number;
  readonly checkpoints: number;
}

/**
 * Turns the event store, read in global order, into one receipt chain per tenant, and issues
 * signed checkpoints of each chain's Merkle root. A batch of receipts and the builder's position
 * are written in one transaction, and the position only moves from where this builder read it:
 * two builders never both write a batch, and a crash never loses or repeats a receipt.
 */
export class ReceiptBuilder {
  private readonly chains = new Map<string, TenantChain>();
  private readonly repository: LedgerRepository;
  private readonly heads: SignedHeads;
  private readonly refusals = new Map<string, ForkRefusal>();
  /** Tenants whose receipts stopped at a bad event (ledger_halts), loaded once. */
  private halted?: Map<string, TenantHalt>;
  private readonly newHalts: TenantHalt[] = [];
  private pendingLoaded = false;

  constructor(
    private readonly knex: Knex,
    private readonly store: EventStore,
    private readonly signer: EventSigner,
    private readonly keys: KeyRegistry,
    private readonly settings: LedgerSettings,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.repository = new LedgerRepository(knex, store);
    this.heads = SignedHeads.beside(keys, settings.headsDirectory);
  }

  /** Tenants this builder currently refuses to sign for (LEDGER.FORK_REFUSED), with both heads. */
  forkRefusals(): ForkRefusal[] {
    return [...this.refusals.values()];
  }

  forkRefusal(tenantId: string): ForkRefusal | undefined {
    return this.refusals.get(tenantId);
  }

  /** The halts this builder wrote since the last call (for the server log; ledger_halts keeps them all). */
  takeNewHalts(): TenantHalt[] {
    return this.newHalts.splice(0);
  }

  /**
   * Receipts every event readable now, then issues the checkpoints that are due. With a `fence`,
   * it is run before each batch of receipts is written and before each checkpoint is signed.
   */
  async catchUp(fence?: BuilderFence): Promise<BuildOutcome> {
    await this.loadTenantsAwaitingCheckpoint();
    let receipts = 0;
    for (;;) {
      const written = await this.buildBatch(fence);
      receipts += written;
      if (written < (this.settings.batchSize ?? DEFAULT_BATCH_SIZE)) break;
    }
    const checkpoints = await this.issueDueCheckpoints(fence);
    return { receipts, checkpoints };
  }

  /**
   * Forgets what this builder cached of the database (each tenant's tree, halts, who awaits a
   * checkpoint). Called when it takes the builder lease over: the previous holder wrote receipts
   * and checkpoints this builder has not seen, and a tree cached from before would be stale.
   */
  reload(): void {
    this.chains.clear();
    this.refusals.clear(); // judged again at the next checkpoint, against what is there then
    this.halted = undefined;
    this.pendingLoaded = false;
  }

  /** Issues a checkpoint for `tenantId` now if it has receipts the last one does not cover. */
  async checkpointNow(tenantId: string): Promise<SignedCheckpoint | undefined> {
    const chain = await this.chain(tenantId);
    if (chain.size === 0 || chain.size === chain.checkpointedSize) return undefined;
    return this.issue(chain);
  }

  private async buildBatch(fence?: BuilderFence): Promise<number> {
    const from = await this.repository.progress();
    const events = await this.store.readAll(from, this.settings.batchSize ?? DEFAULT_BATCH_SIZE);
    if (events.length === 0) return 0;
    const halted = await this.haltedTenants();
    const receiptedAt = await this.repository.receiptPositions(events.map((event) => event.envelope?.id).filter((id): id is string => typeof id === 'string'));
    const drafts = new Map<string, { chain: TenantChain; lastHash: string; leaves: Buffer[]; activity: number }>();
    const receipts: StoredReceipt[] = [];
    const checkpoints: RecordedEvent[] = [];
    const halts: TenantHalt[] = [];
    const inBatch = new Map<string, RecordedEvent>();
    for (const event of events) {
      // A bad event halts the tenant whose row it is; the others go on (issue 23, item 6).
      const rowTenant = event.storedAs.tenantId;
      if (halted.has(rowTenant)) continue;
      const bad = this.faultOf(event, inBatch, receiptedAt);
      if (bad) {
        const halt: TenantHalt = { tenantId: rowTenant, code: bad.code, message: bad.message, eventId: event.storedAs.eventId, position: formatPosition(event.position) };
        halted.set(rowTenant, halt);
        halts.push(halt);
        continue;
      }
      inBatch.set(event.envelope.id, event);
      const tenantId = event.envelope.tenantId;
      const draft = drafts.get(tenantId) ?? (await this.draftFor(tenantId));
      drafts.set(tenantId, draft);
      const { receipt, bytes } = receiptAndBytesFor(event, draft.chain.size + draft.leaves.length, draft.lastHash);
      const leaf = leafHash(bytes);
      receipts.push({ ...receipt, leafHash: leaf.toString('hex') });
      draft.leaves.push(leaf);
      draft.lastHash = receipt.receiptHash;
      if (event.envelope.type === CHECKPOINT_EVENT_TYPE) checkpoints.push(event);
      else draft.activity += 1;
    }
    try {
      await fence?.();
      await this.knex.transaction(async (trx) => {
        const repository = this.repository.within(trx);
        await repository.insertReceipts(receipts);
        for (const event of checkpoints) await repository.insertCheckpoint(event.envelope.tenantId, event.envelope.data as unknown as SignedCheckpoint, event.envelope.id);
        for (const halt of halts) await repository.insertHalt(halt);
        if (!(await repository.advance(from, events[events.length - 1].position))) throw concurrentBuilder();
      });
    } catch (error) {
      this.chains.clear(); // the cached heads may be behind what another builder wrote
      this.halted = undefined;
      const constraint = uniqueViolationOf(error);
      if (constraint === 'ledger_receipts_event_unique') throw (await this.copyOfReceipted(events)) ?? concurrentBuilder();
      if (constraint === 'ledger_receipts_pkey') throw concurrentBuilder();
      throw error;
    }
    this.newHalts.push(...halts);
    for (const { chain, lastHash, leaves, activity } of drafts.values()) {
      for (const leaf of leaves) chain.tree.append(leaf);
      chain.lastReceiptHash = lastHash;
      chain.activity = activity;
    }
    return events.length;
  }

  /**
   * Why `event` gets no receipt, if it does not: its bytes are not the one canonical byte string
   * of a v1 envelope, it does not verify, or it copies an event already receipted (at another
   * position: the same position means another builder got there first, which is a race).
   */
  private faultOf(event: RecordedEvent, inBatch: ReadonlyMap<string, RecordedEvent>, receiptedAt: ReadonlyMap<string, string>): { code: string; message: string } | undefined {
    const verification = this.signer.verifyStored(event);
    if (!verification.valid) {
      const code = verification.fault === 'not-canonical' || verification.fault === 'malformed' ? 'LEDGER.NOT_CANONICAL' : 'LEDGER.UNVERIFIABLE_EVENT';
      return { code, message: `no receipt is issued for an event that does not verify (${verification.fault}): ${verification.message}` };
    }
    const here = formatPosition(event.position);
    const receipted = receiptedAt.get(event.envelope.id);
    if (receipted !== undefined && receipted !== here) return copiedEvent(event, `receipted at ${receipted}`);
    if (receipted === here) {
      this.chains.clear(); // another builder receipted this batch first: read everything again
      throw concurrentBuilder();
    }
    const earlier = inBatch.get(event.envelope.id);
    if (earlier) return copiedEvent(event, `the event at ${formatPosition(earlier.position)}`);
    return undefined;
  }

  private async haltedTenants(): Promise<Map<string, TenantHalt>> {
    this.halted ??= new Map((await this.repository.halts()).map((halt) => [halt.tenantId, halt]));
    return this.halted;
  }

  private async draftFor(tenantId: string) {
    const chain = await this.chain(tenantId);
    return { chain, lastHash: chain.lastReceiptHash, leaves: [] as Buffer[], activity: chain.activity };
  }

  private async issueDueCheckpoints(fence?: BuilderFence): Promise<number> {
    const now = this.clock().getTime();
    let issued = 0;
    for (const chain of [...this.chains.values()]) {
      if (!chain.isCheckpointDue(this.settings.checkpointEvery, this.settings.checkpointIntervalMs, now)) continue;
      try {
        await this.issue(chain, fence);
        issued++;
      } catch (error) {
        // A refused tenant is reported (forkRefusals, status, metrics); the others are still signed.
        if (!(error instanceof ProoflineError && error.code === 'LEDGER.FORK_REFUSED')) throw error;
      }
    }
    return issued;
  }

  /**
   * Signs the tenant's current tree only if it provably extends the head kept beside the key:
   * the in-memory tree grew by appends from a head already proven (chain.anchor), or an RFC 6962
   * consistency proof computed from the receipts in the database verifies from the kept head to
   * the tree about to be signed. The new head is kept (synced to disk) before it is published.
   */
  private async issue(chain: TenantChain, fence?: BuilderFence): Promise<SignedCheckpoint> {
    const origin = originOf(this.settings.instance, chain.tenantId);
    // A tree smaller than the receipts stored means another builder wrote after this one cached the tree:
    // signing it would publish a stale, smaller head with a later issuedAt (issue 25, item 9). Reload instead.
    // Checked first: a stale cache measured against the head another builder signed is no fork.
    if ((await this.repository.size(chain.tenantId)) > chain.size) {
      this.chains.delete(chain.tenantId);
      throw staleTree(chain.tenantId, chain.size);
    }
    // The lease first: a builder that lost it must not judge (and report) the new holder's heads.
    await fence?.();
    const refusal = await this.refusalToSign(chain, origin);
    if (refusal) {
      this.refusals.set(chain.tenantId, refusal);
      throw forkRefused(refusal);
    }
    this.refusals.delete(chain.tenantId);
    const issuedAt = this.clock();
    const body: CheckpointBody = {
      origin,
      treeSize: chain.size,
      rootHash: chain.tree.root().toString('hex'),
      issuedAt: issuedAt.toISOString(),
    };
    const checkpoint: SignedCheckpoint = signCheckpoint(this.keys, body);
    // The same head as a C2SP signed note, signed by the same key: what witnesses cosign (docs/ledger.md, "Witnesses").
    const key = this.keys.active();
    const noteSignature = signLogNote(noteTextOf(body), origin, key.privateKey, key.publicKey);
    this.heads.write(checkpoint);
    chain.anchor = { treeSize: body.treeSize, rootHash: body.rootHash };
    const commandId = newEventId();
    const envelope = this.signer.seal({
      id: newEventId(),
      type: CHECKPOINT_EVENT_TYPE,
      schemaVersion: 1,
      streamId: streamIdFor('ledger', chain.tenantId),
      tenantId: chain.tenantId,
      occurredAt: body.issuedAt,
      actor: { id: 'proofline-ledger', role: 'SYSTEM' },
      data: { ...body, signature: { ...checkpoint.signature }, noteSignature },
      metadata: { correlationId: commandId, causationId: commandId, commandId },
    });
    await this.store.append(envelope.streamId, [envelope], 'any');
    chain.checkpointedSize = chain.size;
    chain.checkpointedAt = issuedAt.getTime();
    chain.activity = 0;
    return { ...checkpoint, note: formatNote(noteTextOf(body), [`${SIGNATURE_LINE_PREFIX}${origin} ${noteSignature}\n`]) };
  }

  /**
   * The heads a new checkpoint must extend: the one kept beside the key, and the largest checkpoint
   * in the store above it that this signer's keys verify (another instance signed it after this
   * one's head: a failover, a fail-back) — unless an operator's rewind gave it up.
   */
  private async refusalToSign(chain: TenantChain, origin: string): Promise<ForkRefusal | undefined> {
    const kept = this.heads.read(origin);
    const inStore = await this.signedHeadInStore(chain.tenantId, origin, kept?.treeSize ?? 0);
    const heads = [kept, inStore];
    for (const head of heads) {
      if (!head) continue;
      const refusal = await this.refusalToExtend(chain, origin, head);
      if (refusal) return refusal;
    }
    return undefined;
  }

  private async refusalToExtend(chain: TenantChain, origin: string, kept: KeptHead): Promise<ForkRefusal | undefined> {
    if (chain.anchor?.treeSize === kept.treeSize && chain.anchor.rootHash === kept.rootHash) return undefined;
    const memoryRoot = chain.tree.root();
    const refuse = (why: string, database = { treeSize: chain.size, rootHash: memoryRoot.toString('hex') }): ForkRefusal => ({
      tenantId: chain.tenantId,
      kept,
      database,
      message: `LEDGER.FORK_REFUSED: no checkpoint is signed for ${origin}: ${why}. The last signed head is size ${kept.treeSize} root ${kept.rootHash}; the database holds size ${database.treeSize} root ${database.rootHash}. If the database was restored from a backup on purpose, see 'proofline ledger rewind' (docs/ledger.md)`,
    });
    if (chain.size < kept.treeSize) return refuse(`the database's tree is smaller than the last signed head (receipts were removed, or the database was restored)`);
    const leaves = await this.repository.leafHashes(chain.tenantId, chain.size);
    const stored = rootFromLeafHashes(leaves);
    if (leaves.length !== chain.size || !stored.equals(memoryRoot)) {
      this.chains.delete(chain.tenantId); // the rows changed under this builder: reload them next round
      return refuse('the receipts in the database changed under the builder', { treeSize: leaves.length, rootHash: stored.toString('hex') });
    }
    const proof = consistencyProof(leaves, kept.treeSize, chain.size);
    if (!isValidConsistency(kept.treeSize, chain.size, Buffer.from(kept.rootHash, 'hex'), stored, proof)) {
      return refuse(`the database's tree does not extend it (no valid consistency proof from size ${kept.treeSize} to ${chain.size}): a history was rewritten`);
    }
    chain.anchor = { treeSize: kept.treeSize, rootHash: kept.rootHash };
    return undefined;
  }

  /**
   * The largest checkpoint of the tenant in the store above `above` that names this log, verifies
   * with these keys and was not given up by a rewind. Rows that do not verify are passed over (one
   * planted row must not hide a real checkpoint below it).
   */
  private async signedHeadInStore(tenantId: string, origin: string, above: number): Promise<KeptHead | undefined> {
    const givenUp = this.heads.givenUp(origin);
    for (const candidate of await this.repository.largestCheckpoints(tenantId, above, 100)) {
      if (candidate.origin !== origin || givenUp.some((head) => head.treeSize === candidate.treeSize && head.rootHash === candidate.rootHash)) continue;
      if (!verifyCheckpoint(this.keys, candidate, `checkpoint of size ${candidate.treeSize}`).valid) continue;
      return { origin: candidate.origin, treeSize: candidate.treeSize, rootHash: candidate.rootHash, issuedAt: candidate.issuedAt, signature: candidate.signature };
    }
    return undefined;
  }

  private async chain(tenantId: string): Promise<TenantChain> {
    const cached = this.chains.get(tenantId);
    if (cached) return cached;
    const stored = await this.repository.receipts(tenantId);
    const now = this.clock().getTime();
    const chain = TenantChain.empty(tenantId, now);
    for (const receipt of stored) chain.tree.append(Buffer.from(receipt.leafHash, 'hex'));
    if (stored.length > 0) chain.lastReceiptHash = stored[stored.length - 1].receiptHash;
    const latest = await this.repository.latestCheckpoint(tenantId);
    chain.checkpointedSize = latest?.treeSize ?? 0;
    // Approximate after a restart: the receipt right after a checkpoint is usually that checkpoint's own event.
    chain.activity = Math.max(0, chain.size - chain.checkpointedSize - (latest ? 1 : 0));
    this.chains.set(tenantId, chain);
    return chain;
  }

  /**
   * After a restart, tenants with receipts their last checkpoint does not cover still need one in time.
   * The receipt right after a checkpoint is usually that checkpoint's own event (see chain()); with no
   * checkpoint yet, every receipt is uncovered.
   */
  private async loadTenantsAwaitingCheckpoint(): Promise<void> {
    if (this.pendingLoaded) return;
    const rows = await this.knex.raw(
      `SELECT r.tenant_id FROM ledger_receipts r GROUP BY r.tenant_id
       HAVING max(r.sequence) + 1 > coalesce((SELECT max(c.tree_size) + 1 FROM ledger_checkpoints c WHERE c.tenant_id = r.tenant_id), 0)`,
    );
    for (const row of rows.rows as Array<{ tenant_id: string }>) await this.chain(row.tenant_id);
    this.pendingLoaded = true;
  }

  /**
   * Another builder receipting the same events also violates the event id's uniqueness; a receipt of
   * that id at another position does not come from a race but from a second stored copy of a signed
   * event (the signature covers the envelope, not the row it was inserted as).
   */
  private async copyOfReceipted(events: readonly RecordedEvent[]): Promise<ProoflineError | undefined> {
    const rows: Array<{ event_id: string; tenant_id: string; sequence: string; c: string; p: string }> = await this.knex('ledger_receipts')
      .whereIn('event_id', [...new Set(events.map((event) => event.envelope.id))])
      .select(this.knex.raw('event_id::text AS event_id, tenant_id, sequence::text AS sequence, position_commit::text AS c, position_prepare::text AS p'));
    for (const row of rows) {
      const copy = events.find((event) => event.envelope.id === row.event_id && formatPosition(event.position) !== `${row.c}/${row.p}`);
      if (copy) return copiedEvent(copy, `receipt ${row.sequence} of tenant ${row.tenant_id} (at ${row.c}/${row.p})`);
    }
    return undefined;
  }

}

