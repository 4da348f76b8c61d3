// keystore.js — what this browser remembers, in IndexedDB (database "mandaat").
//
// Store "keys" (one record per member id): this device's signing key for that board,
//   {member, keyId, privateKey: CryptoKey (non-extractable), publicKey: CryptoKey,
//    publicRaw: Uint8Array, label, createdAt}. CryptoKey objects are stored by structured
//   clone; a non-extractable private key stays non-extractable, and never leaves this browser.
// Store "log": {id: 'pin', logKey, fingerprint, pinnedAt} — the log key pinned on first use;
//   {id: 'checkpoint:<log origin>', origin, size, root (base64), note, seenAt} — the latest
//   checkpoint this browser has verified for that log.
const DB_NAME = 'mandaat';
const DB_VERSION = 1;

let dbPromise = null;
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const d = req.result;
        if (!d.objectStoreNames.contains('keys')) d.createObjectStore('keys', { keyPath: 'member' });
        if (!d.objectStoreNames.contains('log')) d.createObjectStore('log', { keyPath: 'id' });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    // A failed open must not be cached forever.
    dbPromise.catch(() => { dbPromise = null; });
  }
  return dbPromise;
}

async function run(store, mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(store, mode);
    const req = fn(tx.objectStore(store));
    let result;
    if (req) req.onsuccess = () => { result = req.result; };
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export async function getDeviceKey(memberId) {
  return (await run('keys', 'readonly', (s) => s.get(memberId))) || null;
}

export async function putDeviceKey(record) {
  await run('keys', 'readwrite', (s) => s.put(record));
}

export async function deleteDeviceKey(memberId) {
  await run('keys', 'readwrite', (s) => s.delete(memberId));
}

export async function getPinnedLogKey() {
  return (await run('log', 'readonly', (s) => s.get('pin'))) || null;
}

export async function pinLogKey(logKey, fingerprint) {
  const rec = { id: 'pin', logKey, fingerprint, pinnedAt: new Date().toISOString() };
  await run('log', 'readwrite', (s) => s.put(rec));
  return rec;
}

export async function getLatestCheckpoint(origin) {
  return (await run('log', 'readonly', (s) => s.get(`checkpoint:${origin}`))) || null;
}

export async function putLatestCheckpoint({ origin, size, root, note }) {
  await run('log', 'readwrite', (s) => s.put({ id: `checkpoint:${origin}`, origin, size, root, note, seenAt: new Date().toISOString() }));
}
