/** Kept equal to package.json's version by spec/package.spec.ts. */
export const VERSION = '0.2.0';
