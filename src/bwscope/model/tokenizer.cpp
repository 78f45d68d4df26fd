// Byte-level BPE as Hugging Face tokenizers computes it for Llama 3 (tokenizer.json: added
// tokens split first, a Split pre-tokenizer with the regex below, ByteLevel, BPE with
// "ignore_merges": true), which tiktoken's cl100k-style encoder also gives.
#include "bwscope/model/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <functional>

#include "bwscope/base/error.h"

namespace bwscope {
namespace {

// Unicode White_Space, which HF's Oniguruma (and tiktoken's Rust regex) mean by \s. PCRE2's
// \s under UCP also takes U+180E (Mongolian vowel separator, not a space since Unicode 6.3), the
// only difference over all code points, so the class is spelled out and \S is [^ws].
#define BWSCOPE_WS "\\t-\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
// Llama 3's pre-tokenizer (tokenizer.json pre_tokenizer.Split; llama.cpp's LLAMA3 pre type):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
constexpr const char* kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" BWSCOPE_WS "\\p{L}\\p{N}]+[\\r\\n]*"
    "|[" BWSCOPE_WS "]*[\\r\\n]+|[" BWSCOPE_WS "]+(?![^" BWSCOPE_WS "])|[" BWSCOPE_WS "]+";
// GPT-2's (the ByteLevel pre-tokenizer with use_regex):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" BWSCOPE_WS "\\p{L}\\p{N}]+|[" BWSCOPE_WS "]+(?![^" BWSCOPE_WS "])|[" BWSCOPE_WS "]+";
#undef BWSCOPE_WS

struct PreTokenizer {
  const char* pattern;
  bool ignore_merges;  // a piece that is itself a token is taken whole (HF "ignore_merges")
};

// The pre-tokenizer names of GGUF's tokenizer.ggml.pre, grouped as llama.cpp does.
PreTokenizer pre_tokenizer(const std::string& name) {
  for (const char* n : {"llama-bpe", "llama3", "llama-v3", "falcon3"})
    if (name == n) return {kLlama3Pattern, true};
  if (name == "smaug-bpe" || name == "dbrx") return {kLlama3Pattern, false};
  if (name == "gpt2") return {kGpt2Pattern, false};
  fail("tokenizer: pre-tokenizer '{}' is not supported (llama-bpe, llama3, llama-v3, falcon3, smaug-bpe, dbrx, gpt2)", name);
}

// GPT-2's byte -> code point table: printable bytes stand for themselves, the other 68 are
// moved to 256 + n in byte order so that every byte is a visible character.
struct ByteMap {
  std::array<uint32_t, 256> code_point{};
  std::array<int16_t, 324> byte_of{};  // code point -> byte, -1 when none (all code points < 324)
  ByteMap() {
    byte_of.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      code_point[b] = printable ? b : next++;
      byte_of[code_point[b]] = int16_t(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

void append_utf8(std::string& s, uint32_t cp) {  // only needs code points below U+0800
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xc0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3f));
  }
}

// Id lookup by string, for strings owned elsewhere (token texts, raw bytes) that outlive the
// table: open addressing over (hash, id) slots, the string compared through the owner. Flat,
// so building it and probing it touch far fewer cache lines than a node-based map.
class StringIds {
 public:
  explicit StringIds(const std::vector<std::string>* owner = nullptr) : owner_(owner) {}
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    slots_.assign(cap, Slot{0, -1});
  }
  // Keeps the first id of a repeated string.
  void insert(int32_t id) {
    const std::string_view key = (*owner_)[size_t(id)];
    const uint32_t h = hash(key);
    size_t i = h & (slots_.size() - 1);
    for (; slots_[i].id >= 0; i = (i + 1) & (slots_.size() - 1))
      if (slots_[i].hash == h && (*owner_)[size_t(slots_[i].id)] == key) return;
    slots_[i] = {h, id};
  }
  std::optional<int32_t> find(std::string_view key) const {
    const uint32_t h = hash(key);
    for (size_t i = h & (slots_.size() - 1); slots_[i].id >= 0; i = (i + 1) & (slots_.size() - 1))
      if (slots_[i].hash == h && (*owner_)[size_t(slots_[i].id)] == key) return slots_[i].id;
    return std::nullopt;
  }

 private:
  struct Slot {
    uint32_t hash;
    int32_t id;  // -1: empty
  };
  static uint32_t hash(std::string_view s) {  // FNV-1a, then a multiplicative mix for the low bits
    uint64_t h = 0xcbf29ce484222325ull;
    for (char c : s) h = (h ^ uint8_t(c)) * 0x100000001b3ull;
    return uint32_t((h * 0x9e3779b97f4a7c15ull) >> 32);
  }
  const std::vector<std::string>* owner_;
  std::vector<Slot> slots_;
};

struct Merge {
  int32_t rank;
  int32_t id;  // the merged token
};

// (left id, right id) -> Merge: open addressing with linear probing, built once, then read-only.
// Several times faster to build and to probe than std::unordered_map for 280k merges.
class MergeTable {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    slots_.assign(cap, Slot{kEmpty, {}});
  }
  // Keeps the first merge of a pair (the lowest rank), as HF does for a repeated merge.
  void insert(int32_t left, int32_t right, Merge m) {
    for (size_t i = index(key(left, right));; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].key == key(left, right)) return;
      if (slots_[i].key == kEmpty) {
        slots_[i] = {key(left, right), m};
        return;
      }
    }
  }
  const Merge* find(int32_t left, int32_t right) const {
    for (size_t i = index(key(left, right));; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].key == key(left, right)) return &slots_[i].merge;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);  // ids are non-negative: no pair has this key
  struct Slot {
    uint64_t key;
    Merge merge;
  };
  static uint64_t key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }
  size_t index(uint64_t k) const { return size_t((k * 0x9e3779b97f4a7c15ull) >> 32) & (slots_.size() - 1); }
  std::vector<Slot> slots_;
};

struct Special {
  std::string text;
  int32_t id;
};

// Specials whose text can be matched in the input, indexed by first byte, longest first.
struct SpecialIndex {
  std::array<std::vector<Special>, 256> by_first_byte;
  bool empty = true;
  void add(const std::string& text, int32_t id) {
    by_first_byte[uint8_t(text[0])].push_back({text, id});
    empty = false;
  }
  void sort() {
    for (auto& v : by_first_byte)
      std::stable_sort(v.begin(), v.end(), [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });
  }
  const Special* match(std::string_view text, size_t at) const {
    for (const Special& s : by_first_byte[uint8_t(text[at])])
      if (text.substr(at).starts_with(s.text)) return &s;
    return nullptr;
  }
};

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

// One BPE symbol in a doubly linked list over a piece's bytes.
struct Symbol {
  int32_t id;  // -1 once merged into its left neighbour
  int32_t prev, next;
};
// A candidate merge of symbols[pos] with its right neighbour, as recorded when pushed.
struct Candidate {
  int32_t rank, pos, left, right;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

std::string byte_to_token_text(uint8_t b) {
  std::string s;
  append_utf8(s, byte_map().code_point[b]);
  return s;
}

std::optional<std::string> token_text_to_bytes(std::string_view text) {
  const ByteMap& m = byte_map();
  std::string raw;
  for (size_t i = 0; i < text.size();) {
    const auto c = uint8_t(text[i]);
    uint32_t cp = c;
    size_t len = 1;
    if (c >= 0x80) {  // the mapping only uses 1- and 2-byte UTF-8
      if ((c >> 5) != 6 || i + 1 >= text.size() || (uint8_t(text[i + 1]) & 0xc0) != 0x80) return std::nullopt;
      cp = ((c & 0x1fu) << 6) | (uint8_t(text[i + 1]) & 0x3fu);
      len = 2;
    }
    if (cp >= m.byte_of.size() || m.byte_of[cp] < 0) return std::nullopt;
    raw += char(m.byte_of[cp]);
    i += len;
  }
  return raw;
}

struct Tokenizer::Impl {
  Impl() = default;
  Impl(const Impl&) = delete;  // the maps view strings inside: it must stay where it is built
  Impl& operator=(const Impl&) = delete;

  TokenizerData data;
  std::vector<std::string> bytes;            // id -> raw bytes (specials: their text)
  StringIds text_ids{&data.tokens};          // byte-level text -> id, every token
  StringIds bpe_ids{&bytes};                 // raw bytes -> id, the tokens BPE may produce
  MergeTable merges;                         // (left id, right id) -> rank and result
  std::array<int32_t, 256> byte_ids{};
  SpecialIndex always;                       // user-defined tokens: matched in any text
  SpecialIndex with_control;                 // user-defined and control: with parse_special
  std::unique_ptr<pcre2_code, CodeDeleter> re;
  bool jit = false;
  bool ignore_merges = true;

  void encode_text(std::string_view text, std::vector<int32_t>& out) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out, std::vector<Symbol>& symbols,
                    std::vector<Candidate>& heap) const;
};

Tokenizer::Tokenizer(TokenizerData data) {
  auto impl = std::make_shared<Impl>();
  Impl& m = *impl;
  m.data = std::move(data);
  const TokenizerData& d = m.data;
  const auto n = int64_t(d.tokens.size());
  if (n == 0) fail("tokenizer: the vocabulary is empty");
  if (n > INT32_MAX) fail("tokenizer: {} tokens is more than 32-bit ids hold", n);
  if (!d.token_types.empty() && d.token_types.size() != d.tokens.size())
    fail("tokenizer: {} token types for {} tokens", d.token_types.size(), d.tokens.size());
  for (auto [name, id] : {std::pair{"bos", d.bos_id}, {"eos", d.eos_id}, {"eot", d.eot_id}})
    if (id < -1 || id >= n) fail("tokenizer: {} id {} is outside the vocabulary (0..{})", name, id, n - 1);
  const PreTokenizer pre = pre_tokenizer(d.pre);
  m.ignore_merges = pre.ignore_merges;

  m.bytes.resize(size_t(n));  // sized once: bpe_ids views these strings
  m.text_ids.reserve(size_t(n));
  m.bpe_ids.reserve(size_t(n));
  for (int32_t id = 0; id < int32_t(n); ++id) {
    const std::string& text = d.tokens[size_t(id)];
    m.text_ids.insert(id);  // the first id wins for a repeated text
    int32_t type = d.token_types.empty() ? 1 : d.token_types[size_t(id)];
    // Without types, the named special tokens still are control tokens.
    if (d.token_types.empty() && (id == d.bos_id || id == d.eos_id || id == d.eot_id)) type = 3;
    if (type == 3 || type == 4) {  // control / user-defined: literal text, matched whole
      m.bytes[size_t(id)] = text;
      if (text.empty()) continue;
      m.with_control.add(text, id);
      if (type == 4) m.always.add(text, id);
      continue;
    }
    auto raw = token_text_to_bytes(text);
    m.bytes[size_t(id)] = raw ? *raw : text;  // not byte-level text: decode gives it as written
    // Normal (1), byte (6) and undefined (0) tokens take part in BPE; unknown (2) and unused (5) do not.
    if (raw && !raw->empty() && (type == 0 || type == 1 || type == 6)) m.bpe_ids.insert(id);
  }
  m.always.sort();
  m.with_control.sort();
  for (int b = 0; b < 256; ++b) {
    const char byte = char(b);
    const auto id = m.bpe_ids.find(std::string_view(&byte, 1));
    if (!id)
      fail("tokenizer: no token for byte 0x{:02x} ('{}'): not a byte-level BPE vocabulary", b, byte_to_token_text(uint8_t(b)));
    m.byte_ids[size_t(b)] = *id;
  }

  m.merges.reserve(d.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < d.merges.size(); ++rank) {
    const std::string& merge = d.merges[rank];
    const size_t space = merge.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == merge.size() || merge.find(' ', space + 1) != std::string::npos)
      fail("tokenizer: merge {} '{}' is not two tokens separated by one space", rank, merge);
    const std::string_view left(merge.data(), space), right(merge.data() + space + 1, merge.size() - space - 1);
    joined.assign(left).append(right);
    const auto a = m.text_ids.find(left), b = m.text_ids.find(right), ab = m.text_ids.find(joined);
    for (auto [id, name] : {std::pair{a, left}, {b, right}})
      if (!id) fail("tokenizer: merge {} '{}' names '{}', which is not in the vocabulary", rank, merge, name);
    if (!ab) fail("tokenizer: merge {} '{}' makes '{}', which is not in the vocabulary", rank, merge, joined);
    m.merges.insert(*a, *b, Merge{int32_t(rank), *ab});
  }

  int err = 0;
  PCRE2_SIZE err_offset = 0;
  m.re.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pre.pattern), PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_offset, nullptr));
  if (!m.re) fail("tokenizer: PCRE2 cannot compile the pre-tokenizer pattern (error {} at {})", err, err_offset);
  m.jit = pcre2_jit_compile(m.re.get(), PCRE2_JIT_COMPLETE) == 0;  // the interpreter serves where JIT cannot
  impl_ = std::move(impl);
}

// Merges the lowest-ranked adjacent pair first (the leftmost among equal ranks), as HF's
// BPE::merge_word does, until no adjacent pair has a merge.
void Tokenizer::Impl::encode_piece(std::string_view piece, std::vector<int32_t>& out, std::vector<Symbol>& symbols,
                                   std::vector<Candidate>& heap) const {
  if (piece.empty()) return;
  if (ignore_merges || piece.size() == 1)
    if (const auto id = bpe_ids.find(piece)) {
      out.push_back(*id);
      return;
    }
  const auto n = int32_t(piece.size());
  symbols.clear();
  heap.clear();
  for (int32_t i = 0; i < n; ++i) symbols.push_back({byte_ids[uint8_t(piece[size_t(i)])], i - 1, i + 1 < n ? i + 1 : -1});
  auto push = [&](int32_t pos) {
    const int32_t next = symbols[size_t(pos)].next;
    if (next < 0) return;
    const int32_t left = symbols[size_t(pos)].id, right = symbols[size_t(next)].id;
    const Merge* merge = merges.find(left, right);
    if (!merge) return;
    heap.push_back({merge->rank, pos, left, right});
    std::push_heap(heap.begin(), heap.end(), std::greater<>{});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& s = symbols[size_t(c.pos)];
    // Stale when either side has changed since the push: a symbol's id only ever grows.
    if (s.id != c.left || s.next < 0 || symbols[size_t(s.next)].id != c.right) continue;
    Symbol& r = symbols[size_t(s.next)];
    s.id = merges.find(c.left, c.right)->id;
    r.id = -1;
    s.next = r.next;
    if (s.next >= 0) symbols[size_t(s.next)].prev = c.pos;
    if (s.prev >= 0) push(s.prev);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[size_t(i)].next) out.push_back(symbols[size_t(i)].id);
}

// Pre-tokenizes text (no special tokens in it) and encodes each piece. With
// PCRE2_MATCH_INVALID_UTF an invalid UTF-8 sequence never matches, so the bytes between two
// matches are exactly such sequences: they become a piece of their own and still round-trip.
void Tokenizer::Impl::encode_text(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(pcre2_match_data_create_from_pattern(re.get(), nullptr));
  if (!md) fail("tokenizer: out of memory for PCRE2 match data");
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    const int rc = jit ? pcre2_jit_match(re.get(), subject, text.size(), pos, 0, md.get(), nullptr)
                       : pcre2_match(re.get(), subject, text.size(), pos, 0, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      encode_piece(text.substr(pos), out, symbols, heap);
      break;
    }
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      fail("tokenizer: pre-tokenizer match failed at byte {}: {}", pos, reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t begin = ov[0], end = std::max<size_t>(ov[1], begin + 1);  // no alternative matches empty text
    encode_piece(text.substr(pos, begin - pos), out, symbols, heap);
    encode_piece(text.substr(begin, end - begin), out, symbols, heap);
    pos = end;
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos) {
    if (m.data.bos_id < 0) fail("tokenizer: asked to add BOS but the vocabulary has no BOS token");
    out.push_back(m.data.bos_id);
  }
  // Added tokens are split out first (leftmost, then longest), as HF's AddedVocabulary does.
  const SpecialIndex& specials = parse_special ? m.with_control : m.always;
  size_t start = 0;
  if (!specials.empty) {
    for (size_t i = 0; i < text.size();) {
      const Special* hit = specials.match(text, i);
      if (!hit) {
        ++i;
        continue;
      }
      m.encode_text(text.substr(start, i - start), out);
      out.push_back(hit->id);
      i += hit->text.size();
      start = i;
    }
  }
  m.encode_text(text.substr(start), out);
  return out;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= n_vocab()) fail("tokenizer: token id {} is outside the vocabulary (0..{})", id, n_vocab() - 1);
  return impl_->bytes[size_t(id)];
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string s;
  for (int32_t id : ids) s += token_bytes(id);
  return s;
}

int32_t Tokenizer::n_vocab() const { return int32_t(impl_->data.tokens.size()); }
int32_t Tokenizer::bos_id() const { return impl_->data.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->data.eos_id; }
int32_t Tokenizer::eot_id() const { return impl_->data.eot_id; }
const TokenizerData& Tokenizer::data() const { return impl_->data; }

std::optional<int32_t> Tokenizer::find(std::string_view token_text) const {
  return impl_->text_ids.find(token_text);
}

TokenizerData byte_level_tokenizer(int32_t n_vocab) {
  if (n_vocab < 259) fail("tokenizer: a byte-level stand-in needs a vocabulary of at least 259 tokens (got {})", n_vocab);
  TokenizerData t;
  t.tokens.reserve(size_t(n_vocab));
  for (int b = 0; b < 256; ++b) t.tokens.push_back(byte_to_token_text(uint8_t(b)));
  t.token_types.assign(256, 1);
  for (int32_t id = 256; id < n_vocab; ++id) {
    t.tokens.push_back("<|filler_" + std::to_string(id) + "|>");
    t.token_types.push_back(3);
  }
  const bool llama3_layout = n_vocab >= 512;
  t.bos_id = llama3_layout ? n_vocab - 256 : 256;
  t.eos_id = llama3_layout ? n_vocab - 255 : 257;
  t.eot_id = llama3_layout ? n_vocab - 247 : 258;
  t.tokens[size_t(t.bos_id)] = "<|begin_of_text|>";
  t.tokens[size_t(t.eos_id)] = "<|end_of_text|>";
  t.tokens[size_t(t.eot_id)] = "<|eot_id|>";
  return t;
}

}  // namespace bwscope
