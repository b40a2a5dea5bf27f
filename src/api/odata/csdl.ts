// The OData entity model of /odata and its CSDL XML ($metadata). One entity type, `Metric`, keyed
// by (window_start, event_type, region); one entity set per granularity. The property list here is
// the single source: the filter parser, $select/$orderby and the serialiser all read it.
import { DAY_MS, type Granularity, METRIC_DESCRIPTIONS } from '../../model/index.js'
import { ANOMALY_TYPE_XML, anomalySetXml } from './anomaly-csdl.js'

export const NAMESPACE = 'Hourglass'
export const ENTITY_TYPE = 'Metric'
export const CONTAINER = 'Container'

/** The value types the filter language knows (Edm types folded to what we compare). */
export type ValueType = 'string' | 'number' | 'datetime' | 'boolean'

export interface PropertyDef {
  name: string
  edm: string
  type: ValueType
  nullable: boolean
  /** extra CSDL facets, e.g. Precision and Scale */
  facets?: Record<string, string>
  description: string
}

export const PROPERTIES: readonly PropertyDef[] = [
  {
    name: 'window_start', edm: 'Edm.DateTimeOffset', type: 'datetime', nullable: false,
    description: 'Start of the window (UTC), aligned to the entity set\'s granularity'
  },
  { name: 'event_type', edm: 'Edm.String', type: 'string', nullable: false, description: 'Event type' },
  { name: 'region', edm: 'Edm.String', type: 'string', nullable: false, description: 'Region' },
  { name: 'total_events', edm: 'Edm.Int64', type: 'number', nullable: false, description: METRIC_DESCRIPTIONS.total_events },
  { name: 'avg_latency', edm: 'Edm.Double', type: 'number', nullable: true, description: METRIC_DESCRIPTIONS.avg_latency },
  { name: 'p95_response', edm: 'Edm.Double', type: 'number', nullable: true, description: METRIC_DESCRIPTIONS.p95_response },
  {
    name: 'total_revenue', edm: 'Edm.Decimal', type: 'number', nullable: false, facets: { Precision: '18', Scale: '2' },
    description: METRIC_DESCRIPTIONS.total_revenue
  },
  { name: 'avg_sentiment', edm: 'Edm.Double', type: 'number', nullable: true, description: METRIC_DESCRIPTIONS.avg_sentiment },
  { name: 'sentiment_positive', edm: 'Edm.Int64', type: 'number', nullable: false, description: METRIC_DESCRIPTIONS.sentiment_positive },
  { name: 'sentiment_neutral', edm: 'Edm.Int64', type: 'number', nullable: false, description: METRIC_DESCRIPTIONS.sentiment_neutral },
  { name: 'sentiment_negative', edm: 'Edm.Int64', type: 'number', nullable: false, description: METRIC_DESCRIPTIONS.sentiment_negative }
]

export const KEY = ['window_start', 'event_type', 'region'] as const
export type PropertyName = 'window_start' | 'event_type' | 'region' | 'total_events' | 'avg_latency' | 'p95_response' | 'total_revenue'
  | 'avg_sentiment' | 'sentiment_positive' | 'sentiment_neutral' | 'sentiment_negative'
export const PROPERTY_NAMES: readonly PropertyName[] = PROPERTIES.map((p) => p.name as PropertyName)

/** name → value type, for the filter parser */
export const PROPERTY_TYPES: Readonly<Record<string, ValueType>> = Object.fromEntries(PROPERTIES.map((p) => [p.name, p.type]))

export interface EntitySetDef {
  name: string
  granularity: Granularity
  /** the window read when $filter does not bound window_start, ms (null: the speed layer's retention) */
  defaultWindowMs: number | null
  description: string
}

export const ENTITY_SETS: readonly EntitySetDef[] = [
  {
    name: 'HourlyMetrics',
    granularity: 'hour',
    defaultWindowMs: 7 * DAY_MS,
    description: 'Hourly windows per event_type and region, merged from the batch and speed layers. ' +
      'A $filter on window_start (ge, gt, lt, le, eq, and-ed at the top level) sets the range read; without one, the last 7 days up to now are read.'
  },
  {
    name: 'DailyMetrics',
    granularity: 'day',
    defaultWindowMs: 90 * DAY_MS,
    description: 'Daily (UTC) windows per event_type and region, merged from the batch and speed layers. ' +
      'A $filter on window_start (ge, gt, lt, le, eq, and-ed at the top level) sets the range read; without one, the last 90 days up to now are read.'
  },
  {
    name: 'MinuteMetrics',
    granularity: 'minute',
    defaultWindowMs: null,
    description: 'Minute windows per event_type and region from the speed layer, open windows included. ' +
      'Only the speed layer\'s retention (the last hour by default) exists: a window_start filter narrows it, never widens it.'
  }
]

export function entitySet (name: string): EntitySetDef | undefined {
  return ENTITY_SETS.find((s) => s.name === name)
}

function attr (text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

const CORE = 'https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml'
const CAPABILITIES = 'https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml'

/** The CSDL XML document served at /odata/$metadata (OData 4.0). */
export function buildCsdl (pageSize: number): string {
  const props = PROPERTIES.map((p) => {
    const facets = Object.entries(p.facets ?? {}).map(([k, v]) => ` ${k}="${v}"`).join('')
    const nullable = p.nullable ? '' : ' Nullable="false"'
    return `        <Property Name="${p.name}" Type="${p.edm}"${nullable}${facets}>\n` +
      `          <Annotation Term="Core.Description" String="${attr(p.description)}"/>\n` +
      '        </Property>'
  }).join('\n')
  const sets = ENTITY_SETS.map((s) =>
    `        <EntitySet Name="${s.name}" EntityType="${NAMESPACE}.${ENTITY_TYPE}">\n` +
    `          <Annotation Term="Core.Description" String="${attr(s.description)} ` +
    `Pages hold at most ${pageSize} entities (less with Prefer: odata.maxpagesize).`.replace(/\s+$/, '') + '"/>\n' +
    '          <Annotation Term="Capabilities.SearchRestrictions"><Record><PropertyValue Property="Searchable" Bool="false"/></Record></Annotation>\n' +
    '          <Annotation Term="Capabilities.ExpandRestrictions"><Record><PropertyValue Property="Expandable" Bool="false"/></Record></Annotation>\n' +
    '          <Annotation Term="Capabilities.InsertRestrictions"><Record><PropertyValue Property="Insertable" Bool="false"/></Record></Annotation>\n' +
    '          <Annotation Term="Capabilities.UpdateRestrictions"><Record><PropertyValue Property="Updatable" Bool="false"/></Record></Annotation>\n' +
    '          <Annotation Term="Capabilities.DeleteRestrictions"><Record><PropertyValue Property="Deletable" Bool="false"/></Record></Annotation>\n' +
    '        </EntitySet>'
  ).join('\n')
  return `<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
  <edmx:Reference Uri="${CORE}">
    <edmx:Include Namespace="Org.OData.Core.V1" Alias="Core"/>
  </edmx:Reference>
  <edmx:Reference Uri="${CAPABILITIES}">
    <edmx:Include Namespace="Org.OData.Capabilities.V1" Alias="Capabilities"/>
  </edmx:Reference>
  <edmx:DataServices>
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="${NAMESPACE}">
      <EntityType Name="${ENTITY_TYPE}">
        <Key>
${KEY.map((k) => `          <PropertyRef Name="${k}"/>`).join('\n')}
        </Key>
${props}
      </EntityType>
${ANOMALY_TYPE_XML}
      <EntityContainer Name="${CONTAINER}">
${sets}
${anomalySetXml(NAMESPACE, pageSize)}
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
`
}
