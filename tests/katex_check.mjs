// Render formulas with KaTeX, strictly. Used by tests/tooling.py:katex_check.
// stdin:  JSON [{"tex": "...", "display": bool}, ...]
// stdout: JSON [{"ok": true} | {"ok": false, "error": "..."}, ...] (same order)
// The KaTeX package directory comes from $SYMGRAD_KATEX_DIR.
import { createRequire } from "node:module";
import { resolve } from "node:path";

const katexDir = process.env.SYMGRAD_KATEX_DIR;
if (!katexDir) {
  console.error("katex_check.mjs: SYMGRAD_KATEX_DIR is not set");
  process.exit(2);
}
const katex = createRequire(import.meta.url)(resolve(katexDir));

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;

const results = JSON.parse(input).map(({ tex, display }) => {
  try {
    katex.renderToString(tex, {
      throwOnError: true,
      strict: "error",
      displayMode: Boolean(display),
    });
    return { ok: true };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(results));
