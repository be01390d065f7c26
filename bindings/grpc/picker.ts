// The grpc-js picker of a bridged policy (grpc-js `picker.ts`: `pick(args)` returns COMPLETE with a
// subchannel and the `onCallStarted` / `onCallEnded` hooks, or QUEUE): a pick asks our Balancer, with the
// call's hash key when the config names a `request_hash_header`, and maps the member to its subchannel.
//
// Completion (tower's "a pick returns a handle whose completion records the latency"): the call's RTT runs
// from `onCallStarted` (the stream was created on the subchannel) to `onCallEnded`, and ends the pick handle
// with `{ ok: status === OK, rttMs, status }`, `status` being the HTTP equivalent of the gRPC code
// (google.rpc.Code's documented mapping: UNAVAILABLE → 503, DEADLINE_EXCEEDED → 504, ...). That feeds
// in-flight counts, Peak-EWMA, latency-aware scores and the outlier detector (gRFC A50 counts every non-OK
// status as a failure).
//
// A pick counts as in flight from the pick (so the picks of one burst see each other: least-request, Peak-EWMA's
// pending load, bounded loads). grpc-js may drop a COMPLETE pick without starting the call (the call was
// cancelled or timed out while call credentials were generated; the subchannel left READY meanwhile, so it
// picks again), and then calls neither hook. A pick not started within UNSTARTED_PICK_TIMEOUT_MS is released
// by a background timer on the injected clock, whether or not more picks follow: `handle.cancel()`, so only
// the in-flight count moves (no RTT, outcome or failure). A call starting after its pick was released is not
// counted in flight and feeds no RTT; its status still reaches the outlier detector.
import type * as grpcJs from '@grpc/grpc-js';
import type { Balancer } from '../balancing/balancer.js';
import type { PickHandle } from '../balancing/events.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { hashKeyFromMetadata } from './metadata-key.js';

type GrpcPicker = grpcJs.experimental.Picker;
type PickArgs = grpcJs.experimental.PickArgs;
type PickResult = grpcJs.experimental.PickResult;
type Subchannel = grpcJs.experimental.SubchannelInterface;

/** How long a picked call may take to start before its pick is released (credentials plugins run first). */
export const UNSTARTED_PICK_TIMEOUT_MS = 2_000;

/** HTTP equivalents of gRPC status codes 0-16 (google.rpc.Code). */
const HTTP_OF_GRPC = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

/** The HTTP status google.rpc.Code maps a gRPC status code to (500 for codes outside 0-16). */
export function httpStatusOf(code: number): number {
  return HTTP_OF_GRPC[code] ?? 500;
}

/** What the picker needs from its load balancer. */
export interface PickSource {
  readonly balancer: Balancer;
  readonly clock: Clock;
  /** The subchannel of a member, by id. */
  subchannelOf(id: string): Subchannel | undefined;
  /** A call on member `id` ended with gRPC status `code` (for the outlier detector). */
  callEnded(id: string, code: number): void;
}

/** One call's pick: started / ended hooks and the pick handle. */
class CallPick {
  startedAt = NaN;
  /** Released unstarted by the tracker (its handle cancelled). */
  released = false;
  ended = false;
  constructor(
    readonly id: string,
    readonly handle: PickHandle,
    readonly pickedAt: number,
    private readonly owner: PickTracker,
  ) {}

  readonly onCallStarted = (): void => {
    this.owner.unstarted.delete(this);
    this.startedAt = this.owner.source.clock.now();
  };

  readonly onCallEnded = (code: number): void => {
    if (this.ended || this.owner.closed) return;
    this.ended = true;
    this.owner.unstarted.delete(this);
    if (!this.released) {
      const now = this.owner.source.clock.now();
      const rttMs = this.startedAt === this.startedAt ? Math.max(0, now - this.startedAt) : undefined;
      const ok = code === 0;
      this.handle.done(
        rttMs === undefined ? { ok, status: httpStatusOf(code) } : { ok, rttMs, status: httpStatusOf(code) },
      );
    }
    this.owner.source.callEnded(this.id, code);
  };
}

/** Picks not yet started, in pick order; a timer releases them UNSTARTED_PICK_TIMEOUT_MS after their pick. */
export class PickTracker {
  readonly unstarted = new Set<CallPick>();
  /** Set by clear(): the Balancer is closed, later completions are dropped. */
  closed = false;
  private timer: TimerHandle | undefined;
  constructor(readonly source: PickSource) {}

  track(id: string, handle: PickHandle, now: number): CallPick {
    const p = new CallPick(id, handle, now, this);
    this.unstarted.add(p);
    if (this.timer === undefined) this.arm(UNSTARTED_PICK_TIMEOUT_MS);
    return p;
  }

  private arm(ms: number): void {
    this.timer = this.source.clock.setTimeout(this.onTimer, ms, { background: true });
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (this.closed) return;
    const now = this.source.clock.now();
    this.sweep(now);
    for (const p of this.unstarted) {
      this.arm(p.pickedAt + UNSTARTED_PICK_TIMEOUT_MS - now);
      break;
    }
  };

  /** Releases the picks older than the timeout (the in-flight count only). */
  sweep(now: number): void {
    for (const p of this.unstarted) {
      if (now - p.pickedAt < UNSTARTED_PICK_TIMEOUT_MS) break;
      this.unstarted.delete(p);
      p.released = true;
      p.handle.cancel();
    }
  }

  /** Releases every unstarted pick and stops the timer (the load balancer is destroyed). */
  clear(): void {
    this.closed = true;
    if (this.timer !== undefined) this.source.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const p of this.unstarted) {
      p.released = true;
      p.handle.cancel();
    }
    this.unstarted.clear();
  }
}

/** grpc-js ConnectivityState.READY. */
const READY = 2;

const QUEUE: PickResult = Object.freeze({
  pickResultType: 1, // PickResultType.QUEUE
  subchannel: null,
  status: null,
  onCallStarted: null,
  onCallEnded: null,
});

/** The picker handed to grpc-js while the load balancer is READY. */
export class SwitchyardPicker implements GrpcPicker {
  constructor(
    private readonly tracker: PickTracker,
    /** The metadata key holding the hash key (`request_hash_header`), or undefined. */
    private readonly hashHeader: string | undefined,
  ) {}

  pick(args: PickArgs): PickResult {
    const src = this.tracker.source;
    const now = src.clock.now();
    const key = this.hashHeader === undefined ? undefined : hashKeyFromMetadata(args.metadata, this.hashHeader);
    const r = src.balancer.pick(key === undefined ? undefined : { key });
    if (r.type === 'none') return QUEUE; // a state change is on its way: grpc-js picks again with the next picker
    const subchannel = src.subchannelOf(r.member.id);
    if (subchannel === undefined || subchannel.getConnectivityState() !== READY) {
      // a hash policy's member still connecting (load-balancer.ts): wait for its state change
      r.handle.cancel();
      return QUEUE;
    }
    const p = this.tracker.track(r.member.id, r.handle, now);
    return {
      pickResultType: 0, // PickResultType.COMPLETE
      subchannel,
      status: null,
      onCallStarted: p.onCallStarted,
      onCallEnded: p.onCallEnded,
    };
  }
}
