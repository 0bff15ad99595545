// What the NHS.UK page template does in an inline script, from a file (the content security policy allows
// no inline scripts): mark the body so that styles for scripted components apply before they initialise.
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " nhsuk-frontend-supported" : "");
