// Runs the official suite, subscription tests included, against CONFORMANCE_TEST_URL.
import { runConformanceTests } from "@durable-streams/server-conformance-tests"

runConformanceTests({
  baseUrl: process.env.CONFORMANCE_TEST_URL,
  subscriptions: true,
  longPollTimeoutMs: Number(process.env.CONFORMANCE_LONG_POLL_MS ?? 2000),
})
