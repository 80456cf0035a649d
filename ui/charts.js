// Charts for Vigil's dashboard on Debian's dygraphs: one chart per story
// (latency, queue, KV cache, ...), anomaly events as markers on their
// points, rule firing episodes as shaded bands. Every text from the daemon
// goes in as text (textContent, title): never as HTML.
'use strict';

const Charts = (() => {
  // The signals that tell the story first; any catalogue signal can be added.
  const DEFAULTS = [
    { title: 'Time to first token', signals: ['ttft_p50', 'ttft_p95'] },
    { title: 'Time between tokens P95', signals: ['tbt_p95'] },
    { title: 'End-to-end latency P95', signals: ['e2e_p95'] },
    { title: 'Requests', signals: ['requests_running', 'requests_waiting'] },
    { title: 'KV-cache usage', signals: ['kv_cache_usage'] },
    { title: 'Preemptions/s', signals: ['preemptions_per_s'] },
    { title: 'Prefix-cache hit rate', signals: ['prefix_cache_hit_rate'] },
    { title: 'Output tokens/s', signals: ['output_tokens_per_s'] },
    { title: 'Utilization', signals: ['utilization'] },
    { title: 'Memory', signals: ['memory_used_bytes'] },
    { title: 'Queue time P95', signals: ['queue_time_p95'] },
    { title: 'Orphaned KV blocks', signals: ['kv_blocks_orphaned'] },
  ];
  const COLORS = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5'];
  const BAND = { critical: 'rgba(197, 48, 48, 0.16)', warning: 'rgba(214, 158, 46, 0.20)' };

  // The legend plugin writes inline styles, which the page's CSP refuses:
  // each chart has its own readout instead.
  function dropLegendPlugin() {
    if (window.Dygraph && Dygraph.Plugins && Dygraph.Plugins.Legend)
      Dygraph.PLUGINS = Dygraph.PLUGINS.filter((p) => p !== Dygraph.Plugins.Legend);
  }

  // Axis labels: the value with a short unit only where it changes the
  // reading (seconds, bytes, ratios); the readout names the unit in full.
  function axisFormat(v, unit) {
    return ['seconds', 'ratio', 'bytes'].includes(unit) ? format(v, unit) : format(v, '');
  }

  function format(v, unit) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    const a = Math.abs(v);
    const num = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toPrecision(3).replace(/\.?0+$/, ''));
    switch (unit) {
      case 'seconds': return a >= 1 ? num(v) + ' s' : a >= 1e-3 ? num(v * 1e3) + ' ms' : a === 0 ? '0' : num(v * 1e6) + ' µs';
      case 'ratio': return num(v * 100) + '%';
      case 'bytes': {
        const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        let i = 0, x = v;
        while (Math.abs(x) >= 1024 && i < u.length - 1) { x /= 1024; ++i; }
        return num(x) + ' ' + u[i];
      }
      default: return num(v) + (unit && unit !== 'bool' ? ' ' + unit : '');
    }
  }

  class Chart {
    constructor(container, spec, units, onRemove) {
      this.spec = spec;
      this.units = units;
      this.el = document.createElement('div');
      this.el.className = 'chart';
      this.el.dataset.signals = spec.signals.join(',');
      const head = document.createElement('div');
      head.className = 'head';
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = spec.title;
      title.title = spec.signals.join(', ');
      this.readout = document.createElement('span');
      this.readout.className = 'readout';
      head.append(title, this.readout);
      if (onRemove) {
        const x = document.createElement('button');
        x.className = 'remove';
        x.type = 'button';
        x.textContent = '×';
        x.title = 'remove this chart';
        x.addEventListener('click', () => onRemove(this));
        head.append(x);
      }
      this.plot = document.createElement('div');
      this.plot.className = 'plot';
      this.el.append(head, this.plot);
      container.append(this.el);
      this.graph = null;
      this.rows = [];
      this.bands = [];
    }

    unit() { return this.units[this.spec.signals[0]] || ''; }

    // series: {name: [[t, v], ...]}; episodes: firing intervals [{start, end, severity}];
    // anomalies: [{time, signals, message, detector}]; window: [from, to] (unix s).
    update(series, episodes, anomalies, window) {
      const names = this.spec.signals;
      // The instance's signals share the monitor's tick times: one row per time.
      const byTime = new Map();
      names.forEach((n, i) => {
        for (const [t, v] of series[n] || []) {
          let row = byTime.get(t);
          if (!row) { row = new Array(names.length + 1).fill(null); row[0] = t; byTime.set(t, row); }
          row[i + 1] = v;
        }
      });
      const times = [...byTime.keys()].sort((a, b) => a - b);
      this.rows = times.map((t) => { const r = byTime.get(t); return [new Date(t * 1000), ...r.slice(1)]; });
      this.bands = episodes.filter((e) => (e.end || window[1]) >= window[0] && e.start <= window[1]);
      this.el.dataset.bands = String(this.bands.length);
      const marks = this.markers(anomalies, times);
      this.el.dataset.markers = String(marks.length);
      this.el.dataset.points = String(this.rows.length);
      if (!this.rows.length) {
        if (this.graph) { this.graph.destroy(); this.graph = null; }
        this.plot.textContent = '';
        const p = document.createElement('p');
        p.className = 'empty';
        p.textContent = 'no data (the engine does not expose this signal, or nothing yet)';
        this.plot.append(p);
        this.readout.textContent = '';
        return;
      }
      const dateWindow = [window[0] * 1000, window[1] * 1000];
      if (!this.graph) {
        this.plot.textContent = '';
        const unit = this.unit();
        this.graph = new Dygraph(this.plot, this.rows, {
          labels: ['time', ...names],
          colors: COLORS,
          legend: 'never',
          connectSeparatedPoints: false,
          drawPoints: false,
          strokeWidth: 1.5,
          dateWindow,
          includeZero: true,
          axes: { y: { axisLabelWidth: 64, valueFormatter: (v) => format(v, unit), axisLabelFormatter: (v) => axisFormat(v, unit) } },
          underlayCallback: (ctx, area, g) => this.drawBands(ctx, area, g),
          highlightCallback: (e, x, points) => this.showReadout(x, points),
          unhighlightCallback: () => this.showLatest(),
          interactionModel: Dygraph.defaultInteractionModel,
        });
      } else {
        this.graph.updateOptions({ file: this.rows, dateWindow });
      }
      this.graph.setAnnotations(marks);
      this.showLatest();
    }

    // One marker per anomaly event on the nearest point of its signal.
    markers(anomalies, times) {
      if (!times.length) return [];
      const out = [];
      for (const a of anomalies) {
        const signal = (a.signals || []).find((s) => this.spec.signals.includes(s));
        if (!signal) continue;
        let lo = 0, hi = times.length - 1;  // nearest time by bisection
        while (lo < hi) { const mid = (lo + hi) >> 1; if (times[mid] < a.t) lo = mid + 1; else hi = mid; }
        if (lo > 0 && Math.abs(times[lo - 1] - a.t) < Math.abs(times[lo] - a.t)) --lo;
        if (Math.abs(times[lo] - a.t) > 120) continue;  // its point is outside the range shown
        // xval as dygraphs keys its points: the Date's integer milliseconds.
        const xval = new Date(times[lo] * 1000).getTime();
        out.push({ series: signal, x: xval, xval, shortText: '!', text: `${a.detector}: ${a.message}`, cssClass: 'anomaly', width: 12, height: 14 });
      }
      return out;
    }

    drawBands(ctx, area, g) {
      const [lo, hi] = g.xAxisRange();
      for (const b of this.bands) {
        const from = Math.max(b.start * 1000, lo), to = Math.min((b.end || Date.now() / 1000) * 1000, hi);
        if (to < from) continue;
        const x0 = g.toDomXCoord(from), x1 = g.toDomXCoord(to);
        ctx.fillStyle = BAND[b.severity] || BAND.warning;
        ctx.fillRect(x0, area.y, Math.max(2, x1 - x0), area.h);
      }
    }

    showReadout(x, points) {
      const unit = this.unit();
      const parts = points.map((p) => `${p.name} ${format(p.yval, unit)}`);
      this.readout.textContent = `${new Date(x).toLocaleTimeString()}  ${parts.join('  ')}`;
    }

    showLatest() {
      const last = this.rows[this.rows.length - 1];
      if (!last) return;
      const unit = this.unit();
      this.readout.textContent = this.spec.signals.map((n, i) => `${n} ${format(last[i + 1], unit)}`).join('  ');
    }

    remove() {
      if (this.graph) this.graph.destroy();
      this.el.remove();
    }
  }

  return { DEFAULTS, Chart, format, dropLegendPlugin };
})();
