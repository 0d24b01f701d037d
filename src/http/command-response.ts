import { ApiProperty } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { CommandOutcome } from '../commands/command-pipeline';
import { formatPosition } from '../eventstore/global-position';
import { ProoflineError } from '../errors/proofline-error';

export class AppendedEventView {
  @ApiProperty({ example: '019aa7b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b' }) id!: string;
  @ApiProperty({ example: 'workspaces.renamed' }) type!: string;
  @ApiProperty({ example: 3 }) streamVersion!: number;
  @ApiProperty({ example: '1042/57', description: 'global position <commit>/<prepare>' }) position!: string;
}

export class CommandResponse {
  @ApiProperty({ example: 'workspace-019aa7b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b' }) streamId!: string;
  @ApiProperty({ example: 3, description: 'the stream version after the command; send it as If-Match to the next one' }) version!: number;
  @ApiProperty({ type: [AppendedEventView] }) events!: AppendedEventView[];
}

/** The body every command answers with; a replayed idempotent request also gets `Idempotent-Replayed: true`. */
export function commandResponse(outcome: CommandOutcome, reply: FastifyReply): CommandResponse {
  if (outcome.replayed) void reply.header('idempotent-replayed', 'true');
  void reply.header('etag', `"${outcome.version}"`);
  return {
    streamId: outcome.streamId,
    version: outcome.version,
    events: outcome.events.map((event) => ({ id: event.id, type: event.type, streamVersion: event.streamVersion, position: formatPosition(event.position) })),
  };
}

/** If-Match carries the stream version the client last saw ("3" or 3); absent means "whatever is current". */
export function expectedVersionFrom(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined) return undefined;
  // Strong comparison only (RFC 9110 §13.1.1): a weak tag never matches, and quotes come in pairs.
  const match = /^(?:"(-1|\d{1,15})"|(-1|\d{1,15}))$/.exec(ifMatch.trim());
  if (!match) {
    throw new ProoflineError('REQUEST.INVALID_HEADER', 'If-Match must be a stream version such as "3" (-1 for a new stream)', 400, {
      fields: [{ field: 'If-Match', rule: 'stream-version', message: 'If-Match must be a stream version such as "3"' }],
    });
  }
  return Number(match[1] ?? match[2]);
}
