// The signature check published in the seeds (003), as a receiver would run it with Node.js:
//   node seed-signature.mjs <secret> <signature header>   (raw body on stdin)
// Exits 0 when the signature is valid, 1 otherwise (timingSafeEqual throws on a length mismatch).
import crypto from 'crypto';

function verifySignature(payload, signature, secret) {
  const expected = 'sha256=' + crypto
    .createHmac('sha256', secret)
    .update(payload)
    .digest('hex');
  return crypto.timingSafeEqual(
    Buffer.from(signature),
    Buffer.from(expected)
  );
}

const [secret, signature] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const payload = Buffer.concat(chunks).toString('utf8');
process.exit(verifySignature(payload, signature, secret) ? 0 : 1);
