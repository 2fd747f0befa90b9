/**
 * Case-insensitive globs (`*` any run, `?` one character) matched without regular
 * expressions: the classic two-pointer walk, O(n·m) at worst, no backtracking blow-up.
 */
export type Glob = (s: string) => boolean;

export function compileGlob(pattern: string): Glob {
  const p = pattern.toLowerCase();
  if (!p.includes('*') && !p.includes('?')) return (s) => s.toLowerCase() === p;
  return (s) => globMatch(p, s.toLowerCase());
}

function globMatch(p: string, s: string): boolean {
  let pi = 0;
  let si = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    const c = p.charCodeAt(pi);
    if (pi < p.length && (c === 63 /* ? */ || c === s.charCodeAt(si))) {
      pi++;
      si++;
    } else if (pi < p.length && c === 42 /* * */) {
      star = pi++;
      mark = si;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p.charCodeAt(pi) === 42) pi++;
  return pi === p.length;
}
