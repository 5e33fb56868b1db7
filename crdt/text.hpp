#pragma once
// text: a collaborative text — a sequence of Unicode codepoints that several replicas edit at
// once — as a causal delta CRDT like the other rumor types.
//
// Algorithm: FugueMax in its list form (Weidner & Kleppmann, "The Art of the Fugue: Minimizing
// Interleaving in Collaborative Text Editing", 2023; the list form is the YATA-style integration
// with the "scanning" rule that the paper shows equivalent to FugueMax). Each inserted codepoint
// is an item with a unique id (a dot of the text's context) and two origins: the item immediately
// to its left and the one immediately to its right when it was inserted (deleted items included;
// none = the start / the end). A replica places a remote item between its origins by a scan whose
// result does not depend on the order in which concurrent items arrive. Why FugueMax: it is
// maximally non-interleaving — two runs typed concurrently at one position never interleave,
// forwards or backwards (RGA and YATA interleave backward typing) — and its list form keeps the
// items in document order, so local edits cost a position search, not a tree walk.
//
// State: the items in document order (runs of consecutive ids typed left to right, so a typed
// word is one run), items whose origins have not arrived yet ("pending", joined in later), the
// delete set (item ids, as intervals per node) and the causal context. Deleted items stay as
// tombstones (concurrent inserts may name them as origins) but lose their content. join() is the
// union of all three parts: commutative, associative and idempotent (the law suite checks it).
//
// Dots: an insert of n codepoints takes n consecutive dots (its items' ids); a delete takes one
// dot (so the context, and conditional writes that compare it, see every change). A delta holds
// exactly the new items, the ids it deletes and a context of its new dots.
//
// The causal-store interface shared with the other types (value.hpp): store() lists the dots of
// live (not deleted) items. A text built from a context alone, text{store_type{}, ctx}, deletes
// the items whose ids are in ctx — so key deletion (remove_observed) and the dead-dot rule of
// tombstone collection mean for a text what they mean for every other type.
//
// Thread safety: a plain value; no internal synchronisation.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "crdt/dot_context.hpp"
#include "crdt/type_tag.hpp"

namespace rumor::crdt {

// A run of items with consecutive ids id.counter .. id.counter + length - 1, in document order:
// the first item's left origin is `left`, item k > 0's is item k - 1; every item's right origin
// is `right`. {0, 0} as an origin is the start (left) or the end (right). `chars` holds the
// codepoints of the live items in order (deleted items have none).
struct text_run {
  dot id;
  uint64_t length = 0;
  dot left;
  dot right;
  std::u32string chars;

  friend bool operator==(const text_run&, const text_run&) = default;
};

// Item ids as disjoint half-open intervals [first, last) of counters, per node.
class text_id_set {
 public:
  // Adds [first, last); returns the parts that were not in the set yet.
  std::vector<std::pair<uint64_t, uint64_t>> add(node_id n, uint64_t first, uint64_t last);
  bool contains(const dot& d) const;
  // Calls f(node, first, last) for every interval, in (node, first) order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [n, m] : sets_)
      for (const auto& [a, b] : m) f(n, a, b);
  }
  // The intervals of `n` that overlap [first, last), clipped to it.
  std::vector<std::pair<uint64_t, uint64_t>> overlap(node_id n, uint64_t first, uint64_t last) const;
  bool empty() const noexcept { return sets_.empty(); }
  size_t interval_count() const noexcept;

  friend bool operator==(const text_id_set&, const text_id_set&) = default;

 private:
  std::map<node_id, std::map<uint64_t, uint64_t>> sets_;
};

class text {
 public:
  static constexpr type_tag tag = type_tag::text;

  // The causal-store view of a text (see above): the dots of its live items.
  class store_type {
   public:
    store_type() = default;
    explicit store_type(const text* owner) : owner_(owner) {}
    bool empty() const noexcept { return !owner_ || owner_->live_items() == 0; }
    template <class F>
    void for_each_dot(F&& f) const {
      if (owner_) owner_->for_each_live_dot(f);
    }

   private:
    const text* owner_ = nullptr;
  };

  text();
  // REQUIRES: `s` is store_type{} (a text built from a context: deletes the items of `c`).
  text(store_type s, dot_context c);
  text(const text& other);
  text(text&& other);  // leaves `other` empty (allocates its new structure)
  text& operator=(const text& other);
  text& operator=(text&& other);
  ~text();

  // Replaces `del` codepoints at codepoint position `pos` with `ins` (UTF-8) for `self`; returns
  // the delta. errc::invalid_argument when `ins` is not UTF-8 or pos + del exceeds size() (nothing
  // changes).
  result<text> splice(node_id self, uint64_t pos, uint64_t del, std::string_view ins);

  // Live codepoints.
  uint64_t size() const noexcept;  // (a moved-from text is empty)
  // The live content as UTF-8.
  std::string str() const;
  // Live codepoints [pos, pos + count) (clipped) as UTF-8.
  std::string substr(uint64_t pos, uint64_t count) const;

  void join(const text& other);

  // True iff the text changed since a read that returned context `seen` (what a conditional
  // splice checks): something was seen here that the read had not, or the read saw something
  // this text lacks. Dots of `self` that name no edit — ids in the delete set that no item
  // holds, as the replica's first-write seed (replication/replica.cpp) and a text built from a
  // context add them — are not changes: a node's first splice of a key it read is not refused.
  bool changed_since(const dot_context& seen, node_id self) const;

  const dot_context& context() const noexcept { return ctx_; }
  store_type store() const noexcept { return store_type{this}; }
  bool is_bottom() const noexcept;

  // The parts, for the codec: the integrated items as canonical runs in document order (adjacent
  // runs merged whenever they chain: same node, consecutive ids, the second's left origin the
  // first's last item, one right origin — deleted or not; `chars` holds the live ones), pending
  // runs ordered by id, and the delete set.
  std::vector<text_run> runs() const;
  std::vector<text_run> pending() const;
  const text_id_set& deleted() const noexcept { return deleted_; }
  // Rebuilds a text from its parts as runs() etc. give them. errc::decode_error when they are
  // inconsistent: an id outside `ctx`, ids used twice, an integrated run whose origin is not an
  // integrated item, content that does not match the live items.
  static result<text> from_parts(dot_context ctx, const std::vector<text_run>& seq,
                                 const std::vector<text_run>& pending, text_id_set deleted);

  // Items held (integrated and pending, live and deleted) and live items.
  uint64_t item_count() const noexcept;
  uint64_t live_items() const noexcept;
  // Bytes of memory the structure holds (approximate: runs, blocks, index).
  size_t memory_bytes() const noexcept;

  friend bool operator==(const text& a, const text& b);

 private:
  struct impl;
  template <class F>
  void for_each_live_dot(F&& f) const {
    for (const text_run& r : runs()) {
      uint64_t k = 0;
      for (const auto& [a, b] : deleted_.overlap(r.id.node, r.id.counter, r.id.counter + r.length)) {
        for (; r.id.counter + k < a; ++k) f(dot{r.id.node, r.id.counter + k});
        k = b - r.id.counter;
      }
      for (; k < r.length; ++k) f(dot{r.id.node, r.id.counter + k});
    }
    for (const text_run& r : pending_)  // uniform runs: live ones hold their codepoints
      if (!r.chars.empty())
        for (uint64_t k = 0; k < r.length; ++k) f(dot{r.id.node, r.id.counter + k});
  }

  std::unique_ptr<impl> seq_;        // the integrated items (text.cpp)
  std::vector<text_run> pending_;    // runs waiting for an origin, ordered by id
  text_id_set deleted_;
  dot_context ctx_;
};

}  // namespace rumor::crdt
