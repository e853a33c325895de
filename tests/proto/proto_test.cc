// proto_test.cc — the wire protocol as compiled code: every service has the RPCs DESIGN.md
// names, config files parse from text format, and rich error details (RpcStatus + WrongOwner)
// travel through a real gRPC server on a loopback port and decode on the client.
#include <memory>
#include <string>

#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ringcast/v1/cluster.grpc.pb.h"
#include "ringcast/v1/config.pb.h"
#include "ringcast/v1/errors.pb.h"
#include "ringcast/v1/handoff.grpc.pb.h"
#include "ringcast/v1/publisher.grpc.pb.h"

namespace ringcast {
namespace {

using ::testing::UnorderedElementsAreArray;

// A service of the .proto file that defines `message_in_file`. NOTE: going through a message's
// descriptor makes the linker keep that file's generated code, which registers it.
const google::protobuf::ServiceDescriptor* ServiceBeside(
    const google::protobuf::Descriptor* message_in_file, const std::string& name) {
  const google::protobuf::ServiceDescriptor* service =
      message_in_file->file()->FindServiceByName(name);
  EXPECT_NE(service, nullptr) << name;
  return service;
}

std::vector<std::string> MethodNames(const google::protobuf::ServiceDescriptor* service) {
  std::vector<std::string> names;
  for (int i = 0; i < service->method_count(); ++i) names.push_back(service->method(i)->name());
  return names;
}

TEST(ProtoServices, HaveTheRpcsOfTheDesign) {
  const auto* publisher = ServiceBeside(v1::PublishRequest::descriptor(), "Publisher");
  ASSERT_NE(publisher, nullptr);
  EXPECT_THAT(MethodNames(publisher), UnorderedElementsAreArray({"Publish", "PublishStream", "PublishBatch"}));
  const auto* publish_stream = publisher->FindMethodByName("PublishStream");
  EXPECT_TRUE(publish_stream->client_streaming() && publish_stream->server_streaming());

  const auto* cluster = ServiceBeside(v1::GetRingRequest::descriptor(), "Cluster");
  ASSERT_NE(cluster, nullptr);
  EXPECT_THAT(MethodNames(cluster), ::testing::IsSupersetOf({"GetRing", "WatchRing", "AddNode",
                                                             "RemoveNode", "GetHealth"}));
  EXPECT_TRUE(cluster->FindMethodByName("WatchRing")->server_streaming());

  const auto* handoff = ServiceBeside(v1::TransferRequest::descriptor(), "Handoff");
  ASSERT_NE(handoff, nullptr);
  EXPECT_THAT(MethodNames(handoff), ::testing::Contains("Transfer"));
}

TEST(ProtoConfig, NodeConfigParsesFromTextFormat) {
  v1::NodeConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
    node_id: "node-1"
    http_listen: "127.0.0.1:8080"
    limits { max_connections: 200000 buffer_max_events: 5000 }
    cors_allowed_origins: "https://app.example.com"
  )pb", &config));
  EXPECT_EQ(config.node_id(), "node-1");
  EXPECT_EQ(config.limits().max_connections(), 200000u);
  EXPECT_TRUE(config.limits().has_buffer_max_events());
  EXPECT_FALSE(config.limits().has_max_event_bytes());  // unset means "use the default"

  v1::NodeConfig bad;
  EXPECT_FALSE(google::protobuf::TextFormat::ParseFromString("no_such_field: 1", &bad));
}

// A Publisher that answers every Publish with FAILED_PRECONDITION and a WrongOwner detail, as a
// node does for a topic it does not own.
class WrongOwnerPublisher final : public v1::Publisher::CallbackService {
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const v1::PublishRequest* request,
                                    v1::PublishResponse* /*response*/) override {
    v1::WrongOwner wrong_owner;
    wrong_owner.set_ring_version(42);
    wrong_owner.set_topic(request->topic());
    wrong_owner.mutable_owner()->set_id("node-2");
    wrong_owner.mutable_owner()->set_grpc_address("127.0.0.1:9092");
    v1::RpcStatus details;
    details.set_code(grpc::StatusCode::FAILED_PRECONDITION);
    details.set_message("not the owner");
    details.add_details()->PackFrom(wrong_owner);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "not the owner",
                                 details.SerializeAsString()));
    return reactor;
  }
};

TEST(ProtoErrors, WrongOwnerDetailTravelsInTheStatus) {
  WrongOwnerPublisher service;
  int port = 0;
  std::unique_ptr<grpc::Server> server =
      grpc::ServerBuilder()
          .AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port)
          .RegisterService(&service)
          .BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  auto stub = v1::Publisher::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::PublishRequest request;
  request.set_topic("orders/42");
  v1::PublishResponse response;
  grpc::Status status = stub->Publish(&context, request, &response);

  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::RpcStatus details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  v1::WrongOwner wrong_owner;
  ASSERT_TRUE(details.details(0).UnpackTo(&wrong_owner));
  EXPECT_EQ(wrong_owner.ring_version(), 42u);
  EXPECT_EQ(wrong_owner.topic(), "orders/42");
  EXPECT_EQ(wrong_owner.owner().grpc_address(), "127.0.0.1:9092");
  server->Shutdown();
}

}  // namespace
}  // namespace ringcast
