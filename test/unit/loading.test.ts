// Loading: nothing compiles at import time; init(source) accepts a Module, bytes, a URL and a Response and is
// memoized; initSync works; the ring-batch module; without WebAssembly the pure-TS backend is used and routes
// identically; a module that is not this version's switchyard/wasm (by its build id) is refused. Each case runs
// in a fresh Node process (plain node on the built dist/, as users load it) so module state starts clean.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { HashRing, Maglev } from '../../bindings/index.js';
import { WASM_BUILD_ID, WASM_ID_SECTION } from '../../bindings/core/wasm-id.generated.js';

const root = resolve(import.meta.dirname, '../..');
const wasmPath = resolve(root, 'build/switchyard.wasm');
const expected = ['k1', 'k2', 'k3', 'user:42'].map((k) => new HashRing(['a', 'b', 'c']).get(k)).join(',');

function run(script: string, env: Record<string, string> = {}): Record<string, unknown> {
  const code = `
    const compiled = [];
    const M = WebAssembly.Module, C = WebAssembly.compile;
    WebAssembly.Module = function (b) { compiled.push('Module'); return new M(b); };
    WebAssembly.Module.prototype = M.prototype;
    Object.setPrototypeOf(WebAssembly.Module, M);
    WebAssembly.compile = (b) => { compiled.push('compile'); return C(b); };
    const sy = await import(${JSON.stringify(resolve(root, 'dist/esm/index.js'))});
    const atImport = compiled.length;
    const route = () => ['k1', 'k2', 'k3', 'user:42'].map((k) => new sy.HashRing(['a', 'b', 'c']).get(k)).join(',');
    ${script}
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

test('nothing is compiled at import time; the first use compiles synchronously once', (t) => {
  const r = run(
    `const b = sy.backend(); const r1 = route(); route(); console.log(JSON.stringify({ atImport, b, r1, compiled }));`,
  );
  t.deepEqual(r, { atImport: 0, b: 'wasm', r1: expected, compiled: ['Module'] });
});

test('init() with no source, with bytes, and with a compiled Module; memoized', (t) => {
  const none = run(
    `const a = await sy.init(); const b = await sy.init(); console.log(JSON.stringify({ a, b, compiled, r: route() }));`,
  );
  t.deepEqual(none, { a: 'wasm', b: 'wasm', compiled: ['compile'], r: expected });
  const bytes = run(
    `const fs = await import('node:fs'); const a = await sy.init(fs.readFileSync(${JSON.stringify(wasmPath)})); console.log(JSON.stringify({ a, r: route() }));`,
  );
  t.deepEqual(bytes, { a: 'wasm', r: expected });
  const mod = run(
    `const fs = await import('node:fs'); const m = new M(fs.readFileSync(${JSON.stringify(wasmPath)})); compiled.length = 0; const a = await sy.init(m); console.log(JSON.stringify({ a, compiled, r: route() }));`,
  );
  t.deepEqual(mod, { a: 'wasm', compiled: [], r: expected });
  const sync = run(
    `const fs = await import('node:fs'); const a = sy.initSync(fs.readFileSync(${JSON.stringify(wasmPath)})); console.log(JSON.stringify({ a, r: route() }));`,
  );
  t.deepEqual(sync, { a: 'wasm', r: expected });
  const response = run(
    `const fs = await import('node:fs'); const a = await sy.init(new Response(fs.readFileSync(${JSON.stringify(wasmPath)}))); console.log(JSON.stringify({ a, r: route() }));`,
  );
  t.deepEqual(response, { a: 'wasm', r: expected });
});

test('build/switchyard.wasm validates and carries its build id in one custom section', (t) => {
  const bytes = readFileSync(wasmPath);
  t.true(WebAssembly.validate(bytes));
  t.regex(WASM_BUILD_ID, /^[0-9a-f]{16}$/);
  const sections = WebAssembly.Module.customSections(new WebAssembly.Module(bytes), WASM_ID_SECTION);
  t.deepEqual(
    sections.map((b) => Buffer.from(b).toString()),
    [WASM_BUILD_ID],
  );
  // the id is that of the module without its section (asc's output), which is appended last
  const asc = bytes.subarray(0, bytes.length - 2 - WASM_ID_SECTION.length - 1 - WASM_BUILD_ID.length);
  t.true(WebAssembly.validate(asc));
  t.is(createHash('sha256').update(asc).digest('hex').slice(0, 16), WASM_BUILD_ID);
});

test("a module that is not this version's switchyard/wasm (a per-family module, a copy with another build id) is refused: 'js', backendError names both builds, and the right module still loads after", (t) => {
  const read = (f: string) => `fs.readFileSync(${JSON.stringify(resolve(root, 'build', f))})`;
  // a copy of switchyard.wasm whose section holds another id (as a stale build would)
  const stale = `(() => { const b = ${read('switchyard.wasm')}; b.set(Buffer.from('0123456789abcdef'), b.lastIndexOf(Buffer.from('${WASM_BUILD_ID}'))); return b; })()`;
  const cases: [string, string, string][] = [
    ['initSync, ring.wasm bytes', `sy.initSync(${read('ring.wasm')})`, 'none'],
    ['initSync, a stale Module', `sy.initSync(new M(${stale}))`, '0123456789abcdef'],
    ['init, hash.wasm Module', `await sy.init(new M(${read('hash.wasm')}))`, 'none'],
    ['init, balancing.wasm Response', `await sy.init(new Response(${read('balancing.wasm')}))`, 'none'],
    ['init, stale bytes', `await sy.init(${stale})`, '0123456789abcdef'],
  ];
  for (const [name, load, found] of cases) {
    const r = run(
      `const fs = await import('node:fs'); const a = ${load}; const out = { a, b: sy.backend(), err: sy.backendError()?.message, r: route() };
       out.maglev = new sy.Maglev(['a', 'b', 'c']).get('k1'); out.again = await sy.init(${read('switchyard.wasm')}); out.after = sy.backend();
       console.log(JSON.stringify(out));`,
    );
    t.deepEqual(
      r,
      {
        a: 'js',
        b: 'js',
        err: `the module is not this version's switchyard/wasm (build ${found}, expected ${WASM_BUILD_ID}): serve the installed switchyard/wasm file (a cache may hold an older one)`,
        r: expected,
        maglev: new Maglev(['a', 'b', 'c']).get('k1'),
        again: 'wasm',
        after: 'wasm',
      },
      name,
    );
  }
});

// 2^14 hashes by batch (enough for the ring's direct table) and a checksum of their owners
const batch = `const br = new sy.HashRing(['a', 'b', 'c']); const hs = Uint32Array.from({ length: 1 << 14 }, (_, i) => Math.imul(i, 0x9e3779b1) >>> 0); const sum = () => br.getManyByHash(hs).reduce((s, v, i) => (s + v * (i + 1)) % 1000000007, 0);`;
const batchSum = new HashRing(['a', 'b', 'c'], { backend: 'js' })
  .getManyByHash(Uint32Array.from({ length: 1 << 14 }, (_, i) => Math.imul(i, 0x9e3779b1) >>> 0))
  .reduce((s, v, i) => (s + v * (i + 1)) % 1000000007, 0);

test("batches by hash compile the ring-batch module once, over the ring module's memory; a caller's module serves them", (t) => {
  const inlined = run(
    `${batch} const s1 = sum(); const s2 = sum(); console.log(JSON.stringify({ s1, s2, compiled }));`,
  );
  t.deepEqual(inlined, { s1: batchSum, s2: batchSum, compiled: ['Module', 'Module'] });
  const own = run(
    `const fs = await import('node:fs'); sy.initSync(fs.readFileSync(${JSON.stringify(wasmPath)})); compiled.length = 0; ${batch} const s1 = sum(); const s2 = sum(); console.log(JSON.stringify({ s1, s2, compiled }));`,
  );
  t.deepEqual(own, { s1: batchSum, s2: batchSum, compiled: [] });
});

test('init() with a URL and with a Response fetched over loopback; a URL of another module is refused', async (t) => {
  const bytes = readFileSync(wasmPath);
  const ring = readFileSync(resolve(root, 'build/ring.wasm'));
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/wasm');
    res.end(req.url === '/ring.wasm' ? ring : bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/switchyard.wasm`;
  try {
    // execFileSync would block the server's event loop: run the child asynchronously
    const { execFile } = await import('node:child_process');
    const runAsync = (script: string) =>
      new Promise<Record<string, unknown>>((resolve2, reject) => {
        const code = `const sy = await import(${JSON.stringify(resolve(root, 'dist/esm/index.js'))}); ${script}`;
        execFile(process.execPath, ['--input-type=module', '-e', code], { cwd: root }, (err, out) =>
          err ? reject(err) : resolve2(JSON.parse(out.trim())),
        );
      });
    t.deepEqual(await runAsync(`console.log(JSON.stringify({ a: await sy.init(new URL(${JSON.stringify(url)})) }));`), {
      a: 'wasm',
    });
    t.deepEqual(await runAsync(`console.log(JSON.stringify({ a: await sy.init(fetch(${JSON.stringify(url)})) }));`), {
      a: 'wasm',
    });
    t.deepEqual(
      await runAsync(`console.log(JSON.stringify({ a: await sy.init(await fetch(${JSON.stringify(url)})) }));`),
      { a: 'wasm' },
    );
    // a URL of another module: refused by its build id (none)
    t.deepEqual(
      await runAsync(
        `const a = await sy.init(new URL(${JSON.stringify(url.replace('switchyard.wasm', 'ring.wasm'))})); console.log(JSON.stringify({ a, err: /build none/.test(sy.backendError().message) }));`,
      ),
      { a: 'js', err: true },
    );
  } finally {
    server.close();
  }
});

test('without WebAssembly the pure-TS backend is used and routes identically', (t) => {
  const code = `delete globalThis.WebAssembly; const sy = await import(${JSON.stringify(resolve(root, 'dist/esm/index.js'))});
    const route = () => ['k1', 'k2', 'k3', 'user:42'].map((k) => new sy.HashRing(['a', 'b', 'c']).get(k)).join(',');
    console.log(JSON.stringify({ b: sy.backend(), r: route(), init: await sy.init(), err: String(sy.backendError()) }));`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' }).trim(),
  );
  t.is(out.b, 'js');
  t.is(out.init, 'js');
  t.is(out.r, expected);
  t.regex(out.err, /WebAssembly is not available/);
});

test("a corrupt module falls back to 'js' with the reason; setBackend('wasm') retries with the inlined bytes", (t) => {
  const r = run(
    `const a = sy.initSync(new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]));
     const b = sy.backend(), r = route(), err = String(sy.backendError());
     sy.setBackend('wasm');
     console.log(JSON.stringify({ a, b, r, err, after: sy.backend(), r2: route() }));`,
  );
  t.is(r.a, 'js');
  t.is(r.b, 'js');
  t.is(r.r, expected);
  t.regex(String(r.err), /CompileError/);
  // an explicit setBackend('wasm') retries with the inlined bytes
  t.is(r.after, 'wasm');
  t.is(r.r2, expected);
});

/** Runs `script` on the sources (tsx: dist/ may be older) in a fresh process, `sy` being bindings/index.ts. */
function runSrc(script: string): Record<string, unknown> {
  const code = `const sy = await import(${JSON.stringify(resolve(root, 'bindings/index.ts'))}); ${script}`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

test("a failing init(source) still pending when another path loads WebAssembly does not turn the default to 'js'; every init call resolves to the backend in effect", (t) => {
  // on the sources (tsx), in a fresh process. Each source fails 30 ms later (a rejected fetch, or bytes that do
  // not compile); p2 and `later` do not use theirs, whose rejection must not go unhandled
  const bads = {
    rejected: `new Promise((_, no) => setTimeout(() => no(new Error('fetch failed')), 30))`,
    corrupt: `new Promise((ok) => setTimeout(() => ok(new Response(new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]))), 30))`,
  };
  const loads = {
    ring: `new sy.HashRing(['a']).backend`,
    initSync: `sy.initSync()`,
    maglev: `new sy.Maglev(['a']).backend`,
    setBackend: `(sy.setBackend('wasm'), sy.backend())`,
    // the caller's choice of 'js' after the load stays, and is what init resolves to
    'ring, then js': `(new sy.HashRing(['a']), sy.setBackend('js'), sy.backend())`,
  };
  for (const [bad, source] of Object.entries(bads))
    for (const [load, code] of Object.entries(loads)) {
      const r = runSrc(`const p1 = sy.init(${source}), p2 = sy.init(${source}), loaded = ${code};
        const out = { loaded, p1: await p1, p2: await p2, b: sy.backend(), ring: new sy.HashRing(['a']).backend, err: sy.backendError() && String(sy.backendError()) };
        console.log(JSON.stringify({ ...out, later: await sy.init(${source}) }));`);
      const b = load === 'ring, then js' ? 'js' : 'wasm';
      t.deepEqual(
        r,
        { loaded: b, p1: b, p2: b, b, ring: b, err: null, later: 'wasm' },
        `${bad} source, loaded by ${load}`,
      );
    }
});

test("init and setBackend refuse what they cannot take: a wrong source is a TypeError, a failed HTTP answer is named in backendError, a backend other than 'wasm' or 'js' a RangeError", (t) => {
  const r = run(`
    const out = {};
    await sy.init('/switchyard.wasm').then(() => {}, (e) => { out.str = e.name + ': ' + e.message.split(',')[0]; }); // rejected, not thrown
    const notThrown = (() => { try { sy.init(5).catch(() => {}); return true; } catch { return false; } })();
    out.rejected = notThrown;
    for (const b of ['JS', undefined]) try { sy.setBackend(b); } catch (e) { (out.set ??= []).push(e.name + ': ' + e.message); }
    out.a = await sy.init(new Response('not found', { status: 404 }));
    out.err = String(sy.backendError()?.message);
    await sy.init(Promise.reject('nope')); // a source rejecting with a non-Error: backendError() is still an Error
    out.nonError = [sy.backendError() instanceof Error, sy.backendError()?.message];
    out.r = route();
    console.log(JSON.stringify(out));`);
  t.deepEqual(r, {
    str: 'TypeError: source must be a WebAssembly.Module',
    rejected: true,
    set: [
      `RangeError: backend must be 'wasm' or 'js', got "JS"`,
      `RangeError: backend must be 'wasm' or 'js', got undefined`,
    ],
    a: 'js',
    err: 'WebAssembly source: HTTP 404 from a Response',
    nonError: [true, 'nope'],
    r: expected,
  });
});

const corrupt = `new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9])`;
// read before the calls: an await between two init calls would let the first settle before the second
const readGood = `const good = (await import('node:fs')).readFileSync(${JSON.stringify(wasmPath)});`;

test("backendError() is why the backend in effect is not WebAssembly: a later successful load clears a failed one's error", (t) => {
  const recover = {
    "setBackend('wasm')": `(sy.setBackend('wasm'), sy.backend())`,
    initSync: `sy.initSync()`,
    'initSync(bytes)': `sy.initSync(good)`,
    'init(bytes)': `await sy.init(good)`,
    init: `await sy.init()`,
  };
  const fail = { initSync: `sy.initSync(${corrupt})`, init: `await sy.init(${corrupt})` };
  for (const [f, failing] of Object.entries(fail))
    for (const [name, load] of Object.entries(recover)) {
      if (f === 'init' && name !== 'init') continue;
      // 'js' chosen while WebAssembly never loaded keeps the error; chosen after it loaded, there is none
      const r = runSrc(`${readGood} const a = ${failing}; sy.setBackend('js'); const err = String(sy.backendError());
        const loaded = ${load}; const out = { a, err: /CompileError/.test(err), loaded, b: sy.backend(), after: sy.backendError() };
        sy.setBackend('js'); console.log(JSON.stringify({ ...out, js: sy.backendError() }));`);
      t.deepEqual(
        r,
        { a: 'js', err: true, loaded: 'wasm', b: 'wasm', after: null, js: null },
        `${f} fails, then ${name}`,
      );
    }
});

test("init while another init is pending: if that load fails, the later caller's own source is tried before falling back to 'js'; every caller resolves to the backend then in effect", (t) => {
  const bad404 = `new Response('not found', { status: 404 })`;
  const cases: [string, string, Record<string, unknown>][] = [
    ['a bad source, then good bytes', `[sy.init(${corrupt}), sy.init(good)]`, { ps: ['wasm', 'wasm'], err: null }],
    ['a bad source, then no source', `[sy.init(${corrupt}), sy.init()]`, { ps: ['wasm', 'wasm'], err: null }],
    [
      'two bad sources, then good bytes',
      `[sy.init(${corrupt}), sy.init(${bad404}), sy.init(good)]`,
      { ps: ['wasm', 'wasm', 'wasm'], err: null },
    ],
    // every source fails: 'js', the last one's error
    [
      'two bad sources',
      `[sy.init(${corrupt}), sy.init(${bad404})]`,
      { ps: ['js', 'js'], err: 'Error: WebAssembly source: HTTP 404 from a Response' },
    ],
    // the same source is tried once (a Response's body can be read once)
    [
      'one bad Response twice',
      `((r) => [sy.init(r), sy.init(r)])(new Response(${corrupt}))`,
      { ps: ['js', 'js'], err: true },
    ],
    // a good source first: the later one is never used, and its rejection is not left unhandled
    [
      'good bytes, then a rejected fetch',
      `[sy.init(good), sy.init(Promise.reject(new Error('fetch failed')))]`,
      { ps: ['wasm', 'wasm'], err: null },
    ],
  ];
  for (const [name, calls, want] of cases) {
    const r = runSrc(`${readGood} const ps = await Promise.all(${calls}); const e = sy.backendError();
      console.log(JSON.stringify({ ps, b: sy.backend(), err: e === null ? null : /CompileError/.test(String(e)) || String(e) }));`);
    t.deepEqual(r, { ...want, b: (want.ps as string[])[0] }, name);
  }
});

test("a successful init(source) that settles after WebAssembly loaded another way keeps that load and a later setBackend('js'); without WebAssembly a rejected source is not left unhandled", (t) => {
  // good bytes 30 ms later; meanwhile a HashRing loads the inlined module and the caller chooses 'js'
  const r = runSrc(`${readGood} const p = sy.init(new Promise((ok) => setTimeout(() => ok(good), 30)));
    new sy.HashRing(['a']); sy.setBackend('js');
    const out = { p: await p, b: sy.backend(), ring: new sy.HashRing(['a']).backend };
    console.log(JSON.stringify(out));`);
  t.deepEqual(r, { p: 'js', b: 'js', ring: 'js' });
  const n = runSrc(`let unhandled = 0; process.on('unhandledRejection', () => unhandled++);
    delete globalThis.WebAssembly;
    const b = await sy.init(Promise.reject(new Error('fetch failed')));
    await new Promise((ok) => setTimeout(ok, 20));
    console.log(JSON.stringify({ b, unhandled, err: String(sy.backendError()) }));`);
  t.deepEqual(n, { b: 'js', unhandled: 0, err: 'Error: WebAssembly is not available' });
});
