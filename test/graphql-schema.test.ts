// The checked-in GraphQL contract (openapi/schema.graphql, beside the OpenAPI document) is the
// schema /graphql serves, read back through introspection. This test reads it again and fails when
// the copy has drifted (run `node --import tsx scripts/write-graphql-schema.ts` after changing
// src/api/graphql/schema.ts), and checks the operations the dashboards rely on.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { buildSchema, type GraphQLField, type GraphQLObjectType } from 'graphql'
import { buildGraphqlSchemaText, GRAPHQL_SCHEMA_PATH } from '../scripts/write-graphql-schema.js'
import { METRIC_NAMES } from '../src/model/index.js'

test('openapi/schema.graphql matches the served schema (run scripts/write-graphql-schema.ts after changing it)', async () => {
  assert.equal(readFileSync(GRAPHQL_SCHEMA_PATH, 'utf8'), await buildGraphqlSchemaText())
})

const args = (f: GraphQLField<unknown, unknown> | undefined) => Object.fromEntries((f?.args ?? []).map((a) => [a.name, String(a.type)]))

test('the operations: metrics, live, dimensions, quality and the windowUpdated subscription, with REST\'s arguments', () => {
  const schema = buildSchema(readFileSync(GRAPHQL_SCHEMA_PATH, 'utf8'))
  const query = schema.getQueryType()?.getFields() ?? {}
  assert.deepEqual(Object.keys(query).sort(), ['anomalies', 'dimensions', 'live', 'metrics', 'quality', 'topEntities'])
  assert.deepEqual(args(query.topEntities), { from: 'String!', to: 'String', filter: 'Filter', limit: 'Int' })
  assert.equal(String(query.topEntities?.type), 'EntitiesResult!')
  assert.deepEqual(args(query.anomalies), { from: 'String!', to: 'String', filter: 'Filter' })
  assert.equal(String(query.anomalies?.type), '[Anomaly!]!')
  assert.deepEqual(args(query.metrics), { from: 'String!', to: 'String', granularity: 'Granularity', groupBy: '[Dimension!]', filter: 'Filter', metrics: '[Metric!]' })
  assert.deepEqual(args(query.live), { last: 'String', groupBy: '[Dimension!]', filter: 'Filter', metrics: '[Metric!]' })
  assert.equal(String(query.metrics?.type), 'MetricsResult!')
  const sub = schema.getSubscriptionType()?.getFields() ?? {}
  assert.deepEqual(args(sub.windowUpdated), { filter: 'Filter', groupBy: '[Dimension!]' })
  assert.equal(String(sub.windowUpdated?.type), 'WindowUpdate!')
  assert.deepEqual(args(sub.anomalyDetected), { filter: 'Filter' })
  assert.equal(String(sub.anomalyDetected?.type), 'Anomaly!')
  const anomaly = schema.getType('Anomaly') as GraphQLObjectType
  assert.deepEqual(Object.keys(anomaly.getFields()), ['window_start', 'event_type', 'region', 'metric', 'kind', 'observed', 'expected', 'score'])
  const meta = schema.getType('Meta') as GraphQLObjectType
  assert.deepEqual(Object.keys(meta.getFields()).sort(), ['batch_version', 'boundary', 'complete', 'freshness', 'from', 'gaps', 'granularity', 'sources', 'to'])
  const row = schema.getType('Row') as GraphQLObjectType
  assert.deepEqual(Object.keys(row.getFields()), ['window_start', 'event_type', 'region', ...METRIC_NAMES])
})
