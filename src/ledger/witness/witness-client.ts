import { parseNote, parseSignatureLine, SIGNATURE_LINE_PREFIX, verifyCosignature, type VerifierKey } from '../note/signed-note';

/** A witness the log asks for cosignatures: its verifier key (type 0x04) and its submission prefix URL. */
export interface WitnessEndpoint {
  readonly vkey: VerifierKey;
  readonly url: string;
}

export type CosignatureRequest =
  | { readonly ok: true; readonly signature: string; readonly cosignedAt: number; readonly oldSize: number }
  | { readonly ok: false; readonly message: string; readonly witnessSize?: number };

/**
 * The log's side of tlog-witness add-checkpoint: sends `note` (the checkpoint with the log's
 * signature) with the consistency proof from `oldSize`; on 409 the witness names the size it
 * holds, and the request is made once more from that size. The answer is accepted only if it
 * holds a cosignature by exactly this witness's key that verifies over the checkpoint.
 */
export async function requestCosignature(
  endpoint: WitnessEndpoint,
  note: string,
  oldSize: number,
  proofFrom: (size: number) => Promise<readonly Buffer[]>,
  timeoutMs = 10_000,
): Promise<CosignatureRequest> {
  const { text } = parseNote(note);
  const treeSize = Number(text.split('\n')[1]);
  let from = oldSize;
  for (let attempt = 0; attempt < 2; attempt++) {
    const proof = await proofFrom(from);
    const body = `old ${from}\n${proof.map((hash) => `${hash.toString('base64')}\n`).join('')}\n${note}`;
    let response: Response;
    try {
      response = await fetch(`${endpoint.url.replace(/\/+$/, '')}/add-checkpoint`, { method: 'POST', body, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      return { ok: false, message: `witness ${endpoint.vkey.name} at ${endpoint.url} did not answer: ${error instanceof Error ? error.message : String(error)}` };
    }
    const answer = await response.text();
    if (response.status === 409) {
      const held = /^(0|[1-9][0-9]*)\n?$/.exec(answer);
      if (!held) return { ok: false, message: `witness ${endpoint.vkey.name} answered 409 without a size: ${answer.trim().slice(0, 200)}` };
      const witnessSize = Number(held[1]);
      if (witnessSize > treeSize) return { ok: false, witnessSize, message: `witness ${endpoint.vkey.name} already cosigned size ${witnessSize}, larger than this checkpoint (${treeSize}): the log was rewound, or a fork was shown to it` };
      // The size it holds, asked from that size: the same size with another root (tlog-witness), i.e. a fork of what it cosigned.
      if (witnessSize === from && from === treeSize) return { ok: false, witnessSize, message: `witness ${endpoint.vkey.name} already cosigned size ${witnessSize} with another root: this checkpoint is a fork of what it saw, never cosigned` };
      if (witnessSize === from) return { ok: false, witnessSize, message: `witness ${endpoint.vkey.name} answered 409 for the size it holds (${witnessSize})` };
      from = witnessSize;
      continue;
    }
    if (response.status !== 200) return { ok: false, message: `witness ${endpoint.vkey.name} refused (HTTP ${response.status}): ${answer.trim().slice(0, 300)}` };
    for (const line of answer.split('\n').filter((l) => l.startsWith(SIGNATURE_LINE_PREFIX))) {
      let parsed;
      try {
        parsed = parseSignatureLine(line);
      } catch {
        continue;
      }
      if (parsed.name !== endpoint.vkey.name || !parsed.keyId.equals(endpoint.vkey.keyId)) continue;
      const verified = verifyCosignature(text, parsed, endpoint.vkey);
      if (!verified.valid) return { ok: false, message: `witness ${endpoint.vkey.name} returned a cosignature that does not verify: ${verified.message}` };
      return { ok: true, signature: line.slice(line.lastIndexOf(' ') + 1), cosignedAt: Number(verified.timestamp), oldSize: from };
    }
    return { ok: false, message: `witness ${endpoint.vkey.name} answered 200 without a cosignature by its key ${endpoint.vkey.keyId.toString('hex')}` };
  }
  return { ok: false, message: `witness ${endpoint.vkey.name} kept answering 409` };
}
