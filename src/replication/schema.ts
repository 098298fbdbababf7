import protobuf from 'protobufjs';

/**
 * The merged proto2 schema of Pika's replication (`InnerMessage`, spec §2.7) and of the C/D rsync
 * service (`RsyncService`, §4.2), as protobufjs reflection. Field numbers are the contract; names
 * follow family A.
 *
 * Two roots are built from one description: `strict` keeps the `required` labels (the encoder then
 * writes required fields even when 0/false/"" as the C++ master expects, and the decoder rejects a
 * message missing one, as Pika's master does); `lenient` turns every field optional, for decoding
 * what a master of any version sends (required sets differ per version).
 */

type Rule = 'required' | 'optional' | 'repeated';
type FieldSpec = [name: string, id: number, type: string, rule: Rule];

interface MsgSpec {
  fields: FieldSpec[];
  nested?: Record<string, MsgSpec | EnumSpec>;
}
interface EnumSpec {
  values: Record<string, number>;
}

const offset: MsgSpec = {
  fields: [
    ['filenum', 1, 'uint32', 'required'],
    ['offset', 2, 'uint64', 'required'],
    ['term', 3, 'uint32', 'optional'],
    ['index', 4, 'uint64', 'optional'],
  ],
};
const node: MsgSpec = { fields: [['ip', 1, 'string', 'required'], ['port', 2, 'int32', 'required']] };
const partition: MsgSpec = {
  fields: [['table_name', 1, 'string', 'required'], ['partition_id', 2, 'uint32', 'required']],
};
const consensusMeta: MsgSpec = {
  fields: [
    ['term', 1, 'uint32', 'optional'],
    ['log_offset', 2, 'BinlogOffset', 'optional'],
    ['commit', 3, 'BinlogOffset', 'optional'],
    ['reject', 4, 'bool', 'optional'],
    ['hint', 5, 'BinlogOffset', 'repeated'],
  ],
};

const innerMessage: Record<string, MsgSpec | EnumSpec> = {
  Type: { values: { kMetaSync: 1, kTrySync: 2, kDBSync: 3, kBinlogSync: 4, kHeatBeat: 5, kRemoveSlaveNode: 6 } },
  StatusCode: { values: { kOk: 1, kError: 2, kOther: 3 } },
  BinlogOffset: offset,
  Node: node,
  Partition: partition,
  ConsensusMeta: consensusMeta,
  InnerRequest: {
    nested: {
      MetaSync: { fields: [['node', 1, 'Node', 'required'], ['auth', 2, 'string', 'optional']] },
      TrySync: {
        fields: [
          ['node', 1, 'Node', 'required'],
          ['partition', 2, 'Partition', 'required'],
          ['binlog_offset', 3, 'BinlogOffset', 'required'],
        ],
      },
      DBSync: {
        fields: [
          ['node', 1, 'Node', 'required'],
          ['partition', 2, 'Partition', 'required'],
          ['binlog_offset', 3, 'BinlogOffset', 'required'],
        ],
      },
      BinlogSync: {
        fields: [
          ['node', 1, 'Node', 'required'],
          ['table_name', 2, 'string', 'required'],
          ['partition_id', 3, 'uint32', 'required'],
          ['ack_range_start', 4, 'BinlogOffset', 'required'],
          ['ack_range_end', 5, 'BinlogOffset', 'required'],
          ['session_id', 6, 'int32', 'required'],
          ['first_send', 7, 'bool', 'required'],
        ],
      },
      RemoveSlaveNode: { fields: [['node', 1, 'Node', 'required'], ['partition', 2, 'Partition', 'required']] },
    },
    fields: [
      ['type', 1, 'Type', 'required'],
      ['meta_sync', 2, 'MetaSync', 'optional'],
      ['try_sync', 3, 'TrySync', 'optional'],
      ['db_sync', 4, 'DBSync', 'optional'],
      ['binlog_sync', 5, 'BinlogSync', 'optional'],
      ['remove_slave_node', 6, 'RemoveSlaveNode', 'repeated'],
      ['consensus_meta', 7, 'ConsensusMeta', 'optional'],
    ],
  },
  InnerResponse: {
    nested: {
      MetaSync: {
        nested: {
          TableInfo: {
            fields: [
              ['table_name', 1, 'string', 'required'],
              ['partition_num', 2, 'int32', 'required'],
              ['db_instance_num', 3, 'int32', 'optional'],
            ],
          },
        },
        fields: [
          ['classic_mode', 1, 'bool', 'required'],
          ['tables_info', 2, 'TableInfo', 'repeated'],
          ['run_id', 3, 'string', 'optional'],
          ['replication_id', 4, 'string', 'optional'],
        ],
      },
      TrySync: {
        nested: { ReplyCode: { values: { kOk: 1, kSyncPointBePurged: 2, kSyncPointLarger: 3, kError: 4 } } },
        fields: [
          ['reply_code', 1, 'ReplyCode', 'required'],
          ['partition', 2, 'Partition', 'required'],
          ['binlog_offset', 3, 'BinlogOffset', 'optional'],
          ['session_id', 4, 'int32', 'optional'],
        ],
      },
      DBSync: { fields: [['partition', 1, 'Partition', 'required'], ['session_id', 2, 'int32', 'required']] },
      BinlogSync: {
        fields: [
          ['partition', 1, 'Partition', 'required'],
          ['binlog_offset', 2, 'BinlogOffset', 'required'],
          ['binlog', 3, 'bytes', 'required'],
          ['session_id', 4, 'int32', 'required'],
        ],
      },
      RemoveSlaveNode: { fields: [['node', 1, 'Node', 'required'], ['partition', 2, 'Partition', 'required']] },
    },
    fields: [
      ['type', 1, 'Type', 'required'],
      ['code', 2, 'StatusCode', 'required'],
      ['reply', 3, 'string', 'optional'],
      ['meta_sync', 4, 'MetaSync', 'optional'],
      ['db_sync', 5, 'DBSync', 'optional'],
      ['try_sync', 6, 'TrySync', 'optional'],
      ['binlog_sync', 7, 'BinlogSync', 'repeated'],
      ['remove_slave_node', 8, 'RemoveSlaveNode', 'repeated'],
      ['consensus_meta', 9, 'ConsensusMeta', 'optional'],
    ],
  },
};

const rsyncService: Record<string, MsgSpec | EnumSpec> = {
  Type: { values: { kRsyncMeta: 1, kRsyncFile: 2 } },
  StatusCode: { values: { kOk: 1, kErr: 2 } },
  MetaResponse: { fields: [['filenames', 1, 'string', 'repeated']] },
  FileRequest: {
    fields: [
      ['filename', 1, 'string', 'required'],
      ['count', 2, 'uint64', 'required'],
      ['offset', 3, 'uint64', 'required'],
    ],
  },
  FileResponse: {
    fields: [
      ['eof', 1, 'int32', 'required'],
      ['count', 2, 'uint64', 'required'],
      ['offset', 3, 'uint64', 'required'],
      ['data', 4, 'bytes', 'required'],
      ['checksum', 5, 'string', 'required'],
      ['filename', 6, 'string', 'required'],
    ],
  },
  RsyncRequest: {
    fields: [
      ['type', 1, 'Type', 'required'],
      ['reader_index', 2, 'int32', 'required'],
      ['db_name', 3, 'string', 'required'],
      ['slot_id', 4, 'uint32', 'required'],
      ['file_req', 5, 'FileRequest', 'optional'],
    ],
  },
  RsyncResponse: {
    fields: [
      ['type', 1, 'Type', 'required'],
      ['reader_index', 2, 'int32', 'required'],
      ['snapshot_uuid', 3, 'string', 'required'],
      ['db_name', 4, 'string', 'required'],
      ['slot_id', 5, 'uint32', 'required'],
      ['code', 6, 'StatusCode', 'required'],
      ['meta_resp', 7, 'MetaResponse', 'optional'],
      ['file_resp', 8, 'FileResponse', 'optional'],
    ],
  },
};

function toJson(specs: Record<string, MsgSpec | EnumSpec>, lenient: boolean): protobuf.INamespace {
  const nested: Record<string, protobuf.AnyNestedObject> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if ('values' in spec) {
      nested[name] = { values: spec.values };
      continue;
    }
    const fields: Record<string, protobuf.IField & { rule?: string }> = {};
    for (const [fname, id, type, rule] of spec.fields) {
      const r = lenient && rule === 'required' ? 'optional' : rule;
      fields[fname] = { id, type, ...(r === 'optional' ? {} : { rule: r }) };
    }
    const msg: protobuf.IType & { nested?: protobuf.INamespace['nested'] } = { fields };
    if (spec.nested) msg.nested = toJson(spec.nested, lenient).nested;
    nested[name] = msg;
  }
  return { nested };
}

function build(lenient: boolean): protobuf.Root {
  const root = protobuf.Root.fromJSON({
    options: { syntax: 'proto2' },
    nested: {
      InnerMessage: toJson(innerMessage, lenient),
      RsyncService: toJson(rsyncService, lenient),
    },
  } as protobuf.INamespace);
  root.resolveAll();
  return root;
}

const strictRoot = build(false);
const lenientRoot = build(true);

export const strictTypes = {
  InnerRequest: strictRoot.lookupType('InnerMessage.InnerRequest'),
  InnerResponse: strictRoot.lookupType('InnerMessage.InnerResponse'),
  RsyncRequest: strictRoot.lookupType('RsyncService.RsyncRequest'),
  RsyncResponse: strictRoot.lookupType('RsyncService.RsyncResponse'),
};
export const lenientTypes = {
  InnerRequest: lenientRoot.lookupType('InnerMessage.InnerRequest'),
  InnerResponse: lenientRoot.lookupType('InnerMessage.InnerResponse'),
  /** One element of InnerResponse's repeated `binlog_sync`, for a message decoded as it arrives. */
  BinlogSyncElement: lenientRoot.lookupType('InnerMessage.InnerResponse.BinlogSync'),
  RsyncRequest: lenientRoot.lookupType('RsyncService.RsyncRequest'),
  RsyncResponse: lenientRoot.lookupType('RsyncService.RsyncResponse'),
};
