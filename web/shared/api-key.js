// The API key of this browser tab: entered once, kept in sessionStorage (gone when the tab closes),
// sent as a header with every call and in a WebSocket's connection_init.
const STORAGE = 'hourglass.apiKey'

/** the key, '' when the user chose none (a server without keys), null when not asked yet */
export function apiKey () {
  return sessionStorage.getItem(STORAGE)
}

export function setApiKey (key) {
  if (key === null) sessionStorage.removeItem(STORAGE)
  else sessionStorage.setItem(STORAGE, key)
}

/**
 * Whether calls can be made: a key was entered (or none chosen) in this tab, or the server asks for
 * none (`config` is the page's config.json).
 */
export async function keyReady (config) {
  if (apiKey() !== null) return true
  const res = await fetch(config)
  return res.ok && (await res.json()).auth_required === false
}

/** headers carrying the key, or none when no key was entered (a server without authentication) */
export function authHeaders () {
  const key = apiKey()
  return key ? { Authorization: `Bearer ${key}` } : {}
}

/**
 * A small form in `host`: a password field for the key and a button ("Use" with an empty field: no
 * key). `onChange` runs after the key was saved or forgotten. Returns a function that shows a
 * message beside it (e.g. "key needed").
 */
export function keyForm (host, onChange) {
  const form = document.createElement('form')
  form.className = 'hg-key'
  form.innerHTML = '<label>API key <input type="password" name="key" autocomplete="off" size="28"></label> ' +
    '<button type="submit">Use</button> <button type="button" name="forget">Forget</button> <span class="hg-key-note"></span>'
  const input = form.elements.namedItem('key')
  const note = form.querySelector('.hg-key-note')
  const hint = () => { input.placeholder = apiKey() ? 'a key is set for this tab' : apiKey() === '' ? 'none' : 'paste a key, or Use for none' }
  hint()
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    setApiKey(input.value.trim())
    input.value = ''
    hint()
    note.textContent = ''
    onChange()
  })
  form.elements.namedItem('forget').addEventListener('click', () => {
    setApiKey(null)
    hint()
    onChange()
  })
  host.append(form)
  return (text) => { note.textContent = text }
}
