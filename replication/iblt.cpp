#include "replication/iblt.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <string>

#include <xxhash.h>

namespace rumor::replication {

namespace {

// Fixed seeds: part of the protocol (both sides of a reconciliation must hash alike).
constexpr std::array<uint64_t, iblt::hash_count> position_seeds = {
    0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL, 0x85ebca77c2b2ae63ULL};
constexpr uint64_t check_seed = 0x27d4eb2f165667c5ULL;

// Little-endian bytes of (id, digest), so hashes agree across platforms.
struct pair_bytes {
  std::array<unsigned char, 12> b;
  pair_bytes(uint32_t id, uint64_t digest) {
    for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(id >> (8 * i));
    for (int i = 0; i < 8; ++i) b[4 + i] = static_cast<unsigned char>(digest >> (8 * i));
  }
  uint64_t hash(uint64_t seed) const { return XXH3_64bits_withSeed(b.data(), b.size(), seed); }
};

// The cell of the pair in each sub-table of a table of `n` cells (n a multiple of hash_count).
std::array<size_t, iblt::hash_count> positions(const pair_bytes& p, size_t n) {
  const size_t m = n / iblt::hash_count;
  std::array<size_t, iblt::hash_count> out{};
  for (size_t j = 0; j < iblt::hash_count; ++j) {
    out[j] = j * m + static_cast<size_t>(p.hash(position_seeds[j]) % m);
  }
  return out;
}

void apply(iblt_cell& c, uint32_t id, uint64_t digest, uint64_t check, int64_t sign) {
  c.count += sign;
  c.id_sum ^= id;
  c.digest_sum ^= digest;
  c.hash_sum ^= check;
}

bool is_empty(const iblt_cell& c) { return c == iblt_cell{}; }

size_t round_cells(size_t cells) {
  size_t n = (cells + iblt::hash_count - 1) / iblt::hash_count * iblt::hash_count;
  return std::clamp(n, iblt::hash_count, iblt::max_table_cells);
}

}  // namespace

iblt::iblt(size_t cells) : cells_(round_cells(cells)) {}

void iblt::update(uint32_t id, uint64_t digest, int64_t sign) {
  const pair_bytes p(id, digest);
  const uint64_t check = p.hash(check_seed);
  for (size_t pos : positions(p, cells_.size())) apply(cells_[pos], id, digest, check, sign);
}

void iblt::subtract(const iblt& other) {
  assert(other.cells_.size() == cells_.size());
  for (size_t i = 0; i < cells_.size(); ++i) {
    cells_[i].count -= other.cells_[i].count;
    cells_[i].id_sum ^= other.cells_[i].id_sum;
    cells_[i].digest_sum ^= other.cells_[i].digest_sum;
    cells_[i].hash_sum ^= other.cells_[i].hash_sum;
  }
}

std::optional<iblt::difference> iblt::decode() const {
  std::vector<iblt_cell> cells = cells_;
  const size_t n = cells.size();
  difference out;

  // If cell i holds exactly one pair, returns its position set (else nullopt).
  auto pure = [&](size_t i) -> std::optional<std::array<size_t, hash_count>> {
    const iblt_cell& c = cells[i];
    if ((c.count != 1 && c.count != -1) || (c.id_sum >> 32) != 0) return std::nullopt;
    const pair_bytes p(static_cast<uint32_t>(c.id_sum), c.digest_sum);
    if (p.hash(check_seed) != c.hash_sum) return std::nullopt;
    auto pos = positions(p, n);
    if (pos[i / (n / hash_count)] != i) return std::nullopt;
    return pos;
  };

  std::vector<size_t> queue;
  for (size_t i = 0; i < n; ++i) {
    if (!is_empty(cells[i])) queue.push_back(i);
  }
  size_t peeled = 0;
  while (!queue.empty()) {
    const size_t i = queue.back();
    queue.pop_back();
    auto pos = pure(i);
    if (!pos) continue;
    // In a genuine peeling every peel empties a distinct cell for good, so there are at most n.
    if (++peeled > n) return std::nullopt;
    const iblt_cell c = cells[i];
    const auto id = static_cast<uint32_t>(c.id_sum);
    (c.count > 0 ? out.only_here : out.only_there).emplace_back(id, c.digest_sum);
    for (size_t q : *pos) {
      apply(cells[q], id, c.digest_sum, c.hash_sum, -c.count);
      if (!is_empty(cells[q])) queue.push_back(q);
    }
  }
  if (!std::all_of(cells.begin(), cells.end(), is_empty)) return std::nullopt;

  // A set difference lists each pair once, on one side.
  std::sort(out.only_here.begin(), out.only_here.end());
  std::sort(out.only_there.begin(), out.only_there.end());
  if (std::adjacent_find(out.only_here.begin(), out.only_here.end()) != out.only_here.end() ||
      std::adjacent_find(out.only_there.begin(), out.only_there.end()) != out.only_there.end()) {
    return std::nullopt;
  }
  std::vector<std::pair<uint32_t, uint64_t>> both;
  std::set_intersection(out.only_here.begin(), out.only_here.end(), out.only_there.begin(),
                        out.only_there.end(), std::back_inserter(both));
  if (!both.empty()) return std::nullopt;
  return out;
}

result<iblt> iblt::from_cells(std::vector<iblt_cell> cells) {
  if (cells.empty()) return error{errc::invalid_argument, "iblt: no cells"};
  if (cells.size() > max_cells) {
    return error{errc::too_large, "iblt: " + std::to_string(cells.size()) + " cells exceed the bound of " +
                                      std::to_string(max_cells)};
  }
  if (cells.size() % hash_count != 0) {
    return error{errc::invalid_argument, "iblt: " + std::to_string(cells.size()) +
                                             " cells is not a multiple of " + std::to_string(hash_count)};
  }
  iblt t{no_init{}};
  t.cells_ = std::move(cells);
  return t;
}

size_t iblt_cells_for(size_t expected_difference) {
  const size_t d = std::min(expected_difference, iblt::max_cells);
  return round_cells(d + d / 2 + 32);
}

}  // namespace rumor::replication
