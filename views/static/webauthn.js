// WebAuthn ceremonies for forms marked data-webauthn="authenticate", "register" or "payment":
// fetch the options (a fresh server challenge) or, for a payment, read them from the page's
// data block (the challenge derived from that payment), let the browser talk to the
// authenticator, then post the response with the form. Served from Portcullis itself; no inline
// script anywhere.
(() => {
  const lib = window.SimpleWebAuthnBrowser;
  if (!lib || !window.PublicKeyCredential) return;
  // What a page says when the ceremony cannot run here: this browser can run it.
  for (const note of document.querySelectorAll('[data-webauthn-missing]')) note.hidden = true;
  // The page's words, in its language (set by views/layout.eta).
  const words = document.body.dataset;

  async function fetchOptions(form) {
    const res = await fetch(form.dataset.optionsUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(new FormData(form)),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error_description || words.webauthnNotStarted);
    return body;
  }

  for (const form of document.querySelectorAll('form[data-webauthn]')) {
    const section = form.closest('[data-webauthn-section]');
    if (section) section.hidden = false;
    const status = form.querySelector('[data-webauthn-status]');
    const kind = form.dataset.webauthn;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (status) status.textContent = words.webauthnWaiting;
      try {
        const options =
          kind === 'payment'
            ? JSON.parse(document.getElementById(form.dataset.optionsId).textContent)
            : await fetchOptions(form);
        const response =
          kind === 'register'
            ? await lib.startRegistration({ optionsJSON: options })
            : await lib.startAuthentication({ optionsJSON: options });
        const field = kind === 'payment' ? 'assertion' : 'response';
        form.querySelector(`input[name="${field}"]`).value = JSON.stringify(response);
        form.submit();
      } catch (err) {
        if (status) status.textContent = `${err.message || err} ${words.webauthnRetry}`;
      }
    });
  }
})();
