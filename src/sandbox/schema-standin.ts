// TEMPORARY: until openapi-schema.ts lands, load it if present, else a no-op stand-in.
type Mod = {
  validateWithSchema(schema: unknown, obj: unknown): any[];
  pruneAndDefault(schema: unknown, obj: unknown): unknown;
};
const specifier = './openapi-schema.js';
let mod: Mod;
try {
  mod = (await import(specifier)) as Mod;
} catch {
  mod = { validateWithSchema: () => [], pruneAndDefault: (_s, o) => o };
}
export const validateWithSchema = mod.validateWithSchema;
export const pruneAndDefault = mod.pruneAndDefault;
