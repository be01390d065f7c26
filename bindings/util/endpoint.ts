// An endpoint as resolvers report it and the Balancer holds it. `id` is the identity used for diffs
// (by default `host:port`); two endpoints with the same id are the same member.

export interface Endpoint {
  id: string;
  host: string;
  port: number;
  /** Relative weight, finite and > 0 (default 1). */
  weight: number;
  /** Lower is preferred (SRV priority, locality); default 0. */
  priority: number;
  metadata: Readonly<Record<string, unknown>>;
}

export type EndpointInput = string | (Partial<Endpoint> & ({ id: string } | { host: string; port: number }));
