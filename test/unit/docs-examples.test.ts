// The code examples of README.md and docs/*.md type-check against the sources. Every ```ts, ```typescript and
// ```js block is compiled, in one TypeScript Program, with `switchyard` and `switchyard/*` mapped to the files
// behind package.json's `exports` (the sources, never dist/), and the peers from node_modules.
//
// - A block with an `import` is a whole program: it is checked alone, as a reader would copy it.
// - A block without one continues the page: it is checked after the checked blocks above it in the same file
//   (their imports first, then each block in a scope nested in the previous one, so a later `const lb` shadows
//   an earlier one), and only its own errors are reported.
// - `<!-- checked with: declare const app: ...; -->` just before a block declares what the example takes from
//   the reader's own code (a generated gRPC client, an app); it is prepended to the block, hidden from readers.
// - `<!-- not checked: reason -->` just before a block leaves it out, visibly; the test lists those blocks.
//
// docs/benchmarks.md (generated) and docs/api/ (built) are not read.
import test from 'ava';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');
const DOC_FILES = [
  'README.md',
  ...readdirSync(resolve(root, 'docs'))
    .filter((f) => f.endsWith('.md') && f !== 'benchmarks.md')
    .sort()
    .map((f) => `docs/${f}`),
];
const LANGS: Record<string, 'ts' | 'js'> = {
  ts: 'ts',
  typescript: 'ts',
  mts: 'ts',
  js: 'js',
  javascript: 'js',
  mjs: 'js',
};
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
const DIRECTIVE = /^\s*<!--\s*(not checked|checked with):\s*([\s\S]*?)\s*-->\s*$/;

interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: 'ts' | 'js';
  code: string;
  /** `<!-- checked with: ... -->`: declarations prepended to the block. */
  given: string[];
  /** `<!-- not checked: ... -->`: why the block is left out. */
  skip?: string;
}

/** Fenced code blocks of one markdown file, with the directives just above them. */
function extract(file: string, errors: string[]): Block[] {
  const lines = readFileSync(resolve(root, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  let pending: { line: number; kind: string; text: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const directive = DIRECTIVE.exec(lines[i]!);
    if (directive) {
      pending.push({ line: i + 1, kind: directive[1]!, text: directive[2]! });
      continue;
    }
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      if (lines[i]!.trim() !== '') flushOrphans();
      continue;
    }
    const [, indent, fence, info] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trimStart().startsWith(fence!) && l.trim().replace(/[`~]/g, '') === '') break;
      body.push(l.startsWith(indent!) ? l.slice(indent!.length) : l.trimStart());
    }
    const lang = LANGS[info!.toLowerCase()];
    if (lang) {
      const skip = pending.find((d) => d.kind === 'not checked');
      blocks.push({
        file,
        line: i + 1,
        lang,
        code: body.join('\n') + '\n',
        given: pending.filter((d) => d.kind === 'checked with').map((d) => d.text),
        ...(skip ? { skip: skip.text } : {}),
      });
      if (skip && skip.text === '') errors.push(`${file}:${skip.line}: a "not checked" comment must give a reason`);
      pending = [];
    } else {
      flushOrphans();
    }
    i = j;
  }
  flushOrphans();
  return blocks;

  function flushOrphans(): void {
    for (const d of pending) errors.push(`${file}:${d.line}: "<!-- ${d.kind}: -->" is not just above a ts/js block`);
    pending = [];
  }
}

/** `switchyard` and `switchyard/*` → the sources behind package.json's exports. */
function sourcePaths(): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | { import?: { types?: string } }>;
  };
  const paths: Record<string, string[]> = {};
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'string' ? undefined : target.import?.types;
    if (!types) continue; // ./wasm, ./package.json
    const source = resolve(root, types.replace(/^\.\/dist\/esm\//, 'bindings/').replace(/\.d\.ts$/, '.ts'));
    if (!existsSync(source)) throw new Error(`package.json exports["${sub}"]: no source ${source}`);
    paths[sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`] = [source];
  }
  return paths;
}

function parse(code: string, js: boolean): ts.SourceFile {
  return ts.createSourceFile(js ? 'x.mjs' : 'x.mts', code, ts.ScriptTarget.ES2022, true);
}

/** The block's code with its import declarations blanked out (positions kept), and those declarations. */
function splitImports(block: Block): { imports: ts.ImportDeclaration[]; rest: string } {
  const sf = parse(block.code, block.lang === 'js');
  const imports = sf.statements.filter(ts.isImportDeclaration);
  let rest = block.code;
  for (const s of imports)
    rest = rest.slice(0, s.getStart(sf)) + rest.slice(s.getStart(sf), s.end).replace(/[^\n]/g, ' ') + rest.slice(s.end);
  return { imports, rest };
}

/**
 * The import declarations of several blocks as one list, each name bound once: two blocks importing
 * `createFetch` from 'switchyard' are one import, not a duplicate identifier.
 */
function mergeImports(decls: ts.ImportDeclaration[]): string[] {
  const bound = new Map<string, string>(); // local name → `module#imported name`
  const out = new Set<string>();
  for (const d of decls) {
    const from = (d.moduleSpecifier as ts.StringLiteral).text;
    const clause = d.importClause;
    if (clause === undefined) {
      out.add(`import '${from}';`);
      continue;
    }
    const named: string[] = [];
    const bind = (imported: string, local: string, typeOnly: boolean): void => {
      if (bound.get(local) === `${from}#${imported}`) return;
      bound.set(local, `${from}#${imported}`);
      named.push(`${typeOnly ? 'type ' : ''}${imported === local ? local : `${imported} as ${local}`}`);
    };
    if (clause.name) bind('default', clause.name.text, clause.isTypeOnly);
    const nb = clause.namedBindings;
    if (nb && ts.isNamespaceImport(nb)) {
      if (bound.get(nb.name.text) !== `${from}#*`) out.add(`import * as ${nb.name.text} from '${from}';`);
      bound.set(nb.name.text, `${from}#*`);
    } else if (nb) {
      for (const e of nb.elements)
        bind((e.propertyName ?? e.name).text, e.name.text, clause.isTypeOnly || e.isTypeOnly);
    }
    if (named.length > 0) out.add(`import { ${named.join(', ')} } from '${from}';`);
  }
  return [...out];
}

interface Unit {
  block: Block;
  fileName: string;
  text: string;
  /** The block's own code is text[start, end); it begins on line `startLine` (0-based) of the unit. */
  start: number;
  end: number;
  startLine: number;
  /** Where the nested code of the blocks above starts and ends (their errors are theirs). */
  contextStart: number;
  contextEnd: number;
}

/** The module that checks `block`, given the checked blocks above it in the same file. */
function unitFor(block: Block, above: Block[]): Unit {
  const standalone = splitImports(block).imports.length > 0;
  const context = standalone ? [] : above;
  const parts = context.map(splitImports);
  const imports = mergeImports(parts.flatMap((p) => p.imports));
  const given = [...new Set([...context, block].flatMap((b) => b.given))];
  let text = [...imports, ...given].map((s) => s + '\n').join('');
  const contextStart = text.length;
  for (const p of parts) text += p.rest + '{\n';
  const contextEnd = text.length;
  const start = text.length;
  const startLine = text.split('\n').length - 1;
  text += block.code;
  const end = text.length;
  text += '}\n'.repeat(parts.length);
  const ext = block.lang === 'js' ? 'mjs' : 'mts';
  const fileName = resolve(root, `${block.file}.line-${block.line}.${ext}`);
  return { block, fileName, text, start, end, startLine, contextStart, contextEnd };
}

function checkAll(units: Unit[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    resolve(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const options: ts.CompilerOptions = {
    ...config.options,
    paths: sourcePaths(),
    allowJs: true,
    checkJs: true,
    noEmit: true,
  };
  const byName = new Map(units.map((u) => [u.fileName, u]));
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) => {
    const u = byName.get(name);
    return u ? ts.createSourceFile(name, u.text, lang, true) : getSourceFile.call(host, name, lang, ...rest);
  };
  host.fileExists = (name) => byName.has(name) || fileExists.call(host, name);
  host.readFile = (name) => byName.get(name)?.text ?? readFile.call(host, name);
  const program = ts.createProgram({ rootNames: [...byName.keys()], options, host });

  const failures = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map(
    (d) => `TypeScript: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
  );
  for (const u of units) {
    const sf = program.getSourceFile(u.fileName)!;
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const at = d.start ?? 0;
      if (at >= u.contextStart && at < u.contextEnd) continue; // an error of a block above: reported there
      const { file, line } = u.block;
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
      const where =
        at >= u.start && at <= u.end
          ? `${file}:${line + 1 + sf.getLineAndCharacterOfPosition(at).line - u.startLine}`
          : `${file}:${line} (in its "checked with" declarations or the imports of the blocks above)`;
      failures.push(`${where} (block at line ${line}): error TS${d.code}: ${message}`);
    }
  }
  return failures;
}

test('the ts/js examples of README.md and docs/*.md type-check against the sources', (t) => {
  const started = performance.now();
  const errors: string[] = [];
  const blocks = DOC_FILES.flatMap((f) => extract(f, errors));
  const units: Unit[] = [];
  for (const file of DOC_FILES) {
    const checked = blocks.filter((b) => b.file === file && b.skip === undefined);
    checked.forEach((b, i) => units.push(unitFor(b, checked.slice(0, i))));
  }
  errors.push(...checkAll(units));

  const skipped = blocks.filter((b) => b.skip !== undefined);
  const continuing = units.filter((u) => u.contextEnd > u.contextStart).length;
  const given = units.filter((u) => u.block.given.length > 0).length;
  t.log(
    `${units.length} of ${blocks.length} blocks checked in ${Math.round(performance.now() - started)} ms ` +
      `(${continuing} continue the blocks above them, ${given} with "checked with" declarations)` +
      skipped.map((b) => `\n  not checked: ${b.file}:${b.line}: ${b.skip}`).join(''),
  );
  t.true(units.length > 0, 'no ts/js block found: is the extraction broken?');
  t.deepEqual(errors, [], `\n${errors.join('\n')}`);
});
