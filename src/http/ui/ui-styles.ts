/** A padlock-coloured square: the pages name it inline, so the browser asks for no /favicon.ico. */
export const DASHBOARD_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2f5d8a"/></svg>`;
