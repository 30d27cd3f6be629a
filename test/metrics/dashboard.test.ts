// The Grafana dashboard only queries metrics Tessera exports: every metric name in every PromQL
// expression (panels and template variables) is checked against a live server's /metrics.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { exampleRepository, infer, rawRequest, startTestServer } from '../helpers/server.js';

const DASHBOARD = new URL('../../deploy/grafana/tessera.json', import.meta.url);

/** PromQL words that are not metric names. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range durations
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // grouping labels
  const names: string[] = [];
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] !== undefined || KEYWORDS.has(m[1])) continue; // a function call or a keyword
    names.push(m[1]);
  }
  return names;
}

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

t.test('metricNames reads PromQL', async (t) => {
  t.same(metricNames('histogram_quantile(0.99, sum by (le, model) (rate(a_bucket{model=~"$model"}[5m])))'), ['a_bucket']);
  t.same(metricNames('sum by (m) (rate(x_total{}[1m])) / sum by (m) (rate(y_total[1m]))'), ['x_total', 'y_total']);
});

t.test('every metric the Grafana dashboard queries is one Tessera exports', async (t) => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: Panel[];
    templating: { list: { query?: string | { query: string } }[] };
  };
  const server = await startTestServer(t, { folder: exampleRepository(t, ['iris']) });
  t.equal((await infer(server, 'iris', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] })).status, 200);
  const text = (await rawRequest(`${server.metricsUrl}/metrics`)).text;
  // Families from # TYPE lines; histograms and summaries also expose _bucket, _sum and _count.
  const exported = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exported.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) exported.add(name + s);
  }

  const queried = new Map<string, string>();
  for (const panel of dashboard.panels) {
    t.ok((panel.targets ?? []).length > 0, `panel '${panel.title}' has queries`);
    for (const target of panel.targets ?? []) for (const name of metricNames(target.expr)) queried.set(name, panel.title);
  }
  for (const v of dashboard.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = q === undefined ? null : /label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(q);
    if (m !== null) queried.set(m[1], 'template variable');
  }
  t.ok(queried.size >= 12, `the dashboard queries ${queried.size} metrics`);
  for (const [name, where] of queried) t.ok(exported.has(name), `${name} (${where}) is exported`);

  const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
  for (const topic of ['request rate', 'p50 / p99', 'queue', 'batch size', 'failures', 'pending']) {
    t.ok(titles.includes(topic), `a panel about ${topic}`);
  }
});
