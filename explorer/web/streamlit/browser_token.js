// Keeps this browser's training token in a cookie, so a reloaded page (a new app session) can find the
// training it started. The token is a random id made by the server; nothing from a checkpoint.
export default function ({ data }) {
  const token = data && data.token;
  const maxAge = data && Number.isFinite(data.max_age) ? Math.max(0, Math.floor(data.max_age)) : 0;
  const name = data && data.name;
  if (typeof name !== "string" || !/^[a-z_]{1,32}$/.test(name)) return;
  if (typeof token !== "string" || !/^[A-Za-z0-9_-]{16,64}$/.test(token)) return;
  if (document.cookie.split("; ").includes(`${name}=${token}`)) return;
  document.cookie = `${name}=${token}; path=/; max-age=${maxAge}; SameSite=Strict`;
}
