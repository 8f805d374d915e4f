// A small YAML reader for the configuration files under deploy/ (no YAML package is a declared
// dependency). It covers the subset those files use: block mappings and sequences, "- key: v"
// items, plain / 'single' / "double" quoted scalars, | and > block scalars, flow [..] and {..}
// collections, and comments. Scalars stay strings. It throws on anything else rather than guess,
// and alert-rules.test.ts cross-checks its result against promtool's own counts.
export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  indent: number;
  text: string; // without indentation and comment
  raw: string; // the original line
  no: number;
}

function stripComment(s: string): string {
  let quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') {
      if (i === 0 || /[\s[{,:]/.test(s[i - 1]!)) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]!))) {
      return s.slice(0, i).trimEnd();
    }
  }
  return s.trimEnd();
}

/** Index of the ':' that separates key and value in a mapping line, or -1. */
function keyColon(s: string): number {
  let quote: string | null = null;
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if ((c === "'" || c === '"') && (i === 0 || /[\s[{,]/.test(s[i - 1]!))) quote = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ':' && depth === 0 && (i === s.length - 1 || s[i + 1] === ' ')) return i;
  }
  return -1;
}

function unquoteKey(k: string): string {
  const t = k.trim();
  return t.startsWith("'") || t.startsWith('"') ? (parseScalar(t) as string) : t;
}

function parseFlow(s: string, pos: { i: number }): YamlValue {
  const skipWs = (): void => {
    while (pos.i < s.length && /\s/.test(s[pos.i]!)) pos.i++;
  };
  skipWs();
  const c = s[pos.i];
  if (c === '[' || c === '{') {
    const close = c === '[' ? ']' : '}';
    pos.i++;
    const list: YamlValue[] = [];
    const map: Record<string, YamlValue> = {};
    for (;;) {
      skipWs();
      if (s[pos.i] === close) {
        pos.i++;
        return c === '[' ? list : map;
      }
      if (c === '[') list.push(parseFlow(s, pos));
      else {
        const k = parseFlow(s, pos);
        skipWs();
        if (s[pos.i] !== ':') throw new Error(`flow mapping: expected ':' in ${s}`);
        pos.i++;
        if (typeof k !== 'string') throw new Error(`flow mapping: unsupported key in ${s}`);
        map[k] = parseFlow(s, pos);
      }
      skipWs();
      if (s[pos.i] === ',') pos.i++;
      else if (s[pos.i] !== close) throw new Error(`flow collection: expected ',' or '${close}' in ${s}`);
    }
  }
  if (c === "'" || c === '"') {
    let j = pos.i + 1;
    while (j < s.length) {
      if (c === '"' && s[j] === '\\') j += 2;
      else if (s[j] === c && c === "'" && s[j + 1] === "'") j += 2;
      else if (s[j] === c) break;
      else j++;
    }
    const v = parseScalar(s.slice(pos.i, j + 1));
    pos.i = j + 1;
    return v;
  }
  let j = pos.i;
  // Plain scalar in flow context: ends at ',', ']', '}' or ': '.
  while (j < s.length && !/[,\]}]/.test(s[j]!) && !(s[j] === ':' && (s[j + 1] === ' ' || j + 1 === s.length))) j++;
  const v = s.slice(pos.i, j).trim();
  pos.i = j;
  return v;
}

function parseScalar(text: string): YamlValue {
  const t = text.trim();
  if (t === '' || t === '~' || t === 'null') return null;
  if (t.startsWith('[') || t.startsWith('{')) {
    const pos = { i: 0 };
    const v = parseFlow(t, pos);
    if (t.slice(pos.i).trim() !== '') throw new Error(`trailing text after flow collection: ${t}`);
    return v;
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new Error(`unterminated quote: ${t}`);
    return t.slice(1, -1).replace(/''/g, "'");
  }
  if (t.startsWith('"')) return JSON.parse(t) as string;
  if (/^[&*!|>%@`]/.test(t)) throw new Error(`unsupported YAML construct: ${t}`);
  return t;
}

export function parseYaml(source: string): YamlValue {
  const lines: Line[] = [];
  source.split('\n').forEach((raw, no) => {
    if (raw.includes('\t') && /^\s*\t/.test(raw)) throw new Error(`line ${no + 1}: tab indentation`);
    const text = stripComment(raw).trim();
    if (text === '' || text === '---') return;
    lines.push({ indent: raw.length - raw.trimStart().length, text, raw, no });
  });
  let idx = 0;
  const rawLines = source.split('\n');

  function blockScalar(style: string, parentIndent: number, afterLineNo: number): string {
    // Reads raw lines (comments and blank lines included) indented deeper than the parent.
    const out: string[] = [];
    let n = afterLineNo + 1;
    let ind = -1;
    for (; n < rawLines.length; n++) {
      const r = rawLines[n]!;
      if (r.trim() === '') {
        out.push('');
        continue;
      }
      const i = r.length - r.trimStart().length;
      if (i <= parentIndent) break;
      if (ind < 0) ind = i;
      out.push(r.slice(Math.min(ind, i)));
    }
    while (idx < lines.length && lines[idx]!.no < n) idx++;
    while (out.length && out[out.length - 1] === '') out.pop();
    const keep = style.includes('-') ? '' : '\n';
    return style.startsWith('>') ? out.join(' ') + keep : out.join('\n') + keep;
  }

  function value(text: string, indent: number, lineNo: number): YamlValue {
    if (/^[|>][-+]?$/.test(text)) return blockScalar(text, indent, lineNo);
    return parseScalar(text);
  }

  function parseBlock(indent: number): YamlValue {
    const line = lines[idx];
    if (!line || line.indent < indent) return null;
    if (line.text === '-' || line.text.startsWith('- ')) return parseSeq(line.indent);
    if (keyColon(line.text) >= 0) return parseMap(line.indent);
    idx++;
    return value(line.text, indent - 1, line.no);
  }

  function parseSeq(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    while (idx < lines.length) {
      const line = lines[idx]!;
      if (line.indent !== indent || !(line.text === '-' || line.text.startsWith('- '))) break;
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        idx++;
        out.push(parseBlock(indent + 1));
        continue;
      }
      // "- key: v" starts a mapping whose keys sit at the column of "key".
      const col = indent + (line.text.length - rest.length);
      if (keyColon(rest) >= 0 && !rest.startsWith('{') && !rest.startsWith('[')) {
        lines[idx] = { ...line, indent: col, text: rest };
        out.push(parseMap(col));
      } else {
        idx++;
        out.push(value(rest, indent, line.no));
      }
    }
    return out;
  }

  function parseMap(indent: number): Record<string, YamlValue> {
    const out: Record<string, YamlValue> = {};
    while (idx < lines.length) {
      const line = lines[idx]!;
      if (line.indent !== indent || line.text.startsWith('- ')) break;
      const c = keyColon(line.text);
      if (c < 0) throw new Error(`line ${line.no + 1}: expected "key: value": ${line.raw}`);
      const key = unquoteKey(line.text.slice(0, c));
      if (key in out) throw new Error(`line ${line.no + 1}: duplicate key ${key}`);
      const rest = line.text.slice(c + 1).trim();
      idx++;
      if (rest !== '') {
        out[key] = value(rest, indent, line.no);
        continue;
      }
      const next = lines[idx];
      if (next && next.indent > indent) out[key] = parseBlock(next.indent);
      else if (next && next.indent === indent && (next.text === '-' || next.text.startsWith('- '))) out[key] = parseSeq(indent);
      else out[key] = null;
    }
    return out;
  }

  const doc = parseBlock(0);
  if (idx < lines.length) throw new Error(`line ${lines[idx]!.no + 1}: unexpected indentation: ${lines[idx]!.raw}`);
  return doc;
}
