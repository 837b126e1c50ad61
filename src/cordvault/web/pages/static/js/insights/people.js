// Names and avatars of the DM users the dashboard shows, for a result of this server.
//
// Only when all three hold: the server says it can look users up (a bot token is configured:
// the template's data-user-lookups="on"), the result came from this server (its package id is
// saved with it), and this browser keeps the package's key (keys.js: a key kept for one tab
// only is gone once the page changed). Then each user the page shows is asked for through our
// own origin: GET /process/<id>/user/<user_id> (the Dumpus contract) and .../avatar (the image,
// which the page's CSP would refuse from Discord's CDN), with the key as the bearer, at most
// MAX_IN_FLIGHT at a time; a 429 is retried after 500 ms (the contract's rhythm). What comes
// back is kept in memory and in IndexedDB beside the result (store.js "people"), so it shows
// again without asking, and it is never sent anywhere. Otherwise (offline dashboard, local
// file, no token, no key) the initials stay.

import { keyFor } from "./keys.js";
import { loadPeople, savePeople } from "./store.js";

const MAX_IN_FLIGHT = 3;
const RETRY_MS = 500;
const MAX_TRIES = 4;
const SNOWFLAKE = /^[0-9]{1,20}$/;
const SAVE_DELAY_MS = 300;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function limiter(limit) {
  let active = 0;
  const waiting = [];
  const next = () => {
    if (active >= limit || waiting.length === 0) return;
    active++;
    const { work, resolve, reject } = waiting.shift();
    work().then(resolve, reject).finally(() => {
      active--;
      next();
    });
  };
  return (work) => new Promise((resolve, reject) => {
    waiting.push({ work, resolve, reject });
    next();
  });
}

/** Whether this page was told the server can look users up. */
export function lookupsEnabled() {
  return document.getElementById("dashboard")?.dataset.userLookups === "on";
}

/**
 * The people of one saved result ``rec`` ({id, packageId?}): ``person(userId)`` resolves to
 * {displayName, username, avatarUrl (a blob: URL) or null} or null (unknown, not allowed, or
 * failed). ``close()`` drops the object URLs. Never throws.
 */
export async function openPeople(rec, enabled = lookupsEnabled()) {
  let stored = {};
  try {
    stored = rec ? await loadPeople(rec.id) : {};
  } catch {
    stored = {};
  }
  let upn = null;
  if (enabled && rec?.packageId) {
    try {
      upn = (await keyFor(rec.packageId))?.upn ?? null;
    } catch {
      upn = null;
    }
  }
  const known = new Map(Object.entries(stored)); // user id -> the record kept in IndexedDB
  const pending = new Map(); // user id -> Promise of the shown person
  const urls = new Map(); // user id -> blob: URL of the avatar
  const gate = limiter(MAX_IN_FLIGHT);
  let saveTimer = null;
  let closed = false;

  const shown = (userId, found) => {
    if (!found || found.missing) return null;
    let avatarUrl = urls.get(userId) ?? null;
    if (!avatarUrl && found.avatar instanceof Blob) {
      avatarUrl = URL.createObjectURL(found.avatar);
      urls.set(userId, avatarUrl);
    }
    return { displayName: found.displayName ?? null, username: found.username, avatarUrl };
  };

  const scheduleSave = () => {
    if (!rec || saveTimer !== null) return;
    saveTimer = setTimeout(() => {
      saveTimer = null;
      const users = {};
      for (const [id, r] of known) if (!r.missing) users[id] = r;
      savePeople(rec.id, users)
        .then(() => {
          // How many users this device now keeps for the result (for scripts and tests).
          document.getElementById("dashboard")?.setAttribute("data-people-saved", String(Object.keys(users).length));
        })
        .catch(() => {});
    }, SAVE_DELAY_MS);
  };

  // One GET of our own route with the key as bearer; 429 is retried after 500 ms.
  const ask = async (path, as) => {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(path, { headers: { Authorization: `Bearer ${upn}` }, credentials: "same-origin" });
      if (res.status === 429 && attempt < MAX_TRIES) {
        await sleep(RETRY_MS);
        continue;
      }
      if (!res.ok) {
        const code = (await res.json().catch(() => null))?.errorMessageCode;
        // The key does not open this package, or the server no longer has it: stop asking.
        if (res.status === 401 || code === "UNKNOWN_PACKAGE_ID") upn = null;
        return { status: res.status, body: null };
      }
      return { status: res.status, body: as === "blob" ? await res.blob() : await res.json() };
    }
  };

  const lookUp = async (userId) => {
    const base = `/process/${encodeURIComponent(rec.packageId)}/user/${userId}`;
    const user = await ask(base, "json");
    if (user.status === 404 && upn !== null) return { missing: true }; // Discord has no such user
    if (!user.body || upn === null) return null;
    let avatar = null;
    if (upn !== null && !closed) {
      const image = await ask(`${base}/avatar`, "blob");
      if (image.body && image.body.type.startsWith("image/")) avatar = image.body;
    }
    return {
      displayName: user.body.display_name ?? null,
      username: String(user.body.username ?? ""),
      avatar,
      at: new Date().toISOString(),
    };
  };

  return {
    person(userId) {
      userId = String(userId ?? "");
      if (closed || !SNOWFLAKE.test(userId) || userId === "0") return Promise.resolve(null);
      if (known.has(userId)) return Promise.resolve(shown(userId, known.get(userId)));
      if (upn === null) return Promise.resolve(null);
      if (!pending.has(userId)) {
        const work = gate(async () => {
          if (closed || upn === null) return null;
          try {
            return await lookUp(userId);
          } catch {
            return null; // the network failed: initials this time, asked again next time
          }
        }).then((found) => {
          pending.delete(userId);
          if (!found) return null;
          known.set(userId, found);
          if (!found.missing) scheduleSave();
          return closed ? null : shown(userId, found);
        });
        pending.set(userId, work);
      }
      return pending.get(userId);
    },
    close() {
      closed = true;
      for (const url of urls.values()) URL.revokeObjectURL(url);
      urls.clear();
    },
  };
}

/**
 * Show ``person`` in an entry's elements: the avatar image in ``avatar`` (the initials stay when
 * there is none), the name in ``name``, the username in ``sub`` when the name differs.
 */
export function applyPerson(person, { avatar, name, sub, initialsOf }) {
  if (!person) return;
  const label = person.displayName || person.username;
  if (label && name) {
    name.textContent = label;
    name.dataset.lookedUp = "on";
  }
  if (sub) sub.textContent = person.displayName && person.username ? `@${person.username}` : "";
  if (!avatar) return;
  if (person.avatarUrl) {
    const img = document.createElement("img");
    img.alt = "";
    img.src = person.avatarUrl;
    avatar.replaceChildren(img);
    avatar.dataset.avatar = "on";
  } else if (label && initialsOf) {
    avatar.textContent = initialsOf(label);
  }
}
