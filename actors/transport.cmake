# The transport broker (TCP + Cap'n Proto framing + hello handshake) as its own target, so the
# rest of actors/ can change without touching it. Included from actors/CMakeLists.txt.
add_library(rumor_transport STATIC
  ${CMAKE_CURRENT_LIST_DIR}/admission.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport_handshake.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport_dial.cpp)
target_link_libraries(rumor_transport PUBLIC rumor_replication rumor_client CAF::io spdlog::spdlog)
target_include_directories(rumor_transport PUBLIC ${PROJECT_SOURCE_DIR})
