import { newEventId } from '../../contracts';
import type { Infrastructure } from '../../src/app/infrastructure';
import { originOf, type CheckpointBody } from '../../src/ledger/checkpoint';
import { signCheckpoint } from '../../src/ledger/checkpoint-signature';
import { MerkleAccumulator } from '../../src/ledger/merkle';
import { inclusionProof } from '../../src/ledger/merkle';
import { BENCH_TENANT } from './events';
import { elapsedMs, nowMs, percentile, round } from './stats';

/** Costs on the ledger's read side that grow with the ledger: informational, measured once. */

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);

/**
 * How a proof is made today (Ledger.inclusion): inclusionProof over the whole list of leaf
 * hashes, O(n) hashes per proof; and the whole HTTP-less call, which also reads n leaf hashes
 * from the database and recomputes the root. Each proof is checked against `expected`.
 */
export async function proofServingCost(infra: Infrastructure, leaves: readonly Buffer[], expected: readonly Buffer[][], indexes: readonly number[]) {
  const size = leaves.length;
  const inMemoryMs: number[] = [];
  for (const index of indexes) {
    const started = nowMs();
    const proof = inclusionProof(leaves, index, size);
    inMemoryMs.push(elapsedMs(started));
    if (proof.length !== expected[index].length || proof.some((hash, i) => !hash.equals(expected[index][i]))) throw new Error(`inclusionProof and batchTree disagree at leaf ${index}`);
  }
  const endToEndMs: number[] = [];
  for (const index of indexes.slice(0, 5)) {
    const started = nowMs();
    await infra.ledger.inclusion(BENCH_TENANT, index, size);
    endToEndMs.push(elapsedMs(started));
  }
  return { treeSize: size, inclusionProofMsMedian: round(median(inMemoryMs), 2), samples: inMemoryMs.length, ledgerInclusionMsMedian: round(median(endToEndMs), 1), ledgerInclusionSamples: endToEndMs.length };
}

/**
 * verifyLedger (infra.ledger.verify) on a ledger with its one checkpoint, then again after adding
 * correctly signed checkpoints every `every` receipts — what a tenant with steady traffic gets
 * (PROOFLINE_LEDGER_CHECKPOINT_EVERY, default 100). Its checkpoint check recomputes each
 * checkpoint's root from leaf 0, so its cost grows with n × checkpoints.
 */
export async function verifyLedgerCheckpointCost(infra: Infrastructure, leaves: readonly Buffer[], every = 100) {
  const timedVerify = async () => {
    const started = nowMs();
    const result = await infra.ledger.verify(BENCH_TENANT);
    const ms = elapsedMs(started);
    if (!result.ok) throw new Error(`verifyLedger: ${result.fault?.kind} at ${result.fault?.position}: ${result.fault?.message}`);
    return { ms: round(ms, 0), receipts: result.receipts, checkpoints: result.checkpoints };
  };
  const before = await timedVerify();
  const accumulator = new MerkleAccumulator();
  for (let i = 0; i < leaves.length; i++) {
    accumulator.append(leaves[i]);
    if ((i + 1) % every !== 0) continue;
    const body: CheckpointBody = { origin: originOf(infra.ledger.settings.instance, BENCH_TENANT), treeSize: i + 1, rootHash: accumulator.root().toString('hex'), issuedAt: new Date().toISOString() };
    await infra.ledger.repository.insertCheckpoint(BENCH_TENANT, signCheckpoint(infra.keys, body), newEventId());
  }
  const after = await timedVerify();
  // The same roots in one incremental pass: what the check costs without recomputing from leaf 0.
  const started = nowMs();
  const incremental = new MerkleAccumulator();
  for (let i = 0; i < leaves.length; i++) {
    incremental.append(leaves[i]);
    if ((i + 1) % every === 0) incremental.root();
  }
  return { checkpointEvery: every, withOneCheckpoint: before, withCheckpointEveryN: after, incrementalRootsMs: round(elapsedMs(started), 1) };
}
