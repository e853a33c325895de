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
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/publish.h"
#include "cli/ring.h"
#include "cli/subscribe.h"
#include "cli/up.h"

// Shared by publish and subscribe.
ABSL_FLAG(std::string, topic, "", "The topic (1-256 bytes of A-Z a-z 0-9 . _ ~ : @ - /).");
ABSL_FLAG(uint64_t, count, 0,
          "publish: number of generated events. subscribe: exit 0 after this many events "
          "(ringcast.reset included); 0 = run until interrupted.");

// publish
ABSL_FLAG(std::string, node, "",
          "publish: gRPC host:port of one node to publish to directly; empty = route each event "
          "to its topic's owner by the ring of --router.");
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
ABSL_FLAG(int32_t, timeout_ms, 10000,
          "Deadline of each unary call (a publish, a ring command's call); 0 = none.");
ABSL_FLAG(uint32_t, max_in_flight, 1024,
          "Generated mode: most requests sent and not yet answered.");

// subscribe
ABSL_FLAG(std::string, url, "http://127.0.0.1:8080",
          "Base URL of a router or node; the stream is {url}/v1/topics/{topic}/events.");
ABSL_FLAG(std::string, last_event_id, "", "Resume after this event id (Last-Event-ID).");
ABSL_FLAG(std::string, format, "text",
          "Output: text or json. subscribe: text (<id> <type> <data with newlines escaped>) or "
          "json (one object per line with id, type, data). ring show: a table, or one JSON "
          "object with the ring, health and rebalance status.");
ABSL_FLAG(int32_t, retry_ms, -1,
          "Wait before reconnecting; -1 = the server's last retry: value, else 2000.");
ABSL_FLAG(int32_t, idle_timeout_s, 60, "Reconnect after this many seconds without a byte.");

// ring show|add|remove (and publish through a router)
ABSL_FLAG(std::string, router, "",
          "gRPC host:port of a router (its ringcast.v1.Cluster service holds the ring). ring "
          "commands: empty = 127.0.0.1:9000.");
ABSL_FLAG(std::string, id, "",
          "ring add/remove: the node's member id (1-64 of A-Z a-z 0-9 . _ -).");
ABSL_FLAG(std::string, http, "", "ring add: host:port of the node's HTTP (SSE) listener.");
ABSL_FLAG(std::string, grpc, "", "ring add: host:port of the node's gRPC listener.");
ABSL_FLAG(int32_t, weight, 0, "ring add: the node's share of the partitions, 1-65535; 0 = 1.");
ABSL_FLAG(std::string, public_url, "",
          "ring add: the node's base URL for clients' redirects; empty = http://<--http>.");
ABSL_FLAG(uint64_t, expected_version, 0,
          "ring add/remove: change the ring only if its version is still this; 0 = any.");

// up
ABSL_FLAG(int32_t, nodes, 3, "Number of ringcast-node processes, 1-64.");
ABSL_FLAG(int32_t, http_port, 8000, "The router's HTTP port on 127.0.0.1; 0 = any free port.");
ABSL_FLAG(int32_t, grpc_port, 9000, "The router's gRPC port on 127.0.0.1; 0 = any free port.");
ABSL_FLAG(std::string, state_dir, "",
          "The router's state dir (the ring survives a restart); empty = in memory. With it, "
          "node-i listens on http_port+i and grpc_port+i so the persisted ring stays true.");
ABSL_FLAG(std::string, bin_dir, "",
          "Directory of ringcast-router and ringcast-node; empty = next to this binary, else "
          "<build>/router and <build>/node beside <build>/cli.");
ABSL_FLAG(int32_t, start_timeout_ms, 30000,
          "How long each child may take to print its ready line.");
ABSL_FLAG(int32_t, stop_grace_ms, 10000,
          "After SIGTERM, how long the children may take to stop before SIGKILL.");

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
       "Publishes events to a topic: to its owner by a router's ring (--router, the default), "
       "or straight to one node's gRPC Publisher service (--node).",
       {"ringcast publish [--router=HOST:PORT] --topic=T [--type=X] [--data=TEXT]",
        "ringcast publish --node=HOST:PORT --topic=T [--type=X] [--data=TEXT]",
        "ringcast publish (--router=HOST:PORT | --node=HOST:PORT) --topic=T --stdin",
        "ringcast publish (--router=HOST:PORT | --node=HOST:PORT) --topic=T --rate=N "
        "(--count=M | --duration_s=S)"},
       {"router", "node", "topic", "type", "data", "stdin", "rate", "count", "duration_s",
        "producer_id", "first_sequence", "ring_version", "timeout_ms", "max_in_flight"}},
      {"subscribe",
       "Prints a topic's events, reconnecting with Last-Event-ID like a browser's EventSource.",
       {"ringcast subscribe --url=http://HOST:PORT --topic=T [--last_event_id=ID] [--count=N] "
        "[--format=text|json]"},
       {"url", "topic", "last_event_id", "count", "format", "retry_ms", "idle_timeout_s"}},
      {"ring show",
       "Prints a router's ring: version, Q, the partition moves of the latest changes (or "
       "\"settled\"), and per node its addresses, weight, partitions, share of the keyspace "
       "and health.",
       {"ringcast ring show [--router=HOST:PORT] [--format=text|json]"},
       {"router", "format", "timeout_ms"}},
      {"ring add",
       "Adds a node to the ring; it takes its share of the partitions from the others.",
       {"ringcast ring add [--router=HOST:PORT] --id=ID --http=HOST:PORT --grpc=HOST:PORT "
        "[--weight=N] [--public_url=URL] [--expected_version=V]"},
       {"router", "id", "http", "grpc", "weight", "public_url", "expected_version", "timeout_ms"}},
      {"ring remove",
       "Removes (drains) a node; its partitions go to the others.",
       {"ringcast ring remove [--router=HOST:PORT] --id=ID [--expected_version=V]"},
       {"router", "id", "expected_version", "timeout_ms"}},
      {"up",
       "Runs a local cluster: one ringcast-router and N ringcast-node processes on loopback, "
       "until Ctrl-C.",
       {"ringcast up [--nodes=3] [--http_port=8000] [--grpc_port=9000] [--state_dir=DIR] "
        "[--bin_dir=DIR]"},
       {"nodes", "http_port", "grpc_port", "state_dir", "bin_dir", "start_timeout_ms",
        "stop_grace_ms"}},
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
  // --node publishes straight to that node; else the events go by the ring of --router. Both
  // given (the router other than its default) is refused by ValidatePublishCommand.
  options.node = absl::GetFlag(FLAGS_node);
  const absl::CommandLineFlag& router = absl::GetFlagReflectionHandle(FLAGS_router);
  if (options.node.empty() || router.CurrentValue() != router.DefaultValue()) {
    options.router = absl::GetFlag(FLAGS_router);
  }
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

RouterCallOptions RouterCallOptionsFromFlags() {
  RouterCallOptions options;  // an empty --router keeps the default address
  if (const std::string router = absl::GetFlag(FLAGS_router); !router.empty()) {
    options.router = router;
  }
  options.timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  return options;
}

absl::StatusOr<RingShowOptions> RingShowOptionsFromFlags() {
  RingShowOptions options;
  options.call = RouterCallOptionsFromFlags();
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) return format.status();
  options.format = *format;
  return options;
}

RingAddOptions RingAddOptionsFromFlags() {
  RingAddOptions options;
  options.call = RouterCallOptionsFromFlags();
  options.member.id = absl::GetFlag(FLAGS_id);
  options.member.weight = absl::GetFlag(FLAGS_weight);
  options.member.http_address = absl::GetFlag(FLAGS_http);
  options.member.grpc_address = absl::GetFlag(FLAGS_grpc);
  options.member.public_url = absl::GetFlag(FLAGS_public_url);
  options.expected_version = absl::GetFlag(FLAGS_expected_version);
  return options;
}

RingRemoveOptions RingRemoveOptionsFromFlags() {
  RingRemoveOptions options;
  options.call = RouterCallOptionsFromFlags();
  options.id = absl::GetFlag(FLAGS_id);
  options.expected_version = absl::GetFlag(FLAGS_expected_version);
  return options;
}

// `program` is argv[0]: the example commands `up` prints call ringcast the way the user did.
UpOptions UpOptionsFromFlags(std::string_view program) {
  UpOptions options;
  options.nodes = absl::GetFlag(FLAGS_nodes);
  options.http_port = absl::GetFlag(FLAGS_http_port);
  options.grpc_port = absl::GetFlag(FLAGS_grpc_port);
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  options.bin_dir = absl::GetFlag(FLAGS_bin_dir);
  options.cli_command = std::string(program);
  options.start_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_start_timeout_ms));
  options.stop_grace = absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_stop_grace_ms)));
  return options;
}

// The help of the commands whose names start with "ring ".
std::string RingHelpText() {
  std::string text = "ringcast ring: reads and changes a router's ring.\n\nUsage:\n";
  for (const Command& command : Commands()) {
    if (!absl::StartsWith(command.name, "ring ")) continue;
    for (const char* line : command.usage) absl::StrAppend(&text, "  ", line, "\n");
  }
  absl::StrAppend(&text, "\nRun `ringcast ring <show|add|remove> --help` for a command's flags.\n");
  return text;
}

// Runs the command named `name` with the flags parsed; returns the exit code.
int RunCommand(std::string_view name, std::string_view program) {
  if (name == "publish") {
    return RunPublish(PublishOptionsFromFlags(), std::cin, std::cout, std::cerr);
  }
  if (name == "subscribe") {
    absl::StatusOr<SubscribeCommandOptions> options = SubscribeOptionsFromFlags();
    if (!options.ok()) {
      std::cerr << "ringcast subscribe: " << options.status().message() << "\n";
      return kExitUsage;
    }
    return RunSubscribe(*options, std::cout, std::cerr);
  }
  if (name == "ring show") {
    absl::StatusOr<RingShowOptions> options = RingShowOptionsFromFlags();
    if (!options.ok()) {
      std::cerr << "ringcast ring show: " << options.status().message() << "\n";
      return kExitUsage;
    }
    return RunRingShow(*options, std::cout, std::cerr);
  }
  if (name == "ring add") return RunRingAdd(RingAddOptionsFromFlags(), std::cout, std::cerr);
  if (name == "ring remove") {
    return RunRingRemove(RingRemoveOptionsFromFlags(), std::cout, std::cerr);
  }
  return RunUp(UpOptionsFromFlags(program), std::cout, std::cerr);
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
  if (command_name == "ring") return RingHelpText();
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
                         "code is 1. Through a router the client follows its ring, sends each "
                         "event to the topic's owner and retries after a ring change or a "
                         "refusal (FAILED_PRECONDITION, UNAVAILABLE with a retry hint); after a "
                         "broken connection or a deadline it retries only events that carry "
                         "--producer_id sequences, which the node de-duplicates.",
                         "", 100));
  } else if (command_name == "subscribe") {
    absl::StrAppend(&text, "\n",
                    Wrap("Reconnects after EOF or errors (waiting the server's retry: or "
                         "--retry_ms) with the last event id seen, and follows redirects to the "
                         "topic's owner. Exit code 1 when the server refuses the request (4xx).",
                         "", 100));
  } else if (command_name.starts_with("ring ")) {
    absl::StrAppend(&text, "\n",
                    Wrap("Exit code 0 when done; 1 when the router refuses the change or cannot "
                         "be reached (the gRPC status and its details go to stderr, the ring is "
                         "unchanged); 2 for bad usage. add and remove print the new version and "
                         "how many partitions moved between which nodes.",
                         "", 100));
  } else if (command_name == "up") {
    absl::StrAppend(&text, "\n",
                    Wrap("Node ids are node-1..node-N on free loopback ports (fixed ports "
                         "http_port+i and grpc_port+i with --state_dir); each follows the "
                         "router's ring. When all are ready it prints the URLs, example commands "
                         "and a last line \"ringcast up ready router_http=... router_grpc=... "
                         "pids=...\". Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL "
                         "after --stop_grace_ms) and exits 0; if a child exits on its own, up "
                         "stops the others and exits 1.",
                         "", 100));
  }
  return text;
}

int RunCli(int argc, char* argv[]) {
  absl::SetProgramUsageMessage(HelpText(""));
  if (argc < 2 || IsHelpFlag(argv[1])) {
    (argc < 2 ? std::cerr : std::cout) << HelpText("");
    return argc < 2 ? kExitUsage : 0;
  }
  // "ring" takes its verb as the second word: `ringcast ring show ...`.
  std::string name = argv[1];
  int first_flag = 2;
  if (name == "ring") {
    if (argc < 3 || IsHelpFlag(argv[2])) {
      (argc < 3 ? std::cerr : std::cout) << RingHelpText();
      return argc < 3 ? kExitUsage : 0;
    }
    name = absl::StrCat("ring ", argv[2]);
    first_flag = 3;
  }
  const Command* command = FindCommand(name);
  if (command == nullptr) {
    std::cerr << "ringcast: unknown command \"" << name << "\"\n\n"
              << (first_flag == 3 ? RingHelpText() : HelpText(""));
    return kExitUsage;
  }
  // The command's own argv: the program name, then everything after the command.
  std::vector<char*> args = {argv[0]};
  for (int i = first_flag; i < argc; ++i) {
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
    return kExitUsage;
  }
  if (absl::Status applies = CheckFlagsApply(*command); !applies.ok()) {
    std::cerr << "ringcast " << command->name << ": " << applies.message() << "\n";
    return kExitUsage;
  }
  return RunCommand(command->name, argv[0]);
}

}  // namespace ringcast::cli
