/// The page's script: polls `/api/status` and `/api/batches?since=ID` (at
/// the batch interval, between 100 ms and 1 s apart: once per batch down to
/// 100 ms batches; below that each poll draws every batch since the last one,
/// without redrawing faster than a user can read), keeps the last 1000
/// batches, and redraws. Charts are SVG it draws itself, in pixels of the
/// element's own width, so text never stretches.
enum PageScript {
    static let js = #"""
        'use strict';
        const $ = (id) => document.getElementById(id);
        const token = sessionStorage.getItem('eddy-token');
        const headers = token ? { Authorization: 'Bearer ' + token } : {};
        const MAX = 1000;
        let batches = [], lastId = null, status = null, selected = null, follow = true;
        let intervalMs = 1000, connected = false, failures = 0, jobShown = false;

        const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
        const num = (n) => n == null ? '–' : Number(n).toLocaleString('en-US');
        function fmtMs(ms) {
          if (ms == null || !isFinite(ms)) return '–';
          if (ms < 1) return ms.toFixed(2) + ' ms';
          if (ms < 100) return ms.toFixed(1) + ' ms';
          if (ms < 10000) return Math.round(ms) + ' ms';
          if (ms < 600000) return (ms / 1000).toFixed(1) + ' s';
          return (ms / 60000).toFixed(1) + ' min';
        }
        function fmtRate(r) {
          if (r == null || !isFinite(r)) return '–';
          if (r >= 1e6) return (r / 1e6).toFixed(2) + 'M/s';
          if (r >= 1e4) return (r / 1e3).toFixed(1) + 'k/s';
          return (r >= 100 ? Math.round(r) : r.toFixed(1)) + '/s';
        }
        function fmtBytes(b) {
          if (b == null) return '–';
          const u = ['B', 'KB', 'MB', 'GB', 'TB'];
          let i = 0; while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
          return (i === 0 ? b : b.toFixed(b < 10 ? 2 : 1)) + ' ' + u[i];
        }
        const pad = (n) => String(n).padStart(2, '0');
        function clock(ms) { const d = new Date(ms); return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()); }
        function ago(ms) {
          if (!ms || !status) return '–';
          const s = Math.max(0, (status.run.now - ms) / 1000);
          return s < 1 ? 'just now' : s < 120 ? Math.round(s) + ' s ago' : s < 7200 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago';
        }
        function uptime(ms) {
          const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
          return h ? h + 'h ' + m + 'm' : m ? m + 'm ' + (s % 60) + 's' : (s % 60) + 's';
        }
        function niceMax(v) {
          if (!(v > 0)) return 1;
          const p = Math.pow(10, Math.floor(Math.log10(v))), f = v / p;
          return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
        }

        async function getJSON(path) {
          const r = await fetch(path, { headers, cache: 'no-store' });
          if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
          return r.json();
        }

        async function poll() {
          try {
            const [s, b] = await Promise.all([getJSON('/api/status'),
              getJSON('/api/batches' + (lastId === null ? '' : '?since=' + lastId))]);
            status = s;
            intervalMs = s.job.batch_interval_ms;
            if (b.batches.length) {
              batches = batches.concat(b.batches);
              if (batches.length > MAX) batches = batches.slice(batches.length - MAX);
              lastId = batches[batches.length - 1].id;
            }
            connected = true; failures = 0;
            render();
          } catch (e) {
            connected = false; failures++;
            renderLive(e);
          }
          const base = Math.min(1000, Math.max(100, intervalMs));
          setTimeout(poll, connected ? base : Math.min(5000, base * (1 + failures)));
        }

        function renderLive(error) {
          const live = $('live');
          live.className = 'pill ' + (connected ? 'live' : 'down');
          $('live-text').textContent = connected ? 'live' : (status ? 'disconnected' : 'connecting');
          if (error) live.title = String(error);
        }

        function render() {
          renderLive();
          const job = status.job, run = status.run;
          $('job-path').textContent = job.path + (job.checkpoint ? '  ·  checkpoint ' + job.checkpoint : '') + (job.replay ? '  ·  replay' : '');
          const phase = $('phase');
          phase.textContent = run.phase + (run.failure ? ': ' + run.failure : '');
          phase.className = 'pill ' + run.phase;
          if (!jobShown) { showJob(job); jobShown = true; }
          renderKpis();
          renderCharts();
          renderDetail();
          renderShares();
          renderReceivers();
          renderLeases();
          renderBatches();
          renderRuntime();
        }

        function recent(n) { return batches.slice(Math.max(0, batches.length - n)); }
        const avg = (xs) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;

        function renderKpis() {
          const last = recent(10), run = status.run;
          const proc = avg(last.map((b) => b.processing_ms)), sched = avg(last.map((b) => b.scheduling_delay_ms));
          const total = avg(last.map((b) => b.total_delay_ms));
          const cls = (v) => v == null ? '' : v > intervalMs ? ' bad' : v > intervalMs * 0.8 ? ' warn' : '';
          const k = (name, value, sub, extra) => `<div class="kpi${extra || ''}"><div class="k">${name}</div><div class="v">${value}</div><div class="s">${sub}</div></div>`;
          $('kpis').innerHTML =
            k('Input rate', fmtRate(avg(last.map((b) => b.input_rate))), 'last 10 batches') +
            k('Processing', fmtMs(proc), 'interval ' + fmtMs(intervalMs), cls(proc)) +
            k('Scheduling delay', fmtMs(sched), 'last 10 batches', sched > intervalMs ? ' bad' : '') +
            k('Total delay', fmtMs(total), 'last 10 batches', cls(total)) +
            k('Batches', num(run.batches), run.in_flight + ' in flight · ' + job().lanes + ' lane' + (job().lanes > 1 ? 's' : '')) +
            k('Uptime', uptime(run.uptime_ms), 'since ' + clock(run.started_at));
        }
        const job = () => status.job;

        const SERIES = [
          { id: 'input', key: 'input_rate', color: 'var(--input)', fmt: fmtRate, line: false, avg: true },
          { id: 'sched', key: 'scheduling_delay_ms', color: 'var(--sched)', fmt: fmtMs, line: true },
          { id: 'proc', key: 'processing_ms', color: 'var(--proc)', fmt: fmtMs, line: true },
          { id: 'total', key: 'total_delay_ms', color: 'var(--total)', fmt: fmtMs, line: true },
        ];

        function renderCharts() {
          for (const s of SERIES) {
            const pts = batches.map((b) => ({ id: b.id, t: b.time, v: b[s.key] || 0 }));
            const maxV = niceMax(Math.max(1e-9, ...pts.map((p) => p.v), s.line ? intervalMs : 0) * 1.05);
            timeline($('chart-' + s.id), pts, s, maxV);
            histogram($('hist-' + s.id), pts, s, maxV);
            $('avg-' + s.id).textContent = pts.length ? s.fmt(avg(pts.map((p) => p.v))) + ' avg' : '';
          }
        }

        const H = 170, T = 10, B = 24;
        const yOf = (v, maxV) => T + (1 - Math.min(v, maxV) / maxV) * (H - T - B);

        function timeline(el, pts, s, maxV) {
          const W = Math.max(200, el.clientWidth || 720), L = 58, R = 10;
          el.setAttribute('viewBox', `0 0 ${W} ${H}`);
          if (!pts.length) { el.innerHTML = `<text class="empty" x="${W / 2}" y="${H / 2}" text-anchor="middle">waiting for the first batch…</text>`; return; }
          const t0 = pts[0].t, t1 = pts[pts.length - 1].t;
          const x = (t) => L + (t1 === t0 ? (W - L - R) / 2 : (t - t0) / (t1 - t0) * (W - L - R));
          let out = '';
          for (let i = 0; i <= 4; i++) {
            const v = maxV * i / 4, y = yOf(v, maxV).toFixed(1);
            out += `<line class="grid" x1="${L}" x2="${W - R}" y1="${y}" y2="${y}"/><text class="axis" x="${L - 6}" y="${+y + 4}" text-anchor="end">${s.fmt(v)}</text>`;
          }
          for (const f of (t1 === t0 ? [0.5] : [0, 0.5, 1])) {
            const t = t0 + (t1 - t0) * f, anchor = f === 0 ? 'start' : f === 1 ? 'end' : 'middle';
            out += `<text class="axis" x="${x(t).toFixed(1)}" y="${H - 6}" text-anchor="${anchor}">${clock(t)}</text>`;
          }
          if (s.line) {
            const y = yOf(intervalMs, maxV).toFixed(1);
            out += `<line class="limit" x1="${L}" x2="${W - R}" y1="${y}" y2="${y}"/><text class="limit-label" x="${W - R}" y="${y - 4}" text-anchor="end">batch interval ${fmtMs(intervalMs)}</text>`;
          }
          const d = pts.map((p, i) => (i ? 'L' : 'M') + x(p.t).toFixed(1) + ',' + yOf(p.v, maxV).toFixed(1)).join('');
          const base = yOf(0, maxV).toFixed(1);
          out += `<path class="area" fill="${s.color}" d="${d}L${x(t1).toFixed(1)},${base}L${x(t0).toFixed(1)},${base}Z"/>`;
          out += `<path class="line" stroke="${s.color}" d="${d}"/>`;
          const r = pts.length > 300 ? 1.6 : pts.length > 60 ? 2.4 : 3.2;
          for (const p of pts) {
            out += `<circle class="pt${p.id === selected ? ' sel' : ''}" data-batch="${p.id}" data-v="${p.v}" cx="${x(p.t).toFixed(1)}" cy="${yOf(p.v, maxV).toFixed(1)}" r="${p.id === selected ? r + 2 : r}" fill="${s.color}"/>`;
          }
          el.innerHTML = out;
          el.dataset.points = pts.length;
        }

        function histogram(el, pts, s, maxV) {
          const W = Math.max(120, el.clientWidth || 240), L = 4, R = 34, bins = 10;
          el.setAttribute('viewBox', `0 0 ${W} ${H}`);
          if (!pts.length) { el.innerHTML = ''; return; }
          const counts = new Array(bins).fill(0);
          for (const p of pts) counts[Math.min(bins - 1, Math.floor(Math.min(p.v, maxV) / maxV * bins))]++;
          const most = Math.max(...counts), step = (H - T - B) / bins;
          let out = '';
          counts.forEach((c, i) => {
            if (!c) return;
            const y = yOf(maxV * (i + 1) / bins, maxV), w = Math.max(2, c / most * (W - L - R));
            out += `<rect class="bar" x="${L}" y="${(y + 1).toFixed(1)}" width="${w.toFixed(1)}" height="${Math.max(1, step - 2).toFixed(1)}" rx="2" fill="${s.color}"><title>${s.fmt(maxV * i / bins)} – ${s.fmt(maxV * (i + 1) / bins)}: ${c} batch${c > 1 ? 'es' : ''}</title></rect>`;
            out += `<text class="axis" x="${(L + w + 4).toFixed(1)}" y="${(y + step / 2 + 4).toFixed(1)}">${c}</text>`;
          });
          if (s.line) {
            const y = yOf(intervalMs, maxV).toFixed(1);
            out += `<line class="limit" x1="${L}" x2="${W - R}" y1="${y}" y2="${y}"/>`;
          }
          out += `<text class="axis" x="${L}" y="${H - 6}">batches per range</text>`;
          el.innerHTML = out;
        }

        function selectedBatch() {
          if (!batches.length) return null;
          if (follow || selected === null) return batches[batches.length - 1];
          return batches.find((b) => b.id === selected) || batches[batches.length - 1];
        }

        // Clicking a batch pins it; clicking it again follows the latest batch again.
        // A pinned batch is in the address (#batch=ID), so a link shows it.
        function select(id) {
          if (selected === id && !follow) { follow = true; selected = null; } else { follow = false; selected = id; }
          history.replaceState(null, '', follow ? location.pathname + location.search : '#batch=' + id);
          if (status) render();
        }
        function pinFromAddress() {
          const m = /^#batch=(\d+)$/.exec(location.hash);
          if (m) { follow = false; selected = +m[1]; } else { follow = true; selected = null; }
          if (status) render();
        }
        window.addEventListener('hashchange', pinFromAddress);
        pinFromAddress();

        function stepRows(steps, total, withShare) {
          const most = Math.max(1e-9, ...steps.map((s) => s.ms));
          return steps.map((s) => {
            // The file's name and line:col; the whole path on hover.
            const at = `<span class="at" title="${esc(s.at)}">[${esc(String(s.at || '').replace(/^.*\//, ''))}]</span>`;
            const name = s.kind === 'statement' ? `${at} ${esc(s.text)}` : esc(s.name) + (s.at ? ' ' + at : '');
            const where = s.where === 'lane' ? '<span class="badge lane">lane</span>' : '<span class="badge order">in order</span>';
            return `<tr><td class="sql">${name}</td><td>${where}</td><td>${num(s.rows_in)}</td><td>${num(s.rows_out)}</td>` +
              `<td>${fmtMs(s.ms)}</td><td>${total > 0 ? (s.ms / total * 100).toFixed(1) + '%' : '–'}</td>` +
              `<td class="barcell"><div class="hbar" style="width:${(s.ms / most * 100).toFixed(1)}%"></div></td></tr>`;
          }).join('');
        }
        const stepHead = (what) => `<thead><tr><th class="l">${what}</th><th>where</th><th>rows in</th><th>rows out</th><th>time</th><th>share</th><th></th></tr></thead>`;

        function renderDetail() {
          const b = selectedBatch();
          if (!b) { $('detail-id').textContent = ''; $('detail-steps').innerHTML = ''; return; }
          $('detail-id').textContent = b.id + ' · ' + clock(b.time) + (follow ? ' (latest)' : '');
          $('detail-summary').textContent = `${num(b.records)} records · processing ${fmtMs(b.processing_ms)} · waited ${fmtMs(b.turn_wait_ms)} for its turn · lane ${b.lane} · ${num(b.out_rows)} rows out`;
          const sum = b.steps.reduce((a, s) => a + s.ms, 0);
          $('detail-steps').innerHTML = stepHead('step') + '<tbody>' + stepRows(b.steps, sum) + '</tbody>';
        }

        function renderShares() {
          const byOrder = new Map();
          let total = 0;
          for (const b of batches) for (const s of b.steps) {
            const e = byOrder.get(s.order) || Object.assign({}, s, { ms: 0, rows_in: 0, rows_out: 0, n: 0 });
            e.ms += s.ms; e.rows_in += s.rows_in || 0; e.rows_out += s.rows_out || 0; e.n++;
            byOrder.set(s.order, e); total += s.ms;
          }
          const steps = [...byOrder.values()].sort((a, b) => b.ms - a.ms);
          $('share-summary').textContent = batches.length ? `over the last ${batches.length} batch${batches.length > 1 ? 'es' : ''} · ${fmtMs(total)} in steps` : '';
          $('share-steps').innerHTML = stepHead('step (total over these batches)') + '<tbody>' + stepRows(steps, total) + '</tbody>';
        }

        function renderReceivers() {
          const rs = status.receivers;
          const kinesis = rs.some((r) => r.position != null || r.behind_ms != null);
          const stateBadge = (s) => `<span class="badge ${s === 'receiving' ? 'ok' : s === 'failed' ? 'bad' : s === 'retrying' || s === 'connecting' ? 'warn' : ''}">${esc(s)}</span>`;
          let head = '<thead><tr><th class="l">source / shard</th><th>state</th><th>records/s</th><th>bytes/s</th><th>records</th><th>paused</th><th>rate limit</th>';
          if (kinesis) head += '<th>position</th><th>behind</th>';
          head += '<th class="l">last error</th></tr></thead>';
          const rows = rs.map((r) => `<tr data-shard="${esc(r.source + '/' + r.shard)}"><td class="mono">${esc(r.source)} / ${esc(r.shard)}</td><td>${stateBadge(r.state)}</td>` +
            `<td>${fmtRate(r.records_per_s)}</td><td>${r.bytes_per_s == null ? '–' : fmtBytes(r.bytes_per_s) + '/s'}</td><td>${num(r.records)}</td>` +
            `<td>${r.paused ? '<span class="badge warn">paused</span>' : 'no'}</td><td>${r.rate_limit > 0 ? fmtRate(r.rate_limit) : 'none'}</td>` +
            (kinesis ? `<td class="mono" title="${esc(r.position)}">${esc(shortPos(r.position))}</td><td>${r.behind_ms == null ? '–' : fmtMs(r.behind_ms)}</td>` : '') +
            `<td class="err">${r.last_error ? esc(r.last_error) + ' <span class="legend">' + ago(r.last_error_at) + '</span>' : ''}</td></tr>`).join('');
          $('receivers').innerHTML = head + '<tbody>' + (rows || `<tr><td class="l" colspan="9">no receivers${status.job.sources.length ? ' (file sources are read at each batch)' : ''}</td></tr>`) + '</tbody>';
          const bad = status.job.sources.reduce((a, s) => a + s.bad_records, 0);
          const per = status.job.sources.map((s) => `${s.name} (${s.connector})`).join(', ');
          $('receivers-summary').textContent = `${rs.length} receiver${rs.length === 1 ? '' : 's'} · sources: ${per} · ${num(bad)} bad record${bad === 1 ? '' : 's'}`;
        }
        // Shown once the worker has held a lease (coordination = 'dynamodb'),
        // and kept when it holds none, so that losing them all is seen.
        let leasesSeen = false;
        function renderLeases() {
          const ls = status.leases || [];
          if (!ls.length && !leasesSeen) return;
          leasesSeen = true;
          $('leases-card').hidden = false;
          const head = '<thead><tr><th class="l">source / shard</th><th>counter</th><th>checkpoint</th><th>renewed</th><th>dropped in</th></tr></thead>';
          const rows = ls.map((l) => `<tr data-lease="${esc(l.source + '/' + l.shard)}"><td class="mono">${esc(l.source)} / ${esc(l.shard)}</td><td>${num(l.counter)}</td>` +
            `<td class="mono" title="${esc(l.checkpoint)}">${esc(shortPos(l.checkpoint))}</td><td>${fmtMs(l.renewed_ago_ms)} ago</td>` +
            `<td class="${l.drop_in_ms < 1000 ? 'very-late' : ''}">${l.drop_in_ms > 0 ? fmtMs(l.drop_in_ms) : 'now'}</td></tr>`).join('');
          $('leases').innerHTML = head + '<tbody>' + (rows || '<tr><td class="l" colspan="5">this worker holds no lease now</td></tr>') + '</tbody>';
          const first = ls[0];
          $('leases-summary').textContent = first ? `${ls.length} held by ${first.worker} · table ${first.table} · renewed every failover_time / 3` : 'none held';
        }
        function shortPos(p) { if (p == null) return '–'; return p.length > 18 ? '…' + p.slice(-16) : p; }

        function renderBatches() {
          const rows = recent(200).reverse().map((b) => {
            const late = b.processing_ms > intervalMs ? 'very-late' : b.processing_ms > intervalMs * 0.8 ? 'late' : '';
            const sel = (!follow && b.id === selected) || (follow && b.id === lastId) ? ' class="sel"' : '';
            return `<tr data-batch="${b.id}"${sel}><td class="mono">${b.id}</td><td>${clock(b.time)}</td><td>${num(b.records)}</td><td>${fmtRate(b.input_rate)}</td>` +
              `<td>${fmtMs(b.scheduling_delay_ms)}</td><td class="${late}">${fmtMs(b.processing_ms)}</td><td>${fmtMs(b.total_delay_ms)}</td>` +
              `<td>${b.lane}</td><td>${num(b.out_rows)}</td><td>${b.bad_records ? '<span class="badge bad">' + num(b.bad_records) + '</span>' : '0'}</td></tr>`;
          }).join('');
          $('batches').innerHTML = '<thead><tr><th class="l">batch</th><th>time</th><th>records</th><th>input rate</th><th>scheduling</th><th>processing</th><th>total delay</th><th>lane</th><th>rows out</th><th>bad</th></tr></thead><tbody>' + rows + '</tbody>';
        }

        function meter(used, budget) {
          const pct = budget > 0 ? Math.min(100, used / budget * 100) : 0;
          return `<div class="meter"><div style="width:${pct.toFixed(1)}%"></div></div>`;
        }

        function renderRuntime() {
          const r = status.runtime, c = r.last_commit;
          const kv = (k, v) => `<div class="k">${k}</div><div>${v}</div>`;
          $('runtime').innerHTML = '<div class="kv">' +
            kv('block store, memory', `${fmtBytes(r.block_store_memory_bytes)} of ${fmtBytes(r.memory_budget)}${meter(r.block_store_memory_bytes, r.memory_budget)}`) +
            kv('block store, disk', `${fmtBytes(r.block_store_disk_bytes)} of ${fmtBytes(r.disk_budget)}${meter(r.block_store_disk_bytes, r.disk_budget)}`) +
            kv('blocks held', num(r.block_store_blocks)) +
            kv('spilled / read back', `${num(r.blocks_spilled)} / ${num(r.blocks_read_back)} blocks`) +
            kv('receiver pauses', num(r.receiver_pauses) + (r.paused ? ' <span class="badge warn">paused now</span>' : '')) +
            kv('write-ahead log', r.wal_bytes == null ? 'none (no --checkpoint)' : `${fmtBytes(r.wal_bytes)} · ${num(r.wal_blocks)} blocks`) +
            kv('last checkpoint commit', c ? `batch ${c.id} (${clock(c.time)}) · ${ago(c.at)}` : (status.job.checkpoint ? 'none yet' : 'no checkpoint')) +
            kv('batches in flight', `${status.run.in_flight} of ${status.job.lanes} lane${status.job.lanes > 1 ? 's' : ''}`) +
            '</div>';
          const ts = r.tables;
          $('tables').innerHTML = '<thead><tr><th class="l">table</th><th>kind</th><th>rows</th><th>bytes</th><th>as of</th></tr></thead><tbody>' +
            (ts.map((t) => `<tr><td class="mono">${esc(t.name)}</td><td>${t.kind === 'window' ? 'window' : 'state'}</td><td>${t.rows_exact ? '' : '≈ '}${num(t.rows)}</td>` +
              `<td>${t.bytes == null ? '–' : fmtBytes(t.bytes)}</td><td>${ago(t.sampled_at)}</td></tr>`).join('') ||
              '<tr><td class="l" colspan="5">the job has no state tables or windows</td></tr>') + '</tbody>';
          $('tables-summary').textContent = ts.length ? 'window rows are exact after each batch; sizes are sampled every few seconds' : '';
        }

        function showJob(job) {
          $('job-text').innerHTML = job.text.split('\n').map((l, i) => `<span class="ln">${i + 1}</span>${esc(l)}`).join('\n');
          $('job-plan').textContent = job.plan;
        }

        document.querySelectorAll('.tab').forEach((t) => t.addEventListener('click', () => {
          document.querySelectorAll('.tab').forEach((o) => o.classList.toggle('on', o === t));
          $('job-text').classList.toggle('hidden', t.dataset.tab !== 'text');
          $('job-plan').classList.toggle('hidden', t.dataset.tab !== 'plan');
        }));
        $('batches').addEventListener('click', (e) => { const tr = e.target.closest('tr[data-batch]'); if (tr) select(+tr.dataset.batch); });
        const tip = $('tip');
        for (const s of SERIES) {
          const el = $('chart-' + s.id);
          el.addEventListener('click', (e) => { const id = e.target.dataset && e.target.dataset.batch; if (id) select(+id); });
          el.addEventListener('mousemove', (e) => {
            const id = e.target.dataset && e.target.dataset.batch;
            if (!id) { tip.style.display = 'none'; return; }
            const b = batches.find((x) => x.id === +id);
            if (!b) return;
            tip.innerHTML = `batch ${b.id} · ${clock(b.time)}<br><b>${s.fmt(b[s.key])}</b><br>${num(b.records)} records`;
            tip.style.display = 'block';
            tip.style.left = Math.min(window.innerWidth - 180, e.clientX + 12) + 'px';
            tip.style.top = (e.clientY + 12) + 'px';
          });
          el.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
        }
        let resizeTimer = null;
        window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => status && renderCharts(), 150); });
        poll();
        """#

    /// The token form's script: checks the token by loading the page with
    /// it, and keeps it for this tab only.
    static let login = #"""
        document.getElementById('f').addEventListener('submit', async (e) => {
          e.preventDefault();
          const t = document.getElementById('t').value.trim();
          const r = await fetch('/', { headers: { Authorization: 'Bearer ' + t }, cache: 'no-store' });
          if (!r.ok) { document.getElementById('e').textContent = 'That token was refused (HTTP ' + r.status + ').'; return; }
          sessionStorage.setItem('eddy-token', t);
          const html = await r.text();
          document.open(); document.write(html); document.close();
        });
        """#
}
