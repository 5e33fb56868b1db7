// The embedding example: a program that runs a rumor node inside itself, joins a cluster,
// counts its own runs in a replicated counter and prints what the cluster knows.
//
//   example_embed DATA_DIR [LISTEN_ADDRESS [SEED_ADDRESS...]]
//   example_embed /tmp/ex1 127.0.0.1:7500                    # first node
//   example_embed /tmp/ex2 127.0.0.1:7501 127.0.0.1:7500     # joins it

#include <chrono>
#include <iostream>

#include "actors/node.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: example_embed DATA_DIR [LISTEN_ADDRESS [SEED_ADDRESS...]]\n";
    return 2;
  }
  rumor::node_config cfg;
  cfg.data_dir = argv[1];
  if (argc > 2) cfg.listen = argv[2];
  for (int i = 3; i < argc; ++i) cfg.seeds.push_back(argv[i]);

  auto started = rumor::node::start(cfg);
  if (!started) {
    std::cerr << "cannot start the node: " << started.err().describe() << "\n";
    return 1;
  }
  rumor::node& node = **started;
  node.wait_ready(std::chrono::seconds(10));

  auto runs = node.apply("example:runs", rumor::op::increment(1));
  auto seen = node.apply("example:nodes", rumor::op::add({node.address()}));
  if (!runs || !seen) {
    std::cerr << "update failed: " << (runs ? seen.err() : runs.err()).describe() << "\n";
    return 1;
  }
  std::cout << "node " << std::hex << node.id() << std::dec << " at " << node.address() << "\n"
            << "runs counted by the cluster: " << runs->value.get_if<rumor::crdt::pn_counter>()->value() << "\n"
            << "nodes seen: " << seen->value.get_if<rumor::crdt::or_set>()->elements().size() << "\n";
  node.stop();
  return 0;
}
