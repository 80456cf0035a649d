#include "pipeline/pipeline.h"
#include "common/os_util.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "common/time_util.h"

namespace vigil::pipeline {

Pipeline::Pipeline(PipelineConfig cfg)
    : cfg_(std::move(cfg)), points_(static_cast<size_t>(cfg_.retention_s / cfg_.interval_s) + 1) {}

Status Pipeline::Create(PipelineConfig cfg, StatsSource hosted, std::unique_ptr<Pipeline>* out) {
  std::unique_ptr<Pipeline> p(new Pipeline(std::move(cfg)));
  p->hosted_ = std::move(hosted);
  if (p->hosted_) p->local_ = p->GetOrCreate(InstanceId::Local());
  std::vector<TargetState> states;
  for (size_t i = 0; i < p->cfg_.targets.size(); ++i) {
    auto t = std::make_unique<Target>();
    t->cfg = p->cfg_.targets[i];
    if (!t->cfg.bearer_token_file.empty())
      VIGIL_RETURN_IF_ERROR(
          ReadSecretFile(t->cfg.bearer_token_file, "bearer token file", &t->token)
              .WithContext("targets[" + std::to_string(i) + "] (" + t->cfg.name + ").bearer_token_file"));
    TargetState& st = states.emplace_back();
    st.status.name = t->cfg.name;
    st.status.url = t->cfg.url;
    st.status.kind = t->cfg.engine == scrape::EngineKind::kUnknown ? "auto" : scrape::EngineKindName(t->cfg.engine);
    p->targets_.push_back(std::move(t));
  }
  {
    MutexLock lock(&p->mu_);  // no other thread yet; the analysis asks for it all the same
    p->target_states_ = std::move(states);
  }
  const size_t n = p->cfg_.scrape_workers > 0 ? static_cast<size_t>(p->cfg_.scrape_workers)
                                              : std::min<size_t>(16, p->targets_.size());
  for (size_t i = 0; i < n; ++i) p->workers_.emplace_back([q = p.get()] { q->Worker(); });
  *out = std::move(p);
  return Status::OK();
}

Pipeline::~Pipeline() {
  Stop();
  {
    MutexLock lock(&mu_);
    stop_workers_ = true;
    jobs_.clear();
  }
  jobs_cv_.SignalAll();
  for (auto& w : workers_) w.join();
}

Instance* Pipeline::GetOrCreate(const InstanceId& id) {
  const std::string name = id.Name();
  MutexLock lock(&mu_);
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    it->second->Unretire();  // a name seen again (a target back to one unnamed engine)
    return it->second;
  }
  instances_.push_back(std::make_unique<Instance>(id, points_, cfg_.detectors, cfg_.deriver));
  by_name_[name] = instances_.back().get();
  instances_.back()->SetRules(groups_, inhibits_);
  if (!id.local()) spdlog::info("monitor: watching instance {}", name);
  return instances_.back().get();
}

void Pipeline::SetRules(std::vector<rules::RuleGroup> groups, std::vector<rules::InhibitRule> inhibits) {
  MutexLock lock(&mu_);
  groups_ = std::move(groups);
  inhibits_ = std::move(inhibits);
  for (auto& i : instances_) i->SetRules(groups_, inhibits_);
}

void Pipeline::Start() {
  MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Pipeline::Stop() {
  std::thread thread;
  {
    MutexLock lock(&mu_);
    stop_ = true;
    thread.swap(thread_);
  }
  cv_.SignalAll();
  if (thread.joinable()) thread.join();
}

void Pipeline::Worker() {
  while (true) {
    Job job{};
    Target* t = nullptr;
    {
      MutexLock lock(&mu_);
      while (!stop_workers_ && jobs_.empty()) jobs_cv_.Wait(&mu_);
      if (stop_workers_) return;
      job = jobs_.front();
      jobs_.pop_front();
      t = targets_[job.target].get();  // its session is ours until its in_flight is cleared
    }
    // cfg and token do not change after Create: read without the lock, uncopied.
    ScrapeResult r = t->session.Fetch(t->cfg, t->token, job.now);
    bool last = false;
    {
      MutexLock lock(&mu_);
      target_states_[job.target].in_flight = false;
      // A late scrape of an earlier tick does not count for this one: one
      // hung target must not make every tick wait its whole budget.
      last = job.tick == tick_seq_ && --tick_pending_ == 0;
      done_.push_back({job.target, std::move(r)});
    }
    if (last) cv_.SignalAll();  // only the tick waits on it: wake it once, not per scrape
  }
}

void Pipeline::Process(double now, size_t target, const ScrapeResult& r, Transitions* out) {
  Target& t = *targets_[target];
  std::vector<Instance*> seen;
  auto tick = [&](Instance* inst, std::vector<std::pair<std::string, double>> values, bool stale) {
    auto& mine = (*out)[inst];
    for (auto& tr : inst->Tick(now, values, stale)) mine.push_back(std::move(tr));
    seen.push_back(inst);
  };
  auto health = [&r](std::vector<std::pair<std::string, double>>* v) {
    scrape::AppendScrapeOutcome(r.ok, r.health, v);
  };
  if (r.ok) {
    for (const auto& reading : r.readings) {
      const InstanceId id = InstanceId::Watched(t.cfg.name, reading.instance);
      Instance* inst = GetOrCreate(id);
      auto values = inst->Derive(r.started, reading);
      health(&values);
      // Each missing input with why, where the adapter knows more (coverage.h).
      std::vector<std::string> missing;
      for (const std::string& key : r.missing) {
        const std::string note = scrape::MissingNote(r.kind, key);
        missing.push_back(note.empty() ? key : key + " (" + note + ")");
      }
      inst->SetMissing(std::move(missing));
      tick(inst, std::move(values), false);
    }
  }
  std::vector<Instance*> known;
  {
    MutexLock lock(&mu_);
    known = target_states_[target].instances;
  }
  // A failed scrape (or an engine that left the exposition) still ticks:
  // target_up is what TargetDown reads, and the rules must see time pass.
  if (known.empty() && seen.empty()) known.push_back(GetOrCreate(InstanceId::Watched(t.cfg.name)));
  std::vector<Instance*> retire;
  for (Instance* inst : known) {
    if (std::find(seen.begin(), seen.end(), inst) != seen.end()) continue;
    std::vector<std::pair<std::string, double>> values;
    health(&values);
    // The stand-in made while the target had never answered, now that its
    // engines have names of their own: one last tick resolves its alerts.
    const bool stand_in = r.ok && !seen.empty() && inst->name() == t.cfg.name;
    tick(inst, std::move(values), !stand_in);
    if (stand_in) retire.push_back(inst);
  }
  MutexLock lock(&mu_);
  TargetState& ts = target_states_[target];
  for (Instance* inst : retire) {
    ts.instances.erase(std::find(ts.instances.begin(), ts.instances.end(), inst));
    seen.erase(std::find(seen.begin(), seen.end(), inst));
    inst->Retire();
  }
  for (Instance* inst : seen)
    if (std::find(ts.instances.begin(), ts.instances.end(), inst) == ts.instances.end()) ts.instances.push_back(inst);
  TargetStatus& s = ts.status;
  s.scraped = true;
  s.up = r.ok;
  s.last_scrape = r.started;
  s.duration_s = r.duration_s;
  s.error = r.error;
  s.health = r.health;
  s.health_error = r.health_error;
  if (r.ok) {
    s.samples = r.samples;
    s.kind = scrape::EngineKindName(r.kind);
  } else {
    ++s.errors[r.reason];
  }
  // A malformed family is left out and the rest used: each counted, once per scrape.
  for (const auto& d : r.dropped) ++s.errors[d.reason];
  s.dropped = r.dropped;
  s.instances.clear();
  for (Instance* inst : ts.instances) s.instances.push_back(inst->name());
}

void Pipeline::TickOnce(double now, double wait_s) {
  Transitions out;
  {
    MutexLock lock(&mu_);
    ++tick_seq_;
    tick_pending_ = 0;
    for (size_t i = 0; i < target_states_.size(); ++i) {
      if (target_states_[i].in_flight) continue;  // still on the last tick's scrape: a slow target
      target_states_[i].in_flight = true;
      ++tick_pending_;
      jobs_.push_back({i, now, tick_seq_});
    }
  }
  jobs_cv_.SignalAll();
  if (hosted_) {
    const auto values = local_->Derive(now, hosted_());
    out[local_] = local_->Tick(now, values);
  }
  std::vector<Done> done;
  {
    MutexLock lock(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
    while (!stop_ && tick_pending_ != 0 && cv_.WaitUntil(&mu_, deadline)) {}
    done.swap(done_);
  }
  // A late scrape and this tick's of the same target: the newer only, so an
  // instance ticks once per tick (the counters are cumulative: no data lost).
  std::map<size_t, size_t> newest;
  for (size_t k = 0; k < done.size(); ++k) {
    auto [it, fresh] = newest.emplace(done[k].target, k);
    if (!fresh && done[k].result.started >= done[it->second].result.started) it->second = k;
  }
  for (const auto& [target, k] : newest) {
    const Done& d = done[k];
    if (!d.result.ok) spdlog::debug("scrape {}: {}", targets_[d.target]->cfg.name, d.result.error);
    Process(now, d.target, d.result, &out);
  }
  // The tick's result, its views taken once: the hook's consumers and
  // /metrics read these rather than copying every rule again.
  auto result = std::make_shared<TickResult>(Snapshot(now, std::move(out)));
  {
    MutexLock lock(&mu_);
    result->seq = ++ticks_;
    last_tick_ = result;
  }
  if (hook_) hook_(*result);
}

TickResult Pipeline::Snapshot(double now, Transitions transitions) const {
  std::vector<const Instance*> list;
  {
    MutexLock lock(&mu_);
    for (const auto& i : instances_) list.push_back(i.get());
  }
  TickResult out;
  out.now = now;
  for (const Instance* inst : list) {  // each instance's own locks, outside mu_
    auto tr = transitions.find(inst);
    const bool retired = inst->retired();
    if (retired && tr == transitions.end()) continue;
    InstanceTick& it = out.instances.emplace_back();
    it.id = inst->id();
    it.instance = inst;
    if (tr != transitions.end()) it.transitions = std::move(tr->second);
    if (!retired) it.views = inst->Views();
  }
  return out;
}

std::shared_ptr<const TickResult> Pipeline::LastTick() const {
  MutexLock lock(&mu_);
  return last_tick_;
}

void Pipeline::Loop() {
  Clock* clock = cfg_.clock;
  const double interval = cfg_.interval_s;
  const double start = clock->SteadyNow();
  uint64_t n = 0;
  while (true) {
    TickOnce(clock->UnixNow(), cfg_.interval_s * cfg_.scrape_wait_fraction);
    // Next slot on the grid start + k*interval after now; overrun slots are skipped.
    const uint64_t due = static_cast<uint64_t>((clock->SteadyNow() - start) / interval) + 1;
    MutexLock lock(&mu_);
    if (due > n + 1) {
      skipped_ += due - n - 1;
      spdlog::debug("monitor: a tick overran its interval; skipped {} tick(s)", due - n - 1);
    }
    n = due;
    const double next = start + interval * static_cast<double>(n);
    next_due_ = next;
    while (!stop_) {
      const double left = next - clock->SteadyNow();
      if (left <= 0) break;
      cv_.WaitFor(&mu_, std::chrono::duration<double>(left));  // also woken by stop, scrapes, a ManualClock's move
    }
    if (stop_) return;
  }
}

std::vector<std::string> Pipeline::InstanceNames() const {
  MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& i : instances_)
    if (!i->retired()) out.push_back(i->name());
  return out;
}

const Instance* Pipeline::Find(const std::string& name) const {
  MutexLock lock(&mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() || it->second->retired() ? nullptr : it->second;
}

std::vector<rules::RuleEngine::View> Pipeline::Views() const {
  std::vector<const Instance*> list;
  {
    MutexLock lock(&mu_);
    for (const auto& i : instances_)
      if (!i->retired()) list.push_back(i.get());
  }
  std::vector<rules::RuleEngine::View> out;
  for (const Instance* i : list) {
    auto v = i->Views();
    out.insert(out.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
  }
  return out;
}

std::vector<TargetStatus> Pipeline::Targets() const {
  MutexLock lock(&mu_);
  std::vector<TargetStatus> out;
  for (const auto& t : target_states_) out.push_back(t.status);
  return out;
}

bool Pipeline::FindTarget(const std::string& name, TargetConfig* cfg, std::string* token) const {
  for (const auto& t : targets_)  // targets_ does not change after Create
    if (t->cfg.name == name) {
      *cfg = t->cfg;
      *token = t->token;
      return true;
    }
  return false;
}

size_t Pipeline::rule_count() const {
  MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& g : groups_) n += g.rules.size();
  return n;
}

uint64_t Pipeline::evaluation_failures() const {
  MutexLock lock(&mu_);
  uint64_t n = 0;
  for (const auto& i : instances_) n += i->rules().evaluation_failures();
  return n;
}

uint64_t Pipeline::ticks() const {
  MutexLock lock(&mu_);
  return ticks_;
}

uint64_t Pipeline::skipped_ticks() const {
  MutexLock lock(&mu_);
  return skipped_;
}

double Pipeline::next_tick_due() const {
  MutexLock lock(&mu_);
  return next_due_;
}

}  // namespace vigil::pipeline
