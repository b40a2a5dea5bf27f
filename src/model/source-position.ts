// The key of a source partition: Map keys everywhere, and stored as is (the Redis position hash
// field, the hashed Cosmos position id), so its format never changes.

/** `<topic>\0<partition>`: one string per (topic, partition). */
export const partitionKey = (topic: string, partition: number): string => topic + '\u0000' + partition
