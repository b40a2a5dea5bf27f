// uPlot charts with the answer's provenance drawn under the series: the ranges served by batch and
// by speed shaded in two colours (meta.sources), the boundary as a dashed line (meta.boundary), and
// the gaps (meta.gaps) hatched with their reason, their buckets left empty so the lines break there;
// detected anomalies (GET /v1/anomalies) as red marks over the series.
const { uPlot } = window

const SHADES = { batch: 'rgba(59, 130, 246, 0.12)', speed: 'rgba(249, 115, 22, 0.14)' }
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d', '#7c3aed', '#0d9488']

const ms = (iso) => Date.parse(iso)

/** the bucket starts of [meta.from, meta.to), epoch ms */
export function bucketStarts (meta, bucketMs) {
  const out = []
  for (let t = ms(meta.from); t < ms(meta.to); t += bucketMs) out.push(t)
  return out
}

function inGap (t, gaps) {
  return gaps.some((g) => t >= ms(g.from) && t < ms(g.to))
}

/**
 * Aligned columns for uPlot: x (seconds) and one column per series. `seriesOf(row)` names a row's
 * series, `value(row)` its value; a bucket inside a gap is null (drawn as a break), a bucket with no
 * row elsewhere is `empty` (0 events, no p95).
 */
export function columns (rows, meta, bucketMs, seriesOf, value, empty) {
  const xs = bucketStarts(meta, bucketMs)
  const index = new Map(xs.map((t, i) => [t, i]))
  const names = [...new Set(rows.map(seriesOf))].sort()
  const cols = names.map(() => xs.map((t) => (inGap(t, meta.gaps) ? null : empty)))
  for (const r of rows) {
    const i = index.get(ms(r.window_start))
    if (i === undefined || inGap(xs[i], meta.gaps)) continue
    const col = cols[names.indexOf(seriesOf(r))]
    const v = value(r)
    col[i] = v === null ? col[i] : (col[i] ?? 0) + v
  }
  return { names, data: [xs.map((t) => t / 1000), ...cols] }
}

/** the pixel span of [from, to) on the x axis, clipped to the plot */
function span (u, from, to) {
  const left = u.bbox.left
  const right = left + u.bbox.width
  const x0 = Math.max(left, Math.min(right, u.valToPos(ms(from) / 1000, 'x', true)))
  const x1 = Math.max(left, Math.min(right, u.valToPos(ms(to) / 1000, 'x', true)))
  return [x0, x1]
}

/** anomalies as marks: a red line at each anomaly's minute, a triangle pointing its way (up: spike or shift up) */
function marksPlugin (marks) {
  return {
    hooks: {
      draw: [(u) => {
        const { ctx, bbox } = u
        const px = devicePixelRatio
        ctx.save()
        for (const m of marks) {
          const x = u.valToPos(ms(m.window_start) / 1000, 'x', true)
          if (x < bbox.left || x > bbox.left + bbox.width) continue
          ctx.strokeStyle = 'rgba(220, 38, 38, 0.7)'
          ctx.lineWidth = 1.5 * px
          ctx.beginPath()
          ctx.moveTo(x, bbox.top)
          ctx.lineTo(x, bbox.top + bbox.height)
          ctx.stroke()
          const up = m.score > 0
          const y = bbox.top + 2 * px
          ctx.fillStyle = '#dc2626'
          ctx.beginPath()
          ctx.moveTo(x - 5 * px, up ? y + 8 * px : y)
          ctx.lineTo(x + 5 * px, up ? y + 8 * px : y)
          ctx.lineTo(x, up ? y : y + 8 * px)
          ctx.closePath()
          ctx.fill()
        }
        ctx.restore()
      }]
    }
  }
}

function provenancePlugin (meta) {
  return {
    hooks: {
      drawClear: [(u) => {
        const { ctx, bbox } = u
        ctx.save()
        for (const s of meta.sources) {
          const [x0, x1] = span(u, s.from, s.to)
          ctx.fillStyle = SHADES[s.layer] ?? 'transparent'
          ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height)
        }
        ctx.restore()
      }],
      draw: [(u) => {
        const { ctx, bbox } = u
        const px = devicePixelRatio
        ctx.save()
        ctx.font = `${11 * px}px system-ui, sans-serif`
        ctx.textAlign = 'left' // uPlot leaves its axes' alignment set
        ctx.textBaseline = 'alphabetic'
        for (const g of meta.gaps) {
          const [x0, x1] = span(u, g.from, g.to)
          ctx.fillStyle = 'rgba(107, 114, 128, 0.18)'
          ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height)
          ctx.strokeStyle = 'rgba(107, 114, 128, 0.5)'
          ctx.beginPath()
          for (let x = x0 - bbox.height; x < x1; x += 8 * px) {
            ctx.moveTo(Math.max(x, x0), bbox.top + bbox.height - Math.max(0, x0 - x))
            ctx.lineTo(Math.min(x + bbox.height, x1), bbox.top + Math.max(0, x + bbox.height - x1))
          }
          ctx.stroke()
          ctx.fillStyle = '#374151'
          if (x1 - x0 > 40 * px) ctx.fillText(g.reason, x0 + 4 * px, bbox.top + 14 * px)
        }
        if (meta.boundary !== null && ms(meta.boundary) > ms(meta.from) && ms(meta.boundary) < ms(meta.to)) {
          const x = u.valToPos(ms(meta.boundary) / 1000, 'x', true)
          ctx.strokeStyle = '#7c3aed'
          ctx.lineWidth = 2 * px
          ctx.setLineDash([6 * px, 4 * px])
          ctx.beginPath()
          ctx.moveTo(x, bbox.top)
          ctx.lineTo(x, bbox.top + bbox.height)
          ctx.stroke()
          ctx.fillStyle = '#7c3aed'
          // beside the line, on the side with room for the word
          const room = bbox.left + bbox.width - x > ctx.measureText('boundary').width + 8 * px
          ctx.textAlign = room ? 'left' : 'right'
          ctx.fillText('boundary', room ? x + 4 * px : x - 4 * px, bbox.top + bbox.height - 6 * px)
        }
        ctx.restore()
      }]
    }
  }
}

/**
 * Draws (again) the chart in `figure` and records on it what it drew: data-sources and data-gaps
 * (the meta it shaded), data-boundary, data-points (values drawn), data-marks (anomalies marked).
 */
export function drawChart (figure, { names, data }, meta, { unit = '', stepped = false, marks = [] } = {}) {
  const host = figure.querySelector('.plot')
  figure.chart?.destroy()
  host.textContent = ''
  const series = [{}, ...names.map((name, i) => ({
    label: name,
    stroke: PALETTE[i % PALETTE.length],
    width: 1.5,
    spanGaps: false,
    ...(stepped ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
    value: (_u, v) => (v === null || v === undefined ? '–' : `${Number(v.toFixed(2)).toLocaleString()}${unit}`)
  }))]
  const opts = {
    width: Math.max(300, host.clientWidth),
    height: 220,
    series,
    scales: { x: { time: true, range: () => [ms(meta.from) / 1000, ms(meta.to) / 1000] } },
    axes: [{}, { size: 60 }],
    plugins: [provenancePlugin(meta), marksPlugin(marks)]
  }
  figure.chart = new uPlot(opts, data, host)
  figure.dataset.sources = JSON.stringify(meta.sources)
  figure.dataset.gaps = JSON.stringify(meta.gaps)
  figure.dataset.boundary = meta.boundary ?? ''
  figure.dataset.marks = String(marks.length)
  figure.title = marks.map((m) => `${new Date(m.window_start).toLocaleString()}: ${m.event_type ?? 'all'}/${m.region ?? 'all'} ${m.kind} ` +
    `(${m.observed} against ${m.expected})`).join('\n')
  figure.dataset.points = String(data.slice(1).reduce((n, col) => n + col.filter((v) => v !== null && v !== undefined).length, 0))
}
