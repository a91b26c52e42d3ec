// The login page, served at /console/ when the server needs its API token and the browser has no
// session: the token is sent once (POST /v1/session) and the server answers with an HttpOnly cookie;
// the token is never kept by the page, nor put in a URL.
import './console.css';
import { problemOf } from './api.ts';
import { h, setText } from './dom.ts';

const token = h('input', {
  type: 'password',
  name: 'token',
  id: 'token',
  autocomplete: 'current-password',
  required: true,
});
const alert = h('p', { class: 'error-text', role: 'alert' });
const submit = h('button', { type: 'submit', class: 'button primary' }, 'Sign in');
const form = h(
  'form',
  { id: 'login', class: 'login panel', method: 'post', action: '/console/' },
  h('h1', null, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Sluice'),
  h('p', { class: 'hint' }, 'This server needs its API token. It is in <data-dir>/api-token on the server.'),
  h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), token),
  alert,
  h('div', { class: 'actions' }, submit),
);
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  submit.disabled = true;
  setText(alert, '');
  try {
    const res = await fetch('/v1/session', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ token: token.value }),
    });
    if (res.ok) {
      token.value = '';
      location.reload();
      return;
    }
    const err = await problemOf(res);
    setText(
      alert,
      res.status === 401
        ? 'That token is not right. Copy it again from <data-dir>/api-token.'
        : `Sign-in failed: ${err.code}: ${err.message}`,
    );
  } catch (err) {
    setText(alert, `Sign-in failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    submit.disabled = false;
  }
  token.focus();
});
document.title = 'Sign in · Sluice';
document.body.append(h('main', { class: 'login-page' }, form));
token.focus();
