// The load-balancer bridge: one switchyard policy as a grpc-js LoadBalancer (grpc-js `load-balancer.ts`;
// modelled on its round_robin: every address kept connected, a picker over the READY ones).
//
// - One subchannel per resolved address (`helper.createSubchannel`), each a member of a private Balancer
//   (balancing/balancer.ts) whose id is the address as gRPC writes it (`127.0.0.1:50051`, `[::1]:50051`), so
//   hash tables place members as gRPC's and Envoy's ring_hash do. Weights, priorities and localities come
//   from our resolvers (resolver.ts `endpointInfo`); other resolvers' addresses weigh 1.
// - Connectivity drives availability: only READY subchannels are picked (panic disabled); an IDLE one is
//   asked to connect again; a READY one leaving READY asks the resolver to re-resolve (as grpc-js does).
//   Hash policies (ring_hash, maglev, ketama, xxhash_ring) keep every member that is not in
//   TRANSIENT_FAILURE in their table, and a call whose key falls on a member still connecting waits for it
//   (gRFC A42), so a key goes where Envoy's ring_hash sends it from the first call on.
// - Outlier detection (config `outlier_detection`, health/outlier.ts): call outcomes feed the detector and an
//   ejected member is not picked; if every READY member is ejected, ejection is ignored (Envoy's panic rule:
//   better an outlier than no server).
// - The channel hears READY (with our picker) when any subchannel is READY, else CONNECTING, else
//   TRANSIENT_FAILURE carrying `switchyard <policy>: ...` and the last connection error, else IDLE.
// - A new config switches the policy in place when its options change (Balancer.setPolicy: picks in flight
//   end their in-flight count and feed no policy); an invalid config (config.ts) fails calls with UNAVAILABLE and
//   its message when there is no previous config, and is ignored (logged) when there is.
import type * as grpcJs from '@grpc/grpc-js';
import { Balancer } from '../balancing/balancer.js';
import type { BalancerStats } from '../balancing/events.js';
import type { EndpointInput } from '../util/endpoint.js';
import type { Clock } from '../util/clock.js';
import type { Random } from '../util/random.js';
import { OutlierDetector, type OutlierDetectorOptions } from '../health/outlier.js';
import { HashPolicy } from '../balancing/policies/hash.js';
import { SwitchyardLbConfig } from './config.js';
import { PickTracker, SwitchyardPicker, type PickSource } from './picker.js';
import { endpointInfo } from './resolver.js';

type Grpc = typeof grpcJs;
type Helper = grpcJs.experimental.ChannelControlHelper;
type Subchannel = grpcJs.experimental.SubchannelInterface;
type GrpcEndpoint = grpcJs.experimental.Endpoint;
type GrpcLoadBalancer = grpcJs.experimental.LoadBalancer;
type ChannelOptions = grpcJs.ChannelOptions;
type EndpointList = Parameters<GrpcLoadBalancer['updateAddressList']>[0];
type ConnectivityListener = grpcJs.experimental.ConnectivityStateListener;

/** What every bridged load balancer shares: the grpc-js module and the injected clock and randomness. */
export interface BridgeContext {
  grpc: Grpc;
  clock: Clock;
  random: Random;
  backend?: 'wasm' | 'js';
  /** Live load balancers (added on creation, removed on destroy). */
  live?: Set<{ readonly name: string; stats(): LoadBalancerStats }>;
}

export interface LoadBalancerStats {
  /** The Balancer's stats (members, availability, in-flight, picks, policy fields), null before a config. */
  balancer: BalancerStats | null;
  /** Connectivity state of each address's subchannel ('READY', 'TRANSIENT_FAILURE', ...). */
  states: Record<string, string>;
}

interface Member {
  id: string;
  subchannel: Subchannel;
  state: number;
  listener: ConnectivityListener;
}

/** A grpc-js LoadBalancer class for one registered name. */
export function loadBalancerClass(ctx: BridgeContext, lbName: string): new (helper: Helper) => GrpcLoadBalancer {
  const { grpc } = ctx;
  const S = grpc.connectivityState;
  const { subchannelAddressToString, QueuePicker, UnavailablePicker } = grpc.experimental;

  return class SwitchyardLoadBalancer implements GrpcLoadBalancer, PickSource {
    readonly clock = ctx.clock;
    private lb: Balancer | null = null;
    private config: SwitchyardLbConfig | null = null;
    private outlierKey: string | undefined;
    private detector: OutlierDetector | null = null;
    private offEjection: (() => void) | null = null;
    private readonly members = new Map<string, Member>();
    private readonly tracker = new PickTracker(this);
    private lastError: string | null = null;
    private destroyed = false;

    readonly name = lbName;

    constructor(private readonly helper: Helper) {
      ctx.live?.add(this);
    }

    get balancer(): Balancer {
      return this.lb!;
    }

    /** The Balancer's stats plus each member's connectivity state (for tests and diagnostics). */
    stats(): LoadBalancerStats {
      const states: Record<string, string> = {};
      for (const m of this.members.values()) states[m.id] = S[m.state]!;
      return { balancer: this.lb?.stats() ?? null, states };
    }

    subchannelOf(id: string): Subchannel | undefined {
      return this.members.get(id)?.subchannel;
    }

    callEnded(id: string, code: number): void {
      if (this.detector !== null && this.members.has(id)) this.detector.record(id, { ok: code === grpc.status.OK });
    }

    updateAddressList(
      list: EndpointList,
      lbConfig: grpcJs.experimental.TypedLoadBalancingConfig,
      options: ChannelOptions,
      resolutionNote: string,
    ): boolean {
      if (!(lbConfig instanceof SwitchyardLbConfig) || this.destroyed) return false;
      // true even for a bad config: grpc-js holds calls until a resolution is accepted; ours fail them instead
      if (lbConfig.error !== undefined) {
        const details = `switchyard ${lbName}: invalid load balancing config: ${lbConfig.error.message}`;
        if (this.config === null) {
          this.fail(details);
          return true;
        }
        grpc.experimental.log(grpc.logVerbosity.ERROR, `${details} (keeping the previous config)`);
      } else this.applyConfig(lbConfig);
      if (!list.ok) {
        // our resolver's details start with 'switchyard: ': one prefix, naming the policy
        const details = list.error.details.replace(/^switchyard: /, '');
        if (this.members.size === 0) this.fail(`switchyard ${lbName}: ${details}`, list.error.code);
        return true;
      }
      this.applyList(list.value, options);
      if (this.members.size === 0) {
        this.fail(`switchyard ${lbName}: no addresses resolved${resolutionNote ? ` (${resolutionNote})` : ''}`);
        return true;
      }
      this.refresh();
      return true;
    }

    exitIdle(): void {
      for (const m of this.members.values()) if (m.state === S.IDLE) m.subchannel.startConnecting();
    }

    resetBackoff(): void {
      // subchannels own their connection back-off
    }

    destroy(): void {
      if (this.destroyed) return;
      this.destroyed = true;
      ctx.live?.delete(this);
      for (const m of [...this.members.values()]) this.drop(m);
      this.tracker.clear();
      this.offEjection?.();
      this.detector?.stop();
      this.lb?.close();
    }

    getTypeName(): string {
      return lbName;
    }

    private applyConfig(c: SwitchyardLbConfig): void {
      if (this.lb === null) {
        this.lb = new Balancer({
          policy: c.createPolicy(),
          clock: ctx.clock,
          random: ctx.random,
          panicThresholdPercent: 0,
          measureRtt: false, // RTTs are measured from onCallStarted (picker.ts)
          target: lbName,
          ...(ctx.backend !== undefined && { backend: ctx.backend }),
        });
      } else if (this.config !== null && this.config.policyKey !== c.policyKey) this.lb.setPolicy(c.createPolicy());
      const ok = JSON.stringify(c.outlier ?? null);
      if (ok !== this.outlierKey) {
        this.outlierKey = ok;
        this.offEjection?.();
        this.detector?.stop();
        this.detector = c.outlier === undefined ? null : this.newDetector(c.outlier);
      }
      this.config = c;
    }

    private newDetector(o: OutlierDetectorOptions): OutlierDetector {
      const d = new OutlierDetector({ ...o, clock: ctx.clock, random: ctx.random });
      for (const id of this.members.keys()) d.add(id);
      this.offEjection = d.on('ejection', () => this.refresh());
      d.start();
      return d;
    }

    private applyList(endpoints: readonly GrpcEndpoint[], options: ChannelOptions): void {
      const next = new Map<string, { address: grpcJs.experimental.SubchannelAddress; input: EndpointInput }>();
      for (const e of endpoints) {
        const ours = endpointInfo(e);
        for (const address of e.addresses) {
          const id = subchannelAddressToString(address);
          const input: EndpointInput =
            'port' in address
              ? {
                  id,
                  host: address.host,
                  port: address.port,
                  ...(ours !== undefined && {
                    weight: ours.weight,
                    priority: ours.priority,
                    metadata: ours.metadata,
                    ...(ours.locality !== undefined && { locality: ours.locality }),
                  }),
                }
              : { id };
          next.set(id, { address, input });
        }
      }
      for (const m of [...this.members.values()]) if (!next.has(m.id)) this.drop(m);
      for (const [id, n] of next) {
        if (this.members.has(id)) continue;
        const subchannel = this.helper.createSubchannel(n.address, options);
        const m: Member = { id, subchannel, state: subchannel.getConnectivityState(), listener: () => {} };
        m.listener = (_sc, prev, state, _keepalive, errorMessage) => {
          if (this.destroyed || this.members.get(id) !== m) return;
          m.state = state;
          if (state === S.TRANSIENT_FAILURE && errorMessage) this.lastError = `${id}: ${errorMessage}`;
          if (prev === S.READY && state !== S.READY) this.helper.requestReresolution();
          this.refresh();
        };
        subchannel.ref();
        subchannel.addConnectivityStateListener(m.listener);
        this.helper.addChannelzChild(subchannel.getChannelzRef());
        this.members.set(id, m);
        this.detector?.add(id);
      }
      this.lb!.reset([...next.values()].map((n) => n.input));
    }

    private drop(m: Member): void {
      m.subchannel.removeConnectivityStateListener(m.listener);
      this.helper.removeChannelzChild(m.subchannel.getChannelzRef());
      m.subchannel.unref();
      this.members.delete(m.id);
      this.detector?.remove(m.id);
    }

    /** Availability from connectivity and ejection, then the aggregate state to the channel. */
    private refresh(): void {
      const lb = this.lb;
      if (this.destroyed || lb === null) return;
      const d = this.detector;
      let ready = 0;
      let readyKept = 0;
      let connecting = 0;
      let failed = 0;
      for (const m of this.members.values()) {
        if (m.state === S.READY) {
          ready++;
          if (d === null || !d.isEjected(m.id)) readyKept++;
        } else if (m.state === S.CONNECTING) connecting++;
        else if (m.state === S.TRANSIENT_FAILURE) failed++;
      }
      // hash policies keep a connecting member on the ring (its keys wait for it, gRFC A42); others pick READY ones
      const hashing = lb.policy instanceof HashPolicy;
      for (const m of this.members.values()) {
        const ejected = d !== null && readyKept > 0 && d.isEjected(m.id);
        const available = (hashing ? m.state !== S.TRANSIENT_FAILURE : m.state === S.READY) && !ejected;
        lb.setAvailable(m.id, available, available ? undefined : ejected ? 'outlier: ejected' : S[m.state]);
      }
      if (ready > 0) {
        this.helper.updateState(S.READY, new SwitchyardPicker(this.tracker, this.config?.hashHeader), null);
      } else if (connecting > 0) {
        this.helper.updateState(S.CONNECTING, new QueuePicker(this), null);
      } else if (failed > 0) {
        this.fail(
          `switchyard ${lbName}: no connection established (${failed} of ${this.members.size} in TRANSIENT_FAILURE)` +
            `${this.lastError === null ? '' : `. Last error: ${this.lastError}`}`,
        );
      } else this.helper.updateState(S.IDLE, new QueuePicker(this), null);
      for (const m of this.members.values()) if (m.state === S.IDLE) m.subchannel.startConnecting();
    }

    private fail(details: string, code: number = grpc.status.UNAVAILABLE): void {
      this.helper.updateState(S.TRANSIENT_FAILURE, new UnavailablePicker({ code, details }), details);
    }
  };
}
