// text: collaborative text editing replayed from an editing trace (github.com/josephg/
// editing-traces format, optionally gzipped) into the text CRDT (crdt/text.hpp).
//
// --trace FILE (sequential: {"startContent", "endContent", "txns": [{"patches": [[pos, del,
// ins], ...]}]}): replays every patch as a splice of one replica, timed; checks the content
// against endContent; prints patches/s, the encoded state with its history, the structure's
// memory, and the encoded bytes of the deltas per patch (a second, untimed replay).
// --concurrent FILE (txns with "agent" and "parents"): one replica per agent; before a
// transaction its agent's replica joins the deltas of every ancestor transaction it lacks (the
// document "parents" names), then applies the patches; at the end every replica joins every
// delta and must read endContent. Without a file: a generated typing session (seeded; typing
// runs, cursor jumps, backspaces, selections replaced), sequential.
// Then, for the sequential trace, a node process: its first --text-node-patches patches as
// pipelined client splices (window --window) into one key of a durable node, timed (--quick: at
// most 2,000); the node's
// text must equal the in-process replay of the same patches. A node stores a text as one value,
// kept decoded between writes but encoded again at each write, so this figure falls as the
// document grows (see the closing notes).
// And the same patches' deltas, as a peer's node receives them: applied by one in-process
// replica (replication::replica over a memory store, batches committed at once) in pushes of
// 500 deltas and in pushes of one (the first 5,000); its text must equal the replay.
#include <zlib.h>

#include <nlohmann/json.hpp>
#include <random>

#include "bench_client.hpp"
#include "bench_node.hpp"
#include "bench_scenarios.hpp"
#include "crdt/codec.hpp"
#include "crdt/text.hpp"
#include "crdt/utf8.hpp"
#include "persistence/memory_store.hpp"
#include "replication/replica.hpp"

namespace rumor::cli::bench {

namespace {

struct patch {
  uint64_t pos = 0;
  uint64_t del = 0;
  std::string ins;
};

struct txn {
  std::vector<size_t> parents;
  size_t agent = 0;
  std::vector<patch> patches;
};

struct trace {
  std::string start, end;
  std::vector<txn> txns;
  size_t agents = 1;
  bool concurrent = false;
};

std::string read_maybe_gzipped(const std::string& path) {
  gzFile f = ::gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = ::gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int err = 0;
  const char* msg = ::gzerror(f, &err);
  std::string why = err < 0 ? msg : "";
  ::gzclose(f);
  if (n < 0 || !why.empty()) throw std::runtime_error("cannot read " + path + ": " + why);
  return out;
}

trace load(const std::string& path, bool concurrent) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_maybe_gzipped(path));
    trace t;
    t.concurrent = concurrent;
    t.start = j.value("startContent", std::string());
    t.end = j.at("endContent").get<std::string>();
    for (const auto& x : j.at("txns")) {
      txn tx;
      if (concurrent) {
        tx.agent = x.at("agent").get<size_t>();
        for (const auto& p : x.at("parents")) tx.parents.push_back(p.get<size_t>());
        t.agents = std::max(t.agents, tx.agent + 1);
      }
      for (const auto& p : x.at("patches"))
        tx.patches.push_back({p.at(0).get<uint64_t>(), p.at(1).get<uint64_t>(), p.at(2).get<std::string>()});
      t.txns.push_back(std::move(tx));
    }
    return t;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + " is not an editing trace: " + e.what());
  }
}

// A seeded typing session: runs of typing, backspaces, cursor jumps, replaced selections.
trace generate(uint64_t patches, uint64_t seed) {
  std::mt19937_64 rng(seed);
  trace t;
  std::u32string doc;
  uint64_t cursor = 0;
  const std::u32string alphabet = U"etaoin shrdlu cmfwyp vbgkqjxz,.\nÉü—";
  for (uint64_t i = 0; i < patches; ++i) {
    txn tx;
    uint64_t r = rng() % 100;
    if (r < 3) cursor = doc.empty() ? 0 : rng() % (doc.size() + 1);  // jump
    if (r < 75 || doc.empty()) {
      char32_t c = alphabet[rng() % alphabet.size()];
      tx.patches.push_back({cursor, 0, crdt::utf8_encode(std::u32string(1, c))});
      doc.insert(cursor++, 1, c);
    } else if (r < 97 && cursor > 0) {
      tx.patches.push_back({cursor - 1, 1, ""});  // backspace
      doc.erase(--cursor, 1);
    } else {
      uint64_t del = std::min<uint64_t>(rng() % 20, doc.size() - cursor);
      std::u32string ins(rng() % 10, U'x');
      tx.patches.push_back({cursor, del, crdt::utf8_encode(ins)});
      doc.replace(cursor, del, ins);
      cursor += ins.size();
    }
    t.txns.push_back(std::move(tx));
  }
  t.end = crdt::utf8_encode(doc);
  return t;
}

uint64_t patch_count(const trace& t) {
  uint64_t n = 0;
  for (const txn& x : t.txns) n += x.patches.size();
  return n;
}

crdt::text splice(crdt::text& doc, crdt::node_id self, const patch& p) {
  auto d = doc.splice(self, p.pos, p.del, p.ins);
  if (!d) throw std::runtime_error("the trace's patch at " + std::to_string(p.pos) + " does not apply: " + d.err().message);
  return std::move(*d);
}

// The first ctx.opt.text_node_patches patches through a node process (see the file comment).
void run_on_node(context& ctx, const trace& t, const std::string& name) {
  const uint64_t limit = ctx.opt.quick ? std::min<uint64_t>(ctx.opt.text_node_patches, 2'000) : ctx.opt.text_node_patches;
  std::vector<patch> ps;
  if (limit > 0 && !t.start.empty()) ps.push_back({0, 0, t.start});
  for (const txn& x : t.txns)
    for (const patch& p : x.patches)
      if (ps.size() < limit) ps.push_back(p);
  if (ps.empty()) return;
  crdt::text expected;
  for (const patch& p : ps) (void)splice(expected, 1, p);
  node_proc node(ctx, "text-node");
  node.durability = "durable";
  node.start();
  auto c = connect(ctx, node.address());
  wait_until(ctx, "node ready", [&] { return is_ready(c); }, 20);
  ctx.progress("node " + node.address() + ": " + std::to_string(ps.size()) + " pipelined splices of " + name +
               ", window " + std::to_string(ctx.opt.window));
  auto w = pipelined_writes(ctx, c, ps.size(), [&](uint64_t i) {
    client::update u;
    u.key = "text-bench";
    u.op = client::op_kind::splice;
    u.type = crdt::type_tag::text;
    u.position = ps[i].pos;
    u.delete_count = ps[i].del;
    u.value = ps[i].ins;
    return u;
  }, "splices");
  if (w.failed) throw std::runtime_error(std::to_string(w.failed) + " splices failed: " + w.first_error);
  client::request req;
  req.body = client::get{"text-bench"};
  auto r = c.call(req, 30'000);
  if (!r || r->code != errc::ok || r->values.empty()) throw std::runtime_error("cannot read the node's text back");
  auto v = crdt::decode(r->values.front().value);
  if (!v || !v->get_if<crdt::text>() || v->get_if<crdt::text>()->str() != expected.str())
    throw std::runtime_error("the node's text differs from the in-process replay of the same patches");
  std::vector<std::pair<std::string, std::string>> params = {
      {"trace", name}, {"patches", std::to_string(ps.size())}, {"final_codepoints", std::to_string(expected.size())},
      {"window", std::to_string(ctx.opt.window)}, {"durability", "durable"},
      {"content", "equals the in-process replay"}};
  ctx.out.add({"text", "node_splices_per_s", ps.size() / (w.ms / 1000), "splices/s", params, "", std::nullopt});
}

// Applies the deltas `es` (of key "doc") by one in-process replica in pushes of `per`; returns
// the seconds it took. Throws when the replica's text is not `expected`.
double apply_in_pushes(const std::vector<replication::delta_entry>& es, size_t per, const std::string& expected) {
  persistence::memory_store store;
  replication::replica r(store, "127.0.0.1:1", replication::replica_config{}, 1);
  if (!r.load(1'000)) throw std::runtime_error("in-process replica: load failed");
  r.start({}, 1'000);
  auto commit = [&] {
    auto rd = r.take_ready();
    for (auto& b : rd.batches) {
      if (!store.commit(std::span(&b.batch, 1))) throw std::runtime_error("in-process replica: commit failed");
      r.committed(b.id);
    }
    (void)r.take_ready();
  };
  commit();
  double t0 = now_ms();
  for (size_t i = 0; i < es.size(); i += per) {
    std::vector<replication::delta_entry> part(es.begin() + i, es.begin() + std::min(es.size(), i + per));
    r.receive(es.front().origin, replication::push{std::move(part), false}, 2'000);
    commit();
  }
  double s = (now_ms() - t0) / 1000;
  auto v = r.get("doc");
  if (!v || v->size() != 1 || !v->front().get_if<crdt::text>() || v->front().get_if<crdt::text>()->str() != expected)
    throw std::runtime_error("the in-process replica's text differs from the replay of the same deltas");
  return s;
}

// The first ctx.opt.text_node_patches patches' deltas applied by a replica (see the file comment).
void run_remote_deltas(context& ctx, const trace& t, const std::string& name) {
  const uint64_t limit = ctx.opt.quick ? std::min<uint64_t>(ctx.opt.text_node_patches, 2'000) : ctx.opt.text_node_patches;
  const crdt::node_id origin = 0x52554d4f52000002ull;
  crdt::text doc;
  std::vector<replication::delta_entry> es;
  replication::version_vector deps;
  const uint64_t hlc = uint64_t{1'700'000'000'000} << 16;
  auto add = [&](const patch& p) {
    crdt::text d = splice(doc, origin, p);
    uint64_t seq = es.size() + 1;
    es.push_back({origin, seq, {"doc", crdt::type_tag::text, hlc + seq, crdt::encode(crdt::value{d}), deps}});
    deps.set(origin, seq);
  };
  if (limit > 0 && !t.start.empty()) add({0, 0, t.start});
  for (const txn& x : t.txns)
    for (const patch& p : x.patches)
      if (es.size() < limit) add(p);
  if (es.empty()) return;
  ctx.progress("in-process replica: " + std::to_string(es.size()) + " deltas of " + name + " in pushes of 500, then of 1");
  const std::string expected = doc.str();
  double batched = apply_in_pushes(es, 500, expected);
  std::vector<replication::delta_entry> first(es.begin(), es.begin() + std::min<size_t>(es.size(), 5'000));
  crdt::text first_doc;
  for (const auto& e : first) (void)first_doc.join(*crdt::decode(e.record.delta)->get_if<crdt::text>());
  double single = apply_in_pushes(first, 1, first_doc.str());
  auto params = [&](size_t n, size_t per, uint64_t codepoints) {
    return std::vector<std::pair<std::string, std::string>>{
        {"trace", name}, {"deltas", std::to_string(n)}, {"per_push", std::to_string(per)},
        {"final_codepoints", std::to_string(codepoints)}, {"store", "memory_store, commit at once"},
        {"content", "equals the replay"}};
  };
  ctx.out.add({"text", "replica_deltas_per_s", es.size() / batched, "deltas/s", params(es.size(), 500, doc.size()), "",
               std::nullopt});
  ctx.out.add({"text", "replica_deltas_per_s", first.size() / single, "deltas/s", params(first.size(), 1, first_doc.size()),
               "", std::nullopt});
}

void run_sequential(context& ctx, const trace& t, const std::string& name) {
  const crdt::node_id self = 0x52554d4f52000001ull;  // 8 bytes, like a node id
  uint64_t patches = patch_count(t);
  crdt::text doc;
  if (!t.start.empty()) (void)splice(doc, self, {0, 0, t.start});
  ctx.progress("replaying " + std::to_string(patches) + " patches of " + name);
  double t0 = now_ms();
  for (const txn& x : t.txns) {
    for (const patch& p : x.patches) (void)splice(doc, self, p);
    ctx.check("replay");
  }
  double ms = now_ms() - t0;
  if (doc.str() != t.end) throw std::runtime_error("the replayed text differs from the trace's endContent");
  size_t state = crdt::encode(crdt::value{doc}).size();
  // Deltas, untimed: the bytes each patch would put on the wire.
  crdt::text again;
  uint64_t delta_bytes = 0;
  if (!t.start.empty()) (void)splice(again, self, {0, 0, t.start});
  for (const txn& x : t.txns)
    for (const patch& p : x.patches) delta_bytes += crdt::encode(crdt::value{splice(again, self, p)}).size();
  // A peer that receives the whole state decodes it to the same text.
  auto back = crdt::decode(crdt::encode(crdt::value{doc}));
  if (!back || back->get_if<crdt::text>()->str() != t.end) throw std::runtime_error("the encoded state does not decode to endContent");
  run_on_node(ctx, t, name);
  run_remote_deltas(ctx, t, name);
  std::vector<std::pair<std::string, std::string>> params = {{"trace", name}, {"patches", std::to_string(patches)},
                                                             {"final_codepoints", std::to_string(doc.size())},
                                                             {"items_with_history", std::to_string(doc.item_count())},
                                                             {"runs", std::to_string(doc.runs().size())},
                                                             {"content", "equals endContent"}};
  // The goals are figures of the automerge-paper trace; other traces are shown without.
  const bool goals = name.find("automerge-paper") != std::string::npos;
  auto add = [&](std::string what, double v, std::string unit, std::string goal, std::optional<bool> meets) {
    if (!goals) {
      goal.clear();
      meets.reset();
    }
    ctx.out.add({"text", std::move(what), v, std::move(unit), params, std::move(goal), meets});
  };
  add("replay_ms", ms, "ms", "<= 500 (automerge-paper; Yjs ~1 s)", ms <= 500);
  add("replay_patches_per_s", patches / (ms / 1000), "patches/s", "", std::nullopt);
  add("state_bytes_with_history", static_cast<double>(state), "bytes", "<= 160 KB (automerge-paper; Yjs 160 KB)", state <= 160'000);
  add("memory_bytes", static_cast<double>(doc.memory_bytes()), "bytes", "", std::nullopt);
  double per = static_cast<double>(delta_bytes) / static_cast<double>(patches);
  add("delta_bytes_per_patch", per, "bytes", "<= 40 (Yjs 27-36)", per <= 40);
}

void run_concurrent(context& ctx, const trace& t, const std::string& name) {
  const size_t n = t.txns.size();
  std::vector<crdt::text> replicas(t.agents);
  std::vector<std::vector<bool>> applied(t.agents, std::vector<bool>(n, false));
  std::vector<crdt::text> deltas(n);
  crdt::text start;
  if (!t.start.empty()) start = splice(start, 1, {0, 0, t.start});
  for (auto& r : replicas) r.join(start);
  auto agent_id = [](size_t a) { return crdt::node_id{0x4147000000000000ull + a + 1}; };
  ctx.progress("replaying " + std::to_string(n) + " transactions of " + std::to_string(t.agents) + " agents from " + name);
  double t0 = now_ms();
  uint64_t joined = 0;
  for (size_t i = 0; i < n; ++i) {
    const txn& x = t.txns[i];
    if (x.agent >= t.agents) throw std::runtime_error("transaction " + std::to_string(i) + " names an unknown agent");
    crdt::text& doc = replicas[x.agent];
    auto& have = applied[x.agent];
    // The ancestors the replica lacks, joined oldest first (their deltas' causal order).
    std::vector<size_t> stack(x.parents.begin(), x.parents.end()), need;
    while (!stack.empty()) {
      size_t p = stack.back();
      stack.pop_back();
      if (p >= i) throw std::runtime_error("transaction " + std::to_string(i) + " names a later parent");
      if (have[p]) continue;
      have[p] = true;
      need.push_back(p);
      stack.insert(stack.end(), t.txns[p].parents.begin(), t.txns[p].parents.end());
    }
    std::sort(need.begin(), need.end());
    for (size_t p : need) doc.join(deltas[p]);
    joined += need.size();
    crdt::text delta;
    for (const patch& p : x.patches) delta.join(splice(doc, agent_id(x.agent), p));
    deltas[i] = std::move(delta);
    have[i] = true;
    if (i % 1024 == 0) ctx.check("concurrent replay");
  }
  for (size_t a = 0; a < t.agents; ++a)
    for (size_t i = 0; i < n; ++i)
      if (!applied[a][i]) replicas[a].join(deltas[i]);
  double ms = now_ms() - t0;
  for (size_t a = 0; a < t.agents; ++a)
    if (replicas[a].str() != t.end)
      throw std::runtime_error("agent " + std::to_string(a) + "'s replica differs from the trace's endContent");
  for (size_t a = 1; a < t.agents; ++a)
    if (!(replicas[a] == replicas[0])) throw std::runtime_error("the replicas read the same text but differ in state");
  std::vector<std::pair<std::string, std::string>> params = {
      {"trace", name}, {"agents", std::to_string(t.agents)}, {"txns", std::to_string(n)},
      {"patches", std::to_string(patch_count(t))}, {"deltas_joined_on_the_way", std::to_string(joined)},
      {"content", "every replica equals endContent"}};
  ctx.out.add({"text", "concurrent_replay_ms", ms, "ms", params, "", std::nullopt});
  ctx.out.add({"text", "concurrent_state_bytes", static_cast<double>(crdt::encode(crdt::value{replicas[0]}).size()), "bytes",
               params, "", std::nullopt});
}

}  // namespace

void run_text(context& ctx) {
  if (!ctx.opt.text_trace.empty()) {
    run_sequential(ctx, load(ctx.opt.text_trace, false), ctx.opt.text_trace);
  } else if (ctx.opt.text_concurrent.empty()) {
    uint64_t patches = ctx.opt.quick ? 20'000 : 260'000;
    run_sequential(ctx, generate(patches, 2026), "generated typing session (seed 2026)");
  }
  if (!ctx.opt.text_concurrent.empty()) run_concurrent(ctx, load(ctx.opt.text_concurrent, true), ctx.opt.text_concurrent);
}

}  // namespace rumor::cli::bench
