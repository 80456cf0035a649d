// The `capture:` section: bounds, cooldowns and retention of captures.
#include "daemon/config.h"
#include "daemon/config_section.h"

namespace vigil::daemon {

void ReadCapture(Section s, capture::CaptureConfig* c) {
  s.Bool("enabled", &c->enabled);
  s.String("dir", &c->dir);
  s.Duration("max_duration", &c->max_duration_s, 0.01);
  s.Int("max_steps", &c->max_steps, 1, int64_t{1} << 40, "a positive integer");
  s.Size("max_bytes", &c->max_bytes, 4096);
  // `cooldown: 10m` is per rule; `cooldown: {rule: 10m, global: 1m}` sets both.
  if (s.IsMapping("cooldown")) {
    Section cd = s.Child("cooldown");
    cd.Duration("rule", &c->rule_cooldown_s);
    cd.Duration("global", &c->global_cooldown_s);
    cd.Finish();
  } else {
    s.Duration("cooldown", &c->rule_cooldown_s);
  }
  Section r = s.Child("retention");
  r.Int("max_count", &c->max_count, 1, 1000000, "a positive integer");
  r.Size("max_total_bytes", &c->max_total_bytes, 4096);
  r.Finish();
  s.Bool("record_shapes", &c->record_shapes);
  s.Bool("with_stack", &c->with_stack);
  s.Finish();
}

}  // namespace vigil::daemon
