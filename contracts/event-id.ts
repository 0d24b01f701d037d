import { v7 as uuidv7, validate, version } from 'uuid';

/** A new event id: a UUIDv7, so ids sort by creation time and index well. */
export function newEventId(): string {
  return uuidv7();
}

export function isUuidV7(value: string): boolean {
  return validate(value) && version(value) === 7;
}
