#include "persistence/presence_filter.hpp"

#include <cstddef>
#include <cstdlib>
#include <new>

namespace rumor::persistence {

static_assert(std::atomic_ref<uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<uint64_t>::required_alignment <= alignof(std::max_align_t));

// calloc, not new[]: a 2 MiB zeroed block comes from fresh (zero) pages, which cost memory only
// once a bit in them is set.
presence_filter::presence_filter() {
  void* p = std::calloc(bits / 64, sizeof(uint64_t));
  if (p == nullptr) throw std::bad_alloc{};
  words_.reset(static_cast<uint64_t*>(p));
}

void presence_filter::release::operator()(uint64_t* p) const { std::free(p); }

}  // namespace rumor::persistence
