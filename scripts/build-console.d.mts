// Types of build-console.mjs for the TypeScript that imports it (test/console/).
export function buildConsole(o?: {
  outDir?: string;
  minify?: boolean;
}): Promise<{ outDir: string; files: string[] }>;
