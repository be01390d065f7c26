// The retry budget's defaults (bindings/http/retry.ts RetryThrottle): gRPC's token bucket, with maxTokens 100 and
// tokenRatio 0.25, so that retries flow while fewer than 20 % of tries fail and a burst of 49 failures from
// full is still retried; past either, retries stop (no retry storm in an outage).
import test from 'ava';
import { RetryThrottle } from '../../bindings/index.js';

test('defaults: 100 tokens, 0.25 back per success', (t) => {
  const b = new RetryThrottle();
  t.is(b.maxTokens, 100);
  t.is(b.tokenRatio, 0.25);
  t.is(b.tokenCount, 100);
});

test('a burst of 49 failures from full is still retried, the 50th is not', (t) => {
  const b = new RetryThrottle();
  for (let i = 0; i < 49; i++) b.onFailure();
  t.true(b.allowRetry());
  b.onFailure();
  t.false(b.allowRetry(), 'tokens = maxTokens / 2 is not above half');
});

test('the boundary is 20 % of tries failing: 1 in 6 never stops retries, 1 in 4 does', (t) => {
  const steady = (every: number, tries: number) => {
    const b = new RetryThrottle();
    for (let i = 1; i <= tries; i++) {
      if (i % every === 0) b.onFailure();
      else b.onSuccess();
      if (!b.allowRetry()) return i;
    }
    return -1;
  };
  t.is(steady(6, 100_000), -1); // 16.7 %: the bucket drifts back to full
  t.is(steady(5, 100_000), -1); // exactly 20 %: 4 × 0.25 = 1 back per failure, never below 99
  const cut = steady(4, 100_000); // 25 %: -1 + 3 × 0.25 = -0.25 per 4 tries
  t.true(cut > 0 && cut <= 4 * 200 + 4, `cut at try ${cut}`);
});

test('in an outage retries stop, and come back only with successes', (t) => {
  const b = new RetryThrottle();
  let retried = 0;
  for (let i = 0; i < 1000; i++) {
    b.onFailure();
    if (b.allowRetry()) retried++;
  }
  t.is(retried, 49);
  t.is(b.tokenCount, 0);
  for (let i = 0; i < 200; i++) b.onSuccess();
  t.false(b.allowRetry(), '50 tokens after 200 successes: not above half');
  b.onSuccess();
  t.true(b.allowRetry());
});
