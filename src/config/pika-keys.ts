/**
 * Pika's own conf keys, 3.2.0 … 4.0.1: every key of conf/pika.conf (set or commented out) and every
 * key src/pika_conf.cc reads, at each release tag. An operator's pika.conf holds these; pika-migrate
 * accepts them without a word, while any other key it does not know is likely a typo and is warned
 * about (config/load.ts).
 */
export const PIKA_KEYS: ReadonlySet<string> = new Set([
  'acl-pubsub-default', 'aclfile', 'acllog-max-len', 'admin-cmd-list', 'admin-thread-pool-size',
  'arena-block-size', 'binlog-file-size', 'binlog-writer-num', 'blob-cache', 'blob-compression-type',
  'blob-file-size', 'blob-garbage-collection-age-cutoff', 'blob-garbage-collection-force-threshold',
  'blob-num-shard-bits', 'block-cache', 'block-size', 'cache-index-and-filter-blocks',
  'cache-lfu-decay-time', 'cache-maxmemory', 'cache-maxmemory-policy', 'cache-maxmemory-samples',
  'cache-model', 'cache-num', 'cache-type', 'compact-cron', 'compact-interval', 'compression',
  'consensus-level', 'daemonize', 'databases', 'db-instance-num', 'db-path', 'db-statistics-level',
  'db-sync-path', 'db-sync-speed', 'default-slot-num', 'delayed-write-rate', 'dump-expire', 'dump-path',
  'dump-prefix', 'enable-blob-files', 'enable-blob-garbage-collection', 'enable-db-statistics',
  'enable-partitioned-index-filters', 'expire-logs-days', 'expire-logs-nums', 'instance-mode',
  'internal-used-unfinished-full-sync', 'least-free-disk-resume-size',
  'level-compaction-dynamic-level-bytes', 'level0-file-num-compaction-trigger',
  'level0-slowdown-writes-trigger', 'level0-stop-writes-trigger', 'log-path', 'log-retention-time',
  'loglevel', 'manually-resume-interval', 'master-run-id', 'masterauth', 'max-background-compactions',
  'max-background-flushes', 'max-background-jobs', 'max-bytes-for-level-multiplier', 'max-cache-files',
  'max-cache-statistic-keys', 'max-client-response-size', 'max-compaction-bytes', 'max-conn-rbuf-size',
  'max-rsync-parallel-num', 'max-subcompactions', 'max-total-wal-size', 'max-write-buffer-num',
  'max-write-buffer-number', 'max-write-buffer-size', 'maxclients', 'min-blob-size',
  'min-check-resume-ratio', 'min-write-buffer-number-to-merge', 'network-interface', 'num-shard-bits',
  'optimize-filters-for-hits', 'pidfile', 'port', 'rate-limiter-auto-tuned', 'rate-limiter-bandwidth',
  'rate-limiter-fairness', 'rate-limiter-mode', 'rate-limiter-refill-period-us', 'rename-command',
  'replication-id', 'replication-num', 'requirepass', 'rocksdb-periodic-second', 'rocksdb-ttl-second',
  'root-connection-num', 'rsync-timeout-ms', 'rtc-cache-read', 'run-id', 'server-id', 'share-block-cache',
  'slave-priority', 'slaveof', 'slotmigrate', 'slotmigrate-thread-num', 'slow-cmd-list', 'slow-cmd-pool',
  'slow-cmd-thread-pool-size', 'slowlog-log-slower-than', 'slowlog-max-len', 'slowlog-write-errorlog',
  'small-compaction-duration-threshold', 'small-compaction-threshold', 'sync-binlog-thread-num',
  'sync-thread-num', 'sync-window-size', 'target-file-size-base', 'thread-migrate-keys-num', 'thread-num',
  'thread-pool-size', 'throttle-bytes-per-second', 'timeout', 'user', 'userblacklist', 'userpass',
  'wash-data', 'write-binlog', 'write-buffer-size', 'zset-cache-field-num-per-key',
  'zset-cache-start-direction',
]);
