/// The page's style: dark by default, light when the system asks for it; one
/// column on a phone, a wide grid on a laptop.
enum PageStyle {
    static let css = #"""
        :root {
          --bg: #0b0f14; --card: #121821; --card2: #161e29; --line: #243042; --text: #e6edf3; --muted: #8b98a9;
          --input: #2dd4bf; --sched: #f59e0b; --proc: #a78bfa; --total: #fb7185; --ok: #34d399; --warn: #fbbf24; --bad: #f87171;
          --limit: #cbd5e1;
          --glass: rgba(11, 15, 20, .88); --ok-edge: rgba(52, 211, 153, .5); --ok-glow: rgba(52, 211, 153, .6);
          --input-edge: rgba(45, 212, 191, .45); --proc-edge: rgba(167, 139, 250, .45);
          --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
        }
        @media (prefers-color-scheme: light) {
          :root { --bg: #f5f7fa; --card: #ffffff; --card2: #f0f3f7; --line: #d8dee6; --text: #1b2430; --muted: #5d6b7c;
                  --input: #0d9488; --sched: #d97706; --proc: #7c3aed; --total: #e11d48; --limit: #475569;
                  --glass: rgba(245, 247, 250, .88); --input-edge: rgba(13, 148, 136, .45); --proc-edge: rgba(124, 58, 237, .45); }
        }
        * { box-sizing: border-box; }
        html, body { margin: 0; background: var(--bg); color: var(--text);
          font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
        a { color: var(--input); }
        header.top { position: sticky; top: 0; z-index: 5; display: flex; align-items: center; gap: 16px; padding: 10px 20px;
          background: var(--glass); backdrop-filter: blur(8px); border-bottom: 1px solid var(--line); }
        .brand { font-weight: 700; font-size: 18px; letter-spacing: .3px; white-space: nowrap; }
        .logo { color: var(--input); }
        .job { color: var(--muted); font-family: var(--mono); font-size: 13px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1; }
        .pills { display: flex; gap: 8px; }
        .pill { border: 1px solid var(--line); border-radius: 999px; padding: 2px 10px; font-size: 12px; color: var(--muted); white-space: nowrap; }
        .pill.running { color: var(--ok); border-color: var(--ok-edge); }
        .pill.stopping, .pill.starting { color: var(--warn); }
        .pill.failed { color: var(--bad); }
        .dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; background: var(--muted); margin-right: 6px; vertical-align: 0; }
        .live .dot { background: var(--ok); box-shadow: 0 0 0 0 var(--ok); animation: pulse 2s infinite; }
        .down .dot { background: var(--bad); }
        @keyframes pulse { 0% { box-shadow: 0 0 0 0 var(--ok-glow); } 70% { box-shadow: 0 0 0 7px transparent; } 100% { box-shadow: 0 0 0 0 transparent; } }
        main { padding: 16px 20px 8px; max-width: 1500px; margin: 0 auto; }
        .kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 16px; }
        .kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
        .kpi .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
        .kpi .v { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; margin-top: 2px; }
        .kpi .s { color: var(--muted); font-size: 12px; }
        .kpi.warn .v { color: var(--warn); } .kpi.bad .v { color: var(--bad); }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 14px 16px; margin-bottom: 16px; min-width: 0; }
        .card-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; flex-wrap: wrap; margin-bottom: 8px; }
        h2 { font-size: 15px; margin: 0; font-weight: 650; }
        .legend { color: var(--muted); font-size: 12px; }
        .two { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
        .two > .card { margin-bottom: 16px; }
        .chart-row { display: grid; grid-template-columns: 150px minmax(0, 1fr) minmax(0, 240px); gap: 10px; align-items: center;
          border-top: 1px solid var(--line); padding: 6px 0; }
        .chart-row:first-of-type { border-top: 0; }
        .chart-title { font-size: 13px; color: var(--muted); }
        .chart-title b { display: block; color: var(--text); font-size: 18px; font-variant-numeric: tabular-nums; }
        .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 6px; }
        .c-input { background: var(--input); } .c-sched { background: var(--sched); } .c-proc { background: var(--proc); } .c-total { background: var(--total); }
        svg.timeline, svg.histogram { width: 100%; height: 170px; display: block; overflow: visible; }
        svg .grid { stroke: var(--line); stroke-width: 1; vector-effect: non-scaling-stroke; }
        svg .axis { fill: var(--muted); font-size: 11px; }
        svg .limit { stroke: var(--limit); stroke-width: 1.2; stroke-dasharray: 5 4; vector-effect: non-scaling-stroke; }
        svg .limit-label { fill: var(--limit); font-size: 11px; }
        svg .line { fill: none; stroke-width: 1.8; vector-effect: non-scaling-stroke; stroke-linejoin: round; }
        svg .area { opacity: .14; }
        svg .pt { cursor: pointer; }
        svg .pt.sel { stroke: var(--text); stroke-width: 2; }
        svg .bar { opacity: .75; }
        svg .empty { fill: var(--muted); font-size: 13px; }
        .table-wrap { overflow-x: auto; }
        .table-wrap.tall { max-height: 420px; overflow-y: auto; }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        th, td { text-align: right; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
        th { color: var(--muted); font-weight: 550; font-size: 12px; position: sticky; top: 0; background: var(--card); }
        th:first-child, td:first-child, td.l, th.l { text-align: left; }
        table.clickable tbody tr { cursor: pointer; }
        table.clickable tbody tr:hover, tr.sel { background: var(--card2); }
        tr.sel td:first-child { box-shadow: inset 3px 0 0 var(--proc); }
        td.mono, .mono { font-family: var(--mono); font-size: 12.5px; }
        td.sql { text-align: left; white-space: normal; min-width: 220px; font-family: var(--mono); font-size: 12.5px; }
        td.sql .at { color: var(--muted); }
        .badge { display: inline-block; border-radius: 6px; padding: 0 7px; font-size: 11.5px; border: 1px solid var(--line); color: var(--muted); }
        .badge.lane { color: var(--input); border-color: var(--input-edge); }
        .badge.order { color: var(--proc); border-color: var(--proc-edge); }
        .badge.ok { color: var(--ok); } .badge.warn { color: var(--warn); } .badge.bad { color: var(--bad); }
        .barcell { width: 28%; min-width: 90px; }
        .hbar { height: 8px; border-radius: 4px; background: var(--proc); min-width: 2px; }
        .late { color: var(--warn); } .very-late { color: var(--bad); }
        .err { color: var(--bad); white-space: normal; text-align: left; max-width: 360px; }
        .kv { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 6px 16px; align-items: center; }
        .kv .k { color: var(--muted); }
        .meter { height: 8px; border-radius: 4px; background: var(--card2); overflow: hidden; margin-top: 3px; }
        .meter > div { height: 100%; background: var(--input); }
        .tabs { display: flex; gap: 4px; }
        .tab { background: var(--card2); color: var(--muted); border: 1px solid var(--line); border-radius: 7px; padding: 3px 10px; cursor: pointer; font: inherit; font-size: 12px; }
        .tab.on { color: var(--text); border-color: var(--proc); }
        pre.code { margin: 0; background: var(--card2); border-radius: 8px; padding: 12px; overflow: auto; max-height: 460px;
          font-family: var(--mono); font-size: 12.5px; line-height: 1.5; counter-reset: ln; }
        pre.code .ln { display: inline-block; width: 3.2em; color: var(--muted); user-select: none; text-align: right; margin-right: 1em; opacity: .6; }
        .hidden { display: none; }
        footer { color: var(--muted); font-size: 12px; text-align: center; padding: 8px 0 24px; }
        .tip { position: fixed; pointer-events: none; background: var(--card2); border: 1px solid var(--line); border-radius: 8px;
          padding: 6px 9px; font-size: 12px; display: none; z-index: 10; box-shadow: 0 6px 24px rgba(0,0,0,.35); }
        body.login { display: grid; place-items: center; min-height: 100vh; }
        body.login form { width: min(380px, 92vw); display: grid; gap: 10px; }
        body.login input, body.login button { font: inherit; padding: 8px 10px; border-radius: 8px; border: 1px solid var(--line); background: var(--card2); color: var(--text); }
        body.login button { background: var(--proc); color: #fff; border: 0; cursor: pointer; }
        /* Side by side, the step tables need about 680px each, or their last columns scroll out of sight. */
        @media (max-width: 1440px) {
          .two { grid-template-columns: minmax(0, 1fr); }
        }
        @media (max-width: 1000px) {
          .chart-row { grid-template-columns: minmax(0, 1fr) minmax(0, 30%); }
          .chart-title { grid-column: 1 / -1; }
          .chart-title b { display: inline; margin-left: 8px; font-size: 15px; }
        }
        @media (max-width: 600px) {
          main { padding: 10px 8px; }
          header.top { padding: 8px 10px; gap: 8px; flex-wrap: wrap; }
          .job { order: 3; flex-basis: 100%; }
          .kpis { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; }
          .kpi .v { font-size: 18px; }
          .card { padding: 10px; border-radius: 10px; }
          svg.timeline, svg.histogram { height: 130px; }
        }
        """#
}
