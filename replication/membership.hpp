#pragma once
// membership: who is in the cluster and who is alive — SWIM failure detection and gossip
// dissemination (Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process
// Group Membership Protocol", DSN 2002) with the Lifeguard refinements (Dadgar, Phillips, Currey,
// "Lifeguard: Local Health Awareness for More Accurate Failure Detection", 2018): local health
// multiplier, dynamic suspicion timeouts with independent confirmations, and the buddy system
// (a ping to a suspect carries its suspicion so it can refute at once). The parameters, formulas,
// push-pull sync and gossip rounds follow hashicorp/memberlist.
//
// A pure, deterministic state machine in the style of etcd's raft package: no sockets, threads,
// clocks or CAF. Inputs are start_join(), tick(now), step(from, message) and leave(); outputs are
// messages appended to an outbox. The same seed and the same inputs give the same outputs.
// Nothing assumes that a message arrives: losses, duplicates, reordering, stale messages and
// messages from unknown nodes are all normal input. Every internal container is bounded.
//
// Protocol, beyond the papers (each keeps alive nodes alive under loss; see the tests):
//  - ping with probe 0 is a gossip-only push and is not acked (gossip rounds, leave, buddy notes).
//  - Suspicions are gossiped only by their accusers (nodes whose own probe failed); others hold
//    them locally. The wire has no accuser field, so this is what makes every sender of a
//    suspicion a distinct accuser, i.e. a Lifeguard "independent confirmation".
//  - Every message to X carries X's entry as the sender knows it (the buddy system, generalised).
//    X answers news about itself that is old (a refuted accusation, a stale incarnation) with a
//    direct ping{0, [its entry]}; any node that receives an update older than its own re-gossips
//    its own. A failed probe tells the new suspect at once, and each accuser tells it again once
//    per probe interval while the suspicion lasts (one lost note must not cost a live member).
//  - A message from a node not in the table pulls that node's table (join_request), at most once
//    per probe interval per node.
//  - No nacks (memberlist protocol 4): every failed probe raises local health, so healthy nodes
//    probing a slow one see their health rise a little too.
//
// Thread safety: none. One owner (the membership actor) makes every call.
//
// Times are milliseconds on the owner's monotonic clock. `now_ms` passed to successive calls
// should not decrease; a smaller value is treated as the largest seen so far.

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "replication/messages.hpp"
#include "replication/outgoing.hpp"

namespace rumor::replication {

struct membership_config {
  // One probe of one peer per interval (SWIM protocol period). Scaled by 1 + local_health().
  uint64_t probe_interval_ms = 1000;
  // Wait this long for a direct ack before asking `indirect_probes` peers to probe the target.
  // Scaled by 1 + local_health(). REQUIRES: < probe_interval_ms.
  uint64_t probe_timeout_ms = 500;
  // k: peers asked (ping_req) to probe a target that did not answer directly.
  uint32_t indirect_probes = 3;
  // Suspicion timeout (memberlist's SuspicionMult / SuspicionMaxTimeoutMult), n = live members:
  //   min = suspicion_min_mult * max(1, log10(max(1, n))) * probe_interval_ms
  //   max = suspicion_max_mult * min
  // A suspicion starts at max and shrinks toward min as independent confirmations arrive
  // (suspicion_min_mult - 2 confirmations reach min). REQUIRES: suspicion_min_mult >= 1,
  // suspicion_max_mult >= 1.
  uint32_t suspicion_min_mult = 4;
  uint32_t suspicion_max_mult = 6;
  // Each gossiped update is piggybacked retransmit_mult * ceil(log10(n + 1)) times.
  uint32_t retransmit_mult = 4;
  // At most this many member_updates ride on one ping / ack / ping_req. REQUIRES: >= 1.
  uint32_t max_gossip_per_message = 8;
  // Local health multiplier range is 0..max_local_health.
  uint32_t max_local_health = 8;
  // start_join() resends join_request to its seeds every join_retry_ms until a join_response
  // arrives, at most join_max_attempts times (0 = without bound). After that only the periodic
  // sync below keeps trying the seeds.
  uint64_t join_retry_ms = 1000;
  uint32_t join_max_attempts = 30;
  // Besides piggybacking on probe traffic, every gossip_interval_ms a node with updates to spread
  // sends them (ping with probe 0, not acked) to gossip_fanout random live peers, as memberlist's
  // GossipInterval / GossipNodes. Nothing is sent when there is nothing new. 0 = piggyback only
  // (plain SWIM); dissemination then takes several probe intervals, slower than the suspicion
  // timeout of refutations under loss.
  uint64_t gossip_interval_ms = 200;
  uint32_t gossip_fanout = 3;
  // Every sync_interval_ms, a full-state exchange (push-pull: join_response + join_request) with
  //  - one random live peer (repairs gossip that ran out of retransmissions),
  //  - one random dead member (heals partitions, finds restarted nodes),
  //  - the seeds that are not live members: all of them when no peer is live (a node that sees
  //    everyone dead retries its seeds), else one at random (heals splits older than the reap
  //    delay).
  // Also once, 2-5 probe intervals after joining (catches members that joined at the same time).
  // 0 disables it.
  uint64_t sync_interval_ms = 30'000;
  // Members declared dead are probed for their return: every dead_probe_interval_ms, a
  // full-state exchange (as sync's) with the next dead member in id order, round robin. Once a
  // partition heals, each side finds the other within about (dead members / nodes on this side)
  // intervals, however long the split lasted; the cost is bounded — one exchange per interval,
  // whatever the number of dead members — and nothing is sent while none is dead. A membership
  // message from a member we hold dead starts the same exchange with it at once (at most once per
  // probe interval per member). 0 disables the probing (sync's random dead member remains).
  uint64_t dead_probe_interval_ms = 500;
  // A member dead (or left) this long is removed from the table.
  uint64_t reap_dead_after_ms = 24ull * 3600 * 1000;
  // leave() sends the departure directly to up to this many live peers.
  uint32_t leave_fanout = 8;
  // Bounds: members in the table (updates about further unknown members are dropped), ping_req
  // relays in flight (further ping_reqs are dropped).
  uint32_t max_members = 4096;
  uint32_t max_pending_relays = 64;
};

// Returns an error naming the first field of `c` that violates its REQUIRES.
status validate(const membership_config& c);

// 0 alive < 1 suspect < 2 dead < 3 left.
int severity(member_status s) noexcept;

// The merge rule. REQUIRES: a.id == b.id. Returns true iff `a` replaces `b`: a has a higher
// incarnation, or the same incarnation and a more severe status. (So a left member stays left
// unless the member itself comes back with a higher incarnation.)
bool supersedes(const member_update& a, const member_update& b) noexcept;

// What changed since the last take_changes(): the current entries of changed members, and the
// members removed from the table (reaped). The owner persists and logs them.
struct membership_changes {
  std::vector<member_update> updated;
  std::vector<node_id> removed;
  bool empty() const { return updated.empty() && removed.empty(); }
};

class membership {
 public:
  // REQUIRES: self != 0, validate(cfg) is ok. The table starts as {self: alive, incarnation 0}.
  // `address` is where this node listens; `seed` seeds the RNG (probe order, peer choice).
  membership(node_id self, std::string address, uint64_t seed, membership_config cfg = {});

  // Loads a persisted table (from snapshot() / take_changes()). The self entry keeps the higher
  // of its persisted and current incarnation, plus one, and is alive (a restarted node outranks
  // whatever the cluster last said about it). Suspect entries load as alive (no timer survives a
  // restart); dead and left entries start their reap clock at the next tick.
  // Returns invalid_argument (and changes nothing) if called after start_join(), tick() or
  // step(), or if an entry has id 0.
  status restore(std::vector<member_update> table);

  // Joins through `seeds` (addresses; this node's own address is skipped): sends join_request
  // (to = 0, address = seed) to each, and again every join_retry_ms until a join_response
  // arrives. With no other seed this node is a cluster of one and joined() at once.
  // REQUIRES: !has_left().
  void start_join(std::vector<std::string> seeds, uint64_t now_ms, outbox& out);

  // Advances timers. May emit: ping (next probe; probe 0: gossip round, note to a new suspect),
  // ping_req (direct probe timed out), join_request (join retry, sync), join_response (sync
  // push). Marks failed probes suspect, expired suspicions dead, reaps. The owner calls it often
  // (every 10-100 ms; at least every gossip_interval_ms); late ticks only delay.
  void tick(uint64_t now_ms, outbox& out);

  // Handles one received message from node `from` (the id the transport learnt from the
  // connection's hello). Merges piggybacked gossip, then: ping (probe != 0) -> ack to `from`;
  // ack -> completes our probe, or is relayed to the ping_req sender; ping_req -> ping to the
  // target (its ack relayed later); join_request -> join_response with the whole table;
  // join_response -> merged (dead entries about members we see live become suspect, as
  // memberlist's push-pull) and joined(). May also emit a ping{0} correcting `from`'s view of us
  // and a join_request to an unknown `from` (see the protocol notes above).
  // Returns false (and does nothing) for non-membership messages or from == 0.
  bool step(node_id from, const message& msg, uint64_t now_ms, outbox& out);

  // Graceful leave: self becomes left at incarnation + 1; the update is sent at once (ping, probe
  // 0) to up to leave_fanout live peers and gossiped. Afterwards this node stops probing,
  // syncing and joining, but still answers messages and runs gossip rounds, so the news spreads
  // for as long as the owner keeps it running. REQUIRES: !has_left().
  void leave(uint64_t now_ms, outbox& out);

  // ---- queries ----
  const member_update& self() const;
  // Returns the entry of `id`, or nullptr if it is not in the table.
  const member_update* find(node_id id) const;
  // Every entry (self included), ordered by id.
  std::vector<member_update> members() const;
  // Alive and suspect members other than self, ordered by id.
  std::vector<member_update> live_peers() const;
  // Members not left (alive, suspect, dead until reaped), self included, ordered by id: the
  // denominator of quorums.
  std::vector<node_id> voting_members() const;
  // True once a join_response arrived, or start_join() had no seed.
  bool joined() const { return joined_; }
  bool has_left() const;
  // Lifeguard local health multiplier, 0..max_local_health; 0 is healthy.
  uint32_t local_health() const { return health_; }
  // The table to persist; equal to members().
  std::vector<member_update> snapshot() const { return members(); }
  // The address member `id` announced; empty if unknown.
  std::string address_of(node_id id) const;
  // Entries changed (status, incarnation, address, new) and members reaped since the last call;
  // the first call also returns the initial self entry (and everything restore() loaded).
  membership_changes take_changes();
  const membership_config& config() const { return cfg_; }

 private:
  struct suspicion {
    uint64_t since_ms = 0;
    uint32_t k = 0;  // confirmations that bring the timeout down to min
    uint64_t min_ms = 0;
    uint64_t max_ms = 0;
    std::vector<node_id> confirmers;  // the first accuser and up to k confirmations
    uint64_t buddy_at_ms = 0;  // an accuser's next buddy ping to the suspect (remind_suspects)
  };
  struct member {
    member_update u;
    uint64_t since_ms = 0;  // time of the last status change; unset_ = at the next tick
    std::optional<suspicion> susp;  // iff u.status == suspect
    // We accuse it ourselves (our probe failed). Only accusers gossip a suspicion, so that every
    // sender of one is an independent confirmation (the wire carries no accuser field).
    bool ours = false;
  };
  struct probe {
    uint64_t id = 0;
    node_id target = 0;
    uint64_t incarnation = 0;  // target's incarnation when the probe started
    uint64_t timeout_at = 0;   // direct ping timed out -> ping_req
    uint64_t end_at = 0;       // no ack by now -> suspect
    bool indirect_sent = false;
    bool acked = false;
  };
  struct relay {
    uint64_t our_probe = 0;  // the probe number of our ping to target
    uint64_t their_probe = 0;
    node_id requester = 0;
    node_id target = 0;
    uint64_t expires_at = 0;
  };
  struct gossip_entry {
    node_id id = 0;
    uint32_t transmits = 0;
    uint64_t seq = 0;  // higher = fresher
  };

  static constexpr uint64_t unset_ = UINT64_MAX;

  uint64_t advance(uint64_t now_ms);
  void handle(node_id from, const message& msg, uint64_t now, outbox& out);
  void send(node_id to, message msg, outbox& out) const;

  // Merging. `from` is the node the update came from (counted as a confirmation of a
  // suspicion); `full_state` softens dead to suspect for members we see live.
  void apply(const member_update& u, node_id from, bool full_state, uint64_t now);
  void apply_all(const std::vector<member_update>& us, node_id from, bool full_state, uint64_t now);
  void refute(uint64_t accused_incarnation);
  void set_state(member& m, const member_update& u, node_id from, uint64_t now);
  void changed(node_id id);
  bool gossipable(const member& m) const;

  // Gossip.
  void enqueue(node_id id);
  std::vector<member_update> take_gossip(node_id buddy);
  uint32_t retransmit_limit() const;

  // Probing.
  void start_probe(uint64_t now, outbox& out);
  void finish_probe(uint64_t now, outbox& out);
  void send_indirect(uint64_t now, outbox& out);
  std::optional<node_id> next_probe_target();
  void probe_succeeded();
  void adjust_health(int delta);
  uint64_t scaled(uint64_t ms) const { return ms * (1 + uint64_t{health_}); }

  // Timers.
  void check_suspicions(uint64_t now);
  void reap(uint64_t now);
  void gossip_round(uint64_t now, outbox& out);
  void sync(uint64_t now, outbox& out);
  void probe_dead(uint64_t now, outbox& out);
  // A full-state exchange with `from` (unknown or held dead) now, at most once per probe
  // interval per node.
  void pull_from(node_id from, bool push, outbox& out);
  void send_join(const std::string& address, node_id to, bool push, outbox& out);

  size_t live_count() const;  // alive + suspect, self included
  uint64_t suspicion_deadline(const suspicion& s) const;
  // Buddy system, repeated: each member we accuse is told of its suspicion once per probe
  // interval until it refutes or is declared dead, so that one lost buddy ping does not leave a
  // live member unaware until confirmations arriving late take it to the minimum timeout (seed
  // 1899804691891000174 of the slow-node test: the only buddy ping was lost, nobody else talked
  // to the suspect for 3.3 s, and its refutation came after the deadline).
  void remind_suspects(uint64_t now, outbox& out);

  node_id self_id_;
  membership_config cfg_;
  std::mt19937_64 rng_;
  std::map<node_id, member> members_;  // ordered: deterministic iteration

  bool started_ = false;
  uint64_t now_ = 0;
  bool joined_ = false;
  std::vector<std::string> seeds_;
  bool joining_ = false;
  uint32_t join_attempts_ = 0;
  uint64_t next_join_at_ = 0;
  uint64_t next_sync_at_ = 0;
  static constexpr size_t max_pulls_ = 16;
  std::vector<std::pair<node_id, uint64_t>> pulls_;  // unknown senders pulled, until when
  uint64_t next_gossip_at_ = 0;
  uint64_t next_dead_probe_at_ = 0;
  node_id dead_probe_cursor_ = 0;  // the dead member probed last (round robin in id order)
  bool correct_sender_ = false;  // step(): the sender needs our refutation

  uint32_t health_ = 0;
  uint64_t next_probe_id_ = 1;
  uint64_t next_probe_at_ = 0;
  std::optional<probe> probe_;
  std::vector<node_id> probe_order_;
  size_t probe_index_ = 0;
  std::vector<relay> relays_;

  std::vector<gossip_entry> gossip_;
  uint64_t gossip_seq_ = 0;

  std::set<node_id> changed_;
  std::vector<node_id> removed_;
};

}  // namespace rumor::replication
