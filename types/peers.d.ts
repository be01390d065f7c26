// Minimal declarations for the npm peers we benchmark and test against (they ship no types).
declare module 'hashring' {
  type Servers = string | string[] | Record<string, number | { weight?: number; vnodes?: number }>;
  class HashRing {
    constructor(servers?: Servers, algorithm?: string, options?: Record<string, unknown>);
    get(key: string): string;
    range(key: string, size?: number, unique?: boolean): string[];
    add(servers: Servers): this;
    remove(server: string): this;
  }
  export = HashRing;
}

declare module 'consistent-hash' {
  class ConsistentHash {
    constructor(options?: { range?: number; weight?: number; distribution?: 'random' | 'uniform' });
    add(node: string, weight?: number, points?: number[]): this;
    remove(node: string): this;
    get(name: string, count?: number): string | string[] | null;
  }
  export = ConsistentHash;
}
