// The scheduled-snapshot cron parser: fields, ranges, steps, names, the day-of-month / day-of-week
// OR rule, month ends and leap years, and refusals that name the field at fault.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronError, nextRun, parseCron } from '../../src/modules/schedules/cron.js';

const next = (expr: string, after: string): string => nextRun(parseCron(expr), new Date(after)).toISOString();

/** The next n firing times after `after`. */
function series(expr: string, after: string, n: number): string[] {
  const c = parseCron(expr);
  const out: string[] = [];
  let t = new Date(after);
  for (let i = 0; i < n; i++) {
    t = nextRun(c, t);
    out.push(t.toISOString());
  }
  return out;
}

test('every minute fires on the next whole minute, strictly after the given time', () => {
  assert.equal(next('* * * * *', '2026-11-26T10:00:00.000Z'), '2026-11-26T10:01:00.000Z');
  assert.equal(next('* * * * *', '2026-11-26T10:00:59.999Z'), '2026-11-26T10:01:00.000Z');
});

test('fixed times, steps, ranges and lists', () => {
  assert.equal(next('30 2 * * *', '2026-11-26T10:00:00Z'), '2026-11-27T02:30:00.000Z');
  assert.equal(next('30 2 * * *', '2026-11-26T01:00:00Z'), '2026-11-26T02:30:00.000Z');
  assert.deepEqual(series('*/15 * * * *', '2026-11-26T10:07:00Z', 3), ['2026-11-26T10:15:00.000Z', '2026-11-26T10:30:00.000Z', '2026-11-26T10:45:00.000Z']);
  assert.deepEqual(series('5/20 9-10 * * *', '2026-11-26T09:00:00Z', 4), ['2026-11-26T09:05:00.000Z', '2026-11-26T09:25:00.000Z', '2026-11-26T09:45:00.000Z', '2026-11-26T10:05:00.000Z']);
  assert.deepEqual(series('0 8,12-13 * * *', '2026-11-26T00:00:00Z', 4), ['2026-11-26T08:00:00.000Z', '2026-11-26T12:00:00.000Z', '2026-11-26T13:00:00.000Z', '2026-11-27T08:00:00.000Z']);
  assert.deepEqual(series('0 0-6/3 * * *', '2026-11-26T00:00:00Z', 3), ['2026-11-26T03:00:00.000Z', '2026-11-26T06:00:00.000Z', '2026-11-27T00:00:00.000Z']);
});

test('weekdays by number and name; 7 is Sunday', () => {
  // 2026-11-26 is a Thursday
  assert.equal(next('0 9 * * MON-FRI', '2026-11-27T10:00:00Z'), '2026-11-30T09:00:00.000Z');
  assert.equal(next('0 9 * * 7', '2026-11-26T10:00:00Z'), '2026-11-29T09:00:00.000Z');
  assert.equal(next('0 9 * * sun', '2026-11-26T10:00:00Z'), '2026-11-29T09:00:00.000Z');
  assert.equal(next('0 9 * * 1,3', '2026-11-26T10:00:00Z'), '2026-11-30T09:00:00.000Z');
});

test('months by name, month ends and leap days', () => {
  assert.equal(next('0 0 1 jan *', '2026-11-26T10:00:00Z'), '2027-01-01T00:00:00.000Z');
  assert.equal(next('0 0 31 * *', '2026-11-26T10:00:00Z'), '2026-12-31T00:00:00.000Z');
  assert.equal(next('0 0 29 2 *', '2026-11-26T10:00:00Z'), '2028-02-29T00:00:00.000Z');
  assert.equal(next('59 23 31 12 *', '2026-12-31T23:59:00Z'), '2027-12-31T23:59:00.000Z');
});

test('day of month and day of week both restricted: either matches (Vixie cron)', () => {
  // the 1st of the month OR any Monday
  assert.deepEqual(series('0 0 1 * MON', '2026-11-26T00:00:00Z', 3), ['2026-11-30T00:00:00.000Z', '2026-12-01T00:00:00.000Z', '2026-12-07T00:00:00.000Z']);
  // only one restricted: that one alone decides
  assert.equal(next('0 0 * * MON', '2026-11-26T00:00:00Z'), '2026-11-30T00:00:00.000Z');
  assert.equal(next('0 0 1 * *', '2026-11-26T00:00:00Z'), '2026-12-01T00:00:00.000Z');
});

test('malformed expressions are refused, naming the field', () => {
  const cases: [string, string][] = [
    ['* * * *', 'cron'],
    ['* * * * * *', 'cron'],
    ['', 'cron'],
    ['60 * * * *', 'minute'],
    ['* 24 * * *', 'hour'],
    ['* * 0 * *', 'day of month'],
    ['* * 32 * *', 'day of month'],
    ['* * * 13 *', 'month'],
    ['* * * * 8', 'day of week'],
    ['*/0 * * * *', 'minute'],
    ['5-1 * * * *', 'minute'],
    ['1,,2 * * * *', 'minute'],
    ['a * * * *', 'minute'],
    ['1/2/3 * * * *', 'minute'],
    ['-1 * * * *', 'minute'],
    ['* * * FOO *', 'month'],
  ];
  for (const [expr, field] of cases) {
    assert.throws(() => parseCron(expr), (e: unknown) => e instanceof CronError && e.field === field, `"${expr}" should fail on ${field}`);
  }
});

test('an expression that never fires is refused instead of looping', () => {
  assert.throws(() => nextRun(parseCron('0 0 30 2 *'), new Date('2026-01-01T00:00:00Z')), CronError);
});

test('whitespace is normalized in the stored source', () => {
  assert.equal(parseCron('  */5   *  * * *  ').source, '*/5 * * * *');
});
