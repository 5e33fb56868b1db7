// rumor: one binary for the node daemon, the client commands and the local cluster launcher.
// Global options (--connect, --json, --consistency, --timeout-ms) go before or after the
// command. Exit codes: exit_codes.hpp. `--version`, `completion bash|zsh` and `man` describe
// this very definition (cmd_docs.hpp).

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <unistd.h>

#include "cmd_bench.hpp"
#include "cmd_certs.hpp"
#include "cmd_client.hpp"
#include "cmd_cluster.hpp"
#include "cmd_docs.hpp"
#include "cmd_node.hpp"
#include "exit_codes.hpp"

namespace {

std::string self_path(const char* argv0) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) return std::string(buf, static_cast<size_t>(n));
  return argv0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rumor::cli;
  CLI::App app{"rumor: an eventually consistent, CRDT-based data sync framework.\n"
               "Run nodes with `rumor node` (or `rumor cluster`), talk to them with the other commands."};
  app.require_subcommand(1);
  app.fallthrough();
  // Options from a file: a [node] section with the `rumor node` option names (listen, data,
  // join = [..], cluster, durability, gossip-interval-ms, fanout, log-level).
  app.set_config("--config", "", "read options from a TOML/INI file ([node] section for `rumor node`)");

  client_options copt;
  app.add_option("--connect", copt.connect, "node to talk to, HOST:PORT (default: $RUMOR_CONNECT or 127.0.0.1:7400)");
  app.add_flag("--json", copt.json, "one JSON object per result line");
  app.add_option("--consistency", copt.consistency, "local | majority | all")
      ->check(CLI::IsMember({"local", "majority", "all"}));
  app.add_option("--tls-ca", copt.credentials.tls.ca, "speak TLS, trusting the cluster CA in this PEM file")
      ->envname("RUMOR_TLS_CA");
  app.add_option("--tls-cert", copt.credentials.tls.cert, "client certificate (PEM; `rumor certs client`)")
      ->envname("RUMOR_TLS_CERT");
  app.add_option("--tls-key", copt.credentials.tls.key, "client certificate's key (PEM)")->envname("RUMOR_TLS_KEY");
  app.add_option("--token", copt.credentials.token, "bearer token for a node with --client-token-file")
      ->envname("RUMOR_TOKEN");
  app.add_option("--timeout-ms", copt.timeout_ms, "how long majority/all may take")->check(CLI::Range(1u, 3'600'000u));
  // Handled while parsing, so it works without a command (require_subcommand) and exits 0.
  app.set_version_flag("--version", version_line, "print the version, git commit, protocol and store format and exit");

  // ---- rumor node ----
  node_options nopt;
  auto* node = app.add_subcommand("node", "run a node in the foreground (stops on Ctrl-C / SIGTERM; SIGHUP re-reads log-level from --config)");
  node->add_option("--listen", nopt.listen, "HOST:PORT for peers and clients")->capture_default_str();
  node->add_option("--data", nopt.data, "data directory (created if missing)")->required();
  node->add_option("--join", nopt.join, "a peer to join through, HOST:PORT (repeatable)");
  node->add_option("--advertise", nopt.advertise, "address peers should dial (default: the listen address)");
  node->add_option("--cluster", nopt.cluster, "cluster name; peers of other clusters are refused")->capture_default_str();
  node->add_option("--durability", nopt.durability, "durable (fsync per commit group) | relaxed (no fsync)")
      ->check(CLI::IsMember({"durable", "relaxed"}))
      ->capture_default_str();
  node->add_option("--write-behind-mb", nopt.write_behind_mb,
                   "memory for updates acknowledged on the write-ahead log and not yet written into the "
                   "B-trees; beyond it writers wait")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20))
      ->capture_default_str();
  node->add_option("--max-frame-kb", nopt.max_frame_kb,
                   "largest frame the node reads, or answers a client with (a bigger answer is refused as "
                   "too large: read the collection in pages)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{65536}))
      ->capture_default_str();
  node->add_option("--gossip-interval-ms", nopt.gossip_interval_ms, "anti-entropy period")
      ->check(CLI::Range(uint64_t{1}, uint64_t{600'000}))
      ->capture_default_str();
  node->add_option("--fanout", nopt.fanout, "children of each node in an origin's push tree")
      ->check(CLI::Range(size_t{1}, size_t{64}))
      ->capture_default_str();
  node->add_option("--log-retain-deltas", nopt.log_retain_deltas,
                   "deltas of each origin kept in the log for members that are down or left and may come back "
                   "(they then catch up from the log instead of by repair; 0: none)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 32))
      ->capture_default_str();
  node->add_option("--cas-voters", nopt.cas_voters,
                   "compare-and-set lane voters: HOST:PORT,... (their advertised addresses; the same list on "
                   "every node; empty: lane disabled)")
      ->delimiter(',');
  node->add_option("--log-level", nopt.log_level, "trace | debug | info | warn | error | off")->capture_default_str();
  node->add_option("--http", nopt.http,
                   "HOST:PORT of the HTTP endpoint: JSON API, /metrics, /v1/watch (docs/http-api.md); "
                   "off unless set");
  node->add_option("--tls-ca", nopt.tls_ca,
                   "PEM bundle of the cluster CA(s): with it every connection speaks TLS 1.3 only, and peers and "
                   "clients must hold certificates it signed (README \"Security\"; SIGHUP re-reads the TLS files)");
  node->add_option("--tls-cert", nopt.tls_cert, "this node's certificate (PEM; `rumor certs node`)");
  node->add_option("--tls-key", nopt.tls_key, "this node's private key (PEM)");
  node->add_option("--client-token-file", nopt.client_token_file,
                   "bearer tokens clients may authenticate with instead of a certificate, one per line "
                   "(`rumor certs token`)");

  // ---- rumor cluster ----
  cluster_options clopt;
  auto* cluster = app.add_subcommand("cluster", "start N local node processes that join each other");
  cluster->add_option("--nodes", clopt.nodes, "number of nodes")->capture_default_str();
  cluster->add_option("--dir", clopt.dir, "directory for the nodes' data")->capture_default_str();
  cluster->add_option("--base-port", clopt.base_port, "port of node 0; node i gets base+i")->capture_default_str();
  cluster->add_option("--cluster", clopt.cluster, "cluster name")->capture_default_str();
  cluster->add_option("--durability", clopt.durability, "durable | relaxed")
      ->check(CLI::IsMember({"durable", "relaxed"}))
      ->capture_default_str();
  cluster->add_option("--log-level", clopt.log_level, "the nodes' log level")->capture_default_str();
  cluster->add_flag("--tls", clopt.tls, "TLS between the nodes and for clients, with a throwaway CA in DIR/certs");

  // ---- rumor certs ----
  certs_options certopt;
  auto* certs = add_certs_command(app, certopt);

  // ---- rumor bench ----
  bench::options bopt;
  auto* bench = add_bench_command(app, bopt);

  // ---- client commands ----
  client_command cmd;
  auto add = [&](const std::string& name, const std::string& help, const std::string& args_help, bool required) {
    auto* sc = app.add_subcommand(name, help);
    auto* opt = sc->add_option("args", cmd.args, args_help);
    if (required) opt->required();
    return sc;
  };
  auto* get = add("get", "read a key (a big set or map is read in pages)", "KEY", true);
  get->add_option("--field", cmd.field, "read the nested map field a.b instead (field names joined by '.')");
  auto* incr = add("incr", "add to a counter: incr KEY [N]", "KEY [N]", true);
  auto* decr = add("decr", "subtract from a counter: decr KEY [N]", "KEY [N]", true);
  auto* set_cmd = add("set", "set a register (last writer wins): set KEY VALUE", "KEY VALUE", true);
  auto* mvput = add("mvput", "write a multi-value register: mvput KEY VALUE [--context C]", "KEY VALUE", true);
  mvput->add_option("--context", cmd.context, "context from mvget: supersede exactly that, fail if stale");
  add("mvget", "read a multi-value register's siblings and context", "KEY", true);
  CLI::App* sadd_cmd = nullptr;
  CLI::App* srem_cmd = nullptr;
  for (const char* name : {"sadd", "srem"}) {
    auto* sc = add(name, std::string(name == std::string("sadd") ? "add members to" : "remove members from") +
                             " a set: " + name + " KEY MEMBER... (prints how many changed and the new size)",
                   "KEY MEMBER...", true);
    sc->add_flag("--value", cmd.value, "print the whole set after the update instead");
    (name == std::string("sadd") ? sadd_cmd : srem_cmd) = sc;
  }
  auto* sismember = add("sismember", "is MEMBER in the set KEY (or a field name of the map)? true / false",
                        "KEY MEMBER", true);
  auto* scard = add("scard", "the number of members of the set KEY (or fields of the map)", "KEY", true);
  auto* smembers = add("smembers", "list a set's members (or a map's fields) in byte order, page by page",
                       "KEY", true);
  smembers->add_option("--after", cmd.after, "start after this member (field name)");
  smembers->add_option("--limit", cmd.limit, "print one page of at most N (and where the next starts)")
      ->check(CLI::Range(1u, 100'000u));
  for (auto* sc : {sismember, scard, smembers})
    sc->add_option("--field", cmd.field, "the set or map in the nested map field a.b (names joined by '.')");
  auto* flag = add("flag", "set a flag: flag KEY on|off", "KEY on|off", true);
  auto* text = add("text", "read a collaborative text as it is (rumor splice edits it)", "KEY", true);
  text->add_flag("--context", cmd.show_context, "also print its context (stderr), for splice --context");
  auto* splice = add("splice", "edit a text: delete DEL codepoints at codepoint POS, insert TEXT there "
                               "(prints how many changed and the new length)",
                     "KEY POS DEL [TEXT]", true);
  splice->add_option("--context", cmd.context, "context from text --context: fail (exit 5) if the text changed since");
  splice->add_flag("--value", cmd.value, "print the whole text after the update instead");
  auto* del = add("del", "delete a key, or with --field a.b that field of the map KEY", "KEY", true);
  del->add_option("--field", cmd.field, "remove the field a.b of the map KEY instead (names joined by '.')");
  del->add_option("--type", cmd.type,
                  "with --field: the type of the field to remove (counter, register, mv_register, set, map, flag "
                  "or a type name as get --json prints it); needed only when the name holds several types");
  for (auto* sc : {incr, decr, set_cmd, sadd_cmd, srem_cmd, flag})
    sc->add_option("--field", cmd.field,
                   "update the field a.b of the map KEY instead (names joined by '.'; created as needed)");
  add("keys", "list keys: keys [PREFIX]", "[PREFIX]", false);
  add("watch", "stream changes of keys with PREFIX until interrupted (a set or map of over 1,000 members or fields: what joined, left or changed)", "[PREFIX]", false);
  add("members", "list the cluster's members", "", false);
  add("status", "node id, readiness, keys, per-peer lag, delta log size", "", false);
  auto* cas = add("cas", "linearizable compare-and-set: cas KEY EXPECTED NEW | cas KEY --absent NEW | "
                         "cas KEY EXPECTED --delete",
                  "KEY [EXPECTED] [NEW]", true);
  cas->add_flag("--absent", cmd.absent, "succeed only if KEY does not exist yet");
  cas->add_flag("--delete", cmd.remove, "delete KEY (if it holds EXPECTED) instead of setting it");
  add("lget", "linearizable read of a compare-and-set key", "KEY", true);

  // ---- rumor completion / man: derived from everything above, so they come last ----
  docs_commands docs;
  add_docs_commands(app, docs);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }

  if (node->parsed()) {
    if (auto* config = app.get_config_ptr(); config && config->count() > 0) nopt.config_file = config->as<std::string>();
    block_stop_signals();
    return run_node(nopt);
  }
  if (cluster->parsed()) {
    block_stop_signals();
    return run_cluster(clopt, self_path(argv[0]));
  }
  if (bench->parsed()) return run_bench(bopt, self_path(argv[0]));
  if (certs->parsed()) return run_certs(certs, certopt);
  if (run_docs(app, docs)) return exit_ok;
  for (auto* sc : app.get_subcommands()) {
    cmd.name = sc->get_name();
    return run_client(copt, cmd);
  }
  return exit_usage;
}
