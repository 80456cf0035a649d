// What vigilctl's subcommands share on top of CLI11: registering a
// subcommand whose callback yields the exit code, strict decimal integers,
// the admin API's --url/--token-file, and the admin token.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "common/status.h"

namespace vigil::cli {

// A subcommand of `parent`; when it is chosen, `run` runs after parsing and
// its return value becomes the exit code (*rc).
CLI::App* AddCommand(CLI::App* parent, const std::string& name, const std::string& description, int* rc,
                     std::function<int()> run);

// CLI11 reads "010" as octal and "true" as 1; vigilctl's integers are
// base 10, checked before conversion: `->check(Decimal())`.
CLI::Validator Decimal();

// --url and --token-file for the commands that call the admin API.
struct AdminFlags {
  std::string url = "http://127.0.0.1:8000";
  std::string token_file;
};
void AddAdminFlags(CLI::App* app, AdminFlags* f);

// The daemon's admin token: --token-file FILE, else $VIGIL_ADMIN_TOKEN.
Status AdminToken(const AdminFlags& f, std::string* out);

}  // namespace vigil::cli
