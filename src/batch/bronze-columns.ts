// Bronze's columns beyond the first contract: the event's text and its enrichment (written by the sink since they were
// kept). Files written before have none of them; readers see them as NULL through bronzeFiles().

/** The enrichment columns of a bronze file, with their DuckDB types. */
export const BRONZE_ENRICHMENT_COLUMNS = [
  ['text', 'VARCHAR'], ['sentiment_score', 'DOUBLE'], ['sentiment_label', 'VARCHAR'], ['entities', 'VARCHAR[]']
] as const

/**
 * The bronze files of the bound list `param` as one relation that has every column, whatever version wrote each file:
 * files are united by column name, and a column no file has is NULL.
 */
export function bronzeFiles (param = '$files'): string {
  const missing = BRONZE_ENRICHMENT_COLUMNS.map(([name, type]) => `CAST(NULL AS ${type}) AS ${name}`).join(', ')
  return `(SELECT * FROM read_parquet(${param}::VARCHAR[], hive_partitioning = false, union_by_name = true) UNION ALL BY NAME (SELECT ${missing} WHERE false))`
}
