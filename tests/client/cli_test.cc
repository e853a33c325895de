// cli_test.cc — the `ringcast` CLI's pure parts: escaping, URLs, event and summary formats,
// option checks, help. No server; `ringcast publish` against a real node is cli_publish_test.cc.
#include "cli/cli.h"

#include <string>

#include "cli/format.h"
#include "cli/publish.h"
#include "cli/subscribe.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace ringcast::cli {
namespace {

using ::ringcast::testing::IsOk;
using ::ringcast::testing::IsOkAndHolds;
using ::ringcast::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(Format, EscapeLineKeepsOneLine) {
  // Given newlines, backslashes and control bytes, expect one line with them escaped.
  EXPECT_EQ(EscapeLine("a\nb\\c\r\td\x01 é"), R"(a\nb\\c\r\td\x01 é)");
}

TEST(Url, ParsesHttpUrls) {
  // Given base URLs in the forms an operator types, expect host, port and target.
  absl::StatusOr<HttpUrl> plain = ParseHttpUrl("http://127.0.0.1:8080");
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, "8080");
  EXPECT_EQ(plain->target, "/");
  EXPECT_EQ(plain->HostHeader(), "127.0.0.1:8080");

  absl::StatusOr<HttpUrl> v6 = ParseHttpUrl("HTTP://[::1]:9/sse/?a=b#frag");
  ASSERT_THAT(v6, IsOk());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->target, "/sse/?a=b");
  EXPECT_EQ(v6->ToString(), "http://[::1]:9/sse/?a=b");

  absl::StatusOr<HttpUrl> default_port = ParseHttpUrl("http://example.com?x");
  ASSERT_THAT(default_port, IsOk());
  EXPECT_EQ(default_port->port, "80");
  EXPECT_EQ(default_port->target, "/?x");
  EXPECT_EQ(default_port->HostHeader(), "example.com");

  EXPECT_THAT(ParseHttpUrl("https://x"), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(ParseHttpUrl("127.0.0.1:8080"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHttpUrl("http://:80/"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHttpUrl("http://h:99999"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHttpUrl("http://h:x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Url, EventsUrlPercentEncodesTheTopic) {
  // Given a base with a path prefix, expect the topic's path under it, "/" and ":" encoded.
  absl::StatusOr<HttpUrl> base = ParseHttpUrl("http://h:8080/sse/");
  ASSERT_THAT(base, IsOk());
  absl::StatusOr<HttpUrl> url = EventsUrl(*base, "orders/42:a@b~c");
  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(url->ToString(), "http://h:8080/sse/v1/topics/orders%2F42%3Aa%40b~c/events");
  EXPECT_THAT(EventsUrl(*ParseHttpUrl("http://h/?q"), "t"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Url, ResolvesRedirectLocations) {
  // Given absolute, path and scheme-relative Locations, expect URLs; a relative path fails.
  const HttpUrl base = *ParseHttpUrl("http://router:8080/v1/topics/t/events");
  EXPECT_THAT(
      ResolveLocation(base, "http://node-2:8081/v1/topics/t/events?lastEventId=1:2"),
      IsOkAndHolds(::testing::Field(&HttpUrl::target, "/v1/topics/t/events?lastEventId=1:2")));
  absl::StatusOr<HttpUrl> path = ResolveLocation(base, "/elsewhere");
  ASSERT_THAT(path, IsOk());
  EXPECT_EQ(path->ToString(), "http://router:8080/elsewhere");
  absl::StatusOr<HttpUrl> scheme_relative = ResolveLocation(base, "//node-3/x");
  ASSERT_THAT(scheme_relative, IsOk());
  EXPECT_EQ(scheme_relative->ToString(), "http://node-3/x");
  EXPECT_THAT(ResolveLocation(base, "relative/path"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FormatEvent, TextAndJson) {
  // Given a two-line "price" event, expect one text line and one JSON object.
  sse::ParsedEvent event;
  event.type = "price";
  event.data = "a \"b\"\nc";
  EXPECT_EQ(FormatEvent(event, "5:9", OutputFormat::kText), R"(5:9 price a "b"\nc)");
  EXPECT_EQ(FormatEvent(event, "", OutputFormat::kText), R"(- price a "b"\nc)");
  EXPECT_EQ(FormatEvent(event, "5:9", OutputFormat::kJson),
            R"({"id":"5:9","type":"price","data":"a \"b\"\nc"})");
  EXPECT_THAT(ParseOutputFormat("json"), IsOkAndHolds(OutputFormat::kJson));
  EXPECT_THAT(ParseOutputFormat("xml"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Publish, GeneratedDataAndSummary) {
  // Given a sequence, time and text, expect the JSON payload; given counts, the summary line.
  EXPECT_EQ(GeneratedEventData(12, absl::FromUnixMicros(1732500000123456), ""),
            R"({"seq":12,"sent_us":1732500000123456})");
  EXPECT_EQ(GeneratedEventData(1, absl::FromUnixMicros(7), "pad \"x\""),
            R"({"seq":1,"sent_us":7,"text":"pad \"x\""})");

  PublishSummary summary;
  summary.accepted = 998;
  summary.elapsed = absl::Seconds(2);
  EXPECT_EQ(FormatSummary(summary),
            "accepted=998 duplicates=0 errors=0 elapsed_s=2.000 accepted_per_s=499.0");
  summary.errors[absl::StatusCode::kUnavailable] = 2;
  summary.errors[absl::StatusCode::kFailedPrecondition] = 1;
  EXPECT_EQ(FormatSummary(summary),
            "accepted=998 duplicates=0 errors=3 (FAILED_PRECONDITION=1 UNAVAILABLE=2) "
            "elapsed_s=2.000 accepted_per_s=499.0");
}

TEST(Publish, ValidatesFlagCombinations) {
  // Given flag sets that cannot work together, expect INVALID_ARGUMENT naming the flag.
  PublishCommandOptions options;
  options.topic = "t";
  EXPECT_THAT(ValidatePublishCommand(options), IsOk());
  EXPECT_FALSE(IsGeneratedMode(options));

  PublishCommandOptions no_topic;
  EXPECT_THAT(ValidatePublishCommand(no_topic),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--topic")));

  PublishCommandOptions rate_only = options;
  rate_only.rate = 10;
  EXPECT_TRUE(IsGeneratedMode(rate_only));
  EXPECT_THAT(ValidatePublishCommand(rate_only),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--count or --duration_s")));

  PublishCommandOptions stdin_and_count = options;
  stdin_and_count.from_stdin = true;
  stdin_and_count.count = 3;
  EXPECT_THAT(ValidatePublishCommand(stdin_and_count),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--stdin")));

  PublishCommandOptions sequence_zero = options;
  sequence_zero.producer_id = "p";
  sequence_zero.first_sequence = 0;
  EXPECT_THAT(ValidatePublishCommand(sequence_zero),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--first_sequence")));
}

TEST(Help, ListsCommandsAndTheirFlags) {
  // Given each command name, expect its usage and only its own flags; none for an unknown one.
  EXPECT_THAT(HelpText(""), AllOf(HasSubstr("ringcast publish --node=HOST:PORT --topic=T"),
                                  HasSubstr("ringcast subscribe --url=")));
  EXPECT_THAT(HelpText("publish"), AllOf(HasSubstr("--rate"), HasSubstr("--producer_id"),
                                         ::testing::Not(HasSubstr("--last_event_id"))));
  EXPECT_THAT(HelpText("subscribe"),
              AllOf(HasSubstr("--last_event_id"), HasSubstr("--retry_ms"),
                    HasSubstr("(default: text)"), ::testing::Not(HasSubstr("--rate"))));
  EXPECT_THAT(HelpText("ring"),
              AllOf(HasSubstr("ringcast ring show"), HasSubstr("ringcast ring add"),
                    HasSubstr("ringcast ring remove")));
  EXPECT_THAT(HelpText("ring add"), AllOf(HasSubstr("--expected_version"), HasSubstr("--grpc"),
                                          ::testing::Not(HasSubstr("--nodes"))));
  EXPECT_THAT(HelpText("up"), AllOf(HasSubstr("--nodes"), HasSubstr("--bin_dir")));
  EXPECT_THAT(HelpText("nope"), IsEmpty());
}

}  // namespace
}  // namespace ringcast::cli
