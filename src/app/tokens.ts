/** Nest injection tokens for the infrastructure built in createInfrastructure. */
export const INFRASTRUCTURE = Symbol('Infrastructure');
