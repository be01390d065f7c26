// The one owner of the core's linear memory: hands out regions (first fit over a coalescing free list),
// is the only caller of `memory.grow`, and re-creates the typed-array views after a grow. Consumers that
// cache views of their own tell a stale one by `detached(view)`: a grow detaches the old buffer, which empties
// every view of it.

const PAGE_BYTES = 65536;

interface Block {
  ptr: number;
  size: number;
}

/** Whether a view of WASM memory was made before a grow (its buffer detached: the view is empty). */
export function detached(view: { readonly length: number }): boolean {
  return view.length === 0;
}

export class WasmMemory {
  declare u8: Uint8Array;
  declare u32: Uint32Array;
  private readonly free: Block[] = [];
  private readonly used = new Map<number, number>();
  declare private end: number;

  declare readonly memory: WebAssembly.Memory;

  constructor(memory: WebAssembly.Memory, heapBase: number) {
    this.memory = memory;
    const base = align16(heapBase);
    this.end = memory.buffer.byteLength;
    if (this.end > base) this.free.push({ ptr: base, size: this.end - base });
    this.views();
  }

  /**
   * A holder for `owner`'s region of this memory (TableRegion): reached through the memory so that an owner whose
   * tables may all live in JS (a switchyard/lite Balancer without the balancing module) does not bundle it.
   * @internal
   */
  holder(owner: object): TableRegion {
    return new TableRegion(owner);
  }

  /** Bytes currently handed out. */
  get allocatedBytes(): number {
    let n = 0;
    for (const s of this.used.values()) n += s;
    return n;
  }

  get byteLength(): number {
    return this.end;
  }

  /**
   * A region of at least `bytes`. When memory cannot grow for it, `held` (a region the caller allocated for the
   * same build, 0 for none) is released before the error propagates, so a build that fails part-way holds nothing.
   */
  alloc(bytes: number, held = 0): number {
    const size = align16(Math.max(bytes, 1));
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.size >= size) return this.take(i, b, size);
    }
    // grow: extend the last free block if it touches the end
    const last = this.free[this.free.length - 1];
    const tail = last && last.ptr + last.size === this.end ? last.size : 0;
    const pages = Math.ceil((size - tail) / PAGE_BYTES);
    try {
      this.memory.grow(pages);
    } catch (e) {
      this.release(held);
      throw e;
    }
    const added = pages * PAGE_BYTES;
    if (tail > 0) last!.size += added;
    else this.free.push({ ptr: this.end, size: added });
    this.end += added;
    this.views();
    const i = this.free.length - 1;
    return this.take(i, this.free[i]!, size);
  }

  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) return;
    this.used.delete(ptr);
    // insert sorted, coalesce with neighbours
    const free = this.free;
    let i = 0;
    while (i < free.length && free[i]!.ptr < ptr) i++;
    const prev = free[i - 1];
    const next = free[i];
    let b: Block = { ptr, size };
    if (prev && prev.ptr + prev.size === ptr) {
      prev.size += size;
      b = prev;
    } else free.splice(i++, 0, b);
    if (next && ptr + size === next.ptr) {
      b.size += next.size;
      free.splice(i, 1);
    }
  }

  private take(i: number, b: Block, size: number): number {
    const ptr = b.ptr;
    if (b.size === size) this.free.splice(i, 1);
    else {
      b.ptr += size;
      b.size -= size;
    }
    this.used.set(ptr, size);
    return ptr;
  }

  private views(): void {
    const buf = this.memory.buffer;
    this.u8 = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf);
  }
}

/** `n` rounded up to a multiple of 16: every region and every sub-array of a call's I/O starts aligned. */
export function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

interface Region {
  mem: WasmMemory | null;
  ptr: number;
}

// releasing 0 (no region) is a no-op: no region starts there (heapBase > 0)
const regions = new FinalizationRegistry<Region>((r) => r.mem?.release(r.ptr));

/**
 * The WASM region an owner's current table lives in (none for a table in JS memory). `replace` takes the new
 * table's region and frees the previous one; whatever is held when the owner is collected is freed then.
 */
export class TableRegion {
  private readonly r: Region = { mem: null, ptr: 0 };

  constructor(owner: object) {
    regions.register(owner, this.r);
  }

  /** Holds the region at `ptr` of `mem` (null / 0: none) and frees the one held before. */
  replace(mem: WasmMemory | null, ptr: number): void {
    const old = this.r.mem;
    const oldPtr = this.r.ptr;
    this.r.mem = mem;
    this.r.ptr = ptr;
    if (old !== mem || oldPtr !== ptr) old?.release(oldPtr);
  }

  /** Frees the region now. */
  free(): void {
    this.replace(null, 0);
  }
}
