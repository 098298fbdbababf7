/**
 * A Redis glob (`KEYS`, `SCAN MATCH`, `CONFIG GET`: `*`, `?`, `[abc]`, `[^a-z]`, `\\x`) as an
 * anchored RegExp; keys are matched as latin1 text (one char per byte).
 */
export function globToRegExp(glob: string, opts: { ignoreCase?: boolean } = {}): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRe(glob[++i]);
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      let cls = '';
      for (let j = 0; j < body.length; j++) {
        if (body[j] === '\\' && j + 1 < body.length) cls += escapeRe(body[++j]);
        else if (body[j + 1] === '-' && j + 2 < body.length) {
          // Redis accepts reversed ranges ([z-a]); a RegExp does not.
          const [lo, hi] = [body[j], body[j + 2]].sort();
          cls += `${escapeRe(lo)}-${escapeRe(hi)}`;
          j += 2;
        } else cls += escapeRe(body[j]);
      }
      re += `[${negate ? '^' : ''}${cls}]`;
      i = close;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, opts.ignoreCase === true ? 'i' : '');
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

