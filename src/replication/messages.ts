import type protobuf from 'protobufjs';
import { CorruptionError } from '../core/errors.js';
import { encodeFrame } from './framing.js';
import { lenientTypes, strictTypes } from './schema.js';

/** Typed views of the InnerMessage protobufs (spec §2.4–§2.6). Offsets are plain numbers. */

export const MsgType = { MetaSync: 1, TrySync: 2, DBSync: 3, BinlogSync: 4, HeatBeat: 5, RemoveSlaveNode: 6 } as const;
export const Status = { Ok: 1, Error: 2, Other: 3 } as const;
export const TrySyncReply = { Ok: 1, SyncPointBePurged: 2, SyncPointLarger: 3, Error: 4 } as const;

export interface WireOffset {
  filenum: number;
  offset: number;
  /** B+ only; present in BinlogSync traffic of B–D. */
  term?: number;
  index?: number;
}
export interface NodeId {
  ip: string;
  port: number;
}
export interface DbSlot {
  table_name: string;
  partition_id: number;
}

export interface InnerRequest {
  type: number;
  meta_sync?: { node: NodeId; auth?: string };
  try_sync?: { node: NodeId; partition: DbSlot; binlog_offset: WireOffset };
  db_sync?: { node: NodeId; partition: DbSlot; binlog_offset: WireOffset };
  binlog_sync?: {
    node: NodeId;
    table_name: string;
    partition_id: number;
    ack_range_start: WireOffset;
    ack_range_end: WireOffset;
    session_id: number;
    first_send: boolean;
  };
  remove_slave_node?: Array<{ node: NodeId; partition: DbSlot }>;
}

export interface BinlogSyncElement {
  partition: DbSlot;
  binlog_offset: WireOffset;
  binlog: Buffer;
  session_id: number;
}

export interface InnerResponse {
  type: number;
  code: number;
  reply?: string;
  meta_sync?: {
    classic_mode: boolean;
    tables_info?: Array<{ table_name: string; partition_num: number; db_instance_num?: number }>;
    run_id?: string;
    replication_id?: string;
  };
  db_sync?: { partition: DbSlot; session_id: number };
  try_sync?: { reply_code: number; partition: DbSlot; binlog_offset?: WireOffset; session_id?: number };
  binlog_sync?: BinlogSyncElement[];
  remove_slave_node?: Array<{ node: NodeId; partition: DbSlot }>;
}

const toObjectOpts: protobuf.IConversionOptions = { longs: Number, enums: Number, bytes: Buffer as unknown as typeof String, defaults: false, arrays: false };

function encodeWith(type: protobuf.Type, obj: object): Buffer {
  const msg = type.fromObject(obj as Record<string, unknown>);
  return encodeFrame(type.encode(msg).finish());
}

/**
 * Decoding from a Buffer makes protobufjs use its BufferReader, whose bytes fields are Buffers
 * (views of the frame); toObject keeps them as they are when `bytes` is neither String nor Array.
 */
function decodeWith<T>(type: protobuf.Type, body: Uint8Array, where: string): T {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length);
  let msg: protobuf.Message;
  try {
    msg = type.decode(buf);
  } catch (e) {
    throw new CorruptionError(`undecodable ${type.name}: ${(e as Error).message}`, where);
  }
  return type.toObject(msg, toObjectOpts) as T;
}

/** Replica side: requests are encoded strictly (every required field on the wire, §2.2). */
export function encodeRequest(req: InnerRequest): Buffer {
  return encodeWith(strictTypes.InnerRequest, req);
}
/** Replica side: responses are decoded leniently (required sets differ per version, §2.2). */
export function decodeResponse(body: Uint8Array, where: string): InnerResponse {
  return decodeWith<InnerResponse>(lenientTypes.InnerResponse, body, where);
}
/** Replica side: one `binlog_sync` element of a response read as it arrives (response-reader.ts). */
export function decodeBinlogSyncElement(body: Uint8Array, where: string): BinlogSyncElement {
  return decodeWith<BinlogSyncElement>(lenientTypes.BinlogSyncElement, body, where);
}
/** Master side (test double): requests are decoded strictly, as Pika's ParseFromArray does. */
export function decodeRequestStrict(body: Uint8Array, where: string): InnerRequest {
  return decodeWith<InnerRequest>(strictTypes.InnerRequest, body, where);
}
export function encodeResponse(res: InnerResponse): Buffer {
  return encodeWith(strictTypes.InnerResponse, res);
}

// ---- Rsync service (C/D, §4.2) ----

export const RsyncType = { Meta: 1, File: 2 } as const;
export const RsyncStatus = { Ok: 1, Err: 2 } as const;

export interface RsyncRequest {
  type: number;
  reader_index: number;
  db_name: string;
  slot_id: number;
  file_req?: { filename: string; count: number; offset: number };
}
export interface RsyncResponse {
  type: number;
  reader_index: number;
  snapshot_uuid: string;
  db_name: string;
  slot_id: number;
  code: number;
  meta_resp?: { filenames?: string[] };
  file_resp?: { eof: number; count: number; offset: number; data: Buffer; checksum: string; filename: string };
}

export function encodeRsyncRequest(req: RsyncRequest): Buffer {
  return encodeWith(strictTypes.RsyncRequest, req);
}
export function decodeRsyncResponse(body: Uint8Array, where: string): RsyncResponse {
  return decodeWith<RsyncResponse>(lenientTypes.RsyncResponse, body, where);
}
export function decodeRsyncRequestStrict(body: Uint8Array, where: string): RsyncRequest {
  return decodeWith<RsyncRequest>(strictTypes.RsyncRequest, body, where);
}
export function encodeRsyncResponse(res: RsyncResponse): Buffer {
  return encodeWith(strictTypes.RsyncResponse, res);
}
