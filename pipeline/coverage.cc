#include "pipeline/coverage.h"

#include "monitor/signal_table.h"

namespace vigil::pipeline {

std::string WhyUnavailable(const std::string& signal, const std::vector<std::string>& missing) {
  const monitor::SignalInfo* s = monitor::FindSignal(signal);
  if (!s || !monitor::FromScrape(*s)) return signal + " is measured only for the hosted engine";
  // An entry is an input's key, or "key (why)" where the adapter knows why.
  std::string out, notes;
  for (const std::string& in : monitor::ScrapeInputs(*s))
    for (const std::string& m : missing)
      if (m == in || (m.size() > in.size() + 2 && m.compare(0, in.size() + 2, in + " (") == 0)) {
        out += (out.empty() ? "" : ", ") + in;
        if (m != in) notes += ": " + m.substr(in.size() + 2, m.size() - in.size() - 3);
        break;
      }
  return out.empty() ? "" : signal + " needs " + out + ", which this engine does not expose" + notes;
}

}  // namespace vigil::pipeline
