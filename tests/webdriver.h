// A small W3C WebDriver client for the dashboard's browser tests and
// benchmark: Debian's chromedriver (package chromium-driver) driving Debian's
// headless Chromium, over WebDriver's HTTP/JSON protocol with cpp-httplib.
// Only what the tests need: navigate, run a script, find, click, type,
// screenshot, and the browser's console log.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/os_util.h"
#include "test_util.h"

namespace vigil::testing {

class WebDriver {
 public:
  using json = nlohmann::json;
  static constexpr const char* kChromedriver = "/usr/bin/chromedriver";
  static constexpr const char* kChromium = "/usr/bin/chromium";
  static bool Available() { return access(kChromedriver, X_OK) == 0 && access(kChromium, X_OK) == 0; }

  // Starts chromedriver on a free loopback port and one headless session
  // (`profile_dir`: Chromium's user data, a temporary folder). nullptr and
  // `*why` when either cannot start.
  static std::unique_ptr<WebDriver> Start(const std::string& profile_dir, std::string* why, int width = 1400,
                                          int height = 2400) {
    std::unique_ptr<WebDriver> d(new WebDriver);
    d->port_ = FreeLoopbackPort();
    d->log_ = profile_dir + "/chromedriver.log";
    d->pid_ = fork();
    if (d->pid_ == 0) {
      const int fd = open(d->log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      const std::string port = "--port=" + std::to_string(d->port_);
      execl(kChromedriver, kChromedriver, port.c_str(), "--allowed-ips=127.0.0.1", static_cast<char*>(nullptr));
      _exit(127);
    }
    d->http_ = std::make_unique<httplib::Client>("127.0.0.1", d->port_);
    d->http_->set_read_timeout(60, 0);
    const bool up = WaitFor(
        [&] {
          auto r = d->http_->Get("/status");
          if (!r || r->status != 200) return false;
          const json j = json::parse(r->body, nullptr, false);
          return j.is_object() && j.value("value", json::object()).value("ready", false);
        },
        60000);
    if (!up) return *why = "chromedriver did not start (" + d->log_ + ")", nullptr;
    // Root in a container: no sandbox; /dev/shm may be tiny.
    json args = {"--headless=new",
                 "--no-sandbox",
                 "--disable-gpu",
                 "--disable-dev-shm-usage",
                 "--no-first-run",
                 "--disable-extensions",
                 "--user-data-dir=" + profile_dir + "/chromium",
                 "--window-size=" + std::to_string(width) + "," + std::to_string(height)};
    json caps = {{"capabilities",
                  {{"alwaysMatch",
                    {{"browserName", "chrome"},
                     {"goog:chromeOptions", {{"binary", kChromium}, {"args", args}}},
                     {"goog:loggingPrefs", {{"browser", "ALL"}}}}}}}};
    json r = d->Call("POST", "/session", caps);
    if (!r.contains("sessionId")) return *why = "no WebDriver session: " + r.dump().substr(0, 600), nullptr;
    d->session_ = "/session/" + r["sessionId"].get<std::string>();
    return d;
  }

  ~WebDriver() {
    if (!session_.empty()) Call("DELETE", session_, nullptr);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

  // {"value": ...} of the command; {"error": ...} inside "value" on failure.
  json Call(const std::string& method, const std::string& path, const json& body) {
    httplib::Result r = method == "GET"      ? http_->Get(path)
                        : method == "DELETE" ? http_->Delete(path)
                                             : http_->Post(path, body.dump(), "application/json");
    if (!r) return {{"error", "chromedriver: " + httplib::to_string(r.error())}};
    json j = json::parse(r->body, nullptr, false);
    if (j.is_discarded()) return {{"error", "chromedriver answered " + r->body.substr(0, 200)}};
    return j.contains("value") && j["value"].is_object() && j["value"].contains("sessionId") ? j["value"] : j;
  }
  json Value(const std::string& method, const std::string& suffix, const json& body = json::object()) {
    json r = Call(method, session_ + suffix, body);
    json v = r.contains("value") ? r["value"] : r;
    if (v.is_object() && v.contains("error")) last_error_ = method + " " + suffix + ": " + v.dump().substr(0, 400);
    return v;
  }
  // The last command that failed, for a test's message.
  const std::string& last_error() const { return last_error_; }

  void Navigate(const std::string& url) { Value("POST", "/url", {{"url", url}}); }
  // The script's return value (a function body: "return ...").
  json Execute(const std::string& script, const json& args = json::array()) {
    return Value("POST", "/execute/sync", {{"script", script}, {"args", args}});
  }
  // An asynchronous script: it calls arguments[last] with its result.
  json ExecuteAsync(const std::string& script, const json& args = json::array()) {
    return Value("POST", "/execute/async", {{"script", script}, {"args", args}});
  }
  // The element's reference for a CSS selector, or "" when none.
  std::string Find(const std::string& css) {
    json v = Value("POST", "/element", {{"using", "css selector"}, {"value", css}});
    if (!(v.is_object() && v.contains(kElement))) last_error_ = "find " + css + ": " + v.dump().substr(0, 400);
    return v.is_object() && v.contains(kElement) ? v[kElement].get<std::string>() : "";
  }
  bool Click(const std::string& css) {
    const std::string e = Find(css);
    return !e.empty() && !Value("POST", "/element/" + e + "/click").contains("error");
  }
  bool Type(const std::string& css, const std::string& text) {
    const std::string e = Find(css);
    if (e.empty()) return false;
    Value("POST", "/element/" + e + "/clear");
    return !Value("POST", "/element/" + e + "/value", {{"text", text}}).contains("error");
  }
  // PNG bytes of the viewport.
  std::string Screenshot() {
    json v = Value("GET", "/screenshot");
    return v.is_string() ? Base64Decode(v.get<std::string>()) : "";
  }
  // The console entries since the last call ({"level", "message"}), Chromium's log.
  json BrowserLog() { return Value("POST", "/se/log", {{"type", "browser"}}); }

 private:
  static constexpr const char* kElement = "element-6066-11e4-a52e-4f735466cecf";
  static std::string Base64Decode(const std::string& in) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
      const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const char* p = c ? std::strchr(a, c) : nullptr;
      if (!p) continue;  // '=', line breaks
      acc = (acc << 6) | static_cast<uint32_t>(p - a);
      if ((bits += 6) >= 8) out.push_back(static_cast<char>((acc >> (bits -= 8)) & 0xFF));
    }
    return out;
  }
  WebDriver() = default;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string log_, session_, last_error_;
  std::unique_ptr<httplib::Client> http_;
};

}  // namespace vigil::testing
