// Bundles page/ (the package's ES build plus React) into a static site.
// The test builds into its own tmp dir; `npx vite build` writes ./dist.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL("./page", import.meta.url)),
  base: "./",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    // the UI is one ~1.6 MB chunk; that is expected, not worth a warning
    chunkSizeWarningLimit: 4096,
  },
});
