/**
 * The diagnosis as an SVG plot: each compared tensor's MAE and max abs error against its depth (node
 * position in topological order), on a log scale; the two tolerances as dashed lines; the first
 * divergence marked and named. A hand-written SVG string: no plotting dependency, and the same
 * diagnosis always gives the same bytes. An error of zero (or below the bottom decade) is drawn on the
 * bottom edge, labelled `≤1e-k`.
 *
 * Must not: compute errors or judge them (diagnosis.ts).
 */
import type { Diagnosis } from './diagnosis';

const WIDTH = 880;
const HEIGHT = 400;
const MARGIN = { left: 72, right: 24, top: 44, bottom: 52 } as const;
const MAE_COLOUR = '#1f77b4';
const MAX_COLOUR = '#ff7f0e';
const DIVERGENCE_COLOUR = '#d62728';

export function errorPlotSvg(d: Diagnosis): string {
  const xs = d.tensors.map((t) => t.depth);
  const xMax = Math.max(1, ...xs);
  const positive = d.tensors.flatMap((t) => [t.mae, t.maxAbs]).filter((v) => v > 0 && Number.isFinite(v));
  const lowDecade = Math.floor(Math.log10(Math.min(d.tolerances.mae, d.tolerances.maxAbs, ...positive))) - 1;
  const highDecade = Math.max(lowDecade + 2, Math.ceil(Math.log10(Math.max(d.tolerances.maxAbs, ...positive))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (depth: number): number => MARGIN.left + (depth / xMax) * plotW;
  const y = (v: number): number => {
    const decade = v > 0 && Number.isFinite(v) ? Math.max(lowDecade, Math.log10(v)) : lowDecade;
    return MARGIN.top + plotH - ((Math.min(decade, highDecade) - lowDecade) / (highDecade - lowDecade)) * plotH;
  };
  const f = (n: number): string => n.toFixed(1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="14">${escape(title(d))}</text>`,
  );
  // Axes, decades, depth ticks.
  for (let k = lowDecade; k <= highDecade; k++) {
    const yy = f(y(10 ** k));
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${k === lowDecade ? `≤1e${k}` : `1e${k}`}</text>`,
    );
  }
  const step = niceStep(xMax);
  for (let t = 0; t <= xMax; t += step) {
    parts.push(
      `<text x="${f(x(t))}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${t}</text>`,
      `<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${HEIGHT - MARGIN.bottom}" y2="${HEIGHT - MARGIN.bottom + 4}" stroke="black"/>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="black"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">depth (node in topological order)</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">error vs baseline (log)</text>`,
  );
  // Tolerances.
  for (const [value, colour, label] of [
    [d.tolerances.mae, MAE_COLOUR, `MAE tolerance ${d.tolerances.mae}`],
    [d.tolerances.maxAbs, MAX_COLOUR, `max abs tolerance ${d.tolerances.maxAbs}`],
  ] as const) {
    const yy = f(y(value));
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${yy}" y2="${yy}" stroke="${colour}" stroke-dasharray="6 4"/>`,
      `<text x="${WIDTH - MARGIN.right - 4}" y="${Number(yy) - 4}" text-anchor="end" fill="${colour}">${escape(label)}</text>`,
    );
  }
  // The series.
  for (const [key, colour] of [
    ['maxAbs', MAX_COLOUR],
    ['mae', MAE_COLOUR],
  ] as const) {
    const points = d.tensors.map((t) => `${f(x(t.depth))},${f(y(t[key]))}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="1.2" opacity="0.8"/>`);
    for (const t of d.tensors)
      parts.push(`<circle cx="${f(x(t.depth))}" cy="${f(y(t[key]))}" r="2" fill="${colour}"/>`);
  }
  // The first divergence.
  const first = d.firstDivergence;
  if (first !== undefined) {
    const xx = f(x(first.depth));
    const anchor = first.depth > xMax / 2 ? 'end' : 'start';
    parts.push(
      `<line x1="${xx}" x2="${xx}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}" stroke="${DIVERGENCE_COLOUR}" stroke-width="1.5"/>`,
      `<text x="${Number(xx) + (anchor === 'start' ? 6 : -6)}" y="${MARGIN.top + 16}" text-anchor="${anchor}" fill="${DIVERGENCE_COLOUR}">${escape(
        `first divergence: ${first.modulePath || first.node} (${first.op}, depth ${first.depth})`,
      )}</text>`,
    );
  }
  // Legend, below the plot on the right (the divergence label takes the plot's top left corner).
  const lx = WIDTH - MARGIN.right - 130;
  parts.push(
    `<circle cx="${lx}" cy="${HEIGHT - 16}" r="3" fill="${MAE_COLOUR}"/>`,
    `<text x="${lx + 8}" y="${HEIGHT - 12}">MAE</text>`,
    `<circle cx="${lx + 50}" cy="${HEIGHT - 16}" r="3" fill="${MAX_COLOUR}"/>`,
    `<text x="${lx + 58}" y="${HEIGHT - 12}">max abs</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

function title(d: Diagnosis): string {
  const base = d.baseline.split('/').at(-1) ?? d.baseline;
  const cand = d.candidate.split('/').at(-1) ?? d.candidate;
  return `${cand} vs ${base} (${d.baselineKind}): ${d.tensors.length} tensors, ${d.cases.length} case(s)`;
}

/** 1, 2 or 5 × 10^k, about 8 ticks. */
function niceStep(max: number): number {
  const raw = max / 8;
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return Math.max(1, m * p);
  return Math.max(1, 10 * p);
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
