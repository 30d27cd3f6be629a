// A load generator in its own process (so it does not share the server's event loop):
// node load-client.mjs URL BODY_FILE CONCURRENCY SECONDS -> prints {"completed":N,"failed":N}
// It stops after SECONDS, or at SIGTERM (the test has seen what it needed): either way the requests
// in flight are answered and counted before it prints.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

const [url, bodyFile, concurrency, seconds] = process.argv.slice(2);
const body = readFileSync(bodyFile);
const agent = new Agent({ keepAlive: true, maxSockets: Number(concurrency) });
let stopAt = Date.now() + Number(seconds) * 1000;
process.on('SIGTERM', () => (stopAt = 0));
let completed = 0;
let failed = 0;

function once() {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) completed++;
        else failed++;
        resolve();
      });
    });
    req.on('error', () => {
      failed++;
      resolve();
    });
    req.end(body);
  });
}

async function client() {
  while (Date.now() < stopAt) await once();
}

await Promise.all(Array.from({ length: Number(concurrency) }, client));
agent.destroy();
process.stdout.write(JSON.stringify({ completed, failed }) + '\n');
