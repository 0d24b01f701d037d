import type { JsonObject } from './json';

/** What an upcaster may read of the envelope besides the data: facts older versions kept only there. */
export interface UpcastContext {
  readonly actor: { readonly id: string; readonly role: string };
  readonly occurredAt: string;
}

/** Turns data of `schemaVersion` n into data of n + 1. Stored bytes and signatures never change. */
export type Upcaster = (data: JsonObject, context?: UpcastContext) => JsonObject;

/** Per event type, the upcasters from version 1 upwards: entry i maps version i + 1 to i + 2. */
export type UpcasterChain = Readonly<Record<string, readonly Upcaster[]>>;

/** Reads old events as current ones. Throws when an event is newer than this code knows. */
export function upcast(chain: UpcasterChain, type: string, schemaVersion: number, data: JsonObject, context?: UpcastContext): { schemaVersion: number; data: JsonObject } {
  const steps = chain[type] ?? [];
  const current = steps.length + 1;
  if (schemaVersion > current) throw new RangeError(`${type} has schemaVersion ${schemaVersion}; this build reads up to ${current}`);
  let upcasted = data;
  for (let version = schemaVersion; version < current; version++) upcasted = steps[version - 1](upcasted, context);
  return { schemaVersion: current, data: upcasted };
}
