// Replaced by the rule-case tests of the browser rule code.
import { test } from "node:test";
import assert from "node:assert/strict";

test("node runs the JavaScript tests", () => {
  assert.equal(typeof structuredClone, "function");
});
