// Deterministic text generation (titles, bodies, paths, diff hunks) and the hostile/unicode corpus.
import { Rng, hashSeed } from './util.mjs';

const WORDS = ('the a parser cache retry token queue worker buffer config schema index request response ' +
  'handler thread lock timeout socket batch upsert cursor page limit header plugin loader registry ' +
  'pipeline sink source record field value error warning metric counter gauge trace span logger ' +
  'backoff jitter checkpoint offset commit review comment file diff patch branch merge rebase ' +
  'allocation pointer vector string map set iterator range view future promise callback event ' +
  'should could would must never always sometimes when while because although unless until ' +
  'fix add remove update refactor improve rename move extract inline document test bench ' +
  'correctly quickly safely lazily eagerly properly explicitly').split(' ');

const COMPONENTS = ['http client', 'rate limiter', 'GraphQL source', 'REST source', 'Postgres sink',
  'NDJSON sink', 'Supabase sink', 'job queue', 'scheduler', 'config loader', 'plugin ABI', 'CLI',
  'checkpoint store', 'DLQ', 'metrics exporter', 'retry policy', 'token pool', 'webhook receiver',
  'ETag cache', 'backfill lane', 'realtime lane', 'JSON parser', 'logging', 'CI', 'docs'];

const VERBS = ['Fix', 'Add', 'Remove', 'Refactor', 'Improve', 'Document', 'Speed up', 'Harden',
  'Simplify', 'Support', 'Handle', 'Test', 'Rework', 'Guard', 'Cache', 'Deprecate'];

const CONDS = ['on 502', 'when the token expires', 'for empty pages', 'under load', 'with unicode input',
  'after reconnect', 'on SIGTERM', 'in bulk mode', 'for forks', 'on GHES', 'with many files',
  'when rate limited', 'for draft PRs', 'during backfill', 'on Windows', 'for large diffs'];

const DEPS = ['lodash', 'express', 'actions/checkout', 'golang.org/x/net', 'serde', 'boost', 'openssl',
  'fmt', 'spdlog', 'nlohmann-json', 'curl', 'zlib', 'protobuf', 'grpc', 'abseil', 'catch2'];

const DIRS = ['src', 'src/core', 'src/http', 'src/sinks', 'src/sources', 'include/progcap', 'tests',
  'tests/unit', 'tests/integration', 'docs', 'cmake', 'scripts', '.github/workflows', 'plugins/github',
  'plugins/postgres', 'third_party', 'tools', 'bench', 'examples', 'packaging/debian'];
const BASES = ['main', 'client', 'server', 'config', 'util', 'parser', 'writer', 'reader', 'queue',
  'retry', 'auth', 'token', 'cache', 'schema', 'types', 'errors', 'metrics', 'log', 'state', 'job',
  'pipeline', 'plugin', 'record', 'batch', 'README', 'CHANGELOG', 'index', 'options', 'limits'];
const EXTS = ['.cc', '.h', '.hpp', '.cpp', '.md', '.yml', '.json', '.cmake', '.py', '.sh', '.txt', '.mjs', '.png'];

function words(r, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(r.pick(WORDS));
  return out.join(' ');
}
function sentence(r) {
  const s = words(r, r.int(5, 16));
  return s.charAt(0).toUpperCase() + s.slice(1) + '.';
}

export function prTitle(r, isBot) {
  if (isBot) {
    const dep = r.pick(DEPS);
    return `Bump ${dep} from ${r.int(1, 9)}.${r.int(0, 20)}.${r.int(0, 9)} to ${r.int(1, 9)}.${r.int(0, 20)}.${r.int(0, 9)}`;
  }
  return `${r.pick(VERBS)} ${r.pick(COMPONENTS)} ${r.pick(CONDS)}`;
}

export function branchName(r, title, number, isBot) {
  if (isBot) return `dependabot/npm_and_yarn/${title.split(' ')[1].replace(/[^a-z0-9]+/gi, '-').toLowerCase()}-${number}`;
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 32);
  return `${r.pick(['feature', 'fix', 'chore', 'topic'])}/${slug}-${number}`;
}

/** Markdown-ish body; seedKey makes it reproducible when generated lazily. */
export function body(seedKey, kind) {
  const r = new Rng(hashSeed('body', seedKey));
  const paras = kind === 'pr' ? r.int(1, 4) : r.weighted([[70, 1], [25, 2], [5, 3]]);
  const out = [];
  for (let p = 0; p < paras; p++) {
    const n = r.int(1, 4); const ss = [];
    for (let i = 0; i < n; i++) ss.push(sentence(r));
    out.push(ss.join(' '));
  }
  if (kind === 'pr') {
    if (r.chance(0.5)) out.push('## Checklist\n- [x] tests\n- [ ] docs\n- [x] changelog');
    if (r.chance(0.3)) out.push('```cpp\nauto r = client.get("/repos/acme/widgets/pulls");\n```');
    if (r.chance(0.3)) out.push(`Fixes #${r.int(1, 400)}`);
  } else if (r.chance(0.15)) {
    out.push('> ' + sentence(r));
  }
  if (r.chance(0.05)) out.push(r.pick(['👍', 'LGTM 🚀', 'nit: ✨', 'ありがとう！', 'Спасибо', 'شكرا']));
  return out.join('\n\n');
}

export function reviewBody(seedKey, state) {
  const r = new Rng(hashSeed('rbody', seedKey));
  if (state === 'APPROVED') return r.chance(0.6) ? '' : r.pick(['LGTM', 'LGTM 👍', 'Ship it!', 'Looks good to me.', sentence(r)]);
  if (state === 'COMMENTED') return r.chance(0.5) ? '' : body(seedKey, 'comment');
  return body(seedKey, 'comment');
}

/** Unique-ish realistic file paths. */
export function filePath(r, used) {
  for (let tries = 0; ; tries++) {
    let p = `${r.pick(DIRS)}/${r.pick(BASES)}${r.pick(EXTS)}`;
    if (tries > 5) p = `${r.pick(DIRS)}/${r.pick(BASES)}_${used.size}${r.pick(EXTS)}`;
    if (!used.has(p)) { used.add(p); return p; }
  }
}

/** Unified-diff patch consistent with the file's additions/deletions counts. */
export function patch(seedKey, additions, deletions) {
  const r = new Rng(hashSeed('patch', seedKey));
  const lines = [];
  let a = additions, d = deletions;
  let oldStart = r.int(1, 400), newStart = oldStart + r.int(-5, 5);
  if (newStart < 1) newStart = 1;
  // hunks of up to 40 changed lines, each with 3 context lines around
  while (a > 0 || d > 0) {
    const hd = Math.min(d, r.int(0, 20)), ha = Math.min(a, r.int(hd === 0 ? 1 : 0, 20));
    const takeD = hd || (a === 0 ? Math.min(d, 20) : 0);
    const takeA = ha || (takeD === 0 ? Math.min(a, 20) : 0);
    const ctx = 3;
    lines.push(`@@ -${oldStart},${takeD + ctx * 2} +${newStart},${takeA + ctx * 2} @@`);
    for (let i = 0; i < ctx; i++) lines.push(' ' + words(r, r.int(1, 6)));
    for (let i = 0; i < takeD; i++) lines.push('-' + words(r, r.int(1, 8)));
    for (let i = 0; i < takeA; i++) lines.push('+' + words(r, r.int(1, 8)));
    for (let i = 0; i < ctx; i++) lines.push(' ' + words(r, r.int(1, 6)));
    a -= takeA; d -= takeD;
    oldStart += takeD + ctx * 2 + r.int(5, 60);
    newStart += takeA + ctx * 2 + r.int(5, 60);
  }
  return lines.join('\n');
}

/** diff_hunk as GitHub shows on review comments: hunk header + lines up to the commented line. */
export function diffHunk(seedKey, position) {
  const r = new Rng(hashSeed('hunk', seedKey));
  const n = Math.max(1, Math.min(position || 1, 12));
  const start = r.int(1, 300);
  const lines = [`@@ -${start},${n + 3} +${start},${n + 4} @@`];
  for (let i = 0; i < n; i++) lines.push(r.pick([' ', '+', '-']) + words(r, r.int(1, 7)));
  return lines.join('\n');
}

// ---- the pathological corpus ----
export const UNICODE_TITLE = '🚀 Añadir soporte para 日本語・中文・한국어 — مرحبا بالعالم עברית — e\u0301\u0301 Z\u0324\u0354\u0367\u0311\u0313 👩‍👩‍👧‍👦 🏳️‍🌈';
export const UNICODE_BODY = [
  'Emoji: 😀😃😄😁 👍🏽 🇯🇵 🧑‍💻 — astral plane: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚',
  'RTL: مرحبا بالعالم، هذا نص عربي. ועכשיו עברית: שלום עולם.',
  'CJK: 这是一个测试。これはテストです。이것은 테스트입니다.',
  'Combining: a\u0300 e\u0301 o\u0308 n\u0303 — Zalgo: Z\u0351\u036b\u0343a\u0344\u0352l\u0357g\u0314o\u0365',
  'Zero-width: a\u200bb\u200cc\u200dd\ufeffe — bidi override: \u202eevil\u202c',
  'Fullwidth: ＡＢＣ１２３ — math: ∀x∈ℝ: x²≥0 — arrows ⇒ ⇔',
].join('\n\n');
export const HOSTILE_TITLE = "'; DROP TABLE pull_requests; -- \"quoted\" \\backslash\\ `tick` $(rm -rf /) %s %n {{x}}";
export const HOSTILE_BODY = [
  "Robert'); DROP TABLE students;--",
  '"double" \'single\' `back` \\ \\\\ \\n (literal backslash-n) \\u0000 (literal) ',
  'Control chars: \u0001\u0002\u0003\u0007\u0008\u000b\u000c\u000e\u001b[31mred\u001b[0m\u001f\u007f',
  'Tabs\tand\r\nCRLF\rCR-only and line separators:\u2028LS\u2029PS \u0085NEL',
  '<script>alert("xss")</script> <img src=x onerror=alert(1)> &amp; &lt; &gt;',
  '${HOME} $(whoami) `id` %00 %27 %22 ../../etc/passwd C:\\Windows\\System32',
  'JSON-ish: {"a":1,"b":[true,null]} ]}}\'"',
  'Surrogate-ish text (valid pairs only): \ud83d\ude00 \ud800\udc00',
  'Very long line: ' + 'x'.repeat(5000),
].join('\n');

/** ~1 MB deterministic body (mixes ASCII and multi-byte chars). */
export function hugeBody(targetBytes = 1_000_000) {
  const chunk = '# Huge body section\n\n' + 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. ' +
    'Ünïcödé ✓ 日本語 🚀 — '.repeat(3) + '\n\n';
  const n = Math.ceil(targetBytes / Buffer.byteLength(chunk));
  return Array.from({ length: n }, (_, i) => `${i}: ${chunk}`).join('');
}

const FIRST = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory',
  'niaj', 'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'yuki', 'zoe', 'amir', 'bea',
  'chen', 'dmitri', 'eko', 'fatima', 'giulia', 'hana', 'ines', 'jonas', 'kwame', 'lena', 'mateo', 'noor',
  'oskar', 'priya', 'quinn', 'raj', 'sofia', 'tariq', 'uma', 'vera', 'wen', 'ximena', 'yusuf', 'zainab'];
const LAST = ['smith', 'nguyen', 'garcia', 'mueller', 'tanaka', 'kim', 'rossi', 'silva', 'khan', 'ivanova',
  'dubois', 'jensen', 'okafor', 'cohen', 'haddad', 'novak', 'lopez', 'wang', 'schmidt', 'larsen'];
const DISPLAY_EXTRA = ['', '', '', ' 🦀', ' (she/her)', ' 🇩🇪', ' — on leave', ' 😺'];
const UNICODE_NAMES = ['Zoë Ångström', '李小龙', 'محمد علي', 'Ђорђе Петровић', 'Søren Kierkegaard', 'José Martí',
  '田中 太郎', 'Αλέξανδρος', 'דוד כהן', 'Nguyễn Văn An'];

export function personName(r) {
  if (r.chance(0.12)) return r.pick(UNICODE_NAMES);
  if (r.chance(0.1)) return null; // users without a display name
  const f = r.pick(FIRST), l = r.pick(LAST);
  return `${f[0].toUpperCase()}${f.slice(1)} ${l[0].toUpperCase()}${l.slice(1)}${r.pick(DISPLAY_EXTRA)}`;
}
export function loginFor(r) {
  const f = r.pick(FIRST), l = r.pick(LAST);
  return r.weighted([
    [30, `${f}${l}`], [25, `${f}-${l}`], [15, `${f}${r.int(1, 999)}`],
    [10, `${f[0]}${l}`], [10, `${l}-${f}-dev`], [10, `${f.toUpperCase()}-${l}`],
  ]);
}
