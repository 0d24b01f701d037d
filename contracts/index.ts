export * from './json';
export * from './canonical-json';
export * from './event-id';
export * from './envelope';
export * from './upcasters';
export * from './envelope-schema';
