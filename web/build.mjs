// Builds the storefront into dist/ (or the folder given as the first argument): one minified
// ES module bundle, its stylesheet, and index.html. Prints the bundle size, minified and gzipped.
//
//   npm run build              -> web/dist
//   node web/build.mjs OUTDIR  -> OUTDIR (the browser test builds into a temporary folder)
import { build } from "esbuild";
import { copyFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "dist"));
await mkdir(out, { recursive: true });

await build({
  entryPoints: { main: join(here, "src/main.ts"), "main.css": join(here, "src/main.css") },
  outdir: out,
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  legalComments: "none",
  logLevel: "warning",
});
// esbuild names the CSS entry main.css.css; keep the names index.html uses.
await rename(join(out, "main.css.css"), join(out, "main.css"));
await copyFile(join(here, "index.html"), join(out, "index.html"));

// The bundle and stylesheet also go precompressed (main.js.gz): the storefront server sends
// them to browsers that take gzip.
const sizes = {};
for (const f of ["main.js", "main.css", "index.html"]) {
  const b = await readFile(join(out, f));
  const gz = gzipSync(b, { level: 9 });
  if (f !== "index.html") await writeFile(join(out, `${f}.gz`), gz);
  sizes[f] = { minified: b.length, gzipped: gz.length };
}
await writeFile(join(out, "sizes.json"), JSON.stringify(sizes, null, 2) + "\n");
for (const [f, s] of Object.entries(sizes)) {
  console.log(`${f.padEnd(10)} ${(s.minified / 1024).toFixed(1).padStart(6)} KiB minified ${(s.gzipped / 1024).toFixed(1).padStart(6)} KiB gzipped`);
}
