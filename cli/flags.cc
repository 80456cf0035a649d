#include "cli/flags.h"
#include "common/os_util.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>

namespace vigil::cli {

CLI::App* AddCommand(CLI::App* parent, const std::string& name, const std::string& description, int* rc,
                     std::function<int()> run) {
  CLI::App* sub = parent->add_subcommand(name, description);
  sub->callback([rc, run = std::move(run)] { *rc = run(); });
  return sub;
}

CLI::Validator Decimal() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        char* end = nullptr;
        errno = 0;
        (void)std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || errno != 0) return "expected an integer, got \"" + v + "\"";
        return "";
      },
      "", "DECIMAL");
}

void AddAdminFlags(CLI::App* app, AdminFlags* f) {
  app->add_option("--url", f->url, "the daemon's base URL")->capture_default_str();
  app->add_option("--token-file", f->token_file, "file holding the admin token (default: $VIGIL_ADMIN_TOKEN)");
}

Status AdminToken(const AdminFlags& f, std::string* out) {
  if (!f.token_file.empty()) { return ReadSecretFile(f.token_file, "admin token file", out); }
  const char* env = std::getenv("VIGIL_ADMIN_TOKEN");
  if (!env || !*env)
    return Status::InvalidArgument("the admin token is needed: --token-file FILE or VIGIL_ADMIN_TOKEN");
  *out = env;
  return Status::OK();
}

}  // namespace vigil::cli
