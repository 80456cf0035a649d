// One engine iteration: schedule, build the paged batch, run the model,
// sample, and deliver outputs and timings.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "engine/engine_core_impl.h"
#include "engine/sampler.h"
#include "engine/tracer.h"

namespace vigil::engine {

namespace {

torch::Tensor Int64Tensor(const std::vector<int64_t>& v, torch::Device device) {
  return torch::tensor(v, torch::kInt64).to(device);
}

struct BuiltBatch {
  ForwardBatch batch;
  std::vector<int64_t> sample_row;                       // per scheduled: logits row, or -1
  std::vector<std::pair<int64_t, int64_t>> prompt_rows;  // per scheduled: first logits row, count
};

// Positions [start, start+n) of each request become rows of the step; decodes
// share one attention group, each prefill chunk gets its own.
BuiltBatch BuildBatch(const SchedulerOutput& so, const BlockManager& blocks, torch::Device device, torch::Dtype dtype) {
  BuiltBatch out;
  const int bs = blocks.block_size();
  std::vector<int64_t> ids, pos, slots, logit_rows;
  const size_t nreq = so.scheduled.size();
  out.sample_row.assign(nreq, -1);
  out.prompt_rows.assign(nreq, {0, 0});
  std::vector<int64_t> row_start(nreq);
  for (size_t i = 0; i < nreq; ++i) {
    const ScheduledRequest& s = so.scheduled[i];
    const Request* r = s.request;
    const auto& table = blocks.BlockTable(r->id);
    row_start[i] = static_cast<int64_t>(ids.size());
    for (int64_t p = s.start_pos; p < s.start_pos + s.num_new_tokens; ++p) {
      ids.push_back(r->tokens[p]);
      pos.push_back(p);
      slots.push_back(static_cast<int64_t>(table[p / bs]) * bs + p % bs);
    }
    if (r->params.return_prompt_logits && s.start_pos < r->num_prompt_tokens) {
      const int64_t first = static_cast<int64_t>(logit_rows.size());
      const int64_t end = std::min(s.start_pos + s.num_new_tokens, r->num_prompt_tokens);
      for (int64_t p = s.start_pos; p < end; ++p) logit_rows.push_back(row_start[i] + (p - s.start_pos));
      out.prompt_rows[i] = {first, end - s.start_pos};
      if (s.samples && end == s.start_pos + s.num_new_tokens)
        out.sample_row[i] = static_cast<int64_t>(logit_rows.size()) - 1;
    }
    if (s.samples && out.sample_row[i] < 0) {
      logit_rows.push_back(row_start[i] + s.num_new_tokens - 1);
      out.sample_row[i] = static_cast<int64_t>(logit_rows.size()) - 1;
    }
  }
  const int64_t T = static_cast<int64_t>(ids.size());
  const float neg_inf = -std::numeric_limits<float>::infinity();

  auto make_group = [&](const std::vector<size_t>& members) {
    AttentionGroup g;
    g.batch = static_cast<int64_t>(members.size());
    for (size_t m : members) {
      const ScheduledRequest& s = so.scheduled[m];
      g.max_q = std::max(g.max_q, s.num_new_tokens);
      g.max_ctx = std::max(g.max_ctx, s.start_pos + s.num_new_tokens);
    }
    std::vector<int64_t> qi(g.batch * g.max_q, T), kv(g.batch * g.max_ctx, 0);
    std::vector<float> mask(g.batch * g.max_q * g.max_ctx, neg_inf);
    for (int64_t b = 0; b < g.batch; ++b) {
      const ScheduledRequest& s = so.scheduled[members[b]];
      const auto& table = blocks.BlockTable(s.request->id);
      const int64_t ctx = s.start_pos + s.num_new_tokens;
      for (int64_t j = 0; j < ctx; ++j) kv[b * g.max_ctx + j] = static_cast<int64_t>(table[j / bs]) * bs + j % bs;
      for (int64_t q = 0; q < g.max_q; ++q) {
        // Padding rows attend to every real key: harmless, and never all -inf.
        const int64_t abs_pos = q < s.num_new_tokens ? s.start_pos + q : ctx - 1;
        if (q < s.num_new_tokens) qi[b * g.max_q + q] = row_start[members[b]] + q;
        float* row = &mask[(b * g.max_q + q) * g.max_ctx];
        for (int64_t j = 0; j <= abs_pos; ++j) row[j] = 0.0f;
      }
    }
    g.q_index = Int64Tensor(qi, device);
    g.kv_slots = Int64Tensor(kv, device);
    g.mask = torch::from_blob(mask.data(), {g.batch, 1, g.max_q, g.max_ctx}, torch::kFloat32)
                 .to(device, dtype, false, /*copy=*/true);
    return g;
  };
  std::vector<size_t> decodes;
  for (size_t i = 0; i < nreq; ++i) {
    if (so.scheduled[i].num_new_tokens == 1) decodes.push_back(i);
    else out.batch.groups.push_back(make_group({i}));
  }
  if (!decodes.empty()) out.batch.groups.push_back(make_group(decodes));

  out.batch.num_tokens = T;
  out.batch.input_ids = Int64Tensor(ids, device);
  out.batch.positions = Int64Tensor(pos, device);
  out.batch.slot_mapping = Int64Tensor(slots, device);
  out.batch.logits_indices = Int64Tensor(logit_rows, device);
  return out;
}

}  // namespace

void EngineCore::Impl::Step() {
  const double t0 = NowSeconds();
  TraceScope step_span("step");
  SchedulerOutput so;
  {
    TraceScope span("schedule");
    so = scheduler->Schedule();
  }
  if (step_span.active()) {
    // The batch composition, for the trace and the prefill/decode split.
    int64_t prefill_tokens = 0, prefill_seqs = 0, decode_seqs = 0;
    for (const ScheduledRequest& s : so.scheduled) {
      const bool decode = s.num_new_tokens == 1 && s.request->num_computed_tokens >= s.request->num_prompt_tokens;
      (decode ? decode_seqs : prefill_seqs) += 1;
      if (!decode) prefill_tokens += s.num_new_tokens;
    }
    step_span.Arg("batch_size", static_cast<double>(so.scheduled.size()));
    step_span.Arg("tokens", static_cast<double>(so.total_tokens));
    step_span.Arg("prefill_seqs", static_cast<double>(prefill_seqs));
    step_span.Arg("prefill_tokens", static_cast<double>(prefill_tokens));
    step_span.Arg("decode_seqs", static_cast<double>(decode_seqs));
    step_span.Arg("preempted", static_cast<double>(so.num_preempted));
  }
  stats.kv_evictions_preemption_total += so.blocks_freed_by_preemption;
  if (so.num_preempted > 0) {
    spdlog::debug("engine: preempted {} request(s), {} blocks released", so.num_preempted,
                  so.blocks_freed_by_preemption);
  }
  if (so.empty()) return;
  for (const ScheduledRequest& s : so.scheduled)
    if (s.request->first_scheduled_time < 0) s.request->first_scheduled_time = t0;

  std::vector<int32_t> sampled(so.scheduled.size(), 0);
  std::vector<std::vector<float>> prompt_logits(so.scheduled.size());
  try {
    std::optional<TraceScope> prep_span(std::in_place, "prepare_inputs");
    BuiltBatch bb = BuildBatch(so, *blocks, device, model->dtype());
    prep_span.reset();
    torch::Tensor logits;
    {
      TraceScope span("forward");
      logits = model->Forward(bb.batch, cache);
    }
    TraceScope sample_span("sample");
    std::vector<SampleRow> rows;
    std::vector<size_t> row_owner;
    for (size_t i = 0; i < so.scheduled.size(); ++i) {
      if (bb.sample_row[i] < 0) continue;
      rows.push_back({bb.sample_row[i], &so.scheduled[i].request->params, &so.scheduled[i].request->rng});
      row_owner.push_back(i);
    }
    std::vector<int32_t> toks = SampleTokens(logits, rows);
    for (size_t j = 0; j < row_owner.size(); ++j) sampled[row_owner[j]] = toks[j];
    for (size_t i = 0; i < so.scheduled.size(); ++i) {
      if (bb.prompt_rows[i].second == 0) continue;
      auto part = logits.narrow(0, bb.prompt_rows[i].first, bb.prompt_rows[i].second).to(torch::kCPU).contiguous();
      prompt_logits[i].assign(part.data_ptr<float>(), part.data_ptr<float>() + part.numel());
    }
  } catch (const std::exception& e) {
    spdlog::error("engine: step failed, failing its {} request(s): {}", so.scheduled.size(), e.what());
    FailScheduled(so, std::string("engine step failed: ") + e.what());
    return;
  }

  // Accumulate prompt logits across chunks until the prompt is done.
  for (size_t i = 0; i < so.scheduled.size(); ++i) {
    auto& acc = so.scheduled[i].request->prompt_logits_acc;
    acc.insert(acc.end(), prompt_logits[i].begin(), prompt_logits[i].end());
  }

  TraceScope update_span("update");
  std::vector<RequestUpdate> updates = scheduler->Update(so, sampled);
  const double now = NowSeconds();
  const double step = now - t0;
  for (RequestUpdate& u : updates) {
    Request* r = u.request;
    for (size_t k = 0; k < u.new_tokens.size(); ++k) {
      if (r->first_token_time < 0) {
        r->first_token_time = now;
        stats.ttft_seconds.Observe(now - r->arrival_time);
        stats.guide_ttft_seconds.Observe(now - r->arrival_time);
        stats.ttft_sketch.Add(now - r->arrival_time);
        stats.queue_sketch.Add(r->first_scheduled_time - r->arrival_time);
        stats.prefill_sketch.Add(now - r->first_scheduled_time);
        stats.queue_seconds.Observe(r->first_scheduled_time - r->arrival_time);
        stats.prefill_seconds.Observe(now - r->first_scheduled_time);
        stats.prompt_tokens_total += r->num_prompt_tokens;
      } else {
        stats.inter_token_seconds.Observe(now - r->last_token_time);
        stats.guide_tbt_seconds.Observe(now - r->last_token_time);
        stats.inter_token_sketch.Add(now - r->last_token_time);
      }
      r->last_token_time = now;
      ++stats.generation_tokens_total;
    }
    if (u.new_tokens.empty() && !u.finished) continue;  // a non-final prefill chunk
    std::vector<float> pl;
    if (r->params.return_prompt_logits && !u.new_tokens.empty() && !r->prompt_logits_sent) {
      pl = std::move(r->prompt_logits_acc);
      r->prompt_logits_sent = true;
    }
    if (u.finished) ObserveFinished(*r, now);
    Emit(r, std::move(u.new_tokens), u.finished, std::move(pl));
    if (u.finished) scheduler->Take(r->id);
  }

  ++stats.steps_total;
  stats.busy_seconds_total += step;
  stats.last_step_batch_size = static_cast<int64_t>(so.scheduled.size());
  stats.last_step_tokens = so.total_tokens;
  stats.last_step_seconds = step;
  stats.step_seconds.Observe(step);
  stats.iteration_tokens.Observe(static_cast<double>(so.total_tokens));
  stats.batch_size.Observe(static_cast<double>(so.scheduled.size()));
  stats.batch_size_sketch.Add(static_cast<double>(so.scheduled.size()));
  int64_t decodes = 0;
  for (const ScheduledRequest& s : so.scheduled) decodes += s.num_new_tokens == 1 ? 1 : 0;
  if (decodes > 0) stats.guide_decode_batch_size.Observe(static_cast<double>(decodes));
  recent_steps.emplace_back(now, step);
}

}  // namespace vigil::engine
