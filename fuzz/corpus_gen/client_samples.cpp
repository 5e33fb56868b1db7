// client_samples: frames of every client message kind for the seed corpus (samples.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include "client/client_codec.hpp"
#include "fuzz/corpus_gen/samples.hpp"
#include "crdt/codec.hpp"

namespace rumor::fuzz {

using namespace rumor::client;

namespace {

std::vector<client_message> requests(const std::string& context) {
  auto req = [](uint64_t id, auto body, consistency c = consistency::local) {
    return client_message{request{id, c, 5000, std::move(body)}};
  };
  update counter{"hits", {}, op_kind::counter_add, crdt::type_tag::pn_counter, -5};
  update reg{"name", {}, op_kind::register_set, crdt::type_tag::lww_register, 0, "value"};
  update mv{"doc", {}, op_kind::mv_put, crdt::type_tag::mv_register, 0, "text", {}, false, context, true};
  update add{"tags", {"outer", "inner"}, op_kind::set_add, crdt::type_tag::or_set, 0, "", {"a", "b"}};
  update rem{"tags", {}, op_kind::set_remove, crdt::type_tag::or_set, 0, "", {"a"}};
  update flag{"on", {}, op_kind::flag_set, crdt::type_tag::ew_flag, 0, "", {}, true};
  update del{"gone", {"field"}, op_kind::remove_key, crdt::type_tag::g_counter};
  update add_value = add;
  add_value.return_value = true;
  get member{"tags", {"outer"}, view_kind::member, "a"};
  get size{"tags", {}, view_kind::size};
  get page{"tags", {}, view_kind::page, "", std::string("a"), 100};
  get field{"doc", {"a", "b"}};
  update splice{"notes", {}, op_kind::splice, crdt::type_tag::text, 0, "h\xC3\xA9", {}, false, context, true};
  splice.position = 3;
  splice.delete_count = 2;
  return {
      req(22, splice),
      req(17, add_value), req(18, member), req(19, size), req(20, page), req(21, field),
      req(1, counter, consistency::majority), req(2, reg, consistency::all), req(3, mv), req(4, add),
      req(5, rem), req(6, flag), req(7, del),
      req(8, get{"hits"}), req(9, keys{"pre", 10}), req(10, watch{"w/", false}), req(23, watch{"s/", true}), req(11, unwatch{10}),
      req(12, client::members{}), req(13, client::status{}),
      req(14, cas{"lock", std::nullopt, std::string("me")}), req(15, cas{"lock", std::string("me"), std::nullopt}),
      req(16, lget{"lock"}),
  };
}

std::vector<client_message> responses(const std::vector<crdt::value>& values, const std::string& context) {
  // Small values only: big inputs slow every execution and reach no more of the client codec (the
  // crdt and peer targets carry the multi-segment ones).
  response with_values{1, errc::ok};
  for (size_t i = 0; i < values.size(); ++i) {
    std::string bytes = crdt::encode(values[i]);
    if (bytes.size() > 1024) continue;
    with_values.values.push_back({"k" + std::to_string(i), bytes,
                                  values[i].type() == crdt::type_tag::mv_register ? context : ""});
  }
  response key_list{2, errc::ok};
  key_list.key_list = {{"a", crdt::type_tag::g_counter}, {"b", crdt::type_tag::or_map}};
  response member_list{3, errc::ok};
  member_list.member_list = {{1, "10.0.0.1:7000", 0, 2}, {2, "10.0.0.2:7000", 3, 5}};
  response status_response{4, errc::ok};
  status_response.node = node_status{7, "10.0.0.1:7000", "cluster", "ready", 100, 3, 50, 49, {{2, 1}, {3, 0}}};
  response failed{5, errc::conflict, "conflict: current siblings attached"};
  failed.values.push_back({"doc", crdt::encode(values.back()), context});
  response outcome{7, errc::ok};
  outcome.outcome = update_outcome{2, 40};
  response set_page{8, errc::ok};
  set_page.collection = collection_view{crdt::type_tag::or_set, 3, false, {"a", "b"}, {}, true};
  response map_page{9, errc::ok};
  map_page.collection = collection_view{crdt::type_tag::or_map, 1, true, {}, {{"f", crdt::encode(values.front()), ""}}, false};
  return {outcome, set_page, map_page, with_values, key_list, member_list, status_response, failed, response{6, errc::timeout, "timeout"},
          event{10, "w/x", crdt::encode(values.front()), 3, std::nullopt, false}, event{10, "w/y", "", 0, std::nullopt, false},
          event{23, "s/big", "", 3, set_changes{1001, {"a", "b"}, {"c"}, true}, true},
          event{24, "m/big", "", 3, set_changes{1001, {"n"}, {}, true, {"f", "g"}, crdt::type_tag::or_map}, true}};
}

}  // namespace

inputs client_frame_inputs() {
  std::vector<crdt::value> values = sample_values();
  std::string context;
  for (const auto& v : values)
    if (v.type() == crdt::type_tag::mv_register) context = crdt::encode_context(v.context());
  inputs out;
  int i = 0;
  for (const auto& m : requests(context)) out.emplace_back("request-" + std::to_string(i++), encode_client(m));
  for (const auto& m : responses(values, context)) out.emplace_back("response-" + std::to_string(i++), encode_client(m));
  return out;
}

}  // namespace rumor::fuzz
