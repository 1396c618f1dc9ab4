// A local atproto network for the Bluesky adapter's tests, from @atproto/dev-env: a PLC
// directory, a PDS and, when PostgreSQL's server programs are on this machine, an AppView (which
// the PDS proxies app.bsky.* calls to). It creates one account and prints one JSON line on stdout:
//   {"pds": URL, "appview": URL|null, "did": DID, "handle": HANDLE, "password": PW, "access_jwt": JWT}
// or {"error": MESSAGE} if it could not start, then runs until its stdin closes (or SIGTERM/SIGINT),
// when it stops PostgreSQL and removes every file it made. All state lives in one temporary
// directory; every server takes a free port and is reached on localhost.
// Set ATPROTO_NO_APPVIEW=1 to start the PLC directory and PDS only.

import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const HANDLE = 'posthorn.test'
const PASSWORD = 'posthorn-password'

// dev-env puts the PDS's databases and blobs under os.tmpdir(): keep them in our directory.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'posthorn-atproto-'))
process.env.TMPDIR = root
let postgres = null

try {
  const appview = process.env.ATPROTO_NO_APPVIEW !== '1' && postgresBin()
  const network = appview ? await withAppView(appview) : await withoutAppView()
  const agent = network.pds.getAgent()
  const { data } = await agent.com.atproto.server.createAccount({
    handle: HANDLE,
    email: 'dev@posthorn.test',
    password: PASSWORD,
  })
  print({
    pds: network.pds.url,
    appview: network.bsky?.url ?? null,
    did: data.did,
    handle: data.handle,
    password: PASSWORD,
    access_jwt: data.accessJwt,
  })
} catch (error) {
  print({ error: String(error?.stack ?? error) })
  stop(1)
}

process.stdin.on('end', () => stop(0)).on('error', () => stop(0)).resume()
process.on('SIGTERM', () => stop(0)).on('SIGINT', () => stop(0))

function print(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

async function withoutAppView() {
  const { TestNetworkNoAppView } = await import('@atproto/dev-env')
  return TestNetworkNoAppView.create({})
}

// The AppView (and the services it needs) stores its data in PostgreSQL: a throwaway cluster in
// our directory, on a free loopback port, without durability. The AppView's Redis is never used
// here, but dev-env insists on a host name.
async function withAppView(bin) {
  const url = await startPostgres(bin)
  process.env.REDIS_HOST ??= 'unused'
  const { TestNetwork } = await import('@atproto/dev-env')
  return TestNetwork.create({ dbPostgresUrl: url, dbPostgresSchema: 'posthorn' })
}

// The directory of PostgreSQL's initdb and pg_ctl: on PATH, or Debian's versioned directory.
function postgresBin() {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim()
  if (onPath) return path.dirname(fs.realpathSync(onPath))
  const debian = '/usr/lib/postgresql'
  const versions = fs.existsSync(debian) ? fs.readdirSync(debian).sort((a, b) => b - a) : []
  const found = versions.map((v) => path.join(debian, v, 'bin')).find((d) => fs.existsSync(path.join(d, 'initdb')))
  return found ?? null
}

async function startPostgres(bin) {
  const port = await freePort()
  const data = path.join(root, 'pg')
  // PostgreSQL refuses to run as root: then run it as the `postgres` account.
  const asRoot = process.getuid?.() === 0
  const run = (program, args) => {
    const [command, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args]]
      : [path.join(bin, program), args]
    execFileSync(command, argv, { stdio: 'ignore' })
  }
  if (asRoot) execFileSync('chown', ['postgres', root])
  run('initdb', ['-D', data, '-U', 'posthorn', '--auth=trust', '-N', '-E', 'UTF8', '--no-locale'])
  const options = `-h 127.0.0.1 -p ${port} -k ${root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`
  run('pg_ctl', ['-D', data, '-o', options, '-l', path.join(root, 'postgres.log'), '-w', 'start'])
  postgres = { run, data }
  return `postgresql://posthorn@127.0.0.1:${port}/postgres`
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

// Quick and thorough: the servers hold nothing worth a graceful close.
function stop(code) {
  try {
    postgres?.run('pg_ctl', ['-D', postgres.data, '-m', 'immediate', '-w', 'stop'])
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
    process.exit(code)
  }
}
