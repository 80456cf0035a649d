#include "rules/template.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

namespace vigil::rules {

std::string Humanize(double v) {
  if (!std::isfinite(v)) return v > 0 ? "+Inf" : (v < 0 ? "-Inf" : "NaN");
  static const char* big[] = {"", "k", "M", "G", "T", "P", "E"};
  static const char* small[] = {"", "m", "u", "n", "p"};
  double a = std::fabs(v);
  int i = 0;
  char buf[64];
  if (a >= 1) {
    while (a >= 1000 && i < 6) {
      a /= 1000;
      v /= 1000;
      ++i;
    }
    std::snprintf(buf, sizeof buf, "%.4g%s", v, big[i]);
  } else if (a == 0) {
    return "0";
  } else {
    while (a < 1 && i < 4) {
      a *= 1000;
      v *= 1000;
      ++i;
    }
    std::snprintf(buf, sizeof buf, "%.4g%s", v, small[i]);
  }
  return buf;
}

std::string HumanizePercentage(double r) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g%%", r * 100);
  return buf;
}

std::string HumanizeDuration(double s) {
  if (!std::isfinite(s)) return s > 0 ? "+Inf" : "NaN";
  char buf[96];
  if (std::fabs(s) < 1) {
    if (s == 0) return "0s";
    std::snprintf(buf, sizeof buf, "%.4gms", s * 1000);
    return buf;
  }
  if (std::fabs(s) < 60) {  // as Prometheus: seconds keep their fraction
    std::snprintf(buf, sizeof buf, "%.4gs", s);
    return buf;
  }
  const bool neg = s < 0;
  long long t = static_cast<long long>(std::llround(std::fabs(s)));
  const long long d = t / 86400, h = (t % 86400) / 3600, m = (t % 3600) / 60, sec = t % 60;
  std::string out = neg ? "-" : "";
  if (d) out += std::to_string(d) + "d ";
  if (d || h) out += std::to_string(h) + "h ";
  if (d || h || m) out += std::to_string(m) + "m ";
  out += std::to_string(sec) + "s";
  return out;
}

namespace {

struct Piece {
  std::string kind;  // value, label, query, string, number
  std::string arg;
  double num = 0;
};
struct Call {
  std::string fn;
  std::string arg;  // printf's format
};
struct Action {
  Piece head;
  std::vector<Call> pipe;
};

// Splits an action like `query "x" | printf "%.0f"` into words, keeping
// quoted strings whole.
Status Words(const std::string& s, std::vector<std::string>* out) {
  size_t i = 0;
  while (i < s.size()) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    if (s[i] == '"') {
      std::string w = "\"";
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) {
          w += s[i + 1];
          i += 2;
          continue;
        }
        w += s[i++];
      }
      if (i >= s.size()) return Status::InvalidArgument("unterminated string");
      ++i;
      out->push_back(w);
      continue;
    }
    if (s[i] == '|') {
      out->push_back("|");
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) && s[j] != '|') ++j;
    out->push_back(s.substr(i, j - i));
    i = j;
  }
  return Status::OK();
}

Status ParseAction(const std::string& text, Action* a) {
  std::vector<std::string> w;
  VIGIL_RETURN_IF_ERROR(Words(text, &w));
  if (w.empty()) return Status::InvalidArgument("empty {{ }}");
  size_t i = 0;
  const std::string& h = w[i++];
  if (h == "$value") {
    a->head.kind = "value";
  } else if (h.rfind("$labels.", 0) == 0) {
    a->head = {"label", h.substr(8)};
  } else if (h == "query") {
    if (i >= w.size() || w[i][0] != '"') return Status::InvalidArgument("query needs a quoted expression");
    a->head = {"query", w[i++].substr(1)};
    std::unique_ptr<Expr> e;
    VIGIL_RETURN_IF_ERROR(Expr::Parse(a->head.arg, &e).WithContext("query \"" + a->head.arg + "\""));
  } else if (h[0] == '"') {
    a->head = {"string", h.substr(1)};
  } else {
    char* end = nullptr;
    double v = std::strtod(h.c_str(), &end);
    if (*end != '\0')
      return Status::InvalidArgument("unknown value \"" + h + "\" (use $value, $labels.NAME, query \"expr\")");
    a->head.kind = "number";
    a->head.num = v;
  }
  while (i < w.size()) {
    if (w[i] != "|") return Status::InvalidArgument("expected \"|\" before \"" + w[i] + "\"");
    if (++i >= w.size()) return Status::InvalidArgument("nothing after \"|\"");
    Call c{w[i++], ""};
    if (c.fn == "printf") {
      if (i >= w.size() || w[i][0] != '"') return Status::InvalidArgument("printf needs a quoted format");
      c.arg = w[i++].substr(1);
    } else if (c.fn != "humanize" && c.fn != "humanizePercentage" && c.fn != "humanizeDuration") {
      return Status::InvalidArgument("unknown template function \"" + c.fn +
                                     "\" (humanize, humanizePercentage, humanizeDuration, printf)");
    }
    a->pipe.push_back(c);
  }
  return Status::OK();
}

Status ForEachAction(const std::string& t, const std::function<void(const std::string&)>& literal,
                     const std::function<Status(const std::string&)>& action) {
  size_t i = 0;
  while (i < t.size()) {
    size_t open = t.find("{{", i);
    if (open == std::string::npos) {
      literal(t.substr(i));
      break;
    }
    literal(t.substr(i, open - i));
    size_t close = t.find("}}", open + 2);
    if (close == std::string::npos) return Status::InvalidArgument("unclosed {{");
    VIGIL_RETURN_IF_ERROR(action(t.substr(open + 2, close - open - 2)));
    i = close + 2;
  }
  return Status::OK();
}

}  // namespace

Status CheckTemplate(const std::string& tmpl) {
  return ForEachAction(
      tmpl, [](const std::string&) {},
      [](const std::string& text) {
        Action a;
        return ParseAction(text, &a);
      });
}

std::string RenderTemplate(const std::string& tmpl, const TemplateData& data, std::string* error) {
  std::string out;
  error->clear();
  auto fail = [&](const std::string& msg) {
    if (error->empty()) *error = msg;
    out += "<error: " + msg + ">";
  };
  Status st = ForEachAction(
      tmpl, [&](const std::string& lit) { out += lit; },
      [&](const std::string& text) {
        Action a;
        Status s = ParseAction(text, &a);
        if (!s.ok()) {
          fail(s.message());
          return Status::OK();
        }
        bool is_num = true;
        double num = 0;
        std::string str;
        if (a.head.kind == "value") {
          if (!data.value) return fail("$value has no data"), Status::OK();
          num = *data.value;
        } else if (a.head.kind == "label") {
          is_num = false;
          if (data.labels && data.labels->count(a.head.arg)) str = data.labels->at(a.head.arg);
        } else if (a.head.kind == "query") {
          std::unique_ptr<Expr> e;
          Expr::Parse(a.head.arg, &e);
          Value v = data.ctx ? e->Eval(*data.ctx) : std::nullopt;
          if (!v) return fail("query \"" + a.head.arg + "\" has no data"), Status::OK();
          num = *v;
        } else if (a.head.kind == "string") {
          is_num = false;
          str = a.head.arg;
        } else {
          num = a.head.num;
        }
        for (const Call& c : a.pipe) {
          if (!is_num && c.fn != "printf") return fail(c.fn + " needs a number"), Status::OK();
          if (c.fn == "humanize") str = Humanize(num);
          else if (c.fn == "humanizePercentage") str = HumanizePercentage(num);
          else if (c.fn == "humanizeDuration") str = HumanizeDuration(num);
          else {
            // One conversion, for the piped value; anything else is refused.
            const std::string& f = c.arg;
            size_t pct = f.find('%');
            while (pct != std::string::npos && pct + 1 < f.size() && f[pct + 1] == '%') pct = f.find('%', pct + 2);
            if (pct == std::string::npos) return fail("printf format has no conversion"), Status::OK();
            size_t j = pct + 1;
            while (j < f.size() && std::string("-+ #0123456789.").find(f[j]) != std::string::npos) ++j;
            if (j >= f.size()) return fail("printf format ends early"), Status::OK();
            const char conv = f[j];
            if (f.find('%', j + 1) != std::string::npos && f.find("%%", j + 1) == std::string::npos)
              return fail("printf takes one value"), Status::OK();
            char buf[256];
            if (std::string("fFeEgG").find(conv) != std::string::npos && is_num) {
              std::snprintf(buf, sizeof buf, f.c_str(), num);
            } else if ((conv == 'd' || conv == 'i') && is_num) {
              std::string g = f.substr(0, j) + "lld" + f.substr(j + 1);
              std::snprintf(buf, sizeof buf, g.c_str(), static_cast<long long>(std::llround(num)));
            } else if (conv == 's' || conv == 'v') {
              std::string g = f.substr(0, j) + "s" + f.substr(j + 1);
              const std::string sv = is_num && str.empty() ? Humanize(num) : str;
              std::snprintf(buf, sizeof buf, g.c_str(), sv.c_str());
            } else {
              return fail(std::string("printf conversion %") + conv + " does not fit the value"), Status::OK();
            }
            str = buf;
          }
          is_num = false;
        }
        if (is_num) {
          char buf[64];
          std::snprintf(buf, sizeof buf, "%g", num);
          str = buf;
        }
        out += str;
        return Status::OK();
      });
  if (!st.ok()) fail(st.message());
  return out;
}

}  // namespace vigil::rules
