// The dashboard's speed in headless Chromium with a full hour of 1 s data in
// each of its 12 charts. An in-process server plays vigild's JSON APIs (the
// page reads nothing else) with synthetic series of 3,600 points, serves the
// real page and Debian's dygraphs, and the browser (chromedriver) reports:
// time to first draw (navigation start to every chart drawn), and the time of
// one refresh (fetch the APIs and redraw), raw and at the page's default step.
//   ui_bench [--refreshes 10]
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/os_util.h"
#include "common/time_util.h"
#include "webdriver.h"

using json = nlohmann::json;

namespace {

// The 12 default charts' 15 signals, each 3,600 points at 1 s: a load that
// breathes, with noise, so every chart draws a full line.
json Series(const std::string& names, double window, double step) {
  const double now = std::floor(vigil::UnixNow());
  json out = json::array();
  size_t k = 0;
  for (size_t at = 0; at <= names.size(); ++k) {
    const size_t end = std::min(names.find(',', at), names.size());
    const std::string n = names.substr(at, end - at);
    at = end + 1;
    json pts = json::array();
    const int per = std::max(1, static_cast<int>(step));
    double sum = 0;
    int count = 0;
    for (double t = now - window; t <= now; t += 1) {
      sum += 50 + 40 * std::sin(t / 300 + k) + 5 * std::sin(t * 7.3 + k * 1.7);
      if (++count == per) {
        pts.push_back({t, sum / count});
        sum = 0;
        count = 0;
      }
    }
    out.push_back({{"name", n}, {"unit", "requests"}, {"points", pts}});
  }
  return {{"instance", "local"}, {"window_seconds", window}, {"step_seconds", step}, {"series", out}};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int refreshes = 10;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--refreshes") refreshes = std::max(1, std::atoi(argv[i + 1]));
  if (!vigil::testing::WebDriver::Available())
    return std::fprintf(stderr, "ui_bench: needs chromium and chromium-driver (scripts/deps.sh --test)\n"), 1;

  httplib::Server srv;
  srv.new_task_queue = [] { return new httplib::ThreadPool(64); };  // as vigild's server.threads
  const std::string ui = VIGIL_SOURCE_UI_DIR, vendor = "/usr/share/javascript/dygraphs";
  const std::vector<std::pair<std::string, std::string>> files = {
      {"/", ui + "/index.html"},
      {"/ui/app.js", ui + "/app.js"},
      {"/ui/charts.js", ui + "/charts.js"},
      {"/ui/app.css", ui + "/app.css"},
      {"/ui/vendor/dygraph.min.js", vendor + "/dygraph.min.js"},
      {"/ui/vendor/dygraph.min.css", vendor + "/dygraph.min.css"}};
  for (const auto& [url, path] : files) {
    std::string body;
    if (!vigil::ReadFileToString(path, &body))
      return std::fprintf(stderr, "ui_bench: cannot read %s\n", path.c_str()), 1;
    const std::string type = url.find(".js") != std::string::npos    ? "text/javascript"
                             : url.find(".css") != std::string::npos ? "text/css"
                                                                     : "text/html";
    srv.Get(url, [body, type](const httplib::Request&, httplib::Response& r) { r.set_content(body, type); });
  }
  json signals = json::array();
  for (const char* s : {"ttft_p50", "ttft_p95", "tbt_p95", "e2e_p95", "requests_running", "requests_waiting",
                        "kv_cache_usage", "preemptions_per_s", "prefix_cache_hit_rate", "output_tokens_per_s",
                        "utilization", "memory_used_bytes", "queue_time_p95", "kv_blocks_orphaned"})
    signals.push_back({{"name", s}, {"unit", "requests"}, {"help", s}});
  const double t0 = vigil::UnixNow();
  const json report = {{"status", "critical"},
                       {"primary", nullptr},
                       {"symptoms", json::array()},
                       {"instances", {{{"name", "local"}, {"status", "healthy"}}}}};
  srv.Get("/health/report",
          [&](const httplib::Request&, httplib::Response& r) { r.set_content(report.dump(), "application/json"); });
  srv.Get("/api/v1/series", [&](const httplib::Request& q, httplib::Response& r) {
    if (!q.has_param("names"))
      return r.set_content(json{{"signals", signals}, {"retention_seconds", 3600}, {"interval_seconds", 1}}.dump(),
                           "application/json");
    const double step = std::atof(q.get_param_value("step").c_str());
    r.set_content(Series(q.get_param_value("names"), 3600, step).dump(), "application/json");
  });
  srv.Get("/api/v1/alerts", [](const httplib::Request&, httplib::Response& r) {
    r.set_content(R"({"status":"success","data":{"alerts":[]}})", "application/json");
  });
  srv.Get("/api/v1/alerts/history", [&](const httplib::Request&, httplib::Response& r) {
    json eps = json::array();
    for (int i = 0; i < 5; ++i)
      eps.push_back({{"alertname", "KVCacheThrashing"},
                     {"labels", {{"severity", "critical"}}},
                     {"instance", "local"},
                     {"summary", "x"},
                     {"state", "resolved"},
                     {"startsAt", vigil::FormatRfc3339(t0 - 3000 + i * 600)},
                     {"endsAt", vigil::FormatRfc3339(t0 - 2900 + i * 600)}});
    r.set_content(json{{"episodes", eps}}.dump(), "application/json");
  });
  srv.Get("/api/v1/anomalies", [&](const httplib::Request&, httplib::Response& r) {
    json a = json::array();
    for (int i = 0; i < 50; ++i)
      a.push_back({{"time", vigil::FormatRfc3339(t0 - 3500 + i * 70)},
                   {"detector", "zscore"},
                   {"signals", {"ttft_p95"}},
                   {"value", 1.0},
                   {"score", 4.2},
                   {"message", "z 4.2"}});
    r.set_content(json{{"anomalies", a}}.dump(), "application/json");
  });
  const int port = srv.bind_to_any_port("127.0.0.1");  // bound before the browser is sent to it
  std::thread serve([&] { srv.listen_after_bind(); });

  {  // the server's share of a refresh: the one big response, outside the browser
    httplib::Client c("127.0.0.1", port);
    std::string names =
        "ttft_p50,ttft_p95,tbt_p95,e2e_p95,requests_running,requests_waiting,kv_cache_usage,"
        "preemptions_per_s,prefix_cache_hit_rate,output_tokens_per_s,utilization,memory_used_bytes,"
        "queue_time_p95,kv_blocks_orphaned";
    for (const char* step : {"1", "3"}) {
      const auto t = std::chrono::steady_clock::now();
      auto r = c.Get(("/api/v1/series?names=" + names + "&window=3600s&step=" + step + "s").c_str());
      std::printf("series for 12 charts at step %ss: %zu bytes served in %.0f ms\n", step, r ? r->body.size() : 0,
                  std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    }
  }
  char tmpl[] = "/tmp/ui_bench.XXXXXX";
  const std::string profile = mkdtemp(tmpl);
  std::string why;
  auto browser = vigil::testing::WebDriver::Start(profile, &why);
  if (!browser) return std::fprintf(stderr, "ui_bench: %s\n", why.c_str()), 1;
  std::printf(
      "12 charts, 15 signals, 3,600 points each at 1 s (1 hour), 50 anomaly markers, 5 bands; %d refreshes\n\n"
      "| series sent | points per chart | first draw ms | refresh ms p50 / max | of which fetch+parse / draw ms p50 "
      "|\n|---|---|---|---|---|\n",
      refreshes);
  for (const char* step : {"1", ""}) {  // raw; the page's default (3 s for an hour)
    const std::string url =
        "http://127.0.0.1:" + std::to_string(port) + "/?range=3600" + (*step ? "&step=" + std::string(step) : "");
    browser->Navigate(url);
    json ready;
    for (int i = 0; i < 600 && ready != true; ++i) {  // waits on the page's own flag, up to a minute
      ready = browser->Execute("return window.vigil && window.vigil.ready");
      if (ready != true) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (ready != true)
      return std::fprintf(stderr, "ui_bench: the page did not draw: %s\n", browser->BrowserLog().dump().c_str()), 1;
    const double first = browser->Execute("return window.vigil.firstDrawMs").get<double>();
    const int points = std::atoi(
        browser->Execute("return document.querySelector('.chart').dataset.points").get<std::string>().c_str());
    browser->Execute("document.getElementById('live').click()");  // manual refreshes only from here
    {  // the floor under "fetch": one small request from the page, nothing else running
      json r = browser->ExecuteAsync(R"(const done = arguments[0]; const out = [];
        const t0 = performance.now();
        fetch('/api/v1/series?names=ttft_p50,ttft_p95&window=3600s&step=1s', {cache: 'no-store'}).then(r => { out.push(performance.now() - t0); return r.text(); })
          .then(x => { out.push(performance.now() - t0); JSON.parse(x); out.push(performance.now() - t0); done(out); });)");
      if (r.is_array() && r.size() == 3)
        std::printf("one small fetch from the page (2 signals): headers %.0f ms, body %.0f ms, parsed %.0f ms\n",
                    r[0].get<double>(), r[1].get<double>(), r[2].get<double>());
    }
    std::vector<double> ms, fetch, draw;
    for (int i = 0; i < refreshes; ++i) {
      json r = browser->ExecuteAsync(
          "const done = arguments[0]; refresh().then(() => done([window.vigil.lastRefreshMs, window.vigil.lastFetchMs, "
          "window.vigil.lastDrawMs]))");
      if (!r.is_array() || r.size() != 3) continue;
      ms.push_back(r[0].get<double>());
      fetch.push_back(r[1].get<double>());
      draw.push_back(r[2].get<double>());
    }
    std::printf("| %s | %d | %.0f | %.0f / %.0f | %.0f / %.0f |\n", *step ? "raw (step=1)" : "page default (step=3s)",
                points, first, Median(ms), ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()), Median(fetch),
                Median(draw));
  }
  browser.reset();
  srv.stop();
  serve.join();
  std::system(("rm -rf " + profile).c_str());
  return 0;
}
