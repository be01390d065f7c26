// Each example runs against the real servers it starts, and its results are checked (uses the built package:
// the examples import 'switchyard' as users do).
import { run as memcachedKetama } from '../../examples/memcached-ketama.js';
import { run as redisSharding } from '../../examples/redis-sharding.js';
import { live } from '../helpers/live.js';

const test = live(['memcached', 'nutcracker', 'redis-server'], import.meta.url);

test('redis sharding: adding a 4th server moves about 1/4 of keys (modulo ~3/4), all to it; none misplaced', async (t) => {
  const r = await redisSharding(8000, () => {});
  t.is(r.keys, 8000);
  t.true(r.ringMoved / r.keys > 0.17 && r.ringMoved / r.keys < 0.33, `ring moved ${r.ringMoved}`);
  t.true(r.moduloMoved / r.keys > 0.7 && r.moduloMoved / r.keys < 0.8, `modulo moved ${r.moduloMoved}`);
  t.is(Object.keys(r.plan).length, 3);
  const newcomer = Object.keys(r.perServer)[3]!;
  t.true(Object.keys(r.plan).every((step) => step.endsWith(`-> ${newcomer}`)));
  t.is(r.perServer[newcomer], r.ringMoved);
  t.is(
    Object.values(r.perServer).reduce((s, n) => s + n, 0),
    8000,
  );
  t.is(r.misplaced, 0);
});

test('memcached ketama: keys stored via twemproxy and the memcached npm client are where KetamaRing says', async (t) => {
  const r = await memcachedKetama(1500, () => {});
  t.deepEqual(r.twemproxy, { onNamedServer: 1500, elsewhere: 0 });
  t.deepEqual(r.npmClient, { onNamedServer: 1500, elsewhere: 0 });
  t.true(Object.values(r.perServer).every((n) => n > 300));
  // a multi-get grouped by group(): every key found on the server its group names
  t.deepEqual(r.multiGet, { found: 1500, perServer: r.perServer });
});
