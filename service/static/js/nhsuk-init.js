// Initialise every NHS.UK frontend component on the page (header menu, error summary focus, buttons...).
// Relative to /static/js/, so it also works when the app is mounted under a path prefix.
import { initAll } from "../../assets/nhsuk/nhsuk-frontend.min.js";

initAll();
