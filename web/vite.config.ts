// Builds the single-page UI into web/dist, which the LIMEN server serves from `/`
// (src/modules/web/web.routes.ts). Run from the repo root: `npm run build:web`.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const LIMEN_DEV_TARGET = 'http://127.0.0.1:18443';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // @novnc/novnc 1.7 is ESM with top-level await: anything older than es2022 fails to bundle it.
    target: 'es2022',
    sourcemap: true,
    // noVNC alone is ~250 kB; one chunk per route group would be premature for an app this size.
    chunkSizeWarningLimit: 1024,
  },
  // `npx vite --config web/vite.config.ts` serves the UI with hot reload against a running LIMEN.
  server: {
    proxy: {
      '/api': LIMEN_DEV_TARGET,
      '/ws': { target: LIMEN_DEV_TARGET, ws: true },
    },
  },
});
