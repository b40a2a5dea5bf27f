// The Cosmos DB API server (@vercel/cosmosdb-server) as a process of its own, for cosmos.ts (plain
// ESM, so it starts without a TypeScript loader): https on 127.0.0.1, a port the OS picks (printed
// as `port N`), keep-alive on (its CLI closes the connection after every response, and a TLS handshake per
// request would dominate every figure).
//
// One fix to the stand-in, not to what it answers: its query engine (@zeit/cosmosdb-query 0.7.2)
// compiles `FROM c` into `docs.reduce(($, c) => [...$, { c }], [])`, copying the array once per
// document, so every query costs O(n²) in the documents of the container (30,000 documents: ~7 s
// for a query that returns 50 rows). The speed store leaves a dedup document per admitted event,
// so a consumer on it would crawl within a minute. The compiled code is rewritten to push into the
// array instead: the same array in O(n) (~90 ms there), so the same rows in the same order.
// Code that does not match runs unchanged.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const main = require.resolve('@vercel/cosmosdb-server')
const query = createRequire(main)('@zeit/cosmosdb-query').default
const Query = Object.getPrototypeOf(query('SELECT * FROM c'))
const compiled = Object.getOwnPropertyDescriptor(Query, 'code').get
Object.defineProperty(Query, 'code', {
  get () { return compiled.call(this).replace(/\[\.\.\.\$, (\{\s*(\w+): \2\s*\})\]/g, '($$.push($1), $$)') }
})

const server = require(main).createHttpsServer({ keepAlive: true })
// Node closes an idle keep-alive connection after 5 s; a client that sends on it at that moment
// gets "socket hang up" (ECONNRESET), which the Cosmos SDK does not retry. Idle connections here
// stay open as long as the client keeps them, like the service's own gateway.
server.keepAliveTimeout = 600_000
server.headersTimeout = 610_000
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port))
