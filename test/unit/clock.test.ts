import test from 'ava';
import { MAX_TIMER_MS, systemClock, VirtualClock } from '../../bindings/util/clock.js';

test('VirtualClock: a delay over MAX_TIMER_MS (Infinity too) fires at MAX_TIMER_MS; NaN and negatives at once', (t) => {
  const c = new VirtualClock(0);
  const fired: [string, number][] = [];
  for (const [name, ms] of [
    ['3e9', 3e9],
    ['Infinity', Infinity],
    ['max', MAX_TIMER_MS],
    ['max-1', MAX_TIMER_MS - 1],
    ['NaN', NaN],
    ['-5', -5],
  ] as const)
    c.setTimeout(() => fired.push([name, c.now()]), ms);
  c.tick(0);
  t.deepEqual(fired, [
    ['NaN', 0],
    ['-5', 0],
  ]);
  c.tick(MAX_TIMER_MS - 2);
  t.is(fired.length, 2);
  c.tick(1);
  t.deepEqual(fired.slice(2), [['max-1', MAX_TIMER_MS - 1]]);
  c.tick(1);
  t.deepEqual(fired.slice(3), [
    ['3e9', MAX_TIMER_MS],
    ['Infinity', MAX_TIMER_MS],
    ['max', MAX_TIMER_MS],
  ]);
});

test("systemClock: a delay over setTimeout's limit does not fire at once (the global timer would), and warns nothing", async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  let fired = 0;
  const handles = [3e9, Infinity].map((ms) => systemClock.setTimeout(() => fired++, ms, { background: true }));
  let early = 0;
  const control = systemClock.setTimeout(() => early++, 1);
  await new Promise((res) => setTimeout(res, 60));
  handles.forEach((h) => systemClock.clearTimeout(h));
  systemClock.clearTimeout(control);
  process.off('warning', onWarning);
  t.is(early, 1);
  t.is(fired, 0);
  t.deepEqual(warnings, []);
});
