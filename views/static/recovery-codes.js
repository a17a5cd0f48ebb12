// The recovery codes page's "Copy" button: copies the codes, one a line, to the clipboard.
// Served from Portcullis itself (the CSP allows no inline script); without it the page still
// offers the codes and their download.
(() => {
  const button = document.querySelector('[data-copy-codes]');
  const status = document.querySelector('[data-copy-status]');
  if (!button || !navigator.clipboard) return;
  const codes = [...document.querySelectorAll('[data-recovery-codes] code')].map(
    (c) => c.textContent,
  );
  button.hidden = false;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(`${codes.join('\n')}\n`);
      status.textContent = button.dataset.copied;
    } catch {
      status.textContent = button.dataset.copyFailed;
    }
  });
})();
