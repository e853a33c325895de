// cli.h — the `ringcast` command line: subcommand dispatch, flags (abseil) and help.
//
//   ringcast <command> [--flag=value ...]     commands: publish, subscribe, ring show|add|remove,
//                                             up
//   ringcast --help | ringcast <command> --help
//
// Flags are global (abseil), so each command lists the flags it reads; a flag of another
// command given a non-default value is an error rather than silently ignored.
//
// Thread safety: RunCli parses the process's flags; call it once, from main.
#pragma once

#include <string>
#include <string_view>

namespace ringcast::cli {

// Exit codes of every command.
inline constexpr int kExitOk = 0;       // done
inline constexpr int kExitFailure = 1;  // the command ran and failed (the reason is on stderr)
inline constexpr int kExitUsage = 2;    // bad command line (unknown command or flag value, a
                                        // required flag missing): nothing was done

// Runs the command line and returns the process exit code (above). NOTE: abseil's flag parser
// itself exits with 1 on an unknown flag or a malformed value.
int RunCli(int argc, char* argv[]);

// The help text of `command` ("" = the top-level usage). Empty for an unknown command.
std::string HelpText(std::string_view command);

}  // namespace ringcast::cli
