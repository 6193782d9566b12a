import { defineConfig } from "vitest/config"

// The published CLI finds no test files on its own; this config points vitest at our entry.
export default defineConfig({
  test: {
    include: ["conformance.test.mjs"],
    testTimeout: 30000,
    hookTimeout: 30000,
  },
})
