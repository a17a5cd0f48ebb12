// WebAuthn ceremonies for forms marked data-webauthn="authenticate" or "register": fetch the
// options (a fresh server challenge), let the browser talk to the authenticator, then post the
// response with the form. Served from Portcullis itself; no inline script anywhere.
(() => {
  const lib = window.SimpleWebAuthnBrowser;
  if (!lib || !window.PublicKeyCredential) return;
  for (const form of document.querySelectorAll('form[data-webauthn]')) {
    const section = form.closest('[data-webauthn-section]');
    if (section) section.hidden = false;
    const status = form.querySelector('[data-webauthn-status]');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (status) status.textContent = 'Follow the instructions of your browser…';
      try {
        const res = await fetch(form.dataset.optionsUrl, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(new FormData(form)),
        });
        const body = await res.json();
        if (!res.ok) throw new Error(body.error_description || 'The request could not be started.');
        const response =
          form.dataset.webauthn === 'register'
            ? await lib.startRegistration({ optionsJSON: body })
            : await lib.startAuthentication({ optionsJSON: body });
        form.querySelector('input[name="response"]').value = JSON.stringify(response);
        form.submit();
      } catch (err) {
        if (status) status.textContent = `${err.message || err} Try again, or choose another way.`;
      }
    });
  }
})();
