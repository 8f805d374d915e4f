// A small 5-field cron (minute hour day-of-month month day-of-week), evaluated in UTC. Supports
// `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b-c`, month and weekday names
// (JAN…DEC, SUN…SAT) and 7 as Sunday. As in Vixie cron, when both day-of-month and day-of-week are
// restricted a day matches if EITHER does. No seconds, no @macros, no L/W/# extensions: a
// schedule that needs them is refused with the offending field named.

export interface CronSchedule {
  /** the expression as given (normalized whitespace) */
  source: string;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday */
  daysOfWeek: ReadonlySet<number>;
  domRestricted: boolean;
  dowRestricted: boolean;
}

export class CronError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

function parseValue(raw: string, spec: FieldSpec): number {
  const upper = raw.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + (spec.name === 'month' ? 1 : 0);
  if (!/^\d{1,2}$/.test(raw)) throw new CronError(spec.name, `${spec.name}: "${raw}" is not a number`);
  const n = Number(raw);
  if (n < spec.min || n > spec.max) throw new CronError(spec.name, `${spec.name}: ${n} is outside ${spec.min}-${spec.max}`);
  return n;
}

function parseField(text: string, spec: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') throw new CronError(spec.name, `${spec.name}: empty list item`);
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined) throw new CronError(spec.name, `${spec.name}: "${part}" has more than one step`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,2}$/.test(stepText) || Number(stepText) === 0) throw new CronError(spec.name, `${spec.name}: step "${stepText}" must be 1-99`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = spec.min;
      hi = spec.name === 'day of week' ? 6 : spec.max;
    } else if (range!.includes('-')) {
      const [a, b, more] = range!.split('-');
      if (more !== undefined || !a || !b) throw new CronError(spec.name, `${spec.name}: bad range "${range}"`);
      lo = parseValue(a, spec);
      hi = parseValue(b, spec);
      if (lo > hi) throw new CronError(spec.name, `${spec.name}: range "${range}" runs backwards`);
    } else {
      lo = parseValue(range!, spec);
      // "5/15" means 5, 20, 35, 50 (from 5 to the end of the field)
      hi = stepText !== undefined ? spec.max : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(spec.name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

/** Parses a 5-field cron expression; throws CronError naming the field at fault. */
export function parseCron(expression: string): CronSchedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 || fields[0] === '') throw new CronError('cron', `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields[0] === '' ? 0 : fields.length}`);
  const [min, hour, dom, month, dow] = fields.map((f, i) => parseField(f, FIELDS[i]!));
  return {
    source: fields.join(' '),
    minutes: min!,
    hours: hour!,
    daysOfMonth: dom!,
    months: month!,
    daysOfWeek: dow!,
    domRestricted: !fields[2]!.startsWith('*'),
    dowRestricted: !fields[4]!.startsWith('*'),
  };
}

function dayMatches(c: CronSchedule, d: Date): boolean {
  const dom = c.daysOfMonth.has(d.getUTCDate());
  const dow = c.daysOfWeek.has(d.getUTCDay());
  if (c.domRestricted && c.dowRestricted) return dom || dow;
  return dom && dow;
}

/**
 * The first minute strictly after `after` that matches (UTC). Walks day by day, then hour by hour
 * and minute by minute inside matching days, so it is fast for any expression; an expression that
 * never fires (e.g. 30 February) throws after searching 8 years (leap days included).
 */
export function nextRun(c: CronSchedule, after: Date): Date {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const limit = after.getTime() + 8 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!c.months.has(t.getUTCMonth() + 1) || !dayMatches(c, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!c.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!c.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return t;
  }
  throw new CronError('cron', `"${c.source}" never fires`);
}
