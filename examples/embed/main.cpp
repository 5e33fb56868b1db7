// Embedding rumor: a program that runs a rumor node inside itself, joins a cluster, counts its
// own runs in a replicated counter, watches the change arrive and reads what the cluster knows.
//
//   embed_example DATA_DIR [SEED_ADDRESS]     e.g. embed_example /tmp/ex 127.0.0.1:7400
#include <rumor/node.hpp>

#include <chrono>
#include <future>
#include <utility>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: embed_example DATA_DIR [SEED_ADDRESS]\n";
    return 2;
  }
  rumor::node_config cfg;
  cfg.data_dir = argv[1];
  if (argc > 2) cfg.seeds.push_back(argv[2]);
  auto started = rumor::node::start(cfg);
  if (!started) {
    std::cerr << "cannot start: " << started.err().describe() << "\n";
    return 1;
  }
  rumor::node& node = **started;
  if (!node.wait_ready(std::chrono::seconds(10))) std::cerr << "not ready yet; going on\n";

  std::promise<int64_t> seen;  // the first change of the counter this program sees
  bool first = true;
  node.subscribe("example:", [&](const rumor::change& c) {
    if (c.key == "example:runs" && c.value && std::exchange(first, false)) seen.set_value(c.value->counter);
  });
  // majority: acknowledged once most members hold it (with one seed: both nodes)
  auto runs = node.apply("example:runs", rumor::op::increment(1),
                         {rumor::consistency::majority, std::chrono::seconds(5)});
  auto nodes = node.apply("example:nodes", rumor::op::add({node.address()}));
  if (!runs || !nodes) {
    std::cerr << "update failed: " << (runs ? nodes.err() : runs.err()).describe() << "\n";
    return 1;
  }
  auto watched = seen.get_future();
  bool arrived = watched.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  auto read = node.get("example:nodes");
  if (!read || !*read) return 1;
  std::cout << "node " << std::hex << node.id() << std::dec << " at " << node.address() << "\n"
            << "runs counted by the cluster: " << runs->value.counter << "\n"
            << "watched: " << (arrived ? std::to_string(watched.get()) : "nothing") << "\n"
            << "nodes seen: " << (*read)->value.items.size() << "\n";
  node.stop();
  return 0;
}
