// Rules inside vigild: the evaluation context over the monitor, and the JSON
// for /api/v1/rules, /api/v1/alerts and the diagnosis in /health/report.
#pragma once

#include <nlohmann/json.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "detectors/detectors.h"
#include "monitor/series_store.h"
#include "rules/rules.h"

namespace vigil::daemon {

std::string FormatTime(double unix_seconds);  // RFC 3339, UTC
// Resolves relative rule-file patterns against the config file's folder.
std::vector<std::string> RulePatterns(const std::string& config_path, const std::vector<std::string>& files);

nlohmann::json RulesJson(const std::vector<rules::RuleEngine::View>& views);
// `silenced_by` (optional) names the silences muting an alert's labels.
using SilencedByFn = std::function<std::vector<std::string>(const std::map<std::string, std::string>&)>;
nlohmann::json AlertsJson(const std::vector<rules::RuleEngine::View>& views, const SilencedByFn& silenced_by = nullptr);
// {"status": healthy|degraded|critical, "firing": [...with evidence and recommendation]}
nlohmann::json Diagnosis(const std::vector<rules::RuleEngine::View>& views);

}  // namespace vigil::daemon
