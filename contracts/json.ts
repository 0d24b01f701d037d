/** The JSON values an event may carry: no Date, no undefined, no bigint — bytes that hash and sign stably. */
export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
