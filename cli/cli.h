// cli.h — the `ringcast` command line: subcommand dispatch, flags (abseil) and help.
//
//   ringcast <command> [--flag=value ...]     commands: publish, subscribe
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

// Runs the command line and returns the process exit code (0 ok, 1 failure or bad usage).
int RunCli(int argc, char* argv[]);

// The help text of `command` ("" = the top-level usage). Empty for an unknown command.
std::string HelpText(std::string_view command);

}  // namespace ringcast::cli
