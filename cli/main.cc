// main.cc — the `ringcast` command-line tool; everything lives in the ringcast_cli library
// (cli/cli.h).
#include "cli/cli.h"

int main(int argc, char* argv[]) { return ringcast::cli::RunCli(argc, argv); }
