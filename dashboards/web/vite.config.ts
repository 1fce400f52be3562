// Build of the fleet web UI: `npm run build` writes dist/, which the cloud serves at `/`.
// `npm run dev` proxies the API to a cloud on :8080 (override with THREEDPOT_CLOUD_URL).
import { defineConfig } from "vite";

const cloud = process.env.THREEDPOT_CLOUD_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  // three.js (the studio's 3D preview) is a lazy chunk of ~570 kB: loaded only where a model is shown.
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, target: "es2022", chunkSizeWarningLimit: 600 },
  server: { proxy: { "/api": cloud, "/healthz": cloud } },
});
