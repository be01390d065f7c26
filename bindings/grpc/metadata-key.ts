// The request hash key of a gRPC call, read from its metadata (gRFC A76 "Improvements to the ring hash LB
// policy": `request_hash_header` in the ring_hash config names the metadata key whose value is hashed).
//
// - The header name is a lowercase ASCII metadata key; a binary header (`-bin` suffix) is rejected, as A76
//   rejects such a config.
// - Several values of the key are joined with ',' (as HTTP/2 folds repeated headers and A76 specifies).
// - No value: no key. The hash policies then pick at random (A76: a random hash), as Envoy's ring_hash does
//   for a request without a hash.
// The key reaches the policy as `PickContext.key`; our ring_hash hashes it as Envoy hashes a header value
// (xxHash64, seed 0, of the UTF-8 bytes; balancing/policies/hash-tables.ts), so a key lands on the member
// Envoy's `hash_policy: [{ header: { header_name } }]` routes it to, for the same hosts.
//
//   const key = hashKeyFromMetadata(metadata, 'x-user-id'); // 'u-42', or undefined
import { rangeError, typeError } from '../util/validate.js';

/** What the key extraction reads of grpc-js's `Metadata`. */
export interface MetadataLike {
  get(key: string): (string | Buffer)[];
}

const HEADER_RE = /^[0-9a-z_.-]+$/;

/** Validates a `request_hash_header` value; returns it lowercased. Throws a TypeError/RangeError naming `field`. */
export function parseHashHeader(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw typeError(field, 'a non-empty metadata key', v);
  const h = v.toLowerCase();
  if (!HEADER_RE.test(h)) throw rangeError(field, 'a metadata key of [0-9a-z_.-]', v);
  if (h.endsWith('-bin')) throw rangeError(field, 'a text metadata key (not a -bin one, gRFC A76)', v);
  return h;
}

/** The call's hash key: the values of `header` joined with ',', or undefined when the call has none. */
export function hashKeyFromMetadata(metadata: MetadataLike, header: string): string | undefined {
  const values = metadata.get(header);
  if (values.length === 0) return undefined;
  if (values.length === 1) {
    const v = values[0]!;
    return typeof v === 'string' ? v : v.toString('utf8');
  }
  return values.map((v) => (typeof v === 'string' ? v : v.toString('utf8'))).join(',');
}
