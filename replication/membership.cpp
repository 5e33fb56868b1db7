#include "replication/membership.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

namespace rumor::replication {

status validate(const membership_config& c) {
  auto bad = [](const char* what) { return status{errc::invalid_argument, what}; };
  if (c.probe_interval_ms == 0) return bad("probe_interval_ms must be > 0");
  if (c.probe_timeout_ms == 0 || c.probe_timeout_ms >= c.probe_interval_ms)
    return bad("probe_timeout_ms must be > 0 and < probe_interval_ms");
  if (c.suspicion_min_mult < 1) return bad("suspicion_min_mult must be >= 1");
  if (c.suspicion_max_mult < 1) return bad("suspicion_max_mult must be >= 1");
  if (c.retransmit_mult < 1) return bad("retransmit_mult must be >= 1");
  if (c.max_gossip_per_message < 1) return bad("max_gossip_per_message must be >= 1");
  if (c.join_retry_ms == 0) return bad("join_retry_ms must be > 0");
  if (c.max_members < 2) return bad("max_members must be >= 2");
  return {};
}

int severity(member_status s) noexcept { return static_cast<int>(s); }

bool supersedes(const member_update& a, const member_update& b) noexcept {
  assert(a.id == b.id);
  if (a.incarnation != b.incarnation) return a.incarnation > b.incarnation;
  return severity(a.status) > severity(b.status);
}

namespace {

bool is_live(member_status s) { return s == member_status::alive || s == member_status::suspect; }

template <class T, class Rng>
const T* pick(const std::vector<T>& v, Rng& rng) {
  if (v.empty()) return nullptr;
  return &v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

}  // namespace

membership::membership(node_id self, std::string address, uint64_t seed, membership_config cfg)
    : self_id_(self), cfg_(cfg), rng_(seed) {
  assert(self != 0);
  assert(validate(cfg_));
  members_[self_id_] = member{member_update{self_id_, std::move(address), 0, member_status::alive}, 0, {}, false};
  changed(self_id_);
}

status membership::restore(std::vector<member_update> table) {
  if (started_) return status{errc::invalid_argument, "membership::restore after start"};
  for (const auto& u : table)
    if (u.id == 0) return status{errc::invalid_argument, "membership::restore: member id 0"};
  member& me = members_[self_id_];
  uint64_t inc = me.u.incarnation;
  for (auto& u : table) {
    if (u.id == self_id_) {
      inc = std::max(inc, u.incarnation);
      continue;
    }
    if (members_.size() >= cfg_.max_members) break;
    if (u.status == member_status::suspect) u.status = member_status::alive;
    member m{u, unset_, {}, false};
    auto [it, inserted] = members_.try_emplace(u.id, m);
    if (!inserted && supersedes(u, it->second.u)) it->second = m;
    changed(u.id);
  }
  me.u.incarnation = inc + 1;
  me.u.status = member_status::alive;
  changed(self_id_);
  enqueue(self_id_);
  return {};
}

// ---- inputs ----

uint64_t membership::advance(uint64_t now) {
  if (!started_) {
    started_ = true;
    now_ = now;
    for (auto& [id, m] : members_)
      if (m.since_ms == unset_) m.since_ms = now;
    std::uniform_int_distribution<uint64_t> jitter(0, cfg_.probe_interval_ms - 1);
    next_probe_at_ = now + jitter(rng_);
    next_sync_at_ = now + cfg_.sync_interval_ms + jitter(rng_);
    next_gossip_at_ = now + jitter(rng_) % std::max<uint64_t>(1, cfg_.gossip_interval_ms);
  }
  now_ = std::max(now_, now);
  return now_;
}

void membership::start_join(std::vector<std::string> seeds, uint64_t now, outbox& out) {
  assert(!has_left());
  now = advance(now);
  seeds_.clear();
  for (auto& s : seeds)
    if (!s.empty() && s != self().address && std::find(seeds_.begin(), seeds_.end(), s) == seeds_.end())
      seeds_.push_back(std::move(s));
  if (seeds_.empty()) {
    joined_ = true;
    joining_ = false;
    return;
  }
  joining_ = true;
  join_attempts_ = 1;
  next_join_at_ = now + cfg_.join_retry_ms;
  const bool push = members_.size() > 1;  // a restored table: let the seed learn it too
  for (const auto& s : seeds_) send_join(s, 0, push, out);
}

void membership::tick(uint64_t now, outbox& out) {
  now = advance(now);
  std::erase_if(relays_, [now](const relay& r) { return now >= r.expires_at; });
  gossip_round(now, out);
  if (has_left()) return;

  if (joining_ && now >= next_join_at_) {
    if (cfg_.join_max_attempts == 0 || join_attempts_ < cfg_.join_max_attempts) {
      ++join_attempts_;
      next_join_at_ = now + cfg_.join_retry_ms;
      const bool push = members_.size() > 1;
      for (const auto& s : seeds_) send_join(s, 0, push, out);
    } else {
      joining_ = false;  // the periodic sync keeps trying the seeds
    }
  }

  if (probe_) {
    if (!probe_->acked && !probe_->indirect_sent && now >= probe_->timeout_at) send_indirect(now, out);
    if (now >= probe_->end_at) finish_probe(now, out);
  }
  if (!probe_ && now >= next_probe_at_) start_probe(now, out);

  remind_suspects(now, out);
  check_suspicions(now);
  reap(now);
  sync(now, out);
  probe_dead(now, out);
}

void membership::probe_dead(uint64_t now, outbox& out) {
  if (cfg_.dead_probe_interval_ms == 0 || now < next_dead_probe_at_) return;
  next_dead_probe_at_ = now + cfg_.dead_probe_interval_ms;
  auto dead = [](const auto& kv) { return kv.second.u.status == member_status::dead; };
  auto it = std::find_if(members_.upper_bound(dead_probe_cursor_), members_.end(), dead);
  if (it == members_.end()) it = std::find_if(members_.begin(), members_.end(), dead);
  if (it == members_.end() || it->first == self_id_) return;
  dead_probe_cursor_ = it->first;
  // Its answer must not start another exchange: it counts as a pull (bounded like them).
  std::erase_if(pulls_, [now](const auto& p) { return now >= p.second; });
  if (pulls_.size() < max_pulls_) pulls_.emplace_back(it->first, now + cfg_.probe_interval_ms);
  send_join(it->second.u.address, it->first, true, out);
}

bool membership::step(node_id from, const message& msg, uint64_t now, outbox& out) {
  if (from == 0 || !is_membership_message(msg)) return false;
  now = advance(now);
  correct_sender_ = false;
  handle(from, msg, now, out);
  // The sender holds old news about us (e.g. an accusation we refuted): tell it directly (an ack
  // to its ping already carries our entry first).
  const auto* p = std::get_if<ping>(&msg);
  if (correct_sender_ && !(p && p->probe != 0)) send(from, ping{0, {self()}}, out);
  // A message from a node we do not know means the gossip about it never reached us (it ran out
  // of retransmissions): pull that node's table. One from a member we hold dead means a partition
  // healed or it came back: exchange tables with it (it learns it was declared dead and refutes,
  // we learn its side). At most once per probe interval per node.
  if (!has_left()) {
    auto it = members_.find(from);
    if (it == members_.end()) pull_from(from, false, out);
    else if (it->second.u.status == member_status::dead) pull_from(from, true, out);
  }
  return true;
}

void membership::pull_from(node_id from, bool push, outbox& out) {
  std::erase_if(pulls_, [this](const auto& p) { return now_ >= p.second; });
  const bool pulled = std::any_of(pulls_.begin(), pulls_.end(), [from](const auto& p) { return p.first == from; });
  if (pulled || pulls_.size() >= max_pulls_) return;
  pulls_.emplace_back(from, now_ + cfg_.probe_interval_ms);
  if (push) send_join(address_of(from), from, true, out);
  else out.push_back(outgoing{from, {}, join_request{self()}});
}

void membership::handle(node_id from, const message& msg, uint64_t now, outbox& out) {
  if (const auto* p = std::get_if<ping>(&msg)) {
    apply_all(p->gossip, from, false, now);
    if (p->probe != 0) send(from, ack{p->probe, self_id_, take_gossip(from), p->sent_ms, now}, out);
    return;
  }
  if (const auto* a = std::get_if<ack>(&msg)) {
    apply_all(a->gossip, from, false, now);
    if (a->probe == 0) return;
    if (probe_ && a->probe == probe_->id && a->target == probe_->target) {
      if (!probe_->acked) probe_succeeded();
      return;
    }
    auto it = std::find_if(relays_.begin(), relays_.end(), [a](const relay& r) {
      return r.our_probe == a->probe && r.target == a->target;
    });
    if (it != relays_.end()) {
      relay r = *it;
      relays_.erase(it);
      send(r.requester, ack{r.their_probe, r.target, take_gossip(r.requester)}, out);
    }
    return;
  }
  if (const auto* r = std::get_if<ping_req>(&msg)) {
    apply_all(r->gossip, from, false, now);
    if (r->probe == 0 || r->target == 0) return;
    if (r->target == self_id_) {
      send(from, ack{r->probe, self_id_, take_gossip(from)}, out);
      return;
    }
    if (relays_.size() >= cfg_.max_pending_relays) return;
    const uint64_t q = next_probe_id_++;
    relays_.push_back(relay{q, r->probe, from, r->target,
                            now + cfg_.probe_interval_ms * (1 + uint64_t{cfg_.max_local_health})});
    std::string address = r->target_address.empty() ? address_of(r->target) : r->target_address;
    out.push_back(outgoing{r->target, std::move(address), ping{q, take_gossip(r->target)}});
    return;
  }
  if (const auto* j = std::get_if<join_request>(&msg)) {
    const member_update& joiner = j->self;
    if (joiner.id == 0 || joiner.id == self_id_) return;
    apply(joiner, joiner.id, false, now);
    out.push_back(outgoing{joiner.id, joiner.address, join_response{members()}});
    return;
  }
  if (const auto* r = std::get_if<join_response>(&msg)) {
    apply_all(r->members, from, true, now);
    if (!joined_) {
      // One early sync, a few probe intervals after joining, catches the members that joined
      // at about the same time as we did (their gossip may have run out before reaching us).
      std::uniform_int_distribution<uint64_t> d(2 * cfg_.probe_interval_ms, 5 * cfg_.probe_interval_ms);
      next_sync_at_ = std::min(next_sync_at_, now + d(rng_));
    }
    joined_ = true;
    joining_ = false;
  }
}

void membership::leave(uint64_t now, outbox& out) {
  assert(!has_left());
  now = advance(now);
  member& me = members_[self_id_];
  me.u.incarnation += 1;
  me.u.status = member_status::left;
  me.since_ms = now;
  changed(self_id_);
  enqueue(self_id_);
  probe_.reset();
  joining_ = false;
  std::vector<node_id> peers;
  for (const auto& [id, m] : members_)
    if (id != self_id_ && is_live(m.u.status)) peers.push_back(id);
  std::shuffle(peers.begin(), peers.end(), rng_);
  if (peers.size() > cfg_.leave_fanout) peers.resize(cfg_.leave_fanout);
  for (node_id p : peers) send(p, ping{0, {me.u}}, out);
}

// ---- queries ----

const member_update& membership::self() const { return members_.at(self_id_).u; }

const member_update* membership::find(node_id id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second.u;
}

std::vector<member_update> membership::members() const {
  std::vector<member_update> v;
  v.reserve(members_.size());
  for (const auto& [id, m] : members_) v.push_back(m.u);
  return v;
}

std::vector<member_update> membership::live_peers() const {
  std::vector<member_update> v;
  for (const auto& [id, m] : members_)
    if (id != self_id_ && is_live(m.u.status)) v.push_back(m.u);
  return v;
}

std::vector<node_id> membership::voting_members() const {
  std::vector<node_id> v;
  for (const auto& [id, m] : members_)
    if (m.u.status != member_status::left) v.push_back(id);
  return v;
}

bool membership::has_left() const { return self().status == member_status::left; }

membership_changes membership::take_changes() {
  membership_changes c;
  for (node_id id : changed_)
    if (auto it = members_.find(id); it != members_.end()) c.updated.push_back(it->second.u);
  c.removed = std::move(removed_);
  changed_.clear();
  removed_.clear();
  return c;
}

// ---- merging ----

void membership::changed(node_id id) { changed_.insert(id); }

void membership::apply_all(const std::vector<member_update>& us, node_id from, bool full_state, uint64_t now) {
  for (const auto& u : us) apply(u, from, full_state, now);
}

void membership::apply(const member_update& u, node_id from, bool full_state, uint64_t now) {
  if (u.id == 0) return;
  if (u.id == self_id_) {
    member& me = members_[self_id_];
    if (me.u.status == member_status::left) {
      // Keep saying we left, above whatever is said about us.
      if (u.status != member_status::left && u.incarnation >= me.u.incarnation) {
        me.u.incarnation = u.incarnation + 1;
        changed(self_id_);
      }
      if (u != me.u) enqueue(self_id_);
      return;
    }
    if (u.incarnation > me.u.incarnation ||
        (u.incarnation == me.u.incarnation && u.status != member_status::alive)) {
      refute(u.incarnation);
      correct_sender_ = true;
    } else if (u.incarnation < me.u.incarnation) {
      enqueue(self_id_);  // someone still spreads old news about us: spread the refutation again
      correct_sender_ = true;
    }
    return;
  }
  auto it = members_.find(u.id);
  if (it == members_.end()) {
    if (members_.size() >= cfg_.max_members) return;
    member fresh{member_update{u.id, u.address, 0, member_status::dead}, now, {}, false};
    it = members_.emplace(u.id, std::move(fresh)).first;  // "dead" so that set_state sees it arrive
    set_state(it->second, u, from, now);
    it->second.since_ms = now;
    return;
  }
  member& m = it->second;
  member_update v = u;
  // Push-pull softening (memberlist): another node's full table saying "dead" about a member we
  // see live starts our own suspicion instead, which the member can refute.
  if (full_state && v.status == member_status::dead && is_live(m.u.status) && v.incarnation >= m.u.incarnation)
    v.status = member_status::suspect;
  if (supersedes(v, m.u)) {
    set_state(m, v, from, now);
  } else if (supersedes(m.u, v)) {
    // The sender is behind: spread what we know again, so stale news (e.g. an accusation that
    // was refuted) dies out where it is still believed.
    if (gossipable(m)) enqueue(m.u.id);
  } else if (v.status == member_status::suspect && m.susp && !full_state) {
    // Another accusation at the same incarnation: an independent confirmation (Lifeguard).
    // Suspicions are gossiped only by their accusers (see gossipable), so each sender of one is
    // a distinct accuser.
    auto& s = *m.susp;
    if (s.confirmers.size() - 1 < s.k &&
        std::find(s.confirmers.begin(), s.confirmers.end(), from) == s.confirmers.end())
      s.confirmers.push_back(from);
    if (from == self_id_ && !m.ours) {
      m.ours = true;  // our own probe failed too: we become an accuser and say so
      enqueue(m.u.id);
    }
  }
}

bool membership::gossipable(const member& m) const { return m.u.status != member_status::suspect || m.ours; }

void membership::set_state(member& m, const member_update& u, node_id from, uint64_t now) {
  const bool status_changed = m.u.status != u.status;
  if (is_live(u.status) && !is_live(m.u.status) && probe_order_.size() < 2 * members_.size()) {
    // A new or returning member joins the current probe pass at a random position.
    const size_t lo = std::min(probe_index_, probe_order_.size());
    const size_t pos = std::uniform_int_distribution<size_t>(lo, probe_order_.size())(rng_);
    probe_order_.insert(probe_order_.begin() + static_cast<std::ptrdiff_t>(pos), u.id);
  }
  const bool incarnation_changed = m.u.incarnation != u.incarnation;
  if (!u.address.empty() && (incarnation_changed || m.u.address.empty())) m.u.address = u.address;
  m.u.incarnation = u.incarnation;
  m.u.status = u.status;
  if (status_changed || incarnation_changed) m.since_ms = now;
  m.ours = false;
  if (u.status == member_status::suspect) {
    const size_t n = live_count();
    const double scale = std::max(1.0, std::log10(static_cast<double>(std::max<size_t>(1, n))));
    suspicion s;
    s.since_ms = now;
    s.min_ms = cfg_.suspicion_min_mult * static_cast<uint64_t>(scale * 1000) * cfg_.probe_interval_ms / 1000;
    s.max_ms = cfg_.suspicion_max_mult * s.min_ms;
    s.k = cfg_.suspicion_min_mult >= 2 ? cfg_.suspicion_min_mult - 2 : 0;
    if (n < 2 + size_t{s.k}) s.k = 0;  // not enough members to expect confirmations
    s.confirmers.push_back(from);
    m.susp = std::move(s);
    m.ours = from == self_id_;
  } else {
    m.susp.reset();
  }
  changed(m.u.id);
  if (gossipable(m)) enqueue(m.u.id);
}

void membership::refute(uint64_t accused) {
  member& me = members_[self_id_];
  me.u.incarnation = std::max(me.u.incarnation, accused) + 1;
  me.u.status = member_status::alive;
  changed(self_id_);
  enqueue(self_id_);
  adjust_health(+1);
}

// ---- gossip ----

uint32_t membership::retransmit_limit() const {
  const double scale = std::ceil(std::log10(static_cast<double>(members_.size() + 1)));
  return std::max<uint32_t>(1, cfg_.retransmit_mult * static_cast<uint32_t>(scale));
}

void membership::enqueue(node_id id) {
  auto it = std::find_if(gossip_.begin(), gossip_.end(), [id](const gossip_entry& g) { return g.id == id; });
  if (it == gossip_.end()) {
    gossip_.push_back(gossip_entry{id, 0, ++gossip_seq_});
  } else {
    it->transmits = 0;
    it->seq = ++gossip_seq_;
  }
}

std::vector<member_update> membership::take_gossip(node_id buddy) {
  std::vector<member_update> out;
  const size_t max = cfg_.max_gossip_per_message;
  // Every message carries the receiver's own entry as we know it. Buddy system (Lifeguard): a
  // suspect hears of its suspicion from whoever talks to it. And a receiver that sees we are
  // behind (it refuted an accusation) corrects us directly; see step().
  if (auto it = members_.find(buddy); buddy != self_id_ && it != members_.end()) out.push_back(it->second.u);
  std::erase_if(gossip_, [this](const gossip_entry& g) {
    auto it = members_.find(g.id);
    return it == members_.end() || !gossipable(it->second);
  });
  // Fewest transmissions first, then freshest.
  std::sort(gossip_.begin(), gossip_.end(), [](const gossip_entry& a, const gossip_entry& b) {
    return a.transmits != b.transmits ? a.transmits < b.transmits : a.seq > b.seq;
  });
  const uint32_t limit = retransmit_limit();
  for (auto& g : gossip_) {
    if (out.size() >= max) break;
    if (!out.empty() && g.id == buddy && out.front().id == buddy) continue;
    out.push_back(members_.at(g.id).u);
    ++g.transmits;
  }
  std::erase_if(gossip_, [limit](const gossip_entry& g) { return g.transmits >= limit; });
  return out;
}

// ---- probing ----

std::optional<node_id> membership::next_probe_target() {
  for (int pass = 0; pass < 2; ++pass) {
    while (probe_index_ < probe_order_.size()) {
      const node_id id = probe_order_[probe_index_++];
      auto it = members_.find(id);
      if (id != self_id_ && it != members_.end() && is_live(it->second.u.status)) return id;
    }
    // Start a new pass over a fresh shuffle of the live peers.
    probe_order_.clear();
    probe_index_ = 0;
    for (const auto& [id, m] : members_)
      if (id != self_id_ && is_live(m.u.status)) probe_order_.push_back(id);
    std::shuffle(probe_order_.begin(), probe_order_.end(), rng_);
  }
  return std::nullopt;
}

void membership::start_probe(uint64_t now, outbox& out) {
  const auto target = next_probe_target();
  if (!target) {
    next_probe_at_ = now + cfg_.probe_interval_ms;
    return;
  }
  const member& m = members_.at(*target);
  probe p;
  p.id = next_probe_id_++;
  p.target = *target;
  p.incarnation = m.u.incarnation;
  p.timeout_at = now + scaled(cfg_.probe_timeout_ms);
  p.end_at = now + scaled(cfg_.probe_interval_ms);
  next_probe_at_ = p.end_at;
  probe_ = p;
  send(*target, ping{p.id, take_gossip(*target), now}, out);
}

void membership::send_indirect(uint64_t /*now*/, outbox& out) {
  probe_->indirect_sent = true;
  std::vector<node_id> helpers;
  for (const auto& [id, m] : members_)
    if (id != self_id_ && id != probe_->target && m.u.status == member_status::alive) helpers.push_back(id);
  std::shuffle(helpers.begin(), helpers.end(), rng_);
  if (helpers.size() > cfg_.indirect_probes) helpers.resize(cfg_.indirect_probes);
  const std::string target_address = address_of(probe_->target);
  for (node_id h : helpers)
    send(h, ping_req{probe_->id, probe_->target, target_address, take_gossip(h)}, out);
}

void membership::finish_probe(uint64_t now, outbox& out) {
  const probe p = *probe_;
  probe_.reset();
  if (p.acked) return;
  adjust_health(+1);  // no nacks on the wire: every failed probe counts against us (memberlist)
  auto it = members_.find(p.target);
  if (it == members_.end() || !is_live(it->second.u.status) || it->second.u.incarnation != p.incarnation) return;
  apply(member_update{p.target, it->second.u.address, p.incarnation, member_status::suspect}, self_id_, false, now);
  // Buddy system: tell the suspect at once, so that a live one refutes before the timeout.
  send(p.target, ping{0, {it->second.u}}, out);
}

void membership::probe_succeeded() {
  probe_->acked = true;
  adjust_health(-1);
}

void membership::adjust_health(int delta) {
  const int64_t h = std::clamp<int64_t>(int64_t{health_} + delta, 0, cfg_.max_local_health);
  health_ = static_cast<uint32_t>(h);
}

// ---- timers ----

size_t membership::live_count() const {
  size_t n = 0;
  for (const auto& [id, m] : members_) n += is_live(m.u.status) ? 1 : 0;
  return n;
}

uint64_t membership::suspicion_deadline(const suspicion& s) const {
  // memberlist's remainingSuspicionTime: max shrinks toward min with log(confirmations + 1).
  if (s.k < 1) return s.since_ms + s.min_ms;
  const double c = static_cast<double>(s.confirmers.size() - 1);
  const double frac = std::log(c + 1.0) / std::log(static_cast<double>(s.k) + 1.0);
  const double raw = static_cast<double>(s.max_ms) - frac * static_cast<double>(s.max_ms - s.min_ms);
  const uint64_t timeout = std::max<uint64_t>(s.min_ms, static_cast<uint64_t>(std::floor(std::max(0.0, raw))));
  return s.since_ms + timeout;
}

void membership::remind_suspects(uint64_t now, outbox& out) {
  for (auto& [id, m] : members_) {
    if (!m.susp || !m.ours || id == self_id_) continue;
    if (m.susp->buddy_at_ms == 0) {
      m.susp->buddy_at_ms = now + cfg_.probe_interval_ms;  // the first one went with the accusation
      continue;
    }
    if (now < m.susp->buddy_at_ms) continue;
    m.susp->buddy_at_ms = now + cfg_.probe_interval_ms;
    send(id, ping{0, {m.u}}, out);
  }
}

void membership::check_suspicions(uint64_t now) {
  for (auto& [id, m] : members_) {
    if (!m.susp || now < suspicion_deadline(*m.susp)) continue;
    set_state(m, member_update{id, m.u.address, m.u.incarnation, member_status::dead}, self_id_, now);
  }
}

void membership::reap(uint64_t now) {
  for (auto it = members_.begin(); it != members_.end();) {
    const member& m = it->second;
    const bool gone = m.u.status == member_status::dead || m.u.status == member_status::left;
    if (it->first != self_id_ && gone && now - m.since_ms >= cfg_.reap_dead_after_ms) {
      changed_.erase(it->first);
      if (removed_.size() < cfg_.max_members) removed_.push_back(it->first);
      it = members_.erase(it);
    } else {
      ++it;
    }
  }
}

void membership::gossip_round(uint64_t now, outbox& out) {
  if (cfg_.gossip_interval_ms == 0 || now < next_gossip_at_) return;
  next_gossip_at_ = now + cfg_.gossip_interval_ms;
  if (gossip_.empty()) return;
  std::vector<node_id> peers;
  for (const auto& [id, m] : members_)
    if (id != self_id_ && is_live(m.u.status)) peers.push_back(id);
  std::shuffle(peers.begin(), peers.end(), rng_);
  if (peers.size() > cfg_.gossip_fanout) peers.resize(cfg_.gossip_fanout);
  for (node_id p : peers) {
    auto g = take_gossip(p);
    if (g.empty()) break;
    send(p, ping{0, std::move(g)}, out);
  }
}

void membership::sync(uint64_t now, outbox& out) {
  if (cfg_.sync_interval_ms == 0 || now < next_sync_at_) return;
  next_sync_at_ = now + cfg_.sync_interval_ms;
  std::vector<node_id> alive, dead;
  bool any_live = false;
  for (const auto& [id, m] : members_) {
    if (id == self_id_) continue;
    any_live = any_live || is_live(m.u.status);
    if (m.u.status == member_status::alive) alive.push_back(id);
    if (m.u.status == member_status::dead) dead.push_back(id);
  }
  if (const node_id* p = pick(alive, rng_)) send_join(address_of(*p), *p, true, out);
  if (const node_id* d = pick(dead, rng_)) send_join(address_of(*d), *d, true, out);
  // Seeds that are not live members (down, partitioned away, reaped): with no live peer, all of
  // them; otherwise one at random, so that a split that outlived the reap delay still heals.
  if (joining_) return;
  std::vector<std::string> missing;
  for (const auto& s : seeds_) {
    const bool live = std::any_of(members_.begin(), members_.end(), [&](const auto& kv) {
      return kv.first != self_id_ && is_live(kv.second.u.status) && kv.second.u.address == s;
    });
    if (!live) missing.push_back(s);
  }
  if (!any_live) {
    for (const auto& s : missing) send_join(s, 0, true, out);
  } else if (const std::string* s = pick(missing, rng_)) {
    send_join(*s, 0, true, out);
  }
}

void membership::send_join(const std::string& address, node_id to, bool push, outbox& out) {
  if (push) out.push_back(outgoing{to, address, join_response{members()}});
  out.push_back(outgoing{to, address, join_request{self()}});
}

// ---- helpers ----

std::string membership::address_of(node_id id) const {
  auto it = members_.find(id);
  return it == members_.end() ? std::string{} : it->second.u.address;
}

void membership::send(node_id to, message msg, outbox& out) const {
  out.push_back(outgoing{to, address_of(to), std::move(msg)});
}

}  // namespace rumor::replication
