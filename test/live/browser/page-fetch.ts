// Runs in the page: createFetch over a Balancer whose members come from the page's query string, sending
// requests one after another and counting answers per backend and failures.
import { Balancer } from '../../../bindings/balancing/balancer.js';
import { backend } from '../../../bindings/core/backend.js';
import { createFetch } from '../../../bindings/http/fetch.js';

declare global {
  interface Window {
    __progress?: {
      done: number;
      failed: number;
      cutFrom: string[];
      errors: string[];
      served: Record<string, number>;
      after: Record<string, number>;
      killed: boolean;
    };
    __kill?: () => void;
  }
}

const ports = (new URLSearchParams(location.search).get('ports') ?? '').split(',').map(Number);
const total = Number(new URLSearchParams(location.search).get('n') ?? '300');
const balancer = new Balancer({
  policy: 'round_robin',
  endpoints: ports.map((port, i) => ({ id: `b${i}`, host: '127.0.0.1', port })),
});
const f = createFetch({
  balancer,
  perTryTimeoutMs: 2000,
  retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 },
  retryThrottling: false,
});
const progress = {
  done: 0,
  failed: 0,
  cutFrom: [] as string[],
  errors: [] as string[],
  served: {} as Record<string, number>,
  after: {} as Record<string, number>,
  killed: false,
  backend: backend(),
};
window.__progress = progress;
window.__kill = () => {
  progress.killed = true;
};
void (async () => {
  for (let i = 0; i < total; i++) {
    let res: Response | undefined;
    const sentAfterKill = progress.killed; // counted by when the request started: b was closed by then
    try {
      res = await f(`/page/${i}`);
      const who = await res.text();
      if (res.ok) {
        progress.served[who] = (progress.served[who] ?? 0) + 1;
        if (sentAfterKill) progress.after[who] = (progress.after[who] ?? 0) + 1;
      } else {
        progress.failed++;
        progress.errors.push(`request ${i}: status ${res.status}`);
      }
    } catch (err) {
      // the wrapper failed (res undefined), or a response it returned lost its body afterwards (committed)
      if (res === undefined) progress.failed++;
      else progress.cutFrom.push(res.url);
      progress.errors.push(`request ${i}: ${res === undefined ? 'fetch' : `body of a ${res.status}`}: ${String(err)}`);
    }
    progress.done++;
  }
})();
