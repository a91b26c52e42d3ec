// The "meaning, and what to do" column of docs/errors.md as { CODE: text }: the console's job page shows
// it under a job's error code, so a user reads what to do without leaving the page. The table is the one
// source (test/errors.test.ts keeps it in step with src/errors.ts); this only reads it.

/**
 * @param {string} markdown the text of docs/errors.md
 * @returns {Record<string, string>} every code of its tables (a code in backticks in the first column)
 */
export function extractErrorHints(markdown) {
  /** @type {Record<string, string>} */
  const hints = {};
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = splitRow(line);
    const code = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0] ?? '')?.[1];
    const meaning = cells[cells.length - 1];
    if (!code || cells.length < 2 || meaning === undefined) continue;
    hints[code] = plainText(meaning);
  }
  return hints;
}

/** The cells of a table row; `\|` inside a cell (and `|` inside backticks) is text, not a separator. */
function splitRow(line) {
  const cells = [];
  let cell = '';
  let inCode = false;
  const body = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && body[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cell += c;
    } else if (c === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else cell += c;
  }
  cells.push(cell.trim());
  return cells;
}

/** Markdown to the text a page shows with textContent: links keep their text, emphasis marks go. */
function plainText(md) {
  return md
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\*\*([^*]*)\*\*/g, '$1')
    .trim();
}
