/**
 * The dashboard's stylesheet, kept in TypeScript so the one tsc build ships it with the server;
 * it is served as a file, since the Content-Security-Policy allows no inline style.
 */
export const DASHBOARD_STYLES = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; }
header { display: flex; align-items: center; gap: 1rem; padding: 0.75rem 1.5rem; border-bottom: 1px solid #8884; }
header h1 { font-size: 1.25rem; margin: 0; }
header nav { display: flex; gap: 1rem; }
header #signed-in { margin: 0 0 0 auto; }
header form { margin: 0; }
a { color: #2f5d8a; }
@media (prefers-color-scheme: dark) { a { color: #9cc3ea; } }
a[aria-current="page"] { font-weight: 600; }
main { padding: 1.5rem; max-width: 72rem; margin: 0 auto; }
form.sign-in, #create-vault { display: grid; gap: 0.5rem; max-width: 22rem; }
input, button { font: inherit; padding: 0.4rem 0.6rem; }
button { cursor: pointer; }
:focus-visible { outline: 3px solid #2f5d8a; outline-offset: 2px; }
[role="alert"] { color: #a4161a; font-weight: 600; }
@media (prefers-color-scheme: dark) { [role="alert"] { color: #ff8a8a; } }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 600; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid #8884; }
@media (max-width: 800px) { main { padding: 1rem; } header { flex-wrap: wrap; } }
`;

/** A padlock-coloured square, so the browser's icon request finds a file and not a 404. */
export const DASHBOARD_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2f5d8a"/></svg>`;
