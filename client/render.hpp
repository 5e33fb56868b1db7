#pragma once
// render: CRDT values (crdt::value, or crdt codec bytes as a response or event carries them) as
// human text and as JSON, and causal contexts as text and back. Pure functions; no I/O.
//
// JSON (one value, no trailing newline):
//   g_counter, pn_counter  a number (g_counter values above 2^53 lose precision in JavaScript)
//   lww_register           a string, or null when never written / reset
//   mv_register            {"siblings": [strings, in dot order], "context": "<context text>"}
//   or_set                 an array of strings in ascending byte order
//   ew_flag                true / false
//   or_map                 an object: field name -> rendered field value, in (name, type) order;
//                          a name present with several types appears once per type as
//                          "name:type" ("tags:or_set")
// Strings: bytes that form valid UTF-8 are kept as they are (except the escapes JSON requires:
// `"`, `\`, and U+0000..U+001F, written \", \\, \n \r \t \b \f or \u00XX; DEL is written \u007f).
// Each byte that is not part of valid UTF-8 (stray continuation bytes, overlong forms, surrogates,
// code points above U+10FFFF, truncated sequences) is written as \u00XX, XX its hex value — i.e.
// decoded as Latin-1. That keeps the output valid JSON; such keys and values cannot be recovered
// exactly from JSON (use the codec bytes for that).
//
// Text (one line, for people):
//   counters      42
//   lww_register  the value, escaped as below, unquoted; (unset) when never written
//   mv_register   the siblings quoted and joined by " | " ((unset) when none), then
//                 "  [context <context text>]"
//   or_set        {"a", "b"}
//   ew_flag       true / false
//   or_map        {name: <text of the field>, ...} (names escaped, unquoted; "name:type" when a
//                 name has several types)
// Text escaping: valid UTF-8 printable characters are kept; `\` becomes \\, `"` becomes \" inside
// quotes, control characters \n \r \t or \xXX, and every byte not part of valid UTF-8 \xXX — so a
// terminal never receives raw control bytes.
//
// Context text: lowercase hex of crdt::encode_context bytes (empty context: the hex of its
// encoding, never the empty string).

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crdt/dot_context.hpp"
#include "client/client_messages.hpp"
#include "crdt/value.hpp"

namespace rumor::client {

std::string render_text(const crdt::value& v);
std::string render_json(const crdt::value& v);
// What a watch event says of a set's members: {"size":N,"added":[…],"removed":[…],"complete":B}
// in JSON; as text +"a" +"b" -"c" (N members), with "; more changed" when not complete. A map's
// fields likewise, with "changed":[…] in JSON and "~d" in text, and "(N fields)".
std::string render_json(const set_changes& c);
std::string render_text(const set_changes& c);
// A watch event as one JSON object, as `rumor watch --json` and GET /v1/watch write it:
// {"key","type","value","origin"[,"value_omitted":true][,"set":{…}]}. `value` null: the key is
// gone, or (value_omitted) a big set's or map's value was not sent, whose type `set` names. `origin`
// goes in as given (each caller has its own hex form).
std::string render_event_json(std::string_view key, const crdt::value* value, std::string_view origin,
                              const set_changes* set, bool value_omitted);

// Decode crdt codec bytes (crdt::decode) and render them. Errors: the decode error
// (decode_error / unsupported_version).
result<std::string> render_text_from_bytes(std::string_view codec_bytes);
result<std::string> render_json_from_bytes(std::string_view codec_bytes);

// `bytes` as a JSON string literal, quotes included (escaping as above).
std::string json_quote(std::string_view bytes);

// A member status (client::member_info::status, replication::member_status values) as a word:
// alive, suspect, dead, left; "unknown" for anything else.
const char* member_status_name(uint8_t status) noexcept;
// `bytes` escaped for a terminal (as above); `quoted` adds surrounding quotes and escapes `"`.
std::string text_escape(std::string_view bytes, bool quoted = false);

// Context text (hex of crdt::encode_context) and back.
std::string context_to_string(const crdt::dot_context& ctx);
// Errors: invalid_argument when `text` is not an even number of hex digits (surrounding ASCII
// whitespace is ignored); the decode error of crdt::decode_context otherwise.
result<crdt::dot_context> parse_context(std::string_view text);
// Makes `u` (an mvPut or a splice) conditional on the context a read printed as `text`
// (context_to_string); the errors of parse_context, and `u` unchanged.
rumor::status condition_on(update& u, std::string_view text);

}  // namespace rumor::client
