// Types of error-hints.mjs for the TypeScript that imports it (test/console/).
export function extractErrorHints(markdown: string): Record<string, string>;
