/// The page at `/`: one self-contained HTML document, its style and script
/// inline, so nothing is fetched from anywhere but this eddy. The charts are
/// SVG drawn by the page's own script (PageScript.swift); the style is in
/// PageStyle.swift.
enum MonitorPage {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>eddy monitor</title>
        <link rel="icon" href="/favicon.ico" type="image/svg+xml">
        <style>\(PageStyle.css)</style>
        </head>
        <body>
        \(body)
        <script>\(PageScript.js)</script>
        </body>
        </html>
        """

    private static let body = #"""
        <header class="top">
          <div class="brand"><span class="logo">◖◗</span> eddy</div>
          <div class="job" id="job-path">…</div>
          <div class="pills">
            <span class="pill" id="phase">connecting</span>
            <span class="pill" id="live"><span class="dot"></span><span id="live-text">connecting</span></span>
          </div>
        </header>
        <main>
          <section class="kpis" id="kpis"></section>

          <section class="card">
            <div class="card-head">
              <h2>Batches over time</h2>
              <div class="legend" id="chart-legend">each point is a batch · dashed line: the batch interval · bars: how often each value came</div>
            </div>
            <div class="chart-row"><div class="chart-title"><span class="swatch c-input"></span>Input rate <b id="avg-input"></b></div>
              <svg id="chart-input" class="timeline"></svg>
              <svg id="hist-input" class="histogram"></svg></div>
            <div class="chart-row"><div class="chart-title"><span class="swatch c-sched"></span>Scheduling delay <b id="avg-sched"></b></div>
              <svg id="chart-sched" class="timeline"></svg>
              <svg id="hist-sched" class="histogram"></svg></div>
            <div class="chart-row"><div class="chart-title"><span class="swatch c-proc"></span>Processing time <b id="avg-proc"></b></div>
              <svg id="chart-proc" class="timeline"></svg>
              <svg id="hist-proc" class="histogram"></svg></div>
            <div class="chart-row"><div class="chart-title"><span class="swatch c-total"></span>Total delay <b id="avg-total"></b></div>
              <svg id="chart-total" class="timeline"></svg>
              <svg id="hist-total" class="histogram"></svg></div>
          </section>

          <div class="two">
            <section class="card">
              <div class="card-head"><h2>Batch <span id="detail-id"></span></h2><div class="legend" id="detail-summary"></div></div>
              <div class="table-wrap"><table class="steps" id="detail-steps"></table></div>
            </section>
            <section class="card">
              <div class="card-head"><h2>Where the time goes</h2><div class="legend" id="share-summary"></div></div>
              <div class="table-wrap"><table class="steps" id="share-steps"></table></div>
            </section>
          </div>

          <section class="card">
            <div class="card-head"><h2>Receivers</h2><div class="legend" id="receivers-summary"></div></div>
            <div class="table-wrap"><table id="receivers"></table></div>
          </section>

          <section class="card" id="leases-card" hidden>
            <div class="card-head"><h2>Leases</h2><div class="legend" id="leases-summary"></div></div>
            <div class="table-wrap"><table id="leases"></table></div>
          </section>

          <section class="card">
            <div class="card-head"><h2>Recent batches</h2><div class="legend">newest first · click a batch for its steps</div></div>
            <div class="table-wrap tall"><table id="batches" class="clickable"></table></div>
          </section>

          <div class="two">
            <section class="card">
              <div class="card-head"><h2>Runtime</h2><div class="legend" id="runtime-summary"></div></div>
              <div id="runtime"></div>
            </section>
            <section class="card">
              <div class="card-head"><h2>State and windows</h2><div class="legend" id="tables-summary"></div></div>
              <div class="table-wrap"><table id="tables"></table></div>
            </section>
          </div>

          <section class="card">
            <div class="card-head"><h2>Job</h2>
              <div class="tabs"><button class="tab on" data-tab="text">job file</button><button class="tab" data-tab="plan">plan</button></div>
            </div>
            <pre class="code" id="job-text"></pre>
            <pre class="code hidden" id="job-plan"></pre>
          </section>
        </main>
        <footer>eddy · <a href="/metrics">/metrics</a> · <a href="/api/status">/api/status</a> · <a href="/api/batches">/api/batches</a></footer>
        <div class="tip" id="tip"></div>
        """#

    /// Answered to `/` without the token: a form that keeps the token in the
    /// tab's session storage and loads the page with it. It holds nothing of
    /// the job.
    static let login = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>eddy monitor: token</title><style>\(PageStyle.css)</style></head>
        <body class="login"><form id="f" class="card"><h2>eddy monitor</h2>
        <p>This monitor was started with <code>--ui-token</code>. Enter the token:</p>
        <input id="t" type="password" autocomplete="current-password" autofocus>
        <button type="submit">Open</button><p class="err" id="e"></p></form>
        <script>\(PageScript.login)</script></body></html>
        """

    static let icon = #"""
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="15" fill="#0d1117"/><path d="M6 18c4-8 10-8 14-3s8 2 6-4" stroke="#2dd4bf" stroke-width="3" fill="none" stroke-linecap="round"/><path d="M6 24c4-5 9-5 12-2s7 2 8-1" stroke="#a78bfa" stroke-width="2.5" fill="none" stroke-linecap="round"/></svg>
        """#
}
