// A resolver listener that records what it is told: every list and every error, in order.
import type { Endpoint } from '../../bindings/util/endpoint.js';
import type { ResolverListener } from '../../bindings/discovery/resolver.js';

export interface Recorder {
  lists: Endpoint[][];
  errors: Error[];
  listener: ResolverListener;
  /** The ids of list `i` (default the last), in reported order or sorted; [] when there is none. */
  ids(i?: number): string[];
}

export function recorder(options: { sortIds?: boolean } = {}): Recorder {
  const lists: Endpoint[][] = [];
  const errors: Error[] = [];
  return {
    lists,
    errors,
    listener: { onEndpoints: (l) => lists.push(l), onError: (e) => errors.push(e) },
    ids(i = lists.length - 1) {
      const ids = (lists[i] ?? []).map((e) => e.id);
      return options.sortIds === true ? ids.sort() : ids;
    },
  };
}
