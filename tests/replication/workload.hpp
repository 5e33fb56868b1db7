#pragma once
// A seeded random workload for the simulation: counter increments, set adds/removes and register
// writes through random live nodes, with crash/restart, partitions, wipes and late joins, plus the
// checks every schedule must pass after healing.


#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "crdt/utf8.hpp"
#include "replication/operations.hpp"
#include "replication/stored_value.hpp"
#include "sim.hpp"

namespace rumor::sim {

struct workload_result {
  bool converged = false;
  uint64_t converge_ms = 0;
  std::string failure;  // empty when every check passed
  uint64_t tombstones_collected = 0;  // by the live nodes at the end (replica_stats)
  uint64_t sets_repaired_by_elements = 0;  // likewise
  uint64_t sets_transferred_in_pages = 0;  // likewise
  bool stability_checked = false;     // collection on and every voting member up: growth checked
};

// Deleted keys (values holding nothing) stored at node `n`.
inline size_t tombstones_at(const simulation& s, const simulation::node& n) {
  size_t count = 0;
  for (auto& [k, record] : s.dump(n)) {
    auto sv = decode_stored(record);
    if (!sv) continue;
    auto v = crdt::decode(sv->crdt);
    if (v && v->holds_nothing()) ++count;
  }
  return count;
}

struct workload_options {
  uint64_t duration_ms = 8'000;
  bool faults = true;
  bool collect_tombstones = replica_config{}.collect_tombstones;  // the replica default unless set
  // Also splice text keys concurrently on every node (its own rng, so the other draws of a
  // schedule stay as they were; the simulation's schedule changes with the extra messages, so
  // this is off for the named regression seeds).
  bool text = false;
  // Also update or_map keys (decomposed: map_records.hpp) on every node: nested set adds, counter
  // and register fields, field removals and key deletion, half of them through a window (the
  // field's `touches`). Its own rng too, off for the named regression seeds.
  bool maps = false;
};

inline workload_result run_workload(uint64_t seed, const workload_options& opt = {}) {
  std::mt19937_64 rng(seed);
  sim_config cfg;
  cfg.nodes = 3 + rng() % 4;
  if (opt.faults) {
    cfg.loss = (rng() % 4) * 0.05;
    cfg.duplicate = (rng() % 3) * 0.05;
    cfg.max_latency_ms = 5 + rng() % 60;
    cfg.commit_delay_ms = rng() % 6;
  }
  cfg.replica.gossip_interval_ms = 100 + rng() % 200;
  cfg.replica.collect_tombstones = opt.collect_tombstones;
  cfg.replica.membership.probe_interval_ms = 500;
  cfg.replica.membership.probe_timeout_ms = 200;
  // Half the schedules repair every set (and map: --maps) by its elements
  // (replica_element_repair.cpp), however small; from the seed, not the rng, so the other draws
  // of a schedule stay as they were.
  // Of those, half fetch a set in pages of a few elements as soon as a table fails to decode.
  if ((seed >> 1) & 1) cfg.replica.set_recon_min_elements = 0;
  if ((seed >> 1) & 1 && (seed >> 2) & 1) {
    cfg.replica.set_recon_max_cells = 4;
    cfg.replica.set_recon_page_bytes = 64;
  }
  // A quarter of the schedules keep a little log for members that are not live (log retention):
  // a node back from the dead catches up with a pull if it missed few deltas, else a repair.
  if ((seed >> 3) & 1 && (seed >> 4) & 1) cfg.replica.log_retain_deltas = 32;
  // Half deliver a millisecond's messages to a node as one burst, pushed on once (the runtime's
  // mailbox drain), the other half push after each message.
  if ((seed >> 5) & 1) cfg.mailbox_bursts = true;
  simulation s(rng(), cfg);
  s.start_all();
  s.run_for(1'000);

  std::map<std::string, uint64_t> attempted, acked;  // counters
  std::map<std::string, std::set<std::string>> acked_adds, targeted;  // sets
  std::set<std::string> all_added;
  uint64_t element = 0;
  std::vector<bool> crashed(s.size(), false);
  // Text: every splice inserts codepoints no other splice inserts (U+4E00 + n); the mutators
  // record what they delete, so the check knows which acknowledged codepoints must be there.
  std::mt19937_64 text_rng(seed ^ 0x7465787400000000ull);
  auto text_deleted = std::make_shared<std::set<char32_t>>();
  std::set<char32_t> text_acked;
  uint32_t text_next = 0;

  // Maps: "m0" is never deleted and its set fields never removed, so each acknowledged add to them
  // must be there at the end; "m1" also loses fields and is deleted and re-created.
  std::mt19937_64 map_rng(seed ^ 0x6d61707300000000ull);
  std::set<std::string> map_acked;  // "field/element" of m0's set fields
  uint64_t map_next = 0;

  auto live = [&] {
    std::vector<size_t> v;
    for (size_t i = 0; i < s.size(); ++i)
      if (s.at(i).up) v.push_back(i);
    return v;
  };

  for (uint64_t t = 0; t < opt.duration_ms; t += 20) {
    auto up = live();
    if (opt.text && text_rng() % 2 == 0) {
      size_t tat = up[text_rng() % up.size()];
      std::string key = "x" + std::to_string(text_rng() % 2);
      double where = static_cast<double>(text_rng() % 1000) / 1000.0;
      uint64_t del = text_rng() % 4 == 0 ? 1 + text_rng() % 3 : 0;
      std::u32string ins;
      for (uint64_t k = 0, n = text_rng() % 4; k < n; ++k) ins.push_back(static_cast<char32_t>(0x4E00 + text_next++));
      s.update(tat, key, crdt::type_tag::text,
               [where, del, ins, gone = text_deleted](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
                 auto* t = v.get_if<crdt::text>();
                 uint64_t pos = static_cast<uint64_t>(where * static_cast<double>(t->size() + 1));
                 pos = std::min(pos, t->size());
                 uint64_t d = std::min(del, t->size() - pos);
                 std::u32string cut = *crdt::utf8_decode(t->substr(pos, d));  // (a named value: a range-for over
                 gone->insert(cut.begin(), cut.end());                        // *optional-temporary dangles)
                 auto delta = t->splice(self, pos, d, crdt::utf8_encode(ins));
                 if (!delta) return delta.err();
                 return crdt::value{std::move(*delta)};
               },
               consistency::local, 5'000, [&text_acked, ins](const reply& r) {
                 if (r.result) text_acked.insert(ins.begin(), ins.end());
               },
               nullptr, text_next % 2 == 0);  // half without the value in the reply, as the node runtime asks
    }
    if (opt.maps && map_rng() % 2 == 0) {
      size_t mat = up[map_rng() % up.size()];
      std::string key = "m" + std::to_string(map_rng() % 2);
      std::string field;
      replication::mutator m;
      int kind = static_cast<int>(map_rng() % 10);
      std::function<void(const reply&)> on_reply;
      if (kind < 4) {
        field = "s" + std::to_string(map_rng() % 4);
        std::string e = "e" + std::to_string(map_next++);
        m = ops::map_update(field, crdt::type_tag::or_set, ops::set_add({e}));
        if (key == "m0") on_reply = [&map_acked, field, e](const reply& r) {
          if (r.result) map_acked.insert(field + "/" + e);
        };
      } else if (kind < 6) {
        field = "c" + std::to_string(map_rng() % 3);
        uint64_t n = 1 + map_rng() % 5;
        m = ops::map_update(field, crdt::type_tag::pn_counter,
                            [n](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
                              auto d = v.get_if<crdt::pn_counter>()->increment(self, n);
                              if (!d) return d.err();
                              return crdt::value{*d};
                            });
      } else if (kind < 8) {
        field = "r" + std::to_string(map_rng() % 3);
        std::string value = "v" + std::to_string(map_rng() % 100);
        m = ops::map_update(field, crdt::type_tag::lww_register,
                            [value](crdt::value& v, node_id self, crdt::hlc_timestamp ts) -> result<crdt::value> {
                              return crdt::value{v.get_if<crdt::lww_register>()->assign(self, ts, value)};
                            });
      } else if (kind < 9 || key == "m0") {
        field = (map_rng() % 2 ? "c" : "r") + std::to_string(map_rng() % 3);
        m = ops::map_remove(field);
      } else {
        m = ops::remove_key();  // the whole of m1, as observed
      }
      std::vector<std::string> touches{field};
      bool windowed = !field.empty() && map_rng() % 2 == 0;
      s.update(mat, key, crdt::type_tag::or_map, m, consistency::local, 5'000, on_reply,
               windowed ? &touches : nullptr);
    }
    size_t at = up[rng() % up.size()];
    int what = static_cast<int>(rng() % 10);
    if (what < 4) {
      std::string key = "c" + std::to_string(rng() % 3);
      uint64_t n = 1 + rng() % 5;
      attempted[key] += n;
      s.update(at, key, crdt::type_tag::pn_counter,
               [n](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
                 auto d = v.get_if<crdt::pn_counter>()->increment(self, n);
                 if (!d) return d.err();
                 return crdt::value{*d};
               },
               consistency::local, 5'000, [&acked, key, n](const reply& r) {
                 if (r.result) acked[key] += n;
               });
    } else if (what < 7) {
      std::string key = "s" + std::to_string(rng() % 2);
      // Every other element's updates read only that element of the set (replica::update's
      // `touches`: the set's window), the rest the whole set.
      bool windowed = element % 2 == 0;
      std::string e = "e" + std::to_string(element++);
      all_added.insert(key + "/" + e);
      std::vector<std::string> touches{e};
      s.update(at, key, crdt::type_tag::or_set,
               [e](crdt::value& v, node_id self, crdt::hlc_timestamp) -> result<crdt::value> {
                 return crdt::value{v.get_if<crdt::or_set>()->add(self, e)};
               },
               consistency::local, 5'000, [&acked_adds, key, e](const reply& r) {
                 if (r.result) acked_adds[key].insert(e);
               }, windowed ? &touches : nullptr);
    } else if (what < 8 && element > 0) {
      std::string key = "s" + std::to_string(rng() % 2);
      uint64_t which = rng() % element;
      std::string e = "e" + std::to_string(which);
      targeted[key].insert(e);
      std::vector<std::string> touches{e};
      s.update(at, key, crdt::type_tag::or_set,
               [e](crdt::value& v, node_id, crdt::hlc_timestamp) -> result<crdt::value> {
                 return crdt::value{v.get_if<crdt::or_set>()->remove(e)};
               },
               consistency::local, 5'000, nullptr, which % 2 == 0 ? &touches : nullptr);
    } else if (what < 9 && rng() % 2) {
      // Deleted and re-created keys (tombstones and their collection); checked for convergence.
      std::string key = "t" + std::to_string(rng() % 2);
      if (rng() % 3 == 0)
        s.update(at, key, crdt::type_tag::or_set, ops::remove_key(), consistency::local, 5'000, nullptr);
      else
      {
        std::vector<std::string> touches{"m" + std::to_string(rng() % 4)};
        s.update(at, key, crdt::type_tag::or_set, ops::set_add(touches), consistency::local, 5'000, nullptr,
                 touches[0] < "m2" ? &touches : nullptr);
      }
    } else {
      std::string value = "v" + std::to_string(rng() % 100);
      s.update(at, "r", crdt::type_tag::lww_register,
               [value](crdt::value& v, node_id self, crdt::hlc_timestamp ts) -> result<crdt::value> {
                 return crdt::value{v.get_if<crdt::lww_register>()->assign(self, ts, value)};
               },
               consistency::local, 5'000, nullptr);
    }
    if (opt.faults) {
      int fault = static_cast<int>(rng() % 400);
      size_t victim = rng() % s.size();
      size_t down = s.size() - live().size();
      if (fault < 3 && s.at(victim).up && down + 1 < s.size()) {
        s.crash(victim);
        crashed[victim] = true;
      } else if (fault < 6 && !s.at(victim).up) {
        s.restart(victim);
      } else if (fault < 8) {
        std::set<size_t> side;
        for (size_t i = 0; i < s.size(); ++i)
          if (rng() % 2) side.insert(i);
        s.partition({side});
      } else if (fault < 11) {
        s.heal();
      } else if (fault == 11 && s.at(victim).up && down + 1 < s.size()) {
        // A wiped node loses its acknowledged-but-unreplicated writes: that is the meaning of
        // losing a disk. Keep the check honest: wipe only once everything has spread.
        s.heal();
        if (s.run_until([&] { return s.converged(); }, 30'000)) s.wipe(victim);
      } else if (fault == 12 && s.size() < 8) {
        s.add_node();
        crashed.push_back(false);
      }
    }
    s.run_for(20);
  }

  // Heal everything and wait for quiescence.
  s.heal();
  for (size_t i = 0; i < s.size(); ++i)
    if (!s.at(i).up) s.restart(i);
  workload_result res;
  auto took = s.run_until([&] { return s.converged() && s.all_live_members_alive(); }, 120'000);
  res.converged = took.has_value();
  res.converge_ms = took.value_or(0);
  std::ostringstream why;
  // No growth after stability: once converged, with every voting member up, every tombstone is
  // collected and every delta log truncated everywhere. (A member that is down, e.g. the old
  // identity of a wiped node until it is reaped, rightly holds collection back.)
  if (res.converged && opt.collect_tombstones) {
    bool all_voters_up = true;
    std::set<node_id> up_ids;
    for (size_t i = 0; i < s.size(); ++i)
      if (s.at(i).up) up_ids.insert(s.at(i).rep->id());
    for (size_t i = 0; i < s.size(); ++i)
      if (s.at(i).up)
        for (node_id m : s.at(i).rep->members().voting_members()) all_voters_up = all_voters_up && up_ids.count(m);
    if (all_voters_up) {
      res.stability_checked = true;
      // With log retention on, a member still in the table that is not up (a node that left, the
      // old identity of a wiped one) keeps up to log_retain_deltas of each origin in the log.
      auto log_cap = [&](size_t i) -> uint64_t {
        const uint64_t retain = s.config().replica.log_retain_deltas;
        if (retain == 0) return 0;
        for (const auto& m : s.at(i).rep->members().members())
          if (!up_ids.count(m.id)) return retain * s.at(i).rep->vv().size();
        return 0;
      };
      auto settled = [&] {
        for (size_t i = 0; i < s.size(); ++i)
          if (s.at(i).up && (tombstones_at(s, s.at(i)) != 0 || s.at(i).rep->delta_log_size() > log_cap(i))) return false;
        return true;
      };
      if (!s.run_until(settled, 60'000)) {
        why << "not collected 60 s after convergence with every member up:";
        for (size_t i = 0; i < s.size(); ++i)
          if (s.at(i).up)
            why << " node " << i << " " << tombstones_at(s, s.at(i)) << " tombstones, log "
                << s.at(i).rep->delta_log_size() << ";";
        why << " ";
      }
      if (!s.converged()) why << "diverged while collecting; ";
    }
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (!s.at(i).up) continue;
    res.tombstones_collected += s.at(i).rep->stats().tombstones_collected;
    res.sets_repaired_by_elements += s.at(i).rep->stats().sets_repaired_by_elements;
    res.sets_transferred_in_pages += s.at(i).rep->stats().sets_transferred_in_pages;
  }
  if (!res.converged) {
    why << "did not converge within 120 s of virtual time; ";
    // Say how: the first key on which two live nodes differ, and the version vectors.
    std::map<std::string, std::string> ref;
    size_t ref_node = SIZE_MAX;
    for (size_t i = 0; i < s.size(); ++i) {
      if (!s.at(i).up) continue;
      why << "node " << i << " members " << s.at(i).rep->members().live_peers().size() << " live, vv entries "
          << s.at(i).rep->vv().size() << ", log " << s.at(i).rep->delta_log_size() << "; ";
      auto d = std::getenv("RUMOR_SIM_RAW") ? s.dump(s.at(i)) : s.logical(s.at(i));
      if (ref_node == SIZE_MAX) {
        ref = d;
        ref_node = i;
        continue;
      }
      for (auto& [k, v] : d)
        if (!ref.count(k) || ref[k] != v) {
          why << "node " << i << " differs from node " << ref_node << " at '" << k.substr(0, k.size() - 2)
              << "' (" << (ref.count(k) ? "other value" : "missing there") << "); ";
          break;
        }
      for (auto& [k, v] : ref)
        if (!d.count(k)) {
          why << "node " << i << " lacks '" << k.substr(0, k.size() - 2) << "' of node " << ref_node << "; ";
          break;
        }
      if (s.at(i).rep->vv() != s.at(ref_node).rep->vv()) why << "node " << i << " vv differs; ";
      if (std::getenv("RUMOR_SIM_DEBUG")) {
        for (auto& [k, v] : d) {
          if (ref[k] == v) continue;
          auto sv = decode_stored(v);
          auto sr = decode_stored(ref[k]);
          if (!sv || !sr) continue;
          auto val = crdt::decode(sv->crdt);
          auto refv = crdt::decode(sr->crdt);
          if (!val || !refv) continue;
          auto kvs = [](const crdt::version_vector& kv) {
            std::ostringstream o;
            for (auto& [n, c] : kv.entries()) o << std::hex << n << ":" << std::dec << c << " ";
            return o.str();
          };
          why << "\n  kv node " << i << ": " << kvs(sv->kv) << " | ref: " << kvs(sr->kv);
          auto show = [&](const crdt::value& x) {
            std::ostringstream o;
            x.context().for_each_dot([&](const crdt::dot&) {});
            for (auto& [n, c] : x.context().compact_part().entries()) o << std::hex << n << ":" << std::dec << c << " ";
            o << "| cloud ";
            for (auto& dd : x.context().cloud()) o << std::hex << dd.node << ":" << std::dec << dd.counter << " ";
            o << "| store ";
            x.variant().index();
            if (auto* set = x.get_if<crdt::or_set>())
              for (auto& [e, ds] : set->store().entries()) {
                o << e << "{";
                for (auto& dd : ds.dots()) o << std::hex << dd.node << ":" << std::dec << dd.counter << " ";
                o << "} ";
              }
            return o.str();
          };
          why << "\n  node " << i << ": " << show(*val) << "\n  ref  " << ref_node << ": " << show(*refv) << "\n";
        }
      }
    }
  }
  // Acknowledged operations are reflected, on every node.
  for (size_t i = 0; i < s.size(); ++i) {
    for (auto& [key, sum] : attempted) {
      auto v = s.values(i, key);
      int64_t value = v.empty() ? 0 : v[0].get_if<crdt::pn_counter>()->value();
      if (value < static_cast<int64_t>(acked[key]) || value > static_cast<int64_t>(sum))
        why << "node " << i << " counter " << key << " = " << value << ", acked " << acked[key]
            << ", attempted " << sum << "; ";
    }
    for (auto& [key, adds] : acked_adds) {
      auto v = s.values(i, key);
      const crdt::or_set* set = v.empty() ? nullptr : v[0].get_if<crdt::or_set>();
      for (auto& e : adds)
        if (!targeted[key].count(e) && (!set || !set->contains(e)))
          why << "node " << i << " lost acknowledged add " << key << "/" << e << "; ";
      if (set)
        for (auto& e : set->elements())
          if (!all_added.count(key + "/" + e)) why << "node " << i << " invented " << key << "/" << e << "; ";
    }
  }
  // Maps: every acknowledged add to m0's set fields is there.
  for (size_t i = 0; opt.maps && i < s.size(); ++i) {
    if (!s.at(i).up) continue;
    auto v = s.values(i, "m0");
    const crdt::or_map* m = v.empty() ? nullptr : v[0].get_if<crdt::or_map>();
    for (const auto& fe : map_acked) {
      auto slash = fe.find('/');
      auto f = m ? m->get<crdt::or_set>(fe.substr(0, slash)) : std::nullopt;
      if (!f || !f->contains(fe.substr(slash + 1))) {
        why << "node " << i << " lost acknowledged map add m0/" << fe << "; ";
        break;
      }
    }
  }
  // Text: one content on every node, holding every acknowledged codepoint no splice deleted.
  std::optional<std::string> text_ref[2];
  for (size_t i = 0; opt.text && i < s.size(); ++i) {
    if (!s.at(i).up) continue;
    std::u32string all;
    for (int x = 0; x < 2; ++x) {
      auto v = s.values(i, "x" + std::to_string(x));
      std::string content = v.empty() ? "" : v[0].get_if<crdt::text>()->str();
      if (text_ref[x] && *text_ref[x] != content) why << "node " << i << " reads text x" << x << " differently; ";
      text_ref[x] = content;
      all += *crdt::utf8_decode(content);
    }
    std::set<char32_t> have(all.begin(), all.end());
    if (have.size() != all.size()) why << "node " << i << " holds a text codepoint twice; ";
    for (char32_t c : text_acked)
      if (!text_deleted->count(c) && !have.count(c)) {
        why << "node " << i << " lost acknowledged text codepoint U+" << std::hex << static_cast<uint32_t>(c) << std::dec
            << " (holds " << all.size() << " codepoints, " << text_acked.size() << " acknowledged, " << text_deleted->size()
            << " deleted); ";
        break;
      }
  }
  if (const char* k = std::getenv("RUMOR_SIM_KEY")) {
    for (size_t i = 0; i < s.size(); ++i) {
      auto vals = s.values(i, k);
      why << "\n  node " << i << " id " << std::hex << (s.at(i).rep->id() >> 48) << std::dec << " " << k << ": ";
      for (auto& v : vals) {
        for (auto& [n, c] : v.context().compact_part().entries()) why << std::hex << (n >> 48) << ":" << std::dec << c << " ";
        why << "| cloud ";
        for (auto& d : v.context().cloud()) why << std::hex << (d.node >> 48) << ":" << std::dec << d.counter << " ";
        if (auto* set = v.get_if<crdt::or_set>())
          for (auto& [e, ds] : set->store().entries()) {
            why << e << "{";
            for (auto& d : ds.dots()) why << std::hex << (d.node >> 48) << ":" << std::dec << d.counter << " ";
            why << "} ";
          }
      }
    }
  }
  res.failure = why.str();
  return res;
}

}  // namespace rumor::sim
