// Minimal keep-alive load generator for the fake (loopback only; bounded by count and time).
//   node bench/load.mjs URL_PATH [--base URL] [--concurrency 50] [--seconds 5] [--token T]
// Without --base it starts an in-process-free child server (bin/fake-github.mjs) and stops it afterwards.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 ? args[i + 1] : d; };
const path = args.find((a) => a.startsWith('/')) || '/repos/acme/widgets/pulls/1';
const conc = Number(opt('concurrency', 50));
const seconds = Number(opt('seconds', 5));
const maxRequests = Number(opt('max-requests', 2_000_000));
const token = opt('token', 'ghp_testtoken0000000000000000000000000000');
let base = opt('base');
let child = null;
if (!base) {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'fake-github.mjs');
  child = spawn(process.execPath, [bin, '--port', '0', '--quiet', '--budget', '100000000', ...(opt('server-args', '').split(' ').filter(Boolean))], { stdio: ['ignore', 'pipe', 'inherit'] });
  base = await new Promise((res) => child.stdout.once('data', (d) => res(JSON.parse(String(d).split('\n')[0]).url)));
}
const u = new URL(path, base);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) { console.error('refusing non-loopback target'); process.exit(2); }
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
let done = 0, errors = 0, bytes = 0;
const lat = [];
const end = Date.now() + seconds * 1000;
async function worker() {
  while (Date.now() < end && done + errors < maxRequests) {
    const t = performance.now();
    await new Promise((resolve) => {
      const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent, headers: { authorization: `token ${token}`, accept: 'application/vnd.github+json' } }, (res) => {
        res.on('data', (c) => { bytes += c.length; });
        res.on('end', () => { if (res.statusCode === 200) done++; else errors++; lat.push(performance.now() - t); resolve(); });
      });
      req.on('error', () => { errors++; resolve(); });
    });
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: conc }, worker));
const secs = (Date.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]?.toFixed(2);
console.log(JSON.stringify({ path, concurrency: conc, seconds: secs, ok: done, errors, rps: Math.round(done / secs), mb_per_s: +(bytes / secs / 1e6).toFixed(1), p50_ms: +pct(0.5), p99_ms: +pct(0.99) }));
agent.destroy();
if (child) child.kill('SIGTERM');
