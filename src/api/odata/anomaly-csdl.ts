// The entity type Anomaly and entity set Anomalies of /odata's $metadata (csdl.ts puts them in), and the property
// types the set's $filter is checked against (anomalies.ts). Imports nothing of OData's own: csdl.ts imports it.

export const ANOMALY_SET = 'Anomalies'
const TYPE = 'Anomaly'
/** the filter parser's value types (csdl.ts's ValueType, which imports this module) */
type ValueType = 'string' | 'number' | 'datetime'

const PROPERTIES: ReadonlyArray<{ name: string, edm: string, type: ValueType, nullable: boolean, description: string }> = [
  { name: 'id', edm: 'Edm.String', type: 'string', nullable: false, description: 'window_start|event_type|region|metric (* for the overall group)' },
  { name: 'window_start', edm: 'Edm.DateTimeOffset', type: 'datetime', nullable: false, description: 'The closed minute window (UTC)' },
  { name: 'event_type', edm: 'Edm.String', type: 'string', nullable: true, description: 'null: the overall group' },
  { name: 'region', edm: 'Edm.String', type: 'string', nullable: true, description: 'null: the overall group' },
  { name: 'metric', edm: 'Edm.String', type: 'string', nullable: false, description: 'total_events, p95_response or total_revenue' },
  { name: 'kind', edm: 'Edm.String', type: 'string', nullable: false, description: 'drop, spike or shift' },
  { name: 'observed', edm: 'Edm.Double', type: 'number', nullable: false, description: 'The observed value' },
  { name: 'expected', edm: 'Edm.Double', type: 'number', nullable: false, description: 'Seasonal baseline plus the recent level' },
  { name: 'score', edm: 'Edm.Double', type: 'number', nullable: false, description: 'Robust z-score' }
]
export const ANOMALY_PROPERTY_TYPES: Readonly<Record<string, ValueType>> = Object.fromEntries(PROPERTIES.map((p) => [p.name, p.type]))

/** the EntityType element of $metadata */
export const ANOMALY_TYPE_XML = `      <EntityType Name="${TYPE}">
        <Key>
          <PropertyRef Name="id"/>
        </Key>
${PROPERTIES.map((p) => `        <Property Name="${p.name}" Type="${p.edm}"${p.nullable ? '' : ' Nullable="false"'}>
          <Annotation Term="Core.Description" String="${p.description}"/>
        </Property>`).join('\n')}
      </EntityType>`

/** the EntitySet element of $metadata */
export function anomalySetXml (namespace: string, pageSize: number): string {
  return `        <EntitySet Name="${ANOMALY_SET}" EntityType="${namespace}.${TYPE}">
          <Annotation Term="Core.Description" String="Anomalies detected on closed minute windows (GET /v1/anomalies), read-only. \
$filter on any property, $top, $skip, $count; pages hold at most ${pageSize} entities."/>
        </EntitySet>`
}
