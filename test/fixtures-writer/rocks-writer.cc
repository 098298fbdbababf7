// Test-fixture writer: builds a RocksDB directory through the real library (Debian librocksdb-dev)
// from a line-based script, and dumps the live content of every column family as RocksDB itself
// iterates it. Generic (not Pika-specific): keys, values and options come from the script.
//
// usage: rocks-writer <db-dir> <script-file>
//
// Script lines (blank lines and '#' comments ignored). Tokens are separated by spaces. A byte
// string token is text, or `x:<hex>` for raw bytes.
//   option <name> <value>      before `open`: format_version N | checksum crc32c|xxhash|xxhash64|xxh3|none
//                              | compression none|snappy|zlib|lz4|lz4hc|zstd | index binary|two_level|first_key
//                              | block_size N | metadata_block_size N | restart_interval N
//                              | index_restart_interval N | write_buffer_size N | bloom 0|1
//                              | values random|text|runs (text: words, so big values' blocks
//                              compress; runs: one byte repeated, so they compress 20-250×)
//   cf <name> [bytewise|reverse|merge|pika-lists3|pika-zscore3|pika-lists4|pika-zscore4]
//                                       declare a column family (before `open`); `default` may be
//                                       re-declared to change its comparator / merge operator; the
//                                       pika-* kinds are Pika's comparators (3.x / 4.0) by their names
//   open
//   put <cf> <key> <value>
//   putn <cf> <prefix> <start> <count> <value-size> <seed> [suffix]   keys prefix%08d,
//                                       deterministic values, each followed by the bytes of suffix
//   bigput <cf> <key> <size> <seed>     one value of <size> deterministic bytes
//   del <cf> <key> | sdel <cf> <key> | delrange <cf> <begin> <end> | merge <cf> <key> <value>
//   deln <cf> <prefix> <start> <count> <step>    delete prefix%08d for start, start+step, …
//   snapshot                            hold a snapshot until close (keeps old versions in SSTs)
//   flush [cf]                          flush one CF (default: all)
//   compact <cf> [target_level]         CompactRange over the whole CF
//   dump <file>                         write the live content (see below) as RocksDB iterates it
//   checkpoint <dir>                    Checkpoint::CreateCheckpoint (WALs copied, no flush)
//   close                               close without flushing (unflushed data stays in the WAL)
//
// Dump format, per CF in creation order: `cf <name> <count>` then one `<hex key> <hex value>` line
// per live pair (values over 4096 bytes as `len:<n>:fnv:<fnv1a-64 hex>`).

#include <rocksdb/comparator.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace rocksdb;

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "rocks-writer: " << msg << std::endl;
  std::exit(1);
}

void check(const Status& s, const std::string& what) {
  if (!s.ok()) die(what + ": " + s.ToString());
}

// Reverse bytewise order under a custom name, to prove that readers apply the CF's comparator.
class ReverseComparator : public Comparator {
 public:
  const char* Name() const override { return "test.ReverseBytewiseComparator"; }
  int Compare(const Slice& a, const Slice& b) const override { return -a.compare(b); }
  void FindShortestSeparator(std::string*, const Slice&) const override {}
  void FindShortSuccessor(std::string*) const override {}
};

// ---- Pika's custom comparators, written from storage.md §2.2 and §2.3.6 under Pika's names, so
// the lists and zset-score column families of a fixture sort exactly as a real Pika's do. ----

// Little-endian read of n bytes at off, bytes past the end reading as zero.
uint64_t leAt(const Slice& s, size_t off, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | (off + i < s.size() ? static_cast<unsigned char>(s[off + i]) : 0);
  return v;
}

double doubleAt(const Slice& s, size_t off) {
  uint64_t bits = leAt(s, off, 8);
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

int cmpBytes(const Slice& a, size_t as, size_t ae, const Slice& b, size_t bs, size_t be) {
  Slice x(a.data() + as, ae > as ? ae - as : 0), y(b.data() + bs, be > bs ? be - bs : 0);
  int c = x.compare(y);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

// 0 when both keys end at the given offsets, -1/1 when only one does, 2 when neither does.
int endRule(const Slice& a, size_t ap, const Slice& b, size_t bp) {
  bool ae = ap >= a.size(), be = bp >= b.size();
  if (ae && be) return 0;
  if (ae) return -1;
  if (be) return 1;
  return 2;
}

int cmpU64(uint64_t x, uint64_t y) { return x < y ? -1 : x > y ? 1 : 0; }

// Offset just past the 00 00 delimiter of E(key) starting at from (from itself when none).
size_t delimEnd(const Slice& s, size_t from) {
  for (size_t i = from; i + 1 < s.size(); i++) {
    if (s[i] == 0 && s[i + 1] == 0) return i + 2;
    if (s[i] == 0) i++;  // 00 01 escape
  }
  return from;
}

class PikaComparator : public Comparator {
 public:
  void FindShortestSeparator(std::string*, const Slice&) const override {}
  void FindShortSuccessor(std::string*) const override {}
};

// A–C lists data_cf: len:u32 ‖ key ‖ version:i32 ‖ index:u64 (the length is not compared).
class Lists3 : public PikaComparator {
 public:
  const char* Name() const override { return "blackwidow.ListsDataKeyComparator"; }
  int Compare(const Slice& a, const Slice& b) const override {
    size_t ae = std::min<size_t>(a.size(), 4 + leAt(a, 0, 4)), be = std::min<size_t>(b.size(), 4 + leAt(b, 0, 4));
    int c = cmpBytes(a, std::min<size_t>(4, a.size()), ae, b, std::min<size_t>(4, b.size()), be);
    if (c != 0) return c;
    if (int e = endRule(a, ae, b, be); e != 2) return e;
    int32_t va = static_cast<int32_t>(leAt(a, ae, 4)), vb = static_cast<int32_t>(leAt(b, be, 4));
    if (va != vb) return va < vb ? -1 : 1;
    if (int e = endRule(a, ae + 4, b, be + 4); e != 2) return e;
    return cmpU64(leAt(a, ae + 4, 8), leAt(b, be + 4, 8));
  }
};

// A–C zsets score_cf: len:u32 ‖ key ‖ version:i32 ‖ score:f64 ‖ member.
class ZScore3 : public PikaComparator {
 public:
  const char* Name() const override { return "blackwidow.ZSetsScoreKeyComparator"; }
  int Compare(const Slice& a, const Slice& b) const override {
    size_t ap = std::min<size_t>(a.size(), 8 + leAt(a, 0, 4)), bp = std::min<size_t>(b.size(), 8 + leAt(b, 0, 4));
    int c = cmpBytes(a, 0, ap, b, 0, bp);
    if (c != 0) return c;
    double sa = doubleAt(a, ap), sb = doubleAt(b, bp);
    if (sa != sb) return sa < sb ? -1 : 1;
    if (int e = endRule(a, ap + 8, b, bp + 8); e != 2) return e;
    return cmpBytes(a, ap + 8, a.size(), b, bp + 8, b.size());
  }
};

// D list_data_cf: 00×8 ‖ E(key) ‖ version:u64 ‖ index:u64 ‖ 00×16 (the tail is not compared).
class Lists4 : public PikaComparator {
 public:
  const char* Name() const override { return "floyd.ListsDataKeyComparator"; }
  int Compare(const Slice& a, const Slice& b) const override {
    size_t ap = delimEnd(a, std::min<size_t>(8, a.size())), bp = delimEnd(b, std::min<size_t>(8, b.size()));
    int c = cmpBytes(a, 0, ap, b, 0, bp);
    if (c != 0) return c;
    if (int e = endRule(a, ap, b, bp); e != 2) return e;
    if (int v = cmpU64(leAt(a, ap, 8), leAt(b, bp, 8)); v != 0) return v;
    if (int e = endRule(a, ap + 8, b, bp + 8); e != 2) return e;
    return cmpU64(leAt(a, ap + 8, 8), leAt(b, bp + 8, 8));
  }
};

// D zset_score_cf: 00×8 ‖ E(key) ‖ version:u64 ‖ score:f64 ‖ member ‖ 00×16.
class ZScore4 : public PikaComparator {
 public:
  const char* Name() const override { return "floyd.ZSetsScoreKeyComparator"; }
  int Compare(const Slice& a, const Slice& b) const override {
    size_t as = std::min<size_t>(8, a.size()), bs = std::min<size_t>(8, b.size());
    size_t ap = delimEnd(a, as), bp = delimEnd(b, bs);
    int c = cmpBytes(a, as, ap, b, bs, bp);
    if (c != 0) return c;
    if (int v = cmpU64(leAt(a, ap, 8), leAt(b, bp, 8)); v != 0) return v;
    double sa = doubleAt(a, ap + 8), sb = doubleAt(b, bp + 8);
    if (sa != sb) return sa < sb ? -1 : 1;
    return cmpBytes(a, std::min(ap + 16, a.size()), a.size(), b, std::min(bp + 16, b.size()), b.size());
  }
};

// Concatenating merge operator, only so that merge operands can be written.
class ConcatMerge : public AssociativeMergeOperator {
 public:
  bool Merge(const Slice&, const Slice* existing, const Slice& value, std::string* out,
             Logger*) const override {
    out->clear();
    if (existing) out->assign(existing->data(), existing->size());
    out->append(value.data(), value.size());
    return true;
  }
  const char* Name() const override { return "test.ConcatMerge"; }
};

std::string bytesOf(const std::string& tok) {
  if (tok.rfind("x:", 0) != 0) return tok;
  std::string out;
  for (size_t i = 2; i + 1 < tok.size(); i += 2) out.push_back(static_cast<char>(std::stoi(tok.substr(i, 2), nullptr, 16)));
  return out;
}

// `option values text`: values are words, which snappy shrinks enough for RocksDB to keep a big
// value's block compressed (the default bytes shrink too little, so such blocks stay uncompressed).
bool textValues = false;
// `option values runs`: each value one byte repeated (a block LZ4 or snappy packs 20-250×).
bool runValues = false;

// Deterministic pseudo-random bytes (xorshift64*), compressible enough to exercise codecs.
std::string genValue(size_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  if (runValues) return std::string(size, static_cast<char>('a' + seed % 26));
  if (textValues) {
    static const char* words[16] = {"pika",  "redis", "rocks", "value", "key",  "table", "block", "merge",
                                    "level", "flush", "write", "sync",  "hash", "list",  "set",   "zset"};
    size_t i = 0;
    while (i < size) {
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      const char* w = words[(x * 0x2545F4914F6CDD1Dull) >> 60];
      for (const char* c = w; *c && i < size; c++) out[i++] = *c;
      if (i < size) out[i++] = static_cast<char>('0' + (x & 7));
    }
    return out;
  }
  for (size_t i = 0; i < size; i++) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t r = x * 0x2545F4914F6CDD1Dull;
    // half the bytes from a small alphabet so blocks compress
    out[i] = (i & 1) ? static_cast<char>('a' + (r >> 59)) : static_cast<char>(r >> 56);
  }
  return out;
}

std::string hex(const Slice& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

uint64_t fnv1a(const Slice& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < s.size(); i++) {
    h ^= static_cast<unsigned char>(s[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string keyN(const std::string& prefix, long n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08ld", n);
  return prefix + buf;
}

struct CfDecl {
  std::string name;
  std::string kind = "bytewise";
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) die("usage: rocks-writer <db-dir> <script-file>");
  const std::string dir = argv[1];
  std::ifstream script(argv[2]);
  if (!script) die(std::string("cannot read ") + argv[2]);

  ReverseComparator reverse;
  Lists3 lists3;
  ZScore3 zscore3;
  Lists4 lists4;
  ZScore4 zscore4;
  std::shared_ptr<MergeOperator> concat = std::make_shared<ConcatMerge>();
  Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.disable_auto_compactions = true;
  options.avoid_flush_during_shutdown = true;
  options.compression_per_level.clear();
  BlockBasedTableOptions table;
  bool bloom = false;
  std::vector<CfDecl> cfs{{"default", "bytewise"}};

  DB* db = nullptr;
  std::map<std::string, ColumnFamilyHandle*> handles;
  std::vector<ColumnFamilyHandle*> handleList;
  std::vector<const Snapshot*> snapshots;
  WriteOptions wo;

  auto cf = [&](const std::string& name) -> ColumnFamilyHandle* {
    auto it = handles.find(name);
    if (it == handles.end()) die("unknown column family " + name);
    return it->second;
  };

  std::string line;
  int lineNo = 0;
  while (std::getline(script, line)) {
    lineNo++;
    std::istringstream in(line);
    std::string cmd;
    if (!(in >> cmd) || cmd[0] == '#') continue;
    std::vector<std::string> a;
    for (std::string t; in >> t;) a.push_back(t);
    auto need = [&](size_t n) {
      if (a.size() < n) die("line " + std::to_string(lineNo) + ": " + cmd + " needs " + std::to_string(n) + " arguments");
    };
    if (cmd == "option") {
      need(2);
      const std::string& k = a[0];
      const std::string& v = a[1];
      if (k == "format_version") table.format_version = std::stoi(v);
      else if (k == "checksum") {
        table.checksum = v == "crc32c" ? kCRC32c : v == "xxhash" ? kxxHash : v == "xxhash64" ? kxxHash64 : v == "xxh3" ? kXXH3 : kNoChecksum;
      } else if (k == "compression") {
        options.compression = v == "snappy" ? kSnappyCompression
                              : v == "zlib" ? kZlibCompression
                              : v == "lz4"  ? kLZ4Compression
                              : v == "lz4hc" ? kLZ4HCCompression
                              : v == "zstd" ? kZSTD
                                            : kNoCompression;
      } else if (k == "index") {
        table.index_type = v == "two_level" ? BlockBasedTableOptions::kTwoLevelIndexSearch
                           : v == "first_key" ? BlockBasedTableOptions::kBinarySearchWithFirstKey
                                              : BlockBasedTableOptions::kBinarySearch;
      } else if (k == "block_size") table.block_size = std::stoul(v);
      else if (k == "metadata_block_size") table.metadata_block_size = std::stoul(v);
      else if (k == "restart_interval") table.block_restart_interval = std::stoi(v);
      else if (k == "index_restart_interval") table.index_block_restart_interval = std::stoi(v);
      else if (k == "write_buffer_size") options.write_buffer_size = std::stoul(v);
      else if (k == "bloom") bloom = v == "1";
      else if (k == "values") {
        textValues = v == "text";
        runValues = v == "runs";
      }
      else die("unknown option " + k);
    } else if (cmd == "cf") {
      need(1);
      CfDecl d{a[0], a.size() > 1 ? a[1] : "bytewise"};
      if (d.name == "default") cfs[0] = d;
      else cfs.push_back(d);
    } else if (cmd == "open") {
      if (bloom) {
        table.filter_policy.reset(NewBloomFilterPolicy(10, false));
        if (table.index_type == BlockBasedTableOptions::kTwoLevelIndexSearch) table.partition_filters = true;
      }
      options.table_factory.reset(NewBlockBasedTableFactory(table));
      std::vector<ColumnFamilyDescriptor> descs;
      for (const auto& d : cfs) {
        ColumnFamilyOptions co(options);
        if (d.kind == "reverse") co.comparator = &reverse;
        else if (d.kind == "pika-lists3") co.comparator = &lists3;
        else if (d.kind == "pika-zscore3") co.comparator = &zscore3;
        else if (d.kind == "pika-lists4") co.comparator = &lists4;
        else if (d.kind == "pika-zscore4") co.comparator = &zscore4;
        else if (d.kind != "bytewise" && d.kind != "merge") die("unknown column family kind " + d.kind);
        if (d.kind == "merge") co.merge_operator = concat;
        descs.emplace_back(d.name, co);
      }
      DBOptions dbo(options);
      check(DB::Open(dbo, dir, descs, &handleList, &db), "open " + dir);
      for (size_t i = 0; i < cfs.size(); i++) handles[cfs[i].name] = handleList[i];
    } else if (cmd == "put") {
      need(3);
      check(db->Put(wo, cf(a[0]), bytesOf(a[1]), bytesOf(a[2])), "put");
    } else if (cmd == "putn") {
      need(6);
      long start = std::stol(a[2]), count = std::stol(a[3]);
      size_t vsize = std::stoul(a[4]);
      uint64_t seed = std::stoull(a[5]);
      const std::string prefix = bytesOf(a[1]);
      const std::string suffix = a.size() > 6 ? bytesOf(a[6]) : "";
      WriteBatch batch;
      for (long i = start; i < start + count; i++) {
        check(batch.Put(cf(a[0]), keyN(prefix, i), genValue(vsize, seed * 1000003 + i) + suffix), "batch put");
        if (batch.Count() >= 1000) {
          check(db->Write(wo, &batch), "write");
          batch.Clear();
        }
      }
      check(db->Write(wo, &batch), "write");
    } else if (cmd == "bigput") {
      need(4);
      check(db->Put(wo, cf(a[0]), bytesOf(a[1]), genValue(std::stoul(a[2]), std::stoull(a[3]))), "bigput");
    } else if (cmd == "del") {
      need(2);
      check(db->Delete(wo, cf(a[0]), bytesOf(a[1])), "delete");
    } else if (cmd == "deln") {
      need(5);
      long start = std::stol(a[2]), count = std::stol(a[3]), step = std::stol(a[4]);
      for (long i = 0; i < count; i++) check(db->Delete(wo, cf(a[0]), keyN(bytesOf(a[1]), start + i * step)), "delete");
    } else if (cmd == "sdel") {
      need(2);
      check(db->SingleDelete(wo, cf(a[0]), bytesOf(a[1])), "single delete");
    } else if (cmd == "delrange") {
      need(3);
      check(db->DeleteRange(wo, cf(a[0]), bytesOf(a[1]), bytesOf(a[2])), "delete range");
    } else if (cmd == "merge") {
      need(3);
      check(db->Merge(wo, cf(a[0]), bytesOf(a[1]), bytesOf(a[2])), "merge");
    } else if (cmd == "snapshot") {
      snapshots.push_back(db->GetSnapshot());
    } else if (cmd == "flush") {
      FlushOptions fo;
      if (a.empty()) {
        for (auto* h : handleList) check(db->Flush(fo, h), "flush");
      } else {
        check(db->Flush(fo, cf(a[0])), "flush");
      }
    } else if (cmd == "compact") {
      need(1);
      CompactRangeOptions co;
      if (a.size() > 1) {
        co.change_level = true;
        co.target_level = std::stoi(a[1]);
      }
      co.bottommost_level_compaction = BottommostLevelCompaction::kForce;
      check(db->CompactRange(co, cf(a[0]), nullptr, nullptr), "compact");
    } else if (cmd == "dump") {
      need(1);
      std::ofstream out(a[0]);
      for (const auto& d : cfs) {
        ReadOptions ro;
        std::unique_ptr<Iterator> it(db->NewIterator(ro, cf(d.name)));
        std::vector<std::string> lines;
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          Slice v = it->value();
          std::string vs;
          if (v.size() > 4096) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "len:%zu:fnv:%016llx", v.size(), static_cast<unsigned long long>(fnv1a(v)));
            vs = buf;
          } else {
            vs = hex(v);
          }
          lines.push_back(hex(it->key()) + " " + vs);
        }
        check(it->status(), "iterate");
        out << "cf " << d.name << " " << lines.size() << "\n";
        for (const auto& l : lines) out << l << "\n";
      }
      if (!out) die("cannot write dump " + a[0]);
    } else if (cmd == "checkpoint") {
      need(1);
      Checkpoint* cp = nullptr;
      check(Checkpoint::Create(db, &cp), "checkpoint create");
      check(cp->CreateCheckpoint(a[0], UINT64_MAX), "checkpoint");
      delete cp;
    } else if (cmd == "close") {
      for (const auto* s : snapshots) db->ReleaseSnapshot(s);
      snapshots.clear();
      for (auto* h : handleList) check(db->DestroyColumnFamilyHandle(h), "destroy handle");
      handleList.clear();
      handles.clear();
      check(db->Close(), "close");
      delete db;
      db = nullptr;
    } else {
      die("line " + std::to_string(lineNo) + ": unknown command " + cmd);
    }
  }
  if (db) die("script did not close the database");
  return 0;
}
