// `switchyard/node`: the parts that need Node built-ins (kept out of the main entry so browser bundles stay clean).
export * from './index.js';
export { createProxy, type ProxyHandler } from './http/proxy.js';
export { createNodeHttpProber, type NodeHttpProberOptions } from './http/prequal-probe-node.js';
export { runDemo, type DemoOptions, type DemoSummary, type DemoPhase } from './cli/demo.js';
