// Type declarations for the two pure-JS codecs that ship none.
declare module 'snappyjs' {
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  export function compress(uncompressed: Uint8Array): Uint8Array;
}
declare module 'snappyjs/snappy_decompressor.js' {
  /** The decoder behind snappyjs's `uncompress`, which writes into a buffer of the caller's. */
  export class SnappyDecompressor {
    constructor(compressed: Uint8Array);
    /** The size the block declares, or -1 for a bad header. */
    readUncompressedLength(): number;
    /** Decodes into `out` (at least the declared size); false for invalid data. */
    uncompressToBuffer(out: Uint8Array): boolean;
  }
}
declare module 'lz4js' {
  export function decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
}
