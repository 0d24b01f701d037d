import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';
import { validateEnvelopeShape } from '../../../contracts/envelope-schema';
import { isUuidV7 } from '../../../contracts/event-id';
import type { EventEnvelope } from '../../../contracts/envelope';
import schemaV1 from '../../../contracts/schemas/event-envelope.v1.schema.json';
import schema from '../../../contracts/schemas/event-envelope.v2.schema.json';

// Makes optional fields mandatory too, so tsc rejects this literal when the type gains any field.
// `data` is open JSON by design, so it is not descended into.
type Complete<T> = { [K in keyof T]-?: K extends 'data' ? T[K] : T[K] extends object ? Complete<T[K]> : T[K] };

const sample = {
  id: '0193a5c4-9f7e-7b2a-8c3d-1e2f3a4b5c6d',
  type: 'workspaces.plan-changed',
  schemaVersion: 1,
  streamId: 'workspace-42',
  tenantId: 'tenant-7',
  occurredAt: '2026-11-21T20:55:45.123Z',
  actor: { id: 'user-1', role: 'owner' },
  data: { plan: 'team', seats: 5 },
  metadata: {
    correlationId: 'corr-1',
    causationId: 'cmd-1',
    commandId: 'cmd-1',
    idempotencyKey: 'idem-1',
    dataHash: 'a'.repeat(64),
    signature: {
      alg: 'EdDSA',
      keyId: 'key-2026-01',
      purpose: 'proofline.event.v2',
      value: Buffer.alloc(64, 7).toString('base64'),
      batch: { root: 'b'.repeat(64), index: 1, size: 3, proof: ['c'.repeat(64), 'd'.repeat(64)] },
    },
  },
} satisfies Complete<EventEnvelope> as EventEnvelope;

type Json = Record<string, unknown>;
const clone = (): Json => JSON.parse(JSON.stringify(sample)) as Json;
const withPath = (path: string[], value: unknown): Json => {
  const copy = clone();
  const parent = path.slice(0, -1).reduce((node, key) => node[key] as Json, copy);
  if (value === undefined) delete parent[path[path.length - 1]];
  else parent[path[path.length - 1]] = value;
  return copy;
};
const errorsOf = (value: unknown): string[] => {
  const result = validateEnvelopeShape(value);
  return result.valid ? [] : result.errors;
};

const props = schema.properties;
const objects = {
  envelope: { schema, instance: sample, path: [] as string[] },
  actor: { schema: props.actor, instance: sample.actor, path: ['actor'] },
  metadata: { schema: props.metadata, instance: sample.metadata, path: ['metadata'] },
  signature: { schema: props.metadata.properties.signature, instance: sample.metadata.signature, path: ['metadata', 'signature'] },
  batch: { schema: props.metadata.properties.signature.properties.batch, instance: sample.metadata.signature.batch!, path: ['metadata', 'signature', 'batch'] },
};

describe('validateEnvelopeShape', () => {
  it('accepts a fully populated envelope', () => {
    expect(isUuidV7(sample.id)).toBe(true);
    expect(validateEnvelopeShape(sample)).toEqual({ valid: true });
  });

  it('accepts an envelope without the optional idempotencyKey, and any data members', () => {
    expect(errorsOf(withPath(['metadata', 'idempotencyKey'], undefined))).toEqual([]);
    expect(errorsOf(withPath(['data'], { nested: { anything: [1, null] } }))).toEqual([]);
    expect(errorsOf(withPath(['metadata', 'signature'], { ...sample.metadata.signature, alg: 'RS256' }))).toEqual([]);
  });

  // Without `purpose` an envelope is a v1 one (tested below), so it is not in this list.
  const requiredFields = Object.values(objects).flatMap(({ schema: s, path }) =>
    s.required.filter((field) => field !== 'purpose').map((field) => [[...path, field].join('.'), [...path, field]] as const),
  );

  it('reads an envelope without signature.purpose as v1: valid in the v1 shape, which has no purpose', () => {
    expect(errorsOf(withPath(['metadata', 'signature', 'purpose'], undefined))).toEqual([]);
    expect(Object.keys(schemaV1.properties.metadata.properties.signature.properties).sort()).toEqual(['alg', 'batch', 'keyId', 'value']);
  });

  it.each([['proofline.event.v1'], ['proofline.event-batch.v2'], [null], [2]])('rejects signature.purpose %p (only proofline.event.v2 exists)', (purpose) => {
    expect(errorsOf(withPath(['metadata', 'signature', 'purpose'], purpose))).toEqual([expect.stringContaining('/metadata/signature/purpose')]);
  });

  it.each(requiredFields)('rejects an envelope without %s, naming it', (_name, path) => {
    const errors = errorsOf(withPath([...path], undefined));
    expect(errors).toEqual([expect.stringContaining(`'${path[path.length - 1]}'`)]);
  });

  it.each([
    ['id: version 4', ['id'], '0193a5c4-9f7e-4b2a-8c3d-1e2f3a4b5c6d'],
    ['id: variant nibble c', ['id'], '0193a5c4-9f7e-7b2a-cc3d-1e2f3a4b5c6d'],
    ['id: uppercase', ['id'], '0193A5C4-9F7E-7B2A-8C3D-1E2F3A4B5C6D'],
    ['type: no namespace', ['type'], 'workspaces'],
    ['type: camel case', ['type'], 'workspaces.planChanged'],
    ['type: empty segment', ['type'], 'workspaces..plan-changed'],
    ['type: segment starts with a digit', ['type'], 'workspaces.2fa-enabled'],
    ['schemaVersion: 0', ['schemaVersion'], 0],
    ['schemaVersion: fraction', ['schemaVersion'], 1.5],
    ['streamId: empty', ['streamId'], ''],
    ['occurredAt: no milliseconds', ['occurredAt'], '2026-11-21T20:55:45Z'],
    ['occurredAt: offset, not Z', ['occurredAt'], '2026-11-21T20:55:45.123+01:00'],
    ['occurredAt: month 13', ['occurredAt'], '2026-13-21T20:55:45.123Z'],
    ['actor.role: empty', ['actor', 'role'], ''],
    ['data: array', ['data'], []],
    ['metadata.idempotencyKey: empty', ['metadata', 'idempotencyKey'], ''],
    ['metadata.idempotencyKey: 256 chars', ['metadata', 'idempotencyKey'], 'k'.repeat(256)],
    ['metadata.dataHash: uppercase', ['metadata', 'dataHash'], 'A'.repeat(64)],
    ['metadata.dataHash: 63 chars', ['metadata', 'dataHash'], 'a'.repeat(63)],
    ['metadata.dataHash: not hex', ['metadata', 'dataHash'], 'g'.repeat(64)],
    ['signature.alg: HS256', ['metadata', 'signature', 'alg'], 'HS256'],
    ['signature.value: base64url', ['metadata', 'signature', 'value'], 'ab-_'],
    ['signature.value: unpadded', ['metadata', 'signature', 'value'], 'abcde'],
  ])('rejects %s', (_name, path, value) => {
    const errors = errorsOf(withPath(path as string[], value));
    expect(errors).toEqual([expect.stringContaining(`/${(path as string[]).join('/')}`)]);
  });

  it.each(Object.entries(objects))('rejects an unknown property on %s, naming it', (_name, { path }) => {
    const errors = errorsOf(withPath([...path, 'surprise'], 1));
    expect(errors).toEqual([expect.stringContaining("'surprise'")]);
  });
});

describe('schema ↔ contracts/envelope.ts', () => {
  it.each(Object.entries(objects))('%s: the schema has exactly the fields of the typed sample', (_name, { schema: s, instance }) => {
    expect(Object.keys(s.properties).sort()).toEqual(Object.keys(instance).sort());
  });

  // ts-jest runs with isolatedModules (no type checking), so the `satisfies` above only bites under
  // tsc. Reading the interfaces from source makes a drifted type fail here too, optionality included.
  const source = ts.createSourceFile('envelope.ts', readFileSync(join(__dirname, '../../../contracts/envelope.ts'), 'utf8'), ts.ScriptTarget.ES2022);
  const interfaceMembers = (name: string) => {
    const decl = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
    if (!decl) throw new Error(`interface ${name} not found in contracts/envelope.ts`);
    const members = decl.members.filter(ts.isPropertySignature);
    return {
      all: members.map((m) => m.name.getText(source)).sort(),
      required: members.filter((m) => !m.questionToken).map((m) => m.name.getText(source)).sort(),
    };
  };

  it.each([
    ['EventEnvelope', objects.envelope.schema],
    ['Actor', objects.actor.schema],
    ['EnvelopeMetadata', objects.metadata.schema],
    ['EventSignature', objects.signature.schema],
    ['BatchInclusion', objects.batch.schema],
  ] as const)('interface %s matches the schema properties and required list', (name, s) => {
    const members = interfaceMembers(name);
    expect(Object.keys(s.properties).sort()).toEqual(members.all);
    // `purpose` is required in the v2 schema and optional in the type, which also types stored v1 envelopes.
    const required = name === 'EventSignature' ? s.required.filter((field) => field !== 'purpose') : s.required;
    expect([...required].sort()).toEqual(members.required);
  });

  it('signature.alg enum matches SignatureAlgorithm', async () => {
    const { SIGNATURE_ALGORITHMS } = await import('../../../contracts/envelope');
    expect([...objects.signature.schema.properties.alg.enum].sort()).toEqual([...SIGNATURE_ALGORITHMS].sort());
  });
});
