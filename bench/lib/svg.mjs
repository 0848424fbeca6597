// Minimal SVG charts for the bench results, written by hand (no chart library).

const FONT = 'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"';
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

export const COLORS = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#4b5563', '#db2777'];

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const tickLabel = (v) => (v >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : v >= 1e4 ? `${+(v / 1e3).toFixed(0)}k` : v >= 1e3 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toFixed(2)}`);

/**
 * Horizontal bars with whiskers, in labelled groups.
 *   groups: [{ label, bars: [{ label, value, lo, hi, color, text }] }]
 * A bar with value null is drawn as a dashed empty row with its `text` (e.g. "not yet available").
 * `log`: logarithmic axis (for values spanning decades).
 */
export function barChart({ title, subtitle = '', unit = '', groups, log = false, width = 960, labelWidth = 300, textWidth = 190 }) {
  const rowH = 22;
  const groupGap = 10;
  const top = subtitle ? 62 : 44;
  const plotX = labelWidth;
  // textWidth: room right of the plot for the text after the longest bar.
  const plotW = width - labelWidth - textWidth;
  const all = groups.flatMap((g) => g.bars).filter((b) => b.value != null);
  const maxV = niceMax(Math.max(...all.map((b) => b.hi ?? b.value), 0));
  const minPos = Math.min(...all.map((b) => b.lo ?? b.value).filter((v) => v > 0), maxV);
  const logMin = 10 ** Math.floor(Math.log10(minPos || 1));
  const logMax = 10 ** Math.ceil(Math.log10(maxV || 1));
  const x = (v) => {
    if (v == null) return plotX;
    if (log) {
      const c = Math.max(v, logMin);
      return plotX + (Math.log10(c / logMin) / Math.log10(logMax / logMin || 10)) * plotW;
    }
    return plotX + (v / maxV) * plotW;
  };
  let y = top + 18;
  const body = [];
  for (const g of groups) {
    body.push(`<text x="8" y="${y + 4}" font-size="13" font-weight="600" ${FONT}>${esc(g.label)}</text>`);
    y += rowH - 4;
    for (const [i, b] of g.bars.entries()) {
      const color = b.color ?? COLORS[i % COLORS.length];
      body.push(`<text x="${plotX - 8}" y="${y + 14}" font-size="12" text-anchor="end" ${FONT}>${esc(b.label)}</text>`);
      if (b.value == null) {
        body.push(`<rect x="${plotX}" y="${y + 3}" width="${plotW * 0.35}" height="${rowH - 8}" fill="none" stroke="#9ca3af" stroke-dasharray="4 3"/>`);
        body.push(`<text x="${plotX + 6}" y="${y + 14}" font-size="11" fill="#6b7280" ${FONT}>${esc(b.text ?? 'n/a')}</text>`);
      } else {
        body.push(`<rect x="${plotX}" y="${y + 3}" width="${Math.max(1, x(b.value) - plotX)}" height="${rowH - 8}" fill="${color}" opacity="0.85"/>`);
        if (b.lo != null && b.hi != null) {
          const cy = y + rowH / 2;
          body.push(
            `<path d="M${x(b.lo)} ${cy}H${x(b.hi)}M${x(b.lo)} ${cy - 5}V${cy + 5}M${x(b.hi)} ${cy - 5}V${cy + 5}" stroke="#111827" stroke-width="1.2" fill="none"/>`,
          );
        }
        const tx = Math.max(x(b.value), b.hi != null ? x(b.hi) : 0) + 6;
        body.push(`<text x="${tx}" y="${y + 14}" font-size="11" ${FONT}>${esc(b.text ?? `${tickLabel(b.value)} ${unit}`)}</text>`);
      }
      y += rowH;
    }
    y += groupGap;
  }
  const height = y + 30;
  const ticks = [];
  const tickValues = log
    ? Array.from({ length: Math.round(Math.log10(logMax / logMin)) + 1 }, (_, i) => logMin * 10 ** i)
    : Array.from({ length: 6 }, (_, i) => (maxV * i) / 5);
  for (const v of tickValues) {
    const tx = x(v);
    ticks.push(`<line x1="${tx}" y1="${top}" x2="${tx}" y2="${y - groupGap}" stroke="#e5e7eb"/>`);
    ticks.push(`<text x="${tx}" y="${y + 4}" font-size="10" text-anchor="middle" fill="#6b7280" ${FONT}>${tickLabel(v)}</text>`);
  }
  return svgDoc(width, height, [
    `<text x="8" y="22" font-size="16" font-weight="700" ${FONT}>${esc(title)}</text>`,
    subtitle ? `<text x="8" y="42" font-size="11" fill="#4b5563" ${FONT}>${esc(subtitle)}</text>` : '',
    ...ticks,
    ...body,
    `<text x="${plotX + plotW / 2}" y="${y + 20}" font-size="11" text-anchor="middle" fill="#374151" ${FONT}>${esc(unit)}${log ? ' (log scale)' : ''}; bar = median over rounds, whisker = min-max</text>`,
  ]);
}

/**
 * One row per target, each on its own scale: the measured median with its min-max whisker and a
 * vertical mark at the threshold. Green when met, red when not, grey when not measured.
 *   rows: [{ label, value: { median, min, max } | null, threshold, op, status, text }]
 */
export function targetChart({ title, subtitle = '', rows, width = 1290, labelWidth = 610 }) {
  const rowH = 26;
  const top = subtitle ? 62 : 44;
  const plotX = labelWidth;
  const plotW = width - labelWidth - 230;
  const body = [];
  let y = top + 6;
  for (const r of rows) {
    body.push(`<text x="${plotX - 8}" y="${y + 17}" font-size="12" text-anchor="end" ${FONT}>${esc(r.label)}</text>`);
    const color = r.status === 'PASS' ? '#16a34a' : r.status === 'FAIL' ? '#dc2626' : '#9ca3af';
    if (r.value == null) {
      body.push(`<rect x="${plotX}" y="${y + 5}" width="${plotW}" height="${rowH - 10}" fill="none" stroke="#9ca3af" stroke-dasharray="4 3"/>`);
      body.push(`<text x="${plotX + 6}" y="${y + 17}" font-size="11" fill="#6b7280" ${FONT}>${esc(r.text ?? 'not measured')}</text>`);
    } else {
      const scaleMax = Math.max(r.value.max ?? r.value.median, r.threshold) * 1.25;
      const x = (v) => plotX + (Math.max(0, v) / scaleMax) * plotW;
      body.push(`<rect x="${plotX}" y="${y + 5}" width="${plotW}" height="${rowH - 10}" fill="#f3f4f6"/>`);
      body.push(`<rect x="${plotX}" y="${y + 5}" width="${Math.max(1, x(r.value.median) - plotX)}" height="${rowH - 10}" fill="${color}" opacity="0.8"/>`);
      const cy = y + rowH / 2;
      body.push(
        `<path d="M${x(r.value.min)} ${cy}H${x(r.value.max)}M${x(r.value.min)} ${cy - 5}V${cy + 5}M${x(r.value.max)} ${cy - 5}V${cy + 5}" stroke="#111827" stroke-width="1.2" fill="none"/>`,
      );
      body.push(`<line x1="${x(r.threshold)}" y1="${y + 1}" x2="${x(r.threshold)}" y2="${y + rowH - 1}" stroke="#111827" stroke-width="2" stroke-dasharray="3 2"/>`);
    }
    body.push(`<text x="${plotX + plotW + 8}" y="${y + 17}" font-size="11" fill="${color}" font-weight="600" ${FONT}>${esc(r.text ?? '')}</text>`);
    y += rowH;
  }
  const height = y + 34;
  return svgDoc(width, height, [
    `<text x="8" y="22" font-size="16" font-weight="700" ${FONT}>${esc(title)}</text>`,
    subtitle ? `<text x="8" y="42" font-size="11" fill="#4b5563" ${FONT}>${esc(subtitle)}</text>` : '',
    ...body,
    `<text x="8" y="${y + 20}" font-size="11" fill="#374151" ${FONT}>Each row on its own scale: bar = median of the per-round ratio, whisker = min-max over rounds, dashed mark = target.</text>`,
  ]);
}

function svgDoc(width, height, parts) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...parts.filter(Boolean),
    '</svg>',
    '',
  ].join('\n');
}
