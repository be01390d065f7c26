// How error messages show the value they refuse (bindings/util/validate.ts `describe`): a plain object or array
// as JSON (it read `[object Object]`), strings quoted, at most 40 characters; other objects by their tag.
import test from 'ava';
import { describe } from '../../bindings/util/validate.js';
import * as lite from '../../bindings/lite.js';

test('describe: plain objects and arrays as JSON, truncated; cycles, bigints and class instances by their tag', (t) => {
  t.is(describe({ region: 'us', zone: 'a' }), '{"region":"us","zone":"a"}');
  t.is(describe([1, 'x']), '[1,"x"]');
  t.is(describe(Object.create(null)), '{}');
  t.is(describe({ k: 'x'.repeat(60) }), `${'{"k":"' + 'x'.repeat(34)}…`);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.is(describe(cyclic), '[object Object]');
  t.is(describe({ n: 1n }), '[object Object]');
  t.is(describe(new Map()), '[object Map]');
  t.is(describe(new Uint8Array(2)), '[object Uint8Array]');
  t.is(describe('a'.repeat(50)), JSON.stringify(`${'a'.repeat(40)}…`));
  t.is(describe(5n), '5n');
  t.is(describe(undefined), 'undefined');
});

test('a locality given as a string to a lite Balancer without priority routing: the message shows it', (t) => {
  const lb = new lite.Balancer({ endpoints: ['a:80'] });
  t.throws(() => lb.add({ id: 'c:80', locality: 'us/a' }), {
    instanceOf: TypeError,
    message:
      /^endpoint\.locality must be absent without priority routing .*, got {"region":"us","zone":"a","subZone":""}$/,
  });
});
