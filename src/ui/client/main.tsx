// The dashboard's browser entry, bundled by esbuild (bin/build-ui.js) with one chunk per page.
import "./styles.css";
import { render } from "preact";
import { App } from "./app.js";

const root = document.getElementById("app");
if (root) render(<App />, root);
