// cli.cc — flags, help and dispatch of the `ringcast` command. The flags fill each command's
// options struct (publish.h, subscribe.h); the commands themselves never read flags.
#include "cli/cli.h"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/publish.h"
#include "cli/subscribe.h"

// Shared by publish and subscribe.
ABSL_FLAG(std::string, topic, "", "The topic (1-256 bytes of A-Z a-z 0-9 . _ ~ : @ - /).");
ABSL_FLAG(uint64_t, count, 0,
          "publish: number of generated events. subscribe: exit 0 after this many events "
          "(ringcast.reset included); 0 = run until interrupted.");

// publish
ABSL_FLAG(std::string, node, "127.0.0.1:9090", "gRPC host:port of the node to publish to.");
ABSL_FLAG(std::string, type, "", "Event type (the SSE event: field); empty = message.");
ABSL_FLAG(std::string, data, "",
          "Event data (UTF-8). With --rate/--count/--duration_s: extra text put in every "
          "generated event.");
ABSL_FLAG(bool, stdin, false, "Publish one event per line of stdin; print one id per line.");
ABSL_FLAG(double, rate, 0,
          "Generated events per second over a PublishStream; 0 = as fast as the stream takes "
          "them. Needs --count or --duration_s.");
ABSL_FLAG(double, duration_s, 0, "Publish generated events for this many seconds.");
ABSL_FLAG(std::string, producer_id, "",
          "Producer id for de-duplication; events get sequences from --first_sequence up.");
ABSL_FLAG(uint64_t, first_sequence, 1, "Sequence of the first event when --producer_id is set.");
ABSL_FLAG(uint64_t, ring_version, 0, "Ring version to send with each event; 0 = not checked.");
ABSL_FLAG(int32_t, timeout_ms, 10000, "Deadline of each unary publish; 0 = none.");
ABSL_FLAG(uint32_t, max_in_flight, 1024,
          "Generated mode: most requests sent and not yet answered.");

// subscribe
ABSL_FLAG(std::string, url, "http://127.0.0.1:8080",
          "Base URL of a router or node; the stream is {url}/v1/topics/{topic}/events.");
ABSL_FLAG(std::string, last_event_id, "", "Resume after this event id (Last-Event-ID).");
ABSL_FLAG(std::string, format, "text",
          "Output: text (<id> <type> <data with newlines escaped>) or json (one object per "
          "line with id, type, data).");
ABSL_FLAG(int32_t, retry_ms, -1,
          "Wait before reconnecting; -1 = the server's last retry: value, else 2000.");
ABSL_FLAG(int32_t, idle_timeout_s, 60, "Reconnect after this many seconds without a byte.");

namespace ringcast::cli {
namespace {

// NOTE: const char*, not std::string_view: Debian's absl::StrCat takes only absl::string_view.
struct Command {
  const char* name;
  const char* summary;
  std::vector<const char*> usage;
  std::vector<const char*> flags;
};

const std::vector<Command>& Commands() {
  static const auto* const kCommands = new std::vector<Command>{
      {"publish",
       "Publishes events to a topic through one node's gRPC Publisher service.",
       {"ringcast publish --node=HOST:PORT --topic=T [--type=X] [--data=TEXT]",
        "ringcast publish --node=HOST:PORT --topic=T --stdin",
        "ringcast publish --node=HOST:PORT --topic=T --rate=N (--count=M | --duration_s=S)"},
       {"node", "topic", "type", "data", "stdin", "rate", "count", "duration_s", "producer_id",
        "first_sequence", "ring_version", "timeout_ms", "max_in_flight"}},
      {"subscribe",
       "Prints a topic's events, reconnecting with Last-Event-ID like a browser's EventSource.",
       {"ringcast subscribe --url=http://HOST:PORT --topic=T [--last_event_id=ID] [--count=N] "
        "[--format=text|json]"},
       {"url", "topic", "last_event_id", "count", "format", "retry_ms", "idle_timeout_s"}},
  };
  return *kCommands;
}

const Command* FindCommand(std::string_view name) {
  for (const Command& command : Commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

bool IsHelpFlag(std::string_view arg) {
  return arg == "--help" || arg == "-help" || arg == "-h" || arg == "--help=true";
}

// `text` split at spaces into lines of at most `width` bytes, each starting with `indent`.
std::string Wrap(std::string_view text, std::string_view indent, size_t width) {
  std::string out;
  std::string line;
  for (absl::string_view word :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ' ', absl::SkipEmpty())) {
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
      absl::StrAppend(&out, std::string(indent), line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", std::string(word));
  }
  if (!line.empty()) absl::StrAppend(&out, std::string(indent), line, "\n");
  return out;
}

std::string FlagLine(std::string_view name) {
  const absl::CommandLineFlag* flag =
      absl::FindCommandLineFlag(absl::string_view(name.data(), name.size()));
  if (flag == nullptr) return "";
  const std::string default_value = flag->DefaultValue();
  return absl::StrCat("  --", std::string(name),
                      " (default: ", default_value.empty() ? "\"\"" : default_value, ")\n",
                      Wrap(flag->Help(), "      ", 100));
}

// The flags of other commands that were set to something else than their default.
absl::Status CheckFlagsApply(const Command& command) {
  for (const Command& other : Commands()) {
    for (std::string_view name : other.flags) {
      if (std::find_if(command.flags.begin(), command.flags.end(),
                       [name](const char* own) { return name == own; }) != command.flags.end()) {
        continue;
      }
      const absl::CommandLineFlag* flag =
          absl::FindCommandLineFlag(absl::string_view(name.data(), name.size()));
      if (flag != nullptr && flag->CurrentValue() != flag->DefaultValue()) {
        return absl::InvalidArgumentError(absl::StrCat("--", std::string(name),
                                                       " does not apply to `ringcast ",
                                                       std::string(command.name), "`"));
      }
    }
  }
  return absl::OkStatus();
}

PublishCommandOptions PublishOptionsFromFlags() {
  PublishCommandOptions options;
  options.node = absl::GetFlag(FLAGS_node);
  options.topic = absl::GetFlag(FLAGS_topic);
  options.type = absl::GetFlag(FLAGS_type);
  options.data = absl::GetFlag(FLAGS_data);
  options.from_stdin = absl::GetFlag(FLAGS_stdin);
  options.rate = absl::GetFlag(FLAGS_rate);
  options.count = absl::GetFlag(FLAGS_count);
  options.duration = absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  options.producer_id = absl::GetFlag(FLAGS_producer_id);
  options.first_sequence = absl::GetFlag(FLAGS_first_sequence);
  options.ring_version = absl::GetFlag(FLAGS_ring_version);
  options.timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  options.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  return options;
}

absl::StatusOr<SubscribeCommandOptions> SubscribeOptionsFromFlags() {
  SubscribeCommandOptions options;
  options.url = absl::GetFlag(FLAGS_url);
  options.topic = absl::GetFlag(FLAGS_topic);
  options.last_event_id = absl::GetFlag(FLAGS_last_event_id);
  options.count = absl::GetFlag(FLAGS_count);
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) return format.status();
  options.format = *format;
  const int32_t retry_ms = absl::GetFlag(FLAGS_retry_ms);
  if (retry_ms < -1) return absl::InvalidArgumentError("--retry_ms must be >= 0 (or -1)");
  if (retry_ms >= 0) options.retry = absl::Milliseconds(retry_ms);
  const int32_t idle_timeout_s = absl::GetFlag(FLAGS_idle_timeout_s);
  if (idle_timeout_s <= 0) return absl::InvalidArgumentError("--idle_timeout_s must be > 0");
  options.idle_timeout = absl::Seconds(idle_timeout_s);
  return options;
}

}  // namespace

std::string HelpText(std::string_view command_name) {
  if (command_name.empty()) {
    std::string text =
        "ringcast: the command-line tool of a ringcast Server-Sent Events cluster.\n\nUsage:\n";
    for (const Command& command : Commands()) {
      for (const char* line : command.usage) absl::StrAppend(&text, "  ", line, "\n");
    }
    absl::StrAppend(&text, "\nCommands:\n");
    for (const Command& command : Commands()) {
      absl::StrAppend(&text, "  ", command.name, "\t", command.summary, "\n");
    }
    absl::StrAppend(&text, "\nRun `ringcast <command> --help` for a command's flags.\n");
    return text;
  }
  const Command* command = FindCommand(command_name);
  if (command == nullptr) return "";
  std::string text = absl::StrCat(command->summary, "\n\nUsage:\n");
  for (const char* line : command->usage) absl::StrAppend(&text, "  ", line, "\n");
  absl::StrAppend(&text, "\nFlags:\n");
  for (const char* name : command->flags) absl::StrAppend(&text, FlagLine(name));
  if (command_name == "publish") {
    absl::StrAppend(&text, "\n",
                    Wrap("Prints the event id (one per line with --stdin), or with --rate/--count/"
                         "--duration_s a summary line. Exit code 0 when every event was "
                         "accepted; else the status and its details go to stderr and the exit "
                         "code is 1.",
                         "", 100));
  } else if (command_name == "subscribe") {
    absl::StrAppend(&text, "\n",
                    Wrap("Reconnects after EOF or errors (waiting the server's retry: or "
                         "--retry_ms) with the last event id seen, and follows redirects to the "
                         "topic's owner. Exit code 1 when the server refuses the request (4xx).",
                         "", 100));
  }
  return text;
}

int RunCli(int argc, char* argv[]) {
  absl::SetProgramUsageMessage(HelpText(""));
  if (argc < 2 || IsHelpFlag(argv[1])) {
    (argc < 2 ? std::cerr : std::cout) << HelpText("");
    return argc < 2 ? 1 : 0;
  }
  const Command* command = FindCommand(argv[1]);
  if (command == nullptr) {
    std::cerr << "ringcast: unknown command \"" << argv[1] << "\"\n\n" << HelpText("");
    return 1;
  }
  // The command's own argv: the program name, then everything after the command.
  std::vector<char*> args = {argv[0]};
  for (int i = 2; i < argc; ++i) {
    if (IsHelpFlag(argv[i])) {
      std::cout << HelpText(command->name);
      return 0;
    }
    args.push_back(argv[i]);
  }
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (positional.size() > 1) {
    std::cerr << "ringcast " << command->name << ": unexpected argument \"" << positional[1]
              << "\" (flags are --name=value)\n";
    return 1;
  }
  if (absl::Status applies = CheckFlagsApply(*command); !applies.ok()) {
    std::cerr << "ringcast " << command->name << ": " << applies.message() << "\n";
    return 1;
  }
  if (std::string_view(command->name) == "publish") {
    return RunPublish(PublishOptionsFromFlags(), std::cin, std::cout, std::cerr);
  }
  absl::StatusOr<SubscribeCommandOptions> options = SubscribeOptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "ringcast subscribe: " << options.status().message() << "\n";
    return 1;
  }
  return RunSubscribe(*options, std::cout, std::cerr);
}

}  // namespace ringcast::cli
