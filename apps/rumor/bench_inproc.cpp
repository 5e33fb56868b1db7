#include "bench_inproc.hpp"

#include <stdexcept>

#include "actors/client_ops.hpp"
#include "replication/log_record.hpp"

namespace rumor::cli::bench {

inproc_replica::inproc_replica() {
  persistence::memory_store::config c;
  c.node_id = 0x5eed'0000'0000'0001ull;
  store_ = std::make_unique<persistence::memory_store>(c);
  rep_ = std::make_unique<replication::replica>(*store_, "127.0.0.1:1", replication::replica_config{}, 42);
  if (auto st = rep_->load(1); !st) throw std::runtime_error("in-memory replica: load failed: " + st.err().describe());
  rep_->start({}, 1);
  drain();
}

bool inproc_replica::submit(const client::update& u, uint64_t now_ms) {
  auto plan = actors::plan_update(u, u.type);
  if (!plan) {
    ++failed_;
    if (first_error_.empty()) first_error_ = plan.err().message;
    return false;
  }
  rep_->update(next_request_++, u.key, plan->key_type, plan->mutate, replication::consistency::local, 5000, now_ms);
  return true;
}

uint64_t inproc_replica::drain() {
  uint64_t ok = 0;
  if (keep_deltas) deltas_.clear();
  for (int guard = 0; guard < 100; ++guard) {
    auto r = rep_->take_ready();
    if (r.empty()) break;
    for (auto& b : r.batches) {
      if (keep_deltas) {
        for (size_t i = 0; i < b.batch.size(); ++i) {
          auto op = b.batch.op(i);
          if (op.kind != persistence::op_kind::append_delta) continue;
          auto rec = replication::decode_log_record(op.data);
          if (rec) deltas_.push_back(replication::delta_entry{op.origin, op.seq, std::move(*rec)});
        }
      }
      if (auto st = store_->commit(b.batch); !st) throw std::runtime_error("in-memory commit failed: " + st.err().describe());
      rep_->committed(b.id);
    }
    for (auto& rp : r.replies) {
      if (rp.result) ++ok;
      else {
        ++failed_;
        if (first_error_.empty()) first_error_ = rp.result.err().message;
      }
    }
  }
  return ok;
}

}  // namespace rumor::cli::bench
