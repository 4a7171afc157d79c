// Turns the runs of a benchmark into figures: medians, min–max, ratios to ws and the targets,
// as a Markdown table (printed, and saved for BENCHMARKS.md).

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function fmt(n) {
  if (!Number.isFinite(n)) return '—';
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (Math.abs(n) >= 100) return String(Math.round(n));
  return n.toFixed(2);
}

/** "median (min–max)" of one implementation's runs, plus the failed-run count if any. */
function cell(runs) {
  const values = runs.map((r) => r.value).filter(Number.isFinite);
  const failed = runs.length - values.length;
  if (values.length === 0) return `failed ×${failed}`;
  const m = fmt(median(values));
  const range = values.length > 1 ? ` (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})` : '';
  return `${m}${range}${failed ? ` [${failed} failed]` : ''}`;
}

/** sockwave's median over `other`'s median; NaN if either is missing. */
export function ratio(results, scenario, other) {
  const s = median((results.sockwave ?? []).map((r) => r.value));
  const o = median((results[other] ?? []).map((r) => r.value));
  return o > 0 ? s / o : NaN;
}

/**
 * The same ratio per CPU-second of the tested process (median of value ÷ its CPU use): less swayed
 * when other work on the machine takes the core away. NaN for the memory figure.
 */
export function ratioPerCpu(results, scenario, other) {
  if (scenario.better === 'lower') return NaN;
  const perCpu = (runs = []) => median(runs.filter((r) => r.srvCpu > 0.05).map((r) => r.value / r.srvCpu));
  const o = perCpu(results[other]);
  return o > 0 ? perCpu(results.sockwave) / o : NaN;
}

function meets(scenario, r) {
  if (!Number.isFinite(r)) return null;
  return scenario.better === 'lower' ? r <= scenario.target : r >= scenario.target;
}

/** The verdict against both ws variants: yes only if the target holds against each. */
export function verdict(scenario, results) {
  if (scenario.target == null) return { text: '(no target)', met: null };
  const checks = ['ws', 'ws-nobu'].filter((id) => results[id]).map((id) => meets(scenario, ratio(results, scenario, id)));
  if (checks.length === 0 || checks.some((c) => c === null)) return { text: 'n/a', met: null };
  const met = checks.every(Boolean);
  return { text: met ? 'yes' : 'NO', met };
}

function targetText(scenario) {
  if (scenario.target == null) return '—';
  const x = scenario.name.startsWith('client64k') ? '≥ 1× (ws with bufferutil)' : `${scenario.better === 'lower' ? '≤' : '≥'} ${scenario.target}×`;
  return x;
}

const ratioText = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '—');
/** A ratio checked against a target: three decimals when two would round it onto the bar. */
const checkedRatioText = (r, scenario) =>
  Number.isFinite(r) && scenario.target != null && r.toFixed(2) === scenario.target.toFixed(2) && r !== scenario.target ? `${r.toFixed(3)}×` : ratioText(r);

/**
 * The results table. `all` maps scenario name -> { implId: [{ value, srvCpu, genCpu }] }.
 */
export function resultsTable(scenarios, all) {
  const lines = [
    '| scenario | unit | sockwave | ws | ws, no bufferutil | sockwave ÷ ws | sockwave ÷ ws (no bu) | target | met | per CPU-s: ÷ ws, ÷ ws (no bu) | floor (minimal server) | sockwave ÷ floor |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const s of scenarios) {
    const results = all[s.name];
    if (!results) continue;
    const v = verdict(s, results);
    lines.push(
      `| ${s.title} | ${s.unit} | ${cell(results.sockwave ?? [])} | ${cell(results.ws ?? [])} | ${cell(results['ws-nobu'] ?? [])} | ` +
        `${checkedRatioText(ratio(results, s, 'ws'), s)} | ${checkedRatioText(ratio(results, s, 'ws-nobu'), s)} | ${targetText(s)} | ${v.text} | ` +
        `${ratioText(ratioPerCpu(results, s, 'ws'))}, ${ratioText(ratioPerCpu(results, s, 'ws-nobu'))} | ` +
        `${results.floor ? cell(results.floor) : '—'} | ${ratioText(ratio(results, s, 'floor'))} |`,
    );
  }
  return lines.join('\n');
}

/** Median CPU use (cores) of the tested process, of its peer, and of the rest of the machine. */
export function cpuTable(scenarios, all) {
  const lines = [
    '| scenario | sockwave | ws | ws, no bufferutil | floor |',
    '| --- | --- | --- | --- | --- |',
  ];
  const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
  const pair = (runs = []) =>
    `${f(median(runs.map((r) => r.srvCpu)))} / ${f(median(runs.map((r) => r.genCpu)))} / ${f(median(runs.map((r) => r.others)))}`;
  for (const s of scenarios) {
    const results = all[s.name];
    if (!results || s.name === 'idle') continue;
    lines.push(`| ${s.title} | ${pair(results.sockwave)} | ${pair(results.ws)} | ${pair(results['ws-nobu'])} | ${results.floor ? pair(results.floor) : '—'} |`);
  }
  return lines.join('\n');
}

/**
 * sockwave ÷ ws and ÷ ws without bufferutil round by round, with their median. The runs of one
 * round follow each other, so a pair shares the machine's speed of the moment, which the medians
 * of each implementation do not: when the machine slows for a while (it did, on this VM, for whole
 * rounds), the per-round ratios stay put. The verdict stays on the ratio of medians.
 */
export function roundsTable(scenarios, all) {
  const lines = ['| scenario | sockwave ÷ ws by round (median) | sockwave ÷ ws (no bu) by round (median) |', '| --- | --- | --- |'];
  const perRound = (results, other) => {
    const ours = results.sockwave ?? [];
    const theirs = results[other] ?? [];
    const ratios = ours.map((run, i) => (theirs[i]?.value > 0 ? run.value / theirs[i].value : NaN));
    const shown = ratios.map((r) => (Number.isFinite(r) ? r.toFixed(2) : '—')).join(', ');
    return ratios.length ? `${shown} (${ratioText(median(ratios))})` : '—';
  };
  for (const s of scenarios) {
    const results = all[s.name];
    if (!results) continue;
    lines.push(`| ${s.title} | ${perRound(results, 'ws')} | ${perRound(results, 'ws-nobu')} |`);
  }
  return lines.join('\n');
}
