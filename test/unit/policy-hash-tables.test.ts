// maglev and ketama as Balancer policies: a keyed pick lands on the member the table names; excluding it walks
// the table's preference order; an unavailable member's keys move and come back.
import test from 'ava';
import { Balancer } from '../../bindings/balancing/balancer.js';
import { KetamaRing } from '../../bindings/hashing/ketama/ketama.js';
import { Maglev } from '../../bindings/hashing/envoy/maglev.js';

const ids = ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211', '10.0.0.4:11211'];
const keys = Array.from({ length: 500 }, (_, i) => `user:${i}`);

for (const [name, policy, table] of [
  ['maglev', { maglev: { table_size: 251 } }, new Maglev(ids, { tableSize: 251 })],
  ['ketama', { name: 'ketama', compat: 'libmemcached' }, new KetamaRing(ids, { compat: 'libmemcached' })],
] as const) {
  test(`${name}: keyed picks follow the table, retries follow its preference, unavailability moves keys`, (t) => {
    const b = new Balancer({ policy, endpoints: ids });
    t.is(b.stats().policy, name);
    for (const k of keys) {
      const p = b.pick({ key: k });
      if (p.type !== 'pick') return t.fail();
      t.is(p.member.id, table.get(k)!);
      p.handle.done({ ok: true });
      const second = b.pick({ key: k, exclude: new Set([p.member.id]) });
      if (second.type !== 'pick') return t.fail();
      t.is(second.member.id, table.preference(k, 2)[1]!);
      second.handle.done({ ok: true });
    }
    b.setAvailable(ids[0]!, false);
    const moved = keys.filter((k) => table.get(k) === ids[0]);
    for (const k of moved) {
      const p = b.pick({ key: k });
      t.true(p.type === 'pick' && p.member.id !== ids[0]);
    }
    b.setAvailable(ids[0]!, true);
    for (const k of moved) {
      const p = b.pick({ key: k });
      t.true(p.type === 'pick' && p.member.id === ids[0]);
    }
  });
}

test('bad options name the field', (t) => {
  t.throws(() => new Balancer({ policy: { maglev: { table_size: 100 } } }), {
    instanceOf: RangeError,
    message: /tableSize.*100/,
  });
  t.throws(() => new Balancer({ policy: { maglev: { bogus: 1 } } }), {
    instanceOf: RangeError,
    message: /maglev\.bogus/,
  });
  t.throws(() => new Balancer({ policy: { ketama: { compat: 'nope' } } }), {
    instanceOf: RangeError,
    message: /ketama\.compat.*nope/,
  });
});
