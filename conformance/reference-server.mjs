// Starts the Node reference server (in memory, or file-backed with a data dir) for benchmarks.
import { DurableStreamTestServer } from "@durable-streams/server"

const port = Number(process.argv[2] ?? 4437)
const dataDir = process.argv[3]
const server = new DurableStreamTestServer({
  port,
  host: "127.0.0.1",
  ...(dataDir ? { dataDir } : {}),
})
await server.start()
console.log(`ready http://127.0.0.1:${port}`)
