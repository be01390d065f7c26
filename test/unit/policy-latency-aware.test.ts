// latency_aware's score tree (bindings/balancing/policies/latency-aware.ts): changes its hooks did not see are
// read by the watch list (members with picks in flight when the picker was built) and by the slow sweep.
import test from 'ava';
import fc from 'fast-check';
import { Balancer, VirtualClock } from '../../bindings/index.js';
import { COL_AVG_RTT } from '../../bindings/balancing/picker.js';
import {
  LatencyAwarePolicy,
  latencyAwareScanTs,
  parseLatencyAware,
  SWEEP_EVERY,
  TREE_MIN_MEMBERS,
} from '../../bindings/balancing/policies/latency-aware.js';

const c = parseLatencyAware({});
const scan = (lb: Balancer, n: number, start: number, mask: Uint8Array | null = null) =>
  latencyAwareScanTs(
    lb.table.f,
    lb.table.cap,
    Int32Array.from({ length: n }, (_, i) => i),
    n,
    mask,
    start,
    c,
  );

test('latency_aware: a sample written behind the hooks is read within SWEEP_EVERY passes', (t) => {
  // a sample lands in m0's fresh row behind the hooks (nothing in flight there when the picker was built, so it
  // is not watched); the Balancer itself no longer writes one there: a pick of m0 from before m0 was removed and
  // re-added is ignored (the new m0 is another member), so the test writes it
  const n = 20;
  const a = new LatencyAwarePolicy();
  const lb = new Balancer({
    policy: a,
    endpoints: Array.from({ length: n }, (_, i) => `m${i}:1`),
    clock: new VirtualClock(),
  });
  const old = lb.pickOrThrow();
  t.is(old.member.id, 'm0:1');
  lb.setPolicy(new LatencyAwarePolicy());
  lb.remove('m0:1');
  lb.add('m0:1'); // row n - 1
  for (let r = 0; r < n; r++) lb.completeIndex(r, true, r === n - 1 ? 400 : 300);
  const first = lb.pickOrThrow(); // the picker reads those scores
  first.handle.done({ ok: true, rttMs: 300 });
  let start = (first.index + 1) % n; // a scan starts after the member picked last
  old.handle.done({ ok: true, rttMs: 1 });
  t.is(lb.table.get(COL_AVG_RTT, n - 1), 400, "the old m0's completion is not the new m0's");
  lb.table.set(COL_AVG_RTT, n - 1, 200.5); // m0: 400 -> 200.5 ms, behind the hooks
  const late: boolean[] = [];
  for (let i = 1; i <= (SWEEP_EVERY + 1) * n; i++) {
    const want = scan(lb, n, start);
    const p = lb.pickOrThrow();
    start = (p.index + 1) % n;
    if (i > SWEEP_EVERY * n) late.push(p.index === want);
    p.handle.done({ ok: true, rttMs: 300 });
  }
  t.deepEqual(
    late,
    late.map(() => true),
  );
});

test('latency_aware: the score tree = scan once the picks in flight at a rebuild or a policy switch completed', (t) => {
  // round robin's picks stay open across the switch and complete (behind latency_aware's hooks) while members
  // come and go (pickers rebuilt, rows with picks in flight watched); two passes after the last of them, every
  // pick is the scan's
  fc.assert(
    fc.property(
      fc.integer({ min: TREE_MIN_MEMBERS, max: 120 }),
      fc.array(fc.record({ done: fc.nat(3), rtt: fc.integer({ min: 0, max: 20 }), churn: fc.nat(30) }), {
        minLength: 1,
        maxLength: 200,
      }),
      fc.constantFrom('js' as const, 'wasm' as const),
      (n, steps, backend) => {
        const ids = Array.from({ length: n + 1 }, (_, i) => `m${i}:1`);
        const lb = new Balancer({
          policy: 'round_robin',
          backend,
          endpoints: ids.slice(0, n),
          clock: new VirtualClock(),
        });
        const foreign = Array.from({ length: 2 * n }, () => lb.pickOrThrow());
        lb.setPolicy('latency_aware');
        const open: { handle: { done(o: { ok: boolean; rttMs?: number }): void } }[] = [];
        let start = 0; // a scan starts after the member picked last (at 0 in a new picker)
        let extra = false;
        const step = (s: (typeof steps)[number], check: boolean, retry = true): boolean => {
          if (s.churn === 0) {
            // membership change: the picker is rebuilt; the last member comes and goes
            if (extra) lb.remove(ids[n]!);
            else lb.add(ids[n]!);
            extra = !extra;
            start = 0;
          }
          const m = n + (extra ? 1 : 0);
          // every fifth pick a retry: one member excluded (the scan path, which marks its pick too)
          const ex = retry && s.rtt % 5 === 0 ? s.churn % m : -1;
          const mask = ex < 0 ? null : Uint8Array.from({ length: m }, (_, r) => +(r === ex));
          const want = scan(lb, m, start, mask);
          const p = lb.pickOrThrow(ex < 0 ? undefined : { exclude: new Set([ids[ex]!]) });
          start = (p.index + 1) % m;
          open.push(p);
          // complete 0..3 picks: latency_aware's from a varying place, round robin's (if not checking) in turn
          for (let k = 0; k < s.done; k++) {
            if (!check && foreign.length > 0 && (s.churn + k) % 2 === 0) foreign.pop()!.handle.done({ ok: true });
            else if (open.length > 0)
              open.splice((s.churn * 7) % open.length, 1)[0]!.handle.done({ ok: true, rttMs: s.rtt });
          }
          return !check || p.index === want;
        };
        for (const s of steps) step(s, false);
        for (const p of foreign) p.handle.done({ ok: true });
        const calm = steps.map((s) => ({ ...s, churn: 1 + s.churn })); // no rebuild from here on
        // two passes, without retries (a retry scans: it re-reads nothing)
        for (let i = 0; i < 2 * (n + 1); i++) step(calm[i % calm.length]!, false, false);
        const ok = calm.every((s) => step(s, true));
        lb.close();
        return ok;
      },
    ),
    { numRuns: Number(process.env.LA_FC_RUNS ?? 100) },
  );
  t.pass();
});

test('latency_aware: members of equal score take turns, also past a slower or unavailable member (4 and 40 members)', (t) => {
  for (const n of [4, 40]) {
    const ids = Array.from({ length: n }, (_, i) => `m${i}`);
    const lb = new Balancer({ policy: 'latency_aware', endpoints: ids, clock: new VirtualClock() });
    const count = new Map<string, number>();
    for (let i = 0; i < 100 * n; i++) {
      const p = lb.pickOrThrow();
      count.set(p.member.id, (count.get(p.member.id) ?? 0) + 1);
      p.handle.done({ ok: true, rttMs: p.member.id === 'm1' ? 50 : 5 });
    }
    const fast = ids.filter((id) => id !== 'm1').map((id) => count.get(id) ?? 0);
    t.true(Math.max(...fast) - Math.min(...fast) <= 2, `${n}: ${JSON.stringify([...count])}`);
    lb.setAvailable('m2', false);
    const after = new Map<string, number>();
    for (let i = 0; i < 100 * (n - 2); i++) {
      const p = lb.pickOrThrow();
      after.set(p.member.id, (after.get(p.member.id) ?? 0) + 1);
      p.handle.done({ ok: true, rttMs: p.member.id === 'm1' ? 50 : 5 });
    }
    const rest = ids.filter((id) => id !== 'm1' && id !== 'm2').map((id) => after.get(id) ?? 0);
    t.true(Math.max(...rest) - Math.min(...rest) <= 2, `${n} with m2 out: ${JSON.stringify([...after])}`);
    lb.close();
  }
});
