// The dashboard in a real browser: Debian's headless Chromium, driven through
// chromedriver (WebDriver), against the real vigild on loopback. Healthy on
// an idle daemon with no console errors under the page's CSP; under the leak
// fault with the default rule pack it shows the diagnosis, the firing alert,
// a shaded band and an anomaly marker within seconds of the API; a capture
// started from the page renders its summary; a silence created from the page
// reaches /api/v1/silences. VIGIL_UI_SCREENSHOTS=DIR saves the healthy and
// the firing page (scripts/ui-screenshots.sh, for docs/).
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "daemon_harness.h"
#include "test_util.h"
#include "webdriver.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::DaemonProcess;
using vigil::testing::TempDir;
using vigil::testing::WaitFor;
using vigil::testing::WebDriver;
using vigil::testing::WriteFile;

constexpr const char* kToken = "0123456789abcdef0123";

// The default rule pack with every `for:` at a thirtieth (at least 1 s), as
// the scenarios scale it, so the leak is diagnosed in seconds.
std::string ScaledPack(TempDir& dir) {
  const std::regex for_re(R"(for: (\d+)(s|m|h))");
  for (const char* f : {"pathologies.yaml", "classic.yaml", "inhibit.yaml", "watch.yaml"}) {
    std::string text = vigil::testing::ReadFile(std::string(VIGIL_SOURCE_ETC_DIR) + "/rules/" + f);
    std::string out;
    auto it = std::sregex_iterator(text.begin(), text.end(), for_re);
    size_t last = 0;
    for (; it != std::sregex_iterator(); ++it) {
      const double s = std::stod((*it)[1]) * ((*it)[2] == "h" ? 3600 : (*it)[2] == "m" ? 60 : 1);
      out += text.substr(last, it->position() - last) +
             "for: " + std::to_string(std::max(1, static_cast<int>(s / 30))) + "s";
      last = it->position() + it->length();
    }
    WriteFile(dir.File(f), out + text.substr(last));
  }
  return "rules:\n  files: [" + dir.File("*.yaml") + "]\n";
}

class UiE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WebDriver::Available()) << "chromium and chromium-driver are not installed (scripts/deps.sh --test)";
    WriteFile(dir_.File("token"), std::string(kToken) + "\n");
    WriteFile(dir_.File("keys"), "sk-test-key\n");
  }
  std::string Server() const {
    return "  admin_token_file: " + dir_.File("token") + "\n  api_keys_file: " + dir_.File("keys") + "\n";
  }
  void Open(DaemonProcess& d) {
    std::string why;
    browser_ = WebDriver::Start(dir_.path(), &why);
    ASSERT_TRUE(browser_) << why;
    browser_->Navigate("http://127.0.0.1:" + std::to_string(d.port()) + "/");
    ASSERT_TRUE(WaitFor([&] { return Js("return window.vigil && window.vigil.ready") == true; }, 30000))
        << Js("return document.body.innerText") << "\n"
        << browser_->BrowserLog().dump();
  }
  json Js(const std::string& script) { return browser_->Execute(script); }
  std::string Text(const std::string& css) {
    json v = browser_->Execute("const e = document.querySelector(arguments[0]); return e ? e.innerText : null", {css});
    return v.is_string() ? v.get<std::string>() : "";
  }
  // Console errors (and CSP violations) since the last call. Chromium logs
  // every non-2xx fetch; a 409 from a capture refused while another runs is
  // an answer the page shows, not an error of the page.
  std::string Errors() {
    std::string out;
    for (const json& e : browser_->BrowserLog()) {
      const std::string m = e.value("message", "");
      if (e.value("level", "") == "SEVERE" && m.find("status of 409") == std::string::npos) out += m + "\n";
    }
    for (const json& e : Js("return window.vigil.errors")) out += e.get<std::string>() + "\n";
    return out;
  }
  void Screenshot(const std::string& name) {
    const char* dir = std::getenv("VIGIL_UI_SCREENSHOTS");
    if (!dir) return;
    std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << browser_->Screenshot();
  }

  TempDir dir_;
  std::unique_ptr<WebDriver> browser_;
};

TEST_F(UiE2ETest, IdleDaemonShowsHealthyWithoutConsoleErrors) {
  TempDir rules;
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  max_model_len: 512\nmonitor:\n  interval: 200ms\n" + ScaledPack(rules),
      Server());
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  auto page = c.Get("/");
  ASSERT_TRUE(page && page->status == 200);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(c.Get("/ui/vendor/dygraph.min.js")->status, 200);
  EXPECT_EQ(c.Get("/ui/../daemon.cc")->status, 404);
  // API keys guard /v1/* only; the page and its APIs stay readable.
  EXPECT_EQ(c.Post("/v1/completions", R"({"prompt":"x","max_tokens":1})", "application/json")->status, 401);

  Open(d);
  EXPECT_EQ(Text("#status"), "HEALTHY");  // text-transform: uppercase
  EXPECT_NE(Text("#primary").find("Healthy"), std::string::npos) << Text("#primary");
  EXPECT_EQ(Js("return document.querySelectorAll('.chart').length"), 12);
  // Live: the charts fill as the monitor ticks (TTFT stays empty: no request
  // has finished, and an absent signal is no data, never 0).
  const std::string requests = "document.querySelector('.chart[data-signals=\"requests_running,requests_waiting\"]')";
  ASSERT_TRUE(WaitFor([&] { return Js("return Number(" + requests + ".dataset.points) >= 3") == true; }))
      << Js("return " + requests + ".outerHTML");
  EXPECT_NE(Text(".chart[data-signals=\"ttft_p50,ttft_p95\"]").find("no data"), std::string::npos);
  EXPECT_EQ(Js("return document.querySelectorAll('canvas').length > 12"), true);
  // Admin sections appear once the token is entered, and stay in this tab only.
  EXPECT_EQ(Js("return getComputedStyle(document.getElementById('captures-table')).display"), "none");
  ASSERT_TRUE(browser_->Type("#token", kToken)) << browser_->last_error();
  ASSERT_TRUE(browser_->Click("#token-set")) << browser_->last_error();
  ASSERT_TRUE(WaitFor([&] { return Text("#captures-table").find("No capture yet") != std::string::npos; }))
      << Text("#error");
  EXPECT_EQ(Js("return sessionStorage.getItem('vigil.adminToken')"), kToken);
  EXPECT_EQ(Js("return localStorage.getItem('vigil.adminToken')"), nullptr);
  Screenshot("ui-healthy.png");
  EXPECT_EQ(Errors(), "");
}

TEST_F(UiE2ETest, LeakShowsDiagnosisBandMarkerCaptureAndSilence) {
  TempDir rules;
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  max_model_len: 512\n  num_blocks: 512\n"
      "  faults:\n    leak_blocks_on_abort: 1.0\nmonitor:\n  interval: 200ms\n  window: 10s\n"
      "  detectors: {method: zscore}\n"  // events within seconds (novelty warms up for 300 ticks)
      "capture:\n  cooldown: {rule: 10m, global: 0s}\n" +
          ScaledPack(rules),
      Server());
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  Open(d);
  ASSERT_TRUE(browser_->Type("#token", kToken)) << browser_->last_error();
  ASSERT_TRUE(browser_->Click("#token-set")) << browser_->last_error();

  // The leak: streaming clients that hang up after a few tokens, over and
  // over, beside ones that finish. Aborted requests keep their KV blocks.
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int k = 0; k < 3; ++k)
    load.emplace_back([&, k] {
      auto c = d.Client();
      for (int i = 0; !stop; ++i) {
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/completions";
        req.set_header("Authorization", "Bearer sk-test-key");
        req.set_header("Content-Type", "application/json");
        req.body =
            R"({"prompt":"the dashboard should show this leak","max_tokens":48,"stream":true,"ignore_eos":true})";
        int chunks = 0;
        const bool hang_up = (i + k) % 3 == 0;
        req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
          return !stop && !(hang_up && ++chunks >= 3);
        };
        httplib::Response res;
        httplib::Error err;
        c.send(req, res, err);
      }
    });
  struct Join {
    std::atomic<bool>& stop;
    std::vector<std::thread>& t;
    ~Join() {
      stop = true;
      for (auto& x : t) x.join();
    }
  } join{stop, load};
  auto api = d.Client();

  // The API first, then the page within a few of its 2 s refreshes.
  ASSERT_TRUE(
      WaitFor([&] { return api.Get("/health/report")->body.find("\"OrphanedKVBlocks\"") != std::string::npos; }, 60000))
      << api.Get("/api/v1/alerts")->body << d.Log();
  // The load goes on, so the primary can change between two reads: the page
  // must show the API's current one (read again on each try).
  std::string primary;
  EXPECT_TRUE(WaitFor([&] {
    auto r = api.Get("/health/report");
    if (!r || r->status != 200) return false;
    primary = json::parse(r->body)["primary"].value("alert", "");
    return !primary.empty() && Text("#primary").find(primary) != std::string::npos;
  })) << primary
      << " / " << Text("#primary");
  EXPECT_TRUE(WaitFor([&] { return Text("#status") == "CRITICAL"; })) << Text("#status");
  EXPECT_TRUE(WaitFor([&] { return Text("#alerts-table").find("OrphanedKVBlocks") != std::string::npos; }));
  EXPECT_NE(Text("#alerts-table").find("firing"), std::string::npos) << Text("#alerts-table");
  EXPECT_TRUE(WaitFor([&] {
    return Js("return [...document.querySelectorAll('.chart')].some(c => Number(c.dataset.bands) > 0)") == true;
  }));

  // An anomaly event from the API, as a marker on a chart of its signal
  // (added from the signal picker when no default chart shows it).
  std::string signal;
  ASSERT_TRUE(WaitFor(
      [&] {
        const json a = json::parse(api.Get("/api/v1/anomalies")->body)["anomalies"];
        for (const json& e : a)
          if (e["detector"] == "zscore" || e["detector"] == "novelty" || e["detector"] == "trend")
            return !(signal = e["signals"][0]).empty();
        return false;
      },
      60000))
      << api.Get("/api/v1/anomalies")->body;
  const std::string has_chart =
      "return [...document.querySelectorAll('.chart')].some(c => c.dataset.signals.split(',').includes(arguments[0]))";
  if (browser_->Execute(has_chart, {signal}) != true) {
    browser_->Execute("document.getElementById('add-signal').value = arguments[0]", {signal});
    ASSERT_TRUE(browser_->Click("#add-chart")) << browser_->last_error();
  }
  EXPECT_TRUE(WaitFor([&] {
    return browser_->Execute(
               "return [...document.querySelectorAll('.chart')].some(c => "
               "c.dataset.signals.split(',').includes(arguments[0]) && Number(c.dataset.markers) > 0 && "
               "c.querySelectorAll('.dygraph-annotation').length > 0)",
               {signal}) == true;
  })) << signal
      << " "
      << Js("return [...document.querySelectorAll('.chart')].map(c => c.dataset.signals + ':' + c.dataset.markers + "
            "'/' + c.querySelectorAll('.dygraph-annotation').length).join(' ')");
  EXPECT_TRUE(WaitFor([&] { return Text("#anomalies-table").find(signal) != std::string::npos; }));
  Screenshot("ui-firing.png");

  // A capture started from the page (clicked again while a rule's capture
  // holds the profiler: 409 is the daemon's answer then); its summary
  // renders as a breakdown with the top operators.
  ASSERT_TRUE(browser_->Type("#capture-duration", "2s")) << browser_->last_error();
  const httplib::Headers admin = {{"Authorization", std::string("Bearer ") + kToken}};
  const auto captures = [&] {
    auto r = api.Get("/api/v1/captures", admin);
    return r ? json::parse(r->body, nullptr, false) : json();
  };
  auto manual = [&](const char* status) {
    const json list = captures();  // kept: a range-for over a temporary's member would dangle
    for (const json& c : list.is_object() ? list.value("data", json::array()) : json::array())
      if (c.value("reason", "") == "dashboard" && (!*status || c.value("status", "") == status)) return true;
    return false;
  };
  auto running = [&] {
    const json list = captures();
    for (const json& c : list.is_object() ? list.value("data", json::array()) : json::array())
      if (c.value("status", "") == "running" || c.value("status", "") == "writing") return true;
    return false;
  };
  // Clicked while no capture runs (a rule's capture may hold the profiler:
  // the daemon answers 409 then), and again at most every 3 s.
  auto last_click = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  ASSERT_TRUE(WaitFor(
      [&] {
        if (manual("")) return true;
        if (!running() && std::chrono::steady_clock::now() - last_click > std::chrono::seconds(3)) {
          EXPECT_TRUE(browser_->Click("#capture-start")) << browser_->last_error();
          last_click = std::chrono::steady_clock::now();
        }
        return false;
      },
      60000))
      << captures().dump() << Text("#error");
  ASSERT_TRUE(WaitFor([&] { return manual("complete"); }, 60000)) << captures().dump();
  ASSERT_TRUE(WaitFor([&] {
    return Js("return document.querySelectorAll('#capture-detail .breakdown span').length > 0") == true;
  })) << Text("#capture-detail")
      << Text("#error");
  EXPECT_EQ(Js("return document.querySelectorAll('#capture-detail .top-ops tbody tr').length > 0"), true);
  EXPECT_NE(Text("#capture-detail").find("Perfetto"), std::string::npos);

  // A silence from the page's form reaches the API.
  ASSERT_TRUE(browser_->Type("#silence-matchers", "alertname=\"OrphanedKVBlocks\", target=\"local\""))
      << browser_->last_error();
  ASSERT_TRUE(browser_->Type("#silence-comment", "known leak, fix deploying")) << browser_->last_error();
  ASSERT_TRUE(browser_->Click("#silence-create")) << browser_->last_error();
  json silences;
  ASSERT_TRUE(WaitFor([&] {
    silences = json::parse(api.Get("/api/v1/silences", admin)->body);
    return silences.dump().find("known leak, fix deploying") != std::string::npos;
  })) << silences.dump()
      << Text("#error");
  EXPECT_NE(silences.dump().find("OrphanedKVBlocks"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return Text("#silences-table").find("known leak") != std::string::npos; }));
  EXPECT_TRUE(WaitFor([&] { return Text("#alerts-table").find("silenced") != std::string::npos; }))
      << Text("#alerts-table");
  EXPECT_EQ(Errors(), "");
}

// Every value from the daemon goes in as text: a rule whose annotations
// carry markup shows the markup, and no script of it runs.
TEST_F(UiE2ETest, DaemonTextIsNeverHtml) {
  TempDir rules;
  WriteFile(rules.File("markup.yaml"), R"yaml(groups:
  - name: markup
    rules:
      - alert: Markup
        expr: requests_running >= 0
        labels: {severity: critical, pathology: "<i>p</i>"}
        annotations:
          summary: '<img src=x onerror="window.pwned = 1">summary'
          recommendation: '<script>window.pwned = 2</script>'
)yaml");
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  max_model_len: 512\nmonitor:\n  interval: 200ms\n"
      "rules:\n  files: [" +
          rules.File("markup.yaml") + "]\n",
      Server());
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  Open(d);
  ASSERT_TRUE(WaitFor([&] { return Text("#primary").find("Markup") != std::string::npos; })) << Text("#primary");
  ASSERT_TRUE(WaitFor([&] { return Text("#alerts-table").find("<img src=x") != std::string::npos; }));
  EXPECT_NE(Text("#primary").find("<img src=x onerror="), std::string::npos) << Text("#primary");
  EXPECT_NE(Text("#primary").find("<script>"), std::string::npos);
  EXPECT_NE(Text("#primary").find("(<i>p</i>)"), std::string::npos);
  EXPECT_EQ(Js("return document.querySelectorAll('#now img, #now script, #now i, #alerts img, #alerts script, #alerts "
               "i').length"),
            0);
  EXPECT_EQ(Js("return window.pwned === undefined"), true);
  EXPECT_EQ(Errors(), "");
}

}  // namespace
}  // namespace vigil
