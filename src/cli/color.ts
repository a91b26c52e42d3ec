// Colour on a terminal only: never into a pipe or a file, and never when NO_COLOR is set (no-color.org)
// or the terminal is dumb.
export function useColor(stream: { isTTY?: boolean } = process.stdout, env = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
}
